/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tmap_session_record(): place a guest and record it, applying nothing. For a caller that puts
 * the plan in force by other means: `topomap xml-filter` writes the placement into a libvirt
 * domain's XML, which libvirt then starts pinned, and libvirt's hook records a domain while
 * libvirt holds it (when no call may go back to libvirt, not even to identify the domain).
 */
#include "session.h"

int
tmap_session_record(struct tmap_session *s, const struct tmap_guest *guest, unsigned flags,
		    struct tmap_plan **ret_plan, struct tmap_error *err)
{
	struct tmap_plan *plan = NULL;
	int r;

	if (!s || !guest)
		return tmap_error_set(err, -EINVAL, "tmap_session_record: missing argument");
	if (flags)
		return session_fail(s, TMAP_STEP_INPUT,
				    tmap_error_set(err, -EINVAL, "tmap_session_record: unknown flags 0x%x",
						   flags));
	if (!s->state || !s->writable)
		return session_fail(s, TMAP_STEP_INPUT,
				    tmap_error_set(err, -EBADF,
						   "record: the session has no state opened to write (TMAP_SESSION_WRITE)"));
	r = tmap_host_place_again(s->host, guest, &plan, err);
	if (r < 0)
		return session_fail(s, r == -ENOSPC ? TMAP_STEP_PLACE : TMAP_STEP_INPUT, r);
	/* Without a backend: its target is recorded by the apply that puts it in force. */
	r = tmap_state_record(s->state, NULL, NULL, guest, 0, err);
	if (r == 0)
		r = tmap_state_set_reserve(s->state, s->reserve, err);
	if (r == 0)
		r = tmap_state_save(s->state, s->host, err);
	if (r < 0) {
		struct tmap_error ignored = {0};

		tmap_plan_free(plan);
		/* The host again as the state on disk has it. */
		session_reload(s, &ignored);
		return session_fail(s, TMAP_STEP_STATE, r);
	}
	s->step = TMAP_STEP_NONE;
	if (ret_plan)
		*ret_plan = plan;
	else
		tmap_plan_free(plan);
	return 0;
}
