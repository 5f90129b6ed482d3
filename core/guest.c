/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Guest specifications: built through setters (guest-json.c reads them from JSON), validated
 * in one place so that every message names where the guest came from, the guest, the field
 * and the value.
 */
#include <ctype.h>
#include <stdarg.h>
#include <search.h>

#include "internal.h"

#define MAX_VCPUS TMAP_MAX_VCPUS
#define MAX_IOTHREADS TMAP_MAX_IOTHREADS
#define MAX_NAME GUEST_MAX_NAME

static const char *const cpu_policies[] = {
	[TMAP_CPU_DEDICATED] = "dedicated",
	[TMAP_CPU_SHARED] = "shared",
	[TMAP_CPU_MIXED] = "mixed",
};
static const char *const thread_policies[] = {
	[TMAP_THREAD_PREFER] = "prefer",
	[TMAP_THREAD_ISOLATE] = "isolate",
	[TMAP_THREAD_REQUIRE] = "require",
};
static const char *const emulator_policies[] = {
	[TMAP_EMULATOR_SHARE] = "share",
	[TMAP_EMULATOR_ISOLATE] = "isolate",
	[TMAP_EMULATOR_SHARE_HOST] = "share-host",
};
static const char *const memory_modes[] = {
	[TMAP_MEMORY_STRICT] = "strict",
	[TMAP_MEMORY_PREFERRED] = "preferred",
	[TMAP_MEMORY_INTERLEAVE] = "interleave",
	[TMAP_MEMORY_RESTRICTIVE] = "restrictive",
};

static int
name_lookup(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; s && i < n; i++)
		if (streq(names[i], s))
			return (int)i;
	return -EINVAL;
}

const char *
cpu_policy_name(enum tmap_cpu_policy p)
{
	return (unsigned)p < ARRAY_SIZE(cpu_policies) ? cpu_policies[p] : "?";
}

const char *
thread_policy_name(enum tmap_thread_policy p)
{
	return (unsigned)p < ARRAY_SIZE(thread_policies) ? thread_policies[p] : "?";
}

const char *
emulator_policy_name(enum tmap_emulator_policy p)
{
	return (unsigned)p < ARRAY_SIZE(emulator_policies) ? emulator_policies[p] : "?";
}

const char *
memory_mode_name(enum tmap_memory_mode m)
{
	return (unsigned)m < ARRAY_SIZE(memory_modes) ? memory_modes[m] : "?";
}

int
cpu_policy_from_name(const char *s)
{
	return name_lookup(cpu_policies, ARRAY_SIZE(cpu_policies), s);
}

int
thread_policy_from_name(const char *s)
{
	return name_lookup(thread_policies, ARRAY_SIZE(thread_policies), s);
}

int
emulator_policy_from_name(const char *s)
{
	return name_lookup(emulator_policies, ARRAY_SIZE(emulator_policies), s);
}

int
memory_mode_from_name(const char *s)
{
	return name_lookup(memory_modes, ARRAY_SIZE(memory_modes), s);
}

/*
 * A whole number with an optional unit letter from `units` (any case, each 1024 times the
 * one before it; no letter is the first unit), optionally followed by "iB" or "B":
 * "4G", "512MiB", "2048". The value is in the first unit.
 */
static int
parse_scaled(const char *s, const char *units, uint64_t *ret)
{
	unsigned long long v;
	unsigned shift = 0;
	const char *unit;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	unit = *end ? strchr(units, toupper((unsigned char)*end)) : NULL;
	if (unit) {
		shift = 10 * (unsigned)(unit - units);
		end++;
	}
	if (*end == 'i' && end[1] == 'B')
		end += 2;
	else if (*end == 'B')
		end++;
	if (*end || v == 0 || v > (UINT64_MAX >> shift) / 2)
		return -EINVAL;
	*ret = (uint64_t)v << shift;
	return 0;
}

int
parse_size_mib(const char *s, uint64_t *ret)
{
	return parse_scaled(s, "MGT", ret);
}

int
parse_page_kib(const char *s, uint64_t *ret)
{
	uint64_t v;

	if (streq(s, "large") || streq(s, "any")) {
		*ret = streq(s, "large") ? TMAP_HUGEPAGES_LARGE : TMAP_HUGEPAGES_ANY;
		return 0;
	}
	if (parse_scaled(s, "KMG", &v) < 0 || v < TMAP_HUGEPAGE_KIB_MIN ||
	    v > TMAP_HUGEPAGE_KIB_MAX || (v & (v - 1)))
		return -EINVAL;
	*ret = v;
	return 0;
}

bool
guest_name_valid(const char *name)
{
	size_t len = name ? strlen(name) : 0;

	if (len == 0 || len > MAX_NAME || name[0] == '.' || name[0] == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
			return false;
	return true;
}

static void
cells_clear(struct tmap_guest *g)
{
	for (unsigned i = 0; i < g->ncells; i++)
		hwloc_bitmap_free(g->cells[i].vcpus);
	free(g->cells);
	g->cells = NULL;
	g->ncells = 0;
}

struct tmap_guest *
tmap_guest_free(struct tmap_guest *g)
{
	if (!g)
		return NULL;
	cells_clear(g);
	guest_devices_clear(g);
	guest_explicit_clear(g);
	guest_mixed_clear(g);
	guest_realtime_clear(g);
	free(g->name);
	free(g->origin);
	free(g);
	return NULL;
}

int
tmap_guest_new(const char *name, unsigned vcpus, struct tmap_guest **ret, struct tmap_error *err)
{
	struct tmap_guest *g;

	if (!ret)
		return tmap_error_set(err, -EINVAL, "tmap_guest_new: no place for the result");
	if (!guest_name_valid(name))
		return tmap_error_set(err, -EINVAL,
				      "guest name '%.80s' is not valid: use 1 to %d letters, digits, '.', '_' or '-', not starting with '.' or '-'",
				      name ? name : "", MAX_NAME);
	if (vcpus == 0 || vcpus > MAX_VCPUS)
		return tmap_error_set(err, -EINVAL,
				      "guest '%s': field 'vcpus': %u is not between 1 and %d", name,
				      vcpus, MAX_VCPUS);
	g = calloc(1, sizeof(*g));
	if (!g || !(g->name = strdup(name))) {
		free(g);
		return tmap_error_set(err, -ENOMEM, "out of memory");
	}
	g->vcpus = vcpus;
	g->sockets = 1;
	g->cores = vcpus;
	g->threads = 1;
	g->memory_mib = 1024;
	*ret = g;
	return 0;
}

const char *
tmap_guest_name(const struct tmap_guest *g)
{
	return g ? g->name : NULL;
}

unsigned
tmap_guest_vcpus(const struct tmap_guest *g)
{
	return g ? g->vcpus : 0;
}

void
tmap_guest_topology(const struct tmap_guest *g, unsigned *sockets, unsigned *cores,
		    unsigned *threads)
{
	if (sockets)
		*sockets = g ? g->sockets : 0;
	if (cores)
		*cores = g ? g->cores : 0;
	if (threads)
		*threads = g ? g->threads : 0;
}

/* Cells that all give their memory define the total, unless the memory was set (the rule
 * guest_resolve_counts() shares out). */
uint64_t
tmap_guest_memory_mib(const struct tmap_guest *g)
{
	uint64_t sum = 0;

	if (!g)
		return 0;
	if (g->memory_set || !g->ncells)
		return g->memory_mib;
	for (unsigned i = 0; i < g->ncells; i++) {
		if (!g->cells[i].memory_mib)
			return g->memory_mib;
		/* Saturates: tmap_guest_validate() refuses a sum over TMAP_MAX_MEMORY_MIB. */
		if (__builtin_add_overflow(sum, g->cells[i].memory_mib, &sum))
			return UINT64_MAX;
	}
	return sum;
}

unsigned
tmap_guest_cell_count(const struct tmap_guest *g)
{
	if (!g)
		return 0;
	return g->ncells ? g->ncells : g->cell_count ? g->cell_count : 1;
}

uint64_t
tmap_guest_hugepages(const struct tmap_guest *g)
{
	return g ? g->page_kib : 0;
}

unsigned
tmap_guest_iothreads(const struct tmap_guest *g)
{
	return g ? g->iothreads : 0;
}

void
tmap_guest_qos(const struct tmap_guest *g, uint64_t *shares, uint64_t *period_us,
	       int64_t *quota_us)
{
	if (shares)
		*shares = g ? g->shares : 0;
	if (period_us)
		*period_us = g ? g->period : 0;
	if (quota_us)
		*quota_us = g ? g->quota : 0;
}

int
tmap_guest_set_topology(struct tmap_guest *g, unsigned sockets, unsigned cores, unsigned threads)
{
	if (!g || !sockets || !cores || !threads || threads > TMAP_MAX_GUEST_THREADS ||
	    sockets > MAX_VCPUS || cores > MAX_VCPUS)
		return -EINVAL;
	g->sockets = sockets;
	g->cores = cores;
	g->threads = threads;
	g->topology_set = true;
	return 0;
}

int
tmap_guest_set_memory_mib(struct tmap_guest *g, uint64_t memory_mib)
{
	if (!g || !memory_mib || memory_mib > TMAP_MAX_MEMORY_MIB)
		return -EINVAL;
	g->memory_mib = memory_mib;
	g->memory_set = true;
	return 0;
}

int
tmap_guest_set_hugepages(struct tmap_guest *g, uint64_t page_kib)
{
	if (!g || (page_kib && !page_size_chosen(page_kib) && (page_kib < TMAP_HUGEPAGE_KIB_MIN ||
				page_kib > TMAP_HUGEPAGE_KIB_MAX || (page_kib & (page_kib - 1)))))
		return -EINVAL;
	g->page_kib = page_kib;
	return 0;
}

int
tmap_guest_add_cell(struct tmap_guest *g, const char *cpus, uint64_t memory_mib,
		    struct tmap_error *err)
{
	hwloc_bitmap_t set = NULL;
	struct guest_cell *cells;

	if (!g)
		return -EINVAL;
	if (memory_mib > TMAP_MAX_MEMORY_MIB)
		return tmap_error_set(err, -EINVAL,
				      "guest '%s': cell %u: memory %" PRIu64 " MiB is more than the most a guest may have, %" PRIu64 " MiB (4 PiB)",
				      g->name, g->ncells, memory_mib, TMAP_MAX_MEMORY_MIB);
	if (g->ncells >= MAX_VCPUS)
		return tmap_error_set(err, -EINVAL, "guest '%s': more than %d cells", g->name,
				      MAX_VCPUS);
	if (bitmap_parse_list(cpus, &set) < 0)
		return tmap_error_set(err, -EINVAL,
				      "guest '%s': cell %u: cpus '%.80s' is not a list such as '0-3,8'",
				      g->name, g->ncells, cpus ? cpus : "");
	cells = realloc(g->cells, (g->ncells + 1) * sizeof(*cells));
	if (!cells) {
		hwloc_bitmap_free(set);
		return tmap_error_set(err, -ENOMEM, "out of memory");
	}
	g->cells = cells;
	g->cells[g->ncells].vcpus = set;
	g->cells[g->ncells].memory_mib = memory_mib;
	g->cells[g->ncells].node = -1;
	g->ncells++;
	g->cell_count = 0;
	return 0;
}

int
tmap_guest_set_cell_count(struct tmap_guest *g, unsigned cells)
{
	if (!g || cells == 0 || cells > MAX_VCPUS)
		return -EINVAL;
	cells_clear(g);
	g->cell_count = cells;
	return 0;
}

int
tmap_guest_set_cpu_policy(struct tmap_guest *g, enum tmap_cpu_policy p)
{
	if (!g || (unsigned)p >= ARRAY_SIZE(cpu_policies))
		return -EINVAL;
	g->cpu_policy = p;
	return 0;
}

int
tmap_guest_set_thread_policy(struct tmap_guest *g, enum tmap_thread_policy p)
{
	if (!g || (unsigned)p >= ARRAY_SIZE(thread_policies))
		return -EINVAL;
	g->thread_policy = p;
	g->thread_policy_set = true;
	return 0;
}

int
tmap_guest_set_emulator_policy(struct tmap_guest *g, enum tmap_emulator_policy p)
{
	if (!g || (unsigned)p >= ARRAY_SIZE(emulator_policies))
		return -EINVAL;
	g->emulator_policy = p;
	g->emulator_policy_set = true;
	return 0;
}

int
tmap_guest_set_pinned(struct tmap_guest *g, int pinned)
{
	if (!g)
		return -EINVAL;
	g->pinned = pinned != 0;
	return 0;
}

int
tmap_guest_set_cells_share_nodes(struct tmap_guest *g, int share)
{
	if (!g)
		return -EINVAL;
	g->cells_share_nodes = share != 0;
	return 0;
}

int
tmap_guest_set_memory_mode(struct tmap_guest *g, enum tmap_memory_mode m)
{
	if (!g || (unsigned)m >= ARRAY_SIZE(memory_modes))
		return -EINVAL;
	g->memory_mode = m;
	return 0;
}

int
tmap_guest_set_iothreads(struct tmap_guest *g, unsigned n)
{
	if (!g || n > MAX_IOTHREADS)
		return -EINVAL;
	g->iothreads = n;
	return 0;
}

#define SHARES_MIN TMAP_QOS_SHARES_MIN
#define SHARES_MAX TMAP_QOS_SHARES_MAX
#define PERIOD_MIN TMAP_QOS_PERIOD_MIN
#define PERIOD_MAX TMAP_QOS_PERIOD_MAX
#define QUOTA_MIN TMAP_QOS_QUOTA_MIN
#define QUOTA_MAX TMAP_QOS_QUOTA_MAX

int
tmap_guest_set_qos(struct tmap_guest *g, uint64_t shares, uint64_t period, int64_t quota)
{
	if (!g)
		return -EINVAL;
	if (shares && (shares < SHARES_MIN || shares > SHARES_MAX))
		return -EINVAL;
	if (period && (period < PERIOD_MIN || period > PERIOD_MAX))
		return -EINVAL;
	if (quota && quota != -1 && (quota < QUOTA_MIN || quota > QUOTA_MAX))
		return -EINVAL;
	g->shares = shares;
	g->period = period;
	g->quota = quota;
	return 0;
}

/* "FILE: guest 'NAME': " or "guest 'NAME': " */
#define GUEST_FMT "%s%sguest '%s': "
#define GUEST_ARGS(g) (g)->origin ? (g)->origin : "", (g)->origin ? ": " : "", (g)->name

/* The union of the first n cells' vcpus, or NULL when out of memory. */
static hwloc_bitmap_t
cells_union(const struct tmap_guest *g, unsigned n)
{
	hwloc_bitmap_t set = hwloc_bitmap_alloc();

	for (unsigned i = 0; set && i < n; i++)
		hwloc_bitmap_or(set, set, g->cells[i].vcpus);
	return set;
}

/* "guest 'NAME': cell I: cpus 'LIST'WHAT", LIST printed only now that it is needed. */
static int _printf_(4, 5)
cell_error(const struct tmap_guest *g, unsigned i, struct tmap_error *err, const char *fmt, ...)
{
	_cleanup_free_ char *list = bitmap_list(g->cells[i].vcpus);
	char what[TMAP_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return tmap_error_set(err, -EINVAL, GUEST_FMT "cell %u: cpus '%s'%s", GUEST_ARGS(g), i,
			      list ? list : "", what);
}

static int
validate_shape(const struct tmap_guest *g, struct tmap_error *err)
{
	uint64_t sum = 0;
	unsigned unsized = 0, covered = 0;

	if ((uint64_t)g->sockets * g->cores * g->threads != g->vcpus)
		return tmap_error_set(err, -EINVAL,
				      GUEST_FMT "sockets*cores*threads is %u*%u*%u = %" PRIu64 ", not vcpus %u",
				      GUEST_ARGS(g), g->sockets, g->cores, g->threads,
				      (uint64_t)g->sockets * g->cores * g->threads, g->vcpus);
	if (g->cpu_policy == TMAP_CPU_SHARED && g->thread_policy_set)
		return tmap_error_set(err, -EINVAL,
				      GUEST_FMT "field 'thread_policy': '%s' applies only to dedicated guests, this one is shared",
				      GUEST_ARGS(g), thread_policy_name(g->thread_policy));
	if (g->cpu_policy == TMAP_CPU_SHARED && g->emulator_policy_set &&
	    g->emulator_policy == TMAP_EMULATOR_ISOLATE)
		return tmap_error_set(err, -EINVAL,
				      GUEST_FMT "field 'emulator_threads': 'isolate' applies only to dedicated guests, this one is shared",
				      GUEST_ARGS(g));
	if (g->thread_policy == TMAP_THREAD_ISOLATE && g->threads > 1)
		return tmap_error_set(err, -EINVAL,
				      GUEST_FMT "field 'thread_policy': 'isolate' keeps host siblings empty, so it cannot host a guest with threads=%u",
				      GUEST_ARGS(g), g->threads);
	if (g->cell_count) {
		unsigned guest_cores = g->vcpus / g->threads;

		if (g->cell_count > guest_cores)
			return tmap_error_set(err, -EINVAL,
					      GUEST_FMT "cells: %u cells for %u guest cores; a cell needs at least one core",
					      GUEST_ARGS(g), g->cell_count, guest_cores);
		if (g->memory_mib < g->cell_count)
			return tmap_error_set(err, -EINVAL,
					      GUEST_FMT "cells: %" PRIu64 " MiB cannot be split into %u cells",
					      GUEST_ARGS(g), g->memory_mib, g->cell_count);
		return 0;
	}
	if (g->ncells == 0)
		return 0;

	/* Cells are checked as often as guests are placed: a set is printed, and the union of
	 * the cells built, only for a message. Disjoint cells cover every vcpu exactly when
	 * their sizes add up to vcpus. */
	for (unsigned i = 0; i < g->ncells; i++) {
		const struct guest_cell *c = &g->cells[i];
		int last = hwloc_bitmap_last(c->vcpus);
		bool overlaps = false;
		unsigned v;

		if (hwloc_bitmap_iszero(c->vcpus))
			return tmap_error_set(err, -EINVAL, GUEST_FMT "cell %u: cpus is empty",
					      GUEST_ARGS(g), i);
		if (last >= (int)g->vcpus)
			return cell_error(g, i, err, " names vcpu %d, but the guest has vcpus 0-%u",
					  last, g->vcpus - 1);
		for (unsigned j = 0; j < i && !overlaps; j++)
			overlaps = hwloc_bitmap_intersects(g->cells[j].vcpus, c->vcpus);
		if (overlaps) {
			_cleanup_bitmap_ hwloc_bitmap_t both = cells_union(g, i);

			if (!both)
				return tmap_error_set(err, -ENOMEM, "out of memory");
			hwloc_bitmap_and(both, both, c->vcpus);
			return cell_error(g, i, err, ": vcpu %d is already in another cell",
					  hwloc_bitmap_first(both));
		}
		/* A guest core split between cells would lie to the guest's scheduler. */
		if (g->threads > 1) {
			hwloc_bitmap_foreach_begin(v, c->vcpus)
			{
				unsigned first = v - v % g->threads;

				for (unsigned t = first; t < first + g->threads; t++)
					if (!hwloc_bitmap_isset(c->vcpus, t))
						return cell_error(g, i, err, " splits guest core %u (vcpus %u-%u)",
								  v / g->threads, first,
								  first + g->threads - 1);
			}
			hwloc_bitmap_foreach_end();
		}
		covered += (unsigned)hwloc_bitmap_weight(c->vcpus);
		if (!c->memory_mib)
			unsized++;
		else if (__builtin_add_overflow(sum, c->memory_mib, &sum) ||
			 sum > TMAP_MAX_MEMORY_MIB)
			return tmap_error_set(err, -EINVAL,
					      GUEST_FMT "cells: cell memory adds up to more than %" PRIu64 " MiB (4 PiB), the most a guest may have",
					      GUEST_ARGS(g), TMAP_MAX_MEMORY_MIB);
	}
	if (covered != g->vcpus) {
		_cleanup_bitmap_ hwloc_bitmap_t missing = cells_union(g, g->ncells);

		if (!missing)
			return tmap_error_set(err, -ENOMEM, "out of memory");
		hwloc_bitmap_not(missing, missing);
		return tmap_error_set(err, -EINVAL, GUEST_FMT "cells: vcpu %d is in no cell",
				      GUEST_ARGS(g), hwloc_bitmap_first(missing));
	}
	if (!unsized && g->memory_set && sum != g->memory_mib)
		return tmap_error_set(err, -EINVAL,
				      GUEST_FMT "cells: cell memory adds up to %" PRIu64 " MiB, not memory_mib %" PRIu64,
				      GUEST_ARGS(g), sum, g->memory_mib);
	if (unsized && (sum >= g->memory_mib || g->memory_mib - sum < unsized))
		return tmap_error_set(err, -EINVAL,
				      GUEST_FMT "cells: cells with memory take %" PRIu64 " MiB of %" PRIu64 ", nothing left for the %u without",
				      GUEST_ARGS(g), sum, g->memory_mib, unsized);
	return 0;
}

/* Hugepages come whole: every cell's memory is a multiple of the page size. */
static int
validate_hugepages(const struct tmap_guest *g, struct tmap_error *err)
{
	struct guest_cells cells = {0};
	char size[32];
	int r = 0;

	/* A size the placement chooses is checked there, for each size it tries. */
	if (!g->page_kib || page_size_chosen(g->page_kib))
		return 0;
	page_size_text(g->page_kib, size, sizeof(size));
	if (guest_resolve_counts(g, &cells) < 0)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	for (unsigned c = 0; c < cells.n && r == 0; c++)
		if ((cells.memory_mib[c] << 10) % g->page_kib == 0)
			continue;
		else if (cells.implied)
			r = tmap_error_set(err, -EINVAL,
					   GUEST_FMT "field 'hugepages': memory_mib %" PRIu64 " is not a whole number of %s pages",
					   GUEST_ARGS(g), g->memory_mib, size);
		else
			r = tmap_error_set(err, -EINVAL,
					   GUEST_FMT "field 'hugepages': cell %u gets %" PRIu64 " MiB, not a whole number of %s pages; give each cell's memory_mib",
					   GUEST_ARGS(g), c, cells.memory_mib[c], size);
	guest_cells_clear(&cells);
	return r;
}

int
tmap_guest_validate(const struct tmap_guest *g, struct tmap_error *err)
{
	int r;

	if (!g)
		return tmap_error_set(err, -EINVAL, "no guest");
	r = validate_shape(g, err);
	if (r == 0)
		r = guest_devices_validate(g, err);
	if (r == 0)
		r = guest_explicit_validate(g, err);
	if (r == 0)
		r = guest_mixed_validate(g, err);
	if (r == 0)
		r = guest_realtime_validate(g, err);
	if (r < 0)
		return r;
	return validate_hugepages(g, err);
}

void
guest_cells_clear(struct guest_cells *c)
{
	for (unsigned i = 0; c->vcpus && i < c->size; i++)
		if (c->vcpus[i])
			hwloc_bitmap_free(c->vcpus[i]);
	free(c->vcpus);
	free(c->nvcpus);
	free(c->memory_mib);
	memset(c, 0, sizeof(*c));
}

/* Room for n cells, keeping what is there. */
static int
guest_cells_reserve(struct guest_cells *c, unsigned n)
{
	hwloc_bitmap_t *vcpus;
	unsigned *nvcpus;
	uint64_t *memory_mib;

	if (n <= c->size)
		return 0;
	vcpus = realloc(c->vcpus, n * sizeof(*vcpus));
	if (!vcpus)
		return -ENOMEM;
	c->vcpus = vcpus;
	nvcpus = realloc(c->nvcpus, n * sizeof(*nvcpus));
	if (!nvcpus)
		return -ENOMEM;
	c->nvcpus = nvcpus;
	memory_mib = realloc(c->memory_mib, n * sizeof(*memory_mib));
	if (!memory_mib)
		return -ENOMEM;
	c->memory_mib = memory_mib;
	for (; c->size < n; c->size++)
		if (!(c->vcpus[c->size] = hwloc_bitmap_alloc()))
			return -ENOMEM;
	return 0;
}

int
guest_resolve_counts(const struct tmap_guest *g, struct guest_cells *c)
{
	uint64_t total = tmap_guest_memory_mib(g), sum = 0;
	unsigned n = g->ncells ? g->ncells : g->cell_count ? g->cell_count : 1, unsized = 0;

	if (guest_cells_reserve(c, n) < 0)
		return -ENOMEM;
	c->n = n;
	c->implied = !g->ncells && !g->cell_count;
	if (g->ncells) {
		for (unsigned i = 0; i < c->n; i++) {
			c->nvcpus[i] = (unsigned)hwloc_bitmap_weight(g->cells[i].vcpus);
			c->memory_mib[i] = g->cells[i].memory_mib;
			if (__builtin_add_overflow(sum, c->memory_mib[i], &sum))
				return -EOVERFLOW; /* validation refuses it first */
			unsized += c->memory_mib[i] == 0;
		}
	} else if (c->n == 1) {
		/* most guests: one cell, all of it (and no division, which costs here) */
		c->nvcpus[0] = g->vcpus;
		c->memory_mib[0] = g->memory_mib;
		return 0;
	} else {
		/* K even cells, at guest core boundaries; earlier cells take the remainder. */
		unsigned cores = g->vcpus / g->threads;

		for (unsigned i = 0; i < c->n; i++) {
			c->nvcpus[i] = (cores / c->n + (i < cores % c->n)) * g->threads;
			c->memory_mib[i] = 0;
		}
		unsized = c->n;
	}
	for (unsigned i = 0, k = 0; i < c->n; i++) {
		if (c->memory_mib[i] == 0) {
			uint64_t left = total - sum;

			c->memory_mib[i] = left / unsized + (k < left % unsized);
			k++;
		}
	}
	return 0;
}

int
guest_cells_vcpus(const struct tmap_guest *g, struct guest_cells *c)
{
	for (unsigned i = 0, next = 0; i < c->n; i++) {
		if (g->ncells) {
			if (hwloc_bitmap_copy(c->vcpus[i], g->cells[i].vcpus) < 0)
				return -ENOMEM;
			continue;
		}
		/* implied cells take consecutive vcpus, as many as their counts */
		hwloc_bitmap_zero(c->vcpus[i]);
		if (hwloc_bitmap_set_range(c->vcpus[i], next, (int)(next + c->nvcpus[i]) - 1) < 0)
			return -ENOMEM;
		next += c->nvcpus[i];
	}
	return 0;
}

int
guest_resolve_cells(const struct tmap_guest *g, struct guest_cells *c)
{
	int r = guest_resolve_counts(g, c);

	return r < 0 ? r : guest_cells_vcpus(g, c);
}

/* ------------------------------------------------------------------------------------- */
/* The list of guests */

int
tmap_guests_new(struct tmap_guests **ret)
{
	struct tmap_guests *l;

	if (!ret)
		return -EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	*ret = l;
	return 0;
}

static void
noop_free(void *p)
{
	(void)p;
}

struct tmap_guests *
tmap_guests_free(struct tmap_guests *l)
{
	if (!l)
		return NULL;
	/* The index holds borrowed pointers: drop the tree, then the guests. */
	tdestroy(l->by_name, noop_free);
	for (size_t i = 0; i < l->n; i++)
		tmap_guest_free(l->guest[i]);
	free(l->guest);
	free(l);
	return NULL;
}

size_t
tmap_guests_count(const struct tmap_guests *l)
{
	return l ? l->n : 0;
}

const struct tmap_guest *
tmap_guests_get(const struct tmap_guests *l, size_t i)
{
	return l && i < l->n ? l->guest[i] : NULL;
}

static int
cmp_guest_name(const void *a, const void *b)
{
	const struct tmap_guest *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/* The guest of that name, through the index: O(log n), so reading n guests is O(n log n). */
static const struct tmap_guest *
guests_find(const struct tmap_guests *l, const char *name)
{
	struct tmap_guest key = {.name = (char *)name};
	void *found = tfind(&key, &l->by_name, cmp_guest_name);

	return found ? *(const struct tmap_guest **)found : NULL;
}

/* Drop the guest added last: the undo of a text that did not read to its end. */
void
guests_drop_last(struct tmap_guests *l)
{
	struct tmap_guest *g = l->guest[--l->n];

	tdelete(g, &l->by_name, cmp_guest_name);
	tmap_guest_free(g);
}

int
tmap_guests_add(struct tmap_guests *l, struct tmap_guest *g, struct tmap_error *err)
{
	struct tmap_guest **v;
	const struct tmap_guest *other;
	int r;

	if (!l || !g)
		return tmap_error_set(err, -EINVAL, "tmap_guests_add: missing argument");
	r = tmap_guest_validate(g, err);
	if (r < 0)
		return r;
	other = guests_find(l, g->name);
	if (other)
		return tmap_error_set(err, -EINVAL,
				      GUEST_FMT "field 'name': '%s' is already the name of a guest%s%s",
				      GUEST_ARGS(g), g->name, other->origin ? " in " : "",
				      other->origin ? other->origin : "");
	if (l->n == l->size) {
		size_t size = l->size ? l->size * 2 : 16;

		v = reallocarray(l->guest, size, sizeof(*v));
		if (!v)
			return tmap_error_set(err, -ENOMEM, "out of memory");
		l->guest = v;
		l->size = size;
	}
	if (!tsearch(g, &l->by_name, cmp_guest_name))
		return tmap_error_set(err, -ENOMEM, "out of memory");
	l->guest[l->n++] = g;
	return 0;
}
