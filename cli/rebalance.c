/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * topomap rebalance [--max-moves K] [--apply] (issue 18): the moves of the recorded guests, at
 * most K, that make room for the recent requests (else the largest free cell on one node),
 * for a maintenance window.
 * The search is the library's (tmap_session_rebalance()); --apply puts the moves in force as
 * apply --make-room does, without a new guest (tmap_session_apply_rebalance()).
 */
#include <errno.h>
#include <stdlib.h>

#include <topomap/session.h>

#include "cli.h"

/* The options of rebalance, each at most once (room_args_parse()); no argument. */
static int
rebalance_options(int argc, char *argv[], struct plan_request *req, struct room_args *a)
{
	static const struct option options[] = {
		{"max-moves", required_argument, NULL, OPT_MAX_MOVES},
		{"topology", required_argument, NULL, OPT_TOPOLOGY},
		{"state", required_argument, NULL, OPT_STATE},
		{"format", required_argument, NULL, OPT_FORMAT},
		{"apply", no_argument, NULL, 'a'},
		{"no-memory", no_argument, NULL, OPT_NO_MEMORY},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int r = room_args_parse("rebalance", rebalance_help, options, argc, argv, req, a);

	if (r == EXIT_OK && optind != argc)
		return fail(EXIT_USAGE, "rebalance: unexpected argument '%s' (see 'topomap rebalance --help')",
			    argv[optind]);
	return r;
}

int
cmd_rebalance(int argc, char *argv[])
{
	struct plan_request req = {
		.cmd = CMD_PLAN,
		.source = "live",
		.format = TMAP_FORMAT_TABLE,
		.solve = TMAP_SOLVE_OPTIONS_INIT,
	};
	struct tmap_room_options o = TMAP_ROOM_OPTIONS_INIT;
	struct tmap_plan *plan = NULL;
	struct tmap_error err = {0};
	struct room_args a = {0};
	char *text = NULL;
	int r;

	r = rebalance_options(argc, argv, &req, &a);
	if (r != EXIT_OK)
		return r == -1 ? EXIT_OK : r;
	r = open_session(&req, a.apply);
	if (r != EXIT_OK)
		goto out;
	o.max_moves = req.max_moves;
	if (a.apply)
		r = tmap_session_apply_rebalance(req.session, &o,
						 req.no_memory ? TMAP_ROOM_NO_MEMORY : 0, &plan,
						 NULL, &err);
	else
		r = tmap_session_rebalance(req.session, &o, &plan, &err);
	if (r < 0) {
		r = a.apply ? fail_step(&req, r, &err) :
			    fail(err.code == -ENOMEM ? EXIT_RUNTIME : EXIT_USAGE, "%s", err.message);
		goto out;
	}
	if (tmap_plan_format(plan, req.format, table_flags(), &text, &err) < 0)
		r = fail_lib(err.code, true, &err, "rebalance");
	else if (a.apply && tmap_plan_move_count(plan))
		r = emit_done(text, "applied and recorded");
	else
		r = emit(text);
out:
	free(text);
	tmap_plan_free(plan);
	tmap_session_close(req.session);
	return r;
}
