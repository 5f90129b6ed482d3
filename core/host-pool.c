/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The shared pool followed (issue 21): the shared guests of a host, and the shared vcpus of
 * mixed ones, float over their node's whole pool: the given one (host set --shared-set), or
 * else each node's usable PUs that no dedicated guest holds. When the pool changes, their
 * recorded sets are floated over it again (the session applies them); verify compares them
 * with it. Cut from host.c, the ledger, through its accessors.
 */
#include "solver-room.h"

static const struct plan_guest *
guest_named(const struct tmap_host *h, const char *name)
{
	for (size_t i = 0; i < host_guest_count(h); i++)
		if (streq(host_guest_plan_at(h, i)->name, name))
			return host_guest_plan_at(h, i);
	return NULL;
}

/* The shared vcpus of guest pg (shared, or the shared part of a mixed one) over the pool of
 * their nodes as it is now: true when a set changed, false when not; -ENOSPC (err) when a
 * cell's shared vcpus outnumber its node's pool. A mixed guest's dedicated vcpus stay. */
static int
follow_guest(struct solver *s, struct plan_guest *pg, struct tmap_error *err)
{
	const struct tmap_topology *t = s->t;
	_cleanup_bitmap_ hwloc_bitmap_t pus = hwloc_bitmap_alloc(), all = hwloc_bitmap_alloc();
	bool changed = false;
	unsigned v;

	if (!pus || !all)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	for (unsigned c = 0; c < pg->ncells; c++) {
		int n = topo_node_index(t, pg->cells[c].node);
		unsigned width = plan_cell_shared(pg, c);

		if (!width)
			continue;
		shared_cell_pus(s, (unsigned)n, pus);
		if ((unsigned)hwloc_bitmap_weight(pus) < width)
			return tmap_error_set(err, -ENOSPC,
					      "%s guest '%s': cell %u has %u shared vcpus, more than the %d PUs of node %u's new pool (shared vcpus float over their node's whole pool)",
					      cpu_policy_name(pg->cpu_policy), pg->name, c, width,
					      hwloc_bitmap_weight(pus), pg->cells[c].node);
		hwloc_bitmap_zero(pg->cells[c].pus);
		hwloc_bitmap_foreach_begin(v, pg->cells[c].vcpus)
			if (!plan_vcpu_dedicated(pg, v)) {
				changed |= !hwloc_bitmap_isequal(pus, pg->vcpu_pus[v]);
				hwloc_bitmap_copy(pg->vcpu_pus[v], pus);
			}
			hwloc_bitmap_or(pg->cells[c].pus, pg->cells[c].pus, pg->vcpu_pus[v]);
		hwloc_bitmap_foreach_end();
		hwloc_bitmap_or(all, all, pus);
	}
	/* The emulator floats with the shared vcpus, unless it floats over the housekeeping
	 * PUs or (a mixed guest's) has a PU of its own. */
	if (pg->emulator_policy == TMAP_EMULATOR_SHARE ||
	    (pg->cpu_policy == TMAP_CPU_SHARED && pg->emulator_policy != TMAP_EMULATOR_SHARE_HOST))
		hwloc_bitmap_copy(pg->emulator, all);
	if (!changed)
		return 0;
	plan_guest_free_lists(pg);
	if (plan_guest_finish(pg) < 0)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	return 1;
}

int
host_follow_pool(struct tmap_host *h, const char ***ret_names, size_t *ret_n,
		 struct tmap_error *err)
{
	struct solver *s = host_solver(h);
	size_t nguests = host_guest_count(h), n = 0;
	const char **names = calloc(nguests + 1, sizeof(*names));
	int r = 0;

	if (!names)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; r >= 0 && i < nguests; i++) {
		struct plan_guest *pg = host_guest_plan_edit(h, i);

		if (pg->cpu_policy != TMAP_CPU_SHARED && pg->cpu_policy != TMAP_CPU_MIXED)
			continue;
		r = follow_guest(s, pg, err);
		if (r > 0)
			names[n++] = pg->name;
	}
	/* The overcommit: no more shared vcpus on a node than its new pool times the ratio. */
	for (unsigned k = 0; r >= 0 && k < s->t->nnodes; k++) {
		unsigned pus = node_pool_size(s, k);

		if (s->shared_vcpus[k] > pool_vcpus(s, pus))
			r = tmap_error_set(err, -ENOSPC,
					   "node %u's shared guests have %u vcpus, more than its new pool of %u PUs holds at ratio %g",
					   s->t->nodes[k].os_index, s->shared_vcpus[k], pus,
					   s->cpu_ratio);
	}
	if (r < 0) {
		free(names);
		return r;
	}
	*ret_names = names;
	*ret_n = n;
	return 0;
}

/* The first cell of pg whose shared vcpus do not float over their node's pool as it stands:
 * its index, the pool in pus and the set found in *ret_got; -1 when every cell does. */
static int
shared_cell_off(const struct solver *s, const struct plan_guest *pg, hwloc_bitmap_t pus,
		hwloc_const_bitmap_t *ret_got)
{
	for (unsigned c = 0; c < pg->ncells; c++) {
		const struct plan_cell *cell = &pg->cells[c];
		unsigned v;

		if (!plan_cell_shared(pg, c))
			continue;
		shared_cell_pus(s, (unsigned)topo_node_index(s->t, cell->node), pus);
		hwloc_bitmap_foreach_begin(v, cell->vcpus)
			if (!plan_vcpu_dedicated(pg, v) && !hwloc_bitmap_isequal(pus, pg->vcpu_pus[v])) {
				*ret_got = pg->vcpu_pus[v];
				return (int)c;
			}
		hwloc_bitmap_foreach_end();
	}
	return -1;
}

int
host_follow_needed(const struct tmap_host *h)
{
	_cleanup_bitmap_ hwloc_bitmap_t pus = hwloc_bitmap_alloc();
	hwloc_const_bitmap_t got;

	if (!pus)
		return -ENOMEM;
	/* A given pool changes only through host set, which applies its followers itself. */
	if (host_solver_const(h)->fixed_pool)
		return 0;
	for (size_t i = 0; i < host_guest_count(h); i++)
		if (shared_cell_off(host_solver_const(h), host_guest_plan_at(h, i), pus, &got) >= 0)
			return 1;
	return 0;
}

int
host_shared_off(const struct tmap_host *h, const char *name, struct shared_off *ret)
{
	const struct plan_guest *pg = guest_named(h, name);
	_cleanup_bitmap_ hwloc_bitmap_t pus = hwloc_bitmap_alloc();
	hwloc_const_bitmap_t found = NULL;
	int c;

	*ret = (struct shared_off){.cell = -1};
	if (!pus)
		return -ENOMEM;
	if (!pg || (c = shared_cell_off(host_solver_const(h), pg, pus, &found)) < 0)
		return 0;
	ret->cell = c;
	ret->node = pg->cells[c].node;
	ret->got = bitmap_list(found);
	ret->want = bitmap_list(pus);
	if (!ret->got || !ret->want) {
		shared_off_clear(ret);
		return -ENOMEM;
	}
	return 1;
}

void
shared_off_clear(struct shared_off *o)
{
	free(o->got);
	free(o->want);
	*o = (struct shared_off){.cell = -1};
}

int
host_shared_drift(const struct tmap_host *h, const char *name, char **ret)
{
	struct shared_off off;
	int r;

	*ret = NULL;
	r = host_shared_off(h, name, &off);
	if (r <= 0)
		return r;
	/* Without a given pool, the node's pool is its usable PUs no dedicated guest holds:
	 * a shared guest on fewer has not grown back, on more shares a dedicated guest's PUs. */
	if (host_solver_const(h)->fixed_pool)
		r = asprintf(ret, "cell %d floats over %s, not over node %u's shared pool %s",
			     off.cell, off.got, off.node, off.want);
	else
		r = asprintf(ret,
			     "guest '%s' cell %d floats over %s, not over node %u's pool %s (its usable PUs that no dedicated guest holds)",
			     name, off.cell, off.got, off.node, off.want);
	shared_off_clear(&off);
	if (r < 0) {
		*ret = NULL;
		return -ENOMEM;
	}
	return 0;
}
