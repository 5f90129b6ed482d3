/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file plan.h
 * libtopomap: the solver, the host's ledger of placed guests, and the plans they give.
 *
 * Included by <topomap/topomap.h>; the conventions written there hold here too.
 */
#ifndef TOPOMAP_PLAN_H
#define TOPOMAP_PLAN_H

#include <topomap/topomap.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------- */
/** @name Solver and plans */

/** Options of tmap_solve() and tmap_host_new(). Initialise with TMAP_SOLVE_OPTIONS_INIT. */
struct tmap_solve_options {
	uint32_t size;	     /**< sizeof(struct tmap_solve_options), set by the _INIT macro */
	uint32_t flags;	     /**< TMAP_SOLVE_* bits */
	const char *reserve; /**< host PUs no guest may use, list syntax, or NULL */
	/**
	 * Host PUs kept for shared guests (dedicated guests never get them), or NULL: then the
	 * shared pool of each node grows from its free PUs as shared guests need it.
	 */
	const char *shared;
	/** Shared vcpus per pool PU (Nova's cpu_allocation_ratio); 0 means
	 *  TMAP_DEFAULT_CPU_OVERCOMMIT. */
	double cpu_overcommit;
	/** Memory overcommit for shared guests; 0 means 1.0 (dedicated guests never are). */
	double memory_overcommit;
};

/** Shared vcpus per pool PU when not said: Nova's initial_cpu_allocation_ratio. */
#define TMAP_DEFAULT_CPU_OVERCOMMIT 4.0

/** Refuse to put two cells of one guest on the same host node, even on a host with fewer
 *  nodes than cells. */
#define TMAP_SOLVE_DISTINCT_CELLS (1u << 0)
/** Never spread a guest without cells over several nodes: it fits one node or not at all. */
#define TMAP_SOLVE_NO_SPREAD (1u << 1)

/** Initialiser for struct tmap_solve_options. */
#define TMAP_SOLVE_OPTIONS_INIT {.size = sizeof(struct tmap_solve_options)}

struct tmap_plan;

/**
 * Place guests, in the order of the list, on an empty host minus the reserved PUs. Pure:
 * no system call, deterministic for the same inputs.
 * @param topology the host.
 * @param guests the guests.
 * @param options options, or NULL for the defaults.
 * @param ret receives the plan when every guest was placed.
 * @param reterr receives the message on failure: for -ENOSPC, names the guest that does not
 *        fit and what ran out.
 * @return 0, -EINVAL (bad options, or a reserve outside the host), -ENOSPC or -ENOMEM.
 */
TMAP_EXPORT int tmap_solve(const struct tmap_topology *topology, const struct tmap_guests *guests,
			   const struct tmap_solve_options *options, struct tmap_plan **ret,
			   struct tmap_error *reterr);

/**
 * A host that keeps running: what is placed on it, guest after guest, and what is free.
 * The topology must outlive it.
 */
struct tmap_host;

/**
 * @param topology the host.
 * @param options reserve, shared pool, overcommit, flags; NULL for the defaults.
 * @param ret receives an empty host.
 * @param reterr receives the message on failure.
 * @return 0, -EINVAL (bad options) or -ENOMEM.
 */
TMAP_EXPORT int tmap_host_new(const struct tmap_topology *topology,
			      const struct tmap_solve_options *options, struct tmap_host **ret,
			      struct tmap_error *reterr);

/**
 * @param host the host, or NULL.
 * @return NULL.
 */
TMAP_EXPORT struct tmap_host *tmap_host_free(struct tmap_host *host);

/**
 * Place one guest around what the host already holds, and keep it placed.
 * @param host the host.
 * @param guest the guest; its name must not be placed already.
 * @param ret receives a plan holding this guest alone; may be NULL.
 * @param reterr receives why on failure: for -ENOSPC, the constraint that failed and the
 *        closest thing that would fit. The host is unchanged on failure.
 * @return 0, -EINVAL, -EEXIST (name already placed), -ENOSPC or -ENOMEM.
 */
TMAP_EXPORT int tmap_host_place(struct tmap_host *host, const struct tmap_guest *guest,
				struct tmap_plan **ret, struct tmap_error *reterr);

/**
 * Place a guest again, as `topomap apply` does for a guest it applied before. A guest the host
 * does not hold is placed as by tmap_host_place(). One it holds keeps its PUs and nodes when
 * it asks for exactly what its recorded plan gives (vcpus and topology, cells and their
 * memory, cpu, thread and emulator policies, page size): a running guest is not moved for a
 * new cputune, memory mode or iothread count, which the plan then carries. Otherwise it is
 * placed anew around the others, and keeps what it had if it does not fit.
 * @param host the host.
 * @param guest the guest.
 * @param ret receives a plan holding this guest alone; may be NULL.
 * @param reterr receives why on failure, as for tmap_host_place().
 * @return 0, -EINVAL, -ENOSPC or -ENOMEM.
 */
TMAP_EXPORT int tmap_host_place_again(struct tmap_host *host, const struct tmap_guest *guest,
				      struct tmap_plan **ret, struct tmap_error *reterr);

/**
 * Would a guest fit, as tmap_host_place() would place it? The decision alone: the host is
 * left unchanged and no plan is built. What a scheduler asks of each host in a fleet.
 * @param host the host.
 * @param guest the guest.
 * @param reterr receives why not, as for tmap_host_place(); may be NULL: then a refusal is
 *        not explained at all, the quickest answer for a scheduler that asks many hosts
 *        and keeps none of their reasons.
 * @return 0 when it fits, -ENOSPC when it does not, -EINVAL, -EEXIST or -ENOMEM.
 */
TMAP_EXPORT int tmap_host_fit(struct tmap_host *host, const struct tmap_guest *guest,
			      struct tmap_error *reterr);

/**
 * Place several guests, in order, around what the host holds; all or nothing.
 * @param host the host.
 * @param guests the guests.
 * @param ret receives the plan of all of them.
 * @param reterr receives why on failure; the host is then unchanged.
 * @return 0, -EINVAL, -EEXIST, -ENOSPC or -ENOMEM.
 */
TMAP_EXPORT int tmap_host_solve(struct tmap_host *host, const struct tmap_guests *guests,
				struct tmap_plan **ret, struct tmap_error *reterr);

/**
 * Place a set of guests together, as many as possible: in the order given and largest first,
 * keeping whichever places more (the order given on a tie); the ones that do not fit are
 * listed in the plan (tmap_plan_rejected_*()) with the constraint that failed.
 * @param host the host.
 * @param guests the guests.
 * @param ret receives the plan of those placed, and the rejected.
 * @param reterr receives the message when none fits.
 * @return 0 when at least one was placed, -ENOSPC when none, -EINVAL or -ENOMEM.
 */
TMAP_EXPORT int tmap_host_solve_batch(struct tmap_host *host, const struct tmap_guests *guests,
				      struct tmap_plan **ret, struct tmap_error *reterr);

/** Options of tmap_host_make_room(). Initialise with TMAP_ROOM_OPTIONS_INIT. */
struct tmap_room_options {
	uint32_t size;		/**< sizeof(struct tmap_room_options), set by the _INIT macro */
	uint32_t flags;		/**< none yet: 0 */
	unsigned max_moves;	/**< the most moves an answer may have; 0: TMAP_ROOM_DEFAULT_MAX_MOVES */
	unsigned decisions;	/**< search nodes before the search settles for a good answer
				 *   instead of the fewest; 0: TMAP_ROOM_DEFAULT_DECISIONS */
};

#define TMAP_ROOM_DEFAULT_MAX_MOVES 16
#define TMAP_ROOM_MAX_MOVES 256
#define TMAP_ROOM_DEFAULT_DECISIONS 2000
/** Initialiser for struct tmap_room_options. */
#define TMAP_ROOM_OPTIONS_INIT {.size = sizeof(struct tmap_room_options)}

/**
 * Place a guest that does not fit as the host stands, after the fewest moves of placed
 * guests the search finds: vcpus re-pinned within their node, cells moved to another node
 * with their memory; each guest's policies kept, guests marked pinned and shared guests left
 * alone. The search is bounded (options.decisions); the plan says the bound it proved
 * (tmap_plan_move_bound()). On success the host holds the moved guests where the moves put
 * them and the new guest; a guest that fits as it is gets no move.
 * @param host the host.
 * @param guest the guest to place (dedicated).
 * @param options options, or NULL for the defaults.
 * @param ret receives the plan: the new guest and the moves (tmap_plan_move()).
 * @param reterr receives why on failure.
 * @return 0, -ENOSPC (no answer within the moves allowed), -EINVAL, -EEXIST or -ENOMEM.
 */
TMAP_EXPORT int tmap_host_make_room(struct tmap_host *host, const struct tmap_guest *guest,
				    const struct tmap_room_options *options,
				    struct tmap_plan **ret, struct tmap_error *reterr);

/**
 * Rebalance (issue 18): the moves of placed guests, at most options.max_moves, that most
 * improve the host for its recent requests, for a maintenance window. The recent requests
 * (the solver's window, restored from the state by tmap_state_load()) that do not fit are
 * tried most asked first with the search of tmap_host_make_room(), and the first reached is
 * the answer (tmap_plan_rebalance_recent()). When none is, the measure is the largest cell: the most free PUs on one node with CPUs (memory not counted),
 * the capacity the solver keeps largest when it chooses nodes. The sizes above it are tried
 * one by one with the search of tmap_host_make_room() (bounded by options.decisions), and the
 * fewest moves that reach the largest size reached are kept. Guests marked pinned and shared
 * guests never move; every guest keeps its policies. On success the host holds the moved
 * guests where the moves put them; when no move improves the measure the plan has none.
 * @param host the host.
 * @param options options, or NULL for the defaults.
 * @param ret receives the plan: the moved guests, the moves (tmap_plan_move()) and the
 *        measure before and after (tmap_plan_rebalance()).
 * @param reterr receives why on failure.
 * @return 0, -EINVAL or -ENOMEM.
 */
TMAP_EXPORT int tmap_host_rebalance(struct tmap_host *host,
				    const struct tmap_room_options *options,
				    struct tmap_plan **ret, struct tmap_error *reterr);

/**
 * Free what a placed guest holds.
 * @param host the host.
 * @param name the guest.
 * @return 0 or -ENOENT.
 */
TMAP_EXPORT int tmap_host_release(struct tmap_host *host, const char *name);

/** @param host the host. @return the number of guests placed on it. */
TMAP_EXPORT size_t tmap_host_guest_count(const struct tmap_host *host);

/**
 * @param host the host.
 * @param index 0 to tmap_host_guest_count() - 1, in the order they were placed.
 * @return the guest's name, or NULL.
 */
TMAP_EXPORT const char *tmap_host_guest_name(const struct tmap_host *host, size_t index);

/**
 * Describe free and used capacity per node, and each guest's holdings.
 * @param host the host.
 * @param format TMAP_FORMAT_TABLE or TMAP_FORMAT_JSON.
 * @param flags must be 0.
 * @param ret receives a malloc()ed string.
 * @param reterr receives the message on failure.
 * @return 0 or a negative errno code.
 */
TMAP_EXPORT int tmap_host_format(const struct tmap_host *host, enum tmap_format format,
				 unsigned flags, char **ret, struct tmap_error *reterr);

/**
 * The host and what it holds as a Kubernetes NodeResourceTopology object
 * (topology.node.k8s.io/v1alpha2, JSON): a zone "node-N" of type "Node" per NUMA node with
 * the distances as costs, resources cpu, memory and hugepages-SIZE with capacity,
 * allocatable (less the reserve) and available (what is free), the placement policy and a
 * fingerprint of the allocations as attributes. The numbers are tmap_host_format()'s.
 * @param host the host.
 * @param node_name the Kubernetes node's name (the object's metadata.name), a DNS subdomain
 *        name.
 * @param flags must be 0.
 * @param ret receives a malloc()ed NUL-terminated string on success.
 * @param reterr receives the message on failure; may be NULL.
 * @return 0, -EINVAL (bad name or flags) or -ENOMEM.
 */
TMAP_EXPORT int tmap_host_format_nrt(const struct tmap_host *host, const char *node_name,
				     unsigned flags, char **ret, struct tmap_error *reterr);

/**
 * The plan a placed guest was given (as placed, or as recorded in a state file).
 * @param host the host.
 * @param name the guest.
 * @param ret receives a plan holding that guest alone.
 * @param reterr receives the message on failure.
 * @return 0, -ENOENT (not placed) or -ENOMEM.
 */
TMAP_EXPORT int tmap_host_guest_plan(const struct tmap_host *host, const char *name,
				     struct tmap_plan **ret, struct tmap_error *reterr);

#ifdef __cplusplus
}
#endif

#endif /* TOPOMAP_PLAN_H */
