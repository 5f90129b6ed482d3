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


static int
load_topology(const char *source, struct tmap_topology **ret)
{
	int r = source_topology(source, ret);

	if (r != EXIT_OK)
		return r;
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
		{"node-name", required_argument, NULL, OPT_NODE_NAME},
		{"state", required_argument, NULL, OPT_STATE},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *source = NULL, *format_arg = NULL, *node_name = NULL, *state = NULL;
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
		case OPT_NODE_NAME:
		case OPT_STATE:
			if (*(c == OPT_STATE ? &state : &node_name) || !optarg[0])
				return fail(EXIT_USAGE, "topology: --%s given more than once or empty",
					    c == OPT_STATE ? "state" : "node-name");
			*(c == OPT_STATE ? &state : &node_name) = optarg;
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
	/* The host as Kubernetes sees it is the host and what the state holds on it. */
	if (format == FORMAT_NRT)
		return topology_nrt(source, state, node_name);
	if (node_name || state)
		return fail(EXIT_USAGE, "topology: --%s goes with --format nrt",
			    node_name ? "node-name" : "state");

	r = load_topology(source ? source : "live", &topology);
	if (r != EXIT_OK)
		return r;
	r = tmap_topology_format(topology, format, table_flags(), &text, &err);
	tmap_topology_free(topology);
	if (r < 0)
		return fail_lib(r, false, &err, "topology");
	r = emit(text);
	free(text);
	return r;
}

static bool
option_allowed(enum command cmd, int c)
{
	/* adopt reads the guest from its target: a name, the host and its state, no more. */
	if (cmd == CMD_ADOPT)
		return c == OPT_BACKEND || c == OPT_NAME || c == OPT_STATE || c == OPT_TOPOLOGY ||
		       (c >= OPT_TARGET_FIRST && c < OPT_TARGET_END);
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
	case OPT_MAKE_ROOM:
	case OPT_MAX_MOVES:
		return cmd == CMD_PLAN || cmd == CMD_APPLY;
	case OPT_NO_MEMORY:
		return cmd == CMD_APPLY;
	default:
		if (c >= OPT_TARGET_FIRST && c < OPT_TARGET_END)
			return cmd != CMD_PLAN;
		return true;
	}
}

static const struct option request_options[] = {
	{"topology", required_argument, NULL, OPT_TOPOLOGY},
	{"format", required_argument, NULL, OPT_FORMAT},
	{"reserve", required_argument, NULL, OPT_RESERVE},
	{"shared-set", required_argument, NULL, OPT_SHARED_SET},
	{"cpu-overcommit", required_argument, NULL, OPT_CPU_OVERCOMMIT},
	{"memory-overcommit", required_argument, NULL, OPT_MEMORY_OVERCOMMIT},
	{"name", required_argument, NULL, OPT_NAME},
	{"vcpus", required_argument, NULL, OPT_VCPUS},
	{"sockets", required_argument, NULL, OPT_SOCKETS},
	{"cores", required_argument, NULL, OPT_CORES},
	{"threads", required_argument, NULL, OPT_THREADS},
	{"memory", required_argument, NULL, OPT_MEMORY},
	{"cells", required_argument, NULL, OPT_CELLS},
	{"cell", required_argument, NULL, OPT_CELL},
	{"cells-share-nodes", no_argument, NULL, OPT_CELLS_SHARE_NODES},
	{"pus", required_argument, NULL, OPT_PUS},
	{"dedicated-cpus", required_argument, NULL, OPT_DEDICATED_CPUS},
	{"realtime-cpus", required_argument, NULL, OPT_REALTIME_CPUS},
	{"realtime-priority", required_argument, NULL, OPT_REALTIME_PRIORITY},
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
	{"device", required_argument, NULL, OPT_DEVICE},
	{"make-room", no_argument, NULL, OPT_MAKE_ROOM},
	{"max-moves", required_argument, NULL, OPT_MAX_MOVES},
	{"no-memory", no_argument, NULL, OPT_NO_MEMORY},
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

/* -o KEY[=VALUE]: a target option, one value a key. */
static int
target_o_option(struct plan_request *req, const char *cmd, const char *arg)
{
	char key[65];
	int r;
	const char *eq = strchr(arg, '=');
	size_t len = eq ? (size_t)(eq - arg) : strlen(arg);

	if (req->cmd == CMD_PLAN)
		return fail(EXIT_USAGE, "plan: -o is not an option of plan");
	if (len == 0 || len >= sizeof(key))
		return fail(EXIT_USAGE, "%s: -o '%s' is not KEY or KEY=VALUE", cmd, arg);
	memcpy(key, arg, len);
	key[len] = '\0';
	/* One value a key: "-o cgroup=X" beside "--cgroup Y" is a mistake. */
	if (tmap_target_get(req->target, key))
		return fail(EXIT_USAGE, "%s: target option '%s' given more than once (-o %s and --%s, or twice)",
			    cmd, key, arg, key);
	r = tmap_target_set(req->target, key, eq ? eq + 1 : "");
	if (r == -EINVAL)
		return fail(EXIT_USAGE, "%s: -o '%s': the key is lowercase letters, digits and '-'",
			    cmd, arg);
	if (r < 0)
		return fail(EXIT_RUNTIME, "out of memory");
	return EXIT_OK;
}

/* What the options say together: combinations that go together, and a guest to place. */
static int
check_request(const struct plan_request *req, int argc, const char *cmd)
{
	if (req->make_room && req->batch)
		return fail(EXIT_USAGE, "plan: --make-room places one guest; it does not go with --batch");
	if (req->max_moves && !req->make_room)
		return fail(EXIT_USAGE, "%s: --max-moves goes with --make-room", cmd);
	if (req->no_memory && !req->make_room)
		return fail(EXIT_USAGE, "apply: --no-memory goes with --make-room");
	if (req->make_room && req->dry_run)
		return fail(EXIT_USAGE,
			    "apply: --make-room moves guests for real; 'topomap plan --make-room' shows the moves without --dry-run");
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

int
parse_request(int argc, char *argv[], struct plan_request *req)
{
	static const char *const helps[] = {plan_help, apply_help, verify_help, adopt_help};
	const char *cmd = command_names[req->cmd];
	bool seen[OPT_END - OPT_TOPOLOGY] = {false};
	int c, r = EXIT_OK;

	opterr = 0;
	while (r == EXIT_OK && (c = getopt_long(argc, argv, ":ho:", request_options, NULL)) != -1) {
		const char *name = argv[optind - 1];

		/* -o KEY[=VALUE]: any target option a backend declares, as mount -o does. */
		if (c == 'o') {
			r = target_o_option(req, cmd, optarg);
			continue;
		}
		/* "--format=json" and "--format json" are both fine; name the option alone. */
		if (c >= OPT_TOPOLOGY && c < OPT_END) {
			for (const struct option *o = request_options; o->name; o++)
				if (o->val == c)
					name = o->name;
			if (!option_allowed(req->cmd, c))
				return fail(EXIT_USAGE, "%s: --%s is not an option of %s (see 'topomap %s --help')",
					    cmd, name, cmd, cmd);
			if (seen[c - OPT_TOPOLOGY] && c != OPT_CELL && c != OPT_DEVICE)
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
		case OPT_SHARED_SET:
			if (optarg[0] && !is_list(optarg))
				r = fail(EXIT_USAGE,
					 "--shared-set: '%s' is not a list of host PUs such as 2-5 or 2,14",
					 optarg);
			req->solve.shared = optarg[0] ? optarg : NULL;
			break;
		case OPT_CPU_OVERCOMMIT:
			r = parse_ratio("--cpu-overcommit", optarg, &req->solve.cpu_overcommit);
			break;
		case OPT_MEMORY_OVERCOMMIT:
			r = parse_ratio("--memory-overcommit", optarg, &req->solve.memory_overcommit);
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
		case OPT_MAKE_ROOM:
			req->make_room = true;
			break;
		case OPT_MAX_MOVES:
			r = parse_unsigned("--max-moves", optarg, 1, TMAP_ROOM_MAX_MOVES, &req->max_moves);
			break;
		case OPT_NO_MEMORY:
			req->no_memory = true;
			break;
		case 'h':
			r = emit(helps[req->cmd]);
			return r == EXIT_OK ? -1 : r;
		case ':':
			r = missing_value(cmd, argv, optind);
			break;
		case '?':
			r = unknown_option(cmd, request_options, optopt, argv, optind);
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
	return check_request(req, argc, cmd);
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
	for (int i = 2; strcmp(cmd, "verify") == 0 && i < argc; i++)
		if (strcmp(argv[i], "--host") == 0)
			return cmd_verify_host(argc - 1, argv + 1);
	if (strcmp(cmd, "verify") == 0)
		return cmd_guests(CMD_VERIFY, argc - 1, argv + 1);
	if (strcmp(cmd, "adopt") == 0)
		return cmd_guests(CMD_ADOPT, argc - 1, argv + 1);
	if (strcmp(cmd, "host") == 0)
		return cmd_host(argc - 1, argv + 1);
	if (strcmp(cmd, "lint") == 0)
		return cmd_lint(argc - 1, argv + 1);
	if (strcmp(cmd, "backends") == 0)
		return cmd_backends(argc - 1, argv + 1);
	if (strcmp(cmd, "xml-filter") == 0)
		return cmd_xml_filter(argc - 1, argv + 1);
	if (strcmp(cmd, "state") == 0 || strcmp(cmd, "release") == 0 ||
	    strcmp(cmd, "reserve") == 0)
		return cmd_ledger(cmd, argc - 1, argv + 1);
	if (strcmp(cmd, "resize") == 0)
		return cmd_resize(argc - 1, argv + 1);
	if (strcmp(cmd, "rebalance") == 0)
		return cmd_rebalance(argc - 1, argv + 1);
	if (cmd[0] == '-')
		return fail(EXIT_USAGE, "unknown option '%s' (see 'topomap --help')", cmd);
	return fail(EXIT_USAGE, "unknown command '%s' (see 'topomap --help')", cmd);
}

