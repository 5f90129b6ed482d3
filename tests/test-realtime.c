/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Realtime vcpus (issue 21): SCHED_FIFO vcpus that share their host core with no thread but
 * realtime vcpus of their own guest. The host numbers SMT siblings 6 apart (PU p and p + 6
 * share a core), so a solver that took neighbours for siblings would fail here; the rule is
 * checked with that arithmetic, independent of the plan's own core lists.
 */
#include <json-c/json.h>

#include "testlib.h"
#include "state.h"

#define HOST "synthetic:pack:1 numa:1(memory=16GiB) core:6 pu:2(indexes=0,6,1,7,2,8,3,9,4,10,5,11)"

static unsigned
sibling(unsigned pu)
{
	return (pu + 6) % 12;
}

/* The vcpu of pg on PU pu, or -1. */
static int
vcpu_on(const struct plan_guest *pg, unsigned pu)
{
	for (unsigned v = 0; v < pg->vcpus; v++)
		if (hwloc_bitmap_isset(pg->vcpu_pus[v], pu))
			return (int)v;
	return -1;
}

/*
 * The rule, for every guest of the plan: each realtime vcpu's sibling is a realtime vcpu of
 * the same guest or held by it and run by none of its threads; no other guest uses either PU;
 * the emulator and iothreads are on neither.
 */
static void
check_rule(const struct tmap_plan *p)
{
	for (size_t i = 0; i < p->nguests; i++) {
		const struct plan_guest *pg = &p->guests[i];
		unsigned v;

		if (!pg->realtime)
			continue;
		hwloc_bitmap_foreach_begin(v, pg->realtime)
		{
			unsigned pu = (unsigned)hwloc_bitmap_first(pg->vcpu_pus[v]);
			unsigned sib = sibling(pu);
			int w = vcpu_on(pg, sib);

			if (w >= 0 && !hwloc_bitmap_isset(pg->realtime, (unsigned)w))
				fail_msg("%s: realtime vcpu %u on %u, its sibling %u runs vcpu %d", pg->name,
					 v, pu, sib, w);
			/* A mixed guest's shared vcpus float over a pool: never over this core. */
			for (unsigned o = 0; o < pg->vcpus; o++)
				if (o != v && !hwloc_bitmap_isset(pg->realtime, o) &&
				    (hwloc_bitmap_isset(pg->vcpu_pus[o], pu) ||
				     hwloc_bitmap_isset(pg->vcpu_pus[o], sib)))
					fail_msg("%s: vcpu %u runs on realtime vcpu %u's core %u,%u",
						 pg->name, o, v, pu, sib);
			if (w < 0 && !hwloc_bitmap_isset(pg->held, sib))
				fail_msg("%s: realtime vcpu %u on %u, sibling %u not held", pg->name, v, pu,
					 sib);
			if (hwloc_bitmap_isset(pg->emulator, pu) || hwloc_bitmap_isset(pg->emulator, sib) ||
			    hwloc_bitmap_isset(pg->iothread, pu) || hwloc_bitmap_isset(pg->iothread, sib))
				fail_msg("%s: emulator '%s' or iothreads '%s' on realtime vcpu %u's core %u,%u",
					 pg->name, pg->emulator_list, pg->iothread_list, v, pu, sib);
			for (size_t k = 0; k < p->nguests; k++) {
				const struct plan_guest *o = &p->guests[k];

				if (k == i)
					continue;
				if (hwloc_bitmap_isset(o->held, pu) || hwloc_bitmap_isset(o->held, sib) ||
				    hwloc_bitmap_isset(o->emulator, sib))
					fail_msg("%s holds a PU of %s's realtime vcpu %u's core", o->name,
						 pg->name, v);
			}
		}
		hwloc_bitmap_foreach_end();
	}
}

/*
 * Each guest of `guests` placed first on HOST, then the guests of `after` (a JSON list's
 * items, leading comma) and a prefer guest: the rule holds for all, without a given pool and,
 * pool_too, with pool "4,10"; the realtime guest is recorded pinned. A share-host emulator gets the
 * housekeeping core {5,11}.
 */
static void
each_guest_then_others(const char *const *guests, size_t n, const char *after, bool pool_too)
{
	struct tmap_topology *t = test_topology(HOST);

	for (size_t i = 0; i < n; i++)
		for (int pool = 0; pool < 1 + pool_too; pool++) {
			char json[640];
			struct tmap_plan *p;

			/* The prefer guest takes a PU left: never a held sibling. */
			snprintf(json, sizeof(json), "[%s%s,{\"name\":\"b\",\"vcpus\":1}]", guests[i],
				 after);
			p = test_solve_json(t, json, strstr(guests[i], "share-host") ? "5,11" : NULL,
					    pool ? "4,10" : NULL, 0, NULL);
			check_rule(p);
			assert_true(p->guests[0].pinned);
			tmap_plan_free(p);
		}
	tmap_topology_free(t);
}

/* Under each thread policy and emulator policy, with a guest placed after it. */
static void
rule_holds(void **state)
{
	static const char *const guests[] = {
	    /* prefer packs the two realtime vcpus on one core, the others on another */
	    "{\"name\":\"a\",\"vcpus\":4,\"realtime_cpus\":\"1-2\",\"iothreads\":1}",
	    /* one realtime vcpu in prefer: a core of its own, the sibling held empty */
	    "{\"name\":\"a\",\"vcpus\":3,\"realtime_cpus\":\"1\",\"realtime_priority\":50}",
	    "{\"name\":\"a\",\"vcpus\":4,\"realtime_cpus\":\"0,3\",\"thread_policy\":\"isolate\","
	    "\"emulator_threads\":\"isolate\"}",
	    "{\"name\":\"a\",\"vcpus\":4,\"realtime_cpus\":\"0-1\",\"thread_policy\":\"require\","
	    "\"iothreads\":2}",
	    "{\"name\":\"a\",\"vcpus\":4,\"threads\":2,\"realtime_cpus\":\"2-3\"}",
	    "{\"name\":\"a\",\"vcpus\":2,\"realtime_cpus\":\"0-1\",\"emulator_threads\":\"isolate\"}",
	};
	(void)state;
	each_guest_then_others(guests, ARRAY_SIZE(guests), "", false);
}

/* pg's vcpus on the sets `vcpus` (one per vcpu), its emulator and iothreads on `others`, and
 * a line of its explanation holding `said`. */
static void
expect_placed(const struct plan_guest *pg, const char *const *vcpus, const char *others,
	      const char *said)
{
	bool found = false;

	for (unsigned v = 0; v < pg->vcpus; v++)
		assert_string_equal(pg->vcpu_lists[v], vcpus[v]);
	assert_string_equal(pg->emulator_list, others);
	assert_string_equal(pg->iothread_list, others);
	for (size_t i = 0; i < pg->nexplain; i++)
		found |= strstr(pg->explain[i], said) != NULL;
	assert_true(found);
}

/* The numbers of one case, by hand: vcpus 1 and 2 share core {0,6}, vcpus 0 and 3 core
 * {1,7}, where the emulator and the iothread float; the why says so. */
static void
placed_by_hand(void **state)
{
	struct tmap_topology *t = test_topology(HOST);
	struct tmap_plan *p;
	const struct plan_guest *pg;
	(void)state;

	p = test_solve_json(t, "{\"name\":\"rt\",\"vcpus\":4,\"realtime_cpus\":\"1-2\",\"realtime_priority\":5,"
		     "\"iothreads\":1}", NULL, NULL, 0, NULL);
	pg = &p->guests[0];
	expect_placed(pg, (const char *const[]){"1", "0", "6", "7"}, "1,7",
		      "realtime: vcpus 1-2 run SCHED_FIFO priority 5 on host cores of PUs 0,6");
	assert_string_equal(pg->realtime_list, "1-2");
	assert_int_equal(pg->realtime_priority, 5);
	tmap_plan_free(p);

	/* A reserved sibling is not empty: the realtime vcpu goes to another core. */
	p = test_solve_json(t, "{\"name\":\"rt\",\"vcpus\":2,\"realtime_cpus\":\"0\"}", "6", NULL, 0, NULL);
	pg = &p->guests[0];
	assert_string_not_equal(pg->vcpu_lists[0], "0");
	check_rule(p);
	tmap_plan_free(p);
	tmap_topology_free(t);
}

/* Exact PUs: checked against the rule, free siblings held, each breach refused word for word. */
static void
explicit_pus(void **state)
{
	struct tmap_topology *t = test_topology(HOST);
	struct tmap_plan *p;
	(void)state;

	p = test_solve_json(t, "{\"name\":\"x\",\"vcpus\":2,\"realtime_cpus\":\"0\",\"pus\":\"0,1\"}", NULL, NULL, 0,
		  NULL);
	assert_string_equal(p->guests[0].held_list, "0-1,6");
	check_rule(p);
	tmap_plan_free(p);
	assert_null(test_solve_json(t, "{\"name\":\"x\",\"vcpus\":3,\"realtime_cpus\":\"0\",\"pus\":\"0,6,1\"}",
			  NULL, NULL, -ENOSPC,
			  "x: realtime vcpu 0 on PU 0 would share its host core with PU 6, a vcpu of the guest that is not realtime; a realtime vcpu shares its core with no other thread"));
	assert_null(test_solve_json(t, "[{\"name\":\"w\",\"vcpus\":1,\"pus\":\"6\"},"
			     "{\"name\":\"x\",\"vcpus\":2,\"realtime_cpus\":\"0\",\"pus\":\"0,1\"}]",
			  NULL, NULL, -ENOSPC,
			  "x: realtime vcpu 0 on PU 0 would share its host core with PU 6, held by another guest; a realtime vcpu shares its core with no other thread"));
	assert_null(test_solve_json(t, "{\"name\":\"x\",\"vcpus\":2,\"realtime_cpus\":\"0\",\"pus\":\"0,1\"}",
			  "6", NULL, -ENOSPC,
			  "x: realtime vcpu 0 on PU 0 would share its host core with PU 6, reserved for the host or in the shared pool; a realtime vcpu shares its core with no other thread"));
	tmap_topology_free(t);
}

/* The node is chosen by whole free cores: node 0 has 4 free PUs, none of a whole core, node 1
 * has three whole cores; with no whole core anywhere, the refusal says so. The same for a
 * mixed guest's realtime vcpu, whatever node 0's pool. */
static void
node_by_whole_cores(void **state)
{
	static const struct {
		const char *rt, *refused;
	} cases[] = {
	    {"{\"name\":\"rt\",\"vcpus\":2,\"realtime_cpus\":\"1\"}",
	     "rt: cell 0 has 1 realtime vcpus, which need wholly free host cores (their siblings held empty), and 1 other vcpus; no node has them (the most whole free cores on a node is 0)"},
	    {"{\"name\":\"rt\",\"vcpus\":3,\"cpu_policy\":\"mixed\",\"dedicated_cpus\":\"0-1\",\"realtime_cpus\":\"1\"}",
	     "rt: cell 0 has 1 realtime vcpus, which need wholly free host cores (their siblings held empty), and 1 other dedicated vcpus; no node has them (the most whole free cores on a node is 0)"},
	};
	struct tmap_topology *t = test_topology("synthetic:pack:2 numa:1(memory=8GiB) core:4 pu:2");
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char json[512];
		struct tmap_plan *p;

		snprintf(json, sizeof(json), "[{\"name\":\"a\",\"vcpus\":4,\"pus\":\"0,2,4,6\"},"
					     "{\"name\":\"b\",\"vcpus\":2,\"pus\":\"8,9\"},%s]", cases[i].rt);
		p = test_solve_json(t, json, NULL, NULL, 0, NULL);
		assert_int_equal(p->guests[2].cells[0].node, 1);
		tmap_plan_free(p);
		snprintf(json, sizeof(json), "[{\"name\":\"a\",\"vcpus\":4,\"pus\":\"0,2,4,6\"},"
					     "{\"name\":\"b\",\"vcpus\":4,\"pus\":\"8,10,12,14\"},%s]",
			 cases[i].rt);
		assert_null(test_solve_json(t, json, NULL, NULL, -ENOSPC, cases[i].refused));
	}
	tmap_topology_free(t);
}

static struct tmap_guest *
one_guest(const char *json, struct tmap_guests **keep)
{
	*keep = test_guests(json);
	return (struct tmap_guest *)tmap_guests_get(*keep, 0);
}

/* Placed again (apply of a recorded guest): realtime vcpus asked where there were none make
 * a new placement by the rule; the same ones at another priority keep the PUs. A resize in
 * place is refused, naming the vcpus. */
static void
placed_again_and_resized(void **state)
{
	struct tmap_topology *t = test_topology(HOST);
	struct tmap_guests *l1, *l2, *l3;
	struct tmap_host *h = NULL;
	struct tmap_plan *p = NULL;
	struct tmap_error err = {0};
	char *before;
	(void)state;

	assert_int_equal(tmap_host_new(t, NULL, &h, &err), 0);
	assert_int_equal(tmap_host_place(h, one_guest("{\"name\":\"g\",\"vcpus\":4}", &l1), &p,
					 &err), 0);
	/* prefer packs vcpus 0-1 and 2-3 onto sibling pairs: vcpu 1 shares with vcpu 0 */
	assert_int_equal(sibling((unsigned)hwloc_bitmap_first(p->guests[0].vcpu_pus[1])),
			 (unsigned)hwloc_bitmap_first(p->guests[0].vcpu_pus[0]));
	tmap_plan_free(p);
	assert_int_equal(tmap_host_place_again(h, one_guest("{\"name\":\"g\",\"vcpus\":4,"
							    "\"realtime_cpus\":\"1\"}", &l2),
					       &p, &err), 0);
	check_rule(p);
	before = strdup(p->guests[0].held_list);
	tmap_plan_free(p);
	assert_int_equal(tmap_host_place_again(h, one_guest("{\"name\":\"g\",\"vcpus\":4,"
							    "\"realtime_cpus\":\"1\",\"realtime_priority\":9}", &l3),
					       &p, &err), 0);
	assert_string_equal(p->guests[0].held_list, before);
	assert_int_equal(p->guests[0].realtime_priority, 9);
	free(before);
	tmap_plan_free(p);
	p = NULL;
	assert_int_equal(tmap_host_resize(h, "g", 6, 0, NULL, &p, &err), -EINVAL);
	assert_string_equal(err.message, "guest 'g' has realtime vcpus (1), whose cores a resize in place cannot keep to themselves: release it and plan it again");
	tmap_guests_free(l1);
	tmap_guests_free(l2);
	tmap_guests_free(l3);
	tmap_host_free(h);
	tmap_topology_free(t);
}

/* A guest refused before the solver, in one line naming the file, guest, field and value. */
static void
bad_guest(const char *json, const char *message)
{
	struct tmap_guests *l = NULL;
	struct tmap_error err = {0};
	int r;

	assert_int_equal(tmap_guests_new(&l), 0);
	r = tmap_guests_parse_json(l, json, strlen(json), "g.json", &err);
	if (r == 0) {
		const struct tmap_guest *g = tmap_guests_get(l, 0);

		r = tmap_guest_validate(g, &err);
	}
	assert_int_equal(r, -EINVAL);
	if (strcmp(err.message, message))
		fail_msg("%s:\n  got  '%s'\n  want '%s'", json, err.message, message);
	tmap_guests_free(l);
}

static void
refusals(void **state)
{
	(void)state;
	bad_guest("{\"name\":\"s\",\"vcpus\":4,\"cpu_policy\":\"shared\",\"realtime_cpus\":\"1\"}",
		  "g.json: guest 's': field 'realtime_cpus': realtime vcpus must be dedicated, and this guest is shared (give cpu_policy dedicated, or mixed with them among dedicated_cpus)");
	bad_guest("{\"name\":\"s\",\"vcpus\":4,\"realtime_cpus\":\"1-4\"}",
		  "g.json: guest 's': field 'realtime_cpus': '1-4' names vcpu 4, but the guest has vcpus 0-3");
	bad_guest("{\"name\":\"s\",\"vcpus\":4,\"realtime_cpus\":\"1\",\"realtime_priority\":100}",
		  "g.json: guest 's': field 'realtime_priority': 100 is not between 1 and 99");
	bad_guest("{\"name\":\"s\",\"vcpus\":4,\"realtime_cpus\":\"1\",\"realtime_priority\":0}",
		  "g.json: guest 's': field 'realtime_priority': 0 is not between 1 and 99");
	bad_guest("{\"name\":\"s\",\"vcpus\":2,\"realtime_cpus\":[0,1]}",
		  "g.json: guest 's': field 'realtime_cpus': '0-1' makes every vcpu realtime, leaving the emulator threads no vcpu to share; leave one out, or give emulator_threads isolate or share-host");
	bad_guest("{\"name\":\"s\",\"vcpus\":4,\"threads\":2,\"realtime_cpus\":\"1\"}",
		  "g.json: guest 's': field 'realtime_cpus': '1' takes part of the guest core of vcpus 0-1 (threads=2); a realtime vcpu shares its host core with no other thread, so name the whole core or none of it");
	bad_guest("{\"name\":\"s\",\"vcpus\":4,\"realtime_priority\":3}",
		  "g.json: guest 's': field 'realtime_priority': 3 is given without 'realtime_cpus', the vcpus it is for");
	bad_guest("{\"name\":\"s\",\"vcpus\":4,\"realtime_cpus\":\"x\"}",
		  "g.json: guest 's': field 'realtime_cpus': \"x\" is not a list such as \"0-3,8\"");
}

static char *
format(const struct tmap_plan *p, enum tmap_format f)
{
	struct tmap_error err = {0};
	char *text = NULL;

	if (tmap_plan_format(p, f, 0, &text, &err) < 0)
		fail_msg("format: %s", err.message);
	return text;
}

/* pg's plan in the state's JSON, its "realtime" object (into ret_rt) as `want`, read back
 * with the same realtime vcpus and priority; the JSON for the caller to put. */
static struct json_object *
round_trip(const struct tmap_topology *t, const struct plan_guest *pg, const char *want,
	   struct json_object **ret_rt)
{
	struct json_object *j = plan_guest_to_json(pg);
	struct tmap_error err = {0};
	struct plan_guest back;

	assert_true(json_object_object_get_ex(j, "realtime", ret_rt));
	assert_string_equal(json_object_to_json_string_ext(*ret_rt, JSON_C_TO_STRING_PLAIN), want);
	assert_int_equal(state_plan_from_json(t, j, "s.json", "guests[0].plan", &back, &err), 0);
	assert_string_equal(back.realtime_list, pg->realtime_list);
	assert_int_equal(back.realtime_priority, pg->realtime_priority);
	plan_guest_clear(&back);
	return j;
}

/* Every format says it; the state reads it back and refuses a plan that breaks the rule. */
static void
formats_and_state(void **state)
{
	struct tmap_topology *t = test_topology(HOST);
	struct tmap_plan *p;
	struct json_object *j, *rt;
	struct plan_guest back;
	struct tmap_error err = {0};
	char *text;
	unsigned prio = 0;
	(void)state;

	p = test_solve_json(t, "{\"name\":\"rt\",\"vcpus\":4,\"realtime_cpus\":\"1-2\",\"realtime_priority\":5}",
			    NULL, NULL, 0, NULL);
	text = format(p, TMAP_FORMAT_LIBVIRT);
	assert_non_null(strstr(text, "    <vcpusched vcpus='1-2' scheduler='fifo' priority='5'/>\n  </cputune>"));
	free(text);
	text = format(p, TMAP_FORMAT_QEMU);
	assert_non_null(strstr(text, "# realtime vcpus 1-2: SCHED_FIFO priority 5, set by a backend on their threads\n"));
	free(text);
	text = format(p, TMAP_FORMAT_TABLE);
	assert_non_null(strstr(text, "  realtime: vcpus 1-2, SCHED_FIFO priority 5, alone on their host cores\n"));
	free(text);
	assert_string_equal(tmap_plan_realtime_vcpus(p, 0, &prio), "1-2");
	assert_int_equal(prio, 5);

	j = round_trip(t, &p->guests[0], "{\"vcpus\":\"1-2\",\"scheduler\":\"fifo\",\"priority\":5}", &rt);

	/* vcpu 2 (PU 6) no longer realtime: it now shares vcpu 1's core. */
	json_object_object_add(rt, "vcpus", json_object_new_string("1"));
	assert_int_equal(state_plan_from_json(t, j, "s.json", "guests[0].plan", &back, &err),
			 -EBADMSG);
	assert_string_equal(err.message,
			    "state file 's.json': guests[0].plan: realtime vcpu 1 shares its host core with PU 6, where another vcpu, the emulator or an iothread runs");
	plan_guest_clear(&back);
	json_object_object_add(rt, "priority", json_object_new_int(0));
	json_object_object_add(rt, "vcpus", json_object_new_string("1-2"));
	assert_int_equal(state_plan_from_json(t, j, "s.json", "guests[0].plan", &back, &err),
			 -EBADMSG);
	plan_guest_clear(&back);
	json_object_put(j);

	/* The spec recorded beside it keeps both keys. */
	j = state_spec_from_plan(&p->guests[0]);
	assert_string_equal(json_object_get_string(json_object_object_get(j, "realtime_cpus")), "1-2");
	assert_int_equal(json_object_get_int(json_object_object_get(j, "realtime_priority")), 5);
	json_object_put(j);
	tmap_plan_free(p);
	tmap_topology_free(t);
}

/* ------------------------------------------------------------------------------------- */
/* A mixed guest's realtime vcpus (issue 21), among its dedicated ones. */

#define MIXED "\"cpu_policy\":\"mixed\","

/* The rule under each thread and emulator policy, the pool given or not, with a shared guest
 * and a dedicated one placed after it: neither ever on a realtime vcpu's core. */
static void
mixed_rule_holds(void **state)
{
	static const char *const guests[] = {
	    "{\"name\":\"a\",\"vcpus\":4," MIXED "\"dedicated_cpus\":\"1-2\",\"realtime_cpus\":\"2\",\"iothreads\":1}",
	    "{\"name\":\"a\",\"vcpus\":5," MIXED "\"dedicated_cpus\":\"0-2\",\"realtime_cpus\":\"0-2\"}",
	    "{\"name\":\"a\",\"vcpus\":4," MIXED "\"dedicated_cpus\":\"0-1\",\"realtime_cpus\":\"1\","
	    "\"thread_policy\":\"isolate\",\"emulator_threads\":\"isolate\"}",
	    "{\"name\":\"a\",\"vcpus\":4," MIXED "\"dedicated_cpus\":\"2-3\",\"realtime_cpus\":\"3\","
	    "\"thread_policy\":\"require\",\"iothreads\":2}",
	    "{\"name\":\"a\",\"vcpus\":6,\"threads\":2," MIXED "\"dedicated_cpus\":\"0-3\",\"realtime_cpus\":\"2-3\"}",
	    "{\"name\":\"a\",\"vcpus\":3," MIXED "\"dedicated_cpus\":\"0\",\"realtime_cpus\":\"0\","
	    "\"emulator_threads\":\"share-host\"}",
	};
	(void)state;
	each_guest_then_others(guests, ARRAY_SIZE(guests),
			       ",{\"name\":\"s\",\"vcpus\":2,\"cpu_policy\":\"shared\"}", true);
}

/* By hand: realtime vcpu 2 takes the first whole core {0,6} alone, PU 6 held empty; vcpu 1,
 * dedicated but not realtime, core {1,7}; the shared vcpus, the emulator and the iothread
 * float over every other PU. Ignoring the realtime vcpu would pack vcpus 1-2 on {0,6}. */
static void
mixed_placed_by_hand(void **state)
{
	struct tmap_topology *t = test_topology(HOST);
	struct tmap_plan *p;
	const struct plan_guest *pg;
	(void)state;

	p = test_solve_json(t, "{\"name\":\"m\",\"vcpus\":4," MIXED "\"dedicated_cpus\":\"1-2\","
			       "\"realtime_cpus\":\"2\",\"realtime_priority\":7,\"iothreads\":1}",
			    NULL, NULL, 0, NULL);
	pg = &p->guests[0];
	expect_placed(pg, (const char *const[]){"2-5,7-11", "1", "0", "2-5,7-11"}, "2-5,7-11",
		      "realtime: vcpus 2 run SCHED_FIFO priority 7 on host cores of PUs 0,6");
	assert_string_equal(pg->held_list, "0-1,6");
	assert_string_equal(pg->realtime_list, "2");
	assert_int_equal(pg->realtime_priority, 7);
	check_rule(p);
	tmap_plan_free(p);

	/* A given pool: the realtime core is outside it, the shared vcpus on it alone. */
	p = test_solve_json(t, "{\"name\":\"m\",\"vcpus\":4," MIXED "\"dedicated_cpus\":\"1-2\","
			       "\"realtime_cpus\":\"2\"}",
			    NULL, "5,11", 0, NULL);
	pg = &p->guests[0];
	assert_string_equal(pg->vcpu_lists[2], "0");
	assert_string_equal(pg->vcpu_lists[0], "5,11");
	assert_string_equal(pg->held_list, "0-1,6");
	check_rule(p);
	tmap_plan_free(p);
	tmap_topology_free(t);
}

/* Nova's rules, and where topomap differs: a realtime vcpu must be dedicated; Nova's realtime
 * mask alone (its dedicated vcpus) is asked as both fields. */
static void
mixed_refusals(void **state)
{
	struct tmap_guests *l;
	(void)state;

	bad_guest("{\"name\":\"m\",\"vcpus\":4," MIXED "\"dedicated_cpus\":\"0-1\",\"realtime_cpus\":\"1-2\"}",
		  "g.json: guest 'm': field 'realtime_cpus': '1-2' names vcpu 2, which is not in dedicated_cpus '0-1'; a mixed guest's realtime vcpus are among its dedicated ones");
	bad_guest("{\"name\":\"m\",\"vcpus\":4," MIXED "\"realtime_cpus\":\"1\"}",
		  "g.json: guest 'm': cpu_policy 'mixed' needs field 'dedicated_cpus' (--dedicated-cpus) beside 'realtime_cpus': name the pinned vcpus there, the realtime ones among them (Nova's realtime mask alone makes them the dedicated vcpus; topomap asks for both)");
	bad_guest("{\"name\":\"m\",\"vcpus\":4," MIXED "\"dedicated_cpus\":\"0-1\",\"realtime_cpus\":\"4\"}",
		  "g.json: guest 'm': field 'realtime_cpus': '4' names vcpu 4, but the guest has vcpus 0-3");
	bad_guest("{\"name\":\"m\",\"vcpus\":4,\"threads\":2," MIXED "\"dedicated_cpus\":\"0-1\",\"realtime_cpus\":\"1\"}",
		  "g.json: guest 'm': field 'realtime_cpus': '1' takes part of the guest core of vcpus 0-1 (threads=2); a realtime vcpu shares its host core with no other thread, so name the whole core or none of it");
	/* Accepted: a subset, and Nova's own case (the realtime vcpus are the dedicated ones). */
	l = test_guests("[{\"name\":\"m\",\"vcpus\":4," MIXED "\"dedicated_cpus\":\"0-2\",\"realtime_cpus\":\"1\"},"
			"{\"name\":\"n\",\"vcpus\":4," MIXED "\"dedicated_cpus\":\"1-3\",\"realtime_cpus\":\"1-3\"}]");
	assert_int_equal(tmap_guest_validate(tmap_guests_get(l, 0), NULL), 0);
	assert_int_equal(tmap_guest_validate(tmap_guests_get(l, 1), NULL), 0);
	tmap_guests_free(l);
}

/* Every format names the realtime vcpus beside both parts; the state reads them back, and
 * refuses realtime vcpus that are not dedicated. */
static void
mixed_formats_and_state(void **state)
{
	struct tmap_topology *t = test_topology(HOST);
	struct tmap_plan *p;
	struct json_object *j, *rt;
	struct plan_guest back;
	struct tmap_error err = {0};
	char *text;
	(void)state;

	p = test_solve_json(t, "{\"name\":\"m\",\"vcpus\":4," MIXED "\"dedicated_cpus\":\"1-2\","
			       "\"realtime_cpus\":\"2\",\"realtime_priority\":7}",
			    NULL, NULL, 0, NULL);
	text = format(p, TMAP_FORMAT_LIBVIRT);
	assert_non_null(strstr(text, "    <vcpupin vcpu='0' cpuset='2-5,7-11'/>\n"
				     "    <vcpupin vcpu='1' cpuset='1'/>\n"
				     "    <vcpupin vcpu='2' cpuset='0'/>\n"));
	assert_non_null(strstr(text, "    <vcpusched vcpus='2' scheduler='fifo' priority='7'/>\n  </cputune>"));
	free(text);
	text = format(p, TMAP_FORMAT_QEMU);
	assert_non_null(strstr(text, "# cpu policy mixed: vcpus 1-2 dedicated"));
	assert_non_null(strstr(text, "# realtime vcpus 2: SCHED_FIFO priority 7, set by a backend on their threads\n"));
	free(text);
	text = format(p, TMAP_FORMAT_TABLE);
	assert_non_null(strstr(text, "mixed (vcpus 1-2 dedicated, the others shared)"));
	assert_non_null(strstr(text, "  realtime: vcpus 2, SCHED_FIFO priority 7, alone on their host cores\n"));
	free(text);
	text = format(p, TMAP_FORMAT_JSON);
	assert_non_null(strstr(text, "\"dedicated_cpus\":\"1-2\""));
	free(text);

	j = round_trip(t, &p->guests[0], "{\"vcpus\":\"2\",\"scheduler\":\"fifo\",\"priority\":7}", &rt);
	/* A shared vcpu made realtime in the file: refused. */
	json_object_object_add(rt, "vcpus", json_object_new_string("0,2"));
	assert_int_equal(state_plan_from_json(t, j, "s.json", "guests[0].plan", &back, &err),
			 -EBADMSG);
	assert_string_equal(err.message,
			    "state file 's.json': guests[0].plan: 'realtime.vcpus' are not dedicated vcpus of this guest");
	plan_guest_clear(&back);
	json_object_put(j);
	j = state_spec_from_plan(&p->guests[0]);
	assert_string_equal(json_object_get_string(json_object_object_get(j, "realtime_cpus")), "2");
	assert_string_equal(json_object_get_string(json_object_object_get(j, "dedicated_cpus")), "1-2");
	json_object_put(j);
	tmap_plan_free(p);
	tmap_topology_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(rule_holds),
	    cmocka_unit_test(placed_by_hand),
	    cmocka_unit_test(explicit_pus),
	    cmocka_unit_test(node_by_whole_cores),
	    cmocka_unit_test(placed_again_and_resized),
	    cmocka_unit_test(refusals),
	    cmocka_unit_test(formats_and_state),
	    cmocka_unit_test(mixed_rule_holds),
	    cmocka_unit_test(mixed_placed_by_hand),
	    cmocka_unit_test(mixed_refusals),
	    cmocka_unit_test(mixed_formats_and_state),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
