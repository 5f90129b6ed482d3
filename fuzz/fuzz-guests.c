/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Guest specs (JSON) as users write them. Those that parse are placed on a small host, and the
 * plans written in every format: names and values from the input end up in XML and in QEMU
 * options.
 */
#include <topomap/topomap.h>

#include "fuzz-common.h"

static struct tmap_topology *host;

static void
solve_and_format(const struct tmap_guests *guests, const struct tmap_solve_options *options)
{
	static const enum tmap_format formats[] = {TMAP_FORMAT_TABLE, TMAP_FORMAT_JSON,
						   TMAP_FORMAT_LIBVIRT, TMAP_FORMAT_QEMU};
	struct tmap_plan *plan = NULL;
	char *text;

	if (tmap_solve(host, guests, options, &plan, NULL) < 0)
		return;
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (tmap_plan_format(plan, formats[i], 0, &text, NULL) >= 0)
			free(text);
	tmap_plan_free(plan);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tmap_solve_options options = TMAP_SOLVE_OPTIONS_INIT;
	struct tmap_guests *guests = NULL;
	struct tmap_error err = {0};

	/* Made once: 2 sockets, 4 nodes, SMT; never freed, still reachable at exit. */
	if (!host && tmap_topology_new_synthetic("pack:2 numa:2 core:4 pu:2", 0, &host, NULL) < 0)
		abort();
	if (tmap_guests_new(&guests) < 0)
		abort();
	if (tmap_guests_parse_json(guests, (const char *)data, size, "fuzz.json", &err) >= 0) {
		for (size_t i = 0; i < tmap_guests_count(guests); i++)
			(void)tmap_guest_validate(tmap_guests_get(guests, i), NULL);
		solve_and_format(guests, &options);
		options.flags = TMAP_SOLVE_DISTINCT_CELLS | TMAP_SOLVE_NO_SPREAD;
		options.reserve = "0,16";
		options.shared = "1,17";
		solve_and_format(guests, &options);
	}
	tmap_guests_free(guests);
	return 0;
}
