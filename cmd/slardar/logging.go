package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/slardar-go/slardar/internal/config"
	"github.com/slardar-go/slardar/router"
)

// newLogger builds the process logger: console or JSON lines on stderr.
func newLogger(c config.Log, w io.Writer) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(c.Level)
	if err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	ec := zap.NewProductionEncoderConfig()
	ec.TimeKey = "ts"
	ec.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	if c.Format == "json" {
		enc = zapcore.NewJSONEncoder(ec)
	} else {
		ec.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(ec)
	}
	core := zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), level)
	return zap.New(core, zap.ErrorOutput(zapcore.Lock(zapcore.AddSync(w)))), nil
}

// newAccessLog opens the access log destination ("" = off). Lines are
// buffered (256 KiB, flushed every second) so a request never waits on the
// disk; the returned func flushes and closes.
func newAccessLog(dest string) (*router.AccessLog, func(), error) {
	if dest == "" {
		return nil, func() {}, nil
	}
	var (
		w         zapcore.WriteSyncer
		closeFile = func() {}
	)
	switch dest {
	case "stdout":
		w = zapcore.AddSync(os.Stdout)
	case "stderr":
		w = zapcore.AddSync(os.Stderr)
	default:
		f, err := os.OpenFile(dest, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return nil, nil, fmt.Errorf("log.access_log: %w", err)
		}
		w = f
		closeFile = func() { f.Close() }
	}
	bw := &zapcore.BufferedWriteSyncer{WS: w, Size: 256 << 10, FlushInterval: time.Second}
	ec := zapcore.EncoderConfig{
		TimeKey:        "ts",
		EncodeTime:     zapcore.RFC3339NanoTimeEncoder,
		EncodeDuration: zapcore.MillisDurationEncoder,
		LineEnding:     zapcore.DefaultLineEnding,
	}
	l := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(ec), bw, zapcore.InfoLevel))
	return router.NewAccessLog(l), func() { bw.Stop(); closeFile() }, nil
}
