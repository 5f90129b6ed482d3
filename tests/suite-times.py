#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Where the time of `make check` went: each step of the Makefile (build, the nested guest's
assets, the fuzz targets, the meson tests) and, inside the meson tests, each suite label.

usage: suite-times.py [--steps FILE] TESTLOG.json
       suite-times.py --check DIR     (the test: DIR/testlog.json and DIR/steps printed
                                       must equal DIR/expected.txt)

TESTLOG.json is meson's build/meson-logs/testlog.json: one JSON object per test, with its
"name" ("topomap:system+libvirt / libvirt"), "starttime" and "duration". FILE holds one
"STEP MILLISECONDS" a line, as the Makefile's `check` target writes it. A suite's time is
the sum of its tests' times; tests run side by side (one per core, the non-parallel ones
alone), so the suites add up to more than the meson step's wall time.
"""
import json
import sys

# The labels of tests/meson.build, in the order they are printed.
LABELS = ("unit", "integration", "system", "vm", "docs")


def label_of(name):
    """The label of a test from its meson name "PROJECT:SUITE+SUITE / TEST"."""
    head = name.split(" / ", 1)[0]
    suites = head.split(":", 1)[1].split("+") if ":" in head else []
    for s in suites:
        if s in LABELS:
            return s
    return "(none)"


def read_tests(path):
    tests = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            t = json.loads(line)
            tests.append({
                "name": t["name"].split(" / ", 1)[-1],
                "label": label_of(t["name"]),
                "start": float(t["starttime"]),
                "duration": float(t["duration"]),
                "result": t["result"],
            })
    return tests


def read_steps(path):
    steps = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            words = line.split()
            if len(words) == 2:
                steps.append((words[0], int(words[1]) / 1000.0))
    return steps


def report(tests, steps):
    out = []
    if steps:
        out.append("== make check: time per step")
        for name, secs in steps:
            out.append(f"{name:<14} {secs:8.1f} s")
        out.append(f"{'total':<14} {sum(s for _, s in steps):8.1f} s")
    if tests:
        out.append("== meson test: time per suite (sum of its tests; they run side by side)")
        out.append(f"{'suite':<12} {'tests':>5} {'seconds':>8}  slowest")
        labels = [l for l in LABELS + ("(none)",) if any(t["label"] == l for t in tests)]
        for label in labels:
            mine = [t for t in tests if t["label"] == label]
            slow = max(mine, key=lambda t: t["duration"])
            bad = [t["name"] for t in mine if t["result"] not in ("OK", "SKIP", "EXPECTEDFAIL")]
            line = (f"{label:<12} {len(mine):>5} {sum(t['duration'] for t in mine):8.1f}"
                    f"  {slow['name']} {slow['duration']:.1f} s")
            if bad:
                line += "; not OK: " + " ".join(bad)
            out.append(line)
        skipped = [t["name"] for t in tests if t["result"] == "SKIP"]
        wall = (max(t["start"] + t["duration"] for t in tests) -
                min(t["start"] for t in tests))
        out.append(f"{'all':<12} {len(tests):>5} {sum(t['duration'] for t in tests):8.1f}"
                   f"  wall {wall:.1f} s")
        if skipped:
            out.append("skipped: " + " ".join(skipped))
    return "\n".join(out) + "\n"


def main(argv):
    if len(argv) == 3 and argv[1] == "--check":
        d = argv[2]
        got = report(read_tests(d + "/testlog.json"), read_steps(d + "/steps"))
        with open(d + "/expected.txt", encoding="utf-8") as f:
            want = f.read()
        if got != want:
            sys.stdout.write("FAIL: suite-times.py printed:\n" + got + "expected:\n" + want)
            return 1
        sys.stdout.write(got)
        return 0
    steps = []
    args = argv[1:]
    if len(args) >= 2 and args[0] == "--steps":
        try:
            steps = read_steps(args[1])
        except OSError:
            steps = []
        args = args[2:]
    if len(args) != 1:
        sys.stderr.write(__doc__)
        return 2
    try:
        tests = read_tests(args[0])
    except OSError as e:
        sys.stderr.write(f"suite-times: {e}\n")
        tests = []
    sys.stdout.write(report(tests, steps))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
