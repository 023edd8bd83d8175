package readme

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// snippetRE finds the Go code blocks of a Markdown file.
var snippetRE = regexp.MustCompile("(?s)```go\n(.*?)```")

// prelude turns a README snippet into a program: the imports it uses and the
// helpers it leaves to the reader.
const prelude = `package main

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetq/jetq/consumer"
	"github.com/jetq/jetq/embedded"
	"github.com/jetq/jetq/producer"
	"github.com/jetq/jetq/tasks"
)

var (
	_ = context.Background
	_ = jetstream.New
	_ = consumer.New
	_ = embedded.Start
	_ = producer.New
	_ = tasks.NewRegistry
)

func smtpSend(ctx context.Context, to, body string) error { return nil }

`

func TestREADMESnippetsCompile(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := snippetRE.FindAllSubmatch(readme, -1)
	if len(blocks) == 0 {
		t.Fatal("README.md has no Go snippet")
	}
	for i, b := range blocks {
		src := string(b[1])
		if !strings.Contains(src, "func main()") {
			continue // a fragment, not a program
		}
		dir := t.TempDir()
		file := filepath.Join(dir, "main.go")
		if err := os.WriteFile(file, []byte(prelude+src), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("go", "vet", file)
		cmd.Dir = "../.."
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("README snippet %d does not compile: %v\n%s", i+1, err, out)
		}
	}
}
