/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Making room (solver-room.c): the fewest moves of placed guests after which a new guest
 * fits. Not installed; the tests reach it to compare the bounded search with an exhaustive
 * one over the same moves.
 *
 * The moves: a vcpu of a placed dedicated guest re-pinned to another PU of its cell's node
 * (the vcpus that share a host core as guest SMT threads, or a whole core of an isolate or
 * require guest, move together), or a whole cell moved to another node with its memory. The
 * cost of a step is the moves it lists: one per vcpu re-pinned, one per cell whose memory
 * migrates. Shared guests, guests marked pinned and the cell of an isolated emulator's node
 * stay where they are.
 */
#ifndef TOPOMAP_SOLVER_ROOM_H
#define TOPOMAP_SOLVER_ROOM_H

#include <limits.h>

#include "solver.h"

struct room_config {
	unsigned max_moves;	/* the most moves an answer may have */
	size_t decisions;	/* search nodes before the search settles for a good answer */
	bool exhaustive;	/* every move, no lower bound, no limit: the tests' yardstick */
};

struct room_result {
	bool found;
	unsigned moves;		/* of the answer */
	unsigned lower;		/* the fewest moves proved needed */
	size_t decisions;	/* search nodes visited */
	size_t npath;		/* the answer's moves, guest names borrowed from the host */
	struct plan_move *path;
};

/*
 * Search for room for g on h. The host is left as it was; res->path is malloc()ed (free it,
 * not the names). 0 (found or not: res->found), -EINVAL for a guest the search does not
 * handle, -ENOMEM.
 */
int room_search(struct tmap_host *h, const struct tmap_guest *g, const struct room_config *cfg,
		struct room_result *res);

#define INF (UINT_MAX / 4)

struct room_guest {
	size_t index;			/* in the ledger */
	const struct plan_guest *pg;
	int page;
	bool whole;			/* isolate or require: holds whole cores */
	bool together;			/* the vcpus on one core move together */
	bool distinct;			/* its cells are on distinct nodes: they stay so */
	bool emulator_fixed;		/* an isolated emulator: cell 0 stays on its node */
	unsigned vbase, cbase;		/* into room.vcpu_pu, room.cell_node */
};

/* One move the search may make. */
struct cand {
	unsigned guest, cell;
	int vcpu;			/* flat index of a lone vcpu, or -1 */
	int src_core;			/* a piece's core; -1: the whole cell to node dst */
	unsigned dst;			/* core or node index */
	unsigned cost, key;
};

/* What one depth saves to undo its move, and the moves it tries. */
struct level {
	struct snapshot snap;
	int *owner;
	unsigned *vcpu_pu, *cell_node;
	unsigned *cap;
	bool *cap_ok;
	size_t npath;
	struct cand *cand;
	size_t ncand, cand_size;
};

struct room {
	struct tmap_host *h;
	struct solver *s;
	const struct tmap_topology *t;
	const struct tmap_guest *g;
	struct demand d;
	struct guest_cells cells;	/* g's cells: vcpus and memory */
	bool spreadable;		/* g may spread over nodes */
	bool needs_shape;		/* g needs whole cores or sibling groups */
	unsigned gain;			/* the most capacity for g one move gives */
	size_t nguests;
	struct room_guest *guests;
	unsigned nvcpus, ncells;
	int *owner;			/* per PU: the movable guest holding it, or -1 */
	unsigned *vcpu_pu, *cell_node;	/* per flat vcpu: its PU; per flat cell: node index */
	unsigned *vcpu_cell;		/* per flat vcpu: its cell (the guest's own index) */
	unsigned *cap;			/* per node: node_capacity() for g, when cap_ok */
	bool *cap_ok;			/* a move on the node makes it stale */
	unsigned *nb;			/* per node: the bound room_bound() found there */
	unsigned *nfree;		/* per node: free PUs, as gen_cands() found them */
	unsigned *most;			/* per node: g's capacity were every movable guest gone */
	unsigned *cell_vcpus;		/* per flat cell: its vcpus */
	unsigned nlevels;
	struct level *levels;
	struct plan_move *path;
	size_t npath, path_size;
	const struct room_config *cfg;
	const char *why;		/* the moved guests' explanation; NULL: room for g */
	size_t decisions;
	/* exhaustive: the states seen this round and the cost they were reached at */
	uint64_t *seen_key;
	unsigned *seen_cost, *seen_round, round;
};

#define SEEN_SIZE (1u << 16)

/* solver-room.c, for solver-room-answer.c */
int room_run(struct room *r, struct tmap_host *h, const struct tmap_guest *g,
	     const struct room_config *cfg, struct room_result *res);
void room_clear(struct room *r);
void level_restore(struct room *r, struct level *l);

/* solver-room-answer.c, for solver-rebalance.c */
int room_options(const struct tmap_room_options *o, struct room_config *cfg,
		 struct tmap_error *err);
/* The moved guests' new plans into the ledger (moved[gi]: gi's plan changed; old[gi]: its plan
 * before); uncommit_moves() puts them back. */
int commit_moves(struct room *r, struct plan_guest *old, bool *moved);
void uncommit_moves(struct room *r, struct plan_guest *old, const bool *moved);
/* The answer's moves, names copied (malloc()ed; plan_moves_free()). */
int copy_moves(const struct room *r, struct plan_move **ret);

/* host.c: what the search reads and changes of the ledger. */
struct solver *host_solver(struct tmap_host *h);
const struct solver *host_solver_const(const struct tmap_host *h);
size_t host_guest_count(const struct tmap_host *h);
/* Replace the i-th guest's plan with pg (taken), its memory per node recounted; the solver's
 * free capacity is the caller's to keep in step. */
int host_guest_replace(struct tmap_host *h, size_t i, struct plan_guest *pg);
/* The spec of a placed guest resized, as tmap_host_resize() places it (solver-resize.c). */
int host_resized_spec(const struct tmap_host *h, const char *name, unsigned vcpus,
		      uint64_t memory_mib, struct tmap_guest **ret, struct tmap_error *err);

#endif
