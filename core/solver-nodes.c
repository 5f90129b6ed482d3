/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Which node takes each guest cell (step 2 of solver.c's decision): judged by what the host
 * keeps useful afterwards (the outlook over the latest requests), cells on distinct nodes by
 * bipartite matching, nearest after what stays useful. A guest without cells that no node
 * holds is spread by solver-spread.c.
 */
#include <limits.h>

#include "solver.h"

#define SQRT2 1.4142135623730951

/* Are two capacities apart by half a doubling or more? Holes closer than that are as good as
 * each other to a big cell, and something else may decide between them. */
static bool
far_apart(unsigned a, unsigned b)
{
	return a * SQRT2 <= b || b * SQRT2 <= a;
}

/* The size class of a capacity: its power of two. A placement that lowers the class of the
 * largest capacity left on any node breaks the one node that could still take a big cell. */
static unsigned
size_class(unsigned cap)
{
	unsigned k = 0;

	while (cap >>= 1)
		k++;
	return k;
}

/* Could node n (with CPUs), with this capacity and memory of the kind the guest in
 * progress uses, take a cell of vcpus and mib in the shape's memory? A shape in another kind of
 * memory (normal pages, or another pool) finds that memory as it is: the guest does not take
 * from it. */
static bool
cell_takes(const struct solver *s, const struct shape *sh, unsigned n, unsigned cap,
	   uint64_t mem, unsigned vcpus, uint64_t mib)
{
	if (cap < vcpus)
		return false;
	if (sh->page != s->page)
		return node_free_mib(s, n, sh->page) >= (int64_t)mib;
	return mem >= mib;
}

#define TAKES_LARGEST 1u
#define TAKES_REST 2u

/* Which of the shape's cells node n would take: TAKES_LARGEST, TAKES_REST, both or none. */
static unsigned
shape_takes(const struct solver *s, const struct shape *sh, unsigned n, unsigned cap,
	    uint64_t mem)
{
	return (cell_takes(s, sh, n, cap, mem, sh->vcpus, sh->memory_mib) ? TAKES_LARGEST : 0) |
	       (cell_takes(s, sh, n, cap, mem, sh->rest_vcpus, sh->rest_mib) ? TAKES_REST : 0);
}

/* How many nodes take a shape's largest cell, its other cells, and either. */
struct takers {
	int largest, rest, either;
};

/* The request fits distinct nodes (Hall's condition for one largest cell and ncells - 1 alike
 * others): a node for the largest, ncells - 1 for the others, ncells for all of them. With
 * `spare` more of each, it fits whatever `spare` nodes lose. */
static bool
takers_fit(const struct takers *t, const struct shape *sh, unsigned spare)
{
	return t->largest >= 1 + (int)spare && t->rest >= (int)(sh->ncells - 1 + spare) &&
	       t->either >= (int)(sh->ncells + spare);
}

/* The counts when a node takes `after` instead of `before`. */
static void
takers_move(struct takers *t, unsigned before, unsigned after)
{
	t->largest += (int)(after & TAKES_LARGEST) - (int)(before & TAKES_LARGEST);
	t->rest += (int)!!(after & TAKES_REST) - (int)!!(before & TAKES_REST);
	t->either += (int)!!after - (int)!!before;
}

void
remember_shape(struct solver *s, const struct cell_req *req, unsigned ncells)
{
	struct shape sh = {ncells, 0, 0, s->page, 0, 0};
	unsigned big = 0;

	for (unsigned c = 1; c < ncells; c++)
		if (req[c].vcpus > req[big].vcpus ||
		    (req[c].vcpus == req[big].vcpus && req[c].memory_mib > req[big].memory_mib))
			big = c;
	sh.vcpus = req[big].vcpus;
	sh.memory_mib = req[big].memory_mib;
	for (unsigned c = 0; c < ncells; c++) {
		if (c == big)
			continue;
		if (req[c].vcpus > sh.rest_vcpus)
			sh.rest_vcpus = req[c].vcpus;
		if (req[c].memory_mib > sh.rest_mib)
			sh.rest_mib = req[c].memory_mib;
	}
	if (ncells <= 1) {
		sh.rest_vcpus = sh.vcpus;
		sh.rest_mib = sh.memory_mib;
	}
	s->recent[s->next_recent] = sh;
	s->next_recent = (s->next_recent + 1) % RECENT;
	if (s->nrecent < RECENT)
		s->nrecent++;
}


/* ------------------------------------------------------------------------------------- */
/* Bipartite matching of cells to distinct nodes (Kuhn's augmenting paths), over sets of
 * nodes one bit each: a path looks only at the nodes it may still take, not at every node. */

/* Words of 64 nodes in a set of N nodes. */
static inline unsigned
node_words(unsigned N)
{
	return (N + 63) / 64;
}

static inline bool
nodes_has(const uint64_t *set, unsigned n)
{
	return set[n / 64] >> (n % 64) & 1;
}

static inline void
nodes_add(uint64_t *set, unsigned n)
{
	set[n / 64] |= UINT64_C(1) << (n % 64);
}

struct matching {
	unsigned ncells, words;
	const uint64_t *fit;	/* ncells x words: the nodes that take each cell */
	const uint64_t *allowed; /* the nodes it may use */
	int *node_of;		/* per cell, -1 */
	int *cell_of;		/* per node, -1 */
	uint64_t *visited;	/* the nodes this round's paths went through */
};

/* Nodes in ascending order, each at most once a round, as a loop over every node would. */
static bool
augment(struct matching *m, unsigned cell)
{
	const uint64_t *fit = &m->fit[(size_t)cell * m->words];

	for (unsigned w = 0; w < m->words; w++) {
		uint64_t can;

		/* again after each path tried: it went through more nodes */
		while ((can = fit[w] & m->allowed[w] & ~m->visited[w])) {
			unsigned n = w * 64 + (unsigned)__builtin_ctzll(can);

			m->visited[w] |= can & -can;
			if (m->cell_of[n] < 0 || augment(m, (unsigned)m->cell_of[n])) {
				m->cell_of[n] = (int)cell;
				m->node_of[cell] = (int)n;
				return true;
			}
		}
	}
	return false;
}

/* Can the cells not fixed yet (node_of < 0) all get distinct allowed nodes? */
static bool
matching_complete(struct matching *m, const int *fixed, unsigned nnodes)
{
	for (unsigned n = 0; n < nnodes; n++)
		m->cell_of[n] = -1;
	for (unsigned c = 0; c < m->ncells; c++) {
		m->node_of[c] = fixed[c];
		if (fixed[c] >= 0)
			m->cell_of[fixed[c]] = (int)c;
	}
	for (unsigned c = 0; c < m->ncells; c++) {
		if (m->node_of[c] >= 0)
			continue;
		/* a fixed cell's node is no path's to take */
		memset(m->visited, 0, m->words * sizeof(uint64_t));
		for (unsigned k = 0; k < m->ncells; k++)
			if (fixed[k] >= 0)
				nodes_add(m->visited, (unsigned)fixed[k]);
		if (!augment(m, c))
			return false;
	}
	return true;
}

/* With no cell fixed, and nodes only ever added to the allowed ones: grow the matching found
 * so far to a maximum one (a cell with no augmenting path now has none after the others
 * augment), and say whether every cell has a node. Start from matching_reset(). */
static bool
matching_grow(struct matching *m)
{
	for (unsigned c = 0; c < m->ncells; c++) {
		if (m->node_of[c] >= 0)
			continue;
		memset(m->visited, 0, m->words * sizeof(uint64_t));
		if (!augment(m, c))
			return false;
	}
	return true;
}

static void
matching_reset(struct matching *m, unsigned nnodes)
{
	for (unsigned n = 0; n < nnodes; n++)
		m->cell_of[n] = -1;
	for (unsigned c = 0; c < m->ncells; c++)
		m->node_of[c] = -1;
}

static unsigned long
set_distance(const struct tmap_topology *t, const int *node_of, unsigned ncells)
{
	unsigned long sum = 0;

	for (unsigned i = 0; i < ncells; i++)
		for (unsigned j = i + 1; j < ncells; j++)
			sum += topo_distance(t, (unsigned)node_of[i], (unsigned)node_of[j]);
	return sum;
}

/*
 * On a host of two-thread cores, under thread policy prefer, a node's capacity is its free
 * PUs, and an odd count means a core with one sibling taken: an odd cell that lands there
 * fills that hole, one that lands on an even node breaks a whole core. Other policies count
 * whole cores, which every fit leaves whole.
 */
static bool
pairs_matter(const struct solver *s, const struct demand *d)
{
	return d->cpu == TMAP_CPU_DEDICATED && d->policy == TMAP_THREAD_PREFER &&
	       s->t->max_threads == 2;
}

/* Does a cell of `need` vcpus on node n break a whole core: an odd cell on a node whose free
 * PUs are whole cores? (An even cell on a node with a half-free core leaves that hole as it
 * found it.) */
static bool
breaks_core(const struct solver *s, const struct demand *d, const unsigned *cap, unsigned n,
	    unsigned need)
{
	return pairs_matter(s, d) && need % 2 && cap[n] % 2 == 0;
}

/*
 * The nodes by room, most first, then by index; with odd_first, the nodes of odd room before
 * the others. key: room for a key per node. Nodes are few: each node's place is counted
 * from the keys (no branch to mispredict), on a host of up to 64 nodes.
 */
static void
nodes_by_room(const unsigned *cap, unsigned N, bool odd_first, uint64_t *key, unsigned *ret)
{
	for (unsigned n = 0; n < N; n++)
		key[n] = (uint64_t)(odd_first && cap[n] % 2) << 63 | (uint64_t)cap[n] << 31 |
			 ((UINT32_MAX >> 1) - n);
	if (N > 64) {
		for (unsigned n = 0; n < N; n++)
			ret[n] = n;
		for (unsigned i = 1; i < N; i++)
			for (unsigned j = i; j > 0 && key[ret[j]] > key[ret[j - 1]]; j--) {
				unsigned tmp = ret[j];

				ret[j] = ret[j - 1];
				ret[j - 1] = tmp;
			}
		return;
	}
	for (unsigned n = 0; n < N; n++) {
		unsigned place = 0;

		for (unsigned m = 0; m < N; m++)
			place += key[m] > key[n];
		ret[place] = n;
	}
}

/*
 * How useful a host stays: how many of the latest requests it could still take, each on its
 * own (a request fits when one node takes its largest cell, as many as it has other cells
 * take the most those ask, and all of them are distinct: takers_fit()). Placing a
 * guest where it leaves this highest keeps the holes that the guests this host actually
 * receives need (a whole node for a big cell, room on several nodes for a multi-cell guest),
 * which neither best fit nor spreading does on every stream.
 *
 * Candidates are judged by difference: the nodes that take each recent request are counted
 * once for the host as it is, and a candidate placement (cells on distinct nodes, each taking
 * its vcpus, and cell 0 the isolated emulator's too, from its node's capacity and its memory
 * from the node's) only changes its own nodes' share.
 */
struct outlook {
	struct shape *shapes;	/* the distinct recent shapes, nshapes of them */
	unsigned *weight;	/* per distinct shape: how many recent requests had it */
	unsigned nshapes;
	struct takers *takers;	/* per distinct shape: the nodes that take its cells now */
	unsigned char *takes;	/* nshapes x nnodes: which of the shape's cells the node takes */
	unsigned useful;	/* recent requests that fit whatever a candidate takes */
	unsigned most_useful;	/* useful and every critical one: no candidate does better */
	unsigned *critical;	/* the shapes a candidate may stop fitting, ncritical of them */
	unsigned ncritical;
	uint64_t *mem;		/* per node: node_memory() now */
	double lean, rich;	/* the least and most memory per unit of capacity of a node */
	unsigned top, second;	/* the largest capacity of a node with CPUs, and of the others */
	unsigned top_node;
};

/* For candidates of ncells cells. Taking room never makes a node take a cell it did not, and
 * the cells take from ncells nodes at most: a shape with ncells more takers of each kind than
 * it needs keeps fitting, one that does not fit now keeps not fitting; only the others are
 * judged. */
static int
outlook_init(const struct solver *s, const struct demand *d, const unsigned *cap,
	     unsigned ncells, struct outlook *o)
{
	unsigned N = s->t->nnodes;

	o->shapes = scratch_new(s, s->nrecent, struct shape);
	o->weight = scratch_new(s, s->nrecent, unsigned);
	o->takers = scratch_new(s, s->nrecent, struct takers);
	o->takes = scratch_new(s, (size_t)s->nrecent * N, unsigned char);
	o->critical = scratch_new(s, s->nrecent, unsigned);
	o->mem = scratch_new(s, N, uint64_t);
	if (!o->shapes || !o->weight || !o->takers || !o->takes || !o->critical || !o->mem)
		return -ENOMEM;
	/* A stream repeats itself: each distinct shape is judged once, counted as often. */
	for (unsigned i = 0; i < s->nrecent; i++) {
		const struct shape *sh = &s->recent[i];
		unsigned k = 0;

		while (k < o->nshapes && memcmp(&o->shapes[k], sh, sizeof(*sh)))
			k++;
		if (k == o->nshapes)
			o->shapes[o->nshapes++] = *sh;
		o->weight[k]++;
	}
	for (unsigned n = 0; n < N; n++) {
		o->mem[n] = node_memory(s, n, d);
		if (s->t->nodes[n].cpuless)
			continue;
		if (cap[n] && o->mem[n]) {
			double ratio = (double)o->mem[n] / cap[n];

			if (!(o->lean > 0) || ratio < o->lean)
				o->lean = ratio;
			if (ratio > o->rich)
				o->rich = ratio;
		}
		if (cap[n] > o->top) {
			o->second = o->top;
			o->top = cap[n];
			o->top_node = n;
		} else if (cap[n] > o->second) {
			o->second = cap[n];
		}
	}
	for (unsigned n = 0; n < N; n++) {
		if (s->t->nodes[n].cpuless)
			continue;
		for (unsigned k = 0; k < o->nshapes; k++) {
			unsigned takes = shape_takes(s, &o->shapes[k], n, cap[n], o->mem[n]);

			o->takes[k * N + n] = (unsigned char)takes;
			takers_move(&o->takers[k], 0, takes);
		}
	}
	for (unsigned k = 0; k < o->nshapes; k++) {
		if (takers_fit(&o->takers[k], &o->shapes[k], ncells))
			o->useful += o->weight[k];
		else if (takers_fit(&o->takers[k], &o->shapes[k], 0))
			o->critical[o->ncritical++] = k;
		else
			continue;
		o->most_useful += o->weight[k];
	}
	return 0;
}

/* The takers of distinct shape k once node n (with CPUs) goes from the host's capacity and
 * memory to cap_n and mem_n. */
static void
takers_change(const struct solver *s, const struct outlook *o, unsigned k, unsigned n,
	      unsigned cap_n, uint64_t mem_n, struct takers *t)
{
	takers_move(t, o->takes[k * s->t->nnodes + n],
		    shape_takes(s, &o->shapes[k], n, cap_n, mem_n));
}

/* How useful the host stays, and the largest capacity of a node with CPUs it keeps, once
 * cell 0 (req) lands on node n. */
static void
outlook_after(const struct solver *s, const struct demand *d, const unsigned *cap,
	      const struct cell_req *req, const struct outlook *o, unsigned n,
	      unsigned *ret_useful, unsigned *ret_largest)
{
	unsigned need = req->vcpus + (d->emulator_isolate ? d->emulator_units : 0);
	unsigned cap_n = cap[n] > need ? cap[n] - need : 0;
	uint64_t mem_n = o->mem[n] > req->memory_mib ? o->mem[n] - req->memory_mib : 0;
	unsigned useful = o->useful, biggest = n == o->top_node ? o->second : o->top;

	for (unsigned j = 0; j < o->ncritical; j++) {
		unsigned k = o->critical[j];
		struct takers t = o->takers[k];

		takers_change(s, o, k, n, cap_n, mem_n, &t);
		if (takers_fit(&t, &o->shapes[k], 0))
			useful += o->weight[k];
	}
	*ret_useful = useful;
	*ret_largest = cap_n > biggest ? cap_n : biggest;
}

/*
 * How far a cell's memory per vcpu is from what node n keeps per unit of capacity (its free
 * memory of the guest's kind over its capacity for this guest), in steps of half a doubling
 * either way: 0 when they match. A cell that lands on a node of its own shape leaves that
 * node's memory and PUs in the proportion they had: a memory-light cell keeps off the node
 * that alone could hold a memory-heavy guest, a memory-heavy one off a node whose PUs it would
 * strand. A cell lighter than every node is judged as if it had the leanest node's memory per
 * unit (and one heavier than every node, the richest's): memory is plenty for it everywhere,
 * and only how much richer one node is than another counts, not how small the cell is. On a
 * host whose nodes keep the same memory per PU, every node scores alike and the other
 * criteria decide.
 */
static unsigned
memory_mismatch(const struct outlook *o, const struct cell_req *req, const unsigned *cap,
		unsigned n)
{
	double cell, node;
	unsigned k = 0;

	if (!req->vcpus || !req->memory_mib || !cap[n] || !o->mem[n])
		return 0;
	cell = (double)req->memory_mib / req->vcpus;
	node = (double)o->mem[n] / cap[n];
	if (cell < o->lean)
		cell = o->lean;
	if (cell > o->rich)
		cell = o->rich;
	if (cell > node)
		return 0;
	while (cell * SQRT2 <= node && k < 256) {
		cell *= SQRT2;
		k++;
	}
	return k;
}

/*
 * What cells on the distinct nodes node_of[] leave: how useful the host stays, how far the
 * cells' memory per vcpu is from their nodes' (memory_mismatch(), summed), and the size class
 * of its largest capacity. by_room: the nodes, most capacity first; cap_after and
 * mem_after: room for a value per cell.
 */
static void
judge_set(const struct solver *s, const struct demand *d, const unsigned *cap,
	  const struct cell_req *req, const struct outlook *o, const unsigned *by_room,
	  const int *node_of, unsigned ncells, unsigned *cap_after, uint64_t *mem_after,
	  unsigned *ret_useful, unsigned *ret_memory, unsigned *ret_largest)
{
	unsigned useful = 0, biggest = 0, memory = 0;

	for (unsigned c = 0; c < ncells; c++) {
		unsigned n = (unsigned)node_of[c];
		unsigned need = req[c].vcpus + (c == 0 && d->emulator_isolate ? d->emulator_units : 0);

		cap_after[c] = cap[n] > need ? cap[n] - need : 0;
		mem_after[c] = o->mem[n] > req[c].memory_mib ? o->mem[n] - req[c].memory_mib : 0;
		if (cap_after[c] > biggest)
			biggest = cap_after[c];
		memory += memory_mismatch(o, &req[c], cap, n);
	}
	/* The largest capacity elsewhere: the first node with CPUs, by room, outside the set. */
	for (unsigned k = 0; k < s->t->nnodes; k++) {
		unsigned n = by_room[k];
		bool in_set = false;

		for (unsigned c = 0; c < ncells && !in_set; c++)
			in_set = node_of[c] == (int)n;
		if (in_set || s->t->nodes[n].cpuless)
			continue;
		if (cap[n] > biggest)
			biggest = cap[n];
		break;
	}
	for (unsigned j = 0; j < o->ncritical; j++) {
		unsigned k = o->critical[j];
		struct takers t = o->takers[k];

		for (unsigned c = 0; c < ncells; c++)
			takers_change(s, o, k, (unsigned)node_of[c], cap_after[c], mem_after[c], &t);
		if (takers_fit(&t, &o->shapes[k], 0))
			useful += o->weight[k];
	}
	*ret_useful = o->useful + useful;
	*ret_memory = memory;
	*ret_largest = size_class(biggest);
}

/*
 * Nodes from anchor a, one distance class at a time: class k's nodes (k >= 1: the k-th
 * nearest distance from a; class 0 is a alone) in the order of `within` (e.g. most room
 * first, then by index), appended to order[len...]; the new length. An anchor's prefix rarely
 * reaches past its nearest classes, so the order is made only as far as it is read.
 */
static unsigned
order_class(const struct solver *s, unsigned a, const unsigned *within, unsigned k,
	    unsigned *order, unsigned len)
{
	unsigned N = s->t->nnodes;
	const unsigned *class = &s->dist_class[(size_t)a * N];

	if (k == 0) {
		order[len] = a;
		return len + 1;
	}
	/* without a branch to mispredict: every node is written, the class's ones kept (so
	 * order has room for one more than the nodes) */
	for (unsigned i = 0; i < N; i++) {
		order[len] = within[i];
		len += class[within[i]] == k;
	}
	return len;
}

/* The work arrays of choose_distinct(), in scratch memory. */
struct distinct {
	const struct solver *s;
	const struct demand *d;
	const unsigned *cap;
	const struct cell_req *req;
	unsigned ncells, N;
	bool *fit;		/* ncells x N: does the node take the cell? */
	uint64_t *fit_set;	/* the same, as a node set per cell (struct matching) */
	uint64_t *allowed;	/* the nodes in the anchor's prefix */
	int *fixed;		/* per cell: its node, or -1 */
	unsigned *order;	/* nodes by distance class from the anchor; N + 1 (order_class()) */
	unsigned *by_size;	/* cells, largest first */
	unsigned *by_room;	/* nodes, most room first */
	unsigned *joining;	/* the order nodes as close join an anchor's prefix */
	unsigned *reach;	/* per cell: allowed nodes that take it */
	bool *fits_every_cell;	/* per node */
	bool *node_used;	/* per node: a fixed cell is there */
	struct matching m;
};

static int
distinct_init(struct distinct *x)
{
	const struct solver *s = x->s;
	unsigned N = x->N, ncells = x->ncells;
	unsigned W = node_words(N);
	uint64_t *visited = scratch_new(s, W, uint64_t);
	int *node_of = scratch_new(s, ncells, int);
	int *cell_of = scratch_new(s, N, int);
	unsigned *odd_order = scratch_new(s, N, unsigned);
	uint64_t *key = scratch_new(s, N, uint64_t);
	bool odd_cells = false;

	x->fit = scratch_new(s, (size_t)ncells * N, bool);
	x->fit_set = scratch_new(s, (size_t)ncells * W, uint64_t);
	x->allowed = scratch_new(s, W, uint64_t);
	x->fixed = scratch_new(s, ncells, int);
	x->order = scratch_new(s, N + 1, unsigned);
	x->by_size = scratch_new(s, ncells, unsigned);
	x->by_room = scratch_new(s, N, unsigned);
	x->reach = scratch_new(s, ncells, unsigned);
	x->fits_every_cell = scratch_new(s, N, bool);
	x->node_used = scratch_new(s, N, bool);
	if (!x->fit || !x->fit_set || !x->allowed || !visited || !node_of || !cell_of || !x->fixed ||
	    !x->order || !x->by_size || !x->by_room || !odd_order || !key || !x->reach ||
	    !x->fits_every_cell || !x->node_used)
		return -ENOMEM;
	x->m = (struct matching){ncells, W, x->fit_set, x->allowed, node_of, cell_of, visited};
	for (unsigned n = 0; n < N; n++)
		x->fits_every_cell[n] = true;
	memset(x->fit_set, 0, (size_t)ncells * W * sizeof(uint64_t));
	for (unsigned c = 0; c < ncells; c++)
		for (unsigned n = 0; n < N; n++) {
			x->fit[c * N + n] = cell_fits(s, x->d, x->cap, n, &x->req[c], c);
			x->fits_every_cell[n] &= x->fit[c * N + n];
			if (x->fit[c * N + n])
				nodes_add(&x->fit_set[c * W], n);
		}
	/* Cells largest first, then by number. */
	for (unsigned c = 0; c < ncells; c++)
		x->by_size[c] = c;
	for (unsigned i = 1; i < ncells; i++)
		for (unsigned j = i; j > 0 && x->req[x->by_size[j]].vcpus > x->req[x->by_size[j - 1]].vcpus;
		     j--) {
			unsigned tmp = x->by_size[j];

			x->by_size[j] = x->by_size[j - 1];
			x->by_size[j - 1] = tmp;
		}
	nodes_by_room(x->cap, N, false, key, x->by_room);
	/* Nodes as close join an anchor's prefix most room first; but for a guest with an odd
	 * cell, first the nodes where it would fill a free sibling (see breaks_core()). */
	x->joining = x->by_room;
	for (unsigned c = 0; c < ncells; c++)
		odd_cells |= pairs_matter(s, x->d) && x->req[c].vcpus % 2;
	if (odd_cells) {
		x->joining = odd_order;
		nodes_by_room(x->cap, N, true, key, x->joining);
	}
	return 0;
}

/* Grow anchor a's prefix until every cell can be matched to its own node: its length, or N
 * when no prefix does. ret_mask: the allowed nodes (N <= 64); ret_fit_all: how many of them
 * take every cell. */
static unsigned
distinct_prefix(struct distinct *x, unsigned a, uint64_t *ret_mask, unsigned *ret_fit_all)
{
	unsigned N = x->N, ncells = x->ncells, len;
	unsigned fit_all = 0, unreached = ncells, ordered = 0, next_class = 0;
	uint64_t mask = 0;

	memset(x->allowed, 0, node_words(N) * sizeof(uint64_t));
	memset(x->reach, 0, ncells * sizeof(unsigned));
	for (unsigned c = 0; c < ncells; c++)
		x->fixed[c] = -1;
	matching_reset(&x->m, N);
	for (len = 0; len < N; len++) {
		unsigned n;

		if (len == ordered)
			ordered = order_class(x->s, a, x->joining, next_class++, x->order, ordered);
		n = x->order[len];
		nodes_add(x->allowed, n);
		mask |= N <= 64 ? UINT64_C(1) << n : 0;
		/* Enough nodes that take every cell make a matching without searching; a cell
		 * that no allowed node takes leaves none to search for. */
		fit_all += x->fits_every_cell[n];
		for (unsigned c = 0; c < ncells; c++)
			if (x->fit[c * N + n] && x->reach[c]++ == 0)
				unreached--;
		if (len + 1 >= ncells &&
		    (fit_all >= ncells || (!unreached && matching_grow(&x->m))))
			break;
	}
	*ret_mask = mask;
	*ret_fit_all = fit_all;
	return len;
}

/*
 * Fix the cells, largest first, on the allowed node with the most room (fullest: the least)
 * that still leaves the other cells a matching: candidates in that order, the first that keeps a full matching
 * wins. fit_all: allowed nodes that take every cell. ret_left: the room the set leaves;
 * ret_even: its cells that break no whole core (breaks_core()).
 */
static int
distinct_fix(struct distinct *x, unsigned fit_all, bool fullest, unsigned long *ret_left,
	     unsigned *ret_even)
{
	const struct demand *d = x->d;
	unsigned N = x->N, ncells = x->ncells, even = 0;
	unsigned spare = fit_all;	/* free allowed nodes that take every cell */
	unsigned long left = 0;

	memset(x->node_used, 0, N * sizeof(bool));
	for (unsigned i = 0; i < ncells; i++) {
		unsigned c = x->by_size[i];
		int pick = -1;

		/* most room first (fullest: least first); ties keep node order */
		for (unsigned k = 0; k < N && pick < 0; k++) {
			unsigned n = x->by_room[fullest ? N - 1 - k : k];

			if (!nodes_has(x->allowed, n) || !x->fit[c * N + n] || x->node_used[n])
				continue;
			x->fixed[c] = (int)n;
			/* The last cell needs no check: its node fits it and is free; nor does any
			 * cell when enough free allowed nodes still take every cell. */
			if (i + 1 == ncells || spare - x->fits_every_cell[n] >= ncells - i - 1 ||
			    matching_complete(&x->m, x->fixed, N))
				pick = (int)n;
			x->fixed[c] = -1;
		}
		if (pick < 0)
			return -EINVAL; /* cannot happen: the prefix had a full matching */
		x->fixed[c] = pick;
		x->node_used[pick] = true;
		spare -= x->fits_every_cell[pick];
		left += x->cap[pick] - x->req[c].vcpus;
		even += !breaks_core(x->s, d, x->cap, (unsigned)pick,
				     x->req[c].vcpus +
					     (c == 0 && d->emulator_isolate ? d->emulator_units : 0));
	}
	*ret_left = left;
	*ret_even = even;
	return 0;
}

/* The best set so far, and how it was judged. */
struct distinct_best {
	int *node_of;
	unsigned long dist, left;
	unsigned useful, memory, largest, even, devices;
	bool judged;
};

/*
 * Is the candidate x->fixed better than the best so far? What stays useful first (a nearer set
 * that breaks the last nodes a recent request needs loses to a farther one that keeps them);
 * then closest; then the biggest hole kept; then the fewest whole cores broken; then the
 * cells' memory per vcpu nearest their nodes' (memory_mismatch()); then the least room left
 * (best fit, so whole nodes stay whole); then, for a guest asking for no device, the fewest
 * free devices on its nodes, kept for the guests that ask.
 */
static int
distinct_judge(struct distinct *x, struct outlook *o, struct distinct_best *b,
	       unsigned long left, unsigned even, bool useful_first, unsigned *cap_after,
	       uint64_t *mem_after)
{
	const struct solver *s = x->s;
	unsigned long dist = set_distance(s->t, x->fixed, x->ncells);
	unsigned useful, memory, largest, devices = 0;

	/* An anchor's set farther than the best loses, a closer one wins, both unjudged. */
	if (!useful_first && b->dist != ULONG_MAX && dist > b->dist)
		return 0;
	if (x->d->spare_devices)
		for (unsigned c = 0; c < x->ncells; c++)
			devices += devices_free_on(s, (unsigned)x->fixed[c]);
	if (!useful_first && (b->dist == ULONG_MAX || dist < b->dist)) {
		*b = (struct distinct_best){b->node_of, dist, left, 0, 0, 0, even, devices, false};
		memcpy(b->node_of, x->fixed, x->ncells * sizeof(int));
		return 0;
	}
	if (!o->takers && outlook_init(s, x->d, x->cap, x->ncells, o) < 0)
		return -ENOMEM;
	if (!b->judged) {
		judge_set(s, x->d, x->cap, x->req, o, x->by_room, b->node_of, x->ncells, cap_after,
			  mem_after, &b->useful, &b->memory, &b->largest);
		b->judged = true;
	}
	/* A farther set than one that keeps every recent request fitting loses unjudged. */
	if (dist > b->dist && b->useful == o->most_useful)
		return 0;
	judge_set(s, x->d, x->cap, x->req, o, x->by_room, x->fixed, x->ncells, cap_after,
		  mem_after, &useful, &memory, &largest);
	if (useful != b->useful ? useful > b->useful :
	    dist != b->dist ? dist < b->dist :
	    largest != b->largest ? largest > b->largest :
	    even != b->even ? even > b->even :
	    memory != b->memory ? memory < b->memory :
	    left != b->left ? left < b->left : devices < b->devices) {
		*b = (struct distinct_best){b->node_of, dist, left, useful, memory, largest, even,
					    devices, true};
		memcpy(b->node_of, x->fixed, x->ncells * sizeof(int));
	}
	return 0;
}

/*
 * Distinct nodes for several cells. For each anchor node, grow the prefix of nodes ordered by
 * distance from it until every cell can be matched to its own node; then fix cells largest
 * first on the node of the prefix with the most room, as long as the rest can still be
 * matched, so big cells land apart; and one set more, packed (each cell on the fullest node
 * that takes it). The set that keeps the most recent requests fitting wins, then the closest,
 * then by what it leaves (see distinct_judge()).
 */
int
choose_distinct(const struct solver *s, const struct demand *d, const unsigned *cap,
		const struct cell_req *req, unsigned ncells, int *ret_node_of)
{
	unsigned N = s->t->nnodes, nseen = 0;
	struct distinct x = {.s = s, .d = d, .cap = cap, .req = req, .ncells = ncells, .N = N};
	struct distinct_best best = {.dist = ULONG_MAX, .left = ULONG_MAX};
	unsigned *cap_after = scratch_new(s, ncells, unsigned);
	uint64_t *mem_after = scratch_new(s, ncells, uint64_t);
	uint64_t *seen_sets = scratch_new(s, N, uint64_t);
	struct outlook o = {0};
	int r;

	best.node_of = scratch_new(s, ncells, int);
	if (!best.node_of || !cap_after || !mem_after || !seen_sets || distinct_init(&x) < 0)
		return -ENOMEM;
	for (unsigned a = 0; a < N; a++) {
		unsigned long left;
		unsigned even, fit_all;
		uint64_t mask;	/* the allowed nodes, when N <= 64 */
		bool anchor_useful = false;

		for (unsigned c = 0; c < ncells; c++)
			anchor_useful |= x.fit[c * N + a];
		if (!anchor_useful || distinct_prefix(&x, a, &mask, &fit_all) == N)
			continue;
		/* The same node set as an earlier anchor's decides the same way: skip it. */
		if (N <= 64) {
			bool seen = false;

			for (unsigned k = 0; k < nseen && !seen; k++)
				seen = seen_sets[k] == mask;
			if (seen)
				continue;
			seen_sets[nseen++] = mask;
		}
		r = distinct_fix(&x, fit_all, false, &left, &even);
		if (r == 0)
			r = distinct_judge(&x, &o, &best, left, even, false, cap_after, mem_after);
		if (r < 0)
			return r;
	}
	/* One candidate more, as Nova's packing mode would choose: every node allowed, each cell
	 * on the fullest node that takes it. It may be farther than the anchors' sets, and wins
	 * only when it keeps more of the recent requests fitting (distinct_judge()): it is not
	 * made when the best set keeps them all. */
	if (best.dist != ULONG_MAX && !o.takers && outlook_init(s, d, cap, ncells, &o) < 0)
		return -ENOMEM;
	if (best.dist != ULONG_MAX && !best.judged) {
		judge_set(s, d, cap, req, &o, x.by_room, best.node_of, ncells, cap_after, mem_after,
			  &best.useful, &best.memory, &best.largest);
		best.judged = true;
	}
	if (best.dist != ULONG_MAX && best.useful < o.most_useful) {
		unsigned long left;
		unsigned even, fit_all = 0;

		for (unsigned n = 0; n < N; n++) {
			nodes_add(x.allowed, n);
			fit_all += x.fits_every_cell[n];
		}
		for (unsigned c = 0; c < ncells; c++)
			x.fixed[c] = -1;
		r = distinct_fix(&x, fit_all, true, &left, &even);
		if (r == 0 && memcmp(x.fixed, best.node_of, ncells * sizeof(int)))
			r = distinct_judge(&x, &o, &best, left, even, true, cap_after, mem_after);
		if (r < 0)
			return r;
	}
	if (best.dist == ULONG_MAX)
		return -ENOSPC;
	memcpy(ret_node_of, best.node_of, ncells * sizeof(int));
	return 0;
}

bool
cells_fit_somewhere(const struct solver *s, const struct demand *d, const unsigned *cap,
		    const struct cell_req *req, unsigned ncells)
{
	for (unsigned c = 0; c < ncells; c++) {
		bool any = false;

		for (unsigned n = 0; n < s->t->nnodes && !any; n++)
			any = cell_fits(s, d, cap, n, &req[c], c);
		if (!any)
			return false;
	}
	return true;
}

/* Shared vcpus the node's pool takes besides those already there. */
static long
pool_room(const struct solver *s, unsigned n)
{
	return (long)pool_vcpus(s, node_pool_size(s, n)) - (long)s->shared_vcpus[n];
}

/* 0: the node has shared guests already; 1: it has none. */
static int
shared_rank(const struct solver *s, unsigned n)
{
	return s->shared_vcpus[n] ? 0 : 1;
}

/* One cell: the node it fills best (dedicated), or for a shared cell the pool it joins. */
int
choose_one(const struct solver *s, const struct demand *d, const unsigned *cap,
	   const struct cell_req *req, int *ret_node)
{
	struct outlook o = {0};
	unsigned up = 0, lp = 0, mp = 0;
	bool judged = false;
	int pick = -1;

	for (unsigned n = 0; n < s->t->nnodes; n++) {
		if (!cell_fits(s, d, cap, n, req, 0))
			continue;
		if (pick < 0) {
			pick = (int)n;
		} else if (d->cpu == TMAP_CPU_SHARED) {
			/* Join the fullest node that has shared guests, so shared guests
			 * multiplex over few pools and the PUs they keep from dedicated guests
			 * (pool_need()) stay on few nodes; else start where there is most room. */
			int rank_n = shared_rank(s, n);
			int rank_p = shared_rank(s, (unsigned)pick);

			if (rank_n != rank_p ? rank_n < rank_p :
			    rank_n == 0 ? pool_room(s, n) < pool_room(s, (unsigned)pick) :
					  cap[n] > cap[pick] || (cap[n] == cap[pick] &&
								 s->mem_free[n] > s->mem_free[pick]))
				pick = (int)n;
		} else {
			unsigned un, ln, mn;
			unsigned need = req->vcpus + (d->emulator_isolate ? d->emulator_units : 0);

			if (!judged) {
				if (outlook_init(s, d, cap, 1, &o) < 0)
					return -ENOMEM;
				outlook_after(s, d, cap, req, &o, (unsigned)pick, &up, &lp);
				mp = memory_mismatch(&o, req, cap, (unsigned)pick);
				judged = true;
			}
			outlook_after(s, d, cap, req, &o, n, &un, &ln);
			mn = memory_mismatch(&o, req, cap, n);
			/* What stays useful; then the biggest hole kept, when the holes are far
			 * apart; then the node whose memory per unit is nearest the cell's; then
			 * the node where no whole core breaks; then the biggest hole kept by
			 * its power of two; then the least room (best fit: the fullest node
			 * that takes the cell, so the others stay whole for big cells, as
			 * Nova's packing mode keeps them); then, for a guest asking for no
			 * device, the fewest free devices kept from the guests that will. */
			bool en = !breaks_core(s, d, cap, n, need);
			bool ep = !breaks_core(s, d, cap, (unsigned)pick, need);

			if (un != up ? un > up :
			    far_apart(ln, lp) ? ln > lp :
			    mn != mp ? mn < mp :
			    en != ep ? en :
			    size_class(ln) != size_class(lp) ? ln > lp :
			    cap[n] != cap[pick] ? cap[n] < cap[pick] :
			    d->free[n] != d->free[pick] ? d->free[n] > d->free[pick] :
			    d->spare_devices &&
				    devices_free_on(s, n) < devices_free_on(s, (unsigned)pick)) {
				pick = (int)n;
				up = un;
				lp = ln;
				mp = mn;
			}
		}
	}
	if (pick < 0)
		return -ENOSPC;
	*ret_node = pick;
	return 0;
}

/* More cells than nodes with CPUs: cells share nodes, each to the node with most capacity
 * left, nearest to cell 0's node on ties. */
int
choose_shared_nodes(const struct solver *s, const struct demand *d, const unsigned *cap,
		    const struct cell_req *req, unsigned ncells, int *node_of)
{
	const struct tmap_topology *t = s->t;
	unsigned *left = scratch_new(s, t->nnodes, unsigned);
	uint64_t *mem = scratch_new(s, t->nnodes, uint64_t);

	if (!left || !mem)
		return -ENOMEM;
	memcpy(left, cap, t->nnodes * sizeof(unsigned));
	for (unsigned n = 0; n < t->nnodes; n++)
		mem[n] = node_memory(s, n, d);
	for (unsigned c = 0; c < ncells; c++) {
		unsigned need = req[c].vcpus + (c == 0 && d->emulator_isolate ? d->emulator_units : 0);
		int pick = -1;

		for (unsigned n = 0; n < t->nnodes; n++) {
			if (t->nodes[n].cpuless || mem[n] < req[c].memory_mib ||
			    (d->cell_nodes && !d->cell_nodes[c * t->nnodes + n]) ||
			    (d->cpu == TMAP_CPU_SHARED ? left[n] == 0 : left[n] < need))
				continue;
			if (pick < 0 || left[n] > left[pick] ||
			    (left[n] == left[pick] && c > 0 &&
			     topo_distance(t, (unsigned)node_of[0], n) <
				     topo_distance(t, (unsigned)node_of[0], (unsigned)pick)))
				pick = (int)n;
		}
		if (pick < 0)
			return -ENOSPC;
		node_of[c] = pick;
		if (d->cpu != TMAP_CPU_SHARED)
			left[pick] -= need;
		mem[pick] -= req[c].memory_mib;
	}
	return 0;
}
