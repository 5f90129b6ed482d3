/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Resizing through the session (issue 18): the what-if of a recorded guest grown or shrunk.
 * Making room is tmap_session_make_room() in session.c.
 */
#include "session.h"

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
