/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The state's records (state.c reads and writes the file): what it knows of each guest besides
 * the plan the host holds: whether it is pending, the vcpus it still runs, the target it was
 * applied to and the spec it asked for.
 */
#include <json-c/json.h>

#include "state.h"

static void
record_clear(struct state_record *r)
{
	free(r->name);
	json_object_put(r->target);
	json_object_put(r->spec);
}

void
state_records_clear(struct tmap_state *st)
{
	for (size_t i = 0; i < st->nrec; i++)
		record_clear(&st->rec[i]);
	free(st->rec);
	st->rec = NULL;
	st->nrec = 0;
}

int
state_record_add(struct tmap_state *st, const char *name, bool pending, unsigned running_vcpus,
		 struct json_object *target, struct json_object *spec)
{
	struct state_record *v = realloc(st->rec, (st->nrec + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	st->rec = v;
	v[st->nrec] = (struct state_record){strdup(name), pending, running_vcpus,
					     json_object_get(target), json_object_get(spec)};
	if (!v[st->nrec].name) {
		record_clear(&v[st->nrec]);
		return -ENOMEM;
	}
	st->nrec++;
	return 0;
}

struct state_record *
state_record_find(struct tmap_state *st, const char *name)
{
	for (size_t i = 0; i < st->nrec; i++)
		if (streq(st->rec[i].name, name))
			return &st->rec[i];
	return NULL;
}

static int
state_record_put(struct tmap_state *st, const char *name, bool pending,
		 struct json_object *target, struct json_object *spec)
{
	struct state_record *r = state_record_find(st, name);
	int ret;

	if (!r) {
		ret = state_record_add(st, name, pending, 0, target, spec);
		json_object_put(target);
		json_object_put(spec);
		return ret;
	}
	if (target != r->target) {
		json_object_put(r->target);
		r->target = target;
	} else {
		json_object_put(target);
	}
	if (spec != r->spec) {
		json_object_put(r->spec);
		r->spec = spec;
	} else {
		json_object_put(spec);
	}
	r->pending = pending;
	/* Recorded anew: what it runs is its plan's count until the session learns otherwise. */
	r->running_vcpus = 0;
	return 0;
}

int
tmap_state_record(struct tmap_state *st, const struct tmap_backend_module *module,
		  const struct tmap_target *target, const struct tmap_guest *guest,
		  unsigned flags, struct tmap_error *err)
{
	struct json_object *where = NULL, *spec;
	struct tmap_target *identity = NULL;
	bool known;

	if (!st || !guest || (module && !target))
		return tmap_error_set(err, -EINVAL, "tmap_state_record: missing argument");
	if (flags & ~TMAP_STATE_PENDING)
		return tmap_error_set(err, -EINVAL, "tmap_state_record: unknown flags 0x%x", flags);
	if (!st->writable)
		return tmap_error_set(err, -EBADF, "state file '%s' was opened to read", st->path);
	if (module) {
		if (tmap_target_new(&identity) < 0)
			return tmap_error_set(err, -ENOMEM, "out of memory");
		/* The identity helps the next reader; a backend that cannot tell it still has
		 * its options recorded. */
		known = tmap_backend_identify(module, target, identity, NULL) == 0;
		where = state_target_json(tmap_backend_descriptor(module)->name, target,
					  known ? identity : NULL);
		tmap_target_free(identity);
		if (!where)
			return tmap_error_set(err, -ENOMEM, "out of memory");
	}
	spec = state_spec_from_guest(guest);
	if (!spec) {
		json_object_put(where);
		return tmap_error_set(err, -ENOMEM, "out of memory");
	}
	if (state_record_put(st, guest->name, flags & TMAP_STATE_PENDING, where, spec) < 0)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	return 0;
}

int
tmap_state_guest_target(struct tmap_state *st, const char *name, const char **ret_backend,
			struct tmap_target **ret_target, struct tmap_error *err)
{
	struct state_record *rec;

	if (!st || !name || !ret_backend || !ret_target)
		return tmap_error_set(err, -EINVAL, "tmap_state_guest_target: missing argument");
	rec = state_record_find(st, name);
	if (!rec || !rec->target)
		return tmap_error_set(err, -ENOENT,
				      "guest '%s': the state records no target it was applied to", name);
	return state_target_from_json(rec->target, ret_backend, ret_target, err);
}

/* ------------------------------------------------------------------------------------- */
/* What the session asks of the records */

const char *
state_path(const struct tmap_state *st)
{
	return st->path;
}

bool
state_guest_pending(struct tmap_state *st, const char *name)
{
	const struct state_record *rec = state_record_find(st, name);

	return rec && rec->pending;
}

unsigned
state_guest_running_vcpus(struct tmap_state *st, const char *name)
{
	const struct state_record *rec = state_record_find(st, name);

	return rec ? rec->running_vcpus : 0;
}

void
state_guest_set_running_vcpus(struct tmap_state *st, const char *name, unsigned vcpus)
{
	struct state_record *rec = state_record_find(st, name);

	if (rec)
		rec->running_vcpus = vcpus;
}

void
state_guest_mark_applied(struct tmap_state *st, const char *name)
{
	struct state_record *rec = state_record_find(st, name);

	if (rec)
		rec->pending = false;
}

struct json_object *
state_guest_identity(struct tmap_state *st, const char *name)
{
	const struct state_record *rec = state_record_find(st, name);
	struct json_object *identity;

	if (!rec || !rec->target || !json_object_object_get_ex(rec->target, "identity", &identity))
		return NULL;
	return identity;
}

int
state_guest_spec(struct tmap_state *st, const char *name, struct tmap_guests **ret,
		 struct tmap_error *err)
{
	const struct state_record *rec = state_record_find(st, name);
	struct tmap_guests *guests = NULL;
	struct json_object *spec = NULL, *v;
	const char *text;
	int r;

	if (!rec || !rec->spec)
		return tmap_error_set(err, -ENOENT, "guest '%s': the state records no spec for it",
				      name);
	/* A state written before shared specs lost their thread policy ("prefer", the
	 * default) records one, which a shared guest's file may not have. */
	if (json_object_object_get_ex(rec->spec, "cpu_policy", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    streq(json_object_get_string(v), "shared") &&
	    json_object_object_get_ex(rec->spec, "thread_policy", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    streq(json_object_get_string(v), "prefer")) {
		if (json_object_deep_copy(rec->spec, &spec, NULL) < 0)
			return tmap_error_set(err, -ENOMEM, "out of memory");
		json_object_object_del(spec, "thread_policy");
	}
	text = json_object_to_json_string_ext(spec ? spec : rec->spec, JSON_C_TO_STRING_PLAIN);
	r = tmap_guests_new(&guests);
	if (r == 0)
		r = tmap_guests_parse_json(guests, text, strlen(text), st->path, err);
	else
		tmap_error_set(err, r, "out of memory");
	json_object_put(spec);
	if (r == 0 && tmap_guests_count(guests) != 1)
		r = tmap_error_set(err, -EBADMSG, "state file '%s': guest '%s': its spec is not one guest",
				   st->path, name);
	if (r == 0)
		*ret = TAKE_PTR(guests);
	tmap_guests_free(guests);
	return r;
}
