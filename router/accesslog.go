package router

import (
	"time"

	"go.uber.org/zap"

	"github.com/slardar-go/slardar/router/h1"
)

// AccessLog writes one JSON line per request. Its logger should write
// through a buffered syncer so the request path never waits on the disk.
type AccessLog struct {
	l *zap.Logger
}

// NewAccessLog wraps a logger dedicated to access lines.
func NewAccessLog(l *zap.Logger) *AccessLog { return &AccessLog{l: l} }

// log records one request. A nil AccessLog does nothing, which keeps the
// disabled case free.
func (a *AccessLog) log(r *h1.Request, w *h1.ResponseWriter, start time.Time, cluster, peer string, tries int) {
	if a == nil {
		return
	}
	a.l.Info("",
		zap.ByteString("host", r.Host),
		zap.String("method", r.Method),
		zap.ByteString("uri", r.RequestURI),
		zap.Int("status", w.Status()),
		zap.Int64("bytes", w.BytesWritten()),
		zap.Duration("duration", time.Since(start)),
		zap.String("remote", r.RemoteAddr.Addr().String()),
		zap.String("cluster", cluster),
		zap.String("peer", peer),
		zap.Int("tries", tries),
	)
}
