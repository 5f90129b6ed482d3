/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The cgroup backend for real: the cgroup v1 cpuset hierarchy of this machine kind
 * (shared/ENVIRONMENT.md), driven through the built CLI ($TOPOMAP_BIN) and the library, with a
 * sleeping process in the cgroups so that what the kernel enforces on a task is read in /proc,
 * not only what the files say.
 *
 * Each test works below its own /sys/fs/cgroup/cpuset/topomap-test-<pid> (and the same path
 * in the cpu hierarchy), which teardown removes whatever happened, after killing the sleeper.
 * Expected sets come from the library's plan for the live host, never from hard-coded CPUs.
 *
 * Skips (77) only when not root or when the host has no cgroup v1 cpuset hierarchy; the v2 path
 * runs for real in the nested guest (tests/vm). The resolver's refusal of symlinks is tried on a
 * plain directory tree, through path.c compiled in: cgroupfs cannot hold a symlink.
 */
#include <dirent.h>
#include <fcntl.h>
#include <hwloc.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include <topomap/backend.h>
#include <topomap/session.h>

#include "path.h"
#include "testlib.h"

extern char **environ;

/* The host, found once in main(). */
static char cpuset_mount[1024]; /* the v1 cpuset hierarchy */
static char cpu_mount[1024];    /* the v1 cpu hierarchy, or "" */
static char host_cpus[256];	    /* the root cpuset's, list syntax */
static char host_mems[256];
static int pu0 = -1, pu1 = -1; /* the first two PUs of host_cpus; pu1 -1 with one PU */
static char name[64];	       /* topomap-test-<pid>: the tests' cgroup below the root */

/* Per test. */
static char base[1200];	    /* cpuset_mount/name */
static char cpu_base[1200]; /* cpu_mount/name, or "" */
static pid_t sleeper = -1;
/* Each test's allocation state: apply records there, verify reads what apply recorded. */
static char state_file[64];

/* ---------------------------------------------------------------------------------------- */
/* Helpers */

/* A formatted path, in one of a few rotating buffers: enough for one call's arguments, not to
 * keep. */
static const char *_printf_(1, 2)
at(const char *fmt, ...)
{
	static char bufs[8][PATH_MAX];
	static unsigned next;
	char *buf = bufs[next++ % 8];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, PATH_MAX, fmt, ap);
	va_end(ap);
	return buf;
}

/* A file's content without its trailing newline (malloc()ed), or NULL. */
static char *
slurp(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	char buf[65536];
	size_t len = 0;
	ssize_t n;

	if (fd < 0)
		return NULL;
	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	if (len && buf[len - 1] == '\n')
		buf[len - 1] = '\0';
	return strdup(buf);
}

static void
assert_file(const char *path, const char *want)
{
	_cleanup_free_ char *have = slurp(path);

	if (!have)
		fail_msg("cannot read %s: %s", path, strerror(errno));
	if (!streq(have, want))
		fail_msg("%s is '%s', expected '%s'", path, have, want);
}

static int
put(const char *path, const char *value)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, value, strlen(value)) < 0)
		return -errno;
	return 0;
}

static void
must_put(const char *path, const char *value)
{
	int r = put(path, value);

	if (r < 0)
		fail_msg("cannot write '%s' to %s: %s", value, path, strerror(-r));
}

static bool
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* A task's "Cpus_allowed_list" or "Mems_allowed_list", malloc()ed. */
static char *
task_field(pid_t pid, const char *key)
{
	_cleanup_free_ char *status = slurp(at("/proc/%d/status", (int)pid));
	size_t n = strlen(key);

	for (char *p = status; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, key, n) == 0 && p[n] == ':') {
			p += n + 1;
			p += strspn(p, " \t");
			return strndup(p, strcspn(p, "\n"));
		}
	return NULL;
}

static void
assert_task(pid_t pid, const char *cpus, const char *mems)
{
	_cleanup_free_ char *c = task_field(pid, "Cpus_allowed_list");
	_cleanup_free_ char *m = task_field(pid, "Mems_allowed_list");

	assert_non_null(c);
	assert_non_null(m);
	if (!streq(c, cpus) || !streq(m, mems))
		fail_msg("task %d: Cpus_allowed_list '%s', Mems_allowed_list '%s'; expected '%s', '%s'",
			 (int)pid, c, m, cpus, mems);
}

/* Remove a cgroup and every cgroup below it, children first. */
static void
remove_tree(const char *path)
{
	DIR *dir = opendir(path);
	struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir)))
		if (de->d_type == DT_DIR && !streq(de->d_name, ".") && !streq(de->d_name, ".."))
			remove_tree(at("%s/%s", path, de->d_name));
	closedir(dir);
	if (rmdir(path) < 0 && errno != ENOENT)
		print_message("teardown: cannot remove %s: %s\n", path, strerror(errno));
}

static void
move_in(const char *cgroup, pid_t pid)
{
	char value[32];

	snprintf(value, sizeof(value), "%d", (int)pid);
	must_put(at("%s/tasks", cgroup), value);
}

/* ---------------------------------------------------------------------------------------- */
/* Running topomap */


static void
expect(const struct test_result *r, int status)
{
	if (r->status != status)
		fail_msg("exit %d, expected %d\nstdout: %s\nstderr: %s", r->status, status, r->out,
			 r->err);
}

static void
assert_contains(const char *text, const char *what)
{
	if (!strstr(text, what))
		fail_msg("'%s' not found in:\n%s", what, text);
}

/* ---------------------------------------------------------------------------------------- */
/* Plans, from the library, for what the CLI should have put in force */

static struct tmap_topology *live;

static struct tmap_plan *
plan_for(const char *json, int reserve)
{
	struct tmap_guests *g = test_guests(json);
	struct tmap_plan *p;
	char r[16];

	snprintf(r, sizeof(r), "%d", reserve);
	p = test_solve(live, g, reserve >= 0 ? r : NULL);
	tmap_guests_free(g);
	return p;
}

static const char *
pu_text(int pu)
{
	return at("%d", pu);
}

/* ---------------------------------------------------------------------------------------- */
/* Fixture */

static int
setup(void **state)
{
	const char *argv[] = {"/bin/sleep", "300", NULL};

	snprintf(base, sizeof(base), "%s/%s", cpuset_mount, name);
	snprintf(cpu_base, sizeof(cpu_base), "%s%s%s", cpu_mount, cpu_mount[0] ? "/" : "",
		 cpu_mount[0] ? name : "");
	/* Leftovers of a run that was killed before its teardown. */
	remove_tree(base);
	if (cpu_base[0])
		remove_tree(cpu_base);
	if (mkdir(base, 0755) < 0 || put(at("%s/cpuset.mems", base), host_mems) < 0 ||
	    put(at("%s/cpuset.cpus", base), host_cpus) < 0) {
		print_message("setup: cannot make %s: %s\n", base, strerror(errno));
		return -1;
	}
	snprintf(state_file, sizeof(state_file), "/tmp/topomap-test-cgroup-%d.json", (int)getpid());
	unlink(state_file);
	setenv("TOPOMAP_STATE", state_file, 1);
	if (posix_spawn(&sleeper, argv[0], NULL, NULL, (char **)argv, environ) != 0) {
		sleeper = -1;
		print_message("setup: cannot start %s\n", argv[0]);
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	/* Tasks first: a cgroup with a task in it cannot be removed. */
	if (sleeper > 0) {
		kill(sleeper, SIGKILL);
		waitpid(sleeper, NULL, 0);
		sleeper = -1;
	}
	remove_tree(base);
	if (cpu_base[0])
		remove_tree(cpu_base);
	if (state_file[0]) {
		unlink(state_file);
		unlink(at("%s.lock", state_file));
		unsetenv("TOPOMAP_STATE");
	}
	return 0;
}

static void
need_two_pus(void)
{
	if (pu1 < 0) {
		print_message("this host has one PU; the test needs two\n");
		skip();
	}
}

/* ---------------------------------------------------------------------------------------- */
/* Tests */

/* apply --create, a task in the cgroup, verify in force, apply again with the task there,
 * then drift behind topomap's back. */
static void
test_apply_verify_drift(void **state)
{
	struct tmap_plan *p1 = plan_for("{\"name\": \"ct\", \"vcpus\": 1}", -1);
	const char *cpus1 = tmap_plan_cpuset(p1, 0), *mems = tmap_plan_memory_nodeset(p1, 0);
	char ct[PATH_MAX], rel[128];
	struct tmap_plan *p2;
	const char *cpus2;
	char first[16];
	struct test_result r;

	need_two_pus();
	snprintf(ct, sizeof(ct), "%s/ct", base);
	snprintf(rel, sizeof(rel), "%s/ct", name);

	r = RUN("apply", "--backend=cgroup", "--cgroup", rel, "--create", "--topology", "live",
		"--name", "ct", "--vcpus", "1");
	expect(&r, 0);
	assert_string_equal(r.err, "");
	assert_contains(r.out, at("create cgroup %s\n", ct));
	assert_contains(r.out, at("write '%s' to %s/cpuset.mems\n", mems, ct));
	assert_contains(r.out, at("write '%s' to %s/cpuset.cpus\n", cpus1, ct));
	test_result_clear(&r);
	assert_file(at("%s/cpuset.cpus", ct), cpus1);
	assert_file(at("%s/cpuset.mems", ct), mems);
	move_in(ct, sleeper);
	assert_task(sleeper, cpus1, mems);

	r = RUN("verify", "--backend=cgroup", "--cgroup", rel, "--name", "ct", "--vcpus", "1");
	expect(&r, 0);
	assert_contains(r.out, "the plan is in force");
	test_result_clear(&r);

	/* The same cgroup, now with a task, moved to another PU: the task follows. */
	assert_int_equal(strspn(cpus1, "0123456789"), strlen(cpus1));
	snprintf(first, sizeof(first), "%d", atoi(cpus1));
	p2 = plan_for("{\"name\": \"ct\", \"vcpus\": 1}", atoi(cpus1));
	cpus2 = tmap_plan_cpuset(p2, 0);
	assert_string_not_equal(cpus1, cpus2);
	/* A recorded guest's PU cannot be reserved under it: release it, then apply anew. */
	r = RUN("release", "ct");
	expect(&r, 0);
	test_result_clear(&r);
	r = RUN("apply", "--backend=cgroup", "--cgroup", rel, "--reserve", first, "--name", "ct",
		"--vcpus", "1");
	expect(&r, 0);
	test_result_clear(&r);
	assert_task(sleeper, cpus2, mems);
	r = RUN("verify", "--backend=cgroup", "--cgroup", rel, "--reserve", first, "--name",
		"ct", "--vcpus", "1");
	expect(&r, 0);
	test_result_clear(&r);

	/* Behind topomap's back: every host CPU. The file and the task both drift. */
	must_put(at("%s/cpuset.cpus", ct), host_cpus);
	r = RUN("verify", "--backend=cgroup", "--cgroup", rel, "--reserve", first, "--name",
		"ct", "--vcpus", "1");
	expect(&r, 4);
	assert_contains(r.out, at("cpuset.cpus of '%s' is '%s', the plan says '%s'", rel,
				  host_cpus, cpus2));
	assert_contains(r.out, at("task %d (guest): Cpus_allowed_list '%s' is not within the plan's '%s'",
				  (int)sleeper, host_cpus, cpus2));
	assert_contains(r.err, "topomap: guest 'ct' drifted from its plan");
	test_result_clear(&r);

	tmap_plan_free(p1);
	tmap_plan_free(p2);
}

/* --dry-run prints the writes and makes none: files, the task and the tree stay. */
static void
test_dry_run(void **state)
{
	static const char *const files[] = {"cpuset.cpus", "cpuset.mems", "cpuset.memory_migrate"};
	struct tmap_plan *p = plan_for("{\"name\": \"ct\", \"vcpus\": 1}", pu0);
	char *before[3], *task_cpus, *task_mems;
	char ct[PATH_MAX], rel[128], rel_new[128];
	struct test_result r;

	need_two_pus();
	snprintf(ct, sizeof(ct), "%s/ct", base);
	snprintf(rel, sizeof(rel), "%s/ct", name);
	snprintf(rel_new, sizeof(rel_new), "%s/new/ct", name);
	assert_int_equal(mkdir(ct, 0755), 0);
	must_put(at("%s/cpuset.mems", ct), host_mems);
	must_put(at("%s/cpuset.cpus", ct), pu_text(pu0));
	move_in(ct, sleeper);
	for (size_t i = 0; i < 3; i++)
		before[i] = slurp(at("%s/%s", ct, files[i]));
	task_cpus = task_field(sleeper, "Cpus_allowed_list");
	task_mems = task_field(sleeper, "Mems_allowed_list");

	r = RUN("apply", "--backend=cgroup", "--dry-run", "--memory-migrate", "--cgroup", rel,
		"--reserve", pu_text(pu0), "--name", "ct", "--vcpus", "1");
	expect(&r, 0);
	assert_contains(r.out, "dry run, these writes would be made:");
	assert_contains(r.out, at("write '1' to %s/cpuset.memory_migrate\n", ct));
	assert_contains(r.out, at("write '%s' to %s/cpuset.cpus\n", tmap_plan_cpuset(p, 0), ct));
	test_result_clear(&r);
	for (size_t i = 0; i < 3; i++) {
		assert_file(at("%s/%s", ct, files[i]), before[i]);
		free(before[i]);
	}
	assert_task(sleeper, task_cpus, task_mems);
	free(task_cpus);
	free(task_mems);

	/* A path to make: announced, not made. */
	r = RUN("apply", "--backend=cgroup", "--dry-run", "--create", "--cgroup", rel_new,
		"--name", "ct", "--vcpus", "1");
	expect(&r, 0);
	assert_contains(r.out, at("create cgroup %s/new\n", base));
	assert_contains(r.out, at("write '%s' to %s/new/cpuset.cpus\n", host_cpus, base));
	assert_contains(r.out, at("create cgroup %s/new/ct\n", base));
	test_result_clear(&r);
	assert_false(exists(at("%s/new", base)));
	tmap_plan_free(p);
}

/* layout=libvirt: vcpuN, emulator and iothreadN children with the plan's sets; QoS in the
 * cpu hierarchy; a task's role comes from the child it sits in. */
static void
test_libvirt_layout(void **state)
{
	struct tmap_plan *p = plan_for(
		"{\"name\": \"vm\", \"vcpus\": 2, \"iothreads\": 1, \"qos\": {\"shares\": 512, "
		"\"period\": 100000, \"quota\": 50000}}", -1);
	const char *mems = tmap_plan_memory_nodeset(p, 0);
	const char *emulator = tmap_plan_emulator_cpuset(p, 0);
	char vm[PATH_MAX], rel[128];
	struct test_result r;

	need_two_pus();
	if (!cpu_mount[0]) {
		print_message("no v1 cpu hierarchy for the QoS part\n");
		skip();
	}
	snprintf(vm, sizeof(vm), "%s/vm", base);
	snprintf(rel, sizeof(rel), "%s/vm", name);

	r = RUN("apply", "--backend=cgroup", "--cgroup", rel, "--create", "--layout", "libvirt",
		"--name", "vm", "--vcpus", "2", "--iothreads", "1", "--shares", "512", "--period",
		"100000", "--quota", "50000");
	expect(&r, 0);
	test_result_clear(&r);
	assert_file(at("%s/cpuset.cpus", vm), tmap_plan_cpuset(p, 0));
	assert_file(at("%s/cpuset.mems", vm), mems);
	for (unsigned v = 0; v < 2; v++) {
		assert_file(at("%s/vcpu%u/cpuset.cpus", vm, v), tmap_plan_vcpu_cpuset(p, 0, v));
		assert_file(at("%s/vcpu%u/cpuset.mems", vm, v), mems);
	}
	assert_file(at("%s/emulator/cpuset.cpus", vm), emulator);
	assert_file(at("%s/iothread1/cpuset.cpus", vm), emulator);
	assert_file(at("%s/iothread1/cpuset.mems", vm), mems);
	assert_false(exists(at("%s/iothread2", vm)));
	assert_file(at("%s/vm/cpu.shares", cpu_base), "512");
	assert_file(at("%s/vm/cpu.cfs_period_us", cpu_base), "100000");
	assert_file(at("%s/vm/cpu.cfs_quota_us", cpu_base), "50000");

	/* One "vcpu 1 thread": pinned by the child it is in, checked against vcpu 1's PU. */
	move_in(at("%s/vcpu1", vm), sleeper);
	assert_task(sleeper, tmap_plan_vcpu_cpuset(p, 0, 1), mems);
	r = RUN("verify", "--backend=cgroup", "--cgroup", rel, "--layout", "libvirt", "--name",
		"vm", "--vcpus", "2", "--iothreads", "1");
	expect(&r, 0);
	test_result_clear(&r);

	/* QoS is verified too: in force, then cpu.shares changed behind topomap's back. */
	r = RUN("verify", "--backend=cgroup", "--cgroup", rel, "--layout", "libvirt", "--name",
		"vm", "--vcpus", "2", "--iothreads", "1", "--shares", "512", "--period", "100000",
		"--quota", "50000");
	expect(&r, 0);
	test_result_clear(&r);
	must_put(at("%s/vm/cpu.shares", cpu_base), "1024");
	r = RUN("verify", "--backend=cgroup", "--cgroup", rel, "--layout", "libvirt", "--name",
		"vm", "--vcpus", "2", "--iothreads", "1", "--shares", "512", "--period", "100000",
		"--quota", "50000");
	expect(&r, 4);
	assert_contains(r.out, at("cpu.shares of '%s' is '1024', the plan says '512'", rel));
	test_result_clear(&r);
	must_put(at("%s/vm/cpu.shares", cpu_base), "512");

	/* vcpu1's child given vcpu0's PU: the set and the thread drift. */
	must_put(at("%s/vcpu1/cpuset.cpus", vm), tmap_plan_vcpu_cpuset(p, 0, 0));
	r = RUN("verify", "--backend=cgroup", "--cgroup", rel, "--layout", "libvirt", "--name",
		"vm", "--vcpus", "2", "--iothreads", "1");
	expect(&r, 4);
	assert_contains(r.out, at("cpuset.cpus of '%s/vcpu1' is '%s', the plan says '%s'", rel,
				  tmap_plan_vcpu_cpuset(p, 0, 0), tmap_plan_vcpu_cpuset(p, 0, 1)));
	assert_contains(r.out, at("task %d (vcpu 1): Cpus_allowed_list '%s'", (int)sleeper,
				  tmap_plan_vcpu_cpuset(p, 0, 0)));
	test_result_clear(&r);
	tmap_plan_free(p);
}

/*
 * cpu_policy mixed (issue 21), layout=libvirt: with the shared pool the live host's second
 * PU, vcpu 0 (dedicated) gets the first PU in its vcpu0 child, vcpu 1 (shared), the emulator
 * and the iothread the pool in theirs; verify finds it in force, then drift of either part.
 */
static void
test_mixed_libvirt_layout(void **state)
{
	char ded[16], pool[16], vm[PATH_MAX], rel[128], *recorded;
	struct test_result r;

	need_two_pus();
	snprintf(ded, sizeof(ded), "%d", pu0);
	snprintf(pool, sizeof(pool), "%d", pu1);
	snprintf(vm, sizeof(vm), "%s/vm", base);
	snprintf(rel, sizeof(rel), "%s/vm", name);
#define MIXED_GUEST "--name", "vm", "--vcpus", "2", "--iothreads", "1", "--cpu-policy", "mixed", \
	"--dedicated-cpus", "0"
	r = RUN("apply", "--backend=cgroup", "--cgroup", rel, "--create", "--layout", "libvirt",
		"--shared-set", pool, MIXED_GUEST);
	expect(&r, 0);
	test_result_clear(&r);
	assert_file(at("%s/cpuset.cpus", vm), host_cpus);
	assert_file(at("%s/vcpu0/cpuset.cpus", vm), ded);
	assert_file(at("%s/vcpu1/cpuset.cpus", vm), pool);
	assert_file(at("%s/emulator/cpuset.cpus", vm), pool);
	assert_file(at("%s/iothread1/cpuset.cpus", vm), pool);
	recorded = slurp(state_file);
	assert_non_null(recorded);
	assert_contains(recorded, "\"dedicated_cpus\":\"0\"");
	free(recorded);

	/* A "vcpu 0 thread" pinned by its child; in force, read back from the state. */
	move_in(at("%s/vcpu0", vm), sleeper);
	assert_task(sleeper, ded, host_mems);
	r = RUN("verify", "--backend=cgroup", "--cgroup", rel, "--layout", "libvirt", MIXED_GUEST);
	expect(&r, 0);
	test_result_clear(&r);

	/* The dedicated part drifts onto the pool: its child and its thread. */
	must_put(at("%s/vcpu0/cpuset.cpus", vm), pool);
	r = RUN("verify", "--backend=cgroup", "--cgroup", rel, "--layout", "libvirt", MIXED_GUEST);
	expect(&r, 4);
	assert_contains(r.out, at("cpuset.cpus of '%s/vcpu0' is '%s', the plan says '%s'", rel,
				  pool, ded));
	assert_contains(r.out, at("task %d (vcpu 0): Cpus_allowed_list '%s'", (int)sleeper, pool));
	test_result_clear(&r);
	must_put(at("%s/vcpu0/cpuset.cpus", vm), ded);

	/* The shared part drifts onto the dedicated PU. */
	must_put(at("%s/vcpu1/cpuset.cpus", vm), ded);
	r = RUN("verify", "--backend=cgroup", "--cgroup", rel, "--layout", "libvirt", MIXED_GUEST);
	expect(&r, 4);
	assert_contains(r.out, at("cpuset.cpus of '%s/vcpu1' is '%s', the plan says '%s'", rel,
				  ded, pool));
	test_result_clear(&r);
#undef MIXED_GUEST
}

/*
 * The parent narrowed to one PU, the plan wants the other: --memory-migrate and the mems
 * write succeed, the cpus write fails. The transaction restores every captured file, and the
 * task in the cgroup is as it was.
 */
static void
test_rollback_existing(void **state)
{
	static const char *const files[] = {"cpuset.cpus", "cpuset.mems", "cpuset.memory_migrate"};
	struct tmap_plan *p = plan_for("{\"name\": \"ct\", \"vcpus\": 1}", pu0);
	char *before[3], *task_cpus, *task_mems;
	char ct[PATH_MAX], rel[128];
	struct test_result r;

	need_two_pus();
	snprintf(ct, sizeof(ct), "%s/ct", base);
	snprintf(rel, sizeof(rel), "%s/ct", name);
	assert_int_equal(mkdir(ct, 0755), 0);
	must_put(at("%s/cpuset.mems", ct), host_mems);
	must_put(at("%s/cpuset.cpus", ct), pu_text(pu0));
	must_put(at("%s/cpuset.cpus", base), pu_text(pu0));
	move_in(ct, sleeper);
	for (size_t i = 0; i < 3; i++)
		before[i] = slurp(at("%s/%s", ct, files[i]));
	assert_string_equal(before[2], "0");
	task_cpus = task_field(sleeper, "Cpus_allowed_list");
	task_mems = task_field(sleeper, "Mems_allowed_list");

	r = RUN("apply", "--backend=cgroup", "--memory-migrate", "--cgroup", rel, "--reserve",
		pu_text(pu0), "--name", "ct", "--vcpus", "1");
	expect(&r, 1);
	assert_string_equal(r.out, "");
	assert_contains(r.err, at("topomap: apply: cpuset.cpus of '%s': '%s' is outside the parent's '%d'",
				  rel, tmap_plan_cpuset(p, 0), pu0));
	assert_contains(r.err, "restored what was there");
	test_result_clear(&r);

	for (size_t i = 0; i < 3; i++) {
		assert_file(at("%s/%s", ct, files[i]), before[i]);
		free(before[i]);
	}
	assert_task(sleeper, task_cpus, task_mems);
	assert_file(at("%s/cpuset.cpus", base), pu_text(pu0));
	free(task_cpus);
	free(task_mems);
	tmap_plan_free(p);
}

/* The same failure on a path apply had to make, two levels deep: both levels go again. */
static void
test_rollback_created(void **state)
{
	struct tmap_plan *p = plan_for("{\"name\": \"ct\", \"vcpus\": 1}", pu0);
	char rel[128];
	struct test_result r;

	need_two_pus();
	snprintf(rel, sizeof(rel), "%s/new/ct", name);
	must_put(at("%s/cpuset.cpus", base), pu_text(pu0));

	r = RUN("apply", "--backend=cgroup", "--create", "--cgroup", rel, "--reserve",
		pu_text(pu0), "--name", "ct", "--vcpus", "1");
	expect(&r, 1);
	assert_contains(r.err, at("topomap: apply: cpuset.cpus of '%s': '%s' is outside the parent's '%d'",
				  rel, tmap_plan_cpuset(p, 0), pu0));
	assert_contains(r.err, "restored what was there");
	test_result_clear(&r);
	assert_false(exists(at("%s/new", base)));
	assert_file(at("%s/cpuset.cpus", base), pu_text(pu0));
	assert_file(at("%s/cpuset.mems", base), host_mems);
	tmap_plan_free(p);
}

/* Paths that leave the hierarchy, name its root or a file, or a missing cgroup without
 * --create: refused as bad input (exit 2) before anything is made. */
static void
test_bad_paths(void **state)
{
	char up_from_name[128], up_from_mount[PATH_MAX + 128], sibling[PATH_MAX + 128];
	char outside[PATH_MAX + 96], file[128];
	struct {
		const char *path;
		const char *message;
	} cases[] = {
		{"../..", "cgroup '../..' leaves the hierarchy through '..'"},
		{up_from_name, "leaves the hierarchy through '..'"},
		{up_from_mount, "leaves the hierarchy through '..'"},
		{"/etc", outside},
		{sibling, "is outside the cpuset hierarchy"},
		{cpuset_mount, "is the root of the cpuset hierarchy"},
		{file, "is not a directory"},
	};
	char missing[128];
	struct test_result r;

	snprintf(up_from_name, sizeof(up_from_name), "%s/../../etc", name);
	snprintf(up_from_mount, sizeof(up_from_mount), "%s/../%s", cpuset_mount, name);
	/* A sibling whose name starts like the mount's: a prefix is not a parent. */
	snprintf(sibling, sizeof(sibling), "%s-x/%s", cpuset_mount, name);
	snprintf(outside, sizeof(outside), "cgroup '/etc' is outside the cpuset hierarchy mounted at %s",
		 cpuset_mount);
	snprintf(file, sizeof(file), "%s/cpuset.cpus", name);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		r = RUN("apply", "--backend=cgroup", "--create", "--cgroup", cases[i].path,
			"--name", "ct", "--vcpus", "1");
		expect(&r, 2);
		assert_string_equal(r.out, "");
		assert_contains(r.err, "topomap: open: ");
		assert_contains(r.err, cases[i].message);
		test_result_clear(&r);
	}
	r = RUN("verify", "--backend=cgroup", "--cgroup", "../..", "--name", "ct", "--vcpus", "1");
	expect(&r, 2);
	test_result_clear(&r);

	snprintf(missing, sizeof(missing), "%s/missing", name);
	r = RUN("apply", "--backend=cgroup", "--cgroup", missing, "--name", "ct", "--vcpus", "1");
	expect(&r, 2);
	assert_contains(r.err, at("cgroup '%s' does not exist under %s (use --create)", missing,
				  cpuset_mount));
	test_result_clear(&r);
	assert_false(exists(at("%s/missing", base)));
}

/*
 * What the plan needs and is missing without --create (the cgroup in the cpu hierarchy for
 * QoS, a vcpuN child of the libvirt layout) is refused at the open step, before any write:
 * exit 2, "nothing was changed", and nothing was.
 */
static void
test_missing_without_create(void **state)
{
	char ct[PATH_MAX], vm[PATH_MAX], rel[128];
	_cleanup_free_ char *cpus_before = NULL, *vcpu0_before = NULL;
	struct test_result r;

	if (!cpu_mount[0]) {
		print_message("no v1 cpu hierarchy\n");
		skip();
	}
	/* In the cpuset hierarchy only. */
	snprintf(ct, sizeof(ct), "%s/ct", base);
	snprintf(rel, sizeof(rel), "%s/ct", name);
	if (mkdir(ct, 0755) < 0)
		fail_msg("mkdir %s: %s", ct, strerror(errno));
	must_put(at("%s/cpuset.mems", ct), host_mems);
	must_put(at("%s/cpuset.cpus", ct), host_cpus);
	cpus_before = slurp(at("%s/cpuset.cpus", ct));
	r = RUN("apply", "--backend=cgroup", "--cgroup", rel, "--reserve", pu_text(pu0), "--name",
		"ct", "--vcpus", "1", "--shares", "512");
	expect(&r, 2);
	assert_string_equal(r.err, at("topomap: open: cgroup '%s' does not exist under %s (use --create): nothing was changed\n",
				      rel, cpu_mount));
	test_result_clear(&r);
	assert_file(at("%s/cpuset.cpus", ct), cpus_before);
	assert_false(exists(at("%s/%s", cpu_base, "ct")));

	/* The libvirt layout with vcpu0 and no vcpu1. */
	snprintf(vm, sizeof(vm), "%s/vm", base);
	snprintf(rel, sizeof(rel), "%s/vm", name);
	if (mkdir(vm, 0755) < 0 || mkdir(at("%s/vcpu0", vm), 0755) < 0)
		fail_msg("mkdir %s: %s", vm, strerror(errno));
	must_put(at("%s/cpuset.mems", vm), host_mems);
	must_put(at("%s/cpuset.cpus", vm), host_cpus);
	must_put(at("%s/vcpu0/cpuset.mems", vm), host_mems);
	must_put(at("%s/vcpu0/cpuset.cpus", vm), host_cpus);
	vcpu0_before = slurp(at("%s/vcpu0/cpuset.cpus", vm));
	r = RUN("apply", "--backend=cgroup", "--cgroup", rel, "--layout", "libvirt", "--name", "vm",
		"--vcpus", "2", "--cpu-policy", "shared");
	expect(&r, 2);
	assert_string_equal(r.err, at("topomap: open: cgroup '%s/vcpu1' does not exist under %s (use --create): nothing was changed\n",
				      rel, cpuset_mount));
	test_result_clear(&r);
	assert_file(at("%s/vcpu0/cpuset.cpus", vm), vcpu0_before);
	assert_file(at("%s/cpuset.cpus", vm), cpus_before);
	assert_false(exists(at("%s/vcpu1", vm)));
	assert_false(exists(at("%s/emulator", vm)));
}

/* The library, as an orchestrator would call it: load, probe, dry run, apply, verify. */
/*
 * apply whose report cannot be printed (stdout closed, /dev/full, a reader that quit): the
 * cgroup keeps its pins and the state records them, so the next apply never hands out the
 * same PU; the failure says it was applied and recorded. Started with stdout closed, the
 * report never lands in a file topomap opened (the state's lock took fd 1 before).
 */
static int
apply_with_stdout(const char *how, const char *rel, const char *guest, const char *statefile,
		  char **ret_err)
{
	const char *bin = getenv("TOPOMAP_BIN");
	char *const argv[] = {(char *)bin, "apply", "--backend=cgroup", "--cgroup", (char *)rel,
			      "--create", "--topology", "live", "--name", (char *)guest,
			      "--vcpus", "1", "--state", (char *)statefile, NULL};
	int perr[2], pout[2], status;
	pid_t pid;

	assert_non_null(bin);
	assert_int_equal(pipe(perr), 0);
	assert_int_equal(pipe(pout), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(perr[1], STDERR_FILENO);
		if (streq(how, "closed")) {
			close(STDOUT_FILENO);
		} else if (streq(how, "full")) {
			int fd = open("/dev/full", O_WRONLY);

			dup2(fd, STDOUT_FILENO);
		} else { /* a pipe whose reader quit */
			close(pout[0]);
			dup2(pout[1], STDOUT_FILENO);
		}
		close(perr[0]);
		close(perr[1]);
		close(pout[1]);
		signal(SIGPIPE, SIG_DFL);
		execv(bin, argv);
		_exit(127);
	}
	close(perr[1]);
	close(pout[0]);
	close(pout[1]);
	{
		char buf[4096];
		ssize_t n = read(perr[0], buf, sizeof(buf) - 1);

		buf[n > 0 ? n : 0] = '\0';
		*ret_err = strdup(buf);
	}
	close(perr[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
test_output_failure_recorded(void **state)
{
	static const char *const hows[] = {"closed", "full", "pipe"};
	char dir[] = "/tmp/topomap-test-out-XXXXXX", statefile[128], lock[160];
	char taken[16][32];

	need_two_pus();
	assert_non_null(mkdtemp(dir));
	snprintf(statefile, sizeof(statefile), "%s/state.json", dir);
	snprintf(lock, sizeof(lock), "%s.lock", statefile);
	for (size_t i = 0; i < sizeof(hows) / sizeof(hows[0]); i++) {
		char rel[128], guest[32], *err = NULL, *cpus;
		struct test_result r;
		int status;

		snprintf(guest, sizeof(guest), "ct%zu", i);
		snprintf(rel, sizeof(rel), "%s/%s", name, guest);
		status = apply_with_stdout(hows[i], rel, guest, statefile, &err);
		if (status == 3) { /* a host with fewer PUs than cases: what ran is enough */
			free(err);
			break;
		}
		assert_int_equal(status, 1);
		assert_contains(err, "applied and recorded; could not print the report");
		free(err);
		/* in force, and recorded */
		cpus = slurp(at("%s/%s/cpuset.cpus", base, guest));
		snprintf(taken[i], sizeof(taken[i]), "%s", cpus);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(taken[i], taken[j]);
		free(cpus);
		r = RUN("state", "--state", statefile);
		expect(&r, 0);
		assert_contains(r.out, guest);
		test_result_clear(&r);
		/* nothing was written into the lock */
		cpus = slurp(lock);
		assert_string_equal(cpus ? cpus : "", "");
		free(cpus);
	}
	unlink(lock);
	unlink(statefile);
	rmdir(dir);
}

/* The recorded reserve is the union of every --reserve: a second one adds, never replaces. */
static void
test_reserve_union(void **state)
{
	char dir[] = "/tmp/topomap-test-res-XXXXXX", statefile[128], lock[160], rel[128];
	char reserve[64];
	struct test_result r;

	need_two_pus();
	assert_non_null(mkdtemp(dir));
	snprintf(statefile, sizeof(statefile), "%s/state.json", dir);
	snprintf(lock, sizeof(lock), "%s.lock", statefile);
	snprintf(rel, sizeof(rel), "%s/r1", name);
	snprintf(reserve, sizeof(reserve), "%d", pu0);
	r = RUN("apply", "--backend=cgroup", "--cgroup", rel, "--create", "--topology", "live",
		"--name", "r1", "--vcpus", "1", "--reserve", reserve, "--state", statefile);
	expect(&r, 0);
	test_result_clear(&r);
	snprintf(reserve, sizeof(reserve), "%d", pu1);
	r = RUN("release", "r1", "--state", statefile);
	expect(&r, 0);
	test_result_clear(&r);
	r = RUN("apply", "--backend=cgroup", "--cgroup", rel, "--create", "--topology", "live",
		"--name", "r1", "--vcpus", "1", "--reserve", reserve, "--state", statefile);
	/* Both reserved now: on a 2-PU host nothing is left (the old code replaced the
	 * recorded reserve and put r1 on the first PU); on a larger one r1 lands elsewhere. */
	if (r.status == 3) {
		test_result_clear(&r);
	} else {
		expect(&r, 0);
		test_result_clear(&r);
		r = RUN("plan", "--topology", "live", "--name", "r2", "--vcpus", "1", "--state",
			statefile, "--format", "json");
		assert_true(r.status == 0 || r.status == 3);
		assert_null(strstr(r.out, at("\"cpuset\":\"%d\"", pu0)));
		assert_null(strstr(r.out, at("\"cpuset\":\"%d\"", pu1)));
		test_result_clear(&r);
	}
	r = RUN("state", "--state", statefile, "--format", "json");
	expect(&r, 0);
	test_result_clear(&r);
	unlink(lock);
	unlink(statefile);
	rmdir(dir);
}

/*
 * topomap reserve: the recorded reserve shown, added to and taken from, under the lock; a PU
 * a recorded guest holds is refused, naming the guest.
 */
static void
test_reserve_command(void **state)
{
	char dir[] = "/tmp/topomap-test-rsv-XXXXXX", statefile[128], lock[160], rel[128];
	char held[64], other[16], line[64];
	struct test_result r;
	char *cpus;

	(void)state;
	need_two_pus();
	assert_non_null(mkdtemp(dir));
	snprintf(statefile, sizeof(statefile), "%s/state.json", dir);
	snprintf(lock, sizeof(lock), "%s.lock", statefile);
	snprintf(rel, sizeof(rel), "%s/rs1", name);
	r = RUN("apply", "--backend=cgroup", "--cgroup", rel, "--create", "--topology", "live",
		"--name", "rs1", "--vcpus", "1", "--state", statefile);
	expect(&r, 0);
	test_result_clear(&r);
	cpus = slurp(at("%s/rs1/cpuset.cpus", base));
	assert_non_null(cpus);
	snprintf(held, sizeof(held), "%d", atoi(cpus));
	free(cpus);
	snprintf(other, sizeof(other), "%d", atoi(held) == pu0 ? pu1 : pu0);

	r = RUN("reserve", "--add", held, "--state", statefile);
	expect(&r, 2);
	assert_non_null(strstr(r.err, "guest 'rs1'"));
	test_result_clear(&r);
	r = RUN("reserve", "--add", other, "--state", statefile);
	expect(&r, 0);
	snprintf(line, sizeof(line), "reserved: %s\n", other);
	assert_string_equal(r.out, line);
	test_result_clear(&r);
	r = RUN("reserve", "--state", statefile);
	expect(&r, 0);
	assert_string_equal(r.out, line);
	test_result_clear(&r);
	/* Nothing is free now: a second guest does not fit. */
	r = RUN("plan", "--topology", "live", "--name", "rs2", "--vcpus", "1", "--state", statefile);
	assert_int_equal(r.status, 3);
	test_result_clear(&r);
	r = RUN("reserve", "--remove", other, "--state", statefile);
	expect(&r, 0);
	assert_string_equal(r.out, "reserved: none\n");
	test_result_clear(&r);
	r = RUN("reserve", "--add", "0-", "--state", statefile);
	expect(&r, 2);
	test_result_clear(&r);
	r = RUN("release", "rs1", "--state", statefile);
	expect(&r, 0);
	test_result_clear(&r);
	rmdir(at("%s/rs1", base));
	unlink(lock);
	unlink(statefile);
	rmdir(dir);
}

/*
 * topomap adopt: a container pinned by hand (its cpuset written directly, a task in it) is
 * recorded as it is pinned, and later plans go around it; adopting it twice, or a second
 * container on a PU a recorded guest holds, is refused naming that guest. Nothing is written.
 */
static void
test_adopt_by_hand(void **state)
{
	char hand[PATH_MAX], hand2[PATH_MAX], rel[128], rel2[128], pu[16], other[16];
	struct test_result r;
	char *cpus;

	(void)state;
	need_two_pus();
	snprintf(pu, sizeof(pu), "%d", pu1);
	snprintf(other, sizeof(other), "%d", pu0);
	snprintf(hand, sizeof(hand), "%s/hand", base);
	snprintf(rel, sizeof(rel), "%s/hand", name);
	assert_int_equal(mkdir(hand, 0755), 0);
	assert_int_equal(put(at("%s/cpuset.mems", hand), host_mems), 0);
	assert_int_equal(put(at("%s/cpuset.cpus", hand), pu), 0);
	assert_int_equal(put(at("%s/cgroup.procs", hand), at("%d", (int)sleeper)), 0);

	r = RUN("adopt", "--backend=cgroup", "--cgroup", rel, "--name", "hand");
	expect(&r, 0);
	assert_non_null(strstr(r.out, at("adopted 'hand' (backend 'cgroup'): vcpus on PUs %d,", pu1)));
	test_result_clear(&r);
	cpus = slurp(at("%s/cpuset.cpus", hand));
	assert_int_equal(atoi(cpus), pu1); /* untouched */
	free(cpus);
	r = RUN("verify", "--all");
	expect(&r, 0);
	assert_non_null(strstr(r.out, "hand"));
	assert_non_null(strstr(r.out, "in force"));
	test_result_clear(&r);
	/* A guest planned now goes around it. */
	r = RUN("plan", "--topology", "live", "--name", "next", "--vcpus", "1", "--format", "json");
	expect(&r, 0);
	assert_non_null(strstr(r.out, at("\"cpuset\":\"%d\"", pu0)));
	test_result_clear(&r);
	r = RUN("adopt", "--backend=cgroup", "--cgroup", rel, "--name", "hand");
	expect(&r, 2);
	assert_non_null(strstr(r.err, "recorded already"));
	test_result_clear(&r);
	/* A second hand-pinned container on the PU 'hand' holds: refused, naming 'hand'. */
	snprintf(hand2, sizeof(hand2), "%s/hand2", base);
	snprintf(rel2, sizeof(rel2), "%s/hand2", name);
	assert_int_equal(mkdir(hand2, 0755), 0);
	assert_int_equal(put(at("%s/cpuset.mems", hand2), host_mems), 0);
	assert_int_equal(put(at("%s/cpuset.cpus", hand2), pu), 0);
	r = RUN("adopt", "--backend=cgroup", "--cgroup", rel2, "--name", "hand2");
	expect(&r, 2);
	assert_non_null(strstr(r.err, "guest 'hand'"));
	test_result_clear(&r);
	r = RUN("release", "hand");
	expect(&r, 0);
	test_result_clear(&r);
	r = RUN("state", "--format", "json");
	expect(&r, 0);
	assert_null(strstr(r.out, "\"hand\""));
	test_result_clear(&r);
}

/* verify --all: every recorded guest through the target it was applied to, one line each;
 * a cgroup changed by hand is drift, exit 4. */
static void
test_verify_all(void **state)
{
	struct tmap_plan *one = plan_for("{\"name\": \"x\", \"vcpus\": 1}", -1);
	char rel[128];
	struct test_result r;

	snprintf(rel, sizeof(rel), "%s/va", name);
	r = RUN("apply", "--backend=cgroup", "--cgroup", rel, "--create", "--topology", "live",
		"--name", "va", "--vcpus", "1");
	expect(&r, 0);
	test_result_clear(&r);
	r = RUN("verify", "--all", "--topology", "live");
	expect(&r, 0);
	assert_contains(r.out, "va ");
	assert_contains(r.out, "in force (backend 'cgroup')");
	test_result_clear(&r);
	/* by hand: every PU of the host */
	must_put(at("%s/va/cpuset.cpus", base), host_cpus);
	if (strcmp(host_cpus, tmap_plan_cpuset(one, 0)) != 0) {
		r = RUN("verify", "--all", "--topology", "live");
		assert_int_equal(r.status, 4);
		assert_contains(r.out, "drifted (backend 'cgroup')");
		assert_contains(r.err, "1 of 1 recorded guests drifted");
		test_result_clear(&r);
	}
	r = RUN("verify", "--all", "--backend=cgroup");
	assert_int_equal(r.status, 2);
	test_result_clear(&r);
	tmap_plan_free(one);
}

static void
test_library(void **state)
{
	struct tmap_plan *p = plan_for("{\"name\": \"ct\", \"vcpus\": 1}", -1);
	struct tmap_backend_module *m = NULL;
	struct tmap_target *target = NULL;
	struct tmap_report *report = NULL;
	struct tmap_error err = {0};
	const struct tmap_backend *b;
	char rel[128];

	snprintf(rel, sizeof(rel), "%s/lib", name);
	if (tmap_backend_load("cgroup", &m, &err) < 0)
		fail_msg("load: %s", err.message);
	b = tmap_backend_descriptor(m);
	assert_string_equal(b->name, "cgroup");
	assert_int_equal(b->probe(&err), 0);
	assert_int_equal(tmap_target_new(&target), 0);
	assert_int_equal(tmap_target_set(target, "cgroup", rel), 0);
	assert_int_equal(tmap_target_set(target, "create", ""), 0);

	assert_int_equal(tmap_apply(m, target, p, 0, TMAP_APPLY_DRY_RUN, &report, &err), 0);
	assert_true(tmap_report_write_count(report) >= 3);
	assert_string_equal(tmap_report_write(report, 0), at("create cgroup %s/lib", base));
	assert_false(exists(at("%s/lib", base)));
	report = tmap_report_free(report);

	if (tmap_apply(m, target, p, 0, 0, &report, &err) < 0)
		fail_msg("apply: %s", err.message);
	report = tmap_report_free(report);
	assert_file(at("%s/lib/cpuset.cpus", base), tmap_plan_cpuset(p, 0));
	assert_int_equal(tmap_verify(m, target, p, 0, 0, &report, &err), 0);
	assert_int_equal(tmap_report_drift_count(report), 0);
	report = tmap_report_free(report);

	/* The identity: the directory as resolved, whatever words named it. */
	{
		struct tmap_target *id = NULL, *other = NULL;

		assert_int_equal(tmap_target_new(&id), 0);
		if (tmap_backend_identify(m, target, id, &err) < 0)
			fail_msg("identify: %s", err.message);
		assert_string_equal(tmap_target_get(id, "cgroup"), at("%s/lib", base));
		assert_string_equal(tmap_target_get(id, "layout"), "container");
		assert_int_equal(tmap_target_new(&other), 0);
		assert_int_equal(tmap_target_set(other, "cgroup", at("%s//%s/./lib", cpuset_mount, name)), 0);
		assert_int_equal(tmap_target_set(other, "layout", "libvirt"), 0);
		tmap_target_free(id);
		assert_int_equal(tmap_target_new(&id), 0);
		if (tmap_backend_identify(m, other, id, &err) < 0)
			fail_msg("identify: %s", err.message);
		assert_string_equal(tmap_target_get(id, "cgroup"), at("%s/lib", base));
		assert_string_equal(tmap_target_get(id, "layout"), "libvirt");
		tmap_target_free(id);
		tmap_target_free(other);
	}

	/* A key the backend does not declare. */
	assert_int_equal(tmap_target_set(target, "qmp", "/run/x.sock"), 0);
	assert_int_equal(tmap_verify(m, target, p, 0, 0, &report, &err), -EINVAL);
	assert_non_null(strstr(err.message, "--qmp"));

	tmap_report_free(report);
	tmap_target_free(target);
	tmap_backend_unload(m);
	tmap_plan_free(p);
}

/* ---------------------------------------------------------------------------------------- */
/* The resolver on a plain tree, where symlinks and mounts can be planted */

static void
test_normalize(void **state)
{
	static const struct {
		const char *input, *rel;
	} good[] = {
		{"machine.slice/ct1", "machine.slice/ct1"},
		{"a//./b/", "a/b"},
		{"/m/a/b", "a/b"},
		{"/m//a", "a"},
	};
	static const char *const bad[] = {
		"", "..", "a/../b", "a/..", "/m/../x", "/mx/a", "/etc", "/m", "/m/", ".", "a/\nb",
	};
	struct tmap_error err = {0};

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		_cleanup_free_ char *rel = NULL;

		if (cgpath_normalize("/m", good[i].input, &rel, &err) < 0)
			fail_msg("'%s': %s", good[i].input, err.message);
		assert_string_equal(rel, good[i].rel);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char *rel = NULL;

		assert_int_equal(cgpath_normalize("/m", bad[i], &rel, &err), -EINVAL);
		assert_null(rel);
		assert_null(strchr(err.message, '\n'));
	}
}

/* The tree, made by setup and removed by teardown, also after a failed assertion. */
static char tree[] = "/tmp/topomap-resolve-XXXXXX";
static bool tree_mounted;

static int
setup_tree(void **state)
{
	if (!mkdtemp(tree) || mkdir(at("%s/a", tree), 0755) < 0 ||
	    mkdir(at("%s/a/b", tree), 0755) < 0 || mkdir(at("%s/a/mnt", tree), 0755) < 0 ||
	    symlink("/etc", at("%s/a/out", tree)) < 0 || symlink("..", at("%s/a/up", tree)) < 0 ||
	    symlink("b", at("%s/a/in", tree)) < 0 ||
	    close(open(at("%s/a/file", tree), O_CREAT | O_WRONLY | O_CLOEXEC, 0644)) < 0) {
		print_message("setup: cannot make the tree in %s: %s\n", tree, strerror(errno));
		return -1;
	}
	/* A mount inside the tree, where the kernel lets us make one. */
	tree_mounted = mount("none", at("%s/a/mnt", tree), "tmpfs", 0, "size=64k") == 0;
	return 0;
}

static int
teardown_tree(void **state)
{
	static const char *const links[] = {"a/out", "a/up", "a/in", "a/file"};
	static const char *const dirs[] = {"a/mnt", "a/b", "a", ""};

	if (tree_mounted)
		umount2(at("%s/a/mnt", tree), MNT_DETACH);
	for (size_t i = 0; i < ARRAY_SIZE(links); i++)
		unlink(at("%s/%s", tree, links[i]));
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		rmdir(at("%s/%s", tree, dirs[i]));
	return 0;
}

static void
test_resolver(void **state)
{
	_cleanup_close_ int root = open(tree, O_PATH | O_DIRECTORY | O_CLOEXEC);

	assert_true(root >= 0);
	/* openat2(), then the per-component walk of kernels without it. */
	for (int openat2 = 1; openat2 >= 0; openat2--) {
		int fd = cgpath_open_beneath(root, "a/b", openat2);

		assert_true(fd >= 0);
		close(fd);
		assert_int_equal(cgpath_open_beneath(root, "a/out", openat2), -ELOOP);
		assert_int_equal(cgpath_open_beneath(root, "a/out/ssl", openat2), -ELOOP);
		assert_int_equal(cgpath_open_beneath(root, "a/up/a", openat2), -ELOOP);
		/* Even a link that stays inside: a link is never followed. */
		assert_int_equal(cgpath_open_beneath(root, "a/in", openat2), -ELOOP);
		assert_int_equal(cgpath_open_beneath(root, "a/file", openat2), -ENOTDIR);
		assert_int_equal(cgpath_open_beneath(root, "a/none/b", openat2), -ENOENT);
		assert_int_equal(cgpath_open_beneath(root, "/etc", openat2), -EINVAL);
		if (tree_mounted)
			assert_int_equal(cgpath_open_beneath(root, "a/mnt", openat2), -EXDEV);
	}
	if (!tree_mounted)
		print_message("no tmpfs could be mounted here: the other-mount case was not tried\n");
}

/* ---------------------------------------------------------------------------------------- */

/* The v1 cpuset and cpu hierarchies, from /proc/self/mountinfo (fstype "cgroup"). */
static void
find_hierarchies(void)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];

	while (f && fgets(line, sizeof(line), f)) {
		char point[1024], fstype[64], opts[1024];
		const char *sep = strstr(line, " - ");

		if (!sep || sscanf(line, "%*s %*s %*s %*s %1023s", point) != 1 ||
		    sscanf(sep, " - %63s %*s %1023s", fstype, opts) != 2 ||
		    !streq(fstype, "cgroup"))
			continue;
		for (char *save = NULL, *o = strtok_r(opts, ",", &save); o;
		     o = strtok_r(NULL, ",", &save)) {
			if (streq(o, "cpuset") && !cpuset_mount[0])
				snprintf(cpuset_mount, sizeof(cpuset_mount), "%s", point);
			if (streq(o, "cpu") && !cpu_mount[0])
				snprintf(cpu_mount, sizeof(cpu_mount), "%s", point);
		}
	}
	if (f)
		fclose(f);
}

/* ---------------------------------------------------------------------------------------- */
/* Killed at random points: the next writing session makes target and state agree */

#define CRASH_GUESTS 2
#define CRASH_ROUNDS 200

/* Each guest's target: base/kN, and the children its layout has. */
struct crash {
	const char *layout;
	const char *const *children;
	char orig[CRASH_GUESTS][1024];	/* every cpuset.cpus and .mems of the target, as made */
};

/* Every cpuset file of guest i's target, "file=value;" each, parent first. */
static void
crash_snapshot(const struct crash *c, int i, char *buf, size_t size)
{
	size_t n = 0;

	for (int k = -1; k < 0 || c->children[k]; k++) {
		const char *dir = k < 0 ? at("%s/k%d", base, i) : at("%s/k%d/%s", base, i, c->children[k]);
		_cleanup_free_ char *cpus = slurp(at("%s/cpuset.cpus", dir));
		_cleanup_free_ char *mems = slurp(at("%s/cpuset.mems", dir));

		n += (size_t)snprintf(buf + n, size - n, "%s=%s/%s;", k < 0 ? "." : c->children[k],
				      cpus ? cpus : "?", mems ? mems : "?");
		if (n >= size)
			fail_msg("snapshot of k%d too long", i);
	}
}

/* Guest i's target as the operator first made it: the whole host, parent first. */
static void
crash_reset(const struct crash *c, int i)
{
	must_put(at("%s/k%d/cpuset.cpus", base, i), host_cpus);
	must_put(at("%s/k%d/cpuset.mems", base, i), host_mems);
	for (int k = 0; c->children[k]; k++) {
		must_put(at("%s/k%d/%s/cpuset.cpus", base, i, c->children[k]), host_cpus);
		must_put(at("%s/k%d/%s/cpuset.mems", base, i, c->children[k]), host_mems);
	}
}

/* topomap apply of guest kI onto its target, as an operator types it. */
struct crash_cmd {
	char rel[128], guest[16];
	char *argv[16];
};

static char **
crash_argv(struct crash_cmd *cmd, const struct crash *c, int i)
{
	const char *argv[] = {getenv("TOPOMAP_BIN"), "apply", "--backend=cgroup", "--cgroup",
			      cmd->rel, "--layout", c->layout, "--name", cmd->guest, "--vcpus", "1",
			      "--topology", "live", "--state", state_file, NULL};

	snprintf(cmd->rel, sizeof(cmd->rel), "%s/k%d", name, i);
	snprintf(cmd->guest, sizeof(cmd->guest), "k%d", i);
	memcpy(cmd->argv, argv, sizeof(argv));
	return cmd->argv;
}

/*
 * The next writing session (it settles what a kill left pending); then each guest and its
 * target agree: recorded means verified in force through its recorded target, unrecorded
 * means every file as the operator made it. Each recorded guest is then released and its
 * target reset, so that each round applies a new guest. Returns the notices (settled).
 */
static unsigned
crash_check(const struct crash *c)
{
	struct tmap_session_options o = TMAP_SESSION_OPTIONS_INIT;
	struct tmap_session *session = NULL;
	struct tmap_error err = {0};
	unsigned settled;

	o.state = state_file;
	o.flags = TMAP_SESSION_WRITE;
	if (tmap_session_open(&o, &session, &err) < 0)
		fail_msg("the session after a kill does not open: %s", err.message);
	settled = (unsigned)tmap_session_notice_count(session);
	for (int i = 0; i < CRASH_GUESTS; i++) {
		char guest[16], now[1024];

		snprintf(guest, sizeof(guest), "k%d", i);
		if (tmap_session_lookup(session, guest)) {
			int r = tmap_session_verify(session, guest, NULL, &err);

			if (r != 0)
				fail_msg("k%d is recorded but not in force (%d): %s", i, r, err.message);
			assert_int_equal(tmap_session_release(session, guest, &err), 0);
			crash_reset(c, i);
			continue;
		}
		crash_snapshot(c, i, now, sizeof(now));
		if (!streq(now, c->orig[i]))
			fail_msg("k%d is not recorded but its target was changed: %s (was %s)", i, now,
				 c->orig[i]);
	}
	tmap_session_close(session);
	return settled;
}

static void
crash_layout(struct crash *c)
{
	unsigned killed = 0, finished = 0, settled = 0;
	uint32_t seed = 20261205;
	long span_us = 0;

	need_two_pus();
	for (int i = 0; i < CRASH_GUESTS; i++) {
		assert_int_equal(mkdir(at("%s/k%d", base, i), 0755), 0);
		for (int k = 0; c->children[k]; k++)
			assert_int_equal(mkdir(at("%s/k%d/%s", base, i, c->children[k]), 0755), 0);
		crash_reset(c, i);
		crash_snapshot(c, i, c->orig[i], sizeof(c->orig[i]));
	}
	/* How long a whole apply takes here: the kills fall anywhere in 1.2 times that. */
	for (int i = 0; i < 3; i++) {
		struct crash_cmd cmd;

		span_us += test_run_timed_us(crash_argv(&cmd, c, i % CRASH_GUESTS));
		crash_check(c);
	}
	span_us = span_us / 3 * 6 / 5 + 1;
	for (int round = 0; round < CRASH_ROUNDS; round++) {
		struct crash_cmd cmd;
		pid_t pid = test_spawn_quiet(crash_argv(&cmd, c, round % CRASH_GUESTS));
		bool k = test_kill_at_random(pid, &seed, span_us);

		killed += k;
		finished += !k;
		settled += crash_check(c);
	}
	print_message("layout %s: %u applies killed midway, %u finished first (within %ld us), "
		      "%u pending guests settled; target and state agreed after each\n",
		      c->layout, killed, finished, span_us, settled);
	assert_true(killed > 20);
}

static void
test_killed_container(void **state)
{
	static const char *const none[] = {NULL};
	struct crash c = {"container", none, {""}};

	(void)state;
	crash_layout(&c);
}

static void
test_killed_libvirt_layout(void **state)
{
	static const char *const children[] = {"vcpu0", "emulator", NULL};
	struct crash c = {"libvirt", children, {""}};

	(void)state;
	crash_layout(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize),
		cmocka_unit_test_setup_teardown(test_resolver, setup_tree, teardown_tree),
		cmocka_unit_test_setup_teardown(test_apply_verify_drift, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dry_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_libvirt_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mixed_libvirt_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback_existing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback_created, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_without_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_failure_recorded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reserve_union, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reserve_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adopt_by_hand, setup, teardown),
		cmocka_unit_test_setup_teardown(test_killed_container, setup, teardown),
		cmocka_unit_test_setup_teardown(test_killed_libvirt_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_library, setup, teardown),
	};
	_cleanup_free_ char *cpus = NULL, *mems = NULL;
	hwloc_bitmap_t set;
	int r;

	if (geteuid() != 0) {
		printf("SKIP: the cgroup backend test writes cgroups and needs root\n");
		return 77;
	}
	find_hierarchies();
	if (!cpuset_mount[0]) {
		printf("SKIP: no cgroup v1 cpuset hierarchy on this host (the v2 path runs in tests/vm)\n");
		return 77;
	}
	cpus = slurp(at("%s/cpuset.cpus", cpuset_mount));
	mems = slurp(at("%s/cpuset.mems", cpuset_mount));
	if (!cpus || !mems || !cpus[0] || !mems[0]) {
		fprintf(stderr, "cannot read the root cpuset of %s\n", cpuset_mount);
		return 1;
	}
	snprintf(host_cpus, sizeof(host_cpus), "%s", cpus);
	snprintf(host_mems, sizeof(host_mems), "%s", mems);
	set = hwloc_bitmap_alloc();
	hwloc_bitmap_list_sscanf(set, host_cpus);
	pu0 = hwloc_bitmap_first(set);
	pu1 = hwloc_bitmap_next(set, pu0);
	hwloc_bitmap_free(set);
	snprintf(name, sizeof(name), "topomap-test-%d", (int)getpid());

	live = test_topology("live");
	r = cmocka_run_group_tests(tests, NULL, NULL);
	tmap_topology_free(live);
	return r;
}
