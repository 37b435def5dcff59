package checkups

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
)

// activeStatus is a probe's verdict.
type activeStatus int32

const (
	activeUnchecked activeStatus = iota // no verdict yet: counts as up
	activeOK
	activeErr
)

func (s activeStatus) String() string {
	switch s {
	case activeOK:
		return "ok"
	case activeErr:
		return "err"
	}
	return "unchecked"
}

// probeKey identifies one active check target: an address and what is
// asked of it (type, method, path, Host, healthy statuses). Clusters whose
// checks agree on the key share one probe and one verdict, so a peer used
// by two upstreams is probed once (Slardar probed it once per upstream);
// clusters that check the same address differently get separate verdicts
// (Caddy shared one, caddy#7870).
type probeKey struct {
	addr string
	what string
}

func newProbeKey(addr string, c *Check) probeKey {
	codes := make([]string, len(c.Statuses))
	for i, s := range c.Statuses {
		codes[i] = strconv.Itoa(s)
	}
	return probeKey{addr: addr, what: strings.Join([]string{c.Type, c.Method, c.Path, c.Host, strings.Join(codes, ",")}, " ")}
}

// probe is the long-lived active health state of one probeKey, kept by
// the Registry; the Checker runs it. Timing (interval, timeout, rise,
// fall) is in spec and may be retuned in place: when clusters sharing a
// probe disagree on timing, the most recently built one wins.
type probe struct {
	key  probeKey
	peer *Peer
	spec atomic.Pointer[Check]

	status    atomic.Int32 // activeStatus
	okRun     atomic.Int32 // consecutive successes (checker goroutine only)
	failRun   atomic.Int32 // consecutive failures (checker goroutine only)
	lastCheck atomic.Int64 // unix nanos
	changed   atomic.Int64 // unix nanos of the last status change
	msg       atomic.Pointer[string]
}

func (p *probe) state() activeStatus { return activeStatus(p.status.Load()) }

// message returns the last probe error while the verdict is err, else "".
func (p *probe) message() string {
	if m := p.msg.Load(); m != nil {
		return *m
	}
	return ""
}

// inherit seeds a new probe (the cluster changed what it checks) with the
// verdict of the probe it replaces, so a config edit does not send
// traffic to a peer known to be down until the first new check.
func (p *probe) inherit(old *probe) {
	p.status.Store(old.status.Load())
	p.changed.Store(old.changed.Load())
	p.msg.Store(old.msg.Load())
}

// record applies one probe result with rise/fall hysteresis and returns
// the status before and after.
func (p *probe) record(now int64, err error) (from, to activeStatus) {
	spec := p.spec.Load()
	p.lastCheck.Store(now)
	from = p.state()
	to = from
	if err == nil {
		p.failRun.Store(0)
		n := p.okRun.Add(1)
		if from == activeUnchecked || (from == activeErr && n >= int32(spec.Rise)) {
			to = activeOK
		}
	} else {
		p.okRun.Store(0)
		n := p.failRun.Add(1)
		msg := err.Error()
		p.msg.Store(&msg)
		if from != activeErr && n >= int32(spec.Fall) {
			to = activeErr
		}
	}
	if to != from {
		p.status.Store(int32(to))
		p.changed.Store(now)
		if to == activeOK {
			p.msg.Store(nil)
		}
	}
	return from, to
}

// prober performs single health probes. It is stateless apart from the
// HTTP client, so one serves every probe.
type prober struct {
	dialer net.Dialer
	client *http.Client
}

func newProber() *prober {
	pr := &prober{}
	tr := &http.Transport{
		DialContext:            pr.dialer.DialContext,
		DisableKeepAlives:      true, // each probe tests a fresh connection, as the router would open one
		DisableCompression:     true,
		MaxResponseHeaderBytes: 64 << 10,
	}
	pr.client = &http.Client{
		Transport: tr,
		// A redirect is a verdict, not an instruction: judge its status.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return pr
}

// maxProbeBody is how much of a probe's response body is read (and
// discarded) before the connection is closed.
const maxProbeBody = 4 << 10

// run performs one probe of addr with spec; ctx carries the timeout.
func (pr *prober) run(ctx context.Context, addr string, spec *Check) error {
	if spec.Type == "tcp" {
		conn, err := pr.dialer.DialContext(ctx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("connect: %w", err)
		}
		return conn.Close()
	}
	req, err := http.NewRequestWithContext(ctx, spec.Method, "http://"+addr+spec.Path, nil)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	if spec.Host != "" {
		req.Host = spec.Host
	}
	req.Header.Set("User-Agent", "slardar-checkups")
	resp, err := pr.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", spec.Method, spec.Path, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxProbeBody))
	_ = resp.Body.Close()
	if !healthyStatus(spec.Statuses, resp.StatusCode) {
		return fmt.Errorf("%s %s: unhealthy status %d", spec.Method, spec.Path, resp.StatusCode)
	}
	return nil
}

// healthyStatus applies Check.Statuses (default 200-399).
func healthyStatus(list []int, code int) bool {
	if len(list) == 0 {
		return code >= 200 && code < 400
	}
	_, found := slices.BinarySearch(list, code)
	return found
}
