/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Making room through the session (issue 18): the what-if of tmap_session_plan() for one
 * guest that does not fit, with the fewest moves of the recorded guests.
 */
#include "session.h"

/* The end of a what-if: the session's host placed again from the state, the step said. */
static int
what_if_end(struct tmap_session *s, int r, struct tmap_plan **ret, struct tmap_error *err)
{
	if (session_reload(s, r < 0 ? NULL : err) < 0 && r == 0) {
		*ret = tmap_plan_free(*ret);
		return session_fail(s, TMAP_STEP_STATE, -ENOMEM);
	}
	if (r == -ENOSPC)
		return session_fail(s, TMAP_STEP_PLACE, r);
	if (r < 0)
		return session_fail(s, r == -ENOMEM ? TMAP_STEP_PLACE : TMAP_STEP_INPUT, r);
	return session_fail(s, TMAP_STEP_NONE, 0);
}

int
tmap_session_make_room(struct tmap_session *s, const struct tmap_guest *guest,
		       const struct tmap_room_options *options, struct tmap_plan **ret,
		       struct tmap_error *err)
{
	struct tmap_error why = {0};
	int r;

	if (!s || !guest || !ret)
		return tmap_error_set(err, -EINVAL, "tmap_session_make_room: missing argument");
	/* A what-if: the moves and the guest go on the session's host. */
	r = tmap_host_make_room(s->host, guest, options, ret, &why);
	if (err)
		*err = why;
	return what_if_end(s, r, ret, err);
}

int
tmap_session_resize(struct tmap_session *s, const char *name, unsigned vcpus,
		    uint64_t memory_mib, const struct tmap_room_options *options,
		    struct tmap_plan **ret, struct tmap_error *err)
{
	struct tmap_error why = {0};
	int r;

	if (!s || !name || !ret)
		return tmap_error_set(err, -EINVAL, "tmap_session_resize: missing argument");
	r = tmap_host_resize(s->host, name, vcpus, memory_mib, options, ret, &why);
	if (err)
		*err = why;
	/* a guest that is not there, or that resize does not take, is the caller's input */
	if (r == -ENOENT || r == -EOPNOTSUPP)
		r = -EINVAL;
	return what_if_end(s, r, ret, err);
}
