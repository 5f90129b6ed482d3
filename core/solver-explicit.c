/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Placements asked explicitly (issue 21): a host node per cell (cells[].node), or the exact
 * host PUs of the vcpus (pus), as an operator migrating a guest tuned by hand states them.
 * They are not preferences: each is met, or the guest is refused with one line naming the
 * guest, the request and why (a PU the host lacks, reserved, pooled or held by a named
 * guest, a core the thread policy cannot use, a node without room). A cell whose node is
 * fixed is one more constraint on step 2 (the cells left free are chosen around it); PUs
 * asked replace step 3 for the whole guest.
 */
#include "solver.h"

/* Why a PU cannot be given to a dedicated vcpu, into why[]; false when it can. */
static bool
pu_refusal(const struct solver *s, unsigned pu, char *why, size_t size)
{
	const struct tmap_topology *t = s->t;
	const char *holder;

	if (pu >= t->pu_limit || !hwloc_bitmap_isset(t->cpuset, pu)) {
		_cleanup_free_ char *host = bitmap_list(t->cpuset);

		if (t->hw && hwloc_bitmap_isset(hwloc_topology_get_complete_cpuset(t->hw), pu))
			snprintf(why, size, "PU %u is offline, or not allowed to this process", pu);
		else
			snprintf(why, size, "PU %u is not a PU of this host (%s)", pu,
				 host ? host : "?");
		return true;
	}
	if (hwloc_bitmap_isset(s->pool, pu)) {
		snprintf(why, size, "PU %u is in the shared pool, and this guest is dedicated", pu);
		return true;
	}
	if (!hwloc_bitmap_isset(s->usable, pu)) {
		snprintf(why, size, "PU %u is reserved for the host", pu);
		return true;
	}
	if (hwloc_bitmap_isset(s->taken, pu)) {
		holder = s->holder ? s->holder(s->holder_ctx, pu) : NULL;
		if (holder)
			snprintf(why, size, "PU %u is held by '%s'", pu, holder);
		else
			snprintf(why, size, "PU %u is held by another guest", pu);
		return true;
	}
	return false;
}

/* Thread policies isolate and require keep a vcpu's core whole: the first sibling that
 * breaks it, named with why; -ENOSPC with the message, or 0. */
static int
check_core(const struct solver *s, const struct tmap_guest *g, const struct demand *d,
	   unsigned pu)
{
	const struct topo_core *core = &s->t->cores[s->t->pu_core[pu]];
	_cleanup_free_ char *list = core_list(s->t, pu);
	const char *policy = thread_policy_name(d->policy);
	const char *wants = d->policy == TMAP_THREAD_ISOLATE ? "keeps a vcpu's siblings empty" :
							       "takes whole SMT cores";
	char why[192];

	if (!list)
		return -ENOMEM;
	if (d->policy == TMAP_THREAD_REQUIRE && core->npus < 2)
		return tmap_error_set(s->err, -ENOSPC,
				      "guest '%s': pus '%s': PU %u is on core %s, which has no SMT sibling (thread_policy require takes whole SMT cores)",
				      g->name, g->pus_list, pu, list);
	for (unsigned k = 0; k < core->npus; k++) {
		unsigned sib = core->pus[k];

		if (sib == pu || (hwloc_bitmap_isset(g->pus, sib) && d->policy != TMAP_THREAD_ISOLATE))
			continue;
		if (hwloc_bitmap_isset(g->pus, sib))
			return tmap_error_set(s->err, -ENOSPC,
					      "guest '%s': pus '%s': PUs %u and %u share core %s (thread_policy isolate gives each vcpu a core of its own)",
					      g->name, g->pus_list, pu < sib ? pu : sib,
					      pu < sib ? sib : pu, list);
		if (pu_refusal(s, sib, why, sizeof(why)))
			return tmap_error_set(s->err, -ENOSPC,
					      "guest '%s': pus '%s': PU %u is on core %s, and sibling %s (thread_policy %s %s)",
					      g->name, g->pus_list, pu, list, why, policy, wants);
	}
	return 0;
}

/* Guest SMT threads asked to sit on one host core (require, threads > 1): the vcpus of each
 * guest core on one host core. */
static int
check_guest_cores(const struct solver *s, const struct tmap_guest *g, const unsigned *pin)
{
	const struct tmap_topology *t = s->t;

	for (unsigned v = 0; v < g->vcpus; v++) {
		unsigned first = v - v % g->threads;
		_cleanup_free_ char *a = NULL, *b = NULL;

		if (t->pu_core[pin[v]] == t->pu_core[pin[first]])
			continue;
		a = core_list(t, pin[first]);
		b = core_list(t, pin[v]);
		return tmap_error_set(s->err, -ENOSPC,
				      "guest '%s': pus '%s': vcpus %u and %u (guest core %u) are on host cores %s and %s (thread_policy require keeps a guest core on one host core)",
				      g->name, g->pus_list, first, v, v / g->threads, a ? a : "?",
				      b ? b : "?");
	}
	return 0;
}

/* The PUs asked, in the order written: each free for this guest, the thread policy kept;
 * pin[v] the PU of vcpu v. */
static int
check_pus(const struct solver *s, const struct tmap_guest *g, const struct demand *d,
	  unsigned *pin)
{
	char why[192];
	int r = 0;

	for (unsigned v = 0; v < g->vcpus; v++) {
		unsigned pu = g->pu_order[v];

		if (pu_refusal(s, pu, why, sizeof(why)))
			return tmap_error_set(s->err, -ENOSPC, "guest '%s': pus '%s': %s", g->name,
					      g->pus_list, why);
		if (d->policy != TMAP_THREAD_PREFER && (r = check_core(s, g, d, pu)) < 0)
			return r;
		pin[v] = pu;
	}
	if (d->policy == TMAP_THREAD_REQUIRE && g->threads > 1)
		return check_guest_cores(s, g, pin);
	return 0;
}

/* The node of cell c given by its PUs: every vcpu of the cell on one node, the one it asks
 * for if it asks. */
static int
node_of_pus(const struct solver *s, const struct tmap_guest *g, hwloc_const_bitmap_t vcpus,
	    unsigned c, const unsigned *pin, int *ret)
{
	const struct tmap_topology *t = s->t;
	int first = hwloc_bitmap_first(vcpus), n = t->cores[t->pu_core[pin[first]]].node;
	int want = c < g->ncells ? g->cells[c].node : -1;
	unsigned v;

	hwloc_bitmap_foreach_begin(v, vcpus)
	{
		int m = t->cores[t->pu_core[pin[v]]].node;

		if (m != n)
			return tmap_error_set(s->err, -ENOSPC,
					      "guest '%s': pus '%s': cell %u has vcpu %d on node %u and vcpu %u on node %u; a cell's vcpus are on one node (give one cell per node)",
					      g->name, g->pus_list, c, first, t->nodes[n].os_index, v,
					      t->nodes[m].os_index);
	}
	hwloc_bitmap_foreach_end();
	if (want >= 0 && (unsigned)want != t->nodes[n].os_index)
		return tmap_error_set(s->err, -ENOSPC,
				      "guest '%s': cell %u: node %d, but pus '%s' puts its vcpus on node %u",
				      g->name, c, want, g->pus_list, t->nodes[n].os_index);
	*ret = n;
	return 0;
}

/* A node asked for cell c: on this host, with PUs. */
static int
node_asked(const struct solver *s, const struct tmap_guest *g, unsigned c, int *ret)
{
	const struct tmap_topology *t = s->t;
	unsigned os = (unsigned)g->cells[c].node;
	int n = topo_node_index(t, os);

	if (n < 0) {
		_cleanup_bitmap_ hwloc_bitmap_t ids = hwloc_bitmap_alloc();
		_cleanup_free_ char *list = NULL;

		for (unsigned i = 0; ids && i < t->nnodes; i++)
			hwloc_bitmap_set(ids, t->nodes[i].os_index);
		list = ids ? bitmap_list(ids) : NULL;
		return tmap_error_set(s->err, -ENOSPC,
				      "guest '%s': cell %u: node %u is not a node of this host (%s)",
				      g->name, c, os, list ? list : "?");
	}
	if (t->nodes[n].cpuless)
		return tmap_error_set(s->err, -ENOSPC,
				      "guest '%s': cell %u: node %u has no usable PUs (memory only)",
				      g->name, c, os);
	*ret = n;
	return 0;
}

/* What the fixed cells take of each node, all together: the PUs (cells without PUs asked)
 * and the memory, and two cells on one node only when the guest lets them. */
static int
check_room(const struct solver *s, const struct tmap_guest *g, const struct demand *d,
	   const unsigned *cap, const struct cell_req *req, unsigned ncells, const int *fixed)
{
	const struct tmap_topology *t = s->t;
	bool share = g->cells_share_nodes && !(s->flags & TMAP_SOLVE_DISTINCT_CELLS);

	for (unsigned c = 0; c < ncells; c++) {
		unsigned n, need = 0, os;
		uint64_t mem = 0, room;

		if (fixed[c] < 0)
			continue;
		n = (unsigned)fixed[c];
		os = t->nodes[n].os_index;
		for (unsigned k = 0; k <= c; k++) {
			if (fixed[k] != fixed[c])
				continue;
			if (k < c && !share)
				return tmap_error_set(s->err, -ENOSPC,
						      "guest '%s': cell %u: node %u holds cell %u already; set cells_share_nodes (--cells-share-nodes) to share",
						      g->name, c, os, k);
			need += req[k].vcpus + (k == 0 && d->emulator_isolate ? d->emulator_units : 0);
			mem += req[k].memory_mib;
		}
		room = node_memory(s, n, d);
		if (!g->pus && cap[n] < need)
			return tmap_error_set(s->err, -ENOSPC,
					      "guest '%s': cell %u: node %u has %u %s; the guest's cells there need %u",
					      g->name, c, os, cap[n], short_unit(d), need);
		if (d->cpu == TMAP_CPU_MIXED && !mixed_fits(s, d, n, &req[c], need))
			return mixed_refuse(s, d, n, &req[c], c, need, true);
		if (room < mem)
			return tmap_error_set(s->err, -ENOSPC,
					      "guest '%s': cell %u: node %u has %" PRIu64 " MiB free%s; the guest's cells there need %" PRIu64 " MiB",
					      g->name, c, os, room, d->page >= 0 ? " in its pool" : "", mem);
	}
	return 0;
}

int
explicit_nodes(struct solver *s, const struct tmap_guest *g, const struct demand *d,
	       const unsigned *cap, const struct guest_cells *cells, const struct cell_req *req,
	       int **ret_fixed, unsigned **ret_pin)
{
	int *fixed = scratch_new(s, cells->n, int);
	unsigned *pin = g->pus ? scratch_new(s, g->vcpus, unsigned) : NULL;
	bool all = true;
	int r;

	if (!fixed || (g->pus && !pin))
		return -ENOMEM;
	if (g->pus && (r = check_pus(s, g, d, pin)) < 0)
		return r;
	for (unsigned c = 0; c < cells->n; c++) {
		fixed[c] = -1;
		if (g->pus)
			r = node_of_pus(s, g, cells->vcpus[c], c, pin, &fixed[c]);
		else if (c < g->ncells && g->cells[c].node >= 0)
			r = node_asked(s, g, c, &fixed[c]);
		else
			r = 0;
		if (r < 0)
			return r;
		all &= fixed[c] >= 0;
	}
	r = check_room(s, g, d, cap, req, cells->n, fixed);
	if (r < 0)
		return r;
	*ret_fixed = fixed;
	*ret_pin = pin;
	return all ? 0 : 1;
}

int
explicit_constrain(struct solver *s, unsigned ncells, const int *fixed, struct demand *d)
{
	unsigned N = s->t->nnodes;
	bool *allowed = scratch_new(s, (size_t)ncells * N, bool);

	if (!allowed)
		return -ENOMEM;
	for (unsigned c = 0; c < ncells; c++)
		for (unsigned n = 0; n < N; n++)
			allowed[c * N + n] = (!d->cell_nodes || d->cell_nodes[c * N + n]) &&
					     (fixed[c] < 0 || (unsigned)fixed[c] == n);
	d->cell_nodes = allowed;
	return 0;
}

void
pin_cell(struct solver *s, const struct demand *d, hwloc_const_bitmap_t vcpus,
	 const unsigned *pin, unsigned *vcpu_pu, hwloc_bitmap_t held)
{
	const struct tmap_topology *t = s->t;
	unsigned v;

	hwloc_bitmap_foreach_begin(v, vcpus)
	{
		unsigned c = (unsigned)t->pu_core[pin[v]];
		const struct topo_core *core = &t->cores[c];

		vcpu_pu[v] = pin[v];
		/* isolate and require keep the rest of the core from everyone else */
		for (unsigned k = 0; k < core->npus; k++) {
			unsigned pu = core->pus[k];

			if ((pu != pin[v] && d->policy == TMAP_THREAD_PREFER) ||
			    !hwloc_bitmap_isset(s->usable, pu) || hwloc_bitmap_isset(s->taken, pu))
				continue;
			hwloc_bitmap_set(s->taken, pu);
			hwloc_bitmap_set(held, pu);
			core_free_add(s, c, -1);
		}
	}
	hwloc_bitmap_foreach_end();
}
