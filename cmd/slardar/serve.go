package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"

	"github.com/slardar-go/slardar/admin"
	"github.com/slardar-go/slardar/checkups"
	"github.com/slardar-go/slardar/internal/config"
	"github.com/slardar-go/slardar/internal/state"
	"github.com/slardar-go/slardar/internal/upgrade"
	"github.com/slardar-go/slardar/luahooks"
	"github.com/slardar-go/slardar/router"
	"github.com/slardar-go/slardar/router/h1"
)

// serve wires the process together and runs it until ctx ends.
func serve(ctx context.Context, cfg *config.Config, f *flags, stderr io.Writer) error {
	logger, err := newLogger(cfg.Log, stderr)
	if err != nil {
		return err
	}
	defer logger.Sync() //nolint:errcheck // nothing useful to do on exit
	logger = logger.With(zap.Int("pid", os.Getpid()))

	upg, err := upgrade.New(upgrade.Options{PIDFile: f.pidFile, Logger: logger.Named("upgrade")})
	if err != nil {
		return err
	}
	defer upg.Stop()

	access, closeAccess, err := newAccessLog(cfg.Log.AccessLog)
	if err != nil {
		return err
	}
	defer closeAccess()

	src, err := openSources(cfg, logger)
	if err != nil {
		return err
	}
	st := src.store
	defer st.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cm := checkups.NewMetrics(reg)
	peers := checkups.NewRegistry(logger.Named("checkups"), cm)
	checker := checkups.NewChecker(peers, logger.Named("checker"))

	transport := &h1.Transport{
		MaxIdleConnsPerHost: cfg.Proxy.MaxIdleConnsPerPeer,
		IdleConnTimeout:     cfg.Proxy.UpstreamIdleTimeout,
		Logger:              logger.Named("upstream"),
	}
	_, port, _ := net.SplitHostPort(cfg.Listen)
	handler := router.NewHandler(router.Options{
		Transport:        transport,
		Metrics:          router.NewMetrics(reg),
		Logger:           logger.Named("router"),
		AccessLog:        access,
		RetryBufferBytes: cfg.Proxy.RetryBufferBytes,
		ServerPort:       port,
	})
	engine := luahooks.NewEngine(luahooks.Options{
		Logger:     logger.Named("lua"),
		Registerer: reg,
		Budget:     cfg.Lua.Budget,
	})
	defer engine.Close()
	applier, err := state.New(state.Options{
		Store: st, Registry: peers, Checker: checker, Handler: handler, Engine: engine,
		Logger: logger.Named("state"), Static: cfg.Upstreams,
		Domain: src.domain, Sources: src.syncs, SnapshotPath: src.snapshotPath,
		MaxStaleness: maxStaleness(cfg),
	})
	if err != nil {
		return err
	}
	defer applier.Close()

	runCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Apply what is known before the listener opens, so the first request
	// is routed.
	snaps, cats := src.watch(runCtx)
	snap, cat, err := src.boot(ctx, snaps, cats, logger)
	if err != nil {
		return err
	}
	applier.Seed(snap, cat)

	// Listeners come from the upgrader: inherited from the process being
	// replaced, or new.
	proxyLn, err := upg.Listen("proxy", "tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("proxy listener: %w", err)
	}
	adminLn, err := upg.Listen("admin", "tcp", cfg.Admin.Listen)
	if err != nil {
		proxyLn.Close()
		return fmt.Errorf("admin listener: %w", err)
	}

	proxySrv := &h1.Server{
		Handler:            handler,
		ReadHeaderTimeout:  cfg.Proxy.ReadHeaderTimeout,
		IdleTimeout:        cfg.Proxy.IdleTimeout,
		WriteTimeout:       cfg.Proxy.WriteTimeout,
		MaxHeaderBytes:     cfg.Proxy.MaxHeaderBytes,
		MaxRequestsPerConn: cfg.Proxy.MaxRequestsPerConn,
		Logger:             logger.Named("server"),
	}
	adminSrv := &http.Server{
		Handler: admin.New(admin.Options{
			Store: st, View: applier, Token: cfg.Admin.Token, Logger: logger.Named("admin"),
			Gatherer: reg, Version: version, Started: time.Now(),
			Upgrade: upg.Upgrade, Lua: engine,
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}

	var wg sync.WaitGroup
	errc := make(chan error, 2)
	goRun := func(name string, fn func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(); err != nil && !errors.Is(err, context.Canceled) &&
				!errors.Is(err, h1.ErrServerClosed) && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	goRun("applier", func() error { return applier.Follow(runCtx, snaps, cats) })
	goRun("checker", func() error { checker.Run(runCtx); return nil })
	goRun("proxy", func() error { return proxySrv.Serve(proxyLn) })
	goRun("admin", func() error { return adminSrv.Serve(adminLn) })

	if err := upg.Ready(); err != nil {
		logger.Error("telling the previous process we serve failed", zap.Error(err))
	}
	logger.Info("slardar started",
		zap.String("version", version),
		zap.String("listen", proxyLn.Addr().String()),
		zap.String("admin", adminLn.Addr().String()),
		zap.String("config", cfg.Source),
		zap.String("data_dir", cfg.DataDir),
		zap.Bool("consul", cfg.Consul != nil),
		zap.Bool("upgraded", upg.HasParent()),
		zap.Int("upstreams", len(applier.Clusters())))

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	usr2 := make(chan os.Signal, 1)
	signal.Notify(usr2, syscall.SIGUSR2)
	defer signal.Stop(usr2)

	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-errc:
			runErr = err
			break loop
		case <-hup:
			reload(f.config, cfg, applier, logger)
		case <-usr2:
			go func() {
				if err := upg.Upgrade(runCtx); err != nil {
					logger.Error("upgrade failed; this process keeps serving", zap.Error(err))
				}
			}()
		case <-upg.Exit():
			logger.Info("the new process serves; draining and exiting")
			break loop
		}
	}

	logger.Info("stopping: draining in-flight requests", zap.Duration("grace", cfg.Proxy.ShutdownGrace))
	sctx, scancel := context.WithTimeout(context.Background(), cfg.Proxy.ShutdownGrace)
	defer scancel()
	// The admin listener closes first: after a hand-off the new process
	// owns the API (with the file store, a write taken here would not be
	// seen there), and on a stop load balancers probing /health see the
	// process leave.
	if err := adminSrv.Shutdown(sctx); err != nil {
		logger.Warn("admin shutdown", zap.Error(err))
	}
	if err := proxySrv.Shutdown(sctx); err != nil {
		logger.Warn("proxy shutdown", zap.Error(err))
	}
	if err := handler.Shutdown(sctx); err != nil {
		logger.Warn("tunnels cut at the end of the grace period", zap.Error(err))
	}
	cancel()
	wg.Wait()
	transport.CloseIdle()
	logger.Info("stopped")
	return runErr
}

func maxStaleness(cfg *config.Config) time.Duration {
	if cfg.Consul == nil {
		return 0
	}
	return cfg.Consul.MaxStaleness
}

// reload re-reads the config file on SIGHUP and applies its upstreams. A
// file that fails to parse or validate changes nothing. Listener, data dir
// and logging changes need a restart (or a binary upgrade) and are reported.
func reload(path string, running *config.Config, applier *state.Applier, logger *zap.Logger) {
	if path == "" {
		logger.Info("SIGHUP: running the embedded default config; nothing to reload")
		return
	}
	cfg, err := config.Load(path)
	if err != nil {
		logger.Error("reload rejected; the running configuration keeps serving", zap.Error(err))
		return
	}
	if err := applier.SetStatic(cfg.Upstreams); err != nil {
		logger.Error("reload rejected; the running configuration keeps serving", zap.Error(err))
		return
	}
	if cfg.Listen != running.Listen || cfg.Admin.Listen != running.Admin.Listen || cfg.DataDir != running.DataDir {
		logger.Warn("reload: listen, admin.listen and data_dir changes take effect on restart")
	}
	logger.Info("reloaded", zap.String("config", path), zap.Int("static_upstreams", len(cfg.Upstreams)))
}
