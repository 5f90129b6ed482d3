#!/bin/sh
# Sourced by the scripts that run inside the nested guest (placed at /test/vm-checks.sh by
# tests/vm/meson.build): count checks and failures, one line each.
checks=0
failed=0

ok() {
	checks=$((checks + 1))
	echo "ok   - $*"
}

fail() {
	checks=$((checks + 1))
	failed=$((failed + 1))
	echo "FAIL - $*"
}

# check DESCRIPTION ACTUAL EXPECTED
check() {
	if [ "$2" = "$3" ]; then
		ok "$1: '$2'"
	else
		fail "$1: got '$2', expected '$3'"
	fi
}
