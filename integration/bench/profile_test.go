package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFetchProfile(t *testing.T) {
	tests := []struct {
		name     string
		token    string // SLARDAR_ADMIN_TOKEN in the harness's environment
		status   int
		body     string
		wantErr  string
		wantAuth string
	}{
		{name: "writes the profile", status: 200, body: "pprof-bytes"},
		{name: "sends the admin token", token: "s3cret", status: 200, body: "pprof-bytes", wantAuth: "Bearer s3cret"},
		{name: "refused", status: 401, body: "unauthorized", wantErr: "status 401"},
		{name: "empty", status: 200, body: "", wantErr: "empty profile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("SLARDAR_ADMIN_TOKEN", tt.token)
			var gotPath, gotAuth string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotPath, gotAuth = r.URL.RequestURI(), r.Header.Get("Authorization")
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			dest := filepath.Join(t.TempDir(), "out", "slardar.pprof")
			err := fetchProfile(context.Background(), srv.URL, 3, dest)
			if gotPath != "/debug/pprof/profile?seconds=3" {
				t.Errorf("requested %q", gotPath)
			}
			if gotAuth != tt.wantAuth {
				t.Errorf("Authorization = %q, want %q", gotAuth, tt.wantAuth)
			}
			b, readErr := os.ReadFile(dest)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("fetchProfile = %v, want error with %q", err, tt.wantErr)
				}
				if readErr == nil {
					t.Error("a failed fetch left a profile file")
				}
				return
			}
			if err != nil || string(b) != tt.body {
				t.Fatalf("fetchProfile = %v, file %q (%v), want %q", err, b, readErr, tt.body)
			}
			if left, _ := filepath.Glob(filepath.Join(filepath.Dir(dest), ".slardar-*")); len(left) != 0 {
				t.Errorf("temp files left: %v", left)
			}
		})
	}
}
