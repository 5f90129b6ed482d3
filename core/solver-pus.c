/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Which cores and PUs of a node (step 3 of solver.c's decision): best fit by core, so that
 * guest SMT threads sit on host siblings and whole cores stay whole; and the shared pool a
 * shared cell floats over.
 */
#include <limits.h>

#include "solver.h"

/*
 * A core of the node for `need` more vcpus: an exact fit first, then the smallest core that
 * holds them all, then the largest. whole: only wholly free cores, sized by their usable PUs.
 * Ties go to the L3 group `l3`, then to the lower core.
 */
int
pick_core(const struct solver *s, unsigned n, unsigned need, bool whole, unsigned min_size,
	  int l3, bool only_l3)
{
	const struct topo_node *node = &s->t->nodes[n];
	int pick = -1;
	unsigned pick_class = 3, pick_size = 0;
	bool pick_l3 = false;

	for (unsigned i = 0; i < node->ncores; i++) {
		unsigned c = node->cores[i];
		unsigned size = whole ? (core_whole(s, c) ? s->core_usable[c] : 0) : s->core_free[c];
		unsigned cls;
		bool same_l3 = l3 >= 0 && s->t->cores[c].l3 == l3;
		bool better;

		if (size == 0 || size < min_size || (only_l3 && !same_l3))
			continue;
		cls = size == need ? 0 : size > need ? 1 : 2;
		if (cls != pick_class)
			better = cls < pick_class;
		else if (cls == 1 && size != pick_size)
			better = size < pick_size;
		else if (cls == 2 && size != pick_size)
			better = size > pick_size;
		else
			better = same_l3 && !pick_l3;
		if (pick < 0 || better) {
			pick = (int)c;
			pick_class = cls;
			pick_size = size;
			pick_l3 = same_l3;
		}
	}
	return pick;
}

/* What one core gives this guest, in vcpus, as node_capacity() counts it. */
static unsigned
core_units(const struct solver *s, unsigned c, const struct demand *d)
{
	switch (d->policy) {
	case TMAP_THREAD_ISOLATE:
		return core_whole(s, c);
	case TMAP_THREAD_REQUIRE:
		if (!core_whole(s, c) || s->core_usable[c] < 2 || s->core_usable[c] < d->group)
			return 0;
		return d->group > 1 ? d->group : s->core_usable[c];
	default:
		return s->core_free[c] / d->group * d->group;
	}
}

/*
 * The L3 group of node n a cell of `need` vcpus should live in: the one it fills best among
 * those that hold it whole (so the others stay whole for bigger cells), or -1 when none
 * does, or the node has a single group.
 */
static int
best_l3(const struct solver *s, unsigned n, const struct demand *d, unsigned need)
{
	const struct topo_node *node = &s->t->nodes[n];
	int pick = -1, first = -1;
	unsigned pick_cap = UINT_MAX;
	bool several = false;

	/* No more L3 groups than nodes: no node has a choice to make. */
	if (s->t->nl3 <= s->t->nnodes)
		return -1;
	for (unsigned i = 0; i < node->ncores; i++) {
		int l3 = s->t->cores[node->cores[i]].l3;
		unsigned cap = 0;
		bool seen = false;

		if (l3 < 0)
			continue;
		if (first < 0)
			first = l3;
		several |= l3 != first;
		for (unsigned j = 0; j < i && !seen; j++)
			seen = s->t->cores[node->cores[j]].l3 == l3;
		if (seen)
			continue;
		for (unsigned j = i; j < node->ncores; j++)
			if (s->t->cores[node->cores[j]].l3 == l3)
				cap += core_units(s, node->cores[j], d);
		if (cap >= need && cap < pick_cap) {
			pick = l3;
			pick_cap = cap;
		}
	}
	return several ? pick : -1;
}

/* Take up to `count` free PUs of core c (lowest OS index first) into out[]; hold: the guest
 * also keeps the core's other free PUs from everyone else. Returns the number taken. */
unsigned
take_pus(struct solver *s, unsigned c, unsigned count, bool hold, unsigned *out,
	 hwloc_bitmap_t held)
{
	const struct topo_core *core = &s->t->cores[c];
	unsigned got = 0;

	for (unsigned k = 0; k < core->npus; k++) {
		unsigned pu = core->pus[k];

		if (!hwloc_bitmap_isset(s->usable, pu) || hwloc_bitmap_isset(s->taken, pu))
			continue;
		if (got < count) {
			out[got++] = pu;
		} else if (!hold) {
			continue;
		}
		hwloc_bitmap_set(s->taken, pu);
		hwloc_bitmap_set(held, pu);
		core_free_add(s, c, -1);
	}
	return got;
}

/*
 * Take PUs of node n for `count` vcpus into pus[]. realtime: realtime vcpus (issue 21), on
 * wholly free cores whose other PUs hold realtime vcpus of the guest or stay empty, held for
 * it (one vcpu a core under thread policy isolate).
 */
static int
alloc_run(struct solver *s, unsigned n, const struct demand *d, bool realtime, unsigned count,
	  unsigned *pus, hwloc_bitmap_t held, int *l3)
{
	unsigned done = 0;

	while (done < count) {
		unsigned left = count - done, want, min;
		bool whole = realtime || d->policy != TMAP_THREAD_PREFER;
		unsigned got;
		int c;

		switch (d->policy) {
		case TMAP_THREAD_ISOLATE:
			want = 1;
			min = 1;
			break;
		case TMAP_THREAD_REQUIRE:
			want = d->group > 1 ? d->group : left;
			min = d->group > 1 ? d->group : realtime ? 1 : 2;
			break;
		default:
			want = d->group > 1 ? d->group : left;
			min = d->group;
			break;
		}
		/* The cell's L3 group while it has room, then any core of the node. */
		c = *l3 >= 0 ? pick_core(s, n, want, whole, min, *l3, true) : -1;
		if (c < 0)
			c = pick_core(s, n, want, whole, min, *l3, false);
		if (c < 0)
			return -ENOSPC;
		if (*l3 < 0)
			*l3 = s->t->cores[c].l3;
		got = take_pus(s, (unsigned)c, want < left ? want : left, whole, pus + done, held);
		if (got == 0)
			return -ENOSPC;
		done += got;
	}
	return 0;
}

/* Place the vcpus of one cell on node n, realtime ones first. vcpu_pu[v] receives each
 * vcpu's PU. */
int
alloc_cell(struct solver *s, unsigned n, const struct demand *d, hwloc_const_bitmap_t vcpus,
	   unsigned *vcpu_pu, hwloc_bitmap_t held, int *l3)
{
	unsigned nv = (unsigned)hwloc_bitmap_weight(vcpus), nrt = 0, v;
	unsigned *list = scratch_new(s, nv, unsigned);
	unsigned *pus = scratch_new(s, nv, unsigned);
	unsigned k = 0;
	int r;

	if (!list || !pus)
		return -ENOMEM;
	if (d->realtime) {
		hwloc_bitmap_foreach_begin(v, vcpus)
			if (hwloc_bitmap_isset(d->realtime, v))
				list[nrt++] = v;
		hwloc_bitmap_foreach_end();
	}
	k = nrt;
	hwloc_bitmap_foreach_begin(v, vcpus)
		if (!d->realtime || !hwloc_bitmap_isset(d->realtime, v))
			list[k++] = v;
	hwloc_bitmap_foreach_end();

	if (*l3 < 0)
		*l3 = best_l3(s, n, d, nv);
	r = alloc_run(s, n, d, true, nrt, pus, held, l3);
	if (r == 0)
		r = alloc_run(s, n, d, false, nv - nrt, pus + nrt, held, l3);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < nv; i++)
		vcpu_pu[list[i]] = pus[i];
	return 0;
}

/* Shared vcpus that `pus` pool PUs take: pus x cpu_ratio, rounded down. */
unsigned
pool_vcpus(const struct solver *s, unsigned pus)
{
	return (unsigned)(pus * s->cpu_ratio + 1e-9);
}

/*
 * A shared cell of `vcpus` on node n floats over the node's whole pool as it stands (ret_pus,
 * unless NULL), as Nova's shared cells do: it may not be wider than the pool, and the node's
 * shared vcpus stay within pool PUs x cpu_ratio. The overcommit is a capacity, never the
 * width of a guest's set. node_capacity() chose the node by both rules already.
 */
int
shared_cell(struct solver *s, unsigned n, unsigned vcpus, hwloc_bitmap_t ret_pus)
{
	unsigned pus = node_pool_size(s, n);

	if (vcpus == 0 || vcpus > pus || s->shared_vcpus[n] + vcpus > pool_vcpus(s, pus))
		return -ENOSPC;
	s->shared_vcpus[n] += vcpus;
	if (vcpus > s->shared_widest[n])
		s->shared_widest[n] = vcpus;
	if (ret_pus)
		shared_cell_pus(s, n, ret_pus);
	return 0;
}

void
shared_cell_pus(const struct solver *s, unsigned n, hwloc_bitmap_t ret)
{
	hwloc_bitmap_copy(ret, s->t->nodes[n].cpuset);
	if (s->fixed_pool) {
		hwloc_bitmap_and(ret, ret, s->pool);
	} else {
		hwloc_bitmap_and(ret, ret, s->usable);
		hwloc_bitmap_andnot(ret, ret, s->taken);
	}
}

/*
 * PUs node n must keep free for the shared guests on it when the pool is not given (a given
 * pool is never dedicated's): as many as the widest shared cell, and enough that the shared
 * vcpus stay within pool PUs x cpu_ratio. Dedicated guests take the rest.
 */
unsigned
pool_need(const struct solver *s, unsigned n)
{
	unsigned shared = s->shared_vcpus[n], pus;

	if (s->fixed_pool || shared == 0)
		return 0;
	pus = (unsigned)(shared / s->cpu_ratio);
	while (pool_vcpus(s, pus) < shared)
		pus++;
	return pus > s->shared_widest[n] ? pus : s->shared_widest[n];
}

/*
 * After a dedicated guest took its PUs: does every node still keep its shared guests' need?
 * node_capacity() already counted the need, in PUs per vcpu of the guest's policy; this is
 * the exact check. -ENOSPC, with the node and the counts, when not.
 */
int
shared_room_kept(const struct solver *s, const char *name)
{
	const struct tmap_topology *t = s->t;

	for (unsigned n = 0; n < t->nnodes; n++) {
		unsigned need = pool_need(s, n), have;

		if (need == 0 || (have = node_pool_size(s, n)) >= need)
			continue;
		return tmap_error_set(s->err, -ENOSPC,
				      "%s: on node %u it would leave %u PUs to the node's shared guests, which float over its free PUs and need %u (%u shared vcpus at %g per PU, the widest cell %u vcpus)",
				      name, t->nodes[n].os_index, have, need, s->shared_vcpus[n],
				      s->cpu_ratio, s->shared_widest[n]);
	}
	return 0;
}

/* The PUs of the host core holding pu, "8,20": siblings are rarely neighbours. */
char *
core_list(const struct tmap_topology *t, unsigned pu)
{
	const struct topo_core *core = &t->cores[t->pu_core[pu]];
	char buf[512];
	size_t len = 0;

	buf[0] = '\0';
	for (unsigned k = 0; k < core->npus && len < sizeof(buf); k++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%u", k ? "," : "",
					core->pus[k]);
	return strdup(buf);
}
