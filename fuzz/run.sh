#!/bin/sh
# Run libFuzzer targets over their seed corpora for a bounded time each.
#   fuzz/run.sh BUILDDIR SECONDS [TARGET...]    (default: every fuzz/corpus/* directory)
# New inputs go to BUILDDIR/fuzz/corpus/TARGET (the seeds in the tree are only read); a crash
# leaves its input in BUILDDIR/fuzz/artifacts/ and makes the script fail, after all targets ran.
# Copy a crashing input into fuzz/corpus/TARGET/ once fixed: it is then a regression seed.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
builddir=$1
seconds=$2
shift 2
[ $# -gt 0 ] || set -- $(ls "$top/fuzz/corpus")

# UBSan only reports by default: make any finding fatal, like ASan's.
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export ASAN_OPTIONS="detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
# Leaks of hwloc itself, not of topomap: see the file.
export LSAN_OPTIONS="suppressions=$top/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

failed=
mkdir -p "$builddir/fuzz/artifacts"
for t in "$@"; do
	exe="$builddir/fuzz/fuzz-$t"
	work="$builddir/fuzz/corpus/$t"
	log="$builddir/fuzz/fuzz-$t.log"
	mkdir -p "$work"
	# A target's dictionary (fuzz/TARGET.dict), when it has one: keys to splice.
	dict=
	[ -f "$top/fuzz/$t.dict" ] && dict="-dict=$top/fuzz/$t.dict"
	printf 'fuzz-%s: %s s ... ' "$t" "$seconds"
	# -timeout: one input taking over 10 s is a hang; -rss_limit_mb: a parser allocating
	# without bound is a bug too.
	if "$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
		-print_final_stats=1 -artifact_prefix="$builddir/fuzz/artifacts/$t-" $dict \
		"$work" "$top/fuzz/corpus/$t" >"$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		echo "ok (${runs:-?} runs)"
	else
		echo "FAILED (log: $log)"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | head -5
		failed="$failed $t"
	fi
done
if [ -n "$failed" ]; then
	echo "fuzz: failed:$failed"
	exit 1
fi
