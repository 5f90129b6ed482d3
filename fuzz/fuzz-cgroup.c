/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the cgroup backend reads from the kernel: cpuset lists (cpuset.cpus, .effective),
 * cgroup.controllers, /proc/self/mountinfo escapes, child cgroup names, task status files,
 * and the cgroup path a user gives. The backend's parsers are static: its files are compiled in.
 * The input is split at the first NUL: the first part is the text, the second (if any) a
 * second list for set arithmetic.
 */
#include "../plugins/cgroup/cgroup.c"
#include "../plugins/cgroup/cgroup-hierarchy.c"

#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_string(data, size), *other, *s = NULL, *rel = NULL;
	enum tmap_task_role role;
	unsigned index;
	size_t len = strlen(text);

	other = len < size ? text + len + 1 : (char *)"0-3";

	if (cpulist_union(text, other, &s) >= 0)
		free(s);
	(void)cpulist_included(text, other);
	(void)cpulist_equal(text, other);
	(void)has_word(text, "cpuset", " ");
	(void)has_word(text, "cpuset", ",");
	(void)parse_child_name(text, &role, &index);
	if (status_field(text, "Cpus_allowed_list", &s) == 0)
		free(s);
	if (cgpath_normalize("/sys/fs/cgroup", text, &rel, NULL) >= 0)
		free(rel);
	unescape_octal(text);
	free(text);
	return 0;
}
