/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Guest specifications: what is accepted, the defaults, and one clear line for each mistake. */
#include <sys/stat.h>
#include <unistd.h>

#include "testlib.h"

static void
json_full_guest(void **state)
{
	struct tmap_guests *l = test_guests(
		"{\"name\":\"db-1\",\"vcpus\":8,\"memory_mib\":8192,\"sockets\":2,\"cores\":2,"
		"\"threads\":2,\"cells\":[{\"cpus\":[0,1,2,3],\"memory_mib\":4096},"
		"{\"cpus\":\"4-7\",\"memory_mib\":4096}],\"cpu_policy\":\"dedicated\","
		"\"thread_policy\":\"require\",\"emulator_threads\":\"isolate\",\"iothreads\":2,"
		"\"memory_mode\":\"interleave\",\"qos\":{\"shares\":2048,\"period\":100000,"
		"\"quota\":-1}}");
	const struct tmap_guest *g = tmap_guests_get(l, 0);
	struct guest_cells cells = {0};

	assert_int_equal(tmap_guests_count(l), 1);
	assert_string_equal(tmap_guest_name(g), "db-1");
	assert_int_equal(g->vcpus, 8);
	assert_int_equal(g->sockets, 2);
	assert_int_equal(g->cores, 2);
	assert_int_equal(g->threads, 2);
	assert_int_equal(g->thread_policy, TMAP_THREAD_REQUIRE);
	assert_int_equal(g->emulator_policy, TMAP_EMULATOR_ISOLATE);
	assert_int_equal(g->memory_mode, TMAP_MEMORY_INTERLEAVE);
	assert_int_equal(g->iothreads, 2);
	assert_int_equal(g->shares, 2048);
	assert_int_equal(g->period, 100000);
	assert_int_equal(g->quota, -1);
	assert_int_equal(guest_resolve_cells(g, &cells), 0);
	assert_int_equal(cells.n, 2);
	assert_false(cells.implied);
	assert_int_equal(hwloc_bitmap_first(cells.vcpus[1]), 4);
	assert_int_equal(hwloc_bitmap_last(cells.vcpus[1]), 7);
	assert_int_equal(cells.memory_mib[1], 4096);
	guest_cells_clear(&cells);
	assert_null(tmap_guests_get(l, 1));
	tmap_guests_free(l);
}

static void
defaults(void **state)
{
	struct tmap_guests *l = test_guests("[{\"name\":\"a\",\"vcpus\":6}]");
	const struct tmap_guest *g = tmap_guests_get(l, 0);
	struct guest_cells cells = {0};

	assert_int_equal(g->cpu_policy, TMAP_CPU_DEDICATED);
	assert_int_equal(g->thread_policy, TMAP_THREAD_PREFER);
	assert_int_equal(g->emulator_policy, TMAP_EMULATOR_SHARE);
	assert_int_equal(g->memory_mode, TMAP_MEMORY_STRICT);
	assert_int_equal(g->sockets, 1);
	assert_int_equal(g->cores, 6);
	assert_int_equal(g->threads, 1);
	assert_int_equal(g->memory_mib, 1024);
	assert_int_equal(guest_resolve_cells(g, &cells), 0);
	assert_int_equal(cells.n, 1);
	assert_true(cells.implied);
	assert_int_equal(hwloc_bitmap_weight(cells.vcpus[0]), 6);
	assert_int_equal(cells.memory_mib[0], 1024);
	guest_cells_clear(&cells);
	tmap_guests_free(l);
}

static void
threads_imply_cores(void **state)
{
	struct tmap_guests *l = test_guests("{\"name\":\"a\",\"vcpus\":8,\"threads\":2}");
	const struct tmap_guest *g = tmap_guests_get(l, 0);

	assert_int_equal(g->sockets, 1);
	assert_int_equal(g->cores, 4);
	assert_int_equal(g->threads, 2);
	tmap_guests_free(l);
}

static void
even_cells_from_count(void **state)
{
	struct tmap_guest *g = NULL;
	struct guest_cells cells = {0};

	assert_int_equal(tmap_guest_new("a", 10, &g, NULL), 0);
	assert_int_equal(tmap_guest_set_topology(g, 1, 5, 2), 0);
	assert_int_equal(tmap_guest_set_memory_mib(g, 3001), 0);
	assert_int_equal(tmap_guest_set_cell_count(g, 2), 0);
	assert_int_equal(tmap_guest_validate(g, NULL), 0);
	assert_int_equal(guest_resolve_cells(g, &cells), 0);
	/* 5 guest cores in 2 cells: 3 then 2, never splitting a core; memory adds up. */
	assert_int_equal(hwloc_bitmap_weight(cells.vcpus[0]), 6);
	assert_int_equal(hwloc_bitmap_weight(cells.vcpus[1]), 4);
	assert_int_equal(cells.memory_mib[0] + cells.memory_mib[1], 3001);
	guest_cells_clear(&cells);
	tmap_guest_free(g);
}

static void
cells_without_memory_share_the_rest(void **state)
{
	struct tmap_guests *l = test_guests(
		"{\"name\":\"a\",\"vcpus\":3,\"memory_mib\":3000,\"cells\":[{\"cpus\":[0],"
		"\"memory_mib\":1000},{\"cpus\":[1]},{\"cpus\":[2]}]}");
	struct guest_cells cells = {0};

	assert_int_equal(guest_resolve_cells(tmap_guests_get(l, 0), &cells), 0);
	assert_int_equal(cells.memory_mib[0], 1000);
	assert_int_equal(cells.memory_mib[1], 1000);
	assert_int_equal(cells.memory_mib[2], 1000);
	guest_cells_clear(&cells);
	tmap_guests_free(l);
}

/* Every bad spec: -EINVAL, one line, naming the file, the guest, the field and the value. */
static void
expect_bad(const char *json, const char *const needles[])
{
	struct tmap_guests *l = NULL;
	struct tmap_error err = {0};

	assert_int_equal(tmap_guests_new(&l), 0);
	assert_int_equal(tmap_guests_parse_json(l, json, strlen(json), "vms.json", &err), -EINVAL);
	assert_int_equal(tmap_guests_count(l), 0);
	assert_null(strchr(err.message, '\n'));
	if (strncmp(err.message, "vms.json: ", 10) != 0)
		fail_msg("'%s' does not start with the file name", err.message);
	for (size_t i = 0; needles[i]; i++)
		if (!strstr(err.message, needles[i]))
			fail_msg("'%s' lacks '%s' (spec %s)", err.message, needles[i], json);
	tmap_guests_free(l);
}

#define BAD(json, ...) expect_bad(json, (const char *const[]){__VA_ARGS__, NULL})

static void
bad_specs(void **state)
{
	BAD("{\"vcpus\":2}", "field 'name' is missing");
	BAD("{\"name\":\"a b\",\"vcpus\":2}", "field 'name'", "\"a b\"");
	BAD("{\"name\":7,\"vcpus\":2}", "field 'name'", "not a string");
	BAD("{\"name\":\"vm1\"}", "guest 'vm1'", "field 'vcpus' is missing");
	BAD("{\"name\":\"vm1\",\"vcpus\":0}", "guest 'vm1'", "field 'vcpus'", "0 is not between");
	BAD("{\"name\":\"vm1\",\"vcpus\":\"4\"}", "field 'vcpus'", "\"4\" is not an integer");
	BAD("{\"name\":\"vm1\",\"vcpus\":-3}", "field 'vcpus'", "-3");
	BAD("{\"name\":\"vm1\",\"vcpus\":2.5}", "field 'vcpus'", "2.5");
	BAD("{\"name\":\"vm1\",\"vcpus\":99999}", "field 'vcpus'", "99999");
	BAD("{\"name\":\"vm1\",\"vcpus\":2,\"vcpu\":2}", "guest 'vm1'", "unknown field 'vcpu'");
	BAD("{\"name\":\"vm1\",\"vcpus\":2,\"memory_mib\":0}", "field 'memory_mib'", "0");
	BAD("{\"name\":\"vm1\",\"vcpus\":6,\"sockets\":2,\"cores\":2}", "guest 'vm1'",
	    "sockets*cores*threads is 2*2*1 = 4, not vcpus 6");
	BAD("{\"name\":\"vm1\",\"vcpus\":2,\"cpu_policy\":\"pinned\"}", "field 'cpu_policy'",
	    "\"pinned\" is not one of dedicated, shared");
	BAD("{\"name\":\"vm1\",\"vcpus\":2,\"thread_policy\":\"spread\"}", "field 'thread_policy'",
	    "\"spread\"");
	BAD("{\"name\":\"vm1\",\"vcpus\":2,\"emulator_threads\":1}", "field 'emulator_threads'");
	BAD("{\"name\":\"vm1\",\"vcpus\":2,\"cells_share_nodes\":\"yes\"}",
	    "field 'cells_share_nodes'", "\"yes\" is not true or false");
	BAD("{\"name\":\"vm1\",\"vcpus\":2,\"memory_mode\":\"bind\"}", "field 'memory_mode'",
	    "\"bind\"");
	BAD("{\"name\":\"vm1\",\"vcpus\":2,\"cpu_policy\":\"shared\",\"thread_policy\":\"isolate\"}",
	    "field 'thread_policy'", "shared");
	BAD("{\"name\":\"vm1\",\"vcpus\":2,\"cpu_policy\":\"shared\",\"emulator_threads\":\"isolate\"}",
	    "field 'emulator_threads'", "shared");
	BAD("{\"name\":\"vm1\",\"vcpus\":4,\"threads\":2,\"thread_policy\":\"isolate\"}",
	    "field 'thread_policy'", "threads=2");
	BAD("{\"name\":\"vm1\",\"vcpus\":2,\"iothreads\":65}", "field 'iothreads'", "65");
	BAD("{\"name\":\"vm1\",\"vcpus\":2,\"qos\":{\"shares\":1}}", "field 'qos.shares'", "1 is");
	BAD("{\"name\":\"vm1\",\"vcpus\":2,\"qos\":{\"period\":10}}", "field 'qos.period'");
	BAD("{\"name\":\"vm1\",\"vcpus\":2,\"qos\":{\"quota\":5}}", "field 'qos.quota'");
	BAD("{\"name\":\"vm1\",\"vcpus\":2,\"qos\":{\"weight\":5}}", "unknown field 'qos.weight'");
	/* cells */
	BAD("{\"name\":\"vm1\",\"vcpus\":4,\"cells\":[{\"cpus\":[0,1]},{\"cpus\":[1,2,3]}]}",
	    "guest 'vm1'", "cell 1", "vcpu 1 is already in another cell");
	BAD("{\"name\":\"vm1\",\"vcpus\":4,\"cells\":[{\"cpus\":[0,1]},{\"cpus\":[2]}]}",
	    "vcpu 3 is in no cell");
	BAD("{\"name\":\"vm1\",\"vcpus\":4,\"cells\":[{\"cpus\":\"0-4\"}]}", "cell 0",
	    "'0-4' names vcpu 4", "0-3");
	BAD("{\"name\":\"vm1\",\"vcpus\":4,\"cells\":[{\"cpus\":\"0-1,\"},{\"cpus\":\"2-3\"}]}",
	    "field 'cells[0].cpus'", "\"0-1,\"");
	BAD("{\"name\":\"vm1\",\"vcpus\":4,\"cells\":[{\"cpus\":[0,0,1]},{\"cpus\":\"2-3\"}]}",
	    "field 'cells[0].cpus'", "appears twice");
	BAD("{\"name\":\"vm1\",\"vcpus\":4,\"cells\":[{\"cpus\":[0,1,2,3],\"mem\":1}]}",
	    "unknown field 'cells[0].mem'");
	BAD("{\"name\":\"vm1\",\"vcpus\":4,\"cells\":[{\"memory_mib\":1024}]}",
	    "field 'cells[0].cpus' is missing");
	BAD("{\"name\":\"vm1\",\"vcpus\":4,\"cells\":[]}", "field 'cells'");
	BAD("{\"name\":\"vm1\",\"vcpus\":4,\"memory_mib\":4096,\"cells\":[{\"cpus\":\"0-1\","
	    "\"memory_mib\":1024},{\"cpus\":\"2-3\",\"memory_mib\":1024}]}",
	    "cell memory adds up to 2048 MiB, not memory_mib 4096");
	BAD("{\"name\":\"vm1\",\"vcpus\":4,\"threads\":2,\"cells\":[{\"cpus\":\"0\"},"
	    "{\"cpus\":\"1-3\"}]}",
	    "cell 0", "splits guest core 0 (vcpus 0-1)");
	/* documents */
	BAD("[{\"name\":\"a\",\"vcpus\":2},{\"name\":\"a\",\"vcpus\":2}]", "guest 'a'",
	    "'a' is already the name of a guest");
	BAD("[{\"name\":\"a\",\"vcpus\":2},{\"name\":\"b\",\"vcpus\":0}]", "guest 'b'");
	BAD("{\"name\":\"a\",\n\"vcpus\":2,,}", "line 2", "invalid JSON");
	BAD("{\"name\":\"a\",\"vcpus\":2} {}", "line 1", "invalid JSON");
	BAD("[]", "holds no guest");
	BAD("42", "expected a guest object");
	BAD("[42]", "guest #0 is not a JSON object");
	BAD("", "invalid JSON");
}

/* What json-c lets through and a guest file must not: issue 14. */
static void
strict_json(void **state)
{
	char deep[128];

	BAD("null", "expected a guest object or an array of guest objects, got null");
	BAD("\"vm1\"", "got a string");
	BAD("{\"name\":\"vm1\",\"vcpus\":2,\"vcpus\":4}", "key \"vcpus\" appears twice");
	BAD("{\"name\":\"vm1\",\"vcpus\":2,\"qos\":{\"shares\":100,\"shares\":200}}",
	    "key \"shares\" appears twice");
	BAD("[{\"name\":\"a\",\"vcpus\":1},\n{\"name\":\"b\",\"na\\u006de\":\"c\",\"vcpus\":1}]",
	    "line 2", "key \"name\" appears twice");
	BAD("{\"name\":\"vm1\",\"vcpus\":4,\"cells\":[{\"cpus\":\"0-1\",\"cpus\":\"2-3\"}]}",
	    "key \"cpus\" appears twice");
	BAD("{\"name\":\"vm\\u0000x\",\"vcpus\":2}", "\\u0000");
	BAD("{\"name\":\"vm1\",\"vcpus\":2,\"page_size\":\"2M\\u0000junk\"}", "\\u0000");
	BAD("{\"name\":\"\xff\",\"vcpus\":2}", "invalid JSON");
	memset(deep, '[', 40);
	memset(deep + 40, ']', 40);
	deep[80] = '\0';
	BAD(deep, "nested deeper than 32 levels");
}

/* The reader itself: what is one key, what is not a duplicate. */
static void
json_reader(void **state)
{
	static const char *const good[] = {
		"{\"k\":\"\\\\u0000\"}",			/* an escaped backslash, then text */
		"{\"a\":{\"b\":1},\"c\":{\"b\":1},\"d\":[{\"b\":1},{\"b\":2}]}",
		"{\"a\":\"{\\\"a\\\":1,\\\"a\\\":2}\"}",	/* braces and keys inside a string */
		"{\"\":1,\"a\":{\"\":2}}",
	};
	static const struct {
		const char *json, *needle;
	} bad[] = {
		{"{\"a\":[{\"x\":1,\"x\":2}]}", "key \"x\" appears twice"},
		{"{\"a\":{\"x\":1},\"a\":{\"y\":2}}", "key \"a\" appears twice"},
		{"{\"a\":{\"x\":1,\"x\":1},\"a\":2}", "key \"a\" appears twice"},
		{"{\"\\u00e9\":1,\"\xc3\xa9\":2}", "key \"\xc3\xa9\" appears twice"},
		{"[{}]", "expected a JSON object, got a JSON array"},
		{"null", "expected a JSON object, got null"},
		{"{} x", "text after the end"},
		{"{\"a\":1} {\"a\":1}", "text after the end"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		struct json_object *o = NULL;
		struct tmap_error err = {0};

		if (json_read(good[i], strlen(good[i]), "f.json", json_type_object, NULL, &o, &err))
			fail_msg("'%s' refused: %s", good[i], err.message);
		json_object_put(o);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct json_object *o = NULL;
		struct tmap_error err = {0};

		assert_int_equal(json_read(bad[i].json, strlen(bad[i].json), "f.json",
					   json_type_object, NULL, &o, &err),
				 -EINVAL);
		assert_null(o);
		if (!strstr(err.message, bad[i].needle) || strncmp(err.message, "f.json: ", 8))
			fail_msg("'%s' lacks '%s'", err.message, bad[i].needle);
	}
}

/* A FIFO given as a guest file blocked forever in open(): issue 14. Refused at once; an
 * alarm turns a hang into a failure. */
static void
fifo_refused(void **state)
{
	struct tmap_guests *l = NULL;
	struct tmap_error err = {0};
	char dir[] = "/tmp/topomap-test-fifo-XXXXXX", path[64], want[128];

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/guests.json", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(tmap_guests_new(&l), 0);
	alarm(10);
	assert_int_equal(tmap_guests_load_json(l, path, &err), -EINVAL);
	alarm(0);
	snprintf(want, sizeof(want), "%s: is a FIFO, not a regular file", path);
	assert_string_equal(err.message, want);
	assert_int_equal(tmap_guests_load_json(l, "/dev/null", &err), -EINVAL);
	assert_string_equal(err.message, "/dev/null: is a character device, not a regular file");
	tmap_guests_free(l);
	unlink(path);
	rmdir(dir);
}

/* Every size bounded, sums that cannot wrap: issue 14 (--cell memory= was unbounded). */
static void
sizes_bounded(void **state)
{
	struct tmap_guest *g = NULL;
	struct tmap_error err = {0};
	char json[256];

	assert_int_equal(tmap_guest_new("big", 2, &g, NULL), 0);
	assert_int_equal(tmap_guest_set_memory_mib(g, TMAP_MAX_MEMORY_MIB + 1), -EINVAL);
	assert_int_equal(tmap_guest_set_memory_mib(g, TMAP_MAX_MEMORY_MIB), 0);
	/* Two halves of 2^64 added up to 0 MiB. */
	assert_int_equal(tmap_guest_add_cell(g, "0", UINT64_C(1) << 63, &err), -EINVAL);
	assert_string_equal(err.message,
			    "guest 'big': cell 0: memory 9223372036854775808 MiB is more than the most a guest may have, 4294967296 MiB (4 PiB)");
	tmap_guest_free(g);

	/* Each cell at the bound, their sum over it. */
	assert_int_equal(tmap_guest_new("big", 2, &g, NULL), 0);
	assert_int_equal(tmap_guest_add_cell(g, "0", TMAP_MAX_MEMORY_MIB, &err), 0);
	assert_int_equal(tmap_guest_add_cell(g, "1", TMAP_MAX_MEMORY_MIB, &err), 0);
	assert_int_equal(tmap_guest_validate(g, &err), -EINVAL);
	assert_string_equal(err.message,
			    "guest 'big': cells: cell memory adds up to more than 4294967296 MiB (4 PiB), the most a guest may have");
	tmap_guest_free(g);

	snprintf(json, sizeof(json), "{\"name\":\"vm1\",\"vcpus\":2,\"memory_mib\":%" PRIu64 "}",
		 TMAP_MAX_MEMORY_MIB + 1);
	BAD(json, "field 'memory_mib'", "4294967297");
	snprintf(json, sizeof(json),
		 "{\"name\":\"vm1\",\"vcpus\":2,\"cells\":[{\"cpus\":\"0\",\"memory_mib\":%" PRIu64
		 "},{\"cpus\":\"1\",\"memory_mib\":1}]}",
		 TMAP_MAX_MEMORY_MIB + 1);
	BAD(json, "field 'cells[0].memory_mib'", "4294967297");
	snprintf(json, sizeof(json),
		 "{\"name\":\"vm1\",\"vcpus\":2,\"cells\":[{\"cpus\":\"0\",\"memory_mib\":%" PRIu64
		 "},{\"cpus\":\"1\",\"memory_mib\":%" PRIu64 "}]}",
		 TMAP_MAX_MEMORY_MIB, TMAP_MAX_MEMORY_MIB);
	BAD(json, "cell memory adds up to more than 4294967296 MiB");
}

/* All or nothing, and names unique across files. */
static void
all_or_nothing_across_files(void **state)
{
	struct tmap_guests *l = test_guests("{\"name\":\"a\",\"vcpus\":1}");
	const char *second = "[{\"name\":\"b\",\"vcpus\":1},{\"name\":\"a\",\"vcpus\":1}]";
	struct tmap_error err = {0};

	assert_int_equal(tmap_guests_parse_json(l, second, strlen(second), "two.json", &err),
			 -EINVAL);
	assert_non_null(strstr(err.message, "two.json: guest 'a'"));
	assert_non_null(strstr(err.message, "already the name of a guest in test"));
	assert_int_equal(tmap_guests_count(l), 1);
	tmap_guests_free(l);
}

static void
load_files(void **state)
{
	struct tmap_guests *l = NULL;
	struct tmap_error err = {0};
	char path[256];
	FILE *f;

	assert_int_equal(tmap_guests_new(&l), 0);
	assert_int_equal(tmap_guests_load_json(l, "/nonexistent/vms.json", &err), -ENOENT);
	assert_non_null(strstr(err.message, "/nonexistent/vms.json"));
	assert_int_equal(tmap_guests_load_json(l, "/tmp", &err), -EINVAL);
	/* An endless device is no file; a file over the limit is cut there, not read whole. */
	assert_int_equal(tmap_guests_load_json(l, "/dev/zero", &err), -EINVAL);
	assert_non_null(strstr(err.message, "/dev/zero: is a character device"));
	snprintf(path, sizeof(path), "/tmp/topomap-test-guest-%d.json", (int)getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(ftruncate(fileno(f), 17 << 20), 0);
	fclose(f);
	assert_int_equal(tmap_guests_load_json(l, path, &err), -EFBIG);
	assert_non_null(strstr(err.message, ": larger than 16 MiB"));

	f = fopen(path, "w");
	assert_non_null(f);
	fputs("[{\"name\":\"x\",\"vcpus\":2,\"memory_mib\":512}]\n", f);
	fclose(f);
	assert_int_equal(tmap_guests_load_json(l, path, &err), 0);
	assert_int_equal(tmap_guests_count(l), 1);
	assert_string_equal(tmap_guests_get(l, 0)->origin, path);
	unlink(path);
	tmap_guests_free(l);
}

static void
setters_refuse_nonsense(void **state)
{
	struct tmap_guest *g = NULL;
	struct tmap_error err = {0};

	assert_int_equal(tmap_guest_new("", 1, &g, &err), -EINVAL);
	assert_int_equal(tmap_guest_new("../etc", 1, &g, &err), -EINVAL);
	assert_int_equal(tmap_guest_new("ok", 0, &g, &err), -EINVAL);
	assert_non_null(strstr(err.message, "guest 'ok': field 'vcpus': 0"));
	assert_null(g);
	assert_int_equal(tmap_guest_new("ok", 4, &g, &err), 0);
	assert_int_equal(tmap_guest_set_topology(g, 0, 1, 1), -EINVAL);
	assert_int_equal(tmap_guest_set_memory_mib(g, 0), -EINVAL);
	assert_int_equal(tmap_guest_set_cpu_policy(g, (enum tmap_cpu_policy)7), -EINVAL);
	assert_int_equal(tmap_guest_set_qos(g, 1, 0, 0), -EINVAL);
	assert_int_equal(tmap_guest_set_qos(g, 0, 0, -1), 0);
	assert_int_equal(tmap_guest_set_iothreads(g, 65), -EINVAL);
	assert_int_equal(tmap_guest_add_cell(g, "0-1-2", 0, &err), -EINVAL);
	assert_non_null(strstr(err.message, "'0-1-2'"));
	assert_int_equal(tmap_guest_add_cell(g, "3-", 0, &err), -EINVAL);
	assert_int_equal(tmap_guest_add_cell(g, "2-1", 0, &err), -EINVAL);
	assert_int_equal(tmap_guest_add_cell(g, "0-3", 0, &err), 0);
	assert_int_equal(tmap_guest_validate(g, &err), 0);
	tmap_guest_free(g);
}

static void
sizes(void **state)
{
	uint64_t v = 0;

	assert_int_equal(parse_size_mib("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(parse_size_mib("512M", &v), 0);
	assert_int_equal(v, 512);
	assert_int_equal(parse_size_mib("4G", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(parse_size_mib("4GiB", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(parse_size_mib("1T", &v), 0);
	assert_int_equal(v, 1024 * 1024);
	assert_int_equal(parse_size_mib("1.5G", &v), -EINVAL);
	assert_int_equal(parse_size_mib("-1", &v), -EINVAL);
	assert_int_equal(parse_size_mib("0", &v), -EINVAL);
	assert_int_equal(parse_size_mib("4X", &v), -EINVAL);
	assert_int_equal(parse_size_mib("", &v), -EINVAL);
	assert_int_equal(parse_size_mib("99999999999999999999", &v), -EINVAL);
}

static void
page_sizes(void **state)
{
	static const struct {
		const char *text;
		uint64_t kib;
	} good[] = {
		{"2M", 2048}, {"2MiB", 2048}, {"2m", 2048}, {"1G", 1048576}, {"1GiB", 1048576},
		{"2048", 2048}, {"2048k", 2048}, {"2048KiB", 2048}, {"64K", 64}, {"16G", 16777216},
	};
	static const char *const bad[] = {"3M", "4K", "0", "", "2X", "1.5G", "-2M", "32G",
					  "2M ", "99999999999999999999"};
	uint64_t v = 0;

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		if (parse_page_kib(good[i].text, &v) < 0)
			fail_msg("'%s' refused", good[i].text);
		assert_int_equal(v, good[i].kib);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (parse_page_kib(bad[i], &v) == 0)
			fail_msg("'%s' accepted as %" PRIu64 " KiB", bad[i], v);
}

/* "hugepages" as libvirt's <page size=...>: a size string or KiB, and whole pages. */
static void
hugepage_guests(void **state)
{
	struct tmap_guests *l = test_guests(
		"[{\"name\":\"a\",\"vcpus\":2,\"memory_mib\":4096,\"hugepages\":\"1G\"},"
		"{\"name\":\"b\",\"vcpus\":2,\"memory_mib\":6,\"hugepages\":2048},"
		"{\"name\":\"c\",\"vcpus\":4,\"cells\":[{\"cpus\":\"0-1\",\"memory_mib\":1024},"
		"{\"cpus\":\"2-3\",\"memory_mib\":2048}],\"hugepages\":\"1GiB\"},"
		"{\"name\":\"d\",\"vcpus\":2}]");
	struct tmap_guest *g = NULL;
	struct tmap_error err = {0};

	assert_int_equal(tmap_guests_get(l, 0)->page_kib, 1048576);
	assert_int_equal(tmap_guests_get(l, 1)->page_kib, 2048);
	assert_int_equal(tmap_guests_get(l, 2)->page_kib, 1048576);
	assert_int_equal(tmap_guests_get(l, 3)->page_kib, 0);
	tmap_guests_free(l);

	BAD("{\"name\":\"vm1\",\"vcpus\":2,\"hugepages\":\"3M\"}", "guest 'vm1'",
	    "field 'hugepages': \"3M\" is not a hugepage size");
	BAD("{\"name\":\"vm1\",\"vcpus\":2,\"hugepages\":0}", "field 'hugepages': 0 is not");
	BAD("{\"name\":\"vm1\",\"vcpus\":2,\"hugepages\":-2048}", "field 'hugepages': -2048");
	BAD("{\"name\":\"vm1\",\"vcpus\":2,\"hugepages\":true}", "field 'hugepages': true");
	BAD("{\"name\":\"vm1\",\"vcpus\":2,\"hugepages\":\"2M\",\"memory_mib\":1025}",
	    "field 'hugepages': memory_mib 1025 is not a whole number of 2 MiB pages");
	/* Cells of 1536 MiB each: not whole 1 GiB pages. */
	BAD("{\"name\":\"vm1\",\"vcpus\":2,\"hugepages\":\"1G\",\"memory_mib\":3072,"
	    "\"cells\":[{\"cpus\":\"0\"},{\"cpus\":\"1\"}]}",
	    "field 'hugepages': cell 0 gets 1536 MiB, not a whole number of 1 GiB pages");

	assert_int_equal(tmap_guest_new("h", 2, &g, &err), 0);
	assert_int_equal(tmap_guest_set_hugepages(g, 3000), -EINVAL);
	assert_int_equal(tmap_guest_set_hugepages(g, 4), -EINVAL);
	assert_int_equal(tmap_guest_set_hugepages(g, 32ULL << 20), -EINVAL);
	assert_int_equal(tmap_guest_set_hugepages(g, 1048576), 0);
	assert_int_equal(tmap_guest_set_memory_mib(g, 2048), 0);
	assert_int_equal(tmap_guest_validate(g, &err), 0);
	assert_int_equal(tmap_guest_set_cell_count(g, 2), 0);
	assert_int_equal(tmap_guest_set_memory_mib(g, 3072), 0);
	assert_int_equal(tmap_guest_validate(g, &err), -EINVAL);
	assert_non_null(strstr(err.message, "guest 'h': field 'hugepages': cell 0 gets 1536 MiB"));
	assert_int_equal(tmap_guest_set_hugepages(g, 0), 0);
	assert_int_equal(tmap_guest_validate(g, &err), 0);
	tmap_guest_free(g);
}

/* The getters give what a guest holds, as set or by default: what the CLI compares a guest
 * read from a running target with. */
static void
getters(void **state)
{
	struct tmap_guests *l = test_guests(
		"[{\"name\":\"a\",\"vcpus\":4,\"threads\":2,\"cells\":[{\"cpus\":\"0-1\","
		"\"memory_mib\":1024},{\"cpus\":\"2-3\",\"memory_mib\":2048}],\"iothreads\":2,"
		"\"hugepages\":\"1G\",\"qos\":{\"shares\":300,\"quota\":-1}},"
		"{\"name\":\"b\",\"vcpus\":3}]");
	const struct tmap_guest *a = tmap_guests_get(l, 0), *b = tmap_guests_get(l, 1);
	unsigned s, c, t;
	uint64_t shares, period;
	int64_t quota;

	assert_int_equal(tmap_guest_vcpus(a), 4);
	tmap_guest_topology(a, &s, &c, &t);
	assert_int_equal(s, 1);
	assert_int_equal(c, 2);
	assert_int_equal(t, 2);
	assert_int_equal(tmap_guest_memory_mib(a), 3072);
	assert_int_equal(tmap_guest_cell_count(a), 2);
	assert_int_equal(tmap_guest_iothreads(a), 2);
	assert_int_equal(tmap_guest_hugepages(a), 1048576);
	tmap_guest_qos(a, &shares, &period, &quota);
	assert_int_equal(shares, 300);
	assert_int_equal(period, 0);
	assert_int_equal(quota, -1);

	assert_int_equal(tmap_guest_vcpus(b), 3);
	tmap_guest_topology(b, &s, &c, NULL);
	assert_int_equal(s, 1);
	assert_int_equal(c, 3);
	assert_int_equal(tmap_guest_memory_mib(b), 1024);
	assert_int_equal(tmap_guest_cell_count(b), 1);
	assert_int_equal(tmap_guest_iothreads(b), 0);
	assert_int_equal(tmap_guest_hugepages(b), 0);

	assert_int_equal(tmap_guest_vcpus(NULL), 0);
	assert_int_equal(tmap_guest_memory_mib(NULL), 0);
	tmap_guests_free(l);
	(void)state;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(json_full_guest),
		cmocka_unit_test(defaults),
		cmocka_unit_test(threads_imply_cores),
		cmocka_unit_test(even_cells_from_count),
		cmocka_unit_test(cells_without_memory_share_the_rest),
		cmocka_unit_test(bad_specs),
		cmocka_unit_test(strict_json),
		cmocka_unit_test(json_reader),
		cmocka_unit_test(fifo_refused),
		cmocka_unit_test(sizes_bounded),
		cmocka_unit_test(all_or_nothing_across_files),
		cmocka_unit_test(load_files),
		cmocka_unit_test(setters_refuse_nonsense),
		cmocka_unit_test(sizes),
		cmocka_unit_test(page_sizes),
		cmocka_unit_test(hugepage_guests),
		cmocka_unit_test(getters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
