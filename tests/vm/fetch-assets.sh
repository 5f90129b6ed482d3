#!/bin/bash
# Fetch what the nested-guest tests boot: a Debian cloud kernel and a static busybox, from
# Debian packages, unpacked (never installed) into DIR.
#
# Usage: tests/vm/fetch-assets.sh [DIR]
#   DIR defaults to $TOPOMAP_VM_ASSETS, else /var/cache/topomap-vm.
#
# Idempotent: when DIR already holds vmlinuz and busybox it does nothing. Afterwards DIR holds
#   vmlinuz        the kernel (boot/vmlinuz-* of linux-image-6.1.0-N-cloud-amd64)
#   busybox        the static busybox (busybox-static), also used on the build host as `cpio`
#   config         the kernel's build configuration
#   PACKAGES       the two packages and versions they came from
# Everything the guest needs (NUMA, cgroup v2 cpuset, devtmpfs, initramfs, serial console) is
# built into that kernel, so no module goes into the initramfs; the script checks it and
# fails, naming the option, if a later kernel ever turns one into a module.
set -euo pipefail

dir=${1:-${TOPOMAP_VM_ASSETS:-/var/cache/topomap-vm}}

if [[ -f "$dir/vmlinuz" && -x "$dir/busybox" ]]; then
	echo "fetch-assets: '$dir' already holds vmlinuz and busybox; nothing to do"
	exit 0
fi

for tool in apt-get apt-cache dpkg; do
	if ! command -v "$tool" >/dev/null; then
		echo "fetch-assets: '$tool' not found: not a Debian system; put vmlinuz and busybox" \
			"in '$dir' yourself" >&2
		exit 1
	fi
done

updated=false
apt_update() {
	if [[ "$updated" == false ]]; then
		updated=true
		echo "fetch-assets: apt-get update"
		apt-get update -qq >&2
	fi
}

# The versioned kernel package that the cloud meta-package depends on now, else the newest
# linux-image-6.1.0-N-cloud-amd64 (not -dbg, not -unsigned) that apt knows.
resolve_kernel() {
	local pkg
	pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-cloud-amd64\)$/\1/p' | head -n 1)
	if [[ -z "$pkg" ]]; then
		pkg=$(apt-cache search --names-only '^linux-image-[0-9.]+-[0-9]+-cloud-amd64$' \
			2>/dev/null | cut -d ' ' -f 1 | sort -V | tail -n 1)
	fi
	printf '%s' "$pkg"
}

kernel_pkg=$(resolve_kernel)
if [[ -z "$kernel_pkg" ]]; then
	apt_update
	kernel_pkg=$(resolve_kernel)
fi
if [[ -z "$kernel_pkg" ]]; then
	echo "fetch-assets: apt offers no linux-image-*-cloud-amd64 package" >&2
	exit 1
fi

if ! mkdir -p "$dir" 2>/dev/null || [[ ! -w "$dir" ]]; then
	echo "fetch-assets: cannot write to '$dir': run as root, or give a directory of yours" \
		"(tests/vm/fetch-assets.sh DIR, and TOPOMAP_VM_ASSETS=DIR for the tests)" >&2
	exit 1
fi
work=$(mktemp -d "$dir/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT

download() {
	# apt-get download writes into the current directory; as root, apt warns that the
	# sandbox user cannot write there, which is harmless.
	(cd "$work" && apt-get download -qq "$kernel_pkg" busybox-static 2>&1 |
		grep -v 'Download is performed unsandboxed' >&2 || true)
	compgen -G "$work/linux-image-*.deb" >/dev/null && compgen -G "$work/busybox-static_*.deb" >/dev/null
}

if ! download; then
	apt_update
	kernel_pkg=$(resolve_kernel)
	rm -f "$work"/*.deb
	if ! download; then
		echo "fetch-assets: apt-get download $kernel_pkg busybox-static failed" >&2
		exit 1
	fi
fi

mkdir "$work/root"
for deb in "$work"/*.deb; do
	dpkg -x "$deb" "$work/root"
done

kernel=$(compgen -G "$work/root/boot/vmlinuz-*" | head -n 1 || true)
config=$(compgen -G "$work/root/boot/config-*" | head -n 1 || true)
busybox="$work/root/bin/busybox"
if [[ -z "$kernel" || -z "$config" || ! -x "$busybox" ]]; then
	echo "fetch-assets: the packages lack boot/vmlinuz-*, boot/config-* or bin/busybox" >&2
	exit 1
fi

# What the guest's /init and the tests rely on; each must be built in (=y), since the
# initramfs carries no modules.
missing=
for opt in BLK_DEV_INITRD RD_GZIP DEVTMPFS PROC_FS SYSFS TMPFS BINFMT_ELF BINFMT_SCRIPT \
	SERIAL_8250 SERIAL_8250_CONSOLE ACPI ACPI_NUMA NUMA X86_64_ACPI_NUMA SCHED_SMT \
	CGROUPS CPUSETS MIGRATION; do
	grep -qx "CONFIG_$opt=y" "$config" || missing="$missing CONFIG_$opt"
done
if [[ -n "$missing" ]]; then
	echo "fetch-assets: $kernel_pkg does not build in:$missing (a module or absent);" \
		"the guest cannot boot the tests without it" >&2
	exit 1
fi

install -m 0644 "$kernel" "$work/vmlinuz"
install -m 0644 "$config" "$work/config"
install -m 0755 "$busybox" "$work/busybox"
dpkg-deb -f "$work"/linux-image-*.deb Package Version >"$work/PACKAGES"
dpkg-deb -f "$work"/busybox-static_*.deb Package Version >>"$work/PACKAGES"

# busybox last: its presence, with vmlinuz, is what marks the directory complete.
for f in config PACKAGES vmlinuz busybox; do
	mv -f "$work/$f" "$dir/$f"
done

echo "fetch-assets: unpacked $(basename "$kernel") ($kernel_pkg) and busybox" \
	"($(sed -n 's/^Version: //p' "$dir/PACKAGES" | tail -n 1)) into '$dir'"
