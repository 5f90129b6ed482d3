/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A fake backend, for fault injection and loader tests only: it keeps "what is in force" in a
 * file (target option --file) and fails on demand (--fail STEP, --drift). Built several times
 * with different MOCK_* settings to give the loader every kind of bad module.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <topomap/plugin.h>

#ifndef MOCK_NAME
#define MOCK_NAME "mock"
#endif
#ifndef MOCK_ABI
#define MOCK_ABI TMAP_BACKEND_ABI
#endif
#ifndef MOCK_SIZE
#define MOCK_SIZE sizeof(struct tmap_backend)
#endif
/* The variant without a descriptor uses none of the callbacks. */
#define MOCK_CALLBACK __attribute__((unused)) static

struct mock {
	char *file;
	const char *fail;
	int drift;
	char captured[256];
};

static int
read_file(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return -errno;
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
	return 0;
}

static int
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	if (!f)
		return -errno;
	fputs(text, f);
	return fclose(f) == 0 ? 0 : -EIO;
}

MOCK_CALLBACK int
mock_probe(struct tmap_error *err)
{
	return 0;
}

MOCK_CALLBACK void
mock_close(void *state)
{
	struct mock *m = state;

	if (!m)
		return;
	free(m->file);
	free(m);
}

MOCK_CALLBACK int
mock_open(const struct tmap_target *target, unsigned flags, void **ret, struct tmap_error *err)
{
	const char *file = tmap_target_get(target, "file");
	struct mock *m;
	int r;

	if (!file) {
		err->code = -EINVAL;
		snprintf(err->message, sizeof(err->message), "mock needs --file");
		return -EINVAL;
	}
	m = calloc(1, sizeof(*m));
	m->file = strdup(file);
	m->fail = tmap_target_get(target, "fail");
	m->drift = tmap_target_get(target, "drift") != NULL;
	r = read_file(file, m->captured, sizeof(m->captured));
	if (r < 0 || (m->fail && strcmp(m->fail, "open") == 0)) {
		mock_close(m);
		err->code = -EIO;
		snprintf(err->message, sizeof(err->message), "cannot capture '%s'", file);
		return -EIO;
	}
	*ret = m;
	return 0;
}

/* Applies made by this process: TOPOMAP_MOCK_FAIL_APPLY=N fails the Nth, whichever target
 * it is for (a transaction over several guests, each with its own target; issue 18). */
static unsigned applies;

MOCK_CALLBACK int
mock_apply(void *state, const struct tmap_plan *plan, size_t guest, struct tmap_journal *j,
	   struct tmap_error *err)
{
	struct mock *m = state;
	const char *cpus = tmap_plan_cpuset(plan, guest);
	const char *nth = getenv("TOPOMAP_MOCK_FAIL_APPLY");

	if (tmap_journal_write(j, "write '%s' to %s", cpus, m->file) && write_file(m->file, cpus) < 0)
		return -EIO;
	if ((m->fail && strcmp(m->fail, "apply") == 0) ||
	    (nth && strtoul(nth, NULL, 10) == ++applies)) {
		/* Fail after a write, as a second write refused by the kernel would. */
		err->code = -ERANGE;
		snprintf(err->message, sizeof(err->message), "injected failure after writing '%s'",
			 cpus);
		return -ERANGE;
	}
	return 0;
}

MOCK_CALLBACK int
mock_read_back(void *state, const struct tmap_plan *plan, size_t guest, struct tmap_observed *obs,
	       struct tmap_error *err)
{
	struct mock *m = state;
	char now[256];

	if (m->fail && strcmp(m->fail, "read-back") == 0) {
		err->code = -EIO;
		snprintf(err->message, sizeof(err->message), "injected read failure");
		return -EIO;
	}
	if (read_file(m->file, now, sizeof(now)) < 0)
		return -EIO;
	if (m->drift)
		snprintf(now, sizeof(now), "%s", "63");
	/* Lines after the first, "vcpu N LIST" and "mems LIST", are vcpus' PUs and the memory
	 * nodes a test put there by hand. */
	for (char *line = strchr(now, '\n'); line; line = strchr(line + 1, '\n')) {
		unsigned vcpu;
		char list[64], where[32];
		int r = 0;

		*line = '\0';
		if (sscanf(line + 1, "vcpu %u %63s", &vcpu, list) == 2) {
			snprintf(where, sizeof(where), "mock vcpu %u", vcpu);
			r = tmap_observed_set(obs, TMAP_OBSERVED_VCPU, vcpu, list, where);
		} else if (sscanf(line + 1, "mems %63s", list) == 1) {
			r = tmap_observed_set(obs, TMAP_OBSERVED_MEMS, 0, list, "mock mems");
		}
		if (r < 0)
			return r;
	}
	return tmap_observed_set(obs, TMAP_OBSERVED_CPUS, 0, now, "mock file");
}

MOCK_CALLBACK int
mock_restore(void *state, struct tmap_journal *j, struct tmap_error *err)
{
	struct mock *m = state;

	if (m->fail && strcmp(m->fail, "restore") == 0) {
		err->code = -EIO;
		snprintf(err->message, sizeof(err->message), "injected restore failure");
		return -EIO;
	}
	if (tmap_journal_write(j, "write '%s' to %s", m->captured, m->file))
		return write_file(m->file, m->captured);
	return 0;
}

__attribute__((unused)) static const char *const mock_keys[] = {"file", "fail", "drift", NULL};

#if defined(MOCK_UNDERSIZED)
/* The frozen header alone, claiming a whole descriptor: the loader must not read past it. */
TMAP_BACKEND_EXPORT const struct {
	uint32_t abi, size;
} tmap_backend = {TMAP_BACKEND_ABI, sizeof(struct tmap_backend)};
#elif !defined(MOCK_NO_SYMBOL)
TMAP_BACKEND_EXPORT const struct tmap_backend tmap_backend = {
	.abi = MOCK_ABI,
	.size = MOCK_SIZE,
	.name = MOCK_NAME,
	.summary = "a fake backend for tests",
	.target_keys = mock_keys,
	.probe = mock_probe,
	.open = mock_open,
#ifndef MOCK_NO_APPLY
	.apply = mock_apply,
#endif
	.read_back = mock_read_back,
	.restore = mock_restore,
	.close = mock_close,
#ifdef MOCK_APPLY_FLAGS
	.apply_flags = MOCK_APPLY_FLAGS,
#endif
};
#endif
