/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A domain's XML as libvirt returns it (virDomainGetXMLDesc()): what the libvirt backend reads
 * of it (describe, the NUMA side) and its edit of <numatune>.
 */
#include "libvirt-backend.h"

#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *xml = fuzz_string(data, size), *edited = NULL;
	struct domain_numa numa = {0};
	struct tmap_guest *guest = NULL;

	/* a bare <hugepages/> takes the default size when there is one, and is refused without */
	if (domain_xml_describe(xml, domain_xml_bare_hugepages(xml) ? 2048 : 0, &guest,
				NULL) >= 0) {
		(void)tmap_guest_validate(guest, NULL);
		tmap_guest_free(guest);
	}
	if (domain_xml_numa(xml, &numa, NULL) >= 0) {
		unsigned n = numa.ncells ? numa.ncells : 1, *nodes;

		for (unsigned c = 0; c < numa.ncells + 1; c++)
			(void)domain_numa_memnode(&numa, c);
		if (n <= 4096) {
			nodes = calloc(n, sizeof(*nodes));
			if (!nodes)
				abort();
			for (unsigned c = 0; c < n; c++)
				nodes[c] = c % 2;
			if (domain_xml_set_memnodes(xml, TMAP_MEMORY_STRICT, nodes, numa.ncells,
						    &edited, NULL) >= 0)
				free(edited);
			free(nodes);
		}
		domain_numa_clear(&numa);
	}
	free(xml);
	return 0;
}
