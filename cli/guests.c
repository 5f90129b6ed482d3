/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * plan, apply, verify, state, release and reserve: a thin shell over the library's session
 * (<topomap/session.h>), which owns the transaction and the ledger. The shell builds the
 * guest from its arguments, opens a session, makes one call, prints what came back, and
 * turns the step a failure stopped at into an exit code.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <topomap/session.h>

#include "cli.h"

const char *const command_names[] = {"plan", "apply", "verify", "adopt"};

/*
 * Where the allocation state of the request's host is: --state FILE; else for the live
 * host TOPOMAP_STATE or the default file; for a libvirt host reached through --connect (its
 * own host), a file of that host under the state directory; for any other host (synthetic,
 * XML) none unless asked, as the default file belongs to this machine.
 */
static const char *
state_path_of(const struct plan_request *req, char *buf, size_t size)
{
	const char *def = secure_getenv("TOPOMAP_STATE");
	const char *slash, *p;
	size_t n;

	if (req->state_path)
		return req->state_path;
	if (!def || !def[0])
		def = TOPOMAP_STATE_DEFAULT;
	if (strcmp(req->source, "live") == 0)
		return def;
	if (!req->remote_uri)
		return NULL;
	/* <dir of the default>/hosts/<uri, every byte but [A-Za-z0-9.-] as %XX>.json */
	slash = strrchr(def, '/');
	n = (size_t)snprintf(buf, size, "%.*s/hosts/", slash ? (int)(slash - def) : 1,
			     slash ? def : ".");
	for (p = req->remote_uri; *p && n + 8 < size; p++) {
		unsigned char ch = (unsigned char)*p;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		    ch == '.' || ch == '-')
			buf[n++] = (char)ch;
		else
			n += (size_t)snprintf(buf + n, size - n, "%%%02X", ch);
	}
	snprintf(buf + n, size - n, ".json");
	return buf;
}

/* The session and the host it was opened on (open_session()). */
void
close_session(struct plan_request *req)
{
	req->session = tmap_session_close(req->session);
	req->topology = tmap_topology_free(req->topology);
}

/* Notices the session has not printed yet, on stderr. */
void
print_notices(struct plan_request *req)
{
	for (; req->notices_shown < tmap_session_notice_count(req->session); req->notices_shown++)
		fprintf(stderr, "topomap: %s\n",
			tmap_session_notice(req->session, req->notices_shown));
}

int
open_session(struct plan_request *req, bool write)
{
	struct tmap_session_options opts = TMAP_SESSION_OPTIONS_INIT;
	const struct tmap_topology *t;
	struct tmap_error err = {0};
	char buf[4096];
	int r;

	r = source_topology(req->source, &req->topology);
	if (r != EXIT_OK)
		return r;
	opts.host = req->topology;
	opts.state = state_path_of(req, buf, sizeof(buf));
	opts.reserve = req->solve.reserve;
	opts.solve = req->solve;
	opts.flags = (write && opts.state ? TMAP_SESSION_WRITE : 0) |
		     (req->no_follow ? TMAP_SESSION_NO_FOLLOW : 0);
	r = tmap_session_open(&opts, &req->session, &err);
	if (r < 0)
		req->topology = tmap_topology_free(req->topology);
	/* A reserve a guest holds, options the host or the state contradicts: the caller's. */
	if (r == -EBUSY || r == -EINVAL)
		return fail(EXIT_USAGE, "%s", err.message);
	if (r < 0 && (!opts.state || strstr(err.message, opts.state) == NULL))
		return fail_lib(r, strcmp(req->source, "live") != 0, &err, req->source);
	if (r < 0)
		return fail(EXIT_RUNTIME, "%s", err.message);
	t = tmap_session_topology(req->session);
	/* What hwloc complained of, or a caller confined to fewer PUs than the host has. */
	for (size_t i = 0; i < tmap_topology_warning_count(t); i++)
		fprintf(stderr, "topomap: warning: %s\n", tmap_topology_warning(t, i));
	print_notices(req);
	return EXIT_OK;
}

/*
 * The exit code of a failed session call, from the step it stopped at (never from its
 * message): the caller's input, 2; does not fit, 3; the target left partly changed, 5; a
 * target refused before anything was written because it is not there, 2; the rest, 1.
 */
int
fail_step(struct plan_request *req, int r, const struct tmap_error *err)
{
	enum tmap_step step = tmap_session_failed_step(req->session);
	const char *msg = err->message[0] ? err->message : strerror(-r);
	bool not_there = r == -EINVAL || r == -ENOENT || r == -ENOTDIR || r == -ELOOP ||
			 r == -EXDEV || r == -ESRCH;

	print_notices(req);
	switch (step) {
	case TMAP_STEP_INPUT:
		return fail(r == -ENOMEM ? EXIT_RUNTIME : EXIT_USAGE, "%s", msg);
	case TMAP_STEP_PLACE:
		return fail(r == -ENOSPC ? EXIT_NOFIT : r == -EBUSY ? EXIT_USAGE : exit_code(r, true),
			    "%s", msg);
	case TMAP_STEP_OPEN:
		return fail(not_there ? EXIT_USAGE : EXIT_RUNTIME, "%s", msg);
	case TMAP_STEP_RESTORE:
		return fail(EXIT_LEFT_CHANGED, "%s", msg);
	default:
		return fail(EXIT_RUNTIME, "%s", msg);
	}
}

/* The guest asked for: inline options, then files; or read from the target. */
static int
build_guests(struct plan_request *req, const struct tmap_backend_module *module, int argc,
	     char *argv[])
{
	struct tmap_error err = {0};
	struct tmap_guest *g = NULL;
	int r;

	if (tmap_guests_new(&req->guests) < 0)
		return fail(EXIT_RUNTIME, "out of memory");
	/* With a backend, inline options without --name go onto the guest it reads (below). */
	if (req->ig.given && (req->ig.name || !module)) {
		r = add_inline_guest(&req->ig, req->guests);
		if (r != EXIT_OK)
			return r;
	}
	for (int i = optind; i < argc; i++) {
		r = strcmp(argv[i], "-") == 0 ? add_stdin_guests(req->guests) :
		    tmap_guests_load_json(req->guests, argv[i], &err) < 0 ?
						fail_lib(err.code, true, &err, argv[i]) : EXIT_OK;
		if (r != EXIT_OK)
			return r;
	}
	if (module && tmap_guests_count(req->guests) == 0) {
		r = tmap_backend_describe(module, req->target, &g, &err);
		/* A target that does not exist is the user's input, as it is when a guest is given. */
		if (r == -EOPNOTSUPP || r == -EINVAL || r == -ENOENT || r == -ENOTDIR || r == -ESRCH)
			return fail(EXIT_USAGE, "%s: %s", command_names[req->cmd], err.message);
		if (r < 0)
			return fail(EXIT_RUNTIME, "%s", err.message);
		if (req->ig.given) {
			r = overlay_inline_guest(&req->ig, command_names[req->cmd], req->backend, g);
			if (r != EXIT_OK) {
				tmap_guest_free(g);
				return r;
			}
		}
		req->described = !req->ig.given;
		/* A guest the options changed is refused as the user's input. */
		r = tmap_guests_add(req->guests, g, &err);
		if (r < 0) {
			tmap_guest_free(g);
			return fail_lib(r, req->ig.given, &err, "guest");
		}
	} else if (module && req->ig.given && !req->ig.name) {
		/* Guest files given with a backend: the options belong to no guest. */
		return fail(EXIT_USAGE, "inline guest options need --name");
	}
	/* A container or a domain is one guest: a target takes exactly one. */
	if (req->cmd != CMD_PLAN && tmap_guests_count(req->guests) != 1)
		return fail(EXIT_USAGE, "%s: a target holds exactly one guest; %zu were given",
			    command_names[req->cmd], tmap_guests_count(req->guests));
	return EXIT_OK;
}

/* What takes effect at the target's next start, after text (freed); NULL when out of memory. */
char *
add_pending(char *text, const struct tmap_report *report)
{
	for (size_t i = 0; text && i < tmap_report_pending_count(report); i++) {
		char *more = NULL;

		if (asprintf(&more, "%s  pending: %s\n", text, tmap_report_pending(report, i)) < 0)
			more = NULL;
		free(text);
		text = more;
	}
	return text;
}

/* The report's lines under a header, and what takes effect at the target's next start. */
static char *
apply_text(const struct plan_request *req, const char *name, const struct tmap_report *report)
{
	char header[256];

	snprintf(header, sizeof(header), req->dry_run ?
		 "guest '%s', backend '%s': dry run, these writes would be made:" :
		 "guest '%s', backend '%s': applied and read back:", name, req->backend);
	return add_pending(report_text(header, tmap_report_write_count(report), tmap_report_write,
				       report),
			   report);
}

/*
 * A guest read from its target as it is (a domain started again, as libvirt's hook applies
 * it) asks for what it was recorded with: its policies, QoS and page size, not the
 * defaults. Its shape is the target's: a guest whose vcpus or memory changed since is
 * placed as it is now.
 */
static const struct tmap_guest *
recorded_spec(struct plan_request *req, const struct tmap_guest *g, struct tmap_guests **keep)
{
	const struct tmap_guest *spec;

	/* Another domain of the same name (a new UUID) is a new guest. */
	if (!req->described ||
	    tmap_session_same_target(req->session, tmap_guest_name(g), req->backend, req->target,
				     NULL) != 1 ||
	    tmap_session_guest_spec(req->session, tmap_guest_name(g), keep, NULL) < 0)
		return g;
	spec = tmap_guests_get(*keep, 0);
	if (tmap_guest_vcpus(spec) != tmap_guest_vcpus(g) ||
	    tmap_guest_memory_mib(spec) != tmap_guest_memory_mib(g)) {
		fprintf(stderr, "topomap: guest '%s' changed since it was recorded: placed as it is now\n",
			tmap_guest_name(g));
		return g;
	}
	return spec;
}

static int
do_apply(struct plan_request *req)
{
	struct tmap_guests *keep = NULL;
	const struct tmap_guest *g = recorded_spec(req, tmap_guests_get(req->guests, 0), &keep);
	struct tmap_report *report = NULL;
	struct tmap_error err = {0};
	char *text;
	int r;

	if (req->make_room)
		r = room_apply(req, g, &report, &err);
	else
		r = tmap_session_apply(req->session, req->backend, req->target, g,
				       req->dry_run ? TMAP_APPLY_DRY_RUN : 0, NULL, &report, &err);
	print_notices(req);
	if (r < 0) {
		tmap_report_free(report);
		tmap_guests_free(keep);
		return fail_step(req, r, &err);
	}
	text = apply_text(req, tmap_guest_name(g), report);
	tmap_report_free(report);
	tmap_guests_free(keep);
	if (!text)
		return fail(EXIT_RUNTIME, "out of memory");
	/* Printed only once the state is durable: a report that cannot be printed never undoes
	 * what is in force and recorded. */
	r = tmap_session_state_path(req->session) && !req->dry_run ?
		    emit_done(text, "applied and recorded") : emit(text);
	free(text);
	return r;
}

/* verify: the recorded plan (or, without a state, the plan made now) against the target. */
static int
do_verify(struct plan_request *req, const struct tmap_backend_module *module)
{
	const char *name = tmap_guest_name(tmap_guests_get(req->guests, 0));
	struct tmap_report *report = NULL;
	struct tmap_plan *plan = NULL;
	struct tmap_error err = {0};
	char header[256], *text, *pool = NULL;
	size_t drift;
	int r;

	if (tmap_session_state_path(req->session)) {
		if (!tmap_session_lookup(req->session, name))
			return fail(EXIT_USAGE,
				    "verify: no guest '%s' is recorded in the state of this host (apply it first; 'topomap state' lists the guests)",
				    name);
		r = tmap_session_guest_plan(req->session, name, &plan, &err);
	} else {
		r = tmap_session_plan(req->session, req->guests, 0, &plan, &err);
		if (r < 0)
			return fail_step(req, r, &err);
	}
	/* A recorded plan may be a resize the guest has not been started with: pending when the
	 * state records the count the guest still runs (the plan carries it), drift for any
	 * other count. */
	if (r == 0)
		r = tmap_verify(module, req->target, plan, 0,
				tmap_session_guest_running_vcpus(req->session, name) ? TMAP_APPLY_RESIZE
										      : 0,
				&report, &err);
	tmap_plan_free(plan);
	if (r < 0) {
		enum tmap_step step = tmap_report_failed_step(report);

		tmap_report_free(report);
		return fail(step == TMAP_STEP_OPEN && (r == -ENOENT || r == -ESRCH || r == -EINVAL ||
						       r == -ENOTDIR) ? EXIT_USAGE :
			    step == TMAP_STEP_NONE && r == -EINVAL ? EXIT_USAGE : EXIT_RUNTIME,
			    "%s", err.message);
	}
	/* A shared guest follows its nodes' pool: recorded on another set, it drifted even when
	 * the target holds what was recorded (as verify --all says). */
	if (tmap_session_state_path(req->session) &&
	    tmap_session_guest_pool_drift(req->session, name, &pool) == -ENOMEM) {
		tmap_report_free(report);
		return fail(EXIT_RUNTIME, "out of memory");
	}
	drift = (r == 1 ? tmap_report_drift_count(report) : 0) + !!pool;
	snprintf(header, sizeof(header), drift ? "guest '%s', backend '%s': the plan is not in force:" :
		 "guest '%s', backend '%s': the plan is in force", name, req->backend);
	text = report_text(header, r == 1 ? tmap_report_drift_count(report) : 0, tmap_report_drift,
			   report);
	if (text && pool) {
		char *more = NULL;

		if (asprintf(&more, "%s  %s\n", text, pool) < 0)
			more = NULL;
		free(text);
		text = more;
	}
	text = add_pending(text, report);
	r = text ? emit(text) : fail(EXIT_RUNTIME, "out of memory");
	free(text);
	free(pool);
	if (r == EXIT_OK && drift)
		r = fail(EXIT_DRIFT, "guest '%s' drifted from its plan: %zu difference%s", name,
			 drift, drift == 1 ? "" : "s");
	tmap_report_free(report);
	return r;
}

int
verify_line(struct tmap_session *session, const char *name, FILE *out)
{
	const char *backend = "?";
	struct tmap_report *report = NULL;
	struct tmap_target *target = NULL;
	struct tmap_error err = {0};
	int v = tmap_session_verify(session, name, &report, &err);

	if (tmap_session_guest_target(session, name, &backend, &target, NULL) < 0)
		backend = "?";
	if (v < 0)
		fprintf(out, "%-20s not checked: %s\n", name, err.message);
	else if (v == 0 && tmap_report_pending_count(report))
		fprintf(out, "%-20s in force (backend '%s'); pending: %s\n", name, backend,
			tmap_report_pending(report, 0));
	else if (v == 0)
		fprintf(out, "%-20s in force (backend '%s')\n", name, backend);
	else
		fprintf(out, "%-20s drifted (backend '%s'): %zu difference%s, first: %s\n", name,
			backend, tmap_report_drift_count(report),
			tmap_report_drift_count(report) == 1 ? "" : "s", tmap_report_drift(report, 0));
	tmap_report_free(report);
	tmap_target_free(target);
	return v < 0 ? -1 : v;
}

/* verify --all: every recorded guest through its recorded target, one line each; exit 4
 * when any drifted, 1 when any could not be checked. */
static int
verify_all(struct plan_request *req)
{
	size_t drifted = 0, unchecked = 0, n;
	char *text = NULL;
	size_t len = 0;
	FILE *out;
	int r;

	r = open_session(req, false);
	if (r != EXIT_OK)
		return r;
	if (!tmap_session_state_path(req->session))
		return fail(EXIT_USAGE, "verify: --all needs a state (this host has none; give --state)");
	out = open_memstream(&text, &len);
	if (!out)
		return fail(EXIT_RUNTIME, "out of memory");
	n = tmap_session_guest_count(req->session);
	for (size_t i = 0; i < n; i++) {
		int v = verify_line(req->session, tmap_session_guest_name(req->session, i), out);

		drifted += v == 1;
		unchecked += v < 0;
	}
	if (fclose(out) != 0) {
		free(text);
		return fail(EXIT_RUNTIME, "out of memory");
	}
	r = emit(text ? text : "");
	free(text);
	if (r == EXIT_OK && drifted)
		r = fail(EXIT_DRIFT, "%zu of %zu recorded guests drifted from their plans", drifted, n);
	else if (r == EXIT_OK && unchecked)
		r = fail(EXIT_RUNTIME, "%zu of %zu recorded guests could not be checked", unchecked, n);
	return r;
}

static int
do_plan(struct plan_request *req)
{
	struct tmap_plan *plan = NULL;
	struct tmap_error err = {0};
	char *text = NULL;
	int r;

	if (req->make_room)
		r = room_plan(req->session, req->guests, req->max_moves, &plan, &err);
	else
		r = tmap_session_plan(req->session, req->guests,
				      req->batch ? TMAP_SESSION_BATCH : 0, &plan, &err);
	print_notices(req);
	if (r < 0)
		return fail_step(req, r, &err);
	if (req->format == FORMAT_SVG || req->format == FORMAT_PNG) {
		/* The session's reserve: the recorded one with --reserve. */
		r = draw_plan(tmap_session_topology(req->session), plan,
			      tmap_session_reserve(req->session), NULL, req->format);
	} else if (tmap_plan_format(plan, req->format, table_flags(), &text, &err) < 0) {
		r = fail_lib(err.code, true, &err, "plan");
	} else {
		r = emit(text);
	}
	/* --batch: the plan of those that fit is the result; exit 3 says some did not. */
	if (r == EXIT_OK && tmap_plan_rejected_count(plan))
		r = fail(EXIT_NOFIT, "%zu of %zu guests do not fit; the plan lists them",
			 tmap_plan_rejected_count(plan),
			 tmap_plan_rejected_count(plan) + tmap_plan_guest_count(plan));
	free(text);
	tmap_plan_free(plan);
	return r;
}

/*
 * apply and verify --backend=libvirt --connect URI of another host, without --topology: the
 * host is that URI's (its capabilities), and so is the state (state_path_of()).
 */
static int
remote_host(struct plan_request *req, char *source, size_t size)
{
	const char *uri = tmap_target_get(req->target, "connect");
	const char *host = uri ? strstr(uri, "://") : NULL;

	if (!req->backend || strcmp(req->backend, "libvirt") != 0 || !host || host[3] == '/' ||
	    !host[3] || strcmp(req->source, "live") != 0)
		return EXIT_OK;
	if ((size_t)snprintf(source, size, "libvirt:%s", uri) >= size)
		return fail(EXIT_USAGE, "%s: --connect URI too long", command_names[req->cmd]);
	req->source = source;
	req->remote_uri = uri;
	return EXIT_OK;
}

/* adopt: record a guest pinned by hand, read from its target; nothing is written to it. */
static int
do_adopt(struct plan_request *req)
{
	struct tmap_plan *plan = NULL;
	struct tmap_error err = {0};
	char line[1024];
	int r;

	if (optind < req->argc)
		return fail(EXIT_USAGE, "adopt: unexpected argument '%s' (the guest is read from its target)",
			    req->argv[optind]);
	r = open_session(req, true);
	if (r != EXIT_OK)
		return r;
	if (!tmap_session_state_path(req->session))
		return fail(EXIT_USAGE, "adopt: no state file for this host (give --state)");
	r = tmap_session_adopt(req->session, req->backend, req->target, req->ig.name, &plan, &err);
	if (r < 0)
		return fail_step(req, r, &err);
	snprintf(line, sizeof(line),
		 "adopted '%s' (backend '%s'): vcpus on PUs %s, memory on nodes %s; recorded\n",
		 tmap_plan_guest_name(plan, 0), req->backend, tmap_plan_cpuset(plan, 0),
		 tmap_plan_memory_nodeset(plan, 0));
	tmap_plan_free(plan);
	return emit(line);
}

static void
request_clear(struct plan_request *req)
{
	tmap_guests_free(req->guests);
	close_session(req);
	tmap_target_free(req->target);
	inline_guest_clear(&req->ig);
}

int
cmd_guests(enum command cmd, int argc, char *argv[])
{
	struct plan_request req = {
		.cmd = cmd,
		.source = "live",
		.format = TMAP_FORMAT_TABLE,
		.solve = TMAP_SOLVE_OPTIONS_INIT,
	};
	struct tmap_backend_module *module = NULL;
	struct tmap_error err = {0};
	char source[4096];
	int r;

	if (tmap_target_new(&req.target) < 0)
		return fail(EXIT_RUNTIME, "out of memory");
	r = parse_request(argc, argv, &req);
	if (r == -1) { /* --help */
		r = EXIT_OK;
		goto out;
	}
	if (r == EXIT_OK && req.all) {
		r = verify_all(&req);
		goto out;
	}
	if (r == EXIT_OK && req.backend && tmap_backend_load(req.backend, &module, &err) < 0)
		r = fail(err.code == -EINVAL || err.code == -ENOENT ? EXIT_USAGE : EXIT_RUNTIME, "%s",
			 err.message);
	if (r == EXIT_OK)
		r = remote_host(&req, source, sizeof(source));
	if (r == EXIT_OK && cmd == CMD_ADOPT) {
		req.argc = argc;
		req.argv = argv;
		r = do_adopt(&req);
		goto out;
	}
	if (r == EXIT_OK)
		r = build_guests(&req, module, argc, argv);
	if (r == EXIT_OK)
		r = open_session(&req, cmd == CMD_APPLY && !req.dry_run);
	if (r != EXIT_OK)
		goto out;
	r = cmd == CMD_PLAN ? do_plan(&req) : cmd == CMD_APPLY ? do_apply(&req) :
								  do_verify(&req, module);
out:
	request_clear(&req);
	tmap_backend_unload(module);
	return r;
}

/* ------------------------------------------------------------------------------------- */
/* state, release, reserve: the ledger, no guest, no backend */

static int
state_options(const char *cmd, int argc, char *argv[], struct plan_request *req, int *format,
	      const char **add, const char **remove)
{
	static const struct option options[] = {
		{"state", required_argument, NULL, OPT_STATE},
		{"topology", required_argument, NULL, OPT_TOPOLOGY},
		{"format", required_argument, NULL, OPT_FORMAT},
		{"add", required_argument, NULL, OPT_ADD},
		{"remove", required_argument, NULL, OPT_REMOVE},
		{"no-follow", no_argument, NULL, OPT_NO_FOLLOW},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool seen[4] = {false};
	int c, r = EXIT_OK;

	opterr = 0;
	while (r == EXIT_OK && (c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
		const char *name = c == OPT_STATE ? "state" : c == OPT_TOPOLOGY ? "topology" :
				   c == OPT_FORMAT ? "format" : c == OPT_ADD ? "add" : "remove";

		if (c >= OPT_TOPOLOGY && c != 'h') {
			unsigned i = c == OPT_STATE ? 0 : c == OPT_TOPOLOGY ? 1 : c == OPT_FORMAT ? 2 : 3;

			if (seen[i] && i < 3)
				return fail(EXIT_USAGE, "%s: --%s given more than once", cmd, name);
			seen[i] = true;
			if ((c == OPT_FORMAT && strcmp(cmd, "state") != 0) ||
			    ((c == OPT_ADD || c == OPT_REMOVE) && strcmp(cmd, "reserve") != 0))
				return fail(EXIT_USAGE, "%s: --%s is not an option of %s", cmd, name, cmd);
		}
		switch (c) {
		case OPT_STATE:
			req->state_path = optarg;
			break;
		case OPT_TOPOLOGY:
			req->source = optarg;
			r = check_source(optarg);
			break;
		case OPT_NO_FOLLOW:
			if (strcmp(cmd, "release") != 0)
				return fail(EXIT_USAGE, "%s: --no-follow is not an option of %s", cmd, cmd);
			req->no_follow = true;
			break;
		case OPT_FORMAT:
			r = parse_choice("--format", optarg, topology_formats, format);
			break;
		case OPT_ADD:
		case OPT_REMOVE:
			if (!is_list(optarg) || !optarg[0])
				return fail(EXIT_USAGE, "%s: --%s '%s' is not a list of host PUs such as 0,12 or 0-3",
					    cmd, name, optarg);
			if ((c == OPT_ADD ? *add : *remove))
				return fail(EXIT_USAGE, "%s: --%s given more than once", cmd, name);
			*(c == OPT_ADD ? add : remove) = optarg;
			break;
		case 'h':
			r = emit(strcmp(cmd, "reserve") == 0 ? reserve_help : state_help);
			return r == EXIT_OK ? -1 : r;
		case ':':
			return missing_value(cmd, argv, optind);
		default:
			return unknown_option(cmd, options, optopt, argv, optind);
		}
	}
	return r;
}

static int
do_release(struct plan_request *req, const char *what)
{
	struct tmap_error err = {0};
	const char *found = tmap_session_lookup(req->session, what);
	char line[160];
	char *name;
	int r;

	if (!tmap_session_state_path(req->session))
		return fail(EXIT_USAGE, "release: no state file for this host (give --state)");
	if (!found)
		return fail(EXIT_USAGE, "release: no guest '%s' in the state", what);
	name = strdup(found);
	if (!name)
		return fail(EXIT_RUNTIME, "out of memory");
	r = tmap_session_release(req->session, name, &err);
	/* The shared guests that grew back over its PUs, as apply says those it narrowed. */
	print_notices(req);
	if (r < 0) {
		free(name);
		return fail_step(req, r, &err);
	}
	snprintf(line, sizeof(line), "released '%s'\n", name);
	free(name);
	return emit(line);
}

static int
do_reserve(struct plan_request *req, const char *add, const char *remove)
{
	struct tmap_error err = {0};
	const char *now;
	char line[4200];
	int r;

	if (!tmap_session_state_path(req->session))
		return fail(EXIT_USAGE, "reserve: no state file for this host (give --state)");
	if (add || remove) {
		r = tmap_session_set_reserve(req->session, add, remove, &err);
		/* the shared guests that followed the pool the reserve changed */
		print_notices(req);
		if (r < 0)
			return fail_step(req, r, &err);
	}
	now = tmap_session_reserve(req->session);
	snprintf(line, sizeof(line), "reserved: %s\n", now ? now : "none");
	return emit(line);
}

/* state, release NAME, reserve [--add LIST] [--remove LIST]. */
int
cmd_ledger(const char *cmd, int argc, char *argv[])
{
	struct plan_request req = {
		.cmd = CMD_PLAN,
		.source = "live",
		.solve = TMAP_SOLVE_OPTIONS_INIT,
	};
	const char *add = NULL, *remove = NULL;
	bool release = strcmp(cmd, "release") == 0, reserve = strcmp(cmd, "reserve") == 0;
	int format = TMAP_FORMAT_TABLE, r;
	struct tmap_error err = {0};
	char *text = NULL;

	r = state_options(cmd, argc, argv, &req, &format, &add, &remove);
	if (r != EXIT_OK)
		return r == -1 ? EXIT_OK : r;
	if (release && optind + 1 != argc)
		return fail(EXIT_USAGE, "release: give exactly one guest name");
	if (!release && optind != argc)
		return fail(EXIT_USAGE, "%s: unexpected argument '%s'", cmd, argv[optind]);
	r = open_session(&req, release || (reserve && (add || remove)));
	if (r != EXIT_OK)
		goto out;
	if (release) {
		r = do_release(&req, argv[optind]);
	} else if (reserve) {
		r = do_reserve(&req, add, remove);
	} else if (tmap_host_format(tmap_session_host(req.session), format, table_flags(), &text,
				    &err) < 0) {
		r = fail(EXIT_RUNTIME, "%s", err.message);
	} else {
		r = emit(text);
	}
out:
	free(text);
	close_session(&req);
	return r;
}
