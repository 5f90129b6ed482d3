/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The kernel's list syntax as the library parses it for every backend (tmap_cpulist_parse():
 * "0-3,8" from cpuset files, /sys/devices/system/cpu/online, status lines, plans), and as the
 * qemu-direct backend holds it for sched_setaffinity(). What parses must format back to a
 * list that parses to the same set.
 */
#include "../plugins/qemu-direct/cpus.h"
#include "topomap/backend.h"

#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t widths[] = {1, 64, 1000};
	char *text = fuzz_string(data, size);

	{
		unsigned long *mask = NULL, *again = NULL;
		size_t words = 0, words_again = 0;
		char *list = NULL;

		if (tmap_cpulist_parse(text, &mask, &words) >= 0) {
			if (tmap_cpulist_format(mask, words, &list) < 0 ||
			    tmap_cpulist_parse(list, &again, &words_again) < 0 ||
			    words_again != words || memcmp(mask, again, words * sizeof(*mask)) != 0)
				abort();
			free(list);
			free(again);
			free(mask);
		}
	}
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
