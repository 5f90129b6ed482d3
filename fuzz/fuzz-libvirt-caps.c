/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The host capabilities a libvirtd sends (virConnectGetCapabilities()), turned into hwloc XML
 * by the libvirt backend; what comes out is then read by hwloc as the host, as
 * tmap_topology_new("libvirt:URI") does.
 */
#include "libvirt-backend.h"

#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tmap_topology *topology = NULL;
	char *caps = fuzz_string(data, size), *xml = NULL, path[PATH_MAX], *text;
	uint64_t page_kib;

	(void)capabilities_only_hugepage_size(caps, &page_kib, NULL);
	if (capabilities_to_hwloc(caps, NULL, &xml, NULL) >= 0) {
		fuzz_write("input.xml", (const uint8_t *)xml, strlen(xml), path, sizeof(path));
		/* Our own output: hwloc must take it. */
		if (tmap_topology_new(path, 0, &topology, NULL) < 0)
			abort();
		if (tmap_topology_format(topology, TMAP_FORMAT_TABLE, 0, &text, NULL) >= 0)
			free(text);
		tmap_topology_free(topology);
		free(xml);
	}
	free(caps);
	return 0;
}
