/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared by the libFuzzer targets: a private directory for the inputs that the code under test
 * takes as a file, made once per process and removed at exit.
 */
#ifndef TOPOMAP_FUZZ_COMMON_H
#define TOPOMAP_FUZZ_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_dir[PATH_MAX];

static void
fuzz_dir_remove(void)
{
	static const char *const names[] = {"input.xml", "input.json", "state.json",
					    "state.json.lock"};
	char path[PATH_MAX];

	/* Only ever the directory mkdtemp() made, with the files this process wrote. */
	if (!fuzz_dir[0])
		return;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", fuzz_dir, names[i]);
		unlink(path);
	}
	rmdir(fuzz_dir);
}

/* The path of `name` in this process's private directory. */
static inline const char *
fuzz_path(const char *name, char *buf, size_t size)
{
	if (!fuzz_dir[0]) {
		const char *tmp = getenv("TMPDIR");

		snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/topomap-fuzz-XXXXXX",
			 tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(fuzz_dir))
			abort();
		atexit(fuzz_dir_remove);
	}
	snprintf(buf, size, "%s/%s", fuzz_dir, name);
	return buf;
}

/* Write the input to `name` in the private directory; its path in buf. */
static inline const char *
fuzz_write(const char *name, const uint8_t *data, size_t size, char *buf, size_t bufsize)
{
	const char *path = fuzz_path(name, buf, bufsize);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		abort();
	while (size) {
		ssize_t n = write(fd, data, size);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			abort();
		data += n;
		size -= (size_t)n;
	}
	close(fd);
	return path;
}

/* The input as a NUL-terminated string (NULs inside stay: parsers must cope or refuse). */
static inline char *
fuzz_string(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#endif
