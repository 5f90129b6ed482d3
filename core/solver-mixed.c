/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cpu_policy mixed (issue 21, Nova's hw:cpu_policy=mixed): each cell's dedicated vcpus follow
 * the dedicated rules (thread policy, capacity in free PUs, alloc_cell()), its other vcpus
 * float over the shared pool of the cell's node exactly as a shared cell does (shared_cell(),
 * pool_vcpus()), so they count against the pool's overcommit with the shared guests', and
 * Nova's rule holds for them: a cell's shared vcpus are no more than the node's pool PUs.
 *
 * A decision sees a mixed cell as a dedicated one of its dedicated vcpus (struct cell_req's
 * vcpus) that also needs room for `shared` vcpus in its node's pool (mixed_fits(), from
 * cell_fits()), so every chooser of nodes weighs both parts without knowing of them.
 */
#include "solver.h"

/* Split each resolved cell of a mixed guest into its dedicated vcpus (req[c].vcpus) and its
 * shared ones (req[c].shared). The cells' vcpu sets are resolved here: a mixed guest needs
 * them to count. */
int
mixed_requests(const struct tmap_guest *g, struct guest_cells *cells, struct cell_req *req)
{
	int r = guest_cells_vcpus(g, cells);

	if (r < 0)
		return r;
	for (unsigned c = 0; c < cells->n; c++) {
		unsigned own = 0, rt = 0, v;

		hwloc_bitmap_foreach_begin(v, cells->vcpus[c])
		{
			own += hwloc_bitmap_isset(g->dedicated, v);
			rt += g->realtime && hwloc_bitmap_isset(g->realtime, v);
		}
		hwloc_bitmap_foreach_end();
		req[c].vcpus = own;
		req[c].realtime = rt;
		req[c].shared = cells->nvcpus[c] - own;
	}
	return 0;
}

/* PUs of node n's pool left once a cell's dedicated part took `need` of this guest's units:
 * a given pool is apart from them; else the pool is the free PUs they come out of, and the
 * siblings its realtime vcpus hold empty (whole cores, solver-realtime.c) come out too. */
static unsigned
pool_left(const struct solver *s, const struct demand *d, unsigned n, const struct cell_req *req,
	  unsigned need)
{
	unsigned pus = node_pool_size(s, n), used = need, threads = s->t->max_threads;

	if (s->fixed_pool)
		return pus;
	if (d->policy == TMAP_THREAD_ISOLATE && threads > 1)
		used = need * threads;
	else if (req->realtime && threads > 1)
		used += (req->realtime + threads - 1) / threads * threads - req->realtime;
	return pus > used ? pus - used : 0;
}

/* Does the shared part of a mixed cell fit node n's pool beside its dedicated part? */
bool
mixed_fits(const struct solver *s, const struct demand *d, unsigned n, const struct cell_req *req,
	   unsigned need)
{
	unsigned pus;

	if (req->shared == 0)
		return true;
	pus = pool_left(s, d, n, req, need);
	return req->shared <= pus && s->shared_vcpus[n] + req->shared <= pool_vcpus(s, pus);
}

/*
 * A mixed cell on node n: the vcpus of `dedicated` among `vcpus` on PUs of their own as
 * alloc_cell() places a dedicated cell's (vcpu_pu[v] for each), then its `shared` other vcpus
 * over the node's pool as it stands after them, into ret_pool unless NULL (shared_cell()).
 */
int
mixed_cell(struct solver *s, unsigned n, const struct demand *d, hwloc_const_bitmap_t vcpus,
	   hwloc_const_bitmap_t dedicated, unsigned shared, unsigned *vcpu_pu, hwloc_bitmap_t held,
	   int *l3, hwloc_bitmap_t ret_pool)
{
	_cleanup_bitmap_ hwloc_bitmap_t own = hwloc_bitmap_alloc();
	int r = 0;

	if (!own)
		return -ENOMEM;
	hwloc_bitmap_and(own, vcpus, dedicated);
	if (!hwloc_bitmap_iszero(own))
		r = alloc_cell(s, n, d, own, vcpu_pu, held, l3);
	if (r == 0 && shared)
		r = shared_cell(s, n, shared, ret_pool);
	return r;
}

/* Cell c's shared part does not fit node n (the best there is, or the node asked): the
 * error, -ENOSPC. */
int
mixed_refuse(const struct solver *s, const struct demand *d, unsigned n, const struct cell_req *req,
	     unsigned c, unsigned need, bool asked)
{
	unsigned pus = pool_left(s, d, n, req, need);

	return tmap_error_set(s->err, -ENOSPC,
			      "%s: cell %u has %u shared vcpus beside its %u dedicated ones; %s node %u, keeps %u pool PUs and its shared vcpus are %u of %u (%g per pool PU; a cell's shared vcpus are no more than the pool's PUs)",
			      d->name, c, req->shared, req->vcpus,
			      asked ? "the node asked," :
				      "no node with room for those takes them in its shared pool: the best,",
			      s->t->nodes[n].os_index, pus, s->shared_vcpus[n], pool_vcpus(s, pus),
			      s->cpu_ratio);
}

/*
 * Why a mixed guest does not fit when a cell's dedicated part has room somewhere and its
 * shared part does not: the error, -ENOSPC, naming the node that came closest. 0 when that
 * is not why (no_fit() goes on to say what is).
 */
int
mixed_no_fit(const struct solver *s, const struct demand *d, const unsigned *cap,
	     const struct cell_req *req, unsigned ncells)
{
	const struct tmap_topology *t = s->t;

	for (unsigned c = 0; c < ncells; c++) {
		unsigned need = req[c].vcpus + (c == 0 && d->emulator_isolate ? d->emulator_units : 0);
		int best = -1;
		unsigned best_pus = 0;
		bool fits = false;

		for (unsigned n = 0; n < t->nnodes && !fits; n++) {
			unsigned pus;

			if (t->nodes[n].cpuless || cap[n] < need ||
			    node_memory(s, n, d) < req[c].memory_mib)
				continue;
			fits = mixed_fits(s, d, n, &req[c], need);
			pus = pool_left(s, d, n, &req[c], need);
			if (best < 0 || pus > best_pus) {
				best = (int)n;
				best_pus = pus;
			}
		}
		if (!fits && best >= 0)
			return mixed_refuse(s, d, (unsigned)best, &req[c], c, need, false);
	}
	return 0;
}
