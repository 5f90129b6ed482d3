/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The host's PCI devices, as hwloc keeps the important ones (network, storage, GPUs and
 * accelerators, with their OS devices): for each, its bus id, class, ids, OS names, the PF of
 * an SR-IOV VF, its root complex (host bridge) and its locality, the cpuset and nodeset of
 * its first non-I/O ancestor.
 *
 * hwloc attaches a device whose locality the kernel does not know (numa_node -1) to the whole
 * machine: on a host with several nodes it is kept, and said to be of unknown locality.
 * hwloc does not record which PF a VF belongs to: on the live host it is read from sysfs
 * (the physfn link) and kept as the "SRIOVPhysFn" info of the PCI object, which hwloc XML
 * carries, so an exported host keeps it.
 */
#include <limits.h>
#include <unistd.h>

#include "internal.h"

#define PHYSFN_INFO "SRIOVPhysFn"

static const char *const class_names[] = {
	[DEV_OTHER] = "other",
	[DEV_NETWORK] = "network",
	[DEV_STORAGE] = "storage",
	[DEV_GPU] = "gpu",
};

const char *
dev_class_name(enum dev_class c)
{
	return (unsigned)c < ARRAY_SIZE(class_names) ? class_names[c] : "other";
}

int
dev_class_from_name(const char *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(class_names); i++)
		if (streq(s, class_names[i]))
			return (int)i;
	return -1;
}

void
devices_free(struct tmap_topology *t)
{
	for (unsigned i = 0; i < t->ndevices; i++) {
		struct topo_device *d = &t->devices[i];

		free(d->pci);
		free(d->names);
		free(d->physfn);
		free(d->root);
		free(d->nodes_list);
		free(d->cpus_list);
		if (d->nodeset)
			hwloc_bitmap_free(d->nodeset);
		if (d->cpuset)
			hwloc_bitmap_free(d->cpuset);
	}
	free(t->devices);
	t->devices = NULL;
	t->ndevices = 0;
}

/* The class from the PCI class code (base class in the high byte), or from an OS device
 * hwloc recognised (a GPU or coprocessor behind an unusual class code). */
static enum dev_class
class_of(hwloc_obj_t obj)
{
	unsigned base = obj->attr->pcidev.class_id >> 8;

	if (base == 0x02)
		return DEV_NETWORK;
	if (base == 0x01)
		return DEV_STORAGE;
	if (base == 0x03 || base == 0x12)
		return DEV_GPU;
	for (hwloc_obj_t c = obj->io_first_child; c; c = c->next_sibling)
		if (c->type == HWLOC_OBJ_OS_DEVICE &&
		    (osdev_is(c, HWLOC_OBJ_OSDEV_GPU) || osdev_is(c, HWLOC_OBJ_OSDEV_COPROC)))
			return DEV_GPU;
	return DEV_OTHER;
}

/* "eth2,ib0": the names of the device's OS devices. */
static char *
os_names(hwloc_obj_t obj)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	bool first = true;

	if (!out)
		return NULL;
	for (hwloc_obj_t c = obj->io_first_child; c; c = c->next_sibling) {
		if (c->type != HWLOC_OBJ_OS_DEVICE || !c->name || !*c->name)
			continue;
		fprintf(out, "%s%s", first ? "" : ",", c->name);
		first = false;
	}
	if (fclose(out) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* The host bridge above the device, "0000:[3a-3b]" as lstopo prints its buses; "" when the
 * device hangs off a CPU object directly. */
static char *
root_of(hwloc_obj_t obj)
{
	hwloc_obj_t p = obj;
	char *s = NULL;

	while (p->parent && hwloc_obj_type_is_io(p->parent->type))
		p = p->parent;
	if (p->type != HWLOC_OBJ_BRIDGE || p->attr->bridge.downstream_type != HWLOC_OBJ_BRIDGE_PCI)
		return strdup("");
	if (asprintf(&s, "%04x:[%02x-%02x]", (unsigned)p->attr->bridge.downstream.pci.domain,
		     p->attr->bridge.downstream.pci.secondary_bus,
		     p->attr->bridge.downstream.pci.subordinate_bus) < 0)
		return NULL;
	return s;
}

/* The live host: a VF's PF from sysfs, kept on the hwloc object so an export carries it. */
static int
live_physfn(hwloc_obj_t obj, const char *pci)
{
	char path[PATH_MAX], target[PATH_MAX];
	const char *base;
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/physfn", pci);
	n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0)
		return 0;
	target[n] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	return hwloc_obj_add_info(obj, PHYSFN_INFO, base) < 0 ? -ENOMEM : 0;
}

/* Locality: the sets of the first non-I/O ancestor; its one node with PUs, if one. */
static int
device_locality(struct tmap_topology *t, hwloc_obj_t obj, struct topo_device *d)
{
	hwloc_obj_t anc = hwloc_get_non_io_ancestor_obj(t->hw, obj);
	unsigned os;

	d->node = -1;
	d->nodeset = hwloc_bitmap_dup(anc->nodeset);
	d->cpuset = hwloc_bitmap_alloc();
	if (!d->nodeset || !d->cpuset)
		return -ENOMEM;
	hwloc_bitmap_and(d->cpuset, anc->cpuset, t->cpuset);
	d->known = anc->parent != NULL || t->nnodes == 1;
	if (d->known)
		hwloc_bitmap_foreach_begin(os, d->nodeset)
		{
			int n = topo_node_index(t, os);

			if (n < 0 || t->nodes[n].cpuless)
				continue;
			if (d->node >= 0) {
				d->node = -1;
				break;
			}
			d->node = n;
		}
		hwloc_bitmap_foreach_end();
	d->nodes_list = bitmap_list(d->nodeset);
	d->cpus_list = bitmap_list(d->cpuset);
	return d->nodes_list && d->cpus_list ? 0 : -ENOMEM;
}

static int
device_build(struct tmap_topology *t, hwloc_obj_t obj, struct topo_device *d)
{
	const struct hwloc_pcidev_attr_s *a = &obj->attr->pcidev;
	const char *pf;
	int r;

	if (asprintf(&d->pci, "%04x:%02x:%02x.%01x", (unsigned)a->domain, a->bus, a->dev,
		     a->func) < 0) {
		d->pci = NULL;
		return -ENOMEM;
	}
	d->cls = class_of(obj);
	d->class_id = a->class_id;
	d->vendor = a->vendor_id;
	d->device = a->device_id;
	d->pf = -1;
	if (t->live && (r = live_physfn(obj, d->pci)) < 0)
		return r;
	pf = hwloc_obj_get_info_by_name(obj, PHYSFN_INFO);
	if (pf && !(d->physfn = strdup(pf)))
		return -ENOMEM;
	d->names = os_names(obj);
	d->root = root_of(obj);
	if (!d->names || !d->root)
		return -ENOMEM;
	return device_locality(t, obj, d);
}

int
devices_build(struct tmap_topology *t)
{
	hwloc_obj_t obj = NULL;
	unsigned n = 0;
	int r;

	while ((obj = hwloc_get_next_pcidev(t->hw, obj)))
		n++;
	if (!n)
		return 0;
	t->devices = calloc(n, sizeof(*t->devices));
	if (!t->devices)
		return -ENOMEM;
	while ((obj = hwloc_get_next_pcidev(t->hw, obj))) {
		r = device_build(t, obj, &t->devices[t->ndevices++]);
		if (r < 0)
			return r;
	}
	for (unsigned i = 0; i < t->ndevices; i++)
		if (t->devices[i].physfn)
			t->devices[i].pf = devices_find_pci(t, t->devices[i].physfn);
	return 0;
}

int
devices_find_pci(const struct tmap_topology *t, const char *pci)
{
	for (unsigned i = 0; i < t->ndevices; i++)
		if (strcasecmp(t->devices[i].pci, pci) == 0)
			return (int)i;
	return -1;
}

int
devices_find_name(const struct tmap_topology *t, const char *name)
{
	size_t len = strlen(name);

	for (unsigned i = 0; i < t->ndevices; i++) {
		const char *p = t->devices[i].names;

		while (*p) {
			size_t k = strcspn(p, ",");

			if (k == len && strncmp(p, name, len) == 0)
				return (int)i;
			p += k + (p[k] == ',');
		}
	}
	return -1;
}

static void
device_line(const struct tmap_topology *t, const struct topo_device *d, FILE *out)
{
	fprintf(out, "    %s %s [%04x:%04x]", d->pci, dev_class_name(d->cls), d->vendor, d->device);
	if (*d->names)
		fprintf(out, " %s", d->names);
	if (d->physfn)
		fprintf(out, ", VF of %s", d->physfn);
	if (*d->root)
		fprintf(out, ", root complex %s", d->root);
	if (!d->known)
		fprintf(out, ", locality unknown (numa_node -1)");
	else if (d->node < 0)
		fprintf(out, ", local to nodes %s", d->nodes_list);
	(void)t;
	fputc('\n', out);
}

void
devices_format_table(const struct tmap_topology *t, int node, FILE *out)
{
	bool any = false;

	for (unsigned i = 0; i < t->ndevices; i++) {
		const struct topo_device *d = &t->devices[i];

		if (d->node != node)
			continue;
		if (!any)
			fprintf(out, node >= 0 ? "  devices:\n" :
						 "devices local to no single node:\n");
		any = true;
		device_line(t, d, out);
	}
}

/* A JSON string of names we made (bus ids, OS names are [A-Za-z0-9_.:-]), escaped anyway. */
static void
put_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++)
		if (*s == '"' || *s == '\\')
			fprintf(out, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(out, "\\u%04x", (unsigned char)*s);
		else
			fputc(*s, out);
	fputc('"', out);
}

void
devices_format_json(const struct tmap_topology *t, FILE *out)
{
	fputc('[', out);
	for (unsigned i = 0; i < t->ndevices; i++) {
		const struct topo_device *d = &t->devices[i];
		const char *p = d->names;

		fprintf(out, "%s{\"pci\":", i ? "," : "");
		put_string(out, d->pci);
		fprintf(out, ",\"class\":\"%s\",\"class_id\":\"%04x\",\"vendor\":\"%04x\",\"device\":\"%04x\",\"names\":[",
			dev_class_name(d->cls), d->class_id, d->vendor, d->device);
		while (*p) {
			size_t k = strcspn(p, ",");
			_cleanup_free_ char *name = strndup(p, k);

			fprintf(out, "%s", p == d->names ? "" : ",");
			put_string(out, name ? name : "");
			p += k + (p[k] == ',');
		}
		fprintf(out, "],\"physfn\":");
		if (d->physfn)
			put_string(out, d->physfn);
		else
			fputs("null", out);
		fprintf(out, ",\"root\":");
		put_string(out, d->root);
		if (d->node >= 0)
			fprintf(out, ",\"node\":%u", t->nodes[d->node].os_index);
		else
			fputs(",\"node\":null", out);
		fprintf(out, ",\"locality\":\"%s\",\"nodes\":\"%s\",\"cpus\":\"%s\"}",
			d->known ? "known" : "unknown", d->nodes_list, d->cpus_list);
	}
	fputc(']', out);
}

size_t
tmap_topology_device_count(const struct tmap_topology *t)
{
	return t ? t->ndevices : 0;
}

int
tmap_topology_device(const struct tmap_topology *t, size_t index, struct tmap_device_info *ret)
{
	const struct topo_device *d;

	if (!t || !ret || ret->size < sizeof(*ret))
		return -EINVAL;
	if (index >= t->ndevices)
		return -ENOENT;
	d = &t->devices[index];
	*ret = (struct tmap_device_info){
		.size = ret->size,
		.pci = d->pci,
		.device_class = dev_class_name(d->cls),
		.vendor_id = d->vendor,
		.device_id = d->device,
		.names = d->names,
		.physfn = d->physfn,
		.root = d->root,
		.node = d->node >= 0 ? (int)t->nodes[d->node].os_index : -1,
		.locality_known = d->known,
		.nodes = d->nodes_list,
		.cpus = d->cpus_list,
	};
	return 0;
}
