#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Every option that 'topomap CMD --help' lists is described in the OPTIONS sections of
# CMD's man page, and every option described there is in the help.
#
# usage: check-help-man.sh TOPOMAP MANDIR   (MANDIR 'none': the man pages were not built)
set -u

topomap=$1
mandir=$2

if [[ $mandir == none ]]; then
	echo "SKIP: scdoc was not found at configure time, so the man pages were not built"
	exit 77
fi

# -o, --format, ...: a dash at the start of a word, then a letter.
options()
{
	grep -oE '(^|[[:space:][(|,])--?[a-z][a-z-]*' | sed 's/^[^-]*//' | sort -u
}

# The text of the sections whose title holds OPTIONS, font escapes removed.
man_options()
{
	awk '/^\.SH / { keep = ($0 ~ /OPTIONS/); next } keep' "$1" |
		sed -e 's/\\f[BIRP]//g' -e 's/\\&//g' -e 's/\\-/-/g' -e 's/\\(em/ /g' | options
}

fail=0
check()
{
	local page=$mandir/$1.1
	shift
	local help man

	if [[ ! -s $page ]]; then
		echo "FAIL: $page is missing"
		fail=1
		return
	fi
	if ! help=$("$topomap" "$@" --help | options); then
		echo "FAIL: topomap $* --help failed"
		fail=1
		return
	fi
	man=$(man_options "$page")
	if [[ -z $help ]]; then
		echo "FAIL: topomap $* --help lists no option"
		fail=1
	fi
	local only_help only_man
	only_help=$(comm -23 <(echo "$help") <(echo "$man"))
	only_man=$(comm -13 <(echo "$help") <(echo "$man"))
	if [[ -n $only_help ]]; then
		echo "FAIL: in 'topomap $* --help' but not in $(basename "$page"):" $only_help
		fail=1
	fi
	if [[ -n $only_man ]]; then
		echo "FAIL: in $(basename "$page") but not in 'topomap $* --help':" $only_man
		fail=1
	fi
	[[ -z $only_help && -z $only_man ]] &&
		echo "ok: topomap $* --help and $(basename "$page"): $(echo $help)"
}

# Every command 'topomap --help' lists (a new one is checked with no change here), against
# topomap-CMD.1, or the page that one sources with .so (release: topomap-state.1).
check topomap
commands=$("$topomap" --help | awk '/^Commands:/ { on = 1; next } on && /^$/ { exit }
	on && /^  [a-z]/ { print $1 }')
[[ -n $commands ]] || { echo "FAIL: 'topomap --help' lists no command"; fail=1; }
for cmd in $commands; do
	page=topomap-$cmd
	so=${TOPOMAP_SOURCE_ROOT:-}/man/topomap-$cmd.1
	if [[ ! -e $mandir/$page.1 && -f $so ]]; then
		target=$(sed -n 's|^\.so man1/\(.*\)\.1$|\1|p' "$so")
		[[ -n $target ]] && page=$target
	fi
	check "$page" "$cmd"
done

# Every page is a man page: a title line, and NAME/SYNOPSIS sections.
for page in "$mandir"/*.1; do
	grep -q '^\.TH ' "$page" || { echo "FAIL: $page has no .TH"; fail=1; }
	grep -q '^\.SH NAME' "$page" || { echo "FAIL: $page has no NAME"; fail=1; }
	grep -q '^\.SH SYNOPSIS' "$page" || { echo "FAIL: $page has no SYNOPSIS"; fail=1; }
done
exit $fail
