/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The allocation session: a host, the state that records what is placed on it, and the
 * transaction that keeps them agreeing with the targets.
 *
 * The write-ahead rule: a guest is recorded as pending, and the state saved, before its
 * backend writes anything; it is recorded as applied once the backend read the plan back.
 * A failure puts the committed document back (a snapshot taken before the pending record)
 * and places the host again from it, so the session, the file and the target agree after
 * every call. A session killed between the two records leaves a pending guest, which the
 * next writing session settles on open: kept when its plan is in force, applied again when
 * its target is there, dropped when its target is gone.
 */
#include <stdarg.h>
#include <json-c/json.h>

#include "topomap/session.h"
#include "internal.h"
#include "session.h"
#include "state.h"

int
session_notice(struct tmap_session *s, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = lines_append_vprintf(&s->notices, &s->nnotices, fmt, ap);
	va_end(ap);
	return r;
}

/* Return r with the step it failed at: every public call ends through here or ok(). */
int
session_fail(struct tmap_session *s, enum tmap_step step, int r)
{
	s->step = step;
	return r;
}

static int
ok(struct tmap_session *s, int r)
{
	s->step = TMAP_STEP_NONE;
	return r;
}

/* The step a backend failure stopped at: from the report, or before it (the target). */
enum tmap_step
session_backend_step(const struct tmap_report *report)
{
	enum tmap_step step = tmap_report_failed_step(report);

	return step == TMAP_STEP_NONE ? TMAP_STEP_INPUT : step;
}

unsigned
session_recorded_flags(struct tmap_session *s, const char *name, struct tmap_plan *plan)
{
	unsigned running = s->state ? state_guest_running_vcpus(s->state, name) : 0;

	plan->guests[0].running_vcpus = running;
	return running ? TMAP_APPLY_RESIZE : 0;
}

unsigned
session_running_after(const struct tmap_report *report, const struct tmap_plan *plan, unsigned was)
{
	unsigned runs = report_vcpus_observed(report);

	if (!runs)
		return was;
	return runs == plan->guests[0].vcpus ? 0 : runs;
}

int
session_module(struct tmap_session *s, const char *name,
	       const struct tmap_backend_module **ret, struct tmap_error *err)
{
	struct session_module *v;
	int r;

	for (size_t i = 0; i < s->nmodules; i++)
		if (streq(s->modules[i].name, name)) {
			*ret = s->modules[i].module;
			return 0;
		}
	v = realloc(s->modules, (s->nmodules + 1) * sizeof(*v));
	if (!v)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	s->modules = v;
	v = &s->modules[s->nmodules];
	*v = (struct session_module){strdup(name), NULL};
	if (!v->name)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	r = tmap_backend_load(name, &v->module, err);
	if (r < 0) {
		free(v->name);
		return r;
	}
	s->nmodules++;
	*ret = v->module;
	return 0;
}

/* ------------------------------------------------------------------------------------- */
/* The host, placed from the state */

/* A new host with the session's reserve, and what the committed state records on it. */
int
session_reload(struct tmap_session *s, struct tmap_error *err)
{
	struct tmap_solve_options opts = s->solve;
	struct tmap_host *h = NULL;
	int r;

	opts.reserve = s->reserve && *s->reserve ? s->reserve : NULL;
	r = tmap_host_new(s->topology, &opts, &h, err);
	if (r == 0 && s->state && s->state->housekeeping)
		r = host_set_housekeeping(h, s->state->housekeeping, err);
	if (r == 0 && s->state)
		r = tmap_state_load(s->state, h, err);
	if (r < 0) {
		tmap_host_free(h);
		return r;
	}
	tmap_host_free(s->host);
	s->host = h;
	return 0;
}

/* reserve = recorded, plus what the caller adds (refused when a recorded guest holds it). */
static int
open_reserve(struct tmap_session *s, const char *more, struct tmap_error *err)
{
	const char *kept = s->state ? tmap_state_reserve(s->state) : NULL;
	char holder[SESSION_NAME_SIZE];
	int r;

	s->reserve = strdup(kept ? kept : "");
	if (!s->reserve)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	r = session_reload(s, err);
	if (r < 0 || !more || !*more)
		return r;
	r = host_reserve_check(s->host, more, holder, sizeof(holder));
	if (r == -EBUSY)
		return tmap_error_set(err, -EBUSY,
				      "reserve '%.60s': guest '%s' holds some of these PUs (release it first)",
				      more, holder);
	if (r < 0)
		return tmap_error_set(err, -EINVAL, "reserve '%.60s' is not a list of PUs of this host",
				      more);
	r = cpulist_union(s->reserve, more, &s->reserve);
	if (r < 0)
		return tmap_error_set(err, r, "reserve '%.60s' is not a list of PUs", more);
	return session_reload(s, err);
}

/* ------------------------------------------------------------------------------------- */
/* Settling what a killed session left pending */

/* Is the target a recorded guest was applied to still the same (same domain, same QEMU)? */
static bool
target_still_there(struct tmap_session *s, const struct tmap_backend_module *m,
		   const struct tmap_target *target, const char *name)
{
	struct json_object *recorded = state_guest_identity(s->state, name);
	struct tmap_target *now = NULL;
	bool same = true;
	int r;

	if (tmap_target_new(&now) < 0)
		return true; /* cannot tell: keep it */
	r = tmap_backend_identify(m, target, now, NULL);
	if (r == -ENOENT || r == -ESRCH || r == -ENOTDIR)
		same = false;
	if (!recorded || !json_object_is_type(recorded, json_type_object)) {
		tmap_target_free(now);
		return same;
	}
	json_object_object_foreach(recorded, key, val)
	{
		const char *have = r == 0 ? tmap_target_get(now, key) : NULL;

		if (have && json_object_is_type(val, json_type_string) &&
		    !streq(have, json_object_get_string(val)))
			same = false;
	}
	tmap_target_free(now);
	return same;
}

/* One pending guest: 0 kept or applied, 1 dropped, -errno when it could not be settled. */
static int
settle_one(struct tmap_session *s, const char *recorded, struct tmap_error *err)
{
	/* The host's copy of the name goes with the guest when it is dropped. */
	_cleanup_free_ char *name = strdup(recorded);
	const struct tmap_backend_module *m = NULL;
	struct tmap_report *report = NULL;
	struct tmap_target *target = NULL;
	struct tmap_plan *plan = NULL;
	const char *backend;
	unsigned flags;
	int r;

	if (!name)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	r = tmap_state_guest_target(s->state, name, &backend, &target, err);
	if (r == 0)
		r = session_module(s, backend, &m, err);
	if (r == 0)
		r = tmap_host_guest_plan(s->host, name, &plan, err);
	if (r < 0)
		goto out;
	if (!target_still_there(s, m, target, name)) {
		tmap_host_release(s->host, name);
		session_notice(s, "guest '%s' was recorded as pending and its target is gone: dropped", name);
		r = 1;
		goto out;
	}
	/* A recorded plan: a resize the guest has not been started with is pending when the
	 * state records the count it still runs; any other count is drift. */
	flags = session_recorded_flags(s, name, plan);
	r = tmap_verify(m, target, plan, 0, flags, &report, err);
	if (r == 0) {
		session_notice(s, "guest '%s' was recorded as pending and its plan is in force: kept", name);
	} else {
		/* Killed in the middle of its apply: finish it, so the target holds what the
		 * state records. */
		report = tmap_report_free(report);
		r = tmap_apply(m, target, plan, 0, flags, &report, err);
		if (r == 0)
			session_notice(s, "guest '%s' was recorded as pending; its apply was finished", name);
	}
	if (r < 0) {
		tmap_host_release(s->host, name);
		session_notice(s, "guest '%s' was recorded as pending and could not be settled (%s): dropped",
		       name, err ? err->message : "");
		r = 1;
	} else {
		state_guest_set_running_vcpus(s->state, name,
					      session_running_after(report, plan,
								    plan->guests[0].running_vcpus));
	}
	state_guest_mark_applied(s->state, name);
out:
	tmap_report_free(report);
	tmap_target_free(target);
	tmap_plan_free(plan);
	return r;
}

static int
settle_pending(struct tmap_session *s, struct tmap_error *err)
{
	bool changed = false;
	size_t i = 0;

	while (i < tmap_host_guest_count(s->host)) {
		const char *name = tmap_host_guest_name(s->host, i);
		struct tmap_error why = {0};
		int r;

		if (!state_guest_pending(s->state, name)) {
			i++;
			continue;
		}
		changed = true;
		r = settle_one(s, name, &why);
		if (r < 0) {
			/* No target recorded, no backend: the record cannot be checked. */
			session_notice(s, "guest '%s' stays recorded as pending: %s", name, why.message);
			state_guest_mark_applied(s->state, name);
		}
		i += r != 1;
	}
	return changed ? tmap_state_save(s->state, s->host, err) : 0;
}

/* ------------------------------------------------------------------------------------- */
/* Open and close */

static bool
same_set(const char *a, const char *b)
{
	_cleanup_bitmap_ hwloc_bitmap_t x = NULL, y = NULL;

	return bitmap_parse_list(a, &x) == 0 && bitmap_parse_list(b, &y) == 0 &&
	       hwloc_bitmap_isequal(x, y);
}

/* A ratio given for the session against the recorded one (0: none); the one to use. */
static int
pool_ratio(const struct tmap_session *s, const char *what, double kept, double *given,
	   struct tmap_error *err)
{
	if (kept > 0 && *given > 0 && kept != *given)
		return tmap_error_set(err, -EINVAL,
				      "%s overcommit %g contradicts the %g recorded in state file '%s' (change it with 'topomap host set --%s-overcommit')",
				      what, *given, kept, state_path(s->state), what);
	if (*given == 0)
		*given = kept;
	return 0;
}

/*
 * The shared pool and its ratios (issue 21): those the state records. One given for the
 * session agrees with the recorded one, or is the first, recorded by the next apply as a
 * reserve is; a contradiction is refused, never settled silently one way or the other.
 */
static int
open_pool(struct tmap_session *s, struct tmap_error *err)
{
	const char *kept = tmap_state_shared(s->state);
	int r;

	if (!s->state)
		return 0;
	if (kept && s->shared && *s->shared && !same_set(kept, s->shared))
		return tmap_error_set(err, -EINVAL,
				      "shared set '%.60s' contradicts the shared set '%.60s' recorded in state file '%s' (change it with 'topomap host set --shared-set')",
				      s->shared, kept, state_path(s->state));
	r = pool_ratio(s, "cpu", tmap_state_cpu_overcommit(s->state), &s->solve.cpu_overcommit,
		       err);
	if (r == 0)
		r = pool_ratio(s, "memory", tmap_state_memory_overcommit(s->state),
			       &s->solve.memory_overcommit, err);
	if (r < 0 || !kept || (s->shared && *s->shared))
		return r;
	free(s->shared);
	s->shared = strdup(kept);
	s->solve.shared = s->shared;
	return s->shared ? 0 : tmap_error_set(err, -ENOMEM, "out of memory");
}

static int
session_copy_options(struct tmap_session *s, const struct tmap_session_options *o,
		     struct tmap_error *err)
{
	/* Options without .host (0.1) are read as they were. */
	if (o->size < offsetof(struct tmap_session_options, host) ||
	    o->solve.size < sizeof(o->solve))
		return tmap_error_set(err, -EINVAL, "tmap_session_open: options of another version");
	if (o->flags & ~(TMAP_SESSION_WRITE | TMAP_SESSION_NO_FOLLOW))
		return tmap_error_set(err, -EINVAL, "tmap_session_open: unknown flags 0x%x",
				      o->flags);
	s->solve = o->solve;
	s->solve.reserve = NULL;
	if (o->solve.shared && !(s->shared = strdup(o->solve.shared)))
		return tmap_error_set(err, -ENOMEM, "out of memory");
	s->solve.shared = s->shared;
	return 0;
}

/* The host: the caller's (.host), or made from the deprecated source string, or live. */
static int
open_topology(struct tmap_session *s, const struct tmap_session_options *o,
	      struct tmap_error *err)
{
	const struct tmap_topology *host = NULL;
	int r;

	if (o->size >= offsetof(struct tmap_session_options, host) + sizeof(o->host))
		host = o->host;
	if (host && o->topology)
		return tmap_error_set(err, -EINVAL,
				      "tmap_session_open: .host and .topology both given");
	if (host) {
		s->topology = host;
		return 0;
	}
	if (o->topology)
		r = topology_new_source(o->topology, 0, &s->own_topology, err);
	else
		r = tmap_topology_new_live(0, &s->own_topology, err);
	s->topology = s->own_topology;
	return r;
}

int
tmap_session_open(const struct tmap_session_options *options, struct tmap_session **ret,
		  struct tmap_error *err)
{
	const struct tmap_session_options defaults = TMAP_SESSION_OPTIONS_INIT;
	const struct tmap_session_options *o = options ? options : &defaults;
	struct tmap_session *s;
	int r;

	if (!ret)
		return tmap_error_set(err, -EINVAL, "tmap_session_open: missing argument");
	s = calloc(1, sizeof(*s));
	if (!s)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	s->writable = o->flags & TMAP_SESSION_WRITE;
	s->no_follow = o->flags & TMAP_SESSION_NO_FOLLOW;
	r = session_copy_options(s, o, err);
	if (r == 0)
		r = open_topology(s, o, err);
	if (r == 0 && o->state) {
		r = tmap_state_open(o->state, s->writable ? TMAP_STATE_WRITE : 0, &s->state, err);
	}
	if (r == 0)
		r = open_pool(s, err);
	if (r == 0)
		r = open_reserve(s, o->reserve, err);
	/* The shared pool belongs to shared guests; the host's own PUs are elsewhere. */
	if (r == 0 && cpulist_overlap(s->reserve, s->shared))
		r = tmap_error_set(err, -EINVAL, "reserve '%.60s' overlaps the shared set '%.60s'",
				   s->reserve, s->shared);
	if (r == 0 && s->state && s->writable)
		r = settle_pending(s, err);
	if (r < 0) {
		tmap_session_close(s);
		return r;
	}
	*ret = s;
	return 0;
}

struct tmap_session *
tmap_session_close(struct tmap_session *s)
{
	if (!s)
		return NULL;
	for (size_t i = 0; i < s->nmodules; i++) {
		tmap_backend_unload(s->modules[i].module);
		free(s->modules[i].name);
	}
	free(s->modules);
	for (size_t i = 0; i < s->nnotices; i++)
		free(s->notices[i]);
	free(s->notices);
	tmap_host_free(s->host);
	tmap_state_close(s->state);
	tmap_topology_free(s->own_topology);
	free(s->reserve);
	free(s->shared);
	free(s);
	return NULL;
}

/* ------------------------------------------------------------------------------------- */
/* Getters */

enum tmap_step
tmap_session_failed_step(const struct tmap_session *s)
{
	return s ? s->step : TMAP_STEP_NONE;
}

const struct tmap_topology *
tmap_session_topology(const struct tmap_session *s)
{
	return s ? s->topology : NULL;
}

const struct tmap_host *
tmap_session_host(const struct tmap_session *s)
{
	return s ? s->host : NULL;
}

const char *
tmap_session_state_path(const struct tmap_session *s)
{
	return s && s->state ? state_path(s->state) : NULL;
}

const char *
tmap_session_reserve(const struct tmap_session *s)
{
	return s && s->reserve && *s->reserve ? s->reserve : NULL;
}

size_t
tmap_session_notice_count(const struct tmap_session *s)
{
	return s ? s->nnotices : 0;
}

const char *
tmap_session_notice(const struct tmap_session *s, size_t i)
{
	return s && i < s->nnotices ? s->notices[i] : NULL;
}

size_t
tmap_session_guest_count(const struct tmap_session *s)
{
	return s ? tmap_host_guest_count(s->host) : 0;
}

const char *
tmap_session_guest_name(const struct tmap_session *s, size_t i)
{
	return s ? tmap_host_guest_name(s->host, i) : NULL;
}

const char *
tmap_session_lookup(const struct tmap_session *s, const char *what)
{
	if (!s || !what)
		return NULL;
	for (size_t i = 0; i < tmap_host_guest_count(s->host); i++)
		if (streq(tmap_host_guest_name(s->host, i), what))
			return tmap_host_guest_name(s->host, i);
	/* A libvirt domain whose name is not a valid guest name is recorded under its UUID:
	 * the hook knows it by its name. */
	for (size_t i = 0; s->state && i < tmap_host_guest_count(s->host); i++) {
		const char *name = tmap_host_guest_name(s->host, i), *backend, *domain, *uuid;
		struct tmap_target *target = NULL;
		bool match;

		if (tmap_state_guest_target(s->state, name, &backend, &target, NULL) < 0)
			continue;
		domain = tmap_target_get(target, "domain");
		uuid = tmap_target_get(target, "uuid");
		match = streq(backend, "libvirt") &&
			((domain && streq(domain, what)) || (uuid && streq(uuid, what)));
		tmap_target_free(target);
		if (match)
			return name;
	}
	return NULL;
}

int
tmap_session_guest_target(const struct tmap_session *s, const char *name,
			  const char **ret_backend, struct tmap_target **ret_target,
			  struct tmap_error *err)
{
	if (!s || !s->state)
		return tmap_error_set(err, -ENOENT, "this session has no state");
	return tmap_state_guest_target(s->state, name, ret_backend, ret_target, err);
}

int
tmap_session_same_target(struct tmap_session *s, const char *name, const char *backend,
			 const struct tmap_target *target, struct tmap_error *err)
{
	const struct tmap_backend_module *m = NULL;
	const char *found = tmap_session_lookup(s, name), *recorded = NULL;
	struct tmap_target *kept = NULL;
	int r;

	if (!found || !s->state)
		return tmap_error_set(err, -ENOENT, "no guest '%s' is recorded in the state of this host",
				      name ? name : "");
	r = tmap_state_guest_target(s->state, found, &recorded, &kept, err);
	tmap_target_free(kept);
	if (r < 0)
		return r;
	if (!streq(recorded, backend))
		return 0;
	r = session_module(s, backend, &m, err);
	if (r < 0)
		return r;
	return target_still_there(s, m, target, found) ? 1 : 0;
}

int
tmap_session_guest_spec(const struct tmap_session *s, const char *name, struct tmap_guests **ret,
			struct tmap_error *err)
{
	const char *found = tmap_session_lookup(s, name);

	if (!found || !s->state)
		return tmap_error_set(err, -ENOENT, "no guest '%s' is recorded in the state of this host",
				      name ? name : "");
	return state_guest_spec(s->state, found, ret, err);
}

int
tmap_session_guest_plan(const struct tmap_session *s, const char *name, struct tmap_plan **ret,
			struct tmap_error *err)
{
	int r;

	if (!s)
		return tmap_error_set(err, -EINVAL, "tmap_session_guest_plan: missing argument");
	r = tmap_host_guest_plan(s->host, name, ret, err);
	/* What the guest still runs goes with its plan, for tmap_verify() to tell a pending
	 * resize from a guest started with a third count. */
	if (r == 0 && s->state)
		(*ret)->guests[0].running_vcpus = state_guest_running_vcpus(s->state, name);
	return r;
}

unsigned
tmap_session_guest_running_vcpus(const struct tmap_session *s, const char *name)
{
	const char *found = tmap_session_lookup(s, name);

	return found && s->state ? state_guest_running_vcpus(s->state, found) : 0;
}

/* ------------------------------------------------------------------------------------- */
/* Transactions */

int
tmap_session_plan(struct tmap_session *s, const struct tmap_guests *guests, unsigned flags,
		  struct tmap_plan **ret, struct tmap_error *err)
{
	struct tmap_error why = {0};
	int r;

	if (!s || !guests || !ret)
		return tmap_error_set(err, -EINVAL, "tmap_session_plan: missing argument");
	if (flags & ~TMAP_SESSION_BATCH)
		return session_fail(s, TMAP_STEP_INPUT,
				    tmap_error_set(err, -EINVAL, "tmap_session_plan: unknown flags 0x%x",
						   flags));
	if (s->state && tmap_host_guest_count(s->host))
		session_notice(s, "placed around %zu guest%s recorded in the state '%s'",
		       tmap_host_guest_count(s->host),
		       tmap_host_guest_count(s->host) == 1 ? "" : "s", state_path(s->state));
	/* A what-if: placed on the session's host, which is placed again from the state after. */
	r = flags & TMAP_SESSION_BATCH ? tmap_host_solve_batch(s->host, guests, ret, &why)
				       : tmap_host_solve(s->host, guests, ret, &why);
	if (err)
		*err = why;
	if (session_reload(s, r < 0 ? NULL : err) < 0 && r == 0) {
		*ret = tmap_plan_free(*ret);
		return session_fail(s, TMAP_STEP_STATE, -ENOMEM);
	}
	if (r == -ENOSPC)
		return session_fail(s, TMAP_STEP_PLACE, r);
	if (r < 0)
		return session_fail(s, r == -ENOMEM ? TMAP_STEP_PLACE : TMAP_STEP_INPUT, r);
	if (s->state) {
		(*ret)->state_path = strdup(state_path(s->state));
		(*ret)->state_guests = tmap_host_guest_count(s->host);
		if (!(*ret)->state_path) {
			*ret = tmap_plan_free(*ret);
			return session_fail(s, TMAP_STEP_PLACE,
					    tmap_error_set(err, -ENOMEM, "out of memory"));
		}
	}
	return ok(s, 0);
}

int
tmap_session_make_room(struct tmap_session *s, const struct tmap_guest *guest,
		       const struct tmap_room_options *options, struct tmap_plan **ret,
		       struct tmap_error *err)
{
	int r;

	if (!s || !guest || !ret)
		return tmap_error_set(err, -EINVAL, "tmap_session_make_room: missing argument");
	/* A what-if on the session's host, placed again from the state after. */
	r = tmap_host_make_room(s->host, guest, options, ret, err);
	if (session_reload(s, NULL) < 0 && r == 0) {
		*ret = tmap_plan_free(*ret);
		return session_fail(s, TMAP_STEP_STATE,
				    tmap_error_set(err, -ENOMEM, "out of memory"));
	}
	if (r < 0)
		return session_fail(s, r == -ENOSPC ? TMAP_STEP_PLACE : TMAP_STEP_INPUT, r);
	return ok(s, 0);
}

/* The failed apply's state put back: the snapshot written again, the host placed from it. */
static void
roll_back(struct tmap_session *s, struct json_object *snapshot, bool recorded)
{
	struct tmap_error err = {0};

	if (recorded && state_revert(s->state, snapshot, &err) < 0)
		session_notice(s, "the guest stays recorded as pending (the next session settles it): %s",
		       err.message);
	if (session_reload(s, &err) < 0)
		session_notice(s, "%s", err.message);
}

/* Place, record as pending, apply, record as applied: see the file's comment. A plan with a
 * running count (a reapply of a guest resized live) is applied with TMAP_APPLY_RESIZE, and
 * the count it runs afterwards recorded. */
static int
apply_recorded(struct tmap_session *s, const struct tmap_backend_module *m,
	       const struct tmap_target *target, const struct tmap_guest *guest,
	       const struct tmap_plan *plan, struct tmap_report **ret_report,
	       struct tmap_error *err)
{
	struct json_object *snapshot = state_snapshot(s->state);
	struct session_grow grow = {s, tmap_guest_name(guest), NULL};
	unsigned running = plan->guests[0].running_vcpus;
	int r;

	r = tmap_state_record(s->state, m, target, guest, TMAP_STATE_PENDING, err);
	if (r == 0) {
		/* Settled after a crash with what it ran before. */
		state_guest_set_running_vcpus(s->state, tmap_guest_name(guest), running);
		r = tmap_state_save(s->state, s->host, err);
	}
	if (r < 0) {
		tmap_error_prefix(err, "nothing was applied: the guest could not be recorded first: ");
		roll_back(s, snapshot, false);
		state_snapshot_free(snapshot);
		return session_fail(s, TMAP_STEP_RECORD, r);
	}
	/* An isolated host takes a dedicated guest into its isolation in the same transaction:
	 * a failure there restores the guest's apply with the rest. */
	r = backend_apply_then(m, target, plan, 0, running ? TMAP_APPLY_RESIZE : 0,
			       state_isolated(s->state) ? session_isolation_grow : NULL, &grow,
			       ret_report, err);
	if (r < 0) {
		enum tmap_step step = session_backend_step(ret_report ? *ret_report : NULL);

		roll_back(s, snapshot, true);
		state_snapshot_free(snapshot);
		return session_fail(s, step, r);
	}
	state_snapshot_free(snapshot);
	r = grow.isolation ? state_isolation_add(s->state, grow.isolation, false, err) : 0;
	tmap_isolation_free(grow.isolation);
	if (r == 0)
		r = tmap_state_record(s->state, m, target, guest, 0, err);
	if (r == 0)
		state_guest_set_running_vcpus(s->state, tmap_guest_name(guest),
					      session_running_after(ret_report ? *ret_report : NULL,
								    plan, running));
	if (r == 0)
		r = tmap_state_set_reserve(s->state, s->reserve, err);
	if (r == 0)
		r = tmap_state_set_shared(s->state, s->shared, s->solve.cpu_overcommit,
					  s->solve.memory_overcommit, err);
	if (r == 0)
		r = tmap_state_save(s->state, s->host, err);
	if (r < 0) {
		tmap_error_prefix(err, "applied, but the state could not record it as applied (it stays recorded as pending): ");
		return session_fail(s, TMAP_STEP_COMMIT, r);
	}
	return ok(s, 0);
}

/* tmap_session_apply(), for a guest the state records running `running` vcpus while its
 * spec has another count (0: none). */
static int
session_apply(struct tmap_session *s, const char *backend, const struct tmap_target *target,
	      const struct tmap_guest *guest, unsigned flags, unsigned running,
	      struct tmap_plan **ret_plan, struct tmap_report **ret_report, struct tmap_error *err)
{
	const struct tmap_backend_module *m = NULL;
	struct tmap_report *report = NULL;
	struct tmap_plan *plan = NULL;
	bool dry = flags & TMAP_APPLY_DRY_RUN;
	int r;

	if (!s || !backend || !target || !guest)
		return tmap_error_set(err, -EINVAL, "tmap_session_apply: missing argument");
	if (flags & ~TMAP_APPLY_DRY_RUN)
		return session_fail(s, TMAP_STEP_INPUT,
				    tmap_error_set(err, -EINVAL, "tmap_session_apply: unknown flags 0x%x",
						   flags));
	if (s->state && !s->writable && !dry)
		return session_fail(s, TMAP_STEP_INPUT,
				    tmap_error_set(err, -EBADF,
						   "apply: the session was opened to read (TMAP_SESSION_WRITE)"));
	r = session_module(s, backend, &m, err);
	if (r < 0)
		return session_fail(s, r == -ENOMEM ? TMAP_STEP_OPEN : TMAP_STEP_INPUT, r);
	r = tmap_host_place_again(s->host, guest, &plan, err);
	if (r < 0)
		return session_fail(s, r == -ENOSPC ? TMAP_STEP_PLACE : TMAP_STEP_INPUT, r);
	if (running != plan->guests[0].vcpus)
		plan->guests[0].running_vcpus = running;
	if (!s->state || dry) {
		r = tmap_apply(m, target, plan, 0,
			       flags | (plan->guests[0].running_vcpus ? TMAP_APPLY_RESIZE : 0),
			       &report, err);
		r = r < 0 ? session_fail(s, session_backend_step(report), r) : ok(s, 0);
		if (s->state && session_reload(s, NULL) < 0)
			r = session_fail(s, TMAP_STEP_STATE, -ENOMEM);
	} else if ((r = session_apply_following(s, m, target, guest, &plan, &report, err)) == 1) {
		r = apply_recorded(s, m, target, guest, plan, &report, err);
	}
	if (ret_report)
		*ret_report = report;
	else
		tmap_report_free(report);
	if (r == 0 && ret_plan)
		*ret_plan = TAKE_PTR(plan);
	tmap_plan_free(plan);
	return r;
}

int
tmap_session_apply(struct tmap_session *s, const char *backend, const struct tmap_target *target,
		   const struct tmap_guest *guest, unsigned flags, struct tmap_plan **ret_plan,
		   struct tmap_report **ret_report, struct tmap_error *err)
{
	return session_apply(s, backend, target, guest, flags, 0, ret_plan, ret_report, err);
}

int
tmap_session_reapply(struct tmap_session *s, const char *name, unsigned flags,
		     struct tmap_report **ret_report, struct tmap_error *err)
{
	struct tmap_guests *spec = NULL;
	struct tmap_target *target = NULL;
	const char *backend, *found = tmap_session_lookup(s, name);
	int r;

	if (!s || !name)
		return tmap_error_set(err, -EINVAL, "tmap_session_reapply: missing argument");
	if (!found)
		return session_fail(s, TMAP_STEP_INPUT,
				    tmap_error_set(err, -ENOENT, "no guest '%s' is recorded in the state of this host",
						   name));
	r = tmap_state_guest_target(s->state, found, &backend, &target, err);
	if (r == 0)
		r = state_guest_spec(s->state, found, &spec, err);
	if (r < 0) {
		tmap_target_free(target);
		return session_fail(s, TMAP_STEP_INPUT, r);
	}
	/* A resize applied to it running, which it may not have been started with yet. */
	r = session_apply(s, backend, target, tmap_guests_get(spec, 0), flags,
			  state_guest_running_vcpus(s->state, found), NULL, ret_report, err);
	tmap_guests_free(spec);
	tmap_target_free(target);
	return r;
}

/* A verify found the guest in force: one that runs its plan's count no longer runs another.
 * Only a session that may write records it; the verify's answer stands either way. */
static void
forget_running(struct tmap_session *s, const char *name, const struct tmap_report *report,
	       const struct tmap_plan *plan)
{
	unsigned was = plan->guests[0].running_vcpus;
	struct tmap_error err = {0};

	if (!was || !s->writable || session_running_after(report, plan, was) != 0)
		return;
	state_guest_set_running_vcpus(s->state, name, 0);
	if (tmap_state_save(s->state, s->host, &err) < 0) {
		state_guest_set_running_vcpus(s->state, name, was);
		session_notice(s, "guest '%s' runs its plan's %u vcpus, but the state could not record it: %s",
			       name, plan->guests[0].vcpus, err.message);
	}
}

int
tmap_session_verify(struct tmap_session *s, const char *name, struct tmap_report **ret_report,
		    struct tmap_error *err)
{
	const struct tmap_backend_module *m = NULL;
	struct tmap_report *report = NULL;
	struct tmap_target *target = NULL;
	struct tmap_plan *plan = NULL;
	const char *backend, *found = tmap_session_lookup(s, name);
	int r;

	if (!s || !name)
		return tmap_error_set(err, -EINVAL, "tmap_session_verify: missing argument");
	if (!found)
		return session_fail(s, TMAP_STEP_INPUT,
				    tmap_error_set(err, -ENOENT,
						   "no guest '%s' is recorded in the state of this host (apply it first; 'topomap state' lists the guests)",
						   name));
	r = tmap_session_guest_target(s, found, &backend, &target, err);
	if (r < 0)
		return session_fail(s, TMAP_STEP_INPUT, r);
	r = session_module(s, backend, &m, err);
	if (r == 0)
		r = tmap_host_guest_plan(s->host, found, &plan, err);
	if (r < 0) {
		tmap_target_free(target);
		return session_fail(s, TMAP_STEP_INPUT, r);
	}
	/* The recorded plan may be a resize the guest has not been started with: pending when the
	 * state records the count it still runs, and only for that count. */
	r = tmap_verify(m, target, plan, 0, session_recorded_flags(s, found, plan), &report, err);
	if (r == 0)
		forget_running(s, found, report, plan);
	/* A shared guest follows the pool: one recorded on less than its nodes' pool drifted
	 * even when the backend holds what was recorded. */
	if (r >= 0) {
		char *line = NULL;

		if (tmap_session_guest_pool_drift(s, found, &line) < 0 ||
		    (line && report_drift(report, line) < 0))
			r = tmap_error_set(err, -ENOMEM, "out of memory");
		else if (line)
			r = 1;
		free(line);
	}
	r = r < 0 ? session_fail(s, session_backend_step(report), r) : ok(s, r);
	if (ret_report)
		*ret_report = report;
	else
		tmap_report_free(report);
	tmap_plan_free(plan);
	tmap_target_free(target);
	return r;
}

int
tmap_session_release(struct tmap_session *s, const char *name, struct tmap_error *err)
{
	const char *found = tmap_session_lookup(s, name);
	struct json_object *old = NULL;
	char *copy;
	int r;

	if (!s || !name)
		return tmap_error_set(err, -EINVAL, "tmap_session_release: missing argument");
	if (!s->state || !s->writable)
		return session_fail(s, TMAP_STEP_INPUT,
				    tmap_error_set(err, -EBADF, "release: the session has no state opened to write"));
	if (!found)
		return session_fail(s, TMAP_STEP_INPUT,
				    tmap_error_set(err, -ENOENT, "no guest '%s' in the state", name));
	copy = strdup(found);
	if (!copy)
		return session_fail(s, TMAP_STEP_STATE, tmap_error_set(err, -ENOMEM, "out of memory"));
	/* Without a given pool, its PUs go back to the shared guests of its nodes. */
	if ((r = session_release_following(s, copy, err)) != 1) {
		free(copy);
		return r;
	}
	/* On an isolated host, a dedicated guest's PUs go back to the host with it. */
	r = session_isolation_shrink(s, copy, &old, err);
	free(copy);
	if (r < 0) {
		session_reload(s, NULL);
		return session_fail(s, r == -ENOTRECOVERABLE ? TMAP_STEP_RESTORE : TMAP_STEP_APPLY, r);
	}
	r = tmap_state_save(s->state, s->host, err);
	if (r < 0) {
		if (old)
			r = session_isolation_unshrink(s, old, r, err);
		session_reload(s, NULL);
		return session_fail(s, r == -ENOTRECOVERABLE ? TMAP_STEP_RESTORE : TMAP_STEP_STATE, r);
	}
	json_object_put(old);
	return ok(s, 0);
}

int
tmap_session_set_reserve(struct tmap_session *s, const char *add, const char *remove,
			 struct tmap_error *err)
{
	char holder[SESSION_NAME_SIZE];
	char *next = NULL, *old;
	int r;

	if (!s)
		return tmap_error_set(err, -EINVAL, "tmap_session_set_reserve: missing argument");
	if (!s->state || !s->writable)
		return session_fail(s, TMAP_STEP_INPUT,
				    tmap_error_set(err, -EBADF, "reserve: the session has no state opened to write"));
	if (add && *add) {
		r = host_reserve_check(s->host, add, holder, sizeof(holder));
		if (r == -EBUSY)
			return session_fail(s, TMAP_STEP_PLACE,
					    tmap_error_set(err, -EBUSY,
							   "reserve '%.60s': guest '%s' holds some of these PUs (release it first)",
							   add, holder));
		if (r < 0)
			return session_fail(s, TMAP_STEP_INPUT,
					    tmap_error_set(err, -EINVAL, "reserve '%.60s' is not a list of PUs of this host",
							   add));
	}
	r = cpulist_union(s->reserve, add, &next);
	if (r == 0 && remove && *remove)
		r = cpulist_subtract(next, remove, &next);
	if (r < 0) {
		free(next);
		return session_fail(s, TMAP_STEP_INPUT,
				    tmap_error_set(err, r, "reserve: '%.60s' is not a list of PUs",
						   remove ? remove : ""));
	}
	if (cpulist_overlap(next, s->shared)) {
		r = tmap_error_set(err, -EINVAL, "reserve '%.60s' overlaps the shared set '%.60s'",
				   next, s->shared);
		free(next);
		return session_fail(s, TMAP_STEP_INPUT, r);
	}
	old = s->reserve;
	s->reserve = next;
	r = session_reload(s, err);
	if (r == 0)
		r = tmap_state_set_reserve(s->state, s->reserve, err);
	if (r == 0)
		r = session_save_following(s, err);
	if (r < 0) {
		s->reserve = old;
		free(next);
		session_reload(s, NULL);
		return session_fail(s, s->step ? s->step : TMAP_STEP_STATE, r);
	}
	free(old);
	return ok(s, 0);
}
