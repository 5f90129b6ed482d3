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

/* A spec's string field, or its default. */
static const char *
spec_string(struct json_object *spec, const char *key, const char *def)
{
	struct json_object *v;

	return json_object_object_get_ex(spec, key, &v) ? json_object_get_string(v) : def;
}

static int64_t
spec_int(struct json_object *spec, const char *key, int64_t def)
{
	struct json_object *v;

	return json_object_object_get_ex(spec, key, &v) ? json_object_get_int64(v) : def;
}

/* A cell's vcpus in a spec: a list string or an array of numbers. */
static hwloc_bitmap_t
spec_cpus(struct json_object *cell)
{
	struct json_object *cpus = NULL;
	hwloc_bitmap_t set;

	assert_true(json_object_object_get_ex(cell, "cpus", &cpus));
	if (json_object_is_type(cpus, json_type_string))
		return set_of(json_object_get_string(cpus));
	set = hwloc_bitmap_alloc();
	for (size_t i = 0; i < json_object_array_length(cpus); i++)
		hwloc_bitmap_set(set, (unsigned)json_object_get_int(json_object_array_get_idx(cpus, i)));
	return set;
}

/* A JSON plan against the guests asked for (specs, in order) on host h: each guest is what
 * its spec says (vcpus, topology, memory, cells, policies, QoS), and placed as its policies
 * promise: a dedicated vcpu on a PU of its own on its cell's node, no PU held by two guests,
 * cells on distinct nodes, a guest core's threads on siblings (require), one vcpu per host
 * core (isolate), an emulator PU of its own (isolate), shared vcpus away from every PU held
 * when they came (issue 21: the pool as it stands; dedicated guests placed later may take some). */
static void
check_plan(struct json_object *plan, struct json_object *const *specs, size_t nspecs,
	   const struct host *h)
{
	struct json_object *guests = get(plan, "guests", json_type_array);
	hwloc_bitmap_t held_all = hwloc_bitmap_alloc();

	assert_int_equal(json_object_array_length(guests), nspecs);
	for (size_t i = 0; i < nspecs; i++) {
		struct json_object *spec = specs[i], *sc, *qos, *v;
		const char *name = spec_string(spec, "name", NULL);
		struct json_object *g = plan_guest(plan, i, name);
		struct json_object *cells = get(g, "cells", json_type_array);
		struct json_object *memory = get(g, "memory", json_type_object);
		struct json_object *topo = get(g, "topology", json_type_object);
		bool dedicated = streq(spec_string(spec, "cpu_policy", "dedicated"), "dedicated");
		const char *tp = spec_string(spec, "thread_policy", "prefer");
		int64_t vcpus = spec_int(spec, "vcpus", 0);
		int64_t threads = spec_int(spec, "threads", 1);
		hwloc_bitmap_t held = set_of(get_string(g, "held"));
		hwloc_bitmap_t emulator = set_of(get_string(get(g, "emulator", json_type_object),
							    "cpuset"));
		hwloc_bitmap_t pus = hwloc_bitmap_alloc(), cores = hwloc_bitmap_alloc();
		hwloc_bitmap_t nodes = hwloc_bitmap_alloc(), mem_nodes;
		int64_t cell_mib = 0;

		/* What was asked. */
		assert_int_equal(json_object_array_length(get(g, "vcpus", json_type_array)), vcpus);
		assert_int_equal(get_int(topo, "sockets"), spec_int(spec, "sockets", 1));
		assert_int_equal(get_int(topo, "cores"), spec_int(spec, "cores", vcpus));
		assert_int_equal(get_int(topo, "threads"), threads);
		assert_string_equal(get_string(g, "cpu_policy"), dedicated ? "dedicated" : "shared");
		assert_string_equal(get_string(memory, "mode"),
				    spec_string(spec, "memory_mode", "strict"));
		assert_int_equal(get_int(memory, "memory_mib"), spec_int(spec, "memory_mib", 1024));
		assert_int_equal(json_object_array_length(get(g, "iothreads", json_type_array)),
				 spec_int(spec, "iothreads", 0));
		qos = get(g, "qos", json_type_object);
		if (json_object_object_get_ex(spec, "qos", &sc)) {
			json_object_object_foreach(sc, key, val)
			{
				assert_true(json_object_object_get_ex(qos, key, &v));
				assert_int_equal(json_object_get_int64(v), json_object_get_int64(val));
			}
		}
		assert_int_equal(json_object_object_length(qos),
				 json_object_object_get_ex(spec, "qos", &sc) ?
					 json_object_object_length(sc) : 0);
		if (json_object_object_get_ex(spec, "cells", &sc)) {
			assert_int_equal(json_object_array_length(cells), json_object_array_length(sc));
			for (size_t c = 0; c < json_object_array_length(sc); c++) {
				struct json_object *want = json_object_array_get_idx(sc, c);
				hwloc_bitmap_t a = spec_cpus(want);
				hwloc_bitmap_t b = set_of(get_string(json_object_array_get_idx(cells, c),
								     "cpus"));

				assert_true(hwloc_bitmap_isequal(a, b));
				assert_int_equal(get_int(json_object_array_get_idx(cells, c), "memory_mib"),
						 spec_int(want, "memory_mib", 0));
				hwloc_bitmap_free(a);
				hwloc_bitmap_free(b);
			}
		}

		/* Where it went. */
		for (size_t c = 0; c < json_object_array_length(cells); c++) {
			struct json_object *cell = json_object_array_get_idx(cells, c);
			hwloc_bitmap_t cv = set_of(get_string(cell, "cpus"));
			int node = atoi(get_string(cell, "nodeset"));
			unsigned vcpu;

			assert_true(node >= 0 && node < 16 && h->node_cpus[node]);
			assert_false(hwloc_bitmap_isset(nodes, (unsigned)node));
			hwloc_bitmap_set(nodes, (unsigned)node);
			cell_mib += get_int(cell, "memory_mib");
			hwloc_bitmap_foreach_begin(vcpu, cv)
			{
				hwloc_bitmap_t set = set_of(vcpu_cpuset(g, (int)vcpu));

				assert_true(hwloc_bitmap_isincluded(set, h->node_cpus[node]));
				if (dedicated) {
					int pu = vcpu_pu(g, (int)vcpu);

					assert_false(hwloc_bitmap_isset(pus, (unsigned)pu));
					hwloc_bitmap_set(pus, (unsigned)pu);
					if (streq(tp, "isolate")) {
						assert_false(hwloc_bitmap_isset(cores, (unsigned)h->core_of[pu]));
						hwloc_bitmap_set(cores, (unsigned)h->core_of[pu]);
					}
					/* Guest core k: vcpus k*threads to k*threads+threads-1. */
					if (streq(tp, "require") && vcpu % (unsigned)threads)
						assert_int_equal(h->core_of[pu],
								 h->core_of[vcpu_pu(g, (int)(vcpu - 1))]);
				} else {
					/* The node's pool as it stands: the PUs no dedicated guest
					 * placed before holds (one placed later may take some). */
					assert_false(hwloc_bitmap_intersects(set, held_all));
				}
				hwloc_bitmap_free(set);
			}
			hwloc_bitmap_foreach_end();
			hwloc_bitmap_free(cv);
		}
		assert_int_equal(cell_mib, get_int(memory, "memory_mib"));
		/* The memory goes to the cells' nodes, no other. */
		mem_nodes = set_of(get_string(memory, "nodeset"));
		assert_true(hwloc_bitmap_isequal(mem_nodes, nodes));
		hwloc_bitmap_free(mem_nodes);
		if (dedicated) {
			assert_true(hwloc_bitmap_isincluded(pus, held));
			assert_false(hwloc_bitmap_intersects(held, held_all));
			hwloc_bitmap_or(held_all, held_all, held);
			if (streq(spec_string(spec, "emulator_threads", "share"), "isolate")) {
				assert_false(hwloc_bitmap_intersects(emulator, pus));
				assert_true(hwloc_bitmap_isincluded(emulator, held));
			} else {
				assert_true(hwloc_bitmap_isequal(emulator, pus));
			}
		}
		hwloc_bitmap_free(nodes);
		hwloc_bitmap_free(cores);
		hwloc_bitmap_free(pus);
		hwloc_bitmap_free(emulator);
		hwloc_bitmap_free(held);
	}
	hwloc_bitmap_free(held_all);
}

/* The next line of *p (without its newline, leading blanks skipped) into buf. */
static bool
next_line(const char **p, char *buf, size_t size)
{
	const char *nl;
	size_t len;

	if (!*p || !**p)
		return false;
	*p += strspn(*p, " \t");
	nl = strchr(*p, '\n');
	len = nl ? (size_t)(nl - *p) : strlen(*p);
	assert_true(len < size);
	memcpy(buf, *p, len);
	buf[len] = '\0';
	*p = nl ? nl + 1 : NULL;
	return true;
}

static struct json_object *
at(struct json_object *g, const char *key, unsigned index)
{
	struct json_object *o = json_object_array_get_idx(get(g, key, json_type_array), index);

	if (!o)
		fail_msg("no %s[%u] in the JSON plan", key, index);
	return o;
}

/* The table says what the JSON plan says: each vcpu's PU, core and node, each cell, the
 * emulator, the iothreads, the memory and the QoS. */
static void
check_table(const char *out, struct json_object *g)
{
	struct json_object *mem = get(g, "memory", json_type_object);
	unsigned nvcpus = 0, ncells = 0, seen_emulator = 0, seen_io = 0, seen_memory = 0;
	const char *p = out;
	char line[1024], a[256], b[256], c[256], d[256];
	unsigned u;
	int node;
	uint64_t mib;
	long long shares;

	while (next_line(&p, line, sizeof(line))) {
		if (sscanf(line, "%u %255s %255s %d", &u, a, b, &node) == 4) {
			struct json_object *v = at(g, "vcpus", u);

			assert_true(set_equals(a, get_string(v, "cpuset")));
			assert_true(set_equals(b, get_string(v, "host_core")));
			assert_int_equal(node, get_int(v, "node"));
			nvcpus++;
		} else if (sscanf(line, "cell %u: vcpus %255s -> node %255[^,], %" SCNu64
				  " MiB, host PUs %255s", &u, a, b, &mib, c) == 5) {
			struct json_object *cell = at(g, "cells", u);

			assert_true(set_equals(a, get_string(cell, "cpus")));
			assert_true(set_equals(b, get_string(cell, "nodeset")));
			assert_int_equal(mib, get_int(cell, "memory_mib"));
			assert_true(set_equals(c, get_string(cell, "host_cpus")));
			ncells++;
		} else if (sscanf(line, "emulator: %255s", a) == 1) {
			assert_true(set_equals(a, get_string(get(g, "emulator", json_type_object),
							     "cpuset")));
			seen_emulator++;
		} else if (sscanf(line, "iothreads %255[^:]: %255s", d, a) == 2) {
			assert_true(set_equals(a, get_string(at(g, "iothreads", 0), "cpuset")));
			seen_io++;
		} else if (sscanf(line, "memory: %255s on node%*[s] %255s", a, b) == 2) {
			assert_string_equal(a, get_string(mem, "mode"));
			assert_true(set_equals(b, get_string(mem, "nodeset")));
			seen_memory++;
		} else if (sscanf(line, "qos: shares %lld", &shares) == 1) {
			assert_int_equal(shares, get_int(get(g, "qos", json_type_object), "shares"));
		}
	}
	assert_int_equal(nvcpus, json_object_array_length(get(g, "vcpus", json_type_array)));
	assert_int_equal(ncells, json_object_array_length(get(g, "cells", json_type_array)));
	assert_int_equal(seen_emulator, 1);
	assert_int_equal(seen_io, json_object_array_length(get(g, "iothreads", json_type_array)) > 0);
	assert_int_equal(seen_memory, 1);
}

/* The libvirt elements say what the JSON plan says: <vcpu>, <iothreads>, every vcpupin,
 * emulatorpin and iothreadpin, <numatune> and its memnodes, the guest topology and cells. */
static void
check_libvirt(const char *out, struct json_object *g)
{
	struct json_object *mem = get(g, "memory", json_type_object);
	struct json_object *topo = get(g, "topology", json_type_object);
	size_t nvcpus = json_object_array_length(get(g, "vcpus", json_type_array));
	size_t ncells = json_object_array_length(get(g, "cells", json_type_array));
	size_t nio = json_object_array_length(get(g, "iothreads", json_type_array));
	unsigned pins = 0, iopins = 0, memnodes = 0, cells = 0, emulator = 0, seen_topo = 0;
	const char *p = out;
	char line[1024], a[256], b[256];
	unsigned u, x, y, z;
	unsigned long long mib;

	while (next_line(&p, line, sizeof(line))) {
		if (sscanf(line, "<vcpu placement='static'>%u</vcpu>", &u) == 1) {
			assert_int_equal(u, nvcpus);
		} else if (sscanf(line, "<iothreads>%u</iothreads>", &u) == 1) {
			assert_int_equal(u, nio);
		} else if (sscanf(line, "<shares>%u</shares>", &u) == 1) {
			assert_int_equal(u, get_int(get(g, "qos", json_type_object), "shares"));
		} else if (sscanf(line, "<vcpupin vcpu='%u' cpuset='%255[^']'/>", &u, a) == 2) {
			assert_true(set_equals(a, get_string(at(g, "vcpus", u), "cpuset")));
			pins++;
		} else if (sscanf(line, "<emulatorpin cpuset='%255[^']'/>", a) == 1) {
			assert_true(set_equals(a, get_string(get(g, "emulator", json_type_object),
							     "cpuset")));
			emulator++;
		} else if (sscanf(line, "<iothreadpin iothread='%u' cpuset='%255[^']'/>", &u, a) == 2) {
			assert_true(u >= 1);
			assert_true(set_equals(a, get_string(at(g, "iothreads", u - 1), "cpuset")));
			iopins++;
		} else if (sscanf(line, "<memory mode='%255[^']' nodeset='%255[^']'/>", a, b) == 2) {
			assert_string_equal(a, get_string(mem, "mode"));
			assert_true(set_equals(b, get_string(mem, "nodeset")));
		} else if (sscanf(line, "<memnode cellid='%u' mode='%255[^']' nodeset='%255[^']'/>",
				  &u, a, b) == 3) {
			assert_string_equal(a, get_string(mem, "mode"));
			assert_true(set_equals(b, get_string(at(g, "cells", u), "nodeset")));
			memnodes++;
		} else if (sscanf(line, "<topology sockets='%u' dies='1' cores='%u' threads='%u'/>",
				  &x, &y, &z) == 3) {
			assert_int_equal(x, get_int(topo, "sockets"));
			assert_int_equal(y, get_int(topo, "cores"));
			assert_int_equal(z, get_int(topo, "threads"));
			seen_topo++;
		} else if (sscanf(line, "<cell id='%u' cpus='%255[^']' memory='%llu' unit='MiB'/>",
				  &u, a, &mib) == 3) {
			assert_true(set_equals(a, get_string(at(g, "cells", u), "cpus")));
			assert_int_equal(mib, get_int(at(g, "cells", u), "memory_mib"));
			cells++;
		}
	}
	assert_int_equal(pins, nvcpus);
	assert_int_equal(emulator, 1);
	assert_int_equal(iopins, nio);
	assert_int_equal(memnodes, ncells);
	assert_int_equal(cells, ncells);
	assert_int_equal(seen_topo, 1);
}

/* The QEMU options say what the JSON plan says: -smp, -m, one memory backend per cell on the
 * cell's node, one -numa node per cell with its vcpus and backend, one -object iothread each. */
static void
check_qemu(const char *out, struct json_object *g)
{
	struct json_object *topo = get(g, "topology", json_type_object);
	size_t ncells = json_object_array_length(get(g, "cells", json_type_array));
	unsigned backends = 0, numa = 0, io = 0, smp = 0;
	const char *p = out;
	char line[1024], a[256], b[256];
	unsigned u, w, x, y, z;
	unsigned long long mib;

	while (next_line(&p, line, sizeof(line))) {
		if (sscanf(line, "-smp %u,sockets=%u,cores=%u,threads=%u", &u, &x, &y, &z) == 4) {
			assert_int_equal(u, json_object_array_length(get(g, "vcpus", json_type_array)));
			assert_int_equal(x, get_int(topo, "sockets"));
			assert_int_equal(y, get_int(topo, "cores"));
			assert_int_equal(z, get_int(topo, "threads"));
			smp++;
		} else if (sscanf(line, "-m %lluM", &mib) == 1) {
			assert_int_equal(mib, get_int(get(g, "memory", json_type_object), "memory_mib"));
		} else if (sscanf(line, "-object memory-backend-ram,id=ram-node%u,size=%lluM,"
				  "host-nodes=%255[^,],policy=%255s", &u, &mib, a, b) == 4) {
			assert_int_equal(mib, get_int(at(g, "cells", u), "memory_mib"));
			assert_true(set_equals(a, get_string(at(g, "cells", u), "nodeset")));
			backends++;
		} else if (sscanf(line, "-numa node,nodeid=%u,cpus=%255[^,],memdev=ram-node%u", &u, a,
				  &w) == 3) {
			assert_true(set_equals(a, get_string(at(g, "cells", u), "cpus")));
			assert_int_equal(w, u);
			numa++;
		} else if (sscanf(line, "-object iothread,id=iothread%u", &u) == 1) {
			io++;
		}
	}
	assert_int_equal(smp, 1);
	assert_int_equal(backends, ncells);
	assert_int_equal(numa, ncells);
	assert_int_equal(io, json_object_array_length(get(g, "iothreads", json_type_array)));
}

/* One guest planned in every format: the JSON plan is what was asked and placed as promised,
 * and the table, the libvirt elements and the QEMU options each say the same placement. */
static void
test_plan_formats(void **state)
{
#define FORMAT_ARGS                                                                                \
	"--name", "vm1", "--vcpus", "4", "--sockets", "2", "--cores", "1", "--threads", "2",       \
		"--cells", "2", "--memory", "2G", "--iothreads", "1", "--shares", "2048",          \
		"--emulator", "isolate"
	static const char spec_text[] =
		"{\"name\": \"vm1\", \"vcpus\": 4, \"sockets\": 2, \"cores\": 1, \"threads\": 2,"
		" \"memory_mib\": 2048, \"iothreads\": 1, \"qos\": {\"shares\": 2048},"
		" \"emulator_threads\": \"isolate\"}";
	struct test_result r = RUN("plan", "--topology", HOST_16, "--format", "json", FORMAT_ARGS);
	struct json_object *spec = parse_json(spec_text), *j, *g;
	struct host h;

	host_load(&h, HOST_16);
	assert_ok(&r);
	j = parse_json(r.out);
	check_plan(j, &spec, 1, &h);
	g = plan_guest(j, 0, "vm1");
	assert_int_equal(json_object_array_length(get(g, "cells", json_type_array)), 2);
	test_result_clear(&r);

	r = RUN("plan", "--topology", HOST_16, "--format", "table", FORMAT_ARGS);
	assert_ok(&r);
	check_table(r.out, g);
	test_result_clear(&r);
	r = RUN("plan", "--topology", HOST_16, "--format", "libvirt", FORMAT_ARGS);
	assert_ok(&r);
	check_libvirt(r.out, g);
	test_result_clear(&r);
	r = RUN("plan", "--topology", HOST_16, "--format", "qemu", FORMAT_ARGS);
	assert_ok(&r);
	check_qemu(r.out, g);
	test_result_clear(&r);
#undef FORMAT_ARGS

	json_object_put(spec);
	json_object_put(j);
	host_clear(&h);
}

/* The guests of the files matched by pattern, in the order the command reads them. */
static size_t
load_specs(const char *pattern, struct json_object **specs, size_t max, glob_t *gl)
{
	size_t n = 0;

	assert_int_equal(glob(pattern, 0, NULL, gl), 0);
	assert_true(gl->gl_pathc > 0);
	for (size_t i = 0; i < gl->gl_pathc; i++) {
		struct json_object *f = json_object_from_file(gl->gl_pathv[i]);

		assert_non_null(f);
		if (json_object_is_type(f, json_type_array)) {
			for (size_t k = 0; k < json_object_array_length(f); k++) {
				assert_true(n < max);
				specs[n++] = json_object_get(json_object_array_get_idx(f, k));
			}
			json_object_put(f);
		} else {
			assert_true(n < max);
			specs[n++] = f;
		}
	}
	return n;
}

/* Plan the files of pattern on host and check the plan against them. */
static void
plan_files_and_check(const char *host, const char *pattern)
{
	const char *args[MAX_ARGS] = {"plan", "--topology", host, "--format", "json"};
	struct json_object *specs[MAX_ARGS] = {NULL}, *j;
	size_t n = 5, nspecs;
	struct test_result r;
	struct host h;
	glob_t gl;

	nspecs = load_specs(pattern, specs, ARRAY_SIZE(specs), &gl);
	for (size_t i = 0; i < gl.gl_pathc && n < MAX_ARGS - 2; i++)
		args[n++] = gl.gl_pathv[i];
	args[n] = NULL;
	r = test_topomap(NULL, args);
	assert_ok(&r);
	host_load(&h, host);
	j = parse_json(r.out);
	check_plan(j, specs, nspecs, &h);
	json_object_put(j);
	for (size_t i = 0; i < nspecs; i++)
		json_object_put(specs[i]);
	host_clear(&h);
	test_result_clear(&r);
	globfree(&gl);
}

/* `make demo` plans every examples/NAME.json on the live host: they must fit the smallest
 * host it promises, and the example host's guests must fit the example host, each placed as
 * its file asks. */
static void
test_examples_fit(void **state)
{
	char *host = strdup(source_path("examples/host-2s-ht.xml"));
	char *pattern = strdup(source_path("examples/host-2s-ht/*.json"));

	plan_files_and_check(HOST_TINY, source_path("examples/*.json"));
	plan_files_and_check(host, pattern);
	free(pattern);
	free(host);
}

/* Issue 19: --topology is read by the command (cli/source.c), into one constructor per kind
 * of host. A bad source: exit 2, one line naming it, from every kind of command. */
static void
test_topology_sources(void **state)
{
	struct scratch *s = *state;
	const char *xml = source_path("examples/host-2s-ht.xml");
	char xml_copy[sizeof(s->path[0])], cwd[4096];
	struct test_result r;
	FILE *in, *out;
	int ch;

	EXPECT_FAIL(2, ("--topology ''"), "topology", "--topology", "");
	EXPECT_FAIL(2, ("--topology 'synthetic:'", "description"), "topology", "--topology",
		    "synthetic:");
	EXPECT_FAIL(2, ("'synthetic:pack:x'"), "topology", "--topology", "synthetic:pack:x");
	EXPECT_FAIL(2, ("'no-such:x'", "no backend 'no-such'"), "topology", "--topology",
		    "no-such:x");
	EXPECT_FAIL(2, ("'/nonexistent.json'"), "topology", "--topology", "/nonexistent.json");
	EXPECT_FAIL(2, ("'/nonexistent.xml'"), "topology", "--topology", "/nonexistent.xml");
	/* the same reader for the session's commands and the host's */
	EXPECT_FAIL(2, ("--topology ''"), "plan", "--topology", "", "--name", "a", "--vcpus", "1");
	EXPECT_FAIL(2, ("'/nonexistent.xml'"), "plan", "--topology", "/nonexistent.xml", "--name",
		    "a", "--vcpus", "1");
	EXPECT_FAIL(2, ("'synthetic:pack:x'"), "rebalance", "--topology", "synthetic:pack:x",
		    "--state", scratch_file(s, "state.json", "{}"));
	EXPECT_FAIL(2, ("'/nonexistent.xml'"), "host", "show", "--topology", "/nonexistent.xml",
		    "--state", s->path[0]);

	/* NAME:ARG is the backend's host: libvirt's in-process test driver, two nodes. */
	r = RUN("topology", "--topology", "libvirt:test:///default", "--format", "json");
	assert_ok(&r);
	assert_non_null(strstr(r.out, "\"id\":1,"));
	test_result_clear(&r);

	/* A file named like a backend source: the message says how to name the file. */
	snprintf(xml_copy, sizeof(xml_copy), "%s/host:1.xml", s->dir);
	in = fopen(xml, "r");
	out = fopen(xml_copy, "w");
	assert_true(in && out);
	while ((ch = fgetc(in)) != EOF)
		fputc(ch, out);
	fclose(in);
	fclose(out);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(s->dir), 0);
	EXPECT_FAIL(2, ("'host:1.xml'", "no backend 'host'", "'./host:1.xml'"), "topology",
		    "--topology", "host:1.xml");
	r = RUN("topology", "--topology", "./host:1.xml", "--format", "json");
	assert_ok(&r);
	test_result_clear(&r);
	unlink(xml_copy);
	assert_int_equal(chdir(cwd), 0);
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
	/* More cells than nodes with CPUs: refused (exit 3, it does not fit this host) unless
	 * the guest lets them share nodes (issue 21). */
	EXPECT_FAIL(3, ("guest 'v': 3 cells but the host has 2 nodes with CPUs",
			"--cells-share-nodes"),
		    "plan", "--topology", HOST_SMALL, "--name", "v", "--vcpus", "3", "--cells", "3");
	{
		struct test_result shared = RUN("plan", "--topology", HOST_SMALL, "--name", "v",
						"--vcpus", "3", "--cells", "3",
						"--cells-share-nodes");

		assert_int_equal(shared.status, 0);
		assert_non_null(strstr(shared.out, "cells share nodes"));
		test_result_clear(&shared);
	}
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

/* Every single-valued option given twice is refused, a target key too, whichever way it is
 * spelled (-o cgroup=X silently overrode --cgroup Y). */
static void
test_single_options_twice(void **state)
{
	struct test_result r;

	r = RUN("apply", "--backend=cgroup", "--cgroup", "x", "-o", "cgroup=y", "--dry-run",
		"--name", "a", "--vcpus", "1");
	assert_failure(&r, 2, (const char *const[]){"target option 'cgroup' given more than once", NULL});
	test_result_clear(&r);
	r = RUN("apply", "--backend=cgroup", "-o", "cgroup=y", "-o", "cgroup=x", "--dry-run",
		"--name", "a", "--vcpus", "1");
	assert_failure(&r, 2, (const char *const[]){"given more than once", NULL});
	test_result_clear(&r);
	r = RUN("state", "--state", "/nonexistent/a", "--state", "/nonexistent/b");
	assert_failure(&r, 2, (const char *const[]){"--state given more than once", NULL});
	test_result_clear(&r);
	r = RUN("state", "--topology", HOST_TINY, "--topology", HOST_TINY);
	assert_failure(&r, 2, (const char *const[]){"--topology given more than once", NULL});
	test_result_clear(&r);
	r = RUN("release", "a", "--state", "/nonexistent/a", "--state", "/nonexistent/a");
	assert_failure(&r, 2, (const char *const[]){"--state given more than once", NULL});
	test_result_clear(&r);
}

/* The libvirt hook releases by the domain's name: a guest recorded under another name (a
 * domain whose name is not a valid guest name is recorded under its UUID) is found through
 * the target apply recorded. libvirt's in-process test:///default driver. */
static void
test_release_by_domain(void **state)
{
	char dir[] = "/tmp/topomap-test-rel-XXXXXX", path[128], *text;
	struct json_object *root, *guests, *g, *o;
	struct test_result r;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state.json", dir);
	r = RUN("apply", "--backend=libvirt", "--connect", "test:///default", "--domain", "test",
		"--state", path, "--topology", HOST_SMALL);
	assert_int_equal(r.status, 0);
	test_result_clear(&r);
	/* as if the domain's name had not been a valid guest name */
	assert_non_null(f = fopen(path, "r"));
	text = calloc(1, 1 << 20);
	assert_true(fread(text, 1, (1 << 20) - 1, f) > 0);
	fclose(f);
	root = json_tokener_parse(text);
	free(text);
	assert_non_null(root);
	assert_true(json_object_object_get_ex(root, "guests", &guests));
	g = json_object_array_get_idx(guests, 0);
	json_object_object_add(g, "name", json_object_new_string("g-uuid"));
	assert_true(json_object_object_get_ex(g, "plan", &o));
	json_object_object_add(o, "name", json_object_new_string("g-uuid"));
	assert_true(json_object_object_get_ex(g, "spec", &o));
	json_object_object_add(o, "name", json_object_new_string("g-uuid"));
	assert_non_null(f = fopen(path, "w"));
	fputs(json_object_to_json_string(root), f);
	fclose(f);
	json_object_put(root);

	r = RUN("release", "test", "--state", path, "--topology", HOST_SMALL);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.out, "released 'g-uuid'\n");
	test_result_clear(&r);
	r = RUN("release", "test", "--state", path, "--topology", HOST_SMALL);
	assert_int_equal(r.status, 2);
	test_result_clear(&r);
	unlink(path);
	snprintf(path, sizeof(path), "%s/state.json.lock", dir);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_and_help),
		cmocka_unit_test(test_single_options_twice),
		cmocka_unit_test(test_release_by_domain),
		cmocka_unit_test(test_topology_json_synthetic),
		cmocka_unit_test(test_topology_json_example_host),
		cmocka_unit_test(test_plan_json_inline),
		cmocka_unit_test(test_plan_json_inline_and_files),
		cmocka_unit_test(test_plan_reserve_and_stdin),
		cmocka_unit_test(test_plan_formats),
		cmocka_unit_test(test_examples_fit),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test_setup_teardown(test_topology_sources, scratch_setup,
						scratch_teardown),
		cmocka_unit_test_setup_teardown(test_bad_guest_files, scratch_setup,
						scratch_teardown),
		cmocka_unit_test(test_no_fit),
		cmocka_unit_test(test_plan_hugepages),
		cmocka_unit_test_setup_teardown(test_described_guest_options, scratch_setup,
						scratch_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
