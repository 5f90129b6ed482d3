#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# resize --apply on a guest that runs another vcpu count than the plan (issue 18 item 3), on a
# real QEMU/TCG: through qemu-direct (QMP and /proc), or through libvirt (a domain in a private
# libvirtd, in a mount namespace of its own as check-room-libvirtd.sh). The host is this
# machine's two PUs as a synthetic one-node host (PUs 0 and 1, one core each).
#   - grow: guest rsz applied running 1 vcpu (vcpu 0 on PU 0), resized to 2 vcpus: vcpu 0
#     stays on PU 0, the emulator threads (and qemu-direct's iothread) go to 0-1, and the
#     output says "pending: guest 'rsz' runs 1 vcpu; start it with 2 for vcpu 1 (PU 1)";
#   - shrink: rsz running 2 vcpus on PUs 0 and 1, resized to 1: vcpu 0 and the emulator on PU
#     0, vcpu 1 left on PU 1, "pending: guest 'rsz' runs 2 vcpus; start it with 1: until then
#     vcpu 1 keeps running outside the plan (PU 1)";
#   - in each, every call of the apply that changes a pin refused in turn
#     (tests/fault-inject.c: sched_setaffinity for qemu-direct, libvirt's pin calls for
#     libvirt): exit 1, every thread's affinity in /proc, libvirt's pins and the state file
#     byte for byte as before; then the apply that succeeds, the state recording the count rsz
#     still runs ("running_vcpus"), and verify of the guest (exit 0, the same pending line)
#     and verify --all clean;
#   - after the grow, rsz started again by hand: with 3 vcpus, neither the count it runs nor
#     its plan's, verify exits 4 naming the count (and verify --all says drifted, through
#     libvirt's recorded domain); with its plan's 2 and applied again, the state forgets the
#     count and verify is clean with no pending line; then with 1 vcpu again, which the state
#     no longer records, verify exits 4 (it read as pending before the state kept the count).
#
# Usage: check-resize-apply.sh qemu-direct|libvirt TOPOMAP    (as root; exit 77 = skipped)
set -euo pipefail

# This machine's two PUs, one core each, as one node (the plan is the same on any machine).
HOST='synthetic:pack:1 numa:1(memory=4GiB) core:2 pu:1'
backend=$1 topomap=$2
LIBVIRTD=/usr/sbin/libvirtd QEMU=/usr/bin/qemu-system-x86_64 URI=qemu:///system
GROW="guest 'rsz' runs 1 vcpu; start it with 2 for vcpu 1 (PU 1)"
SHRINK="guest 'rsz' runs 2 vcpus; start it with 1: until then vcpu 1 keeps running outside the plan (PU 1)"

[ -n "${TOPOMAP_FAULT_INJECT:-}" ] || { echo "SKIP: no TOPOMAP_FAULT_INJECT"; exit 77; }
case $backend in
libvirt)
	# shellcheck source=tests/libvirtd-lib.sh
	. "$(dirname "$0")/libvirtd-lib.sh"
	lv_skip_unless_ready
	if [ -z "${TOPOMAP_IN_NS:-}" ]; then
		exec env TOPOMAP_IN_NS=1 unshare --mount --propagation private "$0" "$@"
	fi
	lv_private_session resize-libvirtd $URI rsz
	fault_call=libvirt
	;;
qemu-direct)
	if [ "$(id -u)" != 0 ]; then echo "SKIP: not root"; exit 77; fi
	[ -x "$QEMU" ] || { echo "SKIP: $QEMU is not installed"; exit 77; }
	if [ "$(nproc)" -lt 2 ]; then echo "SKIP: fewer than 2 PUs"; exit 77; fi
	tmp=$(mktemp -d /tmp/topomap-resize-qemu-XXXXXX)
	fail() { echo "FAIL: $*"; exit 1; }
	trap 'stop_guest; rm -rf "$tmp"' EXIT
	fault_call=sched_setaffinity
	;;
*)
	echo "usage: $0 qemu-direct|libvirt TOPOMAP" >&2
	exit 2
	;;
esac

tm() { "$topomap" "$1" --state "$tmp/state.json" --topology "$HOST" "${@:2}"; }

# Guest rsz running VCPUS vcpus; sets target (the backend's options) and pid (QEMU's).
start_guest() { # VCPUS
	if [ "$backend" = libvirt ]; then
		lv_domain_xml rsz "$1" >"$tmp/rsz.xml"
		virsh -c $URI define "$tmp/rsz.xml" >/dev/null
		timeout 60 virsh -c $URI start rsz >/dev/null || fail "rsz did not start"
		pid=$(cat /run/libvirt/qemu/rsz.pid)
		target=(--backend libvirt --connect "$URI" --domain rsz --live)
		return
	fi
	rm -f "$tmp/qmp.sock" "$tmp/qemu.pid"
	"$QEMU" -name guest=rsz,debug-threads=on -accel tcg,thread=multi -machine pc -cpu qemu64 \
		-smp "$1" -m 64 -object iothread,id=io1 -nodefaults -display none \
		-qmp "unix:$tmp/qmp.sock,server=on,wait=off" -pidfile "$tmp/qemu.pid" -daemonize ||
		fail "QEMU did not start"
	pid=$(cat "$tmp/qemu.pid")
	target=(--backend qemu-direct --qmp "$tmp/qmp.sock" --pid "$pid")
}
stop_guest() {
	if [ "$backend" = libvirt ]; then
		timeout 20 virsh -c $URI destroy rsz >/dev/null 2>&1 || :
		virsh -c $URI undefine rsz >/dev/null 2>&1 || :
		return
	fi
	# QEMU removes its pidfile as it exits: the pid read at its start.
	[ -n "${pid:-}" ] || return 0
	kill "$pid" 2>/dev/null || :
	for _ in $(seq 100); do
		[ -d "/proc/$pid" ] || break
		sleep 0.1
	done
	pid=
}

# Every thread of the guest's QEMU: tid, Cpus_allowed_list, name.
threads() {
	local t
	for t in /proc/"$pid"/task/*; do
		echo "${t##*/} $(awk '/^Cpus_allowed_list/ { print $2 }' "$t/status" 2>/dev/null) $(cat "$t/comm" 2>/dev/null)"
	done | sort -n
}
# What a failed apply must leave as it found: the threads, libvirt's pins, the state.
snapshot() {
	if [ "$backend" = libvirt ]; then
		virsh -c $URI vcpupin rsz --live
		virsh -c $URI emulatorpin rsz --live
	fi
	threads
	cat "$tmp/state.json"
}
# The vcpu count the state records NAME still running, or "none".
running_vcpus() { # NAME
	python3 -c 'import json,sys; g=[x for x in json.load(open(sys.argv[1]))["guests"] if x["name"]==sys.argv[2]]; print(g[0].get("running_vcpus", "none"))' \
		"$tmp/state.json" "$1"
}

# verify of rsz through TARGET exits CODE, with LINE among its lines and no pending line.
expect_verify() { # CODE LINE
	local rc=0
	tm verify "${target[@]}" >"$tmp/out" 2>&1 || rc=$?
	[ "$rc" = "$1" ] || fail "verify: exit $rc, not $1: $(cat "$tmp/out")"
	grep -qxF "  $2" "$tmp/out" || fail "verify: no line '$2': $(cat "$tmp/out")"
	! grep -q "pending:" "$tmp/out" || fail "verify: a pending line: $(cat "$tmp/out")"
}

# vcpu N's thread allowed exactly PUS, every thread but the vcpus' allowed exactly EMU.
check_threads() { # EMU N:PUS...
	local tid cpus name want
	while read -r tid cpus name; do
		want=$1
		if [[ $name =~ ^CPU\ ([0-9]+)/ ]]; then
			want=$(printf '%s\n' "${@:2}" | awk -F: -v n="${BASH_REMATCH[1]}" '$1 == n { print $2 }')
			[ -n "$want" ] || fail "vcpu thread $tid '$name' is not expected"
		fi
		[ "$cpus" = "$want" ] || fail "thread $tid '$name' is allowed '$cpus', not '$want'"
	done < <(threads)
}

# Apply rsz running FROM vcpus, resize it to TO with each pin call refused in turn, then for
# real; the pending line PENDING in the output and in verify's.
scenario() { # FROM TO PENDING
	local k=1 rc before now
	start_guest "$1"
	tm apply "${target[@]}" >"$tmp/out" 2>&1 || fail "apply rsz: $(cat "$tmp/out")"
	before=$(snapshot)
	while :; do
		[ $k -le 40 ] || fail "40 calls refused and the resize never succeeded"
		set +e
		# In a sanitizer build the injector comes before ASan's runtime: allowed, as testlib does.
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
			LD_PRELOAD="$TOPOMAP_FAULT_INJECT${LD_PRELOAD:+:$LD_PRELOAD}" \
			TOPOMAP_FAULT_CALL=$fault_call TOPOMAP_FAULT_AT=$k TOPOMAP_FAULT_KILL=0 \
			tm resize rsz --vcpus "$2" --apply >"$tmp/out" 2>&1
		rc=$?
		set -e
		[ $rc = 0 ] && break
		[ $rc = 1 ] || fail "$1 to $2, call $k refused: exit $rc, not 1: $(cat "$tmp/out")"
		now=$(snapshot)
		[ "$now" = "$before" ] ||
			fail "$1 to $2, call $k refused: not put back: $(diff <(echo "$before") <(echo "$now"))"
		echo "$1 to $2 vcpus: call $k refused, put back: $(tail -1 "$tmp/out")"
		k=$((k + 1))
	done
	[ $k -ge 3 ] || fail "$1 to $2: only $((k - 1)) calls refused: the apply made too few"
	grep -qxF "  pending: $3" "$tmp/out" || fail "$1 to $2: no pending line '$3': $(cat "$tmp/out")"
	[ "$(running_vcpus rsz)" = "$1" ] ||
		fail "$1 to $2: the state records rsz running '$(running_vcpus rsz)' vcpus, not $1"
	tm verify "${target[@]}" >"$tmp/out" 2>&1 || fail "verify: exit $?: $(cat "$tmp/out")"
	grep -qxF "  pending: $3" "$tmp/out" || fail "verify: no pending line '$3': $(cat "$tmp/out")"
	tm verify --all >"$tmp/out" 2>&1 || fail "verify --all: $(cat "$tmp/out")"
	echo "$1 to $2 vcpus: applied, verify says: $3"
}

scenario 1 2 "$GROW"
check_threads 0-1 0:0
if [ "$backend" = libvirt ]; then
	[ "$(virsh -c $URI emulatorpin rsz --live | awk 'NR > 2 && NF { print $2 }')" = 0-1 ] ||
		fail "emulatorpin is not 0-1"
fi

# Started again by hand with 3 vcpus: neither the 1 it ran nor its plan's 2.
stop_guest
start_guest 3
expect_verify 4 "guest 'rsz' runs 3 vcpus; the state records it running 1 until it is started with its plan's 2"
if [ "$backend" = libvirt ]; then
	rc=0
	tm verify --all >"$tmp/out" 2>&1 || rc=$?
	[ $rc = 4 ] && grep -q "^rsz  *drifted" "$tmp/out" ||
		fail "verify --all of rsz running 3: exit $rc: $(cat "$tmp/out")"
fi
[ "$(running_vcpus rsz)" = 1 ] || fail "a read-only verify changed the state"
echo "restarted with 3 vcpus: verify says drifted"

# Started with its plan's 2 and applied again: the state forgets the 1.
stop_guest
start_guest 2
tm apply "${target[@]}" >"$tmp/out" 2>&1 || fail "apply rsz running 2: $(cat "$tmp/out")"
[ "$(running_vcpus rsz)" = none ] ||
	fail "rsz applied running its plan's 2: the state still records running_vcpus $(running_vcpus rsz)"
tm verify "${target[@]}" >"$tmp/out" 2>&1 || fail "verify of rsz running 2: $(cat "$tmp/out")"
! grep -q "pending:" "$tmp/out" || fail "verify of rsz running 2: a pending line: $(cat "$tmp/out")"
check_threads 0-1 0:0 1:1
echo "restarted with 2 vcpus and applied: the state records no other count, verify clean"

# And with 1 again: the state no longer records it, so it is drift, not pending.
stop_guest
start_guest 1
expect_verify 4 "guest 'rsz' runs 1 vcpu; its plan has 2"
echo "restarted with 1 vcpu: verify says drifted"
tm release rsz >/dev/null
stop_guest

scenario 2 1 "$SHRINK"
check_threads 0 0:0 1:1
echo "resize --apply with $backend: ok"
