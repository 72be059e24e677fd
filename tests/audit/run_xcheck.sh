#!/usr/bin/env bash
# Cross-checks the audit log library with Go's golang.org/x/mod/sumdb/{note,tlog} (Debian
# golang-go and golang-golang-x-mod-dev, installed by scripts/install-deps). Everything,
# including Go's build cache, lives in a temporary directory that is removed afterwards.
# Usage: run_xcheck.sh PATH/TO/audit_xcheck
set -euo pipefail
xcheck=$1
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v go >/dev/null; then
  echo "run_xcheck: go is not installed (scripts/install-deps installs golang-go)" >&2
  exit 1
fi
if [ ! -d /usr/share/gocode/src/golang.org/x/mod/sumdb ]; then
  echo "run_xcheck: golang.org/x/mod missing (scripts/install-deps installs golang-golang-x-mod-dev)" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$work/data" "$work/gocache" "$work/tmp"
"$xcheck" gen "$work/data"
cp "$here/xcheck.go" "$work/xcheck.go"
env GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$work/gocache" TMPDIR="$work/tmp" \
    GOFLAGS= GOTOOLCHAIN=local HOME="$work" \
    go run "$work/xcheck.go" "$work/data"
"$xcheck" check "$work/data"
