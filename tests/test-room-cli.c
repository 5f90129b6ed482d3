/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The built command making room (issue 18): plan --make-room on a state file of a
 * fragmented host, the moves in JSON and in the table, the limit in moves, the refusals. The
 * host and its state are the README's worked example ("Making room"); resize on it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "testlib.h"

#define HOST "synthetic:pack:1 numa:2(memory=4GiB) core:4 pu:1"

static char state_path[64];

/* Four 2-vcpu guests of one cell on two 4-PU nodes, a and d released: 2 PUs free on each. */
static int
make_state(void **unused)
{
	struct tmap_topology *t = test_topology(HOST);
	struct tmap_guests *gs = test_guests(
		"[{\"name\":\"a\",\"vcpus\":2,\"memory_mib\":256,\"cells\":[{\"cpus\":\"0-1\"}]},"
		"{\"name\":\"b\",\"vcpus\":2,\"memory_mib\":256,\"cells\":[{\"cpus\":\"0-1\"}]},"
		"{\"name\":\"c\",\"vcpus\":2,\"memory_mib\":256,\"cells\":[{\"cpus\":\"0-1\"}]},"
		"{\"name\":\"d\",\"vcpus\":2,\"memory_mib\":256,\"cells\":[{\"cpus\":\"0-1\"}]}]");
	struct tmap_host *h = NULL;
	struct tmap_plan *plan = NULL;
	struct tmap_error err = {0};

	(void)unused;
	test_state_name(state_path, sizeof(state_path), "room");
	assert_int_equal(tmap_host_new(t, NULL, &h, &err), 0);
	assert_int_equal(tmap_host_solve(h, gs, &plan, &err), 0);
	assert_int_equal(tmap_host_release(h, "a"), 0);
	assert_int_equal(tmap_host_release(h, "d"), 0);
	test_state_save_host(state_path, h);
	tmap_plan_free(plan);
	tmap_host_free(h);
	tmap_guests_free(gs);
	tmap_topology_free(t);
	return 0;
}

static int
drop_state(void **unused)
{
	(void)unused;
	return test_state_remove(state_path);
}

#define ROOM(...) RUN("plan", "--topology", HOST, "--state", state_path, "--name", "big", \
		      "--vcpus", "4", "--memory", "512M", "--cell", "cpus=0-3", __VA_ARGS__)

static void
test_make_room_json(void **state)
{
	struct test_result r = ROOM("--make-room", "--format", "json");
	struct json_object *doc, *moves, *m;

	(void)state;
	assert_int_equal(r.status, 0);
	doc = json_tokener_parse(r.out);
	assert_non_null(doc);
	assert_true(json_object_object_get_ex(doc, "moves", &moves));
	assert_int_equal(json_object_array_length(moves), 3);
	m = json_object_array_get_idx(moves, 0);
	assert_true(json_object_object_get_ex(m, "cell", NULL));
	assert_true(json_object_object_get_ex(m, "memory_mib", NULL));
	m = json_object_array_get_idx(moves, 1);
	assert_true(json_object_object_get_ex(m, "vcpu", NULL));
	assert_true(json_object_object_get_ex(doc, "moves_optimal", &m));
	assert_true(json_object_get_boolean(m));
	json_object_put(doc);
	test_result_clear(&r);
}

static void
test_make_room_table(void **state)
{
	struct test_result r = ROOM("--make-room");

	(void)state;
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "moves: 3 (optimal)"));
	assert_non_null(strstr(r.out, "MiB of memory"));
	test_result_clear(&r);
}

/* Without --make-room it does not fit (exit 3); with fewer moves allowed than needed, the
 * refusal says how many are needed. */
static void
test_refusals(void **state)
{
	struct test_result r = ROOM("--format", "json");

	(void)state;
	assert_int_equal(r.status, 3);
	test_result_clear(&r);
	r = ROOM("--make-room", "--max-moves", "2");
	assert_int_equal(r.status, 3);
	assert_non_null(strstr(r.err, "at least 3 needed"));
	test_result_clear(&r);
	r = ROOM("--max-moves", "2");
	assert_int_equal(r.status, 2);
	test_result_clear(&r);
	r = ROOM("--make-room", "--batch");
	assert_int_equal(r.status, 2);
	test_result_clear(&r);
	/* apply --make-room moves for real: no dry run; --no-memory only with it */
	r = RUN("apply", "--make-room", "--dry-run", "--backend", "cgroup", "--cgroup", "x", "--name",
		"g", "--vcpus", "1");
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "apply: --make-room moves guests for real"));
	test_result_clear(&r);
	r = RUN("apply", "--no-memory", "--backend", "cgroup", "--cgroup", "x", "--name", "g",
		"--vcpus", "1");
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "apply: --no-memory goes with --make-room"));
	test_result_clear(&r);
}

#define RESIZE(...) RUN("resize", "--topology", HOST, "--state", state_path, __VA_ARGS__)

/* resize: grown in place (the PUs it held kept, no move), refused when no node holds it,
 * a guest the state does not hold is the user's mistake. */
static void
test_resize(void **state)
{
	struct test_result r = RESIZE("b", "--vcpus", "4", "--format", "json");
	struct json_object *doc, *guests, *held;

	(void)state;
	assert_int_equal(r.status, 0);
	doc = json_tokener_parse(r.out);
	assert_non_null(doc);
	assert_true(json_object_object_get_ex(doc, "guests", &guests));
	assert_true(json_object_object_get_ex(json_object_array_get_idx(guests, 0), "held", &held));
	assert_string_equal(json_object_get_string(held), "0-3");
	json_object_put(doc);
	test_result_clear(&r);
	r = RESIZE("b", "--vcpus", "6");
	assert_int_equal(r.status, 3);
	test_result_clear(&r);
	r = RESIZE("nobody", "--vcpus", "2");
	assert_int_equal(r.status, 2);
	test_result_clear(&r);
	r = RESIZE("b");
	assert_int_equal(r.status, 2);
	test_result_clear(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_make_room_json),
		cmocka_unit_test(test_make_room_table),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_resize),
	};

	return cmocka_run_group_tests(tests, make_state, drop_state);
}
