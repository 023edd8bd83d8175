#!/usr/bin/env bash
# The README's test command. It sets up what the tests need besides Go, says
# what it set up, runs the whole suite with the race detector, then each fuzz
# target for a short while.
#
#   nats-server (the version in go.mod, and v2.11.9, the oldest jetq runs on):
#     go install into $(go env GOPATH)/nats-server-<version>/nats-server,
#     where the tests look for them; PATH is neither read nor changed.
#   chromium (the dashboard's browser tests): $JETQ_CHROMIUM when set, else
#     Debian's chromium, installed with apt-get when missing (as root, or
#     through sudo). Without either, it stops and says how to install one.
#
# ./test.sh                      everything
# ./test.sh -run TestX ./pkg/    set up, then go test -race with these arguments
# JETQ_FUZZTIME=30s ./test.sh    run each fuzz target 30s (default 10s; 0 skips)
set -euo pipefail
cd "$(dirname "$0")"

old_server=v2.11.9 # internal/testkit.OldServerVersion
fuzztime=${JETQ_FUZZTIME:-10s}
# package and name of each fuzz target
fuzz_targets=(
  "./internal/wire FuzzReadRoute"
  "./internal/wire FuzzDeadLetter"
  "./internal/wire FuzzParseFailure"
  "./internal/wire FuzzDecodeOriginal"
  "./internal/wire FuzzPeriodicTick"
  "./dlq FuzzEntryOf"
  "./cmd/jetq FuzzParseDuration"
  "./cmd/jetq FuzzFilterFlags"
)

say() { echo "test.sh: $*"; }
die() { echo "test.sh: $*" >&2; exit 1; }
# runnable prints the path of command $1 if it can be run: bash's command -v
# also names a file it cannot run.
runnable() { local p; p=$(command -v "$1") && [ -x "$p" ] && echo "$p"; }

# chromium first: without root it cannot be installed here, and says so at once.
find_chromium() {
  if [ -n "${JETQ_CHROMIUM:-}" ]; then
    [ -x "$JETQ_CHROMIUM" ] || die "JETQ_CHROMIUM=$JETQ_CHROMIUM is not an executable file"
    echo "$JETQ_CHROMIUM"
  elif runnable chromium; then :
  elif [ -x /usr/bin/chromium ]; then echo /usr/bin/chromium
  fi
  return 0
}
chromium=$(find_chromium)
if [ -z "$chromium" ]; then
  howto="install Chromium (Debian: apt-get install -y chromium, as root) or set JETQ_CHROMIUM to a Chromium or Chrome binary, then run ./test.sh again"
  runnable apt-get >/dev/null || die "the dashboard's browser tests need chromium, and this machine has none and no apt-get: $howto"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    sudo -n true 2>/dev/null || die "the dashboard's browser tests need chromium, and installing Debian's needs root: $howto"
    sudo="sudo -n"
  fi
  say "installing Debian's chromium (apt-get install chromium; it goes to /usr/bin/chromium)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
  chromium=$(find_chromium)
  [ -n "$chromium" ] || die "apt-get installed chromium, yet there is none on PATH or at /usr/bin/chromium: $howto"
fi
say "chromium: $chromium ($("$chromium" --version 2>/dev/null || echo 'version unknown'))"

gopath=$(go env GOPATH)
for v in "$(go list -m -f '{{.Version}}' github.com/nats-io/nats-server/v2)" "$old_server"; do
  dir="$gopath/nats-server-$v"
  if [ ! -x "$dir/nats-server" ]; then
    say "installing nats-server $v into $dir (go install)"
    GOBIN="$dir" go install "github.com/nats-io/nats-server/v2@$v"
  fi
  say "nats-server $v: $dir/nats-server"
done

if [ $# -gt 0 ]; then
  say "go test -race $*"
  exec go test -race "$@"
fi

say "go test -race ./..."
go test -race ./...

if [ "$fuzztime" != 0 ]; then
  for t in "${fuzz_targets[@]}"; do
    read -r pkg name <<<"$t"
    say "go test -run '^$' -fuzz '^$name\$' -fuzztime $fuzztime $pkg"
    # Go's fuzzing coordinator can fail a target with a bare "context
    # deadline exceeded" as -fuzztime ends, having found nothing
    # (golang/go#75804, fixed in Go 1.27): such a run, which wrote no
    # failing input, is run again, twice at most. A real finding always
    # writes its input first and fails at once.
    for try in 1 2 3; do
      if out=$(go test -run '^$' -fuzz "^$name\$" -fuzztime "$fuzztime" "$pkg" 2>&1); then
        printf '%s\n' "$out"
        break
      fi
      printf '%s\n' "$out"
      if [ "$try" = 3 ] || ! grep -q 'context deadline exceeded' <<<"$out" || grep -q 'Failing input written to' <<<"$out"; then
        exit 1
      fi
      say "$name: the coordinator's deadline race (golang/go#75804), no input found; running it again"
    done
  done
fi
say "passed"
