/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Sets in the kernel's list syntax as the backends compare them, on top of the library's one
 * parser and printer (tmap_cpulist_parse() and tmap_cpulist_format(), <topomap/plugin.h>).
 * Header-only, like util.h: each backend that includes it links nothing more.
 */
#ifndef TOPOMAP_CPULIST_H
#define TOPOMAP_CPULIST_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include <topomap/plugin.h>

#include "util.h"

/* Is index i in the mask? */
static inline bool
mask_has(const unsigned long *mask, size_t words, size_t i)
{
	return i / TMAP_CPULIST_WORD_BITS < words &&
	       (mask[i / TMAP_CPULIST_WORD_BITS] >> (i % TMAP_CPULIST_WORD_BITS)) & 1;
}

/* 1 when every index of list a is in list b, 0 when one is not, -EINVAL when either is not a
 * list, -ENOMEM. */
static inline int
cpulist_included(const char *a, const char *b)
{
	_cleanup_free_ unsigned long *ma = NULL, *mb = NULL;
	size_t na = 0, nb = 0;
	int r;

	r = tmap_cpulist_parse(a, &ma, &na);
	if (r == 0)
		r = tmap_cpulist_parse(b, &mb, &nb);
	if (r < 0)
		return r;
	for (size_t i = 0; i < na; i++)
		if (ma[i] & ~(i < nb ? mb[i] : 0ul))
			return 0;
	return 1;
}

/* Two lists of one set ("0-1" and "0,1")? false when either is not a list. */
static inline bool
cpulist_equal(const char *a, const char *b)
{
	return a && b && cpulist_included(a, b) == 1 && cpulist_included(b, a) == 1;
}

/* a ∪ b in list syntax, malloc()ed into *ret. Returns 0, -EINVAL or -ENOMEM. */
static inline int
cpulist_union(const char *a, const char *b, char **ret)
{
	_cleanup_free_ unsigned long *ma = NULL, *mb = NULL;
	size_t na = 0, nb = 0;
	int r;

	r = tmap_cpulist_parse(a, &ma, &na);
	if (r == 0)
		r = tmap_cpulist_parse(b, &mb, &nb);
	if (r < 0)
		return r;
	{
		unsigned long *big = na >= nb ? ma : mb;
		const unsigned long *small = na >= nb ? mb : ma;
		size_t nsmall = na >= nb ? nb : na;

		for (size_t i = 0; i < nsmall; i++)
			big[i] |= small[i];
		return tmap_cpulist_format(big, na >= nb ? na : nb, ret);
	}
}

#endif
