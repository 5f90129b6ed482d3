/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "testlib.h"
#include "qemulib.h"

extern char **environ;

long
test_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool
test_have_qemu(void)
{
	if (access(TEST_QEMU, X_OK) == 0)
		return true;
	print_message("%s is missing (apt-get install qemu-system-x86): skipped\n", TEST_QEMU);
	return false;
}

int
test_qemu_init(struct test_qemu *q, const char *prefix)
{
	*q = (struct test_qemu){.pid = -1};
	snprintf(q->dir, sizeof(q->dir), "/tmp/%s-XXXXXX", prefix);
	if (!mkdtemp(q->dir)) {
		print_error("mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	snprintf(q->sock, sizeof(q->sock), "%s/qmp.sock", q->dir);
	snprintf(q->log, sizeof(q->log), "%s/qemu.log", q->dir);
	snprintf(q->pidfile, sizeof(q->pidfile), "%s/qemu.pid", q->dir);
	return 0;
}

const char *
test_qemu_log(const struct test_qemu *q)
{
	static char text[4096];
	ssize_t n = -1;
	int fd = open(q->log, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		n = read(fd, text, sizeof(text) - 1);
		close(fd);
	}
	text[n > 0 ? n : 0] = '\0';
	return text;
}

int
test_qmp_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* QMP greets: QEMU has built its machine. The connection is closed at once. */
static bool
qmp_greets(const char *path)
{
	struct pollfd p;
	char buf[512];
	bool ok;
	int fd = test_qmp_connect(path);

	if (fd < 0)
		return false;
	p = (struct pollfd){.fd = fd, .events = POLLIN};
	ok = poll(&p, 1, TEST_QMP_WAIT_MS) == 1 && read(fd, buf, sizeof(buf)) > 0 &&
	     strncmp(buf, "{\"QMP\"", 6) == 0;
	close(fd);
	return ok;
}

pid_t
test_qemu_start(struct test_qemu *q, const char *const *args)
{
	char qmp[160];
	char *argv[128] = {TEST_QEMU,	  "-machine", "pc",	 "-cpu", "qemu64",
			   "-nodefaults", "-display", "none",	 "-S",	 "-qmp",
			   qmp,		  "-pidfile", q->pidfile};
	size_t n = 13;
	posix_spawn_file_actions_t fa;
	long deadline = test_now_ms() + TEST_QMP_WAIT_MS;
	int r;

	snprintf(qmp, sizeof(qmp), "unix:%s,server=on,wait=off", q->sock);
	for (size_t i = 0; args[i]; i++) {
		assert_true(n + 1 < ARRAY_SIZE(argv));
		argv[n++] = (char *)args[i];
	}
	argv[n] = NULL;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, q->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	r = posix_spawn(&q->pid, TEST_QEMU, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0) {
		q->pid = -1;
		fail_msg("cannot start %s: %s", TEST_QEMU, strerror(r));
	}
	/* Wait for the greeting, but give up at once if QEMU refused the options. */
	for (;;) {
		int status;

		if (access(q->sock, F_OK) == 0 && qmp_greets(q->sock))
			break;
		if (waitpid(q->pid, &status, WNOHANG) == q->pid) {
			q->pid = -1;
			fail_msg("QEMU exited with status %d:\n%s", status, test_qemu_log(q));
		}
		if (test_now_ms() > deadline)
			fail_msg("no QMP greeting after %d ms:\n%s", TEST_QMP_WAIT_MS,
				 test_qemu_log(q));
		usleep(5000);
	}
	return q->pid;
}

bool
test_read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return false;
	buf[n] = '\0';
	return true;
}

void
test_qemu_threads(pid_t pid, struct test_threads *s)
{
	char path[128];
	struct dirent *de;
	DIR *dir;

	s->n = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir)
		fail_msg("cannot list '%s': %s", path, strerror(errno));
	while ((de = readdir(dir))) {
		struct test_thread *t;
		char status[4096], *line, *nl;

		if (de->d_name[0] == '.')
			continue;
		assert_true(s->n < TEST_MAX_THREADS);
		t = &s->t[s->n];
		t->tid = atoi(de->d_name);
		snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", (int)pid, t->tid);
		if (!test_read_small(path, t->name, sizeof(t->name)))
			continue;
		t->name[strcspn(t->name, "\n")] = '\0';
		snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, t->tid);
		if (!test_read_small(path, status, sizeof(status)))
			continue;
		line = strstr(status, "Cpus_allowed_list:");
		assert_non_null(line);
		line += strlen("Cpus_allowed_list:");
		line += strspn(line, " \t");
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		snprintf(t->cpus, sizeof(t->cpus), "%s", line);
		s->n++;
	}
	closedir(dir);
}

void
test_qemu_stop(struct test_qemu *q)
{
	if (q->pid > 0) {
		kill(q->pid, SIGKILL);
		while (waitpid(q->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	q->pid = -1;
	unlink(q->sock);
	unlink(q->log);
	unlink(q->pidfile);
}

void
test_qemu_cleanup(struct test_qemu *q)
{
	test_qemu_stop(q);
	if (rmdir(q->dir) < 0)
		print_error("rmdir '%s': %s\n", q->dir, strerror(errno));
}

void
test_qemu_kill_from_signal(const struct test_qemu *q)
{
	if (q->pid > 0)
		kill(q->pid, SIGKILL);
	unlink(q->sock);
	unlink(q->log);
	unlink(q->pidfile);
	rmdir(q->dir);
}

/* ------------------------------------------------------------------------------------- */
/* The host's pool of 2 MiB pages on node 0 */

#define POOL_2M "/sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages"

/* What to write back, formatted beforehand: write() alone is safe in a signal handler. */
static char pool_saved[32];

static long
pool_read(void)
{
	FILE *f = fopen(POOL_2M, "re");
	long n = -1;

	if (f && fscanf(f, "%ld", &n) != 1)
		n = -1;
	if (f)
		fclose(f);
	return n;
}

bool
test_pool_grow(unsigned pages)
{
	long before;
	FILE *f;

	if (geteuid() != 0 || access(POOL_2M, W_OK) < 0) {
		print_message("no writable pool of 2 MiB pages on node 0 (needs root and %s)\n",
			      POOL_2M);
		return false;
	}
	before = pool_read();
	if (before < 0)
		return false;
	snprintf(pool_saved, sizeof(pool_saved), "%ld\n", before);
	f = fopen(POOL_2M, "we");
	if (f) {
		fprintf(f, "%ld\n", before + (long)pages);
		fclose(f);
	}
	if (pool_read() < before + (long)pages) {
		print_message("the kernel found no room for %u more 2 MiB pages on node 0\n", pages);
		test_pool_restore();
		return false;
	}
	return true;
}

void
test_pool_restore(void)
{
	int fd;

	if (!pool_saved[0])
		return;
	fd = open(POOL_2M, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		/* a failed write leaves the pages until someone lowers the pool: nothing to do */
		(void)!write(fd, pool_saved, strlen(pool_saved));
		close(fd);
	}
	pool_saved[0] = '\0';
}
