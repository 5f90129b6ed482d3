/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One guest of the state file: its plan read back strictly (a state is written by topomap,
 * so anything else in it is corruption or a hand edit, refused with the key that is wrong),
 * its spec (the guest file format), and its target.
 */
#include <json-c/json.h>
#include <stdarg.h>

#include "state.h"

/* A node's memory, its hugepage pools included: what a cell can hold at most. */
static uint64_t
node_total_mib(const struct tmap_topology *t, unsigned n)
{
	uint64_t mib = t->nodes[n].memory_mib;

	for (unsigned p = 0; p < t->npage_sizes; p++)
		mib += t->nodes[n].huge_pages[p] * t->page_kib[p] / 1024;
	return mib;
}

/* Where in the file a value is, for the one line of a refusal: "guests[2].plan.vcpus[0]". */
struct where {
	const char *path;	/* the state file */
	char at[160];
};

static const char *
type_name(struct json_object *v)
{
	return v ? json_type_to_name(json_object_get_type(v)) : "null";
}

static int _printf_(3, 4)
bad(struct tmap_error *err, const struct where *w, const char *fmt, ...)
{
	char what[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return tmap_error_set(err, -EBADMSG, "state file '%s': %s%s%s", w->path, w->at,
			      w->at[0] ? ": " : "", what);
}

/* A key of an object, of one type; absent is an error unless `optional`. */
static int
member(struct json_object *o, const char *key, enum json_type type, bool optional,
       const struct where *w, struct json_object **ret, struct tmap_error *err)
{
	struct json_object *v = NULL;

	*ret = NULL;
	if (!json_object_object_get_ex(o, key, &v)) {
		if (optional)
			return 0;
		return bad(err, w, "'%s' is missing", key);
	}
	if (!v || !json_object_is_type(v, type))
		return bad(err, w, "'%s' is %s, not %s", key, type_name(v), json_type_to_name(type));
	*ret = v;
	return 0;
}

static int
member_uint(struct json_object *o, const char *key, uint64_t max, bool optional,
	    const struct where *w, uint64_t *ret, struct tmap_error *err)
{
	struct json_object *v;
	int64_t n;
	int r = member(o, key, json_type_int, optional, w, &v, err);

	if (r < 0 || !v)
		return r;
	n = json_object_get_int64(v);
	if (n < 0 || (uint64_t)n > max)
		return bad(err, w, "'%s' is %" PRId64 ", not from 0 to %" PRIu64, key, n, max);
	*ret = (uint64_t)n;
	return 0;
}

static int
member_set(struct json_object *o, const char *key, bool optional, const struct where *w,
	   hwloc_bitmap_t set, struct tmap_error *err)
{
	_cleanup_bitmap_ hwloc_bitmap_t parsed = NULL;
	struct json_object *v;
	const char *list;
	int r = member(o, key, json_type_string, optional, w, &v, err);

	if (r < 0 || !v)
		return r;
	list = json_object_get_string(v);
	hwloc_bitmap_zero(set);
	if (!*list)
		return 0;
	if (bitmap_parse_list(list, &parsed) < 0)
		return bad(err, w, "'%s' is '%.40s', not a list such as 0-3,8", key, list);
	hwloc_bitmap_copy(set, parsed);
	return 0;
}

static int
member_enum(struct json_object *o, const char *key, int (*from_name)(const char *), int fallback,
	    const struct where *w, int *ret, struct tmap_error *err)
{
	struct json_object *v;
	int r = member(o, key, json_type_string, fallback >= 0, w, &v, err);

	if (r < 0)
		return r;
	if (!v) {
		*ret = fallback;
		return 0;
	}
	r = from_name(json_object_get_string(v));
	if (r < 0)
		return bad(err, w, "'%s' is '%.40s', not a known value", key,
			   json_object_get_string(v));
	*ret = r;
	return 0;
}

/* A mixed guest's "dedicated_cpus" (issue 21): required of it, refused of any other. */
static int
plan_dedicated(struct json_object *g, const struct where *w, struct plan_guest *pg,
	       struct tmap_error *err)
{
	bool mixed = pg->cpu_policy == TMAP_CPU_MIXED;
	struct json_object *v;
	int r = member(g, "dedicated_cpus", json_type_string, true, w, &v, err);

	if (r < 0)
		return r;
	if (!v && !mixed)
		return 0;
	if (!v || !mixed)
		return bad(err, w, "'dedicated_cpus' %s, and cpu_policy is '%s'",
			   v ? "is given" : "is missing", cpu_policy_name(pg->cpu_policy));
	if (!(pg->dedicated = hwloc_bitmap_alloc()))
		return tmap_error_set(err, -ENOMEM, "out of memory");
	r = member_set(g, "dedicated_cpus", false, w, pg->dedicated, err);
	if (r == 0 && hwloc_bitmap_iszero(pg->dedicated))
		return bad(err, w, "'dedicated_cpus' is empty");
	return r;
}

static int
plan_shape(struct json_object *g, const struct where *w, struct plan_guest *pg,
	   struct tmap_error *err)
{
	struct json_object *v, *topo, *qos;
	uint64_t n = 0;
	int e, r;

	r = member(g, "name", json_type_string, false, w, &v, err);
	if (r < 0)
		return r;
	pg->name = strdup(json_object_get_string(v));
	if (!pg->name)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	if ((r = member_enum(g, "cpu_policy", cpu_policy_from_name, TMAP_CPU_DEDICATED, w, &e,
			     err)) < 0)
		return r;
	pg->cpu_policy = (enum tmap_cpu_policy)e;
	if ((r = plan_dedicated(g, w, pg, err)) < 0)
		return r;
	if ((r = member_enum(g, "thread_policy", thread_policy_from_name, TMAP_THREAD_PREFER, w,
			     &e, err)) < 0)
		return r;
	pg->thread_policy = (enum tmap_thread_policy)e;
	if ((r = member_enum(g, "emulator_threads", emulator_policy_from_name,
			     TMAP_EMULATOR_SHARE, w, &e, err)) < 0)
		return r;
	pg->emulator_policy = (enum tmap_emulator_policy)e;
	if ((r = member(g, "topology", json_type_object, false, w, &topo, err)) < 0)
		return r;
	pg->sockets = 1;
	pg->threads = 1;
	n = 1;
	if ((r = member_uint(topo, "sockets", TMAP_MAX_VCPUS, true, w, &n, err)) < 0)
		return r;
	pg->sockets = (unsigned)n;
	n = 0;
	if ((r = member_uint(topo, "cores", TMAP_MAX_VCPUS, true, w, &n, err)) < 0)
		return r;
	pg->cores = (unsigned)n;
	n = 1;
	if ((r = member_uint(topo, "threads", TMAP_MAX_GUEST_THREADS, true, w, &n, err)) < 0)
		return r;
	pg->threads = (unsigned)n;
	if ((r = member(g, "qos", json_type_object, true, w, &qos, err)) < 0)
		return r;
	if (qos) {
		uint64_t shares = 0, period = 0;
		struct json_object *quota;

		if ((r = member_uint(qos, "shares", TMAP_QOS_SHARES_MAX, true, w, &shares, err)) < 0 ||
		    (r = member_uint(qos, "period", TMAP_QOS_PERIOD_MAX, true, w, &period, err)) < 0 ||
		    (r = member(qos, "quota", json_type_int, true, w, &quota, err)) < 0)
			return r;
		pg->shares = shares;
		pg->period = period;
		pg->quota = quota ? json_object_get_int64(quota) : 0;
		if (pg->quota < -1 || pg->quota > TMAP_QOS_QUOTA_MAX)
			return bad(err, w, "'quota' is %" PRId64 ", out of range", pg->quota);
	}
	if ((r = member(g, "cells_proposed", json_type_boolean, true, w, &v, err)) < 0)
		return r;
	pg->cells_proposed = v && json_object_get_boolean(v);
	if ((r = member(g, "pinned", json_type_boolean, true, w, &v, err)) < 0)
		return r;
	pg->pinned = v && json_object_get_boolean(v);
	return 0;
}

static int
plan_vcpus(const struct tmap_topology *t, struct json_object *vcpus, struct where *w,
	   struct plan_guest *pg, struct tmap_error *err)
{
	size_t at = strlen(w->at);
	int r;

	pg->vcpus = (unsigned)json_object_array_length(vcpus);
	if (pg->vcpus == 0 || pg->vcpus > TMAP_MAX_VCPUS)
		return bad(err, w, "'vcpus' holds %u vcpus", pg->vcpus);
	pg->vcpu_pus = calloc(pg->vcpus, sizeof(*pg->vcpu_pus));
	pg->vcpu_node = calloc(pg->vcpus, sizeof(*pg->vcpu_node));
	pg->vcpu_core_lists = calloc(pg->vcpus, sizeof(*pg->vcpu_core_lists));
	if (!pg->vcpu_pus || !pg->vcpu_node || !pg->vcpu_core_lists)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	for (unsigned v = 0; v < pg->vcpus; v++) {
		struct json_object *jv = json_object_array_get_idx(vcpus, v), *core;
		uint64_t index = UINT64_MAX, node = 0;

		snprintf(w->at + at, sizeof(w->at) - at, ".vcpus[%u]", v);
		if (!jv || !json_object_is_type(jv, json_type_object))
			return bad(err, w, "%s, not an object", type_name(jv));
		if (!(pg->vcpu_pus[v] = hwloc_bitmap_alloc()))
			return tmap_error_set(err, -ENOMEM, "out of memory");
		if ((r = member_uint(jv, "vcpu", TMAP_MAX_VCPUS, false, w, &index, err)) < 0 ||
		    (r = member_set(jv, "cpuset", false, w, pg->vcpu_pus[v], err)) < 0 ||
		    (r = member_uint(jv, "node", INT32_MAX, false, w, &node, err)) < 0 ||
		    (r = member(jv, "host_core", json_type_string, true, w, &core, err)) < 0)
			return r;
		if (index != v)
			return bad(err, w, "'vcpu' is %" PRIu64 ", not %u", index, v);
		if (hwloc_bitmap_iszero(pg->vcpu_pus[v]) ||
		    !hwloc_bitmap_isincluded(pg->vcpu_pus[v], t->cpuset))
			return bad(err, w, "'cpuset' is empty or not PUs of this host");
		if (plan_vcpu_dedicated(pg, v) && hwloc_bitmap_weight(pg->vcpu_pus[v]) != 1)
			return bad(err, w, "a dedicated vcpu holds exactly one PU");
		pg->vcpu_node[v] = (int)node;
		if (core && !(pg->vcpu_core_lists[v] = strdup(json_object_get_string(core))))
			return tmap_error_set(err, -ENOMEM, "out of memory");
	}
	w->at[at] = '\0';
	return 0;
}

static int
plan_cells(const struct tmap_topology *t, struct json_object *cells, struct where *w,
	   struct plan_guest *pg, struct tmap_error *err)
{
	size_t at = strlen(w->at);
	uint64_t total = 0;
	int r;

	pg->ncells = (unsigned)json_object_array_length(cells);
	if (pg->ncells == 0 || pg->ncells > pg->vcpus)
		return bad(err, w, "'cells' holds %u cells for %u vcpus", pg->ncells, pg->vcpus);
	pg->cells = calloc(pg->ncells, sizeof(*pg->cells));
	if (!pg->cells)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	for (unsigned c = 0; c < pg->ncells; c++) {
		struct json_object *jc = json_object_array_get_idx(cells, c), *nodeset;
		struct plan_cell *pc = &pg->cells[c];
		const char *node;
		uint64_t mib = 0;
		char *end;
		int n;

		snprintf(w->at + at, sizeof(w->at) - at, ".cells[%u]", c);
		if (!jc || !json_object_is_type(jc, json_type_object))
			return bad(err, w, "%s, not an object", type_name(jc));
		pc->vcpus = hwloc_bitmap_alloc();
		pc->pus = hwloc_bitmap_alloc();
		if (!pc->vcpus || !pc->pus)
			return tmap_error_set(err, -ENOMEM, "out of memory");
		if ((r = member_set(jc, "cpus", false, w, pc->vcpus, err)) < 0 ||
		    (r = member_set(jc, "host_cpus", false, w, pc->pus, err)) < 0 ||
		    (r = member(jc, "nodeset", json_type_string, false, w, &nodeset, err)) < 0 ||
		    (r = member_uint(jc, "memory_mib", STATE_MAX_MEMORY_MIB, false, w, &mib, err)) < 0)
			return r;
		node = json_object_get_string(nodeset);
		errno = 0;
		pc->node = (unsigned)strtoul(node, &end, 10);
		n = errno || end == node || *end ? -1 : topo_node_index(t, pc->node);
		if (n < 0)
			return bad(err, w, "'nodeset' is '%.20s', not one node of this host", node);
		pc->memory_mib = mib;
		if (mib > node_total_mib(t, (unsigned)n))
			return bad(err, w, "'memory_mib' %" PRIu64 " is more than node %u has", mib,
				   pc->node);
		if (pg->page_kib && (mib << 10) % pg->page_kib)
			return bad(err, w, "'memory_mib' %" PRIu64 " is not whole pages", mib);
		total += mib;
	}
	w->at[at] = '\0';
	pg->memory_mib = total;
	return 0;
}

/* Does a shared vcpu of a mixed guest float over a PU the guest holds (its pool is the
 * host's, never its own)? */
static bool
mixed_shared_held(const struct plan_guest *pg)
{
	for (unsigned v = 0; pg->cpu_policy == TMAP_CPU_MIXED && v < pg->vcpus; v++)
		if (!plan_vcpu_dedicated(pg, v) && hwloc_bitmap_intersects(pg->vcpu_pus[v], pg->held))
			return true;
	return false;
}

/*
 * What must hold in any plan topomap wrote: every vcpu on PUs the guest's sets say, a
 * dedicated guest's PUs its own and each held once, the derived lists agreeing.
 */
static int
plan_invariants(struct json_object *g, const struct where *w, const struct plan_guest *pg,
		struct tmap_error *err)
{
	_cleanup_bitmap_ hwloc_bitmap_t seen = hwloc_bitmap_alloc();
	_cleanup_bitmap_ hwloc_bitmap_t all = hwloc_bitmap_alloc();
	struct json_object *cpuset;
	int r;

	if (!seen || !all)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	if (pg->dedicated && (hwloc_bitmap_last(pg->dedicated) >= (int)pg->vcpus ||
			      hwloc_bitmap_weight(pg->dedicated) >= (int)pg->vcpus))
		return bad(err, w, "'dedicated_cpus' is not some of vcpus 0-%u", pg->vcpus - 1);
	for (unsigned v = 0; v < pg->vcpus; v++) {
		if (plan_vcpu_dedicated(pg, v)) {
			if (hwloc_bitmap_intersects(seen, pg->vcpu_pus[v]))
				return bad(err, w, "vcpu %u is on PU %d, which another vcpu holds", v,
					   hwloc_bitmap_first(pg->vcpu_pus[v]));
			if (!hwloc_bitmap_isincluded(pg->vcpu_pus[v], pg->held))
				return bad(err, w, "vcpu %u is on PU %d, outside 'held'", v,
					   hwloc_bitmap_first(pg->vcpu_pus[v]));
		}
		hwloc_bitmap_or(seen, seen, pg->vcpu_pus[v]);
	}
	if (pg->cpu_policy != TMAP_CPU_SHARED) {
		if (hwloc_bitmap_iszero(pg->held))
			return bad(err, w, "a dedicated guest that holds no PU");
		if (((pg->cpu_policy == TMAP_CPU_DEDICATED &&
		      pg->emulator_policy != TMAP_EMULATOR_SHARE_HOST) ||
		     pg->emulator_policy == TMAP_EMULATOR_ISOLATE) &&
		    !hwloc_bitmap_isincluded(pg->emulator, pg->held))
			return bad(err, w, "'emulator' runs outside 'held'");
		if (mixed_shared_held(pg))
			return bad(err, w, "a shared vcpu of a mixed guest floats over PUs it holds");
	} else if (!hwloc_bitmap_iszero(pg->held)) {
		return bad(err, w, "a shared guest holds PUs");
	}
	for (unsigned c = 0; c < pg->ncells; c++) {
		if (hwloc_bitmap_intersects(all, pg->cells[c].vcpus))
			return bad(err, w, "a vcpu is in two cells");
		hwloc_bitmap_or(all, all, pg->cells[c].vcpus);
	}
	if (hwloc_bitmap_weight(all) != (int)pg->vcpus || hwloc_bitmap_last(all) != (int)pg->vcpus - 1)
		return bad(err, w, "the cells do not hold vcpus 0 to %u once each", pg->vcpus - 1);
	r = member(g, "cpuset", json_type_string, false, w, &cpuset, err);
	if (r < 0)
		return r;
	hwloc_bitmap_or(seen, seen, pg->emulator);
	{
		_cleanup_free_ char *list = bitmap_list(seen);

		if (!list)
			return tmap_error_set(err, -ENOMEM, "out of memory");
		if (!streq(list, json_object_get_string(cpuset)))
			return bad(err, w, "'cpuset' is '%.40s' but its vcpus and emulator make '%.40s'",
				   json_object_get_string(cpuset), list);
	}
	return 0;
}

/*
 * "realtime": {"vcpus": "1-3", "scheduler": "fifo", "priority": 1}, absent in plans without
 * realtime vcpus (and in states older than them). What must hold: a dedicated guest's vcpus
 * (a mixed guest's dedicated ones),
 * a priority SCHED_FIFO takes, and each realtime vcpu's host core holding nothing of the guest
 * but realtime vcpus and PUs it keeps empty: no other vcpu, no emulator, no iothread.
 */
static int
plan_realtime(const struct tmap_topology *t, struct json_object *g, const struct where *w,
	      struct plan_guest *pg, struct tmap_error *err)
{
	_cleanup_bitmap_ hwloc_bitmap_t others = NULL;
	struct json_object *rt, *sched;
	uint64_t prio = 0;
	unsigned v;
	int r;

	if ((r = member(g, "realtime", json_type_object, true, w, &rt, err)) < 0 || !rt)
		return r;
	pg->realtime = hwloc_bitmap_alloc();
	others = hwloc_bitmap_dup(pg->emulator);
	if (!pg->realtime || !others)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	if ((r = member_set(rt, "vcpus", false, w, pg->realtime, err)) < 0 ||
	    (r = member(rt, "scheduler", json_type_string, false, w, &sched, err)) < 0 ||
	    (r = member_uint(rt, "priority", TMAP_REALTIME_PRIORITY_MAX, false, w, &prio, err)) < 0)
		return r;
	if (!streq(json_object_get_string(sched), "fifo"))
		return bad(err, w, "'realtime.scheduler' is '%.20s', not 'fifo'",
			   json_object_get_string(sched));
	if (prio < TMAP_REALTIME_PRIORITY_MIN)
		return bad(err, w, "'realtime.priority' is %" PRIu64 ", not from 1 to 99", prio);
	if (hwloc_bitmap_iszero(pg->realtime) || hwloc_bitmap_last(pg->realtime) >= (int)pg->vcpus ||
	    pg->cpu_policy == TMAP_CPU_SHARED ||
	    (pg->cpu_policy == TMAP_CPU_MIXED && !hwloc_bitmap_isincluded(pg->realtime, pg->dedicated)))
		return bad(err, w, "'realtime.vcpus' are not dedicated vcpus of this guest");
	pg->realtime_priority = (unsigned)prio;
	/* Iothreads run with the emulator or, share-host, on the other vcpus: both counted. */
	for (v = 0; v < pg->vcpus; v++)
		if (!hwloc_bitmap_isset(pg->realtime, v))
			hwloc_bitmap_or(others, others, pg->vcpu_pus[v]);
	hwloc_bitmap_foreach_begin(v, pg->realtime)
	{
		int pu = hwloc_bitmap_first(pg->vcpu_pus[v]);
		int c = pu >= 0 ? t->pu_core[pu] : -1;

		if (c < 0)
			return bad(err, w, "realtime vcpu %u is on no core of this host", v);
		for (unsigned k = 0; k < t->cores[c].npus; k++) {
			unsigned q = t->cores[c].pus[k];

			if (hwloc_bitmap_isset(others, q))
				return bad(err, w, "realtime vcpu %u shares its host core with PU %u, where another vcpu, the emulator or an iothread runs",
					   v, q);
			if (!hwloc_bitmap_isset(pg->held, q))
				return bad(err, w, "realtime vcpu %u has PU %u of its host core outside 'held', free for another guest",
					   v, q);
		}
	}
	hwloc_bitmap_foreach_end();
	pg->realtime_list = bitmap_list(pg->realtime);
	return pg->realtime_list ? 0 : tmap_error_set(err, -ENOMEM, "out of memory");
}

int
state_plan_from_json(const struct tmap_topology *t, struct json_object *g, const char *path,
		     const char *at, struct plan_guest *pg, struct tmap_error *err)
{
	struct where w = {.path = path};
	struct json_object *vcpus, *cells, *emu, *mem, *ios, *why, *devs;
	uint64_t mib = 0;
	int e, r;

	memset(pg, 0, sizeof(*pg));
	snprintf(w.at, sizeof(w.at), "%s", at);
	if (!g || !json_object_is_type(g, json_type_object))
		return bad(err, &w, "%s, not an object", type_name(g));
	if ((r = plan_shape(g, &w, pg, err)) < 0)
		return r;
	if ((r = member(g, "memory", json_type_object, false, &w, &mem, err)) < 0 ||
	    (r = member_enum(mem, "mode", memory_mode_from_name, -1, &w, &e, err)) < 0)
		return r;
	pg->memory_mode = (enum tmap_memory_mode)e;
	if ((r = member_uint(mem, "hugepage_kib", TMAP_HUGEPAGE_KIB_MAX, true, &w, &pg->page_kib,
			     err)) < 0 ||
	    (r = member_uint(mem, "memory_mib", STATE_MAX_MEMORY_MIB, true, &w, &mib, err)) < 0)
		return r;
	if (pg->page_kib && (pg->page_kib < TMAP_HUGEPAGE_KIB_MIN || (pg->page_kib & (pg->page_kib - 1))))
		return bad(err, &w, "'hugepage_kib' %" PRIu64 " is not a page size", pg->page_kib);
	if ((r = member(g, "vcpus", json_type_array, false, &w, &vcpus, err)) < 0 ||
	    (r = member(g, "cells", json_type_array, false, &w, &cells, err)) < 0 ||
	    (r = member(g, "emulator", json_type_object, false, &w, &emu, err)) < 0 ||
	    (r = member(g, "iothreads", json_type_array, true, &w, &ios, err)) < 0 ||
	    (r = member(g, "explain", json_type_array, true, &w, &why, err)) < 0 ||
	    (r = member(g, "devices", json_type_array, true, &w, &devs, err)) < 0)
		return r;
	if ((r = plan_vcpus(t, vcpus, &w, pg, err)) < 0 || (r = plan_cells(t, cells, &w, pg, err)) < 0 ||
	    (r = plan_devices_from_json(t, devs, path, w.at, pg, err)) < 0)
		return r;
	if (mib && mib != pg->memory_mib)
		return bad(err, &w, "'memory.memory_mib' %" PRIu64 " is not the cells' %" PRIu64, mib,
			   pg->memory_mib);
	pg->iothreads = ios ? (unsigned)json_object_array_length(ios) : 0;
	if (pg->iothreads > TMAP_MAX_IOTHREADS)
		return bad(err, &w, "'iothreads' holds %u", pg->iothreads);
	pg->emulator = hwloc_bitmap_alloc();
	pg->held = hwloc_bitmap_alloc();
	pg->memory_nodes = hwloc_bitmap_alloc();
	if (!pg->emulator || !pg->held || !pg->memory_nodes)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	if ((r = member_set(emu, "cpuset", false, &w, pg->emulator, err)) < 0 ||
	    (r = member_set(g, "held", false, &w, pg->held, err)) < 0 ||
	    (r = member_set(mem, "nodeset", false, &w, pg->memory_nodes, err)) < 0)
		return r;
	if (!hwloc_bitmap_isincluded(pg->held, t->cpuset) || hwloc_bitmap_iszero(pg->emulator) ||
	    !hwloc_bitmap_isincluded(pg->emulator, t->cpuset))
		return bad(err, &w, "'held' or 'emulator' are not PUs of this host");
	for (size_t i = 0; why && i < json_object_array_length(why); i++) {
		struct json_object *line = json_object_array_get_idx(why, i);

		if (!line || !json_object_is_type(line, json_type_string))
			return bad(err, &w, "'explain[%zu]' is %s, not a string", i, type_name(line));
		if (plan_guest_explain(pg, "%s", json_object_get_string(line)) < 0)
			return tmap_error_set(err, -ENOMEM, "out of memory");
	}
	r = plan_invariants(g, &w, pg, err);
	if (r == 0)
		r = plan_realtime(t, g, &w, pg, err);
	if (r < 0)
		return r;
	if (plan_guest_finish(pg) < 0)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	return 0;
}

/* ------------------------------------------------------------------------------------- */
/* The spec: a guest in the guest file format */

static void
add_uint(struct json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_int64((int64_t)v));
}

static void
add_str(struct json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, json_object_new_string(v));
}

/* What both a guest and a plan say the same way. */
struct spec_fields {
	const char *name;
	unsigned vcpus, sockets, cores, threads, iothreads;
	uint64_t memory_mib, page_kib, shares, period;
	int64_t quota;
	enum tmap_cpu_policy cpu;
	enum tmap_thread_policy thread;
	enum tmap_emulator_policy emulator;
	enum tmap_memory_mode memory;
	const char *dedicated;	/* a mixed guest's dedicated vcpus, or NULL */
};

static struct json_object *
spec_new(const struct spec_fields *f)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	add_str(o, "name", f->name);
	add_uint(o, "vcpus", f->vcpus);
	if (f->memory_mib)
		add_uint(o, "memory_mib", f->memory_mib);
	if (f->cores) {
		add_uint(o, "sockets", f->sockets);
		add_uint(o, "cores", f->cores);
		add_uint(o, "threads", f->threads);
	}
	add_str(o, "cpu_policy", cpu_policy_name(f->cpu));
	if (f->dedicated)
		add_str(o, "dedicated_cpus", f->dedicated);
	/* A shared guest has no thread policy: its guest file would be refused. */
	if (f->cpu != TMAP_CPU_SHARED)
		add_str(o, "thread_policy", thread_policy_name(f->thread));
	add_str(o, "emulator_threads", emulator_policy_name(f->emulator));
	add_str(o, "memory_mode", memory_mode_name(f->memory));
	if (f->iothreads)
		add_uint(o, "iothreads", f->iothreads);
	if (page_size_chosen(f->page_kib))
		add_str(o, "hugepages", f->page_kib == TMAP_HUGEPAGES_LARGE ? "large" : "any");
	else if (f->page_kib)
		add_uint(o, "hugepages", f->page_kib);
	if (f->shares || f->period || f->quota) {
		struct json_object *qos = json_object_new_object();

		if (f->shares)
			add_uint(qos, "shares", f->shares);
		if (f->period)
			add_uint(qos, "period", f->period);
		if (f->quota)
			json_object_object_add(qos, "quota", json_object_new_int64(f->quota));
		json_object_object_add(o, "qos", qos);
	}
	return o;
}

static int
spec_add_cell(struct json_object *o, hwloc_const_bitmap_t vcpus, uint64_t memory_mib)
{
	struct json_object *cells, *cell;
	_cleanup_free_ char *list = bitmap_list(vcpus);

	if (!json_object_object_get_ex(o, "cells", &cells)) {
		cells = json_object_new_array();
		json_object_object_add(o, "cells", cells);
	}
	cell = json_object_new_object();
	if (!list || !cells || !cell) {
		json_object_put(cell);
		return -ENOMEM;
	}
	add_str(cell, "cpus", list);
	if (memory_mib)
		add_uint(cell, "memory_mib", memory_mib);
	return json_object_array_add(cells, cell) < 0 ? -ENOMEM : 0;
}

struct json_object *
state_spec_from_guest(const struct tmap_guest *g)
{
	uint64_t shares, period;
	int64_t quota;
	struct spec_fields f = {
		.name = g->name, .vcpus = g->vcpus, .iothreads = g->iothreads,
		.memory_mib = g->memory_set ? g->memory_mib : 0, .page_kib = g->page_kib,
		.cpu = g->cpu_policy, .thread = g->thread_policy, .emulator = g->emulator_policy,
		.memory = g->memory_mode, .dedicated = g->dedicated_list,
	};
	struct json_object *o;

	if (g->topology_set) {
		f.sockets = g->sockets;
		f.cores = g->cores;
		f.threads = g->threads;
	}
	tmap_guest_qos(g, &shares, &period, &quota);
	f.shares = shares;
	f.period = period;
	f.quota = quota;
	o = spec_new(&f);
	if (!o)
		return NULL;
	if (g->pinned)
		json_object_object_add(o, "pinned", json_object_new_boolean(true));
	if (guest_realtime_to_json(g, o) < 0) {
		json_object_put(o);
		return NULL;
	}
	for (unsigned c = 0; c < g->ncells; c++)
		if (spec_add_cell(o, g->cells[c].vcpus, g->cells[c].memory_mib) < 0) {
			json_object_put(o);
			return NULL;
		}
	if (!g->ncells && g->cell_count > 1)
		add_uint(o, "cells", g->cell_count);
	if (g->ndevices)
		json_object_object_add(o, "devices", guest_devices_to_json(g));
	return o;
}

/* A version 1 state kept only plans: the spec is what the plan answers. */
struct json_object *
state_spec_from_plan(const struct plan_guest *pg)
{
	struct spec_fields f = {
		.name = pg->name, .vcpus = pg->vcpus, .sockets = pg->sockets, .cores = pg->cores,
		.threads = pg->threads, .iothreads = pg->iothreads, .memory_mib = pg->memory_mib,
		.page_kib = pg->page_kib, .shares = pg->shares, .period = pg->period,
		.quota = pg->quota, .cpu = pg->cpu_policy, .thread = pg->thread_policy,
		.emulator = pg->emulator_policy, .memory = pg->memory_mode,
		.dedicated = pg->dedicated_list,
	};
	struct json_object *o = spec_new(&f);

	if (o && pg->realtime) {
		add_str(o, "realtime_cpus", pg->realtime_list);
		add_uint(o, "realtime_priority", pg->realtime_priority);
	}
	if (!o || pg->cells_proposed)
		return o;
	for (unsigned c = 0; c < pg->ncells; c++)
		if (spec_add_cell(o, pg->cells[c].vcpus, pg->cells[c].memory_mib) < 0) {
			json_object_put(o);
			return NULL;
		}
	return o;
}

/* ------------------------------------------------------------------------------------- */
/* Targets */

static struct json_object *
map_json(const struct tmap_target *map)
{
	struct json_object *o = json_object_new_object();

	for (size_t i = 0; o && map && i < tmap_target_count(map); i++)
		add_str(o, tmap_target_key(map, i), tmap_target_get(map, tmap_target_key(map, i)));
	return o;
}

struct json_object *
state_target_json(const char *backend, const struct tmap_target *target,
		  const struct tmap_target *identity)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	add_str(o, "backend", backend);
	json_object_object_add(o, "options", map_json(target));
	if (identity && tmap_target_count(identity))
		json_object_object_add(o, "identity", map_json(identity));
	return o;
}

int
state_target_from_json(struct json_object *json, const char **ret_backend,
		       struct tmap_target **ret, struct tmap_error *err)
{
	struct json_object *backend, *options;
	struct tmap_target *target = NULL;

	if (!json_object_object_get_ex(json, "backend", &backend) ||
	    !json_object_object_get_ex(json, "options", &options) || tmap_target_new(&target) < 0)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	json_object_object_foreach(options, key, value)
		if (tmap_target_set(target, key, json_object_get_string(value)) < 0) {
			tmap_target_free(target);
			return tmap_error_set(err, -EBADMSG, "recorded target option '%.40s' is not valid",
					      key);
		}
	*ret_backend = json_object_get_string(backend);
	*ret = target;
	return 0;
}

