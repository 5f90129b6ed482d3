/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * CPU sets (and node sets) as the kernel takes them for sched_setaffinity(), read from and
 * printed in the kernel's list syntax ("0-3,8"), the one vocabulary of every topomap set.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>

#include "cpulist.h"
#include "qemu-direct.h"

/* sched_getaffinity() with a mask smaller than the kernel's fails; no kernel has more. */
#define MAX_KERNEL_BITS (1u << 22)

int
cpus_alloc(struct cpus *c, size_t nbits)
{
	c->set = CPU_ALLOC(nbits);
	if (!c->set)
		return -ENOMEM;
	c->nbits = nbits;
	c->size = CPU_ALLOC_SIZE(nbits);
	CPU_ZERO_S(c->size, c->set);
	return 0;
}

void
cpus_free(struct cpus *c)
{
	if (c->set)
		CPU_FREE(c->set);
	c->set = NULL;
	c->nbits = c->size = 0;
}

int
cpus_parse(struct cpus *c, const char *text)
{
	_cleanup_free_ unsigned long *mask = NULL;
	size_t words = 0;
	int r;

	CPU_ZERO_S(c->size, c->set);
	r = tmap_cpulist_parse(text, &mask, &words);
	if (r < 0)
		return r;
	for (size_t i = 0; i < words * TMAP_CPULIST_WORD_BITS; i++) {
		if (!mask_has(mask, words, i))
			continue;
		if (i >= c->nbits)
			return -ERANGE;
		CPU_SET_S(i, c->size, c->set);
	}
	return 0;
}

/* cpu_set_t is an array of unsigned long (glibc's __cpu_mask), as the library's masks are. */
char *
cpus_format(const struct cpus *c)
{
	char *text = NULL;

	if (tmap_cpulist_format((const unsigned long *)c->set, c->size / sizeof(unsigned long),
				&text) < 0)
		return NULL;
	return text;
}

bool
cpus_equal(const struct cpus *a, const struct cpus *b)
{
	return cpus_included(a, b) && cpus_included(b, a);
}

bool
cpus_included(const struct cpus *a, const struct cpus *b)
{
	for (size_t i = 0; i < a->nbits; i++)
		if (CPU_ISSET_S(i, a->size, a->set) &&
		    (i >= b->nbits || !CPU_ISSET_S(i, b->size, b->set)))
			return false;
	return true;
}

size_t
cpus_kernel_bits(void)
{
	for (size_t nbits = 1024; nbits <= MAX_KERNEL_BITS; nbits *= 2) {
		cpu_set_t *set = CPU_ALLOC(nbits);
		int r;

		if (!set)
			return 0;
		r = sched_getaffinity(0, CPU_ALLOC_SIZE(nbits), set);
		CPU_FREE(set);
		if (r == 0)
			return nbits;
		if (errno != EINVAL)
			return 0;
	}
	return 0;
}

int
cpus_online(struct cpus *c)
{
	_cleanup_close_ int fd = open("/sys/devices/system/cpu/online", O_RDONLY | O_CLOEXEC);
	char text[4096];
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, text, sizeof(text) - 1);
	if (n < 0)
		return -errno;
	if ((size_t)n == sizeof(text) - 1)
		return -EFBIG;
	text[n] = '\0';
	return cpus_parse(c, text);
}
