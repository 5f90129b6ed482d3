/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The "devices" of a host described in JSON, what `topomap topology --format json` prints:
 *
 *   "devices": [{"pci": "0000:3b:00.0", "class": "network", "vendor": "8086",
 *                "device": "1572", "names": ["eth2"], "physfn": null,
 *                "root": "0000:[3a-3b]", "node": 1}]
 *
 * turned into the hwloc XML objects hwloc itself writes for them (a host bridge per root
 * complex, the PCI device, its OS devices), under the node's group, or under the machine for
 * a device whose node is null (locality unknown). Only "pci" is required; "class_id" (the
 * PCI class code, "0200") wins over "class" when both are given.
 */
#include <ctype.h>

#include "internal.h"

#define MAX_DEVICES 4096
#define MAX_NAMES 16

struct desc_device {
	unsigned domain, bus, dev, func;
	unsigned class_id, vendor, device;
	enum dev_class cls;
	char *names[MAX_NAMES];
	size_t nnames;
	char physfn[16];
	bool has_root;
	unsigned root_domain, root_first, root_last;
	int node;		/* node OS index, or -1 */
	bool written;
};

struct desc_devices {
	size_t n;
	struct desc_device *dev;
};

void
desc_devices_free(struct desc_devices *dd)
{
	if (!dd)
		return;
	for (size_t i = 0; i < dd->n; i++)
		for (size_t k = 0; k < dd->dev[i].nnames; k++)
			free(dd->dev[i].names[k]);
	free(dd->dev);
	free(dd);
}

/* "0000:3b:00.0", exactly. */
static bool
parse_busid(const char *s, unsigned *domain, unsigned *bus, unsigned *dev, unsigned *func)
{
	int end = 0;

	if (strlen(s) != 12 || !isxdigit((unsigned char)s[0]) ||
	    sscanf(s, "%4x:%2x:%2x.%1x%n", domain, bus, dev, func, &end) != 4 || end != 12)
		return false;
	return *dev < 32 && *func < 8 && s[4] == ':' && s[7] == ':' && s[10] == '.';
}

static bool
is_hex4(const char *s, unsigned *ret)
{
	for (int i = 0; i < 4; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	if (s[4])
		return false;
	*ret = (unsigned)strtoul(s, NULL, 16);
	return true;
}

static bool
is_name(const char *s)
{
	if (!*s || strlen(s) > 64)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_.:-", *s))
			return false;
	return true;
}

static int
string_of(struct json_object *o, const char *key, const char **ret)
{
	struct json_object *v;

	*ret = NULL;
	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return -EINVAL;
	*ret = json_object_get_string(v);
	return 0;
}

#define BAD(fmt, ...) tmap_error_set(err, -EINVAL, "%s: devices[%zu]" fmt, origin, i, __VA_ARGS__)

static int
parse_ids(struct json_object *o, struct desc_device *d, const char *origin, size_t i,
	  struct tmap_error *err)
{
	static const unsigned default_class[] = {
		[DEV_OTHER] = 0x0b40, [DEV_NETWORK] = 0x0200, [DEV_STORAGE] = 0x0108,
		[DEV_GPU] = 0x0300,
	};
	const char *s;
	int c = DEV_OTHER;

	if (string_of(o, "class", &s) < 0 || (s && (c = dev_class_from_name(s)) < 0))
		return BAD(".class is not one of network, storage, gpu, other%s", "");
	d->cls = (enum dev_class)c;
	d->class_id = default_class[c];
	if (string_of(o, "class_id", &s) < 0 || (s && !is_hex4(s, &d->class_id)))
		return BAD(".class_id is not a PCI class code of 4 hex digits such as \"0200\"%s", "");
	if (string_of(o, "vendor", &s) < 0 || (s && !is_hex4(s, &d->vendor)))
		return BAD(".vendor is not a PCI id of 4 hex digits such as \"8086\"%s", "");
	if (string_of(o, "device", &s) < 0 || (s && !is_hex4(s, &d->device)))
		return BAD(".device is not a PCI id of 4 hex digits such as \"1572\"%s", "");
	return 0;
}

static int
parse_names(struct json_object *o, struct desc_device *d, const char *origin, size_t i,
	    struct tmap_error *err)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, "names", &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) > MAX_NAMES)
		return BAD(".names is not an array of at most %d names", MAX_NAMES);
	for (size_t k = 0; k < json_object_array_length(v); k++) {
		struct json_object *e = json_object_array_get_idx(v, k);

		if (!json_object_is_type(e, json_type_string) || !is_name(json_object_get_string(e)))
			return BAD(".names[%zu] is not a device name such as \"eth2\"", k);
		d->names[d->nnames] = strdup(json_object_get_string(e));
		if (!d->names[d->nnames++])
			return tmap_error_set(err, -ENOMEM, "out of memory");
	}
	return 0;
}

static int
parse_device(struct json_object *o, struct desc_device *d, const unsigned *node_ids,
	     size_t nnodes, const char *origin, size_t i, struct tmap_error *err)
{
	struct json_object *v;
	const char *s;
	unsigned x[4];
	int r, end = 0;

	if (!json_object_is_type(o, json_type_object))
		return BAD(" is not an object%s", "");
	if (string_of(o, "pci", &s) < 0 || !s ||
	    !parse_busid(s, &d->domain, &d->bus, &d->dev, &d->func))
		return BAD(".pci is not a PCI bus id such as \"0000:3b:00.0\"%s", "");
	if ((r = parse_ids(o, d, origin, i, err)) < 0 || (r = parse_names(o, d, origin, i, err)) < 0)
		return r;
	if (string_of(o, "physfn", &s) < 0 || (s && !parse_busid(s, &x[0], &x[1], &x[2], &x[3])))
		return BAD(".physfn is not a PCI bus id such as \"0000:3b:00.0\"%s", "");
	if (s)
		snprintf(d->physfn, sizeof(d->physfn), "%s", s);
	if (string_of(o, "root", &s) < 0)
		return BAD(".root is not a root complex such as \"0000:[3a-3b]\"%s", "");
	if (s && *s) {
		if (sscanf(s, "%4x:[%2x-%2x]%n", &d->root_domain, &d->root_first, &d->root_last,
			   &end) != 3 || s[end] || d->root_first > d->root_last)
			return BAD(".root is not a root complex such as \"0000:[3a-3b]\"%s", "");
		d->has_root = true;
	}
	d->node = -1;
	if (!json_object_object_get_ex(o, "node", &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return BAD(".node is not a node id or null%s", "");
	for (size_t k = 0; k < nnodes; k++)
		if ((int64_t)node_ids[k] == json_object_get_int64(v))
			d->node = (int)node_ids[k];
	if (d->node < 0)
		return BAD(".node %" PRId64 " is not a node of this host", json_object_get_int64(v));
	return 0;
}

int
desc_devices_parse(struct json_object *arr, const unsigned *node_ids, size_t nnodes,
		   const char *origin, struct desc_devices **ret, struct tmap_error *err)
{
	struct desc_devices *dd;
	size_t i = 0;
	int r = 0;

	if (!json_object_is_type(arr, json_type_array) ||
	    json_object_array_length(arr) > MAX_DEVICES)
		return tmap_error_set(err, -EINVAL, "%s: devices is not an array of at most %d devices",
				      origin, MAX_DEVICES);
	dd = calloc(1, sizeof(*dd));
	if (!dd || !(dd->dev = calloc(json_object_array_length(arr) + 1, sizeof(*dd->dev)))) {
		free(dd);
		return tmap_error_set(err, -ENOMEM, "out of memory");
	}
	for (i = 0; i < json_object_array_length(arr) && r == 0; i++) {
		struct desc_device *d = &dd->dev[dd->n++];

		r = parse_device(json_object_array_get_idx(arr, i), d, node_ids, nnodes, origin, i,
				 err);
		for (size_t k = 0; k + 1 < dd->n && r == 0; k++)
			if (dd->dev[k].domain == d->domain && dd->dev[k].bus == d->bus &&
			    dd->dev[k].dev == d->dev && dd->dev[k].func == d->func)
				r = BAD(".pci %04x:%02x:%02x.%x appears twice", d->domain, d->bus,
					d->dev, d->func);
	}
	if (r < 0) {
		desc_devices_free(dd);
		return r;
	}
	*ret = dd;
	return 0;
}

static void
write_device(const struct desc_device *d, FILE *out, unsigned *gp)
{
	static const int osdev_type[] = {
		[DEV_OTHER] = 5, [DEV_NETWORK] = 2, [DEV_STORAGE] = 0, [DEV_GPU] = 1,
	};

	fprintf(out, "<object type=\"PCIDev\" gp_index=\"%u\" pci_busid=\"%04x:%02x:%02x.%x\" pci_type=\"%04x [%04x:%04x] [0000:0000] 00\" pci_link_speed=\"0.000000\">\n",
		(*gp)++, d->domain, d->bus, d->dev, d->func, d->class_id, d->vendor, d->device);
	if (d->physfn[0])
		fprintf(out, "<info name=\"SRIOVPhysFn\" value=\"%s\"/>\n", d->physfn);
	for (size_t k = 0; k < d->nnames; k++)
		fprintf(out, "<object type=\"OSDev\" gp_index=\"%u\" name=\"%s\" osdev_type=\"%d\"/>\n",
			(*gp)++, d->names[k], osdev_type[d->cls]);
	fputs("</object>\n", out);
}

/* The devices local to node id (-1: those of unknown locality), each root complex once. */
void
desc_devices_write_xml(struct desc_devices *dd, int node, FILE *out, unsigned *gp)
{
	if (!dd)
		return;
	for (size_t i = 0; i < dd->n; i++) {
		struct desc_device *d = &dd->dev[i];

		if (d->written || d->node != node)
			continue;
		if (!d->has_root) {
			d->written = true;
			write_device(d, out, gp);
			continue;
		}
		fprintf(out, "<object type=\"Bridge\" gp_index=\"%u\" bridge_type=\"0-1\" depth=\"0\" bridge_pci=\"%04x:[%02x-%02x]\">\n",
			(*gp)++, d->root_domain, d->root_first, d->root_last);
		for (size_t k = i; k < dd->n; k++) {
			struct desc_device *e = &dd->dev[k];

			if (e->written || e->node != node || !e->has_root ||
			    e->root_domain != d->root_domain || e->root_first != d->root_first ||
			    e->root_last != d->root_last)
				continue;
			e->written = true;
			write_device(e, out, gp);
		}
		fputs("</object>\n", out);
	}
}
