/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The host capabilities a libvirtd sends (virConnectGetCapabilities()), turned into the JSON
 * host form by the libvirt backend; what comes out is then read by the library as the host,
 * as tmap_topology_new_backend("libvirt", URI) does.
 */
#include "libvirt-backend.h"

#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tmap_topology *topology = NULL;
	struct tmap_error err = {0};
	char *caps = fuzz_string(data, size), *json = NULL, *text;
	uint64_t page_kib;

	(void)capabilities_only_hugepage_size(caps, &page_kib, NULL);
	if (capabilities_to_json(caps, NULL, &json, NULL) >= 0) {
		/* Our own output: the library must take it. */
		if (tmap_topology_new_from_json(json, strlen(json), "libvirt:fuzz", &topology,
						&err) < 0) {
			fprintf(stderr, "refused: %s\n%s\n", err.message, json);
			abort();
		}
		if (tmap_topology_format(topology, TMAP_FORMAT_TABLE, 0, &text, NULL) >= 0)
			free(text);
		tmap_topology_free(topology);
		free(json);
	}
	free(caps);
	return 0;
}
