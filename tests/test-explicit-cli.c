/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `--cell ...,node=N` and `--pus CPUSET` through the built command (issue 21): the plan in
 * each format says what was asked, an inline guest and the same guest in a file get the
 * same plan, and each refusal is one line with the documented exit code. The host,
 * tests/data/host-intel-2s.xml, numbers SMT siblings 12 apart: node 0 is PUs 0-5 and
 * 12-17, node 1 is 6-11 and 18-23.
 */
#include <json-c/json.h>

#include "testlib.h"

#define HOST "host-intel-2s.xml"

static struct test_result
plan(const char *stdin_text, const char *const *guest)
{
	const char *args[32] = {"plan", "--topology", test_data(HOST)};
	size_t n = 3;

	for (; *guest && n < ARRAY_SIZE(args) - 1; guest++)
		args[n++] = *guest;
	args[n] = NULL;
	return test_topomap(stdin_text, args);
}

static void
contains(const struct test_result *r, const char *needle)
{
	if (r->status != 0 || !strstr(r->out, needle))
		fail_msg("exit %d, output lacks '%s':\n%s%s", r->status, needle, r->out, r->err);
}

/* The inline guest planned in a format: "--format FORMAT", then the guest's options. */
static struct test_result
plan_as(const char *const *guest, const char *format)
{
	const char *args[32] = {"--format", format};
	size_t n = 2;
	struct test_result r;

	for (; *guest && n < ARRAY_SIZE(args) - 1; guest++)
		args[n++] = *guest;
	args[n] = NULL;
	r = plan(NULL, args);
	if (r.status != 0)
		fail_msg("plan --format %s: exit %d: %s", format, r.status, r.err);
	return r;
}

/* The plan in a format holds both lines. */
static void
plan_holds(const char *const *guest, const char *format, const char *a, const char *b)
{
	struct test_result r = plan_as(guest, format);

	contains(&r, a);
	contains(&r, b);
	test_result_clear(&r);
}

/* guests[0].KEY[index].FIELD of a JSON plan, as a string. */
static const char *
plan_field(struct json_object *plan, const char *key, size_t index, const char *field)
{
	struct json_object *g, *a, *v;

	assert_true(json_object_object_get_ex(plan, "guests", &g));
	g = json_object_array_get_idx(g, 0);
	assert_true(json_object_object_get_ex(g, key, &a));
	a = json_object_array_get_idx(a, index);
	assert_non_null(a);
	assert_true(json_object_object_get_ex(a, field, &v));
	return json_object_get_string(v);
}

/* Nodes asked, as each format prints them: cell 0 on node 1, cell 1 on node 0 (which the
 * solver alone would not do: it starts with node 0). */
static void
nodes_in_every_format(void **state)
{
	static const char *const guest[] = {
		"--name", "db", "--vcpus", "4", "--memory", "2G", "--cell",
		"cpus=0-1,memory=1536,node=1", "--cell", "cpus=2-3,node=0", NULL,
	};
	static const char file[] =
		"{\"name\":\"db\",\"vcpus\":4,\"memory_mib\":2048,\"cells\":["
		"{\"cpus\":\"0-1\",\"memory_mib\":1536,\"node\":1},{\"cpus\":\"2-3\",\"node\":0}]}";
	struct test_result r = plan_as(guest, "json"), f;
	struct json_object *j = json_tokener_parse(r.out);
	(void)state;

	assert_string_equal(plan_field(j, "cells", 0, "nodeset"), "1");
	assert_string_equal(plan_field(j, "cells", 0, "memory_mib"), "1536");
	assert_string_equal(plan_field(j, "cells", 1, "nodeset"), "0");
	assert_string_equal(plan_field(j, "cells", 1, "memory_mib"), "512");
	json_object_put(j);
	/* the same guest from a file: the same plan */
	f = plan(file, (const char *const[]){"--format", "json", "-", NULL});
	assert_int_equal(f.status, 0);
	assert_string_equal(f.out, r.out);
	test_result_clear(&f);
	test_result_clear(&r);

	plan_holds(guest, "libvirt", "<memnode cellid='0' mode='strict' nodeset='1'/>",
		   "<memnode cellid='1' mode='strict' nodeset='0'/>");
	plan_holds(guest, "qemu", "id=ram-node0,size=1536M,host-nodes=1,policy=bind",
		   "id=ram-node1,size=512M,host-nodes=0,policy=bind");
}

/* PUs asked, in the order written: guest SMT threads on host siblings 20 and 8. */
static void
pus_in_every_format(void **state)
{
	static const char *const guest[] = {"--name", "db", "--vcpus", "2", "--threads", "2",
					    "--thread-policy", "require", "--pus", "20,8", NULL};
	struct test_result r = plan_as(guest, "json");
	struct json_object *j = json_tokener_parse(r.out);
	(void)state;

	assert_string_equal(plan_field(j, "vcpus", 0, "cpuset"), "20");
	assert_string_equal(plan_field(j, "vcpus", 1, "cpuset"), "8");
	assert_string_equal(plan_field(j, "cells", 0, "nodeset"), "1");
	json_object_put(j);
	test_result_clear(&r);
	plan_holds(guest, "libvirt", "<vcpupin vcpu='0' cpuset='20'/>",
		   "<vcpupin vcpu='1' cpuset='8'/>");
}

/* One line on stderr, nothing on stdout, the exit code of the README's table. */
static void
refusals(void **state)
{
	static const struct {
		int status;
		const char *args[16], *message;
	} cases[] = {
		{3, {"--reserve", "4", "--name", "db", "--vcpus", "2", "--pus", "4,16"},
		 "topomap: guest 'db': pus '4,16': PU 4 is reserved for the host\n"},
		{3, {"--name", "db", "--vcpus", "2", "--pus", "5,11"},
		 "topomap: guest 'db': pus '5,11': cell 0 has vcpu 0 on node 0 and vcpu 1 on node 1; a cell's vcpus are on one node (give one cell per node)\n"},
		{3, {"--name", "db", "--vcpus", "2", "--cell", "cpus=0-1,node=2"},
		 "topomap: guest 'db': cell 0: node 2 is not a node of this host (0-1)\n"},
		{2, {"--name", "db", "--vcpus", "2", "--pus", "1-2", "--pus", "1-2"},
		 "topomap: plan: --pus given more than once\n"},
		{2, {"--name", "db", "--vcpus", "4", "--pus", "1-2"},
		 "topomap: guest 'db': field 'pus': '1-2' names 2 PUs for 4 vcpus; give one PU per vcpu\n"},
		{2, {"--name", "db", "--vcpus", "2", "--pus", "1-x"},
		 "topomap: --pus: '1-x' is not a list of host PUs such as 4-7 or 2,10\n"},
		{2, {"--name", "db", "--vcpus", "2", "--cell", "cpus=0-1,node=one"},
		 "topomap: --cell: 'cpus=0-1,node=one': node 'one' is not a host node number from 0 to 1023\n"},
	};
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct test_result r = plan(NULL, cases[i].args);

		if (r.status != cases[i].status || strcmp(r.err, cases[i].message) || r.out[0])
			fail_msg("case %zu: exit %d (want %d), stderr '%s' (want '%s')", i, r.status,
				 cases[i].status, r.err, cases[i].message);
		test_result_clear(&r);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(nodes_in_every_format),
		cmocka_unit_test(pus_in_every_format),
		cmocka_unit_test(refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
