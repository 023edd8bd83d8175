package testkit

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
)

// ParseMessage reads a message kept as internal/wire's golden files keep it
// ("subject: <subject>", a "Key: value" line per header, a blank line, the
// body) and decodes its header as the NATS client decodes one off the wire.
// ok is false when b is not such a message or the client would refuse its
// header: the fuzz targets read their inputs with it.
func ParseMessage(b []byte) (subject string, h nats.Header, body []byte, ok bool) {
	head, body, found := bytes.Cut(b, []byte("\n\n"))
	if !found {
		return "", nil, nil, false
	}
	first, lines, _ := strings.Cut(string(head), "\n")
	subject, found = strings.CutPrefix(first, "subject: ")
	if !found {
		return "", nil, nil, false
	}
	wire := "NATS/1.0\r\n"
	if lines != "" {
		wire += strings.ReplaceAll(lines, "\n", "\r\n") + "\r\n"
	}
	h, err := nats.DecodeHeadersMsg([]byte(wire + "\r\n"))
	if err != nil {
		return "", nil, nil, false
	}
	return subject, h, bytes.TrimSuffix(body, []byte("\n")), true
}

// AddGoldenSeeds adds each file of internal/wire/testdata whose name starts
// with prefix to f's seed corpus: the file as the first argument, more as
// the others. dir is the path of internal/wire/testdata from the fuzzed
// package.
func AddGoldenSeeds(f *testing.F, dir, prefix string, more ...any) {
	f.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, prefix+"*.txt"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no golden files %s*.txt in %s: %v", prefix, dir, err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(append([]any{b}, more...)...)
	}
}
