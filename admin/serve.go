package admin

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/slardar-go/slardar/checkups"
	"github.com/slardar-go/slardar/internal/store"
)

// ServeHTTP authenticates, routes, validates the {name} segment, and runs
// the endpoint. Authentication comes first so that an unauthenticated
// caller learns nothing about which paths or methods exist.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rt, rawName, found := s.lookup(r.URL.Path)
	var ep endpoint
	allowed := false
	if found {
		ep, allowed = rt.endpoint(r.Method)
	}
	if !(found && allowed && rt.public) {
		if reason := s.token.check(r); reason != "" {
			s.unauthorized(w, r, reason)
			return
		}
	}
	switch {
	case !found:
		errorReply(http.StatusNotFound, "no such endpoint: %s", r.URL.Path).write(w)
		return
	case !allowed:
		w.Header().Set("Allow", rt.allow())
		errorReply(http.StatusMethodNotAllowed, "method %s not allowed on %s (allowed: %s)", r.Method, r.URL.Path, rt.allow()).write(w)
		return
	case ep.raw != nil:
		ep.raw.ServeHTTP(w, r)
		return
	}

	r.Body = http.MaxBytesReader(w, r.Body, s.maxBody)
	name, rep := "", reply{}
	if rt.named() {
		name = rawName
		if err := validName(name); err != nil {
			rep = errorReply(http.StatusBadRequest, "%v", err)
		}
		// Hosts are case-insensitive: one name, one store key.
		if !rt.luaName || strings.HasPrefix(strings.ToLower(name), "script.") {
			name = strings.ToLower(name)
		}
	}
	if rep.status == 0 {
		rep = ep.api(r, name)
	}
	rep.write(w)
	if ep.mutates {
		s.logWrite(r, name, rep, time.Since(start))
	}
}

// validName checks a {name} path segment: Slardar's name rule, and usable
// as one store key segment (which rules out "." and "..").
func validName(name string) error {
	if err := checkups.ValidName(name); err != nil {
		return err
	}
	if err := store.ValidateKey(name); err != nil {
		return fmt.Errorf("name: %q is not a usable name", name)
	}
	return nil
}

// unauthorized answers 401 with an RFC 6750 challenge and logs the refusal.
func (s *server) unauthorized(w http.ResponseWriter, r *http.Request, reason string) {
	challenge := `Bearer realm="slardar-admin"`
	if reason == "invalid_token" {
		challenge += `, error="invalid_token"`
	}
	w.Header().Set("WWW-Authenticate", challenge)
	s.log.Warn("admin request refused",
		zap.String("method", r.Method), zap.String("path", r.URL.Path),
		zap.String("remote", r.RemoteAddr), zap.String("reason", reason))
	errorReply(http.StatusUnauthorized, "missing or invalid admin token (send Authorization: Bearer <token>)").write(w)
}

// logWrite records one mutating call and its outcome.
func (s *server) logWrite(r *http.Request, name string, rep reply, took time.Duration) {
	fields := []zap.Field{
		zap.String("method", r.Method),
		zap.String("path", r.URL.Path),
		zap.String("name", name),
		zap.String("remote", r.RemoteAddr),
		zap.Int("status", rep.status),
		zap.Uint64("index", rep.index),
		zap.Duration("duration", took),
	}
	switch {
	case rep.status >= 500:
		s.log.Error("admin write failed", append(fields, zap.String("msg", rep.msg))...)
	case rep.status >= 400:
		s.log.Warn("admin write rejected", append(fields, zap.String("msg", rep.msg))...)
	default:
		s.log.Info("admin write", fields...)
	}
}
