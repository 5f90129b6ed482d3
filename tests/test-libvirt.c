/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The libvirt backend against libvirt itself, in two parts.
 *
 * In-process, always: the backend's XML and cpumap code on fixtures no driver produces on
 * demand (SMT siblings, distances, a memory-only cell, a cell over two sockets), then the whole
 * transaction through the library against the test:///default driver, whose calls take
 * VIR_DOMAIN_AFFECT_CURRENT only: the call sequence, capture, restore after a refused call,
 * drift, a dry run, bad targets.
 *
 * With a daemon, as root: a private libvirtd in a mount namespace of this process (its own
 * /etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/log/libvirt; the QEMU capabilities cache
 * kept in the build directory so that only the first run probes QEMU) running a real QEMU/TCG
 * domain. The tool applies plans to it --live, --config and both; what libvirt reports and
 * what /proc/<qemu pid>/task/<tid>/status says are both checked; drift behind the tool's back
 * (through libvirt, and through a thread's affinity only) is found; refused calls are undone.
 * The domain, the daemon, the cgroups libvirt made and the mounts are removed on every path,
 * including a fatal signal.
 */
#include <fcntl.h>
#include <grp.h>
#include <json-c/json.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>

#include "topomap/backend.h"
#include <topomap/session.h>

#include "testlib.h"

#include "libvirt-backend.h"

extern char **environ;

#define FAST_HOST "synthetic:pack:1 numa:1(memory=4GiB) core:8 pu:1"
#define LIBVIRTD "/usr/sbin/libvirtd"
#define QEMU "/usr/bin/qemu-system-x86_64"
#define SYSTEM_URI "qemu:///system"

/* ---------------------------------------------------------------------------------------- */
/* Helpers */

static void
silent(void *userdata, virErrorPtr e)
{
}

static char *
write_temp(const char *text)
{
	char path[] = "/tmp/topomap-test-libvirt-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return strdup(path);
}

/* The host libvirt's capabilities (and node devices) describe, as `--topology libvirt:URI`
 * builds it: the backend's JSON host form, read by the library. */
static struct tmap_topology *
load_caps(const char *caps, struct nodedevs *devs)
{
	struct tmap_error err = {0};
	struct tmap_topology *t = NULL;
	char *json = NULL;

	if (capabilities_to_json(caps, devs, &json, &err) < 0 ||
	    tmap_topology_new_from_json(json, strlen(json), "libvirt:test", &t, &err) < 0)
		fail_msg("%s", err.message);
	free(json);
	return t;
}

/* The topology as `topomap topology --format table|json` prints it. */
static char *
topology_text(const struct tmap_topology *t, enum tmap_format format)
{
	struct tmap_error err = {0};
	char *text = NULL;

	if (tmap_topology_format(t, format, 0, &text, &err) < 0)
		fail_msg("topology format: %s", err.message);
	return text;
}

/* The cores (siblings lists) of node `i` of a topology, as "0,4 1,5". */
static char *
node_cores(const struct tmap_topology *t, int i)
{
	char *text = topology_text(t, TMAP_FORMAT_JSON), *out = NULL;
	json_object *root = json_tokener_parse(text), *nodes, *node, *cores;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(root);
	assert_true(json_object_object_get_ex(root, "nodes", &nodes));
	node = json_object_array_get_idx(nodes, (size_t)i);
	assert_true(json_object_object_get_ex(node, "cores", &cores));
	for (size_t c = 0; c < json_object_array_length(cores); c++) {
		json_object *core = json_object_array_get_idx(cores, c);

		for (size_t p = 0; p < json_object_array_length(core); p++)
			fprintf(f, "%s%d", p ? "," : (c ? " " : ""),
				json_object_get_int(json_object_array_get_idx(core, p)));
	}
	fclose(f);
	json_object_put(root);
	free(text);
	return out;
}

static struct tmap_plan *
plan_for(const char *host, const char *guest_json, const char *reserve)
{
	struct tmap_topology *t = test_topology(host);
	struct tmap_guests *g = test_guests(guest_json);
	struct tmap_plan *p = test_solve(t, g, reserve);

	tmap_guests_free(g);
	tmap_topology_free(t);
	return p;
}

static char *
vcpu_pin(virDomainPtr dom, unsigned vcpu, unsigned flags)
{
	unsigned char maps[64 * 8] = {0};
	int n = virDomainGetVcpuPinInfo(dom, 8, maps, 64, flags);

	if (n < 0 || vcpu >= (unsigned)n)
		fail_msg("vcpupin %u: %s", vcpu, virGetLastErrorMessage());
	return cpumap_to_list(maps + vcpu * 64, 64);
}

static void
set_vcpu_pin(virDomainPtr dom, unsigned vcpu, const char *list, unsigned flags)
{
	unsigned char *map = NULL;
	int len;

	assert_int_equal(cpumap_from_list(list, 1, &map, &len), 0);
	if (virDomainPinVcpuFlags(dom, vcpu, map, len, flags) < 0)
		fail_msg("pin vcpu %u to '%s': %s", vcpu, list, virGetLastErrorMessage());
	free(map);
}

static char *
emulator_pin(virDomainPtr dom, unsigned flags)
{
	unsigned char map[64] = {0};

	if (virDomainGetEmulatorPinInfo(dom, map, sizeof(map), flags) < 0)
		fail_msg("emulatorpin: %s", virGetLastErrorMessage());
	return cpumap_to_list(map, sizeof(map));
}

/* "1:0-1 2:0-1", the iothreads in id order. */
static char *
iothread_pins(virDomainPtr dom, unsigned flags)
{
	virDomainIOThreadInfoPtr *info = NULL;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	int n = virDomainGetIOThreadInfo(dom, &info, flags);

	if (n < 0)
		fail_msg("iothreadinfo: %s", virGetLastErrorMessage());
	for (unsigned id = 1; id <= 64; id++)
		for (int i = 0; i < n; i++)
			if (info[i]->iothread_id == id) {
				char *l = cpumap_to_list(info[i]->cpumap, info[i]->cpumaplen);

				fprintf(f, "%s%u:%s", ftell(f) ? " " : "", id, l);
				free(l);
			}
	for (int i = 0; i < n; i++)
		virDomainIOThreadInfoFree(info[i]);
	free(info);
	fclose(f);
	return out;
}

static bool
contains(const char *haystack, const char *needle)
{
	return haystack && strstr(haystack, needle) != NULL;
}

static void
assert_contains(const char *text, const char *needle)
{
	if (!contains(text, needle))
		fail_msg("'%s' not found in:\n%s", needle, text ? text : "(null)");
}

/* ---------------------------------------------------------------------------------------- */
/* cpumap.c */

static void
test_cpumap(void **state)
{
	unsigned char *map = NULL;
	char *list;
	int len;

	assert_int_equal(cpumap_from_list("0-3,8", 1, &map, &len), 0);
	assert_int_equal(len, 2);
	assert_int_equal(map[0], 0x0f);
	assert_int_equal(map[1], 0x01);
	list = cpumap_to_list(map, len);
	assert_string_equal(list, "0-3,8");
	free(list);
	free(map);

	/* At least the host's length; longer when the list names a CPU beyond it, so that
	 * libvirt, not the backend, says the CPU does not exist. */
	assert_int_equal(cpumap_from_list("1", 4, &map, &len), 0);
	assert_int_equal(len, 4);
	free(map);
	assert_int_equal(cpumap_from_list("70", 1, &map, &len), 0);
	assert_int_equal(len, 9);
	list = cpumap_to_list(map, len);
	assert_string_equal(list, "70");
	free(list);
	free(map);
	assert_int_equal(cpumap_from_list("", 1, &map, &len), 0);
	list = cpumap_to_list(map, len);
	assert_string_equal(list, "");
	free(list);
	free(map);

	map = (unsigned char *)"untouched";
	len = -1;
	assert_int_equal(cpumap_from_list("1,", 1, &map, &len), -EINVAL);
	assert_int_equal(cpumap_from_list("3-1", 1, &map, &len), -EINVAL);
	assert_int_equal(cpumap_from_list("a", 1, &map, &len), -EINVAL);
	/* Blanks around a list are dropped (kernel files end with a newline), not inside it. */
	assert_int_equal(cpumap_from_list("1, 2", 1, &map, &len), -EINVAL);
	assert_int_equal(cpumap_from_list("99999999", 1, &map, &len), -EINVAL);
	assert_int_equal(len, -1);
}

/* ---------------------------------------------------------------------------------------- */
/* capabilities.c */

/* Two sockets with SMT (siblings 0,4 1,5 ... as Intel numbers them), one cell each, a
 * memory-only cell (CXL), and distances. */
static const char caps_smt[] =
	"<capabilities><host><cpu><arch>x86_64</arch></cpu><topology><cells num='3'>"
	"<cell id='0'><memory unit='KiB'>8388608</memory>"
	"<pages unit='KiB' size='4'>1048576</pages><pages unit='KiB' size='2048'>1024</pages>"
	"<pages unit='KiB' size='1048576'>2</pages>"
	"<cpus num='4'>"
	"<cpu id='0' socket_id='0' die_id='0' core_id='0' siblings='0,4'/>"
	"<cpu id='1' socket_id='0' die_id='0' core_id='1' siblings='1,5'/>"
	"<cpu id='4' socket_id='0' die_id='0' core_id='0' siblings='0,4'/>"
	"<cpu id='5' socket_id='0' die_id='0' core_id='1' siblings='1,5'/>"
	"</cpus>"
	"<distances><sibling id='0' value='10'/><sibling id='1' value='21'/>"
	"<sibling id='2' value='30'/></distances></cell>"
	"<cell id='1'><memory unit='KiB'>4194304</memory>"
	"<cpus num='5'>"
	"<cpu id='2' socket_id='1' die_id='0' core_id='0' siblings='2,6'/>"
	"<cpu id='3' socket_id='1' die_id='0' core_id='1' siblings='3,7'/>"
	"<cpu id='6' socket_id='1' die_id='0' core_id='0' siblings='2,6'/>"
	"<cpu id='7' socket_id='1' die_id='0' core_id='1' siblings='3,7'/>"
	"<cpu id='40'/>" /* offline: no topology */
	"</cpus>"
	"<distances><sibling id='0' value='21'/><sibling id='1' value='10'/>"
	"<sibling id='2' value='30'/></distances></cell>"
	"<cell id='2'><memory unit='KiB'>2097152</memory><cpus num='0'></cpus>"
	"<distances><sibling id='0' value='30'/><sibling id='1' value='30'/>"
	"<sibling id='2' value='10'/></distances></cell>"
	"</cells></topology></host></capabilities>";

/* PCI devices from the node-device API (issue 16): a NIC and its VF on cell 1, with their
 * net children's names, a GPU on cell 0, a device of no cell (numa_node -1), a USB controller
 * hwloc would not keep. */
static void
test_caps_nodedevs(void **state)
{
#define PCI(name, path, bus, slot, fn, cls, vendor, product, numa, extra)                        \
	"<device><name>" name "</name><path>" path "</path><parent>computer</parent>"            \
	"<capability type='pci'><class>" cls "</class><domain>0</domain><bus>" bus "</bus>"      \
	"<slot>" slot "</slot><function>" fn "</function><product id='" product "'/>"            \
	"<vendor id='" vendor "'/>" extra numa "</capability></device>"
	static const char *const xmls[] = {
		PCI("pci_0000_3b_00_0", "/sys/devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0", "59", "0",
		    "0", "0x020000", "0x8086", "0x1572", "<numa node='1'/>", ""),
		PCI("pci_0000_3b_02_0", "/sys/devices/pci0000:3a/0000:3a:00.0/0000:3b:02.0", "59", "2",
		    "0", "0x020000", "0x8086", "0x154c", "<numa node='1'/>",
		    "<capability type='phys_function'><address domain='0x0000' bus='0x3b' slot='0x00' function='0x0'/></capability>"),
		PCI("pci_0000_17_00_0", "/sys/devices/pci0000:16/0000:16:00.0/0000:17:00.0", "23", "0",
		    "0", "0x030200", "0x10de", "0x20b0", "<numa node='0'/>", ""),
		PCI("pci_0000_00_1f_6", "/sys/devices/pci0000:00/0000:00:1f.6", "0", "31", "6",
		    "0x020000", "0x8086", "0x15bc", "", ""),
		PCI("pci_0000_00_14_0", "/sys/devices/pci0000:00/0000:00:14.0", "0", "20", "0",
		    "0x0c0330", "0x8086", "0xa36d", "<numa node='0'/>", ""),
		"<device><name>net_eth2_3c_fd</name><parent>pci_0000_3b_00_0</parent>"
		"<capability type='net'><interface>eth2</interface></capability></device>",
		"<device><name>net_eth2v0_aa</name><parent>pci_0000_3b_02_0</parent>"
		"<capability type='net'><interface>eth2v0</interface></capability></device>",
		"<device><name>drm_card0</name><parent>pci_0000_17_00_0</parent>"
		"<devnode type='dev'>/dev/dri/card0</devnode>"
		"<capability type='drm'><type>primary</type></capability></device>",
	};
#undef PCI
	struct tmap_device_info info = TMAP_DEVICE_INFO_INIT;
	struct nodedevs *devs = NULL;
	struct tmap_error err = {0};
	struct tmap_topology *t;

	(void)state;
	if (nodedevs_parse(xmls, ARRAY_SIZE(xmls), &devs, &err) < 0)
		fail_msg("%s", err.message);
	t = load_caps(caps_smt, devs);
	nodedevs_free(devs);
	assert_int_equal(tmap_topology_device_count(t), 4);
	assert_int_equal(tmap_topology_device(t, 0, &info), 0);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(tmap_topology_device(t, i, &info), 0);
		if (streq(info.pci, "0000:3b:02.0")) {
			assert_string_equal(info.names, "eth2v0");
			assert_string_equal(info.physfn, "0000:3b:00.0");
			assert_string_equal(info.root, "0000:[3a-3b]");
			assert_int_equal(info.node, 1);
		} else if (streq(info.pci, "0000:3b:00.0")) {
			assert_string_equal(info.names, "eth2");
			assert_int_equal(info.node, 1);
		} else if (streq(info.pci, "0000:17:00.0")) {
			assert_string_equal(info.device_class, "gpu");
			assert_string_equal(info.names, "card0");
			assert_int_equal(info.node, 0);
		} else {
			assert_string_equal(info.pci, "0000:00:1f.6");
			assert_false(info.locality_known);
		}
	}
	tmap_topology_free(t);
}

/* The default hugepage size a bare <hugepages/> means: told only when the host has one. */
static void
test_caps_only_hugepage_size(void **state)
{
	static const char one[] =
		"<capabilities><host><topology><cells num='2'>"
		"<cell id='0'><memory unit='KiB'>4194304</memory>"
		"<pages unit='KiB' size='4'>524288</pages><pages unit='KiB' size='2048'>512</pages>"
		"<cpus num='1'><cpu id='0' socket_id='0' die_id='0' core_id='0' siblings='0'/></cpus></cell>"
		"<cell id='1'><memory unit='KiB'>4194304</memory>"
		"<pages unit='KiB' size='4'>1048576</pages><pages unit='KiB' size='2048'>0</pages>"
		"<cpus num='1'><cpu id='1' socket_id='0' die_id='0' core_id='1' siblings='1'/></cpus></cell>"
		"</cells></topology></host></capabilities>";
	static const char none[] =
		"<capabilities><host><topology><cells num='1'>"
		"<cell id='0'><memory unit='KiB'>4194304</memory>"
		"<pages unit='KiB' size='4'>1048576</pages>"
		"<cpus num='1'><cpu id='0' socket_id='0' die_id='0' core_id='0' siblings='0'/></cpus></cell>"
		"</cells></topology></host></capabilities>";
	struct tmap_error err = {0};
	uint64_t kib = 1;

	if (capabilities_only_hugepage_size(one, &kib, &err) < 0)
		fail_msg("%s", err.message);
	assert_int_equal(kib, 2048);
	/* 2 MiB and 1 GiB pools: which is the kernel's default, libvirt does not say */
	assert_int_equal(capabilities_only_hugepage_size(caps_smt, &kib, &err), 0);
	assert_int_equal(kib, 0);
	kib = 1;
	assert_int_equal(capabilities_only_hugepage_size(none, &kib, &err), 0);
	assert_int_equal(kib, 0);
	assert_int_equal(capabilities_only_hugepage_size("<capabilities/>", &kib, &err), -EINVAL);
}

static void
test_caps_smt(void **state)
{
	struct tmap_error err = {0};
	struct tmap_topology *t;
	char *xml = NULL, *cores;

	t = load_caps(caps_smt, NULL);
	assert_int_equal(tmap_topology_node_count(t), 3);
	/* CPU 40 is offline: in no node. */
	assert_string_equal(tmap_topology_node_cpus(t, 0), "0-1,4-5");
	assert_string_equal(tmap_topology_node_cpus(t, 1), "2-3,6-7");
	assert_string_equal(tmap_topology_node_cpus(t, 2), "");
	/* libvirt's cell memory is MemTotal: 8 GiB less 2 GiB of 2 MiB pages and 2 of 1 GiB. */
	assert_int_equal(tmap_topology_node_memory_mib(t, 0), 4096);
	{
		uint64_t size = 0, count = 0;

		assert_int_equal(tmap_topology_node_hugepages(t, 0, 0, &size, &count), 0);
		assert_int_equal(size, 2048);
		assert_int_equal(count, 1024);
		assert_int_equal(tmap_topology_node_hugepages(t, 0, 1, &size, &count), 0);
		assert_int_equal(size, 1048576);
		assert_int_equal(count, 2);
		assert_int_equal(tmap_topology_node_hugepages(t, 1, 1, &size, &count), 0);
		assert_int_equal(count, 0);
		assert_int_equal(tmap_topology_node_hugepages(t, 0, 2, NULL, NULL), -ENOENT);
	}
	assert_int_equal(tmap_topology_node_memory_mib(t, 1), 4096);
	assert_int_equal(tmap_topology_node_memory_mib(t, 2), 2048);
	assert_int_equal(tmap_topology_distance(t, 0, 0), 10);
	assert_int_equal(tmap_topology_distance(t, 0, 1), 21);
	assert_int_equal(tmap_topology_distance(t, 1, 2), 30);
	assert_int_equal(tmap_topology_distance(t, 2, 2), 10);
	cores = node_cores(t, 0);
	assert_string_equal(cores, "0,4 1,5");
	free(cores);
	cores = node_cores(t, 1);
	assert_string_equal(cores, "2,6 3,7");
	free(cores);
	/* And hwloc's own tools take the host the library built. */
	if (tmap_topology_export_xml(t, NULL, 0, &xml, &err) < 0)
		fail_msg("%s", err.message);
	{
		char *path = write_temp(xml);
		char *out = NULL;
		char *argv[] = {"/usr/bin/lstopo-no-graphics", "-i", path, "--of", "console", "-p",
				NULL};

		if (access(argv[0], X_OK) == 0) {
			assert_int_equal(test_run(argv, NULL, &out, NULL), 0);
			assert_contains(out, "Package P#1");
			assert_contains(out, "PU P#6");
		}
		free(out);
		unlink(path);
		free(path);
	}
	tmap_topology_free(t);
	free(xml);
}

/* Sub-NUMA clustering: two cells in one socket. A cell over two sockets. No socket ids. */
static void
test_caps_layouts(void **state)
{
	static const char snc[] =
		"<capabilities><host><topology><cells num='2'>"
		"<cell id='0'><memory unit='KiB'>1048576</memory><cpus num='2'>"
		"<cpu id='0' socket_id='0' core_id='0' siblings='0'/>"
		"<cpu id='1' socket_id='0' core_id='1' siblings='1'/></cpus></cell>"
		"<cell id='1'><memory unit='KiB'>1048576</memory><cpus num='2'>"
		"<cpu id='2' socket_id='0' core_id='2' siblings='2'/>"
		"<cpu id='3' socket_id='0' core_id='3' siblings='3'/></cpus></cell>"
		"</cells></topology></host></capabilities>";
	static const char wide[] =
		"<capabilities><host><topology><cells num='1'>"
		"<cell id='0'><memory unit='KiB'>1048576</memory><cpus num='4'>"
		"<cpu id='0' socket_id='0' core_id='0' siblings='0-1'/>"
		"<cpu id='1' socket_id='0' core_id='0' siblings='0-1'/>"
		"<cpu id='2' socket_id='1' core_id='0' siblings='2-3'/>"
		"<cpu id='3' socket_id='1' core_id='0' siblings='2-3'/></cpus></cell>"
		"</cells></topology></host></capabilities>";
	/* Non-Linux drivers and old kernels: no topology beyond the ids (and cell ids that do
	 * not start at 0). */
	static const char bare[] =
		"<capabilities><host><topology><cells num='2'>"
		"<cell id='3'><memory unit='MiB'>512</memory><cpus num='1'>"
		"<cpu id='5' siblings='5'/></cpus></cell>"
		"<cell id='1'><cpus num='1'><cpu id='2' core_id='0'/></cpus></cell>"
		"</cells></topology></host></capabilities>";
	struct tmap_topology *t;
	char *table, *cores;

	/* Both cells in socket 0: one package holds both nodes. */
	t = load_caps(snc, NULL);
	assert_int_equal(tmap_topology_node_count(t), 2);
	assert_string_equal(tmap_topology_node_cpus(t, 0), "0-1");
	assert_string_equal(tmap_topology_node_cpus(t, 1), "2-3");
	assert_int_equal(tmap_topology_distance(t, 0, 1), 0);
	table = topology_text(t, TMAP_FORMAT_TABLE);
	assert_contains(table, "1 package, 2 NUMA nodes, 4 cores");
	assert_contains(table, "node 0: cpus 0-1 (2), memory 1024 MiB, package 0\n");
	assert_contains(table, "node 1: cpus 2-3 (2), memory 1024 MiB, package 0\n");
	free(table);
	tmap_topology_free(t);

	/* One cell over two sockets: a node in no package, its cores in two. */
	t = load_caps(wide, NULL);
	assert_int_equal(tmap_topology_node_count(t), 1);
	assert_string_equal(tmap_topology_node_cpus(t, 0), "0-3");
	cores = node_cores(t, 0);
	assert_string_equal(cores, "0,1 2,3");
	free(cores);
	table = topology_text(t, TMAP_FORMAT_TABLE);
	assert_contains(table, "2 packages, 1 NUMA node, 2 cores, 4 PUs");
	assert_contains(table, "node 0: cpus 0-3 (4), memory 1024 MiB\n");
	free(table);
	tmap_topology_free(t);

	/* No socket ids: no packages. */
	t = load_caps(bare, NULL);
	assert_int_equal(tmap_topology_node_count(t), 2);
	assert_int_equal(tmap_topology_node_id(t, 0), 1);
	assert_int_equal(tmap_topology_node_id(t, 1), 3);
	assert_string_equal(tmap_topology_node_cpus(t, 0), "2");
	assert_string_equal(tmap_topology_node_cpus(t, 1), "5");
	assert_int_equal(tmap_topology_node_memory_mib(t, 1), 512);
	table = topology_text(t, TMAP_FORMAT_TABLE);
	assert_contains(table, "0 packages, 2 NUMA nodes, 2 cores, 2 PUs");
	free(table);
	tmap_topology_free(t);
}

static void
test_caps_errors(void **state)
{
	static const struct {
		const char *caps, *message;
	} bad[] = {
		{"<capabilities", "not well-formed"},
		{"<domain/>", "not a libvirt capabilities document"},
		{"<capabilities><host/></capabilities>", "no NUMA topology"},
		{"<capabilities><host><topology><cells/></topology></host></capabilities>",
		 "no NUMA cell"},
		{"<capabilities><host><topology><cells><cell id='0'><cpus>"
		 "<cpu id='0' siblings='0'/><cpu id='0' siblings='0'/></cpus></cell></cells>"
		 "</topology></host></capabilities>", "CPU 0 is listed twice"},
		{"<capabilities><host><topology><cells><cell id='0'>"
		 "<memory unit='PB'>1</memory></cell></cells></topology></host></capabilities>",
		 "memory unit 'PB'"},
		{"<capabilities><host><topology><cells><cell id='0'>"
		 "<pages unit='KiB'>4</pages></cell></cells></topology></host></capabilities>",
		 "cell 0: a <pages> without a size in KiB"},
		{"<capabilities><host><topology><cells><cell id='0'>"
		 "<pages unit='KiB' size='2048'>many</pages></cell></cells></topology></host>"
		 "</capabilities>", "cell 0: pages of 2048 KiB: 'many' is not a count"},
		{"<capabilities><host><topology><cells><cell id='x'/></cells></topology></host>"
		 "</capabilities>", "without a valid id"},
		{"<capabilities><host><topology><cells><cell id='0'><cpus/></cell></cells>"
		 "</topology></host></capabilities>", "no online CPU"},
		/* What the JSON host form cannot hold is refused here, with libvirt's words. */
		{"<capabilities><host><topology><cells><cell id='1024'><cpus>"
		 "<cpu id='0' siblings='0'/></cpus></cell></cells></topology></host></capabilities>",
		 "a <cell> without a valid id"},
		{"<capabilities><host><topology><cells><cell id='0'><cpus>"
		 "<cpu id='65536' siblings='65536'/></cpus></cell></cells></topology></host>"
		 "</capabilities>", "cell 0: a <cpu> without a valid id"},
		{"<capabilities><host><topology><cells><cell id='0'>"
		 "<pages unit='KiB' size='3000'>1</pages></cell></cells></topology></host>"
		 "</capabilities>", "cell 0: a <pages> without a size in KiB (a power of two, 4 or more)"},
		{"<capabilities><host><topology><cells><cell id='0'>"
		 "<pages unit='KiB' size='2048'>1</pages><pages unit='KiB' size='2048'>2</pages>"
		 "</cell></cells></topology></host></capabilities>",
		 "cell 0: pages of 2048 KiB listed twice"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct tmap_error err = {0};
		char *json = (char *)"untouched";

		assert_int_equal(capabilities_to_json(bad[i].caps, NULL, &json, &err), -EINVAL);
		assert_string_equal(json, "untouched");
		assert_contains(err.message, bad[i].message);
	}
}

/* ---------------------------------------------------------------------------------------- */
/* domain-xml.c */

static const char domain_full[] =
	"<domain type='kvm'><name>db 1</name><uuid>6e3e2c5a-35b1-4d7e-9a3b-0f1c2d3e4f50</uuid>"
	"<memory unit='GiB'>4</memory><vcpu placement='static' current='4'>8</vcpu>"
	"<iothreads>2</iothreads>"
	"<numatune><memory mode='restrictive' nodeset='0-1'/>"
	"<memnode cellid='1' mode='restrictive' nodeset='1'/></numatune>"
	"<cputune><vcpupin vcpu='0' cpuset='7'/><shares>99</shares></cputune>"
	"<cpu><topology sockets='1' dies='2' cores='2' threads='2'/>"
	"<numa><cell id='1' cpus='4-7' memory='3' unit='GiB'/>"
	"<cell id='0' cpus='0-3' memory='1048576'/></numa></cpu></domain>";

/* <vcpusched> becomes the guest's realtime vcpus when a plan can say it (issue 21): one
 * SCHED_FIFO priority, not every vcpu; otherwise the guest has none (and xml-filter keeps
 * the domain's own elements). */
static void
test_describe_realtime(void **state)
{
	static const struct {
		const char *cputune, *want;
		unsigned prio;
	} cases[] = {
		{"<vcpusched vcpus='1-2' scheduler='fifo' priority='3'/>", "1-2", 3},
		{"<vcpusched vcpus='1' scheduler='fifo' priority='3'/>"
		 "<vcpusched vcpus='3' scheduler='fifo' priority='3'/>", "1,3", 3},
		{"<vcpusched vcpus='1' scheduler='fifo' priority='3'/>"
		 "<vcpusched vcpus='2' scheduler='fifo' priority='4'/>", "", 0},
		{"<vcpusched vcpus='1' scheduler='rr' priority='3'/>", "", 0},
		{"<vcpusched vcpus='0-3' scheduler='fifo' priority='3'/>", "", 0},
		{"<vcpusched vcpus='1' scheduler='batch'/>", "", 0},
	};
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct tmap_error err = {0};
		struct tmap_guest *g = NULL;
		char xml[512], *rt;
		unsigned prio = 99;

		snprintf(xml, sizeof(xml),
			 "<domain type='kvm'><name>rt</name><memory unit='MiB'>1024</memory>"
			 "<vcpu>4</vcpu><cputune>%s</cputune></domain>", cases[i].cputune);
		if (domain_xml_describe(xml, 0, &g, &err) < 0)
			fail_msg("%s: %s", cases[i].cputune, err.message);
		rt = tmap_guest_realtime(g, &prio);
		if (!streq(rt, cases[i].want) || prio != cases[i].prio)
			fail_msg("%s: realtime '%s' priority %u, not '%s' %u", cases[i].cputune, rt,
				 prio, cases[i].want, cases[i].prio);
		free(rt);
		tmap_guest_free(g);
	}
}

/* <hostdev>s become device requests (issue 16): the cell of the expander bus a device sits
 * behind (through its root port), cell 0 without one. */
static void
test_describe_hostdevs(void **state)
{
	static const char xml[] =
		"<domain type='kvm'><name>nf</name><memory unit='MiB'>2048</memory><vcpu>4</vcpu>"
		"<cpu><numa><cell id='0' cpus='0-1' memory='1024' unit='MiB'/>"
		"<cell id='1' cpus='2-3' memory='1024' unit='MiB'/></numa></cpu><devices>"
		"<controller type='pci' index='128' model='pcie-expander-bus'><target><node>1</node></target></controller>"
		"<controller type='pci' index='129' model='pcie-root-port'><address type='pci' domain='0x0000' bus='0x80' slot='0x00' function='0x0'/></controller>"
		"<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x86' slot='0x00' function='0x0'/></source>"
		"<address type='pci' domain='0x0000' bus='0x81' slot='0x00' function='0x0'/></hostdev>"
		"<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x3b' slot='0x02' function='0x1'/></source></hostdev>"
		"<hostdev mode='subsystem' type='usb'><source><vendor id='0x1234'/><product id='0xbeef'/></source></hostdev>"
		"</devices></domain>";
	struct tmap_topology *t = test_topology(test_data("dev-2s-sriov.xml"));
	struct tmap_guests *gs = NULL;
	struct tmap_guest *g = NULL;
	struct tmap_error err = {0};
	struct tmap_plan *p;

	(void)state;
	if (domain_xml_describe(xml, 0, &g, &err) < 0)
		fail_msg("%s", err.message);
	assert_int_equal(tmap_guest_device_count(g), 2);
	assert_int_equal(tmap_guests_new(&gs), 0);
	if (tmap_guests_add(gs, g, &err) < 0)
		fail_msg("%s", err.message);
	p = test_solve(t, gs, NULL);
	assert_string_equal(p->guests[0].devices[0].pci, "0000:86:00.0");
	assert_int_equal(p->guests[0].devices[0].cell, 1);
	assert_int_equal(p->guests[0].cells[1].node, 1);
	assert_string_equal(p->guests[0].devices[1].pci, "0000:3b:02.1");
	assert_int_equal(p->guests[0].devices[1].cell, 0);
	assert_int_equal(p->guests[0].cells[0].node, 0);
	tmap_plan_free(p);
	tmap_guests_free(gs);
	tmap_topology_free(t);
}

static void
test_describe_xml(void **state)
{
	struct tmap_error err = {0};
	struct tmap_guest *g = NULL;
	struct tmap_guests *gs = NULL;
	struct tmap_topology *t = test_topology("synthetic:pack:2 numa:1(memory=8GiB) core:4 pu:2");
	struct tmap_plan *p = NULL;
	char *json = NULL;

	if (domain_xml_describe(domain_full, 0, &g, &err) < 0)
		fail_msg("%s", err.message);
	/* A name the guest name rule refuses is the UUID, never a changed name; the maximum
	 * vcpus; dies as sockets; cells in id order. */
	assert_string_equal(tmap_guest_name(g), "6e3e2c5a-35b1-4d7e-9a3b-0f1c2d3e4f50");
	assert_int_equal(tmap_guests_new(&gs), 0);
	if (tmap_guests_add(gs, g, &err) < 0)
		fail_msg("%s", err.message);
	p = test_solve(t, gs, NULL);
	assert_int_equal(tmap_plan_vcpu_count(p, 0), 8);
	assert_int_equal(tmap_plan_iothread_count(p, 0), 2);
	assert_int_equal(tmap_plan_cell_count(p, 0), 2);
	assert_int_equal(tmap_plan_memory_mode(p, 0), TMAP_MEMORY_RESTRICTIVE);
	assert_int_equal(tmap_plan_format(p, TMAP_FORMAT_JSON, 0, &json, &err), 0);
	{
		json_object *root = json_tokener_parse(json), *guests, *guest, *o, *v;

		assert_true(json_object_object_get_ex(root, "guests", &guests));
		guest = json_object_array_get_idx(guests, 0);
		assert_true(json_object_object_get_ex(guest, "topology", &o));
		assert_true(json_object_object_get_ex(o, "sockets", &v));
		assert_int_equal(json_object_get_int(v), 2);
		assert_true(json_object_object_get_ex(o, "cores", &v));
		assert_int_equal(json_object_get_int(v), 2);
		assert_true(json_object_object_get_ex(o, "threads", &v));
		assert_int_equal(json_object_get_int(v), 2);
		assert_true(json_object_object_get_ex(guest, "cells", &o));
		assert_true(json_object_object_get_ex(json_object_array_get_idx(o, 0), "cpus", &v));
		assert_string_equal(json_object_get_string(v), "0-3");
		assert_true(json_object_object_get_ex(json_object_array_get_idx(o, 0), "memory_mib", &v));
		assert_int_equal(json_object_get_int(v), 1024);
		assert_true(json_object_object_get_ex(json_object_array_get_idx(o, 1), "cpus", &v));
		assert_string_equal(json_object_get_string(v), "4-7");
		assert_true(json_object_object_get_ex(json_object_array_get_idx(o, 1), "memory_mib", &v));
		assert_int_equal(json_object_get_int(v), 3072);
		/* Placement is the plan's (the domain's vcpupin is not taken); its QoS is read,
		 * so that verify compares it. */
		assert_true(json_object_object_get_ex(guest, "qos", &o));
		assert_int_equal(json_object_object_length(o), 1);
		assert_true(json_object_object_get_ex(o, "shares", &v));
		assert_int_equal(json_object_get_int(v), 99);
		json_object_put(root);
	}
	free(json);
	tmap_plan_free(p);
	tmap_guests_free(gs);
	tmap_topology_free(t);

	/* The NUMA side as the backend reads it. */
	{
		struct domain_numa numa;

		assert_int_equal(domain_xml_numa(domain_full, &numa, &err), 0);
		assert_int_equal(numa.mode, TMAP_MEMORY_RESTRICTIVE);
		assert_string_equal(numa.nodeset, "0-1");
		assert_int_equal(numa.ncells, 2);
		assert_null(domain_numa_memnode(&numa, 0));
		assert_string_equal(domain_numa_memnode(&numa, 1)->nodeset, "1");
		domain_numa_clear(&numa);
	}
}

/* A domain backed by hugepages is planned in them, so the state keeps its pages taken. */
/* A guest is named by the domain's own name when the guest name rule takes it, else by the
 * domain's UUID: never a changed name ("db 1" as "db_1", a long name cut at 64). */
static void
test_describe_names(void **state)
{
	static const char uuid[] = "0b1c2d3e-4f50-4617-8899-aabbccddeeff";
	char name64[65], name65[66], xml[1024];
	struct tmap_error err = {0};
	struct tmap_guest *g = NULL;
	const struct {
		const char *name, *want;
	} cases[] = {
		{"web.1-a_b", "web.1-a_b"}, {name64, name64}, {name65, uuid},
		{"db 1", uuid},		     {"db_1 ", uuid},  {"-x", uuid},
		{"caf\xc3\xa9", uuid},
	};

	memset(name64, 'n', 64);
	name64[64] = '\0';
	memset(name65, 'n', 65);
	name65[65] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(xml, sizeof(xml),
			 "<domain type='kvm'><name>%s</name><uuid>%s</uuid><vcpu>2</vcpu></domain>",
			 cases[i].name, uuid);
		if (domain_xml_describe(xml, 0, &g, &err) < 0)
			fail_msg("'%s': %s", cases[i].name, err.message);
		assert_string_equal(tmap_guest_name(g), cases[i].want);
		g = tmap_guest_free(g);
	}
	/* Without a UUID to fall back on, refused rather than renamed. */
	assert_int_equal(domain_xml_describe("<domain><name>db 1</name><vcpu>2</vcpu></domain>", 0,
					     &g, &err),
			 -EINVAL);
	assert_null(g);
	assert_contains(err.message, "domain 'db 1': its name is not a valid guest name and its XML has no <uuid>");
}

static void
test_describe_hugepages(void **state)
{
	static const char domain[] =
		"<domain type='kvm'><name>hp</name><memory unit='GiB'>2</memory><vcpu>2</vcpu>"
		"<memoryBacking><hugepages><page size='1' unit='GiB' nodeset='0'/></hugepages>"
		"</memoryBacking></domain>";
	static const char plain[] =
		"<domain type='kvm'><name>hp</name><memory unit='GiB'>2</memory><vcpu>2</vcpu>"
		"<memoryBacking><hugepages/></memoryBacking></domain>";
	struct tmap_error err = {0};
	struct tmap_guests *gs = NULL;
	struct tmap_guest *g = NULL;
	struct tmap_topology *t = test_topology(test_data("host-hugepages.xml"));
	struct tmap_plan *p;

	if (domain_xml_describe(domain, 0, &g, &err) < 0)
		fail_msg("%s", err.message);
	assert_int_equal(tmap_guests_new(&gs), 0);
	if (tmap_guests_add(gs, g, &err) < 0)
		fail_msg("%s", err.message);
	p = test_solve(t, gs, NULL);
	assert_int_equal(tmap_plan_hugepage_kib(p, 0), 1048576);
	assert_int_equal(tmap_plan_cell_node(p, 0, 0), 0); /* the one node with 1 GiB pages */
	tmap_plan_free(p);
	tmap_guests_free(gs);
	/* <hugepages/> alone: the host's default size, which the domain does not name; unknown,
	 * the domain is refused rather than planned in normal pages it does not use. */
	assert_true(domain_xml_bare_hugepages(plain));
	assert_false(domain_xml_bare_hugepages(domain));
	if (domain_xml_describe(plain, 2048, &g, &err) < 0)
		fail_msg("%s", err.message);
	assert_int_equal(g->page_kib, 2048);
	tmap_guest_free(g);
	g = NULL;
	assert_int_equal(domain_xml_describe(plain, 0, &g, &err), -EINVAL);
	assert_null(g);
	assert_contains(err.message, "domain 'hp': <memoryBacking><hugepages/> names no page size");
	tmap_topology_free(t);
}

static void
test_describe_errors(void **state)
{
	static const struct {
		const char *xml, *message;
	} bad[] = {
		{"<network/>", "not a <domain>"},
		{"<domain><name>a</name></domain>", "domain 'a': its XML has no <vcpu>"},
		{"<domain><name>a</name><vcpu>0</vcpu></domain>", "<vcpu> is not between 1 and"},
		{"<domain><name>a</name><vcpu>4</vcpu><cpu><topology sockets='1' dies='1' cores='3' "
		 "threads='1'/></cpu></domain>", "does not describe its 4 vcpus"},
		{"<domain><name>a</name><vcpu>2</vcpu><cpu><numa><cell id='0' cpus='0-1' "
		 "memory='1024'/><cell id='1' memory='1024'/></numa></cpu></domain>",
		 "guest cell 1 has no vcpus"},
		{"<domain><name>a</name><vcpu>2</vcpu><cpu><numa><cell id='0' cpus='0-1' "
		 "memory='1' unit='XB'/></numa></cpu></domain>", "memory '1' is not a size"},
		{"<domain><name>a</name><vcpu>2</vcpu><numatune><memory mode='fast'/></numatune>"
		 "</domain>", "mode 'fast' is unknown"},
		{"<domain><name>a</name><vcpu>2</vcpu><memoryBacking><hugepages><page size='2048'/>"
		 "<page size='1' unit='G'/></hugepages></memoryBacking></domain>",
		 "has pages of 2048 and 1048576 KiB; topomap plans one page size per guest"},
		{"<domain><name>a</name><vcpu>2</vcpu><memoryBacking><hugepages><page size='3000'/>"
		 "</hugepages></memoryBacking></domain>", "page size 3000 KiB is not a hugepage size"},
		{"<domain><name>a</name><vcpu>2</vcpu><memoryBacking><hugepages><page unit='KiB'/>"
		 "</hugepages></memoryBacking></domain>", "<page> has no valid size"},
		{"<domain><name>a</name><vcpu>2</vcpu><cputune><shares>1</shares></cputune></domain>",
		 "domain 'a': <cputune> shares, period or quota is not one topomap can set"},
		{"<domain><name>a</name><vcpu>2</vcpu><cputune><quota>-x</quota></cputune></domain>",
		 "<cputune> shares, period or quota"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct tmap_error err = {0};
		struct tmap_guest *g = (struct tmap_guest *)&err;

		assert_int_equal(domain_xml_describe(bad[i].xml, 0, &g, &err), -EINVAL);
		assert_ptr_equal(g, &err);
		assert_contains(err.message, bad[i].message);
	}
}

static void
test_memnodes_edit(void **state)
{
	static const unsigned nodes[] = {1, 0};
	struct tmap_error err = {0};
	struct domain_numa numa;
	char *xml = NULL, *xml2 = NULL;

	assert_int_equal(domain_xml_set_memnodes(domain_full, TMAP_MEMORY_STRICT, nodes, 2, &xml,
						 &err), 0);
	assert_int_equal(domain_xml_numa(xml, &numa, &err), 0);
	assert_int_equal(numa.nmemnodes, 2);
	assert_string_equal(domain_numa_memnode(&numa, 0)->nodeset, "1");
	assert_string_equal(domain_numa_memnode(&numa, 1)->nodeset, "0");
	assert_int_equal(domain_numa_memnode(&numa, 1)->mode, TMAP_MEMORY_STRICT);
	/* Everything else is kept. */
	assert_int_equal(numa.mode, TMAP_MEMORY_RESTRICTIVE);
	assert_contains(xml, "<vcpupin vcpu=\"0\" cpuset=\"7\"/>");
	domain_numa_clear(&numa);

	/* A domain without <numatune> gets one. */
	assert_int_equal(domain_xml_set_memnodes("<domain><name>a</name></domain>",
						 TMAP_MEMORY_INTERLEAVE, nodes, 1, &xml2, &err), 0);
	assert_contains(xml2, "<numatune><memnode cellid=\"0\" mode=\"interleave\" nodeset=\"1\"/>");
	free(xml);
	free(xml2);
}

/* ---------------------------------------------------------------------------------------- */
/* The whole backend in-process, on test:///default */

#define FAST_URI "test:///default"
#define FAST_DOMAIN "tmap-fast"
#define FAST_STOPPED "tmap-fast-off"

/* The guest of both test domains, with the host node the test driver calls 0. */
#define FAST_GUEST                                                                                \
	"{\"name\": \"" FAST_DOMAIN "\", \"vcpus\": 2, \"sockets\": 1, \"cores\": 2, \"threads\": 1," \
	" \"cells\": [{\"cpus\": \"0\", \"memory_mib\": 128}, {\"cpus\": \"1\", \"memory_mib\": 128}]," \
	" \"cells_share_nodes\": true, \"iothreads\": 2%s}"

static const char fast_domain_xml[] =
	"<domain type='test'><name>%s</name><memory unit='MiB'>256</memory>"
	"<vcpu placement='static'>2</vcpu><iothreads>2</iothreads>"
	"<numatune><memory mode='strict' nodeset='0'/></numatune>"
	"<os><type>hvm</type></os>"
	"<cpu><topology sockets='1' dies='1' cores='2' threads='1'/>"
	"<numa><cell id='0' cpus='0' memory='128' unit='MiB'/>"
	"<cell id='1' cpus='1' memory='128' unit='MiB'/></numa></cpu></domain>";

struct fast {
	virConnectPtr conn;	/* keeps test:///default's state for the backend's connections */
	virDomainPtr dom, stopped;
	struct tmap_backend_module *module;
};

static virDomainPtr
define(virConnectPtr conn, const char *name)
{
	char xml[2048];
	virDomainPtr dom;

	snprintf(xml, sizeof(xml), fast_domain_xml, name);
	dom = virDomainDefineXML(conn, xml);
	if (!dom)
		fail_msg("define %s: %s", name, virGetLastErrorMessage());
	return dom;
}

static int
fast_setup(void **state)
{
	struct tmap_error err = {0};
	struct fast *f = calloc(1, sizeof(*f));

	virSetErrorFunc(NULL, silent);
	f->conn = virConnectOpen(FAST_URI);
	if (!f->conn)
		return -1;
	f->dom = define(f->conn, FAST_DOMAIN);
	if (virDomainCreate(f->dom) < 0)
		return -1;
	f->stopped = define(f->conn, FAST_STOPPED);
	if (tmap_backend_load("libvirt", &f->module, &err) < 0) {
		print_error("load: %s\n", err.message);
		return -1;
	}
	*state = f;
	return 0;
}

static int
fast_teardown(void **state)
{
	struct fast *f = *state;

	if (!f)
		return 0;
	tmap_backend_unload(f->module);
	virDomainFree(f->dom);
	virDomainFree(f->stopped);
	virConnectClose(f->conn);
	free(f);
	return 0;
}

static struct tmap_target *
target(const char *domain, const char *side)
{
	struct tmap_target *t = NULL;

	assert_int_equal(tmap_target_new(&t), 0);
	assert_int_equal(tmap_target_set(t, "connect", FAST_URI), 0);
	if (domain)
		assert_int_equal(tmap_target_set(t, "domain", domain), 0);
	if (side)
		assert_int_equal(tmap_target_set(t, side, ""), 0);
	return t;
}

static struct tmap_plan *
fast_plan(const char *extra)
{
	char json[1024];

	snprintf(json, sizeof(json), FAST_GUEST, extra ? extra : "");
	return plan_for(FAST_HOST, json, NULL);
}

/* A mixed guest of two vcpus (issue 21) as libvirt has it pinned: vcpu 0 alone on `own`,
 * vcpu 1, the emulator and both iothreads on the pool. */
static void
assert_mixed_pins(virDomainPtr dom, unsigned flags, const char *own, const char *pool)
{
	char *pins[4] = {vcpu_pin(dom, 0, flags), vcpu_pin(dom, 1, flags),
			 emulator_pin(dom, flags), iothread_pins(dom, flags)};
	char io[64];

	snprintf(io, sizeof(io), "1:%s 2:%s", pool, pool);
	assert_string_equal(pins[0], own);
	assert_string_equal(pins[1], pool);
	assert_string_equal(pins[2], pool);
	assert_string_equal(pins[3], io);
	for (size_t i = 0; i < 4; i++)
		free(pins[i]);
}

static void
reset_pins(virDomainPtr dom, unsigned flags)
{
	set_vcpu_pin(dom, 0, "5", flags);
	set_vcpu_pin(dom, 1, "6", flags);
}

static void
test_fast_apply(void **state)
{
	struct fast *f = *state;
	struct tmap_target *t = target(FAST_DOMAIN, NULL);
	struct tmap_plan *p = fast_plan(NULL);
	struct tmap_report *rep = NULL;
	struct tmap_error err = {0};
	char *s;

	reset_pins(f->dom, 0);
	if (tmap_apply(f->module, t, p, 0, 0, &rep, &err) < 0)
		fail_msg("%s", err.message);
	/* The call sequence, each said before it is made; numatune is unchanged (strict '0'),
	 * so it is left alone, as libvirt would refuse it on a running domain. */
	assert_int_equal(tmap_report_write_count(rep), 5);
	assert_string_equal(tmap_report_write(rep, 0),
			    "virDomainPinVcpuFlags('tmap-fast', vcpu 0, '0', current: live)");
	assert_string_equal(tmap_report_write(rep, 1),
			    "virDomainPinVcpuFlags('tmap-fast', vcpu 1, '1', current: live)");
	assert_string_equal(tmap_report_write(rep, 2),
			    "virDomainPinEmulator('tmap-fast', '0-1', current: live)");
	assert_string_equal(tmap_report_write(rep, 3),
			    "virDomainPinIOThread('tmap-fast', iothread 1, '0-1', current: live)");
	assert_string_equal(tmap_report_write(rep, 4),
			    "virDomainPinIOThread('tmap-fast', iothread 2, '0-1', current: live)");
	s = vcpu_pin(f->dom, 0, 0);
	assert_string_equal(s, tmap_plan_vcpu_cpuset(p, 0, 0));
	free(s);
	s = vcpu_pin(f->dom, 1, 0);
	assert_string_equal(s, tmap_plan_vcpu_cpuset(p, 0, 1));
	free(s);
	s = emulator_pin(f->dom, 0);
	assert_string_equal(s, "0-1");
	free(s);
	s = iothread_pins(f->dom, 0);
	assert_string_equal(s, "1:0-1 2:0-1");
	free(s);
	tmap_report_free(rep);
	rep = NULL;

	/* In force: verify agrees. */
	assert_int_equal(tmap_verify(f->module, t, p, 0, 0, &rep, &err), 0);
	assert_int_equal(tmap_report_drift_count(rep), 0);
	tmap_report_free(rep);
	tmap_plan_free(p);
	tmap_target_free(t);
}

static void
test_fast_dry_run(void **state)
{
	struct fast *f = *state;
	struct tmap_target *t = target(FAST_DOMAIN, NULL);
	struct tmap_plan *p = fast_plan(NULL);
	struct tmap_report *rep = NULL;
	struct tmap_error err = {0};
	char *s;

	reset_pins(f->dom, 0);
	assert_int_equal(tmap_apply(f->module, t, p, 0, TMAP_APPLY_DRY_RUN, &rep, &err), 0);
	assert_int_equal(tmap_report_write_count(rep), 5);
	s = vcpu_pin(f->dom, 0, 0);
	assert_string_equal(s, "5");
	free(s);
	tmap_report_free(rep);
	tmap_plan_free(p);
	tmap_target_free(t);
}

static void
test_fast_drift(void **state)
{
	struct fast *f = *state;
	struct tmap_target *t = target(FAST_DOMAIN, NULL);
	struct tmap_plan *p = fast_plan(NULL);
	struct tmap_report *rep = NULL;
	struct tmap_error err = {0};
	char line[256];

	assert_int_equal(tmap_apply(f->module, t, p, 0, 0, NULL, &err), 0);
	set_vcpu_pin(f->dom, 1, "7", 0);
	assert_int_equal(tmap_verify(f->module, t, p, 0, 0, &rep, &err), 1);
	assert_int_equal(tmap_report_drift_count(rep), 1);
	snprintf(line, sizeof(line), "vcpupin 1 of 'tmap-fast' (live) is '7', the plan says '%s'",
		 tmap_plan_vcpu_cpuset(p, 0, 1));
	assert_string_equal(tmap_report_drift(rep, 0), line);
	tmap_report_free(rep);
	tmap_plan_free(p);
	tmap_target_free(t);
}

/* cpu_policy mixed (issue 21) with the pool 4-7: vcpu 0 pinned alone to PU 0, vcpu 1, the
 * emulator and the iothreads to the pool, one vcpupin per vcpu; in force, then drift of the
 * dedicated vcpu and of the shared one, each named. */
static void
test_fast_mixed(void **state)
{
	struct fast *f = *state;
	struct tmap_target *t = target(FAST_DOMAIN, NULL);
	struct tmap_topology *topo = test_topology(FAST_HOST);
	struct tmap_host *h = test_host(topo, "4-7", 0);
	struct tmap_report *rep = NULL;
	struct tmap_error err = {0};
	struct tmap_plan *p = NULL;
	char json[1024];

	snprintf(json, sizeof(json), FAST_GUEST,
		 ", \"cpu_policy\": \"mixed\", \"dedicated_cpus\": \"0\"");
	if (test_place(h, json, &p, &err) < 0)
		fail_msg("%s", err.message);
	reset_pins(f->dom, 0);
	if (tmap_apply(f->module, t, p, 0, 0, &rep, &err) < 0)
		fail_msg("%s", err.message);
	assert_string_equal(tmap_report_write(rep, 0),
			    "virDomainPinVcpuFlags('tmap-fast', vcpu 0, '0', current: live)");
	assert_string_equal(tmap_report_write(rep, 1),
			    "virDomainPinVcpuFlags('tmap-fast', vcpu 1, '4-7', current: live)");
	tmap_report_free(rep);
	rep = NULL;
	assert_mixed_pins(f->dom, 0, "0", "4-7");
	assert_int_equal(tmap_verify(f->module, t, p, 0, 0, &rep, &err), 0);
	tmap_report_free(rep);
	rep = NULL;

	set_vcpu_pin(f->dom, 0, "4", 0);
	set_vcpu_pin(f->dom, 1, "0", 0);
	assert_int_equal(tmap_verify(f->module, t, p, 0, 0, &rep, &err), 1);
	assert_int_equal(tmap_report_drift_count(rep), 2);
	assert_string_equal(tmap_report_drift(rep, 0),
			    "vcpupin 0 of 'tmap-fast' (live) is '4', the plan says '0'");
	assert_string_equal(tmap_report_drift(rep, 1),
			    "vcpupin 1 of 'tmap-fast' (live) is '0', the plan says '4-7'");
	tmap_report_free(rep);
	tmap_plan_free(p);
	/* The domain as the tests after this one find it: the dedicated plan in force. */
	p = fast_plan(NULL);
	assert_int_equal(tmap_apply(f->module, t, p, 0, 0, NULL, &err), 0);
	tmap_plan_free(p);
	tmap_host_free(h);
	tmap_topology_free(topo);
	tmap_target_free(t);
}

/* A call libvirt refuses after others were made: the others are put back. */
static void
test_fast_rollback(void **state)
{
	struct fast *f = *state;
	struct tmap_target *t = target(FAST_DOMAIN, NULL);
	struct tmap_plan *p = fast_plan(", \"memory_mode\": \"restrictive\"");
	struct tmap_report *rep = NULL;
	struct tmap_error err = {0};
	size_t n;
	char *s;

	reset_pins(f->dom, 0);
	set_vcpu_pin(f->dom, 1, "3-4", 0);
	assert_int_equal(tmap_apply(f->module, t, p, 0, 0, &rep, &err), -EPERM);
	assert_contains(err.message, "can't change numatune mode for running domain");
	assert_contains(err.message, "apply with --config");
	assert_contains(err.message, "'restrictive'");
	assert_contains(err.message, "restored what was there");
	s = vcpu_pin(f->dom, 0, 0);
	assert_string_equal(s, "5");
	free(s);
	s = vcpu_pin(f->dom, 1, 0);
	assert_string_equal(s, "3-4");
	free(s);
	s = emulator_pin(f->dom, 0);
	assert_string_equal(s, "0-1");
	free(s);
	/* 5 writes, the refused numatune, then the restore of the 5. */
	n = tmap_report_write_count(rep);
	assert_int_equal(n, 11);
	assert_string_equal(tmap_report_write(rep, 5),
			    "virDomainSetNumaParameters('tmap-fast', mode 'restrictive', nodeset '0', current: live)");
	assert_string_equal(tmap_report_write(rep, 7),
			    "virDomainPinVcpuFlags('tmap-fast', vcpu 1, '3-4', current: live)");
	tmap_report_free(rep);
	tmap_plan_free(p);
	tmap_target_free(t);
}

/* What libvirt cannot take is refused before any write. */
static void
test_fast_refused_early(void **state)
{
	struct fast *f = *state;
	struct tmap_target *t = target(FAST_DOMAIN, NULL);
	struct tmap_report *rep = NULL;
	struct tmap_error err = {0};
	struct tmap_plan *p;

	/* test:/// has no cpu_shares: it could not be put back. */
	p = fast_plan(", \"qos\": {\"shares\": 512}");
	assert_int_equal(tmap_apply(f->module, t, p, 0, 0, &rep, &err), -EOPNOTSUPP);
	assert_contains(err.message, "libvirt reports no cpu_shares for domain 'tmap-fast' (live)");
	assert_int_equal(tmap_report_write_count(rep), 0);
	tmap_report_free(rep);
	tmap_plan_free(p);

	/* A guest of another shape than the domain. */
	p = plan_for(FAST_HOST, "{\"name\": \"x\", \"vcpus\": 4, \"memory_mib\": 256}", NULL);
	rep = NULL;
	assert_int_equal(tmap_apply(f->module, t, p, 0, 0, &rep, &err), -EINVAL);
	/* Refused at the open step: nothing was written, nothing to restore. */
	assert_string_equal(err.message, "open: domain 'tmap-fast' (live) has 2 vcpus, the plan's guest 'x' has 4");
	assert_int_equal(tmap_report_write_count(rep), 0);
	tmap_report_free(rep);
	tmap_plan_free(p);
	p = plan_for(FAST_HOST, "{\"name\": \"x\", \"vcpus\": 2, \"memory_mib\": 256, \"iothreads\": 1,"
				" \"cells\": [{\"cpus\": \"0\"}, {\"cpus\": \"1\"}], \"cells_share_nodes\": true}", NULL);
	rep = NULL;
	assert_int_equal(tmap_apply(f->module, t, p, 0, 0, &rep, &err), -EINVAL);
	assert_contains(err.message, "has 2 iothreads, the plan's guest 'x' has 1");
	tmap_report_free(rep);
	tmap_plan_free(p);
	tmap_target_free(t);
}

/* Realtime vcpus on a running domain alone: libvirt has no call that changes <vcpusched>
 * live, so the apply is refused before any write, saying what to do (issue 21). */
static void
test_fast_realtime_live(void **state)
{
	struct fast *f = *state;
	struct tmap_target *t = target(FAST_DOMAIN, NULL);
	struct tmap_plan *p = fast_plan(", \"realtime_cpus\": \"1\", \"realtime_priority\": 2");
	struct tmap_report *rep = NULL;
	struct tmap_error err = {0};
	char *before, *after;

	before = virDomainGetXMLDesc(f->dom, 0);
	assert_int_equal(tmap_apply(f->module, t, p, 0, 0, &rep, &err), -EOPNOTSUPP);
	assert_string_equal(err.message,
			    "open: libvirt cannot change the scheduler of running domain 'tmap-fast''s vcpus (now none, the plan says fifo priority 2 on vcpus 1): apply with --config, and <vcpusched> takes effect at its next start");
	assert_int_equal(tmap_report_write_count(rep), 0);
	after = virDomainGetXMLDesc(f->dom, 0);
	assert_string_equal(after, before);
	free(before);
	free(after);
	tmap_report_free(rep);
	tmap_plan_free(p);
	tmap_target_free(t);
}

static void
test_fast_targets(void **state)
{
	struct fast *f = *state;
	struct tmap_plan *p = fast_plan(NULL);
	struct tmap_error err = {0};
	struct tmap_target *t;
	virDomainPtr transient;
	char xml[2048];

	t = target(NULL, NULL);
	assert_int_equal(tmap_apply(f->module, t, p, 0, 0, NULL, &err), -EINVAL);
	assert_contains(err.message, "needs --domain NAME|UUID");
	tmap_target_free(t);

	t = target("nope", NULL);
	assert_int_equal(tmap_apply(f->module, t, p, 0, 0, NULL, &err), -ENOENT);
	assert_contains(err.message, "no domain named 'nope' (nor with that UUID) at 'test:///default'");
	tmap_target_free(t);

	/* By UUID. */
	{
		char uuid[VIR_UUID_STRING_BUFLEN];

		assert_int_equal(virDomainGetUUIDString(f->dom, uuid), 0);
		t = target(uuid, NULL);
		if (tmap_apply(f->module, t, p, 0, 0, NULL, &err) < 0)
			fail_msg("%s", err.message);
		tmap_target_free(t);
	}

	t = target(FAST_STOPPED, "live");
	assert_int_equal(tmap_apply(f->module, t, p, 0, 0, NULL, &err), -EINVAL);
	assert_contains(err.message, "domain 'tmap-fast-off' is not running: --live needs a running domain");
	tmap_target_free(t);

	snprintf(xml, sizeof(xml), fast_domain_xml, "tmap-transient");
	transient = virDomainCreateXML(f->conn, xml, 0);
	assert_non_null(transient);
	t = target("tmap-transient", "config");
	assert_int_equal(tmap_apply(f->module, t, p, 0, 0, NULL, &err), -EINVAL);
	assert_contains(err.message, "domain 'tmap-transient' is transient: it has no persistent definition for --config");
	tmap_target_free(t);
	virDomainDestroy(transient);
	virDomainFree(transient);

	/* An option of another backend is the core's to refuse. */
	t = target(FAST_DOMAIN, "cgroup");
	assert_int_equal(tmap_apply(f->module, t, p, 0, 0, NULL, &err), -EINVAL);
	assert_contains(err.message, "takes no option --cgroup (it takes --connect, --domain, --live, --config, --reconnect-timeout)");
	tmap_target_free(t);

	t = target(FAST_DOMAIN, NULL);
	assert_int_equal(tmap_target_set(t, "connect", "nosuchdriver:///x"), 0);
	assert_true(tmap_apply(f->module, t, p, 0, 0, NULL, &err) < 0);
	assert_contains(err.message, "cannot connect to libvirt at 'nosuchdriver:///x'");
	tmap_target_free(t);
	tmap_plan_free(p);
}

/* A stopped domain, whose calls test:/// refuses: before acting, so there is nothing to put back
 * and the definition is left as it was. */
static void
test_fast_stopped(void **state)
{
	struct fast *f = *state;
	struct tmap_target *t = target(FAST_STOPPED, NULL);
	struct tmap_plan *p = fast_plan(NULL);
	struct tmap_report *rep = NULL;
	struct tmap_error err = {0};
	char *before, *after;

	before = virDomainGetXMLDesc(f->stopped, VIR_DOMAIN_XML_INACTIVE);
	assert_int_equal(tmap_apply(f->module, t, p, 0, 0, &rep, &err), -EPERM);
	assert_string_equal(err.message,
			    "apply: cannot pin vcpu 0 of 'tmap-fast-off' to '0' (current: config): Requested operation is not valid: cannot pin vcpus on an inactive domain; restored what was there");
	assert_int_equal(tmap_report_write_count(rep), 1);
	assert_string_equal(tmap_report_write(rep, 0),
			    "virDomainPinVcpuFlags('tmap-fast-off', vcpu 0, '0', current: config)");
	after = virDomainGetXMLDesc(f->stopped, VIR_DOMAIN_XML_INACTIVE);
	assert_string_equal(after, before);
	free(before);
	free(after);
	tmap_report_free(rep);
	tmap_plan_free(p);
	tmap_target_free(t);
}

/* The identity of a domain: the connection's URI, its UUID and its name; and a domain whose
 * name is no guest name is described under its UUID, which --domain takes back. */
static void
test_fast_identify(void **state)
{
	struct fast *f = *state;
	struct tmap_target *t = target(FAST_DOMAIN, NULL), *id = NULL;
	struct tmap_error err = {0};
	struct tmap_guest *g = NULL;
	char uuid[VIR_UUID_STRING_BUFLEN];
	virDomainPtr spaced;

	assert_int_equal(virDomainGetUUIDString(f->dom, uuid), 0);
	assert_int_equal(tmap_target_new(&id), 0);
	if (tmap_backend_identify(f->module, t, id, &err) < 0)
		fail_msg("identify: %s", err.message);
	assert_string_equal(tmap_target_get(id, "uri"), FAST_URI);
	assert_string_equal(tmap_target_get(id, "uuid"), uuid);
	assert_string_equal(tmap_target_get(id, "domain"), FAST_DOMAIN);
	tmap_target_free(id);
	tmap_target_free(t);

	/* By UUID, the same identity. */
	t = target(uuid, NULL);
	assert_int_equal(tmap_target_new(&id), 0);
	assert_int_equal(tmap_backend_identify(f->module, t, id, &err), 0);
	assert_string_equal(tmap_target_get(id, "domain"), FAST_DOMAIN);
	tmap_target_free(id);
	tmap_target_free(t);

	t = target("nope", NULL);
	assert_int_equal(tmap_target_new(&id), 0);
	assert_int_equal(tmap_backend_identify(f->module, t, id, &err), -ENOENT);
	tmap_target_free(id);
	tmap_target_free(t);

	spaced = define(f->conn, "db 1");
	assert_int_equal(virDomainGetUUIDString(spaced, uuid), 0);
	t = target("db 1", NULL);
	if (tmap_backend_describe(f->module, t, &g, &err) < 0)
		fail_msg("describe: %s", err.message);
	assert_string_equal(tmap_guest_name(g), uuid);
	tmap_guest_free(g);
	tmap_target_free(t);
	virDomainUndefine(spaced);
	virDomainFree(spaced);
}

static unsigned app_errors;

static void
app_error_handler(void *userdata, virErrorPtr e)
{
	app_errors++;
}

/* The process-wide libvirt error handler is the program's: the backend keeps its own
 * connections quiet, and leaves the program's handler in place. */
static void
test_fast_error_handler(void **state)
{
	struct fast *f = *state;
	struct tmap_target *t = target(FAST_STOPPED, NULL);
	struct tmap_plan *p = fast_plan(NULL);
	struct tmap_error err = {0};
	struct tmap_guest *g = NULL;

	virSetErrorFunc(NULL, app_error_handler);
	app_errors = 0;
	/* A refused call on the backend's connection, and a describe: not the program's. */
	assert_int_equal(tmap_apply(f->module, t, p, 0, 0, NULL, &err), -EPERM);
	tmap_target_free(t);
	t = target(FAST_DOMAIN, NULL);
	assert_int_equal(tmap_backend_describe(f->module, t, &g, &err), 0);
	tmap_guest_free(g);
	assert_int_equal(app_errors, 0);
	/* An error on the program's own connection still reaches its handler. */
	assert_null(virDomainLookupByName(f->conn, "no-such-domain"));
	assert_int_equal(app_errors, 1);
	virSetErrorFunc(NULL, silent);
	tmap_target_free(t);
	tmap_plan_free(p);
}

static void
test_fast_describe_and_host(void **state)
{
	struct fast *f = *state;
	struct tmap_target *t = target(FAST_DOMAIN, NULL);
	struct tmap_error err = {0};
	struct tmap_guest *g = NULL;
	struct tmap_topology *topo;
	struct tmap_guests *gs = NULL;
	struct tmap_plan *p;

	if (tmap_backend_describe(f->module, t, &g, &err) < 0)
		fail_msg("%s", err.message);
	assert_string_equal(tmap_guest_name(g), FAST_DOMAIN);
	assert_int_equal(tmap_guests_new(&gs), 0);
	assert_int_equal(tmap_guests_add(gs, g, &err), 0);
	topo = test_topology(FAST_HOST);
	p = test_solve(topo, gs, NULL);
	assert_int_equal(tmap_plan_vcpu_count(p, 0), 2);
	assert_int_equal(tmap_plan_iothread_count(p, 0), 2);
	assert_int_equal(tmap_plan_cell_count(p, 0), 2);
	tmap_plan_free(p);
	tmap_topology_free(topo);
	tmap_guests_free(gs);
	tmap_target_free(t);

	/* The test driver's host: two cells of 8 CPUs, 2 and 4 GiB. */
	topo = test_topology("libvirt:" FAST_URI);
	assert_int_equal(tmap_topology_node_count(topo), 2);
	assert_string_equal(tmap_topology_node_cpus(topo, 0), "0-7");
	assert_string_equal(tmap_topology_node_cpus(topo, 1), "8-15");
	assert_int_equal(tmap_topology_node_memory_mib(topo, 0), 2048);
	assert_int_equal(tmap_topology_node_memory_mib(topo, 1), 4096);
	tmap_topology_free(topo);

	/* probe() says yes or why not, at once. */
	{
		const struct tmap_backend *b = tmap_backend_descriptor(f->module);
		struct timespec a, z;
		int r;

		clock_gettime(CLOCK_MONOTONIC, &a);
		r = b->probe(&err);
		clock_gettime(CLOCK_MONOTONIC, &z);
		assert_true(r == 0 || (r == -ENOENT && contains(err.message, "no local libvirt daemon")));
		assert_true(z.tv_sec - a.tv_sec < 1);
	}
}

/* The tool on the test driver's own domain: one process, so test:///default is its own. */
static void
test_fast_cli(void **state)
{
	char *argv[] = {getenv("TOPOMAP_BIN"), "apply", "--backend", "libvirt", "--connect",
			FAST_URI, "--domain", "test", "--topology", FAST_HOST, "--name", "test",
			"--vcpus", "2", "--memory", "1G", NULL};
	char *out = NULL, *err = NULL;

	assert_non_null(argv[0]);
	assert_int_equal(test_run(argv, NULL, &out, &err), 0);
	assert_contains(out, "guest 'test', backend 'libvirt': applied and read back:\n"
			     "  virDomainPinVcpuFlags('test', vcpu 0, '0', current: live)\n");
	assert_string_equal(err, "");
	free(out);
	free(err);
}

/*
 * A domain applied with a policy, then applied again as it is read (what libvirt's hook does
 * at the next start): the second apply asks for what was recorded (emulator threads on a
 * PU of their own), not for the defaults the domain's XML implies.
 */
static void
test_fast_cli_reapply_recorded(void **state)
{
	char dir[] = "/tmp/topomap-lv-spec-XXXXXX", path[64], lock[80];
	char *argv[] = {getenv("TOPOMAP_BIN"), "apply", "--backend", "libvirt", "--connect",
			FAST_URI, "--domain", "test", "--topology",
			"synthetic:pack:1 numa:1(memory=16GiB) core:8 pu:1", "--state", path,
			"--emulator", "isolate", NULL};
	char *out = NULL, *err = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state.json", dir);
	snprintf(lock, sizeof(lock), "%s.lock", path);
	assert_int_equal(test_run(argv, NULL, &out, &err), 0);
	assert_contains(out, "virDomainPinEmulator('test', '2', current: live)");
	free(out);
	free(err);
	argv[12] = NULL; /* no options: the guest as the domain reads */
	assert_int_equal(test_run(argv, NULL, &out, &err), 0);
	assert_contains(out, "virDomainPinEmulator('test', '2', current: live)");
	assert_true(test_state_has_guest(path, "test"));
	free(out);
	free(err);
	unlink(path);
	unlink(lock);
	rmdir(dir);
}

/* ---------------------------------------------------------------------------------------- */
/* A private libvirtd with a real QEMU/TCG domain */

#define MAX_PATHS 64

/* Everything the daemon part makes, in static storage so that a fatal signal's handler can
 * undo it with async-signal-safe calls only. */
static struct {
	char tmp[256];			/* tmpfs holding the daemon's directories */
	pid_t daemon, qemu;
	char mounts[MAX_PATHS][256];	/* bind mounts, in order */
	size_t nmounts;
	char made[MAX_PATHS][256];	/* mount points created for them */
	size_t nmade;
	char cgroups[MAX_PATHS][256];	/* cgroups libvirt made, deepest first */
	size_t ncgroups;
	bool ready;
} lvd;

struct daemon {
	virConnectPtr conn;
	virDomainPtr dom;
	char name[64];
	int node;		/* the host's first NUMA node */
	char guest_opts[512];
	struct tmap_plan *plan;	/* the plan for the domain on this host */
};

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* Async-signal-safe: kill, rmdir, umount2, nanosleep. */
static void
undo_all(bool emergency)
{
	if (emergency && lvd.qemu > 0)
		kill(lvd.qemu, SIGKILL);
	if (lvd.daemon > 0) {
		kill(lvd.daemon, SIGTERM);
		for (int i = 0; i < 50 && waitpid(lvd.daemon, NULL, WNOHANG) == 0; i++)
			sleep_ms(100);
		kill(lvd.daemon, SIGKILL);
		waitpid(lvd.daemon, NULL, 0);
		lvd.daemon = 0;
	}
	/* A killed QEMU's threads leave its cgroups a moment later. */
	for (int i = 0; i < 30; i++) {
		bool left = false;

		for (size_t c = 0; c < lvd.ncgroups; c++)
			if (lvd.cgroups[c][0] && rmdir(lvd.cgroups[c]) < 0 && errno != ENOENT)
				left = true;
		if (!left)
			break;
		sleep_ms(100);
	}
	for (size_t m = lvd.nmounts; m > 0; m--)
		umount2(lvd.mounts[m - 1], MNT_DETACH);
	lvd.nmounts = 0;
	for (size_t m = lvd.nmade; m > 0; m--)
		rmdir(lvd.made[m - 1]);
	lvd.nmade = 0;
	if (lvd.tmp[0]) {
		umount2(lvd.tmp, MNT_DETACH);
		rmdir(lvd.tmp);
		lvd.tmp[0] = '\0';
	}
}

static void
on_fatal_signal(int sig)
{
	static const char msg[] = "test-libvirt: fatal signal, removing the daemon and its domain\n";

	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	undo_all(true);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void
note(char list[][256], size_t *n, const char *path)
{
	if (*n < MAX_PATHS)
		if (snprintf(list[*n], 256, "%s", path) < 256)
			(*n)++;
}

static int
bind_dir(const char *from, const char *to)
{
	struct stat st;

	if (stat(to, &st) < 0) {
		if (mkdir(to, 0755) < 0)
			return -errno;
		note(lvd.made, &lvd.nmade, to);
	}
	if (mount(from, to, "none", MS_BIND, NULL) < 0)
		return -errno;
	note(lvd.mounts, &lvd.nmounts, to);
	return 0;
}

static int
write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -EIO;
}

/* libvirt's QEMU driver wants its user to exist even when it runs QEMU as root: when this
 * host has none, the daemon's namespace gets copies of passwd and group that have one. */
static int
qemu_user(void)
{
	static const char *const files[][2] = {
		{"/etc/passwd", "libvirt-qemu:x:64055:64055:libvirt-qemu:/var/lib/libvirt:/usr/sbin/nologin\n"},
		{"/etc/group", "libvirt-qemu:x:64055:\n"},
	};

	if (getpwnam("libvirt-qemu") && getgrnam("libvirt-qemu"))
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		size_t extra = strlen(files[i][1]);
		char copy[512], buf[65536];
		int in = open(files[i][0], O_RDONLY | O_CLOEXEC);
		ssize_t n = in < 0 ? -1 : read(in, buf, sizeof(buf) - 1);

		if (in >= 0)
			close(in);
		if (n < 0 || (size_t)n + extra >= sizeof(buf))
			return -EIO;
		memcpy(buf + n, files[i][1], extra + 1);
		snprintf(copy, sizeof(copy), "%s/%s", lvd.tmp, strrchr(files[i][0], '/') + 1);
		if (write_file(copy, buf) < 0)
			return -EIO;
		if (mount(copy, files[i][0], "none", MS_BIND, NULL) < 0)
			return -errno;
		note(lvd.mounts, &lvd.nmounts, files[i][0]);
	}
	return 0;
}

/* Every "machine" cgroup directory, per controller, that does not exist yet: libvirt makes
 * them for its domains and leaves them behind. */
static void
note_machine_cgroups(void)
{
	DIR *d = opendir("/sys/fs/cgroup");
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char path[256];
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "/sys/fs/cgroup/%s/machine", e->d_name) >=
		    (int)sizeof(path))
			continue;
		if (stat(path, &st) < 0 && errno == ENOENT)
			note(lvd.cgroups, &lvd.ncgroups, path);
	}
	closedir(d);
}

/* The domain's own cgroups (qemu-ID-NAME.libvirt-qemu and its vcpuN, emulator, iothreadN),
 * before the machine directories, so that a killed domain's are removed too. */
static void
note_domain_cgroups(const char *name)
{
	char machine[MAX_PATHS][256];
	size_t nmachine = 0;
	DIR *d = opendir("/sys/fs/cgroup");
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char dir[256];
		DIR *m;
		struct dirent *f;

		if (e->d_name[0] == '.')
			continue;
		if (snprintf(dir, sizeof(dir), "/sys/fs/cgroup/%s/machine", e->d_name) >=
		    (int)sizeof(dir))
			continue;
		m = opendir(dir);
		while (m && (f = readdir(m))) {
			char top[256];
			DIR *s;
			struct dirent *g;

			if (f->d_type != DT_DIR || !strstr(f->d_name, name))
				continue;
			if (snprintf(top, sizeof(top), "%s/%s", dir, f->d_name) >= (int)sizeof(top))
				continue;
			s = opendir(top);
			while (s && (g = readdir(s))) {
				char sub[512];

				if (g->d_type != DT_DIR || g->d_name[0] == '.')
					continue;
				snprintf(sub, sizeof(sub), "%s/%s", top, g->d_name);
				note(machine, &nmachine, sub);
			}
			if (s)
				closedir(s);
			note(machine, &nmachine, top);
		}
		if (m)
			closedir(m);
	}
	closedir(d);
	/* Deepest first: put them before the machine directories noted earlier. */
	if (nmachine + lvd.ncgroups > MAX_PATHS)
		nmachine = MAX_PATHS - lvd.ncgroups;
	memmove(lvd.cgroups[nmachine], lvd.cgroups[0], lvd.ncgroups * sizeof(lvd.cgroups[0]));
	memcpy(lvd.cgroups[0], machine[0], nmachine * sizeof(machine[0]));
	lvd.ncgroups += nmachine;
}

/* A domain as users define them: the same guest, with the <numatune> given (or none). */
static const char user_domain_xml[] =
	"<domain type='qemu'><name>%s</name><memory unit='MiB'>256</memory>"
	"<vcpu placement='static'>2</vcpu><iothreads>2</iothreads>%s"
	"<os><type arch='x86_64' machine='pc'>hvm</type></os>"
	"<cpu mode='custom' match='exact'><model fallback='allow'>qemu64</model>"
	"<topology sockets='1' dies='1' cores='2' threads='1'/>"
	"<numa><cell id='0' cpus='0' memory='128' unit='MiB'/>"
	"<cell id='1' cpus='1' memory='128' unit='MiB'/></numa></cpu>"
	"<devices><emulator>" QEMU "</emulator><controller type='usb' model='none'/>"
	"<memballoon model='none'/></devices></domain>";

/* Why the daemon part cannot run here, or NULL. */
static const char *
daemon_missing(void)
{
	if (geteuid() != 0)
		return "not root: a libvirtd running QEMU domains needs root";
	if (access(LIBVIRTD, X_OK) < 0)
		return LIBVIRTD " is not installed";
	if (access(QEMU, X_OK) < 0)
		return QEMU " is not installed";
	return NULL;
}

static int spawn_daemon(bool first);

static int
start_daemon(void)
{
	const char *cache = getenv("TOPOMAP_LIBVIRT_CACHE");
	char dir[512];
	static const char *const dirs[][2] = {
		{"etc", "/etc/libvirt"},	 {"run", "/run/libvirt"},
		{"lib", "/var/lib/libvirt"}, {"log", "/var/log/libvirt"},
	};

	snprintf(lvd.tmp, sizeof(lvd.tmp), "/tmp/topomap-test-libvirtd-XXXXXX");
	if (!mkdtemp(lvd.tmp)) {
		lvd.tmp[0] = '\0';
		return -errno;
	}
	if (mount("tmpfs", lvd.tmp, "tmpfs", 0, "mode=0755") < 0)
		return -errno;
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		snprintf(dir, sizeof(dir), "%s/%s", lvd.tmp, dirs[i][0]);
		if (mkdir(dir, 0755) < 0 || bind_dir(dir, dirs[i][1]) < 0)
			return -errno;
	}
	/* The QEMU capabilities probe takes seconds: keep its cache between runs. */
	if (cache && (mkdir(cache, 0755) == 0 || errno == EEXIST))
		snprintf(dir, sizeof(dir), "%s", cache);
	else
		snprintf(dir, sizeof(dir), "%s/cache", lvd.tmp);
	mkdir(dir, 0755);
	if (bind_dir(dir, "/var/cache/libvirt") < 0)
		return -errno;
	if (write_file("/etc/libvirt/qemu.conf",
		       "user = \"root\"\ngroup = \"root\"\ndynamic_ownership = 0\n"
		       "remember_owner = 0\nsecurity_driver = \"none\"\nstdio_handler = \"file\"\n") < 0)
		return -EIO;
	if (qemu_user() < 0)
		return -EIO;
	note_machine_cgroups();
	return spawn_daemon(true);
}

/* Start libvirtd in the directories start_daemon() made: the first time, or again after it
 * was killed, as systemd would restart it. Its log goes on where the last one ended. */
static int
spawn_daemon(bool first)
{
	char pidfile[512], log[512];
	pid_t pid;

	snprintf(pidfile, sizeof(pidfile), "%s/libvirtd.pid", lvd.tmp);
	snprintf(log, sizeof(log), "%s/libvirtd.log", lvd.tmp);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		char *argv[] = {"libvirtd", "--timeout", "120", "--pid-file", pidfile, NULL};
		int fd = open(log, O_WRONLY | O_CREAT | (first ? O_TRUNC : O_APPEND) | O_CLOEXEC,
			      0644);

		/* Gone with this process, however it ends. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execv(LIBVIRTD, argv);
		_exit(127);
	}
	lvd.daemon = pid;
	return 0;
}

/* The daemon's log lives in its tmpfs, gone after the test: show it on a failure. */
static void
print_daemon_log(const char *why)
{
	char path[512], buf[8192];
	ssize_t n = -1;
	int fd;

	snprintf(path, sizeof(path), "%s/libvirtd.log", lvd.tmp);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	buf[n > 0 ? n : 0] = '\0';
	print_error("%s; its log:\n%s\n", why, buf);
}

/* Connect the test to the daemon, as soon as it answers, and find the domain again when it
 * was defined already (after a restart of the daemon). */
static int
connect_daemon(struct daemon *d)
{
	if (d->dom)
		virDomainFree(d->dom);
	if (d->conn)
		virConnectClose(d->conn);
	d->dom = NULL;
	d->conn = NULL;
	for (int i = 0; i < 100 && !d->conn; i++) {
		if (waitpid(lvd.daemon, NULL, WNOHANG) != 0) {
			lvd.daemon = 0;
			print_daemon_log("libvirtd exited");
			return -1;
		}
		d->conn = virConnectOpen(SYSTEM_URI);
		if (!d->conn)
			sleep_ms(100);
	}
	if (!d->conn) {
		print_daemon_log("libvirtd does not answer");
		return -1;
	}
	if (lvd.ready && !(d->dom = virDomainLookupByName(d->conn, d->name))) {
		print_daemon_log("libvirtd lost the domain");
		return -1;
	}
	return 0;
}

static void
undo_at_exit(void)
{
	undo_all(false);
}

static int
daemon_setup(void **state)
{
	struct daemon *d = calloc(1, sizeof(*d));
	struct tmap_topology *host = test_topology("live");
	struct sigaction sa = {.sa_handler = on_fatal_signal};
	const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGSEGV, SIGABRT, SIGBUS};
	char xml[4096], json[1024];
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaction(sigs[i], &sa, NULL);
	atexit(undo_at_exit);
	*state = d;
	d->node = tmap_topology_node_id(host, 0);
	tmap_topology_free(host);
	snprintf(d->name, sizeof(d->name), "tmap-lv-%d", (int)getpid());
	r = start_daemon();
	if (r < 0) {
		print_error("cannot start libvirtd: %s\n", strerror(-r));
		return -1;
	}
	virSetErrorFunc(NULL, silent);
	if (connect_daemon(d) < 0)
		return -1;
	{
		char numatune[128];

		snprintf(numatune, sizeof(numatune),
			 "<numatune><memory mode='strict' nodeset='%d'/></numatune>", d->node);
		snprintf(xml, sizeof(xml), user_domain_xml, d->name, numatune);
	}
	d->dom = virDomainDefineXML(d->conn, xml);
	if (!d->dom || virDomainCreate(d->dom) < 0) {
		print_error("cannot start the domain: %s\n", virGetLastErrorMessage());
		print_daemon_log("the domain does not start");
		return -1;
	}
	{
		char path[256], buf[32] = "";
		int fd;

		snprintf(path, sizeof(path), "/run/libvirt/qemu/%s.pid", d->name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			(void)!read(fd, buf, sizeof(buf) - 1);
			close(fd);
		}
		lvd.qemu = atoi(buf);
	}
	note_domain_cgroups(d->name);
	lvd.ready = true;

	snprintf(d->guest_opts, sizeof(d->guest_opts),
		 "--name %s --vcpus 2 --sockets 1 --cores 2 --threads 1 --cell cpus=0,memory=128 "
		 "--cell cpus=1,memory=128 --cells-share-nodes --iothreads 2", d->name);
	snprintf(json, sizeof(json),
		 "{\"name\": \"%s\", \"vcpus\": 2, \"sockets\": 1, \"cores\": 2, \"threads\": 1,"
		 " \"cells\": [{\"cpus\": \"0\", \"memory_mib\": 128}, {\"cpus\": \"1\", \"memory_mib\": 128}],"
		 " \"cells_share_nodes\": true,"
		 " \"iothreads\": 2}", d->name);
	d->plan = plan_for("live", json, NULL);
	return 0;
}

/* The domain's QEMU, should it outlive the daemon (a test that failed while the daemon was
 * away): killed by its pid, once its command line shows it is this test's domain. */
static void
kill_own_qemu(const struct daemon *d)
{
	char path[64], cmdline[4096], want[96];
	ssize_t n;
	int fd;

	if (lvd.qemu <= 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)lvd.qemu);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : read(fd, cmdline, sizeof(cmdline) - 1);
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return;
	for (ssize_t i = 0; i < n; i++)
		if (!cmdline[i])
			cmdline[i] = ' ';
	cmdline[n] = '\0';
	snprintf(want, sizeof(want), "guest=%s,", d->name);
	if (strstr(cmdline, want))
		kill(lvd.qemu, SIGKILL);
}

static int
daemon_teardown(void **state)
{
	struct daemon *d = *state;

	if (d) {
		if (d->dom) {
			/* A daemon just restarted may still be busy finding its domain again. */
			for (int i = 0; i < 50 && virDomainIsActive(d->dom) == 1 &&
					virDomainDestroy(d->dom) < 0; i++)
				sleep_ms(100);
			virDomainUndefine(d->dom);
			virDomainFree(d->dom);
		}
		kill_own_qemu(d);
		if (d->conn)
			virConnectClose(d->conn);
		tmap_plan_free(d->plan);
		free(d);
	}
	undo_all(false);
	return 0;
}

/* Run the tool with the daemon's URI and domain, then `fmt`'s options split at spaces; fail
 * the test, showing what it printed, unless it exits with `expect`. */
static void
tool(const struct daemon *d, int expect, char **ret_out, char **ret_err, const char *cmd,
     const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* The command line of tool(): argv points into opts, which is cut at its spaces. */
static void
tool_argv(const struct daemon *d, const char *cmd, char *opts, char *argv[64])
{
	char *save = NULL;
	size_t n = 0;

	argv[n++] = getenv("TOPOMAP_BIN");
	argv[n++] = (char *)cmd;
	if (!streq(cmd, "topology") && !streq(cmd, "plan")) {
		argv[n++] = "--backend";
		argv[n++] = "libvirt";
		argv[n++] = "--connect";
		argv[n++] = SYSTEM_URI;
		argv[n++] = "--domain";
		argv[n++] = (char *)d->name;
	}
	/* "@" stands for a space inside one argument. */
	for (char *w = strtok_r(opts, " ", &save); w && n < 63; w = strtok_r(NULL, " ", &save)) {
		for (char *c = w; *c; c++)
			if (*c == '@')
				*c = ' ';
		argv[n++] = w;
	}
	argv[n] = NULL;
}

static void
tool(const struct daemon *d, int expect, char **ret_out, char **ret_err, const char *cmd,
     const char *fmt, ...)
{
	char opts[1024], *argv[64], *out = NULL, *err = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(opts, sizeof(opts), fmt, ap);
	va_end(ap);
	tool_argv(d, cmd, opts, argv);
	r = test_run(argv, NULL, &out, &err);
	if (r != expect)
		fail_msg("topomap %s %s exited %d, not %d\nstdout:\n%s\nstderr:\n%s", cmd, fmt, r,
			 expect, out, err);
	if (ret_out)
		*ret_out = out;
	else
		free(out);
	if (ret_err)
		*ret_err = err;
	else
		free(err);
}

/* Each QEMU thread's role and allowed CPUs and nodes, as the kernel has them. */
struct qthread {
	char comm[32], cpus[64], mems[64];
	int tid;
};

static size_t
qemu_threads(pid_t pid, struct qthread *t, size_t max)
{
	char path[64];
	DIR *dir;
	struct dirent *e;
	size_t n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	assert_non_null(dir);
	while ((e = readdir(dir)) && n < max) {
		char file[128], buf[4096];
		int fd;
		ssize_t len;
		char *p;

		if (e->d_name[0] == '.')
			continue;
		memset(&t[n], 0, sizeof(t[n]));
		t[n].tid = atoi(e->d_name);
		if (snprintf(file, sizeof(file), "%s/%s/comm", path, e->d_name) >= (int)sizeof(file))
			continue;
		fd = open(file, O_RDONLY | O_CLOEXEC);
		len = fd < 0 ? -1 : read(fd, t[n].comm, sizeof(t[n].comm) - 1);
		if (fd >= 0)
			close(fd);
		if (len <= 0)
			continue;
		t[n].comm[strcspn(t[n].comm, "\n")] = '\0';
		if (snprintf(file, sizeof(file), "%s/%s/status", path, e->d_name) >=
		    (int)sizeof(file))
			continue;
		fd = open(file, O_RDONLY | O_CLOEXEC);
		len = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
		if (fd >= 0)
			close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		if ((p = strstr(buf, "Cpus_allowed_list:\t")))
			snprintf(t[n].cpus, sizeof(t[n].cpus), "%.*s", (int)strcspn(p + 19, "\n"), p + 19);
		if ((p = strstr(buf, "Mems_allowed_list:\t")))
			snprintf(t[n].mems, sizeof(t[n].mems), "%.*s", (int)strcspn(p + 19, "\n"), p + 19);
		n++;
	}
	closedir(dir);
	return n;
}

/* The kernel agrees with the plan: each vcpu thread on its PU, every other thread on the
 * emulator set, memory on the plan's nodes. */
static void
check_proc(const struct daemon *d, const struct tmap_plan *p)
{
	struct qthread t[64];
	size_t n = qemu_threads(lvd.qemu, t, 64);
	unsigned vcpus = 0;

	assert_true(n >= 4);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		char slash;

		if (sscanf(t[i].comm, "CPU %u%c", &v, &slash) == 2 && slash == '/') {
			assert_string_equal(t[i].cpus, tmap_plan_vcpu_cpuset(p, 0, v));
			vcpus++;
		} else {
			assert_string_equal(t[i].cpus, tmap_plan_emulator_cpuset(p, 0));
		}
		assert_string_equal(t[i].mems, tmap_plan_memory_nodeset(p, 0));
	}
	assert_int_equal(vcpus, 2);
}

static void
check_pins(const struct daemon *d, const struct tmap_plan *p, unsigned flags)
{
	char *s;

	for (unsigned v = 0; v < 2; v++) {
		s = vcpu_pin(d->dom, v, flags);
		assert_string_equal(s, tmap_plan_vcpu_cpuset(p, 0, v));
		free(s);
	}
	s = emulator_pin(d->dom, flags);
	assert_string_equal(s, tmap_plan_emulator_cpuset(p, 0));
	free(s);
}

/* No guest given: the tool reads it from the domain, then pins it live. */
static void
test_daemon_apply_live(void **state)
{
	struct daemon *d = *state;
	const struct tmap_plan *p = d->plan;
	char *out = NULL, *err = NULL, *s, want[128];

	/* Pins the plan will not keep, so that every write changes something. */
	set_vcpu_pin(d->dom, 0, tmap_plan_vcpu_cpuset(p, 0, 1), VIR_DOMAIN_AFFECT_LIVE);
	set_vcpu_pin(d->dom, 1, tmap_plan_vcpu_cpuset(p, 0, 0), VIR_DOMAIN_AFFECT_LIVE);
	tool(d, 0, &out, &err, "apply", "--live");
	snprintf(want, sizeof(want), "virDomainPinVcpuFlags('%s', vcpu 0, '%s', live)", d->name,
		 tmap_plan_vcpu_cpuset(p, 0, 0));
	assert_contains(out, want);
	snprintf(want, sizeof(want), "virDomainPinIOThread('%s', iothread 2, '%s', live)", d->name,
		 tmap_plan_emulator_cpuset(p, 0));
	assert_contains(out, want);
	assert_string_equal(err, "");
	free(out);
	free(err);

	check_pins(d, p, VIR_DOMAIN_AFFECT_LIVE);
	s = iothread_pins(d->dom, VIR_DOMAIN_AFFECT_LIVE);
	snprintf(want, sizeof(want), "1:%s 2:%s", tmap_plan_emulator_cpuset(p, 0),
		 tmap_plan_emulator_cpuset(p, 0));
	assert_string_equal(s, want);
	free(s);
	check_proc(d, p);

	tool(d, 0, &out, &err, "verify", "--live");
	assert_contains(out, "the plan is in force");
	free(out);
	free(err);
}

static void
test_daemon_dry_run(void **state)
{
	struct daemon *d = *state;
	const struct tmap_plan *p = d->plan;
	char *out = NULL, *err = NULL, *s;

	set_vcpu_pin(d->dom, 0, tmap_plan_vcpu_cpuset(p, 0, 1), VIR_DOMAIN_AFFECT_LIVE);
	tool(d, 0, &out, &err, "apply", "--live --config --dry-run");
	assert_contains(out, "dry run, these writes would be made:");
	assert_contains(out, "live|config");
	s = vcpu_pin(d->dom, 0, VIR_DOMAIN_AFFECT_LIVE);
	assert_string_equal(s, tmap_plan_vcpu_cpuset(p, 0, 1));
	free(s);
	free(out);
	free(err);
}

/* A pin changed behind the tool's back, through libvirt. */
static void
test_daemon_drift(void **state)
{
	struct daemon *d = *state;
	const struct tmap_plan *p = d->plan;
	char *out = NULL, *err = NULL, want[256];

	tool(d, 0, NULL, NULL, "apply", "--live");
	set_vcpu_pin(d->dom, 0, tmap_plan_vcpu_cpuset(p, 0, 1), VIR_DOMAIN_AFFECT_LIVE);
	tool(d, 4, &out, &err, "verify", "--live");
	snprintf(want, sizeof(want), "vcpupin 0 of '%s' (live) is '%s', the plan says '%s'",
		 d->name, tmap_plan_vcpu_cpuset(p, 0, 1), tmap_plan_vcpu_cpuset(p, 0, 0));
	assert_contains(out, want);
	/* The kernel says so too, for the vcpu thread. */
	assert_contains(out, "(vcpu 0): Cpus_allowed_list");
	assert_contains(err, "drifted from its plan");
	free(out);
	free(err);
	tool(d, 0, NULL, NULL, "apply", "--live");
}

/* A thread moved out of its cgroup and given another affinity: libvirt still reports the pin
 * it set, only /proc shows the drift. */
static void
test_daemon_drift_proc(void **state)
{
	struct daemon *d = *state;
	const struct tmap_plan *p = d->plan;
	char *out = NULL, *err = NULL, path[256], origin[256] = "", want[256], tid[16];
	struct qthread t[64];
	size_t n = qemu_threads(lvd.qemu, t, 64);
	int vcpu0 = 0, fd;
	cpu_set_t set;

	/* The move below is cgroup v1's; libvirt's layout on v2 has threaded cgroups. */
	if (access("/sys/fs/cgroup/cpuset/tasks", W_OK) < 0)
		skip();
	for (size_t i = 0; i < n; i++)
		if (strncmp(t[i].comm, "CPU 0/", 6) == 0)
			vcpu0 = t[i].tid;
	assert_true(vcpu0 > 0);
	/* Where it is (cpuset v1: "/machine/qemu-1-NAME.libvirt-qemu/vcpu0"), to put it back. */
	snprintf(path, sizeof(path), "/proc/%d/task/%d/cpuset", (int)lvd.qemu, vcpu0);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_true(read(fd, origin, sizeof(origin) - 1) > 0);
	close(fd);
	origin[strcspn(origin, "\n")] = '\0';
	snprintf(tid, sizeof(tid), "%d", vcpu0);
	assert_int_equal(write_file("/sys/fs/cgroup/cpuset/tasks", tid), 0);
	/* Every PU of the guest: still within the guest, no longer the vcpu's own. */
	CPU_ZERO(&set);
	{
		unsigned char *map = NULL;
		int len;

		assert_int_equal(cpumap_from_list(tmap_plan_cpuset(p, 0), 1, &map, &len), 0);
		for (int c = 0; c < len * 8; c++)
			if (VIR_CPU_USED(map, c))
				CPU_SET(c, &set);
		free(map);
	}
	assert_int_equal(sched_setaffinity(vcpu0, sizeof(set), &set), 0);

	tool(d, 4, &out, &err, "verify", "--live");
	snprintf(want, sizeof(want), "task %d (vcpu 0): Cpus_allowed_list '%s' is not within the plan's '%s'",
		 vcpu0, tmap_plan_cpuset(p, 0), tmap_plan_vcpu_cpuset(p, 0, 0));
	assert_contains(out, want);
	assert_false(contains(out, "vcpupin 0 of"));
	free(out);
	free(err);

	/* Back where libvirt put it. */
	snprintf(path, sizeof(path), "/sys/fs/cgroup/cpuset%s/tasks", origin);
	assert_int_equal(write_file(path, tid), 0);
	tool(d, 0, NULL, NULL, "apply", "--live");
	tool(d, 0, NULL, NULL, "verify", "--live");
}

/* The elements of `xpath` in a document, as "attr=value ..." lines. */
static char *
elements(xmlDocPtr doc, const char *xpath)
{
	xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
	xmlXPathObjectPtr obj = xmlXPathEvalExpression(BAD_CAST xpath, ctx);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	for (int i = 0; obj && obj->nodesetval && i < obj->nodesetval->nodeNr; i++) {
		xmlNodePtr n = obj->nodesetval->nodeTab[i];
		xmlChar *text = xmlNodeGetContent(n);

		fprintf(f, "%s", (const char *)n->name);
		for (xmlAttrPtr a = n->properties; a; a = a->next) {
			xmlChar *v = xmlGetProp(n, a->name);

			fprintf(f, " %s=%s", (const char *)a->name, (const char *)v);
			xmlFree(v);
		}
		if (text && *text)
			fprintf(f, " =%s", (const char *)text);
		fputc('\n', f);
		xmlFree(text);
	}
	fclose(f);
	xmlXPathFreeObject(obj);
	xmlXPathFreeContext(ctx);
	return out;
}

/* cpu_policy mixed (issue 21) on the running domain, the guest read from it: with the pool
 * PU 1, vcpu 0 pinned to PU 0, vcpu 1, the emulator and the iothreads to PU 1, in libvirt and
 * in /proc; verify in force, then drift of the shared vcpu. */
static void
test_daemon_mixed(void **state)
{
	struct daemon *d = *state;
	struct qthread t[64];
	size_t n;
	char *out = NULL, *err = NULL, want[256];

	tool(d, 0, NULL, NULL, "apply", "--live --cpu-policy mixed --dedicated-cpus 0 --shared-set 1");
	assert_mixed_pins(d->dom, VIR_DOMAIN_AFFECT_LIVE, "0", "1");
	n = qemu_threads(lvd.qemu, t, 64);
	assert_true(n >= 4);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(t[i].cpus, strncmp(t[i].comm, "CPU 0/", 6) == 0 ? "0" : "1");
	tool(d, 0, &out, NULL, "verify", "--live --cpu-policy mixed --dedicated-cpus 0");
	assert_contains(out, "the plan is in force");
	free(out);

	set_vcpu_pin(d->dom, 1, "0", VIR_DOMAIN_AFFECT_LIVE);
	tool(d, 4, &out, &err, "verify", "--live --cpu-policy mixed --dedicated-cpus 0");
	snprintf(want, sizeof(want), "vcpupin 1 of '%s' (live) is '0', the plan says '1'", d->name);
	assert_contains(out, want);
	assert_contains(out, "(vcpu 1): Cpus_allowed_list");
	free(out);
	free(err);
}



/* apply --config leaves in the definition what `plan --format=libvirt` prints. */
static void
test_daemon_apply_config(void **state)
{
	struct daemon *d = *state;
	static const char *const paths[] = {
		"/domain/cputune/vcpupin", "/domain/cputune/emulatorpin",
		"/domain/cputune/iothreadpin", "/domain/cputune/shares", "/domain/cputune/period",
		"/domain/cputune/quota", "/domain/numatune/memory", "/domain/numatune/memnode",
	};
	const char *qos = "--shares 512 --period 100000 --quota 50000";
	char *out = NULL, *err = NULL, *plan = NULL, *wrapped = NULL, *defined;
	xmlDocPtr a, b;

	tool(d, 0, &out, &err, "apply", "--config %s %s", d->guest_opts, qos);
	assert_contains(out, "virDomainDefineXML(");
	free(out);
	free(err);
	/* The plan a fresh host gives, not the recorded guest's (a name recorded is placed). */
	{
		char *kept = strdup(getenv("TOPOMAP_STATE"));

		unsetenv("TOPOMAP_STATE");
		tool(d, 0, &plan, NULL, "plan", "--format=libvirt %s %s", d->guest_opts, qos);
		setenv("TOPOMAP_STATE", kept, 1);
		free(kept);
	}
	assert_true(asprintf(&wrapped, "<domain>%s</domain>", plan) > 0);
	defined = virDomainGetXMLDesc(d->dom, VIR_DOMAIN_XML_INACTIVE);
	a = xmlReadMemory(wrapped, (int)strlen(wrapped), "plan.xml", NULL, 0);
	b = xmlReadMemory(defined, (int)strlen(defined), "domain.xml", NULL, 0);
	assert_non_null(a);
	assert_non_null(b);
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		char *x = elements(a, paths[i]), *y = elements(b, paths[i]);

		assert_string_not_equal(x, "");
		if (!streq(x, y))
			fail_msg("%s: the plan has\n%sthe definition has\n%s", paths[i], x, y);
		free(x);
		free(y);
	}
	xmlFreeDoc(a);
	xmlFreeDoc(b);
	free(defined);
	free(wrapped);
	free(plan);
	check_pins(d, d->plan, VIR_DOMAIN_AFFECT_CONFIG);

	tool(d, 0, &out, &err, "verify", "--config %s %s", d->guest_opts, qos);
	free(out);
	free(err);
}

/*
 * Thread tid's cpu cgroup and each parent below the root get a realtime budget of `us`
 * (CONFIG_RT_GROUP_SCHED: libvirt's cgroups start with none, and the kernel refuses
 * SCHED_FIFO there), from the top down; `saved` (NULL: none) gets what each had, and with
 * `us` NULL, is written back from the bottom up. Nothing without cpu.rt_runtime_us.
 */
#define RT_LEVELS 8
static void
rt_budget(pid_t tid, const char *us, char saved[RT_LEVELS][32])
{
	char path[96], line[512], *cg = NULL, files[RT_LEVELS][640];
	size_t n = 0;
	FILE *f;

	if (access("/sys/fs/cgroup/cpu/cpu.rt_runtime_us", F_OK) < 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)tid);
	f = fopen(path, "re");
	assert_non_null(f);
	while (!cg && fgets(line, sizeof(line), f)) {
		char *ctrl = strchr(line, ':'), *rest = ctrl ? strchr(ctrl + 1, ':') : NULL;

		if (!rest)
			continue;
		*rest = '\0';
		/* The hierarchy whose controllers include "cpu" itself. */
		for (char *tok = strtok(ctrl + 1, ","); tok && !cg; tok = strtok(NULL, ","))
			if (streq(tok, "cpu"))
				cg = rest + 1;
	}
	fclose(f);
	assert_non_null(cg);
	cg[strcspn(cg, "\n")] = '\0';
	for (char *slash = strchr(cg + 1, '/');; slash = strchr(slash + 1, '/')) {
		assert_true(n < RT_LEVELS);
		snprintf(files[n++], sizeof(files[0]), "/sys/fs/cgroup/cpu%.*s/cpu.rt_runtime_us",
			 slash ? (int)(slash - cg) : (int)strlen(cg), cg);
		if (!slash)
			break;
	}
	if (streq(cg, "/"))
		return;
	for (size_t i = 0; us && i < n; i++) {
		const char *old = test_read_file(files[i]);

		snprintf(saved[i], sizeof(saved[0]), "%.*s", (int)strcspn(old, "\n"), old);
		assert_true(test_write_existing(files[i], us));
	}
	for (size_t i = n; !us && i-- > 0;)
		assert_true(test_write_existing(files[i], saved[i]));
}

/*
 * The live <vcpusched> the plan's (none, a guest without realtime vcpus): libvirt gave the vcpu
 * threads their classes at the start, so vcpu 1 made SCHED_FIFO by hand is drift, named with
 * its thread (issue 21), and made SCHED_OTHER again it is not.
 */
static void
test_daemon_vcpu_class(void **state)
{
	struct daemon *d = *state;
	struct qthread t[64];
	struct sched_param prio = {.sched_priority = 2}, none = {0};
	char *out = NULL, *err = NULL, want[256], saved[RT_LEVELS][32];
	pid_t vcpu1 = -1;
	size_t n;

	tool(d, 0, NULL, NULL, "apply", "--live %s", d->guest_opts);
	tool(d, 0, NULL, NULL, "verify", "--live %s", d->guest_opts);
	n = qemu_threads(lvd.qemu, t, 64);
	for (size_t i = 0; i < n; i++)
		if (strncmp(t[i].comm, "CPU 1/", 6) == 0)
			vcpu1 = t[i].tid;
	assert_true(vcpu1 > 0);
	rt_budget(vcpu1, "10000", saved);
	if (sched_setscheduler(vcpu1, SCHED_FIFO, &prio) < 0)
		fail_msg("sched_setscheduler(%d, SCHED_FIFO): %s", (int)vcpu1, strerror(errno));
	tool(d, 4, &out, &err, "verify", "--live %s", d->guest_opts);
	snprintf(want, sizeof(want), "vcpu 1 (thread %d) runs SCHED_FIFO priority 2, the plan does not make it realtime",
		 (int)vcpu1);
	assert_contains(out, want);
	free(out);
	free(err);
	assert_int_equal(sched_setscheduler(vcpu1, SCHED_OTHER, &none), 0);
	rt_budget(vcpu1, NULL, saved);
	tool(d, 0, NULL, NULL, "verify", "--live %s", d->guest_opts);
}

/* A plan without realtime vcpus takes <vcpusched> out of the definition (a state of its own:
 * the one of the test records the guest as realtime). */
static void
without_realtime(struct daemon *d)
{
	char *kept = strdup(getenv("TOPOMAP_STATE")), fresh[64], *xml;

	snprintf(fresh, sizeof(fresh), "/tmp/topomap-rt-%d.json", (int)getpid());
	setenv("TOPOMAP_STATE", fresh, 1);
	tool(d, 0, NULL, NULL, "apply", "--live --config %s", d->guest_opts);
	setenv("TOPOMAP_STATE", kept, 1);
	unlink(fresh);
	strcat(fresh, ".lock");
	unlink(fresh);
	free(kept);
	xml = virDomainGetXMLDesc(d->dom, VIR_DOMAIN_XML_INACTIVE);
	if (strstr(xml, "vcpusched"))
		fail_msg("the definition kept a <vcpusched>:\n%s", xml);
	free(xml);
}

/*
 * Realtime vcpus (issue 21) in the definition of the running domain, the guest given by
 * `opts` making `vcpus` realtime at priority 2: refused live alone, applied --live --config
 * with <vcpusched> defined, verify --config clean, the live side pending until the next start
 * (libvirt sets it when it starts the vcpu threads), and the definition edited behind
 * topomap's back (<vcpusched> on `edit_vcpus` at `edit_prio`) reported as drift.
 */
static void
realtime_in_definition(struct daemon *d, const char *opts, const char *vcpus,
		       const char *edit_vcpus, unsigned edit_prio)
{
	char *out = NULL, *err = NULL, *xml, *edited = NULL, want[512];
	virDomainPtr dom;

	tool(d, 1, &out, &err, "apply", "%s", opts);
	assert_contains(err, "libvirt cannot change the scheduler of running domain");
	free(out);
	free(err);
	tool(d, 0, &out, &err, "apply", "--live --config %s", opts);
	snprintf(want, sizeof(want), "virDomainDefineXML('%s' with <vcpusched> fifo priority 2 on vcpus %s)",
		 d->name, vcpus);
	assert_contains(out, want);
	free(out);
	free(err);
	xml = virDomainGetXMLDesc(d->dom, VIR_DOMAIN_XML_INACTIVE);
	snprintf(want, sizeof(want), "<vcpusched vcpus='%s' scheduler='fifo' priority='2'/>", vcpus);
	assert_contains(xml, want);
	tool(d, 0, NULL, NULL, "verify", "--config %s", opts);
	tool(d, 0, &out, &err, "verify", "%s", opts);
	snprintf(want, sizeof(want), "realtime vcpus of '%s' (live) are none; the definition has the plan's fifo priority 2 on vcpus %s, which takes effect at the next start",
		 d->name, vcpus);
	assert_contains(out, want);
	free(out);
	free(err);

	assert_int_equal(domain_xml_set_realtime(xml, edit_vcpus, edit_prio, &edited, NULL), 0);
	dom = virDomainDefineXML(d->conn, edited);
	assert_non_null(dom);
	virDomainFree(dom);
	tool(d, 4, &out, &err, "verify", "--config %s", opts);
	snprintf(want, sizeof(want), "realtime vcpus of '%s' (config) are fifo priority %u on vcpus %s, the plan says fifo priority 2 on vcpus %s",
		 d->name, edit_prio, edit_vcpus, vcpus);
	assert_contains(out, want);
	free(out);
	free(err);
	free(edited);
	free(xml);
}

/* A dedicated guest's realtime vcpu 1 in the definition, its priority edited by hand; then
 * the definition back without realtime vcpus. */
static void
test_daemon_realtime_config(void **state)
{
	struct daemon *d = *state;
	char opts[640];

	snprintf(opts, sizeof(opts), "%s --realtime-cpus 1 --realtime-priority 2", d->guest_opts);
	realtime_in_definition(d, opts, "1", "1", 7);
	without_realtime(d);
}

/*
 * A mixed guest's realtime vcpu (issue 21), the pool PU 1: vcpu 0, dedicated and realtime,
 * pinned alone to PU 0 and named by <vcpusched>, vcpu 1, the emulator and the iothreads on
 * the pool on both sides; <vcpusched> moved onto the shared vcpu by hand is drift.
 */
static void
test_daemon_mixed_realtime(void **state)
{
	struct daemon *d = *state;

	realtime_in_definition(d, "--cpu-policy mixed --dedicated-cpus 0 --shared-set 1 --realtime-cpus 0 --realtime-priority 2",
			       "0", "1", 2);
	assert_mixed_pins(d->dom, VIR_DOMAIN_AFFECT_LIVE, "0", "1");
	assert_mixed_pins(d->dom, VIR_DOMAIN_AFFECT_CONFIG, "0", "1");
	without_realtime(d);
}

/* Both sides at once, with QoS: libvirt's scheduler parameters and the vcpu cgroups. */
static void
test_daemon_apply_both(void **state)
{
	struct daemon *d = *state;
	virTypedParameterPtr params = NULL;
	unsigned long long shares = 0, period = 0;
	long long quota = 0;
	int n = 0;
	char *out = NULL, *err = NULL;

	tool(d, 0, &out, &err, "apply",
	     "--live --config %s --shares 300 --period 20000 --quota 10000", d->guest_opts);
	assert_contains(out, "cpu_shares 300, vcpu_period 20000, vcpu_quota 10000, live|config)");
	free(out);
	free(err);
	free(virDomainGetSchedulerType(d->dom, &n));
	params = calloc((size_t)n, sizeof(*params));
	assert_int_equal(virDomainGetSchedulerParametersFlags(d->dom, params, &n,
							       VIR_DOMAIN_AFFECT_LIVE), 0);
	assert_int_equal(virTypedParamsGetULLong(params, n, "cpu_shares", &shares), 1);
	assert_int_equal(virTypedParamsGetULLong(params, n, "vcpu_period", &period), 1);
	assert_int_equal(virTypedParamsGetLLong(params, n, "vcpu_quota", &quota), 1);
	assert_int_equal(shares, 300);
	assert_int_equal(period, 20000);
	assert_int_equal(quota, 10000);
	virTypedParamsClear(params, n);
	free(params);
	check_pins(d, d->plan, VIR_DOMAIN_AFFECT_LIVE);
	check_pins(d, d->plan, VIR_DOMAIN_AFFECT_CONFIG);
	check_proc(d, d->plan);

	/* cpu_shares changed behind the tool's back: drift (exit 4), not an error. */
	params = NULL;
	n = 0;
	assert_int_equal(virTypedParamsAddULLong(&params, &n, &(int){0}, "cpu_shares", 700), 0);
	assert_int_equal(virDomainSetSchedulerParametersFlags(d->dom, params, n,
							       VIR_DOMAIN_AFFECT_LIVE), 0);
	virTypedParamsFree(params, n);
	tool(d, 4, &out, &err, "verify", "--live %s --shares 300 --period 20000 --quota 10000",
	     d->guest_opts);
	assert_contains(out, "cpu_shares of '");
	assert_contains(out, "is 700, the plan says 300");
	assert_contains(err, "drifted from its plan");
	free(out);
	free(err);
}

/* Define and start a domain of user_domain_xml as u, a copy of d with its own name. */
static void
user_domain(const struct daemon *d, struct daemon *u, const char *numatune)
{
	char xml[4096];

	*u = *d;
	snprintf(u->name, sizeof(u->name), "%.60s-u", d->name);
	snprintf(u->guest_opts, sizeof(u->guest_opts),
		 "--name %s --vcpus 2 --sockets 1 --cores 2 --threads 1 --cell cpus=0,memory=128 "
		 "--cell cpus=1,memory=128 --cells-share-nodes --iothreads 2", u->name);
	snprintf(xml, sizeof(xml), user_domain_xml, u->name, numatune);
	u->dom = virDomainDefineXML(d->conn, xml);
	if (!u->dom || virDomainCreate(u->dom) < 0)
		fail_msg("cannot start a domain with '%s': %s", numatune, virGetLastErrorMessage());
	note_domain_cgroups(u->name);
}

static void
user_domain_remove(struct daemon *u)
{
	virDomainDestroy(u->dom);
	virDomainUndefine(u->dom);
	virDomainFree(u->dom);
	u->dom = NULL;
}

/* apply --live with the guest read from the domain, then verify --live finds it in force;
 * apply's output, to free. */
static char *
apply_verify_live(const struct daemon *u)
{
	char *out = NULL, *err = NULL, *verified = NULL;

	tool(u, 0, &out, &err, "apply", "--live");
	free(err);
	tool(u, 0, &verified, &err, "verify", "--live");
	assert_contains(verified, "the plan is in force");
	free(verified);
	free(err);
	return out;
}

/*
 * Domains as users define them (most without <numatune>), on this host: the plan's memory
 * nodes are what is in force, so apply --live makes no numatune call, puts the pins in force,
 * and verify finds the plan in force.
 */
static void
test_daemon_numatune_as_given(void **state)
{
	struct daemon *d = *state;
	char numatune[4][160];
	char *out = NULL;

	snprintf(numatune[0], sizeof(numatune[0]), "%s", "");
	snprintf(numatune[1], sizeof(numatune[1]),
		 "<numatune><memory mode='strict' nodeset='%d'/></numatune>", d->node);
	snprintf(numatune[2], sizeof(numatune[2]),
		 "<numatune><memory mode='restrictive' nodeset='%d'/></numatune>", d->node);
	snprintf(numatune[3], sizeof(numatune[3]),
		 "<numatune><memory mode='interleave' nodeset='%d'/></numatune>", d->node);
	for (size_t i = 0; i < ARRAY_SIZE(numatune); i++) {
		struct daemon u;

		user_domain(d, &u, numatune[i]);
		out = apply_verify_live(&u);
		if (strstr(out, "virDomainSetNumaParameters"))
			fail_msg("with '%s', apply --live changed the numatune:\n%s", numatune[i], out);
		assert_contains(out, "virDomainPinVcpuFlags(");
		free(out);
		user_domain_remove(&u);
	}
}

/*
 * The QoS of the definition is the guest's: cpu_shares changed by hand on the running domain
 * is drift for a verify that reads the guest from the domain, without --shares.
 */
static void
test_daemon_qos_read(void **state)
{
	struct daemon *d = *state;
	virTypedParameterPtr params = NULL;
	char *out = NULL, *err = NULL, want[160];
	struct daemon u;
	int n = 0, max = 0;

	user_domain(d, &u, "<cputune><shares>2048</shares><period>100000</period>"
			   "<quota>-1</quota></cputune>");
	out = apply_verify_live(&u);
	assert_contains(out, "cpu_shares 2048, vcpu_period 100000, vcpu_quota -1, live");
	free(out);
	assert_int_equal(virTypedParamsAddULLong(&params, &n, &max, "cpu_shares", 100), 0);
	assert_int_equal(virDomainSetSchedulerParametersFlags(u.dom, params, n,
							       VIR_DOMAIN_AFFECT_LIVE), 0);
	virTypedParamsFree(params, n);
	tool(&u, 4, &out, &err, "verify", "--live");
	snprintf(want, sizeof(want), "cpu_shares of '%s' (live) is 100, the plan says 2048", u.name);
	assert_contains(out, want);
	free(out);
	free(err);
	user_domain_remove(&u);
}

/* libvirt refuses a live numatune change after the pins were made, and the apply has no
 * --config to put it in: the pins come back, the definition is as it was. */
static void
test_daemon_rollback_numatune(void **state)
{
	struct daemon *d = *state;
	const struct tmap_plan *p = d->plan;
	char *out = NULL, *err = NULL, *before, *after, *s;

	set_vcpu_pin(d->dom, 0, tmap_plan_vcpu_cpuset(p, 0, 1), VIR_DOMAIN_AFFECT_LIVE);
	set_vcpu_pin(d->dom, 1, tmap_plan_vcpu_cpuset(p, 0, 0), VIR_DOMAIN_AFFECT_LIVE);
	before = virDomainGetXMLDesc(d->dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
	tool(d, 1, &out, &err, "apply", "--live %s --memory-mode restrictive", d->guest_opts);
	assert_contains(err, "can't change numatune mode for running domain");
	assert_contains(err, "apply with --config, and the memory moves at the next start");
	assert_contains(err, "restored what was there");
	s = vcpu_pin(d->dom, 0, VIR_DOMAIN_AFFECT_LIVE);
	assert_string_equal(s, tmap_plan_vcpu_cpuset(p, 0, 1));
	free(s);
	s = vcpu_pin(d->dom, 1, VIR_DOMAIN_AFFECT_LIVE);
	assert_string_equal(s, tmap_plan_vcpu_cpuset(p, 0, 0));
	free(s);
	after = virDomainGetXMLDesc(d->dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
	assert_string_equal(after, before);
	free(before);
	free(after);
	free(out);
	free(err);
}

/*
 * The memory libvirt will not move live (another mode than the running domain's), with
 * --config: the CPU side is in force live, the memory in the definition, and verify reports
 * the difference as pending until the next start, not as drift.
 */
static void
test_daemon_memory_pending(void **state)
{
	struct daemon *d = *state;
	struct tmap_backend_module *m = NULL;
	struct tmap_target *t = NULL;
	struct tmap_report *rep = NULL;
	struct tmap_error e = {0};
	struct tmap_plan *p;
	char *out = NULL, *err = NULL, *before, *defined, json[1024], want[256];
	int mode = -1, n = 0;
	virTypedParameterPtr params = NULL;

	snprintf(json, sizeof(json),
		 "{\"name\": \"%s\", \"vcpus\": 2, \"sockets\": 1, \"cores\": 2, \"threads\": 1,"
		 " \"cells\": [{\"cpus\": \"0\", \"memory_mib\": 128}, {\"cpus\": \"1\", \"memory_mib\": 128}],"
		 " \"cells_share_nodes\": true,"
		 " \"iothreads\": 2, \"memory_mode\": \"restrictive\"}", d->name);
	p = plan_for("live", json, NULL);
	set_vcpu_pin(d->dom, 0, tmap_plan_vcpu_cpuset(p, 0, 1),
		     VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG);
	before = virDomainGetXMLDesc(d->dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
	tool(d, 0, &out, &err, "apply", "--live --config %s --memory-mode restrictive",
	     d->guest_opts);
	snprintf(want, sizeof(want), "virDomainSetNumaParameters('%s', mode 'restrictive', nodeset '%s', config)",
		 d->name, tmap_plan_memory_nodeset(p, 0));
	assert_contains(out, want);
	free(out);
	free(err);
	check_pins(d, p, VIR_DOMAIN_AFFECT_LIVE);
	check_pins(d, p, VIR_DOMAIN_AFFECT_CONFIG);
	assert_int_equal(virDomainGetNumaParameters(d->dom, NULL, &n, VIR_DOMAIN_AFFECT_CONFIG), 0);
	params = calloc((size_t)n, sizeof(*params));
	assert_int_equal(virDomainGetNumaParameters(d->dom, params, &n, VIR_DOMAIN_AFFECT_CONFIG), 0);
	assert_int_equal(virTypedParamsGetInt(params, n, VIR_DOMAIN_NUMA_MODE, &mode), 1);
	assert_int_equal(mode, VIR_DOMAIN_NUMATUNE_MEM_RESTRICTIVE);
	virTypedParamsClear(params, n);
	free(params);

	/* Pending, not drift: through the library, and the tool's exit code. */
	assert_int_equal(tmap_backend_load("libvirt", &m, &e), 0);
	assert_int_equal(tmap_target_new(&t), 0);
	assert_int_equal(tmap_target_set(t, "connect", SYSTEM_URI), 0);
	assert_int_equal(tmap_target_set(t, "domain", d->name), 0);
	assert_int_equal(tmap_target_set(t, "live", ""), 0);
	if (tmap_verify(m, t, p, 0, 0, &rep, &e) != 0)
		fail_msg("verify --live: %s, %s", e.message,
			 tmap_report_drift_count(rep) ? tmap_report_drift(rep, 0) : "");
	assert_int_equal(tmap_report_drift_count(rep), 0);
	assert_int_equal(tmap_report_pending_count(rep), 1);
	snprintf(want, sizeof(want), "memory of '%s' (live) is in mode 'strict' on '%s'; the definition has the plan's mode 'restrictive' on '%s', which takes effect at the next start",
		 d->name, tmap_plan_memory_nodeset(p, 0), tmap_plan_memory_nodeset(p, 0));
	assert_string_equal(tmap_report_pending(rep, 0), want);
	tmap_report_free(rep);
	tool(d, 0, &out, &err, "verify", "--live --config %s --memory-mode restrictive",
	     d->guest_opts);
	free(out);
	free(err);

	/* The definition put back as it was: without the plan in it, the difference is drift. */
	virDomainFree(virDomainDefineXML(d->conn, before));
	rep = NULL;
	assert_int_equal(tmap_verify(m, t, p, 0, 0, &rep, &e), 1);
	assert_int_equal(tmap_report_pending_count(rep), 0);
	assert_contains(tmap_report_drift(rep, 0), "numatune mode of");
	tmap_report_free(rep);
	defined = virDomainGetXMLDesc(d->dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
	assert_string_equal(defined, before);
	free(defined);
	free(before);
	tmap_target_free(t);
	tmap_backend_unload(m);
	tmap_plan_free(p);
}

/* A vcpu pinned to a PU this host does not have: ERANGE from the cgroup write, after vcpu 0
 * was pinned; vcpu 0 comes back. */
static void
test_daemon_rollback_erange(void **state)
{
	struct daemon *d = *state;
	struct tmap_topology *host = test_topology("live");
	char *out = NULL, *err = NULL, *s, synth[128], reserve[64];
	int last = -1;
	struct qthread t[64];
	size_t n;

	/* A host of the same PUs and two more: vcpu 0 on the last real PU, vcpu 1 beyond. */
	for (unsigned i = 0; i < tmap_topology_node_count(host); i++) {
		const char *cpus = tmap_topology_node_cpus(host, i);
		const char *tail = strrchr(cpus, '-') > strrchr(cpus, ',') ? strrchr(cpus, '-') :
									      strrchr(cpus, ',');
		int v = atoi(tail ? tail + 1 : cpus);

		if (*cpus && v > last)
			last = v;
	}
	tmap_topology_free(host);
	assert_true(last >= 0);
	snprintf(synth, sizeof(synth), "synthetic:pack:1@numa:1(memory=4GiB)@core:%d@pu:1", last + 3);
	if (last > 0)
		snprintf(reserve, sizeof(reserve), "0-%d,%d", last - 1, last + 1);
	else
		snprintf(reserve, sizeof(reserve), "%d", last + 1);

	set_vcpu_pin(d->dom, 0, "0", VIR_DOMAIN_AFFECT_LIVE);
	set_vcpu_pin(d->dom, 1, "0", VIR_DOMAIN_AFFECT_LIVE);
	tool(d, 1, &out, &err, "apply", "--live --topology %s --reserve %s %s", synth, reserve,
	     d->guest_opts);
	assert_contains(err, "cannot pin vcpu 1 of");
	assert_contains(err, "Numerical result out of range");
	assert_contains(err, "restored what was there");
	s = vcpu_pin(d->dom, 0, VIR_DOMAIN_AFFECT_LIVE);
	assert_string_equal(s, "0");
	free(s);
	s = vcpu_pin(d->dom, 1, VIR_DOMAIN_AFFECT_LIVE);
	assert_string_equal(s, "0");
	free(s);
	n = qemu_threads(lvd.qemu, t, 64);
	for (size_t i = 0; i < n; i++)
		if (strncmp(t[i].comm, "CPU ", 4) == 0)
			assert_string_equal(t[i].cpus, "0");
	free(out);
	free(err);
}

/* ---------------------------------------------------------------------------------------- */
/* libvirtd goes away during an apply */

/* What a domain has in force, through libvirt and in the kernel. */
struct domain_state {
	char *vcpu[2], *emulator, *iothreads, *numa;
	struct qthread t[64];
	size_t n;
};

static void
domain_state_read(const struct daemon *d, struct domain_state *s)
{
	virTypedParameterPtr params = NULL;
	const char *nodeset = NULL;
	int n = 0, mode = -1;

	for (unsigned v = 0; v < 2; v++)
		s->vcpu[v] = vcpu_pin(d->dom, v, VIR_DOMAIN_AFFECT_LIVE);
	s->emulator = emulator_pin(d->dom, VIR_DOMAIN_AFFECT_LIVE);
	s->iothreads = iothread_pins(d->dom, VIR_DOMAIN_AFFECT_LIVE);
	if (virDomainGetNumaParameters(d->dom, NULL, &n, VIR_DOMAIN_AFFECT_LIVE) < 0)
		fail_msg("numatune: %s", virGetLastErrorMessage());
	params = calloc((size_t)n + 1, sizeof(*params));
	assert_non_null(params);
	if (n > 0 && virDomainGetNumaParameters(d->dom, params, &n, VIR_DOMAIN_AFFECT_LIVE) < 0)
		fail_msg("numatune: %s", virGetLastErrorMessage());
	virTypedParamsGetInt(params, n, VIR_DOMAIN_NUMA_MODE, &mode);
	virTypedParamsGetString(params, n, VIR_DOMAIN_NUMA_NODESET, &nodeset);
	assert_true(asprintf(&s->numa, "mode %d nodeset '%s'", mode, nodeset ? nodeset : "") > 0);
	virTypedParamsClear(params, n);
	free(params);
	s->n = qemu_threads(lvd.qemu, s->t, ARRAY_SIZE(s->t));
	assert_true(s->n >= 4);
}

static void
domain_state_clear(struct domain_state *s)
{
	free(s->vcpu[0]);
	free(s->vcpu[1]);
	free(s->emulator);
	free(s->iothreads);
	free(s->numa);
}

/* Everything as it was: libvirt's pins and numatune, and every QEMU thread of before that is
 * still there (TCG workers come and go), with its CPUs and nodes. */
static void
assert_domain_as_before(const struct domain_state *before, const struct domain_state *now)
{
	size_t same = 0;

	assert_string_equal(now->vcpu[0], before->vcpu[0]);
	assert_string_equal(now->vcpu[1], before->vcpu[1]);
	assert_string_equal(now->emulator, before->emulator);
	assert_string_equal(now->iothreads, before->iothreads);
	assert_string_equal(now->numa, before->numa);
	for (size_t i = 0; i < before->n; i++)
		for (size_t k = 0; k < now->n; k++) {
			if (now->t[k].tid != before->t[i].tid)
				continue;
			if (!streq(now->t[k].cpus, before->t[i].cpus) ||
			    !streq(now->t[k].mems, before->t[i].mems))
				fail_msg("QEMU thread %d '%s' is on CPUs '%s' nodes '%s'; it was on '%s' '%s'",
					 now->t[k].tid, now->t[k].comm, now->t[k].cpus,
					 now->t[k].mems, before->t[i].cpus, before->t[i].mems);
			same++;
		}
	/* Every vcpu thread and the iothreads at least: the same QEMU runs on. */
	assert_true(same >= 4);
}

/* The tool, run in a thread so that this one can restart libvirtd meanwhile. */
struct tool_run {
	char opts[1024], *argv[64];
	char *out, *err;
	int status;
	volatile bool done;
};

static void *
tool_thread(void *userdata)
{
	struct tool_run *t = userdata;

	t->status = test_run(t->argv, NULL, &t->out, &t->err);
	t->done = true;
	return NULL;
}

/*
 * apply --live with libvirtd killed (SIGKILL, by tests/fault-inject.c in the tool) just before
 * the tool pins vcpu 1, vcpu 0 being pinned anew already. With `restart`, libvirtd is started
 * again as soon as it is gone, as systemd would. The tool must exit `expect` with one line
 * that names the call and that libvirtd went away, and the state file must not hold the guest.
 * `before` receives what was in force; returns the tool's stderr.
 */
static char *
apply_with_libvirtd_killed(struct daemon *d, bool restart, const char *timeout, int expect,
			   struct domain_state *before)
{
	const struct tmap_plan *p = d->plan;
	struct tool_run *t = calloc(1, sizeof(*t));
	char state[512], want[512], *err;
	pthread_t thread;
	long waited = 0;

	assert_non_null(t);
	/* Pins the plan changes, so that every pin made is a change. */
	set_vcpu_pin(d->dom, 0, tmap_plan_vcpu_cpuset(p, 0, 1), VIR_DOMAIN_AFFECT_LIVE);
	set_vcpu_pin(d->dom, 1, tmap_plan_vcpu_cpuset(p, 0, 0), VIR_DOMAIN_AFFECT_LIVE);
	domain_state_read(d, before);

	snprintf(state, sizeof(state), "%s/state-%d.json", lvd.tmp, (int)restart);
	snprintf(t->opts, sizeof(t->opts), "--live -o reconnect-timeout=%s", timeout);
	tool_argv(d, "apply", t->opts, t->argv);
	/* The tool's own state, so that test_run() leaves the environment alone meanwhile. */
	setenv("TOPOMAP_STATE", state, 1);
	test_inject_fault("virDomainPinVcpuFlags", 2, lvd.daemon);
	assert_int_equal(pthread_create(&thread, NULL, tool_thread, t), 0);
	while (waitpid(lvd.daemon, NULL, WNOHANG) == 0) {
		if (t->done || waited > 30000) {
			pthread_join(thread, NULL);
			test_inject_fault(NULL, 0, 0);
			fail_msg("libvirtd was not killed (tool exited %d):\n%s%s", t->status,
				 t->out ? t->out : "", t->err ? t->err : "");
		}
		sleep_ms(10);
		waited += 10;
	}
	lvd.daemon = 0;
	/* The tool runs on, without a daemon; the next daemon must not be injected with faults. */
	test_inject_fault(NULL, 0, 0);
	if (restart)
		assert_int_equal(spawn_daemon(false), 0);
	pthread_join(thread, NULL);
	if (!restart)
		assert_int_equal(spawn_daemon(false), 0);
	setenv("TOPOMAP_STATE", getenv("TOPOMAP_TEST_DEFAULT_STATE"), 1);
	assert_false(test_state_has_guest(state, d->name));
	unlink(state);
	/* The domain's QEMU ran on, and the new daemon found it. */
	assert_int_equal(connect_daemon(d), 0);
	assert_int_equal(kill(lvd.qemu, 0), 0);
	assert_int_equal(virDomainIsActive(d->dom), 1);

	if (t->status != expect)
		fail_msg("apply exited %d, not %d:\n%s%s", t->status, expect, t->out, t->err);
	snprintf(want, sizeof(want),
		 "topomap: apply: cannot pin vcpu 1 of '%s' to '%s' (live): libvirtd at '%s' went away during virDomainPinVcpuFlags (",
		 d->name, tmap_plan_vcpu_cpuset(p, 0, 1), SYSTEM_URI);
	assert_contains(t->err, want);
	assert_int_equal(strchr(t->err, '\n') - t->err + 1, (long)strlen(t->err));
	assert_string_equal(t->out, "");
	err = t->err;
	free(t->out);
	free(t);
	return err;
}

/* libvirtd killed midway and back at once: the tool reconnects, puts vcpu 0 back, and says
 * which call failed and why. */
static void
test_daemon_killed_midway(void **state)
{
	struct daemon *d = *state;
	struct domain_state before = {0}, after = {0};
	char *err = apply_with_libvirtd_killed(d, true, "30", 1, &before);

	assert_contains(err, "; restored what was there\n");
	free(err);

	domain_state_read(d, &after);
	assert_domain_as_before(&before, &after);
	domain_state_clear(&before);
	domain_state_clear(&after);
}

/* libvirtd killed midway and not back within -o reconnect-timeout: exit 5, and the message
 * says that nothing was put back and what may be left changed, which is so. */
static void
test_daemon_killed_for_good(void **state)
{
	struct daemon *d = *state;
	const struct tmap_plan *p = d->plan;
	struct domain_state before = {0}, after = {0};
	char *err = apply_with_libvirtd_killed(d, false, "1", 5, &before), want[512];

	snprintf(want, sizeof(want),
		 "; restore failed too: libvirtd at '%s' did not come back within 1 s, so nothing was put back; left as the apply may have made them: live vcpupin 0 was '%s', live vcpupin 1 was '%s'\n",
		 SYSTEM_URI, before.vcpu[0], before.vcpu[1]);
	assert_contains(err, want);
	free(err);

	/* Just so: vcpu 0 as the plan has it, in libvirt and in the kernel; the rest as before. */
	domain_state_read(d, &after);
	assert_string_equal(after.vcpu[0], tmap_plan_vcpu_cpuset(p, 0, 0));
	assert_string_not_equal(after.vcpu[0], before.vcpu[0]);
	assert_string_equal(after.vcpu[1], before.vcpu[1]);
	assert_string_equal(after.emulator, before.emulator);
	assert_string_equal(after.iothreads, before.iothreads);
	for (size_t i = 0; i < after.n; i++)
		if (strncmp(after.t[i].comm, "CPU 0/", 6) == 0)
			assert_string_equal(after.t[i].cpus, tmap_plan_vcpu_cpuset(p, 0, 0));
	domain_state_clear(&after);
	/* Put back by hand, as the operator would from the message. */
	set_vcpu_pin(d->dom, 0, before.vcpu[0], VIR_DOMAIN_AFFECT_LIVE);
	domain_state_read(d, &after);
	assert_domain_as_before(&before, &after);
	domain_state_clear(&before);
	domain_state_clear(&after);
}

/*
 * 200 applies killed at random points through the private libvirtd: after each, the next
 * writing session settles what the kill left pending, and the domain and the state agree:
 * recorded means in force through its recorded target, unrecorded means as before. The
 * vcpus start swapped against the plan, so that every pin an apply makes is a change.
 */
static void
swap_vcpus(const struct daemon *d)
{
	set_vcpu_pin(d->dom, 0, tmap_plan_vcpu_cpuset(d->plan, 0, 1), VIR_DOMAIN_AFFECT_LIVE);
	set_vcpu_pin(d->dom, 1, tmap_plan_vcpu_cpuset(d->plan, 0, 0), VIR_DOMAIN_AFFECT_LIVE);
}

static unsigned
libvirt_settle_and_agree(const struct daemon *d, const char *state,
			 const struct domain_state *before)
{
	struct tmap_session_options o = TMAP_SESSION_OPTIONS_INIT;
	struct tmap_session *s = NULL;
	struct tmap_error err = {0};
	struct domain_state now = {0};
	unsigned settled;

	o.state = state;
	o.flags = TMAP_SESSION_WRITE;
	if (tmap_session_open(&o, &s, &err) < 0)
		fail_msg("the session after a kill does not open: %s", err.message);
	settled = (unsigned)tmap_session_notice_count(s);
	if (tmap_session_lookup(s, d->name)) {
		int r = tmap_session_verify(s, d->name, NULL, &err);

		if (r != 0)
			fail_msg("'%s' is recorded but not in force (%d): %s", d->name, r, err.message);
		assert_int_equal(tmap_session_release(s, d->name, &err), 0);
		swap_vcpus(d);
	} else {
		domain_state_read(d, &now);
		assert_domain_as_before(before, &now);
		domain_state_clear(&now);
	}
	tmap_session_close(s);
	return settled;
}

static void
test_daemon_killed_at_random_points(void **unused)
{
	struct daemon *d = *unused;
	unsigned killed = 0, finished = 0, settled = 0;
	struct domain_state before = {0};
	char state[512], opts[600], *argv[64];
	uint32_t seed = 20261205;
	long span_us = 0;

	snprintf(state, sizeof(state), "%s/state-killed.json", lvd.tmp);
	snprintf(opts, sizeof(opts), "--live --state %s", state);
	tool_argv(d, "apply", opts, argv);
	swap_vcpus(d);
	domain_state_read(d, &before);
	for (int i = 0; i < 3; i++) {
		span_us += test_run_timed_us(argv);
		libvirt_settle_and_agree(d, state, &before);
	}
	span_us = span_us / 3 * 6 / 5 + 1;
	for (int round = 0; round < 200; round++) {
		bool k = test_kill_at_random(test_spawn_quiet(argv), &seed, span_us);

		killed += k;
		finished += !k;
		/* The first runs are the slowest (cold caches, a sanitizer's start): the window
		 * follows the applies as they run now, so that most rounds kill one midway. */
		span_us = k ? span_us + span_us / 20 : span_us - span_us / 10 + 1;
		settled += libvirt_settle_and_agree(d, state, &before);
	}
	print_message("%u applies killed midway, %u finished first (within %ld us), %u pending "
		      "guests settled; the domain and the state agreed after each\n",
		      killed, finished, span_us, settled);
	assert_true(killed > 20);
	domain_state_clear(&before);
	unlink(state);
	snprintf(opts, sizeof(opts), "%s.lock", state);
	unlink(opts);
}

/* The host as libvirt describes it is the host hwloc finds. */
static void
test_daemon_topology(void **state)
{
	struct daemon *d = *state;
	char *a = NULL, *b = NULL;
	json_object *ja, *jb, *na, *nb;

	tool(d, 0, &a, NULL, "topology", "--topology libvirt:" SYSTEM_URI " --format json");
	tool(d, 0, &b, NULL, "topology", "--format json");
	ja = json_tokener_parse(a);
	jb = json_tokener_parse(b);
	assert_non_null(ja);
	assert_non_null(jb);
	assert_true(json_object_object_get_ex(ja, "nodes", &na));
	assert_true(json_object_object_get_ex(jb, "nodes", &nb));
	assert_int_equal(json_object_array_length(na), json_object_array_length(nb));
	for (size_t i = 0; i < json_object_array_length(na); i++) {
		json_object *x = json_object_array_get_idx(na, i);
		json_object *y = json_object_array_get_idx(nb, i);
		static const char *const keys[] = {"id", "cpus", "cores", "memory_mib", "cpuless"};

		for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
			json_object *vx, *vy;

			assert_true(json_object_object_get_ex(x, keys[k], &vx));
			assert_true(json_object_object_get_ex(y, keys[k], &vy));
			if (!json_object_equal(vx, vy))
				fail_msg("node %zu: %s is %s from libvirt, %s from hwloc", i,
					 keys[k], json_object_to_json_string(vx),
					 json_object_to_json_string(vy));
		}
	}
	json_object_put(ja);
	json_object_put(jb);
	free(a);
	free(b);
}

int
main(void)
{
	const struct CMUnitTest fast[] = {
		cmocka_unit_test(test_cpumap),
		cmocka_unit_test(test_caps_smt),
		cmocka_unit_test(test_caps_nodedevs),
		cmocka_unit_test(test_caps_only_hugepage_size),
		cmocka_unit_test(test_caps_layouts),
		cmocka_unit_test(test_caps_errors),
		cmocka_unit_test(test_describe_xml),
		cmocka_unit_test(test_describe_hostdevs),
		cmocka_unit_test(test_describe_realtime),
		cmocka_unit_test(test_describe_names),
		cmocka_unit_test(test_describe_hugepages),
		cmocka_unit_test(test_describe_errors),
		cmocka_unit_test(test_memnodes_edit),
		cmocka_unit_test(test_fast_apply),
		cmocka_unit_test(test_fast_dry_run),
		cmocka_unit_test(test_fast_drift),
		cmocka_unit_test(test_fast_mixed),
		cmocka_unit_test(test_fast_rollback),
		cmocka_unit_test(test_fast_refused_early),
		cmocka_unit_test(test_fast_realtime_live),
		cmocka_unit_test(test_fast_targets),
		cmocka_unit_test(test_fast_stopped),
		cmocka_unit_test(test_fast_describe_and_host),
		cmocka_unit_test(test_fast_identify),
		cmocka_unit_test(test_fast_error_handler),
		cmocka_unit_test(test_fast_cli),
		cmocka_unit_test(test_fast_cli_reapply_recorded),
	};
	const struct CMUnitTest daemon[] = {
		cmocka_unit_test_setup_teardown(test_daemon_apply_live, test_state_setup, test_state_teardown),
		cmocka_unit_test(test_daemon_dry_run),
		/* drift_proc reads the pins test_daemon_drift applied and recorded */
		cmocka_unit_test_setup_teardown(test_daemon_drift, test_state_setup, NULL),
		cmocka_unit_test_setup_teardown(test_daemon_drift_proc, NULL, test_state_teardown),
		cmocka_unit_test_setup_teardown(test_daemon_mixed, test_state_setup, test_state_teardown),
		cmocka_unit_test_setup_teardown(test_daemon_apply_config, test_state_setup, test_state_teardown),
		cmocka_unit_test_setup_teardown(test_daemon_apply_both, test_state_setup, test_state_teardown),
		cmocka_unit_test_setup_teardown(test_daemon_realtime_config, test_state_setup, test_state_teardown),
		cmocka_unit_test_setup_teardown(test_daemon_mixed_realtime, test_state_setup, test_state_teardown),
		cmocka_unit_test_setup_teardown(test_daemon_vcpu_class, test_state_setup, test_state_teardown),
		cmocka_unit_test(test_daemon_rollback_numatune),
		cmocka_unit_test_setup_teardown(test_daemon_numatune_as_given, test_state_setup, test_state_teardown),
		cmocka_unit_test_setup_teardown(test_daemon_memory_pending, test_state_setup, test_state_teardown),
		cmocka_unit_test_setup_teardown(test_daemon_qos_read, test_state_setup, test_state_teardown),
		cmocka_unit_test(test_daemon_rollback_erange),
		cmocka_unit_test(test_daemon_killed_midway),
		cmocka_unit_test(test_daemon_killed_for_good),
		cmocka_unit_test(test_daemon_killed_at_random_points),
		cmocka_unit_test(test_daemon_topology),
	};
	const char *missing = daemon_missing();
	int r;

	/* The test's own connection outlives the daemons it kills: libvirt asks its users to
	 * ignore SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);

	/* The daemon's directories are this process's own: a mount namespace, entered before
	 * anything starts a thread (unshare refuses a threaded process). */
	if (!missing && (unshare(CLONE_NEWNS) < 0 ||
			 mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0))
		missing = "no mount namespace (unshare(CLONE_NEWNS) refused)";
	r = cmocka_run_group_tests_name("libvirt in-process", fast, fast_setup, fast_teardown);
	if (missing) {
		printf("# skip the real libvirtd part: %s\n", missing);
		return r != 0 ? r : 77;
	}
	return r + cmocka_run_group_tests_name("libvirt daemon", daemon, daemon_setup,
					       daemon_teardown);
}
