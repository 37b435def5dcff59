package admin

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	_ "embed" // the page template
	"fmt"
	"html/template"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/slardar-go/slardar/checkups"
	"github.com/slardar-go/slardar/luahooks"
)

// StatusPagePath is the admin API's human-readable status page: a
// server-rendered HTML view of /status, /health and /lua that refreshes
// itself every 5 seconds. GET / redirects (302) to it.
const StatusPagePath = "/status.html"

// TokenCookie is the cookie a browser may carry the admin token in, for
// GET/HEAD StatusPagePath and / only, because a browser cannot easily send
// an Authorization header: for example run
// document.cookie = "slardar_admin_token=<token>; path=/; SameSite=Strict"
// once in the browser's console on the admin origin. It is compared in
// constant time like the Bearer token. Every other endpoint ignores it,
// so a cookie riding along with a cross-site request cannot write.
// The token is never accepted as a query parameter: URLs end up in logs
// and browser history.
const TokenCookie = "slardar_admin_token"

//go:embed statuspage.html
var statusPageSource string

// statusPageTemplate is parsed once; html/template escapes every value by
// context (a peer's msg is error text from the network) and is safe for
// concurrent use.
var statusPageTemplate = template.Must(template.New("statuspage").
	Funcs(template.FuncMap{"statusClass": statusClass}).
	Parse(statusPageSource))

// statusPageData is what the template renders.
type statusPageData struct {
	Version        string
	StartTime      string // checkups.StatusTimeLayout
	Uptime         string
	HasConfigIndex bool
	ConfigIndex    uint64
	Health         Health
	LastSync       string // checkups.StatusTimeLayout; "" before the first sync
	Generated      string
	Upstreams      []upstreamRows
	Lua            *luaPage // nil when the Lua engine is not configured
}

// upstreamRows is one cluster's table.
type upstreamRows struct {
	Name  string
	Mode  string
	Try   int
	Peers []peerRow
}

// peerRow is one peer of one level (1-based, as Slardar numbers backup
// tiers).
type peerRow struct {
	Level int
	checkups.PeerStatus
}

// luaPage is the Lua section: GET /lua's data.
type luaPage struct {
	luahooks.Status
	Staged    []string
	StagedErr string // why the staged names could not be read
}

// statusPageRoutes serves StatusPagePath and its "/" redirect. They are
// marked public only so that ServeHTTP's Bearer-only check lets them
// through: pageAuth then requires the token as a Bearer header or as
// TokenCookie.
func (s *server) statusPageRoutes() []route {
	return []route{
		{pattern: StatusPagePath, public: true, methods: rawGet(s.pageAuth(http.HandlerFunc(s.serveStatusPage)))},
		{pattern: "/", public: true, methods: rawGet(s.pageAuth(http.HandlerFunc(redirectToStatusPage)))},
	}
}

// pageAuth admits requests carrying the admin token as a Bearer header or
// as TokenCookie.
func (s *server) pageAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if reason := s.token.checkPage(r); reason != "" {
			s.unauthorized(w, r, reason)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// checkPage is check, also accepting the token in TokenCookie (the first
// cookie of that name). It returns "" if r carries the token, else the
// RFC 6750 error code: a present but wrong cookie is "invalid_token".
func (t *bearerToken) checkPage(r *http.Request) string {
	reason := t.check(r)
	if reason == "" {
		return ""
	}
	c, err := r.Cookie(TokenCookie)
	if err != nil || c.Value == "" {
		return reason
	}
	d := sha256.Sum256([]byte(c.Value))
	if subtle.ConstantTimeCompare(d[:], t.digest[:]) != 1 {
		return "invalid_token"
	}
	return ""
}

// redirectToStatusPage answers GET / with a 302 to the page.
func redirectToStatusPage(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, StatusPagePath, http.StatusFound)
}

// serveStatusPage renders the page into a buffer first, so that a
// template failure answers a clean 500 rather than half a page.
func (s *server) serveStatusPage(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	if err := statusPageTemplate.Execute(&buf, s.statusPageData(r)); err != nil {
		err = fmt.Errorf("render status page: %w", err)
		s.log.Error("admin status page failed", zap.String("path", r.URL.Path),
			zap.String("remote", r.RemoteAddr), zap.Error(err))
		errorReply(http.StatusInternalServerError, "%v", err).write(w)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	// No script, no external asset, no framing: only the inline style.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes()) // a failed write means the client left
}

// statusPageData gathers what GET /status, /health and /lua report.
func (s *server) statusPageData(r *http.Request) statusPageData {
	now := time.Now()
	d := statusPageData{
		Version:   s.version,
		StartTime: s.started.Format(checkups.StatusTimeLayout),
		Uptime:    now.Sub(s.started).Truncate(time.Second).String(),
		Health:    s.view.Health(),
		Generated: now.Format(checkups.StatusTimeLayout),
	}
	if ai, ok := s.view.(AppliedIndexer); ok {
		d.HasConfigIndex, d.ConfigIndex = true, ai.AppliedIndex()
	}
	if !d.Health.LastSync.IsZero() {
		d.LastSync = d.Health.LastSync.Format(checkups.StatusTimeLayout)
	}
	clusters := s.view.Clusters()
	report := checkups.Status(clusters)
	d.Upstreams = make([]upstreamRows, 0, len(clusters))
	for _, c := range clusters {
		u := upstreamRows{Name: c.Name(), Mode: c.Spec().Mode, Try: c.Policy().Try}
		for i, level := range report["cls:"+c.Name()] {
			for _, p := range level {
				u.Peers = append(u.Peers, peerRow{Level: i + 1, PeerStatus: p})
			}
		}
		d.Upstreams = append(d.Upstreams, u)
	}
	if s.lua != nil {
		d.Lua = &luaPage{Status: s.lua.Status()}
		if snap, err := s.store.Snapshot(r.Context()); err != nil {
			d.Lua.StagedErr = fmt.Sprintf("read store: %v", err)
		} else {
			d.Lua.Staged = stagedNames(snap)
		}
	}
	return d
}

// statusClass maps a peer status to its CSS class; anything unexpected
// gets "st-unknown" rather than a class built from data.
func statusClass(status string) string {
	switch status {
	case checkups.StatusOK, checkups.StatusErr, checkups.StatusUnstable, checkups.StatusUnchecked:
		return "st-" + status
	}
	return "st-unknown"
}
