/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The host's own keys of the state file (issue 15): "housekeeping", the PUs where the host's
 * daemons, kernel threads and interrupts belong (the reserve unless set), and "isolation",
 * what `host isolate` wrote, in order, with what undoes each write; "shared_set",
 * "cpu_overcommit" and "memory_overcommit", the shared pool and its ratios as the operator
 * set them (issue 21); "recent_requests", the shapes of the latest requests (issue 18).
 * Checked for their types as strictly as the rest of the file (state.c).
 */
#include <stdarg.h>

#include "solver-room.h"
#include "state.h"

static const char *
json_type_name(struct json_object *v)
{
	return v ? json_type_to_name(json_object_get_type(v)) : "null";
}

static bool
is_list(const char *s)
{
	_cleanup_bitmap_ hwloc_bitmap_t set = NULL;

	return !*s || bitmap_parse_list(s, &set) == 0;
}

/* A ratio of the overcommit: above 0, at most 1024 (the solver's bound). */
static bool
ratio_ok(double r)
{
	return r > 0 && r <= 1024;
}

/* "isolation": an array of {"path", "restore", "value"}, each an absolute path or a string,
 * and "start" (a number) with the path of a task whose affinity was set (isolate-tasks.c). */
static int
check_isolation(const struct tmap_state *st, struct json_object *v, struct tmap_error *err)
{
	if (!json_object_is_type(v, json_type_array))
		return corrupt(st, err, "isolation is %s, not a list", json_type_name(v));
	for (size_t i = 0; i < json_object_array_length(v); i++) {
		struct json_object *c = json_object_array_get_idx(v, i);
		int keys = 0;

		if (!json_object_is_type(c, json_type_object))
			return corrupt(st, err, "isolation[%zu] is %s, not an object", i, json_type_name(c));
		json_object_object_foreach(c, key, value) {
			if (streq(key, "start")) {
				if (!json_object_is_type(value, json_type_int) ||
				    json_object_get_int64(value) <= 0)
					return corrupt(st, err, "isolation[%zu].start is not a start time", i);
				continue;
			}
			if (!streq(key, "path") && !streq(key, "restore") && !streq(key, "value"))
				return corrupt(st, err, "isolation[%zu].%.40s: unknown key", i, key);
			if (!json_object_is_type(value, json_type_string))
				return corrupt(st, err, "isolation[%zu].%s is %s, not a string", i, key,
					       json_type_name(value));
			if (streq(key, "path") && json_object_get_string(value)[0] != '/')
				return corrupt(st, err, "isolation[%zu].path is not an absolute path", i);
			keys++;
		}
		if (keys != 3)
			return corrupt(st, err, "isolation[%zu] lacks path, restore or value", i);
	}
	return 0;
}

/* "isolation_options": {"narrow": [string...], "flags": int, "cgroup_root"/"proc_root"/
 * "sys_root": absolute paths}, each key optional. */
static int
check_isolation_options(const struct tmap_state *st, struct json_object *v, struct tmap_error *err)
{
	if (!json_object_is_type(v, json_type_object))
		return corrupt(st, err, "isolation_options is %s, not an object", json_type_name(v));
	json_object_object_foreach(v, key, value) {
		if (streq(key, "narrow")) {
			if (!json_object_is_type(value, json_type_array))
				return corrupt(st, err, "isolation_options.narrow is %s, not a list",
					       json_type_name(value));
			for (size_t i = 0; i < json_object_array_length(value); i++)
				if (!json_object_is_type(json_object_array_get_idx(value, i),
							 json_type_string))
					return corrupt(st, err, "isolation_options.narrow[%zu] is not a string", i);
		} else if (streq(key, "flags")) {
			if (!json_object_is_type(value, json_type_int) ||
			    json_object_get_int64(value) & ~(int64_t)TMAP_ISOLATE_NO_IRQS)
				return corrupt(st, err, "isolation_options.flags is not a known set of flags");
		} else if (streq(key, "cgroup_root") || streq(key, "proc_root") ||
			   streq(key, "sys_root")) {
			if (!json_object_is_type(value, json_type_string) ||
			    json_object_get_string(value)[0] != '/')
				return corrupt(st, err, "isolation_options.%s is not an absolute path", key);
		} else {
			return corrupt(st, err, "isolation_options.%.40s: unknown key", key);
		}
	}
	return 0;
}

/* What iso was made with, as the state records it. */
static struct json_object *
options_document(const struct tmap_isolation *iso)
{
	struct tmap_isolate_options o;
	struct json_object *doc = json_object_new_object();
	struct json_object *narrow = json_object_new_array();

	if (!doc || !narrow) {
		json_object_put(doc);
		json_object_put(narrow);
		return NULL;
	}
	isolation_options(iso, &o);
	json_object_object_add(doc, "narrow", narrow);
	for (size_t i = 0; i < o.nnarrow; i++)
		json_object_array_add(narrow, json_object_new_string(o.narrow[i]));
	json_object_object_add(doc, "flags", json_object_new_int((int)o.flags));
	if (o.cgroup_root)
		json_object_object_add(doc, "cgroup_root", json_object_new_string(o.cgroup_root));
	if (o.proc_root)
		json_object_object_add(doc, "proc_root", json_object_new_string(o.proc_root));
	if (o.sys_root)
		json_object_object_add(doc, "sys_root", json_object_new_string(o.sys_root));
	return doc;
}

size_t
tmap_state_isolation_count(const struct tmap_state *st)
{
	return st && st->isolation ? json_object_array_length(st->isolation) : 0;
}

int
tmap_state_isolation_change(const struct tmap_state *st, size_t i, const char **ret_path,
			    const char **ret_restore)
{
	struct json_object *c, *v;

	if (i >= tmap_state_isolation_count(st))
		return -EINVAL;
	c = json_object_array_get_idx(st->isolation, i);
	if (ret_path && json_object_object_get_ex(c, "path", &v))
		*ret_path = json_object_get_string(v);
	if (ret_restore && json_object_object_get_ex(c, "restore", &v))
		*ret_restore = json_object_get_string(v);
	return 0;
}

/* iso's writes appended to list. */
static int
add_changes(struct json_object *list, const struct tmap_isolation *iso)
{
	for (size_t i = 0; iso && i < tmap_isolation_change_count(iso); i++) {
		const char *path, *restore, *value;
		struct json_object *c = json_object_new_object();

		tmap_isolation_change(iso, i, &path, &restore, &value);
		if (!c || json_object_array_add(list, c) < 0) {
			json_object_put(c);
			return -ENOMEM;
		}
		json_object_object_add(c, "path", json_object_new_string(path));
		json_object_object_add(c, "restore", json_object_new_string(restore));
		json_object_object_add(c, "value", json_object_new_string(value));
		if (isolation_change_start(iso, i))
			json_object_object_add(c, "start", json_object_new_int64(
				(int64_t)isolation_change_start(iso, i)));
	}
	return 0;
}

int
tmap_state_set_isolation(struct tmap_state *st, const struct tmap_isolation *iso,
			 struct tmap_error *err)
{
	struct json_object *list = NULL, *options = NULL;

	if (!st || !st->writable)
		return tmap_error_set(err, -EBADF, "state file not opened to write");
	if (iso && (!(list = json_object_new_array()) || !(options = options_document(iso)) ||
		    add_changes(list, iso) < 0)) {
		json_object_put(list);
		json_object_put(options);
		return tmap_error_set(err, -ENOMEM, "out of memory");
	}
	json_object_put(st->isolation);
	json_object_put(st->isolation_options);
	st->isolation = list;
	st->isolation_options = options;
	return 0;
}

bool
state_isolated(const struct tmap_state *st)
{
	return st && st->isolation;
}

int
state_isolation_options(const struct tmap_state *st, struct tmap_isolate_options *ret,
			const char ***ret_narrow, struct tmap_error *err)
{
	struct json_object *v, *o = st->isolation_options;
	const char **narrow = NULL;
	size_t n = 0;

	*ret = (struct tmap_isolate_options)TMAP_ISOLATE_OPTIONS_INIT;
	if (o && json_object_object_get_ex(o, "narrow", &v))
		n = json_object_array_length(v);
	if (!(narrow = calloc(n + 1, sizeof(*narrow))))
		return tmap_error_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		narrow[i] = json_object_get_string(json_object_array_get_idx(v, i));
	ret->narrow = narrow;
	ret->nnarrow = n;
	if (o && json_object_object_get_ex(o, "flags", &v))
		ret->flags = (uint32_t)json_object_get_int(v);
	if (o && json_object_object_get_ex(o, "cgroup_root", &v))
		ret->cgroup_root = json_object_get_string(v);
	if (o && json_object_object_get_ex(o, "proc_root", &v))
		ret->proc_root = json_object_get_string(v);
	if (o && json_object_object_get_ex(o, "sys_root", &v))
		ret->sys_root = json_object_get_string(v);
	*ret_narrow = narrow;
	return 0;
}

int
state_isolation_add(struct tmap_state *st, const struct tmap_isolation *iso, bool replace,
		    struct tmap_error *err)
{
	struct json_object *list = json_object_new_array();

	for (size_t i = 0; list && !replace && i < tmap_state_isolation_count(st); i++)
		if (json_object_array_add(list, json_object_get(json_object_array_get_idx(
							 st->isolation, i))) < 0) {
			json_object_put(list);
			list = NULL;
		}
	if (!list || add_changes(list, iso) < 0) {
		json_object_put(list);
		return tmap_error_set(err, -ENOMEM, "out of memory");
	}
	json_object_put(st->isolation);
	st->isolation = list;
	return 0;
}

const char *
tmap_state_isolation_value(const struct tmap_state *st, size_t i)
{
	struct json_object *v;

	if (i >= tmap_state_isolation_count(st) ||
	    !json_object_object_get_ex(json_object_array_get_idx(st->isolation, i), "value", &v))
		return NULL;
	return json_object_get_string(v);
}

const char *
tmap_state_housekeeping(const struct tmap_state *st)
{
	if (st && st->housekeeping)
		return st->housekeeping;
	return tmap_state_reserve(st);
}

int
tmap_state_set_housekeeping(struct tmap_state *st, const char *housekeeping,
			    struct tmap_error *err)
{
	char *copy = NULL;

	if (!st || !st->writable)
		return tmap_error_set(err, -EBADF, "state file not opened to write");
	if (housekeeping && *housekeeping && !is_list(housekeeping))
		return tmap_error_set(err, -EINVAL, "housekeeping '%.60s' is not a list of PUs",
				      housekeeping);
	if (housekeeping && !(copy = strdup(housekeeping)))
		return tmap_error_set(err, -ENOMEM, "out of memory");
	free(st->housekeeping);
	st->housekeeping = copy;
	return 0;
}

const char *
tmap_state_shared(const struct tmap_state *st)
{
	return st && st->shared_set && *st->shared_set ? st->shared_set : NULL;
}

double
tmap_state_cpu_overcommit(const struct tmap_state *st)
{
	return st ? st->cpu_overcommit : 0;
}

double
tmap_state_memory_overcommit(const struct tmap_state *st)
{
	return st ? st->memory_overcommit : 0;
}

int
tmap_state_set_shared(struct tmap_state *st, const char *shared, double cpu_overcommit,
		      double memory_overcommit, struct tmap_error *err)
{
	char *copy = NULL;

	if (!st || !st->writable)
		return tmap_error_set(err, -EBADF, "state file not opened to write");
	if (shared && *shared && !is_list(shared))
		return tmap_error_set(err, -EINVAL, "shared set '%.60s' is not a list of PUs",
				      shared);
	if (cpulist_overlap(shared, st->reserve))
		return tmap_error_set(err, -EINVAL, "shared set '%.60s' overlaps the reserve '%.60s'",
				      shared, st->reserve);
	if ((cpu_overcommit && !ratio_ok(cpu_overcommit)) ||
	    (memory_overcommit && !ratio_ok(memory_overcommit)))
		return tmap_error_set(err, -EINVAL,
				      "overcommit: cpu %g and memory %g must be above 0 and at most 1024",
				      cpu_overcommit, memory_overcommit);
	if (shared && *shared && !(copy = strdup(shared)))
		return tmap_error_set(err, -ENOMEM, "out of memory");
	free(st->shared_set);
	st->shared_set = copy;
	st->cpu_overcommit = cpu_overcommit;
	st->memory_overcommit = memory_overcommit;
	return 0;
}
static int
check_ratio(const struct tmap_state *st, const char *key, struct json_object *v,
	    struct tmap_error *err)
{
	if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
		return corrupt(st, err, "%s is %s, not a number", key, json_type_name(v));
	if (!ratio_ok(json_object_get_double(v)))
		return corrupt(st, err, "%s is %s, not a ratio above 0 and at most 1024", key,
			       json_object_get_string(v));
	return 0;
}

int
state_host_keys_cross_check(const struct tmap_state *st, struct json_object *root,
			    struct tmap_error *err)
{
	_cleanup_bitmap_ hwloc_bitmap_t set = NULL, pus = NULL, reserve = NULL;
	struct json_object *v, *host;
	const char *list;

	if (!json_object_object_get_ex(root, "shared_set", &v))
		return 0;
	list = json_object_get_string(v);
	if (bitmap_parse_list(list, &set) < 0)
		return corrupt(st, err, "shared_set '%.60s' is not a list of PUs", list);
	/* Version 1 kept the host's PUs as "host" itself; version 2 as host.pus. */
	if (json_object_object_get_ex(root, "host", &host) &&
	    json_object_is_type(host, json_type_object))
		json_object_object_get_ex(host, "pus", &host);
	if (host && bitmap_parse_list(json_object_get_string(host), &pus) == 0 &&
	    !hwloc_bitmap_isincluded(set, pus))
		return corrupt(st, err, "shared_set '%.60s' is not within the host's PUs '%.60s'",
			       list, json_object_get_string(host));
	if (json_object_object_get_ex(root, "reserve", &v) &&
	    bitmap_parse_list(json_object_get_string(v), &reserve) == 0 &&
	    hwloc_bitmap_intersects(set, reserve))
		return corrupt(st, err, "shared_set '%.60s' overlaps the reserve '%.60s'", list,
			       json_object_get_string(v));
	return 0;
}

/* "host": {"pus": LIST, "nodes": LIST} (version 1: the PU list alone). */
int
state_host_check(const struct tmap_state *st, struct json_object *host, int version,
		 struct tmap_error *err)
{
	if (version == 1) {
		if (!json_object_is_type(host, json_type_string) ||
		    !is_list(json_object_get_string(host)))
			return corrupt(st, err, "host is %s, not a list of PUs", json_type_name(host));
		return 0;
	}
	if (!host || !json_object_is_type(host, json_type_object))
		return corrupt(st, err, "host is %s, not an object", json_type_name(host));
	json_object_object_foreach(host, key, value) {
		if (!streq(key, "pus") && !streq(key, "nodes"))
			return corrupt(st, err, "host.%.40s: unknown key", key);
		if (!json_object_is_type(value, json_type_string) ||
		    !is_list(json_object_get_string(value)))
			return corrupt(st, err, "host.%s is %s, not a list", key, json_type_name(value));
	}
	if (!json_object_object_get_ex(host, "pus", NULL) ||
	    !json_object_object_get_ex(host, "nodes", NULL))
		return corrupt(st, err, "host lacks 'pus' or 'nodes'");
	return 0;
}

int
state_host_key_check(const struct tmap_state *st, const char *key, struct json_object *value,
		     struct tmap_error *err)
{
	if (streq(key, "cpu_overcommit") || streq(key, "memory_overcommit"))
		return check_ratio(st, key, value, err);
	if (streq(key, "isolation"))
		return check_isolation(st, value, err);
	if (streq(key, "isolation_options"))
		return check_isolation_options(st, value, err);
	if (streq(key, "recent_requests"))
		return state_recent_check(st, value, err);
	if (!json_object_is_type(value, json_type_string) || !is_list(json_object_get_string(value)))
		return corrupt(st, err, "%s is %s, not a list of PUs", key, json_type_name(value));
	return 0;
}

int
state_host_keys_read(struct tmap_state *st, struct json_object *root, struct tmap_error *err)
{
	struct json_object *v;

	if (json_object_object_get_ex(root, "housekeeping", &v) &&
	    !(st->housekeeping = strdup(json_object_get_string(v))))
		return tmap_error_set(err, -ENOMEM, "out of memory");
	if (json_object_object_get_ex(root, "shared_set", &v) &&
	    !(st->shared_set = strdup(json_object_get_string(v))))
		return tmap_error_set(err, -ENOMEM, "out of memory");
	if (json_object_object_get_ex(root, "cpu_overcommit", &v))
		st->cpu_overcommit = json_object_get_double(v);
	if (json_object_object_get_ex(root, "memory_overcommit", &v))
		st->memory_overcommit = json_object_get_double(v);
	if (json_object_object_get_ex(root, "isolation", &v))
		st->isolation = json_object_get(v);
	if (json_object_object_get_ex(root, "isolation_options", &v))
		st->isolation_options = json_object_get(v);
	return 0;
}

void
state_host_keys_write(const struct tmap_state *st, struct json_object *root)
{
	if (st->housekeeping)
		json_object_object_add(root, "housekeeping",
				       json_object_new_string(st->housekeeping));
	if (st->shared_set)
		json_object_object_add(root, "shared_set", json_object_new_string(st->shared_set));
	if (st->cpu_overcommit > 0)
		json_object_object_add(root, "cpu_overcommit",
				       json_object_new_double(st->cpu_overcommit));
	if (st->memory_overcommit > 0)
		json_object_object_add(root, "memory_overcommit",
				       json_object_new_double(st->memory_overcommit));
	if (st->isolation)
		json_object_object_add(root, "isolation", json_object_get(st->isolation));
	if (st->isolation && st->isolation_options)
		json_object_object_add(root, "isolation_options",
				       json_object_get(st->isolation_options));
}

void
state_host_keys_clear(struct tmap_state *st)
{
	free(st->housekeeping);
	st->housekeeping = NULL;
	free(st->shared_set);
	st->shared_set = NULL;
	st->cpu_overcommit = st->memory_overcommit = 0;
	json_object_put(st->isolation);
	st->isolation = NULL;
	json_object_put(st->isolation_options);
	st->isolation_options = NULL;
}

unsigned long long
state_isolation_start(const struct tmap_state *st, size_t i)
{
	struct json_object *v;

	if (i >= tmap_state_isolation_count(st) ||
	    !json_object_object_get_ex(json_object_array_get_idx(st->isolation, i), "start", &v))
		return 0;
	return (unsigned long long)json_object_get_int64(v);
}

int
state_isolation_write(const struct tmap_state *st, bool redo, struct tmap_error *err)
{
	size_t n = tmap_state_isolation_count(st), m = 0;
	const char **paths = calloc(n + 1, sizeof(*paths));
	const char **values = calloc(n + 1, sizeof(*values));
	const char **others = calloc(n + 1, sizeof(*others));
	unsigned long long *starts = calloc(n + 1, sizeof(*starts));
	int r = -ENOMEM;

	if (paths && values && others && starts) {
		for (size_t i = 0; i < n; i++) {
			size_t at = redo ? n - 1 - i : i;

			tmap_state_isolation_change(st, i, &paths[at], &values[at]);
			starts[at] = state_isolation_start(st, i);
			others[at] = tmap_state_isolation_value(st, i);
			if (redo) {
				others[at] = values[at];
				values[at] = tmap_state_isolation_value(st, i);
			}
		}
		/* A file that is gone (the cgroup of a guest that stopped, a task that ended)
		 * has nothing left to put back. */
		for (size_t i = 0; i < n; i++)
			if (access(paths[i], F_OK) == 0) {
				paths[m] = paths[i];
				starts[m] = starts[i];
				others[m] = others[i];
				values[m++] = values[i];
			}
		r = isolate_restore(paths, values, starts, m, err);
		/* The tasks forked meanwhile from narrowed ones get back what their parents got. */
		if (!redo && tasks_widen_inherited(paths, values, others, starts, m) < 0 && r == 0)
			r = -ENOMEM;
	}
	free(paths);
	free(values);
	free(others);
	free(starts);
	return r == -ENOMEM ? tmap_error_set(err, r, "out of memory") : r;
}

int
tmap_state_isolation_undo(const struct tmap_state *st, struct tmap_error *err)
{
	return state_isolation_write(st, false, err);
}

/* One request's shape as recorded: {"cells", "vcpus", "memory_mib", "page_kib", "rest_vcpus",
 * "rest_memory_mib"}: the largest cell's vcpus and memory, page_kib 0 for normal memory, the
 * most any other cell asked (the largest's own for one cell). */
#define NRECENT_KEYS 6
static const char *const recent_keys[NRECENT_KEYS] = {
	"cells", "vcpus", "memory_mib", "page_kib", "rest_vcpus", "rest_memory_mib",
};

int
state_recent_check(const struct tmap_state *st, struct json_object *value,
		   struct tmap_error *err)
{
	if (!json_object_is_type(value, json_type_array))
		return corrupt(st, err, "recent_requests is %s, not a list", json_type_name(value));
	if (json_object_array_length(value) > STATE_RECENT)
		return corrupt(st, err, "recent_requests has %zu entries, more than %d",
			       json_object_array_length(value), STATE_RECENT);
	for (size_t i = 0; i < json_object_array_length(value); i++) {
		struct json_object *r = json_object_array_get_idx(value, i);
		int64_t v[NRECENT_KEYS];
		int keys = 0;

		if (!json_object_is_type(r, json_type_object))
			return corrupt(st, err, "recent_requests[%zu] is %s, not an object", i,
				       json_type_name(r));
		json_object_object_foreach(r, key, x) {
			size_t k = 0;

			while (k < NRECENT_KEYS && !streq(key, recent_keys[k]))
				k++;
			if (k == NRECENT_KEYS)
				return corrupt(st, err, "recent_requests[%zu].%.40s: unknown key", i, key);
			if (!json_object_is_type(x, json_type_int) || json_object_get_int64(x) < 0)
				return corrupt(st, err, "recent_requests[%zu].%s is not a count", i, key);
			v[k] = json_object_get_int64(x);
			keys++;
		}
		if (keys != NRECENT_KEYS)
			return corrupt(st, err, "recent_requests[%zu] lacks one of cells, vcpus, memory_mib, page_kib, rest_vcpus, rest_memory_mib",
				       i);
		if (v[0] < 1 || v[1] < 1 || v[4] < 1 || v[1] + (v[0] - 1) * v[4] > TMAP_MAX_VCPUS)
			return corrupt(st, err, "recent_requests[%zu]: %" PRId64 " cells, the largest of %"
				       PRId64 " vcpus, the others of %" PRId64 ", is no guest", i, v[0],
				       v[1], v[4]);
	}
	return 0;
}

int
state_recent_write(struct json_object *root, const struct tmap_host *h)
{
	const struct solver *s = host_solver_const(h);
	const struct tmap_topology *t = s->t;
	unsigned n = s->nrecent < STATE_RECENT ? s->nrecent : STATE_RECENT;
	struct json_object *list;

	if (!n)
		return 0;
	list = json_object_new_array();
	if (!list)
		return -ENOMEM;
	json_object_object_add(root, "recent_requests", list);
	for (unsigned i = 0; i < n; i++) {
		const struct shape *sh = &s->recent[(s->next_recent + RECENT - n + i) % RECENT];
		struct json_object *r;

		/* a size no node has a pool of is asked again, not remembered */
		if (sh->page < -1)
			continue;
		r = json_object_new_object();
		if (!r || json_object_array_add(list, r) < 0) {
			json_object_put(r);
			return -ENOMEM;
		}
		json_object_object_add(r, "cells", json_object_new_int64(sh->ncells));
		json_object_object_add(r, "vcpus", json_object_new_int64(sh->vcpus));
		json_object_object_add(r, "memory_mib", json_object_new_int64((int64_t)sh->memory_mib));
		json_object_object_add(r, "page_kib", json_object_new_int64(
			sh->page < 0 ? 0 : (int64_t)t->page_kib[sh->page]));
		json_object_object_add(r, "rest_vcpus", json_object_new_int64(sh->rest_vcpus));
		json_object_object_add(r, "rest_memory_mib", json_object_new_int64((int64_t)sh->rest_mib));
	}
	return 0;
}

void
state_recent_load(const struct tmap_state *st, struct tmap_host *h)
{
	struct solver *s = host_solver(h);
	struct json_object *list;

	if (!st->root || !json_object_object_get_ex(st->root, "recent_requests", &list))
		return;
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *r = json_object_array_get_idx(list, i), *v;
		struct shape sh = {0, 0, 0, -1, 0, 0};
		uint64_t page_kib;

		json_object_object_get_ex(r, "cells", &v);
		sh.ncells = (unsigned)json_object_get_int64(v);
		json_object_object_get_ex(r, "vcpus", &v);
		sh.vcpus = (unsigned)json_object_get_int64(v);
		json_object_object_get_ex(r, "memory_mib", &v);
		sh.memory_mib = (uint64_t)json_object_get_int64(v);
		json_object_object_get_ex(r, "page_kib", &v);
		page_kib = (uint64_t)json_object_get_int64(v);
		json_object_object_get_ex(r, "rest_vcpus", &v);
		sh.rest_vcpus = (unsigned)json_object_get_int64(v);
		json_object_object_get_ex(r, "rest_memory_mib", &v);
		sh.rest_mib = (uint64_t)json_object_get_int64(v);
		if (page_kib) {
			sh.page = topo_page_index(s->t, page_kib);
			if (sh.page < 0)
				sh.page = -2;
		}
		s->recent[s->next_recent] = sh;
		s->next_recent = (s->next_recent + 1) % RECENT;
		if (s->nrecent < RECENT)
			s->nrecent++;
	}
}
