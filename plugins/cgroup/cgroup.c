/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The cgroup backend: a plan in force through cgroup cpusets, on cgroup v1, v2 and hybrid
 * hosts.
 *
 * A container is one guest: its cgroup gets the union of the plan's PUs and memory nodes.
 * With layout=libvirt the cgroup is a libvirt domain's, and each thread group gets a child as
 * libvirt lays them out: vcpuN, emulator, iothreadN (threaded cgroups on v2).
 *
 * Where the sets live depends on the host, decided once in detect_hierarchy():
 * - legacy and hybrid hosts (a tmpfs at /sys/fs/cgroup holding one mount per controller)
 *   have cpuset on its own v1 hierarchy and the cpu controller (QoS) on another, with the
 *   same relative paths;
 * - unified hosts have everything on one cgroup2 mount, and controllers must be enabled in
 *   each parent's cgroup.subtree_control before a child gets their files.
 *
 * Every write is announced with tmap_journal_write() first and made only when that returns
 * true, which is how a dry run prints the writes without making them. Paths are resolved
 * beneath the hierarchy's mount without following symlinks (path.c) and every file is opened
 * relative to its cgroup's directory fd, so nothing a path says can move a write elsewhere.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <topomap/plugin.h>

#include "cgroup-backend.h"

/* ---------------------------------------------------------------------------------------- */
/* State */

static void
cgroup_clear(struct cgroup *cg)
{
	if (cg->fd >= 0)
		close(cg->fd);
	free(cg->rel);
	free(cg->path);
	for (size_t i = 0; i < N_FILES; i++) {
		free(cg->saved[i]);
		free(cg->pending[i]);
	}
	*cg = (struct cgroup){.fd = -1};
}

static void
cgroup_close(void *userdata)
{
	struct state *st = userdata;

	if (!st)
		return;
	if (st->chain)
		for (size_t i = 0; i <= st->depth; i++)
			cgroup_clear(&st->chain[i]);
	if (st->cpu_chain)
		for (size_t i = 0; i <= st->depth; i++)
			cgroup_clear(&st->cpu_chain[i]);
	for (size_t i = 0; i < st->nchildren; i++)
		cgroup_clear(&st->children[i]);
	free(st->chain);
	free(st->cpu_chain);
	free(st->children);
	sched_set_clear(&st->sched);
	hierarchy_clear(&st->h);
	free(st);
}

static void
statep(struct state **st)
{
	cgroup_close(*st);
}

static const enum file v1_cpuset_files[] = {F_CPUS, F_MEMS, F_MIGRATE};
static const enum file v1_cpu_files[] = {F_SHARES, F_PERIOD, F_QUOTA};
static const enum file v2_target_files[] = {F_CPUS, F_MEMS, F_SUBTREE, F_WEIGHT, F_MAX};
static const enum file v2_child_files[] = {F_CPUS, F_MEMS};
static const enum file v2_ancestor_files[] = {F_SUBTREE};

/*
 * The target's path in one hierarchy: chain[0] is the mount's root, chain[depth] the target.
 * Components that exist are opened; the first missing one ends the walk, and what follows is
 * for apply() to make.
 */
static int
open_chain(const char *mount, const char *rel, size_t depth, struct cgroup **ret,
	   struct tmap_error *err)
{
	struct cgroup *chain = calloc(depth + 1, sizeof(*chain));
	const char *p = rel;
	bool missing = false;
	int r;

	if (!chain)
		return -ENOMEM;
	for (size_t i = 0; i <= depth; i++)
		chain[i].fd = -1;
	*ret = chain;
	r = cg_init(&chain[0], mount, "", 0, NULL);
	if (r < 0)
		return r;
	chain[0].fd = open(mount, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (chain[0].fd < 0)
		return tmap_error_set(err, -errno, "cannot open the hierarchy at %s: %s", mount,
				 strerror(errno));
	for (size_t i = 1; i <= depth; i++) {
		p += strcspn(p, "/");
		r = cg_init(&chain[i], mount, rel, (size_t)(p - rel), &chain[i - 1]);
		if (r < 0)
			return r;
		if (*p == '/')
			p++;
		if (missing)
			continue;
		r = cgpath_open_beneath(chain[0].fd, chain[i].rel, true);
		switch (r) {
		case -ENOENT:
			missing = true;
			break;
		case -ELOOP:
			return tmap_error_set(err, r,
					 "cgroup '%s' goes through a symlink at '%s', which topomap does not follow",
					 rel, chain[i].rel);
		case -EXDEV:
			return tmap_error_set(err, r, "cgroup '%s' crosses into another mount at '%s'",
					 rel, chain[i].rel);
		case -ENOTDIR:
			return tmap_error_set(err, r, "cgroup '%s': '%s' is not a directory", rel,
					 chain[i].rel);
		default:
			if (r < 0)
				return tmap_error_set(err, r, "cannot open cgroup '%s': %s",
						 chain[i].rel, strerror(-r));
			chain[i].fd = r;
		}
	}
	return 0;
}

/* "vcpu12" -> VCPU 12, "emulator", "iothread3" -> IOTHREAD 3; canonical numbers only. */
bool
parse_child_name(const char *name, enum tmap_task_role *ret_role, unsigned *ret_index)
{
	static const struct {
		const char *prefix;
		enum tmap_task_role role;
		unsigned min, max;
	} kinds[] = {
		{"vcpu", TMAP_TASK_VCPU, 0, TMAP_MAX_VCPUS - 1},
		{"iothread", TMAP_TASK_IOTHREAD, 1, TMAP_MAX_IOTHREADS},
	};

	if (streq(name, "emulator")) {
		*ret_role = TMAP_TASK_EMULATOR;
		*ret_index = 0;
		return true;
	}
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		const char *p = name + strlen(kinds[i].prefix);
		unsigned long v;
		char *end;

		if (!startswith(name, kinds[i].prefix) || !isdigit((unsigned char)*p) ||
		    (p[0] == '0' && p[1]))
			continue;
		errno = 0;
		v = strtoul(p, &end, 10);
		if (errno || *end || v < kinds[i].min || v > kinds[i].max)
			continue;
		*ret_role = kinds[i].role;
		*ret_index = (unsigned)v;
		return true;
	}
	return false;
}

static int
child_order(const void *a, const void *b)
{
	const struct cgroup *x = a, *y = b;

	if (x->role != y->role)
		return x->role < y->role ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static struct cgroup *
find_child(struct state *st, enum tmap_task_role role, unsigned index)
{
	for (size_t i = 0; i < st->nchildren; i++)
		if (st->children[i].role == role && st->children[i].index == index)
			return &st->children[i];
	return NULL;
}

static int
add_child(struct state *st, const char *name, enum tmap_task_role role, unsigned index,
	  struct cgroup **ret)
{
	struct cgroup *t = &st->chain[st->depth];
	struct cgroup *children = realloc(st->children, (st->nchildren + 1) * sizeof(*children));
	_cleanup_free_ char *rel = NULL;
	struct cgroup *cg;
	int r;

	if (!children)
		return -ENOMEM;
	st->children = children;
	if (asprintf(&rel, "%s/%s", t->rel, name) < 0)
		return -ENOMEM;
	cg = &st->children[st->nchildren];
	r = cg_init(cg, st->h.mount, rel, strlen(rel), t);
	if (r < 0) {
		cgroup_clear(cg);
		return r;
	}
	cg->role = role;
	cg->index = index;
	st->nchildren++;
	*ret = cg;
	return 0;
}

/* layout=libvirt: the children that are there now, and what is in force in them. */
static int
open_children(struct state *st, struct tmap_error *err)
{
	struct cgroup *t = &st->chain[st->depth];
	int fd = openat(t->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *dir;
	int r = 0;

	if (fd < 0)
		return tmap_error_set(err, -errno, "cannot list cgroup '%s': %s", t->rel,
				 strerror(errno));
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -ENOMEM;
	}
	while (r == 0 && (errno = 0, de = readdir(dir))) {
		enum tmap_task_role role;
		struct cgroup *cg;
		unsigned index;

		if (de->d_type != DT_DIR || !parse_child_name(de->d_name, &role, &index))
			continue;
		r = add_child(st, de->d_name, role, index, &cg);
		if (r < 0)
			break;
		cg->fd = cgpath_open_beneath(t->fd, de->d_name, true);
		if (cg->fd < 0) {
			r = tmap_error_set(err, cg->fd, "cannot open cgroup '%s': %s", cg->rel,
				      strerror(-cg->fd));
			break;
		}
		if (st->h.v2)
			r = capture(cg, v2_child_files, ARRAY_SIZE(v2_child_files), err);
		else
			r = capture(cg, v1_cpuset_files, ARRAY_SIZE(v1_cpuset_files), err);
	}
	closedir(dir);
	if (r < 0)
		return r;
	qsort(st->children, st->nchildren, sizeof(*st->children), child_order);
	return 0;
}

static int
parse_flag(const struct tmap_target *target, const char *key, bool *ret, struct tmap_error *err)
{
	const char *v = tmap_target_get(target, key);

	if (!v)
		*ret = false;
	else if (!v[0] || streq(v, "1") || streq(v, "yes") || streq(v, "true"))
		*ret = true;
	else if (streq(v, "0") || streq(v, "no") || streq(v, "false"))
		*ret = false;
	else
		return tmap_error_set(err, -EINVAL, "--%s takes no value ('%s' given)", key, v);
	return 0;
}

static int
cgroup_open(const struct tmap_target *target, unsigned flags, void **ret_state,
	    struct tmap_error *err)
{
	_cleanup_(statep) struct state *st = NULL;
	_cleanup_free_ char *rel = NULL;
	const char *input = tmap_target_get(target, "cgroup");
	const char *layout = tmap_target_get(target, "layout");
	struct cgroup *t;
	int r;

	if (flags & ~TMAP_APPLY_DRY_RUN)
		return tmap_error_set(err, -EINVAL, "unknown flags 0x%x", flags & ~TMAP_APPLY_DRY_RUN);
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	if (!input)
		return tmap_error_set(err, -EINVAL,
				 "the cgroup backend needs --cgroup PATH (for example machine.slice/ct1)");
	if (!layout || streq(layout, "container"))
		st->libvirt = false;
	else if (streq(layout, "libvirt"))
		st->libvirt = true;
	else
		return tmap_error_set(err, -EINVAL, "--layout: '%s' is not one of container, libvirt",
				 layout);
	r = parse_flag(target, "create", &st->create, err);
	if (r == 0)
		r = parse_flag(target, "memory-migrate", &st->migrate, err);
	if (r < 0)
		return r;

	r = detect_hierarchy(&st->h, err);
	if (r < 0)
		return r;
	/* v2 has no memory_migrate: the kernel moves a cgroup's pages with its cpuset.mems. A
	 * caller that asks for them to stay (apply --make-room --no-memory) is told, not
	 * ignored. */
	if (st->h.v2 && tmap_target_get(target, "memory-migrate") && !st->migrate)
		return tmap_error_set(err, -EOPNOTSUPP,
				      "cgroup v2 moves the pages of '%s' with its cpuset.mems: they cannot stay where they are (memory-migrate '%s')",
				      input, tmap_target_get(target, "memory-migrate"));
	r = cgpath_normalize(st->h.mount, input, &rel, err);
	if (r < 0)
		return r;
	st->depth = 1;
	for (const char *p = rel; *p; p++)
		st->depth += *p == '/';

	r = open_chain(st->h.mount, rel, st->depth, &st->chain, err);
	if (r < 0)
		return r;
	t = &st->chain[st->depth];
	if (t->fd < 0 && !st->create)
		return tmap_error_set(err, -ENOENT, "cgroup '%s' does not exist under %s (use --create)",
				 rel, st->h.mount);

	if (st->h.v2) {
		for (size_t i = 0; i < st->depth; i++)
			if (st->chain[i].fd >= 0) {
				r = capture(&st->chain[i], v2_ancestor_files,
					    ARRAY_SIZE(v2_ancestor_files), err);
				if (r < 0)
					return r;
			}
		if (t->fd >= 0) {
			r = capture(t, v2_target_files, ARRAY_SIZE(v2_target_files), err);
			if (r < 0)
				return r;
			/* Without cpuset enabled above it, a v2 cgroup has no cpuset files. */
			if (!t->saved[F_CPUS] && !st->create)
				return tmap_error_set(err, -ENOENT,
						 "cpuset controller is not enabled under '%s' (use --create)",
						 cg_name(t->parent));
		}
	} else if (t->fd >= 0) {
		r = capture(t, v1_cpuset_files, ARRAY_SIZE(v1_cpuset_files), err);
		if (r < 0)
			return r;
	}
	if (st->h.cpu_mount) {
		struct cgroup *ct;

		r = open_chain(st->h.cpu_mount, rel, st->depth, &st->cpu_chain, err);
		if (r < 0)
			return r;
		ct = &st->cpu_chain[st->depth];
		if (ct->fd >= 0) {
			r = capture(ct, v1_cpu_files, ARRAY_SIZE(v1_cpu_files), err);
			if (r < 0)
				return r;
		}
	}
	if (st->libvirt && t->fd >= 0) {
		r = open_children(st, err);
		if (r < 0)
			return r;
	}
	*ret_state = TAKE_PTR(st);
	return 0;
}

/* The directory the target resolves to in the cpuset hierarchy, and its layout. The same
 * cgroup named in other words ("/sys/fs/cgroup/cpuset/a//b", "a/b") gives the same identity. */
static int
cgroup_identify(const struct tmap_target *target, struct tmap_target *identity,
		struct tmap_error *err)
{
	_cleanup_free_ char *rel = NULL, *dir = NULL;
	const char *input = tmap_target_get(target, "cgroup");
	const char *layout = tmap_target_get(target, "layout");
	struct hierarchy h = {0};
	int r;

	if (!input)
		return tmap_error_set(err, -EINVAL,
				      "the cgroup backend needs --cgroup PATH (for example machine.slice/ct1)");
	if (layout && !streq(layout, "container") && !streq(layout, "libvirt"))
		return tmap_error_set(err, -EINVAL, "--layout: '%s' is not one of container, libvirt",
				      layout);
	r = detect_hierarchy(&h, err);
	if (r < 0)
		return r;
	r = cgpath_normalize(h.mount, input, &rel, err);
	if (r == 0 && asprintf(&dir, "%s/%s", h.mount, rel) < 0) {
		dir = NULL;
		r = -ENOMEM;
	}
	hierarchy_clear(&h);
	if (r == 0)
		r = tmap_target_set(identity, "cgroup", dir);
	if (r == 0)
		r = tmap_target_set(identity, "layout", layout ? layout : "container");
	if (r == -ENOMEM)
		return tmap_error_set(err, r, "out of memory");
	return r;
}

/* The target's path, made where it is missing (v1: seeded; v2: cpuset enabled above). */
static int
make_path(struct state *st, bool qos, struct tmap_journal *j, struct tmap_error *err)
{
	int r = 0;

	for (size_t i = 1; r == 0 && i <= st->depth; i++) {
		struct cgroup *cg = &st->chain[i];

		if (st->h.v2) {
			r = enable_controller(st, cg->parent, "cpuset", j, err);
			if (r == 0 && qos)
				r = enable_controller(st, cg->parent, "cpu", j, err);
		}
		if (r < 0 || cg_exists(cg))
			continue;
		r = cg_mkdir(cg, j, err);
		if (r == 0 && !st->h.v2 && i < st->depth)
			r = seed(st, cg, j, err);
	}
	if (r < 0 || !st->cpu_chain || !qos)
		return r;
	for (size_t i = 1; r == 0 && i <= st->depth; i++)
		if (!cg_exists(&st->cpu_chain[i]))
			r = cg_mkdir(&st->cpu_chain[i], j, err);
	return r;
}

/* One child of layout=libvirt and the PUs the plan gives it. */
struct wanted {
	enum tmap_task_role role;
	unsigned index;
	const char *cpus;
	struct cgroup *cg;
};

static int
child_name(enum tmap_task_role role, unsigned index, char *buf, size_t size)
{
	switch (role) {
	case TMAP_TASK_VCPU:
		return snprintf(buf, size, "vcpu%u", index);
	case TMAP_TASK_IOTHREAD:
		return snprintf(buf, size, "iothread%u", index);
	default:
		return snprintf(buf, size, "emulator");
	}
}

static enum tmap_observed_kind
observed_kind(enum tmap_task_role role)
{
	switch (role) {
	case TMAP_TASK_VCPU:
		return TMAP_OBSERVED_VCPU;
	case TMAP_TASK_IOTHREAD:
		return TMAP_OBSERVED_IOTHREAD;
	default:
		return TMAP_OBSERVED_EMULATOR;
	}
}

/* The children the plan's guest has, as libvirt orders them: vcpus, emulator, iothreads. */
static int
plan_children(const struct tmap_plan *plan, size_t guest, struct wanted **ret, size_t *ret_n,
	      struct tmap_error *err)
{
	unsigned nvcpus = tmap_plan_vcpu_count(plan, guest);
	unsigned niothreads = tmap_plan_iothread_count(plan, guest);
	const char *emulator = tmap_plan_emulator_cpuset(plan, guest);
	size_t n = (size_t)nvcpus + 1 + niothreads;
	struct wanted *w;

	if (!emulator || !emulator[0] || nvcpus == 0)
		return tmap_error_set(err, -EINVAL, "guest %zu of the plan has no vcpus", guest);
	w = calloc(n, sizeof(*w));
	if (!w)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		if (i < nvcpus)
			w[i] = (struct wanted){TMAP_TASK_VCPU, i,
					       tmap_plan_vcpu_cpuset(plan, guest, i), NULL};
		else if (i == nvcpus)
			w[i] = (struct wanted){TMAP_TASK_EMULATOR, 0, emulator, NULL};
		else
			w[i] = (struct wanted){TMAP_TASK_IOTHREAD, i - nvcpus, emulator, NULL};
		if (!w[i].cpus || !w[i].cpus[0]) {
			free(w);
			return tmap_error_set(err, -EINVAL, "guest %zu of the plan has an empty set",
					 guest);
		}
	}
	*ret = w;
	*ret_n = n;
	return 0;
}

/* The children the plan needs, found or added for apply() to make. A missing one without
 * --create is refused before anything is written. */
static int
want_children(struct state *st, const struct tmap_plan *plan, size_t guest,
	      struct wanted **ret, size_t *ret_n, struct tmap_error *err)
{
	_cleanup_free_ struct wanted *w = NULL;
	size_t n;
	int r;

	r = plan_children(plan, guest, &w, &n, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		struct cgroup *cg;
		char name[32];

		if (find_child(st, w[i].role, w[i].index))
			continue;
		child_name(w[i].role, w[i].index, name, sizeof(name));
		if (!st->create)
			return tmap_error_set(err, -ENOENT,
					 "cgroup '%s/%s' does not exist under %s (use --create): nothing was changed",
					 st->chain[st->depth].rel, name, st->h.mount);
		r = add_child(st, name, w[i].role, w[i].index, &cg);
		if (r < 0)
			return r;
	}
	/* Only now: add_child() moves the array. */
	for (size_t i = 0; i < n; i++)
		w[i].cg = find_child(st, w[i].role, w[i].index);
	*ret = TAKE_PTR(w);
	*ret_n = n;
	return 0;
}

/* v2 takes any set and keeps in force only what the parent has: refuse the rest up front,
 * with the message v1's kernel check gets. */
static int
check_v2_bounds(struct state *st, const char *cpus, const char *mems, struct tmap_error *err)
{
	struct cgroup *t = &st->chain[st->depth], *above = t->parent;
	const char *want[2] = {cpus, mems};
	const char *files[2] = {"cpuset.cpus.effective", "cpuset.mems.effective"};

	while (above && above->fd < 0)
		above = above->parent;
	if (!above)
		return 0;
	for (size_t i = 0; i < 2; i++) {
		_cleanup_free_ char *allowed = NULL;

		if (read_at(above->fd, files[i], MAX_FILE, &allowed) < 0)
			continue;
		if (cpulist_included(want[i], allowed) == 0)
			return tmap_error_set(err, -EINVAL,
					 "%s of '%s': '%s' is outside the parent's '%s'",
					 file_names[i == 0 ? F_CPUS : F_MEMS], t->rel, want[i],
					 allowed);
	}
	return 0;
}

/* layout=libvirt: the target grows to hold old and new, then each child gets its set. */
static int
apply_children(struct state *st, const struct wanted *children, size_t n, const char *cpus,
	       const char *mems, struct tmap_journal *j, struct tmap_error *err)
{
	static const enum file sets[] = {F_MEMS, F_CPUS};
	struct cgroup *t = &st->chain[st->depth];
	int r;

	if (st->h.v2) {
		r = enable_controller(st, t, "cpuset", j, err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < ARRAY_SIZE(sets); i++) {
		_cleanup_free_ char *now = NULL, *wide = NULL;

		r = current(t, sets[i], &now);
		if (r == 0)
			r = cpulist_union(now, sets[i] == F_CPUS ? cpus : mems, &wide);
		if (r < 0)
			return tmap_error_set(err, r, "cannot read %s of '%s': %s", file_names[sets[i]],
					 t->rel, strerror(-r));
		if (!cpulist_equal(wide, now)) {
			r = cg_write(st, t, sets[i], wide, j, err);
			if (r < 0)
				return r;
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct cgroup *cg = children[i].cg;

		r = 0;
		if (!cg_exists(cg)) {
			r = cg_mkdir(cg, j, err);
			/* libvirt's per-thread cgroups: TIDs, not processes, go in. */
			if (r == 0 && st->h.v2)
				r = cg_write(st, cg, F_TYPE, "threaded", j, err);
		}
		if (r == 0 && st->migrate && !st->h.v2)
			r = cg_write(st, cg, F_MIGRATE, "1", j, err);
		if (r == 0)
			r = cg_write(st, cg, F_MEMS, mems, j, err);
		if (r == 0)
			r = cg_write(st, cg, F_CPUS, children[i].cpus, j, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* One guest of the plan, as the backend writes it. */
struct guest_sets {
	const char *cpus, *mems;
	uint64_t shares, period;
	int64_t quota;
	bool qos;
	struct wanted *children; /* layout=libvirt */
	size_t nchildren;
};

/*
 * Read the plan's guest and refuse, before any write, what the plan needs that is not there
 * and will not be made: the cpu controller, the target in the cpu hierarchy, a child of the
 * libvirt layout (without --create), sets outside a v2 parent.
 */
static int
preflight(struct state *st, const struct tmap_plan *plan, size_t guest, struct guest_sets *g,
	  struct tmap_error *err)
{
	struct cgroup *t = &st->chain[st->depth];
	int r;

	*g = (struct guest_sets){tmap_plan_cpuset(plan, guest), tmap_plan_memory_nodeset(plan, guest)};
	if (!g->cpus || !g->mems || !g->cpus[0] || !g->mems[0])
		return tmap_error_set(err, -EINVAL, "guest %zu of the plan has no CPUs or memory nodes",
				 guest);
	r = tmap_plan_qos(plan, guest, &g->shares, &g->period, &g->quota);
	if (r < 0)
		return tmap_error_set(err, r, "guest %zu is not in the plan", guest);
	g->qos = g->shares || g->period || g->quota;
	if (g->qos && !st->h.v2 && !st->h.cpu_mount)
		return tmap_error_set(err, -ENOENT,
				 "the plan sets CPU QoS, but the cpu controller is not mounted: nothing was changed");
	if (g->qos && st->cpu_chain && st->cpu_chain[st->depth].fd < 0 && !st->create)
		return tmap_error_set(err, -ENOENT,
				 "cgroup '%s' does not exist under %s (use --create): nothing was changed",
				 t->rel, st->h.cpu_mount);
	if (st->h.v2) {
		r = check_v2_bounds(st, g->cpus, g->mems, err);
		if (r < 0)
			return r;
	}
	r = realtime_check(st, plan, guest, err);
	if (r == 0 && st->libvirt)
		r = want_children(st, plan, guest, &g->children, &g->nchildren, err);
	return r;
}

/* The open step's last word: what apply() would refuse before writing, refused now. */
static int
cgroup_check(void *userdata, const struct tmap_plan *plan, size_t guest, struct tmap_error *err)
{
	struct guest_sets g;
	int r = preflight(userdata, plan, guest, &g, err);

	free(g.children);
	return r;
}

/*
 * The order keeps every write legal and no task without CPUs or memory: a v1 child must stay
 * inside its parent, so with children the target first grows to old ∪ new, then the children
 * get their sets, then the target narrows to the plan. Memory nodes go before CPUs, so a task
 * that moves to new CPUs finds its new nodes already allowed.
 */
static int
apply_guest(struct state *st, const struct guest_sets *g, struct tmap_journal *j,
	    struct tmap_error *err)
{
	static const enum file sets[] = {F_MEMS, F_CPUS};
	struct cgroup *t = &st->chain[st->depth];
	int r;

	r = make_path(st, g->qos, j, err);
	if (r < 0)
		return r;
	if (st->migrate && !st->h.v2) {
		r = cg_write(st, t, F_MIGRATE, "1", j, err);
		if (r < 0)
			return r;
	}
	if (st->libvirt) {
		r = apply_children(st, g->children, g->nchildren, g->cpus, g->mems, j, err);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < 2; i++) {
		r = cg_write_once(st, t, sets[i], sets[i] == F_CPUS ? g->cpus : g->mems, j, err);
		if (r < 0)
			return r;
	}
	if (!g->qos)
		return 0;
	if (st->h.v2)
		return write_qos_v2(st, g->shares, g->period, g->quota, j, err);
	return write_qos_v1(st, g->shares, g->period, g->quota, j, err);
}

static int
cgroup_apply(void *userdata, const struct tmap_plan *plan, size_t guest,
	     struct tmap_journal *j, struct tmap_error *err)
{
	struct state *st = userdata;
	struct guest_sets g;
	int r;

	/* Everything that can be refused without writing is refused first (check() did). */
	r = preflight(userdata, plan, guest, &g, err);
	if (r == 0 && st->libvirt)
		r = realtime_capture(st, plan, guest, err);
	if (r == 0)
		r = apply_guest(st, &g, j, err);
	/* The threads' class once their cpusets are the plan's. */
	if (r == 0 && st->libvirt)
		r = sched_apply(&st->sched, j, err);
	free(g.children);
	return r;
}

static int
cgroup_read_back(void *userdata, const struct tmap_plan *plan, size_t guest,
		 struct tmap_observed *obs, struct tmap_error *err)
{
	struct state *st = userdata;
	struct cgroup *t = &st->chain[st->depth];
	int r;

	if (t->fd < 0)
		return tmap_error_set(err, -ENOENT, "cgroup '%s' does not exist under %s", t->rel,
				 st->h.mount);
	r = observe_set(st, t, TMAP_OBSERVED_CPUS, 0, F_CPUS, obs, err);
	if (r == 0)
		r = observe_set(st, t, TMAP_OBSERVED_MEMS, 0, F_MEMS, obs, err);
	if (r == 0)
		r = observe_qos(st, plan, guest, obs, err);
	if (r < 0)
		return r;
	if (st->libvirt) {
		_cleanup_free_ struct wanted *w = NULL;
		size_t n;

		r = plan_children(plan, guest, &w, &n, err);
		for (size_t i = 0; r == 0 && i < n; i++) {
			struct cgroup *cg = find_child(st, w[i].role, w[i].index);
			struct cgroup missing = {.fd = -1};
			char name[32];

			/* Read back as an empty set, which the comparison reports. */
			if (!cg) {
				child_name(w[i].role, w[i].index, name, sizeof(name));
				if (asprintf(&missing.rel, "%s/%s", t->rel, name) < 0)
					return -ENOMEM;
				cg = &missing;
			}
			r = observe_set(st, cg, observed_kind(w[i].role), w[i].index, F_CPUS, obs,
					 err);
			free(missing.rel);
		}
		/* Children the plan does not have (vcpu5 of a 4-vcpu plan) are drift too. */
		for (size_t i = 0; r == 0 && i < st->nchildren; i++) {
			struct cgroup *cg = &st->children[i];
			bool planned = false;

			for (size_t k = 0; k < n && !planned; k++)
				planned = w[k].role == cg->role && w[k].index == cg->index;
			if (!planned)
				r = observe_set(st, cg, observed_kind(cg->role), cg->index, F_CPUS,
						obs, err);
		}
		if (r == 0)
			r = realtime_observe(st, plan, guest, obs, err);
		if (r < 0)
			return r;
	}
	return observe_tasks(st, t->fd, t->rel, TMAP_TASK_ANY, 0, 0, obs, err);
}

/* Keep the first failure, and go on: the more of the capture is back, the better. */
static void
keep_first(int r, int *first, struct tmap_error *first_err, const struct tmap_error *err)
{
	if (r < 0 && *first == 0) {
		*first = r;
		*first_err = *err;
	}
}

static int
cgroup_restore(void *userdata, struct tmap_journal *j, struct tmap_error *reterr)
{
	static const enum file sets[] = {F_MEMS, F_CPUS};
	struct state *st = userdata;
	struct cgroup *t = &st->chain[st->depth];
	struct tmap_error first_err = {0}, err = {0};
	int first = 0;

	/* The vcpu threads' classes first, while their cgroups are still the plan's. */
	keep_first(sched_restore(&st->sched, j, &err), &first, &first_err, &err);

	/* Children go back inside the target's old sets, so it first grows to hold both. */
	if (!t->created && t->fd >= 0 && st->nchildren > 0) {
		for (size_t i = 0; i < 2; i++) {
			_cleanup_free_ char *now = NULL, *wide = NULL;

			if (!t->saved[sets[i]] ||
			    read_at(t->fd, file_names[sets[i]], MAX_FILE, &now) < 0 ||
			    cpulist_union(now, t->saved[sets[i]], &wide) < 0 || cpulist_equal(wide, now))
				continue;
			keep_first(cg_write(st, t, sets[i], wide, j, &err), &first, &first_err,
				   &err);
		}
	}
	for (size_t i = st->nchildren; i-- > 0;) {
		struct cgroup *cg = &st->children[i];

		if (cg->created) {
			keep_first(cg_rmdir(cg, j, &err), &first, &first_err, &err);
			continue;
		}
		for (size_t k = 0; k < 2; k++)
			keep_first(put_back(st, cg, sets[k], j, &err), &first, &first_err, &err);
		keep_first(put_back(st, cg, F_MIGRATE, j, &err), &first, &first_err, &err);
	}
	if (!t->created) {
		for (size_t k = 0; k < 2; k++)
			keep_first(put_back(st, t, sets[k], j, &err), &first, &first_err, &err);
		keep_first(put_back(st, t, F_MIGRATE, j, &err), &first, &first_err, &err);
		keep_first(put_back(st, t, F_WEIGHT, j, &err), &first, &first_err, &err);
		keep_first(put_back(st, t, F_MAX, j, &err), &first, &first_err, &err);
	}
	for (size_t i = st->depth; i > 0; i--)
		keep_first(cg_rmdir(&st->chain[i], j, &err), &first, &first_err, &err);
	if (st->cpu_chain) {
		struct cgroup *ct = &st->cpu_chain[st->depth];

		if (!ct->created)
			for (enum file f = F_SHARES; f <= F_QUOTA; f++)
				keep_first(put_back(st, ct, f, j, &err), &first, &first_err, &err);
		for (size_t i = st->depth; i > 0; i--)
			keep_first(cg_rmdir(&st->cpu_chain[i], j, &err), &first, &first_err,
				   &err);
	}
	/* v2: controllers enabled for the transaction, deepest first (a parent cannot drop
	 * one a child still enables). */
	for (size_t i = st->depth + 1; st->h.v2 && i-- > 0;) {
		struct cgroup *cg = &st->chain[i];

		if (cg->fd < 0)
			continue;
		if (cg->added_cpu)
			keep_first(cg_write(st, cg, F_SUBTREE, "-cpu", j, &err), &first, &first_err,
				   &err);
		if (cg->added_cpuset)
			keep_first(cg_write(st, cg, F_SUBTREE, "-cpuset", j, &err), &first,
				   &first_err, &err);
		cg->added_cpu = cg->added_cpuset = false;
	}
	if (first < 0 && reterr)
		*reterr = first_err;
	return first;
}

static const char *const target_keys[] = {"cgroup", "create", "layout", "memory-migrate", NULL};

TMAP_BACKEND_EXPORT const struct tmap_backend tmap_backend = {
	.abi = TMAP_BACKEND_ABI,
	.size = sizeof(struct tmap_backend),
	.name = "cgroup",
	.summary = "cgroup cpusets (v1, v2, hybrid): a container's cgroup, or libvirt's per-thread children",
	.target_keys = target_keys,
	.probe = cgroup_probe,
	.open = cgroup_open,
	.apply = cgroup_apply,
	.read_back = cgroup_read_back,
	.restore = cgroup_restore,
	.close = cgroup_close,
	.identify = cgroup_identify,
	.check = cgroup_check,
};
