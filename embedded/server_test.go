package embedded_test

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/embedded"
)

// start starts a server for t and shuts it down in t.Cleanup.
func start(t *testing.T, opts ...embedded.Option) *embedded.Server {
	t.Helper()
	srv, err := embedded.Start(t.Context(), opts...)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

// connect opens a connection to srv, closed in t.Cleanup before the server
// shuts down, and returns its JetStream.
func connect(t *testing.T, srv *embedded.Server, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := srv.Connect(opts...)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream.New: %v", err)
	}
	return nc, js
}

// publishAndConsume creates a file stream, publishes one message and reads
// it back through a durable pull consumer.
func publishAndConsume(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}})
	if err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	if _, err := js.Publish(ctx, "orders.new", []byte("hello")); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:   "worker",
		AckPolicy: jetstream.AckExplicitPolicy,
	})
	if err != nil {
		t.Fatalf("CreateOrUpdateConsumer: %v", err)
	}
	msg, err := cons.Next(jetstream.FetchContext(ctx))
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	if got, want := string(msg.Data()), "hello"; got != want {
		t.Errorf("message data: got %q, want %q", got, want)
	}
	if err := msg.DoubleAck(ctx); err != nil {
		t.Fatalf("DoubleAck: %v", err)
	}
}

func TestStartDefaults(t *testing.T) {
	t.Parallel()
	srv := start(t)

	if got := srv.ClientURL(); got != "" {
		t.Errorf("ClientURL: got %q, want \"\" without WithListen", got)
	}
	if got := srv.NATS().Name(); !strings.HasPrefix(got, "jetq-embedded-") {
		t.Errorf("server name: got %q, want prefix jetq-embedded-", got)
	}
	_, js := connect(t, srv)
	if got := srv.NATS().NumClients(); got != 1 {
		t.Errorf("NumClients: got %d, want 1", got)
	}
	publishAndConsume(t, js)
	checkLimits(t, srv, 1<<30, 10<<30)
}

// checkLimits compares the server's JetStream limits with the wanted ones.
func checkLimits(t *testing.T, srv *embedded.Server, wantMem, wantStore int64) {
	t.Helper()
	cfg := srv.NATS().JetStreamConfig()
	if cfg == nil {
		t.Fatal("JetStreamConfig: got nil, want JetStream enabled")
	}
	if got := cfg.MaxMemory; got != wantMem {
		t.Errorf("JetStream MaxMemory: got %d, want %d", got, wantMem)
	}
	if got := cfg.MaxStore; got != wantStore {
		t.Errorf("JetStream MaxStore: got %d, want %d", got, wantStore)
	}
}

func TestStartOptions(t *testing.T) {
	t.Parallel()
	srv := start(t,
		embedded.WithServerName("orders-node"),
		embedded.WithMaxMemory(64<<20),
		embedded.WithMaxStore(128<<20),
	)
	if got, want := srv.NATS().Name(), "orders-node"; got != want {
		t.Errorf("server name: got %q, want %q", got, want)
	}
	checkLimits(t, srv, 64<<20, 128<<20)
}

func TestWithListen(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"127.0.0.1:0", "127.0.0.1:-1", "localhost:0"} {
		t.Run(addr, func(t *testing.T) {
			t.Parallel()
			srv := start(t, embedded.WithListen(addr))

			url := srv.ClientURL()
			host, port, err := net.SplitHostPort(strings.TrimPrefix(url, "nats://"))
			if err != nil || !strings.HasPrefix(url, "nats://") {
				t.Fatalf("ClientURL: got %q, want nats://host:port (%v)", url, err)
			}
			if port == "0" || port == "4222" {
				t.Errorf("ClientURL port: got %s, want a random port", port)
			}
			if want, _, _ := net.SplitHostPort(addr); host != want {
				t.Errorf("ClientURL host: got %q, want %q", host, want)
			}

			nc, js := connect(t, srv, nats.Name("tcp-test"))
			if got := nc.ConnectedUrl(); got != url {
				t.Errorf("ConnectedUrl: got %q, want %q", got, url)
			}
			publishAndConsume(t, js)
		})
	}
}

func TestWithListenWildcardHost(t *testing.T) {
	t.Parallel()
	srv := start(t, embedded.WithListen(":0"))
	if got := srv.ClientURL(); !strings.HasPrefix(got, "nats://127.0.0.1:") {
		t.Errorf("ClientURL: got %q, want nats://127.0.0.1:<port> for a wildcard listener", got)
	}
	nc, _ := connect(t, srv)
	if err := nc.Flush(); err != nil {
		t.Errorf("Flush: %v", err)
	}
}

func TestWithListenPortInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.Listen: %v", err)
	}
	defer ln.Close()
	dir := t.TempDir()

	_, err = embedded.Start(t.Context(), embedded.WithListen(ln.Addr().String()), embedded.WithStoreDir(dir))
	if err == nil {
		t.Fatal("Start on a port in use: got nil error")
	}
	if errors.Is(err, embedded.ErrInvalidOption) {
		t.Errorf("Start on a port in use: got %v, want an error not wrapping ErrInvalidOption", err)
	}
	if !strings.HasPrefix(err.Error(), "embedded: ") || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("Start on a port in use: got %q, want embedded: ... address already in use", err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("WithStoreDir dir after failed Start: %v, want kept", err)
	}
}

func TestStoreDirPersists(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := t.Context()

	srv, err := embedded.Start(ctx, embedded.WithStoreDir(dir))
	if err != nil {
		t.Fatalf("first Start: %v", err)
	}
	t.Cleanup(srv.Shutdown)
	if got := srv.StoreDir(); got != dir {
		t.Errorf("StoreDir: got %q, want %q", got, dir)
	}
	nc, err := srv.Connect()
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream.New: %v", err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: "KEEP", Subjects: []string{"keep.>"}, Storage: jetstream.FileStorage,
	}); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	if _, err := js.Publish(ctx, "keep.one", []byte("survives")); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	nc.Close()
	srv.Shutdown()

	if _, err := os.Stat(filepath.Join(dir, "jetstream")); err != nil {
		t.Fatalf("store dir after Shutdown: %v, want kept", err)
	}

	srv2 := start(t, embedded.WithStoreDir(dir))
	_, js2 := connect(t, srv2)
	stream, err := js2.Stream(ctx, "KEEP")
	if err != nil {
		t.Fatalf("Stream after restart: %v", err)
	}
	msg, err := stream.GetMsg(ctx, 1)
	if err != nil {
		t.Fatalf("GetMsg after restart: %v", err)
	}
	if got, want := string(msg.Data), "survives"; got != want {
		t.Errorf("message after restart: got %q, want %q", got, want)
	}
}

func TestTempStoreDirRemoved(t *testing.T) {
	t.Parallel()
	srv, err := embedded.Start(t.Context())
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(srv.Shutdown)
	dir := srv.StoreDir()
	if dir == "" {
		t.Fatal("StoreDir: got \"\", want a temporary directory")
	}

	nc, js := connect(t, srv)
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "TMP", Storage: jetstream.FileStorage}); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "jetstream")); err != nil {
		t.Fatalf("store dir while running: %v", err)
	}
	nc.Close()
	srv.Shutdown()

	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("temporary store dir after Shutdown: got %v, want fs.ErrNotExist", err)
	}
}

func TestStartInvalidOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opt  embedded.Option
	}{
		{"listen no port", embedded.WithListen("127.0.0.1")},
		{"listen empty", embedded.WithListen("")},
		{"listen bad port", embedded.WithListen("127.0.0.1:http")},
		{"listen port too big", embedded.WithListen("127.0.0.1:70000")},
		{"listen port negative", embedded.WithListen("127.0.0.1:-2")},
		{"listen bad host", embedded.WithListen("not a host:4222")},
		{"listen url", embedded.WithListen("nats://127.0.0.1:4222")},
		{"store dir empty", embedded.WithStoreDir("")},
		{"server name empty", embedded.WithServerName("")},
		{"server name space", embedded.WithServerName("my server")},
		{"max memory zero", embedded.WithMaxMemory(0)},
		{"max store negative", embedded.WithMaxStore(-1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, err := embedded.Start(t.Context(), tt.opt)
			if srv != nil {
				srv.Shutdown()
			}
			if !errors.Is(err, embedded.ErrInvalidOption) {
				t.Fatalf("Start: got %v, want error wrapping ErrInvalidOption", err)
			}
			if !strings.HasPrefix(err.Error(), "embedded: ") {
				t.Errorf("error text: got %q, want prefix \"embedded: \"", err)
			}
		})
	}
}

func TestStartReportsAllInvalidOptions(t *testing.T) {
	t.Parallel()
	_, err := embedded.Start(t.Context(), embedded.WithListen("x"), embedded.WithMaxStore(0))
	if !errors.Is(err, embedded.ErrInvalidOption) {
		t.Fatalf("Start: got %v, want ErrInvalidOption", err)
	}
	for _, want := range []string{"WithListen", "WithMaxStore"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestStartCancelledContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	srv, err := embedded.Start(ctx)
	if srv != nil {
		srv.Shutdown()
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Start with cancelled ctx: got %v, want context.Canceled", err)
	}
}

func TestShutdownIdempotent(t *testing.T) {
	t.Parallel()
	srv := start(t)
	nc, err := srv.Connect()
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	nc.Close()

	var wg sync.WaitGroup
	for range 4 {
		wg.Go(srv.Shutdown)
	}
	wg.Wait()
	srv.Shutdown()

	if _, err := srv.Connect(); !errors.Is(err, embedded.ErrServerClosed) {
		t.Errorf("Connect after Shutdown: got %v, want ErrServerClosed", err)
	}
}

func TestWithLogger(t *testing.T) {
	t.Parallel()
	rec := newRecorder(slog.LevelDebug)
	srv := start(t, embedded.WithLogger(slog.New(rec)), embedded.WithServerName("logged"))
	nc, _ := connect(t, srv)
	if err := nc.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}

	ready := rec.find(func(r record) bool { return r.msg == "Server is ready" })
	if len(ready) != 1 {
		t.Fatalf("records with message \"Server is ready\": got %d, want 1; all: %v", len(ready), rec.all())
	}
	if got, want := ready[0].level, slog.LevelInfo; got != want {
		t.Errorf("notice level: got %v, want %v", got, want)
	}
	if got, want := ready[0].attrs["server"], "logged"; got != want {
		t.Errorf("server attribute: got %q, want %q", got, want)
	}
	// The handler is enabled for Debug, so server debug logging is on.
	if debug := rec.find(func(r record) bool { return r.level == slog.LevelDebug }); len(debug) == 0 {
		t.Errorf("no Debug records from a Debug-enabled handler; all: %v", rec.all())
	}
}

func TestWithLoggerFatalIsError(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.Listen: %v", err)
	}
	defer ln.Close()
	rec := newRecorder(slog.LevelInfo)
	// Start checks the client, route and monitoring ports itself; a taken
	// leafnode port is left to the server, which fails with Fatalf.
	conf := filepath.Join(t.TempDir(), "leaf.conf")
	if err := os.WriteFile(conf, []byte("leafnodes { listen: \""+ln.Addr().String()+"\" }\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	_, err = embedded.Start(t.Context(), embedded.WithConfigFile(conf), embedded.WithLogger(slog.New(rec)))
	if err == nil {
		t.Fatal("Start on a leafnode port in use: got nil error")
	}
	if !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("Start on a leafnode port in use: got %q, want the server's reason", err)
	}
	errs := rec.find(func(r record) bool { return r.level == slog.LevelError })
	if len(errs) == 0 || !strings.Contains(errs[0].msg, "address already in use") {
		t.Errorf("Error records: got %v, want one about the address in use", errs)
	}
	if ready := rec.find(func(r record) bool { return r.msg == "Server is ready" }); len(ready) != 0 {
		t.Errorf("a server that hit a fatal error logged %v; want no \"Server is ready\"", ready)
	}
	if debug := rec.find(func(r record) bool { return r.level < slog.LevelInfo }); len(debug) != 0 {
		t.Errorf("records below Info from an Info handler: got %v, want none", debug)
	}
}

// record is one log record seen by recorder.
type record struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

// recorder is a slog.Handler that keeps every record at or above its level.
// Handlers derived by WithAttrs add their attributes and store in the root.
type recorder struct {
	level slog.Level
	with  []slog.Attr
	root  *recorder

	mu   sync.Mutex // root only
	recs []record   // root only
}

func newRecorder(level slog.Level) *recorder { return &recorder{level: level} }

func (h *recorder) base() *recorder {
	if h.root != nil {
		return h.root
	}
	return h
}

func (h *recorder) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *recorder) Handle(_ context.Context, r slog.Record) error {
	attrs := map[string]string{}
	for _, a := range h.with {
		attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		attrs[a.Key] = a.Value.String()
		return true
	})
	b := h.base()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.recs = append(b.recs, record{level: r.Level, msg: r.Message, attrs: attrs})
	return nil
}

func (h *recorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &recorder{level: h.level, root: h.base(), with: append(slices.Clip(h.with), as...)}
}

func (h *recorder) WithGroup(string) slog.Handler { return h }

func (h *recorder) all() []record {
	b := h.base()
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.recs)
}

func (h *recorder) find(match func(record) bool) []record {
	var out []record
	for _, r := range h.all() {
		if match(r) {
			out = append(out, r)
		}
	}
	return out
}

func TestStoreDirInUse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := start(t, embedded.WithStoreDir(dir))

	second, err := embedded.Start(t.Context(), embedded.WithStoreDir(dir))
	if err == nil {
		second.Shutdown()
		t.Fatal("second Start on a store dir in use: got nil error")
	}
	if !strings.Contains(err.Error(), "in use") {
		t.Errorf("second Start: got %q, want an error saying the dir is in use", err)
	}

	first.Shutdown()
	start(t, embedded.WithStoreDir(dir)) // free again after Shutdown
}

func TestPortTakenFailsBeforeReady(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.Listen: %v", err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	rec := newRecorder(slog.LevelInfo)

	_, err = embedded.Start(t.Context(), embedded.WithListen(ln.Addr().String()), embedded.WithStoreDir(t.TempDir()), embedded.WithLogger(slog.New(rec)))
	if err == nil {
		t.Fatal("Start on a port in use: got nil error")
	}
	if want := "client port " + port; !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "taken") {
		t.Errorf("Start on a port in use: got %q, want it to say the %s is taken", err, want)
	}
	if ready := rec.find(func(r record) bool { return r.msg == "Server is ready" }); len(ready) != 0 {
		t.Errorf("a server that could not listen logged %v; want no \"Server is ready\"", ready)
	}
}

func TestStoreDirKeepsServerName(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var names []string
	for range 2 {
		srv, err := embedded.Start(t.Context(), embedded.WithStoreDir(dir))
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, srv.Name())
		srv.Shutdown()
	}
	if names[0] != names[1] || !strings.HasPrefix(names[0], "jetq-embedded-") {
		t.Errorf("server names on two starts with one store dir: %q; want one jetq-embedded-… name", names)
	}
	b, err := os.ReadFile(filepath.Join(dir, "jetq.server_name"))
	if err != nil || strings.TrimSpace(string(b)) != names[0] {
		t.Errorf("jetq.server_name: %q, %v; want %q", b, err, names[0])
	}

	// An explicit name wins and leaves the kept one alone; another store
	// dir gets another name.
	srv, err := embedded.Start(t.Context(), embedded.WithStoreDir(dir), embedded.WithServerName("n1"))
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.Name(); got != "n1" {
		t.Errorf("WithServerName(n1): name %q", got)
	}
	srv.Shutdown()
	srv, err = embedded.Start(t.Context(), embedded.WithStoreDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	if got := srv.Name(); got == names[0] {
		t.Errorf("another store dir got the same name %q", got)
	}
}
