/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The session's inside (not installed): session.c holds the transaction, session-adopt.c
 * records a guest pinned by hand.
 */
#ifndef TOPOMAP_CORE_SESSION_H
#define TOPOMAP_CORE_SESSION_H

#include "internal.h"
#include "topomap/session.h"

/* The longest guest name, and its terminating NUL. */
#define SESSION_NAME_SIZE 80

struct session_module {
	char *name;
	struct tmap_backend_module *module;
};

struct tmap_session {
	const struct tmap_topology *topology;
	struct tmap_topology *own_topology;	/* made by the session: freed with it */
	struct tmap_state *state;	/* NULL: nothing is recorded */
	struct tmap_host *host;		/* placed from the state's committed document */
	bool writable;
	bool no_follow;			/* TMAP_SESSION_NO_FOLLOW */
	char *reserve;			/* recorded reserve with the session's ("" for none) */
	char *shared;			/* solve.shared's copy */
	struct tmap_solve_options solve;
	enum tmap_step step;		/* where the last call failed */
	size_t nnotices;
	char **notices;
	size_t nmodules;
	struct session_module *modules;
};

int session_fail(struct tmap_session *s, enum tmap_step step, int r);
int session_module(struct tmap_session *s, const char *name,
		   const struct tmap_backend_module **ret, struct tmap_error *err);
int session_reload(struct tmap_session *s, struct tmap_error *err);
/* A line for the caller (tmap_session_notice()). */
int session_notice(struct tmap_session *s, const char *fmt, ...) _printf_(2, 3);
/* The step a backend failure stopped at: from its report, or before it (the target). */
enum tmap_step session_backend_step(const struct tmap_report *report);
/* A recorded plan made ready to apply or verify: the count the state records guest name
 * running (0: none) set in plan's guest 0; returns TMAP_APPLY_RESIZE when it records one, else
 * 0 (the guest must run its plan's count). */
unsigned session_recorded_flags(struct tmap_session *s, const char *name, struct tmap_plan *plan);
/* What the state should record as the guest's running count after report read back plan:
 * the count the target ran when it is not the plan's, 0 when it is; was, when the backend
 * could not tell a count. */
unsigned session_running_after(const struct tmap_report *report, const struct tmap_plan *plan,
			       unsigned was);

/* session-isolate.c: the recorded isolation kept with the guests (issue 15, item 3).
 * session_isolation_grow() is backend_apply_then()'s step for guest name: when it is
 * dedicated, the isolation extended to it (what was written in isolation, for the state). */
struct session_grow {
	struct tmap_session *session;
	const char *name;
	struct tmap_isolation *isolation;
};
int session_isolation_grow(void *data, struct tmap_error *err);
/* Release guest name from the host and, if it was dedicated on an isolated host, isolate the
 * host again without it, recorded in the state (not saved); *ret_old: the isolation it
 * replaced (NULL when nothing changed), for session_isolation_unshrink() to put back in force
 * (returning r, or -ENOTRECOVERABLE) if the save fails. On failure the old isolation is in
 * force again (-ENOTRECOVERABLE when it could not all be). */
struct json_object;
int session_isolation_shrink(struct tmap_session *s, const char *name, struct json_object **ret_old,
			     struct tmap_error *err);
int session_isolation_unshrink(struct tmap_session *s, struct json_object *old, int r,
			       struct tmap_error *err);
/* backend_apply_then()'s step after moves (make-room, resize, rebalance), or called alone:
 * when one of the guests names is dedicated on an isolated host, or the shared pool changed
 * (pool: what the host keeps is the housekeeping and shared PUs), the isolation made again for
 * the guests as the session's host holds them now, recorded in the state (not saved), and
 * old set to the isolation it replaced (the caller drops it). On failure the old isolation
 * is in force again (-ENOTRECOVERABLE when it could not all be) and old is NULL. */
struct session_redo {
	struct tmap_session *session;
	const char *const *names;
	size_t nnames;
	bool pool;		/* the shared pool changed: made again whatever the guests */
	struct json_object *old;
};
int session_isolation_redo(void *data, struct tmap_error *err);
/* Is one of the guests names dedicated on an isolated host (the isolation is made again for
 * them)? The moves of such a transaction run with the isolation put back (state_isolation_
 * write()): on cgroup v2 a guest cannot move onto a PU of another guest's isolated partition
 * until that partition is a member again. */
bool session_isolation_touches(struct tmap_session *s, const char *const *names, size_t n);

/* session-room.c: without a given pool, the shared guests follow their nodes' pool as a
 * dedicated guest takes PUs from it or gives them back (host_follow_needed()). An apply whose
 * placement (on the session's host) changes the pool: the guest (*plan taken, given back on
 * success) and the shared guests that follow, one transaction. A release of name: the shared
 * guests grow back over its PUs and the state is saved without it, one transaction; on
 * failure the host is placed again from the state, which records the guest still. Each
 * returns 1, the host as it was, when nothing follows (the caller goes on as before). */
int session_apply_following(struct tmap_session *s, const struct tmap_backend_module *m,
			    const struct tmap_target *target, const struct tmap_guest *guest,
			    struct tmap_plan **plan, struct tmap_report **ret_report,
			    struct tmap_error *err);
int session_release_following(struct tmap_session *s, const char *name, struct tmap_error *err);
/* The state saved with the session's host as it stands (a new reserve): the shared guests
 * whose pool it changed applied again first, one transaction (s->step: where that failed,
 * TMAP_STEP_NONE when it did not run). */
int session_save_following(struct tmap_session *s, struct tmap_error *err);

#endif
