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
 * When the solver has seen requests (its window of the latest, the one solver-nodes.c judges
 * nodes by), the measure is theirs first: how many of them the host could take as it stands.
 * The distinct request shapes that do not fit now are tried most asked first (then the
 * latest), each as a probe guest of its cells, for the fewest moves, at most K, after which
 * it fits; the first reached is the answer (at most RECENT_SEARCHES searches). Only when none
 * is does the largest cell decide.
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

/* A dedicated guest of a recent request's shape: its largest cell, then ncells - 1 cells of
 * the most the others asked. */
static int
probe_shape(const struct shape *sh, struct tmap_guest **ret)
{
	unsigned vcpus = sh->vcpus + (sh->ncells - 1) * sh->rest_vcpus, first = 0;
	struct tmap_guest *g = NULL;
	int e;

	if (!sh->ncells || !sh->vcpus || (sh->ncells > 1 && !sh->rest_vcpus) ||
	    vcpus > TMAP_MAX_VCPUS)
		return -EINVAL;
	e = tmap_guest_new("rebalance", vcpus, &g, NULL);
	if (e == 0)
		e = tmap_guest_set_memory_mib(g, (sh->memory_mib ? sh->memory_mib : 1) +
						 (sh->ncells - 1) * (sh->rest_mib ? sh->rest_mib : 1));
	for (unsigned c = 0; e == 0 && c < sh->ncells; c++) {
		unsigned n = c ? sh->rest_vcpus : sh->vcpus;
		uint64_t mib = c ? sh->rest_mib : sh->memory_mib;
		char cpus[32];

		snprintf(cpus, sizeof(cpus), "%u-%u", first, first + n - 1);
		e = tmap_guest_add_cell(g, cpus, mib ? mib : 1, NULL);
		first += n;
	}
	if (e < 0) {
		tmap_guest_free(g);
		return e;
	}
	*ret = g;
	return 0;
}

/* Does a recent request of this shape fit the host as it stands? Hugepage shapes count as
 * fitting: the probe asks for normal memory. */
static int
shape_fits(struct tmap_host *h, const struct shape *sh, bool *ret)
{
	struct tmap_guest *g = NULL;
	int e;

	if (sh->page != -1) {
		*ret = true;
		return 0;
	}
	e = probe_shape(sh, &g);
	if (e < 0)
		return e == -EINVAL ? (*ret = true, 0) : e;
	*ret = tmap_host_fit(h, g, NULL) == 0;
	tmap_guest_free(g);
	return 0;
}

/* How many of the solver's recent requests fit the host as it stands. */
static int
recent_fitting(struct tmap_host *h, unsigned *ret)
{
	const struct solver *s = host_solver(h);
	unsigned count = 0;

	for (unsigned i = 0; i < s->nrecent; i++) {
		bool fits;
		int e = shape_fits(h, &s->recent[i], &fits);

		if (e < 0)
			return e;
		count += fits;
	}
	*ret = count;
	return 0;
}

/* At most this many distinct recent shapes are searched for room, each search bounded by its
 * decisions: the rebalance stays within a few make-room searches. */
#define RECENT_SEARCHES 8

/* The recent request most asked for (then the latest) that does not fit now and that at most
 * K moves make room for: its probe guest in *ret, or NULL when none. */
static int
recent_target(struct tmap_host *h, const struct room_config *cfg, struct tmap_guest **ret)
{
	const struct solver *s = host_solver(h);
	struct shape tried[RECENT];
	unsigned ntried = 0, searched = 0;

	*ret = NULL;
	for (;;) {
		const struct shape *pick = NULL;
		unsigned pick_weight = 0;
		struct tmap_guest *g = NULL;
		struct room_result res;
		bool fits;
		int e;

		/* newest first, so that on equal counts the latest request wins */
		for (unsigned k = 0; k < s->nrecent; k++) {
			const struct shape *sh = &s->recent[(s->next_recent + RECENT - 1 - k) % RECENT];
			unsigned weight = 0;
			bool seen = false;

			for (unsigned j = 0; j < ntried && !seen; j++)
				seen = !memcmp(&tried[j], sh, sizeof(*sh));
			if (seen)
				continue;
			for (unsigned j = 0; j < s->nrecent; j++)
				weight += !memcmp(&s->recent[j], sh, sizeof(*sh));
			if (weight > pick_weight) {
				pick = sh;
				pick_weight = weight;
			}
		}
		if (!pick || searched == RECENT_SEARCHES)
			return 0;
		tried[ntried++] = *pick;
		e = shape_fits(h, pick, &fits);
		if (e < 0)
			return e;
		if (fits || pick->page != -1)
			continue;
		e = probe_shape(pick, &g);
		if (e == -EINVAL)
			continue;
		if (e == 0) {
			e = room_search(h, g, cfg, &res);
			searched++;
		}
		if (e < 0) {
			tmap_guest_free(g);
			return e;
		}
		free(res.path);
		if (res.found) {
			*ret = g;
			return 0;
		}
		tmap_guest_free(g);
	}
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
	unsigned before, after = 0, recent_before = 0;
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
	e = recent_fitting(h, &recent_before);
	if (e == 0)
		e = recent_target(h, &cfg, &g);
	if (e == 0 && !g) {
		e = reach(h, before, &cfg, &after);
		if (e == 0 && after == 0)
			e = still_plan(host_solver(h)->t, before, ret);
		else if (e == 0)
			e = probe_new(after, &g);
		snprintf(why, sizeof(why),
			 "moved by rebalance: the largest free cell on one node grows from %u to %u PUs",
			 before, after);
	} else if (e == 0) {
		snprintf(why, sizeof(why),
			 "moved by rebalance: a recent request of %u vcpus in %u cells fits again",
			 tmap_guest_vcpus(g), tmap_guest_cell_count(g));
	}
	if (e == 0 && g) {
		/* the same search again, deterministic: this time its answer is kept */
		e = room_run(&r, h, g, &cfg, &res);
		if (e == 0 && !res.found)
			e = -ENOSPC;
		r.why = why;
		if (e == 0)
			e = rebalance_plan(&r, &res, before, after, ret);
		room_clear(&r);
		g = tmap_guest_free(g);
		/* the host holds the moves now: the measures after them */
		if (e == 0 && !after)
			(*ret)->cell_after = largest_cell(host_solver(h));
		if (e == 0)
			e = recent_fitting(h, &(*ret)->recent_after);
	}
	if (e == 0) {
		(*ret)->recent_before = recent_before;
		(*ret)->recent_count = host_solver(h)->nrecent;
		if ((*ret)->nmoves == 0)
			(*ret)->recent_after = recent_before;
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

int
tmap_plan_rebalance_recent(const struct tmap_plan *p, unsigned *ret_count, unsigned *ret_before,
			   unsigned *ret_after)
{
	if (!p || !p->rebalanced)
		return -EINVAL;
	if (ret_count)
		*ret_count = p->recent_count;
	if (ret_before)
		*ret_before = p->recent_before;
	if (ret_after)
		*ret_after = p->recent_after;
	return 0;
}
