/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Making room: the fewest moves of placed guests after which a guest that does not fit does.
 * Pure, like the rest of the solver: the host's free capacity and ledger in, moves out.
 *
 * The search is iterative deepening on the cost of the moves (IDA*): a depth-first walk that
 * prunes every branch whose cost so far plus a lower bound passes the current limit, the
 * limit rising to the cheapest pruned branch each round. The lower bound is, for the node
 * that could take each cell of the guest, what it lacks (capacity in the guest's own units,
 * memory) divided by the most one move can give; a guest's cells each need one such node.
 * It never overestimates, so the first answer found is the cheapest of the moves searched.
 * The walk stops after a number of search nodes (never a factorial walk); then a greedy
 * descent, each step the move that lowers the bound most per move, finds an answer. The
 * answer says the bound it proved: "3 moves, optimal" or "3 moves, at least 2 needed".
 *
 * Which moves are tried: cells that sit on a node the guest could use go to the nodes the
 * guest can use least; vcpus re-pinned within such a node when the guest needs whole cores
 * or sibling pairs. The exhaustive mode (tests) tries every move and no bound.
 */

#include "solver-room.h"

#define DESTS 2		/* nodes each cell may go to, bounded search */
#define DESCENT 48	/* moves a step of the descent weighs */

/* ------------------------------------------------------------------------------------- */
/* The moves */

static bool
pu_free(const struct room *r, unsigned pu)
{
	return hwloc_bitmap_isset(r->s->usable, pu) && !hwloc_bitmap_isset(r->s->taken, pu);
}

static void
pu_release(struct room *r, unsigned pu)
{
	hwloc_bitmap_clr(r->s->taken, pu);
	core_free_add(r->s, r->t->pu_core[pu], 1);
	r->owner[pu] = -1;
	r->cap_ok[r->t->cores[r->t->pu_core[pu]].node] = false;
}

static void
pu_take(struct room *r, unsigned pu, unsigned gi)
{
	hwloc_bitmap_set(r->s->taken, pu);
	core_free_add(r->s, r->t->pu_core[pu], -1);
	r->owner[pu] = (int)gi;
	r->cap_ok[r->t->cores[r->t->pu_core[pu]].node] = false;
}

static int
path_push(struct room *r, const struct room_guest *rg, int vcpu, int cell, unsigned from,
	  unsigned to, uint64_t mib)
{
	if (r->npath == r->path_size) {
		size_t size = r->path_size ? 2 * r->path_size : 32;
		struct plan_move *p = realloc(r->path, size * sizeof(*p));

		if (!p)
			return -ENOMEM;
		r->path = p;
		r->path_size = size;
	}
	r->path[r->npath++] = (struct plan_move){
		.guest = rg->pg->name, .vcpu = vcpu, .cell = cell, .from = from, .to = to,
		.memory_mib = mib,
	};
	return 0;
}

/* Can core c take k vcpus of this guest: a whole free core for a whole guest, else k free PUs. */
static bool
core_takes(const struct room *r, const struct room_guest *rg, unsigned c, unsigned k)
{
	if (rg->whole)
		return core_whole(r->s, c) && r->s->core_usable[c] >= k &&
		       (rg->pg->thread_policy != TMAP_THREAD_REQUIRE || r->s->core_usable[c] >= 2);
	return r->s->core_free[c] >= k;
}

/* Put vcpus vs[0..k) of guest gi on core c (core_takes() said yes), recording each re-pin. */
static int
fill_core(struct room *r, unsigned gi, unsigned c, const unsigned *vs, unsigned k)
{
	const struct room_guest *rg = &r->guests[gi];
	const struct topo_core *core = &r->t->cores[c];
	unsigned next = 0;

	for (unsigned i = 0; i < core->npus; i++) {
		unsigned pu = core->pus[i];
		int r_;

		if (!pu_free(r, pu) || (!rg->whole && next == k))
			continue;
		pu_take(r, pu, gi);
		if (next == k)
			continue;
		r_ = path_push(r, rg, (int)(vs[next] - rg->vbase), -1, r->vcpu_pu[vs[next]], pu, 0);
		if (r_ < 0)
			return r_;
		r->vcpu_pu[vs[next++]] = pu;
	}
	return next == k ? 0 : -ENOSPC;
}

/* Give back what vcpu v holds on its core: its PU, and for a whole guest the siblings it holds
 * that no other vcpu of it uses. */
static void
release_vcpu(struct room *r, unsigned gi, unsigned v)
{
	const struct room_guest *rg = &r->guests[gi];
	const struct topo_core *core = &r->t->cores[r->t->pu_core[r->vcpu_pu[v]]];

	if (r->owner[r->vcpu_pu[v]] == (int)gi)
		pu_release(r, r->vcpu_pu[v]);
	if (!rg->whole)
		return;
	for (unsigned i = 0; i < core->npus; i++) {
		unsigned pu = core->pus[i];
		bool used = false;

		if (r->owner[pu] != (int)gi)
			continue;
		for (unsigned w = rg->vbase; w < rg->vbase + rg->pg->vcpus && !used; w++)
			used = w != v && r->vcpu_pu[w] == pu;
		if (!used)
			pu_release(r, pu);
	}
}

/* The vcpus of cell `cell` of gi on core c (or the lone vcpu), into vs; how many. */
static unsigned
piece_vcpus(const struct room *r, unsigned gi, unsigned cell, int c, int lone, unsigned *vs)
{
	const struct room_guest *rg = &r->guests[gi];
	unsigned k = 0;

	if (lone >= 0) {
		vs[0] = (unsigned)lone;
		return 1;
	}
	for (unsigned v = rg->vbase; v < rg->vbase + rg->pg->vcpus; v++)
		if (r->vcpu_cell[v] == cell && r->t->pu_core[r->vcpu_pu[v]] == c)
			vs[k++] = v;
	return k;
}

/* A piece to another core of its node. */
static int
move_piece(struct room *r, const struct cand *m, unsigned *vs)
{
	unsigned k = piece_vcpus(r, m->guest, m->cell, m->src_core, m->vcpu, vs);

	for (unsigned i = 0; i < k; i++)
		release_vcpu(r, m->guest, vs[i]);
	if (!core_takes(r, &r->guests[m->guest], m->dst, k))
		return -ENOSPC;
	return fill_core(r, m->guest, m->dst, vs, k);
}

/* The best core of node n for k vcpus of rg: the fullest that takes them. */
static int
dest_core(const struct room *r, const struct room_guest *rg, unsigned n, unsigned k)
{
	const struct topo_node *node = &r->t->nodes[n];
	int pick = -1;

	for (unsigned i = 0; i < node->ncores; i++) {
		unsigned c = node->cores[i];

		if (!core_takes(r, rg, c, k))
			continue;
		if (pick < 0 || r->s->core_free[c] < r->s->core_free[pick])
			pick = (int)c;
	}
	return pick;
}

/* A whole cell to node dst, with its memory; its vcpus keep their groups. */
static int
move_cell(struct room *r, const struct cand *m, unsigned *vs)
{
	const struct room_guest *rg = &r->guests[m->guest];
	const struct plan_cell *pc = &rg->pg->cells[m->cell];
	unsigned src = r->cell_node[rg->cbase + m->cell], n = 0, cores[TMAP_MAX_VCPUS];
	int e;

	e = path_push(r, rg, -1, (int)m->cell, r->t->nodes[src].os_index,
		      r->t->nodes[m->dst].os_index, pc->memory_mib);
	if (e < 0)
		return e;
	node_charge(r->s, src, rg->page, -(int64_t)pc->memory_mib);
	node_charge(r->s, m->dst, rg->page, (int64_t)pc->memory_mib);
	r->cell_node[rg->cbase + m->cell] = m->dst;
	/* The groups as they stand: a lone vcpu each, or the vcpus of each core. */
	for (unsigned v = rg->vbase; v < rg->vbase + rg->pg->vcpus; v++) {
		unsigned c = (unsigned)r->t->pu_core[r->vcpu_pu[v]];
		bool seen = false;

		if (r->vcpu_cell[v] != m->cell)
			continue;
		for (unsigned i = 0; i < n && rg->together && !seen; i++)
			seen = cores[i] == c;
		if (!seen)
			cores[n++] = rg->together ? c : v;
	}
	for (unsigned v = rg->vbase; v < rg->vbase + rg->pg->vcpus; v++)
		if (r->vcpu_cell[v] == m->cell)
			release_vcpu(r, m->guest, v);
	for (unsigned i = 0; i < n; i++) {
		unsigned k;
		int c;

		/* piece_vcpus() finds a group by its old core: the PUs are released, not forgotten */
		k = piece_vcpus(r, m->guest, m->cell, rg->together ? (int)cores[i] : -1,
				rg->together ? -1 : (int)cores[i], vs);
		c = dest_core(r, rg, m->dst, k);
		if (c < 0)
			return -ENOSPC;
		e = fill_core(r, m->guest, (unsigned)c, vs, k);
		if (e < 0)
			return e;
	}
	return 0;
}

static int
apply_move(struct room *r, const struct cand *m)
{
	unsigned vs[TMAP_MAX_VCPUS];

	return m->src_core >= 0 ? move_piece(r, m, vs) : move_cell(r, m, vs);
}

/* ------------------------------------------------------------------------------------- */
/* The lower bound */

/* Memory of g's kind that moving cells off node n could free. */
static uint64_t
movable_memory(const struct room *r, unsigned n)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < r->nguests; i++) {
		const struct room_guest *rg = &r->guests[i];

		if (rg->page != r->d.page)
			continue;
		for (unsigned c = 0; c < rg->pg->ncells; c++)
			if (r->cell_node[rg->cbase + c] == n && !(c == 0 && rg->emulator_fixed))
				sum += rg->pg->cells[c].memory_mib;
	}
	return sum;
}

/* The fewest moves after which node n could take cell `cell` of g. */
static unsigned
node_bound(const struct room *r, unsigned n, unsigned cell, unsigned cap)
{
	unsigned need = r->cells.nvcpus[cell], cpu = 0, mem = 0;
	uint64_t have = node_memory(r->s, n, &r->d), want = r->cells.memory_mib[cell];

	if (r->t->nodes[n].cpuless)
		return INF;
	if (cell == 0 && r->d.emulator_isolate)
		need += r->d.emulator_units;
	if (need > r->most[n])
		return INF;	/* not even with every movable guest gone */
	if (need > cap)
		cpu = (need - cap + r->gain - 1) / r->gain +
		      /* only cells that leave free PUs for g, each with a memory move */
		      !r->needs_shape;
	if (have < want) {
		/* at least one cell moves away: a vcpu and its memory */
		if (movable_memory(r, n) < want - have)
			return INF;
		mem = 2;
	}
	return cpu > mem ? cpu : mem;
}

/* Each node's capacity for g, recomputed only where a move went since. */
static void
refresh_caps(struct room *r)
{
	for (unsigned n = 0; n < r->t->nnodes; n++)
		if (!r->cap_ok[n]) {
			r->cap[n] = node_capacity(r->s, n, &r->d);
			r->cap_ok[n] = true;
		}
}

/* The fewest moves after which g could fit; r->nb[n]: the fewest after which node n could
 * take one of its cells. */
static unsigned
room_bound(struct room *r)
{
	const struct tmap_topology *t = r->t;
	unsigned worst = 0;

	refresh_caps(r);
	for (unsigned n = 0; n < t->nnodes; n++) {
		r->nb[n] = INF;
		for (unsigned c = 0; c < r->cells.n; c++) {
			unsigned b = node_bound(r, n, c, r->cap[n]);

			if (b < r->nb[n])
				r->nb[n] = b;
		}
	}
	if (r->spreadable) {
		uint64_t need = r->cells.nvcpus[0], room = 0, mem = 0;

		for (unsigned n = 0; n < t->nnodes; n++)
			if (!t->nodes[n].cpuless) {
				room += r->cap[n];
				mem += node_memory(r->s, n, &r->d);
			}
		if (r->d.emulator_isolate)
			need += r->d.emulator_units;
		worst = need > room ? (unsigned)((need - room + r->gain - 1) / r->gain) : 0;
		return mem < r->cells.memory_mib[0] && worst < 2 ? 2 : worst;
	}
	for (unsigned c = 0; c < r->cells.n; c++) {
		unsigned best = INF;

		for (unsigned n = 0; n < t->nnodes; n++) {
			unsigned b = node_bound(r, n, c, r->cap[n]);

			if (b < best)
				best = b;
		}
		if (best > worst)
			worst = best;
	}
	return worst;
}

static bool
room_fits(struct room *r)
{
	return solver_decide(r->s, r->g) == 0;
}

/* ------------------------------------------------------------------------------------- */
/* The moves worth trying */

static int
cand_add(struct level *l, const struct cand *m)
{
	if (l->ncand == l->cand_size) {
		size_t size = l->cand_size ? 2 * l->cand_size : 64;
		struct cand *v = realloc(l->cand, size * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->cand = v;
		l->cand_size = size;
	}
	l->cand[l->ncand++] = *m;
	return 0;
}

/* Could node m take the cell at all (memory, free PUs, the guest's own rules)? */
static bool
cell_may_go(const struct room *r, const struct room_guest *rg, unsigned cell, unsigned m)
{
	const struct plan_cell *pc = &rg->pg->cells[cell];

	if (r->t->nodes[m].cpuless || node_free_mib(r->s, m, rg->page) < (int64_t)pc->memory_mib)
		return false;
	for (unsigned c = 0; rg->distinct && c < rg->pg->ncells; c++)
		if (c != cell && r->cell_node[rg->cbase + c] == m)
			return false;
	return r->nfree[m] >= r->cell_vcpus[rg->cbase + cell];
}

/* The cell moves of gi's cell `cell`: every other node (exhaustive), or the DESTS nodes g
 * can use least. */
static int
cell_cands(struct room *r, struct level *l, unsigned gi, unsigned cell, const unsigned *nb,
	   unsigned src_bound)
{
	const struct room_guest *rg = &r->guests[gi];
	unsigned src = r->cell_node[rg->cbase + cell], picked[DESTS], npicked = 0;
	struct cand m = {
		.guest = gi, .cell = cell, .vcpu = -1, .src_core = -1,
		.cost = r->cell_vcpus[rg->cbase + cell] + 1,
		.key = src_bound,
	};

	if (cell == 0 && rg->emulator_fixed)
		return 0;
	for (unsigned n = 0; n < r->t->nnodes; n++) {
		if (n == src || !cell_may_go(r, rg, cell, n))
			continue;
		if (r->cfg->exhaustive) {
			m.dst = n;
			if (cand_add(l, &m) < 0)
				return -ENOMEM;
			continue;
		}
		/* keep the DESTS nodes of largest bound for g (least useful to it), by index */
		if (npicked < DESTS) {
			picked[npicked++] = n;
		} else {
			unsigned low = 0;

			for (unsigned i = 1; i < DESTS; i++)
				if (nb[picked[i]] < nb[picked[low]])
					low = i;
			if (nb[n] > nb[picked[low]])
				picked[low] = n;
		}
	}
	for (unsigned i = 0; i < npicked; i++) {
		m.dst = picked[i];
		if (cand_add(l, &m) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* Re-pins within the node of gi's cell: each piece to every core that takes it
 * (exhaustive), or to the fullest one. */
static int
piece_cands(struct room *r, struct level *l, unsigned gi, unsigned cell, unsigned src_bound)
{
	const struct room_guest *rg = &r->guests[gi];
	const struct topo_node *node = &r->t->nodes[r->cell_node[rg->cbase + cell]];
	unsigned vs[TMAP_MAX_VCPUS];

	if (rg->whole && !r->cfg->exhaustive)
		return 0;	/* a whole core for a whole core: nothing for g */
	for (unsigned v = rg->vbase; v < rg->vbase + rg->pg->vcpus; v++) {
		unsigned sc = (unsigned)r->t->pu_core[r->vcpu_pu[v]], k;
		struct cand m = {.guest = gi, .cell = cell, .vcpu = -1, .src_core = (int)sc,
				 .key = src_bound};
		int best = -1;

		if (r->vcpu_cell[v] != cell)
			continue;
		if (rg->together) {
			/* one piece per core: its first vcpu stands for it */
			k = piece_vcpus(r, gi, cell, (int)sc, -1, vs);
			if (vs[0] != v)
				continue;
		} else {
			k = 1;
			m.vcpu = (int)v;
		}
		m.cost = k;
		for (unsigned i = 0; i < node->ncores; i++) {
			unsigned c = node->cores[i];

			/* a core that holds the piece after it leaves: the source only gains */
			if (c == sc || !core_takes(r, rg, c, k))
				continue;
			if (r->cfg->exhaustive) {
				m.dst = c;
				if (cand_add(l, &m) < 0)
					return -ENOMEM;
			} else if (best < 0 || r->s->core_free[c] < r->s->core_free[best]) {
				best = (int)c;
			}
		}
		m.dst = (unsigned)best;
		if (best >= 0 && cand_add(l, &m) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int
cmp_cand(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	if (x->cost != y->cost)
		return x->cost < y->cost ? -1 : 1;
	return 0;
}

/* The moves worth trying from here, most promising first: moves off the nodes nearest to
 * taking g, cheapest first. */
static int
gen_cands(struct room *r, struct level *l)
{
	const unsigned *nb = r->nb;

	l->ncand = 0;
	for (unsigned n = 0; n < r->t->nnodes; n++) {
		r->nfree[n] = 0;
		for (unsigned i = 0; i < r->t->nodes[n].ncores; i++)
			r->nfree[n] += r->s->core_free[r->t->nodes[n].cores[i]];
	}
	/* room_bound() filled nb for this state, except in the exhaustive walk */
	if (r->cfg->exhaustive)
		room_bound(r);
	for (size_t gi = 0; gi < r->nguests; gi++) {
		const struct room_guest *rg = &r->guests[gi];

		for (unsigned c = 0; c < rg->pg->ncells; c++) {
			unsigned n = r->cell_node[rg->cbase + c];
			int e = 0;

			/* a node g cannot use is not worth emptying (a spread guest uses all) */
			if (!r->cfg->exhaustive && !r->spreadable && nb[n] >= INF)
				continue;
			e = cell_cands(r, l, (unsigned)gi, c, nb, nb[n]);
			if (e == 0 && (r->needs_shape || r->cfg->exhaustive))
				e = piece_cands(r, l, (unsigned)gi, c, nb[n]);
			if (e < 0)
				return e;
		}
	}
	if (!r->cfg->exhaustive && l->ncand)
		qsort(l->cand, l->ncand, sizeof(*l->cand), cmp_cand);
	return 0;
}

/* ------------------------------------------------------------------------------------- */
/* The search */

static void
level_save(struct room *r, struct level *l)
{
	snapshot_save(r->s, &l->snap);
	memcpy(l->owner, r->owner, r->t->pu_limit * sizeof(*r->owner));
	memcpy(l->vcpu_pu, r->vcpu_pu, r->nvcpus * sizeof(*r->vcpu_pu));
	memcpy(l->cell_node, r->cell_node, r->ncells * sizeof(*r->cell_node));
	memcpy(l->cap, r->cap, r->t->nnodes * sizeof(*r->cap));
	memcpy(l->cap_ok, r->cap_ok, r->t->nnodes * sizeof(*r->cap_ok));
	l->npath = r->npath;
}

void
level_restore(struct room *r, struct level *l)
{
	snapshot_restore(r->s, &l->snap);
	memcpy(r->owner, l->owner, r->t->pu_limit * sizeof(*r->owner));
	memcpy(r->vcpu_pu, l->vcpu_pu, r->nvcpus * sizeof(*r->vcpu_pu));
	memcpy(r->cell_node, l->cell_node, r->ncells * sizeof(*r->cell_node));
	memcpy(r->cap, l->cap, r->t->nnodes * sizeof(*r->cap));
	memcpy(r->cap_ok, l->cap_ok, r->t->nnodes * sizeof(*r->cap_ok));
	r->npath = l->npath;
}

/* Exhaustive: was this state reached this round at no higher cost? Then it is searched. */
static bool
seen_before(struct room *r, unsigned cost)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	size_t slot;

	for (unsigned v = 0; v < r->nvcpus; v++)
		h = (h ^ r->vcpu_pu[v]) * UINT64_C(0x100000001b3);
	for (unsigned c = 0; c < r->ncells; c++)
		h = (h ^ (r->cell_node[c] + 0x10000u)) * UINT64_C(0x100000001b3);
	slot = (size_t)(h & (SEEN_SIZE - 1));
	if (r->seen_round[slot] == r->round && r->seen_key[slot] == h &&
	    r->seen_cost[slot] <= cost)
		return true;
	r->seen_round[slot] = r->round;
	r->seen_key[slot] = h;
	r->seen_cost[slot] = cost;
	return false;
}

/* One round of the walk under limit `bound`: 1 found (the host holds the answer), 0 not
 * (*next: the cheapest cost pruned), -ETIME out of decisions, -ENOMEM. */
static int
walk(struct room *r, unsigned depth, unsigned cost, unsigned bound, unsigned *next)
{
	struct level *l = &r->levels[depth];
	unsigned h;
	int e;

	if (!r->cfg->exhaustive && r->decisions >= r->cfg->decisions)
		return -ETIME;
	r->decisions++;
	if (r->cfg->exhaustive && seen_before(r, cost))
		return 0;
	h = r->cfg->exhaustive ? 0 : room_bound(r);
	if (h >= INF)
		return 0;
	if (h == 0 && room_fits(r))
		return 1;
	if (h == 0)
		h = 1;
	if (cost + h > bound) {
		if (cost + h < *next)
			*next = cost + h;
		return 0;
	}
	if (depth + 1 >= r->nlevels)
		return 0;
	e = gen_cands(r, l);
	if (e < 0)
		return e;
	level_save(r, l);
	for (size_t i = 0; i < l->ncand; i++) {
		struct cand m = l->cand[i];

		if (cost + m.cost > bound) {
			if (cost + m.cost < *next)
				*next = cost + m.cost;
			continue;
		}
		e = apply_move(r, &m);
		if (e == 0)
			e = walk(r, depth + 1, cost + m.cost, bound, next);
		if (e == 1 || e == -ETIME || e == -ENOMEM)
			return e;
		level_restore(r, l);
		/* gen_cands() of a deeper level may have moved l->cand: it is l's own array */
	}
	return 0;
}

/* Out of decisions: from the start, each step the move that lowers the bound most for what
 * it costs, until g fits or the moves run out. */
static int
descend(struct room *r, unsigned *ret_cost)
{
	unsigned cost = 0;

	for (unsigned step = 0; step + 1 < r->nlevels; step++) {
		struct level *l = &r->levels[step];
		unsigned h = room_bound(r), best_h = INF, best_cost = 1;
		size_t best = SIZE_MAX;
		int e;

		if (h == 0 && room_fits(r)) {
			*ret_cost = cost;
			return 1;
		}
		e = gen_cands(r, l);
		if (e < 0)
			return e;
		level_save(r, l);
		/* the most promising first (gen_cands() sorted them): a step weighs DESCENT */
		for (size_t i = 0; i < l->ncand && i < DESCENT; i++) {
			const struct cand *m = &l->cand[i];
			unsigned after;

			if (cost + m->cost > r->cfg->max_moves)
				continue;
			/* the bound alone: whether g fits is asked once a move is made */
			e = apply_move(r, m);
			after = e == 0 ? room_bound(r) : INF;
			level_restore(r, l);
			if (e == -ENOMEM)
				return e;
			/* (h - after) / cost, compared without division */
			if (after < INF && (best == SIZE_MAX ||
					    (uint64_t)(h + INF - after) * best_cost >
						    (uint64_t)(h + INF - best_h) * m->cost)) {
				best = i;
				best_h = after;
				best_cost = m->cost;
			}
		}
		if (best == SIZE_MAX)
			return 0;
		e = apply_move(r, &l->cand[best]);
		if (e < 0)
			return e == -ENOMEM ? e : 0;
		cost += l->cand[best].cost;
	}
	if (room_bound(r) == 0 && room_fits(r)) {
		*ret_cost = cost;
		return 1;
	}
	return 0;
}

/* IDA*, then the descent when the decisions run out. */
static int
search(struct room *r, struct room_result *res)
{
	unsigned bound = r->cfg->exhaustive ? 1 : room_bound(r);
	int e = 0;

	/* the host as it starts, saved first: room_run() puts it back whenever no answer is found */
	level_save(r, &r->levels[r->nlevels - 1]);
	res->lower = bound < 1 ? 1 : bound;
	if (bound >= INF)
		return 0;
	while (bound <= r->cfg->max_moves) {
		unsigned next = INF;

		r->round++;
		e = walk(r, 0, 0, bound, &next);
		if (e != 0)
			break;
		/* Every answer cheaper than next was searched for: none, in these moves. */
		if (r->cfg->exhaustive)
			res->lower = next;
		if (next >= INF)
			break;
		bound = next;
	}
	if (e == 1) {
		res->found = true;
		res->moves = (unsigned)r->npath;
		if (r->cfg->exhaustive)
			res->lower = res->moves;
		return 0;
	}
	if (e == -ETIME) {
		level_restore(r, &r->levels[r->nlevels - 1]);
		r->npath = 0;
		e = descend(r, &res->moves);
		res->found = e == 1;
	}
	return e < 0 ? e : 0;
}

/* ------------------------------------------------------------------------------------- */
/* Setting up, and the answer */

static bool
movable(const struct plan_guest *pg)
{
	if (pg->cpu_policy != TMAP_CPU_DEDICATED || pg->pinned || !pg->ncells || !pg->vcpu_pus)
		return false;
	for (unsigned v = 0; v < pg->vcpus; v++)
		if (hwloc_bitmap_weight(pg->vcpu_pus[v]) != 1)
			return false;
	return true;
}

void
room_clear(struct room *r)
{
	for (unsigned i = 0; r->levels && i < r->nlevels; i++) {
		snapshot_clear(&r->levels[i].snap);
		free(r->levels[i].owner);
		free(r->levels[i].vcpu_pu);
		free(r->levels[i].cell_node);
		free(r->levels[i].cap);
		free(r->levels[i].cap_ok);
		free(r->levels[i].cand);
	}
	free(r->levels);
	free(r->guests);
	free(r->owner);
	free(r->vcpu_pu);
	free(r->cell_node);
	free(r->vcpu_cell);
	free(r->cap);
	free(r->cap_ok);
	free(r->nb);
	free(r->nfree);
	free(r->most);
	free(r->cell_vcpus);
	free(r->path);
	free(r->seen_key);
	free(r->seen_cost);
	free(r->seen_round);
	guest_cells_clear(&r->cells);
}

/* The movable guests as the search sees them: their PUs, vcpus and cells in flat arrays. */
static int
room_guests(struct room *r)
{
	const struct tmap_topology *t = r->t;
	size_t n = host_guest_count(r->h);

	r->guests = calloc(n ? n : 1, sizeof(*r->guests));
	if (!r->guests)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct plan_guest *pg = host_guest_plan_at(r->h, i);
		struct room_guest *rg = &r->guests[r->nguests];

		if (!movable(pg))
			continue;
		rg->index = i;
		rg->pg = pg;
		rg->page = pg->page_kib ? topo_page_index(t, pg->page_kib) : -1;
		rg->whole = pg->thread_policy != TMAP_THREAD_PREFER;
		rg->together = rg->whole || pg->threads > 1;
		rg->emulator_fixed = pg->emulator_policy == TMAP_EMULATOR_ISOLATE;
		rg->distinct = true;
		for (unsigned a = 0; a < pg->ncells; a++)
			for (unsigned b = a + 1; b < pg->ncells; b++)
				rg->distinct &= pg->cells[a].node != pg->cells[b].node;
		rg->vbase = r->nvcpus;
		rg->cbase = r->ncells;
		r->nvcpus += pg->vcpus;
		r->ncells += pg->ncells;
		r->nguests++;
	}
	r->owner = malloc(t->pu_limit * sizeof(*r->owner));
	r->vcpu_pu = calloc(r->nvcpus + 1, sizeof(*r->vcpu_pu));
	r->vcpu_cell = calloc(r->nvcpus + 1, sizeof(*r->vcpu_cell));
	r->cell_node = calloc(r->ncells + 1, sizeof(*r->cell_node));
	r->cell_vcpus = calloc(r->ncells + 1, sizeof(*r->cell_vcpus));
	if (!r->owner || !r->vcpu_pu || !r->vcpu_cell || !r->cell_node || !r->cell_vcpus)
		return -ENOMEM;
	for (unsigned pu = 0; pu < t->pu_limit; pu++)
		r->owner[pu] = -1;
	for (size_t gi = 0; gi < r->nguests; gi++) {
		const struct room_guest *rg = &r->guests[gi];
		const struct plan_guest *pg = rg->pg;
		unsigned pu, v;

		hwloc_bitmap_foreach_begin(pu, pg->held)
			if (pu < t->pu_limit && !(rg->emulator_fixed &&
						  hwloc_bitmap_isset(pg->emulator, pu)))
				r->owner[pu] = (int)gi;
		hwloc_bitmap_foreach_end();
		for (unsigned c = 0; c < pg->ncells; c++) {
			r->cell_node[rg->cbase + c] = (unsigned)topo_node_index(t, pg->cells[c].node);
			r->cell_vcpus[rg->cbase + c] = (unsigned)hwloc_bitmap_weight(pg->cells[c].vcpus);
			hwloc_bitmap_foreach_begin(v, pg->cells[c].vcpus)
				r->vcpu_cell[rg->vbase + v] = c;
			hwloc_bitmap_foreach_end();
		}
		for (v = 0; v < pg->vcpus; v++)
			r->vcpu_pu[rg->vbase + v] = (unsigned)hwloc_bitmap_first(pg->vcpu_pus[v]);
	}
	return 0;
}

/* Each node's capacity for g were every movable guest gone: what no move can pass. */
static void
most_capacity(struct room *r)
{
	const struct tmap_topology *t = r->t;

	for (unsigned c = 0; c < t->ncores; c++) {
		const struct topo_core *core = &t->cores[c];
		unsigned freeable = 0, units;

		for (unsigned k = 0; k < core->npus; k++)
			freeable += hwloc_bitmap_isset(r->s->usable, core->pus[k]) &&
				    (!hwloc_bitmap_isset(r->s->taken, core->pus[k]) ||
				     r->owner[core->pus[k]] >= 0);
		if (r->d.policy == TMAP_THREAD_PREFER)
			units = freeable / r->d.group * r->d.group;
		else if (freeable < r->s->core_usable[c] || !freeable)
			units = 0;
		else if (r->d.policy == TMAP_THREAD_ISOLATE)
			units = 1;
		else
			units = r->d.group > 1 ? r->d.group : freeable;
		r->most[core->node] += units;
	}
}

static int
room_init(struct room *r, struct tmap_host *h, const struct tmap_guest *g,
	  const struct room_config *cfg)
{
	bool has_whole = false;
	int e;

	*r = (struct room){.h = h, .s = host_solver(h), .g = g, .cfg = cfg};
	r->t = r->s->t;
	r->d = solver_demand(r->s, g);
	if (r->d.cpu != TMAP_CPU_DEDICATED)
		return -EINVAL;
	e = guest_resolve_counts(g, &r->cells);
	if (e < 0)
		return e;
	r->spreadable = r->cells.implied && r->cells.n == 1 && !(r->s->flags & TMAP_SOLVE_NO_SPREAD);
	r->needs_shape = r->d.policy != TMAP_THREAD_PREFER || r->d.group > 1 ||
			 r->d.emulator_isolate;
	e = room_guests(r);
	if (e < 0)
		return e;
	for (size_t i = 0; i < r->nguests; i++)
		has_whole |= r->guests[i].whole;
	/* A whole guest's piece frees its siblings too: up to a core per vcpu moved. */
	r->gain = r->d.group;
	if (r->d.policy == TMAP_THREAD_ISOLATE)
		r->gain = 1;
	else if ((has_whole || r->d.policy == TMAP_THREAD_REQUIRE) && r->t->max_threads > r->gain)
		r->gain = r->t->max_threads;
	if (r->gain == 0)
		r->gain = 1;
	if (cfg->exhaustive) {
		r->seen_key = malloc(SEEN_SIZE * sizeof(*r->seen_key));
		r->seen_cost = malloc(SEEN_SIZE * sizeof(*r->seen_cost));
		r->seen_round = calloc(SEEN_SIZE, sizeof(*r->seen_round));
		if (!r->seen_key || !r->seen_cost || !r->seen_round)
			return -ENOMEM;
	}
	r->cap = calloc(r->t->nnodes, sizeof(*r->cap));
	r->cap_ok = calloc(r->t->nnodes, sizeof(*r->cap_ok));
	r->nb = calloc(r->t->nnodes, sizeof(*r->nb));
	r->nfree = calloc(r->t->nnodes, sizeof(*r->nfree));
	r->most = calloc(r->t->nnodes, sizeof(*r->most));
	if (!r->cap || !r->cap_ok || !r->nb || !r->nfree || !r->most)
		return -ENOMEM;
	most_capacity(r);
	r->nlevels = cfg->max_moves + 2;
	r->levels = calloc(r->nlevels, sizeof(*r->levels));
	if (!r->levels)
		return -ENOMEM;
	for (unsigned i = 0; i < r->nlevels; i++) {
		struct level *l = &r->levels[i];

		l->owner = malloc(r->t->pu_limit * sizeof(*l->owner));
		l->vcpu_pu = malloc((r->nvcpus + 1) * sizeof(*l->vcpu_pu));
		l->cell_node = malloc((r->ncells + 1) * sizeof(*l->cell_node));
		l->cap = malloc(r->t->nnodes * sizeof(*l->cap));
		l->cap_ok = malloc(r->t->nnodes * sizeof(*l->cap_ok));
		if (!l->owner || !l->vcpu_pu || !l->cell_node || !l->cap || !l->cap_ok ||
		    snapshot_alloc(r->t, &l->snap) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* The search itself; the host is left at the answer (or where it started when none). */
int
room_run(struct room *r, struct tmap_host *h, const struct tmap_guest *g,
	 const struct room_config *cfg, struct room_result *res)
{
	int e;

	memset(res, 0, sizeof(*res));
	e = room_init(r, h, g, cfg);
	if (e == 0)
		e = search(r, res);
	res->decisions = r->decisions;
	if (e == 0 && res->found) {
		res->moves = (unsigned)r->npath;
		res->npath = r->npath;
		if (res->lower > res->moves)
			res->lower = res->moves;
		return 0;
	}
	res->found = false;
	if (r->levels && r->levels[r->nlevels - 1].owner)
		level_restore(r, &r->levels[r->nlevels - 1]);
	return e;
}

int
room_search(struct tmap_host *h, const struct tmap_guest *g, const struct room_config *cfg,
	    struct room_result *res)
{
	struct room r = {0};
	struct tmap_error *err = host_solver(h)->err;
	int e;

	host_solver(h)->err = NULL;
	e = room_run(&r, h, g, cfg, res);
	if (e == 0 && res->found) {
		res->path = TAKE_PTR(r.path);
		level_restore(&r, &r.levels[r.nlevels - 1]);
	}
	host_solver(h)->err = err;
	room_clear(&r);
	return e;
}

