#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A live migration between two private libvirtd instances on this machine, each with the libvirt
# hook (contrib/libvirt-hook-qemu) and a state file of its own, as two hosts would have:
#   - the destination's state holds mg-b on the PU where the source runs mg-a;
#   - mg-a migrates source -> destination (virsh migrate --live, direct, over 127.0.0.1);
#   - on the destination, mg-a's vcpu 0 is pinned (virsh vcpupin, the vcpu thread's
#     Cpus_allowed_list in /proc) to a PU that was free in the destination's state, which
#     records it there; the source's state no longer holds mg-a;
#   - a migration to a destination without room is refused with topomap's message; one that
#     libvirt refuses after the hook ran leaves nothing recorded on the destination.
#
# Each daemon runs in a mount namespace of its own, inside the test's, with a tmpfs of its own
# over /etc/libvirt, /run/libvirt, /var/lib/libvirt and /var/log/libvirt: the hook, the
# domains' files and `topomap apply`'s connection (qemu:///system, run by the hook) are each
# daemon's. The test reaches both by their sockets (qemu+unix:///system?socket=...), which a
# path in the test's namespace names. Each has its own host_uuid: libvirt refuses a migration
# to the host it comes from.
#
# Usage: check-migrate-libvirtd.sh TOPOMAP HOOK    (as root; exit 77 = skipped)
set -euo pipefail

topomap=$1
hook=$2
LIBVIRTD=/usr/sbin/libvirtd
QEMU=/usr/bin/qemu-system-x86_64

if [ "$(id -u)" != 0 ]; then echo "SKIP: not root"; exit 77; fi
for p in "$LIBVIRTD" "$QEMU" /usr/bin/virsh /usr/bin/unshare; do
	[ -x "$p" ] || { echo "SKIP: $p is not installed"; exit 77; }
done
# mg-b holds one PU on the destination; mg-a must find another free there.
if [ "$(nproc)" -lt 2 ]; then echo "SKIP: fewer than 2 PUs (the test needs 2)"; exit 77; fi
if [ -z "${TOPOMAP_IN_NS:-}" ]; then
	exec env TOPOMAP_IN_NS=1 unshare --mount --propagation private "$0" "$@"
fi
# shellcheck source=tests/libvirtd-lib.sh
. "$(dirname "$0")/libvirtd-lib.sh"

tmp=$(mktemp -d /tmp/topomap-migrate-libvirtd-XXXXXX)
mount -t tmpfs -o mode=0755 tmpfs "$tmp"
declare -A lvpid=()
uri() { # HOST: the daemon's URI from this namespace
	echo "qemu+unix:///system?socket=$tmp/$1/run/libvirt-sock"
}
fail() {
	echo "FAIL: $*"
	for h in src dst; do
		echo "--- $h hook log"; cat "$tmp/$h/hook.log" 2>/dev/null || :
		echo "--- $h libvirtd log (tail)"; tail -20 "$tmp/$h/libvirtd.log" 2>/dev/null || :
	done
	exit 1
}
lv_machine_record
cleanup() {
	# Best effort: a step that fails here (a machine cgroup libvirt is still emptying, say)
	# must not turn a passed test into a failed one.
	set +e
	local h d
	for h in src dst; do
		# TOPOMAP_TEST_KEEP=DIR: the daemons' and the hooks' logs are kept there.
		if [ -n "${TOPOMAP_TEST_KEEP:-}" ]; then
			for f in "$tmp/$h"/*.log; do cp "$f" "$TOPOMAP_TEST_KEEP/$h-${f##*/}" 2>/dev/null; done
		fi
		[ -n "${lvpid[$h]:-}" ] || continue
		for d in mg-a mg-b mg-c; do
			timeout 20 virsh -c "$(uri $h)" destroy "$d" >/dev/null 2>&1
		done
		kill "${lvpid[$h]}" 2>/dev/null
		wait "${lvpid[$h]}" 2>/dev/null
	done
	lv_machine_remove
	umount -l "$tmp" 2>/dev/null
	rmdir "$tmp" 2>/dev/null
}
trap cleanup EXIT

cache=${TOPOMAP_LIBVIRT_CACHE:-$tmp/cache}
mkdir -p "$cache" /var/cache/libvirt
mount --bind "$cache" /var/cache/libvirt
lv_qemu_user

# One daemon: its directories under $tmp/HOST, its hook with $tmp/HOST/state.json, started in a
# mount namespace of its own where they are libvirt's.
start_daemon() { # HOST UUID
	local h=$1 dir=$tmp/$1
	mkdir -p "$dir"/{etc,run,lib,log}
	lv_qemu_conf "$dir/etc/qemu.conf"
	printf 'host_uuid = "%s"\n' "$2" >"$dir/etc/libvirtd.conf"
	# libvirt gives a hook a clean environment: the wrapper gives topomap its own (and, in a
	# sanitizer build, the sanitizers' options). It keeps the XML libvirt gives the hook, as
	# in-DOMAIN-OPERATION.xml, for the test to read.
	mkdir -p "$dir/etc/hooks"
	cat >"$dir/etc/hooks/qemu" <<HOOK
#!/bin/sh
export TOPOMAP='$topomap' TOPOMAP_STATE='$dir/state.json' TOPOMAP_HOOK_LOG='$dir/hook.log'
export TOPOMAP_PLUGIN_PATH='${TOPOMAP_PLUGIN_PATH:-}'
export ASAN_OPTIONS='${ASAN_OPTIONS:-}' UBSAN_OPTIONS='${UBSAN_OPTIONS:-}'
cat >'$dir/in-'"\$1-\$2.xml"
exec '$hook' "\$@" <'$dir/in-'"\$1-\$2.xml"
HOOK
	chmod +x "$dir/etc/hooks/qemu"
	# unshare and sh exec: the pid is the daemon's.
	# shellcheck disable=SC2016 # expanded by the inner shell
	unshare --mount --propagation private sh -c '
		d=$1; shift
		for m in etc:/etc/libvirt run:/run/libvirt lib:/var/lib/libvirt log:/var/log/libvirt; do
			mkdir -p "${m#*:}" && mount --bind "$d/${m%%:*}" "${m#*:}" || exit 1
		done
		exec "$@"' sh "$dir" "$LIBVIRTD" --timeout 300 --pid-file "$dir/libvirtd.pid" \
		>"$dir/libvirtd.log" 2>&1 &
	lvpid[$h]=$!
	for _ in $(seq 100); do
		virsh -c "$(uri "$h")" version >/dev/null 2>&1 && return
		sleep 0.1
	done
	fail "the $h libvirtd does not answer"
}
start_daemon src 5d3c1a2e-0000-4000-8000-00000000a001
start_daemon dst 5d3c1a2e-0000-4000-8000-00000000a002

domain_xml() { lv_domain_xml "$@"; }
state_pus() { lv_state_pus "$tmp/$1/state.json" "$2"; } # HOST NAME
wait_pinned() { lv_wait_pinned "$(uri "$1")" "$tmp/$1/state.json" "$tmp/$1/run/qemu" "$2"; } # HOST NAME

start_domain() { # HOST NAME
	domain_xml "$2" 1 >"$tmp/$2.xml"
	virsh -c "$(uri "$1")" define "$tmp/$2.xml" >/dev/null
	timeout 60 virsh -c "$(uri "$1")" start "$2" >/dev/null 2>"$tmp/err" ||
		fail "$1: $2 did not start: $(cat "$tmp/err")"
}

# mg-a on the source; on the destination, mg-b on the same PU (both states empty before: the
# same host, the same answer). Started in this order, the two daemons give their mg-a
# different ids, hence different machine cgroups (qemu-ID-NAME), which they would otherwise
# share while the migration runs.
start_domain src mg-a
pu_a=$(wait_pinned src mg-a)
start_domain dst mg-b
pu_b=$(wait_pinned dst mg-b)
[ "$pu_a" = "$pu_b" ] || fail "mg-b is on PU $pu_b on the destination, not on mg-a's PU $pu_a"
echo "source: mg-a on PU $pu_a; destination: mg-b on PU $pu_b"

# Direct migration: virsh speaks to both daemons; QEMU streams over 127.0.0.1, on a port the
# destination picks.
timeout 120 virsh -c "$(uri src)" migrate --live mg-a "$(uri dst)" --migrateuri tcp:127.0.0.1 \
	>"$tmp/out" 2>"$tmp/err" || fail "migrate: $(cat "$tmp/err" "$tmp/out")"
[ "$(virsh -c "$(uri dst)" domstate mg-a 2>&1)" = running ] ||
	fail "mg-a is not running on the destination: $(virsh -c "$(uri dst)" domstate mg-a 2>&1)"
pu_a2=$(wait_pinned dst mg-a)
[ "$pu_a2" != "$pu_b" ] || fail "mg-a migrated onto mg-b's PU $pu_b"
# What the source sent pins vcpu 0 to its PU there, mg-b's here; the destination started QEMU
# from what the hook printed at 'migrate begin', pinned to the free PU (the 'started' hook gets
# the definition QEMU was started with, before topomap's apply, which pins the same PU).
lv_pinned_in "$tmp/dst/in-mg-a-migrate.xml" "$pu_a" ||
	fail "the XML the source sent does not pin vcpu 0 to $pu_a: $(grep -E 'vcpu' "$tmp/dst/in-mg-a-migrate.xml" | tr -s ' \n' ' ')"
lv_pinned_in "$tmp/dst/in-mg-a-started.xml" "$pu_a2" ||
	fail "the destination did not start mg-a from the hook's XML: $(grep -E 'vcpu' "$tmp/dst/in-mg-a-started.xml" | tr -s ' \n' ' ')"
# The source released it when its domain stopped.
for _ in $(seq 50); do [ -z "$(state_pus src mg-a)" ] && break; sleep 0.1; done
[ -z "$(state_pus src mg-a)" ] || fail "the source's state still holds mg-a on '$(state_pus src mg-a)'"
virsh -c "$(uri src)" domstate mg-a 2>/dev/null | grep -qx running && fail "mg-a still runs on the source"
echo "migrated: sent pinned to PU $pu_a, started by the destination on PU $pu_a2 from the hook's XML (mg-b keeps PU $pu_b)"
echo "source: its state holds no mg-a"

# The destination is full now: a migration there is refused at 'migrate begin' with topomap's
# message, and the domain runs on where it was, recorded there only.
start_domain src mg-c
pu_c=$(wait_pinned src mg-c)
if timeout 120 virsh -c "$(uri src)" migrate --live mg-c "$(uri dst)" --migrateuri tcp:127.0.0.1 \
	>"$tmp/out" 2>"$tmp/err"; then
	fail "mg-c migrated to a destination without room for it"
fi
grep -q "topomap: mg-c: " "$tmp/err" || fail "libvirt's error does not say topomap's: $(cat "$tmp/err")"
[ "$(wait_pinned src mg-c)" = "$pu_c" ] || fail "mg-c moved on the source"
[ -z "$(state_pus dst mg-c)" ] || fail "the destination's state records the refused mg-c"
echo "refused: $(grep -o 'topomap: mg-c: .*' "$tmp/err" | head -1); mg-c runs on, on source PU $pu_c"

# Room on the destination, but a domain mg-c of another UUID defined there: libvirt refuses the
# migration after the hook ran, and starts nothing there, so sends no 'release': the hook must
# have recorded nothing at 'migrate begin'.
virsh -c "$(uri dst)" destroy mg-b >/dev/null
for _ in $(seq 50); do [ -z "$(state_pus dst mg-b)" ] && break; sleep 0.1; done
domain_xml mg-c 1 >"$tmp/c-other.xml"
virsh -c "$(uri dst)" define "$tmp/c-other.xml" >/dev/null
if timeout 120 virsh -c "$(uri src)" migrate --live mg-c "$(uri dst)" --migrateuri tcp:127.0.0.1 \
	>"$tmp/out" 2>"$tmp/err"; then
	fail "mg-c migrated onto a domain of another UUID"
fi
[ -s "$tmp/dst/in-mg-c-migrate.xml" ] || fail "the destination's hook did not see mg-c's migration"
[ -z "$(state_pus dst mg-c)" ] ||
	fail "the destination's state holds mg-c on '$(state_pus dst mg-c)' after libvirt refused it: $(cat "$tmp/err")"
echo "refused by libvirt after the hook: $(sed 's/^error: //' "$tmp/err" | head -1); the destination's state holds no mg-c"
echo "migration between two libvirtd with the hook: ok"
