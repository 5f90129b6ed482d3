/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The solver's words: why a guest does not fit, and why it went where it went. */
#include "solver.h"

/* What the capacity counts, for messages. */
const char *
unit_name(const struct demand *d)
{
	if (d->cpu == TMAP_CPU_SHARED)
		return "shared vcpus (pool PUs times the cpu overcommit, at most the pool's PUs)";
	switch (d->policy) {
	case TMAP_THREAD_ISOLATE:
		return "whole free cores (thread policy isolate)";
	case TMAP_THREAD_REQUIRE:
		return "PUs on whole free SMT cores (thread policy require)";
	default:
		return "free PUs";
	}
}

static const char *
thread_words(const struct demand *d, unsigned threads)
{
	switch (d->policy) {
	case TMAP_THREAD_ISOLATE:
		return "one vcpu per host core, its siblings kept empty (thread policy isolate)";
	case TMAP_THREAD_REQUIRE:
		return "whole host cores, vcpus packed onto siblings (thread policy require)";
	default:
		if (threads > 1 && d->group == threads)
			return "each guest core's threads on siblings of one host core (thread policy prefer)";
		if (threads > 1)
			return "guest cores are wider than host cores: each guest core's threads spread over host cores (thread policy prefer)";
		return "vcpus packed onto sibling PUs, whole cores first (thread policy prefer)";
	}
}

/* The same in a few words, after a number: "6 free PUs". */
const char *
short_unit(const struct demand *d)
{
	if (d->cpu == TMAP_CPU_SHARED)
		return "shared vcpus";
	switch (d->policy) {
	case TMAP_THREAD_ISOLATE:
		return "whole free cores";
	case TMAP_THREAD_REQUIRE:
		return "PUs on whole free SMT cores";
	default:
		return "free PUs";
	}
}

/* The free nodes a refused cell came closest on: the one with the most capacity (ties: the
 * most memory) and the one with the most memory (ties: the most capacity). */
struct closest {
	int cap_node, mem_node;		/* node indexes, -1 when no node has CPUs */
	uint64_t cap_node_mem, most_mem;
};

static struct closest
closest_nodes(const struct solver *s, const struct demand *d, const unsigned *cap)
{
	const struct tmap_topology *t = s->t;
	struct closest cl = {-1, -1, 0, 0};

	for (unsigned n = 0; n < t->nnodes; n++) {
		uint64_t mem = node_memory(s, n, d);

		if (t->nodes[n].cpuless)
			continue;
		if (cl.cap_node < 0 || cap[n] > cap[cl.cap_node] ||
		    (cap[n] == cap[cl.cap_node] && mem > cl.cap_node_mem)) {
			cl.cap_node = (int)n;
			cl.cap_node_mem = mem;
		}
		if (cl.mem_node < 0 || mem > cl.most_mem ||
		    (mem == cl.most_mem && cap[n] > cap[cl.mem_node])) {
			cl.mem_node = (int)n;
			cl.most_mem = mem;
		}
	}
	return cl;
}

/*
 * A cell that no node takes, by capacity or memory. Real nodes are named: when the node with
 * the most capacity has the memory the cell needs, or the most of anyone's, "the largest free
 * node has 6 and 12288 MiB"; else each of the two with what it lacks, never the capacity of
 * one node beside the memory of another. implied: a guest without cells, which could have
 * been spread: what all nodes hold together too.
 */
static int
no_fit_cell(const struct solver *s, const struct demand *d, const unsigned *cap,
	    const struct cell_req *req, unsigned c, unsigned need, bool implied)
{
	const struct tmap_topology *t = s->t;
	struct closest cl = closest_nodes(s, d, cap);
	unsigned a = cl.cap_node < 0 ? 0 : (unsigned)cl.cap_node;
	unsigned b = cl.mem_node < 0 ? 0 : (unsigned)cl.mem_node;
	bool one = cl.cap_node < 0 || cl.cap_node_mem >= cl.most_mem ||
		   cl.cap_node_mem >= req[c].memory_mib;
	unsigned cap_a = cl.cap_node < 0 ? 0 : cap[a], cap_b = cl.mem_node < 0 ? 0 : cap[b];
	unsigned long all_cap = 0;
	uint64_t all_mem = 0;

	if (!implied && one)
		return tmap_error_set(s->err, -ENOSPC,
				      "%s: cell %u needs %u %s and %" PRIu64 " MiB on one node; the largest free node has %u and %" PRIu64 " MiB",
				      d->name, c, need, unit_name(d), req[c].memory_mib, cap_a,
				      cl.cap_node_mem);
	if (!implied)
		return tmap_error_set(s->err, -ENOSPC,
				      "%s: cell %u needs %u %s and %" PRIu64 " MiB on one node; no free node has both: node %u has %u %s but %" PRIu64 " MiB; node %u has %" PRIu64 " MiB but %u %s",
				      d->name, c, need, unit_name(d), req[c].memory_mib,
				      t->nodes[a].os_index, cap_a, short_unit(d), cl.cap_node_mem,
				      t->nodes[b].os_index, cl.most_mem, cap_b, short_unit(d));
	for (unsigned n = 0; n < t->nnodes; n++) {
		all_cap += t->nodes[n].cpuless ? 0 : cap[n];
		all_mem += t->nodes[n].cpuless ? 0 : node_memory(s, n, d);
	}
	if (one)
		return tmap_error_set(s->err, -ENOSPC,
				      "%s: needs %u %s and %" PRIu64 " MiB; the largest free node has %u and %" PRIu64 " MiB, all nodes together %lu and %" PRIu64 " MiB",
				      d->name, need, unit_name(d), req[c].memory_mib, cap_a,
				      cl.cap_node_mem, all_cap, all_mem);
	return tmap_error_set(s->err, -ENOSPC,
			      "%s: needs %u %s and %" PRIu64 " MiB; no free node has both: node %u has %u %s but %" PRIu64 " MiB; node %u has %" PRIu64 " MiB but %u %s; all nodes together %lu and %" PRIu64 " MiB",
			      d->name, need, unit_name(d), req[c].memory_mib, t->nodes[a].os_index,
			      cap_a, short_unit(d), cl.cap_node_mem, t->nodes[b].os_index,
			      cl.most_mem, cap_b, short_unit(d), all_cap, all_mem);
}

/* A cell whose hugepages no node has free: the pool that comes closest. */
static int
no_fit_pages(const struct solver *s, const struct demand *d, unsigned cell, uint64_t mib,
	     bool implied)
{
	const struct tmap_topology *t = s->t;
	uint64_t pages = (mib << 10) / d->page_kib;
	char size[32], what[32] = "";
	int best = -1;

	page_size_text(d->page_kib, size, sizeof(size));
	if (!implied)
		snprintf(what, sizeof(what), " cell %u", cell);
	for (unsigned n = 0; d->page >= 0 && n < t->nnodes; n++)
		if (!t->nodes[n].cpuless &&
		    (best < 0 || d->free[n] > d->free[best]))
			best = (int)n;
	if (best < 0)
		return tmap_error_set(s->err, -ENOSPC,
				      "%s:%s needs %" PRIu64 " MiB of %s pages (%" PRIu64 ") on one node; no node of this host has a pool of %s pages",
				      d->name, what, mib, size, pages, size);
	if (implied && !(s->flags & TMAP_SOLVE_NO_SPREAD)) {
		/* A guest without cells could have been spread: say what all pools hold. */
		int64_t all = 0;

		for (unsigned n = 0; n < t->nnodes; n++)
			all += t->nodes[n].cpuless ? 0 : node_free_pages(s, n, (unsigned)d->page);
		return tmap_error_set(s->err, -ENOSPC,
				      "%s:%s needs %" PRIu64 " MiB of %s pages (%" PRIu64 ") on one node; the most free is node %u with %" PRId64 ", all nodes together %" PRId64,
				      d->name, what, mib, size, pages, t->nodes[best].os_index,
				      node_free_pages(s, (unsigned)best, (unsigned)d->page), all);
	}
	return tmap_error_set(s->err, -ENOSPC,
			      "%s:%s needs %" PRIu64 " MiB of %s pages (%" PRIu64 ") on one node; the most free is node %u with %" PRId64,
			      d->name, what, mib, size, pages, t->nodes[best].os_index,
			      node_free_pages(s, (unsigned)best, (unsigned)d->page));
}

/* A shared cell wider than the widest pool of the host: it floats over a whole pool, and no
 * overcommit narrows it onto fewer PUs than it has vcpus. 0 when every cell is narrow enough. */
static int
no_fit_width(const struct solver *s, const struct demand *d, const struct cell_req *req,
	     unsigned ncells)
{
	const struct tmap_topology *t = s->t;
	unsigned widest = 0, pus = 0;

	for (unsigned n = 0; n < t->nnodes; n++) {
		unsigned p = t->nodes[n].cpuless ? 0 : node_pool_size(s, n);

		if (p > pus || n == 0) {
			widest = n;
			pus = p;
		}
	}
	for (unsigned c = 0; c < ncells; c++)
		if (req[c].vcpus > pus)
			return tmap_error_set(s->err, -ENOSPC,
					      "%s: cell %u has %u shared vcpus, more than the %u PUs of node %u's shared pool, the widest (a shared cell floats over its node's whole pool; the overcommit adds guests, it never narrows one)",
					      d->name, c, req[c].vcpus, pus, t->nodes[widest].os_index);
	return 0;
}

/* Say precisely why a guest does not fit. */
int
no_fit(const struct solver *s, const struct demand *d, const unsigned *cap,
       const struct cell_req *req, unsigned ncells, bool implied)
{
	const struct tmap_topology *t = s->t;
	unsigned usable_nodes = 0;
	uint64_t most_mem;

	/* Nobody asked why (tmap_host_fit() without reterr, a trial of make-room): the
	 * refusal is the whole answer, and the words would cost more than the decision. */
	if (!s->err)
		return -ENOSPC;
	most_mem = closest_nodes(s, d, cap).most_mem;
	if (d->policy == TMAP_THREAD_REQUIRE && t->max_threads < 2 && d->cpu != TMAP_CPU_SHARED)
		return tmap_error_set(s->err, -ENOSPC,
				      "%s: thread policy require needs host cores with SMT siblings; this host has 1 PU per core",
				      d->name);
	if (d->cpu == TMAP_CPU_SHARED && no_fit_width(s, d, req, ncells) < 0)
		return -ENOSPC;
	if (d->cpu == TMAP_CPU_MIXED && mixed_no_fit(s, d, cap, req, ncells) < 0)
		return -ENOSPC;
	if (d->realtime && realtime_no_fit(s, d, req, ncells) < 0)
		return -ENOSPC;
	for (unsigned c = 0; c < ncells; c++) {
		unsigned need = req[c].vcpus;
		bool any = false;

		if (c == 0 && d->emulator_isolate)
			need += d->emulator_units;
		for (unsigned n = 0; n < t->nnodes; n++)
			any |= cell_fits(s, d, cap, n, &req[c], c);
		if (any)
			continue;
		if (d->page_kib && most_mem < req[c].memory_mib)
			return no_fit_pages(s, d, c, req[c].memory_mib, implied);
		return no_fit_cell(s, d, cap, req, c, need, implied);
	}
	for (unsigned n = 0; n < t->nnodes; n++)
		usable_nodes += !t->nodes[n].cpuless;
	if (d->page_kib) {
		/* The pools are the likely reason: say which nodes have pages for a cell. */
		_cleanup_bitmap_ hwloc_bitmap_t have = hwloc_bitmap_alloc();
		_cleanup_free_ char *list = NULL;
		uint64_t smallest = UINT64_MAX;
		char size[32];

		for (unsigned c = 0; c < ncells; c++)
			if (req[c].memory_mib < smallest)
				smallest = req[c].memory_mib;
		for (unsigned n = 0; have && n < t->nnodes; n++)
			if (!t->nodes[n].cpuless && node_memory(s, n, d) >= smallest)
				hwloc_bitmap_set(have, t->nodes[n].os_index);
		list = have ? bitmap_list(have) : NULL;
		if (list)
			return tmap_error_set(s->err, -ENOSPC,
					      "%s: each of its %u cells fits some node, but no %u distinct nodes of the %u with CPUs can take them all at once; free %s pages for a cell: node%s %s",
					      d->name, ncells, ncells, usable_nodes,
					      page_size_text(d->page_kib, size, sizeof(size)),
					      hwloc_bitmap_weight(have) == 1 ? "" : "s", list);
	}
	return tmap_error_set(s->err, -ENOSPC,
			      "%s: each of its %u cells fits some node, but no %u distinct nodes of the %u with CPUs can take them all at once",
			      d->name, ncells, ncells, usable_nodes);
}

/* Why a placed guest went where it went, in the operator's words. */
void
explain_placement(const struct solver *s, const struct demand *d, const unsigned *cap,
		  const struct tmap_guest *g, const struct cell_req *req, const int *node_of,
		  bool spread_out, bool sharing, struct plan_guest *pg)
{
	const struct tmap_topology *t = s->t;
	unsigned ncells = s->cells.n, usable_nodes = 0;

	for (unsigned n = 0; n < t->nnodes; n++)
		usable_nodes += !t->nodes[n].cpuless;
	if (spread_out) {
		_cleanup_free_ char *nodes = bitmap_list(pg->memory_nodes);
		char pages[48] = "", size[32];

		if (d->page_kib)
			snprintf(pages, sizeof(pages), " in %s pages",
				 page_size_text(d->page_kib, size, sizeof(size)));
		plan_guest_explain(pg, "no single node has %u %s and %" PRIu64 " MiB%s: spread over the %u closest nodes that have them (%s); the plan proposes %u cells that mirror them",
				   g->vcpus, unit_name(d), g->memory_mib, pages, ncells,
				   nodes ? nodes : "", ncells);
	}
	if (sharing)
		plan_guest_explain(pg, "%u cells but only %u nodes with CPUs: cells share nodes",
				   ncells, usable_nodes);
	for (unsigned c = 0; c < ncells; c++) {
		unsigned n = (unsigned)node_of[c];

		/* issue 21: asked, not chosen */
		if (g->pus)
			plan_guest_explain(pg, "cell %u -> node %u: as asked, the node of its PUs in pus '%s'; %" PRIu64 " MiB",
					   c, t->nodes[n].os_index, g->pus_list, req[c].memory_mib);
		else if (c < g->ncells && g->cells[c].node >= 0)
			plan_guest_explain(pg, "cell %u -> node %u: as asked (node %d); %u of its %u %s used, %" PRIu64 " MiB",
					   c, t->nodes[n].os_index, g->cells[c].node, req[c].vcpus,
					   cap[n], unit_name(d), req[c].memory_mib);
		else if (d->cpu == TMAP_CPU_SHARED)
			plan_guest_explain(pg, "cell %u -> node %u: %" PRIu64 " MiB; the most room for shared vcpus (%u)",
					   c, t->nodes[n].os_index, req[c].memory_mib, cap[n]);
		else if (ncells == 1)
			plan_guest_explain(pg, "cell 0 -> node %u: keeps the host most useful for the requests it gets, %u of its %u %s used, %" PRIu64 " of %" PRIu64 " MiB free%s",
					   t->nodes[n].os_index, req[c].vcpus, cap[n], unit_name(d),
					   req[c].memory_mib, node_memory(s, n, d) + req[c].memory_mib,
					   d->page_kib ? " in its pool" : "");
		else if (c == 0)
			plan_guest_explain(pg, "cell 0 -> node %u: %u of its %u %s used, %" PRIu64 " MiB; the other cells on the nodes closest to it that fit",
					   t->nodes[n].os_index, req[c].vcpus, cap[n], unit_name(d),
					   req[c].memory_mib);
		else
			plan_guest_explain(pg, "cell %u -> node %u: distance %u from cell 0's node; %u of its %u %s used, %" PRIu64 " MiB",
					   c, t->nodes[n].os_index,
					   topo_distance(t, (unsigned)node_of[0], n), req[c].vcpus,
					   cap[n], unit_name(d), req[c].memory_mib);
	}
	if (d->page_kib) {
		char size[32];

		page_size_text(d->page_kib, size, sizeof(size));
		for (unsigned c = 0; c < ncells; c++) {
			unsigned n = (unsigned)node_of[c];

			plan_guest_explain(pg, "cell %u memory: %" PRIu64 " pages of %s from node %u's pool, %" PRId64 " left free; normal memory is not used",
					   c, (req[c].memory_mib << 10) / d->page_kib, size,
					   t->nodes[n].os_index,
					   node_free_pages(s, n, (unsigned)d->page));
		}
	}
	if (g->pus)
		plan_guest_explain(pg, "vcpus: pinned as asked, vcpu i on the i-th PU of pus '%s' (thread policy %s kept)",
				   g->pus_list, thread_policy_name(d->policy));
	else if (d->cpu == TMAP_CPU_DEDICATED)
		plan_guest_explain(pg, "vcpus: %s", thread_words(d, g->threads));
	else if (d->cpu == TMAP_CPU_MIXED)
		plan_guest_explain(pg, "vcpus %s (dedicated_cpus): %s; the others float over the whole shared pool of their nodes, %s (cpu policy mixed, at most %g shared vcpus per pool PU)",
				   g->dedicated_list, thread_words(d, g->threads),
				   s->fixed_pool ? "which dedicated guests never get" :
						   "every PU no dedicated guest holds",
				   s->cpu_ratio);
	else
		plan_guest_explain(pg, "vcpus float over the whole shared pool of their nodes, %s (cpu policy shared, at most %g shared vcpus per pool PU)",
				   s->fixed_pool ? "which dedicated guests never get" :
						   "every PU no dedicated guest holds",
				   s->cpu_ratio);
	if (d->emulator_isolate) {
		plan_guest_explain(pg, "emulator and iothreads: a PU of their own on cell 0's node (emulator isolate)");
	} else if (g->emulator_policy == TMAP_EMULATOR_SHARE_HOST) {
		unsigned node = t->nodes[node_of[0]].os_index;
		_cleanup_free_ char *list = bitmap_list(pg->emulator);

		if (hwloc_bitmap_intersects(s->housekeeping, t->nodes[node_of[0]].cpuset))
			plan_guest_explain(pg, "emulator: floats over the host's housekeeping PUs %s on cell 0's node %u (emulator share-host); iothreads float over the guest's %svcpu PUs",
					   list ? list : "?", node,
					   d->cpu == TMAP_CPU_MIXED ? "shared " : "");
		else
			plan_guest_explain(pg, "emulator: node %u of cell 0 has no housekeeping PU, so it floats over all of the host's, %s (emulator share-host); iothreads float over the guest's %svcpu PUs",
					   node, list ? list : "?",
					   d->cpu == TMAP_CPU_MIXED ? "shared " : "");
	} else if (d->cpu == TMAP_CPU_MIXED) {
		plan_guest_explain(pg, "emulator and iothreads float with the shared vcpus over the shared pool, away from the dedicated ones (emulator share)");
	} else {
		plan_guest_explain(pg, "emulator and iothreads float over the guest's vcpu PUs (emulator share)");
	}
}
