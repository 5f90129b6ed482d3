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

/* The guest of this name in a plan, or fail the test. */
const struct plan_guest *test_plan_guest(const struct tmap_plan *p, const char *name);

/* A host with this shared pool (NULL: none given) and cpu overcommit (0: the default), or
 * fail the test. */
struct tmap_host *test_host(struct tmap_topology *t, const char *shared, double ratio);

/* Place the first guest of JSON text on h: tmap_host_place()'s answer. */
int test_place(struct tmap_host *h, const char *json, struct tmap_plan **ret,
	       struct tmap_error *err);

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
bool test_write_existing(const char *path, const char *text);

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

/* A name for a new state file: "/tmp/topomap-PREFIX-XXXXXX" made unique, no file left there. */
void test_state_name(char *path, size_t size, const char *prefix);
/* Save what host h holds as the state file at path, or fail the test. */
void test_state_save_host(const char *path, struct tmap_host *h);
/* Remove a state file and its lock file (as cmocka's teardown: returns 0). */
int test_state_remove(const char *path);

/* Write text to path (created or truncated), or fail the test. */
void test_write_file(const char *path, const char *text);
/* A file's text (a static buffer of 64 KiB, valid until the next call), or fail the test. */
char *test_read_file(const char *path);

/* Remove a directory and all below it, without a shell (as cmocka's teardown: 0 or -1). */
int test_remove_tree(const char *dir);

#define RUN(...) test_topomap(NULL, (const char *const[]){__VA_ARGS__, NULL})
#define RUN_STDIN(text, ...) test_topomap(text, (const char *const[]){__VA_ARGS__, NULL})

/* Preload tests/fault-inject.c ($TOPOMAP_FAULT_INJECT) into every program started from now on,
 * after what LD_PRELOAD holds already: before the at-th call of `call` there, `victim` is
 * killed. call NULL ends it, and LD_PRELOAD is what it was. */
void test_inject_fault(const char *call, unsigned at, pid_t victim);

/* Does the allocation state file at path record a guest of this name? A missing file records
 * none; a file that cannot be read fails the test. */
bool test_state_has_guest(const char *path, const char *name);

/* A small text file (up to 64 KiB), its trailing newlines cut, in one of four rotating static
 * buffers (enough for one assertion's arguments); NULL when it cannot be opened. */
const char *test_slurp(const char *path);

struct tmap_session;
/* A session on the host of topology, opened to write the state file at state_path, or fail
 * the test with the library's message. */
struct tmap_session *test_session_write(const char *topology, const char *state_path);

/* tmap_session_apply() of guest g to target t through backend, or fail the test with the
 * library's message; frees t and g. */
struct tmap_target;
struct tmap_guest;
void test_session_apply(struct tmap_session *s, const char *backend, struct tmap_target *t,
			struct tmap_guest *g);

/*
 * A host made fragmented for the make-room tests (issue 18), on this machine's real PUs: on
 * host, y (a pinned 1-vcpu guest of the mock backend, its file y_file, created) is applied
 * with y_reserve reserved, then x (applied through backend to x_target; both freed) with
 * x_free taken out of that reserve; then the reserve goes. The session is opened to write
 * state_path, which must not exist yet.
 */
struct tmap_session *test_room_place(const char *state_path, const char *host,
				     const char *y_file, const char *y_reserve, const char *x_free,
				     const char *backend, struct tmap_target *x_target,
				     struct tmap_guest *x);

/*
 * The make-room tests' fragmented SMT host: one node, two SMT cores, core 0 holding PUs 0
 * and 2, core 1 holding PUs 1 and 3; PUs 0 and 1 are this machine's. y holds PU 2 and x PU 1
 * (test_room_place()). The free PUs, 0 and 3, are on two cores: a guest that wants a whole
 * core fits only once x moves from PU 1 to PU 0.
 */
#define TEST_ROOM_SMT_HOST "synthetic:pack:1 numa:1(memory=4GiB) core:2 pu:2(indexes=0,2,1,3)"
#define test_room_fragmented(state_path, y_file, backend, x_target, x)                           \
	test_room_place(state_path, TEST_ROOM_SMT_HOST, y_file, "0,1,3", "1", backend, x_target, x)

/* Root, and the cgroup v1 cpuset hierarchy mounted at /sys/fs/cgroup/cpuset? Else says on
 * stderr that the test skips (its exit code then: 77). */
bool test_cpuset_v1_here(void);

/* A cpuset cgroup of the test's own in that hierarchy, /sys/fs/cgroup/cpuset/NAME-PID, on
 * PUs 0-1 and node 0, for the cgroup backend, which it puts on the plugin path beside the
 * mock one (a meson test's environment names both). rel: its path under the hierarchy (what
 * --cgroup takes), base: its absolute path. 0, or -1 when it cannot be made. */
int test_cpuset_scratch(const char *name, char *rel, size_t rel_size, char *base,
			size_t base_size);

/* A task's Cpus_allowed_list as the kernel enforces it (/proc/PID/status), in a static
 * buffer valid until the next call; fails the test when the task is not there. */
const char *test_task_cpus(pid_t pid);

/* Start argv with its output on /dev/null, without waiting for it. */
pid_t test_spawn_quiet(char *const argv[]);
/* How long one run of argv takes to its end, in microseconds; it must exit 0. */
long test_run_timed_us(char *const argv[]);
/* Sleep a pseudo-random time below span_us (from *seed), SIGKILL pid and reap it: true when
 * the kill ended it, false when it had exited first. */
bool test_kill_at_random(pid_t pid, uint32_t *seed, long span_us);

#endif
