/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Sets in the kernel's list syntax ("0-3,8"): the one parser and the one printer of the
 * library and its backends. Inside the library a set is an hwloc bitmap of OS indexes; a
 * backend gets a mask of unsigned longs (the layout of cpu_set_t and of libnuma's masks),
 * which keeps hwloc out of the installed headers.
 */
#include <ctype.h>

#include "topomap/backend.h"
#include "internal.h"

/* hwloc_bitmap_list_sscanf() accepts trailing garbage and infinite ranges ("3-"): a set typed
 * by an operator deserves a strict parser. */
int
bitmap_parse_list(const char *text, hwloc_bitmap_t *ret)
{
	_cleanup_bitmap_ hwloc_bitmap_t set = NULL;
	const char *p = text;

	if (!text)
		return -EINVAL;
	set = hwloc_bitmap_alloc();
	if (!set)
		return -ENOMEM;
	while (*p) {
		unsigned long a, b;
		char *end;

		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		errno = 0;
		a = strtoul(p, &end, 10);
		if (errno || a > 1u << 20)
			return -EINVAL;
		b = a;
		p = end;
		if (*p == '-') {
			p++;
			if (!isdigit((unsigned char)*p))
				return -EINVAL;
			b = strtoul(p, &end, 10);
			if (errno || b > 1u << 20 || b < a)
				return -EINVAL;
			p = end;
		}
		if (hwloc_bitmap_set_range(set, (unsigned)a, (int)b) < 0)
			return -ENOMEM;
		if (*p == ',') {
			p++;
			if (!*p)
				return -EINVAL;
		} else if (*p) {
			return -EINVAL;
		}
	}
	*ret = TAKE_PTR(set);
	return 0;
}

char *
bitmap_list(hwloc_const_bitmap_t set)
{
	char *s = NULL;

	if (hwloc_bitmap_iszero(set))
		return strdup("");
	if (hwloc_bitmap_list_asprintf(&s, set) < 0)
		return NULL;
	return s;
}

/* A list as a kernel file or a hypervisor gives it: blanks and newlines around it are
 * dropped, the rest is parsed strictly. */
int
bitmap_parse_trimmed(const char *list, hwloc_bitmap_t *ret)
{
	_cleanup_free_ char *copy = NULL;
	char *start, *end;

	if (!list)
		return -EINVAL;
	copy = strdup(list);
	if (!copy)
		return -ENOMEM;
	start = copy + strspn(copy, " \t\n");
	end = start + strlen(start);
	while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n'))
		*--end = '\0';
	return bitmap_parse_list(start, ret);
}

int
tmap_cpulist_parse(const char *list, unsigned long **ret_mask, size_t *ret_words)
{
	_cleanup_bitmap_ hwloc_bitmap_t set = NULL;
	unsigned long *mask;
	size_t words;
	int last, r;

	if (!ret_mask || !ret_words)
		return -EINVAL;
	r = bitmap_parse_trimmed(list, &set);
	if (r < 0)
		return r;
	last = hwloc_bitmap_last(set);
	words = last < 0 ? 1 : (size_t)last / TMAP_CPULIST_WORD_BITS + 1;
	mask = calloc(words, sizeof(*mask));
	if (!mask)
		return -ENOMEM;
	if (hwloc_bitmap_to_ulongs(set, (unsigned)words, mask) < 0) {
		free(mask);
		return -ENOMEM;
	}
	*ret_mask = mask;
	*ret_words = words;
	return 0;
}

int
tmap_cpulist_format(const unsigned long *mask, size_t words, char **ret_list)
{
	_cleanup_bitmap_ hwloc_bitmap_t set = NULL;
	char *text;

	if (!ret_list || (!mask && words))
		return -EINVAL;
	set = hwloc_bitmap_alloc();
	if (!set || (words && hwloc_bitmap_from_ulongs(set, (unsigned)words, mask) < 0))
		return -ENOMEM;
	text = bitmap_list(set);
	if (!text)
		return -ENOMEM;
	*ret_list = text;
	return 0;
}

/* a op b into *ret; a NULL or "" list is empty. */
static int
cpulist_combine(const char *a, const char *b, bool subtract, char **ret)
{
	_cleanup_bitmap_ hwloc_bitmap_t x = NULL, y = NULL;
	char *out;
	int r;

	r = bitmap_parse_list(a ? a : "", &x);
	if (r == 0)
		r = bitmap_parse_list(b ? b : "", &y);
	if (r < 0)
		return r;
	if (subtract)
		hwloc_bitmap_andnot(x, x, y);
	else
		hwloc_bitmap_or(x, x, y);
	out = bitmap_list(x);
	if (!out)
		return -ENOMEM;
	free(*ret);
	*ret = out;
	return 0;
}

int
cpulist_union(const char *a, const char *b, char **ret)
{
	return cpulist_combine(a, b, false, ret);
}

int
cpulist_subtract(const char *a, const char *b, char **ret)
{
	return cpulist_combine(a, b, true, ret);
}

bool
cpulist_overlap(const char *a, const char *b)
{
	_cleanup_bitmap_ hwloc_bitmap_t x = NULL, y = NULL;

	return a && b && bitmap_parse_list(a, &x) == 0 && bitmap_parse_list(b, &y) == 0 &&
	       hwloc_bitmap_intersects(x, y);
}
