package admin

import (
	"net/http"
	"net/http/pprof"
	"slices"
	"strings"
)

// apiFunc serves a JSON endpoint. name is the validated, lower-cased
// {name} path segment, or "" for routes without one.
type apiFunc func(r *http.Request, name string) reply

// endpoint is one method of a route: a JSON endpoint, or a raw handler that
// writes its own response (metrics, pprof).
type endpoint struct {
	api     apiFunc
	raw     http.Handler
	mutates bool // a write: logged with its outcome and store index
}

// route maps a path pattern to its methods. Patterns are an exact path,
// "<prefix>/{name}" (one upstream-style name segment), or "<prefix>/*" (a
// subtree).
type route struct {
	pattern string
	methods map[string]endpoint
	// public routes answer GET/HEAD without the admin token.
	public bool
	// luaName routes name Lua code items: "modules.<name>" keeps its case
	// (require is case-sensitive); "script.<host>" is lower-cased like
	// every host.
	luaName bool
}

// routeTable is the whole API surface. The /lua endpoints (POST, PUT,
// DELETE /lua/{name}; GET, PUT /lua) belong here, next to /upstream.
// metrics, when not nil, serves /metrics.
func (s *server) routeTable(metrics http.Handler) []route {
	routes := []route{
		{pattern: "/upstream/{name}", methods: map[string]endpoint{
			http.MethodGet:    {api: s.getUpstream},
			http.MethodPost:   {api: s.putUpstream, mutates: true},
			http.MethodPut:    {api: s.putUpstream, mutates: true},
			http.MethodDelete: {api: s.deleteUpstream, mutates: true},
		}},
		{pattern: "/upstreams", methods: map[string]endpoint{http.MethodGet: {api: s.listUpstreams}}},
		{pattern: "/status", methods: map[string]endpoint{http.MethodGet: {api: s.status}}},
		{pattern: "/health", public: true, methods: map[string]endpoint{http.MethodGet: {api: s.health}}},

		// pprof's named handlers before the subtree: pprof.Index would take
		// "cmdline" for a runtime/pprof profile name and answer 404.
		{pattern: "/debug/pprof/cmdline", methods: rawGet(http.HandlerFunc(pprof.Cmdline))},
		{pattern: "/debug/pprof/profile", methods: rawGet(http.HandlerFunc(pprof.Profile))},
		{pattern: "/debug/pprof/trace", methods: rawGet(http.HandlerFunc(pprof.Trace))},
		{pattern: "/debug/pprof/symbol", methods: map[string]endpoint{
			http.MethodGet:  {raw: http.HandlerFunc(pprof.Symbol)},
			http.MethodPost: {raw: http.HandlerFunc(pprof.Symbol)},
		}},
		{pattern: "/debug/pprof/*", methods: rawGet(http.HandlerFunc(pprof.Index))},
	}
	routes = append(routes, s.statusPageRoutes()...) // GET /status.html and GET / (token also as a cookie)
	if metrics != nil {
		routes = append(routes, route{pattern: "/metrics", methods: rawGet(metrics)})
	}
	if s.lua != nil {
		routes = append(routes,
			route{pattern: "/lua/{name}", luaName: true, methods: map[string]endpoint{
				http.MethodGet:    {api: s.getLua},
				http.MethodPost:   {api: s.postLua, mutates: true},
				http.MethodPut:    {api: s.putLua, mutates: true},
				http.MethodDelete: {api: s.deleteLua, mutates: true},
			}},
			route{pattern: "/lua", methods: map[string]endpoint{
				http.MethodGet: {api: s.getLuaAll},
				http.MethodPut: {api: s.putLuaAll, mutates: true},
			}},
		)
	}
	if s.upgrade != nil {
		routes = append(routes, route{pattern: "/upgrade", methods: map[string]endpoint{
			http.MethodPost: {api: s.postUpgrade, mutates: true},
		}})
	}
	return routes
}

func rawGet(h http.Handler) map[string]endpoint {
	return map[string]endpoint{http.MethodGet: {raw: h}}
}

// match reports whether path belongs to the route and, for a {name}
// pattern, returns the raw (unvalidated) name segment.
func (rt *route) match(path string) (name string, ok bool) {
	if prefix, named := strings.CutSuffix(rt.pattern, "{name}"); named {
		return strings.CutPrefix(path, prefix)
	}
	if prefix, subtree := strings.CutSuffix(rt.pattern, "*"); subtree {
		return "", strings.HasPrefix(path, prefix)
	}
	return "", path == rt.pattern
}

// named reports whether the route has a {name} segment.
func (rt *route) named() bool { return strings.HasSuffix(rt.pattern, "{name}") }

// endpoint returns the endpoint serving method; HEAD is served as GET
// (net/http drops the body).
func (rt *route) endpoint(method string) (endpoint, bool) {
	if method == http.MethodHead {
		method = http.MethodGet
	}
	ep, ok := rt.methods[method]
	return ep, ok
}

// allow is the route's Allow header value.
func (rt *route) allow() string {
	methods := make([]string, 0, len(rt.methods)+1)
	for m := range rt.methods {
		methods = append(methods, m)
	}
	if _, ok := rt.methods[http.MethodGet]; ok {
		methods = append(methods, http.MethodHead)
	}
	slices.Sort(methods)
	return strings.Join(methods, ", ")
}

// lookup finds the first route matching path.
func (s *server) lookup(path string) (rt *route, name string, ok bool) {
	for i := range s.routes {
		if name, ok := s.routes[i].match(path); ok {
			return &s.routes[i], name, true
		}
	}
	return nil, "", false
}
