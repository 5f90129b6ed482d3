/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file state.h
 * libtopomap: the allocation state file.
 *
 * Included by <topomap/topomap.h>; the conventions written there hold here too.
 */
#ifndef TOPOMAP_STATE_H
#define TOPOMAP_STATE_H

#include <topomap/topomap.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------- */
/** @name The allocation state file */

/**
 * What a host holds, kept in a file (default /var/lib/topomap/state.json) so that each
 * `apply` places around the earlier ones. Opening takes a lock on "<path>.lock" (shared to
 * read, exclusive to write) held until tmap_state_close(); saving is atomic (temporary file,
 * fsync, rename, fsync of the directory), mode 0644. A file that is not a topomap state, or
 * was written for another host, is refused and never replaced.
 */
struct tmap_state;

/** tmap_state_open() flag: lock for writing, creating the directory and lock file. */
#define TMAP_STATE_WRITE (1u << 0)

/**
 * @param path the state file; it need not exist.
 * @param flags 0 or TMAP_STATE_WRITE.
 * @param ret receives the open, locked state.
 * @param reterr receives the message on failure.
 * @return 0, -EBADMSG (corrupt or foreign file), or another -errno.
 */
TMAP_EXPORT int tmap_state_open(const char *path, unsigned flags, struct tmap_state **ret,
				struct tmap_error *reterr);

/**
 * Close and unlock.
 * @param state the state, or NULL.
 * @return NULL.
 */
TMAP_EXPORT struct tmap_state *tmap_state_close(struct tmap_state *state);

/**
 * Place on an empty host what the state records, checking every PU against the host.
 * @param state the state.
 * @param host a host made with the state's reserve (tmap_state_reserve()).
 * @param reterr receives the message on failure.
 * @return 0, -EBADMSG (the state does not fit this host) or -ENOMEM.
 */
TMAP_EXPORT int tmap_state_load(struct tmap_state *state, struct tmap_host *host,
				struct tmap_error *reterr);

/**
 * Record what the host holds now, atomically.
 * @param state a state opened with TMAP_STATE_WRITE.
 * @param host the host.
 * @param reterr receives the message on failure.
 * @return 0 or a negative errno code; the old file stays on failure.
 */
TMAP_EXPORT int tmap_state_save(struct tmap_state *state, const struct tmap_host *host,
				struct tmap_error *reterr);

/**
 * @param state the state.
 * @return the host PUs the state keeps reserved, in list syntax, or NULL.
 */
TMAP_EXPORT const char *tmap_state_reserve(const struct tmap_state *state);

/**
 * Set the reserve recorded by the next tmap_state_save().
 * @param state a state opened with TMAP_STATE_WRITE.
 * @param reserve a list of host PUs, or NULL or "" for none.
 * @param reterr receives the message on failure.
 * @return 0 or a negative errno code.
 */
TMAP_EXPORT int tmap_state_set_reserve(struct tmap_state *state, const char *reserve,
				       struct tmap_error *reterr);

/**
 * The host's housekeeping PUs: where its own daemons, kernel threads and interrupts belong
 * (issue 15). Unless set, the reserve.
 * @param state the state.
 * @return the PUs in list syntax ("" for none), or NULL when neither is recorded.
 */
TMAP_EXPORT const char *tmap_state_housekeeping(const struct tmap_state *state);

/**
 * Set the housekeeping PUs recorded by the next tmap_state_save().
 * @param state a state opened with TMAP_STATE_WRITE.
 * @param housekeeping a list of host PUs, "" for none, or NULL to follow the reserve again.
 * @param reterr receives the message on failure.
 * @return 0 or a negative errno code.
 */
TMAP_EXPORT int tmap_state_set_housekeeping(struct tmap_state *state, const char *housekeeping,
					    struct tmap_error *reterr);

/**
 * The shared pool the operator set (`topomap host set --shared-set`, issue 21): host PUs
 * only shared guests use. Sessions on the state use it, and its ratios, as their
 * tmap_solve_options.shared, .cpu_overcommit and .memory_overcommit.
 * @param state the state.
 * @return the PUs in list syntax, or NULL when none is recorded.
 */
TMAP_EXPORT const char *tmap_state_shared(const struct tmap_state *state);

/**
 * @param state the state.
 * @return the recorded shared vcpus per pool PU (Nova's cpu_allocation_ratio), or 0 when
 *         none is recorded (then TMAP_DEFAULT_CPU_OVERCOMMIT).
 */
TMAP_EXPORT double tmap_state_cpu_overcommit(const struct tmap_state *state);

/**
 * @param state the state.
 * @return the recorded memory overcommit of shared guests (Nova's ram_allocation_ratio),
 *         or 0 when none is recorded (then 1.0).
 */
TMAP_EXPORT double tmap_state_memory_overcommit(const struct tmap_state *state);

/**
 * Set the shared pool and its ratios recorded by the next tmap_state_save(). The caller
 * checks them against the guests placed (a session does, as `topomap host set` does).
 * @param state a state opened with TMAP_STATE_WRITE.
 * @param shared a list of host PUs, or NULL or "" for none.
 * @param cpu_overcommit above 0 and at most 1024, or 0 for none recorded.
 * @param memory_overcommit above 0 and at most 1024, or 0 for none recorded.
 * @param reterr receives the message on failure.
 * @return 0, -EINVAL (not a list, a set overlapping the reserve, a ratio out of range),
 *         -EBADF (not opened to write) or -ENOMEM.
 */
TMAP_EXPORT int tmap_state_set_shared(struct tmap_state *state, const char *shared,
				      double cpu_overcommit, double memory_overcommit,
				      struct tmap_error *reterr);

/**
 * Free a plan.
 * @param plan the plan, or NULL.
 * @return NULL.
 */
TMAP_EXPORT struct tmap_plan *tmap_plan_free(struct tmap_plan *plan);

/** @param plan the plan. @return the number of guests in it. */
TMAP_EXPORT size_t tmap_plan_guest_count(const struct tmap_plan *plan);

/**
 * @param plan the plan.
 * @param guest 0 to tmap_plan_guest_count() - 1.
 * @return the guest's name, or NULL for an index out of range.
 */
TMAP_EXPORT const char *tmap_plan_guest_name(const struct tmap_plan *plan, size_t guest);

/**
 * @param plan the plan.
 * @param guest guest index.
 * @param vcpu vcpu number.
 * @return the host PUs the vcpu may run on (one PU for a dedicated guest), or NULL.
 */
TMAP_EXPORT const char *tmap_plan_vcpu_cpuset(const struct tmap_plan *plan, size_t guest,
					      unsigned vcpu);

/**
 * @param plan the plan.
 * @param guest guest index.
 * @return the number of guest cells (proposed cells included), or 0 for a bad index.
 */
TMAP_EXPORT unsigned tmap_plan_cell_count(const struct tmap_plan *plan, size_t guest);

/**
 * @param plan the plan.
 * @param guest guest index.
 * @param cell cell number.
 * @return the OS index of the host node holding the cell, or -EINVAL.
 */
TMAP_EXPORT int tmap_plan_cell_node(const struct tmap_plan *plan, size_t guest, unsigned cell);

/**
 * @param plan the plan.
 * @param guest guest index.
 * @param cell cell number.
 * @return the cell's memory in MiB, or 0 for a bad index.
 */
TMAP_EXPORT uint64_t tmap_plan_cell_memory_mib(const struct tmap_plan *plan, size_t guest,
					       unsigned cell);

/**
 * @param plan the plan.
 * @param guest guest index.
 * @return the emulator threads' host PUs, or NULL.
 */
TMAP_EXPORT const char *tmap_plan_emulator_cpuset(const struct tmap_plan *plan, size_t guest);

/**
 * The guest's realtime vcpus: SCHED_FIFO threads at one priority (tmap_guest_set_realtime()).
 * @param plan the plan.
 * @param guest guest index.
 * @param ret_priority receives their priority, 0 when none; may be NULL.
 * @return the vcpu numbers in list syntax, "" when none, NULL for a bad index.
 */
TMAP_EXPORT const char *tmap_plan_realtime_vcpus(const struct tmap_plan *plan, size_t guest,
						 unsigned *ret_priority);

/**
 * @param plan the plan.
 * @param guest guest index.
 * @return the host nodes of the guest's memory, in list syntax, or NULL.
 */
TMAP_EXPORT const char *tmap_plan_memory_nodeset(const struct tmap_plan *plan, size_t guest);

/**
 * @param plan the plan.
 * @param guest guest index.
 * @return the hugepage size backing the guest's memory in KiB, 0 for normal pages or a bad
 *         index.
 */
TMAP_EXPORT uint64_t tmap_plan_hugepage_kib(const struct tmap_plan *plan, size_t guest);

/**
 * @param plan the plan.
 * @param guest guest index.
 * @return the guest's vcpu count, or 0 for a bad index.
 */
TMAP_EXPORT unsigned tmap_plan_vcpu_count(const struct tmap_plan *plan, size_t guest);

/**
 * @param plan the plan.
 * @param guest guest index.
 * @return the guest's iothread count (ids 1 to N), or 0.
 */
TMAP_EXPORT unsigned tmap_plan_iothread_count(const struct tmap_plan *plan, size_t guest);

/**
 * @param plan the plan.
 * @param guest guest index.
 * @return every host PU the guest may run on (vcpus, emulator, iothreads): what a
 *         container's cpuset.cpus gets; NULL for a bad index.
 */
TMAP_EXPORT const char *tmap_plan_cpuset(const struct tmap_plan *plan, size_t guest);

/**
 * @param plan the plan.
 * @param guest guest index.
 * @return every host PU the guest keeps from other guests: its vcpus' PUs, an isolated
 *         emulator's, and the siblings thread policy isolate or require keeps empty ("" for a
 *         shared guest, whose pool is the host's); NULL for a bad index.
 */
TMAP_EXPORT const char *tmap_plan_held_cpuset(const struct tmap_plan *plan, size_t guest);

/**
 * @param plan the plan.
 * @param guest guest index.
 * @return the guest's memory mode, or -EINVAL for a bad index.
 */
TMAP_EXPORT int tmap_plan_memory_mode(const struct tmap_plan *plan, size_t guest);

/**
 * The guest's CPU QoS; a value of 0 is unset (quota -1: unlimited).
 * @param plan the plan.
 * @param guest guest index.
 * @param ret_shares receives cpu shares; may be NULL.
 * @param ret_period receives the CFS period in µs; may be NULL.
 * @param ret_quota receives the CFS quota in µs; may be NULL.
 * @return 0 or -EINVAL for a bad index.
 */
TMAP_EXPORT int tmap_plan_qos(const struct tmap_plan *plan, size_t guest, uint64_t *ret_shares,
			      uint64_t *ret_period, int64_t *ret_quota);

/** Making room (issue 18): one move of a placed guest, as tmap_plan_move() gives it. */
struct tmap_move {
	const char *guest;	/**< the guest moved (borrowed from the plan) */
	int vcpu;		/**< the vcpu re-pinned, or -1 for a cell's move */
	int cell;		/**< the cell whose memory moves, or -1 for a vcpu's re-pin */
	unsigned from, to;	/**< host PU OS indexes (vcpu), node OS indexes (cell) */
	uint64_t memory_mib;	/**< a cell's move: the MiB of memory that migrate */
};

/**
 * Grow or shrink a placed dedicated guest of one cell: its vcpus, and its memory. It keeps
 * every PU and the node it holds when that is possible (shrinking, or growing into free PUs
 * of its node as its policy takes them), else it is placed anew after the fewest moves of the
 * others (as tmap_host_make_room()); when neither answers it keeps exactly what it had.
 * @param host the host.
 * @param name the placed guest.
 * @param vcpus its new vcpu count.
 * @param memory_mib its new memory, or 0 to keep it.
 * @param options the search's options when moves are needed, or NULL.
 * @param ret receives the plan: the guest resized, and the moves of others.
 * @param reterr receives why on failure.
 * @return 0, -ENOENT, -EOPNOTSUPP (a shared guest, or several cells), -ENOSPC, -EINVAL or
 *         -ENOMEM.
 */
TMAP_EXPORT int tmap_host_resize(struct tmap_host *host, const char *name, unsigned vcpus,
				 uint64_t memory_mib, const struct tmap_room_options *options,
				 struct tmap_plan **ret, struct tmap_error *reterr);

/** @param plan the plan. @return how many moves of placed guests it makes (tmap_host_make_room()). */
TMAP_EXPORT size_t tmap_plan_move_count(const struct tmap_plan *plan);

/**
 * One move, in the order they are to be put in force.
 * @param plan the plan.
 * @param index 0 to tmap_plan_move_count() - 1.
 * @param ret receives the move (its guest name borrowed from the plan).
 * @return 0, or -EINVAL for a bad index.
 */
TMAP_EXPORT int tmap_plan_move(const struct tmap_plan *plan, size_t index, struct tmap_move *ret);

/**
 * What the search for room proved.
 * @param plan a plan of tmap_host_make_room().
 * @param ret_lower receives the fewest moves proved needed, or NULL.
 * @return 1 when the moves are proved the fewest, 0 when not, -EINVAL for a plan that did
 *         not come from tmap_host_make_room().
 */
TMAP_EXPORT int tmap_plan_move_bound(const struct tmap_plan *plan, unsigned *ret_lower);

/**
 * The measure of a rebalance: the largest cell (the most free PUs on one node with CPUs)
 * before and after its moves.
 * @param plan a plan of tmap_host_rebalance().
 * @param ret_before receives the largest cell before the moves, or NULL.
 * @param ret_after receives it after them (equal when no move improves it), or NULL.
 * @return 0, or -EINVAL for a plan that did not come from tmap_host_rebalance().
 */
TMAP_EXPORT int tmap_plan_rebalance(const struct tmap_plan *plan, unsigned *ret_before,
				    unsigned *ret_after);

/**
 * The first measure of a rebalance: of the recent requests the host was asked for (the
 * solver's window, which the state records, the last 16), how many fit before and after its
 * moves. A rebalance makes room first for the recent request most asked for that does not
 * fit; the largest cell (tmap_plan_rebalance()) decides only when none is reached.
 * @param plan a plan of tmap_host_rebalance().
 * @param ret_count receives how many recent requests the host knows (0: none, the largest
 *        cell alone decided), or NULL.
 * @param ret_before receives how many of them fit before the moves, or NULL.
 * @param ret_after receives how many fit after them, or NULL.
 * @return 0, or -EINVAL for a plan that did not come from tmap_host_rebalance().
 */
TMAP_EXPORT int tmap_plan_rebalance_recent(const struct tmap_plan *plan, unsigned *ret_count,
					   unsigned *ret_before, unsigned *ret_after);

/** @param plan the plan. @return how many guests a batch left out (tmap_host_solve_batch()). */
TMAP_EXPORT size_t tmap_plan_rejected_count(const struct tmap_plan *plan);
/** @param plan the plan. @param index a rejected guest. @return its name, or NULL. */
TMAP_EXPORT const char *tmap_plan_rejected_name(const struct tmap_plan *plan, size_t index);
/** @param plan the plan. @param index a rejected guest. @return why, naming the constraint
 *  that failed and the closest thing that would fit, or NULL. */
TMAP_EXPORT const char *tmap_plan_rejected_reason(const struct tmap_plan *plan, size_t index);

/**
 * @param plan the plan.
 * @param guest guest index.
 * @return the number of explanation lines.
 */
TMAP_EXPORT size_t tmap_plan_explain_count(const struct tmap_plan *plan, size_t guest);

/**
 * @param plan the plan.
 * @param guest guest index.
 * @param line 0 to tmap_plan_explain_count() - 1.
 * @return one line saying why a choice was made, or NULL.
 */
TMAP_EXPORT const char *tmap_plan_explain(const struct tmap_plan *plan, size_t guest,
					  size_t line);

/**
 * Print a plan.
 * @param plan the plan.
 * @param format any enum tmap_format.
 * @param flags must be 0.
 * @param ret receives a malloc()ed NUL-terminated string on success.
 * @param reterr receives the message on failure; may be NULL.
 * @return 0 or a negative errno code.
 */
TMAP_EXPORT int tmap_plan_format(const struct tmap_plan *plan, enum tmap_format format,
				 unsigned flags, char **ret, struct tmap_error *reterr);



#ifdef __cplusplus
}
#endif

#endif /* TOPOMAP_STATE_H */
