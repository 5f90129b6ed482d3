/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * CPU sets (and node sets) as the kernel takes them for sched_setaffinity(), read from and
 * printed in the kernel's list syntax ("0-3,8"), the one vocabulary of every topomap set.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>

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
	const char *p = text;
	size_t len;

	CPU_ZERO_S(c->size, c->set);
	while (*p == ' ' || *p == '\t')
		p++;
	len = strlen(p);
	while (len && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\n'))
		len--;
	for (const char *end = p + len; p < end;) {
		unsigned long a, b;
		char *next;

		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		errno = 0;
		a = b = strtoul(p, &next, 10);
		p = next;
		if (p < end && *p == '-') {
			p++;
			if (p >= end || !isdigit((unsigned char)*p))
				return -EINVAL;
			b = strtoul(p, &next, 10);
			p = next;
		}
		if (errno || b < a || a > INT_MAX || b > INT_MAX)
			return -EINVAL;
		if (b >= c->nbits)
			return -ERANGE;
		for (unsigned long i = a; i <= b; i++)
			CPU_SET_S(i, c->size, c->set);
		if (p < end && *p == ',' && p + 1 < end)
			p++;
		else if (p < end)
			return -EINVAL;
	}
	return 0;
}

char *
cpus_format(const struct cpus *c)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	bool first = true;

	if (!f)
		return NULL;
	for (size_t i = 0; i < c->nbits; i++) {
		size_t j = i;

		if (!CPU_ISSET_S(i, c->size, c->set))
			continue;
		while (j + 1 < c->nbits && CPU_ISSET_S(j + 1, c->size, c->set))
			j++;
		if (j == i)
			fprintf(f, "%s%zu", first ? "" : ",", i);
		else
			fprintf(f, "%s%zu-%zu", first ? "" : ",", i, j);
		first = false;
		i = j;
	}
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
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
