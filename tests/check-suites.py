#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every test carries exactly one of the labels unit, integration, system, vm, docs (so that
`meson test --suite unit` is what it says), and docs/TESTING.md lists every test with that
label, and no test that does not exist.

usage: check-suites.py INTRO-TESTS.json TESTING.md [NOT-BUILT...]

NOT-BUILT names tests that this build leaves out on purpose (tests/meson.build says why: no
C++ compiler, no pytest, a sanitizer build); they must still be listed in TESTING.md.
INTRO-TESTS.json is meson's build/meson-info/intro-tests.json. TESTING.md's table rows read
"| `NAME` | LABEL | ... |".
"""
import json
import re
import sys

LABELS = ("unit", "integration", "system", "vm", "docs")
ROW = re.compile(r"^\|\s*`([a-z0-9-]+)`\s*\|\s*([a-z]+)\s*\|")


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    not_built = set(argv[3:])
    with open(argv[1], encoding="utf-8") as f:
        tests = json.load(f)
    with open(argv[2], encoding="utf-8") as f:
        documented = {}
        for line in f:
            m = ROW.match(line)
            if m:
                documented[m.group(1)] = m.group(2)

    fail = 0
    seen = set()
    for t in tests:
        name = t["name"]
        seen.add(name)
        labels = [s.split(":", 1)[-1] for s in t["suite"]]
        mine = [l for l in labels if l in LABELS]
        if len(mine) != 1:
            print(f"FAIL: test '{name}' has labels {mine or 'none'} (suites {labels});"
                  f" give it exactly one of {', '.join(LABELS)} in its meson.build")
            fail = 1
            continue
        if name not in documented:
            print(f"FAIL: test '{name}' ({mine[0]}) is not in docs/TESTING.md's table")
            fail = 1
        elif documented[name] != mine[0]:
            print(f"FAIL: docs/TESTING.md says test '{name}' is {documented[name]};"
                  f" meson.build labels it {mine[0]}")
            fail = 1
        else:
            print(f"ok: {name}: {mine[0]}")
    for name in sorted(set(documented) - seen):
        if name in not_built:
            print(f"not built here: {name}: {documented[name]}")
            continue
        print(f"FAIL: docs/TESTING.md lists test '{name}', which meson does not define")
        fail = 1
    for name in sorted(not_built - set(documented)):
        print(f"FAIL: meson leaves out test '{name}', which docs/TESTING.md does not list")
        fail = 1
    for name in sorted(not_built & seen):
        print(f"FAIL: meson says test '{name}' is not built, but defines it")
        fail = 1
    return fail


if __name__ == "__main__":
    sys.exit(main(sys.argv))
