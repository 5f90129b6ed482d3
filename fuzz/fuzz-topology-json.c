/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A host described in JSON (`topomap topology --format json`), then described back. */
#include <topomap/topomap.h>

#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tmap_topology *topology = NULL;
	char *text;

	if (tmap_topology_new_from_json((const char *)data, size, "fuzz.json", &topology, NULL) < 0)
		return 0;
	for (unsigned n = 0; n < tmap_topology_node_count(topology); n++) {
		(void)tmap_topology_node_id(topology, n);
		(void)tmap_topology_node_cpus(topology, n);
		(void)tmap_topology_distance(topology, n, 0);
	}
	if (tmap_topology_format(topology, TMAP_FORMAT_TABLE, 0, &text, NULL) >= 0)
		free(text);
	if (tmap_topology_format(topology, TMAP_FORMAT_JSON, 0, &text, NULL) >= 0)
		free(text);
	tmap_topology_free(topology);
	return 0;
}
