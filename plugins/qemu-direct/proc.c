/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The QEMU process as /proc shows it: its threads, their names and status, its pages' nodes.
 *
 * Every thread is reached below one directory fd, /proc/PID/task, opened once: the kernel
 * resolves TID there only when TID is a thread of that process, so a tid QMP reports that
 * belongs to another process (PID 1, say) is never found, and no path is built from text
 * anyone else wrote.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/pidfd.h>

#include "qemu-direct.h"

int
proc_open_task_file(int task_fd, pid_t tid, const char *name)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "%d/%s", (int)tid, name);
	fd = openat(task_fd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	return fd < 0 ? -errno : fd;
}

int
proc_read_task_file(int task_fd, pid_t tid, const char *name, char **ret)
{
	char path[64];

	snprintf(path, sizeof(path), "%d/%s", (int)tid, name);
	return read_file_at(task_fd, path, PROC_MAX_FILE, ret, NULL);
}

int
proc_start_time(int task_fd, pid_t pid, unsigned long long *ret)
{
	_cleanup_free_ char *stat = NULL;
	int r;

	r = proc_read_task_file(task_fd, pid, "stat", &stat);
	/* Field 22: the start time. */
	return r < 0 ? r : stat_field(stat, 22, ret);
}

static int
parse_pid(const char *text, pid_t *ret)
{
	unsigned long v;
	char *end;

	if (!text || !isdigit((unsigned char)text[0]) || strlen(text) > 10)
		return -EINVAL;
	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || *end || v == 0 || v > INT_MAX)
		return -EINVAL;
	*ret = (pid_t)v;
	return 0;
}

int
proc_open_process(const char *text, pid_t *ret_pid, struct tmap_error *err)
{
	_cleanup_close_ int task_fd = -1;
	_cleanup_free_ char *status = NULL, *tgid = NULL;
	char path[64];
	pid_t pid;
	int r;

	if (!text)
		return tmap_error_set(err, -EINVAL,
				 "the qemu-direct backend needs --pid PID (QEMU's process id)");
	if (parse_pid(text, &pid) < 0)
		return tmap_error_set(err, -EINVAL, "--pid: '%.32s' is not a process id", text);
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	task_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (task_fd < 0 && errno == ENOENT)
		return tmap_error_set(err, -ESRCH,
				 "--pid: there is no process %d (has QEMU exited?): nothing was changed",
				 (int)pid);
	if (task_fd < 0)
		return tmap_error_set(err, -errno, "cannot open '%s': %s", path, strerror(errno));

	/* /proc/TID exists for every thread too; only the main thread's tid names the process. */
	r = proc_read_task_file(task_fd, pid, "status", &status);
	if (r < 0)
		return tmap_error_set(err, r == -ENOENT ? -ESRCH : r,
				 "cannot read the status of process %d: %s", (int)pid,
				 strerror(-r));
	r = status_field(status, "Tgid", &tgid);
	if (r < 0)
		return tmap_error_set(err, -EBADMSG, "the status of process %d has no Tgid", (int)pid);
	if (strtol(tgid, NULL, 10) != pid)
		return tmap_error_set(
		    err, -EINVAL,
		    "--pid: %d is a thread of process %s, not a process: give QEMU's pid", (int)pid,
		    tgid);
	*ret_pid = pid;
	r = task_fd;
	task_fd = -1;
	return r;
}

int
proc_open_pidfd(int task_fd, pid_t pid, int *ret_pidfd, struct tmap_error *err)
{
	_cleanup_close_ int fd = pidfd_open(pid, 0);

	if (fd < 0 && errno == ESRCH)
		return tmap_error_set(err, -ESRCH,
				 "--pid: there is no process %d (has QEMU exited?): nothing was changed",
				 (int)pid);
	if (fd < 0 && errno != ENOSYS)
		return tmap_error_set(err, -errno, "cannot watch process %d (pidfd_open): %s",
				 (int)pid, strerror(errno));
	if (proc_exited(task_fd, pid, fd, 0))
		return tmap_error_set(
		    err, -ESRCH,
		    "--pid: process %d has exited (a zombie its parent has not reaped yet): there is no QEMU to apply to, nothing was changed",
		    (int)pid);
	*ret_pidfd = TAKE_FD(fd);
	return 0;
}

/* Without a pidfd: no thread left but a main thread that is a zombie (or gone). task_fd is
 * the process's own directory, whatever process its pid names now. */
static bool
exited_by_proc(int task_fd, pid_t pid)
{
	_cleanup_free_ pid_t *tids = NULL;
	_cleanup_free_ char *status = NULL, *state = NULL;
	size_t n = 0;
	int r = proc_list_tasks(task_fd, &tids, &n, NULL);

	if (r < 0)
		return r == -ESRCH;
	if (n > 1 || tids[0] != pid)
		return false;
	if (proc_read_task_file(task_fd, pid, "status", &status) < 0 ||
	    status_field(status, "State", &state) < 0)
		return true;
	return state[0] == 'Z' || state[0] == 'X';
}

bool
proc_exited(int task_fd, pid_t pid, int pidfd, int wait_ms)
{
	struct pollfd p = {.fd = pidfd, .events = POLLIN};
	int r;

	if (pidfd < 0) {
		for (int waited = 0;; waited += 10) {
			if (exited_by_proc(task_fd, pid))
				return true;
			if (waited >= wait_ms)
				return false;
			usleep(10000);
		}
	}
	/* A pidfd polls readable once the whole process has exited. */
	while ((r = poll(&p, 1, wait_ms)) < 0 && errno == EINTR)
		;
	return r == 1;
}

int
proc_task_exists(int task_fd, pid_t tid)
{
	char name[16];
	int fd;

	if (tid <= 0)
		return -ENOENT;
	snprintf(name, sizeof(name), "%d", (int)tid);
	fd = openat(task_fd, name, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int
cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

int
proc_list_tasks(int task_fd, pid_t **ret, size_t *ret_n, struct tmap_error *err)
{
	_cleanup_free_ pid_t *tids = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *dir;
	int fd;

	/* A fresh open of the directory: its own offset, so that every listing is whole. */
	fd = openat(task_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return tmap_error_set(err, errno == ENOENT ? -ESRCH : -errno,
				 "cannot list the threads of the QEMU process: %s",
				 strerror(errno));
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return tmap_error_set(err, -ENOMEM, "out of memory");
	}
	while ((errno = 0, de = readdir(dir))) {
		unsigned long tid;
		char *end;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		tid = strtoul(de->d_name, &end, 10);
		if (*end || tid == 0 || tid > INT_MAX)
			continue;
		if (n == PROC_MAX_THREADS) {
			closedir(dir);
			return tmap_error_set(err, -E2BIG, "the QEMU process has more than %u threads",
					 PROC_MAX_THREADS);
		}
		if (n == cap) {
			pid_t *v = realloc(tids, (cap = cap ? cap * 2 : 64) * sizeof(*v));

			if (!v) {
				closedir(dir);
				return tmap_error_set(err, -ENOMEM, "out of memory");
			}
			tids = v;
		}
		tids[n++] = (pid_t)tid;
	}
	if (errno) {
		int r = -errno;

		closedir(dir);
		return tmap_error_set(err, r == -ENOENT ? -ESRCH : r,
				 "cannot list the threads of the QEMU process: %s", strerror(-r));
	}
	closedir(dir);
	if (n == 0)
		return tmap_error_set(err, -ESRCH, "the QEMU process has exited");
	qsort(tids, n, sizeof(*tids), cmp_pid);
	*ret = TAKE_PTR(tids);
	*ret_n = n;
	return 0;
}

void
proc_task_name(int task_fd, pid_t tid, char *buf, size_t size)
{
	_cleanup_free_ char *comm = NULL;
	size_t n = 0;

	if (proc_read_task_file(task_fd, tid, "comm", &comm) < 0) {
		snprintf(buf, size, "?");
		return;
	}
	/* Thread names come from QEMU's command line (iothread ids): print them harmlessly. */
	for (const char *p = comm; *p && *p != '\n' && n + 1 < size; p++)
		buf[n++] = (*p >= 0x20 && *p < 0x7f && *p != '\'') ? *p : '?';
	buf[n] = '\0';
}

int
proc_numa_maps_nodes(FILE *f, struct cpus *nodes)
{
	_cleanup_free_ char *line = NULL;
	size_t cap = 0, lines = 0;
	ssize_t len;

	CPU_ZERO_S(nodes->size, nodes->set);
	while ((len = getline(&line, &cap, f)) > 0) {
		char *save = NULL;

		if (++lines > (1u << 22))
			return -EFBIG;
		/* Only anonymous memory is QEMU's to move: pages of files (libraries) are shared
		 * with other processes, and migrate_pages() leaves them where they are. */
		if (strstr(line, " file="))
			continue;
		for (char *tok = strtok_r(line, " \n", &save); tok;
		     tok = strtok_r(NULL, " \n", &save)) {
			unsigned long node, pages;
			char *end;

			if (tok[0] != 'N' || !isdigit((unsigned char)tok[1]))
				continue;
			node = strtoul(tok + 1, &end, 10);
			if (*end != '=' || !isdigit((unsigned char)end[1]))
				continue;
			pages = strtoul(end + 1, &end, 10);
			if (*end || pages == 0)
				continue;
			if (node >= nodes->nbits)
				return -ERANGE;
			CPU_SET_S(node, nodes->size, nodes->set);
		}
	}
	if (ferror(f))
		return -EIO;
	return 0;
}
