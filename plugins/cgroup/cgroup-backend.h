/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The cgroup backend's files, as they see each other: cgroup.c (the callbacks: open, apply,
 * read back, restore), cgroup-hierarchy.c (where the hierarchy is), cgroup-files.c (reading
 * and writing cgroup files), cgroup-qos.c (cputune as cpu.* files) and cgroup-observe.c (the
 * sets and tasks read back).
 */
#ifndef TOPOMAP_CGROUP_BACKEND_H
#define TOPOMAP_CGROUP_BACKEND_H

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>

#include <topomap/plugin.h>

#include "cgroup-util.h"
#include "cpulist.h"
#include "procfs.h"
#include "vcpu-sched.h"

#define CGROUP_ROOT "/sys/fs/cgroup"
/* A cgroup file holds one short value; a status file is about 1.5 KiB. */
#define MAX_FILE (64u << 10)
/* A task list: about 7 bytes a thread, so some 150000 threads. */
#define MAX_TASK_LIST (1u << 20)
/* How deep verify looks for tasks below the target. */
#define MAX_TASK_DEPTH 16

/* The files the backend reads or writes, by what they are for. */
enum file {
	F_CPUS,
	F_MEMS,
	F_MIGRATE,
	F_SUBTREE,
	F_TYPE,
	F_SHARES,
	F_PERIOD,
	F_QUOTA,
	F_WEIGHT,
	F_MAX,
	N_FILES,
};

extern const char *const file_names[N_FILES];

struct hierarchy {
	char *mount;	 /* where the cpuset hierarchy is mounted */
	bool v2;	 /* cpuset is on cgroup2 */
	char *cpu_mount; /* v1: where the cpu controller is mounted; NULL when it is not */
};

/* One cgroup the transaction touches, and what open() found in it. */
struct cgroup {
	char *rel;		/* below the mount; "" for the root */
	char *path;		/* absolute, as the journal names it */
	struct cgroup *parent;	/* NULL for the root */
	int fd;			/* O_PATH directory; -1 while it does not exist */
	bool made;		/* apply() journaled making it (made, or would be in a dry run) */
	bool created;		/* apply() really made it: restore() removes it */
	bool added_cpuset;	/* v2: apply() enabled cpuset in its subtree_control */
	bool added_cpu;		/* v2: the same for cpu */
	enum tmap_task_role role; /* layout=libvirt child: which threads it holds */
	unsigned index;		/* vcpu number or iothread id */
	char *saved[N_FILES];	/* at open(); NULL for a file that was not there */
	char *pending[N_FILES]; /* the last value apply() journaled for the file */
};

struct state {
	struct hierarchy h;
	bool create;
	bool libvirt;
	bool migrate;
	size_t depth;		  /* components of the target's path */
	struct cgroup *chain;	  /* [0] the root of the hierarchy ... [depth] the target */
	struct cgroup *cpu_chain; /* v1: the same path in the cpu hierarchy, or NULL */
	struct cgroup *children;  /* layout=libvirt: vcpuN, emulator, iothreadN */
	size_t nchildren;
	struct sched_set sched;	  /* layout=libvirt: the vcpu threads' classes (realtime) */
};

/* ---------------------------------------------------------------------------------------- */
/* Files */

/* cgroup.c */
bool parse_child_name(const char *name, enum tmap_task_role *ret_role, unsigned *ret_index);
/* cgroup-hierarchy.c */
bool has_word(const char *list, const char *word, const char *separators);
void hierarchy_clear(struct hierarchy *h);
int detect_hierarchy(struct hierarchy *ret, struct tmap_error *err);
int cgroup_probe(struct tmap_error *err);
/* cgroup-files.c */
int read_at(int dirfd, const char *name, size_t max, char **ret);
const char *cg_name(const struct cgroup *cg);
int cg_init(struct cgroup *cg, const char *mount, const char *rel, size_t rel_len,
	    struct cgroup *parent);
int capture(struct cgroup *cg, const enum file *files, size_t n, struct tmap_error *err);
int cg_write(struct state *st, struct cgroup *cg, enum file f, const char *value,
	     struct tmap_journal *j, struct tmap_error *err);
int cg_write_once(struct state *st, struct cgroup *cg, enum file f, const char *value,
		  struct tmap_journal *j, struct tmap_error *err);
int current(struct cgroup *cg, enum file f, char **ret);
int cg_mkdir(struct cgroup *cg, struct tmap_journal *j, struct tmap_error *err);
bool cg_exists(const struct cgroup *cg);
int enable_controller(struct state *st, struct cgroup *cg, const char *controller,
		      struct tmap_journal *j, struct tmap_error *err);
int seed(struct state *st, struct cgroup *cg, struct tmap_journal *j, struct tmap_error *err);
int put_back(struct state *st, struct cgroup *cg, enum file f, struct tmap_journal *j,
	     struct tmap_error *err);
int cg_rmdir(struct cgroup *cg, struct tmap_journal *j, struct tmap_error *err);
/* cgroup-observe.c */
int observe_tasks(struct state *st, int dirfd, const char *rel, enum tmap_task_role role,
		  unsigned index, unsigned depth, struct tmap_observed *obs,
		  struct tmap_error *err);
int observe_set(struct state *st, struct cgroup *cg, enum tmap_observed_kind kind, unsigned index,
		enum file f, struct tmap_observed *obs, struct tmap_error *err);
/* cgroup-qos.c */
int write_qos_v1(struct state *st, uint64_t shares, uint64_t period, int64_t quota,
		 struct tmap_journal *j, struct tmap_error *err);
int write_qos_v2(struct state *st, uint64_t shares, uint64_t period, int64_t quota,
		 struct tmap_journal *j, struct tmap_error *err);
int observe_qos(struct state *st, const struct tmap_plan *plan, size_t guest,
		struct tmap_observed *obs, struct tmap_error *err);
/* cgroup-realtime.c: realtime vcpus, their threads found in the vcpuN children (issue 21) */
int realtime_check(struct state *st, const struct tmap_plan *plan, size_t guest,
		   struct tmap_error *err);
int realtime_capture(struct state *st, const struct tmap_plan *plan, size_t guest,
		     struct tmap_error *err);
int realtime_observe(struct state *st, const struct tmap_plan *plan, size_t guest,
		     struct tmap_observed *obs, struct tmap_error *err);

#endif
