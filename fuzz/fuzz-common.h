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
#include <stdbool.h>
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
					    "state.json.lock", "state.json.tmp"};
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

/*
 * Generators (fuzz-*-gen.c) read the input as a stream of decisions, not as the text itself:
 * past its end every decision is 0, which each generator makes its plain, valid choice.
 */
struct fuzz_gen {
	const uint8_t *data;
	size_t size, pos;
	FILE *out;
};

/* The next `bits` bits of the input (8, 16 or 32), big-endian; 0 past its end. */
static inline unsigned
fuzz_take(struct fuzz_gen *g, unsigned bits)
{
	unsigned v = 0;

	for (unsigned b = 0; b < bits; b += 8)
		v = (v << 8) | (g->pos < g->size ? g->data[g->pos++] : 0);
	return bits < 32 ? v & ((1u << bits) - 1) : v;
}

/* Whether the input has decisions left (the plain choices follow when not). */
static inline bool
fuzz_more(const struct fuzz_gen *g)
{
	return g->pos < g->size;
}

/* A JSON value a loader must refuse where it wants a small number, a list or a name: each
 * other type, numbers past int32, int64 and uint64, a fraction, strings with a NUL, empty
 * and overlong. */
static inline void
fuzz_wrong_value(struct fuzz_gen *g)
{
	static const char *const values[] = {
		"null", "true", "false", "[]", "{}", "[1]", "{\"a\":1}", "\"\"", "\"x\"",
		"\"a\\u0000b\"", "-1", "0", "1.5", "-0", "1e3", "2147483648", "4294967296",
		"9223372036854775807", "9223372036854775808", "18446744073709551616",
		"-9223372036854775809",
	};
	unsigned k = fuzz_take(g, 8);

	if (k % 32 == 31) {
		/* Longer than any name or list the loader keeps whole in a message. */
		fputc('"', g->out);
		for (unsigned i = 0; i < 300; i++)
			fputc('a' + i % 26, g->out);
		fputc('"', g->out);
		return;
	}
	fputs(values[k % (sizeof(values) / sizeof(values[0]))], g->out);
}

/* The text a generator writes for the input (malloc()ed, NUL-terminated), its length in len. */
static inline char *
fuzz_generate(const uint8_t *data, size_t size, void (*generate)(struct fuzz_gen *), size_t *len)
{
	struct fuzz_gen g = {.data = data, .size = size};
	char *text = NULL;

	g.out = open_memstream(&text, len);
	if (!g.out)
		abort();
	generate(&g);
	if (fclose(g.out) != 0)
		abort();
	return text;
}

#endif
