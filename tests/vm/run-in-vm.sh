#!/bin/bash
# Run a busybox sh script inside a throwaway guest under QEMU/TCG: a real host with 2 sockets,
# 2 NUMA nodes (distance 21), SMT sibling pairs 0-1 and 2-3, and a cgroup v2 hierarchy with
# the cpuset controller (see shared/ENVIRONMENT.md). Test infrastructure only.
#
# Usage: tests/vm/run-in-vm.sh [OPTIONS] --script FILE
#   --script FILE        the busybox sh script to run in the guest (as /test/script.sh)
#   --bin PATH           an executable, placed at /usr/bin/NAME
#   --lib PATH           a shared library, placed at /usr/lib/SONAME (found by the loader);
#                        SONAME as readelf reads it, else the file's name
#   --file SRC:DEST      any file, placed at the absolute path DEST (directories 0755, root)
#   --env NAME=VALUE     exported to the script
#   --assets DIR         vmlinuz and busybox (default $TOPOMAP_VM_ASSETS, else
#                        /var/cache/topomap-vm; tests/vm/fetch-assets.sh fills it)
#   --timeout SEC        overall limit for the guest (default 120); the script gets 20 s less
#   --append ARGS        more kernel command line (e.g. isolcpus=... nohz_full=...)
#   --qemu-arg ARG       one more argument for QEMU, e.g. a -device (repeat for each)
#   --drive ID:MIB       a zeroed raw image of MIB MiB in the run's own tmp dir, given to QEMU
#                        as -drive if=none,id=ID (for a -device nvme,drive=ID; repeat for each)
#
# Every shared library the binaries, libraries and ELF files need (as ldd resolves them on this
# host, with /lib64/ld-linux-x86-64.so.2) goes into the initramfs too. The guest's /init mounts
# proc, sysfs, devtmpfs, tmpfs on /tmp and cgroup2 on /sys/fs/cgroup, runs the script, prints
# its output between markers and TOPOMAP-VM-EXIT=<n>, then powers off.
#
# Exit status: the script's, 77 (skip) when the assets or qemu-system-x86_64 are missing, 125
# when the guest did not boot or produced no exit marker (the console log is printed).
set -euo pipefail
# Directories and files in the guest must not be group- or world-writable: the plugin loader
# refuses them.
umask 022

prog=run-in-vm
assets=${TOPOMAP_VM_ASSETS:-/var/cache/topomap-vm}
timeout=120
append=
script=
bins=()
libs=()
files=()
envs=()
qemu_args=()
drives=()

die() {
	echo "$prog: $*" >&2
	exit 2
}

while (($#)); do
	case "$1" in
	--script | --bin | --lib | --file | --env | --assets | --timeout | --append | --qemu-arg | --drive)
		(($# >= 2)) || die "option '$1' needs an argument"
		case "$1" in
		--script) script=$2 ;;
		--bin) bins+=("$2") ;;
		--lib) libs+=("$2") ;;
		--file) files+=("$2") ;;
		--env) envs+=("$2") ;;
		--assets) assets=$2 ;;
		--timeout) timeout=$2 ;;
		--append) append=$2 ;;
		--qemu-arg) qemu_args+=("$2") ;;
		--drive)
			[[ "$2" =~ ^[a-z0-9]+:[0-9]+$ ]] || die "--drive '$2': need ID:MIB"
			drives+=("$2")
			;;
		esac
		shift 2
		;;
	-h | --help)
		sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"
		exit 0
		;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
done

[[ -n "$script" ]] || die "--script FILE is required"
[[ -f "$script" ]] || die "script '$script' not found"
[[ "$timeout" =~ ^[0-9]+$ ]] && ((timeout >= 30)) || die "--timeout '$timeout': need an integer >= 30"

# The two reasons to skip: nothing else.
qemu=$(command -v qemu-system-x86_64 || true)
if [[ -z "$qemu" ]]; then
	echo "$prog: SKIP: qemu-system-x86_64 not found (Debian package qemu-system-x86)"
	exit 77
fi
if [[ ! -f "$assets/vmlinuz" || ! -x "$assets/busybox" ]]; then
	echo "$prog: SKIP: no vmlinuz and busybox in '$assets' (run tests/vm/fetch-assets.sh" \
		"'$assets', or 'make check')"
	exit 77
fi
busybox="$assets/busybox"

work=$(mktemp -d "${TMPDIR:-/tmp}/topomap-vm.XXXXXX")
qemu_pid=
cleanup() {
	if [[ -n "$qemu_pid" ]]; then
		kill "$qemu_pid" 2>/dev/null || true
		wait "$qemu_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The drives' images live and die with the run: nothing outside $work is written.
for d in ${drives[@]+"${drives[@]}"}; do
	truncate -s "${d#*:}M" "$work/${d%%:*}.img"
	qemu_args+=(-drive "if=none,id=${d%%:*},file=$work/${d%%:*}.img,format=raw")
done

root="$work/root"
# Merged /usr, like the Debian host the libraries come from, so every path ldd prints exists.
mkdir -p "$root"/usr/{bin,sbin,lib,lib64} "$root"/{proc,sys,dev,tmp,run,test}
ln -s usr/bin "$root/bin"
ln -s usr/sbin "$root/sbin"
ln -s usr/lib "$root/lib"
ln -s usr/lib64 "$root/lib64"

# place SRC DEST: copy a file (symlinks followed) to the absolute DEST inside the guest.
place() {
	local src=$1 dest=$2
	[[ -f "$src" ]] || die "'$src' not found or not a regular file"
	[[ "$dest" == /* && "$dest" != */../* && "$dest" != */.. ]] ||
		die "destination '$dest' must be an absolute path without '..'"
	mkdir -p "$root$(dirname "$dest")"
	cp -L "$src" "$root$dest"
	chmod go-w "$root$dest"
}

# The name the loader looks a library up by.
soname() {
	local name=
	if command -v readelf >/dev/null; then
		name=$(readelf -d "$1" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]$/\1/p')
	fi
	printf '%s' "${name:-$(basename "$1")}"
}

is_elf() {
	[[ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" == '177ELF' ]]
}

elves=()
for b in "${bins[@]}"; do
	place "$b" "/usr/bin/$(basename "$b")"
	chmod 0755 "$root/usr/bin/$(basename "$b")"
	elves+=("$b")
done
provided=" "
for l in "${libs[@]}"; do
	name=$(soname "$l")
	place "$l" "/usr/lib/$name"
	provided="$provided$name "
	elves+=("$l")
done
for f in "${files[@]}"; do
	[[ "$f" == *:* ]] || die "--file '$f': expected SRC:DEST"
	place "${f%%:*}" "${f#*:}"
	if is_elf "${f%%:*}"; then
		elves+=("${f%%:*}")
	fi
done

# Every library ldd resolves, at the path it has here; libraries ldd cannot find must be among
# the --lib files (a build-tree library reached through RUNPATH is resolved, and copied too).
place /lib64/ld-linux-x86-64.so.2 /lib64/ld-linux-x86-64.so.2
for e in "${elves[@]}"; do
	if ! deps=$(ldd "$e" 2>/dev/null); then
		continue # static, or not a dynamic object
	fi
	while read -r name arrow path _; do
		if [[ "$arrow" == "=>" && "$path" == "not" ]]; then
			[[ "$provided" == *" $name "* ]] ||
				die "'$e' needs '$name', which ldd cannot find here; pass it with --lib"
		elif [[ "$arrow" == "=>" && "$path" == /* ]]; then
			if [[ "$provided" == *" $name "* ]]; then
				continue
			fi
			case "$(dirname "$path")" in
			/lib | /lib64 | /usr/lib | /usr/lib64 | /lib/x86_64-linux-gnu | /usr/lib/x86_64-linux-gnu)
				[[ -e "$root$path" ]] || place "$path" "$path"
				;;
			*)
				# A library from a build tree: where the guest's loader looks.
				[[ -e "$root/usr/lib/$name" ]] || place "$path" "/usr/lib/$name"
				;;
			esac
		elif [[ "$name" == /* ]]; then
			[[ -e "$root$name" ]] || place "$name" "$name"
		fi
	done <<<"$deps"
done

place "$busybox" /usr/bin/busybox
chmod 0755 "$root/usr/bin/busybox"
while read -r applet; do
	[[ -n "$applet" && ! -e "$root/$applet" && ! -L "$root/$applet" ]] || continue
	mkdir -p "$root/$(dirname "$applet")"
	ln -s /usr/bin/busybox "$root/$applet"
done < <("$busybox" --list-full)

cp "$script" "$root/test/script.sh"
chmod 0755 "$root/test/script.sh"

# The environment for the script, each value single-quoted for sh.
{
	for kv in "${envs[@]}"; do
		name=${kv%%=*}
		value=${kv#*=}
		[[ "$kv" == *=* && "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] ||
			die "--env '$kv': expected NAME=VALUE"
		printf "export %s='%s'\n" "$name" "${value//\'/\'\\\'\'}"
	done
} >"$root/test/env.sh"

guest_timeout=$((timeout - 20))
cat >"$root/init" <<EOF
#!/bin/sh
# Generated by tests/vm/run-in-vm.sh.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TMPDIR=/tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t cgroup2 none /sys/fs/cgroup || echo "init: cannot mount cgroup2 on /sys/fs/cgroup"
# Only emergencies on the console from now on, so the script's output stays readable.
echo 1 > /proc/sys/kernel/printk
. /test/env.sh
echo "==== TOPOMAP-VM-BEGIN ===="
timeout -s KILL $guest_timeout sh /test/script.sh </dev/null 2>&1
rc=\$?
echo "==== TOPOMAP-VM-END ===="
echo "TOPOMAP-VM-EXIT=\$rc"
sync
poweroff -f
EOF
chmod 0755 "$root/init"

# Every file root-owned in the guest: the plugin loader refuses anything else.
(cd "$root" && find . -mindepth 1 | "$busybox" cpio -o -H newc -R 0:0 2>/dev/null) |
	gzip -1 >"$work/initrd.gz"

start=$(date +%s.%N)
timeout --kill-after=5 "$timeout" "$qemu" \
	-accel tcg,thread=multi -cpu qemu64,vendor=GenuineIntel -m 1024 \
	-smp 4,sockets=2,cores=1,threads=2 \
	-object memory-backend-ram,id=m0,size=512M -object memory-backend-ram,id=m1,size=512M \
	-numa node,nodeid=0,cpus=0-1,memdev=m0 -numa node,nodeid=1,cpus=2-3,memdev=m1 \
	-numa dist,src=0,dst=1,val=21 -kernel "$assets/vmlinuz" -initrd "$work/initrd.gz" \
	-append "console=ttyS0 quiet panic=-1 rdinit=/init${append:+ $append}" \
	-nodefaults -display none -serial stdio -no-reboot ${qemu_args[@]+"${qemu_args[@]}"} \
	</dev/null >"$work/console.log" 2>&1 &
qemu_pid=$!
qemu_rc=0
wait "$qemu_pid" || qemu_rc=$?
qemu_pid=
elapsed=$(echo "$start $(date +%s.%N)" | awk '{ printf "%.1f", $2 - $1 }')

tr -d '\r' <"$work/console.log" >"$work/console.txt"
rc=$(sed -n 's/^TOPOMAP-VM-EXIT=\([0-9][0-9]*\)$/\1/p' "$work/console.txt" | tail -n 1)
if [[ -z "$rc" ]] || ! grep -qx '==== TOPOMAP-VM-END ====' "$work/console.txt"; then
	if ((qemu_rc == 124 || qemu_rc == 137)); then
		why="the guest did not finish within ${timeout} s"
	else
		why="qemu exited with status $qemu_rc before the script finished"
	fi
	{
		echo "$prog: $why (after ${elapsed} s); console log:"
		if [[ -s "$work/console.txt" ]]; then
			sed 's/^/  | /' "$work/console.txt"
		else
			echo "  (empty: the kernel did not start; is '$assets/vmlinuz' whole?)"
		fi
	} >&2
	exit 125
fi

sed -n '/^==== TOPOMAP-VM-BEGIN ====$/,/^==== TOPOMAP-VM-END ====$/p' "$work/console.txt"
if ((rc == 137)); then
	echo "$prog: the script was killed after ${guest_timeout} s inside the guest" >&2
fi
echo "$prog: guest finished in ${elapsed} s, script exit status $rc"
exit "$rc"
