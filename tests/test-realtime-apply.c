/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Realtime vcpus put in force on real threads (issue 21), through the command as an operator
 * runs it: a real QEMU under TCG through qemu-direct (vcpu threads from QMP), and sleeping
 * processes in the vcpuN children of a cgroup v1 cpuset laid out as libvirt lays out a
 * domain. Each apply is read back with sched_getscheduler(), verify finds drift made behind
 * topomap's back, and an apply refused midway by the kernel (EPERM: the thread's cpu cgroup
 * has no realtime budget, CONFIG_RT_GROUP_SCHED) says how to fix it and leaves every thread's
 * affinity and class as they were; a mixed guest's realtime vcpu (issue 21) through both, its
 * shared vcpu left SCHED_OTHER on the pool. Needs root; skips without QEMU or without the
 * cgroups.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "testlib.h"
#include "qemulib.h"

#define CPUSET_ROOT "/sys/fs/cgroup/cpuset"
#define CPU_ROOT "/sys/fs/cgroup/cpu"
/* Names of their own, so that other tests running beside these never meet them. */
#define CPU_CG CPU_ROOT "/topomap-realtime-test"
#define CPUSET_CG "topomap-realtime-test"

static struct test_qemu qemu;
static pid_t sleepers[2] = {-1, -1};


static void
write_or_fail(const char *path, const char *text)
{
	if (!test_write_existing(path, text))
		fail_msg("cannot write '%s' to %s: %s", text, path, strerror(errno));
}

static void
move_task(const char *tasks, pid_t tid)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%d", (int)tid);
	write_or_fail(tasks, buf);
}

/* Every cgroup this program made, gone; the threads back in the roots first. */
static void
cleanup_cgroups(void)
{
	static const char *const dirs[] = {
	    CPUSET_ROOT "/" CPUSET_CG "/vcpu0", CPUSET_ROOT "/" CPUSET_CG "/vcpu1",
	    CPUSET_ROOT "/" CPUSET_CG "/emulator", CPUSET_ROOT "/" CPUSET_CG, CPU_CG,
	};

	for (size_t i = 0; i < 2; i++)
		if (sleepers[i] > 0) {
			kill(sleepers[i], SIGKILL);
			waitpid(sleepers[i], NULL, 0);
			sleepers[i] = -1;
		}
	if (qemu.pid > 0) {
		/* QEMU's threads out of the cpu cgroup before it goes. */
		test_qemu_stop(&qemu);
	}
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		rmdir(dirs[i]);
}

static void
on_signal(int sig)
{
	test_qemu_kill_from_signal(&qemu);
	for (size_t i = 0; i < 2; i++)
		if (sleepers[i] > 0)
			kill(sleepers[i], SIGKILL);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* The class and priority of thread tid, "SCHED_FIFO 3", into buf. */
static const char *
class_of(pid_t tid, char *buf, size_t size)
{
	struct sched_param p = {0};
	int policy = sched_getscheduler(tid);

	if (policy < 0 || sched_getparam(tid, &p) < 0)
		fail_msg("cannot read the class of thread %d: %s", (int)tid, strerror(errno));
	snprintf(buf, size, "%s %d",
		 (policy & ~SCHED_RESET_ON_FORK) == SCHED_FIFO	 ? "SCHED_FIFO"
		 : (policy & ~SCHED_RESET_ON_FORK) == SCHED_OTHER ? "SCHED_OTHER"
								  : "another",
		 p.sched_priority);
	return buf;
}

static void
expect_class(pid_t tid, const char *want)
{
	char buf[64];

	if (!streq(class_of(tid, buf, sizeof(buf)), want))
		fail_msg("thread %d runs %s, not %s", (int)tid, buf, want);
}

static void
set_other(pid_t tid)
{
	struct sched_param p = {0};

	if (sched_setscheduler(tid, SCHED_OTHER, &p) < 0)
		fail_msg("sched_setscheduler(%d, SCHED_OTHER): %s", (int)tid, strerror(errno));
}

/* The Cpus_allowed_list of thread tid. */
static char *
affinity_of(pid_t tid)
{
	char path[64], line[256];
	char *found = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	f = fopen(path, "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "Cpus_allowed_list:", 18) == 0) {
			found = strdup(line + 18 + strspn(line + 18, " \t"));
			found[strcspn(found, "\n")] = '\0';
		}
	fclose(f);
	assert_non_null(found);
	return found;
}


/* Run topomap with the arguments (NULL-terminated); out and err for the caller to free. */
static int
topomap(char **out, char **err, ...)
{
	char *argv[48] = {getenv("TOPOMAP_BIN")};
	size_t n = 1;
	va_list ap;

	assert_non_null(argv[0]);
	va_start(ap, err);
	for (char *a = va_arg(ap, char *); a && n < ARRAY_SIZE(argv) - 1; a = va_arg(ap, char *))
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	return test_run(argv, NULL, out, err);
}

/* The tid of thread `name` ("CPU 1/TCG") of process pid, or -1. */
static pid_t
find_thread_named(pid_t pid, const char *name)
{
	char dir[64], path[384], comm[64];
	struct dirent *de;
	pid_t found = -1;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d))) {
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/comm", dir, de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f)) {
			comm[strcspn(comm, "\n")] = '\0';
			if (streq(comm, name))
				found = (pid_t)atoi(de->d_name);
		}
		fclose(f);
	}
	closedir(d);
	return found;
}

/* The same, waiting for QEMU to name its threads (a moment after QMP greets). */
static pid_t
thread_named(pid_t pid, const char *name)
{
	long deadline = test_now_ms() + TEST_QMP_WAIT_MS;
	pid_t tid;

	while ((tid = find_thread_named(pid, name)) < 0 && test_now_ms() < deadline)
		usleep(20000);
	if (tid < 0)
		fail_msg("QEMU %d has no thread '%s'", (int)pid, name);
	return tid;
}

/* A cpu cgroup without a realtime budget, as every new one is under CONFIG_RT_GROUP_SCHED;
 * false when this kernel has no such thing. */
static bool
make_cpu_cgroup(void)
{
	if (access(CPU_ROOT "/cpu.rt_runtime_us", F_OK) < 0)
		return false;
	if (mkdir(CPU_CG, 0755) < 0 && errno != EEXIST)
		fail_msg("mkdir %s: %s", CPU_CG, strerror(errno));
	write_or_fail(CPU_CG "/cpu.rt_runtime_us", "0");
	return true;
}

/* A QEMU of 2 vcpus under TCG named by `name` (-name's value), in a directory `prefix`: its
 * state file's path (128 bytes), its pid as text (32) and its vcpu threads; skips without
 * QEMU. */
static void
start_qemu(const char *name, const char *prefix, char *statefile, char *pid, pid_t *vcpu0,
	   pid_t *vcpu1)
{
	const char *const args[] = {"-accel", "tcg,thread=multi", "-smp", "2", "-m", "128",
				    "-name", name, NULL};

	if (!test_have_qemu())
		skip();
	if (test_qemu_init(&qemu, prefix) < 0)
		fail();
	test_qemu_start(&qemu, args);
	snprintf(statefile, 128, "%s/state.json", qemu.dir);
	snprintf(pid, 32, "%d", (int)qemu.pid);
	*vcpu0 = thread_named(qemu.pid, "CPU 0/TCG");
	*vcpu1 = thread_named(qemu.pid, "CPU 1/TCG");
}

/* ------------------------------------------------------------------------------------- */

static void
qemu_direct_realtime(void **state)
{
	char statefile[128], pid[32];
	char *out = NULL, *err = NULL, *before[2];
	pid_t vcpu0, vcpu1;
	int r;

	(void)state;
	start_qemu("guest=rt-realtime,debug-threads=on", "topomap-realtime", statefile, pid, &vcpu0, &vcpu1);

#define QD(cmd, ...)                                                                              \
	topomap(&out, &err, cmd, "--backend=qemu-direct", "--qmp", qemu.sock, "--pid", pid,       \
		"--state", statefile, "--name", "rt", "--vcpus", "2", "--memory", "128",          \
		"--realtime-cpus", "1", "--realtime-priority", "3", __VA_ARGS__)

	/* vcpu 1 alone runs SCHED_FIFO at the priority asked; vcpu 0 stays as it was. */
	r = QD("apply", NULL);
	test_expect_exit(r, 0, "apply", out, err);
	test_expect_text(out, "sched_setscheduler(tid");
	free(out);
	free(err);
	expect_class(vcpu1, "SCHED_FIFO 3");
	expect_class(vcpu0, "SCHED_OTHER 0");
	r = QD("verify", NULL);
	test_expect_exit(r, 0, "verify", out, err);
	free(out);
	free(err);

	/* The guest read from QEMU (no guest options, a state of its own) has the realtime
	 * vcpu it runs: an apply keeps vcpu 1 SCHED_FIFO priority 3. */
	{
		char other[160];

		snprintf(other, sizeof(other), "%s/described.json", qemu.dir);
		r = topomap(&out, &err, "apply", "--backend=qemu-direct", "--qmp", qemu.sock,
			    "--pid", pid, "--state", other, NULL);
		test_expect_exit(r, 0, "apply of the guest read from QEMU", out, err);
		free(out);
		free(err);
		expect_class(vcpu1, "SCHED_FIFO 3");
		expect_class(vcpu0, "SCHED_OTHER 0");
		unlink(other);
		strcat(other, ".lock");
		unlink(other);
	}

	/* Drift made behind topomap's back: verify names the vcpu and both classes. */
	set_other(vcpu1);
	r = QD("verify", NULL);
	test_expect_exit(r, 4, "verify after drift", out, err);
	test_expect_text(out, "vcpu 1 (thread ");
	test_expect_text(out, "runs SCHED_OTHER priority 0, the plan says SCHED_FIFO priority 3");
	free(out);
	free(err);

	/*
	 * All or nothing: vcpu 1's thread in a cpu cgroup without a realtime budget. Every thread
	 * first floats over both PUs, so that the affinity apply writes before the refusal is
	 * seen to go back.
	 */
	if (!make_cpu_cgroup()) {
		print_message("skipped the EPERM case: no cpu.rt_runtime_us (no CONFIG_RT_GROUP_SCHED)\n");
		return;
	}
	move_task(CPU_CG "/tasks", vcpu1);
	{
		cpu_set_t all;

		CPU_ZERO(&all);
		CPU_SET(0, &all);
		CPU_SET(1, &all);
		assert_int_equal(sched_setaffinity(vcpu0, sizeof(all), &all), 0);
		assert_int_equal(sched_setaffinity(vcpu1, sizeof(all), &all), 0);
	}
	before[0] = affinity_of(vcpu0);
	before[1] = affinity_of(vcpu1);
	r = QD("apply", NULL);
	test_expect_exit(r, 1, "apply without a realtime budget", out, err);
	test_expect_text(err, "cannot make vcpu 1 (thread ");
	test_expect_text(err, "has no realtime budget (CONFIG_RT_GROUP_SCHED)");
	test_expect_text(err, "echo 950000 > " CPU_CG "/cpu.rt_runtime_us");
	free(out);
	free(err);
	expect_class(vcpu1, "SCHED_OTHER 0");
	for (int i = 0; i < 2; i++) {
		char *now = affinity_of(i ? vcpu1 : vcpu0);

		if (!streq(now, before[i]))
			fail_msg("vcpu %d is on '%s' after the refused apply, not '%s'", i, now,
				 before[i]);
		free(now);
		free(before[i]);
	}

	/* The fix the message names works. */
	write_or_fail(CPU_CG "/cpu.rt_runtime_us", "10000");
	r = QD("apply", NULL);
	test_expect_exit(r, 0, "apply with a budget", out, err);
	free(out);
	free(err);
	expect_class(vcpu1, "SCHED_FIFO 3");
	move_task(CPU_ROOT "/tasks", vcpu1);
#undef QD
}

/* Thread tid's affinity is `want`, or fail naming `what`. */
static void
expect_affinity(pid_t tid, const char *what, const char *want)
{
	char *now = affinity_of(tid);

	if (!streq(now, want))
		fail_msg("%s (thread %d) is on '%s', not '%s'", what, (int)tid, now, want);
	free(now);
}

/*
 * A mixed guest's realtime vcpu (issue 21) through qemu-direct: with the shared pool PU 0,
 * vcpu 1 dedicated and realtime on PU 1 runs SCHED_FIFO priority 4, vcpu 0 floats over the
 * pool and stays SCHED_OTHER; verify clean; either vcpu's class changed by hand is drift,
 * named; an apply puts both back.
 */
static void
qemu_direct_mixed_realtime(void **state)
{
	char statefile[128], pid[32], want[160];
	char *out = NULL, *err = NULL;
	pid_t vcpu0, vcpu1;
	int r;

	(void)state;
	start_qemu("guest=rt-mixed,debug-threads=on", "topomap-rtmixed", statefile, pid, &vcpu0, &vcpu1);

#define QDM(cmd)                                                                                  \
	topomap(&out, &err, cmd, "--backend=qemu-direct", "--qmp", qemu.sock, "--pid", pid,       \
		"--state", statefile, "--name", "rtm", "--vcpus", "2", "--memory", "128",         \
		"--cpu-policy", "mixed", "--dedicated-cpus", "1", "--shared-set", "0",            \
		"--realtime-cpus", "1", "--realtime-priority", "4", NULL)

	r = QDM("apply");
	test_expect_exit(r, 0, "apply of a mixed guest with a realtime vcpu", out, err);
	test_expect_text(out, "sched_setscheduler(tid");
	free(out);
	free(err);
	expect_class(vcpu1, "SCHED_FIFO 4");
	expect_class(vcpu0, "SCHED_OTHER 0");
	expect_affinity(vcpu1, "vcpu 1, dedicated", "1");
	expect_affinity(vcpu0, "vcpu 0, shared", "0");
	r = QDM("verify");
	test_expect_exit(r, 0, "verify", out, err);
	free(out);
	free(err);

	/* The realtime vcpu made SCHED_OTHER by hand. */
	set_other(vcpu1);
	r = QDM("verify");
	test_expect_exit(r, 4, "verify after vcpu 1 made SCHED_OTHER", out, err);
	snprintf(want, sizeof(want), "vcpu 1 (thread %d) runs SCHED_OTHER priority 0, the plan says SCHED_FIFO priority 4",
		 (int)vcpu1);
	test_expect_text(out, want);
	free(out);
	free(err);

	/* The shared vcpu made SCHED_FIFO by hand, the realtime one put back by an apply. */
	{
		struct sched_param p = {.sched_priority = 4};

		if (sched_setscheduler(vcpu0, SCHED_FIFO, &p) < 0)
			fail_msg("sched_setscheduler(%d, SCHED_FIFO): %s", (int)vcpu0, strerror(errno));
	}
	r = QDM("verify");
	test_expect_exit(r, 4, "verify after vcpu 0 made SCHED_FIFO", out, err);
	snprintf(want, sizeof(want), "vcpu 0 (thread %d) runs SCHED_FIFO priority 4, the plan does not make it realtime",
		 (int)vcpu0);
	test_expect_text(out, want);
	free(out);
	free(err);
	r = QDM("apply");
	test_expect_exit(r, 0, "apply again", out, err);
	free(out);
	free(err);
	expect_class(vcpu1, "SCHED_FIFO 4");
	expect_class(vcpu0, "SCHED_OTHER 0");
	r = QDM("verify");
	test_expect_exit(r, 0, "verify after the apply", out, err);
	free(out);
	free(err);
#undef QDM
}

/* A sleeping process: one thread, standing for a vcpu thread of a libvirt domain. */
static pid_t
sleeper(void)
{
	pid_t p = fork();

	assert_true(p >= 0);
	if (p == 0) {
		execl("/bin/sleep", "sleep", "300", (char *)NULL);
		_exit(127);
	}
	return p;
}

/*
 * A temporary directory (into dir) with the state file's path (into statefile), and the
 * domain's cgroup as libvirt makes it: vcpu0, vcpu1, emulator, a sleeping process standing
 * for each vcpu thread in its child.
 */
static void
make_layout(char *dir, size_t dsize, char *statefile, size_t ssize)
{
	snprintf(dir, dsize, "/tmp/topomap-realtime-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(statefile, ssize, "%s/state.json", dir);
	mkdir(CPUSET_ROOT "/" CPUSET_CG, 0755);
	write_or_fail(CPUSET_ROOT "/" CPUSET_CG "/cpuset.mems", "0");
	write_or_fail(CPUSET_ROOT "/" CPUSET_CG "/cpuset.cpus", "0-1");
	for (int i = 0; i < 3; i++) {
		static const char *const kids[] = {"vcpu0", "vcpu1", "emulator"};
		char path[160];

		snprintf(path, sizeof(path), CPUSET_ROOT "/" CPUSET_CG "/%s", kids[i]);
		mkdir(path, 0755);
		snprintf(path, sizeof(path), CPUSET_ROOT "/" CPUSET_CG "/%s/cpuset.mems", kids[i]);
		write_or_fail(path, "0");
		snprintf(path, sizeof(path), CPUSET_ROOT "/" CPUSET_CG "/%s/cpuset.cpus", kids[i]);
		write_or_fail(path, "0-1");
	}
	sleepers[0] = sleeper();
	sleepers[1] = sleeper();
	move_task(CPUSET_ROOT "/" CPUSET_CG "/vcpu0/tasks", sleepers[0]);
	move_task(CPUSET_ROOT "/" CPUSET_CG "/vcpu1/tasks", sleepers[1]);
}

/* The layout's files gone, and the directory of the state. */
static void
remove_layout(char *dir, char *statefile)
{
	cleanup_cgroups();
	unlink(statefile);
	strcat(statefile, ".lock");
	unlink(statefile);
	rmdir(dir);
}

static void
cgroup_libvirt_realtime(void **state)
{
	char statefile[160], dir[64];
	char *out = NULL, *err = NULL, *cpus_before;
	int r;

	(void)state;
	if (geteuid() != 0 || access(CPUSET_ROOT "/cpuset.cpus", F_OK) < 0)
		skip();
	make_layout(dir, sizeof(dir), statefile, sizeof(statefile));


#define CG(cmd, ...)                                                                              \
	topomap(&out, &err, cmd, "--backend=cgroup", "--cgroup", CPUSET_CG, "--layout",           \
		"libvirt", "--state", statefile, "--name", "rtcg", "--vcpus", "2",                \
		"--realtime-cpus", "1", __VA_ARGS__)

	/* Without the layout the backend cannot tell a vcpu thread: refused, nothing written. */
	r = topomap(&out, &err, "apply", "--backend=cgroup", "--cgroup", CPUSET_CG, "--state",
		    statefile, "--name", "rtcg", "--vcpus", "2", "--realtime-cpus", "1", NULL);
	test_expect_exit(r, 2, "apply without the libvirt layout", out, err);
	test_expect_text(err, "only --layout libvirt tells the cgroup backend which threads are vcpus");
	free(out);
	free(err);

	r = CG("apply", NULL);
	test_expect_exit(r, 0, "apply", out, err);
	free(out);
	free(err);
	expect_class(sleepers[1], "SCHED_FIFO 1");
	expect_class(sleepers[0], "SCHED_OTHER 0");
	r = CG("verify", NULL);
	test_expect_exit(r, 0, "verify", out, err);
	free(out);
	free(err);
	set_other(sleepers[1]);
	r = CG("verify", NULL);
	test_expect_exit(r, 4, "verify after drift", out, err);
	test_expect_text(out, "runs SCHED_OTHER priority 0, the plan says SCHED_FIFO priority 1");
	free(out);
	free(err);

	/* Refused by the kernel midway: the cpusets written before go back. */
	if (!make_cpu_cgroup()) {
		print_message("skipped the EPERM case: no cpu.rt_runtime_us (no CONFIG_RT_GROUP_SCHED)\n");
		goto out;
	}
	move_task(CPU_CG "/tasks", sleepers[1]);
	write_or_fail(CPUSET_ROOT "/" CPUSET_CG "/vcpu1/cpuset.cpus", "0-1");
	cpus_before = affinity_of(sleepers[1]);
	r = CG("apply", NULL);
	test_expect_exit(r, 1, "apply without a realtime budget", out, err);
	test_expect_text(err, "has no realtime budget (CONFIG_RT_GROUP_SCHED)");
	free(out);
	free(err);
	expect_class(sleepers[1], "SCHED_OTHER 0");
	{
		char *now = affinity_of(sleepers[1]);

		if (!streq(now, cpus_before))
			fail_msg("vcpu 1 is on '%s' after the refused apply, not '%s'", now,
				 cpus_before);
		free(now);
	}
	free(cpus_before);
	move_task(CPU_ROOT "/tasks", sleepers[1]);
out:
	remove_layout(dir, statefile);
#undef CG
}

/*
 * A mixed guest's realtime vcpu (issue 21) in the libvirt layout: with the pool PU 0, vcpu1's
 * child gets PU 1 and its thread SCHED_FIFO, vcpu0's the pool and SCHED_OTHER; verify clean,
 * then the realtime thread made SCHED_OTHER by hand is drift.
 */
static void
cgroup_libvirt_mixed_realtime(void **state)
{
	char statefile[160], dir[64], want[160];
	char *out = NULL, *err = NULL;
	int r;

	(void)state;
	if (geteuid() != 0 || access(CPUSET_ROOT "/cpuset.cpus", F_OK) < 0)
		skip();
	make_layout(dir, sizeof(dir), statefile, sizeof(statefile));

#define CGM(cmd)                                                                                  \
	topomap(&out, &err, cmd, "--backend=cgroup", "--cgroup", CPUSET_CG, "--layout",           \
		"libvirt", "--state", statefile, "--name", "rtmix", "--vcpus", "2",               \
		"--cpu-policy", "mixed", "--dedicated-cpus", "1", "--shared-set", "0",            \
		"--realtime-cpus", "1", "--realtime-priority", "2", NULL)

	r = CGM("apply");
	test_expect_exit(r, 0, "apply of a mixed guest with a realtime vcpu", out, err);
	free(out);
	free(err);
	expect_class(sleepers[1], "SCHED_FIFO 2");
	expect_class(sleepers[0], "SCHED_OTHER 0");
	expect_affinity(sleepers[1], "vcpu 1, dedicated", "1");
	expect_affinity(sleepers[0], "vcpu 0, shared", "0");
	r = CGM("verify");
	test_expect_exit(r, 0, "verify", out, err);
	free(out);
	free(err);
	set_other(sleepers[1]);
	r = CGM("verify");
	test_expect_exit(r, 4, "verify after drift", out, err);
	snprintf(want, sizeof(want), "vcpu 1 (thread %d) runs SCHED_OTHER priority 0, the plan says SCHED_FIFO priority 2",
		 (int)sleepers[1]);
	test_expect_text(out, want);
	free(out);
	free(err);
	remove_layout(dir, statefile);
#undef CGM
}

static int
teardown(void **state)
{
	(void)state;
	cleanup_cgroups();
	if (qemu.dir[0]) {
		char path[128];

		static const char *const files[] = {"state.json", "state.json.lock",
						    "described.json", "described.json.lock"};

		for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
			snprintf(path, sizeof(path), "%s/%s", qemu.dir, files[i]);
			unlink(path);
		}
		test_qemu_cleanup(&qemu);
		qemu.dir[0] = '\0';
	}
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(qemu_direct_realtime, teardown),
	    cmocka_unit_test_teardown(cgroup_libvirt_realtime, teardown),
	    cmocka_unit_test_teardown(qemu_direct_mixed_realtime, teardown),
	    cmocka_unit_test_teardown(cgroup_libvirt_mixed_realtime, teardown),
	};

	qemu.pid = -1;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if (geteuid() != 0) {
		print_message("realtime-apply: needs root (SCHED_FIFO, cgroups): skipped\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
