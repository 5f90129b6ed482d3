/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tmap_topology_export_xml(): the XML, read back with hwloc, is the same host, with each
 * guest's PUs and its own NUMA nodes carrying the lstopoStyle of its colour, the PUs it only
 * holds a lighter one, and one lstopoLegend line per guest on the root. Expectations come
 * from the plan's own accessors, so the test holds whatever the solver chooses.
 */
#include "testlib.h"

static const char *const colour[] = {"#e41a1c", "#377eb8", "#4daf4a"};
static const char *const light[] = {"#f18c8d", "#9bbedb", "#a6d7a4"};

static hwloc_topology_t
reload(const char *xml)
{
	hwloc_topology_t hw;

	assert_int_equal(hwloc_topology_init(&hw), 0);
	assert_int_equal(hwloc_topology_set_xmlbuffer(hw, xml, (int)strlen(xml) + 1), 0);
	assert_int_equal(hwloc_topology_load(hw), 0);
	return hw;
}

static hwloc_bitmap_t
list(const char *text)
{
	hwloc_bitmap_t set = hwloc_bitmap_alloc();

	assert_non_null(set);
	assert_int_equal(hwloc_bitmap_list_sscanf(set, text ? text : ""), 0);
	return set;
}

static void
expect_style(hwloc_obj_t obj, const char *rgb)
{
	const char *style = hwloc_obj_get_info_by_name(obj, "lstopoStyle");
	char want[64];

	if (!rgb) {
		assert_null(style);
		return;
	}
	snprintf(want, sizeof(want), "Background=%s;Text=#000000", rgb);
	assert_non_null(style);
	assert_string_equal(style, want);
}

static unsigned
legend_lines(hwloc_topology_t hw, const char **first)
{
	hwloc_obj_t root = hwloc_get_root_obj(hw);
	unsigned n = 0;

	*first = NULL;
	for (unsigned i = 0; i < OBJ_INFOS_COUNT(root); i++) {
		if (strcmp(OBJ_INFO(root, i).name, "lstopoLegend") != 0)
			continue;
		if (!n)
			*first = OBJ_INFO(root, i).value;
		n++;
	}
	return n;
}

static void
check_painted(const char *desc, const char *spec, const char *reserve)
{
	struct tmap_topology *t = test_topology(desc);
	struct tmap_guests *g = test_guests(spec);
	struct tmap_plan *p = test_solve(t, g, reserve);
	size_t n = tmap_plan_guest_count(p);
	hwloc_bitmap_t run[3], held[3], mem[3];
	struct tmap_error err = {0};
	hwloc_topology_t hw;
	const char *first;
	hwloc_obj_t obj;
	char *xml = NULL;

	assert_true(n >= 1 && n <= 3);
	assert_int_equal(tmap_topology_export_xml(t, p, 0, &xml, &err), 0);
	hw = reload(xml);
	for (size_t i = 0; i < n; i++) {
		run[i] = list(tmap_plan_cpuset(p, i));
		held[i] = list(tmap_plan_held_cpuset(p, i));
		mem[i] = list(tmap_plan_memory_nodeset(p, i));
	}

	/* The same host: as many PUs and nodes as the original. */
	assert_int_equal(hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_PU),
			 hwloc_get_nbobjs_by_type(t->hw, HWLOC_OBJ_PU));
	assert_int_equal(hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_NUMANODE),
			 hwloc_get_nbobjs_by_type(t->hw, HWLOC_OBJ_NUMANODE));

	obj = NULL;
	while ((obj = hwloc_get_next_obj_by_type(hw, HWLOC_OBJ_PU, obj))) {
		const char *want = NULL;

		/* Dedicated guests: each PU is one guest's at most. */
		for (size_t i = 0; i < n; i++) {
			if (hwloc_bitmap_isset(held[i], obj->os_index))
				want = hwloc_bitmap_isset(run[i], obj->os_index) ? colour[i]
										 : light[i];
			else if (hwloc_bitmap_isset(run[i], obj->os_index))
				want = colour[i];
		}
		expect_style(obj, want);
	}
	obj = NULL;
	while ((obj = hwloc_get_next_obj_by_type(hw, HWLOC_OBJ_NUMANODE, obj))) {
		const char *want = NULL;
		unsigned users = 0;

		for (size_t i = 0; i < n; i++) {
			if (hwloc_bitmap_isset(mem[i], obj->os_index)) {
				want = colour[i];
				users++;
			}
		}
		expect_style(obj, users == 1 ? want : NULL);
	}

	assert_int_equal(legend_lines(hw, &first), n);
	assert_true(
	    strncmp(first, tmap_plan_guest_name(p, 0), strlen(tmap_plan_guest_name(p, 0))) == 0);
	assert_non_null(strstr(first, "(red, #e41a1c): PUs "));
	assert_non_null(strstr(first, tmap_plan_cpuset(p, 0)));

	for (size_t i = 0; i < n; i++) {
		hwloc_bitmap_free(run[i]);
		hwloc_bitmap_free(held[i]);
		hwloc_bitmap_free(mem[i]);
	}
	hwloc_topology_destroy(hw);
	free(xml);

	/* Painting worked on a copy: the bare host after it has no style and no legend. */
	assert_int_equal(tmap_topology_export_xml(t, NULL, 0, &xml, &err), 0);
	assert_null(strstr(xml, "lstopoStyle"));
	assert_null(strstr(xml, "lstopoLegend"));
	free(xml);

	tmap_plan_free(p);
	tmap_guests_free(g);
	tmap_topology_free(t);
}

static void
test_guests_painted(void **state)
{
	(void)state;
	/* Two guests on one node each: each node in its guest's colour. */
	check_painted("synthetic:pack:2 numa:1(memory=16GiB) core:4 pu:2",
		      "[{\"name\": \"a\", \"vcpus\": 4, \"threads\": 2, \"memory_mib\": 4096},"
		      " {\"name\": \"b\", \"vcpus\": 4, \"threads\": 2, \"memory_mib\": 4096}]",
		      "0");
	/* Isolated siblings: held, lighter; three guests. */
	check_painted("synthetic:pack:1 numa:1(memory=16GiB) core:8 pu:2",
		      "[{\"name\": \"x\", \"vcpus\": 2, \"thread_policy\": \"isolate\"},"
		      " {\"name\": \"y\", \"vcpus\": 2},"
		      " {\"name\": \"z\", \"vcpus\": 1}]",
		      NULL);
}

static void
test_bad_arguments(void **state)
{
	struct tmap_topology *t = test_topology("synthetic:pack:1 core:2 pu:1");
	struct tmap_error err = {0};
	char *xml = NULL;

	(void)state;
	assert_int_equal(tmap_topology_export_xml(t, NULL, 1, &xml, &err), -EINVAL);
	assert_non_null(strstr(err.message, "flags"));
	assert_null(xml);
	assert_int_equal(tmap_topology_export_xml(NULL, NULL, 0, &xml, NULL), -EINVAL);
	assert_int_equal(tmap_topology_export_xml(t, NULL, 0, NULL, NULL), -EINVAL);
	tmap_topology_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_guests_painted),
	    cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
