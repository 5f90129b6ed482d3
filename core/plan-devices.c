/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The devices of a placed guest (issue 16): which host device each request got, for which
 * cell, and whether the cell is local to it. They are part of the plan's JSON contract, so
 * the state keeps them and a device stays held by its guest until it is released:
 *
 *   "devices": [{"pci": "0000:3b:00.0", "names": "eth2", "class": "network", "cell": 0,
 *                "node": 1, "policy": "required", "local": true}]
 */
#include <json-c/json.h>

#include "internal.h"

void
plan_devices_clear(struct plan_guest *pg)
{
	for (unsigned i = 0; pg->devices && i < pg->ndevices; i++) {
		free(pg->devices[i].pci);
		free(pg->devices[i].names);
	}
	free(pg->devices);
	pg->devices = NULL;
	pg->ndevices = 0;
}

int
plan_devices_copy(struct plan_guest *dst, const struct plan_guest *src)
{
	dst->devices = NULL;
	dst->ndevices = 0;
	if (!src->ndevices)
		return 0;
	dst->devices = calloc(src->ndevices, sizeof(*dst->devices));
	if (!dst->devices)
		return -ENOMEM;
	for (unsigned i = 0; i < src->ndevices; i++) {
		struct plan_device *d = &dst->devices[i];

		*d = src->devices[i];
		d->pci = strdup(src->devices[i].pci);
		d->names = strdup(src->devices[i].names);
		dst->ndevices++;
		if (!d->pci || !d->names)
			return -ENOMEM;
	}
	return 0;
}

struct json_object *
plan_devices_json(const struct plan_guest *pg)
{
	struct json_object *arr = json_object_new_array();

	for (unsigned i = 0; arr && i < pg->ndevices; i++) {
		const struct plan_device *d = &pg->devices[i];
		struct json_object *o = json_object_new_object();

		if (!o || json_object_array_add(arr, o) < 0) {
			json_object_put(o);
			json_object_put(arr);
			return NULL;
		}
		json_object_object_add(o, "pci", json_object_new_string(d->pci));
		json_object_object_add(o, "names", json_object_new_string(d->names));
		json_object_object_add(o, "class", json_object_new_string(dev_class_name(d->cls)));
		json_object_object_add(o, "cell", json_object_new_int64(d->cell));
		json_object_object_add(o, "node", d->node >= 0 ? json_object_new_int64(d->node) : NULL);
		json_object_object_add(o, "policy", json_object_new_string(dev_policy_name(d->policy)));
		json_object_object_add(o, "local", json_object_new_boolean(d->local));
	}
	return arr;
}

/* The host nodes (OS indexes) a cell may be on to be local to a device on node index dn, as
 * policy asks: the device's node, or every node of its package for 'socket'. */
static hwloc_bitmap_t
local_nodes(const struct tmap_plan *p, unsigned dn, enum dev_policy policy)
{
	hwloc_bitmap_t nodes = hwloc_bitmap_alloc();
	int pkg = p->host_node_package[dn];

	if (!nodes)
		return NULL;
	hwloc_bitmap_set(nodes, p->host_node_os[dn]);
	for (unsigned n = 0; policy == DEV_SOCKET && pkg >= 0 && n < p->nhost_nodes; n++)
		if (p->host_node_package[n] == pkg)
			hwloc_bitmap_set(nodes, p->host_node_os[n]);
	return nodes;
}

/* "node 0", "nodes 0-1": the host nodes of set, a set of nodes (is_pus false) or of PUs. */
static char *
nodes_text(const struct tmap_plan *p, hwloc_const_bitmap_t set, bool is_pus)
{
	_cleanup_bitmap_ hwloc_bitmap_t nodes = hwloc_bitmap_alloc();
	_cleanup_free_ char *list = NULL;
	char *text = NULL;

	if (!nodes)
		return NULL;
	if (is_pus) {
		for (unsigned n = 0; n < p->nhost_nodes; n++)
			if (hwloc_bitmap_intersects(set, p->host_node_pus[n]))
				hwloc_bitmap_set(nodes, p->host_node_os[n]);
	} else {
		hwloc_bitmap_copy(nodes, set);
	}
	list = bitmap_list(nodes);
	if (!list || asprintf(&text, "%s %s", hwloc_bitmap_weight(nodes) == 1 ? "node" : "nodes",
			      hwloc_bitmap_iszero(nodes) ? "none" : list) < 0)
		return NULL;
	return text;
}

int
plan_device_drift(const struct tmap_plan *p, const struct plan_guest *pg, unsigned i,
		  hwloc_const_bitmap_t pus, hwloc_const_bitmap_t mems, char **ret)
{
	const struct plan_device *d = &pg->devices[i];
	_cleanup_bitmap_ hwloc_bitmap_t nodes = NULL, local = NULL;
	_cleanup_free_ char *have = NULL, *on = NULL;
	char where[64];
	int dn = -1, r;

	*ret = NULL;
	/* Only a cell the plan put local to its device can drift off it. */
	for (unsigned n = 0; d->local && d->node >= 0 && n < p->nhost_nodes; n++)
		if (p->host_node_os[n] == (unsigned)d->node)
			dn = (int)n;
	if (dn < 0)
		return 0;
	nodes = local_nodes(p, (unsigned)dn, d->policy);
	local = hwloc_bitmap_alloc();
	if (!nodes || !local)
		return -ENOMEM;
	for (unsigned n = 0; n < p->nhost_nodes; n++)
		if (hwloc_bitmap_isset(nodes, p->host_node_os[n]))
			hwloc_bitmap_or(local, local, p->host_node_pus[n]);
	if (d->policy == DEV_SOCKET)
		snprintf(where, sizeof(where), "the package of node %d", d->node);
	else
		snprintf(where, sizeof(where), "node %d", d->node);
	if (pus && !hwloc_bitmap_iszero(pus) && !hwloc_bitmap_isincluded(pus, local)) {
		have = bitmap_list(pus);
		on = nodes_text(p, pus, true);
		if (!have || !on)
			return -ENOMEM;
		r = asprintf(ret, "cell %u is no longer local to %s (%s): its vcpus run on %s (%s)",
			     d->cell, d->pci, where, have, on);
	} else if (mems && !hwloc_bitmap_iszero(mems) && !hwloc_bitmap_intersects(mems, nodes)) {
		on = nodes_text(p, mems, false);
		if (!on)
			return -ENOMEM;
		r = asprintf(ret, "cell %u is no longer local to %s (%s): its memory is on %s",
			     d->cell, d->pci, where, on);
	} else {
		return 0;
	}
	if (r < 0) {
		*ret = NULL;
		return -ENOMEM;
	}
	return 0;
}

#define BAD(fmt, ...)                                                                           \
	tmap_error_set(err, -EBADMSG, "state file '%s': %s.devices[%u]: " fmt, path, at, i,     \
		       __VA_ARGS__)

static int
device_from_json(const struct tmap_topology *t, struct json_object *o, const char *path,
		 const char *at, unsigned i, struct plan_device *d, struct tmap_error *err)
{
	struct json_object *pci, *cell, *policy, *local;
	int k, p;

	if (!json_object_is_type(o, json_type_object))
		return BAD("%s", "not an object");
	if (!json_object_object_get_ex(o, "pci", &pci) || !json_object_is_type(pci, json_type_string))
		return BAD("%s", "'pci' is not a string");
	k = devices_find_pci(t, json_object_get_string(pci));
	if (k < 0)
		return BAD("'pci' %.20s is not a device of this host", json_object_get_string(pci));
	if (!json_object_object_get_ex(o, "cell", &cell) || !json_object_is_type(cell, json_type_int) ||
	    json_object_get_int64(cell) < 0 || json_object_get_int64(cell) >= TMAP_MAX_VCPUS)
		return BAD("%s", "'cell' is not a cell number");
	if (!json_object_object_get_ex(o, "policy", &policy) ||
	    !json_object_is_type(policy, json_type_string) ||
	    (p = dev_policy_from_name(json_object_get_string(policy))) < 0)
		return BAD("%s", "'policy' is not one of required, root, socket, preferred");
	if (json_object_object_get_ex(o, "local", &local) &&
	    !json_object_is_type(local, json_type_boolean))
		return BAD("%s", "'local' is not a boolean");
	/* What the host says of the device, not what the file says. */
	d->pci = strdup(t->devices[k].pci);
	d->names = strdup(t->devices[k].names);
	d->cls = t->devices[k].cls;
	d->node = t->devices[k].node >= 0 ? (int)t->nodes[t->devices[k].node].os_index : -1;
	d->cell = (unsigned)json_object_get_int64(cell);
	d->policy = (enum dev_policy)p;
	d->local = local && json_object_get_boolean(local);
	return d->pci && d->names ? 0 : tmap_error_set(err, -ENOMEM, "out of memory");
}

int
plan_devices_from_json(const struct tmap_topology *t, struct json_object *arr, const char *path,
		       const char *at, struct plan_guest *pg, struct tmap_error *err)
{
	size_t n;

	if (!arr)
		return 0;
	n = json_object_array_length(arr);
	if (n > TMAP_MAX_GUEST_DEVICES)
		return tmap_error_set(err, -EBADMSG, "state file '%s': %s.devices holds %zu", path,
				      at, n);
	pg->devices = calloc(n ? n : 1, sizeof(*pg->devices));
	if (!pg->devices)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	for (unsigned i = 0; i < n; i++) {
		int r = device_from_json(t, json_object_array_get_idx(arr, i), path, at, i,
					 &pg->devices[i], err);

		pg->ndevices++;
		if (r < 0)
			return r;
		if (pg->devices[i].cell >= pg->ncells)
			return BAD("'cell' %u is not a cell of the plan", pg->devices[i].cell);
		for (unsigned k = 0; k < i; k++)
			if (streq(pg->devices[k].pci, pg->devices[i].pci))
				return BAD("'pci' %s appears twice", pg->devices[i].pci);
	}
	return 0;
}
