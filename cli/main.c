/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * topomap: the command-line shell around libtopomap.
 *
 * The tool only parses its arguments, hands them to the library and prints what comes back.
 * It uses nothing but the public API, so whatever it does an orchestrator linking the
 * library can do too.
 *
 * Output rules, which scripts depend on:
 * - the result is written to stdout in one go, and only once everything has succeeded, so a
 *   failed run never leaves half a plan behind;
 * - a failure is exactly one line on stderr, "topomap: <message>";
 * - exit codes: 0 ok, 1 runtime error, 2 bad input or usage, 3 the guests do not fit, 4 drift,
 *   5 an apply failed and what was there could not all be put back.
 */
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <spawn.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <topomap/backend.h>
#include <topomap/topomap.h>

#include "cli.h"

#define TAKE_TEXT(p) ({ char *_t = (p); (p) = NULL; _t; })

static const char *const command_names[] = {"plan", "apply", "verify"};

static int
load_topology(const char *source, struct tmap_topology **ret)
{
	struct tmap_error err = {0};
	int r = tmap_topology_new(source, 0, ret, &err);

	if (r < 0)
		return fail_lib(r, strcmp(source, "live") != 0, &err, source);
	/* What hwloc complained of, or a caller confined to fewer PUs than the host has. */
	for (size_t i = 0; i < tmap_topology_warning_count(*ret); i++)
		fprintf(stderr, "topomap: warning: %s\n", tmap_topology_warning(*ret, i));
	return EXIT_OK;
}


static int
cmd_topology(int argc, char *argv[])
{
	static const struct option options[] = {
		{"topology", required_argument, NULL, OPT_TOPOLOGY},
		{"format", required_argument, NULL, OPT_FORMAT},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *source = NULL, *format_arg = NULL;
	struct tmap_topology *topology = NULL;
	struct tmap_error err = {0};
	int format = TMAP_FORMAT_TABLE;
	char *text = NULL;
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
		switch (c) {
		case OPT_TOPOLOGY:
			if (source)
				return fail(EXIT_USAGE,
					    "topology: --topology given more than once");
			source = optarg;
			r = check_source(source);
			if (r != EXIT_OK)
				return r;
			break;
		case OPT_FORMAT:
			if (format_arg)
				return fail(EXIT_USAGE, "topology: --format given more than once");
			format_arg = optarg;
			r = parse_choice("--format", optarg, topology_formats, &format);
			if (r != EXIT_OK)
				return r;
			break;
		case 'h':
			return emit(topology_help);
		case ':':
			return missing_value("topology", argv, optind);
		default:
			return unknown_option("topology", options, optopt, argv, optind);
		}
	}
	if (optind < argc)
		return fail(EXIT_USAGE, "topology: unexpected argument '%s'", argv[optind]);

	r = load_topology(source ? source : "live", &topology);
	if (r != EXIT_OK)
		return r;
	r = tmap_topology_format(topology, format, 0, &text, &err);
	tmap_topology_free(topology);
	if (r < 0)
		return fail_lib(r, false, &err, "topology");
	r = format == TMAP_FORMAT_TABLE ? emit_table(text) : emit(text);
	free(text);
	return r;
}

/* What plan, apply and verify share: options, guests, topology, the plan. */
struct plan_request {
	enum command cmd;
	const char *state_path;		/* --state, or NULL for the default */
	bool batch;			/* --batch: as many as fit, the rest listed */
	struct tmap_topology *topology;
	struct tmap_host *host;		/* what the state holds, plus the plan's guests */
	struct tmap_state *state;	/* NULL: no state file in use */
	const char *source;
	const char *backend;
	bool dry_run;
	bool all;			/* verify --all: every recorded guest */
	int format;
	struct tmap_solve_options solve;
	struct inline_guest ig;
	struct tmap_target *target;
	struct tmap_guests *guests;	/* the guests asked for (apply: the one recorded) */
	bool placed_before;		/* apply: the state held the guest already */
	char *reserve;			/* the state's reserve with --reserve: what is recorded */
};

static bool
option_allowed(enum command cmd, int c)
{
	switch (c) {
	case OPT_FORMAT:
	case OPT_BATCH:
		return cmd == CMD_PLAN;
	case OPT_BACKEND:
		return cmd != CMD_PLAN;
	case OPT_DRY_RUN:
		return cmd == CMD_APPLY;
	case OPT_ALL:
		return cmd == CMD_VERIFY;
	default:
		if (c >= OPT_TARGET_FIRST && c < OPT_TARGET_END)
			return cmd != CMD_PLAN;
		return true;
	}
}

static int
parse_request(int argc, char *argv[], struct plan_request *req)
{
	static const struct option options[] = {
		{"topology", required_argument, NULL, OPT_TOPOLOGY},
		{"format", required_argument, NULL, OPT_FORMAT},
		{"reserve", required_argument, NULL, OPT_RESERVE},
		{"name", required_argument, NULL, OPT_NAME},
		{"vcpus", required_argument, NULL, OPT_VCPUS},
		{"sockets", required_argument, NULL, OPT_SOCKETS},
		{"cores", required_argument, NULL, OPT_CORES},
		{"threads", required_argument, NULL, OPT_THREADS},
		{"memory", required_argument, NULL, OPT_MEMORY},
		{"cells", required_argument, NULL, OPT_CELLS},
		{"cell", required_argument, NULL, OPT_CELL},
		{"cpu-policy", required_argument, NULL, OPT_CPU_POLICY},
		{"thread-policy", required_argument, NULL, OPT_THREAD_POLICY},
		{"emulator", required_argument, NULL, OPT_EMULATOR},
		{"iothreads", required_argument, NULL, OPT_IOTHREADS},
		{"memory-mode", required_argument, NULL, OPT_MEMORY_MODE},
		{"hugepages", required_argument, NULL, OPT_HUGEPAGES},
		{"shares", required_argument, NULL, OPT_SHARES},
		{"period", required_argument, NULL, OPT_PERIOD},
		{"quota", required_argument, NULL, OPT_QUOTA},
		{"state", required_argument, NULL, OPT_STATE},
		{"batch", no_argument, NULL, OPT_BATCH},
		{"backend", required_argument, NULL, OPT_BACKEND},
		{"dry-run", no_argument, NULL, OPT_DRY_RUN},
		{"all", no_argument, NULL, OPT_ALL},
		{"cgroup", required_argument, NULL, OPT_CGROUP},
		{"create", no_argument, NULL, OPT_CREATE},
		{"layout", required_argument, NULL, OPT_LAYOUT},
		{"memory-migrate", no_argument, NULL, OPT_MEMORY_MIGRATE},
		{"qmp", required_argument, NULL, OPT_QMP},
		{"pid", required_argument, NULL, OPT_PID},
		{"connect", required_argument, NULL, OPT_CONNECT},
		{"domain", required_argument, NULL, OPT_DOMAIN},
		{"live", no_argument, NULL, OPT_LIVE},
		{"config", no_argument, NULL, OPT_CONFIG},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static const char *const helps[] = {plan_help, apply_help, verify_help};
	const char *cmd = command_names[req->cmd];
	bool seen[OPT_END - OPT_TOPOLOGY] = {false};
	int c, r = EXIT_OK;

	opterr = 0;
	while (r == EXIT_OK && (c = getopt_long(argc, argv, ":ho:", options, NULL)) != -1) {
		const char *name = argv[optind - 1];

		/* -o KEY[=VALUE]: any target option a backend declares, as mount -o does. */
		if (c == 'o') {
			char key[65];
			const char *eq = strchr(optarg, '=');
			size_t len = eq ? (size_t)(eq - optarg) : strlen(optarg);

			if (req->cmd == CMD_PLAN)
				return fail(EXIT_USAGE, "plan: -o is not an option of plan");
			if (len == 0 || len >= sizeof(key))
				return fail(EXIT_USAGE, "%s: -o '%s' is not KEY or KEY=VALUE", cmd, optarg);
			memcpy(key, optarg, len);
			key[len] = '\0';
			/* One value a key: "-o cgroup=X" beside "--cgroup Y" is a mistake. */
			if (tmap_target_get(req->target, key))
				return fail(EXIT_USAGE, "%s: target option '%s' given more than once (-o %s and --%s, or twice)",
					    cmd, key, optarg, key);
			r = tmap_target_set(req->target, key, eq ? eq + 1 : "");
			if (r == -EINVAL)
				return fail(EXIT_USAGE, "%s: -o '%s': the key is lowercase letters, digits and '-'",
					    cmd, optarg);
			if (r < 0)
				return fail(EXIT_RUNTIME, "out of memory");
			continue;
		}
		/* "--format=json" and "--format json" are both fine; name the option alone. */
		if (c >= OPT_TOPOLOGY && c < OPT_END) {
			for (const struct option *o = options; o->name; o++)
				if (o->val == c)
					name = o->name;
			if (!option_allowed(req->cmd, c))
				return fail(EXIT_USAGE, "%s: --%s is not an option of %s (see 'topomap %s --help')",
					    cmd, name, cmd, cmd);
			if (seen[c - OPT_TOPOLOGY] && c != OPT_CELL)
				return fail(EXIT_USAGE, "%s: --%s given more than once", cmd, name);
			seen[c - OPT_TOPOLOGY] = true;
		}
		if (c >= OPT_TARGET_FIRST && c < OPT_TARGET_END) {
			if (optarg && !optarg[0])
				return fail(EXIT_USAGE, "%s: --%s needs a value", cmd, name);
			if (tmap_target_get(req->target, name))
				return fail(EXIT_USAGE, "%s: target option '%s' given more than once (-o %s and --%s, or twice)",
					    cmd, name, name, name);
			if (tmap_target_set(req->target, name, optarg ? optarg : "") < 0)
				return fail(EXIT_RUNTIME, "out of memory");
			continue;
		}
		switch (c) {
		case OPT_TOPOLOGY:
			req->source = optarg;
			r = check_source(req->source);
			break;
		case OPT_FORMAT:
			r = parse_choice("--format", optarg, formats, &req->format);
			break;
		case OPT_RESERVE:
			/* An empty set is "reserve nothing", handy in scripts. */
			if (optarg[0] && !is_list(optarg))
				r = fail(EXIT_USAGE,
					 "--reserve: '%s' is not a list of host PUs such as 0,12 or 0-3",
					 optarg);
			req->solve.reserve = optarg[0] ? optarg : NULL;
			break;
		case OPT_BATCH:
			req->batch = true;
			break;
		case OPT_STATE:
			if (!optarg[0])
				return fail(EXIT_USAGE, "%s: --state needs a file", cmd);
			req->state_path = optarg;
			break;
		case OPT_BACKEND:
			req->backend = optarg;
			break;
		case OPT_DRY_RUN:
			req->dry_run = true;
			break;
		case OPT_ALL:
			req->all = true;
			break;
		case 'h':
			r = emit(helps[req->cmd]);
			return r == EXIT_OK ? -1 : r;
		case ':':
			r = missing_value(cmd, argv, optind);
			break;
		case '?':
			r = unknown_option(cmd, options, optopt, argv, optind);
			break;
		default: {
			char option[32];

			snprintf(option, sizeof(option), "--%s", name);
			r = inline_option(c, option, optarg, &req->ig);
			break;
		}
		}
	}
	if (r != EXIT_OK)
		return r;
	if (req->all) {
		if (req->backend || tmap_target_count(req->target) || req->ig.given || optind < argc)
			return fail(EXIT_USAGE,
				    "verify: --all verifies every recorded guest through its recorded target: it takes no guest, --backend or target option");
		return EXIT_OK;
	}
	if (req->cmd != CMD_PLAN && !req->backend)
		return fail(EXIT_USAGE, "%s: --backend NAME is required (see 'topomap backends')",
			    cmd);
	/* apply and verify may read the guest from the target (a running QEMU or domain). */
	if (req->cmd == CMD_PLAN && !req->ig.given && optind >= argc)
		return fail(EXIT_USAGE, "%s: no guest given: use --name and --vcpus, or JSON files",
			    cmd);
	return EXIT_OK;
}

/*
 * The allocation state: --state FILE, or for the live host TOPOMAP_STATE or the default
 * file. Another host (synthetic, XML) uses one only when asked, as the default belongs to
 * this machine. apply locks it for writing; plan and verify for reading.
 */
static int
open_state(struct plan_request *req, bool write)
{
	const char *path = req->state_path;
	struct tmap_error err = {0};
	int r;

	if (!path) {
		if (strcmp(req->source, "live") != 0)
			return EXIT_OK;
		path = secure_getenv("TOPOMAP_STATE");
		if (!path || !path[0])
			path = TOPOMAP_STATE_DEFAULT;
	}
	r = tmap_state_open(path, write ? TMAP_STATE_WRITE : 0, &req->state, &err);
	if (r < 0)
		return fail(EXIT_RUNTIME, "%s", err.message);
	return EXIT_OK;
}

/* The host as the state holds it, with the state's reserve and --reserve. */
static int
open_host(struct plan_request *req)
{
	struct tmap_solve_options opts = req->solve;
	const char *kept = NULL;
	struct tmap_error err = {0};
	char *reserve = NULL;
	int r;

	r = open_state(req, req->cmd == CMD_APPLY && !req->dry_run);
	if (r != EXIT_OK)
		return r;
	/* The recorded reserve is the union of every --reserve ever given. */
	kept = req->state ? tmap_state_reserve(req->state) : NULL;
	if (kept && kept[0] && opts.reserve) {
		if (asprintf(&reserve, "%s,%s", kept, opts.reserve) < 0)
			return fail(EXIT_RUNTIME, "out of memory");
		opts.reserve = reserve;
	} else if (kept && kept[0]) {
		opts.reserve = kept;
	}
	r = tmap_host_new(req->topology, &opts, &req->host, &err);
	req->reserve = reserve ? reserve : opts.reserve ? strdup(opts.reserve) : NULL;
	if (r < 0)
		return fail_lib(r, true, &err, "host");
	if (req->state && tmap_state_load(req->state, req->host, &err) < 0)
		return fail(EXIT_RUNTIME, "%s", err.message);
	return EXIT_OK;
}

/* Guests (inline first, then files), topology, plan. */
static int
make_plan(struct plan_request *req, const struct tmap_backend_module *module, int argc,
	  char *argv[], struct tmap_plan **ret)
{
	struct tmap_guests *guests = NULL;
	struct tmap_error err = {0};
	int r;

	/* Guests first: they are the user's input, and cheaper to check than a live host. */
	if (tmap_guests_new(&guests) < 0)
		return fail(EXIT_RUNTIME, "out of memory");
	/* With a backend, inline options without --name go onto the guest it reads (below). */
	if (req->ig.given && (req->ig.name || !module)) {
		r = add_inline_guest(&req->ig, guests);
		if (r != EXIT_OK)
			goto out;
	}
	for (int i = optind; i < argc; i++) {
		if (strcmp(argv[i], "-") == 0) {
			r = add_stdin_guests(guests);
			if (r != EXIT_OK)
				goto out;
			continue;
		}
		r = tmap_guests_load_json(guests, argv[i], &err);
		if (r < 0) {
			r = fail_lib(r, true, &err, argv[i]);
			goto out;
		}
	}
	if (module && tmap_guests_count(guests) == 0) {
		struct tmap_guest *g = NULL;

		r = tmap_backend_describe(module, req->target, &g, &err);
		/* A target that does not exist is the user's input, as it is when a guest is given. */
		if (r == -EOPNOTSUPP || r == -EINVAL || r == -ENOENT || r == -ENOTDIR || r == -ESRCH) {
			r = fail(EXIT_USAGE, "%s: %s", command_names[req->cmd], err.message);
			goto out;
		}
		if (r < 0) {
			r = fail(EXIT_RUNTIME, "%s", err.message);
			goto out;
		}
		if (req->ig.given) {
			r = overlay_inline_guest(&req->ig, command_names[req->cmd], req->backend, g);
			if (r != EXIT_OK) {
				tmap_guest_free(g);
				goto out;
			}
		}
		/* A guest the options changed is refused as the user's input. */
		r = tmap_guests_add(guests, g, &err);
		if (r < 0) {
			tmap_guest_free(g);
			r = fail_lib(r, req->ig.given, &err, "guest");
			goto out;
		}
		r = EXIT_OK;
	} else if (req->ig.given && !req->ig.name) {
		/* Guest files given with a backend: the options belong to no guest. */
		r = fail(EXIT_USAGE, "inline guest options need --name");
		goto out;
	}
	/* A container or a domain is one guest: a target takes exactly one. */
	if (req->cmd != CMD_PLAN && tmap_guests_count(guests) != 1) {
		r = fail(EXIT_USAGE, "%s: a target holds exactly one guest; %zu were given",
			 command_names[req->cmd], tmap_guests_count(guests));
		goto out;
	}

	r = load_topology(req->source, &req->topology);
	if (r != EXIT_OK)
		goto out;
	r = open_host(req);
	if (r != EXIT_OK)
		goto out;
	for (size_t i = 0; i < tmap_host_guest_count(req->host); i++)
		if (strcmp(tmap_host_guest_name(req->host, i),
			   tmap_guest_name(tmap_guests_get(guests, 0))) == 0)
			req->placed_before = true;
	/* verify compares with what apply recorded, not with a decision made again now; a
	 * guest the state does not hold was never applied here. */
	if (req->cmd == CMD_VERIFY && req->state) {
		const char *name = tmap_guest_name(tmap_guests_get(guests, 0));

		if (!req->placed_before) {
			r = fail(EXIT_USAGE,
				 "verify: no guest '%s' is recorded in the state of this host (apply it first; 'topomap state' lists the guests)",
				 name);
			goto out;
		}
		r = tmap_host_guest_plan(req->host, name, ret, &err);
		r = r < 0 ? fail(EXIT_RUNTIME, "%s", err.message) : EXIT_OK;
		goto out;
	}
	/* Say it when the plan places around guests applied earlier: "0 free PUs" on a host
	 * that looks idle has a reason. */
	if (req->cmd == CMD_PLAN && req->state && tmap_host_guest_count(req->host))
		fprintf(stderr,
			"topomap: placed around %zu guest%s recorded in the state of this host ('topomap state' lists them)\n",
			tmap_host_guest_count(req->host),
			tmap_host_guest_count(req->host) == 1 ? "" : "s");
	/* apply again keeps a guest where it is when it asks for what it was given (a new
	 * cputune does not move it), else places it anew with what it held free. */
	if (req->cmd == CMD_APPLY && !req->batch) {
		r = tmap_host_place_again(req->host, tmap_guests_get(guests, 0), ret, &err);
	} else if (req->batch) {
		if (req->cmd == CMD_APPLY)
			tmap_host_release(req->host, tmap_guest_name(tmap_guests_get(guests, 0)));
		r = tmap_host_solve_batch(req->host, guests, ret, &err);
	} else {
		r = tmap_host_solve(req->host, guests, ret, &err);
	}
	if (r == -ENOSPC)
		r = fail(EXIT_NOFIT, "%s", err.message[0] ? err.message : "the guests do not fit");
	else if (r < 0)
		r = fail_lib(r, true, &err, "plan");
	else
		r = EXIT_OK;
out:
	if (r == EXIT_OK)
		req->guests = guests;
	else
		tmap_guests_free(guests);
	return r;
}

/*
 * A failed transaction. The step decides, not the errno (kernels differ in which one they
 * return): a target refused before anything was written (bad option, or the backend's open
 * refusing the path) is the user's input, exit 2; a failure once writes began is a runtime
 * error, exit 1, whatever its errno; and when what was there could not be put back, the
 * target is left partly changed, exit 5, for the operator (or the script) to look at it.
 */
static int
fail_transaction(int r, const struct tmap_error *err, const struct tmap_report *report,
		 const char *what)
{
	const char *msg = err->message[0] ? err->message : what;
	bool before_writes = !strchr(msg, ':') || strncmp(msg, "open: ", 6) == 0;
	/* A target that is not there (a missing cgroup, a QEMU that has exited) is the user's
	 * to name again, like a bad path. */
	bool bad_input = r == -EINVAL || r == -ENOENT || r == -ENOTDIR || r == -ELOOP ||
			 r == -EXDEV || r == -ESRCH;

	if (tmap_report_restore_failed(report))
		return fail(EXIT_LEFT_CHANGED, "%s", msg);
	return fail(before_writes && bad_input ? EXIT_USAGE : EXIT_RUNTIME, "%s", msg);
}

static int
run_backend(const struct plan_request *req, const struct tmap_backend_module *module,
	    const struct tmap_plan *plan, char **ret_text)
{
	struct tmap_report *report = NULL;
	struct tmap_error err = {0};
	const char *name = tmap_plan_guest_name(plan, 0);
	char header[256];
	char *text = NULL;
	int r;

	if (req->cmd == CMD_APPLY) {
		r = tmap_apply(module, req->target, plan, 0, req->dry_run ? TMAP_APPLY_DRY_RUN : 0,
			       &report, &err);
		if (r < 0) {
			r = fail_transaction(r, &err, report, "apply failed");
			goto out;
		}
		snprintf(header, sizeof(header), req->dry_run ?
			 "guest '%s', backend '%s': dry run, these writes would be made:" :
			 "guest '%s', backend '%s': applied and read back:", name, req->backend);
		text = report_text(header, tmap_report_write_count(report), tmap_report_write, report);
		/* What the target takes at its next start (libvirt memory of a running domain). */
		for (size_t i = 0; text && i < tmap_report_pending_count(report); i++) {
			char *more = NULL;

			if (asprintf(&more, "%s  pending: %s\n", text, tmap_report_pending(report, i)) < 0)
				more = NULL;
			free(text);
			text = more;
		}
	} else {
		r = tmap_verify(module, req->target, plan, 0, 0, &report, &err);
		if (r < 0) {
			r = fail_transaction(r, &err, report, "verify failed");
			goto out;
		}
		if (r == 1) {
			snprintf(header, sizeof(header), "guest '%s', backend '%s': the plan is not in force:",
				 name, req->backend);
			text = report_text(header, tmap_report_drift_count(report), tmap_report_drift,
					   report);
		} else {
			snprintf(header, sizeof(header), "guest '%s', backend '%s': the plan is in force",
				 name, req->backend);
			text = report_text(header, 0, tmap_report_drift, report);
		}
	}
	if (!text) {
		r = fail(EXIT_RUNTIME, "out of memory");
		goto out;
	}
	if (req->cmd == CMD_VERIFY) {
		r = emit(text);
		if (r == EXIT_OK && tmap_report_drift_count(report))
			r = fail(EXIT_DRIFT, "guest '%s' drifted from its plan: %zu difference%s",
				 name, tmap_report_drift_count(report),
				 tmap_report_drift_count(report) == 1 ? "" : "s");
	} else {
		*ret_text = TAKE_TEXT(text);
		r = EXIT_OK;
	}
out:
	free(text);
	tmap_report_free(report);
	return r;
}

/* One recorded guest through the backend and target it was applied with: a line on out;
 * 0 in force, 1 drifted, -1 not checked. */
int
verify_recorded(struct tmap_state *state, const struct tmap_host *host, const char *name,
		FILE *out)
{
	struct tmap_backend_module *module = NULL;
	struct tmap_target *target = NULL;
	struct tmap_report *report = NULL;
	struct tmap_plan *plan = NULL;
	struct tmap_error err = {0};
	const char *backend;
	int r;

	r = tmap_state_guest_target(state, name, &backend, &target, &err);
	if (r == 0)
		r = tmap_backend_load(backend, &module, &err);
	if (r == 0)
		r = tmap_host_guest_plan(host, name, &plan, &err);
	if (r == 0)
		r = tmap_verify(module, target, plan, 0, 0, &report, &err);
	if (r < 0)
		fprintf(out, "%-20s not checked: %s\n", name, err.message);
	else if (r == 0)
		fprintf(out, "%-20s in force (backend '%s')\n", name, backend);
	else
		fprintf(out, "%-20s drifted (backend '%s'): %zu difference%s, first: %s\n", name,
			backend, tmap_report_drift_count(report),
			tmap_report_drift_count(report) == 1 ? "" : "s", tmap_report_drift(report, 0));
	tmap_report_free(report);
	tmap_plan_free(plan);
	tmap_backend_unload(module);
	tmap_target_free(target);
	return r < 0 ? -1 : r;
}

/* verify --all: every guest the state holds, one line each; exit 4 when any drifted, 1 when
 * any could not be checked. */
static int
verify_all(struct plan_request *req)
{
	size_t drifted = 0, unchecked = 0;
	char *text = NULL;
	size_t len = 0;
	FILE *out;
	int r;

	r = load_topology(req->source, &req->topology);
	if (r == EXIT_OK)
		r = open_host(req);
	if (r != EXIT_OK)
		return r;
	if (!req->state)
		return fail(EXIT_USAGE, "verify: --all needs a state (this host has none; give --state)");
	out = open_memstream(&text, &len);
	if (!out)
		return fail(EXIT_RUNTIME, "out of memory");
	for (size_t i = 0; i < tmap_host_guest_count(req->host); i++) {
		int v = verify_recorded(req->state, req->host, tmap_host_guest_name(req->host, i),
					out);

		drifted += v == 1;
		unchecked += v < 0;
	}
	if (fclose(out) != 0) {
		free(text);
		return fail(EXIT_RUNTIME, "out of memory");
	}
	r = emit(text ? text : "");
	free(text);
	if (r != EXIT_OK)
		return r;
	if (drifted)
		return fail(EXIT_DRIFT, "%zu of %zu recorded guests drifted from their plans", drifted,
			    tmap_host_guest_count(req->host));
	if (unchecked)
		return fail(EXIT_RUNTIME, "%zu of %zu recorded guests could not be checked",
			    unchecked, tmap_host_guest_count(req->host));
	return EXIT_OK;
}

/*
 * apply with a state: nothing applied goes unrecorded. A new guest is recorded as pending
 * and saved before the backend writes anything; once the backend read the plan back it is
 * recorded as applied (with the reserve, the union of every --reserve) and saved; only then
 * is the report printed, so a report that cannot be printed never undoes what is in force.
 * A failed apply releases the new guest again. A guest the state held already keeps its
 * recorded allocation until the backend put its new plan in force.
 */
static int
apply_recorded(struct plan_request *req, const struct tmap_backend_module *module,
	       const struct tmap_plan *plan)
{
	const struct tmap_guest *guest = tmap_guests_get(req->guests, 0);
	struct tmap_error err = {0};
	char *text = NULL;
	int r;

	if (!req->placed_before) {
		if (tmap_state_record(req->state, module, req->target, guest, TMAP_STATE_PENDING,
				      &err) < 0 ||
		    tmap_state_save(req->state, req->host, &err) < 0)
			return fail(EXIT_RUNTIME, "nothing was applied: the guest could not be recorded first: %s",
				    err.message);
	}
	r = run_backend(req, module, plan, &text);
	if (r != EXIT_OK) {
		if (!req->placed_before) {
			tmap_host_release(req->host, tmap_guest_name(guest));
			if (tmap_state_save(req->state, req->host, &err) < 0)
				fprintf(stderr,
					"topomap: the guest stays recorded as pending (the next apply settles it): %s\n",
					err.message);
		}
		return r;
	}
	if (tmap_state_record(req->state, module, req->target, guest, 0, &err) < 0 ||
	    tmap_state_set_reserve(req->state, req->reserve, &err) < 0 ||
	    tmap_state_save(req->state, req->host, &err) < 0) {
		free(text);
		return fail(EXIT_RUNTIME, "applied, but the state could not record it as applied%s: %s",
			    req->placed_before ? "" : " (it stays recorded as pending)", err.message);
	}
	r = emit_done(text, "applied and recorded");
	free(text);
	return r;
}

static int
cmd_guests(enum command cmd, int argc, char *argv[])
{
	struct plan_request req = {
		.cmd = cmd,
		.source = "live",
		.format = TMAP_FORMAT_TABLE,
		.solve = TMAP_SOLVE_OPTIONS_INIT,
	};
	struct tmap_backend_module *module = NULL;
	struct tmap_plan *plan = NULL;
	struct tmap_error err = {0};
	char *text = NULL;
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
	if (r == EXIT_OK && req.backend) {
		r = tmap_backend_load(req.backend, &module, &err);
		if (r < 0)
			r = fail(r == -EINVAL || r == -ENOENT ? EXIT_USAGE : EXIT_RUNTIME, "%s",
				 err.message);
	}
	if (r == EXIT_OK)
		r = make_plan(&req, module, argc, argv, &plan);
	if (r != EXIT_OK)
		goto out;
	if (cmd == CMD_APPLY && !req.dry_run && req.state) {
		r = apply_recorded(&req, module, plan);
		goto out;
	}
	if (cmd != CMD_PLAN) {
		r = run_backend(&req, module, plan, &text);
		if (r == EXIT_OK && text)
			r = emit(text);
		goto out;
	}
	if (req.format == FORMAT_SVG || req.format == FORMAT_PNG) {
		r = draw_plan(req.topology, plan, req.solve.reserve,
			      req.state ? tmap_state_reserve(req.state) : NULL, req.format);
	} else {
		r = tmap_plan_format(plan, req.format, 0, &text, &err);
		if (r < 0) {
			r = fail_lib(r, true, &err, "plan");
			goto out;
		}
		r = req.format == TMAP_FORMAT_TABLE ? emit_table(text) : emit(text);
	}
	/* --batch: the plan of those that fit is the result; exit 3 says some did not. */
	if (r == EXIT_OK && tmap_plan_rejected_count(plan))
		r = fail(EXIT_NOFIT, "%zu of %zu guests do not fit; the plan lists them",
			 tmap_plan_rejected_count(plan),
			 tmap_plan_rejected_count(plan) + tmap_plan_guest_count(plan));
out:
	free(text);
	free(req.reserve);
	tmap_guests_free(req.guests);
	tmap_plan_free(plan);
	tmap_state_close(req.state);
	tmap_host_free(req.host);
	tmap_topology_free(req.topology);
	tmap_backend_unload(module);
	tmap_target_free(req.target);
	inline_guest_clear(&req.ig);
	return r;
}

static int
print_backend(const char *path, const struct tmap_backend_module *module,
	      const struct tmap_error *load_error, void *userdata)
{
	FILE *out = userdata;
	const struct tmap_backend *b = tmap_backend_descriptor(module);
	struct tmap_error err = {0};

	if (!module) {
		fprintf(out, "%-14s %-4s %s\n  refused: %s\n", "?", "-", path, load_error->message);
		return 0;
	}
	fprintf(out, "%-14s %-4u %s\n  %s\n", b->name, b->abi, path, b->summary ? b->summary : "");
	if (b->probe(&err) == 0)
		fprintf(out, "  ready on this host\n");
	else
		fprintf(out, "  not usable here: %s\n", err.message[0] ? err.message : "(no reason given)");
	return 0;
}

static int
cmd_backends(int argc, char *argv[])
{
	struct tmap_error err = {0};
	char *text = NULL;
	size_t len = 0;
	FILE *out;
	int r;

	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
		return emit(backends_help);
	if (argc > 1)
		return fail(EXIT_USAGE, "backends: unexpected argument '%s'", argv[1]);
	out = open_memstream(&text, &len);
	if (!out)
		return fail(EXIT_RUNTIME, "out of memory");
	fprintf(out, "%-14s %-4s %s\n", "BACKEND", "ABI", "PATH");
	r = tmap_backend_foreach(print_backend, out, &err);
	if (fclose(out) != 0 && r == 0)
		r = -ENOMEM;
	if (r < 0) {
		free(text);
		return fail(EXIT_RUNTIME, "%s", err.message[0] ? err.message : strerror(-r));
	}
	r = emit(text);
	free(text);
	return r;
}

/*
 * The recorded guest `what` names: its own name, or the libvirt domain (name or UUID) it was
 * applied to, as libvirt's hook knows a domain whose name is not a valid guest name (the
 * guest is then recorded under the domain's UUID).
 */
static const char *
recorded_name(struct plan_request *req, const char *what)
{
	for (size_t i = 0; i < tmap_host_guest_count(req->host); i++)
		if (strcmp(tmap_host_guest_name(req->host, i), what) == 0)
			return what;
	for (size_t i = 0; i < tmap_host_guest_count(req->host); i++) {
		const char *name = tmap_host_guest_name(req->host, i), *backend, *domain;
		struct tmap_target *target = NULL;
		bool match;

		if (tmap_state_guest_target(req->state, name, &backend, &target, NULL) < 0)
			continue;
		domain = tmap_target_get(target, "domain");
		match = strcmp(backend, "libvirt") == 0 && domain && strcmp(domain, what) == 0;
		tmap_target_free(target);
		if (match)
			return name;
	}
	return NULL;
}

/* state and release: the allocation state, no guest, no backend. */
static int
cmd_state(bool release, int argc, char *argv[])
{
	static const struct option options[] = {
		{"state", required_argument, NULL, OPT_STATE},
		{"topology", required_argument, NULL, OPT_TOPOLOGY},
		{"format", required_argument, NULL, OPT_FORMAT},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *cmd = release ? "release" : "state";
	struct plan_request req = {
		.cmd = release ? CMD_APPLY : CMD_PLAN,
		.source = "live",
		.solve = TMAP_SOLVE_OPTIONS_INIT,
	};
	struct tmap_error err = {0};
	int format = TMAP_FORMAT_TABLE, c, r = EXIT_OK;
	const char *name = NULL;
	char *released = NULL;	/* the recorded name, which the release frees in the host */
	bool topology_given = false, format_given = false;
	char *text = NULL;

	opterr = 0;
	while (r == EXIT_OK && (c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
		switch (c) {
		case OPT_STATE:
			if (req.state_path)
				return fail(EXIT_USAGE, "%s: --state given more than once", cmd);
			req.state_path = optarg;
			break;
		case OPT_TOPOLOGY:
			if (topology_given)
				return fail(EXIT_USAGE, "%s: --topology given more than once", cmd);
			topology_given = true;
			req.source = optarg;
			r = check_source(optarg);
			break;
		case OPT_FORMAT:
			if (format_given)
				return fail(EXIT_USAGE, "%s: --format given more than once", cmd);
			format_given = true;
			r = release ? fail(EXIT_USAGE, "release: --format is not an option of release")
				    : parse_choice("--format", optarg, topology_formats, &format);
			break;
		case 'h':
			return emit(state_help);
		case ':':
			return missing_value(cmd, argv, optind);
		default:
			return unknown_option(cmd, options, optopt, argv, optind);
		}
	}
	if (r != EXIT_OK)
		return r;
	if (release) {
		if (optind + 1 != argc)
			return fail(EXIT_USAGE, "release: give exactly one guest name");
		name = argv[optind];
	} else if (optind != argc) {
		return fail(EXIT_USAGE, "state: unexpected argument '%s'", argv[optind]);
	}
	r = load_topology(req.source, &req.topology);
	if (r == EXIT_OK)
		r = open_host(&req);
	if (r != EXIT_OK)
		goto out;
	if (release) {
		if (!req.state) {
			r = fail(EXIT_USAGE, "release: no state file for this host (give --state)");
		} else if (!(name = recorded_name(&req, name)) || !(name = released = strdup(name))) {
			r = fail(EXIT_USAGE, "release: no guest '%s' in the state", argv[optind]);
		} else if (tmap_host_release(req.host, name) < 0) {
			r = fail(EXIT_USAGE, "release: no guest '%s' in the state", name);
		} else if (tmap_state_save(req.state, req.host, &err) < 0) {
			r = fail(EXIT_RUNTIME, "%s", err.message);
		} else {
			char line[160];

			snprintf(line, sizeof(line), "released '%s'\n", name);
			r = emit(line);
		}
		goto out;
	}
	if (tmap_host_format(req.host, format, 0, &text, &err) < 0)
		r = fail(EXIT_RUNTIME, "%s", err.message);
	else
		r = format == TMAP_FORMAT_TABLE ? emit_table(text) : emit(text);
out:
	free(text);
	free(released);
	free(req.reserve);
	tmap_state_close(req.state);
	tmap_host_free(req.host);
	tmap_topology_free(req.topology);
	return r;
}

int
main(int argc, char *argv[])
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	/*
	 * A peer that goes away (a libvirtd killed in the middle of an apply, a reader of our
	 * output that quit) must be an error that is reported, after the restore, not a signal
	 * that ends topomap between two writes of a transaction. libvirt's client writes to its
	 * daemon's socket with plain write(), and asks its users to ignore SIGPIPE.
	 */
	signal(SIGPIPE, SIG_IGN);
	/*
	 * Started with stdin, stdout or stderr closed, the next file topomap opens (a cgroup
	 * file, the state) would take that number and receive the report or an error. Hold
	 * each closed one with /dev/null opened read-only: a write to it fails, and is reported
	 * as a write that failed.
	 */
	for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF &&
		    open("/dev/null", O_RDONLY | O_NOCTTY) < 0)
			return EXIT_RUNTIME;
	if (!cmd)
		return fail(EXIT_USAGE, "missing command (see 'topomap --help')");
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0)
		return emit(main_help);
	if (strcmp(cmd, "--version") == 0) {
		char line[64];

		snprintf(line, sizeof(line), "topomap %s\n", tmap_version());
		return emit(line);
	}
	if (strcmp(cmd, "topology") == 0)
		return cmd_topology(argc - 1, argv + 1);
	if (strcmp(cmd, "plan") == 0)
		return cmd_guests(CMD_PLAN, argc - 1, argv + 1);
	if (strcmp(cmd, "apply") == 0)
		return cmd_guests(CMD_APPLY, argc - 1, argv + 1);
	if (strcmp(cmd, "verify") == 0 && argc > 2 && strcmp(argv[2], "--host") == 0)
		return cmd_verify_host(argc - 1, argv + 1);
	if (strcmp(cmd, "verify") == 0)
		return cmd_guests(CMD_VERIFY, argc - 1, argv + 1);
	if (strcmp(cmd, "host") == 0)
		return cmd_host(argc - 1, argv + 1);
	if (strcmp(cmd, "lint") == 0)
		return cmd_lint(argc - 1, argv + 1);
	if (strcmp(cmd, "backends") == 0)
		return cmd_backends(argc - 1, argv + 1);
	if (strcmp(cmd, "state") == 0)
		return cmd_state(false, argc - 1, argv + 1);
	if (strcmp(cmd, "release") == 0)
		return cmd_state(true, argc - 1, argv + 1);
	if (cmd[0] == '-')
		return fail(EXIT_USAGE, "unknown option '%s' (see 'topomap --help')", cmd);
	return fail(EXIT_USAGE, "unknown command '%s' (see 'topomap --help')", cmd);
}

