package consumer

import (
	"log/slog"
	"strings"

	"github.com/nats-io/nats.go/micro"

	"github.com/jetq/jetq/internal/wire"
)

// serveValidation answers validate requests for the tasks w serves until w
// stops pulling: `jetq enqueue` sends a payload to
// [wire.Names.ValidateSubject] and refuses it with the reason when the
// task's decoder or Validate method refuses it, as the worker would before
// running the task. It is a NATS micro service ([wire.ValidateService]),
// so `nats micro ls` lists the workers answering. Every worker of a task
// subscribes in the micro queue group, and one of them answers each
// request. A service that cannot start is logged and the worker runs on
// without it: enqueue then says no check could be made.
func (w *Worker) serveValidation() {
	ctx := w.stopCtx
	checks := map[string]func([]byte) error{}
	for _, rt := range w.reg.Routes() {
		checks[rt.Spec.Queue+" "+rt.Spec.Name] = rt.Check
	}
	svc, err := micro.AddService(w.js.Conn(), micro.Config{
		Name:        wire.ValidateService,
		Version:     wire.ValidateVersion,
		Description: "checks payloads for jetq enqueue as the worker would before running the task",
		Metadata:    map[string]string{"prefix": w.cfg.names.Prefix()},
	})
	if err != nil {
		w.log.LogAttrs(ctx, slog.LevelWarn, "jetq: cannot answer payload checks; jetq enqueue will say no check could be made", slog.String(keyError, err.Error()))
		return
	}
	defer func() { _ = svc.Stop() }()
	for _, r := range w.routes {
		check := checks[r.spec.Queue+" "+r.spec.Name]
		if check == nil {
			continue
		}
		err := svc.AddEndpoint(wire.ValidateEndpoint(r.spec.Queue, r.spec.Name), micro.HandlerFunc(func(req micro.Request) {
			if err := check(req.Data()); err != nil {
				// A header value holds one line.
				_ = req.Error(wire.ValidateRefused, strings.Join(strings.Fields(err.Error()), " "), nil)
				return
			}
			_ = req.Respond(nil)
		}), micro.WithEndpointSubject(w.cfg.names.ValidateSubject(r.spec.Queue, r.spec.Name)))
		if err != nil {
			w.logRoute(ctx, r, slog.LevelWarn, "jetq: cannot answer payload checks for this task", slog.String(keyError, err.Error()))
		}
	}
	<-ctx.Done()
}
