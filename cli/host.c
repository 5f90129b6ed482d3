/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * topomap host show|set, verify --host: the host as a whole (issue 15). The partition
 * (housekeeping, shared pool, each dedicated guest, free), the boot-time fragments that
 * isolate it, and the intruders: tasks that may run on a dedicated guest's PUs without
 * being the guest's.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <topomap/backend.h>
#include <topomap/topomap.h>

#include "cli.h"
#include "host.h"

void
host_ctx_close(struct host_ctx *c)
{
	c->partition = tmap_partition_free(c->partition);
	c->state = tmap_state_close(c->state);
	c->host = tmap_host_free(c->host);
	c->topology = tmap_topology_free(c->topology);
}

int
host_ctx_open(struct host_ctx *c, const char *source, const char *state_path, bool write,
	      const char *housekeeping)
{
	struct tmap_solve_options opts = TMAP_SOLVE_OPTIONS_INIT;
	struct tmap_error err = {0};
	int r;

	if (!source)
		source = "live";
	r = source_topology(source, &c->topology);
	if (r != EXIT_OK)
		return r;
	if (!state_path) {
		state_path = secure_getenv("TOPOMAP_STATE");
		if (!state_path || !state_path[0])
			state_path = TOPOMAP_STATE_DEFAULT;
	}
	c->state_path = state_path;
	r = tmap_state_open(state_path, write ? TMAP_STATE_WRITE : 0, &c->state, &err);
	if (r < 0)
		return fail(EXIT_RUNTIME, "%s", err.message);
	opts.reserve = tmap_state_reserve(c->state);
	opts.shared = tmap_state_shared(c->state);
	opts.cpu_overcommit = tmap_state_cpu_overcommit(c->state);
	opts.memory_overcommit = tmap_state_memory_overcommit(c->state);
	r = tmap_host_new(c->topology, &opts, &c->host, &err);
	if (r < 0)
		return fail_lib(r, true, &err, "host");
	if (tmap_state_load(c->state, c->host, &err) < 0)
		return fail(EXIT_RUNTIME, "%s", err.message);
	r = tmap_partition_new(c->host, tmap_state_reserve(c->state),
			       housekeeping ? housekeeping : tmap_state_housekeeping(c->state), 0,
			       &c->partition, &err);
	if (r < 0)
		return fail(r == -EINVAL ? EXIT_USAGE : EXIT_RUNTIME, "%s", err.message);
	return EXIT_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* host show */

enum { SHOW_TABLE, SHOW_CMDLINE, SHOW_TUNED };

static const struct choice show_formats[] = {
	{"table", SHOW_TABLE}, {"cmdline", SHOW_CMDLINE}, {"tuned", SHOW_TUNED}, {NULL, 0}};

static const char *
or_none(const char *list)
{
	return list && *list ? list : "-";
}

/* The shared pool as the operator set it, and its ratios: recorded, or the defaults. */
static void
show_pool(const struct tmap_state *st, FILE *out)
{
	double cpu = tmap_state_cpu_overcommit(st), mem = tmap_state_memory_overcommit(st);

	fprintf(out, "%-14s %s\n", "shared set",
		tmap_state_shared(st) ? tmap_state_shared(st) : "- (grows from the free PUs)");
	fprintf(out, "%-14s %g (%s)\n", "cpu ratio", cpu > 0 ? cpu : TMAP_DEFAULT_CPU_OVERCOMMIT,
		cpu > 0 ? "recorded" : "default");
	fprintf(out, "%-14s %g (%s)\n", "memory ratio", mem > 0 ? mem : 1.0,
		mem > 0 ? "recorded" : "default");
}

/* The interrupts of the devices recorded guests hold: theirs, not the host's to move. */
void
show_guest_irqs(const struct tmap_partition *p, FILE *out)
{
	for (size_t i = 0; i < tmap_partition_device_count(p); i++) {
		const char *pci, *guest;
		unsigned *irqs = NULL;
		size_t n = 0;

		tmap_partition_device(p, i, &pci, &guest);
		if (tmap_device_irqs(NULL, pci, &irqs, &n, NULL) < 0)
			continue;
		for (size_t j = 0; j < n; j++)
			fprintf(out, "irq %u: %s, held by %s\n", irqs[j], pci, guest);
		free(irqs);
	}
}

static int
show_partition(const struct tmap_partition *p, const struct tmap_state *st, int format,
	       FILE *out)
{
	const char *iso = tmap_partition_isolated(p);
	const char *hk = tmap_partition_housekeeping(p);

	if (format != SHOW_TABLE && !*iso)
		return fail(EXIT_USAGE, "host show: no dedicated guest: nothing to isolate");
	switch (format) {
	case SHOW_CMDLINE:
		/* managed_irq keeps managed interrupts off the set where the kernel can. */
		fprintf(out, "isolcpus=managed_irq,domain,%s nohz_full=%s rcu_nocbs=%s", iso, iso,
			iso);
		if (*hk)
			fprintf(out, " irqaffinity=%s", hk);
		fputc('\n', out);
		return EXIT_OK;
	case SHOW_TUNED:
		fprintf(out, "# /etc/tuned/cpu-partitioning-variables.conf\nisolated_cores=%s\n"
			     "no_balance_cores=%s\n", iso, iso);
		return EXIT_OK;
	}
	fprintf(out, "%-14s %s\n", "housekeeping", or_none(hk));
	fprintf(out, "%-14s %s\n", "shared pool", or_none(tmap_partition_shared(p)));
	for (size_t i = 0; i < tmap_partition_guest_count(p); i++)
		fprintf(out, "%-14s %s (dedicated guest '%s')\n", "dedicated",
			tmap_partition_guest_cpus(p, i), tmap_partition_guest_name(p, i));
	fprintf(out, "%-14s %s\n", "free", or_none(tmap_partition_free_cpus(p)));
	fprintf(out, "%-14s %s\n", "isolated", or_none(iso));
	show_pool(st, out);
	show_guest_irqs(p, out);
	for (size_t i = 0; i < tmap_partition_warning_count(p); i++)
		fprintf(out, "warning: %s\n", tmap_partition_warning(p, i));
	return EXIT_OK;
}

/* Write what f printed to stdout in one go: the memstream's text, or "out of memory". */
int
emit_stream(FILE *out, char **text, int r)
{
	if (fclose(out) != 0) {
		free(*text);
		*text = NULL;
		return fail(EXIT_RUNTIME, "out of memory");
	}
	if (r == EXIT_OK)
		r = emit(*text ? *text : "");
	free(*text);
	*text = NULL;
	return r;
}

/* Options common to the host commands; each returns EXIT_OK or the exit code. */
int
host_options(const char *cmd, int argc, char *argv[], const char *help,
	     struct host_args *a)
{
	static const struct option options[] = {
		{"help", no_argument, NULL, 'h'},
		{"state", required_argument, NULL, 's'},
		{"topology", required_argument, NULL, 't'},
		{"housekeeping", required_argument, NULL, 'k'},
		{"format", required_argument, NULL, 'f'},
		{"root", required_argument, NULL, 'r'},
		{"host", no_argument, NULL, 'H'},
		{"narrow", required_argument, NULL, 'n'},
		{"undo", no_argument, NULL, 'u'},
		{"shared-set", required_argument, NULL, 'S'},
		{"cpu-overcommit", required_argument, NULL, 'C'},
		{"memory-overcommit", required_argument, NULL, 'M'},
		{NULL, 0, NULL, 0},
	};
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
		const char *allowed = a->allowed;

		if (c == 'h')
			return emit(help) == EXIT_OK ? -1 : EXIT_RUNTIME;
		if (c == '?')
			return unknown_option(cmd, options, optopt, argv, optind);
		if (c == ':')
			return missing_value(cmd, argv, optind);
		if (!strchr(allowed, c))
			return fail(EXIT_USAGE, "%s: %s is not an option of %s (see 'topomap %s --help')",
				    cmd, argv[optind - 1], cmd, cmd);
		switch (c) {
		case 's':
			a->state = optarg;
			break;
		case 't':
			a->topology = optarg;
			break;
		case 'k':
			if (strcmp(optarg, "reserve") != 0 && !is_list(optarg))
				return fail(EXIT_USAGE, "%s: --housekeeping: '%s' is not a list of PUs or 'reserve'",
					    cmd, optarg);
			a->housekeeping = optarg;
			break;
		case 'f':
			a->format = optarg;
			break;
		case 'r':
			a->root = optarg;
			break;
		case 'H':
			a->host = true;
			break;
		case 'n':
			if (a->nnarrow == HOST_MAX_NARROW)
				return fail(EXIT_USAGE, "%s: --narrow given more than %d times", cmd,
					    HOST_MAX_NARROW);
			a->narrow[a->nnarrow++] = optarg;
			break;
		case 'u':
			a->undo = true;
			break;
		case 'S':
			if (*optarg && !is_list(optarg))
				return fail(EXIT_USAGE, "%s: --shared-set: '%s' is not a list of PUs",
					    cmd, optarg);
			a->shared = optarg;
			break;
		case 'C':
		case 'M':
			if (parse_ratio(c == 'C' ? "--cpu-overcommit" : "--memory-overcommit", optarg,
					c == 'C' ? &a->cpu_overcommit : &a->memory_overcommit) != EXIT_OK)
				return EXIT_USAGE;
			break;
		}
	}
	if (optind < argc)
		return fail(EXIT_USAGE, "%s: unexpected argument '%s'", cmd, argv[optind]);
	return EXIT_OK;
}

static int
host_show(int argc, char *argv[])
{
	struct host_args a = {.allowed = "stkf"};
	struct host_ctx c = {0};
	char *text = NULL;
	size_t len = 0;
	int format = SHOW_TABLE, r;
	FILE *out;

	r = host_options("host show", argc, argv, host_help, &a);
	if (r != EXIT_OK)
		return r < 0 ? EXIT_OK : r;
	if (a.format && parse_choice("--format", a.format, show_formats, &format) != EXIT_OK)
		return EXIT_USAGE;
	r = host_ctx_open(&c, a.topology, a.state, false,
			  a.housekeeping && strcmp(a.housekeeping, "reserve") == 0 ? NULL : a.housekeeping);
	if (r == EXIT_OK) {
		out = open_memstream(&text, &len);
		if (!out)
			r = fail(EXIT_RUNTIME, "out of memory");
		else
			r = emit_stream(out, &text, show_partition(c.partition, c.state, format, out));
	}
	host_ctx_close(&c);
	return r;
}

/*
 * The shared pool and ratios of host set (given, else as recorded), through the library's
 * transaction (tmap_session_set_pool()): every recorded guest is tried on a host made with
 * them (a dedicated guest on a PU of the pool is refused), and every placed shared guest
 * follows the pool, applied again through its recorded backend and target, all or nothing.
 */
static int
set_pool(const struct host_args *a, const char *state_path)
{
	struct plan_request req = {.source = a->topology ? a->topology : "live",
				   .state_path = state_path,
				   .solve = TMAP_SOLVE_OPTIONS_INIT};
	struct tmap_error err = {0};
	int r = open_session(&req, true);

	if (r != EXIT_OK)
		return r;
	/* --housekeeping reserve: "" to the library, the reserve. */
	r = tmap_session_set_partition(req.session,
				       !a->housekeeping ? NULL :
				       strcmp(a->housekeeping, "reserve") == 0 ? "" : a->housekeeping,
				       a->shared, a->cpu_overcommit, a->memory_overcommit, NULL, &err);
	if (r < 0) {
		tmap_error_prefix(&err, "host set: ");
		r = fail_step(&req, r, &err);
	} else {
		print_notices(&req);
	}
	close_session(&req);
	return r;
}

/* On an isolated host, the isolation made again for the new pool or housekeeping PUs (what):
 * each file it changed, as host isolate prints its writes. */
static int
show_isolation_again(const struct isolation_files *before, const struct tmap_state *st,
		     const char *what, FILE *out)
{
	struct isolation_files after = {0};

	if (isolation_files_read(st, &after) < 0)
		return fail(EXIT_RUNTIME, "out of memory");
	if (before->n || after.n) {
		fprintf(out, "isolation made again for the new %s:\n", what);
		if (!print_isolation_changes(out, before, &after))
			fprintf(out, "  no file changed\n");
	}
	isolation_files_clear(&after);
	return EXIT_OK;
}

/* host set: record the housekeeping PUs (refusing PUs a dedicated guest holds), the shared
 * pool and its ratios (refusing what a recorded guest contradicts). */
static int
host_set(int argc, char *argv[])
{
	struct host_args a = {.allowed = "stkSCM"};
	struct isolation_files iso_before = {0};
	bool pool;
	struct host_ctx c = {0};
	const char *hk = NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *out;
	int r;

	r = host_options("host set", argc, argv, host_help, &a);
	if (r != EXIT_OK)
		return r < 0 ? EXIT_OK : r;
	pool = a.shared || a.cpu_overcommit || a.memory_overcommit;
	if (!a.housekeeping && !pool)
		return fail(EXIT_USAGE, "host set: nothing to set (give --housekeeping, --shared-set, --cpu-overcommit or --memory-overcommit)");
	if (a.housekeeping && strcmp(a.housekeeping, "reserve") != 0)
		hk = a.housekeeping;
	r = host_ctx_open(&c, a.topology, a.state, true, hk);
	for (size_t i = 0; r == EXIT_OK && a.housekeeping &&
			   i < tmap_partition_warning_count(c.partition); i++)
		if (strstr(tmap_partition_warning(c.partition, i), "housekeeping set shares"))
			r = fail(EXIT_USAGE, "host set: %s", tmap_partition_warning(c.partition, i));
	if (r == EXIT_OK) {
		/* The session takes the state's lock: the context lets it go meanwhile, then
		 * reads what the change saved. */
		const char *path = strdup(c.state_path);

		if (isolation_files_read(c.state, &iso_before) < 0)
			r = fail(EXIT_RUNTIME, "out of memory");
		host_ctx_close(&c);
		if (r == EXIT_OK)
			r = path ? set_pool(&a, path) : fail(EXIT_RUNTIME, "out of memory");
		c = (struct host_ctx){0};
		if (r == EXIT_OK)
			r = host_ctx_open(&c, a.topology, path, true, hk);
		free((char *)path);
	}
	if (r == EXIT_OK && !(out = open_memstream(&text, &len)))
		r = fail(EXIT_RUNTIME, "out of memory");
	else if (r == EXIT_OK) {
		if (a.housekeeping)
			fprintf(out, "housekeeping: %s\n",
				or_none(tmap_partition_housekeeping(c.partition)));
		if (pool)
			show_pool(c.state, out);
		r = show_isolation_again(&iso_before, c.state,
					 !a.housekeeping ? "pool" :
					 pool ? "housekeeping PUs and pool" : "housekeeping PUs", out);
		r = emit_stream(out, &text, r);
	}
	isolation_files_clear(&iso_before);
	host_ctx_close(&c);
	return r;
}

int
cmd_host(int argc, char *argv[])
{
	const char *sub = argc > 1 ? argv[1] : NULL;

	if (!sub)
		return fail(EXIT_USAGE, "host: missing subcommand: show, set or isolate (see 'topomap host --help')");
	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0)
		return emit(host_help);
	if (strcmp(sub, "show") == 0)
		return host_show(argc - 1, argv + 1);
	if (strcmp(sub, "set") == 0)
		return host_set(argc - 1, argv + 1);
	if (strcmp(sub, "isolate") == 0)
		return host_isolate(argc - 1, argv + 1);
	return fail(EXIT_USAGE, "host: unknown subcommand '%s' (show, set or isolate)", sub);
}
