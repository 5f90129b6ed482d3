/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvirt's cpumaps, 8 CPUs a byte with CPU 0 in the low bit of byte 0 (VIR_USE_CPU), to and
 * from the kernel list syntax every set in topomap is written in, through the library's one
 * parser and printer.
 */
#include <libvirt/libvirt.h>

#include "cpulist.h"
#include "libvirt-backend.h"
#include "libvirt-util.h"

int
cpumap_from_list(const char *list, int maplen_min, unsigned char **ret_map, int *ret_maplen)
{
	_cleanup_free_ unsigned long *mask = NULL;
	_cleanup_free_ unsigned char *map = NULL;
	size_t words = 0, top = 0;
	bool empty = true;
	int maplen, r;

	if (!list)
		return -EINVAL;
	r = tmap_cpulist_parse(list, &mask, &words);
	if (r < 0)
		return r;
	for (size_t i = 0; i < words * TMAP_CPULIST_WORD_BITS; i++)
		if (mask_has(mask, words, i)) {
			top = i;
			empty = false;
		}
	maplen = empty ? 0 : VIR_CPU_MAPLEN((int)top + 1);
	if (maplen < maplen_min)
		maplen = maplen_min;
	if (maplen < 1)
		maplen = 1;
	map = calloc((size_t)maplen, 1);
	if (!map)
		return -ENOMEM;
	for (size_t i = 0; !empty && i <= top; i++)
		if (mask_has(mask, words, i))
			VIR_USE_CPU(map, i);
	*ret_map = TAKE_PTR(map);
	*ret_maplen = maplen;
	return 0;
}

char *
cpumap_to_list(const unsigned char *map, int maplen)
{
	size_t ncpus = maplen > 0 ? (size_t)maplen * 8 : 0;
	size_t words = (ncpus + TMAP_CPULIST_WORD_BITS - 1) / TMAP_CPULIST_WORD_BITS;
	_cleanup_free_ unsigned long *mask = calloc(words ? words : 1, sizeof(*mask));
	char *text = NULL;

	if (!mask)
		return NULL;
	for (size_t c = 0; c < ncpus; c++)
		if (VIR_CPU_USED(map, c))
			mask[c / TMAP_CPULIST_WORD_BITS] |= 1ul << (c % TMAP_CPULIST_WORD_BITS);
	return tmap_cpulist_format(mask, words, &text) < 0 ? NULL : text;
}
