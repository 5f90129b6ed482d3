#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Build the Debian packages from a copy of the source tree, install them, and check the
# installed result as a user would meet it: the README's library example compiled with
# `pkg-config --cflags --libs topomap` and run, the command finding its backends, the hook
# and man pages in place. `make deb-check`, after `make check` in CI.
#
# As root the packages are installed with dpkg -i and purged at the end, leaving the machine as
# it was (it refuses to run when any of them is installed already). Otherwise they are
# unpacked with dpkg -x into a temporary root, and the example is built against that.
#
# Usage: tests/deb-check.sh [SOURCE-DIR]   (default: the tree this script is in)

# $pc_env and $run_env are lists of VAR=VALUE words for env(1), empty when installed.
# shellcheck disable=SC2086
set -eu

src=$(cd "${1:-$(dirname "$0")/..}" && pwd)
packages="libtopomap0 libtopomap-dev topomap topomap-backend-cgroup
	topomap-backend-qemu-direct topomap-backend-libvirt python3-topomap"
backends="cgroup libvirt qemu-direct"
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
arch=$(dpkg-architecture -qDEB_HOST_ARCH)

tmp=$(mktemp -d /tmp/topomap-deb.XXXXXX)
installed=
cleanup() {
	status=$?
	if [ -n "$installed" ]; then
		echo "== dpkg --purge"
		# shellcheck disable=SC2086 # one package name per word
		dpkg --purge $packages >"$tmp/purge.log" 2>&1 || {
			cat "$tmp/purge.log" >&2
			status=1
		}
	fi
	rm -rf "$tmp"
	exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
	echo "deb-check: FAIL: $*" >&2
	exit 1
}

# A copy of the tree (what git tracks or would track), so the build's outputs, and the .debs
# that dpkg-buildpackage writes next to the source directory, stay in $tmp.
echo "== copying $src"
mkdir "$tmp/topomap-$version"
if git -c safe.directory="$src" -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
	# shellcheck disable=SC2016 # the inner shell expands "$f"
	git -c safe.directory="$src" -C "$src" ls-files -z --cached --others --exclude-standard |
		(cd "$src" && xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\n" "$f"; done' sh) \
		>"$tmp/files"
	tar -C "$src" -cf - -T "$tmp/files" | tar -C "$tmp/topomap-$version" -xf -
else
	tar -C "$src" --exclude='./build*' --exclude='./obj-*' --exclude=./.git -cf - . |
		tar -C "$tmp/topomap-$version" -xf -
fi

echo "== dpkg-buildpackage -us -uc -b"
start=$(date +%s)
(cd "$tmp/topomap-$version" &&
	DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" dpkg-buildpackage -us -uc -b) \
	>"$tmp/build.log" 2>&1 || {
	tail -n 60 "$tmp/build.log" >&2
	fail "dpkg-buildpackage failed (the last lines of its log are above)"
}
echo "   built in $(($(date +%s) - start)) s"

# The .deb of a package: of this architecture, or of all (the Python module).
deb_of() {
	if [ -f "$tmp/${1}_${version}_all.deb" ]; then
		echo "$tmp/${1}_${version}_all.deb"
	else
		echo "$tmp/${1}_${version}_${arch}.deb"
	fi
}
debs=
for p in $packages; do
	deb=$(deb_of "$p")
	[ -f "$deb" ] || fail "no package $p (${deb##*/})"
	debs="$debs $deb"
done

# Each file in the package it belongs to.
has() {
	dpkg-deb -c "$(deb_of "$1")" | grep -E " \./$2( -> .*)?$" >/dev/null ||
		fail "package $1 has no /$2"
}
has libtopomap0 "usr/lib/$multiarch/libtopomap.so.0"
has libtopomap-dev "usr/lib/$multiarch/libtopomap.so"
has libtopomap-dev "usr/lib/$multiarch/pkgconfig/topomap.pc"
has libtopomap-dev usr/include/topomap/topomap.h
has libtopomap-dev usr/include/topomap/backend.h
has libtopomap-dev usr/include/topomap/plugin.h
has topomap usr/bin/topomap
has topomap usr/share/doc/topomap/examples/libvirt-hook-qemu
has topomap usr/share/bash-completion/completions/topomap
# What a new user reads first: the README, the man pages (the hook's too), the example guests
# and hosts of the source tree, every one of them, ungzipped so topomap can read them.
has topomap 'usr/share/doc/topomap/README\.md(\.gz)?'
has topomap usr/share/man/man1/topomap.1.gz
has topomap usr/share/man/man7/topomap-hook.7.gz
has python3-topomap usr/lib/python3/dist-packages/topomap/__init__.py
has python3-topomap usr/lib/python3/dist-packages/topomap/_lib.py
dpkg-deb -f "$(deb_of python3-topomap)" Depends | grep -q "libtopomap0 (>= $version)" ||
	fail "python3-topomap does not depend on libtopomap0 (>= $version)"
for f in "$src"/examples/*.json "$src"/examples/*.xml "$src"/examples/host-2s-ht/*.json; do
	has topomap "usr/share/doc/topomap/examples/${f#"$src"/examples/}"
done
echo "== contents of topomap_${version}_${arch}.deb"
dpkg-deb -c "$tmp/topomap_${version}_${arch}.deb" | awk '$1 !~ /^d/ { print "   " $NF }'
for b in $backends; do
	has "topomap-backend-$b" "usr/lib/$multiarch/topomap/backends/$b.so"
	dpkg-deb -f "$tmp/topomap-backend-${b}_${version}_${arch}.deb" Depends |
		grep -q "libtopomap0 (= $version)" ||
		fail "topomap-backend-$b does not depend on libtopomap0 (= $version)"
done

if [ "$(id -u)" = 0 ]; then
	for p in $packages; do
		if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q ' installed$'; then
			fail "$p is installed already; remove it first (this test purges what it installs)"
		fi
	done
	echo "== dpkg -i"
	installed=yes
	# shellcheck disable=SC2086 # one file per word
	dpkg -i $debs >"$tmp/install.log" 2>&1 || {
		cat "$tmp/install.log" >&2
		fail "dpkg -i failed"
	}
	root=
	pc_env=
	run_env=
else
	echo "== dpkg -x (not root: unpacked into a temporary root, not installed)"
	root=$tmp/root
	for deb in $debs; do
		dpkg -x "$deb" "$root"
	done
	pc_env="PKG_CONFIG_PATH=$root/usr/lib/$multiarch/pkgconfig PKG_CONFIG_SYSROOT_DIR=$root"
	run_env="LD_LIBRARY_PATH=$root/usr/lib/$multiarch TOPOMAP_PLUGIN_PATH=$root/usr/lib/$multiarch/topomap/backends"
fi

# The README's library example, built against the installed headers and library only.
echo "== README example with pkg-config --cflags --libs topomap"
cc -o "$tmp/extract-example" "$src/tests/extract-example.c"
"$tmp/extract-example" "$src/README.md" "$tmp/example.c"
flags=$(env $pc_env pkg-config --cflags --libs topomap) || fail "pkg-config knows no topomap"
echo "   cc example.c $flags"
# shellcheck disable=SC2086 # pkg-config's flags, one per word
cc -Wall -Werror -o "$tmp/example" "$tmp/example.c" $flags
# As root it runs as the README says, with the installed cgroup backend on a cgroup of its own
# (made, pinned, verified, released, then removed here); otherwise it is only built.
if [ -n "$installed" ] && { [ -d /sys/fs/cgroup/cpuset ] || [ -f /sys/fs/cgroup/cgroup.controllers ]; }; then
	cg=topomap-deb-check-$$
	if [ -d /sys/fs/cgroup/cpuset ]; then cg_dir=/sys/fs/cgroup/cpuset/$cg; else cg_dir=/sys/fs/cgroup/$cg; fi
	status=0
	env -u TOPOMAP_PLUGIN_PATH "$tmp/example" "$tmp/embed-state.json" cgroup "cgroup=$cg" create= \
		>"$tmp/example.out" 2>&1 || status=$?
	pu=$(sed -n 's/^db: vcpu 0 on PU \([0-9]*\), memory on node.*/\1/p' "$tmp/example.out")
	pinned=$(cat "$cg_dir/cpuset.cpus" 2>/dev/null || :)
	rmdir "$cg_dir" 2>/dev/null || :
	[ "$status" = 0 ] || fail "the example failed: $(cat "$tmp/example.out")"
	grep -q '^db: in force; 1 guest(s) recorded$' "$tmp/example.out" ||
		fail "unexpected example output: $(cat "$tmp/example.out")"
	if [ -z "$pu" ] || [ "$pinned" != "$pu" ]; then
		fail "the example's cgroup holds '$pinned', not the PU it printed ('$pu')"
	fi
	echo "   $(head -1 "$tmp/example.out"); $cg_dir held PU $pinned"
else
	echo "   example built; not run (needs root and a cgroup cpuset hierarchy)"
fi
if [ -z "$root" ]; then
	ldd "$tmp/example" | grep -Eq "=> (/usr)?/lib/$multiarch/libtopomap.so.0 " ||
		fail "the example is not linked to the installed library: $(ldd "$tmp/example")"
fi

# The installed command: its version, its backends from the installed directory (never the
# build tree's), and a plan.
echo "== installed topomap"
topomap=$root/usr/bin/topomap
env -u TOPOMAP_PLUGIN_PATH $run_env "$topomap" --version | grep -q "$version" ||
	fail "topomap --version does not say $version"
env -u TOPOMAP_PLUGIN_PATH $run_env "$topomap" backends >"$tmp/backends.out" ||
	fail "topomap backends failed"
for b in $backends; do
	grep -q "^$b\b" "$tmp/backends.out" ||
		fail "topomap backends does not list $b: $(cat "$tmp/backends.out")"
done
env -u TOPOMAP_PLUGIN_PATH $run_env "$topomap" plan --topology 'synthetic:pack:2 numa:1(memory=4GiB) core:2 pu:2' \
	--state "$tmp/state.json" --name vm --vcpus 2 --format json >/dev/null ||
	fail "topomap plan failed"
if command -v lstopo-no-graphics >/dev/null; then
	env -u TOPOMAP_PLUGIN_PATH $run_env "$topomap" plan --topology 'synthetic:pack:2 numa:1(memory=4GiB) core:2 pu:2' \
		--state "$tmp/state.json" --name vm --vcpus 2 --format svg | grep -q '<svg' ||
		fail "topomap plan --format svg drew no SVG"
fi
[ -x "$root/usr/share/doc/topomap/examples/libvirt-hook-qemu" ] ||
	fail "the libvirt hook is not installed executable"
[ -f "$root/usr/share/man/man1/topomap.1.gz" ] || fail "topomap(1) is not installed"
[ -f "$root/usr/share/man/man7/topomap-hook.7.gz" ] || fail "topomap-hook(7) is not installed"
zcat "$root/usr/share/man/man7/topomap-hook.7.gz" | grep -q 'libvirt-hook-qemu' ||
	fail "topomap-hook(7) does not name the hook"

# The README's demo with the installed examples: the example host and the guests written for
# it, read from where the package put them.
ex=$root/usr/share/doc/topomap/examples
env -u TOPOMAP_PLUGIN_PATH $run_env "$topomap" plan --topology "$ex/host-2s-ht.xml" \
	--state "$tmp/state.json" "$ex"/host-2s-ht/*.json >"$tmp/demo.out" ||
	fail "topomap plan on the installed example host and guests failed"
env -u TOPOMAP_PLUGIN_PATH $run_env "$topomap" plan --topology 'synthetic:numa:1(memory=4GiB) core:2 pu:1' \
	--state "$tmp/state.json" "$ex"/*.json >"$tmp/demo.out" ||
	fail "topomap plan of the installed example guests failed"

# The Python module as Debian's python3 finds it (not a python of one's own first in PATH),
# with the installed library: the README's one-call plan, and NoFit for a guest too big.
echo "== installed python3-topomap"
py_env=
[ -z "$root" ] || py_env="PYTHONPATH=$root/usr/lib/python3/dist-packages"
env -u TOPOMAP_LIBRARY -u PYTHONPATH $py_env $run_env /usr/bin/python3 -c '
import json, sys, topomap
assert topomap.__file__.startswith(sys.argv[1]), topomap.__file__
p = topomap.plan(topology="synthetic:pack:2 core:2 pu:2", guests=[{"name": "db", "vcpus": 2}])
assert [g["name"] for g in json.loads(p.to_json())["guests"]] == ["db"], p.to_json()
try:
    topomap.plan(topology="synthetic:pack:1 core:2 pu:1", guests=[{"name": "big", "vcpus": 8}])
except topomap.NoFit:
    pass
else:
    raise SystemExit("a guest of 8 vcpus fitted 2 PUs")
' "$root/usr/lib/python3/dist-packages/topomap/" || fail "the installed Python module failed"

echo "deb-check: ok"
