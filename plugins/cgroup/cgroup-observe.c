/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The cgroup backend reads back: each cgroup's sets, and what the kernel enforces on every
 * task in it and below it (its Cpus_allowed_list and Mems_allowed_list).
 */
#include "cgroup-backend.h"

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
int
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

int
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
