#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The libvirt hook's argument plumbing: run contrib/libvirt-hook-qemu as libvirt does, with a
# fake 'topomap' first in PATH that records its arguments, one per line, one file per call.
#
# Usage: check-libvirt-hook.sh HOOK
set -eu

hook=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bin" "$tmp/calls"

cat >"$tmp/bin/topomap" <<'FAKE'
#!/bin/sh
# Sleep first when asked, to show the hook does not wait for 'apply'; write the record
# under a temporary name and rename it, so a reader never sees half of it.
[ -n "${FAKE_SLEEP:-}" ] && sleep "$FAKE_SLEEP"
n=0
while [ -e "$FAKE_CALLS/call$n" ]; do n=$((n + 1)); done
printf '%s\n' "$@" >"$FAKE_CALLS/.tmp.$$"
mv "$FAKE_CALLS/.tmp.$$" "$FAKE_CALLS/call$n"
echo "fake topomap: $*"
# xml-filter reads the domain XML the hook got on stdin; a refusal is one line on stderr.
[ "$1" = xml-filter ] && sed 's/^/filtered: /'
[ -n "${FAKE_STDERR:-}" ] && echo "$FAKE_STDERR" >&2
exit "${FAKE_EXIT:-0}"
FAKE
chmod +x "$tmp/bin/topomap"

PATH=$tmp/bin:$PATH
FAKE_CALLS=$tmp/calls
TOPOMAP_HOOK_LOG=$tmp/hook.log
export PATH FAKE_CALLS TOPOMAP_HOOK_LOG
unset TOPOMAP

fail() {
	echo "FAIL: $*" >&2
	[ -f "$tmp/hook.log" ] && sed 's/^/  log: /' "$tmp/hook.log" >&2
	exit 1
}

# calls: how many calls of topomap are recorded
calls() {
	set -- "$tmp"/calls/call*
	if [ -e "$1" ]; then echo $#; else echo 0; fi
}

# wait_calls N: until N calls are recorded (10 s at most)
wait_calls() {
	i=0
	while [ "$(calls)" -lt "$1" ]; do
		i=$((i + 1))
		[ $i -le 100 ] || fail "expected $1 call(s) of topomap, got $(calls)"
		sleep 0.1
	done
}

# expect_call FILE ARG...: the call recorded in FILE had exactly these arguments
expect_call() {
	file=$1
	shift
	printf '%s\n' "$@" >"$tmp/expected"
	cmp -s "$tmp/expected" "$tmp/calls/$file" ||
		fail "$file: expected '$*', got '$(tr '\n' ' ' <"$tmp/calls/$file")'"
}

run_hook() {
	echo "<domain type='kvm'><name>$1</name></domain>" | "$hook" "$@" ||
		fail "hook $* exited with $?"
}

# started: apply, detached, so the hook returns before topomap has even run.
FAKE_SLEEP=1 run_hook 'db 1' started begin -
[ "$(calls)" -eq 0 ] || fail "the hook waited for topomap apply"
wait_calls 1
expect_call call0 apply --backend=libvirt --domain 'db 1' --live

# started with its output on pipes, as libvirt runs it: the hook's pipes close when it
# exits, not when the detached apply does (libvirt reads them to their end, holding the
# domain, and the apply waits for the domain).
n=$(calls)
start=$(date +%s)
echo "<domain/>" | FAKE_SLEEP=3 "$hook" 'db 1' started begin - 2>&1 | cat >/dev/null
[ $(($(date +%s) - start)) -lt 2 ] || fail "the hook's output stayed open until the apply ended"
wait_calls $((n + 1))
rm -f "$tmp/calls/call$n"

# stopped and release: release --no-follow (a hook must not call back into libvirt, which
# the shared domains following the pool would), once each; a failing release does not fail
# the hook.
run_hook 'db 1' stopped end -
wait_calls 2
expect_call call1 release --no-follow 'db 1'
FAKE_EXIT=2 run_hook 'db 1' release end -
wait_calls 3
expect_call call2 release --no-follow 'db 1'

# Every other operation and phase: nothing.
for op in start reconnect attach "prepare end" "migrate end" "restore end"; do
	# shellcheck disable=SC2086 # operation and phase, split on purpose
	run_hook web $op -
done
sleep 0.3
[ "$(calls)" -eq 3 ] || fail "topomap ran for another operation"

# prepare begin: xml-filter with the domain XML on stdin, its output dropped (libvirt takes
# none from prepare).
out=$(run_hook web prepare begin -)
wait_calls 4
expect_call call3 xml-filter
[ -z "$out" ] || fail "prepare printed '$out'"
# A domain that does not fit: the hook fails, with topomap's line on stderr for libvirt's
# error, and nothing on stdout.
if out=$(echo "<domain><name>big</name></domain>" |
	FAKE_EXIT=3 FAKE_STDERR="topomap: big: needs 64 free PUs" "$hook" big prepare begin - 2>"$tmp/err"); then
	fail "a refused prepare did not fail the hook"
fi
wait_calls 5
[ -z "$out" ] || fail "a refused prepare printed '$out'"
grep -qx "topomap: big: needs 64 free PUs" "$tmp/err" || fail "the refusal is not on stderr: '$(cat "$tmp/err")'"
grep -q "big prepare: refused: topomap: big: needs 64 free PUs" "$tmp/hook.log" ||
	fail "the refusal is not in the log"
# migrate begin and restore begin: xml-filter --dry-run (prepare begin records), and what it
# prints is the hook's output.
for op in migrate restore; do
	n=$(calls)
	out=$(run_hook web "$op" begin -)
	wait_calls $((n + 1))
	expect_call "call$n" xml-filter --dry-run
	[ "$out" = "fake topomap: xml-filter --dry-run
filtered: <domain type='kvm'><name>web</name></domain>" ] || fail "$op begin printed '$out'"
done
if FAKE_EXIT=3 FAKE_STDERR="topomap: no room" "$hook" web restore begin - </dev/null 2>"$tmp/err" >/dev/null; then
	fail "a refused restore did not fail the hook"
fi
grep -qx "topomap: no room" "$tmp/err" || fail "the restore's refusal is not on stderr"

# Without a domain: usage, and an error.
if "$hook" >/dev/null 2>&1; then
	fail "the hook accepted no arguments"
fi

grep -q 'fake topomap: apply --backend=libvirt --domain db 1 --live' "$tmp/hook.log" ||
	fail "apply's output is not in the log"

# A log directory that is missing is made: the release runs and its output is logged.
n=$(calls)
TOPOMAP_HOOK_LOG=$tmp/missing/dir/hook.log run_hook 'db 1' release end -
wait_calls $((n + 1))
expect_call "call$n" release --no-follow 'db 1'
grep -q "fake topomap: release --no-follow db 1" "$tmp/missing/dir/hook.log" ||
	fail "the release's output is not in the log made in a missing directory"

# A log that cannot be made (its directory would be under a file): the release still runs,
# and its output goes to syslog (a fake logger here), then apply too.
cat >"$tmp/bin/logger" <<'FAKE'
#!/bin/sh
[ "$1" = -t ] && [ "$2" = topomap-hook ] || exit 64
cat >>"$FAKE_SYSLOG"
FAKE
chmod +x "$tmp/bin/logger"
: >"$tmp/file"
FAKE_SYSLOG=$tmp/syslog
export FAKE_SYSLOG
n=$(calls)
TOPOMAP_HOOK_LOG=$tmp/file/hook.log run_hook 'db 1' release end -
wait_calls $((n + 1))
expect_call "call$n" release --no-follow 'db 1'
grep -q "fake topomap: release --no-follow db 1" "$tmp/syslog" || fail "the release's output is not in syslog"
n=$(calls)
TOPOMAP_HOOK_LOG=$tmp/file/hook.log run_hook 'db 1' started begin -
wait_calls $((n + 1))
expect_call "call$n" apply --backend=libvirt --domain 'db 1' --live
i=0
until grep -q "topomap apply exited with 0" "$tmp/syslog"; do
	i=$((i + 1))
	[ $i -le 100 ] || fail "apply's output is not in syslog"
	sleep 0.1
done
echo "libvirt hook: ok"
