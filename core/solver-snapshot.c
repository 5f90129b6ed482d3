/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Snapshots of the solver's free capacity: what a trial placement, make-room's search and
 * undo put back. A snapshot holds copies of every counter struct solver keeps (taken PUs, the
 * pool, free PUs per core and their sums per node, free memory per node and per hugepage pool,
 * shared vcpus, devices).
 */
#include <stdlib.h>
#include <string.h>

#include "solver.h"

void
snapshot_clear(struct snapshot *snap)
{
	if (snap->taken)
		hwloc_bitmap_free(snap->taken);
	if (snap->pool)
		hwloc_bitmap_free(snap->pool);
	free(snap->core_free);
	free(snap->node_sums);
	free(snap->mem_free);
	free(snap->pool_free);
	free(snap->shared_vcpus);
	free(snap->shared_widest);
	free(snap->dev_taken);
	memset(snap, 0, sizeof(*snap));
}

int
snapshot_alloc(const struct tmap_topology *t, struct snapshot *snap)
{
	snap->taken = hwloc_bitmap_alloc();
	snap->pool = hwloc_bitmap_alloc();
	snap->core_free = malloc((t->ncores ? t->ncores : 1) * sizeof(unsigned));
	snap->node_sums = malloc(3 * t->nnodes * sizeof(unsigned));
	snap->mem_free = malloc(t->nnodes * sizeof(int64_t));
	/* A host without pools (most) costs no allocation more per guest. */
	snap->pool_free = t->npage_sizes ?
		malloc((size_t)t->nnodes * t->npage_sizes * sizeof(int64_t)) : NULL;
	snap->shared_vcpus = malloc(t->nnodes * sizeof(unsigned));
	snap->shared_widest = malloc(t->nnodes * sizeof(unsigned));
	snap->dev_taken = t->ndevices ? malloc(t->ndevices * sizeof(bool)) : NULL;
	if (!snap->taken || !snap->pool || !snap->core_free || !snap->node_sums || !snap->mem_free ||
	    (t->npage_sizes && !snap->pool_free) || !snap->shared_vcpus || !snap->shared_widest ||
	    (t->ndevices && !snap->dev_taken)) {
		snapshot_clear(snap);
		return -ENOMEM;
	}
	return 0;
}

/* Save the host into snap, allocated by snapshot_alloc(). */
int
snapshot_save(const struct solver *s, struct snapshot *snap)
{
	const struct tmap_topology *t = s->t;

	if (hwloc_bitmap_copy(snap->taken, s->taken) < 0 ||
	    hwloc_bitmap_copy(snap->pool, s->pool) < 0)
		return -ENOMEM;
	memcpy(snap->core_free, s->core_free, t->ncores * sizeof(unsigned));
	memcpy(snap->node_sums, s->node_sums, 3 * t->nnodes * sizeof(unsigned));
	memcpy(snap->mem_free, s->mem_free, t->nnodes * sizeof(int64_t));
	if (t->npage_sizes)
		memcpy(snap->pool_free, s->pool_free,
		       (size_t)t->nnodes * t->npage_sizes * sizeof(int64_t));
	memcpy(snap->shared_vcpus, s->shared_vcpus, t->nnodes * sizeof(unsigned));
	memcpy(snap->shared_widest, s->shared_widest, t->nnodes * sizeof(unsigned));
	if (t->ndevices)
		memcpy(snap->dev_taken, s->dev_taken, t->ndevices * sizeof(bool));
	return 0;
}

struct snapshot *
snapshot_new(const struct tmap_topology *t)
{
	struct snapshot *snap = calloc(1, sizeof(*snap));

	if (snap && snapshot_alloc(t, snap) < 0) {
		free(snap);
		return NULL;
	}
	return snap;
}

void
snapshot_free(struct snapshot *snap)
{
	if (!snap)
		return;
	snapshot_clear(snap);
	free(snap);
}

int
snapshot_take(const struct solver *s, struct snapshot *snap)
{
	int r = snapshot_alloc(s->t, snap);

	if (r == 0)
		r = snapshot_save(s, snap);
	if (r < 0)
		snapshot_clear(snap);
	return r;
}

void
snapshot_restore(struct solver *s, struct snapshot *snap)
{
	hwloc_bitmap_copy(s->taken, snap->taken);
	hwloc_bitmap_copy(s->pool, snap->pool);
	memcpy(s->core_free, snap->core_free, s->t->ncores * sizeof(unsigned));
	memcpy(s->node_sums, snap->node_sums, 3 * s->t->nnodes * sizeof(unsigned));
	memcpy(s->mem_free, snap->mem_free, s->t->nnodes * sizeof(int64_t));
	if (s->t->npage_sizes)
		memcpy(s->pool_free, snap->pool_free,
		       (size_t)s->t->nnodes * s->t->npage_sizes * sizeof(int64_t));
	memcpy(s->shared_vcpus, snap->shared_vcpus, s->t->nnodes * sizeof(unsigned));
	memcpy(s->shared_widest, snap->shared_widest, s->t->nnodes * sizeof(unsigned));
	if (s->t->ndevices)
		memcpy(s->dev_taken, snap->dev_taken, s->t->ndevices * sizeof(bool));
}
