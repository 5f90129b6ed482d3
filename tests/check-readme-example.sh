#!/bin/bash
# The README's library example, run as an embedder would: one guest applied through the
# session to the mock backend's file, verified, released. The target file holds the
# recorded PU afterwards, and the state holds no guest.
set -euo pipefail
example=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

export TOPOMAP_PLUGIN_PATH=$TOPOMAP_MOCK_PLUGIN_DIR
: >"$tmp/target"
out=$("$example" "$tmp/state.json" mock "file=$tmp/target") || fail "the example failed: $out"
echo "$out"
pu=$(sed -n 's/^db: vcpu 0 on PU \([0-9]*\), memory on node.*/\1/p' <<<"$out")
[ -n "$pu" ] || fail "no placement printed"
[ "$(cat "$tmp/target")" = "$pu" ] || fail "the target holds '$(cat "$tmp/target")', not PU $pu"
grep -q '^db: in force; 1 guest(s) recorded$' <<<"$out" || fail "not verified in force"
python3 -c 'import json,sys; sys.exit(len(json.load(open(sys.argv[1]))["guests"]) != 0)' "$tmp/state.json" ||
	fail "the state still holds a guest: $(cat "$tmp/state.json")"
# A failure gives its step: a backend that is not there is the caller's input.
if err=$("$example" "$tmp/state.json" nosuch 2>&1); then fail "an unknown backend was accepted"; fi
grep -q '(step: input)' <<<"$err" || fail "no step in '$err'"
echo "1 passed, 0 failed"
