#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The README's claim that no fitter can be at least the better Nova mode on every stream
(issue 21, "Never behind both"), proved on the two streams bench/gen-heldout-workloads.py
writes for it (forkx, forky): every placement of their one-cell guests is tried, node by
node, and the most guests placed before the first rejection is computed for each choice of
the second guest's node. The streams begin alike, so a fitter has made that choice before
it knows which stream it is on; the test fails unless every choice loses on one of them.

  tests/check-fork-bound.py SOURCE_ROOT
"""
import json
import os
import subprocess
import sys
import tempfile


def node_room(workload):
    return [[sum(len(core) for core in n['cores']), n['memory_mib']]
            for n in workload['host']['nodes']]


def best_prefix(guests, room, start):
    """The most guests of guests[start:] placed in a row on nodes with room (free PUs,
    free MiB), trying every node for each; a one-cell dedicated guest fits a node that has
    its vcpus and its memory free (thread policy prefer, no reserve: any free PUs do)."""
    if start == len(guests):
        return 0
    g, best = guests[start], 0
    for n in room:
        if n[0] >= g['vcpus'] and n[1] >= g['memory_mib']:
            n[0] -= g['vcpus']
            n[1] -= g['memory_mib']
            best = max(best, 1 + best_prefix(guests, room, start + 1))
            n[0] += g['vcpus']
            n[1] += g['memory_mib']
    return best


def after_choice(workload, same_node):
    """Most placed before the first rejection with guests 'a' and 'b' on one node or two."""
    guests = workload['guests']
    assert [g['name'] for g in guests[:2]] == ['a', 'b'], 'the streams must begin with a, b'
    assert all('cells' not in g and g['cpu_policy'] == 'dedicated' for g in guests)
    room = node_room(workload)
    for g, node in ((guests[0], 0), (guests[1], 0 if same_node else 1)):
        room[node][0] -= g['vcpus']
        room[node][1] -= g['memory_mib']
        assert min(room[node]) >= 0, 'a and b must fit as the README says'
    return 2 + best_prefix(guests, room, 2)


def main():
    root = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([os.path.join(root, 'bench', 'gen-heldout-workloads.py'), tmp,
                        '--seeds', '1', '--shapes', 'forkx,forky'], check=True)
        streams = {}
        for name in ('forkx', 'forky'):
            with open(os.path.join(tmp, name + '.json')) as f:
                streams[name] = json.load(f)
    best = {name: {same: after_choice(w, same) for same in (True, False)}
            for name, w in streams.items()}
    for name, by_choice in best.items():
        print('%s: at most %d placed with a and b on one node, %d on two' %
              (name, by_choice[True], by_choice[False]))
    ok = True
    for same in (True, False):
        losing = [name for name, by_choice in best.items()
                  if by_choice[same] < max(by_choice.values())]
        if not losing:
            print('FAIL: a and b on %s nodes is best on both streams' % ('one' if same else 'two'))
            ok = False
        else:
            print('a and b on %s: behind the best on %s' % ('one node' if same else 'two nodes',
                                                           ', '.join(losing)))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
