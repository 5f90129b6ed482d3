/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A host's PCI devices as libvirt's node-device API describes them (issue 16), for
 * `--topology libvirt:URI`: each PCI device's address, class, ids, <numa node=...>, the PF of
 * a VF (<capability type='phys_function'>) and its root complex (the pciDDDD:BB of its sysfs
 * <path>); the names of the net, storage and drm devices whose parent it is. They become the
 * "devices" of the JSON host form, local to the cell libvirt gives, or of unknown locality
 * (numa_node -1, or a cell without CPUs).
 */
#include <ctype.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdarg.h>

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

/* The class the library files a device under, as hwloc would type its OS devices. */
static const char *
class_name(unsigned class_id)
{
	switch (class_id >> 8) {
	case 0x01:
		return "storage";
	case 0x02:
		return "network";
	case 0x03:
		return "gpu";
	default:
		return "other";
	}
}

/* A child's name the JSON host form takes ("eth2", "nvme0n1"): others are left out. */
static bool
usable_name(const char *s, size_t len)
{
	if (len == 0 || len > 64)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.:-", s[i]))
			return false;
	return true;
}

static int
add_string(struct json_object *o, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
add_string(struct json_object *o, const char *key, const char *fmt, ...)
{
	struct json_object *v;
	char buf[NAMES_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	v = json_object_new_string(buf);
	if (!v || (key ? json_object_object_add(o, key, v) : json_object_array_add(o, v)) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static int
device_to_json(const struct nodedev *d, int node, struct json_object *dev)
{
	struct json_object *names = json_object_new_array();
	const char *p = d->names;
	size_t nnames = 0;
	int r = add_string(dev, "pci", "%04x:%02x:%02x.%x", d->domain, d->bus, d->slot,
			   d->function);

	if (r == 0)
		r = add_string(dev, "class", "%s", class_name(d->class_id));
	if (r == 0)
		r = add_string(dev, "class_id", "%04x", d->class_id & 0xffff);
	if (r == 0)
		r = add_string(dev, "vendor", "%04x", d->vendor);
	if (r == 0)
		r = add_string(dev, "device", "%04x", d->product);
	if (r == 0 && d->physfn[0])
		r = add_string(dev, "physfn", "%s", d->physfn);
	if (r == 0 && d->has_root)
		r = add_string(dev, "root", "%04x:[%02x-%02x]", d->root_domain & 0xffff,
			       d->root_bus & 0xff, d->root_last & 0xff);
	if (r == 0 && (!names || json_object_object_add(dev, "names", names) < 0)) {
		json_object_put(names);
		r = -ENOMEM;
	}
	/* The form takes 16 names a device. */
	while (r == 0 && *p && nnames < 16) {
		size_t k = strcspn(p, ",");

		if (usable_name(p, k)) {
			r = add_string(names, NULL, "%.*s", (int)k, p);
			nnames++;
		}
		p += k + (p[k] == ',');
	}
	if (r == 0 && json_object_object_add(dev, "node", node >= 0 ? json_object_new_int(node) :
									NULL) < 0)
		r = -ENOMEM;
	return r;
}

int
nodedevs_to_json(const struct nodedevs *ds, bool (*known)(int node, void *arg), void *arg,
		 struct json_object *host)
{
	struct json_object *arr = json_object_new_array();
	int r = arr && json_object_object_add(host, "devices", arr) == 0 ? 0 : -ENOMEM;

	if (r < 0)
		json_object_put(arr);
	for (size_t i = 0; ds && i < ds->n && r == 0; i++) {
		const struct nodedev *d = &ds->dev[i];
		struct json_object *dev = json_object_new_object();

		if (!dev || json_object_array_add(arr, dev) < 0) {
			json_object_put(dev);
			return -ENOMEM;
		}
		r = device_to_json(d, d->node >= 0 && known(d->node, arg) ? d->node : -1, dev);
	}
	return r;
}
