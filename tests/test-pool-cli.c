/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The shared pool and its overcommit recorded in the state (issue 21), through the built
 * command. The host has 2 nodes of 4 cores x 2 threads: node 0 is PUs 0-7, node 1 is 8-15,
 * siblings 2c and 2c+1. The reserve is core 0 (PUs 0-1), the shared set 2-5 (cores 1 and 2,
 * all on node 0), the cpu overcommit 2: node 0's pool holds 4 x 2 = 8 shared vcpus, node 1
 * has no pool, and dedicated guests have 6-7 and 8-15, 10 PUs.
 */
#include <unistd.h>

#include "testlib.h"

#define HOST "synthetic:pack:1 numa:2(memory=16GiB) core:4 pu:2"

#define SHARED "\"cpu_policy\":\"shared\""

static char dir[] = "/tmp/topomap-pool-XXXXXX";
static char state_path[128];

static int
setup(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(state_path, sizeof(state_path), "%s/state.json", dir);
	return 0;
}

static void
remove_in_dir(const char *name)
{
	char p[192];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	unlink(p);
}

static int
teardown(void **state)
{
	static const char *const names[] = {"state.json", "state.json.lock", "a.json", "b.json",
					    "c.json", "m.json"};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		remove_in_dir(names[i]);
	rmdir(dir);
	return 0;
}

/* A guest file in the scratch directory (policy: its policy keys); its path in buf. */
static const char *
guest_file(char *buf, size_t size, const char *name, unsigned vcpus, const char *policy)
{
	FILE *f;

	snprintf(buf, size, "%s/%s.json", dir, name);
	f = fopen(buf, "w");
	assert_non_null(f);
	fprintf(f, "{\"name\":\"%s\",\"vcpus\":%u,\"memory_mib\":1024,%s}\n", name, vcpus,
		policy);
	fclose(f);
	return buf;
}

static void
expect(struct test_result r, int status, const char *needle)
{
	const char *text = status == 0 ? r.out : r.err;

	if (r.status != status || !strstr(text, needle))
		fail_msg("exit %d (not %d), lacks '%s':\n%s%s", r.status, status, needle, r.out,
			 r.err);
	test_result_clear(&r);
}

/* reserve 0-1, then the pool and its ratio recorded, shown by host set and host show. */
static void
record_pool(void)
{
	remove_in_dir("state.json");
	expect(RUN("reserve", "--topology", HOST, "--state", state_path, "--add", "0-1"), 0,
	       "reserved: 0-1");
	expect(RUN("host", "set", "--topology", HOST, "--state", state_path, "--shared-set", "2-5",
		   "--cpu-overcommit", "2"),
	       0, "shared set     2-5\ncpu ratio      2 (recorded)\nmemory ratio   1 (default)\n");
	expect(RUN("host", "show", "--topology", HOST, "--state", state_path), 0,
	       "shared pool    2-5\n");
}

/* A shared guest floats over the recorded pool of its node, without a --shared-set. */
static void
shared_guest_floats(void **state)
{
	(void)state;
	record_pool();
	expect(RUN("plan", "--topology", HOST, "--state", state_path, "--name", "s", "--vcpus",
		   "3", "--cpu-policy", "shared", "--format", "json"),
	       0, "\"vcpu\":2,\n          \"cpuset\":\"2-5\",\n          \"node\":0");
}

/* 8 shared vcpus fit node 0's pool (4 PUs x 2), a 9th does not: exit 3. */
static void
capacity_counted(void **state)
{
	char a[192], b[192], c[192];
	(void)state;

	record_pool();
	guest_file(a, sizeof(a), "a", 4, SHARED);
	guest_file(b, sizeof(b), "b", 4, SHARED);
	guest_file(c, sizeof(c), "c", 1, SHARED);
	expect(RUN("plan", "--topology", HOST, "--state", state_path, a, b), 0, "guest b");
	expect(RUN("plan", "--topology", HOST, "--state", state_path, a, b, c), 3,
	       "c: needs 1 shared vcpus");
}

/* Dedicated guests have 10 PUs (6-7, 8-15): 10 vcpus fit, 11 do not. */
static void
dedicated_never_on_pool(void **state)
{
	(void)state;
	record_pool();
	expect(RUN("plan", "--topology", HOST, "--state", state_path, "--name", "d", "--vcpus",
		   "10"),
	       0, "vcpus 0-1 -> node 0, 205 MiB, host PUs 6-7");
	expect(RUN("plan", "--topology", HOST, "--state", state_path, "--name", "d", "--vcpus",
		   "11"),
	       3, "d: needs 11 free PUs");
}

/*
 * cpu_policy mixed (issue 21): vcpus 0-1 dedicated go to 6-7, the only free PUs of node 0
 * outside the pool, and vcpus 2-3, the emulator and the iothread float over the pool 2-5, in
 * every format. Its 4 shared vcpus and a shared guest's 4 fill the pool (4 PUs x 2): one more
 * shared vcpu is refused (exit 3). Bad mixed guests: one line each, exit 2.
 */
static void
mixed_guest(void **state)
{
	char a[192], m[192], c[192];
	(void)state;

	record_pool();
#define MIXED "--topology", HOST, "--state", state_path, "--name", "m", "--vcpus", "4", \
	"--iothreads", "1", "--cpu-policy", "mixed", "--dedicated-cpus", "0-1"
	expect(RUN("plan", MIXED, "--format", "json"), 0,
	       "\"cpu_policy\":\"mixed\",\n      \"dedicated_cpus\":\"0-1\"");
	expect(RUN("plan", MIXED, "--format", "json"), 0,
	       "\"vcpu\":1,\n          \"cpuset\":\"7\",");
	expect(RUN("plan", MIXED, "--format", "libvirt"), 0,
	       "<vcpupin vcpu='0' cpuset='6'/>\n    <vcpupin vcpu='1' cpuset='7'/>\n"
	       "    <vcpupin vcpu='2' cpuset='2-5'/>\n    <vcpupin vcpu='3' cpuset='2-5'/>\n"
	       "    <emulatorpin cpuset='2-5'/>\n    <iothreadpin iothread='1' cpuset='2-5'/>");
	expect(RUN("plan", MIXED, "--format", "qemu"), 0,
	       "# cpu policy mixed: vcpus 0-1 dedicated, one each on PUs 6-7; the others float over the shared PUs 2-5\n");
	expect(RUN("plan", MIXED), 0, "mixed (vcpus 0-1 dedicated, the others shared)");
#undef MIXED
	guest_file(a, sizeof(a), "a", 4, SHARED);
	guest_file(m, sizeof(m), "m", 6, "\"cpu_policy\":\"mixed\",\"dedicated_cpus\":[0,1]");
	guest_file(c, sizeof(c), "c", 1, SHARED);
	expect(RUN("plan", "--topology", HOST, "--state", state_path, a, m), 0, "guest m");
	expect(RUN("plan", "--topology", HOST, "--state", state_path, a, m, c), 3,
	       "c: needs 1 shared vcpus");

	expect(RUN("plan", "--topology", HOST, "--name", "m", "--vcpus", "4", "--cpu-policy",
		   "mixed"),
	       2, "topomap: guest 'm': cpu_policy 'mixed' needs field 'dedicated_cpus' (--dedicated-cpus), the vcpus pinned one to one, e.g. '0-1'\n");
	expect(RUN("plan", "--topology", HOST, "--name", "m", "--vcpus", "4", "--dedicated-cpus",
		   "0-1"),
	       2, "topomap: guest 'm': field 'dedicated_cpus': '0-1' applies only to cpu_policy 'mixed', this guest is dedicated\n");
	expect(RUN("plan", "--topology", HOST, "--name", "m", "--vcpus", "4", "--cpu-policy",
		   "mixed", "--dedicated-cpus", "0-3"),
	       2, "names every vcpu, which is cpu_policy 'dedicated'");
	expect(RUN("plan", "--topology", HOST, "--name", "m", "--vcpus", "4", "--cpu-policy",
		   "mixed", "--dedicated-cpus", "two"),
	       2, "topomap: --dedicated-cpus: 'two' is not a list of vcpus such as 0-1\n");
}

/* Bad values, and values that contradict the state: one line each, exit 2. */
static void
refusals(void **state)
{
	(void)state;
	record_pool();
	expect(RUN("host", "set", "--topology", HOST, "--state", state_path, "--cpu-overcommit",
		   "0"),
	       2, "topomap: --cpu-overcommit: '0' is out of range (above 0, at most 1024)\n");
	expect(RUN("host", "set", "--topology", HOST, "--state", state_path,
		   "--memory-overcommit", "lots"),
	       2, "topomap: --memory-overcommit: 'lots' is not a number such as 2 or 1.5\n");
	expect(RUN("host", "set", "--topology", HOST, "--state", state_path, "--shared-set",
		   "1-3"),
	       2, "topomap: host set: shared set '1-3' overlaps the reserve '0-1'\n");
	expect(RUN("host", "set", "--topology", HOST, "--state", state_path, "--shared-set",
		   "14-17"),
	       2, "topomap: host set: shared: '14-17' names PU 16, which is not a usable PU of this host (0-15)\n");
	expect(RUN("plan", "--topology", HOST, "--state", state_path, "--name", "g", "--vcpus",
		   "1", "--shared-set", "2-6"),
	       2, "topomap: shared set '2-6' contradicts the shared set '2-5' recorded in state file");
	expect(RUN("plan", "--topology", HOST, "--state", state_path, "--name", "g", "--vcpus",
		   "1", "--cpu-overcommit", "3"),
	       2, "topomap: cpu overcommit 3 contradicts the 2 recorded in state file");
	expect(RUN("reserve", "--topology", HOST, "--state", state_path, "--add", "4"), 2,
	       "reserve '0-1,4' overlaps the shared set '2-5'");
	/* the same values as recorded are no contradiction */
	expect(RUN("plan", "--topology", HOST, "--state", state_path, "--name", "g", "--vcpus",
		   "1", "--shared-set", "2-5", "--cpu-overcommit", "2"),
	       0, "guest g");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(shared_guest_floats),
		cmocka_unit_test(capacity_counted),
		cmocka_unit_test(dedicated_never_on_pool),
		cmocka_unit_test(mixed_guest),
		cmocka_unit_test(refusals),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
