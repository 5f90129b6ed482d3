/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A host's PCI devices as libvirt's node-device API describes them (issue 16), for
 * `--topology libvirt:URI`: each PCI device's address, class, ids, <numa node=...>, the PF of
 * a VF (<capability type='phys_function'>) and its root complex (the pciDDDD:BB of its sysfs
 * <path>); the names of the net, storage and drm devices whose parent it is. They become the
 * hwloc XML objects hwloc itself writes: a host bridge per root complex, under the cell the
 * device is local to, or under the machine when libvirt gives no node (numa_node -1).
 */
#include <inttypes.h>

#include "libvirt-backend.h"
#include "libvirt-util.h"

#define NAMES_MAX 256

struct nodedev {
	char name[128];		/* libvirt's, pci_0000_3b_00_0 */
	unsigned domain, bus, slot, function;
	unsigned class_id, vendor, product;
	int node;		/* -1: unknown */
	char physfn[16];
	bool has_root;
	unsigned root_domain, root_bus, root_last;
	char names[NAMES_MAX];	/* "eth2,nvme0n1" */
	bool written;
};

struct nodedevs {
	size_t n;
	struct nodedev *dev;
};

void
nodedevs_free(struct nodedevs *d)
{
	if (!d)
		return;
	free(d->dev);
	free(d);
}

static bool
text_uint(xmlNodePtr n, int base, unsigned *ret)
{
	_cleanup_xml_char_ xmlChar *s = n ? xmlNodeGetContent(n) : NULL;
	char *end;
	unsigned long v;

	if (!s)
		return false;
	errno = 0;
	v = strtoul((const char *)s, &end, base);
	if (errno || end == (char *)s || *end || v > UINT32_MAX)
		return false;
	*ret = (unsigned)v;
	return true;
}

static bool
prop_uint(xmlNodePtr n, const char *name, unsigned *ret)
{
	_cleanup_xml_char_ xmlChar *s = n ? xmlGetProp(n, BAD_CAST name) : NULL;
	char *end;
	unsigned long v;

	if (!s)
		return false;
	errno = 0;
	v = strtoul((const char *)s, &end, 0);
	if (errno || end == (char *)s || *end || v > UINT32_MAX)
		return false;
	*ret = (unsigned)v;
	return true;
}

/* The important classes, as hwloc keeps them: storage, network, display, accelerators. */
static bool
important(unsigned class_id)
{
	unsigned base = class_id >> 8;

	return base == 0x01 || base == 0x02 || base == 0x03 || base == 0x12 || base == 0x0b ||
	       class_id == 0x0c04 || class_id == 0x0c06;
}

/* "/sys/devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0": root bus 0000:3a. */
static void
root_of(xmlNodePtr dev, struct nodedev *d)
{
	_cleanup_xml_char_ xmlChar *path = xmlNodeGetContent(xml_child(dev, "path"));
	const char *p = path ? strstr((const char *)path, "/pci") : NULL;

	if (p && sscanf(p, "/pci%4x:%2x", &d->root_domain, &d->root_bus) == 2) {
		d->has_root = true;
		d->root_last = d->bus > d->root_bus ? d->bus : d->root_bus;
	}
}

static int
parse_pci(xmlNodePtr dev, xmlNodePtr cap, struct nodedev *d)
{
	unsigned class24 = 0, node;
	_cleanup_xml_char_ xmlChar *name = xmlNodeGetContent(xml_child(dev, "name"));

	if (!name || !text_uint(xml_child(cap, "domain"), 0, &d->domain) ||
	    !text_uint(xml_child(cap, "bus"), 0, &d->bus) ||
	    !text_uint(xml_child(cap, "slot"), 0, &d->slot) ||
	    !text_uint(xml_child(cap, "function"), 0, &d->function) || d->domain > 0xffff ||
	    d->bus > 0xff || d->slot > 0x1f || d->function > 7)
		return -EINVAL;
	snprintf(d->name, sizeof(d->name), "%s", (const char *)name);
	if (text_uint(xml_child(cap, "class"), 16, &class24))
		d->class_id = class24 >> 8;
	prop_uint(xml_child(cap, "vendor"), "id", &d->vendor);
	prop_uint(xml_child(cap, "product"), "id", &d->product);
	d->vendor &= 0xffff;
	d->product &= 0xffff;
	d->node = prop_uint(xml_child(cap, "numa"), "node", &node) && node < LIST_MAX_INDEX ?
			  (int)node : -1;
	for (xmlNodePtr c = xml_child(cap, "capability"); c; c = xml_next(c)) {
		_cleanup_xml_char_ xmlChar *type = xmlGetProp(c, BAD_CAST "type");
		xmlNodePtr a = xml_child(c, "address");
		unsigned x[4];

		if (type && xmlStrEqual(type, BAD_CAST "phys_function") && a &&
		    prop_uint(a, "domain", &x[0]) && prop_uint(a, "bus", &x[1]) &&
		    prop_uint(a, "slot", &x[2]) && prop_uint(a, "function", &x[3]))
			snprintf(d->physfn, sizeof(d->physfn), "%04x:%02x:%02x.%x", x[0] & 0xffff,
				 x[1] & 0xff, x[2] & 0x1f, x[3] & 7);
	}
	root_of(dev, d);
	return 0;
}

/* A net, storage or drm device: its name goes to its parent PCI device. */
static void
add_child_name(struct nodedevs *ds, xmlNodePtr dev, xmlNodePtr cap, const char *type)
{
	_cleanup_xml_char_ xmlChar *parent = xmlNodeGetContent(xml_child(dev, "parent"));
	_cleanup_xml_char_ xmlChar *text = NULL;
	const char *name;

	if (!parent)
		return;
	if (streq(type, "net"))
		text = xmlNodeGetContent(xml_child(cap, "interface"));
	else if (streq(type, "storage"))
		text = xmlNodeGetContent(xml_child(cap, "block"));
	else
		text = xmlNodeGetContent(xml_child(dev, "devnode"));
	if (!text)
		return;
	name = strrchr((const char *)text, '/');
	name = name ? name + 1 : (const char *)text;
	for (size_t i = 0; i < ds->n; i++) {
		struct nodedev *d = &ds->dev[i];
		size_t len = strlen(d->names);

		if (!streq(d->name, (const char *)parent) || !*name ||
		    len + strlen(name) + 2 > sizeof(d->names))
			continue;
		snprintf(d->names + len, sizeof(d->names) - len, "%s%s", len ? "," : "", name);
	}
}

static xmlNodePtr
capability(xmlDocPtr doc, const char **ret_type)
{
	xmlNodePtr dev = xmlDocGetRootElement(doc);
	xmlNodePtr cap = dev ? xml_child(dev, "capability") : NULL;
	static const char *const types[] = {"pci", "net", "storage", "drm"};
	_cleanup_xml_char_ xmlChar *type = cap ? xmlGetProp(cap, BAD_CAST "type") : NULL;

	*ret_type = NULL;
	for (size_t i = 0; type && i < ARRAY_SIZE(types); i++)
		if (xmlStrEqual(type, BAD_CAST types[i]))
			*ret_type = types[i];
	return cap;
}

/* The root complexes' bus ranges: from the root bus to the highest bus under it. */
static void
root_ranges(struct nodedevs *ds)
{
	for (size_t i = 0; i < ds->n; i++)
		for (size_t k = 0; k < ds->n; k++)
			if (ds->dev[i].has_root && ds->dev[k].has_root &&
			    ds->dev[i].root_domain == ds->dev[k].root_domain &&
			    ds->dev[i].root_bus == ds->dev[k].root_bus &&
			    ds->dev[k].root_last > ds->dev[i].root_last)
				ds->dev[i].root_last = ds->dev[k].root_last;
}

int
nodedevs_parse(const char *const *xmls, size_t n, struct nodedevs **ret, struct tmap_error *err)
{
	struct nodedevs *ds = calloc(1, sizeof(*ds));
	int r = 0;

	if (!ds || !(ds->dev = calloc(n ? n : 1, sizeof(*ds->dev)))) {
		free(ds);
		return tmap_error_set(err, -ENOMEM, "out of memory");
	}
	/* PCI devices first, then the names of their children. */
	for (int pass = 0; pass < 2 && r == 0; pass++)
		for (size_t i = 0; i < n && r == 0; i++) {
			_cleanup_xml_doc_ xmlDocPtr doc = xml_parse(xmls[i], "nodedev.xml");
			const char *type;
			xmlNodePtr cap = doc ? capability(doc, &type) : NULL;

			if (!doc)
				r = tmap_error_set(err, -EINVAL, "a node device's XML is not well-formed");
			else if (!cap || !type || (pass == 0) != streq(type, "pci"))
				continue;
			else if (pass == 1)
				add_child_name(ds, xmlDocGetRootElement(doc), cap, type);
			else if (parse_pci(xmlDocGetRootElement(doc), cap, &ds->dev[ds->n]) < 0)
				r = tmap_error_set(err, -EINVAL,
						   "node device %zu: a PCI capability without a valid address", i);
			else if (important(ds->dev[ds->n].class_id))
				ds->n++;
			else
				memset(&ds->dev[ds->n], 0, sizeof(ds->dev[0]));
		}
	if (r < 0) {
		nodedevs_free(ds);
		return r;
	}
	root_ranges(ds);
	*ret = ds;
	return 0;
}

static void
write_one(const struct nodedev *d, FILE *out, unsigned *gp, unsigned depth)
{
	static const struct { unsigned base; int type; } osdev[] = {
		{0x01, 0}, {0x02, 2}, {0x03, 1}, {0x12, 5},
	};
	int type = 5;
	const char *p = d->names;

	for (size_t i = 0; i < ARRAY_SIZE(osdev); i++)
		if (osdev[i].base == d->class_id >> 8)
			type = osdev[i].type;
	fprintf(out, "%*s<object type=\"PCIDev\" gp_index=\"%u\" pci_busid=\"%04x:%02x:%02x.%x\" pci_type=\"%04x [%04x:%04x] [0000:0000] 00\" pci_link_speed=\"0.000000\">\n",
		(int)depth * 2, "", ++*gp, d->domain, d->bus, d->slot, d->function, d->class_id,
		d->vendor, d->product);
	if (d->physfn[0])
		fprintf(out, "%*s<info name=\"SRIOVPhysFn\" value=\"%s\"/>\n", (int)depth * 2 + 2, "",
			d->physfn);
	while (*p) {
		size_t k = strcspn(p, ",");

		fprintf(out, "%*s<object type=\"OSDev\" gp_index=\"%u\" name=\"%.*s\" osdev_type=\"%d\"/>\n",
			(int)depth * 2 + 2, "", ++*gp, (int)k, p, type);
		p += k + (p[k] == ',');
	}
	fprintf(out, "%*s</object>\n", (int)depth * 2, "");
}

/* The devices local to cell `node` (-1: to no cell libvirt names, or not in `known`), a host
 * bridge per root complex. known: is this cell one the document holds (with CPUs)? */
void
nodedevs_write(struct nodedevs *ds, int node, bool (*known)(int node, void *arg), void *arg,
	       FILE *out, unsigned *gp, unsigned depth)
{
	for (size_t i = 0; ds && i < ds->n; i++) {
		struct nodedev *d = &ds->dev[i];
		int at = d->node >= 0 && known(d->node, arg) ? d->node : -1;

		if (d->written || at != node)
			continue;
		if (!d->has_root) {
			d->written = true;
			write_one(d, out, gp, depth);
			continue;
		}
		fprintf(out, "%*s<object type=\"Bridge\" gp_index=\"%u\" bridge_type=\"0-1\" depth=\"0\" bridge_pci=\"%04x:[%02x-%02x]\">\n",
			(int)depth * 2, "", ++*gp, d->root_domain, d->root_bus, d->root_last);
		for (size_t k = i; k < ds->n; k++) {
			struct nodedev *e = &ds->dev[k];
			int e_at = e->node >= 0 && known(e->node, arg) ? e->node : -1;

			if (e->written || e_at != node || !e->has_root ||
			    e->root_domain != d->root_domain || e->root_bus != d->root_bus)
				continue;
			e->written = true;
			write_one(e, out, gp, depth + 1);
		}
		fprintf(out, "%*s</object>\n", (int)depth * 2, "");
	}
}
