package embedded

import (
	"context"
	"log/slog"
	"testing"
)

// levelRecorder keeps the level of each record it handles.
type levelRecorder struct {
	levels []slog.Level
	msgs   []string
}

func (h *levelRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *levelRecorder) Handle(_ context.Context, r slog.Record) error {
	h.levels = append(h.levels, r.Level)
	h.msgs = append(h.msgs, r.Message)
	return nil
}
func (h *levelRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *levelRecorder) WithGroup(string) slog.Handler      { return h }

func TestSlogLoggerLevels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		call func(*slogLogger)
		want slog.Level
	}{
		{"Noticef", func(a *slogLogger) { a.Noticef("n %d", 1) }, slog.LevelInfo},
		{"Warnf", func(a *slogLogger) { a.Warnf("n %d", 1) }, slog.LevelWarn},
		{"Errorf", func(a *slogLogger) { a.Errorf("n %d", 1) }, slog.LevelError},
		{"Fatalf", func(a *slogLogger) { a.Fatalf("n %d", 1) }, slog.LevelError},
		{"Debugf", func(a *slogLogger) { a.Debugf("n %d", 1) }, slog.LevelDebug},
		{"Tracef", func(a *slogLogger) { a.Tracef("n %d", 1) }, slog.LevelDebug},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := &levelRecorder{}
			tt.call(newSlogLogger(slog.New(h)))
			if len(h.levels) != 1 {
				t.Fatalf("records: got %d, want 1", len(h.levels))
			}
			if got := h.levels[0]; got != tt.want {
				t.Errorf("level: got %v, want %v", got, tt.want)
			}
			if got, want := h.msgs[0], "n 1"; got != want {
				t.Errorf("message: got %q, want %q", got, want)
			}
		})
	}
}

func TestSlogLoggerFatalRecordsFirst(t *testing.T) {
	t.Parallel()
	a := newSlogLogger(slog.New(slog.DiscardHandler))
	a.Fatalf("first %s", "fatal")
	a.Fatalf("second") // must not block
	select {
	case err := <-a.fatal:
		if got, want := err.Error(), "first fatal"; got != want {
			t.Errorf("fatal error: got %q, want %q", got, want)
		}
	default:
		t.Fatal("Fatalf recorded no error")
	}
}
