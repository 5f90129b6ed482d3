/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Making room (issue 18): plan --make-room places one guest after the fewest moves of the
 * guests the state holds. The search is the library's (tmap_session_make_room()); this file
 * only asks and hands the plan back to be printed as any other. resize plans a recorded
 * guest grown or shrunk (tmap_session_resize()).
 */
#include <errno.h>
#include <stdlib.h>

#include <topomap/session.h>

#include "cli.h"

int
room_plan(struct tmap_session *session, const struct tmap_guests *guests, unsigned max_moves,
	  struct tmap_plan **ret, struct tmap_error *err)
{
	struct tmap_room_options o = TMAP_ROOM_OPTIONS_INIT;

	if (tmap_guests_count(guests) != 1)
		return tmap_error_set(err, -EINVAL,
				      "plan: --make-room places exactly one guest; %zu were given",
				      tmap_guests_count(guests));
	o.max_moves = max_moves;
	return tmap_session_make_room(session, tmap_guests_get(guests, 0), &o, ret, err);
}

/* apply --make-room: the moves and the guest in force, one transaction of the library. */
int
room_apply(struct plan_request *req, const struct tmap_guest *guest, struct tmap_report **ret,
	   struct tmap_error *err)
{
	struct tmap_room_options o = TMAP_ROOM_OPTIONS_INIT;

	if (tmap_guests_count(req->guests) != 1)
		return tmap_error_set(err, -EINVAL,
				      "apply: --make-room places exactly one guest; %zu were given",
				      tmap_guests_count(req->guests));
	o.max_moves = req->max_moves;
	return tmap_session_apply_room(req->session, req->backend, req->target, guest, &o,
				       req->no_memory ? TMAP_ROOM_NO_MEMORY : 0, NULL, ret, err);
}

/* The options of resize and rebalance (each lists its own in options[]), each at most once:
 * EXIT_OK, -1 after --help, or the exit code of a message printed. */
int
room_args_parse(const char *cmd, const char *help, const struct option *options, int argc,
		char *argv[], struct plan_request *req, struct room_args *a)
{
	bool seen[OPT_END - OPT_TOPOLOGY] = {false};
	int c, r = EXIT_OK;

	opterr = 0;
	while (r == EXIT_OK && (c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
		if (c >= OPT_TOPOLOGY && c < OPT_END) {
			if (seen[c - OPT_TOPOLOGY])
				return fail(EXIT_USAGE, "%s: %s given more than once", cmd,
					    argv[optind - 1]);
			seen[c - OPT_TOPOLOGY] = true;
		}
		switch (c) {
		case OPT_VCPUS:
			r = parse_unsigned("--vcpus", optarg, 1, MAX_VCPUS, &a->vcpus);
			break;
		case OPT_MEMORY:
			r = parse_size_option("--memory", optarg, &a->memory_mib);
			break;
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
				return fail(EXIT_USAGE, "%s: --state needs a file", cmd);
			req->state_path = optarg;
			break;
		case OPT_FORMAT:
			r = parse_choice("--format", optarg, topology_formats, &req->format);
			break;
		case 'a':
			a->apply = true;
			break;
		case OPT_NO_MEMORY:
			req->no_memory = true;
			break;
		case 'h':
			r = emit(help);
			return r == EXIT_OK ? -1 : r;
		case ':':
			return missing_value(cmd, argv, optind);
		default:
			return unknown_option(cmd, options, optopt, argv, optind);
		}
	}
	if (r == EXIT_OK && req->no_memory && !a->apply)
		return fail(EXIT_USAGE, "%s: --no-memory goes with --apply", cmd);
	return r;
}

/* The options of resize. */
static int
resize_options(int argc, char *argv[], struct plan_request *req, struct room_args *a)
{
	static const struct option options[] = {
		{"vcpus", required_argument, NULL, OPT_VCPUS},
		{"memory", required_argument, NULL, OPT_MEMORY},
		{"max-moves", required_argument, NULL, OPT_MAX_MOVES},
		{"topology", required_argument, NULL, OPT_TOPOLOGY},
		{"state", required_argument, NULL, OPT_STATE},
		{"format", required_argument, NULL, OPT_FORMAT},
		{"apply", no_argument, NULL, 'a'},
		{"no-memory", no_argument, NULL, OPT_NO_MEMORY},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int r = room_args_parse("resize", resize_help, options, argc, argv, req, a);

	if (r != EXIT_OK)
		return r;
	if (optind + 1 != argc)
		return fail(EXIT_USAGE, "resize: give exactly one guest name (see 'topomap resize --help')");
	if (!a->vcpus)
		return fail(EXIT_USAGE, "resize: --vcpus N is required");
	return EXIT_OK;
}

/*
 * The plan put in force, and what waits for the guest's next start (a resize it does not run
 * yet): "pending:" lines after the table; on stderr for the other formats, whose output is
 * what the library wrote.
 */
static int
emit_applied(char **text, int format, const struct tmap_report *report)
{
	if (format == TMAP_FORMAT_TABLE) {
		*text = add_pending(*text, report);
		if (!*text)
			return fail(EXIT_RUNTIME, "applied and recorded; out of memory for the report");
	} else {
		for (size_t i = 0; i < tmap_report_pending_count(report); i++)
			fprintf(stderr, "topomap: pending: %s\n", tmap_report_pending(report, i));
	}
	return emit_done(*text, "applied and recorded");
}

/* What resize and rebalance share: options, a session, the library's call, the plan printed
 * (or its failure's exit code). */
int
room_command(const struct room_command *cmd, int argc, char *argv[])
{
	struct plan_request req = {
		.cmd = CMD_PLAN,
		.source = "live",
		.format = TMAP_FORMAT_TABLE,
		.solve = TMAP_SOLVE_OPTIONS_INIT,
	};
	struct tmap_room_options o = TMAP_ROOM_OPTIONS_INIT;
	struct tmap_report *report = NULL;
	struct tmap_plan *plan = NULL;
	struct tmap_error err = {0};
	struct room_args a = {0};
	char *text = NULL;
	int r;

	r = cmd->options(argc, argv, &req, &a);
	if (r != EXIT_OK)
		return r == -1 ? EXIT_OK : r;
	r = open_session(&req, a.apply);
	if (r != EXIT_OK)
		goto out;
	o.max_moves = req.max_moves;
	r = cmd->run(&req, &a, optind < argc ? argv[optind] : NULL, &o, &plan, &report, &err);
	if (r < 0 && a.apply)
		r = fail_step(&req, r, &err);
	else if (r < 0)
		r = fail(err.code == -ENOSPC ? EXIT_NOFIT :
			 err.code == -ENOMEM ? EXIT_RUNTIME : EXIT_USAGE, "%s", err.message);
	else if (tmap_plan_format(plan, req.format, table_flags(), &text, &err) < 0)
		r = fail_lib(err.code, true, &err, cmd->name);
	else if (a.apply && (cmd->changes_in_place || tmap_plan_move_count(plan)))
		r = emit_applied(&text, req.format, report);
	else
		r = emit(text);
out:
	tmap_report_free(report);
	free(text);
	tmap_plan_free(plan);
	close_session(&req);
	return r;
}

static int
resize_run(struct plan_request *req, const struct room_args *a, const char *guest,
	   const struct tmap_room_options *o, struct tmap_plan **ret,
	   struct tmap_report **ret_report, struct tmap_error *err)
{
	if (a->apply)
		return tmap_session_apply_resize(req->session, guest, a->vcpus, a->memory_mib, o,
						 req->no_memory ? TMAP_ROOM_NO_MEMORY : 0, ret,
						 ret_report, err);
	return tmap_session_resize(req->session, guest, a->vcpus, a->memory_mib, o, ret, err);
}

/* topomap resize NAME --vcpus N [--memory SIZE] [--apply]: the plan of a recorded guest
 * resized, keeping what it holds when it can; nothing is changed without --apply. With it,
 * the library puts the plan in force through the guest's recorded target (one transaction),
 * in place or with moves. */
int
cmd_resize(int argc, char *argv[])
{
	static const struct room_command resize = {
		.name = "resize",
		.options = resize_options,
		.run = resize_run,
		.changes_in_place = true,
	};

	return room_command(&resize, argc, argv);
}
