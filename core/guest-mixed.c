/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cpu_policy mixed (issue 21, Nova's hw:cpu_policy=mixed with hw:cpu_dedicated_mask): the
 * vcpus of `dedicated_cpus` are pinned one to one as a dedicated guest's are, the others float
 * over the shared pool of their cell's node as a shared guest's do. What the guest alone can
 * tell is checked here; the placement is the solver's (solver.c, solver-pus.c).
 */
#include "internal.h"

#define GUEST_FMT "%s%sguest '%s': "
#define GUEST_ARGS(g) (g)->origin ? (g)->origin : "", (g)->origin ? ": " : "", (g)->name

void
guest_mixed_clear(struct tmap_guest *g)
{
	if (g->dedicated)
		hwloc_bitmap_free(g->dedicated);
	g->dedicated = NULL;
	free(g->dedicated_list);
	g->dedicated_list = NULL;
}

int
tmap_guest_set_dedicated_cpus(struct tmap_guest *g, const char *vcpus, struct tmap_error *err)
{
	hwloc_bitmap_t set = NULL;
	char *list;

	if (!g)
		return tmap_error_set(err, -EINVAL, "tmap_guest_set_dedicated_cpus: no guest");
	if (!vcpus || !*vcpus) {
		guest_mixed_clear(g);
		return 0;
	}
	if (bitmap_parse_list(vcpus, &set) < 0 || hwloc_bitmap_iszero(set)) {
		if (set)
			hwloc_bitmap_free(set);
		return tmap_error_set(err, -EINVAL,
				      "guest '%s': field 'dedicated_cpus': '%.80s' is not a list of vcpus such as '0-1'",
				      g->name, vcpus);
	}
	list = bitmap_list(set);
	if (!list) {
		hwloc_bitmap_free(set);
		return tmap_error_set(err, -ENOMEM, "out of memory");
	}
	guest_mixed_clear(g);
	g->dedicated = set;
	g->dedicated_list = list;
	return 0;
}

const char *
tmap_guest_dedicated_cpus(const struct tmap_guest *g)
{
	return g ? g->dedicated_list : NULL;
}

/* A guest core (threads vcpus in a row) half dedicated, half shared: -1 when none. */
static int
split_core(const struct tmap_guest *g)
{
	for (unsigned first = 0; g->threads > 1 && first < g->vcpus; first += g->threads) {
		unsigned in = 0;

		for (unsigned v = first; v < first + g->threads; v++)
			in += hwloc_bitmap_isset(g->dedicated, v);
		if (in && in < g->threads)
			return (int)(first / g->threads);
	}
	return -1;
}

int
guest_mixed_validate(const struct tmap_guest *g, struct tmap_error *err)
{
	int last, core;

	if (g->cpu_policy != TMAP_CPU_MIXED) {
		if (!g->dedicated)
			return 0;
		return tmap_error_set(err, -EINVAL,
				      GUEST_FMT "field 'dedicated_cpus': '%s' applies only to cpu_policy 'mixed', this guest is %s",
				      GUEST_ARGS(g), g->dedicated_list,
				      cpu_policy_name(g->cpu_policy));
	}
	/* Nova takes hw:cpu_realtime_mask alone as the dedicated mask; topomap asks for both,
	 * so that a realtime vcpu never becomes dedicated unsaid. */
	if (!g->dedicated && g->realtime)
		return tmap_error_set(err, -EINVAL,
				      GUEST_FMT "cpu_policy 'mixed' needs field 'dedicated_cpus' (--dedicated-cpus) beside 'realtime_cpus': name the pinned vcpus there, the realtime ones among them (Nova's realtime mask alone makes them the dedicated vcpus; topomap asks for both)",
				      GUEST_ARGS(g));
	if (!g->dedicated)
		return tmap_error_set(err, -EINVAL,
				      GUEST_FMT "cpu_policy 'mixed' needs field 'dedicated_cpus' (--dedicated-cpus), the vcpus pinned one to one, e.g. '0-1'",
				      GUEST_ARGS(g));
	last = hwloc_bitmap_last(g->dedicated);
	if (last >= (int)g->vcpus)
		return tmap_error_set(err, -EINVAL,
				      GUEST_FMT "field 'dedicated_cpus': '%s' names vcpu %d, but the guest has vcpus 0-%u",
				      GUEST_ARGS(g), g->dedicated_list, last, g->vcpus - 1);
	if (hwloc_bitmap_weight(g->dedicated) == (int)g->vcpus)
		return tmap_error_set(err, -EINVAL,
				      GUEST_FMT "field 'dedicated_cpus': '%s' names every vcpu, which is cpu_policy 'dedicated'; a mixed guest keeps some vcpus shared",
				      GUEST_ARGS(g), g->dedicated_list);
	core = split_core(g);
	if (core >= 0)
		return tmap_error_set(err, -EINVAL,
				      GUEST_FMT "field 'dedicated_cpus': '%s' splits guest core %d (vcpus %u-%u, threads=%u); a guest core is dedicated or shared as a whole",
				      GUEST_ARGS(g), g->dedicated_list, core,
				      (unsigned)core * g->threads, (unsigned)(core + 1) * g->threads - 1,
				      g->threads);
	return 0;
}
