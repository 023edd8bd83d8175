package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/jetq/jetq/embedded"
)

func main() {
	// An interrupt cancels ctx rather than killing the process, so that
	// jetq server shuts its server down and flushes its store, and a
	// watching command stops between two reads.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// usageError marks errors in how jetq was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// run executes the command line args and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runEnv(ctx, args, os.Getenv, stdout, stderr)
}

// runEnv is run reading the environment through getenv.
func runEnv(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	return runIO(ctx, args, getenv, stdinOf(os.Stdin), stdout, stderr)
}

// runIO is runEnv reading standard input from in.
func runIO(ctx context.Context, args []string, getenv func(string) string, in input, stdout, stderr io.Writer) int {
	root := newRootEnv(in, stdout, stderr, getenv)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	code := exitError
	var ue usageError
	// jetq server hands its flags to embedded's options as they are: an
	// option embedded refuses is a flag given wrong.
	if errors.As(err, &ue) || isCobraUsage(err) || errors.Is(err, embedded.ErrInvalidOption) {
		code = exitUsage
	}
	// A flag error stops cobra before it reaches --json: look in args too.
	if asJSON, _ := root.PersistentFlags().GetBool("json"); asJSON || jsonFlagIn(args) {
		// Errors go to stderr as under tables, so that stdout holds only
		// the result a script reads.
		b, _ := json.Marshal(errorJSON{Error: err.Error(), Code: code})
		fmt.Fprintf(stderr, "%s\n", b)
		return code
	}
	fmt.Fprintln(stderr, "jetq:", err)
	if code == exitUsage {
		fmt.Fprintln(stderr, "Run 'jetq --help' for usage.")
	}
	return code
}

// errorJSON is how an error is printed under --json.
type errorJSON struct {
	Error string `json:"error"`
	Code  int    `json:"code"`
}

// jsonFlagIn finds --json in args that cobra could not parse.
func jsonFlagIn(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false // what follows are arguments, even "--json"
		}
		if a == "--json" {
			return true
		}
		if v, ok := strings.CutPrefix(a, "--json="); ok {
			b, err := strconv.ParseBool(v)
			return err == nil && b
		}
	}
	return false
}
