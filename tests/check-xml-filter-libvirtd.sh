#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The libvirt hook (contrib/libvirt-hook-qemu) on xml-filter, in a private libvirtd running
# real QEMU/TCG domains on this machine's PUs, in a mount namespace of its own (tmpfs over
# /etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/log/libvirt; the QEMU capabilities cache
# kept between runs in TOPOMAP_LIBVIRT_CACHE):
#   - a domain that fits starts, and is pinned where the state records it (virsh vcpupin,
#     the vcpu thread's Cpus_allowed_list in /proc);
#   - a domain that does not fit is refused at start, with topomap's message in libvirt's
#     error, and nothing is recorded;
#   - a saved domain is released, and restored onto PUs that are free then;
#   - on an isolated host (issue 15), a domain's start adds it to the isolation in the hook's
#     apply (a narrowed cgroup loses its PU), and its stop gives it back.
#
# Usage: check-xml-filter-libvirtd.sh TOPOMAP HOOK    (as root; exit 77 = skipped)
set -euo pipefail

topomap=$1
hook=$2
LIBVIRTD=/usr/sbin/libvirtd
QEMU=/usr/bin/qemu-system-x86_64
URI=qemu:///system

# shellcheck source=tests/libvirtd-lib.sh
. "$(dirname "$0")/libvirtd-lib.sh"
lv_skip_unless_ready
# Everything below in a mount namespace: the daemon's directories vanish with it.
if [ -z "${TOPOMAP_IN_NS:-}" ]; then
	exec env TOPOMAP_IN_NS=1 unshare --mount --propagation private "$0" "$@"
fi

tmp=$(mktemp -d /tmp/topomap-hook-libvirtd-XXXXXX)
mount -t tmpfs -o mode=0755 tmpfs "$tmp"
lvpid=
sleeper=
CPUSET=/sys/fs/cgroup/cpuset
narrow=$CPUSET/topomap-hookiso-$$
fail() {
	echo "FAIL: $*"
	echo "--- hook log"; cat "$tmp/hook.log" 2>/dev/null || :
	echo "--- libvirtd log (tail)"; tail -20 "$tmp/libvirtd.log" 2>/dev/null || :
	exit 1
}
lv_machine_record
cleanup() {
	# Best effort: a step that fails here (a machine cgroup libvirt is still emptying, say)
	# must not turn a passed test into a failed one.
	set +e
	# TOPOMAP_TEST_KEEP=DIR: the daemon's and the hook's logs are kept there.
	if [ -n "${TOPOMAP_TEST_KEEP:-}" ]; then
		cp "$tmp"/*.log "$TOPOMAP_TEST_KEEP"/ 2>/dev/null || :
	fi
	for d in hk-a hk-b hk-big hk-c; do timeout 20 virsh -c $URI destroy "$d" >/dev/null 2>&1 || :; done
	# Nothing left isolated, narrowed or running of the isolation part.
	TOPOMAP_STATE=$tmp/state.json "$topomap" host isolate --undo >/dev/null 2>&1
	[ -n "$sleeper" ] && kill "$sleeper" 2>/dev/null
	rmdir "$narrow-seed" "$narrow/a" "$narrow" 2>/dev/null
	if [ -n "$lvpid" ]; then kill "$lvpid" 2>/dev/null || :; wait "$lvpid" 2>/dev/null || :; fi
	lv_machine_remove
	umount -l "$tmp" 2>/dev/null || :
	rmdir "$tmp" 2>/dev/null || :
}
trap cleanup EXIT

lv_private_dirs "$tmp"
# libvirt gives a hook a clean environment: the wrapper gives topomap its own (and, in a
# sanitizer build, the sanitizers' options: libvirtd passes on its LD_PRELOAD, and ASan must
# be told that a preload ahead of it is expected).
mkdir -p /etc/libvirt/hooks
cat >/etc/libvirt/hooks/qemu <<HOOK
#!/bin/sh
export TOPOMAP='$topomap' TOPOMAP_STATE='$tmp/state.json' TOPOMAP_HOOK_LOG='$tmp/hook.log'
export TOPOMAP_PLUGIN_PATH='${TOPOMAP_PLUGIN_PATH:-}'
export ASAN_OPTIONS='${ASAN_OPTIONS:-}' UBSAN_OPTIONS='${UBSAN_OPTIONS:-}'
exec '$hook' "\$@"
HOOK
chmod +x /etc/libvirt/hooks/qemu

lv_start_daemon "$tmp" $URI

domain_xml() { lv_domain_xml "$@"; }
state_pus() { lv_state_pus "$tmp/state.json" "$1"; }
wait_pinned() { lv_wait_pinned "$URI" "$tmp/state.json" /run/libvirt/qemu "$1"; }

# A domain that fits: started, and pinned where the state records it.
domain_xml hk-a 1 >"$tmp/a.xml"
virsh -c $URI define "$tmp/a.xml" >/dev/null
timeout 60 virsh -c $URI start hk-a >/dev/null || fail "hk-a did not start"
pu_a=$(wait_pinned hk-a)
echo "hk-a: started on PU $pu_a"

# A domain that does not fit (every PU but hk-a's are this host's): refused at start, with
# topomap's message in libvirt's error, and not recorded.
domain_xml hk-big "$(nproc)" >"$tmp/big.xml"
virsh -c $URI define "$tmp/big.xml" >/dev/null
if virsh -c $URI start hk-big >"$tmp/out" 2>"$tmp/err"; then
	fail "hk-big started on a host without room for it"
fi
grep -q "topomap: hk-big: " "$tmp/err" || fail "libvirt's error does not say topomap's: $(cat "$tmp/err")"
[ "$(virsh -c $URI domstate hk-big)" = "shut off" ] || fail "hk-big runs"
[ -z "$(state_pus hk-big)" ] || fail "hk-big was recorded"
echo "hk-big: refused: $(grep -o 'topomap: hk-big: .*' "$tmp/err" | head -1)"

# Saved: released. Another domain takes a PU. Restored: on a PU free then.
virsh -c $URI save hk-a "$tmp/a.sav" >/dev/null || fail "cannot save hk-a"
for _ in $(seq 50); do [ -z "$(state_pus hk-a)" ] && break; sleep 0.1; done
[ -z "$(state_pus hk-a)" ] || fail "hk-a is still recorded after its save"
domain_xml hk-b 1 >"$tmp/b.xml"
virsh -c $URI define "$tmp/b.xml" >/dev/null
virsh -c $URI start hk-b >/dev/null || fail "hk-b did not start"
pu_b=$(wait_pinned hk-b)
virsh -c $URI restore "$tmp/a.sav" >/dev/null 2>"$tmp/err" || fail "restore: $(cat "$tmp/err")"
pu_a2=$(wait_pinned hk-a)
[ "$pu_a2" != "$pu_b" ] || fail "hk-a was restored onto hk-b's PU $pu_b"
echo "hk-a: saved on PU $pu_a, hk-b started on PU $pu_b, hk-a restored on PU $pu_a2"
# The restored XML is the one the hook wrote: pinned from the start.
live_xml=$(timeout 30 virsh -c $URI dumpxml hk-a 2>&1) || fail "dumpxml hk-a: $live_xml"
lv_pinned_in <(echo "$live_xml") "$pu_a2" ||
	fail "hk-a's live XML has no vcpupin to $pu_a2: $(grep -E 'vcpu|cputune' <<<"$live_xml" | tr -s ' \n' ' ')"

# An isolated host (issue 15): the hook's apply at 'started' adds the domain to the isolation
# in the same transaction, and its release at 'stopped' gives the PU back. A cgroup guest
# 'seed' makes the isolation (host isolate --narrow of a cgroup whose child holds a task),
# then is released: the isolation stays recorded with no file changed.
for d in hk-a hk-b; do timeout 20 virsh -c $URI destroy "$d" >/dev/null 2>&1 || :; done
for _ in $(seq 50); do [ -z "$(state_pus hk-a)$(state_pus hk-b)" ] && break; sleep 0.1; done
export TOPOMAP_STATE=$tmp/state.json
all=$(cat $CPUSET/cpuset.cpus)
mkdir "$narrow" "$narrow/a"
for c in "$narrow" "$narrow/a"; do
	cat $CPUSET/cpuset.mems >"$c/cpuset.mems"
	echo "$all" >"$c/cpuset.cpus"
done
sleep 300 &
sleeper=$!
echo $sleeper >"$narrow/a/cgroup.procs"
"$topomap" apply --backend=cgroup --cgroup "${narrow#$CPUSET/}-seed" --create --name seed \
	--vcpus 1 --reserve 0 >/dev/null || fail "apply seed"
"$topomap" host isolate --narrow "${narrow#$CPUSET/}" >"$tmp/out" 2>&1 ||
	fail "host isolate: $(cat "$tmp/out")"
[ "$(cat "$narrow/a/cpuset.cpus")" = 0 ] || fail "host isolate did not narrow $narrow/a"
"$topomap" release seed >/dev/null || fail "release seed"
[ "$(cat "$narrow/a/cpuset.cpus")" = "$all" ] || fail "release seed did not widen $narrow/a"
domain_xml hk-c 1 >"$tmp/c.xml"
virsh -c $URI define "$tmp/c.xml" >/dev/null
timeout 60 virsh -c $URI start hk-c >/dev/null || fail "hk-c did not start"
pu_c=$(wait_pinned hk-c)
for _ in $(seq 100); do [ "$(cat "$narrow/a/cpuset.cpus")" = 0 ] && break; sleep 0.1; done
[ "$(cat "$narrow/a/cpuset.cpus")" = 0 ] ||
	fail "hk-c started on PU $pu_c, $narrow/a still reads $(cat "$narrow/a/cpuset.cpus")"
grep -q "Cpus_allowed_list:.0\$" /proc/$sleeper/status || fail "the narrowed task is not on PU 0"
grep -q "hk-c: topomap apply exited with 0" "$tmp/hook.log" || fail "the hook's apply failed"
grep -q "\"path\":\"$narrow/a/cpuset.cpus\"" "$tmp/state.json" ||
	fail "the state does not record $narrow/a in the isolation"
echo "hk-c: started on PU $pu_c on the isolated host, $narrow/a narrowed to 0 by the hook's apply"
timeout 20 virsh -c $URI destroy hk-c >/dev/null || fail "cannot destroy hk-c"
for _ in $(seq 100); do [ "$(cat "$narrow/a/cpuset.cpus")" = "$all" ] && break; sleep 0.1; done
[ "$(cat "$narrow/a/cpuset.cpus")" = "$all" ] || fail "hk-c stopped, $narrow/a still narrowed"
"$topomap" host isolate --undo >/dev/null || fail "host isolate --undo"
echo "hk-c: stopped, $narrow/a back to $all"
echo "libvirt hook with libvirtd: ok"
