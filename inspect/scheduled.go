package inspect

import (
	"context"
	"fmt"
	"time"

	"github.com/jetq/jetq/internal/directget"
	"github.com/jetq/jetq/internal/wire"
)

// scheduled lists the delayed tasks waiting in the schedule stream: see
// [Inspector.Tasks]. A schedule's subject names its task by ID, so the
// queue and task filters read each schedule's target.
func (in *Inspector) scheduled(ctx context.Context, q Query, tok cursor) (Page, *cursor, error) {
	st, err := in.scheduleStream(ctx)
	if err != nil || st == nil {
		return Page{}, nil, err
	}
	batch := q.Limit + 1
	if q.Where != nil || q.Queue != "" || q.Task != "" {
		batch = maxBatch
	}
	since := q.Since
	if tok.After > 0 {
		since = time.Time{}
	}
	sc := newScanner(in.js, st, in.names.DelayedSubjects()+"*", tok.After+1, since, batch)
	p, next, _, _, err := collect(ctx, sc, q, tok, func(m directget.Msg) (TaskInfo, bool) {
		t, err := in.delayed(m)
		return t, err == nil && (q.Queue == "" || q.Queue == t.Queue) && (q.Task == "" || q.Task == t.Task)
	})
	if err != nil {
		return Page{}, nil, fmt.Errorf("inspect: read scheduled tasks: %w", err)
	}
	return p, next, nil
}

// delayed is the scheduled task of schedule message m.
func (in *Inspector) delayed(m directget.Msg) (TaskInfo, error) {
	id, err := in.names.ParseDelayedSubject(m.Subject)
	if err != nil {
		return TaskInfo{}, err
	}
	queue, name, err := in.names.ParseFireSubject(m.Header.Get(wire.HeaderScheduleTarget))
	if err != nil {
		return TaskInfo{}, err
	}
	t := taskInfo(m, in.names.ScheduleStream(), queue, name, Scheduled)
	t.ID = id
	if t.RunAt, err = wire.ParseTime(m.Header.Get(wire.HeaderRunAt)); err != nil {
		return TaskInfo{}, fmt.Errorf("schedule %d: run-at header: %w", m.Seq, err)
	}
	return t, nil
}
