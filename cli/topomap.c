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

enum {
	EXIT_OK = 0,
	EXIT_RUNTIME = 1,
	EXIT_USAGE = 2,
	EXIT_NOFIT = 3,
	EXIT_DRIFT = 4,
	EXIT_LEFT_CHANGED = 5,
};

#define MAX_VCPUS TMAP_MAX_VCPUS
#define MAX_THREADS TMAP_MAX_GUEST_THREADS
#define MAX_IOTHREADS TMAP_MAX_IOTHREADS
#define MIN_SHARES TMAP_QOS_SHARES_MIN
#define MAX_SHARES TMAP_QOS_SHARES_MAX
#define MIN_PERIOD TMAP_QOS_PERIOD_MIN
#define MAX_PERIOD TMAP_QOS_PERIOD_MAX
#define MIN_QUOTA TMAP_QOS_QUOTA_MIN
#define MAX_QUOTA ((uint64_t)TMAP_QOS_QUOTA_MAX)
/* Same cap as tmap_guests_load_json(), for guests read from stdin. */
#define MAX_STDIN (16u << 20)

struct choice {
	const char *name;
	int value;
};

/* The plan as a picture: formats of the CLI's own, past the library's enum. */
enum {
	FORMAT_SVG = 100,
	FORMAT_PNG,
};

static const struct choice formats[] = {
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
static const struct choice topology_formats[] = {
	{"table", TMAP_FORMAT_TABLE},
	{"json", TMAP_FORMAT_JSON},
	{NULL, 0},
};

static const struct choice cpu_policies[] = {
	{"dedicated", TMAP_CPU_DEDICATED},
	{"shared", TMAP_CPU_SHARED},
	{NULL, 0},
};

static const struct choice thread_policies[] = {
	{"prefer", TMAP_THREAD_PREFER},
	{"isolate", TMAP_THREAD_ISOLATE},
	{"require", TMAP_THREAD_REQUIRE},
	{NULL, 0},
};

static const struct choice emulator_policies[] = {
	{"share", TMAP_EMULATOR_SHARE},
	{"isolate", TMAP_EMULATOR_ISOLATE},
	{NULL, 0},
};

static const struct choice memory_modes[] = {
	{"strict", TMAP_MEMORY_STRICT},
	{"preferred", TMAP_MEMORY_PREFERRED},
	{"interleave", TMAP_MEMORY_INTERLEAVE},
	{"restrictive", TMAP_MEMORY_RESTRICTIVE},
	{NULL, 0},
};

static const char main_help[] =
	"Usage: topomap COMMAND [OPTIONS]\n"
	"\n"
	"Compute where the vcpus, NUMA cells, emulator threads and iothreads of guests run on\n"
	"a host, before anything is started or pinned.\n"
	"\n"
	"Commands:\n"
	"  topology   describe the host: NUMA nodes, memory, cores and their SMT siblings\n"
	"  plan       place one or more guests on the host and print the plan\n"
	"  apply      plan one guest and put the plan in force through a backend\n"
	"  verify     compare what is in force for one guest with its plan\n"
	"  backends   list the backends found, and whether each can work here\n"
	"  state      what the allocation state holds: used and free per node, each guest\n"
	"  release    free a guest's allocation in the state (its pins stay as they are)\n"
	"\n"
	"Options:\n"
	"  -h, --help     show this help (or 'topomap COMMAND --help')\n"
	"      --version  print the version\n"
	"\n"
	"Environment:\n"
	"  TOPOMAP_PLUGIN_PATH  directories of backends, separated by ':', instead of the\n"
	"                       installed one\n"
	"  TOPOMAP_STATE        the allocation state of the live host (default\n"
	"                       /var/lib/topomap/state.json)\n"
	"  NO_COLOR             when set, the table output is never coloured\n"
	"\n"
	"Exit codes: 0 ok, 1 runtime error, 2 bad input or usage, 3 the guests do not fit,\n"
	"4 verify found the plan not in force, 5 apply failed and could not put back all that\n"
	"was there (the message says what is left changed).\n"
	"\n"
	"See topomap(1) and topomap-COMMAND(1).\n";

static const char topology_help[] =
	"Usage: topomap topology [--topology SRC] [--format table|json]\n"
	"\n"
	"Describe the host as numactl(8) does, plus the SMT sibling lists.\n"
	"\n"
	"  --topology SRC   'live' (this machine, the default), 'synthetic:DESC' for an hwloc\n"
	"                   synthetic description, 'NAME:ARG' for a host backend NAME reaches\n"
	"                   (libvirt:qemu+ssh://host/system), a FILE.json as this command's\n"
	"                   json prints, or the path of an hwloc XML file\n"
	"  --format FMT     table (default, coloured on a terminal unless NO_COLOR is set) or json\n"
	"  -h, --help       show this help\n";

/* The inline guest options, shared by plan, apply and verify. */
#define GUEST_OPTIONS_HELP \
	"One guest given inline:\n" \
	"  --name NAME            the guest's name (required with any guest option, except\n" \
	"                         on a guest apply or verify read from the target)\n" \
	"  --vcpus N              number of vcpus (required)\n" \
	"  --sockets S --cores C --threads T\n" \
	"                         guest CPU topology; S*C*T must equal N (default 1*N*1)\n" \
	"  --memory SIZE          guest memory: 4096 (MiB), 512M, 4G, 1T (default 1024M, or\n" \
	"                         the sum of the cells' memory)\n" \
	"  --cells K              K guest NUMA cells of equal size\n" \
	"  --cell cpus=LIST[,memory=SIZE]\n" \
	"                         one guest NUMA cell (repeat for each cell)\n" \
	"  --cpu-policy P         dedicated (default) or shared\n" \
	"  --thread-policy P      prefer (default), isolate or require\n" \
	"  --emulator P           share (default) or isolate\n" \
	"  --iothreads N          number of iothreads (default 0)\n" \
	"  --memory-mode M        strict (default), preferred, interleave or restrictive\n" \
	"  --hugepages SIZE       back the memory with hugepages of this size: 2M, 1G or\n" \
	"                         2048 (KiB), taken whole from the nodes' pools\n" \
	"  --shares N             cpu shares\n" \
	"  --period US            CFS period in microseconds\n" \
	"  --quota US             CFS quota in microseconds, or -1 for unlimited\n"

static const char plan_help[] =
	"Usage: topomap plan [--topology SRC] [--reserve CPUSET] [--state FILE] [--format FMT]\n"
	"                    [--batch] [GUEST OPTIONS] [FILE.json ...]\n"
	"\n"
	"Place guests, in the order given (the inline guest first, then the files), on an\n"
	"empty host and print the plan. Nothing on the host is changed.\n"
	"\n"
	"  --topology SRC         'live' (default), 'synthetic:DESC', 'NAME:ARG' (libvirt:URI),\n"
	"                         a host FILE.json, or an hwloc XML file\n"
	"  --reserve CPUSET       host PUs no guest may use, e.g. 0,12\n"
	"  --state FILE           place around the guests this allocation state holds (default\n"
	"                         for the live host: $TOPOMAP_STATE or /var/lib/topomap/state.json)\n"
	"  --format FMT           table (default, coloured on a terminal unless NO_COLOR is set),\n"
	"                         json, libvirt, qemu, or a picture: svg or png (hwloc's lstopo)\n"
	"  --batch                place as many as fit (in the order given or largest first,\n"
	"                         whichever places more); list the others, and exit 3\n"
	"  FILE.json              guests in JSON (an object or an array); '-' reads stdin\n"
	"\n"
	GUEST_OPTIONS_HELP
	"  -h, --help             show this help\n";

/* The target options, shared by apply and verify. Each backend takes some of them. */
#define TARGET_OPTIONS_HELP \
	"Target (each backend takes some; see 'topomap backends'):\n" \
	"  --cgroup PATH          cgroup backend: the cgroup, relative to the cpuset hierarchy\n" \
	"                         (machine.slice/ct1) or an absolute path inside it\n" \
	"  --create               cgroup backend: create a missing cgroup\n" \
	"  --layout L             cgroup backend: container (default) or libvirt (vcpuN,\n" \
	"                         emulator, iothreadN child cgroups)\n" \
	"  --memory-migrate       cgroup backend (v1): move existing pages with the mems\n" \
	"  --qmp SOCKET --pid PID qemu-direct backend: a running QEMU's QMP socket and pid\n" \
	"  --connect URI          libvirt backend: the connection (default: libvirt's own)\n" \
	"  --domain NAME|UUID     libvirt backend: the domain\n" \
	"  --live, --config       libvirt backend: the running domain, its persistent\n" \
	"                         definition, or both (default as virsh does)\n" \
	"  -o KEY[=VALUE]         any other option the backend takes (see 'topomap backends')\n" \
	"Without a guest, apply and verify read it from the target where the backend can.\n" \
	"Guest options without --name then go on top of it: the policy options override\n" \
	"what was read; --vcpus, --sockets, --cores, --threads, --memory, --cells and\n" \
	"--iothreads must match the running guest, --cell is refused (exit 2).\n"

static const char apply_help[] =
	"Usage: topomap apply --backend NAME [--dry-run] [TARGET OPTIONS] [--topology SRC]\n"
	"                     [--reserve CPUSET] [--state FILE] [GUEST OPTIONS] [FILE.json]\n"
	"\n"
	"Plan one guest as 'plan' does, then put the plan in force, all or nothing: capture what\n"
	"is there, apply, read back what the kernel or hypervisor reports, compare with the plan,\n"
	"and put the capture back on any failure or difference.\n"
	"\n"
	"  --backend NAME         the backend (see 'topomap backends')\n"
	"  --dry-run              print every write it would make, and make none\n"
	"  --topology SRC         'live' (default), 'synthetic:DESC', 'NAME:ARG' (libvirt:URI),\n"
	"                         a host FILE.json, or an hwloc XML file\n"
	"  --reserve CPUSET       host PUs no guest may use, e.g. 0,12\n"
	"  --state FILE           the allocation state to place around and record the guest in\n"
	"                         (default for the live host: $TOPOMAP_STATE or\n"
	"                         /var/lib/topomap/state.json)\n"
	"\n"
	TARGET_OPTIONS_HELP
	"\n"
	GUEST_OPTIONS_HELP
	"  -h, --help             show this help\n";

static const char verify_help[] =
	"Usage: topomap verify --backend NAME [TARGET OPTIONS] [--topology SRC]\n"
	"                      [--reserve CPUSET] [--state FILE] [GUEST OPTIONS] [FILE.json]\n"
	"\n"
	"Plan one guest as 'plan' does, read what is in force through the backend (including\n"
	"every task's Cpus_allowed_list and Mems_allowed_list) and report each difference.\n"
	"Exit 0 when the plan is in force, 4 when it drifted. Nothing is changed.\n"
	"\n"
	"  --backend NAME         the backend (see 'topomap backends')\n"
	"  --topology SRC         'live' (default), 'synthetic:DESC', 'NAME:ARG' (libvirt:URI),\n"
	"                         a host FILE.json, or an hwloc XML file\n"
	"  --reserve CPUSET       host PUs no guest may use, e.g. 0,12\n"
	"  --state FILE           compare with the plan this allocation state recorded (default\n"
	"                         for the live host: $TOPOMAP_STATE or /var/lib/topomap/state.json)\n"
	"\n"
	TARGET_OPTIONS_HELP
	"\n"
	GUEST_OPTIONS_HELP
	"  -h, --help             show this help\n";

static const char state_help[] =
	"Usage: topomap state [--state FILE] [--topology SRC] [--format table|json]\n"
	"       topomap release NAME [--state FILE] [--topology SRC]\n"
	"\n"
	"The allocation state records every guest apply placed, so later plans and applies go\n"
	"around them. FILE defaults to $TOPOMAP_STATE or /var/lib/topomap/state.json for the live\n"
	"host. 'state' shows used and free capacity per node and what each guest holds;\n"
	"'release' frees a guest's allocation (undo its pins with the hypervisor's own tools).\n"
	"\n"
	"  --state FILE           the allocation state (default for the live host: $TOPOMAP_STATE\n"
	"                         or /var/lib/topomap/state.json; required for another host)\n"
	"  --topology SRC         the host the state belongs to: 'live' (default),\n"
	"                         'synthetic:DESC', 'NAME:ARG', a host FILE.json, or an hwloc XML file\n"
	"  --format FMT           state only: table (default, coloured on a terminal unless\n"
	"                         NO_COLOR is set) or json\n"
	"  -h, --help             show this help\n";

static const char backends_help[] =
	"Usage: topomap backends\n"
	"\n"
	"List every backend in the plugin directories (TOPOMAP_PLUGIN_PATH, or the installed\n"
	"one): its name, ABI, path, and whether it can work on this host now, or why not.\n"
	"\n"
	"  -h, --help             show this help\n";

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print one line "topomap: <message>" on stderr and return the exit code. */
static int
fail(int code, const char *fmt, ...)
{
	char msg[2 * TMAP_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Callers count on exactly one line, whatever a message quoted from the input holds. */
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	fprintf(stderr, "topomap: %s\n", msg);
	return code;
}

/*
 * Exit code for a failed library call. The library says -EINVAL, -ENOENT and their kin when
 * what it was given is wrong; that is the user's input only when the user gave it (a broken
 * live host is a runtime error, not a usage error).
 */
static int
exit_code(int r, bool user_input)
{
	switch (r) {
	case -EINVAL:
	case -ENOENT:
	case -EFBIG:
	case -EBADMSG:
	case -ERANGE:
	case -ENAMETOOLONG:
	case -EISDIR:
	case -ENOTDIR:
		return user_input ? EXIT_USAGE : EXIT_RUNTIME;
	default:
		return EXIT_RUNTIME;
	}
}

static int
fail_lib(int r, bool user_input, const struct tmap_error *err, const char *what)
{
	int code = exit_code(r, user_input);

	if (err->message[0])
		return fail(code, "%s", err->message);
	return fail(code, "%s: %s", what, strerror(-r));
}

static int
emit(const char *text)
{
	size_t len = strlen(text);

	while (len > 0) {
		ssize_t n = write(STDOUT_FILENO, text, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return fail(EXIT_RUNTIME, "cannot write the output: %s", strerror(errno));
		}
		text += n;
		len -= (size_t)n;
	}
	return EXIT_OK;
}

/*
 * Colour for a person at a terminal, never for a pipe or a file: headings bold, the reasons
 * dim. NO_COLOR (https://no-color.org) set to anything but "" turns it off, as does a dumb
 * terminal. Only the table is coloured; json, libvirt and qemu output stay byte for byte
 * what the library wrote.
 */
static bool
use_colour(void)
{
	const char *no_colour = getenv("NO_COLOR");
	const char *term = getenv("TERM");

	if (no_colour && no_colour[0])
		return false;
	if (!term || !term[0] || strcmp(term, "dumb") == 0)
		return false;
	return isatty(STDOUT_FILENO) == 1;
}

#define SGR_BOLD "\033[1m"
#define SGR_DIM "\033[2m"
#define SGR_RED "\033[1;31m"
#define SGR_RESET "\033[0m"

/* "guest NAME:", "node N:", "host:", "rejected (N):": the length of the label to embolden. */
static size_t
heading_length(const char *line, size_t len)
{
	static const char *const labels[] = {"host:", "guest ", "node ", "guests:", "rejected ("};
	const char *colon = memchr(line, ':', len);

	if (!colon || line[0] == ' ')
		return 0;
	for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
		if (strncmp(line, labels[i], strlen(labels[i])) == 0)
			return (size_t)(colon - line) + 1;
	return 0;
}

/* A column header: "  vcpu  host PU ..." in a plan, "node  free PUs ..." in the state. */
static bool
is_column_header(const char *line, size_t len)
{
	return (len > 6 && strncmp(line, "  vcpu ", 7) == 0) ||
	       (len > 6 && strncmp(line, "node  ", 6) == 0);
}

/* The table as the library wrote it, with SGR sequences around headings and reasons. */
static char *
colourize(const char *text)
{
	char *out = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&out, &size);
	bool in_why = false;

	if (!f)
		return NULL;
	while (*text) {
		size_t len = strcspn(text, "\n");
		size_t indent = strspn(text, " ");
		size_t head;

		/* The reasons are the "why:" line and the deeper-indented lines under it. */
		if (in_why && indent < 4)
			in_why = false;
		if (len >= indent + 4 && strncmp(text + indent, "why:", 4) == 0)
			in_why = true;

		if (in_why && len > 0) {
			fprintf(f, SGR_DIM "%.*s" SGR_RESET, (int)len, text);
		} else if (is_column_header(text, len)) {
			fprintf(f, SGR_BOLD "%.*s" SGR_RESET, (int)len, text);
		} else if ((head = heading_length(text, len)) > 0) {
			fprintf(f, "%s%.*s" SGR_RESET "%.*s",
				strncmp(text, "rejected", 8) == 0 ? SGR_RED : SGR_BOLD, (int)head,
				text, (int)(len - head), text + head);
		} else {
			fprintf(f, "%.*s", (int)len, text);
		}
		text += len;
		if (*text == '\n') {
			fputc('\n', f);
			text++;
		}
	}
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* The table output: coloured on a terminal, as is everywhere else. */
static int
emit_table(const char *text)
{
	char *coloured;
	int r;

	if (!use_colour())
		return emit(text);
	coloured = colourize(text);
	if (!coloured)
		return emit(text);
	r = emit(coloured);
	free(coloured);
	return r;
}

static int
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
static bool
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

static int
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

static int
parse_unsigned(const char *option, const char *arg, unsigned min, unsigned max, unsigned *ret)
{
	uint64_t v;
	int r = parse_number(option, arg, min, max, &v);

	if (r == EXIT_OK)
		*ret = (unsigned)v;
	return r;
}

/* A size in MiB: "4096" (MiB), "512M", "4G", "1T", each unit optionally followed by "iB". */
static bool
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
static int
parse_page_option(const char *option, const char *arg, uint64_t *ret)
{
	const char *p = arg;
	unsigned shift = 0;
	uint64_t v;

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
		    "%s: '%s' is not a hugepage size such as 2M, 1G or 2048 (KiB): a power of two from 8 KiB to 16 GiB",
		    option, arg);
}

static int
parse_size_option(const char *option, const char *arg, uint64_t *ret)
{
	if (!parse_size(arg, ret))
		return fail(EXIT_USAGE, "%s: '%s' is not a size such as 4096 (MiB), 512M, 4G or 1T",
			    option, arg);
	return EXIT_OK;
}

/* Kernel list syntax, strictly: "0-3,8". */
static bool
is_list(const char *s)
{
	for (;;) {
		uint64_t a, b;

		if (!parse_digits(&s, &a))
			return false;
		if (*s == '-') {
			s++;
			if (!parse_digits(&s, &b) || b < a)
				return false;
		}
		if (!*s)
			return true;
		if (*s++ != ',')
			return false;
	}
}

/* One --cell argument. */
struct cell_arg {
	const char *arg; /* as typed, for messages */
	char *cpus;
	uint64_t memory_mib; /* 0: an even share */
};

/* The guest given with inline options. Zero means "not given" throughout. */
struct inline_guest {
	bool given;
	const char *name;
	unsigned vcpus;
	unsigned sockets, cores, threads;
	const char *memory_arg;
	uint64_t memory_mib;
	const char *cells_arg;
	unsigned cells;
	size_t ncell;
	struct cell_arg *cell;
	bool has_cpu_policy, has_thread_policy, has_emulator, has_memory_mode, has_qos;
	int cpu_policy, thread_policy, emulator, memory_mode;
	bool has_iothreads;	/* --iothreads 0 is a value too, for a described guest */
	unsigned iothreads;
	uint64_t shares, period;
	int64_t quota;
	const char *page_arg;
	uint64_t page_kib;
};

static void
inline_guest_clear(struct inline_guest *g)
{
	for (size_t i = 0; i < g->ncell; i++)
		free(g->cell[i].cpus);
	free(g->cell);
}

/*
 * "cpus=0-3,8,memory=4G": the vcpu list has commas of its own, so a comma starts a new key
 * only when what follows is "key=".
 */
static int
parse_cell(const char *arg, struct inline_guest *g)
{
	const char *p = arg;
	struct cell_arg cell = {.arg = arg};
	const char *cpus = NULL, *memory = NULL;
	size_t cpus_len = 0, memory_len = 0;
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
		} else if (!eq && last_is_cpus) {
			cpus_len = (size_t)(p + len - cpus);
		} else {
			return fail(EXIT_USAGE, "--cell: '%s' is not cpus=LIST[,memory=SIZE]", arg);
		}
		p += len;
		if (*p == ',' && *++p == '\0')
			return fail(EXIT_USAGE, "--cell: '%s' is not cpus=LIST[,memory=SIZE]", arg);
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
static int
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
		if (r < 0) {
			r = fail(exit_code(r, true), "--cell: '%s': %s", ig->cell[i].arg,
				 err.message[0] ? err.message : strerror(-r));
			goto out;
		}
	}

	if ((ig->has_cpu_policy && tmap_guest_set_cpu_policy(g, ig->cpu_policy) < 0) ||
	    (ig->has_thread_policy && tmap_guest_set_thread_policy(g, ig->thread_policy) < 0) ||
	    (ig->has_emulator && tmap_guest_set_emulator_policy(g, ig->emulator) < 0) ||
	    (ig->has_memory_mode && tmap_guest_set_memory_mode(g, ig->memory_mode) < 0)) {
		/* The names were checked against the enums' own tables. */
		r = fail(EXIT_RUNTIME, "guest '%s': the library refused a policy", ig->name);
		goto out;
	}
	if (ig->page_kib && tmap_guest_set_hugepages(g, ig->page_kib) < 0) {
		r = fail(EXIT_USAGE, "--hugepages: '%" PRIu64 "' KiB is not accepted", ig->page_kib);
		goto out;
	}
	if (ig->iothreads && tmap_guest_set_iothreads(g, ig->iothreads) < 0) {
		r = fail(EXIT_USAGE, "--iothreads: '%u' is not accepted", ig->iothreads);
		goto out;
	}
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
 * --thread-policy, --emulator, --memory-mode, --shares, --period, --quota) override what it
 * read. Shape options (--vcpus, --sockets, --cores, --threads, --memory, --cells,
 * --iothreads) are what the guest already is: one that matches is accepted, one that does
 * not is refused, as no plan can change them. --cell is refused: the cells are the guest's.
 * --hugepages may name the page size of a guest read in normal pages (a backend that cannot
 * see its memory's backing), but not another one than it read.
 */
static int
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

	/* The names were checked against the enums' own tables. */
	if ((ig->has_cpu_policy && tmap_guest_set_cpu_policy(g, ig->cpu_policy) < 0) ||
	    (ig->has_thread_policy && tmap_guest_set_thread_policy(g, ig->thread_policy) < 0) ||
	    (ig->has_emulator && tmap_guest_set_emulator_policy(g, ig->emulator) < 0) ||
	    (ig->has_memory_mode && tmap_guest_set_memory_mode(g, ig->memory_mode) < 0))
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

/* Guests from stdin ("-"), with the same size cap as a file. */
static int
add_stdin_guests(struct tmap_guests *guests)
{
	struct tmap_error err = {0};
	size_t len = 0, cap = 0;
	char *text = NULL;
	int r;

	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *bigger;

			if (cap >= MAX_STDIN) {
				free(text);
				return fail(EXIT_USAGE, "<stdin>: more than %u MiB of guests",
					    MAX_STDIN >> 20);
			}
			cap = cap ? cap * 2 : 65536;
			bigger = realloc(text, cap);
			if (!bigger) {
				free(text);
				return fail(EXIT_RUNTIME, "out of memory");
			}
			text = bigger;
		}
		n = read(STDIN_FILENO, text + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = errno;
			free(text);
			return fail(EXIT_RUNTIME, "cannot read guests from stdin: %s", strerror(r));
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	r = tmap_guests_parse_json(guests, text ? text : "", len, "<stdin>", &err);
	free(text);
	if (r < 0)
		return fail_lib(r, true, &err, "<stdin>");
	return EXIT_OK;
}

static int
load_topology(const char *source, struct tmap_topology **ret)
{
	struct tmap_error err = {0};
	int r = tmap_topology_new(source, 0, ret, &err);

	if (r < 0)
		return fail_lib(r, strcmp(source, "live") != 0, &err, source);
	return EXIT_OK;
}

/* getopt_long() says '?' both for an unknown option and for an abbreviation that matches
 * several ("--c"): tell them apart, the fix differs. */
static int
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
static int
check_source(const char *source)
{
	if (!source[0])
		return fail(EXIT_USAGE,
			    "--topology: '' is not live, synthetic:DESC or an hwloc XML file");
	return EXIT_OK;
}

static int
missing_value(const char *cmd, char *const argv[], int optind_)
{
	const char *arg = argv[optind_ - 1];

	return fail(EXIT_USAGE, "%s: option '%.*s' needs a value", cmd, (int)strcspn(arg, "="),
		    arg);
}

enum {
	OPT_TOPOLOGY = 0x100,
	OPT_FORMAT,
	OPT_RESERVE,
	OPT_NAME,
	OPT_VCPUS,
	OPT_SOCKETS,
	OPT_CORES,
	OPT_THREADS,
	OPT_MEMORY,
	OPT_CELLS,
	OPT_CELL,
	OPT_CPU_POLICY,
	OPT_THREAD_POLICY,
	OPT_EMULATOR,
	OPT_IOTHREADS,
	OPT_MEMORY_MODE,
	OPT_SHARES,
	OPT_PERIOD,
	OPT_QUOTA,
	OPT_HUGEPAGES,
	OPT_STATE,
	OPT_BATCH,
	OPT_BACKEND,
	OPT_DRY_RUN,
	/* target options: passed to the backend under their own name */
	OPT_TARGET_FIRST,
	OPT_CGROUP = OPT_TARGET_FIRST,
	OPT_CREATE,
	OPT_LAYOUT,
	OPT_MEMORY_MIGRATE,
	OPT_QMP,
	OPT_PID,
	OPT_CONNECT,
	OPT_DOMAIN,
	OPT_LIVE,
	OPT_CONFIG,
	OPT_TARGET_END,
	OPT_END = OPT_TARGET_END,
};

enum command {
	CMD_PLAN,
	CMD_APPLY,
	CMD_VERIFY,
};

static const char *const command_names[] = {"plan", "apply", "verify"};

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

/* Store one inline guest option. Every one but --cell may be given once: a second --name
 * most likely means a second guest, which only a JSON file can describe. */
static int
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
	int format;
	struct tmap_solve_options solve;
	struct inline_guest ig;
	struct tmap_target *target;
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
	kept = req->state ? tmap_state_reserve(req->state) : NULL;
	if (kept && kept[0] && opts.reserve) {
		if (asprintf(&reserve, "%s,%s", kept, opts.reserve) < 0)
			return fail(EXIT_RUNTIME, "out of memory");
		opts.reserve = reserve;
	} else if (kept && kept[0]) {
		opts.reserve = kept;
	}
	r = tmap_host_new(req->topology, &opts, &req->host, &err);
	free(reserve);
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
		if (r == -EOPNOTSUPP || r == -EINVAL || r == -ENOENT || r == -ENOTDIR) {
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
	/* verify compares with what apply recorded, not with a decision made again now. */
	if (req->cmd == CMD_VERIFY && req->state) {
		const char *name = tmap_guest_name(tmap_guests_get(guests, 0));

		for (size_t i = 0; i < tmap_host_guest_count(req->host); i++)
			if (strcmp(tmap_host_guest_name(req->host, i), name) == 0) {
				r = tmap_host_guest_plan(req->host, name, ret, &err);
				r = r < 0 ? fail(EXIT_RUNTIME, "%s", err.message) : EXIT_OK;
				goto out;
			}
	}
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
	tmap_guests_free(guests);
	return r;
}

/* Every line of a list, indented, into one malloc()ed text. */
static char *
report_text(const char *header, size_t n, const char *(*line)(const struct tmap_report *, size_t),
	    const struct tmap_report *report)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	fprintf(f, "%s\n", header);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "  %s\n", line(report, i));
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
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
	    const struct tmap_plan *plan)
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
	r = emit(text);
	if (r == EXIT_OK && req->cmd == CMD_VERIFY && tmap_report_drift_count(report))
		r = fail(EXIT_DRIFT, "guest '%s' drifted from its plan: %zu difference%s", name,
			 tmap_report_drift_count(report),
			 tmap_report_drift_count(report) == 1 ? "" : "s");
out:
	free(text);
	tmap_report_free(report);
	return r;
}

/* A temporary file "topomap-plan-XXXXXX.SUFFIX" in $TMPDIR or /tmp; its path in buf. */
static int
make_temp(char *buf, size_t size, const char *suffix)
{
	const char *dir = getenv("TMPDIR");
	int n;

	if (!dir || dir[0] != '/')
		dir = "/tmp";
	n = snprintf(buf, size, "%s/topomap-plan-XXXXXX%s", dir, suffix);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return mkstemps(buf, (int)strlen(suffix));
}

/* The first line of what a child wrote to the file at fd, for one line of error. */
static void
first_line(int fd, char *buf, size_t size)
{
	ssize_t n = pread(fd, buf, size - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

/*
 * The plan as a picture: the host in hwloc XML with each guest painted on it
 * (tmap_topology_export_xml()), drawn by hwloc's lstopo into a temporary file, then written
 * to stdout whole. SVG comes from lstopo-no-graphics (its own SVG, text as text), PNG from
 * lstopo (cairo). Run with posix_spawnp, no shell; OS indexes, every object drawn (not
 * factorized, or painted cores could be folded away), and no date or host name in the
 * legend, so the same plan draws the same picture.
 */
static int
draw_plan(const struct tmap_topology *topology, const struct tmap_plan *plan, int format)
{
	extern char **environ;
	const char *prog = format == FORMAT_PNG ? "lstopo" : "lstopo-no-graphics";
	const char *of = format == FORMAT_PNG ? "png" : "svg";
	char xml_path[PATH_MAX], out_path[PATH_MAX], msg[256];
	int xml_fd = -1, out_fd = -1, err_fd = -1, r = EXIT_RUNTIME, status;
	char err_path[PATH_MAX];
	posix_spawn_file_actions_t actions;
	struct tmap_error err = {0};
	char *xml = NULL, *data = NULL;
	struct stat st;
	pid_t pid;

	if (tmap_topology_export_xml(topology, plan, 0, &xml, &err) < 0)
		return fail(EXIT_RUNTIME, "plan: %s", err.message);
	xml_path[0] = out_path[0] = err_path[0] = '\0';
	xml_fd = make_temp(xml_path, sizeof(xml_path), ".xml");
	if (xml_fd < 0) {
		r = fail(EXIT_RUNTIME, "cannot create a temporary file: %s", strerror(errno));
		xml_path[0] = '\0';
		goto out;
	}
	out_fd = make_temp(out_path, sizeof(out_path), format == FORMAT_PNG ? ".png" : ".svg");
	if (out_fd < 0) {
		r = fail(EXIT_RUNTIME, "cannot create a temporary file: %s", strerror(errno));
		out_path[0] = '\0';
		goto out;
	}
	err_fd = make_temp(err_path, sizeof(err_path), ".log");
	if (err_fd < 0) {
		r = fail(EXIT_RUNTIME, "cannot create a temporary file: %s", strerror(errno));
		err_path[0] = '\0';
		goto out;
	}
	for (size_t done = 0, len = strlen(xml); done < len;) {
		ssize_t n = write(xml_fd, xml + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = fail(EXIT_RUNTIME, "cannot write '%s': %s", xml_path, strerror(errno));
			goto out;
		}
		done += (size_t)n;
	}

	{
		char *const argv[] = {
			(char *)prog, "--if", "xml", "-i", xml_path, "--of", (char *)of, "-f", "-p",
			"--no-factorize", "--no-default-legend", out_path, NULL,
		};
		int e;

		if (posix_spawn_file_actions_init(&actions) != 0) {
			r = fail(EXIT_RUNTIME, "out of memory");
			goto out;
		}
		e = posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY,
						     0);
		if (e == 0)
			e = posix_spawn_file_actions_adddup2(&actions, err_fd, STDOUT_FILENO);
		if (e == 0)
			e = posix_spawn_file_actions_adddup2(&actions, err_fd, STDERR_FILENO);
		if (e == 0)
			e = posix_spawnp(&pid, prog, &actions, NULL, argv, environ);
		posix_spawn_file_actions_destroy(&actions);
		if (e != 0) {
			r = fail(EXIT_RUNTIME,
				 "--format %s: cannot run '%s': %s (it comes with hwloc's lstopo, Debian package 'hwloc')",
				 of, prog, strerror(e));
			goto out;
		}
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			r = fail(EXIT_RUNTIME, "cannot wait for '%s': %s", prog, strerror(errno));
			goto out;
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		first_line(err_fd, msg, sizeof(msg));
		r = fail(EXIT_RUNTIME, "--format %s: '%s' failed (%s %d)%s%s", of, prog,
			 WIFEXITED(status) ? "exit status" : "signal",
			 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
			 msg[0] ? ": " : "", msg);
		goto out;
	}

	if (fstat(out_fd, &st) < 0 || st.st_size <= 0) {
		r = fail(EXIT_RUNTIME, "--format %s: '%s' drew nothing", of, prog);
		goto out;
	}
	data = malloc((size_t)st.st_size);
	if (!data) {
		r = fail(EXIT_RUNTIME, "out of memory");
		goto out;
	}
	if (pread(out_fd, data, (size_t)st.st_size, 0) != st.st_size) {
		r = fail(EXIT_RUNTIME, "cannot read '%s'", out_path);
		goto out;
	}
	r = EXIT_OK;
	for (size_t done = 0; done < (size_t)st.st_size;) {
		ssize_t n = write(STDOUT_FILENO, data + done, (size_t)st.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = fail(EXIT_RUNTIME, "cannot write the output: %s", strerror(errno));
			break;
		}
		done += (size_t)n;
	}
out:
	if (xml_fd >= 0)
		close(xml_fd);
	if (out_fd >= 0)
		close(out_fd);
	if (err_fd >= 0)
		close(err_fd);
	if (xml_path[0])
		unlink(xml_path);
	if (out_path[0])
		unlink(out_path);
	if (err_path[0])
		unlink(err_path);
	free(data);
	free(xml);
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
	if (cmd != CMD_PLAN) {
		r = run_backend(&req, module, plan);
		/* Recorded only once the backend put the plan in force and read it back. */
		if (r == EXIT_OK && cmd == CMD_APPLY && !req.dry_run && req.state) {
			if (req.solve.reserve)
				tmap_state_set_reserve(req.state, req.solve.reserve, NULL);
			if (tmap_state_save(req.state, req.host, &err) < 0)
				r = fail(EXIT_RUNTIME, "applied, but the state was not recorded: %s",
					 err.message);
		}
		goto out;
	}
	if (req.format == FORMAT_SVG || req.format == FORMAT_PNG) {
		r = draw_plan(req.topology, plan, req.format);
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
	char *text = NULL;

	opterr = 0;
	while (r == EXIT_OK && (c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
		switch (c) {
		case OPT_STATE:
			req.state_path = optarg;
			break;
		case OPT_TOPOLOGY:
			req.source = optarg;
			r = check_source(optarg);
			break;
		case OPT_FORMAT:
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
	if (strcmp(cmd, "verify") == 0)
		return cmd_guests(CMD_VERIFY, argc - 1, argv + 1);
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
