/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Making room and rebalancing, the tests' own: hosts and guests built in a line, and the
 * validity of a host after moves (no PU held twice, memory within each node, every guest's
 * cells on one node each, its SMT groups and whole cores kept, pinned and shared guests
 * untouched).
 */
#ifndef TOPOMAP_TESTS_ROOMCHECK_H
#define TOPOMAP_TESTS_ROOMCHECK_H

#include "solver-room.h"

/* A guest of vcpus and MiB; one_cell(): with one explicit cell, so it must fit one node. */
struct tmap_guest *guest(const char *name, unsigned vcpus, uint64_t mib);
struct tmap_guest *one_cell(const char *name, unsigned vcpus, uint64_t mib);
/* Place g on h (or fail the test) and free it. */
void place(struct tmap_host *h, struct tmap_guest *g);
struct tmap_host *host_new(const struct tmap_topology *t, uint32_t flags);

/* The placed guests' plans, copied. */
struct picture {
	size_t n;
	struct plan_guest *pg;
};

void picture_take(const struct tmap_host *h, struct picture *p);
void picture_clear(struct picture *p);
const struct plan_guest *picture_find(const struct picture *p, const char *name);
/* One guest after the moves, against itself before. */
void check_guest(const struct tmap_topology *t, const struct plan_guest *after,
		 const struct plan_guest *before);
/* Every guest of h adopted again by a fresh host, each against its picture before. */
void check_host(const struct tmap_topology *t, const struct tmap_host *h,
		const struct picture *before, uint32_t flags);

#endif
