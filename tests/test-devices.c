/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Devices in the host model (issue 16): the PCI devices hwloc keeps, with their class, ids,
 * OS names, SR-IOV PF, root complex and locality (unknown kept and said so), from hwloc XML
 * fixtures made by tests/data/make-dev-fixtures.py and from the JSON host form, both ways.
 */
#include <unistd.h>

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


/* ------------------------------------------------------------------------------------- */
/* Placement next to devices */

static struct tmap_guest *
guest_with(const char *name, unsigned vcpus, unsigned cells, const char *const *devices)
{
	struct tmap_guest *g = NULL;
	struct tmap_error err = {0};

	assert_int_equal(tmap_guest_new(name, vcpus, &g, &err), 0);
	if (cells > 1)
		assert_int_equal(tmap_guest_set_cell_count(g, cells), 0);
	for (; devices && *devices; devices++)
		if (tmap_guest_add_device(g, *devices, &err) < 0)
			fail_msg("%s", err.message);
	return g;
}

static struct tmap_host *
host_of(const struct tmap_topology *t)
{
	struct tmap_host *h = NULL;
	struct tmap_error err = {0};

	if (tmap_host_new(t, NULL, &h, &err) < 0)
		fail_msg("%s", err.message);
	return h;
}

/* Place or fail with the message; the plan of the guest alone. */
static struct plan_guest *
place(struct tmap_host *h, struct tmap_guest *g, struct tmap_plan **plan)
{
	struct tmap_error err = {0};

	if (tmap_host_place(h, g, plan, &err) < 0)
		fail_msg("%s", err.message);
	return &(*plan)->guests[0];
}

static void
expect_refused(struct tmap_host *h, struct tmap_guest *g, const char *message)
{
	struct tmap_error err = {0};
	struct tmap_plan *plan = NULL;

	assert_int_equal(tmap_host_place(h, g, &plan, &err), -ENOSPC);
	assert_null(plan);
	assert_string_equal(err.message, message);
}

static void
test_required_anchors_cell(void **state)
{
	struct tmap_topology *t = test_topology(test_data("dev-2s-sriov.xml"));
	struct tmap_host *h = host_of(t);
	struct tmap_guest *g = guest_with("vm1", 4, 1, (const char *const[]){"net=eth3", NULL});
	struct tmap_guest *g2 = guest_with("vm2", 2, 2, (const char *const[]){
		"vf_of=0000:3b:00.0,cell=1", "class=gpu", NULL});
	struct tmap_plan *plan = NULL, *plan2 = NULL;
	struct plan_guest *pg;

	(void)state;
	pg = place(h, g, &plan);
	assert_int_equal(pg->cells[0].node, 1);
	assert_int_equal(pg->ndevices, 1);
	assert_string_equal(pg->devices[0].pci, "0000:86:00.0");
	assert_true(pg->devices[0].local);
	assert_non_null(strstr(pg->explain[0], "eth3 (0000:86:00.0)"));
	assert_non_null(strstr(pg->explain[0], "node 1"));

	/* two cells: cell 1 next to a VF of eth2 (node 0), cell 0 next to a free GPU: the GPU
	 * of node 1, since cell 1 holds node 0 */
	pg = place(h, g2, &plan2);
	assert_int_equal(pg->cells[1].node, 0);
	assert_int_equal(pg->cells[0].node, 1);
	assert_string_equal(pg->devices[0].pci, "0000:3b:02.0");
	assert_string_equal(pg->devices[1].pci, "0000:af:00.0");
	tmap_plan_free(plan);
	tmap_plan_free(plan2);
	tmap_guest_free(g);
	tmap_guest_free(g2);
	tmap_host_free(h);
	tmap_topology_free(t);
}

/* Refusals name the device and why. */
static void
test_refusals_say_why(void **state)
{
	struct tmap_topology *t = test_topology(test_data("dev-2s-sriov.xml"));
	struct tmap_host *h = host_of(t);
	struct tmap_guest *big = guest_with("big", 20, 1, (const char *const[]){"net=eth3", NULL});
	struct tmap_guest *far = guest_with("far", 2, 1, (const char *const[]){"net=eth0", NULL});
	struct tmap_guest *none = guest_with("none", 2, 1, (const char *const[]){"net=eth9", NULL});
	struct tmap_guest *a = guest_with("a", 2, 1, (const char *const[]){"pci=0000:17:00.0", NULL});
	struct tmap_guest *b = guest_with("b", 2, 1, (const char *const[]){"net=card0", NULL});
	struct tmap_guest *fill = guest_with("fill", 6, 1, (const char *const[]){"net=eth2", NULL});
	struct tmap_guest *vf = guest_with("vf", 2, 1, (const char *const[]){"vf_of=eth2", NULL});
	struct tmap_plan *p1 = NULL, *p2 = NULL;

	(void)state;
	expect_refused(h, big,
		       "big: eth3 (0000:86:00.0) is on node 1; node 1 has 8 free PUs and 32768 MiB; cell 0 needs 20 free PUs and 1024 MiB; spread from there, it does not fit either: all nodes together have 16 free PUs and 65536 MiB");
	expect_refused(h, far,
		       "far: net 'eth0': eth0 (0000:00:1f.6) has no known locality (numa_node -1), so policy 'required' cannot be met; use 'preferred'");
	expect_refused(h, none, "none: no device of this host is net 'eth9'");
	place(h, a, &p1);
	expect_refused(h, b, "b: net 'card0': card0 (0000:17:00.0) is held by another guest");
	/* node 0 is full after "a" (2) and "fill" (6) */
	place(h, fill, &p2);
	expect_refused(h, vf,
		       "vf: eth2v0 (0000:3b:02.0) is on node 0, eth2v1 (0000:3b:02.1) is on node 0, eth2v2 (0000:3b:02.2) is on node 0, eth2v3 (0000:3b:02.3) is on node 0; node 0 has 0 free PUs and 30720 MiB; cell 0 needs 2 free PUs and 1024 MiB");
	/* released, the device is free again */
	assert_int_equal(tmap_host_release(h, "a"), 0);
	tmap_plan_free(p1);
	p1 = NULL;
	place(h, b, &p1);
	tmap_plan_free(p1);
	tmap_plan_free(p2);
	tmap_guest_free(big);
	tmap_guest_free(far);
	tmap_guest_free(none);
	tmap_guest_free(a);
	tmap_guest_free(b);
	tmap_guest_free(fill);
	tmap_guest_free(vf);
	tmap_host_free(h);
	tmap_topology_free(t);
}

/* A guest without cells held next to a device, too wide for its node: spread as any other,
 * from the device's node, where cell 0 and the device stay; vcpus and memory in proportion. */
static void
test_anchored_spread(void **state)
{
	struct tmap_topology *t = test_topology(test_data("dev-2s-sriov.xml"));
	struct tmap_host *h = host_of(t);
	struct tmap_guest *g = guest_with("wide", 10, 1, (const char *const[]){"net=eth3", NULL});
	struct tmap_guest *p = guest_with("pref", 4, 1, (const char *const[]){"net=eth2,policy=preferred", NULL});
	struct tmap_plan *p1 = NULL, *p2 = NULL;
	struct plan_guest *pg;
	bool named = false;

	(void)state;
	pg = place(h, g, &p1);
	assert_true(pg->cells_proposed);
	assert_int_equal(pg->ncells, 2);
	assert_int_equal(pg->cells[0].node, 1);
	assert_int_equal(pg->cells[1].node, 0);
	assert_int_equal(pg->cells[0].memory_mib * 10,
			 (uint64_t)hwloc_bitmap_weight(pg->cells[0].vcpus) * 1024);
	assert_string_equal(pg->devices[0].pci, "0000:86:00.0");
	assert_int_equal(pg->devices[0].cell, 0);
	assert_true(pg->devices[0].local);
	for (unsigned i = 0; i < pg->nexplain; i++)
		named |= strstr(pg->explain[i], "eth3 (0000:86:00.0)") != NULL;
	assert_true(named);
	/* 3 PUs left on each node: a preferred device does not keep a guest from one node, nor from a
	 * spread that holds it when no node does */
	pg = place(h, p, &p2);
	assert_int_equal(pg->ncells, 2);
	assert_int_equal(pg->cells[0].node, 0);
	assert_true(pg->devices[0].local);
	tmap_plan_free(p1);
	tmap_plan_free(p2);
	tmap_guest_free(g);
	tmap_guest_free(p);
	tmap_host_free(h);
	tmap_topology_free(t);
}

/* preferred: local when it fits, elsewhere when not, and a device of unknown locality. */
static void
test_preferred(void **state)
{
	struct tmap_topology *t = test_topology(test_data("dev-2s-sriov.xml"));
	struct tmap_host *h = host_of(t);
	struct tmap_guest *g = guest_with("g", 6, 1, (const char *const[]){"net=eth3,policy=preferred", NULL});
	struct tmap_guest *g2 = guest_with("g2", 6, 1, (const char *const[]){"class=storage,policy=preferred", NULL});
	struct tmap_guest *g3 = guest_with("g3", 1, 1, (const char *const[]){"net=eth0,policy=preferred", NULL});
	struct tmap_plan *p1 = NULL, *p2 = NULL, *p3 = NULL;
	struct plan_guest *pg;

	(void)state;
	pg = place(h, g, &p1);
	assert_int_equal(pg->cells[0].node, 1);
	assert_true(pg->devices[0].local);
	pg = place(h, g2, &p2);
	assert_int_equal(pg->cells[0].node, 0);
	assert_string_equal(pg->devices[0].pci, "0000:86:00.1");
	assert_false(pg->devices[0].local);
	assert_non_null(strstr(pg->explain[0], "which could not take cell 0"));
	pg = place(h, g3, &p3);
	assert_int_equal(pg->devices[0].node, -1);
	assert_non_null(strstr(pg->explain[0], "locality is unknown"));
	tmap_plan_free(p1);
	tmap_plan_free(p2);
	tmap_plan_free(p3);
	tmap_guest_free(g);
	tmap_guest_free(g2);
	tmap_guest_free(g3);
	tmap_host_free(h);
	tmap_topology_free(t);
}

/* socket: any node of the device's package; root: the nodes of its root complex. */
static void
test_socket_and_root(void **state)
{
	struct tmap_topology *t = test_topology(test_data("dev-4n-cpuless.xml"));
	struct tmap_host *h = host_of(t);
	struct tmap_guest *fill = guest_with("fill", 8, 1, (const char *const[]){"pci=0000:81:00.0", NULL});
	struct tmap_guest *s = guest_with("s", 4, 1, (const char *const[]){"class=gpu,policy=socket", NULL});
	struct tmap_guest *r = guest_with("r", 4, 1, (const char *const[]){"net=eth4,policy=root", NULL});
	struct tmap_plan *p1 = NULL, *p2 = NULL, *p3 = NULL;
	struct plan_guest *pg;

	(void)state;
	pg = place(h, fill, &p1);
	assert_int_equal(pg->cells[0].node, 2);
	pg = place(h, s, &p2);
	/* the GPU of node 0 (node 2's is held): node 0 or 1, package 0 */
	assert_string_equal(pg->devices[0].pci, "0000:11:00.0");
	assert_true(pg->cells[0].node == 0 || pg->cells[0].node == 1);
	pg = place(h, r, &p3);
	/* eth4 is local to node 3 and the CXL node 4: the cell on node 3 */
	assert_int_equal(pg->cells[0].node, 3);
	tmap_plan_free(p1);
	tmap_plan_free(p2);
	tmap_plan_free(p3);
	tmap_guest_free(fill);
	tmap_guest_free(s);
	tmap_guest_free(r);
	tmap_host_free(h);
	tmap_topology_free(t);
}

/* A device held stays held through the state file, and is freed by release. */
static void
test_state_keeps_devices(void **state)
{
	struct tmap_topology *t = test_topology(test_data("dev-2s-sriov.xml"));
	struct tmap_host *h = host_of(t), *h2 = NULL;
	struct tmap_guest *g = guest_with("g", 2, 1, (const char *const[]){"net=eth2v1", NULL});
	struct tmap_guest *again = guest_with("again", 1, 1, (const char *const[]){"pci=0000:3b:02.1", NULL});
	struct tmap_state *st = NULL;
	struct tmap_error err = {0};
	struct tmap_plan *p = NULL;
	char path[] = "/tmp/topomap-dev-state-XXXXXX";
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	place(h, g, &p);
	tmap_plan_free(p);
	p = NULL;
	if (tmap_state_open(path, TMAP_STATE_WRITE, &st, &err) < 0 ||
	    tmap_state_save(st, h, &err) < 0)
		fail_msg("%s", err.message);
	tmap_state_close(st);
	h2 = host_of(t);
	if (tmap_state_open(path, 0, &st, &err) < 0 || tmap_state_load(st, h2, &err) < 0)
		fail_msg("%s", err.message);
	tmap_state_close(st);
	expect_refused(h2, again,
		       "again: pci '0000:3b:02.1': eth2v1 (0000:3b:02.1) is held by another guest");
	if (tmap_host_guest_plan(h2, "g", &p, &err) < 0)
		fail_msg("%s", err.message);
	assert_int_equal(p->guests[0].ndevices, 1);
	assert_string_equal(p->guests[0].devices[0].pci, "0000:3b:02.1");
	tmap_plan_free(p);
	p = NULL;
	assert_int_equal(tmap_host_release(h2, "g"), 0);
	place(h2, again, &p);
	tmap_plan_free(p);
	unlink(path);
	{
		char lock[64];

		snprintf(lock, sizeof(lock), "%s.lock", path);
		unlink(lock);
	}
	tmap_guest_free(g);
	tmap_guest_free(again);
	tmap_host_free(h);
	tmap_host_free(h2);
	tmap_topology_free(t);
}

static void
test_spec_refusals(void **state)
{
	struct tmap_guests *gs = NULL;
	struct tmap_guest *g = NULL;
	struct tmap_error err = {0};
	static const struct {
		const char *json, *message;
	} bad[] = {
		{"{\"name\":\"v\",\"vcpus\":2,\"devices\":[{\"nic\":\"eth2\"}]}",
		 "x.json: guest 'v': field 'devices': [0]: unknown key 'nic' (pci, net, vf_of, class, policy, cell)"},
		{"{\"name\":\"v\",\"vcpus\":2,\"devices\":[{\"net\":\"eth2\",\"pci\":\"0000:3b:00.0\"}]}",
		 "x.json: guest 'v': field 'devices': [0] names two devices ('net' and 'pci')"},
		{"{\"name\":\"v\",\"vcpus\":2,\"devices\":[{\"class\":\"nic\"}]}",
		 "x.json: guest 'v': field 'devices': [0].class is not one of network, storage, gpu, other"},
		{"{\"name\":\"v\",\"vcpus\":2,\"devices\":[{\"net\":\"eth2\",\"policy\":\"near\"}]}",
		 "x.json: guest 'v': field 'devices': [0].policy is not one of required, root, socket, preferred"},
		{"{\"name\":\"v\",\"vcpus\":2,\"devices\":[{\"net\":\"eth2\",\"cell\":1}]}",
		 "x.json: guest 'v': field 'devices': net 'eth2' is for cell 1; the guest has 1 cell"},
		{"{\"name\":\"v\",\"vcpus\":2,\"devices\":[{\"policy\":\"root\"}]}",
		 "x.json: guest 'v': field 'devices': [0] names no device: give one of pci=BUS_ID, net=NAME, vf_of=PF (name or bus id), class=network|storage|gpu|other"},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(tmap_guests_new(&gs), 0);
		assert_int_equal(tmap_guests_parse_json(gs, bad[i].json, strlen(bad[i].json),
							"x.json", &err),
				 -EINVAL);
		assert_string_equal(err.message, bad[i].message);
		tmap_guests_free(gs);
	}
	assert_int_equal(tmap_guest_new("v", 2, &g, &err), 0);
	assert_int_equal(tmap_guest_add_device(g, "net=eth2,policy=root,cell=0", &err), 0);
	assert_int_equal(tmap_guest_add_device(g, "net=eth2,cell=x", &err), -EINVAL);
	assert_int_equal(tmap_guest_add_device(g, "policy=root", &err), -EINVAL);
	assert_int_equal(tmap_guest_device_count(g), 1);
	tmap_guest_free(g);
}

/* --format qemu: each device as vfio-pci behind a root port of a pxb-pcie on its cell. */
static void
test_qemu_format(void **state)
{
	struct tmap_topology *t = test_topology(test_data("dev-2s-sriov.xml"));
	struct tmap_guests *gs = test_guests(
		"{\"name\": \"nf\", \"vcpus\": 4, \"cells\": [{\"cpus\": \"0-1\"}, {\"cpus\": \"2-3\"}],"
		" \"devices\": [{\"net\": \"eth3\", \"cell\": 1}, {\"vf_of\": \"eth2\"}]}");
	struct tmap_plan *plan = test_solve(t, gs, NULL);
	struct tmap_error err = {0};
	char *text = NULL;

	(void)state;
	if (tmap_plan_format(plan, TMAP_FORMAT_QEMU, 0, &text, &err) < 0)
		fail_msg("%s", err.message);
	assert_non_null(strstr(text, "-device pxb-pcie,id=pxb0,bus_nr=128,numa_node=0,bus=pcie.0\n"
				     "-device pcie-root-port,id=rp0,bus=pxb0,chassis=128,slot=0\n"
				     "-device vfio-pci,id=hostdev0,host=0000:3b:02.0,bus=rp0\n"));
	assert_non_null(strstr(text, "-device pxb-pcie,id=pxb1,bus_nr=144,numa_node=1,bus=pcie.0\n"
				     "-device pcie-root-port,id=rp1,bus=pxb1,chassis=129,slot=0\n"
				     "-device vfio-pci,id=hostdev1,host=0000:86:00.0,bus=rp1\n"));
	free(text);
	tmap_plan_free(plan);
	tmap_guests_free(gs);
	tmap_topology_free(t);
}

/* The nested test guest's own hwloc XML (tests/vm/vm-devices.sh, machine q35): a virtio-net
 * behind a pxb-pcie expander on node 1, an NVMe behind one on node 0, a virtio-net on the root
 * bus with numa_node -1. */
static void
test_nested_guest_fixture(void **state)
{
	struct tmap_topology *t = test_topology(test_data("dev-vm-guest.xml"));
	struct tmap_host *h = host_of(t);
	struct tmap_guest *g = guest_with("nf", 2, 1, (const char *const[]){"pci=0000:41:00.0", NULL});
	struct tmap_guest *far = guest_with("far", 1, 1, (const char *const[]){"pci=0000:00:03.0", NULL});
	struct tmap_guest *st = guest_with("st", 2, 1, (const char *const[]){"pci=0000:21:00.0", NULL});
	struct tmap_device_info info;
	struct tmap_plan *plan = NULL, *plan_st = NULL;
	struct plan_guest *pg;

	(void)state;
	tmap_guest_set_memory_mib(g, 256);
	tmap_guest_set_memory_mib(far, 256);
	tmap_guest_set_memory_mib(st, 256);
	info = device_named(t, "0000:41:00.0");
	assert_int_equal(info.node, 1);
	assert_string_equal(info.root, "0000:[40-41]");
	assert_string_equal(info.cpus, "2-3");
	info = device_named(t, "0000:21:00.0");
	assert_int_equal(info.node, 0);
	assert_string_equal(info.root, "0000:[20-21]");
	assert_string_equal(info.cpus, "0-1");
	info = device_named(t, "0000:00:03.0");
	assert_false(info.locality_known);
	pg = place(h, g, &plan);
	assert_int_equal(pg->cells[0].node, 1);
	assert_string_equal(pg->cells[0].pus_list, "2-3");
	pg = place(h, st, &plan_st);
	assert_int_equal(pg->cells[0].node, 0);
	assert_string_equal(pg->cells[0].pus_list, "0-1");
	expect_refused(h, far,
		       "far: pci '0000:00:03.0': 0000:00:03.0 has no known locality (numa_node -1), so policy 'required' cannot be met; use 'preferred'");
	tmap_plan_free(plan);
	tmap_plan_free(plan_st);
	tmap_guest_free(g);
	tmap_guest_free(far);
	tmap_guest_free(st);
	tmap_host_free(h);
	tmap_topology_free(t);
}

/* Two equal nodes of 4 PUs and one NIC, eth0, on node `nic` alone. */
static struct tmap_topology *
one_nic_host(unsigned nic)
{
	static const char fmt[] =
		"{\"nodes\":[{\"id\":0,\"memory_mib\":4096,\"cpus\":\"0-3\",\"package\":0,"
		"\"cores\":[[0],[1],[2],[3]]},"
		"{\"id\":1,\"memory_mib\":4096,\"cpus\":\"4-7\",\"package\":1,"
		"\"cores\":[[4],[5],[6],[7]]}],"
		"\"devices\":[{\"pci\":\"0000:%02x:00.0\",\"class\":\"network\",\"vendor\":\"8086\","
		"\"device\":\"1572\",\"names\":[\"eth0\"],\"root\":\"0000:[%02x-%02x]\","
		"\"node\":%u,\"locality\":\"known\",\"nodes\":\"%u\",\"cpus\":\"%s\"}],"
		"\"distances\":[[10,21],[21,10]]}";
	struct tmap_topology *t = NULL;
	struct tmap_error err = {0};
	unsigned bus = nic ? 0x86 : 0x3b;
	char json[1024];
	int len = snprintf(json, sizeof(json), fmt, bus, bus - 1, bus, nic, nic, nic ? "4-7" : "0-3");

	assert_true(len > 0 && (size_t)len < sizeof(json));
	if (tmap_topology_new_from_json(json, (size_t)len, "one-nic.json", &t, &err) < 0)
		fail_msg("%s", err.message);
	return t;
}

/* Among equal nodes, a guest that asks for no device takes the one with fewer free devices:
 * the NIC's node stays whole for a guest that needs the NIC and most of its node, whichever
 * node holds the NIC (node 0 is the one plain node order would have given away). */
static void
test_deviceless_spares_device_node(void **state)
{
	(void)state;
	for (unsigned nic = 0; nic < 2; nic++) {
		struct tmap_topology *t = one_nic_host(nic);
		struct tmap_host *h = host_of(t);
		struct tmap_guest *small = guest_with("small", 1, 1, NULL);
		struct tmap_guest *nf = guest_with("nf", 4, 1, (const char *const[]){"net=eth0", NULL});
		struct tmap_plan *p1 = NULL, *p2 = NULL;
		struct plan_guest *pg;

		tmap_guest_set_memory_mib(small, 256);
		tmap_guest_set_memory_mib(nf, 256);
		pg = place(h, small, &p1);
		assert_int_equal(pg->cells[0].node, 1 - (int)nic);
		pg = place(h, nf, &p2);
		assert_int_equal(pg->ncells, 1);
		assert_int_equal(pg->cells[0].node, nic);
		assert_string_equal(pg->cells[0].pus_list, nic ? "4-7" : "0-3");
		tmap_plan_free(p1);
		tmap_plan_free(p2);
		tmap_guest_free(small);
		tmap_guest_free(nf);
		tmap_host_free(h);
		tmap_topology_free(t);
	}
}

/* Applying a guest again: the same devices keep it where it is; a device it did not ask for
 * before places it anew, next to that device, and the old one is free again. */
static void
test_place_again_with_devices(void **state)
{
	struct tmap_topology *t = test_topology(test_data("dev-2s-sriov.xml"));
	struct tmap_host *h = host_of(t);
	struct tmap_guest *g = guest_with("g", 2, 1, (const char *const[]){"net=eth2", NULL});
	struct tmap_guest *moved = guest_with("g", 2, 1, (const char *const[]){"net=eth3", NULL});
	struct tmap_guest *other = guest_with("o", 1, 1, (const char *const[]){"net=eth2", NULL});
	struct tmap_plan *p1 = NULL, *p2 = NULL, *p3 = NULL, *p4 = NULL;
	struct tmap_error err = {0};

	(void)state;
	place(h, g, &p1);
	if (tmap_host_place_again(h, g, &p2, &err) < 0)
		fail_msg("%s", err.message);
	assert_string_equal(p2->guests[0].cells[0].pus_list, p1->guests[0].cells[0].pus_list);
	assert_string_equal(p2->guests[0].devices[0].pci, "0000:3b:00.0");
	if (tmap_host_place_again(h, moved, &p3, &err) < 0)
		fail_msg("%s", err.message);
	assert_int_equal(p3->guests[0].cells[0].node, 1);
	assert_int_equal(p3->guests[0].ndevices, 1);
	assert_string_equal(p3->guests[0].devices[0].pci, "0000:86:00.0");
	place(h, other, &p4);
	tmap_plan_free(p1);
	tmap_plan_free(p2);
	tmap_plan_free(p3);
	tmap_plan_free(p4);
	tmap_guest_free(g);
	tmap_guest_free(moved);
	tmap_guest_free(other);
	tmap_host_free(h);
	tmap_topology_free(t);
}

/* ------------------------------------------------------------------------------------- */
/* Streams of guests on the device fixtures */

static unsigned
next_rand(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return (*seed >> 16) & 0x7fff;
}

/* A placed guest's plan is valid: it passes the plan's own check, each device it holds is
 * held by it alone, and a required or root device is local to its cell's node (socket: in
 * its package). */
static void
check_plan_devices(const struct tmap_topology *t, const struct plan_guest *pg, bool *held)
{
	struct tmap_error err = {0};

	if (plan_guest_check(pg, &err) < 0)
		fail_msg("invalid plan for '%s': %s", pg->name, err.message);
	for (unsigned i = 0; i < pg->ndevices; i++) {
		const struct plan_device *d = &pg->devices[i];
		int k = devices_find_pci(t, d->pci);
		int n = topo_node_index(t, pg->cells[d->cell].node);

		assert_true(k >= 0 && n >= 0);
		if (held[k])
			fail_msg("device %s given twice", d->pci);
		held[k] = true;
		if (d->policy == DEV_REQUIRED || d->policy == DEV_ROOT) {
			if (!hwloc_bitmap_isset(t->devices[k].nodeset, pg->cells[d->cell].node))
				fail_msg("'%s': device %s is not local to cell %u's node %u", pg->name,
					 d->pci, d->cell, pg->cells[d->cell].node);
			assert_true(d->local);
		}
	}
}

struct stream_result {
	unsigned placed, refused, requests;
};

/* Place count guests of 1 to 8 vcpus (one or two cells) in turn, each asking for one device
 * drawn from `asks` (none when NULL), the oldest leaving when one does not fit: every plan is
 * checked, every refusal says why. */
static struct stream_result
run_stream(const char *fixture, const char *const *asks, size_t nasks, unsigned count,
	   unsigned seed)
{
	struct tmap_topology *t = test_topology(test_data(fixture));
	struct tmap_host *h = host_of(t);
	struct stream_result res = {0};
	bool *held = calloc(t->ndevices + 1, sizeof(bool));
	char names[64][16];
	unsigned oldest = 0, live = 0;

	assert_non_null(held);
	for (unsigned i = 0; i < count; i++) {
		unsigned vcpus = 1 + next_rand(&seed) % 8, cells = vcpus > 1 && next_rand(&seed) % 3 == 0 ? 2 : 1;
		unsigned draw = next_rand(&seed);	/* drawn without asks too: the same guests */
		const char *ask = asks ? asks[draw % nasks] : NULL;
		char spec[96], name[16];
		struct tmap_guest *g;
		struct tmap_plan *plan = NULL;
		struct tmap_error err = {0};
		int r;

		snprintf(name, sizeof(name), "g%u", i);
		snprintf(spec, sizeof(spec), "%s,cell=%u", ask ? ask : "", cells - 1);
		g = guest_with(name, vcpus, cells, NULL);
		if (ask && tmap_guest_add_device(g, spec, &err) < 0)
			fail_msg("%s", err.message);
		res.requests += ask != NULL;
		r = tmap_host_place(h, g, &plan, &err);
		if (r == 0) {
			memset(held, 0, t->ndevices + 1);
			res.placed++;
			for (size_t k = 0; k < tmap_host_guest_count(h); k++) {
				struct tmap_plan *p = NULL;

				assert_int_equal(tmap_host_guest_plan(h, tmap_host_guest_name(h, k), &p, &err), 0);
				check_plan_devices(t, &p->guests[0], held);
				tmap_plan_free(p);
			}
			snprintf(names[live++ % 64], 16, "%s", name);
		} else {
			assert_int_equal(r, -ENOSPC);
			assert_true(err.message[0]);
			/* a refusal of a device request names what was asked, or the nodes that
			 * lack room next to it */
			if (ask) {
				char value[64];

				snprintf(value, sizeof(value), "%.*s",
					 (int)strcspn(strchr(ask, '=') + 1, ","), strchr(ask, '=') + 1);
				if (!strstr(err.message, value) && !strstr(err.message, " is on node"))
					fail_msg("refusal without a reason: %s", err.message);
			}
			res.refused++;
			if (oldest < live)
				assert_int_equal(tmap_host_release(h, names[oldest++ % 64]), 0);
		}
		tmap_plan_free(plan);
		tmap_guest_free(g);
		if (live - oldest >= 60)
			assert_int_equal(tmap_host_release(h, names[oldest++ % 64]), 0);
	}
	free(held);
	tmap_host_free(h);
	tmap_topology_free(t);
	return res;
}

/* Every fixture, required and root requests of every kind: met or refused with the reason,
 * no invalid plan. */
static void
test_streams_on_fixtures(void **state)
{
	static const char *const asks_2s[] = {
		"net=eth2", "net=eth3,policy=root", "vf_of=eth2", "vf_of=0000:86:00.0,policy=root",
		"class=gpu", "class=storage,policy=root", "pci=0000:17:00.0", "class=network,policy=socket",
	};
	static const char *const asks_4n[] = {
		"class=gpu", "vf_of=eth1,policy=root", "vf_of=eth4", "net=nvme1n1",
		"class=storage,policy=root", "pci=0000:81:00.0", "class=network",
	};
	struct stream_result a, b;

	(void)state;
	a = run_stream("dev-2s-sriov.xml", asks_2s, ARRAY_SIZE(asks_2s), 400, 1);
	b = run_stream("dev-4n-cpuless.xml", asks_4n, ARRAY_SIZE(asks_4n), 400, 2);
	print_message("dev-2s-sriov: %u placed, %u refused with the reason; dev-4n-cpuless: %u, %u\n",
		      a.placed, a.refused, b.placed, b.refused);
	assert_true(a.placed > 100 && a.refused > 10);
	assert_true(b.placed > 100 && b.refused > 10);
}

/* Devices spread evenly (a NIC with VFs on every node): a stream asking each guest for a VF
 * places within 2 % of the same stream asking for none (issue 16), on every seed. The same
 * guests: both streams draw as many numbers. A guest held next to a device is spread too
 * when no node holds it, from the device's node; so here the two place alike. */
static void
test_even_devices_cost_little(void **state)
{
	static const char *const asks[] = {"class=network"};
	struct stream_result with, without;

	(void)state;
	for (unsigned seed = 1; seed <= 12; seed++) {
		with = run_stream("dev-4n-even.xml", asks, 1, 300, seed);
		without = run_stream("dev-4n-even.xml", NULL, 0, 300, seed);
		print_message("seed %u: %u placed with devices, %u without\n", seed, with.placed,
			      without.placed);
		assert_true(with.placed * 100 >= without.placed * 98);
	}
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
		cmocka_unit_test(test_required_anchors_cell),
		cmocka_unit_test(test_refusals_say_why),
		cmocka_unit_test(test_anchored_spread),
		cmocka_unit_test(test_preferred),
		cmocka_unit_test(test_socket_and_root),
		cmocka_unit_test(test_state_keeps_devices),
		cmocka_unit_test(test_spec_refusals),
		cmocka_unit_test(test_qemu_format),
		cmocka_unit_test(test_nested_guest_fixture),
		cmocka_unit_test(test_deviceless_spares_device_node),
		cmocka_unit_test(test_place_again_with_devices),
		cmocka_unit_test(test_streams_on_fixtures),
		cmocka_unit_test(test_even_devices_cost_little),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
