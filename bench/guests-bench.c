/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * How long reading N guests takes (issue 14: it was quadratic, 100,000 guests in 29-44 s).
 *
 *   guests-bench [N]      N guests (default 100,000) in one JSON array, parsed once
 *
 * Prints the document's size and the time tmap_guests_parse_json() took, twice N for the
 * growth (O(N log N) reads about 2.1 times the time for twice the guests, O(N^2) 4 times).
 * A benchmark, not a timed test.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <topomap/topomap.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* N guests as users write them: names, sizes, a policy, some with cells and QoS. */
static char *
guests_text(unsigned long n, size_t *ret_len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, ret_len);

	if (!f)
		return NULL;
	fputc('[', f);
	for (unsigned long i = 0; i < n; i++) {
		fprintf(f, "%s\n{\"name\":\"vm-%06lu\",\"vcpus\":%lu,\"memory_mib\":%lu", i ? "," : "",
			i, 2 + 2 * (i % 4), 1024 * (1 + i % 8));
		if (i % 3 == 0)
			fputs(",\"cpu_policy\":\"shared\",\"qos\":{\"shares\":512}", f);
		if (i % 5 == 0)
			fprintf(f, ",\"cells\":[{\"cpus\":\"0-%lu\"},{\"cpus\":\"%lu-%lu\"}]", i % 4,
				i % 4 + 1, 1 + 2 * (i % 4));
		fputc('}', f);
	}
	fputs("\n]\n", f);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

static int
run(unsigned long n)
{
	struct tmap_guests *guests = NULL;
	struct tmap_error err = {0};
	size_t len = 0;
	char *text = guests_text(n, &len);
	double t0;
	int r;

	if (!text || tmap_guests_new(&guests) < 0) {
		fprintf(stderr, "guests-bench: out of memory\n");
		return -ENOMEM;
	}
	t0 = now();
	r = tmap_guests_parse_json(guests, text, len, "bench.json", &err);
	if (r < 0)
		fprintf(stderr, "guests-bench: %s\n", err.message);
	else
		printf("%8lu guests  %6.1f MiB  parsed in %.3f s\n", n, (double)len / (1 << 20),
		       now() - t0);
	tmap_guests_free(guests);
	free(text);
	return r;
}

int
main(int argc, char **argv)
{
	unsigned long n = 100000;
	char *end;

	if (argc > 2 || (argc == 2 && (n = strtoul(argv[1], &end, 10), *end || n == 0 ||
				       n > 10000000))) {
		fprintf(stderr, "usage: guests-bench [N]   (1 to 10,000,000 guests)\n");
		return 2;
	}
	if (run(n / 2) < 0 || run(n) < 0)
		return 1;
	return 0;
}
