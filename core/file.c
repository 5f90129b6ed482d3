/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading outside input: always bounded, never following a size that stat() made up. */
#include <fcntl.h>
#include <sys/stat.h>

#include "internal.h"

const char *
file_type_name(mode_t mode)
{
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISDIR(mode))
		return "a directory";
	return "a special file";
}

int
read_file_bounded(const char *path, size_t max, char **ret, size_t *ret_len,
		  struct tmap_error *err)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	size_t len = 0;

	/* O_NONBLOCK: opening a FIFO for reading waits for a writer, forever if none comes.
	 * Only a regular file is read; then reads block again as usual. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return tmap_error_set(err, -errno, "%s: cannot open: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0)
		return tmap_error_set(err, -errno, "%s: cannot stat: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return tmap_error_set(err, -EISDIR, "%s: is a directory", path);
	if (!S_ISREG(st.st_mode))
		return tmap_error_set(err, -EINVAL, "%s: is %s, not a regular file", path,
				      file_type_name(st.st_mode));
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
		return tmap_error_set(err, -errno, "%s: cannot read: %s", path, strerror(errno));
	/* Read up to the limit plus one byte, whatever stat says (pipes report size 0), in a
	 * buffer that grows as the file does. */
	for (size_t cap = 0;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			size_t bigger = cap ? cap * 2 : 65536;
			char *b;

			if (bigger > max + 2)
				bigger = max + 2;
			b = realloc(buf, bigger);
			if (!b)
				return tmap_error_set(err, -ENOMEM, "out of memory");
			buf = b;
			cap = bigger;
		}
		n = read(fd, buf + len, cap - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return tmap_error_set(err, -errno, "%s: cannot read: %s", path,
					      strerror(errno));
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max)
			return tmap_error_set(err, -EFBIG, "%s: larger than %zu MiB", path,
					      max >> 20);
	}
	if (!buf && !(buf = malloc(1)))
		return tmap_error_set(err, -ENOMEM, "out of memory");
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	if (ret_len)
		*ret_len = len;
	return 0;
}
