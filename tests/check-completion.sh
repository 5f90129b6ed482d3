#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The bash completion, sourced into a non-interactive bash and called as bash would call it:
# subcommands, each subcommand's options (equal to what its --help lists), option values,
# backend names from the built backends, --domain through virsh, --cgroup under the cpuset
# hierarchy.
#
# usage: check-completion.sh TOPOMAP COMPLETION-SCRIPT
set -u

topomap=$1
script=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Completion runs 'topomap' from PATH, as it would for the user.
mkdir "$tmp/bin"
ln -s "$(readlink -f "$topomap")" "$tmp/bin/topomap"
export PATH=$tmp/bin:$PATH

# shellcheck source=/dev/null
source "$script" || { echo "FAIL: cannot source $script"; exit 1; }
declare -F _topomap >/dev/null || { echo "FAIL: no _topomap function"; exit 1; }
[[ $(complete -p topomap 2>/dev/null) == *'-F _topomap'* ]] ||
	{ echo "FAIL: 'complete -F _topomap topomap' not registered"; exit 1; }

fail=0

# complete WORD... : the words of the line, the last one being completed.
complete_words()
{
	COMP_WORDS=("$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE="$*"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	_topomap topomap "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
	printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort -u
}

expect_equal()
{
	local what=$1 got=$2 want=$3
	if [[ $got != "$want" ]]; then
		echo "FAIL: $what: got [$(echo $got)], want [$(echo $want)]"
		fail=1
	else
		echo "ok: $what: $(echo $got)"
	fi
}

expect_has()
{
	local what=$1 got=$2 w
	shift 2
	for w in "$@"; do
		if ! grep -qxF -- "$w" <<<"$got"; then
			echo "FAIL: $what: '$w' missing from [$(echo $got)]"
			fail=1
			return
		fi
	done
	echo "ok: $what"
}

words() { printf '%s\n' "$@" | sort -u; }

# Subcommands: those 'topomap --help' lists, which include these.
commands=$("$topomap" --help | awk '/^Commands:/ { on = 1; next } on && /^$/ { exit }
	on && /^  [a-z]/ { print $1 }')
expect_has 'the help lists the commands' "$commands" topology plan apply verify backends \
	state release
expect_equal 'subcommands' "$(complete_words topomap '')" \
	"$(words $commands --help -h --version)"
expect_equal 'subcommand prefix "ve"' "$(complete_words topomap ve)" \
	"$(grep '^ve' <<<"$commands")"

# Each subcommand's options are exactly those its --help lists.
for cmd in $commands; do
	help=$("$topomap" "$cmd" --help | grep -oE '(^|[[:space:][(|,])--?[a-z][a-z-]*' |
		sed 's/^[^-]*//' | sort -u)
	# state and release share a help text; --format is state's alone, --no-follow release's.
	[[ $cmd == release ]] && help=$(grep -vx -- --format <<<"$help")
	[[ $cmd == state ]] && help=$(grep -vx -- --no-follow <<<"$help")
	expect_equal "options of $cmd = its --help" "$(complete_words topomap "$cmd" -)" "$help"
done
expect_equal 'plan --t' "$(complete_words topomap plan --name vm1 --t)" \
	"$(words --topology --threads --thread-policy)"

# Backend names: the built modules (one directory each on TOPOMAP_PLUGIN_PATH) that
# 'topomap backends' loaded; a module it refused is not offered.
built=$(tr ':' '\n' <<<"${TOPOMAP_PLUGIN_PATH:-}" | sed '/^$/d' | xargs -rn1 basename | sort -u)
[[ -n $built ]] || { echo "FAIL: TOPOMAP_PLUGIN_PATH is not set by the test environment"; fail=1; }
want=$("$topomap" backends | awk 'NR > 1 && /^[a-z0-9-]+ +[0-9]+ / { print $1 }' | sort -u)
refused=$(comm -23 <(echo "$built") <(echo "$want"))
[[ -z $refused ]] || echo "note: built but not loaded by 'topomap backends':" $refused
[[ -n $want ]] || { echo "FAIL: 'topomap backends' loaded no built backend"; fail=1; }
[[ -z $(comm -13 <(echo "$built") <(echo "$want")) ]] ||
	{ echo "FAIL: 'topomap backends' lists backends that were not built"; fail=1; }
expect_equal 'apply --backend' "$(complete_words topomap apply --backend '')" "$want"
expect_equal 'verify --backend=c (split at =)' \
	"$(complete_words topomap verify --backend = c)" "$(grep '^c' <<<"$want")"
expect_equal 'apply --backend=c (one word)' \
	"$(complete_words topomap apply --backend=c)" "$(grep '^c' <<<"$want")"

# Option values.
expect_equal 'plan --format' "$(complete_words topomap plan --format '')" \
	"$(words table json libvirt qemu svg png)"
expect_equal 'topology --format' "$(complete_words topomap topology --format '')" \
	"$(words table json)"
expect_equal 'plan --thread-policy' "$(complete_words topomap plan --thread-policy '')" \
	"$(words prefer isolate require)"
expect_equal 'apply --layout' "$(complete_words topomap apply --layout '')" \
	"$(words container libvirt)"
expect_has 'plan --topology' "$(complete_words topomap plan --topology '')" live synthetic:

# --domain through virsh, with the --connect given before it.
cat >"$tmp/bin/virsh" <<VIRSH
#!/bin/sh
echo "\$*" > "$tmp/virsh-args"
printf 'vm1\nvm2\n\n'
VIRSH
chmod +x "$tmp/bin/virsh"
expect_equal 'apply --domain (virsh)' \
	"$(complete_words topomap apply --backend libvirt --connect test:///default --domain '')" \
	"$(words vm1 vm2)"
expect_equal 'virsh arguments' "$(cat "$tmp/virsh-args" 2>/dev/null)" \
	"-c test:///default list --all --name"
rm "$tmp/bin/virsh"

# --cgroup: directories under the cpuset hierarchy's mount, found by the script's own
# _topomap_cpuset_mount() in /proc/self/mounts, called from the completion as bash calls it
# (inside the --cgroup branch, whose IFS is a newline). First in the machine's real cgroup
# hierarchy, with two cgroups made for the test; then, in a private mount namespace, with the
# same hierarchy mounted somewhere else and unmounted from its usual place, so the mount is
# really read and not assumed. Both need root (mkdir in a cgroup hierarchy, mount); elsewhere
# they are skipped with a note.
mnt=$(_topomap_cpuset_mount)
if [[ $(id -u) != 0 || -z $mnt || ! -w $mnt ]]; then
	echo "note: skipping --cgroup on a real hierarchy (needs root and a cpuset hierarchy;" \
		"found '${mnt}')"
	exit $fail
fi
echo "ok: cpuset hierarchy found at $mnt"
cg=topomap-completion-$$
cleanup_cgroups()
{
	rmdir "$mnt/$cg/ct1" "$mnt/$cg/ct2" "$mnt/$cg" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup_cgroups EXIT
mkdir "$mnt/$cg" "$mnt/$cg/ct1" "$mnt/$cg/ct2" ||
	{ echo "FAIL: cannot make test cgroups under $mnt"; exit 1; }
expect_has 'apply --cgroup (real hierarchy)' "$(complete_words topomap apply --cgroup '')" \
	"$cg/"
expect_equal "apply --cgroup $cg/ (real hierarchy)" \
	"$(complete_words topomap apply --cgroup "$cg/")" "$(words "$cg/ct1/" "$cg/ct2/")"
expect_equal "apply --cgroup=$cg/c (one word, real hierarchy)" \
	"$(complete_words topomap apply "--cgroup=$cg/c")" "$(words "$cg/ct1/" "$cg/ct2/")"
expect_equal 'apply --cgroup ABSOLUTE (real hierarchy)' \
	"$(complete_words topomap apply --cgroup "$mnt/$cg/ct")" \
	"$(words "$mnt/$cg/ct1" "$mnt/$cg/ct2")"

# The same hierarchy seen only at another mount point, in a mount namespace of its own.
if ! command -v unshare >/dev/null || ! unshare --mount true 2>/dev/null; then
	echo "note: skipping --cgroup in a mount namespace (no unshare --mount here)"
	exit $fail
fi
opts=$(awk -v m="$mnt" '$2 == m { print $4 }' /proc/self/mounts)
type=$(awk -v m="$mnt" '$2 == m { print $3 }' /proc/self/mounts)
mkdir "$tmp/elsewhere"
got=$(unshare --mount --propagation private bash -c '
	mount -t "$1" -o "$2" cgroup "$3" && umount "$4" || exit 1
	source "$5"
	COMP_WORDS=(topomap apply --cgroup "$6/"); COMP_CWORD=3; COMPREPLY=()
	_topomap topomap "$6/" --cgroup
	printf "%s\n" "${COMPREPLY[@]}"
	echo "mount: $(_topomap_cpuset_mount)"' \
	ns "$type" "$opts" "$tmp/elsewhere" "$mnt" "$script" "$cg" | sort -u)
expect_equal "apply --cgroup $cg/ (hierarchy mounted at another place)" "$got" \
	"$(words "$cg/ct1/" "$cg/ct2/" "mount: $tmp/elsewhere")"

exit $fail
