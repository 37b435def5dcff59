package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/slardar-go/slardar/checkups"
	"github.com/slardar-go/slardar/internal/store"
)

// putUpstream serves POST|PUT /upstream/<name>: parse the Slardar body
// strictly, store its canonical form, wait until it is live. The body is
// JSON whatever the Content-Type says (curl -d sends a form type).
func (s *server) putUpstream(r *http.Request, name string) reply {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		if tooBig, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return errorReply(http.StatusRequestEntityTooLarge, "body is larger than %d bytes", tooBig.Limit)
		}
		return errorReply(http.StatusBadRequest, "read body: %v", err)
	}
	up, err := checkups.ParseUpstream(body)
	if err != nil {
		return errorReply(http.StatusBadRequest, "%v", err)
	}
	index, err := s.store.Put(r.Context(), store.UpstreamKey(name), up.Canonical())
	if err != nil {
		return storeFailure(err)
	}
	return s.waitApplied(r.Context(), index)
}

// deleteUpstream serves DELETE /upstream/<name>. An upstream that is live
// but not in the store comes from the config file, which the API cannot
// change: 409 says where to change it.
func (s *server) deleteUpstream(r *http.Request, name string) reply {
	index, err := s.store.Delete(r.Context(), store.UpstreamKey(name))
	switch {
	case errors.Is(err, store.ErrNotFound) && s.view.Cluster(name) != nil:
		return errorReply(http.StatusConflict, "upstream %q is defined in the config file, not through the API; remove it there and reload", name)
	case errors.Is(err, store.ErrNotFound):
		return errorReply(http.StatusNotFound, "upstream %q not found", name)
	case err != nil:
		return storeFailure(err)
	}
	return s.waitApplied(r.Context(), index)
}

// getUpstream serves GET /upstream/<name>: the applied spec.
func (s *server) getUpstream(_ *http.Request, name string) reply {
	c := s.view.Cluster(name)
	if c == nil {
		return errorReply(http.StatusNotFound, "upstream %q not found", name)
	}
	return dataReply(json.RawMessage(c.Spec().Canonical()))
}

// listUpstreams serves GET /upstreams: {"<name>": <spec>, ...} like Slardar.
func (s *server) listUpstreams(*http.Request, string) reply {
	clusters := s.view.Clusters()
	out := make(map[string]json.RawMessage, len(clusters))
	for _, c := range clusters {
		out[c.Name()] = c.Spec().Canonical()
	}
	return dataReply(out)
}

// waitApplied answers a stored write once this instance has applied it,
// or 504 after ApplyTimeout: the write is stored and will still apply, but
// the caller must not assume it is live.
func (s *server) waitApplied(ctx context.Context, index uint64) reply {
	ctx, cancel := context.WithTimeout(ctx, s.applyTimeout)
	defer cancel()
	if err := s.view.WaitApplied(ctx, index); err != nil {
		var rep reply
		if errors.Is(err, context.DeadlineExceeded) {
			rep = errorReply(http.StatusGatewayTimeout, "stored at index %d but not applied within %s", index, s.applyTimeout)
		} else {
			rep = errorReply(http.StatusGatewayTimeout, "stored at index %d; stopped waiting for it to apply: %v", index, err)
		}
		rep.index = index
		return rep
	}
	return okReply(index)
}

// storeFailure maps a store error onto a reply.
func storeFailure(err error) reply {
	if errors.Is(err, store.ErrClosed) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return errorReply(http.StatusServiceUnavailable, "store unavailable: %v", err)
	}
	return errorReply(http.StatusInternalServerError, "store write failed: %v", err)
}
