package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"golang.org/x/crypto/bcrypt"
)

// jetqBinary is the built jetq binary, as an operator runs it.
type jetqBinary struct {
	t    *testing.T
	path string
}

func buildJetq(t *testing.T) *jetqBinary {
	t.Helper()
	path := filepath.Join(t.TempDir(), "jetq")
	if out, err := exec.Command("go", "build", "-o", path, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return &jetqBinary{t: t, path: path}
}

// run runs the binary to completion and returns its exit code and output.
func (b *jetqBinary) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.path, args...)
	var out, errb syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String(), errb.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String(), errb.String()
	default:
		t.Fatalf("jetq %v: %v", args, err)
		return -1, "", ""
	}
}

// runningServer is a `jetq server` process.
type runningServer struct {
	url, monitor string
	stderr       *syncBuffer
}

// server starts `jetq server --listen 127.0.0.1:0 args…` and waits until it
// is ready; it is stopped with SIGTERM when t ends.
func (b *jetqBinary) server(t *testing.T, args ...string) *runningServer {
	t.Helper()
	cmd := exec.Command(b.path, append([]string{"server", "--listen", "127.0.0.1:0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	rs := &runningServer{stderr: &syncBuffer{}}
	cmd.Stderr = rs.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if u, ok := strings.CutPrefix(line, "jetq server monitoring: "); ok {
				rs.monitor = strings.TrimSuffix(u, "/varz")
			}
			if u, ok := strings.CutPrefix(line, "jetq server ready: "); ok {
				rs.url = strings.Fields(u)[0]
				close(ready)
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("jetq server exited: %v\n%s", err, rs.stderr)
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("jetq server did not stop on SIGTERM")
		}
	})
	select {
	case <-ready:
	case err := <-exited:
		t.Fatalf("jetq server %v exited before ready: %v\n%s", args, err, rs.stderr)
	case <-time.After(15 * time.Second):
		t.Fatalf("jetq server %v not ready\n%s", args, rs.stderr)
	}
	return rs
}

// streamNames connects with opts, creates a stream and lists the streams.
func streamNames(t *testing.T, url string, opts ...nats.Option) []string {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "PROBE", Subjects: []string{"probe.>"}}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	var names []string
	lister := js.StreamNames(ctx)
	for n := range lister.Name() {
		names = append(names, n)
	}
	if err := lister.Err(); err != nil {
		t.Fatalf("list streams: %v", err)
	}
	return names
}

func TestServerBinary(t *testing.T) {
	t.Parallel()
	bin := buildJetq(t)

	t.Run("StoreDirLocked", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		first := bin.server(t, "--store-dir", dir)
		code, _, errOut := bin.run(t, "server", "--listen", "127.0.0.1:0", "--store-dir", dir)
		if code == 0 || !strings.Contains(errOut, "in use by another server") || !strings.Contains(errOut, "jetq.lock") {
			t.Errorf("second server on %s: exit %d, stderr %q; want non-zero naming the lock", dir, code, errOut)
		}
		if names := streamNames(t, first.url); len(names) != 1 || names[0] != "PROBE" {
			t.Errorf("first server after the second failed: streams %v", names)
		}
		if code, _, errOut := bin.run(t, "--server", first.url, "queues"); code != 0 {
			t.Errorf("jetq queues against the first server: exit %d: %s", code, errOut)
		}
	})

	t.Run("Auth", func(t *testing.T) {
		t.Parallel()
		hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		kp, err := nkeys.CreateUser()
		if err != nil {
			t.Fatal(err)
		}
		pub, _ := kp.PublicKey()
		srv := bin.server(t, "--store-dir", t.TempDir(), "--auth-user", "app", "--auth-password", string(hash), "--auth-nkey", pub)
		if code, _, errOut := bin.run(t, "--server", srv.url, "queues"); code != exitError || !strings.Contains(strings.ToLower(errOut), "authorization violation") {
			t.Errorf("client without credentials: exit %d, stderr %q; want refused", code, errOut)
		}
		if code, _, errOut := bin.run(t, "--server", srv.url, "--user", "app", "--password", "wrong", "queues"); code != exitError {
			t.Errorf("client with a wrong password: exit %d, stderr %q; want refused", code, errOut)
		}
		if code, _, errOut := bin.run(t, "--server", srv.url, "--user", "app", "--password", "s3cret", "queues"); code != 0 {
			t.Errorf("client with the password: exit %d: %s", code, errOut)
		}
		sign := func(nonce []byte) ([]byte, error) { return kp.Sign(nonce) }
		if names := streamNames(t, srv.url, nats.Nkey(pub, sign)); len(names) != 1 {
			t.Errorf("nkey client: streams %v", names)
		}

		tok := bin.server(t, "--store-dir", t.TempDir(), "--auth-token", "t0ken")
		if code, _, _ := bin.run(t, "--server", tok.url, "queues"); code != exitError {
			t.Errorf("client without the token: exit %d; want refused", code)
		}
		if code, _, errOut := bin.run(t, "--server", tok.url, "--token", "t0ken", "queues"); code != 0 {
			t.Errorf("client with the token: exit %d: %s", code, errOut)
		}
	})

	t.Run("Creds", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		conf, creds := writeOperatorFiles(t, dir)
		srv := bin.server(t, "--config", conf)
		if code, _, errOut := bin.run(t, "--server", srv.url, "queues"); code != exitError || !strings.Contains(strings.ToLower(errOut), "authorization violation") {
			t.Errorf("client without credentials: exit %d, stderr %q; want refused", code, errOut)
		}
		if code, _, errOut := bin.run(t, "--server", srv.url, "--creds", creds, "queues"); code != 0 {
			t.Errorf("client with the creds file: exit %d: %s", code, errOut)
		}
	})

	t.Run("TLS", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		ca, cert, key := writeTLSFiles(t, dir)
		srv := bin.server(t, "--store-dir", filepath.Join(dir, "store"), "--server-tlscert", cert, "--server-tlskey", key)
		for _, flag := range []string{"--tlsca", "--tls-ca"} { // the nats CLI's spelling, and the older one
			if code, _, errOut := bin.run(t, "--server", srv.url, flag, ca, "queues"); code != 0 {
				t.Errorf("client with %s: exit %d: %s", flag, code, errOut)
			}
		}
		if code, _, _ := bin.run(t, "--server", srv.url, "--timeout", "3s", "queues"); code == 0 {
			t.Errorf("client without the CA reached a server with a self-signed certificate")
		}
	})

	t.Run("Monitoring", func(t *testing.T) {
		t.Parallel()
		srv := bin.server(t, "--store-dir", t.TempDir(), "--http", "127.0.0.1:0", "--sync", "always", "--name", "mon")
		if srv.monitor == "" {
			t.Fatal("no monitoring URL printed")
		}
		var varz struct {
			ServerName string `json:"server_name"`
			JetStream  struct {
				Config struct {
					SyncAlways bool `json:"sync_always"`
				} `json:"config"`
			} `json:"jetstream"`
		}
		getJSON(t, srv.monitor+"/varz", &varz)
		if varz.ServerName != "mon" || !varz.JetStream.Config.SyncAlways {
			t.Errorf("/varz: %+v; want server mon with sync_always", varz)
		}
		var jsz map[string]any
		getJSON(t, srv.monitor+"/jsz", &jsz)
		if _, ok := jsz["config"]; !ok {
			t.Errorf("/jsz without config: %v", jsz)
		}
	})

	t.Run("ClientFlagsRefused", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			args    []string
			mention string
		}{
			{[]string{"server", "--store-dir", t.TempDir(), "--user", "x"}, "--auth-user"},
			{[]string{"--server", "nats://127.0.0.1:4222", "server", "--store-dir", t.TempDir()}, "--listen"},
			{[]string{"server", "--store-dir", t.TempDir(), "--tls-cert", "c.pem"}, "--server-tlscert"},
			{[]string{"server", "--store-dir", t.TempDir(), "--sync", "sometimes"}, "--sync"},
			{[]string{"server", "--store-dir", t.TempDir(), "--auth-user", "x"}, "--auth-password"},
			{[]string{"server", "--store-dir", t.TempDir(), "--auth-nkey", "SUAB"}, "public user nkey"},
		} {
			code, _, errOut := bin.run(t, tc.args...)
			if code != exitUsage || !strings.Contains(errOut, tc.mention) {
				t.Errorf("jetq %v: exit %d, stderr %q; want exit 2 mentioning %s", tc.args, code, errOut, tc.mention)
			}
		}
	})
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// writeOperatorFiles writes a nats-server configuration in operator (JWT)
// mode into dir — an operator, a system account and an application account
// with unlimited JetStream, preloaded into a memory resolver, and a JetStream
// store below dir — and a credentials file of a user of the application
// account, returning the two file names.
func writeOperatorFiles(t *testing.T, dir string) (confFile, credsFile string) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	okp, err := nkeys.CreateOperator()
	must(err)
	opub, _ := okp.PublicKey()
	oc := jwt.NewOperatorClaims(opub)
	oc.Name = "jetq-test"

	account := func(name string, js bool) (string, string, nkeys.KeyPair) {
		kp, err := nkeys.CreateAccount()
		must(err)
		pub, _ := kp.PublicKey()
		ac := jwt.NewAccountClaims(pub)
		ac.Name = name
		if js {
			ac.Limits.JetStreamLimits = jwt.JetStreamLimits{
				MemoryStorage: jwt.NoLimit, DiskStorage: jwt.NoLimit,
				Streams: jwt.NoLimit, Consumer: jwt.NoLimit,
			}
		}
		tok, err := ac.Encode(okp)
		must(err)
		return pub, tok, kp
	}
	sysPub, sysJWT, _ := account("SYS", false)
	appPub, appJWT, appKP := account("APP", true)
	oc.SystemAccount = sysPub
	opJWT, err := oc.Encode(okp)
	must(err)

	ukp, err := nkeys.CreateUser()
	must(err)
	upub, _ := ukp.PublicKey()
	uc := jwt.NewUserClaims(upub)
	uc.Name = "app"
	uc.IssuerAccount = appPub
	userJWT, err := uc.Encode(appKP)
	must(err)
	seed, _ := ukp.Seed()
	creds, err := jwt.FormatUserConfig(userJWT, seed)
	must(err)

	credsFile = filepath.Join(dir, "app.creds")
	must(os.WriteFile(credsFile, creds, 0o600))
	conf := "listen: 127.0.0.1:-1\n" +
		"operator: " + opJWT + "\n" +
		"system_account: " + sysPub + "\n" +
		"resolver: MEMORY\n" +
		"resolver_preload: {\n  " + sysPub + ": " + sysJWT + "\n  " + appPub + ": " + appJWT + "\n}\n" +
		"jetstream: { store_dir: " + strconv.Quote(filepath.Join(dir, "store")) + " }\n"
	confFile = filepath.Join(dir, "operator.conf")
	must(os.WriteFile(confFile, []byte(conf), 0o600))
	return confFile, credsFile
}

// writeTLSFiles writes a self-signed CA and a server certificate for
// 127.0.0.1 signed by it into dir, returning the three PEM file names.
func writeTLSFiles(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "jetq test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	write := func(name, typ string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("server.pem", "CERTIFICATE", der), write("server-key.pem", "PRIVATE KEY", keyDER)
}
