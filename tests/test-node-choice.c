/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Which node takes each cell (core/solver-nodes.c, issue 21): the choices that keep a host able
 * to take what follows, each on a synthetic host small enough to check by hand. Every stream
 * here was refused or split by an earlier solver; the comment of each test says how.
 */
#include "testlib.h"

/* The plan of the guests on the host, in order, every one placed or fail. */
static struct tmap_plan *
plan_all(const char *host, const char *json)
{
	struct tmap_topology *t = test_topology(host);
	struct tmap_guests *g = test_guests(json);
	struct tmap_plan *p = test_solve(t, g, NULL);

	tmap_guests_free(g);
	tmap_topology_free(t);
	return p;
}

/* The node (OS index) of a guest's cell. */
static int
node_of(const struct tmap_plan *p, const char *name, unsigned cell)
{
	const struct plan_guest *pg = test_plan_guest(p, name);

	assert_true(cell < pg->ncells);
	return pg->cells[cell].node;
}

/* One-cell guests of the host's memory per PU go to the fullest node that takes them (best
 * fit, as Nova's packing mode): the two halves share a node, and two whole-node guests still
 * find a whole node each (spreading the halves left only one, and split the last guest). */
static void
small_guests_keep_whole_nodes(void **state)
{
	struct tmap_plan *p = plan_all("synthetic:pack:1 numa:3(memory=16GiB) core:4 pu:2",
				       "[{\"name\":\"a\",\"vcpus\":4,\"memory_mib\":8192},"
				       "{\"name\":\"b\",\"vcpus\":4,\"memory_mib\":8192},"
				       "{\"name\":\"c\",\"vcpus\":8,\"memory_mib\":16384},"
				       "{\"name\":\"d\",\"vcpus\":8,\"memory_mib\":16384}]");

	assert_int_equal(node_of(p, "a", 0), node_of(p, "b", 0));
	assert_int_equal(test_plan_guest(p, "c")->ncells, 1);
	assert_int_equal(test_plan_guest(p, "d")->ncells, 1);
	assert_int_not_equal(node_of(p, "c", 0), node_of(p, "d", 0));
	tmap_plan_free(p);
}

/* An even cell on a node with a half-free core breaks no core: it leaves the hole as it found
 * it, so it goes to that node (best fit), and the whole-node guest after it still fits. */
static void
even_cell_beside_half_free_core(void **state)
{
	struct tmap_plan *p =
	    plan_all("synthetic:pack:1 numa:2(memory=16GiB) core:4 pu:2",
		     "[{\"name\":\"f\",\"vcpus\":1,\"memory_mib\":2048,"
		     "\"cells\":[{\"cpus\":\"0\",\"node\":0,\"memory_mib\":2048}]},"
		     "{\"name\":\"x\",\"vcpus\":4,\"memory_mib\":8192},"
		     "{\"name\":\"y\",\"vcpus\":8,\"memory_mib\":16384}]");

	assert_int_equal(node_of(p, "x", 0), 0);
	assert_int_equal(test_plan_guest(p, "y")->ncells, 1);
	assert_int_equal(node_of(p, "y", 0), 1);
	tmap_plan_free(p);
}

/* A two-cell guest whose nearest node pairs would each break a whole node takes two half-full
 * nodes farther apart, so the recent two-whole-node request still fits: what stays useful
 * comes before distance. Nodes 0-1 are full, 2 and 5 half full, 3 and 4 empty. */
static void
cells_keep_recent_request_fitting(void **state)
{
	struct tmap_plan *p =
	    plan_all("synthetic:pack:3 numa:2(memory=16GiB) core:4 pu:2",
		     "[{\"name\":\"big\",\"vcpus\":16,\"cells\":[{\"cpus\":\"0-7\"},"
		     "{\"cpus\":\"8-15\"}]},"
		     "{\"name\":\"f2\",\"vcpus\":4,\"cells\":[{\"cpus\":\"0-3\",\"node\":2}]},"
		     "{\"name\":\"f5\",\"vcpus\":4,\"cells\":[{\"cpus\":\"0-3\",\"node\":5}]},"
		     "{\"name\":\"x\",\"vcpus\":8,\"cells\":[{\"cpus\":\"0-3\"},"
		     "{\"cpus\":\"4-7\"}]}]");
	int a = node_of(p, "x", 0), b = node_of(p, "x", 1);

	assert_true((a == 2 && b == 5) || (a == 5 && b == 2));
	tmap_plan_free(p);
}

/* A request of one large and one small cell fits when one node takes the large cell and
 * another the small one, not two nodes the large one: the guest's small cell goes to a half
 * full node of the other socket, not beside its large cell on the last empty node, so the
 * same request fits again. Nodes 0-1 (socket 0) half full, 2-3 (socket 1) empty. */
static void
large_and_small_cells_keep_the_last_node(void **state)
{
	struct tmap_plan *p = plan_all(
	    "synthetic:pack:2 numa:2(memory=16GiB) core:8 pu:1",
	    "[{\"name\":\"f0\",\"vcpus\":4,\"cells\":[{\"cpus\":\"0-3\",\"node\":0}]},"
	    "{\"name\":\"f1\",\"vcpus\":4,\"cells\":[{\"cpus\":\"0-3\",\"node\":1}]},"
	    "{\"name\":\"x\",\"vcpus\":9,\"cells\":[{\"cpus\":\"0-7\"},{\"cpus\":\"8\"}]},"
	    "{\"name\":\"y\",\"vcpus\":9,\"cells\":[{\"cpus\":\"0-7\"},{\"cpus\":\"8\"}]}]");
	assert_true(node_of(p, "x", 1) <= 1);
	assert_true(node_of(p, "x", 0) >= 2 && node_of(p, "y", 0) >= 2);
	assert_int_not_equal(node_of(p, "x", 0), node_of(p, "y", 0));
	tmap_plan_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(small_guests_keep_whole_nodes),
	    cmocka_unit_test(even_cell_beside_half_free_core),
	    cmocka_unit_test(cells_keep_recent_request_fitting),
	    cmocka_unit_test(large_and_small_cells_keep_the_last_node),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
