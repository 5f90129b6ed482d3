/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The allocation state file: what is placed on this host, so that every `apply` places
 * around what earlier ones placed, like the kubelet CPU manager's checkpoint.
 *
 *   {"format": "topomap-state", "version": 2,
 *    "host": {"pus": "0-63", "nodes": "0-1"},
 *    "reserve": "0,32", "shared_pool": "1,33",
 *    "housekeeping": "0,32",         (optional: the host's own PUs; default the reserve)
 *    "shared_set": "2-5,34-37",      (optional: the shared pool the operator set, issue 21)
 *    "cpu_overcommit": 2.0, "memory_overcommit": 1.5,  (optional: their ratios, each in
 *                  (0, 1024]; unset, the library's defaults)
 *    "isolation": [{"path": F, "restore": V, "value": W}...],  (optional: what
 *                  `host isolate` wrote, in order, and what undoes each)
 *    "isolation_options": {"narrow": [CG...], "flags": N, "cgroup_root": D, "proc_root": D,
 *                          "sys_root": D},
 *                  (with "isolation": what it was made with, for a later apply to repeat)
 *    "guests": [{"name": "db", "status": "applied" | "pending",
 *                "running_vcpus": 2,   (optional: the vcpus the guest still runs while its
 *                                       plan has another count, a resize applied to it
 *                                       running; absent: it runs its plan's count)
 *                "target": {"backend": "cgroup", "options": {"cgroup": "/machine/db"},
 *                           "identity": {...}},
 *                "spec": <the guest as asked, in the guest file format>,
 *                "plan": <its plan, as the plan's JSON contract writes a guest>}]}
 *
 * Version 1 kept the plans alone ("guests": [<plan>...], "host": "0-63"); it is read as
 * guests applied to no known target, with the spec their plan answers, and written back as
 * version 2 by the next writer (kubelet's checkpoint V1 to V2 migration, in spirit).
 *
 * Concurrency and crashes: every reader and writer locks "<path>.lock" (shared to read,
 * exclusive to write) for as long as it works on the state, so two `apply` never hand out
 * one PU twice; a write goes to a temporary file in the same directory, is fsync()ed,
 * renamed over the state, and the directory is fsync()ed, so a crash at any instant leaves
 * the old file or the new one. A file that is not a topomap state, or does not fit this
 * host, is refused with one line naming the key, and never replaced.
 */
#include <ctype.h>
#include <stdarg.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <libgen.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "state.h"

#define MAX_STATE_BYTES (64u << 20)

struct tmap_state *
tmap_state_close(struct tmap_state *st)
{
	if (!st)
		return NULL;
	if (st->lock_fd >= 0)
		close(st->lock_fd); /* releases the lock */
	json_object_put(st->root);
	state_records_clear(st);
	free(st->reserve);
	state_host_keys_clear(st);
	free(st->path);
	free(st);
	return NULL;
}

static void
tmap_state_closep(struct tmap_state **st)
{
	tmap_state_close(*st);
}

/* mkdir -p for the state's directory, 0755, when writing. */
static int
make_parent(const char *path, struct tmap_error *err)
{
	_cleanup_free_ char *copy = strdup(path);
	char *dir, *p;

	if (!copy)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	dir = dirname(copy);
	for (p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return tmap_error_set(err, -errno, "state directory '%s': %s", dir,
					      strerror(errno));
		*p = '/';
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return tmap_error_set(err, -errno, "state directory '%s': %s", dir, strerror(errno));
	return 0;
}

/* ------------------------------------------------------------------------------------- */
/* Reading: the document, checked key by key */

int
corrupt(const struct tmap_state *st, struct tmap_error *err, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return tmap_error_set(err, -EBADMSG,
			      "state file '%s': %s: refusing to use or replace it", st->path, what);
}

static int
not_state(const struct tmap_state *st, struct tmap_error *err, const char *why)
{
	return tmap_error_set(err, -EBADMSG,
			      "state file '%s' is not a topomap state file (%s): refusing to use or replace it",
			      st->path, why);
}

static const char *
type_name(struct json_object *v)
{
	return v ? json_type_to_name(json_object_get_type(v)) : "null";
}

/* JSON text, strictly (core/json.c): one document, nothing after it, no key twice. */
static int
parse_text(const struct tmap_state *st, const char *text, size_t len, struct json_object **ret,
	   struct tmap_error *err)
{
	struct tmap_error why = {0};
	int r = json_read(text, len, st->path, json_type_object, "a topomap state object", ret,
			  &why);

	if (r == -ENOMEM)
		return tmap_error_set(err, r, "out of memory");
	if (r < 0)
		return not_state(st, err, why.message);
	return 0;
}

static bool
is_string(struct json_object *v)
{
	return v && json_object_is_type(v, json_type_string);
}

static bool
is_list_text(const char *s)
{
	_cleanup_bitmap_ hwloc_bitmap_t set = NULL;

	return !*s || bitmap_parse_list(s, &set) == 0;
}

/* An object of strings: a target's options or identity. */
static int
check_string_map(const struct tmap_state *st, struct json_object *o, const char *at,
		 struct tmap_error *err)
{
	if (!o || !json_object_is_type(o, json_type_object))
		return corrupt(st, err, "%s is %s, not an object", at, type_name(o));
	json_object_object_foreach(o, key, value)
		if (!is_string(value))
			return corrupt(st, err, "%s.%.40s is %s, not a string", at, key,
				       type_name(value));
	return 0;
}

static int
check_target(const struct tmap_state *st, struct json_object *t, const char *at,
	     struct tmap_error *err)
{
	char where[96];
	int r;

	if (!t || !json_object_is_type(t, json_type_object))
		return corrupt(st, err, "%s.target is %s, not an object", at, type_name(t));
	json_object_object_foreach(t, key, value) {
		snprintf(where, sizeof(where), "%s.target.%.20s", at, key);
		if (streq(key, "backend")) {
			if (!is_string(value) || !json_object_get_string_len(value))
				return corrupt(st, err, "%s is %s, not a backend name", where,
					       type_name(value));
		} else if (streq(key, "options") || streq(key, "identity")) {
			r = check_string_map(st, value, where, err);
			if (r < 0)
				return r;
		} else {
			return corrupt(st, err, "%s: unknown key", where);
		}
	}
	if (!json_object_object_get_ex(t, "backend", NULL) ||
	    !json_object_object_get_ex(t, "options", NULL))
		return corrupt(st, err, "%s.target lacks 'backend' or 'options'", at);
	return 0;
}

static bool
name_ok(const char *name)
{
	struct tmap_guest *g = NULL;

	if (tmap_guest_new(name, 1, &g, NULL) < 0)
		return false;
	tmap_guest_free(g);
	return true;
}

/*
 * "running_vcpus": a count of vcpus the plan does not have (the plan's own would say nothing:
 * a hand-edited file, refused rather than read as a resize still pending).
 */
static int
check_running_vcpus(const struct tmap_state *st, struct json_object *v, struct json_object *plan,
		    const char *at, unsigned *ret, struct tmap_error *err)
{
	struct json_object *vcpus;
	int64_t n;

	if (!v) {
		*ret = 0;
		return 0;
	}
	if (!json_object_is_type(v, json_type_int))
		return corrupt(st, err, "%s.running_vcpus is %s, not a vcpu count", at,
			       type_name(v));
	n = json_object_get_int64(v);
	if (n < 1 || n > TMAP_MAX_VCPUS)
		return corrupt(st, err, "%s.running_vcpus is %" PRId64 ", not a vcpu count from 1 to %d",
			       at, n, TMAP_MAX_VCPUS);
	if (json_object_object_get_ex(plan, "vcpus", &vcpus) &&
	    json_object_is_type(vcpus, json_type_array) &&
	    json_object_array_length(vcpus) == (size_t)n)
		return corrupt(st, err, "%s.running_vcpus is %" PRId64 ", the count its plan has already",
			       at, n);
	*ret = (unsigned)n;
	return 0;
}

/* One guest of a version 2 document. */
static int
check_guest(struct tmap_state *st, struct json_object *g, size_t i, struct tmap_error *err)
{
	struct json_object *name = NULL, *status = NULL, *target = NULL, *spec = NULL, *plan = NULL;
	struct json_object *plan_name, *running = NULL;
	unsigned running_vcpus = 0;
	char at[32];
	int r;

	snprintf(at, sizeof(at), "guests[%zu]", i);
	if (!g || !json_object_is_type(g, json_type_object))
		return corrupt(st, err, "%s is %s, not an object", at, type_name(g));
	json_object_object_foreach(g, key, value) {
		if (streq(key, "name"))
			name = value;
		else if (streq(key, "status"))
			status = value;
		else if (streq(key, "target"))
			target = value;
		else if (streq(key, "spec"))
			spec = value;
		else if (streq(key, "plan"))
			plan = value;
		else if (streq(key, "running_vcpus"))
			running = value;
		else
			return corrupt(st, err, "%s.%.40s: unknown key", at, key);
	}
	if (!is_string(name) || !name_ok(json_object_get_string(name)))
		return corrupt(st, err, "%s.name is not a valid guest name", at);
	if (!is_string(status) || (!streq(json_object_get_string(status), "applied") &&
				   !streq(json_object_get_string(status), "pending")))
		return corrupt(st, err, "%s.status is not \"applied\" or \"pending\"", at);
	if (json_object_object_get_ex(g, "target", NULL) && (r = check_target(st, target, at, err)) < 0)
		return r;
	if (!spec || !json_object_is_type(spec, json_type_object))
		return corrupt(st, err, "%s.spec is %s, not an object", at, type_name(spec));
	if (!plan || !json_object_is_type(plan, json_type_object))
		return corrupt(st, err, "%s.plan is %s, not an object", at, type_name(plan));
	if (!json_object_object_get_ex(plan, "name", &plan_name) || !is_string(plan_name) ||
	    !streq(json_object_get_string(plan_name), json_object_get_string(name)))
		return corrupt(st, err, "%s.plan.name is not its name", at);
	if (state_record_find(st, json_object_get_string(name)))
		return corrupt(st, err, "guest '%s' appears twice", json_object_get_string(name));
	r = check_running_vcpus(st, running, plan, at, &running_vcpus, err);
	if (r < 0)
		return r;
	if (state_record_add(st, json_object_get_string(name),
		       streq(json_object_get_string(status), "pending"), running_vcpus, target,
		       spec) < 0)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	return 0;
}

/* The plan JSON of guest i of the committed document, whichever its version. */
static struct json_object *
guest_plan_json(struct json_object *root, size_t i)
{
	struct json_object *guests, *g, *plan;

	json_object_object_get_ex(root, "guests", &guests);
	g = json_object_array_get_idx(guests, i);
	return json_object_object_get_ex(g, "plan", &plan) ? plan : g;
}

static int
version_of(struct json_object *root)
{
	struct json_object *v;

	json_object_object_get_ex(root, "version", &v);
	return json_object_get_int(v);
}

/* The document's records, from its guests. */
static int
records_read(struct tmap_state *st, struct tmap_error *err)
{
	struct json_object *guests;
	int version = version_of(st->root);
	int r;

	state_records_clear(st);
	json_object_object_get_ex(st->root, "guests", &guests);
	for (size_t i = 0; i < json_object_array_length(guests); i++) {
		struct json_object *g = json_object_array_get_idx(guests, i), *name;

		if (version >= 2) {
			r = check_guest(st, g, i, err);
			if (r < 0)
				return r;
			continue;
		}
		/* Version 1: a plan alone; its spec is derived when it is written back. */
		if (!g || !json_object_is_type(g, json_type_object) ||
		    !json_object_object_get_ex(g, "name", &name) || !is_string(name) ||
		    !name_ok(json_object_get_string(name)))
			return corrupt(st, err, "guests[%zu] is not a plan with a valid name", i);
		if (state_record_find(st, json_object_get_string(name)))
			return corrupt(st, err, "guest '%s' appears twice",
				       json_object_get_string(name));
		if (state_record_add(st, json_object_get_string(name), false, 0, NULL, NULL) < 0)
			return tmap_error_set(err, -ENOMEM, "out of memory");
	}
	return 0;
}

static int
check_document(struct tmap_state *st, struct json_object *root, struct tmap_error *err)
{
	struct json_object *format = NULL, *version = NULL, *guests = NULL, *host = NULL;
	int v;

	if (!json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "format", &format) || !is_string(format) ||
	    !streq(json_object_get_string(format), STATE_FORMAT))
		return not_state(st, err, "corrupt or foreign");
	if (!json_object_object_get_ex(root, "version", &version) ||
	    !json_object_is_type(version, json_type_int) ||
	    (v = json_object_get_int(version)) < 1 || v > STATE_VERSION)
		return corrupt(st, err, "version is %s, not 1 or %d (written by a newer topomap?)",
			       version ? json_object_get_string(version) : "missing", STATE_VERSION);
	json_object_object_foreach(root, key, value) {
		if (streq(key, "format") || streq(key, "version")) {
			continue;
		} else if (streq(key, "host")) {
			host = value;
		} else if (streq(key, "housekeeping") || streq(key, "isolation") ||
			   streq(key, "isolation_options") || streq(key, "shared_set") ||
			   streq(key, "cpu_overcommit") || streq(key, "memory_overcommit") ||
			   streq(key, "recent_requests")) {
			int r = state_host_key_check(st, key, value, err);

			if (r < 0)
				return r;
		} else if (streq(key, "reserve") || streq(key, "shared_pool")) {
			if (!is_string(value) || !is_list_text(json_object_get_string(value)))
				return corrupt(st, err, "%s is %s, not a list of PUs", key,
					       type_name(value));
		} else if (streq(key, "guests")) {
			guests = value;
		} else {
			return corrupt(st, err, "%.40s: unknown key", key);
		}
	}
	if (json_object_object_get_ex(root, "host", NULL) || v >= 2) {
		int r = state_host_check(st, host, v, err);

		if (r < 0)
			return r;
	}
	if (state_host_keys_cross_check(st, root, err) < 0)
		return -EBADMSG;
	if (!guests || !json_object_is_type(guests, json_type_array))
		return corrupt(st, err, "guests is %s, not a list", type_name(guests));
	return 0;
}

int
tmap_state_open(const char *path, unsigned flags, struct tmap_state **ret, struct tmap_error *err)
{
	_cleanup_(tmap_state_closep) struct tmap_state *st = NULL;
	_cleanup_free_ char *lock = NULL, *text = NULL;
	struct json_object *root = NULL, *v;
	size_t len = 0;
	int fd, r;

	if (!path || !*path || !ret)
		return tmap_error_set(err, -EINVAL, "tmap_state_open: missing argument");
	if (flags & ~TMAP_STATE_WRITE)
		return tmap_error_set(err, -EINVAL, "tmap_state_open: unknown flags 0x%x", flags);
	st = calloc(1, sizeof(*st));
	if (!st || !(st->path = strdup(path)) || asprintf(&lock, "%s.lock", path) < 0)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	st->lock_fd = -1;
	st->writable = flags & TMAP_STATE_WRITE;
	if (st->writable) {
		r = make_parent(path, err);
		if (r < 0)
			return r;
	}
	fd = open(lock, (st->writable ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW |
			    O_NOCTTY, 0644);
	if (fd < 0 && (errno != ENOENT || st->writable))
		return tmap_error_set(err, -errno, "state lock '%s': %s", lock, strerror(errno));
	/* Never on 0, 1 or 2: a caller started with stdout closed would print into the lock. */
	if (fd >= 0 && fd <= STDERR_FILENO) {
		st->lock_fd = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
		close(fd);
		if (st->lock_fd < 0)
			return tmap_error_set(err, -errno, "state lock '%s': %s", lock,
					      strerror(errno));
	} else {
		st->lock_fd = fd;
	}
	/* No lock file: no writer ever ran here (they create it), but a state may have been
	 * copied in: read it all the same. */
	if (st->lock_fd >= 0 && flock(st->lock_fd, st->writable ? LOCK_EX : LOCK_SH) < 0)
		return tmap_error_set(err, -errno, "state lock '%s': %s", lock, strerror(errno));
	r = read_file_bounded(path, MAX_STATE_BYTES, &text, &len, err);
	if (r == -ENOENT) {
		st->reserve = strdup("");
		if (!st->reserve)
			return tmap_error_set(err, -ENOMEM, "out of memory");
		*ret = TAKE_PTR(st);
		return 0;
	}
	if (r < 0)
		return r;
	r = parse_text(st, text, len, &root, err);
	if (r < 0)
		return r;
	r = check_document(st, root, err);
	if (r < 0) {
		json_object_put(root);
		return r;
	}
	st->root = root;
	r = records_read(st, err);
	if (r < 0)
		return r;
	st->reserve = strdup(json_object_object_get_ex(root, "reserve", &v) ?
				     json_object_get_string(v) : "");
	if (!st->reserve)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	r = state_host_keys_read(st, root, err);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(st);
	return 0;
}

/* ------------------------------------------------------------------------------------- */
/* The host the document describes */

static int
check_identity(const struct tmap_state *st, const struct tmap_topology *t, struct tmap_error *err)
{
	_cleanup_free_ char *pus = bitmap_list(t->cpuset), *nodes = NULL;
	_cleanup_bitmap_ hwloc_bitmap_t set = hwloc_bitmap_alloc();
	struct json_object *host, *v;
	const char *their_pus, *their_nodes = NULL;

	if (!pus || !set)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	for (unsigned n = 0; n < t->nnodes; n++)
		hwloc_bitmap_set(set, t->nodes[n].os_index);
	nodes = bitmap_list(set);
	if (!nodes)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	if (!json_object_object_get_ex(st->root, "host", &host))
		return 0;
	if (json_object_is_type(host, json_type_string)) {
		their_pus = json_object_get_string(host);
	} else {
		json_object_object_get_ex(host, "pus", &v);
		their_pus = json_object_get_string(v);
		json_object_object_get_ex(host, "nodes", &v);
		their_nodes = json_object_get_string(v);
	}
	/* A state of another host would hand out PUs this one does not have. */
	if (!streq(their_pus, pus) || (their_nodes && !streq(their_nodes, nodes)))
		return tmap_error_set(err, -EBADMSG,
				      "state file '%s' was written for a host with PUs '%.60s'%s%.40s; this host has PUs '%.60s', nodes '%.40s'",
				      st->path, their_pus, their_nodes ? ", nodes " : "",
				      their_nodes ? their_nodes : "", pus, nodes);
	return 0;
}

/* The document's pool and guests, into a host of its topology. */
static int
load_guests(struct tmap_state *st, struct tmap_host *h, struct tmap_error *err)
{
	const struct tmap_topology *t = host_topology(h);
	struct json_object *guests, *pool;
	int r;

	if (!st->root)
		return 0;
	r = check_identity(st, t, err);
	if (r < 0)
		return r;
	if (json_object_object_get_ex(st->root, "shared_pool", &pool)) {
		r = host_restore_pool(h, json_object_get_string(pool), err);
		if (r < 0) {
			tmap_error_prefix(err, "state file '%s': ", st->path);
			return r;
		}
	}
	json_object_object_get_ex(st->root, "guests", &guests);
	for (size_t i = 0; i < json_object_array_length(guests); i++) {
		struct plan_guest pg;
		char at[48];

		snprintf(at, sizeof(at), version_of(st->root) >= 2 ? "guests[%zu].plan" : "guests[%zu]",
			 i);
		r = state_plan_from_json(t, guest_plan_json(st->root, i), st->path, at, &pg, err);
		if (r == 0 && host_adopt(h, &pg, err) < 0) {
			tmap_error_prefix(err, "state file '%s': ", st->path);
			r = -EBADMSG;
		}
		plan_guest_clear(&pg);
		if (r < 0)
			return r;
	}
	state_recent_load(st, h);
	return 0;
}

int
tmap_state_load(struct tmap_state *st, struct tmap_host *h, struct tmap_error *err)
{
	if (!st || !h)
		return tmap_error_set(err, -EINVAL, "tmap_state_load: missing argument");
	return load_guests(st, h, err);
}

static int
state_set_reserve(struct tmap_state *st, const char *list, struct tmap_error *err)
{
	char *copy = strdup(list ? list : "");

	if (!copy)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	free(st->reserve);
	st->reserve = copy;
	return 0;
}

const char *
tmap_state_reserve(const struct tmap_state *st)
{
	return st && st->reserve && *st->reserve ? st->reserve : NULL;
}

int
tmap_state_set_reserve(struct tmap_state *st, const char *reserve, struct tmap_error *err)
{
	if (!st || !st->writable)
		return tmap_error_set(err, -EBADF, "state file not opened to write");
	if (reserve && *reserve && !is_list_text(reserve))
		return tmap_error_set(err, -EINVAL, "reserve '%.60s' is not a list of PUs", reserve);
	/* The shared pool belongs to shared guests: the host's own PUs are elsewhere. */
	if (reserve && *reserve && st->shared_set && cpulist_overlap(reserve, st->shared_set))
		return tmap_error_set(err, -EINVAL, "reserve '%.60s' overlaps the shared set '%.60s'",
				      reserve, st->shared_set);
	return state_set_reserve(st, reserve, err);
}

/* ------------------------------------------------------------------------------------- */
/* Writing */

static int
write_all(int fd, const char *text, size_t len)
{
	while (len) {
		ssize_t n = write(fd, text, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		text += n;
		len -= (size_t)n;
	}
	return 0;
}

int
tmap_host_guest_plan(const struct tmap_host *h, const char *name, struct tmap_plan **ret,
		     struct tmap_error *err)
{
	struct tmap_plan *plan;
	int r;

	if (!h || !name || !ret)
		return tmap_error_set(err, -EINVAL, "tmap_host_guest_plan: missing argument");
	for (size_t i = 0; i < tmap_host_guest_count(h); i++) {
		if (!streq(tmap_host_guest_name(h, i), name))
			continue;
		plan = calloc(1, sizeof(*plan));
		if (!plan || plan_set_host(plan, host_topology(h)) < 0 ||
		    !(plan->guests = calloc(1, sizeof(*plan->guests)))) {
			tmap_plan_free(plan);
			return tmap_error_set(err, -ENOMEM, "out of memory");
		}
		plan->nguests = 1;
		r = plan_guest_copy(&plan->guests[0], host_guest_plan_at(h, i));
		if (r < 0) {
			tmap_plan_free(plan);
			return tmap_error_set(err, r, "out of memory");
		}
		*ret = plan;
		return 0;
	}
	return tmap_error_set(err, -ENOENT, "no guest '%s' is placed", name);
}

/* One guest of the document to write: its record, spec and plan. */
static struct json_object *
guest_document(struct tmap_state *st, const struct tmap_host *h, size_t i,
	       struct tmap_error *err)
{
	const char *name = tmap_host_guest_name(h, i);
	const struct state_record *rec = state_record_find(st, name);
	struct tmap_plan *plan = NULL;
	struct json_object *g, *spec, *json;
	unsigned plan_vcpus;

	if (tmap_host_guest_plan(h, name, &plan, err) < 0)
		return NULL;
	plan_vcpus = plan->guests[0].vcpus;
	g = json_object_new_object();
	json = plan_guest_to_json(&plan->guests[0]);
	spec = rec && rec->spec ? json_object_get(rec->spec) : state_spec_from_plan(&plan->guests[0]);
	tmap_plan_free(plan);
	if (!g || !json || !spec) {
		json_object_put(g);
		json_object_put(json);
		json_object_put(spec);
		tmap_error_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	json_object_object_add(g, "name", json_object_new_string(name));
	json_object_object_add(g, "status",
			       json_object_new_string(rec && rec->pending ? "pending" : "applied"));
	if (rec && rec->running_vcpus && rec->running_vcpus != plan_vcpus)
		json_object_object_add(g, "running_vcpus", json_object_new_int64(rec->running_vcpus));
	if (rec && rec->target)
		json_object_object_add(g, "target", json_object_get(rec->target));
	json_object_object_add(g, "spec", spec);
	json_object_object_add(g, "plan", json);
	return g;
}

static struct json_object *
document_new(struct tmap_state *st, const struct tmap_host *h, struct tmap_error *err)
{
	const struct tmap_topology *t = host_topology(h);
	_cleanup_free_ char *pus = bitmap_list(t->cpuset), *nodes = NULL, *pool = host_pool_list(h);
	_cleanup_bitmap_ hwloc_bitmap_t set = hwloc_bitmap_alloc();
	struct json_object *root = json_object_new_object(), *host = json_object_new_object();
	struct json_object *guests = json_object_new_array();

	for (unsigned n = 0; set && n < t->nnodes; n++)
		hwloc_bitmap_set(set, t->nodes[n].os_index);
	nodes = set ? bitmap_list(set) : NULL;
	if (!pus || !nodes || !pool || !root || !host || !guests) {
		json_object_put(root);
		json_object_put(host);
		json_object_put(guests);
		tmap_error_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	json_object_object_add(root, "format", json_object_new_string(STATE_FORMAT));
	json_object_object_add(root, "version", json_object_new_int(STATE_VERSION));
	json_object_object_add(host, "pus", json_object_new_string(pus));
	json_object_object_add(host, "nodes", json_object_new_string(nodes));
	json_object_object_add(root, "host", host);
	if (*st->reserve)
		json_object_object_add(root, "reserve", json_object_new_string(st->reserve));
	json_object_object_add(root, "shared_pool", json_object_new_string(pool));
	state_host_keys_write(st, root);
	json_object_object_add(root, "guests", guests);
	if (state_recent_write(root, h) < 0) {
		json_object_put(root);
		return tmap_error_set(err, -ENOMEM, "out of memory"), NULL;
	}
	for (size_t i = 0; i < tmap_host_guest_count(h); i++) {
		struct json_object *g = guest_document(st, h, i, err);

		if (!g) {
			json_object_put(root);
			return NULL;
		}
		json_object_array_add(guests, g);
	}
	return root;
}

/* The text to the file: a temporary beside it, fsync, rename over it, fsync the directory. */
static int
write_document(const struct tmap_state *st, const char *text, struct tmap_error *err)
{
	_cleanup_free_ char *tmp = NULL, *dir_copy = NULL;
	_cleanup_close_ int fd = -1, dirfd = -1;
	int r;

	/* Its name is fixed: only the holder of the exclusive lock writes, so a writer killed
	 * midway leaves one stale temporary that the next writer removes, not a new one per
	 * crash. Removed and created afresh (O_EXCL) so that it is ours, with our mode. */
	if (asprintf(&tmp, "%s.tmp", st->path) < 0 || !(dir_copy = strdup(st->path)))
		return tmap_error_set(err, -ENOMEM, "out of memory");
	if (unlink(tmp) < 0 && errno != ENOENT)
		fd = -1;
	else
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0644);
	if (fd < 0)
		return tmap_error_set(err, -errno, "state file '%s': cannot create '%s': %s",
				      st->path, tmp, strerror(errno));
	r = fchmod(fd, 0644) < 0 ? -errno : 0;
	if (r == 0)
		r = write_all(fd, text, strlen(text));
	if (r == 0)
		r = write_all(fd, "\n", 1);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r == 0 && rename(tmp, st->path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return tmap_error_set(err, r, "state file '%s': cannot write it: %s", st->path,
				      strerror(-r));
	}
	dirfd = open(dirname(dir_copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0 || fsync(dirfd) < 0)
		return tmap_error_set(err, -errno, "state file '%s': cannot sync its directory: %s",
				      st->path, strerror(errno));
	return 0;
}

static int
state_commit(struct tmap_state *st, const struct tmap_host *h, struct tmap_error *err)
{
	struct json_object *root;
	int r = 0;

	if (!st->writable)
		return tmap_error_set(err, -EBADF, "state file '%s' was opened to read", st->path);
	root = document_new(st, h, err);
	if (!root)
		return -ENOMEM;
	r = write_document(st, json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
								     JSON_C_TO_STRING_NOSLASHESCAPE),
				   err);
	if (r < 0) {
		json_object_put(root);
		return r;
	}
	json_object_put(st->root);
	st->root = root;
	return 0;
}

int
tmap_state_save(struct tmap_state *st, const struct tmap_host *h, struct tmap_error *err)
{
	if (!st || !h)
		return tmap_error_set(err, -EINVAL, "tmap_state_save: missing argument");
	return state_commit(st, h, err);
}

struct json_object *
state_snapshot(struct tmap_state *st)
{
	return json_object_get(st->root);
}

void
state_snapshot_free(struct json_object *snapshot)
{
	json_object_put(snapshot);
}

int
state_revert(struct tmap_state *st, struct json_object *snapshot, struct tmap_error *err)
{
	int r;

	if (!snapshot) {
		/* There was no file: there is none again. */
		if (unlink(st->path) < 0 && errno != ENOENT)
			return tmap_error_set(err, -errno, "state file '%s': cannot remove it: %s",
					      st->path, strerror(errno));
		json_object_put(st->root);
		st->root = NULL;
		state_records_clear(st);
		return 0;
	}
	r = write_document(st, json_object_to_json_string_ext(snapshot, JSON_C_TO_STRING_PRETTY |
									 JSON_C_TO_STRING_NOSLASHESCAPE),
			   err);
	if (r < 0)
		return r;
	json_object_put(st->root);
	st->root = json_object_get(snapshot);
	return records_read(st, err);
}
