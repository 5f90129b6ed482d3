/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file plugin.h
 * What a backend module implements and calls: its descriptor (struct tmap_backend), the
 * target options it reads, the journal every write goes through, what it observes in force,
 * and the one parser and printer of sets. A module includes this header alone; an application
 * that loads modules and runs transactions includes <topomap/backend.h>.
 *
 * A backend is a shared module exporting one data symbol, `tmap_backend`, of type
 * struct tmap_backend. The loader checks its `abi` exactly, its `size` against the first
 * version's and against the symbol's own size, its mandatory callbacks, and that its name is
 * the file's name. A backend only knows its own mechanism; the library owns the transaction:
 *
 *     open(target) -> check(plan) -> apply(plan) -> read_back() -> compare with the plan
 *                                     \ on any failure or mismatch: restore() -> close()
 *
 * `open` binds to the target and captures what is in force there; `restore` puts that
 * capture back and undoes anything `apply` created. Everything a backend writes goes through
 * tmap_journal_write() first, which is how `--dry-run` prints every write without making it.
 */
#ifndef TOPOMAP_PLUGIN_H
#define TOPOMAP_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <topomap/topomap.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The backend ABI this library speaks; a module must carry exactly this number.
 * 2: host_topology() gives the JSON host form, no longer hwloc XML.
 */
#define TMAP_BACKEND_ABI 2

/* ---------------------------------------------------------------------------------------- */
/** @name Targets: what a backend acts on, as key/value options ("cgroup" -> "machine.slice/ct1") */

struct tmap_target;

/**
 * Set one option, replacing an earlier value.
 * @param target the target.
 * @param key option name, [a-z0-9-]+ (the CLI's long option without "--").
 * @param value its value; "" for a flag such as "create".
 * @return 0, -EINVAL for a bad key, or -ENOMEM.
 */
TMAP_EXPORT int tmap_target_set(struct tmap_target *target, const char *key, const char *value);

/**
 * @param target the target.
 * @param key option name.
 * @return the value, or NULL when the option was not given.
 */
TMAP_EXPORT const char *tmap_target_get(const struct tmap_target *target, const char *key);

/** @param target the target. @return the number of options set. */
TMAP_EXPORT size_t tmap_target_count(const struct tmap_target *target);

/**
 * @param target the target.
 * @param index 0 to tmap_target_count() - 1.
 * @return the option name, in the order they were first set, or NULL.
 */
TMAP_EXPORT const char *tmap_target_key(const struct tmap_target *target, size_t index);

/* ---------------------------------------------------------------------------------------- */
/** @name Sets: the kernel's list syntax ("0-3,8"), one parser and one printer for every backend */

/** Bits in one word of a set's mask. */
#define TMAP_CPULIST_WORD_BITS (8 * sizeof(unsigned long))

/**
 * Parse a set of OS indexes (CPUs or NUMA nodes) in the kernel's list syntax, as cpuset files,
 * taskset -c and libvirt's cpuset attributes write it: numbers and ranges "a-b" (a <= b)
 * separated by commas, indexes up to 2^20; "" is the empty set. Blanks and newlines around the
 * list are dropped (kernel files end with one); anything else malformed is refused.
 * Index i is bit i % TMAP_CPULIST_WORD_BITS of word i / TMAP_CPULIST_WORD_BITS of the mask:
 * the layout of cpu_set_t and of libnuma's masks.
 * @param list the text.
 * @param ret_mask receives a malloc()ed mask of at least one word, on success only.
 * @param ret_words receives its number of words.
 * @return 0, -EINVAL for a malformed list, or -ENOMEM.
 */
TMAP_EXPORT int tmap_cpulist_parse(const char *list, unsigned long **ret_mask, size_t *ret_words);

/**
 * Print a set in the kernel's list syntax, ranges joined ("0-3,8"); "" for the empty set.
 * @param mask the set, laid out as tmap_cpulist_parse() gives it.
 * @param words its number of words (0 for the empty set; mask may then be NULL).
 * @param ret_list receives the malloc()ed text, on success only.
 * @return 0, -EINVAL without a place for the result, or -ENOMEM.
 */
TMAP_EXPORT int tmap_cpulist_format(const unsigned long *mask, size_t words, char **ret_list);

/* ---------------------------------------------------------------------------------------- */
/** @name Journal: every write a backend makes, said before it is made */

struct tmap_journal;

/**
 * Announce one write ("write '0-3' to /sys/fs/cgroup/cpuset/ct1/cpuset.cpus").
 * @param journal the journal passed to apply() or restore().
 * @param fmt printf format of one line.
 * @return true when the backend must make the write, false in a dry run (do not write).
 */
TMAP_EXPORT bool tmap_journal_write(struct tmap_journal *journal, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---------------------------------------------------------------------------------------- */
/** @name What is in force, as a backend reads it back */

/** What one observation is about. */
enum tmap_observed_kind {
	TMAP_OBSERVED_CPUS = 0,	    /**< every PU the guest may use (a container's cpuset) */
	TMAP_OBSERVED_MEMS = 1,	    /**< the guest's memory nodes */
	TMAP_OBSERVED_VCPU = 2,	    /**< one vcpu's PUs; index = vcpu number */
	TMAP_OBSERVED_EMULATOR = 3, /**< the emulator threads' PUs */
	TMAP_OBSERVED_IOTHREAD = 4, /**< one iothread's PUs; index = iothread id (from 1) */
};

/** What a task is, for comparing its affinity with the right part of the plan. */
enum tmap_task_role {
	TMAP_TASK_ANY = 0,	/**< any thread of the guest: must stay within its CPUS/MEMS */
	TMAP_TASK_VCPU = 1,	/**< a vcpu thread; index = vcpu number */
	TMAP_TASK_EMULATOR = 2, /**< an emulator thread */
	TMAP_TASK_IOTHREAD = 3, /**< an iothread; index = iothread id */
};

struct tmap_observed;

/**
 * Record a set in force.
 * @param obs the observation being filled.
 * @param kind what the set is.
 * @param index vcpu number or iothread id; 0 otherwise.
 * @param list the set in list syntax, as the kernel or hypervisor reports it.
 * @param where where it was read, for messages ("cpuset.cpus of 'ct1'").
 * @return 0, -EINVAL for a malformed list, or -ENOMEM.
 */
TMAP_EXPORT int tmap_observed_set(struct tmap_observed *obs, enum tmap_observed_kind kind,
				  unsigned index, const char *list, const char *where);

/**
 * Record one task's allowed PUs and nodes, as /proc/PID/task/TID/status says.
 * @param obs the observation being filled.
 * @param tid the thread id.
 * @param role what the thread is.
 * @param index vcpu number or iothread id for those roles.
 * @param cpus its Cpus_allowed_list.
 * @param mems its Mems_allowed_list, or NULL when not read.
 * @return 0, -EINVAL for a malformed list, or -ENOMEM.
 */
TMAP_EXPORT int tmap_observed_task(struct tmap_observed *obs, int tid, enum tmap_task_role role,
				   unsigned index, const char *cpus, const char *mems);

/**
 * Record a difference from the plan that the backend found itself, for what the sets above
 * cannot express: a QoS value in the backend's own scale (cgroup v2 cpu.weight), a memory
 * mode. It is reported as drift, like a set that differs.
 * @param obs the observation being filled.
 * @param fmt printf format of one line naming where it was read, what is in force and what
 *        the plan says ("cpu.shares of 'ct1' is 512, the plan says 1024").
 * @return 0, or -ENOMEM.
 */
TMAP_EXPORT int tmap_observed_drift(struct tmap_observed *obs, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/**
 * Record a difference from the plan that is not drift: the target's definition has the plan,
 * and what runs takes it at its next start (libvirt cannot move a running domain's memory in
 * mode 'strict'). Such lines are reported apart, and do not fail apply or verify.
 * @param obs the observation being filled.
 * @param fmt printf format of one line naming what is in force now and when the plan takes
 *        over ("memory of 'vm1' (live) is on '0', the plan's '1' takes effect at its next
 *        start").
 * @return 0, or -ENOMEM.
 */
TMAP_EXPORT int tmap_observed_pending(struct tmap_observed *obs, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---------------------------------------------------------------------------------------- */
/** @name The backend descriptor */

/** apply() flags */
#define TMAP_APPLY_DRY_RUN (1u << 0) /**< journal every write, make none */
/**
 * The plan is a guest's recorded plan, possibly resized (topomap resize --apply): its vcpu
 * count may differ from what the target runs. A backend that lists this bit in `apply_flags`
 * pins the vcpus that exist (as many as both have), the emulator and iothreads as planned,
 * leaves the vcpus beyond the plan running where they are, and reads back every vcpu it runs;
 * the library reports the count difference as pending, not drift. A backend that does not
 * list it is never given it, and takes the plan as any other.
 */
#define TMAP_APPLY_RESIZE (1u << 1)

/**
 * The descriptor a backend module exports as `tmap_backend`. The first two fields are frozen
 * for every ABI; new optional callbacks are only ever appended, and the library reads them
 * only when `size` covers them.
 */
struct tmap_backend {
	uint32_t abi;  /**< TMAP_BACKEND_ABI */
	uint32_t size; /**< sizeof(struct tmap_backend) as the module was built */
	const char *name;    /**< [a-z0-9-]+, equal to the module's file name without ".so" */
	const char *summary; /**< one line for `topomap backends` */
	/** The target options it takes, NULL-terminated; any other option is refused. */
	const char *const *target_keys;

	/**
	 * Can the backend work on this host now? Mandatory.
	 * @return 0, or -errno with a message saying why not (ENOENT: no cgroup cpuset...).
	 */
	int (*probe)(struct tmap_error *err);

	/**
	 * Bind to a target and capture what is in force there. Mandatory.
	 * @param target the options.
	 * @param flags TMAP_APPLY_* of the transaction (a dry run must create nothing).
	 * @param ret_state receives the backend's state on success.
	 */
	int (*open)(const struct tmap_target *target, unsigned flags, void **ret_state,
		    struct tmap_error *err);

	/**
	 * Put one guest of a plan in force. Mandatory. Each write is announced with
	 * tmap_journal_write() and made only when it returns true.
	 */
	int (*apply)(void *state, const struct tmap_plan *plan, size_t guest,
		     struct tmap_journal *journal, struct tmap_error *err);

	/** Read back what is in force now. Mandatory. */
	int (*read_back)(void *state, const struct tmap_plan *plan, size_t guest,
			 struct tmap_observed *obs, struct tmap_error *err);

	/** Put the capture made by open() back, and remove what apply() created. Mandatory. */
	int (*restore)(void *state, struct tmap_journal *journal, struct tmap_error *err);

	/** Free the state. Mandatory; must accept NULL. */
	void (*close)(void *state);

	/* Optional callbacks: NULL, or beyond `size`, when the backend has none. */

	/**
	 * Read the guest's specification from the running target (its vcpus, topology, cells,
	 * iothreads), for an apply or verify given no guest.
	 * @param target the options.
	 * @param ret_guest receives a new guest (tmap_guest_new() and setters).
	 */
	int (*describe)(const struct tmap_target *target, struct tmap_guest **ret_guest,
			struct tmap_error *err);

	/**
	 * Describe a host the backend reaches, for `--topology NAME:ARG`.
	 * @param arg what follows "NAME:" (a libvirt URI, say).
	 * @param ret_json receives the malloc()ed text of the host in the JSON host form that
	 *        tmap_topology_new_from_json() reads (nodes with their cores, memory and
	 *        hugepage pools, packages, distances, devices); the library checks and builds it.
	 */
	int (*host_topology)(const char *arg, char **ret_json, struct tmap_error *err);

	/**
	 * Say what identifies the target durably, for a ledger that must find the same target
	 * again (and refuse another one that now answers to the same options): libvirt "uri",
	 * "uuid" and "domain"; qemu-direct "pid" and "start-time" (field 22 of /proc/PID/stat; keys
	 * follow the target key rule, [a-z0-9-]+);
	 * cgroup "cgroup" (the absolute directory) and "layout". Changes nothing.
	 * @param target the options.
	 * @param identity an empty target, used as a string map, that receives the keys.
	 */
	int (*identify)(const struct tmap_target *target, struct tmap_target *identity,
			struct tmap_error *err);

	/**
	 * Refuse, before anything is written, a plan the target opened cannot take: a cgroup or
	 * a child cgroup it needs that is missing, a domain of another shape. tmap_apply() calls
	 * it right after open(), as part of the open step, so such a refusal reads "open: ...";
	 * it changes nothing.
	 * @param state what open() returned.
	 * @param plan the plan.
	 * @param guest the guest's index in the plan.
	 */
	int (*check)(void *state, const struct tmap_plan *plan, size_t guest,
		     struct tmap_error *err);

	/* Optional fields: 0, or beyond `size`, when the backend has none. */

	/**
	 * The TMAP_APPLY_* bits beyond TMAP_APPLY_DRY_RUN that open() understands
	 * (TMAP_APPLY_RESIZE): the library passes a bit to open() only when it is listed here,
	 * so a module built before a bit existed never sees it.
	 */
	uint32_t apply_flags;
};

/** The size of the first version of struct tmap_backend: the least a module may declare. */
#define TMAP_BACKEND_SIZE_V1 (offsetof(struct tmap_backend, close) + sizeof(void (*)(void *)))

/** Does a descriptor of this size carry the optional callback `field`? */
#define TMAP_BACKEND_HAS(desc, field)                                                             \
	((desc)->size >= offsetof(struct tmap_backend, field) + sizeof((desc)->field) &&           \
	 (desc)->field != NULL)

/** The TMAP_APPLY_* bits a descriptor lists in `apply_flags`; 0 when its size ends before. */
#define TMAP_BACKEND_APPLY_FLAGS(desc)                                                           \
	((desc)->size >= offsetof(struct tmap_backend, apply_flags) + sizeof((desc)->apply_flags) \
		 ? (desc)->apply_flags                                                             \
		 : 0u)

/** Declare a backend descriptor in a module. */
#define TMAP_BACKEND_EXPORT __attribute__((visibility("default")))

#ifdef __cplusplus
}
#endif

#endif /* TOPOMAP_PLUGIN_H */
