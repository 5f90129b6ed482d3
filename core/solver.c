/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The solver: topology + guests in, plan out. Pure and deterministic: no system call, no
 * global, every tie broken by index.
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
 * Shared guests float over a per-node pool that dedicated guests never get: the PUs given as
 * `shared`, or else free PUs the pool takes as shared guests need them, cpu_overcommit
 * shared vcpus per pool PU.
 *
 * A struct tmap_host keeps all of this between guests, so a host that runs for months places
 * each new guest around what it holds; tmap_solve() is a host used once.
 */
#include <json-c/json.h>
#include <stdarg.h>
#include <stddef.h>

#include "internal.h"

/* A request's shape: how many cells, and the largest cell's needs. */
struct shape {
	unsigned ncells, vcpus;
	uint64_t memory_mib;
	int page;		/* its memory's pool (see struct demand) */
};

#define RECENT 32

/* One placed guest: what it holds, so that it can be released. */
struct alloc {
	char *name;
	uint64_t name_hash;	/* name_hash(name): a guest's name is looked up on every call */
	hwloc_bitmap_t held;	/* PUs held by a dedicated guest */
	uint64_t *mem;		/* per node index: MiB */
	int page;		/* the pool mem came from: index into t->page_kib, or -1 */
	unsigned *shared;	/* per node index: shared vcpus */
	struct json_object *plan; /* the guest's plan, as the state file records it */
};

/*
 * Memory for one decision: arrays carved from one block the host keeps, given back all at
 * once when the next decision starts. What does not fit the block gets chunks of its own, and
 * the block grows to the whole need for the next decision; so a warm host decides without
 * calling malloc.
 */
struct scratch_chunk {
	struct scratch_chunk *next;
	max_align_t data[];
};

struct scratch {
	unsigned char *block;
	size_t size, used;
	size_t need;		/* bytes this decision asked for, block and chunks */
	struct scratch_chunk *chunks;
};

struct tmap_host {
	const struct tmap_topology *t;
	hwloc_bitmap_t usable;	/* host PUs dedicated guests may use: not reserved, not shared */
	hwloc_bitmap_t taken;	/* PUs held by dedicated guests or by the shared pool */
	hwloc_bitmap_t pool;	/* PUs shared guests float over */
	bool fixed_pool;	/* the pool was given (options.shared) and does not grow */
	double cpu_ratio, mem_ratio;
	unsigned *core_usable;	/* per core: usable PUs */
	unsigned *core_free;	/* per core: usable PUs nobody holds */
	int64_t *mem_free;	/* per node index: MiB; below 0 when shared guests overcommit */
	int64_t *pool_free;	/* per page size x node index: free MiB of each hugepage pool, then
				 * a block of zeros for a size no node has */
	unsigned *shared_vcpus;	/* per node index: vcpus of shared guests */
	uint32_t flags;
	struct tmap_error *err;	/* of the call in progress */
	int page;		/* of the call in progress: the pool its guest's memory comes from */
	/* The shapes of the latest requests, to judge what a placement leaves useful. */
	struct shape recent[RECENT];
	unsigned nrecent, next_recent;
	size_t nallocs, allocs_size;	/* allocs_size: room in allocs */
	struct alloc *allocs;
	/* Reused by every decision. before: the host as a guest found it, before it took anything;
	 * held: what tmap_host_fit()'s guest takes; grown: what a shared cell adds to the
	 * pool. */
	struct snapshot *before;
	hwloc_bitmap_t held, grown;
	hwloc_bitmap_t pool_part;	/* scratch of node_pool_size() */
	/* nnodes x nnodes: for each anchor node a, each node's distance class from a: 0 for a
	 * itself, then 1, 2, ... for each distinct distance, nearest first. */
	unsigned *dist_class;
	struct guest_cells cells;
	struct scratch *scratch;
};

/* The solver is the host; the name says which role a function plays. */
#define solver tmap_host

/* How one guest consumes host cores. */
struct demand {
	const char *name;
	enum tmap_cpu_policy cpu;
	enum tmap_thread_policy policy;
	unsigned threads;	/* guest threads per core */
	unsigned group;		/* vcpus that must share one host core */
	bool emulator_isolate;
	unsigned emulator_units; /* capacity the isolated emulator takes on cell 0's node */
	uint64_t page_kib;	/* hugepage size, 0: normal memory */
	int page;		/* its pool: index into t->page_kib; -1: normal memory; -2: a size
				 * no node has */
	const int64_t *free;	/* per node index: free MiB of that memory (demand_free()) */
};

struct cell_req {
	unsigned vcpus;
	uint64_t memory_mib;
};

/* What was free before a guest, to put back if the guest does not fit. */
struct snapshot {
	hwloc_bitmap_t taken, pool;
	unsigned *core_free;
	int64_t *mem_free;
	int64_t *pool_free;
	unsigned *shared_vcpus;
};

static void *
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

/* Zeroed room for count objects of a type, like calloc(), valid until scratch_reset(). */
#define scratch_new(s, count, type) ((type *)scratch_get((s)->scratch, (count), sizeof(type)))

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
static uint64_t
name_hash(const char *name)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * UINT64_C(0x100000001b3);
	return h;
}

static void
alloc_clear(struct alloc *a)
{
	free(a->name);
	if (a->held)
		hwloc_bitmap_free(a->held);
	free(a->mem);
	free(a->shared);
	if (a->plan)
		json_object_put(a->plan);
}

static void snapshot_free(struct snapshot *snap);
static struct snapshot *snapshot_new(const struct tmap_topology *t);

static void
solver_clear(struct solver *s)
{
	if (s->usable)
		hwloc_bitmap_free(s->usable);
	if (s->taken)
		hwloc_bitmap_free(s->taken);
	if (s->pool)
		hwloc_bitmap_free(s->pool);
	free(s->core_usable);
	free(s->core_free);
	free(s->mem_free);
	free(s->pool_free);
	free(s->shared_vcpus);
	for (size_t i = 0; i < s->nallocs; i++)
		alloc_clear(&s->allocs[i]);
	free(s->allocs);
	snapshot_free(s->before);
	if (s->held)
		hwloc_bitmap_free(s->held);
	if (s->grown)
		hwloc_bitmap_free(s->grown);
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

/* The host's distance classes (struct tmap_host.dist_class), once for all decisions. */
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

static int
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
	s->mem_free = calloc(t->nnodes, sizeof(int64_t));
	s->pool_free = calloc((size_t)t->nnodes * (t->npage_sizes + 1), sizeof(int64_t));
	s->shared_vcpus = calloc(t->nnodes, sizeof(unsigned));
	s->page = -1;
	s->held = hwloc_bitmap_alloc();
	s->grown = hwloc_bitmap_alloc();
	s->pool_part = hwloc_bitmap_alloc();
	s->scratch = calloc(1, sizeof(*s->scratch));
	if (!s->pool || !s->usable || !s->taken || !s->core_usable || !s->core_free ||
	    !s->mem_free || !s->pool_free || !s->shared_vcpus || !s->held || !s->grown ||
	    !s->pool_part || !s->scratch || !(s->before = snapshot_new(t)) ||
	    distance_classes(s) < 0)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	if (reserved) {
		hwloc_bitmap_andnot(s->usable, s->usable, reserved);
		hwloc_bitmap_andnot(s->pool, s->pool, reserved);
	}
	/* A given pool belongs to shared guests alone. */
	hwloc_bitmap_andnot(s->usable, s->usable, s->pool);
	for (unsigned c = 0; c < t->ncores; c++) {
		for (unsigned k = 0; k < t->cores[c].npus; k++)
			s->core_usable[c] += hwloc_bitmap_isset(s->usable, t->cores[c].pus[k]);
		s->core_free[c] = s->core_usable[c];
	}
	for (unsigned n = 0; n < t->nnodes; n++) {
		s->mem_free[n] = (int64_t)t->nodes[n].memory_mib;
		for (unsigned k = 0; k < t->npage_sizes; k++)
			s->pool_free[k * t->nnodes + n] =
				(int64_t)((t->nodes[n].huge_pages[k] * t->page_kib[k]) >> 10);
	}
	return 0;
}

static void
snapshot_clear(struct snapshot *snap)
{
	if (snap->taken)
		hwloc_bitmap_free(snap->taken);
	if (snap->pool)
		hwloc_bitmap_free(snap->pool);
	free(snap->core_free);
	free(snap->mem_free);
	free(snap->pool_free);
	free(snap->shared_vcpus);
	memset(snap, 0, sizeof(*snap));
}

static int
snapshot_alloc(const struct tmap_topology *t, struct snapshot *snap)
{
	snap->taken = hwloc_bitmap_alloc();
	snap->pool = hwloc_bitmap_alloc();
	snap->core_free = malloc((t->ncores ? t->ncores : 1) * sizeof(unsigned));
	snap->mem_free = malloc(t->nnodes * sizeof(int64_t));
	/* A host without pools (most) costs no allocation more per guest. */
	snap->pool_free = t->npage_sizes ?
		malloc((size_t)t->nnodes * t->npage_sizes * sizeof(int64_t)) : NULL;
	snap->shared_vcpus = malloc(t->nnodes * sizeof(unsigned));
	if (!snap->taken || !snap->pool || !snap->core_free || !snap->mem_free ||
	    (t->npage_sizes && !snap->pool_free) || !snap->shared_vcpus) {
		snapshot_clear(snap);
		return -ENOMEM;
	}
	return 0;
}

/* Save the host into snap, allocated by snapshot_alloc(). */
static int
snapshot_save(const struct solver *s, struct snapshot *snap)
{
	const struct tmap_topology *t = s->t;

	if (hwloc_bitmap_copy(snap->taken, s->taken) < 0 ||
	    hwloc_bitmap_copy(snap->pool, s->pool) < 0)
		return -ENOMEM;
	memcpy(snap->core_free, s->core_free, t->ncores * sizeof(unsigned));
	memcpy(snap->mem_free, s->mem_free, t->nnodes * sizeof(int64_t));
	if (t->npage_sizes)
		memcpy(snap->pool_free, s->pool_free,
		       (size_t)t->nnodes * t->npage_sizes * sizeof(int64_t));
	memcpy(snap->shared_vcpus, s->shared_vcpus, t->nnodes * sizeof(unsigned));
	return 0;
}

static struct snapshot *
snapshot_new(const struct tmap_topology *t)
{
	struct snapshot *snap = calloc(1, sizeof(*snap));

	if (snap && snapshot_alloc(t, snap) < 0) {
		free(snap);
		return NULL;
	}
	return snap;
}

static void
snapshot_free(struct snapshot *snap)
{
	if (!snap)
		return;
	snapshot_clear(snap);
	free(snap);
}

static int
snapshot_take(const struct solver *s, struct snapshot *snap)
{
	int r = snapshot_alloc(s->t, snap);

	if (r == 0)
		r = snapshot_save(s, snap);
	if (r < 0)
		snapshot_clear(snap);
	return r;
}

static void
snapshot_restore(struct solver *s, struct snapshot *snap)
{
	hwloc_bitmap_copy(s->taken, snap->taken);
	hwloc_bitmap_copy(s->pool, snap->pool);
	memcpy(s->core_free, snap->core_free, s->t->ncores * sizeof(unsigned));
	memcpy(s->mem_free, snap->mem_free, s->t->nnodes * sizeof(int64_t));
	if (s->t->npage_sizes)
		memcpy(s->pool_free, snap->pool_free,
		       (size_t)s->t->nnodes * s->t->npage_sizes * sizeof(int64_t));
	memcpy(s->shared_vcpus, snap->shared_vcpus, s->t->nnodes * sizeof(unsigned));
}

static bool
core_whole(const struct solver *s, unsigned c)
{
	return s->core_usable[c] > 0 && s->core_free[c] == s->core_usable[c];
}

static unsigned
node_pool_size(const struct solver *s, unsigned n)
{
	/* The node's cores hold exactly its cpuset: count the pool there in two calls, not one
	 * per PU. */
	hwloc_bitmap_and(s->pool_part, s->pool, s->t->nodes[n].cpuset);
	return (unsigned)hwloc_bitmap_weight(s->pool_part);
}

/* Free memory of one kind on a node, in MiB: normal memory (page -1, below 0 when shared
 * guests overcommit), or what the whole free pages of a hugepage pool hold. */
static int64_t
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
static int64_t
node_free_pages(const struct solver *s, unsigned n, unsigned page)
{
	const struct tmap_topology *t = s->t;
	uint64_t total = t->nodes[n].huge_pages[page];
	int64_t used_mib = (int64_t)((total * t->page_kib[page]) >> 10) -
			   s->pool_free[page * t->nnodes + n];

	return (int64_t)total - used_mib * 1024 / (int64_t)t->page_kib[page];
}

/* Take memory of one kind from a node (mib < 0: give it back). */
static void
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

/* Memory a node can still give this guest: shared guests may overcommit normal memory;
 * hugepages are never overcommitted. */
static uint64_t
node_memory(const struct solver *s, unsigned n, const struct demand *d)
{
	int64_t extra = 0, room;

	if (d->cpu == TMAP_CPU_SHARED && s->mem_ratio > 1.0 && d->page == -1)
		extra = (int64_t)(s->t->nodes[n].memory_mib * (s->mem_ratio - 1.0));
	room = d->free[n] + extra;
	return room > 0 ? (uint64_t)room : 0;
}

/* Capacity of a node for this guest, in vcpus. */
static unsigned
node_capacity(const struct solver *s, unsigned n, const struct demand *d)
{
	const struct topo_node *node = &s->t->nodes[n];
	unsigned cap = 0;

	if (d->cpu == TMAP_CPU_SHARED) {
		/* The node's pool, and the free PUs it may still take, times the overcommit,
		 * less the shared vcpus already there. */
		unsigned pus = node_pool_size(s, n);
		double total;

		if (!s->fixed_pool)
			for (unsigned i = 0; i < node->ncores; i++)
				pus += s->core_free[node->cores[i]];
		total = pus * s->cpu_ratio;
		return total > s->shared_vcpus[n] ? (unsigned)(total - s->shared_vcpus[n]) : 0;
	}
	for (unsigned i = 0; i < node->ncores; i++) {
		unsigned c = node->cores[i];

		switch (d->policy) {
		case TMAP_THREAD_PREFER:
			/* no division in the common cases (one thread, or two on a two-thread
			 * host): this runs for every core of the host */
			if (d->group == 1)
				cap += s->core_free[c];
			else if (d->group == 2)
				cap += s->core_free[c] & ~1u;
			else
				cap += s->core_free[c] / d->group * d->group;
			break;
		case TMAP_THREAD_ISOLATE:
			cap += core_whole(s, c);
			break;
		case TMAP_THREAD_REQUIRE:
			if (!core_whole(s, c) || s->core_usable[c] < 2 ||
			    s->core_usable[c] < d->group)
				break;
			cap += d->group > 1 ? d->group : s->core_usable[c];
			break;
		}
	}
	return cap;
}

/* What the capacity counts, for messages. */
static const char *
unit_name(const struct demand *d)
{
	if (d->cpu == TMAP_CPU_SHARED)
		return "shared vcpus (pool PUs times the cpu overcommit)";
	switch (d->policy) {
	case TMAP_THREAD_ISOLATE:
		return "whole free cores (thread policy isolate)";
	case TMAP_THREAD_REQUIRE:
		return "PUs on whole free SMT cores (thread policy require)";
	default:
		return "free PUs";
	}
}

static bool
cell_fits(const struct solver *s, const struct demand *d, const unsigned *cap, unsigned n,
	  const struct cell_req *req, unsigned cell)
{
	unsigned need = req->vcpus + (cell == 0 && d->emulator_isolate ? d->emulator_units : 0);

	if (s->t->nodes[n].cpuless || node_memory(s, n, d) < req->memory_mib)
		return false;
	return cap[n] >= need;
}

/* The size class of a capacity: its power of two. A placement that lowers the class of the
 * largest capacity left on any node breaks the one node that could still take a big cell. */
static unsigned
size_class(unsigned cap)
{
	unsigned k = 0;

	while (cap >>= 1)
		k++;
	return k;
}

/* Could node n (with CPUs), with this capacity and memory of the kind the guest in
 * progress uses, take a cell of this shape? A shape in another kind of memory (normal pages,
 * or another pool) finds that memory as it is: the guest does not take from it. */
static bool
shape_takes(const struct solver *s, const struct shape *sh, unsigned n, unsigned cap,
	    uint64_t mem)
{
	if (cap < sh->vcpus)
		return false;
	if (sh->page != s->page)
		return node_free_mib(s, n, sh->page) >= (int64_t)sh->memory_mib;
	return mem >= sh->memory_mib;
}

static void
remember_shape(struct solver *s, const struct cell_req *req, unsigned ncells)
{
	struct shape sh = {ncells, 0, 0, s->page};

	for (unsigned c = 0; c < ncells; c++) {
		if (req[c].vcpus > sh.vcpus)
			sh.vcpus = req[c].vcpus;
		if (req[c].memory_mib > sh.memory_mib)
			sh.memory_mib = req[c].memory_mib;
	}
	s->recent[s->next_recent] = sh;
	s->next_recent = (s->next_recent + 1) % RECENT;
	if (s->nrecent < RECENT)
		s->nrecent++;
}

/* ------------------------------------------------------------------------------------- */
/* Bipartite matching of cells to distinct nodes (Kuhn's augmenting paths). */

struct matching {
	unsigned ncells, nnodes;
	const bool *fit;	/* ncells x nnodes */
	const bool *allowed;	/* per node */
	int *node_of;		/* per cell, -1 */
	int *cell_of;		/* per node, -1 */
	bool *visited;		/* per node */
};

static bool
augment(struct matching *m, unsigned cell)
{
	for (unsigned n = 0; n < m->nnodes; n++) {
		if (!m->allowed[n] || m->visited[n] || !m->fit[cell * m->nnodes + n])
			continue;
		m->visited[n] = true;
		if (m->cell_of[n] < 0 || augment(m, (unsigned)m->cell_of[n])) {
			m->cell_of[n] = (int)cell;
			m->node_of[cell] = (int)n;
			return true;
		}
	}
	return false;
}

/* Can the cells not fixed yet (node_of < 0) all get distinct allowed nodes? */
static bool
matching_complete(struct matching *m, const int *fixed)
{
	for (unsigned n = 0; n < m->nnodes; n++)
		m->cell_of[n] = -1;
	for (unsigned c = 0; c < m->ncells; c++) {
		m->node_of[c] = fixed[c];
		if (fixed[c] >= 0)
			m->cell_of[fixed[c]] = (int)c;
	}
	for (unsigned c = 0; c < m->ncells; c++) {
		if (m->node_of[c] >= 0)
			continue;
		memset(m->visited, 0, m->nnodes * sizeof(bool));
		for (unsigned n = 0; n < m->nnodes; n++)
			m->visited[n] = m->cell_of[n] >= 0 && fixed[m->cell_of[n]] >= 0;
		if (!augment(m, c))
			return false;
	}
	return true;
}

/* With no cell fixed, and nodes only ever added to the allowed ones: grow the matching found
 * so far to a maximum one (a cell with no augmenting path now has none after the others
 * augment), and say whether every cell has a node. Start from matching_reset(). */
static bool
matching_grow(struct matching *m)
{
	for (unsigned c = 0; c < m->ncells; c++) {
		if (m->node_of[c] >= 0)
			continue;
		memset(m->visited, 0, m->nnodes * sizeof(bool));
		if (!augment(m, c))
			return false;
	}
	return true;
}

static void
matching_reset(struct matching *m)
{
	for (unsigned n = 0; n < m->nnodes; n++)
		m->cell_of[n] = -1;
	for (unsigned c = 0; c < m->ncells; c++)
		m->node_of[c] = -1;
}

static unsigned long
set_distance(const struct tmap_topology *t, const int *node_of, unsigned ncells)
{
	unsigned long sum = 0;

	for (unsigned i = 0; i < ncells; i++)
		for (unsigned j = i + 1; j < ncells; j++)
			sum += topo_distance(t, (unsigned)node_of[i], (unsigned)node_of[j]);
	return sum;
}

struct sort_ctx {
	const struct tmap_topology *t;
	unsigned anchor;
	const unsigned *key;	/* secondary key, larger first; may be NULL */
};

/*
 * On a host of two-thread cores, under thread policy prefer, a node's capacity is its free
 * PUs, and an odd count means a core with one sibling taken: an odd cell that lands there
 * fills that hole, one that lands on an even node breaks a whole core. Other policies count
 * whole cores, which every fit leaves whole.
 */
static bool
pairs_matter(const struct solver *s, const struct demand *d)
{
	return d->cpu == TMAP_CPU_DEDICATED && d->policy == TMAP_THREAD_PREFER &&
	       s->t->max_threads == 2;
}

/* Does a cell of `need` vcpus on node n leave every core it touches whole or full? */
static bool
leaves_even(const struct solver *s, const struct demand *d, const unsigned *cap, unsigned n,
	    unsigned need)
{
	return !pairs_matter(s, d) || (cap[n] - need) % 2 == 0;
}

/*
 * The nodes by room, most first, then by index; with odd_first, the nodes of odd room before
 * the others. key: room for a key per node. Nodes are few: each node's place is counted
 * from the keys (no branch to mispredict), on a host of up to 64 nodes.
 */
static void
nodes_by_room(const unsigned *cap, unsigned N, bool odd_first, uint64_t *key, unsigned *ret)
{
	for (unsigned n = 0; n < N; n++)
		key[n] = (uint64_t)(odd_first && cap[n] % 2) << 63 | (uint64_t)cap[n] << 31 |
			 ((UINT32_MAX >> 1) - n);
	if (N > 64) {
		for (unsigned n = 0; n < N; n++)
			ret[n] = n;
		for (unsigned i = 1; i < N; i++)
			for (unsigned j = i; j > 0 && key[ret[j]] > key[ret[j - 1]]; j--) {
				unsigned tmp = ret[j];

				ret[j] = ret[j - 1];
				ret[j - 1] = tmp;
			}
		return;
	}
	for (unsigned n = 0; n < N; n++) {
		unsigned place = 0;

		for (unsigned m = 0; m < N; m++)
			place += key[m] > key[n];
		ret[place] = n;
	}
}

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
 * How useful a host stays: how many of the latest requests it could still take, each on its
 * own (a request fits when as many nodes as it has cells take its largest cell). Placing a
 * guest where it leaves this highest keeps the holes that the guests this host actually
 * receives need (a whole node for a big cell, room on several nodes for a multi-cell guest),
 * which neither best fit nor spreading does on every stream.
 *
 * Candidates are judged by difference: the nodes that take each recent request are counted
 * once for the host as it is, and a candidate placement (cells on distinct nodes, each taking
 * its vcpus, and cell 0 the isolated emulator's too, from its node's capacity and its memory
 * from the node's) only changes its own nodes' share.
 */
struct outlook {
	struct shape *shapes;	/* the distinct recent shapes, nshapes of them */
	unsigned *weight;	/* per distinct shape: how many recent requests had it */
	unsigned nshapes;
	unsigned *takers;	/* per distinct shape: the nodes that take it now */
	bool *takes;		/* nshapes x nnodes: does the node take the shape now? */
	unsigned useful;	/* recent requests that fit whatever a candidate takes */
	unsigned *critical;	/* the shapes a candidate may stop fitting, ncritical of them */
	unsigned ncritical;
	uint64_t *mem;		/* per node: node_memory() now */
	unsigned top, second;	/* the largest capacity of a node with CPUs, and of the others */
	unsigned top_node;
};

/* For candidates of ncells cells. Taking room never makes a node take a shape it did not, and
 * the cells take from ncells nodes at most: a shape with ncells more takers than it needs
 * keeps fitting, one with fewer than it needs keeps not fitting; only the others are judged. */
static int
outlook_init(const struct solver *s, const struct demand *d, const unsigned *cap,
	     unsigned ncells, struct outlook *o)
{
	unsigned N = s->t->nnodes;

	o->shapes = scratch_new(s, s->nrecent, struct shape);
	o->weight = scratch_new(s, s->nrecent, unsigned);
	o->takers = scratch_new(s, s->nrecent, unsigned);
	o->takes = scratch_new(s, (size_t)s->nrecent * N, bool);
	o->critical = scratch_new(s, s->nrecent, unsigned);
	o->mem = scratch_new(s, N, uint64_t);
	if (!o->shapes || !o->weight || !o->takers || !o->takes || !o->critical || !o->mem)
		return -ENOMEM;
	/* A stream repeats itself: each distinct shape is judged once, counted as often. */
	for (unsigned i = 0; i < s->nrecent; i++) {
		const struct shape *sh = &s->recent[i];
		unsigned k = 0;

		while (k < o->nshapes && (o->shapes[k].ncells != sh->ncells ||
					  o->shapes[k].vcpus != sh->vcpus ||
					  o->shapes[k].memory_mib != sh->memory_mib ||
					  o->shapes[k].page != sh->page))
			k++;
		if (k == o->nshapes)
			o->shapes[o->nshapes++] = *sh;
		o->weight[k]++;
	}
	for (unsigned n = 0; n < N; n++) {
		o->mem[n] = node_memory(s, n, d);
		if (s->t->nodes[n].cpuless)
			continue;
		if (cap[n] > o->top) {
			o->second = o->top;
			o->top = cap[n];
			o->top_node = n;
		} else if (cap[n] > o->second) {
			o->second = cap[n];
		}
	}
	for (unsigned n = 0; n < N; n++) {
		if (s->t->nodes[n].cpuless)
			continue;
		for (unsigned k = 0; k < o->nshapes; k++) {
			bool takes = shape_takes(s, &o->shapes[k], n, cap[n], o->mem[n]);

			o->takes[k * N + n] = takes;
			o->takers[k] += takes;
		}
	}
	for (unsigned k = 0; k < o->nshapes; k++) {
		unsigned takers = o->takers[k], needed = o->shapes[k].ncells;

		if (takers >= needed + ncells)
			o->useful += o->weight[k];
		else if (takers >= needed)
			o->critical[o->ncritical++] = k;
	}
	return 0;
}

/* How node n (with CPUs) changes the number of nodes that take distinct shape k when its
 * capacity and memory go from the host's to cap_n and mem_n: -1, 0 or 1. */
static int
takers_change(const struct solver *s, const struct outlook *o, unsigned k, unsigned n,
	      unsigned cap_n, uint64_t mem_n)
{
	return (int)shape_takes(s, &o->shapes[k], n, cap_n, mem_n) -
	       (int)o->takes[k * s->t->nnodes + n];
}

/* How useful the host stays, and the size class of its largest capacity, once cell 0 (req)
 * lands on node n. */
static void
outlook_after(const struct solver *s, const struct demand *d, const unsigned *cap,
	      const struct cell_req *req, const struct outlook *o, unsigned n,
	      unsigned *ret_useful, unsigned *ret_largest)
{
	unsigned need = req->vcpus + (d->emulator_isolate ? d->emulator_units : 0);
	unsigned cap_n = cap[n] > need ? cap[n] - need : 0;
	uint64_t mem_n = o->mem[n] > req->memory_mib ? o->mem[n] - req->memory_mib : 0;
	unsigned useful = o->useful, biggest = n == o->top_node ? o->second : o->top;

	for (unsigned j = 0; j < o->ncritical; j++) {
		unsigned k = o->critical[j];

		if ((int)o->takers[k] + takers_change(s, o, k, n, cap_n, mem_n) >=
		    (int)o->shapes[k].ncells)
			useful += o->weight[k];
	}
	*ret_useful = useful;
	*ret_largest = size_class(cap_n > biggest ? cap_n : biggest);
}

/*
 * What cells on the distinct nodes node_of[] leave: how useful the host stays, and the size
 * class of its largest capacity. by_room: the nodes, most capacity first; cap_after and
 * mem_after: room for a value per cell.
 */
static void
judge_set(const struct solver *s, const struct demand *d, const unsigned *cap,
	  const struct cell_req *req, const struct outlook *o, const unsigned *by_room,
	  const int *node_of, unsigned ncells, unsigned *cap_after, uint64_t *mem_after,
	  unsigned *ret_useful, unsigned *ret_largest)
{
	unsigned useful = 0, biggest = 0;

	for (unsigned c = 0; c < ncells; c++) {
		unsigned n = (unsigned)node_of[c];
		unsigned need = req[c].vcpus + (c == 0 && d->emulator_isolate ? d->emulator_units : 0);

		cap_after[c] = cap[n] > need ? cap[n] - need : 0;
		mem_after[c] = o->mem[n] > req[c].memory_mib ? o->mem[n] - req[c].memory_mib : 0;
		if (cap_after[c] > biggest)
			biggest = cap_after[c];
	}
	/* The largest capacity elsewhere: the first node with CPUs, by room, outside the set. */
	for (unsigned k = 0; k < s->t->nnodes; k++) {
		unsigned n = by_room[k];
		bool in_set = false;

		for (unsigned c = 0; c < ncells && !in_set; c++)
			in_set = node_of[c] == (int)n;
		if (in_set || s->t->nodes[n].cpuless)
			continue;
		if (cap[n] > biggest)
			biggest = cap[n];
		break;
	}
	for (unsigned j = 0; j < o->ncritical; j++) {
		unsigned k = o->critical[j];
		int takers = (int)o->takers[k];

		for (unsigned c = 0; c < ncells; c++)
			takers += takers_change(s, o, k, (unsigned)node_of[c], cap_after[c],
						mem_after[c]);
		if (takers >= (int)o->shapes[k].ncells)
			useful += o->weight[k];
	}
	*ret_useful = o->useful + useful;
	*ret_largest = size_class(biggest);
}

/*
 * Nodes from anchor a, one distance class at a time: class k's nodes (k >= 1: the k-th
 * nearest distance from a; class 0 is a alone) in the order of `within` (e.g. most room
 * first, then by index), appended to order[len...]; the new length. An anchor's prefix rarely
 * reaches past its nearest classes, so the order is made only as far as it is read.
 */
static unsigned
order_class(const struct solver *s, unsigned a, const unsigned *within, unsigned k,
	    unsigned *order, unsigned len)
{
	unsigned N = s->t->nnodes;
	const unsigned *class = &s->dist_class[(size_t)a * N];

	if (k == 0) {
		order[len] = a;
		return len + 1;
	}
	/* without a branch to mispredict: every node is written, the class's ones kept (so
	 * order has room for one more than the nodes) */
	for (unsigned i = 0; i < N; i++) {
		order[len] = within[i];
		len += class[within[i]] == k;
	}
	return len;
}

/*
 * Distinct nodes for several cells, closest first. For each anchor node, grow the prefix of
 * nodes ordered by distance from it until every cell can be matched to its own node; then fix
 * cells largest first on the node of the prefix with the most room, as long as the rest can
 * still be matched, so big cells land apart. The set with the smallest total pairwise distance
 * wins, then what it leaves useful (see choose_one()).
 */
static int
choose_distinct(const struct solver *s, const struct demand *d, const unsigned *cap,
		const struct cell_req *req, unsigned ncells, int *ret_node_of)
{
	const struct tmap_topology *t = s->t;
	unsigned N = t->nnodes;
	bool *fit = scratch_new(s, (size_t)ncells * N, bool);
	bool *allowed = scratch_new(s, N, bool);
	bool *visited = scratch_new(s, N, bool);
	int *node_of = scratch_new(s, ncells, int);
	int *cell_of = scratch_new(s, N, int);
	int *fixed = scratch_new(s, ncells, int);
	unsigned *order = scratch_new(s, N + 1, unsigned);	/* +1: see order_class() */
	unsigned *by_size = scratch_new(s, ncells, unsigned);
	int *best = scratch_new(s, ncells, int);
	unsigned *cap_after = scratch_new(s, ncells, unsigned);
	uint64_t *mem_after = scratch_new(s, ncells, uint64_t);
	unsigned long best_dist = ULONG_MAX, best_left = ULONG_MAX;
	unsigned best_useful = 0, best_largest = 0, best_even = 0, nseen = 0;
	bool best_judged = false, odd_cells = false;
	uint64_t *seen_sets = scratch_new(s, N, uint64_t);
	unsigned *by_room = scratch_new(s, N, unsigned);
	unsigned *odd_order = scratch_new(s, N, unsigned);
	uint64_t *key = scratch_new(s, N, uint64_t);
	unsigned *joining = by_room;	/* the order nodes as close join an anchor's prefix */
	unsigned *reach = scratch_new(s, ncells, unsigned);
	bool *fits_every_cell = scratch_new(s, N, bool);
	bool *node_used = scratch_new(s, N, bool);
	struct outlook o = {0};
	struct matching m;

	if (!fit || !allowed || !visited || !node_of || !cell_of || !fixed || !order || !by_size ||
	    !best || !cap_after || !mem_after || !seen_sets || !by_room || !odd_order ||
	    !key || !reach || !fits_every_cell || !node_used)
		return -ENOMEM;
	m = (struct matching){ncells, N, fit, allowed, node_of, cell_of, visited};
	for (unsigned n = 0; n < N; n++)
		fits_every_cell[n] = true;
	for (unsigned c = 0; c < ncells; c++)
		for (unsigned n = 0; n < N; n++) {
			fit[c * N + n] = cell_fits(s, d, cap, n, &req[c], c);
			fits_every_cell[n] &= fit[c * N + n];
		}
	/* Cells largest first, then by number. */
	for (unsigned c = 0; c < ncells; c++)
		by_size[c] = c;
	for (unsigned i = 1; i < ncells; i++)
		for (unsigned j = i; j > 0 && req[by_size[j]].vcpus > req[by_size[j - 1]].vcpus; j--) {
			unsigned tmp = by_size[j];

			by_size[j] = by_size[j - 1];
			by_size[j - 1] = tmp;
		}
	nodes_by_room(cap, N, false, key, by_room);
	/* Nodes as close join an anchor's prefix most room first; but for a guest with an odd
	 * cell, first the nodes where it would fill a free sibling (see leaves_even()). */
	for (unsigned c = 0; c < ncells; c++)
		odd_cells |= pairs_matter(s, d) && req[c].vcpus % 2;
	if (odd_cells) {
		joining = odd_order;
		nodes_by_room(cap, N, true, key, joining);
	}

	for (unsigned a = 0; a < N; a++) {
		unsigned long dist, left = 0;
		unsigned len, useful, largest, even = 0, fit_all = 0, unreached = ncells, spare;
		unsigned ordered = 0, next_class = 0;
		uint64_t mask = 0;	/* the allowed nodes, when N <= 64 */
		bool anchor_useful = false;

		for (unsigned c = 0; c < ncells; c++)
			anchor_useful |= fit[c * N + a];
		if (!anchor_useful)
			continue;
		memset(allowed, 0, N * sizeof(bool));
		memset(reach, 0, ncells * sizeof(unsigned));
		for (unsigned c = 0; c < ncells; c++)
			fixed[c] = -1;
		matching_reset(&m);
		for (len = 0; len < N; len++) {
			unsigned n;

			if (len == ordered)
				ordered = order_class(s, a, joining, next_class++, order, ordered);
			n = order[len];
			allowed[n] = true;
			mask |= N <= 64 ? UINT64_C(1) << n : 0;
			/* Enough nodes that take every cell make a matching without searching; a
			 * cell that no allowed node takes leaves none to search for. */
			fit_all += fits_every_cell[n];
			for (unsigned c = 0; c < ncells; c++)
				if (fit[c * N + n] && reach[c]++ == 0)
					unreached--;
			if (len + 1 >= ncells &&
			    (fit_all >= ncells || (!unreached && matching_grow(&m))))
				break;
		}
		if (len == N)
			continue;
		/* The same node set as an earlier anchor's decides the same way: skip it. */
		if (N <= 64) {
			bool seen = false;

			for (unsigned k = 0; k < nseen && !seen; k++)
				seen = seen_sets[k] == mask;
			if (seen)
				continue;
			seen_sets[nseen++] = mask;
		}
		/* Fix the cells, largest first, on the allowed node with the most room that still
		 * leaves the other cells a matching: candidates in that order, the first that
		 * keeps a full matching wins. spare: free allowed nodes that take every cell. */
		memset(node_used, 0, N * sizeof(bool));
		spare = fit_all;
		for (unsigned i = 0; i < ncells; i++) {
			unsigned c = by_size[i];
			int pick = -1;

			/* most room first; ties keep node order */
			for (unsigned k = 0; k < N && pick < 0; k++) {
				unsigned n = by_room[k];

				if (!allowed[n] || !fit[c * N + n] || node_used[n])
					continue;
				fixed[c] = (int)n;
				/* The last cell needs no check: its node fits it and is free; nor does
				 * any cell when enough free allowed nodes still take every cell. */
				if (i + 1 == ncells || spare - fits_every_cell[n] >= ncells - i - 1 ||
				    matching_complete(&m, fixed))
					pick = (int)n;
				fixed[c] = -1;
			}
			if (pick < 0)
				return -EINVAL; /* cannot happen: the prefix had a full matching */
			fixed[c] = pick;
			node_used[pick] = true;
			spare -= fits_every_cell[pick];
			left += cap[pick] - req[c].vcpus;
			even += leaves_even(s, d, cap, (unsigned)pick,
					    req[c].vcpus + (c == 0 && d->emulator_isolate ? d->emulator_units : 0));
		}
		/* Closest first; then what stays useful; then the biggest hole kept; then the
		 * fewest whole cores broken; then the most room left, spreading the load. What a
		 * set leaves is judged only against a set as close: a farther one loses, a closer
		 * one wins. */
		dist = set_distance(t, fixed, ncells);
		if (best_dist != ULONG_MAX && dist > best_dist)
			continue;
		if (best_dist == ULONG_MAX || dist < best_dist) {
			best_even = even;
			best_dist = dist;
			best_left = left;
			best_judged = false;
			memcpy(best, fixed, ncells * sizeof(int));
			continue;
		}
		if (!o.takers && outlook_init(s, d, cap, ncells, &o) < 0)
			return -ENOMEM;
		if (!best_judged) {
			judge_set(s, d, cap, req, &o, by_room, best, ncells, cap_after, mem_after,
				  &best_useful, &best_largest);
			best_judged = true;
		}
		judge_set(s, d, cap, req, &o, by_room, fixed, ncells, cap_after, mem_after, &useful,
			  &largest);
		if (useful != best_useful ? useful > best_useful :
		    largest != best_largest ? largest > best_largest :
		    even != best_even ? even > best_even : left > best_left) {
			best_even = even;
			best_left = left;
			best_useful = useful;
			best_largest = largest;
			memcpy(best, fixed, ncells * sizeof(int));
		}
	}
	if (best_dist == ULONG_MAX)
		return -ENOSPC;
	memcpy(ret_node_of, best, ncells * sizeof(int));
	return 0;
}

static bool
cells_fit_somewhere(const struct solver *s, const struct demand *d, const unsigned *cap,
		    const struct cell_req *req, unsigned ncells)
{
	for (unsigned c = 0; c < ncells; c++) {
		bool any = false;

		for (unsigned n = 0; n < s->t->nnodes && !any; n++)
			any = cell_fits(s, d, cap, n, &req[c], c);
		if (!any)
			return false;
	}
	return true;
}

/* Shared vcpus the node's pool takes as it is, without growing. */
static long
pool_room(const struct solver *s, unsigned n)
{
	return (long)(node_pool_size(s, n) * s->cpu_ratio) - (long)s->shared_vcpus[n];
}

/* 0: the node's pool takes the vcpus as it is; 1: it must grow; 2: the node has none. */
static int
shared_rank(const struct solver *s, unsigned n, unsigned vcpus)
{
	if (node_pool_size(s, n) == 0)
		return 2;
	return pool_room(s, n) >= (long)vcpus ? 0 : 1;
}

/* One cell: the node it fills best (dedicated), or for a shared cell the pool it joins. */
static int
choose_one(const struct solver *s, const struct demand *d, const unsigned *cap,
	   const struct cell_req *req, int *ret_node)
{
	struct outlook o = {0};
	unsigned up = 0, lp = 0;
	bool judged = false;
	int pick = -1;

	for (unsigned n = 0; n < s->t->nnodes; n++) {
		if (!cell_fits(s, d, cap, n, req, 0))
			continue;
		if (pick < 0) {
			pick = (int)n;
		} else if (d->cpu == TMAP_CPU_SHARED) {
			/* Join a pool that has room as it is (the fullest such), so pools take no
			 * PU from dedicated guests until they must; else grow a pool, so shared
			 * guests multiplex over one; else start one where there is most room. */
			int rank_n = shared_rank(s, n, req->vcpus);
			int rank_p = shared_rank(s, (unsigned)pick, req->vcpus);

			if (rank_n != rank_p ? rank_n < rank_p :
			    rank_n == 0 ? pool_room(s, n) < pool_room(s, (unsigned)pick) :
					  cap[n] > cap[pick] || (cap[n] == cap[pick] &&
								 s->mem_free[n] > s->mem_free[pick]))
				pick = (int)n;
		} else {
			unsigned un, ln;

			if (!judged) {
				if (outlook_init(s, d, cap, 1, &o) < 0)
					return -ENOMEM;
				outlook_after(s, d, cap, req, &o, (unsigned)pick, &up, &lp);
				judged = true;
			}
			outlook_after(s, d, cap, req, &o, n, &un, &ln);
			if (un != up ? un > up :
			    ln != lp ? ln > lp :
			    cap[n] != cap[pick] ? cap[n] > cap[pick] : d->free[n] > d->free[pick]) {
				pick = (int)n;
				up = un;
				lp = ln;
			}
		}
	}
	if (pick < 0)
		return -ENOSPC;
	*ret_node = pick;
	return 0;
}

/* More cells than nodes with CPUs: cells share nodes, each to the node with most capacity
 * left, nearest to cell 0's node on ties. */
static int
choose_shared_nodes(const struct solver *s, const struct demand *d, const unsigned *cap,
		    const struct cell_req *req, unsigned ncells, int *node_of)
{
	const struct tmap_topology *t = s->t;
	unsigned *left = scratch_new(s, t->nnodes, unsigned);
	uint64_t *mem = scratch_new(s, t->nnodes, uint64_t);

	if (!left || !mem)
		return -ENOMEM;
	memcpy(left, cap, t->nnodes * sizeof(unsigned));
	for (unsigned n = 0; n < t->nnodes; n++)
		mem[n] = node_memory(s, n, d);
	for (unsigned c = 0; c < ncells; c++) {
		unsigned need = req[c].vcpus + (c == 0 && d->emulator_isolate ? d->emulator_units : 0);
		int pick = -1;

		for (unsigned n = 0; n < t->nnodes; n++) {
			if (t->nodes[n].cpuless || mem[n] < req[c].memory_mib ||
			    (d->cpu == TMAP_CPU_SHARED ? left[n] == 0 : left[n] < need))
				continue;
			if (pick < 0 || left[n] > left[pick] ||
			    (left[n] == left[pick] && c > 0 &&
			     topo_distance(t, (unsigned)node_of[0], n) <
				     topo_distance(t, (unsigned)node_of[0], (unsigned)pick)))
				pick = (int)n;
		}
		if (pick < 0)
			return -ENOSPC;
		node_of[c] = pick;
		if (d->cpu != TMAP_CPU_SHARED)
			left[pick] -= need;
		mem[pick] -= req[c].memory_mib;
	}
	return 0;
}

/* ------------------------------------------------------------------------------------- */
/* Cores and PUs within a node */

/*
 * A core of the node for `need` more vcpus: an exact fit first, then the smallest core that
 * holds them all, then the largest. whole: only wholly free cores, sized by their usable PUs.
 * Ties go to the L3 group `l3`, then to the lower core.
 */
static int
pick_core(const struct solver *s, unsigned n, unsigned need, bool whole, unsigned min_size,
	  int l3, bool only_l3)
{
	const struct topo_node *node = &s->t->nodes[n];
	int pick = -1;
	unsigned pick_class = 3, pick_size = 0;
	bool pick_l3 = false;

	for (unsigned i = 0; i < node->ncores; i++) {
		unsigned c = node->cores[i];
		unsigned size = whole ? (core_whole(s, c) ? s->core_usable[c] : 0) : s->core_free[c];
		unsigned cls;
		bool same_l3 = l3 >= 0 && s->t->cores[c].l3 == l3;
		bool better;

		if (size == 0 || size < min_size || (only_l3 && !same_l3))
			continue;
		cls = size == need ? 0 : size > need ? 1 : 2;
		if (cls != pick_class)
			better = cls < pick_class;
		else if (cls == 1 && size != pick_size)
			better = size < pick_size;
		else if (cls == 2 && size != pick_size)
			better = size > pick_size;
		else
			better = same_l3 && !pick_l3;
		if (pick < 0 || better) {
			pick = (int)c;
			pick_class = cls;
			pick_size = size;
			pick_l3 = same_l3;
		}
	}
	return pick;
}

/* What one core gives this guest, in vcpus, as node_capacity() counts it. */
static unsigned
core_units(const struct solver *s, unsigned c, const struct demand *d)
{
	switch (d->policy) {
	case TMAP_THREAD_ISOLATE:
		return core_whole(s, c);
	case TMAP_THREAD_REQUIRE:
		if (!core_whole(s, c) || s->core_usable[c] < 2 || s->core_usable[c] < d->group)
			return 0;
		return d->group > 1 ? d->group : s->core_usable[c];
	default:
		return s->core_free[c] / d->group * d->group;
	}
}

/*
 * The L3 group of node n a cell of `need` vcpus should live in: the one it fills best among
 * those that hold it whole (so the others stay whole for bigger cells), or -1 when none
 * does, or the node has a single group.
 */
static int
best_l3(const struct solver *s, unsigned n, const struct demand *d, unsigned need)
{
	const struct topo_node *node = &s->t->nodes[n];
	int pick = -1, first = -1;
	unsigned pick_cap = UINT_MAX;
	bool several = false;

	/* No more L3 groups than nodes: no node has a choice to make. */
	if (s->t->nl3 <= s->t->nnodes)
		return -1;
	for (unsigned i = 0; i < node->ncores; i++) {
		int l3 = s->t->cores[node->cores[i]].l3;
		unsigned cap = 0;
		bool seen = false;

		if (l3 < 0)
			continue;
		if (first < 0)
			first = l3;
		several |= l3 != first;
		for (unsigned j = 0; j < i && !seen; j++)
			seen = s->t->cores[node->cores[j]].l3 == l3;
		if (seen)
			continue;
		for (unsigned j = i; j < node->ncores; j++)
			if (s->t->cores[node->cores[j]].l3 == l3)
				cap += core_units(s, node->cores[j], d);
		if (cap >= need && cap < pick_cap) {
			pick = l3;
			pick_cap = cap;
		}
	}
	return several ? pick : -1;
}

/* Take up to `count` free PUs of core c (lowest OS index first) into out[]; hold: the guest
 * also keeps the core's other free PUs from everyone else. Returns the number taken. */
static unsigned
take_pus(struct solver *s, unsigned c, unsigned count, bool hold, unsigned *out,
	 hwloc_bitmap_t held)
{
	const struct topo_core *core = &s->t->cores[c];
	unsigned got = 0;

	for (unsigned k = 0; k < core->npus; k++) {
		unsigned pu = core->pus[k];

		if (!hwloc_bitmap_isset(s->usable, pu) || hwloc_bitmap_isset(s->taken, pu))
			continue;
		if (got < count) {
			out[got++] = pu;
		} else if (!hold) {
			continue;
		}
		hwloc_bitmap_set(s->taken, pu);
		hwloc_bitmap_set(held, pu);
		s->core_free[c]--;
	}
	return got;
}

/* Place the vcpus of one cell on node n. vcpu_pu[v] receives each vcpu's PU. */
static int
alloc_cell(struct solver *s, unsigned n, const struct demand *d, hwloc_const_bitmap_t vcpus,
	   unsigned *vcpu_pu, hwloc_bitmap_t held, int *l3)
{
	unsigned nv = (unsigned)hwloc_bitmap_weight(vcpus), done = 0, v;
	unsigned *list = scratch_new(s, nv, unsigned);
	unsigned *pus = scratch_new(s, nv, unsigned);
	unsigned k = 0;

	if (!list || !pus)
		return -ENOMEM;
	hwloc_bitmap_foreach_begin(v, vcpus) list[k++] = v;
	hwloc_bitmap_foreach_end();

	if (*l3 < 0)
		*l3 = best_l3(s, n, d, nv);
	while (done < nv) {
		unsigned left = nv - done, want, min;
		bool whole = d->policy != TMAP_THREAD_PREFER;
		unsigned got;
		int c;

		switch (d->policy) {
		case TMAP_THREAD_ISOLATE:
			want = 1;
			min = 1;
			break;
		case TMAP_THREAD_REQUIRE:
			want = d->group > 1 ? d->group : left;
			min = d->group > 1 ? d->group : 2;
			break;
		default:
			want = d->group > 1 ? d->group : left;
			min = d->group;
			break;
		}
		/* The cell's L3 group while it has room, then any core of the node. */
		c = *l3 >= 0 ? pick_core(s, n, want, whole, min, *l3, true) : -1;
		if (c < 0)
			c = pick_core(s, n, want, whole, min, *l3, false);
		if (c < 0)
			return -ENOSPC;
		if (*l3 < 0)
			*l3 = s->t->cores[c].l3;
		got = take_pus(s, (unsigned)c, want < left ? want : left, whole, pus + done, held);
		if (got == 0)
			return -ENOSPC;
		done += got;
	}
	for (unsigned i = 0; i < nv; i++)
		vcpu_pu[list[i]] = pus[i];
	return 0;
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
		.emulator_isolate = g->cpu_policy == TMAP_CPU_DEDICATED &&
				    g->emulator_policy == TMAP_EMULATOR_ISOLATE,
		.page_kib = g->page_kib,
		.page = -1,
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

static void
largest_node(const struct solver *s, const struct demand *d, const unsigned *cap,
	     unsigned *ret_cap, uint64_t *ret_mem)
{
	*ret_cap = 0;
	*ret_mem = 0;
	for (unsigned n = 0; n < s->t->nnodes; n++) {
		if (s->t->nodes[n].cpuless)
			continue;
		if (cap[n] > *ret_cap)
			*ret_cap = cap[n];
		if (node_memory(s, n, d) > *ret_mem)
			*ret_mem = node_memory(s, n, d);
	}
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

/* Say precisely why a guest does not fit. */
static int
no_fit(const struct solver *s, const struct demand *d, const unsigned *cap,
       const struct cell_req *req, unsigned ncells, bool implied)
{
	const struct tmap_topology *t = s->t;
	unsigned big_cap, usable_nodes = 0;
	uint64_t big_mem;

	largest_node(s, d, cap, &big_cap, &big_mem);
	if (d->policy == TMAP_THREAD_REQUIRE && t->max_threads < 2 && d->cpu == TMAP_CPU_DEDICATED)
		return tmap_error_set(s->err, -ENOSPC,
				      "%s: thread policy require needs host cores with SMT siblings; this host has 1 PU per core",
				      d->name);
	for (unsigned c = 0; c < ncells; c++) {
		unsigned need = req[c].vcpus;
		bool any = false;

		if (c == 0 && d->emulator_isolate)
			need += d->emulator_units;
		for (unsigned n = 0; n < t->nnodes; n++)
			any |= cell_fits(s, d, cap, n, &req[c], c);
		if (any)
			continue;
		if (d->page_kib && big_mem < req[c].memory_mib)
			return no_fit_pages(s, d, c, req[c].memory_mib, implied);
		if (implied) {
			unsigned long all_cap = 0;
			uint64_t all_mem = 0;

			for (unsigned n = 0; n < t->nnodes; n++) {
				all_cap += t->nodes[n].cpuless ? 0 : cap[n];
				all_mem += t->nodes[n].cpuless ? 0 : node_memory(s, n, d);
			}
			return tmap_error_set(s->err, -ENOSPC,
					      "%s: needs %u %s and %" PRIu64 " MiB; the largest free node has %u and %" PRIu64 " MiB, all nodes together %lu and %" PRIu64 " MiB",
					      d->name, need, unit_name(d), req[c].memory_mib, big_cap,
					      big_mem, all_cap, all_mem);
		}
		return tmap_error_set(s->err, -ENOSPC,
				      "%s: cell %u needs %u %s and %" PRIu64 " MiB on one node; the largest free node has %u and %" PRIu64 " MiB",
				      d->name, c, need, unit_name(d), req[c].memory_mib, big_cap,
				      big_mem);
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

/*
 * A guest without cells that no single node can hold: the fewest, closest nodes whose
 * capacity and memory add up, and cells that mirror them (vcpus at guest core boundaries,
 * memory in proportion). Fills *cells with the proposal and node_of with its nodes.
 */
static int
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
	uint64_t mem_left = g->memory_mib;
	/* A hugepage guest's cells each get whole pages: memory moves in pages (the guest's
	 * memory is whole pages, and so is what a pool has free). */
	uint64_t step = d->page_kib > 1024 ? d->page_kib >> 10 : 1;
	unsigned vcpus_left = g->vcpus, next_vcpu = 0;

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
	/* Every node gets at least one guest core; the first (anchor) nodes are filled first. */
	for (unsigned i = 0; i < c.n; i++) {
		unsigned n = best[i];
		unsigned room = cap[n] - (i == 0 && d->emulator_isolate ? d->emulator_units : 0);
		unsigned later = (c.n - i - 1) * unit;
		unsigned take = room / unit * unit;

		if (take > vcpus_left - later)
			take = vcpus_left - later;
		if (take == 0) {
			guest_cells_clear(&c);
			return -ENOSPC;
		}
		node_of[i] = (int)n;
		c.vcpus[i] = hwloc_bitmap_alloc();
		if (!c.vcpus[i]) {
			guest_cells_clear(&c);
			return -ENOMEM;
		}
		hwloc_bitmap_set_range(c.vcpus[i], next_vcpu, (int)(next_vcpu + take) - 1);
		c.nvcpus[i] = take;
		next_vcpu += take;
		vcpus_left -= take;
	}
	if (vcpus_left) {
		guest_cells_clear(&c);
		return -ENOSPC;
	}
	/* Memory in proportion to vcpus, clamped to what each node has; the rest goes to the
	 * nodes with room, in order. In steps of whole pages. */
	for (unsigned i = 0; i < c.n; i++) {
		uint64_t share = g->memory_mib * c.nvcpus[i] / g->vcpus / step * step;
		uint64_t room = node_memory(s, (unsigned)node_of[i], d) / step * step;

		/* every cell has some memory: at least a page */
		if (share == 0)
			share = step;
		c.memory_mib[i] = share < room ? share : room;
		if (c.memory_mib[i] > mem_left) {
			guest_cells_clear(&c);
			return -ENOSPC;
		}
		mem_left -= c.memory_mib[i];
	}
	for (unsigned i = 0; i < c.n && mem_left; i++) {
		uint64_t room = node_memory(s, (unsigned)node_of[i], d) / step * step - c.memory_mib[i];
		uint64_t add = room < mem_left ? room : mem_left;

		c.memory_mib[i] += add;
		mem_left -= add;
	}
	for (unsigned i = 0; i < c.n; i++)
		if (c.memory_mib[i] == 0)
			mem_left = 1;
	if (mem_left) {
		guest_cells_clear(&c);
		return -ENOSPC;
	}
	guest_cells_clear(cells);
	*cells = c;
	*ret_node_of = TAKE_PTR(node_of);
	return 0;
}

/* The PUs of the host core holding pu, "8,20": siblings are rarely neighbours. */
static char *
core_list(const struct tmap_topology *t, unsigned pu)
{
	const struct topo_core *core = &t->cores[t->pu_core[pu]];
	char buf[512];
	size_t len = 0;

	buf[0] = '\0';
	for (unsigned k = 0; k < core->npus && len < sizeof(buf); k++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%u", k ? "," : "",
					core->pus[k]);
	return strdup(buf);
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

/*
 * A shared cell of `vcpus` on node n: the node's pool grows from free PUs until it holds
 * cpu_ratio shared vcpus per PU (a given pool does not grow), and the cell floats over the
 * whole pool of the node (ret_pus, unless NULL).
 */
static int
shared_cell(struct solver *s, unsigned n, unsigned vcpus, hwloc_bitmap_t ret_pus)
{
	const struct topo_node *node = &s->t->nodes[n];
	unsigned want = (unsigned)((s->shared_vcpus[n] + vcpus) / s->cpu_ratio);
	unsigned have = node_pool_size(s, n);
	hwloc_bitmap_t grown = s->grown;

	hwloc_bitmap_zero(grown);
	if (want * s->cpu_ratio < s->shared_vcpus[n] + vcpus)
		want++;
	if (want == 0)
		want = 1;
	while (!s->fixed_pool && have < want) {
		/* Whole cores where possible, so shared and dedicated guests share no core. */
		int c = pick_core(s, n, want - have, false, 1, -1, false);
		unsigned got, pus[64];

		if (c < 0)
			return -ENOSPC;
		got = take_pus(s, (unsigned)c, want - have < 64 ? want - have : 64, false, pus, grown);
		if (got == 0)
			return -ENOSPC;
		have += got;
	}
	if (have == 0)
		return -ENOSPC;
	hwloc_bitmap_or(s->pool, s->pool, grown);
	s->shared_vcpus[n] += vcpus;
	for (unsigned i = 0; ret_pus && i < node->ncores; i++) {
		const struct topo_core *core = &s->t->cores[node->cores[i]];

		for (unsigned k = 0; k < core->npus; k++)
			if (hwloc_bitmap_isset(s->pool, core->pus[k]))
				hwloc_bitmap_set(ret_pus, core->pus[k]);
	}
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

/* Place one guest. On failure the solver is left as it was; before it takes anything, it is
 * saved in s->before. decide_only: the choices alone, without the words and lists a plan
 * carries, pg NULL, and the host put back as it was (tmap_host_fit()). */
static int
place_guest(struct solver *s, const struct tmap_guest *g, struct plan_guest *pg, bool decide_only)
{
	const struct tmap_topology *t = s->t;
	struct demand d = demand_of(t, g);
	unsigned *cap, *vcpu_pu;
	struct cell_req *req;
	int *node_of;
	struct guest_cells *cells = &s->cells;
	/* A decision alone takes PUs into the host's own set; a plan into the guest's. */
	hwloc_bitmap_t held = s->held;
	unsigned usable_nodes = 0;
	bool spread_out = false, sharing = false;
	int l3 = -1, r;

	scratch_reset(s->scratch);
	cap = scratch_new(s, t->nnodes, unsigned);
	if (!cap)
		return -ENOMEM;
	s->page = d.page;
	d.free = demand_free(s, &d);
	for (unsigned n = 0; n < t->nnodes; n++) {
		cap[n] = node_capacity(s, n, &d);
		usable_nodes += !t->nodes[n].cpuless;
	}
	/* The cells' vcpu sets wait for a decision: most guests are refused before. */
	r = guest_resolve_counts(g, cells);
	if (r < 0)
		return r;
	req = cell_requests(s, cells);
	node_of = scratch_new(s, cells->n, int);
	if (!req || !node_of)
		return -ENOMEM;
	/* Every request counts, placed or not: it is what this host is asked for. */
	if (d.cpu == TMAP_CPU_DEDICATED)
		remember_shape(s, req, cells->n);

	if (d.policy == TMAP_THREAD_REQUIRE && t->max_threads < 2 && d.cpu == TMAP_CPU_DEDICATED)
		return no_fit(s, &d, cap, req, cells->n, cells->implied);
	if (cells->n == 1) {
		r = choose_one(s, &d, cap, &req[0], &node_of[0]);
		if (r == -ENOSPC && cells->implied && !(s->flags & TMAP_SOLVE_NO_SPREAD)) {
			_cleanup_free_ int *spread_nodes = NULL;

			if (spread(s, &d, cap, g, cells, &spread_nodes) == 0) {
				req = cell_requests(s, cells);
				node_of = scratch_new(s, cells->n, int);
				if (!req || !node_of)
					return -ENOMEM;
				memcpy(node_of, spread_nodes, cells->n * sizeof(int));
				spread_out = true;
				r = 0;
			}
		}
	} else if (cells->n <= usable_nodes || (s->flags & TMAP_SOLVE_DISTINCT_CELLS)) {
		/* A cell that no node takes leaves no set to search for. */
		r = cells_fit_somewhere(s, &d, cap, req, cells->n) ?
			    choose_distinct(s, &d, cap, req, cells->n, node_of) : -ENOSPC;
	} else {
		sharing = true;
		r = choose_shared_nodes(s, &d, cap, req, cells->n, node_of);
	}
	if (r == -ENOSPC)
		return no_fit(s, &d, cap, req, cells->n, cells->implied);
	if (r < 0)
		return r;

	/* Decided; what follows takes the cores and PUs (most guests are refused before). A
	 * spread guest's cells came with their sets. */
	if (!spread_out) {
		r = guest_cells_vcpus(g, cells);
		if (r < 0)
			return r;
	}
	vcpu_pu = scratch_new(s, g->vcpus, unsigned);
	if (!vcpu_pu)
		return -ENOMEM;
	hwloc_bitmap_zero(s->held);
	if (!decide_only) {
		r = plan_guest_init(pg, g, cells->n);
		if (r < 0)
			return r;
		pg->cells_proposed = spread_out;
		held = pg->held;
	}
	r = snapshot_save(s, s->before);
	if (r < 0)
		return r;

	for (unsigned c = 0; c < cells->n; c++) {
		struct plan_cell *pc = decide_only ? NULL : &pg->cells[c];
		unsigned n = (unsigned)node_of[c], v;

		node_charge(s, n, d.page, (int64_t)req[c].memory_mib);
		if (pc) {
			hwloc_bitmap_copy(pc->vcpus, cells->vcpus[c]);
			pc->node = t->nodes[n].os_index;
			pc->memory_mib = req[c].memory_mib;
			pg->memory_mib += req[c].memory_mib;
			hwloc_bitmap_set(pg->memory_nodes, pc->node);
			hwloc_bitmap_foreach_begin(v, cells->vcpus[c])
				pg->vcpu_node[v] = (int)pc->node;
			hwloc_bitmap_foreach_end();
		}
		if (d.cpu == TMAP_CPU_SHARED) {
			r = shared_cell(s, n, req[c].vcpus, pc ? pc->pus : NULL);
			if (r < 0)
				goto fail;
			if (!pc)
				continue;
			hwloc_bitmap_foreach_begin(v, cells->vcpus[c])
				hwloc_bitmap_copy(pg->vcpu_pus[v], pc->pus);
			hwloc_bitmap_foreach_end();
			hwloc_bitmap_or(pg->emulator, pg->emulator, pc->pus);
			continue;
		}
		if (c > 0 && node_of[c] != node_of[c - 1])
			l3 = -1;
		r = alloc_cell(s, n, &d, cells->vcpus[c], vcpu_pu, held, &l3);
		if (r < 0)
			goto fail;
		if (!pc)
			continue;
		hwloc_bitmap_foreach_begin(v, cells->vcpus[c])
		{
			hwloc_bitmap_only(pg->vcpu_pus[v], vcpu_pu[v]);
			hwloc_bitmap_set(pc->pus, vcpu_pu[v]);
			pg->vcpu_core_lists[v] = core_list(t, vcpu_pu[v]);
			if (!pg->vcpu_core_lists[v]) {
				r = -ENOMEM;
				goto fail;
			}
			hwloc_bitmap_set(pg->emulator, vcpu_pu[v]);
		}
		hwloc_bitmap_foreach_end();
	}

	if (d.emulator_isolate) {
		unsigned n = (unsigned)node_of[0], pu;
		bool whole = d.policy != TMAP_THREAD_PREFER;
		int c = pick_core(s, n, 1, whole, 1, -1, false);

		if (c < 0 || take_pus(s, (unsigned)c, 1, whole, &pu, held) != 1) {
			r = -ENOSPC;
			goto fail;
		}
		if (!decide_only)
			hwloc_bitmap_only(pg->emulator, pu);
	}

	if (decide_only) {
		snapshot_restore(s, s->before);
		return 0;
	}
	/* Why, in the operator's words. */
	if (spread_out) {
		_cleanup_free_ char *nodes = bitmap_list(pg->memory_nodes);
		char pages[48] = "", size[32];

		if (d.page_kib)
			snprintf(pages, sizeof(pages), " in %s pages",
				 page_size_text(d.page_kib, size, sizeof(size)));
		plan_guest_explain(pg, "no single node has %u %s and %" PRIu64 " MiB%s: spread over the %u closest nodes that have them (%s); the plan proposes %u cells that mirror them",
				   g->vcpus, unit_name(&d), g->memory_mib, pages, cells->n,
				   nodes ? nodes : "", cells->n);
	}
	if (sharing)
		plan_guest_explain(pg, "%u cells but only %u nodes with CPUs: cells share nodes",
				   cells->n, usable_nodes);
	for (unsigned c = 0; c < cells->n; c++) {
		unsigned n = (unsigned)node_of[c];

		if (d.cpu == TMAP_CPU_SHARED)
			plan_guest_explain(pg, "cell %u -> node %u: %" PRIu64 " MiB; the most room for shared vcpus (%u)",
					   c, t->nodes[n].os_index, req[c].memory_mib, cap[n]);
		else if (cells->n == 1)
			plan_guest_explain(pg, "cell 0 -> node %u: keeps the host most useful for the requests it gets, %u of its %u %s used, %" PRIu64 " of %" PRIu64 " MiB free%s",
					   t->nodes[n].os_index, req[c].vcpus, cap[n], unit_name(&d),
					   req[c].memory_mib, node_memory(s, n, &d) + req[c].memory_mib,
					   d.page_kib ? " in its pool" : "");
		else if (c == 0)
			plan_guest_explain(pg, "cell 0 -> node %u: %u of its %u %s used, %" PRIu64 " MiB; the other cells on the nodes closest to it that fit",
					   t->nodes[n].os_index, req[c].vcpus, cap[n], unit_name(&d),
					   req[c].memory_mib);
		else
			plan_guest_explain(pg, "cell %u -> node %u: distance %u from cell 0's node; %u of its %u %s used, %" PRIu64 " MiB",
					   c, t->nodes[n].os_index,
					   topo_distance(t, (unsigned)node_of[0], n), req[c].vcpus,
					   cap[n], unit_name(&d), req[c].memory_mib);
	}
	if (d.page_kib) {
		char size[32];

		page_size_text(d.page_kib, size, sizeof(size));
		for (unsigned c = 0; c < cells->n; c++) {
			unsigned n = (unsigned)node_of[c];

			plan_guest_explain(pg, "cell %u memory: %" PRIu64 " pages of %s from node %u's pool, %" PRId64 " left free; normal memory is not used",
					   c, (req[c].memory_mib << 10) / d.page_kib, size,
					   t->nodes[n].os_index,
					   node_free_pages(s, n, (unsigned)d.page));
		}
	}
	if (d.cpu == TMAP_CPU_DEDICATED)
		plan_guest_explain(pg, "vcpus: %s", thread_words(&d, g->threads));
	else
		plan_guest_explain(pg, "vcpus float over their nodes' shared pool, which dedicated guests never get (cpu policy shared, %g vcpus per pool PU)",
				   s->cpu_ratio);
	if (d.emulator_isolate)
		plan_guest_explain(pg, "emulator and iothreads: a PU of their own on cell 0's node (emulator isolate)");
	else
		plan_guest_explain(pg, "emulator and iothreads float over the guest's vcpu PUs (emulator share)");
	hwloc_bitmap_or(s->taken, s->taken, held);
	return 0;
fail:
	snapshot_restore(s, s->before);
	if (r == -ENOSPC)
		r = no_fit(s, &d, cap, req, cells->n, cells->implied);
	return r;
}

static int
explain_memory(struct plan_guest *pg)
{
	const char *mode = memory_mode_name(pg->memory_mode);

	return plan_guest_explain(pg, "memory: %s on node%s %s", mode,
				  hwloc_bitmap_weight(pg->memory_nodes) > 1 ? "s" : "",
				  pg->memory_list);
}

/* Remember what a placed guest holds, so that it can be released. */
static int
record(struct solver *s, const struct plan_guest *pg)
{
	const struct tmap_topology *t = s->t;
	struct alloc a = {0}, *v = s->allocs;

	a.name = strdup(pg->name);
	a.name_hash = name_hash(pg->name);
	a.held = hwloc_bitmap_dup(pg->held);
	a.mem = calloc(t->nnodes, sizeof(*a.mem));
	a.shared = calloc(t->nnodes, sizeof(*a.shared));
	a.plan = plan_guest_to_json(pg);
	a.page = pg->page_kib ? topo_page_index(t, pg->page_kib) : -1;
	/* Room grows by half: a host where guests come and go keeps one array, instead of
	 * moving it, a guest longer, through the heap it fragments. */
	if (s->nallocs == s->allocs_size) {
		size_t size = s->allocs_size + s->allocs_size / 2 + 8;

		v = realloc(s->allocs, size * sizeof(*v));
		if (v) {
			s->allocs = v;
			s->allocs_size = size;
		}
	}
	if (!a.name || !a.held || !a.mem || !a.shared || !a.plan || !v) {
		alloc_clear(&a);
		return -ENOMEM;
	}
	for (unsigned c = 0; c < pg->ncells; c++) {
		int n = topo_node_index(t, pg->cells[c].node);

		a.mem[n] += pg->cells[c].memory_mib;
		if (pg->cpu_policy == TMAP_CPU_SHARED)
			a.shared[n] += (unsigned)hwloc_bitmap_weight(pg->cells[c].vcpus);
	}
	s->allocs[s->nallocs++] = a;
	return 0;
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
	r = solver_init(h, t, &opts, err);
	if (r < 0) {
		solver_clear(h);
		free(h);
		return r;
	}
	h->err = NULL;
	*ret = h;
	return 0;
}

struct tmap_host *
tmap_host_free(struct tmap_host *h)
{
	if (!h)
		return NULL;
	solver_clear(h);
	free(h);
	return NULL;
}

size_t
tmap_host_guest_count(const struct tmap_host *h)
{
	return h ? h->nallocs : 0;
}

const char *
tmap_host_guest_name(const struct tmap_host *h, size_t i)
{
	return h && i < h->nallocs ? h->allocs[i].name : NULL;
}

static const struct alloc *
host_find(const struct tmap_host *h, const char *name)
{
	uint64_t hash = name_hash(name);

	for (size_t i = 0; i < h->nallocs; i++)
		if (h->allocs[i].name_hash == hash && streq(h->allocs[i].name, name))
			return &h->allocs[i];
	return NULL;
}

static int
plan_new(const char *host, size_t nguests, struct tmap_plan **ret)
{
	struct tmap_plan *plan = calloc(1, sizeof(*plan));

	if (!plan || !(plan->host = strdup(host)) ||
	    !(plan->guests = calloc(nguests, sizeof(*plan->guests)))) {
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

	h->err = err;
	r = tmap_guest_validate(g, err);
	if (r < 0)
		goto out;
	if (host_find(h, g->name)) {
		r = tmap_error_set(err, -EEXIST, "%s: a guest of that name is already placed",
				   g->name);
		goto out;
	}
	r = place_guest(h, g, pg, false);
	if (r == 0) {
		r = plan_guest_finish(pg);
		if (r == 0)
			r = explain_memory(pg);
		if (r == 0)
			r = record(h, pg);
		/* place_guest() saved the host before it took anything */
		if (r < 0)
			snapshot_restore(h, h->before);
	}
	if (r == -ENOMEM)
		tmap_error_set(err, r, "out of memory");
out:
	h->err = NULL;
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
	if (plan_new(h->t->source, 1, &plan) < 0)
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
 * (their vcpus and memory), policies and page size? Then its PUs and nodes still answer g.
 * Cells the solver proposed for a guest without any stand for the whole guest.
 */
static bool
plan_answers(const struct plan_guest *pg, const struct tmap_guest *g,
	     const struct guest_cells *cells)
{
	if (pg->vcpus != g->vcpus || pg->sockets != g->sockets || pg->cores != g->cores ||
	    pg->threads != g->threads || pg->cpu_policy != g->cpu_policy ||
	    pg->thread_policy != g->thread_policy || pg->emulator_policy != g->emulator_policy ||
	    pg->page_kib != g->page_kib || pg->memory_mib != tmap_guest_memory_mib(g))
		return false;
	if (pg->cells_proposed && cells->implied)
		return true;
	if (pg->cells_proposed || pg->ncells != cells->n)
		return false;
	for (unsigned c = 0; c < cells->n; c++)
		if (!hwloc_bitmap_isequal(pg->cells[c].vcpus, cells->vcpus[c]) ||
		    pg->cells[c].memory_mib != cells->memory_mib[c])
			return false;
	return true;
}

#define KEPT "kept where it is: it asks for what its recorded plan gives (vcpus, cells, memory, policies, page size); memory mode, iothreads and cputune as now given"

int
tmap_host_place_again(struct tmap_host *h, const struct tmap_guest *g, struct tmap_plan **ret,
		      struct tmap_error *err)
{
	struct guest_cells cells = {0};
	struct tmap_plan *old = NULL;
	struct json_object *json;
	struct plan_guest *pg;
	const struct alloc *found;
	struct alloc *a;
	int r;

	if (!h || !g)
		return tmap_error_set(err, -EINVAL, "tmap_host_place_again: missing argument");
	r = tmap_guest_validate(g, err);
	if (r < 0)
		return r;
	found = host_find(h, g->name);
	if (!found)
		return tmap_host_place(h, g, ret, err);
	a = &h->allocs[found - h->allocs];
	r = tmap_host_guest_plan(h, g->name, &old, err);
	if (r < 0)
		return r;
	pg = &old->guests[0];
	if (guest_resolve_cells(g, &cells) < 0) {
		r = tmap_error_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	if (!plan_answers(pg, g, &cells)) {
		/* Placed anew around the others; on failure it keeps what it had, exactly. */
		struct snapshot snap = {0};

		r = snapshot_take(h, &snap);
		if (r < 0) {
			r = tmap_error_set(err, r, "out of memory");
			goto out;
		}
		tmap_host_release(h, g->name);
		r = tmap_host_place(h, g, ret, err);
		if (r < 0) {
			snapshot_restore(h, &snap);
			if (record(h, pg) < 0)
				r = tmap_error_set(err, -ENOMEM, "out of memory");
		}
		snapshot_clear(&snap);
		goto out;
	}
	/* The same answer: the same PUs and nodes, with what may change around them. */
	pg->memory_mode = g->memory_mode;
	pg->iothreads = g->iothreads;
	pg->shares = g->shares;
	pg->period = g->period;
	pg->quota = g->quota;
	r = 0;
	if (pg->nexplain == 0 || !streq(pg->explain[pg->nexplain - 1], KEPT))
		r = plan_guest_explain(pg, "%s", KEPT);
	json = r < 0 ? NULL : plan_guest_to_json(pg);
	if (!json) {
		r = tmap_error_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	json_object_put(a->plan);
	a->plan = json;
	if (ret)
		*ret = TAKE_PTR(old);
out:
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
	h->err = err;
	r = tmap_guest_validate(g, err);
	if (r == 0 && host_find(h, g->name))
		r = tmap_error_set(err, -EEXIST, "%s: a guest of that name is already placed",
				   g->name);
	if (r == 0) {
		/* remember_shape() writes this one slot of the window */
		struct shape recent = h->recent[h->next_recent];
		unsigned nrecent = h->nrecent, next = h->next_recent;

		/* The same decision tmap_host_place() makes, then everything put back, the
		 * window of recent requests too: a question is not a request. */
		r = place_guest(h, g, NULL, true);
		h->recent[next] = recent;
		h->nrecent = nrecent;
		h->next_recent = next;
	}
	if (r == -ENOMEM)
		tmap_error_set(err, r, "out of memory");
	h->err = NULL;
	return r;
}

int
tmap_host_release(struct tmap_host *h, const char *name)
{
	const struct tmap_topology *t;
	struct alloc *a = NULL;
	size_t i;
	unsigned pu;

	if (!h || !name)
		return -EINVAL;
	for (i = 0; i < h->nallocs && !a; i++)
		if (streq(h->allocs[i].name, name))
			a = &h->allocs[i];
	if (!a)
		return -ENOENT;
	t = h->t;
	hwloc_bitmap_foreach_begin(pu, a->held)
	{
		hwloc_bitmap_clr(h->taken, pu);
		h->core_free[t->pu_core[pu]]++;
	}
	hwloc_bitmap_foreach_end();
	for (unsigned n = 0; n < t->nnodes; n++) {
		node_charge(h, n, a->page, -(int64_t)a->mem[n]);
		h->shared_vcpus[n] -= a->shared[n];
		/* A grown pool goes back when the last shared guest of its node leaves; while
		 * any remains, the PUs stay: its float set, already applied, covers them. */
		if (!h->fixed_pool && a->shared[n] && h->shared_vcpus[n] == 0) {
			const struct topo_node *node = &t->nodes[n];

			for (unsigned c = 0; c < node->ncores; c++) {
				const struct topo_core *core = &t->cores[node->cores[c]];

				for (unsigned k = 0; k < core->npus; k++) {
					if (!hwloc_bitmap_isset(h->pool, core->pus[k]))
						continue;
					hwloc_bitmap_clr(h->pool, core->pus[k]);
					hwloc_bitmap_clr(h->taken, core->pus[k]);
					h->core_free[node->cores[c]]++;
				}
			}
		}
	}
	alloc_clear(a);
	i = (size_t)(a - h->allocs);
	memmove(a, a + 1, (h->nallocs - i - 1) * sizeof(*a));
	h->nallocs--;
	return 0;
}

/* ------------------------------------------------------------------------------------- */
/* What the state file needs of a host */

struct json_object *
host_guest_json(const struct tmap_host *h, size_t i)
{
	return i < h->nallocs ? h->allocs[i].plan : NULL;
}

const struct tmap_topology *
host_topology(const struct tmap_host *h)
{
	return h->t;
}

char *
host_pool_list(const struct tmap_host *h)
{
	return bitmap_list(h->pool);
}

/* The pool a state file recorded: free usable PUs that go back into it. */
int
host_restore_pool(struct tmap_host *h, const char *list, struct tmap_error *err)
{
	_cleanup_bitmap_ hwloc_bitmap_t set = NULL;
	unsigned pu;

	if (!list || !*list || h->fixed_pool)
		return 0;
	if (bitmap_parse_list(list, &set) < 0)
		return tmap_error_set(err, -EBADMSG, "shared pool '%.80s' is not a list of PUs", list);
	hwloc_bitmap_foreach_begin(pu, set)
	{
		if (!hwloc_bitmap_isset(h->usable, pu) || hwloc_bitmap_isset(h->taken, pu))
			return tmap_error_set(err, -EBADMSG,
					      "shared pool PU %u is not a free usable PU of this host", pu);
		hwloc_bitmap_set(h->taken, pu);
		hwloc_bitmap_set(h->pool, pu);
		h->core_free[h->t->pu_core[pu]]--;
	}
	hwloc_bitmap_foreach_end();
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
	const struct tmap_topology *t = h->t;
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
		if (!hwloc_bitmap_isset(h->usable, pu))
			return tmap_error_set(err, -EBADMSG,
					      "guest '%s' holds PU %u, which is not a usable PU of this host (reserved, shared or absent: a state file of another host?)",
					      pg->name, pu);
		if (hwloc_bitmap_isset(h->taken, pu))
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
		if (pg->cpu_policy == TMAP_CPU_SHARED &&
		    !hwloc_bitmap_isincluded(pg->cells[c].pus, h->pool))
			return tmap_error_set(err, -EBADMSG,
					      "shared guest '%s' floats outside the recorded shared pool",
					      pg->name);
	}
	hwloc_bitmap_foreach_begin(pu, pg->held)
	{
		hwloc_bitmap_set(h->taken, pu);
		h->core_free[t->pu_core[pu]]--;
	}
	hwloc_bitmap_foreach_end();
	for (unsigned c = 0; c < pg->ncells; c++) {
		int n = topo_node_index(t, pg->cells[c].node);

		node_charge(h, (unsigned)n, pg->page_kib ? topo_page_index(t, pg->page_kib) : -1,
			    (int64_t)pg->cells[c].memory_mib);
		if (pg->cpu_policy == TMAP_CPU_SHARED)
			h->shared_vcpus[n] += (unsigned)hwloc_bitmap_weight(pg->cells[c].vcpus);
	}
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
	if (plan_new(h->t->source, guests->n, &plan) < 0)
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
	struct snapshot snap;
	size_t nallocs;
	struct shape recent[RECENT];
	unsigned nrecent, next_recent;
};

static int
trial_begin(struct tmap_host *h, struct trial_mark *m)
{
	m->nallocs = h->nallocs;
	memcpy(m->recent, h->recent, sizeof(m->recent));
	m->nrecent = h->nrecent;
	m->next_recent = h->next_recent;
	return snapshot_take(h, &m->snap);
}

static void
trial_end(struct tmap_host *h, struct trial_mark *m)
{
	snapshot_restore(h, &m->snap);
	snapshot_clear(&m->snap);
	while (h->nallocs > m->nallocs)
		alloc_clear(&h->allocs[--h->nallocs]);
	memcpy(h->recent, m->recent, sizeof(m->recent));
	h->nrecent = m->nrecent;
	h->next_recent = m->next_recent;
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
	if (plan_new(h->t->source, n, &plan) < 0 ||
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

/* ------------------------------------------------------------------------------------- */
/* What the host holds, for `topomap state` */

struct node_usage {
	hwloc_bitmap_t free, dedicated, pool, reserved;
};

static int
node_usage(const struct tmap_host *h, unsigned n, struct node_usage *u)
{
	const struct topo_node *node = &h->t->nodes[n];

	u->free = hwloc_bitmap_dup(node->cpuset);
	u->dedicated = hwloc_bitmap_dup(node->cpuset);
	u->pool = hwloc_bitmap_dup(node->cpuset);
	u->reserved = hwloc_bitmap_dup(node->cpuset);
	if (!u->free || !u->dedicated || !u->pool || !u->reserved)
		return -ENOMEM;
	hwloc_bitmap_and(u->pool, u->pool, h->pool);
	hwloc_bitmap_and(u->dedicated, u->dedicated, h->taken);
	hwloc_bitmap_andnot(u->dedicated, u->dedicated, h->pool);
	hwloc_bitmap_and(u->free, u->free, h->usable);
	hwloc_bitmap_andnot(u->free, u->free, h->taken);
	hwloc_bitmap_andnot(u->reserved, u->reserved, h->usable);
	hwloc_bitmap_andnot(u->reserved, u->reserved, h->pool);
	return 0;
}

static void
node_usage_clear(struct node_usage *u)
{
	hwloc_bitmap_t *all[] = {&u->free, &u->dedicated, &u->pool, &u->reserved};

	for (size_t i = 0; i < ARRAY_SIZE(all); i++)
		if (*all[i])
			hwloc_bitmap_free(*all[i]);
}

static int
host_format(const struct tmap_host *h, enum tmap_format format, FILE *out)
{
	const struct tmap_topology *t = h->t;

	if (format == TMAP_FORMAT_JSON)
		fprintf(out, "{\"host\":\"%s\",\"cpu_overcommit\":%g,\"nodes\":[", t->source,
			h->cpu_ratio);
	else
		fprintf(out, "host: %s\n%-5s %-14s %-14s %-14s %-20s %s\n", t->source, "node",
			"free PUs", "dedicated", "reserved", "shared pool (vcpus)",
			"memory free/total MiB");
	for (unsigned n = 0; n < t->nnodes; n++) {
		struct node_usage u = {0};
		_cleanup_free_ char *fr = NULL, *de = NULL, *po = NULL, *re = NULL;
		int64_t mem_free = h->mem_free[n];

		if (node_usage(h, n, &u) < 0 || !(fr = bitmap_list(u.free)) ||
		    !(de = bitmap_list(u.dedicated)) || !(po = bitmap_list(u.pool)) ||
		    !(re = bitmap_list(u.reserved))) {
			node_usage_clear(&u);
			return -ENOMEM;
		}
		if (format == TMAP_FORMAT_JSON) {
			fprintf(out, "%s{\"id\":%u,\"cpus\":\"%s\",\"free\":\"%s\",\"dedicated\":\"%s\","
				"\"reserved\":\"%s\",\"shared_pool\":\"%s\",\"shared_vcpus\":%u,"
				"\"memory_mib\":%" PRIu64 ",\"memory_free_mib\":%" PRId64,
				n ? "," : "", t->nodes[n].os_index, t->nodes[n].cpus_list, fr, de, re,
				po, h->shared_vcpus[n], t->nodes[n].memory_mib, mem_free);
			if (t->npage_sizes)
				fputs(",\"hugepages\":[", out);
			for (unsigned k = 0; k < t->npage_sizes; k++)
				fprintf(out, "%s{\"size_kib\":%" PRIu64 ",\"total\":%" PRIu64 ",\"free\":%" PRId64 "}",
					k ? "," : "", t->page_kib[k], t->nodes[n].huge_pages[k],
					node_free_pages(h, n, k));
			fputs(t->npage_sizes ? "]}" : "}", out);
		} else {
			char pool[64];

			snprintf(pool, sizeof(pool), "%s (%u)", *po ? po : "-", h->shared_vcpus[n]);
			fprintf(out, "%-5u %-14s %-14s %-14s %-20s %" PRId64 "/%" PRIu64 "\n",
				t->nodes[n].os_index, *fr ? fr : "-", *de ? de : "-", *re ? re : "-",
				pool, mem_free, t->nodes[n].memory_mib);
			if (t->npage_sizes)
				fputs("      hugepages free/total:", out);
			for (unsigned k = 0; k < t->npage_sizes; k++) {
				char size[32];

				fprintf(out, "%s %s %" PRId64 "/%" PRIu64, k ? "," : "",
					page_size_text(t->page_kib[k], size, sizeof(size)),
					node_free_pages(h, n, k), t->nodes[n].huge_pages[k]);
			}
			if (t->npage_sizes)
				fputc('\n', out);
		}
		node_usage_clear(&u);
	}
	fprintf(out, format == TMAP_FORMAT_JSON ? "],\"guests\":[" : "guests: %zu\n", h->nallocs);
	for (size_t i = 0; i < h->nallocs; i++) {
		const struct alloc *a = &h->allocs[i];
		_cleanup_free_ char *held = bitmap_list(a->held);
		char size[32] = "";

		if (!held)
			return -ENOMEM;
		if (a->page >= 0)
			page_size_text(t->page_kib[a->page], size, sizeof(size));
		if (format == TMAP_FORMAT_JSON && a->page >= 0)
			fprintf(out, "%s{\"name\":\"%s\",\"held\":\"%s\",\"hugepage_kib\":%" PRIu64 ",\"memory_mib\":{",
				i ? "," : "", a->name, held, t->page_kib[a->page]);
		else if (format == TMAP_FORMAT_JSON)
			fprintf(out, "%s{\"name\":\"%s\",\"held\":\"%s\",\"memory_mib\":{", i ? "," : "",
				a->name, held);
		else
			fprintf(out, "  %-20s PUs %s, memory%s%s%s", a->name,
				*held ? held : "(shared pool)", *size ? " in " : "", size,
				*size ? " pages," : "");
		for (unsigned n = 0, k = 0; n < t->nnodes; n++) {
			if (!a->mem[n])
				continue;
			if (format == TMAP_FORMAT_JSON)
				fprintf(out, "%s\"%u\":%" PRIu64, k++ ? "," : "", t->nodes[n].os_index,
					a->mem[n]);
			else
				fprintf(out, " %" PRIu64 " MiB on node %u", a->mem[n],
					t->nodes[n].os_index);
		}
		fputs(format == TMAP_FORMAT_JSON ? "}}" : "\n", out);
	}
	if (format == TMAP_FORMAT_JSON)
		fputs("]}\n", out);
	return 0;
}

int
tmap_host_format(const struct tmap_host *h, enum tmap_format format, unsigned flags, char **ret,
		 struct tmap_error *err)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out;
	int r;

	if (!h || !ret)
		return tmap_error_set(err, -EINVAL, "tmap_host_format: missing argument");
	if (flags || (format != TMAP_FORMAT_TABLE && format != TMAP_FORMAT_JSON))
		return tmap_error_set(err, -EINVAL, "a host is printed as table or json");
	out = open_memstream(&buf, &len);
	if (!out)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	r = host_format(h, format, out);
	if (fclose(out) != 0 && r == 0)
		r = -ENOMEM;
	if (r < 0) {
		free(buf);
		return tmap_error_set(err, r, "out of memory");
	}
	*ret = buf;
	return 0;
}
