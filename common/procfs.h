/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What every backend reads of the kernel's files (procfs.c): bounded reads below a directory
 * fd, the fields of /proc/PID/status, the default hugepage size. Compiled into each backend
 * module (hidden there), and into the tests and fuzz targets that compile a backend's files.
 */
#ifndef TOPOMAP_PROCFS_H
#define TOPOMAP_PROCFS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Read dirfd/path whole (no symlink followed; AT_FDCWD and an absolute path work too), at most
 * max bytes, into a malloc()ed NUL-terminated *ret and its length into *ret_len (which may be
 * NULL). Returns 0, -EFBIG for a longer file, -ENOMEM, or the -errno of open or read.
 */
int read_file_at(int dirfd, const char *path, size_t max, char **ret, size_t *ret_len);

/*
 * The value of "Key:" in a status text (/proc/PID/status), without the blanks around it,
 * malloc()ed into *ret. Returns 0, -ENOENT when the line is not there, or -ENOMEM.
 */
int status_field(const char *status, const char *key, char **ret);

/*
 * Field `field` (numbered as proc(5) numbers them, 3 or more) of a /proc/PID/stat text as a
 * number. The command (field 2) may hold blanks and parentheses: fields count from its last
 * ')'. Returns 0 or -EBADMSG.
 */
int stat_field(const char *stat, int field, unsigned long long *ret);

/* The kernel's default hugepage size (Hugepagesize in /proc/meminfo) in KiB; 0 when unknown. */
uint64_t meminfo_hugepage_kib(void);

#endif
