/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Small header-only helpers shared by the core, the in-tree backends and the tests. Not
 * installed, and nothing in it reaches into the library: a backend using it still sees only
 * the public headers. */
#ifndef TOPOMAP_UTIL_H
#define TOPOMAP_UTIL_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _unused_ __attribute__((unused))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Hand a pointer over to someone else and forget it here, so cleanup does not free it. */
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
fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

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

#endif
