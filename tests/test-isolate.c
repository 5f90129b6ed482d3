/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Dedicated means dedicated (issue 15): the host's tasks read from the real /proc, the
 * intruders on a guest's PUs among them, with two guest cgroups in this machine's real cgroup
 * v1 cpuset hierarchy holding sleeping tasks, and a task pinned by hand onto a guest's PU.
 *
 * Below /sys/fs/cgroup/cpuset/topomap-isolate-<pid>, which teardown removes after killing
 * the sleepers. Skips (77) when not root, without a v1 cpuset hierarchy or with one PU.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <topomap/plugin.h>

#include "testlib.h"

#define CPUSET_ROOT "/sys/fs/cgroup/cpuset"
#define MAX_CHILDREN 8

static char base[256];		/* CPUSET_ROOT/topomap-isolate-<pid> */
static char rel[128];		/* /topomap-isolate-<pid> */
static pid_t children[MAX_CHILDREN];
static size_t nchildren;
static const char *prefix = "topomap-isolate";	/* of base */
static bool busy;		/* sleepers spin instead */

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
	char text[32], ready;
	int fds[2];
	pid_t pid;

	/* The child says when it is pinned: a scan must not see it before. */
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		if (cpu >= 0) {
			cpu_set_t set;

			CPU_ZERO(&set);
			CPU_SET(cpu, &set);
			if (sched_setaffinity(0, sizeof(set), &set) < 0)
				_exit(1);
		}
		if (write(fds[1], "r", 1) != 1)
			_exit(1);
		close(fds[1]);
		for (;;)
			if (!busy)
				pause();
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &ready, 1), 1);
	close(fds[0]);
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
	snprintf(rel, sizeof(rel), "/%s-%d", prefix, (int)getpid());
	snprintf(base, sizeof(base), "%s%s", CPUSET_ROOT, rel);
	if (mkdir(base, 0755) < 0)
		return -1;
	write_file(base, "cpuset.mems", "0");
	write_file(base, "cpuset.cpus", "0-1");
	return 0;
}

static int
setup_all(void **state)
{
	return setup(state) | test_state_setup(state);
}

static int teardown(void **state);

static int
teardown_all(void **state)
{
	/* A test that failed halfway leaves nothing isolated behind. */
	struct test_result r = RUN("host", "isolate", "--undo");

	test_result_clear(&r);
	return teardown(state) | test_state_teardown(state);
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
	for (const char *const *n = (const char *const[]){"g1", "g2", "s1", "s2", "s3", "sh/vcpu0",
							    "sh/emulator", "sh", "sys/a", "sys",
							    NULL}; *n;
	     n++) {
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

/* verify --host through the built command: two guests applied to cgroups of their own with
 * the cgroup backend, sleeping tasks in each, a task pinned by hand onto g1's PU. It exits 4
 * naming that task (pid, comm, cgroup, allowed list) and none of the guests' tasks. */
static void
test_verify_host_cli(void **state)
{
	char g1[300], g2[300], cg[300], needle[160];
	_cleanup_free_ char *cpus1 = NULL;
	struct test_result r;
	pid_t a, b, intruder;

	(void)state;
	snprintf(cg, sizeof(cg), "%s/g1", rel + 1);
	r = RUN("apply", "--backend", "cgroup", "--cgroup", cg, "--create", "--name", "g1",
		"--vcpus", "1");
	assert_int_equal(r.status, 0);
	test_result_clear(&r);
	snprintf(cg, sizeof(cg), "%s/g2", rel + 1);
	r = RUN("apply", "--backend", "cgroup", "--cgroup", cg, "--create", "--name", "g2",
		"--vcpus", "1");
	assert_int_equal(r.status, 0);
	test_result_clear(&r);
	snprintf(g1, sizeof(g1), "%s/g1", base);
	snprintf(g2, sizeof(g2), "%s/g2", base);
	{
		char path[400];
		FILE *f;

		snprintf(path, sizeof(path), "%s/cpuset.cpus", g1);
		assert_non_null(f = fopen(path, "r"));
		cpus1 = calloc(1, 32);
		assert_non_null(fgets(cpus1, 32, f));
		fclose(f);
		cpus1[strcspn(cpus1, "\n")] = '\0';
	}
	a = sleeper(g1, -1);
	b = sleeper(g2, -1);
	intruder = sleeper(NULL, atoi(cpus1));

	r = RUN("verify", "--host");
	assert_int_equal(r.status, 4);
	assert_non_null(strstr(r.out, "g1                   in force"));
	assert_non_null(strstr(r.out, "housekeeping: -"));
	/* Its comm is the test's (or valgrind's, under it). */
	snprintf(needle, sizeof(needle), "pid %d tid %d comm '", (int)intruder, (int)intruder);
	{
		const char *line = strstr(r.out, needle);
		char tail[64];

		assert_non_null(line);
		snprintf(tail, sizeof(tail), "' cgroup / allowed %s\n", cpus1);
		assert_non_null(strstr(line, tail));
		assert_true(strstr(line, tail) < strchr(line, '\n') + 1);
	}
	snprintf(needle, sizeof(needle), "pid %d ", (int)a);
	assert_null(strstr(r.out, needle));
	snprintf(needle, sizeof(needle), "pid %d ", (int)b);
	assert_null(strstr(r.out, needle));
	assert_non_null(strstr(r.out, "kernel threads that cannot move (not drift)"));
	assert_non_null(strstr(r.err, "tasks intrude on dedicated PUs"));
	test_result_clear(&r);

	r = RUN("host", "show");
	assert_int_equal(r.status, 0);
	snprintf(needle, sizeof(needle), "dedicated      %s (dedicated guest 'g1')", cpus1);
	assert_non_null(strstr(r.out, needle));
	test_result_clear(&r);
}

/* Every /proc/irq/N/smp_affinity_list, as one text. */
static char *
irq_affinities(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	DIR *d = opendir("/proc/irq");
	struct dirent *de;

	assert_non_null(out);
	while (d && (de = readdir(d))) {
		char path[300], line[256] = "";
		FILE *f;

		snprintf(path, sizeof(path), "/proc/irq/%s/smp_affinity_list", de->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		if (fgets(line, sizeof(line), f))
			fprintf(out, "%s %s", de->d_name, line);
		fclose(f);
	}
	if (d)
		closedir(d);
	fclose(out);
	return text;
}

static char *
file_line(const char *dir, const char *file)
{
	char path[512], *line = calloc(1, 256);
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	assert_non_null(f = fopen(path, "r"));
	assert_non_null(fgets(line, 256, f));
	fclose(f);
	line[strcspn(line, "\n")] = '\0';
	return line;
}

static void
assert_cpus(const char *dir, const char *want)
{
	char *line = file_line(dir, "cpuset.cpus");

	assert_string_equal(line, want);
	free(line);
}

static void
assert_status(pid_t pid, const char *line)
{
	char path[64], buf[4096];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	assert_non_null(f = fopen(path, "r"));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	assert_non_null(strstr(buf, line));
}

/* g1 applied on PU 1 (PU 0 reserved), and cgroup "sys" (its path in sys, its narrow argument
 * in narrow) with a child "a" (in sub) holding a task, all on PUs 0-1: the task. */
static pid_t
guest_and_system(char sys[300], char sub[320], char narrow[160])
{
	struct test_result r;

	snprintf(narrow, 160, "%s/g1", rel + 1);
	r = RUN("apply", "--backend", "cgroup", "--cgroup", narrow, "--create", "--name", "g1",
		"--vcpus", "1", "--reserve", "0");
	assert_int_equal(r.status, 0);
	test_result_clear(&r);
	make_cgroup("sys", "0-1", sys, 300);
	snprintf(sub, 320, "%s/a", sys);
	assert_int_equal(mkdir(sub, 0755), 0);
	write_file(sub, "cpuset.mems", "0");
	write_file(sub, "cpuset.cpus", "0-1");
	snprintf(narrow, 160, "%s/sys", rel + 1);
	return sleeper(sub, -1);
}

/* host isolate on the real cgroup v1 hierarchy: a guest on PU 1 (PU 0 reserved), a "system"
 * cgroup with a child holding a sleeping task. The system cgroups are narrowed children
 * first, the task's Cpus_allowed_list with them, and verify --host no longer names it; an
 * injected failure at the second write puts the first back and records nothing; --undo puts
 * back every cgroup file and interrupt. */
static void
test_isolate_cgroup_v1(void **state)
{
	char sys[300], sub[320], narrow[160], needle[160];
	_cleanup_free_ char *irqs = irq_affinities();
	struct test_result r;
	pid_t task;

	(void)state;
	task = guest_and_system(sys, sub, narrow);

	/* A write that fails halfway: the first one (the child) is put back, nothing recorded. */
	test_inject_fault("write", 2, 0);
	r = RUN("host", "isolate", "--narrow", narrow);
	test_inject_fault(NULL, 0, 0);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "every file written was put back"));
	test_result_clear(&r);
	assert_cpus(sub, "0-1");
	assert_cpus(sys, "0-1");
	r = RUN("host", "isolate", "--undo");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "nothing to undo"));
	test_result_clear(&r);

	/* For real. */
	r = RUN("host", "isolate", "--narrow", narrow);
	assert_int_equal(r.status, 0);
	assert_true(strstr(r.out, "a/cpuset.cpus (was '0-1')") < strstr(r.out, "sys/cpuset.cpus (was '0-1')"));
	test_result_clear(&r);
	assert_status(task, "Cpus_allowed_list:\t0\n");
	r = RUN("verify", "--host");
	snprintf(needle, sizeof(needle), "pid %d ", (int)task);
	assert_null(strstr(r.out, needle));
	test_result_clear(&r);

	/* --undo: every file as it was. */
	r = RUN("host", "isolate", "--undo");
	assert_int_equal(r.status, 0);
	test_result_clear(&r);
	assert_cpus(sub, "0-1");
	assert_cpus(sys, "0-1");
	{
		_cleanup_free_ char *after = irq_affinities();

		assert_string_equal(after, irqs);
	}
}

/* topomap with args, its at-th write() refused: it fails; did it fail in the isolation? */
static bool
write_fails_at(unsigned at, const char *const *args)
{
	struct test_result r;
	bool in_isolation;

	test_inject_fault("write", at, 0);
	r = test_topomap(NULL, args);
	test_inject_fault(NULL, 0, 0);
	assert_int_not_equal(r.status, 0);
	in_isolation = strstr(r.err, "isolate: ") != NULL;
	test_result_clear(&r);
	return in_isolation;
}

static int
setup_isolapply(void **state)
{
	prefix = "topomap-isolapply";
	busy = true;
	return setup_all(state);
}

static int
teardown_isolapply(void **state)
{
	int r = teardown_all(state);

	prefix = "topomap-isolate";
	busy = false;
	return r;
}

/* An isolated host takes in a guest applied later (issue 15, item 3), on the real cgroup v1
 * hierarchy of two PUs, where two dedicated guests never fit beside the reserve: g1 on PU 1
 * isolated with --narrow of a cgroup whose child holds a busy task; released, g1 gives PU 1
 * back (the cgroups widened, the isolation kept recorded); g2 applied then takes PU 1 and the
 * narrowed cgroups lose it in the same call, the task with them. A write failing at each write
 * of g2's apply puts back its cgroup, the narrowed cgroups and the state (one of them falls in
 * the isolation step). g2 released widens them again; --undo forgets the isolation. */
static void
test_apply_after_isolate_cgroup_v1(void **state)
{
	char sys[300], sub[320], cg[160], narrow[160], needle[160];
	bool in_isolation = false;
	struct test_result r;
	pid_t task;

	(void)state;
	task = guest_and_system(sys, sub, narrow);
	r = RUN("host", "isolate", "--narrow", narrow);
	assert_int_equal(r.status, 0);
	test_result_clear(&r);
	assert_cpus(sub, "0");

	r = RUN("release", "g1");
	assert_int_equal(r.status, 0);
	test_result_clear(&r);
	assert_cpus(sub, "0-1");
	assert_cpus(sys, "0-1");
	assert_status(task, "Cpus_allowed_list:\t0-1\n");

	snprintf(cg, sizeof(cg), "%s/g2", rel + 1);
	for (unsigned at = 1; at < 16 && !in_isolation; at++) {
		in_isolation = write_fails_at(at, (const char *const[]){"apply", "--backend", "cgroup",
				"--cgroup", cg, "--create", "--name", "g2", "--vcpus", "1", NULL});
		assert_cpus(sub, "0-1");
		assert_cpus(sys, "0-1");
		assert_false(test_state_has_guest(getenv("TOPOMAP_STATE"), "g2"));
	}
	assert_true(in_isolation);

	r = RUN("apply", "--backend", "cgroup", "--cgroup", cg, "--create", "--name", "g2",
		"--vcpus", "1");
	assert_int_equal(r.status, 0);
	test_result_clear(&r);
	assert_cpus(sub, "0");
	assert_cpus(sys, "0");
	assert_status(task, "Cpus_allowed_list:\t0\n");
	/* Other tasks of this machine may run on PU 1 (only sys is narrowed): the task is not
	 * among the intruders, whatever the exit. */
	r = RUN("verify", "--host");
	snprintf(needle, sizeof(needle), "pid %d ", (int)task);
	assert_null(strstr(r.out, needle));
	assert_true(r.status == 0 || r.status == 4);
	test_result_clear(&r);

	r = RUN("release", "g2");
	assert_int_equal(r.status, 0);
	test_result_clear(&r);
	assert_cpus(sub, "0-1");
	assert_cpus(sys, "0-1");
	r = RUN("host", "isolate", "--undo");
	assert_int_equal(r.status, 0);
	test_result_clear(&r);
	{
		char buf[65536] = "";
		FILE *f = fopen(getenv("TOPOMAP_STATE"), "re");

		assert_non_null(f);
		buf[fread(buf, 1, sizeof(buf) - 1, f)] = '\0';
		fclose(f);
		assert_null(strstr(buf, "isolation"));
	}
}

/* Run topomap, expect its exit status. */
#define EXPECT(want, ...)                                                                   \
	do {                                                                                \
		struct test_result r_ = RUN(__VA_ARGS__);                                   \
		assert_int_equal(r_.status, want);                                          \
		test_result_clear(&r_);                                                     \
	} while (0)

static int
setup_isoroot(void **state)
{
	prefix = "topomap-isofix-root";
	busy = true;
	return setup_all(state);
}

/* A task's Cpus_allowed_list, malloc()ed; NULL when it ended. */
static char *
task_cpus(pid_t tid)
{
	char path[64], line[512];
	char *ret = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	if (!(f = fopen(path, "r")))
		return NULL;
	while (!ret && fgets(line, sizeof(line), f))
		if (strncmp(line, "Cpus_allowed_list:\t", 19) == 0) {
			line[strcspn(line, "\n")] = '\0';
			ret = strdup(line + 19);
		}
	fclose(f);
	return ret;
}

/* Each "allow task N on 'X' (was 'Y')" line of host isolate's output: every task narrowed is
 * back on Y (or ended), and there is at least one. */
static void
assert_tasks_back(const char *out)
{
	size_t n = 0;

	for (const char *p = out; (p = strstr(p, "  allow task ")); p++) {
		char was[256];
		int tid;
		_cleanup_free_ char *now = NULL;

		assert_int_equal(sscanf(p, "  allow task %d on '%*[^']' (was '%255[^']')", &tid, was),
				 2);
		now = task_cpus(tid);
		if (now)
			assert_string_equal(now, was);
		n++;
	}
	assert_true(n > 0);
}

/* verify --host exits 0; on a machine shared with other tests, it may name what they start
 * meanwhile (a QEMU pinned by hand, a task in a cgroup of theirs), never one of ours (pid 1,
 * the root cgroup's tasks host isolate narrowed). */
static void
assert_only_foreign_intruders(const struct test_result *r, const pid_t *ours, size_t n)
{
	char needle[64];

	if (r->status == 0)
		return;
	fprintf(stderr, "%s%s", r->out, r->err);
	assert_int_equal(r->status, 4);
	for (size_t i = 0; i < n; i++) {
		snprintf(needle, sizeof(needle), "  pid %d ", (int)ours[i]);
		assert_null(strstr(r->out, needle));
	}
}

static char *state_text(void);

/* The tasks of cgroup v1's root cpuset cgroup (the remaining piece of issue 15): a guest on
 * PU 1 (PU 0 reserved) with a busy task in its cgroup, a busy task in the root cgroup. A
 * failure injected at the second sched_setaffinity puts the first task back and records
 * nothing. Then host isolate narrows every movable task of the root cgroup (pid 1, the busy
 * task, this test) to PU 0 and verify --host exits 0, the kernel's per-CPU threads listed
 * apart; a task forked from the narrowed test inherits PU 0; one pinned by hand onto PU 1
 * makes verify exit 4 naming it. --undo puts back every task's mask, the inherited one's too
 * (the one pinned by hand stays where it was pinned), and every interrupt, but leaves a task
 * whose start time differs from the recorded one (another task that took the tid). */
static void
test_isolate_root_tasks_cgroup_v1(void **state)
{
	char g1[300], cg[160], needle[160];
	_cleanup_free_ char *irqs = irq_affinities(), *init_before = task_cpus(1);
	_cleanup_free_ char *self_before = task_cpus(getpid()), *guest_pu = NULL;
	_cleanup_free_ char *isolated = NULL;
	struct test_result r;
	pid_t in_guest, in_root, forked, pinned;
	char text[32];

	(void)state;
	snprintf(cg, sizeof(cg), "%s/g1", rel + 1);
	EXPECT(0, "apply", "--backend", "cgroup", "--cgroup", cg, "--create", "--name", "g1",
		"--vcpus", "1", "--reserve", "0");
	snprintf(g1, sizeof(g1), "%s/g1", base);
	guest_pu = file_line(g1, "cpuset.cpus");
	assert_string_equal(guest_pu, "1");
	in_guest = sleeper(g1, -1);
	in_root = sleeper(NULL, -1);
	snprintf(text, sizeof(text), "%d", (int)in_root);
	write_file(CPUSET_ROOT, "cgroup.procs", text);
	assert_status(in_root, "Cpus_allowed_list:\t0-1\n");

	/* The second task refuses: the first is put back, nothing recorded. */
	test_inject_fault("sched_setaffinity", 2, 0);
	r = RUN("host", "isolate");
	test_inject_fault(NULL, 0, 0);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "cannot set the affinity of task"));
	assert_non_null(strstr(r.err, "every file written was put back"));
	test_result_clear(&r);
	assert_status(in_root, "Cpus_allowed_list:\t0-1\n");
	{
		_cleanup_free_ char *init_now = task_cpus(1);

		assert_string_equal(init_now, init_before);
	}
	r = RUN("host", "isolate", "--undo");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "nothing to undo"));
	test_result_clear(&r);

	/* For real. */
	r = RUN("host", "isolate");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "  allow task 1 on '0' (was '"));
	snprintf(needle, sizeof(needle), "  allow task %d on '0' (was '0-1')", (int)in_root);
	assert_non_null(strstr(r.out, needle));
	snprintf(needle, sizeof(needle), "  allow task %d ", (int)in_guest);
	assert_null(strstr(r.out, needle));
	isolated = strdup(r.out);
	test_result_clear(&r);
	assert_status(1, "Cpus_allowed_list:\t0\n");
	assert_status(in_root, "Cpus_allowed_list:\t0\n");
	assert_status(getpid(), "Cpus_allowed_list:\t0\n");
	assert_status(in_guest, "Cpus_allowed_list:\t1\n");
	r = RUN("verify", "--host");
	assert_non_null(strstr(r.out, "intruders on 'g1' (PUs 1, its own: "));
	assert_only_foreign_intruders(&r, (const pid_t[]){1, in_root, getpid()}, 3);
	test_result_clear(&r);

	/* Forked now: it inherits the narrowed mask. Pinned by hand onto the guest's PU: an
	 * intruder, named. */
	forked = sleeper(NULL, -1);
	assert_status(forked, "Cpus_allowed_list:\t0\n");
	pinned = sleeper(NULL, 1);
	r = RUN("verify", "--host");
	assert_int_equal(r.status, 4);
	snprintf(needle, sizeof(needle), "pid %d tid %d comm '", (int)pinned, (int)pinned);
	assert_non_null(strstr(r.out, needle));
	snprintf(needle, sizeof(needle), "pid %d ", (int)forked);
	assert_null(strstr(r.out, needle));
	test_result_clear(&r);

	/* The state says the busy root task started at another time: another task that took
	 * its tid since, which the undo must leave as it is. */
	{
		_cleanup_free_ char *doc = state_text();
		char path[96], *at, *start;
		FILE *f;

		snprintf(path, sizeof(path), "\"path\":\"/proc/%d/task/%d\"", (int)in_root,
			 (int)in_root);
		assert_non_null(at = strstr(doc, path));
		assert_non_null(start = strstr(at, "\"start\":"));
		start += strlen("\"start\":");
		assert_non_null(f = fopen(getenv("TOPOMAP_STATE"), "we"));
		fprintf(f, "%.*s1%s", (int)(start - doc), doc, start + strspn(start, "0123456789"));
		fclose(f);
	}

	/* --undo: every task as it was, the one forked since too; not the impostor. */
	r = RUN("host", "isolate", "--undo");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "  allow task 1 on '"));
	test_result_clear(&r);
	assert_status(in_root, "Cpus_allowed_list:\t0\n");
	{
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(0, &set);
		CPU_SET(1, &set);
		assert_int_equal(sched_setaffinity(in_root, sizeof(set), &set), 0);
	}
	assert_tasks_back(isolated);
	assert_status(in_root, "Cpus_allowed_list:\t0-1\n");
	assert_status(forked, "Cpus_allowed_list:\t0-1\n");
	assert_status(pinned, "Cpus_allowed_list:\t1\n");
	assert_status(in_guest, "Cpus_allowed_list:\t1\n");
	{
		_cleanup_free_ char *init_now = task_cpus(1), *self_now = task_cpus(getpid());
		_cleanup_free_ char *after = irq_affinities();

		assert_string_equal(init_now, init_before);
		assert_string_equal(self_now, self_before);
		assert_string_equal(after, irqs);
	}
}

static int
setup_pool(void **state)
{
	prefix = "topomap-isofix-pool";
	busy = true;
	return setup_all(state);
}

/* The state file's text. */
static char *
state_text(void)
{
	char *buf = calloc(1, 65536);
	FILE *f = fopen(getenv("TOPOMAP_STATE"), "re");

	assert_non_null(f);
	assert_non_null(buf);
	buf[fread(buf, 1, 65535, f)] = '\0';
	fclose(f);
	return buf;
}

/* Shared guests follow the pool (issue 21), on the real cgroup v1 hierarchy: two shared
 * guests s1 and s2 applied to cgroups of their own, each with a busy task, over the recorded
 * pool "1"; host set --shared-set 0-1 grows the pool and both cgroups' cpuset.cpus (and their
 * tasks) follow, read back; a write failing at each write of the change puts both cgroups,
 * the tasks and the state file back (exit 1); then shrinking to "1" gives PU 0 back. A
 * dedicated guest on a PU of the new pool is refused before any write (exit 2). */
static void
test_pool_follow_cgroup_v1(void **state)
{
	char s1[300], s2[300], cg[160];
	bool failed_late = false;
	struct test_result r;
	pid_t t1, t2;

	(void)state;
	EXPECT(0, "host", "set", "--shared-set", "1");
	for (int i = 1; i <= 2; i++) {
		char name[8];

		snprintf(name, sizeof(name), "s%d", i);
		snprintf(cg, sizeof(cg), "%s/%s", rel + 1, name);
		r = RUN("apply", "--backend", "cgroup", "--cgroup", cg, "--create", "--name", name,
			"--vcpus", "1", "--cpu-policy", "shared");
		assert_int_equal(r.status, 0);
		test_result_clear(&r);
	}
	snprintf(s1, sizeof(s1), "%s/s1", base);
	snprintf(s2, sizeof(s2), "%s/s2", base);
	assert_cpus(s1, "1");
	assert_cpus(s2, "1");
	t1 = sleeper(s1, -1);
	t2 = sleeper(s2, -1);

	/* A failure at each write of the change, until one falls on the second guest: both
	 * cgroups, their tasks and the state as they were. */
	for (unsigned at = 1; at < 8 && !failed_late; at++) {
		_cleanup_free_ char *before = state_text(), *after = NULL;

		test_inject_fault("write", at, 0);
		r = RUN("host", "set", "--shared-set", "0-1");
		test_inject_fault(NULL, 0, 0);
		if (r.status == 0) {
			test_result_clear(&r);
			break;
		}
		assert_int_equal(r.status, 1);
		failed_late = strstr(r.err, "'s2'") != NULL;
		test_result_clear(&r);
		assert_cpus(s1, "1");
		assert_cpus(s2, "1");
		assert_status(t1, "Cpus_allowed_list:\t1\n");
		after = state_text();
		assert_string_equal(after, before);
	}
	assert_true(failed_late);

	r = RUN("host", "set", "--shared-set", "0-1");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "shared set     0-1"));
	test_result_clear(&r);
	assert_cpus(s1, "0-1");
	assert_cpus(s2, "0-1");
	assert_status(t1, "Cpus_allowed_list:\t0-1\n");
	assert_status(t2, "Cpus_allowed_list:\t0-1\n");
	EXPECT(0, "verify", "--all");

	/* Shrinking gives PU 0 back. */
	EXPECT(0, "host", "set", "--shared-set", "1");
	assert_cpus(s1, "1");
	assert_cpus(s2, "1");
	assert_status(t2, "Cpus_allowed_list:\t1\n");
	EXPECT(0, "verify", "--all");

	/* A state whose pool grew without its shared guests (as before they followed it):
	 * verify says so though the cgroups hold what was recorded; host set applies them. */
	{
		_cleanup_free_ char *text = state_text();
		char *at = strstr(text, "\"shared_set\":\"1\"");
		FILE *f;

		assert_non_null(at);
		assert_non_null(f = fopen(getenv("TOPOMAP_STATE"), "we"));
		fprintf(f, "%.*s\"shared_set\":\"0-1\"%s", (int)(at - text), text,
			at + strlen("\"shared_set\":\"1\""));
		fclose(f);
	}
	r = RUN("verify", "--all");
	assert_int_equal(r.status, 4);
	assert_non_null(strstr(r.out, "cell 0 floats over 1, not over node 0's shared pool 0-1"));
	test_result_clear(&r);
	EXPECT(0, "host", "set", "--shared-set", "0-1");
	assert_cpus(s1, "0-1");
	EXPECT(0, "verify", "--all");

	/* A shared guest of 2 vcpus floats over both PUs: a pool of one is too narrow for it,
	 * refused before any write (exit 3). */
	snprintf(cg, sizeof(cg), "%s/s3", rel + 1);
	EXPECT(0, "apply", "--backend", "cgroup", "--cgroup", cg, "--create", "--name", "s3",
	       "--vcpus", "2", "--cpu-policy", "shared");
	r = RUN("host", "set", "--shared-set", "1");
	assert_int_equal(r.status, 3);
	assert_non_null(strstr(r.err, "shared guest 's3': cell 0 has 2 shared vcpus, more than the 1 PUs of node 0's new pool"));
	test_result_clear(&r);
	assert_cpus(s1, "0-1");
	EXPECT(0, "release", "s3");
	EXPECT(0, "host", "set", "--shared-set", "1");

	/* A dedicated guest on PU 0, then a pool that would take PU 0: refused, nothing
	 * written. */
	snprintf(cg, sizeof(cg), "%s/g1", rel + 1);
	EXPECT(0, "apply", "--backend", "cgroup", "--cgroup", cg, "--create", "--name", "g1",
		"--vcpus", "1");
	r = RUN("host", "set", "--shared-set", "0-1");
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "host set: "));
	test_result_clear(&r);
	assert_cpus(s1, "1");
	for (const char *const *n = (const char *const[]){"g1", "s1", "s2", NULL}; *n; n++) {
		r = RUN("release", *n);
		assert_int_equal(r.status, 0);
		test_result_clear(&r);
	}
}

/* A host of four PUs whose 0 and 1 are this machine's (2 and 3 exist in no kernel): a
 * dedicated guest placed there is a mock backend's file, so that the isolation touches no
 * task or interrupt of this machine, only the cgroups it narrows. */
#define POOL_HOST "synthetic:pack:1 numa:1(memory=4GiB) core:4 pu:1"
/* A topology other than the live one records in no state unless named. */
#define T "--topology", POOL_HOST, "--state", getenv("TOPOMAP_STATE")

static char mock_file[] = "/tmp/topomap-poolnarrow-XXXXXX";

static int
setup_poolnarrow(void **state)
{
	static char path[4200];
	int fd;

	prefix = "topomap-isofix-poolnarrow";
	busy = true;
	strcpy(mock_file, "/tmp/topomap-poolnarrow-XXXXXX");
	fd = mkstemp(mock_file);
	if (fd < 0)
		return -1;
	close(fd);
	/* The built plugins and the mock one. */
	snprintf(path, sizeof(path), "%s:%s", getenv("TOPOMAP_PLUGIN_PATH"),
		 getenv("TOPOMAP_MOCK_PLUGIN_DIR"));
	setenv("TOPOMAP_PLUGIN_PATH", path, 1);
	return setup_all(state);
}

static int
teardown_poolnarrow(void **state)
{
	unlink(mock_file);
	return teardown_isolapply(state);
}

/* host set --shared-set pool: exit 0, the isolation made again, printing line when given. */
static void
host_set_pool(const char *pool, const char *line)
{
	struct test_result r = RUN("host", "set", T, "--shared-set", pool);

	test_expect_exit(r.status, 0, "host set --shared-set", r.out, r.err);
	test_expect_text(r.out, "isolation made again for the new pool:\n");
	if (line)
		test_expect_text(r.out, line);
	test_result_clear(&r);
}

/* The three cgroups' cpuset.cpus and the two tasks' allowed lists read cpus. */
static void
assert_pool_files(const char *const *dirs, const pid_t *tasks, const char *cpus)
{
	char line[64];

	snprintf(line, sizeof(line), "Cpus_allowed_list:\t%s\n", cpus);
	for (size_t i = 0; i < 3; i++)
		assert_cpus(dirs[i], cpus);
	for (size_t i = 0; i < 2; i++)
		assert_status(tasks[i], line);
}

/* host set on an isolated host (issue 15 with issue 21's pool), on the real cgroup v1
 * hierarchy: the pool 0-1 with a shared guest s1 in a cgroup of its own (a busy task), a
 * dedicated guest g1 on PU 2 or 3, a "sys" cgroup with a child holding a busy task, the host
 * isolated with --narrow sys (it keeps the pool: nothing to narrow yet). The pool narrowed to
 * 0 with a write failing at each write, until one falls in the isolation: s1, sys, its child,
 * both tasks and the state file as before, exit 1. Then for real: s1, sys and its child on 0
 * with their tasks, the writes printed, host show and verify --host agreeing; widened to 0-1
 * again, everything back; --undo leaves nothing changed. */
static void
test_pool_isolates_again_cgroup_v1(void **state)
{
	char s1[300], sys[300], sub[320], cg[160], narrow[160], needle[400];
	bool in_isolation = false;
	struct test_result r;
	pid_t t1, task;

	(void)state;
	EXPECT(0, "host", "set", T, "--shared-set", "0-1");
	snprintf(needle, sizeof(needle), "file=%s", mock_file);
	r = RUN("apply", T, "--backend", "mock", "-o", needle, "--name", "g1", "--vcpus", "1");
	test_expect_exit(r.status, 0, "apply g1", r.out, r.err);
	test_result_clear(&r);
	assert_true(streq(test_slurp(mock_file), "2") || streq(test_slurp(mock_file), "3"));
	snprintf(cg, sizeof(cg), "%s/s1", rel + 1);
	EXPECT(0, "apply", T, "--backend", "cgroup", "--cgroup", cg, "--create", "--name", "s1",
	       "--vcpus", "1", "--cpu-policy", "shared");
	snprintf(s1, sizeof(s1), "%s/s1", base);
	assert_cpus(s1, "0-1");
	t1 = sleeper(s1, -1);
	make_cgroup("sys", "0-1", sys, sizeof(sys));
	snprintf(sub, sizeof(sub), "%s/a", sys);
	assert_int_equal(mkdir(sub, 0755), 0);
	write_file(sub, "cpuset.mems", "0");
	write_file(sub, "cpuset.cpus", "0-1");
	task = sleeper(sub, -1);
	snprintf(narrow, sizeof(narrow), "%s/sys", rel + 1);
	EXPECT(0, "host", "isolate", T, "--narrow", narrow);
	assert_cpus(sys, "0-1");

	for (unsigned at = 1; at < 16 && !in_isolation; at++) {
		_cleanup_free_ char *before = state_text(), *after = NULL;

		in_isolation = write_fails_at(at, (const char *const[]){"host", "set", T,
							"--shared-set", "0", NULL});
		assert_pool_files((const char *const[]){s1, sys, sub}, (pid_t[]){t1, task}, "0-1");
		after = state_text();
		assert_string_equal(after, before);
	}
	assert_true(in_isolation);

	snprintf(needle, sizeof(needle), "  write '0' to %s/cpuset.cpus (was '0-1')\n", sub);
	host_set_pool("0", needle);
	assert_pool_files((const char *const[]){s1, sys, sub}, (pid_t[]){t1, task}, "0");
	r = RUN("host", "show", T);
	test_expect_exit(r.status, 0, "host show", r.out, r.err);
	test_expect_text(r.out, "shared pool    0\n");
	test_result_clear(&r);
	r = RUN("verify", "--host", T);
	test_expect_exit(r.status, 0, "verify --host", r.out, r.err);
	test_result_clear(&r);

	snprintf(needle, sizeof(needle), "  write '0-1' to %s/cpuset.cpus (was '0')\n", sys);
	host_set_pool("0-1", needle);
	assert_pool_files((const char *const[]){s1, sys, sub}, (pid_t[]){t1, task}, "0-1");
	EXPECT(0, "verify", "--host", T);

	host_set_pool("0", NULL);
	assert_cpus(sub, "0");
	EXPECT(0, "host", "isolate", T, "--undo");
	assert_cpus(sys, "0-1");
	assert_cpus(sub, "0-1");
	assert_status(task, "Cpus_allowed_list:\t0-1\n");
	EXPECT(0, "release", T, "s1");
	EXPECT(0, "release", T, "g1");
}

/* --emulator share-host (issue 21) through the cgroup backend's libvirt layout on the real
 * cgroup v1 hierarchy: with the housekeeping PUs recorded as "0", a dedicated guest of one vcpu
 * gets PU 1 for its vcpu0 cgroup while its emulator cgroup floats over the housekeeping set,
 * read back from cpuset.cpus and a task in each; verify --all says so, and an emulator
 * cgroup moved onto the vcpu's PU by hand is drift (exit 4). */
static void
test_emulator_share_host_cgroup_v1(void **state)
{
	char cg[160], dir[300], vcpu[320], emu[320];
	pid_t tv, te;

	(void)state;
	EXPECT(0, "host", "set", "--housekeeping", "0");
	snprintf(cg, sizeof(cg), "%s/sh", rel + 1);
	EXPECT(0, "apply", "--backend", "cgroup", "--cgroup", cg, "--create", "--layout", "libvirt",
		"--name", "sh", "--vcpus", "1", "--emulator", "share-host", "--reserve", "0");
	snprintf(dir, sizeof(dir), "%s/sh", base);
	snprintf(vcpu, sizeof(vcpu), "%s/vcpu0", dir);
	snprintf(emu, sizeof(emu), "%s/emulator", dir);
	assert_cpus(vcpu, "1");
	assert_cpus(emu, "0");
	tv = sleeper(vcpu, -1);
	te = sleeper(emu, -1);
	assert_status(tv, "Cpus_allowed_list:\t1\n");
	assert_status(te, "Cpus_allowed_list:\t0\n");
	EXPECT(0, "verify", "--all");

	write_file(emu, "cpuset.cpus", "1");
	EXPECT(4, "verify", "--all");
	write_file(emu, "cpuset.cpus", "0");
	EXPECT(0, "release", "sh");
}

/* The partition of a host with SMT (siblings n and n+8): the traps, each with its fix, and the
 * boot-time set (whole cores where the sibling is free). */
static void
test_partition_traps(void **state)
{
	struct tmap_topology *t = test_topology("synthetic:pack:1 numa:1(memory=64GiB) core:8 pu:2");
	struct tmap_host *h = NULL;
	struct tmap_partition *p = NULL;
	struct tmap_plan *plan = NULL;
	struct tmap_guest *g = NULL;
	struct tmap_error err = {0};
	struct tmap_solve_options opts = TMAP_SOLVE_OPTIONS_INIT;
	bool split_reserve = false, sibling_hk = false, sibling_guest = false;

	(void)state;
	opts.reserve = "0"; /* half of core 0 */
	assert_int_equal(tmap_host_new(t, &opts, &h, &err), 0);
	/* a: 2 vcpus that prefer siblings, a whole core; b, c, d: one vcpu each, prefer: b on
	 * the reserve's half core, c and d on one core's two PUs. */
	for (const char *const *n = (const char *const[]){"a", "b", "c", "d", NULL}; *n; n++) {
		assert_int_equal(tmap_guest_new(*n, streq(*n, "a") ? 2 : 1, &g, &err), 0);
		assert_int_equal(tmap_host_place(h, g, &plan, &err), 0);
		tmap_plan_free(plan);
		tmap_guest_free(g);
	}
	assert_int_equal(tmap_partition_new(h, "0", NULL, 0, &p, &err), 0);
	assert_string_equal(tmap_partition_housekeeping(p), "0");
	assert_int_equal(tmap_partition_guest_count(p), 4);
	assert_string_equal(tmap_partition_guest_cpus(p, 1), "1");
	for (size_t i = 0; i < tmap_partition_warning_count(p); i++) {
		const char *w = tmap_partition_warning(p, i);

		split_reserve |= strstr(w, "the reserve splits a core: PU 0 is reserved, its SMT sibling 1 is not; fix: reserve whole cores (--reserve 0,1, or neither)") != NULL;
		sibling_hk |= strstr(w, "dedicated guest 'b' holds PU 1, whose SMT sibling 0 belongs to the housekeeping set; fix: ") != NULL;
		sibling_guest |= strstr(w, "dedicated guest 'c' holds PU 4, whose SMT sibling 5 belongs to guest 'd'; fix: apply 'c' again with --thread-policy isolate or require") != NULL;
	}
	assert_true(split_reserve);
	assert_true(sibling_hk);
	assert_true(sibling_guest);
	/* Boot-time isolation: every dedicated PU, never a housekeeping one. */
	assert_string_equal(tmap_partition_isolated(p), "1-5");
	assert_string_equal(tmap_partition_free_cpus(p), "6-15");
	p = tmap_partition_free(p);
	/* A guest alone on a core: its free sibling is isolated with it; no trap. */
	assert_int_equal(tmap_host_release(h, "d"), 0);
	assert_int_equal(tmap_host_release(h, "b"), 0);
	assert_int_equal(tmap_partition_new(h, "0-1", "0-1", 0, &p, &err), 0);
	assert_int_equal(tmap_partition_warning_count(p), 0);
	assert_string_equal(tmap_partition_isolated(p), "2-5");
	p = tmap_partition_free(p);
	assert_int_equal(tmap_partition_new(h, "0", "0-", 0, &p, &err), -EINVAL);
	assert_int_equal(tmap_partition_new(h, "0", "99", 0, &p, &err), -EINVAL);
	tmap_host_free(h);
	tmap_topology_free(t);
}

/* ---------------------------------------------------------------------------------------- */
/* topomap lint: one test per trap, on crafted inputs (a synthetic host with SMT, a state made
 * with the library, a root directory with the system's files) */

#define LINT_HOST "synthetic:pack:1 numa:1(memory=64GiB) core:8 pu:2" /* cores 2k, 2k+1 */

static char lint_dir[] = "/tmp/topomap-lint-XXXXXX";
static char lint_state[128];

/* A file below the lint root, its directories made. */
static void
lint_file(const char *rel_path, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/root%s", lint_dir, rel_path);
	for (char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
}

/* A state for LINT_HOST with the reserve and guests given as "name:vcpus[:isolate]". */
static void
lint_make_state(const char *reserve, const char *const *guests)
{
	struct tmap_topology *t = test_topology(LINT_HOST);
	struct tmap_solve_options opts = TMAP_SOLVE_OPTIONS_INIT;
	struct tmap_state *st = NULL;
	struct tmap_host *h = NULL;
	struct tmap_error err = {0};

	unlink(lint_state);
	opts.reserve = reserve;
	assert_int_equal(tmap_state_open(lint_state, TMAP_STATE_WRITE, &st, &err), 0);
	assert_int_equal(tmap_state_set_reserve(st, reserve, &err), 0);
	assert_int_equal(tmap_host_new(t, &opts, &h, &err), 0);
	for (; *guests; guests++) {
		char name[32];
		unsigned vcpus = 0;
		struct tmap_guest *g = NULL;
		struct tmap_plan *plan = NULL;

		assert_true(sscanf(*guests, "%31[a-z]:%u", name, &vcpus) == 2);
		assert_int_equal(tmap_guest_new(name, vcpus, &g, &err), 0);
		if (strstr(*guests, ":isolate"))
			assert_int_equal(tmap_guest_set_thread_policy(g, TMAP_THREAD_ISOLATE), 0);
		assert_int_equal(tmap_host_place(h, g, &plan, &err), 0);
		tmap_plan_free(plan);
		tmap_guest_free(g);
	}
	assert_int_equal(tmap_state_save(st, h, &err), 0);
	tmap_state_close(st);
	tmap_host_free(h);
	tmap_topology_free(t);
}

static struct test_result
lint_run(void)
{
	char root[160];

	snprintf(root, sizeof(root), "%s/root", lint_dir);
	mkdir(root, 0755);
	return RUN("lint", "--topology", LINT_HOST, "--state", lint_state, "--root", root);
}

static int
lint_setup(void **state)
{
	(void)state;
	strcpy(lint_dir, "/tmp/topomap-lint-XXXXXX");
	assert_non_null(mkdtemp(lint_dir));
	snprintf(lint_state, sizeof(lint_state), "%s/state.json", lint_dir);
	return 0;
}

static int
lint_teardown(void **state)
{
	(void)state;
	return test_remove_tree(lint_dir);
}

/* Trap: a dedicated guest whose SMT sibling belongs to another guest; thread policy isolate
 * is the fix, and with it the warning goes. */
static void
test_lint_sibling_of_another_guest(void **state)
{
	struct test_result r;

	(void)state;
	lint_make_state("0-1", (const char *const[]){"c:1", "d:1", NULL});
	r = lint_run();
	assert_int_equal(r.status, 4);
	assert_non_null(strstr(r.out, "warning: dedicated guest 'c' holds PU 2, whose SMT sibling 3 belongs to guest 'd'; fix: apply 'c' again with --thread-policy isolate or require"));
	test_result_clear(&r);
	lint_make_state("0-1", (const char *const[]){"c:1:isolate", "d:1:isolate", NULL});
	r = lint_run();
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "no trap found\n");
	test_result_clear(&r);
}

/* Trap: a dedicated guest's sibling in the housekeeping set (and a reserve that splits a
 * core, which put it there). */
static void
test_lint_sibling_housekeeping_and_split_reserve(void **state)
{
	struct test_result r;

	(void)state;
	lint_make_state("0", (const char *const[]){"b:1", NULL});
	r = lint_run();
	assert_int_equal(r.status, 4);
	assert_non_null(strstr(r.out, "warning: dedicated guest 'b' holds PU 1, whose SMT sibling 0 belongs to the housekeeping set; fix: "));
	assert_non_null(strstr(r.out, "warning: the reserve splits a core: PU 0 is reserved, its SMT sibling 1 is not; fix: reserve whole cores (--reserve 0,1, or neither)"));
	test_result_clear(&r);
	/* A split reserve alone, without a guest beside it. */
	lint_make_state("0", (const char *const[]){"a:2", NULL});
	r = lint_run();
	assert_int_equal(r.status, 4);
	assert_non_null(strstr(r.out, "the reserve splits a core"));
	assert_null(strstr(r.out, "dedicated guest"));
	test_result_clear(&r);
}

/* Trap: the running kernel isolates other PUs than the partition (isolcpus= with flags,
 * nohz_full=, the sysfs file); the fix is the fragment host show prints. */
static void
test_lint_kernel_isolation(void **state)
{
	struct test_result r;

	(void)state;
	lint_make_state("0-1", (const char *const[]){"a:2", NULL}); /* isolates 2-3 */
	lint_file("/proc/cmdline", "quiet isolcpus=managed_irq,domain,4-5 nohz_full=2-3 ro\n");
	lint_file("/sys/devices/system/cpu/isolated", "4-5\n");
	r = lint_run();
	assert_int_equal(r.status, 4);
	assert_non_null(strstr(r.out, "warning: the running kernel isolates 4-5 (isolcpus=), the partition isolates 2-3; fix: boot with isolcpus=managed_irq,domain,2-3 nohz_full=2-3 rcu_nocbs=2-3 irqaffinity=0-1"));
	assert_non_null(strstr(r.out, "isolates 4-5 (/sys/devices/system/cpu/isolated)"));
	assert_null(strstr(r.out, "(nohz_full=)"));
	test_result_clear(&r);
	lint_file("/proc/cmdline", "isolcpus=2,3\n");
	lint_file("/sys/devices/system/cpu/isolated", "2-3\n");
	r = lint_run();
	assert_int_equal(r.status, 0);
	test_result_clear(&r);
	/* What host show prints is the fragment lint asks for. */
	r = RUN("host", "show", "--topology", LINT_HOST, "--state", lint_state, "--format", "cmdline");
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "isolcpus=managed_irq,domain,2-3 nohz_full=2-3 rcu_nocbs=2-3 irqaffinity=0-1\n");
	test_result_clear(&r);
}

/* Trap: irqbalance's banned CPUs disagree with the isolated set, or are not set. */
static void
test_lint_irqbalance(void **state)
{
	struct test_result r;

	(void)state;
	lint_make_state("0-1", (const char *const[]){"a:2", NULL});
	lint_file("/etc/default/irqbalance", "#IRQBALANCE_BANNED_CPULIST=2-3\nIRQBALANCE_BANNED_CPULIST=\"2\"\n");
	r = lint_run();
	assert_int_equal(r.status, 4);
	assert_non_null(strstr(r.out, "warning: /etc/default/irqbalance bans 2 from irqbalance, the partition isolates 2-3; fix: IRQBALANCE_BANNED_CPULIST=2-3 there"));
	test_result_clear(&r);
	lint_file("/etc/default/irqbalance", "IRQBALANCE_BANNED_CPULIST=2,3\n");
	r = lint_run();
	assert_int_equal(r.status, 0);
	test_result_clear(&r);
}

/* Trap: a task allowed on several PUs, all inside the isolated set. */
static void
test_lint_multi_pu_task(void **state)
{
	struct test_result r;

	(void)state;
	lint_make_state("0-1", (const char *const[]){"a:2", NULL});
	lint_file("/proc/77/cgroup", "0::/system.slice/x.service\n");
	lint_file("/proc/77/task/78/status", "Name:\tworker\nPPid:\t1\nCpus_allowed_list:\t2-3\n");
	lint_file("/proc/77/task/78/stat", "78 (worker) S 1 1 1 0 -1 4194304 0\n");
	lint_file("/proc/77/task/79/status", "Name:\tpinned\nPPid:\t1\nCpus_allowed_list:\t2\n");
	lint_file("/proc/77/task/79/stat", "79 (pinned) S 1 1 1 0 -1 4194304 0\n");
	r = lint_run();
	assert_int_equal(r.status, 4);
	assert_non_null(strstr(r.out, "warning: task 78 (pid 77, 'worker') may run on PUs 2-3 inside the isolated set 2-3, where the scheduler does not balance: it stays on one of them; fix: pin each thread to one PU (taskset -pc PU 78)"));
	assert_null(strstr(r.out, "'pinned'"));
	test_result_clear(&r);
}

int
main(void)
{
	const struct CMUnitTest cgroup_tests[] = {
		cmocka_unit_test_setup_teardown(test_intruders_cgroup_v1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_host_cli, setup_all, teardown_all),
		cmocka_unit_test_setup_teardown(test_isolate_cgroup_v1, setup_all, teardown_all),
		cmocka_unit_test_setup_teardown(test_isolate_root_tasks_cgroup_v1, setup_isoroot,
						teardown_isolapply),
		cmocka_unit_test_setup_teardown(test_pool_follow_cgroup_v1, setup_pool,
						teardown_isolapply),
		cmocka_unit_test_setup_teardown(test_emulator_share_host_cgroup_v1, setup_pool,
						teardown_isolapply),
		cmocka_unit_test_setup_teardown(test_pool_isolates_again_cgroup_v1, setup_poolnarrow,
						teardown_poolnarrow),
		cmocka_unit_test_setup_teardown(test_apply_after_isolate_cgroup_v1, setup_isolapply,
						teardown_isolapply),
	};
	const struct CMUnitTest unit_tests[] = {
		cmocka_unit_test(test_partition_traps),
		cmocka_unit_test_setup_teardown(test_lint_sibling_of_another_guest, lint_setup,
						lint_teardown),
		cmocka_unit_test_setup_teardown(test_lint_sibling_housekeeping_and_split_reserve,
						lint_setup, lint_teardown),
		cmocka_unit_test_setup_teardown(test_lint_kernel_isolation, lint_setup, lint_teardown),
		cmocka_unit_test_setup_teardown(test_lint_irqbalance, lint_setup, lint_teardown),
		cmocka_unit_test_setup_teardown(test_lint_multi_pu_task, lint_setup, lint_teardown),
	};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pinned_kernel_threads),
		cmocka_unit_test(test_refusals),
	};
	struct stat st;
	int r = cmocka_run_group_tests(unit_tests, NULL, NULL);

	if (r)
		return r;
	if (geteuid() != 0 || stat(CPUSET_ROOT "/cpuset.cpus", &st) < 0 ||
	    sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return 77;
	return cmocka_run_group_tests(tests, NULL, NULL) |
	       cmocka_run_group_tests(cgroup_tests, NULL, NULL);
}
