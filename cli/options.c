/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The command line: option values checked one by one, with a message that names the option
 * and the value, and the inline guest (--name, --vcpus, ...) built from them.
 */
#include <ctype.h>
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

const struct choice formats[] = {
	{"table", TMAP_FORMAT_TABLE},
	{"json", TMAP_FORMAT_JSON},
	{"libvirt", TMAP_FORMAT_LIBVIRT},
	{"qemu", TMAP_FORMAT_QEMU},
	/* Pictures, drawn by hwloc's lstopo from tmap_topology_export_xml() (draw_plan()). */
	{"svg", FORMAT_SVG},
	{"png", FORMAT_PNG},
	{NULL, 0},
};

/* The host description knows no libvirt or QEMU syntax. */
const struct choice topology_formats[] = {
	{"table", TMAP_FORMAT_TABLE},
	{"json", TMAP_FORMAT_JSON},
	{"nrt", FORMAT_NRT},
	{NULL, 0},
};

const struct choice cpu_policies[] = {
	{"dedicated", TMAP_CPU_DEDICATED},
	{"shared", TMAP_CPU_SHARED},
	{"mixed", TMAP_CPU_MIXED},
	{NULL, 0},
};

const struct choice thread_policies[] = {
	{"prefer", TMAP_THREAD_PREFER},
	{"isolate", TMAP_THREAD_ISOLATE},
	{"require", TMAP_THREAD_REQUIRE},
	{NULL, 0},
};

const struct choice emulator_policies[] = {
	{"share", TMAP_EMULATOR_SHARE},
	{"isolate", TMAP_EMULATOR_ISOLATE},
	{"share-host", TMAP_EMULATOR_SHARE_HOST},
	{NULL, 0},
};

const struct choice memory_modes[] = {
	{"strict", TMAP_MEMORY_STRICT},
	{"preferred", TMAP_MEMORY_PREFERRED},
	{"interleave", TMAP_MEMORY_INTERLEAVE},
	{"restrictive", TMAP_MEMORY_RESTRICTIVE},
	{NULL, 0},
};

int
parse_choice(const char *option, const char *arg, const struct choice *choices, int *ret)
{
	char names[256] = "";

	for (const struct choice *c = choices; c->name; c++) {
		if (strcmp(c->name, arg) == 0) {
			*ret = c->value;
			return EXIT_OK;
		}
	}
	/* Listed from the same table that is matched against, so the two cannot drift. */
	for (const struct choice *c = choices; c->name; c++) {
		size_t len = strlen(names);

		snprintf(names + len, sizeof(names) - len, "%s%s", c == choices ? "" : ", ",
			 c->name);
	}
	return fail(EXIT_USAGE, "%s: '%s' is not one of %s", option, arg, names);
}

/* Digits only: strtoull() alone would take "-1", " 7" and "0x10". */
bool
parse_digits(const char **s, uint64_t *ret)
{
	const char *p = *s;
	uint64_t v = 0;

	if (*p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*s = p;
	*ret = v;
	return true;
}

int
parse_number(const char *option, const char *arg, uint64_t min, uint64_t max, uint64_t *ret)
{
	const char *p = arg;
	uint64_t v;

	if (!parse_digits(&p, &v) || *p)
		return fail(EXIT_USAGE, "%s: '%s' is not a %s integer", option, arg,
			    min > 0 ? "positive" : "non-negative");
	if (v < min || v > max)
		return fail(EXIT_USAGE, "%s: '%s' is out of range (%" PRIu64 " to %" PRIu64 ")",
			    option, arg, min, max);
	*ret = v;
	return EXIT_OK;
}

/* An overcommit ratio, as Nova's cpu_allocation_ratio: a decimal above 0, at most 1024. */
int
parse_ratio(const char *option, const char *arg, double *ret)
{
	char *end = NULL;
	double v;

	errno = 0;
	if (!isdigit((unsigned char)arg[0]) || (v = strtod(arg, &end), *end) || errno)
		return fail(EXIT_USAGE, "%s: '%s' is not a number such as 2 or 1.5", option, arg);
	if (!(v > 0 && v <= 1024))
		return fail(EXIT_USAGE, "%s: '%s' is out of range (above 0, at most 1024)", option,
			    arg);
	*ret = v;
	return EXIT_OK;
}

int
parse_unsigned(const char *option, const char *arg, unsigned min, unsigned max, unsigned *ret)
{
	uint64_t v;
	int r = parse_number(option, arg, min, max, &v);

	if (r == EXIT_OK)
		*ret = (unsigned)v;
	return r;
}

/* A size in MiB: "4096" (MiB), "512M", "4G", "1T", each unit optionally followed by "iB". */
bool
parse_size(const char *s, uint64_t *ret)
{
	uint64_t v, mult;
	const char *p = s;

	if (!parse_digits(&p, &v))
		return false;
	switch (*p) {
	case '\0':
	case 'M':
	case 'm':
		mult = 1;
		break;
	case 'G':
	case 'g':
		mult = 1024;
		break;
	case 'T':
	case 't':
		mult = 1024 * 1024;
		break;
	default:
		return false;
	}
	if (*p) {
		p++;
		if (strcmp(p, "iB") == 0)
			p += 2;
	}
	if (*p || v == 0 || v > UINT64_MAX / mult)
		return false;
	*ret = v * mult;
	return true;
}

/* A hugepage size in KiB: "2048" (KiB), "2048K", "2M", "1G", each unit optionally followed
 * by "iB"; the library checks it is a page size. */
int
parse_page_option(const char *option, const char *arg, uint64_t *ret)
{
	const char *p = arg;
	unsigned shift = 0;
	uint64_t v;

	if (strcmp(arg, "large") == 0 || strcmp(arg, "any") == 0) {
		*ret = arg[0] == 'l' ? TMAP_HUGEPAGES_LARGE : TMAP_HUGEPAGES_ANY;
		return EXIT_OK;
	}
	if (parse_digits(&p, &v) && v > 0 && v <= (UINT64_C(1) << 34)) {
		if (*p == 'M' || *p == 'm')
			shift = 10;
		else if (*p == 'G' || *p == 'g')
			shift = 20;
		if (*p && strchr("KkMmGg", *p))
			p += strcmp(p + 1, "iB") == 0 ? 3 : 1;
		v <<= shift;
		if (!*p && v >= TMAP_HUGEPAGE_KIB_MIN && v <= TMAP_HUGEPAGE_KIB_MAX && !(v & (v - 1))) {
			*ret = v;
			return EXIT_OK;
		}
	}
	return fail(EXIT_USAGE,
		    "%s: '%s' is not a hugepage size such as 2M, 1G or 2048 (KiB): a power of two from 8 KiB to 16 GiB; or large or any",
		    option, arg);
}

int
parse_size_option(const char *option, const char *arg, uint64_t *ret)
{
	if (!parse_size(arg, ret))
		return fail(EXIT_USAGE, "%s: '%s' is not a size such as 4096 (MiB), 512M, 4G or 1T",
			    option, arg);
	return EXIT_OK;
}

/* Kernel list syntax, strictly: "0-3,8", through the library's one parser of it (which
 * also forgives the blanks a kernel file ends with: a typed value has none). */
bool
is_list(const char *s)
{
	unsigned long *mask = NULL;
	size_t words;
	size_t len = strlen(s);

	if (!len || isspace((unsigned char)s[0]) || isspace((unsigned char)s[len - 1]) ||
	    tmap_cpulist_parse(s, &mask, &words) < 0)
		return false;
	free(mask);
	return true;
}


void
inline_guest_clear(struct inline_guest *g)
{
	for (size_t i = 0; i < g->ncell; i++)
		free(g->cell[i].cpus);
	free(g->cell);
	free(g->device);
}

/*
 * "cpus=0-3,8,memory=4G,node=1": the vcpu list has commas of its own, so a comma starts a
 * new key only when what follows is "key=".
 */
int
parse_cell(const char *arg, struct inline_guest *g)
{
	const char *p = arg;
	struct cell_arg cell = {.arg = arg, .node = -1};
	const char *cpus = NULL, *memory = NULL, *node = NULL;
	size_t cpus_len = 0, memory_len = 0, node_len = 0;
	struct cell_arg *cells;
	char size[64];

	bool last_is_cpus = false;

	while (*p) {
		size_t len = strcspn(p, ",");
		const char *eq = memchr(p, '=', len);

		if (eq && !cpus && (size_t)(eq - p) == 4 && strncmp(p, "cpus", 4) == 0) {
			cpus = eq + 1;
			cpus_len = len - 5;
			last_is_cpus = true;
		} else if (eq && !memory && (size_t)(eq - p) == 6 && strncmp(p, "memory", 6) == 0) {
			memory = eq + 1;
			memory_len = len - 7;
			last_is_cpus = false;
		} else if (eq && !node && (size_t)(eq - p) == 4 && strncmp(p, "node", 4) == 0) {
			node = eq + 1;
			node_len = len - 5;
			last_is_cpus = false;
		} else if (!eq && last_is_cpus) {
			cpus_len = (size_t)(p + len - cpus);
		} else {
			return fail(EXIT_USAGE, "--cell: '%s' is not cpus=LIST[,memory=SIZE][,node=N]", arg);
		}
		p += len;
		if (*p == ',' && *++p == '\0')
			return fail(EXIT_USAGE, "--cell: '%s' is not cpus=LIST[,memory=SIZE][,node=N]", arg);
	}
	if (!cpus)
		return fail(EXIT_USAGE, "--cell: '%s' does not say cpus=LIST", arg);
	cell.cpus = strndup(cpus, cpus_len);
	if (!cell.cpus)
		return fail(EXIT_RUNTIME, "out of memory");
	if (!is_list(cell.cpus)) {
		int r = fail(EXIT_USAGE, "--cell: '%s': '%s' is not a list of vcpus such as 0-3",
			     arg, cell.cpus);

		free(cell.cpus);
		return r;
	}
	if (memory) {
		snprintf(size, sizeof(size), "%.*s", (int)memory_len, memory);
		if (memory_len >= sizeof(size) || !parse_size(size, &cell.memory_mib)) {
			free(cell.cpus);
			return fail(EXIT_USAGE,
				    "--cell: '%s': memory '%.*s' is not a size such as 4096, 512M or 4G",
				    arg, (int)memory_len, memory);
		}
	}
	if (node) {
		const char *q = node;
		uint64_t v;

		/* Linux numbers NUMA nodes below 1024 (MAX_NUMNODES). */
		if (!parse_digits(&q, &v) || q != node + node_len || v > 1023) {
			free(cell.cpus);
			return fail(EXIT_USAGE,
				    "--cell: '%s': node '%.*s' is not a host node number from 0 to 1023",
				    arg, (int)node_len, node);
		}
		cell.node = (int)v;
	}
	cells = realloc(g->cell, (g->ncell + 1) * sizeof(*cells));
	if (!cells) {
		free(cell.cpus);
		return fail(EXIT_RUNTIME, "out of memory");
	}
	g->cell = cells;
	g->cell[g->ncell++] = cell;
	return EXIT_OK;
}

/* Turn the inline options into a guest and append it. */
/* --device SPEC, each a request the library parses (issue 16). */
static int
add_inline_devices(const struct inline_guest *ig, struct tmap_guest *g)
{
	for (size_t i = 0; i < ig->ndevice; i++) {
		struct tmap_error err = {0};
		int r = tmap_guest_add_device(g, ig->device[i], &err);

		if (r < 0)
			return fail(exit_code(r, true), "--device: %s",
				    err.message[0] ? err.message : strerror(-r));
	}
	return EXIT_OK;
}

/* --dedicated-cpus LIST: the vcpus a mixed guest pins one to one. */
static int
set_dedicated(const struct inline_guest *ig, struct tmap_guest *g)
{
	struct tmap_error err = {0};

	if (ig->dedicated && tmap_guest_set_dedicated_cpus(g, ig->dedicated, &err) < 0)
		return fail(EXIT_USAGE, "--dedicated-cpus: %s", err.message);
	return EXIT_OK;
}

/*
 * --realtime-cpus LIST and --realtime-priority N onto g. A priority alone changes the
 * priority of the realtime vcpus g has (a guest read from its target), and is refused when it
 * has none.
 */
static int
inline_realtime(const struct inline_guest *ig, struct tmap_guest *g)
{
	struct tmap_error err = {0};
	const char *cpus = ig->realtime_cpus;
	char *had = NULL;
	int r;

	if (!cpus && !ig->realtime_priority)
		return EXIT_OK;
	if (!cpus) {
		had = tmap_guest_realtime(g, NULL);
		if (!had)
			return fail(EXIT_RUNTIME, "out of memory");
		if (!*had) {
			free(had);
			return fail(EXIT_USAGE,
				    "--realtime-priority %u: guest '%s' has no realtime vcpus; give --realtime-cpus LIST",
				    ig->realtime_priority, tmap_guest_name(g));
		}
		cpus = had;
	}
	r = tmap_guest_set_realtime(g, cpus, ig->realtime_priority, &err);
	free(had);
	if (r < 0)
		return fail(EXIT_USAGE, "--realtime-cpus: %s", err.message);
	return EXIT_OK;
}

int
add_inline_guest(const struct inline_guest *ig, struct tmap_guests *guests)
{
	struct tmap_error err = {0};
	struct tmap_guest *g = NULL;
	int r;

	if (!ig->name)
		return fail(EXIT_USAGE, "inline guest options need --name");
	if (!ig->vcpus)
		return fail(EXIT_USAGE, "inline guest '%s' needs --vcpus", ig->name);
	if (ig->cells && ig->ncell)
		return fail(EXIT_USAGE, "--cells and --cell exclude each other");

	/* --vcpus was checked, so a refusal is about the name. */
	r = tmap_guest_new(ig->name, ig->vcpus, &g, &err);
	if (r < 0)
		return fail(exit_code(r, true), "--name: %s",
			    err.message[0] ? err.message : strerror(-r));

	if (ig->sockets || ig->cores || ig->threads) {
		unsigned s = ig->sockets ? ig->sockets : 1;
		unsigned t = ig->threads ? ig->threads : 1;
		unsigned c = ig->cores;

		if (!c) {
			if (ig->vcpus % (s * t) != 0) {
				r = fail(EXIT_USAGE,
					 "--vcpus %u is not a multiple of %u (--sockets %u times --threads %u)",
					 ig->vcpus, s * t, s, t);
				goto out;
			}
			c = ig->vcpus / (s * t);
		}
		if ((uint64_t)s * c * t != ig->vcpus) {
			r = fail(EXIT_USAGE,
				 "--sockets %u --cores %u --threads %u make %" PRIu64
				 " vcpus, not --vcpus %u",
				 s, c, t, (uint64_t)s * c * t, ig->vcpus);
			goto out;
		}
		if (tmap_guest_set_topology(g, s, c, t) < 0) {
			r = fail(EXIT_USAGE,
				 "guest '%s': --sockets %u --cores %u --threads %u refused",
				 ig->name, s, c, t);
			goto out;
		}
	}

	/* Without --memory, cells that each give their memory define the total (the library's
	 * rule, the same as for a JSON guest without memory_mib). */
	if (ig->memory_mib && tmap_guest_set_memory_mib(g, ig->memory_mib) < 0) {
		r = fail(EXIT_USAGE, "--memory: '%s' is too large",
			 ig->memory_arg ? ig->memory_arg : "");
		goto out;
	}

	if (ig->cells && tmap_guest_set_cell_count(g, ig->cells) < 0) {
		r = fail(EXIT_USAGE, "--cells: '%s' is not accepted for %u vcpus", ig->cells_arg,
			 ig->vcpus);
		goto out;
	}
	for (size_t i = 0; i < ig->ncell; i++) {
		r = tmap_guest_add_cell(g, ig->cell[i].cpus, ig->cell[i].memory_mib, &err);
		if (r == 0 && ig->cell[i].node >= 0)
			r = tmap_guest_set_cell_node(g, (unsigned)i, (unsigned)ig->cell[i].node);
		if (r < 0) {
			r = fail(exit_code(r, true), "--cell: '%s': %s", ig->cell[i].arg,
				 err.message[0] ? err.message : strerror(-r));
			goto out;
		}
	}

	if ((ig->has_cpu_policy && tmap_guest_set_cpu_policy(g, ig->cpu_policy) < 0) ||
	    (ig->has_thread_policy && tmap_guest_set_thread_policy(g, ig->thread_policy) < 0) ||
	    (ig->has_emulator && tmap_guest_set_emulator_policy(g, ig->emulator) < 0) ||
	    (ig->has_memory_mode && tmap_guest_set_memory_mode(g, ig->memory_mode) < 0) ||
	    (ig->cells_share_nodes && tmap_guest_set_cells_share_nodes(g, 1) < 0)) {
		/* The names were checked against the enums' own tables. */
		r = fail(EXIT_RUNTIME, "guest '%s': the library refused a policy", ig->name);
		goto out;
	}
	if (ig->page_kib && tmap_guest_set_hugepages(g, ig->page_kib) < 0) {
		r = fail(EXIT_USAGE, "--hugepages: '%" PRIu64 "' KiB is not accepted", ig->page_kib);
		goto out;
	}
	r = add_inline_devices(ig, g);
	if (r != EXIT_OK)
		goto out;
	if (ig->pus && tmap_guest_set_pus(g, ig->pus, &err) < 0) {
		r = fail(EXIT_USAGE, "--pus: %s", err.message);
		goto out;
	}
	r = set_dedicated(ig, g);
	if (r != EXIT_OK)
		goto out;
	if (ig->iothreads && tmap_guest_set_iothreads(g, ig->iothreads) < 0) {
		r = fail(EXIT_USAGE, "--iothreads: '%u' is not accepted", ig->iothreads);
		goto out;
	}
	r = inline_realtime(ig, g);
	if (r != EXIT_OK)
		goto out;
	if (ig->has_qos && tmap_guest_set_qos(g, ig->shares, ig->period, ig->quota) < 0) {
		r = fail(EXIT_USAGE, "guest '%s': --shares, --period or --quota not accepted",
			 ig->name);
		goto out;
	}

	r = tmap_guests_add(guests, g, &err);
	if (r < 0) {
		r = fail_lib(r, true, &err, "inline guest");
		goto out;
	}
	return EXIT_OK;
out:
	tmap_guest_free(g);
	return r;
}

/* A shape option that says otherwise than the guest the backend read from the target, which
 * has n of what (a plural noun, made singular for one). */
static int
shape_conflict(const char *cmd, const char *backend, const struct tmap_guest *g,
	       const char *option, const char *given, uint64_t n, const char *what)
{
	size_t len = strcspn(what, " ");

	if (n == 1 && len > 0 && what[len - 1] == 's')
		len--;
	return fail(EXIT_USAGE,
		    "%s: %s '%s' does not match guest '%s' as backend '%s' reads it: %" PRIu64 " %.*s%s (options change a running guest's policy, not its shape)",
		    cmd, option, given, tmap_guest_name(g), backend, n, (int)len, what,
		    what + strcspn(what, " "));
}

/*
 * The inline options given with no --name and no guest file, on top of the guest the backend
 * read from the target (a running domain or QEMU). Policy options (--cpu-policy,
 * --thread-policy, --emulator, --memory-mode, --shares, --period, --quota,
 * --cells-share-nodes, --pus) override what it
 * read. Shape options (--vcpus, --sockets, --cores, --threads, --memory, --cells,
 * --iothreads) are what the guest already is: one that matches is accepted, one that does
 * not is refused, as no plan can change them. --cell is refused: the cells are the guest's.
 * --hugepages may name the page size of a guest read in normal pages (a backend that cannot
 * see its memory's backing), but not another one than it read.
 */
int
overlay_inline_guest(const struct inline_guest *ig, const char *cmd, const char *backend,
		     struct tmap_guest *g)
{
	unsigned sockets, cores, threads;
	uint64_t shares, period;
	int64_t quota;
	char given[32];

	if (ig->vcpus && ig->vcpus != tmap_guest_vcpus(g)) {
		snprintf(given, sizeof(given), "%u", ig->vcpus);
		return shape_conflict(cmd, backend, g, "--vcpus", given, tmap_guest_vcpus(g),
				      "vcpus");
	}
	tmap_guest_topology(g, &sockets, &cores, &threads);
	if (ig->sockets && ig->sockets != sockets) {
		snprintf(given, sizeof(given), "%u", ig->sockets);
		return shape_conflict(cmd, backend, g, "--sockets", given, sockets, "sockets");
	}
	if (ig->cores && ig->cores != cores) {
		snprintf(given, sizeof(given), "%u", ig->cores);
		return shape_conflict(cmd, backend, g, "--cores", given, cores, "cores per socket");
	}
	if (ig->threads && ig->threads != threads) {
		snprintf(given, sizeof(given), "%u", ig->threads);
		return shape_conflict(cmd, backend, g, "--threads", given, threads,
				      "threads per core");
	}
	if (ig->memory_mib && ig->memory_mib != tmap_guest_memory_mib(g))
		return shape_conflict(cmd, backend, g, "--memory", ig->memory_arg,
				      tmap_guest_memory_mib(g), "MiB of memory");
	if (ig->cells && ig->cells != tmap_guest_cell_count(g))
		return shape_conflict(cmd, backend, g, "--cells", ig->cells_arg,
				      tmap_guest_cell_count(g), "cells");
	/* Cells of its own, even the same ones, would be a second statement of them. */
	if (ig->ncell)
		return shape_conflict(cmd, backend, g, "--cell", ig->cell[0].arg,
				      tmap_guest_cell_count(g), "cells of its own");
	if (ig->has_iothreads && ig->iothreads != tmap_guest_iothreads(g)) {
		snprintf(given, sizeof(given), "%u", ig->iothreads);
		return shape_conflict(cmd, backend, g, "--iothreads", given,
				      tmap_guest_iothreads(g), "iothreads");
	}
	if (ig->page_kib && tmap_guest_hugepages(g) && ig->page_kib != tmap_guest_hugepages(g))
		return shape_conflict(cmd, backend, g, "--hugepages", ig->page_arg,
				      tmap_guest_hugepages(g), "KiB pages backing its memory");
	if (ig->page_kib && tmap_guest_set_hugepages(g, ig->page_kib) < 0)
		return fail(EXIT_USAGE, "--hugepages: '%s' is not accepted", ig->page_arg);
	if (add_inline_devices(ig, g) != EXIT_OK)
		return EXIT_USAGE;
	/* Where the guest runs is the plan's to say: exact PUs are asked like a policy. */
	if (ig->pus) {
		struct tmap_error err = {0};

		if (tmap_guest_set_pus(g, ig->pus, &err) < 0)
			return fail(EXIT_USAGE, "--pus: %s", err.message);
	}
	if (set_dedicated(ig, g) != EXIT_OK)
		return EXIT_USAGE;

	if (inline_realtime(ig, g) != EXIT_OK)
		return EXIT_USAGE;

	/* The names were checked against the enums' own tables. */
	if ((ig->has_cpu_policy && tmap_guest_set_cpu_policy(g, ig->cpu_policy) < 0) ||
	    (ig->has_thread_policy && tmap_guest_set_thread_policy(g, ig->thread_policy) < 0) ||
	    (ig->has_emulator && tmap_guest_set_emulator_policy(g, ig->emulator) < 0) ||
	    (ig->has_memory_mode && tmap_guest_set_memory_mode(g, ig->memory_mode) < 0) ||
	    (ig->cells_share_nodes && tmap_guest_set_cells_share_nodes(g, 1) < 0))
		return fail(EXIT_RUNTIME, "guest '%s': the library refused a policy",
			    tmap_guest_name(g));
	/* Each of --shares, --period and --quota replaces its own value only. */
	tmap_guest_qos(g, &shares, &period, &quota);
	if (ig->has_qos && tmap_guest_set_qos(g, ig->shares ? ig->shares : shares,
					      ig->period ? ig->period : period,
					      ig->quota ? ig->quota : quota) < 0)
		return fail(EXIT_USAGE, "guest '%s': --shares, --period or --quota not accepted",
			    tmap_guest_name(g));
	return EXIT_OK;
}

/* All of stdin (at most MAX_STDIN bytes, NUL-terminated); `what` names it in messages. */
int
read_stdin(const char *what, char **ret, size_t *ret_len)
{
	size_t len = 0, cap = 0;
	char *text = NULL;
	int r;

	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			char *bigger;

			if (cap >= MAX_STDIN) {
				free(text);
				return fail(EXIT_USAGE, "<stdin>: more than %u MiB of %s",
					    MAX_STDIN >> 20, what);
			}
			cap = cap ? cap * 2 : 65536;
			bigger = realloc(text, cap);
			if (!bigger) {
				free(text);
				return fail(EXIT_RUNTIME, "out of memory");
			}
			text = bigger;
		}
		n = read(STDIN_FILENO, text + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = errno;
			free(text);
			return fail(EXIT_RUNTIME, "cannot read %s from stdin: %s", what, strerror(r));
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (!text && !(text = calloc(1, 1)))
		return fail(EXIT_RUNTIME, "out of memory");
	text[len] = '\0';
	*ret = text;
	*ret_len = len;
	return EXIT_OK;
}

/* Guests from stdin ("-"), with the same size cap as a file. */
int
add_stdin_guests(struct tmap_guests *guests)
{
	struct tmap_error err = {0};
	size_t len = 0;
	char *text = NULL;
	int r;

	r = read_stdin("guests", &text, &len);
	if (r != EXIT_OK)
		return r;
	r = tmap_guests_parse_json(guests, text, len, "<stdin>", &err);
	free(text);
	if (r < 0)
		return fail_lib(r, true, &err, "<stdin>");
	return EXIT_OK;
}

/* getopt_long() says '?' both for an unknown option and for an abbreviation that matches
 * several ("--c"): tell them apart, the fix differs. */
int
unknown_option(const char *cmd, const struct option *options, int optopt_, char *const argv[],
	       int optind_)
{
	const char *arg = argv[optind_ - 1];
	size_t len = strcspn(arg, "=");
	unsigned matches = 0;

	if (optopt_ > 0 && optopt_ < 0x100)
		return fail(EXIT_USAGE, "%s: unknown option '-%c' (see 'topomap %s --help')", cmd,
			    optopt_, cmd);
	if (len > 2 && strncmp(arg, "--", 2) == 0)
		for (const struct option *o = options; o->name; o++)
			if (strncmp(o->name, arg + 2, len - 2) == 0)
				matches++;
	if (matches > 1)
		return fail(EXIT_USAGE, "%s: option '%.*s' is ambiguous (see 'topomap %s --help')",
			    cmd, (int)len, arg, cmd);
	return fail(EXIT_USAGE, "%s: unknown option '%.*s' (see 'topomap %s --help')", cmd,
		    (int)len, arg, cmd);
}

/* An empty source would silently mean the live host to the library. */
int
missing_value(const char *cmd, char *const argv[], int optind_)
{
	const char *arg = argv[optind_ - 1];

	return fail(EXIT_USAGE, "%s: option '%.*s' needs a value", cmd, (int)strcspn(arg, "="),
		    arg);
}

/* Store one inline guest option. Every one but --cell may be given once: a second --name
 * most likely means a second guest, which only a JSON file can describe. */
int
inline_option(int opt, const char *name, const char *arg, struct inline_guest *g)
{
	uint64_t v;
	int r = EXIT_OK;

	g->given = true;
	switch (opt) {
	case OPT_NAME:
		g->name = arg;
		break;
	case OPT_VCPUS:
		r = parse_unsigned(name, arg, 1, MAX_VCPUS, &g->vcpus);
		break;
	case OPT_SOCKETS:
		r = parse_unsigned(name, arg, 1, MAX_VCPUS, &g->sockets);
		break;
	case OPT_CORES:
		r = parse_unsigned(name, arg, 1, MAX_VCPUS, &g->cores);
		break;
	case OPT_THREADS:
		r = parse_unsigned(name, arg, 1, MAX_THREADS, &g->threads);
		break;
	case OPT_MEMORY:
		g->memory_arg = arg;
		r = parse_size_option(name, arg, &g->memory_mib);
		break;
	case OPT_CELLS:
		g->cells_arg = arg;
		r = parse_unsigned(name, arg, 1, MAX_VCPUS, &g->cells);
		break;
	case OPT_CELL:
		r = parse_cell(arg, g);
		break;
	case OPT_CELLS_SHARE_NODES:
		g->cells_share_nodes = true;
		break;
	case OPT_PUS:
		if (!is_list(arg))
			return fail(EXIT_USAGE, "%s: '%s' is not a list of host PUs such as 4-7 or 2,10",
				    name, arg);
		g->pus = arg;
		break;
	case OPT_DEDICATED_CPUS:
		if (!is_list(arg))
			return fail(EXIT_USAGE, "%s: '%s' is not a list of vcpus such as 0-1", name,
				    arg);
		g->dedicated = arg;
		break;
	case OPT_REALTIME_CPUS:
		if (!is_list(arg) || !*arg)
			return fail(EXIT_USAGE, "%s: '%s' is not a list of vcpus such as 1-3", name,
				    arg);
		g->realtime_cpus = arg;
		break;
	case OPT_REALTIME_PRIORITY:
		r = parse_unsigned(name, arg, TMAP_REALTIME_PRIORITY_MIN, TMAP_REALTIME_PRIORITY_MAX,
				   &g->realtime_priority);
		break;
	case OPT_DEVICE: {
		const char **dv = realloc(g->device, (g->ndevice + 1) * sizeof(*dv));

		if (!dv)
			return fail(EXIT_RUNTIME, "out of memory");
		g->device = dv;
		g->device[g->ndevice++] = arg;
		break;
	}
	case OPT_CPU_POLICY:
		g->has_cpu_policy = true;
		r = parse_choice(name, arg, cpu_policies, &g->cpu_policy);
		break;
	case OPT_THREAD_POLICY:
		g->has_thread_policy = true;
		r = parse_choice(name, arg, thread_policies, &g->thread_policy);
		break;
	case OPT_EMULATOR:
		g->has_emulator = true;
		r = parse_choice(name, arg, emulator_policies, &g->emulator);
		break;
	case OPT_MEMORY_MODE:
		g->has_memory_mode = true;
		r = parse_choice(name, arg, memory_modes, &g->memory_mode);
		break;
	case OPT_IOTHREADS:
		g->has_iothreads = true;
		r = parse_unsigned(name, arg, 0, MAX_IOTHREADS, &g->iothreads);
		break;
	case OPT_HUGEPAGES:
		g->page_arg = arg;
		r = parse_page_option(name, arg, &g->page_kib);
		break;
	case OPT_SHARES:
		g->has_qos = true;
		r = parse_number(name, arg, MIN_SHARES, MAX_SHARES, &g->shares);
		break;
	case OPT_PERIOD:
		g->has_qos = true;
		r = parse_number(name, arg, MIN_PERIOD, MAX_PERIOD, &g->period);
		break;
	case OPT_QUOTA:
		g->has_qos = true;
		if (strcmp(arg, "-1") == 0) {
			g->quota = -1;
			break;
		}
		r = parse_number(name, arg, MIN_QUOTA, MAX_QUOTA, &v);
		if (r == EXIT_OK)
			g->quota = (int64_t)v;
		break;
	}
	return r;
}

