/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Making room, the answer (solver-room.c searches): the moved guests' new plans into the
 * ledger, then the guest placed, all undone when a step fails; and the public call.
 */
#include "solver-room.h"

/* ------------------------------------------------------------------------------------- */
/* tmap_host_make_room(): the answer put into the ledger, then the guest placed */

/* Guest gi's plan where the answer put it. */
static int
moved_plan(const struct room *r, size_t gi, struct plan_guest *ret)
{
	const struct room_guest *rg = &r->guests[gi];
	const struct tmap_topology *t = r->t;
	struct plan_guest pg;
	int e = plan_guest_copy(&pg, rg->pg);

	if (e < 0)
		return e;
	plan_guest_free_lists(&pg);
	if (!rg->emulator_fixed)
		hwloc_bitmap_zero(pg.emulator);
	hwloc_bitmap_and(pg.held, pg.held, pg.emulator);
	hwloc_bitmap_zero(pg.memory_nodes);
	for (unsigned pu = 0; pu < t->pu_limit; pu++)
		if (r->owner[pu] == (int)gi)
			hwloc_bitmap_set(pg.held, pu);
	for (unsigned c = 0; c < pg.ncells; c++) {
		pg.cells[c].node = t->nodes[r->cell_node[rg->cbase + c]].os_index;
		hwloc_bitmap_zero(pg.cells[c].pus);
		hwloc_bitmap_set(pg.memory_nodes, pg.cells[c].node);
	}
	for (unsigned v = 0; v < pg.vcpus && e == 0; v++) {
		unsigned pu = r->vcpu_pu[rg->vbase + v], c = r->vcpu_cell[rg->vbase + v];

		hwloc_bitmap_only(pg.vcpu_pus[v], pu);
		hwloc_bitmap_set(pg.cells[c].pus, pu);
		pg.vcpu_node[v] = (int)pg.cells[c].node;
		if (!rg->emulator_fixed)
			hwloc_bitmap_set(pg.emulator, pu);
		pg.vcpu_core_lists[v] = core_list(t, pu);
		if (!pg.vcpu_core_lists[v])
			e = -ENOMEM;
	}
	if (e == 0 && r->why)
		e = plan_guest_explain(&pg, "%s", r->why);
	else if (e == 0)
		e = plan_guest_explain(&pg, "moved to make room for %s", r->g->name);
	if (e == 0)
		e = plan_guest_finish(&pg);
	if (e < 0) {
		plan_guest_clear(&pg);
		return e;
	}
	*ret = pg;
	return 0;
}

static bool
guest_moved(const struct room *r, size_t gi)
{
	const struct room_guest *rg = &r->guests[gi];

	for (unsigned v = 0; v < rg->pg->vcpus; v++)
		if (!hwloc_bitmap_isset(rg->pg->vcpu_pus[v], r->vcpu_pu[rg->vbase + v]))
			return true;
	return false;
}

/* The moved guests' new plans into the ledger; their old ones into old[] for a way back. */
int
commit_moves(struct room *r, struct plan_guest *old, bool *moved)
{
	int e = 0;

	for (size_t gi = 0; gi < r->nguests && e == 0; gi++) {
		struct plan_guest pg;

		moved[gi] = guest_moved(r, gi);
		if (!moved[gi])
			continue;
		e = plan_guest_copy(&old[gi], r->guests[gi].pg);
		if (e == 0)
			e = moved_plan(r, gi, &pg);
		if (e == 0)
			/* rg->pg points into the ledger: it is the new plan from here on */
			e = host_guest_replace(r->h, r->guests[gi].index, &pg);
		if (e < 0)
			moved[gi] = false;
	}
	return e;
}

void
uncommit_moves(struct room *r, struct plan_guest *old, const bool *moved)
{
	for (size_t gi = 0; gi < r->nguests; gi++)
		if (moved[gi] && host_guest_replace(r->h, r->guests[gi].index, &old[gi]) == 0)
			memset(&old[gi], 0, sizeof(old[gi]));
	level_restore(r, &r->levels[r->nlevels - 1]);
}

/* The answer's moves, names copied: the ledger's plans change under them. */
int
copy_moves(const struct room *r, struct plan_move **ret)
{
	struct plan_move *moves = calloc(r->npath ? r->npath : 1, sizeof(*moves));

	if (!moves)
		return -ENOMEM;
	for (size_t i = 0; i < r->npath; i++) {
		moves[i] = r->path[i];
		moves[i].guest = strdup(r->path[i].guest);
		if (!moves[i].guest) {
			plan_moves_free(moves, i);
			return -ENOMEM;
		}
	}
	*ret = moves;
	return 0;
}

static int
explain_room(struct plan_guest *pg, const struct room_result *res)
{
	if (res->lower >= res->moves)
		return plan_guest_explain(pg, "made room with %u move%s (optimal)", res->moves,
					  res->moves == 1 ? "" : "s");
	return plan_guest_explain(pg, "made room with %u move%s (at least %u needed)",
				  res->moves, res->moves == 1 ? "" : "s", res->lower);
}

int
room_options(const struct tmap_room_options *o, struct room_config *cfg, struct tmap_error *err)
{
	struct tmap_room_options opts = TMAP_ROOM_OPTIONS_INIT;

	if (o) {
		if (o->size < offsetof(struct tmap_room_options, decisions) + sizeof(o->decisions))
			return tmap_error_set(err, -EINVAL, "room options: size %u is too small",
					      o->size);
		memcpy(&opts, o, o->size < sizeof(opts) ? o->size : sizeof(opts));
	}
	if (opts.flags)
		return tmap_error_set(err, -EINVAL, "room options: unknown flags 0x%x", opts.flags);
	if (opts.max_moves > TMAP_ROOM_MAX_MOVES)
		return tmap_error_set(err, -EINVAL, "room options: at most %u moves, not %u",
				      TMAP_ROOM_MAX_MOVES, opts.max_moves);
	*cfg = (struct room_config){
		.max_moves = opts.max_moves ? opts.max_moves : TMAP_ROOM_DEFAULT_MAX_MOVES,
		.decisions = opts.decisions ? opts.decisions : TMAP_ROOM_DEFAULT_DECISIONS,
	};
	return 0;
}

/* The search found an answer: the moves into the ledger, then g placed; all undone on failure. */
static int
commit_answer(struct room *r, const struct room_result *res, struct tmap_plan **ret,
	      struct tmap_error *err)
{
	_cleanup_free_ struct plan_guest *old = calloc(r->nguests + 1, sizeof(*old));
	_cleanup_free_ bool *moved = calloc(r->nguests + 1, sizeof(*moved));
	struct plan_move *moves = NULL;
	struct tmap_plan *plan = NULL;
	int e;

	if (!old || !moved || copy_moves(r, &moves) < 0)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	e = commit_moves(r, old, moved);
	if (e == 0)
		e = tmap_host_place(r->h, r->g, &plan, err);
	if (e == 0)
		e = explain_room(&plan->guests[0], res);
	if (e < 0) {
		if (plan)
			tmap_host_release(r->h, r->g->name);
		tmap_plan_free(plan);
		plan_moves_free(moves, r->npath);
		uncommit_moves(r, old, moved);
		for (size_t i = 0; i < r->nguests; i++)
			plan_guest_clear(&old[i]);
		return e == -ENOMEM ? tmap_error_set(err, e, "out of memory") : e;
	}
	for (size_t i = 0; i < r->nguests; i++)
		plan_guest_clear(&old[i]);
	plan->moves = moves;
	plan->nmoves = r->npath;
	plan->moves_searched = true;
	plan->moves_lower_bound = res->lower;
	*ret = plan;
	return 0;
}

/*
 * A guest that leaves its page size to the placement ("large", "any"): room for each size in
 * turn, largest first as solver-pages.c places it, then normal pages for "any". The search
 * and the answer's placement see *sized, g with the size tried.
 */
static int
run_sizes(struct room *r, struct tmap_host *h, const struct tmap_guest *g,
	  struct tmap_guest *sized, const struct room_config *cfg, struct room_result *res)
{
	const struct tmap_topology *t = host_solver(h)->t;
	unsigned k = t->npage_sizes;
	bool tried = false;
	int e = 0;

	*sized = *g;	/* shallow: read only, its pointers are g's */
	if (!page_size_chosen(g->page_kib))
		return room_run(r, h, g, cfg, res);
	for (;;) {
		bool whole = true;

		if (k > 0)
			sized->page_kib = t->page_kib[--k];
		else if (g->page_kib == TMAP_HUGEPAGES_ANY && sized->page_kib)
			sized->page_kib = 0;
		else if (!tried) {
			res->lower = INF;	/* no size the guest comes whole in */
			return e;
		} else
			return e;
		if (sized->page_kib && (e = solver_whole_pages(g, sized->page_kib, &whole)) < 0)
			return e;
		if (!whole)
			continue;
		if (tried) {
			room_clear(r);
			*r = (struct room){0};
		}
		tried = true;
		e = room_run(r, h, sized, cfg, res);
		if (e < 0 || res->found)
			return e;
	}
}

int
tmap_host_make_room(struct tmap_host *h, const struct tmap_guest *g,
		    const struct tmap_room_options *options, struct tmap_plan **ret,
		    struct tmap_error *err)
{
	struct room_result res = {0};
	struct tmap_guest sized;
	struct room_config cfg;
	struct room r = {0};
	struct tmap_error why = {0};
	int e;

	if (!h || !g || !ret)
		return tmap_error_set(err, -EINVAL, "tmap_host_make_room: missing argument");
	e = room_options(options, &cfg, err);
	if (e < 0)
		return e;
	e = tmap_host_fit(h, g, &why);
	if (e == 0) {
		e = tmap_host_place(h, g, ret, err);
		if (e == 0)
			(*ret)->moves_searched = true;
		return e;
	}
	if (e != -ENOSPC)
		return tmap_error_set(err, e, "%s", why.message);
	if (g->cpu_policy != TMAP_CPU_DEDICATED)
		return tmap_error_set(err, -ENOSPC,
				      "%s (room is made for dedicated guests only: shared guests float over the pool)",
				      why.message);
	/* The search places by its own model, which knows no node or PU asked (issue 21). */
	if (guest_explicit(g))
		return tmap_error_set(err, -ENOSPC,
				      "%s (room is not made for a guest that asks for its nodes or PUs: free them first)",
				      why.message);
	host_solver(h)->err = NULL;
	e = run_sizes(&r, h, g, &sized, &cfg, &res);
	if (e == 0 && res.found)
		e = commit_answer(&r, &res, ret, err);
	else if (e == 0 && res.lower >= INF)
		e = tmap_error_set(err, -ENOSPC,
				   "%s; no moves make room: no node could hold it even with every guest that may move gone",
				   why.message);
	else if (e == 0)
		e = tmap_error_set(err, -ENOSPC,
				   "%s; no %u moves or fewer of the guests not pinned make room (at least %u needed, %zu decisions searched)",
				   why.message, cfg.max_moves, res.lower, res.decisions);
	else if (e == -ENOMEM)
		tmap_error_set(err, e, "out of memory");
	room_clear(&r);
	return e;
}
