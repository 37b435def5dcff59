package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"
)

// aptPackage maps each external command the harness runs to its Debian package.
func aptPackage(tool string) string {
	return map[string]string{"nginx": "nginx", "haproxy": "haproxy", "wrk": "wrk"}[tool]
}

// policyRCPath is Debian's hook that tells package scripts whether they may start
// services. While the harness installs packages it makes sure one exists that says no,
// so installing nginx or haproxy does not start the system's copy on port 80.
const policyRCPath = "/usr/sbin/policy-rc.d"

// ensureTools finds each wanted command, installing missing ones with apt-get when
// allowed and possible. It returns the paths of the commands present afterwards; a
// tool that still cannot be found is logged and left out.
func ensureTools(ctx context.Context, logger *zap.Logger, want []string, install bool) map[string]string {
	found := map[string]string{}
	var missing []string
	for _, tool := range want {
		if p, err := lookTool(tool); err == nil {
			found[tool] = p
		} else {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return found
	}
	switch {
	case !install:
		logger.Warn("tools missing and -install=false", zap.Strings("tools", missing))
		return found
	case os.Geteuid() != 0:
		logger.Warn("tools missing; run as root or install them yourself", zap.Strings("tools", missing))
		return found
	}
	if err := aptInstall(ctx, logger, missing); err != nil {
		logger.Warn("apt-get install failed", zap.Strings("tools", missing), zap.Error(err))
	}
	for _, tool := range missing {
		if p, err := lookTool(tool); err == nil {
			found[tool] = p
		} else {
			logger.Warn("tool unavailable; its target is skipped", zap.String("tool", tool), zap.Error(err))
		}
	}
	return found
}

// aptInstall installs the packages of tools; if installing them together fails it
// refreshes the package lists once and installs them one by one, so one missing
// package does not keep the others out.
func aptInstall(ctx context.Context, logger *zap.Logger, tools []string) error {
	undo, err := denyServiceStarts()
	if err != nil {
		return err
	}
	defer undo()
	var pkgs []string
	for _, t := range tools {
		pkgs = append(pkgs, aptPackage(t))
	}
	logger.Info("installing with apt-get", zap.Strings("packages", pkgs))
	if aptGet(ctx, append([]string{"install", "-y", "-q", "--no-install-recommends"}, pkgs...)...) == nil {
		return nil
	}
	if err := aptGet(ctx, "update", "-q"); err != nil {
		return err
	}
	var errs []error
	for _, p := range pkgs {
		errs = append(errs, aptGet(ctx, "install", "-y", "-q", "--no-install-recommends", p))
	}
	return errors.Join(errs...)
}

// aptGet runs apt-get non-interactively with a time bound.
func aptGet(ctx context.Context, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "apt-get", args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get %v: %w: %s", args, err, lastLines(string(out), 5))
	}
	return nil
}

// denyServiceStarts installs a policy-rc.d that forbids starting services, unless
// one is already there. The returned func removes what it installed.
func denyServiceStarts() (func(), error) {
	if _, err := os.Stat(policyRCPath); err == nil {
		return func() {}, nil
	}
	if err := os.WriteFile(policyRCPath, []byte("#!/bin/sh\n# Written by slardar's integration/bench while it installs packages.\nexit 101\n"), 0o755); err != nil {
		return nil, fmt.Errorf("write %s: %w", policyRCPath, err)
	}
	return func() { _ = os.Remove(policyRCPath) }, nil
}

// lookTool finds a command on PATH or in the sbin folders that a non-root PATH lacks.
func lookTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found on PATH nor in sbin folders", name)
}

// toolVersion runs bin with args and returns the first non-empty output line, without
// the copyright or web address that some tools append.
func toolVersion(ctx context.Context, bin string, args ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, bin, args...).CombinedOutput() // wrk -v exits 1
	for line := range strings.SplitSeq(string(out), "\n") {
		line, _, _ = strings.Cut(line, " Copyright")
		line, _, _ = strings.Cut(line, " - http")
		if line = strings.TrimSpace(line); line != "" {
			return line
		}
	}
	return "unknown"
}
