/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The host's tasks as the kernel lists them (/proc/PID/task/TID), and which of them may run on
 * PUs that a dedicated guest holds: the intruders. A task belongs to a guest when it sits in
 * the guest's cgroup (or below it) or in the guest's process; every other task whose allowed
 * set meets the guest's PUs is an intruder, except the kernel's per-CPU threads, which cannot
 * move and are listed apart.
 */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>

#include "../common/procfs.h"
#include "internal.h"

/* PF_KTHREAD and PF_NO_SETAFFINITY of <linux/sched.h>, as /proc/PID/stat prints them. */
#define PF_KTHREAD 0x00200000u
#define PF_NO_SETAFFINITY 0x04000000u
/* kthreadd's pid: its children are the kernel's threads. */
#define KTHREADD_PID 2
#define PROC_FILE_MAX (1u << 20)

struct task {
	pid_t pid, tid, ppid;
	unsigned long long flags; /* the kernel's PF_* flags */
	char *comm;
	char *cgroup;		/* the cpuset controller's path (v1), or the unified one (v2) */
	char *cpus;		/* Cpus_allowed_list */
	hwloc_bitmap_t allowed;
};

struct tmap_tasks {
	size_t n, size;
	struct task *task;
};

static void
task_clear(struct task *t)
{
	free(t->comm);
	free(t->cgroup);
	free(t->cpus);
	if (t->allowed)
		hwloc_bitmap_free(t->allowed);
	*t = (struct task){0};
}

struct tmap_tasks *
tmap_tasks_free(struct tmap_tasks *tasks)
{
	if (!tasks)
		return NULL;
	for (size_t i = 0; i < tasks->n; i++)
		task_clear(&tasks->task[i]);
	free(tasks->task);
	free(tasks);
	return NULL;
}

static void
tmap_tasks_freep(struct tmap_tasks **p)
{
	tmap_tasks_free(*p);
}

/* A process's cgroup: the line of the cpuset controller (v1, "4:cpuset:/a/b"), else the
 * unified hierarchy's ("0::/a/b"). NULL in *ret when neither is there. */
static int
cgroup_of(const char *text, char **ret)
{
	const char *unified = NULL, *v1 = NULL;

	for (const char *line = text; line && *line;) {
		const char *colon = strchr(line, ':');
		const char *nl = strchr(line, '\n');
		const char *ctrl = colon ? colon + 1 : NULL;
		const char *path = ctrl ? strchr(ctrl, ':') : NULL;

		if (path && (!nl || path < nl)) {
			size_t clen = (size_t)(path - ctrl);

			if (clen == 0 && strncmp(line, "0:", 2) == 0)
				unified = path + 1;
			/* "cpuset" alone or among others ("cpu,cpuset"). */
			for (const char *c = ctrl; c < path;) {
				const char *comma = memchr(c, ',', (size_t)(path - c));
				const char *end = comma ? comma : path;

				if (end - c == 6 && strncmp(c, "cpuset", 6) == 0)
					v1 = path + 1;
				c = end + 1;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	*ret = NULL;
	if (v1 || unified) {
		const char *p = v1 ? v1 : unified;

		*ret = strndup(p, strcspn(p, "\n"));
		if (!*ret)
			return -ENOMEM;
	}
	return 0;
}

/* Read one task; -ENOENT or -ESRCH for a task that ended meanwhile (skipped, not an error). */
static int
read_task(int procfd, pid_t pid, pid_t tid, const char *cgroup, struct task *t)
{
	_cleanup_free_ char *status = NULL, *stat = NULL, *ppid = NULL;
	char path[96];
	int r;

	snprintf(path, sizeof(path), "%d/task/%d/status", (int)pid, (int)tid);
	r = read_file_at(procfd, path, PROC_FILE_MAX, &status, NULL);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "%d/task/%d/stat", (int)pid, (int)tid);
	r = read_file_at(procfd, path, PROC_FILE_MAX, &stat, NULL);
	if (r < 0)
		return r;
	*t = (struct task){.pid = pid, .tid = tid};
	r = status_field(status, "Name", &t->comm);
	if (r == 0)
		r = status_field(status, "Cpus_allowed_list", &t->cpus);
	if (r == 0)
		r = status_field(status, "PPid", &ppid);
	if (r == 0)
		r = stat_field(stat, 9, &t->flags);
	if (r == 0 && !(t->cgroup = strdup(cgroup ? cgroup : "")))
		r = -ENOMEM;
	if (r == 0 && bitmap_parse_trimmed(t->cpus, &t->allowed) < 0)
		r = -EBADMSG;
	if (r == 0)
		t->ppid = (pid_t)atoi(ppid);
	if (r < 0)
		task_clear(t);
	return r == -ENOENT ? -EBADMSG : r;
}

static bool
all_digits(const char *s)
{
	return s[0] && strspn(s, "0123456789") == strlen(s);
}

/* Every thread of one process into tasks. A process that ended meanwhile adds nothing. */
static int
read_process(int procfd, pid_t pid, struct tmap_tasks *tasks, struct tmap_error *err)
{
	_cleanup_free_ char *cgtext = NULL, *cgroup = NULL;
	char path[64];
	struct dirent *de;
	DIR *dir;
	int fd, r;

	snprintf(path, sizeof(path), "%d/cgroup", (int)pid);
	r = read_file_at(procfd, path, PROC_FILE_MAX, &cgtext, NULL);
	if (r == -ENOENT || r == -ESRCH)
		return 0;
	if (r == 0)
		r = cgroup_of(cgtext, &cgroup);
	if (r < 0)
		return tmap_error_set(err, r, "cannot read the cgroup of process %d: %s", (int)pid,
				      strerror(-r));
	snprintf(path, sizeof(path), "%d/task", (int)pid);
	fd = openat(procfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH ? 0 :
		       tmap_error_set(err, -errno, "cannot list the threads of process %d: %m",
				      (int)pid);
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return tmap_error_set(err, -ENOMEM, "out of memory");
	}
	r = 0;
	while (r == 0 && (de = readdir(dir))) {
		if (!all_digits(de->d_name))
			continue;
		if (tasks->n == tasks->size) {
			size_t size = tasks->size ? 2 * tasks->size : 256;
			struct task *bigger = realloc(tasks->task, size * sizeof(*bigger));

			if (!bigger) {
				r = tmap_error_set(err, -ENOMEM, "out of memory");
				break;
			}
			tasks->task = bigger;
			tasks->size = size;
		}
		r = read_task(procfd, pid, (pid_t)atoi(de->d_name), cgroup, &tasks->task[tasks->n]);
		if (r == 0)
			tasks->n++;
		else if (r == -ENOENT || r == -ESRCH)
			r = 0;
		else
			r = tmap_error_set(err, r, "cannot read thread %s of process %d: %s",
					   de->d_name, (int)pid, strerror(-r));
	}
	closedir(dir);
	return r;
}

int
tmap_tasks_read(const char *proc_root, unsigned flags, struct tmap_tasks **ret,
		struct tmap_error *reterr)
{
	_cleanup_(tmap_tasks_freep) struct tmap_tasks *tasks = NULL;
	_cleanup_close_ int procfd = -1;
	const char *root = proc_root ? proc_root : "/proc";
	struct dirent *de;
	DIR *dir;
	int r = 0;

	if (!ret || flags)
		return tmap_error_set(reterr, -EINVAL, "invalid argument");
	procfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (procfd < 0)
		return tmap_error_set(reterr, -errno, "cannot open '%s': %m", root);
	tasks = calloc(1, sizeof(*tasks));
	dir = tasks ? fdopendir(dup(procfd)) : NULL;
	if (!dir)
		return tmap_error_set(reterr, -ENOMEM, "out of memory");
	while (r == 0 && (de = readdir(dir)))
		if (all_digits(de->d_name))
			r = read_process(procfd, (pid_t)atoi(de->d_name), tasks, reterr);
	closedir(dir);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(tasks);
	return 0;
}

size_t
tmap_tasks_count(const struct tmap_tasks *tasks)
{
	return tasks ? tasks->n : 0;
}

static const struct task *
task_at(const struct tmap_tasks *tasks, size_t i)
{
	return tasks && i < tasks->n ? &tasks->task[i] : NULL;
}

int
tmap_task_ids(const struct tmap_tasks *tasks, size_t i, pid_t *ret_pid, pid_t *ret_tid)
{
	const struct task *t = task_at(tasks, i);

	if (!t)
		return -EINVAL;
	if (ret_pid)
		*ret_pid = t->pid;
	if (ret_tid)
		*ret_tid = t->tid;
	return 0;
}

const char *
tmap_task_comm(const struct tmap_tasks *tasks, size_t i)
{
	const struct task *t = task_at(tasks, i);

	return t ? t->comm : NULL;
}

const char *
tmap_task_cgroup(const struct tmap_tasks *tasks, size_t i)
{
	const struct task *t = task_at(tasks, i);

	return t ? t->cgroup : NULL;
}

const char *
tmap_task_cpus(const struct tmap_tasks *tasks, size_t i)
{
	const struct task *t = task_at(tasks, i);

	return t ? t->cpus : NULL;
}

/* A kernel thread that stays where it is: the kernel refuses to move it (PF_NO_SETAFFINITY),
 * or kthreadd made it for one CPU (the per-CPU ksoftirqd, migration, cpuhp threads). */
bool
tmap_task_is_pinned_kernel(const struct tmap_tasks *tasks, size_t i)
{
	const struct task *t = task_at(tasks, i);

	if (!t || !(t->flags & PF_KTHREAD))
		return false;
	return (t->flags & PF_NO_SETAFFINITY) ||
	       (t->ppid == KTHREADD_PID && hwloc_bitmap_weight(t->allowed) == 1);
}

/* Is cgroup path `path` at `own` or below it ("/a/b" is below "/a", "/ab" is not)? */
static bool
cgroup_within(const char *path, const char *own)
{
	size_t n = strlen(own);

	while (n > 1 && own[n - 1] == '/')
		n--;
	if (n == 1 && own[0] == '/')
		return true;
	return strncmp(path, own, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

int
tmap_tasks_intruders(const struct tmap_tasks *tasks, const char *cpus, const char *own_cgroup,
		     pid_t own_pid, unsigned flags, size_t **ret, size_t *ret_count,
		     struct tmap_error *reterr)
{
	_cleanup_bitmap_ hwloc_bitmap_t set = NULL;
	_cleanup_free_ size_t *found = NULL;
	bool pinned = flags & TMAP_TASKS_PINNED_KERNEL;
	size_t n = 0;

	if (!tasks || !ret || !ret_count || (flags & ~TMAP_TASKS_PINNED_KERNEL))
		return tmap_error_set(reterr, -EINVAL, "invalid argument");
	if (bitmap_parse_trimmed(cpus, &set) < 0)
		return tmap_error_set(reterr, -EINVAL, "'%s' is not a list of PUs", cpus ? cpus : "");
	found = calloc(tasks->n ? tasks->n : 1, sizeof(*found));
	if (!found)
		return tmap_error_set(reterr, -ENOMEM, "out of memory");
	for (size_t i = 0; i < tasks->n; i++) {
		const struct task *t = &tasks->task[i];

		if (!hwloc_bitmap_intersects(t->allowed, set))
			continue;
		if ((own_pid > 0 && t->pid == own_pid) ||
		    (own_cgroup && own_cgroup[0] && cgroup_within(t->cgroup, own_cgroup)))
			continue;
		if (tmap_task_is_pinned_kernel(tasks, i) == pinned)
			found[n++] = i;
	}
	*ret = TAKE_PTR(found);
	*ret_count = n;
	return 0;
}

/* Does the mount line's option field list "cpuset" (a v1 cpuset hierarchy)? */
static bool
has_cpuset_option(const char *opts)
{
	for (const char *c = opts; *c;) {
		size_t n = strcspn(c, ",");

		if (n == 6 && strncmp(c, "cpuset", 6) == 0)
			return true;
		c += n + (c[n] == ',');
	}
	return false;
}

/* The cgroup path (as /proc/PID/cgroup shows it) of directory dir, through the cgroup mount
 * of mountinfo (the v1 cpuset hierarchy's, or cgroup2) that holds it. */
static int
relative_in(const char *mountinfo, const char *dir, char **ret)
{
	size_t best = 0;

	*ret = NULL;
	for (const char *line = mountinfo; line && *line;) {
		const char *nl = strchr(line, '\n');
		char root[512], point[512], fstype[32], opts[512];
		const char *dash = strstr(line, " - ");
		size_t n;

		if (dash && (!nl || dash < nl) &&
		    sscanf(line, "%*s %*s %*s %511s %511s", root, point) == 2 &&
		    sscanf(dash, " - %31s %*s %511s", fstype, opts) == 2 &&
		    (streq(fstype, "cgroup2") || (streq(fstype, "cgroup") && has_cpuset_option(opts)))) {
			n = strlen(point);
			if (n > best && strncmp(dir, point, n) == 0 && (dir[n] == '/' || !dir[n])) {
				free(*ret);
				if (asprintf(ret, "%s%s", streq(root, "/") ? "" : root,
					     dir[n] ? dir + n : "/") < 0) {
					*ret = NULL;
					return -ENOMEM;
				}
				best = n;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	return 0;
}

int
tmap_cgroup_path(const char *dir, char **ret, struct tmap_error *reterr)
{
	_cleanup_free_ char *mountinfo = NULL;
	char *path = NULL;
	int r;

	if (!dir || dir[0] != '/' || !ret)
		return tmap_error_set(reterr, -EINVAL, "'%s' is not an absolute directory",
				      dir ? dir : "");
	r = read_file_at(AT_FDCWD, "/proc/self/mountinfo", PROC_FILE_MAX, &mountinfo, NULL);
	if (r < 0)
		return tmap_error_set(reterr, r, "cannot read /proc/self/mountinfo: %s",
				      strerror(-r));
	r = relative_in(mountinfo, dir, &path);
	if (r < 0)
		return tmap_error_set(reterr, r, "out of memory");
	if (!path)
		return tmap_error_set(reterr, -ENOENT,
				      "'%s' is not in a cpuset cgroup hierarchy", dir);
	*ret = path;
	return 0;
}
