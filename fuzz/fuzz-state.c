/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The state file (/var/lib/topomap/state.json): read, checked against a host and loaded into
 * it, then one more guest placed around what it holds and the host described.
 */
#include <topomap/topomap.h>

#include "fuzz-common.h"

static struct tmap_topology *topology;
static struct tmap_guest *extra;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tmap_solve_options options = TMAP_SOLVE_OPTIONS_INIT;
	struct tmap_state *state = NULL;
	struct tmap_host *host = NULL;
	struct tmap_plan *plan = NULL;
	char path[PATH_MAX], *text;

	/* Made once, never freed (still reachable at exit): 2 sockets, 4 nodes, 32 PUs. */
	if (!topology) {
		if (tmap_topology_new_synthetic("pack:2 numa:2 core:4 pu:2", 0, &topology, NULL) < 0 ||
		    tmap_guest_new("extra", 2, &extra, NULL) < 0 ||
		    tmap_guest_set_memory_mib(extra, 64) < 0)
			abort();
	}
	/* Without its lock file a state counts as never written (an empty host): make it. */
	fuzz_write("state.json.lock", data, 0, path, sizeof(path));
	fuzz_write("state.json", data, size, path, sizeof(path));
	if (tmap_state_open(path, 0, &state, NULL) < 0)
		return 0;
	options.reserve = tmap_state_reserve(state);
	if (tmap_host_new(topology, &options, &host, NULL) >= 0) {
		if (tmap_state_load(state, host, NULL) >= 0) {
			if (tmap_host_place(host, extra, &plan, NULL) >= 0)
				tmap_plan_free(plan);
			if (tmap_host_format(host, TMAP_FORMAT_JSON, 0, &text, NULL) >= 0)
				free(text);
			if (tmap_host_format(host, TMAP_FORMAT_TABLE, 0, &text, NULL) >= 0)
				free(text);
			for (size_t i = tmap_host_guest_count(host); i-- > 0;) {
				char name[256];

				snprintf(name, sizeof(name), "%s", tmap_host_guest_name(host, i));
				(void)tmap_host_release(host, name);
			}
		}
		tmap_host_free(host);
	}
	tmap_state_close(state);
	return 0;
}
