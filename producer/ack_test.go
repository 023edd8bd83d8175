package producer

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/embedded/embeddedtest"
)

func TestReadAck(t *testing.T) {
	const want = "JETQ_TASKS"
	ok := []struct {
		data  string
		quick bool // read without encoding/json
		ack   pubAck
	}{
		{`{"stream":"JETQ_TASKS","seq":1}`, true, pubAck{want, 1, false}},
		{`{"stream":"JETQ_TASKS","seq":18446744073709551615}`, true, pubAck{want, 18446744073709551615, false}},
		{`{"stream":"JETQ_TASKS","seq":7,"duplicate": true}`, true, pubAck{want, 7, true}},
		{`{"stream":"JETQ_TASKS","seq":7,"duplicate":true}`, true, pubAck{want, 7, true}},
		{`{"stream":"JETQ_TASKS","domain":"hub","seq":7,"duplicate": true}`, true, pubAck{want, 7, true}},
		{`{"stream":"JETQ_TASKS","domain":"hub","seq":7}`, true, pubAck{want, 7, false}},
		// Forms the quick path leaves to encoding/json.
		{`{"stream":"OTHER","seq":3}`, false, pubAck{"OTHER", 3, false}},
		{`{"seq":3,"stream":"JETQ_TASKS"}`, false, pubAck{want, 3, false}},
		{`{"stream":"JETQ_TASKS","seq":3,"val":"x"}`, false, pubAck{want, 3, false}},
		{`{"stream":"JETQ_TASKS","seq":3,"batch":"b","count":2}`, false, pubAck{want, 3, false}},
		{`{"stream":"JETQ_TASKS","domain":"a\"b","seq":3}`, false, pubAck{want, 3, false}},
		{` {"stream":"JETQ_TASKS","seq":3} `, false, pubAck{want, 3, false}},
		{`{"stream":"JETQ_TASKSX","seq":3}`, false, pubAck{"JETQ_TASKSX", 3, false}},
	}
	for _, c := range ok {
		if _, quick := quickAck([]byte(c.data), want); quick != c.quick {
			t.Errorf("quickAck(%s) ok = %v, want %v", c.data, quick, c.quick)
		}
		got, err := readAck(&nats.Msg{Data: []byte(c.data)}, want)
		if err != nil || got != c.ack {
			t.Errorf("readAck(%s) = %+v, %v; want %+v", c.data, got, err, c.ack)
		}
	}

	bad := []struct {
		msg  *nats.Msg
		want error
	}{
		{&nats.Msg{Data: []byte(`{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"}}`)}, &jetstream.APIError{}},
		{&nats.Msg{Data: []byte(`{"stream":"JETQ_TASKS","seq":`)}, jetstream.ErrInvalidJSAck},
		{&nats.Msg{Data: []byte(`{}`)}, jetstream.ErrInvalidJSAck},
		{&nats.Msg{Data: []byte(`{"stream":"JETQ_TASKS","seq":-1}`)}, jetstream.ErrInvalidJSAck},
		{&nats.Msg{Header: nats.Header{"Status": {"503"}}}, jetstream.ErrNoStreamResponse},
		{&nats.Msg{}, jetstream.ErrInvalidJSAck},
	}
	for _, c := range bad {
		_, err := readAck(c.msg, want)
		if apiWant, isAPI := c.want.(*jetstream.APIError); isAPI {
			var apiErr *jetstream.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode != 10077 || apiErr.Code != 503 {
				t.Errorf("readAck(%s) = %v, want %T with codes 503/10077", c.msg.Data, err, apiWant)
			}
			continue
		}
		if !errors.Is(err, c.want) {
			t.Errorf("readAck(%s, %v) = %v, want %v", c.msg.Data, c.msg.Header, err, c.want)
		}
	}
}

// TestServerAcksTakeTheQuickPath checks that what this nats-server version
// really answers, stored and duplicate, is read without encoding/json.
func TestServerAcksTakeTheQuickPath(t *testing.T) {
	srv := embeddedtest.Server(t)
	nc, js := embeddedtest.Connect(t, srv)
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "JETQ_TASKS", Subjects: []string{"jetq.task.>"}, Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	msg := &nats.Msg{Subject: "jetq.task.default.a", Header: nats.Header{"Nats-Msg-Id": {"x"}}, Data: []byte("{}")}
	for i, wantDup := range []bool{false, true} {
		reply, err := nc.RequestMsg(msg, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		a, ok := quickAck(reply.Data, "JETQ_TASKS")
		if !ok || a.seq != 1 || a.duplicate != wantDup {
			t.Errorf("publish %d: server answered %s; quickAck = %+v, %v", i+1, reply.Data, a, ok)
		}
	}
}
