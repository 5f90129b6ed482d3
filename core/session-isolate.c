/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The host's isolation kept in step with its guests (issue 15, item 3). While the state
 * records an isolation in force (`host isolate`), a dedicated guest applied later joins it
 * in the same transaction as its apply: once the backend read the guest back, tmap_isolate()
 * runs again on top of the isolation in force, with the options it was made with and every
 * dedicated guest, so that it writes only what changed (the new guest's partition, the
 * narrowed cgroups narrowed further, the interrupts off its PUs); the backend's restore puts
 * the guest back when that fails. A released dedicated guest gives its PUs back: the
 * isolation is put back and made again with the guests left, since a cgroup v1 parent must be
 * widened before its children, the order in which an undo writes. The moves of make-room,
 * resize and rebalance do the same once they are read back (session_isolation_redo()): a
 * moved guest gives back the PUs it left and takes those it moved onto. So does a new shared
 * pool (host set), once the shared guests that follow it are read back: the host keeps the
 * housekeeping PUs and the new pool.
 */
#include "topomap/session.h"
#include "internal.h"
#include "session.h"
#include "state.h"

static int
partition_of(struct tmap_session *s, struct tmap_partition **ret, struct tmap_error *err)
{
	const char *housekeeping = s->state->housekeeping ? s->state->housekeeping : s->reserve;

	return tmap_partition_new(s->host, s->reserve, housekeeping, 0, ret, err);
}

static bool
is_dedicated(const struct tmap_partition *p, const char *name)
{
	for (size_t i = 0; i < tmap_partition_guest_count(p); i++)
		if (streq(tmap_partition_guest_name(p, i), name))
			return true;
	return false;
}

/* The guest's cgroup directory, from its recorded target's identity, or NULL. */
static char *
guest_cgroup(struct tmap_session *s, const char *name)
{
	const struct tmap_backend_module *m = NULL;
	struct tmap_target *target = NULL, *identity = NULL;
	const char *backend, *dir;
	char *ret = NULL;

	if (tmap_session_guest_target(s, name, &backend, &target, NULL) == 0 &&
	    session_module(s, backend, &m, NULL) == 0 && tmap_target_new(&identity) == 0 &&
	    tmap_backend_identify(m, target, identity, NULL) == 0 &&
	    (dir = tmap_target_get(identity, "cgroup")))
		ret = strdup(dir);
	tmap_target_free(identity);
	tmap_target_free(target);
	return ret;
}

/* tmap_isolate() with the recorded options and every dedicated guest of partition p. */
static int
isolate_recorded(struct tmap_session *s, const struct tmap_partition *p,
		 struct tmap_isolation **ret, struct tmap_error *err)
{
	size_t n = tmap_partition_guest_count(p), ndirs = 0;
	char **dirs = calloc(n + 1, sizeof(*dirs));
	const char **narrow = NULL;
	struct tmap_isolate_options o;
	int r;

	if (!dirs)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	r = state_isolation_options(s->state, &o, &narrow, err);
	for (size_t i = 0; r == 0 && i < n; i++)
		if ((dirs[ndirs] = guest_cgroup(s, tmap_partition_guest_name(p, i))))
			ndirs++;
	o.guest_cgroups = (const char *const *)dirs;
	o.nguest_cgroups = ndirs;
	if (r == 0)
		r = tmap_isolate(p, &o, ret, err);
	for (size_t i = 0; i < ndirs; i++)
		free(dirs[i]);
	free(dirs);
	free(narrow);
	return r;
}

int
session_isolation_grow(void *data, struct tmap_error *err)
{
	struct session_grow *g = data;
	struct tmap_partition *p = NULL;
	int r = partition_of(g->session, &p, err);

	if (r == 0 && is_dedicated(p, g->name))
		r = isolate_recorded(g->session, p, &g->isolation, err);
	tmap_partition_free(p);
	return r;
}

static int
write_recorded(struct tmap_state *st, bool redo, struct tmap_error *err)
{
	return state_isolation_write(st, redo, err);
}

/* A failure after the recorded isolation was undone: put it back in force. */
static int
redo_recorded(struct tmap_state *st, int r, struct tmap_error *err)
{
	struct tmap_error redo_err = {0};

	if (write_recorded(st, true, &redo_err) < 0)
		return tmap_error_set(err, -ENOTRECOVERABLE,
				      "%s; then, putting the last isolation back in force: %s",
				      err ? err->message : strerror(-r), redo_err.message);
	return r;
}

/* The recorded isolation put back and made again for the guests as the session's host now
 * holds them, recorded in the state (not saved); *ret_old: the isolation it replaced. */
static int
isolate_again(struct tmap_session *s, struct json_object **ret_old, struct tmap_error *err)
{
	struct tmap_partition *after = NULL;
	struct tmap_isolation *iso = NULL;
	struct json_object *old;
	int r;

	r = write_recorded(s->state, false, err);
	if (r < 0)
		return redo_recorded(s->state, r, err);
	r = partition_of(s, &after, err);
	if (r == 0 && tmap_partition_guest_count(after))
		r = isolate_recorded(s, after, &iso, err);
	tmap_partition_free(after);
	if (r == -ENOTRECOVERABLE)
		return r;
	old = json_object_get(s->state->isolation);
	if (r == 0)
		r = state_isolation_add(s->state, iso, true, err);
	if (r < 0) {
		struct tmap_error ignored = {0};

		json_object_put(old);
		if (iso && isolation_undo(iso, &ignored) < 0)
			r = tmap_error_set(err, -ENOTRECOVERABLE, "%s; then, putting back what was written: %s",
					   err ? err->message : strerror(-r), ignored.message);
		tmap_isolation_free(iso);
		return r == -ENOTRECOVERABLE ? r : redo_recorded(s->state, r, err);
	}
	tmap_isolation_free(iso);
	*ret_old = old;
	return 0;
}

bool
session_isolation_touches(struct tmap_session *s, const char *const *names, size_t n)
{
	struct tmap_partition *p = NULL;
	bool dedicated = false;

	if (!state_isolated(s->state) || partition_of(s, &p, NULL) < 0)
		return false;
	for (size_t i = 0; !dedicated && i < n; i++)
		dedicated = is_dedicated(p, names[i]);
	tmap_partition_free(p);
	return dedicated;
}

int
session_isolation_redo(void *data, struct tmap_error *err)
{
	struct session_redo *redo = data;
	struct tmap_partition *p = NULL;
	bool dedicated = false;
	int r = 0;

	redo->old = NULL;
	if (!state_isolated(redo->session->state))
		return 0;
	/* Only a dedicated guest, or a new shared pool, changes what the host keeps: shared
	 * guests' moves alone write nothing. */
	r = partition_of(redo->session, &p, err);
	for (size_t i = 0; r == 0 && !dedicated && i < redo->nnames; i++)
		dedicated = is_dedicated(p, redo->names[i]);
	tmap_partition_free(p);
	if (r < 0 || !(dedicated || redo->pool))
		return r;
	return isolate_again(redo->session, &redo->old, err);
}

int
session_isolation_shrink(struct tmap_session *s, const char *name, struct json_object **ret_old,
			 struct tmap_error *err)
{
	struct tmap_partition *before = NULL;
	bool dedicated = false;
	int r;

	*ret_old = NULL;
	if (state_isolated(s->state)) {
		r = partition_of(s, &before, err);
		dedicated = r == 0 && is_dedicated(before, name);
		tmap_partition_free(before);
		if (r < 0)
			return r;
	}
	tmap_host_release(s->host, name);
	if (!dedicated)
		return 0;
	/* The guest is gone from the host: what is isolated is made again without it. */
	return isolate_again(s, ret_old, err);
}

int
session_isolation_unshrink(struct tmap_session *s, struct json_object *old, int r,
			   struct tmap_error *err)
{
	struct tmap_error undo_err = {0};

	if (write_recorded(s->state, false, &undo_err) < 0) {
		json_object_put(old);
		return tmap_error_set(err, -ENOTRECOVERABLE, "%s; then, putting the isolation back: %s",
				      err ? err->message : strerror(-r), undo_err.message);
	}
	json_object_put(s->state->isolation);
	s->state->isolation = old;
	return redo_recorded(s->state, r, err);
}
