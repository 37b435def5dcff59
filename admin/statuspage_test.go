package admin

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slardar-go/slardar/checkups"
	"github.com/slardar-go/slardar/internal/store"
	"github.com/slardar-go/slardar/luahooks"
)

const (
	injectedMsg = `<script>alert("pwned")</script>`
	escapedMsg  = `&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;`
	// escapedDOM is injectedMsg as a browser serializes the text node:
	// <, > and & escaped, quotes not.
	escapedDOM = `&lt;script&gt;alert("pwned")&lt;/script&gt;`
	modMD5     = "0cc175b9c0f1b6a831c399e269772661"
	scriptMD5  = "92eb5ffee6ae2fec3ad71c777531578f"
)

// fakeLua is a LuaEngine with a fixed status.
type fakeLua struct{ status luahooks.Status }

func (f fakeLua) Check(string, []byte) error { return nil }
func (f fakeLua) Status() luahooks.Status    { return f.status }

func withLua(o *Options) {
	o.Lua = fakeLua{status: luahooks.Status{
		GlobalVersion: 7,
		CommitVersion: "42",
		Modules: []luahooks.ModuleStatus{
			{Name: "modules.auth", Version: modMD5, Time: "2026-11-22 01:02:03"},
			{Name: "script.levels.example.com", Version: scriptMD5, Time: "2026-11-22 01:02:04"},
		},
	}}
}

// statusPageHarness serves a page with two upstreams (one of two levels),
// a passively tripped peer whose msg is markup, and a staged Lua item.
func statusPageHarness(t *testing.T, tweak func(*Options)) *harness {
	t.Helper()
	hs := newHarness(t, tweak)
	auth := []string{"Authorization", "Bearer " + testToken}
	if code, _, body := hs.do("PUT", "/upstream/levels.example.com", levelsBody, auth...); code != 200 {
		t.Fatalf("PUT upstream = %d %s", code, body)
	}
	index, err := hs.store.Put(context.Background(), store.LuaStagedKey("modules.next"), []byte("return {}"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.view.WaitApplied(ctx, index); err != nil {
		t.Fatalf("store index %d not applied: %v", index, err)
	}
	c := hs.view.Cluster("file.example.com")
	c.Feedback(c.Peers()[0], true, injectedMsg) // max_fails 1: tripped
	return hs
}

// peerRowRE matches a peer row as the template writes it and as Chromium
// serializes it.
var peerRowRE = regexp.MustCompile(`<tr class="peer (st-[a-z]+)" data-server="([^"]+)" data-status="([a-z]+)">\s*<td class="num">(\d+)</td>`)

type pageRow struct {
	class, status string
	level         int
}

// peerRows returns the page's peer rows by server address.
func peerRows(t *testing.T, page string) map[string]pageRow {
	t.Helper()
	rows := map[string]pageRow{}
	for _, m := range peerRowRE.FindAllStringSubmatch(page, -1) {
		level, err := strconv.Atoi(m[4])
		if err != nil {
			t.Fatalf("row %q: level: %v", m[0], err)
		}
		rows[m[2]] = pageRow{class: m[1], status: m[3], level: level}
	}
	return rows
}

// checkPeerRows asserts the page shows exactly the harness's three peers.
func checkPeerRows(t *testing.T, page string) {
	t.Helper()
	want := map[string]pageRow{
		"127.0.0.1:9001": {class: "st-unstable", status: "unstable", level: 1},
		"127.0.0.1:4001": {class: "st-unchecked", status: "unchecked", level: 1},
		"127.0.0.1:4002": {class: "st-unchecked", status: "unchecked", level: 2},
	}
	got := peerRows(t, page)
	if len(got) != len(want) {
		t.Errorf("page has peer rows %v, want %v", got, want)
	}
	for server, w := range want {
		if got[server] != w {
			t.Errorf("peer %s: row %+v, want %+v", server, got[server], w)
		}
	}
}

func TestStatusPageRenders(t *testing.T) {
	hs := statusPageHarness(t, func(o *Options) { o.Token = testToken; withLua(o) })
	code, h, page := hs.do("GET", StatusPagePath, "", "Authorization", "Bearer "+testToken)
	if code != 200 {
		t.Fatalf("GET %s = %d %s", StatusPagePath, code, page)
	}
	for header, want := range map[string]string{
		"Content-Type":           "text/html; charset=utf-8",
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
	} {
		if got := h.Get(header); got != want {
			t.Errorf("%s = %q, want %q", header, got, want)
		}
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q does not forbid scripts", csp)
	}
	checkPeerRows(t, page)
	for _, want := range []string{
		`<meta http-equiv="refresh" content="5">`,
		`<dd id="version">test-1.0</dd>`,
		`<dd id="config-index">2</dd>`,
		`<span class="health-ok">ok</span>`,
		`<caption>file.example.com <small>mode wrr, try 1</small></caption>`,
		`<caption>levels.example.com <small>mode wrr, try 2</small></caption>`,
		`<td class="msg">` + escapedMsg + `</td>`,
		`<dd id="lua-global-version">7</dd>`,
		`<dd id="lua-commit-version">42</dd>`,
		`<td>modules.auth</td><td><code>` + modMD5 + `</code></td><td>2026-11-22 01:02:03</td>`,
		`<td>script.levels.example.com</td><td><code>` + scriptMD5 + `</code></td><td>2026-11-22 01:02:04</td>`,
		`<code class="lua-staged">modules.next</code>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(page, "<script") {
		t.Errorf("a peer msg injected markup:\n%s", page)
	}
	// The uptime is Options.Started's 90s ago, give or take the test's run.
	if !regexp.MustCompile(`<dd id="uptime">1m3\ds</dd>`).MatchString(page) {
		t.Errorf("uptime not shown as ~1m30s:\n%s", page)
	}
}

func TestStatusPageVariants(t *testing.T) {
	cases := []struct {
		name    string
		tweak   func(*Options)
		health  Health
		want    []string
		notWant []string
	}{
		{
			name:    "no Lua engine: no Lua section",
			health:  Health{OK: true},
			want:    []string{`<span class="health-ok">ok</span>`},
			notWant: []string{`<h2>Lua</h2>`, `lua-modules`},
		},
		{
			name:   "unhealthy with an escaped reason and last sync",
			health: Health{Reason: "consul <b>down</b>", LastSync: time.Date(2026, 11, 22, 1, 2, 3, 0, time.Local)},
			want: []string{
				`<span class="health-bad">unhealthy</span>: consul &lt;b&gt;down&lt;/b&gt;`,
				`<dd id="last-sync">2026-11-22 01:02:03</dd>`,
			},
			notWant: []string{`<b>down`},
		},
		{
			name:   "Lua engine with nothing loaded",
			tweak:  func(o *Options) { o.Lua = fakeLua{} },
			health: Health{OK: true},
			want: []string{
				`<td colspan="3" class="empty">none</td>`,
				`<code class="lua-staged">modules.next</code>`,
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hs := statusPageHarness(t, c.tweak)
			hs.view.mu.Lock()
			hs.view.health = c.health
			hs.view.mu.Unlock()
			code, _, page := hs.do("GET", StatusPagePath, "")
			if code != 200 {
				t.Fatalf("GET = %d %s", code, page)
			}
			checkPeerRows(t, page)
			for _, w := range c.want {
				if !strings.Contains(page, w) {
					t.Errorf("page lacks %s", w)
				}
			}
			for _, w := range c.notWant {
				if strings.Contains(page, w) {
					t.Errorf("page has %s", w)
				}
			}
		})
	}
}

func TestStatusPageStagedUnavailable(t *testing.T) {
	hs := newHarness(t, withLua)
	_ = hs.store.Close()
	code, _, page := hs.do("GET", StatusPagePath, "")
	if code != 200 || !strings.Contains(page, `<span class="health-bad">unavailable: read store: `) {
		t.Fatalf("GET with a closed store = %d, want 200 saying the staged list is unavailable:\n%s", code, page)
	}
}

// emptyView has no cluster and no AppliedIndexer.
type emptyView struct{}

func (emptyView) Clusters() []*checkups.Cluster             { return nil }
func (emptyView) Cluster(string) *checkups.Cluster          { return nil }
func (emptyView) WaitApplied(context.Context, uint64) error { return nil }
func (emptyView) Health() Health                            { return Health{OK: true} }

func TestStatusPageNoUpstreams(t *testing.T) {
	st := store.NewMemory()
	defer func() { _ = st.Close() }()
	rec := httptest.NewRecorder()
	New(Options{Store: st, View: emptyView{}}).ServeHTTP(rec, httptest.NewRequest("GET", "http://127.0.0.1:1995"+StatusPagePath, nil))
	page := rec.Body.String()
	if rec.Code != 200 || !strings.Contains(page, `<p class="empty">no upstreams applied</p>`) {
		t.Fatalf("GET with no upstreams = %d:\n%s", rec.Code, page)
	}
	if strings.Contains(page, "config-index") {
		t.Errorf("config index shown for a View without AppliedIndexer:\n%s", page)
	}
}

func TestStatusPageAuth(t *testing.T) {
	const (
		missing = `Bearer realm="slardar-admin"`
		invalid = `Bearer realm="slardar-admin", error="invalid_token"`
	)
	bearer := []string{"Authorization", "Bearer " + testToken}
	cookie := []string{"Cookie", TokenCookie + "=" + testToken}
	cases := []struct {
		name, method, path string
		header             []string
		code               int
		challenge          string // expected WWW-Authenticate, "" if none
		location           string // expected Location, "" if none
	}{
		{"no credentials", "GET", StatusPagePath, nil, 401, missing, ""},
		{"bearer", "GET", StatusPagePath, bearer, 200, "", ""},
		{"cookie", "GET", StatusPagePath, cookie, 200, "", ""},
		{"cookie among others", "GET", StatusPagePath, []string{"Cookie", "a=b; " + TokenCookie + "=" + testToken + "; c=d"}, 200, "", ""},
		{"HEAD with cookie", "HEAD", StatusPagePath, cookie, 200, "", ""},
		{"wrong cookie", "GET", StatusPagePath, []string{"Cookie", TokenCookie + "=nope"}, 401, invalid, ""},
		{"cookie prefix", "GET", StatusPagePath, []string{"Cookie", TokenCookie + "=" + testToken[:len(testToken)-1]}, 401, invalid, ""},
		{"other cookie name", "GET", StatusPagePath, []string{"Cookie", "token=" + testToken}, 401, missing, ""},
		{"wrong bearer, right cookie", "GET", StatusPagePath, []string{"Authorization", "Bearer nope", "Cookie", TokenCookie + "=" + testToken}, 200, "", ""},
		{"query parameter is ignored", "GET", StatusPagePath + "?token=" + testToken + "&" + TokenCookie + "=" + testToken, nil, 401, missing, ""},
		{"root without credentials", "GET", "/", nil, 401, missing, ""},
		{"root with cookie redirects", "GET", "/", cookie, 302, "", StatusPagePath},
		{"root with bearer redirects", "GET", "/", bearer, 302, "", StatusPagePath},
		{"cookie does not open /status", "GET", "/status", cookie, 401, missing, ""},
		{"cookie does not open /upstreams", "GET", "/upstreams", cookie, 401, missing, ""},
		{"cookie does not allow writes", "PUT", "/upstream/a.com", cookie, 401, missing, ""},
		{"cookie does not allow POST on the page", "POST", StatusPagePath, cookie, 401, missing, ""},
		{"page is GET only", "POST", StatusPagePath, bearer, 405, "", ""},
	}
	hs := newHarness(t, func(o *Options) { o.Token = testToken })
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := ""
			if c.method == "PUT" {
				body = okBody
			}
			code, h, got := hs.do(c.method, c.path, body, c.header...)
			if code != c.code || h.Get("WWW-Authenticate") != c.challenge || h.Get("Location") != c.location {
				t.Fatalf("%s %s = %d (WWW-Authenticate %q, Location %q) %s; want %d (%q, %q)",
					c.method, c.path, code, h.Get("WWW-Authenticate"), h.Get("Location"), got, c.code, c.challenge, c.location)
			}
			if code == 401 {
				errorOf(t, 401, h, got)
			}
		})
	}
	if idx := hs.storeIndex(); idx != 0 {
		t.Fatalf("a cookie-authenticated write reached the store (index %d)", idx)
	}
}

// FuzzStatusPageCookie feeds arbitrary Cookie headers to the page's token
// check: no panic, a known reason, and a pass only when a cookie named
// TokenCookie carries the token.
func FuzzStatusPageCookie(f *testing.F) {
	for _, c := range []string{
		"", TokenCookie + "=" + testToken, TokenCookie + `="` + testToken + `"`, TokenCookie + "=", TokenCookie,
		"a=1; " + TokenCookie + "=" + testToken, TokenCookie + "=x; " + TokenCookie + "=" + testToken,
		TokenCookie + "=" + testToken + "x", ";;=;", TokenCookie + "=\x00" + testToken,
	} {
		f.Add(c)
	}
	tok := newBearerToken(testToken)
	f.Fuzz(func(t *testing.T, header string) {
		req := httptest.NewRequest("GET", "http://127.0.0.1"+StatusPagePath, nil)
		req.Header["Cookie"] = []string{header}
		reason := tok.checkPage(req)
		switch reason {
		case "":
			carried := false
			for _, c := range req.CookiesNamed(TokenCookie) {
				carried = carried || c.Value == testToken
			}
			if !carried {
				t.Fatalf("Cookie %q passed without %s=%s", header, TokenCookie, testToken)
			}
		case "invalid_request", "invalid_token":
		default:
			t.Fatalf("Cookie %q: unknown reason %q", header, reason)
		}
	})
}

// TestStatusPageChromium renders the page in headless Chromium, when one
// is installed, and checks the DOM it built: the peer rows, the Lua table,
// and no script element from the injected msg.
func TestStatusPageChromium(t *testing.T) {
	var browser string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		t.Skip("no chromium, chromium-browser or google-chrome on PATH")
	}
	// No token: a browser sends no Authorization header (the cookie path
	// is covered by TestStatusPageAuth).
	hs := statusPageHarness(t, withLua)
	srv := httptest.NewServer(hs.h)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--no-first-run", "--user-data-dir="+t.TempDir(), "--dump-dom", srv.URL+StatusPagePath)
	// Renderer processes may outlive a killed browser with our pipes open.
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s --dump-dom: %v\nstderr:\n%s", browser, err, stderr.String())
	}
	dom := string(out)
	checkPeerRows(t, dom)
	for _, want := range []string{
		`<td>modules.auth</td><td><code>` + modMD5 + `</code></td>`,
		`<td>script.levels.example.com</td><td><code>` + scriptMD5 + `</code></td>`,
		`<td class="msg">` + escapedDOM + `</td>`,
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered DOM lacks %s:\n%s", want, dom)
		}
	}
	if strings.Contains(dom, "<script") {
		t.Errorf("the injected msg became a script element:\n%s", dom)
	}
}
