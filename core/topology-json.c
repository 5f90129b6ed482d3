/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A host described in JSON, the shape `topomap topology --format json` prints and the peers'
 * neutral workloads use:
 *
 *   {"nodes": [{"id": 0, "memory_mib": 65536, "socket": 0, "cores": [[0, 12], [1, 13]],
 *               "hugepages": [{"size_kib": 1048576, "count": 16}]}],
 *    "distances": [[10, 21], [21, 10]]}
 *
 * memory_mib is the node's normal memory; the hugepage pools come on top of it, as hwloc's
 * local_memory (MemTotal) holds both.
 *
 * It is turned into an hwloc XML document and loaded by hwloc like any exported host, so the
 * rest of topomap sees no difference. A node without cores is a memory-only node.
 *
 * A node in no package says "socket": null: its cores hang off the node itself, or, when it
 * spans packages (one node over two sockets, as libvirt reports a host with NUMA off), its
 * "core_sockets" give each core's package, in the order of "cores". Such a node's packages
 * hold none of the other nodes' cores.
 */
#include <json-c/json.h>

#include "internal.h"

#define MAX_PAGE_SIZES 8

struct desc_pages {
	uint64_t size_kib, count;
};

/* desc_node.socket of a node in no package */
#define NO_SOCKET UINT_MAX

struct desc_node {
	unsigned id, socket;
	unsigned *core_sockets;	/* per core, for a node in no package; or NULL */
	uint64_t memory_mib;
	size_t npages;
	struct desc_pages pages[MAX_PAGE_SIZES];
	size_t ncores;
	hwloc_bitmap_t *cores;	/* PU sets */
	hwloc_bitmap_t cpus;
};

struct desc {
	const char *origin;
	size_t nnodes;
	struct desc_node *nodes;
	unsigned *distances;	/* nnodes x nnodes, or NULL */
	struct desc_devices *devices; /* or NULL */
	struct tmap_error *err;
};

static void
desc_clear(struct desc *d)
{
	for (size_t i = 0; i < d->nnodes; i++) {
		for (size_t c = 0; c < d->nodes[i].ncores; c++)
			hwloc_bitmap_free(d->nodes[i].cores[c]);
		free(d->nodes[i].cores);
		free(d->nodes[i].core_sockets);
		if (d->nodes[i].cpus)
			hwloc_bitmap_free(d->nodes[i].cpus);
	}
	free(d->nodes);
	free(d->distances);
	desc_devices_free(d->devices);
}

static int
get_uint(struct desc *d, struct json_object *o, const char *what, uint64_t max, uint64_t *ret)
{
	int64_t v;

	if (!o || !json_object_is_type(o, json_type_int))
		return tmap_error_set(d->err, -EINVAL, "%s: %s is not an integer", d->origin, what);
	v = json_object_get_int64(o);
	if (v < 0 || (uint64_t)v > max)
		return tmap_error_set(d->err, -EINVAL, "%s: %s %" PRId64 " is out of range",
				      d->origin, what, v);
	*ret = (uint64_t)v;
	return 0;
}

/* "hugepages": [{"size_kib": 2048, "count": 512}, ...]: the node's pools. */
static int
parse_hugepages(struct desc *d, struct json_object *arr, size_t i, struct desc_node *n)
{
	char what[96];
	int r;

	if (!json_object_is_type(arr, json_type_array) ||
	    json_object_array_length(arr) > MAX_PAGE_SIZES)
		return tmap_error_set(d->err, -EINVAL,
				      "%s: nodes[%zu].hugepages is not an array of at most %d pools",
				      d->origin, i, MAX_PAGE_SIZES);
	n->npages = json_object_array_length(arr);
	for (size_t k = 0; k < n->npages; k++) {
		struct json_object *pool = json_object_array_get_idx(arr, k), *v;
		struct desc_pages *p = &n->pages[k];

		if (!json_object_is_type(pool, json_type_object))
			return tmap_error_set(d->err, -EINVAL,
					      "%s: nodes[%zu].hugepages[%zu] is not an object",
					      d->origin, i, k);
		snprintf(what, sizeof(what), "nodes[%zu].hugepages[%zu].size_kib", i, k);
		r = get_uint(d, json_object_object_get_ex(pool, "size_kib", &v) ? v : NULL, what,
			     UINT64_C(1) << 30, &p->size_kib);
		if (r < 0)
			return r;
		if (p->size_kib < 8 || (p->size_kib & (p->size_kib - 1)))
			return tmap_error_set(d->err, -EINVAL,
					      "%s: %s %" PRIu64 " is not a page size (a power of two, 8 KiB or more)",
					      d->origin, what, p->size_kib);
		for (size_t j = 0; j < k; j++)
			if (n->pages[j].size_kib == p->size_kib)
				return tmap_error_set(d->err, -EINVAL,
						      "%s: %s %" PRIu64 " appears twice",
						      d->origin, what, p->size_kib);
		snprintf(what, sizeof(what), "nodes[%zu].hugepages[%zu].count", i, k);
		r = get_uint(d, json_object_object_get_ex(pool, "count", &v) ? v : NULL, what,
			     (TMAP_MAX_MEMORY_MIB << 10) / p->size_kib, &p->count);
		if (r < 0)
			return r;
	}
	return 0;
}

/* "core_sockets": [0, 0, 1, 1]: the package of each core of a node in no package. */
static int
parse_core_sockets(struct desc *d, struct json_object *arr, size_t i, struct desc_node *n)
{
	char what[96];
	uint64_t x;
	int r;

	if (n->socket != NO_SOCKET || !json_object_is_type(arr, json_type_array) ||
	    json_object_array_length(arr) != n->ncores)
		return tmap_error_set(d->err, -EINVAL,
				      "%s: nodes[%zu].core_sockets is not one package per core of a node whose socket is null",
				      d->origin, i);
	n->core_sockets = calloc(n->ncores ? n->ncores : 1, sizeof(*n->core_sockets));
	if (!n->core_sockets)
		return -ENOMEM;
	for (size_t c = 0; c < n->ncores; c++) {
		snprintf(what, sizeof(what), "nodes[%zu].core_sockets[%zu]", i, c);
		r = get_uint(d, json_object_array_get_idx(arr, c), what, TOPOLOGY_MAX_NODES - 1, &x);
		if (r < 0)
			return r;
		n->core_sockets[c] = (unsigned)x;
	}
	return 0;
}

/* Does a node other than `self` hold cores of package s? */
static bool
socket_taken(const struct desc *d, size_t self, unsigned s)
{
	for (size_t j = 0; j < d->nnodes; j++) {
		const struct desc_node *m = &d->nodes[j];

		if (j == self || hwloc_bitmap_iszero(m->cpus))
			continue;
		if (m->socket == s)
			return true;
		for (size_t c = 0; m->core_sockets && c < m->ncores; c++)
			if (m->core_sockets[c] == s)
				return true;
	}
	return false;
}

static int
parse_node(struct desc *d, struct json_object *o, size_t i, hwloc_bitmap_t all)
{
	struct desc_node *n = &d->nodes[i];
	struct json_object *v, *cores;
	char what[96];
	uint64_t x;
	int r;

	if (!json_object_is_type(o, json_type_object))
		return tmap_error_set(d->err, -EINVAL, "%s: nodes[%zu] is not an object", d->origin,
				      i);
	snprintf(what, sizeof(what), "nodes[%zu].id", i);
	r = get_uint(d, json_object_object_get_ex(o, "id", &v) ? v : NULL, what,
		     TOPOLOGY_MAX_NODES - 1, &x);
	if (r < 0)
		return r;
	n->id = (unsigned)x;
	snprintf(what, sizeof(what), "nodes[%zu].memory_mib", i);
	r = get_uint(d, json_object_object_get_ex(o, "memory_mib", &v) ? v : NULL, what,
		     TMAP_MAX_MEMORY_MIB, &n->memory_mib);
	if (r < 0)
		return r;
	/* "socket" in the peers' workloads, "package" in what `topomap topology` prints; null
	 * for a node in no package. */
	if (json_object_object_get_ex(o, "socket", &v) ||
	    json_object_object_get_ex(o, "package", &v)) {
		snprintf(what, sizeof(what), "nodes[%zu].socket", i);
		r = json_object_is_type(v, json_type_null) ? 0 : get_uint(d, v, what, TOPOLOGY_MAX_NODES - 1, &x);
		if (r < 0)
			return r;
		n->socket = json_object_is_type(v, json_type_null) ? NO_SOCKET : (unsigned)x;
	}
	if (json_object_object_get_ex(o, "hugepages", &v) &&
	    !json_object_is_type(v, json_type_null)) {
		r = parse_hugepages(d, v, i, n);
		if (r < 0)
			return r;
	}
	n->cpus = hwloc_bitmap_alloc();
	if (!n->cpus)
		return -ENOMEM;
	if (!json_object_object_get_ex(o, "cores", &cores))
		return 0; /* memory only */
	if (!json_object_is_type(cores, json_type_array))
		return tmap_error_set(d->err, -EINVAL, "%s: nodes[%zu].cores is not an array",
				      d->origin, i);
	n->ncores = json_object_array_length(cores);
	n->cores = calloc(n->ncores ? n->ncores : 1, sizeof(*n->cores));
	if (!n->cores)
		return -ENOMEM;
	for (size_t c = 0; c < n->ncores; c++) {
		struct json_object *core = json_object_array_get_idx(cores, c);
		size_t npus = json_object_is_type(core, json_type_array) ?
				      json_object_array_length(core) : 0;

		if (npus == 0)
			return tmap_error_set(d->err, -EINVAL,
					      "%s: nodes[%zu].cores[%zu] is not a list of PUs",
					      d->origin, i, c);
		n->cores[c] = hwloc_bitmap_alloc();
		if (!n->cores[c])
			return -ENOMEM;
		for (size_t k = 0; k < npus; k++) {
			snprintf(what, sizeof(what), "nodes[%zu].cores[%zu][%zu]", i, c, k);
			r = get_uint(d, json_object_array_get_idx(core, k), what,
				     TOPOLOGY_MAX_PU - 1, &x);
			if (r < 0)
				return r;
			if (hwloc_bitmap_isset(all, (unsigned)x))
				return tmap_error_set(d->err, -EINVAL, "%s: PU %" PRIu64 " appears twice",
						      d->origin, x);
			hwloc_bitmap_set(all, (unsigned)x);
			hwloc_bitmap_set(n->cores[c], (unsigned)x);
			hwloc_bitmap_set(n->cpus, (unsigned)x);
		}
	}
	if (json_object_object_get_ex(o, "core_sockets", &v) &&
	    !json_object_is_type(v, json_type_null))
		return parse_core_sockets(d, v, i, n);
	return 0;
}

static int
parse_desc(struct desc *d, struct json_object *root)
{
	_cleanup_bitmap_ hwloc_bitmap_t all = hwloc_bitmap_alloc();
	struct json_object *nodes, *dist;
	size_t n;
	int r;

	if (!all)
		return -ENOMEM;
	if (!json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "nodes", &nodes) ||
	    !json_object_is_type(nodes, json_type_array))
		return tmap_error_set(d->err, -EINVAL, "%s: a host is an object with a \"nodes\" array",
				      d->origin);
	n = json_object_array_length(nodes);
	if (n == 0 || n > TOPOLOGY_MAX_NODES)
		return tmap_error_set(d->err, -EINVAL, "%s: a host has 1 to %d nodes, not %zu",
				      d->origin, TOPOLOGY_MAX_NODES, n);
	/* nnodes counts what desc_clear() may walk: only once the nodes exist. */
	d->nodes = calloc(n, sizeof(*d->nodes));
	if (!d->nodes)
		return -ENOMEM;
	d->nnodes = n;
	for (size_t i = 0; i < d->nnodes; i++) {
		r = parse_node(d, json_object_array_get_idx(nodes, i), i, all);
		if (r < 0)
			return r;
		for (size_t j = 0; j < i; j++)
			if (d->nodes[j].id == d->nodes[i].id)
				return tmap_error_set(d->err, -EINVAL, "%s: node id %u appears twice",
						      d->origin, d->nodes[i].id);
	}
	if (hwloc_bitmap_iszero(all))
		return tmap_error_set(d->err, -EINVAL, "%s: the host has no PU", d->origin);
	for (size_t i = 0; i < d->nnodes; i++)
		for (size_t c = 0; d->nodes[i].core_sockets && c < d->nodes[i].ncores; c++)
			if (socket_taken(d, i, d->nodes[i].core_sockets[c]))
				return tmap_error_set(d->err, -EINVAL,
						      "%s: nodes[%zu].core_sockets: package %u holds cores of another node too",
						      d->origin, i, d->nodes[i].core_sockets[c]);
	if (json_object_object_get_ex(root, "devices", &dist) &&
	    !json_object_is_type(dist, json_type_null)) {
		_cleanup_free_ unsigned *ids = calloc(d->nnodes, sizeof(*ids));
		size_t nids = 0;

		if (!ids)
			return -ENOMEM;
		/* A device is local to a node with PUs; one of a memory-only node would hang
		 * off the machine, which is what an unknown locality is. */
		for (size_t i = 0; i < d->nnodes; i++)
			if (!hwloc_bitmap_iszero(d->nodes[i].cpus))
				ids[nids++] = d->nodes[i].id;
		r = desc_devices_parse(dist, ids, nids, d->origin, &d->devices, d->err);
		if (r < 0)
			return r;
	}
	if (!json_object_object_get_ex(root, "distances", &dist) ||
	    json_object_is_type(dist, json_type_null))
		return 0;
	if (!json_object_is_type(dist, json_type_array) ||
	    json_object_array_length(dist) != d->nnodes)
		return tmap_error_set(d->err, -EINVAL,
				      "%s: distances must be a %zu x %zu matrix, in the order of nodes",
				      d->origin, d->nnodes, d->nnodes);
	d->distances = calloc(d->nnodes * d->nnodes, sizeof(*d->distances));
	if (!d->distances)
		return -ENOMEM;
	for (size_t i = 0; i < d->nnodes; i++) {
		struct json_object *row = json_object_array_get_idx(dist, i);

		if (!json_object_is_type(row, json_type_array) ||
		    json_object_array_length(row) != d->nnodes)
			return tmap_error_set(d->err, -EINVAL,
					      "%s: distances must be a %zu x %zu matrix",
					      d->origin, d->nnodes, d->nnodes);
		for (size_t j = 0; j < d->nnodes; j++) {
			uint64_t v;
			char what[64];

			snprintf(what, sizeof(what), "distances[%zu][%zu]", i, j);
			r = get_uint(d, json_object_array_get_idx(row, j), what, 100000, &v);
			if (r < 0)
				return r;
			d->distances[i * d->nnodes + j] = (unsigned)v;
		}
	}
	return 0;
}

/* hwloc's XML spells sets as its own hex bitmaps. */
static void
put_set(FILE *out, const char *attr, hwloc_const_bitmap_t set)
{
	char *s = NULL;

	if (hwloc_bitmap_asprintf(&s, set) < 0) {
		fprintf(out, " %s=\"0x0\"", attr);
		return;
	}
	fprintf(out, " %s=\"%s\"", attr, s);
	free(s);
}

static void
put_sets(FILE *out, hwloc_const_bitmap_t cpus, hwloc_const_bitmap_t nodes)
{
	put_set(out, "cpuset", cpus);
	put_set(out, "complete_cpuset", cpus);
	put_set(out, "nodeset", nodes);
	put_set(out, "complete_nodeset", nodes);
}

/* The end of a NUMANode element: its memory (normal and pools, as hwloc's local_memory
 * counts them) and a page_type per pool. */
static void
put_node_memory(FILE *out, const struct desc_node *n)
{
	uint64_t bytes = n->memory_mib << 20;

	for (size_t k = 0; k < n->npages; k++)
		bytes += n->pages[k].count * (n->pages[k].size_kib << 10);
	fprintf(out, " local_memory=\"%" PRIu64 "\"", bytes);
	if (n->npages == 0) {
		fputs("/>\n", out);
		return;
	}
	/* The base page first, as hwloc lists it: what tells it from the pools. */
	fprintf(out, ">\n<page_type size=\"4096\" count=\"%" PRIu64 "\"/>\n", n->memory_mib << 8);
	for (size_t k = 0; k < n->npages; k++)
		fprintf(out, "<page_type size=\"%" PRIu64 "\" count=\"%" PRIu64 "\"/>\n",
			n->pages[k].size_kib << 10, n->pages[k].count);
	fputs("</object>\n", out);
}

/* One core and its PUs; `pu` is scratch. */
static void
put_core(FILE *out, hwloc_const_bitmap_t core, hwloc_const_bitmap_t one, hwloc_bitmap_t pu,
	 unsigned *gp)
{
	unsigned i;

	fprintf(out, "<object type=\"Core\" os_index=\"%u\"", (unsigned)hwloc_bitmap_first(core));
	put_sets(out, core, one);
	fprintf(out, " gp_index=\"%u\">\n", (*gp)++);
	hwloc_bitmap_foreach_begin(i, core)
	{
		hwloc_bitmap_only(pu, i);
		fprintf(out, "<object type=\"PU\" os_index=\"%u\"", i);
		put_sets(out, pu, one);
		fprintf(out, " gp_index=\"%u\"/>\n", (*gp)++);
	}
	hwloc_bitmap_foreach_end();
	fputs("</object>\n", out);
}

/* The cores of a node in no package that its core_sockets put in package s. */
static int
put_package_of_node(FILE *out, const struct desc_node *n, unsigned s, hwloc_const_bitmap_t one,
		    unsigned *gp)
{
	_cleanup_bitmap_ hwloc_bitmap_t cpus = hwloc_bitmap_alloc(), pu = hwloc_bitmap_alloc();

	if (!cpus || !pu)
		return -ENOMEM;
	for (size_t c = 0; c < n->ncores; c++)
		if (n->core_sockets[c] == s)
			hwloc_bitmap_or(cpus, cpus, n->cores[c]);
	fprintf(out, "<object type=\"Package\" os_index=\"%u\"", s);
	put_sets(out, cpus, one);
	fprintf(out, " gp_index=\"%u\">\n", (*gp)++);
	for (size_t c = 0; c < n->ncores; c++)
		if (n->core_sockets[c] == s)
			put_core(out, n->cores[c], one, pu, gp);
	fputs("</object>\n", out);
	return 0;
}

/* A node with PUs: the node as memory child, its cores (in their packages for a node over
 * several) and its devices, in a group of their own unless the node is its package's only
 * one. (A group under some packages and above others would put packages at two depths.) */
static int
put_node(const struct desc *d, const struct desc_node *n, bool group, FILE *out, unsigned *gp)
{
	_cleanup_bitmap_ hwloc_bitmap_t one = hwloc_bitmap_alloc(), pu = hwloc_bitmap_alloc();

	if (!one || !pu)
		return -ENOMEM;
	hwloc_bitmap_only(one, n->id);
	if (group) {
		fprintf(out, "<object type=\"Group\"");
		put_sets(out, n->cpus, one);
		fprintf(out, " gp_index=\"%u\">\n", (*gp)++);
	}
	fprintf(out, "<object type=\"NUMANode\" os_index=\"%u\"", n->id);
	put_sets(out, n->cpus, one);
	fprintf(out, " gp_index=\"%u\"", (*gp)++);
	put_node_memory(out, n);
	for (size_t c = 0; c < n->ncores; c++) {
		bool first = true;

		if (!n->core_sockets) {
			put_core(out, n->cores[c], one, pu, gp);
			continue;
		}
		for (size_t k = 0; k < c && first; k++)
			first = n->core_sockets[k] != n->core_sockets[c];
		if (first && put_package_of_node(out, n, n->core_sockets[c], one, gp) < 0)
			return -ENOMEM;
	}
	desc_devices_write_xml(d->devices, (int)n->id, out, gp);
	if (group)
		fputs("</object>\n", out);
	return 0;
}

static int
write_xml(const struct desc *d, FILE *out)
{
	_cleanup_bitmap_ hwloc_bitmap_t cpus = hwloc_bitmap_alloc(), nodes = hwloc_bitmap_alloc();
	_cleanup_bitmap_ hwloc_bitmap_t pcpus = hwloc_bitmap_alloc(), pnodes = hwloc_bitmap_alloc();
	_cleanup_bitmap_ hwloc_bitmap_t one = hwloc_bitmap_alloc();
	unsigned gp = 1, max_socket = 0;

	if (!cpus || !nodes || !pcpus || !pnodes || !one)
		return -ENOMEM;
	for (size_t i = 0; i < d->nnodes; i++) {
		hwloc_bitmap_or(cpus, cpus, d->nodes[i].cpus);
		hwloc_bitmap_set(nodes, d->nodes[i].id);
		if (d->nodes[i].socket != NO_SOCKET && d->nodes[i].socket > max_socket)
			max_socket = d->nodes[i].socket;
	}
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE topology SYSTEM \"hwloc2.dtd\">\n"
	      "<topology version=\"2.0\">\n<object type=\"Machine\" os_index=\"0\"", out);
	put_sets(out, cpus, nodes);
	put_set(out, "allowed_cpuset", cpus);
	put_set(out, "allowed_nodeset", nodes);
	fprintf(out, " gp_index=\"%u\">\n", gp++);
	/* Memory-only nodes hang off the machine: their locality is everything. */
	for (size_t i = 0; i < d->nnodes; i++) {
		if (!hwloc_bitmap_iszero(d->nodes[i].cpus))
			continue;
		hwloc_bitmap_only(one, d->nodes[i].id);
		fprintf(out, "<object type=\"NUMANode\" os_index=\"%u\"", d->nodes[i].id);
		put_sets(out, cpus, one);
		fprintf(out, " gp_index=\"%u\"", gp++);
		put_node_memory(out, &d->nodes[i]);
	}
	desc_devices_write_xml(d->devices, -1, out, &gp);
	/* Nodes in no package hang off the machine too. */
	for (size_t i = 0; i < d->nnodes; i++)
		if (d->nodes[i].socket == NO_SOCKET && !hwloc_bitmap_iszero(d->nodes[i].cpus) &&
		    put_node(d, &d->nodes[i], true, out, &gp) < 0)
			return -ENOMEM;
	for (unsigned s = 0; s <= max_socket; s++) {
		hwloc_bitmap_zero(pcpus);
		hwloc_bitmap_zero(pnodes);
		for (size_t i = 0; i < d->nnodes; i++)
			if (d->nodes[i].socket == s && !hwloc_bitmap_iszero(d->nodes[i].cpus)) {
				hwloc_bitmap_or(pcpus, pcpus, d->nodes[i].cpus);
				hwloc_bitmap_set(pnodes, d->nodes[i].id);
			}
		if (hwloc_bitmap_iszero(pcpus))
			continue;
		fprintf(out, "<object type=\"Package\" os_index=\"%u\"", s);
		put_sets(out, pcpus, pnodes);
		fprintf(out, " gp_index=\"%u\">\n", gp++);
		for (size_t i = 0; i < d->nnodes; i++)
			if (d->nodes[i].socket == s && !hwloc_bitmap_iszero(d->nodes[i].cpus) &&
			    put_node(d, &d->nodes[i], hwloc_bitmap_weight(pnodes) > 1, out, &gp) < 0)
				return -ENOMEM;
		fputs("</object>\n", out);
	}
	fputs("</object>\n", out);
	if (d->distances) {
		_cleanup_free_ char *ids = NULL, *values = NULL;
		size_t ids_len = 0, values_len = 0;
		FILE *f;

		/* hwloc checks each list's length in characters. */
		f = open_memstream(&ids, &ids_len);
		if (!f)
			return -ENOMEM;
		for (size_t i = 0; i < d->nnodes; i++)
			fprintf(f, "%u ", d->nodes[i].id);
		if (fclose(f) != 0)
			return -ENOMEM;
		f = open_memstream(&values, &values_len);
		if (!f)
			return -ENOMEM;
		for (size_t i = 0; i < d->nnodes * d->nnodes; i++)
			fprintf(f, "%u ", d->distances[i]);
		if (fclose(f) != 0)
			return -ENOMEM;
		fprintf(out, "<distances2 type=\"NUMANode\" nbobjs=\"%zu\" kind=\"5\" name=\"NUMALatency\" indexing=\"os\">\n"
			"<indexes length=\"%zu\">%s</indexes>\n<u64values length=\"%zu\">%s</u64values>\n"
			"</distances2>\n",
			d->nnodes, ids_len, ids, values_len, values);
	}
	fputs("</topology>\n", out);
	return 0;
}

int
topology_xml_from_json(const char *text, size_t len, const char *origin, char **ret_xml,
		       struct tmap_error *err)
{
	struct desc d = {.origin = origin, .err = err};
	struct json_object *root = NULL;
	char *xml = NULL;
	size_t xlen = 0;
	FILE *out;
	int r;

	r = json_read(text, len, origin, json_type_object, "an object with a \"nodes\" array",
		      &root, err);
	if (r < 0)
		return r;
	r = parse_desc(&d, root);
	json_object_put(root);
	if (r == -ENOMEM)
		tmap_error_set(err, r, "out of memory");
	if (r < 0)
		goto out;
	out = open_memstream(&xml, &xlen);
	if (!out) {
		r = tmap_error_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	r = write_xml(&d, out);
	if (fclose(out) != 0 && r == 0)
		r = -ENOMEM;
	if (r < 0) {
		free(xml);
		tmap_error_set(err, r, "out of memory");
		goto out;
	}
	*ret_xml = xml;
out:
	desc_clear(&d);
	return r;
}
