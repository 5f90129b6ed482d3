/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Realtime vcpus (issue 21) as a backend puts them in force on threads it found (qemu-direct
 * through QMP's thread ids, cgroup through the vcpuN sub-cgroups of libvirt's layout): each
 * vcpu thread's scheduling class captured, the plan's written (SCHED_FIFO at its priority on
 * the realtime vcpus; a vcpu the plan does not make realtime and that runs a realtime class
 * goes back to SCHED_OTHER), the capture put back, and what is in force compared with the
 * plan. Compiled into each backend module that uses it, hidden there.
 */
#ifndef TOPOMAP_VCPU_SCHED_H
#define TOPOMAP_VCPU_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <topomap/plugin.h>
#include <topomap/state.h>

#include "cpulist.h"

/* One vcpu thread: its class when captured, the class the plan wants, and whether it was
 * written (restore puts the capture back only then). */
struct vcpu_sched {
	pid_t tid;
	unsigned vcpu;
	int policy, priority;		/* captured; policy without SCHED_RESET_ON_FORK */
	int reset_on_fork;		/* captured: SCHED_RESET_ON_FORK, or 0 */
	int want_policy, want_priority;	/* -1: leave it */
	bool written;
};

struct sched_set {
	size_t n;
	struct vcpu_sched *v;
};

void sched_set_clear(struct sched_set *set);

/* Capture the class of vcpu `vcpu`'s thread tid: 0, -ENOMEM, or the -errno of reading it
 * (-ESRCH: the thread is gone) with the message. */
int sched_capture(struct sched_set *set, pid_t tid, unsigned vcpu, struct tmap_error *err);

/* What the plan wants of each captured vcpu. Refuses (-EINVAL) a thread that runs a realtime
 * vcpu and one that is not, and a plan naming a vcpu the set lacks. */
int sched_plan(struct sched_set *set, const struct tmap_plan *plan, size_t guest,
	       struct tmap_error *err);

/* Write what sched_plan() decided, each write journaled. On EPERM the message names the fix
 * (root, or the cpu cgroup's cpu.rt_runtime_us under CONFIG_RT_GROUP_SCHED). */
int sched_apply(struct sched_set *set, struct tmap_journal *j, struct tmap_error *err);

/* Put the capture back on every thread written: 0 or the first failure. */
int sched_restore(struct sched_set *set, struct tmap_journal *j, struct tmap_error *err);

/* Read vcpu `vcpu`'s thread tid back and record a drift line when its class is not what the
 * plan says: 0, or -errno with the message (-ESRCH: the thread is gone). */
int sched_observe(pid_t tid, unsigned vcpu, const struct tmap_plan *plan, size_t guest,
		  struct tmap_observed *obs, struct tmap_error *err);

/* The plan's realtime vcpus as a mask (tmap_cpulist_parse()'s layout) and their priority. */
int sched_realtime_mask(const struct tmap_plan *plan, size_t guest, unsigned long **ret_mask,
			size_t *ret_words, unsigned *ret_priority, struct tmap_error *err);

/*
 * A described guest's realtime vcpus, from the vcpus found running SCHED_FIFO at priority
 * prio (mask of `words` words, tmap_cpulist_parse()'s layout): set on g when a plan can say
 * them (one priority, whole guest cores, not every vcpu, none beyond the guest's), left
 * unset otherwise. Header-only, for the describe callbacks and the CLI's xml-filter alike.
 * Returns 0 or -ENOMEM.
 */
static inline int
describe_realtime_mask(struct tmap_guest *g, const unsigned long *mask, size_t words, long prio)
{
	unsigned vcpus = tmap_guest_vcpus(g), threads = 1, found = 0;
	_cleanup_free_ char *list = NULL;

	tmap_guest_topology(g, NULL, NULL, &threads);
	for (size_t v = 0; v < words * TMAP_CPULIST_WORD_BITS; v++) {
		bool rt = mask_has(mask, words, v);

		if (rt && v >= vcpus)
			return 0;
		found += rt;
		/* A guest core partly realtime is no plan's. */
		if (threads > 1 && v < vcpus && rt != mask_has(mask, words, v - v % threads))
			return 0;
	}
	if (found == 0 || found == vcpus || prio < TMAP_REALTIME_PRIORITY_MIN ||
	    prio > TMAP_REALTIME_PRIORITY_MAX)
		return 0;
	if (tmap_cpulist_format(mask, words, &list) < 0)
		return -ENOMEM;
	return tmap_guest_set_realtime(g, list, (unsigned)prio, NULL) == -ENOMEM ? -ENOMEM : 0;
}

/* The same read from the vcpu threads (tids[v] for vcpu v): 0 or -ENOMEM; a thread that
 * cannot be read leaves the guest without. */
int sched_describe(const pid_t *tids, unsigned n, struct tmap_guest *g);

/* Does the plan make any vcpu of the guest realtime? */
bool sched_plan_realtime(const struct tmap_plan *plan, size_t guest);

#endif
