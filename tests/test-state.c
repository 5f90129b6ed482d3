/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The allocation state file: placements survive between processes, concurrent writers never
 * give one PU twice, and a file that is corrupt, foreign or of another host is refused and
 * left as it was.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <json-c/json.h>

#include "testlib.h"
#include "state.h"

#define HOST "synthetic:pack:1 numa:1(memory=64GiB) core:8 pu:2" /* 16 PUs */

static char dir[] = "/tmp/topomap-state-XXXXXX";
static char path[128];

static int
setup(void **state)
{
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sub/state.json", dir);
	return 0;
}

static int
teardown(void **state)
{
	char p[200];

	snprintf(p, sizeof(p), "%s/sub/state.json", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/sub/state.json.lock", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/sub", dir);
	rmdir(p);
	rmdir(dir);
	return 0;
}

static void
write_text(const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *
read_text(void)
{
	FILE *f = fopen(path, "r");
	static char buf[1 << 20];
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* One process: lock, load, place a guest on this host, save. Returns the tmap error code. */
static int
place_on(const char *host, const struct tmap_guest *g, struct tmap_error *err)
{
	struct tmap_topology *t = test_topology(host);
	struct tmap_state *st = NULL;
	struct tmap_host *h = NULL;
	int r;

	r = tmap_state_open(path, TMAP_STATE_WRITE, &st, err);
	if (r == 0)
		r = tmap_host_new(t, NULL, &h, err);
	if (r == 0)
		r = tmap_state_load(st, h, err);
	if (r == 0)
		r = tmap_host_place(h, g, NULL, err);
	if (r == 0)
		r = tmap_state_save(st, h, err);
	tmap_host_free(h);
	tmap_state_close(st);
	tmap_topology_free(t);
	return r;
}

static int
place_one(const char *name, unsigned vcpus, struct tmap_error *err)
{
	struct tmap_guest *g = NULL;
	int r = tmap_guest_new(name, vcpus, &g, err);

	if (r == 0)
		r = place_on(HOST, g, err);
	tmap_guest_free(g);
	return r;
}

static struct tmap_host *
load_host(struct tmap_topology *t);

/* Hugepage guests: their pages stay taken across processes, and a release gives them back. */
static void
hugepages_survive(void **state)
{
	const char *host = test_data("host-hugepages.xml");
	struct tmap_guests *g = test_guests(
		"[{\"name\":\"h1\",\"vcpus\":2,\"memory_mib\":3072,\"hugepages\":\"1G\"},"
		"{\"name\":\"n1\",\"vcpus\":2},"
		"{\"name\":\"h2\",\"vcpus\":2,\"memory_mib\":2048,\"hugepages\":\"1G\"}]");
	struct tmap_topology *t = test_topology(host);
	struct tmap_error err = {0};
	struct tmap_plan *p = NULL;
	struct tmap_host *h;
	char *text = NULL;

	unlink(path);
	assert_int_equal(place_on(host, tmap_guests_get(g, 1), &err), 0);
	/* A guest in normal pages is recorded as before hugepages existed. */
	assert_null(strstr(read_text(), "hugepage"));
	assert_int_equal(place_on(host, tmap_guests_get(g, 0), &err), 0);
	assert_non_null(strstr(read_text(), "\"hugepage_kib\":1048576"));
	/* Another process sees 1 page of 1 GiB left on node 0. */
	assert_int_equal(place_on(host, tmap_guests_get(g, 2), &err), -ENOSPC);
	assert_non_null(strstr(err.message, "the most free is node 0 with 1"));

	h = load_host(t);
	assert_int_equal(tmap_host_guest_plan(h, "h1", &p, &err), 0);
	assert_int_equal(tmap_plan_hugepage_kib(p, 0), 1048576);
	assert_int_equal(tmap_plan_cell_memory_mib(p, 0, 0), 3072);
	tmap_plan_free(p);
	assert_int_equal(tmap_host_guest_plan(h, "n1", &p, &err), 0);
	assert_int_equal(tmap_plan_hugepage_kib(p, 0), 0);
	tmap_plan_free(p);
	assert_int_equal(tmap_host_format(h, TMAP_FORMAT_JSON, 0, &text, &err), 0);
	assert_non_null(strstr(text, "{\"size_kib\":1048576,\"total\":4,\"free\":1}"));
	free(text);
	assert_int_equal(tmap_host_release(h, "h1"), 0);
	assert_int_equal(tmap_host_place(h, tmap_guests_get(g, 2), NULL, &err), 0);
	tmap_host_free(h);
	tmap_topology_free(t);
	tmap_guests_free(g);
	unlink(path);
}

static struct tmap_host *
load_host(struct tmap_topology *t)
{
	struct tmap_state *st = NULL;
	struct tmap_host *h = NULL;
	struct tmap_error err = {0};

	assert_int_equal(tmap_state_open(path, 0, &st, &err), 0);
	assert_int_equal(tmap_host_new(t, NULL, &h, &err), 0);
	if (tmap_state_load(st, h, &err) < 0)
		fail_msg("load: %s", err.message);
	tmap_state_close(st);
	return h;
}

static void
survives_between_processes(void **state)
{
	struct tmap_topology *t = test_topology(HOST);
	struct tmap_error err = {0};
	struct tmap_plan *a = NULL, *b = NULL;
	struct tmap_host *h;
	struct stat sb;

	unlink(path);
	/* Reading a state that was never written is an empty host, and creates nothing. */
	h = load_host(t);
	assert_int_equal(tmap_host_guest_count(h), 0);
	tmap_host_free(h);
	assert_int_equal(stat(path, &sb), -1);

	assert_int_equal(place_one("a", 6, &err), 0);
	assert_int_equal(place_one("b", 6, &err), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0644);

	h = load_host(t);
	assert_int_equal(tmap_host_guest_count(h), 2);
	assert_int_equal(tmap_host_guest_plan(h, "a", &a, &err), 0);
	assert_int_equal(tmap_host_guest_plan(h, "b", &b, &err), 0);
	{
		/* b was placed around a: no PU twice, and the recorded plans read back whole. */
		_cleanup_bitmap_ hwloc_bitmap_t ha = NULL, hb = NULL;

		assert_int_equal(bitmap_parse_list(tmap_plan_held_cpuset(a, 0), &ha), 0);
		assert_int_equal(bitmap_parse_list(tmap_plan_held_cpuset(b, 0), &hb), 0);
		assert_int_equal(hwloc_bitmap_weight(ha), 6);
		assert_false(hwloc_bitmap_intersects(ha, hb));
		assert_int_equal(tmap_plan_vcpu_count(b, 0), 6);
	}
	assert_int_equal(tmap_host_guest_plan(h, "c", &a, &err), -ENOENT);
	tmap_plan_free(a);
	tmap_plan_free(b);
	tmap_host_free(h);
	/* 16 PUs, 12 held: a guest of 6 no longer fits, one of 4 does. */
	assert_int_equal(place_one("c", 6, &err), -ENOSPC);
	assert_int_equal(place_one("c", 4, &err), 0);
	assert_int_equal(place_one("c", 1, &err), -EEXIST);
	/* A state copied in without its lock file is still read, not taken for an empty host. */
	{
		char lock[200];

		snprintf(lock, sizeof(lock), "%s.lock", path);
		assert_int_equal(unlink(lock), 0);
		h = load_host(t);
		assert_int_equal(tmap_host_guest_count(h), 3);
		tmap_host_free(h);
	}
	tmap_topology_free(t);
}

/* Many writers at once, each in its own process: one PU is never given twice. */
static void
concurrent_writers(void **state)
{
	struct tmap_topology *t = test_topology(HOST);
	_cleanup_bitmap_ hwloc_bitmap_t all = hwloc_bitmap_alloc();
	struct tmap_error err = {0};
	pid_t pids[16];
	struct tmap_host *h;
	unsigned placed = 0;

	unlink(path);
	for (int i = 0; i < 16; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			char name[16];

			snprintf(name, sizeof(name), "p%d", i);
			_exit(place_one(name, 1, &err) == 0 ? 0 : 1);
		}
	}
	for (int i = 0; i < 16; i++) {
		int status;

		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		placed += WIFEXITED(status) && WEXITSTATUS(status) == 0;
	}
	h = load_host(t);
	/* 16 one-vcpu guests on 16 free PUs: every one placed, each on its own PU. */
	assert_int_equal(placed, 16);
	assert_int_equal(tmap_host_guest_count(h), 16);
	for (size_t i = 0; i < 16; i++) {
		struct tmap_plan *p = NULL;
		_cleanup_bitmap_ hwloc_bitmap_t held = NULL;

		assert_int_equal(tmap_host_guest_plan(h, tmap_host_guest_name(h, i), &p, &err), 0);
		assert_int_equal(bitmap_parse_list(tmap_plan_held_cpuset(p, 0), &held), 0);
		assert_false(hwloc_bitmap_intersects(all, held));
		hwloc_bitmap_or(all, all, held);
		tmap_plan_free(p);
	}
	assert_int_equal(hwloc_bitmap_weight(all), 16);
	tmap_host_free(h);
	tmap_topology_free(t);
}

static void
expect_refused_on(const char *host, const char *text, const char *needle)
{
	struct tmap_topology *t = test_topology(host);
	struct tmap_state *st = NULL;
	struct tmap_host *h = NULL;
	struct tmap_error err = {0};
	char *before;
	int r;

	write_text(text);
	before = strdup(read_text());
	r = tmap_state_open(path, TMAP_STATE_WRITE, &st, &err);
	if (r == 0) {
		assert_int_equal(tmap_host_new(t, NULL, &h, &err), 0);
		r = tmap_state_load(st, h, &err);
	}
	assert_int_equal(r, -EBADMSG);
	if (!strstr(err.message, needle))
		fail_msg("'%s' lacks '%s'", err.message, needle);
	assert_null(strchr(err.message, '\n'));
	tmap_host_free(h);
	tmap_state_close(st); /* unlock before another writer tries */
	/* never replaced */
	if (streq(host, HOST))
		assert_int_equal(place_one("x", 1, &err), -EBADMSG);
	assert_string_equal(read_text(), before);
	free(before);
	tmap_topology_free(t);
}

static void
expect_refused(const char *text, const char *needle)
{
	expect_refused_on(HOST, text, needle);
}

/* The state file with one value of guest 0 changed: in its "memory" object, or in cell 0. */
static char *
edited(const char *text, const char *object, const char *key, int64_t value)
{
	struct json_object *root = json_tokener_parse(text), *guests, *o;
	char *copy;

	assert_non_null(root);
	assert_true(json_object_object_get_ex(root, "guests", &guests));
	o = json_object_array_get_idx(guests, 0);
	assert_true(json_object_object_get_ex(o, "plan", &o));
	if (streq(object, "cells")) {
		assert_true(json_object_object_get_ex(o, "cells", &o));
		o = json_object_array_get_idx(o, 0);
	} else {
		assert_true(json_object_object_get_ex(o, object, &o));
	}
	json_object_object_add(o, key, json_object_new_int64(value));
	copy = strdup(json_object_to_json_string(root));
	assert_non_null(copy);
	json_object_put(root);
	return copy;
}

/* A recorded hugepage guest this host cannot hold, or that is not whole pages. */
static void
refuses_bad_hugepages(void **state)
{
	const char *host = test_data("host-hugepages.xml");
	struct tmap_guests *g = test_guests(
		"{\"name\":\"h\",\"vcpus\":2,\"memory_mib\":2048,\"hugepages\":\"1G\"}");
	struct tmap_error err = {0};
	char *good, *bad;

	unlink(path);
	assert_int_equal(place_on(host, tmap_guests_get(g, 0), &err), 0);
	good = strdup(read_text());
	assert_non_null(good);
	bad = edited(good, "memory", "hugepage_kib", 16384);
	expect_refused_on(host, bad, "guest 'h' has its memory in 16 MiB pages, which no node of this host has a pool of");
	free(bad);
	bad = edited(good, "memory", "hugepage_kib", 1000000);
	expect_refused_on(host, bad, "guests[0].plan: 'hugepage_kib' 1000000 is not a page size");
	free(bad);
	bad = edited(good, "cells", "memory_mib", 1536);
	expect_refused_on(host, bad, "guests[0].plan.cells[0]: 'memory_mib' 1536 is not whole pages");
	free(bad);
	free(good);
	tmap_guests_free(g);
	unlink(path);
}

static void
refuses_bad_files(void **state)
{
	expect_refused("{\"guests\": [", "is not a topomap state file");
	expect_refused("{\"format\": \"kubelet-cpu-manager\", \"version\": 1, \"guests\": []}",
		       "is not a topomap state file");
	expect_refused("{\"format\": \"topomap-state\", \"version\": 9, \"guests\": []}",
		       "version is 9, not 1 or 2");
	expect_refused("{\"format\": \"topomap-state\", \"version\": 1, \"host\": \"0-63\", \"guests\": []}",
		       "was written for a host with PUs '0-63'");
	expect_refused("{\"format\": \"topomap-state\", \"version\": 1, \"host\": \"0-15\", \"guests\": [{\"name\": \"g\"}]}",
		       "guests[0]: 'topology' is missing");
	/* A value quoted in the refusal keeps it one line, and no escape reaches a terminal
	 * (found by fuzz/fuzz-state-gen.c). */
	expect_refused("{\"format\": \"topomap-state\", \"version\": 1, \"host\": \"0-15\", \"guests\": [{\"name\": \"g\", \"thread_policy\": \"x\\ny\\u001b[31m\"}]}",
		       "'thread_policy' is 'x?y?[31m', not a known value");
	/* A guest that holds a PU another holds too: a hand-edited file. */
	unlink(path);
	{
		struct tmap_error err = {0};
		struct json_object *root, *guests, *plan, *copy = NULL;

		assert_int_equal(place_one("a", 2, &err), 0);
		root = json_tokener_parse(read_text());
		assert_non_null(root);
		assert_true(json_object_object_get_ex(root, "guests", &guests));
		assert_int_equal(json_object_deep_copy(json_object_array_get_idx(guests, 0), &copy, NULL), 0);
		json_object_object_add(copy, "name", json_object_new_string("b"));
		json_object_object_get_ex(copy, "plan", &plan);
		json_object_object_add(plan, "name", json_object_new_string("b"));
		json_object_array_add(guests, copy);
		expect_refused(json_object_to_json_string(root), "which another guest holds too");
		json_object_put(root);
	}
	unlink(path);
}

/* Any value of the wrong type at any key is one line naming the key, never a crash (a
 * "host": null crashed every command that read the state). */
static void
wrong_types_refused(void **state)
{
	static const struct {
		const char *text, *needle;
	} cases[] = {
		{"null", "expected a topomap state object"},
		{"{\"format\":\"topomap-state\",\"version\":1,\"host\":null,\"guests\":[]}",
		 "host is null, not a list of PUs"},
		{"{\"format\":\"topomap-state\",\"version\":2,\"host\":null,\"guests\":[]}",
		 "host is null, not an object"},
		{"{\"format\":\"topomap-state\",\"version\":2,\"host\":{\"pus\":7,\"nodes\":\"0\"},\"guests\":[]}",
		 "host.pus is int, not a list"},
		{"{\"format\":\"topomap-state\",\"version\":\"2\",\"guests\":[]}", "version is"},
		{"{\"format\":\"topomap-state\",\"version\":2,\"host\":{\"pus\":\"0-15\",\"nodes\":\"0\"},\"guests\":null}",
		 "guests is null, not a list"},
		{"{\"format\":\"topomap-state\",\"version\":1,\"reserve\":5,\"guests\":[]}",
		 "reserve is int, not a list of PUs"},
		{"{\"format\":\"topomap-state\",\"version\":1,\"housekeeping\":\"0-\",\"guests\":[]}",
		 "housekeeping is string, not a list of PUs"},
		{"{\"format\":\"topomap-state\",\"version\":1,\"isolation\":[{\"path\":\"x\",\"restore\":\"0\",\"value\":\"1\"}],\"guests\":[]}",
		 "isolation[0].path is not an absolute path"},
		{"{\"format\":\"topomap-state\",\"version\":1,\"isolation\":[{\"path\":\"/x\",\"restore\":0,\"value\":\"1\"}],\"guests\":[]}",
		 "isolation[0].restore is int, not a string"},
		{"{\"format\":\"topomap-state\",\"version\":1,\"isolation\":{},\"guests\":[]}",
		 "isolation is object, not a list"},
		{"{\"format\":\"topomap-state\",\"version\":1,\"isolation\":[{\"path\":\"/proc/1/task/1\",\"restore\":\"0-1\",\"value\":\"0\",\"start\":\"5\"}],\"guests\":[]}",
		 "isolation[0].start is not a start time"},
		{"{\"format\":\"topomap-state\",\"version\":1,\"isolation\":[{\"path\":\"/proc/1/task/1\",\"restore\":\"0-1\",\"start\":5}],\"guests\":[]}",
		 "isolation[0] lacks path, restore or value"},
		{"{\"format\":\"topomap-state\",\"version\":1,\"guests\":[],\"guests\":[]}", "guests"},
		{"{\"format\":\"topomap-state\",\"version\":1,\"guests\":[]} []", "is not a topomap state file"},
		{"{\"format\":\"topomap-state\",\"version\":1,\"guests\":[],\"extra\":1}", "extra: unknown key"},
		{"{\"format\":\"topomap-state\",\"version\":1,\"recent_requests\":{},\"guests\":[]}",
		 "recent_requests is object, not a list"},
		{"{\"format\":\"topomap-state\",\"version\":1,\"recent_requests\":[{\"cells\":0,\"vcpus\":2,\"memory_mib\":1,\"page_kib\":0,\"rest_vcpus\":2,\"rest_memory_mib\":1}],\"guests\":[]}",
		 "recent_requests[0]: 0 cells, the largest of 2 vcpus, the others of 2, is no guest"},
		{"{\"format\":\"topomap-state\",\"version\":1,\"recent_requests\":[{\"cells\":1,\"vcpus\":2,\"memory_mib\":-1,\"page_kib\":0,\"rest_vcpus\":2,\"rest_memory_mib\":1}],\"guests\":[]}",
		 "recent_requests[0].memory_mib is not a count"},
		{"{\"format\":\"topomap-state\",\"version\":1,\"recent_requests\":[{\"cells\":1,\"vcpus\":2,\"memory_mib\":1}],\"guests\":[]}",
		 "recent_requests[0] lacks one of cells, vcpus, memory_mib, page_kib, rest_vcpus, rest_memory_mib"},
		{"{\"format\":\"topomap-state\",\"version\":1,\"recent_requests\":[{\"cells\":1,\"vcpus\":2,\"memory_mib\":1,\"page_kib\":0,\"rest_vcpus\":2,\"rest_memory_mib\":1,\"policy\":1}],\"guests\":[]}",
		 "recent_requests[0].policy: unknown key"},
		{"{\"format\":\"topomap-state\",\"version\":2,\"host\":{\"pus\":\"0-15\",\"nodes\":\"0\"},\"guests\":[null]}",
		 "guests[0] is null, not an object"},
		{"{\"format\":\"topomap-state\",\"version\":2,\"host\":{\"pus\":\"0-15\",\"nodes\":\"0\"},\"guests\":[{\"name\":\"a b\",\"status\":\"applied\",\"spec\":{},\"plan\":{}}]}",
		 "guests[0].name is not a valid guest name"},
		{"{\"format\":\"topomap-state\",\"version\":2,\"host\":{\"pus\":\"0-15\",\"nodes\":\"0\"},\"guests\":[{\"name\":\"a\",\"status\":\"done\",\"spec\":{},\"plan\":{}}]}",
		 "guests[0].status is not"},
		{"{\"format\":\"topomap-state\",\"version\":2,\"host\":{\"pus\":\"0-15\",\"nodes\":\"0\"},\"guests\":[{\"name\":\"a\",\"status\":\"applied\",\"target\":null,\"spec\":{},\"plan\":{}}]}",
		 "guests[0].target is null, not an object"},
		{"{\"format\":\"topomap-state\",\"version\":2,\"host\":{\"pus\":\"0-15\",\"nodes\":\"0\"},\"guests\":[{\"name\":\"a\",\"status\":\"applied\",\"spec\":{},\"plan\":null}]}",
		 "guests[0].plan is null, not an object"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_refused(cases[i].text, cases[i].needle);
	unlink(path);
}

/* Each key of a recorded plan set to null in turn: refused with the key, never loaded. */
static void
plan_keys_type_checked(void **state)
{
	struct tmap_error err = {0};
	struct json_object *root, *guests, *plan;
	char *good;

	unlink(path);
	assert_int_equal(place_one("a", 2, &err), 0);
	good = strdup(read_text());
	root = json_tokener_parse(good);
	assert_non_null(root);
	assert_true(json_object_object_get_ex(root, "guests", &guests));
	assert_true(json_object_object_get_ex(json_object_array_get_idx(guests, 0), "plan", &plan));
	json_object_object_foreach(plan, key, value) {
		struct json_object *copy = NULL, *g, *p;

		(void)value;
		if (streq(key, "explain") || streq(key, "qos") || streq(key, "iothreads") ||
		    streq(key, "cells_proposed") || streq(key, "cpu_policy") ||
		    streq(key, "thread_policy") || streq(key, "emulator_threads"))
			continue; /* optional: null is still refused, below */
		assert_int_equal(json_object_deep_copy(root, &copy, NULL), 0);
		json_object_object_get_ex(copy, "guests", &g);
		json_object_object_get_ex(json_object_array_get_idx(g, 0), "plan", &p);
		json_object_object_add(p, key, NULL);
		expect_refused(json_object_to_json_string(copy), "guests[0]");
		json_object_put(copy);
	}
	{
		struct json_object *copy = NULL, *g, *p;

		assert_int_equal(json_object_deep_copy(root, &copy, NULL), 0);
		json_object_object_get_ex(copy, "guests", &g);
		json_object_object_get_ex(json_object_array_get_idx(g, 0), "plan", &p);
		json_object_object_add(p, "cpu_policy", NULL);
		expect_refused(json_object_to_json_string(copy), "'cpu_policy' is null");
		json_object_put(copy);
	}
	json_object_put(root);
	free(good);
	unlink(path);
}

/* With no error to fill (the header allows NULL), a bad state still fails: the prefix a
 * message gets must never become the call's result. */
static void
refused_without_error(void **state)
{
	struct tmap_topology *t = test_topology(HOST);
	struct tmap_state *st = NULL;
	struct tmap_host *h = NULL;

	write_text("{\"format\":\"topomap-state\",\"version\":2,\"host\":{\"pus\":\"0-15\",\"nodes\":\"0\"},\"shared_pool\":\"99\",\"guests\":[]}");
	assert_int_equal(tmap_state_open(path, 0, &st, NULL), 0);
	assert_int_equal(tmap_host_new(t, NULL, &h, NULL), 0);
	assert_int_equal(tmap_state_load(st, h, NULL), -EBADMSG);
	tmap_host_free(h);
	tmap_state_close(st);
	tmap_topology_free(t);
	unlink(path);
}

/* A version 1 file (plans alone) is read, and written back as version 2 with each guest's
 * spec derived from its plan, its PUs unchanged. */
static void
migrates_version_1(void **state)
{
	struct tmap_topology *t = test_topology(HOST);
	struct json_object *root, *guests, *v1, *v1guests, *g, *v;
	struct tmap_state *st = NULL;
	struct tmap_host *h = NULL;
	struct tmap_error err = {0};
	char *held_before;

	unlink(path);
	assert_int_equal(place_one("a", 3, &err), 0);
	root = json_tokener_parse(read_text());
	assert_non_null(root);
	json_object_object_get_ex(root, "guests", &guests);
	json_object_object_get_ex(json_object_array_get_idx(guests, 0), "plan", &g);
	json_object_object_get_ex(g, "held", &v);
	held_before = strdup(json_object_get_string(v));
	v1 = json_object_new_object();
	json_object_object_add(v1, "format", json_object_new_string("topomap-state"));
	json_object_object_add(v1, "version", json_object_new_int(1));
	json_object_object_add(v1, "host", json_object_new_string("0-15"));
	v1guests = json_object_new_array();
	json_object_array_add(v1guests, json_object_get(g));
	json_object_object_add(v1, "guests", v1guests);
	write_text(json_object_to_json_string(v1));
	json_object_put(v1);
	json_object_put(root);

	assert_int_equal(tmap_state_open(path, TMAP_STATE_WRITE, &st, &err), 0);
	assert_int_equal(tmap_host_new(t, NULL, &h, &err), 0);
	assert_int_equal(tmap_state_load(st, h, &err), 0);
	assert_int_equal(tmap_host_guest_count(h), 1);
	assert_int_equal(tmap_state_save(st, h, &err), 0);
	tmap_host_free(h);
	tmap_state_close(st);

	root = json_tokener_parse(read_text());
	assert_non_null(root);
	assert_true(json_object_object_get_ex(root, "version", &v));
	assert_int_equal(json_object_get_int(v), 2);
	json_object_object_get_ex(root, "guests", &guests);
	g = json_object_array_get_idx(guests, 0);
	assert_true(json_object_object_get_ex(g, "status", &v));
	assert_string_equal(json_object_get_string(v), "applied");
	assert_true(json_object_object_get_ex(g, "spec", &v));
	assert_true(json_object_object_get_ex(v, "vcpus", &v));
	assert_int_equal(json_object_get_int(v), 3);
	json_object_object_get_ex(g, "plan", &g);
	json_object_object_get_ex(g, "held", &v);
	assert_string_equal(json_object_get_string(v), held_before);
	json_object_put(root);
	free(held_before);
	tmap_topology_free(t);
	unlink(path);
}

/* A writer killed midway leaves "<state>.tmp" behind: the next writer replaces it and
 * leaves nothing behind. One planted there as a symlink is removed, never followed. */
static void
stale_temporary_replaced(void **state)
{
	struct tmap_error err = {0};
	char tmp[200], victim[200], buf[64] = "";
	struct stat sb;
	FILE *f;

	unlink(path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	assert_int_equal(place_one("a", 1, &err), 0);
	assert_int_equal(stat(tmp, &sb), -1);

	/* a half-written state, as a kill leaves it */
	assert_non_null(f = fopen(tmp, "w"));
	fputs("{\"format\": \"topo", f);
	fclose(f);
	assert_int_equal(place_one("b", 1, &err), 0);
	assert_int_equal(stat(tmp, &sb), -1);

	assert_non_null(f = fopen(victim, "w"));
	fputs("untouched\n", f);
	fclose(f);
	assert_int_equal(symlink(victim, tmp), 0);
	assert_int_equal(place_one("c", 1, &err), 0);
	assert_int_equal(lstat(tmp, &sb), -1);
	assert_non_null(f = fopen(victim, "r"));
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "untouched\n");
	unlink(victim);
	{
		struct tmap_topology *t = test_topology(HOST);
		struct tmap_host *h = load_host(t);

		assert_int_equal(tmap_host_guest_count(h), 3);
		tmap_host_free(h);
		tmap_topology_free(t);
	}
	unlink(path);
}

/* The housekeeping PUs (issue 15): the reserve until set, then what was set, across a save;
 * NULL follows the reserve again. */
static void
housekeeping_recorded(void **state)
{
	struct tmap_topology *t = test_topology(HOST);
	struct tmap_state *st = NULL;
	struct tmap_host *h = NULL;
	struct tmap_error err = {0};

	unlink(path);
	assert_int_equal(tmap_state_open(path, TMAP_STATE_WRITE, &st, &err), 0);
	assert_null(tmap_state_housekeeping(st));
	assert_int_equal(tmap_state_set_reserve(st, "0,8", &err), 0);
	assert_string_equal(tmap_state_housekeeping(st), "0,8");
	assert_int_equal(tmap_state_set_housekeeping(st, "0-1,8-9", &err), 0);
	assert_int_equal(tmap_state_set_housekeeping(st, "1-", &err), -EINVAL);
	assert_int_equal(tmap_host_new(t, NULL, &h, &err), 0);
	assert_int_equal(tmap_state_save(st, h, &err), 0);
	st = tmap_state_close(st);
	assert_non_null(strstr(read_text(), "\"housekeeping\":\"0-1,8-9\""));
	assert_int_equal(tmap_state_open(path, TMAP_STATE_WRITE, &st, &err), 0);
	assert_string_equal(tmap_state_housekeeping(st), "0-1,8-9");
	assert_int_equal(tmap_state_set_housekeeping(st, NULL, &err), 0);
	assert_string_equal(tmap_state_housekeeping(st), "0,8");
	tmap_state_close(st);
	tmap_host_free(h);
	tmap_topology_free(t);
	unlink(path);
}

/* The shared pool and its ratios (issue 21): none until set, set apart from the reserve and
 * within (0, 1024], kept across a save; a state without them (written before) loads as none. */
static void
shared_pool_recorded(void **state)
{
	struct tmap_topology *t = test_topology(HOST);
	struct tmap_state *st = NULL;
	struct tmap_host *h = NULL;
	struct tmap_error err = {0};

	write_text("{\"format\":\"topomap-state\",\"version\":2,\"host\":{\"pus\":\"0-15\",\"nodes\":\"0-1\"},"
		   "\"reserve\":\"0,8\",\"guests\":[]}");
	assert_int_equal(tmap_state_open(path, TMAP_STATE_WRITE, &st, &err), 0);
	assert_null(tmap_state_shared(st));
	assert_true(tmap_state_cpu_overcommit(st) == 0 && tmap_state_memory_overcommit(st) == 0);
	assert_int_equal(tmap_state_set_shared(st, "8-9", 0, 0, &err), -EINVAL);
	assert_non_null(strstr(err.message, "shared set '8-9' overlaps the reserve '0,8'"));
	assert_int_equal(tmap_state_set_shared(st, "2-3", 0, 1025, &err), -EINVAL);
	assert_int_equal(tmap_state_set_shared(st, "2-3", -1, 0, &err), -EINVAL);
	assert_int_equal(tmap_state_set_shared(st, "2-3,10-11", 2, 1.5, &err), 0);
	assert_int_equal(tmap_state_set_reserve(st, "0-2", &err), -EINVAL);
	assert_non_null(strstr(err.message, "reserve '0-2' overlaps the shared set '2-3,10-11'"));
	assert_int_equal(tmap_host_new(t, NULL, &h, &err), 0);
	assert_int_equal(tmap_state_save(st, h, &err), 0);
	st = tmap_state_close(st);
	assert_non_null(strstr(read_text(), "\"shared_set\":\"2-3,10-11\""));
	assert_non_null(strstr(read_text(), "\"cpu_overcommit\":2.0"));
	assert_non_null(strstr(read_text(), "\"memory_overcommit\":1.5"));
	assert_int_equal(tmap_state_open(path, TMAP_STATE_WRITE, &st, &err), 0);
	assert_string_equal(tmap_state_shared(st), "2-3,10-11");
	assert_true(tmap_state_cpu_overcommit(st) == 2 && tmap_state_memory_overcommit(st) == 1.5);
	/* none again: the keys leave the file */
	assert_int_equal(tmap_state_set_shared(st, "", 0, 0, &err), 0);
	assert_int_equal(tmap_state_save(st, h, &err), 0);
	st = tmap_state_close(st);
	assert_null(strstr(read_text(), "shared_set"));
	assert_null(strstr(read_text(), "overcommit"));
	tmap_host_free(h);
	tmap_topology_free(t);
	unlink(path);
}

/* The recorded requests' vcpus, oldest first, into ret (room for 32): how many. */
static unsigned
recent_vcpus(unsigned *ret)
{
	struct json_object *root = json_tokener_parse(read_text()), *list, *v;
	unsigned n = 0;

	assert_non_null(root);
	if (json_object_object_get_ex(root, "recent_requests", &list))
		for (; n < json_object_array_length(list) && n < 32; n++) {
			struct json_object *r = json_object_array_get_idx(list, n);

			assert_true(json_object_object_get_ex(r, "cells", &v));
			assert_int_equal(json_object_get_int(v), 1);
			assert_true(json_object_object_get_ex(r, "vcpus", &v));
			ret[n] = (unsigned)json_object_get_int(v);
		}
	json_object_put(root);
	return n;
}

/* Issue 18: the shapes of the latest requests outlive the process, oldest first, at most 16:
 * each process adds its own to those of the ones before; a rebalance in a later process sees
 * them. */
static void
recent_requests_recorded(void **state)
{
	struct tmap_topology *t = test_topology(HOST);
	struct tmap_state *st = NULL;
	struct tmap_host *h = NULL;
	struct tmap_error err = {0};
	struct tmap_plan *plan = NULL;
	unsigned count = 0, before = 0, after = 0, v[32];

	unlink(path);
	assert_int_equal(place_one("a", 2, &err), 0);
	assert_int_equal(recent_vcpus(v), 1);
	assert_int_equal(v[0], 2);
	assert_int_equal(place_one("b", 3, &err), 0);
	assert_int_equal(recent_vcpus(v), 2);
	assert_true(v[0] == 2 && v[1] == 3);
	/* 20 requests in one process: the last 16 are kept */
	assert_int_equal(tmap_state_open(path, TMAP_STATE_WRITE, &st, &err), 0);
	assert_int_equal(tmap_host_new(t, NULL, &h, &err), 0);
	assert_int_equal(tmap_state_load(st, h, &err), 0);
	for (unsigned i = 0; i < 20; i++) {
		struct tmap_guest *g = NULL;

		assert_int_equal(tmap_guest_new("c", 1 + i % 4, &g, &err), 0);
		assert_int_equal(tmap_host_place(h, g, NULL, &err), 0);
		assert_int_equal(tmap_host_release(h, "c"), 0);
		tmap_guest_free(g);
	}
	assert_int_equal(tmap_state_save(st, h, &err), 0);
	st = tmap_state_close(st);
	h = tmap_host_free(h);
	assert_int_equal(recent_vcpus(v), 16);
	for (unsigned i = 0; i < 16; i++)
		assert_int_equal(v[i], 1 + (i + 4) % 4);
	/* a later process's rebalance counts them: all 16 fit as the host stands */
	assert_int_equal(tmap_state_open(path, 0, &st, &err), 0);
	assert_int_equal(tmap_host_new(t, NULL, &h, &err), 0);
	assert_int_equal(tmap_state_load(st, h, &err), 0);
	assert_int_equal(tmap_host_rebalance(h, NULL, &plan, &err), 0);
	assert_int_equal(tmap_plan_rebalance_recent(plan, &count, &before, &after), 0);
	assert_int_equal(count, 16);
	assert_int_equal(before, 16);
	assert_int_equal(after, 16);
	tmap_plan_free(plan);
	tmap_host_free(h);
	tmap_state_close(st);
	tmap_topology_free(t);
	unlink(path);
}

/* Each bad value of the pool's keys: one line naming the file, the key and the value. */
static void
shared_pool_refused(void **state)
{
	static const struct {
		const char *keys, *needle;
	} cases[] = {
		{"\"cpu_overcommit\":0", "cpu_overcommit is 0, not a ratio above 0 and at most 1024"},
		{"\"memory_overcommit\":1024.5",
		 "memory_overcommit is 1024.5, not a ratio above 0 and at most 1024"},
		{"\"cpu_overcommit\":\"2\"", "cpu_overcommit is string, not a number"},
		{"\"shared_set\":\"2-\"", "shared_set is string, not a list of PUs"},
		{"\"shared_set\":\"14-17\"", "shared_set '14-17' is not within the host's PUs '0-15'"},
		{"\"reserve\":\"0,8\",\"shared_set\":\"7-8\"",
		 "shared_set '7-8' overlaps the reserve '0,8'"},
	};
	char text[512], needle[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text),
			 "{\"format\":\"topomap-state\",\"version\":2,\"host\":{\"pus\":\"0-15\",\"nodes\":\"0-1\"},%s,\"guests\":[]}",
			 cases[i].keys);
		snprintf(needle, sizeof(needle), "state file '%s': %s", path, cases[i].needle);
		expect_refused(text, needle);
	}
	unlink(path);
}

/* The state file's guest 0 with "running_vcpus" set to value (a JSON text), for a loader. */
static char *
with_running(const char *text, const char *value)
{
	struct json_object *root = json_tokener_parse(text), *guests;
	char *copy;

	assert_non_null(root);
	assert_true(json_object_object_get_ex(root, "guests", &guests));
	json_object_object_add(json_object_array_get_idx(guests, 0), "running_vcpus",
			       json_tokener_parse(value));
	copy = strdup(json_object_to_json_string(root));
	assert_non_null(copy);
	json_object_put(root);
	return copy;
}

/* Open the state to write and load it into a host of HOST (both to free). */
static struct tmap_state *
open_loaded(struct tmap_topology *t, struct tmap_host **ret_host)
{
	struct tmap_state *st = NULL;
	struct tmap_error err = {0};

	assert_int_equal(tmap_state_open(path, TMAP_STATE_WRITE, &st, &err), 0);
	assert_int_equal(tmap_host_new(t, NULL, ret_host, &err), 0);
	if (tmap_state_load(st, *ret_host, &err) < 0)
		fail_msg("load: %s", err.message);
	return st;
}

/*
 * A guest resized while it runs (issue 18): the vcpus it still runs are recorded beside its
 * plan, read back by the next process and written again by its save; set to 0, or the guest
 * recorded anew, the key is gone. A state without the key (every one written before) loads
 * as the guest running its plan's count. A bad value is refused naming the key and the value,
 * and the file is left as it was.
 */
static void
running_vcpus_recorded(void **state)
{
	static const struct {
		const char *value, *needle;
	} bad[] = {
		{"\"1\"", "guests[0].running_vcpus is string, not a vcpu count"},
		{"0", "guests[0].running_vcpus is 0, not a vcpu count from 1 to 4096"},
		{"4097", "guests[0].running_vcpus is 4097, not a vcpu count from 1 to 4096"},
		{"2", "guests[0].running_vcpus is 2, the count its plan has already"},
	};
	struct tmap_topology *t = test_topology(HOST);
	struct tmap_state *st;
	struct tmap_host *h = NULL;
	struct tmap_guest *g = NULL;
	struct tmap_error err = {0};
	char *old, *text;

	unlink(path);
	assert_int_equal(place_one("a", 2, &err), 0);
	old = strdup(read_text());
	assert_null(strstr(old, "running_vcpus"));

	/* written before the key existed: the plan's count */
	st = open_loaded(t, &h);
	assert_int_equal(state_guest_running_vcpus(st, "a"), 0);
	/* recorded, saved, and read back by another open */
	state_guest_set_running_vcpus(st, "a", 1);
	assert_int_equal(tmap_state_save(st, h, &err), 0);
	tmap_state_close(st);
	tmap_host_free(h);
	assert_non_null(strstr(read_text(), "\"running_vcpus\":1"));
	st = open_loaded(t, &h);
	assert_int_equal(state_guest_running_vcpus(st, "a"), 1);
	/* a save of a state read keeps it */
	assert_int_equal(tmap_state_save(st, h, &err), 0);
	assert_non_null(strstr(read_text(), "\"running_vcpus\":1"));
	/* the guest recorded anew runs its plan's count */
	assert_int_equal(tmap_guest_new("a", 2, &g, &err), 0);
	assert_int_equal(tmap_state_record(st, NULL, NULL, g, 0, &err), 0);
	assert_int_equal(state_guest_running_vcpus(st, "a"), 0);
	assert_int_equal(tmap_state_save(st, h, &err), 0);
	assert_null(strstr(read_text(), "running_vcpus"));
	/* and set back to 0 after it was set */
	state_guest_set_running_vcpus(st, "a", 3);
	assert_int_equal(tmap_state_save(st, h, &err), 0);
	assert_non_null(strstr(read_text(), "\"running_vcpus\":3"));
	state_guest_set_running_vcpus(st, "a", 0);
	assert_int_equal(tmap_state_save(st, h, &err), 0);
	assert_null(strstr(read_text(), "running_vcpus"));
	tmap_state_close(st);
	tmap_host_free(h);
	tmap_guest_free(g);

	/* each bad value: one line naming the key */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		text = with_running(old, bad[i].value);
		expect_refused(text, bad[i].needle);
		free(text);
	}
	free(old);
	tmap_topology_free(t);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(survives_between_processes),
		cmocka_unit_test(concurrent_writers),
		cmocka_unit_test(refuses_bad_files),
		cmocka_unit_test(hugepages_survive),
		cmocka_unit_test(refuses_bad_hugepages),
		cmocka_unit_test(stale_temporary_replaced),
		cmocka_unit_test(wrong_types_refused),
		cmocka_unit_test(plan_keys_type_checked),
		cmocka_unit_test(migrates_version_1),
		cmocka_unit_test(refused_without_error),
		cmocka_unit_test(housekeeping_recorded),
		cmocka_unit_test(shared_pool_recorded),
		cmocka_unit_test(shared_pool_refused),
		cmocka_unit_test(recent_requests_recorded),
		cmocka_unit_test(running_vcpus_recorded),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
