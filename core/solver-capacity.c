/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a node can take of a guest: its capacity in vcpus of the guest's thread policy, from
 * the per-node sums struct solver keeps (core_free_add()), and whether a cell fits there.
 */
#include "solver.h"

/* A node's capacity in vcpus of the guest's thread policy, before what its shared guests
 * need: the common cases from the node's sums (this runs for every node at every decision),
 * the others by walking its cores. */
static unsigned
cores_capacity(const struct solver *s, unsigned n, const struct demand *d)
{
	const struct topo_node *node = &s->t->nodes[n];
	unsigned cap = 0;

	switch (d->policy) {
	case TMAP_THREAD_PREFER:
		if (d->group == 1)
			return node_free_pus(s)[n];
		if (d->group == 2)
			return node_free_pairs(s)[n];
		for (unsigned i = 0; i < node->ncores; i++)
			cap += s->core_free[node->cores[i]] / d->group * d->group;
		return cap;
	case TMAP_THREAD_ISOLATE:
		return node_whole_cores(s)[n];
	case TMAP_THREAD_REQUIRE:
		for (unsigned i = 0; i < node->ncores; i++) {
			unsigned c = node->cores[i];

			if (!core_whole(s, c) || s->core_usable[c] < 2 || s->core_usable[c] < d->group)
				continue;
			cap += d->group > 1 ? d->group : s->core_usable[c];
		}
		return cap;
	}
	return 0;
}

bool
solver_sums_agree(const struct solver *s)
{
	const struct tmap_topology *t = s->t;

	for (unsigned n = 0; n < t->nnodes; n++) {
		unsigned pus = 0, pairs = 0, whole = 0;

		for (unsigned i = 0; i < t->nodes[n].ncores; i++) {
			unsigned c = t->nodes[n].cores[i];

			pus += s->core_free[c];
			pairs += s->core_free[c] & ~1u;
			whole += core_whole(s, c);
		}
		if (pus != node_free_pus(s)[n] || pairs != node_free_pairs(s)[n] ||
		    whole != node_whole_cores(s)[n])
			return false;
	}
	return true;
}

/* Capacity of a node for this guest, in vcpus. */
unsigned
node_capacity(const struct solver *s, unsigned n, const struct demand *d)
{
	unsigned cap;

	if (d->cpu == TMAP_CPU_SHARED) {
		/* The node's pool times the overcommit, less the shared vcpus already there; and
		 * no more than the pool's PUs, as a cell floats over the whole pool. */
		unsigned pus = node_pool_size(s, n), total = pool_vcpus(s, pus);

		total = total > s->shared_vcpus[n] ? total - s->shared_vcpus[n] : 0;
		return total < pus ? total : pus;
	}
	cap = cores_capacity(s, n, d);
	if (!s->fixed_pool && s->shared_vcpus[n]) {
		/* The PUs the node's shared guests need stay free (pool_need()): what is left,
		 * in vcpus of this policy (a whole core each for isolate). shared_room_kept()
		 * checks the placement exactly. */
		unsigned pus = node_pool_size(s, n), need = pool_need(s, n);
		unsigned spare = pus > need ? pus - need : 0;

		if (d->policy == TMAP_THREAD_ISOLATE && s->t->max_threads > 1)
			spare /= s->t->max_threads;
		cap = cap < spare ? cap : spare;
	}
	return cap;
}

bool
cell_fits(const struct solver *s, const struct demand *d, const unsigned *cap, unsigned n,
	  const struct cell_req *req, unsigned cell)
{
	unsigned need = req->vcpus + (cell == 0 && d->emulator_isolate ? d->emulator_units : 0);

	if (s->t->nodes[n].cpuless || node_memory(s, n, d) < req->memory_mib ||
	    (d->cell_nodes && !d->cell_nodes[cell * s->t->nnodes + n]) || cap[n] < need)
		return false;
	if (d->cell_rt && !realtime_fits(s, d, n, d->cell_rt[cell], req->vcpus))
		return false;
	return d->cpu != TMAP_CPU_MIXED || mixed_fits(s, d, n, req, need);
}
