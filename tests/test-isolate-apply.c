/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Guests applied to an isolated host join its isolation in the same transaction (issue 15,
 * item 3), through the session as an embedder calls it. The isolation is written under a
 * copy of a cgroup v1 cpuset hierarchy and of /proc/irq in a temporary directory (the
 * isolation's cgroup_root and proc_root options, recorded in the state), so that every file
 * can be read back and a write can be made to fail: a cpuset.cpus replaced by a symbolic
 * link is read through it but never written (O_NOFOLLOW), as a kernel refusal. The mock
 * backend stands for a guest's target: its file shows the guest's apply and its restore.
 * The same path runs on the real hierarchies in test-isolate (cgroup v1) and vm-isolate (v2).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <topomap/session.h>

#include "testlib.h"

#define HOST "synthetic:pack:1 numa:1(memory=64GiB) core:8 pu:1"

static char dir[] = "/tmp/topomap-isolapply-XXXXXX";
static char state_path[4200], cg[4200], proc[4200], sys[4200];
/* The host's source: HOST, or a fixture with PCI devices. */
static const char *host_src;
static const char *const cgroups[] = {"", "/topomap-isolapply-a", "/topomap-isolapply-a/sub",
				      "/topomap-isolapply-b"};

/* A file's first line. */
static char *
get(const char *path)
{
	char *text = test_read_file(path);

	text[strcspn(text, "\n")] = '\0';
	return text;
}

static char *
path_of(const char *base, const char *rel, const char *file)
{
	static char path[3][4400];
	static unsigned i;

	i = (i + 1) % 3;
	snprintf(path[i], sizeof(path[i]), "%s%s/%s", base, rel, file);
	return path[i];
}

static int
setup(void **unused)
{
	(void)unused;
	strcpy(dir, "/tmp/topomap-isolapply-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(state_path, sizeof(state_path), "%s/state.json", dir);
	snprintf(cg, sizeof(cg), "%s/cpuset", dir);
	snprintf(proc, sizeof(proc), "%s/proc", dir);
	snprintf(sys, sizeof(sys), "%s/sys", dir);
	host_src = HOST;
	for (size_t i = 0; i < ARRAY_SIZE(cgroups); i++) {
		mkdir(path_of(cg, cgroups[i], ""), 0755);
		test_write_file(path_of(cg, cgroups[i], "cpuset.cpus"), "0-7\n");
	}
	mkdir(proc, 0755);
	mkdir(path_of(proc, "/irq", ""), 0755);
	mkdir(path_of(proc, "/irq/5", ""), 0755);
	test_write_file(path_of(proc, "/irq/5", "smp_affinity_list"), "0-7\n");
	test_write_file(path_of(proc, "/irq/5", "effective_affinity_list"), "7\n");
	setenv("TOPOMAP_PLUGIN_PATH", getenv("TOPOMAP_MOCK_PLUGIN_DIR"), 1);
	return 0;
}

static int
teardown(void **unused)
{
	(void)unused;
	return test_remove_tree(dir);
}

static struct tmap_session *
open_session(void)
{
	struct tmap_session_options o = TMAP_SESSION_OPTIONS_INIT;
	struct tmap_session *s = NULL;
	struct tmap_error err = {0};

	o.topology = host_src;
	o.state = state_path;
	o.flags = TMAP_SESSION_WRITE;
	if (tmap_session_open(&o, &s, &err) < 0)
		fail_msg("tmap_session_open: %s", err.message);
	return s;
}

/* Apply guest name (vcpus, dedicated unless shared) to a mock target file of its own. */
static int
apply(struct tmap_session *s, const char *name, unsigned vcpus, bool shared,
      struct tmap_error *err)
{
	struct tmap_target *t = NULL;
	struct tmap_guest *g = NULL;
	int r;

	if (access(path_of(dir, "", name), F_OK) < 0)
		test_write_file(path_of(dir, "", name), "");
	assert_int_equal(tmap_target_new(&t), 0);
	assert_int_equal(tmap_target_set(t, "file", path_of(dir, "", name)), 0);
	assert_int_equal(tmap_guest_new(name, vcpus, &g, NULL), 0);
	if (shared)
		assert_int_equal(tmap_guest_set_cpu_policy(g, TMAP_CPU_SHARED), 0);
	r = tmap_session_apply(s, "mock", t, g, 0, NULL, NULL, err);
	tmap_guest_free(g);
	tmap_target_free(t);
	return r;
}

/* What the last isolate() left to the guests. */
static char left[4][128];
static size_t nleft;

/* host isolate, as the CLI does it, with the copy's roots and two cgroups narrowed. */
static void
isolate(void)
{
	struct tmap_isolate_options o = TMAP_ISOLATE_OPTIONS_INIT;
	const char *narrow[] = {"topomap-isolapply-a", "topomap-isolapply-b"};
	struct tmap_topology *t = test_topology(host_src);
	struct tmap_partition *p = NULL;
	struct tmap_isolation *iso = NULL;
	struct tmap_state *st = NULL;
	struct tmap_host *h = NULL;
	struct tmap_error err = {0};

	o.narrow = narrow;
	o.nnarrow = 2;
	o.cgroup_root = cg;
	o.proc_root = proc;
	o.sys_root = sys;
	assert_int_equal(tmap_state_open(state_path, TMAP_STATE_WRITE, &st, &err), 0);
	/* The host of the recorded pool, and the recorded housekeeping PUs, as host isolate. */
	{
		struct tmap_solve_options so = TMAP_SOLVE_OPTIONS_INIT;

		so.shared = tmap_state_shared(st);
		assert_int_equal(tmap_host_new(t, &so, &h, &err), 0);
	}
	assert_int_equal(tmap_state_load(st, h, &err), 0);
	assert_int_equal(tmap_partition_new(h, NULL, tmap_state_housekeeping(st), 0, &p, &err), 0);
	if (tmap_isolate(p, &o, &iso, &err) < 0)
		fail_msg("tmap_isolate: %s", err.message);
	for (size_t i = 0; i < tmap_isolation_left_count(iso); i++)
		snprintf(left[i % ARRAY_SIZE(left)], sizeof(left[0]), "%s",
			 tmap_isolation_left(iso, i));
	nleft = tmap_isolation_left_count(iso);
	assert_int_equal(tmap_state_set_isolation(st, iso, &err), 0);
	assert_int_equal(tmap_state_save(st, h, &err), 0);
	tmap_isolation_free(iso);
	tmap_partition_free(p);
	tmap_state_close(st);
	tmap_host_free(h);
	tmap_topology_free(t);
}

/* Every narrowed cgroup's cpuset.cpus (the root never is) and the IRQ's affinity read cpus. */
static void
assert_host_keeps(const char *cpus)
{
	for (size_t i = 1; i < ARRAY_SIZE(cgroups); i++)
		assert_string_equal(get(path_of(cg, cgroups[i], "cpuset.cpus")), cpus);
	assert_string_equal(get(path_of(cg, "", "cpuset.cpus")), "0-7");
	assert_string_equal(get(path_of(proc, "/irq/5", "smp_affinity_list")), cpus);
}

static size_t
recorded_writes(void)
{
	struct tmap_state *st = NULL;
	size_t n;

	assert_int_equal(tmap_state_open(state_path, 0, &st, NULL), 0);
	n = tmap_state_isolation_count(st);
	tmap_state_close(st);
	return n;
}

/* g1 holds PUs 0-1 when the host is isolated: the narrowed cgroups and the interrupt keep
 * 2-7. g2, applied after, takes 2-3: in the same call they are narrowed to 4-7, and its
 * writes are recorded after the first four. A shared guest changes nothing. */
static void
test_apply_extends(void **unused)
{
	struct tmap_session *s = open_session();
	struct tmap_error err = {0};

	(void)unused;
	assert_int_equal(apply(s, "g1", 2, false, &err), 0);
	tmap_session_close(s);
	isolate();
	assert_host_keeps("2-7");
	assert_int_equal(recorded_writes(), 4);

	s = open_session();
	if (apply(s, "g2", 2, false, &err) < 0)
		fail_msg("apply g2: %s", err.message);
	assert_string_equal(get(path_of(dir, "", "g2")), "2-3");
	assert_host_keeps("4-7");
	tmap_session_close(s);
	assert_int_equal(recorded_writes(), 8);

	s = open_session();
	assert_int_equal(apply(s, "pool", 1, true, &err), 0);
	tmap_session_close(s);
	assert_host_keeps("4-7");
	assert_int_equal(recorded_writes(), 8);
}

/* A fake PCI device under the copy's sys root: its MSI vectors and INTx line. */
static void
fake_device(const char *pci, const char *const *msi, size_t n, const char *intx)
{
	char rel[96];

	mkdir(sys, 0755);
	mkdir(path_of(sys, "/bus", ""), 0755);
	mkdir(path_of(sys, "/bus/pci", ""), 0755);
	mkdir(path_of(sys, "/bus/pci/devices", ""), 0755);
	snprintf(rel, sizeof(rel), "/bus/pci/devices/%s", pci);
	mkdir(path_of(sys, rel, ""), 0755);
	test_write_file(path_of(sys, rel, "irq"), intx);
	strncat(rel, "/msi_irqs", sizeof(rel) - strlen(rel) - 1);
	mkdir(path_of(sys, rel, ""), 0755);
	for (size_t i = 0; i < n; i++)
		test_write_file(path_of(sys, rel, msi[i]), "msix\n");
}

static void
fake_irq(const char *n, const char *cpus)
{
	char rel[64];

	snprintf(rel, sizeof(rel), "/irq/%s", n);
	mkdir(path_of(proc, rel, ""), 0755);
	test_write_file(path_of(proc, rel, "smp_affinity_list"), cpus);
	test_write_file(path_of(proc, rel, "effective_affinity_list"), cpus);
}

/* Issue 16: g1 holds the NIC at 0000:41:00.0 (MSI-X vectors 40 and 41, no INTx line) and
 * a dedicated PU beside it on node 1. Isolating the host leaves the NIC's interrupts where
 * they were, on g1's PU too, and says so; interrupt 5 and the INTx line 9 of a device no
 * guest holds move off g1's PU. */
static void
test_device_irqs_left_to_guest(void **unused)
{
	static const char *const msi[] = {"40", "41"};
	struct tmap_session *s;
	struct tmap_target *t = NULL;
	struct tmap_guest *g = NULL;
	struct tmap_error err = {0};
	unsigned *irqs = NULL;
	size_t n = 0;

	(void)unused;
	host_src = test_data("dev-vm-guest.xml");
	fake_device("0000:41:00.0", msi, 2, "0\n");
	fake_device("0000:21:00.0", NULL, 0, "9\n");
	fake_irq("5", "0-3\n");
	fake_irq("9", "0-3\n");
	fake_irq("40", "0-3\n");
	fake_irq("41", "2\n");
	assert_int_equal(tmap_device_irqs(sys, "0000:41:00.0", &irqs, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(irqs[0], 40);
	assert_int_equal(irqs[1], 41);
	free(irqs);
	assert_int_equal(tmap_device_irqs(sys, "../x", &irqs, &n, NULL), -EINVAL);
	assert_int_equal(tmap_device_irqs(sys, "0000:99:00.0", &irqs, &n, NULL), -ENOENT);

	s = open_session();
	test_write_file(path_of(dir, "", "g1"), "");
	assert_int_equal(tmap_target_new(&t), 0);
	assert_int_equal(tmap_target_set(t, "file", path_of(dir, "", "g1")), 0);
	assert_int_equal(tmap_guest_new("g1", 1, &g, NULL), 0);
	assert_int_equal(tmap_guest_set_memory_mib(g, 256), 0);
	assert_int_equal(tmap_guest_add_device(g, "pci=0000:41:00.0", NULL), 0);
	if (tmap_session_apply(s, "mock", t, g, 0, NULL, NULL, &err) < 0)
		fail_msg("apply g1: %s", err.message);
	tmap_guest_free(g);
	tmap_target_free(t);
	tmap_session_close(s);
	assert_string_equal(get(path_of(dir, "", "g1")), "2");

	isolate();
	assert_string_equal(get(path_of(proc, "/irq/40", "smp_affinity_list")), "0-3");
	assert_string_equal(get(path_of(proc, "/irq/41", "smp_affinity_list")), "2");
	assert_string_equal(get(path_of(proc, "/irq/5", "smp_affinity_list")), "0-1,3");
	assert_string_equal(get(path_of(proc, "/irq/9", "smp_affinity_list")), "0-1,3");
	assert_int_equal(nleft, 2);
	assert_string_equal(left[0], "irq 40: 0000:41:00.0, held by g1");
	assert_string_equal(left[1], "irq 41: 0000:41:00.0, held by g1");
}

/* An isolation step that fails halfway (topomap-isolapply-b cannot be written, after the two
 * cgroups of -a were narrowed): the files, the guest's target and the state file as before,
 * the step an apply. */
static void
test_failure_restores_apply_and_files(void **unused)
{
	struct tmap_session *s = open_session();
	struct tmap_error err = {0};
	char before[65536], b[4500], real[4600];

	(void)unused;
	assert_int_equal(apply(s, "g1", 2, false, &err), 0);
	tmap_session_close(s);
	isolate();
	snprintf(before, sizeof(before), "%s", test_read_file(state_path));
	snprintf(b, sizeof(b), "%s", path_of(cg, cgroups[3], "cpuset.cpus"));
	test_write_file(path_of(dir, "", "g3"), "untouched");
	snprintf(real, sizeof(real), "%s.real", b);
	test_write_file(real, "2-7\n");
	assert_int_equal(unlink(b), 0);
	assert_int_equal(symlink(real, b), 0);

	s = open_session();
	assert_int_equal(apply(s, "g3", 2, false, &err), -ELOOP);
	assert_int_equal(tmap_session_failed_step(s), TMAP_STEP_APPLY);
	assert_non_null(strstr(err.message, "isolate: "));
	assert_non_null(strstr(err.message, "restored what was there"));
	tmap_session_close(s);
	assert_string_equal(get(path_of(dir, "", "g3")), "untouched");
	assert_host_keeps("2-7");
	assert_string_equal(test_read_file(state_path), before);
}

/* g1 applied, the host isolated, g2 applied after: the session g2 was applied in. */
static struct tmap_session *
isolated_g1_g2(void)
{
	struct tmap_session *s = open_session();
	struct tmap_error err = {0};

	assert_int_equal(apply(s, "g1", 2, false, &err), 0);
	tmap_session_close(s);
	isolate();
	s = open_session();
	assert_int_equal(apply(s, "g2", 2, false, &err), 0);
	return s;
}

/* Released, a dedicated guest gives its PUs back: with g1 and g2 isolated (4-7 left), g2's
 * release widens the host to 2-7; g1's, the last, puts every file back, and the isolation
 * stays recorded (no file) so that the next dedicated guest is isolated again. */
static void
test_release_gives_back(void **unused)
{
	struct tmap_session *s = isolated_g1_g2();
	struct tmap_error err = {0};

	(void)unused;
	assert_host_keeps("4-7");
	if (tmap_session_release(s, "g2", &err) < 0)
		fail_msg("release g2: %s", err.message);
	assert_host_keeps("2-7");
	assert_int_equal(tmap_session_release(s, "g1", &err), 0);
	assert_host_keeps("0-7");
	tmap_session_close(s);
	assert_int_equal(recorded_writes(), 0);
	assert_non_null(strstr(test_read_file(state_path), "\"isolation_options\""));

	s = open_session();
	assert_int_equal(apply(s, "g4", 2, false, &err), 0);
	tmap_session_close(s);
	assert_host_keeps("2-7");
}

/* A file gone since it was written (an interrupt freed, a stopped guest's cgroup) has nothing
 * to put back: the release goes on with the rest. */
static void
test_release_with_a_file_gone(void **unused)
{
	struct tmap_session *s = isolated_g1_g2();
	struct tmap_error err = {0};

	(void)unused;
	assert_int_equal(unlink(path_of(proc, "/irq/5", "smp_affinity_list")), 0);
	assert_int_equal(unlink(path_of(proc, "/irq/5", "effective_affinity_list")), 0);
	assert_int_equal(rmdir(path_of(proc, "/irq/5", "")), 0);
	if (tmap_session_release(s, "g2", &err) < 0)
		fail_msg("release g2: %s", err.message);
	for (size_t i = 1; i < ARRAY_SIZE(cgroups); i++)
		assert_string_equal(get(path_of(cg, cgroups[i], "cpuset.cpus")), "2-7");
	tmap_session_close(s);
}

/* ---------------------------------------------------------------------------------------- */
/* The moves of rebalance --apply and apply --make-room isolate the host again */

#define TWO_NODES "synthetic:pack:1 numa:2(memory=4GiB) core:4 pu:1"

/* The README's fragmented host, isolated: b on 2-3 (node 0) and c on 4-5 (node 1), the host
 * keeps 0-1,6-7; the session the moves are made in. */
static struct tmap_session *
isolated_fragmented(void)
{
	static const char *const names[] = {"a", "b", "c", "d"};
	struct tmap_error err = {0};
	struct tmap_session *s;

	host_src = TWO_NODES;
	s = open_session();
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (apply(s, names[i], 2, false, &err) < 0)
			fail_msg("apply %s: %s", names[i], err.message);
	assert_int_equal(tmap_session_release(s, "a", &err), 0);
	assert_int_equal(tmap_session_release(s, "d", &err), 0);
	tmap_session_close(s);
	assert_string_equal(get(path_of(dir, "", "b")), "2-3");
	assert_string_equal(get(path_of(dir, "", "c")), "4-5");
	isolate();
	assert_host_keeps("0-1,6-7");
	return open_session();
}

/* The rebalance moves b to node 1's 6-7 (or c to node 0's 0-1): in the same call the host
 * gets back the PUs the guest left and gives up those it took, and the state records it. */
static void
test_rebalance_isolates_again(void **unused)
{
	struct tmap_session *s = isolated_fragmented();
	struct tmap_error err = {0};
	struct tmap_plan *plan = NULL;

	(void)unused;
	if (tmap_session_apply_rebalance(s, NULL, 0, &plan, NULL, &err) < 0)
		fail_msg("apply_rebalance: %s", err.message);
	assert_true(tmap_plan_move_count(plan) > 0);
	tmap_plan_free(plan);
	tmap_session_close(s);
	if (streq(get(path_of(dir, "", "b")), "6-7")) {
		assert_string_equal(get(path_of(dir, "", "c")), "4-5");
		assert_host_keeps("0-3");
	} else {
		assert_string_equal(get(path_of(dir, "", "b")), "2-3");
		assert_string_equal(get(path_of(dir, "", "c")), "0-1");
		assert_host_keeps("4-7");
	}
	/* What the state records is what is in force: releasing both puts every file back. */
	s = open_session();
	assert_int_equal(tmap_session_release(s, "b", &err), 0);
	assert_int_equal(tmap_session_release(s, "c", &err), 0);
	tmap_session_close(s);
	assert_host_keeps("0-7");
}

/* A cgroup made under topomap-isolapply-b since the host was isolated, whose cpuset.cpus
 * cannot be written: isolating again fails there, after the two cgroups of -a were
 * narrowed. */
static void
unwritable_child(void)
{
	char real[4600];
	const char *file = path_of(cg, "/topomap-isolapply-b/late", "cpuset.cpus");

	assert_int_equal(mkdir(path_of(cg, "/topomap-isolapply-b/late", ""), 0755), 0);
	snprintf(real, sizeof(real), "%s.real", file);
	test_write_file(real, "0-7\n");
	assert_int_equal(symlink(real, file), 0);
}

/* The failure restores the isolation files, then the moved guests, and the state byte for
 * byte; the step an apply. */
static void
test_rebalance_failure_restores(void **unused)
{
	struct tmap_session *s = isolated_fragmented();
	struct tmap_error err = {0};
	char before[65536];

	(void)unused;
	snprintf(before, sizeof(before), "%s", test_read_file(state_path));
	unwritable_child();
	assert_int_equal(tmap_session_apply_rebalance(s, NULL, 0, NULL, NULL, &err), -ELOOP);
	assert_int_equal(tmap_session_failed_step(s), TMAP_STEP_APPLY);
	assert_non_null(strstr(err.message, "isolate: "));
	tmap_session_close(s);
	assert_string_equal(get(path_of(dir, "", "b")), "2-3");
	assert_string_equal(get(path_of(dir, "", "c")), "4-5");
	assert_host_keeps("0-1,6-7");
	assert_string_equal(test_read_file(state_path), before);
}

/* apply --make-room: b moves to 6-7 so that big (one cell of 3) takes node 0; the failure in
 * the isolation step, after big's apply, puts back the files, big's target and b's. */
static void
test_make_room_failure_restores(void **unused)
{
	struct tmap_session *s = isolated_fragmented();
	struct tmap_target *t = NULL;
	struct tmap_guest *g = NULL;
	struct tmap_error err = {0};
	char before[65536];
	int r;

	(void)unused;
	snprintf(before, sizeof(before), "%s", test_read_file(state_path));
	unwritable_child();
	test_write_file(path_of(dir, "", "big"), "untouched");
	assert_int_equal(tmap_target_new(&t), 0);
	assert_int_equal(tmap_target_set(t, "file", path_of(dir, "", "big")), 0);
	assert_int_equal(tmap_guest_new("big", 3, &g, NULL), 0);
	assert_int_equal(tmap_guest_set_memory_mib(g, 512), 0);
	assert_int_equal(tmap_guest_add_cell(g, "0-2", 512, NULL), 0);
	r = tmap_session_apply_room(s, "mock", t, g, NULL, 0, NULL, NULL, &err);
	if (r != -ELOOP)
		fail_msg("apply_room: %d: %s", r, err.message);
	assert_int_equal(tmap_session_failed_step(s), TMAP_STEP_APPLY);
	assert_non_null(strstr(err.message, "isolate: "));
	tmap_guest_free(g);
	tmap_target_free(t);
	tmap_session_close(s);
	assert_string_equal(get(path_of(dir, "", "big")), "untouched");
	assert_string_equal(get(path_of(dir, "", "b")), "2-3");
	assert_string_equal(get(path_of(dir, "", "c")), "4-5");
	assert_host_keeps("0-1,6-7");
	assert_string_equal(test_read_file(state_path), before);
}

/* ---------------------------------------------------------------------------------------- */
/* host set on an isolated host: the isolation made again for the new pool */

/* The narrowed cgroups' cpuset.cpus, irq 6 (on g1's PUs alone when isolated: it gets what the
 * host keeps) and irq 5 (it keeps the rest of 0-7). */
static void
assert_pool_isolation(const char *keeps)
{
	for (size_t i = 1; i < ARRAY_SIZE(cgroups); i++)
		assert_string_equal(get(path_of(cg, cgroups[i], "cpuset.cpus")), keeps);
	assert_string_equal(get(path_of(cg, "", "cpuset.cpus")), "0-7");
	assert_string_equal(get(path_of(proc, "/irq/6", "smp_affinity_list")), keeps);
	assert_string_equal(get(path_of(proc, "/irq/5", "smp_affinity_list")), "2-7");
}

/* g1 dedicated on 0-1, the housekeeping PU 7 and the pool 4-5 with a shared guest sh over it,
 * the host isolated: it keeps 4-5,7. The session the pool changes in. */
static struct tmap_session *
isolated_with_pool(void)
{
	struct tmap_session *s = open_session();
	struct tmap_error err = {0};
	struct test_result r;

	fake_irq("6", "0-1\n");
	assert_int_equal(apply(s, "g1", 2, false, &err), 0);
	if (tmap_session_set_pool(s, "4-5", 0, 0, NULL, &err) < 0)
		fail_msg("set_pool 4-5: %s", err.message);
	assert_int_equal(apply(s, "sh", 1, true, &err), 0);
	tmap_session_close(s);
	assert_string_equal(get(path_of(dir, "", "g1")), "0-1");
	assert_string_equal(get(path_of(dir, "", "sh")), "4-5");
	r = RUN("host", "set", "--state", state_path, "--topology", host_src, "--housekeeping",
		"7");
	test_expect_exit(r.status, 0, "host set --housekeeping 7", r.out, r.err);
	test_result_clear(&r);
	isolate();
	assert_pool_isolation("4-5,7");
	return open_session();
}

/* The pool narrowed to 4: sh follows, the narrowed cgroups and irq 6 give PU 5 back to the
 * pool's guests (4,7); widened to 3-5 through the built command, which prints each file it
 * changed, they take 3-5,7, and host show agrees. sh released, a pool change with no guest
 * to follow still makes the isolation again. Undone, every file is as it was. */
static void
test_pool_isolates_again(void **unused)
{
	struct tmap_session *s = isolated_with_pool();
	struct tmap_error err = {0};
	struct test_result r;
	char needle[4600];

	(void)unused;
	if (tmap_session_set_pool(s, "4", 0, 0, NULL, &err) < 0)
		fail_msg("set_pool 4: %s", err.message);
	tmap_session_close(s);
	assert_string_equal(get(path_of(dir, "", "sh")), "4");
	assert_pool_isolation("4,7");
	assert_string_equal(get(path_of(dir, "", "g1")), "0-1");

	r = RUN("host", "set", "--state", state_path, "--topology", host_src, "--shared-set",
		"3-5");
	test_expect_exit(r.status, 0, "host set --shared-set 3-5", r.out, r.err);
	test_expect_text(r.out, "isolation made again for the new pool:\n");
	snprintf(needle, sizeof(needle), "  write '3-5,7' to %s (was '4,7')\n",
		 path_of(cg, cgroups[2], "cpuset.cpus"));
	test_expect_text(r.out, needle);
	snprintf(needle, sizeof(needle), "  write '3-5,7' to %s (was '4,7')\n",
		 path_of(proc, "/irq/6", "smp_affinity_list"));
	test_expect_text(r.out, needle);
	assert_null(strstr(r.out, "/irq/5/"));
	test_result_clear(&r);
	assert_string_equal(get(path_of(dir, "", "sh")), "3-5");
	assert_pool_isolation("3-5,7");
	r = RUN("host", "show", "--state", state_path, "--topology", host_src);
	test_expect_exit(r.status, 0, "host show", r.out, r.err);
	test_expect_text(r.out, "shared pool    3-5\n");
	test_expect_text(r.out, "housekeeping   7\n");
	test_result_clear(&r);

	/* No shared guest left to follow: the isolation alone is made again. */
	s = open_session();
	assert_int_equal(tmap_session_release(s, "sh", &err), 0);
	if (tmap_session_set_pool(s, "5", 0, 0, NULL, &err) < 0)
		fail_msg("set_pool 5: %s", err.message);
	tmap_session_close(s);
	assert_pool_isolation("5,7");

	/* Undone: every file as before the isolation. */
	{
		struct tmap_state *st = NULL;

		assert_int_equal(tmap_state_open(state_path, TMAP_STATE_WRITE, &st, &err), 0);
		assert_int_equal(tmap_state_isolation_undo(st, &err), 0);
		tmap_state_close(st);
	}
	for (size_t i = 0; i < ARRAY_SIZE(cgroups); i++)
		assert_string_equal(get(path_of(cg, cgroups[i], "cpuset.cpus")), "0-7");
	assert_string_equal(get(path_of(proc, "/irq/6", "smp_affinity_list")), "0-1");
	assert_string_equal(get(path_of(proc, "/irq/5", "smp_affinity_list")), "0-7");
}

/* A write refused halfway through the isolation made again (a cgroup made under -b since,
 * after the cgroups of -a were narrowed): the isolation files, sh's target and the state file
 * byte for byte as before, the step an apply; through the built command the same, exit 1. */
static void
test_pool_failure_restores(void **unused)
{
	struct tmap_session *s = isolated_with_pool();
	struct tmap_error err = {0};
	struct test_result r;
	char before[65536];

	(void)unused;
	snprintf(before, sizeof(before), "%s", test_read_file(state_path));
	unwritable_child();
	assert_int_equal(tmap_session_set_pool(s, "3-5", 0, 0, NULL, &err), -ELOOP);
	assert_int_equal(tmap_session_failed_step(s), TMAP_STEP_APPLY);
	assert_non_null(strstr(err.message, "isolate: "));
	tmap_session_close(s);
	assert_string_equal(get(path_of(dir, "", "sh")), "4-5");
	assert_pool_isolation("4-5,7");
	assert_string_equal(test_read_file(state_path), before);

	r = RUN("host", "set", "--state", state_path, "--topology", host_src, "--shared-set", "4");
	test_expect_exit(r.status, 1, "host set --shared-set 4, a write refused", r.out, r.err);
	test_expect_text(r.err, "isolate: ");
	test_result_clear(&r);
	assert_string_equal(get(path_of(dir, "", "sh")), "4-5");
	assert_pool_isolation("4-5,7");
	assert_string_equal(test_read_file(state_path), before);
}

/* New housekeeping PUs on the isolated host (host set --housekeeping): the isolation made
 * again in the same transaction, what the host keeps now the pool 4-5 and PU 6, printed; a
 * write refused halfway puts the files and the state back, the old housekeeping PU with them. */
static void
test_housekeeping_isolates_again(void **unused)
{
	struct tmap_session *s = isolated_with_pool();
	struct test_result r;
	char needle[4600], before[65536];

	(void)unused;
	tmap_session_close(s);
	r = RUN("host", "set", "--state", state_path, "--topology", host_src, "--housekeeping",
		"6");
	test_expect_exit(r.status, 0, "host set --housekeeping 6", r.out, r.err);
	test_expect_text(r.out, "isolation made again for the new housekeeping PUs:\n");
	snprintf(needle, sizeof(needle), "  write '4-6' to %s (was '4-5,7')\n",
		 path_of(cg, cgroups[2], "cpuset.cpus"));
	test_expect_text(r.out, needle);
	test_result_clear(&r);
	assert_pool_isolation("4-6");
	assert_string_equal(get(path_of(dir, "", "sh")), "4-5");
	r = RUN("host", "show", "--state", state_path, "--topology", host_src);
	test_expect_exit(r.status, 0, "host show", r.out, r.err);
	test_expect_text(r.out, "housekeeping   6\n");
	test_result_clear(&r);

	snprintf(before, sizeof(before), "%s", test_read_file(state_path));
	unwritable_child();
	r = RUN("host", "set", "--state", state_path, "--topology", host_src, "--housekeeping",
		"3");
	test_expect_exit(r.status, 1, "host set --housekeeping 3, a write refused", r.out, r.err);
	test_expect_text(r.err, "isolate: ");
	test_result_clear(&r);
	assert_pool_isolation("4-6");
	assert_string_equal(test_read_file(state_path), before);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_apply_extends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure_restores_apply_and_files, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_release_gives_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_release_with_a_file_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_irqs_left_to_guest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rebalance_isolates_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rebalance_failure_restores, setup, teardown),
		cmocka_unit_test_setup_teardown(test_make_room_failure_restores, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool_isolates_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool_failure_restores, setup, teardown),
		cmocka_unit_test_setup_teardown(test_housekeeping_isolates_again, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
