/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The devices a guest asks for (issue 16): which device, how local it must be to which cell.
 *
 *   "devices": [{"pci": "0000:3b:00.0"}, {"net": "eth2", "policy": "root"},
 *               {"vf_of": "eth2", "cell": 1}, {"class": "gpu", "policy": "socket"}]
 *
 * or on the command line, --device pci=0000:3b:00.0,policy=required,cell=1. A request names
 * one device by bus id or OS name, a free VF of a PF (by its name or bus id), or a free device
 * of a class. The policy says where guest cell K (default 0) may go: on the device's node
 * (required, the default), on a node its root complex is local to (root), in its package
 * (socket), or anywhere, the device's node first (preferred).
 */
#include <ctype.h>

#include "internal.h"

static const char *const match_keys[] = {
	[DEV_BY_PCI] = "pci", [DEV_BY_NET] = "net", [DEV_BY_VF_OF] = "vf_of",
	[DEV_BY_CLASS] = "class",
};
static const char *const policy_names[] = {
	[DEV_REQUIRED] = "required", [DEV_ROOT] = "root", [DEV_SOCKET] = "socket",
	[DEV_PREFERRED] = "preferred",
};

const char *
dev_policy_name(enum dev_policy p)
{
	return (unsigned)p < ARRAY_SIZE(policy_names) ? policy_names[p] : "required";
}

int
dev_policy_from_name(const char *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(policy_names); i++)
		if (streq(s, policy_names[i]))
			return (int)i;
	return -1;
}

const char *
dev_match_key(enum dev_match m)
{
	return match_keys[m];
}

void
guest_devices_clear(struct tmap_guest *g)
{
	for (unsigned i = 0; i < g->ndevices; i++)
		free(g->devices[i].value);
	free(g->devices);
	g->devices = NULL;
	g->ndevices = 0;
}

/* A value a device can be named by: a bus id, an interface name, a class. */
static bool
value_valid(enum dev_match by, const char *v)
{
	if (by == DEV_BY_CLASS)
		return dev_class_from_name(v) >= 0;
	if (!*v || strlen(v) > 64)
		return false;
	for (; *v; v++)
		if (!isalnum((unsigned char)*v) && !strchr("_.:-", *v))
			return false;
	return true;
}

static int
add_request(struct tmap_guest *g, enum dev_match by, const char *value, enum dev_policy policy,
	    unsigned cell)
{
	struct guest_device *v;

	if (g->ndevices >= TMAP_MAX_GUEST_DEVICES)
		return -E2BIG;
	v = reallocarray(g->devices, g->ndevices + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	g->devices = v;
	v[g->ndevices] = (struct guest_device){.by = by, .policy = policy, .cell = cell};
	v[g->ndevices].value = strdup(value);
	if (!v[g->ndevices].value)
		return -ENOMEM;
	g->ndevices++;
	return 0;
}

static const char *const what_valid =
	"give one of pci=BUS_ID, net=NAME, vf_of=PF (name or bus id), class=network|storage|gpu|other";

/* One "key=value" of a --device spec, into the request being built. */
static int
spec_item(const char *item, size_t len, int *by, char *value, size_t vsize, int *policy,
	  uint64_t *cell)
{
	const char *eq = memchr(item, '=', len);
	size_t klen = eq ? (size_t)(eq - item) : len, vlen = eq ? len - klen - 1 : 0;
	char v[80];

	if (!eq || vlen == 0 || vlen >= sizeof(v))
		return -EINVAL;
	memcpy(v, eq + 1, vlen);
	v[vlen] = '\0';
	for (size_t k = 0; k < ARRAY_SIZE(match_keys); k++)
		if (strlen(match_keys[k]) == klen && strncmp(item, match_keys[k], klen) == 0) {
			if (*by >= 0 || !value_valid((enum dev_match)k, v))
				return -EINVAL;
			*by = (int)k;
			snprintf(value, vsize, "%s", v);
			return 0;
		}
	if (klen == 6 && strncmp(item, "policy", 6) == 0)
		return (*policy = dev_policy_from_name(v)) < 0 ? -EINVAL : 0;
	if (klen == 4 && strncmp(item, "cell", 4) == 0) {
		char *end;

		errno = 0;
		*cell = strtoull(v, &end, 10);
		return errno || *end || !isdigit((unsigned char)v[0]) || *cell >= TMAP_MAX_VCPUS ?
			       -EINVAL : 0;
	}
	return -EINVAL;
}

int
tmap_guest_add_device(struct tmap_guest *g, const char *spec, struct tmap_error *err)
{
	int by = -1, policy = DEV_REQUIRED, r;
	uint64_t cell = 0;
	char value[80] = "";
	const char *p = spec;

	if (!g || !spec)
		return tmap_error_set(err, -EINVAL, "tmap_guest_add_device: missing argument");
	while (*p) {
		size_t len = strcspn(p, ",");

		if (spec_item(p, len, &by, value, sizeof(value), &policy, &cell) < 0)
			return tmap_error_set(err, -EINVAL,
					      "guest '%s': device '%.80s': '%.*s' is not understood: %s, then policy=required|root|socket|preferred and cell=K",
					      g->name, spec, (int)len, p, what_valid);
		p += len + (p[len] == ',');
	}
	if (by < 0)
		return tmap_error_set(err, -EINVAL, "guest '%s': device '%.80s' names no device: %s",
				      g->name, spec, what_valid);
	r = add_request(g, (enum dev_match)by, value, (enum dev_policy)policy, (unsigned)cell);
	if (r == -E2BIG)
		return tmap_error_set(err, -EINVAL, "guest '%s': more than %d devices", g->name,
				      TMAP_MAX_GUEST_DEVICES);
	return r < 0 ? tmap_error_set(err, r, "out of memory") : 0;
}

#define FIELD_ERR(fmt, ...)                                                                    \
	tmap_error_set(err, -EINVAL, "%s%sguest '%s': field 'devices': " fmt, origin ? origin : "", \
		       origin ? ": " : "", g->name, __VA_ARGS__)

/* One element of "devices": {"net": "eth2", "policy": "root", "cell": 1}. */
static int
device_from_json(struct tmap_guest *g, struct json_object *o, size_t i, const char *origin,
		 struct tmap_error *err)
{
	int by = -1, policy = DEV_REQUIRED, r;
	const char *value = NULL;
	int64_t cell = 0;

	if (!json_object_is_type(o, json_type_object))
		return FIELD_ERR("[%zu] is not an object such as {\"net\": \"eth2\"}", i);
	json_object_object_foreach(o, key, val)
	{
		int k = -1;

		for (size_t m = 0; m < ARRAY_SIZE(match_keys); m++)
			if (streq(key, match_keys[m]))
				k = (int)m;
		if (k >= 0) {
			if (by >= 0)
				return FIELD_ERR("[%zu] names two devices ('%s' and '%s')", i,
						 match_keys[by], key);
			if (!json_object_is_type(val, json_type_string) ||
			    !value_valid((enum dev_match)k, json_object_get_string(val)))
				return FIELD_ERR("[%zu].%s is not %s", i, key,
						 k == DEV_BY_CLASS ? "one of network, storage, gpu, other" :
						 k == DEV_BY_PCI ? "a PCI bus id such as \"0000:3b:00.0\"" :
								   "a device name such as \"eth2\"");
			by = k;
			value = json_object_get_string(val);
		} else if (streq(key, "policy")) {
			if (!json_object_is_type(val, json_type_string) ||
			    (policy = dev_policy_from_name(json_object_get_string(val))) < 0)
				return FIELD_ERR("[%zu].policy is not one of required, root, socket, preferred", i);
		} else if (streq(key, "cell")) {
			cell = json_object_is_type(val, json_type_int) ? json_object_get_int64(val) : -1;
			if (cell < 0 || cell >= TMAP_MAX_VCPUS)
				return FIELD_ERR("[%zu].cell is not a guest cell number", i);
		} else {
			return FIELD_ERR("[%zu]: unknown key '%s' (%s, policy, cell)", i, key,
					 "pci, net, vf_of, class");
		}
	}
	if (by < 0)
		return FIELD_ERR("[%zu] names no device: %s", i, what_valid);
	r = add_request(g, (enum dev_match)by, value, (enum dev_policy)policy, (unsigned)cell);
	if (r == -E2BIG)
		return FIELD_ERR("more than %d devices", TMAP_MAX_GUEST_DEVICES);
	return r < 0 ? tmap_error_set(err, r, "out of memory") : 0;
}

int
guest_devices_from_json(struct tmap_guest *g, struct json_object *arr, const char *origin,
			struct tmap_error *err)
{
	if (!json_object_is_type(arr, json_type_array))
		return FIELD_ERR("%s", "is not an array of devices such as [{\"net\": \"eth2\"}]");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		int r = device_from_json(g, json_object_array_get_idx(arr, i), i, origin, err);

		if (r < 0)
			return r;
	}
	return 0;
}

/* Each request's cell exists; the same named device is not asked for twice. */
int
guest_devices_validate(const struct tmap_guest *g, struct tmap_error *err)
{
	unsigned ncells = g->ncells ? g->ncells : g->cell_count ? g->cell_count : 1;
	const char *origin = g->origin;

	for (unsigned i = 0; i < g->ndevices; i++) {
		const struct guest_device *d = &g->devices[i];

		if (d->cell >= ncells)
			return FIELD_ERR("%s '%s' is for cell %u; the guest has %u cell%s",
					 match_keys[d->by], d->value, d->cell, ncells,
					 ncells == 1 ? "" : "s");
		for (unsigned k = 0; k < i; k++)
			if (d->by != DEV_BY_CLASS && d->by != DEV_BY_VF_OF &&
			    g->devices[k].by == d->by && streq(g->devices[k].value, d->value))
				return FIELD_ERR("%s '%s' is asked for twice", match_keys[d->by],
						 d->value);
	}
	return 0;
}

/* The requests in the guest file format, for the state's spec. */
struct json_object *
guest_devices_to_json(const struct tmap_guest *g)
{
	struct json_object *arr = json_object_new_array();

	for (unsigned i = 0; arr && i < g->ndevices; i++) {
		const struct guest_device *d = &g->devices[i];
		struct json_object *o = json_object_new_object();

		if (!o || json_object_array_add(arr, o) < 0) {
			json_object_put(o);
			json_object_put(arr);
			return NULL;
		}
		json_object_object_add(o, match_keys[d->by], json_object_new_string(d->value));
		json_object_object_add(o, "policy", json_object_new_string(dev_policy_name(d->policy)));
		json_object_object_add(o, "cell", json_object_new_int64(d->cell));
	}
	return arr;
}

size_t
tmap_guest_device_count(const struct tmap_guest *g)
{
	return g ? g->ndevices : 0;
}
