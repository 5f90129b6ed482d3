/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The guest is told the truth (issue 21): its cells' distances are the host's distances
 * between their nodes, and its SMT siblings are host SMT siblings. Expected values are read
 * off the fixtures by hand:
 *
 * tests/data/host-4n.xml: nodes 0-3 with 3, 5, 4 and 8 PUs and the distances
 *	     0   1   2   3
 *	0   10  31  12  21
 *	1   31  10  21  12
 *	2   12  21  10  31
 *	3   21  12  31  10
 * so cells of 8, 5, 4 and 3 vcpus (all 20 PUs) can only land on nodes 3, 1, 2 and 0.
 *
 * tests/data/host-intel-2s.xml: 2 nodes 21 apart, 6 cores each, siblings 12 apart (PU i and
 * i + 12).
 */
#include "testlib.h"

static char *
plan_text(const char *host, const char *json, enum tmap_format format)
{
	struct tmap_topology *topo = test_topology(host);
	struct tmap_guests *guests = test_guests(json);
	struct tmap_plan *plan = test_solve(topo, guests, NULL);
	struct tmap_error err = {0};
	char *text = NULL;

	if (tmap_plan_format(plan, format, 0, &text, &err) < 0)
		fail_msg("format: %s", err.message);
	tmap_plan_free(plan);
	tmap_guests_free(guests);
	tmap_topology_free(topo);
	return text;
}

/* The lines of text that start with prefix, joined. */
static char *
lines_with(const char *text, const char *prefix)
{
	char *out = calloc(1, strlen(text) + 1);
	size_t len = 0;

	assert_non_null(out);
	for (const char *line = text; *line;) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) + 1 : strlen(line);
		const char *p = line + strspn(line, " ");

		if (strncmp(p, prefix, strlen(prefix)) == 0) {
			memcpy(out + len, p, n - (size_t)(p - line));
			len += n - (size_t)(p - line);
		}
		line += n;
	}
	return out;
}

static const char four_cells[] =
	"{\"name\": \"far\", \"vcpus\": 20, \"memory_mib\": 4096, \"cells\": ["
	"{\"cpus\": \"0-7\"}, {\"cpus\": \"8-12\"}, {\"cpus\": \"13-16\"}, {\"cpus\": \"17-19\"}]}";

static void
test_qemu_distances(void **state)
{
	/* cells -> nodes 3, 1, 2, 0 */
	static const char want[] =
		"-numa dist,src=0,dst=0,val=10\n-numa dist,src=0,dst=1,val=12\n"
		"-numa dist,src=0,dst=2,val=31\n-numa dist,src=0,dst=3,val=21\n"
		"-numa dist,src=1,dst=0,val=12\n-numa dist,src=1,dst=1,val=10\n"
		"-numa dist,src=1,dst=2,val=21\n-numa dist,src=1,dst=3,val=31\n"
		"-numa dist,src=2,dst=0,val=31\n-numa dist,src=2,dst=1,val=21\n"
		"-numa dist,src=2,dst=2,val=10\n-numa dist,src=2,dst=3,val=12\n"
		"-numa dist,src=3,dst=0,val=21\n-numa dist,src=3,dst=1,val=31\n"
		"-numa dist,src=3,dst=2,val=12\n-numa dist,src=3,dst=3,val=10\n";
	_cleanup_free_ char *text = plan_text(test_data("host-4n.xml"), four_cells,
					      TMAP_FORMAT_QEMU);
	_cleanup_free_ char *dist = lines_with(text, "-numa dist");

	assert_string_equal(dist, want);
}

static void
test_libvirt_distances(void **state)
{
	static const char want[] =
		"<sibling id='0' value='10'/>\n<sibling id='1' value='12'/>\n"
		"<sibling id='2' value='31'/>\n<sibling id='3' value='21'/>\n"
		"<sibling id='0' value='12'/>\n<sibling id='1' value='10'/>\n"
		"<sibling id='2' value='21'/>\n<sibling id='3' value='31'/>\n"
		"<sibling id='0' value='31'/>\n<sibling id='1' value='21'/>\n"
		"<sibling id='2' value='10'/>\n<sibling id='3' value='12'/>\n"
		"<sibling id='0' value='21'/>\n<sibling id='1' value='31'/>\n"
		"<sibling id='2' value='12'/>\n<sibling id='3' value='10'/>\n";
	_cleanup_free_ char *text = plan_text(test_data("host-4n.xml"), four_cells,
					      TMAP_FORMAT_LIBVIRT);
	_cleanup_free_ char *sib = lines_with(text, "<sibling ");
	_cleanup_free_ char *open = lines_with(text, "<distances>");

	assert_string_equal(sib, want);
	/* one <distances> per cell */
	assert_string_equal(open, "<distances>\n<distances>\n<distances>\n<distances>\n");
}

/*
 * Nothing false: a host without distances gives the guest none; nor do two cells on one host
 * node, whose true distance (the local 10) libvirt refuses between two cells and Linux takes
 * as a broken table. 4 cells on 2 nodes must share.
 */
static void
check_no_distances(const char *host, const char *json)
{
	_cleanup_free_ char *qemu = plan_text(host, json, TMAP_FORMAT_QEMU);
	_cleanup_free_ char *libvirt = plan_text(host, json, TMAP_FORMAT_LIBVIRT);

	assert_non_null(strstr(qemu, "-numa node,nodeid=1"));
	assert_null(strstr(qemu, "-numa dist"));
	assert_non_null(strstr(libvirt, "<cell id='1'"));
	assert_null(strstr(libvirt, "distances"));
}

static void
test_no_distances(void **state)
{
	static const char two[] =
		"{\"name\": \"two\", \"vcpus\": 2, \"memory_mib\": 1024,"
		" \"cells\": [{\"cpus\": \"0\"}, {\"cpus\": \"1\"}]}";
	static const char shared[] =
		"{\"name\": \"shared\", \"vcpus\": 4, \"memory_mib\": 1024, \"cells_share_nodes\": true,"
		" \"cells\": [{\"cpus\": \"0\"}, {\"cpus\": \"1\"}, {\"cpus\": \"2\"}, {\"cpus\": \"3\"}]}";
	char xml[4096];

	check_no_distances("synthetic:numa:2 core:1 pu:2", two);
	snprintf(xml, sizeof(xml), "%s", test_data("host-intel-2s.xml"));
	check_no_distances(xml, shared);
	/* the same host tells two cells on its two nodes their distance, 21 */
	{
		_cleanup_free_ char *qemu = plan_text(xml, two, TMAP_FORMAT_QEMU);
		_cleanup_free_ char *dist = lines_with(qemu, "-numa dist");

		assert_string_equal(dist, "-numa dist,src=0,dst=0,val=10\n-numa dist,src=0,dst=1,val=21\n"
					  "-numa dist,src=1,dst=0,val=21\n-numa dist,src=1,dst=1,val=10\n");
	}
}

/*
 * Guest threads 2k and 2k+1 are siblings in QEMU's and libvirt's numbering (threads vary
 * fastest); on host-intel-2s they must be a host core's PUs i and i + 12, each pair its own
 * core, and the format must say threads=2. PUs 0 and 12 are reserved so the plan cannot
 * start at the first core by chance.
 */
static void
check_siblings(const char *policy)
{
	char json[512], xml[4096];
	struct tmap_topology *topo;
	struct tmap_guests *guests;
	struct tmap_plan *plan;
	_cleanup_bitmap_ hwloc_bitmap_t cores = hwloc_bitmap_alloc();
	_cleanup_free_ char *qemu = NULL, *libvirt = NULL;

	snprintf(json, sizeof(json),
		 "{\"name\": \"smt\", \"vcpus\": 8, \"sockets\": 2, \"cores\": 2, \"threads\": 2,"
		 " \"thread_policy\": \"%s\", \"cells\": [{\"cpus\": \"0-3\"}, {\"cpus\": \"4-7\"}]}",
		 policy);
	snprintf(xml, sizeof(xml), "%s", test_data("host-intel-2s.xml"));
	topo = test_topology(xml);
	guests = test_guests(json);
	plan = test_solve(topo, guests, "0,12");
	for (unsigned k = 0; k < 4; k++) {
		const char *a = tmap_plan_vcpu_cpuset(plan, 0, 2 * k);
		const char *b = tmap_plan_vcpu_cpuset(plan, 0, 2 * k + 1);
		char *end;
		long pa = strtol(a, &end, 10), pb;

		assert_true(*end == '\0');
		pb = strtol(b, &end, 10);
		assert_true(*end == '\0');
		if (pb != pa + 12)
			fail_msg("policy %s: vcpus %u and %u on PUs %s and %s, not siblings", policy,
				 2 * k, 2 * k + 1, a, b);
		/* each guest core its own host core */
		assert_false(hwloc_bitmap_isset(cores, (unsigned)pa));
		hwloc_bitmap_set(cores, (unsigned)pa);
	}
	assert_int_equal(tmap_plan_format(plan, TMAP_FORMAT_QEMU, 0, &qemu, NULL), 0);
	assert_non_null(strstr(qemu, "\n-smp 8,sockets=2,cores=2,threads=2\n"));
	assert_int_equal(tmap_plan_format(plan, TMAP_FORMAT_LIBVIRT, 0, &libvirt, NULL), 0);
	assert_non_null(strstr(libvirt, "<topology sockets='2' dies='1' cores='2' threads='2'/>"));
	tmap_plan_free(plan);
	tmap_guests_free(guests);
	tmap_topology_free(topo);
}

static void
test_smt_siblings(void **state)
{
	check_siblings("prefer");
	check_siblings("require");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_qemu_distances),
	    cmocka_unit_test(test_libvirt_distances),
	    cmocka_unit_test(test_no_distances),
	    cmocka_unit_test(test_smt_siblings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
