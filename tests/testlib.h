/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers shared by the cmocka tests. */
#ifndef TOPOMAP_TESTLIB_H
#define TOPOMAP_TESTLIB_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "internal.h"

/* Path of a file in tests/data (static buffer, valid until the next call). */
const char *test_data(const char *name);

/* Load a topology or fail the test, printing the library's message. */
struct tmap_topology *test_topology(const char *source);

/* Parse guests from JSON text or fail the test. */
struct tmap_guests *test_guests(const char *json);

/* Solve or fail the test with the message. */
struct tmap_plan *test_solve(const struct tmap_topology *t, const struct tmap_guests *g,
			     const char *reserve);

/* Solve guests given as JSON with a reserve and a shared pool (each may be NULL): fail the
 * test unless tmap_solve() returns want and, when message is not NULL, says it exactly.
 * Returns the plan, or NULL when refused. */
struct tmap_plan *test_solve_json(const struct tmap_topology *t, const char *json,
				  const char *reserve, const char *shared, int want,
				  const char *message);

/* Run a program with arguments, no shell. Captures stdout and stderr (malloc()ed, may be
 * NULL pointers to ignore) and returns its exit status, or -1 when it did not exit. */
int test_run(char *const argv[], const char *stdin_text, char **out, char **err);

/* Write text to an existing file (a cgroup's, say) in one write(): true when all of it was
 * taken, false with errno set. */
bool test_write_file(const char *path, const char *text);

/* Fail the test unless a command exited with want (what: the step, for the message, which
 * shows its stdout and stderr). */
void test_expect_exit(int got, int want, const char *what, const char *out, const char *err);
/* Fail the test unless text holds needle. */
void test_expect_text(const char *text, const char *needle);

/* One run of the built topomap ($TOPOMAP_BIN): exit status, stdout and stderr. */
struct test_result {
	int status;
	char *out;
	char *err;
};

/* Run topomap with the NULL-terminated arguments (argv[0] excluded) and stdin_text (may be
 * NULL); fails the test if it cannot be run. */
struct test_result test_topomap(const char *stdin_text, const char *const *args);
void test_result_clear(struct test_result *r);

/* cmocka setup and teardown: a private allocation state (TOPOMAP_STATE) for one test, so
 * that the verify after an apply reads what the apply recorded. */
int test_state_setup(void **state);
int test_state_teardown(void **state);

#define RUN(...) test_topomap(NULL, (const char *const[]){__VA_ARGS__, NULL})
#define RUN_STDIN(text, ...) test_topomap(text, (const char *const[]){__VA_ARGS__, NULL})

/* Preload tests/fault-inject.c ($TOPOMAP_FAULT_INJECT) into every program started from now on,
 * after what LD_PRELOAD holds already: before the at-th call of `call` there, `victim` is
 * killed. call NULL ends it, and LD_PRELOAD is what it was. */
void test_inject_fault(const char *call, unsigned at, pid_t victim);

/* Does the allocation state file at path record a guest of this name? A missing file records
 * none; a file that cannot be read fails the test. */
bool test_state_has_guest(const char *path, const char *name);

/* Start argv with its output on /dev/null, without waiting for it. */
pid_t test_spawn_quiet(char *const argv[]);
/* How long one run of argv takes to its end, in microseconds; it must exit 0. */
long test_run_timed_us(char *const argv[]);
/* Sleep a pseudo-random time below span_us (from *seed), SIGKILL pid and reap it: true when
 * the kill ended it, false when it had exited first. */
bool test_kill_at_random(pid_t pid, uint32_t *seed, long span_us);

#endif
