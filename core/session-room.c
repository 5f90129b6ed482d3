/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Making room through the session (issue 18): the what-if of tmap_session_plan() for one
 * guest that does not fit, with the fewest moves of the recorded guests.
 */
#include "session.h"

int
tmap_session_make_room(struct tmap_session *s, const struct tmap_guest *guest,
		       const struct tmap_room_options *options, struct tmap_plan **ret,
		       struct tmap_error *err)
{
	struct tmap_error why = {0};
	int r;

	if (!s || !guest || !ret)
		return tmap_error_set(err, -EINVAL, "tmap_session_make_room: missing argument");
	/* A what-if: the moves and the guest go on the session's host, placed again from the
	 * state after. */
	r = tmap_host_make_room(s->host, guest, options, ret, &why);
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
	return session_fail(s, TMAP_STEP_NONE, 0);
}
