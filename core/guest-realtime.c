/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Realtime vcpus (issue 21), as Nova's hw:cpu_realtime_mask and KubeVirt's realtime ask them:
 * some vcpus of a dedicated guest, or of a mixed guest's dedicated part, run SCHED_FIFO at
 * one priority. What the guest alone can
 * tell is checked here; the cores they get are the solver's (solver-pus.c), the threads'
 * policy a backend's.
 */
#include <json-c/json.h>

#include "internal.h"

#define GUEST_FMT "%s%sguest '%s': "
#define GUEST_ARGS(g) (g)->origin ? (g)->origin : "", (g)->origin ? ": " : "", (g)->name

void
guest_realtime_clear(struct tmap_guest *g)
{
	if (g->realtime)
		hwloc_bitmap_free(g->realtime);
	g->realtime = NULL;
	g->realtime_priority = 0;
}

int
tmap_guest_set_realtime(struct tmap_guest *g, const char *vcpus, unsigned priority,
			struct tmap_error *err)
{
	hwloc_bitmap_t set = NULL;

	if (!g)
		return tmap_error_set(err, -EINVAL, "tmap_guest_set_realtime: no guest");
	if (priority && (priority < TMAP_REALTIME_PRIORITY_MIN ||
			 priority > TMAP_REALTIME_PRIORITY_MAX))
		return tmap_error_set(err, -EINVAL,
				      "guest '%s': field 'realtime_priority': %u is not a SCHED_FIFO priority from %d to %d",
				      g->name, priority, TMAP_REALTIME_PRIORITY_MIN,
				      TMAP_REALTIME_PRIORITY_MAX);
	if (!vcpus || !*vcpus) {
		guest_realtime_clear(g);
		return 0;
	}
	if (bitmap_parse_list(vcpus, &set) < 0 || hwloc_bitmap_iszero(set)) {
		if (set)
			hwloc_bitmap_free(set);
		return tmap_error_set(err, -EINVAL,
				      "guest '%s': field 'realtime_cpus': '%.80s' is not a list of vcpus such as '1-3'",
				      g->name, vcpus);
	}
	guest_realtime_clear(g);
	g->realtime = set;
	g->realtime_priority = priority ? priority : TMAP_REALTIME_PRIORITY_MIN;
	return 0;
}

char *
tmap_guest_realtime(const struct tmap_guest *g, unsigned *ret_priority)
{
	if (!g)
		return NULL;
	if (ret_priority)
		*ret_priority = g->realtime ? g->realtime_priority : 0;
	return g->realtime ? bitmap_list(g->realtime) : strdup("");
}

bool
guest_vcpu_realtime(const struct tmap_guest *g, unsigned v)
{
	return g->realtime && hwloc_bitmap_isset(g->realtime, v);
}

/* With threads > 1 a guest core is realtime whole or not at all: its threads share a host
 * core, which a realtime vcpu shares with no other thread. The first vcpu of a split core,
 * or -1. */
static int
split_guest_core(const struct tmap_guest *g)
{
	unsigned v;

	if (g->threads < 2)
		return -1;
	hwloc_bitmap_foreach_begin(v, g->realtime)
	{
		unsigned first = v - v % g->threads;

		for (unsigned k = first; k < first + g->threads; k++)
			if (!hwloc_bitmap_isset(g->realtime, k))
				return (int)first;
	}
	hwloc_bitmap_foreach_end();
	return -1;
}

/* The first realtime vcpu of a mixed guest that is not dedicated, or -1. */
static int
not_dedicated(const struct tmap_guest *g)
{
	_cleanup_bitmap_ hwloc_bitmap_t rest = hwloc_bitmap_alloc();

	if (!rest)
		return -1;
	hwloc_bitmap_andnot(rest, g->realtime, g->dedicated);
	return hwloc_bitmap_first(rest);
}

int
guest_realtime_validate(const struct tmap_guest *g, struct tmap_error *err)
{
	_cleanup_free_ char *list = NULL;
	int last, split, shared;

	if (!g->realtime)
		return 0;
	list = bitmap_list(g->realtime);
	if (!list)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	if (g->cpu_policy == TMAP_CPU_SHARED)
		return tmap_error_set(err, -EINVAL,
				      GUEST_FMT "field 'realtime_cpus': realtime vcpus must be dedicated, and this guest is shared (give cpu_policy dedicated, or mixed with them among dedicated_cpus)",
				      GUEST_ARGS(g));
	last = hwloc_bitmap_last(g->realtime);
	if (last >= (int)g->vcpus)
		return tmap_error_set(err, -EINVAL,
				      GUEST_FMT "field 'realtime_cpus': '%s' names vcpu %d, but the guest has vcpus 0-%u",
				      GUEST_ARGS(g), list, last, g->vcpus - 1);
	/* A mixed guest's realtime vcpus are among its dedicated ones (Nova's mixed realtime). */
	if (g->cpu_policy == TMAP_CPU_MIXED && (shared = not_dedicated(g)) >= 0)
		return tmap_error_set(err, -EINVAL,
				      GUEST_FMT "field 'realtime_cpus': '%s' names vcpu %d, which is not in dedicated_cpus '%s'; a mixed guest's realtime vcpus are among its dedicated ones",
				      GUEST_ARGS(g), list, shared, g->dedicated_list);
	if (g->emulator_policy == TMAP_EMULATOR_SHARE &&
	    hwloc_bitmap_weight(g->realtime) == (int)g->vcpus)
		return tmap_error_set(err, -EINVAL,
				      GUEST_FMT "field 'realtime_cpus': '%s' makes every vcpu realtime, leaving the emulator threads no vcpu to share; leave one out, or give emulator_threads isolate or share-host",
				      GUEST_ARGS(g), list);
	split = split_guest_core(g);
	if (split >= 0)
		return tmap_error_set(err, -EINVAL,
				      GUEST_FMT "field 'realtime_cpus': '%s' takes part of the guest core of vcpus %d-%u (threads=%u); a realtime vcpu shares its host core with no other thread, so name the whole core or none of it",
				      GUEST_ARGS(g), list, split, (unsigned)split + g->threads - 1,
				      g->threads);
	return 0;
}

int
guest_realtime_to_json(const struct tmap_guest *g, struct json_object *o)
{
	_cleanup_free_ char *list = NULL;

	if (!g->realtime)
		return 0;
	list = bitmap_list(g->realtime);
	if (!list)
		return -ENOMEM;
	json_object_object_add(o, "realtime_cpus", json_object_new_string(list));
	json_object_object_add(o, "realtime_priority",
			       json_object_new_int64(g->realtime_priority));
	return 0;
}
