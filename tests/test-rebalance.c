/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Rebalancing (core/solver-rebalance.c): the moves, at most K, after which the largest free
 * cell on one node is largest. Fragmented hosts built by hand (hwloc synthetic strings, SMT
 * siblings far apart): the measure grows to what the moves can reach and no further, the
 * moves stay within K, pinned guests stay, a compact host gets no move, and every plan is
 * valid (roomcheck.c: the checks the make-room tests make).
 */
#include <stdio.h>
#include <stdlib.h>

#include <json.h>

#include "testlib.h"
#include "roomcheck.h"

#define TWO_NODES "synthetic:pack:1 numa:2(memory=4GiB) core:4 pu:1"
#define THREE_NODES "synthetic:pack:1 numa:3(memory=4GiB) core:4 pu:1"
/* SMT siblings far apart: cores {0,6} {1,7} {2,8} on node 0, {3,9} {4,10} {5,11} on node 1 */
#define FAR_SIBLINGS \
	"synthetic:pack:1 numa:2(memory=4GiB) core:3 pu:2(indexes=0,6,1,7,2,8,3,9,4,10,5,11)"

static struct tmap_room_options
budget(unsigned k)
{
	struct tmap_room_options o = TMAP_ROOM_OPTIONS_INIT;

	o.max_moves = k;
	return o;
}

/* The first placed guest whose cell 0 is on node os (an OS index). */
static const char *
guest_on(const struct tmap_host *h, unsigned os)
{
	for (size_t i = 0; i < tmap_host_guest_count(h); i++) {
		const struct plan_guest *pg = host_guest_plan_at(h, i);

		if (pg->ncells && pg->cells[0].node == os)
			return pg->name;
	}
	fail_msg("no guest on node %u", os);
	return NULL;
}

/* Does a one-cell guest of n vcpus fit the host as it stands? */
static bool
fits_cell(struct tmap_host *h, unsigned n)
{
	struct tmap_guest *g = one_cell("probe", n, 1);
	bool fits = tmap_host_fit(h, g, NULL) == 0;

	tmap_guest_free(g);
	return fits;
}

/* Fill every PU with a one-cell guest of `each` vcpus (names g0, g1, ...), marked pinned or
 * not, then release `per_node` guests on each node: a host with holes on every node. */
static struct tmap_host *
fragment(struct tmap_host *h, const struct tmap_topology *t, unsigned each,
	 enum tmap_thread_policy policy, bool pinned, unsigned per_node)
{
	unsigned n = (unsigned)hwloc_bitmap_weight(t->cpuset) / each;

	for (unsigned i = 0; i < n; i++) {
		struct tmap_guest *g;
		char name[16];

		snprintf(name, sizeof(name), "g%u", i);
		g = one_cell(name, each, 64);
		assert_int_equal(tmap_guest_set_thread_policy(g, policy), 0);
		assert_int_equal(tmap_guest_set_pinned(g, pinned), 0);
		place(h, g);
	}
	for (unsigned node = 0; node < t->nnodes; node++)
		for (unsigned k = 0; k < per_node; k++) {
			char name[16];

			snprintf(name, sizeof(name), "%s", guest_on(h, t->nodes[node].os_index));
			assert_int_equal(tmap_host_release(h, name), 0);
		}
	return h;
}

static struct tmap_host *
fragmented(const struct tmap_topology *t, unsigned each, enum tmap_thread_policy policy,
	   bool pinned, unsigned per_node)
{
	return fragment(host_new(t, 0), t, each, policy, pinned, per_node);
}

/* A guest of two cells of `each` vcpus and 64 MiB. */
static struct tmap_guest *
two_cells(const char *name, unsigned each)
{
	struct tmap_guest *g = NULL;
	char cpus[32];

	assert_int_equal(tmap_guest_new(name, 2 * each, &g, NULL), 0);
	assert_int_equal(tmap_guest_set_memory_mib(g, 128), 0);
	snprintf(cpus, sizeof(cpus), "0-%u", each - 1);
	assert_int_equal(tmap_guest_add_cell(g, cpus, 64, NULL), 0);
	snprintf(cpus, sizeof(cpus), "%u-%u", each, 2 * each - 1);
	assert_int_equal(tmap_guest_add_cell(g, cpus, 64, NULL), 0);
	return g;
}

/* Rebalance h within k moves, check the plan against the host before, return the plan. */
static struct tmap_plan *
rebalance(const struct tmap_topology *t, struct tmap_host *h, unsigned k)
{
	struct tmap_room_options o = budget(k);
	struct tmap_plan *plan = NULL;
	struct tmap_error err = {0};
	struct picture before;

	picture_take(h, &before);
	if (tmap_host_rebalance(h, &o, &plan, &err) < 0)
		fail_msg("%s", err.message);
	assert_true(tmap_plan_move_count(plan) <= k);
	check_host(t, h, &before, 0);
	picture_clear(&before);
	return plan;
}

static void
assert_measure(const struct tmap_plan *plan, unsigned before, unsigned after)
{
	unsigned b = 0, a = 0;

	assert_int_equal(tmap_plan_rebalance(plan, &b, &a), 0);
	assert_int_equal(b, before);
	assert_int_equal(a, after);
}

/* Two nodes of 4 PUs, four 2-vcpu guests, one gone on each node: 2 PUs free on each. One
 * guest's cell to the other node (2 re-pins and its memory: 3 moves) frees a whole node. */
static void
test_two_nodes(void **state)
{
	struct tmap_topology *t = test_topology(TWO_NODES);
	struct tmap_host *h = fragmented(t, 2, TMAP_THREAD_PREFER, false, 1);
	struct tmap_plan *plan;
	struct tmap_move m;

	(void)state;
	assert_false(fits_cell(h, 3));
	plan = rebalance(t, h, 16);
	assert_measure(plan, 2, 4);
	assert_int_equal(tmap_plan_move_count(plan), 3);
	assert_int_equal(tmap_plan_move(plan, 0, &m), 0);
	assert_true(m.cell == 0 && m.memory_mib == 64 && m.from != m.to);
	/* the moved guest is in the plan, where the moves put it */
	assert_int_equal(tmap_plan_guest_count(plan), 1);
	assert_string_equal(tmap_plan_guest_name(plan, 0), m.guest);
	assert_true(fits_cell(h, 4));
	tmap_plan_free(plan);
	tmap_host_free(h);
	tmap_topology_free(t);
}

/* Three nodes of 4 PUs filled with 1-vcpu guests, two gone on each node: 2 free on each.
 * A 3-PU cell takes one guest moved (a re-pin and its memory: 2 moves), a 4-PU cell two (4
 * moves). With K = 3 the answer is the 3-PU cell in 2 moves; with K = 16 the 4-PU cell. */
static void
test_budget(void **state)
{
	struct tmap_topology *t = test_topology(THREE_NODES);
	struct tmap_host *h = fragmented(t, 1, TMAP_THREAD_PREFER, false, 2);
	struct tmap_host *h2 = fragmented(t, 1, TMAP_THREAD_PREFER, false, 2);
	struct tmap_plan *plan;

	(void)state;
	plan = rebalance(t, h, 3);
	assert_measure(plan, 2, 3);
	assert_int_equal(tmap_plan_move_count(plan), 2);
	assert_true(fits_cell(h, 3));
	assert_false(fits_cell(h, 4));
	tmap_plan_free(plan);

	plan = rebalance(t, h2, 16);
	assert_measure(plan, 2, 4);
	assert_int_equal(tmap_plan_move_count(plan), 4);
	assert_true(fits_cell(h2, 4));
	tmap_plan_free(plan);
	/* K = 1 reaches nothing: no move is one move alone */
	tmap_host_free(h);
	h = fragmented(t, 1, TMAP_THREAD_PREFER, false, 2);
	plan = rebalance(t, h, 1);
	assert_measure(plan, 2, 2);
	assert_int_equal(tmap_plan_move_count(plan), 0);
	tmap_plan_free(plan);
	tmap_host_free(h2);
	tmap_host_free(h);
	tmap_topology_free(t);
}

/* Issue 18's measure: the recent requests. The host of test_budget() after a request for two
 * cells of 3 vcpus (placed, then gone): 2 PUs free on each of 3 nodes. Within 16 moves the
 * largest cell alone would free a whole node (4 PUs, the other two left with 1 each); the
 * recent request asks for 3 PUs on two nodes, and the rebalance makes that room instead
 * (4 moves: one guest off each of two nodes, a re-pin and its memory each). */
static void
test_recent_request(void **state)
{
	struct tmap_topology *t = test_topology(THREE_NODES);
	struct tmap_host *h = host_new(t, 0);
	struct tmap_guest *probe = two_cells("probe", 3);
	unsigned count = 0, before = 0, after = 0;
	struct tmap_plan *plan;

	(void)state;
	place(h, two_cells("r", 3));
	assert_int_equal(tmap_host_release(h, "r"), 0);
	fragment(h, t, 1, TMAP_THREAD_PREFER, false, 2);
	assert_int_not_equal(tmap_host_fit(h, probe, NULL), 0);
	plan = rebalance(t, h, 16);
	assert_int_equal(tmap_plan_move_count(plan), 4);
	assert_int_equal(tmap_host_fit(h, probe, NULL), 0);
	assert_false(fits_cell(h, 4));
	assert_measure(plan, 2, 3);
	assert_int_equal(tmap_plan_rebalance_recent(plan, &count, &before, &after), 0);
	assert_int_equal(count, 13);
	assert_int_equal(before, 12);
	assert_int_equal(after, 13);
	tmap_plan_free(plan);
	tmap_guest_free(probe);
	tmap_host_free(h);
	tmap_topology_free(t);
}

/* The two-node host with every guest pinned: nothing moves, and the plan says no move helps. */
static void
test_pinned(void **state)
{
	struct tmap_topology *t = test_topology(TWO_NODES);
	struct tmap_host *h = fragmented(t, 2, TMAP_THREAD_PREFER, true, 1);
	struct tmap_plan *plan;

	(void)state;
	plan = rebalance(t, h, 16);	/* check_host(): pinned guests unchanged */
	assert_measure(plan, 2, 2);
	assert_int_equal(tmap_plan_move_count(plan), 0);
	assert_int_equal(tmap_plan_guest_count(plan), 0);
	assert_false(fits_cell(h, 3));
	tmap_plan_free(plan);
	tmap_host_free(h);
	tmap_topology_free(t);
}

/* A compact host (the guests left fill one node, the other node is free): no move. */
static void
test_compact(void **state)
{
	struct tmap_topology *t = test_topology(TWO_NODES);
	struct tmap_host *h = fragmented(t, 2, TMAP_THREAD_PREFER, false, 0);
	struct tmap_plan *plan;

	(void)state;
	/* the two guests of node 1 gone: node 0 full, node 1 free */
	for (unsigned k = 0; k < 2; k++) {
		char name[16];

		snprintf(name, sizeof(name), "%s", guest_on(h, 1));
		assert_int_equal(tmap_host_release(h, name), 0);
	}
	plan = rebalance(t, h, 16);
	assert_measure(plan, 4, 4);
	assert_int_equal(tmap_plan_move_count(plan), 0);
	tmap_plan_free(plan);
	tmap_host_free(h);
	tmap_topology_free(t);
}

/* SMT siblings far apart, every core held by a require guest of 2 vcpus (a sibling pair), one
 * gone on each node: a free core (2 PUs) on each. One guest moves with its core kept whole
 * (2 re-pins and its memory: 3 moves) and node frees 2 cores, 4 PUs. */
static void
test_far_siblings(void **state)
{
	struct tmap_topology *t = test_topology(FAR_SIBLINGS);
	struct tmap_host *h = fragmented(t, 2, TMAP_THREAD_REQUIRE, false, 1);
	struct tmap_plan *plan;
	struct tmap_move m;
	const char *moved;
	hwloc_bitmap_t held;
	int first;

	(void)state;
	plan = rebalance(t, h, 16);	/* check_host(): sibling pairs kept */
	assert_measure(plan, 2, 4);
	assert_int_equal(tmap_plan_move_count(plan), 3);
	assert_int_equal(tmap_plan_move(plan, 0, &m), 0);
	moved = m.guest;
	/* the moved guest holds one core of the node it went to: PUs p and p + 6 */
	held = hwloc_bitmap_alloc();
	assert_int_equal(hwloc_bitmap_list_sscanf(held, tmap_plan_held_cpuset(plan, 0)), 0);
	assert_string_equal(tmap_plan_guest_name(plan, 0), moved);
	first = hwloc_bitmap_first(held);
	assert_int_equal(hwloc_bitmap_weight(held), 2);
	assert_true(hwloc_bitmap_isset(held, (unsigned)first + 6));
	assert_int_equal(first / 3, (int)m.to);
	hwloc_bitmap_free(held);
	assert_true(fits_cell(h, 4));
	tmap_plan_free(plan);
	tmap_host_free(h);
	tmap_topology_free(t);
}

/* The plan in JSON: "rebalance" with the measure before and after, "moves" as make-room's;
 * the table says the measure, or that no move improves it. */
static void
test_formats(void **state)
{
	struct tmap_topology *t = test_topology(TWO_NODES);
	struct tmap_host *h = fragmented(t, 2, TMAP_THREAD_PREFER, false, 1);
	struct tmap_host *p = fragmented(t, 2, TMAP_THREAD_PREFER, true, 1);
	struct tmap_plan *plan = rebalance(t, h, 16), *still = rebalance(t, p, 16);
	struct tmap_error err = {0};
	char *json = NULL, *table = NULL;
	struct json_object *root, *rb, *v;

	(void)state;
	assert_int_equal(tmap_plan_format(plan, TMAP_FORMAT_JSON, 0, &json, &err), 0);
	root = json_tokener_parse(json);
	assert_non_null(root);
	assert_true(json_object_object_get_ex(root, "rebalance", &rb));
	assert_true(json_object_object_get_ex(rb, "measure", &v));
	assert_string_equal(json_object_get_string(v), "largest_cell_pus");
	assert_true(json_object_object_get_ex(rb, "before", &v));
	assert_int_equal(json_object_get_int(v), 2);
	assert_true(json_object_object_get_ex(rb, "after", &v));
	assert_int_equal(json_object_get_int(v), 4);
	assert_true(json_object_object_get_ex(root, "moves", &v));
	assert_int_equal(json_object_array_length(v), 3);
	json_object_put(root);
	assert_int_equal(tmap_plan_format(plan, TMAP_FORMAT_TABLE, 0, &table, &err), 0);
	assert_non_null(strstr(table, "grows from 2 to 4 PUs"));
	assert_non_null(strstr(table, "moves: 3"));
	free(table);
	assert_int_equal(tmap_plan_format(still, TMAP_FORMAT_TABLE, 0, &table, &err), 0);
	assert_non_null(strstr(table, "no moves make the largest free cell on one node (2 PUs) larger"));
	assert_non_null(strstr(table, "moves: 0"));
	/* a plan of tmap_host_make_room() has no measure */
	assert_int_equal(tmap_plan_rebalance(NULL, NULL, NULL), -EINVAL);
	free(json);
	free(table);
	tmap_plan_free(plan);
	tmap_plan_free(still);
	tmap_host_free(h);
	tmap_host_free(p);
	tmap_topology_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_nodes),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_recent_request),
		cmocka_unit_test(test_pinned),
		cmocka_unit_test(test_compact),
		cmocka_unit_test(test_far_siblings),
		cmocka_unit_test(test_formats),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
