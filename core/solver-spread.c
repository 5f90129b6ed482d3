/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A guest without cells that no single node holds (solver.c's step 2, last resort): spread
 * over the fewest, closest nodes whose capacity and memory add up, with proposed cells that
 * mirror those nodes, vcpus following memory.
 */
#include <limits.h>

#include "solver.h"

struct sort_ctx {
	const struct tmap_topology *t;
	unsigned anchor;
	const unsigned *key;	/* secondary key, larger first; may be NULL */
};

static int
by_distance(const void *a, const void *b, void *arg)
{
	const struct sort_ctx *ctx = arg;
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
	unsigned dx = topo_distance(ctx->t, ctx->anchor, x);
	unsigned dy = topo_distance(ctx->t, ctx->anchor, y);

	if (x == ctx->anchor || y == ctx->anchor)
		return (y == ctx->anchor) - (x == ctx->anchor);
	if (dx != dy)
		return dx < dy ? -1 : 1;
	if (ctx->key && ctx->key[x] != ctx->key[y])
		return ctx->key[x] > ctx->key[y] ? -1 : 1;
	return (x > y) - (x < y);
}

/*
 * Largest remainder: share `total` out in steps of `step` over n cells in proportion to their
 * targets (which add up to total), each between `least` and its max[]: first each target
 * rounded down to a step (at least `least`, at most its max), then a step at a time to the
 * cell with the largest remainder (target less what it has) among those with room, or back
 * from the one with the smallest while the floors of `least` overshoot; the last step may be
 * smaller. Remainders within a millionth of a step are equal, and the lower cell wins: the
 * order does not hang on rounding. -ENOSPC when the maxima do not hold the total.
 */
static int
share_out(uint64_t total, uint64_t step, uint64_t least, const double *target,
	  const uint64_t *max, unsigned n, uint64_t *out)
{
	double tie = (double)step * 1e-6;
	uint64_t sum = 0;

	for (unsigned i = 0; i < n; i++) {
		uint64_t v = (uint64_t)(target[i] / (double)step + 1e-9) * step;

		out[i] = v < least ? least : v;
		if (out[i] > max[i])
			out[i] = max[i] / step * step;
		if (out[i] < least)
			return -ENOSPC;
		sum += out[i];
	}
	while (sum > total) {
		int pick = -1;

		for (unsigned i = 0; i < n; i++)
			if (out[i] >= least + step &&
			    (pick < 0 || target[i] - (double)out[i] <
						 target[pick] - (double)out[pick] - tie))
				pick = (int)i;
		if (pick < 0)
			return -ENOSPC;
		out[pick] -= step;
		sum -= step;
	}
	while (sum < total) {
		uint64_t give = total - sum < step ? total - sum : step;
		int pick = -1;

		for (unsigned i = 0; i < n; i++)
			if (out[i] + give <= max[i] &&
			    (pick < 0 || target[i] - (double)out[i] >
						 target[pick] - (double)out[pick] + tie))
				pick = (int)i;
		if (pick < 0)
			return -ENOSPC;
		out[pick] += give;
		sum += give;
	}
	return 0;
}

/*
 * The cells of a spread guest on nodes node_of[0..c->n): each node takes a fraction of the
 * guest, as even as the nodes allow (water-filling: the nodes that can take the least, in PUs
 * or in memory, first, each the even share of what is left). The vcpus, the coarser of the
 * two, are shared out first, by largest remainder in whole guest (or, for thread policy
 * require, host) cores; then the memory in proportion to the vcpus each cell got, so every
 * cell has the same memory per vcpu wherever the nodes have it (what a node lacks goes to
 * the cells furthest below their share). A node bound by its memory takes a smaller fraction,
 * and its vcpus follow; one bound by its PUs, and its memory follows. So 8 vcpus and 40 GiB
 * over three nodes of 16 GiB become 3/3/2 vcpus with 15/15/10 GiB, 5 GiB per vcpu everywhere,
 * not 6/1/1 vcpus with 16/16/8.
 */
static int
spread_shape(const struct solver *s, const struct demand *d, const unsigned *cap,
	     const struct tmap_guest *g, unsigned unit, uint64_t step, const int *node_of,
	     struct guest_cells *c)
{
	unsigned n = c->n, next_vcpu = 0, vunit;
	_cleanup_free_ uint64_t *room = calloc(n, sizeof(uint64_t));
	_cleanup_free_ uint64_t *mem_room = calloc(n, sizeof(uint64_t));
	_cleanup_free_ uint64_t *vcpus = calloc(n, sizeof(uint64_t));
	_cleanup_free_ double *part = calloc(n, sizeof(double)), *target = calloc(n, sizeof(double));
	_cleanup_free_ unsigned *order = calloc(n, sizeof(unsigned));
	double left = 1.0;
	int r;

	if (!room || !mem_room || !vcpus || !part || !target || !order)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		unsigned emu = i == 0 && d->emulator_isolate ? d->emulator_units : 0;
		double a, b;

		room[i] = cap[node_of[i]] > emu ? cap[node_of[i]] - emu : 0;
		mem_room[i] = node_memory(s, (unsigned)node_of[i], d) / step * step;
		a = (double)room[i] / g->vcpus;
		b = (double)mem_room[i] / (double)g->memory_mib;
		part[i] = a < b ? a : b;	/* the most of the guest this node can take */
		order[i] = i;
	}
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i; j > 0 && part[order[j]] < part[order[j - 1]]; j--) {
			unsigned tmp = order[j];

			order[j] = order[j - 1];
			order[j - 1] = tmp;
		}
	for (unsigned k = 0; k < n; k++) {
		unsigned i = order[k];
		double even = left / (n - k);

		part[i] = part[i] < even ? part[i] : even;
		left -= part[i];
	}
	for (unsigned i = 0; i < n; i++)
		target[i] = part[i] * g->vcpus;
	/* Thread policy require holds whole host cores: give them whole where the guest can. */
	vunit = d->policy == TMAP_THREAD_REQUIRE && unit == 1 && s->t->max_threads > 1 ?
			s->t->max_threads : unit;
	r = share_out(g->vcpus, vunit, unit < g->vcpus ? unit : g->vcpus, target, room, n, vcpus);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < n; i++)
		target[i] = (double)g->memory_mib * (double)vcpus[i] / g->vcpus;
	r = share_out(g->memory_mib, step, step, target, mem_room, n, c->memory_mib);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < n; i++) {
		c->nvcpus[i] = (unsigned)vcpus[i];
		c->vcpus[i] = hwloc_bitmap_alloc();
		if (!c->vcpus[i])
			return -ENOMEM;
		hwloc_bitmap_set_range(c->vcpus[i], next_vcpu, (int)(next_vcpu + c->nvcpus[i]) - 1);
		next_vcpu += c->nvcpus[i];
	}
	return 0;
}

/*
 * A guest without cells that no single node can hold: the fewest, closest nodes whose
 * capacity and memory add up, and cells that mirror them (vcpus at guest core boundaries,
 * memory in proportion). Fills *cells with the proposal and node_of with its nodes.
 */
int
spread(const struct solver *s, const struct demand *d, const unsigned *cap,
       const struct tmap_guest *g, struct guest_cells *cells, int **ret_node_of)
{
	const struct tmap_topology *t = s->t;
	unsigned N = t->nnodes, unit = d->group > 1 ? d->group : g->threads > 1 ? g->threads : 1;
	_cleanup_free_ unsigned *order = calloc(N, sizeof(unsigned));
	_cleanup_free_ unsigned *best = calloc(N, sizeof(unsigned));
	unsigned best_len = 0;
	unsigned long best_dist = ULONG_MAX;
	_cleanup_free_ int *node_of = NULL;
	struct guest_cells c = {0};
	/* A hugepage guest's cells each get whole pages: memory moves in pages (the guest's
	 * memory is whole pages, and so is what a pool has free). */
	uint64_t step = d->page_kib > 1024 ? d->page_kib >> 10 : 1;
	int r;

	if (!order || !best)
		return -ENOMEM;
	if (d->cpu == TMAP_CPU_SHARED)
		return -ENOSPC;
	for (unsigned a = 0; a < N; a++) {
		struct sort_ctx ctx = {t, a, cap};
		unsigned long got = 0, dist = 0;
		uint64_t mem = 0;
		unsigned len = 0;

		if (t->nodes[a].cpuless || cap[a] < unit)
			continue;
		/* A guest held next to a device: its first cell, which holds the device, on a
		 * node local to it, with memory there (an anchor without is passed over). */
		if (d->cell_nodes && (!d->cell_nodes[a] || node_memory(s, a, d) == 0))
			continue;
		for (unsigned n = 0; n < N; n++)
			order[n] = n;
		qsort_r(order, N, sizeof(*order), by_distance, &ctx);
		for (unsigned i = 0; i < N && (got < g->vcpus + (d->emulator_isolate ? d->emulator_units : 0) || mem < g->memory_mib); i++) {
			unsigned n = order[i];

			if (t->nodes[n].cpuless || cap[n] < unit || node_memory(s, n, d) == 0)
				continue;
			order[len++] = n;
			got += cap[n] / unit * unit;
			mem += node_memory(s, n, d);
		}
		if (got < g->vcpus + (d->emulator_isolate ? d->emulator_units : 0) ||
		    mem < g->memory_mib || len * unit > g->vcpus)
			continue;
		for (unsigned i = 0; i < len; i++)
			for (unsigned j = i + 1; j < len; j++)
				dist += topo_distance(t, order[i], order[j]);
		if (best_len == 0 || len < best_len || (len == best_len && dist < best_dist)) {
			best_len = len;
			best_dist = dist;
			memcpy(best, order, len * sizeof(unsigned));
		}
	}
	if (best_len == 0)
		return -ENOSPC;

	c.n = c.size = best_len;
	c.implied = true;
	c.vcpus = calloc(c.n, sizeof(*c.vcpus));
	c.nvcpus = calloc(c.n, sizeof(*c.nvcpus));
	c.memory_mib = calloc(c.n, sizeof(*c.memory_mib));
	node_of = calloc(c.n, sizeof(int));
	if (!c.vcpus || !c.nvcpus || !c.memory_mib || !node_of) {
		guest_cells_clear(&c);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < c.n; i++)
		node_of[i] = (int)best[i];
	r = spread_shape(s, d, cap, g, unit, step, node_of, &c);
	if (r < 0) {
		guest_cells_clear(&c);
		return r;
	}
	guest_cells_clear(cells);
	*cells = c;
	*ret_node_of = TAKE_PTR(node_of);
	return 0;
}
