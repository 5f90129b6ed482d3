/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * An hwloc XML file handed in by a user (`--topology host.xml`). topomap checks it, hwloc
 * parses it; neither may crash on it: describe it and place a guest on it.
 */
#include <hwloc.h>
#include <stdbool.h>

#include <topomap/topomap.h>

#include "fuzz-common.h"

static void
place_one(const struct tmap_topology *topology)
{
	struct tmap_guests *guests = NULL;
	struct tmap_plan *plan = NULL;
	static const char spec[] =
		"[{\"name\":\"a\",\"vcpus\":2,\"memory_mib\":64,\"cpu_policy\":\"dedicated\"},"
		"{\"name\":\"b\",\"vcpus\":2,\"memory_mib\":64,"
		"\"cells\":[{\"cpus\":\"0\"},{\"cpus\":\"1\"}]}]";

	if (tmap_guests_new(&guests) < 0)
		abort();
	if (tmap_guests_parse_json(guests, spec, sizeof(spec) - 1, "spec", NULL) >= 0 &&
	    tmap_solve(topology, guests, NULL, &plan, NULL) >= 0)
		tmap_plan_free(plan);
	tmap_guests_free(guests);
}

/*
 * hwloc 2.9.0 (Debian 12) itself crashes on some XML: an <object> without complete_cpuset
 * (NULL dereference in hwloc_bitmap_compare_first() during load; the seed
 * hwloc-missing-complete-cpuset.xml), fixed upstream (open-mpi/hwloc#783). The library checks
 * every XML before hwloc reads it (core/topology-xml.c) and refuses what would crash it, so
 * inputs go straight in: a crash here is topomap's, or a hole in that check.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tmap_topology *topology = NULL;
	char path[PATH_MAX], *text;

	fuzz_write("input.xml", data, size, path, sizeof(path));
	if (tmap_topology_new_xml(path, 0, &topology, NULL) < 0)
		return 0;
	if (tmap_topology_format(topology, TMAP_FORMAT_TABLE, 0, &text, NULL) >= 0)
		free(text);
	if (tmap_topology_format(topology, TMAP_FORMAT_JSON, 0, &text, NULL) >= 0)
		free(text);
	place_one(topology);
	tmap_topology_free(topology);
	return 0;
}
