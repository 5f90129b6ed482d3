/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <stdarg.h>

#include "internal.h"

int
tmap_error_set(struct tmap_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return code;
}

int
tmap_error_prefix(struct tmap_error *err, const char *fmt, ...)
{
	char prefix[TMAP_ERROR_MAX], old[TMAP_ERROR_MAX];
	va_list ap;

	if (!err)
		return 0;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->message, sizeof(old));
	/* Both halves fit in the buffer only when short: cut the old message, not the prefix. */
	snprintf(err->message, sizeof(err->message), "%.200s%.300s", prefix, old);
	return err->code;
}

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

const char *
tmap_version(void)
{
	return TOPOMAP_VERSION;
}
