#!/bin/bash
# The library exports exactly what the headers declare, and the version script lists exactly
# that: a function added to a header but not to libtopomap.sym (or the reverse) fails here.
set -euo pipefail
lib=$1 map=$2; shift 2
exported=$(nm -D --defined-only "$lib" | awk '$2 == "T" || $2 == "D" || $2 == "R" {print $3}' |
	sed 's/@.*//' | grep -v '^TOPOMAP_' | sort -u)
# Declarations may span lines: read the headers as one line, take the name before each '('.
declared=$(cat "$@" | tr '\n' ' ' | grep -o 'TMAP_EXPORT[^;(]*(' | grep -o 'tmap_[a-z0-9_]*($' |
	tr -d '(' | sort -u)
mapped=$(sed -n 's/^[[:space:]]*\(tmap_[a-z0-9_]*\);/\1/p' "$map" | sort -u)
status=0
if [ "$exported" != "$declared" ]; then
	echo "exported by $lib but not declared with TMAP_EXPORT, or the reverse:"
	diff <(echo "$exported") <(echo "$declared") || true
	status=1
fi
if [ "$mapped" != "$declared" ]; then
	echo "listed in $map but not declared, or the reverse:"
	diff <(echo "$mapped") <(echo "$declared") || true
	status=1
fi
n=$(echo "$declared" | wc -l)
if [ "$status" = 0 ]; then echo "1 passed, 0 failed: $n symbols exported, declared and mapped"; fi
exit "$status"
