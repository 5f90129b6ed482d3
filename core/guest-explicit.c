/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Placements asked explicitly (issue 21), as an operator migrating a guest tuned by hand
 * states them: a host node per cell, and the exact host PUs of the vcpus. What the guest
 * alone can tell (a set of the wrong size, a shared guest pinned) is checked here; what
 * depends on the host (a PU taken, a node without memory) is the solver's
 * (solver-explicit.c).
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
	free(g->pus_list);
	g->pus_list = NULL;
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
	char *list;

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
	list = bitmap_list(set);
	if (!list) {
		hwloc_bitmap_free(set);
		return tmap_error_set(err, -ENOMEM, "out of memory");
	}
	guest_explicit_clear(g);
	g->pus = set;
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
	weight = hwloc_bitmap_weight(g->pus);
	if (weight != (int)g->vcpus)
		return tmap_error_set(err, -EINVAL,
				      GUEST_FMT "field 'pus': '%s' names %d PU%s for %u vcpus; give one PU per vcpu",
				      GUEST_ARGS(g), g->pus_list, weight, weight == 1 ? "" : "s",
				      g->vcpus);
	return 0;
}
