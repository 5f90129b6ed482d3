/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Making room (issue 18): plan --make-room places one guest after the fewest moves of the
 * guests the state holds. The search is the library's (tmap_session_make_room()); this file
 * only asks and hands the plan back to be printed as any other.
 */
#include <errno.h>

#include <topomap/session.h>

#include "cli.h"

int
room_plan(struct plan_request *req, struct tmap_plan **ret, struct tmap_error *err)
{
	struct tmap_room_options o = TMAP_ROOM_OPTIONS_INIT;

	if (tmap_guests_count(req->guests) != 1)
		return tmap_error_set(err, -EINVAL,
				      "plan: --make-room places exactly one guest; %zu were given",
				      tmap_guests_count(req->guests));
	o.max_moves = req->max_moves;
	return tmap_session_make_room(req->session, tmap_guests_get(req->guests, 0), &o, ret, err);
}
