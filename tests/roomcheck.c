/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Making room and rebalancing, the tests' own helpers (roomcheck.h). */
#include <stdio.h>
#include <stdlib.h>

#include "testlib.h"
#include "roomcheck.h"

/* ------------------------------------------------------------------------------------- */
/* Hosts and guests */

struct tmap_guest *
guest(const char *name, unsigned vcpus, uint64_t mib)
{
	struct tmap_guest *g = NULL;
	struct tmap_error err = {0};

	if (tmap_guest_new(name, vcpus, &g, &err) < 0)
		fail_msg("%s", err.message);
	assert_int_equal(tmap_guest_set_memory_mib(g, mib), 0);
	return g;
}

/* A guest with one explicit cell: it must fit one node. */
struct tmap_guest *
one_cell(const char *name, unsigned vcpus, uint64_t mib)
{
	struct tmap_guest *g = guest(name, vcpus, mib);
	char cpus[32];

	snprintf(cpus, sizeof(cpus), "0-%u", vcpus - 1);
	assert_int_equal(tmap_guest_add_cell(g, cpus, mib, NULL), 0);
	return g;
}

void
place(struct tmap_host *h, struct tmap_guest *g)
{
	struct tmap_error err = {0};

	if (tmap_host_place(h, g, NULL, &err) < 0)
		fail_msg("%s: %s", g->name, err.message);
	tmap_guest_free(g);
}

struct tmap_host *
host_new(const struct tmap_topology *t, uint32_t flags)
{
	struct tmap_solve_options o = TMAP_SOLVE_OPTIONS_INIT;
	struct tmap_host *h = NULL;
	struct tmap_error err = {0};

	o.flags = flags;
	if (tmap_host_new(t, &o, &h, &err) < 0)
		fail_msg("%s", err.message);
	return h;
}

/* ------------------------------------------------------------------------------------- */
/* Validity of a host after moves */

void
picture_take(const struct tmap_host *h, struct picture *p)
{
	p->n = tmap_host_guest_count(h);
	p->pg = calloc(p->n + 1, sizeof(*p->pg));
	assert_non_null(p->pg);
	for (size_t i = 0; i < p->n; i++)
		assert_int_equal(plan_guest_copy(&p->pg[i], host_guest_plan_at(h, i)), 0);
}

void
picture_clear(struct picture *p)
{
	for (size_t i = 0; i < p->n; i++)
		plan_guest_clear(&p->pg[i]);
	free(p->pg);
}

const struct plan_guest *
picture_find(const struct picture *p, const char *name)
{
	for (size_t i = 0; i < p->n; i++)
		if (streq(p->pg[i].name, name))
			return &p->pg[i];
	return NULL;
}

static bool
same_core(const struct tmap_topology *t, const struct plan_guest *pg, unsigned v, unsigned w)
{
	return t->pu_core[hwloc_bitmap_first(pg->vcpu_pus[v])] ==
	       t->pu_core[hwloc_bitmap_first(pg->vcpu_pus[w])];
}

/* One guest after the moves, against itself before. */
void
check_guest(const struct tmap_topology *t, const struct plan_guest *after,
	    const struct plan_guest *before)
{
	bool moved = !streq(after->held_list, before->held_list) ||
		     !streq(after->memory_list, before->memory_list);

	if (before->pinned || before->cpu_policy == TMAP_CPU_SHARED) {
		assert_false(moved);
		return;
	}
	for (unsigned c = 0; c < after->ncells; c++) {
		unsigned v;

		assert_int_equal(after->cells[c].memory_mib, before->cells[c].memory_mib);
		hwloc_bitmap_foreach_begin(v, after->cells[c].vcpus)
		{
			int pu = hwloc_bitmap_first(after->vcpu_pus[v]);

			assert_true(hwloc_bitmap_isset(t->nodes[topo_node_index(t, after->cells[c].node)].cpuset,
						       (unsigned)pu));
			assert_true(hwloc_bitmap_isset(after->held, (unsigned)pu));
			if (after->thread_policy != TMAP_THREAD_PREFER) {
				const struct topo_core *core = &t->cores[t->pu_core[pu]];

				for (unsigned k = 0; k < core->npus; k++)
					assert_true(hwloc_bitmap_isset(after->held, core->pus[k]));
			}
		}
		hwloc_bitmap_foreach_end();
	}
	/* guest SMT threads and whole cores keep their groups */
	if (after->threads > 1 || after->thread_policy != TMAP_THREAD_PREFER)
		for (unsigned v = 0; v < after->vcpus; v++)
			for (unsigned w = v + 1; w < after->vcpus; w++)
				assert_int_equal(same_core(t, after, v, w), same_core(t, before, v, w));
}

/* Every guest of h adopted again by a fresh host: no PU held twice, none outside the host,
 * memory within each node; each against its picture before. */
void
check_host(const struct tmap_topology *t, const struct tmap_host *h, const struct picture *before,
	   uint32_t flags)
{
	struct tmap_host *fresh = host_new(t, flags);
	struct tmap_error err = {0};

	for (size_t i = 0; i < tmap_host_guest_count(h); i++) {
		struct plan_guest copy;
		const struct plan_guest *pg = host_guest_plan_at(h, i), *old;

		assert_int_equal(plan_guest_copy(&copy, pg), 0);
		if (host_adopt(fresh, &copy, &err) < 0)
			fail_msg("%s", err.message);
		plan_guest_clear(&copy);
		old = picture_find(before, pg->name);
		if (old)
			check_guest(t, pg, old);
	}
	for (unsigned n = 0; n < t->nnodes; n++)
		assert_true(host_solver(fresh)->mem_free[n] >= 0);
	/* After the moves, the free PUs the solver sums per node are those its cores hold. */
	assert_true(solver_sums_agree(host_solver_const(h)));
	tmap_host_free(fresh);
}
