/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host model, from hwloc synthetic strings and XML exported the way real hosts are. */
#include <json-c/json.h>

#include "testlib.h"

/* The sibling list of the core holding pu, as "a,b". */
static void
siblings_of(const struct tmap_topology *t, unsigned pu, char *buf, size_t size)
{
	const struct topo_core *c;
	size_t len = 0;

	assert_true(pu < t->pu_limit);
	assert_true(t->pu_core[pu] >= 0);
	c = &t->cores[t->pu_core[pu]];
	buf[0] = '\0';
	for (unsigned k = 0; k < c->npus; k++)
		len += (size_t)snprintf(buf + len, size - len, "%s%u", k ? "," : "", c->pus[k]);
}

static void
synthetic_siblings_far_apart(void **state)
{
	struct tmap_topology *t =
		test_topology("synthetic:pack:2 core:3 pu:2(indexes=0,6,1,7,2,8,3,9,4,10,5,11)");
	char sib[64];

	/* hwloc puts one NUMA node at the machine when none is asked for. */
	assert_int_equal(tmap_topology_node_count(t), 1);
	assert_string_equal(tmap_topology_node_cpus(t, 0), "0-11");
	assert_int_equal(t->ncores, 6);
	assert_int_equal(t->max_threads, 2);
	for (unsigned c = 0; c < 6; c++) {
		char want[16];

		snprintf(want, sizeof(want), "%u,%u", c, c + 6);
		siblings_of(t, c, sib, sizeof(sib));
		assert_string_equal(sib, want);
		siblings_of(t, c + 6, sib, sizeof(sib));
		assert_string_equal(sib, want);
	}
	tmap_topology_free(t);
}

static void
xml_intel_two_sockets(void **state)
{
	struct tmap_topology *t = test_topology(test_data("host-intel-2s.xml"));
	char sib[64];

	assert_int_equal(tmap_topology_node_count(t), 2);
	assert_int_equal(tmap_topology_node_id(t, 0), 0);
	assert_int_equal(tmap_topology_node_id(t, 1), 1);
	assert_string_equal(tmap_topology_node_cpus(t, 0), "0-5,12-17");
	assert_string_equal(tmap_topology_node_cpus(t, 1), "6-11,18-23");
	assert_int_equal(tmap_topology_node_memory_mib(t, 0), 65536);
	siblings_of(t, 12, sib, sizeof(sib));
	assert_string_equal(sib, "0,12");
	siblings_of(t, 23, sib, sizeof(sib));
	assert_string_equal(sib, "11,23");
	assert_int_equal(tmap_topology_distance(t, 0, 0), 10);
	assert_int_equal(tmap_topology_distance(t, 0, 1), 21);
	assert_int_equal(tmap_topology_distance(t, 1, 0), 21);
	assert_int_equal(t->npackages, 2);
	assert_int_equal(t->nl3, 2);
	assert_int_not_equal(t->cores[t->pu_core[0]].l3, t->cores[t->pu_core[6]].l3);
	/* Out of range is an error, not a crash. */
	assert_int_equal(tmap_topology_node_id(t, 2), -EINVAL);
	assert_null(tmap_topology_node_cpus(t, 2));
	assert_int_equal(tmap_topology_distance(t, 0, 2), -EINVAL);
	tmap_topology_free(t);
}

static void
xml_memory_only_node(void **state)
{
	struct tmap_topology *t = test_topology(test_data("host-cxl.xml"));

	assert_int_equal(tmap_topology_node_count(t), 3);
	assert_int_equal(tmap_topology_node_id(t, 2), 2);
	assert_string_equal(tmap_topology_node_cpus(t, 0), "0-3");
	assert_string_equal(tmap_topology_node_cpus(t, 1), "4-7");
	/* hwloc says node 2's locality is every PU; it owns none of them. */
	assert_string_equal(tmap_topology_node_cpus(t, 2), "");
	assert_true(t->nodes[2].cpuless);
	assert_false(t->nodes[0].cpuless);
	assert_int_equal(tmap_topology_node_memory_mib(t, 2), 32768);
	assert_int_equal(tmap_topology_distance(t, 0, 1), 0); /* none reported */
	tmap_topology_free(t);
}

static void
xml_offline_pus_and_uneven_nodes(void **state)
{
	struct tmap_topology *t = test_topology(test_data("host-4n.xml"));

	assert_int_equal(tmap_topology_node_count(t), 4);
	assert_string_equal(tmap_topology_node_cpus(t, 0), "0-2");
	assert_string_equal(tmap_topology_node_cpus(t, 1), "8-12");
	assert_string_equal(tmap_topology_node_cpus(t, 2), "16-19");
	assert_string_equal(tmap_topology_node_cpus(t, 3), "24-31");
	assert_int_equal(tmap_topology_node_memory_mib(t, 0), 8192);
	assert_int_equal(tmap_topology_node_memory_mib(t, 1), 16384);
	for (unsigned pu = 3; pu < 8; pu++)
		assert_int_equal(t->pu_core[pu], -1);
	assert_int_equal(tmap_topology_distance(t, 0, 2), 12);
	assert_int_equal(tmap_topology_distance(t, 0, 1), 31);
	assert_int_equal(tmap_topology_distance(t, 3, 1), 12);
	tmap_topology_free(t);
}

static void
live_host_loads(void **state)
{
	struct tmap_topology *t = test_topology("live");

	/* Whatever this machine is, it has a node with PUs and every PU is in one core. */
	assert_true(tmap_topology_node_count(t) >= 1);
	assert_true(hwloc_bitmap_weight(t->cpuset) >= 1);
	for (unsigned pu = 0; pu < t->pu_limit; pu++)
		assert_int_equal(t->pu_core[pu] >= 0, hwloc_bitmap_isset(t->cpuset, pu));
	tmap_topology_free(t);
}

static void
expect_error(const char *source, int code, const char *needle)
{
	struct tmap_error err = {0};
	struct tmap_topology *t = (struct tmap_topology *)0x1;

	assert_int_equal(topology_new_source(source, 0, &t, &err), code);
	assert_int_equal(err.code, code);
	assert_ptr_equal(t, (struct tmap_topology *)0x1); /* untouched on failure */
	if (!strstr(err.message, needle))
		fail_msg("message '%s' does not name '%s'", err.message, needle);
	assert_null(strchr(err.message, '\n'));
}

static void
bad_sources(void **state)
{
	char path[4096];
	FILE *f;

	expect_error("/nonexistent/host.xml", -ENOENT, "'/nonexistent/host.xml'");
	expect_error("synthetic:pack:two", -EINVAL, "synthetic:pack:two");
	expect_error("/", -EINVAL, "is a directory, not a regular file");
	expect_error("/dev/null", -EINVAL, "topology '/dev/null': is a character device, not a regular file");
	snprintf(path, sizeof(path), "/tmp/topomap-test-bad-%d.xml", (int)getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("<topology><object type=\"Machine\"", f);
	fclose(f);
	expect_error(path, -EINVAL, path);
	unlink(path);
	/* XML that makes hwloc 2.9 itself segfault (found by the fuzzer): refused, no crash. */
	expect_error(test_data("hwloc-crashes-hwloc.xml"), -EINVAL,
		     "line 28: not a valid hwloc XML file: a malformed attribute in <object>");
	{
		struct tmap_topology *t = NULL;

		assert_int_equal(topology_new_source("live", 1, &t, NULL), -EINVAL);
		assert_null(t);
	}
}

static void
json_shape(void **state)
{
	struct tmap_topology *t = test_topology(test_data("host-intel-2s.xml"));
	struct tmap_error err = {0};
	struct json_object *root, *nodes, *node, *cores, *dist, *v;
	char *s = NULL;

	assert_int_equal(tmap_topology_format(t, TMAP_FORMAT_JSON, 0, &s, &err), 0);
	root = json_tokener_parse(s);
	assert_non_null(root);
	assert_true(json_object_object_get_ex(root, "nodes", &nodes));
	assert_int_equal(json_object_array_length(nodes), 2);
	node = json_object_array_get_idx(nodes, 1);
	assert_true(json_object_object_get_ex(node, "id", &v));
	assert_int_equal(json_object_get_int(v), 1);
	assert_true(json_object_object_get_ex(node, "memory_mib", &v));
	assert_int_equal(json_object_get_int(v), 65536);
	assert_true(json_object_object_get_ex(node, "cpus", &v));
	assert_string_equal(json_object_get_string(v), "6-11,18-23");
	assert_true(json_object_object_get_ex(node, "cores", &cores));
	assert_int_equal(json_object_array_length(cores), 6);
	v = json_object_array_get_idx(cores, 0);
	assert_int_equal(json_object_array_length(v), 2);
	assert_int_equal(json_object_get_int(json_object_array_get_idx(v, 0)), 6);
	assert_int_equal(json_object_get_int(json_object_array_get_idx(v, 1)), 18);
	assert_true(json_object_object_get_ex(root, "distances", &dist));
	assert_int_equal(json_object_get_int(json_object_array_get_idx(
				 json_object_array_get_idx(dist, 0), 1)),
			 21);
	json_object_put(root);
	free(s);

	/* The table is for people; it must at least carry the siblings and distances. */
	assert_int_equal(tmap_topology_format(t, TMAP_FORMAT_TABLE, 0, &s, &err), 0);
	assert_non_null(strstr(s, " 0,12 "));
	assert_non_null(strstr(s, "   21"));
	free(s);
	assert_int_equal(tmap_topology_format(t, TMAP_FORMAT_LIBVIRT, 0, &s, &err), -EINVAL);
	tmap_topology_free(t);
}

/* What `topology --format json` prints reads back as the same host, for every fixture. */
static void
json_round_trip(void **state)
{
	const char *fixtures[] = {"host-intel-2s.xml", "host-4n.xml", "host-cxl.xml",
				  "host-hugepages.xml"};

	for (size_t i = 0; i < ARRAY_SIZE(fixtures); i++) {
		struct tmap_topology *a = test_topology(test_data(fixtures[i])), *b = NULL;
		struct tmap_error err = {0};
		char *ja = NULL, *jb = NULL;

		assert_int_equal(tmap_topology_format(a, TMAP_FORMAT_JSON, 0, &ja, &err), 0);
		if (tmap_topology_new_from_json(ja, strlen(ja), "copy", &b, &err) < 0)
			fail_msg("%s: %s", fixtures[i], err.message);
		assert_int_equal(tmap_topology_format(b, TMAP_FORMAT_JSON, 0, &jb, &err), 0);
		assert_string_equal(ja, jb);
		assert_int_equal(b->max_threads, a->max_threads);
		assert_int_equal(b->ncores, a->ncores);
		free(ja);
		free(jb);
		tmap_topology_free(a);
		tmap_topology_free(b);
	}
}

static void
expect_pool(const struct tmap_topology *t, unsigned node, unsigned index, uint64_t page_kib,
	    uint64_t count)
{
	uint64_t size = 0, n = 0;

	assert_int_equal(tmap_topology_node_hugepages(t, node, index, &size, &n), 0);
	assert_int_equal(size, page_kib);
	assert_int_equal(n, count);
}

/* An exported live host with pools: each node lists them, and what they hold is not normal
 * memory (hwloc's local_memory includes them). */
static void
xml_hugepage_pools(void **state)
{
	struct tmap_topology *t = test_topology(test_data("host-hugepages.xml"));
	struct tmap_error err = {0};
	char *s = NULL;

	assert_int_equal(t->npage_sizes, 2);
	expect_pool(t, 0, 0, 2048, 1024);
	expect_pool(t, 0, 1, 1048576, 4);
	expect_pool(t, 1, 0, 2048, 512);
	expect_pool(t, 1, 1, 1048576, 0);
	assert_int_equal(tmap_topology_node_hugepages(t, 0, 2, NULL, NULL), -ENOENT);
	assert_int_equal(tmap_topology_node_hugepages(t, 2, 0, NULL, NULL), -EINVAL);
	/* 70 GiB and 65 GiB of local memory, of which 64 GiB each is normal. */
	assert_int_equal(tmap_topology_node_memory_mib(t, 0), 65536);
	assert_int_equal(tmap_topology_node_memory_mib(t, 1), 65536);

	assert_int_equal(tmap_topology_format(t, TMAP_FORMAT_TABLE, 0, &s, &err), 0);
	assert_non_null(strstr(s, "  hugepages: 1024 x 2 MiB, 4 x 1 GiB\n"));
	assert_non_null(strstr(s, "  hugepages: 512 x 2 MiB, 0 x 1 GiB\n"));
	free(s);
	assert_int_equal(tmap_topology_format(t, TMAP_FORMAT_JSON, 0, &s, &err), 0);
	assert_non_null(strstr(s, "\"hugepages\":[{\"size_kib\":2048,\"count\":1024},"
				  "{\"size_kib\":1048576,\"count\":4}]"));
	free(s);
	tmap_topology_free(t);

	/* A host without pools lists none: the base page is not a pool. */
	t = test_topology(test_data("host-intel-2s.xml"));
	assert_int_equal(t->npage_sizes, 0);
	assert_int_equal(tmap_topology_node_hugepages(t, 0, 0, NULL, NULL), -ENOENT);
	assert_int_equal(tmap_topology_format(t, TMAP_FORMAT_JSON, 0, &s, &err), 0);
	assert_null(strstr(s, "hugepages"));
	free(s);
	tmap_topology_free(t);
}

/* Node obj's page types of `node`, as topology_xml_page_types() read them, in order. */
static unsigned
xml_types_of(const struct topo_page_type *xml, size_t nxml, unsigned node,
	     struct topo_page_type *out, unsigned max)
{
	unsigned n = 0;

	for (size_t i = 0; i < nxml; i++)
		if (xml[i].node == node) {
			assert_true(n < max);
			out[n++] = xml[i];
		}
	return n;
}

/*
 * What hwloc 3.0 no longer keeps, topomap reads from the XML itself: for every fixture, each
 * node's page types as topomap has them (hwloc's page_types under 2.x: a check of the XML
 * reader against hwloc's importer) are the <page_type>s of that node in the file, no more.
 */
static void
xml_page_types_as_hwloc(void **state)
{
	const char *fixtures[] = {"host-hugepages.xml", "host-intel-2s.xml", "host-4n.xml",
				  "host-cxl.xml", "dev-2s-sriov.xml", "dev-4n-cpuless.xml",
				  "dev-4n-even.xml", "dev-vm-guest.xml"};

	for (size_t f = 0; f < ARRAY_SIZE(fixtures); f++) {
		struct tmap_topology *t = test_topology(test_data(fixtures[f]));
		struct topo_page_type *xml = NULL, want[16];
		struct tmap_error err = {0};
		size_t nxml = 0, seen = 0, len = 0;
		char *text = NULL;
		hwloc_obj_t obj = NULL;

		assert_int_equal(read_file_bounded(test_data(fixtures[f]), TOPOLOGY_MAX_BYTES, &text,
						   &len, &err), 0);
		if (topology_xml_page_types(text, len, fixtures[f], &xml, &nxml, &err) < 0)
			fail_msg("%s: %s", fixtures[f], err.message);
		while ((obj = hwloc_get_next_obj_by_type(t->hw, HWLOC_OBJ_NUMANODE, obj))) {
			struct topo_page_type *got = NULL;
			unsigned n = 0, nwant;

			assert_int_equal(node_page_types(t, obj, &got, &n), 0);
			nwant = xml_types_of(xml, nxml, obj->os_index, want, ARRAY_SIZE(want));
			if (n != nwant)
				fail_msg("%s: node %u: %u page types, the file has %u", fixtures[f],
					 obj->os_index, n, nwant);
			for (unsigned k = 0; k < n; k++) {
				assert_int_equal(got[k].node, obj->os_index);
				assert_int_equal(got[k].size, want[k].size);
				assert_int_equal(got[k].count, want[k].count);
			}
			seen += n;
			free(got);
		}
		assert_int_equal(seen, nxml);
		free(xml);
		free(text);
		tmap_topology_free(t);
	}
}

static void
put_file(const char *root, const char *dir, const char *value)
{
	char path[512], cmd[600];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/%s'", root, dir);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/%s/nr_hugepages", root, dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(value, f);
	assert_int_equal(fclose(f), 0);
}

/* The pools of a sysfs tree, read as hwloc 3.0 does not: per node, or the machine's on a
 * kernel without NUMA; a size whose count cannot be read is no pool. */
static void
sysfs_page_types_of_a_tree(void **state)
{
	char root[] = "/tmp/topomap-test-sysfs-XXXXXX", cmd[64];
	uint64_t base = (uint64_t)sysconf(_SC_PAGESIZE);
	struct topo_page_type *v = NULL;
	unsigned n = 0;

	assert_non_null(mkdtemp(root));
	put_file(root, "devices/system/node/node1/hugepages/hugepages-1048576kB", "2\n");
	put_file(root, "devices/system/node/node1/hugepages/hugepages-2048kB", "16\n");
	put_file(root, "devices/system/node/node1/hugepages/hugepages-64kB", "x\n");
	put_file(root, "devices/system/node/node1/hugepages/hugepages-kB", "3\n");
	put_file(root, "kernel/mm/hugepages/hugepages-2048kB", "5\n");

	assert_int_equal(sysfs_page_types(root, 1, &v, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(v[0].size, base);
	assert_int_equal(v[0].count, 0);
	assert_int_equal(v[1].size, 2048 << 10);
	assert_int_equal(v[1].count, 16);
	assert_int_equal(v[2].size, 1ull << 30);
	assert_int_equal(v[2].count, 2);
	for (unsigned k = 0; k < n; k++)
		assert_int_equal(v[k].node, 1);
	free(v);

	/* No node directory: node 0 is the whole machine, another node has the base page. */
	assert_int_equal(sysfs_page_types(root, 0, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(v[1].size, 2048 << 10);
	assert_int_equal(v[1].count, 5);
	free(v);
	assert_int_equal(sysfs_page_types(root, 2, &v, &n), 0);
	assert_int_equal(n, 1);
	free(v);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

/* This machine's pools: under hwloc 2.x, hwloc's page_types are what the sysfs reader that
 * hwloc 3.0 needs reads (the base page's count aside: hwloc counts what is left of it). */
static void
live_page_types_as_sysfs(void **state)
{
	struct tmap_topology *t = test_topology("live");
	uint64_t base = (uint64_t)sysconf(_SC_PAGESIZE);
	hwloc_obj_t obj = NULL;

	while ((obj = hwloc_get_next_obj_by_type(t->hw, HWLOC_OBJ_NUMANODE, obj))) {
		struct topo_page_type *got = NULL, *want = NULL;
		unsigned ngot = 0, nwant = 0, g = 0, w = 0;

		assert_int_equal(node_page_types(t, obj, &got, &ngot), 0);
		assert_int_equal(sysfs_page_types("/sys", obj->os_index, &want, &nwant), 0);
		for (;; g++, w++) {
			while (g < ngot && got[g].size == base)
				g++;
			while (w < nwant && want[w].size == base)
				w++;
			if (g == ngot || w == nwant)
				break;
			assert_int_equal(got[g].size, want[w].size);
			assert_int_equal(got[g].count, want[w].count);
		}
		assert_int_equal(g, ngot);
		assert_int_equal(w, nwant);
		free(got);
		free(want);
	}
	tmap_topology_free(t);
}

/* A host file hwloc 3 wrote in its own format (<pci_locality> elements, no page counts), from
 * dev-2s-sriov.xml: under hwloc 3, the same host as the 2.x file; under 2.x, refused for an
 * element hwloc 2.9 does not know, before hwloc reads it. */
static void
xml_written_by_hwloc3(void **state)
{
	struct tmap_topology *v2 = test_topology(test_data("dev-2s-sriov.xml")), *v3 = NULL;
	struct tmap_error err = {0};
	char *a = NULL, *b = NULL;
	int r = tmap_topology_new_xml(test_data("dev-2s-sriov-hwloc3.xml"), 0, &v3, &err);

	if (HWLOC_READS_XML_3) {
		if (r < 0)
			fail_msg("%s", err.message);
		assert_int_equal(tmap_topology_format(v2, TMAP_FORMAT_JSON, 0, &a, &err), 0);
		assert_int_equal(tmap_topology_format(v3, TMAP_FORMAT_JSON, 0, &b, &err), 0);
		assert_string_equal(a, b);
		assert_int_equal(v3->ndevices, 12);
	} else {
		assert_int_equal(r, -EINVAL);
		assert_non_null(strstr(err.message, "unknown element <pci_locality>"));
	}
	free(a);
	free(b);
	tmap_topology_free(v2);
	tmap_topology_free(v3);
}

/* The JSON host's pools come on top of memory_mib, and a node may lack a size. */
static void
json_hugepage_pools(void **state)
{
	static const char host[] =
		"{\"nodes\":[{\"id\":0,\"memory_mib\":4096,\"cores\":[[0],[1]],"
		"\"hugepages\":[{\"size_kib\":1048576,\"count\":2},{\"size_kib\":2048,\"count\":8}]},"
		"{\"id\":1,\"memory_mib\":2048,\"cores\":[[2]]}]}";
	struct tmap_topology *t = NULL;
	struct tmap_error err = {0};

	if (tmap_topology_new_from_json(host, strlen(host), "h.json", &t, &err) < 0)
		fail_msg("%s", err.message);
	assert_int_equal(t->npage_sizes, 2);
	expect_pool(t, 0, 0, 2048, 8);
	expect_pool(t, 0, 1, 1048576, 2);
	expect_pool(t, 1, 0, 2048, 0);
	expect_pool(t, 1, 1, 1048576, 0);
	assert_int_equal(tmap_topology_node_memory_mib(t, 0), 4096);
	assert_int_equal(tmap_topology_node_memory_mib(t, 1), 2048);
	/* What hwloc sees: MemTotal with the pools in it. */
	assert_int_equal(hwloc_get_obj_by_type(t->hw, HWLOC_OBJ_NUMANODE, 0)->attr->numanode.local_memory,
			 (UINT64_C(4096) << 20) + (UINT64_C(2) << 30) + (UINT64_C(8) << 21));
	tmap_topology_free(t);
}

/* A node in no package ("socket": null), one over two packages ("core_sockets"), and one in
 * a package, as libvirt reports NUMA off on two sockets beside a socket of its own. */
static void
json_nodes_in_no_package(void **state)
{
	static const char host[] =
		"{\"nodes\":[{\"id\":0,\"memory_mib\":1024,\"socket\":null,"
		"\"cores\":[[0,4],[1,5],[2]],\"core_sockets\":[0,1,1]},"
		"{\"id\":1,\"memory_mib\":512,\"socket\":2,\"cores\":[[3]]},"
		"{\"id\":2,\"memory_mib\":256,\"socket\":null,\"cores\":[[6]]}]}";
	struct tmap_topology *t = NULL;
	struct tmap_error err = {0};
	char *table = NULL;

	if (tmap_topology_new_from_json(host, strlen(host), "h.json", &t, &err) < 0 ||
	    tmap_topology_format(t, TMAP_FORMAT_TABLE, 0, &table, &err) < 0)
		fail_msg("%s", err.message);
	assert_non_null(strstr(table, "3 packages, 3 NUMA nodes, 5 cores, 7 PUs"));
	assert_non_null(strstr(table, "node 0: cpus 0-2,4-5 (5), memory 1024 MiB\n"));
	assert_non_null(strstr(table, "node 1: cpus 3 (1), memory 512 MiB, package 2\n"));
	assert_non_null(strstr(table, "node 2: cpus 6 (1), memory 256 MiB\n"));
	assert_non_null(strstr(table, "cores (siblings): 0,4 1,5 2\n"));
	assert_int_equal(t->cores[t->pu_core[0]].package, 0);
	assert_int_equal(t->cores[t->pu_core[5]].package, 1);
	assert_int_equal(t->cores[t->pu_core[2]].package, 1);
	assert_int_equal(t->cores[t->pu_core[6]].package, -1);
	free(table);
	tmap_topology_free(t);
}

static void
json_bad_hosts(void **state)
{
	static const struct {
		const char *json, *needle;
	} bad[] = {
		{"[]", "an object with a \"nodes\" array"},
		{"{\"nodes\":[]}", "1 to 1024 nodes, not 0"},
		{"{\"nodes\":[{\"id\":0,\"memory_mib\":1}]}", "has no PU"},
		{"{\"nodes\":[{\"id\":0,\"memory_mib\":1,\"cores\":[[0],[0]]}]}", "PU 0 appears twice"},
		{"{\"nodes\":[{\"id\":0,\"memory_mib\":1,\"cores\":[[0]]},{\"id\":0,\"memory_mib\":1,\"cores\":[[1]]}]}",
		 "node id 0 appears twice"},
		{"{\"nodes\":[{\"id\":0,\"cores\":[[0]]}]}", "nodes[0].memory_mib is not an integer"},
		{"{\"nodes\":[{\"id\":0,\"memory_mib\":1,\"cores\":[[]]}]}", "nodes[0].cores[0] is not a list"},
		{"{\"nodes\":[{\"id\":0,\"memory_mib\":1,\"cores\":[[0]]}],\"distances\":[[10,20]]}",
		 "distances must be a 1 x 1 matrix"},
		{"{\"nodes\":[{\"id\":0,\"memory_mib\":1,\"cores\":[[-1]]}]}", "nodes[0].cores[0][0] -1 is out of range"},
		{"{\"nodes\":", "invalid JSON"},
		{"null", "expected an object with a \"nodes\" array, got null"},
		{"{\"nodes\":[{\"id\":0,\"memory_mib\":4294967297,\"cores\":[[0]]}]}",
		 "nodes[0].memory_mib 4294967297 is out of range"},
		{"{\"nodes\":[{\"id\":0,\"memory_mib\":1,\"cores\":[[0]],\"hugepages\":[{\"size_kib\":1048576,\"count\":4194305}]}]}",
		 "nodes[0].hugepages[0].count 4194305 is out of range"},
		{"{\"nodes\":[{\"id\":0,\"id\":1,\"memory_mib\":1,\"cores\":[[0]]}]}",
		 "key \"id\" appears twice"},
		{"{\"nodes\":[{\"id\":0,\"memory_mib\":1,\"cores\":[[0]]}],\"distances\":null,\"distances\":[[10]]}",
		 "key \"distances\" appears twice"},
		{"{\"nodes\":[{\"id\":0,\"memory_mib\":1,\"cores\":[[0]],\"hugepages\":{}}]}",
		 "nodes[0].hugepages is not an array"},
		{"{\"nodes\":[{\"id\":0,\"memory_mib\":1,\"cores\":[[0]],\"hugepages\":[{\"size_kib\":3000,\"count\":1}]}]}",
		 "nodes[0].hugepages[0].size_kib 3000 is not a page size"},
		{"{\"nodes\":[{\"id\":0,\"memory_mib\":1,\"cores\":[[0]],\"hugepages\":[{\"size_kib\":2048}]}]}",
		 "nodes[0].hugepages[0].count is not an integer"},
		{"{\"nodes\":[{\"id\":0,\"memory_mib\":1,\"cores\":[[0]],\"hugepages\":[{\"size_kib\":2048,\"count\":1},{\"size_kib\":2048,\"count\":2}]}]}",
		 "nodes[0].hugepages[1].size_kib 2048 appears twice"},
		{"{\"nodes\":[{\"id\":0,\"memory_mib\":1,\"socket\":0,\"cores\":[[0]],\"core_sockets\":[0]}]}",
		 "nodes[0].core_sockets is not one package per core of a node whose socket is null"},
		{"{\"nodes\":[{\"id\":0,\"memory_mib\":1,\"socket\":null,\"cores\":[[0],[1]],\"core_sockets\":[0]}]}",
		 "nodes[0].core_sockets is not one package per core"},
		{"{\"nodes\":[{\"id\":0,\"memory_mib\":1,\"socket\":null,\"cores\":[[0],[1]],\"core_sockets\":[0,1]},"
		 "{\"id\":1,\"memory_mib\":1,\"socket\":1,\"cores\":[[2]]}]}",
		 "nodes[0].core_sockets: package 1 holds cores of another node too"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct tmap_topology *t = NULL;
		struct tmap_error err = {0};

		assert_int_equal(tmap_topology_new_from_json(bad[i].json, strlen(bad[i].json), "h.json",
							     &t, &err),
				 -EINVAL);
		assert_null(t);
		if (!strstr(err.message, bad[i].needle) || strncmp(err.message, "h.json: ", 8))
			fail_msg("'%s' lacks '%s'", err.message, bad[i].needle);
	}
}

/* A JSON host of n nodes, one PU each, with a distance matrix. */
static char *
many_nodes(unsigned n)
{
	char *json = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&json, &len);

	assert_non_null(f);
	fputs("{\"nodes\":[", f);
	for (unsigned i = 0; i < n; i++)
		fprintf(f, "%s{\"id\":%u,\"memory_mib\":64,\"socket\":%u,\"cores\":[[%u]]}",
			i ? "," : "", i % 1024, i / 64, i);
	fputs("],\"distances\":[", f);
	for (unsigned i = 0; i < n; i++) {
		fprintf(f, "%s[", i ? "," : "");
		for (unsigned j = 0; j < n; j++)
			fprintf(f, "%s%u", j ? "," : "", i == j ? 10 : 20);
		fputs("]", f);
	}
	fputs("]}", f);
	assert_int_equal(fclose(f), 0);
	return json;
}

/* Issue 14: over 1,024 nodes crashed in desc_clear(); Linux's most (1,024) loads. */
static void
json_node_limit(void **state)
{
	struct tmap_topology *t = NULL;
	struct tmap_error err = {0};
	char *json = many_nodes(1025);

	assert_int_equal(tmap_topology_new_from_json(json, strlen(json), "big.json", &t, &err),
			 -EINVAL);
	assert_null(t);
	assert_string_equal(err.message, "big.json: a host has 1 to 1024 nodes, not 1025");
	free(json);
	json = many_nodes(1024);
	assert_int_equal(tmap_topology_new_from_json(json, strlen(json), "big.json", &t, &err), 0);
	assert_int_equal(tmap_topology_node_count(t), 1024);
	assert_int_equal(tmap_topology_distance(t, 1023, 0), 20);
	tmap_topology_free(t);
	free(json);
}

/* Issue 21: a synthetic host without (memory=...) gets hwloc's 1 GiB per node; the host says
 * so in one warning, and a plan on it in its header. With memory given, nothing is said. */
static void
synthetic_memory_assumed(void **state)
{
	static const char *const hosts[] = {"pack:2 core:2 pu:2",
					    "pack:2 numa:1(memory=2GiB) core:2 pu:2"};
	(void)state;

	for (int given = 0; given < 2; given++) {
		struct tmap_topology *t = NULL;
		struct tmap_guests *g = test_guests("{\"name\":\"a\",\"vcpus\":1}");
		struct tmap_plan *p = NULL;
		char *text = NULL;

		assert_int_equal(tmap_topology_new_synthetic(hosts[given], 0, &t, NULL), 0);
		assert_int_equal(tmap_topology_warning_count(t), given ? 0 : 1);
		if (!given)
			assert_non_null(strstr(tmap_topology_warning(t, 0),
					       "without (memory=...): hwloc gives each NUMA node 1 GiB"));
		p = test_solve(t, g, NULL);
		assert_int_equal(tmap_plan_format(p, TMAP_FORMAT_TABLE, 0, &text, NULL), 0);
		/* The header: the host line, then the warning line or the first guest. */
		assert_true(strncmp(strchr(text, '\n') + 1, "warning: synthetic host without",
				    31) == 0 ? !given : given);
		free(text);
		tmap_plan_free(p);
		tmap_guests_free(g);
		tmap_topology_free(t);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(synthetic_siblings_far_apart),
		cmocka_unit_test(xml_intel_two_sockets),
		cmocka_unit_test(xml_memory_only_node),
		cmocka_unit_test(xml_offline_pus_and_uneven_nodes),
		cmocka_unit_test(live_host_loads),
		cmocka_unit_test(bad_sources),
		cmocka_unit_test(json_shape),
		cmocka_unit_test(json_round_trip),
		cmocka_unit_test(xml_hugepage_pools),
		cmocka_unit_test(json_hugepage_pools),
		cmocka_unit_test(xml_page_types_as_hwloc),
		cmocka_unit_test(sysfs_page_types_of_a_tree),
		cmocka_unit_test(live_page_types_as_sysfs),
		cmocka_unit_test(xml_written_by_hwloc3),
		cmocka_unit_test(json_nodes_in_no_package), cmocka_unit_test(json_bad_hosts),
		cmocka_unit_test(json_node_limit),
		cmocka_unit_test(synthetic_memory_assumed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
