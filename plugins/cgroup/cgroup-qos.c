/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The cgroup backend's CPU QoS: libvirt's cputune (shares, period, quota) as cgroup v1's cpu
 * controller files take it, and as v2's cpu.weight and cpu.max; written, and compared.
 */
#include "cgroup-backend.h"

/* v1: cputune's values as they are, in the cpu hierarchy at the same path. */
int
write_qos_v1(struct state *st, uint64_t shares, uint64_t period, int64_t quota,
	     struct tmap_journal *j, struct tmap_error *err)
{
	struct cgroup *ct = &st->cpu_chain[st->depth];
	char value[32];
	int r = 0;

	if (shares) {
		snprintf(value, sizeof(value), "%" PRIu64, shares);
		r = cg_write(st, ct, F_SHARES, value, j, err);
	}
	if (r == 0 && period) {
		snprintf(value, sizeof(value), "%" PRIu64, period);
		r = cg_write(st, ct, F_PERIOD, value, j, err);
	}
	if (r == 0 && quota) {
		snprintf(value, sizeof(value), "%" PRId64, quota < 0 ? -1 : quota);
		r = cg_write(st, ct, F_QUOTA, value, j, err);
	}
	return r;
}

/*
 * v1 shares 2..262144 (default 1024) onto v2 weight 1..10000 (default 100), linearly, as
 * systemd and crun map them: weight = 1 + (shares - 2) * 9999 / 262142. 1024 gives 39, not
 * 100: the two scales do not share a default.
 */
static uint64_t
shares_to_weight(uint64_t shares)
{
	return 1 + ((shares - 2) * 9999) / 262142;
}

/* The two halves of v2's cpu.max, "QUOTA PERIOD"; QUOTA is "max" for no limit. */
struct cpu_max {
	char quota[32];
	char period[32];
};

/*
 * cpu.max as the plan's quota (0: unset, < 0: no limit) and period (0: unset) make it over
 * now, what the file holds (NULL: not there yet, QUOTA "max" and no PERIOD): a half the plan
 * leaves unset stays what it is. apply writes it and verify compares with it, so that they
 * cannot disagree. -EPROTO when now is not "QUOTA PERIOD".
 */
static int
cpu_max_wanted(int64_t quota, uint64_t period, const char *now, struct cpu_max *ret)
{
	struct cpu_max m = {"max", ""};

	if (now && sscanf(now, "%31s %31s", m.quota, m.period) != 2)
		return -EPROTO;
	if (quota > 0)
		snprintf(m.quota, sizeof(m.quota), "%" PRId64, quota);
	else if (quota < 0)
		snprintf(m.quota, sizeof(m.quota), "max");
	if (period)
		snprintf(m.period, sizeof(m.period), "%" PRIu64, period);
	*ret = m;
	return 0;
}

/* v2: the same, converted to cpu.weight and cpu.max. */
int
write_qos_v2(struct state *st, uint64_t shares, uint64_t period, int64_t quota,
	     struct tmap_journal *j, struct tmap_error *err)
{
	struct cgroup *t = &st->chain[st->depth];
	_cleanup_free_ char *now = NULL;
	struct cpu_max m;
	char value[80];
	int r;

	if (shares) {
		snprintf(value, sizeof(value), "%" PRIu64, shares_to_weight(shares));
		r = cg_write(st, t, F_WEIGHT, value, j, err);
		if (r < 0)
			return r;
	}
	if (!period && !quota)
		return 0;
	/* A period without a quota keeps the quota there is, so read it. */
	if (period && !quota) {
		r = current(t, F_MAX, &now);
		/* Not there yet: a dry run that only announced "+cpu" above, or that makes the
		 * cgroup. */
		if (r < 0 && r != -ENOENT)
			return tmap_error_set(err, r, "cannot read cpu.max of '%s': %s", t->rel,
					 strerror(-r));
		if (r < 0 || !now[0]) {
			free(now);
			now = NULL;
		}
	}
	if (cpu_max_wanted(quota, period, now, &m) < 0)
		return tmap_error_set(err, -EPROTO, "cpu.max of '%s': '%s' is not 'QUOTA PERIOD'",
				 t->rel, now);
	/* A quota without a period is written alone: the kernel keeps the period there is. */
	if (!period)
		return cg_write(st, t, F_MAX, m.quota, j, err);
	snprintf(value, sizeof(value), "%s %s", m.quota, m.period);
	return cg_write(st, t, F_MAX, value, j, err);
}

/* A QoS file as it is now, without its newline. */
static int
read_value(struct cgroup *cg, enum file f, char **ret, struct tmap_error *err)
{
	int r = cg->fd < 0 ? -ENOENT : read_at(cg->fd, file_names[f], MAX_FILE, ret);

	if (r < 0)
		return tmap_error_set(err, r, "cannot read %s of '%s': %s", file_names[f], cg->rel,
				 strerror(-r));
	(*ret)[strcspn(*ret, "\n")] = '\0';
	return 0;
}

/* One QoS file against what the plan's value becomes in it; a difference is drift. */
static int
compare_value(struct cgroup *cg, enum file f, const char *now, const char *want,
	      struct tmap_observed *obs, struct tmap_error *err)
{
	int r;

	if (streq(now, want))
		return 0;
	r = tmap_observed_drift(obs, "%s of '%s' is '%s', the plan says '%s'", file_names[f],
				cg->rel, now, want);
	return r < 0 ? tmap_error_set(err, r, "out of memory") : 0;
}

static int
observe_value(struct cgroup *cg, enum file f, const char *want, struct tmap_observed *obs,
	      struct tmap_error *err)
{
	_cleanup_free_ char *now = NULL;
	int r = read_value(cg, f, &now, err);

	return r < 0 ? r : compare_value(cg, f, now, want, obs, err);
}

/* The plan's cputune as the files hold it: v1 as it is, v2 as cpu.weight and cpu.max. */
int
observe_qos(struct state *st, const struct tmap_plan *plan, size_t guest,
	    struct tmap_observed *obs, struct tmap_error *err)
{
	uint64_t shares = 0, period = 0;
	int64_t quota = 0;
	char want[64];
	int r = 0;

	tmap_plan_qos(plan, guest, &shares, &period, &quota);
	if (!st->h.v2) {
		struct cgroup *ct = &st->cpu_chain[st->depth];

		if (shares) {
			snprintf(want, sizeof(want), "%" PRIu64, shares);
			r = observe_value(ct, F_SHARES, want, obs, err);
		}
		if (r == 0 && period) {
			snprintf(want, sizeof(want), "%" PRIu64, period);
			r = observe_value(ct, F_PERIOD, want, obs, err);
		}
		if (r == 0 && quota) {
			snprintf(want, sizeof(want), "%" PRId64, quota < 0 ? -1 : quota);
			r = observe_value(ct, F_QUOTA, want, obs, err);
		}
		return r;
	}
	if (shares) {
		snprintf(want, sizeof(want), "%" PRIu64, shares_to_weight(shares));
		r = observe_value(&st->chain[st->depth], F_WEIGHT, want, obs, err);
	}
	if (r == 0 && (period || quota)) {
		struct cgroup *t = &st->chain[st->depth];
		_cleanup_free_ char *now = NULL;
		struct cpu_max m;

		r = read_value(t, F_MAX, &now, err);
		if (r < 0)
			return r;
		if (cpu_max_wanted(quota, period, now, &m) < 0)
			return tmap_error_set(err, -EPROTO, "cpu.max of '%s': '%s' is not 'QUOTA PERIOD'",
					 t->rel, now);
		snprintf(want, sizeof(want), "%s %s", m.quota, m.period);
		r = compare_value(t, F_MAX, now, want, obs, err);
	}
	return r;
}
