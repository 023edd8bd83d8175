package main

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// versionProbeTimeout bounds the wait for a server to report its version:
// jetq --version must answer quickly whether or not one runs.
const versionProbeTimeout = 2 * time.Second

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the versions of jetq and of the server, if one is reachable",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return g.printVersion(cmd.Context()) },
	}
}

// versionInfo is what jetq --version reports.
type versionInfo struct {
	Version   string    `json:"version"`
	Revision  string    `json:"revision,omitempty"`
	Time      time.Time `json:"revision_time,omitzero"`
	Modified  bool      `json:"modified,omitempty"`
	Go        string    `json:"go"`
	Server    string    `json:"server_version,omitempty"`
	ServerURL string    `json:"server_url"`
	ServerErr string    `json:"server_error,omitempty"`
}

// develVersion is the module version of a build that is not a released
// module: go run, go build or go install in a checkout.
const develVersion = "(devel)"

// noVCSHint says how to get a version into a build that has none.
const noVCSHint = "built without VCS information: install from a git checkout with go install -buildvcs=true ./cmd/jetq"

// buildVersion reads the module version and VCS stamp jetq was built with.
func buildVersion() versionInfo {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return versionInfo{Version: develVersion}
	}
	return versionOf(bi)
}

// versionOf is the version of the build bi describes. A build from a
// checkout that the go command did not give a pseudo-version (go run,
// older toolchains) is named from its VCS stamp as the go command names
// it: v0.0.0-<commit time>-<revision>, +dirty for uncommitted changes.
func versionOf(bi *debug.BuildInfo) versionInfo {
	v := versionInfo{Version: bi.Main.Version, Go: bi.GoVersion}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time, _ = time.Parse(time.RFC3339, s.Value)
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	// A real module version (a release, or a pseudo-version the go command
	// stamped) says more than the VCS keys; without a revision there is
	// nothing to name the build from.
	if v.Version != "" && v.Version != develVersion || v.Revision == "" {
		if v.Version == "" {
			v.Version = develVersion
		}
		return v
	}
	rev := v.Revision
	if len(rev) > 12 {
		rev = rev[:12] // as the go command shortens it in pseudo-versions
	}
	v.Version = "v0.0.0-" + rev
	if !v.Time.IsZero() {
		v.Version = "v0.0.0-" + v.Time.UTC().Format("20060102150405") + "-" + rev
	}
	if v.Modified {
		v.Version += "+dirty"
	}
	return v
}

func (g *globals) printVersion(context.Context) error {
	v := buildVersion()
	// The server is asked for its version only in passing: --version
	// prints jetq's whether or not a server answers, and says why not.
	s, err := g.settings()
	if err == nil {
		v.ServerURL = redactURLs(s.url)
		timeout := min(g.timeout, versionProbeTimeout)
		nc, derr := s.dial(timeout)
		if derr == nil {
			v.Server = nc.ConnectedServerVersion()
			v.ServerURL = nc.ConnectedUrlRedacted()
			nc.Close()
		}
		err = derr
	}
	if err != nil {
		v.ServerErr = err.Error()
	}
	if g.json {
		return g.printJSON(v)
	}
	line := "jetq " + v.Version
	var extra []string
	if v.Revision != "" {
		rev := v.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if v.Modified {
			rev += ", modified"
		}
		extra = append(extra, "revision "+rev)
	}
	if !v.Time.IsZero() {
		extra = append(extra, "committed "+formatTime(v.Time))
	}
	if v.Go != "" {
		extra = append(extra, v.Go)
	}
	if v.Version == develVersion && v.Revision == "" {
		extra = append(extra, noVCSHint)
	}
	if len(extra) > 0 {
		line += " (" + strings.Join(extra, ", ") + ")"
	}
	fmt.Fprintln(g.stdout, line)
	if v.Server != "" {
		fmt.Fprintf(g.stdout, "server %s at %s\n", v.Server, v.ServerURL)
	} else if v.ServerURL != "" {
		fmt.Fprintf(g.stdout, "server: not reachable at %s\n", v.ServerURL)
	} else {
		fmt.Fprintf(g.stdout, "server: unknown (%s)\n", v.ServerErr)
	}
	return nil
}
