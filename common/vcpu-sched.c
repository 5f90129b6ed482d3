/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Realtime vcpus put in force on their threads: see vcpu-sched.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpulist.h"
#include "procfs.h"
#include "vcpu-sched.h"
#include "util.h"

void
sched_set_clear(struct sched_set *set)
{
	free(set->v);
	set->v = NULL;
	set->n = 0;
}

static const char *
policy_name(int policy)
{
	switch (policy) {
	case SCHED_OTHER:
		return "SCHED_OTHER";
	case SCHED_FIFO:
		return "SCHED_FIFO";
	case SCHED_RR:
		return "SCHED_RR";
	case SCHED_BATCH:
		return "SCHED_BATCH";
	case SCHED_IDLE:
		return "SCHED_IDLE";
	default:
		return "another class";
	}
}

static bool
policy_realtime(int policy)
{
	return policy == SCHED_FIFO || policy == SCHED_RR;
}

/* A thread's class and priority: 0 or -errno. */
static int
read_class(pid_t tid, int *ret_policy, int *ret_reset, int *ret_priority)
{
	struct sched_param p = {0};
	int policy = sched_getscheduler(tid);

	if (policy < 0 || sched_getparam(tid, &p) < 0)
		return -errno;
	*ret_reset = policy & SCHED_RESET_ON_FORK;
	*ret_policy = policy & ~SCHED_RESET_ON_FORK;
	*ret_priority = p.sched_priority;
	return 0;
}

int
sched_capture(struct sched_set *set, pid_t tid, unsigned vcpu, struct tmap_error *err)
{
	struct vcpu_sched *v = realloc(set->v, (set->n + 1) * sizeof(*v));
	struct vcpu_sched *e;
	int r;

	if (!v)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	set->v = v;
	e = &set->v[set->n];
	*e = (struct vcpu_sched){.tid = tid, .vcpu = vcpu, .want_policy = -1};
	r = read_class(tid, &e->policy, &e->reset_on_fork, &e->priority);
	if (r < 0)
		return tmap_error_set(err, r, "cannot read the scheduling class of vcpu %u (thread %d): %s",
				      vcpu, (int)tid, strerror(-r));
	set->n++;
	return 0;
}

bool
sched_plan_realtime(const struct tmap_plan *plan, size_t guest)
{
	const char *list = tmap_plan_realtime_vcpus(plan, guest, NULL);

	return list && *list;
}

/* What the plan wants of a thread now in class `policy`: 0 with *want_policy -1 to leave it. */
static void
wanted(const unsigned long *mask, size_t words, unsigned prio, unsigned vcpu, int policy,
       int *want_policy, int *want_priority)
{
	*want_policy = -1;
	*want_priority = 0;
	if (mask_has(mask, words, vcpu)) {
		*want_policy = SCHED_FIFO;
		*want_priority = (int)prio;
	} else if (policy_realtime(policy)) {
		*want_policy = SCHED_OTHER;
	}
}

int
sched_realtime_mask(const struct tmap_plan *plan, size_t guest, unsigned long **ret_mask,
		    size_t *ret_words, unsigned *ret_priority, struct tmap_error *err)
{
	const char *list = tmap_plan_realtime_vcpus(plan, guest, ret_priority);

	if (!list)
		return tmap_error_set(err, -EINVAL, "no guest %zu in the plan", guest);
	if (tmap_cpulist_parse(list, ret_mask, ret_words) < 0)
		return tmap_error_set(err, -EINVAL, "the plan's realtime vcpus '%s' are not a list",
				      list);
	return 0;
}

int
sched_plan(struct sched_set *set, const struct tmap_plan *plan, size_t guest,
	   struct tmap_error *err)
{
	_cleanup_free_ unsigned long *mask = NULL;
	unsigned prio = 0;
	size_t words = 0;
	int r = sched_realtime_mask(plan, guest, &mask, &words, &prio, err);

	if (r < 0)
		return r;
	for (size_t i = 0; i < set->n; i++) {
		struct vcpu_sched *v = &set->v[i];

		wanted(mask, words, prio, v->vcpu, v->policy, &v->want_policy, &v->want_priority);
		for (size_t k = 0; k < i; k++)
			if (set->v[k].tid == v->tid &&
			    mask_has(mask, words, set->v[k].vcpu) != mask_has(mask, words, v->vcpu))
				return tmap_error_set(err, -EINVAL,
						      "vcpus %u and %u run on one thread (%d), and the plan makes only one of them realtime; give each vcpu a thread of its own (QEMU -accel tcg,thread=multi or KVM)",
						      set->v[k].vcpu, v->vcpu, (int)v->tid);
	}
	return 0;
}

/* Does a comma-separated list of controllers (of length len) name `name`? */
static bool
controllers_have(const char *list, size_t len, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; p < list + len;) {
		size_t k = strcspn(p, ",:");

		if (k == n && strncmp(p, name, n) == 0)
			return true;
		p += k + 1;
	}
	return false;
}

/* The cpu cgroup (v1) of thread tid, "/machine/vm1", into buf: 0 or -ENOENT. */
static int
cpu_cgroup(pid_t tid, char *buf, size_t size)
{
	_cleanup_free_ char *text = NULL;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)tid);
	if (read_file_at(AT_FDCWD, path, 1 << 16, &text, NULL) < 0)
		return -ENOENT;
	/* Lines "4:cpu,cpuacct:/machine/vm1". */
	for (char *line = text; *line;) {
		size_t len = strcspn(line, "\n");
		char *ctl = memchr(line, ':', len);
		char *cg = ctl ? memchr(ctl + 1, ':', len - (size_t)(ctl + 1 - line)) : NULL;

		if (cg && controllers_have(ctl + 1, (size_t)(cg - ctl - 1), "cpu")) {
			snprintf(buf, size, "%.*s", (int)(len - (size_t)(cg + 1 - line)), cg + 1);
			return 0;
		}
		line += len + (line[len] != '\0');
	}
	return -ENOENT;
}

/* Why sched_setscheduler() said EPERM, and the fix, into err. */
static int
eperm(const struct vcpu_sched *v, struct tmap_error *err)
{
	_cleanup_free_ char *budget = NULL;
	char cg[PATH_MAX - 64], file[PATH_MAX];

	if (geteuid() != 0)
		return tmap_error_set(err, -EPERM,
				      "cannot make vcpu %u (thread %d) SCHED_FIFO: permission denied; realtime vcpus need root (CAP_SYS_NICE)",
				      v->vcpu, (int)v->tid);
	if (cpu_cgroup(v->tid, cg, sizeof(cg)) == 0) {
		snprintf(file, sizeof(file), "/sys/fs/cgroup/cpu%s/cpu.rt_runtime_us",
			 streq(cg, "/") ? "" : cg);
		if (read_file_at(AT_FDCWD, file, 64, &budget, NULL) == 0 && atol(budget) == 0)
			return tmap_error_set(err, -EPERM,
					      "cannot make vcpu %u (thread %d) SCHED_FIFO: its cpu cgroup '%s' has no realtime budget (CONFIG_RT_GROUP_SCHED); give it one, e.g. echo 950000 > %s (and to each parent below the root)",
					      v->vcpu, (int)v->tid, cg, file);
	}
	return tmap_error_set(err, -EPERM,
			      "cannot make vcpu %u (thread %d) SCHED_FIFO: permission denied (a realtime budget, cpu.rt_runtime_us, of its cpu cgroup under CONFIG_RT_GROUP_SCHED, or RLIMIT_RTPRIO)",
			      v->vcpu, (int)v->tid);
}

static int
write_class(pid_t tid, int policy, int reset, int priority)
{
	struct sched_param p = {.sched_priority = priority};

	return sched_setscheduler(tid, policy | reset, &p) < 0 ? -errno : 0;
}

int
sched_apply(struct sched_set *set, struct tmap_journal *j, struct tmap_error *err)
{
	for (size_t i = 0; i < set->n; i++) {
		struct vcpu_sched *v = &set->v[i];
		int r;

		if (v->want_policy < 0 ||
		    (v->want_policy == v->policy && v->want_priority == v->priority))
			continue;
		/* Two vcpus of one thread: it is written once. */
		if (i > 0 && set->v[i - 1].tid == v->tid && set->v[i - 1].written)
			continue;
		if (!tmap_journal_write(j, "sched_setscheduler(tid %d (vcpu %u), %s, priority %d)",
					(int)v->tid, v->vcpu, policy_name(v->want_policy),
					v->want_priority))
			continue;
		r = write_class(v->tid, v->want_policy, v->reset_on_fork, v->want_priority);
		if (r == -EPERM)
			return eperm(v, err);
		if (r < 0)
			return tmap_error_set(err, r, "cannot make vcpu %u (thread %d) %s priority %d: %s",
					      v->vcpu, (int)v->tid, policy_name(v->want_policy),
					      v->want_priority, strerror(-r));
		v->written = true;
	}
	return 0;
}

int
sched_restore(struct sched_set *set, struct tmap_journal *j, struct tmap_error *err)
{
	int first = 0;

	for (size_t i = 0; i < set->n; i++) {
		struct vcpu_sched *v = &set->v[i];
		int r;

		if (!v->written)
			continue;
		if (!tmap_journal_write(j, "sched_setscheduler(tid %d (vcpu %u), %s, priority %d)",
					(int)v->tid, v->vcpu, policy_name(v->policy), v->priority))
			continue;
		r = write_class(v->tid, v->policy, v->reset_on_fork, v->priority);
		/* A thread gone has nothing to put back. */
		if (r == 0 || r == -ESRCH) {
			v->written = false;
			continue;
		}
		if (!first)
			first = tmap_error_set(err, r,
					       "cannot put back %s priority %d on vcpu %u (thread %d): %s",
					       policy_name(v->policy), v->priority, v->vcpu,
					       (int)v->tid, strerror(-r));
	}
	return first;
}

int
sched_observe(pid_t tid, unsigned vcpu, const struct tmap_plan *plan, size_t guest,
	      struct tmap_observed *obs, struct tmap_error *err)
{
	_cleanup_free_ unsigned long *mask = NULL;
	int policy, reset, priority, want, want_prio;
	unsigned prio = 0;
	size_t words = 0;
	int r = sched_realtime_mask(plan, guest, &mask, &words, &prio, err);

	if (r < 0)
		return r;
	r = read_class(tid, &policy, &reset, &priority);
	if (r < 0)
		return tmap_error_set(err, r, "cannot read the scheduling class of vcpu %u (thread %d): %s",
				      vcpu, (int)tid, strerror(-r));
	wanted(mask, words, prio, vcpu, policy, &want, &want_prio);
	if (want == SCHED_FIFO && (policy != SCHED_FIFO || priority != want_prio))
		r = tmap_observed_drift(obs, "vcpu %u (thread %d) runs %s priority %d, the plan says SCHED_FIFO priority %d",
					vcpu, (int)tid, policy_name(policy), priority, want_prio);
	else if (want == SCHED_OTHER)
		r = tmap_observed_drift(obs, "vcpu %u (thread %d) runs %s priority %d, the plan does not make it realtime",
					vcpu, (int)tid, policy_name(policy), priority);
	return r < 0 ? tmap_error_set(err, r, "out of memory") : 0;
}

int
sched_describe(const pid_t *tids, unsigned n, struct tmap_guest *g)
{
	size_t words = n / TMAP_CPULIST_WORD_BITS + 1;
	_cleanup_free_ unsigned long *mask = calloc(words, sizeof(*mask));
	long prio = -1;

	if (!mask)
		return -ENOMEM;
	for (unsigned v = 0; v < n; v++) {
		int policy, reset, priority;

		if (read_class(tids[v], &policy, &reset, &priority) < 0 || policy == SCHED_RR)
			return 0;
		if (policy != SCHED_FIFO)
			continue;
		if (prio >= 0 && priority != prio)
			return 0;
		prio = priority;
		mask[v / TMAP_CPULIST_WORD_BITS] |= 1UL << (v % TMAP_CPULIST_WORD_BITS);
	}
	return describe_realtime_mask(g, mask, words, prio);
}
