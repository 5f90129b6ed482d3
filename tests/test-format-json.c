/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The plan as JSON is a contract orchestrators read: every documented key is there, with the
 * same values the library's accessors give, and the table carries the same decisions.
 */
#include <json-c/json.h>

#include "testlib.h"

static struct json_object *
get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("key '%s' missing in %s", key, json_object_to_json_string(o));
	return v;
}

static const char *
get_str(struct json_object *o, const char *key)
{
	struct json_object *v = get(o, key);

	assert_true(json_object_is_type(v, json_type_string));
	return json_object_get_string(v);
}

static int64_t
get_int(struct json_object *o, const char *key)
{
	struct json_object *v = get(o, key);

	assert_true(json_object_is_type(v, json_type_int));
	return json_object_get_int64(v);
}

static void
contract_keys_match_accessors(void **state)
{
	struct tmap_topology *t = test_topology(test_data("host-intel-2s.xml"));
	struct tmap_guests *g = test_guests(
		"[{\"name\":\"db\",\"vcpus\":8,\"threads\":2,\"memory_mib\":8192,\"iothreads\":2,"
		"\"memory_mode\":\"preferred\",\"cells\":[{\"cpus\":\"0-3\",\"memory_mib\":4096},"
		"{\"cpus\":\"4-7\",\"memory_mib\":4096}],\"qos\":{\"shares\":2048,\"period\":100000,"
		"\"quota\":50000}},{\"name\":\"web\",\"vcpus\":2,\"cpu_policy\":\"shared\"}]");
	struct tmap_plan *p = test_solve(t, g, NULL);
	struct json_object *root, *guests;
	char *s = NULL;

	assert_int_equal(tmap_plan_format(p, TMAP_FORMAT_JSON, 0, &s, NULL), 0);
	root = json_tokener_parse(s);
	assert_non_null(root);
	guests = get(root, "guests");
	assert_int_equal(json_object_array_length(guests), 2);
	for (size_t i = 0; i < 2; i++) {
		struct json_object *jg = json_object_array_get_idx(guests, i);
		struct json_object *vcpus = get(jg, "vcpus"), *cells = get(jg, "cells");
		struct json_object *ios = get(jg, "iothreads"), *mem = get(jg, "memory");
		struct json_object *why = get(jg, "explain");

		assert_string_equal(get_str(jg, "name"), tmap_plan_guest_name(p, i));
		assert_int_equal(json_object_array_length(vcpus), i == 0 ? 8 : 2);
		for (size_t v = 0; v < json_object_array_length(vcpus); v++) {
			struct json_object *jv = json_object_array_get_idx(vcpus, v);

			assert_int_equal(get_int(jv, "vcpu"), (int64_t)v);
			assert_string_equal(get_str(jv, "cpuset"),
					    tmap_plan_vcpu_cpuset(p, i, (unsigned)v));
		}
		assert_int_equal(json_object_array_length(cells), tmap_plan_cell_count(p, i));
		for (size_t c = 0; c < json_object_array_length(cells); c++) {
			struct json_object *jc = json_object_array_get_idx(cells, c);
			char node[16];

			snprintf(node, sizeof(node), "%d", tmap_plan_cell_node(p, i, (unsigned)c));
			assert_int_equal(get_int(jc, "cell"), (int64_t)c);
			assert_string_equal(get_str(jc, "nodeset"), node);
			assert_true(get_int(jc, "memory_mib") > 0);
			(void)get_str(jc, "cpus");
		}
		assert_string_equal(get_str(get(jg, "emulator"), "cpuset"),
				    tmap_plan_emulator_cpuset(p, i));
		assert_string_equal(get_str(mem, "nodeset"), tmap_plan_memory_nodeset(p, i));
		(void)get(jg, "qos");
		assert_int_equal(json_object_array_length(why), tmap_plan_explain_count(p, i));
		for (size_t k = 0; k < json_object_array_length(why); k++)
			assert_string_equal(json_object_get_string(json_object_array_get_idx(why, k)),
					    tmap_plan_explain(p, i, k));
		if (i == 0) {
			struct json_object *qos = get(jg, "qos");

			assert_string_equal(get_str(json_object_array_get_idx(cells, 1), "cpus"), "4-7");
			assert_string_equal(get_str(mem, "mode"), "preferred");
			assert_int_equal(json_object_array_length(ios), 2);
			assert_int_equal(get_int(json_object_array_get_idx(ios, 1), "iothread"), 2);
			assert_string_equal(get_str(json_object_array_get_idx(ios, 1), "cpuset"),
					    tmap_plan_emulator_cpuset(p, i));
			assert_int_equal(get_int(qos, "shares"), 2048);
			assert_int_equal(get_int(qos, "period"), 100000);
			assert_int_equal(get_int(qos, "quota"), 50000);
		} else {
			assert_string_equal(get_str(jg, "cpu_policy"), "shared");
			assert_int_equal(json_object_array_length(ios), 0);
		}
	}
	json_object_put(root);
	free(s);

	/* The table shows the same decisions: every vcpu's PU and every cell's node. */
	assert_int_equal(tmap_plan_format(p, TMAP_FORMAT_TABLE, 0, &s, NULL), 0);
	assert_non_null(strstr(s, "guest db: 8 vcpus (1 socket x 4 cores x 2 threads), 8192 MiB"));
	for (unsigned c = 0; c < 2; c++) {
		char line[64];

		snprintf(line, sizeof(line), "cell %u: vcpus %s -> node %d", c, c ? "4-7" : "0-3",
			 tmap_plan_cell_node(p, 0, c));
		assert_non_null(strstr(s, line));
	}
	assert_non_null(strstr(s, "qos: shares 2048 period 100000 us quota 50000 us"));
	free(s);
	assert_int_equal(tmap_plan_format(p, (enum tmap_format)9, 0, &s, NULL), -EINVAL);
	assert_int_equal(tmap_plan_format(p, TMAP_FORMAT_JSON, 4, &s, NULL), -EINVAL);
	tmap_plan_free(p);
	tmap_guests_free(g);
	tmap_topology_free(t);
}

/* memory.hugepage_kib is there for a guest in hugepages only, and the table says so. */
static void
hugepages_in_json_and_table(void **state)
{
	struct tmap_topology *t = test_topology(test_data("host-hugepages.xml"));
	struct tmap_guests *g = test_guests(
		"[{\"name\":\"h\",\"vcpus\":2,\"memory_mib\":2048,\"hugepages\":\"1G\"},"
		"{\"name\":\"n\",\"vcpus\":2}]");
	struct tmap_plan *p = test_solve(t, g, NULL);
	struct json_object *root, *guests, *v;
	char *s = NULL;

	assert_int_equal(tmap_plan_format(p, TMAP_FORMAT_JSON, 0, &s, NULL), 0);
	root = json_tokener_parse(s);
	assert_non_null(root);
	guests = get(root, "guests");
	assert_int_equal(get_int(get(json_object_array_get_idx(guests, 0), "memory"), "hugepage_kib"),
			 1048576);
	assert_false(json_object_object_get_ex(get(json_object_array_get_idx(guests, 1), "memory"),
					       "hugepage_kib", &v));
	json_object_put(root);
	free(s);
	assert_int_equal(tmap_plan_format(p, TMAP_FORMAT_TABLE, 0, &s, NULL), 0);
	assert_non_null(strstr(s, "  memory: strict on node 0, in 1 GiB hugepages\n"));
	assert_non_null(strstr(s, "cell 0 memory: 2 pages of 1 GiB from node 0's pool, 2 left free"));
	free(s);
	tmap_plan_free(p);
	tmap_guests_free(g);
	tmap_topology_free(t);
}

/* A plan changed by hand so that it cannot be printed is refused by every format, before
 * anything is written. */
static void
unfinished_plan_refused(void **state)
{
	struct tmap_topology *t = test_topology("synthetic:pack:1 numa:2(memory=4GiB) core:2 pu:1");
	struct tmap_guests *g = test_guests("[{\"name\":\"ok\",\"vcpus\":1},"
					    "{\"name\":\"half\",\"vcpus\":2,\"cells\":["
					    "{\"cpus\":[0]},{\"cpus\":[1]}]}]");
	struct tmap_plan *p = test_solve(t, g, NULL);
	struct plan_cell *cell = &p->guests[1].cells[1];
	struct tmap_error err = {0};

	free(cell->vcpus_list);
	cell->vcpus_list = NULL;
	for (int f = TMAP_FORMAT_TABLE; f <= TMAP_FORMAT_QEMU; f++) {
		char *buf = NULL;

		assert_int_equal(tmap_plan_format(p, (enum tmap_format)f, 0, &buf, &err), -EINVAL);
		assert_non_null(strstr(err.message, "plan of guest 'half' is not finished"));
		assert_null(buf);
	}
	free(p->guests[0].emulator_list);
	p->guests[0].emulator_list = strdup("");
	assert_int_equal(tmap_plan_format(p, TMAP_FORMAT_LIBVIRT, 0, &(char *){NULL}, &err), -EINVAL);
	assert_non_null(strstr(err.message, "guest 'ok' has an empty emulator set"));
	tmap_plan_free(p);
	tmap_guests_free(g);
	tmap_topology_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(contract_keys_match_accessors),
		cmocka_unit_test(unfinished_plan_refused),
		cmocka_unit_test(hugepages_in_json_and_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
