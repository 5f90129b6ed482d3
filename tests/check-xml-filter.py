#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""topomap xml-filter end to end.

Round trip: every domain XML found (tests/data/xml-filter, the libvirt-domain and xml-filter
fuzz seeds, libvirt's test fixtures where this machine has them: TOPOMAP_LIBVIRT_FIXTURES, a directory
searched recursively, and /usr/share/libvirt) is filtered with --dry-run on the example host.
For each that is placed: every element, attribute, text, comment and processing instruction
outside the rewritten ones is in the output as it was; the rewritten ones hold a placement
(one PU per vcpu, no PU twice, <vcpu cpuset> their union with the emulator's, a memnode per
cell); a domain libvirt's schema accepts is still accepted (virt-xml-validate), one libvirt's
parser defines is still defined (virsh -c test:///default define); and filtering the output
again gives it back unchanged, byte for byte (a fixed point: libvirt's hook runs the filter on a
domain it already filtered, on every restore and migration). Refusals are listed by reason.

Of tests/data/xml-filter, refused-*.xml are domains topomap refuses (exit 2, one line),
too-big.xml one that does not fit, and every other one is placed.

Record: with --state the guest is recorded as placed, the next domain lands on other PUs, and
one that does not fit is exit 3 with one line, nothing on stdout, the state file unchanged.

Usage: check-xml-filter.py TOPOMAP SOURCE_ROOT
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

topomap, root = sys.argv[1], sys.argv[2]
data = os.path.join(root, "tests", "data")
host = os.path.join(data, "host-hugepages.xml")
failures = 0


def fail(msg):
    global failures
    failures += 1
    print("FAIL:", msg)


def run(args, stdin, code=None):
    p = subprocess.run([topomap, *args], input=stdin, capture_output=True)
    if code is not None and p.returncode != code:
        fail(f"topomap {' '.join(args)}: exit {p.returncode}, not {code}: {p.stderr.decode()}")
    return p


def parse(text):
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True, insert_pis=True))
    parser.feed(text)
    return parser.close()


REWRITTEN = {"cputune": {"vcpupin", "emulatorpin", "iothreadpin"},
             "numatune": {"memory", "memnode"}, "memoryBacking": {"hugepages"}}


def kept(dom):
    """What xml-filter must keep: every node but the rewritten ones, as (path, tag, attrs, text)."""
    out = []

    def walk(e, path, parent):
        tag = e.tag if isinstance(e.tag, str) else e.tag.__name__
        if parent in REWRITTEN and tag in REWRITTEN[parent] and path.count("/") == 3:
            return
        attrs = dict(e.attrib)
        if path == "/domain/" and tag == "vcpu":
            attrs.pop("cpuset", None)
            attrs.pop("placement", None)
        # An element's text with its children's tails, blanks aside: text after a dropped
        # element (`<cputune><vcpupin/>y</cputune>`) is kept, in the parent's text.
        text = (e.text or "") + "".join(c.tail or "" for c in e)
        out.append((path + tag, tuple(sorted(attrs.items())), "".join(text.split())))
        for c in e:
            walk(c, path + tag + "/", tag)

    walk(dom, "/", "")
    return out


def pus(lst):
    s = set()
    for part in filter(None, lst.split(",")):
        a, _, b = part.partition("-")
        s.update(range(int(a), int(b or a) + 1))
    return s


def check_placement(name, out):
    vcpus = int(out.find("vcpu").text)
    pins = out.findall("cputune/vcpupin")
    got = sorted(int(p.get("vcpu")) for p in pins)
    if got != list(range(vcpus)):
        fail(f"{name}: vcpupins for {got}, not 0 to {vcpus - 1}")
        return
    sets = [pus(p.get("cpuset")) for p in pins]
    if any(len(s) != 1 for s in sets) or len(set().union(*sets)) != vcpus:
        fail(f"{name}: vcpus do not each have a PU of their own: {[p.get('cpuset') for p in pins]}")
    emu = out.find("cputune/emulatorpin")
    union = set().union(*sets) | (pus(emu.get("cpuset")) if emu is not None else set())
    if emu is None or pus(out.find("vcpu").get("cpuset")) != union:
        fail(f"{name}: <vcpu cpuset> is not the vcpus' and emulator's PUs")
    # One <iothreadpin> per iothread, by the ids libvirt gives them: those <iothreadids> lists,
    # then the smallest ones it does not, up to <iothreads>.
    listed = [int(t.get("id")) for t in out.findall("iothreadids/iothread")]
    count = max(int(out.findtext("iothreads") or 0), len(listed))
    ids = listed + [i for i in range(1, count + 1) if i not in listed][:count - len(listed)]
    pinned = sorted(int(p.get("iothread")) for p in out.findall("cputune/iothreadpin"))
    if pinned != sorted(ids):
        fail(f"{name}: iothreadpins for {pinned}, not the domain's iothreads {sorted(ids)}")
    mem = out.find("numatune/memory")
    if mem is None or not mem.get("nodeset"):
        fail(f"{name}: no <numatune><memory nodeset>")
    cells = out.findall("cpu/numa/cell")
    memnodes = out.findall("numatune/memnode")
    # A cell without an id is numbered by its position, as libvirt does.
    ids = sorted(int(c.get("id", i)) for i, c in enumerate(cells))
    if cells and sorted(int(m.get("cellid")) for m in memnodes) != ids:
        fail(f"{name}: memnodes {[m.get('cellid') for m in memnodes]} for cells {[c.get('id') for c in cells]}")


def first_difference(a, b):
    """Where two outputs part, for the message: a few bytes of each around it."""
    i = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
    return f"at byte {i}: {a[max(0, i - 20):i + 20]!r} then {b[max(0, i - 20):i + 20]!r}"


def validates(path):
    if not shutil.which("virt-xml-validate"):
        return None
    p = subprocess.run(["virt-xml-validate", path, "domain"], capture_output=True)
    return p.returncode == 0


def defines(path):
    """Does libvirt's own parser take the domain (its in-process test driver)? The schema does not
    see what the parser checks across elements, such as a pin of an iothread the domain lacks."""
    if not shutil.which("virsh"):
        return None, ""
    p = subprocess.run(["virsh", "-q", "-c", "test:///default", f"define {path}"],
                       capture_output=True, text=True)
    return p.returncode == 0, " ".join(p.stderr.split())


def reason(stderr):
    """A refusal's message without the domain's name and numbers, to group refusals by."""
    msg = stderr.decode(errors="replace").strip()
    msg = re.sub(r"^topomap: (xml-filter: )?", "", msg)
    msg = re.sub(r"^(domain|guest) '[^']*': ", "", msg)
    msg = re.sub(r"^[^ :']+: ", "", msg)
    return re.sub(r"\d+", "N", msg)


def fixtures():
    files = sorted(glob.glob(os.path.join(data, "xml-filter", "*.xml")))
    for seeds in ("libvirt-domain", "xml-filter"):
        files += sorted(glob.glob(os.path.join(root, "fuzz", "corpus", seeds, "*.xml")))
    extra = [os.environ.get("TOPOMAP_LIBVIRT_FIXTURES", ""), "/usr/share/libvirt"]
    for d in filter(None, extra):
        for f in sorted(glob.glob(os.path.join(d, "**", "*.xml"), recursive=True)):
            try:
                with open(f, "rb") as fh:
                    head = fh.read(4096)
            except OSError:
                continue
            if b"<domain" in head and b"<domainCapabilities" not in head:
                files.append(f)
    return files


tmp = tempfile.mkdtemp()
counts = {"placed": 0, "does not fit": 0, "refused": 0}
reasons = {"does not fit": {}, "refused": {}}
nodes_in = nodes_kept = 0
for path in fixtures():
    name = os.path.relpath(path, root) if path.startswith(root) else path
    text = open(path, "rb").read()
    p = run(["xml-filter", "--dry-run", "--topology", host], text)
    base = os.path.basename(path)
    if path.startswith(os.path.join(data, "xml-filter")) and p.returncode != 0 and \
            not base.startswith("refused-") and base != "too-big.xml":
        fail(f"{name}: exit {p.returncode}, not placed: {p.stderr!r}")
    if p.returncode in (2, 3):
        kind = "does not fit" if p.returncode == 3 else "refused"
        counts[kind] += 1
        reasons[kind].setdefault(reason(p.stderr), []).append(os.path.basename(path))
        if p.stdout or p.stderr.count(b"\n") != 1 or not p.stderr.startswith(b"topomap: "):
            fail(f"{name}: refused without exactly one line, or with output: {p.stderr!r}")
        continue
    if base.startswith("refused-") and path.startswith(data):
        fail(f"{name}: exit {p.returncode}, not 2 (the domain is one topomap refuses)")
    if p.returncode != 0:
        fail(f"{name}: exit {p.returncode} (neither placed, refused nor not fitting): {p.stderr!r}")
        continue
    counts["placed"] += 1
    try:
        before, after = parse(text), parse(p.stdout)
    except ET.ParseError as e:
        fail(f"{name}: output is not XML: {e}")
        continue
    a, b = kept(before), kept(after)
    missing = [x for x in a if x not in b]
    nodes_in += len(a)
    nodes_kept += len(a) - len(missing)
    if missing or len(a) != len([x for x in b if x in a]):
        fail(f"{name}: {len(missing)} node(s) not kept, first {missing[:3]}")
    check_placement(name, after)
    for c in (b"<!--", b"<?"):
        if text.lstrip().startswith(c) and not p.stdout.lstrip().startswith(b"<?xml") and c not in p.stdout:
            fail(f"{name}: lost what came before <domain>")
    if b"<!--" in text.split(b"<domain", 1)[0] and p.stdout.count(b"<!--") < text.count(b"<!--"):
        fail(f"{name}: a comment was lost")
    again = run(["xml-filter", "--dry-run", "--topology", host], p.stdout)
    if again.returncode != 0 or again.stdout != p.stdout:
        fail(f"{name}: filtering the output again changed it: {first_difference(p.stdout, again.stdout)}")
    out_path = os.path.join(tmp, "out.xml")
    open(out_path, "wb").write(p.stdout)
    if validates(path) and not validates(out_path):
        fail(f"{name}: libvirt's schema accepts the input, not the output")
    if defines(path)[0]:
        ok, err = defines(out_path)
        if not ok:
            fail(f"{name}: libvirt defines the input, not the output: {err}")
print("round trip:", ", ".join(f"{v} {k}" for k, v in counts.items()))
for kind, by_reason in reasons.items():
    for msg, names in sorted(by_reason.items(), key=lambda kv: -len(kv[1])):
        print(f"  {kind} ({len(names)}): {msg} [{', '.join(names[:3])}{', ...' if len(names) > 3 else ''}]")
if nodes_in:
    print(f"nodes kept: {nodes_kept} of {nodes_in} ({100.0 * nodes_kept / nodes_in:.2f} %)")
own = [f for f in glob.glob(os.path.join(data, "xml-filter", "*.xml"))
       if not f.endswith("too-big.xml") and not os.path.basename(f).startswith("refused-")]
if counts["placed"] < len(own):
    fail(f"only {counts['placed']} domains placed, fewer than tests/data/xml-filter holds")

# Record: the guest goes into the state; the next one lands elsewhere.
state = os.path.join(tmp, "state.json")
args = ["xml-filter", "--topology", host, "--state", state]
db = run(args, open(os.path.join(data, "xml-filter", "pretty-cells-hugepages.xml"), "rb").read(), 0)
web = run(args, open(os.path.join(data, "xml-filter", "compact-plain.xml"), "rb").read(), 0)
held = {}
for name, p in (("db", db), ("web", web)):
    held[name] = pus(parse(p.stdout).find("vcpu").get("cpuset"))
if held["db"] & held["web"]:
    fail(f"db and web share PUs: {held}")
st = subprocess.run([topomap, "state", "--topology", host, "--state", state, "--format", "json"],
                    capture_output=True, text=True)
recorded = {g["name"]: pus(g["held"]) for g in json.loads(st.stdout)["guests"]}
if recorded != held:
    fail(f"the state holds {recorded}, the XML says {held}")
# The same domain again (libvirt's prepare after restore): the same placement.
again = run(args, open(os.path.join(data, "xml-filter", "compact-plain.xml"), "rb").read(), 0)
if again.stdout != web.stdout:
    fail("filtering a recorded domain again moved it")
before = open(state, "rb").read()
big = run(args, open(os.path.join(data, "xml-filter", "too-big.xml"), "rb").read(), 3)
if big.stdout or big.stderr.count(b"\n") != 1 or not big.stderr.startswith(b"topomap: "):
    fail(f"a domain that does not fit: stdout {big.stdout!r}, stderr {big.stderr!r}")
if open(state, "rb").read() != before:
    fail("a domain that does not fit changed the state")
bad = run(args, b"<domain><name>x</name></domain>", 2)
if bad.stdout or open(state, "rb").read() != before:
    fail("a domain without <vcpu> printed or recorded something")

print(f"xml-filter: {'ok' if not failures else f'{failures} failure(s)'}")
sys.exit(1 if failures else 0)
