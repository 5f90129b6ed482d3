/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared guests follow the pool when none is given: each node's pool is its usable PUs that
 * no dedicated guest holds, so a dedicated guest applied later takes its PUs out of the sets
 * of the shared guests there, and gives them back when it is released, each shared guest
 * applied again through the backend and target its state records, in one transaction with
 * the apply or the release.
 *
 * "mock": one node of 4 PUs, every guest its own mock target file; a failure injected at
 * each apply of the transaction (the mock's TOPOMAP_MOCK_FAIL_APPLY) leaves every file and
 * the state as they were.
 *
 * "cgroup": the same through the command on this machine's real cgroup v1 cpuset hierarchy
 * (root; skips elsewhere): a one-node host of this machine's PUs 0 and 1, the shared guest in
 * a real cgroup with a sleeping task, its cpuset.cpus and the task's affinity read back; a
 * write refused at each write of the apply and of the release puts both cgroups, the task and
 * the state file back.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <topomap/backend.h>
#include <topomap/session.h>

#include "testlib.h"

static char dir[] = "/tmp/topomap-follow-XXXXXX";
static char state_path[4096];
static char file_s[4200], file_d[4200];

#define MOCK_HOST "synthetic:pack:1 numa:1(memory=4GiB) core:4 pu:1"

static struct tmap_session *
session(void)
{
	return test_session_write(MOCK_HOST, state_path);
}

static struct tmap_target *
file_target(const char *path)
{
	struct tmap_target *t = NULL;
	FILE *f = fopen(path, "we");

	/* An empty file: the mock captures its target's file before it writes. */
	assert_non_null(f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(tmap_target_new(&t), 0);
	assert_int_equal(tmap_target_set(t, "file", path), 0);
	return t;
}

static struct tmap_guest *
guest(const char *name, unsigned vcpus, enum tmap_cpu_policy policy)
{
	struct tmap_guest *g = NULL;

	assert_int_equal(tmap_guest_new(name, vcpus, &g, NULL), 0);
	assert_int_equal(tmap_guest_set_memory_mib(g, 64), 0);
	assert_int_equal(tmap_guest_set_cpu_policy(g, policy), 0);
	return g;
}

/* Does one of the session's notices hold text? */
static bool
noticed(const struct tmap_session *s, const char *text)
{
	for (size_t i = 0; i < tmap_session_notice_count(s); i++)
		if (strstr(tmap_session_notice(s, i), text))
			return true;
	return false;
}

static int
apply_d(struct tmap_session *s, unsigned vcpus, struct tmap_error *err)
{
	struct tmap_target *t = file_target(file_d);
	struct tmap_guest *g = guest("d", vcpus, TMAP_CPU_DEDICATED);
	int r = tmap_session_apply(s, "mock", t, g, 0, NULL, NULL, err);

	tmap_target_free(t);
	tmap_guest_free(g);
	return r;
}

static int
setup(void **unused)
{
	(void)unused;
	strcpy(dir, "/tmp/topomap-follow-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(state_path, sizeof(state_path), "%s/state.json", dir);
	snprintf(file_s, sizeof(file_s), "%s/s", dir);
	snprintf(file_d, sizeof(file_d), "%s/d", dir);
	setenv("TOPOMAP_PLUGIN_PATH", getenv("TOPOMAP_MOCK_PLUGIN_DIR"), 1);
	return 0;
}

static int
teardown(void **unused)
{
	(void)unused;
	unsetenv("TOPOMAP_MOCK_FAIL_APPLY");
	return test_remove_tree(dir);
}

/* ---------------------------------------------------------------------------------------- */
/* The mock backend */

/* s (shared) floats over the whole node; d (dedicated, 2 PUs) applied next narrows it to the
 * other two in the same transaction, a failure at s's apply or at d's leaving both files and
 * the state as they were; verify finds both in force; d released, s grows back, a failure
 * there leaving d recorded and s narrowed. */
static void
test_mock_apply_release(void **unused)
{
	struct tmap_session *s = session();
	struct tmap_error err = {0};
	char before[65536], at[16];

	(void)unused;
	test_session_apply(s, "mock", file_target(file_s), guest("s", 1, TMAP_CPU_SHARED));
	assert_string_equal(test_slurp(file_s), "0-3");
	tmap_session_close(s);

	/* 1: s's apply, 2: d's. A new session each time: the mock counts its applies per load. */
	snprintf(before, sizeof(before), "%s", test_slurp(state_path));
	for (unsigned nth = 1; nth <= 2; nth++) {
		s = session();
		snprintf(at, sizeof(at), "%u", nth);
		setenv("TOPOMAP_MOCK_FAIL_APPLY", at, 1);
		assert_int_equal(apply_d(s, 2, &err), -ERANGE);
		unsetenv("TOPOMAP_MOCK_FAIL_APPLY");
		assert_int_equal(tmap_session_failed_step(s), TMAP_STEP_APPLY);
		assert_non_null(strstr(err.message, "injected failure"));
		assert_string_equal(test_slurp(file_s), "0-3");
		assert_string_equal(test_slurp(file_d), "");
		assert_string_equal(test_slurp(state_path), before);
		assert_null(tmap_session_lookup(s, "d"));
		assert_int_equal(tmap_session_verify(s, "s", NULL, &err), 0);
		tmap_session_close(s);
	}

	s = session();
	if (apply_d(s, 2, &err) < 0)
		fail_msg("apply d: %s", err.message);
	assert_string_equal(test_slurp(file_d), "0-1");
	assert_string_equal(test_slurp(file_s), "2-3");
	assert_true(noticed(s, "guest 's' follows node 0's pool: cell 0 now floats over 2-3 (was 0-3)"));
	assert_int_equal(tmap_session_verify(s, "s", NULL, &err), 0);
	assert_int_equal(tmap_session_verify(s, "d", NULL, &err), 0);
	/* Applied again as it is: nothing follows, nothing is said. */
	tmap_session_close(s);
	s = session();
	if (apply_d(s, 2, &err) < 0)
		fail_msg("apply d again: %s", err.message);
	assert_false(noticed(s, "follows"));
	tmap_session_close(s);

	/* The release's one apply, s's, fails: nothing released. */
	snprintf(before, sizeof(before), "%s", test_slurp(state_path));
	s = session();
	setenv("TOPOMAP_MOCK_FAIL_APPLY", "1", 1);
	assert_int_equal(tmap_session_release(s, "d", &err), -ERANGE);
	unsetenv("TOPOMAP_MOCK_FAIL_APPLY");
	assert_non_null(strstr(err.message, "release 'd': nothing was released"));
	assert_string_equal(test_slurp(file_s), "2-3");
	assert_string_equal(test_slurp(state_path), before);
	assert_non_null(tmap_session_lookup(s, "d"));
	assert_int_equal(tmap_session_verify(s, "s", NULL, &err), 0);
	tmap_session_close(s);

	s = session();
	if (tmap_session_release(s, "d", &err) < 0)
		fail_msg("release d: %s", err.message);
	assert_string_equal(test_slurp(file_s), "0-3");
	assert_true(noticed(s, "guest 's' follows node 0's pool: cell 0 now floats over 0-3 (was 2-3)"));
	assert_null(tmap_session_lookup(s, "d"));
	assert_int_equal(tmap_session_verify(s, "s", NULL, &err), 0);
	tmap_session_close(s);
	s = session();
	assert_int_equal(tmap_session_notice_count(s), 0);
	assert_int_equal(tmap_session_guest_count(s), 1);
	tmap_session_close(s);
}

/* resize --apply of the dedicated guest takes one more PU from the pool: s follows it in the
 * resize's transaction. */
static void
test_mock_resize(void **unused)
{
	struct tmap_session *s = session();
	struct tmap_error err = {0};

	(void)unused;
	test_session_apply(s, "mock", file_target(file_s), guest("s", 1, TMAP_CPU_SHARED));
	if (apply_d(s, 2, &err) < 0)
		fail_msg("apply d: %s", err.message);
	assert_string_equal(test_slurp(file_s), "2-3");
	if (tmap_session_apply_resize(s, "d", 3, 0, NULL, 0, NULL, NULL, &err) < 0)
		fail_msg("resize d: %s", err.message);
	assert_string_equal(test_slurp(file_d), "0-2");
	assert_string_equal(test_slurp(file_s), "3");
	assert_int_equal(tmap_session_verify(s, "s", NULL, &err), 0);
	tmap_session_close(s);
}

/* A reserve shrinks the implicit pool as a dedicated guest does, and gives it back when it
 * goes: s follows both, in the reserve's transaction; a failure at s's apply leaves the
 * reserve, s's file and the state as they were. */
static void
test_mock_reserve(void **unused)
{
	struct tmap_session *s = session();
	struct tmap_error err = {0};
	char before[65536];

	(void)unused;
	test_session_apply(s, "mock", file_target(file_s), guest("s", 1, TMAP_CPU_SHARED));
	if (tmap_session_set_reserve(s, "3", NULL, &err) < 0)
		fail_msg("reserve: %s", err.message);
	assert_string_equal(test_slurp(file_s), "0-2");
	assert_true(noticed(s, "guest 's' follows node 0's pool: cell 0 now floats over 0-2 (was 0-3)"));
	assert_int_equal(tmap_session_verify(s, "s", NULL, &err), 0);
	tmap_session_close(s);

	snprintf(before, sizeof(before), "%s", test_slurp(state_path));
	s = session();
	setenv("TOPOMAP_MOCK_FAIL_APPLY", "1", 1);
	assert_int_equal(tmap_session_set_reserve(s, NULL, "3", &err), -ERANGE);
	unsetenv("TOPOMAP_MOCK_FAIL_APPLY");
	assert_int_equal(tmap_session_failed_step(s), TMAP_STEP_APPLY);
	assert_non_null(strstr(err.message, "reserve: nothing was changed"));
	assert_string_equal(tmap_session_reserve(s), "3");
	assert_string_equal(test_slurp(file_s), "0-2");
	assert_string_equal(test_slurp(state_path), before);
	tmap_session_close(s);

	s = session();
	if (tmap_session_set_reserve(s, NULL, "3", &err) < 0)
		fail_msg("reserve: %s", err.message);
	assert_null(tmap_session_reserve(s));
	assert_string_equal(test_slurp(file_s), "0-3");
	assert_int_equal(tmap_session_verify(s, "s", NULL, &err), 0);
	tmap_session_close(s);
}

/* TMAP_SESSION_NO_FOLLOW (release --no-follow, libvirt's hook): the release edits the state
 * alone, s keeps its narrowed set and verify says it drifted, naming both sets; applied again
 * in a later session, s takes its node's whole pool. */
static void
test_mock_no_follow(void **unused)
{
	struct tmap_session_options o = TMAP_SESSION_OPTIONS_INIT;
	struct tmap_session *s = session();
	struct tmap_report *report = NULL;
	struct tmap_error err = {0};

	(void)unused;
	test_session_apply(s, "mock", file_target(file_s), guest("s", 1, TMAP_CPU_SHARED));
	if (apply_d(s, 2, &err) < 0)
		fail_msg("apply d: %s", err.message);
	tmap_session_close(s);
	o.topology = MOCK_HOST;
	o.state = state_path;
	o.flags = TMAP_SESSION_WRITE | TMAP_SESSION_NO_FOLLOW;
	if (tmap_session_open(&o, &s, &err) < 0)
		fail_msg("tmap_session_open: %s", err.message);
	assert_int_equal(tmap_session_release(s, "d", &err), 0);
	assert_false(noticed(s, "follows"));
	assert_string_equal(test_slurp(file_s), "2-3");
	assert_int_equal(tmap_session_verify(s, "s", &report, &err), 1);
	assert_int_equal(tmap_report_drift_count(report), 1);
	assert_string_equal(tmap_report_drift(report, 0),
			    "guest 's' cell 0 floats over 2-3, not over node 0's pool 0-3 (its usable PUs that no dedicated guest holds)");
	tmap_report_free(report);
	tmap_session_close(s);

	s = session();
	if (tmap_session_reapply(s, "s", 0, NULL, &err) < 0)
		fail_msg("reapply s: %s", err.message);
	assert_string_equal(test_slurp(file_s), "0-3");
	assert_true(noticed(s, "guest 's' follows node 0's pool: cell 0 now floats over 0-3 (was 2-3)"));
	assert_int_equal(tmap_session_verify(s, "s", NULL, &err), 0);
	tmap_session_close(s);
}

/* A pool given (host set --shared-set): it holds no dedicated PU, so nothing follows a
 * dedicated guest's apply or release. */
static void
test_mock_given_pool(void **unused)
{
	struct tmap_session *s = session();
	struct tmap_error err = {0};

	(void)unused;
	assert_int_equal(tmap_session_set_pool(s, "2-3", 0, 0, NULL, &err), 0);
	test_session_apply(s, "mock", file_target(file_s), guest("s", 1, TMAP_CPU_SHARED));
	assert_string_equal(test_slurp(file_s), "2-3");
	if (apply_d(s, 2, &err) < 0)
		fail_msg("apply d: %s", err.message);
	assert_string_equal(test_slurp(file_d), "0-1");
	assert_int_equal(tmap_session_release(s, "d", &err), 0);
	assert_false(noticed(s, "follows"));
	assert_string_equal(test_slurp(file_s), "2-3");
	assert_int_equal(tmap_session_verify(s, "s", NULL, &err), 0);
	tmap_session_close(s);
}

/* ---------------------------------------------------------------------------------------- */
/* The real cgroup v1 cpuset hierarchy, through the command */

#define TWO_PU_HOST "synthetic:pack:1 numa:1(memory=4GiB) core:2 pu:1"
#define HOST_STATE "--topology", TWO_PU_HOST, "--state", state_path

static char base[256], rel[128], cg_a[300], cg_b[300];
static pid_t sleeper = -1;

/* A file of a cgroup below base. */
static const char *
in_base(const char *cgroup, const char *file)
{
	static char bufs[4][600];
	static unsigned next;
	char *buf = bufs[next++ % 4];

	snprintf(buf, 600, "%s/%s/%s", base, cgroup, file);
	return buf;
}

/* The sleeping task's Cpus_allowed_list, as the kernel enforces it. */
static const char *
task_cpus(void)
{
	return test_task_cpus(sleeper);
}

static int
cg_setup(void **state)
{
	if (setup(state) < 0 ||
	    test_cpuset_scratch("topomap-follow", rel, sizeof(rel), base, sizeof(base)) < 0)
		return -1;
	snprintf(cg_a, sizeof(cg_a), "%s/a", rel);
	snprintf(cg_b, sizeof(cg_b), "%s/b", rel);
	return 0;
}

static int
cg_teardown(void **state)
{
	if (sleeper > 0) {
		kill(sleeper, SIGKILL);
		waitpid(sleeper, NULL, 0);
		sleeper = -1;
	}
	rmdir(in_base("a", ""));
	rmdir(in_base("b", ""));
	rmdir(base);
	return teardown(state);
}

static void
expect_run(int want, const char *const *args, const char *out_has, const char *err_has)
{
	struct test_result r = test_topomap(NULL, args);

	test_expect_exit(r.status, want, args[0], r.out, r.err);
	if (out_has)
		test_expect_text(r.out, out_has);
	if (err_has)
		test_expect_text(r.err, err_has);
	test_result_clear(&r);
}

#define EXPECT(want, out_has, err_has, ...) \
	expect_run(want, (const char *const[]){__VA_ARGS__, NULL}, out_has, err_has)

/* a and its task over both PUs, the state as it was before: after each failure. */
static void
assert_as_before(const char *state_before, const char *a_cpus)
{
	assert_string_equal(test_slurp(in_base("a", "cpuset.cpus")), a_cpus);
	assert_string_equal(task_cpus(), a_cpus);
	assert_string_equal(test_slurp(state_path), state_before);
}

static void
test_cgroup_command(void **unused)
{
	char procs[32], before[65536];
	bool refused_at_b = false;

	(void)unused;
	/* a, shared, on a host without a pool: the whole node. */
	EXPECT(0, NULL, NULL, "apply", "--backend", "cgroup", "--cgroup", cg_a, "--create",
	       HOST_STATE, "--name", "a", "--vcpus", "1", "--memory", "64", "--cpu-policy",
	       "shared");
	assert_string_equal(test_slurp(in_base("a", "cpuset.cpus")), "0-1");
	sleeper = fork();
	assert_true(sleeper >= 0);
	if (sleeper == 0) {
		execl("/bin/sleep", "sleep", "300", (char *)NULL);
		_exit(127);
	}
	snprintf(procs, sizeof(procs), "%d", (int)sleeper);
	assert_true(test_write_existing(in_base("a", "cgroup.procs"), procs));
	assert_string_equal(task_cpus(), "0-1");

	/* b, dedicated: a refused write at each write of the transaction, until one falls on
	 * b's cgroup after a was narrowed: a, its task and the state as they were, exit 1. */
	snprintf(before, sizeof(before), "%s", test_slurp(state_path));
	for (unsigned at = 1; at < 16 && !refused_at_b; at++) {
		struct test_result r;

		test_inject_fault("write", at, 0);
		r = RUN("apply", "--backend", "cgroup", "--cgroup", cg_b, "--create", HOST_STATE,
			"--name", "b", "--vcpus", "1", "--memory", "64");
		test_inject_fault(NULL, 0, 0);
		if (r.status == 0)
			fail_msg("apply b succeeded with write %u refused: %s", at, r.out);
		test_expect_exit(r.status, 1, "apply b, a write refused", r.out, r.err);
		refused_at_b = strstr(r.err, "moving guest") == NULL;
		test_result_clear(&r);
		assert_as_before(before, "0-1");
	}
	assert_true(refused_at_b);
	/* b's cgroup, made by the failed apply, went with it */
	assert_int_equal(access(in_base("b", ""), F_OK), -1);

	EXPECT(0, NULL, "guest 'a' follows node 0's pool: cell 0 now floats over 1 (was 0-1)",
	       "apply", "--backend", "cgroup", "--cgroup", cg_b, "--create", HOST_STATE, "--name",
	       "b", "--vcpus", "1", "--memory", "64");
	assert_string_equal(test_slurp(in_base("b", "cpuset.cpus")), "0");
	assert_string_equal(test_slurp(in_base("a", "cpuset.cpus")), "1");
	assert_string_equal(task_cpus(), "1");
	EXPECT(0, NULL, NULL, "verify", "--all", HOST_STATE);

	/* The release: a refused write at a's cgroup leaves b recorded and a narrowed. */
	snprintf(before, sizeof(before), "%s", test_slurp(state_path));
	test_inject_fault("write", 1, 0);
	EXPECT(1, NULL, "release 'b': nothing was released", "release", "b", HOST_STATE);
	test_inject_fault(NULL, 0, 0);
	assert_as_before(before, "1");
	EXPECT(0, NULL, NULL, "verify", "--all", HOST_STATE);

	EXPECT(0, "released 'b'", "guest 'a' follows node 0's pool: cell 0 now floats over 0-1 (was 1)",
	       "release", "b", HOST_STATE);
	assert_string_equal(test_slurp(in_base("a", "cpuset.cpus")), "0-1");
	assert_string_equal(task_cpus(), "0-1");
	assert_false(test_state_has_guest(state_path, "b"));
	EXPECT(0, NULL, NULL, "verify", "--all", HOST_STATE);

	/* release --no-follow (libvirt's hook): the state alone, a left narrowed and reported
	 * drifted until the next release that writes grows it back. */
	EXPECT(0, NULL, NULL, "apply", "--backend", "cgroup", "--cgroup", cg_b, "--create",
	       HOST_STATE, "--name", "b", "--vcpus", "1", "--memory", "64");
	assert_string_equal(test_slurp(in_base("a", "cpuset.cpus")), "1");
	EXPECT(0, "released 'b'", NULL, "release", "--no-follow", "b", HOST_STATE);
	assert_string_equal(test_slurp(in_base("a", "cpuset.cpus")), "1");
	assert_string_equal(task_cpus(), "1");
	EXPECT(4, "guest 'a' cell 0 floats over 1, not over node 0's pool 0-1", NULL, "verify",
	       "--all", HOST_STATE);
	/* verify of that one guest, with its target, says the same: the cgroup holds what was
	 * recorded, but the record is off the pool. */
	EXPECT(4, "guest 'a' cell 0 floats over 1, not over node 0's pool 0-1",
	       "drifted from its plan: 1 difference", "verify", "--backend", "cgroup", "--cgroup",
	       cg_a, HOST_STATE, "--name", "a", "--vcpus", "1", "--memory", "64", "--cpu-policy",
	       "shared");
	EXPECT(2, NULL, "--no-follow is not an option of state", "state", "--no-follow",
	       HOST_STATE);
}

int
main(int argc, char *argv[])
{
	const struct CMUnitTest mock[] = {
		cmocka_unit_test_setup_teardown(test_mock_apply_release, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mock_resize, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mock_reserve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mock_no_follow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mock_given_pool, setup, teardown),
	};
	const struct CMUnitTest cgroup[] = {
		cmocka_unit_test_setup_teardown(test_cgroup_command, cg_setup, cg_teardown),
	};

	if (argc > 1 && strcmp(argv[1], "cgroup") == 0)
		return test_cpuset_v1_here() ? cmocka_run_group_tests(cgroup, NULL, NULL) : 77;
	return cmocka_run_group_tests(mock, NULL, NULL);
}
