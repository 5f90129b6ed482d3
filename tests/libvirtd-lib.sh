# shellcheck shell=bash disable=SC2154 # $topomap and $QEMU are the caller's
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# What the tests with private libvirtd instances share (check-xml-filter-libvirtd.sh,
# check-room-libvirtd.sh, check-migrate-libvirtd.sh): sourced, not run. The caller sets
# $topomap, $QEMU (and $LIBVIRTD for the daemon's functions) and defines fail(); each
# function says what it takes.

# Exit 77 (skipped) unless this is root with libvirtd, QEMU, virsh, unshare and 2 PUs.
lv_skip_unless_ready() {
	local p
	if [ "$(id -u)" != 0 ]; then echo "SKIP: not root"; exit 77; fi
	for p in "$LIBVIRTD" "$QEMU" /usr/bin/virsh /usr/bin/unshare; do
		[ -x "$p" ] || { echo "SKIP: $p is not installed"; exit 77; }
	done
	if [ "$(nproc)" -lt 2 ]; then echo "SKIP: fewer than 2 PUs"; exit 77; fi
}

# Settings for a private daemon's QEMU driver: QEMU as root, no security driver.
lv_qemu_conf() { # FILE
	printf 'user = "root"\ngroup = "root"\ndynamic_ownership = 0\nremember_owner = 0\nsecurity_driver = "none"\nstdio_handler = "file"\n' \
		>"$1"
}

# The user and group Debian's libvirt-daemon expects, where the machine lacks them.
lv_qemu_user() {
	getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu
	getent passwd libvirt-qemu >/dev/null || useradd --system --gid libvirt-qemu \
		--no-create-home --home-dir /var/lib/libvirt --shell /usr/sbin/nologin libvirt-qemu
}

# The cgroups libvirt makes under each controller's 'machine', when it was not there before:
# lv_machine_record before a daemon starts, lv_machine_remove at the end (best effort).
lv_machine_made=()
lv_machine_record() {
	local c
	for c in /sys/fs/cgroup/*/; do
		[ -d "${c}machine" ] || lv_machine_made+=("${c}machine")
	done
}
lv_machine_remove() {
	local m
	for m in "${lv_machine_made[@]}"; do
		[ -d "$m" ] || continue
		# QEMU processes a destroy has just killed may still be leaving their cgroups.
		for _ in $(seq 50); do
			find "$m" -depth -type d -exec rmdir {} + 2>/dev/null && break
			sleep 0.1
		done
	done
}

# A small QEMU/TCG domain as users define them (no <numatune>, no <cputune>).
lv_domain_xml() { # NAME VCPUS
	cat <<XML
<domain type='qemu'>
  <name>$1</name>
  <memory unit='MiB'>128</memory>
  <vcpu placement='static'>$2</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <cpu mode='custom'><model fallback='allow'>qemu64</model></cpu>
  <devices>
    <emulator>$QEMU</emulator>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
XML
}

# The PUs a state file records for a guest, or nothing.
lv_state_pus() { # STATE NAME
	"$topomap" state --state "$1" --format json |
		python3 -c 'import json,sys; g=[x["held"] for x in json.load(sys.stdin)["guests"] if x["name"]==sys.argv[1]]; print(g[0] if g else "")' "$2"
}

# The domain's vcpu 0 pinned to one PU, in libvirt and in /proc, where the state records it;
# prints the PU. PIDDIR holds the daemon's NAME.pid files (its /run/libvirt/qemu).
lv_wait_pinned() { # URI STATE PIDDIR NAME
	local pu="" pid tid
	for _ in $(seq 100); do
		pu=$(virsh -c "$1" vcpupin "$4" --live 2>/dev/null | awk '$1 == "0" { print $2 }')
		[[ $pu =~ ^[0-9]+$ ]] && [ "$pu" = "$(lv_state_pus "$2" "$4")" ] && break
		sleep 0.1
	done
	[[ $pu =~ ^[0-9]+$ ]] || fail "$4: vcpu 0 is not pinned to one PU: '$pu'"
	[ "$pu" = "$(lv_state_pus "$2" "$4")" ] ||
		fail "$4: vcpu 0 is pinned to $pu, the state records '$(lv_state_pus "$2" "$4")'"
	pid=$(cat "$3/$4.pid")
	for tid in /proc/"$pid"/task/*; do
		grep -q '^CPU 0/' "$tid/comm" 2>/dev/null || continue
		grep -q "^Cpus_allowed_list:[[:space:]]*$pu\$" "$tid/status" ||
			fail "$4: vcpu 0's thread is allowed '$(grep Cpus_allowed_list "$tid/status")', not $pu"
		echo "$pu"
		return
	done
	fail "$4: no vcpu thread in /proc/$pid"
}

# The XML pins vcpu 0 to PU (libvirt leaves out a <vcpupin> equal to <vcpu cpuset>).
lv_pinned_in() { # FILE PU
	grep -Eq "<vcpupin vcpu='0' cpuset='$2'/>|<vcpu [^>]*cpuset='$2'>" "$1"
}

# A private libvirtd's directories, in this mount namespace: tmpfs-backed binds over
# /etc/libvirt, /run/libvirt, /var/lib/libvirt and /var/log/libvirt (under TMP), libvirt's
# QEMU capabilities cache kept in $TOPOMAP_LIBVIRT_CACHE (else TMP/cache), the QEMU driver's
# settings and user.
lv_private_dirs() { # TMP
	local d cache=${TOPOMAP_LIBVIRT_CACHE:-$1/cache}
	for d in etc:/etc/libvirt run:/run/libvirt lib:/var/lib/libvirt log:/var/log/libvirt; do
		mkdir -p "$1/${d%%:*}" "${d#*:}"
		mount --bind "$1/${d%%:*}" "${d#*:}"
	done
	mkdir -p "$cache" /var/cache/libvirt
	mount --bind "$cache" /var/cache/libvirt
	lv_qemu_user
	lv_qemu_conf /etc/libvirt/qemu.conf
}

# Start the private libvirtd (its log and pidfile in TMP) and wait until it answers at URI;
# sets lvpid, the caller's to stop.
# shellcheck disable=SC2034
lv_start_daemon() { # TMP URI
	"$LIBVIRTD" --timeout 300 --pid-file "$1/libvirtd.pid" >"$1/libvirtd.log" 2>&1 &
	lvpid=$!
	for _ in $(seq 100); do
		virsh -c "$2" version >/dev/null 2>&1 && break
		sleep 0.1
	done
	virsh -c "$2" version >/dev/null 2>&1 || fail "libvirtd does not answer"
}

# A private libvirtd for the rest of the script, which runs in a mount namespace of its own
# already: a tmpfs at a new directory $tmp (/tmp/topomap-NAME-XXXXXX), fail() printing the
# daemon's log, a cleanup at exit (the DOMAINS destroyed, the daemon stopped, the machine
# cgroups libvirt made and the tmpfs removed), the private directories and the daemon at URI.
# shellcheck disable=SC2034 # tmp and lvpid are the caller's
lv_private_session() { # NAME URI DOMAINS...
	tmp=$(mktemp -d "/tmp/topomap-$1-XXXXXX")
	mount -t tmpfs -o mode=0755 tmpfs "$tmp"
	lvpid=
	lv_session_uri=$2
	lv_session_domains=("${@:3}")
	fail() {
		echo "FAIL: $*"
		echo "--- libvirtd log (tail)"; tail -20 "$tmp/libvirtd.log" 2>/dev/null || :
		exit 1
	}
	lv_machine_record
	trap lv_session_cleanup EXIT
	lv_private_dirs "$tmp"
	lv_start_daemon "$tmp" "$2"
}
lv_session_cleanup() {
	local d
	set +e
	for d in "${lv_session_domains[@]}"; do
		timeout 20 virsh -c "$lv_session_uri" destroy "$d" >/dev/null 2>&1 || :
	done
	if [ -n "$lvpid" ]; then kill "$lvpid" 2>/dev/null || :; wait "$lvpid" 2>/dev/null || :; fi
	lv_machine_remove
	umount -l "$tmp" 2>/dev/null || :
	rmdir "$tmp" 2>/dev/null || :
}
