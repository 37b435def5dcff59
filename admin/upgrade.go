package admin

import (
	"errors"
	"net/http"

	"github.com/slardar-go/slardar/internal/upgrade"
)

// postUpgrade starts the binary on disk with the listening sockets and
// answers once it serves: 200, after which this process drains and exits,
// or 500 with why the new binary did not come up (this process keeps
// serving). A second call while one runs answers 409.
func (s *server) postUpgrade(r *http.Request, _ string) reply {
	if err := s.upgrade(r.Context()); err != nil {
		if errors.Is(err, upgrade.ErrUpgradeInProgress) {
			return errorReply(http.StatusConflict, "%v", err)
		}
		return errorReply(http.StatusInternalServerError, "upgrade failed, this process keeps serving: %v", err)
	}
	return okReply(0)
}
