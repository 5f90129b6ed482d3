/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>

#include <topomap/session.h>

#include "testlib.h"

extern char **environ;

const char *
test_data(const char *name)
{
	static char path[4096];
	const char *dir = getenv("TOPOMAP_TEST_DATA");

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/data", name);
	return path;
}

/* The tests give hosts as the source strings of the deprecated tmap_topology_new(): some link
 * the shared library alone, which has no other reader of them. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
struct tmap_topology *
test_topology(const char *source)
{
	struct tmap_error err = {0};
	struct tmap_topology *t = NULL;
	int r = tmap_topology_new(source, 0, &t, &err);

	if (r < 0)
		fail_msg("topology '%s': %s", source, err.message);
	return t;
}
#pragma GCC diagnostic pop

struct tmap_guests *
test_guests(const char *json)
{
	struct tmap_error err = {0};
	struct tmap_guests *g = NULL;

	assert_int_equal(tmap_guests_new(&g), 0);
	if (tmap_guests_parse_json(g, json, strlen(json), "test", &err) < 0)
		fail_msg("guests: %s", err.message);
	return g;
}

struct tmap_host *
test_host(struct tmap_topology *t, const char *shared, double ratio)
{
	struct tmap_solve_options o = TMAP_SOLVE_OPTIONS_INIT;
	struct tmap_error err = {0};
	struct tmap_host *h = NULL;

	o.shared = shared;
	o.cpu_overcommit = ratio;
	if (tmap_host_new(t, &o, &h, &err) < 0)
		fail_msg("host: %s", err.message);
	return h;
}

int
test_place(struct tmap_host *h, const char *json, struct tmap_plan **ret, struct tmap_error *err)
{
	struct tmap_guests *g = test_guests(json);
	int r = tmap_host_place(h, tmap_guests_get(g, 0), ret, err);

	tmap_guests_free(g);
	return r;
}

struct tmap_plan *
test_solve(const struct tmap_topology *t, const struct tmap_guests *g, const char *reserve)
{
	struct tmap_solve_options o = TMAP_SOLVE_OPTIONS_INIT;
	struct tmap_error err = {0};
	struct tmap_plan *p = NULL;

	o.reserve = reserve;
	if (tmap_solve(t, g, &o, &p, &err) < 0)
		fail_msg("solve: %s", err.message);
	return p;
}

const struct plan_guest *
test_plan_guest(const struct tmap_plan *p, const char *name)
{
	for (size_t i = 0; i < p->nguests; i++)
		if (streq(p->guests[i].name, name))
			return &p->guests[i];
	fail_msg("no guest '%s' in the plan", name);
	return NULL;
}

static char *
slurp_fd(int fd)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);

	for (;;) {
		ssize_t n;

		if (len + 1 >= cap)
			buf = realloc(buf, cap *= 2);
		n = read(fd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return buf;
}

int
test_run(char *const argv[], const char *stdin_text, char **out, char **err)
{
	int pout[2], perr[2], pin[2], status;
	posix_spawn_file_actions_t fa;
	char *o, *e;
	pid_t pid;

	char state_dir[] = "/tmp/topomap-test-state-XXXXXX", state[64] = "";

	/* Never the machine's own allocation state: unless the test chose one, each run starts
	 * from an empty host in a private state file, removed afterwards. */
	const char *env = getenv("TOPOMAP_STATE"), *fallback = getenv("TOPOMAP_TEST_DEFAULT_STATE");
	char chosen_copy[4096], *chosen = NULL;

	if (env) {
		snprintf(chosen_copy, sizeof(chosen_copy), "%s", env);
		chosen = chosen_copy;
	}
	if ((!chosen || (fallback && strcmp(chosen, fallback) == 0)) && mkdtemp(state_dir)) {
		snprintf(state, sizeof(state), "%s/state.json", state_dir);
		setenv("TOPOMAP_STATE", state, 1);
	}
	if (pipe2(pout, O_CLOEXEC) < 0 || pipe2(perr, O_CLOEXEC) < 0 || pipe2(pin, O_CLOEXEC) < 0)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pin[0], 0);
	posix_spawn_file_actions_adddup2(&fa, pout[1], 1);
	posix_spawn_file_actions_adddup2(&fa, perr[1], 2);
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		if (state[0]) {
			rmdir(state_dir);
			if (chosen)
				setenv("TOPOMAP_STATE", chosen, 1);
			else
				unsetenv("TOPOMAP_STATE");
		}
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(pout[1]);
	close(perr[1]);
	close(pin[0]);
	if (stdin_text) {
		signal(SIGPIPE, SIG_IGN);
		(void)!write(pin[1], stdin_text, strlen(stdin_text));
	}
	close(pin[1]);
	/* stderr is small; read stdout to the end first, then stderr. */
	o = slurp_fd(pout[0]);
	e = slurp_fd(perr[0]);
	close(pout[0]);
	close(perr[0]);
	if (waitpid(pid, &status, 0) < 0)
		status = -1;
	if (state[0]) {
		test_state_remove(state);
		rmdir(state_dir);
		if (chosen)
			setenv("TOPOMAP_STATE", chosen, 1);
		else
			unsetenv("TOPOMAP_STATE");
	}
	if (out)
		*out = o;
	else
		free(o);
	if (err)
		*err = e;
	else
		free(e);
	if (status == -1 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

#define TEST_MAX_ARGS 64

struct test_result
test_topomap(const char *stdin_text, const char *const *args)
{
	const char *bin = getenv("TOPOMAP_BIN");
	char *argv[TEST_MAX_ARGS];
	struct test_result r = {0};
	size_t n = 0;

	if (!bin)
		fail_msg("TOPOMAP_BIN is not set: run the tests with meson test");
	argv[n++] = (char *)bin;
	for (; *args; args++) {
		assert_true(n < TEST_MAX_ARGS - 1);
		argv[n++] = (char *)*args;
	}
	argv[n] = NULL;
	r.status = test_run(argv, stdin_text, &r.out, &r.err);
	assert_non_null(r.out);
	assert_non_null(r.err);
	return r;
}

void
test_result_clear(struct test_result *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

bool
test_state_has_guest(const char *path, const char *name)
{
	char compact[160], spaced[160];
	bool found;
	char *text;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT)
		return false;
	if (fd < 0)
		fail_msg("cannot open the state '%s': %s", path, strerror(errno));
	text = slurp_fd(fd);
	close(fd);
	snprintf(compact, sizeof(compact), "\"name\":\"%s\"", name);
	snprintf(spaced, sizeof(spaced), "\"name\": \"%s\"", name);
	found = strstr(text, compact) || strstr(text, spaced);
	free(text);
	return found;
}

void
test_inject_fault(const char *call, unsigned at, pid_t victim)
{
	static char saved[4096], saved_asan[4096];
	static bool was_set, asan_set, active;
	const char *inject = getenv("TOPOMAP_FAULT_INJECT");
	char with[8192], text[32];

	if (!call) {
		if (active && was_set)
			setenv("LD_PRELOAD", saved, 1);
		else if (active)
			unsetenv("LD_PRELOAD");
		if (active && asan_set)
			setenv("ASAN_OPTIONS", saved_asan, 1);
		else if (active)
			unsetenv("ASAN_OPTIONS");
		unsetenv("TOPOMAP_FAULT_CALL");
		unsetenv("TOPOMAP_FAULT_AT");
		unsetenv("TOPOMAP_FAULT_KILL");
		active = false;
		return;
	}
	if (!inject)
		fail_msg("TOPOMAP_FAULT_INJECT is not set: run the test through meson");
	if (!active) {
		const char *preload = getenv("LD_PRELOAD"), *asan = getenv("ASAN_OPTIONS");

		was_set = preload != NULL;
		snprintf(saved, sizeof(saved), "%s", preload ? preload : "");
		asan_set = asan != NULL;
		snprintf(saved_asan, sizeof(saved_asan), "%s", asan ? asan : "");
	}
	active = true;
	snprintf(with, sizeof(with), "%s%s%s", saved, *saved ? ":" : "", inject);
	setenv("LD_PRELOAD", with, 1);
	/* Under AddressSanitizer, a preloaded module comes before its runtime: allowed here. */
	snprintf(with, sizeof(with), "%s%sverify_asan_link_order=0", saved_asan,
		 *saved_asan ? ":" : "");
	setenv("ASAN_OPTIONS", with, 1);
	setenv("TOPOMAP_FAULT_CALL", call, 1);
	snprintf(text, sizeof(text), "%u", at);
	setenv("TOPOMAP_FAULT_AT", text, 1);
	snprintf(text, sizeof(text), "%d", (int)victim);
	setenv("TOPOMAP_FAULT_KILL", text, 1);
}

/* One allocation state for the whole of a test: what its apply records, its verify reads. */
static char test_state_path[96];

int
test_state_setup(void **state)
{
	(void)state;
	snprintf(test_state_path, sizeof(test_state_path), "/tmp/topomap-test-state-%d-%ld.json",
		 (int)getpid(), (long)time(NULL));
	unlink(test_state_path);
	setenv("TOPOMAP_STATE", test_state_path, 1);
	return 0;
}

int
test_state_teardown(void **state)
{
	(void)state;
	if (!test_state_path[0])
		return 0;
	test_state_remove(test_state_path);
	unsetenv("TOPOMAP_STATE");
	test_state_path[0] = '\0';
	return 0;
}

void
test_state_name(char *path, size_t size, const char *prefix)
{
	int fd;

	assert_true((size_t)snprintf(path, size, "/tmp/topomap-%s-XXXXXX", prefix) < size);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
}

void
test_state_save_host(const char *path, struct tmap_host *h)
{
	struct tmap_state *st = NULL;
	struct tmap_error err = {0};

	if (tmap_state_open(path, TMAP_STATE_WRITE, &st, &err) < 0 ||
	    tmap_state_save(st, h, &err) < 0)
		fail_msg("state '%s': %s", path, err.message);
	tmap_state_close(st);
}

int
test_state_remove(const char *path)
{
	char lock[4200];

	snprintf(lock, sizeof(lock), "%s.lock", path);
	unlink(path);
	unlink(lock);
	return 0;
}

static int
remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int
test_remove_tree(const char *dir)
{
	return nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

void
test_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	if (!f)
		fail_msg("cannot write '%s': %s", path, strerror(errno));
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

char *
test_read_file(const char *path)
{
	static char buf[65536];
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		fail_msg("cannot read '%s': %s", path, strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* ------------------------------------------------------------------------------------- */
/* Killing a command at random points */

pid_t
test_spawn_quiet(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	return pid;
}

static long
now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

long
test_run_timed_us(char *const argv[])
{
	long t0 = now_us();
	pid_t pid = test_spawn_quiet(argv);
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("%s %s did not succeed (status 0x%x)", argv[0], argv[1], status);
	return now_us() - t0;
}

bool
test_kill_at_random(pid_t pid, uint32_t *seed, long span_us)
{
	struct timespec delay;
	int status;
	long us;

	*seed = *seed * 1103515245 + 12345;
	us = (long)((*seed >> 8) % (uint32_t)(span_us > 0 ? span_us : 1));
	delay = (struct timespec){us / 1000000, us % 1000000 * 1000};
	nanosleep(&delay, NULL);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFSIGNALED(status);
}

const char *
test_slurp(const char *path)
{
	static char bufs[4][65536];
	static unsigned next;
	char *buf = bufs[next++ % 4];
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(bufs[0]) - 1, f);
	buf[n] = '\0';
	fclose(f);
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return buf;
}

void
test_session_apply(struct tmap_session *s, const char *backend, struct tmap_target *t,
		   struct tmap_guest *g)
{
	struct tmap_error err = {0};

	if (tmap_session_apply(s, backend, t, g, 0, NULL, NULL, &err) < 0)
		fail_msg("apply %s: %s", tmap_guest_name(g), err.message);
	tmap_target_free(t);
	tmap_guest_free(g);
}

struct tmap_session *
test_session_write(const char *topology, const char *state_path)
{
	struct tmap_session_options o = TMAP_SESSION_OPTIONS_INIT;
	struct tmap_session *s = NULL;
	struct tmap_error err = {0};

	o.topology = topology;
	o.state = state_path;
	o.flags = TMAP_SESSION_WRITE;
	if (tmap_session_open(&o, &s, &err) < 0)
		fail_msg("tmap_session_open: %s", err.message);
	return s;
}

struct tmap_session *
test_room_place(const char *state_path, const char *host, const char *y_file, const char *y_reserve,
		const char *x_free, const char *backend, struct tmap_target *x_target,
		struct tmap_guest *x)
{
	struct tmap_session_options o = TMAP_SESSION_OPTIONS_INIT;
	struct tmap_session *s = NULL;
	struct tmap_target *t = NULL;
	struct tmap_guest *y = NULL;
	struct tmap_error err = {0};
	FILE *f = fopen(y_file, "we");

	assert_non_null(f);
	assert_int_equal(fclose(f), 0);
	o.topology = host;
	o.state = state_path;
	o.flags = TMAP_SESSION_WRITE;
	o.reserve = y_reserve;
	if (tmap_session_open(&o, &s, &err) < 0)
		fail_msg("tmap_session_open: %s", err.message);
	assert_int_equal(tmap_guest_new("y", 1, &y, NULL), 0);
	assert_int_equal(tmap_guest_set_memory_mib(y, 64), 0);
	assert_int_equal(tmap_guest_set_pinned(y, 1), 0);
	assert_int_equal(tmap_target_new(&t), 0);
	assert_int_equal(tmap_target_set(t, "file", y_file), 0);
	test_session_apply(s, "mock", t, y);
	assert_int_equal(tmap_session_set_reserve(s, NULL, x_free, &err), 0);
	test_session_apply(s, backend, x_target, x);
	if (tmap_session_set_reserve(s, NULL, y_reserve, &err) < 0)
		fail_msg("reserve: %s", err.message);
	return s;
}

void
test_expect_exit(int got, int want, const char *what, const char *out, const char *err)
{
	if (got != want)
		fail_msg("%s: exit %d, not %d\nstdout:\n%s\nstderr:\n%s", what, got, want,
			 out ? out : "", err ? err : "");
}

void
test_expect_text(const char *text, const char *needle)
{
	if (!text || !strstr(text, needle))
		fail_msg("'%s' lacks '%s'", text ? text : "(null)", needle);
}

struct tmap_plan *
test_solve_json(const struct tmap_topology *t, const char *json, const char *reserve,
		const char *shared, int want, const char *message)
{
	struct tmap_guests *g = test_guests(json);
	struct tmap_solve_options o = TMAP_SOLVE_OPTIONS_INIT;
	struct tmap_error err = {0};
	struct tmap_plan *p = NULL;
	int r;

	o.reserve = reserve;
	o.shared = shared;
	r = tmap_solve(t, g, &o, &p, &err);
	if (r != want)
		fail_msg("%s: returned %d, not %d (%s)", json, r, want, err.message);
	if (message && strcmp(err.message, message))
		fail_msg("%s:\n  got  '%s'\n  want '%s'", json, err.message, message);
	tmap_guests_free(g);
	return p;
}

bool
test_write_existing(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	close(fd);
	return ok;
}

const char *
test_task_cpus(pid_t pid)
{
	static char value[256];
	char path[64], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	assert_non_null(f);
	value[0] = '\0';
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Cpus_allowed_list: %255s", value) == 1)
			break;
	fclose(f);
	return value;
}

int
test_cpuset_scratch(const char *name, char *rel, size_t rel_size, char *base, size_t base_size)
{
	char path[8192], file[8192];

	snprintf(path, sizeof(path), "%s:%s", getenv("TOPOMAP_MOCK_PLUGIN_DIR"),
		 getenv("TOPOMAP_CGROUP_PLUGIN_DIR"));
	setenv("TOPOMAP_PLUGIN_PATH", path, 1);
	snprintf(rel, rel_size, "%s-%d", name, (int)getpid());
	snprintf(base, base_size, "/sys/fs/cgroup/cpuset/%s", rel);
	if (mkdir(base, 0755) < 0)
		return -1;
	snprintf(file, sizeof(file), "%s/cpuset.mems", base);
	if (!test_write_existing(file, "0"))
		return -1;
	snprintf(file, sizeof(file), "%s/cpuset.cpus", base);
	return test_write_existing(file, "0-1") ? 0 : -1;
}

bool
test_cpuset_v1_here(void)
{
	struct stat st;

	if (geteuid() == 0 && stat("/sys/fs/cgroup/cpuset/cpuset.cpus", &st) == 0)
		return true;
	fprintf(stderr, "skipped: needs root and the cgroup v1 cpuset hierarchy at /sys/fs/cgroup/cpuset\n");
	return false;
}
