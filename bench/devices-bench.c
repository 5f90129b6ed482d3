/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * devices-bench: how long a decision takes when guests ask for devices (issue 16), on the
 * device fixtures the tests generate (tests/data/dev-*.xml). A stream of guests of 1 to 8
 * vcpus, each asking for one device (by name, PF or class, policy required, root or socket),
 * placed in turn, the oldest leaving when one does not fit; each guest's decision is timed
 * with tmap_host_fit() (the decision alone) and then placed. Prints a Markdown table: the
 * median and the largest decision in microseconds, with and without the device requests.
 *
 *   devices-bench [DATA_DIR]      (default: tests/data)
 *
 * A benchmark, not a test: nothing in `meson test` runs it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <topomap/topomap.h>

#define GUESTS 2000
#define KEEP 64

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct result {
	double median_us, max_us;
	unsigned placed;
};

static int
run(const struct tmap_topology *t, const char *const *asks, size_t nasks, struct result *res)
{
	static double times[GUESTS];
	char names[KEEP][16];
	struct tmap_host *h = NULL;
	struct tmap_error err = {0};
	unsigned seed = 1, oldest = 0, live = 0;

	if (tmap_host_new(t, NULL, &h, &err) < 0) {
		fprintf(stderr, "devices-bench: %s\n", err.message);
		return -1;
	}
	res->placed = 0;
	for (unsigned i = 0; i < GUESTS; i++) {
		struct tmap_guest *g = NULL;
		char name[16];
		double t0;
		int r;

		seed = seed * 1103515245u + 12345u;
		snprintf(name, sizeof(name), "g%u", i);
		if (tmap_guest_new(name, 1 + (seed >> 16) % 8, &g, &err) < 0 ||
		    (asks && tmap_guest_add_device(g, asks[(seed >> 8) % nasks], &err) < 0)) {
			fprintf(stderr, "devices-bench: %s\n", err.message);
			return -1;
		}
		t0 = now_us();
		r = tmap_host_fit(h, g, &err);
		times[i] = now_us() - t0;
		if (r == 0 && tmap_host_place(h, g, NULL, &err) == 0) {
			res->placed++;
			snprintf(names[live++ % KEEP], 16, "%s", name);
		} else if (oldest < live) {
			tmap_host_release(h, names[oldest++ % KEEP]);
		}
		if (live - oldest >= KEEP)
			tmap_host_release(h, names[oldest++ % KEEP]);
		tmap_guest_free(g);
	}
	qsort(times, GUESTS, sizeof(times[0]), cmp_double);
	res->median_us = times[GUESTS / 2];
	res->max_us = times[GUESTS - 1];
	tmap_host_free(h);
	return 0;
}

int
main(int argc, char *argv[])
{
	static const char *const asks[] = {
		"class=network", "class=gpu,policy=socket", "class=storage,policy=root",
		"vf_of=eth2", "vf_of=eth1", "net=eth3", "net=eth0,policy=preferred",
	};
	static const char *const fixtures[] = {"dev-2s-sriov.xml", "dev-4n-cpuless.xml",
					       "dev-4n-even.xml"};
	const char *dir = argc > 1 ? argv[1] : "tests/data";

	printf("| fixture | devices | guests | median decision µs (with / without devices) | max µs (with / without) | placed (with / without) |\n");
	printf("| --- | --- | --- | --- | --- | --- |\n");
	for (size_t f = 0; f < sizeof(fixtures) / sizeof(fixtures[0]); f++) {
		struct tmap_topology *t = NULL;
		struct tmap_error err = {0};
		struct result with, without;
		char path[4096];

		snprintf(path, sizeof(path), "%s/%s", dir, fixtures[f]);
		if (tmap_topology_new_xml(path, 0, &t, &err) < 0) {
			fprintf(stderr, "devices-bench: %s\n", err.message);
			return 1;
		}
		/* A request that names a device this host lacks is refused in every decision:
		 * ask only for what the fixture has. */
		{
			const char *mine[sizeof(asks) / sizeof(asks[0])];
			size_t n = 0;

			for (size_t a = 0; a < sizeof(asks) / sizeof(asks[0]); a++) {
				struct tmap_host *h = NULL;
				struct tmap_guest *g = NULL;

				if (tmap_host_new(t, NULL, &h, &err) == 0 &&
				    tmap_guest_new("probe", 1, &g, &err) == 0 &&
				    tmap_guest_add_device(g, asks[a], &err) == 0 &&
				    tmap_host_fit(h, g, &err) == 0)
					mine[n++] = asks[a];
				tmap_guest_free(g);
				tmap_host_free(h);
			}
			if (run(t, mine, n, &with) < 0 || run(t, NULL, 0, &without) < 0)
				return 1;
		}
		printf("| %s | %zu | %d | %.2f / %.2f | %.1f / %.1f | %u / %u |\n", fixtures[f],
		       tmap_topology_device_count(t), GUESTS, with.median_us, without.median_us,
		       with.max_us, without.max_us, with.placed, without.placed);
		tmap_topology_free(t);
	}
	return 0;
}
