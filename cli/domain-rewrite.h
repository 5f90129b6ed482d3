/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A libvirt domain's XML with a one-guest plan written into it (domain-rewrite.c), for
 * `topomap xml-filter` and its fuzz target.
 */
#ifndef TOPOMAP_DOMAIN_REWRITE_H
#define TOPOMAP_DOMAIN_REWRITE_H

#include <stdbool.h>
#include <stddef.h>

#include <topomap/topomap.h>

/*
 * Rewrite <vcpu cpuset>, <cputune> pins, <numatune>, <cpu><numa> (cells added only to a domain
 * without any) and <memoryBacking><hugepages> from the plan; keep everything else.
 * Returns 0 with the new text in *ret (malloc()ed), or -EINVAL (not a domain, no <vcpu>, a
 * plan of another number of guests) or -ENOMEM, with a one-line message in msg.
 */
int domain_rewrite(const char *xml, size_t len, const struct tmap_plan *plan, char **ret,
		   char *msg, size_t size);

#endif
