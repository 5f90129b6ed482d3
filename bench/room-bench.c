/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * How long making room takes (issue 18: within 10 ms at 512 PUs).
 *
 *   room-bench [CASES] [HOST]   CASES fragmented hosts (default 200) of HOST, an hwloc
 *                               synthetic description (default a 512-PU host of 8 nodes
 *                               with SMT)
 *
 * Each case: the host filled with guests of 1 to 8 vcpus from a seed, 40 % of them released,
 * then a guest of one cell of 8 to 24 vcpus that does not fit as the host stands; only the
 * call to tmap_host_make_room() is timed. Prints the median, 95th percentile and worst time,
 * how many were admitted and their moves. A benchmark, not a timed test.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <topomap/topomap.h>

#define DEFAULT_HOST "pack:4 numa:2(memory=256GiB) l3:1 core:32 pu:2"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct tmap_guest *
new_guest(const char *name, unsigned vcpus, unsigned seed, bool one_cell)
{
	struct tmap_guest *g = NULL;
	char cpus[32];

	if (tmap_guest_new(name, vcpus, &g, NULL) < 0)
		return NULL;
	tmap_guest_set_memory_mib(g, 1024 * (1 + seed % 8));
	if (vcpus % 2 == 0 && seed % 5 == 0)
		tmap_guest_set_topology(g, 1, vcpus / 2, 2);
	if (one_cell) {
		snprintf(cpus, sizeof(cpus), "0-%u", vcpus - 1);
		tmap_guest_add_cell(g, cpus, 0, NULL);
	}
	return g;
}

/* A fragmented host of this seed, and a guest that does not fit it; 0, or -1 when the seed
 * gives none. */
static int
make_case(const struct tmap_topology *t, unsigned seed, struct tmap_host **ret_h,
	  struct tmap_guest **ret_g)
{
	struct tmap_solve_options o = TMAP_SOLVE_OPTIONS_INIT;
	struct tmap_host *h = NULL;
	unsigned misses = 0;
	char name[32];

	o.flags = TMAP_SOLVE_NO_SPREAD;
	if (tmap_host_new(t, &o, &h, NULL) < 0)
		return -1;
	for (unsigned i = 0; misses < 8 && i < 1000; i++) {
		struct tmap_guest *g;

		snprintf(name, sizeof(name), "g%u", i);
		g = new_guest(name, 1 + (unsigned)rand_r(&seed) % 8, (unsigned)rand_r(&seed), true);
		if (!g || tmap_host_place(h, g, NULL, NULL) < 0)
			misses++;
		tmap_guest_free(g);
	}
	for (size_t i = tmap_host_guest_count(h); i-- > 0;)
		if (rand_r(&seed) % 10 < 3)
			tmap_host_release(h, tmap_host_guest_name(h, i));
	for (unsigned tries = 0; tries < 50; tries++) {
		struct tmap_guest *g = new_guest("new", 16 + (unsigned)rand_r(&seed) % 33,
						 (unsigned)rand_r(&seed), true);

		if (g && tmap_host_fit(h, g, NULL) == -ENOSPC) {
			*ret_h = h;
			*ret_g = g;
			return 0;
		}
		tmap_guest_free(g);
	}
	tmap_host_free(h);
	return -1;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int
main(int argc, char *argv[])
{
	unsigned cases = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 200;
	const char *src = argc > 2 ? argv[2] : DEFAULT_HOST;
	struct tmap_topology *t = NULL;
	struct tmap_error err = {0};
	double *ms = calloc(cases ? cases : 1, sizeof(*ms));
	unsigned n = 0, admitted = 0, optimal = 0, moves = 0;

	if (!ms || tmap_topology_new_synthetic(src, 0, &t, &err) < 0) {
		fprintf(stderr, "room-bench: %s\n", err.message);
		return 1;
	}
	for (unsigned seed = 1; n < cases && seed < cases * 4; seed++) {
		struct tmap_host *h;
		struct tmap_guest *g;
		struct tmap_plan *plan = NULL;
		double t0;
		int r;

		if (make_case(t, seed, &h, &g) < 0)
			continue;
		t0 = now();
		r = tmap_host_make_room(h, g, NULL, &plan, NULL);
		ms[n++] = (now() - t0) * 1e3;
		if (r == 0) {
			admitted++;
			moves += (unsigned)tmap_plan_move_count(plan);
			optimal += tmap_plan_move_bound(plan, NULL) == 1;
		}
		tmap_plan_free(plan);
		tmap_guest_free(g);
		tmap_host_free(h);
	}
	if (n == 0) {
		fprintf(stderr, "room-bench: no case where a guest does not fit\n");
		return 1;
	}
	qsort(ms, n, sizeof(*ms), cmp_double);
	printf("host: %s\ncases: %u, admitted %u (%u proved optimal), %.1f moves on average\n"
	       "time per tmap_host_make_room(): median %.2f ms, 95th percentile %.2f ms, worst %.2f ms\n",
	       src, n, admitted, optimal, admitted ? (double)moves / admitted : 0.0, ms[n / 2],
	       ms[n * 95 / 100 < n ? n * 95 / 100 : n - 1], ms[n - 1]);
	free(ms);
	tmap_topology_free(t);
	return 0;
}
