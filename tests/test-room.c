/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Making room (core/solver-room.c): the fewest moves of placed guests after which a guest
 * that does not fit does.
 *
 * A generator makes fragmented hosts from seeds: hwloc synthetic hosts of 2 to 16 nodes
 * (irregular PU numbering too), filled with guests of mixed shapes and policies, some
 * pinned, then a share of them released. For each, a guest that does not fit; an exhaustive
 * search over the same moves (no bound, no limit) says whether some moves admit it and the
 * fewest. The bounded search must admit at least 95 % of those, with at most the optimum + 1
 * moves in at least 95 %, never prove a bound above the optimum, and every plan it makes must
 * be valid: no PU held twice, memory within each node, every guest's cells on one node each,
 * its SMT groups and whole cores kept, pinned and shared guests untouched.
 */
#include <stdio.h>
#include <stdlib.h>

#include "testlib.h"
#include "roomcheck.h"

/* ------------------------------------------------------------------------------------- */
/* Fixed cases */

static void
done(struct tmap_topology *t, struct tmap_host *h, struct tmap_guest *g, struct tmap_plan *plan)
{
	tmap_plan_free(plan);
	tmap_guest_free(g);
	tmap_host_free(h);
	tmap_topology_free(t);
}

#define TWO_NODES "synthetic:pack:1 numa:2(memory=4GiB) core:4 pu:1"

/* Two nodes of 4 PUs, four 2-vcpu guests, a and d gone: 2 PUs free on each node. */
static struct tmap_host *
two_nodes_fragmented(const struct tmap_topology *t, bool pinned)
{
	struct tmap_host *h = host_new(t, 0);
	const char *names[] = {"a", "b", "c", "d"};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		struct tmap_guest *p = one_cell(names[i], 2, 256);

		assert_int_equal(tmap_guest_set_pinned(p, pinned), 0);
		place(h, p);
	}
	assert_int_equal(tmap_host_release(h, "a"), 0);
	assert_int_equal(tmap_host_release(h, "d"), 0);
	return h;
}

/* Two nodes of 4 PUs, 2 free on each: a 4-vcpu cell fits after one 2-vcpu cell moves (its
 * two vcpus and its memory: 3 moves), and the search proves none fewer do. */
static void
test_two_nodes(void **state)
{
	struct tmap_topology *t = test_topology(TWO_NODES);
	struct tmap_host *h = two_nodes_fragmented(t, false);
	struct tmap_plan *plan = NULL;
	struct tmap_error err = {0};
	struct tmap_guest *g = one_cell("big", 4, 512);
	struct picture before;
	struct tmap_move m;
	unsigned lower = 0;

	(void)state;
	assert_int_equal(tmap_host_fit(h, g, NULL), -ENOSPC);
	picture_take(h, &before);
	if (tmap_host_make_room(h, g, NULL, &plan, &err) < 0)
		fail_msg("%s", err.message);
	assert_int_equal(tmap_plan_move_count(plan), 3);
	assert_int_equal(tmap_plan_move_bound(plan, &lower), 1);
	assert_int_equal(lower, 3);
	assert_int_equal(tmap_plan_move(plan, 0, &m), 0);
	assert_int_equal(m.vcpu, -1);
	assert_int_equal(m.cell, 0);
	assert_int_equal(m.memory_mib, 256);
	assert_int_equal(tmap_plan_move(plan, 1, &m), 0);
	assert_int_equal(m.cell, -1);
	assert_int_equal(tmap_plan_move(plan, 3, &m), -EINVAL);
	assert_int_equal(tmap_host_guest_count(h), 3);
	check_host(t, h, &before, 0);
	picture_clear(&before);
	done(t, h, g, plan);
}

/* The same host with both guests pinned: nothing may move, so no room. */
static void
test_pinned(void **state)
{
	struct tmap_topology *t = test_topology(TWO_NODES);
	struct tmap_guest *g = one_cell("big", 4, 512);
	struct tmap_host *h = two_nodes_fragmented(t, true);
	struct tmap_error err = {0};
	struct tmap_plan *plan = NULL;

	(void)state;
	assert_int_equal(tmap_host_make_room(h, g, NULL, &plan, &err), -ENOSPC);
	assert_null(plan);
	assert_non_null(strstr(err.message, "moves"));
	assert_int_equal(tmap_host_guest_count(h), 2);
	done(t, h, g, NULL);
}

/* A guest that fits gets no move, and the plan says so. */
static void
test_fits_already(void **state)
{
	struct tmap_topology *t = test_topology(TWO_NODES);
	struct tmap_host *h = host_new(t, 0);
	struct tmap_plan *plan = NULL;
	struct tmap_error err = {0};
	struct tmap_guest *g = one_cell("small", 2, 256);

	(void)state;
	assert_int_equal(tmap_host_make_room(h, g, NULL, &plan, &err), 0);
	assert_int_equal(tmap_plan_move_count(plan), 0);
	assert_int_equal(tmap_plan_move_bound(plan, NULL), 1);
	done(t, h, g, plan);
}

/* SMT host: two half-used cores, an isolate guest needs a whole one: one vcpu re-pinned. */
static void
test_repin_within_node(void **state)
{
	struct tmap_topology *t = test_topology("synthetic:pack:1 numa:1(memory=4GiB) core:3 pu:2");
	struct tmap_host *h = host_new(t, 0);
	struct tmap_plan *plan = NULL;
	struct tmap_error err = {0};
	struct tmap_guest *g = guest("iso", 1, 256);
	struct picture before;
	struct tmap_move m;

	(void)state;
	/* fill 6 PUs with single vcpus, then free one PU on each of two cores */
	for (unsigned i = 0; i < 6; i++) {
		char name[8];

		snprintf(name, sizeof(name), "s%u", i);
		place(h, guest(name, 1, 64));
	}
	assert_int_equal(tmap_host_release(h, "s0"), 0);
	assert_int_equal(tmap_host_release(h, "s2"), 0);
	assert_int_equal(tmap_guest_set_thread_policy(g, TMAP_THREAD_ISOLATE), 0);
	picture_take(h, &before);
	if (tmap_host_make_room(h, g, NULL, &plan, &err) < 0)
		fail_msg("%s", err.message);
	assert_int_equal(tmap_plan_move_count(plan), 1);
	assert_int_equal(tmap_plan_move(plan, 0, &m), 0);
	assert_true(m.vcpu == 0 && m.cell == -1);
	check_host(t, h, &before, 0);
	picture_clear(&before);
	done(t, h, g, plan);
}

/* The plan in JSON: "moves" beside "guests"; the table lists the moves. */
static void
test_formats(void **state)
{
	struct tmap_topology *t = test_topology(TWO_NODES);
	struct tmap_host *h = two_nodes_fragmented(t, false);
	struct tmap_plan *plan = NULL;
	struct tmap_error err = {0};
	struct tmap_guest *g = one_cell("big", 4, 512);
	char *json = NULL, *table = NULL;

	(void)state;
	if (tmap_host_make_room(h, g, NULL, &plan, &err) < 0)
		fail_msg("%s", err.message);
	assert_int_equal(tmap_plan_format(plan, TMAP_FORMAT_JSON, 0, &json, &err), 0);
	assert_non_null(strstr(json, "\"moves\""));
	assert_non_null(strstr(json, "256"));
	assert_non_null(strstr(json, "\"moves_optimal\""));
	assert_int_equal(tmap_plan_format(plan, TMAP_FORMAT_TABLE, 0, &table, &err), 0);
	assert_non_null(strstr(table, "moves: 3 (optimal)"));
	assert_non_null(strstr(table, "made room with 3 moves (optimal)"));
	free(json);
	free(table);
	done(t, h, g, plan);
}

/* ------------------------------------------------------------------------------------- */
/* Resize */

static const struct plan_guest *
placed(const struct tmap_host *h, const char *name)
{
	for (size_t i = 0; i < tmap_host_guest_count(h); i++)
		if (streq(host_guest_plan_at(h, i)->name, name))
			return host_guest_plan_at(h, i);
	fail_msg("no guest %s", name);
	return NULL;
}

/* Grown into free PUs of its node, then shrunk: it keeps every PU it held each time. */
static void
test_resize_keeps(void **state)
{
	struct tmap_topology *t = test_topology(TWO_NODES);
	struct tmap_host *h = two_nodes_fragmented(t, false);
	_cleanup_bitmap_ hwloc_bitmap_t before = NULL, vcpu0 = NULL, vcpu1 = NULL;
	struct tmap_plan *plan = NULL;
	struct tmap_error err = {0};

	(void)state;
	before = hwloc_bitmap_dup(placed(h, "b")->held);
	vcpu0 = hwloc_bitmap_dup(placed(h, "b")->vcpu_pus[0]);
	vcpu1 = hwloc_bitmap_dup(placed(h, "b")->vcpu_pus[1]);
	if (tmap_host_resize(h, "b", 4, 0, NULL, &plan, &err) < 0)
		fail_msg("%s", err.message);
	assert_int_equal(tmap_plan_move_count(plan), 0);
	assert_int_equal(placed(h, "b")->vcpus, 4);
	assert_true(hwloc_bitmap_isincluded(before, placed(h, "b")->held));
	assert_int_equal(hwloc_bitmap_weight(placed(h, "b")->held), 4);
	/* the vcpus that ran keep their own PUs: resizing re-pins none of them */
	assert_true(hwloc_bitmap_isequal(placed(h, "b")->vcpu_pus[0], vcpu0));
	assert_true(hwloc_bitmap_isequal(placed(h, "b")->vcpu_pus[1], vcpu1));
	plan = tmap_plan_free(plan);
	hwloc_bitmap_copy(before, placed(h, "b")->held);
	if (tmap_host_resize(h, "b", 1, 128, NULL, &plan, &err) < 0)
		fail_msg("%s", err.message);
	assert_true(hwloc_bitmap_isincluded(placed(h, "b")->held, before));
	assert_int_equal(placed(h, "b")->memory_mib, 128);
	done(t, h, NULL, plan);
}

/* A size no node holds: refused, and the guest keeps exactly what it had. */
static void
test_resize_refused(void **state)
{
	struct tmap_topology *t = test_topology(TWO_NODES);
	struct tmap_host *h = two_nodes_fragmented(t, false);
	struct tmap_plan *plan = NULL;
	struct tmap_error err = {0};
	char *held = strdup(placed(h, "b")->held_list);

	(void)state;
	assert_int_equal(tmap_host_resize(h, "b", 6, 0, NULL, &plan, &err), -ENOSPC);
	assert_null(plan);
	assert_string_equal(placed(h, "b")->held_list, held);
	assert_int_equal(placed(h, "b")->vcpus, 2);
	assert_int_equal(tmap_host_resize(h, "nobody", 2, 0, NULL, &plan, &err), -ENOENT);
	free(held);
	done(t, h, NULL, NULL);
}

/* ------------------------------------------------------------------------------------- */
/* The generator, against the exhaustive search */

static const char *const gen_hosts[] = {
	"synthetic:pack:2 numa:1(memory=2GiB) core:3 pu:1",
	"synthetic:pack:1 numa:2(memory=4GiB) core:4 pu:2",
	"synthetic:pack:1 numa:3(memory=3GiB) core:2 pu:2(indexes=0,6,1,7,2,8,3,9,4,10,5,11)",
	"synthetic:pack:2 numa:2(memory=2GiB) core:2 pu:2",
	"synthetic:pack:2 numa:4(memory=2GiB) core:2 pu:1",
	"synthetic:pack:4 numa:4(memory=1GiB) core:1 pu:2(indexes=0,16,1,17,2,18,3,19,4,20,5,21,6,22,7,23,8,24,9,25,10,26,11,27,12,28,13,29,14,30,15,31)",
};

#define GEN_CASES 1300
#define GEN_MAX_MOVES 5

static unsigned
pick(unsigned *seed, unsigned n)
{
	return (unsigned)(rand_r(seed) % (int)n);
}

/* A random guest for host t: 1 to max vcpus, policies mixed, some pinned. */
static struct tmap_guest *
gen_guest(const struct tmap_topology *t, unsigned *seed, const char *name, unsigned max)
{
	unsigned vcpus = 1 + pick(seed, max), kind = pick(seed, 10);
	struct tmap_guest *g;

	if (t->max_threads > 1 && kind >= 8 && vcpus % 2 == 0) {
		g = pick(seed, 2) ? one_cell(name, vcpus, 128 * (1 + pick(seed, 4))) :
				    guest(name, vcpus, 128 * (1 + pick(seed, 4)));
		assert_int_equal(tmap_guest_set_topology(g, 1, vcpus / 2, 2), 0);
	} else {
		g = pick(seed, 2) ? one_cell(name, vcpus, 128 * (1 + pick(seed, 4))) :
				    guest(name, vcpus, 128 * (1 + pick(seed, 4)));
	}
	if (t->max_threads > 1 && kind == 7)
		assert_int_equal(tmap_guest_set_thread_policy(g, TMAP_THREAD_ISOLATE), 0);
	if (kind == 0)
		assert_int_equal(tmap_guest_set_pinned(g, 1), 0);
	return g;
}

/* A fragmented host: filled with random guests, then about 40 % of them released. */
static void
gen_fill(struct tmap_host *h, const struct tmap_topology *t, unsigned *seed)
{
	unsigned misses = 0, n = 0;
	char name[16];

	while (misses < 4 && n < 64) {
		struct tmap_guest *g;

		snprintf(name, sizeof(name), "g%u", n++);
		g = gen_guest(t, seed, name, 3);
		if (tmap_host_place(h, g, NULL, NULL) < 0)
			misses++;
		tmap_guest_free(g);
	}
	for (size_t i = tmap_host_guest_count(h); i-- > 0;)
		if (pick(seed, 10) < 4)
			tmap_host_release(h, tmap_host_guest_name(h, i));
}

static unsigned
free_pus(const struct tmap_host *h)
{
	struct solver *s = host_solver((struct tmap_host *)h);
	unsigned n = 0;

	for (unsigned c = 0; c < s->t->ncores; c++)
		n += s->core_free[c];
	return n;
}

struct tally {
	unsigned cases, admissible, admitted, near, exact, pinned_blocks;
};

/* One case: the host of this seed, a guest that does not fit, both searches, the plan. */
static void
gen_case(unsigned seed0, struct tally *tl)
{
	unsigned seed = seed0;
	const char *src = gen_hosts[pick(&seed, ARRAY_SIZE(gen_hosts))];
	uint32_t flags = pick(&seed, 2) ? TMAP_SOLVE_NO_SPREAD : 0;
	struct tmap_topology *t = test_topology(src);
	struct tmap_host *h = host_new(t, flags);
	struct room_config ex = {.max_moves = GEN_MAX_MOVES, .exhaustive = true};
	struct room_config bd = {.max_moves = GEN_MAX_MOVES, .decisions = TMAP_ROOM_DEFAULT_DECISIONS};
	struct tmap_room_options o = TMAP_ROOM_OPTIONS_INIT;
	struct room_result best, got;
	struct tmap_guest *g = NULL;
	struct tmap_plan *plan = NULL;
	struct tmap_error err = {0};
	struct picture before;

	gen_fill(h, t, &seed);
	for (unsigned tries = 0; tries < 20 && !g; tries++) {
		g = gen_guest(t, &seed, "new", 5);
		tmap_guest_set_pinned(g, 0);
		if (free_pus(h) < g->vcpus || tmap_host_fit(h, g, NULL) != -ENOSPC)
			g = tmap_guest_free(g);
	}
	if (!g)
		goto out;
	tl->cases++;
	assert_int_equal(room_search(h, g, &ex, &best), 0);
	assert_int_equal(room_search(h, g, &bd, &got), 0);
	/* the bound proved never passes the optimum */
	if (best.found)
		assert_true(got.lower <= best.moves);
	else
		assert_false(got.found);
	if (best.found) {
		tl->admissible++;
		tl->admitted += got.found;
		tl->near += got.found && got.moves <= best.moves + 1;
		tl->exact += got.found && got.moves == best.moves;
	}
	free(best.path);
	free(got.path);
	/* the plan itself: valid, with the moves the search found */
	picture_take(h, &before);
	o.max_moves = GEN_MAX_MOVES;
	if (tmap_host_make_room(h, g, &o, &plan, &err) == 0) {
		assert_true(got.found);
		assert_int_equal(tmap_plan_move_count(plan), got.moves);
		check_host(t, h, &before, flags);
	} else {
		assert_false(got.found);
		assert_int_equal(err.code, -ENOSPC);
	}
	picture_clear(&before);
	tmap_plan_free(plan);
	tmap_guest_free(g);
out:
	tmap_host_free(h);
	tmap_topology_free(t);
}

/* Does each of the first n vcpus run on pus[v]? */
static bool
same_pus(const struct plan_guest *pg, const unsigned *pus, unsigned n)
{
	for (unsigned v = 0; v < n; v++)
		if (hwloc_bitmap_first(pg->vcpu_pus[v]) != (int)pus[v])
			return false;
	return true;
}

/* Resize on a generated host: whenever its node has the free PUs and memory to grow a
 * one-vcpu-a-core guest in place (the keep-all answer exists), it keeps every PU. */
static void
gen_resize(unsigned seed0, unsigned *keepable, unsigned *kept)
{
	unsigned seed = seed0 * 7919;
	const char *src = gen_hosts[pick(&seed, ARRAY_SIZE(gen_hosts))];
	struct tmap_topology *t = test_topology(src);
	struct tmap_host *h = host_new(t, 0);
	const struct plan_guest *pg = NULL;

	gen_fill(h, t, &seed);
	for (size_t i = 0; i < tmap_host_guest_count(h) && !pg; i++) {
		const struct plan_guest *p = host_guest_plan_at(h, i);

		if (p->ncells == 1 && p->threads == 1 && p->thread_policy == TMAP_THREAD_PREFER &&
		    p->emulator_policy == TMAP_EMULATOR_SHARE && pick(&seed, 2))
			pg = p;
	}
	if (pg) {
		struct solver *s = host_solver(h);
		int n = topo_node_index(t, pg->cells[0].node);
		unsigned more = 1 + pick(&seed, 3), nfree = 0;
		_cleanup_bitmap_ hwloc_bitmap_t before = hwloc_bitmap_dup(pg->held);
		char *name = strdup(pg->name);
		unsigned nvcpus = pg->vcpus, pus[TMAP_MAX_VCPUS];

		for (unsigned v = 0; v < nvcpus; v++)
			pus[v] = (unsigned)hwloc_bitmap_first(pg->vcpu_pus[v]);
		struct tmap_plan *plan = NULL;

		for (unsigned i = 0; i < t->nodes[n].ncores; i++)
			nfree += s->core_free[t->nodes[n].cores[i]];
		if (nfree >= more) {
			(*keepable)++;
			if (tmap_host_resize(h, name, pg->vcpus + more, 0, NULL, &plan, NULL) == 0 &&
			    hwloc_bitmap_isincluded(before, placed(h, name)->held) &&
			    same_pus(placed(h, name), pus, nvcpus))
				(*kept)++;
		}
		tmap_plan_free(plan);
		free(name);
	}
	tmap_host_free(h);
	tmap_topology_free(t);
}

static void
test_generated_resize(void **state)
{
	unsigned keepable = 0, kept = 0;

	(void)state;
	for (unsigned seed = 1; seed <= 1000; seed++)
		gen_resize(seed, &keepable, &kept);
	print_message("resize: %u could keep every PU, %u did, each vcpu on its own\n", keepable, kept);
	assert_true(keepable >= 100);
	assert_int_equal(kept, keepable);
}

static void
test_generated(void **state)
{
	struct tally tl = {0};

	(void)state;
	for (unsigned seed = 1; seed <= GEN_CASES; seed++)
		gen_case(seed, &tl);
	print_message("room: %u cases, %u admissible, %u admitted, %u within optimum+1, %u optimal\n",
		      tl.cases, tl.admissible, tl.admitted, tl.near, tl.exact);
	assert_true(tl.cases >= 1000);
	assert_true(tl.admissible >= 150);
	assert_true(tl.admitted * 100 >= tl.admissible * 95);
	assert_true(tl.near * 100 >= tl.admissible * 95);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_nodes),
		cmocka_unit_test(test_pinned),
		cmocka_unit_test(test_fits_already),
		cmocka_unit_test(test_repin_within_node),
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_resize_keeps),
		cmocka_unit_test(test_resize_refused),
		cmocka_unit_test(test_generated),
		cmocka_unit_test(test_generated_resize),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
