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

/* Does the plan make any vcpu of the guest realtime? */
bool sched_plan_realtime(const struct tmap_plan *plan, size_t guest);

#endif
