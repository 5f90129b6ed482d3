#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# topomap against a newer hwloc than Debian 12's 2.9 (issue 19): build hwloc from its source
# into a cache, build topomap against it in a build tree of its own, run the unit and
# integration suites there, and prove that the processes of those suites loaded the newer
# library, not the system's. `make check-hwloc-new` (hwloc 2.x) and `make check-hwloc-3`
# (hwloc 3.x); not part of `make check` (building hwloc takes minutes and needs its source).
#
# Usage: HWLOC_NEW_SRC=SRC [HWLOC_NEW_REF=REF] [HWLOC_NEW_MAJOR=N] tests/hwloc-new.sh
#   SRC  an hwloc release tree (it has ./configure), a release tarball (hwloc-X.Y.Z.tar.*),
#        or a git repository (a work tree or a bare one): then REF (a tag, branch or commit)
#        is exported with `git archive` and bootstrapped with ./autogen.sh (autoconf,
#        automake, libtool). REF defaults to the repository's newest hwloc-N.X.Y release tag;
#        for N 3 or more, to its master branch while it has no such tag (hwloc 3.0 is
#        unreleased as this is written: master is 3.0.0a1).
#   N    the major version the source must hold (default: 2 for the default REF, any
#        for a REF or source given).
# Environment:
#   HWLOC_NEW_CACHE     where built versions are kept, one prefix each
#                       (default /var/cache/topomap-hwloc-new; VERSION/ is reused when present)
#   HWLOC_NEW_BUILDDIR  topomap's build tree for it (default build-hwloc-new, made anew)
#   HWLOC_NEW_JOBS      make -j for hwloc (default 2)
#
# Exit: 0 all passed; 1 a failure (build, warning, test, the proof, or a source of another
# major version than HWLOC_NEW_MAJOR); 77 skipped, with the reason (no source given, or the
# tools to bootstrap a git checkout are missing).
#
# hwloc 2.x and 3.x differ in API (core/hwloc-api.h); above all 3.0 keeps no count of a NUMA
# node's pages of each size, which topomap then reads itself (core/topology-pages.c).
#
# hwloc is configured with its own minimal XML parser (--disable-libxml2), as Debian's
# libhwloc15 uses it too (its libxml2 importer is a plugin, libhwloc-plugins, not in
# .ci/packages), and without cairo and the GPU backends, to keep it short.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${HWLOC_NEW_CACHE:-/var/cache/topomap-hwloc-new}
builddir=${HWLOC_NEW_BUILDDIR:-$top/build-hwloc-new}
jobs=${HWLOC_NEW_JOBS:-2}
configure_args=(--disable-static --disable-picky --disable-cairo --disable-libxml2
	--disable-opencl --disable-cuda --disable-nvml --disable-rsmi --disable-levelzero
	--disable-gl)

say() { echo "hwloc-new: $*"; }
fail() {
	echo "hwloc-new: FAIL: $*" >&2
	exit 1
}
skip() {
	echo "hwloc-new: SKIP: $*"
	exit 77
}

if [[ -z "${HWLOC_NEW_SRC:-}" ]]; then
	skip "HWLOC_NEW_SRC is not set: give an hwloc release tree or tarball, or a git" \
		"repository (HWLOC_NEW_REF: default its newest hwloc-${HWLOC_NEW_MAJOR:-2}.X.Y tag;" \
		"for hwloc 3, master while there is none)"
fi
src=$HWLOC_NEW_SRC
[[ -e "$src" ]] || fail "HWLOC_NEW_SRC '$src' does not exist"

tmp=$(mktemp -d /tmp/topomap-hwloc-new.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# Where the source is, and which version: VERSION's major, minor, release and greek.
git_dir=
if [[ -f "$src" ]]; then
	kind="tarball $src"
elif [[ -x "$src/configure" && -f "$src/VERSION" ]]; then
	kind="release tree $src"
elif git_dir=$(git -c safe.directory='*' -C "$src" rev-parse --absolute-git-dir 2>/dev/null); then
	gitc=(git -c safe.directory='*' --git-dir="$git_dir")
	ref=${HWLOC_NEW_REF:-}
	if [[ -z "$ref" ]]; then
		want=${HWLOC_NEW_MAJOR:-2}
		ref=$("${gitc[@]}" tag -l "hwloc-$want.*" |
			grep -E "^hwloc-$want\.[0-9]+\.[0-9]+\$" | sort -V | tail -n 1 || true)
		if [[ -z "$ref" ]] && ((want >= 3)) &&
			"${gitc[@]}" rev-parse -q --verify "refs/heads/master" >/dev/null; then
			ref=master
		fi
		[[ -n "$ref" ]] || fail "no hwloc-$want.X.Y tag in '$src': set HWLOC_NEW_REF"
		HWLOC_NEW_MAJOR=$want
	fi
	"${gitc[@]}" rev-parse -q --verify "$ref^{commit}" >/dev/null ||
		fail "'$ref' is not a tag or commit of '$src'"
	kind="git $src at $ref ($("${gitc[@]}" rev-parse --short "$ref^{commit}"))"
else
	fail "HWLOC_NEW_SRC '$src' is neither an hwloc release tree (./configure), a tarball," \
		"nor a git repository"
fi

# A release tag's tree is a developer snapshot (VERSION: snapshot=1, the greek of its last rc);
# hwloc's contrib/dist/make_dist_tarball sets snapshot=0 and greek= in the release tarball, and
# so does this script to build what was released. Any other ref keeps its VERSION.
release_tag=false
if [[ -n "$git_dir" && "$ref" =~ ^hwloc-([0-9]+)\.([0-9]+)\.([0-9]+)$ ]]; then
	release_tag=true
	tag_version=${BASH_REMATCH[1]}.${BASH_REMATCH[2]}.${BASH_REMATCH[3]}
fi
version_file() {
	if [[ -n "$git_dir" ]] && $release_tag; then
		"${gitc[@]}" show "$ref:VERSION" | sed -e 's/^snapshot=.*/snapshot=0/' -e 's/^greek=.*/greek=/'
	elif [[ -n "$git_dir" ]]; then
		"${gitc[@]}" show "$ref:VERSION"
	elif [[ -f "$src" ]]; then
		tar -xOf "$src" --wildcards '*/VERSION'
	else
		cat "$src/VERSION"
	fi
}
version_field() { version_file | sed -n "s/^$1=//p" | head -n 1; }
major=$(version_field major)
minor=$(version_field minor)
release=$(version_field release)
greek=$(version_field greek)
[[ "$major" =~ ^[0-9]+$ && "$minor" =~ ^[0-9]+$ && "$release" =~ ^[0-9]+$ ]] ||
	fail "cannot read the version from VERSION in $kind"
version=$major.$minor.$release$greek
if [[ "$(version_field snapshot)" == 1 ]]; then
	version=$(version_field snapshot_version | sed -e "s/\${major}/$major/" \
		-e "s/\${minor}/$minor/" -e "s/\${release}/$release/" -e "s/\${greek}/$greek/")
fi
if $release_tag && [[ "$version" != "$tag_version" ]]; then
	fail "tag $ref holds hwloc $version"
fi
say "hwloc $version from $kind"

if [[ -n "${HWLOC_NEW_MAJOR:-}" && "$major" != "$HWLOC_NEW_MAJOR" ]]; then
	fail "$kind holds hwloc $version, not an hwloc $HWLOC_NEW_MAJOR.x"
fi

# hwloc, built once per version into the cache.
prefix=$cache/$version
stamp=$prefix/.topomap-hwloc-new
# Reused when the stamp, written last, names the same source (for a git ref, the same commit:
# a branch such as master moves, its VERSION does not) and the same configure options.
if [[ -f "$prefix/lib/pkgconfig/hwloc.pc" && -f "$stamp" ]] &&
	[[ "$(sed -n 1p "$stamp")" == "$kind" ]] &&
	[[ "$(sed -n 2p "$stamp")" == "configure ${configure_args[*]}" ]]; then
	say "reusing $prefix ($(head -n 1 "$stamp"))"
else
	tree=$tmp/src
	mkdir "$tree"
	if [[ -n "$git_dir" ]]; then
		missing=
		if command -v dpkg >/dev/null; then
			for p in autoconf automake libtool; do
				dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed' ||
					missing="$missing $p"
			done
		else
			for p in autoreconf automake libtoolize; do
				command -v "$p" >/dev/null || missing="$missing $p"
			done
		fi
		if [[ -n "$missing" ]]; then
			skip "a git checkout of hwloc needs ./autogen.sh, which needs autoconf," \
				"automake and libtool; missing:$missing (apt-get install$missing)," \
				"or give a release tree or tarball in HWLOC_NEW_SRC"
		fi
		"${gitc[@]}" archive --format=tar "$ref" | tar -C "$tree" -xf -
		version_file >"$tree/VERSION"
		say "./autogen.sh (log: $tmp/autogen.log)"
		(cd "$tree" && ./autogen.sh) >"$tmp/autogen.log" 2>&1 ||
			{ tail -n 30 "$tmp/autogen.log" >&2; fail "autogen.sh failed"; }
	elif [[ -f "$src" ]]; then
		tar -C "$tree" --strip-components=1 -xf "$src"
	else
		cp -a "$src/." "$tree/"
	fi
	rm -rf "$prefix"
	mkdir -p "$prefix" || fail "cannot create '$prefix': set HWLOC_NEW_CACHE"
	mkdir "$tmp/build"
	say "configure --prefix=$prefix ${configure_args[*]}"
	(cd "$tmp/build" && "$tree/configure" --prefix="$prefix" --libdir="$prefix/lib" \
		"${configure_args[@]}") >"$tmp/configure.log" 2>&1 ||
		{ tail -n 30 "$tmp/configure.log" >&2; fail "hwloc's configure failed"; }
	say "make -j$jobs && make install"
	t0=$(date +%s)
	(cd "$tmp/build" && make -j"$jobs" && make install) >"$tmp/make.log" 2>&1 ||
		{ tail -n 40 "$tmp/make.log" >&2; fail "building hwloc failed"; }
	printf '%s\nconfigure %s\n' "$kind" "${configure_args[*]}" >"$stamp"
	say "hwloc $version built and installed in $(($(date +%s) - t0)) s"
fi
installed=$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --modversion hwloc)
[[ "$installed" == "$version" ]] ||
	fail "$prefix/lib/pkgconfig/hwloc.pc says $installed, not $version"

# topomap against it: found through pkg-config, and every binary linked with a run path to
# it, so the tests load it with no LD_LIBRARY_PATH. A new tree each time, so that every
# warning the new headers cause is printed.
rm -rf "$builddir"
say "meson setup $builddir (PKG_CONFIG_PATH=$prefix/lib/pkgconfig, run path $prefix/lib)"
PKG_CONFIG_PATH=$prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH} \
	LDFLAGS="-Wl,-rpath,$prefix/lib${LDFLAGS:+ $LDFLAGS}" \
	meson setup -Dwerror=false "$builddir" "$top" >"$tmp/setup.log" 2>&1 ||
	{ cat "$tmp/setup.log" >&2; fail "meson setup failed"; }
found=$(meson introspect --dependencies "$builddir" | python3 -c '
import json, sys
print(" ".join(d["version"] for d in json.load(sys.stdin) if d["name"] == "hwloc"))')
[[ "$found" == "$version" ]] || fail "meson found hwloc '$found', not $version"
say "meson found hwloc $found"
# Which interface core/topology-pages.c node_page_types() compiles to against it.
api=$(sed -n 's/^#define HWLOC_API_VERSION \(0x[0-9a-fA-F]*\).*/\1/p' "$prefix/include/hwloc.h")
[[ -n "$api" ]] || fail "no HWLOC_API_VERSION in $prefix/include/hwloc.h"
if ((api >= 0x00030000)); then
	say "HWLOC_API_VERSION $api: each NUMA node's page types read by topomap, from the XML" \
		"given to hwloc or from sysfs (hwloc 3 keeps their sizes only)"
else
	say "HWLOC_API_VERSION $api: each NUMA node's page types from hwloc's page_types"
fi

build_ok=true
ninja -C "$builddir" >"$tmp/ninja.log" 2>&1 || build_ok=false
grep -E -A4 'warning:|error:|FAILED' "$tmp/ninja.log" || true
$build_ok || fail "topomap does not build against hwloc $version"
warnings=$(grep -c 'warning:' "$tmp/ninja.log" || true)
say "topomap built against hwloc $version: $warnings compiler warnings"

# Statically: every ELF of the build that needs libhwloc resolves it in the cache.
linked=0
while IFS= read -r -d '' f; do
	need=$(readelf -d "$f" 2>/dev/null | sed -n 's/.*NEEDED.*\[\(libhwloc\.so[^]]*\)\].*/\1/p' || true)
	[[ -n "$need" ]] || continue
	path=$(ldd "$f" | awk -v n="$need" '$1 == n { print $3 }')
	[[ "$path" == "$prefix/lib/"* ]] || fail "ldd $f: $need => '$path', not in $prefix/lib"
	linked=$((linked + 1))
done < <(find "$builddir" -type f \( -perm -u+x -o -name '*.so*' \) -print0)
((linked > 0)) || fail "no binary of $builddir links libhwloc"
say "ldd: $linked binaries and modules resolve libhwloc in $prefix/lib, e.g."
ldd "$builddir/core/libtopomap.so.0" | grep libhwloc | sed 's/^\s*/  libtopomap.so.0: /'
ldd "$builddir/tests/test-topology" | grep libhwloc | sed 's/^\s*/  test-topology: /'

# At run time: the unit and integration suites, each process of them logging which shared
# objects it initialised (glibc's LD_DEBUG=libs, to a file per process, not to the tests'
# stderr). hwloc's tools (lstopo, which draws the pictures) stay Debian's: the new build has no
# cairo, so its lstopo draws no PNG; they read the XML the new library writes.
ld=$tmp/ld-debug
mkdir "$ld"
say "meson test --suite unit --suite integration"
status=0
LD_DEBUG=libs LD_DEBUG_OUTPUT=$ld/pid \
	meson test -C "$builddir" --suite unit --suite integration --print-errorlogs ||
	status=$?
read -r passed failed skipped < <(python3 -c '
import json, sys
r = [json.loads(l)["result"] for l in open(sys.argv[1]) if l.strip()]
print(r.count("OK") + r.count("EXPECTEDFAIL"),
      len(r) - r.count("OK") - r.count("EXPECTEDFAIL") - r.count("SKIP"), r.count("SKIP"))
' "$builddir/meson-logs/testlog.json")

# Which libhwloc each process of the suites initialised: every one under the cache, but in the
# runs of Debian's own hwloc tools (lstopo), which load Debian's.
python3 - "$ld" "$prefix/lib/" <<'EOF' || fail "a process of the suites loaded a libhwloc outside $prefix/lib"
import collections, os, re, sys
ld, where = sys.argv[1:]
ours, tools = collections.Counter(), collections.Counter()
for name in os.listdir(ld):
    text = open(os.path.join(ld, name), errors="replace").read()
    libs = re.findall(r"calling init: (\S*/libhwloc\.so\S*)", text)
    if not libs:
        continue
    prog = re.search(r"initialize program: (\S+)", text)
    prog = os.path.basename(prog.group(1)) if prog else "?"
    tool = prog.startswith(("lstopo", "hwloc-"))
    for lib in libs:
        (tools if tool else ours)[(prog if tool else "", lib)] += 1
print("hwloc-new: %d processes of the suites (topomap, its tests, modules, python) loaded "
      "libhwloc:" % sum(ours.values()))
for (_, lib), n in sorted(ours.items()):
    print("  %5d  %s" % (n, lib))
if tools:
    print("hwloc-new: and hwloc's own tools, Debian's, loaded their own:")
    for (prog, lib), n in sorted(tools.items()):
        print("  %5d  %s: %s" % (n, prog, lib))
sys.exit(0 if ours and all(lib.startswith(where) for _, lib in ours) else 1)
EOF
# And the library itself, in a process that loaded libtopomap, says which release it is: the
# hwlocVersion its XML export carries (hwloc_get_api_version() names the API, 2.12 for 2.14).
python3 - "$builddir/core/libtopomap.so.0" "$prefix/lib/" "$version" <<'EOF' ||
import ctypes, re, sys
lib, where, want = sys.argv[1:]
ctypes.CDLL(lib, mode=ctypes.RTLD_GLOBAL)
maps = sorted({l.split()[-1] for l in open("/proc/self/maps") if "/libhwloc.so" in l})
hw = ctypes.CDLL(maps[0])
t, buf, n = ctypes.c_void_p(), ctypes.c_char_p(), ctypes.c_int()
if (hw.hwloc_topology_init(ctypes.byref(t)) or hw.hwloc_topology_set_synthetic(t, b"pu:1")
        or hw.hwloc_topology_load(t) or hw.hwloc_topology_export_xmlbuffer(
            t, ctypes.byref(buf), ctypes.byref(n), ctypes.c_ulong(0))):
    sys.exit("hwloc-new: FAIL: cannot export a topology through " + maps[0])
got = re.findall(rb'<info name="hwlocVersion" value="([^"]*)"', buf.value)
print("hwloc-new: /proc/self/maps of a process that loaded libtopomap: %s, which says it is "
      "hwloc %s" % (" ".join(maps), b" ".join(got).decode()))
sys.exit(0 if len(maps) == 1 and maps[0].startswith(where) and got == [want.encode()] else 1)
EOF
	fail "the libhwloc that libtopomap loads is not hwloc $version from $prefix/lib"

echo
say "hwloc $version ($prefix): $warnings compiler warnings; unit and integration:"
echo "hwloc-new: $passed passed, $failed failed, $skipped skipped"
((status == 0 && failed == 0)) || exit 1
((warnings == 0)) || fail "$warnings compiler warnings against hwloc $version (above)"
exit 0
