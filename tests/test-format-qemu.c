/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The QEMU format against a real QEMU. Each guest's option lines become argv entries (no
 * shell), QEMU starts under TCG with a QMP socket, and what QEMU reports over QMP (memory
 * backends, vcpus and their NUMA node, iothreads, memory size) must be what the plan says.
 */
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include "testlib.h"
#include "qemulib.h"

struct qemu_run {
	struct test_qemu qemu;
	int fd; /* our QMP connection */
	char buf[1 << 16];
	size_t len;
};

/*
 * The QEMU running now, for the signal handler: when meson's timeout (SIGTERM) or ^C ends the
 * test, cmocka's teardown never runs, and QEMU would outlive it.
 */
static struct qemu_run *volatile running;

static void
on_signal(int sig)
{
	struct qemu_run *q = running;

	if (q && q->qemu.pid > 0)
		test_qemu_kill_from_signal(&q->qemu);
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
	q->fd = -1;
	if (test_qemu_init(&q->qemu, "topomap-test-qemu") < 0) {
		free(q);
		return -1;
	}
	*state = q;
	return 0;
}

/* Stop QEMU if it runs; used after each guest and, on any failure, by the teardown. */
static void
qemu_stop(struct qemu_run *q)
{
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
	test_qemu_stop(&q->qemu);
	running = NULL;
	q->len = 0;
}

static int
teardown(void **state)
{
	struct qemu_run *q = *state;

	if (!q)
		return 0;
	qemu_stop(q);
	test_qemu_cleanup(&q->qemu);
	free(q);
	return 0;
}

/* ------------------------------------------------------------------------------------- */
/* The format's lines into argv */

struct guest_args {
	size_t n;
	char *v[64];
};

/* A value QEMU gets as is and a shell would pass unchanged without quotes. */
static bool
shell_safe(const char *s)
{
	if (!*s)
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789,=._:-") ==
	       strlen(s);
}

/* Split the output at its "# NAME" lines, one block per plan guest, in order. */
static void
split_output(const struct tmap_plan *plan, char *text, struct guest_args *args)
{
	size_t cur = 0, next = 0;
	char *save = NULL;

	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *sp;

		if (line[0] == '#') {
			if (next < tmap_plan_guest_count(plan) && strncmp(line, "# ", 2) == 0 &&
			    streq(line + 2, tmap_plan_guest_name(plan, next)))
				cur = ++next;
			continue;
		}
		if (cur == 0)
			fail_msg("option line '%s' before the first guest", line);
		if (line[0] != '-')
			fail_msg("line '%s' is neither a comment nor an option", line);
		sp = strchr(line, ' ');
		if (sp)
			*sp++ = '\0';
		if (!shell_safe(line + 1) || (sp && !shell_safe(sp)))
			fail_msg("line '%s %s' needs quoting", line, sp ? sp : "");
		assert_true(args[cur - 1].n + 2 < ARRAY_SIZE(args[cur - 1].v));
		args[cur - 1].v[args[cur - 1].n++] = line;
		if (sp)
			args[cur - 1].v[args[cur - 1].n++] = sp;
	}
	assert_int_equal(next, tmap_plan_guest_count(plan));
}

/* ------------------------------------------------------------------------------------- */
/* QEMU and QMP */

static void
qemu_start(struct qemu_run *q, const struct guest_args *a)
{
	const char *argv[ARRAY_SIZE(a->v) + 3] = {"-accel", "tcg"};
	size_t n = 2;

	/* QEMU starts with its vcpus stopped (-S): their configuration is all this test looks
	 * at. */
	for (size_t i = 0; i < a->n; i++)
		argv[n++] = a->v[i];
	argv[n] = NULL;
	running = q;
	test_qemu_start(&q->qemu, argv);
	q->fd = test_qmp_connect(q->qemu.sock);
	if (q->fd < 0)
		fail_msg("cannot connect to QMP at '%s': %s", q->qemu.sock, strerror(errno));
}

/* The next JSON object QEMU sends, events skipped. */
static json_object *
qmp_read(struct qemu_run *q)
{
	for (;;) {
		char *nl = memchr(q->buf, '\n', q->len);
		struct pollfd p = {.fd = q->fd, .events = POLLIN};
		ssize_t n;

		if (nl) {
			json_object *o;

			*nl = '\0';
			o = json_tokener_parse(q->buf);
			if (!o)
				fail_msg("QMP sent something that is not JSON: '%s'", q->buf);
			q->len -= (size_t)(nl + 1 - q->buf);
			memmove(q->buf, nl + 1, q->len);
			if (json_object_object_get_ex(o, "event", NULL)) {
				json_object_put(o);
				continue;
			}
			return o;
		}
		if (q->len + 1 >= sizeof(q->buf))
			fail_msg("QMP line longer than %zu bytes", sizeof(q->buf));
		if (poll(&p, 1, TEST_QMP_WAIT_MS) <= 0)
			fail_msg("QMP did not answer within %d ms:\n%s", TEST_QMP_WAIT_MS,
				 test_qemu_log(&q->qemu));
		n = read(q->fd, q->buf + q->len, sizeof(q->buf) - q->len - 1);
		if (n <= 0)
			fail_msg("QMP connection closed:\n%s", test_qemu_log(&q->qemu));
		q->len += (size_t)n;
	}
}

/* Run a command; the caller owns the reply and reads its "return". */
static json_object *
qmp_execute(struct qemu_run *q, const char *command, json_object **ret)
{
	char line[128];
	json_object *reply, *error;
	int len = snprintf(line, sizeof(line), "{\"execute\":\"%s\"}\n", command);

	/* send(), not write(): a QEMU that died must fail the test, not SIGPIPE it. */
	assert_int_equal(send(q->fd, line, (size_t)len, MSG_NOSIGNAL), len);
	reply = qmp_read(q);
	if (json_object_object_get_ex(reply, "error", &error))
		fail_msg("QMP %s: %s", command, json_object_to_json_string(error));
	if (!json_object_object_get_ex(reply, "return", ret))
		fail_msg("QMP %s: no return in %s", command, json_object_to_json_string(reply));
	return reply;
}

static void
qmp_connect(struct qemu_run *q)
{
	json_object *greeting = qmp_read(q), *ret;

	if (!json_object_object_get_ex(greeting, "QMP", NULL))
		fail_msg("no QMP greeting: %s", json_object_to_json_string(greeting));
	json_object_put(greeting);
	json_object_put(qmp_execute(q, "qmp_capabilities", &ret));
}

static int64_t
get_int(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("no '%s' in %s", key, json_object_to_json_string(o));
	return json_object_get_int64(v);
}

static const char *
get_str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("no '%s' in %s", key, json_object_to_json_string(o));
	return json_object_get_string(v);
}

/* ------------------------------------------------------------------------------------- */
/* The checks */

/* QEMU's name for a memory mode ("default": no policy; cpuset.mems does the work). */
static const char *
qemu_policy(enum tmap_memory_mode m)
{
	switch (m) {
	case TMAP_MEMORY_STRICT:
		return "bind";
	case TMAP_MEMORY_PREFERRED:
		return "preferred";
	case TMAP_MEMORY_INTERLEAVE:
		return "interleave";
	case TMAP_MEMORY_RESTRICTIVE:
		return "default";
	}
	fail_msg("unknown memory mode %d", (int)m);
	return NULL;
}

static void
check_memdevs(struct qemu_run *q, const struct tmap_plan *plan, size_t gi, const char *policy)
{
	const struct plan_guest *g = &plan->guests[gi];
	json_object *ret, *reply = qmp_execute(q, "query-memdev", &ret);
	uint64_t total = 0;

	assert_int_equal(json_object_array_length(ret), tmap_plan_cell_count(plan, gi));
	for (unsigned c = 0; c < tmap_plan_cell_count(plan, gi); c++) {
		json_object *dev = NULL, *nodes;
		char id[32];

		snprintf(id, sizeof(id), "ram-node%u", c);
		for (size_t i = 0; i < json_object_array_length(ret); i++)
			if (streq(get_str(json_object_array_get_idx(ret, i), "id"), id))
				dev = json_object_array_get_idx(ret, i);
		if (!dev)
			fail_msg("guest '%s': no memdev '%s'", g->name, id);
		assert_int_equal(get_int(dev, "size"), g->cells[c].memory_mib << 20);
		total += g->cells[c].memory_mib;
		assert_string_equal(get_str(dev, "policy"), policy);
		assert_true(json_object_object_get_ex(dev, "host-nodes", &nodes));
		if (g->memory_mode == TMAP_MEMORY_RESTRICTIVE) {
			assert_int_equal(json_object_array_length(nodes), 0);
		} else {
			assert_int_equal(json_object_array_length(nodes), 1);
			assert_int_equal(json_object_get_int(json_object_array_get_idx(nodes, 0)),
					 tmap_plan_cell_node(plan, gi, c));
		}
	}
	assert_int_equal(total, g->memory_mib);
	json_object_put(reply);

	reply = qmp_execute(q, "query-memory-size-summary", &ret);
	assert_int_equal(get_int(ret, "base-memory"), g->memory_mib << 20);
	json_object_put(reply);
}

static void
check_vcpus(struct qemu_run *q, const struct tmap_plan *plan, size_t gi)
{
	const struct plan_guest *g = &plan->guests[gi];
	json_object *ret, *reply = qmp_execute(q, "query-cpus-fast", &ret);
	_cleanup_bitmap_ hwloc_bitmap_t seen = hwloc_bitmap_alloc(), slots = hwloc_bitmap_alloc();

	assert_int_equal(json_object_array_length(ret), g->vcpus);
	for (size_t i = 0; i < json_object_array_length(ret); i++) {
		json_object *cpu = json_object_array_get_idx(ret, i), *props;
		int64_t v = get_int(cpu, "cpu-index");
		int64_t socket, core, thread;
		int cell = -1;

		assert_true(v >= 0 && v < (int64_t)g->vcpus);
		assert_false(hwloc_bitmap_isset(seen, (unsigned)v));
		hwloc_bitmap_set(seen, (unsigned)v);
		for (unsigned c = 0; c < g->ncells; c++)
			if (hwloc_bitmap_isset(g->cells[c].vcpus, (unsigned)v))
				cell = (int)c;
		assert_true(json_object_object_get_ex(cpu, "props", &props));
		if (get_int(props, "node-id") != cell)
			fail_msg("guest '%s': QEMU put vcpu %lld on node %lld, the plan in cell %d",
				 g->name, (long long)v, (long long)get_int(props, "node-id"), cell);

		/* The topology: every (socket, core, thread) slot once, all within -smp's. */
		socket = get_int(props, "socket-id");
		core = get_int(props, "core-id");
		thread = get_int(props, "thread-id");
		assert_true(socket >= 0 && socket < (int64_t)g->sockets);
		assert_true(core >= 0 && core < (int64_t)g->cores);
		assert_true(thread >= 0 && thread < (int64_t)g->threads);
		v = (socket * (int64_t)g->cores + core) * (int64_t)g->threads + thread;
		assert_false(hwloc_bitmap_isset(slots, (unsigned)v));
		hwloc_bitmap_set(slots, (unsigned)v);
	}
	json_object_put(reply);
}

static void
check_iothreads(struct qemu_run *q, const struct tmap_plan *plan, size_t gi)
{
	const struct plan_guest *g = &plan->guests[gi];
	json_object *ret, *reply = qmp_execute(q, "query-iothreads", &ret);

	assert_int_equal(json_object_array_length(ret), g->iothreads);
	for (unsigned k = 1; k <= g->iothreads; k++) {
		char id[32];
		bool found = false;

		snprintf(id, sizeof(id), "iothread%u", k);
		for (size_t i = 0; i < json_object_array_length(ret); i++)
			found |= streq(get_str(json_object_array_get_idx(ret, i), "id"), id);
		if (!found)
			fail_msg("guest '%s': no iothread '%s'", g->name, id);
	}
	json_object_put(reply);
}

/* Each cell's memory is one mapping of the guest's hugepages in QEMU's address space. */
static void
check_hugetlb(struct qemu_run *q, const struct tmap_plan *plan, size_t gi)
{
	const struct plan_guest *g = &plan->guests[gi];
	char path[64], line[256];
	unsigned long long size = 0, page = 0;
	unsigned found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)q->qemu.pid);
	f = fopen(path, "re");
	assert_non_null(f);
	/* "Size: N kB" starts each mapping's fields; "KernelPageSize: N kB" comes later. */
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Size: %llu kB", &size) == 1)
			continue;
		if (sscanf(line, "KernelPageSize: %llu kB", &page) != 1 || page != g->page_kib)
			continue;
		for (unsigned c = 0; c < g->ncells; c++)
			found += size == g->cells[c].memory_mib << 10;
	}
	fclose(f);
	if (found < g->ncells)
		fail_msg("guest '%s': %u of its %u cells are mappings of %" PRIu64 " KiB pages",
			 g->name, found, g->ncells, g->page_kib);
}

/* Solve the guests of json on host, then start one QEMU per guest with the format's options. */
static void
check_plan(struct qemu_run *q, const char *host, const char *json)
{
	struct tmap_topology *topo = test_topology(host);
	struct tmap_guests *guests = test_guests(json);
	struct tmap_plan *plan = test_solve(topo, guests, NULL);
	struct tmap_error err = {0};
	struct guest_args *args;
	char *text = NULL;

	if (tmap_plan_format(plan, TMAP_FORMAT_QEMU, 0, &text, &err) < 0)
		fail_msg("format: %s", err.message);
	args = calloc(tmap_plan_guest_count(plan), sizeof(*args));
	split_output(plan, text, args);

	for (size_t gi = 0; gi < tmap_plan_guest_count(plan); gi++) {
		const char *policy = qemu_policy(plan->guests[gi].memory_mode);

		qemu_start(q, &args[gi]);
		qmp_connect(q);
		check_memdevs(q, plan, gi, policy);
		check_vcpus(q, plan, gi);
		check_iothreads(q, plan, gi);
		if (plan->guests[gi].page_kib)
			check_hugetlb(q, plan, gi);
		qemu_stop(q);
	}

	free(args);
	free(text);
	tmap_plan_free(plan);
	tmap_guests_free(guests);
	tmap_topology_free(topo);
}

static char *
read_text(const char *path)
{
	FILE *f = fopen(path, "re");
	char *text = NULL;
	size_t len = 0;

	if (!f)
		fail_msg("cannot open '%s': %s", path, strerror(errno));
	if (getdelim(&text, &len, '\0', f) < 0)
		fail_msg("cannot read '%s'", path);
	fclose(f);
	return text;
}

static void
test_live_two_cells(void **state)
{
	_cleanup_free_ char *json = NULL;

	if (!test_have_qemu())
		skip();
	/* This host has one node and two PUs: both cells land on node 0. */
	json = read_text(test_data("qemu-live-two-cells.json"));
	check_plan(*state, "live", json);
}

static void
test_live_memory_modes(void **state)
{
	static const char *const modes[] = {"strict", "preferred", "interleave", "restrictive"};

	if (!test_have_qemu())
		skip();
	for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
		char json[256];

		snprintf(json, sizeof(json),
			 "{\"name\": \"q-%s\", \"vcpus\": 2, \"memory_mib\": 192, "
			 "\"memory_mode\": \"%s\", "
			 "\"cells\": [{\"cpus\": \"0\", \"memory_mib\": 64}, {\"cpus\": \"1\"}], \"cells_share_nodes\": true}",
			 modes[i], modes[i]);
		check_plan(*state, "live", json);
	}
}

static void
test_split_ranges(void **state)
{
	_cleanup_free_ char *json = NULL;

	if (!test_have_qemu())
		skip();
	/* A synthetic host whose only node is node 0, like this machine's, so QEMU can bind to
	 * it, but with room for two guests with cells of several ranges ("cpus=0-1,cpus=4-5"). */
	json = read_text(test_data("qemu-split-ranges.json"));
	check_plan(*state, "synthetic:numa:1 core:12 pu:1", json);
}

/* A guest told host-4n's distances between its four cells (-numa dist): QEMU must take them.
 * Under 'restrictive' the backends bind no host node, so this machine's single node does. */
static void
test_distances(void **state)
{
	static const char json[] =
		"{\"name\": \"q-far\", \"vcpus\": 20, \"memory_mib\": 256, \"memory_mode\": \"restrictive\", "
		"\"cells\": [{\"cpus\": \"0-7\"}, {\"cpus\": \"8-12\"}, {\"cpus\": \"13-16\"}, {\"cpus\": \"17-19\"}]}";
	char host[4096];

	if (!test_have_qemu())
		skip();
	snprintf(host, sizeof(host), "%s", test_data("host-4n.xml"));
	check_plan(*state, host, json);
}

/* A guest in 2 MiB pages, from a pool of node 0 grown for the test: QEMU takes the
 * memfd backends, binds them, and the memory really is hugepages. */
static void
test_live_hugepages(void **state)
{
	static const char json[] =
		"{\"name\": \"q-huge\", \"vcpus\": 2, \"memory_mib\": 64, \"hugepages\": \"2M\", "
		"\"cells\": [{\"cpus\": \"0\", \"memory_mib\": 32}, {\"cpus\": \"1\"}], \"cells_share_nodes\": true}";

	if (!test_have_qemu() || !test_pool_grow(32))
		skip();
	check_plan(*state, "live", json);
	test_pool_restore();
}

static int
teardown_pool(void **state)
{
	test_pool_restore();
	return teardown(state);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_live_two_cells, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_live_memory_modes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_split_ranges, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_live_hugepages, setup, teardown_pool),
	    cmocka_unit_test_setup_teardown(test_distances, setup, teardown),
	};

	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
