/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared guests (issue 21): a shared cell floats over the whole pool of its node, not a slice
 * of vcpus / cpu_overcommit PUs; no cell wider than the pool; the overcommit a capacity summed
 * over the node's shared guests; dedicated guests leave the PUs the shared ones need. One
 * node of 12 cores x 2 threads, 24 PUs, 64 GiB; expected values counted by hand.
 */
#include "testlib.h"

#define HOST24 "synthetic:pack:1 numa:1(memory=64GiB) core:12 pu:2"

/* The case: 8 shared vcpus on an empty 24-PU host float over all 24 PUs (they had
 * 2 PUs, one core, at the default 4 per PU). */
static void
eight_vcpus_float_over_the_whole_host(void **state)
{
	struct tmap_topology *t = test_topology(HOST24);
	struct tmap_host *h = test_host(t, NULL, 0);
	struct tmap_error err = {0};
	struct tmap_plan *p = NULL;
	(void)state;

	assert_int_equal(test_place(h, "{\"name\":\"s\",\"vcpus\":8,\"cpu_policy\":\"shared\"}", &p, &err), 0);
	for (unsigned v = 0; v < 8; v++)
		assert_string_equal(tmap_plan_vcpu_cpuset(p, 0, v), "0-23");
	assert_string_equal(tmap_plan_emulator_cpuset(p, 0), "0-23");
	tmap_plan_free(p);
	tmap_host_free(h);
	tmap_topology_free(t);
}

/* A given pool of 4 PUs takes 16 shared vcpus at 4 per PU, but no cell of 6. */
static void
cell_wider_than_the_pool_is_refused(void **state)
{
	struct tmap_topology *t = test_topology(HOST24);
	struct tmap_host *h = test_host(t, "0-3", 4.0);
	struct tmap_error err = {0};
	(void)state;

	assert_int_equal(test_place(h, "{\"name\":\"w\",\"vcpus\":6,\"cpu_policy\":\"shared\"}", NULL, &err),
			 -ENOSPC);
	assert_string_equal(err.message, "w: cell 0 has 6 shared vcpus, more than the 4 PUs of node 0's shared pool, the widest (a shared cell floats over its node's whole pool; the overcommit adds guests, it never narrows one)");
	tmap_host_free(h);
	tmap_topology_free(t);
}

/* Ratio 2.0: a dedicated guest of 16 leaves a pool of 8 PUs, 16 shared vcpus: two guests of
 * 8 fit (8 + 8 = 16), each over the same 8 PUs; one more vcpu (17) does not. */
static void
capacity_sums_the_guests(void **state)
{
	struct tmap_topology *t = test_topology(HOST24);
	struct tmap_host *h = test_host(t, NULL, 2.0);
	struct tmap_error err = {0};
	struct tmap_plan *p = NULL, *q = NULL;
	(void)state;

	assert_int_equal(test_place(h, "{\"name\":\"d\",\"vcpus\":16}", NULL, &err), 0);
	assert_int_equal(test_place(h, "{\"name\":\"a\",\"vcpus\":8,\"cpu_policy\":\"shared\"}", &p, &err), 0);
	assert_int_equal(test_place(h, "{\"name\":\"b\",\"vcpus\":8,\"cpu_policy\":\"shared\"}", &q, &err), 0);
	assert_int_equal(hwloc_bitmap_weight(p->guests[0].vcpu_pus[0]), 8);
	assert_string_equal(tmap_plan_vcpu_cpuset(p, 0, 0), tmap_plan_vcpu_cpuset(q, 0, 7));
	assert_int_equal(test_place(h, "{\"name\":\"c\",\"vcpus\":1,\"cpu_policy\":\"shared\"}", NULL, &err),
			 -ENOSPC);
	tmap_plan_free(p);
	tmap_plan_free(q);
	tmap_host_free(h);
	tmap_topology_free(t);
}

/* 8 shared vcpus at 4 per PU need 8 PUs (their cell's width): a dedicated guest of 16 takes
 * the other 16, and one more dedicated vcpu is refused. */
static void
dedicated_after_shared_keeps_their_pool(void **state)
{
	struct tmap_topology *t = test_topology(HOST24);
	struct tmap_host *h = test_host(t, NULL, 4.0);
	struct tmap_error err = {0};
	(void)state;

	assert_int_equal(test_place(h, "{\"name\":\"s\",\"vcpus\":8,\"cpu_policy\":\"shared\"}", NULL, &err), 0);
	assert_int_equal(test_place(h, "{\"name\":\"d\",\"vcpus\":16}", NULL, &err), 0);
	assert_int_equal(test_place(h, "{\"name\":\"e\",\"vcpus\":1}", NULL, &err), -ENOSPC);
	tmap_host_free(h);
	tmap_topology_free(t);
}

/* No pool given: a node's pool is its usable PUs no dedicated guest holds, and the shared
 * guests follow it. Placed after s, d takes 16 PUs s floated over: s is off the pool
 * (host_shared_drift() says so, naming it and both sets) until host_follow_pool() narrows it
 * to the 8 left; d released, s is off again until it grows back over all 24. A given pool
 * holds no dedicated PU: nothing to follow there. */
static void
shared_guests_follow_the_implicit_pool(void **state)
{
	struct tmap_topology *t = test_topology(HOST24);
	struct tmap_host *h = test_host(t, NULL, 4.0), *g = test_host(t, "16-23", 4.0);
	struct tmap_error err = {0};
	struct tmap_plan *p = NULL;
	const char **names = NULL;
	char *line = NULL;
	size_t n = 0;
	(void)state;

	assert_int_equal(test_place(h, "{\"name\":\"s\",\"vcpus\":8,\"cpu_policy\":\"shared\"}", NULL, &err), 0);
	assert_int_equal(host_follow_needed(h), 0);
	assert_int_equal(host_shared_drift(h, "s", &line), 0);
	assert_null(line);
	assert_int_equal(test_place(h, "{\"name\":\"d\",\"vcpus\":16}", &p, &err), 0);
	assert_string_equal(tmap_plan_cpuset(p, 0), "0-15");
	tmap_plan_free(p);
	assert_int_equal(host_follow_needed(h), 1);
	assert_int_equal(host_shared_drift(h, "s", &line), 0);
	assert_non_null(line);
	assert_string_equal(line, "guest 's' cell 0 floats over 0-23, not over node 0's pool 16-23 (its usable PUs that no dedicated guest holds)");
	free(line);
	assert_int_equal(host_follow_pool(h, &names, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(names[0], "s");
	free(names);
	assert_int_equal(host_follow_needed(h), 0);
	assert_int_equal(tmap_host_guest_plan(h, "s", &p, &err), 0);
	for (unsigned v = 0; v < 8; v++)
		assert_string_equal(tmap_plan_vcpu_cpuset(p, 0, v), "16-23");
	tmap_plan_free(p);

	assert_int_equal(tmap_host_release(h, "d"), 0);
	assert_int_equal(host_follow_needed(h), 1);
	assert_int_equal(host_shared_drift(h, "s", &line), 0);
	assert_non_null(strstr(line, "floats over 16-23, not over node 0's pool 0-23"));
	free(line);
	assert_int_equal(host_follow_pool(h, &names, &n, &err), 0);
	assert_int_equal(n, 1);
	free(names);
	assert_int_equal(tmap_host_guest_plan(h, "s", &p, &err), 0);
	assert_string_equal(tmap_plan_vcpu_cpuset(p, 0, 0), "0-23");
	tmap_plan_free(p);

	/* A given pool: a dedicated guest beside it changes nothing to follow. */
	assert_int_equal(test_place(g, "{\"name\":\"s\",\"vcpus\":8,\"cpu_policy\":\"shared\"}", NULL, &err), 0);
	assert_int_equal(test_place(g, "{\"name\":\"d\",\"vcpus\":8}", NULL, &err), 0);
	assert_int_equal(host_follow_needed(g), 0);
	assert_int_equal(host_shared_drift(g, "s", &line), 0);
	assert_null(line);
	tmap_host_free(g);
	tmap_host_free(h);
	tmap_topology_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(eight_vcpus_float_over_the_whole_host),
		cmocka_unit_test(cell_wider_than_the_pool_is_refused),
		cmocka_unit_test(capacity_sums_the_guests),
		cmocka_unit_test(dedicated_after_shared_keeps_their_pool),
		cmocka_unit_test(shared_guests_follow_the_implicit_pool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
