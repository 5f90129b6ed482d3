/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A real QEMU for the tests: qemu-system-x86_64 under TCG, its vcpus stopped (-S), with a QMP
 * socket, a pidfile and its output in a log, all in a private directory. Used by the tests of
 * the QEMU format and of the qemu-direct backend; the other tests need no QEMU, so this stays
 * out of testlib.
 */
#ifndef TOPOMAP_QEMULIB_H
#define TOPOMAP_QEMULIB_H

#include <stdbool.h>
#include <sys/types.h>

/* -DTEST_QEMU=... tries the tests' skips where QEMU is missing, without removing it. */
#ifndef TEST_QEMU
#define TEST_QEMU "/usr/bin/qemu-system-x86_64"
/*
 * Grow node 0's pool of 2 MiB pages by `pages` for one test. false, with the pool as it was,
 * when that cannot be done here: not root, no such pool, or no room in the kernel (it finds
 * no contiguous free memory); the test then says why it skips. test_pool_restore() puts the
 * pool back, and is async-signal-safe (for the signal handler of a test killed midway).
 */
bool test_pool_grow(unsigned pages);
void test_pool_restore(void);

#endif
/* QMP answers in about 50 ms here; a loaded CI machine gets a lot more, but not forever. */
#define TEST_QMP_WAIT_MS 10000

struct test_qemu {
	char dir[64];	   /* private directory; a test may keep files of its own in it */
	char sock[100];	   /* QEMU's QMP socket */
	char log[100];	   /* QEMU's stdout and stderr */
	char pidfile[100]; /* QEMU's -pidfile */
	pid_t pid;	   /* the QEMU started, or -1 */
};

/* A monotonic clock in milliseconds, for deadlines. */
long test_now_ms(void);

/* Is QEMU installed? If not, says so, and the test skips. */
bool test_have_qemu(void);

/* Make the private directory /tmp/PREFIX-XXXXXX and name the files in it; no QEMU runs yet.
 * Returns 0, or -1 after printing why (for a cmocka setup to return). */
int test_qemu_init(struct test_qemu *q, const char *prefix);

/*
 * Start QEMU: -machine pc -cpu qemu64 -nodefaults -display none -S, the QMP socket and the
 * pidfile, then args (NULL-terminated, e.g. "-accel", "tcg" and the guest's options). Returns
 * once QMP greets, on a connection closed at once so that the monitor is free for the caller
 * or topomap. Fails the test if QEMU cannot start, exits, or does not greet within
 * TEST_QMP_WAIT_MS. Returns the pid.
 */
pid_t test_qemu_start(struct test_qemu *q, const char *const *args);

/* Connect to a QMP socket; returns the descriptor or -1 (errno set). */
int test_qmp_connect(const char *path);

/* QEMU's own words (the start of its log), for a failure message; a static buffer. */
const char *test_qemu_log(const struct test_qemu *q);

/* Every thread of a process, its name and its affinity as /proc gives them. */
#define TEST_MAX_THREADS 64
struct test_thread {
	int tid;
	char name[32];	/* comm */
	char cpus[64];	/* Cpus_allowed_list */
};
struct test_threads {
	size_t n;
	struct test_thread t[TEST_MAX_THREADS];
};

/* Read a small file whole into buf (NUL-terminated); false when it cannot be read. */
bool test_read_small(const char *path, char *buf, size_t size);

/* The threads of pid now (threads that exit while it reads are left out); fails the test when
 * /proc/PID/task cannot be listed. */
void test_qemu_threads(pid_t pid, struct test_threads *s);

/* Kill and reap QEMU if it runs; remove its socket, log and pidfile. */
void test_qemu_stop(struct test_qemu *q);

/* test_qemu_stop(), then remove the directory (the test removes its own files in it first). */
void test_qemu_cleanup(struct test_qemu *q);

/*
 * From a signal handler, when meson's timeout (SIGTERM) or ^C ends a test and cmocka's
 * teardown never runs: kill QEMU (not reaped), remove its files and the directory.
 * Async-signal-safe.
 */
void test_qemu_kill_from_signal(const struct test_qemu *q);

/*
 * Grow node 0's pool of 2 MiB pages by `pages` for one test. false, with the pool as it was,
 * when that cannot be done here: not root, no such pool, or no room in the kernel (it finds
 * no contiguous free memory); the test then says why it skips. test_pool_restore() puts the
 * pool back, and is async-signal-safe (for the signal handler of a test killed midway).
 */
bool test_pool_grow(unsigned pages);
void test_pool_restore(void);

#endif
