#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Nova's own unit tests as an oracle (issue 21): replay every call that
nova/tests/unit/virt/test_hardware.py (Debian's python3-nova) makes to Nova's fitter,
hardware.numa_fit_instance_to_host(), through topomap-bench, and list where the answers differ
(fits against does not fit).

  /usr/bin/python3 bench/nova-oracle.py --bench build/bench/topomap-bench [--verbose]
  make nova-oracle

The tests run as shipped, with Nova's fitter wrapped to record each call's host, instance,
limits and answer; only the calls of tests that pass are kept (their answers are ones the
tests accept). Each call becomes a one-guest workload of ../shared/peers/WORKLOAD.md's format:
the host's cells with their PUs, siblings and free memory, the PUs already pinned as
reserved, the shared split when the host has one, the limits as the overcommit; the guest's
cells with their vcpus, memory and policies. Calls that ask for what the format has no words
for (PCI or network affinity, hugepages, a guest CPU topology, memory over the limit already
used) are counted as skipped, not compared. Mixed cells (a cpuset and a pcpuset) become a
`mixed` guest whose dedicated_cpus are the pcpusets; Nova's fitter has no realtime input (the
realtime mask is a flavor check and the libvirt driver's <vcpusched>), so no call is
realtime. Shared vcpus already
on a node become shared guests placed on that node first.

Debian ships the tests but not two of their test-only dependencies (ddt, oslotest), and
nova.test pulls in much of Nova's test fixtures; so the module is imported with a minimal ddt
and a minimal nova.test (NoDBTestCase on testtools, with flags()), which is all that the
fitter's tests use. Not part of `make check`: python3-nova is not a CI dependency.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import types
import unittest

sys.dont_write_bytecode = True


# The differences that are topomap's on purpose, each said in the README ("Nova's own tests as
# an oracle"); the tool exits 1 only for another.
DOCUMENTED = {
    "EmulatorThreadsTestCase.test_isolate_w_isolate_thread_alloc_usage":
        "an isolated emulator needs a whole free core: Nova gives it PU 1, the sibling of the "
        "pinned PU 0, which its own claim then refuses",
    "HostCellsSortingTestCase.test_sort_no_pci_stats_no_shared_cpu_policy":
        "without a shared/dedicated split, Nova pins dedicated vcpus on the PUs its shared "
        "vcpus float over; topomap keeps those PUs for the shared guests",
}


def install_stubs():
    """Minimal ddt and nova.test, enough for test_hardware.py."""
    ddt = types.ModuleType("ddt")

    def data(*values):
        def mark(f):
            f.__ddt_data__ = values
            return f
        return mark

    def unpack(f):
        f.__ddt_unpack__ = True
        return f

    def ddt_class(cls):
        for name, f in list(vars(cls).items()):
            values = getattr(f, "__ddt_data__", None)
            if values is None:
                continue
            delattr(cls, name)
            for i, v in enumerate(values):
                def case(self, f=f, v=v):
                    if getattr(f, "__ddt_unpack__", False):
                        return f(self, **v) if isinstance(v, dict) else f(self, *v)
                    return f(self, v)
                setattr(cls, "%s_%d" % (name, i + 1), case)
        return cls

    ddt.data, ddt.unpack, ddt.ddt = data, unpack, ddt_class
    sys.modules["ddt"] = ddt

    import testtools
    import nova.conf
    from nova import objects
    objects.register_all()
    conf = nova.conf.CONF

    class NoDBTestCase(testtools.TestCase):
        USES_DB = False

        def flags(self, **kw):
            group = kw.pop("group", None)
            for k, v in kw.items():
                conf.set_override(k, v, group)
                self.addCleanup(conf.clear_override, k, group)

    test = types.ModuleType("nova.test")
    test.NoDBTestCase = test.TestCase = NoDBTestCase
    sys.modules["nova.test"] = test
    import nova
    nova.test = test


def record_calls():
    """Run test_hardware.py with the fitter wrapped: [(test id, passed, call)]."""
    from nova.virt import hardware as hw
    real = hw.numa_fit_instance_to_host
    current = {"calls": []}

    def wrapper(host_topology, instance_topology, limits=None, pci_requests=None,
                pci_stats=None, *args, **kw):
        # copies first: the fitter and the test change the objects afterwards
        call = {"host": host_topology.obj_clone() if host_topology else None,
                "inst": instance_topology.obj_clone() if instance_topology else None,
                "limits": limits,
                "pci": bool(pci_requests) or bool(pci_stats) or bool(args) or bool(kw)}
        answer = real(host_topology, instance_topology, limits, pci_requests, pci_stats,
                      *args, **kw)
        call["fits"] = answer is not None
        current["calls"].append(call)
        return answer

    hw.numa_fit_instance_to_host = wrapper
    from nova.tests.unit.virt import test_hardware as th
    th.hw.numa_fit_instance_to_host = wrapper
    out = []
    suite = unittest.defaultTestLoader.loadTestsFromModule(th)

    def walk(s):
        for t in s:
            if isinstance(t, unittest.TestSuite):
                yield from walk(t)
            else:
                yield t

    for t in walk(suite):
        current["calls"] = []
        result = unittest.TestResult()
        t.run(result)
        passed = result.wasSuccessful()
        for c in current["calls"]:
            out.append((t.id().rsplit(".", 2)[-2] + "." + t.id().rsplit(".", 1)[-1], passed, c))
    return out


def cpus(s):
    return sorted(s or ())


def get(obj, name, default=None):
    """A field of a Nova object, or default when it is not set."""
    return getattr(obj, name) if obj.obj_attr_is_set(name) else default


def to_workload(call):
    """A one-guest workload, or (None, why skipped)."""
    host, inst, limits = call["host"], call["inst"], call["limits"]
    if host is None or inst is None:
        return None, "no host or instance topology"
    if call["pci"]:
        return None, "PCI or network requests"
    if limits is not None and get(limits, "network_metadata") is not None:
        return None, "network affinity (the tests mock its check)"
    nodes, reserved, shared, split, setup = [], [], [], False, []
    for cell in host.cells:
        pus = set(get(cell, "cpuset") or ()) | set(get(cell, "pcpuset") or ())
        if set(get(cell, "cpuset") or ()) != set(get(cell, "pcpuset") or ()) and get(cell, "cpuset") and get(cell, "pcpuset"):
            split = True
        if any(p.size_kb != 4 and p.used for p in (get(cell, "mempages") or [])):
            return None, "hugepages in use"
        sib = [sorted(s) for s in (get(cell, "siblings") or []) if set(s) & pus]
        seen = set(p for s in sib for p in s)
        cores = sib + [[p] for p in sorted(pus - seen)]
        # Nova counts memory in use only against limits (memory x ratio - usage); without
        # limits a cell only has to be no larger than the node. A node of M - usage / ratio
        # gives a shared guest (M - usage / ratio) x ratio, as Nova does.
        free_mib = cell.memory
        if limits is not None:
            free_mib = int(cell.memory - get(cell, "memory_usage", 0) /
                           float(limits.ram_allocation_ratio))
        if free_mib < 0:
            return None, "memory already over the host's"
        # the shared vcpus already there: shared guests on this node, each no wider than
        # the node's shared PUs (Nova's rule), placed first
        usage = get(cell, "cpu_usage", 0)
        width = len(set(get(cell, "cpuset") or ()) - set(get(cell, "pinned_cpus") or ()))
        while usage > 0:
            if not width:
                return None, "shared vcpus on a host without shared PUs"
            n = min(usage, width)
            setup.append({"name": "used%d" % len(setup), "vcpus": n, "memory_mib": 1,
                          "cpu_policy": "shared",
                          "cells": [{"cpus": list(range(n)), "memory_mib": 1, "node": cell.id}]})
            free_mib += 1
            usage -= n
        nodes.append({"id": cell.id, "socket": cell.id, "memory_mib": free_mib,
                      "cores": [[p for p in c if p in pus] for c in cores
                                if any(p in pus for p in c)]})
        reserved += cpus(set(get(cell, "pinned_cpus") or ()) & pus)
        shared += cpus(set(get(cell, "cpuset") or ()) - set(get(cell, "pcpuset") or ()))
    if any(get(c, "pcpuset") and not get(c, "cpuset") for c in host.cells) and \
            any(get(c, "cpuset") and not get(c, "pcpuset") for c in host.cells):
        split = True
    w_host = {"nodes": nodes}
    if reserved:
        w_host["reserved_pus"] = sorted(set(reserved))
    if split:
        w_host["shared_pus"] = sorted(set(shared) - set(reserved))
    if limits is not None:
        w_host["overcommit"] = {"cpu": float(limits.cpu_allocation_ratio),
                                "memory": float(limits.ram_allocation_ratio)}
    else:
        # without limits Nova counts no shared vcpu against a node (only that a cell is no
        # wider than the node's shared PUs): the largest ratio topomap takes
        w_host["overcommit"] = {"cpu": 1024.0, "memory": 1.0}
    g_cells, vcpu, dedicated = [], 0, []
    policy = None
    for cell in inst.cells:
        if get(cell, "pagesize"):
            return None, "hugepages asked"
        if get(cell, "cpu_topology"):
            return None, "a guest CPU topology"
        pol = get(cell, "cpu_policy")
        # A mixed cell (issue 21): its vcpus are Nova's own numbers, its pcpuset the
        # dedicated ones (hw:cpu_dedicated_mask, or hw:cpu_realtime_mask alone).
        if get(cell, "cpuset") and get(cell, "pcpuset"):
            pol = "mixed"
        if policy is not None and pol != policy:
            return None, "cells of different policies"
        policy = pol
        if pol == "mixed":
            ids = sorted(set(get(cell, "cpuset")) | set(get(cell, "pcpuset")))
            dedicated += sorted(get(cell, "pcpuset"))
        else:
            n = len(get(cell, "cpuset") or ()) + len(get(cell, "pcpuset") or ())
            ids = list(range(vcpu, vcpu + n))
        g_cells.append({"cpus": ids, "memory_mib": cell.memory})
        vcpu += len(ids)
    if policy == "mixed" and sorted(c for g in g_cells for c in g["cpus"]) != list(range(vcpu)):
        return None, "a mixed guest whose cells do not number its vcpus 0 to N-1"
    guest = {"name": "g", "vcpus": vcpu, "memory_mib": sum(c["memory_mib"] for c in g_cells),
             "cpu_policy": policy if policy in ("dedicated", "mixed") else "shared"}
    if policy == "mixed":
        guest["dedicated_cpus"] = sorted(dedicated)
    first = inst.cells[0]
    if policy in ("dedicated", "mixed"):
        thread = get(first, "cpu_thread_policy")
        if thread:
            guest["thread_policy"] = thread
        if get(inst, "emulator_threads_policy") == "isolate":
            guest["emulator_threads"] = "isolate"
    elif get(inst, "emulator_threads_policy"):
        return None, "an emulator policy on a shared guest"
    if len(g_cells) > 1 or policy == "mixed" or \
            any(get(c, "id", i) != i for i, c in enumerate(inst.cells)):
        guest["cells"] = g_cells
    return {"name": "oracle", "host": w_host, "guests": setup + [guest]}, None


def topomap_fits(bench, workload):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(workload, f)
    try:
        run = subprocess.run([bench, f.name], capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    if run.returncode != 0:
        return None, run.stderr.strip().splitlines()[-1] if run.stderr else "exit %d" % run.returncode
    guests = json.loads(run.stdout)["guests"]
    bad = [g["status"] for g in guests[:-1] if g["status"] != "placed"]
    if bad:
        return None, "the shared vcpus already there do not fit: %s" % bad[0]
    return guests[-1]["status"] == "placed", guests[-1]["status"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", required=True, help="the topomap-bench binary")
    ap.add_argument("--verbose", action="store_true", help="every call, not the differences")
    args = ap.parse_args()
    install_stubs()
    calls = record_calls()
    kept = [(tid, c) for tid, passed, c in calls if passed]
    skipped, same, differ = {}, 0, []
    for tid, c in kept:
        w, why = to_workload(c)
        if w is None:
            skipped[why] = skipped.get(why, 0) + 1
            continue
        fits, status = topomap_fits(args.bench, w)
        if fits is None:
            skipped["topomap-bench refused the workload: " + status] = \
                skipped.get("topomap-bench refused the workload: " + status, 0) + 1
            continue
        if fits == c["fits"]:
            same += 1
            if args.verbose:
                print("same    %s: %s" % (tid, "fits" if fits else "does not fit"))
        else:
            differ.append((tid, c["fits"], status, w))
    unexplained = 0
    for tid, nova_fits, status, w in differ:
        print("DIFFERS %s: Nova %s, topomap %s" % (tid, "fits" if nova_fits else "does not fit",
                                                   status))
        if tid in DOCUMENTED:
            print("        documented: " + DOCUMENTED[tid])
        else:
            unexplained += 1
        if args.verbose:
            print("        " + json.dumps(w))
    print("%d fitter calls in %d runs of test_hardware.py's tests (%d in tests that failed "
          "here, not used); %d compared: %d the same, %d different; %d skipped:"
          % (len(calls), len({t for t, _, _ in calls}), len(calls) - len(kept),
             same + len(differ), same, len(differ), sum(skipped.values())))
    for why, n in sorted(skipped.items(), key=lambda x: -x[1]):
        print("  %4d %s" % (n, why))
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
