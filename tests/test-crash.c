/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Crash safety and concurrency of `topomap apply` on one allocation state, through the real
 * CLI: an apply killed with SIGKILL at any instant leaves a state file that loads, and the
 * next apply converges; many applies at once never give one PU twice. The fake backend
 * (tests/plugins/mock.c) stands in for the target, so that hundreds of applies cost
 * milliseconds; the state file, its lock and the CLI are the real ones.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>

#include <topomap/session.h>

#include "testlib.h"

extern char **environ;

#define HOST "synthetic:pack:1 numa:1(memory=64GiB) core:16 pu:1"

static char dir[] = "/tmp/topomap-crash-XXXXXX";
static char state_path[128];

static int
setup(void **state)
{
	assert_non_null(mkdtemp(dir));
	snprintf(state_path, sizeof(state_path), "%s/state.json", dir);
	setenv("TOPOMAP_PLUGIN_PATH", getenv("TOPOMAP_MOCK_PLUGIN_DIR"), 1);
	/* This test chooses its state file: test_run() must not swap in a private one. */
	setenv("TOPOMAP_STATE", state_path, 1);
	unsetenv("TOPOMAP_TEST_DEFAULT_STATE");
	return 0;
}

/* Everything in the directory: fake targets, the state, its lock, and the temporary files
 * of applies killed mid-write. */
static int
teardown(void **state)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[300];

	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
			unlink(p);
		}
	if (d)
		closedir(d);
	rmdir(dir);
	return 0;
}

/* `topomap apply` of guest gN onto fake target file fM, on this test's host and state. */
struct apply_cmd {
	char name[16], fileopt[256];
	char *argv[16];
};

static char **
apply_argv(struct apply_cmd *c, int guest, int file)
{
	int n = 0;

	snprintf(c->name, sizeof(c->name), "g%d", guest);
	snprintf(c->fileopt, sizeof(c->fileopt), "file=%s/f%d", dir, file);
	c->argv[n++] = getenv("TOPOMAP_BIN");
	c->argv[n++] = "apply";
	c->argv[n++] = "--backend=mock";
	c->argv[n++] = "-o";
	c->argv[n++] = c->fileopt;
	c->argv[n++] = "--state";
	c->argv[n++] = state_path;
	c->argv[n++] = "--topology";
	c->argv[n++] = HOST;
	c->argv[n++] = "--name";
	c->argv[n++] = c->name;
	c->argv[n++] = "--vcpus";
	c->argv[n++] = "1";
	c->argv[n] = NULL;
	return c->argv;
}

static pid_t
spawn_apply(int guest, int file, bool quiet)
{
	posix_spawn_file_actions_t fa;
	struct apply_cmd cmd;
	char **argv = apply_argv(&cmd, guest, file);
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	if (quiet) {
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	}
	assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	return pid;
}

static void
write_file(int i, const char *text)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/f%d", dir, i);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* The state loads into a fresh host (or does not exist yet); returns its guest count. */
static size_t
state_loads(void)
{
	struct tmap_topology *t = test_topology(HOST);
	struct tmap_state *st = NULL;
	struct tmap_host *h = NULL;
	struct tmap_error err = {0};
	size_t n;

	if (tmap_state_open(state_path, 0, &st, &err) < 0)
		fail_msg("state does not open after a kill: %s", err.message);
	assert_int_equal(tmap_host_new(t, NULL, &h, &err), 0);
	if (tmap_state_load(st, h, &err) < 0)
		fail_msg("state does not load after a kill: %s", err.message);
	n = tmap_host_guest_count(h);
	tmap_host_free(h);
	tmap_state_close(st);
	tmap_topology_free(t);
	return n;
}

/* Guests gFIRST..gFIRST+N-1 are all recorded, hold disjoint PUs, and each one's fake target
 * (file fI for guest gI) holds exactly the PUs its record says. */
static void
check_recorded(int first, int n)
{
	_cleanup_bitmap_ hwloc_bitmap_t all = hwloc_bitmap_alloc();
	struct tmap_topology *t = test_topology(HOST);
	struct tmap_state *st = NULL;
	struct tmap_host *h = NULL;
	struct tmap_error err = {0};

	assert_int_equal(tmap_state_open(state_path, 0, &st, &err), 0);
	assert_int_equal(tmap_host_new(t, NULL, &h, &err), 0);
	if (tmap_state_load(st, h, &err) < 0)
		fail_msg("%s", err.message);
	assert_int_equal(tmap_host_guest_count(h), n);
	for (int i = first; i < first + n; i++) {
		_cleanup_bitmap_ hwloc_bitmap_t held = NULL;
		struct tmap_plan *p = NULL;
		char name[16], path[256], target[64] = "";
		const char *cpus;
		FILE *f;

		snprintf(name, sizeof(name), "g%d", i);
		if (tmap_host_guest_plan(h, name, &p, &err) < 0)
			fail_msg("guest '%s' is not recorded: %s", name, err.message);
		cpus = tmap_plan_held_cpuset(p, 0);
		assert_int_equal(bitmap_parse_list(cpus, &held), 0);
		if (hwloc_bitmap_intersects(all, held))
			fail_msg("guest '%s' holds '%s', already given to another guest", name, cpus);
		hwloc_bitmap_or(all, all, held);

		snprintf(path, sizeof(path), "%s/f%d", dir, i);
		assert_non_null(f = fopen(path, "r"));
		assert_non_null(fgets(target, sizeof(target), f));
		fclose(f);
		target[strcspn(target, "\n")] = '\0';
		assert_string_equal(target, cpus);
		tmap_plan_free(p);
	}
	assert_int_equal(hwloc_bitmap_weight(all), n);
	tmap_host_free(h);
	tmap_state_close(st);
	tmap_topology_free(t);
}

/*
 * The next writing command after a kill settles what the kill left pending; then every guest
 * and its fake target agree: a recorded guest's file holds its recorded PU, an unrecorded
 * guest's file is as it was before any apply ("0-15").
 */
static unsigned
agree_after_kill(void)
{
	struct tmap_session_options o = TMAP_SESSION_OPTIONS_INIT;
	struct tmap_session *s = NULL;
	struct tmap_error err = {0};
	unsigned settled;

	o.topology = HOST;
	o.state = state_path;
	o.flags = TMAP_SESSION_WRITE;
	if (tmap_session_open(&o, &s, &err) < 0)
		fail_msg("the session after a kill does not open: %s", err.message);
	settled = (unsigned)tmap_session_notice_count(s);
	for (int i = 0; i < 8; i++) {
		struct tmap_plan *p = NULL;
		char name[16], path[256], target[64] = "";
		FILE *f;

		snprintf(name, sizeof(name), "g%d", i);
		snprintf(path, sizeof(path), "%s/f%d", dir, i);
		assert_non_null(f = fopen(path, "r"));
		if (!fgets(target, sizeof(target), f))
			target[0] = '\0';
		fclose(f);
		if (tmap_session_guest_plan(s, name, &p, NULL) == 0) {
			if (strcmp(target, tmap_plan_cpuset(p, 0)) != 0)
				fail_msg("g%d is recorded on '%s' but its target holds '%s'", i,
					 tmap_plan_cpuset(p, 0), target);
			tmap_plan_free(p);
		} else if (strcmp(target, "0-15") != 0) {
			fail_msg("g%d is not recorded but its target holds '%s'", i, target);
		}
	}
	tmap_session_close(s);
	return settled;
}

/* Temporary files left beside the state by writes that a kill cut short: the state's
 * writer uses one fixed name, so never more than one, and none once a write completes. */
static unsigned
leftover_temporaries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned n = 0;

	while (d && (e = readdir(d)))
		n += strstr(e->d_name, ".tmp") != NULL;
	if (d)
		closedir(d);
	return n;
}

static void
killed_at_random_points(void **state)
{
	uint32_t seed = 20261128;
	unsigned killed = 0, finished = 0, settled = 0;
	char *out = NULL;
	long span_us = 0;

	for (int i = 0; i < 8; i++)
		write_file(i, "0-15");
	/* How long a whole apply takes here (a sanitizer build or a loaded machine is slower):
	 * the kills fall anywhere from before main() to a little after the state's rename. */
	for (int i = 0; i < 3; i++) {
		struct timespec t0, t1;
		int status;
		pid_t pid;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		pid = spawn_apply(i, i, true);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		span_us += (t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000;
	}
	span_us = span_us / 3 * 6 / 5 + 1;
	for (int round = 0; round < 200; round++) {
		if (test_kill_at_random(spawn_apply(round % 8, round % 8, true), &seed, span_us))
			killed++;
		else
			finished++;
		assert_true(state_loads() <= 8);
		settled += agree_after_kill();
	}
	/* Both kinds happened: killed midway, and finished before the kill. */
	print_message("%u applies killed midway, %u finished first (kills within %ld us), "
		      "%u pending guests settled, %u temporary files left\n", killed, finished,
		      span_us, settled, leftover_temporaries());
	assert_true(killed > 20);
	assert_true(finished > 0 || killed == 200);
	assert_true(leftover_temporaries() <= 1);

	/* The next applies converge: each guest placed once, its target and its record agree,
	 * and verify finds every plan in force. */
	for (int i = 0; i < 8; i++) {
		struct apply_cmd cmd;
		char **argv = apply_argv(&cmd, i, i);

		if (test_run(argv, NULL, NULL, &out) != 0)
			fail_msg("apply of g%d after the kills: %s", i, out);
		free(out);
		argv[1] = "verify";
		assert_int_equal(test_run(argv, NULL, &out, NULL), 0);
		assert_non_null(strstr(out, "the plan is in force"));
		free(out);
	}
	check_recorded(0, 8);
	assert_int_equal(leftover_temporaries(), 0);
}

static void
concurrent_applies(void **state)
{
	pid_t pids[16];
	unsigned ok = 0;

	unlink(state_path);
	for (int i = 0; i < 16; i++)
		write_file(32 + i, "0-15");
	for (int i = 0; i < 16; i++)
		pids[i] = spawn_apply(32 + i, 32 + i, true);
	for (int i = 0; i < 16; i++) {
		int status;

		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		ok += WIFEXITED(status) && WEXITSTATUS(status) == 0;
	}
	/* 16 one-vcpu guests, 16 PUs: every apply succeeded and is recorded, no PU twice. */
	assert_int_equal(ok, 16);
	check_recorded(32, 16);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(killed_at_random_points),
		cmocka_unit_test(concurrent_applies),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
