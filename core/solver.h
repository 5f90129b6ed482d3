/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The solver's insides, shared by its files and by the ledger (core/host.c). Not installed.
 *
 *   solver.c          one guest's decision: free capacity and a guest in, a placement out
 *   solver-nodes.c    which node takes each cell: outlook, matching
 *   solver-spread.c   a guest without cells that no node holds, spread over several
 *   solver-pus.c      which cores and PUs of a node, and a shared cell's pool
 *   solver-explain.c  the words: why a guest does not fit, why it went where it did
 *   solver-explicit.c a node per cell and exact PUs, asked by the guest (issue 21)
 *   solver-mixed.c    cpu_policy mixed: dedicated vcpus and shared ones (issue 21)
 *   solver-realtime.c realtime vcpus alone on their host cores (issue 21)
 *
 * struct solver holds what a decision reads and changes: free PUs, cores, memory, pools,
 * the shapes of the latest requests and scratch memory. It knows nothing of the guests
 * already placed, only what they took; core/host.c keeps them.
 */
#ifndef TOPOMAP_SOLVER_H
#define TOPOMAP_SOLVER_H

#include <stddef.h>

#include "internal.h"

/* A request's shape: how many cells, the largest cell's needs (most vcpus, then most memory),
 * and the most any other cell needs of each (the largest's own for one cell). */
struct shape {
	unsigned ncells, vcpus;
	uint64_t memory_mib;
	int page;		/* its memory's pool (see struct demand) */
	unsigned rest_vcpus;
	uint64_t rest_mib;
};

#define RECENT 32

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

/* What was free before a guest, to put back if the guest does not fit. */
struct snapshot {
	hwloc_bitmap_t taken, pool;
	unsigned *core_free;
	unsigned *node_sums;
	int64_t *mem_free;
	int64_t *pool_free;
	unsigned *shared_vcpus, *shared_widest;
	bool *dev_taken;
};

struct solver {
	const struct tmap_topology *t;
	hwloc_bitmap_t usable;	/* host PUs dedicated guests may use: not reserved, not shared */
	hwloc_bitmap_t taken;	/* PUs held by dedicated guests */
	hwloc_bitmap_t pool;	/* the given shared pool (options.shared); empty when none */
	bool fixed_pool;	/* the pool was given: else each node's pool is its free usable PUs */
	hwloc_bitmap_t housekeeping; /* the host's own PUs: share-host emulators float there */
	double cpu_ratio, mem_ratio;
	unsigned *core_usable;	/* per core: usable PUs */
	unsigned *core_free;	/* per core: usable PUs nobody holds; changed by core_free_add() */
	/* Per node index, kept by core_free_add() so that a node's capacity costs no walk over
	 * its cores (node_capacity() runs for every node at every decision): the sum of its
	 * cores' core_free, of core_free rounded down to pairs, and how many are whole
	 * (core_whole()). One block of 3 x nnodes: free, then pairs, then whole. */
	unsigned *node_sums;
	int64_t *mem_free;	/* per node index: MiB; below 0 when shared guests overcommit */
	int64_t *pool_free;	/* per page size x node index: free MiB of each hugepage pool, then
				 * a block of zeros for a size no node has */
	unsigned *shared_vcpus;	/* per node index: vcpus of shared guests */
	unsigned *shared_widest; /* per node index: vcpus of its widest shared cell */
	bool *dev_taken;	/* per device of the topology: held by a guest */
	uint32_t flags;
	struct tmap_error *err;	/* of the call in progress */
	int page;		/* of the call in progress: the pool its guest's memory comes from */
	/* The shapes of the latest requests, to judge what a placement leaves useful. */
	struct shape recent[RECENT];
	unsigned nrecent, next_recent;
	/* Reused by every decision. before: the host as a guest found it, before it took anything;
	 * held: what a decision alone takes. */
	struct snapshot *before;
	hwloc_bitmap_t held;
	hwloc_bitmap_t pool_part;	/* scratch of node_pool_size() */
	/* nnodes x nnodes: for each anchor node a, each node's distance class from a: 0 for a
	 * itself, then 1, 2, ... for each distinct distance, nearest first. */
	unsigned *dist_class;
	struct guest_cells cells;
	struct scratch *scratch;
	/* The name of the placed guest holding a PU, for messages (host.c, which keeps the
	 * guests); NULL when none or unknown. */
	const char *(*holder)(const void *ctx, unsigned pu);
	const void *holder_ctx;
};

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
	const bool *cell_nodes;	/* ncells x nnodes: the nodes each cell may go to next to its
				 * devices (solver-devices.c); NULL: any */
	bool spare_devices;	/* asks for no device: among equal nodes, the one with fewer free
				 * devices, so those stay for the guests that ask (issue 16) */
	hwloc_const_bitmap_t realtime; /* its realtime vcpus (issue 21), or NULL */
	const unsigned *cell_rt; /* per cell: its realtime vcpus (scratch), or NULL: none known */
};

struct cell_req {
	unsigned vcpus;		/* a mixed cell: its dedicated vcpus */
	uint64_t memory_mib;
	unsigned shared;	/* a mixed cell: its vcpus that float over the shared pool */
	unsigned realtime;	/* a mixed cell: its realtime vcpus, among its dedicated ones */
};

/* The host as it is, to try placements and put it back exactly (the recent requests too). */
struct solver_mark {
	struct snapshot snap;
	struct shape recent[RECENT];
	unsigned nrecent, next_recent;
};

/* ------------------------------------------------------------------------------------- */
/* solver.c */

int solver_set_housekeeping(struct solver *s, const char *list, struct tmap_error *err);
int solver_init(struct solver *s, const struct tmap_topology *t,
		const struct tmap_solve_options *o, struct tmap_error *err);
void solver_clear(struct solver *s);

/* Zeroed room for count objects, like calloc(), valid until the next decision starts. */
void *scratch_get(struct scratch *sc, size_t count, size_t size);
#define scratch_new(s, count, type) ((type *)scratch_get((s)->scratch, (count), sizeof(type)))

int snapshot_take(const struct solver *s, struct snapshot *snap);
/* Room for a snapshot of this host, then a save into it: no allocation per save. */
int snapshot_alloc(const struct tmap_topology *t, struct snapshot *snap);
int snapshot_save(const struct solver *s, struct snapshot *snap);
void snapshot_restore(struct solver *s, struct snapshot *snap);
void snapshot_clear(struct snapshot *snap);
struct snapshot *snapshot_new(const struct tmap_topology *t);
void snapshot_free(struct snapshot *snap);
int solver_mark(const struct solver *s, struct solver_mark *m);
/* Put the host back as it was at the mark, and free the mark. */
void solver_mark_restore(struct solver *s, struct solver_mark *m);

/*
 * Place one guest. On failure the solver is left as it was; before it takes anything, it is
 * saved in s->before (solver_undo() puts it back). decide_only: the choices alone, without
 * the words and lists a plan carries, pg NULL, and the host put back as it was.
 */
int solver_place(struct solver *s, const struct tmap_guest *g, struct plan_guest *pg,
		 bool decide_only);
/* The same for a guest whose hugepage size is not left to the placement ("large", "any":
 * solver-pages.c tries the sizes with it). */
int solver_place_sized(struct solver *s, const struct tmap_guest *g, struct plan_guest *pg,
		       bool decide_only);
/* Does every cell of g come in whole pages of this size (KiB)? 0 or -ENOMEM. */
int solver_whole_pages(const struct tmap_guest *g, uint64_t page_kib, bool *ret);
/* A size the placement chose answers "large" when it is a hugepage size, "any" always. */
bool page_answers(uint64_t planned, uint64_t asked);
/* The decision solver_place() would make, with the host and its recent requests untouched:
 * a question is not a request. */
int solver_decide(struct solver *s, const struct tmap_guest *g);
/* Put back what the last solver_place() took. */
void solver_undo(struct solver *s);
/* Take what a placed guest holds (PUs, memory of a page size, shared vcpus per cell), or
 * give it back (release). */
void solver_take(struct solver *s, const struct plan_guest *pg);
void solver_release(struct solver *s, hwloc_const_bitmap_t held, int page,
		    const uint64_t *mem, const unsigned *shared);
int solver_restore_pool(struct solver *s, const char *list, struct tmap_error *err);

/* How g consumes host cores and memory on this host (solver-room.c measures with it). */
struct demand solver_demand(const struct solver *s, const struct tmap_guest *g);
unsigned node_capacity(const struct solver *s, unsigned n, const struct demand *d);
int64_t node_free_pages(const struct solver *s, unsigned n, unsigned page);
int64_t node_free_mib(const struct solver *s, unsigned n, int page);
void node_charge(struct solver *s, unsigned n, int page, int64_t mib);
bool cell_fits(const struct solver *s, const struct demand *d, const unsigned *cap, unsigned n,
	       const struct cell_req *req, unsigned cell);

/* Is core c empty: every PU of it usable by dedicated guests and free? A sibling that is
 * reserved, in a given shared pool or held by anyone is not empty (thread policies isolate
 * and require, an isolated emulator). */
static inline bool
core_whole(const struct solver *s, unsigned c)
{
	return s->core_usable[c] > 0 && s->core_usable[c] == s->t->cores[c].npus &&
	       s->core_free[c] == s->core_usable[c];
}

static inline unsigned *
node_free_pus(const struct solver *s)
{
	return s->node_sums;
}

static inline unsigned *
node_free_pairs(const struct solver *s)
{
	return s->node_sums + s->t->nnodes;
}

static inline unsigned *
node_whole_cores(const struct solver *s)
{
	return s->node_sums + 2 * s->t->nnodes;
}

/* Core c gains a free PU (delta 1) or loses one (-1): its count and its node's sums. */
static inline void
core_free_add(struct solver *s, unsigned c, int delta)
{
	unsigned n = (unsigned)s->t->cores[c].node;
	unsigned before = s->core_free[c], after = before + (unsigned)delta;
	unsigned was_whole = core_whole(s, c);

	s->core_free[c] = after;
	node_free_pus(s)[n] += (unsigned)delta;
	node_free_pairs(s)[n] += (after & ~1u) - (before & ~1u);
	node_whole_cores(s)[n] += (unsigned)core_whole(s, c) - was_whole;
}

/* PUs a node's shared guests float over: the given pool's PUs on the node, or else every
 * usable PU of the node that no dedicated guest holds. */
static inline unsigned
node_pool_size(const struct solver *s, unsigned n)
{
	if (!s->fixed_pool)
		return node_free_pus(s)[n];
	/* The node's cores hold exactly its cpuset: count the pool there in two calls, not one
	 * per PU. */
	hwloc_bitmap_and(s->pool_part, s->pool, s->t->nodes[n].cpuset);
	return (unsigned)hwloc_bitmap_weight(s->pool_part);
}

/* Memory a node can still give this guest: shared guests may overcommit normal memory;
 * hugepages are never overcommitted. */
static inline uint64_t
node_memory(const struct solver *s, unsigned n, const struct demand *d)
{
	int64_t extra = 0, room;

	if (d->cpu == TMAP_CPU_SHARED && s->mem_ratio > 1.0 && d->page == -1)
		extra = (int64_t)(s->t->nodes[n].memory_mib * (s->mem_ratio - 1.0));
	room = d->free[n] + extra;
	return room > 0 ? (uint64_t)room : 0;
}

/* ------------------------------------------------------------------------------------- */
/* solver-nodes.c */

void remember_shape(struct solver *s, const struct cell_req *req, unsigned ncells);
int choose_one(const struct solver *s, const struct demand *d, const unsigned *cap,
	       const struct cell_req *req, int *ret_node);
int choose_distinct(const struct solver *s, const struct demand *d, const unsigned *cap,
		    const struct cell_req *req, unsigned ncells, int *ret_node_of);
int choose_shared_nodes(const struct solver *s, const struct demand *d, const unsigned *cap,
			const struct cell_req *req, unsigned ncells, int *node_of);
bool cells_fit_somewhere(const struct solver *s, const struct demand *d, const unsigned *cap,
			 const struct cell_req *req, unsigned ncells);

/* ------------------------------------------------------------------------------------- */
/* solver-spread.c */

int spread(const struct solver *s, const struct demand *d, const unsigned *cap,
	   const struct tmap_guest *g, struct guest_cells *cells, int **ret_node_of);

/* ------------------------------------------------------------------------------------- */
/* solver-pus.c */

int pick_core(const struct solver *s, unsigned n, unsigned need, bool whole, unsigned min_size,
	      int l3, bool only_l3);
unsigned take_pus(struct solver *s, unsigned c, unsigned count, bool hold, unsigned *out,
		  hwloc_bitmap_t held);
int alloc_cell(struct solver *s, unsigned n, const struct demand *d, hwloc_const_bitmap_t vcpus,
	       unsigned *vcpu_pu, hwloc_bitmap_t held, int *l3);
int shared_cell(struct solver *s, unsigned n, unsigned vcpus, hwloc_bitmap_t ret_pus);
/* The PUs a shared cell on node n floats over: the pool's PUs there (or, without a given
 * pool, the node's usable PUs no dedicated guest holds). */
void shared_cell_pus(const struct solver *s, unsigned n, hwloc_bitmap_t ret);
unsigned pool_need(const struct solver *s, unsigned n);
unsigned pool_spare(const struct solver *s, unsigned n, unsigned free_pus);
unsigned pool_vcpus(const struct solver *s, unsigned pus);
int shared_room_kept(const struct solver *s, const char *name);
/* The PUs of the host core holding pu, "8,20": siblings are rarely neighbours. */
char *core_list(const struct tmap_topology *t, unsigned pu);

/* ------------------------------------------------------------------------------------- */
/* solver-devices.c: a guest's devices as constraints on its cells' nodes (issue 16) */

/* The nodes each cell of g may go to next to the devices it asks for, into d->cell_nodes
 * (scratch); relaxed: without the 'preferred' requests. -ENOSPC with the error set when a
 * request cannot be met anywhere (no such device, all held, locality unknown). */
int devices_constrain(struct solver *s, const struct tmap_guest *g, unsigned ncells,
		      struct demand *d, bool relaxed);
/* Does g ask for a 'preferred' device (a second try without them)? */
bool devices_any_preferred(const struct tmap_guest *g);
/* Why the cells did not fit next to their devices: the error, -ENOSPC. spreadable: a guest
 * without cells that was tried spread from a node next to its device too. */
int devices_no_fit(const struct solver *s, const struct tmap_guest *g, const struct demand *d,
		   const unsigned *cap, const struct cell_req *req, bool spreadable);
/* Give each request a free device next to its cell's node (node_of: node index per cell),
 * mark them taken and, with pg, record them and say why. -ENOSPC with the error set. */
int devices_take(struct solver *s, const struct tmap_guest *g, const int *node_of,
		 struct plan_guest *pg);
/* Does the recorded plan pg give each device request of g (in order) a device that answers
 * it, for the same cell and policy? */
bool devices_plan_answers(const struct tmap_topology *t, const struct tmap_guest *g,
			  const struct plan_guest *pg);
/* Free devices local to node index n: what a guest that asks for none would keep from those
 * that do, by going there. */
unsigned devices_free_on(const struct solver *s, unsigned n);
/* A placed guest's devices taken, or given back. */
void devices_hold(struct solver *s, const struct plan_guest *pg, bool hold);

/* ------------------------------------------------------------------------------------- */
/* solver-explicit.c: a node per cell and exact PUs, asked by the guest (issue 21) */

/* Check every request of g against the host (cells->vcpus resolved): -ENOSPC with the message
 * naming the guest, the request and why. Else *ret_fixed (scratch): per cell, the node index
 * its request fixes, or -1; *ret_pin (scratch): per vcpu its PU when g asks for PUs, else
 * NULL. Returns 0 when every cell's node is fixed, 1 when some are left to choose. */
int explicit_nodes(struct solver *s, const struct tmap_guest *g, const struct demand *d,
		   const unsigned *cap, const struct guest_cells *cells, const struct cell_req *req,
		   int **ret_fixed, unsigned **ret_pin);
/* Cells whose node is fixed may go there alone: into d->cell_nodes, with what it held. */
int explicit_constrain(struct solver *s, unsigned ncells, const int *fixed, struct demand *d);
/* Put the vcpus of a cell on the PUs asked (explicit_nodes() checked them); isolate and
 * require hold the rest of each core. */
void pin_cell(struct solver *s, const struct demand *d, hwloc_const_bitmap_t vcpus,
	      const unsigned *pin, unsigned *vcpu_pu, hwloc_bitmap_t held);

/* ------------------------------------------------------------------------------------- */
/* solver-mixed.c: cpu_policy mixed, dedicated vcpus and shared ones (issue 21) */

int mixed_requests(const struct tmap_guest *g, struct guest_cells *cells, struct cell_req *req);
bool mixed_fits(const struct solver *s, const struct demand *d, unsigned n,
		const struct cell_req *req, unsigned need);
int mixed_cell(struct solver *s, unsigned n, const struct demand *d, hwloc_const_bitmap_t vcpus,
	       hwloc_const_bitmap_t dedicated, unsigned shared, unsigned *vcpu_pu,
	       hwloc_bitmap_t held, int *l3, hwloc_bitmap_t ret_pool);
int mixed_refuse(const struct solver *s, const struct demand *d, unsigned n,
		 const struct cell_req *req, unsigned c, unsigned need, bool asked);
int mixed_no_fit(const struct solver *s, const struct demand *d, const unsigned *cap,
		 const struct cell_req *req, unsigned ncells);

/* ------------------------------------------------------------------------------------- */
/* solver-realtime.c: realtime vcpus share their host core with no other thread (issue 21) */

/* Check the cores of g's realtime vcpus (vcpu_pu: every vcpu's PU) and hold their free
 * siblings: 0, or -ENOSPC with the message naming the vcpu, the sibling and why. */
int realtime_siblings(struct solver *s, const struct tmap_guest *g, const unsigned *vcpu_pu,
		      hwloc_bitmap_t held);
/* How many realtime vcpus each of the guest's cells has, into d->cell_rt (cells resolved in
 * s->cells): 0 or -ENOMEM. */
int realtime_cell_counts(struct solver *s, const struct tmap_guest *g, struct demand *d);
/* Can node n take `rt` realtime vcpus on whole cores, and `vcpus` in all? */
bool realtime_fits(const struct solver *s, const struct demand *d, unsigned n, unsigned rt,
		   unsigned vcpus);
/* When the realtime vcpus of a cell find too few whole free cores on every node: -ENOSPC
 * with the message saying so; else 0. */
int realtime_no_fit(const struct solver *s, const struct demand *d, const struct cell_req *req,
		    unsigned ncells);
/* A line of pg's explanation for its realtime vcpus: 0 or -ENOMEM. */
int realtime_explain(const struct solver *s, struct plan_guest *pg);

/* ------------------------------------------------------------------------------------- */
/* solver-explain.c */

/* What the capacity counts, for messages. */
const char *unit_name(const struct demand *d);
/* The same in a few words, after a number: "6 free PUs". */
const char *short_unit(const struct demand *d);
/* Say precisely why a guest does not fit: the error, set in s->err. */
int no_fit(const struct solver *s, const struct demand *d, const unsigned *cap,
	   const struct cell_req *req, unsigned ncells, bool implied);
/* Why a placed guest went where it went, in the operator's words. */
void explain_placement(const struct solver *s, const struct demand *d, const unsigned *cap,
		       const struct tmap_guest *g, const struct cell_req *req, const int *node_of,
		       bool spread_out, bool sharing, struct plan_guest *pg);

#endif
