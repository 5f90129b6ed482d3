# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Python binding (python/topomap) with pytest: every session call and error class,
against the mock backend (tests/plugins) and the real cgroup v1 cpuset hierarchy, and the
README's Nova-style filter and weigher against fixture hosts, with the CLI's answers.

Run by meson (test 'python') with TOPOMAP_LIBRARY, PYTHONPATH, TOPOMAP_BIN,
TOPOMAP_TEST_DATA, TOPOMAP_SOURCE_ROOT and TOPOMAP_MOCK_PLUGIN_DIR set.
"""
import json
import os
import re
import subprocess

import pytest

import topomap

DATA = os.environ["TOPOMAP_TEST_DATA"]
ROOT = os.environ["TOPOMAP_SOURCE_ROOT"]
BIN = os.environ["TOPOMAP_BIN"]
HOST = os.path.join(DATA, "host-hugepages.xml")


@pytest.fixture(autouse=True)
def mock_backend(monkeypatch):
    monkeypatch.setenv("TOPOMAP_PLUGIN_PATH", os.environ["TOPOMAP_MOCK_PLUGIN_DIR"])


def cli(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True,
                          env=dict(os.environ, TOPOMAP_PLUGIN_PATH=os.environ["TOPOMAP_MOCK_PLUGIN_DIR"]))


def target(tmp_path, name="t", **more):
    path = tmp_path / name
    path.write_text("")
    return dict({"file": str(path)}, **more)


def test_version():
    assert re.match(r"^\d+\.\d+", topomap.version())


def test_plan_is_the_cli_plan(tmp_path):
    guests = [{"name": "db", "vcpus": 4, "memory_mib": 2048, "cells": [
        {"cpus": "0-1", "memory_mib": 1024}, {"cpus": "2-3", "memory_mib": 1024}]},
        {"name": "web", "vcpus": 2, "hugepages": "2M"}]
    plan = topomap.plan(topology=HOST, guests=guests, reserve="0")
    f = tmp_path / "g.json"
    f.write_text(json.dumps(guests))
    out = cli("plan", "--topology", HOST, "--reserve", "0", "--format", "json", str(f))
    assert out.returncode == 0, out.stderr
    assert json.loads(plan.to_json()) == json.loads(out.stdout)
    db = plan.guest("db")
    assert len(db.vcpus) == 4 and len(db.cells) == 2 and "0" not in db.pus
    assert plan.guest("web").hugepage_kib == 2048
    assert db.memory_mode == "strict" and db.emulator


def test_plan_mixed():
    """cpu_policy mixed: the dedicated_cpus on a PU each, the others over the pool left."""
    guests = [{"name": "m", "vcpus": 4, "cpu_policy": "mixed", "dedicated_cpus": [0, 1]}]
    m = topomap.plan(topology=HOST, guests=guests, reserve="0").guest("m")
    assert m.dedicated_cpus == "0-1"
    own = [m.vcpus[0].cpuset, m.vcpus[1].cpuset]
    assert all("," not in p and "-" not in p for p in own) and own[0] != own[1]
    assert m.vcpus[2].cpuset == m.vcpus[3].cpuset == m.emulator
    pool = set()
    for part in m.vcpus[2].cpuset.split(","):
        a, _, b = part.partition("-")
        pool |= set(range(int(a), int(b or a) + 1))
    assert pool and not {int(p) for p in own} & pool
    with pytest.raises(topomap.BadInput) as e:
        topomap.plan(topology=HOST, guests=[{"name": "m", "vcpus": 2, "cpu_policy": "mixed"}])
    assert "dedicated_cpus" in e.value.message


def test_realtime_guest():
    """realtime_cpus in a guest dict: the plan says so, and a shared guest is refused."""
    plan = topomap.plan(topology=HOST, guests=[
        {"name": "rt", "vcpus": 4, "realtime_cpus": "1-2", "realtime_priority": 7}])
    rt = plan.guest("rt")
    assert rt.realtime_vcpus == "1-2" and rt.realtime_priority == 7
    assert topomap.plan(topology=HOST, guests=[{"name": "n", "vcpus": 2}]).guest(
        "n").realtime_vcpus == ""
    with pytest.raises(topomap.BadInput) as e:
        topomap.plan(topology=HOST, guests=[
            {"name": "s", "vcpus": 2, "cpu_policy": "shared", "realtime_cpus": "1"}])
    assert "realtime vcpus must be dedicated" in e.value.message


def test_plan_errors():
    with pytest.raises(topomap.NoFit) as e:
        topomap.plan(topology=HOST, guests=[{"name": "big", "vcpus": 64}])
    assert e.value.step == "place" and e.value.code < 0 and "big" in e.value.message
    with pytest.raises(topomap.BadInput) as e:
        topomap.plan(topology=HOST, guests=[{"name": "x", "vcpus": "many"}])
    assert "'vcpus'" in e.value.message and e.value.step == "input"
    with pytest.raises(topomap.BadInput):
        topomap.plan(topology="/nonexistent.xml", guests=[{"name": "x", "vcpus": 1}])
    assert issubclass(topomap.NoFit, topomap.TopomapError)


def test_topology_constructors(tmp_path, monkeypatch):
    """Issue 19: one constructor per kind of host; the binding reads the source string."""
    synthetic = "pack:2 numa:2(memory=4GiB) core:2 pu:1"
    a = topomap.Topology.synthetic(synthetic).to_json()
    assert len(a["nodes"]) == 4
    assert topomap.Topology.parse("synthetic:" + synthetic).to_json() == a
    assert topomap.Topology.xml(HOST).to_json() == topomap.Topology.parse(HOST).to_json()
    assert topomap.Topology.xml(HOST, probe=True).to_json()["nodes"]
    host_json = tmp_path / "host.json"
    host_json.write_text(json.dumps(a))
    assert topomap.Topology.json(str(host_json)).to_json()["nodes"] == a["nodes"]
    assert topomap.Topology.parse(str(host_json)).to_json()["nodes"] == a["nodes"]
    assert topomap.Topology.live().to_json()["nodes"]
    # a file named like a backend source: read as a backend, unless given with a directory
    named = tmp_path / "host:1.xml"
    named.write_bytes(open(HOST, "rb").read())
    monkeypatch.chdir(tmp_path)
    with pytest.raises(topomap.TopomapError) as e:
        topomap.Topology.parse("host:1.xml")
    assert "'host:1.xml'" in e.value.message
    assert topomap.Topology.parse("./host:1.xml").to_json()["nodes"]
    for bad in ("", "synthetic:nonsense", "/nonexistent.json"):
        with pytest.raises(topomap.BadInput):
            topomap.Topology.parse(bad)
    # a session on a topology object: the host the session describes is that one
    t = topomap.Topology.synthetic(synthetic)
    with topomap.Session(topology=t) as s:
        assert s.topology() == a
        assert s.plan([{"name": "x", "vcpus": 2}]).guests[0].pus
    assert topomap.plan(topology=t, guests=[{"name": "x", "vcpus": 1}]).guests


def test_session_calls(tmp_path):
    state = str(tmp_path / "state.json")
    with topomap.Session(topology=HOST, state=state, write=True, reserve="23") as s:
        assert s.guests == [] and s.reserve == "23"
        what_if = s.plan([{"name": "a", "vcpus": 2}])
        assert s.guests == []
        t = target(tmp_path)
        a = s.apply({"name": "a", "vcpus": 2}, "mock", t)
        assert a.guests[0].pus == what_if.guests[0].pus
        written = open(t["file"]).read()      # the mock writes the guest's cpuset there
        assert sorted(written.split(",")) == sorted(a.guests[0].pus)
        assert s.guests == ["a"] and s.verify("a") == []
        assert s.guest_plan("a").guests[0].pus == a.guests[0].pus
        b = s.record({"name": "b", "vcpus": 2})
        assert set(b.guests[0].pus).isdisjoint(a.guests[0].pus)
        around = s.plan([{"name": "c", "vcpus": 1}])
        assert around.guests[0].pus[0] not in a.guests[0].pus + b.guests[0].pus
        st = s.state()
        assert [g["name"] for g in st["guests"]] == ["a", "b"]
        assert s.topology()["nodes"][0]["id"] == 0
        nrt = s.nrt("worker-1")
        assert nrt["kind"] == "NodeResourceTopology" and nrt["metadata"]["name"] == "worker-1"
        s.set_reserve(add="22")
        assert s.reserve == "22-23"
        s.set_reserve(remove="22")
        dry = s.apply({"name": "d", "vcpus": 1}, "mock", target(tmp_path, "d"), dry_run=True)
        assert dry.guests[0].pus and "d" not in s.guests
        s.release("b")
        assert s.guests == ["a"]
    # What it recorded is what the CLI sees.
    out = cli("state", "--topology", HOST, "--state", state, "--format", "json")
    assert [g["name"] for g in json.loads(out.stdout)["guests"]] == ["a"]


def test_session_errors(tmp_path):
    state = str(tmp_path / "state.json")
    with topomap.Session(topology=HOST, state=state, write=True) as s:
        for step, where in (("open", "open"), ("apply", "apply"), ("read-back", "read back")):
            with pytest.raises(topomap.ApplyFailed) as e:
                s.apply({"name": "x", "vcpus": 1}, "mock", target(tmp_path, fail=step))
            assert e.value.step == where and e.value.message
            assert s.guests == []
        with pytest.raises(topomap.NoFit) as e:
            s.apply({"name": "big", "vcpus": 99}, "mock", target(tmp_path))
        assert e.value.step == "place"
        with pytest.raises(topomap.BadInput) as e:
            s.apply({"name": "x", "vcpus": 1}, "no-such-backend", {})
        assert e.value.step == "input"
        with pytest.raises(topomap.BadInput):
            s.release("nobody")
        with pytest.raises(topomap.BadInput):
            s.verify("nobody")
        s.apply({"name": "drifts", "vcpus": 1}, "mock", target(tmp_path, "dr"))
    # A target that drifted: verify lists the difference.
    with topomap.Session(topology=HOST, state=state, write=True) as s:
        assert s.verify("drifts") == []
        with open(tmp_path / "dr", "w") as f:
            f.write("63")
        drift = s.verify("drifts")
        assert drift and any("63" in d for d in drift)
    with topomap.Session(topology=HOST, state=state) as s:
        with pytest.raises(topomap.TopomapError):
            s.release("drifts")          # opened to read
    with pytest.raises(topomap.BadInput):
        topomap.Session(topology="/nonexistent.xml")


CPUSET = "/sys/fs/cgroup/cpuset"


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists(CPUSET + "/cpuset.cpus"),
                    reason="needs root and the cgroup v1 cpuset hierarchy")
def test_cgroup_backend(tmp_path, monkeypatch):
    """The real cgroup v1 backend: apply, verify, drift, release, adopt."""
    plugins = [d for d in os.environ.get("TOPOMAP_REAL_PLUGIN_PATH", "").split(":") if d]
    monkeypatch.setenv("TOPOMAP_PLUGIN_PATH", ":".join(plugins))
    state = str(tmp_path / "state.json")
    name = f"topomap-pytest-{os.getpid()}"
    path = os.path.join(CPUSET, name)
    hand = path + "-hand"
    try:
        with topomap.Session(state=state, write=True) as s:
            p = s.apply({"name": "ct", "vcpus": 1, "memory_mib": 64}, "cgroup",
                        {"cgroup": name, "create": True})
            pu = p.guests[0].pus[0]
            assert open(os.path.join(path, "cpuset.cpus")).read().strip() == pu
            assert s.verify("ct") == []
            with open(os.path.join(path, "cpuset.cpus"), "w") as f:
                f.write(open(os.path.join(CPUSET, "cpuset.cpus")).read().strip())
            assert s.verify("ct") != []
            s.release("ct")
            assert s.guests == []
            # A cgroup pinned by hand, adopted as it is pinned.
            os.mkdir(hand)
            with open(os.path.join(hand, "cpuset.mems"), "w") as f:
                f.write(open(os.path.join(CPUSET, "cpuset.mems")).read().strip())
            with open(os.path.join(hand, "cpuset.cpus"), "w") as f:
                f.write(pu)
            adopted = s.adopt("cgroup", {"cgroup": name + "-hand"}, name="legacy")
            assert adopted.guests[0].pus == [pu] and s.guests == ["legacy"]
            with pytest.raises(topomap.NoFit):
                s.apply({"name": "many", "vcpus": os.cpu_count() + 1}, "cgroup",
                        {"cgroup": name, "create": True})
    finally:
        for d in (path, hand):
            if os.path.isdir(d):
                os.rmdir(d)


def readme_example():
    text = open(os.path.join(ROOT, "README.md")).read()
    block = re.search(r"<!-- python-example:begin -->\n```python\n(.*?)```\n<!-- python-example:end -->",
                      text, re.S)
    assert block, "README.md has no python example"
    ns = {}
    exec(compile(block.group(1), "README.md", "exec"), ns)
    return ns


def test_readme_nova_filter_and_weigher(tmp_path):
    ns = readme_example()
    hosts = []
    for h, held in (("host-hugepages.xml", 20), ("host-4n.xml", 0), ("host-unequal-memory.json", 4),
                    (os.path.join(ROOT, "examples", "host-2s-ht.xml"), 8)):
        topo = os.path.join(DATA, h)
        state = str(tmp_path / f"state-{os.path.basename(h)}.json")
        if held:
            t = tmp_path / f"t-{os.path.basename(h)}"
            t.write_text("")
            out = cli("apply", "--topology", topo, "--state", state, "--backend", "mock", "-o",
                      f"file={t}", "--name", "busy", "--vcpus", str(held))
            assert out.returncode == 0, out.stderr
        else:
            cli("state", "--topology", topo, "--state", state)
        hosts.append({"name": os.path.basename(h), "topology": topo, "state": state})
    guests = [{"name": "g1", "vcpus": 1}, {"name": "g4", "vcpus": 4, "memory_mib": 8192},
              {"name": "g8c", "vcpus": 8, "cells": [{"cpus": "0-3"}, {"cpus": "4-7"}]},
              {"name": "g12", "vcpus": 12}, {"name": "g40", "vcpus": 40}]
    filt, weigher = ns["TopomapFilter"](), ns["TopomapWeigher"]()
    answers = 0
    for guest in guests:
        f = tmp_path / f"{guest['name']}.json"
        f.write_text(json.dumps(guest))
        for host in hosts:
            out = cli("plan", "--topology", host["topology"], "--state", host["state"], str(f))
            assert out.returncode in (0, 3), out.stderr
            assert filt.host_passes(host, guest) == (out.returncode == 0), (host, guest, out.stderr)
            if out.returncode == 0:
                assert isinstance(weigher.weigh(host, guest), int)
            answers += 1
        best = ns["schedule"](hosts, guest)
        fits = [h["name"] for h in hosts if filt.host_passes(h, guest)]
        assert (best is None) == (not fits) and (best is None or best in fits)
    assert answers == len(guests) * len(hosts)
    # Some guests fit everywhere, some nowhere, some only on some hosts.
    assert ns["schedule"](hosts, guests[0]) is not None
    assert ns["schedule"](hosts, guests[-1]) is None
