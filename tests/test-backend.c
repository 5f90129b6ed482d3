/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The backend loader and the transaction. The loader is tested with real modules that are
 * wrong in every way it must catch; the transaction with a fake backend that fails on demand
 * (fault injection: the real backends have their own tests against real cgroups, QEMU and
 * libvirt).
 */
#include <fcntl.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "testlib.h"
#include "topomap/backend.h"

static char mock_dir[4096];
static char real_path[8192];

static int
setup(void **state)
{
	const char *dir = getenv("TOPOMAP_MOCK_PLUGIN_DIR");

	assert_non_null(dir);
	snprintf(real_path, sizeof(real_path), "%s", getenv("TOPOMAP_PLUGIN_PATH") ?: "");
	snprintf(mock_dir, sizeof(mock_dir), "%s", dir);
	setenv("TOPOMAP_PLUGIN_PATH", mock_dir, 1);
	return 0;
}

static void
expect_load_error(const char *name, int code, const char *needle)
{
	struct tmap_backend_module *m = NULL;
	struct tmap_error err = {0};

	assert_int_equal(tmap_backend_load(name, &m, &err), code);
	assert_null(m);
	if (!strstr(err.message, needle))
		fail_msg("loading '%s': '%s' lacks '%s'", name, err.message, needle);
}

static void
loads_good_module(void **state)
{
	struct tmap_backend_module *m = NULL;
	struct tmap_error err = {0};
	char path[4200];

	assert_int_equal(tmap_backend_load("mock", &m, &err), 0);
	snprintf(path, sizeof(path), "%s/mock.so", mock_dir);
	assert_string_equal(tmap_backend_path(m), path);
	assert_string_equal(tmap_backend_descriptor(m)->name, "mock");
	assert_int_equal(tmap_backend_descriptor(m)->abi, TMAP_BACKEND_ABI);
	tmap_backend_unload(m);
	assert_null(tmap_backend_unload(NULL));
}

/* The one set syntax every backend reads and writes through the library. */
static void
cpulist_parse_and_format(void **state)
{
	static const struct {
		const char *in, *out;
		size_t words;
	} good[] = {
		{"0-3,8", "0-3,8", 1},
		{"", "", 1},
		{"8,0-3", "0-3,8", 1},
		{"63", "63", 1},
		{"64", "64", 2},
		{"1-2,2-5", "1-5", 1},
		{" 0-1\n", "0-1", 1},
		{"1048576", "1048576", 1048576 / (8 * sizeof(unsigned long)) + 1},
	};
	static const char *const bad[] = {"1,", ",1", "3-1", "a", "1, 2", "1-", "-1",
					  "1048577", "0x1", "1 2"};

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		unsigned long *mask = NULL;
		size_t words = 0;
		char *text = NULL;

		if (tmap_cpulist_parse(good[i].in, &mask, &words) < 0)
			fail_msg("'%s' refused", good[i].in);
		assert_int_equal(words, good[i].words);
		assert_int_equal(tmap_cpulist_format(mask, words, &text), 0);
		assert_string_equal(text, good[i].out);
		free(text);
		free(mask);
	}
	/* Bits as cpu_set_t has them: 0-3 and 8 in word 0, 64 in word 1. */
	{
		unsigned long *mask = NULL;
		size_t words = 0;

		assert_int_equal(tmap_cpulist_parse("0-3,8,64", &mask, &words), 0);
		assert_int_equal(words, 64 / TMAP_CPULIST_WORD_BITS + 1);
		assert_int_equal(mask[0], 0x10ful);
		assert_int_equal(mask[64 / TMAP_CPULIST_WORD_BITS] >> (64 % TMAP_CPULIST_WORD_BITS) & 1, 1);
		free(mask);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		unsigned long *mask = (unsigned long *)bad;
		size_t words = 7;

		if (tmap_cpulist_parse(bad[i], &mask, &words) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
		assert_ptr_equal(mask, (unsigned long *)bad);
		assert_int_equal(words, 7);
	}
	{
		char *text = NULL;

		assert_int_equal(tmap_cpulist_format(NULL, 0, &text), 0);
		assert_string_equal(text, "");
		free(text);
		assert_int_equal(tmap_cpulist_format(NULL, 1, &text), -EINVAL);
		assert_int_equal(tmap_cpulist_parse(NULL, NULL, NULL), -EINVAL);
	}
}

/* A backend without identify says so, whatever the target. */
static void
identify_needs_the_callback(void **state)
{
	struct tmap_backend_module *m = NULL;
	struct tmap_target *t = NULL, *id = NULL;
	struct tmap_error err = {0};

	assert_int_equal(tmap_backend_load("mock", &m, &err), 0);
	assert_int_equal(tmap_target_new(&t), 0);
	assert_int_equal(tmap_target_new(&id), 0);
	assert_int_equal(tmap_target_set(t, "file", "/nonexistent"), 0);
	assert_int_equal(tmap_backend_identify(m, t, id, &err), -ENOTSUP);
	assert_non_null(strstr(err.message, "backend 'mock' cannot identify its target"));
	assert_int_equal(tmap_target_count(id), 0);
	assert_int_equal(tmap_backend_identify(m, t, NULL, &err), -EINVAL);
	tmap_target_free(id);
	tmap_target_free(t);
	tmap_backend_unload(m);
}

static void
refuses_bad_modules(void **state)
{
	expect_load_error("wrong-abi", -ENOEXEC, "speaks backend ABI 99; this topomap speaks 2");
	expect_load_error("no-symbol", -ENOEXEC, "exports no 'tmap_backend' descriptor");
	expect_load_error("misnamed", -ENOEXEC, "calls itself 'other', not 'misnamed'");
	expect_load_error("no-apply", -ENOEXEC, "lacks the mandatory callback 'apply'");
	expect_load_error("too-small", -ENOEXEC, "descriptor of 8 bytes");
	/* A symbol of the header alone that claims a whole descriptor: refused, not read past. */
	{
		char want[128];

		snprintf(want, sizeof(want),
			 "declares a descriptor of %zu bytes, but its 'tmap_backend' has 8",
			 sizeof(struct tmap_backend));
		expect_load_error("undersized", -ENOEXEC, want);
	}
	expect_load_error("absent", -ENOENT, "no backend 'absent'");
	/* A name can never become a path. */
	expect_load_error("../mock", -EINVAL, "is not valid");
	expect_load_error("/tmp/mock", -EINVAL, "is not valid");
	expect_load_error("Mock", -EINVAL, "is not valid");
	expect_load_error("", -EINVAL, "is not valid");
}

/* Copy mock.so into dir/mock.so. */
static void
copy_mock(const char *dir, mode_t mode)
{
	char src[4200], dst[4200], buf[65536];
	int in, out;
	ssize_t n;

	snprintf(src, sizeof(src), "%s/mock.so", mock_dir);
	snprintf(dst, sizeof(dst), "%s/mock.so", dir);
	in = open(src, O_RDONLY | O_CLOEXEC);
	assert_true(in >= 0);
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	assert_true(out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
	assert_int_equal(chmod(dst, mode), 0);
}

/* Overwrite `len` bytes at `offset` of dir/mock.so. */
static void
patch_mock(const char *dir, off_t offset, const void *bytes, size_t len)
{
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/mock.so", dir);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, bytes, len, offset), (ssize_t)len);
	close(fd);
}

/* What the ELF header says is checked before dlopen() runs any of the module's code. */
static void
refuses_foreign_files(void **state)
{
	char dir[] = "/tmp/topomap-plugins-XXXXXX";
#if defined(__x86_64__)
	const uint16_t other = 183; /* EM_AARCH64 */
#else
	const uint16_t other = 62; /* EM_X86_64 */
#endif
	const uint16_t exec = 2; /* ET_EXEC */
	const unsigned char class32 = 1;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0755), 0);
	setenv("TOPOMAP_PLUGIN_PATH", dir, 1);
	copy_mock(dir, 0755);
	patch_mock(dir, 18, &other, sizeof(other));
	expect_load_error("mock", -ENOEXEC, "is built for ELF machine");
	expect_load_error("mock", -ENOEXEC, "not this one");
	copy_mock(dir, 0755);
	patch_mock(dir, 4, &class32, 1);
	expect_load_error("mock", -ENOEXEC, "is a 32-bit little-endian ELF file");
	copy_mock(dir, 0755);
	patch_mock(dir, 16, &exec, sizeof(exec));
	expect_load_error("mock", -ENOEXEC, "is not an ELF shared object");
	copy_mock(dir, 0755);
	patch_mock(dir, 0, "#!/bin", 6);
	expect_load_error("mock", -ENOEXEC, "is not an ELF file");
	{
		char path[4200];

		snprintf(path, sizeof(path), "%s/mock.so", dir);
		assert_int_equal(unlink(path), 0);
	}
	assert_int_equal(rmdir(dir), 0);
	setenv("TOPOMAP_PLUGIN_PATH", mock_dir, 1);
}

static void
refuses_unsafe_places(void **state)
{
	char dir[] = "/tmp/topomap-plugins-XXXXXX";
	char link[4200], target[4200];

	assert_non_null(mkdtemp(dir));
	assert_int_equal(chmod(dir, 0755), 0);
	copy_mock(dir, 0755);
	setenv("TOPOMAP_PLUGIN_PATH", dir, 1);
	{
		struct tmap_backend_module *m = NULL;

		assert_int_equal(tmap_backend_load("mock", &m, NULL), 0);
		tmap_backend_unload(m);
	}
	/* group- or world-writable file or directory */
	assert_int_equal(chmod(dir, 0777), 0);
	expect_load_error("mock", -EPERM, "writable by everyone");
	assert_int_equal(chmod(dir, 0775), 0);
	expect_load_error("mock", -EPERM, "writable by its group");
	assert_int_equal(chmod(dir, 0755), 0);
	copy_mock(dir, 0666);
	expect_load_error("mock", -EPERM, "writable by everyone");
	copy_mock(dir, 0755);
	/* a symbolic link in place of the module */
	snprintf(link, sizeof(link), "%s/mock.so", dir);
	snprintf(target, sizeof(target), "%s/mock.so", mock_dir);
	assert_int_equal(unlink(link), 0);
	assert_int_equal(symlink(target, link), 0);
	expect_load_error("mock", -EPERM, "is a symbolic link");
	assert_int_equal(unlink(link), 0);
	assert_int_equal(rmdir(dir), 0);
	/* relative directories */
	setenv("TOPOMAP_PLUGIN_PATH", ".", 1);
	{
		struct tmap_error err = {0};
		struct tmap_backend_module *m = NULL;
		char cwd[4096];

		assert_non_null(getcwd(cwd, sizeof(cwd)));
		assert_int_equal(chdir(mock_dir), 0);
		assert_int_equal(tmap_backend_load("mock", &m, &err), -EPERM);
		assert_non_null(strstr(err.message, "plugin directory '.' is not an absolute path"));
		assert_int_equal(chdir(cwd), 0);
	}
	setenv("TOPOMAP_PLUGIN_PATH", mock_dir, 1);
}

struct names {
	unsigned n;
	bool all_match;
};

static int
check_name(const char *path, const struct tmap_backend_module *m,
	   const struct tmap_error *load_error, void *userdata)
{
	struct names *names = userdata;
	char want[80];
	const char *base = strrchr(path, '/') + 1;

	snprintf(want, sizeof(want), "%.*s", (int)(strlen(base) - 3), base);
	if (!m)
		fail_msg("%s refused: %s", path, load_error->message);
	names->all_match &= strcmp(tmap_backend_descriptor(m)->name, want) == 0;
	names->n++;
	return 0;
}

/* Every real backend of the build, loaded one after another in one process, is itself: a
 * module kept loaded (libvirt's is linked -z nodelete) must not stand in for the next. */
static void
real_backends_are_themselves(void **state)
{
	struct names names = {0, true};

	setenv("TOPOMAP_PLUGIN_PATH", real_path, 1);
	assert_int_equal(tmap_backend_foreach(check_name, &names, NULL), 0);
	assert_int_equal(names.n, 3);
	assert_true(names.all_match);
	/* twice: the second pass meets modules that stayed loaded */
	names = (struct names){0, true};
	assert_int_equal(tmap_backend_foreach(check_name, &names, NULL), 0);
	assert_true(names.all_match);
	setenv("TOPOMAP_PLUGIN_PATH", mock_dir, 1);
}

struct seen {
	unsigned good, refused;
	bool saw_wrong_abi;
};

static int
count_module(const char *path, const struct tmap_backend_module *m,
	     const struct tmap_error *load_error, void *userdata)
{
	struct seen *seen = userdata;

	if (m) {
		seen->good++;
		assert_null(load_error);
	} else {
		seen->refused++;
		assert_non_null(load_error);
		if (strstr(path, "wrong-abi.so"))
			seen->saw_wrong_abi = strstr(load_error->message, "ABI 99") != NULL;
	}
	return 0;
}

static void
foreach_lists_good_and_refused(void **state)
{
	struct seen seen = {0};

	assert_int_equal(tmap_backend_foreach(count_module, &seen, NULL), 0);
	assert_int_equal(seen.good, 2); /* mock and mock-resize */
	assert_int_equal(seen.refused, 6);
	assert_true(seen.saw_wrong_abi);
}

/* ------------------------------------------------------------------------------------- */
/* The transaction, through the fake backend */

struct fixture {
	char file[64];
	struct tmap_backend_module *m;
	struct tmap_topology *t;
	struct tmap_guests *g;
	struct tmap_plan *p;
	struct tmap_target *target;
};

/* A list as the fake backend writes it, as a set (static: one at a time). */
static hwloc_bitmap_t
hwloc_bitmap_parse_helper(const char *list)
{
	static hwloc_bitmap_t set;

	if (!set)
		set = hwloc_bitmap_alloc();
	assert_int_equal(hwloc_bitmap_list_sscanf(set, list), 0);
	return set;
}

static int
fixture_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	snprintf(f->file, sizeof(f->file), "/tmp/topomap-mock-%d", (int)getpid());
	test_write_file(f->file, "0-7");
	assert_int_equal(tmap_backend_load("mock", &f->m, NULL), 0);
	f->t = test_topology("synthetic:pack:1 numa:1 core:8 pu:1");
	f->g = test_guests("{\"name\":\"vm\",\"vcpus\":2}");
	f->p = test_solve(f->t, f->g, "0-3");
	assert_int_equal(tmap_target_new(&f->target), 0);
	assert_int_equal(tmap_target_set(f->target, "file", f->file), 0);
	*state = f;
	return 0;
}

static int
fixture_teardown(void **state)
{
	struct fixture *f = *state;

	unlink(f->file);
	tmap_target_free(f->target);
	tmap_plan_free(f->p);
	tmap_guests_free(f->g);
	tmap_topology_free(f->t);
	tmap_backend_unload(f->m);
	free(f);
	return 0;
}

static void
apply_then_verify(void **state)
{
	struct fixture *f = *state;
	struct tmap_report *rep = NULL;
	struct tmap_error err = {0};
	const char *planned = tmap_plan_cpuset(f->p, 0);

	assert_int_equal(tmap_apply(f->m, f->target, f->p, 0, 0, &rep, &err), 0);
	assert_string_equal(test_read_file(f->file), planned);
	assert_int_equal(tmap_report_write_count(rep), 1);
	assert_non_null(strstr(tmap_report_write(rep, 0), planned));
	tmap_report_free(rep);

	assert_int_equal(tmap_verify(f->m, f->target, f->p, 0, 0, &rep, &err), 0);
	assert_int_equal(tmap_report_drift_count(rep), 0);
	tmap_report_free(rep);

	/* Changed behind our back: verify says so, naming both sets. */
	test_write_file(f->file, "5");
	assert_int_equal(tmap_verify(f->m, f->target, f->p, 0, 0, &rep, &err), 1);
	assert_int_equal(tmap_report_drift_count(rep), 1);
	assert_non_null(strstr(tmap_report_drift(rep, 0), "mock file is '5', the plan says"));
	assert_string_equal(test_read_file(f->file), "5"); /* verify changes nothing */
	tmap_report_free(rep);
}

/* Issue 16: a cell anchored to a device (eth3, node 1 of dev-2s-sriov: PUs 8-15) whose vcpus
 * are moved to node 0 behind our back is no longer local to it; verify says so. */
static void
verify_device_locality(void **state)
{
	struct fixture *f = *state;
	struct tmap_topology *t = test_topology(test_data("dev-2s-sriov.xml"));
	struct tmap_guests *g =
		test_guests("{\"name\":\"vm\",\"vcpus\":2,\"devices\":[{\"net\":\"eth3\"}]}");
	struct tmap_plan *p = test_solve(t, g, NULL);
	struct tmap_report *rep = NULL;
	char text[256];
	bool found = false;

	assert_int_equal(tmap_apply(f->m, f->target, p, 0, 0, NULL, NULL), 0);
	/* What is in force as planned, vcpus included: no drift, no such line. */
	snprintf(text, sizeof(text), "%s\nvcpu 0 %s\nvcpu 1 %s", tmap_plan_cpuset(p, 0),
		 tmap_plan_vcpu_cpuset(p, 0, 0), tmap_plan_vcpu_cpuset(p, 0, 1));
	test_write_file(f->file, text);
	assert_int_equal(tmap_verify(f->m, f->target, p, 0, 0, &rep, NULL), 0);
	assert_int_equal(tmap_report_drift_count(rep), 0);
	rep = tmap_report_free(rep);

	/* The vcpus moved to node 0: the ordinary drift lines, and the device's. */
	snprintf(text, sizeof(text), "%s\nvcpu 0 0\nvcpu 1 1", tmap_plan_cpuset(p, 0));
	test_write_file(f->file, text);
	assert_int_equal(tmap_verify(f->m, f->target, p, 0, 0, &rep, NULL), 1);
	for (size_t i = 0; i < tmap_report_drift_count(rep); i++)
		found |= streq(tmap_report_drift(rep, i),
			       "cell 0 is no longer local to 0000:86:00.0 (node 1): its vcpus run on 0-1 (node 0)");
	assert_true(found);
	rep = tmap_report_free(rep);

	/* The vcpus where planned, the memory moved to node 0. */
	snprintf(text, sizeof(text), "%s\nvcpu 0 %s\nvcpu 1 %s\nmems 0", tmap_plan_cpuset(p, 0),
		 tmap_plan_vcpu_cpuset(p, 0, 0), tmap_plan_vcpu_cpuset(p, 0, 1));
	test_write_file(f->file, text);
	assert_int_equal(tmap_verify(f->m, f->target, p, 0, 0, &rep, NULL), 1);
	found = false;
	for (size_t i = 0; i < tmap_report_drift_count(rep); i++)
		found |= streq(tmap_report_drift(rep, i),
			       "cell 0 is no longer local to 0000:86:00.0 (node 1): its memory is on node 0");
	assert_true(found);
	tmap_report_free(rep);
	tmap_plan_free(p);
	tmap_guests_free(g);
	tmap_topology_free(t);
}

/* Issue 18 item 3: a plan whose vcpu count the target does not run (a resize it has not been
 * started with), under TMAP_APPLY_RESIZE: pending, word for word, on a backend that lists the
 * bit; without the bit, the count is drift; on a backend that does not list the bit (it cannot
 * tell a count), the ordinary comparison. */
static void
verify_resize_pending(void **state)
{
	struct fixture *f = *state;
	struct tmap_backend_module *mr = NULL;
	struct tmap_report *rep = NULL;
	const char *all = tmap_plan_cpuset(f->p, 0);
	const char *v0 = tmap_plan_vcpu_cpuset(f->p, 0, 0), *v1 = tmap_plan_vcpu_cpuset(f->p, 0, 1);
	char text[256], want[256];

	assert_int_equal(tmap_backend_load("mock-resize", &mr, NULL), 0);
	/* Grown: the target runs vcpu 0 alone, where the plan puts it. */
	snprintf(text, sizeof(text), "%s\nvcpu 0 %s", all, v0);
	test_write_file(f->file, text);
	assert_int_equal(tmap_verify(mr, f->target, f->p, 0, TMAP_APPLY_RESIZE, &rep, NULL), 0);
	assert_int_equal(tmap_report_pending_count(rep), 1);
	snprintf(want, sizeof(want), "guest 'vm' runs 1 vcpu; start it with 2 for vcpu 1 (PU %s)", v1);
	assert_string_equal(tmap_report_pending(rep, 0), want);
	rep = tmap_report_free(rep);

	/* Shrunk: vcpu 2 runs on PU 0, beyond the plan. */
	snprintf(text, sizeof(text), "%s\nvcpu 0 %s\nvcpu 1 %s\nvcpu 2 0", all, v0, v1);
	test_write_file(f->file, text);
	assert_int_equal(tmap_verify(mr, f->target, f->p, 0, TMAP_APPLY_RESIZE, &rep, NULL), 0);
	assert_int_equal(tmap_report_pending_count(rep), 1);
	assert_string_equal(tmap_report_pending(rep, 0),
			    "guest 'vm' runs 3 vcpus; start it with 2: until then vcpu 2 keeps running outside the plan (PU 0)");
	rep = tmap_report_free(rep);

	/* A vcpu that runs elsewhere than planned is drift still. */
	snprintf(text, sizeof(text), "%s\nvcpu 0 0", all);
	test_write_file(f->file, text);
	assert_int_equal(tmap_verify(mr, f->target, f->p, 0, TMAP_APPLY_RESIZE, &rep, NULL), 1);
	assert_int_equal(tmap_report_drift_count(rep), 1);
	rep = tmap_report_free(rep);

	/* Without the bit (a guest the state records running its plan's count): another count is
	 * drift, first the count and then where each vcpu beyond the plan runs; fewer vcpus too,
	 * where each vcpu that runs is as planned. */
	snprintf(text, sizeof(text), "%s\nvcpu 0 %s\nvcpu 1 %s\nvcpu 2 0", all, v0, v1);
	test_write_file(f->file, text);
	assert_int_equal(tmap_verify(mr, f->target, f->p, 0, 0, &rep, NULL), 1);
	assert_int_equal(tmap_report_drift_count(rep), 2);
	assert_string_equal(tmap_report_drift(rep, 0), "guest 'vm' runs 3 vcpus; its plan has 2");
	assert_string_equal(tmap_report_drift(rep, 1),
			    "mock vcpu 2: vcpu 2 is in force but not in the plan of 'vm'");
	assert_int_equal(tmap_report_pending_count(rep), 0);
	rep = tmap_report_free(rep);
	snprintf(text, sizeof(text), "%s\nvcpu 0 %s", all, v0);
	test_write_file(f->file, text);
	assert_int_equal(tmap_verify(mr, f->target, f->p, 0, 0, &rep, NULL), 1);
	assert_int_equal(tmap_report_drift_count(rep), 1);
	assert_string_equal(tmap_report_drift(rep, 0), "guest 'vm' runs 1 vcpu; its plan has 2");
	assert_int_equal(tmap_report_pending_count(rep), 0);
	rep = tmap_report_free(rep);
	/* On a backend that does not list the bit, the count is not its to tell: vcpu 2 alone. */
	snprintf(text, sizeof(text), "%s\nvcpu 0 %s\nvcpu 1 %s\nvcpu 2 0", all, v0, v1);
	test_write_file(f->file, text);
	assert_int_equal(tmap_verify(f->m, f->target, f->p, 0, TMAP_APPLY_RESIZE, &rep, NULL), 1);
	assert_int_equal(tmap_report_drift_count(rep), 1);
	assert_string_equal(tmap_report_drift(rep, 0),
			    "mock vcpu 2: vcpu 2 is in force but not in the plan of 'vm'");
	assert_int_equal(tmap_report_pending_count(rep), 0);
	tmap_report_free(rep);
	assert_int_equal(tmap_verify(f->m, f->target, f->p, 0, 1u << 9, NULL, NULL), -EINVAL);
	tmap_backend_unload(mr);
}

static void
dry_run_writes_nothing(void **state)
{
	struct fixture *f = *state;
	struct tmap_report *rep = NULL;

	assert_int_equal(tmap_apply(f->m, f->target, f->p, 0, TMAP_APPLY_DRY_RUN, &rep, NULL), 0);
	assert_string_equal(test_read_file(f->file), "0-7");
	assert_int_equal(tmap_report_write_count(rep), 1);
	tmap_report_free(rep);
}

static void
failure_restores_the_capture(void **state)
{
	struct fixture *f = *state;
	struct tmap_report *report = NULL;
	struct tmap_error err = {0};

	/* apply writes, then fails: the capture goes back */
	assert_int_equal(tmap_target_set(f->target, "fail", "apply"), 0);
	assert_int_equal(tmap_apply(f->m, f->target, f->p, 0, 0, &report, &err), -ERANGE);
	assert_string_equal(test_read_file(f->file), "0-7");
	assert_non_null(strstr(err.message, "apply: injected failure"));
	assert_non_null(strstr(err.message, "restored what was there"));
	assert_false(tmap_report_restore_failed(report));
	report = tmap_report_free(report);

	/* the read back fails */
	assert_int_equal(tmap_target_set(f->target, "fail", "read-back"), 0);
	assert_int_equal(tmap_apply(f->m, f->target, f->p, 0, 0, NULL, &err), -EIO);
	assert_string_equal(test_read_file(f->file), "0-7");
	assert_non_null(strstr(err.message, "read back: injected read failure"));

	/* what is read back differs from the plan */
	assert_int_equal(tmap_target_set(f->target, "fail", "none"), 0);
	assert_int_equal(tmap_target_set(f->target, "drift", ""), 0);
	assert_int_equal(tmap_apply(f->m, f->target, f->p, 0, 0, NULL, &err), -EPROTO);
	assert_string_equal(test_read_file(f->file), "0-7");
	assert_non_null(strstr(err.message, "compare: what is in force differs from the plan"));
	assert_non_null(strstr(err.message, "mock file is '63'"));

	/* and when the restore fails too, the message says so */
	assert_int_equal(tmap_target_set(f->target, "fail", "restore"), 0);
	assert_int_equal(tmap_apply(f->m, f->target, f->p, 0, 0, &report, &err), -EPROTO);
	assert_non_null(strstr(err.message, "compare: what is in force differs from the plan"));
	assert_non_null(strstr(err.message, "; restore failed too: injected restore failure"));
	assert_true(tmap_report_restore_failed(report));
	report = tmap_report_free(report);

	/* open fails: nothing to restore, the step is named */
	assert_int_equal(tmap_target_set(f->target, "fail", "open"), 0);
	test_write_file(f->file, "0-7");
	assert_int_equal(tmap_apply(f->m, f->target, f->p, 0, 0, NULL, &err), -EIO);
	assert_non_null(strstr(err.message, "open: cannot capture"));
}

static void
refuses_bad_calls(void **state)
{
	struct fixture *f = *state;
	struct tmap_target *t = NULL;
	struct tmap_error err = {0};

	assert_int_equal(tmap_target_new(&t), 0);
	assert_int_equal(tmap_target_set(t, "qmp", "/run/q.sock"), 0);
	assert_int_equal(tmap_apply(f->m, t, f->p, 0, 0, NULL, &err), -EINVAL);
	assert_non_null(strstr(err.message, "backend 'mock' takes no option --qmp (it takes --file, --fail, --drift)"));
	assert_int_equal(tmap_apply(f->m, f->target, f->p, 1, 0, NULL, &err), -EINVAL);
	assert_int_equal(tmap_apply(f->m, f->target, f->p, 0, 1u << 9, NULL, &err), -EINVAL);
	assert_int_equal(tmap_target_set(t, "Bad Key", "x"), -EINVAL);
	assert_int_equal(tmap_target_set(t, "qmp", "/other"), 0);
	assert_string_equal(tmap_target_get(t, "qmp"), "/other");
	assert_int_equal(tmap_target_count(t), 1);
	assert_null(tmap_target_get(t, "pid"));
	tmap_target_free(t);
	assert_string_equal(test_read_file(f->file), "0-7");
}

/* The CLI and the allocation state, through the fake backend: a guest is recorded only once
 * the backend applied it, never on a dry run or a failure. */
static int
cli(const char *state, const char *file, const char *extra1, const char *extra2,
    const char *name, char **out)
{
	const char *bin = getenv("TOPOMAP_BIN");
	char *argv[24], fileopt[256];
	int n = 0;

	argv[n++] = (char *)bin;
	argv[n++] = (char *)"apply";
	argv[n++] = (char *)"--backend=mock";
	argv[n++] = (char *)"-o";
	snprintf(fileopt, sizeof(fileopt), "file=%s", file);
	argv[n++] = fileopt;
	argv[n++] = (char *)"--state";
	argv[n++] = (char *)state;
	argv[n++] = (char *)"--topology";
	argv[n++] = (char *)"synthetic:pack:1 numa:1(memory=64GiB) core:8 pu:1";
	if (extra1)
		argv[n++] = (char *)extra1;
	if (extra2)
		argv[n++] = (char *)extra2;
	argv[n++] = (char *)"--name";
	argv[n++] = (char *)name;
	argv[n++] = (char *)"--vcpus";
	argv[n++] = (char *)"3";
	argv[n] = NULL;
	return test_run(argv, NULL, out, NULL);
}

static int
state_cmd(const char *state, const char *cmd, const char *name, char **out)
{
	char *argv[] = {(char *)getenv("TOPOMAP_BIN"), (char *)cmd, (char *)"--state", (char *)state,
			(char *)"--topology", (char *)"synthetic:pack:1 numa:1(memory=64GiB) core:8 pu:1",
			(char *)(name ? name : "--format=json"), NULL};

	return test_run(argv, NULL, out, NULL);
}

static void
state_records_only_success(void **state)
{
	char dir[] = "/tmp/topomap-cli-state-XXXXXX", st[128], f1[128], f2[128], cmd[300];
	char *out = NULL;

	assert_non_null(mkdtemp(dir));
	snprintf(st, sizeof(st), "%s/state.json", dir);
	snprintf(f1, sizeof(f1), "%s/a", dir);
	snprintf(f2, sizeof(f2), "%s/b", dir);
	test_write_file(f1, "0-7");
	test_write_file(f2, "0-7");

	assert_int_equal(cli(st, f1, NULL, NULL, "a", NULL), 0);
	assert_int_equal(state_cmd(st, "state", NULL, &out), 0);
	assert_non_null(strstr(out, "\"name\":\"a\""));
	free(out);
	/* a dry run and a failed apply record nothing */
	assert_int_equal(cli(st, f2, "--dry-run", NULL, "b", NULL), 0);
	assert_int_equal(cli(st, f2, "-o", "fail=apply", "b", NULL), 1);
	assert_string_equal(test_read_file(f2), "0-7");
	assert_int_equal(state_cmd(st, "state", NULL, &out), 0);
	assert_null(strstr(out, "\"name\":\"b\""));
	free(out);
	/* b goes around a: 3 + 3 of 8 PUs, none twice */
	assert_int_equal(cli(st, f2, NULL, NULL, "b", NULL), 0);
	assert_int_equal(state_cmd(st, "state", NULL, &out), 0);
	{
		struct json_object *root = json_tokener_parse(out), *guests, *g;
		_cleanup_bitmap_ hwloc_bitmap_t a = hwloc_bitmap_alloc(), b = hwloc_bitmap_alloc();

		assert_non_null(root);
		assert_true(json_object_object_get_ex(root, "guests", &guests));
		assert_int_equal(json_object_array_length(guests), 2);
		json_object_object_get_ex(json_object_array_get_idx(guests, 0), "held", &g);
		assert_int_equal(hwloc_bitmap_list_sscanf(a, json_object_get_string(g)), 0);
		json_object_object_get_ex(json_object_array_get_idx(guests, 1), "held", &g);
		assert_int_equal(hwloc_bitmap_list_sscanf(b, json_object_get_string(g)), 0);
		assert_int_equal(hwloc_bitmap_weight(a), 3);
		assert_false(hwloc_bitmap_intersects(a, b));
		/* what the backend wrote for b is b's recorded plan */
		assert_true(hwloc_bitmap_isequal(b, (hwloc_bitmap_parse_helper(test_read_file(f2)))));
		json_object_put(root);
	}
	free(out);
	/* 2 PUs left: a third guest of 3 does not fit; applying a again re-places it */
	assert_int_equal(cli(st, f2, NULL, NULL, "c", NULL), 3);
	assert_int_equal(cli(st, f1, NULL, NULL, "a", NULL), 0);
	/* release frees a; a second release says there is no such guest */
	assert_int_equal(state_cmd(st, "release", "a", NULL), 0);
	assert_int_equal(state_cmd(st, "release", "a", NULL), 2);
	assert_int_equal(cli(st, f2, NULL, NULL, "c", NULL), 0);
	snprintf(cmd, sizeof(cmd), "%s.lock", st);
	unlink(cmd);
	unlink(st);
	unlink(f1);
	unlink(f2);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(loads_good_module),
		cmocka_unit_test(identify_needs_the_callback),
		cmocka_unit_test(cpulist_parse_and_format),
		cmocka_unit_test(refuses_bad_modules),
		cmocka_unit_test(refuses_unsafe_places),
		cmocka_unit_test(refuses_foreign_files),
		cmocka_unit_test(foreach_lists_good_and_refused),
		cmocka_unit_test(real_backends_are_themselves),
		cmocka_unit_test_setup_teardown(apply_then_verify, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(verify_device_locality, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(verify_resize_pending, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(dry_run_writes_nothing, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(failure_restores_the_capture, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(refuses_bad_calls, fixture_setup, fixture_teardown),
		cmocka_unit_test(state_records_only_success),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
