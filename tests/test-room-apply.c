/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * apply --make-room (issue 18): the moves and the new guest put in force as one transaction,
 * each moved guest through the backend and target its state records.
 *
 * "mock": the README's fragmented host (two nodes of 4 PUs, b on 2-3 and c on 4-5), every
 * guest with its own mock target file; the moves are written, and a failure injected at each
 * apply of the transaction (the mock's TOPOMAP_MOCK_FAIL_APPLY) puts every file and the state
 * back as they were.
 *
 * "cgroup": the same transaction on this machine's real cgroup v1 cpuset hierarchy (root;
 * skips elsewhere): a one-node host of two SMT cores whose PUs 0 and 1 are this machine's, a
 * guest in a real cgroup with a sleeping task moved from PU 1 to PU 0 so that a guest that
 * wants a whole core gets the other; each cgroup's cpuset.cpus and the task's affinity read
 * back; a refused apply of the new guest puts the moved cgroup back.
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

static char dir[] = "/tmp/topomap-room-apply-XXXXXX";
static char state_path[4096];

/* dir/name, in one of a few rotating buffers: enough for one call's arguments. */
static const char *_printf_(1, 2)
path(const char *fmt, ...)
{
	static char bufs[8][4200];
	static unsigned next;
	char *buf = bufs[next++ % 8];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, 4200, fmt, ap);
	va_end(ap);
	return buf;
}

#define in_dir(name) path("%s/%s", dir, name)


static struct tmap_session *
session(const char *topology)
{
	return test_session_write(topology, state_path);
}

static struct tmap_target *
target(const char *key, const char *value, const char *key2, const char *value2)
{
	struct tmap_target *t = NULL;

	assert_int_equal(tmap_target_new(&t), 0);
	assert_int_equal(tmap_target_set(t, key, value), 0);
	if (key2)
		assert_int_equal(tmap_target_set(t, key2, value2), 0);
	return t;
}

static struct tmap_guest *
guest(const char *name, unsigned vcpus, uint64_t mib, const char *cell)
{
	struct tmap_guest *g = NULL;

	assert_int_equal(tmap_guest_new(name, vcpus, &g, NULL), 0);
	assert_int_equal(tmap_guest_set_memory_mib(g, mib), 0);
	if (cell)
		assert_int_equal(tmap_guest_add_cell(g, cell, mib, NULL), 0);
	return g;
}

/* An empty file: the mock captures its target's file before it writes. */
static const char *
touch(const char *path)
{
	FILE *f = fopen(path, "we");

	assert_non_null(f);
	assert_int_equal(fclose(f), 0);
	return path;
}


static int
setup(void **unused)
{
	(void)unused;
	strcpy(dir, "/tmp/topomap-room-apply-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(state_path, sizeof(state_path), "%s/state.json", dir);
	setenv("TOPOMAP_PLUGIN_PATH", getenv("TOPOMAP_MOCK_PLUGIN_DIR"), 1);
	return 0;
}

static int
teardown(void **unused)
{
	static const char *const names[] = {"state.json", "state.json.lock", "a", "b", "c", "d",
					    "big", "x", "y"};

	(void)unused;
	unsetenv("TOPOMAP_MOCK_FAIL_APPLY");
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		unlink(in_dir(names[i]));
	return rmdir(dir);
}

/* ---------------------------------------------------------------------------------------- */
/* The mock backend: every guest its own file */

#define README_HOST "synthetic:pack:1 numa:2(memory=4GiB) core:4 pu:1"

/* The README's fragmented host: b on 2-3 (node 0), c on 4-5 (node 1), 2 PUs free on each. */
static struct tmap_session *
fragmented(void)
{
	struct tmap_session *s = session(README_HOST);
	static const char *const names[] = {"a", "b", "c", "d"};
	struct tmap_error err = {0};

	for (size_t i = 0; i < 4; i++)
		test_session_apply(s, "mock", target("file", touch(in_dir(names[i])), NULL, NULL),
		      guest(names[i], 2, 256, NULL));
	assert_int_equal(tmap_session_release(s, "a", &err), 0);
	assert_int_equal(tmap_session_release(s, "d", &err), 0);
	assert_string_equal(test_slurp(in_dir("b")), "2-3");
	assert_string_equal(test_slurp(in_dir("c")), "4-5");
	return s;
}

static int
apply_big(struct tmap_session *s, struct tmap_plan **plan, struct tmap_error *err)
{
	struct tmap_target *t = target("file", touch(in_dir("big")), NULL, NULL);
	struct tmap_guest *g = guest("big", 4, 512, "0-3");
	int r = tmap_session_apply_room(s, "mock", t, g, NULL, 0, plan, NULL, err);

	tmap_target_free(t);
	tmap_guest_free(g);
	return r;
}

static void
test_mock_moves_then_guest(void **unused)
{
	struct tmap_session *s = fragmented();
	struct tmap_plan *plan = NULL;
	struct tmap_error err = {0};
	struct tmap_report *report = NULL;

	(void)unused;
	if (apply_big(s, &plan, &err) < 0)
		fail_msg("apply_room: %s", err.message);
	assert_int_equal(tmap_plan_move_count(plan), 3);
	/* b moved to node 1 through its own target; big took node 0. */
	assert_string_equal(test_slurp(in_dir("b")), "6-7");
	assert_string_equal(test_slurp(in_dir("big")), "0-3");
	assert_string_equal(test_slurp(in_dir("c")), "4-5");
	tmap_plan_free(plan);
	/* The state records b where it moved and big applied: verify reads both in force. */
	assert_int_equal(tmap_session_verify(s, "b", &report, &err), 0);
	report = tmap_report_free(report);
	assert_int_equal(tmap_session_verify(s, "big", NULL, &err), 0);
	tmap_session_close(s);
	/* and a new session reads the same, with nothing pending */
	s = session(README_HOST);
	assert_int_equal(tmap_session_notice_count(s), 0);
	assert_int_equal(tmap_session_guest_count(s), 3);
	assert_int_equal(tmap_session_verify(s, "b", NULL, &err), 0);
	tmap_session_close(s);
}

/* A failure at the Nth apply of the transaction (1: b's move, 2: big) leaves every file and
 * the state as they were. */
static void
test_mock_failure_restores(void **unused)
{
	(void)unused;
	for (unsigned nth = 1; nth <= 2; nth++) {
		struct tmap_session *s = fragmented();
		struct tmap_error err = {0};
		char before[65536], at[16];

		snprintf(before, sizeof(before), "%s", test_slurp(state_path));
		snprintf(at, sizeof(at), "%u", nth);
		setenv("TOPOMAP_MOCK_FAIL_APPLY", at, 1);
		assert_int_equal(apply_big(s, NULL, &err), -ERANGE);
		unsetenv("TOPOMAP_MOCK_FAIL_APPLY");
		assert_int_equal(tmap_session_failed_step(s), TMAP_STEP_APPLY);
		assert_non_null(strstr(err.message, "injected failure"));
		assert_string_equal(test_slurp(in_dir("b")), "2-3");
		assert_string_equal(test_slurp(in_dir("c")), "4-5");
		assert_string_equal(test_slurp(state_path), before);
		assert_null(tmap_session_lookup(s, "big"));
		assert_int_equal(tmap_session_verify(s, "b", NULL, &err), 0);
		tmap_session_close(s);
		unlink(in_dir("big"));
		unlink(state_path);
	}
}

/* resize --apply: b grows in place through its recorded target; a failure at its apply
 * leaves its file and the state as they were. */
static void
test_mock_resize(void **unused)
{
	struct tmap_session *s = fragmented();
	struct tmap_error err = {0};
	struct tmap_plan *plan = NULL;
	char before[65536];

	(void)unused;
	snprintf(before, sizeof(before), "%s", test_slurp(state_path));
	setenv("TOPOMAP_MOCK_FAIL_APPLY", "1", 1);
	assert_int_equal(tmap_session_apply_resize(s, "b", 4, 0, NULL, 0, NULL, NULL, &err), -ERANGE);
	unsetenv("TOPOMAP_MOCK_FAIL_APPLY");
	assert_int_equal(tmap_session_failed_step(s), TMAP_STEP_APPLY);
	assert_string_equal(test_slurp(in_dir("b")), "2-3");
	assert_string_equal(test_slurp(state_path), before);
	if (tmap_session_apply_resize(s, "b", 4, 0, NULL, 0, &plan, NULL, &err) < 0)
		fail_msg("apply_resize: %s", err.message);
	assert_int_equal(tmap_plan_move_count(plan), 0);
	tmap_plan_free(plan);
	assert_string_equal(test_slurp(in_dir("b")), "0-3");
	assert_string_equal(test_slurp(in_dir("c")), "4-5");
	assert_int_equal(tmap_session_verify(s, "b", NULL, &err), 0);
	/* refused before any write: no such guest; more vcpus than any node has */
	assert_int_equal(tmap_session_apply_resize(s, "nobody", 2, 0, NULL, 0, NULL, NULL, &err),
			 -ENOENT);
	assert_int_equal(tmap_session_failed_step(s), TMAP_STEP_INPUT);
	snprintf(before, sizeof(before), "%s", test_slurp(state_path));
	assert_int_equal(tmap_session_apply_resize(s, "b", 6, 0, NULL, 0, NULL, NULL, &err), -ENOSPC);
	assert_int_equal(tmap_session_failed_step(s), TMAP_STEP_PLACE);
	assert_string_equal(test_slurp(state_path), before);
	assert_string_equal(test_slurp(in_dir("b")), "0-3");
	tmap_session_close(s);
	s = session(README_HOST);
	assert_int_equal(tmap_session_notice_count(s), 0);
	assert_int_equal(tmap_session_verify(s, "b", NULL, &err), 0);
	tmap_session_close(s);
}

/* resize --apply that needs moves: e fills node 0 beside b, so b cannot grow in place; the
 * moves go through each moved guest's target, then b's; a failure at each apply of the
 * transaction puts every file and the state back. */
static void
test_mock_resize_moves(void **unused)
{
	static const char *const names[] = {"b", "c", "x"};
	unsigned failed = 0;

	(void)unused;
	for (unsigned nth = 0; nth <= 4; nth++) {
		struct tmap_session *s = fragmented();
		struct tmap_error err = {0};
		struct tmap_plan *plan = NULL;
		char before[65536], files[3][64], at[16];
		int r;

		test_session_apply(s, "mock", target("file", touch(in_dir("x")), NULL, NULL),
		      guest("x", 2, 256, NULL));
		snprintf(before, sizeof(before), "%s", test_slurp(state_path));
		for (size_t i = 0; i < 3; i++)
			snprintf(files[i], sizeof(files[i]), "%s", test_slurp(in_dir(names[i])));
		snprintf(at, sizeof(at), "%u", nth);
		if (nth)
			setenv("TOPOMAP_MOCK_FAIL_APPLY", at, 1);
		r = tmap_session_apply_resize(s, "b", 4, 0, NULL, 0, &plan, NULL, &err);
		unsetenv("TOPOMAP_MOCK_FAIL_APPLY");
		if (r == 0) {
			/* every guest is where the state records it */
			assert_true(tmap_plan_move_count(plan) > 0);
			for (size_t i = 0; i < 3; i++)
				assert_int_equal(tmap_session_verify(s, names[i], NULL, &err), 0);
			assert_string_not_equal(test_slurp(in_dir("b")), files[0]);
			tmap_plan_free(plan);
		} else {
			assert_true(nth > 0);
			failed++;
			assert_int_equal(r, -ERANGE);
			assert_string_equal(test_slurp(state_path), before);
			for (size_t i = 0; i < 3; i++)
				assert_string_equal(test_slurp(in_dir(names[i])), files[i]);
		}
		tmap_session_close(s);
		unlink(in_dir("x"));
		unlink(state_path);
	}
	/* at least one moved guest's apply and b's: a failure landed on each */
	assert_true(failed >= 2);
}

/* Refused before anything is written: a guest recorded already; a moved guest with no
 * recorded target; a read-only session. */
static void
test_mock_refusals(void **unused)
{
	struct tmap_session *s = fragmented();
	struct tmap_error err = {0};
	struct tmap_target *t = target("file", touch(in_dir("big")), NULL, NULL);
	struct tmap_guest *g = guest("b", 4, 512, "0-3");
	char before[65536];

	(void)unused;
	snprintf(before, sizeof(before), "%s", test_slurp(state_path));
	assert_int_equal(tmap_session_apply_room(s, "mock", t, g, NULL, 0, NULL, NULL, &err),
			 -EEXIST);
	assert_int_equal(tmap_session_failed_step(s), TMAP_STEP_INPUT);
	assert_int_equal(tmap_session_apply_room(s, "mock", t, g, NULL, 0x80, NULL, NULL, &err),
			 -EINVAL);
	tmap_guest_free(g);
	/* 9 vcpus do not fit even after moves */
	g = guest("huge", 9, 512, NULL);
	assert_int_equal(tmap_session_apply_room(s, "mock", t, g, NULL, 0, NULL, NULL, &err),
			 -ENOSPC);
	assert_int_equal(tmap_session_failed_step(s), TMAP_STEP_PLACE);
	assert_string_equal(test_slurp(state_path), before);
	assert_string_equal(test_slurp(in_dir("b")), "2-3");
	tmap_guest_free(g);
	tmap_target_free(t);
	tmap_session_close(s);
}

/* rebalance --apply: one guest's cell goes to the other node through its recorded target, so
 * that one node is all free (4 PUs); the moves only, no new guest. */
static void
test_mock_rebalance(void **unused)
{
	struct tmap_session *s = fragmented();
	struct tmap_plan *plan = NULL;
	struct tmap_error err = {0};
	unsigned before = 0, after = 0;
	const char *b, *c;

	(void)unused;
	if (tmap_session_apply_rebalance(s, NULL, 0, &plan, NULL, &err) < 0)
		fail_msg("apply_rebalance: %s", err.message);
	assert_int_equal(tmap_plan_rebalance(plan, &before, &after), 0);
	assert_int_equal(before, 2);
	assert_int_equal(after, 4);
	assert_int_equal(tmap_plan_move_count(plan), 3);
	tmap_plan_free(plan);
	/* b to node 1's free 6-7, or c to node 0's free 0-1 */
	b = test_slurp(in_dir("b"));
	c = test_slurp(in_dir("c"));
	assert_true((strcmp(b, "6-7") == 0 && strcmp(c, "4-5") == 0) ||
		    (strcmp(b, "2-3") == 0 && strcmp(c, "0-1") == 0));
	assert_int_equal(tmap_session_verify(s, "b", NULL, &err), 0);
	assert_int_equal(tmap_session_verify(s, "c", NULL, &err), 0);
	tmap_session_close(s);
	/* compact now: a second rebalance has no move and writes nothing */
	s = session(README_HOST);
	assert_int_equal(tmap_session_notice_count(s), 0);
	assert_int_equal(tmap_session_apply_rebalance(s, NULL, 0, &plan, NULL, &err), 0);
	assert_int_equal(tmap_plan_move_count(plan), 0);
	tmap_plan_free(plan);
	tmap_session_close(s);
}

/* The command: a failure injected at the move leaves the files and the state as they were
 * (exit 1); then it is applied; a read-only refusal needs no state change. */
static void
test_mock_rebalance_command(void **unused)
{
	struct tmap_session *s = fragmented();
	struct test_result r;
	char before[65536];

	(void)unused;
	tmap_session_close(s);
	snprintf(before, sizeof(before), "%s", test_slurp(state_path));
	setenv("TOPOMAP_MOCK_FAIL_APPLY", "1", 1);
	r = RUN("rebalance", "--apply", "--topology", README_HOST, "--state", state_path);
	unsetenv("TOPOMAP_MOCK_FAIL_APPLY");
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "injected failure"));
	test_result_clear(&r);
	assert_string_equal(test_slurp(in_dir("b")), "2-3");
	assert_string_equal(test_slurp(in_dir("c")), "4-5");
	assert_string_equal(test_slurp(state_path), before);
	r = RUN("rebalance", "--apply", "--topology", README_HOST, "--state", state_path);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "grows from 2 to 4 PUs"));
	test_result_clear(&r);
	assert_true(strcmp(test_slurp(in_dir("b")), "6-7") == 0 || strcmp(test_slurp(in_dir("c")), "0-1") == 0);
	r = RUN("verify", "--all", "--topology", README_HOST, "--state", state_path);
	assert_int_equal(r.status, 0);
	test_result_clear(&r);
}

/* ---------------------------------------------------------------------------------------- */
/* The real cgroup v1 cpuset hierarchy */

/* One node, two SMT cores: core 0 holds PUs 0 and 2, core 1 holds PUs 1 and 3. PUs 0 and 1
 * are this machine's; 2 and 3 are held only by y, a pinned guest of the mock backend, so no
 * cgroup is ever written with them. */
#define SMT_HOST TEST_ROOM_SMT_HOST

static char base[256], rel[128];
static pid_t sleeper = -1;

#define in_base(name) path("%s/%s", base, name)
/* A target's cgroup, relative to the hierarchy's root. */
#define at_rel(name) path("%s/%s", rel, name)

/* The sleeping task's Cpus_allowed_list, as the kernel enforces it. */
static const char *
task_cpus(void)
{
	return test_task_cpus(sleeper);
}

static void
write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		fail_msg("open %s: %s", path, strerror(errno));
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		fail_msg("write '%s' to %s: %s", text, path, strerror(errno));
	close(fd);
}

static int
cg_setup(void **state)
{
	if (setup(state) < 0)
		return -1;
	return test_cpuset_scratch("topomap-room-apply", rel, sizeof(rel), base, sizeof(base));
}

static int
cg_teardown(void **state)
{
	if (sleeper > 0) {
		kill(sleeper, SIGKILL);
		waitpid(sleeper, NULL, 0);
		sleeper = -1;
	}
	rmdir(in_base("x"));
	rmdir(in_base("big"));
	rmdir(base);
	return teardown(state);
}

/* A sleeping task in x's cgroup. */
static void
task_in_x(void)
{
	char procs[64];

	sleeper = fork();
	assert_true(sleeper >= 0);
	if (sleeper == 0) {
		execl("/bin/sleep", "sleep", "300", (char *)NULL);
		_exit(127);
	}
	snprintf(procs, sizeof(procs), "%d", (int)sleeper);
	write_file(in_base("x/cgroup.procs"), procs);
}

/* x in a real cgroup with a sleeping task on PU 1, y (pinned, mock) on PU 2: the two free
 * PUs, 0 and 3, are on two cores, so a guest that wants a whole core does not fit until x
 * moves from PU 1 to PU 0. */
static struct tmap_session *
cg_fragmented(void)
{
	struct tmap_session *s = test_room_fragmented(state_path, in_dir("y"), "cgroup",
						      target("cgroup", at_rel("x"), "create", "yes"),
						      guest("x", 1, 64, NULL));

	assert_string_equal(test_slurp(in_dir("y")), "2");
	assert_string_equal(test_slurp(in_base("x/cpuset.cpus")), "1");
	/* a real task in x: what the kernel enforces on it is read back too */
	task_in_x();
	assert_string_equal(task_cpus(), "1");
	return s;
}

static struct tmap_guest *
whole_core(const char *name)
{
	struct tmap_guest *g = guest(name, 1, 64, NULL);

	assert_int_equal(tmap_guest_set_thread_policy(g, TMAP_THREAD_ISOLATE), 0);
	return g;
}

static void
test_cgroup_moves_then_guest(void **unused)
{
	struct tmap_session *s = cg_fragmented();
	struct tmap_guest *g = whole_core("big");
	struct tmap_error err = {0};
	struct tmap_plan *plan = NULL;

	(void)unused;
	/* as it stands, big does not fit */
	{
		struct tmap_target *t = target("cgroup", at_rel("big"), "create", "yes");

		assert_int_equal(tmap_session_apply(s, "cgroup", t, g, 0, NULL, NULL, &err), -ENOSPC);
		tmap_target_free(t);
	}
	{
		struct tmap_target *t = target("cgroup", at_rel("big"), "create", "yes");
		int r = tmap_session_apply_room(s, "cgroup", t, g, NULL, 0, &plan, NULL, &err);

		tmap_target_free(t);
		if (r < 0)
			fail_msg("apply_room: %s", err.message);
	}
	assert_int_equal(tmap_plan_move_count(plan), 1);
	tmap_plan_free(plan);
	/* read back from the kernel: x moved to PU 0 with its task, big holds PU 1 */
	assert_string_equal(test_slurp(in_base("x/cpuset.cpus")), "0");
	assert_string_equal(task_cpus(), "0");
	assert_string_equal(test_slurp(in_base("big/cpuset.cpus")), "1");
	assert_string_equal(test_slurp(in_dir("y")), "2");
	assert_int_equal(tmap_session_verify(s, "x", NULL, &err), 0);
	assert_int_equal(tmap_session_verify(s, "big", NULL, &err), 0);
	tmap_guest_free(g);
	tmap_session_close(s);
}

/* The same through the command: apply --make-room, exit 0, the moves in force. */
static void
test_cgroup_command(void **unused)
{
	struct tmap_session *s = cg_fragmented();
	struct test_result r;

	(void)unused;
	tmap_session_close(s);
	r = RUN("apply", "--make-room", "--backend", "cgroup", "--cgroup", at_rel("big"), "--create",
		"--topology", SMT_HOST, "--state", state_path, "--name", "big", "--vcpus", "1",
		"--memory", "64", "--thread-policy", "isolate");
	if (r.status != 0)
		fail_msg("apply --make-room: exit %d: %s", r.status, r.err);
	test_result_clear(&r);
	assert_string_equal(test_slurp(in_base("x/cpuset.cpus")), "0");
	assert_string_equal(task_cpus(), "0");
	assert_string_equal(test_slurp(in_base("big/cpuset.cpus")), "1");
	r = RUN("verify", "--all", "--topology", SMT_HOST, "--state", state_path);
	assert_int_equal(r.status, 0);
	test_result_clear(&r);
}

/* The new guest's apply is refused by the kernel's hierarchy (its cgroup's parent is not
 * there, and no --create) after x moved: x and its task go back to PU 1, the state file is
 * as it was. */
static void
test_cgroup_failure_restores(void **unused)
{
	struct tmap_session *s = cg_fragmented();
	struct tmap_guest *g = whole_core("big");
	struct tmap_target *t = target("cgroup", at_rel("missing/big"), NULL, NULL);
	struct tmap_error err = {0};
	char before[65536];

	(void)unused;
	snprintf(before, sizeof(before), "%s", test_slurp(state_path));
	assert_true(tmap_session_apply_room(s, "cgroup", t, g, NULL, 0, NULL, NULL, &err) < 0);
	assert_int_not_equal(tmap_session_failed_step(s), TMAP_STEP_PLACE);
	assert_string_equal(test_slurp(in_base("x/cpuset.cpus")), "1");
	assert_string_equal(task_cpus(), "1");
	assert_string_equal(test_slurp(state_path), before);
	assert_null(tmap_session_lookup(s, "big"));
	assert_int_equal(tmap_session_verify(s, "x", NULL, &err), 0);
	tmap_target_free(t);
	tmap_guest_free(g);
	tmap_session_close(s);
}

/* resize --apply through the command, on a host of two PUs without SMT: x grows from one
 * PU to both and shrinks back, its cgroup and its task following. */
#define TWO_PU_HOST "synthetic:pack:1 numa:1(memory=4GiB) core:2 pu:1"

static void
test_cgroup_resize(void **unused)
{
	struct tmap_session_options o = TMAP_SESSION_OPTIONS_INIT;
	struct tmap_session *s = NULL;
	struct tmap_error err = {0};
	struct test_result r;

	(void)unused;
	o.topology = TWO_PU_HOST;
	o.state = state_path;
	o.flags = TMAP_SESSION_WRITE;
	assert_int_equal(tmap_session_open(&o, &s, &err), 0);
	test_session_apply(s, "cgroup", target("cgroup", at_rel("x"), "create", "yes"), guest("x", 1, 64, NULL));
	tmap_session_close(s);
	assert_string_equal(test_slurp(in_base("x/cpuset.cpus")), "0");
	task_in_x();
	r = RUN("resize", "x", "--vcpus", "2", "--apply", "--topology", TWO_PU_HOST, "--state",
		state_path);
	if (r.status != 0)
		fail_msg("resize --apply: exit %d: %s", r.status, r.err);
	test_result_clear(&r);
	assert_string_equal(test_slurp(in_base("x/cpuset.cpus")), "0-1");
	assert_string_equal(task_cpus(), "0-1");
	r = RUN("resize", "x", "--vcpus", "1", "--apply", "--topology", TWO_PU_HOST, "--state",
		state_path);
	assert_int_equal(r.status, 0);
	test_result_clear(&r);
	assert_string_equal(test_slurp(in_base("x/cpuset.cpus")), "0");
	assert_string_equal(task_cpus(), "0");
	r = RUN("verify", "--all", "--topology", TWO_PU_HOST, "--state", state_path);
	assert_int_equal(r.status, 0);
	test_result_clear(&r);
}

/* The kernel refuses the resized set (x grows into PU 3, its core's sibling, which this
 * machine does not have: ERANGE): x and its task stay on PU 1, the state as it was. */
static void
test_cgroup_resize_refused(void **unused)
{
	struct tmap_session *s = cg_fragmented();
	struct tmap_error err = {0};
	char before[65536];

	(void)unused;
	snprintf(before, sizeof(before), "%s", test_slurp(state_path));
	assert_true(tmap_session_apply_resize(s, "x", 2, 0, NULL, 0, NULL, NULL, &err) < 0);
	assert_int_equal(tmap_session_failed_step(s), TMAP_STEP_APPLY);
	assert_string_equal(test_slurp(in_base("x/cpuset.cpus")), "1");
	assert_string_equal(task_cpus(), "1");
	assert_string_equal(test_slurp(state_path), before);
	assert_int_equal(tmap_session_verify(s, "x", NULL, &err), 0);
	tmap_session_close(s);
}

/* Two nodes of 2 PUs: node 0 holds PUs 0 and 2, node 1 PUs 1 and 3 (this machine has 0 and 1,
 * on its one node 0). x (real cgroup, a task) on PU 0, y (pinned, mock) on PU 1: one PU free
 * on each node. The one rebalance that makes a 2-PU cell moves x to node 1; the kernel refuses
 * it (node 1 is no memory node here, PU 3 no CPU): x and its task stay on PU 0, the state and
 * y as they were, exit 1, all through the command. */
#define TWO_NODE_HOST "synthetic:pack:1 numa:2(memory=4GiB) core:2 pu:1(indexes=0,2,1,3)"

static void
test_cgroup_rebalance_refused(void **unused)
{
	struct tmap_session_options o = TMAP_SESSION_OPTIONS_INIT;
	struct tmap_session *s = NULL;
	struct tmap_error err = {0};
	struct tmap_guest *y = guest("y", 1, 64, "0");
	struct test_result r;
	char before[65536];

	(void)unused;
	o.topology = TWO_NODE_HOST;
	o.state = state_path;
	o.flags = TMAP_SESSION_WRITE;
	o.reserve = "0,2,3";
	assert_int_equal(tmap_session_open(&o, &s, &err), 0);
	assert_int_equal(tmap_guest_set_pinned(y, 1), 0);
	test_session_apply(s, "mock", target("file", touch(in_dir("y")), NULL, NULL), y);
	assert_int_equal(tmap_session_set_reserve(s, NULL, "0", &err), 0);
	test_session_apply(s, "cgroup", target("cgroup", at_rel("x"), "create", "yes"), guest("x", 1, 64, "0"));
	assert_int_equal(tmap_session_set_reserve(s, NULL, "2,3", &err), 0);
	tmap_session_close(s);
	assert_string_equal(test_slurp(in_dir("y")), "1");
	assert_string_equal(test_slurp(in_base("x/cpuset.cpus")), "0");
	task_in_x();
	snprintf(before, sizeof(before), "%s", test_slurp(state_path));
	/* the plan: x to node 1, the largest cell from 1 to 2 PUs */
	r = RUN("rebalance", "--topology", TWO_NODE_HOST, "--state", state_path);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "grows from 1 to 2 PUs"));
	assert_non_null(strstr(r.out, "node 0 -> 1"));
	test_result_clear(&r);
	r = RUN("rebalance", "--apply", "--topology", TWO_NODE_HOST, "--state", state_path);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.err, "moving guest 'x'"));
	test_result_clear(&r);
	assert_string_equal(test_slurp(in_base("x/cpuset.cpus")), "0");
	assert_string_equal(test_slurp(in_base("x/cpuset.mems")), "0");
	assert_string_equal(task_cpus(), "0");
	assert_string_equal(test_slurp(in_dir("y")), "1");
	assert_string_equal(test_slurp(state_path), before);
	r = RUN("verify", "--all", "--topology", TWO_NODE_HOST, "--state", state_path);
	assert_int_equal(r.status, 0);
	test_result_clear(&r);
}

int
main(int argc, char *argv[])
{
	const struct CMUnitTest mock[] = {
		cmocka_unit_test_setup_teardown(test_mock_moves_then_guest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mock_failure_restores, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mock_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mock_resize, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mock_resize_moves, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mock_rebalance, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mock_rebalance_command, setup, teardown),
	};

	const struct CMUnitTest cgroup[] = {
		cmocka_unit_test_setup_teardown(test_cgroup_moves_then_guest, cg_setup, cg_teardown),
		cmocka_unit_test_setup_teardown(test_cgroup_failure_restores, cg_setup, cg_teardown),
		cmocka_unit_test_setup_teardown(test_cgroup_command, cg_setup, cg_teardown),
		cmocka_unit_test_setup_teardown(test_cgroup_resize, cg_setup, cg_teardown),
		cmocka_unit_test_setup_teardown(test_cgroup_resize_refused, cg_setup, cg_teardown),
		cmocka_unit_test_setup_teardown(test_cgroup_rebalance_refused, cg_setup, cg_teardown),
	};

	if (argc > 1 && strcmp(argv[1], "cgroup") == 0)
		return test_cpuset_v1_here() ? cmocka_run_group_tests(cgroup, NULL, NULL) : 77;
	return cmocka_run_group_tests(mock, NULL, NULL);
}
