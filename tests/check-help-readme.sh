#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The help, the man pages and the README say the same. The commands are the ones
# 'topomap --help' lists (a command added there is checked with no change here); for each:
#   - 'topomap CMD --help' works, lists its options, and ends with an example that runs
#     'topomap CMD' with options it lists;
#   - the README has a section on it (a '### ' heading naming 'topomap CMD');
#   - every long option of its --help is in the README's part on the command;
#   - its man page (topomap-CMD.1, or the page it sources with .so) is in the tree and has
#     an EXAMPLES section that runs 'topomap CMD'.
# And every long option the README's part on the command line names for topomap (in a
# backtick span that starts with '--' or 'topomap ', or a code line that runs topomap; not
# `numactl --hardware`) is an option of some command's --help. (Options against the man pages' OPTIONS sections: check-help-man.sh.)
#
# usage: check-help-readme.sh TOPOMAP SOURCE-ROOT
set -u

topomap=$1
root=$2
readme=$root/README.md
fail=0

# --topology, --format, ...: two dashes at the start of a word, then a letter.
long_options()
{
	grep -oE '(^|[^a-z0-9-])--[a-z][a-z-]*' | sed 's/^[^-]*//' | sort -u
}

# The commands of 'topomap --help': the indented lines of its "Commands:" block.
commands=$("$topomap" --help | awk '/^Commands:/ { on = 1; next } on && /^$/ { exit }
	on && /^  [a-z]/ { print $1 }')
if [[ -z $commands ]]; then
	echo "FAIL: 'topomap --help' lists no command under 'Commands:'"
	exit 1
fi

# The README's part on the command line: from '## The `topomap` command' to the next '## '.
cli_part=$(awk '/^## The `topomap` command/ { on = 1; next } on && /^## / { exit } on' "$readme")
if [[ -z $cli_part ]]; then
	echo "FAIL: README.md has no section '## The \`topomap\` command'"
	exit 1
fi
readme_options=$( {
	grep -oE '`[^`]+`' <<<"$cli_part" | grep -E '^`(--|topomap )'
	grep -E '^ *topomap ' <<<"$cli_part"
} | long_options)

all_help=$("$topomap" --help | long_options)
for cmd in $commands; do
	if ! help=$("$topomap" "$cmd" --help 2>&1); then
		echo "FAIL: 'topomap $cmd --help' failed: $help"
		fail=1
		continue
	fi
	# The options it lists: the text before its example.
	opts=$(sed '/^Examples\{0,1\}:$/,$d' <<<"$help" | long_options)
	example=$(sed -n '/^Examples\{0,1\}:$/,$p' <<<"$help")
	if ! grep -qE "^  topomap $cmd( |$)" <<<"$example"; then
		echo "FAIL: 'topomap $cmd --help' has no example of 'topomap $cmd' (an 'Example:' block)"
		fail=1
	fi
	stray=$(comm -13 <(echo "$opts") <(long_options <<<"$example") | sed '/^$/d')
	if [[ -n $stray ]]; then
		echo "FAIL: the example of 'topomap $cmd --help' uses options it does not list:" $stray
		fail=1
	fi
	all_help=$(printf '%s\n%s\n' "$all_help" "$opts" | sed '/^$/d' | sort -u)

	if ! grep -qE "^### .*\`topomap $cmd[\` ]" <<<"$cli_part"; then
		echo "FAIL: README.md has no '### ' heading naming \`topomap $cmd\`"
		fail=1
	fi
	missing=$(comm -23 <(echo "$opts") <(echo "$readme_options") | sed '/^$/d')
	if [[ -n $missing ]]; then
		echo "FAIL: in 'topomap $cmd --help' but not in README.md:" $missing
		fail=1
	fi

	page=$root/man/topomap-$cmd.1.scd
	if [[ ! -f $page && -f $root/man/topomap-$cmd.1 ]]; then
		so=$(sed -n 's|^\.so man1/\(.*\)\.1$|\1|p' "$root/man/topomap-$cmd.1")
		[[ -n $so ]] && page=$root/man/$so.1.scd
	fi
	if [[ ! -f $page ]]; then
		echo "FAIL: no man page for 'topomap $cmd' (man/topomap-$cmd.1.scd)"
		fail=1
	elif ! awk '/^# EXAMPLES/ { on = 1; next } on && /^# / { exit } on' "$page" |
		grep -qE "^topomap $cmd( |$)"; then
		echo "FAIL: $(basename "$page") has no example of 'topomap $cmd' under EXAMPLES"
		fail=1
	else
		echo "ok: topomap $cmd: --help, README.md and $(basename "$page") agree"
	fi
done

unknown=$(comm -13 <(echo "$all_help") <(echo "$readme_options") | sed '/^$/d')
if [[ -n $unknown ]]; then
	echo "FAIL: README.md's command-line part names options no --help lists:" $unknown
	fail=1
fi
exit $fail
