#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# apply --make-room (issue 18) on the libvirt backend, with two real QEMU/TCG domains in a
# private libvirtd (a mount namespace of its own, as check-xml-filter-libvirtd.sh):
#   - the host: one node, two SMT cores, core 0 holding PUs 0 and 2, core 1 holding PUs 1 and
#     3; PUs 0 and 1 are this machine's, PU 2 is held by y (pinned, the mock backend), so no
#     domain is ever pinned to 2 or 3. Domain roomreal-x (guest x) runs on PU 1; guest big
#     (domain roomreal-big, thread policy isolate) wants a whole core: it fits once x moves
#     to PU 0;
#   - each libvirt call of the transaction that changes a placement (pins, numatune) refused
#     in turn (tests/fault-inject.c, "libvirt" with victim 0): exit 1, and both domains' live
#     pins (virsh vcpupin, emulatorpin), every thread of both QEMUs in /proc and the state
#     file as they were;
#   - the first call past the last one refused is the transaction that succeeds: x on PU 0,
#     big on PU 1 in libvirt and /proc, verify --all clean.
#
# Usage: check-room-libvirtd.sh TOPOMAP    (as root; exit 77 = skipped)
set -euo pipefail

topomap=$1
LIBVIRTD=/usr/sbin/libvirtd
QEMU=/usr/bin/qemu-system-x86_64
URI=qemu:///system
HOST='synthetic:pack:1 numa:1(memory=4GiB) core:2 pu:2(indexes=0,2,1,3)'

# shellcheck source=tests/libvirtd-lib.sh
. "$(dirname "$0")/libvirtd-lib.sh"
lv_skip_unless_ready
[ -n "${TOPOMAP_FAULT_INJECT:-}" ] || { echo "SKIP: no TOPOMAP_FAULT_INJECT"; exit 77; }
if [ -z "${TOPOMAP_IN_NS:-}" ]; then
	exec env TOPOMAP_IN_NS=1 unshare --mount --propagation private "$0" "$@"
fi

lv_private_session roomreal-libvirtd $URI roomreal-x roomreal-big

for d in roomreal-x roomreal-big; do
	lv_domain_xml $d 1 >"$tmp/$d.xml"
	virsh -c $URI define "$tmp/$d.xml" >/dev/null
	timeout 60 virsh -c $URI start $d >/dev/null || fail "$d did not start"
done

# The mock backend for y, beside the real ones.
export TOPOMAP_PLUGIN_PATH="${TOPOMAP_MOCK_PLUGIN_DIR}:${TOPOMAP_PLUGIN_PATH}"
tm() { "$topomap" "$1" --state "$tmp/state.json" --topology "$HOST" "${@:2}"; }
# The libvirt target of domain roomreal-NAME.
lv() { echo --backend libvirt --connect $URI --domain "roomreal-$1" --live; }
# topomap apply of big (any arguments before its own: apply --make-room ...).
big_args=(--name big --vcpus 1 --memory 128M --thread-policy isolate)

# y (pinned, mock) on PU 2, x on PU 1, steered by the reserve, which then goes.
echo '{"name": "y", "vcpus": 1, "memory_mib": 64, "pinned": true}' >"$tmp/y.json"
: >"$tmp/y"
tm reserve --add 0,1,3 >/dev/null
tm apply --backend mock -o "file=$tmp/y" "$tmp/y.json" >/dev/null || fail "apply y"
tm reserve --remove 1 >/dev/null
# shellcheck disable=SC2046 # lv's words are meant to split
tm apply $(lv x) --name x --vcpus 1 --memory 128M >"$tmp/out" 2>&1 ||
	fail "apply x: $(cat "$tmp/out")"
tm reserve --remove 0,3 >/dev/null
[ "$(cat "$tmp/y")" = 2 ] || fail "y is on '$(cat "$tmp/y")', not PU 2"

# Both domains as libvirt and the kernel have them, and the state: what a failed transaction
# must leave as it found.
threads() { # DOMAIN
	local pid t
	pid=$(cat /run/libvirt/qemu/"$1".pid)
	for t in /proc/"$pid"/task/*; do
		echo "$1 ${t##*/} $(awk '/^Cpus_allowed_list/ { print $2 }' "$t/status" 2>/dev/null) $(cat "$t/comm" 2>/dev/null)"
	done | sort -n -k2
}
snapshot() {
	local d
	for d in roomreal-x roomreal-big; do
		echo "$d vcpupin: $(virsh -c $URI vcpupin $d --live | awk '$1 == "0" { print $2 }')"
		echo "$d emulatorpin: $(virsh -c $URI emulatorpin $d --live | awk 'NR > 2 && NF { print $2 }')"
		threads $d
	done
	cat "$tmp/state.json"
}
# Every thread of DOMAIN allowed exactly PUs, and libvirt's pins saying so.
all_on() { # DOMAIN PUS
	local t
	[ "$(virsh -c $URI vcpupin "$1" --live | awk '$1 == "0" { print $2 }')" = "$2" ] ||
		fail "$1: vcpu 0 is pinned to '$(virsh -c $URI vcpupin "$1" --live | awk '$1 == "0" { print $2 }')', not $2"
	while read -r _ tid cpus name; do
		[ "$cpus" = "$2" ] || fail "$1: thread $tid '$name' is allowed '$cpus', not $2"
	done < <(threads "$1")
	echo "$1: libvirt's pins and every thread on PU $2"
}
all_on roomreal-x 1
tm verify --all >"$tmp/out" 2>&1 || fail "verify --all before: $(cat "$tmp/out")"

set +e
# shellcheck disable=SC2046
tm apply $(lv big) "${big_args[@]}" >"$tmp/out" 2>&1
rc=$?
set -e
[ $rc = 3 ] || fail "big fits as the host stands (exit $rc): $(cat "$tmp/out")"

before=$(snapshot)
k=1
moving=0
while :; do
	[ $k -le 40 ] || fail "40 libvirt calls refused and the transaction never succeeded"
	set +e
	# shellcheck disable=SC2046
	# In a sanitizer build the injector comes before ASan's runtime: allowed, as testlib does.
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
		LD_PRELOAD="$TOPOMAP_FAULT_INJECT${LD_PRELOAD:+:$LD_PRELOAD}" TOPOMAP_FAULT_CALL=libvirt \
		TOPOMAP_FAULT_AT=$k TOPOMAP_FAULT_KILL=0 \
		tm apply --make-room $(lv big) "${big_args[@]}" >"$tmp/out" 2>&1
	rc=$?
	set -e
	[ $rc = 0 ] && break
	echo "call $k refused: $(tail -1 "$tmp/out")"
	[ $rc = 1 ] || fail "call $k refused: exit $rc, not 1: $(cat "$tmp/out")"
	grep -q "moving guest 'x'" "$tmp/out" && moving=$((moving + 1))
	now=$(snapshot)
	[ "$now" = "$before" ] || fail "call $k refused: not put back: $(diff <(echo "$before") <(echo "$now"))"
	k=$((k + 1))
done
if [ $moving -lt 2 ] || [ $((k - 1 - moving)) -lt 2 ]; then
	fail "$((k - 1)) calls refused, $moving of them moving x: the transaction made too few calls"
fi
echo "$((k - 1)) libvirt calls refused in turn ($moving while x moved), each put back"

all_on roomreal-x 0
all_on roomreal-big 1
tm verify --all >"$tmp/out" 2>&1 || fail "verify --all after: $(cat "$tmp/out")"
echo "make-room with libvirtd: ok"
