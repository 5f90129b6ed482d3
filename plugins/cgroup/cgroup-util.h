/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Helpers shared by the cgroup backend's files. Only the public headers are used: the backend
 * is a client of the library like any other module, so the small cleanup helpers are repeated
 * here rather than taken from core/.
 */
#ifndef TOPOMAP_CGROUP_UTIL_H
#define TOPOMAP_CGROUP_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <topomap/topomap.h>

#include "path.h"

#define _cleanup_(f) __attribute__((cleanup(f)))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define TAKE_PTR(p)                                                                               \
	({                                                                                        \
		__typeof__(p) _p_ = (p);                                                          \
		(p) = NULL;                                                                       \
		_p_;                                                                              \
	})

#define TAKE_FD(fd)                                                                               \
	({                                                                                        \
		int _fd_ = (fd);                                                                  \
		(fd) = -1;                                                                        \
		_fd_;                                                                             \
	})

static inline void
freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void
closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static inline bool
streq(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

static inline bool
startswith(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/*
 * Fill *err (when not NULL) and return code, so that call sites stay one line. The library's
 * own tmap_error_set() is not part of its public interface, and a module sees only that.
 */
static inline int set_error(struct tmap_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static inline int
set_error(struct tmap_error *err, int code, const char *fmt, ...)
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

#endif
