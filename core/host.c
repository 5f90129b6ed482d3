/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The host: the ledger of placed guests around a solver (solver.c decides for one guest).
 * Each placed guest is kept as a struct: a copy of its plan, and what it holds, so that it
 * can be released. The state file's format is spoken by state.c alone.
 */
#include "solver-room.h"

/* One placed guest. */
struct host_guest {
	uint64_t name_hash;	/* name_hash(plan.name): a guest's name is looked up on every call */
	struct plan_guest plan;	/* its plan, as placed (or read from the state file) */
	uint64_t *mem;		/* per node index: MiB */
	int page;		/* the pool mem came from: index into t->page_kib, or -1 */
	unsigned *shared;	/* per node index: shared vcpus */
};

struct tmap_host {
	struct solver s;
	bool follow_pool;		/* host_follow_pool(): shared guests take the new pool */
	size_t nguests, guests_size;	/* guests_size: room in guests */
	struct host_guest *guests;
};

/* FNV-1a */
static uint64_t
name_hash(const char *name)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * UINT64_C(0x100000001b3);
	return h;
}

static void
host_guest_clear(struct host_guest *hg)
{
	plan_guest_clear(&hg->plan);
	free(hg->mem);
	free(hg->shared);
}

static int
explain_memory(struct plan_guest *pg)
{
	const char *mode = memory_mode_name(pg->memory_mode);

	return plan_guest_explain(pg, "memory: %s on node%s %s", mode,
				  hwloc_bitmap_weight(pg->memory_nodes) > 1 ? "s" : "",
				  pg->memory_list);
}

/* Remember a placed guest: a copy of its plan, and what it holds. */
static int
record(struct tmap_host *h, const struct plan_guest *pg)
{
	const struct tmap_topology *t = h->s.t;
	struct host_guest hg = {0}, *v = h->guests;

	hg.name_hash = name_hash(pg->name);
	hg.mem = calloc(t->nnodes, sizeof(*hg.mem));
	hg.shared = calloc(t->nnodes, sizeof(*hg.shared));
	hg.page = pg->page_kib ? topo_page_index(t, pg->page_kib) : -1;
	/* Room grows by half: a host where guests come and go keeps one array, instead of
	 * moving it, a guest longer, through the heap it fragments. */
	if (h->nguests == h->guests_size) {
		size_t size = h->guests_size + h->guests_size / 2 + 8;

		v = realloc(h->guests, size * sizeof(*v));
		if (v) {
			h->guests = v;
			h->guests_size = size;
		}
	}
	if (!hg.mem || !hg.shared || !v || plan_guest_copy(&hg.plan, pg) < 0) {
		host_guest_clear(&hg);
		return -ENOMEM;
	}
	for (unsigned c = 0; c < pg->ncells; c++) {
		int n = topo_node_index(t, pg->cells[c].node);

		hg.mem[n] += pg->cells[c].memory_mib;
		hg.shared[n] += plan_cell_shared(pg, c);
	}
	h->guests[h->nguests++] = hg;
	return 0;
}

/* The placed guest holding a PU, for the solver's messages (solver.holder). */
static const char *
holder_of(const void *ctx, unsigned pu)
{
	const struct tmap_host *h = ctx;

	for (size_t i = 0; i < h->nguests; i++)
		if (hwloc_bitmap_isset(h->guests[i].plan.held, pu) ||
		    hwloc_bitmap_isset(h->guests[i].plan.emulator, pu))
			return h->guests[i].plan.name;
	return NULL;
}

static int
host_init_options(const struct tmap_solve_options *o, struct tmap_solve_options *opts,
		  struct tmap_error *err)
{
	const uint32_t known = TMAP_SOLVE_DISTINCT_CELLS | TMAP_SOLVE_NO_SPREAD;

	*opts = (struct tmap_solve_options)TMAP_SOLVE_OPTIONS_INIT;
	if (o) {
		/* Fields past the caller's size were not there when it was built: defaults. */
		if (o->size < offsetof(struct tmap_solve_options, reserve) + sizeof(o->reserve))
			return tmap_error_set(err, -EINVAL, "solve options: size %u is too small",
					      o->size);
		memcpy(opts, o, o->size < sizeof(*opts) ? o->size : sizeof(*opts));
		opts->size = sizeof(*opts);
	}
	if (opts->flags & ~known)
		return tmap_error_set(err, -EINVAL, "solve options: unknown flags 0x%x",
				      opts->flags & ~known);
	return 0;
}

int
host_set_housekeeping(struct tmap_host *h, const char *list, struct tmap_error *err)
{
	return solver_set_housekeeping(&h->s, list, err);
}

int
tmap_host_new(const struct tmap_topology *t, const struct tmap_solve_options *o,
	      struct tmap_host **ret, struct tmap_error *err)
{
	struct tmap_solve_options opts;
	struct tmap_host *h;
	int r;

	if (!t || !ret)
		return tmap_error_set(err, -EINVAL, "tmap_host_new: missing argument");
	r = host_init_options(o, &opts, err);
	if (r < 0)
		return r;
	h = calloc(1, sizeof(*h));
	if (!h)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	r = solver_init(&h->s, t, &opts, err);
	if (r < 0) {
		solver_clear(&h->s);
		free(h);
		return r;
	}
	h->s.err = NULL;
	h->s.holder = holder_of;
	h->s.holder_ctx = h;
	*ret = h;
	return 0;
}

struct tmap_host *
tmap_host_free(struct tmap_host *h)
{
	if (!h)
		return NULL;
	for (size_t i = 0; i < h->nguests; i++)
		host_guest_clear(&h->guests[i]);
	free(h->guests);
	solver_clear(&h->s);
	free(h);
	return NULL;
}

size_t
tmap_host_guest_count(const struct tmap_host *h)
{
	return h ? h->nguests : 0;
}

const char *
tmap_host_guest_name(const struct tmap_host *h, size_t i)
{
	return h && i < h->nguests ? h->guests[i].plan.name : NULL;
}

static struct host_guest *
host_find(const struct tmap_host *h, const char *name)
{
	uint64_t hash = name_hash(name);

	for (size_t i = 0; i < h->nguests; i++)
		if (h->guests[i].name_hash == hash && streq(h->guests[i].plan.name, name))
			return &h->guests[i];
	return NULL;
}

int
plan_new(const struct tmap_topology *t, size_t nguests, struct tmap_plan **ret)
{
	struct tmap_plan *plan = calloc(1, sizeof(*plan));

	if (!plan || plan_set_host(plan, t) < 0 ||
	    !(plan->guests = calloc(nguests ? nguests : 1, sizeof(*plan->guests)))) {
		tmap_plan_free(plan);
		return -ENOMEM;
	}
	plan->nguests = nguests;
	*ret = plan;
	return 0;
}

/* Place, finish and record one guest into pg; the host is unchanged on failure. */
static int
host_place(struct tmap_host *h, const struct tmap_guest *g, struct plan_guest *pg,
	   struct tmap_error *err)
{
	int r;

	h->s.err = err;
	r = tmap_guest_validate(g, err);
	if (r < 0)
		goto out;
	if (host_find(h, g->name)) {
		r = tmap_error_set(err, -EEXIST, "%s: a guest of that name is already placed",
				   g->name);
		goto out;
	}
	r = solver_place(&h->s, g, pg, false);
	if (r == 0) {
		r = plan_guest_finish(pg);
		if (r == 0)
			r = explain_memory(pg);
		if (r == 0)
			r = record(h, pg);
		/* solver_place() saved the host before it took anything */
		if (r < 0)
			solver_undo(&h->s);
	}
	if (r == -ENOMEM)
		tmap_error_set(err, r, "out of memory");
out:
	h->s.err = NULL;
	return r;
}

int
tmap_host_place(struct tmap_host *h, const struct tmap_guest *g, struct tmap_plan **ret,
		struct tmap_error *err)
{
	struct tmap_plan *plan = NULL;
	int r;

	if (!h || !g)
		return tmap_error_set(err, -EINVAL, "tmap_host_place: missing argument");
	if (plan_new(h->s.t, 1, &plan) < 0)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	r = host_place(h, g, &plan->guests[0], err);
	if (r < 0 || !ret)
		tmap_plan_free(plan);
	else
		*ret = plan;
	return r;
}

/*
 * Does the recorded plan pg give exactly what g asks for: the same vcpus and topology, cells
 * (their vcpus, memory and any node asked), PUs asked, policies, page size and devices? Then its PUs and nodes still answer g.
 * Cells the solver proposed for a guest without any stand for the whole guest.
 */
static bool
plan_answers(const struct tmap_topology *t, const struct plan_guest *pg,
	     const struct tmap_guest *g, const struct guest_cells *cells)
{
	if (!devices_plan_answers(t, g, pg) || !plan_realtime_answers(pg, g))
		return false;
	if (pg->vcpus != g->vcpus || pg->sockets != g->sockets || pg->cores != g->cores ||
	    pg->threads != g->threads || pg->cpu_policy != g->cpu_policy ||
	    pg->thread_policy != g->thread_policy || pg->emulator_policy != g->emulator_policy ||
	    !page_answers(pg->page_kib, g->page_kib) || pg->memory_mib != tmap_guest_memory_mib(g))
		return false;
	if (g->cpu_policy == TMAP_CPU_MIXED && !hwloc_bitmap_isequal(pg->dedicated, g->dedicated))
		return false;
	if (pg->cells_proposed && cells->implied)
		return true;
	if (pg->cells_proposed || pg->ncells != cells->n)
		return false;
	for (unsigned c = 0; c < cells->n; c++)
		if (!hwloc_bitmap_isequal(pg->cells[c].vcpus, cells->vcpus[c]) ||
		    pg->cells[c].memory_mib != cells->memory_mib[c] ||
		    (c < g->ncells && g->cells[c].node >= 0 &&
		     pg->cells[c].node != (unsigned)g->cells[c].node))
			return false;
	/* PUs asked (issue 21): each vcpu where it is asked to be. */
	for (unsigned v = 0; g->pus && v < g->vcpus; v++)
		if (!hwloc_bitmap_isset(pg->vcpu_pus[v], g->pu_order[v]) ||
		    hwloc_bitmap_weight(pg->vcpu_pus[v]) != 1)
			return false;
	return true;
}

#define KEPT "kept where it is: it asks for what its recorded plan gives (vcpus, cells, memory, policies, page size, realtime vcpus); memory mode, iothreads, cputune and realtime priority as now given"

/* g no longer answers its recorded plan pg: placed anew around the others; on failure it keeps
 * what it had, exactly. */
static int
place_anew(struct tmap_host *h, const struct tmap_guest *g, const struct plan_guest *pg,
	   struct tmap_plan **ret, struct tmap_error *err)
{
	struct snapshot snap = {0};
	int r;

	r = snapshot_take(&h->s, &snap);
	if (r < 0)
		return tmap_error_set(err, r, "out of memory");
	tmap_host_release(h, g->name);
	r = tmap_host_place(h, g, ret, err);
	if (r < 0) {
		snapshot_restore(&h->s, &snap);
		if (record(h, pg) < 0)
			r = tmap_error_set(err, -ENOMEM, "out of memory");
	}
	snapshot_clear(&snap);
	return r;
}

/* The same answer: the same PUs and nodes, with what may change around them. Takes old. */
static int
keep_placed(struct host_guest *found, const struct tmap_guest *g,
	    struct tmap_plan *old, struct tmap_plan **ret, struct tmap_error *err)
{
	struct plan_guest *pg = &old->guests[0], copy;
	int r = 0;

	pg->memory_mode = g->memory_mode;
	pg->iothreads = g->iothreads;
	pg->shares = g->shares;
	pg->period = g->period;
	pg->quota = g->quota;
	plan_realtime_priority(pg, g);
	if (pg->nexplain == 0 || !streq(pg->explain[pg->nexplain - 1], KEPT))
		r = plan_guest_explain(pg, "%s", KEPT);
	if (r < 0 || plan_guest_copy(&copy, pg) < 0) {
		tmap_plan_free(old);
		return tmap_error_set(err, -ENOMEM, "out of memory");
	}
	plan_guest_clear(&found->plan);
	found->plan = copy;
	if (ret)
		*ret = old;
	else
		tmap_plan_free(old);
	return 0;
}

int
tmap_host_place_again(struct tmap_host *h, const struct tmap_guest *g, struct tmap_plan **ret,
		      struct tmap_error *err)
{
	struct guest_cells cells = {0};
	struct tmap_plan *old = NULL;
	struct host_guest *found;
	int r;

	if (!h || !g)
		return tmap_error_set(err, -EINVAL, "tmap_host_place_again: missing argument");
	r = tmap_guest_validate(g, err);
	if (r < 0)
		return r;
	found = host_find(h, g->name);
	if (!found)
		return tmap_host_place(h, g, ret, err);
	if (plan_new(h->s.t, 1, &old) < 0 ||
	    plan_guest_copy(&old->guests[0], &found->plan) < 0) {
		if (old)
			old->nguests = 0;
		tmap_plan_free(old);
		return tmap_error_set(err, -ENOMEM, "out of memory");
	}
	if (guest_resolve_cells(g, &cells) < 0) {
		r = tmap_error_set(err, -ENOMEM, "out of memory");
	} else if (!plan_answers(h->s.t, &old->guests[0], g, &cells)) {
		r = place_anew(h, g, &old->guests[0], ret, err);
	} else {
		r = keep_placed(found, g, old, ret, err);
		old = NULL;
	}
	guest_cells_clear(&cells);
	tmap_plan_free(old);
	return r;
}

int
tmap_host_fit(struct tmap_host *h, const struct tmap_guest *g, struct tmap_error *err)
{
	int r;

	if (!h || !g)
		return tmap_error_set(err, -EINVAL, "tmap_host_fit: missing argument");
	h->s.err = err;
	r = tmap_guest_validate(g, err);
	if (r == 0 && host_find(h, g->name))
		r = tmap_error_set(err, -EEXIST, "%s: a guest of that name is already placed",
				   g->name);
	if (r == 0)
		r = solver_decide(&h->s, g);
	if (r == -ENOMEM)
		tmap_error_set(err, r, "out of memory");
	h->s.err = NULL;
	return r;
}

/* Each node's widest shared cell, from the guests left (the solver cannot tell). */
static void
shared_widest_recount(struct tmap_host *h)
{
	const struct tmap_topology *t = h->s.t;

	memset(h->s.shared_widest, 0, t->nnodes * sizeof(unsigned));
	for (size_t i = 0; i < h->nguests; i++) {
		const struct plan_guest *pg = &h->guests[i].plan;

		for (unsigned c = 0; c < pg->ncells; c++) {
			int n = topo_node_index(t, pg->cells[c].node);
			unsigned w = plan_cell_shared(pg, c);

			if (w > h->s.shared_widest[n])
				h->s.shared_widest[n] = w;
		}
	}
}

int
tmap_host_release(struct tmap_host *h, const char *name)
{
	struct host_guest *a = NULL;
	size_t i;

	if (!h || !name)
		return -EINVAL;
	for (i = 0; i < h->nguests && !a; i++)
		if (streq(h->guests[i].plan.name, name))
			a = &h->guests[i];
	if (!a)
		return -ENOENT;
	solver_release(&h->s, a->plan.held, a->page, a->mem, a->shared);
	devices_hold(&h->s, &a->plan, false);
	host_guest_clear(a);
	i = (size_t)(a - h->guests);
	memmove(a, a + 1, (h->nguests - i - 1) * sizeof(*a));
	h->nguests--;
	shared_widest_recount(h);
	return 0;
}

/* ------------------------------------------------------------------------------------- */
/* What the state file needs of a host */

const struct plan_guest *
host_guest_plan_at(const struct tmap_host *h, size_t i)
{
	return i < h->nguests ? &h->guests[i].plan : NULL;
}

struct solver *
host_solver(struct tmap_host *h)
{
	return &h->s;
}

const struct solver *
host_solver_const(const struct tmap_host *h)
{
	return &h->s;
}

size_t
host_guest_count(const struct tmap_host *h)
{
	return h->nguests;
}

struct plan_guest *
host_guest_plan_edit(struct tmap_host *h, size_t i)
{
	return i < h->nguests ? &h->guests[i].plan : NULL;
}

/* The i-th guest's plan replaced by pg (taken), its memory and shared vcpus per node
 * recounted; the solver is the caller's to keep in step (solver-room.c). */
int
host_guest_replace(struct tmap_host *h, size_t i, struct plan_guest *pg)
{
	struct host_guest *hg = &h->guests[i];
	const struct tmap_topology *t = h->s.t;

	if (i >= h->nguests)
		return -EINVAL;
	plan_guest_clear(&hg->plan);
	hg->plan = *pg;
	memset(pg, 0, sizeof(*pg));
	hg->name_hash = name_hash(hg->plan.name);
	memset(hg->mem, 0, t->nnodes * sizeof(*hg->mem));
	memset(hg->shared, 0, t->nnodes * sizeof(*hg->shared));
	for (unsigned c = 0; c < hg->plan.ncells; c++) {
		int n = topo_node_index(t, hg->plan.cells[c].node);

		hg->mem[n] += hg->plan.cells[c].memory_mib;
		hg->shared[n] += plan_cell_shared(&hg->plan, c);
	}
	return 0;
}

const struct tmap_topology *
host_topology(const struct tmap_host *h)
{
	return h->s.t;
}

const struct solver *
host_solver_view(const struct tmap_host *h)
{
	return &h->s;
}

const uint64_t *
host_guest_memory(const struct tmap_host *h, size_t i, int *ret_page)
{
	if (i >= h->nguests)
		return NULL;
	*ret_page = h->guests[i].page;
	return h->guests[i].mem;
}

char *
host_pool_list(const struct tmap_host *h)
{
	return bitmap_list(h->s.pool);
}

/* The pool a state file recorded: free usable PUs that go back into it. */
int
host_restore_pool(struct tmap_host *h, const char *list, struct tmap_error *err)
{
	return solver_restore_pool(&h->s, list, err);
}

static int
reserve_busy(const char *name, char *holder, size_t size)
{
	return holder && size ? (snprintf(holder, size, "%s", name), -EBUSY) : -EBUSY;
}

/* The first shared guest with a cell on node index n. */
static const char *
shared_guest_on(const struct tmap_host *h, unsigned n)
{
	for (size_t i = 0; i < h->nguests; i++) {
		const struct plan_guest *pg = &h->guests[i].plan;

		for (unsigned c = 0; c < pg->ncells; c++)
			if (plan_cell_shared(pg, c) &&
			    topo_node_index(h->s.t, pg->cells[c].node) == (int)n)
				return pg->name;
	}
	return "?";
}

/*
 * May these PUs (list syntax) be reserved for the host, around the guests placed? 0 when none
 * of them is held by a guest or floated over by a shared one (without a given pool: when each
 * node keeps the PUs its shared guests need, pool_need()); -EBUSY with the first such
 * guest's name in holder (cut to size); -EINVAL when list is not a list of PUs.
 */
int
host_reserve_check(const struct tmap_host *h, const char *list, char *holder, size_t size)
{
	_cleanup_bitmap_ hwloc_bitmap_t set = NULL;

	if (!list || !*list)
		return 0;
	if (bitmap_parse_list(list, &set) < 0)
		return -EINVAL;
	for (size_t i = 0; i < h->nguests; i++) {
		const struct plan_guest *pg = &h->guests[i].plan;
		bool busy = hwloc_bitmap_intersects(set, pg->held);

		/* Without a given pool, a shared guest floats over its node's free PUs: the
		 * reserve shrinks that pool as a dedicated guest does, within the need below. */
		for (unsigned c = 0; !busy && h->s.fixed_pool && c < pg->ncells; c++)
			busy = hwloc_bitmap_intersects(set, pg->cells[c].pus);
		if (h->s.fixed_pool || pg->cpu_policy == TMAP_CPU_DEDICATED)
			busy |= hwloc_bitmap_intersects(set, pg->emulator);
		if (busy)
			return reserve_busy(pg->name, holder, size);
	}
	for (unsigned n = 0; !h->s.fixed_pool && n < h->s.t->nnodes; n++) {
		unsigned need = pool_need(&h->s, n);
		int pus;

		if (need == 0)
			continue;
		hwloc_bitmap_and(h->s.pool_part, h->s.t->nodes[n].cpuset, h->s.usable);
		hwloc_bitmap_andnot(h->s.pool_part, h->s.pool_part, h->s.taken);
		pus = hwloc_bitmap_weight(h->s.pool_part);
		hwloc_bitmap_and(h->s.pool_part, h->s.pool_part, set);
		if (pus - hwloc_bitmap_weight(h->s.pool_part) < (int)need)
			return reserve_busy(shared_guest_on(h, n), holder, size);
	}
	return 0;
}

/*
 * A guest the state file says is placed: take what it holds, after checking that this host
 * can hold it (its PUs exist, are usable and free; its nodes have the memory). A state file
 * written for another host, or by hand, fails here instead of double-booking a PU.
 */
int
host_adopt(struct tmap_host *h, struct plan_guest *pg, struct tmap_error *err)
{
	const struct solver *s = &h->s;
	const struct tmap_topology *t = s->t;
	unsigned pu;
	int r;

	if (host_find(h, pg->name))
		return tmap_error_set(err, -EBADMSG, "guest '%s' appears twice", pg->name);
	if (pg->page_kib && topo_page_index(t, pg->page_kib) < 0) {
		char size[32];

		return tmap_error_set(err, -EBADMSG,
				      "guest '%s' has its memory in %s pages, which no node of this host has a pool of",
				      pg->name, page_size_text(pg->page_kib, size, sizeof(size)));
	}
	hwloc_bitmap_foreach_begin(pu, pg->held)
	{
		if (!hwloc_bitmap_isset(s->usable, pu))
			return tmap_error_set(err, -EBADMSG,
					      "guest '%s' holds PU %u, which is not a usable PU of this host (reserved, shared or absent: a state file of another host?)",
					      pg->name, pu);
		if (hwloc_bitmap_isset(s->taken, pu))
			return tmap_error_set(err, -EBADMSG,
					      "guest '%s' holds PU %u, which another guest holds too",
					      pg->name, pu);
	}
	hwloc_bitmap_foreach_end();
	for (unsigned c = 0; c < pg->ncells; c++) {
		int n = topo_node_index(t, pg->cells[c].node);

		if (n < 0 || t->nodes[n].cpuless)
			return tmap_error_set(err, -EBADMSG,
					      "guest '%s' cell %u is on node %u, which this host does not have with CPUs",
					      pg->name, c, pg->cells[c].node);
	}
	/* Without a given pool: the PUs free when it came (some held or reserved now). */
	for (unsigned v = 0; v < pg->vcpus; v++)
		if (!plan_vcpu_dedicated(pg, v) && !h->follow_pool &&
		    !hwloc_bitmap_isincluded(pg->vcpu_pus[v], s->fixed_pool ? s->pool : t->cpuset))
			return tmap_error_set(err, -EBADMSG,
					      "%s guest '%s' floats outside the recorded shared pool (vcpu %u)",
					      cpu_policy_name(pg->cpu_policy), pg->name, v);
	for (unsigned i = 0; i < pg->ndevices; i++) {
		int k = devices_find_pci(t, pg->devices[i].pci);

		if (k >= 0 && s->dev_taken[k])
			return tmap_error_set(err, -EBADMSG,
					      "guest '%s' holds device %s, which another guest holds too",
					      pg->name, pg->devices[i].pci);
	}
	solver_take(&h->s, pg);
	r = record(h, pg);
	if (r < 0)
		return tmap_error_set(err, r, "out of memory");
	return 0;
}

int
tmap_host_solve(struct tmap_host *h, const struct tmap_guests *guests, struct tmap_plan **ret,
		struct tmap_error *err)
{
	struct tmap_plan *plan = NULL;
	size_t placed = 0;
	int r = 0;

	if (!h || !guests || !ret)
		return tmap_error_set(err, -EINVAL, "tmap_host_solve: missing argument");
	if (guests->n == 0)
		return tmap_error_set(err, -EINVAL, "no guest to place");
	if (plan_new(h->s.t, guests->n, &plan) < 0)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	for (; placed < guests->n; placed++) {
		r = host_place(h, guests->guest[placed], &plan->guests[placed], err);
		if (r < 0)
			break;
	}
	if (r < 0) {
		/* All or nothing: the guests placed before the one that failed leave again. */
		while (placed-- > 0)
			tmap_host_release(h, guests->guest[placed]->name);
		tmap_plan_free(plan);
		return r;
	}
	*ret = plan;
	return 0;
}

/* The host as it is, to try placements and put it back exactly. */
struct trial_mark {
	struct solver_mark solver;
	size_t nguests;
};

static int
trial_begin(struct tmap_host *h, struct trial_mark *m)
{
	m->nguests = h->nguests;
	return solver_mark(&h->s, &m->solver);
}

static void
trial_end(struct tmap_host *h, struct trial_mark *m)
{
	solver_mark_restore(&h->s, &m->solver);
	while (h->nguests > m->nguests)
		host_guest_clear(&h->guests[--h->nguests]);
}

/* Place guests in this order, skipping the ones that do not fit; how many were placed. With
 * plan: keep the placements, and the reasons of the rejected. */
static int
place_in_order(struct tmap_host *h, struct tmap_guest *const *order, size_t n,
	       struct tmap_plan *plan, size_t *ret_placed)
{
	size_t placed = 0;

	for (size_t i = 0; i < n; i++) {
		struct plan_guest pg = {0};
		struct tmap_error err = {0};
		int r = host_place(h, order[i], &pg, &err);

		if (r == -ENOMEM) {
			plan_guest_clear(&pg);
			return r;
		}
		if (r < 0) {
			plan_guest_clear(&pg);
			if (plan) {
				plan->rejected_names[plan->nrejected] = strdup(order[i]->name);
				plan->rejected_reasons[plan->nrejected] = strdup(err.message);
				if (!plan->rejected_names[plan->nrejected] ||
				    !plan->rejected_reasons[plan->nrejected])
					return -ENOMEM;
				plan->nrejected++;
			}
			continue;
		}
		if (plan)
			plan->guests[plan->nguests++] = pg;
		else
			plan_guest_clear(&pg);
		placed++;
	}
	*ret_placed = placed;
	return 0;
}

static uint64_t
guest_weight(const struct tmap_guest *g)
{
	return (uint64_t)g->vcpus << 32 | (g->memory_mib >> 10);
}

int
tmap_host_solve_batch(struct tmap_host *h, const struct tmap_guests *guests, struct tmap_plan **ret,
		      struct tmap_error *err)
{
	_cleanup_free_ struct tmap_guest **given = NULL, **largest = NULL;
	struct tmap_guest **order;
	struct tmap_plan *plan = NULL;
	size_t n, placed_given = 0, placed_largest = 0, placed;
	int r;

	if (!h || !guests || !ret)
		return tmap_error_set(err, -EINVAL, "tmap_host_solve_batch: missing argument");
	n = guests->n;
	if (n == 0)
		return tmap_error_set(err, -EINVAL, "no guest to place");
	given = malloc(n * sizeof(*given));
	largest = malloc(n * sizeof(*largest));
	if (!given || !largest)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	memcpy(given, guests->guest, n * sizeof(*given));
	memcpy(largest, guests->guest, n * sizeof(*largest));
	/* Largest first (vcpus, then memory), stable so equal guests keep their order. */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && guest_weight(largest[j]) > guest_weight(largest[j - 1]); j--) {
			struct tmap_guest *tmp = largest[j];

			largest[j] = largest[j - 1];
			largest[j - 1] = tmp;
		}
	/* Try both orders on the host as it is, then place the better one for real. */
	for (int k = 0; k < 2; k++) {
		struct trial_mark mark;

		r = trial_begin(h, &mark);
		if (r == 0)
			r = place_in_order(h, k ? largest : given, n, NULL,
					   k ? &placed_largest : &placed_given);
		trial_end(h, &mark);
		if (r < 0)
			return tmap_error_set(err, r, "out of memory");
	}
	order = placed_largest > placed_given ? largest : given;
	if (plan_new(h->s.t, n, &plan) < 0 ||
	    !(plan->rejected_names = calloc(n, sizeof(char *))) ||
	    !(plan->rejected_reasons = calloc(n, sizeof(char *)))) {
		tmap_plan_free(plan);
		return tmap_error_set(err, -ENOMEM, "out of memory");
	}
	plan->nguests = 0;
	r = place_in_order(h, order, n, plan, &placed);
	if (r < 0) {
		tmap_plan_free(plan);
		return tmap_error_set(err, r, "out of memory");
	}
	if (placed == 0) {
		r = tmap_error_set(err, -ENOSPC, "none of the %zu guests fits (%s)", n,
				   plan->rejected_reasons[0]);
		tmap_plan_free(plan);
		return r;
	}
	*ret = plan;
	return 0;
}

int
tmap_solve(const struct tmap_topology *t, const struct tmap_guests *guests,
	   const struct tmap_solve_options *o, struct tmap_plan **ret, struct tmap_error *err)
{
	struct tmap_host *h = NULL;
	int r;

	if (!t || !guests || !ret)
		return tmap_error_set(err, -EINVAL, "tmap_solve: missing argument");
	if (guests->n == 0)
		return tmap_error_set(err, -EINVAL, "no guest to place");
	r = tmap_host_new(t, o, &h, err);
	if (r < 0)
		return r;
	r = tmap_host_solve(h, guests, ret, err);
	tmap_host_free(h);
	return r;
}

void
host_follow_pool_begin(struct tmap_host *h)
{
	h->follow_pool = true;
}
