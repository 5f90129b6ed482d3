/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The host devices a running QEMU passes through (issue 16), for describe: every vfio-pci
 * device and the guest NUMA node it sits on.
 *
 * query-pci lists the guest's PCI buses, a pxb-pcie expander's root bus among them (under
 * its bus_nr), each device with its qdev id and the buses behind its bridge. A device is a
 * vfio-pci when its QOM object has a "host" property (the host bus id); an expander is the
 * device whose QOM object has "bus_nr" and "numa_node". A device's guest node is the
 * numa_node of the expander whose bus_nr is the root bus it hangs under; a device on the main
 * root bus has none. QOM reaches a device by id only (/machine/peripheral/ID): a device
 * started without an id is not seen.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "qemu-direct.h"

#define MAX_PCI_DEPTH 8

struct pxb {
	int bus_nr, node;
};

struct walk {
	struct qom_lookup *qom;
	struct qemu *q;
	struct pxb pxbs[64];
	size_t npxbs;
	struct tmap_error *err;
};

/* An integer QOM property of device id, or -1 when it has none. */
static int
qom_int(struct walk *w, const char *id, const char *property)
{
	json_object *v = NULL;
	int r = w->qom->get(w->qom->ctx, id, property, &v);
	int value = -1;

	if (r == 0 && json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 0 &&
	    json_object_get_int64(v) < 65536)
		value = (int)json_object_get_int64(v);
	json_object_put(v);
	return value;
}

static int
add_vfio(struct walk *w, const char *host, int root_bus)
{
	struct qemu_device *v;

	if (strlen(host) >= sizeof(v->host))
		return 0;
	v = realloc(w->q->devices, (w->q->ndevices + 1) * sizeof(*v));
	if (!v)
		return tmap_error_set(w->err, -ENOMEM, "out of memory");
	w->q->devices = v;
	snprintf(v[w->q->ndevices].host, sizeof(v->host), "%s", host);
	v[w->q->ndevices].root_bus = root_bus;
	v[w->q->ndevices].node = -1;
	w->q->ndevices++;
	return 0;
}

/* The devices of one bus, and those behind their bridges; root_bus: the root bus they hang
 * under. */
static int
walk_devices(struct walk *w, json_object *devices, int root_bus, unsigned depth)
{
	if (!json_object_is_type(devices, json_type_array) || depth > MAX_PCI_DEPTH)
		return 0;
	for (size_t i = 0; i < json_object_array_length(devices); i++) {
		json_object *d = json_object_array_get_idx(devices, i), *id, *bridge, *sub;
		const char *qid;
		int r;

		if (json_object_object_get_ex(d, "pci_bridge", &bridge) &&
		    json_object_object_get_ex(bridge, "devices", &sub)) {
			r = walk_devices(w, sub, root_bus, depth + 1);
			if (r < 0)
				return r;
		}
		if (!json_object_object_get_ex(d, "qdev_id", &id) ||
		    !json_object_is_type(id, json_type_string) || !*(qid = json_object_get_string(id)))
			continue;
		{
			json_object *host = NULL;

			r = w->qom->get(w->qom->ctx, qid, "host", &host);
			if (r == 0 && json_object_is_type(host, json_type_string))
				r = add_vfio(w, json_object_get_string(host), root_bus);
			else if (r < 0 && r != -ENOENT)
				r = tmap_error_set(w->err, r, "QMP 'qom-get' of device '%s' failed",
						   qid);
			else
				r = 0;
			json_object_put(host);
			if (r < 0)
				return r;
		}
		if (w->npxbs < sizeof(w->pxbs) / sizeof(w->pxbs[0])) {
			int bus_nr = qom_int(w, qid, "bus_nr"), node = qom_int(w, qid, "numa_node");

			if (bus_nr > 0 && node >= 0)
				w->pxbs[w->npxbs++] = (struct pxb){bus_nr, node};
		}
	}
	return 0;
}

int
qemu_devices_from_pci(json_object *buses, struct qom_lookup *qom, struct qemu *q,
		      struct tmap_error *err)
{
	struct walk w = {.qom = qom, .q = q, .err = err};

	if (!json_object_is_type(buses, json_type_array))
		return tmap_error_set(err, -EBADMSG, "QMP 'query-pci' did not return a list");
	for (size_t i = 0; i < json_object_array_length(buses); i++) {
		json_object *b = json_object_array_get_idx(buses, i), *nr, *devices;
		int r;

		if (!json_object_object_get_ex(b, "bus", &nr) || !json_object_is_type(nr, json_type_int) ||
		    !json_object_object_get_ex(b, "devices", &devices))
			continue;
		r = walk_devices(&w, devices, (int)json_object_get_int64(nr), 0);
		if (r < 0)
			return r;
	}
	for (unsigned i = 0; i < q->ndevices; i++)
		for (size_t k = 0; k < w.npxbs; k++)
			if (w.pxbs[k].bus_nr == q->devices[i].root_bus)
				q->devices[i].node = w.pxbs[k].node;
	return 0;
}

/* QOM through the QMP session: -EREMOTEIO (no such property) is a plain "no". */
static int
qmp_qom_get(void *ctx, const char *id, const char *property, json_object **ret)
{
	struct qmp *qmp = ctx;
	_cleanup_json_ json_object *args = json_object_new_object();
	struct tmap_error err = {0};
	char path[200];
	int r;

	*ret = NULL;
	snprintf(path, sizeof(path), "/machine/peripheral/%s", id);
	if (!args || json_object_object_add(args, "path", json_object_new_string(path)) < 0 ||
	    json_object_object_add(args, "property", json_object_new_string(property)) < 0)
		return -ENOMEM;
	r = qmp_execute_args(qmp, "qom-get", args, ret, &err);
	return r == -EREMOTEIO ? -ENOENT : r;
}

int
qemu_read_devices(struct qmp *qmp, struct qemu *q, struct tmap_error *err)
{
	_cleanup_json_ json_object *buses = NULL;
	struct qom_lookup qom = {.get = qmp_qom_get, .ctx = qmp};
	int r = qmp_execute(qmp, "query-pci", &buses, err);

	if (r == -EOPNOTSUPP || r == -EREMOTEIO) {
		/* a machine without PCI: no devices */
		if (err)
			*err = (struct tmap_error){0};
		return 0;
	}
	if (r < 0)
		return r;
	return qemu_devices_from_pci(buses, &qom, q, err);
}
