/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The rewrite of `topomap xml-filter` (cli/domain-rewrite.c) with a plan the command itself
 * never makes from a domain: the guest that the XML on stdin describes, given hugepages of
 * PAGE_KIB, placed on the host TOPOLOGY and written into the XML on stdout. A domain without
 * <memoryBacking> so gets <memoryBacking><hugepages> added, as it does for a plan that comes
 * from elsewhere than the domain (a manager's own guest spec).
 *
 * Usage: rewrite-domain TOPOLOGY PAGE_KIB < domain.xml
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <topomap/topomap.h>

#include "domain-rewrite.h"
#include "libvirt-backend.h"

static char *
slurp(FILE *f)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);

	while (buf) {
		size_t n = fread(buf + len, 1, cap - len - 1, f);

		len += n;
		if (n == 0)
			break;
		if (len + 1 == cap) {
			char *bigger = realloc(buf, cap * 2);

			if (!bigger)
				free(buf);
			buf = bigger;
			cap *= 2;
		}
	}
	if (buf)
		buf[len] = '\0';
	return buf;
}

int
main(int argc, char *argv[])
{
	struct tmap_topology *host = NULL;
	struct tmap_guests *guests = NULL;
	struct tmap_guest *guest = NULL;
	struct tmap_plan *plan = NULL;
	struct tmap_error err = {0};
	char msg[TMAP_ERROR_MAX] = "", *xml, *out = NULL;
	int r;

	if (argc != 3) {
		fprintf(stderr, "usage: rewrite-domain TOPOLOGY PAGE_KIB < domain.xml\n");
		return 2;
	}
	xml = slurp(stdin);
	r = xml ? tmap_topology_new_xml(argv[1], 0, &host, &err) : -ENOMEM;
	if (r == 0)
		r = domain_xml_describe(xml, 0, &guest, &err);
	if (r == 0 && tmap_guest_set_hugepages(guest, strtoull(argv[2], NULL, 10)) < 0)
		r = tmap_error_set(&err, -EINVAL, "'%s' is not a hugepage size in KiB", argv[2]);
	if (r == 0)
		r = tmap_guests_new(&guests);
	if (r == 0) {
		r = tmap_guests_add(guests, guest, &err);
		if (r < 0)
			tmap_guest_free(guest);
	}
	if (r == 0)
		r = tmap_solve(host, guests, NULL, &plan, &err);
	if (r == 0 && domain_rewrite(xml, strlen(xml), plan, &out, msg, sizeof(msg)) < 0)
		r = tmap_error_set(&err, -EINVAL, "%s", msg);
	if (r == 0)
		fputs(out, stdout);
	else
		fprintf(stderr, "rewrite-domain: %s\n", err.message[0] ? err.message : strerror(-r));
	free(out);
	free(xml);
	tmap_plan_free(plan);
	tmap_guests_free(guests);
	tmap_topology_free(host);
	return r == 0 ? 0 : 1;
}
