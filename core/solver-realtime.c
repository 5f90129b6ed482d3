/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Realtime vcpus (issue 21): once a guest's vcpus have their PUs, every realtime vcpu's host
 * core (hwloc's core, whatever the numbering of its siblings) must hold nothing but realtime
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

	if (!g->realtime || g->cpu_policy != TMAP_CPU_DEDICATED)
		return 0;
	if (!rt_pus || !other_pus)
		return -ENOMEM;
	for (v = 0; v < g->vcpus; v++)
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
			s->core_free[c]--;
		}
	}
	hwloc_bitmap_foreach_end();
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
