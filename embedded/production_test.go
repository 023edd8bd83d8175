package embedded_test

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jetq/jetq/embedded"
)

func TestStoreDirLocked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	start(t, embedded.WithStoreDir(dir))
	if _, err := os.Stat(filepath.Join(dir, "jetq.lock")); err != nil {
		t.Errorf("no lock file: %v", err)
	}
	_, err := embedded.Start(t.Context(), embedded.WithStoreDir(dir))
	if !errors.Is(err, embedded.ErrStoreDirLocked) {
		t.Fatalf("second Start on %s: %v; want ErrStoreDirLocked", dir, err)
	}
}

func TestAuthOptions(t *testing.T) {
	t.Parallel()
	srv := start(t, embedded.WithUser("app", "s3cret"))
	if nc, err := srv.Connect(); err == nil {
		nc.Close()
		t.Fatal("a client without credentials was admitted")
	}
	_, js := connect(t, srv, nats.UserInfo("app", "s3cret"))
	publishAndConsume(t, js)

	tok := start(t, embedded.WithToken("t0ken"))
	connect(t, tok, nats.Token("t0ken"))

	for _, opts := range [][]embedded.Option{
		{embedded.WithToken("t"), embedded.WithUser("a", "b")},
		{embedded.WithNKeys("SUACSSL3UAHUDXKFSNVUZRF5UHPMWZ6BFDTJ7M6USDXIEDNPPQYYYCU3VY")},
		{embedded.WithUser("", "x")},
		{embedded.WithSyncInterval(0)},
		{embedded.WithMonitoring("nowhere")},
		{embedded.WithTLS("", "", "")},
		{embedded.WithConfigFile(filepath.Join(t.TempDir(), "missing.conf"))},
	} {
		if srv, err := embedded.Start(t.Context(), opts...); !errors.Is(err, embedded.ErrInvalidOption) {
			if err == nil {
				srv.Shutdown()
			}
			t.Errorf("Start(%d options): %v; want ErrInvalidOption", len(opts), err)
		}
	}
}

func TestMonitoringAndSync(t *testing.T) {
	t.Parallel()
	srv := start(t, embedded.WithMonitoring("127.0.0.1:0"))
	if got := srv.NATS().JetStreamConfig().SyncInterval; got != time.Second {
		t.Errorf("default sync interval %s; want 1s", got)
	}
	resp, err := http.Get(srv.MonitorURL() + "/varz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/varz: %s", resp.Status)
	}
	if always := start(t, embedded.WithSyncAlways()); !always.NATS().JetStreamConfig().SyncAlways {
		t.Error("WithSyncAlways: server does not sync always")
	}
}

func TestConfigFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	conf := filepath.Join(dir, "nats.conf")
	store := filepath.Join(dir, "store")
	body := "server_name: fromfile\nlisten: 127.0.0.1:-1\njetstream { store_dir: \"" + store + "\", sync_interval: 30s }\n" +
		"authorization { users: [ { user: app, password: pw } ] }\n"
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := start(t, embedded.WithConfigFile(conf))
	if srv.StoreDir() != store || srv.NATS().Name() != "fromfile" {
		t.Errorf("store dir %q, name %q; want the file's", srv.StoreDir(), srv.NATS().Name())
	}
	if got := srv.NATS().JetStreamConfig().SyncInterval; got != 30*time.Second {
		t.Errorf("sync interval %s; want the file's 30s", got)
	}
	if !strings.HasPrefix(srv.ClientURL(), "nats://127.0.0.1:") {
		t.Errorf("ClientURL %q; want the file's listener", srv.ClientURL())
	}
	nc, err := srv.Connect(nats.UserInfo("app", "pw"))
	if err != nil {
		t.Fatalf("connect as the file's user: %v", err)
	}
	nc.Close()
}
