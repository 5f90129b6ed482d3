/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A plan's realtime vcpus (issue 21): which vcpus run SCHED_FIFO and at what priority, and
 * the rule every plan keeps: a realtime vcpu's host core holds no other thread of any guest
 * but realtime vcpus of its own guest.
 */
#include "internal.h"

int
plan_realtime_from_guest(struct plan_guest *pg, const struct tmap_guest *g)
{
	if (!g->realtime)
		return 0;
	pg->realtime = hwloc_bitmap_dup(g->realtime);
	pg->realtime_list = bitmap_list(g->realtime);
	pg->realtime_priority = g->realtime_priority;
	return pg->realtime && pg->realtime_list ? 0 : -ENOMEM;
}

void
plan_realtime_clear(struct plan_guest *pg)
{
	if (pg->realtime)
		hwloc_bitmap_free(pg->realtime);
	free(pg->realtime_list);
	pg->realtime = NULL;
	pg->realtime_list = NULL;
	pg->realtime_priority = 0;
}

int
plan_realtime_copy(struct plan_guest *dst, const struct plan_guest *src)
{
	dst->realtime = NULL;
	dst->realtime_list = NULL;
	dst->realtime_priority = src->realtime_priority;
	if (!src->realtime)
		return 0;
	dst->realtime = hwloc_bitmap_dup(src->realtime);
	dst->realtime_list = strdup(src->realtime_list);
	return dst->realtime && dst->realtime_list ? 0 : -ENOMEM;
}

bool
plan_vcpu_realtime(const struct plan_guest *pg, unsigned v)
{
	return pg->realtime && hwloc_bitmap_isset(pg->realtime, v);
}

bool
plan_realtime_answers(const struct plan_guest *pg, const struct tmap_guest *g)
{
	if (!pg->realtime || !g->realtime)
		return !pg->realtime && !g->realtime;
	return hwloc_bitmap_isequal(pg->realtime, g->realtime);
}

void
plan_realtime_priority(struct plan_guest *pg, const struct tmap_guest *g)
{
	if (pg->realtime && g->realtime)
		pg->realtime_priority = g->realtime_priority;
}

void
plan_realtime_strip(const struct plan_guest *pg, hwloc_bitmap_t set)
{
	unsigned v;

	if (!pg->realtime)
		return;
	hwloc_bitmap_foreach_begin(v, pg->realtime)
		if (v < pg->vcpus)
			hwloc_bitmap_andnot(set, set, pg->vcpu_pus[v]);
	hwloc_bitmap_foreach_end();
}

const char *
tmap_plan_realtime_vcpus(const struct tmap_plan *p, size_t i, unsigned *ret_priority)
{
	const struct plan_guest *pg = p && i < p->nguests ? &p->guests[i] : NULL;

	if (!pg)
		return NULL;
	if (ret_priority)
		*ret_priority = pg->realtime ? pg->realtime_priority : 0;
	return pg->realtime_list ? pg->realtime_list : "";
}
