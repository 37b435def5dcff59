package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHandler(t *testing.T) {
	h := newHandler("b1", "127.0.0.1:9001")
	tests := []struct {
		name, method, target string
		wantStatus           int
		wantBody             string
	}{
		{"root", http.MethodGet, "/", 200, "hello from b1 (127.0.0.1:9001) path=/\n"},
		{"path", http.MethodGet, "/x", 200, "hello from b1 (127.0.0.1:9001) path=/x\n"},
		{"query is not echoed", http.MethodGet, "/a/b?q=1", 200, "hello from b1 (127.0.0.1:9001) path=/a/b\n"},
		{"post", http.MethodPost, "/submit", 200, "hello from b1 (127.0.0.1:9001) path=/submit\n"},
		{"health", http.MethodGet, "/health", 200, "ok"},
		{"health below is a normal path", http.MethodGet, "/health/x", 200, "hello from b1 (127.0.0.1:9001) path=/health/x\n"},
		{"post to health is a normal path", http.MethodPost, "/health", 200, "hello from b1 (127.0.0.1:9001) path=/health\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.target, nil))
			res := rec.Result()
			body, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatalf("read body: %v", err)
			}
			if res.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", res.StatusCode, tt.wantStatus)
			}
			if string(body) != tt.wantBody {
				t.Errorf("body = %q, want %q", body, tt.wantBody)
			}
		})
	}
}
