/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The qemu-direct backend: CPU sets (and node sets) as cpu_set_t, read and printed in the
 * kernel's list syntax through the library (cpus.c). */
#ifndef TOPOMAP_QEMU_DIRECT_CPUS_H
#define TOPOMAP_QEMU_DIRECT_CPUS_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>

/* A set as a dynamically sized cpu_set_t: bits 0 .. nbits - 1. */
struct cpus {
	size_t nbits;
	size_t size; /* CPU_ALLOC_SIZE(nbits) */
	cpu_set_t *set;
};

int cpus_alloc(struct cpus *c, size_t nbits);
void cpus_free(struct cpus *c);
/* Strictly "0-3,8" (blanks and a newline around it are dropped); -ERANGE for a bit that does
 * not fit c->nbits, -EINVAL for anything malformed. */
int cpus_parse(struct cpus *c, const char *text);
/* The set in list syntax, malloc()ed ("" for an empty set). */
char *cpus_format(const struct cpus *c);
bool cpus_equal(const struct cpus *a, const struct cpus *b);
/* Is a within b? */
bool cpus_included(const struct cpus *a, const struct cpus *b);
/* The CPUs online now, from /sys/devices/system/cpu/online, into an allocated c. */
int cpus_online(struct cpus *c);
/* How many bits a kernel CPU mask has here: sched_getaffinity() refuses a smaller buffer. */
size_t cpus_kernel_bits(void);

#endif
