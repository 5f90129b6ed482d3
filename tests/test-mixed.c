/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cpu_policy mixed (issue 21, Nova's hw:cpu_policy=mixed with hw:cpu_dedicated_mask): the
 * vcpus of dedicated_cpus on PUs of their own by the dedicated rules, the others over the
 * shared pool of their cell's node, counted against its overcommit with the shared guests'.
 * Synthetic hosts whose SMT siblings are neighbours (PUs 0,1 are core 0); expected values
 * counted by hand.
 */
#include <json-c/json.h>

#include "state.h"
#include "testlib.h"

#define HOST8 "synthetic:pack:1 numa:1(memory=8GiB) core:4 pu:2"
#define HOST2N "synthetic:pack:1 numa:2(memory=8GiB) core:4 pu:2"

/* A given pool of 4 PUs per node: vcpus 0 and 1 on PUs 0 and 1 (one core, thread policy
 * prefer), vcpus 2 and 3, the emulator and the iothread over node 0's pool 4-7; the guest
 * holds only its dedicated PUs. */
static void
dedicated_pinned_shared_over_the_pool(void **state)
{
	struct tmap_topology *t = test_topology(HOST2N);
	struct tmap_host *h = test_host(t, "4-7,12-15", 0);
	struct tmap_error err = {0};
	struct tmap_plan *p = NULL;
	(void)state;

	assert_int_equal(test_place(h, "{\"name\":\"m\",\"vcpus\":4,\"cpu_policy\":\"mixed\","
				  "\"dedicated_cpus\":\"0-1\",\"iothreads\":1}", &p, &err), 0);
	assert_string_equal(tmap_plan_vcpu_cpuset(p, 0, 0), "0");
	assert_string_equal(tmap_plan_vcpu_cpuset(p, 0, 1), "1");
	assert_string_equal(tmap_plan_vcpu_cpuset(p, 0, 2), "4-7");
	assert_string_equal(tmap_plan_vcpu_cpuset(p, 0, 3), "4-7");
	assert_string_equal(tmap_plan_emulator_cpuset(p, 0), "4-7");
	assert_string_equal(p->guests[0].iothread_list, "4-7");
	assert_string_equal(tmap_plan_held_cpuset(p, 0), "0-1");
	assert_string_equal(tmap_plan_cpuset(p, 0), "0-1,4-7");
	assert_string_equal(p->guests[0].dedicated_list, "0-1");
	assert_string_equal(p->guests[0].cells[0].pus_list, "0-1,4-7");
	tmap_plan_free(p);
	tmap_host_free(h);
	tmap_topology_free(t);
}

/* emulator isolate without a given pool: vcpus 0 and 1 on core 0 (PUs 0, 1), the emulator
 * on PU 2 of the next core, and the shared vcpus over the free PUs left, 3-7: not over the
 * emulator's PU, which the guest holds. A shared guest placed next floats over 3-7 too. */
static void
isolated_emulator_leaves_the_pool(void **state)
{
	struct tmap_topology *t = test_topology(HOST8);
	struct tmap_host *h = test_host(t, NULL, 0);
	struct tmap_error err = {0};
	struct tmap_plan *p = NULL;
	(void)state;

	assert_int_equal(test_place(h, "{\"name\":\"m\",\"vcpus\":4,\"cpu_policy\":\"mixed\","
				  "\"dedicated_cpus\":\"0-1\",\"emulator_threads\":\"isolate\"}", &p, &err), 0);
	assert_string_equal(tmap_plan_vcpu_cpuset(p, 0, 0), "0");
	assert_string_equal(tmap_plan_vcpu_cpuset(p, 0, 1), "1");
	assert_string_equal(tmap_plan_emulator_cpuset(p, 0), "2");
	assert_string_equal(tmap_plan_vcpu_cpuset(p, 0, 2), "3-7");
	assert_string_equal(tmap_plan_vcpu_cpuset(p, 0, 3), "3-7");
	assert_string_equal(tmap_plan_held_cpuset(p, 0), "0-2");
	assert_string_equal(p->guests[0].cells[0].pus_list, "0-1,3-7");
	tmap_plan_free(p);
	assert_int_equal(test_place(h, "{\"name\":\"s\",\"vcpus\":2,\"cpu_policy\":\"shared\"}",
				    &p, &err), 0);
	assert_string_equal(tmap_plan_vcpu_cpuset(p, 0, 0), "3-7");
	tmap_plan_free(p);
	tmap_host_free(h);
	tmap_topology_free(t);
}

/* thread_policy isolate without a given pool: each dedicated vcpu alone on a core whose
 * sibling the guest keeps empty (2 cores held), the shared vcpu over the 4 PUs left. */
static void
isolate_keeps_siblings_and_floats_over_the_rest(void **state)
{
	struct tmap_topology *t = test_topology(HOST8);
	struct tmap_host *h = test_host(t, NULL, 0);
	struct tmap_error err = {0};
	struct tmap_plan *p = NULL;
	const struct plan_guest *pg;
	(void)state;

	assert_int_equal(test_place(h, "{\"name\":\"m\",\"vcpus\":3,\"cpu_policy\":\"mixed\","
				  "\"dedicated_cpus\":\"0-1\",\"thread_policy\":\"isolate\"}", &p, &err), 0);
	pg = &p->guests[0];
	assert_int_equal(hwloc_bitmap_weight(pg->vcpu_pus[0]), 1);
	assert_int_equal(hwloc_bitmap_weight(pg->vcpu_pus[1]), 1);
	assert_string_not_equal(pg->vcpu_core_lists[0], pg->vcpu_core_lists[1]);
	assert_int_equal(hwloc_bitmap_weight(pg->held), 4);
	assert_false(hwloc_bitmap_intersects(pg->vcpu_pus[2], pg->held));
	assert_int_equal(hwloc_bitmap_weight(pg->vcpu_pus[2]), 4);
	tmap_plan_free(p);
	tmap_host_free(h);
	tmap_topology_free(t);
}

/* Pool 6-7 at ratio 2: 4 shared vcpus in all. A shared guest of 2 and a mixed guest's 2
 * shared vcpus fill it; another mixed guest's 1 shared vcpu is refused, word for word, and
 * fits once the first mixed guest is released. */
static void
shared_part_counts_against_the_overcommit(void **state)
{
	struct tmap_topology *t = test_topology(HOST8);
	struct tmap_host *h = test_host(t, "6-7", 2.0);
	struct tmap_error err = {0};
	struct tmap_plan *p = NULL;
	(void)state;

	assert_int_equal(test_place(h, "{\"name\":\"s\",\"vcpus\":2,\"cpu_policy\":\"shared\"}", NULL, &err), 0);
	assert_int_equal(test_place(h, "{\"name\":\"m1\",\"vcpus\":4,\"cpu_policy\":\"mixed\","
				  "\"dedicated_cpus\":\"0-1\"}", &p, &err), 0);
	assert_string_equal(tmap_plan_vcpu_cpuset(p, 0, 3), "6-7");
	tmap_plan_free(p);
	assert_int_equal(test_place(h, "{\"name\":\"m2\",\"vcpus\":2,\"cpu_policy\":\"mixed\","
				  "\"dedicated_cpus\":\"0\"}", NULL, &err), -ENOSPC);
	assert_string_equal(err.message, "m2: cell 0 has 1 shared vcpus beside its 1 dedicated ones; no node with room for those takes them in its shared pool: the best, node 0, keeps 2 pool PUs and its shared vcpus are 4 of 4 (2 per pool PU; a cell's shared vcpus are no more than the pool's PUs)");
	assert_int_equal(tmap_host_release(h, "m1"), 0);
	assert_int_equal(test_place(h, "{\"name\":\"m2\",\"vcpus\":2,\"cpu_policy\":\"mixed\","
				  "\"dedicated_cpus\":\"0\"}", NULL, &err), 0);
	tmap_host_free(h);
	tmap_topology_free(t);
}

/* Nova's rule for the shared part: 3 shared vcpus never float over a pool of 2 PUs, whatever
 * the overcommit. */
static void
shared_part_no_wider_than_the_pool(void **state)
{
	struct tmap_topology *t = test_topology(HOST8);
	struct tmap_host *h = test_host(t, "6-7", 16.0);
	struct tmap_error err = {0};
	(void)state;

	assert_int_equal(test_place(h, "{\"name\":\"w\",\"vcpus\":5,\"cpu_policy\":\"mixed\","
				  "\"dedicated_cpus\":\"0-1\"}", NULL, &err), -ENOSPC);
	assert_non_null(strstr(err.message, "w: cell 0 has 3 shared vcpus beside its 2 dedicated ones"));
	assert_int_equal(test_place(h, "{\"name\":\"n\",\"vcpus\":4,\"cpu_policy\":\"mixed\","
				  "\"dedicated_cpus\":\"0-1\"}", NULL, &err), 0);
	tmap_host_free(h);
	tmap_topology_free(t);
}

/* Only node 1 has a pool: the guest goes there, both parts, though node 0 is free; one that
 * asks for node 0 is refused. */
static void
node_with_a_pool_chosen(void **state)
{
	struct tmap_topology *t = test_topology(HOST2N);
	struct tmap_host *h = test_host(t, "12-15", 0);
	struct tmap_error err = {0};
	struct tmap_plan *p = NULL;
	(void)state;

	assert_int_equal(test_place(h, "{\"name\":\"m\",\"vcpus\":4,\"cpu_policy\":\"mixed\","
				  "\"dedicated_cpus\":\"2-3\"}", &p, &err), 0);
	assert_int_equal(tmap_plan_cell_node(p, 0, 0), 1);
	assert_string_equal(tmap_plan_vcpu_cpuset(p, 0, 0), "12-15");
	assert_string_equal(tmap_plan_vcpu_cpuset(p, 0, 2), "8");
	assert_string_equal(tmap_plan_vcpu_cpuset(p, 0, 3), "9");
	tmap_plan_free(p);
	/* Its cell asked on node 0, which has no pool: refused, saying so. */
	assert_int_equal(test_place(h, "{\"name\":\"n0\",\"vcpus\":4,\"cpu_policy\":\"mixed\","
				  "\"dedicated_cpus\":\"0-1\",\"cells\":[{\"cpus\":\"0-3\",\"node\":0}]}",
				  NULL, &err), -ENOSPC);
	assert_string_equal(err.message, "n0: cell 0 has 2 shared vcpus beside its 2 dedicated ones; the node asked, node 0, keeps 0 pool PUs and its shared vcpus are 0 of 0 (4 per pool PU; a cell's shared vcpus are no more than the pool's PUs)");
	tmap_host_free(h);
	tmap_topology_free(t);
}

/* Without a given pool, the dedicated guests leave what the mixed guest's shared vcpus need:
 * 8 PUs, 2 dedicated, 2 shared vcpus at 4 per PU need 2 of the 6 left, so a dedicated guest
 * of 5 is refused and one of 4 fits. */
static void
dedicated_after_mixed_keeps_its_pool(void **state)
{
	struct tmap_topology *t = test_topology(HOST8);
	struct tmap_host *h = test_host(t, NULL, 4.0);
	struct tmap_error err = {0};
	(void)state;

	assert_int_equal(test_place(h, "{\"name\":\"m\",\"vcpus\":4,\"cpu_policy\":\"mixed\","
				  "\"dedicated_cpus\":\"0-1\"}", NULL, &err), 0);
	assert_int_equal(test_place(h, "{\"name\":\"d5\",\"vcpus\":5}", NULL, &err), -ENOSPC);
	assert_int_equal(test_place(h, "{\"name\":\"d4\",\"vcpus\":4}", NULL, &err), 0);
	tmap_host_free(h);
	tmap_topology_free(t);
}

static void
refused(const char *json, const char *message)
{
	struct tmap_error err = {0};
	struct tmap_guests *g = NULL;

	assert_int_equal(tmap_guests_new(&g), 0);
	assert_int_equal(tmap_guests_parse_json(g, json, strlen(json), "m.json", &err), -EINVAL);
	assert_string_equal(err.message, message);
	assert_int_equal(tmap_guests_count(g), 0);
	tmap_guests_free(g);
}

static void
bad_guests_refused(void **state)
{
	(void)state;
	refused("{\"name\":\"db\",\"vcpus\":4,\"cpu_policy\":\"mixed\"}",
		"m.json: guest 'db': cpu_policy 'mixed' needs field 'dedicated_cpus' (--dedicated-cpus), the vcpus pinned one to one, e.g. '0-1'");
	refused("{\"name\":\"db\",\"vcpus\":4,\"cpu_policy\":\"mixed\",\"dedicated_cpus\":\"0,4\"}",
		"m.json: guest 'db': field 'dedicated_cpus': '0,4' names vcpu 4, but the guest has vcpus 0-3");
	refused("{\"name\":\"db\",\"vcpus\":4,\"cpu_policy\":\"mixed\",\"dedicated_cpus\":[0,1,2,3]}",
		"m.json: guest 'db': field 'dedicated_cpus': '0-3' names every vcpu, which is cpu_policy 'dedicated'; a mixed guest keeps some vcpus shared");
	refused("{\"name\":\"db\",\"vcpus\":4,\"dedicated_cpus\":\"0-1\"}",
		"m.json: guest 'db': field 'dedicated_cpus': '0-1' applies only to cpu_policy 'mixed', this guest is dedicated");
	refused("{\"name\":\"db\",\"vcpus\":4,\"cpu_policy\":\"shared\",\"dedicated_cpus\":\"0-1\"}",
		"m.json: guest 'db': field 'dedicated_cpus': '0-1' applies only to cpu_policy 'mixed', this guest is shared");
	refused("{\"name\":\"db\",\"vcpus\":4,\"threads\":2,\"cpu_policy\":\"mixed\",\"dedicated_cpus\":\"0\"}",
		"m.json: guest 'db': field 'dedicated_cpus': '0' splits guest core 0 (vcpus 0-1, threads=2); a guest core is dedicated or shared as a whole");
	refused("{\"name\":\"db\",\"vcpus\":2,\"cpu_policy\":\"mixed\",\"dedicated_cpus\":\"0\",\"pus\":\"0-1\"}",
		"m.json: guest 'db': field 'pus': '0-1' pins every vcpu, and this guest is mixed (its shared vcpus float over the shared pool; give cells[].node instead)");
	refused("{\"name\":\"db\",\"vcpus\":2,\"cpu_policy\":\"mixed\",\"dedicated_cpus\":\"x\"}",
		"m.json: guest 'db': field 'dedicated_cpus': \"x\" is not a list such as \"0-3,8\"");
}

/* Plan JSON with one key replaced, read back as the state reads it. */
static int
reload(const struct tmap_topology *t, struct json_object *json, const char *key,
       struct json_object *value, struct plan_guest *pg, struct tmap_error *err)
{
	struct json_object *copy = NULL;
	int r;

	assert_int_equal(json_object_deep_copy(json, &copy, NULL), 0);
	if (value)
		json_object_object_add(copy, key, value);
	else if (key)
		json_object_object_del(copy, key);
	r = state_plan_from_json(t, copy, "s.json", "guests[0].plan", pg, err);
	json_object_put(copy);
	return r;
}

/* The state records a mixed plan and reloads it as it was; its invariants refuse a plan
 * without its dedicated vcpus, with every vcpu dedicated, or with dedicated_cpus on another
 * policy; a reloaded guest's shared vcpus count against the pool again. */
static void
state_reloads_and_checks(void **state)
{
	struct tmap_topology *t = test_topology(HOST8);
	struct tmap_host *h = test_host(t, "6-7", 1.0), *h2 = test_host(t, "6-7", 1.0);
	struct tmap_error err = {0};
	struct tmap_plan *p = NULL;
	struct plan_guest pg;
	struct json_object *json, *back;
	(void)state;

	assert_int_equal(test_place(h, "{\"name\":\"m\",\"vcpus\":3,\"cpu_policy\":\"mixed\","
				  "\"dedicated_cpus\":\"1-2\"}", &p, &err), 0);
	json = plan_guest_to_json(&p->guests[0]);
	assert_non_null(json);
	assert_int_equal(reload(t, json, NULL, NULL, &pg, &err), 0);
	back = plan_guest_to_json(&pg);
	assert_string_equal(json_object_to_json_string(json), json_object_to_json_string(back));
	json_object_put(back);
	/* Adopted into another host: vcpu 0 uses 1 of the pool's 2 vcpus at ratio 1. */
	assert_int_equal(host_adopt(h2, &pg, &err), 0);
	plan_guest_clear(&pg);
	assert_int_equal(test_place(h2, "{\"name\":\"s\",\"vcpus\":2,\"cpu_policy\":\"shared\"}", NULL, &err),
			 -ENOSPC);
	assert_int_equal(test_place(h2, "{\"name\":\"s\",\"vcpus\":1,\"cpu_policy\":\"shared\"}", NULL, &err),
			 0);

	assert_int_equal(reload(t, json, "dedicated_cpus", NULL, &pg, &err), -EBADMSG);
	assert_non_null(strstr(err.message, "'dedicated_cpus' is missing, and cpu_policy is 'mixed'"));
	plan_guest_clear(&pg);
	assert_int_equal(reload(t, json, "dedicated_cpus", json_object_new_string("0-2"), &pg, &err),
			 -EBADMSG);
	assert_non_null(strstr(err.message, "a dedicated vcpu holds exactly one PU"));
	plan_guest_clear(&pg);
	assert_int_equal(reload(t, json, "dedicated_cpus", json_object_new_string("1-3"), &pg, &err),
			 -EBADMSG);
	assert_non_null(strstr(err.message, "'dedicated_cpus' is not some of vcpus 0-2"));
	plan_guest_clear(&pg);
	assert_int_equal(reload(t, json, "cpu_policy", json_object_new_string("shared"), &pg, &err),
			 -EBADMSG);
	assert_non_null(strstr(err.message, "'dedicated_cpus' is given, and cpu_policy is 'shared'"));
	plan_guest_clear(&pg);
	json_object_put(json);
	tmap_plan_free(p);
	tmap_host_free(h);
	tmap_host_free(h2);
	tmap_topology_free(t);
}

/* The pool changes (topomap host set --shared-set): a mixed guest's shared vcpus follow it,
 * its dedicated vcpus stay; a pool narrower than its shared part is refused; a pool that
 * grew without the guest is drift. */
static void
shared_part_follows_the_pool(void **state)
{
	struct tmap_topology *t = test_topology(HOST2N);
	struct tmap_host *h = test_host(t, "4-7,12-15", 0), *h2 = test_host(t, "4-5", 0);
	struct tmap_host *h3 = test_host(t, "4", 0), *h4 = test_host(t, "3-7", 0);
	struct tmap_error err = {0};
	struct tmap_plan *p = NULL, *after = NULL;
	struct plan_guest pg;
	struct json_object *json;
	const char **names = NULL;
	char *drift = NULL;
	size_t n = 0;
	(void)state;

	assert_int_equal(test_place(h, "{\"name\":\"m\",\"vcpus\":4,\"cpu_policy\":\"mixed\","
				  "\"dedicated_cpus\":\"0-1\"}", &p, &err), 0);
	json = plan_guest_to_json(&p->guests[0]);
	assert_non_null(json);

	assert_int_equal(reload(t, json, NULL, NULL, &pg, &err), 0);
	host_follow_pool_begin(h2);
	assert_int_equal(host_adopt(h2, &pg, &err), 0);
	plan_guest_clear(&pg);
	assert_int_equal(host_follow_pool(h2, &names, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(names[0], "m");
	free(names);
	assert_int_equal(tmap_host_guest_plan(h2, "m", &after, &err), 0);
	assert_string_equal(tmap_plan_vcpu_cpuset(after, 0, 0), "0");
	assert_string_equal(tmap_plan_vcpu_cpuset(after, 0, 1), "1");
	assert_string_equal(tmap_plan_vcpu_cpuset(after, 0, 2), "4-5");
	assert_string_equal(tmap_plan_vcpu_cpuset(after, 0, 3), "4-5");
	assert_string_equal(tmap_plan_emulator_cpuset(after, 0), "4-5");
	assert_string_equal(tmap_plan_held_cpuset(after, 0), "0-1");
	tmap_plan_free(after);

	/* Two shared vcpus float over a pool of at least two PUs. */
	assert_int_equal(reload(t, json, NULL, NULL, &pg, &err), 0);
	host_follow_pool_begin(h3);
	assert_int_equal(host_adopt(h3, &pg, &err), 0);
	plan_guest_clear(&pg);
	assert_int_equal(host_follow_pool(h3, &names, &n, &err), -ENOSPC);
	assert_string_equal(err.message, "mixed guest 'm': cell 0 has 2 shared vcpus, more than the 1 PUs of node 0's new pool (shared vcpus float over their node's whole pool)");

	/* Recorded over 4-7 while the pool is 3-7: verify's drift line. */
	assert_int_equal(reload(t, json, NULL, NULL, &pg, &err), 0);
	assert_int_equal(host_adopt(h4, &pg, &err), 0);
	plan_guest_clear(&pg);
	assert_int_equal(host_shared_drift(h4, "m", &drift), 0);
	assert_string_equal(drift, "cell 0 floats over 4-7, not over node 0's shared pool 3-7");
	free(drift);

	json_object_put(json);
	tmap_plan_free(p);
	tmap_host_free(h);
	tmap_host_free(h2);
	tmap_host_free(h3);
	tmap_host_free(h4);
	tmap_topology_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dedicated_pinned_shared_over_the_pool),
		cmocka_unit_test(isolate_keeps_siblings_and_floats_over_the_rest),
		cmocka_unit_test(shared_part_counts_against_the_overcommit),
		cmocka_unit_test(shared_part_no_wider_than_the_pool),
		cmocka_unit_test(node_with_a_pool_chosen),
		cmocka_unit_test(dedicated_after_mixed_keeps_its_pool),
		cmocka_unit_test(shared_part_follows_the_pool),
		cmocka_unit_test(isolated_emulator_leaves_the_pool),
		cmocka_unit_test(bad_guests_refused),
		cmocka_unit_test(state_reloads_and_checks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
