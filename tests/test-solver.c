/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The solver, on synthetic and XML hosts. Every plan goes through check_plan(), which asserts
 * the properties a user relies on whatever the host: a dedicated vcpu has exactly one PU of
 * its own on its cell's node, no PU is given twice, reserved PUs and memory-only nodes are
 * never used for vcpus, no node gives more memory than it has.
 */
#include <json-c/json.h>

#include "testlib.h"

struct solved {
	struct tmap_topology *t;
	struct tmap_guests *g;
	struct tmap_plan *p;
};

static int
core_of(const struct tmap_topology *t, unsigned pu)
{
	assert_true(pu < t->pu_limit);
	assert_true(t->pu_core[pu] >= 0);
	return t->pu_core[pu];
}

static const struct plan_guest *
guest(const struct solved *s, const char *name)
{
	return test_plan_guest(s->p, name);
}

static unsigned
vcpu_pu(const struct plan_guest *pg, unsigned v)
{
	assert_int_equal(hwloc_bitmap_weight(pg->vcpu_pus[v]), 1);
	return (unsigned)hwloc_bitmap_first(pg->vcpu_pus[v]);
}

/* A set as backends receive it: the plan's list string, which goes to cpuset.cpus, vcpupin and
 * taskset, must be exactly the set the solver decided, in the canonical list syntax as hwloc
 * (a parser and printer independent of topomap's) reads and writes it. */
static void
check_list(const char *guest_name, const char *what, const char *list, hwloc_const_bitmap_t set)
{
	_cleanup_bitmap_ hwloc_bitmap_t parsed = hwloc_bitmap_alloc();
	_cleanup_free_ char *canonical = NULL;

	if (!list)
		fail_msg("guest '%s': %s: no list string", guest_name, what);
	if (hwloc_bitmap_list_sscanf(parsed, list) < 0)
		fail_msg("guest '%s': %s: '%s' is not in list syntax", guest_name, what, list);
	assert_true(hwloc_bitmap_list_asprintf(&canonical, parsed) >= 0);
	if (!hwloc_bitmap_isequal(parsed, set) || strcmp(canonical, list))
		fail_msg("guest '%s': %s: the string '%s' is not the set decided ('%s' canonical)",
			 guest_name, what, list, canonical);
}

/* Every list string of a guest against its bitmap; what the guest may run on is its vcpus'
 * PUs and the emulator set. */
static void
check_lists(const struct plan_guest *pg)
{
	_cleanup_bitmap_ hwloc_bitmap_t runs = hwloc_bitmap_dup(pg->emulator);
	char what[64];

	for (unsigned v = 0; v < pg->vcpus; v++) {
		snprintf(what, sizeof(what), "vcpu %u", v);
		check_list(pg->name, what, pg->vcpu_lists[v], pg->vcpu_pus[v]);
		hwloc_bitmap_or(runs, runs, pg->vcpu_pus[v]);
	}
	for (unsigned c = 0; c < pg->ncells; c++) {
		snprintf(what, sizeof(what), "cell %u vcpus", c);
		check_list(pg->name, what, pg->cells[c].vcpus_list, pg->cells[c].vcpus);
		snprintf(what, sizeof(what), "cell %u host PUs", c);
		check_list(pg->name, what, pg->cells[c].pus_list, pg->cells[c].pus);
	}
	check_list(pg->name, "emulator", pg->emulator_list, pg->emulator);
	check_list(pg->name, "held", pg->held_list, pg->held);
	check_list(pg->name, "memory nodes", pg->memory_list, pg->memory_nodes);
	check_list(pg->name, "cpuset", pg->cpus_list, runs);
}

/* Realtime vcpus (issue 21): each one's host core holds realtime vcpus of its guest and PUs
 * it holds empty, no emulator or iothread; the held set keeps it from other guests. */
static unsigned realtime_checked, mixed_realtime_checked;

static void
check_realtime(const struct tmap_topology *t, const struct plan_guest *pg)
{
	_cleanup_bitmap_ hwloc_bitmap_t others = NULL;
	unsigned v;

	if (!pg->realtime)
		return;
	realtime_checked++;
	mixed_realtime_checked += pg->cpu_policy == TMAP_CPU_MIXED;
	/* A mixed guest's shared vcpus (their pool) count among the others. */
	others = hwloc_bitmap_dup(pg->emulator);
	hwloc_bitmap_or(others, others, pg->iothread);
	for (v = 0; v < pg->vcpus; v++)
		if (!hwloc_bitmap_isset(pg->realtime, v))
			hwloc_bitmap_or(others, others, pg->vcpu_pus[v]);
	hwloc_bitmap_foreach_begin(v, pg->realtime)
	{
		const struct topo_core *core = &t->cores[t->pu_core[vcpu_pu(pg, v)]];

		for (unsigned k = 0; k < core->npus; k++) {
			assert_false(hwloc_bitmap_isset(others, core->pus[k]));
			assert_true(hwloc_bitmap_isset(pg->held, core->pus[k]));
		}
	}
	hwloc_bitmap_foreach_end();
}

/* The guests of one plan, or of several plans that share a host. */
static void
check_guests(const struct tmap_topology *t, const struct plan_guest *const *guests,
	     size_t nguests, const char *reserve)
{
	_cleanup_bitmap_ hwloc_bitmap_t used = hwloc_bitmap_alloc();
	_cleanup_bitmap_ hwloc_bitmap_t reserved = NULL;
	_cleanup_free_ uint64_t *mem = calloc(t->nnodes, sizeof(uint64_t));
	_cleanup_free_ uint64_t *pages = calloc((size_t)t->nnodes * t->npage_sizes + 1,
						sizeof(uint64_t));

	if (reserve)
		assert_int_equal(bitmap_parse_list(reserve, &reserved), 0);
	for (size_t i = 0; i < nguests; i++) {
		const struct plan_guest *pg = guests[i];
		_cleanup_bitmap_ hwloc_bitmap_t seen = hwloc_bitmap_alloc();
		_cleanup_bitmap_ hwloc_bitmap_t mine = hwloc_bitmap_alloc();
		uint64_t total = 0;

		check_lists(pg);
		check_realtime(t, pg);

		for (unsigned c = 0; c < pg->ncells; c++) {
			const struct plan_cell *pc = &pg->cells[c];
			int n = topo_node_index(t, pc->node);
			unsigned v;

			assert_true(n >= 0);
			assert_false(t->nodes[n].cpuless);
			if (pg->page_kib) {
				/* Whole pages from the node's pool of that size, no normal memory. */
				int k = topo_page_index(t, pg->page_kib);

				assert_true(k >= 0);
				assert_int_equal((pc->memory_mib << 10) % pg->page_kib, 0);
				pages[n * t->npage_sizes + (unsigned)k] += (pc->memory_mib << 10) / pg->page_kib;
			} else {
				mem[n] += pc->memory_mib;
			}
			total += pc->memory_mib;
			assert_false(hwloc_bitmap_intersects(seen, pc->vcpus));
			hwloc_bitmap_or(seen, seen, pc->vcpus);
			hwloc_bitmap_foreach_begin(v, pc->vcpus)
			{
				/* Every vcpu runs on PUs of its cell's node only. */
				assert_true(hwloc_bitmap_isincluded(pg->vcpu_pus[v], t->nodes[n].cpuset));
				assert_false(hwloc_bitmap_iszero(pg->vcpu_pus[v]));
				if (reserved)
					assert_false(hwloc_bitmap_intersects(pg->vcpu_pus[v], reserved));
				if (pg->cpu_policy == TMAP_CPU_DEDICATED ||
				    (pg->dedicated && hwloc_bitmap_isset(pg->dedicated, v))) {
					unsigned pu = vcpu_pu(pg, v);

					assert_false(hwloc_bitmap_isset(mine, pu));
					hwloc_bitmap_set(mine, pu);
				}
			}
			hwloc_bitmap_foreach_end();
			assert_true(hwloc_bitmap_isset(pg->memory_nodes, pc->node));
		}
		/* Cells partition the vcpus; memory adds up. */
		assert_int_equal(hwloc_bitmap_weight(seen), pg->vcpus);
		assert_int_equal(total, pg->memory_mib);
		assert_false(hwloc_bitmap_iszero(pg->emulator));
		if (reserved)
			assert_false(hwloc_bitmap_intersects(pg->emulator, reserved));
		if (pg->cpu_policy != TMAP_CPU_SHARED) {
			/* No PU held by two guests (a mixed guest's: its dedicated part's). */
			assert_true(hwloc_bitmap_isincluded(mine, pg->held));
			assert_false(hwloc_bitmap_intersects(used, pg->held));
			hwloc_bitmap_or(used, used, pg->held);
		}
	}
	/* Shared guests float where no dedicated guest sat when they came (issue 21: a later
	 * dedicated guest may take PUs of a shared guest's set; their need is kept). */
	for (unsigned n = 0; n < t->nnodes; n++) {
		assert_true(mem[n] <= t->nodes[n].memory_mib);
		for (unsigned k = 0; k < t->npage_sizes; k++)
			assert_true(pages[n * t->npage_sizes + k] <= t->nodes[n].huge_pages[k]);
	}
}

static void
check_plan(const struct tmap_topology *t, const struct tmap_plan *p, const char *reserve)
{
	_cleanup_free_ const struct plan_guest **guests = calloc(p->nguests + 1, sizeof(*guests));

	assert_non_null(guests);
	for (size_t i = 0; i < p->nguests; i++)
		guests[i] = &p->guests[i];
	check_guests(t, guests, p->nguests, reserve);
}

static struct solved
solve_ok(const char *host, const char *json, const char *reserve)
{
	struct solved s;

	s.t = test_topology(host);
	s.g = test_guests(json);
	s.p = test_solve(s.t, s.g, reserve);
	check_plan(s.t, s.p, reserve);
	return s;
}

static void
solved_free(struct solved *s)
{
	tmap_plan_free(s->p);
	tmap_guests_free(s->g);
	tmap_topology_free(s->t);
}

/* Solve and expect no fit, with a message that holds every needle. */
static void
solve_nofit(const char *host, const char *json, const char *reserve,
	    const char *const needles[])
{
	struct tmap_topology *t = test_topology(host);
	struct tmap_guests *g = test_guests(json);
	struct tmap_solve_options o = TMAP_SOLVE_OPTIONS_INIT;
	struct tmap_error err = {0};
	struct tmap_plan *p = NULL;

	o.reserve = reserve;
	assert_int_equal(tmap_solve(t, g, &o, &p, &err), -ENOSPC);
	assert_null(p);
	assert_null(strchr(err.message, '\n'));
	for (size_t i = 0; needles[i]; i++)
		if (!strstr(err.message, needles[i]))
			fail_msg("'%s' lacks '%s'", err.message, needles[i]);
	tmap_guests_free(g);
	tmap_topology_free(t);
}

#define NOFIT(host, json, reserve, ...)                                                           \
	solve_nofit(host, json, reserve, (const char *const[]){__VA_ARGS__, NULL})

#define INTEL_HOST_STRING "synthetic:pack:2 numa:1(memory=64GiB) core:6 pu:2(indexes=0,12,1,13,2,14,3,15,4,16,5,17,6,18,7,19,8,20,9,21,10,22,11,23)"
#define INTEL INTEL_HOST_STRING
static const char test_intel_host[] = INTEL_HOST_STRING;

/* Guest SMT threads land on host siblings, even numbered 12 apart. */
static void
guest_smt_on_far_siblings(void **state)
{
	struct solved s = solve_ok(test_data("host-intel-2s.xml"),
				   "{\"name\":\"vm\",\"vcpus\":8,\"threads\":2}", NULL);
	const struct plan_guest *pg = guest(&s, "vm");

	for (unsigned v = 0; v < 8; v += 2) {
		unsigned a = vcpu_pu(pg, v), b = vcpu_pu(pg, v + 1);

		assert_int_not_equal(a, b);
		assert_int_equal(core_of(s.t, a), core_of(s.t, b));
		assert_int_equal(a % 12, b % 12); /* siblings here are n and n+12 */
	}
	solved_free(&s);
}

/* prefer without guest SMT still fills whole cores, leaving the others whole. */
static void
prefer_fills_whole_cores(void **state)
{
	struct solved s = solve_ok(INTEL, "[{\"name\":\"a\",\"vcpus\":4},{\"name\":\"b\",\"vcpus\":3},"
					  "{\"name\":\"c\",\"vcpus\":1}]",
				   NULL);
	const struct plan_guest *a = guest(&s, "a"), *b = guest(&s, "b"), *c = guest(&s, "c");
	_cleanup_bitmap_ hwloc_bitmap_t cores = hwloc_bitmap_alloc();

	for (unsigned v = 0; v < 4; v++)
		hwloc_bitmap_set(cores, (unsigned)core_of(s.t, vcpu_pu(a, v)));
	assert_int_equal(hwloc_bitmap_weight(cores), 2);
	/* b's odd vcpu leaves half a core; c, one vcpu, takes exactly that half (best fit)
	 * instead of breaking a whole core. */
	hwloc_bitmap_zero(cores);
	for (unsigned v = 0; v < 3; v++)
		hwloc_bitmap_set(cores, (unsigned)core_of(s.t, vcpu_pu(b, v)));
	assert_int_equal(hwloc_bitmap_weight(cores), 2);
	assert_true(hwloc_bitmap_isset(cores, (unsigned)core_of(s.t, vcpu_pu(c, 0))));
	solved_free(&s);
}

/* Two-cell guests of one vcpu per cell: the second fills the free siblings the first left on
 * two nodes, instead of breaking a whole core on the empty third node. */
static void
odd_cells_fill_free_siblings(void **state)
{
	struct solved s = solve_ok("synthetic:pack:1 numa:3(memory=16GiB) core:4 pu:2",
				   "[{\"name\":\"a\",\"vcpus\":2,\"cells\":[{\"cpus\":\"0\"},{\"cpus\":\"1\"}]},"
				   "{\"name\":\"b\",\"vcpus\":2,\"cells\":[{\"cpus\":\"0\"},{\"cpus\":\"1\"}]}]",
				   NULL);
	const struct plan_guest *a = guest(&s, "a"), *b = guest(&s, "b");
	_cleanup_bitmap_ hwloc_bitmap_t cores_a = hwloc_bitmap_alloc();
	_cleanup_bitmap_ hwloc_bitmap_t cores_b = hwloc_bitmap_alloc();

	for (unsigned v = 0; v < 2; v++) {
		hwloc_bitmap_set(cores_a, (unsigned)core_of(s.t, vcpu_pu(a, v)));
		hwloc_bitmap_set(cores_b, (unsigned)core_of(s.t, vcpu_pu(b, v)));
	}
	assert_int_equal(hwloc_bitmap_weight(cores_a), 2);
	assert_true(hwloc_bitmap_isequal(cores_a, cores_b));
	solved_free(&s);
}

/* isolate: one vcpu per core and nobody gets the siblings. */
static void
isolate_keeps_siblings_empty(void **state)
{
	struct solved s = solve_ok(INTEL,
				   "[{\"name\":\"iso\",\"vcpus\":4,\"thread_policy\":\"isolate\"},"
				   "{\"name\":\"fill\",\"vcpus\":8}]",
				   NULL);
	const struct plan_guest *iso = guest(&s, "iso"), *fill = guest(&s, "fill");
	_cleanup_bitmap_ hwloc_bitmap_t cores = hwloc_bitmap_alloc();

	for (unsigned v = 0; v < 4; v++) {
		unsigned pu = vcpu_pu(iso, v);
		const struct topo_core *core = &s.t->cores[core_of(s.t, pu)];

		hwloc_bitmap_set(cores, (unsigned)core_of(s.t, pu));
		for (unsigned k = 0; k < core->npus; k++)
			assert_true(hwloc_bitmap_isset(iso->held, core->pus[k]));
	}
	assert_int_equal(hwloc_bitmap_weight(cores), 4);
	for (unsigned v = 0; v < 8; v++)
		assert_false(hwloc_bitmap_isset(cores, (unsigned)core_of(s.t, vcpu_pu(fill, v))));
	solved_free(&s);
}

/* require: whole cores, siblings packed; refused on a host without SMT. */
static void
require_whole_cores(void **state)
{
	struct solved s = solve_ok(INTEL,
				   "[{\"name\":\"half\",\"vcpus\":1},"
				   "{\"name\":\"req\",\"vcpus\":3,\"thread_policy\":\"require\"}]",
				   NULL);
	const struct plan_guest *half = guest(&s, "half"), *req = guest(&s, "req");
	int used_core = core_of(s.t, vcpu_pu(half, 0));

	/* req never touches the core 'half' started, and holds both cores it uses whole. */
	for (unsigned v = 0; v < 3; v++)
		assert_int_not_equal(core_of(s.t, vcpu_pu(req, v)), used_core);
	assert_int_equal(core_of(s.t, vcpu_pu(req, 0)), core_of(s.t, vcpu_pu(req, 1)));
	assert_int_equal(hwloc_bitmap_weight(req->held), 4);
	solved_free(&s);

	NOFIT("synthetic:pack:1 core:4 pu:1", "{\"name\":\"req\",\"vcpus\":2,\"thread_policy\":\"require\"}",
	      NULL, "req: thread policy require needs host cores with SMT siblings");
}

static void
emulator_isolate(void **state)
{
	struct solved s = solve_ok(INTEL,
				   "[{\"name\":\"vm\",\"vcpus\":4,\"emulator_threads\":\"isolate\","
				   "\"iothreads\":2,\"cells\":[{\"cpus\":\"0-1\"},{\"cpus\":\"2-3\"}]},"
				   "{\"name\":\"other\",\"vcpus\":19}]",
				   NULL);
	const struct plan_guest *vm = guest(&s, "vm");
	unsigned emu;
	int n0 = topo_node_index(s.t, vm->cells[0].node);

	assert_int_equal(hwloc_bitmap_weight(vm->emulator), 1);
	emu = (unsigned)hwloc_bitmap_first(vm->emulator);
	for (unsigned v = 0; v < 4; v++)
		assert_int_not_equal(vcpu_pu(vm, v), emu);
	assert_true(hwloc_bitmap_isset(s.t->nodes[n0].cpuset, emu));
	assert_true(hwloc_bitmap_isset(vm->held, emu));
	/* iothreads go with the emulator */
	assert_string_equal(tmap_plan_emulator_cpuset(s.p, 0), vm->emulator_list);
	solved_free(&s);

	/* share: the emulator floats over exactly the vcpu PUs. */
	s = solve_ok(INTEL, "{\"name\":\"vm\",\"vcpus\":3}", NULL);
	vm = guest(&s, "vm");
	{
		_cleanup_bitmap_ hwloc_bitmap_t u = hwloc_bitmap_alloc();

		for (unsigned v = 0; v < 3; v++)
			hwloc_bitmap_or(u, u, vm->vcpu_pus[v]);
		assert_true(hwloc_bitmap_isequal(u, vm->emulator));
	}
	solved_free(&s);
}

static void
reserve_is_never_used(void **state)
{
	/* Reserve the first core of each socket, both siblings: a full host otherwise. */
	struct solved s = solve_ok(INTEL,
				   "[{\"name\":\"a\",\"vcpus\":10},{\"name\":\"b\",\"vcpus\":10}]",
				   "0,6,12,18");
	solved_free(&s);
	NOFIT(INTEL, "[{\"name\":\"a\",\"vcpus\":10},{\"name\":\"b\",\"vcpus\":11}]", "0,6,12,18",
	      "b:", "11 free PUs", "largest free node has 10");
	{
		struct tmap_topology *t = test_topology(INTEL);
		struct tmap_guests *g = test_guests("{\"name\":\"a\",\"vcpus\":1}");
		struct tmap_solve_options o = TMAP_SOLVE_OPTIONS_INIT;
		struct tmap_error err = {0};
		struct tmap_plan *p = NULL;

		o.reserve = "24";
		assert_int_equal(tmap_solve(t, g, &o, &p, &err), -EINVAL);
		assert_non_null(strstr(err.message, "names PU 24"));
		o.reserve = "1-";
		assert_int_equal(tmap_solve(t, g, &o, &p, &err), -EINVAL);
		assert_non_null(strstr(err.message, "'1-'"));
		o.flags = 1u << 7;
		o.reserve = NULL;
		assert_int_equal(tmap_solve(t, g, &o, &p, &err), -EINVAL);
		assert_null(p);
		tmap_guests_free(g);
		tmap_topology_free(t);
	}
}

/* A memory-only node never gets a cell, even though hwloc says every PU is local to it. */
static void
memory_only_node_gets_no_cell(void **state)
{
	struct solved s = solve_ok(test_data("host-cxl.xml"),
				   "[{\"name\":\"a\",\"vcpus\":2,\"memory_mib\":8192},"
				   "{\"name\":\"b\",\"vcpus\":2,\"memory_mib\":4096,\"cells\":["
				   "{\"cpus\":[0]},{\"cpus\":[1]}]}]",
				   NULL);

	for (size_t i = 0; i < s.p->nguests; i++)
		assert_false(hwloc_bitmap_isset(s.p->guests[i].memory_nodes, 2));
	solved_free(&s);
	/* 3 cells on a host with 2 CPU nodes, which let them share nodes: still not node 2. */
	s = solve_ok(test_data("host-cxl.xml"),
		     "{\"name\":\"c\",\"vcpus\":3,\"cells_share_nodes\":true,\"cells\":["
		     "{\"cpus\":[0]},{\"cpus\":[1]},{\"cpus\":[2]}]}",
		     NULL);
	assert_false(hwloc_bitmap_isset(guest(&s, "c")->memory_nodes, 2));
	solved_free(&s);
}

/* Nodes of different sizes: best fit. 5 vcpus: node 1 (5 PUs) rather than node 3 (8). */
static void
uneven_nodes_best_fit(void **state)
{
	struct solved s = solve_ok(test_data("host-4n.xml"),
				   "[{\"name\":\"five\",\"vcpus\":5},{\"name\":\"eight\",\"vcpus\":8},"
				   "{\"name\":\"three\",\"vcpus\":3}]",
				   NULL);

	assert_int_equal(guest(&s, "five")->cells[0].node, 1);
	assert_int_equal(guest(&s, "eight")->cells[0].node, 3);
	assert_int_equal(guest(&s, "three")->cells[0].node, 0);
	solved_free(&s);
}

/* Two cells go to the closest pair of nodes, which is not the next by number. */
static void
cells_closest_by_distance(void **state)
{
	struct solved s = solve_ok(test_data("host-4n.xml"),
				   "{\"name\":\"vm\",\"vcpus\":4,\"cells\":[{\"cpus\":\"0-1\"},"
				   "{\"cpus\":\"2-3\"}]}",
				   NULL);
	const struct plan_guest *vm = guest(&s, "vm");
	int a = topo_node_index(s.t, vm->cells[0].node), b = topo_node_index(s.t, vm->cells[1].node);

	assert_int_not_equal(a, b);
	assert_int_equal(topo_distance(s.t, (unsigned)a, (unsigned)b), 12);
	solved_free(&s);

	/* Cells of 3 and 6 vcpus: 6 fits only nodes 3 (8 PUs); its close neighbour is node 1. */
	s = solve_ok(test_data("host-4n.xml"),
		     "{\"name\":\"vm\",\"vcpus\":9,\"cells\":[{\"cpus\":\"0-2\"},{\"cpus\":\"3-8\"}]}",
		     NULL);
	vm = guest(&s, "vm");
	assert_int_equal(vm->cells[1].node, 3);
	assert_int_equal(vm->cells[0].node, 1);
	solved_free(&s);
}

/* A guest without cells bigger than any node: fewest closest nodes, proposed cells. */
static void
spread_over_fewest_closest(void **state)
{
	struct solved s = solve_ok(test_data("host-4n.xml"),
				   "{\"name\":\"big\",\"vcpus\":12,\"memory_mib\":12288}", NULL);
	const struct plan_guest *big = guest(&s, "big");

	assert_true(big->cells_proposed);
	assert_int_equal(big->ncells, 2);
	/* 8 + 5 PUs: nodes 3 and 1, which are also close (12). */
	assert_int_equal(hwloc_bitmap_weight(big->memory_nodes), 2);
	assert_true(hwloc_bitmap_isset(big->memory_nodes, 3));
	assert_true(hwloc_bitmap_isset(big->memory_nodes, 1));
	assert_non_null(strstr(big->explain[0], "spread over"));
	solved_free(&s);

	NOFIT(test_data("host-4n.xml"), "{\"name\":\"huge\",\"vcpus\":21}", NULL, "huge: needs 21",
	      "largest free node has 8", "all nodes together 20");
}

static void
no_fit_messages(void **state)
{
	NOFIT("synthetic:pack:2 numa:1 core:6 pu:1",
	      "{\"name\":\"vm3\",\"vcpus\":16,\"cells\":[{\"cpus\":\"0-7\"},{\"cpus\":\"8-15\"}]}", NULL,
	      "vm3: cell 0 needs 8 free PUs", "the largest free node has 6");
	/* A guest with explicit cells is never spread: its cell must fit one node. */
	NOFIT(INTEL, "{\"name\":\"fat\",\"vcpus\":2,\"memory_mib\":70000,\"cells\":[{\"cpus\":\"0-1\"}]}",
	      NULL, "fat: cell 0", "70000 MiB", "65536 MiB");
	NOFIT(INTEL, "[{\"name\":\"a\",\"vcpus\":12},{\"name\":\"b\",\"vcpus\":1,"
		     "\"cells\":[{\"cpus\":[0]}]},{\"name\":\"c\",\"vcpus\":12}]",
	      NULL, "c: needs 12 free PUs", "largest free node has 11", "all nodes together 11");
	NOFIT(INTEL, "{\"name\":\"iso\",\"vcpus\":7,\"thread_policy\":\"isolate\",\"cells\":["
		     "{\"cpus\":\"0-6\"}]}",
	      NULL, "iso: cell 0 needs 7 whole free cores", "largest free node has 6");
	/* Issue 14: the PUs of one node are never shown beside the memory of another. */
	NOFIT("synthetic:pack:2 numa:1(memory=12GiB) core:6 pu:1",
	      "[{\"name\":\"a\",\"vcpus\":6,\"memory_mib\":1024,\"cells\":[{\"cpus\":\"0-5\"}]},"
	      "{\"name\":\"b\",\"vcpus\":1,\"memory_mib\":10240,\"cells\":[{\"cpus\":\"0\"}]},"
	      "{\"name\":\"c\",\"vcpus\":4,\"memory_mib\":11000,\"cells\":[{\"cpus\":\"0-3\"}]}]",
	      NULL, "c: cell 0 needs 4 free PUs and 11000 MiB on one node; no free node has both: ",
	      "has 5 free PUs but 2048 MiB; node ", "has 11264 MiB but 0 free PUs");
	/* 3 cells, 2 nodes: refused unless the guest lets its cells share nodes (issue 21),
	 * the counts named; the memory-only node of host-cxl.xml does not count. */
	NOFIT(INTEL,
	      "{\"name\":\"tri\",\"vcpus\":3,\"cells\":[{\"cpus\":[0]},{\"cpus\":[1]},"
	      "{\"cpus\":[2]}]}",
	      NULL, "guest 'tri': 3 cells but the host has 2 nodes with CPUs; set cells_share_nodes");
	NOFIT(test_data("host-cxl.xml"),
	      "{\"name\":\"tri\",\"vcpus\":3,\"cells\":[{\"cpus\":[0]},{\"cpus\":[1]},"
	      "{\"cpus\":[2]}]}",
	      NULL, "guest 'tri': 3 cells but the host has 2 nodes with CPUs");
	/* 3 cells, 2 nodes, and distinct nodes demanded: refused even when the guest asks. */
	{
		struct tmap_topology *t = test_topology(INTEL);
		struct tmap_guests *g = test_guests(
			"{\"name\":\"tri\",\"vcpus\":3,\"cells_share_nodes\":true,\"cells\":["
			"{\"cpus\":[0]},{\"cpus\":[1]},{\"cpus\":[2]}]}");
		struct tmap_solve_options o = TMAP_SOLVE_OPTIONS_INIT;
		struct tmap_error err = {0};
		struct tmap_plan *p = NULL;

		o.flags = TMAP_SOLVE_DISTINCT_CELLS;
		assert_int_equal(tmap_solve(t, g, &o, &p, &err), -ENOSPC);
		assert_non_null(strstr(err.message, "tri: each of its 3 cells fits some node"));
		tmap_guests_free(g);
		tmap_topology_free(t);
	}
}

/* Without a given pool, shared guests float over every free PU of their node (issue 21: not
 * a slice of vcpus / cpu_overcommit PUs), and dedicated guests leave the PUs they need. */
static void
shared_pool_grows_and_shrinks(void **state)
{
	struct tmap_topology *t = test_topology(INTEL);
	struct tmap_solve_options o = TMAP_SOLVE_OPTIONS_INIT;
	struct tmap_host *h = NULL;
	struct tmap_plan *p1 = NULL, *p2 = NULL, *p3 = NULL;
	struct tmap_guests *g = test_guests(
		"[{\"name\":\"sh1\",\"vcpus\":4,\"cpu_policy\":\"shared\"},"
		"{\"name\":\"sh2\",\"vcpus\":3,\"cpu_policy\":\"shared\"},"
		"{\"name\":\"ded\",\"vcpus\":10}]");
	const struct plan_guest *sh1, *sh2, *ded;
	struct tmap_error err = {0};

	o.cpu_overcommit = 2.0;
	assert_int_equal(tmap_host_new(t, &o, &h, &err), 0);
	assert_int_equal(tmap_host_place(h, tmap_guests_get(g, 0), &p1, &err), 0);
	assert_int_equal(tmap_host_place(h, tmap_guests_get(g, 1), &p2, &err), 0);
	assert_int_equal(tmap_host_place(h, tmap_guests_get(g, 2), &p3, &err), 0);
	sh1 = &p1->guests[0];
	sh2 = &p2->guests[0];
	ded = &p3->guests[0];
	/* Both float over the 12 PUs of one node (the second joins the node that has shared
	 * guests); before issue 21 they got 2 and 4 PUs (vcpus / 2). */
	assert_int_equal(hwloc_bitmap_weight(sh1->vcpu_pus[0]), 12);
	for (unsigned v = 1; v < 4; v++)
		assert_true(hwloc_bitmap_isequal(sh1->vcpu_pus[0], sh1->vcpu_pus[v]));
	assert_true(hwloc_bitmap_isequal(sh1->vcpu_pus[0], sh2->vcpu_pus[0]));
	/* 10 dedicated vcpus: the shared node keeps 4 PUs (7 vcpus at 2 per PU, widest 4), so
	 * has 8 to give; the other node's 12 take them. */
	assert_int_not_equal(ded->cells[0].node, sh1->cells[0].node);
	assert_false(hwloc_bitmap_intersects(ded->held, sh2->vcpu_pus[0]));
	/* Releasing one shared guest keeps the pool the other floats over; releasing both frees
	 * it for a dedicated guest that needs the whole node. */
	assert_int_equal(tmap_host_release(h, "sh1"), 0);
	assert_int_equal(tmap_host_release(h, "sh1"), -ENOENT);
	assert_int_equal(tmap_host_release(h, "ded"), 0);
	{
		struct tmap_guests *big = test_guests("{\"name\":\"big\",\"vcpus\":12,"
						      "\"cells\":[{\"cpus\":\"0-11\"}]}");
		struct tmap_plan *pb = NULL;

		/* one node is whole (12 PUs) again: big fits there, away from sh2's pool */
		assert_int_equal(tmap_host_place(h, tmap_guests_get(big, 0), &pb, &err), 0);
		assert_false(hwloc_bitmap_intersects(pb->guests[0].held, sh2->vcpu_pus[0]));
		assert_int_equal(tmap_host_release(h, "big"), 0);
		assert_int_equal(tmap_host_release(h, "sh2"), 0);
		/* and with the pool gone, a second 12 fits beside */
		assert_int_equal(tmap_host_place(h, tmap_guests_get(big, 0), NULL, &err), 0);
		assert_int_equal(tmap_host_guest_count(h), 1);
		assert_string_equal(tmap_host_guest_name(h, 0), "big");
		tmap_plan_free(pb);
		tmap_guests_free(big);
	}
	/* A name placed twice is refused, the host unchanged. */
	{
		struct tmap_guests *again = test_guests("{\"name\":\"big\",\"vcpus\":1}");

		assert_int_equal(tmap_host_place(h, tmap_guests_get(again, 0), NULL, &err), -EEXIST);
		tmap_guests_free(again);
	}
	tmap_plan_free(p1);
	tmap_plan_free(p2);
	tmap_plan_free(p3);
	tmap_host_free(h);
	tmap_guests_free(g);
	tmap_topology_free(t);
}

/* A given shared pool: dedicated guests never get it; shared guests overcommit it, each cell
 * no wider than the pool (issue 21: the 8-vcpu guest this test placed on 2 PUs is refused). */
static void
shared_pool_given(void **state)
{
	struct tmap_topology *t = test_topology(INTEL);
	struct tmap_guests *g = test_guests(
		"[{\"name\":\"a\",\"vcpus\":2,\"cpu_policy\":\"shared\"},"
		"{\"name\":\"d\",\"vcpus\":22}]");
	struct tmap_solve_options o = TMAP_SOLVE_OPTIONS_INIT;
	struct tmap_error err = {0};
	struct tmap_plan *p = NULL;

	o.shared = "0,12";
	o.cpu_overcommit = 4.0;
	assert_int_equal(tmap_solve(t, g, &o, &p, &err), 0);
	assert_string_equal(tmap_plan_vcpu_cpuset(p, 0, 1), "0,12");
	assert_false(hwloc_bitmap_isset(p->guests[1].held, 0));
	assert_false(hwloc_bitmap_isset(p->guests[1].held, 12));
	tmap_plan_free(p);
	tmap_guests_free(g);
	/* 8 shared vcpus fit 2 PUs at 4 per PU, but not one cell of 8 on 2 PUs */
	g = test_guests("{\"name\":\"a\",\"vcpus\":8,\"cpu_policy\":\"shared\"}");
	assert_int_equal(tmap_solve(t, g, &o, &p, &err), -ENOSPC);
	assert_string_equal(err.message, "a: cell 0 has 8 shared vcpus, more than the 2 PUs of node 0's shared pool, the widest (a shared cell floats over its node's whole pool; the overcommit adds guests, it never narrows one)");
	tmap_guests_free(g);
	tmap_topology_free(t);
}

/*
 * host-hugepages.xml: node 0 has 1024 pages of 2 MiB and 4 of 1 GiB, node 1 512 of 2 MiB and
 * no 1 GiB pool; both have 64 GiB of normal memory.
 */
#define HUGE_HOST test_data("host-hugepages.xml")

/* Normal memory is no substitute for hugepages: node 1 has more free PUs and plenty of
 * memory, but no 1 GiB page. */
static void
hugepages_pick_the_node_with_the_pool(void **state)
{
	struct solved s = solve_ok(HUGE_HOST,
				   "[{\"name\":\"a\",\"vcpus\":2,\"memory_mib\":2048},"
				   "{\"name\":\"g1\",\"vcpus\":2,\"memory_mib\":2048,\"hugepages\":\"1G\"}]",
				   "0-3,12-15");
	const struct plan_guest *a = guest(&s, "a"), *g1 = guest(&s, "g1");

	/* Without hugepages the node with the most free PUs wins; with them, the pool. */
	assert_int_equal(a->cells[0].node, 1);
	assert_int_equal(g1->cells[0].node, 0);
	assert_int_equal(g1->page_kib, 1048576);
	assert_int_equal(tmap_plan_hugepage_kib(s.p, 1), 1048576);
	assert_int_equal(tmap_plan_hugepage_kib(s.p, 0), 0);
	assert_int_equal(tmap_plan_hugepage_kib(s.p, 2), 0);
	{
		bool said = false;

		for (size_t i = 0; i < g1->nexplain; i++)
			said |= strstr(g1->explain[i], "cell 0 memory: 2 pages of 1 GiB from node 0's pool, 2 left free") != NULL;
		assert_true(said);
	}
	solved_free(&s);

	/* 2 MiB pages: 768 fit only node 0's pool of 1024; then 512 only node 1's. */
	s = solve_ok(HUGE_HOST,
		     "[{\"name\":\"b\",\"vcpus\":2,\"memory_mib\":1536,\"hugepages\":\"2M\"},"
		     "{\"name\":\"c\",\"vcpus\":2,\"memory_mib\":1024,\"hugepages\":2048}]",
		     "0-3,12-15");
	assert_int_equal(guest(&s, "b")->cells[0].node, 0);
	assert_int_equal(guest(&s, "c")->cells[0].node, 1);
	solved_free(&s);
}

static void
hugepages_refused(void **state)
{
	/* Node 0 has enough normal memory for 8 GiB, but 4 pages of 1 GiB. */
	NOFIT(HUGE_HOST, "{\"name\":\"big\",\"vcpus\":2,\"memory_mib\":8192,\"hugepages\":\"1G\"}",
	      NULL, "big: needs 8192 MiB of 1 GiB pages (8) on one node; the most free is node 0 with 4");
	NOFIT(HUGE_HOST, "{\"name\":\"g\",\"vcpus\":2,\"memory_mib\":2048,\"hugepages\":\"16M\"}",
	      NULL, "g: needs 2048 MiB of 16 MiB pages (128) on one node; no node of this host has a pool of 16 MiB pages");
	NOFIT(INTEL, "{\"name\":\"g\",\"vcpus\":2,\"hugepages\":\"2M\"}", NULL,
	      "no node of this host has a pool of 2 MiB pages");
	/* One cell per node, both in 1 GiB pages: node 1 has none. */
	NOFIT(HUGE_HOST, "{\"name\":\"two\",\"vcpus\":4,\"hugepages\":\"1G\",\"memory_mib\":2048,"
	      "\"cells\":[{\"cpus\":\"0-1\"},{\"cpus\":\"2-3\"}]}", NULL,
	      "two: each of its 2 cells fits some node",
	      "; free 1 GiB pages for a cell: node 0");
	/* Even spread over both nodes, the pools hold 8 GiB of 1 GiB pages, not 10. */
	NOFIT(test_data("host-1g-pools.json"),
	      "{\"name\":\"ten\",\"vcpus\":2,\"memory_mib\":10240,\"hugepages\":\"1G\"}", NULL,
	      "ten: needs 10240 MiB of 1 GiB pages (10) on one node; the most free is node 0 with 4, all nodes together 8");
}

/* A hugepage guest without cells that fits no single node is spread like any other, each
 * proposed cell in whole pages of its node's pool. */
static void
hugepages_spread_in_whole_pages(void **state)
{
	/* 20 vcpus over two nodes of 12 PUs: half the guest on each, 10 vcpus and 1024 MiB in
	 * whole 2 MiB pages. */
	struct solved s = solve_ok(HUGE_HOST,
				   "{\"name\":\"wide\",\"vcpus\":20,\"memory_mib\":2048,\"hugepages\":\"2M\"}",
				   NULL);
	const struct plan_guest *g = guest(&s, "wide");

	assert_true(g->cells_proposed);
	assert_int_equal(g->ncells, 2);
	assert_int_equal(g->cells[0].node, 0);
	assert_int_equal(g->cells[0].memory_mib, 1024);
	assert_int_equal(hwloc_bitmap_weight(g->cells[0].vcpus), 10);
	assert_int_equal(g->cells[1].node, 1);
	assert_int_equal(g->cells[1].memory_mib, 1024);
	solved_free(&s);

	/* 1 GiB pages: node 1 has 4 PUs, so it takes at most 4 of the 10 vcpus and as much of the
	 * memory: 6 vcpus and 1843.2 MiB on node 0, 4 and 1228.8 on node 1, in whole pages 2
	 * and 1. */
	s = solve_ok(test_data("host-1g-pools.json"),
		     "{\"name\":\"g\",\"vcpus\":10,\"memory_mib\":3072,\"hugepages\":\"1G\"}", NULL);
	g = guest(&s, "g");
	assert_int_equal(g->ncells, 2);
	assert_int_equal(g->cells[0].node, 0);
	assert_int_equal(hwloc_bitmap_weight(g->cells[0].vcpus), 6);
	assert_int_equal(g->cells[0].memory_mib, 2048);
	assert_int_equal(g->cells[1].node, 1);
	assert_int_equal(g->cells[1].memory_mib, 1024);
	solved_free(&s);
}

/* --batch with hugepage guests: trials undo their pages, and the leftover names the pool. */
static void
hugepages_batch(void **state)
{
	struct tmap_topology *t = test_topology(HUGE_HOST);
	struct tmap_guests *g = test_guests(
		"[{\"name\":\"a\",\"vcpus\":2,\"memory_mib\":2048,\"hugepages\":\"1G\"},"
		"{\"name\":\"n\",\"vcpus\":4},"
		"{\"name\":\"b\",\"vcpus\":2,\"memory_mib\":2048,\"hugepages\":\"1G\"},"
		"{\"name\":\"c\",\"vcpus\":2,\"memory_mib\":2048,\"hugepages\":\"1G\"}]");
	struct tmap_host *h = NULL;
	struct tmap_plan *p = NULL;
	struct tmap_error err = {0};

	assert_int_equal(tmap_host_new(t, NULL, &h, &err), 0);
	assert_int_equal(tmap_host_solve_batch(h, g, &p, &err), 0);
	check_plan(t, p, NULL);
	assert_int_equal(tmap_plan_guest_count(p), 3);
	assert_int_equal(tmap_plan_rejected_count(p), 1);
	assert_non_null(strstr(tmap_plan_rejected_reason(p, 0),
			       "needs 2048 MiB of 1 GiB pages (2) on one node; the most free is node 0 with 0"));
	tmap_plan_free(p);
	tmap_host_free(h);
	tmap_guests_free(g);
	tmap_topology_free(t);
}

/* Node 0 of host-hugepages.xml as `topomap state --format json` shows it. */
static void
expect_node0(const struct tmap_host *h, uint64_t free_1g)
{
	struct tmap_error err = {0};
	char *text = NULL, want[256];

	snprintf(want, sizeof(want),
		 "\"memory_mib\":65536,\"memory_free_mib\":65536,\"hugepages\":[{\"size_kib\":2048,"
		 "\"total\":1024,\"free\":1024},{\"size_kib\":1048576,\"total\":4,\"free\":%" PRIu64 "}]",
		 free_1g);
	assert_int_equal(tmap_host_format(h, TMAP_FORMAT_JSON, 0, &text, &err), 0);
	if (!strstr(text, want))
		fail_msg("'%s' lacks '%s'", text, want);
	free(text);
}

/* Two guests exhaust a pool; releasing one gives its pages back. */
static void
hugepages_charged_and_released(void **state)
{
	struct tmap_topology *t = test_topology(HUGE_HOST);
	struct tmap_guests *g = test_guests(
		"[{\"name\":\"a\",\"vcpus\":2,\"memory_mib\":3072,\"hugepages\":\"1G\"},"
		"{\"name\":\"b\",\"vcpus\":2,\"memory_mib\":2048,\"hugepages\":\"1G\"},"
		"{\"name\":\"c\",\"vcpus\":2,\"memory_mib\":1024,\"hugepages\":\"1G\"}]");
	struct tmap_host *h = NULL;
	struct tmap_error err = {0};
	char *text = NULL;

	assert_int_equal(tmap_host_new(t, NULL, &h, &err), 0);
	assert_int_equal(tmap_host_place(h, tmap_guests_get(g, 0), NULL, &err), 0);
	/* hugepages are not normal memory: node 0 keeps all of it */
	expect_node0(h, 1);
	assert_int_equal(tmap_host_fit(h, tmap_guests_get(g, 1), &err), -ENOSPC);
	assert_non_null(strstr(err.message, "b: needs 2048 MiB of 1 GiB pages (2) on one node; the most free is node 0 with 1"));
	assert_int_equal(tmap_host_place(h, tmap_guests_get(g, 1), NULL, &err), -ENOSPC);
	/* the last page still fits a 1 GiB guest, and then the pool is empty */
	assert_int_equal(tmap_host_place(h, tmap_guests_get(g, 2), NULL, &err), 0);
	expect_node0(h, 0);

	assert_int_equal(tmap_host_format(h, TMAP_FORMAT_TABLE, 0, &text, &err), 0);
	assert_non_null(strstr(text, "hugepages free/total: 2 MiB 1024/1024, 1 GiB 0/4\n"));
	assert_non_null(strstr(text, "memory in 1 GiB pages, 3072 MiB on node 0"));
	free(text);
	assert_int_equal(tmap_host_format(h, TMAP_FORMAT_JSON, 0, &text, &err), 0);
	assert_non_null(strstr(text, "{\"size_kib\":1048576,\"total\":4,\"free\":0}"));
	assert_non_null(strstr(text, "\"hugepage_kib\":1048576"));
	free(text);

	assert_int_equal(tmap_host_release(h, "a"), 0);
	expect_node0(h, 3);
	assert_int_equal(tmap_host_place(h, tmap_guests_get(g, 1), NULL, &err), 0);
	expect_node0(h, 1);
	tmap_host_free(h);
	tmap_guests_free(g);
	tmap_topology_free(t);
}

/* Many guests on a 2048-PU host: invariants hold, and the plan is the same every time. */
static void
large_host_deterministic(void **state)
{
	const char *host = "synthetic:pack:8 numa:2(memory=64GiB) l3:2 core:16 pu:4";
	char json[16384];
	size_t len = 0;
	char *a = NULL, *b = NULL;
	struct solved s;

	/* 60 guests of 8 to 32 vcpus, every other one with guest SMT, the 8-vcpu ones in two
	 * cells: 1200 vcpus on 2044 usable PUs. */
	len += (size_t)snprintf(json + len, sizeof(json) - len, "[");
	for (int i = 0; i < 60; i++) {
		int vcpus = 8 * (1 + i % 4);

		len += (size_t)snprintf(json + len, sizeof(json) - len,
					"%s{\"name\":\"g%d\",\"vcpus\":%d,\"threads\":%d%s}",
					i ? "," : "", i, vcpus, i % 2 ? 2 : 1,
					vcpus == 8 ? ",\"cells\":[{\"cpus\":\"0-3\"},{\"cpus\":\"4-7\"}]" : "");
	}
	snprintf(json + len, sizeof(json) - len, "]");

	s = solve_ok(host, json, "0-3");
	assert_int_equal(hwloc_bitmap_weight(s.t->cpuset), 2048);
	assert_int_equal(s.p->nguests, 60);
	assert_int_equal(tmap_plan_format(s.p, TMAP_FORMAT_JSON, 0, &a, NULL), 0);
	solved_free(&s);
	s = solve_ok(host, json, "0-3");
	assert_int_equal(tmap_plan_format(s.p, TMAP_FORMAT_JSON, 0, &b, NULL), 0);
	assert_string_equal(a, b);
	free(a);
	free(b);
	solved_free(&s);
}

/*
 * Cells on distinct nodes of a host of more than 64 nodes (the matching's node sets take
 * several words): nodes 0 to 69 keep one free PU each, 70 and 71 both of theirs. A guest of
 * cells of 2, 2 and 1 vcpus must find the two nodes past the first word for its wide cells;
 * one with three wide cells must be refused.
 */
static void
cells_match_past_64_nodes(void **state)
{
	struct tmap_topology *t = test_topology("synthetic:numa:72(memory=1GiB) core:1 pu:2");
	struct tmap_host *h = NULL;
	struct tmap_error err = {0};
	struct tmap_guests *wide, *wider;
	struct tmap_plan *p = NULL;
	char json[128];
	unsigned nodes[3];

	(void)state;
	assert_int_equal(tmap_host_new(t, NULL, &h, &err), 0);
	for (unsigned k = 0; k < 70; k++) {
		struct tmap_guests *one;

		snprintf(json, sizeof(json), "[{\"name\":\"f%u\",\"vcpus\":1,\"memory_mib\":16,\"pus\":\"%u\"}]",
			 k, 2 * k);
		one = test_guests(json);
		assert_int_equal(tmap_host_place(h, tmap_guests_get(one, 0), NULL, &err), 0);
		tmap_guests_free(one);
	}
	wide = test_guests("[{\"name\":\"wide\",\"vcpus\":5,\"memory_mib\":96,\"cells\":["
			   "{\"cpus\":\"0-1\",\"memory_mib\":32},{\"cpus\":\"2-3\",\"memory_mib\":32},"
			   "{\"cpus\":\"4\",\"memory_mib\":32}]}]");
	assert_int_equal(tmap_host_place(h, tmap_guests_get(wide, 0), &p, &err), 0);
	for (unsigned c = 0; c < 3; c++)
		nodes[c] = (unsigned)tmap_plan_cell_node(p, 0, c);
	assert_true((nodes[0] == 70 && nodes[1] == 71) || (nodes[0] == 71 && nodes[1] == 70));
	assert_true(nodes[2] < 70);
	tmap_plan_free(p);
	assert_int_equal(tmap_host_release(h, "wide"), 0);
	wider = test_guests("[{\"name\":\"wider\",\"vcpus\":6,\"memory_mib\":96,\"cells\":["
			    "{\"cpus\":\"0-1\",\"memory_mib\":32},{\"cpus\":\"2-3\",\"memory_mib\":32},"
			    "{\"cpus\":\"4-5\",\"memory_mib\":32}]}]");
	assert_int_equal(tmap_host_fit(h, tmap_guests_get(wider, 0), NULL), -ENOSPC);
	assert_int_equal(tmap_host_place(h, tmap_guests_get(wider, 0), NULL, &err), -ENOSPC);
	tmap_guests_free(wider);
	tmap_guests_free(wide);
	tmap_host_free(h);
	tmap_topology_free(t);
}

/* Guests are placed in the order given, and small ones leave the biggest node whole. */
static void
order_is_kept(void **state)
{
	struct solved s = solve_ok(test_data("host-4n.xml"),
				   "[{\"name\":\"x\",\"vcpus\":3},{\"name\":\"y\",\"vcpus\":3}]", NULL);

	/* Small guests keep the one 8-PU node whole for a big cell, and spread over the rest. */
	assert_int_not_equal(guest(&s, "x")->cells[0].node, 3);
	assert_int_not_equal(guest(&s, "y")->cells[0].node, 3);
	assert_int_not_equal(guest(&s, "x")->cells[0].node, guest(&s, "y")->cells[0].node);
	assert_string_equal(tmap_plan_guest_name(s.p, 0), "x");
	assert_int_equal(tmap_plan_cell_count(s.p, 1), 1);
	assert_int_equal(tmap_plan_cell_node(s.p, 1, 0), (int)guest(&s, "y")->cells[0].node);
	assert_int_equal(tmap_plan_cell_node(s.p, 1, 1), -EINVAL);
	assert_null(tmap_plan_vcpu_cpuset(s.p, 0, 3));
	assert_null(tmap_plan_guest_name(s.p, 2));
	assert_true(tmap_plan_explain_count(s.p, 0) >= 3);
	solved_free(&s);
}

/* --batch places at least as many as placing one by one, in the order given, skipping what
 * does not fit; and says why for each left out. Seeded random streams on three hosts. */
static void
batch_never_places_fewer(void **state)
{
	static const char *hosts[] = {
		"synthetic:pack:1 numa:2(memory=32GiB) core:4 pu:2",
		test_intel_host,
		"synthetic:pack:2 numa:2(memory=16GiB) core:3 pu:1",
	};
	uint32_t seed = 12345;

	for (size_t k = 0; k < ARRAY_SIZE(hosts); k++) {
		for (int round = 0; round < 20; round++) {
			struct tmap_topology *t = test_topology(hosts[k]);
			struct tmap_host *one = NULL, *batch = NULL;
			struct tmap_guests *g = NULL;
			struct tmap_plan *p = NULL;
			struct tmap_error err = {0};
			size_t one_placed = 0;
			char json[4096];
			size_t len = 0;
			int n = 4 + (int)(seed % 8);

			len += (size_t)snprintf(json + len, sizeof(json) - len, "[");
			for (int i = 0; i < n; i++) {
				seed = seed * 1103515245 + 12345;
				len += (size_t)snprintf(json + len, sizeof(json) - len,
							"%s{\"name\":\"g%d\",\"vcpus\":%u,\"memory_mib\":%u%s}",
							i ? "," : "", i, 1 + (seed >> 16) % 6,
							512 * (1 + (seed >> 8) % 8),
							(seed >> 4) % 5 == 0 ? ",\"thread_policy\":\"isolate\"" : "");
			}
			snprintf(json + len, sizeof(json) - len, "]");
			g = test_guests(json);
			assert_int_equal(tmap_host_new(t, NULL, &one, &err), 0);
			for (size_t i = 0; i < tmap_guests_count(g); i++)
				one_placed += tmap_host_place(one, tmap_guests_get(g, i), NULL, &err) == 0;
			assert_int_equal(tmap_host_new(t, NULL, &batch, &err), 0);
			if (tmap_host_solve_batch(batch, g, &p, &err) == 0) {
				check_plan(t, p, NULL);
				assert_true(tmap_plan_guest_count(p) >= one_placed);
				assert_int_equal(tmap_plan_guest_count(p) + tmap_plan_rejected_count(p),
						 tmap_guests_count(g));
				assert_int_equal(tmap_host_guest_count(batch), tmap_plan_guest_count(p));
				for (size_t i = 0; i < tmap_plan_rejected_count(p); i++)
					assert_non_null(strstr(tmap_plan_rejected_reason(p, i),
							       tmap_plan_rejected_name(p, i)));
			} else {
				assert_int_equal(one_placed, 0);
			}
			tmap_plan_free(p);
			tmap_host_free(one);
			tmap_host_free(batch);
			tmap_guests_free(g);
			tmap_topology_free(t);
		}
	}
}

/* The cores of a cell stay inside one L3 group where they fit, the best-filled one, so the
 * other group stays whole for a cell that needs all of it. */
static void
cells_stay_in_one_l3(void **state)
{
	struct solved s = solve_ok("synthetic:pack:1 numa:1(memory=64GiB) l3:2 core:4 pu:2",
				   /* f leaves one core in its group; g must not start there */
				   "[{\"name\":\"f\",\"vcpus\":6},{\"name\":\"g\",\"vcpus\":3}]",
				   NULL);

	for (size_t i = 0; i < s.p->nguests; i++) {
		const struct plan_guest *pg = &s.p->guests[i];
		int l3 = s.t->cores[core_of(s.t, vcpu_pu(pg, 0))].l3;

		assert_true(l3 >= 0);
		for (unsigned v = 1; v < pg->vcpus; v++)
			assert_int_equal(s.t->cores[core_of(s.t, vcpu_pu(pg, v))].l3, l3);
	}
	solved_free(&s);
}

/* A pseudo-random number below n (a fixed sequence per seed: the test is the same each run). */
static unsigned
below(uint32_t *seed, unsigned n)
{
	*seed = *seed * 1103515245u + 12345u;
	return (*seed >> 8) % n;
}

/* An irregular host in the JSON of topology-json.c: nodes of different sizes, some without
 * CPUs, SMT siblings numbered far apart, hugepage pools on some nodes, random distances. */
static struct tmap_topology *
random_host(uint32_t *seed, char *reserve, char *shared)
{
	static char json[1 << 16];
	unsigned nnodes = 1 + below(seed, 8), threads = 1 + below(seed, 2), pu = 0;
	struct tmap_topology *t = NULL;
	struct tmap_error err = {0};
	size_t len = 0;

	*reserve = *shared = '\0';
	len += (size_t)sprintf(json + len, "{\"nodes\": [");
	for (unsigned n = 0; n < nnodes; n++) {
		/* node 0 always has CPUs */
		unsigned ncores = n && below(seed, 6) == 0 ? 0 : 1 + below(seed, 6);

		len += (size_t)sprintf(json + len, "%s{\"id\": %u, \"socket\": %u, \"memory_mib\": %u, ",
				       n ? "," : "", n, n % 2, 2048 * (1 + below(seed, 8)));
		if (below(seed, 2))
			len += (size_t)sprintf(json + len, "\"hugepages\": [{\"size_kib\": 2048, \"count\": %u}%s], ",
					       512 * below(seed, 6),
					       below(seed, 3) ? "" : ", {\"size_kib\": 1048576, \"count\": 2}");
		len += (size_t)sprintf(json + len, "\"cores\": [");
		for (unsigned c = 0; c < ncores; c++, pu++) {
			len += (size_t)sprintf(json + len, "%s[%u", c ? "," : "", pu);
			if (threads == 2)
				len += (size_t)sprintf(json + len, ", %u", pu + 500);
			len += (size_t)sprintf(json + len, "]");
		}
		len += (size_t)sprintf(json + len, "]}");
	}
	len += (size_t)sprintf(json + len, "]");
	if (below(seed, 2)) {
		unsigned dist[8][8];

		for (unsigned a = 0; a < nnodes; a++)
			for (unsigned b = a; b < nnodes; b++)
				dist[a][b] = dist[b][a] = a == b ? 10 : 11 + below(seed, 20);
		len += (size_t)sprintf(json + len, ", \"distances\": [");
		for (unsigned a = 0; a < nnodes; a++)
			for (unsigned b = 0; b < nnodes; b++)
				len += (size_t)sprintf(json + len, "%s%u%s", b ? "," : a ? ",[" : "[",
						       dist[a][b], b + 1 == nnodes ? "]" : "");
		len += (size_t)sprintf(json + len, "]");
	}
	len += (size_t)sprintf(json + len, "}");
	assert_int_equal(tmap_topology_new_from_json(json, len, "random", &t, &err), 0);
	if (pu > 2 && below(seed, 3) == 0)
		sprintf(reserve, "0");
	if (pu > 2 && below(seed, 4) == 0)
		sprintf(shared, "%u", pu - 1);
	return t;
}

/* A random guest request, in the JSON a user writes; NULL when it is not a valid guest (a
 * hugepage guest whose cells are not whole pages, say). */
static struct tmap_guests *
random_guest(uint32_t *seed, unsigned i)
{
	static const char *const thread_policy[] = {"prefer", "isolate", "require"};
	struct tmap_guests *list = NULL;
	struct tmap_error err = {0};
	unsigned threads = 1 + below(seed, 2), vcpus = threads * (1 + below(seed, 8));
	unsigned ncells = below(seed, 3) ? 1 : 2 + below(seed, 3);
	bool shared = below(seed, 6) == 0;
	/* A third of the others mixed (issue 21), their first half of guest cores dedicated;
	 * chosen by the index, so that the stream's draws stay what they were. */
	bool mixed = !shared && i % 3 == 1 && vcpus > threads;
	unsigned dedicated = vcpus / threads / 2 * threads;
	char json[1024];
	size_t len = 0;

	if (ncells > vcpus / threads)
		ncells = vcpus / threads;
	len += (size_t)sprintf(json + len, "{\"name\": \"g%u\", \"vcpus\": %u, \"threads\": %u, \"memory_mib\": %u, \"cpu_policy\": \"%s\"",
			       i, vcpus, threads, 1024 * (1 + below(seed, 6)),
			       shared ? "shared" : mixed ? "mixed" : "dedicated");
	if (mixed)
		len += (size_t)sprintf(json + len, ", \"dedicated_cpus\": \"0-%u\"", dedicated - 1);
	if (!shared)
		len += (size_t)sprintf(json + len, ", \"thread_policy\": \"%s\", \"emulator_threads\": \"%s\"",
				       thread_policy[threads > 1 ? 2 * below(seed, 2) : below(seed, 3)],
				       below(seed, 3) ? "share" : "isolate");
	if (below(seed, 4) == 0)
		len += (size_t)sprintf(json + len, ", \"hugepages\": \"%s\"", below(seed, 4) ? "2M" : "1G");
	/* Realtime vcpus on a fifth of the dedicated guests with more than one guest core, and
	 * on half the mixed ones (among their dedicated vcpus): the first guest core; the
	 * stream's draws stay what they were. */
	if (!shared && (i % 5 == 2 || (mixed && i % 2 == 0)) && vcpus > threads)
		len += (size_t)sprintf(json + len, ", \"realtime_cpus\": \"0-%u\"", threads - 1);
	/* cells as a user lists them: guest cores split in order, earlier cells larger */
	for (unsigned c = 0, cores = vcpus / threads, next = 0; ncells > 1 && c < ncells; c++) {
		unsigned k = (cores / ncells + (c < cores % ncells)) * threads;

		len += (size_t)sprintf(json + len, "%s{\"cpus\": \"%u-%u\"}%s", c ? "," : ", \"cells\": [",
				       next, next + k - 1, c + 1 == ncells ? "]" : "");
		next += k;
	}
	sprintf(json + len, "}");
	assert_int_equal(tmap_guests_new(&list), 0);
	if (tmap_guests_parse_json(list, json, strlen(json), "random", &err) < 0) {
		tmap_guests_free(list);
		return NULL;
	}
	return list;
}

static char *
host_json(const struct tmap_host *h)
{
	struct tmap_error err = {0};
	char *text = NULL;

	assert_int_equal(tmap_host_format(h, TMAP_FORMAT_JSON, 0, &text, &err), 0);
	return text;
}

/* Every guest the host holds, checked together as one plan (see check_guests()). */
static void
check_host(const struct tmap_topology *t, const struct tmap_host *h, const char *reserve)
{
	size_t n = tmap_host_guest_count(h);
	struct tmap_plan **plans = calloc(n + 1, sizeof(*plans));
	const struct plan_guest **guests = calloc(n + 1, sizeof(*guests));
	struct tmap_error err = {0};

	assert_non_null(plans);
	assert_non_null(guests);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(tmap_host_guest_plan(h, tmap_host_guest_name(h, i), &plans[i], &err), 0);
		guests[i] = &plans[i]->guests[0];
	}
	check_guests(t, guests, n, reserve);
	/* The free PUs the solver sums per node are those its cores hold. */
	assert_true(solver_sums_agree(host_solver_view(h)));
	for (size_t i = 0; i < n; i++)
		tmap_plan_free(plans[i]);
	free(plans);
	free(guests);
}

/*
 * Long random streams on irregular hosts, guests coming and going: what a host that runs for
 * months relies on, whatever the decisions are. tmap_host_fit() says yes exactly when
 * tmap_host_place() places, and changes nothing, with or without a reterr; a refusal changes nothing and names the
 * guest; the guests held never share a PU nor take more memory or pages than a node has;
 * and once every guest has left, the host is as it was new.
 */
static void
random_streams_keep_the_host_whole(void **state)
{
	uint32_t seed = 20261128;

	for (int round = 0; round < 150; round++) {
		struct tmap_solve_options o = TMAP_SOLVE_OPTIONS_INIT;
		char reserve[16], shared[16];
		struct tmap_topology *t = random_host(&seed, reserve, shared);
		struct tmap_host *h = NULL;
		struct tmap_error err = {0};
		_cleanup_free_ char *empty = NULL;
		unsigned nguests = 5 + below(&seed, 30);

		o.reserve = *reserve ? reserve : NULL;
		o.shared = *shared ? shared : NULL;
		o.cpu_overcommit = 1 + below(&seed, 4);
		o.flags = (below(&seed, 2) ? TMAP_SOLVE_DISTINCT_CELLS : 0) |
			  (below(&seed, 2) ? TMAP_SOLVE_NO_SPREAD : 0);
		assert_int_equal(tmap_host_new(t, &o, &h, &err), 0);
		empty = host_json(h);
		for (unsigned i = 0; i < nguests; i++) {
			struct tmap_guests *list = random_guest(&seed, i);
			_cleanup_free_ char *before = NULL, *after_fit = NULL;
			struct tmap_plan *p = NULL;
			int fit, placed;

			if (!list)
				continue;
			before = host_json(h);
			fit = tmap_host_fit(h, tmap_guests_get(list, 0), &err);
			after_fit = host_json(h);
			assert_string_equal(after_fit, before);
			/* Without reterr, the same answer (a refusal then goes unexplained). */
			assert_int_equal(tmap_host_fit(h, tmap_guests_get(list, 0), NULL), fit);
			placed = tmap_host_place(h, tmap_guests_get(list, 0), &p, &err);
			assert_int_equal(fit == 0, placed == 0);
			if (placed < 0) {
				_cleanup_free_ char *after = host_json(h);
				char name[16];

				snprintf(name, sizeof(name), "g%u", i);
				assert_non_null(strstr(err.message, name));
				assert_string_equal(after, before);
			}
			tmap_plan_free(p);
			tmap_guests_free(list);
			if (below(&seed, 5) == 0 && tmap_host_guest_count(h)) {
				size_t k = below(&seed, (unsigned)tmap_host_guest_count(h));
				char name[16];

				snprintf(name, sizeof(name), "%s", tmap_host_guest_name(h, k));
				assert_int_equal(tmap_host_release(h, name), 0);
			}
			check_host(t, h, o.reserve);
		}
		while (tmap_host_guest_count(h)) {
			char name[16];

			snprintf(name, sizeof(name), "%s", tmap_host_guest_name(h, 0));
			assert_int_equal(tmap_host_release(h, name), 0);
		}
		{
			_cleanup_free_ char *left = host_json(h);

			assert_string_equal(left, empty);
		}
		tmap_host_free(h);
		tmap_topology_free(t);
	}
	/* The streams hold realtime guests, mixed ones among them: their rule was checked. */
	assert_true(realtime_checked > 100);
	assert_true(mixed_realtime_checked > 50);
}

/* The plan a host holds for a guest, or fail. */
static struct tmap_plan *
held_plan(const struct tmap_host *h, const char *name)
{
	struct tmap_plan *p = NULL;
	struct tmap_error err = {0};

	if (tmap_host_guest_plan(h, name, &p, &err) < 0)
		fail_msg("%s", err.message);
	return p;
}

static bool
explains(const struct plan_guest *pg, const char *needle)
{
	for (size_t i = 0; i < pg->nexplain; i++)
		if (strstr(pg->explain[i], needle))
			return true;
	return false;
}

/* apply again: a guest that asks for what it was given stays on its PUs and nodes with its
 * new cputune; one that asks for something else is placed anew; one that no longer fits
 * keeps what it had. */
static void
place_again_keeps_a_running_guest(void **state)
{
	struct tmap_topology *t = test_topology("synthetic:pack:2 numa:1(memory=4GiB) core:2 pu:2");
	/* one list per request: a guest's name appears once in a list */
	static const char *const spec[] = {
		"{\"name\":\"a\",\"vcpus\":2}",
		"{\"name\":\"b\",\"vcpus\":3}",
		"{\"name\":\"a\",\"vcpus\":2,\"memory_mode\":\"preferred\",\"qos\":{\"shares\":512}}",
		"{\"name\":\"a\",\"vcpus\":2,\"threads\":2,\"thread_policy\":\"require\"}",
		"{\"name\":\"a\",\"vcpus\":6}",
		/* cells that give their memory and no memory_mib: the same request, kept */
		"{\"name\":\"c\",\"vcpus\":2,\"cells\":[{\"cpus\":\"0\",\"memory_mib\":256},"
		"{\"cpus\":\"1\",\"memory_mib\":256}]}",
		"{\"name\":\"c\",\"vcpus\":2,\"qos\":{\"shares\":100},\"cells\":[{\"cpus\":\"0\","
		"\"memory_mib\":256},{\"cpus\":\"1\",\"memory_mib\":256}]}",
	};
	struct tmap_guests *g[ARRAY_SIZE(spec)];
	struct tmap_host *h = NULL;
	struct tmap_plan *p = NULL, *held;
	struct tmap_error err = {0};
	char *before, *after;

	for (size_t i = 0; i < ARRAY_SIZE(spec); i++)
		g[i] = test_guests(spec[i]);
	assert_int_equal(tmap_host_new(t, NULL, &h, &err), 0);
	assert_int_equal(tmap_host_place_again(h, tmap_guests_get(g[0], 0), NULL, &err), 0);
	assert_int_equal(tmap_host_place_again(h, tmap_guests_get(g[1], 0), NULL, &err), 0);
	held = held_plan(h, "a");
	assert_string_equal(held->guests[0].held_list, "0-1");
	tmap_plan_free(held);

	/* New cputune and memory mode: kept, and said so once however often it is applied. */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(tmap_host_place_again(h, tmap_guests_get(g[2], 0), &p, &err), 0);
		assert_string_equal(p->guests[0].held_list, "0-1");
		assert_int_equal(p->guests[0].shares, 512);
		assert_int_equal(p->guests[0].memory_mode, TMAP_MEMORY_PREFERRED);
		assert_true(explains(&p->guests[0], "kept where it is"));
		tmap_plan_free(p);
	}
	held = held_plan(h, "a");
	assert_int_equal(held->guests[0].shares, 512);
	assert_int_equal(held->guests[0].memory_mode, TMAP_MEMORY_PREFERRED);
	{
		size_t kept = 0;

		for (size_t i = 0; i < held->guests[0].nexplain; i++)
			kept += strstr(held->guests[0].explain[i], "kept where it is") != NULL;
		assert_int_equal(kept, 1);
	}
	tmap_plan_free(held);
	assert_int_equal(tmap_host_guest_count(h), 2);

	/* Two threads on whole SMT cores is another request: placed anew, still 2 guests. */
	assert_int_equal(tmap_host_place_again(h, tmap_guests_get(g[3], 0), &p, &err), 0);
	assert_false(explains(&p->guests[0], "kept where it is"));
	assert_int_equal(tmap_plan_guest_count(p), 1);
	tmap_plan_free(p);
	assert_int_equal(tmap_host_guest_count(h), 2);

	/* 6 vcpus fit no node (b holds 3 of node 1's 4): refused, and a keeps what it had. */
	before = host_json(h);
	assert_int_equal(tmap_host_place_again(h, tmap_guests_get(g[4], 0), &p, &err), -ENOSPC);
	assert_non_null(strstr(err.message, "a: needs 6 free PUs"));
	after = host_json(h);
	assert_string_equal(after, before);
	free(before);
	free(after);
	check_host(t, h, NULL);

	tmap_host_release(h, "b");
	assert_int_equal(tmap_host_place_again(h, tmap_guests_get(g[5], 0), NULL, &err), 0);
	assert_int_equal(tmap_host_place_again(h, tmap_guests_get(g[6], 0), &p, &err), 0);
	assert_true(explains(&p->guests[0], "kept where it is"));
	assert_int_equal(p->guests[0].shares, 100);
	tmap_plan_free(p);
	check_host(t, h, NULL);

	tmap_host_free(h);
	for (size_t i = 0; i < ARRAY_SIZE(spec); i++)
		tmap_guests_free(g[i]);
	tmap_topology_free(t);
}

/* The ledger keeps each guest's plan as a copy: every field the plan's JSON shows is copied,
 * and the copy owns all of its memory (the original is freed first). */
static void
plan_guest_copy_is_deep(void **state)
{
	struct solved sv = solve_ok("synthetic:pack:2 numa:1 core:4 pu:2",
				    "[{\"name\": \"a\", \"vcpus\": 4, \"iothreads\": 1, "
				    "\"emulator_threads\": \"isolate\", \"qos\": {\"shares\": 7}},"
				    " {\"name\": \"b\", \"vcpus\": 3, \"cpu_policy\": \"shared\"}]",
				    NULL);
	(void)state;

	for (size_t i = 0; i < sv.p->nguests; i++) {
		struct plan_guest copy;
		struct json_object *a = plan_guest_to_json(&sv.p->guests[i]), *b;

		assert_int_equal(plan_guest_copy(&copy, &sv.p->guests[i]), 0);
		plan_guest_clear(&sv.p->guests[i]);
		b = plan_guest_to_json(&copy);
		assert_string_equal(json_object_to_json_string(a), json_object_to_json_string(b));
		sv.p->guests[i] = copy;
		json_object_put(a);
		json_object_put(b);
	}
	solved_free(&sv);
}

/* Issue 21: node 0 has 8 cores x 2 threads and 32 GiB, node 1 4 x 2 and 96 GiB. A small guest
 * goes to the node of its shape (node 0), so a memory-heavy guest that only node 1 can hold
 * still fits there; it used to take node 1 (the most memory) and leave bigmem nowhere. */
static void
memory_heavy_node_kept_for_memory(void **state)
{
	struct solved sv = solve_ok(test_data("host-unequal-memory.json"),
				    "[{\"name\":\"small\",\"vcpus\":2,\"memory_mib\":2048},"
				    "{\"name\":\"bigmem\",\"vcpus\":4,\"memory_mib\":98304}]",
				    NULL);
	(void)state;

	assert_int_equal(guest(&sv, "small")->cells[0].node, 0);
	assert_int_equal(guest(&sv, "bigmem")->cells[0].node, 1);
	solved_free(&sv);
}

/* Issue 21, nodes 3 times apart in memory per PU: node 0 has 8 cores x 2 and 32 GiB (2 GiB
 * per PU), node 1 4 x 2 and 48 GiB (6 GiB per PU). 'small' (1 GiB per vcpu) fits both and
 * goes to node 0, of its own shape, though node 1 would keep the bigger hole (16 PUs on node
 * 0 against 14); so 'bigmem', 47 GiB that only node 1 holds, still fits. */
static void
memory_heavy_node_kept_at_3x(void **state)
{
	struct solved sv = solve_ok(test_data("host-unequal-3x.json"),
				    "[{\"name\":\"small\",\"vcpus\":2,\"memory_mib\":2048},"
				    "{\"name\":\"bigmem\",\"vcpus\":4,\"memory_mib\":48128}]",
				    NULL);
	(void)state;

	assert_int_equal(guest(&sv, "small")->cells[0].node, 0);
	assert_int_equal(guest(&sv, "bigmem")->cells[0].node, 1);
	solved_free(&sv);
}

/* Issue 21: a reserved sibling is not empty. PU 0 (the host's) and PU 12 are siblings: with
 * PU 0 reserved, an isolate guest must not get PU 12, nor hold it, as if its core were
 * empty; nor may a require guest or an isolated emulator. */
static void
isolate_never_beside_a_reserved_sibling(void **state)
{
	struct solved sv = solve_ok(INTEL,
				    "[{\"name\":\"iso\",\"vcpus\":1,\"thread_policy\":\"isolate\"},"
				    "{\"name\":\"req\",\"vcpus\":2,\"thread_policy\":\"require\","
				    "\"emulator_threads\":\"isolate\"}]",
				    "0");
	(void)state;

	for (size_t i = 0; i < sv.p->nguests; i++) {
		const struct plan_guest *pg = &sv.p->guests[i];

		assert_false(hwloc_bitmap_isset(pg->held, 12));
		assert_false(hwloc_bitmap_isset(pg->emulator, 12));
	}
	solved_free(&sv);
}

/* Issue 21: the same for a sibling in the given shared pool, and for one a guest holds. PU 0
 * is in the pool (or held by 'first', one vcpu, which best fit puts on PU 0): PU 12, its
 * sibling, is no empty core for isolate, require or an isolated emulator. */
static void
isolate_never_beside_a_pooled_or_held_sibling(void **state)
{
	static const char policies[] =
		"{\"name\":\"iso\",\"vcpus\":1,\"thread_policy\":\"isolate\"},"
		"{\"name\":\"req\",\"vcpus\":2,\"thread_policy\":\"require\","
		"\"emulator_threads\":\"isolate\"}]";
	(void)state;

	for (int held = 0; held < 2; held++) {
		struct tmap_topology *t = test_topology(INTEL);
		struct tmap_solve_options o = TMAP_SOLVE_OPTIONS_INIT;
		struct tmap_error err = {0};
		struct tmap_plan *p = NULL;
		char json[512];
		struct tmap_guests *g;

		snprintf(json, sizeof(json), "[%s%s",
			 held ? "{\"name\":\"first\",\"vcpus\":1}," : "", policies);
		g = test_guests(json);
		o.shared = held ? NULL : "0";
		if (tmap_solve(t, g, &o, &p, &err) < 0)
			fail_msg("solve: %s", err.message);
		check_plan(t, p, NULL);
		if (held)
			assert_int_equal(vcpu_pu(&p->guests[0], 0), 0);
		for (size_t i = held; i < p->nguests; i++) {
			const struct plan_guest *pg = &p->guests[i];

			assert_false(hwloc_bitmap_isset(pg->held, 12));
			assert_false(hwloc_bitmap_isset(pg->emulator, 12));
		}
		tmap_plan_free(p);
		tmap_guests_free(g);
		tmap_topology_free(t);
	}
}

/*
 * Issue 21: a spread guest's vcpus and memory go in proportion. Computed by hand:
 * - bound by memory: 8 vcpus and 40 GiB on nodes of 8 PUs and 16 GiB need 3 nodes; each
 *   takes a third (16 GiB is 40 % of the guest, more than a third): 8/3 vcpus each, by
 *   largest remainder 3/3/2 (equal remainders: the lower cell first); memory follows the
 *   vcpus, 40960 * 3/8 = 15360 and 40960 * 2/8 = 10240 MiB: 5 GiB per vcpu on every node,
 *   not 6/1/1 vcpus with 16/16/8 GiB (nor 2/3/3 with 13653/13654/13653).
 * - bound by PUs: 10 vcpus and 8 GiB on nodes of 4 PUs need 3 nodes, a third each: 10/3
 *   vcpus, 4/3/3; memory 8192 * 4/10 = 3276.8 and 8192 * 3/10 = 2457.6 twice, rounded down
 *   3276/2457/2457 (8190), the 2 MiB left by largest remainder (.8, then .6 of cell 1):
 *   3277/2458/2457.
 * - thread policy require on 2-thread cores: whole cores per cell, 2 vcpus at a time.
 *   10 vcpus and 40 GiB on nodes of 4 cores and 16 GiB: a third each is 10/3 vcpus,
 *   2 + 2 + 2 in whole cores, the 4 left a core at a time to the largest remainders (1.33
 *   each, lower cells first): 4/4/2; memory 16384/16384/8192.
 */
static void
spread_cells_in_proportion(void **state)
{
	static const struct {
		const char *host, *json;
		const char *vcpus[3];
		uint64_t memory_mib[3];
	} cases[] = {
		{"synthetic:pack:1 numa:4(memory=16GiB) core:8 pu:1",
		 "{\"name\":\"vm\",\"vcpus\":8,\"memory_mib\":40960}",
		 {"0-2", "3-5", "6-7"}, {15360, 15360, 10240}},
		{"synthetic:pack:1 numa:4(memory=64GiB) core:4 pu:1",
		 "{\"name\":\"vm\",\"vcpus\":10,\"memory_mib\":8192}",
		 {"0-3", "4-6", "7-9"}, {3277, 2458, 2457}},
		{"synthetic:pack:1 numa:4(memory=16GiB) core:4 pu:2",
		 "{\"name\":\"vm\",\"vcpus\":10,\"memory_mib\":40960,\"thread_policy\":\"require\"}",
		 {"0-3", "4-7", "8-9"}, {16384, 16384, 8192}},
	};
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct solved sv = solve_ok(cases[i].host, cases[i].json, NULL);
		const struct plan_guest *pg = guest(&sv, "vm");

		assert_true(pg->cells_proposed);
		assert_int_equal(pg->ncells, 3);
		for (unsigned c = 0; c < 3; c++) {
			assert_int_equal(pg->cells[c].node, c);
			assert_string_equal(pg->cells[c].vcpus_list, cases[i].vcpus[c]);
			assert_int_equal(pg->cells[c].memory_mib, cases[i].memory_mib[c]);
		}
		solved_free(&sv);
	}
}

/* For the session's reserve commands: a PU a placed guest runs on cannot be reserved. */
static void
reserve_check_names_the_holder(void **state)
{
	struct tmap_topology *t = test_topology(INTEL);
	struct tmap_guests *g = test_guests("[{\"name\":\"a\",\"vcpus\":2},"
					    "{\"name\":\"s\",\"vcpus\":1,\"cpu_policy\":\"shared\"}]");
	struct tmap_host *h = NULL;
	struct tmap_error err = {0};
	char holder[64] = "";
	unsigned pu;
	(void)state;

	assert_int_equal(tmap_host_new(t, NULL, &h, &err), 0);
	assert_int_equal(tmap_host_place(h, tmap_guests_get(g, 0), NULL, &err), 0);
	assert_int_equal(tmap_host_place(h, tmap_guests_get(g, 1), NULL, &err), 0);
	pu = (unsigned)hwloc_bitmap_first(host_guest_plan_at(h, 0)->held);
	{
		char list[16];

		snprintf(list, sizeof(list), "%u", pu);
		assert_int_equal(host_reserve_check(h, list, holder, sizeof(holder)), -EBUSY);
		assert_string_equal(holder, "a");
		/* s floats over its node's free PUs (issue 21): one of them may go, as long as
		 * the pool keeps the PU its 1 vcpu needs; all of them may not. */
		snprintf(list, sizeof(list), "%d",
			 hwloc_bitmap_first(host_guest_plan_at(h, 1)->cells[0].pus));
		assert_int_equal(host_reserve_check(h, list, holder, sizeof(holder)), 0);
		{
			_cleanup_free_ char *all =
				bitmap_list(host_guest_plan_at(h, 1)->cells[0].pus);

			assert_int_equal(host_reserve_check(h, all, holder, sizeof(holder)),
					 -EBUSY);
		}
		assert_string_equal(holder, "s");
	}
	assert_int_equal(host_reserve_check(h, "23", holder, sizeof(holder)), 0);
	assert_int_equal(host_reserve_check(h, "", holder, sizeof(holder)), 0);
	assert_int_equal(host_reserve_check(h, "x", holder, sizeof(holder)), -EINVAL);
	tmap_host_free(h);
	tmap_guests_free(g);
	tmap_topology_free(t);
}

/*
 * Emulator share-host (issue 21) on tests/data/host-intel-2s.xml: node 0 is PUs 0-5 and
 * 12-17, node 1 is PUs 6-11 and 18-23, siblings 12 apart. Reserve "0,12,6,18" keeps core 0
 * of each node whole: node 0 keeps 0,12, node 1 keeps 6,18.
 */
#define SHARE_HOST_GUEST(node)                                                              \
	"{\"name\": \"nova\", \"vcpus\": 2, \"iothreads\": 1, \"emulator_threads\": \"share-host\"," \
	" \"cells\": [{\"cpus\": \"0-1\", \"node\": " node "}]}"

static struct tmap_plan *
share_host_plan(const char *json, const char *reserve)
{
	_cleanup_free_ char *xml = strdup(test_data("host-intel-2s.xml"));
	struct tmap_topology *topo = test_topology(xml);
	struct tmap_guests *guests = test_guests(json);
	struct tmap_plan *plan = test_solve(topo, guests, reserve);

	tmap_guests_free(guests);
	tmap_topology_free(topo);
	return plan;
}

static bool
share_host_explains(const struct tmap_plan *plan, const char *words)
{
	for (size_t i = 0; i < tmap_plan_explain_count(plan, 0); i++)
		if (strstr(tmap_plan_explain(plan, 0, i), words))
			return true;
	return false;
}

static void
share_host_takes_its_nodes_reserve(void **state)
{
	struct tmap_plan *plan = share_host_plan(SHARE_HOST_GUEST("1"), "0,12,6,18");
	_cleanup_free_ char *text = NULL;

	(void)state;
	/* vcpus on a whole free core of node 1 (7,19), the emulator on node 1's reserve, the
	 * iothread with the vcpus. */
	assert_string_equal(tmap_plan_vcpu_cpuset(plan, 0, 0), "7");
	assert_string_equal(tmap_plan_vcpu_cpuset(plan, 0, 1), "19");
	assert_string_equal(tmap_plan_emulator_cpuset(plan, 0), "6,18");
	assert_true(share_host_explains(plan, "housekeeping PUs 6,18 on cell 0's node 1"));
	assert_int_equal(tmap_plan_format(plan, TMAP_FORMAT_LIBVIRT, 0, &text, NULL), 0);
	assert_non_null(strstr(text, "<emulatorpin cpuset='6,18'/>"));
	assert_non_null(strstr(text, "<iothreadpin iothread='1' cpuset='7,19'/>"));
	tmap_plan_free(plan);
}

static void
share_host_falls_back_to_all_housekeeping(void **state)
{
	struct tmap_plan *plan = share_host_plan(SHARE_HOST_GUEST("1"), "0,12");

	(void)state;
	/* node 1 keeps nothing for the host: the emulator floats over node 0's reserve */
	assert_string_equal(tmap_plan_emulator_cpuset(plan, 0), "0,12");
	assert_true(share_host_explains(plan, "node 1 of cell 0 has no housekeeping PU"));
	tmap_plan_free(plan);
}

static void
share_host_refused_without_reserve(void **state)
{
	_cleanup_free_ char *xml = strdup(test_data("host-intel-2s.xml"));
	struct tmap_topology *topo = test_topology(xml);
	struct tmap_guests *guests = test_guests(SHARE_HOST_GUEST("1"));
	struct tmap_error err = {0};
	struct tmap_plan *plan = NULL;

	(void)state;
	assert_int_equal(tmap_solve(topo, guests, NULL, &plan, &err), -EINVAL);
	assert_null(plan);
	assert_non_null(strstr(err.message, "nova: emulator share-host"));
	assert_non_null(strstr(err.message, "this host has none"));
	tmap_guests_free(guests);
	tmap_topology_free(topo);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(guest_smt_on_far_siblings),
		cmocka_unit_test(prefer_fills_whole_cores),
		cmocka_unit_test(odd_cells_fill_free_siblings),
		cmocka_unit_test(isolate_keeps_siblings_empty),
		cmocka_unit_test(require_whole_cores),
		cmocka_unit_test(emulator_isolate),
		cmocka_unit_test(reserve_is_never_used),
		cmocka_unit_test(memory_only_node_gets_no_cell),
		cmocka_unit_test(uneven_nodes_best_fit),
		cmocka_unit_test(cells_closest_by_distance),
		cmocka_unit_test(spread_over_fewest_closest),
		cmocka_unit_test(no_fit_messages),
		cmocka_unit_test(hugepages_pick_the_node_with_the_pool),
		cmocka_unit_test(hugepages_refused),
		cmocka_unit_test(hugepages_spread_in_whole_pages),
		cmocka_unit_test(hugepages_charged_and_released),
		cmocka_unit_test(hugepages_batch),
		cmocka_unit_test(shared_pool_grows_and_shrinks),
		cmocka_unit_test(shared_pool_given),
		cmocka_unit_test(large_host_deterministic),
		cmocka_unit_test(order_is_kept),
		cmocka_unit_test(batch_never_places_fewer),
		cmocka_unit_test(cells_stay_in_one_l3),
		cmocka_unit_test(random_streams_keep_the_host_whole),
		cmocka_unit_test(place_again_keeps_a_running_guest),
		cmocka_unit_test(plan_guest_copy_is_deep),
		cmocka_unit_test(memory_heavy_node_kept_for_memory),
		cmocka_unit_test(memory_heavy_node_kept_at_3x),
		cmocka_unit_test(isolate_never_beside_a_reserved_sibling),
		cmocka_unit_test(isolate_never_beside_a_pooled_or_held_sibling),
		cmocka_unit_test(spread_cells_in_proportion),
		cmocka_unit_test(reserve_check_names_the_holder),
		cmocka_unit_test(share_host_takes_its_nodes_reserve),
		cmocka_unit_test(share_host_falls_back_to_all_housekeeping),
		cmocka_unit_test(share_host_refused_without_reserve),
		cmocka_unit_test(cells_match_past_64_nodes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
