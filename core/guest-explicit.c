/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Placements asked explicitly (issue 21), as an operator migrating a guest tuned by hand
 * states them: a host node per cell, and the exact host PUs of the vcpus. What the guest
 * alone can tell (a set of the wrong size, a shared guest pinned) is checked here; what
 * depends on the host (a PU taken, a node without memory) is the solver's
 * (solver-explicit.c). PUs are taken in the order written: vcpu i runs on the i-th PU of the
 * list, so "2,14,3,15" puts guest SMT threads 0 and 1 on host siblings 2 and 14.
 */
#include "internal.h"

#define GUEST_FMT "%s%sguest '%s': "
#define GUEST_ARGS(g) (g)->origin ? (g)->origin : "", (g)->origin ? ": " : "", (g)->name

void
guest_explicit_clear(struct tmap_guest *g)
{
	if (g->pus)
		hwloc_bitmap_free(g->pus);
	g->pus = NULL;
	free(g->pu_order);
	g->pu_order = NULL;
	g->npus = 0;
	free(g->pus_list);
	g->pus_list = NULL;
}

/* The PUs of a list (checked by bitmap_parse_list()) in the order written, "2,14,3,15" as
 * 2, 14, 3, 15: an operator's vcpupin list, where SMT siblings are rarely neighbours. The
 * first PU named twice in *dup, or -1. */
static int
list_order(const char *list, unsigned n, unsigned **ret, int *dup)
{
	_cleanup_bitmap_ hwloc_bitmap_t seen = hwloc_bitmap_alloc();
	_cleanup_free_ unsigned *order = calloc(n ? n : 1, sizeof(unsigned));
	unsigned k = 0;

	if (!seen || !order)
		return -ENOMEM;
	*dup = -1;
	for (const char *p = list; *p;) {
		char *end;
		unsigned long a = strtoul(p, &end, 10), b = a;

		if (*end == '-')
			b = strtoul(end + 1, &end, 10);
		for (unsigned long x = a; x <= b; x++) {
			if (hwloc_bitmap_isset(seen, (unsigned)x)) {
				*dup = (int)x;
				return 0;
			}
			hwloc_bitmap_set(seen, (unsigned)x);
			order[k++] = (unsigned)x;
		}
		p = *end == ',' ? end + 1 : end;
	}
	*ret = TAKE_PTR(order);
	return 0;
}

bool
guest_explicit(const struct tmap_guest *g)
{
	if (g->pus)
		return true;
	for (unsigned c = 0; c < g->ncells; c++)
		if (g->cells[c].node >= 0)
			return true;
	return false;
}

int
tmap_guest_set_cell_node(struct tmap_guest *g, unsigned cell, unsigned node)
{
	/* Linux numbers NUMA nodes below 1024 (MAX_NUMNODES). */
	if (!g || cell >= g->ncells || node >= 1024)
		return -EINVAL;
	g->cells[cell].node = (int)node;
	return 0;
}

int
tmap_guest_set_pus(struct tmap_guest *g, const char *pus, struct tmap_error *err)
{
	hwloc_bitmap_t set = NULL;
	unsigned *order = NULL;
	char *list;
	int n, dup;

	if (!g)
		return tmap_error_set(err, -EINVAL, "tmap_guest_set_pus: no guest");
	if (!pus || !*pus) {
		guest_explicit_clear(g);
		return 0;
	}
	if (bitmap_parse_list(pus, &set) < 0 || hwloc_bitmap_iszero(set)) {
		if (set)
			hwloc_bitmap_free(set);
		return tmap_error_set(err, -EINVAL,
				      "guest '%s': field 'pus': '%.80s' is not a list of host PUs such as '4-7' or '2,10'",
				      g->name, pus);
	}
	/* No guest has more vcpus: a longer list is a mistake, and would only cost memory. */
	n = hwloc_bitmap_weight(set);
	if (n > TMAP_MAX_VCPUS) {
		hwloc_bitmap_free(set);
		return tmap_error_set(err, -EINVAL,
				      "guest '%s': field 'pus': '%.80s' names %d PUs, more than a guest's %d vcpus",
				      g->name, pus, n, TMAP_MAX_VCPUS);
	}
	list = strdup(pus);
	if (!list || list_order(pus, (unsigned)n, &order, &dup) < 0) {
		hwloc_bitmap_free(set);
		free(list);
		return tmap_error_set(err, -ENOMEM, "out of memory");
	}
	if (dup >= 0) {
		hwloc_bitmap_free(set);
		free(list);
		return tmap_error_set(err, -EINVAL,
				      "guest '%s': field 'pus': '%.80s' names PU %d twice; a PU runs one vcpu",
				      g->name, pus, dup);
	}
	guest_explicit_clear(g);
	g->pus = set;
	g->pu_order = order;
	g->npus = (unsigned)n;
	g->pus_list = list;
	return 0;
}

/* What the guest alone tells: one PU per vcpu, and PUs of its own (a dedicated guest). */
int
guest_explicit_validate(const struct tmap_guest *g, struct tmap_error *err)
{
	int weight;

	if (!g->pus)
		return 0;
	if (g->cpu_policy == TMAP_CPU_SHARED)
		return tmap_error_set(err, -EINVAL,
				      GUEST_FMT "field 'pus': '%s' pins dedicated vcpus, and this guest is shared (it floats over the shared pool)",
				      GUEST_ARGS(g), g->pus_list);
	if (g->cpu_policy == TMAP_CPU_MIXED)
		return tmap_error_set(err, -EINVAL,
				      GUEST_FMT "field 'pus': '%s' pins every vcpu, and this guest is mixed (its shared vcpus float over the shared pool; give cells[].node instead)",
				      GUEST_ARGS(g), g->pus_list);
	weight = (int)g->npus;
	if (weight != (int)g->vcpus)
		return tmap_error_set(err, -EINVAL,
				      GUEST_FMT "field 'pus': '%s' names %d PU%s for %u vcpus; give one PU per vcpu",
				      GUEST_ARGS(g), g->pus_list, weight, weight == 1 ? "" : "s",
				      g->vcpus);
	return 0;
}
