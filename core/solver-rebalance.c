/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Rebalancing (issue 18): the moves of placed guests, at most K, that leave the host able to
 * take the largest cell, for a maintenance window. Built on making room (solver-room.c).
 *
 * The measure is the one the solver keeps in view when it chooses nodes (solver-nodes.c: the
 * size class of the largest capacity left on any node): the largest cell a new dedicated
 * guest could have, that is the most free PUs on one node with CPUs. The solver's window of
 * recent requests lives in memory only and the state does not record it (a session adopts
 * its guests, it does not ask for them again), so the largest cell stands for what may come.
 * Memory is not counted: a cell of the measure asks 1 MiB.
 *
 * The search: for N = the largest cell now + 1, + 2, ... each a one-cell guest of N vcpus
 * that does not fit, the make-room search (bounded by its decisions, never a factorial walk)
 * for the fewest moves, at most K, after which it fits; the sizes stop at the first that no
 * such moves reach, or at what the host's free PUs could hold on one node. The answer is the
 * moves of the largest N reached; none when no N is.
 */
#include <stdio.h>

#include "solver-room.h"

/* The measure: the most free PUs (usable, held by nobody) on one node with CPUs. */
static unsigned
largest_cell(const struct solver *s)
{
	const struct tmap_topology *t = s->t;
	unsigned best = 0;

	for (unsigned n = 0; n < t->nnodes; n++) {
		unsigned sum = 0;

		if (t->nodes[n].cpuless)
			continue;
		for (unsigned i = 0; i < t->nodes[n].ncores; i++)
			sum += s->core_free[t->nodes[n].cores[i]];
		if (sum > best)
			best = sum;
	}
	return best;
}

/* The most the measure could reach: what all free PUs make, within one node's usable PUs. */
static unsigned
largest_possible(const struct solver *s)
{
	const struct tmap_topology *t = s->t;
	unsigned total = 0, node_max = 0;

	for (unsigned n = 0; n < t->nnodes; n++) {
		unsigned usable = 0;

		if (t->nodes[n].cpuless)
			continue;
		for (unsigned i = 0; i < t->nodes[n].ncores; i++) {
			total += s->core_free[t->nodes[n].cores[i]];
			usable += s->core_usable[t->nodes[n].cores[i]];
		}
		if (usable > node_max)
			node_max = usable;
	}
	if (node_max > total)
		node_max = total;
	return node_max < TMAP_MAX_VCPUS ? node_max : TMAP_MAX_VCPUS;
}

/* A dedicated one-cell guest of n vcpus and 1 MiB: the cell the measure counts. */
static int
probe_new(unsigned n, struct tmap_guest **ret)
{
	struct tmap_guest *g = NULL;
	char cpus[32];
	int e;

	snprintf(cpus, sizeof(cpus), "0-%u", n - 1);
	e = tmap_guest_new("rebalance", n, &g, NULL);
	if (e == 0)
		e = tmap_guest_set_memory_mib(g, 1);
	if (e == 0)
		e = tmap_guest_add_cell(g, cpus, 1, NULL);
	if (e < 0) {
		tmap_guest_free(g);
		return e;
	}
	*ret = g;
	return 0;
}

/* The largest cell the moves reach, from before + 1 up: 0 when none is. */
static int
reach(struct tmap_host *h, unsigned before, const struct room_config *cfg, unsigned *ret)
{
	unsigned top = largest_possible(host_solver(h));

	*ret = 0;
	for (unsigned n = before + 1; n <= top; n++) {
		struct room_result res;
		struct tmap_guest *g = NULL;
		int e = probe_new(n, &g);

		if (e == 0)
			e = room_search(h, g, cfg, &res);
		tmap_guest_free(g);
		if (e < 0)
			return e;
		free(res.path);
		if (!res.found)
			break;
		*ret = n;
	}
	return 0;
}

/* The plan: the moved guests where the moves put them, the moves, the measure. */
static int
rebalance_plan(struct room *r, const struct room_result *res, unsigned before, unsigned after,
	       struct tmap_plan **ret)
{
	_cleanup_free_ struct plan_guest *old = calloc(r->nguests + 1, sizeof(*old));
	_cleanup_free_ bool *moved = calloc(r->nguests + 1, sizeof(*moved));
	struct tmap_plan *plan = NULL;
	struct plan_move *moves = NULL;
	size_t nmoved = 0, k = 0;
	int e;

	if (!old || !moved)
		return -ENOMEM;
	/* the moves name their guests as the plans before the moves do: copied first */
	e = copy_moves(r, &moves);
	if (e == 0)
		e = commit_moves(r, old, moved);
	for (size_t gi = 0; gi < r->nguests; gi++)
		nmoved += moved[gi];
	if (e == 0)
		e = plan_new(r->t, nmoved, &plan);
	for (size_t gi = 0; e == 0 && gi < r->nguests; gi++)
		if (moved[gi]) {
			e = plan_guest_copy(&plan->guests[k],
					    host_guest_plan_at(r->h, r->guests[gi].index));
			k += e == 0;
		}
	if (plan)
		plan->nguests = k;
	if (e < 0) {
		tmap_plan_free(plan);
		plan_moves_free(moves, moves ? r->npath : 0);
		uncommit_moves(r, old, moved);
	}
	for (size_t gi = 0; gi < r->nguests; gi++)
		plan_guest_clear(&old[gi]);
	if (e < 0)
		return e;
	plan->moves = moves;
	plan->nmoves = r->npath;
	plan->moves_searched = true;
	plan->moves_lower_bound = res->lower;
	plan->rebalanced = true;
	plan->cell_before = before;
	plan->cell_after = after;
	*ret = plan;
	return 0;
}

/* No move improves the measure: a plan of none, saying so. */
static int
still_plan(const struct tmap_topology *t, unsigned before, struct tmap_plan **ret)
{
	struct tmap_plan *plan = NULL;

	if (plan_new(t, 0, &plan) < 0)
		return -ENOMEM;
	plan->nguests = 0;
	plan->moves_searched = true;
	plan->rebalanced = true;
	plan->cell_before = plan->cell_after = before;
	*ret = plan;
	return 0;
}

int
tmap_host_rebalance(struct tmap_host *h, const struct tmap_room_options *options,
		    struct tmap_plan **ret, struct tmap_error *err)
{
	struct tmap_error *saved;
	struct room_result res;
	struct room_config cfg;
	struct tmap_guest *g = NULL;
	struct room r = {0};
	unsigned before, after;
	char why[128];
	int e;

	if (!h || !ret)
		return tmap_error_set(err, -EINVAL, "tmap_host_rebalance: missing argument");
	e = room_options(options, &cfg, err);
	if (e < 0)
		return e;
	saved = host_solver(h)->err;
	host_solver(h)->err = NULL;
	before = largest_cell(host_solver(h));
	e = reach(h, before, &cfg, &after);
	if (e == 0 && after == 0)
		e = still_plan(host_solver(h)->t, before, ret);
	else if (e == 0)
		e = probe_new(after, &g);
	if (e == 0 && g) {
		/* the same search again, deterministic: this time its answer is kept */
		e = room_run(&r, h, g, &cfg, &res);
		if (e == 0 && !res.found)
			e = -ENOSPC;
		snprintf(why, sizeof(why),
			 "moved by rebalance: the largest free cell on one node grows from %u to %u PUs",
			 before, after);
		r.why = why;
		if (e == 0)
			e = rebalance_plan(&r, &res, before, after, ret);
		room_clear(&r);
		tmap_guest_free(g);
	}
	host_solver(h)->err = saved;
	if (e == -ENOSPC)
		return tmap_error_set(err, e, "rebalance: the search did not find its answer again");
	if (e < 0)
		return tmap_error_set(err, e, "out of memory");
	return 0;
}

int
tmap_plan_rebalance(const struct tmap_plan *p, unsigned *ret_before, unsigned *ret_after)
{
	if (!p || !p->rebalanced)
		return -EINVAL;
	if (ret_before)
		*ret_before = p->cell_before;
	if (ret_after)
		*ret_after = p->cell_after;
	return 0;
}
