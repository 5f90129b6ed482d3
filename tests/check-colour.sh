#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Colour in the table output only on a terminal: never in a pipe, never with NO_COLOR set or
# TERM=dumb, never in json, libvirt or qemu output, and the text under the colour is the
# text of the pipe. The terminal is a pty from script(1).
#
# usage: check-colour.sh TOPOMAP
set -u

topomap=$1
if ! command -v script >/dev/null; then
	echo "SKIP: script(1) (util-linux) is not installed, no pty to test on"
	exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
host='synthetic:pack:1 numa:2(memory=4GiB) core:2 pu:2'
esc=$'\e'
fail=0

# on_tty ENV... -- ARGS...: topomap's stdout on a pty, CRs dropped.
on_tty()
{
	local env=()
	while [[ $1 != -- ]]; do env+=("$1"); shift; done
	shift
	local cmd
	printf -v cmd '%q ' "$topomap" "$@"
	env -u NO_COLOR TERM=xterm "${env[@]}" script -qec "$cmd" /dev/null </dev/null | tr -d '\r'
}

plain()
{
	"$topomap" "$@"
}

strip_sgr()
{
	sed "s/$esc\[[0-9;]*m//g"
}

check()
{
	local what=$1 cond=$2
	if eval "$cond"; then
		echo "ok: $what"
	else
		echo "FAIL: $what"
		fail=1
	fi
}

plan=(plan --topology "$host" --name vm1 --vcpus 2 --reserve 0)

pipe=$(plain "${plan[@]}")
tty=$(on_tty -- "${plan[@]}")
check 'plan table in a pipe: no escape' "[[ \$pipe != *\$esc* ]]"
check 'plan table on a terminal: coloured' "[[ \$tty == *\$esc'[1mguest vm1:'* ]]"
check 'plan table on a terminal: why dim' "[[ \$tty == *\$esc'[2m  why:'* ]]"
check 'plan table on a terminal: same text as the pipe' \
	"[[ \$(strip_sgr <<<\"\$tty\") == \"\$pipe\" ]]"
check 'NO_COLOR=1 on a terminal: no escape' \
	"[[ \$(on_tty NO_COLOR=1 -- \"\${plan[@]}\") == \"\$pipe\" ]]"
check 'NO_COLOR= (empty) on a terminal: coloured' \
	"[[ \$(on_tty NO_COLOR= -- \"\${plan[@]}\") == *\$esc* ]]"
check 'TERM=dumb on a terminal: no escape' \
	"[[ \$(on_tty TERM=dumb -- \"\${plan[@]}\") == \"\$pipe\" ]]"

for fmt in json libvirt qemu; do
	pipe=$(plain "${plan[@]}" --format "$fmt")
	check "plan --format $fmt on a terminal: unchanged" \
		"[[ \$(on_tty -- \"\${plan[@]}\" --format $fmt) == \"\$pipe\" ]]"
done

topo=(topology --topology "$host")
pipe=$(plain "${topo[@]}")
tty=$(on_tty -- "${topo[@]}")
check 'topology table on a terminal: coloured, same text' \
	"[[ \$tty == *\$esc'[1mnode 0:'* && \$(strip_sgr <<<\"\$tty\") == \"\$pipe\" ]]"
pipe=$(plain "${topo[@]}" --format json)
check 'topology --format json on a terminal: unchanged' \
	"[[ \$(on_tty -- \"\${topo[@]}\" --format json) == \"\$pipe\" ]]"

st=(state --topology "$host" --state "$tmp/state.json")
pipe=$(plain "${st[@]}")
tty=$(on_tty -- "${st[@]}")
check 'state table on a terminal: coloured, same text' \
	"[[ \$tty == *\$esc* && \$(strip_sgr <<<\"\$tty\") == \"\$pipe\" ]]"
pipe=$(plain "${st[@]}" --format json)
check 'state --format json on a terminal: unchanged' \
	"[[ \$(on_tty -- \"\${st[@]}\" --format json) == \"\$pipe\" ]]"

exit $fail
