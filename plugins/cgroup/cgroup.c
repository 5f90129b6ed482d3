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

#include <topomap/backend.h>

#include "cgroup-util.h"
#include "cpulist.h"
#include "procfs.h"

#define CGROUP_ROOT "/sys/fs/cgroup"
/* A cgroup file holds one short value; a status file is about 1.5 KiB. */
#define MAX_FILE (64u << 10)
/* A task list: about 7 bytes a thread, so some 150000 threads. */
#define MAX_TASK_LIST (1u << 20)
/* How deep verify looks for tasks below the target. */
#define MAX_TASK_DEPTH 16

/* The files the backend reads or writes, by what they are for. */
enum file {
	F_CPUS,
	F_MEMS,
	F_MIGRATE,
	F_SUBTREE,
	F_TYPE,
	F_SHARES,
	F_PERIOD,
	F_QUOTA,
	F_WEIGHT,
	F_MAX,
	N_FILES,
};

static const char *const file_names[N_FILES] = {
	[F_CPUS] = "cpuset.cpus",
	[F_MEMS] = "cpuset.mems",
	[F_MIGRATE] = "cpuset.memory_migrate",
	[F_SUBTREE] = "cgroup.subtree_control",
	[F_TYPE] = "cgroup.type",
	[F_SHARES] = "cpu.shares",
	[F_PERIOD] = "cpu.cfs_period_us",
	[F_QUOTA] = "cpu.cfs_quota_us",
	[F_WEIGHT] = "cpu.weight",
	[F_MAX] = "cpu.max",
};

struct hierarchy {
	char *mount;	 /* where the cpuset hierarchy is mounted */
	bool v2;	 /* cpuset is on cgroup2 */
	char *cpu_mount; /* v1: where the cpu controller is mounted; NULL when it is not */
};

/* One cgroup the transaction touches, and what open() found in it. */
struct cgroup {
	char *rel;		/* below the mount; "" for the root */
	char *path;		/* absolute, as the journal names it */
	struct cgroup *parent;	/* NULL for the root */
	int fd;			/* O_PATH directory; -1 while it does not exist */
	bool made;		/* apply() journaled making it (made, or would be in a dry run) */
	bool created;		/* apply() really made it: restore() removes it */
	bool added_cpuset;	/* v2: apply() enabled cpuset in its subtree_control */
	bool added_cpu;		/* v2: the same for cpu */
	enum tmap_task_role role; /* layout=libvirt child: which threads it holds */
	unsigned index;		/* vcpu number or iothread id */
	char *saved[N_FILES];	/* at open(); NULL for a file that was not there */
	char *pending[N_FILES]; /* the last value apply() journaled for the file */
};

struct state {
	struct hierarchy h;
	bool create;
	bool libvirt;
	bool migrate;
	size_t depth;		  /* components of the target's path */
	struct cgroup *chain;	  /* [0] the root of the hierarchy ... [depth] the target */
	struct cgroup *cpu_chain; /* v1: the same path in the cpu hierarchy, or NULL */
	struct cgroup *children;  /* layout=libvirt: vcpuN, emulator, iothreadN */
	size_t nchildren;
};

/* ---------------------------------------------------------------------------------------- */
/* Files */

/* Read at most max bytes of a file below dirfd, without the trailing newline. */
static int
read_at(int dirfd, const char *name, size_t max, char **ret)
{
	size_t len = 0;
	int r = read_file_at(dirfd, name, max, ret, &len);

	if (r == 0 && len > 0 && (*ret)[len - 1] == '\n')
		(*ret)[len - 1] = '\0';
	return r;
}

/* Is word one of the space-separated words of list? */
static bool
has_word(const char *list, const char *word, const char *separators)
{
	size_t n = strlen(word);

	while (*list) {
		size_t len = strcspn(list, separators);

		if (len == n && strncmp(list, word, n) == 0)
			return true;
		list += len;
		list += strspn(list, separators);
	}
	return false;
}

/* ---------------------------------------------------------------------------------------- */
/* Where the cpuset hierarchy is */

static void
hierarchy_clear(struct hierarchy *h)
{
	free(h->mount);
	free(h->cpu_mount);
	*h = (struct hierarchy){0};
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void
unescape_octal(char *s)
{
	char *w = s;

	for (char *p = s; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			*w++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 3;
		} else {
			*w++ = *p;
		}
	}
	*w = '\0';
}

static bool
v2_offers(const char *mount, const char *controller)
{
	_cleanup_close_ int fd = open(mount, O_PATH | O_DIRECTORY | O_CLOEXEC);
	_cleanup_free_ char *list = NULL;

	if (fd < 0 || read_at(fd, "cgroup.controllers", MAX_FILE, &list) < 0)
		return false;
	return has_word(list, controller, " ");
}

/*
 * The first v1 mount carrying cpuset, the first carrying cpu, and the first cgroup2 mount
 * offering cpuset, from /proc/self/mountinfo:
 * "36 25 0:31 / /sys/fs/cgroup/cpuset rw,relatime shared:13 - cgroup cgroup rw,cpuset".
 */
static int
scan_mountinfo(char **ret_v1_cpuset, char **ret_v1_cpu, char **ret_v2_cpuset)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int r = 0;

	if (!f)
		return -errno;
	while (r == 0 && getline(&line, &cap, f) > 0) {
		char *fields[6], *fstype, *superopts, *save = NULL, *tok;
		size_t n = 0;

		line[strcspn(line, "\n")] = '\0';
		for (tok = strtok_r(line, " ", &save); tok && n < 6;
		     tok = strtok_r(NULL, " ", &save))
			fields[n++] = tok;
		/* Optional fields until the lone "-", then fstype, source, super options. */
		while (tok && !streq(tok, "-"))
			tok = strtok_r(NULL, " ", &save);
		if (n < 6 || !tok)
			continue;
		fstype = strtok_r(NULL, " ", &save);
		if (!fstype || !strtok_r(NULL, " ", &save))
			continue;
		superopts = strtok_r(NULL, " ", &save);
		if (!superopts)
			continue;
		unescape_octal(fields[4]);
		if (streq(fstype, "cgroup")) {
			if (!*ret_v1_cpuset && has_word(superopts, "cpuset", ","))
				r = (*ret_v1_cpuset = strdup(fields[4])) ? 0 : -ENOMEM;
			if (r == 0 && !*ret_v1_cpu && has_word(superopts, "cpu", ","))
				r = (*ret_v1_cpu = strdup(fields[4])) ? 0 : -ENOMEM;
		} else if (streq(fstype, "cgroup2") && !*ret_v2_cpuset &&
			   v2_offers(fields[4], "cpuset")) {
			r = (*ret_v2_cpuset = strdup(fields[4])) ? 0 : -ENOMEM;
		}
	}
	free(line);
	fclose(f);
	return r;
}

/*
 * The one place that tells the kinds of host apart, by what /sys/fs/cgroup is (as crun
 * does): cgroup2 itself on a unified host; a tmpfs of per-controller mounts on a legacy or
 * hybrid one, where cpuset may still sit on the cgroup2 mount in a hybrid setup.
 */
static int
detect_hierarchy(struct hierarchy *ret, struct tmap_error *err)
{
	_cleanup_free_ char *v1_cpuset = NULL, *v1_cpu = NULL, *v2_cpuset = NULL;
	struct hierarchy h = {0};
	struct statfs fs;
	int r;

	if (statfs(CGROUP_ROOT, &fs) < 0)
		return tmap_error_set(err, -ENOENT, "no cpuset hierarchy: cannot look at %s: %s",
				 CGROUP_ROOT, strerror(errno));
	switch ((unsigned long)fs.f_type) {
	case CGROUP2_SUPER_MAGIC:
		if (!v2_offers(CGROUP_ROOT, "cpuset"))
			return tmap_error_set(err, -ENOENT,
					 "no cpuset hierarchy: the cgroup2 root at %s does not offer the cpuset controller (see its cgroup.controllers)",
					 CGROUP_ROOT);
		h.mount = strdup(CGROUP_ROOT);
		h.v2 = true;
		break;
	case TMPFS_MAGIC:
		r = scan_mountinfo(&v1_cpuset, &v1_cpu, &v2_cpuset);
		if (r < 0)
			return tmap_error_set(err, r, "cannot read /proc/self/mountinfo: %s",
					 strerror(-r));
		if (v1_cpuset) {
			h.mount = TAKE_PTR(v1_cpuset);
			h.cpu_mount = TAKE_PTR(v1_cpu);
		} else if (v2_cpuset) {
			h.mount = TAKE_PTR(v2_cpuset);
			h.v2 = true;
		} else {
			return tmap_error_set(err, -ENOENT,
					 "no cpuset hierarchy: no cgroup v1 mount carries cpuset and no cgroup2 mount offers it");
		}
		break;
	default:
		return tmap_error_set(err, -ENOENT,
				 "no cpuset hierarchy: %s is neither cgroup2 nor a tmpfs of cgroup mounts (filesystem magic 0x%lx)",
				 CGROUP_ROOT, (unsigned long)fs.f_type);
	}
	if (!h.mount) {
		hierarchy_clear(&h);
		return -ENOMEM;
	}
	*ret = h;
	return 0;
}

static int
cgroup_probe(struct tmap_error *err)
{
	struct hierarchy h = {0};
	int r = detect_hierarchy(&h, err);

	if (r < 0)
		return r;
	hierarchy_clear(&h);
	if (geteuid() != 0)
		return tmap_error_set(err, -EPERM,
				 "the cgroup backend writes cgroup files and needs root (euid %u)",
				 (unsigned)geteuid());
	return 0;
}

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
	hierarchy_clear(&st->h);
	free(st);
}

static void
statep(struct state **st)
{
	cgroup_close(*st);
}

/* What a message calls a cgroup. */
static const char *
cg_name(const struct cgroup *cg)
{
	return cg->rel[0] ? cg->rel : "/";
}

static int
cg_init(struct cgroup *cg, const char *mount, const char *rel, size_t rel_len,
	struct cgroup *parent)
{
	*cg = (struct cgroup){.fd = -1, .parent = parent};
	cg->rel = strndup(rel, rel_len);
	if (!cg->rel || asprintf(&cg->path, "%s%s%s", mount, rel_len ? "/" : "", cg->rel) < 0) {
		cg->path = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* Read what is there now of the files a cgroup may have written; a missing file stays NULL. */
static int
capture(struct cgroup *cg, const enum file *files, size_t n, struct tmap_error *err)
{
	for (size_t i = 0; i < n; i++) {
		int r = read_at(cg->fd, file_names[files[i]], MAX_FILE, &cg->saved[files[i]]);

		if (r == -ENOENT)
			continue;
		if (r < 0)
			return tmap_error_set(err, r, "cannot read %s of '%s': %s", file_names[files[i]],
					 cg_name(cg), strerror(-r));
	}
	return 0;
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
static bool
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

/* ---------------------------------------------------------------------------------------- */
/* Writing */

static const char *
controller_of(enum file f)
{
	return startswith(file_names[f], "cpuset.") ? "cpuset" : "cpu";
}

/*
 * A set the parent does not hold: v1's kernel says EACCES (6.x) or EINVAL (older), v2 takes
 * it and keeps only what the parent has. Returns r with the message set, or 0 when the set
 * is inside the parent's (or that cannot be told).
 */
static int
outside_parent(struct state *st, struct cgroup *cg, enum file f, const char *value, int r,
	       struct tmap_error *err)
{
	_cleanup_free_ char *allowed = NULL;
	char name[32];

	if ((f != F_CPUS && f != F_MEMS) || !cg->parent || cg->parent->fd < 0)
		return 0;
	snprintf(name, sizeof(name), "%s%s", file_names[f], st->h.v2 ? ".effective" : "");
	if (read_at(cg->parent->fd, name, MAX_FILE, &allowed) < 0 ||
	    cpulist_included(value, allowed) != 0)
		return 0;
	return tmap_error_set(err, r, "%s of '%s': '%s' is outside the parent's '%s'", file_names[f],
			 cg_name(cg), value, allowed);
}

static int
write_refused(struct state *st, struct cgroup *cg, enum file f, const char *value, int r,
	      struct tmap_error *err)
{
	const char *file = file_names[f];

	switch (r) {
	case -ENOENT:
		/* On v2 a controller's files appear only once the parent enables it. */
		if (st->h.v2 && f != F_SUBTREE && f != F_TYPE)
			return tmap_error_set(err, r, "%s controller is not enabled under '%s'",
					 controller_of(f), cg->parent ? cg_name(cg->parent) : "/");
		/* "+cpu" where the parent does not offer cpu at all. */
		if (f == F_SUBTREE)
			return tmap_error_set(err, r,
					 "controller '%s' is not available in '%s' (see its cgroup.controllers)",
					 value + 1, cg_name(cg));
		return tmap_error_set(err, r, "cannot write '%s' to %s of '%s': the file does not exist",
				 value, file, cg_name(cg));
	case -EINVAL:
	case -ERANGE:
		if (outside_parent(st, cg, f, value, r, err))
			return r;
		if (f == F_CPUS || f == F_MEMS)
			return tmap_error_set(err, r,
					 "%s of '%s': '%s' names a %s this host does not have",
					 file, cg_name(cg), value,
					 f == F_CPUS ? "CPU" : "memory node");
		break;
	case -ENOSPC:
		return tmap_error_set(err, r,
				 "%s of '%s': '%s' would leave the cgroup's tasks without CPUs or memory nodes",
				 file, cg_name(cg), value);
	case -EBUSY:
		/* v1: a parent may not drop what a child holds. Say which child. */
		for (size_t i = 0; (f == F_CPUS || f == F_MEMS) && i < st->nchildren; i++) {
			struct cgroup *child = &st->children[i];
			_cleanup_free_ char *held = NULL;

			if (child->parent != cg || child->fd < 0 ||
			    read_at(child->fd, file, MAX_FILE, &held) < 0 ||
			    cpulist_included(held, value) != 0)
				continue;
			return tmap_error_set(err, r,
					 "%s of '%s': '%s' does not cover child '%s', which holds '%s'",
					 file, cg_name(cg), value, child->rel, held);
		}
		if (f == F_CPUS || f == F_MEMS)
			return tmap_error_set(err, r,
					 "%s of '%s': '%s' does not cover what a child cgroup holds, or overlaps an exclusive sibling",
					 file, cg_name(cg), value);
		if (f == F_SUBTREE)
			return tmap_error_set(err, r,
					 "cannot enable a controller in '%s' with '%s': it holds tasks of its own",
					 cg_name(cg), value);
		break;
	case -EOPNOTSUPP:
		/* v2: no threaded child under a cgroup that distributes a domain controller. */
		if (f == F_TYPE && cg->parent && cg->parent->fd >= 0) {
			_cleanup_free_ char *ctl = NULL;

			if (read_at(cg->parent->fd, file_names[F_SUBTREE], MAX_FILE, &ctl) == 0)
				return tmap_error_set(err, r,
						 "cannot make '%s' threaded: '%s' enables '%s' in cgroup.subtree_control, and only threaded controllers (cpuset, cpu, pids) may be",
						 cg_name(cg), cg_name(cg->parent), ctl);
		}
		break;
	case -EACCES:
	case -EPERM:
		if (outside_parent(st, cg, f, value, r, err))
			return r;
		return tmap_error_set(err, r, "cannot write %s of '%s': permission denied", file,
				 cg_name(cg));
	}
	return tmap_error_set(err, r, "cannot write '%s' to %s of '%s': %s", value, file, cg_name(cg),
			 strerror(-r));
}

/* Announce one write, and make it unless this is a dry run. */
static int
cg_write(struct state *st, struct cgroup *cg, enum file f, const char *value,
	 struct tmap_journal *j, struct tmap_error *err)
{
	_cleanup_close_ int fd = -1;
	/* cgroupfs takes an empty write as nothing at all; a newline is an empty value. */
	const char *data = value[0] ? value : "\n";
	size_t len = strlen(data);
	char *copy = strdup(value);
	ssize_t n;

	if (!copy)
		return -ENOMEM;
	free(cg->pending[f]);
	cg->pending[f] = copy;
	if (!tmap_journal_write(j, "write '%s' to %s/%s", value, cg->path, file_names[f]))
		return 0;
	if (cg->fd < 0)
		return tmap_error_set(err, -ENOENT, "cgroup '%s' does not exist", cg_name(cg));
	fd = openat(cg->fd, file_names[f], O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return write_refused(st, cg, f, value, -errno, err);
	do
		n = write(fd, data, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return write_refused(st, cg, f, value, -errno, err);
	if ((size_t)n != len)
		return write_refused(st, cg, f, value, -EIO, err);
	return 0;
}

/* Write unless this transaction already wrote the same value there. */
static int
cg_write_once(struct state *st, struct cgroup *cg, enum file f, const char *value,
	      struct tmap_journal *j, struct tmap_error *err)
{
	if (cg->pending[f] && streq(cg->pending[f], value))
		return 0;
	return cg_write(st, cg, f, value, j, err);
}

/* What a file holds at this point of the transaction, the dry run's writes included. */
static int
current(struct cgroup *cg, enum file f, char **ret)
{
	if (cg->pending[f])
		*ret = strdup(cg->pending[f]);
	else if (cg->fd >= 0)
		return read_at(cg->fd, file_names[f], MAX_FILE, ret);
	else
		*ret = strdup(""); /* a cgroup a dry run would make starts empty */
	return *ret ? 0 : -ENOMEM;
}

static int
cg_mkdir(struct cgroup *cg, struct tmap_journal *j, struct tmap_error *err)
{
	const char *name = strrchr(cg->rel, '/');
	int r;

	name = name ? name + 1 : cg->rel;
	cg->made = true;
	if (!tmap_journal_write(j, "create cgroup %s", cg->path))
		return 0;
	if (cg->parent->fd < 0)
		return tmap_error_set(err, -ENOENT, "cgroup '%s' does not exist", cg_name(cg->parent));
	if (mkdirat(cg->parent->fd, name, 0755) < 0) {
		/* Someone made it since open(): it is theirs, not ours to remove. */
		if (errno != EEXIST)
			return tmap_error_set(err, -errno, "cannot create cgroup '%s': %s", cg->rel,
					 strerror(errno));
	} else {
		cg->created = true;
	}
	r = cgpath_open_beneath(cg->parent->fd, name, true);
	if (r < 0)
		return tmap_error_set(err, r, "cannot open cgroup '%s': %s", cg->rel, strerror(-r));
	cg->fd = r;
	return 0;
}

static bool
cg_exists(const struct cgroup *cg)
{
	return cg->fd >= 0 || cg->made;
}

/* v2: a controller in a cgroup's subtree_control, so that its children get its files. */
static int
enable_controller(struct state *st, struct cgroup *cg, const char *controller,
		  struct tmap_journal *j, struct tmap_error *err)
{
	_cleanup_free_ char *now = NULL, *value = NULL;
	int r;

	/* Already added by this transaction (in a dry run, the file does not show it). */
	if (streq(controller, "cpu") ? cg->added_cpu : cg->added_cpuset)
		return 0;
	if (cg->fd >= 0) {
		r = read_at(cg->fd, file_names[F_SUBTREE], MAX_FILE, &now);
		if (r < 0)
			return tmap_error_set(err, r, "cannot read %s of '%s': %s",
					 file_names[F_SUBTREE], cg_name(cg), strerror(-r));
		if (has_word(now, controller, " "))
			return 0;
	}
	if (!st->create)
		return tmap_error_set(err, -ENOENT,
				 "%s controller is not enabled under '%s' (use --create)", controller,
				 cg_name(cg));
	if (asprintf(&value, "+%s", controller) < 0)
		return -ENOMEM;
	r = cg_write(st, cg, F_SUBTREE, value, j, err);
	if (r < 0)
		return r;
	if (streq(controller, "cpu"))
		cg->added_cpu = true;
	else
		cg->added_cpuset = true;
	return 0;
}

/*
 * v1: a new cpuset is empty, and no child fits in an empty parent: a cgroup made on the way
 * to the target starts with its parent's sets. The target itself needs no seed: it gets its
 * final sets next, memory nodes first, before any task can be in it.
 */
static int
seed(struct state *st, struct cgroup *cg, struct tmap_journal *j, struct tmap_error *err)
{
	static const enum file order[] = {F_MEMS, F_CPUS};

	for (size_t i = 0; i < 2; i++) {
		_cleanup_free_ char *value = NULL;
		int r = current(cg->parent, order[i], &value);

		if (r < 0)
			return tmap_error_set(err, r, "cannot read %s of '%s': %s",
					 file_names[order[i]], cg_name(cg->parent), strerror(-r));
		r = cg_write(st, cg, order[i], value, j, err);
		if (r < 0)
			return r;
	}
	return 0;
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

/* v1: cputune's values as they are, in the cpu hierarchy at the same path. */
static int
write_qos_v1(struct state *st, uint64_t shares, uint64_t period, int64_t quota,
	     struct tmap_journal *j, struct tmap_error *err)
{
	struct cgroup *ct = &st->cpu_chain[st->depth];
	char value[32];
	int r = 0;

	if (shares) {
		snprintf(value, sizeof(value), "%" PRIu64, shares);
		r = cg_write(st, ct, F_SHARES, value, j, err);
	}
	if (r == 0 && period) {
		snprintf(value, sizeof(value), "%" PRIu64, period);
		r = cg_write(st, ct, F_PERIOD, value, j, err);
	}
	if (r == 0 && quota) {
		snprintf(value, sizeof(value), "%" PRId64, quota < 0 ? -1 : quota);
		r = cg_write(st, ct, F_QUOTA, value, j, err);
	}
	return r;
}

/*
 * v1 shares 2..262144 (default 1024) onto v2 weight 1..10000 (default 100), linearly, as
 * systemd and crun map them: weight = 1 + (shares - 2) * 9999 / 262142. 1024 gives 39, not
 * 100: the two scales do not share a default.
 */
static uint64_t
shares_to_weight(uint64_t shares)
{
	return 1 + ((shares - 2) * 9999) / 262142;
}

/* The two halves of v2's cpu.max, "QUOTA PERIOD"; QUOTA is "max" for no limit. */
struct cpu_max {
	char quota[32];
	char period[32];
};

/*
 * cpu.max as the plan's quota (0: unset, < 0: no limit) and period (0: unset) make it over
 * now, what the file holds (NULL: not there yet, QUOTA "max" and no PERIOD): a half the plan
 * leaves unset stays what it is. apply writes it and verify compares with it, so that they
 * cannot disagree. -EPROTO when now is not "QUOTA PERIOD".
 */
static int
cpu_max_wanted(int64_t quota, uint64_t period, const char *now, struct cpu_max *ret)
{
	struct cpu_max m = {"max", ""};

	if (now && sscanf(now, "%31s %31s", m.quota, m.period) != 2)
		return -EPROTO;
	if (quota > 0)
		snprintf(m.quota, sizeof(m.quota), "%" PRId64, quota);
	else if (quota < 0)
		snprintf(m.quota, sizeof(m.quota), "max");
	if (period)
		snprintf(m.period, sizeof(m.period), "%" PRIu64, period);
	*ret = m;
	return 0;
}

/* v2: the same, converted to cpu.weight and cpu.max. */
static int
write_qos_v2(struct state *st, uint64_t shares, uint64_t period, int64_t quota,
	     struct tmap_journal *j, struct tmap_error *err)
{
	struct cgroup *t = &st->chain[st->depth];
	_cleanup_free_ char *now = NULL;
	struct cpu_max m;
	char value[80];
	int r;

	if (shares) {
		snprintf(value, sizeof(value), "%" PRIu64, shares_to_weight(shares));
		r = cg_write(st, t, F_WEIGHT, value, j, err);
		if (r < 0)
			return r;
	}
	if (!period && !quota)
		return 0;
	/* A period without a quota keeps the quota there is, so read it. */
	if (period && !quota) {
		r = current(t, F_MAX, &now);
		/* Not there yet: a dry run that only announced "+cpu" above, or that makes the
		 * cgroup. */
		if (r < 0 && r != -ENOENT)
			return tmap_error_set(err, r, "cannot read cpu.max of '%s': %s", t->rel,
					 strerror(-r));
		if (r < 0 || !now[0]) {
			free(now);
			now = NULL;
		}
	}
	if (cpu_max_wanted(quota, period, now, &m) < 0)
		return tmap_error_set(err, -EPROTO, "cpu.max of '%s': '%s' is not 'QUOTA PERIOD'",
				 t->rel, now);
	/* A quota without a period is written alone: the kernel keeps the period there is. */
	if (!period)
		return cg_write(st, t, F_MAX, m.quota, j, err);
	snprintf(value, sizeof(value), "%s %s", m.quota, m.period);
	return cg_write(st, t, F_MAX, value, j, err);
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
	if (st->libvirt)
		return want_children(st, plan, guest, &g->children, &g->nchildren, err);
	return 0;
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
	struct guest_sets g;
	int r;

	/* Everything that can be refused without writing is refused first (check() did). */
	r = preflight(userdata, plan, guest, &g, err);
	if (r == 0)
		r = apply_guest(userdata, &g, j, err);
	free(g.children);
	return r;
}

/* ---------------------------------------------------------------------------------------- */
/* Reading back */

static int
observe_task(int tid, enum tmap_task_role role, unsigned index, struct tmap_observed *obs,
	     struct tmap_error *err)
{
	_cleanup_free_ char *status = NULL, *cpus = NULL, *mems = NULL;
	char path[64];
	int r;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", tid, tid);
	r = read_at(AT_FDCWD, path, MAX_FILE, &status);
	/* It exited between the listing and now. */
	if (r == -ENOENT || r == -ESRCH)
		return 0;
	if (r < 0)
		return tmap_error_set(err, r, "cannot read %s: %s", path, strerror(-r));
	r = status_field(status, "Cpus_allowed_list", &cpus);
	if (r == -ENOENT)
		return tmap_error_set(err, -EBADMSG, "%s has no Cpus_allowed_list", path);
	if (r < 0 || status_field(status, "Mems_allowed_list", &mems) == -ENOMEM)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	r = tmap_observed_task(obs, tid, role, index, cpus, mems);
	if (r < 0)
		return tmap_error_set(err, r, "task %d: cannot record '%s' / '%s'", tid, cpus,
				 mems ? mems : "");
	return 0;
}

/*
 * Every task in a cgroup and below it, each with the role of the libvirt child it sits in
 * (top is true at the target, where the children are told apart by name).
 */
static int
observe_tasks(struct state *st, int dirfd, const char *rel, enum tmap_task_role role,
	      unsigned index, unsigned depth, struct tmap_observed *obs, struct tmap_error *err)
{
	_cleanup_free_ char *list = NULL;
	const char *listfile = st->h.v2 ? "cgroup.threads" : "tasks";
	struct dirent *de;
	DIR *dir;
	int fd, r;

	r = read_at(dirfd, listfile, MAX_TASK_LIST, &list);
	if (r < 0)
		return tmap_error_set(err, r, "cannot read %s of '%s': %s", listfile, rel,
				 strerror(-r));
	for (char *p = list, *end; *p; p = end) {
		long tid;

		errno = 0;
		tid = strtol(p, &end, 10);
		if (errno || end == p || tid <= 0 || tid > INT_MAX || (*end && *end != '\n'))
			return tmap_error_set(err, -EBADMSG, "%s of '%s' holds '%.*s', not a task id",
					 listfile, rel, (int)strcspn(p, "\n"), p);
		end += *end == '\n';
		r = observe_task((int)tid, role, index, obs, err);
		if (r < 0)
			return r;
	}
	if (depth >= MAX_TASK_DEPTH)
		return 0;
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return tmap_error_set(err, -errno, "cannot list cgroup '%s': %s", rel, strerror(errno));
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -ENOMEM;
	}
	r = 0;
	while (r == 0 && (de = readdir(dir))) {
		enum tmap_task_role sub_role = role;
		unsigned sub_index = index;
		_cleanup_free_ char *sub_rel = NULL;
		_cleanup_close_ int sub = -1;

		if (de->d_type != DT_DIR || streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (depth == 0 && st->libvirt &&
		    !parse_child_name(de->d_name, &sub_role, &sub_index)) {
			sub_role = TMAP_TASK_ANY;
			sub_index = 0;
		}
		if (asprintf(&sub_rel, "%s/%s", rel, de->d_name) < 0) {
			sub_rel = NULL;
			r = -ENOMEM;
			break;
		}
		sub = cgpath_open_beneath(dirfd, de->d_name, true);
		if (sub == -ENOENT)
			continue; /* removed since the listing */
		if (sub < 0) {
			r = tmap_error_set(err, sub, "cannot open cgroup '%s': %s", sub_rel,
				      strerror(-sub));
			break;
		}
		r = observe_tasks(st, sub, sub_rel, sub_role, sub_index, depth + 1, obs, err);
	}
	closedir(dir);
	return r;
}

static int
observe_set(struct state *st, struct cgroup *cg, enum tmap_observed_kind kind, unsigned index,
	    enum file f, struct tmap_observed *obs, struct tmap_error *err)
{
	_cleanup_free_ char *value = NULL;
	char file[64], where[PATH_MAX + 96];
	int r;

	/* v2 keeps what was written and what is in force apart; the latter is the truth. */
	snprintf(file, sizeof(file), "%s%s", file_names[f], st->h.v2 ? ".effective" : "");
	if (cg->fd < 0) {
		snprintf(where, sizeof(where), "%s of missing cgroup '%s'", file, cg->rel);
		r = tmap_observed_set(obs, kind, index, "", where);
		return r < 0 ? tmap_error_set(err, r, "cannot record %s", where) : 0;
	}
	r = read_at(cg->fd, file, MAX_FILE, &value);
	if (r < 0)
		return tmap_error_set(err, r, "cannot read %s of '%s': %s", file, cg->rel,
				 strerror(-r));
	snprintf(where, sizeof(where), "%s of '%s'", file, cg->rel);
	r = tmap_observed_set(obs, kind, index, value, where);
	if (r < 0)
		return tmap_error_set(err, r, "%s: cannot record '%s'", where, value);
	return 0;
}

/* A QoS file as it is now, without its newline. */
static int
read_value(struct cgroup *cg, enum file f, char **ret, struct tmap_error *err)
{
	int r = cg->fd < 0 ? -ENOENT : read_at(cg->fd, file_names[f], MAX_FILE, ret);

	if (r < 0)
		return tmap_error_set(err, r, "cannot read %s of '%s': %s", file_names[f], cg->rel,
				 strerror(-r));
	(*ret)[strcspn(*ret, "\n")] = '\0';
	return 0;
}

/* One QoS file against what the plan's value becomes in it; a difference is drift. */
static int
compare_value(struct cgroup *cg, enum file f, const char *now, const char *want,
	      struct tmap_observed *obs, struct tmap_error *err)
{
	int r;

	if (streq(now, want))
		return 0;
	r = tmap_observed_drift(obs, "%s of '%s' is '%s', the plan says '%s'", file_names[f],
				cg->rel, now, want);
	return r < 0 ? tmap_error_set(err, r, "out of memory") : 0;
}

static int
observe_value(struct cgroup *cg, enum file f, const char *want, struct tmap_observed *obs,
	      struct tmap_error *err)
{
	_cleanup_free_ char *now = NULL;
	int r = read_value(cg, f, &now, err);

	return r < 0 ? r : compare_value(cg, f, now, want, obs, err);
}

/* The plan's cputune as the files hold it: v1 as it is, v2 as cpu.weight and cpu.max. */
static int
observe_qos(struct state *st, const struct tmap_plan *plan, size_t guest,
	    struct tmap_observed *obs, struct tmap_error *err)
{
	uint64_t shares = 0, period = 0;
	int64_t quota = 0;
	char want[64];
	int r = 0;

	tmap_plan_qos(plan, guest, &shares, &period, &quota);
	if (!st->h.v2) {
		struct cgroup *ct = &st->cpu_chain[st->depth];

		if (shares) {
			snprintf(want, sizeof(want), "%" PRIu64, shares);
			r = observe_value(ct, F_SHARES, want, obs, err);
		}
		if (r == 0 && period) {
			snprintf(want, sizeof(want), "%" PRIu64, period);
			r = observe_value(ct, F_PERIOD, want, obs, err);
		}
		if (r == 0 && quota) {
			snprintf(want, sizeof(want), "%" PRId64, quota < 0 ? -1 : quota);
			r = observe_value(ct, F_QUOTA, want, obs, err);
		}
		return r;
	}
	if (shares) {
		snprintf(want, sizeof(want), "%" PRIu64, shares_to_weight(shares));
		r = observe_value(&st->chain[st->depth], F_WEIGHT, want, obs, err);
	}
	if (r == 0 && (period || quota)) {
		struct cgroup *t = &st->chain[st->depth];
		_cleanup_free_ char *now = NULL;
		struct cpu_max m;

		r = read_value(t, F_MAX, &now, err);
		if (r < 0)
			return r;
		if (cpu_max_wanted(quota, period, now, &m) < 0)
			return tmap_error_set(err, -EPROTO, "cpu.max of '%s': '%s' is not 'QUOTA PERIOD'",
					 t->rel, now);
		snprintf(want, sizeof(want), "%s %s", m.quota, m.period);
		r = compare_value(t, F_MAX, now, want, obs, err);
	}
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
		if (r < 0)
			return r;
	}
	return observe_tasks(st, t->fd, t->rel, TMAP_TASK_ANY, 0, 0, obs, err);
}

/* ---------------------------------------------------------------------------------------- */
/* Restoring */

/* Put a captured file back, if it was there and changed. */
static int
put_back(struct state *st, struct cgroup *cg, enum file f, struct tmap_journal *j,
	 struct tmap_error *err)
{
	_cleanup_free_ char *now = NULL;

	if (!cg->saved[f] || cg->fd < 0)
		return 0;
	if (read_at(cg->fd, file_names[f], MAX_FILE, &now) == 0 && streq(now, cg->saved[f]))
		return 0;
	return cg_write(st, cg, f, cg->saved[f], j, err);
}

static int
cg_rmdir(struct cgroup *cg, struct tmap_journal *j, struct tmap_error *err)
{
	const char *name = strrchr(cg->rel, '/');

	if (!cg->created)
		return 0;
	name = name ? name + 1 : cg->rel;
	if (!tmap_journal_write(j, "remove cgroup %s", cg->path))
		return 0;
	if (unlinkat(cg->parent->fd, name, AT_REMOVEDIR) < 0)
		return tmap_error_set(err, -errno, "cannot remove cgroup '%s': %s", cg->rel,
				 strerror(errno));
	close(cg->fd);
	cg->fd = -1;
	cg->created = false;
	return 0;
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
