/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The JSON that topomap writes is a contract: orchestrators read the plan, scripts read the
 * host and the state, and the state file is read back by later versions. Every key path
 * the library writes, with the JSON type of its value, is listed in tests/data/json-keys.txt;
 * a key renamed, removed, retyped or added fails here until the list is changed on purpose.
 *
 * The documents come from inputs that make every optional key appear: a host with hugepage
 * pools and distances, one with a CPU-less node; a guest with cells, hugepages, iothreads,
 * an isolated emulator and every QoS value; a shared guest; a mixed guest with a realtime vcpu
 * (issue 21: the same keys as a dedicated guest's); a guest spread
 * over nodes (its cells proposed); a batch with a rejected guest; the host and the state file
 * after placing.
 * The topology's JSON and the state file are also read back, as the next run reads them.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <topomap/session.h>

#include "testlib.h"
#include "state.h"

struct keys {
	char **lines;
	size_t n, cap;
};

static const char *
type_name(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "boolean";
	case json_type_double:
	case json_type_int:
		return "number"; /* 4 or 4.5: JSON has one number type */
	case json_type_object:
		return "object";
	case json_type_array:
		return "array";
	case json_type_string:
		return "string";
	}
	return "?";
}

static void
keys_add(struct keys *k, const char *doc, const char *path, struct json_object *v)
{
	char *line = NULL;

	if (k->n == k->cap) {
		k->cap = k->cap ? 2 * k->cap : 64;
		k->lines = realloc(k->lines, k->cap * sizeof(*k->lines));
		assert_non_null(k->lines);
	}
	assert_true(asprintf(&line, "%s %s %s", doc, path, type_name(v)) > 0);
	k->lines[k->n++] = line;
}

static bool
all_digits(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s);
}

/* Every key path under v: "a.b" for a key of an object, "a[]" for the elements of an array,
 * "a.*" for a key that is a number (a node id, as in the host's per-node memory). */
static void
walk(struct keys *k, const char *doc, const char *path, struct json_object *v)
{
	char *sub = NULL;

	if (json_object_is_type(v, json_type_object)) {
		json_object_object_foreach(v, key, val)
		{
			assert_true(asprintf(&sub, "%s%s%s", path, *path ? "." : "",
					     all_digits(key) ? "*" : key) > 0);
			keys_add(k, doc, sub, val);
			walk(k, doc, sub, val);
			free(sub);
		}
	} else if (json_object_is_type(v, json_type_array)) {
		assert_true(asprintf(&sub, "%s[]", path) > 0);
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			struct json_object *e = json_object_array_get_idx(v, i);

			keys_add(k, doc, sub, e);
			walk(k, doc, sub, e);
		}
		free(sub);
	}
}

static void
walk_text(struct keys *k, const char *doc, const char *text)
{
	struct json_object *root = json_tokener_parse(text);

	if (!root)
		fail_msg("%s: not JSON: %s", doc, text);
	walk(k, doc, "", root);
	json_object_put(root);
}

static int
compare_lines(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
keys_sort_unique(struct keys *k)
{
	size_t out = 0;

	qsort(k->lines, k->n, sizeof(*k->lines), compare_lines);
	for (size_t i = 0; i < k->n; i++) {
		if (out && !strcmp(k->lines[out - 1], k->lines[i]))
			free(k->lines[i]);
		else
			k->lines[out++] = k->lines[i];
	}
	k->n = out;
}

static void
keys_clear(struct keys *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->lines[i]);
	free(k->lines);
	memset(k, 0, sizeof(*k));
}

/* The golden list: one "DOC PATH TYPE" a line; '#' lines and blank lines are comments. */
static void
keys_load(struct keys *k, const char *path)
{
	FILE *f = fopen(path, "r");
	char buf[512];

	if (!f)
		fail_msg("cannot open '%s': %s", path, strerror(errno));
	while (fgets(buf, sizeof(buf), f)) {
		buf[strcspn(buf, "\n")] = '\0';
		if (!buf[0] || buf[0] == '#')
			continue;
		if (k->n == k->cap) {
			k->cap = k->cap ? 2 * k->cap : 64;
			k->lines = realloc(k->lines, k->cap * sizeof(*k->lines));
			assert_non_null(k->lines);
		}
		k->lines[k->n] = strdup(buf);
		assert_non_null(k->lines[k->n++]);
	}
	fclose(f);
	keys_sort_unique(k);
}

static char *
plan_json(const struct tmap_plan *p)
{
	struct tmap_error err = {0};
	char *s = NULL;

	if (tmap_plan_format(p, TMAP_FORMAT_JSON, 0, &s, &err) < 0)
		fail_msg("plan as JSON: %s", err.message);
	return s;
}

static void
add_topology(struct keys *k, const char *file)
{
	struct tmap_topology *t = test_topology(test_data(file));
	struct tmap_error err = {0};
	char *s = NULL;

	struct tmap_topology *back = NULL;
	char *again = NULL;

	if (tmap_topology_format(t, TMAP_FORMAT_JSON, 0, &s, &err) < 0)
		fail_msg("%s as JSON: %s", file, err.message);
	walk_text(k, "topology", s);
	/* What is written is read back (`--topology FILE.json`): the same host again. */
	if (tmap_topology_new_from_json(s, strlen(s), file, &back, &err) < 0)
		fail_msg("%s: its JSON form is not read back: %s", file, err.message);
	if (tmap_topology_format(back, TMAP_FORMAT_JSON, 0, &again, &err) < 0)
		fail_msg("%s read back, as JSON: %s", file, err.message);
	assert_string_equal(again, s);
	free(again);
	free(s);
	tmap_topology_free(back);
	tmap_topology_free(t);
}

/* The state file at path as a document, then the file, its lock and dir removed. */
static void
walk_state_file(struct keys *k, const char *dir, const char *path, const char *lock)
{
	FILE *f = fopen(path, "r");
	long len;
	char *s;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	rewind(f);
	s = calloc(1, (size_t)len + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	walk_text(k, "state", s);
	free(s);
	unlink(path);
	unlink(lock);
	rmdir(dir);
}

/* Every guest option at once, a shared guest, a mixed one (a realtime vcpu among its dedicated
 * ones), and a guest too big for one node. */
static const char guests_json[] =
	"[{\"name\": \"db\", \"vcpus\": 8, \"sockets\": 2, \"cores\": 2, \"threads\": 2,"
	"  \"cells\": [{\"cpus\": \"0-3\", \"memory_mib\": 1024}, {\"cpus\": \"4-7\", \"memory_mib\": 1024}],"
	"  \"cpu_policy\": \"dedicated\", \"thread_policy\": \"require\","
	"  \"emulator_threads\": \"isolate\", \"iothreads\": 2, \"memory_mode\": \"strict\","
	"  \"hugepages\": \"2M\", \"qos\": {\"shares\": 2048, \"period\": 100000, \"quota\": 50000},"
	"  \"realtime_cpus\": \"2-3\", \"realtime_priority\": 5},"
	" {\"name\": \"web\", \"vcpus\": 1, \"cpu_policy\": \"shared\", \"memory_mib\": 512, \"pinned\": true},"
	" {\"name\": \"mix\", \"vcpus\": 2, \"cpu_policy\": \"mixed\", \"dedicated_cpus\": \"0\", \"memory_mib\": 512,"
	"  \"realtime_cpus\": \"0\"},"
	" {\"name\": \"wide\", \"vcpus\": 8, \"memory_mib\": 2048}]";

static void
add_plan_host_state(struct keys *k)
{
	struct tmap_topology *t = test_topology(test_data("host-hugepages.xml"));
	struct tmap_guests *g = test_guests(guests_json);
	struct tmap_guests *batch = test_guests(
		"[{\"name\": \"small\", \"vcpus\": 1}, {\"name\": \"huge\", \"vcpus\": 64}]");
	struct tmap_solve_options o = TMAP_SOLVE_OPTIONS_INIT;
	struct tmap_host *h = NULL;
	struct tmap_plan *p = NULL;
	struct tmap_state *st = NULL;
	struct tmap_error err = {0};
	char dir[] = "/tmp/topomap-json-keys.XXXXXX", path[64], lock[80], *s = NULL;

	o.reserve = "0,12";
	if (tmap_host_new(t, &o, &h, &err) < 0)
		fail_msg("host: %s", err.message);
	if (tmap_host_solve(h, g, &p, &err) < 0)
		fail_msg("solve: %s", err.message);
	s = plan_json(p);
	walk_text(k, "plan", s);
	free(s);
	p = tmap_plan_free(p);

	if (tmap_host_solve_batch(h, batch, &p, &err) < 0)
		fail_msg("batch: %s", err.message);
	assert_int_equal(tmap_plan_rejected_count(p), 1);
	s = plan_json(p);
	walk_text(k, "plan", s);
	free(s);
	p = tmap_plan_free(p);

	if (tmap_host_format(h, TMAP_FORMAT_JSON, 0, &s, &err) < 0)
		fail_msg("host as JSON: %s", err.message);
	walk_text(k, "host", s);
	free(s);

	/* The state file, as apply leaves it. */
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state.json", dir);
	snprintf(lock, sizeof(lock), "%s.lock", path);
	if (tmap_state_open(path, TMAP_STATE_WRITE, &st, &err) < 0 ||
	    tmap_state_set_reserve(st, "0,12", &err) < 0 ||
	    tmap_state_record(st, NULL, NULL, tmap_guests_get(g, 0), 0, &err) < 0)
		fail_msg("state: %s", err.message);
	/* db resized to 8 vcpus while it ran 4 (issue 18): the count it still runs. */
	state_guest_set_running_vcpus(st, "db", 4);
	if (tmap_state_save(st, h, &err) < 0)
		fail_msg("state: %s", err.message);
	tmap_state_close(st);
	/* What apply writes, the next run reads: the same guests on a new host. */
	{
		struct tmap_host *h2 = NULL;

		if (tmap_host_new(t, &o, &h2, &err) < 0 ||
		    tmap_state_open(path, 0, &st, &err) < 0 || tmap_state_load(st, h2, &err) < 0)
			fail_msg("state read back: %s", err.message);
		assert_int_equal(tmap_host_guest_count(h2), tmap_host_guest_count(h));
		tmap_state_close(st);
		tmap_host_free(h2);
	}
	/* A plan made in a session with that state says what it placed around. */
	{
		struct tmap_session_options so = TMAP_SESSION_OPTIONS_INIT;
		struct tmap_guests *one = test_guests("[{\"name\": \"next\", \"vcpus\": 1}]");
		struct tmap_session *session = NULL;

		char empty[96];

		/* A state of no guests yet: this host is full with the ones above. */
		snprintf(empty, sizeof(empty), "%s/empty.json", dir);
		so.topology = test_data("host-hugepages.xml");
		so.state = empty;
		if (tmap_session_open(&so, &session, &err) < 0 ||
		    tmap_session_plan(session, one, 0, &p, &err) < 0)
			fail_msg("session plan: %s", err.message);
		s = plan_json(p);
		assert_non_null(strstr(s, "\"state\""));
		walk_text(k, "plan", s);
		free(s);
		p = tmap_plan_free(p);
		tmap_session_close(session);
		tmap_guests_free(one);
	}
	walk_state_file(k, dir, path, lock);

	tmap_host_free(h);
	tmap_guests_free(batch);
	tmap_guests_free(g);
	tmap_topology_free(t);
}

/* A guest holding devices (issue 16): its plan, and the state that keeps them. */
static void
add_devices(struct keys *k)
{
	struct tmap_topology *t = test_topology(test_data("dev-2s-sriov.xml"));
	struct tmap_guests *g = test_guests(
		"[{\"name\": \"nf\", \"vcpus\": 2, \"devices\": [{\"vf_of\": \"eth2\"},"
		" {\"net\": \"eth0\", \"policy\": \"preferred\"}]}]");
	struct tmap_host *h = NULL;
	struct tmap_plan *p = NULL;
	struct tmap_state *st = NULL;
	struct tmap_error err = {0};
	char dir[] = "/tmp/topomap-json-keys.XXXXXX", path[64], lock[80], *s = NULL;

	if (tmap_host_new(t, NULL, &h, &err) < 0 || tmap_host_solve(h, g, &p, &err) < 0)
		fail_msg("devices: %s", err.message);
	s = plan_json(p);
	walk_text(k, "plan", s);
	free(s);
	tmap_plan_free(p);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state.json", dir);
	snprintf(lock, sizeof(lock), "%s.lock", path);
	if (tmap_state_open(path, TMAP_STATE_WRITE, &st, &err) < 0 ||
	    tmap_state_save(st, h, &err) < 0)
		fail_msg("state: %s", err.message);
	tmap_state_close(st);
	walk_state_file(k, dir, path, lock);
	tmap_host_free(h);
	tmap_guests_free(g);
	tmap_topology_free(t);
}

/* Making room (issue 18): a plan with moves, on two nodes of 4 PUs with 2 free on each. */
static void
add_make_room(struct keys *k)
{
	struct tmap_topology *t = test_topology("synthetic:pack:1 numa:2(memory=4GiB) core:4 pu:1");
	struct tmap_guests *g = test_guests(
		"[{\"name\": \"a\", \"vcpus\": 2, \"cells\": [{\"cpus\": \"0-1\"}]},"
		" {\"name\": \"b\", \"vcpus\": 2, \"cells\": [{\"cpus\": \"0-1\"}]},"
		" {\"name\": \"c\", \"vcpus\": 2, \"cells\": [{\"cpus\": \"0-1\"}]},"
		" {\"name\": \"d\", \"vcpus\": 2, \"cells\": [{\"cpus\": \"0-1\"}]},"
		" {\"name\": \"big\", \"vcpus\": 4, \"cells\": [{\"cpus\": \"0-3\"}]}]");
	struct tmap_host *h = NULL;
	struct tmap_plan *p = NULL;
	struct tmap_error err = {0};
	char *s;

	if (tmap_host_new(t, NULL, &h, &err) < 0)
		fail_msg("host: %s", err.message);
	for (size_t i = 0; i < 4; i++)
		if (tmap_host_place(h, tmap_guests_get(g, i), NULL, &err) < 0)
			fail_msg("place: %s", err.message);
	tmap_host_release(h, "a");
	tmap_host_release(h, "d");
	if (tmap_host_make_room(h, tmap_guests_get(g, 4), NULL, &p, &err) < 0)
		fail_msg("make room: %s", err.message);
	assert_true(tmap_plan_move_count(p) > 0);
	s = plan_json(p);
	walk_text(k, "plan", s);
	free(s);
	tmap_plan_free(p);
	tmap_host_free(h);
	tmap_guests_free(g);
	tmap_topology_free(t);
}

static void
contract_keys_are_the_golden_list(void **state)
{
	struct keys got = {0}, want = {0};
	size_t i = 0, j = 0, missing = 0, extra = 0;

	add_topology(&got, "host-hugepages.xml");
	add_topology(&got, "host-cxl.xml");
	add_plan_host_state(&got);
	add_topology(&got, "dev-2s-sriov.xml");
	add_devices(&got);
	add_make_room(&got);
	keys_sort_unique(&got);
	keys_load(&want, test_data("json-keys.txt"));

	while (i < want.n || j < got.n) {
		int c = i == want.n ? 1 : j == got.n ? -1 : strcmp(want.lines[i], got.lines[j]);

		if (c < 0) {
			print_message("gone from the output: %s\n", want.lines[i++]);
			missing++;
		} else if (c > 0) {
			print_message("new in the output:    %s\n", got.lines[j++]);
			extra++;
		} else {
			i++;
			j++;
		}
	}
	if (missing || extra) {
		print_message("The key paths written now (for tests/data/json-keys.txt):\n");
		for (size_t n = 0; n < got.n; n++)
			print_message("%s\n", got.lines[n]);
		fail_msg("%zu contract key(s) gone or changed, %zu new: a renamed key breaks every "
			 "reader; change tests/data/json-keys.txt only on purpose",
			 missing, extra);
	}
	keys_clear(&got);
	keys_clear(&want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(contract_keys_are_the_golden_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
