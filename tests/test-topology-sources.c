/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Where a host comes from: the explicit constructors (issue 19), hwloc kept off stderr and its
 * complaints kept as warnings, XML checked before hwloc reads it and no fork behind the
 * embedding program's back (issues 14, 19), and "live" the same host from any cpuset.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"

/* Nodes listed against PU order: node 0 holds PUs 2-3, node 1 PUs 0-1, in two sockets. */
static const char out_of_order_json[] =
	"{\"nodes\":[{\"id\":0,\"memory_mib\":1024,\"socket\":0,\"cores\":[[2],[3]]},"
	"{\"id\":1,\"memory_mib\":1024,\"socket\":1,\"cores\":[[0],[1]]}]}";

static char tmpdir[64];

static const char *
tmp_path(const char *name, char *buf, size_t size)
{
	if (!tmpdir[0]) {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/topomap-test-sources-XXXXXX");
		assert_non_null(mkdtemp(tmpdir));
	}
	snprintf(buf, size, "%s/%s", tmpdir, name);
	return buf;
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* Everything written on fd 2 while `fn` runs. */
static char *
stderr_of(void (*fn)(void *), void *arg)
{
	char path[128];
	int saved = dup(2), fd;
	char *text = NULL;
	size_t len = 0;

	tmp_path("stderr", path, sizeof(path));
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, 2);
	fn(arg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(fd);
	assert_int_equal(read_file_bounded(path, 1 << 20, &text, &len, NULL), 0);
	unlink(path);
	return text;
}

struct load {
	const char *path;	/* NULL: out_of_order_json as text */
	struct tmap_topology *t;
	int r;
	struct tmap_error err;
};

static void
load(void *arg)
{
	struct load *l = arg;

	l->r = l->path ? tmap_topology_new_xml(l->path, 0, &l->t, &l->err)
		       : tmap_topology_new_from_json(out_of_order_json, strlen(out_of_order_json),
						     "h.json", &l->t, &l->err);
}

/* Issue 14: hwloc's 9-line "out-of-order XML topology load" banner reached stderr. First in
 * this program: hwloc prints it once per process. */
static void
hwloc_never_prints(void **state)
{
	struct load json = {0}, xml = {0};
	_cleanup_free_ char *text = NULL, *out = NULL;
	char path[128];

	out = stderr_of(load, &json);
	assert_int_equal(json.r, 0);
	assert_string_equal(out, "");
	assert_int_equal(tmap_topology_warning_count(json.t), 0);
	assert_string_equal(tmap_topology_node_cpus(json.t, 0), "2-3");
	tmap_topology_free(json.t);
	free(TAKE_PTR(out));

	/* The same host as hwloc XML, written out of order as a hand or a tool may. */
	assert_int_equal(topology_xml_from_json(out_of_order_json, strlen(out_of_order_json),
						"h.json", &text, NULL),
			 0);
	xml.path = tmp_path("out-of-order.xml", path, sizeof(path));
	write_file(path, text);
	out = stderr_of(load, &xml);
	if (xml.r < 0)
		fail_msg("%s", xml.err.message);
	assert_string_equal(out, "");
	assert_int_equal(tmap_topology_warning_count(xml.t), 1);
	assert_non_null(strstr(tmap_topology_warning(xml.t, 0), "objects are not in PU order"));
	assert_non_null(strstr(tmap_topology_warning(xml.t, 0), path));
	assert_null(tmap_topology_warning(xml.t, 1));
	assert_string_equal(tmap_topology_node_cpus(xml.t, 0), "2-3");
	assert_string_equal(tmap_topology_node_cpus(xml.t, 1), "0-1");
	tmap_topology_free(xml.t);
	unlink(path);
}

static unsigned forks;

static void
count_fork(void)
{
	forks++;
}

/* Issue 19: every XML file cost a fork(), behind the embedding program's back. */
static void
xml_no_fork_by_default(void **state)
{
	struct tmap_topology *t = NULL;
	struct tmap_error err = {0};
	unsigned before;

	assert_int_equal(pthread_atfork(count_fork, NULL, NULL), 0);
	before = forks;
	assert_int_equal(tmap_topology_new_xml(test_data("host-intel-2s.xml"), 0, &t, &err), 0);
	t = tmap_topology_free(t);
	assert_int_equal(tmap_topology_new_xml(test_data("host-intel-2s.xml"), 0, &t, &err), 0);
	t = tmap_topology_free(t);
	assert_int_equal(forks, before);
	assert_int_equal(tmap_topology_new_xml(test_data("host-intel-2s.xml"),
					       TMAP_TOPOLOGY_XML_PROBE, &t, &err),
			 0);
	t = tmap_topology_free(t);
	assert_int_equal(forks, before + 1);
}

static void
expect_xml_refused(const char *name, const char *xml, const char *needle)
{
	struct tmap_topology *t = NULL;
	struct tmap_error err = {0};
	char path[128];

	tmp_path(name, path, sizeof(path));
	write_file(path, xml);
	assert_int_equal(tmap_topology_new_xml(path, 0, &t, &err), -EINVAL);
	assert_null(t);
	if (!strstr(err.message, needle) || !strstr(err.message, path))
		fail_msg("'%s' lacks '%s'", err.message, needle);
	unlink(path);
}

/* What crashes hwloc 2.9 is refused before hwloc reads it, without the probe. */
static void
xml_checked_first(void **state)
{
	struct tmap_topology *t = NULL;
	struct tmap_error err = {0};

	assert_int_equal(tmap_topology_new_xml(test_data("hwloc-crashes-hwloc.xml"), 0, &t, &err),
			 -EINVAL);
	assert_non_null(strstr(err.message, "line 28: not a valid hwloc XML file: a malformed attribute in <object> (hwloc reads name=\"value\", names in a-z and _)"));
	expect_xml_refused("unknown.xml", "<topology><objectos_index=\"1\"/></topology>",
			   "unknown element <objectos_index>");
	expect_xml_refused("numa.xml",
			   "<topology><object type=\"Machine\" cpuset=\"0x1\" complete_cpuset=\"0x1\""
			   " nodeset=\"0x1\" complete_nodeset=\"0x1\">"
			   "<object type=\"NUMANode\" os_index=\"0\" cpuset=\"0x1\" complete_cpuset=\"0x1\"/>"
			   "</object></topology>",
			   "NUMANode object P#0 lacks nodeset or complete_nodeset");
	expect_xml_refused("set.xml",
			   "<topology><object type=\"Machine\" cpuset=\"0x1\" complete_cpuset=\"zz\">"
			   "</object></topology>",
			   "complete_cpuset=\"zz\" is not an hwloc set");
	/* Found by fuzz-hwloc-xml once the probe was gone: hwloc_bitmap_sscanf() asserts. */
	expect_xml_refused("comma.xml",
			   "<topology><object type=\"Machine\" cpuset=\",x00fc0fc0\"/></topology>",
			   "cpuset=\",x00fc0fc0\" is not an hwloc set");
	/* A misspelt complete_nodeset: hwloc 2.9 dereferences the missing set. */
	expect_xml_refused("misspelt.xml",
			   "<topology><object type=\"Machine\" cpuset=\"0x1\" complete_cpuset=\"0x1\""
			   " nodeset=\"0x1\" complete_nodeset=\"0x1\"><object type=\"NUMANode\""
			   " os_index=\"0\" cpuset=\"0x1\" complete_cpuset=\"0x1\" nodeset=\"0x1\""
			   " compleet_nodeset=\"0x1\"/></object></topology>",
			   "NUMANode object P#0 lacks nodeset or complete_nodeset");
	/* hwloc's parser stops at an attribute it cannot read and drops the sets after it. */
	expect_xml_refused("dot.xml",
			   "<topology><object type=\"Machine\" f.o=\"1\" cpuset=\"0x1\"/></topology>",
			   "a malformed attribute in <object>");
	expect_xml_refused("gt.xml",
			   "<topology><object type=\"Machine\" subtype=\"a>b\"/></topology>",
			   "an attribute value holds '<', '>' or an unknown '&' escape");
	expect_xml_refused("close.xml",
			   "<topology><object type=\"Machine\" cpuset=\"0x1\" complete_cpuset=\"0x1\""
			   " nodeset=\"0x1\" complete_nodeset=\"0x1\">"
			   "</topology>",
			   "</topology> does not close the element opened on line 1");
	expect_xml_refused("cdata.xml", "<topology><![CDATA[x]]></topology>",
			   "a markup declaration hwloc XML does not have");
}

/* A host of one PU in one NUMA node: the Machine's cpuset and nodeset, then the attributes of
 * the NUMA node and of the PU. malloc()ed. */
static char *
one_pu_host(const char *cpuset, const char *nodeset, const char *numa, const char *pu)
{
	char *xml = NULL;

	assert_true(asprintf(&xml, "<topology version=\"2.0\">\n"
			     "<object type=\"Machine\" os_index=\"0\" cpuset=\"%s\" complete_cpuset=\"%s\""
			     " nodeset=\"%s\" complete_nodeset=\"%s\">\n<object %s/>\n<object %s/>\n"
			     "</object>\n</topology>\n",
			     cpuset, cpuset, nodeset, nodeset, numa, pu) > 0);
	return xml;
}

#define PU_SETS(cpuset, complete) "cpuset=\"" cpuset "\" complete_cpuset=\"" complete "\"" \
	" nodeset=\"0x1\" complete_nodeset=\"0x1\""
#define SETS PU_SETS("0x1", "0x1")
#define NODE0 "type=\"NUMANode\" os_index=\"0\" " SETS
#define PU0 "type=\"PU\" os_index=\"0\" " SETS

/* Issue 14, found by fuzz-hwloc-xml: hwloc reads a PU or a NUMA node without os_index as
 * P#4294967295, any index up to that, and a PU's sets as written; topomap sized its tables by
 * the highest index and trusted the sets. Each is refused with the file, object and value. */
static void
xml_pu_and_node_indexes(void **state)
{
	static const struct {
		const char *numa, *pu, *message;
	} bad[] = {
		{NODE0, "type=\"PU\" " SETS,
		 "line 4: not a valid hwloc XML file: PU object without os_index"},
		{"type=\"NUMANode\" " SETS, PU0, "NUMANode object without os_index"},
		/* hwloc 1.x's "Node", and any case: hwloc_type_sscanf() reads both. */
		{"type=\"Node\" " SETS, PU0, "Node object without os_index"},
		{NODE0, "type=\"pu\" " SETS, "pu object without os_index"},
		{NODE0, "type=\"PU\" os_index=\"65536\" " SETS,
		 "PU object os_index=\"65536\" is above 65535"},
		{NODE0, "type=\"PU\" os_index=\"4294967296\" " SETS,
		 "PU object os_index=\"4294967296\" is above 65535"},
		{NODE0, "type=\"PU\" os_index=\"-1\" " SETS,
		 "PU object os_index=\"-1\" is not a decimal number"},
		{"type=\"NUMANode\" os_index=\"1024\" " SETS, PU0,
		 "NUMANode object os_index=\"1024\" is above 1023"},
		{NODE0, "type=\"PU\" os_index=\"0\" " PU_SETS("0x2", "0x1"),
		 "PU object P#0 has cpuset=\"0x2\", not P#0 alone"},
		{NODE0, "type=\"PU\" os_index=\"0\" " PU_SETS("0x1", "0x3"),
		 "PU object P#0 has complete_cpuset=\"0x3\", not P#0 alone"},
		{NODE0, "type=\"PU\" os_index=\"0\" " PU_SETS("0x0", "0x1"),
		 "PU object P#0 has cpuset=\"0x0\", not P#0 alone"},
		{NODE0, "type=\"PU\" os_index=\"0\" " PU_SETS("0xf...f", "0xf...f"),
		 "PU object P#0 has cpuset=\"0xf...f\", not P#0 alone"},
	};
	_cleanup_free_ char *top_pu = NULL, *top_node = NULL, *xml = NULL;
	struct tmap_topology *t = NULL;
	struct tmap_error err = {0};
	char path[128], zeros[2048];

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		xml = one_pu_host("0x1", "0x1", bad[i].numa, bad[i].pu);
		expect_xml_refused("index.xml", xml, bad[i].message);
		free(TAKE_PTR(xml));
	}

	/* The neighbours load: PU 65535 and node 1023, the highest Linux numbers, and the
	 * hwloc 1.x spelling of a node. A set is 32-bit words, high first; empty ones are 0. */
	memset(zeros, ',', sizeof(zeros));
	zeros[2047] = '\0';
	assert_true(asprintf(&top_pu, "0x80000000%s0x0", zeros) > 0);
	zeros[31] = '\0';
	assert_true(asprintf(&top_node, "0x80000000%s0x0", zeros) > 0);
	assert_true(asprintf(&xml, "<topology version=\"2.0\">\n"
			     "<object type=\"Machine\" os_index=\"0\" cpuset=\"%1$s\" complete_cpuset=\"%1$s\""
			     " nodeset=\"%2$s\" complete_nodeset=\"%2$s\">\n"
			     "<object type=\"Node\" os_index=\"1023\" cpuset=\"%1$s\""
			     " complete_cpuset=\"%1$s\" nodeset=\"%2$s\" complete_nodeset=\"%2$s\"/>\n"
			     "<object type=\"PU\" os_index=\"65535\" cpuset=\"%1$s\" complete_cpuset=\"%1$s\""
			     " nodeset=\"%2$s\" complete_nodeset=\"%2$s\"/>\n</object>\n</topology>\n",
			     top_pu, top_node) > 0);
	write_file(tmp_path("top.xml", path, sizeof(path)), xml);
	if (tmap_topology_new_xml(path, 0, &t, &err) < 0)
		fail_msg("%s", err.message);
	assert_int_equal(tmap_topology_node_count(t), 1);
	assert_int_equal(tmap_topology_node_id(t, 0), 1023);
	assert_string_equal(tmap_topology_node_cpus(t, 0), "65535");
	t = tmap_topology_free(t);
	unlink(path);
}

/* Issue 19: one constructor per kind of source; tmap_topology_new() (deprecated, so this
 * test alone calls it) reads its string into them and gives the same host. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static void
explicit_constructors(void **state)
{
	struct tmap_topology *a = NULL, *b = NULL;
	struct tmap_error err = {0};
	_cleanup_free_ char *ta = NULL, *tb = NULL;

	assert_int_equal(tmap_topology_new_synthetic("pack:2 numa:2 core:2 pu:2", 0, &a, &err), 0);
	assert_int_equal(tmap_topology_node_count(a), 4);
	assert_int_equal(tmap_topology_new("synthetic:pack:2 numa:2 core:2 pu:2", 0, &b, &err), 0);
	assert_int_equal(tmap_topology_format(a, TMAP_FORMAT_TABLE, 0, &ta, NULL), 0);
	assert_int_equal(tmap_topology_format(b, TMAP_FORMAT_TABLE, 0, &tb, NULL), 0);
	assert_string_equal(ta, tb);
	assert_non_null(strstr(ta, "host: synthetic:pack:2 numa:2 core:2 pu:2"));
	a = tmap_topology_free(a);
	b = tmap_topology_free(b);
	free(TAKE_PTR(ta));
	free(TAKE_PTR(tb));

	assert_int_equal(tmap_topology_new_json(test_data("host-1g-pools.json"), 0, &a, &err), 0);
	assert_int_equal(tmap_topology_new(test_data("host-1g-pools.json"), 0, &b, &err), 0);
	assert_int_equal(tmap_topology_format(a, TMAP_FORMAT_JSON, 0, &ta, NULL), 0);
	assert_int_equal(tmap_topology_format(b, TMAP_FORMAT_JSON, 0, &tb, NULL), 0);
	assert_string_equal(ta, tb);
	a = tmap_topology_free(a);
	b = tmap_topology_free(b);

	/* An XML file named like a backend source is read as a file by its constructor. */
	assert_int_equal(tmap_topology_new_xml(test_data("host-4n.xml"), 0, &a, &err), 0);
	assert_int_equal(tmap_topology_node_count(a), 4);
	a = tmap_topology_free(a);
	assert_int_equal(tmap_topology_new_live(0, &a, &err), 0);
	assert_true(tmap_topology_node_count(a) >= 1);
	a = tmap_topology_free(a);

	assert_int_equal(tmap_topology_new_backend("no-such-backend", "x", 0, &a, &err), -ENOENT);
	assert_non_null(strstr(err.message, "topology 'no-such-backend:x': "));
	assert_int_equal(tmap_topology_new_live(2, &a, &err), -EINVAL);
	assert_int_equal(tmap_topology_new_xml(test_data("host-4n.xml"), 2, &a, &err), -EINVAL);
	assert_int_equal(tmap_topology_new_synthetic(NULL, 0, &a, &err), -EINVAL);
	assert_int_equal(tmap_topology_new_json("/nonexistent.json", 0, &a, &err), -ENOENT);
	assert_int_equal(tmap_topology_new("live", TMAP_TOPOLOGY_XML_PROBE, &a, &err), -EINVAL);
	assert_null(a);
}
#pragma GCC diagnostic pop

static int
write_text(const char *dir, const char *file, const char *text)
{
	char path[256];
	int fd, r = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* Issue 14: "live" was the calling process's cpuset, so a confined topomap (libvirt hooks
 * often are) saw another host. A child in a real cgroup v1 cpuset narrowed to one PU (hwloc
 * reads the cgroup, not the affinity mask) sees the whole machine, and a warning. */
static void
live_ignores_caller_cpuset(void **state)
{
	struct tmap_topology *t = NULL;
	struct tmap_error err = {0};
	char cg[128], one[16], buf[1024] = "";
	_cleanup_free_ char *all = NULL, *want = NULL;
	int fds[2], status = 0, last;
	ssize_t n;
	pid_t pid;

	if (geteuid() != 0 || access("/sys/fs/cgroup/cpuset/cpuset.cpus", W_OK) != 0)
		skip();
	assert_int_equal(tmap_topology_new_live(0, &t, &err), 0);
	all = bitmap_list(t->cpuset);
	last = hwloc_bitmap_last(t->cpuset);
	tmap_topology_free(t);
	if (last < 1)
		skip(); /* one PU: nothing to narrow */
	snprintf(one, sizeof(one), "%d", last);
	snprintf(cg, sizeof(cg), "/sys/fs/cgroup/cpuset/topomap-test-live-%d", (int)getpid());
	assert_int_equal(mkdir(cg, 0755), 0);
	/* mems before cpus before any task, as the kernel wants. */
	if (write_text(cg, "cpuset.mems", "0") < 0 || write_text(cg, "cpuset.cpus", one) < 0) {
		rmdir(cg);
		fail_msg("cannot set up cpuset '%s'", cg);
	}
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char self[16];
		FILE *out = fdopen(fds[1], "w");

		close(fds[0]);
		snprintf(self, sizeof(self), "%d", (int)getpid());
		if (!out || write_text(cg, "cgroup.procs", self) < 0)
			_exit(3);
		if (tmap_topology_new_live(0, &t, &err) < 0) {
			fprintf(out, "error %s", err.message);
		} else {
			_cleanup_free_ char *cpus = bitmap_list(t->cpuset);

			fprintf(out, "%s|%zu|%s", cpus ? cpus : "?", tmap_topology_warning_count(t),
				tmap_topology_warning_count(t) ? tmap_topology_warning(t, 0) : "");
		}
		fclose(out);
		_exit(0);
	}
	close(fds[1]);
	n = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	rmdir(cg);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_true(asprintf(&want, "%s|1|live: this process may use PUs %s only (its cpuset); the host is described with all of them, %s",
			     all, one, all) > 0);
	assert_string_equal(buf, want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hwloc_never_prints),
		cmocka_unit_test(xml_no_fork_by_default),
		cmocka_unit_test(xml_checked_first),
		cmocka_unit_test(xml_pu_and_node_indexes),
		cmocka_unit_test(explicit_constructors),
		cmocka_unit_test(live_ignores_caller_cpuset),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);

	if (tmpdir[0])
		rmdir(tmpdir);
	return r;
}
