/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the backend reads in a domain's XML (the guest it describes, the NUMA side of its
 * definition) and the one edit it makes to it: the per-cell <memnode>s of <numatune>, which no
 * libvirt call sets. Everything else is done through libvirt's calls, which check their input
 * the way libvirt's parser does.
 */
#include <ctype.h>
#include <inttypes.h>

#include "libvirt-backend.h"
#include "libvirt-util.h"

#define MIB_IN_KIB 1024ull

static const char *const mode_names[] = {"strict", "preferred", "interleave", "restrictive"};

/* The library's enum and libvirt's virDomainNumatuneMemMode have the same numbers. */
_Static_assert(TMAP_MEMORY_STRICT == 0 && TMAP_MEMORY_PREFERRED == 1 &&
	       TMAP_MEMORY_INTERLEAVE == 2 && TMAP_MEMORY_RESTRICTIVE == 3,
	       "memory modes are numbered as libvirt numbers them");

const char *
memory_mode_text(int mode)
{
	return mode >= 0 && mode < 4 ? mode_names[mode] : "?";
}

int
memory_mode_parse(const char *name)
{
	for (int m = 0; m < 4; m++)
		if (name && streq(name, mode_names[m]))
			return m;
	return -1;
}

void
domain_numa_clear(struct domain_numa *numa)
{
	if (!numa)
		return;
	free(numa->nodeset);
	for (unsigned i = 0; i < numa->nmemnodes; i++)
		free(numa->memnodes[i].nodeset);
	free(numa->memnodes);
	*numa = (struct domain_numa){.mode = -1};
}

const struct memnode *
domain_numa_memnode(const struct domain_numa *numa, unsigned cell)
{
	for (unsigned i = 0; i < numa->nmemnodes; i++)
		if (numa->memnodes[i].cell == cell)
			return &numa->memnodes[i];
	return NULL;
}

static char *
prop(xmlNodePtr node, const char *name)
{
	xmlChar *v = node ? xmlGetProp(node, BAD_CAST name) : NULL;
	char *copy;

	if (!v)
		return NULL;
	copy = strdup((const char *)v);
	xmlFree(v);
	return copy;
}

/* A whole number, strictly: digits only, at most max. */
static int
parse_u64(const char *text, uint64_t max, uint64_t *ret)
{
	unsigned long long v;
	char *end;

	if (!text || !isdigit((unsigned char)text[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int
node_u64(xmlNodePtr node, uint64_t max, uint64_t *ret)
{
	_cleanup_xml_char_ xmlChar *text = xmlNodeGetContent(node);
	_cleanup_free_ char *trimmed = NULL;
	char *s, *e;

	if (!text)
		return -EINVAL;
	trimmed = strdup((const char *)text);
	if (!trimmed)
		return -ENOMEM;
	for (s = trimmed; isspace((unsigned char)*s); s++)
		;
	for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]); e--)
		;
	*e = '\0';
	return parse_u64(s, max, ret);
}

static int
attr_u64(xmlNodePtr node, const char *name, uint64_t max, uint64_t *ret)
{
	_cleanup_free_ char *text = prop(node, name);

	if (!text)
		return -ENOENT;
	return parse_u64(text, max, ret);
}

/* libvirt's size units (virScaleInteger): the result in KiB, rounded up. */
static int
scale_to_kib(uint64_t value, const char *unit, uint64_t *ret_kib)
{
	static const struct {
		const char *name;
		uint64_t bytes;
	} units[] = {
		{"b", 1}, {"bytes", 1},
		{"KB", 1000ull}, {"k", 1024ull}, {"KiB", 1024ull},
		{"MB", 1000ull * 1000}, {"M", 1024ull << 10}, {"MiB", 1024ull << 10},
		{"GB", 1000ull * 1000 * 1000}, {"G", 1024ull << 20}, {"GiB", 1024ull << 20},
		{"TB", 1000ull * 1000 * 1000 * 1000}, {"T", 1024ull << 30}, {"TiB", 1024ull << 30},
	};
	uint64_t bytes = 0;

	if (!unit)
		unit = "KiB";
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (streq(units[i].name, unit))
			bytes = units[i].bytes;
	if (!bytes || value > UINT64_MAX / bytes)
		return -EINVAL;
	*ret_kib = (value * bytes + 1023) / 1024;
	return 0;
}

/* A <memory unit='...'>N</memory>-like element, in MiB rounded up. */
static int
node_mib(xmlNodePtr node, uint64_t *ret_mib)
{
	_cleanup_free_ char *unit = prop(node, "unit");
	uint64_t v, kib;

	if (node_u64(node, UINT64_MAX, &v) < 0 || scale_to_kib(v, unit, &kib) < 0)
		return -EINVAL;
	*ret_mib = (kib + MIB_IN_KIB - 1) / MIB_IN_KIB;
	return 0;
}

xmlNodePtr
domain_root(xmlDocPtr doc)
{
	xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;

	return root && xmlStrEqual(root->name, BAD_CAST "domain") ? root : NULL;
}

static int
read_numa(xmlNodePtr root, struct domain_numa *numa, struct tmap_error *err)
{
	xmlNodePtr tune = xml_child(root, "numatune");
	xmlNodePtr mem = xml_child(tune, "memory");
	xmlNodePtr cells = xml_child(xml_child(root, "cpu"), "numa");

	*numa = (struct domain_numa){.mode = -1};
	for (xmlNodePtr c = xml_child(cells, "cell"); c; c = xml_next(c))
		numa->ncells++;
	if (mem) {
		_cleanup_free_ char *mode = prop(mem, "mode");

		/* libvirt's default mode is strict. */
		numa->mode = mode ? memory_mode_parse(mode) : TMAP_MEMORY_STRICT;
		if (numa->mode < 0)
			return tmap_error_set(err, -EINVAL, "<numatune><memory> mode '%s' is unknown", mode);
		numa->nodeset = prop(mem, "nodeset");
	}
	for (xmlNodePtr n = xml_child(tune, "memnode"); n; n = xml_next(n)) {
		_cleanup_free_ char *mode = prop(n, "mode");
		struct memnode *v;
		uint64_t cell;

		if (attr_u64(n, "cellid", UINT32_MAX, &cell) < 0)
			return tmap_error_set(err, -EINVAL, "a <memnode> without a valid cellid");
		v = realloc(numa->memnodes, (numa->nmemnodes + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		numa->memnodes = v;
		v[numa->nmemnodes] = (struct memnode){
			.cell = (unsigned)cell,
			.mode = mode ? memory_mode_parse(mode) : TMAP_MEMORY_STRICT,
			.nodeset = prop(n, "nodeset"),
		};
		numa->nmemnodes++;
	}
	return 0;
}

int
domain_xml_numa(const char *xml, struct domain_numa *ret, struct tmap_error *err)
{
	_cleanup_xml_doc_ xmlDocPtr doc = xml ? xml_parse(xml, "domain.xml") : NULL;
	xmlNodePtr root = domain_root(doc);
	struct domain_numa numa;
	int r;

	if (!root)
		return tmap_error_set(err, -EINVAL, "the domain's XML is not a <domain>");
	r = read_numa(root, &numa, err);
	if (r < 0) {
		domain_numa_clear(&numa);
		return r == -ENOMEM ? tmap_error_set(err, r, "out of memory") : r;
	}
	*ret = numa;
	return 0;
}

/* <cputune>'s shares, period and quota; 0 for each that is absent, -1 for a negative quota
 * (libvirt's unlimited). */
static int
cputune_qos(xmlNodePtr root, uint64_t *ret_shares, uint64_t *ret_period, int64_t *ret_quota)
{
	xmlNodePtr tune = xml_child(root, "cputune");
	xmlNodePtr shares = xml_child(tune, "shares"), period = xml_child(tune, "period");
	xmlNodePtr quota = xml_child(tune, "quota");
	uint64_t q = 0;

	*ret_shares = *ret_period = 0;
	*ret_quota = 0;
	if ((shares && node_u64(shares, UINT64_MAX, ret_shares) < 0) ||
	    (period && node_u64(period, UINT64_MAX, ret_period) < 0))
		return -EINVAL;
	if (!quota)
		return 0;
	{
		_cleanup_xml_char_ xmlChar *text = xmlNodeGetContent(quota);
		const char *t = text ? (const char *)text : "";

		t += strspn(t, " \t\n");
		if (*t == '-') {
			*ret_quota = -1;
			return isdigit((unsigned char)t[1]) ? 0 : -EINVAL;
		}
	}
	if (node_u64(quota, INT64_MAX, &q) < 0)
		return -EINVAL;
	*ret_quota = (int64_t)q;
	return 0;
}

int
domain_xml_qos(const char *xml, uint64_t *ret_shares, uint64_t *ret_period, int64_t *ret_quota,
	       struct tmap_error *err)
{
	_cleanup_xml_doc_ xmlDocPtr doc = xml ? xml_parse(xml, "domain.xml") : NULL;
	xmlNodePtr root = domain_root(doc);

	if (!root)
		return tmap_error_set(err, -EINVAL, "not a libvirt domain XML document");
	if (cputune_qos(root, ret_shares, ret_period, ret_quota) < 0)
		return tmap_error_set(err, -EINVAL, "<cputune>: shares, period or quota is not a number");
	return 0;
}

static int
describe_qos(xmlNodePtr root, struct tmap_guest *g, const char *name, struct tmap_error *err)
{
	uint64_t shares, period;
	int64_t quota;

	if (cputune_qos(root, &shares, &period, &quota) < 0 ||
	    tmap_guest_set_qos(g, shares, period, quota) < 0)
		return tmap_error_set(err, -EINVAL,
				      "domain '%s': <cputune> shares, period or quota is not one topomap can set (shares 2 to 262144, period 1000 to 1000000 us, quota 1000 us and up or -1)",
				      name);
	return 0;
}

static int
describe_cells(xmlNodePtr root, struct tmap_guest *g, const char *name, struct tmap_error *err)
{
	xmlNodePtr numa = xml_child(xml_child(root, "cpu"), "numa");
	uint64_t total = 0;
	unsigned n = 0;

	for (xmlNodePtr c = xml_child(numa, "cell"); c; c = xml_next(c))
		n++;
	/* libvirt numbers cells 0 to n-1 (it refuses anything else); they are taken in that
	 * order, which is the order of the plan's cells. A cell without an id is numbered by
	 * its position, as libvirt does (virDomainNumaDefParseXML). */
	for (unsigned id = 0; id < n; id++) {
		_cleanup_free_ char *cpus = NULL, *unit = NULL, *mem = NULL;
		xmlNodePtr cell = NULL;
		uint64_t v, kib, mib;
		unsigned pos = 0;
		int r;

		for (xmlNodePtr c = xml_child(numa, "cell"); c && !cell; c = xml_next(c), pos++) {
			uint64_t cid;

			r = attr_u64(c, "id", UINT32_MAX, &cid);
			if ((r == 0 && cid == id) || (r == -ENOENT && pos == id))
				cell = c;
		}
		if (!cell)
			return tmap_error_set(err, -EINVAL,
					 "domain '%s': guest NUMA cells are not numbered 0 to %u", name,
					 n - 1);
		cpus = prop(cell, "cpus");
		if (!cpus || !*cpus)
			return tmap_error_set(err, -EINVAL,
					 "domain '%s': guest cell %u has no vcpus, and topomap places only cells with vcpus",
					 name, id);
		unit = prop(cell, "unit");
		mem = prop(cell, "memory");
		if (parse_u64(mem, UINT64_MAX, &v) < 0 || scale_to_kib(v, unit, &kib) < 0)
			return tmap_error_set(err, -EINVAL, "domain '%s': guest cell %u: memory '%s' is not a size",
					 name, id, mem ? mem : "");
		mib = (kib + MIB_IN_KIB - 1) / MIB_IN_KIB;
		r = tmap_guest_add_cell(g, cpus, mib ? mib : 1, err);
		if (r < 0)
			return r;
		total += mib ? mib : 1;
	}
	/* The guest's memory is its cells' (libvirt computes <memory> from them the same way). */
	if (n > 0 && tmap_guest_set_memory_mib(g, total) < 0)
		return tmap_error_set(err, -EINVAL, "domain '%s': memory %" PRIu64 " MiB is refused", name,
				 total);
	return 0;
}

/*
 * <memoryBacking><hugepages><page size='1' unit='GiB' nodeset='0-1'/>: the page size backing
 * the guest. topomap gives a guest one size for all its cells: pages of several sizes are
 * refused. <hugepages/> without a <page> means the host's default size, default_kib (0:
 * unknown, and such a guest is refused rather than planned in normal pages it does not use).
 */
static int
describe_hugepages(xmlNodePtr root, struct tmap_guest *g, const char *name, uint64_t default_kib,
		   struct tmap_error *err)
{
	xmlNodePtr hp = xml_child(xml_child(root, "memoryBacking"), "hugepages");
	uint64_t page_kib = 0;

	if (hp && !xml_child(hp, "page")) {
		if (!default_kib)
			return tmap_error_set(err, -EINVAL,
					      "domain '%s': <memoryBacking><hugepages/> names no page size, and the host's default cannot be told (it has pools of several sizes, or none); give <page size=...>",
					      name);
		page_kib = default_kib;
	}

	for (xmlNodePtr n = xml_child(hp, "page"); n; n = xml_next(n)) {
		_cleanup_free_ char *unit = prop(n, "unit");
		uint64_t size, kib;

		if (attr_u64(n, "size", UINT64_MAX, &size) < 0 || scale_to_kib(size, unit, &kib) < 0)
			return tmap_error_set(err, -EINVAL,
					      "domain '%s': <memoryBacking> <page> has no valid size", name);
		if (page_kib && kib != page_kib)
			return tmap_error_set(err, -EINVAL,
					      "domain '%s': <memoryBacking> has pages of %" PRIu64 " and %" PRIu64 " KiB; topomap plans one page size per guest",
					      name, page_kib, kib);
		page_kib = kib;
	}
	if (page_kib && tmap_guest_set_hugepages(g, page_kib) < 0)
		return tmap_error_set(err, -EINVAL,
				      "domain '%s': <memoryBacking> page size %" PRIu64 " KiB is not a hugepage size",
				      name, page_kib);
	return 0;
}

/* An address attribute, "0x3b" or "59". */
static unsigned
addr_part(xmlNodePtr a, const char *name, bool *ok)
{
	_cleanup_free_ char *v = prop(a, name);
	char *end;
	unsigned long x;

	if (!v) {
		*ok = false;
		return 0;
	}
	errno = 0;
	x = strtoul(v, &end, 0);
	*ok &= !errno && end != v && !*end && x <= 0xffff;
	return (unsigned)x;
}

/* The PCI controller of this index in <devices>, or NULL. */
static xmlNodePtr
pci_controller(xmlNodePtr devices, unsigned index)
{
	for (xmlNodePtr c = xml_child(devices, "controller"); c; c = xml_next(c)) {
		_cleanup_free_ char *type = prop(c, "type"), *idx = prop(c, "index");

		if (type && idx && streq(type, "pci") && strtoul(idx, NULL, 10) == index)
			return c;
	}
	return NULL;
}

/* The guest cell a device sits on: the <target><node> of the expander bus above it, through
 * root ports and bridges (a few levels); -1 when none says. */
static int
hostdev_cell(xmlNodePtr devices, xmlNodePtr hostdev)
{
	xmlNodePtr a = xml_child(hostdev, "address");

	for (int depth = 0; a && depth < 8; depth++) {
		bool ok = true;
		unsigned bus = addr_part(a, "bus", &ok);
		xmlNodePtr c = ok ? pci_controller(devices, bus) : NULL;
		_cleanup_free_ char *model = c ? prop(c, "model") : NULL;
		uint64_t node;

		if (!c)
			return -1;
		if (model && strstr(model, "expander-bus"))
			return node_u64(xml_child(xml_child(c, "target"), "node"), TMAP_MAX_VCPUS,
					&node) < 0 ? -1 : (int)node;
		a = xml_child(c, "address");
	}
	return -1;
}

/* Each PCI <hostdev> becomes a device request (issue 16): the guest keeps its device, its
 * cell goes next to it when it can (policy preferred: a running guest is not refused for a
 * device whose node is full). */
static int
describe_hostdevs(xmlNodePtr root, struct tmap_guest *g, const char *name, struct tmap_error *err)
{
	xmlNodePtr devices = xml_child(root, "devices");
	unsigned ncells = tmap_guest_cell_count(g);

	for (xmlNodePtr h = xml_child(devices, "hostdev"); h; h = xml_next(h)) {
		_cleanup_free_ char *mode = prop(h, "mode"), *type = prop(h, "type");
		xmlNodePtr a = xml_child(xml_child(h, "source"), "address");
		unsigned domain, bus, slot, fn;
		bool ok = true;
		int cell;
		char spec[96];

		if (!mode || !type || !streq(mode, "subsystem") || !streq(type, "pci") || !a)
			continue;
		domain = addr_part(a, "domain", &ok);
		bus = addr_part(a, "bus", &ok);
		slot = addr_part(a, "slot", &ok);
		fn = addr_part(a, "function", &ok);
		if (!ok || bus > 0xff || slot > 0x1f || fn > 7)
			return tmap_error_set(err, -EINVAL,
					      "domain '%s': a <hostdev> source address is not a PCI address",
					      name);
		cell = hostdev_cell(devices, h);
		snprintf(spec, sizeof(spec), "pci=%04x:%02x:%02x.%x,policy=preferred,cell=%u", domain,
			 bus, slot, fn, cell >= 0 && (unsigned)cell < ncells ? (unsigned)cell : 0);
		if (tmap_guest_add_device(g, spec, err) < 0)
			return -EINVAL;
	}
	return 0;
}

static int
describe(xmlNodePtr root, uint64_t default_page_kib, struct tmap_guest **ret,
	 struct tmap_error *err)
{
	struct tmap_guest *g = NULL;
	xmlNodePtr topo = xml_child(xml_child(root, "cpu"), "topology");
	xmlNodePtr iothreads = xml_child(root, "iothreads");
	unsigned listed = 0;
	xmlNodePtr memory = xml_child(root, "memory");
	xmlNodePtr tune_mem = xml_child(xml_child(root, "numatune"), "memory");
	_cleanup_free_ char *name = NULL;
	uint64_t vcpus, mib;
	int r;

	{
		_cleanup_xml_char_ xmlChar *text = xmlNodeGetContent(xml_child(root, "name"));

		name = strdup(text ? (const char *)text : "");
		if (!name)
			return -ENOMEM;
	}
	if (!name[0])
		return tmap_error_set(err, -EINVAL, "the domain's XML has no <name>");
	for (xmlNodePtr n = xml_child(xml_child(root, "iothreadids"), "iothread"); n; n = xml_next(n))
		listed++;
	/* libvirt gives a domain without <vcpu> one; topomap places only a domain that says
	 * how many it has, and says so rather than that a missing number is out of range. */
	if (!xml_child(root, "vcpu"))
		return tmap_error_set(err, -EINVAL, "domain '%s': its XML has no <vcpu> to say how many vcpus to place",
				      name);
	if (node_u64(xml_child(root, "vcpu"), TMAP_MAX_VCPUS, &vcpus) < 0 || vcpus == 0)
		return tmap_error_set(err, -EINVAL, "domain '%s': <vcpu> is not between 1 and %d", name,
				 TMAP_MAX_VCPUS);
	/* The guest is the domain's own name, never a changed one ("db 1" made "db_1" would be
	 * another guest, and two domains could meet in one name); a name the guest name rule
	 * refuses (spaces, over 64 characters) is the domain's UUID instead, which libvirt keeps
	 * unique and which --domain takes as well. With vcpus in range, only the name can be
	 * refused here. */
	r = tmap_guest_new(name, (unsigned)vcpus, &g, NULL);
	if (r == -EINVAL) {
		_cleanup_xml_char_ xmlChar *uuid = xmlNodeGetContent(xml_child(root, "uuid"));

		if (!uuid || !*uuid)
			return tmap_error_set(err, -EINVAL,
					      "domain '%s': its name is not a valid guest name and its XML has no <uuid> to name it by",
					      name);
		r = tmap_guest_new((const char *)uuid, (unsigned)vcpus, &g, err);
	}
	if (r < 0)
		return r == -ENOMEM ? tmap_error_set(err, r, "out of memory") : r;
	/* A domain's cells are a fact of its definition, not a request: libvirt runs several
	 * <memnode>s on one host node, so on a host with fewer nodes they share nodes. */
	tmap_guest_set_cells_share_nodes(g, 1);
	if (topo) {
		uint64_t s = 1, d = 1, cl = 1, c = 1, t = 1;

		/* Dies and clusters (libvirt 10.1) are levels topomap does not model: each is
		 * placed as a socket. */
		if (attr_u64(topo, "sockets", TMAP_MAX_VCPUS, &s) < 0 ||
		    attr_u64(topo, "dies", TMAP_MAX_VCPUS, &d) == -EINVAL ||
		    attr_u64(topo, "clusters", TMAP_MAX_VCPUS, &cl) == -EINVAL ||
		    attr_u64(topo, "cores", TMAP_MAX_VCPUS, &c) < 0 ||
		    attr_u64(topo, "threads", TMAP_MAX_GUEST_THREADS, &t) < 0 ||
		    s * d * cl * c * t != vcpus ||
		    tmap_guest_set_topology(g, (unsigned)(s * d * cl), (unsigned)c, (unsigned)t) < 0) {
			r = tmap_error_set(err, -EINVAL,
				      "domain '%s': <cpu><topology> does not describe its %" PRIu64 " vcpus",
				      name, vcpus);
			goto fail;
		}
	}
	if (memory) {
		if (node_mib(memory, &mib) < 0 || mib == 0 ||
		    tmap_guest_set_memory_mib(g, mib) < 0) {
			r = tmap_error_set(err, -EINVAL, "domain '%s': <memory> is not a size", name);
			goto fail;
		}
	}
	r = describe_cells(root, g, name, err);
	if (r == 0)
		r = describe_hugepages(root, g, name, default_page_kib, err);
	if (r == 0)
		r = describe_qos(root, g, name, err);
	if (r == 0)
		r = describe_realtime(root, g);
	if (r == 0)
		r = describe_hostdevs(root, g, name, err);
	if (r < 0)
		goto fail;
	if (iothreads || listed) {
		uint64_t n = 0;
		bool bad = iothreads && node_u64(iothreads, TMAP_MAX_IOTHREADS, &n) < 0;

		/* libvirt runs as many iothreads as <iothreads> says or <iothreadids> lists,
		 * whichever is more. */
		if (listed > n)
			n = listed;
		if (bad || n > TMAP_MAX_IOTHREADS || tmap_guest_set_iothreads(g, (unsigned)n) < 0) {
			r = tmap_error_set(err, -EINVAL, "domain '%s': <iothreads> is not between 0 and %d",
				      name, TMAP_MAX_IOTHREADS);
			goto fail;
		}
	}
	if (tune_mem) {
		_cleanup_free_ char *mode = prop(tune_mem, "mode");
		int m = mode ? memory_mode_parse(mode) : TMAP_MEMORY_STRICT;

		/* The mode stays the domain's: libvirt does not change it on a running domain. */
		if (m < 0 || tmap_guest_set_memory_mode(g, (enum tmap_memory_mode)m) < 0) {
			r = tmap_error_set(err, -EINVAL, "domain '%s': <numatune> mode '%s' is unknown",
				      name, mode);
			goto fail;
		}
	}
	*ret = g;
	return 0;
fail:
	tmap_guest_free(g);
	return r;
}

int
domain_xml_describe(const char *xml, uint64_t default_page_kib, struct tmap_guest **ret,
		    struct tmap_error *err)
{
	_cleanup_xml_doc_ xmlDocPtr doc = xml ? xml_parse(xml, "domain.xml") : NULL;
	xmlNodePtr root = domain_root(doc);
	int r;

	if (!root)
		return tmap_error_set(err, -EINVAL, "the domain's XML is not a <domain>");
	r = describe(root, default_page_kib, ret, err);
	return r == -ENOMEM ? tmap_error_set(err, r, "out of memory") : r;
}

bool
domain_xml_bare_hugepages(const char *xml)
{
	_cleanup_xml_doc_ xmlDocPtr doc = xml ? xml_parse(xml, "domain.xml") : NULL;
	xmlNodePtr hp = xml_child(xml_child(domain_root(doc), "memoryBacking"), "hugepages");

	return hp && !xml_child(hp, "page");
}

int
domain_xml_set_memnodes(const char *xml, int mode, const unsigned *nodes, unsigned ncells,
			char **ret_xml, struct tmap_error *err)
{
	_cleanup_xml_doc_ xmlDocPtr doc = xml ? xml_parse(xml, "domain.xml") : NULL;
	xmlNodePtr root = domain_root(doc);
	xmlNodePtr tune, n;

	if (!root)
		return tmap_error_set(err, -EINVAL, "the domain's XML is not a <domain>");
	if (mode < 0 || mode > 3)
		return tmap_error_set(err, -EINVAL, "memory mode %d is unknown", mode);
	tune = xml_child(root, "numatune");
	if (!tune && !(tune = xmlNewChild(root, NULL, BAD_CAST "numatune", NULL)))
		return tmap_error_set(err, -ENOMEM, "out of memory");
	xml_remove_children(tune, "memnode");
	for (unsigned c = 0; c < ncells; c++) {
		char cell[16], node[16];

		snprintf(cell, sizeof(cell), "%u", c);
		snprintf(node, sizeof(node), "%u", nodes[c]);
		n = xmlNewChild(tune, NULL, BAD_CAST "memnode", NULL);
		if (!n || !xmlNewProp(n, BAD_CAST "cellid", BAD_CAST cell) ||
		    !xmlNewProp(n, BAD_CAST "mode", BAD_CAST memory_mode_text(mode)) ||
		    !xmlNewProp(n, BAD_CAST "nodeset", BAD_CAST node))
			return tmap_error_set(err, -ENOMEM, "out of memory");
	}
	return xml_doc_text(doc, ret_xml, err);
}

void
xml_remove_children(xmlNodePtr parent, const char *name)
{
	xmlNodePtr next;

	for (xmlNodePtr n = parent->children; n; n = next) {
		next = n->next;
		if (n->type == XML_ELEMENT_NODE && xmlStrEqual(n->name, BAD_CAST name)) {
			xmlUnlinkNode(n);
			xmlFreeNode(n);
		}
	}
}

int
xml_doc_text(xmlDocPtr doc, char **ret, struct tmap_error *err)
{
	xmlChar *text = NULL;
	int len = 0;

	xmlDocDumpMemory(doc, &text, &len);
	if (!text)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	*ret = strdup((const char *)text);
	xmlFree(text);
	return *ret ? 0 : tmap_error_set(err, -ENOMEM, "out of memory");
}
