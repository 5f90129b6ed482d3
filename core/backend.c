/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Backends: the journal of writes, what is read back, and the transaction the
 * library runs around every backend (open and capture, apply, read back, compare, restore on
 * any failure). The loader lives in backend-loader.c, the comparison in backend-compare.c.
 */
#include <stdarg.h>

#include "backend-report.h"

/* ------------------------------------------------------------------------------------- */
/* Reports and the journal */

struct tmap_journal {
	struct tmap_report *report;
	bool dry_run;
	bool oom;
};

int
lines_add(struct lines *l, char *line)
{
	char **v = realloc(l->line, (l->n + 1) * sizeof(*v));

	if (!v) {
		free(line);
		return -ENOMEM;
	}
	l->line = v;
	l->line[l->n++] = line;
	return 0;
}

int
lines_printf(struct lines *l, const char *fmt, ...)
{
	char *line = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	return lines_add(l, line);
}

static void
lines_clear(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->line[i]);
	free(l->line);
}

struct tmap_report *
tmap_report_free(struct tmap_report *r)
{
	if (!r)
		return NULL;
	lines_clear(&r->writes);
	lines_clear(&r->drift);
	lines_clear(&r->pending);
	free(r);
	return NULL;
}

static void
tmap_report_freep(struct tmap_report **r)
{
	tmap_report_free(*r);
}

size_t
tmap_report_write_count(const struct tmap_report *r)
{
	return r ? r->writes.n : 0;
}

const char *
tmap_report_write(const struct tmap_report *r, size_t i)
{
	return r && i < r->writes.n ? r->writes.line[i] : NULL;
}

size_t
tmap_report_drift_count(const struct tmap_report *r)
{
	return r ? r->drift.n : 0;
}

const char *
tmap_report_drift(const struct tmap_report *r, size_t i)
{
	return r && i < r->drift.n ? r->drift.line[i] : NULL;
}

size_t
tmap_report_pending_count(const struct tmap_report *r)
{
	return r ? r->pending.n : 0;
}

const char *
tmap_report_pending(const struct tmap_report *r, size_t i)
{
	return r && i < r->pending.n ? r->pending.line[i] : NULL;
}

bool
tmap_report_restore_failed(const struct tmap_report *r)
{
	return r && r->restore_failed;
}

enum tmap_step
tmap_report_failed_step(const struct tmap_report *r)
{
	return r ? r->failed : TMAP_STEP_NONE;
}

const char *
tmap_step_name(enum tmap_step step)
{
	static const char *const names[] = {
		[TMAP_STEP_NONE] = "none",	 [TMAP_STEP_INPUT] = "input",
		[TMAP_STEP_TOPOLOGY] = "topology", [TMAP_STEP_STATE] = "state",
		[TMAP_STEP_PLACE] = "place",	 [TMAP_STEP_RECORD] = "record",
		[TMAP_STEP_OPEN] = "open",	 [TMAP_STEP_APPLY] = "apply",
		[TMAP_STEP_READ_BACK] = "read back", [TMAP_STEP_RESTORE] = "restore",
		[TMAP_STEP_COMMIT] = "commit",
	};

	return (unsigned)step < ARRAY_SIZE(names) && names[step] ? names[step] : "none";
}

bool
tmap_journal_write(struct tmap_journal *j, const char *fmt, ...)
{
	char *line = NULL;
	va_list ap;
	int r;

	if (!j)
		return false;
	va_start(ap, fmt);
	r = vasprintf(&line, fmt, ap);
	va_end(ap);
	/* A write that cannot be journaled is not made either: the report must be complete. */
	if (r < 0 || lines_add(&j->report->writes, line) < 0) {
		j->oom = true;
		return false;
	}
	return !j->dry_run;
}

/* ------------------------------------------------------------------------------------- */
/* What is in force */

static void
observed_free(struct tmap_observed *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->nsets; i++) {
		hwloc_bitmap_free(o->sets[i].set);
		free(o->sets[i].where);
	}
	for (size_t i = 0; i < o->ntasks; i++) {
		hwloc_bitmap_free(o->tasks[i].cpus);
		if (o->tasks[i].mems)
			hwloc_bitmap_free(o->tasks[i].mems);
	}
	free(o->sets);
	free(o->tasks);
	lines_clear(&o->drift);
	lines_clear(&o->pending);
	free(o);
}

static void
observed_freep(struct tmap_observed **o)
{
	observed_free(*o);
}

int
tmap_observed_set(struct tmap_observed *o, enum tmap_observed_kind kind, unsigned index,
		  const char *list, const char *where)
{
	struct observed_set *v;
	hwloc_bitmap_t set = NULL;
	int r;

	if (!o || (unsigned)kind > TMAP_OBSERVED_IOTHREAD)
		return -EINVAL;
	r = bitmap_parse_trimmed(list, &set);
	if (r < 0)
		return r;
	v = realloc(o->sets, (o->nsets + 1) * sizeof(*v));
	if (!v) {
		hwloc_bitmap_free(set);
		return -ENOMEM;
	}
	o->sets = v;
	v[o->nsets] = (struct observed_set){kind, index, set, strdup(where ? where : "?")};
	if (!v[o->nsets].where) {
		hwloc_bitmap_free(set);
		return -ENOMEM;
	}
	o->nsets++;
	return 0;
}

int
tmap_observed_task(struct tmap_observed *o, int tid, enum tmap_task_role role, unsigned index,
		   const char *cpus, const char *mems)
{
	struct observed_task *v;
	hwloc_bitmap_t c = NULL, m = NULL;
	int r;

	if (!o || tid <= 0 || (unsigned)role > TMAP_TASK_IOTHREAD)
		return -EINVAL;
	r = bitmap_parse_trimmed(cpus, &c);
	if (r < 0)
		return r;
	if (mems) {
		r = bitmap_parse_trimmed(mems, &m);
		if (r < 0) {
			hwloc_bitmap_free(c);
			return r;
		}
	}
	v = realloc(o->tasks, (o->ntasks + 1) * sizeof(*v));
	if (!v) {
		hwloc_bitmap_free(c);
		if (m)
			hwloc_bitmap_free(m);
		return -ENOMEM;
	}
	o->tasks = v;
	v[o->ntasks++] = (struct observed_task){tid, role, index, c, m};
	return 0;
}

static int _printf_(2, 0)
lines_vadd(struct lines *l, const char *fmt, va_list ap)
{
	char *line = NULL;

	if (!fmt)
		return -EINVAL;
	if (vasprintf(&line, fmt, ap) < 0)
		return -ENOMEM;
	return lines_add(l, line);
}

int
tmap_observed_drift(struct tmap_observed *o, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (!o)
		return -EINVAL;
	va_start(ap, fmt);
	r = lines_vadd(&o->drift, fmt, ap);
	va_end(ap);
	return r;
}

int
tmap_observed_pending(struct tmap_observed *o, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (!o)
		return -EINVAL;
	va_start(ap, fmt);
	r = lines_vadd(&o->pending, fmt, ap);
	va_end(ap);
	return r;
}

/* ------------------------------------------------------------------------------------- */
/* Transactions */

/* A backend takes only the target options it declares: a stray --qmp for the cgroup backend
 * is a mistake the operator wants to hear about. */
static int
check_target(const struct tmap_backend *b, const struct tmap_target *target,
	     struct tmap_error *err)
{
	for (size_t i = 0; i < tmap_target_count(target); i++) {
		const char *key = tmap_target_key(target, i);
		bool known = false;

		for (const char *const *k = b->target_keys; k && *k && !known; k++)
			known = streq(*k, key);
		if (!known) {
			char list[256] = "";
			size_t len = 0;

			for (const char *const *k = b->target_keys; k && *k && len < sizeof(list); k++) {
				int n = snprintf(list + len, sizeof(list) - len, "%s--%s", len ? ", " : "",
						 *k);

				len = n < 0 ? sizeof(list) : len + (size_t)n;
			}
			return tmap_error_set(err, -EINVAL,
					      "backend '%s' takes no option --%s (it takes %s)", b->name,
					      key, *list ? list : "none");
		}
	}
	return 0;
}

static int
check_call(const struct tmap_backend_module *m, const struct tmap_plan *plan, size_t guest,
	   struct tmap_error *err)
{
	if (!m || !plan)
		return tmap_error_set(err, -EINVAL, "missing backend or plan");
	if (guest >= plan->nguests)
		return tmap_error_set(err, -EINVAL, "the plan has no guest %zu", guest);
	return plan_guest_check(&plan->guests[guest], err);
}

int
tmap_apply(const struct tmap_backend_module *m, const struct tmap_target *target,
	   const struct tmap_plan *plan, size_t guest, unsigned flags,
	   struct tmap_report **ret_report, struct tmap_error *err)
{
	return backend_apply_then(m, target, plan, guest, flags, NULL, NULL, ret_report, err);
}

int
backend_apply_then(const struct tmap_backend_module *m, const struct tmap_target *target,
		   const struct tmap_plan *plan, size_t guest, unsigned flags,
		   int (*then)(void *data, struct tmap_error *err), void *data,
		   struct tmap_report **ret_report, struct tmap_error *err)
{
	_cleanup_(tmap_report_freep) struct tmap_report *report = NULL;
	_cleanup_(observed_freep) struct tmap_observed *obs = NULL;
	const struct tmap_backend *b;
	struct tmap_journal journal;
	const char *step;
	void *state = NULL;
	int r;

	r = check_call(m, plan, guest, err);
	if (r < 0)
		return r;
	if (flags & ~(TMAP_APPLY_DRY_RUN | TMAP_APPLY_RESIZE))
		return tmap_error_set(err, -EINVAL, "tmap_apply: unknown flags 0x%x", flags);
	b = tmap_backend_descriptor(m);
	/* A bit the module does not list is not its to see (one built before the bit existed). */
	flags &= TMAP_APPLY_DRY_RUN | TMAP_BACKEND_APPLY_FLAGS(b);
	r = check_target(b, target, err);
	if (r < 0)
		return r;
	report = calloc(1, sizeof(*report));
	if (!report)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	journal = (struct tmap_journal){report, flags & TMAP_APPLY_DRY_RUN, false};

	r = b->open(target, flags, &state, err);
	/* What the backend refuses before writing is part of the open step: nothing changed. */
	if (r == 0 && TMAP_BACKEND_HAS(b, check)) {
		r = b->check(state, plan, guest, err);
		if (r < 0)
			b->close(state);
	}
	if (r < 0) {
		/* Nothing was changed yet: no restore needed. */
		tmap_error_prefix(err, "open: ");
		report->failed = TMAP_STEP_OPEN;
		goto out;
	}
	step = "apply";
	report->failed = TMAP_STEP_APPLY;
	r = b->apply(state, plan, guest, &journal, err);
	if (r == 0 && journal.oom)
		r = tmap_error_set(err, -ENOMEM, "out of memory while journaling");
	if (r < 0 || journal.dry_run)
		goto done;

	step = "read back";
	report->failed = TMAP_STEP_READ_BACK;
	obs = calloc(1, sizeof(*obs));
	if (!obs) {
		r = tmap_error_set(err, -ENOMEM, "out of memory");
		goto done;
	}
	r = b->read_back(state, plan, guest, obs, err);
	if (r < 0)
		goto done;
	step = "compare";
	r = backend_compare(plan, &plan->guests[guest], obs,
			    TMAP_BACKEND_APPLY_FLAGS(b) & TMAP_APPLY_RESIZE, flags & TMAP_APPLY_RESIZE,
			    report);
	if (r < 0) {
		tmap_error_set(err, r, "cannot compare what is in force with the plan");
	} else if (report->drift.n) {
		r = tmap_error_set(err, -EPROTO,
				   "what is in force differs from the plan (%s%s)",
				   report->drift.line[0], report->drift.n > 1 ? ", and more" : "");
	}
	if (r == 0 && then) {
		/* The caller's step in the same transaction (the host's isolation extended). */
		step = "isolate";
		report->failed = TMAP_STEP_APPLY;
		r = then(data, err);
	}
done:
	if (r < 0 && !journal.dry_run) {
		struct tmap_error rerr = {0};
		int rr;

		/* Restore whatever the step was: a failed write may have changed something. */
		tmap_error_prefix(err, "%s: ", step);
		rr = b->restore(state, &journal, &rerr);
		report->restore_failed = rr < 0 || r == -ENOTRECOVERABLE;
		if (report->restore_failed)
			report->failed = TMAP_STEP_RESTORE;
		if (rr < 0 && err) {
			/* What is left changed matters most to the operator: the failure that
			 * started it is cut first when both do not fit. */
			static const char sep[] = "; restore failed too: ";
			char first[TMAP_ERROR_MAX];
			size_t room = sizeof(err->message) - 1 - strlen(sep) - strlen(rerr.message);
			int keep = (int)(room > 160 && room < sizeof(first) ? room : 160);

			memcpy(first, err->message, sizeof(first));
			snprintf(err->message, sizeof(err->message), "%.*s%s%.*s", keep, first, sep,
				 (int)(sizeof(err->message) - 1 - strlen(sep)) - keep,
				 rerr.message);
		} else if (err)
			snprintf(err->message + strlen(err->message),
				 sizeof(err->message) - strlen(err->message),
				 "; restored what was there");
	} else if (r < 0) {
		tmap_error_prefix(err, "%s: ", step);
	}
	b->close(state);
out:
	if (r == 0)
		report->failed = TMAP_STEP_NONE;
	if (ret_report)
		*ret_report = TAKE_PTR(report);
	return r;
}

int
tmap_verify(const struct tmap_backend_module *m, const struct tmap_target *target,
	    const struct tmap_plan *plan, size_t guest, unsigned flags,
	    struct tmap_report **ret_report, struct tmap_error *err)
{
	_cleanup_(tmap_report_freep) struct tmap_report *report = NULL;
	_cleanup_(observed_freep) struct tmap_observed *obs = NULL;
	const struct tmap_backend *b;
	void *state = NULL;
	int r;

	r = check_call(m, plan, guest, err);
	if (r < 0)
		return r;
	if (flags & ~TMAP_APPLY_RESIZE)
		return tmap_error_set(err, -EINVAL, "tmap_verify: unknown flags 0x%x", flags);
	b = tmap_backend_descriptor(m);
	flags &= TMAP_BACKEND_APPLY_FLAGS(b);
	r = check_target(b, target, err);
	if (r < 0)
		return r;
	report = calloc(1, sizeof(*report));
	obs = calloc(1, sizeof(*obs));
	if (!report || !obs)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	/* Verifying never changes anything: open as for a dry run. */
	r = b->open(target, TMAP_APPLY_DRY_RUN | flags, &state, err);
	if (r < 0) {
		tmap_error_prefix(err, "open: ");
		report->failed = TMAP_STEP_OPEN;
		goto out;
	}
	r = b->read_back(state, plan, guest, obs, err);
	b->close(state);
	if (r < 0) {
		tmap_error_prefix(err, "read back: ");
		report->failed = TMAP_STEP_READ_BACK;
		goto out;
	}
	r = backend_compare(plan, &plan->guests[guest], obs,
			    TMAP_BACKEND_APPLY_FLAGS(b) & TMAP_APPLY_RESIZE, flags & TMAP_APPLY_RESIZE,
			    report);
	if (r < 0)
		return tmap_error_set(err, r, "cannot compare what is in force with the plan");
	r = report->drift.n ? 1 : 0;
out:
	if (ret_report)
		*ret_report = TAKE_PTR(report);
	return r;
}

int
report_drift(struct tmap_report *r, const char *line)
{
	return lines_printf(&r->drift, "%s", line);
}

unsigned
report_vcpus_observed(const struct tmap_report *r)
{
	return r ? r->vcpus_observed : 0;
}

/* What is in force for a guest of a plan, read through the backend (changes nothing). */
int
backend_observe(const struct tmap_backend_module *m, const struct tmap_target *target,
		const struct tmap_plan *plan, size_t guest, struct tmap_observed **ret,
		struct tmap_error *err)
{
	_cleanup_(observed_freep) struct tmap_observed *obs = calloc(1, sizeof(*obs));
	const struct tmap_backend *b = tmap_backend_descriptor(m);
	void *state = NULL;
	int r;

	if (!obs)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	r = check_call(m, plan, guest, err);
	if (r == 0)
		r = check_target(b, target, err);
	if (r < 0)
		return r;
	r = b->open(target, TMAP_APPLY_DRY_RUN, &state, err);
	if (r < 0)
		return r;
	r = b->read_back(state, plan, guest, obs, err);
	b->close(state);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(obs);
	return 0;
}

hwloc_const_bitmap_t
observed_get(const struct tmap_observed *o, int kind, unsigned index)
{
	for (size_t i = 0; o && i < o->nsets; i++)
		if ((int)o->sets[i].kind == kind && o->sets[i].index == index)
			return o->sets[i].set;
	return NULL;
}

void
observed_release(struct tmap_observed *o)
{
	observed_free(o);
}

/* ------------------------------------------------------------------------------------- */
/* Optional callbacks */

int
tmap_backend_describe(const struct tmap_backend_module *m, const struct tmap_target *target,
		      struct tmap_guest **ret, struct tmap_error *err)
{
	const struct tmap_backend *b = tmap_backend_descriptor(m);
	struct tmap_guest *g = NULL;
	int r;

	if (!b || !ret)
		return tmap_error_set(err, -EINVAL, "tmap_backend_describe: missing argument");
	if (!TMAP_BACKEND_HAS(b, describe))
		return tmap_error_set(err, -EOPNOTSUPP,
				      "backend '%s' cannot read a guest from its target: give the guest",
				      b->name);
	r = check_target(b, target, err);
	if (r < 0)
		return r;
	r = b->describe(target, &g, err);
	if (r < 0)
		return r;
	if (!g)
		return tmap_error_set(err, -EIO, "backend '%s' described no guest", b->name);
	r = tmap_guest_validate(g, err);
	if (r < 0) {
		tmap_guest_free(g);
		tmap_error_prefix(err, "the guest backend '%s' read is not valid: ", b->name);
		return r;
	}
	*ret = g;
	return 0;
}

int
tmap_backend_identify(const struct tmap_backend_module *m, const struct tmap_target *target,
		      struct tmap_target *identity, struct tmap_error *err)
{
	const struct tmap_backend *b = tmap_backend_descriptor(m);
	int r;

	if (!b || !identity)
		return tmap_error_set(err, -EINVAL, "tmap_backend_identify: missing argument");
	if (!TMAP_BACKEND_HAS(b, identify))
		return tmap_error_set(err, -ENOTSUP, "backend '%s' cannot identify its target",
				      b->name);
	r = check_target(b, target, err);
	if (r < 0)
		return r;
	r = b->identify(target, identity, err);
	if (r < 0)
		return r;
	if (tmap_target_count(identity) == 0)
		return tmap_error_set(err, -EIO, "backend '%s' identified its target by nothing",
				      b->name);
	return 0;
}

int
backend_host_topology(const char *name, const char *arg, char **ret_json, struct tmap_error *err)
{
	struct tmap_backend_module *m = NULL;
	const struct tmap_backend *b;
	int r;

	r = tmap_backend_load(name, &m, err);
	if (r < 0)
		return r;
	b = tmap_backend_descriptor(m);
	if (!TMAP_BACKEND_HAS(b, host_topology))
		r = tmap_error_set(err, -EINVAL, "backend '%s' cannot describe a host", name);
	else
		r = b->host_topology(arg, ret_json, err);
	tmap_backend_unload(m);
	return r;
}
