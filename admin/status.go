package admin

import (
	"net/http"
	"time"

	"github.com/slardar-go/slardar/checkups"
)

// status serves GET /status in Slardar's shape: slardar_version,
// start_time (checkups.StatusTimeLayout, local time, like ngx.localtime),
// uptime_s, config_index when the View reports it, and one "cls:<name>"
// entry per applied cluster (levels → peers).
func (s *server) status(*http.Request, string) reply {
	clusters := checkups.Status(s.view.Clusters())
	doc := make(map[string]any, len(clusters)+4)
	for k, v := range clusters {
		doc[k] = v
	}
	doc["slardar_version"] = s.version
	doc["start_time"] = s.started.Format(checkups.StatusTimeLayout)
	doc["uptime_s"] = int64(time.Since(s.started).Seconds())
	if ai, ok := s.view.(AppliedIndexer); ok {
		doc["config_index"] = ai.AppliedIndex()
	}
	return dataReply(doc)
}

// healthBody is GET /health's answer.
type healthBody struct {
	Status   string         `json:"status"` // "ok" or "unhealthy"
	Reason   string         `json:"reason,omitempty"`
	Version  string         `json:"version,omitempty"`
	UptimeS  int64          `json:"uptime_s"`
	LastSync *time.Time     `json:"last_sync,omitempty"` // RFC 3339; absent before the first sync
	Details  map[string]any `json:"details,omitempty"`
}

// health serves GET /health: 200 when the View is healthy, else 503, so
// load balancers can probe it (it needs no token).
func (s *server) health(*http.Request, string) reply {
	h := s.view.Health()
	body := healthBody{
		Status:  "ok",
		Version: s.version,
		UptimeS: int64(time.Since(s.started).Seconds()),
		Details: h.Details,
	}
	if !h.LastSync.IsZero() {
		body.LastSync = &h.LastSync
	}
	rep := dataReply(&body)
	if !h.OK {
		body.Status, body.Reason = "unhealthy", h.Reason
		rep.status = http.StatusServiceUnavailable
	}
	return rep
}
