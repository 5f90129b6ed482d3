/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The host's own keys of the state file (issue 15): "housekeeping", the PUs where the host's
 * daemons, kernel threads and interrupts belong (the reserve unless set), and "isolation",
 * what `host isolate` wrote, in order, with what undoes each write. Checked for their types
 * as strictly as the rest of the file (state.c).
 */
#include <stdarg.h>

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

/* "isolation": an array of {"path", "restore", "value"}, each an absolute path or a string. */
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

int
tmap_state_set_isolation(struct tmap_state *st, const struct tmap_isolation *iso,
			 struct tmap_error *err)
{
	struct json_object *list = NULL;

	if (!st || !st->writable)
		return tmap_error_set(err, -EBADF, "state file not opened to write");
	if (iso && !(list = json_object_new_array()))
		return tmap_error_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; iso && i < tmap_isolation_change_count(iso); i++) {
		const char *path, *restore, *value;
		struct json_object *c = json_object_new_object();

		tmap_isolation_change(iso, i, &path, &restore, &value);
		if (!c || json_object_array_add(list, c) < 0) {
			json_object_put(c);
			json_object_put(list);
			return tmap_error_set(err, -ENOMEM, "out of memory");
		}
		json_object_object_add(c, "path", json_object_new_string(path));
		json_object_object_add(c, "restore", json_object_new_string(restore));
		json_object_object_add(c, "value", json_object_new_string(value));
	}
	json_object_put(st->isolation);
	st->isolation = list;
	return 0;
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
int
state_host_key_check(const struct tmap_state *st, const char *key, struct json_object *value,
		     struct tmap_error *err)
{
	if (streq(key, "isolation"))
		return check_isolation(st, value, err);
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
	if (json_object_object_get_ex(root, "isolation", &v))
		st->isolation = json_object_get(v);
	return 0;
}

void
state_host_keys_write(const struct tmap_state *st, struct json_object *root)
{
	if (st->housekeeping)
		json_object_object_add(root, "housekeeping",
				       json_object_new_string(st->housekeeping));
	if (st->isolation)
		json_object_object_add(root, "isolation", json_object_get(st->isolation));
}

void
state_host_keys_clear(struct tmap_state *st)
{
	free(st->housekeeping);
	st->housekeeping = NULL;
	json_object_put(st->isolation);
	st->isolation = NULL;
}
