/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Placements asked explicitly (issue 21): a host node per cell, the exact PUs of the vcpus.
 * Each is met as asked, read back from the plan, or refused with one line naming the guest,
 * the request and why. The host numbers SMT siblings 12 apart, as Intel hosts do: node 0 is
 * PUs 0-5 and their siblings 12-17, node 1 is 6-11 and 18-23, 64 GiB each.
 */
#include "testlib.h"

#define INTEL "synthetic:pack:2 numa:1(memory=64GiB) core:6 pu:2(indexes=0,12,1,13,2,14,3,15,4,16,5,17,6,18,7,19,8,20,9,21,10,22,11,23)"

/* A guest refused: the one line it gets. */
static void
refused(const char *host, const char *json, const char *reserve, const char *shared,
	const char *message)
{
	struct tmap_topology *t = test_topology(host);

	assert_null(test_solve_json(t, json, reserve, shared, -ENOSPC, message));
	tmap_topology_free(t);
}

static const struct plan_guest *
last_guest(const struct tmap_plan *p)
{
	assert_true(p->nguests > 0);
	return &p->guests[p->nguests - 1];
}

/* Does the guest's "why" hold this text? */
static bool
explains(const struct plan_guest *pg, const char *text)
{
	for (size_t i = 0; i < pg->nexplain; i++)
		if (strstr(pg->explain[i], text))
			return true;
	return false;
}

/* Exact PUs in the order written: guest SMT threads on host siblings 12 apart, the cell on
 * their node, and the guest recorded pinned (making room never moves it). */
static void
pus_pinned_as_written(void **state)
{
	struct tmap_topology *t = test_topology(INTEL);
	struct tmap_plan *p;
	const struct plan_guest *pg;
	(void)state;

	p = test_solve_json(t, "{\"name\":\"db\",\"vcpus\":4,\"threads\":2,\"thread_policy\":\"require\","
		     "\"memory_mib\":2048,\"pus\":\"8,20,9,21\"}", NULL, NULL, 0, NULL);
	pg = last_guest(p);
	assert_string_equal(pg->vcpu_lists[0], "8");
	assert_string_equal(pg->vcpu_lists[1], "20");
	assert_string_equal(pg->vcpu_lists[2], "9");
	assert_string_equal(pg->vcpu_lists[3], "21");
	assert_int_equal(pg->ncells, 1);
	assert_int_equal(pg->cells[0].node, 1);
	assert_int_equal(pg->cells[0].memory_mib, 2048);
	assert_string_equal(pg->memory_list, "1");
	assert_string_equal(pg->held_list, "8-9,20-21");
	assert_true(pg->pinned);
	assert_true(explains(pg, "vcpus: pinned as asked, vcpu i on the i-th PU of pus '8,20,9,21'"));
	tmap_plan_free(p);

	/* isolate holds each vcpu's sibling; prefer holds the PU alone. Two cells, one per
	 * node, each where its PUs are. */
	p = test_solve_json(t, "[{\"name\":\"iso\",\"vcpus\":2,\"thread_policy\":\"isolate\",\"pus\":\"7,6\"},"
		     "{\"name\":\"two\",\"vcpus\":2,\"pus\":\"1,20\",\"memory_mib\":3072,"
		     "\"cells\":[{\"cpus\":\"0\",\"memory_mib\":1024},{\"cpus\":\"1\"}]}]",
		  NULL, NULL, 0, NULL);
	assert_string_equal(p->guests[0].vcpu_lists[0], "7");
	assert_string_equal(p->guests[0].vcpu_lists[1], "6");
	assert_string_equal(p->guests[0].held_list, "6-7,18-19");
	pg = last_guest(p);
	assert_string_equal(pg->held_list, "1,20");
	assert_int_equal(pg->cells[0].node, 0);
	assert_int_equal(pg->cells[1].node, 1);
	assert_int_equal(pg->cells[1].memory_mib, 2048);
	tmap_plan_free(p);
	tmap_topology_free(t);
}

/* Every way a PU can be refused, each naming the guest, the list and the PU. */
static void
pus_refused(void **state)
{
	(void)state;
	refused(INTEL, "[{\"name\":\"web\",\"vcpus\":2,\"pus\":\"6,18\"},"
		       "{\"name\":\"db\",\"vcpus\":2,\"pus\":\"7,18\"}]", NULL, NULL,
		"guest 'db': pus '7,18': PU 18 is held by 'web'");
	refused(INTEL, "{\"name\":\"db\",\"vcpus\":2,\"pus\":\"1,0\"}", "0,12", NULL,
		"guest 'db': pus '1,0': PU 0 is reserved for the host");
	refused(INTEL, "{\"name\":\"db\",\"vcpus\":2,\"pus\":\"1,40\"}", NULL, NULL,
		"guest 'db': pus '1,40': PU 40 is not a PU of this host (0-23)");
	refused(INTEL, "{\"name\":\"db\",\"vcpus\":2,\"pus\":\"3-4\"}", NULL, "4,16",
		"guest 'db': pus '3-4': PU 4 is in the shared pool, and this guest is dedicated");
	/* thread policies: the sibling that breaks them, and the core named */
	refused(INTEL, "[{\"name\":\"web\",\"vcpus\":1,\"pus\":\"14\"},"
		       "{\"name\":\"db\",\"vcpus\":1,\"thread_policy\":\"isolate\",\"pus\":\"2\"}]",
		NULL, NULL,
		"guest 'db': pus '2': PU 2 is on core 2,14, and sibling PU 14 is held by 'web' (thread_policy isolate keeps a vcpu's siblings empty)");
	refused(INTEL, "{\"name\":\"db\",\"vcpus\":2,\"thread_policy\":\"isolate\",\"pus\":\"2,14\"}",
		NULL, NULL,
		"guest 'db': pus '2,14': PUs 2 and 14 share core 2,14 (thread_policy isolate gives each vcpu a core of its own)");
	refused(INTEL, "{\"name\":\"db\",\"vcpus\":1,\"thread_policy\":\"require\",\"pus\":\"3\"}",
		"15", NULL,
		"guest 'db': pus '3': PU 3 is on core 3,15, and sibling PU 15 is reserved for the host (thread_policy require takes whole SMT cores)");
	refused(INTEL, "{\"name\":\"db\",\"vcpus\":4,\"threads\":2,\"thread_policy\":\"require\","
		       "\"pus\":\"2-3,14-15\"}", NULL, NULL,
		"guest 'db': pus '2-3,14-15': vcpus 0 and 1 (guest core 0) are on host cores 2,14 and 3,15 (thread_policy require keeps a guest core on one host core)");
	/* a cell on one node; its memory there */
	refused(INTEL, "{\"name\":\"db\",\"vcpus\":2,\"pus\":\"0,6\"}", NULL, NULL,
		"guest 'db': pus '0,6': cell 0 has vcpu 0 on node 0 and vcpu 1 on node 1; a cell's vcpus are on one node (give one cell per node)");
	refused(INTEL, "{\"name\":\"db\",\"vcpus\":2,\"pus\":\"0-1\",\"cells\":[{\"cpus\":\"0-1\",\"node\":1}]}",
		NULL, NULL, "guest 'db': cell 0: node 1, but pus '0-1' puts its vcpus on node 0");
	refused(INTEL, "{\"name\":\"db\",\"vcpus\":2,\"memory_mib\":70000,\"pus\":\"0-1\"}", NULL, NULL,
		"guest 'db': cell 0: node 0 has 65536 MiB free; the guest's cells there need 70000 MiB");
}

/* A cell's node: honoured against the solver's own choice, the free cells chosen around it;
 * each refusal names the cell and the node. */
static void
nodes_honoured_and_refused(void **state)
{
	struct tmap_topology *t = test_topology(INTEL);
	struct tmap_plan *p;
	const struct plan_guest *pg;
	(void)state;

	/* node 1 is the fuller one after 'a': the solver alone would pick node 0 */
	p = test_solve_json(t, "[{\"name\":\"a\",\"vcpus\":8,\"cells\":[{\"cpus\":\"0-7\",\"node\":1}]},"
		     "{\"name\":\"db\",\"vcpus\":4,\"memory_mib\":3072,"
		     "\"cells\":[{\"cpus\":\"0-1\",\"memory_mib\":2048,\"node\":1},{\"cpus\":\"2-3\"}]}]",
		  NULL, NULL, 0, NULL);
	assert_int_equal(p->guests[0].cells[0].node, 1);
	pg = last_guest(p);
	assert_int_equal(pg->cells[0].node, 1);
	assert_int_equal(pg->cells[0].memory_mib, 2048);
	assert_int_equal(pg->cells[1].node, 0);
	assert_int_equal(pg->cells[1].memory_mib, 1024);
	assert_true(hwloc_bitmap_isincluded(pg->cells[0].pus, t->nodes[1].cpuset));
	assert_true(pg->pinned);
	assert_true(explains(pg, "cell 0 -> node 1: as asked (node 1)"));
	tmap_plan_free(p);
	tmap_topology_free(t);

	refused(INTEL, "{\"name\":\"db\",\"vcpus\":2,\"cells\":[{\"cpus\":\"0-1\",\"node\":5}]}", NULL,
		NULL, "guest 'db': cell 0: node 5 is not a node of this host (0-1)");
	refused(INTEL, "{\"name\":\"db\",\"vcpus\":13,\"cells\":[{\"cpus\":\"0-12\",\"node\":0}]}",
		NULL, NULL, "guest 'db': cell 0: node 0 has 12 free PUs; the guest's cells there need 13");
	refused(INTEL, "{\"name\":\"db\",\"vcpus\":4,\"thread_policy\":\"isolate\","
		       "\"cells\":[{\"cpus\":\"0-3\",\"node\":0}]}", "0-2", NULL,
		"guest 'db': cell 0: node 0 has 3 whole free cores; the guest's cells there need 4");
	refused(INTEL, "{\"name\":\"db\",\"vcpus\":2,\"memory_mib\":70000,"
		       "\"cells\":[{\"cpus\":\"0-1\",\"node\":1}]}", NULL, NULL,
		"guest 'db': cell 0: node 1 has 65536 MiB free; the guest's cells there need 70000 MiB");
	refused(INTEL, "{\"name\":\"db\",\"vcpus\":2,\"cells\":[{\"cpus\":\"0\",\"node\":0},"
		       "{\"cpus\":\"1\",\"node\":0}]}", NULL, NULL,
		"guest 'db': cell 1: node 0 holds cell 0 already; set cells_share_nodes (--cells-share-nodes) to share");
	/* host-cxl.xml: node 2 is memory only */
	refused(test_data("host-cxl.xml"),
		"{\"name\":\"db\",\"vcpus\":1,\"cells\":[{\"cpus\":\"0\",\"node\":2}]}", NULL, NULL,
		"guest 'db': cell 0: node 2 has no usable PUs (memory only)");
}

/* Applied again (tmap_host_place_again()): a guest kept where it is only while its PUs and
 * nodes are the ones it asks for; asked elsewhere, it moves there. */
static void
placed_again_where_asked(void **state)
{
	static const char *const spec[] = {
		"{\"name\":\"db\",\"vcpus\":2,\"pus\":\"0,12\"}",
		"{\"name\":\"db\",\"vcpus\":2,\"pus\":\"13,1\"}",
		"{\"name\":\"db\",\"vcpus\":2,\"cells\":[{\"cpus\":\"0-1\",\"node\":1}]}",
	};
	static const char *const want[] = {"0", "13", NULL};
	struct tmap_topology *t = test_topology(INTEL);
	struct tmap_host *h = NULL;
	struct tmap_error err = {0};
	(void)state;

	assert_int_equal(tmap_host_new(t, NULL, &h, &err), 0);
	for (size_t i = 0; i < ARRAY_SIZE(spec); i++) {
		struct tmap_guests *g = test_guests(spec[i]);
		struct tmap_plan *p = NULL;

		assert_int_equal(tmap_host_place_again(h, tmap_guests_get(g, 0), &p, &err), 0);
		if (want[i])
			assert_string_equal(p->guests[0].vcpu_lists[0], want[i]);
		else
			assert_int_equal(p->guests[0].cells[0].node, 1);
		tmap_plan_free(p);
		tmap_guests_free(g);
	}
	tmap_host_free(h);
	tmap_topology_free(t);
}

/* Making room searches by a model that knows no node or PU asked: it is not tried, the
 * refusal says why. */
static void
no_room_made_for_explicit(void **state)
{
	struct tmap_topology *t = test_topology(INTEL);
	struct tmap_guests *g = test_guests("[{\"name\":\"web\",\"vcpus\":2,\"pus\":\"6,18\"},"
					    "{\"name\":\"db\",\"vcpus\":2,\"pus\":\"7,18\"}]");
	struct tmap_room_options o = TMAP_ROOM_OPTIONS_INIT;
	struct tmap_host *h = NULL;
	struct tmap_plan *p = NULL;
	struct tmap_error err = {0};
	(void)state;

	assert_int_equal(tmap_host_new(t, NULL, &h, &err), 0);
	assert_int_equal(tmap_host_place(h, tmap_guests_get(g, 0), NULL, &err), 0);
	assert_int_equal(tmap_host_make_room(h, tmap_guests_get(g, 1), &o, &p, &err), -ENOSPC);
	assert_null(p);
	assert_string_equal(err.message,
			    "guest 'db': pus '7,18': PU 18 is held by 'web' (room is not made for a guest that asks for its nodes or PUs: free them first)");
	tmap_host_free(h);
	tmap_guests_free(g);
	tmap_topology_free(t);
}

/* What the guest alone tells is bad input, refused before any host is asked. */
static void
guests_refused(void **state)
{
	static const struct {
		const char *json, *message;
	} cases[] = {
		{"{\"name\":\"db\",\"vcpus\":4,\"pus\":\"4-6\"}",
		 "t.json: guest 'db': field 'pus': '4-6' names 3 PUs for 4 vcpus; give one PU per vcpu"},
		{"{\"name\":\"db\",\"vcpus\":2,\"pus\":\"4-5\",\"cpu_policy\":\"shared\"}",
		 "t.json: guest 'db': field 'pus': '4-5' pins dedicated vcpus, and this guest is shared (it floats over the shared pool)"},
		{"{\"name\":\"db\",\"vcpus\":2,\"pus\":\"4-5,5\"}",
		 "guest 'db': field 'pus': '4-5,5' names PU 5 twice; a PU runs one vcpu"},
		{"{\"name\":\"db\",\"vcpus\":2,\"pus\":[4,5]}",
		 "t.json: guest 'db': field 'pus': [4,5] is not a list of host PUs such as \"4-7\""},
		{"{\"name\":\"db\",\"vcpus\":2,\"cells\":[{\"cpus\":\"0-1\",\"node\":1024}]}",
		 "t.json: guest 'db': field 'cells[0].node': 1024 is not between 0 and 1023"},
	};
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct tmap_guests *g = NULL;
		struct tmap_error err = {0};

		assert_int_equal(tmap_guests_new(&g), 0);
		assert_int_equal(tmap_guests_parse_json(g, cases[i].json, strlen(cases[i].json),
							"t.json", &err), -EINVAL);
		if (strcmp(err.message, cases[i].message))
			fail_msg("%s:\n  got  '%s'\n  want '%s'", cases[i].json, err.message,
				 cases[i].message);
		tmap_guests_free(g);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pus_pinned_as_written),
		cmocka_unit_test(pus_refused),
		cmocka_unit_test(nodes_honoured_and_refused),
		cmocka_unit_test(placed_again_where_asked),
		cmocka_unit_test(no_room_made_for_explicit),
		cmocka_unit_test(guests_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
