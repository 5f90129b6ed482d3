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

# stopped and release: release, once each; a failing release does not fail the hook.
run_hook 'db 1' stopped end -
wait_calls 2
expect_call call1 release 'db 1'
FAKE_EXIT=2 run_hook 'db 1' release end -
wait_calls 3
expect_call call2 release 'db 1'

# Every other operation: nothing.
for op in prepare start migrate restore reconnect attach; do
	run_hook web "$op" begin -
done
sleep 0.3
[ "$(calls)" -eq 3 ] || fail "topomap ran for another operation"

# Without a domain: usage, and an error.
if "$hook" >/dev/null 2>&1; then
	fail "the hook accepted no arguments"
fi

grep -q 'fake topomap: apply --backend=libvirt --domain db 1 --live' "$tmp/hook.log" ||
	fail "apply's output is not in the log"

# A log directory that is missing is made: the release runs and its output is logged.
TOPOMAP_HOOK_LOG=$tmp/missing/dir/hook.log run_hook 'db 1' release end -
wait_calls 4
expect_call call3 release 'db 1'
grep -q "fake topomap: release db 1" "$tmp/missing/dir/hook.log" ||
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
TOPOMAP_HOOK_LOG=$tmp/file/hook.log run_hook 'db 1' release end -
wait_calls 5
expect_call call4 release 'db 1'
grep -q "fake topomap: release db 1" "$tmp/syslog" || fail "the release's output is not in syslog"
TOPOMAP_HOOK_LOG=$tmp/file/hook.log run_hook 'db 1' started begin -
wait_calls 6
expect_call call5 apply --backend=libvirt --domain 'db 1' --live
i=0
until grep -q "topomap apply exited with 0" "$tmp/syslog"; do
	i=$((i + 1))
	[ $i -le 100 ] || fail "apply's output is not in syslog"
	sleep 0.1
done
echo "libvirt hook: ok"
