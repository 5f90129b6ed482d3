/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file partition.h
 * libtopomap: the host's tasks, its partition, and the partition put in force live.
 *
 * Included by <topomap/topomap.h>; the conventions written there hold here too.
 */
#ifndef TOPOMAP_PARTITION_H
#define TOPOMAP_PARTITION_H

#include <topomap/topomap.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------- */
/** @name The host's tasks, and the intruders on a guest's PUs (issue 15) */

/**
 * The host's tasks (every thread of every process) as the kernel listed them at one moment:
 * their ids, command, cgroup, allowed PUs and whether they are kernel threads that cannot
 * move.
 */
struct tmap_tasks;

/**
 * Read every task of the host.
 * @param proc_root the proc file system to read, NULL for "/proc" (another directory with the
 *        same layout for tests).
 * @param flags must be 0.
 * @param ret receives the tasks (tmap_tasks_free()).
 * @param reterr receives the message on failure.
 * @return 0 or a negative errno code; a task that ends while it is read is left out.
 */
TMAP_EXPORT int tmap_tasks_read(const char *proc_root, unsigned flags, struct tmap_tasks **ret,
				struct tmap_error *reterr);

/**
 * @param tasks the tasks, or NULL.
 * @return NULL.
 */
TMAP_EXPORT struct tmap_tasks *tmap_tasks_free(struct tmap_tasks *tasks);

/** @param tasks the tasks. @return how many there are. */
TMAP_EXPORT size_t tmap_tasks_count(const struct tmap_tasks *tasks);

/**
 * @param tasks the tasks.
 * @param i 0 to tmap_tasks_count() - 1.
 * @param ret_pid receives the process id; may be NULL.
 * @param ret_tid receives the thread id; may be NULL.
 * @return 0 or -EINVAL for an index out of range.
 */
TMAP_EXPORT int tmap_task_ids(const struct tmap_tasks *tasks, size_t i, pid_t *ret_pid,
			      pid_t *ret_tid);

/** @param tasks the tasks. @param i a task. @return its command (comm), or NULL. */
TMAP_EXPORT const char *tmap_task_comm(const struct tmap_tasks *tasks, size_t i);

/** @param tasks the tasks. @param i a task. @return its cgroup, as /proc/PID/cgroup names
 *  it (the cpuset controller's on cgroup v1, the unified one on v2), or NULL. */
TMAP_EXPORT const char *tmap_task_cgroup(const struct tmap_tasks *tasks, size_t i);

/** @param tasks the tasks. @param i a task. @return the PUs it may run on
 *  (Cpus_allowed_list), or NULL. */
TMAP_EXPORT const char *tmap_task_cpus(const struct tmap_tasks *tasks, size_t i);

/**
 * @param tasks the tasks.
 * @param i a task.
 * @return whether it is a kernel thread that cannot move: PF_NO_SETAFFINITY, or a kthreadd
 *         child bound to one CPU.
 */
TMAP_EXPORT bool tmap_task_is_pinned_kernel(const struct tmap_tasks *tasks, size_t i);

/** tmap_tasks_intruders() flag: list the kernel threads that cannot move instead. */
#define TMAP_TASKS_PINNED_KERNEL (1u << 0)

/**
 * The tasks that may run on some of cpus and are not the guest's own: not in own_cgroup (or
 * below it) and not threads of own_pid. Kernel threads that cannot move are left out (they
 * are not drift), or are the only ones listed with TMAP_TASKS_PINNED_KERNEL.
 * @param tasks the tasks.
 * @param cpus the PUs to keep clear, in list syntax.
 * @param own_cgroup the guest's cgroup as tmap_task_cgroup() names it, or NULL.
 * @param own_pid the guest's process, or 0.
 * @param flags 0 or TMAP_TASKS_PINNED_KERNEL.
 * @param ret receives a malloc()ed array of task indexes.
 * @param ret_count receives its length.
 * @param reterr receives the message on failure.
 * @return 0, -EINVAL or -ENOMEM.
 */
TMAP_EXPORT int tmap_tasks_intruders(const struct tmap_tasks *tasks, const char *cpus,
				     const char *own_cgroup, pid_t own_pid, unsigned flags,
				     size_t **ret, size_t *ret_count, struct tmap_error *reterr);

/**
 * The cgroup path, as tmap_task_cgroup() names it, of a directory of this machine's cpuset
 * hierarchy (v1) or unified hierarchy (v2): "/sys/fs/cgroup/cpuset/a/b" is "/a/b".
 * @param dir an absolute directory.
 * @param ret receives the malloc()ed path.
 * @param reterr receives the message on failure.
 * @return 0, -ENOENT when dir is in no such hierarchy, or -errno.
 */
TMAP_EXPORT int tmap_cgroup_path(const char *dir, char **ret, struct tmap_error *reterr);


/* ---------------------------------------------------------------------------------------- */
/** @name The host's partition (issue 15) */

/**
 * What the host's PUs are for, from what it holds: the housekeeping set (the host's own
 * daemons, kernel threads and interrupts), the shared pool, each dedicated guest's PUs (those
 * it keeps from everyone: its vcpus', an isolated emulator's, the siblings thread policy
 * isolate or require keeps empty), and the rest, free. With the traps it holds, each a
 * sentence with its fix. Pure: no system call.
 */
struct tmap_partition;

/**
 * @param host the host, as the state holds it.
 * @param reserve the reserve (tmap_state_reserve()), or NULL.
 * @param housekeeping the housekeeping PUs, or NULL for the reserve.
 * @param flags must be 0.
 * @param ret receives the partition (tmap_partition_free()).
 * @param reterr receives the message on failure.
 * @return 0, -EINVAL (a set that is not a list of this host's PUs) or -ENOMEM.
 */
TMAP_EXPORT int tmap_partition_new(const struct tmap_host *host, const char *reserve,
				   const char *housekeeping, unsigned flags,
				   struct tmap_partition **ret, struct tmap_error *reterr);

/** @param partition the partition, or NULL. @return NULL. */
TMAP_EXPORT struct tmap_partition *tmap_partition_free(struct tmap_partition *partition);

/** @param partition the partition. @return the housekeeping PUs, list syntax ("" none). */
TMAP_EXPORT const char *tmap_partition_housekeeping(const struct tmap_partition *partition);

/** @param partition the partition. @return the shared pool's PUs, list syntax. */
TMAP_EXPORT const char *tmap_partition_shared(const struct tmap_partition *partition);

/** @param partition the partition. @return the PUs nobody holds, list syntax. */
TMAP_EXPORT const char *tmap_partition_free_cpus(const struct tmap_partition *partition);

/**
 * @param partition the partition.
 * @return the PUs to isolate at boot (isolcpus=, nohz_full=, tuned's isolated_cores=): every
 *         dedicated guest's, with the free SMT siblings of their cores, so that no core is
 *         half isolated where nobody else needs the other half.
 */
TMAP_EXPORT const char *tmap_partition_isolated(const struct tmap_partition *partition);

/** @param partition the partition. @return the number of dedicated guests. */
TMAP_EXPORT size_t tmap_partition_guest_count(const struct tmap_partition *partition);

/** @param partition the partition. @param i a dedicated guest. @return its name, or NULL. */
TMAP_EXPORT const char *tmap_partition_guest_name(const struct tmap_partition *partition,
						  size_t i);

/** @param partition the partition. @param i a dedicated guest. @return the PUs it keeps
 *  from everyone, list syntax, or NULL. */
TMAP_EXPORT const char *tmap_partition_guest_cpus(const struct tmap_partition *partition,
						  size_t i);

/**
 * The devices recorded guests hold (issue 16), shared and dedicated: their interrupts are
 * the guest's, and tmap_isolate() leaves them where they are.
 * @param partition the partition. @return how many.
 */
TMAP_EXPORT size_t tmap_partition_device_count(const struct tmap_partition *partition);

/**
 * @param partition the partition.
 * @param i 0 to tmap_partition_device_count() - 1.
 * @param ret_pci receives its PCI address ("0000:41:00.0"); may be NULL.
 * @param ret_guest receives the name of the guest that holds it; may be NULL.
 * @return 0 or -EINVAL.
 */
TMAP_EXPORT int tmap_partition_device(const struct tmap_partition *partition, size_t i,
				      const char **ret_pci, const char **ret_guest);

/**
 * The interrupts of a PCI device: one per MSI or MSI-X vector (msi_irqs/), and its legacy
 * INTx line when it has one (irq, not 0), in increasing order.
 * @param sys_root the sys file system to read, NULL for "/sys".
 * @param pci the device's PCI address ("0000:41:00.0").
 * @param ret receives the numbers, malloc()ed (NULL when none).
 * @param ret_n receives how many.
 * @param reterr receives the message on failure.
 * @return 0, -EINVAL (not a PCI address), -ENOENT (no such device) or -ENOMEM.
 */
TMAP_EXPORT int tmap_device_irqs(const char *sys_root, const char *pci, unsigned **ret,
				 size_t *ret_n, struct tmap_error *reterr);

/** @param partition the partition. @return how many traps it holds. */
TMAP_EXPORT size_t tmap_partition_warning_count(const struct tmap_partition *partition);

/** @param partition the partition. @param i a trap. @return the trap and its fix, or NULL. */
TMAP_EXPORT const char *tmap_partition_warning(const struct tmap_partition *partition, size_t i);


/* ---------------------------------------------------------------------------------------- */
/** @name The partition put in force live (issue 15) */

/** What tmap_isolate() did: each file written, what undoes it, and what it refused. */
struct tmap_isolation;

/** tmap_isolate() flag: leave the interrupts where they are. */
#define TMAP_ISOLATE_NO_IRQS (1u << 0)

/** Options of tmap_isolate(). Initialise with TMAP_ISOLATE_OPTIONS_INIT. */
struct tmap_isolate_options {
	uint32_t size;			/**< sizeof(struct tmap_isolate_options) */
	uint32_t flags;			/**< TMAP_ISOLATE_* bits */
	const char *proc_root;		/**< the proc file system, NULL for "/proc" */
	const char *const *narrow;	/**< cgroups to narrow to the host's PUs */
	size_t nnarrow;
	const char *const *guest_cgroups; /**< dedicated guests' cgroup directories */
	size_t nguest_cgroups;
	/** The cpuset hierarchy's root (cgroup v2 when it holds cgroup.subtree_control), NULL
	 *  for the one mounted at /sys/fs/cgroup. Appended: a caller built before it passes a
	 *  smaller size and gets NULL. */
	const char *cgroup_root;
	/** The sys file system where the guests' devices are found (their interrupts left to
	 *  them), NULL for "/sys". Appended as cgroup_root was. */
	const char *sys_root;
};

/** Initialiser for struct tmap_isolate_options. */
#define TMAP_ISOLATE_OPTIONS_INIT {.size = sizeof(struct tmap_isolate_options)}

/**
 * Keep the host off its dedicated guests' PUs, live, as a transaction: each file is captured
 * before it is written and read back after; on any failure every captured value is put back,
 * last written first. cgroup v1: the cgroups of options->narrow (and every cgroup below them,
 * children first) narrowed to the housekeeping and shared PUs. cgroup v2: each guest cgroup
 * made an isolated partition, and system.slice, user.slice, init.scope and options->narrow
 * narrowed. Interrupts: each IRQ moved off the dedicated PUs, its effective affinity read
 * back; one the kernel keeps there is reported (tmap_isolation_refused()), not a failure.
 * The interrupts of the devices recorded guests hold (tmap_partition_device(), read under
 * options->sys_root by tmap_device_irqs()) are the guests': left where they are and listed
 * (tmap_isolation_left()). Called again on a host it isolated, it extends that isolation: only what changed is
 * written (a new guest's partition, the narrowed cgroups narrowed further, interrupts moved
 * off new PUs), each undone by the value the last isolation left. The options are kept in the
 * result, so that tmap_state_set_isolation() records them for a later apply to repeat.
 * @param partition the partition (tmap_partition_new()).
 * @param options what to narrow, the guests' cgroups, flags.
 * @param ret receives what was done (tmap_isolation_free()), to record for an undo.
 * @param reterr receives the message on failure.
 * @return 0; -EINVAL (nothing to isolate, or nothing left for the host), -EOPNOTSUPP (no
 *         cpuset hierarchy or partitions), -ENOTRECOVERABLE when what was written could not
 *         all be put back, or the -errno of the write that failed (everything put back).
 */
TMAP_EXPORT int tmap_isolate(const struct tmap_partition *partition,
			     const struct tmap_isolate_options *options,
			     struct tmap_isolation **ret, struct tmap_error *reterr);

/** @param isolation what was done, or NULL. @return NULL. */
TMAP_EXPORT struct tmap_isolation *tmap_isolation_free(struct tmap_isolation *isolation);

/** @param isolation what was done. @return how many files were written. */
TMAP_EXPORT size_t tmap_isolation_change_count(const struct tmap_isolation *isolation);

/**
 * @param isolation what was done.
 * @param i 0 to tmap_isolation_change_count() - 1, in the order written.
 * @param ret_path receives the file; may be NULL.
 * @param ret_restore receives what to write to undo it; may be NULL.
 * @param ret_value receives what was written; may be NULL.
 * @return 0 or -EINVAL.
 */
TMAP_EXPORT int tmap_isolation_change(const struct tmap_isolation *isolation, size_t i,
				      const char **ret_path, const char **ret_restore,
				      const char **ret_value);

/** @param isolation what was done. @return how many interrupts it left to the guests whose
 *  devices raise them. */
TMAP_EXPORT size_t tmap_isolation_left_count(const struct tmap_isolation *isolation);

/** @param isolation what was done. @param i one of them. @return it, as a sentence ("irq 45:
 *  0000:41:00.0, held by g1"), or NULL. */
TMAP_EXPORT const char *tmap_isolation_left(const struct tmap_isolation *isolation, size_t i);

/** @param isolation what was done. @return how many things the kernel refused. */
TMAP_EXPORT size_t tmap_isolation_refused_count(const struct tmap_isolation *isolation);

/** @param isolation what was done. @param i a refusal. @return it, as a sentence. */
TMAP_EXPORT const char *tmap_isolation_refused(const struct tmap_isolation *isolation, size_t i);

/**
 * Undo an isolation: write values[i] to paths[i], last first, going on past a failure. A path
 * that is a task's directory (PROC/PID/task/TID: on cgroup v1, a task of the root cpuset
 * cgroup, which has no cpuset.cpus to narrow) gets its affinity set to values[i] instead; a
 * task that ended is skipped. tmap_state_isolation_undo() also checks that the task is still
 * the one narrowed (its start time), which these arguments cannot say.
 * @param paths the files, as tmap_isolation_change() gave them.
 * @param values what undoes each.
 * @param n how many.
 * @param reterr receives the first failure.
 * @return 0 or the -errno of the first write that failed.
 */
TMAP_EXPORT int tmap_isolate_restore(const char *const *paths, const char *const *values,
				     size_t n, struct tmap_error *reterr);


/**
 * What the last tmap_isolate() recorded in the state wrote (tmap_state_set_isolation()).
 * @param state the state.
 * @return how many files, 0 when the host is not isolated.
 */
TMAP_EXPORT size_t tmap_state_isolation_count(const struct tmap_state *state);

/**
 * @param state the state.
 * @param i 0 to tmap_state_isolation_count() - 1, in the order written.
 * @param ret_path receives the file; may be NULL.
 * @param ret_restore receives what undoes the write; may be NULL.
 * @return 0 or -EINVAL.
 */
TMAP_EXPORT int tmap_state_isolation_change(const struct tmap_state *state, size_t i,
					    const char **ret_path, const char **ret_restore);

/**
 * What the isolation wrote to a file, the value in force while it is (a later write to the
 * same path, recorded after it, replaces it): with tmap_state_isolation_change(), what a
 * caller shows of an isolation made again (topomap host set prints each file whose value
 * changed).
 * @param state the state.
 * @param i 0 to tmap_state_isolation_count() - 1, in the order written.
 * @return the value (borrowed from the state), or NULL when i is out of range.
 */
TMAP_EXPORT const char *tmap_state_isolation_value(const struct tmap_state *state, size_t i);

/**
 * Put back everything the isolation recorded in the state changed, last first, going on past
 * a failure (tmap_isolate_restore()); a task's affinity only while the task is the one it was
 * (the same start time), not one that took its tid since. The state is not changed: record
 * NULL with tmap_state_set_isolation() afterwards.
 * @param state the state.
 * @param reterr receives the first failure.
 * @return 0 or the -errno of the first write that failed.
 */
TMAP_EXPORT int tmap_state_isolation_undo(const struct tmap_state *state,
					  struct tmap_error *reterr);

/**
 * Record what an isolation wrote and the options it was made with (NULL: the host is not
 * isolated any more), saved by the next tmap_state_save(). While the state records an
 * isolation, tmap_session_apply() extends it to each dedicated guest it applies, and
 * tmap_session_release() gives a released guest's PUs back to the host.
 * @param state a state opened with TMAP_STATE_WRITE.
 * @param isolation what tmap_isolate() did, or NULL.
 * @param reterr receives the message on failure.
 * @return 0 or a negative errno code.
 */
TMAP_EXPORT int tmap_state_set_isolation(struct tmap_state *state,
					 const struct tmap_isolation *isolation,
					 struct tmap_error *reterr);

#ifdef __cplusplus
}
#endif

#endif /* TOPOMAP_PARTITION_H */
