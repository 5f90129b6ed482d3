/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file session.h
 * One allocation transaction for the command-line tool and every embedder.
 *
 * A session holds a host (its topology), the state file that records what is placed on it
 * (locked for the session's life) and the backends it loaded. Each call is a whole
 * transaction: tmap_session_apply() places the guest around what the state records, records
 * it as pending and saves before the backend writes anything (write-ahead), applies and reads
 * back through the backend, then records it as applied and saves. Nothing applied goes
 * unrecorded; a failed apply leaves the target as it was and the state without the guest.
 *
 * A failure says which step failed (tmap_session_failed_step()), so the caller decides
 * what to do from a value, not from the text of the message:
 *
 * @code
 * struct tmap_session_options opts = TMAP_SESSION_OPTIONS_INIT;
 * opts.topology = "synthetic:pack:2 core:4 pu:2";
 * opts.state = "/var/lib/topomap/state.json";
 * opts.flags = TMAP_SESSION_WRITE;
 * if (tmap_session_open(&opts, &s, &err) < 0) ...
 * r = tmap_session_apply(s, "cgroup", target, guest, 0, &plan, &report, &err);
 * if (r < 0 && tmap_session_failed_step(s) == TMAP_STEP_PLACE) ... // does not fit
 * tmap_session_close(s);
 * @endcode
 */
#ifndef TOPOMAP_SESSION_H
#define TOPOMAP_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include <topomap/backend.h>
#include <topomap/topomap.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The step of a transaction that failed. Values are stable: bindings map them. */
enum tmap_step {
	TMAP_STEP_NONE = 0,	/**< nothing failed */
	TMAP_STEP_INPUT = 1,	/**< the caller's input was refused (guest, target, name); nothing
				     changed */
	TMAP_STEP_TOPOLOGY = 2, /**< the host could not be described; nothing changed */
	TMAP_STEP_STATE = 3,	/**< the state could not be opened, read or saved */
	TMAP_STEP_PLACE = 4,	/**< the guest does not fit (-ENOSPC); nothing changed */
	TMAP_STEP_RECORD = 5,	/**< the guest could not be recorded before its apply: nothing
				     was applied */
	TMAP_STEP_OPEN = 6,	/**< the backend refused the target before writing: nothing
				     changed */
	TMAP_STEP_APPLY = 7,	/**< a write failed; what was there was put back */
	TMAP_STEP_READ_BACK = 8, /**< what was read back failed or differs from the plan; what
				      was there was put back */
	TMAP_STEP_RESTORE = 9,	/**< a step failed and putting back failed too: the target is
				     left partly changed */
	TMAP_STEP_COMMIT = 10,	/**< applied and read back, but not recorded as applied: the
				     guest stays recorded as pending, which the next session
				     settles */
};

/**
 * @param step a step.
 * @return its name ("input", "topology", "state", "place", "record", "open", "apply",
 *         "read back", "restore", "commit"; "none"), never NULL.
 */
TMAP_EXPORT const char *tmap_step_name(enum tmap_step step);

/**
 * The step at which tmap_apply() or tmap_verify() failed.
 * @param report the report of a failed call, or NULL.
 * @return TMAP_STEP_OPEN, _APPLY, _READ_BACK or _RESTORE; TMAP_STEP_NONE when it did not fail.
 */
TMAP_EXPORT enum tmap_step tmap_report_failed_step(const struct tmap_report *report);

struct tmap_session;

/** tmap_session_open(): lock the state for writing (apply, release, adopt, reserve) and
 *  settle the guests a killed session left pending. */
#define TMAP_SESSION_WRITE (1u << 0)
/** tmap_session_open(): without a given shared pool, the recorded shared guests do not follow
 *  it in this session (apply, release, reserve and the room transactions apply no guest but
 *  their own): for a caller that must not reach the other guests' targets, as libvirt's hook
 *  must not call back into libvirt. They are drift until a later session's call that writes
 *  applies them again. */
#define TMAP_SESSION_NO_FOLLOW (1u << 1)

/** Options of tmap_session_open(). Initialise with TMAP_SESSION_OPTIONS_INIT. */
struct tmap_session_options {
	unsigned size;	      /**< sizeof(struct tmap_session_options), set by the _INIT macro */
	unsigned flags;	      /**< TMAP_SESSION_* bits */
	/** Deprecated: the host as the source string of tmap_topology_new(), which is read
	 *  by sniffing it. Give .host instead. NULL (and no .host) means the live host. */
	const char *topology;
	/** The state file, or NULL for a session that records nothing. */
	const char *state;
	/** Host PUs added to the recorded reserve (which is the union of every reserve), list
	 *  syntax, or NULL. Recorded by the next transaction that saves. */
	const char *reserve;
	/** Shared pool, overcommit, flags; its reserve is ignored (use .reserve). */
	struct tmap_solve_options solve;
	/** The host, made by one of the tmap_topology_new_*() constructors, or NULL for the
	 *  live host. Borrowed: the caller keeps it until tmap_session_close(), and
	 *  tmap_session_topology() returns it. Not with .topology. */
	const struct tmap_topology *host;
};

/** Initialiser for struct tmap_session_options. */
#define TMAP_SESSION_OPTIONS_INIT \
	{.size = sizeof(struct tmap_session_options), .solve = TMAP_SOLVE_OPTIONS_INIT}

/**
 * Open a session: describe the host, open and lock the state (shared, or exclusive with
 * TMAP_SESSION_WRITE), place what it records. With TMAP_SESSION_WRITE, a guest recorded as
 * pending (its session was killed between its record and its apply) is settled: read
 * through its backend and target, it is kept when its plan is in force, applied again when
 * its target is there but its plan is not (so the target and the state agree), and dropped
 * when its target is gone; each is said in a notice.
 * @param options the options (NULL for the live host and no state).
 * @param ret receives the session.
 * @param reterr receives the message on failure; tmap_session_failed_step() cannot be
 *        asked then, the step is in the message's errno: -EINVAL or -ENOENT for the input,
 *        else the topology's or the state's.
 * @return 0 or -errno.
 */
TMAP_EXPORT int tmap_session_open(const struct tmap_session_options *options,
				  struct tmap_session **ret, struct tmap_error *reterr);

/**
 * Close a session: unload its backends, unlock the state.
 * @param session the session, or NULL.
 * @return NULL.
 */
TMAP_EXPORT struct tmap_session *tmap_session_close(struct tmap_session *session);

/** @param session a session. @return the step at which its last call failed, or
 *  TMAP_STEP_NONE after a call that succeeded. */
TMAP_EXPORT enum tmap_step tmap_session_failed_step(const struct tmap_session *session);

/** @param session a session. @return the host it describes. */
TMAP_EXPORT const struct tmap_topology *tmap_session_topology(const struct tmap_session *session);

/** @param session a session. @return the placed guests as the state records them (read
 *  them; change them only through the session). */
TMAP_EXPORT const struct tmap_host *tmap_session_host(const struct tmap_session *session);

/** @param session a session. @return the state file's path, or NULL without a state. */
TMAP_EXPORT const char *tmap_session_state_path(const struct tmap_session *session);

/** @param session a session. @return the recorded reserve with the session's, list syntax,
 *  or NULL when nothing is reserved. */
TMAP_EXPORT const char *tmap_session_reserve(const struct tmap_session *session);

/**
 * What the session did on its own and the caller should say: guests settled on open, a
 * plan placed around recorded guests. One line each, no trailing newline.
 * @param session a session.
 * @return the number of notices.
 */
TMAP_EXPORT size_t tmap_session_notice_count(const struct tmap_session *session);
/** @param session a session. @param i index. @return one notice, or NULL. */
TMAP_EXPORT const char *tmap_session_notice(const struct tmap_session *session, size_t i);

/** @param session a session. @return how many guests the state records. */
TMAP_EXPORT size_t tmap_session_guest_count(const struct tmap_session *session);
/** @param session a session. @param i index, in the order they were placed. @return the
 *  recorded guest's name, or NULL. */
TMAP_EXPORT const char *tmap_session_guest_name(const struct tmap_session *session, size_t i);

/**
 * The recorded guest a name means: a guest's own name, or the libvirt domain (name or UUID)
 * it was applied to.
 * @param session a session.
 * @param what a name.
 * @return the recorded guest's name (valid until the guest is released), or NULL.
 */
TMAP_EXPORT const char *tmap_session_lookup(const struct tmap_session *session, const char *what);

/**
 * The backend and target a recorded guest was applied to.
 * @param session a session.
 * @param name a recorded guest.
 * @param ret_backend receives the backend's name (valid while the guest is recorded).
 * @param ret_target receives a new target (tmap_target_free()).
 * @param reterr receives the message on failure.
 * @return 0, -ENOENT (not recorded, or recorded without a target) or -ENOMEM.
 */
TMAP_EXPORT int tmap_session_guest_target(const struct tmap_session *session, const char *name,
					  const char **ret_backend,
					  struct tmap_target **ret_target,
					  struct tmap_error *reterr);

/**
 * The plan a recorded guest holds.
 * @param session a session.
 * @param name a recorded guest.
 * @param ret receives a one-guest plan (tmap_plan_free()).
 * @param reterr receives the message on failure.
 * @return 0, -ENOENT or -ENOMEM.
 */
TMAP_EXPORT int tmap_session_guest_plan(const struct tmap_session *session, const char *name,
					struct tmap_plan **ret, struct tmap_error *reterr);

/**
 * The vcpu count a recorded guest still runs while its plan has another: a resize applied to
 * it running (tmap_session_apply_resize()), which it takes at its next start. The plan of
 * tmap_session_guest_plan() carries it: tmap_verify() of that plan with TMAP_APPLY_RESIZE
 * then takes this count or the plan's as in force (the other one pending) and any third one
 * as drift. The state forgets it once the guest is applied with its plan's count, or is found
 * running it by a session that may write.
 * @param session a session.
 * @param name a recorded guest (or its libvirt domain, see tmap_session_lookup()).
 * @return the count; 0 when the guest runs its plan's count (or is not recorded).
 */
TMAP_EXPORT unsigned tmap_session_guest_running_vcpus(const struct tmap_session *session,
						      const char *name);

/**
 * Does a recorded shared guest (or a mixed guest's shared vcpus) float over other PUs than
 * the pool of its nodes as the session's host holds it (the given pool, or else the node's
 * usable PUs that no dedicated guest holds)? What tmap_session_verify() adds to a backend's
 * findings, for a caller that verifies a target of its own with tmap_verify(), as
 * `topomap verify NAME` does.
 * @param session a session with a state.
 * @param name a recorded guest (or its libvirt domain, see tmap_session_lookup()).
 * @param ret_line receives the difference, one line (free() it), or NULL when none.
 * @return 0 (none), 1 (a difference), -ENOENT (no such guest recorded), -EINVAL (a missing
 *         argument) or -ENOMEM.
 */
TMAP_EXPORT int tmap_session_guest_pool_drift(const struct tmap_session *session,
					      const char *name, char **ret_line);

/**
 * The guest as it was asked for when it was recorded (its policies, QoS, page size): what
 * a later start of the same guest asks for again.
 * @param session a session.
 * @param name a recorded guest (or its libvirt domain).
 * @param ret receives a one-guest list (tmap_guests_free()).
 * @param reterr receives the message on failure.
 * @return 0, -ENOENT (not recorded, or recorded without a spec) or -errno.
 */
TMAP_EXPORT int tmap_session_guest_spec(const struct tmap_session *session, const char *name,
					struct tmap_guests **ret, struct tmap_error *reterr);

/**
 * Is a target the one a recorded guest was applied to? Its backend's durable identity (a
 * domain's UUID, a QEMU's pid and start time) is compared with the recorded one; a backend
 * that cannot tell one goes by the guest's name.
 * @param session a session.
 * @param name a recorded guest (or its libvirt domain).
 * @param backend the target's backend.
 * @param target its options.
 * @param reterr receives the message on failure.
 * @return 1 the same, 0 another, -ENOENT when nothing is recorded for the name, or -errno.
 */
TMAP_EXPORT int tmap_session_same_target(struct tmap_session *session, const char *name,
					 const char *backend, const struct tmap_target *target,
					 struct tmap_error *reterr);

/** tmap_session_plan(): place those that fit, list the others (tmap_host_solve_batch()). */
#define TMAP_SESSION_BATCH (1u << 0)

/**
 * Plan guests around what the state records, changing nothing (a what-if).
 * @param session a session.
 * @param guests the guests.
 * @param flags 0 or TMAP_SESSION_BATCH.
 * @param ret receives the plan.
 * @param reterr receives the message on failure.
 * @return 0, -ENOSPC (TMAP_STEP_PLACE), -EINVAL (TMAP_STEP_INPUT) or -ENOMEM.
 */
TMAP_EXPORT int tmap_session_plan(struct tmap_session *session, const struct tmap_guests *guests,
				  unsigned flags, struct tmap_plan **ret,
				  struct tmap_error *reterr);

/**
 * Plan a guest that does not fit as the host stands after the fewest moves of the recorded
 * guests (tmap_host_make_room()), changing nothing: a what-if, like tmap_session_plan().
 * @param session a session.
 * @param guest the guest.
 * @param options the search's options, or NULL for the defaults.
 * @param ret receives the plan: the guest and the moves (tmap_plan_move()).
 * @param reterr receives the message on failure.
 * @return 0, -ENOSPC (TMAP_STEP_PLACE: no answer within the moves allowed), -EINVAL
 *         (TMAP_STEP_INPUT) or -ENOMEM.
 */
TMAP_EXPORT int tmap_session_make_room(struct tmap_session *session,
				       const struct tmap_guest *guest,
				       const struct tmap_room_options *options,
				       struct tmap_plan **ret, struct tmap_error *reterr);

/**
 * Plan a recorded guest resized (tmap_host_resize()), changing nothing (a what-if).
 * @param session a session.
 * @param name the recorded guest.
 * @param vcpus its new vcpu count.
 * @param memory_mib its new memory, or 0 to keep it.
 * @param options the search's options when moves are needed, or NULL.
 * @param ret receives the plan.
 * @param reterr receives the message on failure.
 * @return 0, -ENOSPC (TMAP_STEP_PLACE), -EINVAL (TMAP_STEP_INPUT: no such guest, or one
 *         resize does not take) or -ENOMEM.
 */
TMAP_EXPORT int tmap_session_resize(struct tmap_session *session, const char *name,
				    unsigned vcpus, uint64_t memory_mib,
				    const struct tmap_room_options *options, struct tmap_plan **ret,
				    struct tmap_error *reterr);

/** tmap_session_apply_room(): move no memory; each moved cell's pages stay where they are. */
#define TMAP_ROOM_NO_MEMORY (1u << 1)

/**
 * Make room for a guest and put it in force, as one transaction (issue 18): the fewest moves
 * of the recorded guests (tmap_host_make_room()), then the guest. Every guest it touches is
 * recorded as pending and the state saved before anything is written (write-ahead); the
 * moves are applied one guest at a time, each through the backend and target the state
 * recorded for it (asking that backend to migrate the moved cells' pages where it can:
 * cgroup v1 `cpuset.memory_migrate`), then the new guest through @p backend and @p target;
 * all are recorded as applied at the end. On any failure every moved guest is applied again
 * where it was and the state is put back as it was.
 * While the state records an isolation, it is put back and made again (tmap_isolate() with the
 * recorded options) for the guests where they now stand, as the new guest's last step, when
 * one of the guests touched is dedicated: a moved guest gives back the PUs it left. A failure
 * there puts the isolation's files back, then the guest, then the moved guests (TMAP_STEP_APPLY;
 * TMAP_STEP_RESTORE when a file could not be put back). tmap_session_apply_resize() and
 * tmap_session_apply_rebalance() (after the moves) do the same.
 * @param session a session opened with TMAP_SESSION_WRITE and a state.
 * @param backend the new guest's backend.
 * @param target the new guest's target.
 * @param guest the new guest (not recorded yet).
 * @param options the search's options, or NULL.
 * @param flags 0 or TMAP_ROOM_NO_MEMORY.
 * @param ret_plan receives the plan (the moves and the guest) on success; may be NULL.
 * @param ret_report receives the report of the last apply made; may be NULL.
 * @param reterr receives the message on failure.
 * @return 0; -ENOSPC (TMAP_STEP_PLACE: no answer within the moves allowed); -EINVAL,
 *         -EEXIST, -EBADF or -ENOENT (TMAP_STEP_INPUT: nothing changed); a backend's -errno
 *         (its step; TMAP_STEP_RESTORE when a moved guest could not be put back).
 */
TMAP_EXPORT int tmap_session_apply_room(struct tmap_session *session, const char *backend,
					const struct tmap_target *target,
					const struct tmap_guest *guest,
					const struct tmap_room_options *options, unsigned flags,
					struct tmap_plan **ret_plan, struct tmap_report **ret_report,
					struct tmap_error *reterr);

/**
 * Resize a recorded guest and put it in force, as one transaction (issue 18): the plan of
 * tmap_session_resize() (every PU and node it holds kept when it can, else the fewest moves of
 * the others), then as tmap_session_apply_room(): recorded as pending first, the moved guests
 * applied one at a time through their recorded targets, then the guest through its own
 * recorded backend and target, recorded as applied; on any failure every moved guest and the
 * state are put back, and the guest keeps what it had. The guest is applied with
 * TMAP_APPLY_RESIZE: a backend without vcpu hot-plug (qemu-direct, libvirt) pins the vcpus the
 * guest runs, and the report's pending line says what it must be started with.
 * @param session a session opened with TMAP_SESSION_WRITE and a state.
 * @param name the recorded guest.
 * @param vcpus its new vcpu count.
 * @param memory_mib its new memory, or 0 to keep it.
 * @param options the search's options when moves are needed, or NULL.
 * @param flags 0 or TMAP_ROOM_NO_MEMORY.
 * @param ret_plan receives the plan on success; may be NULL.
 * @param ret_report receives the report of the last apply made (the guest's, with its
 *        pending lines, on success); may be NULL.
 * @param reterr receives the message on failure.
 * @return 0; -ENOSPC (TMAP_STEP_PLACE); -EINVAL, -ENOENT or -EBADF (TMAP_STEP_INPUT: nothing
 *         changed); a backend's -errno (its step; TMAP_STEP_RESTORE when a moved guest could
 *         not be put back).
 */
TMAP_EXPORT int tmap_session_apply_resize(struct tmap_session *session, const char *name,
					  unsigned vcpus, uint64_t memory_mib,
					  const struct tmap_room_options *options, unsigned flags,
					  struct tmap_plan **ret_plan,
					  struct tmap_report **ret_report,
					  struct tmap_error *reterr);

/**
 * Plan a rebalance of the recorded guests (tmap_host_rebalance()): the moves, at most
 * options.max_moves, that make room for the recent requests the state records, else after
 * which the largest cell a new dedicated guest could have (the most free PUs on one node) is
 * largest; changing nothing (a what-if).
 * @param session a session.
 * @param options the search's options, or NULL for the defaults.
 * @param ret receives the plan: the moved guests, the moves (tmap_plan_move()) and the
 *        measure before and after (tmap_plan_rebalance()); no moves when none improves it.
 * @param reterr receives the message on failure.
 * @return 0, -EINVAL (TMAP_STEP_INPUT) or -ENOMEM.
 */
TMAP_EXPORT int tmap_session_rebalance(struct tmap_session *session,
				       const struct tmap_room_options *options,
				       struct tmap_plan **ret, struct tmap_error *reterr);

/**
 * Rebalance the recorded guests and put the moves in force, as one transaction (issue 18):
 * the plan of tmap_session_rebalance(), then as tmap_session_apply_room() without a new guest:
 * every moved guest recorded as pending and the state saved before anything is written, the
 * moves applied one guest at a time through the backend and target the state recorded for it,
 * all recorded as applied at the end; on any failure every moved guest is applied again where
 * it was and the state is put back. A plan of no moves changes nothing.
 * @param session a session opened with TMAP_SESSION_WRITE and a state.
 * @param options the search's options, or NULL.
 * @param flags 0 or TMAP_ROOM_NO_MEMORY.
 * @param ret_plan receives the plan on success; may be NULL.
 * @param ret_report receives the report of the last apply made; may be NULL.
 * @param reterr receives the message on failure.
 * @return 0; -EINVAL, -EBADF or -ENOENT (TMAP_STEP_INPUT: nothing changed); a backend's
 *         -errno (its step; TMAP_STEP_RESTORE when a moved guest could not be put back).
 */
TMAP_EXPORT int tmap_session_apply_rebalance(struct tmap_session *session,
					     const struct tmap_room_options *options,
					     unsigned flags, struct tmap_plan **ret_plan,
					     struct tmap_report **ret_report,
					     struct tmap_error *reterr);

/**
 * Change the shared pool and its ratios (issue 21; what topomap host set records), and every
 * placed shared guest with it: each cell floats over the new pool of its node (the emulator
 * with it, unless share-host), so each guest whose set changes is applied again through its
 * recorded backend and target, one at a time, in one transaction with the state: recorded
 * first, applied and read back, then the state saved with the new pool; on any failure
 * every guest applied is put back where it was and the state with it (all or nothing).
 * While the state records an isolation (tmap_state_set_isolation()), what the host keeps is
 * the housekeeping PUs and the pool: in the same transaction, once the guests are read back,
 * the isolation is put back and made again for the new pool with the recorded options (the
 * narrowed cgroups, the root cgroup's tasks and the interrupts follow it), recorded in the
 * state; the isolation is down while the guests move. A failure there puts the isolation's
 * files back, then the guests, and the state (TMAP_STEP_APPLY; TMAP_STEP_RESTORE when a file
 * could not be put back).
 * Refused before any write: a dedicated guest on a PU of the new pool, a shared cell wider
 * than its node's new pool, more shared vcpus on a node than its new pool holds at the
 * ratio, a shared guest that must follow but has no recorded target.
 * @param session a session opened with TMAP_SESSION_WRITE and a state.
 * @param shared the new pool in list syntax, "" for none (each node's pool grows from its
 *        free PUs), NULL to keep the recorded one.
 * @param cpu_overcommit the new ratio, 0 to keep the recorded one.
 * @param memory_overcommit the same for memory.
 * @param ret_report receives the report of the last apply made; may be NULL.
 * @param reterr receives the message on failure.
 * @return 0; -EINVAL, -EBADMSG or -EBADF (TMAP_STEP_INPUT), -ENOSPC (TMAP_STEP_PLACE),
 *         -ENOENT (a guest to follow has no target): nothing changed; a backend's -errno
 *         (its step; TMAP_STEP_RESTORE when a guest could not be put back).
 */
TMAP_EXPORT int tmap_session_set_pool(struct tmap_session *session, const char *shared,
				      double cpu_overcommit, double memory_overcommit,
				      struct tmap_report **ret_report, struct tmap_error *reterr);

/**
 * tmap_session_set_pool() with the host's housekeeping PUs too, in the same transaction:
 * recorded in the state (tmap_state_set_housekeeping()), and on an isolated host what the
 * host keeps (the housekeeping PUs and the pool) made again for both. A failure puts the
 * recorded housekeeping PUs back with the pool.
 * @param housekeeping the new housekeeping PUs in list syntax, "" for the reserve, NULL to
 *        keep the recorded ones.
 * The other parameters and the return value are tmap_session_set_pool()'s.
 */
TMAP_EXPORT int tmap_session_set_partition(struct tmap_session *session, const char *housekeeping,
					   const char *shared, double cpu_overcommit,
					   double memory_overcommit, struct tmap_report **ret_report,
					   struct tmap_error *reterr);

/**
 * Place one guest and put it in force through a backend, recorded first: the whole
 * transaction. A guest the state holds already is placed again keeping what it holds
 * (tmap_host_place_again()); it keeps its recorded allocation until the new one is in force.
 * With TMAP_APPLY_DRY_RUN nothing is written, recorded or saved.
 * While the state records an isolation (tmap_state_set_isolation()), a dedicated guest is
 * added to it in the same transaction, once its apply is read back (tmap_isolate() again with
 * the recorded options and every dedicated guest): a failure there puts the isolation's files
 * back, then the guest's apply (TMAP_STEP_APPLY; TMAP_STEP_RESTORE when a file could not be
 * put back), and the state stays as it was. A shared guest changes nothing.
 * @param session a session opened with TMAP_SESSION_WRITE (or any, for a dry run).
 * @param backend the backend's name (loaded once per session).
 * @param target its options.
 * @param guest the guest as asked.
 * @param flags 0 or TMAP_APPLY_DRY_RUN.
 * @param ret_plan receives the guest's plan, or NULL.
 * @param ret_report receives the backend's report (also on a failure after the open), or NULL.
 * @param reterr receives the message on failure.
 * @return 0 or -errno, with tmap_session_failed_step() saying where.
 */
TMAP_EXPORT int tmap_session_apply(struct tmap_session *session, const char *backend,
				   const struct tmap_target *target,
				   const struct tmap_guest *guest, unsigned flags,
				   struct tmap_plan **ret_plan, struct tmap_report **ret_report,
				   struct tmap_error *reterr);

/**
 * Place one guest around what the state records and record it as applied, applying nothing:
 * for a caller that puts the plan in force itself (a libvirt domain XML rewritten with the
 * plan, which libvirt starts pinned). No backend is loaded and no target is recorded; the
 * next tmap_session_apply() of the guest keeps its placement and records its target.
 * @param session a session opened with TMAP_SESSION_WRITE and a state.
 * @param guest the guest; one the state records already keeps what it holds when it asks for
 *        the same (tmap_host_place_again()).
 * @param flags must be 0.
 * @param ret_plan receives the guest's plan, or NULL.
 * @param reterr receives the message on failure.
 * @return 0, -ENOSPC (TMAP_STEP_PLACE: nothing recorded), -EINVAL or -EBADF
 *         (TMAP_STEP_INPUT), or -errno (TMAP_STEP_STATE).
 */
TMAP_EXPORT int tmap_session_record(struct tmap_session *session, const struct tmap_guest *guest,
				    unsigned flags, struct tmap_plan **ret_plan,
				    struct tmap_error *reterr);

/**
 * Apply a recorded guest again, with the spec, backend and target it was recorded with (what
 * the libvirt hook does when a domain starts again). A guest the state records running
 * another vcpu count than its plan's (tmap_session_guest_running_vcpus()) is applied with
 * TMAP_APPLY_RESIZE: running that count it keeps its pending line, running its plan's the
 * state forgets the other, running a third it has drifted (-EPROTO, put back).
 * @param session a session opened with TMAP_SESSION_WRITE.
 * @param name a recorded guest (or its libvirt domain, see tmap_session_lookup()).
 * @param flags 0 or TMAP_APPLY_DRY_RUN.
 * @param ret_report receives the report, or NULL.
 * @param reterr receives the message on failure.
 * @return 0 or -errno (-ENOENT, TMAP_STEP_INPUT, for a guest not recorded).
 */
TMAP_EXPORT int tmap_session_reapply(struct tmap_session *session, const char *name,
				     unsigned flags, struct tmap_report **ret_report,
				     struct tmap_error *reterr);

/**
 * Verify a recorded guest through the backend and target it was applied with. Changes
 * nothing on the target. A guest the state records running another vcpu count than its plan's
 * (tmap_session_guest_running_vcpus()) is in force running that count (a pending line) or its
 * plan's; found running its plan's by a session opened with TMAP_SESSION_WRITE, the state
 * forgets the other count. Any other count, or another count for a guest without one, is
 * drift.
 * @param session a session.
 * @param name a recorded guest (or its libvirt domain).
 * @param ret_report receives the report (its drift lines), or NULL.
 * @param reterr receives the message on failure.
 * @return 0 in force, 1 drifted, -ENOENT (TMAP_STEP_INPUT) for a guest the state does not
 *         record, or another -errno.
 */
TMAP_EXPORT int tmap_session_verify(struct tmap_session *session, const char *name,
				    struct tmap_report **ret_report, struct tmap_error *reterr);

/**
 * Free a recorded guest's allocation and save. The target is not changed. While the state
 * records an isolation, a released dedicated guest's PUs go back to the host: the isolation is
 * put back and made again with the guests left (none left: nothing isolated, the options kept
 * for the next apply); a failure there puts the last isolation back in force and keeps the
 * guest (TMAP_STEP_APPLY, or TMAP_STEP_RESTORE).
 * @param session a session opened with TMAP_SESSION_WRITE.
 * @param name a recorded guest (or its libvirt domain).
 * @param reterr receives the message on failure.
 * @return 0, -ENOENT (TMAP_STEP_INPUT) or -errno (TMAP_STEP_STATE, or of the isolation).
 */
TMAP_EXPORT int tmap_session_release(struct tmap_session *session, const char *name,
				     struct tmap_error *reterr);

/**
 * Record a guest that was pinned by hand: read it from its target through the backend,
 * check that its PUs and nodes are free in the state, record it as applied and save.
 * Changes nothing on the target.
 * @param session a session opened with TMAP_SESSION_WRITE.
 * @param backend the backend's name.
 * @param target its options.
 * @param name the name to record it under, or NULL for the name the backend reads.
 * @param ret_plan receives its plan, or NULL.
 * @param reterr receives the message on failure: overlapping PUs name the guest holding
 *        them.
 * @return 0, -EBUSY (overlaps a recorded guest or the reserve, TMAP_STEP_PLACE), -EEXIST
 *         (a guest of that name is recorded, TMAP_STEP_INPUT), or -errno.
 */
TMAP_EXPORT int tmap_session_adopt(struct tmap_session *session, const char *backend,
				   const struct tmap_target *target, const char *name,
				   struct tmap_plan **ret_plan, struct tmap_error *reterr);

/**
 * Change the recorded reserve and save: add PUs to it, take PUs out of it.
 * @param session a session opened with TMAP_SESSION_WRITE.
 * @param add PUs to add (list syntax), or NULL.
 * @param remove PUs to take out, or NULL.
 * @param reterr receives the message on failure: a PU a guest holds cannot be reserved,
 *        and the message names the guest.
 * @return 0, -EINVAL (a bad list, TMAP_STEP_INPUT), -EBUSY (TMAP_STEP_PLACE) or -errno.
 */
TMAP_EXPORT int tmap_session_set_reserve(struct tmap_session *session, const char *add,
					 const char *remove, struct tmap_error *reterr);

#ifdef __cplusplus
}
#endif

#endif /* TOPOMAP_SESSION_H */
