package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats-server/v2/server"
)

// Log attribute keys used by this package.
const (
	logKeyServer   = "server"    // server name, to tell embedded servers apart
	logKeyStoreDir = "store_dir" // JetStream store directory
	logKeyError    = "error"
)

// slogLogger adapts a *slog.Logger to server.Logger. It also keeps the first
// fatal message so that Start can fail fast with it: the server calls Fatalf
// and returns from Start instead of exiting when the logger does not exit.
type slogLogger struct {
	l     *slog.Logger
	fatal chan error // capacity 1: the first fatal message wins
}

var _ server.Logger = (*slogLogger)(nil)

func newSlogLogger(l *slog.Logger) *slogLogger {
	return &slogLogger{l: l, fatal: make(chan error, 1)}
}

// debugEnabled reports whether the server should produce debug lines at all;
// formatting them only to drop them would cost on every connection.
func (a *slogLogger) debugEnabled() bool {
	return a.l.Enabled(context.Background(), slog.LevelDebug)
}

// Noticef logs at Info, except "Server is ready" after a fatal error: a
// server that could not listen is not ready.
func (a *slogLogger) Noticef(format string, v ...any) {
	if format == "Server is ready" && len(a.fatal) > 0 {
		return
	}
	a.log(slog.LevelInfo, format, v)
}
func (a *slogLogger) Warnf(format string, v ...any)  { a.log(slog.LevelWarn, format, v) }
func (a *slogLogger) Errorf(format string, v ...any) { a.log(slog.LevelError, format, v) }
func (a *slogLogger) Debugf(format string, v ...any) { a.log(slog.LevelDebug, format, v) }
func (a *slogLogger) Tracef(format string, v ...any) { a.log(slog.LevelDebug, format, v) }

// Fatalf logs at Error and records the message; it never exits the process.
func (a *slogLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	a.l.LogAttrs(context.Background(), slog.LevelError, msg)
	select {
	case a.fatal <- errors.New(msg):
	default:
	}
}

func (a *slogLogger) log(level slog.Level, format string, v []any) {
	ctx := context.Background() // the server gives no context
	if !a.l.Enabled(ctx, level) {
		return
	}
	a.l.LogAttrs(ctx, level, fmt.Sprintf(format, v...))
}
