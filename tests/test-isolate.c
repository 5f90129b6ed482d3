/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Dedicated means dedicated (issue 15): the host's tasks read from the real /proc, the
 * intruders on a guest's PUs among them, with two guest cgroups in this machine's real cgroup
 * v1 cpuset hierarchy holding sleeping tasks, and a task pinned by hand onto a guest's PU.
 *
 * Below /sys/fs/cgroup/cpuset/topomap-isolate-<pid>, which teardown removes after killing
 * the sleepers. Skips (77) when not root, without a v1 cpuset hierarchy or with one PU.
 */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "testlib.h"

#define CPUSET_ROOT "/sys/fs/cgroup/cpuset"
#define MAX_CHILDREN 8

static char base[256];		/* CPUSET_ROOT/topomap-isolate-<pid> */
static char rel[128];		/* /topomap-isolate-<pid> */
static pid_t children[MAX_CHILDREN];
static size_t nchildren;

static void
write_file(const char *dir, const char *file, const char *value)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, value, strlen(value)), (ssize_t)strlen(value));
	close(fd);
}

/* A sleeping child, pinned onto cpu when cpu >= 0, moved into cgroup dir when dir is set. */
static pid_t
sleeper(const char *dir, int cpu)
{
	char text[32];
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		if (cpu >= 0) {
			cpu_set_t set;

			CPU_ZERO(&set);
			CPU_SET(cpu, &set);
			if (sched_setaffinity(0, sizeof(set), &set) < 0)
				_exit(1);
		}
		for (;;)
			pause();
	}
	children[nchildren++] = pid;
	if (dir) {
		snprintf(text, sizeof(text), "%d", (int)pid);
		write_file(dir, "cgroup.procs", text);
	}
	return pid;
}

static void
make_cgroup(const char *name, const char *cpus, char *ret, size_t size)
{
	snprintf(ret, size, "%s/%s", base, name);
	assert_int_equal(mkdir(ret, 0755), 0);
	write_file(ret, "cpuset.mems", "0");
	write_file(ret, "cpuset.cpus", cpus);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(rel, sizeof(rel), "/topomap-isolate-%d", (int)getpid());
	snprintf(base, sizeof(base), "%s%s", CPUSET_ROOT, rel);
	if (mkdir(base, 0755) < 0)
		return -1;
	write_file(base, "cpuset.mems", "0");
	write_file(base, "cpuset.cpus", "0-1");
	return 0;
}

static int
teardown(void **state)
{
	char path[512];

	(void)state;
	for (size_t i = 0; i < nchildren; i++) {
		kill(children[i], SIGKILL);
		waitpid(children[i], NULL, 0);
	}
	nchildren = 0;
	for (const char *const *n = (const char *const[]){"g1", "g2", NULL}; *n; n++) {
		snprintf(path, sizeof(path), "%s/%s", base, *n);
		rmdir(path);
	}
	rmdir(base);
	return 0;
}

/* Is a task of process pid among the indexes? */
static bool
lists_pid(const struct tmap_tasks *tasks, const size_t *idx, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++) {
		pid_t p;

		assert_int_equal(tmap_task_ids(tasks, idx[i], &p, NULL), 0);
		if (p == pid)
			return true;
	}
	return false;
}

/* Two guests in their cgroups (g1 on PU 1, g2 on PU 0), sleeping tasks in each, and one task
 * pinned by hand onto PU 1: that one, and none of the guests', intrudes on g1. */
static void
test_intruders_cgroup_v1(void **state)
{
	char g1[300], g2[300];
	_cleanup_free_ char *own = NULL;
	_cleanup_free_ size_t *idx = NULL;
	struct tmap_tasks *tasks = NULL;
	struct tmap_error err = {0};
	pid_t a, b, c, intruder, elsewhere;
	size_t n = 0;

	(void)state;
	make_cgroup("g1", "1", g1, sizeof(g1));
	make_cgroup("g2", "0", g2, sizeof(g2));
	a = sleeper(g1, -1);
	b = sleeper(g1, -1);
	c = sleeper(g2, -1);
	intruder = sleeper(NULL, 1);
	elsewhere = sleeper(NULL, 0);

	assert_int_equal(tmap_cgroup_path(g1, &own, &err), 0);
	assert_true(strncmp(own, rel, strlen(rel)) == 0);
	assert_string_equal(own + strlen(rel), "/g1");

	assert_int_equal(tmap_tasks_read(NULL, 0, &tasks, &err), 0);
	assert_true(tmap_tasks_count(tasks) > 5);
	assert_int_equal(tmap_tasks_intruders(tasks, "1", own, 0, 0, &idx, &n, &err), 0);
	assert_true(lists_pid(tasks, idx, n, intruder));
	assert_false(lists_pid(tasks, idx, n, a));
	assert_false(lists_pid(tasks, idx, n, b));
	assert_false(lists_pid(tasks, idx, n, c));
	assert_false(lists_pid(tasks, idx, n, elsewhere));
	/* The intruder as it is named: its command, its cgroup (the root), its allowed list. */
	for (size_t i = 0; i < n; i++) {
		pid_t p;

		tmap_task_ids(tasks, idx[i], &p, NULL);
		if (p != intruder)
			continue;
		assert_string_equal(tmap_task_cpus(tasks, idx[i]), "1");
		assert_string_equal(tmap_task_cgroup(tasks, idx[i]), "/");
		assert_non_null(tmap_task_comm(tasks, idx[i]));
		assert_false(tmap_task_is_pinned_kernel(tasks, idx[i]));
	}
	/* Without the guest's own cgroup, its tasks intrude too; its process alone excludes it. */
	free(idx);
	idx = NULL;
	assert_int_equal(tmap_tasks_intruders(tasks, "1", NULL, a, 0, &idx, &n, &err), 0);
	assert_false(lists_pid(tasks, idx, n, a));
	assert_true(lists_pid(tasks, idx, n, b));
	tmap_tasks_free(tasks);
}

/* The kernel's per-CPU threads (ksoftirqd/N, migration/N) cannot move: listed apart, never
 * among the intruders. */
static void
test_pinned_kernel_threads(void **state)
{
	_cleanup_free_ size_t *idx = NULL, *pinned = NULL;
	struct tmap_tasks *tasks = NULL;
	struct tmap_error err = {0};
	size_t n = 0, npinned = 0;
	bool seen = false;

	(void)state;
	assert_int_equal(tmap_tasks_read(NULL, 0, &tasks, &err), 0);
	assert_int_equal(tmap_tasks_intruders(tasks, "1", NULL, 0, 0, &idx, &n, &err), 0);
	assert_int_equal(tmap_tasks_intruders(tasks, "1", NULL, 0, TMAP_TASKS_PINNED_KERNEL,
					      &pinned, &npinned, &err),
			 0);
	for (size_t i = 0; i < npinned; i++) {
		const char *comm = tmap_task_comm(tasks, pinned[i]);

		assert_true(tmap_task_is_pinned_kernel(tasks, pinned[i]));
		seen |= streq(comm, "ksoftirqd/1") || streq(comm, "migration/1");
	}
	assert_true(seen);
	for (size_t i = 0; i < n; i++) {
		const char *comm = tmap_task_comm(tasks, idx[i]);

		assert_false(tmap_task_is_pinned_kernel(tasks, idx[i]));
		assert_false(streq(comm, "ksoftirqd/1") || streq(comm, "migration/1"));
	}
	assert_int_equal(tmap_tasks_intruders(tasks, "1-", NULL, 0, 0, &idx, &n, &err), -EINVAL);
	assert_int_equal(tmap_tasks_intruders(tasks, "1", NULL, 0, 8, &idx, &n, &err), -EINVAL);
	tmap_tasks_free(tasks);
}

/* A proc root that is not there, and one whose task says nonsense, are refused with the
 * file named; a task that ends while it is read is left out. */
static void
test_refusals(void **state)
{
	char dir[] = "/tmp/topomap-proc-XXXXXX", path[256];
	struct tmap_tasks *tasks = NULL;
	struct tmap_error err = {0};
	int fd;

	(void)state;
	assert_int_equal(tmap_tasks_read("/nonexistent-proc", 0, &tasks, &err), -ENOENT);
	assert_non_null(strstr(err.message, "/nonexistent-proc"));
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/42", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	/* A process without its cgroup file ended: nothing. */
	assert_int_equal(tmap_tasks_read(dir, 0, &tasks, &err), 0);
	assert_int_equal(tmap_tasks_count(tasks), 0);
	tasks = tmap_tasks_free(tasks);
	snprintf(path, sizeof(path), "%s/42/cgroup", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	assert_true(write(fd, "0::/x\n", 6) == 6);
	close(fd);
	snprintf(path, sizeof(path), "%s/42/task", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/42/task/42", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/42/task/42/status", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	assert_true(write(fd, "Name:\tx\nPPid:\t1\nCpus_allowed_list:\t0-\n", 38) == 38);
	close(fd);
	snprintf(path, sizeof(path), "%s/42/task/42/stat", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	assert_true(write(fd, "42 (x) S 1 1 1 0 -1 4194304 0\n", 30) == 30);
	close(fd);
	assert_int_equal(tmap_tasks_read(dir, 0, &tasks, &err), -EBADMSG);
	assert_non_null(strstr(err.message, "thread 42 of process 42"));
	assert_null(tasks);
	for (const char *const *f = (const char *const[]){"42/task/42/status", "42/task/42/stat",
							    "42/cgroup", NULL};
	     *f; f++) {
		snprintf(path, sizeof(path), "%s/%s", dir, *f);
		unlink(path);
	}
	for (const char *const *f = (const char *const[]){"42/task/42", "42/task", "42", "", NULL};
	     *f; f++) {
		snprintf(path, sizeof(path), "%s/%s", dir, *f);
		rmdir(path);
	}
}

int
main(void)
{
	const struct CMUnitTest cgroup_tests[] = {
		cmocka_unit_test_setup_teardown(test_intruders_cgroup_v1, setup, teardown),
	};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pinned_kernel_threads),
		cmocka_unit_test(test_refusals),
	};
	struct stat st;

	if (geteuid() != 0 || stat(CPUSET_ROOT "/cpuset.cpus", &st) < 0 ||
	    sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return 77;
	return cmocka_run_group_tests(tests, NULL, NULL) |
	       cmocka_run_group_tests(cgroup_tests, NULL, NULL);
}
