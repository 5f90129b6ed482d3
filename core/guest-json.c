/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Guest specifications read from JSON: one guest object or an array of them, all or nothing,
 * every message naming the origin, the guest, the field and the value. The guest itself is
 * built through the setters of guest.c, which validate it.
 */
#include <stdarg.h>
#include <json-c/json.h>

#include "internal.h"

#define GUEST_MAX_SPEC_BYTES (16u << 20)

static void
tmap_guest_freep(struct tmap_guest **g)
{
	tmap_guest_free(*g);
}

struct json_ctx {
	const char *origin;
	const char *guest;	/* name, or "#N" before the name is known */
	struct tmap_error *err;
};

/* Print a JSON value for a message, short and on one line. */
static const char *
json_value_text(struct json_object *v, char *buf, size_t size)
{
	const char *s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(s);

	if (len >= size)
		snprintf(buf, size, "%.*s...", (int)size - 4, s);
	else
		snprintf(buf, size, "%s", s);
	return buf;
}

static int _printf_(4, 5)
field_error(struct json_ctx *ctx, const char *field, struct json_object *v, const char *fmt, ...)
{
	char why[256], value[80];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return tmap_error_set(ctx->err, -EINVAL, "%s: guest '%s': field '%s': %s %s", ctx->origin,
			      ctx->guest, field, json_value_text(v, value, sizeof(value)), why);
}

static int
json_uint(struct json_ctx *ctx, struct json_object *obj, const char *field, uint64_t min,
	  uint64_t max, uint64_t *ret)
{
	int64_t v;

	if (!json_object_is_type(obj, json_type_int))
		return field_error(ctx, field, obj, "is not an integer");
	errno = 0;
	v = json_object_get_int64(obj);
	if (errno || v < 0 || (uint64_t)v < min || (uint64_t)v > max)
		return field_error(ctx, field, obj, "is not between %" PRIu64 " and %" PRIu64, min,
				   max);
	*ret = (uint64_t)v;
	return 0;
}

static int
json_boolean(struct json_ctx *ctx, struct json_object *obj, const char *field, bool *ret)
{
	if (!json_object_is_type(obj, json_type_boolean))
		return field_error(ctx, field, obj, "is not true or false");
	*ret = json_object_get_boolean(obj);
	return 0;
}

static int
json_enum(struct json_ctx *ctx, struct json_object *obj, const char *field,
	  int (*lookup)(const char *), const char *choices, int *ret)
{
	int v;

	if (!json_object_is_type(obj, json_type_string))
		return field_error(ctx, field, obj, "is not a string (one of %s)", choices);
	v = lookup(json_object_get_string(obj));
	if (v < 0)
		return field_error(ctx, field, obj, "is not one of %s", choices);
	*ret = v;
	return 0;
}

/* cells[].cpus: [0, 1, 2] or "0-2". */
static int
json_cell_cpus(struct json_ctx *ctx, struct json_object *obj, const char *field, char **ret)
{
	_cleanup_bitmap_ hwloc_bitmap_t set = NULL;

	if (json_object_is_type(obj, json_type_string)) {
		if (bitmap_parse_list(json_object_get_string(obj), &set) < 0)
			return field_error(ctx, field, obj, "is not a list such as \"0-3,8\"");
	} else if (json_object_is_type(obj, json_type_array)) {
		size_t n = json_object_array_length(obj);

		set = hwloc_bitmap_alloc();
		if (!set)
			return tmap_error_set(ctx->err, -ENOMEM, "out of memory");
		for (size_t i = 0; i < n; i++) {
			struct json_object *e = json_object_array_get_idx(obj, i);
			uint64_t v;
			int r = json_uint(ctx, e, field, 0, TMAP_MAX_VCPUS - 1, &v);

			if (r < 0)
				return r;
			if (hwloc_bitmap_isset(set, (unsigned)v))
				return field_error(ctx, field, e, "appears twice");
			hwloc_bitmap_set(set, (unsigned)v);
		}
	} else {
		return field_error(ctx, field, obj, "is not an array of vcpus or a list string");
	}
	*ret = bitmap_list(set);
	return *ret ? 0 : tmap_error_set(ctx->err, -ENOMEM, "out of memory");
}

static int
parse_cells(struct json_ctx *ctx, struct tmap_guest *g, struct json_object *arr)
{
	size_t n;

	if (!json_object_is_type(arr, json_type_array))
		return field_error(ctx, "cells", arr, "is not an array");
	n = json_object_array_length(arr);
	if (n == 0 || n > TMAP_MAX_VCPUS)
		return field_error(ctx, "cells", arr, "must hold 1 to %d cells", TMAP_MAX_VCPUS);
	for (size_t i = 0; i < n; i++) {
		struct json_object *cell = json_object_array_get_idx(arr, i);
		_cleanup_free_ char *cpus = NULL;
		uint64_t memory = 0, node = 0;
		char field[64];
		bool have_cpus = false, have_node = false;
		int r;

		snprintf(field, sizeof(field), "cells[%zu]", i);
		if (!json_object_is_type(cell, json_type_object))
			return field_error(ctx, field, cell, "is not an object");
		json_object_object_foreach(cell, key, val)
		{
			snprintf(field, sizeof(field), "cells[%zu].%s", i, key);
			if (streq(key, "cpus")) {
				r = json_cell_cpus(ctx, val, field, &cpus);
				have_cpus = true;
			} else if (streq(key, "memory_mib")) {
				r = json_uint(ctx, val, field, 1, TMAP_MAX_MEMORY_MIB, &memory);
			} else if (streq(key, "node")) {
				/* Linux numbers NUMA nodes below 1024 (MAX_NUMNODES). */
				r = json_uint(ctx, val, field, 0, 1023, &node);
				have_node = true;
			} else {
				r = tmap_error_set(ctx->err, -EINVAL,
						   "%s: guest '%s': unknown field '%s'", ctx->origin,
						   ctx->guest, field);
			}
			if (r < 0)
				return r;
		}
		if (!have_cpus)
			return tmap_error_set(ctx->err, -EINVAL,
					      "%s: guest '%s': field 'cells[%zu].cpus' is missing",
					      ctx->origin, ctx->guest, i);
		r = tmap_guest_add_cell(g, cpus, memory, ctx->err);
		if (r < 0)
			return r;
		if (have_node)
			tmap_guest_set_cell_node(g, g->ncells - 1, (unsigned)node);
	}
	return 0;
}

/* "realtime_cpus": "1-3" or [1, 2, 3], and "realtime_priority": 1 to 99 (issue 21). */
static int
parse_realtime(struct json_ctx *ctx, struct tmap_guest *g, struct json_object *cpus,
	       struct json_object *priority)
{
	_cleanup_free_ char *list = NULL;
	uint64_t prio = 0;
	int r;

	if (priority && !cpus)
		return field_error(ctx, "realtime_priority", priority,
				   "is given without 'realtime_cpus', the vcpus it is for");
	if (!cpus)
		return 0;
	if (priority) {
		r = json_uint(ctx, priority, "realtime_priority", TMAP_REALTIME_PRIORITY_MIN,
			      TMAP_REALTIME_PRIORITY_MAX, &prio);
		if (r < 0)
			return r;
	}
	r = json_cell_cpus(ctx, cpus, "realtime_cpus", &list);
	if (r < 0)
		return r;
	if (!*list)
		return field_error(ctx, "realtime_cpus", cpus, "names no vcpu");
	return tmap_guest_set_realtime(g, list, (unsigned)prio, ctx->err);
}

/* "pus": "4-7", the host PUs of the vcpus in order (issue 21). */
static int
json_pus(struct json_ctx *ctx, struct json_object *val, struct tmap_guest *g)
{
	_cleanup_bitmap_ hwloc_bitmap_t set = NULL;

	if (!json_object_is_type(val, json_type_string) ||
	    bitmap_parse_list(json_object_get_string(val), &set) < 0 || hwloc_bitmap_iszero(set))
		return field_error(ctx, "pus", val, "is not a list of host PUs such as \"4-7\"");
	return tmap_guest_set_pus(g, json_object_get_string(val), ctx->err);
}

/* "dedicated_cpus": "0-1" or [0, 1], the vcpus a mixed guest pins one to one. */
static int
json_dedicated(struct json_ctx *ctx, struct json_object *val, struct tmap_guest *g)
{
	_cleanup_free_ char *list = NULL;
	int r = json_cell_cpus(ctx, val, "dedicated_cpus", &list);

	if (r < 0)
		return r;
	return tmap_guest_set_dedicated_cpus(g, list, ctx->err);
}

/* "hugepages": "2M", "1G", "2048k", an integer in KiB as libvirt's <page size=.../>, or
 * "large" or "any" (Nova's hw:mem_page_size). */
static int
json_page_size(struct json_ctx *ctx, struct json_object *val, struct tmap_guest *g)
{
	char text[32];
	uint64_t kib = 0;
	int r = -EINVAL;

	if (json_object_is_type(val, json_type_string)) {
		r = parse_page_kib(json_object_get_string(val), &kib);
	} else if (json_object_is_type(val, json_type_int) && json_object_get_int64(val) > 0) {
		snprintf(text, sizeof(text), "%" PRId64, json_object_get_int64(val));
		r = parse_page_kib(text, &kib);
	}
	if (r < 0)
		return field_error(ctx, "hugepages", val,
				   "is not a hugepage size such as \"2M\", \"1G\" or 2048 (KiB): a power of two from 8 KiB to 16 GiB; or \"large\" or \"any\"");
	return tmap_guest_set_hugepages(g, kib);
}

static int
parse_qos(struct json_ctx *ctx, struct tmap_guest *g, struct json_object *obj)
{
	uint64_t shares = 0, period = 0, v;
	int64_t quota = 0;
	int r;

	if (!json_object_is_type(obj, json_type_object))
		return field_error(ctx, "qos", obj, "is not an object");
	json_object_object_foreach(obj, key, val)
	{
		if (streq(key, "shares")) {
			r = json_uint(ctx, val, "qos.shares", TMAP_QOS_SHARES_MIN,
				      TMAP_QOS_SHARES_MAX, &shares);
		} else if (streq(key, "period")) {
			r = json_uint(ctx, val, "qos.period", TMAP_QOS_PERIOD_MIN,
				      TMAP_QOS_PERIOD_MAX, &period);
		} else if (streq(key, "quota")) {
			if (json_object_is_type(val, json_type_int) &&
			    json_object_get_int64(val) == -1) {
				quota = -1;
				continue;
			}
			r = json_uint(ctx, val, "qos.quota", TMAP_QOS_QUOTA_MIN, TMAP_QOS_QUOTA_MAX,
				      &v);
			quota = (int64_t)v;
		} else {
			r = tmap_error_set(ctx->err, -EINVAL, "%s: guest '%s': unknown field 'qos.%s'",
					   ctx->origin, ctx->guest, key);
		}
		if (r < 0)
			return r;
	}
	return tmap_guest_set_qos(g, shares, period, quota);
}

static int
parse_guest(struct json_ctx *ctx, struct json_object *obj, size_t index, struct tmap_guest **ret)
{
	_cleanup_(tmap_guest_freep) struct tmap_guest *g = NULL;
	struct json_object *name, *vcpus, *rt_cpus = NULL, *rt_priority = NULL;
	uint64_t sockets = 0, cores = 0, threads = 0, v;
	char anon[32];
	int r, e = 0;

	snprintf(anon, sizeof(anon), "#%zu", index);
	ctx->guest = anon;
	if (!json_object_is_type(obj, json_type_object))
		return tmap_error_set(ctx->err, -EINVAL, "%s: guest %s is not a JSON object",
				      ctx->origin, anon);
	if (!json_object_object_get_ex(obj, "name", &name))
		return tmap_error_set(ctx->err, -EINVAL, "%s: guest %s: field 'name' is missing",
				      ctx->origin, anon);
	if (!json_object_is_type(name, json_type_string))
		return field_error(ctx, "name", name, "is not a string");
	if (!guest_name_valid(json_object_get_string(name)))
		return field_error(ctx, "name", name,
				   "is not a valid name: use 1 to %d letters, digits, '.', '_' or '-'",
				   GUEST_MAX_NAME);
	ctx->guest = json_object_get_string(name);
	if (!json_object_object_get_ex(obj, "vcpus", &vcpus))
		return tmap_error_set(ctx->err, -EINVAL, "%s: guest '%s': field 'vcpus' is missing",
				      ctx->origin, ctx->guest);
	r = json_uint(ctx, vcpus, "vcpus", 1, TMAP_MAX_VCPUS, &v);
	if (r < 0)
		return r;
	r = tmap_guest_new(ctx->guest, (unsigned)v, &g, ctx->err);
	if (r < 0)
		return r;
	g->origin = strdup(ctx->origin);
	if (!g->origin)
		return tmap_error_set(ctx->err, -ENOMEM, "out of memory");

	json_object_object_foreach(obj, key, val)
	{
		r = 0;
		if (streq(key, "name") || streq(key, "vcpus")) {
			continue;
		} else if (streq(key, "memory_mib")) {
			r = json_uint(ctx, val, key, 1, TMAP_MAX_MEMORY_MIB, &v);
			if (r == 0)
				tmap_guest_set_memory_mib(g, v);
		} else if (streq(key, "sockets")) {
			r = json_uint(ctx, val, key, 1, TMAP_MAX_VCPUS, &sockets);
		} else if (streq(key, "cores")) {
			r = json_uint(ctx, val, key, 1, TMAP_MAX_VCPUS, &cores);
		} else if (streq(key, "threads")) {
			r = json_uint(ctx, val, key, 1, TMAP_MAX_GUEST_THREADS, &threads);
		} else if (streq(key, "iothreads")) {
			r = json_uint(ctx, val, key, 0, TMAP_MAX_IOTHREADS, &v);
			if (r == 0)
				tmap_guest_set_iothreads(g, (unsigned)v);
		} else if (streq(key, "cells")) {
			r = parse_cells(ctx, g, val);
		} else if (streq(key, "cpu_policy")) {
			r = json_enum(ctx, val, key, cpu_policy_from_name, "dedicated, shared, mixed",
				      &e);
			if (r == 0)
				tmap_guest_set_cpu_policy(g, (enum tmap_cpu_policy)e);
		} else if (streq(key, "thread_policy")) {
			r = json_enum(ctx, val, key, thread_policy_from_name,
				      "prefer, isolate, require", &e);
			if (r == 0)
				tmap_guest_set_thread_policy(g, (enum tmap_thread_policy)e);
		} else if (streq(key, "emulator_threads")) {
			r = json_enum(ctx, val, key, emulator_policy_from_name, "share, isolate, share-host", &e);
			if (r == 0)
				tmap_guest_set_emulator_policy(g, (enum tmap_emulator_policy)e);
		} else if (streq(key, "memory_mode")) {
			r = json_enum(ctx, val, key, memory_mode_from_name,
				      "strict, preferred, interleave, restrictive", &e);
			if (r == 0)
				tmap_guest_set_memory_mode(g, (enum tmap_memory_mode)e);
		} else if (streq(key, "qos")) {
			r = parse_qos(ctx, g, val);
		} else if (streq(key, "hugepages")) {
			r = json_page_size(ctx, val, g);
		} else if (streq(key, "devices")) {
			r = guest_devices_from_json(g, val, ctx->origin, ctx->err);
		} else if (streq(key, "pinned")) {
			r = json_boolean(ctx, val, key, &g->pinned);
		} else if (streq(key, "pus")) {
			r = json_pus(ctx, val, g);
		} else if (streq(key, "dedicated_cpus")) {
			r = json_dedicated(ctx, val, g);
		} else if (streq(key, "cells_share_nodes")) {
			r = json_boolean(ctx, val, key, &g->cells_share_nodes);
		} else if (streq(key, "realtime_cpus")) {
			rt_cpus = val;
		} else if (streq(key, "realtime_priority")) {
			rt_priority = val;
		} else {
			r = tmap_error_set(ctx->err, -EINVAL, "%s: guest '%s': unknown field '%s'",
					   ctx->origin, ctx->guest, key);
		}
		if (r < 0)
			return r;
	}
	r = parse_realtime(ctx, g, rt_cpus, rt_priority);
	if (r < 0)
		return r;
	/* Defaults for the topology fields not given: sockets=1, threads=1, cores to match. */
	if (sockets || cores || threads) {
		threads = threads ? threads : 1;
		sockets = sockets ? sockets : 1;
		if (!cores)
			cores = g->vcpus / (sockets * threads) ? g->vcpus / (sockets * threads) : 1;
		tmap_guest_set_topology(g, (unsigned)sockets, (unsigned)cores, (unsigned)threads);
	}
	*ret = TAKE_PTR(g);
	return 0;
}

int
tmap_guests_parse_json(struct tmap_guests *l, const char *text, size_t len, const char *origin,
		       struct tmap_error *err)
{
	struct json_object *root = NULL;
	struct json_ctx ctx = {.origin = origin ? origin : "guests", .err = err};
	size_t n, before;
	int r = 0;

	if (!l || !text)
		return tmap_error_set(err, -EINVAL, "tmap_guests_parse_json: missing argument");
	if (len > GUEST_MAX_SPEC_BYTES)
		return tmap_error_set(err, -EFBIG, "%s: larger than %u MiB", ctx.origin,
				      GUEST_MAX_SPEC_BYTES >> 20);
	r = json_read(text, len, ctx.origin, json_type_null,
		      "a guest object or an array of guest objects", &root, err);
	if (r < 0)
		return r;
	n = json_object_is_type(root, json_type_array) ? json_object_array_length(root) : 1;
	if (n == 0) {
		r = tmap_error_set(err, -EINVAL, "%s: the array holds no guest", ctx.origin);
		goto out;
	}
	/* All or nothing: on any error, drop the guests this text added. */
	before = l->n;
	for (size_t i = 0; i < n; i++) {
		struct json_object *obj =
			json_object_is_type(root, json_type_array) ? json_object_array_get_idx(root, i) : root;
		struct tmap_guest *g = NULL;

		r = parse_guest(&ctx, obj, i, &g);
		if (r == 0) {
			r = tmap_guests_add(l, g, err);
			if (r < 0)
				tmap_guest_free(g);
		}
		if (r < 0) {
			while (l->n > before)
				guests_drop_last(l);
			break;
		}
	}
out:
	json_object_put(root);
	return r;
}

int
tmap_guests_load_json(struct tmap_guests *l, const char *path, struct tmap_error *err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r;

	if (!l || !path)
		return tmap_error_set(err, -EINVAL, "tmap_guests_load_json: missing argument");
	r = read_file_bounded(path, GUEST_MAX_SPEC_BYTES, &buf, &len, err);
	if (r == -EISDIR)
		return tmap_error_set(err, -EINVAL, "%s: is a directory, not a guest file", path);
	if (r < 0)
		return r;
	return tmap_guests_parse_json(l, buf, len, path, err);
}
