package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// reply is a JSON endpoint's answer: the HTTP status, the body, and what
// the write log needs.
type reply struct {
	status int
	body   any
	msg    string // error text, for the log
	index  uint64 // store index written, 0 if none
}

// statusBody is Slardar's {"status":N,"msg":"..."}, used for every error
// and for write acknowledgements (which add the store index written).
type statusBody struct {
	Status int    `json:"status"`
	Msg    string `json:"msg"`
	Index  uint64 `json:"index,omitempty"`
}

func errorReply(status int, format string, args ...any) reply {
	msg := fmt.Sprintf(format, args...)
	return reply{status: status, msg: msg, body: statusBody{Status: status, Msg: msg}}
}

func okReply(index uint64) reply {
	return reply{status: http.StatusOK, index: index, body: statusBody{Status: http.StatusOK, Msg: "ok", Index: index}}
}

func dataReply(body any) reply {
	return reply{status: http.StatusOK, body: body}
}

// write sends rep as JSON.
func (rep reply) write(w http.ResponseWriter) {
	data, err := json.Marshal(rep.body)
	if err != nil {
		rep = errorReply(http.StatusInternalServerError, "encode response: %v", err)
		data, _ = json.Marshal(rep.body) // statusBody always marshals
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(rep.status)
	_, _ = w.Write(append(data, '\n')) // a failed write means the client left
}
