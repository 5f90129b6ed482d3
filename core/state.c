/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The allocation state file: what is placed on this host, so that every `apply` places
 * around what earlier ones placed, like the kubelet CPU manager's checkpoint.
 *
 *   {"format": "topomap-state", "version": 1, "host": "0-63",
 *    "reserve": "0,32", "shared_pool": "1,33",
 *    "guests": [ <each guest's plan, as the plan's JSON contract writes it> ]}
 *
 * Concurrency and crashes: every reader and writer locks "<path>.lock" (shared to read,
 * exclusive to write) for as long as it works on the state, so two `apply` never hand out
 * one PU twice; a write goes to a temporary file in the same directory, is fsync()ed,
 * renamed over the state, and the directory is fsync()ed, so a crash at any instant leaves
 * the old file or the new one. A file that is not a topomap state, or does not fit this
 * host, is refused and never replaced.
 */
#include <fcntl.h>
#include <json-c/json.h>
#include <libgen.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "internal.h"

#define STATE_FORMAT "topomap-state"
#define STATE_VERSION 1
#define MAX_STATE_BYTES (64u << 20)

struct tmap_state {
	char *path;
	int lock_fd;
	bool writable;
	struct json_object *root;	/* NULL: no state yet (an empty host) */
};

struct tmap_state *
tmap_state_close(struct tmap_state *st)
{
	if (!st)
		return NULL;
	if (st->lock_fd >= 0)
		close(st->lock_fd); /* releases the lock */
	if (st->root)
		json_object_put(st->root);
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

static int
parse_state(struct tmap_state *st, const char *text, size_t len, struct tmap_error *err)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *root, *v;

	if (!tok)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	root = json_tokener_parse_ex(tok, text, (int)len);
	json_tokener_free(tok);
	if (!root || !json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "format", &v) ||
	    !json_object_is_type(v, json_type_string) || !streq(json_object_get_string(v), STATE_FORMAT)) {
		if (root)
			json_object_put(root);
		return tmap_error_set(err, -EBADMSG,
				      "state file '%s' is not a topomap state file (corrupt or foreign): refusing to use or replace it",
				      st->path);
	}
	if (!json_object_object_get_ex(root, "version", &v) ||
	    json_object_get_int(v) != STATE_VERSION ||
	    !json_object_object_get_ex(root, "guests", &v) ||
	    !json_object_is_type(v, json_type_array)) {
		json_object_put(root);
		return tmap_error_set(err, -EBADMSG,
				      "state file '%s' has an unknown version or no guest list: refusing to use or replace it",
				      st->path);
	}
	st->root = root;
	return 0;
}

int
tmap_state_open(const char *path, unsigned flags, struct tmap_state **ret, struct tmap_error *err)
{
	_cleanup_(tmap_state_closep) struct tmap_state *st = NULL;
	_cleanup_free_ char *lock = NULL, *text = NULL;
	size_t len = 0;
	int r;

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
	st->lock_fd = open(lock, (st->writable ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC |
				 O_NOFOLLOW | O_NOCTTY, 0644);
	if (st->lock_fd < 0 && (errno != ENOENT || st->writable))
		return tmap_error_set(err, -errno, "state lock '%s': %s", lock, strerror(errno));
	/* No lock file: no writer ever ran here (they create it), but a state may have been
	 * copied in: read it all the same. */
	if (st->lock_fd >= 0 && flock(st->lock_fd, st->writable ? LOCK_EX : LOCK_SH) < 0)
		return tmap_error_set(err, -errno, "state lock '%s': %s", lock, strerror(errno));
	r = read_file_bounded(path, MAX_STATE_BYTES, &text, &len, err);
	if (r == -ENOENT) {
		*ret = TAKE_PTR(st);
		return 0;
	}
	if (r < 0)
		return r;
	r = parse_state(st, text, len, err);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(st);
	return 0;
}

const char *
tmap_state_reserve(const struct tmap_state *st)
{
	struct json_object *v;

	if (!st || !st->root || !json_object_object_get_ex(st->root, "reserve", &v))
		return NULL;
	return json_object_get_string(v);
}

/* ------------------------------------------------------------------------------------- */
/* A guest's plan, read back from its JSON */

static const char *
get_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int64_t
get_int(struct json_object *o, const char *key, int64_t fallback)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return fallback;
	return json_object_get_int64(v);
}

static int
get_set(struct json_object *o, const char *key, hwloc_bitmap_t set)
{
	_cleanup_bitmap_ hwloc_bitmap_t parsed = NULL;
	const char *list = get_str(o, key);

	if (!list)
		return -EBADMSG;
	if (!*list) {
		hwloc_bitmap_zero(set);
		return 0;
	}
	if (bitmap_parse_list(list, &parsed) < 0)
		return -EBADMSG;
	hwloc_bitmap_copy(set, parsed);
	return 0;
}

static int
guest_from_json(const struct tmap_topology *t, struct json_object *g, struct plan_guest *pg)
{
	struct json_object *vcpus, *cells, *topo, *ios, *mem, *qos, *why, *emu;
	int e;

	memset(pg, 0, sizeof(*pg));
	if (!json_object_is_type(g, json_type_object) || !get_str(g, "name") ||
	    !json_object_object_get_ex(g, "vcpus", &vcpus) || !json_object_is_type(vcpus, json_type_array) ||
	    !json_object_object_get_ex(g, "cells", &cells) || !json_object_is_type(cells, json_type_array) ||
	    !json_object_object_get_ex(g, "topology", &topo) ||
	    !json_object_object_get_ex(g, "memory", &mem) ||
	    !json_object_object_get_ex(g, "emulator", &emu))
		return -EBADMSG;
	pg->name = strdup(get_str(g, "name"));
	pg->vcpus = (unsigned)json_object_array_length(vcpus);
	pg->ncells = (unsigned)json_object_array_length(cells);
	if (!pg->name || pg->vcpus == 0 || pg->vcpus > TMAP_MAX_VCPUS || pg->ncells == 0 ||
	    pg->ncells > pg->vcpus)
		return -EBADMSG;
	e = cpu_policy_from_name(get_str(g, "cpu_policy"));
	pg->cpu_policy = e < 0 ? TMAP_CPU_DEDICATED : (enum tmap_cpu_policy)e;
	e = thread_policy_from_name(get_str(g, "thread_policy"));
	pg->thread_policy = e < 0 ? TMAP_THREAD_PREFER : (enum tmap_thread_policy)e;
	e = emulator_policy_from_name(get_str(g, "emulator_threads"));
	pg->emulator_policy = e < 0 ? TMAP_EMULATOR_SHARE : (enum tmap_emulator_policy)e;
	e = memory_mode_from_name(get_str(mem, "mode"));
	if (e < 0)
		return -EBADMSG;
	pg->memory_mode = (enum tmap_memory_mode)e;
	/* Absent from state files written before hugepages were modelled: normal pages. */
	pg->page_kib = (uint64_t)get_int(mem, "hugepage_kib", 0);
	if (pg->page_kib && (pg->page_kib < TMAP_HUGEPAGE_KIB_MIN ||
			     pg->page_kib > TMAP_HUGEPAGE_KIB_MAX || (pg->page_kib & (pg->page_kib - 1))))
		return -EBADMSG;
	pg->sockets = (unsigned)get_int(topo, "sockets", 1);
	pg->cores = (unsigned)get_int(topo, "cores", pg->vcpus);
	pg->threads = (unsigned)get_int(topo, "threads", 1);
	pg->iothreads = json_object_object_get_ex(g, "iothreads", &ios) ?
				(unsigned)json_object_array_length(ios) : 0;
	if (json_object_object_get_ex(g, "qos", &qos)) {
		pg->shares = (uint64_t)get_int(qos, "shares", 0);
		pg->period = (uint64_t)get_int(qos, "period", 0);
		pg->quota = get_int(qos, "quota", 0);
	}
	pg->cells_proposed = json_object_object_get_ex(g, "cells_proposed", &why) &&
			     json_object_get_boolean(why);

	pg->vcpu_pus = calloc(pg->vcpus, sizeof(*pg->vcpu_pus));
	pg->vcpu_node = calloc(pg->vcpus, sizeof(*pg->vcpu_node));
	pg->vcpu_core_lists = calloc(pg->vcpus, sizeof(*pg->vcpu_core_lists));
	pg->cells = calloc(pg->ncells, sizeof(*pg->cells));
	pg->emulator = hwloc_bitmap_alloc();
	pg->held = hwloc_bitmap_alloc();
	pg->memory_nodes = hwloc_bitmap_alloc();
	if (!pg->vcpu_pus || !pg->vcpu_node || !pg->vcpu_core_lists || !pg->cells ||
	    !pg->emulator || !pg->held || !pg->memory_nodes)
		return -ENOMEM;
	for (unsigned v = 0; v < pg->vcpus; v++) {
		struct json_object *jv = json_object_array_get_idx(vcpus, v);

		if (!(pg->vcpu_pus[v] = hwloc_bitmap_alloc()))
			return -ENOMEM;
		if (get_int(jv, "vcpu", -1) != v || get_set(jv, "cpuset", pg->vcpu_pus[v]) < 0 ||
		    hwloc_bitmap_iszero(pg->vcpu_pus[v]) ||
		    !hwloc_bitmap_isincluded(pg->vcpu_pus[v], t->cpuset))
			return -EBADMSG;
		pg->vcpu_node[v] = (int)get_int(jv, "node", -1);
		if (get_str(jv, "host_core") && !(pg->vcpu_core_lists[v] = strdup(get_str(jv, "host_core"))))
			return -ENOMEM;
	}
	for (unsigned c = 0; c < pg->ncells; c++) {
		struct json_object *jc = json_object_array_get_idx(cells, c);
		struct plan_cell *pc = &pg->cells[c];
		const char *node = get_str(jc, "nodeset");
		char *end;

		pc->vcpus = hwloc_bitmap_alloc();
		pc->pus = hwloc_bitmap_alloc();
		if (!pc->vcpus || !pc->pus)
			return -ENOMEM;
		if (!node || get_set(jc, "cpus", pc->vcpus) < 0 || get_set(jc, "host_cpus", pc->pus) < 0)
			return -EBADMSG;
		errno = 0;
		pc->node = (unsigned)strtoul(node, &end, 10);
		if (errno || end == node || *end)
			return -EBADMSG;
		pc->memory_mib = (uint64_t)get_int(jc, "memory_mib", 0);
		if (pg->page_kib && (pc->memory_mib << 10) % pg->page_kib)
			return -EBADMSG;
		pg->memory_mib += pc->memory_mib;
	}
	if (get_set(emu, "cpuset", pg->emulator) < 0 || get_set(g, "held", pg->held) < 0 ||
	    get_set(mem, "nodeset", pg->memory_nodes) < 0)
		return -EBADMSG;
	if (json_object_object_get_ex(g, "explain", &why) && json_object_is_type(why, json_type_array))
		for (size_t i = 0; i < json_object_array_length(why); i++)
			if (plan_guest_explain(pg, "%s",
					       json_object_get_string(json_object_array_get_idx(why, i))) < 0)
				return -ENOMEM;
	return plan_guest_finish(pg);
}

int
tmap_state_load(struct tmap_state *st, struct tmap_host *h, struct tmap_error *err)
{
	const struct tmap_topology *t;
	struct json_object *guests, *host;
	int r;

	if (!st || !h)
		return tmap_error_set(err, -EINVAL, "tmap_state_load: missing argument");
	if (!st->root)
		return 0;
	t = host_topology(h);
	/* A state of another host would hand out PUs this one does not have. */
	if (json_object_object_get_ex(st->root, "host", &host)) {
		_cleanup_free_ char *here = bitmap_list(t->cpuset);

		if (here && !streq(json_object_get_string(host), here))
			return tmap_error_set(err, -EBADMSG,
					      "state file '%s' was written for a host with PUs '%.60s'; this host has '%.60s'",
					      st->path, json_object_get_string(host), here);
	}
	r = host_restore_pool(h, get_str(st->root, "shared_pool"), err);
	if (r < 0)
		return tmap_error_prefix(err, "state file '%s': ", st->path);
	json_object_object_get_ex(st->root, "guests", &guests);
	for (size_t i = 0; i < json_object_array_length(guests); i++) {
		struct plan_guest pg;

		r = guest_from_json(t, json_object_array_get_idx(guests, i), &pg);
		if (r == -ENOMEM)
			r = tmap_error_set(err, r, "out of memory");
		else if (r < 0)
			r = tmap_error_set(err, r, "state file '%s': guest %zu is not a valid plan",
					   st->path, i);
		else
			r = host_adopt(h, &pg, err) < 0 ?
				    tmap_error_prefix(err, "state file '%s': ", st->path) : 0;
		plan_guest_clear(&pg);
		if (r < 0)
			return r;
	}
	return 0;
}

int
tmap_host_guest_plan(const struct tmap_host *h, const char *name, struct tmap_plan **ret,
		     struct tmap_error *err)
{
	struct tmap_plan *plan;
	struct json_object *json;
	int r = -ENOENT;

	if (!h || !name || !ret)
		return tmap_error_set(err, -EINVAL, "tmap_host_guest_plan: missing argument");
	for (size_t i = 0; i < tmap_host_guest_count(h); i++) {
		if (!streq(tmap_host_guest_name(h, i), name))
			continue;
		plan = calloc(1, sizeof(*plan));
		if (!plan || !(plan->host = strdup(host_topology(h)->source)) ||
		    !(plan->guests = calloc(1, sizeof(*plan->guests)))) {
			tmap_plan_free(plan);
			return tmap_error_set(err, -ENOMEM, "out of memory");
		}
		plan->nguests = 1;
		json = plan_guest_to_json(host_guest_plan_at(h, i));
		r = json ? guest_from_json(host_topology(h), json, &plan->guests[0]) : -ENOMEM;
		json_object_put(json);
		if (r < 0) {
			tmap_plan_free(plan);
			return tmap_error_set(err, r, "the recorded plan of '%s' cannot be read", name);
		}
		*ret = plan;
		return 0;
	}
	return tmap_error_set(err, r, "no guest '%s' is placed", name);
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
tmap_state_save(struct tmap_state *st, const struct tmap_host *h, struct tmap_error *err)
{
	_cleanup_free_ char *tmp = NULL, *dir_copy = NULL, *here = NULL, *pool = NULL;
	_cleanup_close_ int fd = -1, dirfd = -1;
	struct json_object *root, *guests;
	const char *text;
	int r;

	if (!st || !h)
		return tmap_error_set(err, -EINVAL, "tmap_state_save: missing argument");
	if (!st->writable)
		return tmap_error_set(err, -EBADF, "state file '%s' was opened to read", st->path);
	here = bitmap_list(host_topology(h)->cpuset);
	pool = host_pool_list(h);
	root = json_object_new_object();
	guests = json_object_new_array();
	if (!here || !pool || !root || !guests) {
		json_object_put(root);
		json_object_put(guests);
		return tmap_error_set(err, -ENOMEM, "out of memory");
	}
	json_object_object_add(root, "format", json_object_new_string(STATE_FORMAT));
	json_object_object_add(root, "version", json_object_new_int(STATE_VERSION));
	json_object_object_add(root, "host", json_object_new_string(here));
	if (tmap_state_reserve(st))
		json_object_object_add(root, "reserve", json_object_new_string(tmap_state_reserve(st)));
	json_object_object_add(root, "shared_pool", json_object_new_string(pool));
	json_object_object_add(root, "guests", guests);
	for (size_t i = 0; i < tmap_host_guest_count(h); i++)
		json_object_array_add(guests, plan_guest_to_json(host_guest_plan_at(h, i)));
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
							    JSON_C_TO_STRING_NOSLASHESCAPE);

	/* A temporary file beside the state, fsync, rename over it, fsync the directory. Its
	 * name is fixed: only the holder of the exclusive lock writes, so a writer killed
	 * midway leaves one stale temporary that the next writer removes, not a new one per
	 * crash. Removed and created afresh (O_EXCL) so that it is ours, with our mode. */
	if (asprintf(&tmp, "%s.tmp", st->path) < 0 || !(dir_copy = strdup(st->path))) {
		json_object_put(root);
		return tmap_error_set(err, -ENOMEM, "out of memory");
	}
	if (unlink(tmp) < 0 && errno != ENOENT)
		fd = -1;
	else
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0644);
	if (fd < 0) {
		r = tmap_error_set(err, -errno, "state file '%s': cannot create '%s': %s", st->path,
				   tmp, strerror(errno));
		json_object_put(root);
		return r;
	}
	r = fchmod(fd, 0644) < 0 ? -errno : 0;
	if (r == 0)
		r = write_all(fd, text, strlen(text));
	if (r == 0)
		r = write_all(fd, "\n", 1);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	json_object_put(root);
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

int
tmap_state_set_reserve(struct tmap_state *st, const char *reserve, struct tmap_error *err)
{
	if (!st || !st->writable)
		return tmap_error_set(err, -EBADF, "state file not opened to write");
	if (!st->root) {
		st->root = json_object_new_object();
		if (!st->root)
			return tmap_error_set(err, -ENOMEM, "out of memory");
		json_object_object_add(st->root, "format", json_object_new_string(STATE_FORMAT));
		json_object_object_add(st->root, "version", json_object_new_int(STATE_VERSION));
		json_object_object_add(st->root, "guests", json_object_new_array());
	}
	if (reserve && *reserve)
		json_object_object_add(st->root, "reserve", json_object_new_string(reserve));
	else
		json_object_object_del(st->root, "reserve");
	return 0;
}
