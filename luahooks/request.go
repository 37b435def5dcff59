package luahooks

// Request is the view of one HTTP request that a script reads and rewrites. The router implements
// it over its own request type, so this package does not depend on the HTTP engine. Calls come
// from the goroutine that runs the request's phases, one at a time.
type Request interface {
	// Method returns the request method, e.g. "GET".
	Method() string
	// SetMethod replaces the request method.
	SetMethod(string)
	// Host returns the request host without the port, lower case.
	Host() string
	// Path returns the path as received, still percent-encoded. ngx.var.uri is its decoded
	// form, as in nginx; ngx.var.request_uri is the raw RequestURI.
	Path() string
	// SetPath replaces the path; the argument is percent-encoded.
	SetPath(string)
	// RawQuery returns the query string without the "?".
	RawQuery() string
	// SetRawQuery replaces the query string (without the "?").
	SetRawQuery(string)
	// RequestURI returns the original request target, e.g. "/a%20b?x=1".
	RequestURI() string
	// Header returns the first value of a request header (case-insensitive name).
	Header(name string) (string, bool)
	// Headers calls fn for every request header value, in order.
	Headers(fn func(name, value string))
	// SetHeader replaces every value of a request header with value.
	SetHeader(name, value string)
	// DelHeader removes a request header.
	DelHeader(name string)
	// RemoteAddr returns the client IP address without the port.
	RemoteAddr() string
	// Scheme returns "http" or "https".
	Scheme() string
	// ServerPort returns the local port that accepted the request, e.g. "80".
	ServerPort() string
	// Body reads and buffers (for the proxy) the whole request body if it is at most max bytes,
	// and returns an error if it is larger or cannot be read.
	Body(max int) ([]byte, error)
}

// Phase is a request processing phase in which script code runs.
type Phase int

// The phases, in the order a request passes through them.
const (
	// PhaseRewrite runs the main chunk of script.<host>, before the upstream is chosen.
	PhaseRewrite Phase = iota
	// PhaseAccess runs the access function the main chunk returned, if any.
	PhaseAccess
	// PhaseHeaderFilter runs the header_filter function before the response header is sent.
	PhaseHeaderFilter
	// PhaseLog runs the log function after the response is sent.
	PhaseLog
)

// String returns the phase name as used in OpenResty, e.g. "rewrite".
func (p Phase) String() string {
	switch p {
	case PhaseRewrite:
		return "rewrite"
	case PhaseAccess:
		return "access"
	case PhaseHeaderFilter:
		return "header_filter"
	case PhaseLog:
		return "log"
	}
	return "unknown"
}

// Outcome is what one phase decided.
type Outcome struct {
	// Exit is 0 to go on (to the upstream, or with the response); otherwise the router answers
	// with this status (and Body). It is only set in the rewrite and access phases.
	Exit int
	// Body holds what ngx.say/ngx.print/ngx.redirect wrote during this phase.
	Body []byte
	// Header lists the response headers the request's scripts set through ngx.header so far (all
	// phases, not only this one), in the order first set, with canonical names ("X-Foo"). A name
	// with several values has consecutive entries; a single empty value means "remove this
	// header". Apply it to the response as: delete the name, then add every non-empty value.
	Header [][2]string
	// Status is the response status set with ngx.status in the header_filter phase (0 = keep).
	Status int
	// Upstream is the cluster chosen with slardar.set_upstream so far ("" = the one for the Host).
	Upstream string
}
