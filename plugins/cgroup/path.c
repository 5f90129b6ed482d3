/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Cgroup paths typed by an operator. The backend runs as root and writes what the plan says
 * into whatever the path names, so a path must not be able to leave the hierarchy: ".." is
 * refused outright, and the walk itself refuses symlinks and other mounts, so that a link
 * planted inside a delegated subtree cannot turn a cgroup write into a write elsewhere.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "cgroup-util.h"

int
cgpath_normalize(const char *mount, const char *input, char **ret_rel, struct tmap_error *err)
{
	_cleanup_free_ char *rel = NULL;
	const char *p = input;
	size_t len = 0;

	if (!input || !input[0])
		return tmap_error_set(err, -EINVAL, "--cgroup needs a path such as machine.slice/ct1");
	if (strlen(input) >= PATH_MAX)
		return tmap_error_set(err, -EINVAL, "cgroup path is longer than %d bytes", PATH_MAX - 1);
	/* Not quoted back: the path goes into one-line messages and journal lines. */
	for (const char *q = input; *q; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f)
			return tmap_error_set(err, -EINVAL, "cgroup path holds a control character");
	if (*p == '/') {
		size_t mlen = strlen(mount);

		if (strncmp(p, mount, mlen) != 0 || (p[mlen] != '/' && p[mlen] != '\0'))
			return tmap_error_set(err, -EINVAL,
					 "cgroup '%s' is outside the cpuset hierarchy mounted at %s",
					 input, mount);
		p += mlen;
	}
	rel = malloc(strlen(p) + 1);
	if (!rel)
		return -ENOMEM;
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return tmap_error_set(err, -EINVAL, "cgroup '%s' leaves the hierarchy through '..'",
					 input);
		if (n > 0 && !(n == 1 && p[0] == '.')) {
			if (len > 0)
				rel[len++] = '/';
			memcpy(rel + len, p, n);
			len += n;
		}
		p += n;
		if (*p == '/')
			p++;
	}
	rel[len] = '\0';
	if (len == 0)
		return tmap_error_set(err, -EINVAL,
				 "cgroup '%s' is the root of the cpuset hierarchy, which topomap leaves alone",
				 input);
	*ret_rel = TAKE_PTR(rel);
	return 0;
}

/* One component at a time, for kernels without openat2(): the caller normalized the path, so
 * there is no ".." to climb; O_NOFOLLOW stops at a symlink and st_dev at another mount. */
static int
open_by_component(int dirfd, const char *rel)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *copy = strdup(rel);
	char *comp, *save = NULL;
	struct stat st;
	dev_t dev;

	if (!copy)
		return -ENOMEM;
	fd = openat(dirfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return -errno;
	dev = st.st_dev;
	for (comp = strtok_r(copy, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
		int nfd = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (nfd < 0) {
			int r = -errno;

			/* O_PATH|O_NOFOLLOW on a symlink fails O_DIRECTORY: say what it was. */
			if (r == -ENOTDIR && fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISLNK(st.st_mode))
				r = -ELOOP;
			return r;
		}
		close(fd);
		fd = nfd;
		if (fstat(fd, &st) < 0)
			return -errno;
		if (st.st_dev != dev)
			return -EXDEV;
	}
	return TAKE_FD(fd);
}

int
cgpath_open_beneath(int dirfd, const char *rel, bool use_openat2)
{
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
			   RESOLVE_NO_XDEV,
	};
	long fd;

	if (!rel[0] || rel[0] == '/')
		return -EINVAL;
	if (use_openat2) {
		fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
		if (fd >= 0)
			return (int)fd;
		if (errno != ENOSYS)
			return -errno;
	}
	return open_by_component(dirfd, rel);
}
