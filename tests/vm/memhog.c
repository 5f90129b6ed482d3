/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vm-memhog MIB READY-FILE: fault in MIB MiB of anonymous memory, create READY-FILE, then
 * sleep until killed. The nested-guest test uses it as the "container" whose pages must
 * follow its cgroup's cpuset.mems to the planned node; /proc/PID/numa_maps tells where they
 * are. Busybox has nothing that holds a known amount of memory still.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	char *end;
	unsigned long mib;
	size_t len;
	char *mem;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: vm-memhog MIB READY-FILE\n");
		return 2;
	}
	errno = 0;
	mib = strtoul(argv[1], &end, 10);
	if (errno || *end || mib == 0 || mib > 4096) {
		fprintf(stderr, "vm-memhog: '%s' is not a size in MiB from 1 to 4096\n", argv[1]);
		return 2;
	}
	len = (size_t)mib << 20;

	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		fprintf(stderr, "vm-memhog: mmap of %lu MiB: %s\n", mib, strerror(errno));
		return 1;
	}
	/* Not zeroes: a page of zeroes could be merged or left to the shared zero page. */
	for (size_t off = 0; off < len; off += 4096)
		mem[off] = (char)(off >> 12 | 1);

	fd = open(argv[2], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "vm-memhog: cannot create '%s': %s\n", argv[2], strerror(errno));
		return 1;
	}
	close(fd);

	for (;;)
		pause();
}
