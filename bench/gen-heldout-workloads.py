#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Held-out workloads (issue 21), in the format of shared/peers/WORKLOAD.md, for
bench/compare.py to sweep beside Nova in both modes. Deterministic: a seed gives the same files.

  bench/gen-heldout-workloads.py OUTDIR [--seeds 1-5] [--shapes uneq2,uneq4,...]

Shapes:
  uneq2    2 nodes of 8x2 cores/32 GiB and 4x2/96 GiB: memory per PU differs
  uneq4    4 nodes of 24/8/16/12 cores x2 with 64/96/32/48 GiB
  adjsmt   2 nodes of 12 cores whose siblings are adjacent PUs (0-1, 2-3, ...), one core
           reserved per node, every thread and emulator policy
  sock4    4 sockets of 2 nodes (8x2 cores, 32 GiB each) with distances 10/16/32,
           1- and 2-cell guests
  long14   8 nodes of 16x2 cores, a long stream (120 guests) of 1- to 4-cell guests
  shared   2 nodes of 16x2 cores, 4 cores per node for shared guests (cpu overcommit 4),
           half of the guests shared
  forkx, forky  (one file each, no seed) two streams on 2 nodes of 2x2 cores and 8 GiB that
           begin with the same two guests: whichever node a fitter gives the second, it is
           behind one of Nova's modes on one of the streams (README, "Never behind both")
The uneq shapes of seeds 1-5 are the README's held-out table.
"""
import argparse
import json
import os
import random


def host(spec, adjacent=False, sockets=None):
    """spec: (cores, GiB) per node; two threads per core."""
    total = sum(c for c, _ in spec)
    g, nodes = 0, []
    for i, (cores, gib) in enumerate(spec):
        if adjacent:
            pus = [[2 * (g + k), 2 * (g + k) + 1] for k in range(cores)]
        else:
            pus = [[g + k, g + k + total] for k in range(cores)]
        nodes.append({'id': i, 'socket': sockets[i] if sockets else i,
                      'memory_mib': gib * 1024, 'cores': pus})
        g += cores
    return {'nodes': nodes}


def dedicated(name, cells, per_vcpu_mib, **policy):
    """A dedicated guest of len(cells) cells of cells[i] vcpus."""
    v, out = 0, []
    for n in cells:
        out.append({'cpus': list(range(v, v + n)), 'memory_mib': n * per_vcpu_mib})
        v += n
    g = {'name': name, 'vcpus': v, 'memory_mib': v * per_vcpu_mib,
         'cpu_policy': 'dedicated', 'thread_policy': 'prefer'}
    g.update(policy)
    if len(out) > 1:
        g['cells'] = out
    return g


def uneq(rnd, n):
    guests = []
    for i in range(n):
        v = rnd.choice([1, 2, 2, 4, 4, 8])
        per = rnd.choice([1, 1, 2, 2, 2, 4, 8, 16, 24])
        guests.append(dedicated('g%03d' % i, [v], per * 1024))
    return guests


def adjsmt(rnd):
    guests = []
    for i in range(40):
        v = rnd.choice((1, 2, 3, 4, 6))
        pol = {'thread_policy': rnd.choice(('prefer', 'isolate', 'require')),
               'emulator_threads': rnd.choice(('share', 'share', 'isolate'))}
        guests.append(dedicated('a%03d' % i, [v], 2048, **pol))
    return guests


def cells_stream(rnd, n, maxcells, sizes):
    guests = []
    for i in range(n):
        k = rnd.choice(range(1, maxcells + 1))
        per = rnd.choice(sizes)
        cells = [per] * k
        if k > 1 and rnd.random() < 0.3:
            cells[-1] = rnd.choice(sizes)
        guests.append(dedicated('c%03d' % i, cells, rnd.choice((1024, 2048, 4096))))
    return guests


def shared_stream(rnd):
    guests = []
    for i in range(60):
        v = rnd.choice((1, 2, 4, 6, 8))
        if rnd.random() < 0.5:
            guests.append({'name': 's%03d' % i, 'vcpus': v, 'memory_mib': v * 1024,
                           'cpu_policy': 'shared'})
        else:
            guests.append(dedicated('d%03d' % i, [v], 2048))
    return guests


def fork(shape):
    """Two guests of 1 vcpu and 4 GiB, then either a guest that needs a whole empty node
    (forkx: it fits only when both went to one node, as packing does) or 3-vcpu guests that
    need 3 free PUs and memory on a node (forky: two fit only when the first two went to
    different nodes, as spreading does). The prefix is the same, so no fitter that decides a
    guest before it sees the next can place as many as the better mode on both."""
    h = host([(2, 8), (2, 8)])
    guests = [dedicated('a', [1], 4096), dedicated('b', [1], 4096)]
    if shape == 'forkx':
        guests += [dedicated('c', [4], 2048), dedicated('d', [4], 2048)]
    else:
        guests += [dedicated('c', [3], 1024), dedicated('d', [3], 1024),
                   dedicated('e', [3], 1024)]
    return h, guests, 'same two guests first; ' + ('then a whole node' if shape == 'forkx'
                                                    else 'then 3-vcpu guests')


def make(shape, seed):
    """(host, guests, description) of a shape and seed."""
    if shape in ('uneq2', 'uneq4'):
        spec = {'uneq2': [(8, 32), (4, 96)],
                'uneq4': [(24, 64), (8, 96), (16, 32), (12, 48)]}[shape]
        rnd = random.Random(seed * 100 + len(spec))
        return (host(spec), uneq(rnd, 40 if shape == 'uneq2' else 90),
                'unequal memory per PU, dedicated 1-8 vcpus, 1-24 GiB per vcpu')
    if shape in ('forkx', 'forky'):
        return fork(shape)
    rnd = random.Random('%s-%d' % (shape, seed))
    if shape == 'adjsmt':
        h = host([(12, 48), (12, 48)], adjacent=True)
        h['reserved_pus'] = [0, 1, 24, 25]
        return h, adjsmt(rnd), 'adjacent SMT numbering, every thread and emulator policy'
    if shape == 'sock4':
        h = host([(8, 32)] * 8, sockets=[0, 0, 1, 1, 2, 2, 3, 3])
        h['distances'] = [[10 if i == j else 16 if i // 2 == j // 2 else 32
                           for j in range(8)] for i in range(8)]
        return (h, cells_stream(rnd, 60, 2, (1, 2, 4, 8)),
                '4 sockets of 2 nodes with distances, 1- and 2-cell guests')
    if shape == 'long14':
        h = host([(16, 64)] * 8, sockets=[0, 0, 0, 0, 1, 1, 1, 1])
        return h, cells_stream(rnd, 120, 4, (1, 2, 4)), "a long stream of 1- to 4-cell guests"
    if shape == 'shared':
        h = host([(16, 64), (16, 64)])
        h['shared_pus'] = sorted(pu for node in h['nodes'] for core in node['cores'][-4:]
                                 for pu in core)
        h['overcommit'] = {'cpu': 4.0, 'memory': 1.0}
        return h, shared_stream(rnd), 'half shared guests on a split host (cpu overcommit 4)'
    raise SystemExit('unknown shape %r' % shape)


SHAPES = ('uneq2', 'uneq4', 'adjsmt', 'sock4', 'long14', 'shared')
UNSEEDED = ('forkx', 'forky')


def seeds(text):
    out = []
    for part in text.split(','):
        lo, _, hi = part.partition('-')
        out += range(int(lo), int(hi or lo) + 1)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('outdir')
    ap.add_argument('--seeds', type=seeds, default=seeds('1-5'), help='e.g. 1-5 or 1,3')
    ap.add_argument('--shapes', default=','.join(SHAPES),
                    help='comma-separated, of ' + ', '.join(SHAPES + UNSEEDED))
    args = ap.parse_args()
    os.makedirs(args.outdir, exist_ok=True)
    for seed in args.seeds:
        for shape in args.shapes.split(','):
            h, guests, what = make(shape, seed)
            name = shape if shape in UNSEEDED else '%s-s%d' % (shape, seed)
            w = {'name': name, 'seed': seed, 'description': what,
                 'host': h, 'guests': guests}
            with open(os.path.join(args.outdir, w['name'] + '.json'), 'w') as f:
                json.dump(w, f, indent=1)


if __name__ == '__main__':
    main()
