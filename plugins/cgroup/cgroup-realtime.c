/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Realtime vcpus (issue 21) through the cgroup backend: with layout=libvirt each vcpuN child
 * holds vcpu N's thread, which gets SCHED_FIFO at the plan's priority (common/vcpu-sched.c).
 * Without that layout the backend cannot tell a vcpu thread from any other, and refuses.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup-backend.h"

/* The thread ids listed in a child's "tasks" (v1) or "cgroup.threads" (v2). */
static int
child_tids(struct state *st, const struct cgroup *cg, pid_t **ret, size_t *ret_n,
	   struct tmap_error *err)
{
	_cleanup_free_ char *text = NULL;
	pid_t *tids = NULL;
	size_t n = 0;
	int r;

	*ret = NULL;
	*ret_n = 0;
	if (cg->fd < 0)
		return 0;
	r = read_at(cg->fd, st->h.v2 ? "cgroup.threads" : "tasks", MAX_FILE, &text);
	if (r < 0)
		return tmap_error_set(err, r, "cannot read the threads of cgroup '%s': %s",
				      cg_name(cg), strerror(-r));
	for (char *p = text; *p;) {
		char *end;
		long tid = strtol(p, &end, 10);
		pid_t *more;

		if (end == p || tid <= 0)
			break;
		more = realloc(tids, (n + 1) * sizeof(*tids));
		if (!more) {
			free(tids);
			return tmap_error_set(err, -ENOMEM, "out of memory");
		}
		tids = more;
		tids[n++] = (pid_t)tid;
		p = end + strspn(end, "\n");
	}
	*ret = tids;
	*ret_n = n;
	return 0;
}

static const struct cgroup *
vcpu_child(const struct state *st, unsigned vcpu)
{
	for (size_t i = 0; i < st->nchildren; i++)
		if (st->children[i].role == TMAP_TASK_VCPU && st->children[i].index == vcpu)
			return &st->children[i];
	return NULL;
}

int
realtime_check(struct state *st, const struct tmap_plan *plan, size_t guest,
	       struct tmap_error *err)
{
	_cleanup_free_ unsigned long *mask = NULL;
	const char *list = tmap_plan_realtime_vcpus(plan, guest, NULL);
	size_t words = 0;
	int r;

	if (!list || !*list)
		return 0;
	if (!st->libvirt)
		return tmap_error_set(err, -EINVAL,
				      "the plan makes vcpus %s realtime, and only --layout libvirt tells the cgroup backend which threads are vcpus (one vcpuN child each): nothing was changed",
				      list);
	r = sched_realtime_mask(plan, guest, &mask, &words, NULL, err);
	if (r < 0)
		return r;
	for (size_t v = 0; v < words * TMAP_CPULIST_WORD_BITS; v++) {
		const struct cgroup *cg;
		_cleanup_free_ pid_t *tids = NULL;
		size_t n = 0;

		if (!mask_has(mask, words, (unsigned)v))
			continue;
		cg = vcpu_child(st, (unsigned)v);
		r = cg ? child_tids(st, cg, &tids, &n, err) : 0;
		if (r < 0)
			return r;
		if (n == 0)
			return tmap_error_set(err, -ENOENT,
					      "realtime vcpu %zu has no thread in cgroup '%s/vcpu%zu' to make SCHED_FIFO (start the guest first): nothing was changed",
					      v, cg_name(&st->chain[st->depth]), v);
	}
	return 0;
}

/* Call fn(tid, vcpu, ctx) for each thread of each vcpuN child; a thread gone meanwhile
 * (-ESRCH) is skipped. */
static int
each_vcpu_thread(struct state *st, int (*fn)(pid_t, unsigned, void *), void *ctx,
		 struct tmap_error *err)
{
	for (size_t i = 0; i < st->nchildren; i++) {
		const struct cgroup *cg = &st->children[i];
		_cleanup_free_ pid_t *tids = NULL;
		size_t n = 0;
		int r;

		if (cg->role != TMAP_TASK_VCPU)
			continue;
		r = child_tids(st, cg, &tids, &n, err);
		for (size_t k = 0; r == 0 && k < n; k++) {
			r = fn(tids[k], cg->index, ctx);
			if (r == -ESRCH)
				r = 0;
		}
		if (r < 0)
			return r;
	}
	return 0;
}

struct realtime_ctx {
	struct state *st;
	const struct tmap_plan *plan;
	size_t guest;
	struct tmap_observed *obs;
	struct tmap_error *err;
};

static int
capture_one(pid_t tid, unsigned vcpu, void *data)
{
	struct realtime_ctx *c = data;

	return sched_capture(&c->st->sched, tid, vcpu, c->err);
}

static int
observe_one(pid_t tid, unsigned vcpu, void *data)
{
	struct realtime_ctx *c = data;

	return sched_observe(tid, vcpu, c->plan, c->guest, c->obs, c->err);
}

int
realtime_capture(struct state *st, const struct tmap_plan *plan, size_t guest,
		 struct tmap_error *err)
{
	struct realtime_ctx c = {st, plan, guest, NULL, err};
	int r;

	sched_set_clear(&st->sched);
	r = each_vcpu_thread(st, capture_one, &c, err);
	return r < 0 ? r : sched_plan(&st->sched, plan, guest, err);
}

int
realtime_observe(struct state *st, const struct tmap_plan *plan, size_t guest,
		 struct tmap_observed *obs, struct tmap_error *err)
{
	struct realtime_ctx c = {st, plan, guest, obs, err};

	return each_vcpu_thread(st, observe_one, &c, err);
}
