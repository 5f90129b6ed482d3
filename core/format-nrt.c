/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The host and what it holds as a Kubernetes NodeResourceTopology object
 * (topology.node.k8s.io/v1alpha2), the shape topology-aware schedulers read:
 *
 * - one zone per NUMA node, "node-N" (N the OS index), of type "Node", with the node distances
 *   as its costs (to every node, itself included, as the resource-topology-exporter writes
 *   them) when the host reports distances;
 * - per zone, resources "cpu" (PUs), "memory" (bytes of normal memory) and one
 *   "hugepages-<size>" (bytes) per page size of the host, each with capacity (what the node
 *   has), allocatable (capacity less the reserved PUs) and available (what `topomap state`
 *   calls free);
 * - attributes saying how guests are placed and a fingerprint of the allocations.
 *
 * Every number is taken from tmap_host_format()'s JSON, the same text `topomap state
 * --format json` prints, so the two never disagree.
 */
#include <ctype.h>
#include <json-c/json.h>

#include "internal.h"

#define NRT_API_VERSION "topology.node.k8s.io/v1alpha2"
/* Our own fingerprint, in podfingerprint's shape (prefix, version, hex digest), so a reader
 * that only compares for equality treats it alike; its input is guests, not pods. */
#define NRT_FINGERPRINT_PREFIX "tmap0v001"

/* A Kubernetes quantity of KiB: the largest binary suffix that divides it. */
static void
quantity_kib(uint64_t kib, char *buf, size_t size)
{
	static const char *const suffix[] = {"Ki", "Mi", "Gi", "Ti", "Pi"};
	unsigned s = 0;

	if (kib == 0) {
		snprintf(buf, size, "0");
		return;
	}
	while (s + 1 < ARRAY_SIZE(suffix) && kib % 1024 == 0) {
		kib /= 1024;
		s++;
	}
	snprintf(buf, size, "%" PRIu64 "%s", kib, suffix[s]);
}

static int
count_list(const char *list)
{
	_cleanup_bitmap_ hwloc_bitmap_t set = hwloc_bitmap_alloc();

	if (!set)
		return -ENOMEM;
	if (list[0] && hwloc_bitmap_list_sscanf(set, list) < 0)
		return -EINVAL;
	return hwloc_bitmap_weight(set);
}

static const char *
get_str(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	json_object_object_get_ex(o, key, &v);
	return v ? json_object_get_string(v) : "";
}

static int64_t
get_int(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	json_object_object_get_ex(o, key, &v);
	return v ? json_object_get_int64(v) : 0;
}

/* {"name": ..., "value": ...} of a cost (int64) or an attribute (string). */
static int
add_pair(struct json_object *arr, const char *name, struct json_object *value)
{
	struct json_object *o = json_object_new_object();

	if (!o || !value || json_object_object_add(o, "name", json_object_new_string(name)) < 0 ||
	    json_object_object_add(o, "value", value) < 0 || json_object_array_add(arr, o) < 0) {
		json_object_put(o);
		json_object_put(value);
		return -ENOMEM;
	}
	return 0;
}

static int
add_resource(struct json_object *arr, const char *name, const char *capacity,
	     const char *allocatable, const char *available)
{
	struct json_object *o = json_object_new_object();

	if (!o || json_object_object_add(o, "name", json_object_new_string(name)) < 0 ||
	    json_object_object_add(o, "capacity", json_object_new_string(capacity)) < 0 ||
	    json_object_object_add(o, "allocatable", json_object_new_string(allocatable)) < 0 ||
	    json_object_object_add(o, "available", json_object_new_string(available)) < 0 ||
	    json_object_array_add(arr, o) < 0) {
		json_object_put(o);
		return -ENOMEM;
	}
	return 0;
}

/* cpu and memory of one node of the state's JSON. */
static int
zone_cpu_memory(struct json_object *node, struct json_object *res)
{
	int cpus = count_list(get_str(node, "cpus"));
	int reserved = count_list(get_str(node, "reserved"));
	int free_pus = count_list(get_str(node, "free"));
	int64_t mem = get_int(node, "memory_mib"), mem_free = get_int(node, "memory_free_mib");
	char cap[32], alloc[32], avail[32];

	if (cpus < 0 || reserved < 0 || free_pus < 0)
		return cpus < 0 ? cpus : reserved < 0 ? reserved : free_pus;
	snprintf(cap, sizeof(cap), "%d", cpus);
	snprintf(alloc, sizeof(alloc), "%d", cpus - reserved);
	snprintf(avail, sizeof(avail), "%d", free_pus);
	if (add_resource(res, "cpu", cap, alloc, avail) < 0)
		return -ENOMEM;
	/* Shared guests may overcommit memory: nothing is available then, never less. */
	quantity_kib((uint64_t)mem * 1024, cap, sizeof(cap));
	quantity_kib(mem_free > 0 ? (uint64_t)mem_free * 1024 : 0, avail, sizeof(avail));
	return add_resource(res, "memory", cap, cap, avail);
}

/* One "hugepages-<size>" resource per page size of the node. */
static int
zone_hugepages(struct json_object *node, struct json_object *res)
{
	struct json_object *pages = NULL;

	if (!json_object_object_get_ex(node, "hugepages", &pages))
		return 0;
	for (size_t k = 0; k < json_object_array_length(pages); k++) {
		struct json_object *p = json_object_array_get_idx(pages, k);
		uint64_t size = (uint64_t)get_int(p, "size_kib");
		int64_t total = get_int(p, "total"), free_pages = get_int(p, "free");
		char name[48], sz[24], cap[32], avail[32];

		quantity_kib(size, sz, sizeof(sz));
		snprintf(name, sizeof(name), "hugepages-%s", sz);
		quantity_kib((uint64_t)total * size, cap, sizeof(cap));
		quantity_kib(free_pages > 0 ? (uint64_t)free_pages * size : 0, avail, sizeof(avail));
		if (add_resource(res, name, cap, cap, avail) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int
zone_costs(const struct tmap_topology *t, unsigned n, struct json_object *zone)
{
	struct json_object *costs;

	if (tmap_topology_distance(t, n, n) <= 0)
		return 0;	/* the host reports no distances */
	costs = json_object_new_array();
	if (!costs || json_object_object_add(zone, "costs", costs) < 0) {
		json_object_put(costs);
		return -ENOMEM;
	}
	for (unsigned m = 0; m < t->nnodes; m++) {
		char name[24];

		snprintf(name, sizeof(name), "node-%u", t->nodes[m].os_index);
		if (add_pair(costs, name, json_object_new_int64(tmap_topology_distance(t, n, m))) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int
build_zone(const struct tmap_topology *t, unsigned n, struct json_object *node,
	   struct json_object *zones)
{
	struct json_object *zone = json_object_new_object(), *res = json_object_new_array();
	struct json_object *attrs = json_object_new_array();
	char name[24];
	int r = -ENOMEM;

	snprintf(name, sizeof(name), "node-%u", t->nodes[n].os_index);
	if (!zone || !res || !attrs || json_object_array_add(zones, zone) < 0) {
		json_object_put(zone);
		goto out;
	}
	if (json_object_object_add(zone, "name", json_object_new_string(name)) < 0 ||
	    json_object_object_add(zone, "type", json_object_new_string("Node")) < 0)
		goto out;
	r = zone_costs(t, n, zone);
	if (r < 0)
		goto out;
	/* The PUs by OS index, as every other output of topomap names them. */
	r = add_pair(attrs, "cpus", json_object_new_string(get_str(node, "cpus")));
	if (r == 0)
		r = add_pair(attrs, "freeCpus", json_object_new_string(get_str(node, "free")));
	if (r == 0)
		r = add_pair(attrs, "reservedCpus", json_object_new_string(get_str(node, "reserved")));
	if (r == 0)
		r = zone_cpu_memory(node, res);
	if (r == 0)
		r = zone_hugepages(node, res);
	if (r < 0)
		goto out;
	json_object_object_add(zone, "attributes", attrs);
	json_object_object_add(zone, "resources", res);
	return 0;
out:
	json_object_put(res);
	json_object_put(attrs);
	return r;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * FNV-1a (64 bits) over each guest's allocation (name, held PUs, page size, memory per node,
 * as the state's JSON gives them), in the order of the names: the same allocations give the
 * same fingerprint, whatever order they were made in; any change of one gives another.
 */
static int
fingerprint(struct json_object *guests, char *buf, size_t size)
{
	size_t n = json_object_array_length(guests);
	const char **text = calloc(n ? n : 1, sizeof(*text));
	uint64_t h = UINT64_C(14695981039346656037);

	if (!text)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		text[i] = json_object_to_json_string_ext(json_object_array_get_idx(guests, i),
							 JSON_C_TO_STRING_PLAIN);
	qsort(text, n, sizeof(*text), cmp_str);
	for (size_t i = 0; i < n; i++) {
		for (const unsigned char *p = (const unsigned char *)text[i]; *p; p++)
			h = (h ^ *p) * UINT64_C(1099511628211);
		h = (h ^ '\n') * UINT64_C(1099511628211);
	}
	free(text);
	snprintf(buf, size, "%s%016" PRIx64, NRT_FINGERPRINT_PREFIX, h);
	return 0;
}

static int
add_attributes(struct json_object *root, struct json_object *state)
{
	struct json_object *attrs = json_object_new_array(), *guests = NULL;
	char fp[48], num[32];
	int r;

	if (!attrs || json_object_object_add(root, "attributes", attrs) < 0) {
		json_object_put(attrs);
		return -ENOMEM;
	}
	json_object_object_get_ex(state, "guests", &guests);
	/*
	 * In kubelet's words: a guest is placed whole (its cells on nodes, each cell on one) or
	 * refused, and a guest without cells that no node can hold is spread over nodes, as
	 * best-effort admits what it cannot align; the unit is the guest, as the pod is for
	 * scope "pod".
	 */
	r = add_pair(attrs, "topologyManagerPolicy", json_object_new_string("best-effort"));
	if (r == 0)
		r = add_pair(attrs, "topologyManagerScope", json_object_new_string("pod"));
	snprintf(num, sizeof(num), "%g", json_object_get_double(json_object_object_get(state,
										      "cpu_overcommit")));
	if (r == 0)
		r = add_pair(attrs, "topomapCpuOvercommit", json_object_new_string(num));
	snprintf(num, sizeof(num), "%zu", json_object_array_length(guests));
	if (r == 0)
		r = add_pair(attrs, "topomapGuests", json_object_new_string(num));
	if (r == 0)
		r = fingerprint(guests, fp, sizeof(fp));
	if (r == 0)
		r = add_pair(attrs, "topomapAllocationsFingerprint", json_object_new_string(fp));
	return r;
}

static int
build_nrt(const struct tmap_topology *t, struct json_object *state, const char *node_name,
	  struct json_object *root)
{
	struct json_object *meta = json_object_new_object(), *zones = json_object_new_array();
	struct json_object *policies = json_object_new_array(), *nodes = NULL;
	int r;

	if (json_object_object_add(root, "apiVersion", json_object_new_string(NRT_API_VERSION)) < 0 ||
	    json_object_object_add(root, "kind", json_object_new_string("NodeResourceTopology")) < 0 ||
	    !meta || json_object_object_add(root, "metadata", meta) < 0) {
		json_object_put(meta);
		json_object_put(zones);
		json_object_put(policies);
		return -ENOMEM;
	}
	json_object_object_add(meta, "name", json_object_new_string(node_name));
	/* Deprecated, yet required by v1alpha2: the same policy as the attributes. */
	json_object_array_add(policies, json_object_new_string("BestEffortPodLevel"));
	json_object_object_add(root, "topologyPolicies", policies);
	json_object_object_add(root, "zones", zones);
	if (!json_object_object_get_ex(state, "nodes", &nodes) ||
	    json_object_array_length(nodes) != t->nnodes)
		return -EINVAL;
	for (unsigned n = 0; n < t->nnodes; n++) {
		r = build_zone(t, n, json_object_array_get_idx(nodes, n), zones);
		if (r < 0)
			return r;
	}
	return add_attributes(root, state);
}

/* A DNS subdomain name (RFC 1123), as Kubernetes wants of an object's name. */
static bool
valid_object_name(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 253 || !isalnum((unsigned char)s[0]) ||
	    !isalnum((unsigned char)s[len - 1]))
		return false;
	for (const char *p = s; *p; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-' ||
		      *p == '.'))
			return false;
	return true;
}

int
tmap_host_format_nrt(const struct tmap_host *host, const char *node_name, unsigned flags,
		     char **ret, struct tmap_error *err)
{
	_cleanup_free_ char *text = NULL;
	struct json_object *state = NULL, *root = NULL;
	char *out = NULL;
	int r;

	if (!host || !node_name || !ret)
		return tmap_error_set(err, -EINVAL, "tmap_host_format_nrt: missing argument");
	if (flags)
		return tmap_error_set(err, -EINVAL, "tmap_host_format_nrt: unknown flags 0x%x",
				      flags);
	if (!valid_object_name(node_name))
		return tmap_error_set(err, -EINVAL,
				      "node name '%s' is not a Kubernetes object name (lowercase letters, digits, '-' and '.', at most 253)",
				      node_name);
	r = tmap_host_format(host, TMAP_FORMAT_JSON, 0, &text, err);
	if (r < 0)
		return r;
	state = json_tokener_parse(text);
	root = json_object_new_object();
	r = state && root ? build_nrt(host_topology(host), state, node_name, root) : -ENOMEM;
	if (r == 0 && asprintf(&out, "%s\n", json_object_to_json_string_ext(root,
			JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)) < 0)
		out = NULL;
	json_object_put(state);
	json_object_put(root);
	if (r == 0 && !out)
		r = -ENOMEM;
	if (r < 0)
		return tmap_error_set(err, r, "cannot describe the host as a NodeResourceTopology: %s",
				      strerror(-r));
	*ret = out;
	return 0;
}
