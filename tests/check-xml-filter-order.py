#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The order of the elements topomap xml-filter adds and replaces.

Each tests/data/xml-filter/NAME.order goes with NAME.xml and lists, one line per parent,
the element children the output must have, in order (written by hand: where libvirt's
formatter puts an added element, a replaced one where the old one was):

    domain: name memory vcpu cputune numatune os devices
    cputune: vcpupin vcpupin emulatorpin
    hugepages-kib: 2048

`domain` is the root, any other parent is the domain's child of that name. With
`hugepages-kib`, the plan gives the guest hugepages of that size although its XML does not
ask for them (tests/rewrite-domain.c); otherwise the domain goes through
`topomap xml-filter --dry-run`. The output must also still define in libvirt's in-process
test driver (`virsh -c test:///default`), which formats with libvirt's real formatter.
Every comment is still followed by the element it was before, and a domain laid out two
spaces a level is still laid out so.

Usage: check-xml-filter-order.py TOPOMAP REWRITE_DOMAIN SOURCE_ROOT
"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

topomap, rewrite_domain, root = sys.argv[1:4]
fixtures = os.path.join(root, "tests", "data", "xml-filter")
host = os.path.join(fixtures, os.pardir, "host-hugepages.xml")
failures = []


def read_order(path):
    orders, page_kib = {}, None
    for line in open(path):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        key, _, names = line.partition(":")
        if key.strip() == "hugepages-kib":
            page_kib = names.strip()
        else:
            orders[key.strip()] = names.split()
    return orders, page_kib


def parse(text):
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True, insert_pis=True))
    parser.feed(text)
    return parser.close()


def local(tag):
    return tag.rpartition("}")[2] if isinstance(tag, str) else None


def comments(dom):
    """(parent, comment, the element after it) for each comment."""
    out = []
    for parent in dom.iter():
        kids = list(parent)
        for i, c in enumerate(kids):
            if c.tag is ET.Comment:
                after = next((local(k.tag) for k in kids[i + 1:] if local(k.tag)), None)
                out.append((local(parent.tag), c.text, after))
    return out


def laid_out(elem, depth=1):
    """Is every child on a line of its own, indented two spaces a level?"""
    kids = list(elem)
    for i, c in enumerate(kids):
        before = elem.text if i == 0 else kids[i - 1].tail
        if not (before or "").endswith("\n" + "  " * depth) or not laid_out(c, depth + 1):
            return False
    return not kids or (kids[-1].tail or "").endswith("\n" + "  " * (depth - 1))


def children(elem):
    """Element children's names, without a namespace; comments and PIs are not elements."""
    return [local(c.tag) for c in elem if local(c.tag)]


def defines(path, name):
    p = subprocess.run(["virsh", "-q", "-c", "test:///default", f"define {path}; dumpxml {name}"],
                       capture_output=True, text=True)
    return p.returncode == 0 and "<domain" in p.stdout, p.stderr.strip()


if not shutil.which("virsh"):
    print("virsh is not installed: the outputs are not defined in test:///default")
tmp = tempfile.mkdtemp()
checked = 0
for order_path in sorted(glob.glob(os.path.join(fixtures, "*.order"))):
    name = os.path.basename(order_path)[:-len(".order")]
    orders, page_kib = read_order(order_path)
    text = open(os.path.join(fixtures, name + ".xml"), "rb").read()
    if page_kib:
        args = [rewrite_domain, host, page_kib]
    else:
        args = [topomap, "xml-filter", "--dry-run", "--topology", host]
    p = subprocess.run(args, input=text, capture_output=True)
    if p.returncode != 0:
        failures.append(f"{name}: exit {p.returncode}: {p.stderr.decode().strip()}")
        continue
    checked += 1
    before, dom = parse(text), parse(p.stdout)
    for parent, want in orders.items():
        elem = dom if parent == "domain" else dom.find(parent)
        got = children(elem) if elem is not None else None
        if got != want:
            failures.append(f"{name}: <{parent}> children {got}, not {want}")
    if comments(dom) != comments(before):
        failures.append(f"{name}: comments {comments(dom)}, not {comments(before)}")
    if laid_out(before) and not laid_out(dom):
        failures.append(f"{name}: the output is not laid out as the input is")
    if shutil.which("virsh"):
        out = os.path.join(tmp, name + ".xml")
        open(out, "wb").write(p.stdout)
        ok, err = defines(out, dom.findtext("name"))
        if not ok:
            failures.append(f"{name}: the output does not define in test:///default: {err}")
if checked == 0:
    failures.append("no .order file was checked")
for f in failures:
    print("FAIL:", f)
print(f"xml-filter order: {checked} domain(s), {len(failures)} failure(s)")
sys.exit(1 if failures else 0)
