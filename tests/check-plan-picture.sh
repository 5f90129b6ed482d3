#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# `topomap plan --format svg|png`: the example host with its example guests, drawn by hwloc's
# lstopo. The SVG is well-formed XML (xmllint, when installed), each guest's PUs are filled
# with its colour and the legend names it; what is left for the host is marked too: the
# reserved PUs, the shared pool, and the PUs where emulator threads and iothreads float apart
# from the vcpus, each with a legend line. The PNG is a PNG. Without lstopo in PATH: exit 1,
# one line on stderr, nothing on stdout.
#
# Usage: check-plan-picture.sh TOPOMAP SOURCE-ROOT
set -eu

topomap=$1
root=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

plan() {
	"$topomap" plan --topology "$root/examples/host-2s-ht.xml" \
		"$root/examples/host-2s-ht/db.json" "$root/examples/host-2s-ht/services.json" "$@"
}

if ! command -v lstopo-no-graphics >/dev/null || ! command -v lstopo >/dev/null; then
	echo "SKIP: hwloc's lstopo is not installed"
	exit 77
fi

# SVG
plan --format svg >"$tmp/plan.svg" 2>"$tmp/err" || fail "plan --format svg: $(cat "$tmp/err")"
[ -s "$tmp/err" ] && fail "plan --format svg wrote to stderr: $(cat "$tmp/err")"
head -c 5 "$tmp/plan.svg" | grep -q '^<?xml' || fail "the SVG does not start with <?xml"
grep -q '<svg' "$tmp/plan.svg" || fail "no <svg> element"
if command -v xmllint >/dev/null; then
	xmllint --noout "$tmp/plan.svg" || fail "the SVG is not well-formed XML"
fi

# count_pus RGB: how many PU boxes are filled with rgb(RGB)
count_pus() {
	grep "class='PU'" "$tmp/plan.svg" | grep "<rect" | grep -c "fill='rgb($1)'" || :
}
# The plan (examples/host-2s-ht/): db runs on 9 PUs and keeps one more sibling empty
# (thread policy require), app on 4 and keeps their 4 siblings, ci-runner floats over the
# other 6 PUs of node 0 (issue 21: a shared guest floats over its node's whole pool, all that
# no dedicated guest holds; before, it got a 1-PU slice sized by the overcommit).
[ "$(count_pus 228,26,28)" = 9 ] || fail "db (red) fills $(count_pus 228,26,28) PUs, not 9"
[ "$(count_pus 241,140,141)" = 1 ] || fail "db's held sibling (light red) is not drawn"
[ "$(count_pus 55,126,184)" = 4 ] || fail "app (blue) fills $(count_pus 55,126,184) PUs, not 4"
[ "$(count_pus 155,190,219)" = 4 ] || fail "app's held siblings (light blue) are not drawn"
# ci-runner floats over the shared pool, PUs 3-5,15-17, drawn as the pool (light grey).
[ "$(count_pus 217,217,217)" = 6 ] || fail "the shared pool (light grey) fills $(count_pus 217,217,217) PUs, not 6"
# db's emulator and iothreads have PU 2 of their own: its colour, white label.
grep -A1 "class='PU'.*fill='rgb(228,26,28)'" "$tmp/plan.svg" | grep -q "fill='rgb(255,255,255)'.*>PU P#2<" ||
	fail "db's emulator PU 2 is not marked (white label on red)"
for line in 'db (red, #e41a1c): PUs 0-2,6-7,12-13,18-19, memory on nodes 0-1' \
	'app (blue, #377eb8): PUs 8-11, memory on node 1, holds PUs 8-11,20-23' \
	'ci-runner (green, #4daf4a): shares PUs 3-5,15-17, memory on node 0' \
	'db: emulator threads and 2 iothreads float over PUs 2 (of their own: white label)' \
	'app: emulator threads float over PUs 8-11 (with the vcpus)' \
	'shared pool (light grey, #d9d9d9): PUs 3-5,15-17' \
	'unpainted PUs: free for the host and new guests'; do
	grep -qF ">$line" "$tmp/plan.svg" || fail "no legend line '$line'"
done
grep -qF '>reserved for the host' "$tmp/plan.svg" && fail "a reserve line without --reserve"

# The reserved (housekeeping) PUs: dark grey, and a legend line.
plan --reserve 5,17 --format svg >"$tmp/reserve.svg" || fail "plan --reserve --format svg failed"
[ "$(grep "class='PU'" "$tmp/reserve.svg" | grep "<rect" | grep -c "fill='rgb(82,82,82)'")" = 2 ] ||
	fail "the reserved PUs 5 and 17 are not dark grey"
grep -qF '>reserved for the host (dark grey, #525252): PUs 5,17<' "$tmp/reserve.svg" ||
	fail "no legend line for the reserved PUs"
# OS indexes, as everywhere else; the same plan draws the same picture.
grep -q '>PU P#23<' "$tmp/plan.svg" || fail "PUs are not labelled with their OS index"
plan --format svg | cmp -s - "$tmp/plan.svg" || fail "two runs drew different pictures"

# PNG
plan --format png >"$tmp/plan.png" 2>"$tmp/err" || fail "plan --format png: $(cat "$tmp/err")"
[ "$(head -c 8 "$tmp/plan.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
	fail "the PNG does not start with the PNG signature"
[ "$(wc -c <"$tmp/plan.png")" -gt 1000 ] || fail "the PNG is too small to hold a picture"

# Without lstopo: a runtime error, one line, and no half picture.
mkdir "$tmp/empty"
status=0
PATH=$tmp/empty plan --format png >"$tmp/out" 2>"$tmp/err" || status=$?
[ $status = 1 ] || fail "without lstopo: exit $status, not 1"
[ -s "$tmp/out" ] && fail "without lstopo: something on stdout"
[ "$(wc -l <"$tmp/err")" = 1 ] || fail "without lstopo: not one line on stderr: $(cat "$tmp/err")"
grep -q "^topomap: .*'lstopo'" "$tmp/err" || fail "without lstopo: $(cat "$tmp/err")"

echo "plan pictures: ok"
