package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"go.uber.org/zap"
)

// profileSlardar loads slardar with wrk while it fetches a CPU profile from the admin
// /debug/pprof/profile endpoint into dest. The load run is not part of the results.
func profileSlardar(ctx context.Context, logger *zap.Logger, t *target, wrkBin string, conns, seconds int, dest string) error {
	load := wrkRun{bin: wrkBin, url: t.url, host: t.host, conns: conns, duration: time.Duration(seconds+2) * time.Second}
	loadErr := make(chan error, 1)
	go func() {
		_, err := load.run(ctx)
		loadErr <- err
	}()
	fetchErr := fetchProfile(ctx, t.adminURL, seconds, dest)
	if err := <-loadErr; err != nil {
		return fmt.Errorf("load during profile: %w", err)
	}
	if fetchErr != nil {
		return fetchErr
	}
	logger.Info("wrote CPU profile", zap.String("file", dest), zap.Int("seconds", seconds), zap.Int("conns", conns),
		zap.String("view", "go tool pprof -http=127.0.0.1:8000 bin/slardar "+dest))
	return nil
}

// fetchProfile GETs a CPU profile of the given length and writes it atomically to dest.
// slardar inherits the harness's environment, so when SLARDAR_ADMIN_TOKEN is set the
// admin API wants it as a bearer token.
func fetchProfile(ctx context.Context, adminURL string, seconds int, dest string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(seconds)*time.Second+30*time.Second)
	defer cancel()
	url := adminURL + "/debug/pprof/profile?seconds=" + strconv.Itoa(seconds)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("profile request: %w", err)
	}
	if token := os.Getenv("SLARDAR_ADMIN_TOKEN"); token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return fmt.Errorf("GET %s: status %d: %s", url, res.StatusCode, body)
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return fmt.Errorf("profile dir: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dest), ".slardar-*.pprof")
	if err != nil {
		return fmt.Errorf("profile temp file: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := tmp.Chmod(0o644); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("profile temp file: %w", err)
	}
	n, err := io.Copy(tmp, res.Body)
	if closeErr := tmp.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return fmt.Errorf("read profile from %s: %w", url, err)
	}
	if n == 0 {
		return fmt.Errorf("GET %s: empty profile", url)
	}
	if err := os.Rename(tmp.Name(), dest); err != nil {
		return fmt.Errorf("write profile: %w", err)
	}
	return nil
}
