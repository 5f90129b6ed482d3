#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Issue 19's limits on the source tree: no file outside tests/ over 1,000 lines, no function
over 150. C functions are found the way the house style writes them (kernel style: the name
at the start of a line, the body's braces in column 0); Python functions by their `def` and
indentation. One line per file or function over a limit, and exit 1.

Usage: check-size.py SOURCE_ROOT
"""
import os
import re
import sys

DIRS = ("core", "cli", "plugins", "bench", "common", "include", "python", "fuzz")
EXTS = (".c", ".h", ".py")
MAX_FILE = 1000
MAX_FUNCTION = 150

C_NAME = re.compile(r"^[A-Za-z_]\w*\s*\(")
PY_DEF = re.compile(r"^(\s*)(?:async\s+)?def\s+(\w+)")


def c_functions(lines):
    """(name, first line, line count) of each C function: from its name to its closing brace."""
    name = start = None
    for i, line in enumerate(lines):
        if name is None and C_NAME.match(line):
            name, start = line.split("(", 1)[0].strip(), i
        elif name is not None and line.startswith("}"):
            yield name, start + 1, i - start + 1
            name = None
        elif name is not None and line.rstrip().endswith(";") and not line.startswith(("\t", " ")):
            name = None  # a prototype or a call at file scope, not a definition


def py_functions(lines):
    """(name, first line, line count) of each Python function, nested ones included."""
    for i, line in enumerate(lines):
        m = PY_DEF.match(line)
        if not m:
            continue
        indent, end = len(m.group(1)), i
        for j in range(i + 1, len(lines)):
            text = lines[j].rstrip()
            if not text:
                continue
            if len(text) - len(text.lstrip()) <= indent:
                break
            end = j
        yield m.group(2), i + 1, end - i + 1


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    bad = []
    for top in DIRS:
        for path, _, files in sorted(os.walk(os.path.join(root, top))):
            for f in sorted(files):
                if not f.endswith(EXTS):
                    continue
                full = os.path.join(path, f)
                rel = os.path.relpath(full, root)
                with open(full, encoding="utf-8") as fh:
                    lines = fh.read().split("\n")
                if lines and lines[-1] == "":
                    lines.pop()
                if len(lines) > MAX_FILE:
                    bad.append(f"{rel}: {len(lines)} lines, over {MAX_FILE}")
                funcs = py_functions(lines) if f.endswith(".py") else c_functions(lines)
                for name, first, count in funcs:
                    if count > MAX_FUNCTION:
                        bad.append(f"{rel}:{first}: {name}() is {count} lines, over {MAX_FUNCTION}")
    for line in bad:
        print(line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
