/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Resizing through the session (issue 18): the what-if of a recorded guest grown or shrunk.
 * Making room is tmap_session_make_room() in session.c. Rebalancing: the moves alone.
 */
#include <stdarg.h>

#include "session.h"
#include "solver-room.h"
#include "state.h"

int
tmap_session_resize(struct tmap_session *s, const char *name, unsigned vcpus,
		    uint64_t memory_mib, const struct tmap_room_options *options,
		    struct tmap_plan **ret, struct tmap_error *err)
{
	int r;

	if (!s || !name || !ret)
		return tmap_error_set(err, -EINVAL, "tmap_session_resize: missing argument");
	/* A what-if on the session's host, placed again from the state after. */
	r = tmap_host_resize(s->host, name, vcpus, memory_mib, options, ret, err);
	if (session_reload(s, NULL) < 0 && r == 0) {
		*ret = tmap_plan_free(*ret);
		return session_fail(s, TMAP_STEP_STATE,
				    tmap_error_set(err, -ENOMEM, "out of memory"));
	}
	if (r == -ENOSPC)
		return session_fail(s, TMAP_STEP_PLACE, r);
	/* a guest that is not there, or that resize does not take, is the caller's input */
	if (r == -ENOENT || r == -EOPNOTSUPP)
		r = -EINVAL;
	if (r < 0)
		return session_fail(s, r == -ENOMEM ? TMAP_STEP_PLACE : TMAP_STEP_INPUT, r);
	return session_fail(s, TMAP_STEP_NONE, 0);
}

/* ------------------------------------------------------------------------------------- */
/* Making room for real: the moves put in force, then the new guest, in one transaction */

/* transaction()'s own flag beside TMAP_ROOM_NO_MEMORY: the moves follow a new shared pool
 * (host set, or a released guest's PUs back in the implicit one), and an isolated host is
 * isolated again for it even when no dedicated guest moves. */
#define ROOM_POOL (1u << 30)

/* One recorded guest the moves touch: where it is applied, as the state recorded it. */
struct moved {
	char *name;				/* its own copy: the host is placed again */
	const char *backend;			/* the state's copy */
	const struct tmap_backend_module *module;
	struct tmap_target *target;		/* as recorded */
	struct tmap_target *apply_target;	/* with the backend's page migration asked */
	struct tmap_guests *spec;
	bool memory;				/* one of its cells moves to another node */
	bool applied;
	unsigned running;			/* the vcpus the state records it still running
						 * (a resize it has not been started with), 0 */
};

static void
moved_clear(struct moved *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		tmap_target_free(v[i].target);
		tmap_target_free(v[i].apply_target);
		tmap_guests_free(v[i].spec);
		free(v[i].name);
	}
	free(v);
}

static bool
backend_takes(const struct tmap_backend_module *m, const char *key)
{
	const struct tmap_backend *b = tmap_backend_descriptor(m);

	for (const char *const *k = b->target_keys; k && *k; k++)
		if (streq(*k, key))
			return true;
	return false;
}

/* A copy of the recorded target that asks the backend to move the pages with the cpuset
 * when the guest's memory moves (cgroup v1: cpuset.memory_migrate); qemu-direct moves them
 * with migrate_pages() on every apply, libvirt through the domain's numatune: those cannot
 * keep a moved cell's pages where they are, so --no-memory is refused for them before
 * anything is written rather than quietly not done. */
static int
apply_target(struct moved *v, unsigned flags, struct tmap_error *err)
{
	struct tmap_target *t = NULL;
	int r;

	if (v->memory && (flags & TMAP_ROOM_NO_MEMORY) &&
	    !backend_takes(v->module, "memory-migrate"))
		return tmap_error_set(err, -EOPNOTSUPP,
				      "guest '%s' moves to another node, and backend '%s' moves its pages with it: --no-memory cannot keep them where they are",
				      v->name, v->backend);
	r = tmap_target_new(&t);

	for (size_t i = 0; r == 0 && i < tmap_target_count(v->target); i++) {
		const char *key = tmap_target_key(v->target, i);

		r = tmap_target_set(t, key, tmap_target_get(v->target, key));
	}
	if (r == 0 && v->memory && backend_takes(v->module, "memory-migrate"))
		r = tmap_target_set(t, "memory-migrate",
				    flags & TMAP_ROOM_NO_MEMORY ? "no" : "yes");
	if (r < 0) {
		tmap_target_free(t);
		return tmap_error_set(err, r, "out of memory");
	}
	v->apply_target = t;
	return 0;
}

/* The distinct guests the plan's moves touch, each with its recorded backend and target. */
static int
collect_moved(struct tmap_session *s, const struct tmap_plan *plan, unsigned flags,
	      struct moved **ret, size_t *ret_n, struct tmap_error *err)
{
	struct moved *v = NULL;
	size_t n = 0;
	int r = 0;

	for (size_t i = 0; r == 0 && i < plan->nmoves; i++) {
		const struct plan_move *mv = &plan->moves[i];
		const char *name = tmap_session_lookup(s, mv->guest);
		struct moved *p = NULL, *grown;

		for (size_t j = 0; j < n && !p; j++)
			if (streq(v[j].name, mv->guest))
				p = &v[j];
		if (p) {
			p->memory |= mv->cell >= 0 && mv->from != mv->to;
			continue;
		}
		if (!name) {
			r = tmap_error_set(err, -ENOENT, "guest '%s' to move is not recorded", mv->guest);
			break;
		}
		grown = realloc(v, (n + 1) * sizeof(*v));
		if (!grown) {
			r = tmap_error_set(err, -ENOMEM, "out of memory");
			break;
		}
		v = grown;
		p = &v[n++];
		*p = (struct moved){.name = strdup(name), .memory = mv->cell >= 0 && mv->from != mv->to};
		if (!p->name) {
			r = tmap_error_set(err, -ENOMEM, "out of memory");
			break;
		}
		r = tmap_state_guest_target(s->state, name, &p->backend, &p->target, err);
		if (r == -ENOENT)
			tmap_error_set(err, -ENOENT,
				       "guest '%s' must be applied again (it moves, or follows the shared pool), but the state records no target it was applied to (apply it first)",
				       name);
		if (r == 0)
			r = session_module(s, p->backend, &p->module, err);
		if (r == 0)
			r = state_guest_spec(s->state, name, &p->spec, err);
		p->running = state_guest_running_vcpus(s->state, name);
	}
	for (size_t i = 0; r == 0 && i < n; i++)
		r = apply_target(&v[i], flags, err);
	if (r < 0) {
		moved_clear(v, n);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

/* Must the recorded shared guests follow the pool as the session's host now holds it? */
static int
follow_needed(const struct tmap_session *s)
{
	return s->no_follow ? 0 : host_follow_needed(s->host);
}

static int _printf_(3, 4)
said_add(char ***lines, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = lines_append_vprintf(lines, n, fmt, ap);
	va_end(ap);
	return r;
}

static void
strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* The plan's guest of this name takes the sets the session's host now holds for it. */
static int
plan_guest_refresh(struct tmap_session *s, struct tmap_plan *plan, const char *name)
{
	for (size_t k = 0; k < plan->nguests; k++) {
		/* the session's mark, not the host's */
		unsigned running = plan->guests[k].running_vcpus;
		int r;

		for (size_t i = 0; i < tmap_host_guest_count(s->host); i++) {
			if (!streq(plan->guests[k].name, name) ||
			    !streq(tmap_host_guest_name(s->host, i), name))
				continue;
			plan_guest_clear(&plan->guests[k]);
			r = plan_guest_copy(&plan->guests[k], host_guest_plan_at(s->host, i));
			plan->guests[k].running_vcpus = running;
			return r;
		}
	}
	return 0;
}

/*
 * Without a given pool, each node's pool is its usable PUs that no dedicated guest holds (as
 * kubelet's CPU manager shrinks its shared pool when it hands out exclusive CPUs and grows it
 * when they come back): once the plan stands on the session's host, every recorded shared
 * guest, and every mixed one's shared vcpus, that floats over other PUs follows its node's
 * pool as it now is, in the same transaction, so that no shared vcpu runs on a dedicated
 * guest's PUs, and none stays off PUs given back. *ret_names: those to apply again beside the
 * plan's guest (copies), which takes its new sets in the plan; *ret_said: a line for each,
 * for the notices once the transaction committed. A given pool: nothing (host set moves its
 * guests itself).
 */
static int
follow_implicit(struct tmap_session *s, const struct tmap_guest *guest, struct tmap_plan *plan,
		char ***ret_names, size_t *ret_n, char ***ret_said, size_t *ret_nsaid,
		struct tmap_error *err)
{
	const char **changed = NULL;
	char **names = NULL, **said = NULL;
	size_t nchanged = 0, n = 0, nsaid = 0;
	int r = follow_needed(s);

	for (size_t i = 0; r > 0 && i < tmap_host_guest_count(s->host); i++) {
		const char *name = tmap_host_guest_name(s->host, i);
		struct shared_off off;

		r = host_shared_off(s->host, name, &off);
		if (r > 0)
			r = said_add(&said, &nsaid,
				     "guest '%s' follows node %u's pool: cell %d now floats over %s (was %s)",
				     name, off.node, off.cell, off.want, off.got) < 0 ? -ENOMEM : 1;
		shared_off_clear(&off);
		r = r < 0 ? r : 1;
	}
	if (r > 0)
		r = host_follow_pool(s->host, &changed, &nchanged, err);
	if (r >= 0 && nchanged && !(names = calloc(nchanged, sizeof(*names))))
		r = -ENOMEM;
	for (size_t i = 0; r >= 0 && i < nchanged; i++) {
		if (guest && streq(changed[i], tmap_guest_name(guest)))
			r = plan_guest_refresh(s, plan, changed[i]);
		else if (!(names[n++] = strdup(changed[i])))
			r = -ENOMEM;
	}
	free(changed);
	if (r < 0) {
		strv_free(names, n);
		strv_free(said, nsaid);
		return r == -ENOMEM ? tmap_error_set(err, r, "out of memory") : r;
	}
	*ret_names = names;
	*ret_n = n;
	*ret_said = said;
	*ret_nsaid = nsaid;
	return 0;
}

static int pool_plan(const struct tmap_topology *t, const char *const *names, size_t n,
		     struct tmap_plan **ret);

/* v[] grown by the followers (follow_implicit()'s) that no move of the plan touches already,
 * each as collect_moved() takes a guest the moves touch. */
static int
collect_followers(struct tmap_session *s, char *const *follow, size_t nf, unsigned flags,
		  struct moved **v, size_t *n, struct tmap_error *err)
{
	_cleanup_free_ const char **fresh = calloc(nf + 1, sizeof(*fresh));
	struct tmap_plan *plan = NULL;
	struct moved *w = NULL, *grown;
	size_t k = 0, nw = 0;
	int r;

	if (!fresh)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < nf; i++) {
		bool moves = false;

		for (size_t j = 0; j < *n && !moves; j++)
			moves = streq((*v)[j].name, follow[i]);
		if (!moves)
			fresh[k++] = follow[i];
	}
	if (k == 0)
		return 0;
	if (pool_plan(s->topology, fresh, k, &plan) < 0)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	r = collect_moved(s, plan, flags, &w, &nw, err);
	tmap_plan_free(plan);
	if (r < 0)
		return r;
	grown = realloc(*v, (*n + nw) * sizeof(**v));
	if (!grown) {
		moved_clear(w, nw);
		return tmap_error_set(err, -ENOMEM, "out of memory");
	}
	memcpy(grown + *n, w, nw * sizeof(*w));
	free(w);
	*v = grown;
	*n += nw;
	return 0;
}

/* Each moved guest put back where the committed state (reverted) holds it, last first.
 * Returns how many could not be. */
static size_t
put_back_moved(struct tmap_session *s, struct moved *v, size_t n, struct tmap_error *err)
{
	size_t failed = 0;

	for (size_t i = n; i-- > 0;) {
		struct tmap_plan *old = NULL;
		struct tmap_error why = {0};
		int r;

		if (!v[i].applied)
			continue;
		r = tmap_host_guest_plan(s->host, v[i].name, &old, &why);
		/* The state is the committed one again: the count it records the guest running. */
		if (r == 0)
			r = tmap_apply(v[i].module, v[i].apply_target, old, 0,
				       session_recorded_flags(s, v[i].name, old), NULL, &why);
		tmap_plan_free(old);
		if (r < 0) {
			failed++;
			session_notice(s, "guest '%s' could not be put back where it was: %s", v[i].name,
			       why.message);
			if (err)
				tmap_error_prefix(err, "and guest '%s' could not be put back: ", v[i].name);
		} else {
			v[i].applied = false;
		}
	}
	return failed;
}

/* Record every guest the transaction touches: pending (before any write) or applied, each
 * with the vcpus it runs when they are not its plan's (the guest's: running). */
static int
record_all(struct tmap_session *s, const struct tmap_backend_module *m,
	   const struct tmap_target *target, const struct tmap_guest *guest, unsigned running,
	   struct moved *v, size_t n, unsigned record, struct tmap_error *err)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < n; i++) {
		r = tmap_state_record(s->state, v[i].module, v[i].target,
				      tmap_guests_get(v[i].spec, 0), record, err);
		if (r == 0)
			state_guest_set_running_vcpus(s->state, v[i].name, v[i].running);
	}
	if (r == 0 && guest) {
		r = tmap_state_record(s->state, m, target, guest, record, err);
		if (r == 0)
			state_guest_set_running_vcpus(s->state, tmap_guest_name(guest), running);
	}
	if (r == 0 && !record)
		r = tmap_state_set_reserve(s->state, s->reserve, err);
	if (r == 0)
		r = tmap_state_save(s->state, s->host, err);
	return r;
}

/* The names of the guests the transaction touches, in names (n + 1 slots). */
static const char *const *
names_of(const struct moved *v, size_t n, const struct tmap_guest *guest, const char **names)
{
	for (size_t i = 0; i < n; i++)
		names[i] = v[i].name;
	if (guest)
		names[n] = tmap_guest_name(guest);
	return names;
}

/*
 * The session's host holds the plan (the moves and the guest, new or resized, or no guest for
 * a rebalance or a new pool: guest, m and target NULL): record every guest it touches as
 * pending, apply the moves one guest at a time, then the guest, isolate the host again when
 * the state records an isolation, record them as applied; on any failure put the state and
 * every moved guest back. Without a given pool, the shared guests whose node's pool the plan
 * changes follow it as moves of the same transaction (follow_implicit()). Takes the plan.
 * flags: TMAP_ROOM_* and ROOM_POOL.
 * apply_flags: the guest's TMAP_APPLY_* (TMAP_APPLY_RESIZE for a resize); running: the vcpus
 * the state knows the guest runs when they are not its new plan's (a resize: its old count),
 * recorded with the pending record and replaced by what the apply reads back. A moved guest is
 * applied with TMAP_APPLY_RESIZE when the state records it running another count than its
 * plan's (a resize it has not been started with), and keeps that record.
 */
static int
transaction(struct tmap_session *s, const struct tmap_backend_module *m,
	    const struct tmap_target *target, const struct tmap_guest *guest, struct tmap_plan *plan,
	    unsigned flags, unsigned apply_flags, unsigned running, struct tmap_plan **ret_plan,
	    struct tmap_report **ret_report, struct tmap_error *err)
{
	struct json_object *snapshot = NULL;
	struct tmap_report *report = NULL;
	struct session_redo redo = {.session = s};
	const char **names = NULL;
	struct moved *v = NULL;
	char **follow = NULL, **said = NULL;
	enum tmap_step step;
	bool isolation_down = false;
	size_t n = 0, nf = 0, nsaid = 0, i;
	int r;

	r = follow_implicit(s, guest, plan, &follow, &nf, &said, &nsaid, err);
	if (r == 0)
		r = collect_moved(s, plan, flags, &v, &n, err);
	if (r == 0)
		r = collect_followers(s, follow, nf, flags, &v, &n, err);
	strv_free(follow, nf);
	if (r == 0 && !(names = calloc(n + 1, sizeof(*names))))
		r = tmap_error_set(err, -ENOMEM, "out of memory");
	if (r < 0) {
		moved_clear(v, n);
		strv_free(said, nsaid);
		session_reload(s, NULL);
		tmap_plan_free(plan);
		return session_fail(s, r == -ENOSPC ? TMAP_STEP_PLACE : TMAP_STEP_INPUT, r);
	}

	/* Write-ahead: every guest the transaction touches, recorded before any write. */
	snapshot = state_snapshot(s->state);
	r = snapshot ? record_all(s, m, target, guest, running, v, n, TMAP_STATE_PENDING, err)
		     : tmap_error_set(err, -ENOMEM, "out of memory");
	if (r < 0) {
		tmap_error_prefix(err, "nothing was applied: the guests could not be recorded first: ");
		step = TMAP_STEP_RECORD;
		goto revert;
	}

	/* The isolation put back first when dedicated guests move or change: on cgroup v2 a PU
	 * of an isolated partition is in no other cgroup's effective set (a guest cannot move
	 * onto one, a resized guest's own cgroup is outside its parent's) until the partition is
	 * a member again. It is made again below, for the guests where they then stand. */
	redo.names = names_of(v, n, guest, names);
	redo.nnames = n + !!guest;
	redo.pool = flags & ROOM_POOL;
	/* A new pool: shared guests move while the isolation is down, so that none is held
	 * by a narrowed parent (cgroup v1) it has to grow beyond. */
	isolation_down = session_isolation_touches(s, redo.names, redo.nnames) ||
			 (redo.pool && n && state_isolated(s->state));
	if (isolation_down) {
		r = state_isolation_write(s->state, false, err);
		if (r < 0) {
			tmap_error_prefix(err, "isolate: putting the isolation back before the moves: ");
			step = TMAP_STEP_APPLY;
			goto revert;
		}
	}

	/* The moves, one guest at a time, each through its own backend and target. */
	for (i = 0; i < n; i++) {
		struct tmap_plan *moved = NULL;

		r = tmap_host_guest_plan(s->host, v[i].name, &moved, err);
		if (r == 0) {
			moved->guests[0].running_vcpus = v[i].running;
			r = tmap_apply(v[i].module, v[i].apply_target, moved, 0,
				       v[i].running ? TMAP_APPLY_RESIZE : 0, &report, err);
		}
		if (r == 0)
			v[i].running = session_running_after(report, moved, v[i].running);
		tmap_plan_free(moved);
		if (r < 0) {
			step = session_backend_step(report);
			tmap_error_prefix(err, "moving guest '%s': ", v[i].name);
			goto revert;
		}
		v[i].applied = true;
		report = tmap_report_free(report);
	}
	/* The new or resized guest (a rebalance has none), then, on an isolated host, the
	 * isolation made again for the guests as they now stand, in the guest's transaction: a
	 * failure there puts the isolation files back, then the guest, then the moved ones. */
	if (guest) {
		r = backend_apply_then(m, target, plan, 0, apply_flags, session_isolation_redo,
				       &redo, &report, err);
		step = session_backend_step(report);
	} else {
		r = session_isolation_redo(&redo, err);
		step = r == -ENOTRECOVERABLE ? TMAP_STEP_RESTORE : TMAP_STEP_APPLY;
		if (r < 0)
			tmap_error_prefix(err, "isolate: ");
	}
	if (r < 0)
		goto revert;

	state_snapshot_free(snapshot);
	if (guest)
		running = session_running_after(report, plan, running);
	r = record_all(s, m, target, guest, running, v, n, 0, err);
	if (r < 0) {
		tmap_error_prefix(err, "applied, but the state could not record it as applied (it stays recorded as pending): ");
		step = TMAP_STEP_COMMIT;
		goto out;
	}
	step = TMAP_STEP_NONE;
	/* What followed the pool, now in force and recorded. */
	for (i = 0; i < nsaid; i++)
		session_notice(s, "%s", said[i]);
	goto out;

revert:
	/* The committed document back, the host placed from it, every moved guest put back. */
	if (snapshot && state_revert(s->state, snapshot, NULL) < 0)
		session_notice(s, "the guests stay recorded as pending (the next session settles them)");
	state_snapshot_free(snapshot);
	if (session_reload(s, NULL) < 0)
		session_notice(s, "the host could not be placed again from the state");
	/* The isolation down while the guests go back, then in force again as recorded. */
	if (isolation_down && state_isolation_write(s->state, false, NULL) < 0)
		session_notice(s, "the isolation could not be put back before the guests");
	if (put_back_moved(s, v, n, err) > 0)
		step = TMAP_STEP_RESTORE;
	if (isolation_down && state_isolation_write(s->state, true, err) < 0) {
		session_notice(s, "the isolation could not be put in force again: run 'topomap host isolate'");
		step = TMAP_STEP_RESTORE;
	}
out:
	json_object_put(redo.old);
	strv_free(said, nsaid);
	free(names);
	moved_clear(v, n);
	if (ret_report)
		*ret_report = report;
	else
		tmap_report_free(report);
	if (r == 0 && ret_plan)
		*ret_plan = TAKE_PTR(plan);
	tmap_plan_free(plan);
	return session_fail(s, step, r);
}

int
session_apply_following(struct tmap_session *s, const struct tmap_backend_module *m,
			const struct tmap_target *target, const struct tmap_guest *guest,
			struct tmap_plan **plan, struct tmap_report **ret_report,
			struct tmap_error *err)
{
	_cleanup_free_ char *old = NULL;
	double cpu = tmap_state_cpu_overcommit(s->state);
	double memory = tmap_state_memory_overcommit(s->state);
	unsigned running = (*plan)->guests[0].running_vcpus;
	struct tmap_plan *taken;
	int r = follow_needed(s);

	if (r == 0)
		return 1;
	if (tmap_state_shared(s->state) && !(old = strdup(tmap_state_shared(s->state))))
		r = -ENOMEM;
	/* The ratios given for the session recorded with the guest, as apply_recorded() does;
	 * put back when nothing is applied. */
	if (r > 0)
		r = tmap_state_set_shared(s->state, s->shared, s->solve.cpu_overcommit,
					  s->solve.memory_overcommit, err);
	if (r < 0) {
		session_reload(s, NULL);
		return session_fail(s, TMAP_STEP_STATE,
				    r == -ENOMEM ? tmap_error_set(err, r, "out of memory") : r);
	}
	taken = TAKE_PTR(*plan);
	r = transaction(s, m, target, guest, taken, 0, running ? TMAP_APPLY_RESIZE : 0, running,
			plan, ret_report, err);
	if (r < 0 && s->step != TMAP_STEP_COMMIT)
		tmap_state_set_shared(s->state, old, cpu, memory, NULL);
	return r;
}

int
session_release_following(struct tmap_session *s, const char *name, struct tmap_error *err)
{
	struct tmap_plan *plan = NULL;
	int r;

	tmap_host_release(s->host, name);
	r = follow_needed(s);
	if (r == 0 || r == -ENOMEM) {
		/* Nothing follows: the host as it was, for the release as before. */
		if (session_reload(s, err) < 0 || r < 0)
			return session_fail(s, TMAP_STEP_STATE,
					    tmap_error_set(err, -ENOMEM, "out of memory"));
		return 1;
	}
	if (plan_new(s->topology, 0, &plan) < 0) {
		session_reload(s, NULL);
		return session_fail(s, TMAP_STEP_STATE, tmap_error_set(err, -ENOMEM, "out of memory"));
	}
	/* The PUs given back change what an isolated host keeps, whichever guests follow. */
	r = transaction(s, NULL, NULL, NULL, plan, ROOM_POOL, 0, 0, NULL, NULL, err);
	if (r < 0 && s->step != TMAP_STEP_COMMIT)
		tmap_error_prefix(err, "release '%s': nothing was released, the shared guests could not follow the pool: ",
				  name);
	return r;
}

int
session_save_following(struct tmap_session *s, struct tmap_error *err)
{
	struct tmap_plan *plan = NULL;
	int r = follow_needed(s);

	s->step = TMAP_STEP_NONE;
	if (r == 0)
		return tmap_state_save(s->state, s->host, err);
	if (r < 0 || plan_new(s->topology, 0, &plan) < 0)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	/* A reserve changes what the host keeps, not what is isolated: no ROOM_POOL. */
	r = transaction(s, NULL, NULL, NULL, plan, 0, 0, 0, NULL, NULL, err);
	if (r < 0 && s->step != TMAP_STEP_COMMIT)
		tmap_error_prefix(err, "reserve: nothing was changed, the shared guests could not follow the pool: ");
	return r;
}

int
tmap_session_apply_room(struct tmap_session *s, const char *backend,
			const struct tmap_target *target, const struct tmap_guest *guest,
			const struct tmap_room_options *options, unsigned flags,
			struct tmap_plan **ret_plan, struct tmap_report **ret_report,
			struct tmap_error *err)
{
	const struct tmap_backend_module *m = NULL;
	struct tmap_plan *plan = NULL;
	int r;

	if (!s || !backend || !target || !guest)
		return tmap_error_set(err, -EINVAL, "tmap_session_apply_room: missing argument");
	if (flags & ~TMAP_ROOM_NO_MEMORY)
		return session_fail(s, TMAP_STEP_INPUT,
				    tmap_error_set(err, -EINVAL,
						   "tmap_session_apply_room: unknown flags 0x%x", flags));
	if (!s->state || !s->writable)
		return session_fail(s, TMAP_STEP_INPUT,
				    tmap_error_set(err, -EBADF,
						   "apply --make-room: the moved guests are found in the state: open it to write"));
	if (tmap_session_lookup(s, tmap_guest_name(guest)))
		return session_fail(s, TMAP_STEP_INPUT,
				    tmap_error_set(err, -EEXIST,
						   "apply --make-room: guest '%s' is recorded already (resize it, or release it first)",
						   tmap_guest_name(guest)));
	r = session_module(s, backend, &m, err);
	if (r < 0)
		return session_fail(s, r == -ENOMEM ? TMAP_STEP_OPEN : TMAP_STEP_INPUT, r);
	/* The moves and the guest go on the session's host: what the state records next. */
	r = tmap_host_make_room(s->host, guest, options, &plan, err);
	if (r < 0) {
		session_reload(s, NULL);
		return session_fail(s, r == -ENOSPC ? TMAP_STEP_PLACE : TMAP_STEP_INPUT, r);
	}
	return transaction(s, m, target, guest, plan, flags, 0, 0, ret_plan, ret_report, err);
}

int
tmap_session_apply_resize(struct tmap_session *s, const char *name, unsigned vcpus,
			  uint64_t memory_mib, const struct tmap_room_options *options,
			  unsigned flags, struct tmap_plan **ret_plan,
			  struct tmap_report **ret_report, struct tmap_error *err)
{
	const struct tmap_backend_module *m = NULL;
	_cleanup_free_ char *found = NULL;
	struct tmap_target *target = NULL;
	struct tmap_guest *guest = NULL;
	struct tmap_plan *plan = NULL, *old = NULL;
	unsigned runs = 0;
	const char *backend;
	int r;

	if (!s || !name)
		return tmap_error_set(err, -EINVAL, "tmap_session_apply_resize: missing argument");
	if (flags & ~TMAP_ROOM_NO_MEMORY)
		return session_fail(s, TMAP_STEP_INPUT,
				    tmap_error_set(err, -EINVAL,
						   "tmap_session_apply_resize: unknown flags 0x%x", flags));
	if (!s->state || !s->writable)
		return session_fail(s, TMAP_STEP_INPUT,
				    tmap_error_set(err, -EBADF,
						   "resize --apply: the guest is found in the state: open it to write"));
	if (!tmap_session_lookup(s, name))
		return session_fail(s, TMAP_STEP_INPUT,
				    tmap_error_set(err, -ENOENT, "no guest '%s' is recorded in the state of this host",
						   name));
	/* the host's copy of the name goes when the host is placed again */
	found = strdup(tmap_session_lookup(s, name));
	if (!found)
		return session_fail(s, TMAP_STEP_STATE, tmap_error_set(err, -ENOMEM, "out of memory"));
	r = tmap_state_guest_target(s->state, found, &backend, &target, err);
	if (r == -ENOENT)
		tmap_error_set(err, r,
			       "resize --apply: the state records no target guest '%s' was applied to (apply it first)",
			       found);
	if (r == 0)
		r = session_module(s, backend, &m, err);
	if (r == 0)
		r = host_resized_spec(s->host, found, vcpus, memory_mib, &guest, err);
	/* What it runs now, as the state knows it: a resize still pending, else its plan. */
	if (r == 0)
		r = tmap_host_guest_plan(s->host, found, &old, err);
	if (r == 0) {
		runs = state_guest_running_vcpus(s->state, found);
		if (!runs)
			runs = old->guests[0].vcpus;
		old = tmap_plan_free(old);
	}
	if (r < 0) {
		tmap_guest_free(guest);
		tmap_target_free(target);
		return session_fail(s, TMAP_STEP_INPUT, r);
	}
	/* The resized guest, and the moves when it cannot keep its PUs, on the session's host. */
	r = tmap_host_resize(s->host, found, vcpus, memory_mib, options, &plan, err);
	if (r < 0) {
		session_reload(s, NULL);
		r = session_fail(s, r == -ENOSPC ? TMAP_STEP_PLACE : TMAP_STEP_INPUT,
				 r == -ENOENT || r == -EOPNOTSUPP ? -EINVAL : r);
	} else {
		/* The guest may not run the new count yet: the vcpus it runs take their pins. */
		r = transaction(s, m, target, guest, plan, flags, TMAP_APPLY_RESIZE,
				runs == vcpus ? 0 : runs, ret_plan, ret_report, err);
	}
	tmap_guest_free(guest);
	tmap_target_free(target);
	return r;
}

/* ------------------------------------------------------------------------------------- */
/* Rebalancing: the moves that make the largest cell, planned or put in force */

int
tmap_session_rebalance(struct tmap_session *s, const struct tmap_room_options *options,
		       struct tmap_plan **ret, struct tmap_error *err)
{
	int r;

	if (!s || !ret)
		return tmap_error_set(err, -EINVAL, "tmap_session_rebalance: missing argument");
	/* A what-if on the session's host, placed again from the state after. */
	r = tmap_host_rebalance(s->host, options, ret, err);
	if (session_reload(s, NULL) < 0 && r == 0) {
		*ret = tmap_plan_free(*ret);
		return session_fail(s, TMAP_STEP_STATE,
				    tmap_error_set(err, -ENOMEM, "out of memory"));
	}
	if (r < 0)
		return session_fail(s, r == -ENOMEM ? TMAP_STEP_PLACE : TMAP_STEP_INPUT, r);
	return session_fail(s, TMAP_STEP_NONE, 0);
}

int
tmap_session_apply_rebalance(struct tmap_session *s, const struct tmap_room_options *options,
			     unsigned flags, struct tmap_plan **ret_plan,
			     struct tmap_report **ret_report, struct tmap_error *err)
{
	struct tmap_plan *plan = NULL;
	int r;

	if (!s)
		return tmap_error_set(err, -EINVAL, "tmap_session_apply_rebalance: missing argument");
	if (flags & ~TMAP_ROOM_NO_MEMORY)
		return session_fail(s, TMAP_STEP_INPUT,
				    tmap_error_set(err, -EINVAL,
						   "tmap_session_apply_rebalance: unknown flags 0x%x", flags));
	if (!s->state || !s->writable)
		return session_fail(s, TMAP_STEP_INPUT,
				    tmap_error_set(err, -EBADF,
						   "rebalance --apply: the moved guests are found in the state: open it to write"));
	/* The moves on the session's host: what the state records next. */
	r = tmap_host_rebalance(s->host, options, &plan, err);
	if (r < 0) {
		session_reload(s, NULL);
		return session_fail(s, r == -ENOMEM ? TMAP_STEP_PLACE : TMAP_STEP_INPUT, r);
	}
	if (plan->nmoves == 0) {
		/* nothing improves: nothing to apply, the state stays as it is */
		session_reload(s, NULL);
		if (ret_plan)
			*ret_plan = plan;
		else
			tmap_plan_free(plan);
		return session_fail(s, TMAP_STEP_NONE, 0);
	}
	return transaction(s, NULL, NULL, NULL, plan, flags, 0, 0, ret_plan, ret_report, err);
}

/* ------------------------------------------------------------------------------------- */
/* The shared pool changed: the shared guests follow it (issue 21) */

int
tmap_session_guest_pool_drift(const struct tmap_session *s, const char *name, char **ret_line)
{
	const char *found;

	if (!s || !name || !ret_line)
		return -EINVAL;
	*ret_line = NULL;
	found = tmap_session_lookup(s, name);
	if (!found)
		return -ENOENT;
	if (host_shared_drift(s->host, found, ret_line) < 0)
		return -ENOMEM;
	return *ret_line ? 1 : 0;
}

/* A plan whose moves name the guests whose sets follow the pool (no cell changes node). */
static int
pool_plan(const struct tmap_topology *t, const char *const *names, size_t n,
	  struct tmap_plan **ret)
{
	struct tmap_plan *plan = NULL;

	if (plan_new(t, 0, &plan) < 0)
		return -ENOMEM;
	plan->moves = calloc(n + 1, sizeof(*plan->moves));
	if (!plan->moves) {
		tmap_plan_free(plan);
		return -ENOMEM;
	}
	for (; plan->nmoves < n; plan->nmoves++) {
		struct plan_move *mv = &plan->moves[plan->nmoves];

		*mv = (struct plan_move){.guest = strdup(names[plan->nmoves]), .vcpu = -1, .cell = -1};
		if (!mv->guest) {
			tmap_plan_free(plan);
			return -ENOMEM;
		}
	}
	*ret = plan;
	return 0;
}

/* The state's housekeeping PUs and pool put back as they were before a failed change. */
static void
partition_put_back(struct tmap_session *s, const char *hk, const char *shared, double cpu,
		   double memory)
{
	tmap_state_set_housekeeping(s->state, hk, NULL);
	tmap_state_set_shared(s->state, shared, cpu, memory, NULL);
}

int
tmap_session_set_partition(struct tmap_session *s, const char *housekeeping, const char *shared,
			   double cpu_overcommit, double memory_overcommit,
			   struct tmap_report **ret_report, struct tmap_error *err)
{
	struct tmap_solve_options opts;
	_cleanup_free_ char *old_shared = NULL, *new_shared = NULL, *old_hk = NULL;
	double old_cpu, old_memory;
	struct tmap_host *h = NULL;
	struct tmap_plan *plan = NULL;
	const char **names = NULL;
	size_t n = 0;
	int r;

	if (!s)
		return tmap_error_set(err, -EINVAL, "tmap_session_set_partition: missing argument");
	if (!s->state || !s->writable)
		return session_fail(s, TMAP_STEP_INPUT,
				    tmap_error_set(err, -EBADF,
						   housekeeping ?
							   "the housekeeping PUs and the shared pool are recorded in the state: open it to write" :
							   "the shared pool is recorded in the state: open it to write"));
	old_cpu = tmap_state_cpu_overcommit(s->state);
	old_memory = tmap_state_memory_overcommit(s->state);
	if ((s->state->housekeeping && !(old_hk = strdup(s->state->housekeeping))) ||
	    (tmap_state_shared(s->state) && !(old_shared = strdup(tmap_state_shared(s->state)))) ||
	    (shared && *shared && !(new_shared = strdup(shared))) ||
	    (!shared && old_shared && !(new_shared = strdup(old_shared))))
		return session_fail(s, TMAP_STEP_STATE, tmap_error_set(err, -ENOMEM, "out of memory"));
	opts = s->solve;
	opts.reserve = s->reserve && *s->reserve ? s->reserve : NULL;
	opts.shared = new_shared;
	opts.cpu_overcommit = cpu_overcommit ? cpu_overcommit : old_cpu;
	opts.memory_overcommit = memory_overcommit ? memory_overcommit : old_memory;
	/* The new pool, and every recorded guest on a host made with it: the shared ones float
	 * over it (a dedicated guest on a PU of it is refused as before). */
	r = tmap_state_set_shared(s->state, opts.shared, opts.cpu_overcommit,
				  opts.memory_overcommit, err);
	/* New housekeeping PUs: on an isolated host what the host keeps changes with them. */
	if (r == 0 && housekeeping)
		r = tmap_state_set_housekeeping(s->state, *housekeeping ? housekeeping : NULL, err);
	if (r == 0)
		r = tmap_host_new(s->topology, &opts, &h, err);
	if (r == 0 && s->state->housekeeping)
		r = host_set_housekeeping(h, s->state->housekeeping, err);
	if (r == 0) {
		host_follow_pool_begin(h);
		r = tmap_state_load(s->state, h, err);
	}
	if (r == 0)
		r = host_follow_pool(h, &names, &n, err);
	if (r == 0 && pool_plan(s->topology, names, n, &plan) < 0)
		r = tmap_error_set(err, -ENOMEM, "out of memory");
	free(names);
	if (r < 0) {
		tmap_host_free(h);
		partition_put_back(s, old_hk, old_shared, old_cpu, old_memory);
		return session_fail(s, r == -ENOMEM ? TMAP_STEP_STATE :
				       r == -ENOSPC ? TMAP_STEP_PLACE : TMAP_STEP_INPUT, r);
	}
	/* The session's host is the new one; its options stay the old ones until the guests
	 * are applied, so that a failure places the host again as it was. */
	tmap_host_free(s->host);
	s->host = h;
	if (n || state_isolated(s->state)) {
		/* The guests that follow, and the isolation made again for the new partition. */
		r = transaction(s, NULL, NULL, NULL, plan, ROOM_POOL, 0, 0, NULL, ret_report, err);
	} else {
		/* No guest follows: only the state changes. */
		tmap_plan_free(plan);
		r = tmap_state_save(s->state, s->host, err);
		if (r < 0 && session_reload(s, NULL) < 0)
			session_notice(s, "the host could not be placed again from the state");
		r = session_fail(s, r < 0 ? TMAP_STEP_STATE : TMAP_STEP_NONE, r);
	}
	if (r < 0) {
		partition_put_back(s, old_hk, old_shared, old_cpu, old_memory);
		return r;
	}
	free(s->shared);
	s->shared = TAKE_PTR(new_shared);
	s->solve.shared = s->shared;
	s->solve.cpu_overcommit = opts.cpu_overcommit;
	s->solve.memory_overcommit = opts.memory_overcommit;
	return r;
}

int
tmap_session_set_pool(struct tmap_session *s, const char *shared, double cpu_overcommit,
		      double memory_overcommit, struct tmap_report **ret_report,
		      struct tmap_error *err)
{
	return tmap_session_set_partition(s, NULL, shared, cpu_overcommit, memory_overcommit,
					  ret_report, err);
}
