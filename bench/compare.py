#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""
The README's side-by-side table: topomap-bench on every workload of a directory, beside
OpenStack Nova's fitter in both of its modes, stock (spread) and packing
(`packing_host_numa_cells_allocation_strategy=True`). Locality is measured here from each
engine's answer and the workload's host, the same way for every engine, so no engine grades
itself.

  bench/compare.py --bench build/bench/topomap-bench --peers ../shared/peers \
                   [--workloads DIR] [--repeat 5] [--runs 5]
                   [--nova-live] [--nova-cache DIR] [--nova-repeat 3] [--behind]

For shared/peers/workloads the recorded Nova results (results-nova.json, results-nova-pack.json)
and upper bounds are used, unless --nova-live runs Nova here as well (a paired run: its times
were taken on this machine beside topomap's; a decision that differs from the recorded run is
reported); for any other directory (held-out workloads) Nova is run here with
the peers' nova_fit.py in both modes (python3-nova must be installed) and the bounds come from
the peers' bench.py.

Times are sub-microsecond on small hosts and a shared machine has slow spells, so each
workload runs --runs times (interleaved, one workload after the other) and the table shows
the median run's median and maximum; the decisions must be the same in every run.
"""
import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys


def locality(workload, result):
    """(SMT pairs on host siblings %, cells on one node %, cell pairs on one socket %)."""
    node_of, core_of, socket_of = {}, {}, {}
    for node in workload["host"]["nodes"]:
        socket_of[node["id"]] = node.get("socket", node["id"])
        for i, core in enumerate(node["cores"]):
            for pu in core:
                node_of[pu] = node["id"]
                core_of[pu] = (node["id"], i)
    spec = {g["name"]: g for g in workload["guests"]}
    pairs = siblings = cells = whole = cell_pairs = same_socket = 0
    for g in result["guests"]:
        if g["status"] != "placed":
            continue
        vmap = {int(v): pu for v, pu in g["vcpu_map"].items()}
        want = spec[g["name"]].get("cells") or [{"cpus": list(range(g["vcpus"]))}]
        for cell in want:
            cpus = cell["cpus"]
            if not all(v in vmap for v in cpus):
                continue
            cells += 1
            whole += len({node_of[vmap[v]] for v in cpus}) == 1
            for k in range(0, len(cpus) - 1, 2):
                a, b = vmap[cpus[k]], vmap[cpus[k + 1]]
                pairs += 1
                siblings += core_of[a] == core_of[b]
        nodes = [node for _, node in sorted(g.get("cell_map", {}).items())]
        for i in range(len(nodes)):
            for j in range(i + 1, len(nodes)):
                cell_pairs += 1
                same_socket += socket_of[nodes[i]] == socket_of[nodes[j]]

    def pct(a, b):
        return "%.1f" % (100.0 * a / b) if b else "-"

    return pct(siblings, pairs), pct(whole, cells), pct(same_socket, cell_pairs)


def nova_results(args, wdir, names):
    """{workload: (spread result, pack result, bounds)}: recorded, or run here."""
    out = {}
    if os.path.realpath(wdir) == os.path.realpath(os.path.join(args.peers, "workloads")):
        spread = json.load(open(os.path.join(args.peers, "results-nova.json")))["workloads"]
        pack = json.load(open(os.path.join(args.peers, "results-nova-pack.json")))["workloads"]
        for name in names:
            key = name[:-5]
            out[name] = (spread[key]["result"], pack[key]["result"], spread[key]["bounds"])
            if args.nova_live:
                live = [nova_run(args, os.path.join(wdir, name), mode)
                        for mode in ([], ["--pack"])]
                for mode, rec, now in zip(("spread", "pack"), out[name][:2], live):
                    if decisions(rec) != decisions(now):
                        print("%s: Nova %s here decided otherwise than its recorded run"
                              % (key, mode), file=sys.stderr)
                out[name] = (live[0], live[1], spread[key]["bounds"])
        return out
    sys.path.insert(0, args.peers)
    sys.dont_write_bytecode = True  # shared/peers is read-only
    import bench as peers_bench  # the peers' bound definitions, not ours
    for name in names:
        path = os.path.join(wdir, name)
        res = []
        for mode in ([], ["--pack"]):
            res.append(nova_run(args, path, mode))
        out[name] = (res[0], res[1], peers_bench.bounds(json.load(open(path))))
    return out


def decisions(result):
    """What an engine decided for each guest of a run, without its times."""
    return [(g["name"], g["status"], g.get("vcpu_map")) for g in result["guests"]]


def nova_run(args, path, mode):
    """One Nova run of a workload, or its copy in --nova-cache made for the same file."""
    text = open(path).read()
    cache = None
    if args.nova_cache:
        os.makedirs(args.nova_cache, exist_ok=True)
        key = hashlib.sha256((text + repr(mode) + str(args.nova_repeat)).encode()).hexdigest()
        cache = os.path.join(args.nova_cache, key[:32] + ".json")
        if os.path.exists(cache):
            return json.load(open(cache))
    run = subprocess.run(["/usr/bin/python3", os.path.join(args.peers, "nova_fit.py"),
                          "--fit-timeout", "60", "--repeat", str(args.nova_repeat), path] + mode,
                         check=True, capture_output=True, text=True)
    if cache:
        with open(cache, "w") as f:
            f.write(run.stdout)
    return json.loads(run.stdout)


def memory_pct(workload, result):
    """The host's memory the placed guests hold, in per cent."""
    want = {g["name"]: g["memory_mib"] for g in workload["guests"]}
    held = sum(want[g["name"]] for g in result["guests"] if g["status"] == "placed")
    return 100.0 * held / sum(node["memory_mib"] for node in workload["host"]["nodes"])


def admitted(workload, mine, other):
    """The guests topomap placed and the other engine refused: (count, their GiB per vcpu)."""
    spec = {g["name"]: g for g in workload["guests"]}
    refused = {g["name"] for g in other["guests"] if g["status"] != "placed"}
    names = [g["name"] for g in mine["guests"]
             if g["status"] == "placed" and g["name"] in refused]
    vcpus = sum(spec[name]["vcpus"] for name in names)
    mib = sum(spec[name]["memory_mib"] for name in names)
    return len(names), (mib / 1024.0 / vcpus if vcpus else 0.0)


def behind(workload, mine, spread, pack):
    """What topomap is behind the better Nova mode in: placed before the first rejection, PU
    utilisation, or bad fits; and whether a PU utilisation behind came with at least that
    mode's memory in use (the host full by memory, its PUs stranded by memory-heavy guests
    topomap placed and that mode refused)."""
    t, n, k = mine["totals"], spread["totals"], pack["totals"]
    out, memory_bound = [], None
    for key in ("placed_before_first_reject", "pu_util_pct"):
        best = max(n[key], k[key])
        if t[key] < best - 1e-9:
            mode, other = ("spread", spread) if n[key] >= k[key] else ("pack", pack)
            line = "%s %s < %s (%s)" % (key, t[key], best, mode)
            if key == "pu_util_pct":
                mine_mem, other_mem = memory_pct(workload, mine), memory_pct(workload, other)
                count, gib = admitted(workload, mine, other)
                memory_bound = mine_mem >= other_mem - 1e-9
                line += ("; memory in use %.1f %% against %.1f %%; placed %d guests %s "
                         "refused (%.1f GiB per vcpu)" % (mine_mem, other_mem, count, mode, gib))
            out.append(line)
    bad = sum(t["statuses"].get(s, 0) for s in ("bad_fit", "timeout", "invalid"))
    if bad:
        out.append("%d bad fits, timeouts or invalid" % bad)
    return out, memory_bound


def sweep(args, wdir, names, nova):
    """--behind: one line per workload where topomap is behind, a count, and the slowest ratio
    of Nova spread's median decision to topomap's."""
    count, ratios, util_behind, memory_bound = 0, [], 0, 0
    for name in names:
        path = os.path.join(wdir, name)
        out = subprocess.run([args.bench, "--repeat", str(args.repeat), path],
                             check=True, capture_output=True, text=True).stdout
        mine = json.loads(out)
        spread, pack, _ = nova[name]
        ratios.append(spread["totals"]["fit_ms_median"] / max(mine["totals"]["fit_ms_median"],
                                                               1e-9))
        why, full = behind(json.load(open(path)), mine, spread, pack)
        count += bool(why)
        util_behind += full is not None
        memory_bound += bool(full)
        if why:
            print("%s: %s" % (name[:-5], "; ".join(why)))
    print("%d of %d workloads behind the better Nova mode; median decision x%.0f to x%.0f "
          "faster than Nova spread" % (count, len(names), min(ratios), max(ratios)))
    print("%d behind in PU utilisation, %d of them with at least that mode's memory in use"
          % (util_behind, memory_bound))
    return 1 if count else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--bench", required=True, help="the topomap-bench binary")
    ap.add_argument("--peers", required=True, help="shared/peers: workloads and Nova results")
    ap.add_argument("--workloads", help="a directory of workloads (default: the peers')")
    ap.add_argument("--repeat", type=int, default=5,
                    help="passes per run; a guest's time is its fastest pass")
    ap.add_argument("--runs", type=int, default=5, help="runs per workload (median)")
    ap.add_argument("--nova-repeat", type=int, default=3, help="passes of a live Nova run")
    ap.add_argument("--nova-live", action="store_true",
                    help="run Nova here on the peers' workloads too, so that the speed-up "
                         "is paired (same machine, same hour), not against a recorded run")
    ap.add_argument("--nova-cache", help="keep live Nova results here, keyed by the workload")
    ap.add_argument("--behind", action="store_true",
                    help="no table: list the workloads where topomap is behind the better "
                         "Nova mode (exit status 1 when any)")
    args = ap.parse_args()

    wdir = args.workloads or os.path.join(args.peers, "workloads")
    names = sorted(name for name in os.listdir(wdir) if name.endswith(".json"))
    nova = nova_results(args, wdir, names)
    if args.behind:
        return sweep(args, wdir, names, nova)
    print("| workload | usable PUs | placed before 1st reject | placed | PU util % "
          "| bad fits + timeouts | median fit ms | max fit ms "
          "| SMT pairs on siblings % | cells on one node % | cell pairs on one socket % |")
    print("| --- " * 11 + "|")
    runs = {name: [] for name in names}
    for _ in range(args.runs):
        for name in names:
            out = subprocess.run([args.bench, "--repeat", str(args.repeat),
                                  os.path.join(wdir, name)],
                                 check=True, capture_output=True, text=True).stdout
            runs[name].append(json.loads(out))
    for name in names:
        workload = json.load(open(os.path.join(wdir, name)))
        mine = runs[name][0]
        decided = [decisions(r) for r in runs[name]]
        if any(d != decided[0] for d in decided):
            sys.exit("%s: the runs decided differently" % name)
        spread, pack, b = nova[name]
        t, n, k = dict(mine["totals"]), spread["totals"], pack["totals"]
        for key in ("fit_ms_median", "fit_ms_max"):
            t[key] = statistics.median(r["totals"][key] for r in runs[name])
        bad = [sum(r["totals"]["statuses"].get(s, 0) for s in ("bad_fit", "timeout"))
               for r in (mine, spread, pack)]
        lm, ln = locality(workload, mine), locality(workload, spread)
        speed = n["fit_ms_median"] / t["fit_ms_median"]
        print("| %s | %d | %d / %d / %d (%d) | %d / %d / %d (%d) | %.1f / %.1f / %.1f "
              "| %d / %d / %d | %.5f / %.3f (×%.0f) | %.4f / %.1f | %s / %s | %s / %s "
              "| %s / %s |" % (
                  name[:-5], t["usable_pus"],
                  t["placed_before_first_reject"], n["placed_before_first_reject"],
                  k["placed_before_first_reject"], b["placed_before_first_reject"],
                  t["placed"], n["placed"], k["placed"], b["placed"],
                  t["pu_util_pct"], n["pu_util_pct"], k["pu_util_pct"],
                  bad[0], bad[1], bad[2],
                  t["fit_ms_median"], n["fit_ms_median"], speed,
                  t["fit_ms_max"], n["fit_ms_max"],
                  lm[0], ln[0], lm[1], ln[1], lm[2], ln[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
