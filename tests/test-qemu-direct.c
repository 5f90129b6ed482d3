/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The qemu-direct backend against a real QEMU under TCG, started here with a QMP socket and
 * a pidfile: the guest read from QEMU, apply (through the CLI, as an operator runs it), what
 * /proc says afterwards thread by thread, verify, drift made behind topomap's back, and a
 * rollback after a real failure halfway through (a thread in a cgroup cpuset that refuses the
 * planned PU). A fake QMP server (fake-qmp.c) gives the faults a real QEMU does not produce on
 * demand: garbage, early close, error replies, foreign thread ids, huge replies, silence.
 * After every refusal, every thread's affinity must be what it was.
 *
 * A QEMU killed during an apply, the fault the field has at a random instant, is made at an
 * exact call: by this program's own sched_setaffinity() in front of libc's (the module's calls
 * reach it first), which kills QEMU after vcpu 0 was pinned and starts other processes under
 * the freed thread ids; and, for the real command, by tests/fault-inject.c, preloaded.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <spawn.h>
#include <sys/wait.h>

#include <topomap/session.h>

#include "testlib.h"
#include "qemulib.h"
#include "topomap/backend.h"
#include "fake-qmp.h"

extern char **environ;
/* The backend's parsers of /proc text and lists, compiled into this test too. */
#include "../plugins/qemu-direct/proc.h"
#include "../plugins/qemu-direct/qemu-direct.h"

#define CPUSET_ROOT "/sys/fs/cgroup/cpuset"

struct qemu_run {
	struct test_qemu qemu; /* its directory holds the files below too */
	char fake[100];	       /* a fake QMP server's socket */
	char cgroup[160];      /* a cpuset the test made, or "" */
	char state[100];       /* an allocation state the test chose */
	pid_t arg_pid;	       /* --pid for topomap() when not pid: a QEMU killed and reaped */
	int cg_tid;	       /* the thread moved into it */
	pid_t decoys[4];       /* processes started under the thread ids of a killed QEMU */
	size_t ndecoys;
};

/*
 * The run now in progress, for the signal handler: when meson's timeout (SIGTERM) or ^C ends
 * the test, cmocka's teardown never runs, and QEMU and the cpuset would outlive it.
 */
static struct qemu_run *volatile running;

/* Async-signal-safe: the thread back to the root cpuset, then the cpuset removed. */
static void
cgroup_remove(struct qemu_run *q)
{
	char buf[16];
	int fd, n;

	if (!q->cgroup[0])
		return;
	if (q->cg_tid > 0) {
		fd = open(CPUSET_ROOT "/tasks", O_WRONLY | O_CLOEXEC);
		n = snprintf(buf, sizeof(buf), "%d", q->cg_tid);
		if (fd >= 0) {
			(void)!write(fd, buf, (size_t)n);
			close(fd);
		}
	}
	rmdir(q->cgroup);
	q->cgroup[0] = '\0';
	q->cg_tid = 0;
}

static void
on_signal(int sig)
{
	struct qemu_run *q = running;

	if (q) {
		cgroup_remove(q);
		for (size_t i = 0; i < q->ndecoys; i++)
			kill(q->decoys[i], SIGKILL);
		unlink(q->state);
		unlink(q->fake);
		test_qemu_kill_from_signal(&q->qemu);
	}
	test_pool_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

static int
setup(void **state)
{
	struct qemu_run *q = calloc(1, sizeof(*q));

	if (!q)
		return -1;
	if (test_qemu_init(&q->qemu, "topomap-test-qd") < 0) {
		free(q);
		return -1;
	}
	snprintf(q->fake, sizeof(q->fake), "%s/fake.sock", q->qemu.dir);
	snprintf(q->state, sizeof(q->state), "%s/state.json", q->qemu.dir);
	running = q;
	*state = q;
	return 0;
}

static int
teardown(void **state);

/* For a test that grew the hugepage pool: put it back even when the test failed midway. */
static int
teardown_pool(void **state)
{
	test_pool_restore();
	return teardown(state);
}

static int
teardown(void **state)
{
	struct qemu_run *q = *state;

	if (!q)
		return 0;
	cgroup_remove(q);
	test_qemu_stop(&q->qemu);
	for (size_t i = 0; i < q->ndecoys; i++) {
		kill(q->decoys[i], SIGKILL);
		while (waitpid(q->decoys[i], NULL, 0) < 0 && errno == EINTR)
			;
	}
	running = NULL;
	unlink(q->state);
	{
		char lock[128];

		snprintf(lock, sizeof(lock), "%s.lock", q->state);
		unlink(lock);
	}
	unlink(q->fake);
	test_qemu_cleanup(&q->qemu);
	free(q);
	return 0;
}

/* ------------------------------------------------------------------------------------- */
/* Threads, as /proc says */

static const struct test_thread *
by_name(const struct test_threads *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (streq(s->t[i].name, name))
			return &s->t[i];
	fail_msg("no thread named '%s'", name);
	return NULL;
}

static const struct test_thread *
by_tid(const struct test_threads *s, int tid)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->t[i].tid == tid)
			return &s->t[i];
	return NULL;
}

static unsigned
count_prefix(const struct test_threads *s, const char *prefix)
{
	unsigned n = 0;

	for (size_t i = 0; i < s->n; i++)
		n += strncmp(s->t[i].name, prefix, strlen(prefix)) == 0;
	return n;
}

/* Every thread of before still has its affinity (threads that exited since are skipped). */
static void
assert_unchanged(const struct test_threads *before, pid_t pid)
{
	struct test_threads now;

	test_qemu_threads(pid, &now);
	for (size_t i = 0; i < before->n; i++) {
		const struct test_thread *t = by_tid(&now, before->t[i].tid);

		if (t && !streq(t->cpus, before->t[i].cpus))
			fail_msg("thread %d '%s' has affinity '%s'; it had '%s'", t->tid, t->name,
				 t->cpus, before->t[i].cpus);
	}
}

static void
set_affinity(int tid, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(tid, sizeof(set), &set) < 0)
		fail_msg("sched_setaffinity(%d, %d): %s", tid, cpu, strerror(errno));
}

/* ------------------------------------------------------------------------------------- */
/* QEMU */

/* 2 vcpus, one per guest cell, for a dedicated plan on this 2-PU host. */
static const char *const qemu_two[] = {
    "-name",   "guest=t2,debug-threads=on",
    "-smp",    "2,sockets=1,cores=2,threads=1",
    "-m",      "128",
    "-object", "memory-backend-ram,id=ram0,size=64M,host-nodes=0,policy=bind",
    "-object", "memory-backend-ram,id=ram1,size=64M,host-nodes=0,policy=bind",
    "-numa",   "node,nodeid=0,cpus=0,memdev=ram0",
    "-numa",   "node,nodeid=1,cpus=1,memdev=ram1",
    NULL,
};

/* 4 vcpus (2 cores of 2 threads) in 2 guest cells: the guest. */
static const char *const qemu_four[] = {
    "-name",   "guest=t4,debug-threads=on",
    "-smp",    "4,sockets=1,cores=2,threads=2",
    "-m",      "256",
    "-object", "memory-backend-ram,id=ram0,size=128M,host-nodes=0,policy=bind",
    "-object", "memory-backend-ram,id=ram1,size=128M,host-nodes=0,policy=bind",
    "-numa",   "node,nodeid=0,cpus=0-1,memdev=ram0",
    "-numa",   "node,nodeid=1,cpus=2-3,memdev=ram1",
    NULL,
};

/* 4 vcpus in 4 guest cells of one vcpu: a shared guest whose cells are each as wide as a
 * 1-PU pool (a shared cell floats over its node's whole pool and is never wider). */
static const char *const qemu_four_cells[] = {
    "-name",   "guest=t4,debug-threads=on",
    "-smp",    "4,sockets=1,cores=2,threads=2",
    "-m",      "256",
    "-object", "memory-backend-ram,id=ram0,size=64M,host-nodes=0,policy=bind",
    "-object", "memory-backend-ram,id=ram1,size=64M,host-nodes=0,policy=bind",
    "-object", "memory-backend-ram,id=ram2,size=64M,host-nodes=0,policy=bind",
    "-object", "memory-backend-ram,id=ram3,size=64M,host-nodes=0,policy=bind",
    "-numa",   "node,nodeid=0,cpus=0,memdev=ram0",
    "-numa",   "node,nodeid=1,cpus=1,memdev=ram1",
    "-numa",   "node,nodeid=2,cpus=2,memdev=ram2",
    "-numa",   "node,nodeid=3,cpus=3,memdev=ram3",
    NULL,
};

static pid_t
qemu_start(struct qemu_run *q, const char *const *guest, unsigned vcpus)
{
	const char *argv[64] = {"-accel", "tcg,thread=multi", "-object", "iothread,id=io1"};
	size_t n = 4;
	long deadline = test_now_ms() + TEST_QMP_WAIT_MS;
	char pidbuf[32];
	struct test_threads s;

	/* QEMU starts with its vcpus stopped (-S): their threads exist, and the guest costs no
	 * CPU. */
	for (size_t i = 0; guest[i]; i++) {
		assert_true(n + 1 < ARRAY_SIZE(argv));
		argv[n++] = guest[i];
	}
	argv[n] = NULL;
	test_qemu_start(&q->qemu, argv);
	/* The operator's way: --pid $(cat PIDFILE). It is the pid we started. */
	if (!test_read_small(q->qemu.pidfile, pidbuf, sizeof(pidbuf)))
		fail_msg("QEMU wrote no pidfile '%s'", q->qemu.pidfile);
	assert_int_equal(atoi(pidbuf), q->qemu.pid);
	/* QMP greets from its own thread, possibly before the machine and its vcpu threads are
	 * made: wait for them too (topomap's own queries run after, in QEMU's main loop). */
	for (;;) {
		test_qemu_threads(q->qemu.pid, &s);
		if (count_prefix(&s, "CPU ") == vcpus && count_prefix(&s, "IO io1") == 1)
			break;
		if (test_now_ms() > deadline)
			fail_msg("QEMU has %u vcpu threads after %d ms, not %u",
				 count_prefix(&s, "CPU "), TEST_QMP_WAIT_MS, vcpus);
		usleep(5000);
	}
	return q->qemu.pid;
}

/* ------------------------------------------------------------------------------------- */
/* topomap, the program */

static char *strprintf(const char *fmt, ...) _printf_(1, 2);

static char *
strprintf(const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	assert_non_null(s);
	return s;
}

/* Run topomap with the arguments (NULL-terminated) and the target; stdout and stderr are
 * kept for the caller to free. */
static int
topomap(struct qemu_run *q, const char *sock, char **out, char **err, ...)
{
	const char *bin = getenv("TOPOMAP_BIN");
	char *argv[48] = {(char *)bin};
	char pid[32];
	size_t n = 1;
	va_list ap;
	int r;

	assert_non_null(bin);
	va_start(ap, err);
	for (char *a = va_arg(ap, char *); a; a = va_arg(ap, char *))
		argv[n++] = a;
	va_end(ap);
	snprintf(pid, sizeof(pid), "%d", (int)(q->arg_pid ? q->arg_pid : q->qemu.pid));
	argv[n++] = "--backend=qemu-direct";
	argv[n++] = "--qmp";
	argv[n++] = (char *)sock;
	argv[n++] = "--pid";
	argv[n++] = pid;
	argv[n] = NULL;
	r = test_run(argv, NULL, out, err);
	return r;
}


/* ------------------------------------------------------------------------------------- */
/* topomap, the library */

static struct tmap_backend_module *
load_backend(void)
{
	struct tmap_backend_module *m = NULL;
	struct tmap_error err = {0};

	if (tmap_backend_load("qemu-direct", &m, &err) < 0)
		fail_msg("load: %s", err.message);
	return m;
}

static struct tmap_target *
make_target(const char *sock, const char *pid)
{
	struct tmap_target *t = NULL;

	assert_int_equal(tmap_target_new(&t), 0);
	assert_int_equal(tmap_target_set(t, "qmp", sock), 0);
	assert_int_equal(tmap_target_set(t, "pid", pid), 0);
	return t;
}

static struct tmap_plan *
plan_from_json(const char *topology, const char *json, const char *reserve)
{
	struct tmap_topology *t = test_topology(topology);
	struct tmap_guests *g = test_guests(json);
	struct tmap_plan *p = test_solve(t, g, reserve);

	tmap_guests_free(g);
	tmap_topology_free(t);
	return p;
}

/* tmap_apply on a target; returns its code, the message and the report. */
static int
lib_apply(const char *sock, pid_t pid, const struct tmap_plan *plan, unsigned flags,
	  struct tmap_report **report, struct tmap_error *err)
{
	struct tmap_backend_module *m = load_backend();
	struct tmap_target *t;
	char pidtext[32];
	int r;

	snprintf(pidtext, sizeof(pidtext), "%d", (int)pid);
	t = make_target(sock, pidtext);
	*err = (struct tmap_error){0};
	r = tmap_apply(m, t, plan, 0, flags, report, err);
	tmap_target_free(t);
	tmap_backend_unload(m);
	return r;
}

static bool
report_has(const struct tmap_report *r, const char *needle)
{
	for (size_t i = 0; i < tmap_report_write_count(r); i++)
		if (strstr(tmap_report_write(r, i), needle))
			return true;
	return false;
}

/* ------------------------------------------------------------------------------------- */
/* The guest read from QEMU */

static void
probe_and_backends(void **state)
{
	struct tmap_backend_module *m = load_backend();
	struct tmap_error err = {0};
	char *argv[] = {(char *)getenv("TOPOMAP_BIN"), "backends", NULL};
	char *out = NULL;

	if (tmap_backend_descriptor(m)->probe(&err) < 0)
		fail_msg("probe: %s", err.message);
	tmap_backend_unload(m);
	assert_int_equal(test_run(argv, NULL, &out, NULL), 0);
	test_expect_text(out, "qemu-direct");
	test_expect_text(strstr(out, "qemu-direct"), "ready on this host");
	free(out);
}

/* Start QEMU with these guest options and describe it through the backend, or fail. */
static struct tmap_guest *
describe_qemu(struct qemu_run *q, const char *const *guest, unsigned vcpus)
{
	struct tmap_backend_module *m;
	struct tmap_target *t;
	struct tmap_guest *g = NULL;
	struct tmap_error err = {0};
	char pid[32];

	qemu_start(q, guest, vcpus);
	snprintf(pid, sizeof(pid), "%d", (int)q->qemu.pid);
	m = load_backend();
	t = make_target(q->qemu.sock, pid);
	if (tmap_backend_describe(m, t, &g, &err) < 0)
		fail_msg("describe: %s", err.message);
	tmap_target_free(t);
	tmap_backend_unload(m);
	return g;
}

static void
describe_reads_the_guest(void **state)
{
	struct qemu_run *q = *state;
	struct tmap_guest *g;

	if (!test_have_qemu())
		skip();
	g = describe_qemu(q, qemu_four, 4);
	/* -name guest=t4, -smp 4,sockets=1,cores=2,threads=2, two nodes of 128 MiB, io1. */
	assert_string_equal(tmap_guest_name(g), "t4");
	assert_int_equal(g->vcpus, 4);
	assert_int_equal(g->sockets, 1);
	assert_int_equal(g->cores, 2);
	assert_int_equal(g->threads, 2);
	assert_int_equal(g->memory_mib, 256);
	assert_int_equal(tmap_guest_hugepages(g), 0); /* memory-backend-ram: normal pages */
	assert_int_equal(g->iothreads, 1);
	assert_int_equal(g->ncells, 2);
	assert_int_equal(g->cells[0].memory_mib, 128);
	assert_int_equal(g->cells[1].memory_mib, 128);
	assert_true(hwloc_bitmap_isset(g->cells[0].vcpus, 0) &&
		    hwloc_bitmap_isset(g->cells[0].vcpus, 1));
	assert_int_equal(hwloc_bitmap_weight(g->cells[0].vcpus), 2);
	assert_true(hwloc_bitmap_isset(g->cells[1].vcpus, 2) &&
		    hwloc_bitmap_isset(g->cells[1].vcpus, 3));
	assert_int_equal(hwloc_bitmap_weight(g->cells[1].vcpus), 2);
	tmap_guest_free(g);
}

/* The identity of the QEMU: its pid and its start time, as /proc/PID/stat says. */
static void
identify_names_the_process(void **state)
{
	struct qemu_run *q = *state;
	struct tmap_backend_module *m;
	struct tmap_target *t, *id = NULL;
	struct tmap_error err = {0};
	char pid[32], path[64], stat[1024], *p, *field;

	if (!test_have_qemu())
		skip();
	qemu_start(q, qemu_two, 2);
	snprintf(pid, sizeof(pid), "%d", (int)q->qemu.pid);
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)q->qemu.pid);
	assert_true(test_read_small(path, stat, sizeof(stat)));
	/* Field 22, counted after the command name's ')'. */
	p = strrchr(stat, ')') + 2;
	field = strtok(p, " ");
	for (int i = 3; i < 22; i++)
		field = strtok(NULL, " ");
	m = load_backend();
	t = make_target(q->qemu.sock, pid);
	assert_int_equal(tmap_target_new(&id), 0);
	if (tmap_backend_identify(m, t, id, &err) < 0)
		fail_msg("identify: %s", err.message);
	assert_string_equal(tmap_target_get(id, "pid"), pid);
	assert_string_equal(tmap_target_get(id, "start-time"), field);
	assert_int_equal(tmap_target_count(id), 2);
	tmap_target_free(id);

	/* A QEMU that is gone is no target to identify. */
	test_qemu_stop(&q->qemu);
	assert_int_equal(tmap_target_new(&id), 0);
	assert_int_equal(tmap_backend_identify(m, t, id, &err), -ESRCH);
	tmap_target_free(id);
	tmap_target_free(t);
	tmap_backend_unload(m);
}

/* A QEMU whose memory is in 2 MiB pages (memfd hugetlb, from a pool grown for the test) is
 * described as a guest in 2 MiB pages; one with backends of two page sizes is refused. */
static void
describe_reads_hugepages(void **state)
{
	static const char *const huge[] = {
	    "-name",   "guest=th,debug-threads=on",
	    "-smp",    "2",
	    "-m",      "64",
	    "-object", "memory-backend-memfd,id=m0,size=32M,hugetlb=on,hugetlbsize=2M",
	    "-object", "memory-backend-memfd,id=m1,size=32M,hugetlb=on,hugetlbsize=2M",
	    "-numa",   "node,nodeid=0,cpus=0,memdev=m0",
	    "-numa",   "node,nodeid=1,cpus=1,memdev=m1",
	    NULL,
	};
	static const char *const mixed[] = {
	    "-name",   "guest=tm,debug-threads=on",
	    "-smp",    "2",
	    "-m",      "64",
	    "-object", "memory-backend-memfd,id=m0,size=32M,hugetlb=on,hugetlbsize=2M",
	    "-object", "memory-backend-ram,id=m1,size=32M",
	    "-numa",   "node,nodeid=0,cpus=0,memdev=m0",
	    "-numa",   "node,nodeid=1,cpus=1,memdev=m1",
	    NULL,
	};
	struct qemu_run *q = *state;
	struct tmap_backend_module *m;
	struct tmap_target *t;
	struct tmap_guest *g;
	struct tmap_error err = {0};
	char pid[32];

	if (!test_have_qemu() || !test_pool_grow(32))
		skip();
	g = describe_qemu(q, huge, 2);
	assert_string_equal(tmap_guest_name(g), "th");
	assert_int_equal(tmap_guest_hugepages(g), 2048);
	assert_int_equal(g->memory_mib, 64);
	assert_int_equal(g->ncells, 2);
	tmap_guest_free(g);
	g = NULL;
	test_qemu_stop(&q->qemu);

	qemu_start(q, mixed, 2);
	snprintf(pid, sizeof(pid), "%d", (int)q->qemu.pid);
	m = load_backend();
	t = make_target(q->qemu.sock, pid);
	assert_int_equal(tmap_backend_describe(m, t, &g, &err), -EINVAL);
	assert_null(g);
	/* query-memdev lists backends in no order */
	test_expect_text(err.message, "backs its memory with ");
	test_expect_text(err.message, "2048 KiB pages ('m0')");
	test_expect_text(err.message, "normal pages ('m1')");
	test_expect_text(err.message, "topomap plans one page size per guest: give the guest");
	tmap_target_free(t);
	tmap_backend_unload(m);
	test_pool_restore();
}

/* ------------------------------------------------------------------------------------- */
/* Apply, read back, verify, drift: through the CLI */

static void
apply_described_guest(void **state)
{
	struct qemu_run *q = *state;
	struct tmap_backend_module *m;
	struct tmap_topology *topo;
	struct tmap_guests *guests = NULL;
	struct tmap_guest *g = NULL;
	struct tmap_target *t;
	struct tmap_plan *plan;
	struct tmap_error err = {0};
	struct test_threads before, after;
	char *out = NULL, *errtext = NULL, *line, pid[32];
	const char *emulator;
	int r;

	if (!test_have_qemu())
		skip();
	qemu_start(q, qemu_two, 2);

	/* What topomap will plan: the guest QEMU runs, dedicated, on this host. */
	snprintf(pid, sizeof(pid), "%d", (int)q->qemu.pid);
	m = load_backend();
	t = make_target(q->qemu.sock, pid);
	if (tmap_backend_describe(m, t, &g, &err) < 0)
		fail_msg("describe: %s", err.message);
	assert_int_equal(tmap_guests_new(&guests), 0);
	assert_int_equal(tmap_guests_add(guests, g, NULL), 0);
	topo = test_topology("live");
	plan = test_solve(topo, guests, NULL);
	emulator = tmap_plan_emulator_cpuset(plan, 0);

	/* A dry run says every write and makes none. */
	test_qemu_threads(q->qemu.pid, &before);
	r = topomap(q, q->qemu.sock, &out, &errtext, "apply", "--dry-run", NULL);
	test_expect_exit(r, 0, "apply --dry-run", out, errtext);
	line = strprintf("sched_setaffinity(tid %d 'CPU 1/TCG', '%s')",
			 by_name(&before, "CPU 1/TCG")->tid, tmap_plan_vcpu_cpuset(plan, 0, 1));
	test_expect_text(out, line);
	free(line);
	line = strprintf("migrate_pages(pid %d, from '0', to '%s')", (int)q->qemu.pid,
			 tmap_plan_memory_nodeset(plan, 0));
	test_expect_text(out, line);
	free(line);
	assert_unchanged(&before, q->qemu.pid);
	free(out);
	free(errtext);

	/* The real thing, with no guest given: read from QEMU. */
	r = topomap(q, q->qemu.sock, &out, &errtext, "apply", NULL);
	test_expect_exit(r, 0, "apply", out, errtext);
	test_expect_text(out, "applied and read back");
	free(out);
	free(errtext);
	test_qemu_threads(q->qemu.pid, &after);
	for (size_t i = 0; i < after.n; i++) {
		const struct test_thread *th = &after.t[i];
		unsigned v;

		/* Each vcpu on its PU; everything else, iothread included, on the emulator set. */
		if (sscanf(th->name, "CPU %u/TCG", &v) == 1) {
			assert_true(v < 2);
			if (!streq(th->cpus, tmap_plan_vcpu_cpuset(plan, 0, v)))
				fail_msg("vcpu %u (thread %d) is on '%s', the plan says '%s'", v,
					 th->tid, th->cpus, tmap_plan_vcpu_cpuset(plan, 0, v));
		} else if (!streq(th->cpus, emulator)) {
			fail_msg("thread %d '%s' is on '%s', the emulator set is '%s'", th->tid,
				 th->name, th->cpus, emulator);
		}
	}
	assert_string_not_equal(tmap_plan_vcpu_cpuset(plan, 0, 0),
				tmap_plan_vcpu_cpuset(plan, 0, 1));

	r = topomap(q, q->qemu.sock, &out, &errtext, "verify", NULL);
	test_expect_exit(r, 0, "verify", out, errtext);
	test_expect_text(out, "the plan is in force");
	free(out);
	free(errtext);

	/* Drift behind topomap's back: vcpu 1 onto vcpu 0's PU. */
	set_affinity(by_name(&after, "CPU 1/TCG")->tid, atoi(tmap_plan_vcpu_cpuset(plan, 0, 0)));
	r = topomap(q, q->qemu.sock, &out, &errtext, "verify", NULL);
	test_expect_exit(r, 4, "verify after drift", out, errtext);
	line = strprintf("task %d (vcpu 1)", by_name(&after, "CPU 1/TCG")->tid);
	test_expect_text(out, line);
	free(line);
	test_expect_text(errtext, "drifted from its plan");
	free(out);
	free(errtext);

	/* And apply puts it right again. */
	r = topomap(q, q->qemu.sock, &out, &errtext, "apply", NULL);
	test_expect_exit(r, 0, "apply again", out, errtext);
	free(out);
	free(errtext);
	r = topomap(q, q->qemu.sock, &out, &errtext, "verify", NULL);
	test_expect_exit(r, 0, "verify again", out, errtext);
	free(out);
	free(errtext);

	tmap_plan_free(plan);
	tmap_topology_free(topo);
	tmap_guests_free(guests);
	tmap_target_free(t);
	tmap_backend_unload(m);
}

static void
apply_given_guest(void **state)
{
	struct qemu_run *q = *state;
	struct test_threads before, after;
	char *out = NULL, *errtext = NULL, *line;
	int r;

	if (!test_have_qemu())
		skip();
	qemu_start(q, qemu_four_cells, 4);
	test_qemu_threads(q->qemu.pid, &before);

	/* A guest that is not the one QEMU runs is refused before anything is written. */
	r = topomap(q, q->qemu.sock, &out, &errtext, "apply", "--name", "t4", "--vcpus", "2",
		    "--cpu-policy", "shared", "--iothreads", "1", NULL);
	assert_int_not_equal(r, 0);
	line = strprintf("has 2 vcpus; QEMU process %d runs 4", (int)q->qemu.pid);
	test_expect_text(errtext, line);
	free(line);
	assert_unchanged(&before, q->qemu.pid);
	free(out);
	free(errtext);

	/* 4 vcpus do not fit 2 PUs dedicated: shared, away from PU 0, in cells of one vcpu (no
	 * shared cell is wider than its pool, here PU 1). Every thread then goes to PU 1, a
	 * change /proc shows for each of them. */
	r = topomap(q, q->qemu.sock, &out, &errtext, "apply", "--name", "t4", "--vcpus", "4",
		    "--cpu-policy", "shared", "--iothreads", "1", "--memory", "256", "--cell",
		    "cpus=0", "--cell", "cpus=1", "--cell", "cpus=2", "--cell", "cpus=3",
		    "--cells-share-nodes", "--reserve", "0", NULL);
	test_expect_exit(r, 0, "apply shared", out, errtext);
	free(out);
	free(errtext);
	test_qemu_threads(q->qemu.pid, &after);
	for (size_t i = 0; i < after.n; i++)
		if (!streq(after.t[i].cpus, "1"))
			fail_msg("thread %d '%s' is on '%s', not '1'", after.t[i].tid,
				 after.t[i].name, after.t[i].cpus);

	r = topomap(q, q->qemu.sock, &out, &errtext, "verify", "--name", "t4", "--vcpus", "4",
		    "--cpu-policy", "shared", "--iothreads", "1", "--memory", "256", "--cell",
		    "cpus=0", "--cell", "cpus=1", "--cell", "cpus=2", "--cell", "cpus=3",
		    "--cells-share-nodes", "--reserve", "0", NULL);
	test_expect_exit(r, 0, "verify shared", out, errtext);
	free(out);
	free(errtext);

	/* The iothread moved behind topomap's back. */
	set_affinity(by_name(&after, "IO io1")->tid, 0);
	r = topomap(q, q->qemu.sock, &out, &errtext, "verify", "--name", "t4", "--vcpus", "4",
		    "--cpu-policy", "shared", "--iothreads", "1", "--memory", "256", "--cell",
		    "cpus=0", "--cell", "cpus=1", "--cell", "cpus=2", "--cell", "cpus=3",
		    "--cells-share-nodes", "--reserve", "0", NULL);
	test_expect_exit(r, 4, "verify after drift", out, errtext);
	line = strprintf("task %d (iothread 1): Cpus_allowed_list '0'",
			 by_name(&after, "IO io1")->tid);
	test_expect_text(out, line);
	free(line);
	free(out);
	free(errtext);
}

/*
 * cpu_policy mixed (issue 21) on the QEMU that runs: vcpu 0 dedicated on PU 0, vcpu 1 over the
 * shared pool (PU 1), and the emulator and iothread with it, as /proc shows thread by thread;
 * verify in force, then drift of the shared part and of the dedicated part, each named.
 */
static void
apply_mixed_guest(void **state)
{
	struct qemu_run *q = *state;
	struct test_threads after;
	char *out = NULL, *errtext = NULL, *line;
	int r;

	if (!test_have_qemu())
		skip();
	qemu_start(q, qemu_two, 2);
#define MIXED "--cpu-policy", "mixed", "--dedicated-cpus", "0", "--shared-set", "1"
	r = topomap(q, q->qemu.sock, &out, &errtext, "apply", MIXED, NULL);
	test_expect_exit(r, 0, "apply mixed", out, errtext);
	free(out);
	free(errtext);
	test_qemu_threads(q->qemu.pid, &after);
	for (size_t i = 0; i < after.n; i++) {
		const char *want = streq(after.t[i].name, "CPU 0/TCG") ? "0" : "1";

		if (!streq(after.t[i].cpus, want))
			fail_msg("thread %d '%s' is on '%s', not '%s'", after.t[i].tid,
				 after.t[i].name, after.t[i].cpus, want);
	}
	r = topomap(q, q->qemu.sock, &out, &errtext, "verify", MIXED, NULL);
	test_expect_exit(r, 0, "verify mixed", out, errtext);
	free(out);
	free(errtext);

	for (unsigned v = 0; v < 2; v++) {
		const struct test_thread *th = by_name(&after, v ? "CPU 1/TCG" : "CPU 0/TCG");

		set_affinity(th->tid, (int)(1 - v));
		r = topomap(q, q->qemu.sock, &out, &errtext, "verify", MIXED, NULL);
		test_expect_exit(r, 4, "verify after drift", out, errtext);
		line = strprintf("task %d (vcpu %u): Cpus_allowed_list '%u'", th->tid, v, 1 - v);
		test_expect_text(out, line);
		free(line);
		free(out);
		free(errtext);
		set_affinity(th->tid, (int)v);
	}
	r = topomap(q, q->qemu.sock, &out, &errtext, "verify", MIXED, NULL);
	test_expect_exit(r, 0, "verify put back", out, errtext);
	free(out);
	free(errtext);
#undef MIXED
}

/* ------------------------------------------------------------------------------------- */
/* Rollback */


/*
 * A real failure halfway through: one emulator thread sits in a cgroup v1 cpuset holding PU
 * 0 only, so the kernel refuses to move it to PU 1 (EINVAL) after every vcpu and the iothread
 * have been moved there. Every thread must be back where it was.
 */
static void
rollback_after_failure_midway(void **state)
{
	struct qemu_run *q = *state;
	struct test_threads before;
	struct tmap_report *report = NULL;
	struct tmap_error err = {0};
	struct tmap_plan *plan;
	const struct test_thread *victim = NULL;
	char path[200], tid[16], name[32], *line;
	int r;

	if (!test_have_qemu())
		skip();
	if (geteuid() != 0 || access(CPUSET_ROOT "/tasks", W_OK) < 0) {
		print_message("no writable cgroup v1 cpuset at %s (root needed): skipped\n",
			      CPUSET_ROOT);
		skip();
	}
	qemu_start(q, qemu_four_cells, 4);
	test_qemu_threads(q->qemu.pid, &before);
	/* The emulator thread written last: the one with the highest tid. */
	for (size_t i = 0; i < before.n; i++) {
		const struct test_thread *t = &before.t[i];

		if (strncmp(t->name, "CPU ", 4) == 0 || streq(t->name, "IO io1"))
			continue;
		if (!victim || t->tid > victim->tid)
			victim = t;
	}
	assert_non_null(victim);
	snprintf(name, sizeof(name), "%s", victim->name);
	q->cg_tid = victim->tid;

	snprintf(q->cgroup, sizeof(q->cgroup), CPUSET_ROOT "/topomap-test-qd-%d", (int)getpid());
	if (mkdir(q->cgroup, 0755) < 0)
		fail_msg("mkdir '%s': %s", q->cgroup, strerror(errno));
	snprintf(path, sizeof(path), "%s/cpuset.mems", q->cgroup);
	assert_true(test_write_existing(path, "0"));
	snprintf(path, sizeof(path), "%s/cpuset.cpus", q->cgroup);
	assert_true(test_write_existing(path, "0"));
	snprintf(path, sizeof(path), "%s/tasks", q->cgroup);
	snprintf(tid, sizeof(tid), "%d", q->cg_tid);
	assert_true(test_write_existing(path, tid));
	test_qemu_threads(q->qemu.pid, &before);
	assert_string_equal(by_tid(&before, q->cg_tid)->cpus, "0");

	plan = plan_from_json("live",
			      "{\"name\": \"t4\", \"vcpus\": 4, \"cpu_policy\": \"shared\", "
			      "\"iothreads\": 1, \"memory_mib\": 256, \"cells_share_nodes\": true, "
			      "\"cells\": [{\"cpus\": \"0\"}, {\"cpus\": \"1\"}, {\"cpus\": \"2\"}, {\"cpus\": \"3\"}]}",
			      "0");
	r = lib_apply(q->qemu.sock, q->qemu.pid, plan, 0, &report, &err);
	assert_int_equal(r, -EINVAL);
	line = strprintf(
	    "cannot set the affinity of thread %d '%s' (emulator) to '1': Invalid argument",
	    q->cg_tid, name);
	test_expect_text(err.message, line);
	free(line);
	test_expect_text(err.message, "restored what was there");
	/* It did get halfway: vcpus and the iothread were moved, then moved back. */
	line = strprintf("sched_setaffinity(tid %d 'CPU 3/TCG', '1')",
			 by_name(&before, "CPU 3/TCG")->tid);
	assert_true(report_has(report, line));
	free(line);
	line = strprintf("sched_setaffinity(tid %d 'CPU 3/TCG', '0-1')",
			 by_name(&before, "CPU 3/TCG")->tid);
	assert_true(report_has(report, line));
	free(line);
	line =
	    strprintf("sched_setaffinity(tid %d 'IO io1', '0-1')", by_name(&before, "IO io1")->tid);
	assert_true(report_has(report, line));
	free(line);
	assert_false(report_has(report, "migrate_pages"));
	assert_unchanged(&before, q->qemu.pid);
	tmap_report_free(report);
	tmap_plan_free(plan);
}

/* A plan for another host names PUs this one does not have: refused before any write. */
static void
refuses_plan_for_another_host(void **state)
{
	struct qemu_run *q = *state;
	struct test_threads before;
	struct tmap_report *report = NULL;
	struct tmap_error err = {0};
	struct tmap_plan *plan;

	if (!test_have_qemu())
		skip();
	qemu_start(q, qemu_four, 4);
	test_qemu_threads(q->qemu.pid, &before);
	plan = plan_from_json(
	    "synthetic:pack:1 core:4 pu:1",
	    "{\"name\": \"t4\", \"vcpus\": 4, \"iothreads\": 1, \"memory_mib\": 256, "
	    "\"cells\": [{\"cpus\": \"0-1\"}, {\"cpus\": \"2-3\"}], \"cells_share_nodes\": true}",
	    NULL);
	assert_int_equal(lib_apply(q->qemu.sock, q->qemu.pid, plan, 0, &report, &err), -EINVAL);
	test_expect_text(err.message, "are online here (a plan for another host?)");
	assert_int_equal(tmap_report_write_count(report), 0);
	assert_unchanged(&before, q->qemu.pid);
	tmap_report_free(report);
	tmap_plan_free(plan);
}

/* ------------------------------------------------------------------------------------- */
/* QEMU killed: midway through an apply, and before one */

/* The guest of qemu_two, with the iothread qemu_start() adds. */
static const char *const plan_two_json =
    "{\"name\": \"t2\", \"vcpus\": 2, \"iothreads\": 1, \"memory_mib\": 128, "
    "\"cells\": [{\"cpus\": \"0\"}, {\"cpus\": \"1\"}], \"cells_share_nodes\": true}";

/* The injector of qemu_killed_midway: once `after_tid` is pinned, QEMU is killed and reaped,
 * and each tid of `recycle` goes to a new process pinned to its `decoy_cpu`. */
static struct {
	struct qemu_run *q;
	pid_t after_tid;
	size_t nrecycle;
	pid_t recycle[3];
	int decoy_cpu[3];
	bool fired;
} fault;

/* clone3()'s arguments up to set_tid (CLONE_ARGS_SIZE_VER1). */
struct clone3_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
	uint64_t set_tid, set_tid_size;
};

static int (*libc_setaffinity)(pid_t, size_t, const cpu_set_t *);

/*
 * A process under exactly this pid, pinned to one PU, idle: clone3 with set_tid (root only);
 * where clone3 is missing (valgrind), fork after setting the last pid handed out, until no
 * other process on the machine took it first.
 */
static pid_t
start_decoy(pid_t want, int cpu)
{
	struct clone3_args args = {.exit_signal = SIGCHLD, .set_tid = (uintptr_t)&want,
				   .set_tid_size = 1};
	cpu_set_t set;
	long pid = syscall(SYS_clone3, &args, sizeof(args));

	for (int tries = 0; pid < 0 && errno == ENOSYS && tries < 100; tries++) {
		char last[16];

		snprintf(last, sizeof(last), "%d", (int)want - 1);
		if (!test_write_existing("/proc/sys/kernel/ns_last_pid", last))
			fail_msg("cannot write /proc/sys/kernel/ns_last_pid: %s", strerror(errno));
		pid = fork();
		if (pid > 0 && pid != want) {
			kill((pid_t)pid, SIGKILL);
			waitpid((pid_t)pid, NULL, 0);
			pid = -1;
			errno = ENOSYS;
		}
	}
	if (pid == 0)
		for (;;)
			pause();
	if (pid < 0)
		fail_msg("cannot start a process with pid %d: %s", (int)want, strerror(errno));
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	assert_int_equal(libc_setaffinity((pid_t)pid, sizeof(set), &set), 0);
	return (pid_t)pid;
}

static void
kill_qemu_and_recycle(void)
{
	struct qemu_run *q = fault.q;

	kill(q->qemu.pid, SIGKILL);
	while (waitpid(q->qemu.pid, NULL, 0) < 0 && errno == EINTR)
		;
	q->qemu.pid = -1;
	for (size_t i = 0; i < fault.nrecycle; i++)
		q->decoys[q->ndecoys++] = start_decoy(fault.recycle[i], fault.decoy_cpu[i]);
}

int sched_setaffinity(pid_t pid, size_t size, const cpu_set_t *set);

int
sched_setaffinity(pid_t pid, size_t size, const cpu_set_t *set)
{
	int r, saved;

	if (!libc_setaffinity)
		libc_setaffinity = (int (*)(pid_t, size_t, const cpu_set_t *))dlsym(
		    RTLD_NEXT, "sched_setaffinity");
	r = libc_setaffinity(pid, size, set);
	saved = errno;
	if (fault.after_tid && pid == fault.after_tid && !fault.fired) {
		fault.fired = true;
		kill_qemu_and_recycle();
	}
	errno = saved;
	return r;
}

static void
expect_cpus(pid_t pid, const char *want)
{
	struct test_threads s;

	test_qemu_threads(pid, &s);
	assert_int_equal(s.n, 1);
	if (!streq(s.t[0].cpus, want))
		fail_msg("process %d is on '%s'; it was put on '%s' and nothing may touch it",
			 (int)pid, s.t[0].cpus, want);
}

/*
 * QEMU dies once vcpu 0 is pinned. Its thread ids are free: other processes take those of
 * vcpu 0 and vcpu 1 and QEMU's own pid at once, the worst case for a backend that would go
 * on by number. apply must stop, say that QEMU exited, and touch none of them: not to pin
 * vcpu 1, not to put vcpu 0 back.
 */
static void
qemu_killed_midway(void **state)
{
	struct qemu_run *q = *state;
	struct tmap_report *report = NULL;
	struct tmap_error err = {0};
	struct tmap_plan *plan;
	struct test_threads before, self;
	int vcpu0, vcpu1, pid, plan0, plan1;
	char *line;

	if (!test_have_qemu())
		skip();
	if (geteuid() != 0) {
		print_message("clone3 with set_tid needs root: skipped\n");
		skip();
	}
	qemu_start(q, qemu_two, 2);
	test_qemu_threads(q->qemu.pid, &before);
	test_qemu_threads(getpid(), &self);
	vcpu0 = by_name(&before, "CPU 0/TCG")->tid;
	vcpu1 = by_name(&before, "CPU 1/TCG")->tid;
	pid = (int)q->qemu.pid;
	plan = plan_from_json("live", plan_two_json, NULL);
	plan0 = atoi(tmap_plan_vcpu_cpuset(plan, 0, 0));
	plan1 = atoi(tmap_plan_vcpu_cpuset(plan, 0, 1));
	assert_string_equal(by_tid(&before, vcpu0)->cpus, "0-1");

	/* Each decoy on a PU that neither the plan nor the capture would give it. */
	fault = (typeof(fault)){.q = q, .after_tid = vcpu0, .nrecycle = 3,
				.recycle = {vcpu0, vcpu1, pid},
				.decoy_cpu = {!plan0, !plan1, 0}};
	assert_int_equal(lib_apply(q->qemu.sock, pid, plan, 0, &report, &err), -ESRCH);
	assert_true(fault.fired);
	fault = (typeof(fault)){0};

	line = strprintf("apply: QEMU process %d exited during apply (vcpu 1 thread %d is gone)",
			 pid, vcpu1);
	test_expect_text(err.message, line);
	free(line);
	/* vcpu 0 was pinned, and not put back: its tid is the decoy's now. */
	line = strprintf("sched_setaffinity(tid %d 'CPU 0/TCG', '%d')", vcpu0, plan0);
	assert_true(report_has(report, line));
	free(line);
	line = strprintf("sched_setaffinity(tid %d 'CPU 0/TCG', '0-1')", vcpu0);
	assert_false(report_has(report, line));
	free(line);
	assert_false(report_has(report, "migrate_pages"));
	assert_int_equal(q->ndecoys, 3);
	for (size_t i = 0; i < 3; i++) {
		char cpu[16];

		assert_int_equal(q->decoys[i], i == 0 ? vcpu0 : i == 1 ? vcpu1 : pid);
		snprintf(cpu, sizeof(cpu), "%d", i == 0 ? !plan0 : i == 1 ? !plan1 : 0);
		expect_cpus(q->decoys[i], cpu);
	}
	assert_unchanged(&self, getpid());
	tmap_report_free(report);
	tmap_plan_free(plan);
}

/* Through the command, as an operator runs it: QEMU killed between the pins of vcpu 0 and
 * vcpu 1 (its parent, this test, has not reaped it yet). One line says so, the exit code is
 * 1, and the state does not record the guest. */
static void
qemu_killed_midway_cli(void **state)
{
	struct qemu_run *q = *state;
	struct test_threads before;
	char *out = NULL, *errtext = NULL, *line, *control;
	int r;

	if (!test_have_qemu())
		skip();
	qemu_start(q, qemu_two, 2);
	test_qemu_threads(q->qemu.pid, &before);

	/* The check below can see a guest: a real apply records it. */
	control = strprintf("%s/control.json", q->qemu.dir);
	r = topomap(q, q->qemu.sock, &out, &errtext, "apply", "--state", control, NULL);
	test_expect_exit(r, 0, "apply", out, errtext);
	assert_true(test_state_has_guest(control, "t2"));
	unlink(control);
	free(control);
	control = strprintf("%s/control.json.lock", q->qemu.dir);
	unlink(control);
	free(control);
	free(out);
	free(errtext);

	test_inject_fault("sched_setaffinity", 2, q->qemu.pid);
	r = topomap(q, q->qemu.sock, &out, &errtext, "apply", "--state", q->state, NULL);
	test_inject_fault(NULL, 0, 0);

	test_expect_exit(r, 1, "apply with QEMU killed midway", out, errtext);
	line = strprintf("topomap: apply: QEMU process %d exited during apply (vcpu 1 thread %d is gone)",
			 (int)q->qemu.pid, by_name(&before, "CPU 1/TCG")->tid);
	test_expect_text(errtext, line);
	free(line);
	assert_int_equal(strchr(errtext, '\n') - errtext + 1, (long)strlen(errtext));
	assert_string_equal(out, "");
	assert_false(test_state_has_guest(q->state, "t2"));
	/* Killed for real: only the zombie is left for this test to reap. */
	assert_int_equal(waitpid(q->qemu.pid, &r, WNOHANG), q->qemu.pid);
	assert_true(WIFSIGNALED(r) && WTERMSIG(r) == SIGKILL);
	q->qemu.pid = -1;
	free(out);
	free(errtext);
}

/* A QEMU that is gone before apply opens it, reaped or still a zombie: exit 2, one line that
 * says so, nothing written, nothing recorded. */
static void
qemu_killed_before_apply(void **state)
{
	struct qemu_run *q = *state;
	char *out = NULL, *errtext = NULL, *line;
	siginfo_t si;
	int r;

	if (!test_have_qemu())
		skip();
	for (int reaped = 0; reaped < 2; reaped++) {
		qemu_start(q, qemu_two, 2);
		kill(q->qemu.pid, SIGKILL);
		/* Exited, every thread gone; reaped only the second time. */
		assert_int_equal(waitid(P_PID, (id_t)q->qemu.pid, &si,
					WEXITED | (reaped ? 0 : WNOWAIT)), 0);
		q->arg_pid = q->qemu.pid;
		if (reaped)
			q->qemu.pid = -1;
		r = topomap(q, q->qemu.sock, &out, &errtext, "apply", "--state", q->state, "--name", "t2",
			    "--vcpus", "2", "--iothreads", "1", "--memory", "128", "--cell",
			    "cpus=0", "--cell", "cpus=1", "--cells-share-nodes", NULL);
		test_expect_exit(r, 2, "apply to a QEMU that has exited", out, errtext);
		line = reaped ? strprintf("topomap: open: --pid: there is no process %d (has QEMU exited?): nothing was changed\n",
					  (int)q->arg_pid)
			      : strprintf("topomap: open: --pid: process %d has exited (a zombie its parent has not reaped yet): there is no QEMU to apply to, nothing was changed\n",
					  (int)q->arg_pid);
		assert_string_equal(errtext, line);
		assert_string_equal(out, "");
		assert_false(test_state_has_guest(q->state, "t2"));
		free(line);
		free(out);
		free(errtext);
		/* The guest read from such a target: -ESRCH, which the CLI takes as the user's. */
		{
			struct tmap_backend_module *m = load_backend();
			struct tmap_guest *g = NULL;
			struct tmap_error err = {0};
			struct tmap_target *t;
			char pid[32];

			snprintf(pid, sizeof(pid), "%d", (int)q->arg_pid);
			t = make_target(q->qemu.sock, pid);
			assert_int_equal(tmap_backend_describe(m, t, &g, &err), -ESRCH);
			assert_null(g);
			test_expect_text(err.message, "nothing was changed");
			tmap_target_free(t);
			tmap_backend_unload(m);
		}
		if (!reaped) {
			assert_int_equal(waitpid(q->qemu.pid, NULL, 0), q->qemu.pid);
			q->qemu.pid = -1;
		}
		q->arg_pid = 0;
		unlink(q->qemu.sock);
		unlink(q->qemu.pidfile);
	}
}

/* ------------------------------------------------------------------------------------- */
/* A fake QMP server in front of a real QEMU: thread ids that are not QEMU's */

#define CPUS_ENTRY                                                                                 \
	"{\"thread-id\": %d, \"props\": {\"core-id\": %u, \"thread-id\": 0, \"node-id\": %u, "     \
	"\"socket-id\": 0}, \"qom-path\": \"/machine/unattached/device[%u]\", \"cpu-index\": %u, " \
	"\"target\": \"x86_64\"}"

/* query-cpus-fast as QEMU answers for qemu_two, with the given tids. */
static char *
cpus_reply(int tid0, int tid1)
{
	return strprintf("{\"return\": [" CPUS_ENTRY ", " CPUS_ENTRY "]}", tid0, 0u, 0u, 0u, 0u,
			 tid1, 1u, 1u, 1u, 1u);
}

static char *
iothreads_reply(int tid)
{
	return strprintf(
	    "{\"return\": [{\"poll-shrink\": 0, \"thread-id\": %d, \"aio-max-batch\": 0, "
	    "\"poll-grow\": 0, \"poll-max-ns\": 32768, \"id\": \"io1\"}]}",
	    tid);
}

#define MEMDEVS_REPLY(node)                                                                        \
	"{\"return\": [{\"share\": false, \"reserve\": true, \"prealloc\": false, "                \
	"\"host-nodes\": [" node "], \"size\": 67108864, \"merge\": true, \"dump\": true, "        \
	"\"policy\": \"bind\", \"id\": \"ram1\"}, {\"share\": false, \"reserve\": true, "          \
	"\"prealloc\": false, \"host-nodes\": [0], \"size\": 67108864, \"merge\": true, "          \
	"\"dump\": true, \"policy\": \"bind\", \"id\": \"ram0\"}]}"

#define GREETING                                                                                   \
	"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, "          \
	"\"package\": \"\"}, \"capabilities\": [\"oob\"]}}"

/* Apply through the fake server with these replies, and expect a refusal that changed
 * nothing in QEMU or in this process. */
static void
expect_refused(struct qemu_run *q, const char *cpus, const char *iothreads, int code,
	       const char *needle)
{
	const struct fake_qmp_reply replies[] = {
	    {"qmp_capabilities", "{\"return\": {}}"},
	    {"query-cpus-fast", cpus},
	    {"query-iothreads", iothreads},
	    {"query-memdev", MEMDEVS_REPLY("0")},
	    {NULL, NULL},
	};
	const struct fake_qmp_script script = {.greeting = GREETING, .replies = replies};
	struct test_threads before, self;
	struct tmap_report *report = NULL;
	struct tmap_error err = {0};
	struct tmap_plan *plan = plan_from_json("live", plan_two_json, NULL);
	struct fake_qmp *f = NULL;

	test_qemu_threads(q->qemu.pid, &before);
	test_qemu_threads(getpid(), &self);
	/* The server runs in this process, which stands for QEMU (--pid): QEMU's threads are
	 * the strangers. */
	assert_int_equal(fake_qmp_start(q->fake, &script, &f), 0);
	assert_int_equal(lib_apply(q->fake, getpid(), plan, 0, &report, &err), code);
	fake_qmp_stop(f);
	test_expect_text(err.message, needle);
	assert_int_equal(tmap_report_write_count(report), 0);
	assert_unchanged(&before, q->qemu.pid);
	assert_unchanged(&self, getpid());
	tmap_report_free(report);
	tmap_plan_free(plan);
}

static void
refuses_foreign_thread_ids(void **state)
{
	struct qemu_run *q = *state;
	struct test_threads s;
	char *cpus, *io, *line;
	int self, iothread, stranger;

	if (!test_have_qemu())
		skip();
	qemu_start(q, qemu_two, 2);
	test_qemu_threads(q->qemu.pid, &s);
	/* Real threads, but of another process: QEMU's. */
	stranger = by_name(&s, "CPU 1/TCG")->tid;
	iothread = by_name(&s, "IO io1")->tid;
	/* This process's main thread, which stands for a vcpu of the process --pid names. */
	self = (int)getpid();

	io = iothreads_reply(iothread);
	cpus = cpus_reply(self, stranger);
	line = strprintf("QMP says vcpu 1 runs as thread %d, which is not a thread of process %d",
			 stranger, self);
	expect_refused(q, cpus, io, -EINVAL, line);
	free(line);
	free(cpus);

	/* PID 1, which a parser that read props' "thread-id" (the SMT index 1) would pin. */
	cpus = cpus_reply(1, self);
	expect_refused(q, cpus, io, -EINVAL, "vcpu 0 runs as thread 1, which is not a thread");
	free(cpus);

	/* No top-level "thread-id": props has one, and it is not a tid. */
	expect_refused(
	    q,
	    "{\"return\": [{\"props\": {\"core-id\": 0, \"thread-id\": 1, \"node-id\": 0, "
	    "\"socket-id\": 0}, \"cpu-index\": 0}]}",
	    io, -EBADMSG, "vcpu 0 has no top-level \"thread-id\"");

	/* An iothread that is not the process's (vcpus may share a thread: TCG). */
	cpus = cpus_reply(self, self);
	line = strprintf("iothread 1 runs as thread %d, which is not a thread of process", iothread);
	expect_refused(q, cpus, io, -EINVAL, line);
	free(line);
	free(io);
	/* A tid given twice. */
	io = iothreads_reply(self);
	expect_refused(q, cpus, io, -EBADMSG, "both to vcpu 0 and to iothread 'io1'");
	free(io);
	free(cpus);
}

/*
 * A QMP socket that another process serves than --pid (a second QEMU's, a lying server's) is
 * refused before a word of it is read: SO_PEERCRED names the process listening on it.
 */
static void
refuses_another_processes_socket(void **state)
{
	struct qemu_run *q = *state;
	const struct fake_qmp_reply replies[] = {{NULL, NULL}};
	const struct fake_qmp_script script = {.greeting = GREETING, .replies = replies};
	struct tmap_plan *plan = plan_from_json("live", plan_two_json, NULL);
	struct tmap_report *report = NULL;
	struct tmap_error err = {0};
	struct test_threads before;
	struct fake_qmp *f = NULL;
	char *line, *out = NULL, *errtext = NULL;
	int r;

	if (!test_have_qemu())
		skip();
	qemu_start(q, qemu_two, 2);
	test_qemu_threads(q->qemu.pid, &before);

	/* QEMU's own socket, with this process as --pid. */
	assert_int_equal(lib_apply(q->qemu.sock, getpid(), plan, 0, &report, &err), -EINVAL);
	line = strprintf("open: QMP socket '%s' is served by process %d, not by --pid %d: refused, nothing was changed",
			 q->qemu.sock, (int)q->qemu.pid, (int)getpid());
	test_expect_text(err.message, line);
	free(line);
	assert_int_equal(tmap_report_write_count(report), 0);
	report = tmap_report_free(report);

	/* A server of this process, with QEMU as --pid: through the program, exit 2, and the
	 * server heard no command. */
	assert_int_equal(fake_qmp_start(q->fake, &script, &f), 0);
	r = topomap(q, q->fake, &out, &errtext, "apply", "--name", "t2", "--vcpus", "2",
		    "--iothreads", "1", "--memory", "128", "--cell", "cpus=0", "--cell", "cpus=1", "--cells-share-nodes",
		    NULL);
	assert_int_equal(fake_qmp_stop(f), 0);
	test_expect_exit(r, 2, "apply through another process's socket", out, errtext);
	line = strprintf("is served by process %d, not by --pid %d", (int)getpid(),
			 (int)q->qemu.pid);
	test_expect_text(errtext, line);
	free(line);
	assert_unchanged(&before, q->qemu.pid);
	free(out);
	free(errtext);
	tmap_plan_free(plan);
}

/* A thread of this process that waits for its pipe to close: a vcpu of the QEMU this process
 * stands for. */
struct waiter {
	pthread_t thread;
	int pipe[2];
	volatile int tid;
};

static void *
waiter_run(void *arg)
{
	struct waiter *w = arg;
	char c;

	w->tid = (int)gettid();
	(void)!read(w->pipe[0], &c, 1);
	return NULL;
}

static void
waiter_start(struct waiter *w)
{
	assert_int_equal(pipe2(w->pipe, O_CLOEXEC), 0);
	w->tid = 0;
	assert_int_equal(pthread_create(&w->thread, NULL, waiter_run, w), 0);
	while (!w->tid)
		sched_yield();
}

static void
waiter_stop(struct waiter *w)
{
	close(w->pipe[1]);
	pthread_join(w->thread, NULL);
	close(w->pipe[0]);
}

/*
 * The fake server, standing for a QEMU in this process, with events before every reply and a
 * memory backend bound to a node outside the plan: the dry run works, and says where new
 * pages will go.
 */
static void
fake_server_with_true_answers(void **state)
{
	struct qemu_run *q = *state;
	struct tmap_report *report = NULL;
	struct tmap_error err = {0};
	struct tmap_plan *plan;
	struct fake_qmp *f = NULL;
	struct fake_qmp_reply replies[] = {
	    {"qmp_capabilities", "{\"return\": {}}"},
	    {"query-cpus-fast", NULL},
	    {"query-iothreads", NULL},
	    {"query-memdev", MEMDEVS_REPLY("1")},
	    {NULL, NULL},
	};
	const struct fake_qmp_script script = {
	    .greeting = GREETING,
	    .before_reply = "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, "
			    "\"event\": \"RESUME\"}",
	    .replies = replies,
	};
	struct waiter w;
	char *cpus, *io;

	plan = plan_from_json("live", plan_two_json, NULL);
	/* The server's thread exists only once it runs: start it, then give its tid. */
	assert_int_equal(fake_qmp_start(q->fake, &script, &f), 0);
	waiter_start(&w);
	cpus = cpus_reply((int)getpid(), w.tid);
	io = iothreads_reply(fake_qmp_tid(f));
	replies[1].reply = cpus;
	replies[2].reply = io;
	if (lib_apply(q->fake, getpid(), plan, TMAP_APPLY_DRY_RUN, &report, &err) < 0)
		fail_msg("dry run: %s", err.message);
	fake_qmp_stop(f);
	waiter_stop(&w);
	assert_true(report_has(
	    report, "note: QEMU's memory backend 'ram1' has policy 'bind' on host nodes '1'"));
	assert_false(report_has(report, "'ram0'"));
	tmap_report_free(report);
	tmap_plan_free(plan);
	free(cpus);
	free(io);
}

/* describe with what an older or plainer QEMU says: no -name (or one topomap cannot take),
 * no -numa, no x-query-numa. The tids are threads of this process, which stands for QEMU. */
static void
describe_plain_qemu(void **state)
{
	struct qemu_run *q = *state;
	const char *names[] = {"{\"return\": {}}", "{\"return\": {\"name\": \"my vm\"}}"};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		struct fake_qmp *f = NULL;
		struct fake_qmp_reply replies[] = {
		    {"qmp_capabilities", "{\"return\": {}}"},
		    {"query-cpus-fast", NULL},
		    {"query-iothreads", "{\"return\": []}"},
		    {"query-memdev", "{\"return\": []}"},
		    {"query-name", names[i]},
		    {"query-memory-size-summary", "{\"return\": {\"base-memory\": 536870912}}"},
		    {NULL, NULL},
		};
		const struct fake_qmp_script script = {.greeting = GREETING, .replies = replies};
		struct tmap_backend_module *m = load_backend();
		struct tmap_guest *g = NULL;
		struct tmap_error err = {0};
		struct tmap_target *t;
		char pid[32], name[48], *cpus;

		/* The server's thread exists only once it runs: start it, then say its tid. */
		assert_int_equal(fake_qmp_start(q->fake, &script, &f), 0);
		cpus =
		    strprintf("{\"return\": [{\"thread-id\": %d, \"props\": {\"core-id\": 0, "
			      "\"thread-id\": 0, \"socket-id\": 0}, \"cpu-index\": 0}, "
			      "{\"thread-id\": %d, \"props\": {\"core-id\": 1, \"thread-id\": 0, "
			      "\"socket-id\": 0}, \"cpu-index\": 1}]}",
			      (int)getpid(), fake_qmp_tid(f));
		replies[1].reply = cpus;
		snprintf(pid, sizeof(pid), "%d", (int)getpid());
		t = make_target(q->fake, pid);
		if (tmap_backend_describe(m, t, &g, &err) < 0)
			fail_msg("describe: %s", err.message);
		fake_qmp_stop(f);
		snprintf(name, sizeof(name), "qemu-%d", (int)getpid());
		assert_string_equal(tmap_guest_name(g), name);
		assert_int_equal(g->vcpus, 2);
		assert_int_equal(g->sockets, 1);
		assert_int_equal(g->cores, 2);
		assert_int_equal(g->threads, 1);
		assert_int_equal(g->ncells, 0);
		assert_int_equal(g->memory_mib, 512);
		assert_int_equal(g->iothreads, 0);
		tmap_guest_free(g);
		tmap_target_free(t);
		tmap_backend_unload(m);
		free(cpus);
	}
}

/* ------------------------------------------------------------------------------------- */
/* Protocol faults, no QEMU needed: each one refused with a clear message, nothing written */

struct fault {
	const char *what;
	const char *greeting;
	const char *capabilities; /* the reply to qmp_capabilities */
	const char *cpus;	  /* the reply to query-cpus-fast */
	int code;
	const char *needle;
};

static void
protocol_faults(void **state)
{
	static const struct fault faults[] = {
	    {"garbage greeting", FAKE_QMP_RAW "this is not JSON", NULL, NULL, -EBADMSG,
	     "sent something that is not a QMP message for greeting: 'this is not JSON'"},
	    {"not a QMP greeting", "{\"hello\": 1}", NULL, NULL, -EBADMSG, "is no QMP greeting"},
	    {"close at once", FAKE_QMP_CLOSE, NULL, NULL, -ECONNRESET,
	     "closed the connection before its greeting"},
	    {"close on capabilities", GREETING, FAKE_QMP_CLOSE, NULL, -ECONNRESET,
	     "closed the connection before its reply to 'qmp_capabilities'"},
	    {"close on query-cpus-fast", GREETING, "{\"return\": {}}", FAKE_QMP_CLOSE, -ECONNRESET,
	     "before its reply to 'query-cpus-fast'"},
	    {"error reply", GREETING, "{\"return\": {}}",
	     "{\"error\": {\"class\": \"GenericError\", \"desc\": \"no vcpus for you\"}}",
	     -EREMOTEIO,
	     "QEMU refused 'query-cpus-fast': 'no vcpus for you' (QMP error class 'GenericError')"},
	    {"garbage reply", GREETING, "{\"return\": {}}", FAKE_QMP_RAW "{\"return\": [}",
	     -EBADMSG, "not a QMP message for reply to 'query-cpus-fast'"},
	    {"trailing garbage", GREETING, FAKE_QMP_RAW "{\"return\": {}, \"id\": 1} and more",
	     NULL, -EBADMSG, "not a QMP message for reply to 'qmp_capabilities'"},
	    {"wrong id", GREETING, FAKE_QMP_RAW "{\"return\": {}, \"id\": 7}", NULL, -EBADMSG,
	     "answered something else than 'qmp_capabilities'"},
	    {"huge reply", GREETING, "{\"return\": {}}", FAKE_QMP_HUGE, -EMSGSIZE,
	     "sent more than 1048576 bytes in one message"},
	    {"not a list", GREETING, "{\"return\": {}}", "{\"return\": {}}", -EBADMSG,
	     "'query-cpus-fast' did not return a list"},
	    {"no vcpus", GREETING, "{\"return\": {}}", "{\"return\": []}", -EBADMSG,
	     "reports no vcpu"},
	    {"tid as text", GREETING, "{\"return\": {}}",
	     "{\"return\": [{\"thread-id\": \"1\", \"cpu-index\": 0}]}", -EBADMSG,
	     "vcpu 0 has no top-level \"thread-id\" that is a thread id"},
	    {"neither return nor error", GREETING, "{\"nothing\": 1}", NULL, -EBADMSG,
	     "with neither \"return\" nor \"error\""},
	    /* Last: it waits out the whole timeout. */
	    {"silence", NULL, NULL, NULL, -ETIMEDOUT, "sent no greeting within 5 s"},
	};
	struct qemu_run *q = *state;
	struct test_threads self;
	struct tmap_plan *plan = plan_from_json("live", plan_two_json, NULL);

	test_qemu_threads(getpid(), &self);
	for (size_t i = 0; i < ARRAY_SIZE(faults); i++) {
		const struct fault *ft = &faults[i];
		const struct fake_qmp_reply replies[] = {
		    {"qmp_capabilities", ft->capabilities ? ft->capabilities : FAKE_QMP_CLOSE},
		    {"query-cpus-fast", ft->cpus ? ft->cpus : FAKE_QMP_CLOSE},
		    {NULL, NULL},
		};
		const struct fake_qmp_script script = {.greeting = ft->greeting,
						       .replies = replies};
		struct tmap_report *report = NULL;
		struct tmap_error err = {0};
		struct fake_qmp *f = NULL;
		int r;

		assert_int_equal(fake_qmp_start(q->fake, &script, &f), 0);
		/* This process stands for QEMU: it exists, and nothing may touch it. */
		r = lib_apply(q->fake, getpid(), plan, 0, &report, &err);
		fake_qmp_stop(f);
		if (r != ft->code || !strstr(err.message, ft->needle))
			fail_msg("%s: %d '%s', expected %d and '%s'", ft->what, r, err.message,
				 ft->code, ft->needle);
		assert_int_equal(tmap_report_write_count(report), 0);
		tmap_report_free(report);
	}
	assert_unchanged(&self, getpid());
	tmap_plan_free(plan);
}

/* Targets that are wrong before QMP is even asked. */
static void
bad_targets(void **state)
{
	const struct fake_qmp_script idle = {.greeting = GREETING};
	struct qemu_run *q = *state;
	struct tmap_plan *plan = plan_from_json("live", plan_two_json, NULL);
	struct fake_qmp *f = NULL;
	struct {
		const char *pid;
		int code;
		const char *needle;
	} pids[] = {
	    {"0", -EINVAL, "'0' is not a process id"},
	    {"-5", -EINVAL, "'-5' is not a process id"},
	    {"12abc", -EINVAL, "'12abc' is not a process id"},
	    {"99999999999", -EINVAL, "is not a process id"},
	    {"4194305", -ESRCH, "there is no process 4194305"},
	    {NULL, -EINVAL, "is a thread of process"},
	};
	char thread[16];

	assert_int_equal(fake_qmp_start(q->fake, &idle, &f), 0);
	snprintf(thread, sizeof(thread), "%d", fake_qmp_tid(f));
	for (size_t i = 0; i < ARRAY_SIZE(pids); i++) {
		struct tmap_backend_module *m = load_backend();
		struct tmap_target *t = make_target(q->fake, pids[i].pid ? pids[i].pid : thread);
		struct tmap_error err = {0};
		int r = tmap_apply(m, t, plan, 0, 0, NULL, &err);

		if (r != pids[i].code || !strstr(err.message, pids[i].needle))
			fail_msg("--pid %s: %d '%s'", pids[i].pid ? pids[i].pid : thread, r,
				 err.message);
		tmap_target_free(t);
		tmap_backend_unload(m);
	}
	fake_qmp_stop(f);

	{
		struct tmap_report *report = NULL;
		struct tmap_error err = {0};
		char path[200];

		snprintf(path, sizeof(path), "%s/absent.sock", q->qemu.dir);
		assert_int_equal(lib_apply(path, getpid(), plan, 0, &report, &err), -ENOENT);
		test_expect_text(err.message, "no QMP socket at");
		tmap_report_free(report);
	}
	tmap_plan_free(plan);
}

/* ------------------------------------------------------------------------------------- */
/* The backend's parsers, on text this host cannot produce (it has one node) */

/* query-pci as a q35 QEMU started with the qemu format's devices answers it: vfio-pci devices
 * behind root ports on pxb-pcie expanders (issue 16), found by their QOM "host", each on the
 * numa_node of the expander whose root bus it hangs under; a vfio-pci on the main root bus
 * has no node; a virtio-net with an id has no "host". */
struct qom_entry {
	const char *id, *property, *value; /* value: JSON */
};

static int
table_qom(void *ctx, const char *id, const char *property, json_object **ret)
{
	for (const struct qom_entry *e = ctx; e->id; e++)
		if (streq(e->id, id) && streq(e->property, property)) {
			*ret = json_tokener_parse(e->value);
			return 0;
		}
	*ret = NULL;
	return -ENOENT;
}

static void
vfio_devices_from_query_pci(void **state)
{
	static const char pci[] =
		"[{\"bus\": 0, \"devices\": ["
		"  {\"bus\": 0, \"slot\": 1, \"function\": 0, \"qdev_id\": \"pxb0\"},"
		"  {\"bus\": 0, \"slot\": 2, \"function\": 0, \"qdev_id\": \"pxb1\"},"
		"  {\"bus\": 0, \"slot\": 3, \"function\": 0, \"qdev_id\": \"net0\"},"
		"  {\"bus\": 0, \"slot\": 4, \"function\": 0, \"qdev_id\": \"hostdev9\"}]},"
		" {\"bus\": 128, \"devices\": [{\"bus\": 128, \"slot\": 0, \"function\": 0,"
		"  \"qdev_id\": \"rp0\", \"pci_bridge\": {\"bus\": {\"number\": 129},"
		"  \"devices\": [{\"bus\": 129, \"slot\": 0, \"function\": 0, \"qdev_id\": \"hostdev0\"}]}}]},"
		" {\"bus\": 144, \"devices\": [{\"bus\": 144, \"slot\": 0, \"function\": 0,"
		"  \"qdev_id\": \"rp1\", \"pci_bridge\": {\"bus\": {\"number\": 145},"
		"  \"devices\": [{\"bus\": 145, \"slot\": 0, \"function\": 0, \"qdev_id\": \"hostdev1\"},"
		"   {\"bus\": 145, \"slot\": 1, \"function\": 0, \"qdev_id\": \"\"}]}}]}]";
	static const struct qom_entry qom[] = {
		{"pxb0", "bus_nr", "128"}, {"pxb0", "numa_node", "0"},
		{"pxb1", "bus_nr", "144"}, {"pxb1", "numa_node", "1"},
		{"hostdev0", "host", "\"0000:3b:02.0\""},
		{"hostdev1", "host", "\"0000:86:00.0\""},
		{"hostdev9", "host", "\"0000:17:00.0\""},
		{NULL, NULL, NULL},
	};
	struct qom_lookup lookup = {.get = table_qom, .ctx = (void *)qom};
	struct qemu q = {.task_fd = -1, .pidfd = -1};
	struct tmap_error err = {0};
	json_object *buses = json_tokener_parse(pci);

	(void)state;
	assert_non_null(buses);
	if (qemu_devices_from_pci(buses, &lookup, &q, &err) < 0)
		fail_msg("%s", err.message);
	assert_int_equal(q.ndevices, 3);
	assert_string_equal(q.devices[0].host, "0000:17:00.0");
	assert_int_equal(q.devices[0].node, -1);
	assert_string_equal(q.devices[1].host, "0000:3b:02.0");
	assert_int_equal(q.devices[1].node, 0);
	assert_string_equal(q.devices[2].host, "0000:86:00.0");
	assert_int_equal(q.devices[2].node, 1);
	json_object_put(buses);
	free(q.devices);
}



static void
numa_maps_and_lists(void **state)
{
	static const char maps[] =
	    "55d0c0000000 default file=/usr/bin/qemu-system-x86_64 mapped=900 N0=900 kernelpagesize_kB=4\n"
	    "55d0c1000000 default heap anon=300 dirty=300 N0=100 N1=200 kernelpagesize_kB=4\n"
	    "7f0000000000 bind:1 anon=32768 dirty=32768 N1=32768 kernelpagesize_kB=4\n"
	    "7f1000000000 default file=/usr/lib/libc.so.6 mapped=400 mapmax=90 N3=400\n"
	    "7f2000000000 default stack anon=3 dirty=3 N2=0 N2=3 kernelpagesize_kB=4\n"
	    "7f3000000000 default\n";
	struct cpus nodes = {0}, c = {0};
	char *text;
	FILE *f;

	assert_int_equal(cpus_alloc(&nodes, 64), 0);
	f = fmemopen((void *)maps, sizeof(maps) - 1, "r");
	assert_non_null(f);
	assert_int_equal(proc_numa_maps_nodes(f, &nodes), 0);
	fclose(f);
	/* Anonymous pages only: the files' N0 and N3 are other processes' too. */
	text = cpus_format(&nodes);
	assert_string_equal(text, "0-2");
	free(text);
	cpus_free(&nodes);
	assert_int_equal(cpus_alloc(&nodes, 2), 0);
	f = fmemopen((void *)maps, sizeof(maps) - 1, "r");
	assert_int_equal(proc_numa_maps_nodes(f, &nodes), -ERANGE);
	fclose(f);
	cpus_free(&nodes);

	assert_int_equal(cpus_alloc(&c, 128), 0);
	assert_int_equal(cpus_parse(&c, " 0-3,8,10-11\n"), 0);
	text = cpus_format(&c);
	assert_string_equal(text, "0-3,8,10-11");
	free(text);
	assert_int_equal(cpus_parse(&c, ""), 0);
	text = cpus_format(&c);
	assert_string_equal(text, "");
	free(text);
	assert_int_equal(cpus_parse(&c, "3-"), -EINVAL);
	assert_int_equal(cpus_parse(&c, "3-1"), -EINVAL);
	assert_int_equal(cpus_parse(&c, "1,,2"), -EINVAL);
	assert_int_equal(cpus_parse(&c, "1,"), -EINVAL);
	assert_int_equal(cpus_parse(&c, "-1"), -EINVAL);
	assert_int_equal(cpus_parse(&c, "0x1"), -EINVAL);
	assert_int_equal(cpus_parse(&c, "128"), -ERANGE);
	cpus_free(&c);
}

/* ------------------------------------------------------------------------------------- */
/* Killed at random points: the next writing session makes target and state agree */

/* Every thread of QEMU back on every PU this test may use, as QEMU started. */
static void
reset_threads(pid_t pid)
{
	struct test_threads now;
	cpu_set_t all;

	assert_int_equal(sched_getaffinity(0, sizeof(all), &all), 0);
	test_qemu_threads(pid, &now);
	for (size_t i = 0; i < now.n; i++)
		if (sched_setaffinity(now.t[i].tid, sizeof(all), &all) < 0 && errno != ESRCH)
			fail_msg("sched_setaffinity(%d): %s", now.t[i].tid, strerror(errno));
}

/* topomap apply of the guest QEMU runs, as an operator types it. */
struct apply_cmd {
	char pid[32];
	char *argv[12];
};

static char **
apply_argv(struct apply_cmd *cmd, struct qemu_run *q)
{
	const char *argv[] = {getenv("TOPOMAP_BIN"), "apply", "--backend=qemu-direct", "--qmp",
			      q->qemu.sock, "--pid", cmd->pid, "--topology", "live", "--state",
			      q->state, NULL};

	snprintf(cmd->pid, sizeof(cmd->pid), "%d", (int)q->qemu.pid);
	memcpy(cmd->argv, argv, sizeof(argv));
	return cmd->argv;
}

/*
 * The next writing session settles what a kill left pending; then the recorded guest is in
 * force through its recorded target, or, unrecorded, every thread has the affinity QEMU
 * started with. A recorded guest is released and its threads put back, for the next round.
 */
static unsigned
settle_and_agree(struct qemu_run *q, const struct test_threads *orig)
{
	struct tmap_session_options o = TMAP_SESSION_OPTIONS_INIT;
	struct tmap_session *s = NULL;
	struct tmap_error err = {0};
	unsigned settled;

	o.state = q->state;
	o.flags = TMAP_SESSION_WRITE;
	if (tmap_session_open(&o, &s, &err) < 0)
		fail_msg("the session after a kill does not open: %s", err.message);
	settled = (unsigned)tmap_session_notice_count(s);
	if (tmap_session_lookup(s, "t2")) {
		int r = tmap_session_verify(s, "t2", NULL, &err);

		if (r != 0)
			fail_msg("t2 is recorded but not in force (%d): %s", r, err.message);
		assert_int_equal(tmap_session_release(s, "t2", &err), 0);
		reset_threads(q->qemu.pid);
	} else {
		assert_unchanged(orig, q->qemu.pid);
	}
	tmap_session_close(s);
	return settled;
}

static void
killed_at_random_points(void **state)
{
	struct qemu_run *q = *state;
	unsigned killed = 0, finished = 0, settled = 0;
	uint32_t seed = 20261205;
	struct test_threads orig;
	long span_us = 0;

	if (!test_have_qemu())
		skip();
	qemu_start(q, qemu_two, 2);
	reset_threads(q->qemu.pid);
	test_qemu_threads(q->qemu.pid, &orig);
	for (int i = 0; i < 3; i++) {
		struct apply_cmd cmd;

		span_us += test_run_timed_us(apply_argv(&cmd, q));
		settle_and_agree(q, &orig);
	}
	span_us = span_us / 3 * 6 / 5 + 1;
	for (int round = 0; round < 200; round++) {
		struct apply_cmd cmd;
		bool k = test_kill_at_random(test_spawn_quiet(apply_argv(&cmd, q)), &seed, span_us);

		killed += k;
		finished += !k;
		settled += settle_and_agree(q, &orig);
	}
	print_message("%u applies killed midway, %u finished first (within %ld us), %u pending "
		      "guests settled; QEMU's threads and the state agreed after each\n",
		      killed, finished, span_us, settled);
	assert_true(killed > 20);
}

static int
setup_state(void **state)
{
	test_state_setup(state);
	return setup(state);
}

static int
teardown_state(void **state)
{
	test_state_teardown(state);
	return teardown(state);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(probe_and_backends),
	    cmocka_unit_test(numa_maps_and_lists),
	    cmocka_unit_test(vfio_devices_from_query_pci),
	    cmocka_unit_test_setup_teardown(describe_reads_the_guest, setup, teardown),
	    cmocka_unit_test_setup_teardown(identify_names_the_process, setup, teardown),
	    cmocka_unit_test_setup_teardown(describe_reads_hugepages, setup, teardown_pool),
	    cmocka_unit_test_setup_teardown(apply_described_guest, setup_state, teardown_state),
	    cmocka_unit_test_setup_teardown(apply_given_guest, setup_state, teardown_state),
	    cmocka_unit_test_setup_teardown(apply_mixed_guest, setup_state, teardown_state),
	    cmocka_unit_test_setup_teardown(rollback_after_failure_midway, setup, teardown),
	    cmocka_unit_test_setup_teardown(refuses_plan_for_another_host, setup, teardown),
	    cmocka_unit_test_setup_teardown(qemu_killed_midway, setup, teardown),
	    cmocka_unit_test_setup_teardown(qemu_killed_midway_cli, setup, teardown),
	    cmocka_unit_test_setup_teardown(qemu_killed_before_apply, setup, teardown),
	    cmocka_unit_test_setup_teardown(refuses_foreign_thread_ids, setup, teardown),
	    cmocka_unit_test_setup_teardown(fake_server_with_true_answers, setup, teardown),
	    cmocka_unit_test_setup_teardown(refuses_another_processes_socket, setup, teardown),
	    cmocka_unit_test_setup_teardown(bad_targets, setup, teardown),
	    cmocka_unit_test_setup_teardown(describe_plain_qemu, setup, teardown),
	    cmocka_unit_test_setup_teardown(protocol_faults, setup, teardown),
	    cmocka_unit_test_setup_teardown(killed_at_random_points, setup, teardown),
	};

	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if (access(TEST_QEMU, X_OK) < 0) {
		printf("%s is missing (apt-get install qemu-system-x86): skipped\n", TEST_QEMU);
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
