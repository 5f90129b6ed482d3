/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * topomap rebalance [--max-moves K] [--apply] (issue 18): the moves of the recorded guests, at
 * most K, that make room for the recent requests (else the largest free cell on one node),
 * for a maintenance window.
 * The search is the library's (tmap_session_rebalance()); --apply puts the moves in force as
 * apply --make-room does, without a new guest (tmap_session_apply_rebalance()).
 */
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

static int
rebalance_run(struct plan_request *req, const struct room_args *a, const char *none,
	      const struct tmap_room_options *o, struct tmap_plan **ret,
	      struct tmap_report **ret_report, struct tmap_error *err)
{
	if (a->apply)
		return tmap_session_apply_rebalance(req->session, o,
						    req->no_memory ? TMAP_ROOM_NO_MEMORY : 0, ret,
						    ret_report, err);
	return tmap_session_rebalance(req->session, o, ret, err);
}

int
cmd_rebalance(int argc, char *argv[])
{
	static const struct room_command rebalance = {
		.name = "rebalance",
		.options = rebalance_options,
		.run = rebalance_run,
	};

	return room_command(&rebalance, argc, argv);
}
