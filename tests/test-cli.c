/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The topomap CLI end to end: the real binary ($TOPOMAP_BIN), spawned without a shell, on
 * synthetic hosts and the bundled example host. The tests check what scripts rely on: exit
 * codes, one-line messages that name what was wrong, nothing on stdout on failure, the JSON
 * contract keys, and placement properties, never a copy of the output.
 */
#include <glob.h>
#include <json-c/json.h>
#include <limits.h>
#include <sys/stat.h>

#include "testlib.h"

/* 2 packages, 1 node each, 2 cores of 2 PUs, siblings numbered 4 apart. */
#define HOST_SMALL "synthetic:pack:2 numa:1(memory=8GiB) core:2 pu:2(indexes=0,4,1,5,2,6,3,7)"
/* 2 nodes, 4 cores of 2 PUs each: 16 PUs, siblings numbered 8 apart. */
#define HOST_16                                                                                    \
	"synthetic:pack:2 numa:1(memory=16GiB) core:4 "                                            \
	"pu:2(indexes=0,8,1,9,2,10,3,11,4,12,5,13,6,14,7,15)"
/* The smallest host `make demo` promises to work on: one node, two PUs, no SMT. */
#define HOST_TINY "synthetic:numa:1(memory=4GiB) core:2 pu:1"

#define MAX_ARGS 64


static void
print_result(const struct test_result *r)
{
	print_message("exit %d\nstdout: %s\nstderr: %s\n", r->status, r->out, r->err);
}

static void
assert_ok(const struct test_result *r)
{
	if (r->status != 0 || r->err[0] || !r->out[0])
		print_result(r);
	assert_int_equal(r->status, 0);
	assert_string_equal(r->err, "");
	assert_true(r->out[0] != '\0');
}

/* A failure: the exit code, nothing on stdout, exactly one line "topomap: ..." on stderr
 * that contains each of the needles. */
static void
assert_failure(const struct test_result *r, int status, const char *const *needles)
{
	const char *nl = strchr(r->err, '\n');

	if (r->status != status || r->out[0] || !nl || nl[1])
		print_result(r);
	assert_int_equal(r->status, status);
	assert_string_equal(r->out, "");
	assert_non_null(nl);
	assert_true(nl[1] == '\0');
	assert_true(strncmp(r->err, "topomap: ", 9) == 0);
	for (; *needles; needles++) {
		if (!strstr(r->err, *needles))
			fail_msg("stderr '%s' does not mention '%s'", r->err, *needles);
	}
}

#define EXPECT_FAIL(status, needles, ...)                                                          \
	do {                                                                                       \
		struct test_result r_ = RUN(__VA_ARGS__);                                               \
		assert_failure(&r_, status, (const char *const[]){NEEDLES needles, NULL});         \
		test_result_clear(&r_);                                                                 \
	} while (0)
#define NEEDLES(...) __VA_ARGS__

static struct json_object *
parse_json(const char *text)
{
	struct json_object *j = json_tokener_parse(text);

	if (!j)
		fail_msg("not JSON: %s", text);
	return j;
}

static struct json_object *
get(struct json_object *obj, const char *key, enum json_type type)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(obj, key, &v))
		fail_msg("no key '%s' in %s", key, json_object_to_json_string(obj));
	if (!json_object_is_type(v, type))
		fail_msg("key '%s' has the wrong type in %s", key, json_object_to_json_string(obj));
	return v;
}

static const char *
get_string(struct json_object *obj, const char *key)
{
	return json_object_get_string(get(obj, key, json_type_string));
}

static int64_t
get_int(struct json_object *obj, const char *key)
{
	return json_object_get_int64(get(obj, key, json_type_int));
}

static hwloc_bitmap_t
set_of(const char *list)
{
	hwloc_bitmap_t set = NULL;

	if (bitmap_parse_list(list, &set) < 0)
		fail_msg("'%s' is not in list syntax", list);
	return set;
}

static bool
set_equals(const char *list, const char *expected)
{
	hwloc_bitmap_t a = set_of(list), b = set_of(expected);
	bool eq = hwloc_bitmap_isequal(a, b);

	hwloc_bitmap_free(a);
	hwloc_bitmap_free(b);
	return eq;
}

/* The host as the CLI describes it: PU OS index -> index of its core, and node OS index ->
 * its PUs, taken from `topomap topology --format json`. */
struct host {
	int core_of[1024];
	hwloc_bitmap_t node_cpus[16];
	unsigned nnodes;
};

static void
host_load(struct host *h, const char *source)
{
	struct test_result r = RUN("topology", "--topology", source, "--format", "json");
	struct json_object *j, *nodes;
	int ncore = 0;

	assert_ok(&r);
	memset(h, 0, sizeof(*h));
	for (size_t i = 0; i < ARRAY_SIZE(h->core_of); i++)
		h->core_of[i] = -1;
	j = parse_json(r.out);
	nodes = get(j, "nodes", json_type_array);
	h->nnodes = (unsigned)json_object_array_length(nodes);
	assert_true(h->nnodes <= ARRAY_SIZE(h->node_cpus));
	for (unsigned n = 0; n < h->nnodes; n++) {
		struct json_object *node = json_object_array_get_idx(nodes, n);
		struct json_object *cores = get(node, "cores", json_type_array);
		int64_t id = get_int(node, "id");

		assert_true(id >= 0 && id < (int64_t)ARRAY_SIZE(h->node_cpus));
		h->node_cpus[id] = set_of(get_string(node, "cpus"));
		for (size_t c = 0; c < json_object_array_length(cores); c++, ncore++) {
			struct json_object *pus = json_object_array_get_idx(cores, c);

			for (size_t p = 0; p < json_object_array_length(pus); p++) {
				int pu = json_object_get_int(json_object_array_get_idx(pus, p));

				assert_true(pu >= 0 && pu < (int)ARRAY_SIZE(h->core_of));
				h->core_of[pu] = ncore;
			}
		}
	}
	json_object_put(j);
	test_result_clear(&r);
}

static void
host_clear(struct host *h)
{
	for (size_t i = 0; i < ARRAY_SIZE(h->node_cpus); i++)
		if (h->node_cpus[i])
			hwloc_bitmap_free(h->node_cpus[i]);
}

static const char *
source_path(const char *rel)
{
	static char path[PATH_MAX];
	const char *root = getenv("TOPOMAP_SOURCE_ROOT");

	assert_non_null(root);
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	return path;
}

/* A scratch directory for guest files, removed by the teardown. */
struct scratch {
	char dir[64];
	char path[8][128];
	unsigned n;
};

static int
scratch_setup(void **state)
{
	struct scratch *s = calloc(1, sizeof(*s));

	strcpy(s->dir, "/tmp/topomap-test-cli-XXXXXX");
	if (!mkdtemp(s->dir))
		return -1;
	*state = s;
	return 0;
}

static int
scratch_teardown(void **state)
{
	struct scratch *s = *state;

	for (unsigned i = 0; i < s->n; i++)
		unlink(s->path[i]);
	rmdir(s->dir);
	free(s);
	return 0;
}

static const char *
scratch_file(struct scratch *s, const char *name, const char *text)
{
	char path[sizeof(s->path[0])];
	FILE *f;

	assert_true(s->n < ARRAY_SIZE(s->path));
	snprintf(path, sizeof(path), "%s/%s", s->dir, name);
	strcpy(s->path[s->n], path);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return s->path[s->n++];
}

/* ------------------------------------------------------------------------------------- */

static void
test_version_and_help(void **state)
{
	struct test_result r;

	r = RUN("--version");
	assert_ok(&r);
	assert_string_equal(r.out, "topomap " TOPOMAP_VERSION "\n");
	test_result_clear(&r);

	r = RUN("--help");
	assert_ok(&r);
	assert_non_null(strstr(r.out, "plan"));
	assert_non_null(strstr(r.out, "topology"));
	test_result_clear(&r);

	r = RUN("plan", "--help");
	assert_ok(&r);
	assert_non_null(strstr(r.out, "--vcpus"));
	assert_non_null(strstr(r.out, "--reserve"));
	test_result_clear(&r);

	r = RUN("topology", "--help");
	assert_ok(&r);
	assert_non_null(strstr(r.out, "--topology"));
	test_result_clear(&r);
}

/* The contract shape on a host whose siblings are numbered apart: {"nodes":[{"id","memory_mib",
 * "cpus","cores":[[0,4],...]}],"distances":...}. */
static void
test_topology_json_synthetic(void **state)
{
	static const char *const cpus[] = {"0-1,4-5", "2-3,6-7"};
	static const int cores[2][2][2] = {{{0, 4}, {1, 5}}, {{2, 6}, {3, 7}}};
	struct test_result r = RUN("topology", "--topology", HOST_SMALL, "--format=json");
	struct json_object *j, *nodes, *distances = NULL;

	assert_ok(&r);
	j = parse_json(r.out);
	nodes = get(j, "nodes", json_type_array);
	assert_int_equal(json_object_array_length(nodes), 2);
	for (int n = 0; n < 2; n++) {
		struct json_object *node = json_object_array_get_idx(nodes, n);
		struct json_object *c = get(node, "cores", json_type_array);

		assert_int_equal(get_int(node, "id"), n);
		assert_int_equal(get_int(node, "memory_mib"), 8192);
		assert_true(set_equals(get_string(node, "cpus"), cpus[n]));
		assert_int_equal(json_object_array_length(c), 2);
		for (int k = 0; k < 2; k++) {
			struct json_object *pus = json_object_array_get_idx(c, k);

			assert_true(json_object_is_type(pus, json_type_array));
			assert_int_equal(json_object_array_length(pus), 2);
			for (int p = 0; p < 2; p++) {
				struct json_object *pu = json_object_array_get_idx(pus, p);

				assert_int_equal(json_object_get_int(pu), cores[n][k][p]);
			}
		}
	}
	/* A synthetic host reports no distances: either no matrix, or a square one. */
	if (json_object_object_get_ex(j, "distances", &distances) && distances &&
	    json_object_array_length(distances) > 0) {
		assert_int_equal(json_object_array_length(distances), 2);
		assert_int_equal(json_object_get_int(json_object_array_get_idx(
					 json_object_array_get_idx(distances, 0), 0)),
				 10);
	}
	json_object_put(j);
	test_result_clear(&r);

	r = RUN("topology", "--topology", HOST_SMALL);
	assert_ok(&r);
	test_result_clear(&r);
}

/* The bundled example host: an Intel-style 2-socket host, siblings 12 apart, distances 10/21. */
static void
test_topology_json_example_host(void **state)
{
	struct test_result r = RUN("topology", "--topology", source_path("examples/host-2s-ht.xml"),
			      "--format", "json");
	struct json_object *j, *nodes, *distances, *node0, *core0;

	assert_ok(&r);
	j = parse_json(r.out);
	nodes = get(j, "nodes", json_type_array);
	assert_int_equal(json_object_array_length(nodes), 2);
	node0 = json_object_array_get_idx(nodes, 0);
	assert_true(set_equals(get_string(node0, "cpus"), "0-5,12-17"));
	assert_true(set_equals(get_string(json_object_array_get_idx(nodes, 1), "cpus"),
			       "6-11,18-23"));
	assert_int_equal(get_int(node0, "memory_mib"), 65536);
	core0 = json_object_array_get_idx(get(node0, "cores", json_type_array), 0);
	assert_int_equal(json_object_get_int(json_object_array_get_idx(core0, 0)), 0);
	assert_int_equal(json_object_get_int(json_object_array_get_idx(core0, 1)), 12);
	distances = get(j, "distances", json_type_array);
	assert_int_equal(json_object_array_length(distances), 2);
	for (int a = 0; a < 2; a++) {
		struct json_object *row = json_object_array_get_idx(distances, a);

		assert_int_equal(json_object_array_length(row), 2);
		for (int b = 0; b < 2; b++)
			assert_int_equal(json_object_get_int(json_object_array_get_idx(row, b)),
					 a == b ? 10 : 21);
	}
	json_object_put(j);
	test_result_clear(&r);
}

/* Check the contract keys of one planned guest and return it. */
static struct json_object *
plan_guest(struct json_object *plan, size_t index, const char *name)
{
	struct json_object *g = json_object_array_get_idx(get(plan, "guests", json_type_array),
							  index);
	struct json_object *explain, *memory;

	assert_non_null(g);
	assert_string_equal(get_string(g, "name"), name);
	get(g, "vcpus", json_type_array);
	get(g, "cells", json_type_array);
	get_string(get(g, "emulator", json_type_object), "cpuset");
	get(g, "iothreads", json_type_array);
	memory = get(g, "memory", json_type_object);
	get_string(memory, "mode");
	get_string(memory, "nodeset");
	get(g, "qos", json_type_object);
	explain = get(g, "explain", json_type_array);
	assert_true(json_object_array_length(explain) > 0);
	for (size_t i = 0; i < json_object_array_length(explain); i++)
		assert_true(json_object_is_type(json_object_array_get_idx(explain, i),
						json_type_string));
	return g;
}

/* vcpu number -> its host PUs. */
static const char *
vcpu_cpuset(struct json_object *g, int vcpu)
{
	struct json_object *v = json_object_array_get_idx(get(g, "vcpus", json_type_array),
							  (size_t)vcpu);

	assert_non_null(v);
	assert_int_equal(get_int(v, "vcpu"), vcpu);
	return get_string(v, "cpuset");
}

/* The PU of a dedicated vcpu: exactly one. */
static int
vcpu_pu(struct json_object *g, int vcpu)
{
	hwloc_bitmap_t set = set_of(vcpu_cpuset(g, vcpu));
	int pu;

	assert_int_equal(hwloc_bitmap_weight(set), 1);
	pu = hwloc_bitmap_first(set);
	hwloc_bitmap_free(set);
	return pu;
}

static void
test_plan_json_inline(void **state)
{
	struct test_result r = RUN("plan", "--topology", HOST_16, "--format", "json", "--name", "vm1",
			      "--vcpus", "4", "--threads", "2", "--memory", "2GiB", "--iothreads",
			      "1", "--shares", "1024", "--memory-mode", "preferred");
	struct json_object *j, *g, *cell, *io, *qos, *shares;
	hwloc_bitmap_t used = hwloc_bitmap_alloc(), emulator;
	struct host h;
	int64_t node;

	host_load(&h, HOST_16);
	assert_ok(&r);
	j = parse_json(r.out);
	assert_int_equal(json_object_array_length(get(j, "guests", json_type_array)), 1);
	g = plan_guest(j, 0, "vm1");
	assert_int_equal(json_object_array_length(get(g, "vcpus", json_type_array)), 4);

	/* One cell (the default) on one node, holding every vcpu and the memory. */
	assert_int_equal(json_object_array_length(get(g, "cells", json_type_array)), 1);
	cell = json_object_array_get_idx(get(g, "cells", json_type_array), 0);
	assert_int_equal(get_int(cell, "cell"), 0);
	assert_true(set_equals(get_string(cell, "cpus"), "0-3"));
	assert_int_equal(get_int(cell, "memory_mib"), 2048);
	node = atoi(get_string(cell, "nodeset"));
	assert_true(node >= 0 && node < 16 && h.node_cpus[node]);

	/* Dedicated: one PU per vcpu, all distinct, on the cell's node; guest core k = vcpus
	 * 2k and 2k+1 on siblings of one host core. */
	for (int v = 0; v < 4; v++) {
		int pu = vcpu_pu(g, v);

		assert_false(hwloc_bitmap_isset(used, (unsigned)pu));
		hwloc_bitmap_set(used, (unsigned)pu);
		assert_true(hwloc_bitmap_isset(h.node_cpus[node], (unsigned)pu));
	}
	assert_int_equal(h.core_of[vcpu_pu(g, 0)], h.core_of[vcpu_pu(g, 1)]);
	assert_int_equal(h.core_of[vcpu_pu(g, 2)], h.core_of[vcpu_pu(g, 3)]);
	assert_int_not_equal(h.core_of[vcpu_pu(g, 0)], h.core_of[vcpu_pu(g, 2)]);

	/* Emulator share: floats over the vcpus' PUs; the iothread goes with it. */
	emulator = set_of(get_string(get(g, "emulator", json_type_object), "cpuset"));
	assert_true(hwloc_bitmap_isequal(emulator, used));
	io = get(g, "iothreads", json_type_array);
	assert_int_equal(json_object_array_length(io), 1);
	assert_int_equal(get_int(json_object_array_get_idx(io, 0), "iothread"), 1);
	assert_true(set_equals(get_string(json_object_array_get_idx(io, 0), "cpuset"),
			       get_string(get(g, "emulator", json_type_object), "cpuset")));

	assert_string_equal(get_string(get(g, "memory", json_type_object), "mode"), "preferred");
	assert_true(set_equals(get_string(get(g, "memory", json_type_object), "nodeset"),
			       get_string(cell, "nodeset")));
	qos = get(g, "qos", json_type_object);
	assert_true(json_object_object_get_ex(qos, "shares", &shares));
	assert_int_equal(json_object_get_int64(shares), 1024);

	hwloc_bitmap_free(emulator);
	hwloc_bitmap_free(used);
	json_object_put(j);
	test_result_clear(&r);
	host_clear(&h);
}

/* An inline guest with explicit cells, then the example guests for the example host: order
 * kept, no PU given twice, cells on distinct nodes, each policy honoured. */
static void
test_plan_json_inline_and_files(void **state)
{
	const char *xml = source_path("examples/host-2s-ht.xml");
	char xml_path[PATH_MAX], db[PATH_MAX], services[PATH_MAX];
	struct json_object *j, *g, *cells, *emu_obj;
	hwloc_bitmap_t dedicated = hwloc_bitmap_alloc(), set, emulator;
	struct test_result r;
	struct host h;
	int pu;

	snprintf(xml_path, sizeof(xml_path), "%s", xml);
	snprintf(db, sizeof(db), "%s", source_path("examples/host-2s-ht/db.json"));
	snprintf(services, sizeof(services), "%s",
		 source_path("examples/host-2s-ht/services.json"));
	host_load(&h, xml_path);
	r = RUN("plan", "--topology", xml_path, "--format", "json", db, "--name", "small",
		"--vcpus", "4", "--cell", "cpus=0-1,memory=1G", "--cell", "cpus=2,3,memory=1G",
		services);
	assert_ok(&r);
	j = parse_json(r.out);
	assert_int_equal(json_object_array_length(get(j, "guests", json_type_array)), 4);

	/* Inline guest first: two cells on two distinct nodes, memory the sum of the cells. */
	g = plan_guest(j, 0, "small");
	cells = get(g, "cells", json_type_array);
	assert_int_equal(json_object_array_length(cells), 2);
	assert_true(set_equals(get_string(json_object_array_get_idx(cells, 0), "cpus"), "0-1"));
	assert_true(set_equals(get_string(json_object_array_get_idx(cells, 1), "cpus"), "2-3"));
	assert_int_equal(get_int(json_object_array_get_idx(cells, 0), "memory_mib"), 1024);
	assert_string_not_equal(get_string(json_object_array_get_idx(cells, 0), "nodeset"),
				get_string(json_object_array_get_idx(cells, 1), "nodeset"));
	for (int v = 0; v < 4; v++) {
		struct json_object *cell = json_object_array_get_idx(cells, v < 2 ? 0 : 1);
		int node = atoi(get_string(cell, "nodeset"));

		pu = vcpu_pu(g, v);
		assert_true(hwloc_bitmap_isset(h.node_cpus[node], (unsigned)pu));
		assert_false(hwloc_bitmap_isset(dedicated, (unsigned)pu));
		hwloc_bitmap_set(dedicated, (unsigned)pu);
	}

	/* db: 2 cells on distinct nodes, thread policy require packs each guest core onto
	 * the siblings of one host core, emulator isolate gets a PU of its own on cell 0's
	 * node. */
	g = plan_guest(j, 1, "db");
	cells = get(g, "cells", json_type_array);
	assert_int_equal(json_object_array_length(cells), 2);
	assert_int_equal(get_int(json_object_array_get_idx(cells, 1), "memory_mib"), 16384);
	assert_string_not_equal(get_string(json_object_array_get_idx(cells, 0), "nodeset"),
				get_string(json_object_array_get_idx(cells, 1), "nodeset"));
	for (int v = 0; v < 8; v++) {
		pu = vcpu_pu(g, v);
		assert_false(hwloc_bitmap_isset(dedicated, (unsigned)pu));
		hwloc_bitmap_set(dedicated, (unsigned)pu);
		if (v % 2)
			assert_int_equal(h.core_of[pu], h.core_of[vcpu_pu(g, v - 1)]);
	}
	emu_obj = get(g, "emulator", json_type_object);
	emulator = set_of(get_string(emu_obj, "cpuset"));
	assert_int_equal(hwloc_bitmap_weight(emulator), 1);
	assert_false(hwloc_bitmap_intersects(emulator, dedicated));
	assert_true(hwloc_bitmap_isincluded(
		emulator,
		h.node_cpus[atoi(get_string(json_object_array_get_idx(cells, 0), "nodeset"))]));
	hwloc_bitmap_or(dedicated, dedicated, emulator);
	hwloc_bitmap_free(emulator);
	assert_int_equal(json_object_array_length(get(g, "iothreads", json_type_array)), 2);

	/* app: isolate, one vcpu per host core. */
	g = plan_guest(j, 2, "app");
	for (int v = 0; v < 4; v++) {
		pu = vcpu_pu(g, v);
		assert_false(hwloc_bitmap_isset(dedicated, (unsigned)pu));
		for (int w = 0; w < v; w++)
			assert_int_not_equal(h.core_of[pu], h.core_of[vcpu_pu(g, w)]);
	}
	for (int v = 0; v < 4; v++)
		hwloc_bitmap_set(dedicated, (unsigned)vcpu_pu(g, v));

	/* ci-runner: shared, floats over PUs that no dedicated guest holds. */
	g = plan_guest(j, 3, "ci-runner");
	set = set_of(vcpu_cpuset(g, 0));
	assert_false(hwloc_bitmap_iszero(set));
	assert_false(hwloc_bitmap_intersects(set, dedicated));
	hwloc_bitmap_free(set);
	assert_string_equal(get_string(get(g, "memory", json_type_object), "mode"), "preferred");

	hwloc_bitmap_free(dedicated);
	json_object_put(j);
	test_result_clear(&r);
	host_clear(&h);
}

static void
test_plan_reserve_and_stdin(void **state)
{
	static const char guests[] =
		"[{\"name\": \"a\", \"vcpus\": 2}, {\"name\": \"b\", \"vcpus\": 2}]";
	struct test_result r = RUN_STDIN(guests, "plan", "--topology", HOST_SMALL, "--reserve", "0,4",
				    "--format", "json", "-");
	hwloc_bitmap_t reserved = set_of("0,4");
	struct json_object *j;

	assert_ok(&r);
	j = parse_json(r.out);
	for (size_t i = 0; i < 2; i++) {
		struct json_object *g = plan_guest(j, i, i ? "b" : "a");

		for (int v = 0; v < 2; v++)
			assert_false(hwloc_bitmap_isset(reserved, (unsigned)vcpu_pu(g, v)));
	}
	hwloc_bitmap_free(reserved);
	json_object_put(j);
	test_result_clear(&r);
}

static void
test_plan_formats(void **state)
{
	static const struct {
		const char *format, *needle;
	} cases[] = {
		{"table", "vm1"},
		{"json", "\"guests\""},
		{"libvirt", "vcpupin"},
		{"qemu", "-numa"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct test_result r = RUN("plan", "--topology", HOST_SMALL, "--format", cases[i].format,
				      "--name", "vm1", "--vcpus", "2", "--memory", "512M");

		assert_ok(&r);
		if (!strstr(r.out, cases[i].needle))
			fail_msg("--format %s: no '%s' in %s", cases[i].format, cases[i].needle,
				 r.out);
		test_result_clear(&r);
	}
}

/* `make demo` plans every examples/NAME.json on the live host: they must fit the smallest
 * host it promises, and the example host's guests must fit the example host. */
static void
test_examples_fit(void **state)
{
	const char *args[MAX_ARGS] = {"plan", "--topology", HOST_TINY};
	size_t n = 3;
	struct test_result r;
	glob_t gl;

	assert_int_equal(glob(source_path("examples/*.json"), 0, NULL, &gl), 0);
	assert_true(gl.gl_pathc > 0);
	for (size_t i = 0; i < gl.gl_pathc && n < MAX_ARGS - 2; i++)
		args[n++] = gl.gl_pathv[i];
	args[n] = NULL;
	r = test_topomap(NULL, args);
	assert_ok(&r);
	test_result_clear(&r);
	globfree(&gl);

	n = 0;
	args[n++] = "plan";
	args[n++] = "--topology";
	args[n++] = strdup(source_path("examples/host-2s-ht.xml"));
	assert_int_equal(glob(source_path("examples/host-2s-ht/*.json"), 0, NULL, &gl), 0);
	for (size_t i = 0; i < gl.gl_pathc && n < MAX_ARGS - 2; i++)
		args[n++] = gl.gl_pathv[i];
	args[n] = NULL;
	r = test_topomap(NULL, args);
	assert_ok(&r);
	test_result_clear(&r);
	globfree(&gl);
	free((char *)args[2]);
}

/* Each class of bad usage: exit 2, one line that names the option and the value. */
static void
test_usage_errors(void **state)
{
	struct test_result r = test_topomap(NULL, (const char *const[]){NULL});

	assert_failure(&r, 2, (const char *const[]){"missing command", NULL});
	test_result_clear(&r);
	EXPECT_FAIL(2, ("unknown command", "''"), "");
	EXPECT_FAIL(2, ("'frobnicate'"), "frobnicate");
	EXPECT_FAIL(2, ("'--bogus'"), "--bogus");
	EXPECT_FAIL(2, ("'--bogus'"), "plan", "--name", "a", "--vcpus", "1", "--bogus=3");
	EXPECT_FAIL(2, ("'--bogus'"), "topology", "--bogus");
	EXPECT_FAIL(2, ("'-x'"), "plan", "-x");
	EXPECT_FAIL(2, ("--vcpus", "needs a value"), "plan", "--name", "a", "--vcpus");
	EXPECT_FAIL(2, ("'extra'"), "topology", "extra");
	EXPECT_FAIL(2, ("no guest"), "plan", "--topology", HOST_SMALL);

	EXPECT_FAIL(2, ("--vcpus", "'abc'"), "plan", "--name", "a", "--vcpus", "abc");
	EXPECT_FAIL(2, ("--vcpus", "'0'"), "plan", "--name", "a", "--vcpus", "0");
	EXPECT_FAIL(2, ("--vcpus", "'-2'"), "plan", "--name", "a", "--vcpus", "-2");
	EXPECT_FAIL(2, ("--vcpus", "'99999999999999999999'"), "plan", "--name", "a", "--vcpus",
		    "99999999999999999999");
	EXPECT_FAIL(2, ("--memory", "'4X'"), "plan", "--name", "a", "--vcpus", "1", "--memory",
		    "4X");
	EXPECT_FAIL(2, ("--memory", "'1.5G'"), "plan", "--name", "a", "--vcpus", "1", "--memory",
		    "1.5G");
	EXPECT_FAIL(2, ("--memory", "'0'"), "plan", "--name", "a", "--vcpus", "1", "--memory",
		    "0");
	EXPECT_FAIL(2, ("--format", "'xml'"), "plan", "--format=xml", "--name", "a", "--vcpus",
		    "1");
	EXPECT_FAIL(2, ("--format", "'libvirt'"), "topology", "--topology", HOST_SMALL,
		    "--format", "libvirt");
	EXPECT_FAIL(2, ("--cpu-policy", "'fast'"), "plan", "--name", "a", "--vcpus", "1",
		    "--cpu-policy", "fast");
	EXPECT_FAIL(2, ("--thread-policy", "'maybe'"), "plan", "--name", "a", "--vcpus", "1",
		    "--thread-policy", "maybe");
	EXPECT_FAIL(2, ("--emulator", "'x'"), "plan", "--name", "a", "--vcpus", "1",
		    "--emulator", "x");
	EXPECT_FAIL(2, ("--memory-mode", "'loose'"), "plan", "--name", "a", "--vcpus", "1",
		    "--memory-mode", "loose");
	EXPECT_FAIL(2, ("--iothreads", "'65'"), "plan", "--name", "a", "--vcpus", "1",
		    "--iothreads", "65");
	EXPECT_FAIL(2, ("--shares", "'1'"), "plan", "--name", "a", "--vcpus", "1", "--shares",
		    "1");
	EXPECT_FAIL(2, ("--quota", "'-5'"), "plan", "--name", "a", "--vcpus", "1", "--quota",
		    "-5");
	EXPECT_FAIL(2, ("--name"), "plan", "--vcpus", "2");
	EXPECT_FAIL(2, ("--vcpus"), "plan", "--name", "a");
	EXPECT_FAIL(2, ("--name", "more than once"), "plan", "--name", "a", "--vcpus", "1",
		    "--name", "b");

	/* Guest CPU topology that does not make --vcpus. */
	EXPECT_FAIL(2, ("--sockets", "--vcpus 6"), "plan", "--topology", HOST_SMALL, "--name",
		    "a", "--vcpus", "6", "--sockets", "2", "--cores", "2", "--threads", "2");
	EXPECT_FAIL(2, ("--vcpus 5", "--threads 2"), "plan", "--topology", HOST_SMALL, "--name",
		    "a", "--vcpus", "5", "--threads", "2");

	/* Cells. */
	EXPECT_FAIL(2, ("--cell", "x-y"), "plan", "--topology", HOST_SMALL, "--name", "a",
		    "--vcpus", "2", "--cell", "cpus=x-y");
	EXPECT_FAIL(2, ("--cell", "3-1"), "plan", "--topology", HOST_SMALL, "--name", "a",
		    "--vcpus", "4", "--cell", "cpus=3-1");
	EXPECT_FAIL(2, ("--cell", "cpu=0-1"), "plan", "--topology", HOST_SMALL, "--name", "a",
		    "--vcpus", "2", "--cell", "cpu=0-1");
	EXPECT_FAIL(2, ("--cell", "'lots'"), "plan", "--topology", HOST_SMALL, "--name", "a",
		    "--vcpus", "2", "--cell", "cpus=0-1,memory=lots");
	EXPECT_FAIL(2, ("--cells", "--cell"), "plan", "--topology", HOST_SMALL, "--name", "a",
		    "--vcpus", "2", "--cells", "2", "--cell", "cpus=0-1");
	/* A cell list that does not cover every vcpu: the library's check, named by guest. */
	EXPECT_FAIL(2, ("'a'"), "plan", "--topology", HOST_SMALL, "--name", "a", "--vcpus", "4",
		    "--cell", "cpus=0-1", "--cell", "cpus=2");

	/* Reserve. */
	EXPECT_FAIL(2, ("--reserve", "'garbage'"), "plan", "--topology", HOST_SMALL, "--reserve",
		    "garbage", "--name", "a", "--vcpus", "1");
	EXPECT_FAIL(2, ("--reserve", "'0-'"), "plan", "--topology", HOST_SMALL, "--reserve", "0-",
		    "--name", "a", "--vcpus", "1");
	EXPECT_FAIL(2, ("999"), "plan", "--topology", HOST_SMALL, "--reserve", "999", "--name",
		    "a", "--vcpus", "1");

	/* Topology sources. */
	EXPECT_FAIL(2, ("/nonexistent/host.xml"), "topology", "--topology",
		    "/nonexistent/host.xml");
	EXPECT_FAIL(2, ("/nonexistent/host.xml"), "plan", "--topology", "/nonexistent/host.xml",
		    "--name", "a", "--vcpus", "1");
	EXPECT_FAIL(2, ("synthetic"), "topology", "--topology", "synthetic:bogus:9 pu:x");

	/* Guest files. */
	EXPECT_FAIL(2, ("/nonexistent/guests.json"), "plan", "--topology", HOST_SMALL,
		    "/nonexistent/guests.json");
}

static void
test_bad_guest_files(void **state)
{
	struct scratch *s = *state;
	const char *bad_vcpus = scratch_file(s, "bad-vcpus.json",
					     "[{\"name\": \"vm6\", \"vcpus\": 1},\n"
					     " {\"name\": \"vm7\", \"vcpus\": \"many\"}]\n");
	const char *bad_policy = scratch_file(s, "bad-policy.json",
					      "{\"name\": \"vm8\", \"vcpus\": 2, "
					      "\"cpu_policy\": \"fast\"}\n");
	const char *bad_syntax = scratch_file(s, "bad-syntax.json", "{\"name\": \"vm9\",\n");
	const char *bad_topo = scratch_file(s, "bad-topology.json",
					    "{\"name\": \"vm10\", \"vcpus\": 6, \"sockets\": 2, "
					    "\"cores\": 2, \"threads\": 2}\n");
	const char *dup = scratch_file(s, "dup.json", "{\"name\": \"a\", \"vcpus\": 1}\n");
	const char *bad_pages = scratch_file(s, "bad-pages.json",
					     "{\"name\": \"vm11\", \"vcpus\": 2, "
					     "\"hugepages\": \"3M\"}\n");
	const char *half_pages = scratch_file(s, "half-pages.json",
					      "{\"name\": \"vm12\", \"vcpus\": 2, "
					      "\"memory_mib\": 1536, \"hugepages\": \"1G\"}\n");

	EXPECT_FAIL(2, (bad_vcpus, "vm7", "vcpus", "many"), "plan", "--topology", HOST_SMALL,
		    bad_vcpus);
	EXPECT_FAIL(2, (bad_policy, "vm8", "cpu_policy", "fast"), "plan", "--topology",
		    HOST_SMALL, bad_policy);
	EXPECT_FAIL(2, (bad_syntax), "plan", "--topology", HOST_SMALL, bad_syntax);
	EXPECT_FAIL(2, (bad_topo, "vm10"), "plan", "--topology", HOST_SMALL, bad_topo);
	EXPECT_FAIL(2, (bad_pages, "vm11", "hugepages", "3M"), "plan", "--topology", HOST_SMALL,
		    bad_pages);
	EXPECT_FAIL(2, (half_pages, "vm12", "hugepages", "1536", "1 GiB pages"), "plan",
		    "--topology", HOST_SMALL, half_pages);
	EXPECT_FAIL(2, ("--hugepages", "'1.5G'"), "plan", "--topology", HOST_SMALL, "--name", "h",
		    "--vcpus", "1", "--hugepages", "1.5G");
	/* The inline guest and a file guest with the same name. */
	EXPECT_FAIL(2, ("'a'"), "plan", "--topology", HOST_SMALL, "--name", "a", "--vcpus", "1",
		    dup);
	/* A directory is not a guest file. */
	EXPECT_FAIL(2, (s->dir), "plan", "--topology", HOST_SMALL, s->dir);
}

static void
test_no_fit(void **state)
{
	/* 16 vcpus on an 8-PU host; the guest before it fits. */
	EXPECT_FAIL(3, ("big:"), "plan", "--topology", HOST_SMALL, "--name", "big", "--vcpus",
		    "16");
	EXPECT_FAIL(3, ("huge:"), "plan", "--topology", HOST_SMALL, "--format", "json", "--name",
		    "huge", "--vcpus", "2", "--memory", "1T");
	/* Normal memory is plenty, 1 GiB pages are not. */
	EXPECT_FAIL(3, ("pages: needs 8192 MiB of 1 GiB pages (8) on one node; the most free is node 0 with 4"),
		    "plan", "--topology", test_data("host-hugepages.xml"), "--name", "pages",
		    "--vcpus", "2", "--memory", "8G", "--hugepages", "1G");
}

/* --hugepages: the plan's memory comes from the pool, in every format. */
static void
test_plan_hugepages(void **state)
{
	struct test_result r = RUN("plan", "--topology", test_data("host-hugepages.xml"), "--format",
			      "json", "--name", "h", "--vcpus", "2", "--memory", "4G",
			      "--hugepages", "1GiB");
	struct json_object *j;

	assert_ok(&r);
	j = parse_json(r.out);
	assert_int_equal(get_int(get(plan_guest(j, 0, "h"), "memory", json_type_object),
				 "hugepage_kib"),
			 1048576);
	json_object_put(j);
	test_result_clear(&r);
	r = RUN("plan", "--topology", test_data("host-hugepages.xml"), "--format", "libvirt",
		"--name", "h", "--vcpus", "2", "--memory", "4G", "--hugepages", "1G");
	assert_ok(&r);
	assert_non_null(strstr(r.out, "<page size='1048576' unit='KiB' nodeset='0'/>"));
	test_result_clear(&r);
	r = RUN("plan", "--topology", test_data("host-hugepages.xml"), "--format", "qemu",
		"--name", "h", "--vcpus", "2", "--memory", "64M", "--hugepages", "2048");
	assert_ok(&r);
	assert_non_null(strstr(r.out, "memory-backend-memfd,id=ram-node0,size=64M,hugetlb=on,hugetlbsize=2048K,host-nodes="));
	test_result_clear(&r);
	r = RUN("topology", "--topology", test_data("host-hugepages.xml"));
	assert_ok(&r);
	assert_non_null(strstr(r.out, "  hugepages: 1024 x 2 MiB, 4 x 1 GiB\n"));
	test_result_clear(&r);
}

/*
 * apply and verify with no guest read it from the target; the guest options given with it go
 * on top. libvirt's test:///default driver runs in the topomap process: its domain 'test' has
 * 2 vcpus (1 socket of 2 cores), 8 GiB and no NUMA cells or iothreads. On one node of 4
 * cores of 2 SMT siblings (0-1, 2-3, ...), the default policy puts the vcpus on one core's
 * siblings; --thread-policy isolate gives each a core of its own.
 */
#define HOST_LV "synthetic:pack:1 numa:1(memory=16GiB) core:4 pu:2"
#define LV_TARGET "--backend=libvirt", "--connect", "test:///default", "--domain", "test", \
	"--topology", HOST_LV

/* What the state holds for guest 'test' after an apply: its "held" PUs. */
static char *
held_of_test(const char *state_path)
{
	struct test_result r = RUN("state", "--state", state_path, "--topology", HOST_LV,
				   "--format", "json");
	struct json_object *j, *guests, *g;
	char *held;

	assert_ok(&r);
	j = parse_json(r.out);
	guests = get(j, "guests", json_type_array);
	assert_int_equal(json_object_array_length(guests), 1);
	g = json_object_array_get_idx(guests, 0);
	assert_string_equal(get_string(g, "name"), "test");
	held = strdup(get_string(g, "held"));
	json_object_put(j);
	test_result_clear(&r);
	return held;
}

static void
test_described_guest_options(void **state)
{
	struct scratch *s = *state;
	char path[PATH_MAX];
	struct test_result r;
	char *held;

	/* the state's lock file, for the teardown to remove too */
	snprintf(path, sizeof(path), "%s/state.json.lock", s->dir);
	strcpy(s->path[s->n++], path);
	snprintf(path, sizeof(path), "%s/state.json", s->dir);
	strcpy(s->path[s->n++], path);

	/* Described alone: both vcpus on core 0's siblings. */
	r = RUN("apply", LV_TARGET, "--state", path);
	assert_ok(&r);
	assert_non_null(strstr(r.out, "vcpu 1, '1'"));
	test_result_clear(&r);
	held = held_of_test(path);
	assert_true(set_equals(held, "0-1"));
	free(held);

	/* The policy overrides the described guest, with shape options that match it. */
	r = RUN("apply", LV_TARGET, "--state", path, "--thread-policy=isolate", "--vcpus", "2",
		"--memory", "8G", "--cells", "1", "--iothreads", "0");
	assert_ok(&r);
	assert_non_null(strstr(r.out, "vcpu 1, '2'"));
	test_result_clear(&r);
	held = held_of_test(path);
	assert_true(set_equals(held, "0-3"));
	free(held);
	/* Applied again as it is: kept where the state has it, and the state says why. */
	r = RUN("apply", LV_TARGET, "--state", path, "--thread-policy=isolate");
	assert_ok(&r);
	test_result_clear(&r);
	held = held_of_test(path);
	assert_true(set_equals(held, "0-3"));
	free(held);
	{
		struct json_object *saved = json_object_from_file(path);

		assert_non_null(saved);
		assert_non_null(strstr(json_object_to_json_string(saved), "kept where it is"));
		json_object_put(saved);
	}
	r = RUN("apply", "--dry-run", LV_TARGET, "--state", path, "--emulator", "isolate",
		"--memory-mode", "restrictive");
	assert_ok(&r);
	assert_non_null(strstr(r.out, "mode 'restrictive'"));
	test_result_clear(&r);

	/* Shape options that contradict the running guest: exit 2, the option, both values. */
	EXPECT_FAIL(2, ("apply: --vcpus '4'", "guest 'test'", "backend 'libvirt'", "2 vcpus"),
		    "apply", LV_TARGET, "--state", path, "--vcpus", "4", "--thread-policy",
		    "isolate");
	EXPECT_FAIL(2, ("verify: --memory '4G'", "guest 'test'", "8192 MiB"), "verify", LV_TARGET,
		    "--state", path, "--memory", "4G");
	EXPECT_FAIL(2, ("--threads '2'", "1 thread per core"), "apply", "--dry-run", LV_TARGET,
		    "--threads", "2");
	EXPECT_FAIL(2, ("--cells '2'", "1 cell"), "apply", "--dry-run", LV_TARGET, "--cells", "2");
	EXPECT_FAIL(2, ("--cell 'cpus=0-1'", "1 cell of its own"), "apply", "--dry-run",
		    LV_TARGET, "--cell", "cpus=0-1");
	EXPECT_FAIL(2, ("--iothreads '1'", "0 iothreads"), "apply", "--dry-run", LV_TARGET,
		    "--iothreads", "1");
	/* A policy the described guest cannot take is the user's input too. */
	EXPECT_FAIL(2, ("'test'", "thread_policy"), "apply", "--dry-run", LV_TARGET,
		    "--cpu-policy", "shared", "--thread-policy", "isolate");
	/* Options with a guest file belong to no guest; --name still gives a whole guest. */
	EXPECT_FAIL(2, ("need --name"), "apply", "--dry-run", LV_TARGET, "--thread-policy",
		    "isolate", scratch_file(s, "vm.json", "{\"name\": \"vm\", \"vcpus\": 2}"));
	EXPECT_FAIL(2, ("'x' needs --vcpus"), "apply", "--dry-run", LV_TARGET, "--name", "x",
		    "--thread-policy", "isolate");

	/* Nothing refused was recorded: the state holds what the last apply put in force. */
	held = held_of_test(path);
	assert_true(set_equals(held, "0-3"));
	free(held);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_and_help),
		cmocka_unit_test(test_topology_json_synthetic),
		cmocka_unit_test(test_topology_json_example_host),
		cmocka_unit_test(test_plan_json_inline),
		cmocka_unit_test(test_plan_json_inline_and_files),
		cmocka_unit_test(test_plan_reserve_and_stdin),
		cmocka_unit_test(test_plan_formats),
		cmocka_unit_test(test_examples_fit),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test_setup_teardown(test_bad_guest_files, scratch_setup,
						scratch_teardown),
		cmocka_unit_test(test_no_fit),
		cmocka_unit_test(test_plan_hugepages),
		cmocka_unit_test_setup_teardown(test_described_guest_options, scratch_setup,
						scratch_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
