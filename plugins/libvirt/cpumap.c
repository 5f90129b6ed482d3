/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvirt's cpumaps, 8 CPUs a byte with CPU 0 in the low bit of byte 0 (VIR_USE_CPU), to and
 * from the kernel list syntax every set in topomap is written in.
 */
#include <ctype.h>

#include <libvirt/libvirt.h>

#include "libvirt-backend.h"
#include "libvirt-util.h"

/* Strictly digits, ranges and commas, as the core parses lists. Gives the highest index, and
 * whether the list is empty ("" is the empty set). */
static int
list_scan(const char *list, unsigned *ret_max, bool *ret_empty)
{
	const char *p = list;
	unsigned max = 0;
	bool empty = true;

	while (*p) {
		unsigned long a, b;
		char *end;

		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		errno = 0;
		a = strtoul(p, &end, 10);
		if (errno || a > LIST_MAX_INDEX)
			return -EINVAL;
		b = a;
		p = end;
		if (*p == '-') {
			p++;
			if (!isdigit((unsigned char)*p))
				return -EINVAL;
			b = strtoul(p, &end, 10);
			if (errno || b > LIST_MAX_INDEX || b < a)
				return -EINVAL;
			p = end;
		}
		if (*p == ',') {
			if (*++p == '\0')
				return -EINVAL;
		} else if (*p) {
			return -EINVAL;
		}
		if (b > max || empty)
			max = (unsigned)b;
		empty = false;
	}
	*ret_max = max;
	*ret_empty = empty;
	return 0;
}

int
cpumap_from_list(const char *list, int maplen_min, unsigned char **ret_map, int *ret_maplen)
{
	_cleanup_free_ unsigned char *map = NULL;
	const char *p = list;
	unsigned max;
	bool empty;
	int maplen, r;

	if (!list)
		return -EINVAL;
	r = list_scan(list, &max, &empty);
	if (r < 0)
		return r;
	maplen = empty ? 0 : VIR_CPU_MAPLEN((int)max + 1);
	if (maplen < maplen_min)
		maplen = maplen_min;
	if (maplen < 1)
		maplen = 1;
	map = calloc((size_t)maplen, 1);
	if (!map)
		return -ENOMEM;
	/* Checked by list_scan(): only the ranges remain to be set. */
	while (*p) {
		unsigned long a = strtoul(p, (char **)&p, 10), b = a;

		if (*p == '-')
			b = strtoul(p + 1, (char **)&p, 10);
		for (unsigned long c = a; c <= b; c++)
			VIR_USE_CPU(map, c);
		if (*p == ',')
			p++;
	}
	*ret_map = TAKE_PTR(map);
	*ret_maplen = maplen;
	return 0;
}

char *
cpumap_to_list(const unsigned char *map, int maplen)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int ncpus = maplen * 8;
	bool first = true;

	if (!f)
		return NULL;
	for (int c = 0; c < ncpus; c++) {
		int end = c;

		if (!VIR_CPU_USED(map, c))
			continue;
		while (end + 1 < ncpus && VIR_CPU_USED(map, end + 1))
			end++;
		if (end == c)
			fprintf(f, "%s%d", first ? "" : ",", c);
		else
			fprintf(f, "%s%d-%d", first ? "" : ",", c, end);
		first = false;
		c = end;
	}
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}
