/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cgroup v1: the tasks of the root cpuset cgroup kept off the dedicated PUs (issue 15). The
 * root cgroup's cpuset.cpus cannot be written, so pid 1, kthreadd's movable threads and every
 * daemon that sits in no child cpuset would stay on the guests' PUs. Each of them gets an
 * affinity (sched_setaffinity) that is what it allowed of the host's PUs (housekeeping and
 * shared), as tuna --isolate does, rather than being moved into a cpuset of topomap's: their
 * cgroup stays where it is, which matters to the daemons (libvirtd on a host without systemd
 * makes its machine cgroups below its own), and a task forked from a narrowed one inherits
 * the narrowed mask, as a child of a narrowed cgroup would.
 *
 * Each change is a task's directory (PROC/PID/task/TID) with the mask that undoes it and the
 * task's start time, so that a put back never widens another task that took the same tid.
 * Left alone: the kernel's threads that cannot move (PF_NO_SETAFFINITY, kthreadd's per-CPU
 * children), and a task pinned inside the dedicated PUs only (a guest's thread, or one pinned
 * there by hand, which verify names), as the IRQs a guest holds are left to it.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>

#include "../common/procfs.h"
#include "internal.h"

#define PF_KTHREAD 0x00200000u
#define PF_NO_SETAFFINITY 0x04000000u
#define KTHREADD_PID 2
#define TASKS_FILE_MAX (16u << 20)
/* A task forked while the others were narrowed may have copied a wide mask: look again. */
#define PASSES 4

struct task_info {
	pid_t tgid, ppid;
	unsigned long long flags, start;
	char comm[64];
};

static int
task_info(const char *proc_root, pid_t tid, struct task_info *ret)
{
	_cleanup_free_ char *stat = NULL, *status = NULL, *tgid = NULL, *name = NULL;
	unsigned long long ppid = 0;
	char path[4200];
	int r;

	snprintf(path, sizeof(path), "%s/%d/stat", proc_root, (int)tid);
	r = read_file_at(AT_FDCWD, path, 1u << 16, &stat, NULL);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "%s/%d/status", proc_root, (int)tid);
	r = read_file_at(AT_FDCWD, path, 1u << 20, &status, NULL);
	if (r < 0)
		return r;
	*ret = (struct task_info){0};
	if (stat_field(stat, 4, &ppid) < 0 || stat_field(stat, 9, &ret->flags) < 0 ||
	    stat_field(stat, 22, &ret->start) < 0 || status_field(status, "Tgid", &tgid) < 0)
		return -EBADMSG;
	if (status_field(status, "Name", &name) == 0)
		snprintf(ret->comm, sizeof(ret->comm), "%s", name);
	ret->tgid = (pid_t)atoi(tgid);
	ret->ppid = (pid_t)ppid;
	return 0;
}

/* The task's allowed PUs (sched_getaffinity) into a new bitmap. */
static int
get_affinity(pid_t tid, hwloc_bitmap_t *ret)
{
	int ncpus = 1024;

	for (;;) {
		size_t size = CPU_ALLOC_SIZE(ncpus);
		cpu_set_t *set = CPU_ALLOC(ncpus);
		hwloc_bitmap_t b;

		if (!set)
			return -ENOMEM;
		if (sched_getaffinity(tid, size, set) < 0) {
			int r = -errno;

			CPU_FREE(set);
			if (r == -EINVAL && ncpus < (1 << 20)) {
				ncpus *= 2;
				continue;
			}
			return r;
		}
		b = hwloc_bitmap_alloc();
		if (!b) {
			CPU_FREE(set);
			return -ENOMEM;
		}
		for (int i = 0; i < ncpus; i++)
			if (CPU_ISSET_S(i, size, set))
				hwloc_bitmap_set(b, (unsigned)i);
		CPU_FREE(set);
		*ret = b;
		return 0;
	}
}

static int
set_affinity(pid_t tid, hwloc_const_bitmap_t want)
{
	int last = hwloc_bitmap_last(want);
	size_t size;
	cpu_set_t *set;
	int i, r = 0;

	if (last < 0)
		return -EINVAL;
	set = CPU_ALLOC(last + 1);
	if (!set)
		return -ENOMEM;
	size = CPU_ALLOC_SIZE(last + 1);
	CPU_ZERO_S(size, set);
	hwloc_bitmap_foreach_begin(i, want)
		CPU_SET_S((unsigned)i, size, set);
	hwloc_bitmap_foreach_end();
	if (sched_setaffinity(tid, size, set) < 0)
		r = -errno;
	CPU_FREE(set);
	return r;
}

/* The last "/task/" of path, or NULL. */
static const char *
last_task(const char *path)
{
	const char *last = NULL;

	for (const char *t = path ? strstr(path, "/task/") : NULL; t; t = strstr(t + 1, "/task/"))
		last = t;
	return last;
}

bool
task_change_path(const char *path, pid_t *ret_tid)
{
	const char *last = last_task(path);

	/* "/task/N" at the end of the path, N all digits. */
	if (!last || !last[6] || strspn(last + 6, "0123456789") != strlen(last + 6))
		return false;
	if (ret_tid)
		*ret_tid = (pid_t)atoi(last + 6);
	return true;
}

int
task_put_back(const char *path, unsigned long long start, const char *list)
{
	_cleanup_bitmap_ hwloc_bitmap_t want = NULL;
	_cleanup_free_ char *stat = NULL, *file = NULL;
	unsigned long long now = 0;
	pid_t tid;
	int r;

	if (!task_change_path(path, &tid) || bitmap_parse_trimmed(list, &want) < 0)
		return -EINVAL;
	if (asprintf(&file, "%s/stat", path) < 0)
		return -ENOMEM;
	/* A task that ended has nothing to put back; one that took its tid is another task. */
	r = read_file_at(AT_FDCWD, file, 1u << 16, &stat, NULL);
	if (r == -ENOENT || r == -ESRCH)
		return 0;
	if (r < 0)
		return r;
	if (start && (stat_field(stat, 22, &now) < 0 || now != start))
		return 0;
	r = set_affinity(tid, want);
	return r == -ESRCH ? 0 : r;
}

/* The tids the root cgroup's tasks file lists, or none when it has no such file. */
static int
root_tids(const char *cgroup_root, pid_t **ret, size_t *ret_n)
{
	_cleanup_free_ char *text = NULL, *file = NULL;
	pid_t *tids = NULL;
	size_t n = 0, size = 0;
	int r;

	*ret = NULL;
	*ret_n = 0;
	if (asprintf(&file, "%s/tasks", cgroup_root) < 0)
		return -ENOMEM;
	r = read_file_at(AT_FDCWD, file, TASKS_FILE_MAX, &text, NULL);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	for (char *line = text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (!*line || strspn(line, "0123456789") != strlen(line))
			continue;
		if (n == size) {
			pid_t *bigger = realloc(tids, (size = size ? 2 * size : 256) * sizeof(*tids));

			if (!bigger) {
				free(tids);
				return -ENOMEM;
			}
			tids = bigger;
		}
		tids[n++] = (pid_t)atoi(line);
	}
	*ret = tids;
	*ret_n = n;
	return 0;
}

/* Narrow one task; 1 when it was changed, 0 when left, < 0 on failure. */
static int
narrow_task(const struct task_narrowing *tn, pid_t tid, struct tmap_error *err)
{
	_cleanup_bitmap_ hwloc_bitmap_t cur = NULL, want = NULL, back = NULL;
	_cleanup_free_ char *old = NULL, *value = NULL, *path = NULL;
	struct task_info info;
	int r;

	r = task_info(tn->proc_root, tid, &info);
	if (r < 0)
		return 0; /* ended meanwhile, or another proc than the real one */
	if ((info.flags & PF_KTHREAD) && (info.flags & PF_NO_SETAFFINITY))
		return 0;
	r = get_affinity(tid, &cur);
	if (r == -ESRCH)
		return 0;
	if (r < 0)
		return tmap_error_set(err, r, "cannot read the affinity of task %d: %s", (int)tid,
				      strerror(-r));
	if (!hwloc_bitmap_intersects(cur, tn->dedicated) || hwloc_bitmap_isincluded(cur, tn->dedicated))
		return 0;
	if ((info.flags & PF_KTHREAD) && info.ppid == KTHREADD_PID && hwloc_bitmap_weight(cur) == 1)
		return 0;
	want = hwloc_bitmap_alloc();
	if (!want)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	hwloc_bitmap_and(want, cur, tn->host);
	if (hwloc_bitmap_iszero(want))
		hwloc_bitmap_copy(want, tn->host);
	old = bitmap_list(cur);
	value = bitmap_list(want);
	if (!old || !value || asprintf(&path, "%s/%d/task/%d", tn->proc_root, (int)info.tgid,
				       (int)tid) < 0)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	r = set_affinity(tid, want);
	if (r == -ESRCH)
		return 0;
	if (r == -EINVAL) {
		r = tn->refuse(tn->data, tid, info.comm, old, "the kernel keeps it on");
		return r < 0 ? tmap_error_set(err, r, "out of memory") : 0;
	}
	if (r < 0)
		return tmap_error_set(err, r, "cannot set the affinity of task %d (%s) to %s: %s",
				      (int)tid, info.comm, value, strerror(-r));
	/* Read back. A task that changed meanwhile (moved into a cgroup, which set its mask, or
	 * set its own) is its own again: said, not recorded, not put back later. */
	r = get_affinity(tid, &back);
	if (r == -ESRCH)
		return 0;
	if (r < 0)
		return tmap_error_set(err, r, "cannot read the affinity of task %d back: %s",
				      (int)tid, strerror(-r));
	if (!hwloc_bitmap_isequal(back, want)) {
		_cleanup_free_ char *got = bitmap_list(back);

		r = tn->refuse(tn->data, tid, info.comm, got ? got : "?",
			       "it changed meanwhile (moved to a cgroup, or set its own) and is allowed on");
		return r < 0 ? tmap_error_set(err, r, "out of memory") : 0;
	}
	r = tn->record(tn->data, path, info.start, old, value, err);
	if (r < 0) {
		set_affinity(tid, cur);
		return r;
	}
	return 1;
}

int
tasks_narrow(const struct task_narrowing *tn, struct tmap_error *err)
{
	for (unsigned pass = 0; pass < PASSES; pass++) {
		_cleanup_free_ pid_t *tids = NULL;
		size_t n = 0, changed = 0;
		int r = root_tids(tn->cgroup_root, &tids, &n);

		if (r < 0)
			return tmap_error_set(err, r, "cannot read %s/tasks: %s", tn->cgroup_root,
					      strerror(-r));
		for (size_t i = 0; i < n; i++) {
			r = narrow_task(tn, tids[i], err);
			if (r < 0)
				return r;
			changed += (size_t)r;
		}
		if (!changed)
			break;
	}
	return 0;
}

struct known {
	pid_t tid;
	const char *restore, *value;
};

struct candidate {
	pid_t tid, source;
	unsigned long long start;
};

static int
cmp_start(const void *a, const void *b)
{
	const struct candidate *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static const struct known *
find_known(const struct known *k, size_t n, pid_t tid)
{
	for (size_t i = 0; i < n; i++)
		if (k[i].tid == tid)
			return &k[i];
	return NULL;
}

/* Every task started after `since` that is not among the known, with its source: the leader of
 * its process for a thread, else its parent. */
static int
candidates(const char *proc_root, unsigned long long since, const struct known *k, size_t nk,
	   struct candidate **ret, size_t *ret_n)
{
	struct candidate *c = NULL;
	size_t n = 0, size = 0;
	struct dirent *de;
	DIR *d = opendir(proc_root);

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char path[4200];
		struct dirent *te;
		DIR *td;

		if (strspn(de->d_name, "0123456789") != strlen(de->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s/task", proc_root, de->d_name);
		if (!(td = opendir(path)))
			continue;
		while ((te = readdir(td))) {
			struct task_info info;
			pid_t tid = (pid_t)atoi(te->d_name);

			if (te->d_name[0] < '1' || te->d_name[0] > '9' || find_known(k, nk, tid) ||
			    task_info(proc_root, tid, &info) < 0 || info.start <= since)
				continue;
			if (n == size) {
				struct candidate *bigger = realloc(c, (size = size ? 2 * size : 64) *
									  sizeof(*c));

				if (!bigger) {
					closedir(td);
					closedir(d);
					free(c);
					return -ENOMEM;
				}
				c = bigger;
			}
			c[n++] = (struct candidate){tid, tid != info.tgid ? info.tgid : info.ppid,
						    info.start};
		}
		closedir(td);
	}
	closedir(d);
	qsort(c, n, sizeof(*c), cmp_start);
	*ret = c;
	*ret_n = n;
	return 0;
}

int
tasks_widen_inherited(const char *const *paths, const char *const *restores,
		      const char *const *values, const unsigned long long *starts, size_t n)
{
	_cleanup_free_ struct known *k = calloc(n + 1, sizeof(*k));
	_cleanup_free_ struct candidate *c = NULL;
	_cleanup_free_ char *proc_root = NULL;
	unsigned long long since = 0;
	size_t nk = 0, nc = 0;
	int r;

	if (!k)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *task;
		pid_t tid;

		if (!task_change_path(paths[i], &tid))
			continue;
		k[nk++] = (struct known){tid, restores[i], values[i]};
		if (starts && starts[i] > since)
			since = starts[i];
		/* PROC/PID/task/TID: PROC, the same for every task change. */
		task = last_task(paths[i]);
		while (!proc_root && task > paths[i] && task[-1] != '/')
			task--;
		if (!proc_root && task > paths[i] + 1 &&
		    !(proc_root = strndup(paths[i], (size_t)(task - 1 - paths[i]))))
			return -ENOMEM;
	}
	if (!nk || !since || !proc_root)
		return 0;
	r = candidates(proc_root, since, k, nk, &c, &nc);
	if (r < 0)
		return r;
	for (size_t i = 0; i < nc; i++) {
		_cleanup_bitmap_ hwloc_bitmap_t cur = NULL, want = NULL, was = NULL;
		const struct known *src = find_known(k, nk, c[i].source);
		struct known *grown;

		if (!src || get_affinity(c[i].tid, &cur) < 0 ||
		    bitmap_parse_trimmed(src->value, &was) < 0 || !hwloc_bitmap_isequal(cur, was) ||
		    bitmap_parse_trimmed(src->restore, &want) < 0)
			continue;
		if (set_affinity(c[i].tid, want) < 0)
			continue;
		/* Its own children inherited from it (src moves with the array). */
		struct known inherited = {c[i].tid, src->restore, src->value};

		grown = realloc(k, (nk + 1) * sizeof(*k));
		if (!grown)
			return -ENOMEM;
		k = grown;
		k[nk++] = inherited;
	}
	return 0;
}
