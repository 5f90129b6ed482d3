/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * JSON hosts made by a generator, not by byte mutations: the input's bytes choose how many
 * nodes (up to 5,119, past the 1,024 limit), their ids, cores lists and PUs, the hugepage
 * pools and a distance matrix (square or not), and where to put a wrong value: a duplicate key, a null, a
 * string for a number, a negative or a huge number. Byte mutations of a JSON file rarely make
 * thousands of well-formed nodes; this does so every run.
 */
#include <topomap/topomap.h>

#include "fuzz-common.h"

/* Mostly the plain value; sometimes one a loader must refuse. */
static void
number(struct fuzz_gen *g, unsigned long long plain)
{
	switch (fuzz_more(g) ? fuzz_take(g, 8) & 0x3f : 0) {
	case 1:
		fprintf(g->out, "\"%llu\"", plain);
		break;
	case 2:
	case 3:
		fuzz_wrong_value(g);
		break;
	default:
		fprintf(g->out, "%llu", plain);
	}
}

/* Sometimes a key given a second time, as users' tools write them by mistake. */
static void
maybe_duplicate(struct fuzz_gen *g, const char *key)
{
	if ((fuzz_take(g, 8) & 0x7f) == 0) {
		fprintf(g->out, ",\"%s\":", key);
		number(g, fuzz_take(g, 8));
	}
}

static void
generate(struct fuzz_gen *g)
{
	unsigned shape = fuzz_take(g, 16), nnodes;
	unsigned pu = 0, with_distances = fuzz_take(g, 8);

	/* Three inputs in four are small and fast; the others up to 1,100 nodes (around the
	 * 1,024 Linux numbers), and one in sixteen 1,024 to 5,119: a file of thousands. */
	if (shape & 0xc000)
		nnodes = 1 + shape % 64;
	else if ((shape & 0x3000) != 0x3000)
		nnodes = 1 + shape % 1100;
	else
		nnodes = 1024 + (shape & 0xfff);

	fputs("{\"nodes\":[", g->out);
	for (unsigned i = 0; i < nnodes; i++) {
		unsigned ncores = fuzz_take(g, 8) % 5, npages = fuzz_take(g, 8) % 3;

		fprintf(g->out, "%s{\"id\":", i ? "," : "");
		number(g, (fuzz_take(g, 8) & 0xf) == 0 ? fuzz_take(g, 16) : i);
		fputs(",\"memory_mib\":", g->out);
		number(g, (unsigned long long)fuzz_take(g, 16) << (fuzz_take(g, 8) % 40));
		fputs(",\"socket\":", g->out);
		number(g, i / (1 + fuzz_take(g, 8) % 16));
		maybe_duplicate(g, "id");
		if (ncores) {
			fputs(",\"cores\":[", g->out);
			for (unsigned c = 0; c < ncores; c++) {
				unsigned npus = 1 + fuzz_take(g, 8) % 4;

				fprintf(g->out, "%s[", c ? "," : "");
				for (unsigned k = 0; k < npus; k++) {
					fprintf(g->out, "%s", k ? "," : "");
					/* Mostly fresh PUs; sometimes one seen before, or far away. */
					number(g, (fuzz_take(g, 8) & 0x1f) == 0 ? fuzz_take(g, 16) : pu++);
				}
				fputs("]", g->out);
			}
			fputs("]", g->out);
		}
		if (npages) {
			fputs(",\"hugepages\":[", g->out);
			for (unsigned k = 0; k < npages; k++) {
				fprintf(g->out, "%s{\"size_kib\":", k ? "," : "");
				number(g, 2048u << (fuzz_take(g, 8) % 12));
				fputs(",\"count\":", g->out);
				number(g, fuzz_take(g, 16));
				fputs("}", g->out);
			}
			fputs("]", g->out);
		}
		fputs("}", g->out);
	}
	fputs("]", g->out);
	/* A matrix of up to 1,100 x 1,100: the largest read a host can ask for. */
	if (with_distances & 1) {
		/* Square only up to 1,100: 5,000 squared is 25 million numbers, too slow a run. */
		bool square = nnodes <= 1100;
		unsigned rows = with_distances & 2 && square ? nnodes : 1 + fuzz_take(g, 16) % 1100;

		fputs(",\"distances\":[", g->out);
		for (unsigned i = 0; i < rows; i++) {
			unsigned cols = with_distances & 4 && square ? nnodes : 1 + fuzz_take(g, 8);

			fprintf(g->out, "%s[", i ? "," : "");
			for (unsigned j = 0; j < cols; j++)
				fprintf(g->out, "%s%u", j ? "," : "", i == j ? 10 : 20 + (i ^ j) % 40);
			fputs("]", g->out);
		}
		fputs("]", g->out);
	}
	maybe_duplicate(g, "nodes");
	fputs("}", g->out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tmap_topology *topology = NULL;
	char *text = NULL, *json = NULL;
	size_t len = 0;

	json = fuzz_generate(data, size, generate, &len);
	if (tmap_topology_new_from_json(json, len, "gen.json", &topology, NULL) == 0) {
		/* A table of 1,000 nodes is a megabyte of distances: print the small ones. */
		if (tmap_topology_node_count(topology) <= 64 &&
		    tmap_topology_format(topology, TMAP_FORMAT_JSON, 0, &text, NULL) >= 0)
			free(text);
		tmap_topology_free(topology);
	}
	free(json);
	return 0;
}
