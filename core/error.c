/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>

#include "internal.h"

/*
 * A guest that does not fit is the common answer of a fitter, and every refusal says why: the
 * message must not cost more than the decision. vsnprintf() is general, and slow for that;
 * messages that use only %s, %d, %u (with l, ll or z) and %% are written here, the same bytes
 * vsnprintf() writes. Anything else (a flag, a width, a precision, another conversion) goes to
 * vsnprintf().
 */
/* Copy s into [*out, end), as far as it goes. */
static void
put(char **out, const char *end, const char *s, size_t n)
{
	size_t room = (size_t)(end - *out);

	if (n > room)
		n = room;
	memcpy(*out, s, n);
	*out += n;
}

static void
put_number(char **out, const char *end, unsigned long long v, bool negative)
{
	char digits[24];
	size_t i = sizeof(digits);

	do
		digits[--i] = (char)('0' + v % 10);
	while (v /= 10);
	if (negative)
		digits[--i] = '-';
	put(out, end, digits + i, sizeof(digits) - i);
}

/* false at the first conversion it does not write, with buf half written; size > 0. Once
 * buf is full, the rest cannot change what vsnprintf() would write. */
static bool
plain_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	char *out = buf, *end = buf + size - 1;

	for (const char *p = fmt; *p && out < end;) {
		const char *pct = strchrnul(p, '%');
		unsigned longs = 0;
		bool z = false;

		put(&out, end, p, (size_t)(pct - p));
		if (!*pct)
			break;
		p = pct + 1;
		for (; *p == 'l' && longs < 2; p++)
			longs++;
		if (*p == 'z' && !longs) {
			z = true;
			p++;
		}
		switch (*p++) {
		case 's': {
			const char *s;

			if (longs || z)
				return false;
			s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			put(&out, end, s, strlen(s));
			break;
		}
		case 'd': {
			long long v;

			if (z)
				return false;
			v = longs > 1 ? va_arg(ap, long long) :
			    longs ? va_arg(ap, long) : va_arg(ap, int);
			put_number(&out, end,
				   v < 0 ? -(unsigned long long)v : (unsigned long long)v, v < 0);
			break;
		}
		case 'u':
			put_number(&out, end,
				   z ? va_arg(ap, size_t) :
				   longs > 1 ? va_arg(ap, unsigned long long) :
				   longs ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), false);
			break;
		case '%':
			if (longs || z)
				return false;
			put(&out, end, "%", 1);
			break;
		default:
			return false;
		}
	}
	*out = '\0';
	return true;
}

/* A message is one line (include/topomap/topomap.h): a value quoted from a file or a user,
 * such as a state file's "x\ny" or a terminal escape, must not break it or reach a terminal
 * raw. Control characters become '?'. */
static void
one_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

int
tmap_error_set(struct tmap_error *err, int code, const char *fmt, ...)
{
	va_list ap, again;

	if (!err)
		return code;
	err->code = code;
	va_start(ap, fmt);
	va_copy(again, ap);
	if (!plain_vsnprintf(err->message, sizeof(err->message), fmt, ap))
		vsnprintf(err->message, sizeof(err->message), fmt, again);
	va_end(again);
	va_end(ap);
	one_line(err->message);
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
	one_line(err->message);
	return err->code;
}

int
lines_append_vprintf(char ***lines, size_t *n, const char *fmt, va_list ap)
{
	char **v, *line;

	if (vasprintf(&line, fmt, ap) < 0)
		return -ENOMEM;
	v = realloc(*lines, (*n + 1) * sizeof(*v));
	if (!v) {
		free(line);
		return -ENOMEM;
	}
	*lines = v;
	v[(*n)++] = line;
	return 0;
}

const char *
tmap_version(void)
{
	return TOPOMAP_VERSION;
}
