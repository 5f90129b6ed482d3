/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The kernel's list syntax as the qemu-direct backend parses it ("0-3,8" from cpuset files,
 * /sys/devices/system/cpu/online, status lines, plans). What parses must format back to a
 * list that parses to the same set.
 */
#include "../plugins/qemu-direct/cpulist.h"

#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t widths[] = {1, 64, 1000};
	char *text = fuzz_string(data, size);

	for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
		struct cpus a, b;
		char *list;

		if (cpus_alloc(&a, widths[i]) < 0 || cpus_alloc(&b, widths[i]) < 0)
			abort();
		if (cpus_parse(&a, text) >= 0) {
			list = cpus_format(&a);
			if (!list || cpus_parse(&b, list) < 0 || !cpus_equal(&a, &b) ||
			    !cpus_included(&a, &b))
				abort();
			free(list);
		}
		cpus_free(&a);
		cpus_free(&b);
	}
	free(text);
	return 0;
}
