#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""topomap topology --format nrt: a NodeResourceTopology that validates against the v1alpha2
schema of tests/data and says what `topomap state --format json` says, number for number.

Guests are applied through the mock backend (TOPOMAP_MOCK_PLUGIN_DIR) to a private state on
the fixture hosts, so the object describes a host that holds dedicated, shared and hugepage
guests and a reserve.

Usage: check-nrt.py TOPOMAP DATA_DIR
"""
import json
import os
import subprocess
import sys
import tempfile

import jsonschema

topomap, data = sys.argv[1], sys.argv[2]
failures = 0


def fail(msg):
    global failures
    failures += 1
    print("FAIL:", msg)


def run(*args, code=0):
    p = subprocess.run([topomap, *args], capture_output=True, text=True)
    if p.returncode != code:
        raise SystemExit(f"FAIL: topomap {' '.join(args)}: exit {p.returncode}, not {code}: {p.stderr}")
    return p


def count(lst):
    n = 0
    for part in filter(None, lst.split(",")):
        a, _, b = part.partition("-")
        n += int(b or a) - int(a) + 1
    return n


def kib(q):
    """A quantity topomap writes (N, NKi, NMi, NGi, NTi, NPi) in KiB."""
    units = {"Ki": 1, "Mi": 1 << 10, "Gi": 1 << 20, "Ti": 1 << 30, "Pi": 1 << 40}
    if q[-2:] in units:
        return int(q[:-2]) * units[q[-2:]]
    assert int(q) == 0, q
    return 0


def page_name(size_kib):
    for unit, k in (("Pi", 1 << 40), ("Ti", 1 << 30), ("Gi", 1 << 20), ("Mi", 1 << 10)):
        if size_kib % k == 0:
            return f"hugepages-{size_kib // k}{unit}"
    return f"hugepages-{size_kib}Ki"


def compare(nrt, state, where):
    """Every zone's numbers against the state's node."""
    zones = {z["name"]: z for z in nrt["zones"]}
    if len(zones) != len(state["nodes"]):
        fail(f"{where}: {len(zones)} zones for {len(state['nodes'])} nodes")
    for node in state["nodes"]:
        z = zones.get(f"node-{node['id']}")
        if z is None or z["type"] != "Node":
            fail(f"{where}: no zone node-{node['id']} of type Node")
            continue
        res = {r["name"]: r for r in z["resources"]}
        cpu = res["cpu"]
        want = (count(node["cpus"]), count(node["cpus"]) - count(node["reserved"]),
                count(node["free"]))
        got = (int(cpu["capacity"]), int(cpu["allocatable"]), int(cpu["available"]))
        if got != want:
            fail(f"{where}: node-{node['id']} cpu {got}, state says {want}")
        mem = res["memory"]
        want = (node["memory_mib"] * 1024, max(node["memory_free_mib"], 0) * 1024)
        got = (kib(mem["capacity"]), kib(mem["available"]))
        if got != want:
            fail(f"{where}: node-{node['id']} memory {got} KiB, state says {want}")
        for hp in node.get("hugepages", []):
            r = res.get(page_name(hp["size_kib"]))
            want = (hp["total"] * hp["size_kib"], hp["free"] * hp["size_kib"])
            if r is None or (kib(r["capacity"]), kib(r["available"])) != want:
                fail(f"{where}: node-{node['id']} {page_name(hp['size_kib'])} {r}, state says {want} KiB")
        extra = set(res) - {"cpu", "memory"} - {page_name(h["size_kib"]) for h in node.get("hugepages", [])}
        if extra:
            fail(f"{where}: node-{node['id']} resources the state does not have: {extra}")


def attr(obj, name):
    return {a["name"]: a["value"] for a in obj.get("attributes", [])}.get(name)


schema = json.load(open(os.path.join(data, "nrt-v1alpha2.schema.json")))
validator = jsonschema.Draft7Validator(schema)
os.environ["TOPOMAP_PLUGIN_PATH"] = os.environ["TOPOMAP_MOCK_PLUGIN_DIR"]
tmp = tempfile.mkdtemp()
host = os.path.join(data, "host-hugepages.xml")
st = os.path.join(tmp, "state.json")


def nrt_and_state(name="worker-1", host=host):
    nrt = json.loads(run("topology", "--topology", host, "--state", st, "--format", "nrt",
                         "--node-name", name).stdout)
    state = json.loads(run("state", "--topology", host, "--state", st, "--format", "json").stdout)
    errors = sorted(validator.iter_errors(nrt), key=str)
    for e in errors:
        fail(f"schema: {'/'.join(map(str, e.absolute_path))}: {e.message}")
    if nrt["metadata"]["name"] != name:
        fail(f"metadata.name {nrt['metadata']['name']!r}, not {name!r}")
    return nrt, state


def apply(*args):
    target = os.path.join(tmp, "t-" + args[1])
    open(target, "w").close()
    run("apply", "--topology", host, "--state", st, "--backend", "mock", "-o", f"file={target}", *args)


# An empty host: all available; costs from the distance matrix.
nrt, state = nrt_and_state()
compare(nrt, state, "empty host")
costs = {z["name"]: {c["name"]: c["value"] for c in z["costs"]} for z in nrt["zones"]}
if costs != {"node-0": {"node-0": 10, "node-1": 21}, "node-1": {"node-0": 21, "node-1": 10}}:
    fail(f"costs {costs}")
empty_fp = attr(nrt, "topomapAllocationsFingerprint")

# A host with a dedicated guest in hugepages, a shared guest, a reserve, and another guest.
apply("--name", "db", "--vcpus", "4", "--memory", "2G", "--hugepages", "2M")
apply("--name", "web", "--vcpus", "2", "--cpu-policy", "shared")
apply("--name", "big", "--vcpus", "2", "--memory", "3G", "--reserve", "23")
nrt, state = nrt_and_state()
compare(nrt, state, "three guests")
fp3 = attr(nrt, "topomapAllocationsFingerprint")
if attr(nrt, "topomapGuests") != "3" or fp3 == empty_fp or not fp3.startswith("tmap0v001"):
    fail(f"attributes {nrt['attributes']}")
res1 = {r["name"]: r for r in nrt["zones"][1]["resources"]}
if res1["cpu"]["allocatable"] != "11":
    fail(f"node-1's reserved PU 23 is allocatable: {res1['cpu']}")
if {r["name"]: r for r in nrt["zones"][0]["resources"]}["hugepages-2Mi"]["available"] != "0":
    fail("db's 2 MiB pages are still available on node-0")

# The fingerprint is the allocations: same set, same print; one released, another.
run("release", "--topology", host, "--state", st, "big")
nrt, state = nrt_and_state()
compare(nrt, state, "after release")
fp2 = attr(nrt, "topomapAllocationsFingerprint")
if fp2 in (fp3, empty_fp):
    fail("the fingerprint did not change with a release")
apply("--name", "big", "--vcpus", "2", "--memory", "3G")
nrt, _ = nrt_and_state()
if attr(nrt, "topomapAllocationsFingerprint") != fp3:
    fail("the same allocations gave another fingerprint")

# A host without distances has no costs; a JSON host and the example hosts validate too.
for h in ("host-4n.xml", "host-unequal-memory.json", "host-1g-pools.json", "host-cxl.xml"):
    st = os.path.join(tmp, f"state-{h}.json")
    nrt, state = nrt_and_state(host=os.path.join(data, h))
    compare(nrt, state, h)

# Refusals: a name Kubernetes would refuse, --node-name without nrt.
p = run("topology", "--topology", host, "--format", "nrt", "--node-name", "Bad_Name", code=2)
if "not a Kubernetes object name" not in p.stderr or p.stdout:
    fail(f"bad node name: {p.stderr!r}")
run("topology", "--topology", host, "--node-name", "w1", code=2)

print(f"nrt: {'ok' if not failures else f'{failures} failure(s)'}")
sys.exit(1 if failures else 0)
