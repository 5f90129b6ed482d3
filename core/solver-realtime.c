/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Realtime vcpus (issue 21), of a dedicated guest or of a mixed guest's dedicated part: once a
 * guest's vcpus have their PUs, every realtime vcpu's host core (hwloc's core, whatever the numbering of its siblings) must hold nothing but realtime
 * vcpus of the guest and PUs the guest keeps empty. alloc_cell() already gave them whole
 * cores; PUs asked explicitly are checked here, and their free siblings held.
 */
#include "solver.h"

/* What sibling q of a realtime vcpu's PU is, for the one line of a refusal; NULL: fine. */
static const char *
sibling_problem(struct solver *s, unsigned q, hwloc_const_bitmap_t rt_pus,
		hwloc_const_bitmap_t other_pus, hwloc_bitmap_t held)
{
	if (hwloc_bitmap_isset(rt_pus, q))
		return NULL;
	if (hwloc_bitmap_isset(other_pus, q))
		return "a vcpu of the guest that is not realtime";
	if (hwloc_bitmap_isset(held, q))
		return NULL;
	if (!hwloc_bitmap_isset(s->usable, q))
		return "reserved for the host or in the shared pool";
	if (hwloc_bitmap_isset(s->taken, q))
		return "held by another guest";
	return NULL;
}

int
realtime_siblings(struct solver *s, const struct tmap_guest *g, const unsigned *vcpu_pu,
		  hwloc_bitmap_t held)
{
	const struct tmap_topology *t = s->t;
	_cleanup_bitmap_ hwloc_bitmap_t rt_pus = hwloc_bitmap_alloc();
	_cleanup_bitmap_ hwloc_bitmap_t other_pus = hwloc_bitmap_alloc();
	unsigned v;

	if (!g->realtime || g->cpu_policy == TMAP_CPU_SHARED)
		return 0;
	if (!rt_pus || !other_pus)
		return -ENOMEM;
	/* A mixed guest's shared vcpus have no PU of their own: they float over the pool,
	 * which holds no PU taken or held. */
	for (v = 0; v < g->vcpus; v++)
		if (g->cpu_policy != TMAP_CPU_MIXED || hwloc_bitmap_isset(g->dedicated, v))
			hwloc_bitmap_set(hwloc_bitmap_isset(g->realtime, v) ? rt_pus : other_pus,
					 vcpu_pu[v]);
	hwloc_bitmap_foreach_begin(v, g->realtime)
	{
		unsigned pu = vcpu_pu[v], c = (unsigned)t->pu_core[pu];
		const struct topo_core *core = &t->cores[c];

		for (unsigned k = 0; k < core->npus; k++) {
			unsigned q = core->pus[k];
			const char *why = sibling_problem(s, q, rt_pus, other_pus, held);

			if (why)
				return tmap_error_set(s->err, -ENOSPC,
						      "%s: realtime vcpu %u on PU %u would share its host core with PU %u, %s; a realtime vcpu shares its core with no other thread",
						      g->name, v, pu, q, why);
			if (hwloc_bitmap_isset(held, q) || hwloc_bitmap_isset(rt_pus, q))
				continue;
			/* A free sibling: held for the guest, and kept empty. */
			hwloc_bitmap_set(s->taken, q);
			hwloc_bitmap_set(held, q);
			core_free_add(s, c, -1);
		}
	}
	hwloc_bitmap_foreach_end();
	return 0;
}

int
realtime_cell_counts(struct solver *s, const struct tmap_guest *g, struct demand *d)
{
	struct guest_cells *cells = &s->cells;
	unsigned *counts;
	int r;

	d->cell_rt = NULL;
	if (!d->realtime)
		return 0;
	counts = scratch_new(s, cells->n, unsigned);
	if (!counts)
		return -ENOMEM;
	/* Implied cells get their vcpu sets only now, realtime guests alone. */
	if (cells->n > 1 && !g->ncells && (r = guest_cells_vcpus(g, cells)) < 0)
		return r;
	for (unsigned c = 0; c < cells->n; c++) {
		hwloc_const_bitmap_t vcpus = g->ncells ? g->cells[c].vcpus : cells->vcpus[c];
		unsigned v;

		counts[c] = 0;
		if (cells->n == 1) {
			counts[c] = (unsigned)hwloc_bitmap_weight(d->realtime);
			continue;
		}
		hwloc_bitmap_foreach_begin(v, vcpus)
			counts[c] += hwloc_bitmap_isset(d->realtime, v);
		hwloc_bitmap_foreach_end();
	}
	d->cell_rt = counts;
	return 0;
}

/*
 * Whole free cores on node n for `rt` realtime vcpus (one a core under isolate, else packed
 * on a core's PUs), and PUs besides for the other vcpus of the cell: the siblings a
 * realtime vcpu leaves are held, so they count as used.
 */
bool
realtime_fits(const struct solver *s, const struct demand *d, unsigned n, unsigned rt,
	      unsigned vcpus)
{
	const struct topo_node *node = &s->t->nodes[n];
	unsigned left = rt, taken = 0, free_pus = 0;

	if (rt == 0)
		return true;
	for (unsigned i = 0; i < node->ncores; i++) {
		unsigned c = node->cores[i];

		free_pus += s->core_free[c];
		if (left == 0 || !core_whole(s, c))
			continue;
		left -= d->policy == TMAP_THREAD_ISOLATE ? 1 :
			s->core_usable[c] < left ? s->core_usable[c] : left;
		taken += s->core_usable[c];
	}
	return left == 0 && free_pus >= taken + (vcpus - rt);
}

/* Whole free cores of node n. */
static unsigned
whole_cores(const struct solver *s, unsigned n)
{
	const struct topo_node *node = &s->t->nodes[n];
	unsigned k = 0;

	for (unsigned i = 0; i < node->ncores; i++)
		k += core_whole(s, node->cores[i]);
	return k;
}

int
realtime_no_fit(const struct solver *s, const struct demand *d, const struct cell_req *req,
		unsigned ncells)
{
	unsigned most = 0;

	/* The cells counted; proposed cells are not. */
	if (!d->cell_rt)
		return 0;
	for (unsigned n = 0; n < s->t->nnodes; n++)
		most = whole_cores(s, n) > most ? whole_cores(s, n) : most;
	for (unsigned c = 0; c < ncells; c++) {
		unsigned rt = d->cell_rt[c];
		bool any = false;

		for (unsigned n = 0; n < s->t->nnodes && !any; n++)
			any = !s->t->nodes[n].cpuless && realtime_fits(s, d, n, rt, req[c].vcpus);
		if (any)
			continue;
		if (d->cpu == TMAP_CPU_MIXED)
			return tmap_error_set(s->err, -ENOSPC,
					      "%s: cell %u has %u realtime vcpus, which need wholly free host cores (their siblings held empty), and %u other dedicated vcpus; no node has them (the most whole free cores on a node is %u)",
					      d->name, c, rt, req[c].vcpus - rt, most);
		return tmap_error_set(s->err, -ENOSPC,
				      "%s: cell %u has %u realtime vcpus, which need wholly free host cores (their siblings held empty), and %u other vcpus; no node has them (the most whole free cores on a node is %u)",
				      d->name, c, rt, req[c].vcpus - rt, most);
	}
	return 0;
}

/* Why the realtime vcpus are where they are, in the plan's words. */
int
realtime_explain(const struct solver *s, struct plan_guest *pg)
{
	_cleanup_bitmap_ hwloc_bitmap_t cores = hwloc_bitmap_alloc();
	_cleanup_free_ char *list = NULL;
	unsigned v;

	if (!pg->realtime)
		return 0;
	if (!cores)
		return -ENOMEM;
	hwloc_bitmap_foreach_begin(v, pg->realtime)
	{
		const struct topo_core *core =
			&s->t->cores[s->t->pu_core[hwloc_bitmap_first(pg->vcpu_pus[v])]];

		for (unsigned k = 0; k < core->npus; k++)
			hwloc_bitmap_set(cores, core->pus[k]);
	}
	hwloc_bitmap_foreach_end();
	list = bitmap_list(cores);
	if (!list)
		return -ENOMEM;
	return plan_guest_explain(pg, "realtime: vcpus %s run SCHED_FIFO priority %u on host cores of PUs %s, which hold no other thread (siblings empty and held, emulator and iothreads elsewhere)",
				  pg->realtime_list, pg->realtime_priority, list);
}
