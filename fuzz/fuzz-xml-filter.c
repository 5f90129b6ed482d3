/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `topomap xml-filter` on any input: a domain's XML read as the libvirt backend reads it,
 * placed on a fixed 2-node host, and written back with the plan (cli/domain-rewrite.c). What
 * it writes must be read back as the same guest, and rewriting it again with the same plan
 * must change nothing.
 */
#include "domain-rewrite.h"
#include "libvirt-backend.h"

#include "fuzz-common.h"

static struct tmap_topology *host;

/* Place the guest (the list takes it) and write the plan into the XML. */
static void
check(const char *xml, struct tmap_guest *guest)
{
	unsigned vcpus = tmap_guest_vcpus(guest);
	struct tmap_guests *guests = NULL;
	struct tmap_guest *again = NULL;
	struct tmap_plan *plan = NULL;
	char msg[TMAP_ERROR_MAX], *out = NULL, *out2 = NULL;

	if (tmap_guests_new(&guests) < 0)
		abort();
	if (tmap_guests_add(guests, guest, NULL) < 0) {
		tmap_guest_free(guest);
		tmap_guests_free(guests);
		return;
	}
	if (tmap_solve(host, guests, NULL, &plan, NULL) == 0 &&
	    domain_rewrite(xml, strlen(xml), plan, &out, msg, sizeof(msg)) == 0) {
		/* The placed XML describes the same guest, and placing it again is a fixed point. */
		if (domain_xml_describe(out, 2048, &again, NULL) < 0 ||
		    tmap_guest_vcpus(again) != vcpus)
			abort();
		if (domain_rewrite(out, strlen(out), plan, &out2, msg, sizeof(msg)) < 0 ||
		    strcmp(out, out2) != 0)
			abort();
	}
	tmap_guest_free(again);
	free(out);
	free(out2);
	tmap_plan_free(plan);
	tmap_guests_free(guests);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *xml = fuzz_string(data, size);
	struct tmap_guest *guest = NULL;

	if (!host && tmap_topology_new_synthetic("pack:2 numa:1(memory=8GiB) core:4 pu:2", 0, &host,
						 NULL) < 0)
		abort();
	if (domain_xml_describe(xml, 2048, &guest, NULL) >= 0)
		check(xml, guest);	/* the list takes the guest */
	free(xml);
	return 0;
}
