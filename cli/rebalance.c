/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * topomap rebalance [--max-moves K] [--apply] (issue 18): the moves of the recorded guests, at
 * most K, after which the largest free cell on one node is largest, for a maintenance window.
 * The search is the library's (tmap_session_rebalance()); --apply puts the moves in force as
 * apply --make-room does, without a new guest (tmap_session_apply_rebalance()).
 */
#include <errno.h>
#include <stdlib.h>

#include <topomap/session.h>

#include "cli.h"

/* The options of rebalance, each at most once. */
static int
rebalance_options(int argc, char *argv[], struct plan_request *req, bool *apply)
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
	bool seen[OPT_END - OPT_TOPOLOGY] = {false};
	int c, r = EXIT_OK;

	opterr = 0;
	while (r == EXIT_OK && (c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
		if (c >= OPT_TOPOLOGY && c < OPT_END) {
			if (seen[c - OPT_TOPOLOGY])
				return fail(EXIT_USAGE, "rebalance: %s given more than once",
					    argv[optind - 1]);
			seen[c - OPT_TOPOLOGY] = true;
		}
		switch (c) {
		case OPT_MAX_MOVES:
			r = parse_unsigned("--max-moves", optarg, 1, TMAP_ROOM_MAX_MOVES,
					   &req->max_moves);
			break;
		case OPT_TOPOLOGY:
			req->source = optarg;
			r = check_source(optarg);
			break;
		case OPT_STATE:
			if (!optarg[0])
				return fail(EXIT_USAGE, "rebalance: --state needs a file");
			req->state_path = optarg;
			break;
		case OPT_FORMAT:
			r = parse_choice("--format", optarg, topology_formats, &req->format);
			break;
		case 'a':
			*apply = true;
			break;
		case OPT_NO_MEMORY:
			req->no_memory = true;
			break;
		case 'h':
			r = emit(rebalance_help);
			return r == EXIT_OK ? -1 : r;
		case ':':
			return missing_value("rebalance", argv, optind);
		default:
			return unknown_option("rebalance", options, optopt, argv, optind);
		}
	}
	if (r != EXIT_OK)
		return r;
	if (optind != argc)
		return fail(EXIT_USAGE, "rebalance: unexpected argument '%s' (see 'topomap rebalance --help')",
			    argv[optind]);
	if (req->no_memory && !*apply)
		return fail(EXIT_USAGE, "rebalance: --no-memory goes with --apply");
	return EXIT_OK;
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
	bool apply = false;
	char *text = NULL;
	int r;

	r = rebalance_options(argc, argv, &req, &apply);
	if (r != EXIT_OK)
		return r == -1 ? EXIT_OK : r;
	r = open_session(&req, apply);
	if (r != EXIT_OK)
		goto out;
	o.max_moves = req.max_moves;
	if (apply)
		r = tmap_session_apply_rebalance(req.session, &o,
						 req.no_memory ? TMAP_ROOM_NO_MEMORY : 0, &plan,
						 NULL, &err);
	else
		r = tmap_session_rebalance(req.session, &o, &plan, &err);
	if (r < 0) {
		r = apply ? fail_step(&req, r, &err) :
			    fail(err.code == -ENOMEM ? EXIT_RUNTIME : EXIT_USAGE, "%s", err.message);
		goto out;
	}
	if (tmap_plan_format(plan, req.format, table_flags(), &text, &err) < 0)
		r = fail_lib(err.code, true, &err, "rebalance");
	else if (apply && tmap_plan_move_count(plan))
		r = emit_done(text, "applied and recorded");
	else
		r = emit(text);
out:
	free(text);
	tmap_plan_free(plan);
	tmap_session_close(req.session);
	return r;
}
