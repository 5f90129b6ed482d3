/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file backend.h
 * Backends as an application uses them: finding and loading modules, targets, and the
 * transaction the library runs around a backend (tmap_apply(), tmap_verify()) with its
 * report. What a module implements is in <topomap/plugin.h>, which this header includes.
 */
#ifndef TOPOMAP_BACKEND_H
#define TOPOMAP_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

#include <topomap/plugin.h>
#include <topomap/topomap.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------- */
/** @name Targets, as an application makes them (their getters are in <topomap/plugin.h>) */

/**
 * @param ret receives an empty target.
 * @return 0 or -ENOMEM.
 */
TMAP_EXPORT int tmap_target_new(struct tmap_target **ret);

/**
 * @param target the target, or NULL.
 * @return NULL.
 */
TMAP_EXPORT struct tmap_target *tmap_target_free(struct tmap_target *target);

/* ---------------------------------------------------------------------------------------- */
/** @name A backend's guest and target identity */

struct tmap_backend_module;

/**
 * Read a guest from a running target through the backend's describe callback.
 * @param module the backend.
 * @param target its options.
 * @param ret_guest receives the guest.
 * @param reterr receives the message on failure.
 * @return 0, -EOPNOTSUPP when the backend cannot describe a guest, or another -errno.
 */
TMAP_EXPORT int tmap_backend_describe(const struct tmap_backend_module *module,
				      const struct tmap_target *target,
				      struct tmap_guest **ret_guest, struct tmap_error *reterr);

/**
 * Say what identifies a target durably, through the backend's identify callback: the keys
 * are the backend's (libvirt: "uri", "uuid", "domain"; qemu-direct: "pid", "start-time";
 * cgroup: "cgroup", "layout"). Changes nothing on the target.
 * @param module the backend.
 * @param target its options.
 * @param identity an empty target (tmap_target_new()) that receives the identity.
 * @param reterr receives the message on failure.
 * @return 0, -ENOTSUP when the backend cannot identify a target, -ESRCH or -ENOENT when the
 *         target is not there, or another -errno.
 */
TMAP_EXPORT int tmap_backend_identify(const struct tmap_backend_module *module,
				      const struct tmap_target *target,
				      struct tmap_target *identity, struct tmap_error *reterr);

/** tmap_state_record(): the guest is recorded before its backend writes anything. */
#define TMAP_STATE_PENDING (1u << 0)

/**
 * Record, beside a placed guest's plan, what the next reader needs to find it again: the
 * backend and target it is applied to (with the target's durable identity, when the backend
 * can tell it), the guest as asked (its spec), and whether it is pending (recorded before
 * the backend wrote, so that nothing applied goes unrecorded) or applied. Saved with the
 * host by the next tmap_state_save().
 * @param state a state opened with TMAP_STATE_WRITE.
 * @param module the backend, or NULL for a guest applied nowhere yet.
 * @param target its options (NULL with module NULL).
 * @param guest the guest as asked; its name is the placed guest's.
 * @param flags 0 (applied) or TMAP_STATE_PENDING.
 * @param reterr receives the message on failure.
 * @return 0 or -errno.
 */
/**
 * The backend and target a recorded guest was applied to, as tmap_state_record() kept them.
 * @param state an open state.
 * @param name the guest's name.
 * @param ret_backend receives the backend's name (valid while the state is open).
 * @param ret_target receives a new target with the recorded options (tmap_target_free()).
 * @param reterr receives the message on failure.
 * @return 0, -ENOENT when the state holds no target for that guest, or -errno.
 */
TMAP_EXPORT int tmap_state_guest_target(struct tmap_state *state, const char *name,
					const char **ret_backend,
					struct tmap_target **ret_target, struct tmap_error *reterr);

TMAP_EXPORT int tmap_state_record(struct tmap_state *state,
				  const struct tmap_backend_module *module,
				  const struct tmap_target *target, const struct tmap_guest *guest,
				  unsigned flags, struct tmap_error *reterr);

/* ---------------------------------------------------------------------------------------- */
/** @name Finding and loading backends */

struct tmap_backend_module;

/**
 * Load a backend by name from the plugin directories: TOPOMAP_PLUGIN_PATH (absolute
 * directories separated by ':', read only when the process is not setuid) or else the
 * directory the library was built for. Directories and files that are relative, not owned
 * by root or the caller, or writable by group or others are refused, and so is a file whose
 * ELF header is not a shared object of this machine's class and architecture.
 *
 * Loading runs the module's ELF constructors, as dlopen() does for any shared object (hwloc's
 * and PAM's modules alike): what is checked before, the place and the header, is all that
 * can be; the descriptor (its ABI, its size against its symbol's, its name and mandatory
 * callbacks) is checked after, before any callback is called. Load only modules you trust.
 * @param name [a-z0-9-]+.
 * @param ret receives the module.
 * @param reterr receives the message on failure.
 * @return 0, -EINVAL (bad name), -ENOENT (not found), -EPERM (unsafe place), -ENOEXEC
 *         (not a valid backend) or another -errno.
 */
TMAP_EXPORT int tmap_backend_load(const char *name, struct tmap_backend_module **ret,
				  struct tmap_error *reterr);

/**
 * Unload a module.
 * @param module the module, or NULL.
 * @return NULL.
 */
TMAP_EXPORT struct tmap_backend_module *
tmap_backend_unload(struct tmap_backend_module *module);

/** @param module a module. @return its descriptor. */
TMAP_EXPORT const struct tmap_backend *
tmap_backend_descriptor(const struct tmap_backend_module *module);

/** @param module a module. @return the absolute path it was loaded from. */
TMAP_EXPORT const char *tmap_backend_path(const struct tmap_backend_module *module);

/**
 * Called by tmap_backend_foreach() for each module file found.
 * @param path the file.
 * @param module the loaded module, or NULL when it could not be loaded.
 * @param load_error why it could not be loaded (when module is NULL).
 * @param userdata as given.
 * @return 0 to go on, anything else to stop and return it.
 */
typedef int (*tmap_backend_foreach_fn)(const char *path, const struct tmap_backend_module *module,
				       const struct tmap_error *load_error, void *userdata);

/**
 * Visit every "*.so" in the plugin directories, in name order within a directory.
 * @param fn the callback.
 * @param userdata passed on.
 * @param reterr receives the message when a directory itself is refused.
 * @return 0, what fn returned, or a negative errno code.
 */
TMAP_EXPORT int tmap_backend_foreach(tmap_backend_foreach_fn fn, void *userdata,
				     struct tmap_error *reterr);

/* ---------------------------------------------------------------------------------------- */
/** @name Transactions */

/** A transaction's account: the writes journaled, the drift found, the step that failed. */
struct tmap_report;

/**
 * @param report the report, or NULL.
 * @return NULL.
 */
TMAP_EXPORT struct tmap_report *tmap_report_free(struct tmap_report *report);

/** @param report a report. @return the number of writes journaled (made, or in a dry run,
 *  not made). */
TMAP_EXPORT size_t tmap_report_write_count(const struct tmap_report *report);
/** @param report a report. @param i index. @return one journaled write, or NULL. */
TMAP_EXPORT const char *tmap_report_write(const struct tmap_report *report, size_t i);
/** @param report a report. @return the number of differences between the plan and what is
 *  in force. */
TMAP_EXPORT size_t tmap_report_drift_count(const struct tmap_report *report);
/** @param report a report. @param i index. @return one difference, or NULL. */
TMAP_EXPORT const char *tmap_report_drift(const struct tmap_report *report, size_t i);
/** @param report a report. @return the number of differences from the plan that end at the
 *  target's next start (its definition has the plan): not drift. */
TMAP_EXPORT size_t tmap_report_pending_count(const struct tmap_report *report);
/** @param report a report. @param i index. @return one pending difference, or NULL. */
TMAP_EXPORT const char *tmap_report_pending(const struct tmap_report *report, size_t i);
/**
 * Did a failed apply fail to put the capture back too? Then the target is left partly
 * changed, and the message of tmap_apply() says what failed in the restore.
 * @param report a report, or NULL.
 * @return true only for a failed apply whose restore failed as well.
 */
TMAP_EXPORT bool tmap_report_restore_failed(const struct tmap_report *report);

/**
 * Put one guest of a plan in force, all or nothing: open (capture), apply, read back,
 * compare with the plan; on any failure or difference, restore the capture.
 * @param module the backend.
 * @param target its options.
 * @param plan the plan.
 * @param guest the guest's index in the plan.
 * @param flags TMAP_APPLY_* bits: TMAP_APPLY_DRY_RUN, TMAP_APPLY_RESIZE (the plan may have
 *        another vcpu count than the target runs: the vcpus that exist are pinned and the
 *        difference is a pending line; a backend that does not take the bit is not given it).
 * @param ret_report receives the report (also on failure, when one was made); may be NULL.
 * @param reterr receives "<step>: <message>" on failure, and says whether the restore worked.
 * @return 0; -EINVAL for a bad target or guest; -EPROTO when what was read back differs from
 *         the plan (restored); another -errno from the backend.
 */
TMAP_EXPORT int tmap_apply(const struct tmap_backend_module *module,
			   const struct tmap_target *target, const struct tmap_plan *plan,
			   size_t guest, unsigned flags, struct tmap_report **ret_report,
			   struct tmap_error *reterr);

/**
 * Read what is in force for one guest and compare it with the plan. Changes nothing.
 * @param module the backend.
 * @param target its options.
 * @param plan the plan.
 * @param guest the guest's index.
 * @param flags 0, or TMAP_APPLY_RESIZE: a vcpu count that differs from the plan's is a pending
 *        line, not drift, when the backend takes the bit (see tmap_apply()).
 * @param ret_report receives the report, whose drift lines say what differs; may be NULL.
 * @param reterr receives the message on failure.
 * @return 0 when the plan is in force, 1 when it drifted, or a negative errno code.
 */
TMAP_EXPORT int tmap_verify(const struct tmap_backend_module *module,
			    const struct tmap_target *target, const struct tmap_plan *plan,
			    size_t guest, unsigned flags, struct tmap_report **ret_report,
			    struct tmap_error *reterr);

#ifdef __cplusplus
}
#endif

#endif /* TOPOMAP_BACKEND_H */
