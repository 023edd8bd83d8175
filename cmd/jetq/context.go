package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// natsContext is a context file of the nats CLI, such as
// ~/.config/nats/context/prod.json, with the fields jetq reads.
//
// It is read here rather than with github.com/nats-io/jsm.go/natscontext,
// the nats CLI's own reader. That module (v0.5.1) raises
// github.com/antithesishq/antithesis-sdk-go from the v0.8.0-default-no-op
// that nats-server pins to v0.8.0, whose assertions are on unless a build
// says -tags no_antithesis_sdk: every program that depends on jetq, and
// the embedded nats-server in it, would get them. It would also add four
// modules and 2.4 MB (6.5%) to this binary.
type natsContext struct {
	name, path string

	Description string `json:"description"`
	URL         string `json:"url"`
	User        string `json:"user"`
	Password    string `json:"password"`
	Token       string `json:"token"`
	Creds       string `json:"creds"`
	NKey        string `json:"nkey"`
	Cert        string `json:"cert"`
	Key         string `json:"key"`
	CA          string `json:"ca"`
	TLSFirst    bool   `json:"tls_first"`
	InboxPrefix string `json:"inbox_prefix"`
	JSDomain    string `json:"jetstream_domain"`
	JSAPIPrefix string `json:"jetstream_api_prefix"`

	// Read only to refuse them: jetq cannot honour these.
	NSC        string `json:"nsc"`
	UserJWT    string `json:"user_jwt"`
	SocksProxy string `json:"socks_proxy"`
}

// natsConfigDir is where the nats CLI keeps its configuration:
// $XDG_CONFIG_HOME/nats, or ~/.config/nats.
func natsConfigDir(getenv func(string) string) (string, error) {
	if d := getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "nats"), nil
	}
	// HOME through getenv first, so that the environment the command
	// was given decides, as in the tests, before the process's own.
	home := getenv("HOME")
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return "", fmt.Errorf("cannot find the nats contexts: %w", err)
		}
	}
	return filepath.Join(home, ".config", "nats"), nil
}

// validContextName refuses names that would leave the context directory.
func validContextName(name string) bool {
	return name != "" && !strings.Contains(name, "..") && !strings.ContainsAny(name, `/\`)
}

// loadContext reads the context called name, or, when name is empty, the
// one the nats CLI has selected (nats/context.txt). A named context must
// exist; without a name, no selection or a selected context whose file is
// gone means no context, and loadContext returns nil.
func loadContext(name string, getenv func(string) string) (*natsContext, error) {
	dir, err := natsConfigDir(getenv)
	if err != nil {
		if name == "" {
			return nil, nil // no home, nothing selected: connect without a context
		}
		return nil, err
	}
	explicit := name != ""
	if !explicit {
		b, err := os.ReadFile(filepath.Join(dir, "context.txt"))
		if err != nil {
			return nil, nil // most machines have never selected one
		}
		if name = strings.TrimSpace(string(b)); name == "" {
			return nil, nil
		}
	}
	if !validContextName(name) {
		return nil, usagef("invalid context name %q", name)
	}
	path := filepath.Join(dir, "context", name+".json")
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		// A selection left behind by a deleted context must not stop
		// every command; one asked for by name must exist.
		return nil, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, usagef("unknown context %q: no file %s (create it with 'nats context add %s')", name, path, name)
	case err != nil:
		return nil, fmt.Errorf("context %q: %w", name, err)
	}
	c := &natsContext{name: name, path: path}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("context %q: %s: %w", name, path, err)
	}
	switch {
	case c.NSC != "":
		return nil, fmt.Errorf("context %q: nsc lookups (%q) are not supported by jetq; give the credentials file with \"creds\" instead", name, c.NSC)
	case c.UserJWT != "":
		return nil, fmt.Errorf("context %q: \"user_jwt\" is not supported by jetq; give a credentials file with \"creds\" instead", name)
	case c.SocksProxy != "":
		return nil, fmt.Errorf("context %q: \"socks_proxy\" is not supported by jetq", name)
	}
	home := getenv("HOME")
	for _, p := range []*string{&c.Creds, &c.NKey, &c.Cert, &c.Key, &c.CA} {
		*p = expandHome(*p, home)
	}
	return c, nil
}

// expandHome replaces a leading ~/ with the home directory, as the nats CLI
// does for the files a context names.
func expandHome(p, home string) string {
	if home == "" || (p != "~" && !strings.HasPrefix(p, "~/")) {
		return p
	}
	return filepath.Join(home, strings.TrimPrefix(p, "~"))
}
