/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The built command rebalancing (issue 18): topomap rebalance on a state file of a
 * fragmented host, the README's worked example ("Rebalancing"): three nodes of 4 PUs, each
 * with 2 of its 1-vcpu guests released. The measure before and after and the moves in the
 * table and in JSON, the limit in moves, the refusals.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "testlib.h"

#define HOST "synthetic:pack:1 numa:3(memory=4GiB) core:4 pu:1"

static char state_path[64];

/* Twelve 1-vcpu guests g0..g11 fill the host, four on each node (which ones goes as the
 * solver fills it); the first two of each node released leave 2 PUs free on each. */
static int
make_state(void **unused)
{
	struct tmap_topology *t = test_topology(HOST);
	struct tmap_guests *gs;
	struct tmap_host *h = NULL;
	struct tmap_plan *plan = NULL;
	struct tmap_error err = {0};
	char json[2048] = "[";

	(void)unused;
	for (int i = 0; i < 12; i++)
		snprintf(json + strlen(json), sizeof(json) - strlen(json),
			 "%s{\"name\":\"g%d\",\"vcpus\":1,\"memory_mib\":256,\"cells\":[{\"cpus\":\"0\"}]}",
			 i ? "," : "", i);
	strcat(json, "]");
	gs = test_guests(json);
	test_state_name(state_path, sizeof(state_path), "rebalance");
	assert_int_equal(tmap_host_new(t, NULL, &h, &err), 0);
	assert_int_equal(tmap_host_solve(h, gs, &plan, &err), 0);
	for (size_t g = 0, released[3] = {0}; g < tmap_plan_guest_count(plan); g++) {
		int node = tmap_plan_cell_node(plan, g, 0);

		assert_in_range(node, 0, 2);
		if (released[node] < 2) {
			released[node]++;
			assert_int_equal(tmap_host_release(h, tmap_plan_guest_name(plan, g)), 0);
		}
	}
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

#define REBALANCE(...) RUN("rebalance", "--topology", HOST, "--state", state_path, __VA_ARGS__)

/* Two 1-vcpu guests off node 0 (a cell's memory and a re-pin each: 4 moves) free a node. */
static void
test_table(void **state)
{
	struct test_result r = REBALANCE("--max-moves", "16");

	(void)state;
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "the largest free cell on one node grows from 2 to 4 PUs"));
	assert_non_null(strstr(r.out, "moves: 4"));
	assert_non_null(strstr(r.out, "node 0 -> 1, 256 MiB of memory"));
	test_result_clear(&r);
}

/* Within 3 moves only one guest moves (2 moves): the largest cell is 3 PUs. */
static void
test_json_budget(void **state)
{
	struct test_result r = REBALANCE("--max-moves", "3", "--format", "json");
	struct json_object *doc, *moves, *rb, *v;

	(void)state;
	assert_int_equal(r.status, 0);
	doc = json_tokener_parse(r.out);
	assert_non_null(doc);
	assert_true(json_object_object_get_ex(doc, "moves", &moves));
	assert_int_equal(json_object_array_length(moves), 2);
	assert_true(json_object_object_get_ex(json_object_array_get_idx(moves, 0), "cell", NULL));
	assert_true(json_object_object_get_ex(doc, "rebalance", &rb));
	assert_true(json_object_object_get_ex(rb, "before", &v));
	assert_int_equal(json_object_get_int(v), 2);
	assert_true(json_object_object_get_ex(rb, "after", &v));
	assert_int_equal(json_object_get_int(v), 3);
	json_object_put(doc);
	test_result_clear(&r);
	/* one move reaches nothing: no move, and the table says so */
	r = REBALANCE("--max-moves", "1");
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "no moves make the largest free cell on one node (2 PUs) larger"));
	assert_non_null(strstr(r.out, "moves: 0"));
	test_result_clear(&r);
}

/* The plan changes nothing: the state is byte for byte as it was. */
static void
test_plan_only(void **state)
{
	char *before = strdup(test_read_file(state_path));
	struct test_result r = REBALANCE("--format", "json");

	(void)state;
	assert_int_equal(r.status, 0);
	test_result_clear(&r);
	assert_string_equal(before, test_read_file(state_path));
	free(before);
}

static void
test_refusals(void **state)
{
	struct test_result r = REBALANCE("--max-moves", "0");

	(void)state;
	assert_int_equal(r.status, 2);
	test_result_clear(&r);
	r = REBALANCE("g4");
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "rebalance: unexpected argument 'g4'"));
	test_result_clear(&r);
	r = REBALANCE("--no-memory");
	assert_int_equal(r.status, 2);
	assert_non_null(strstr(r.err, "rebalance: --no-memory goes with --apply"));
	test_result_clear(&r);
	r = REBALANCE("--max-moves", "2", "--max-moves", "3");
	assert_int_equal(r.status, 2);
	test_result_clear(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_json_budget),
		cmocka_unit_test(test_plan_only),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, make_state, drop_state);
}
