/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The solver: one guest's decision. Free capacity (struct solver) and a guest in, a
 * placement out. Pure and deterministic: no system call, no global, every tie broken by index.
 * It keeps no guest: core/host.c is the ledger of placed guests around it.
 *
 * For each guest, in order:
 *  1. How much each host node can give this guest ("capacity", in vcpus), which depends on
 *     the thread policy: free PUs (prefer), whole free cores (isolate), PUs of whole free
 *     SMT cores (require).
 *  2. Which node takes each guest cell, judged by what the host keeps useful afterwards:
 *     first, how many of the latest requests it could still take (so a multi-cell stream
 *     keeps room on several nodes, a stream of big cells keeps whole nodes); then the size
 *     class of its largest free node (a small guest does not break the one big hole); then
 *     the most room, spreading load as Nova does. Several cells: distinct nodes, closest
 *     first: for every anchor node, the nodes ordered by distance from it are taken until a
 *     bipartite matching puts every cell on its own node; the closest set wins, then by the
 *     same judgement. No permutation of nodes is ever enumerated.
 *     A guest without cells that fits no single node is spread over the fewest closest nodes,
 *     and the plan proposes cells that mirror them (a hugepage guest's cells in whole pages
 *     of each node's pool).
 *  3. Which cores and PUs of that node: best fit by core (an exact fit first, then the
 *     smallest core that holds the rest, then the largest), so that guest SMT threads sit on
 *     host siblings and whole cores stay whole; ties prefer the L3 group already used.
 * Shared guests float over the whole pool of their node: the PUs given as `shared`, which
 * dedicated guests never get, or else every usable PU of the node no dedicated guest holds.
 * A shared cell is no wider than that pool, and a node's shared vcpus stay within pool PUs x
 * cpu_overcommit; without a given pool, dedicated guests leave each node that many PUs.
 *
 * Step 2 lives in solver-nodes.c (spreading in solver-spread.c), step 3 and the shared pool
 * in solver-pus.c, the words in solver-explain.c. A struct tmap_host (host.c) keeps a solver between guests, so a host that
 * runs for months places each new guest around what it holds.
 */
#include <stdarg.h>

#include "solver.h"

void *
scratch_get(struct scratch *sc, size_t count, size_t size)
{
	size_t align = _Alignof(max_align_t), bytes;
	struct scratch_chunk *chunk;
	void *p;

	if (__builtin_mul_overflow(count, size, &bytes) || bytes > SIZE_MAX / 2)
		return NULL;
	bytes = (bytes + align - 1) / align * align;
	if (bytes == 0)
		bytes = align;
	sc->need += bytes;
	if (bytes <= sc->size - sc->used) {
		p = sc->block + sc->used;
		sc->used += bytes;
	} else {
		chunk = malloc(sizeof(*chunk) + bytes);
		if (!chunk)
			return NULL;
		chunk->next = sc->chunks;
		sc->chunks = chunk;
		p = chunk->data;
	}
	return memset(p, 0, bytes);
}


static void
scratch_reset(struct scratch *sc)
{
	while (sc->chunks) {
		struct scratch_chunk *next = sc->chunks->next;

		free(sc->chunks);
		sc->chunks = next;
	}
	if (sc->need > sc->size) {
		free(sc->block);
		sc->block = malloc(sc->need);
		sc->size = sc->block ? sc->need : 0;
	}
	sc->used = 0;
	sc->need = 0;
}

static void
scratch_free(struct scratch *sc)
{
	if (!sc)
		return;
	sc->need = 0;
	scratch_reset(sc);
	free(sc->block);
	free(sc);
}

/* FNV-1a */



void
solver_clear(struct solver *s)
{
	if (s->usable)
		hwloc_bitmap_free(s->usable);
	if (s->taken)
		hwloc_bitmap_free(s->taken);
	if (s->pool)
		hwloc_bitmap_free(s->pool);
	if (s->housekeeping)
		hwloc_bitmap_free(s->housekeeping);
	free(s->core_usable);
	free(s->core_free);
	free(s->node_sums);
	free(s->mem_free);
	free(s->pool_free);
	free(s->shared_vcpus);
	free(s->shared_widest);
	free(s->dev_taken);
	snapshot_free(s->before);
	if (s->held)
		hwloc_bitmap_free(s->held);
	if (s->pool_part)
		hwloc_bitmap_free(s->pool_part);
	guest_cells_clear(&s->cells);
	scratch_free(s->scratch);
	free(s->dist_class);
}

static int
cmp_unsigned(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return (x > y) - (x < y);
}

/* The host's distance classes (struct solver.dist_class), once for all decisions. */
static int
distance_classes(struct solver *s)
{
	const struct tmap_topology *t = s->t;
	unsigned N = t->nnodes;
	_cleanup_free_ unsigned *dist = malloc((N ? N : 1) * sizeof(unsigned));

	s->dist_class = calloc(N ? (size_t)N * N : 1, sizeof(unsigned));
	if (!dist || !s->dist_class)
		return -ENOMEM;
	for (unsigned a = 0; a < N; a++) {
		unsigned ndist = 0;

		/* The distinct distances from a to the other nodes, ascending. */
		for (unsigned n = 0; n < N; n++)
			if (n != a)
				dist[ndist++] = topo_distance(t, a, n);
		qsort(dist, ndist, sizeof(*dist), cmp_unsigned);
		for (unsigned i = 1, k = 1; i < ndist; i++)
			if (dist[i] != dist[k - 1])
				dist[k++] = dist[i];
		for (unsigned n = 0; n < N; n++) {
			unsigned d = topo_distance(t, a, n), k = 0;

			if (n == a)
				continue;
			while (dist[k] != d)
				k++;
			s->dist_class[(size_t)a * N + n] = k + 1;
		}
	}
	return 0;
}

/* A set of host PUs from the options: list syntax, every PU usable on this host. */
static int
parse_host_set(const struct tmap_topology *t, const char *what, const char *list,
	       hwloc_bitmap_t *ret, struct tmap_error *err)
{
	_cleanup_bitmap_ hwloc_bitmap_t set = NULL;

	if (bitmap_parse_list(list, &set) < 0)
		return tmap_error_set(err, -EINVAL, "%s: '%.80s' is not a list of PUs such as '0-3,8'",
				      what, list);
	if (!hwloc_bitmap_isincluded(set, t->cpuset)) {
		_cleanup_free_ char *host = bitmap_list(t->cpuset);
		int bad;

		hwloc_bitmap_andnot(set, set, t->cpuset);
		bad = hwloc_bitmap_first(set);
		return tmap_error_set(err, -EINVAL,
				      "%s: '%.80s' names PU %d, which is not a usable PU of this host (%s)",
				      what, list, bad, host ? host : "?");
	}
	*ret = TAKE_PTR(set);
	return 0;
}

int
solver_set_housekeeping(struct solver *s, const char *list, struct tmap_error *err)
{
	hwloc_bitmap_t set = NULL;
	int r;

	if (!list || !*list)
		return 0;
	r = parse_host_set(s->t, "housekeeping", list, &set, err);
	if (r < 0)
		return r;
	if (s->housekeeping)
		hwloc_bitmap_free(s->housekeeping);
	s->housekeeping = set;
	return 0;
}

int
solver_init(struct solver *s, const struct tmap_topology *t, const struct tmap_solve_options *o,
	    struct tmap_error *err)
{
	_cleanup_bitmap_ hwloc_bitmap_t reserved = NULL;
	int r;

	memset(s, 0, sizeof(*s));
	s->t = t;
	s->flags = o->flags;
	s->err = err;
	s->cpu_ratio = o->cpu_overcommit > 0 ? o->cpu_overcommit : TMAP_DEFAULT_CPU_OVERCOMMIT;
	s->mem_ratio = o->memory_overcommit > 0 ? o->memory_overcommit : 1.0;
	if (o->cpu_overcommit < 0 || o->memory_overcommit < 0 || s->cpu_ratio > 1024 ||
	    s->mem_ratio > 1024)
		return tmap_error_set(err, -EINVAL,
				      "overcommit: cpu %g and memory %g must be between 0 and 1024",
				      o->cpu_overcommit, o->memory_overcommit);
	if (o->reserve && *o->reserve) {
		r = parse_host_set(t, "reserve", o->reserve, &reserved, err);
		if (r < 0)
			return r;
	}
	if (o->shared && *o->shared) {
		r = parse_host_set(t, "shared", o->shared, &s->pool, err);
		if (r < 0)
			return r;
		s->fixed_pool = true;
	} else {
		s->pool = hwloc_bitmap_alloc();
	}
	s->usable = hwloc_bitmap_dup(t->cpuset);
	s->taken = hwloc_bitmap_alloc();
	s->core_usable = calloc(t->ncores ? t->ncores : 1, sizeof(unsigned));
	s->core_free = calloc(t->ncores ? t->ncores : 1, sizeof(unsigned));
	s->node_sums = calloc(3 * t->nnodes, sizeof(unsigned));
	s->mem_free = calloc(t->nnodes, sizeof(int64_t));
	s->pool_free = calloc((size_t)t->nnodes * (t->npage_sizes + 1), sizeof(int64_t));
	s->shared_vcpus = calloc(t->nnodes, sizeof(unsigned));
	s->shared_widest = calloc(t->nnodes, sizeof(unsigned));
	s->dev_taken = calloc(t->ndevices ? t->ndevices : 1, sizeof(bool));
	s->page = -1;
	s->held = hwloc_bitmap_alloc();
	s->pool_part = hwloc_bitmap_alloc();
	s->scratch = calloc(1, sizeof(*s->scratch));
	if (!s->pool || !s->usable || !s->taken || !s->core_usable || !s->core_free || !s->node_sums ||
	    !s->mem_free || !s->pool_free || !s->shared_vcpus || !s->shared_widest || !s->dev_taken || !s->held ||
	    !s->pool_part || !s->scratch || !(s->before = snapshot_new(t)) ||
	    distance_classes(s) < 0)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	if (reserved) {
		hwloc_bitmap_andnot(s->usable, s->usable, reserved);
		hwloc_bitmap_andnot(s->pool, s->pool, reserved);
	}
	/* Until a recorded housekeeping set says otherwise, the host keeps its reserve. */
	s->housekeeping = reserved ? TAKE_PTR(reserved) : hwloc_bitmap_alloc();
	if (!s->housekeeping)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	/* A given pool belongs to shared guests alone. */
	hwloc_bitmap_andnot(s->usable, s->usable, s->pool);
	for (unsigned c = 0; c < t->ncores; c++) {
		unsigned n = (unsigned)t->cores[c].node;

		for (unsigned k = 0; k < t->cores[c].npus; k++)
			s->core_usable[c] += hwloc_bitmap_isset(s->usable, t->cores[c].pus[k]);
		s->core_free[c] = s->core_usable[c];
		node_free_pus(s)[n] += s->core_free[c];
		node_free_pairs(s)[n] += s->core_free[c] & ~1u;
		node_whole_cores(s)[n] += core_whole(s, c);
	}
	for (unsigned n = 0; n < t->nnodes; n++) {
		s->mem_free[n] = (int64_t)t->nodes[n].memory_mib;
		for (unsigned k = 0; k < t->npage_sizes; k++)
			s->pool_free[k * t->nnodes + n] =
				(int64_t)((t->nodes[n].huge_pages[k] * t->page_kib[k]) >> 10);
	}
	return 0;
}

/* Free memory of one kind on a node, in MiB: normal memory (page -1, below 0 when shared
 * guests overcommit), or what the whole free pages of a hugepage pool hold. */
int64_t
node_free_mib(const struct solver *s, unsigned n, int page)
{
	if (page == -1)
		return s->mem_free[n];
	if (page < 0)
		return 0;
	return s->pool_free[(unsigned)page * s->t->nnodes + n];
}

/* The free pages of a pool on a node. A pool is charged in whole MiB that are whole pages
 * (the guest's validation sees to it), so what is used is a whole number of pages. */
int64_t
node_free_pages(const struct solver *s, unsigned n, unsigned page)
{
	const struct tmap_topology *t = s->t;
	uint64_t total = t->nodes[n].huge_pages[page];
	int64_t used_mib = (int64_t)((total * t->page_kib[page]) >> 10) -
			   s->pool_free[page * t->nnodes + n];

	return (int64_t)total - used_mib * 1024 / (int64_t)t->page_kib[page];
}

/* Take memory of one kind from a node (mib < 0: give it back). */
void
node_charge(struct solver *s, unsigned n, int page, int64_t mib)
{
	if (page == -1)
		s->mem_free[n] -= mib;
	else if (page >= 0)
		s->pool_free[(unsigned)page * s->t->nnodes + n] -= mib;
}

/* Where a guest's memory comes from: normal memory, a pool, or (a size no node has) zeros. */
static const int64_t *
demand_free(const struct solver *s, const struct demand *d)
{
	const struct tmap_topology *t = s->t;

	if (d->page == -1)
		return s->mem_free;
	return s->pool_free + (d->page >= 0 ? (unsigned)d->page : t->npage_sizes) * t->nnodes;
}

/* ------------------------------------------------------------------------------------- */

static struct demand
demand_of(const struct tmap_topology *t, const struct tmap_guest *g)
{
	struct demand d = {
		.name = g->name,
		.cpu = g->cpu_policy,
		.policy = g->thread_policy,
		.threads = g->threads,
		.emulator_isolate = g->cpu_policy != TMAP_CPU_SHARED &&
				    g->emulator_policy == TMAP_EMULATOR_ISOLATE,
		.page_kib = g->page_kib,
		.page = -1,
		.spare_devices = g->ndevices == 0,
		.realtime = g->cpu_policy != TMAP_CPU_SHARED ? g->realtime : NULL,
	};

	if (g->page_kib) {
		int k = topo_page_index(t, g->page_kib);

		d.page = k >= 0 ? k : -2;
	}

	/* Guest threads share a host core when the host's cores are big enough; otherwise in
	 * pieces that still divide the guest core, else one by one. */
	if (g->threads <= t->max_threads)
		d.group = g->threads;
	else if (t->max_threads > 1 && g->threads % t->max_threads == 0)
		d.group = t->max_threads;
	else
		d.group = 1;
	if (d.policy == TMAP_THREAD_REQUIRE && d.group == 1)
		d.emulator_units = t->max_threads;
	else
		d.emulator_units = d.policy == TMAP_THREAD_REQUIRE ? d.group : 1;
	return d;
}

struct demand
solver_demand(const struct solver *s, const struct tmap_guest *g)
{
	struct demand d = demand_of(s->t, g);

	d.free = demand_free(s, &d);
	return d;
}

static int
plan_guest_init(struct plan_guest *pg, const struct tmap_guest *g, unsigned ncells)
{
	pg->name = strdup(g->name);
	pg->vcpus = g->vcpus;
	pg->sockets = g->sockets;
	pg->cores = g->cores;
	pg->threads = g->threads;
	pg->cpu_policy = g->cpu_policy;
	pg->thread_policy = g->thread_policy;
	pg->emulator_policy = g->emulator_policy;
	pg->memory_mode = g->memory_mode;
	pg->iothreads = g->iothreads;
	pg->shares = g->shares;
	pg->period = g->period;
	pg->quota = g->quota;
	pg->page_kib = g->page_kib;
	if (g->cpu_policy == TMAP_CPU_MIXED && !(pg->dedicated = hwloc_bitmap_dup(g->dedicated)))
		return -ENOMEM;
	/* A guest placed where it asked is never moved to make room for another; nor is one
	 * with realtime vcpus, whose cores a move would share. */
	pg->pinned = g->pinned || guest_explicit(g) || g->realtime;
	if (plan_realtime_from_guest(pg, g) < 0)
		return -ENOMEM;
	pg->vcpu_pus = calloc(g->vcpus, sizeof(*pg->vcpu_pus));
	pg->vcpu_node = calloc(g->vcpus, sizeof(*pg->vcpu_node));
	pg->vcpu_core_lists = calloc(g->vcpus, sizeof(*pg->vcpu_core_lists));
	pg->cells = calloc(ncells, sizeof(*pg->cells));
	pg->ncells = ncells;
	pg->emulator = hwloc_bitmap_alloc();
	pg->held = hwloc_bitmap_alloc();
	pg->memory_nodes = hwloc_bitmap_alloc();
	if (!pg->name || !pg->vcpu_pus || !pg->vcpu_node || !pg->vcpu_core_lists || !pg->cells || !pg->emulator || !pg->held ||
	    !pg->memory_nodes)
		return -ENOMEM;
	for (unsigned v = 0; v < g->vcpus; v++)
		if (!(pg->vcpu_pus[v] = hwloc_bitmap_alloc()))
			return -ENOMEM;
	for (unsigned c = 0; c < ncells; c++)
		if (!(pg->cells[c].vcpus = hwloc_bitmap_alloc()) ||
		    !(pg->cells[c].pus = hwloc_bitmap_alloc()))
			return -ENOMEM;
	return 0;
}

/* What each cell asks for, in scratch memory; NULL when out of memory. */
static struct cell_req *
cell_requests(const struct solver *s, const struct guest_cells *cells)
{
	struct cell_req *req = scratch_new(s, cells->n, struct cell_req);

	for (unsigned c = 0; req && c < cells->n; c++) {
		req[c].vcpus = cells->nvcpus[c];
		req[c].memory_mib = cells->memory_mib[c];
	}
	return req;
}

/* One decision in progress: what the guest asks of each node, and where its cells go. */
struct decision {
	struct demand d;
	unsigned *cap;		/* per node: capacity for this guest, before it takes anything */
	struct cell_req *req;	/* per cell */
	int *node_of;		/* per cell: node index */
	unsigned usable_nodes;	/* nodes with CPUs */
	bool spread_out;	/* a guest without cells spread over nodes: cells proposed */
	bool sharing;		/* more cells than nodes: cells share nodes */
	int *fixed;		/* per cell: the node index the guest asks, or -1; NULL: none */
	hwloc_const_bitmap_t dedicated;	/* a mixed guest's dedicated vcpus; NULL: none */
	unsigned *pin;		/* per vcpu: the PU the guest asks; NULL: none */
};

/* A guest without cells that no single node holds: spread it, and the decision follows the
 * cells proposed. */
static int
decide_spread(struct solver *s, const struct tmap_guest *g, struct decision *dec)
{
	_cleanup_free_ int *spread_nodes = NULL;
	struct guest_cells *cells = &s->cells;

	/* The proposed cells are not the ones counted. */
	dec->d.cell_rt = NULL;
	if (spread(s, &dec->d, dec->cap, g, cells, &spread_nodes) < 0)
		return -ENOSPC;
	dec->req = cell_requests(s, cells);
	dec->node_of = scratch_new(s, cells->n, int);
	if (!dec->req || !dec->node_of)
		return -ENOMEM;
	memcpy(dec->node_of, spread_nodes, cells->n * sizeof(int));
	dec->spread_out = true;
	return 0;
}

/* A guest without cells may be spread when no node holds it; one held next to a device too,
 * from a node next to it (cell 0 keeps the device); one whose node is asked may not, nor one
 * with realtime vcpus, whose whole cores the proposed cells would not count. */
static bool
spreadable(const struct solver *s, const struct decision *dec)
{
	return s->cells.n == 1 && s->cells.implied && !(s->flags & TMAP_SOLVE_NO_SPREAD) &&
	       !dec->fixed && dec->d.cpu == TMAP_CPU_DEDICATED && !dec->d.realtime;
}

/* Step 2 for the cells resolved: the node of each cell. may_spread: a guest without cells
 * that no node holds may be spread (not while a 'preferred' device still binds its cell: the
 * guest on one node away from it comes first). */
static int
choose_nodes(struct solver *s, const struct tmap_guest *g, struct decision *dec, bool may_spread)
{
	struct guest_cells *cells = &s->cells;
	int r;

	if (cells->n == 1) {
		r = choose_one(s, &dec->d, dec->cap, &dec->req[0], &dec->node_of[0]);
		if (r == -ENOSPC && may_spread && spreadable(s, dec)) {
			r = decide_spread(s, g, dec);
			if (r == -ENOMEM)
				return r;
		}
	} else if (cells->n <= dec->usable_nodes || (s->flags & TMAP_SOLVE_DISTINCT_CELLS)) {
		/* A cell that no node takes leaves no set to search for. */
		r = cells_fit_somewhere(s, &dec->d, dec->cap, dec->req, cells->n) ?
			    choose_distinct(s, &dec->d, dec->cap, dec->req, cells->n, dec->node_of) :
			    -ENOSPC;
	} else {
		dec->sharing = true;
		r = choose_shared_nodes(s, &dec->d, dec->cap, dec->req, cells->n, dec->node_of);
	}
	return r;
}

/* The nodes and PUs a guest asks for: 0 when they fix every cell's node (node_of written),
 * 1 when the cells left are to be chosen around them (d.cell_nodes), -ENOSPC with the
 * message when one cannot be met. */
static int
decide_explicit(struct solver *s, const struct tmap_guest *g, struct decision *dec)
{
	struct guest_cells *cells = &s->cells;
	int r = guest_cells_vcpus(g, cells);

	if (r < 0)
		return r;
	r = explicit_nodes(s, g, &dec->d, dec->cap, cells, dec->req, &dec->fixed, &dec->pin);
	if (r == 0)
		memcpy(dec->node_of, dec->fixed, cells->n * sizeof(int));
	else if (r == 1 && explicit_constrain(s, cells->n, dec->fixed, &dec->d) < 0)
		return -ENOMEM;
	return r;
}

/* Steps 1 and 2: each node's capacity, then the node of each cell. -ENOSPC: the error says
 * why the guest does not fit. */
static int
decide_nodes(struct solver *s, const struct tmap_guest *g, struct decision *dec)
{
	const struct tmap_topology *t = s->t;
	struct guest_cells *cells = &s->cells;
	int r;

	dec->d = demand_of(t, g);
	dec->cap = scratch_new(s, t->nnodes, unsigned);
	if (!dec->cap)
		return -ENOMEM;
	s->page = dec->d.page;
	dec->d.free = demand_free(s, &dec->d);
	for (unsigned n = 0; n < t->nnodes; n++) {
		dec->cap[n] = node_capacity(s, n, &dec->d);
		dec->usable_nodes += !t->nodes[n].cpuless;
	}
	/* The cells' vcpu sets wait for a decision: most guests are refused before. */
	r = guest_resolve_counts(g, cells);
	if (r == 0)
		r = realtime_cell_counts(s, g, &dec->d);
	if (r < 0)
		return r;
	dec->req = cell_requests(s, cells);
	dec->node_of = scratch_new(s, cells->n, int);
	if (!dec->req || !dec->node_of)
		return -ENOMEM;
	if (g->cpu_policy == TMAP_CPU_MIXED) {
		dec->dedicated = g->dedicated;
		r = mixed_requests(g, cells, dec->req);
		if (r < 0)
			return r;
	}
	/* Every request counts, placed or not: it is what this host is asked for. */
	if (dec->d.cpu == TMAP_CPU_DEDICATED)
		remember_shape(s, dec->req, cells->n);

	if (dec->d.policy == TMAP_THREAD_REQUIRE && t->max_threads < 2 &&
	    dec->d.cpu != TMAP_CPU_SHARED)
		return no_fit(s, &dec->d, dec->cap, dec->req, cells->n, cells->implied);
	/* Cells that share a node are no NUMA nodes of their own: only when the guest asks
	 * (TMAP_SOLVE_DISTINCT_CELLS refuses them anyway, as no set of distinct nodes). */
	if (cells->n > dec->usable_nodes && !g->cells_share_nodes &&
	    !(s->flags & TMAP_SOLVE_DISTINCT_CELLS))
		return tmap_error_set(s->err, -ENOSPC,
				      "guest '%s': %u cells but the host has %u nodes with CPUs; set cells_share_nodes (--cells-share-nodes) to share",
				      g->name, cells->n, dec->usable_nodes);
	/* Devices: each one more constraint on its cell's node, never a search. */
	if (g->ndevices && (r = devices_constrain(s, g, cells->n, &dec->d, false)) < 0)
		return r;
	/* Nodes and PUs asked: met as asked or refused, saying which and why. */
	if (guest_explicit(g)) {
		r = decide_explicit(s, g, dec);
		if (r <= 0)
			return r;
	}
	r = choose_nodes(s, g, dec, !devices_any_preferred(g));
	if (r == -ENOSPC && devices_any_preferred(g)) {
		r = devices_constrain(s, g, cells->n, &dec->d, true);
		if (r == 0 && dec->fixed)
			r = explicit_constrain(s, cells->n, dec->fixed, &dec->d);
		if (r == 0)
			r = choose_nodes(s, g, dec, true);
	}
	if (r == -ENOSPC && g->ndevices && dec->d.cell_nodes)
		return devices_no_fit(s, g, &dec->d, dec->cap, dec->req, spreadable(s, dec));
	if (r == -ENOSPC)
		return no_fit(s, &dec->d, dec->cap, dec->req, cells->n, cells->implied);
	return r;
}

/* Cell c's memory, and its vcpus on the PUs of its node (a shared cell: the node's pool);
 * pg NULL: the decision alone. */
static int
take_cell(struct solver *s, const struct decision *dec, unsigned c, struct plan_guest *pg,
	  unsigned *vcpu_pu, hwloc_bitmap_t held, int *l3)
{
	const struct tmap_topology *t = s->t;
	const struct guest_cells *cells = &s->cells;
	struct plan_cell *pc = pg ? &pg->cells[c] : NULL;
	unsigned n = (unsigned)dec->node_of[c], v;
	int r = 0;

	node_charge(s, n, dec->d.page, (int64_t)dec->req[c].memory_mib);
	if (pc) {
		hwloc_bitmap_copy(pc->vcpus, cells->vcpus[c]);
		pc->node = t->nodes[n].os_index;
		pc->memory_mib = dec->req[c].memory_mib;
		pg->memory_mib += dec->req[c].memory_mib;
		hwloc_bitmap_set(pg->memory_nodes, pc->node);
		hwloc_bitmap_foreach_begin(v, cells->vcpus[c])
			pg->vcpu_node[v] = (int)pc->node;
		hwloc_bitmap_foreach_end();
	}
	if (dec->d.cpu == TMAP_CPU_SHARED) {
		r = shared_cell(s, n, dec->req[c].vcpus, pc ? pc->pus : NULL);
		if (r < 0 || !pc)
			return r;
		hwloc_bitmap_foreach_begin(v, cells->vcpus[c])
			hwloc_bitmap_copy(pg->vcpu_pus[v], pc->pus);
		hwloc_bitmap_foreach_end();
		hwloc_bitmap_or(pg->emulator, pg->emulator, pc->pus);
		return 0;
	}
	if (c > 0 && dec->node_of[c] != dec->node_of[c - 1])
		*l3 = -1;
	if (dec->d.cpu == TMAP_CPU_MIXED)
		/* The shared vcpus float over the pool, and the emulator with them. */
		r = mixed_cell(s, n, &dec->d, cells->vcpus[c], dec->dedicated, dec->req[c].shared,
			       vcpu_pu, held, l3, pc ? pc->pus : NULL);
	else if (dec->pin)
		pin_cell(s, &dec->d, cells->vcpus[c], dec->pin, vcpu_pu, held);
	else
		r = alloc_cell(s, n, &dec->d, cells->vcpus[c], vcpu_pu, held, l3);
	if (r < 0 || !pc)
		return r;
	if (dec->d.cpu == TMAP_CPU_MIXED)
		hwloc_bitmap_or(pg->emulator, pg->emulator, pc->pus);
	hwloc_bitmap_foreach_begin(v, cells->vcpus[c])
	{
		if (dec->dedicated && !hwloc_bitmap_isset(dec->dedicated, v)) {
			hwloc_bitmap_copy(pg->vcpu_pus[v], pc->pus);
			continue;
		}
		hwloc_bitmap_only(pg->vcpu_pus[v], vcpu_pu[v]);
		pg->vcpu_core_lists[v] = core_list(t, vcpu_pu[v]);
		if (!pg->vcpu_core_lists[v])
			return -ENOMEM;
		/* Emulator threads never run on a realtime vcpu's core. */
		if (!dec->dedicated && !plan_vcpu_realtime(pg, v))
			hwloc_bitmap_set(pg->emulator, vcpu_pu[v]);
	}
	hwloc_bitmap_foreach_end();
	/* The cell's host PUs: its vcpus' (a mixed cell's pool, then its dedicated PUs). */
	hwloc_bitmap_foreach_begin(v, cells->vcpus[c])
		hwloc_bitmap_or(pc->pus, pc->pus, pg->vcpu_pus[v]);
	hwloc_bitmap_foreach_end();
	return 0;
}

/*
 * A share-host emulator (Nova's emulator_threads_policy=share with cpu_shared_set): the
 * host's housekeeping PUs on cell 0's node, or all of them when that node has none. It
 * holds nothing: the housekeeping PUs are no guest's.
 */
static void
host_emulator(const struct solver *s, const struct decision *dec, struct plan_guest *pg)
{
	const struct topo_node *node = &s->t->nodes[dec->node_of[0]];

	if (!pg)
		return;
	hwloc_bitmap_and(pg->emulator, s->housekeeping, node->cpuset);
	if (hwloc_bitmap_iszero(pg->emulator))
		hwloc_bitmap_copy(pg->emulator, s->housekeeping);
}

/* An isolated emulator: a PU of its own on cell 0's node. */
static int
take_emulator(struct solver *s, const struct decision *dec, struct plan_guest *pg,
	      hwloc_bitmap_t held)
{
	unsigned n = (unsigned)dec->node_of[0], pu;
	bool whole = dec->d.policy != TMAP_THREAD_PREFER;
	int c = pick_core(s, n, 1, whole, 1, -1, false);

	if (c < 0 || take_pus(s, (unsigned)c, 1, whole, &pu, held) != 1)
		return -ENOSPC;
	if (!pg)
		return 0;
	hwloc_bitmap_only(pg->emulator, pu);
	/* A mixed guest's shared vcpus float over a pool that, when none was given, is the
	 * node's free PUs as they stood before this PU was taken: it is no longer one of them
	 * (mixed_fits() counted it out of the pool). */
	if (dec->d.cpu == TMAP_CPU_MIXED) {
		for (unsigned v = 0; v < pg->vcpus; v++)
			if (!hwloc_bitmap_isset(dec->dedicated, v))
				hwloc_bitmap_clr(pg->vcpu_pus[v], pu);
		for (unsigned k = 0; k < pg->ncells; k++)
			hwloc_bitmap_clr(pg->cells[k].pus, pu);
	}
	return 0;
}

int
solver_place_sized(struct solver *s, const struct tmap_guest *g, struct plan_guest *pg,
		   bool decide_only)
{
	struct guest_cells *cells = &s->cells;
	struct decision dec = {0};
	unsigned *vcpu_pu;
	/* A decision alone takes PUs into the host's own set; a plan into the guest's. */
	hwloc_bitmap_t held = s->held;
	int l3 = -1, r;

	scratch_reset(s->scratch);
	if (g->emulator_policy == TMAP_EMULATOR_SHARE_HOST && hwloc_bitmap_iszero(s->housekeeping))
		return tmap_error_set(s->err, -EINVAL,
				      "%s: emulator share-host floats over the host's housekeeping PUs, and this host has none (give --reserve, or record them with topomap host set --housekeeping)",
				      g->name);
	r = decide_nodes(s, g, &dec);
	if (r < 0)
		return r;

	/* Decided; what follows takes the cores and PUs (most guests are refused before). A
	 * spread guest's cells came with their sets. */
	if (!dec.spread_out) {
		r = guest_cells_vcpus(g, cells);
		if (r < 0)
			return r;
	}
	vcpu_pu = scratch_new(s, g->vcpus, unsigned);
	if (!vcpu_pu)
		return -ENOMEM;
	hwloc_bitmap_zero(s->held);
	if (decide_only) {
		pg = NULL;
	} else {
		r = plan_guest_init(pg, g, cells->n);
		if (r < 0)
			return r;
		pg->cells_proposed = dec.spread_out;
		held = pg->held;
	}
	r = snapshot_save(s, s->before);
	if (r < 0)
		return r;

	for (unsigned c = 0; c < cells->n && r == 0; c++)
		r = take_cell(s, &dec, c, pg, vcpu_pu, held, &l3);
	if (r == 0 && g->realtime) {
		r = realtime_siblings(s, g, vcpu_pu, held);
		if (r == -ENOSPC) {
			snapshot_restore(s, s->before);
			return r;
		}
	}
	if (r == 0 && dec.d.emulator_isolate)
		r = take_emulator(s, &dec, pg, held);
	if (r == 0 && g->emulator_policy == TMAP_EMULATOR_SHARE_HOST)
		host_emulator(s, &dec, pg);
	if (r == 0 && g->ndevices) {
		r = devices_take(s, g, dec.node_of, pg);
		if (r == -ENOSPC) {
			snapshot_restore(s, s->before);
			return r;
		}
	}
	if (r == 0 && dec.d.cpu != TMAP_CPU_SHARED && !s->fixed_pool) {
		r = shared_room_kept(s, g->name);
		if (r < 0) {
			snapshot_restore(s, s->before);
			return r;
		}
	}
	if (r == 0 && decide_only) {
		snapshot_restore(s, s->before);
		return 0;
	}
	if (r == 0) {
		explain_placement(s, &dec.d, dec.cap, g, dec.req, dec.node_of, dec.spread_out,
				  dec.sharing, pg);
		if (realtime_explain(s, pg) < 0)
			return -ENOMEM;
		hwloc_bitmap_or(s->taken, s->taken, held);
		return 0;
	}
	snapshot_restore(s, s->before);
	if (r == -ENOSPC)
		r = no_fit(s, &dec.d, dec.cap, dec.req, cells->n, cells->implied);
	return r;
}

void
solver_undo(struct solver *s)
{
	snapshot_restore(s, s->before);
}

int
solver_decide(struct solver *s, const struct tmap_guest *g)
{
	/* remember_shape() writes this one slot of the window */
	struct shape recent = s->recent[s->next_recent];
	unsigned nrecent = s->nrecent, next = s->next_recent;
	int r;

	/* The same decision solver_place() makes, then everything put back, the window of
	 * recent requests too. */
	r = solver_place(s, g, NULL, true);
	s->recent[next] = recent;
	s->nrecent = nrecent;
	s->next_recent = next;
	return r;
}

int
solver_mark(const struct solver *s, struct solver_mark *m)
{
	memcpy(m->recent, s->recent, sizeof(m->recent));
	m->nrecent = s->nrecent;
	m->next_recent = s->next_recent;
	return snapshot_take(s, &m->snap);
}

void
solver_mark_restore(struct solver *s, struct solver_mark *m)
{
	snapshot_restore(s, &m->snap);
	snapshot_clear(&m->snap);
	memcpy(s->recent, m->recent, sizeof(m->recent));
	s->nrecent = m->nrecent;
	s->next_recent = m->next_recent;
}

void
solver_take(struct solver *s, const struct plan_guest *pg)
{
	const struct tmap_topology *t = s->t;
	int page = pg->page_kib ? topo_page_index(t, pg->page_kib) : -1;
	unsigned pu;

	hwloc_bitmap_foreach_begin(pu, pg->held)
	{
		hwloc_bitmap_set(s->taken, pu);
		core_free_add(s, t->pu_core[pu], -1);
	}
	hwloc_bitmap_foreach_end();
	for (unsigned c = 0; c < pg->ncells; c++) {
		int n = topo_node_index(t, pg->cells[c].node);
		unsigned w = plan_cell_shared(pg, c);

		node_charge(s, (unsigned)n, page, (int64_t)pg->cells[c].memory_mib);
		if (w) {
			s->shared_vcpus[n] += w;
			if (w > s->shared_widest[n])
				s->shared_widest[n] = w;
		}
	}
	devices_hold(s, pg, true);
}

void
solver_release(struct solver *s, hwloc_const_bitmap_t held, int page, const uint64_t *mem,
	       const unsigned *shared)
{
	const struct tmap_topology *t = s->t;
	unsigned pu;

	hwloc_bitmap_foreach_begin(pu, held)
	{
		hwloc_bitmap_clr(s->taken, pu);
		core_free_add(s, t->pu_core[pu], 1);
	}
	hwloc_bitmap_foreach_end();
	for (unsigned n = 0; n < t->nnodes; n++) {
		node_charge(s, n, page, -(int64_t)mem[n]);
		s->shared_vcpus[n] -= shared[n];
		/* The widest cell left is the ledger's to say (host.c); none left, none wide. */
		if (s->shared_vcpus[n] == 0)
			s->shared_widest[n] = 0;
	}
}

/*
 * The pool a state file recorded. A given pool is the options' (the state keeps it to show);
 * without one, state files before issue 21 recorded the PUs a pool had grown over, and every
 * free usable PU is the pool now: the list only has to be PUs of this host.
 */
int
solver_restore_pool(struct solver *s, const char *list, struct tmap_error *err)
{
	_cleanup_bitmap_ hwloc_bitmap_t set = NULL;

	if (!list || !*list || s->fixed_pool)
		return 0;
	if (bitmap_parse_list(list, &set) < 0)
		return tmap_error_set(err, -EBADMSG, "shared pool '%.80s' is not a list of PUs", list);
	if (!hwloc_bitmap_isincluded(set, s->usable))
		return tmap_error_set(err, -EBADMSG,
				      "shared pool '%.80s' is not a set of usable PUs of this host", list);
	return 0;
}
