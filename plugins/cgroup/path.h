/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The cgroup backend's path resolver (path.c). Its own header because tests/test-cgroup.c
 * compiles path.c alone, to try it on a plain directory tree: cgroupfs cannot hold a symlink.
 */
#ifndef TOPOMAP_CGROUP_PATH_H
#define TOPOMAP_CGROUP_PATH_H

#include <stdbool.h>

#include <topomap/topomap.h>

/*
 * Turn the operator's --cgroup value into a path relative to the hierarchy's mount point:
 * "machine.slice/ct1" stays, "/sys/fs/cgroup/cpuset/machine.slice/ct1" loses the mount, empty
 * and "." components vanish. Refused with -EINVAL: "..", an absolute path outside the mount,
 * the root itself, control characters.
 */
int cgpath_normalize(const char *mount, const char *input, char **ret_rel,
		     struct tmap_error *err);

/*
 * Open rel (normalized, not empty) beneath dirfd as an O_PATH directory: never through a
 * symlink, never out of dirfd, never onto another mount. openat2() does it in one call; where
 * the kernel lacks it (or use_openat2 is false, for tests) one openat() per component.
 * Returns the fd, -ENOENT when a component is missing, -ELOOP for a symlink, -EXDEV for a
 * mount or an escape, -ENOTDIR for a file, or another -errno.
 */
int cgpath_open_beneath(int dirfd, const char *rel, bool use_openat2);

#endif
