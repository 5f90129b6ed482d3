/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The session API as an embedder uses it: one transaction per call, the state agreeing with
 * the target after every failure, the step of a failure given as a value. The mock backend
 * stands for a target here only because its failures can be injected at each step; the
 * same session drives the real backends in test-cgroup, test-qemu-direct and test-libvirt.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <topomap/session.h>

#include "testlib.h"

#define HOST "synthetic:pack:1 numa:1(memory=64GiB) core:4 pu:2"

static char dir[] = "/tmp/topomap-session-XXXXXX";
static char state_path[4096], target_file[4096];

static int
setup(void **unused)
{
	(void)unused;
	strcpy(dir, "/tmp/topomap-session-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(state_path, sizeof(state_path), "%s/state.json", dir);
	snprintf(target_file, sizeof(target_file), "%s/target", dir);
	setenv("TOPOMAP_PLUGIN_PATH", getenv("TOPOMAP_MOCK_PLUGIN_DIR"), 1);
	return 0;
}

static int
teardown(void **unused)
{
	char path[4200];

	(void)unused;
	snprintf(path, sizeof(path), "%s/state.json.lock", dir);
	unlink(path);
	unlink(state_path);
	unlink(target_file);
	return rmdir(dir);
}

static char *
slurp(const char *path)
{
	static char buf[65536];
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void
write_target(const char *text)
{
	FILE *f = fopen(target_file, "we");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static struct tmap_session *
open_session(unsigned flags, const char *reserve)
{
	struct tmap_session_options o = TMAP_SESSION_OPTIONS_INIT;
	struct tmap_session *s = NULL;
	struct tmap_error err = {0};

	o.topology = HOST;
	o.state = state_path;
	o.reserve = reserve;
	o.flags = flags;
	if (tmap_session_open(&o, &s, &err) < 0)
		fail_msg("tmap_session_open: %s", err.message);
	return s;
}

static struct tmap_target *
mock_target(const char *fail)
{
	struct tmap_target *t = NULL;

	assert_int_equal(tmap_target_new(&t), 0);
	assert_int_equal(tmap_target_set(t, "file", target_file), 0);
	if (fail)
		assert_int_equal(tmap_target_set(t, "fail", fail), 0);
	return t;
}

static struct tmap_guest *
guest(const char *name, unsigned vcpus)
{
	struct tmap_guest *g = NULL;

	assert_int_equal(tmap_guest_new(name, vcpus, &g, NULL), 0);
	return g;
}

/* apply with a session: the target holds the plan, the state records it applied. */
static int
apply_one(struct tmap_session *s, const char *name, unsigned vcpus, const char *fail,
	  struct tmap_error *err)
{
	struct tmap_target *t = mock_target(fail);
	struct tmap_guest *g = guest(name, vcpus);
	int r = tmap_session_apply(s, "mock", t, g, 0, NULL, NULL, err);

	tmap_guest_free(g);
	tmap_target_free(t);
	return r;
}

static void
test_apply_verify_release(void **unused)
{
	struct tmap_session *s = open_session(TMAP_SESSION_WRITE, NULL);
	struct tmap_error err = {0};
	struct tmap_plan *plan = NULL;

	(void)unused;
	write_target("");
	assert_int_equal(apply_one(s, "web", 2, NULL, &err), 0);
	assert_int_equal(tmap_session_failed_step(s), TMAP_STEP_NONE);
	assert_int_equal(tmap_session_guest_count(s), 1);
	assert_true(test_state_has_guest(state_path, "web"));
	assert_non_null(strstr(slurp(state_path), "\"status\":\"applied\""));
	/* What the target holds is the recorded plan's set. */
	assert_int_equal(tmap_session_guest_plan(s, "web", &plan, &err), 0);
	assert_string_equal(slurp(target_file), tmap_plan_cpuset(plan, 0));
	tmap_plan_free(plan);
	assert_int_equal(tmap_session_verify(s, "web", NULL, &err), 0);
	/* Someone changes the target: verify says it drifted. */
	write_target("7");
	assert_int_equal(tmap_session_verify(s, "web", NULL, &err), 1);
	assert_int_equal(tmap_session_release(s, "web", &err), 0);
	assert_int_equal(tmap_session_guest_count(s), 0);
	assert_false(test_state_has_guest(state_path, "web"));
	tmap_session_close(s);
}

/* Each failing step is given as a value; the state and the target end as they were. */
static void
test_failed_steps(void **unused)
{
	static const struct {
		const char *fail;
		enum tmap_step step;
	} cases[] = {
		{"open", TMAP_STEP_OPEN},
		{"apply", TMAP_STEP_APPLY},
		{"read-back", TMAP_STEP_READ_BACK},
	};
	struct tmap_session *s = open_session(TMAP_SESSION_WRITE, NULL);
	struct tmap_error err = {0};

	(void)unused;
	write_target("");
	assert_int_equal(apply_one(s, "first", 2, NULL, &err), 0);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char before[65536];

		write_target("0-1");
		snprintf(before, sizeof(before), "%s", slurp(state_path));
		assert_true(apply_one(s, "second", 2, cases[i].fail, &err) < 0);
		if (tmap_session_failed_step(s) != cases[i].step)
			fail_msg("%s: %s", cases[i].fail, err.message);
		assert_string_equal(tmap_step_name(tmap_session_failed_step(s)),
				    tmap_step_name(cases[i].step));
		/* The pending record was taken back: the file is the one before. */
		assert_string_equal(slurp(state_path), before);
		assert_string_equal(slurp(target_file), "0-1");
		assert_int_equal(tmap_session_guest_count(s), 1);
	}
	tmap_session_close(s);
}

static void
test_does_not_fit_and_unknown(void **unused)
{
	struct tmap_session *s = open_session(TMAP_SESSION_WRITE, NULL);
	struct tmap_error err = {0};

	(void)unused;
	write_target("");
	assert_int_equal(apply_one(s, "big", 9, NULL, &err), -ENOSPC);
	assert_int_equal(tmap_session_failed_step(s), TMAP_STEP_PLACE);
	assert_int_equal(tmap_session_verify(s, "nobody", NULL, &err), -ENOENT);
	assert_int_equal(tmap_session_failed_step(s), TMAP_STEP_INPUT);
	assert_non_null(strstr(err.message, "no guest 'nobody' is recorded"));
	assert_int_equal(tmap_session_release(s, "nobody", &err), -ENOENT);
	assert_int_equal(apply_one(s, "x", 1, NULL, &err), 0);
	tmap_session_close(s);

	/* Opened to read: apply is refused, and nothing is written. */
	s = open_session(0, NULL);
	assert_int_equal(apply_one(s, "y", 1, NULL, &err), -EBADF);
	assert_int_equal(tmap_session_failed_step(s), TMAP_STEP_INPUT);
	/* So is a change of the partition, naming what the caller tried to change. */
	assert_int_equal(tmap_session_set_pool(s, "2", 0, 0, NULL, &err), -EBADF);
	assert_non_null(strstr(err.message, "the shared pool is recorded"));
	assert_int_equal(tmap_session_set_partition(s, "0", NULL, 0, 0, NULL, &err), -EBADF);
	assert_non_null(strstr(err.message, "the housekeeping PUs and the shared pool"));
	tmap_session_close(s);
}

/* The recorded reserve is a set: the union of what is added, less what is taken out. */
static void
test_reserve_is_a_set(void **unused)
{
	struct tmap_session *s = open_session(TMAP_SESSION_WRITE, NULL);
	struct tmap_error err = {0};

	(void)unused;
	assert_int_equal(tmap_session_set_reserve(s, "0", NULL, &err), 0);
	assert_int_equal(tmap_session_set_reserve(s, "7", NULL, &err), 0);
	assert_string_equal(tmap_session_reserve(s), "0,7");
	tmap_session_close(s);
	/* A reserve given at open is added to the recorded one by the next save. */
	s = open_session(TMAP_SESSION_WRITE, "3");
	assert_string_equal(tmap_session_reserve(s), "0,3,7");
	write_target("");
	assert_int_equal(apply_one(s, "a", 2, NULL, &err), 0);
	tmap_session_close(s);
	s = open_session(TMAP_SESSION_WRITE, NULL);
	assert_string_equal(tmap_session_reserve(s), "0,3,7");
	assert_int_equal(tmap_session_set_reserve(s, NULL, "0,3,7", &err), 0);
	assert_null(tmap_session_reserve(s));
	/* A PU a guest holds cannot be reserved: the message names the guest. */
	{
		struct tmap_plan *plan = NULL;
		char one[16];

		/* The first PU of the guest's set ("2-3" or "2,6"). */
		assert_int_equal(tmap_session_guest_plan(s, "a", &plan, &err), 0);
		snprintf(one, sizeof(one), "%lu", strtoul(tmap_plan_cpuset(plan, 0), NULL, 10));
		tmap_plan_free(plan);
		assert_int_equal(tmap_session_set_reserve(s, one, NULL, &err), -EBUSY);
		assert_int_equal(tmap_session_failed_step(s), TMAP_STEP_PLACE);
		assert_non_null(strstr(err.message, "guest 'a'"));
	}
	assert_int_equal(tmap_session_set_reserve(s, "0-", NULL, &err), -EINVAL);
	tmap_session_close(s);
}

/*
 * A session killed between its pending record and its apply: the next writing session
 * finishes the apply (the target exists) or drops the guest (it does not), and says so.
 */
static void
test_pending_is_settled(void **unused)
{
	struct tmap_session *s = open_session(TMAP_SESSION_WRITE, NULL);
	struct tmap_target *t = mock_target(NULL);
	struct tmap_guest *g = guest("late", 2);
	struct tmap_backend_module *m = NULL;
	struct tmap_topology *topo = test_topology(HOST);
	struct tmap_state *st = NULL;
	struct tmap_host *h = NULL;
	struct tmap_plan *plan = NULL;
	struct tmap_error err = {0};

	(void)unused;
	tmap_session_close(s);
	/* What a session does up to its kill: place, record as pending, save. */
	assert_int_equal(tmap_backend_load("mock", &m, &err), 0);
	assert_int_equal(tmap_state_open(state_path, TMAP_STATE_WRITE, &st, &err), 0);
	assert_int_equal(tmap_host_new(topo, NULL, &h, &err), 0);
	assert_int_equal(tmap_state_load(st, h, &err), 0);
	assert_int_equal(tmap_host_place(h, g, &plan, &err), 0);
	assert_int_equal(tmap_state_record(st, m, t, g, TMAP_STATE_PENDING, &err), 0);
	assert_int_equal(tmap_state_save(st, h, &err), 0);
	tmap_state_close(st);
	assert_non_null(strstr(slurp(state_path), "\"status\":\"pending\""));
	write_target("");

	s = open_session(TMAP_SESSION_WRITE, NULL);
	assert_int_equal(tmap_session_notice_count(s), 1);
	assert_non_null(strstr(tmap_session_notice(s, 0), "its apply was finished"));
	assert_string_equal(slurp(target_file), tmap_plan_cpuset(plan, 0));
	assert_non_null(strstr(slurp(state_path), "\"status\":\"applied\""));
	assert_int_equal(tmap_session_verify(s, "late", NULL, &err), 0);
	tmap_session_close(s);

	/* Again pending, and this time the target is gone: dropped. */
	assert_int_equal(tmap_state_open(state_path, TMAP_STATE_WRITE, &st, &err), 0);
	assert_int_equal(tmap_state_record(st, m, t, g, TMAP_STATE_PENDING, &err), 0);
	assert_int_equal(tmap_state_save(st, h, &err), 0);
	tmap_state_close(st);
	unlink(target_file);
	s = open_session(TMAP_SESSION_WRITE, NULL);
	assert_int_equal(tmap_session_notice_count(s), 1);
	assert_non_null(strstr(tmap_session_notice(s, 0), "dropped"));
	assert_int_equal(tmap_session_guest_count(s), 0);
	assert_false(test_state_has_guest(state_path, "late"));
	tmap_session_close(s);

	tmap_plan_free(plan);
	tmap_host_free(h);
	tmap_topology_free(topo);
	tmap_guest_free(g);
	tmap_target_free(t);
	tmap_backend_unload(m);
}

/* A recorded guest applied again with the spec, backend and target it was recorded with. */
static void
test_reapply_recorded(void **unused)
{
	struct tmap_session *s = open_session(TMAP_SESSION_WRITE, NULL);
	struct tmap_error err = {0};
	struct tmap_plan *plan = NULL;

	(void)unused;
	write_target("");
	assert_int_equal(apply_one(s, "db", 3, NULL, &err), 0);
	assert_int_equal(tmap_session_guest_plan(s, "db", &plan, &err), 0);
	write_target("");
	assert_int_equal(tmap_session_reapply(s, "db", 0, NULL, &err), 0);
	assert_string_equal(slurp(target_file), tmap_plan_cpuset(plan, 0));
	tmap_plan_free(plan);
	assert_int_equal(tmap_session_reapply(s, "nobody", 0, NULL, &err), -ENOENT);
	tmap_session_close(s);
}

/* plan is a what-if: around the recorded guests, saying so, and changing nothing. */
static void
test_plan_around_recorded(void **unused)
{
	struct tmap_session *s = open_session(TMAP_SESSION_WRITE, NULL);
	struct tmap_guests *guests = test_guests("[{\"name\": \"w\", \"vcpus\": 6}]");
	struct tmap_error err = {0};
	struct tmap_plan *plan = NULL;
	char before[65536];

	(void)unused;
	write_target("");
	assert_int_equal(apply_one(s, "held", 2, NULL, &err), 0);
	snprintf(before, sizeof(before), "%s", slurp(state_path));
	assert_int_equal(tmap_session_plan(s, guests, 0, &plan, &err), 0);
	assert_non_null(strstr(tmap_session_notice(s, tmap_session_notice_count(s) - 1),
			       "placed around 1 guest recorded"));
	tmap_plan_free(plan);
	/* 8 PUs, 2 held: 7 more do not fit, and the host keeps only the recorded guest. */
	tmap_guests_free(guests);
	guests = test_guests("[{\"name\": \"w\", \"vcpus\": 7}]");
	assert_int_equal(tmap_session_plan(s, guests, 0, &plan, &err), -ENOSPC);
	assert_int_equal(tmap_session_failed_step(s), TMAP_STEP_PLACE);
	assert_int_equal(tmap_session_guest_count(s), 1);
	assert_string_equal(slurp(state_path), before);
	tmap_guests_free(guests);
	tmap_session_close(s);
}

/* Issue 19: a session on a topology the caller made (.host, borrowed), the deprecated string
 * beside it refused, and options of 0.1 (without .host) still read. */
static void
test_host_object(void **unused)
{
	struct tmap_session_options o = TMAP_SESSION_OPTIONS_INIT;
	struct tmap_topology *t = NULL;
	struct tmap_session *s = NULL;
	struct tmap_error err = {0};

	(void)unused;
	assert_int_equal(tmap_topology_new_synthetic(HOST + strlen("synthetic:"), 0, &t, &err), 0);
	o.host = t;
	o.state = state_path;
	assert_int_equal(tmap_session_open(&o, &s, &err), 0);
	assert_ptr_equal(tmap_session_topology(s), t);
	s = tmap_session_close(s);
	/* the session did not free it */
	assert_int_equal(tmap_topology_node_count(t), 1);

	o.topology = HOST;
	assert_int_equal(tmap_session_open(&o, &s, &err), -EINVAL);
	assert_non_null(strstr(err.message, ".host and .topology"));
	assert_null(s);

	/* a 0.1 program: its options end before .host, which is not read */
	o.size = offsetof(struct tmap_session_options, host);
	assert_int_equal(tmap_session_open(&o, &s, &err), 0);
	assert_ptr_not_equal(tmap_session_topology(s), t);
	assert_int_equal(tmap_topology_node_count(tmap_session_topology(s)), 1);
	s = tmap_session_close(s);
	o.size = offsetof(struct tmap_session_options, host) - 1;
	assert_int_equal(tmap_session_open(&o, &s, &err), -EINVAL);
	tmap_topology_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_apply_verify_release, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_steps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_does_not_fit_and_unknown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reserve_is_a_set, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pending_is_settled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reapply_recorded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plan_around_recorded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_object, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
