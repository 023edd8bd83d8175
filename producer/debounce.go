package producer

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jetq/jetq/internal/directget"
	"github.com/jetq/jetq/internal/wire"
	"github.com/jetq/jetq/tasks"
)

// MaxDebounceKey bounds a debounce key's length in bytes.
const MaxDebounceKey = 128

// MaxDebounceWindow is the longest debounce window: a day. Each enqueue
// holds its key's task back for a whole window, so a window that is a
// unit off (hours for minutes) would hold work back for weeks.
const MaxDebounceWindow = 24 * time.Hour

// WithDebounce makes the enqueues of one key within window run once, with
// the last payload, for [Enqueue]: the task runs window after the last
// enqueue of key (trailing edge), so a burst of changes to one document,
// say, is handled once it is over. Every enqueue of the window returns
// success and the same task ID, [DebounceID] of the definition and key;
// its Result says Debounced when it replaced a task of the key still
// waiting, whose payload then does not run. A key enqueued more often
// than its window runs only once the enqueues pause.
//
// The task waits as a delayed task ([WithDelay]) on a schedule subject of
// its ID, where the server keeps one schedule (a rollup): each enqueue
// replaces the last, atomically, and the server's scheduler fires the one
// left. While it waits, inspect lists it as scheduled, and
// inspect.Inspector.RunNow and Cancel act on it by its ID.
//
// key is 1 to [MaxDebounceKey] bytes without spaces or control characters,
// window more than 0 and at most [MaxDebounceWindow]; otherwise, and with
// [WithID], [WithDelay], [WithRunAt], [WithUnique] or in [EnqueueBatch],
// the enqueue is refused with [ErrInvalidOption] and nothing is stored. It
// needs nats-server 2.14 or newer, and is refused with [ErrUnsupported] on
// older servers.
func WithDebounce(key string, window time.Duration) EnqueueOption {
	return func(c *enqueueConfig) { c.debounce, c.debounceWindow, c.debounceSet = key, window, true }
}

// DebounceID is the ID of the task that the enqueues of def with debounce
// key key run as ([WithDebounce]): "debounce:<queue>.<name>:<key>".
func DebounceID[T any](def tasks.Def[T], key string) string { return debounceID(def.Spec(), key) }

func debounceID(spec tasks.Spec, key string) string {
	return "debounce:" + spec.Queue + "." + spec.Name + ":" + key
}

// validateDebounce checks WithDebounce and what it cannot go with.
func (c *enqueueConfig) validateDebounce(batch bool) error {
	if !c.debounceSet {
		return nil
	}
	switch {
	case batch:
		return fmt.Errorf("%w: WithDebounce runs the enqueues of one key once; enqueue debounced tasks one at a time with Enqueue", ErrInvalidOption)
	case c.idSet:
		return fmt.Errorf("%w: a debounced task's ID is its key's (producer.DebounceID); leave out WithID", ErrInvalidOption)
	case c.delaySet || c.runAtSet:
		return fmt.Errorf("%w: a debounced task runs its window after the last enqueue; leave out WithDelay and WithRunAt", ErrInvalidOption)
	case c.uniqueSet:
		return fmt.Errorf("%w: a debounced task is one per key already; leave out WithUnique", ErrInvalidOption)
	case c.debounce == "":
		return fmt.Errorf("%w: debounce key is empty; give the key whose enqueues run once, such as a document's ID", ErrInvalidOption)
	case len(c.debounce) > MaxDebounceKey:
		return fmt.Errorf("%w: debounce key is %d bytes, more than %d; use a shorter ID or a hash of it", ErrInvalidOption, len(c.debounce), MaxDebounceKey)
	case c.debounceWindow <= 0 || c.debounceWindow > MaxDebounceWindow:
		return fmt.Errorf("%w: debounce window %v: it must be more than 0 and at most %v (producer.MaxDebounceWindow)", ErrInvalidOption, c.debounceWindow, MaxDebounceWindow)
	}
	for _, r := range c.debounce {
		if r <= ' ' || r == 0x7f {
			return fmt.Errorf("%w: debounce key %q holds a space or control character", ErrInvalidOption, c.debounce)
		}
	}
	return nil
}

// debounce makes env, enqueued with WithDebounce, the task of its key: its
// ID is the key's, and its Nats-Msg-Id the ID it was made with, so the
// schedule stream's deduplication drops a retried publish of this enqueue
// and none of the next. It reports whether a task of the key was waiting,
// whose schedule this one replaces, as far as a read of the schedule
// stream tells; a read that fails is logged and reports false. It needs
// the producer provisioned.
func (p *Producer) debounce(ctx context.Context, env *tasks.Envelope, spec tasks.Spec, key string) (pending bool, err error) {
	id := debounceID(spec, key)
	if len(id) > wire.MaxID {
		return false, fmt.Errorf("%w: debounce key %q makes task ID %q of %d bytes, more than %d; use a shorter key",
			ErrInvalidOption, key, id, len(id), wire.MaxID)
	}
	env.Header[wire.HeaderMsgID] = []string{id + "." + env.ID}
	env.ID = id
	if !p.schedules.Load() {
		return false, nil // timing refuses it, naming the server needed
	}
	msgs, _, err := directget.Batch(ctx, p.js, p.cfg.names.ScheduleStream(),
		directget.Request{Seq: 1, NextFor: p.cfg.names.DelayedSubject(id), Batch: 1})
	if err != nil {
		// Debounced only informs: the publish replaces a waiting task
		// whether or not this read saw it, and says for itself whether
		// the stream takes it.
		p.cfg.log.LogAttrs(ctx, slog.LevelWarn, "jetq: cannot tell whether a debounced task replaces one waiting",
			slog.String("task_id", id), slog.String("error", err.Error()))
		return false, nil
	}
	return len(msgs) > 0, nil
}
