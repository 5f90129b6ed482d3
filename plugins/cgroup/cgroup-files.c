/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The cgroup backend's files: each read and write of a cgroup file, below its cgroup's
 * directory fd, with the refusals the kernel gives turned into messages that say why; the
 * cgroups apply() makes and restore() removes.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "cgroup-backend.h"

const char *const file_names[N_FILES] = {
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

/* Read at most max bytes of a file below dirfd, without the trailing newline. */
int
read_at(int dirfd, const char *name, size_t max, char **ret)
{
	size_t len = 0;
	int r = read_file_at(dirfd, name, max, ret, &len);

	if (r == 0 && len > 0 && (*ret)[len - 1] == '\n')
		(*ret)[len - 1] = '\0';
	return r;
}

/* What a message calls a cgroup. */
const char *
cg_name(const struct cgroup *cg)
{
	return cg->rel[0] ? cg->rel : "/";
}

int
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
int
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
int
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
int
cg_write_once(struct state *st, struct cgroup *cg, enum file f, const char *value,
	      struct tmap_journal *j, struct tmap_error *err)
{
	if (cg->pending[f] && streq(cg->pending[f], value))
		return 0;
	return cg_write(st, cg, f, value, j, err);
}

/* What a file holds at this point of the transaction, the dry run's writes included. */
int
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

int
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

bool
cg_exists(const struct cgroup *cg)
{
	return cg->fd >= 0 || cg->made;
}

/* v2: a controller in a cgroup's subtree_control, so that its children get its files. */
int
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
int
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

/* ---------------------------------------------------------------------------------------- */
/* Restoring */

/* Put a captured file back, if it was there and changed. */
int
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

int
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
