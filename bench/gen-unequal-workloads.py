#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Held-out workloads on hosts whose nodes differ in memory per PU (issue 21): a 2-node host of
8x2 cores/32 GiB and 4x2/96 GiB, and a 4-node host of 24/8/16/12 cores x2 with 64/96/32/48 GiB.
Streams of dedicated guests of 1-8 vcpus with 1-24 GiB per vcpu, one cell, in the format of
shared/peers/WORKLOAD.md. Deterministic: seeds 1 to 5.

  bench/gen-unequal-workloads.py OUTDIR
  bench/compare.py --bench build/bench/topomap-bench --peers ../shared/peers --workloads OUTDIR
"""
import json, random, sys, os
out = sys.argv[1]
def host(spec):
    total = sum(c for c, _ in spec); g = 0; nodes = []
    for i, (cores, gib) in enumerate(spec):
        nodes.append({'id': i, 'socket': i, 'memory_mib': gib * 1024,
                      'cores': [[g + k, g + k + total] for k in range(cores)]})
        g += cores
    return {'nodes': nodes}
hosts = {'uneq2': [(8, 32), (4, 96)], 'uneq4': [(24, 64), (8, 96), (16, 32), (12, 48)]}
for seed in (1, 2, 3, 4, 5):
    for hn, spec in hosts.items():
        rnd = random.Random(seed * 100 + len(spec))
        guests = []
        for i in range(40 if hn == 'uneq2' else 90):
            v = rnd.choice([1, 2, 2, 4, 4, 8])
            per = rnd.choice([1, 1, 2, 2, 2, 4, 8, 16, 24])
            guests.append({'name': 'g%03d' % i, 'vcpus': v, 'memory_mib': v * per * 1024,
                           'cpu_policy': 'dedicated', 'thread_policy': 'prefer'})
        w = {'name': '%s-s%d' % (hn, seed), 'seed': seed,
             'description': 'unequal memory per PU, dedicated 1-8 vcpus, 1-24 GiB per vcpu',
             'host': host(spec), 'guests': guests}
        json.dump(w, open(os.path.join(out, w['name'] + '.json'), 'w'), indent=1)
