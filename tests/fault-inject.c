/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A fault injector for the real topomap command, loaded with LD_PRELOAD by the tests: it kills
 * a process (a QEMU, a libvirtd) at an exact step of an apply, so that a death that happens at
 * a random instant in the field happens at the same call every run here. It stands in for
 * nothing: every call goes on to the real function, against the real component, which has
 * just lost its process.
 *
 * TOPOMAP_FAULT_CALL  the call to count: "sched_setaffinity" (on another thread than the
 *                     caller's own), "virDomainPinVcpuFlags", "libvirt" (any call of libvirt
 *                     that changes a domain's placement: virDomainPinVcpuFlags,
 *                     virDomainPinEmulator, virDomainPinIOThread, virDomainSetNumaParameters),
 *                     or "write" (to a file of /sys/fs/cgroup or /proc/irq: host isolate's
 *                     writes)
 * TOPOMAP_FAULT_AT    before the Nth such call (from 1) ...
 * TOPOMAP_FAULT_KILL  ... SIGKILL this pid and wait until it has exited (every thread gone);
 *                     0: that call fails instead, as a refusal (a write or another task's
 *                     sched_setaffinity with EIO, a libvirt call with -1, libvirt's error
 *                     being whatever it last set)
 */
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <unistd.h>

#define KILL_WAIT_MS 10000

/* Exported by this module, as the functions it stands in front of are. */
int sched_setaffinity(pid_t pid, size_t size, const cpu_set_t *set);
ssize_t write(int fd, const void *buf, size_t count);
int virDomainPinVcpuFlags(void *dom, unsigned int vcpu, unsigned char *map, int maplen,
			  unsigned int flags);
int virDomainPinEmulator(void *dom, unsigned char *map, int maplen, unsigned int flags);
int virDomainPinIOThread(void *dom, unsigned int id, unsigned char *map, int maplen,
			 unsigned int flags);
int virDomainSetNumaParameters(void *dom, void *params, int nparams, unsigned int flags);

/* 1 when this call is the one to fail (victim 0), else 0 (after the kill, if it was due). */
static int
maybe_kill(const char *call)
{
	static unsigned calls;
	static int done;
	const char *want = getenv("TOPOMAP_FAULT_CALL");
	const char *at = getenv("TOPOMAP_FAULT_AT");
	const char *victim = getenv("TOPOMAP_FAULT_KILL");
	struct pollfd p = {.events = POLLIN};
	pid_t pid;
	int saved = errno;

	if (done || !want || !at || !victim ||
	    (strcmp(want, call) != 0 &&
	     !(strcmp(want, "libvirt") == 0 && strncmp(call, "virDomain", 9) == 0)))
		return 0;
	if (++calls != strtoul(at, NULL, 10))
		return 0;
	done = 1;
	pid = (pid_t)strtol(victim, NULL, 10);
	if (pid == 0)
		return 1;
	p.fd = pidfd_open(pid, 0);
	if (p.fd < 0 || kill(pid, SIGKILL) < 0)
		abort(); /* a fault that cannot be made must not pass for one that was */
	/* Readable once the whole process has exited: no thread of it runs on. */
	while (poll(&p, 1, KILL_WAIT_MS) < 0 && errno == EINTR)
		;
	close(p.fd);
	errno = saved;
	return 0;
}

int
sched_setaffinity(pid_t pid, size_t size, const cpu_set_t *set)
{
	static int (*real)(pid_t, size_t, const cpu_set_t *);

	if (!real)
		real = (int (*)(pid_t, size_t, const cpu_set_t *))dlsym(RTLD_NEXT,
									 "sched_setaffinity");
	if (pid > 0 && pid != getpid() && pid != gettid() && maybe_kill("sched_setaffinity")) {
		errno = EIO;
		return -1;
	}
	return real(pid, size, set);
}

/* The copy of a libvirt function that is loaded by name: the backend module loads libvirt with
 * RTLD_LOCAL, out of RTLD_NEXT's reach. */
static void *
libvirt_sym(const char *name)
{
	void *lib = dlopen("libvirt.so.0", RTLD_LAZY | RTLD_NOLOAD);
	void *sym;

	if (!lib)
		abort();
	sym = dlsym(lib, name);
	dlclose(lib);
	if (!sym)
		abort();
	return sym;
}

int
virDomainPinVcpuFlags(void *dom, unsigned int vcpu, unsigned char *map, int maplen,
		      unsigned int flags)
{
	static int (*real)(void *, unsigned int, unsigned char *, int, unsigned int);

	if (!real)
		real = (int (*)(void *, unsigned int, unsigned char *, int, unsigned int))libvirt_sym(
		    "virDomainPinVcpuFlags");
	if (maybe_kill("virDomainPinVcpuFlags"))
		return -1;
	return real(dom, vcpu, map, maplen, flags);
}

int
virDomainPinEmulator(void *dom, unsigned char *map, int maplen, unsigned int flags)
{
	static int (*real)(void *, unsigned char *, int, unsigned int);

	if (!real)
		real = (int (*)(void *, unsigned char *, int, unsigned int))libvirt_sym(
		    "virDomainPinEmulator");
	if (maybe_kill("virDomainPinEmulator"))
		return -1;
	return real(dom, map, maplen, flags);
}

int
virDomainPinIOThread(void *dom, unsigned int id, unsigned char *map, int maplen,
		     unsigned int flags)
{
	static int (*real)(void *, unsigned int, unsigned char *, int, unsigned int);

	if (!real)
		real = (int (*)(void *, unsigned int, unsigned char *, int, unsigned int))libvirt_sym(
		    "virDomainPinIOThread");
	if (maybe_kill("virDomainPinIOThread"))
		return -1;
	return real(dom, id, map, maplen, flags);
}

int
virDomainSetNumaParameters(void *dom, void *params, int nparams, unsigned int flags)
{
	static int (*real)(void *, void *, int, unsigned int);

	if (!real)
		real = (int (*)(void *, void *, int, unsigned int))libvirt_sym(
		    "virDomainSetNumaParameters");
	if (maybe_kill("virDomainSetNumaParameters"))
		return -1;
	return real(dom, params, nparams, flags);
}

ssize_t
write(int fd, const void *buf, size_t count)
{
	static ssize_t (*real)(int, const void *, size_t);
	char link[64], path[4096];
	ssize_t n;

	if (!real)
		real = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = fd > 2 ? readlink(link, path, sizeof(path) - 1) : -1;
	if (n > 0) {
		path[n] = '\0';
		if ((strncmp(path, "/sys/fs/cgroup/", 15) == 0 ||
		     strncmp(path, "/proc/irq/", 10) == 0) &&
		    maybe_kill("write")) {
			errno = EIO;
			return -1;
		}
	}
	return real(fd, buf, count);
}
