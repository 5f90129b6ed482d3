/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A report and what a backend read back (not installed): backend.c makes them and runs the
 * transaction, backend-compare.c compares what was read back with the plan.
 */
#ifndef TOPOMAP_CORE_BACKEND_REPORT_H
#define TOPOMAP_CORE_BACKEND_REPORT_H

#include "internal.h"
#include "topomap/backend.h"
#include "topomap/session.h"

/* Lines of text, each malloc()ed. */
struct lines {
	size_t n;
	char **line;
};

/* What a transaction wrote, found different, and found to end at the target's next start. */
struct tmap_report {
	struct lines writes, drift, pending;
	bool restore_failed;
	enum tmap_step failed;	/* where a failed apply or verify stopped */
	unsigned vcpus_observed; /* report_vcpus_observed() */
};

/* One set read back (a cgroup's cpuset, a vcpu's pin), named where it was read. */
struct observed_set {
	enum tmap_observed_kind kind;
	unsigned index;
	hwloc_bitmap_t set;
	char *where;
};

/* One thread's allowed PUs and memory nodes, as /proc says. */
struct observed_task {
	int tid;
	enum tmap_task_role role;
	unsigned index;
	hwloc_bitmap_t cpus, mems;	/* mems may be NULL */
};

/* Everything a backend's read_back() found. */
struct tmap_observed {
	size_t nsets, ntasks;
	struct observed_set *sets;
	struct observed_task *tasks;
	struct lines drift;	/* what the backend compared itself */
	struct lines pending;	/* differences that end at the target's next start */
};

/* One line more; lines_add() takes line (freed on failure). 0 or -ENOMEM. */
int lines_add(struct lines *l, char *line);
int lines_printf(struct lines *l, const char *fmt, ...) _printf_(2, 3);

/* backend-compare.c: every difference between what o read back and guest pg of plan, as
 * drift lines of rep, and what ends at the target's next start as pending lines. counts: the
 * backend sees every vcpu the target runs (it lists TMAP_APPLY_RESIZE); resize: the
 * transaction was given TMAP_APPLY_RESIZE. 0 or -ENOMEM. */
int backend_compare(const struct tmap_plan *plan, const struct plan_guest *pg,
		    const struct tmap_observed *o, bool counts, bool resize,
		    struct tmap_report *rep);

#endif
