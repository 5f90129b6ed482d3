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
	struct tmap_topology *topology;
	struct tmap_state *state;	/* NULL: nothing is recorded */
	struct tmap_host *host;		/* placed from the state's committed document */
	bool writable;
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

#endif
