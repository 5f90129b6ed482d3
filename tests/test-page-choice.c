/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * "hugepages": "large" and "any" (issue 21, Nova's hw:mem_page_size): the placement picks the
 * page size. Expected sizes read off tests/data/host-hugepages.xml by hand: node 0 has 1024
 * free pages of 2 MiB (2 GiB) and 4 of 1 GiB (4 GiB), node 1 512 of 2 MiB (1 GiB) and no
 * 1 GiB pool.
 */
#include <json-c/json.h>

#include "testlib.h"
#include "state.h"

#define HUGE_HOST test_data("host-hugepages.xml")
#define GIB_KIB 1048576

struct placed {
	struct tmap_topology *t;
	struct tmap_guests *g;
	struct tmap_plan *p;
	struct tmap_error err;
	int r;
};

static struct placed
place(const char *host, const char *json)
{
	struct placed s = {.t = test_topology(host), .g = test_guests(json)};

	s.r = tmap_solve(s.t, s.g, NULL, &s.p, &s.err);
	return s;
}

static void
placed_free(struct placed *s)
{
	tmap_plan_free(s->p);
	tmap_guests_free(s->g);
	tmap_topology_free(s->t);
}

static bool
explained(const struct tmap_plan *p, const char *text)
{
	for (size_t i = 0; i < tmap_plan_explain_count(p, 0); i++)
		if (strstr(tmap_plan_explain(p, 0, i), text))
			return true;
	return false;
}

/* One guest on host; its page size (KiB) and each cell's node, or the failure. */
static void
expect_size(const char *host, const char *pages, uint64_t memory_mib, unsigned ncells,
	    uint64_t want_kib, const int *want_nodes)
{
	char json[512];
	struct placed s;

	snprintf(json, sizeof(json),
		 "{\"name\": \"g\", \"vcpus\": 2, \"memory_mib\": %" PRIu64 ", \"hugepages\": \"%s\"%s}",
		 memory_mib, pages, ncells == 2 ? ", \"cells\": [{\"cpus\": \"0\"}, {\"cpus\": \"1\"}]" : "");
	s = place(host, json);
	if (s.r < 0)
		fail_msg("%s, %" PRIu64 " MiB: %s", pages, memory_mib, s.err.message);
	assert_int_equal(tmap_plan_hugepage_kib(s.p, 0), want_kib);
	for (unsigned c = 0; want_nodes && c < ncells; c++)
		assert_int_equal(tmap_plan_cell_node(s.p, 0, c), want_nodes[c]);
	assert_true(explained(s.p, want_kib ? "the largest size whose free pages hold" :
					      "normal pages, no hugepage pool holds"));
	placed_free(&s);
}

static void
large_takes_the_largest_that_fits(void **state)
{
	static const int node0[] = {0}, both[] = {0, 1};

	/* 4 GiB: node 0's four 1 GiB pages. */
	expect_size(HUGE_HOST, "large", 4096, 1, GIB_KIB, node0);
	/* 512 MiB is no whole number of 1 GiB pages: 2 MiB. */
	expect_size(HUGE_HOST, "large", 512, 1, 2048, NULL);
	/* Two cells of 1 GiB on two nodes: node 1 has no 1 GiB pool, both have 1 GiB of 2 MiB. */
	expect_size(HUGE_HOST, "large", 2048, 2, 2048, both);
	/* "any" takes the same as "large" while a pool holds the guest. */
	expect_size(HUGE_HOST, "any", 4096, 1, GIB_KIB, node0);
	expect_size(HUGE_HOST, "any", 2048, 2, 2048, both);
}

static void
any_falls_back_large_refuses(void **state)
{
	static const char big[] = "{\"name\": \"big\", \"vcpus\": 2, \"memory_mib\": 6144, \"hugepages\": \"large\"}";
	struct placed s;

	/* 6 GiB: node 0 has 4 GiB of 1 GiB pages and 2 GiB of 2 MiB ones, node 1 1 GiB. */
	s = place(HUGE_HOST, big);
	assert_int_equal(s.r, -ENOSPC);
	assert_string_equal(s.err.message,
			    "big: hugepages 'large': no hugepage size of the host has free pages for every cell on its node");
	placed_free(&s);
	expect_size(HUGE_HOST, "any", 6144, 1, 0, NULL);

	/* A host without pools. */
	s = place("synthetic:numa:2 core:2 pu:2", "{\"name\": \"n\", \"vcpus\": 2, \"hugepages\": \"large\"}");
	assert_int_equal(s.r, -ENOSPC);
	placed_free(&s);
	expect_size("synthetic:numa:2 core:2 pu:2", "any", 1024, 1, 0, NULL);
}

/*
 * Making room for a "large" guest: a and b (3 isolated vcpus each, 3 whole cores) fill node
 * 0's 12 PUs, node 1 is empty. n's 8 vcpus in 2 GiB of hugepages fit node 0 alone (node 1 has
 * 1 GiB of 2 MiB pages): both move to node 1, and n takes node 0's 1 GiB pages.
 */
static void
room_for_large(void **state)
{
	struct tmap_topology *t = test_topology(HUGE_HOST);
	struct tmap_guests *g = test_guests(
		"[{\"name\": \"a\", \"vcpus\": 3, \"thread_policy\": \"isolate\"},"
		" {\"name\": \"b\", \"vcpus\": 3, \"thread_policy\": \"isolate\"},"
		" {\"name\": \"n\", \"vcpus\": 8, \"memory_mib\": 2048, \"hugepages\": \"large\"}]");
	struct tmap_host *h = NULL;
	struct tmap_plan *p = NULL;
	struct tmap_error err = {0};

	assert_int_equal(tmap_host_new(t, NULL, &h, &err), 0);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(tmap_host_place(h, tmap_guests_get(g, i), &p, &err), 0);
		assert_int_equal(tmap_plan_cell_node(p, 0, 0), 0);
		p = tmap_plan_free(p);
	}
	assert_int_equal(tmap_host_place(h, tmap_guests_get(g, 2), &p, &err), -ENOSPC);
	assert_int_equal(tmap_host_make_room(h, tmap_guests_get(g, 2), NULL, &p, &err), 0);
	assert_int_equal(tmap_plan_hugepage_kib(p, 0), GIB_KIB);
	assert_int_equal(tmap_plan_cell_node(p, 0, 0), 0);
	assert_true(tmap_plan_move_count(p) > 0);
	tmap_plan_free(p);
	tmap_host_free(h);
	tmap_guests_free(g);
	tmap_topology_free(t);
}

/* Every format shows the size chosen as it shows one asked for. */
static void
formats_show_the_size(void **state)
{
	struct placed s = place(HUGE_HOST, "{\"name\": \"g\", \"vcpus\": 2, \"memory_mib\": 2048, \"hugepages\": \"large\"}");
	_cleanup_free_ char *libvirt = NULL, *qemu = NULL, *json = NULL;

	assert_int_equal(s.r, 0);
	assert_int_equal(tmap_plan_format(s.p, TMAP_FORMAT_LIBVIRT, 0, &libvirt, NULL), 0);
	assert_non_null(strstr(libvirt, "<page size='1048576' unit='KiB' nodeset='0'/>"));
	assert_int_equal(tmap_plan_format(s.p, TMAP_FORMAT_QEMU, 0, &qemu, NULL), 0);
	assert_non_null(strstr(qemu, "hugetlb=on,hugetlbsize=1048576K"));
	assert_int_equal(tmap_plan_format(s.p, TMAP_FORMAT_JSON, 0, &json, NULL), 0);
	assert_non_null(strstr(json, "\"hugepage_kib\":1048576"));
	placed_free(&s);
}

/* The spec says the word, and keeps it: the state records "large", not a size. */
static void
spec_keeps_the_word(void **state)
{
	struct tmap_guests *g = test_guests(
		"[{\"name\": \"l\", \"vcpus\": 1, \"hugepages\": \"large\"},"
		" {\"name\": \"a\", \"vcpus\": 1, \"hugepages\": \"any\"}]");
	json_object *spec, *v = NULL;

	assert_int_equal(tmap_guest_hugepages(tmap_guests_get(g, 0)), TMAP_HUGEPAGES_LARGE);
	assert_int_equal(tmap_guest_hugepages(tmap_guests_get(g, 1)), TMAP_HUGEPAGES_ANY);
	spec = state_spec_from_guest(tmap_guests_get(g, 0));
	assert_true(json_object_object_get_ex(spec, "hugepages", &v));
	assert_string_equal(json_object_get_string(v), "large");
	json_object_put(spec);
	tmap_guests_free(g);

	/* only the two words */
	{
		static const char bad[] = "{\"name\": \"x\", \"vcpus\": 1, \"hugepages\": \"largest\"}";
		struct tmap_error err = {0};

		assert_int_equal(tmap_guests_new(&g), 0);
		assert_int_equal(tmap_guests_parse_json(g, bad, strlen(bad), "t", &err), -EINVAL);
		assert_non_null(strstr(err.message, "or \"large\" or \"any\""));
		tmap_guests_free(g);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(large_takes_the_largest_that_fits),
	    cmocka_unit_test(any_falls_back_large_refuses),
	    cmocka_unit_test(room_for_large),
	    cmocka_unit_test(formats_show_the_size),
	    cmocka_unit_test(spec_keeps_the_word),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
