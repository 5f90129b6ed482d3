/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Devices in the host model (issue 16): the PCI devices hwloc keeps, with their class, ids,
 * OS names, SR-IOV PF, root complex and locality (unknown kept and said so), from hwloc XML
 * fixtures made by tests/data/make-dev-fixtures.py and from the JSON host form, both ways.
 */
#include "testlib.h"

static struct tmap_device_info
device_named(const struct tmap_topology *t, const char *pci)
{
	struct tmap_device_info info = TMAP_DEVICE_INFO_INIT;

	for (size_t i = 0; i < tmap_topology_device_count(t); i++) {
		assert_int_equal(tmap_topology_device(t, i, &info), 0);
		if (streq(info.pci, pci))
			return info;
	}
	fail_msg("no device %s", pci);
	return info;
}

static void
test_fixture_devices(void **state)
{
	struct tmap_topology *t = test_topology(test_data("dev-2s-sriov.xml"));
	struct tmap_device_info info = TMAP_DEVICE_INFO_INIT, small = {.size = 4};

	(void)state;
	assert_int_equal(tmap_topology_device_count(t), 12);
	info = device_named(t, "0000:3b:00.0");
	assert_string_equal(info.device_class, "network");
	assert_string_equal(info.names, "eth2");
	assert_int_equal(info.vendor_id, 0x8086);
	assert_int_equal(info.device_id, 0x1572);
	assert_null(info.physfn);
	assert_string_equal(info.root, "0000:[3a-3b]");
	assert_int_equal(info.node, 0);
	assert_true(info.locality_known);
	assert_string_equal(info.cpus, "0-7");

	info = device_named(t, "0000:86:02.1");
	assert_string_equal(info.physfn, "0000:86:00.0");
	assert_string_equal(info.names, "eth3v1");
	assert_int_equal(info.node, 1);

	info = device_named(t, "0000:af:00.0");
	assert_string_equal(info.device_class, "gpu");
	assert_int_equal(info.node, 1);
	info = device_named(t, "0000:86:00.1");
	assert_string_equal(info.device_class, "storage");
	assert_string_equal(info.names, "nvme0n1");

	/* numa_node -1: kept, and said to be unknown */
	info = device_named(t, "0000:00:1f.6");
	assert_false(info.locality_known);
	assert_int_equal(info.node, -1);
	assert_string_equal(info.nodes, "0-1");

	assert_int_equal(tmap_topology_device(t, 12, &info), -ENOENT);
	assert_int_equal(tmap_topology_device(t, 0, &small), -EINVAL);
	assert_int_equal(tmap_topology_device(NULL, 0, &info), -EINVAL);
	tmap_topology_free(t);
}

/* A node that shares its locality with a CPU-less node: the device is on the node with PUs. */
static void
test_cpuless_beside_device(void **state)
{
	struct tmap_topology *t = test_topology(test_data("dev-4n-cpuless.xml"));
	struct tmap_device_info info;

	(void)state;
	info = device_named(t, "0000:91:00.0");
	assert_string_equal(info.nodes, "3-4");
	assert_int_equal(info.node, 3);
	assert_true(info.locality_known);
	info = device_named(t, "0000:41:00.0");
	assert_int_equal(info.node, 1);
	assert_string_equal(info.root, "0000:[40-41]");
	tmap_topology_free(t);
}

static void
test_synthetic_has_none(void **state)
{
	struct tmap_topology *t = test_topology("synthetic:pack:2 numa:1 core:2 pu:2");

	(void)state;
	assert_int_equal(tmap_topology_device_count(t), 0);
	assert_int_equal(tmap_topology_device_count(NULL), 0);
	tmap_topology_free(t);
}

static char *
format(const struct tmap_topology *t, enum tmap_format f)
{
	struct tmap_error err = {0};
	char *out = NULL;

	if (tmap_topology_format(t, f, 0, &out, &err) < 0)
		fail_msg("%s", err.message);
	return out;
}

/* The JSON host form carries the devices: what it prints reads back to the same host (the
 * table says the same; a node's memory-only neighbour is not in a device's JSON locality, so
 * the JSON is the same from its first reading on). */
static void
test_json_round_trip(void **state)
{
	const char *fixtures[] = {"dev-2s-sriov.xml", "dev-4n-cpuless.xml"};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(fixtures); i++) {
		struct tmap_topology *t = test_topology(test_data(fixtures[i])), *back = NULL;
		struct tmap_error err = {0};
		char *json = format(t, TMAP_FORMAT_JSON), *json2, *table, *table2;

		assert_non_null(strstr(json, "\"devices\":[{\"pci\":"));
		if (tmap_topology_new_from_json(json, strlen(json), "back.json", &back, &err) < 0)
			fail_msg("%s", err.message);
		json2 = format(back, TMAP_FORMAT_JSON);
		tmap_topology_free(back);
		back = NULL;
		if (tmap_topology_new_from_json(json2, strlen(json2), "back.json", &back, &err) < 0)
			fail_msg("%s", err.message);
		free(json);
		json = format(back, TMAP_FORMAT_JSON);
		assert_string_equal(json, json2);
		table = format(t, TMAP_FORMAT_TABLE);
		table2 = format(back, TMAP_FORMAT_TABLE);
		/* every device line (a memory-only node's package is not in the JSON form) */
		for (char *line = strtok(table, "\n"); line; line = strtok(NULL, "\n"))
			if (strstr(line, "0000:") && !strstr(table2, line))
				fail_msg("'%s' is lost in JSON", line);
		free(json);
		free(json2);
		free(table);
		free(table2);
		tmap_topology_free(back);
		tmap_topology_free(t);
	}
}

static void
expect_json_error(const char *json, const char *message)
{
	struct tmap_topology *t = NULL;
	struct tmap_error err = {0};

	assert_int_equal(tmap_topology_new_from_json(json, strlen(json), "h.json", &t, &err),
			 -EINVAL);
	assert_null(t);
	assert_string_equal(err.message, message);
}

static void
test_json_refusals(void **state)
{
	(void)state;
#define HOST(devs)                                                                              \
	"{\"nodes\":[{\"id\":0,\"memory_mib\":1024,\"cores\":[[0],[1]]},"                        \
	"{\"id\":1,\"memory_mib\":1024}],\"devices\":" devs "}"
	expect_json_error(HOST("[{\"pci\":\"3b:00.0\"}]"),
			  "h.json: devices[0].pci is not a PCI bus id such as \"0000:3b:00.0\"");
	expect_json_error(HOST("[{\"pci\":\"0000:3b:00.0\",\"class\":\"nic\"}]"),
			  "h.json: devices[0].class is not one of network, storage, gpu, other");
	expect_json_error(HOST("[{\"pci\":\"0000:3b:00.0\",\"node\":1}]"),
			  "h.json: devices[0].node 1 is not a node of this host");
	expect_json_error(HOST("[{\"pci\":\"0000:3b:00.0\"},{\"pci\":\"0000:3B:00.0\"}]"),
			  "h.json: devices[1].pci 0000:3b:00.0 appears twice");
	expect_json_error(HOST("[{\"pci\":\"0000:3b:00.0\",\"names\":[\"a b\"]}]"),
			  "h.json: devices[0].names[0] is not a device name such as \"eth2\"");
	expect_json_error(HOST("[{\"pci\":\"0000:3b:00.0\",\"root\":\"3a\"}]"),
			  "h.json: devices[0].root is not a root complex such as \"0000:[3a-3b]\"");
#undef HOST
}

/* The XML the library exports (for lstopo) keeps the devices and a VF's PF. */
static void
test_export_keeps_devices(void **state)
{
	struct tmap_topology *t = test_topology(test_data("dev-2s-sriov.xml")), *back = NULL;
	struct tmap_error err = {0};
	struct tmap_device_info info;
	char *xml = NULL;
	FILE *f;
	char path[] = "/tmp/topomap-dev-XXXXXX";
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(tmap_topology_export_xml(t, NULL, 0, &xml, &err), 0);
	f = fdopen(fd, "w");
	fputs(xml, f);
	fclose(f);
	back = test_topology(path);
	unlink(path);
	assert_int_equal(tmap_topology_device_count(back), 12);
	info = device_named(back, "0000:3b:02.3");
	assert_string_equal(info.physfn, "0000:3b:00.0");
	free(xml);
	tmap_topology_free(back);
	tmap_topology_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixture_devices),
		cmocka_unit_test(test_cpuless_beside_device),
		cmocka_unit_test(test_synthetic_has_none),
		cmocka_unit_test(test_json_round_trip),
		cmocka_unit_test(test_json_refusals),
		cmocka_unit_test(test_export_keeps_devices),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
