/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The libvirt format against libvirt itself. Each guest's elements, put into a minimal
 * <domain>, must pass virt-xml-validate (libvirt's own RelaxNG schema) and libvirt's parser
 * (virsh define on the in-process test driver). The XML is read back with libxml2 and every
 * set in it must be what the plan's accessors report; every other value must be what the
 * guest spec asked for. No expected output is written down here.
 */
#include <dirent.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <sys/stat.h>

#include "testlib.h"

#define HOST "synthetic:pack:2 numa:2 core:4 pu:2"
#define VIRT_XML_VALIDATE "/usr/bin/virt-xml-validate"
#define VIRSH "/usr/bin/virsh"

static char tmpdir[] = "/tmp/topomap-test-libvirt-XXXXXX";

static int
group_setup(void **state)
{
	if (!mkdtemp(tmpdir)) {
		print_error("mkdtemp '%s': %s\n", tmpdir, strerror(errno));
		return -1;
	}
	return 0;
}

static int
group_teardown(void **state)
{
	/* A check that failed left its XML behind (run_tool shows it, then fails). */
	DIR *d = opendir(tmpdir);
	struct dirent *e;

	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			unlinkat(dirfd(d), e->d_name, 0);
	if (d)
		closedir(d);
	if (rmdir(tmpdir) < 0) {
		print_error("rmdir '%s': %s\n", tmpdir, strerror(errno));
		return -1;
	}
	return 0;
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

/* ------------------------------------------------------------------------------------- */
/* What the spec asked for, read from the same JSON text the library parsed. */

static json_object *
spec_find(json_object *specs, const char *name)
{
	for (size_t i = 0; i < json_object_array_length(specs); i++) {
		json_object *g = json_object_array_get_idx(specs, i), *n;

		if (json_object_object_get_ex(g, "name", &n) &&
		    streq(json_object_get_string(n), name))
			return g;
	}
	fail_msg("no spec for guest '%s'", name);
	return NULL;
}

static int64_t
spec_int(json_object *obj, const char *key, int64_t def)
{
	json_object *v;

	return obj && json_object_object_get_ex(obj, key, &v) ? json_object_get_int64(v) : def;
}

static const char *
spec_str(json_object *obj, const char *key, const char *def)
{
	json_object *v;

	return json_object_object_get_ex(obj, key, &v) ? json_object_get_string(v) : def;
}

static json_object *
spec_qos(json_object *g)
{
	json_object *q;

	return json_object_object_get_ex(g, "qos", &q) ? q : NULL;
}

/* A spec cell's cpus: a list string or an array of numbers. */
static hwloc_bitmap_t
spec_cell_cpus(json_object *cell)
{
	hwloc_bitmap_t set = NULL;
	json_object *cpus;

	assert_true(json_object_object_get_ex(cell, "cpus", &cpus));
	if (json_object_is_type(cpus, json_type_string)) {
		assert_int_equal(bitmap_parse_list(json_object_get_string(cpus), &set), 0);
		return set;
	}
	set = hwloc_bitmap_alloc();
	for (size_t i = 0; i < json_object_array_length(cpus); i++)
		hwloc_bitmap_set(set,
				 (unsigned)json_object_get_int(json_object_array_get_idx(cpus, i)));
	return set;
}

/* ------------------------------------------------------------------------------------- */
/* Reading the XML */

static char *xpath_string(xmlDocPtr doc, const char *fmt, ...) _printf_(2, 3);

static char *
xpath_string(xmlDocPtr doc, const char *fmt, ...)
{
	char expr[512], full[600];
	xmlXPathContextPtr ctx;
	xmlXPathObjectPtr o;
	va_list ap;
	char *s;

	va_start(ap, fmt);
	vsnprintf(expr, sizeof(expr), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "string(%s)", expr);
	ctx = xmlXPathNewContext(doc);
	assert_non_null(ctx);
	o = xmlXPathEvalExpression((const xmlChar *)full, ctx);
	if (!o || o->type != XPATH_STRING)
		fail_msg("xpath '%s' failed", full);
	s = strdup((const char *)o->stringval);
	xmlXPathFreeObject(o);
	xmlXPathFreeContext(ctx);
	return s;
}

static long xpath_count(xmlDocPtr doc, const char *fmt, ...) _printf_(2, 3);

static long
xpath_count(xmlDocPtr doc, const char *fmt, ...)
{
	char expr[512], full[600];
	xmlXPathContextPtr ctx;
	xmlXPathObjectPtr o;
	va_list ap;
	long n;

	va_start(ap, fmt);
	vsnprintf(expr, sizeof(expr), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "count(%s)", expr);
	ctx = xmlXPathNewContext(doc);
	assert_non_null(ctx);
	o = xmlXPathEvalExpression((const xmlChar *)full, ctx);
	if (!o || o->type != XPATH_NUMBER)
		fail_msg("xpath '%s' failed", full);
	n = (long)o->floatval;
	xmlXPathFreeObject(o);
	xmlXPathFreeContext(ctx);
	return n;
}

/* The string value of an XPath expression must equal want. */
static void
expect_xpath(xmlDocPtr doc, const char *want, const char *expr)
{
	_cleanup_free_ char *got = xpath_string(doc, "%s", expr);

	if (!streq(got, want))
		fail_msg("%s is '%s', the plan says '%s'", expr, got, want);
}

static void
expect_xpath_int(xmlDocPtr doc, int64_t want, const char *expr)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", (long long)want);
	expect_xpath(doc, buf, expr);
}

/* The format wraps the guest name into an XML comment; undo its escapes. */
static char *
comment_name(const char *content)
{
	static const char head[] = " topomap plan for guest '", tail[] = "' ";
	size_t len = strlen(content);
	char *name, *q;

	if (len < strlen(head) + strlen(tail) || strncmp(content, head, strlen(head)) != 0 ||
	    !streq(content + len - strlen(tail), tail))
		fail_msg("unexpected comment '%s'", content);
	name = q = calloc(1, len);
	for (const char *p = content + strlen(head); p < content + len - strlen(tail);) {
		unsigned c;
		int n;

		if (strncmp(p, "&amp;", 5) == 0) {
			*q++ = '&';
			p += 5;
		} else if (strncmp(p, "&#45;", 5) == 0) {
			*q++ = '-';
			p += 5;
		} else if (sscanf(p, "&#x%2X;%n", &c, &n) == 1 && n == 6) {
			*q++ = (char)c;
			p += 6;
		} else {
			*q++ = *p++;
		}
	}
	return name;
}

/* The output holds, per guest, a comment and the guest's elements: parse it under a root of
 * our own. */
static xmlDocPtr
parse_output(const char *text)
{
	size_t n = strlen(text) + 32;
	_cleanup_free_ char *wrapped = malloc(n);
	xmlDocPtr doc;

	snprintf(wrapped, n, "<plan>\n%s</plan>\n", text);
	doc = xmlReadMemory(wrapped, (int)strlen(wrapped), "plan.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOBLANKS);
	if (!doc)
		fail_msg("the libvirt format is not well-formed XML:\n%s", text);
	return doc;
}

/* A minimal domain around the elements that follow one comment, up to the next one. */
static xmlDocPtr
build_domain(const char *type, const char *name, uint64_t memory_mib, xmlNodePtr first)
{
	xmlDocPtr doc = xmlNewDoc((const xmlChar *)"1.0");
	xmlNodePtr dom, mem, os, ostype;
	char buf[32];

	dom = xmlNewNode(NULL, (const xmlChar *)"domain");
	xmlDocSetRootElement(doc, dom);
	xmlSetProp(dom, (const xmlChar *)"type", (const xmlChar *)type);
	xmlNewTextChild(dom, NULL, (const xmlChar *)"name", (const xmlChar *)name);
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)memory_mib);
	mem = xmlNewTextChild(dom, NULL, (const xmlChar *)"memory", (const xmlChar *)buf);
	xmlSetProp(mem, (const xmlChar *)"unit", (const xmlChar *)"MiB");
	os = xmlNewChild(dom, NULL, (const xmlChar *)"os", NULL);
	ostype = xmlNewTextChild(os, NULL, (const xmlChar *)"type", (const xmlChar *)"hvm");
	xmlSetProp(ostype, (const xmlChar *)"arch", (const xmlChar *)"x86_64");
	xmlSetProp(ostype, (const xmlChar *)"machine", (const xmlChar *)"pc");
	for (xmlNodePtr n = first; n && n->type != XML_COMMENT_NODE; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			fail_msg("guest '%s': unexpected node '%s' in the libvirt format", name,
				 (const char *)n->name);
		xmlAddChild(dom, xmlDocCopyNode(n, doc, 1));
	}
	return doc;
}

/* ------------------------------------------------------------------------------------- */
/* The real tools */

static void
run_tool(char *const argv[], const char *path)
{
	_cleanup_free_ char *out = NULL, *err = NULL, *xml = NULL;
	size_t len = 0;
	FILE *f;
	int r;

	r = test_run(argv, NULL, &out, &err);
	if (r == 0)
		return;
	f = fopen(path, "r");
	if (f) {
		xml = calloc(1, 1 << 16);
		len = fread(xml, 1, (1 << 16) - 1, f);
		fclose(f);
	}
	fail_msg("%s %s exited with %d:\n%s%s\n%.*s", argv[0], argv[1], r, out ? out : "",
		 err ? err : "", (int)len, xml ? xml : "");
}

static void
validate_schema(xmlDocPtr doc, const char *name)
{
	char path[256];
	char *argv[] = {VIRT_XML_VALIDATE, path, "domain", NULL};

	snprintf(path, sizeof(path), "%s/%s.xml", tmpdir, name);
	assert_true(xmlSaveFormatFile(path, doc, 1) > 0);
	run_tool(argv, path);
	unlink(path);
}

/* libvirt's parser checks more than the schema: the topology against the vcpu count, the NUMA
 * cells against the vcpus, vcpupin ids. The test driver runs in-process; it wants type 'test'. */
static void
validate_parser(xmlDocPtr doc, const char *name)
{
	char path[256];
	char *argv[] = {VIRSH, "-q", "-c", "test:///default", "define", path, NULL};

	xmlSetProp(xmlDocGetRootElement(doc), (const xmlChar *)"type", (const xmlChar *)"test");
	snprintf(path, sizeof(path), "%s/%s-test.xml", tmpdir, name);
	assert_true(xmlSaveFormatFile(path, doc, 1) > 0);
	run_tool(argv, path);
	unlink(path);
}

/* ------------------------------------------------------------------------------------- */
/* The checks */

static void
check_cputune(const struct tmap_plan *plan, size_t gi, xmlDocPtr dom, json_object *spec)
{
	unsigned vcpus = (unsigned)spec_int(spec, "vcpus", 0);
	unsigned iothreads = (unsigned)spec_int(spec, "iothreads", 0);
	const char *emulator = tmap_plan_emulator_cpuset(plan, gi);
	json_object *qos = spec_qos(spec);
	static const char *const qos_keys[] = {"shares", "period", "quota"};
	char expr[256];

	expect_xpath_int(dom, vcpus, "/domain/vcpu");
	expect_xpath(dom, "static", "/domain/vcpu/@placement");

	assert_int_equal(xpath_count(dom, "/domain/cputune/vcpupin"), vcpus);
	for (unsigned v = 0; v < vcpus; v++) {
		assert_int_equal(xpath_count(dom, "/domain/cputune/vcpupin[@vcpu='%u']", v), 1);
		snprintf(expr, sizeof(expr), "/domain/cputune/vcpupin[@vcpu='%u']/@cpuset", v);
		expect_xpath(dom, tmap_plan_vcpu_cpuset(plan, gi, v), expr);
	}

	assert_non_null(emulator);
	expect_xpath(dom, emulator, "/domain/cputune/emulatorpin/@cpuset");

	assert_int_equal(xpath_count(dom, "/domain/iothreads"), iothreads > 0);
	if (iothreads)
		expect_xpath_int(dom, iothreads, "/domain/iothreads");
	assert_int_equal(xpath_count(dom, "/domain/cputune/iothreadpin"), iothreads);
	for (unsigned k = 1; k <= iothreads; k++) {
		snprintf(expr, sizeof(expr), "/domain/cputune/iothreadpin[@iothread='%u']/@cpuset",
			 k);
		expect_xpath(dom, emulator, expr);
	}

	for (size_t i = 0; i < ARRAY_SIZE(qos_keys); i++) {
		int64_t want = spec_int(qos, qos_keys[i], 0);

		snprintf(expr, sizeof(expr), "/domain/cputune/%s", qos_keys[i]);
		assert_int_equal(xpath_count(dom, "%s", expr), want != 0);
		if (want)
			expect_xpath_int(dom, want, expr);
	}
}

static void
check_numa(const struct tmap_plan *plan, size_t gi, xmlDocPtr dom, json_object *spec)
{
	unsigned vcpus = (unsigned)spec_int(spec, "vcpus", 0);
	unsigned ncells = tmap_plan_cell_count(plan, gi);
	const char *mode = spec_str(spec, "memory_mode", "strict");
	_cleanup_bitmap_ hwloc_bitmap_t seen = hwloc_bitmap_alloc(), all = hwloc_bitmap_alloc();
	json_object *spec_cells = NULL;
	uint64_t memory = 0;
	char expr[256];

	/* numatune: the guest's node set, then one memnode per cell on the plan's node. */
	expect_xpath(dom, mode, "/domain/numatune/memory/@mode");
	expect_xpath(dom, tmap_plan_memory_nodeset(plan, gi), "/domain/numatune/memory/@nodeset");
	assert_true(ncells >= 1);
	assert_int_equal(xpath_count(dom, "/domain/numatune/memnode"), ncells);
	for (unsigned c = 0; c < ncells; c++) {
		int node = tmap_plan_cell_node(plan, gi, c);

		assert_true(node >= 0);
		snprintf(expr, sizeof(expr), "/domain/numatune/memnode[@cellid='%u']/@nodeset", c);
		expect_xpath_int(dom, node, expr);
		snprintf(expr, sizeof(expr), "/domain/numatune/memnode[@cellid='%u']/@mode", c);
		expect_xpath(dom, mode, expr);
	}

	/* cpu: the spec's topology; cells that partition the vcpus and hold all the memory. */
	expect_xpath_int(dom, spec_int(spec, "sockets", 1), "/domain/cpu/topology/@sockets");
	expect_xpath_int(dom, 1, "/domain/cpu/topology/@dies");
	expect_xpath_int(dom, spec_int(spec, "cores", vcpus), "/domain/cpu/topology/@cores");
	expect_xpath_int(dom, spec_int(spec, "threads", 1), "/domain/cpu/topology/@threads");

	json_object_object_get_ex(spec, "cells", &spec_cells);
	if (spec_cells)
		assert_int_equal(json_object_array_length(spec_cells), ncells);
	assert_int_equal(xpath_count(dom, "/domain/cpu/numa/cell"), ncells);
	hwloc_bitmap_set_range(all, 0, (int)vcpus - 1);
	for (unsigned c = 0; c < ncells; c++) {
		_cleanup_free_ char *cpus =
		    xpath_string(dom, "/domain/cpu/numa/cell[@id='%u']/@cpus", c);
		_cleanup_free_ char *mem =
		    xpath_string(dom, "/domain/cpu/numa/cell[@id='%u']/@memory", c);
		_cleanup_free_ char *unit =
		    xpath_string(dom, "/domain/cpu/numa/cell[@id='%u']/@unit", c);
		_cleanup_bitmap_ hwloc_bitmap_t set = NULL;

		assert_int_equal(bitmap_parse_list(cpus, &set), 0);
		if (hwloc_bitmap_intersects(set, seen))
			fail_msg("cell %u cpus '%s' overlap another cell", c, cpus);
		hwloc_bitmap_or(seen, seen, set);
		assert_string_equal(unit, "MiB");
		memory += strtoull(mem, NULL, 10);
		if (spec_cells) {
			json_object *sc = json_object_array_get_idx(spec_cells, c);
			_cleanup_bitmap_ hwloc_bitmap_t want = spec_cell_cpus(sc);

			if (!hwloc_bitmap_isequal(set, want))
				fail_msg("cell %u has cpus '%s', not the spec's", c, cpus);
			if (spec_int(sc, "memory_mib", 0))
				assert_int_equal(strtoull(mem, NULL, 10),
						 spec_int(sc, "memory_mib", 0));
		}
	}
	if (!hwloc_bitmap_isequal(seen, all))
		fail_msg("the cells do not hold exactly the vcpus 0-%u", vcpus - 1);
	/* Distances: every cell to every cell when the host has them for distinct nodes (10 to
	 * itself), else none. */
	for (unsigned c = 0; c < ncells; c++) {
		long want = plan_guest_distances_valid(plan, &plan->guests[gi]) ? ncells : 0;

		assert_int_equal(xpath_count(dom, "/domain/cpu/numa/cell[@id='%u']/distances/sibling", c),
				 want);
		if (want) {
			snprintf(expr, sizeof(expr),
				 "/domain/cpu/numa/cell[@id='%u']/distances/sibling[@id='%u']/@value", c, c);
			expect_xpath_int(dom, 10, expr);
		}
	}
	assert_int_equal(memory, spec_int(spec, "memory_mib", 1024));
}

/* <memoryBacking>: the spec's page size, for every guest cell (libvirt's nodeset there names
 * guest cells), and nothing for a guest in normal pages. */
static void
check_memory_backing(const struct tmap_plan *plan, size_t gi, xmlDocPtr dom, json_object *spec)
{
	json_object *v = NULL;
	uint64_t want = 0;
	char cells[32];

	if (json_object_object_get_ex(spec, "hugepages", &v) &&
	    json_object_is_type(v, json_type_string))
		assert_int_equal(parse_page_kib(json_object_get_string(v), &want), 0);
	else if (v)
		want = (uint64_t)json_object_get_int64(v);
	assert_int_equal(tmap_plan_hugepage_kib(plan, gi), want);
	assert_int_equal(xpath_count(dom, "/domain/memoryBacking"), want != 0);
	if (!want)
		return;
	assert_int_equal(xpath_count(dom, "/domain/memoryBacking/hugepages/page"), 1);
	expect_xpath_int(dom, (int64_t)want, "/domain/memoryBacking/hugepages/page/@size");
	expect_xpath(dom, "KiB", "/domain/memoryBacking/hugepages/page/@unit");
	if (tmap_plan_cell_count(plan, gi) > 1)
		snprintf(cells, sizeof(cells), "0-%u", tmap_plan_cell_count(plan, gi) - 1);
	else
		snprintf(cells, sizeof(cells), "0");
	expect_xpath(dom, cells, "/domain/memoryBacking/hugepages/page/@nodeset");
}

/* Solve the guests of a fixture on host, format the plan and check every guest in it. */
/* Each device of the plan: a <hostdev> with its source address, behind a root port on an
 * expander bound to the device's guest cell (issue 16). */
static void
check_devices(const struct tmap_plan *plan, size_t gi, xmlDocPtr dom)
{
	const struct plan_guest *pg = &plan->guests[gi];

	for (unsigned i = 0; i < pg->ndevices; i++) {
		unsigned domain, bus, slot, fn;
		_cleanup_free_ char *port = NULL, *expander = NULL, *node = NULL;

		assert_int_equal(sscanf(pg->devices[i].pci, "%x:%x:%x.%x", &domain, &bus, &slot, &fn), 4);
		port = xpath_string(dom, "/domain/devices/hostdev[source/address[@bus='0x%02x' and @slot='0x%02x' and @function='0x%x']]/address/@bus",
				    bus, slot, fn);
		assert_true(port[0]);
		expander = xpath_string(dom, "/domain/devices/controller[@model='pcie-root-port' and @index='%lu']/address/@bus",
					strtoul(port, NULL, 16));
		assert_true(expander[0]);
		node = xpath_string(dom, "/domain/devices/controller[@model='pcie-expander-bus' and @index='%lu']/target/node",
				    strtoul(expander, NULL, 16));
		assert_true(node[0]);
		assert_int_equal(atoi(node), (int)pg->devices[i].cell);
	}
}

static void
check_plan(const char *host, const char *fixture)
{
	_cleanup_free_ char *json = read_text(test_data(fixture));
	struct tmap_topology *topo = test_topology(host);
	struct tmap_guests *guests = test_guests(json);
	struct tmap_plan *plan = test_solve(topo, guests, NULL);
	struct tmap_error err = {0};
	json_object *specs = json_tokener_parse(json);
	_cleanup_free_ char *text = NULL;
	xmlDocPtr out;
	size_t gi = 0;

	assert_non_null(specs);
	if (!json_object_is_type(specs, json_type_array)) {
		json_object *a = json_object_new_array();

		json_object_array_add(a, specs);
		specs = a;
	}
	if (tmap_plan_format(plan, TMAP_FORMAT_LIBVIRT, 0, &text, &err) < 0)
		fail_msg("format: %s", err.message);

	/* Layout: comment lines at the margin, one element per line indented by a multiple of
	 * two spaces, at least two (they go inside <domain>). */
	for (const char *line = text; *line; line = strchr(line, '\n') + 1) {
		size_t indent = strspn(line, " ");

		if (!(indent == 0 && strncmp(line, "<!-- ", 5) == 0) &&
		    !(indent >= 2 && indent % 2 == 0 && line[indent] == '<'))
			fail_msg("unexpected line in the libvirt format: '%.*s'",
				 (int)strcspn(line, "\n"), line);
		assert_non_null(strchr(line, '\n'));
	}

	out = parse_output(text);
	for (xmlNodePtr n = xmlDocGetRootElement(out)->children; n; n = n->next) {
		_cleanup_free_ char *name = NULL;
		json_object *spec;
		xmlDocPtr dom;

		if (n->type != XML_COMMENT_NODE)
			continue;
		assert_true(gi < tmap_plan_guest_count(plan));
		name = comment_name((const char *)n->content);
		assert_string_equal(name, tmap_plan_guest_name(plan, gi));
		spec = spec_find(specs, name);

		dom = build_domain("kvm", name, (uint64_t)spec_int(spec, "memory_mib", 1024),
				   n->next);
		check_cputune(plan, gi, dom, spec);
		check_numa(plan, gi, dom, spec);
		check_memory_backing(plan, gi, dom, spec);
		check_devices(plan, gi, dom);
		validate_schema(dom, name);
		validate_parser(dom, name);
		xmlFreeDoc(dom);
		gi++;
	}
	assert_int_equal(gi, tmap_plan_guest_count(plan));

	xmlFreeDoc(out);
	json_object_put(specs);
	tmap_plan_free(plan);
	tmap_guests_free(guests);
	tmap_topology_free(topo);
}

static void
test_cells_iothreads_qos(void **state)
{
	check_plan(HOST, "libvirt-cells-iothreads-qos.json");
}

static void
test_memory_modes(void **state)
{
	/* One guest per mode, in one plan; the interleaved cells give non-contiguous lists. */
	check_plan(HOST, "libvirt-memory-modes.json");
}

static void
test_shared_guest(void **state)
{
	/* A shared guest floats over what the dedicated one leaves; quota -1 is "unlimited". */
	check_plan(HOST, "libvirt-shared.json");
}

static void
test_isolated_emulator(void **state)
{
	check_plan(HOST, "libvirt-isolated-emulator.json");
}

static void
test_real_numbering(void **state)
{
	/* Siblings numbered 12 apart, as on real Intel hosts: lists such as "0,12". */
	char host[4096];

	snprintf(host, sizeof(host), "%s", test_data("host-intel-2s.xml"));
	check_plan(host, "libvirt-cells-iothreads-qos.json");
	check_plan(host, "libvirt-shared.json");
}

static void
test_hugepages(void **state)
{
	char host[4096];

	snprintf(host, sizeof(host), "%s", test_data("host-hugepages.xml"));
	check_plan(host, "libvirt-hugepages.json");
}

static void
test_distances(void **state)
{
	/* host-4n's distances (10, 12, 21, 31) between four cells; then cells sharing nodes. */
	char host[4096];

	snprintf(host, sizeof(host), "%s", test_data("host-4n.xml"));
	check_plan(host, "libvirt-distances.json");
}

static void
test_devices(void **state)
{
	char host[4096];

	snprintf(host, sizeof(host), "%s", test_data("dev-2s-sriov.xml"));
	check_plan(host, "libvirt-devices.json");
}

static void
test_name_in_comment(void **state)
{
	/* "--" is legal in a guest name and illegal in an XML comment. */
	check_plan(HOST, "libvirt-names.json");
}

static void
test_deterministic(void **state)
{
	_cleanup_free_ char *json = read_text(test_data("libvirt-deterministic.json"));
	char *text[2] = {NULL, NULL};

	for (int i = 0; i < 2; i++) {
		struct tmap_topology *topo = test_topology(HOST);
		struct tmap_guests *guests = test_guests(json);
		struct tmap_plan *plan = test_solve(topo, guests, NULL);

		assert_int_equal(tmap_plan_format(plan, TMAP_FORMAT_LIBVIRT, 0, &text[i], NULL), 0);
		tmap_plan_free(plan);
		tmap_guests_free(guests);
		tmap_topology_free(topo);
	}
	assert_string_equal(text[0], text[1]);
	free(text[0]);
	free(text[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cells_iothreads_qos), cmocka_unit_test(test_memory_modes),
	    cmocka_unit_test(test_shared_guest),	cmocka_unit_test(test_isolated_emulator),
	    cmocka_unit_test(test_real_numbering),	cmocka_unit_test(test_name_in_comment),
	    cmocka_unit_test(test_deterministic),	cmocka_unit_test(test_hugepages),
	    cmocka_unit_test(test_devices),	cmocka_unit_test(test_distances),
	};

	if (access(VIRT_XML_VALIDATE, X_OK) < 0 || access(VIRSH, X_OK) < 0) {
		/* cmocka 1.1 has no whole-group skip: report it and count it as skipped (77). */
		printf("# SKIP %s or %s is missing (apt-get install libvirt-clients)\n",
		       VIRT_XML_VALIDATE, VIRSH);
		return 77;
	}
	LIBXML_TEST_VERSION
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
