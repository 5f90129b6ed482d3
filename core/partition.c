/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The host's partition (issue 15): housekeeping PUs, the shared pool, each dedicated guest's
 * PUs, and the rest (free), computed from what the host holds; the set a boot-time
 * isolcpus= or tuned's isolated_cores= gets, whole cores where that takes nothing from
 * anyone; and the traps of the partition (a core split between a dedicated guest and someone
 * else, a reserve that splits a core), each with its fix. Pure: no system call.
 */
#include <stdarg.h>

#include "internal.h"

#define MAX_WARNINGS 256

struct part_guest {
	char *name;
	hwloc_bitmap_t held;
	char *held_list;
};

/* A device a recorded guest holds: its interrupts are the guest's (issue 16). */
struct part_device {
	char *pci, *guest;
};

struct tmap_partition {
	const struct tmap_topology *t;
	hwloc_bitmap_t housekeeping, pool, dedicated, free, isolated, reserve;
	char *housekeeping_list, *pool_list, *free_list, *isolated_list;
	size_t nguests;
	struct part_guest *guests;
	size_t ndevices;
	struct part_device *devices;
	size_t nwarnings;
	char *warnings[MAX_WARNINGS];
};

struct tmap_partition *
tmap_partition_free(struct tmap_partition *p)
{
	if (!p)
		return NULL;
	hwloc_bitmap_t sets[] = {p->housekeeping, p->pool, p->dedicated, p->free, p->isolated,
				 p->reserve};

	for (size_t i = 0; i < ARRAY_SIZE(sets); i++)
		if (sets[i])
			hwloc_bitmap_free(sets[i]);
	free(p->housekeeping_list);
	free(p->pool_list);
	free(p->free_list);
	free(p->isolated_list);
	for (size_t i = 0; i < p->nguests; i++) {
		free(p->guests[i].name);
		hwloc_bitmap_free(p->guests[i].held);
		free(p->guests[i].held_list);
	}
	free(p->guests);
	for (size_t i = 0; i < p->ndevices; i++) {
		free(p->devices[i].pci);
		free(p->devices[i].guest);
	}
	free(p->devices);
	for (size_t i = 0; i < p->nwarnings; i++)
		free(p->warnings[i]);
	free(p);
	return NULL;
}

static void
tmap_partition_freep(struct tmap_partition **p)
{
	tmap_partition_free(*p);
}

static int _printf_(2, 3)
warn(struct tmap_partition *p, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (p->nwarnings == MAX_WARNINGS)
		return 0;
	va_start(ap, fmt);
	r = vasprintf(&p->warnings[p->nwarnings], fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	p->nwarnings++;
	return 0;
}

/* Who holds PU pu, for a warning: "guest 'b'", "the housekeeping set", "the shared pool". */
static const char *
holder(const struct tmap_partition *p, unsigned pu, char *buf, size_t size)
{
	if (hwloc_bitmap_isset(p->housekeeping, pu))
		return "the housekeeping set";
	for (size_t i = 0; i < p->nguests; i++)
		if (hwloc_bitmap_isset(p->guests[i].held, pu)) {
			snprintf(buf, size, "guest '%s'", p->guests[i].name);
			return buf;
		}
	if (hwloc_bitmap_isset(p->pool, pu))
		return "the shared pool";
	return NULL;
}

/* Each core of a dedicated guest shared with someone else; each core the reserve splits. The
 * isolated set takes a dedicated core's free siblings, so a boot-time isolation never leaves
 * half a core to the scheduler. */
static int
check_cores(struct tmap_partition *p)
{
	const struct tmap_topology *t = p->t;
	int r = 0;

	for (unsigned c = 0; r == 0 && c < t->ncores; c++) {
		const struct topo_core *core = &t->cores[c];
		unsigned reserved = 0;

		for (unsigned k = 0; k < core->npus; k++)
			reserved += hwloc_bitmap_isset(p->reserve, core->pus[k]);
		if (reserved && reserved < core->npus) {
			unsigned in = core->pus[0], out = core->pus[0];

			for (unsigned k = 0; k < core->npus; k++) {
				if (hwloc_bitmap_isset(p->reserve, core->pus[k]))
					in = core->pus[k];
				else
					out = core->pus[k];
			}
			r = warn(p, "the reserve splits a core: PU %u is reserved, its SMT sibling %u is not; fix: reserve whole cores (--reserve %u,%u, or neither)",
				 in, out, in < out ? in : out, in < out ? out : in);
		}
		for (size_t g = 0; r == 0 && g < p->nguests; g++) {
			const struct part_guest *pg = &p->guests[g];

			for (unsigned a = 0; r == 0 && a < core->npus; a++) {
				unsigned pu = core->pus[a];
				char buf[160];
				const char *who;

				if (!hwloc_bitmap_isset(pg->held, pu))
					continue;
				for (unsigned b = 0; r == 0 && b < core->npus; b++) {
					unsigned sib = core->pus[b];

					if (hwloc_bitmap_isset(pg->held, sib))
						continue;
					who = holder(p, sib, buf, sizeof(buf));
					if (who)
						r = warn(p, "dedicated guest '%s' holds PU %u, whose SMT sibling %u belongs to %s; fix: apply '%s' again with --thread-policy isolate or require, or take PU %u out of %s",
							 pg->name, pu, sib, who, pg->name, sib, who);
					else
						hwloc_bitmap_set(p->isolated, sib);
				}
				break;
			}
		}
	}
	return r;
}

static void
plan_freep(struct tmap_plan **p)
{
	tmap_plan_free(*p);
}

static int
add_devices(struct tmap_partition *p, const struct plan_guest *g)
{
	struct part_device *bigger;

	if (!g->ndevices)
		return 0;
	bigger = realloc(p->devices, (p->ndevices + g->ndevices) * sizeof(*bigger));
	if (!bigger)
		return -ENOMEM;
	p->devices = bigger;
	for (unsigned i = 0; i < g->ndevices; i++) {
		struct part_device *d = &p->devices[p->ndevices];

		d->pci = strdup(g->devices[i].pci);
		d->guest = strdup(g->name);
		if (!d->pci || !d->guest) {
			free(d->pci);
			free(d->guest);
			return -ENOMEM;
		}
		p->ndevices++;
	}
	return 0;
}

static int
add_guest(struct tmap_partition *p, const struct tmap_host *host, size_t i,
	  struct tmap_error *err)
{
	_cleanup_(plan_freep) struct tmap_plan *plan = NULL;
	_cleanup_bitmap_ hwloc_bitmap_t set = NULL;
	struct part_guest *pg;
	const char *held;
	int r;

	r = tmap_host_guest_plan(host, tmap_host_guest_name(host, i), &plan, err);
	if (r == 0 && plan->nguests)
		r = add_devices(p, &plan->guests[0]);
	if (r < 0)
		return r == -ENOMEM ? tmap_error_set(err, r, "out of memory") : r;
	held = tmap_plan_held_cpuset(plan, 0);
	if (!held || !*held) {
		/* A shared guest floats over the pool. */
		if (bitmap_parse_list(tmap_plan_cpuset(plan, 0), &set) < 0)
			return tmap_error_set(err, -EBADMSG, "guest '%s': bad cpuset",
					      tmap_plan_guest_name(plan, 0));
		hwloc_bitmap_or(p->pool, p->pool, set);
		return 0;
	}
	if (bitmap_parse_list(held, &set) < 0)
		return tmap_error_set(err, -EBADMSG, "guest '%s': bad held set", held);
	pg = &p->guests[p->nguests];
	pg->name = strdup(tmap_plan_guest_name(plan, 0));
	pg->held_list = strdup(held);
	if (!pg->name || !pg->held_list) {
		free(pg->name);
		free(pg->held_list);
		return tmap_error_set(err, -ENOMEM, "out of memory");
	}
	pg->held = TAKE_PTR(set);
	p->nguests++;
	hwloc_bitmap_or(p->dedicated, p->dedicated, pg->held);
	return 0;
}

static int
parse_option(const char *what, const char *list, hwloc_bitmap_t *ret, struct tmap_error *err)
{
	if (!list || !*list) {
		*ret = hwloc_bitmap_alloc();
		return *ret ? 0 : tmap_error_set(err, -ENOMEM, "out of memory");
	}
	if (bitmap_parse_trimmed(list, ret) < 0)
		return tmap_error_set(err, -EINVAL, "%s '%s' is not a list of PUs", what, list);
	return 0;
}

int
tmap_partition_new(const struct tmap_host *host, const char *reserve, const char *housekeeping,
		   unsigned flags, struct tmap_partition **ret, struct tmap_error *reterr)
{
	_cleanup_(tmap_partition_freep) struct tmap_partition *p = NULL;
	_cleanup_free_ char *pool = NULL;
	int r;

	if (!host || !ret || flags)
		return tmap_error_set(reterr, -EINVAL, "tmap_partition_new: invalid argument");
	p = calloc(1, sizeof(*p));
	if (!p)
		return tmap_error_set(reterr, -ENOMEM, "out of memory");
	p->t = host_topology(host);
	r = parse_option("reserve", reserve, &p->reserve, reterr);
	if (r == 0)
		r = parse_option("housekeeping", housekeeping ? housekeeping : reserve,
				 &p->housekeeping, reterr);
	pool = host_pool_list(host);
	if (r == 0)
		r = parse_option("shared pool", pool, &p->pool, reterr);
	if (r < 0)
		return r;
	p->dedicated = hwloc_bitmap_alloc();
	p->free = hwloc_bitmap_alloc();
	p->isolated = hwloc_bitmap_alloc();
	p->guests = calloc(tmap_host_guest_count(host) + 1, sizeof(*p->guests));
	if (!p->dedicated || !p->free || !p->isolated || !p->guests)
		return tmap_error_set(reterr, -ENOMEM, "out of memory");
	if (!hwloc_bitmap_isincluded(p->housekeeping, p->t->cpuset))
		return tmap_error_set(reterr, -EINVAL,
				      "housekeeping '%s' has PUs this host does not have", housekeeping);
	for (size_t i = 0; i < tmap_host_guest_count(host); i++) {
		r = add_guest(p, host, i, reterr);
		if (r < 0)
			return r;
	}
	hwloc_bitmap_andnot(p->pool, p->pool, p->dedicated);
	hwloc_bitmap_copy(p->isolated, p->dedicated);
	hwloc_bitmap_andnot(p->free, p->t->cpuset, p->housekeeping);
	hwloc_bitmap_andnot(p->free, p->free, p->pool);
	hwloc_bitmap_andnot(p->free, p->free, p->dedicated);
	if (hwloc_bitmap_intersects(p->housekeeping, p->dedicated)) {
		_cleanup_bitmap_ hwloc_bitmap_t both = hwloc_bitmap_alloc();
		_cleanup_free_ char *text = NULL;

		if (!both)
			return tmap_error_set(reterr, -ENOMEM, "out of memory");
		hwloc_bitmap_and(both, p->housekeeping, p->dedicated);
		text = bitmap_list(both);
		if (!text || warn(p, "the housekeeping set shares PUs %s with dedicated guests; fix: topomap host set --housekeeping without them",
				  text) < 0)
			return tmap_error_set(reterr, -ENOMEM, "out of memory");
	}
	if (check_cores(p) < 0)
		return tmap_error_set(reterr, -ENOMEM, "out of memory");
	p->housekeeping_list = bitmap_list(p->housekeeping);
	p->pool_list = bitmap_list(p->pool);
	p->free_list = bitmap_list(p->free);
	p->isolated_list = bitmap_list(p->isolated);
	if (!p->housekeeping_list || !p->pool_list || !p->free_list || !p->isolated_list)
		return tmap_error_set(reterr, -ENOMEM, "out of memory");
	*ret = TAKE_PTR(p);
	return 0;
}

const char *
tmap_partition_housekeeping(const struct tmap_partition *p)
{
	return p ? p->housekeeping_list : NULL;
}

const char *
tmap_partition_shared(const struct tmap_partition *p)
{
	return p ? p->pool_list : NULL;
}

const char *
tmap_partition_free_cpus(const struct tmap_partition *p)
{
	return p ? p->free_list : NULL;
}

const char *
tmap_partition_isolated(const struct tmap_partition *p)
{
	return p ? p->isolated_list : NULL;
}

size_t
tmap_partition_guest_count(const struct tmap_partition *p)
{
	return p ? p->nguests : 0;
}

const char *
tmap_partition_guest_name(const struct tmap_partition *p, size_t i)
{
	return p && i < p->nguests ? p->guests[i].name : NULL;
}

const char *
tmap_partition_guest_cpus(const struct tmap_partition *p, size_t i)
{
	return p && i < p->nguests ? p->guests[i].held_list : NULL;
}

size_t
tmap_partition_device_count(const struct tmap_partition *p)
{
	return p ? p->ndevices : 0;
}

int
tmap_partition_device(const struct tmap_partition *p, size_t i, const char **ret_pci,
		      const char **ret_guest)
{
	if (!p || i >= p->ndevices)
		return -EINVAL;
	if (ret_pci)
		*ret_pci = p->devices[i].pci;
	if (ret_guest)
		*ret_guest = p->devices[i].guest;
	return 0;
}

size_t
tmap_partition_warning_count(const struct tmap_partition *p)
{
	return p ? p->nwarnings : 0;
}

const char *
tmap_partition_warning(const struct tmap_partition *p, size_t i)
{
	return p && i < p->nwarnings ? p->warnings[i] : NULL;
}
