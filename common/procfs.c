/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What every backend reads of the kernel's files: see procfs.h. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>

#include "procfs.h"
#include "util.h"

int
read_file_at(int dirfd, const char *path, size_t max, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0;

	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			char *bigger;

			if (cap > max)
				return -EFBIG;
			cap = cap ? 2 * cap : 4096;
			if (cap > max + 2)
				cap = max + 2;
			bigger = realloc(buf, cap);
			if (!bigger)
				return -ENOMEM;
			buf = bigger;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max)
			return -EFBIG;
	}
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	if (ret_len)
		*ret_len = len;
	return 0;
}

int
status_field(const char *status, const char *key, char **ret)
{
	size_t klen = strlen(key);

	for (const char *line = status; line && *line;) {
		const char *nl = strchr(line, '\n');
		const char *end = nl ? nl : line + strlen(line);

		if ((size_t)(end - line) > klen && strncmp(line, key, klen) == 0 &&
		    line[klen] == ':') {
			const char *v = line + klen + 1;
			char *value;

			while (v < end && (*v == ' ' || *v == '\t'))
				v++;
			while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
				end--;
			value = strndup(v, (size_t)(end - v));
			if (!value)
				return -ENOMEM;
			*ret = value;
			return 0;
		}
		line = nl ? nl + 1 : NULL;
	}
	return -ENOENT;
}

uint64_t
meminfo_hugepage_kib(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/meminfo", "re");
	char line[128];

	while (f && fgets(line, sizeof(line), f)) {
		unsigned long long kib;

		if (sscanf(line, "Hugepagesize: %llu kB", &kib) == 1)
			return kib;
	}
	return 0;
}

int
stat_field(const char *stat, int field, unsigned long long *ret)
{
	const char *p = strrchr(stat, ')');
	unsigned long long v;
	char *end;

	if (!p || field < 3)
		return -EBADMSG;
	p++;
	for (int f = 3; f < field; f++) {
		p += strspn(p, " ");
		p += strcspn(p, " ");
	}
	p += strspn(p, " ");
	if (!isdigit((unsigned char)*p))
		return -EBADMSG;
	errno = 0;
	v = strtoull(p, &end, 10);
	if (errno || (*end != ' ' && *end != '\n' && *end != '\0'))
		return -EBADMSG;
	*ret = v;
	return 0;
}
