/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the qemu-direct backend reads under /proc: a thread's status (its fields and the lists
 * in them) and the process's numa_maps.
 */
#include <stdio.h>

#include "../plugins/qemu-direct/proc.h"

#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = {"Tgid", "Cpus_allowed_list", "Mems_allowed_list",
					   "Name", ""};
	char *text = fuzz_string(data, size), *value;
	struct cpus set;
	FILE *f;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (status_field(text, keys[i], &value) < 0)
			continue;
		/* The lists go to the list parser, as the backend does with them. */
		if (cpus_alloc(&set, 1024) >= 0) {
			(void)cpus_parse(&set, value);
			cpus_free(&set);
		}
		free(value);
	}
	if (cpus_alloc(&set, 64) < 0)
		abort();
	f = fmemopen((void *)data, size ? size : 1, "r");
	if (f) {
		if (!size)
			fgetc(f);
		(void)proc_numa_maps_nodes(f, &set);
		fclose(f);
	}
	cpus_free(&set);
	free(text);
	return 0;
}
