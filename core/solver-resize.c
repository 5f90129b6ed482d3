/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Resize a placed guest (issue 18): grow or shrink its vcpus and memory keeping every PU and
 * the node it holds when that is possible, else with the fewest moves of the others.
 *
 * Keeping: the guest's kept PUs (those of the vcpus that stay, a whole guest's siblings, an
 * isolated emulator's PU) plus, to grow, free PUs of its node as its policy takes them (the
 * siblings of its cores first, then the fullest cores; whole free cores for isolate and
 * require); the solver then places the resized guest with every other PU of the host held
 * back for the moment, so it can only answer with that set. Otherwise the guest is released
 * and placed as tmap_host_make_room() places a guest that does not fit; when that fails too
 * it keeps exactly what it had.
 *
 * Guests of one cell only (a guest of several cells is resized by applying its new spec).
 */
#include "solver-room.h"

/* The resized guest, as its recorded plan says it was asked for. */
static int
resized_guest(const struct plan_guest *pg, unsigned vcpus, uint64_t memory_mib,
	      struct tmap_guest **ret, struct tmap_error *err)
{
	struct tmap_guest *g = NULL;
	char cpus[32];
	int r;

	/* Grown in place, a realtime vcpu's held sibling could take a new vcpu. */
	if (pg->realtime)
		return tmap_error_set(err, -EINVAL,
				      "guest '%s' has realtime vcpus (%s), whose cores a resize in place cannot keep to themselves: release it and plan it again",
				      pg->name, pg->realtime_list);
	r = tmap_guest_new(pg->name, vcpus, &g, err);
	if (r < 0)
		return r;
	tmap_guest_set_memory_mib(g, memory_mib);
	tmap_guest_set_cpu_policy(g, pg->cpu_policy);
	tmap_guest_set_thread_policy(g, pg->thread_policy);
	tmap_guest_set_emulator_policy(g, pg->emulator_policy);
	tmap_guest_set_memory_mode(g, pg->memory_mode);
	tmap_guest_set_iothreads(g, pg->iothreads);
	g->pinned = pg->pinned;
	g->page_kib = pg->page_kib;
	g->shares = pg->shares;
	g->period = pg->period;
	g->quota = pg->quota;
	if (pg->threads > 1 && vcpus % pg->threads == 0)
		tmap_guest_set_topology(g, 1, vcpus / pg->threads, pg->threads);
	snprintf(cpus, sizeof(cpus), "0-%u", vcpus - 1);
	r = tmap_guest_add_cell(g, cpus, memory_mib, err);
	if (r == 0)
		r = tmap_guest_validate(g, err);
	if (r < 0) {
		tmap_guest_free(g);
		return r;
	}
	*ret = g;
	return 0;
}

int
host_resized_spec(const struct tmap_host *h, const char *name, unsigned vcpus,
		  uint64_t memory_mib, struct tmap_guest **ret, struct tmap_error *err)
{
	for (size_t i = 0; i < host_guest_count(h); i++) {
		const struct plan_guest *pg = host_guest_plan_at(h, i);

		if (streq(pg->name, name))
			return resized_guest(pg, vcpus, memory_mib ? memory_mib : pg->memory_mib, ret,
					     err);
	}
	return tmap_error_set(err, -ENOENT, "resize: no guest '%s' is placed", name);
}

/* Free PUs of core c into set, at most k (all of a whole free core for a whole guest). */
static unsigned
add_core(const struct solver *s, unsigned c, unsigned k, bool whole, hwloc_bitmap_t set)
{
	const struct topo_core *core = &s->t->cores[c];
	unsigned added = 0;

	if (whole && !core_whole(s, c))
		return 0;
	for (unsigned i = 0; i < core->npus && (whole || added < k); i++) {
		unsigned pu = core->pus[i];

		if (hwloc_bitmap_isset(s->usable, pu) && !hwloc_bitmap_isset(s->taken, pu) &&
		    !hwloc_bitmap_isset(set, pu)) {
			hwloc_bitmap_set(set, pu);
			added++;
		}
	}
	return added;
}

/* Free PUs of core c not in set yet. */
static unsigned
set_room(const struct solver *s, unsigned c, hwloc_const_bitmap_t set)
{
	const struct topo_core *core = &s->t->cores[c];
	unsigned room = 0;

	for (unsigned i = 0; i < core->npus; i++)
		room += hwloc_bitmap_isset(s->usable, core->pus[i]) &&
			!hwloc_bitmap_isset(s->taken, core->pus[i]) &&
			!hwloc_bitmap_isset(set, core->pus[i]);
	return room;
}

/*
 * The set the guest keeps and grows into on node n, with the guest itself released: its kept
 * PUs, then `more` vcpus' worth of free PUs of n. false when n lacks them.
 */
static bool
keep_set(const struct solver *s, const struct plan_guest *pg, unsigned n, unsigned vcpus,
	 hwloc_bitmap_t set)
{
	const struct topo_node *node = &s->t->nodes[n];
	bool whole = pg->thread_policy != TMAP_THREAD_PREFER;
	unsigned group = pg->threads > 1 ? pg->threads : 1, more;

	for (unsigned v = 0; v < pg->vcpus && v < vcpus; v++) {
		unsigned pu = (unsigned)hwloc_bitmap_first(pg->vcpu_pus[v]);

		hwloc_bitmap_set(set, pu);
		if (whole)
			add_core(s, (unsigned)s->t->pu_core[pu], 0, true, set);
	}
	if (pg->emulator_policy == TMAP_EMULATOR_ISOLATE)
		hwloc_bitmap_or(set, set, pg->emulator);
	if (vcpus <= pg->vcpus)
		return true;
	more = vcpus - pg->vcpus;
	/* the siblings of its cores first, so its threads stay packed */
	for (unsigned i = 0; i < node->ncores && more && !whole && group == 1; i++) {
		unsigned c = node->cores[i];
		bool mine = false;

		for (unsigned k = 0; k < s->t->cores[c].npus; k++)
			mine |= hwloc_bitmap_isset(set, s->t->cores[c].pus[k]);
		if (mine)
			more -= add_core(s, c, more, false, set);
	}
	/* then the fullest cores that take a group (whole free cores for a whole guest) */
	while (more) {
		int best = -1;

		for (unsigned i = 0; i < node->ncores; i++) {
			unsigned c = node->cores[i], room = set_room(s, c, set);

			if (whole ? !core_whole(s, c) || room < s->core_usable[c] : room < group)
				continue;
			if (best < 0 || room < set_room(s, (unsigned)best, set))
				best = (int)c;
		}
		if (best < 0)
			return false;
		if (whole) {
			unsigned per = pg->thread_policy == TMAP_THREAD_ISOLATE ?
					       1 : s->core_usable[best];

			add_core(s, (unsigned)best, 0, true, set);
			more = more > per ? more - per : 0;
		} else {
			more -= add_core(s, (unsigned)best, group < more ? group : more, false, set);
		}
	}
	return true;
}

/* Hold back, or give back, every free PU of the host outside set. */
static void
hold_back(struct solver *s, hwloc_const_bitmap_t others, bool hold)
{
	unsigned pu;

	hwloc_bitmap_foreach_begin(pu, others)
	{
		if (hold)
			hwloc_bitmap_set(s->taken, pu);
		else
			hwloc_bitmap_clr(s->taken, pu);
		core_free_add(s, s->t->pu_core[pu], hold ? -1 : 1);
	}
	hwloc_bitmap_foreach_end();
}

/* The guest placed on its kept set, or -ENOSPC when the set does not answer it. */
static int
place_kept(struct tmap_host *h, const struct plan_guest *old, const struct tmap_guest *g,
	   struct tmap_plan **ret)
{
	struct solver *s = host_solver(h);
	const struct tmap_topology *t = s->t;
	_cleanup_bitmap_ hwloc_bitmap_t set = hwloc_bitmap_alloc(), others = hwloc_bitmap_alloc();
	int n = topo_node_index(t, old->cells[0].node), page = s->page, r;

	if (!set || !others)
		return -ENOMEM;
	page = old->page_kib ? topo_page_index(t, old->page_kib) : -1;
	if (n < 0 || !keep_set(s, old, (unsigned)n, g->vcpus, set) ||
	    node_free_mib(s, (unsigned)n, page) < (int64_t)tmap_guest_memory_mib(g))
		return -ENOSPC;
	hwloc_bitmap_andnot(others, s->usable, s->taken);
	hwloc_bitmap_andnot(others, others, set);
	hold_back(s, others, true);
	r = tmap_host_place(h, g, ret, NULL);
	hold_back(s, others, false);
	return r;
}

static void
swap_vcpus(struct plan_guest *pg, unsigned a, unsigned b)
{
	hwloc_bitmap_t set = pg->vcpu_pus[a];
	char *list = pg->vcpu_lists[a], *core = pg->vcpu_core_lists[a];

	pg->vcpu_pus[a] = pg->vcpu_pus[b];
	pg->vcpu_pus[b] = set;
	pg->vcpu_lists[a] = pg->vcpu_lists[b];
	pg->vcpu_lists[b] = list;
	pg->vcpu_core_lists[a] = pg->vcpu_core_lists[b];
	pg->vcpu_core_lists[b] = core;
}

/* Each vcpu that stays on the PU it had: the kept set, in the same order, so resizing
 * re-pins no vcpu that was running (the solver packs the set its own way). */
static void
keep_order(struct plan_guest *pg, const struct plan_guest *old)
{
	for (unsigned v = 0; v < pg->vcpus && v < old->vcpus; v++) {
		int want = hwloc_bitmap_first(old->vcpu_pus[v]);

		for (unsigned w = v; w < pg->vcpus; w++)
			if (hwloc_bitmap_first(pg->vcpu_pus[w]) == want) {
				swap_vcpus(pg, v, w);
				break;
			}
	}
}

/* keep_order() on the plan handed back and on the ledger's copy. */
static int
keep_order_both(struct tmap_host *h, struct plan_guest *pg, const struct plan_guest *old)
{
	struct plan_guest copy;

	/* a guest whose vcpus pair on host cores keeps the solver's pairs */
	if (pg->threads > 1 || pg->thread_policy != TMAP_THREAD_PREFER)
		return 0;
	keep_order(pg, old);
	for (size_t i = 0; i < host_guest_count(h); i++) {
		if (!streq(host_guest_plan_at(h, i)->name, pg->name))
			continue;
		if (plan_guest_copy(&copy, pg) < 0)
			return -ENOMEM;
		return host_guest_replace(h, i, &copy);
	}
	return 0;
}

int
tmap_host_resize(struct tmap_host *h, const char *name, unsigned vcpus, uint64_t memory_mib,
		 const struct tmap_room_options *options, struct tmap_plan **ret,
		 struct tmap_error *err)
{
	struct tmap_guest *g = NULL;
	struct plan_guest old = {0};
	const struct plan_guest *pg = NULL;
	struct tmap_plan *plan = NULL;
	bool kept;
	int r;

	if (!h || !name || !ret || !vcpus)
		return tmap_error_set(err, -EINVAL, "tmap_host_resize: missing argument");
	for (size_t i = 0; i < host_guest_count(h) && !pg; i++)
		if (streq(host_guest_plan_at(h, i)->name, name))
			pg = host_guest_plan_at(h, i);
	if (!pg)
		return tmap_error_set(err, -ENOENT, "resize: no guest '%s' is placed", name);
	if (pg->cpu_policy != TMAP_CPU_DEDICATED || pg->ncells != 1)
		return tmap_error_set(err, -EOPNOTSUPP,
				      "resize: '%s' is %s; resize takes a dedicated guest of one cell (apply the new spec of any other)",
				      name, pg->ncells != 1 ? "of several cells" : cpu_policy_name(pg->cpu_policy));
	r = resized_guest(pg, vcpus, memory_mib ? memory_mib : pg->memory_mib, &g, err);
	if (r < 0)
		return r;
	if (plan_guest_copy(&old, pg) < 0) {
		tmap_guest_free(g);
		return tmap_error_set(err, -ENOMEM, "out of memory");
	}
	/* name may be the host's own copy (tmap_host_guest_name()), which the release frees:
	 * from here on the guest is called by its copy's name. */
	name = old.name;
	tmap_host_release(h, name);
	r = place_kept(h, &old, g, &plan);
	kept = r == 0;
	if (kept)
		r = keep_order_both(h, &plan->guests[0], &old);
	else if (r == -ENOSPC)
		r = tmap_host_make_room(h, g, options, &plan, err);
	if (r == 0)
		r = plan_guest_explain(&plan->guests[0],
				       "resized from %u to %u vcpus and from %" PRIu64 " to %" PRIu64 " MiB: %s",
				       old.vcpus, vcpus, old.memory_mib, tmap_guest_memory_mib(g),
				       kept ? "every PU and the node it held kept" :
					      "its PUs could not all be kept, placed anew") < 0 ? -ENOMEM : 0;
	if (r == 0 && kept)
		plan->moves_searched = true;
	if (r < 0) {
		/* it keeps exactly what it had */
		plan = tmap_plan_free(plan);
		tmap_host_release(h, name);
		if (host_adopt(h, &old, NULL) < 0)
			r = tmap_error_set(err, -ENOMEM, "out of memory");
	}
	if (r == -ENOMEM)
		tmap_error_set(err, r, "out of memory");
	plan_guest_clear(&old);
	tmap_guest_free(g);
	if (r == 0)
		*ret = plan;
	return r;
}
