/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A host as libvirt's capabilities describe it, written out as the library's JSON host form
 * (core/topology-json.c), which the library turns into the host for `--topology libvirt:URI`.
 * Any host libvirt reaches (qemu+ssh://, qemu+tls://) can so be planned for from here.
 *
 * What libvirt reports, per <cell>: its memory and pages, its CPUs with socket_id, core_id and
 * the SMT siblings list, and the distances to every cell. Each cell becomes a node with its
 * cores (PUs grouped by siblings); its package is its CPUs' one socket, shared with the other
 * cells of that socket. A cell over several sockets is a node in no package whose cores say
 * their packages; cells whose sockets do not nest (or are not reported) are in no package. A
 * cell without CPUs is a memory-only node. The distances become the matrix when every cell
 * reports them.
 */
#include <inttypes.h>
#include <json-c/json.h>

#include "libvirt-backend.h"
#include "libvirt-util.h"

/* Most cells taken from one document: far above any machine, small enough for the O(n^2)
 * checks below. */
#define MAX_CELLS 4096

/* The JSON host form's bounds: node ids and packages below 1024 (Linux's MAX_NUMNODES), PUs
 * below 65536, distances up to 100000 (a larger one is no latency the library keeps). */
#define MAX_NODE_ID 1023
#define MAX_CPU_ID 65535
#define MAX_SOCKETS 1024
#define MAX_DISTANCE 100000

/* A set of small numbers, for cpusets and nodesets. */
struct set {
	uint32_t *w;
	size_t n;
};

static int
set_add(struct set *s, unsigned i)
{
	size_t word = i / 32;

	if (word >= s->n) {
		uint32_t *w = realloc(s->w, (word + 1) * sizeof(*w));

		if (!w)
			return -ENOMEM;
		memset(w + s->n, 0, (word + 1 - s->n) * sizeof(*w));
		s->w = w;
		s->n = word + 1;
	}
	s->w[word] |= 1u << (i % 32);
	return 0;
}

static bool
set_has(const struct set *s, unsigned i)
{
	return i / 32 < s->n && (s->w[i / 32] & (1u << (i % 32)));
}

static void
set_clear(struct set *s)
{
	free(s->w);
	s->w = NULL;
	s->n = 0;
}

struct cap_cpu {
	unsigned id;
	int socket;	/* socket_id, -1 when not reported */
	int core;	/* core_id, -1 when not reported */
	unsigned key;	/* lowest CPU of its core in the cell: the PUs of one core share it */
	char *siblings; /* the siblings list, NULL when not reported */
};

#define MAX_PAGE_SIZES 8

struct cap_cell {
	unsigned id;
	uint64_t memory_kib;	/* MemTotal: hugepage pools included, as hwloc's local_memory */
	size_t npages;		/* <pages> elements: the base page, then the hugepage pools */
	uint64_t page_kib[MAX_PAGE_SIZES], page_count[MAX_PAGE_SIZES];
	size_t ncpus;
	struct cap_cpu *cpus;	/* ascending ids */
	size_t ndist;
	unsigned *dist_to, *dist_value;
	int *sockets;		/* the distinct sockets of its CPUs */
	size_t nsockets;
	int socket;		/* the one socket of all its CPUs; -1 for several or unknown */
	int group;		/* component of cells sharing sockets, -1 without CPUs */
	struct set cpuset;
};

struct host {
	size_t ncells;
	struct cap_cell *cells;	/* ascending ids */
	size_t nsockets;
	int *sockets;		/* libvirt's socket ids, in the order met: JSON package i is sockets[i] */
};

static void
host_clear(struct host *h)
{
	for (size_t i = 0; i < h->ncells; i++) {
		struct cap_cell *c = &h->cells[i];

		for (size_t j = 0; j < c->ncpus; j++)
			free(c->cpus[j].siblings);
		free(c->cpus);
		free(c->dist_to);
		free(c->dist_value);
		free(c->sockets);
		set_clear(&c->cpuset);
	}
	free(h->cells);
	free(h->sockets);
}

/* An unsigned attribute: 0, -ENOENT when absent, -EINVAL when not a number up to max. */
static int
attr_u64(xmlNodePtr node, const char *name, uint64_t max, uint64_t *ret)
{
	_cleanup_xml_char_ xmlChar *text = xmlGetProp(node, BAD_CAST name);
	unsigned long long v;
	char *end;

	if (!text)
		return -ENOENT;
	if (text[0] < '0' || text[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull((const char *)text, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int
parse_memory(xmlNodePtr cell, unsigned id, uint64_t *ret_kib, struct tmap_error *err)
{
	xmlNodePtr mem = xml_child(cell, "memory");
	_cleanup_xml_char_ xmlChar *unit = NULL, *text = NULL;
	unsigned long long v;
	uint64_t mult = 1;
	char *end;

	*ret_kib = 0;
	if (!mem)
		return 0;
	unit = xmlGetProp(mem, BAD_CAST "unit");
	text = xmlNodeGetContent(mem);
	/* libvirt writes KiB; the other units of its schema are accepted all the same. */
	if (!unit || xmlStrEqual(unit, BAD_CAST "KiB") || xmlStrEqual(unit, BAD_CAST "k"))
		mult = 1;
	else if (xmlStrEqual(unit, BAD_CAST "MiB") || xmlStrEqual(unit, BAD_CAST "M"))
		mult = 1024;
	else if (xmlStrEqual(unit, BAD_CAST "GiB") || xmlStrEqual(unit, BAD_CAST "G"))
		mult = 1024 * 1024;
	else
		return tmap_error_set(err, -EINVAL, "capabilities: cell %u: memory unit '%s' is not KiB, MiB or GiB",
				 id, (const char *)unit);
	errno = 0;
	v = text ? strtoull((const char *)text, &end, 10) : 0;
	if (!text || text[0] < '0' || text[0] > '9' || errno || *end ||
	    v > UINT64_MAX / 1024 / mult)
		return tmap_error_set(err, -EINVAL, "capabilities: cell %u: memory '%s' is not a size", id,
				 text ? (const char *)text : "");
	if (v * mult > TMAP_MAX_MEMORY_MIB << 10)
		return tmap_error_set(err, -EINVAL, "capabilities: cell %u: memory '%s' is more than 4 PiB",
				      id, (const char *)text);
	*ret_kib = v * mult;
	return 0;
}

/* <pages unit='KiB' size='2048'>512</pages>: the cell's pages of each size, hugepage pools
 * included, which hwloc calls page types. */
static int
parse_pages(xmlNodePtr cell, struct cap_cell *c, struct tmap_error *err)
{
	for (xmlNodePtr n = xml_child(cell, "pages"); n; n = xml_next(n)) {
		_cleanup_xml_char_ xmlChar *unit = xmlGetProp(n, BAD_CAST "unit");
		_cleanup_xml_char_ xmlChar *text = xmlNodeGetContent(n);
		unsigned long long count;
		uint64_t size;
		char *end;

		if (c->npages == MAX_PAGE_SIZES)
			return tmap_error_set(err, -EINVAL, "capabilities: cell %u: more than %d page sizes",
					      c->id, MAX_PAGE_SIZES);
		if ((unit && !xmlStrEqual(unit, BAD_CAST "KiB")) ||
		    attr_u64(n, "size", UINT64_C(1) << 30, &size) < 0 || size < 4 ||
		    (size & (size - 1)))
			return tmap_error_set(err, -EINVAL, "capabilities: cell %u: a <pages> without a size in KiB (a power of two, 4 or more)",
					      c->id);
		for (size_t k = 0; k < c->npages; k++)
			if (c->page_kib[k] == size)
				return tmap_error_set(err, -EINVAL, "capabilities: cell %u: pages of %" PRIu64 " KiB listed twice",
						      c->id, size);
		errno = 0;
		count = text ? strtoull((const char *)text, &end, 10) : 0;
		if (!text || text[0] < '0' || text[0] > '9' || errno || *end ||
		    count > (TMAP_MAX_MEMORY_MIB << 10) / size)
			return tmap_error_set(err, -EINVAL, "capabilities: cell %u: pages of %" PRIu64 " KiB: '%s' is not a count",
					      c->id, size, text ? (const char *)text : "");
		c->page_kib[c->npages] = size;
		c->page_count[c->npages++] = count;
	}
	return 0;
}

static int
parse_cpus(xmlNodePtr cell, struct cap_cell *c, struct tmap_error *err)
{
	xmlNodePtr cpus = xml_child(cell, "cpus");

	for (xmlNodePtr n = xml_child(cpus, "cpu"); n; n = xml_next(n)) {
		_cleanup_xml_char_ xmlChar *siblings = xmlGetProp(n, BAD_CAST "siblings");
		struct cap_cpu *v, cpu = {.socket = -1, .core = -1};
		uint64_t id, socket, core;
		int r;

		if (attr_u64(n, "id", MAX_CPU_ID, &id) < 0)
			return tmap_error_set(err, -EINVAL, "capabilities: cell %u: a <cpu> without a valid id",
					 c->id);
		/* libvirt gives the topology of the CPUs it can read, the online ones: a CPU
		 * reported with its id alone is offline, and nothing can run there. */
		if (!siblings && !xmlHasProp(n, BAD_CAST "socket_id") &&
		    !xmlHasProp(n, BAD_CAST "core_id"))
			continue;
		cpu.id = (unsigned)id;
		r = attr_u64(n, "socket_id", INT32_MAX, &socket);
		if (r == 0)
			cpu.socket = (int)socket;
		else if (r != -ENOENT)
			return tmap_error_set(err, -EINVAL, "capabilities: CPU %u: socket_id is not a number",
					 cpu.id);
		r = attr_u64(n, "core_id", INT32_MAX, &core);
		if (r == 0)
			cpu.core = (int)core;
		else if (r != -ENOENT)
			return tmap_error_set(err, -EINVAL, "capabilities: CPU %u: core_id is not a number",
					 cpu.id);
		if (siblings && !(cpu.siblings = strdup((const char *)siblings)))
			return -ENOMEM;
		v = realloc(c->cpus, (c->ncpus + 1) * sizeof(*v));
		if (!v) {
			free(cpu.siblings);
			return -ENOMEM;
		}
		c->cpus = v;
		c->cpus[c->ncpus++] = cpu;
	}
	return 0;
}

static int
parse_distances(xmlNodePtr cell, struct cap_cell *c, struct tmap_error *err)
{
	xmlNodePtr dist = xml_child(cell, "distances");

	for (xmlNodePtr n = xml_child(dist, "sibling"); n; n = xml_next(n)) {
		uint64_t to, value;
		unsigned *a, *b;

		if (attr_u64(n, "id", LIST_MAX_INDEX, &to) < 0 ||
		    attr_u64(n, "value", UINT32_MAX, &value) < 0)
			return tmap_error_set(err, -EINVAL,
					 "capabilities: cell %u: a distance without a valid id and value",
					 c->id);
		a = realloc(c->dist_to, (c->ndist + 1) * sizeof(*a));
		if (a)
			c->dist_to = a;
		b = realloc(c->dist_value, (c->ndist + 1) * sizeof(*b));
		if (b)
			c->dist_value = b;
		if (!a || !b)
			return -ENOMEM;
		c->dist_to[c->ndist] = (unsigned)to;
		c->dist_value[c->ndist++] = (unsigned)value;
	}
	return 0;
}

static int
cmp_cell(const void *a, const void *b)
{
	const struct cap_cell *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

static int
cmp_cpu(const void *a, const void *b)
{
	const struct cap_cpu *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

static int
parse_host(xmlDocPtr doc, struct host *h, struct tmap_error *err)
{
	xmlNodePtr root = xmlDocGetRootElement(doc);
	xmlNodePtr cells;
	struct set seen_cpus = {0};
	int r = 0;

	if (!root || !xmlStrEqual(root->name, BAD_CAST "capabilities"))
		return tmap_error_set(err, -EINVAL, "not a libvirt capabilities document");
	cells = xml_child(xml_child(xml_child(root, "host"), "topology"), "cells");
	if (!cells)
		return tmap_error_set(err, -EINVAL,
				 "capabilities: the host reports no NUMA topology (<host><topology><cells>)");
	for (xmlNodePtr n = xml_child(cells, "cell"); n; n = xml_next(n)) {
		struct cap_cell *v, *c;
		uint64_t id;

		if (h->ncells >= MAX_CELLS)
			return tmap_error_set(err, -EINVAL, "capabilities: more than %d cells", MAX_CELLS);
		if (attr_u64(n, "id", MAX_NODE_ID, &id) < 0)
			return tmap_error_set(err, -EINVAL, "capabilities: a <cell> without a valid id");
		v = realloc(h->cells, (h->ncells + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		h->cells = v;
		c = &h->cells[h->ncells++];
		*c = (struct cap_cell){.id = (unsigned)id, .socket = -1, .group = -1};
		r = parse_memory(n, c->id, &c->memory_kib, err);
		if (r == 0)
			r = parse_pages(n, c, err);
		if (r == 0)
			r = parse_cpus(n, c, err);
		if (r == 0)
			r = parse_distances(n, c, err);
		if (r < 0)
			goto out;
	}
	if (h->ncells == 0) {
		r = tmap_error_set(err, -EINVAL, "capabilities: the host reports no NUMA cell");
		goto out;
	}
	qsort(h->cells, h->ncells, sizeof(*h->cells), cmp_cell);
	for (size_t i = 0; i < h->ncells; i++) {
		struct cap_cell *c = &h->cells[i];

		if (i > 0 && c->id == h->cells[i - 1].id) {
			r = tmap_error_set(err, -EINVAL, "capabilities: cell %u is listed twice", c->id);
			goto out;
		}
		/* A memory-only cell has no CPU array: qsort() must not be given NULL. */
		if (c->ncpus)
			qsort(c->cpus, c->ncpus, sizeof(*c->cpus), cmp_cpu);
		for (size_t j = 0; j < c->ncpus; j++) {
			if (set_has(&seen_cpus, c->cpus[j].id)) {
				r = tmap_error_set(err, -EINVAL, "capabilities: CPU %u is listed twice",
					      c->cpus[j].id);
				goto out;
			}
			if (set_add(&seen_cpus, c->cpus[j].id) < 0 ||
			    set_add(&c->cpuset, c->cpus[j].id) < 0) {
				r = -ENOMEM;
				goto out;
			}
		}
	}
	if (seen_cpus.n == 0)
		r = tmap_error_set(err, -EINVAL, "capabilities: the host reports no online CPU");
out:
	set_clear(&seen_cpus);
	return r;
}

/* Parse a siblings list into the lowest CPU of it that is in the cell, or the CPU itself. */
static unsigned
siblings_key(const struct cap_cell *c, const struct cap_cpu *cpu)
{
	const char *p = cpu->siblings;
	unsigned key = cpu->id;

	while (p && *p) {
		unsigned long a, b;
		char *end;

		if (*p < '0' || *p > '9')
			return cpu->id;
		a = strtoul(p, &end, 10);
		b = a;
		p = end;
		if (*p == '-') {
			b = strtoul(p + 1, &end, 10);
			p = end;
		}
		if (*p == ',')
			p++;
		else if (*p)
			return cpu->id;
		for (unsigned long s = a; s <= b && s < key; s++)
			if (set_has(&c->cpuset, (unsigned)s)) {
				key = (unsigned)s;
				break;
			}
	}
	return key;
}

/* Cores: by siblings where reported, else by (socket_id, core_id), else one PU each. */
static void
assign_cores(struct cap_cell *c)
{
	for (size_t j = 0; j < c->ncpus; j++) {
		struct cap_cpu *cpu = &c->cpus[j];

		cpu->key = cpu->id;
		if (cpu->siblings) {
			cpu->key = siblings_key(c, cpu);
			continue;
		}
		if (cpu->core < 0)
			continue;
		for (size_t k = 0; k < j; k++)
			if (c->cpus[k].socket == cpu->socket && c->cpus[k].core == cpu->core) {
				cpu->key = c->cpus[k].key;
				break;
			}
	}
}

/* The distinct sockets of a cell's CPUs; an unknown socket (-1) is kept as such. */
static int
collect_sockets(struct cap_cell *c)
{
	for (size_t j = 0; j < c->ncpus; j++) {
		bool seen = false;
		int *v;

		for (size_t k = 0; k < c->nsockets && !seen; k++)
			seen = c->sockets[k] == c->cpus[j].socket;
		if (seen)
			continue;
		v = realloc(c->sockets, (c->nsockets + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		c->sockets = v;
		c->sockets[c->nsockets++] = c->cpus[j].socket;
	}
	c->socket = c->nsockets == 1 ? c->sockets[0] : -1;
	return 0;
}

static bool
unknown_socket(const struct cap_cell *c)
{
	for (size_t k = 0; k < c->nsockets; k++)
		if (c->sockets[k] < 0)
			return true;
	return false;
}

static bool
share_socket(const struct cap_cell *a, const struct cap_cell *b)
{
	for (size_t i = 0; i < a->nsockets; i++)
		for (size_t j = 0; j < b->nsockets; j++)
			if (a->sockets[i] >= 0 && a->sockets[i] == b->sockets[j])
				return true;
	return false;
}

/* Cores in each cell, and groups of cells sharing sockets (an unknown socket stands alone). */
static int
assign_groups(struct host *h, int *ret_ngroups)
{
	int ngroups = 0;

	for (size_t i = 0; i < h->ncells; i++) {
		assign_cores(&h->cells[i]);
		if (collect_sockets(&h->cells[i]) < 0)
			return -ENOMEM;
	}
	for (size_t i = 0; i < h->ncells; i++) {
		struct cap_cell *c = &h->cells[i];

		if (c->ncpus == 0 || c->group >= 0)
			continue;
		c->group = ngroups++;
		for (bool grew = true; grew;) {
			grew = false;
			for (size_t j = 0; j < h->ncells; j++) {
				struct cap_cell *d = &h->cells[j];

				if (d->ncpus == 0 || d->group >= 0)
					continue;
				for (size_t k = 0; k < h->ncells && d->group < 0; k++) {
					const struct cap_cell *e = &h->cells[k];

					if (e->group == c->group && share_socket(e, d)) {
						d->group = c->group;
						grew = true;
					}
				}
			}
		}
	}
	*ret_ngroups = ngroups;
	return 0;
}

/* Add v (which may be NULL only for a JSON null) to an object or an array. */
static int
put(struct json_object *o, const char *key, struct json_object *v, bool null)
{
	int r;

	if (!v && !null)
		return -ENOMEM;
	r = key ? json_object_object_add(o, key, v) : json_object_array_add(o, v);
	if (r < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

/* The JSON package of a libvirt socket: its place among the sockets met so far. */
static int
package_of(struct host *h, int socket, struct tmap_error *err)
{
	int *v;

	for (size_t i = 0; i < h->nsockets; i++)
		if (h->sockets[i] == socket)
			return (int)i;
	if (h->nsockets == MAX_SOCKETS)
		return tmap_error_set(err, -EINVAL, "capabilities: more than %d sockets", MAX_SOCKETS);
	v = realloc(h->sockets, (h->nsockets + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	h->sockets = v;
	h->sockets[h->nsockets] = socket;
	return (int)h->nsockets++;
}

/* "cores": [[0, 4], [1, 5]], PUs grouped by core key and socket; with `sockets` (a cell over
 * several sockets) also each core's package. */
static int
put_cores(struct host *h, struct json_object *node, const struct cap_cell *c, bool sockets,
	  struct tmap_error *err)
{
	struct json_object *cores = json_object_new_array();
	struct json_object *pkgs = sockets ? json_object_new_array() : NULL;
	int r = put(node, "cores", cores, false);

	if (r == 0 && sockets)
		r = put(node, "core_sockets", pkgs, false);
	else if (sockets)
		json_object_put(pkgs);
	for (size_t j = 0; j < c->ncpus && r == 0; j++) {
		const struct cap_cpu *cpu = &c->cpus[j];
		struct json_object *core;
		bool first = true;

		/* A core is written where its first PU comes. */
		for (size_t k = 0; k < j && first; k++)
			first = c->cpus[k].key != cpu->key || c->cpus[k].socket != cpu->socket;
		if (!first)
			continue;
		core = json_object_new_array();
		r = put(cores, NULL, core, false);
		for (size_t k = j; k < c->ncpus && r == 0; k++)
			if (c->cpus[k].key == cpu->key && c->cpus[k].socket == cpu->socket)
				r = put(core, NULL, json_object_new_int64(c->cpus[k].id), false);
		if (r == 0 && sockets) {
			r = package_of(h, cpu->socket, err);
			if (r >= 0)
				r = put(pkgs, NULL, json_object_new_int(r), false);
		}
	}
	return r;
}

/* "memory_mib" (normal memory: MemTotal less the pools) and "hugepages": every size but the
 * base page, which is the smallest, and 64 KiB at most, as the library tells them apart. */
static int
put_memory(struct json_object *node, const struct cap_cell *c)
{
	struct json_object *pools = json_object_new_array();
	uint64_t base = UINT64_MAX, pool_kib = 0;
	int r = put(node, "hugepages", pools, false);

	for (size_t k = 0; k < c->npages; k++)
		if (c->page_kib[k] < base)
			base = c->page_kib[k];
	for (size_t k = 0; k < c->npages && r == 0; k++) {
		struct json_object *pool;

		if (c->page_kib[k] == base && base <= 64)
			continue;
		pool_kib += c->page_kib[k] * c->page_count[k];
		pool = json_object_new_object();
		r = put(pools, NULL, pool, false);
		if (r == 0)
			r = put(pool, "size_kib", json_object_new_int64((int64_t)c->page_kib[k]), false);
		if (r == 0)
			r = put(pool, "count", json_object_new_int64((int64_t)c->page_count[k]), false);
	}
	if (r < 0)
		return r;
	return put(node, "memory_mib",
		   json_object_new_int64((int64_t)(c->memory_kib > pool_kib ?
							(c->memory_kib - pool_kib) >> 10 : 0)),
		   false);
}

/* A cell's package, from the group of cells sharing sockets it is in: the one socket of
 * every cell there, or none (null); `spans` for a cell alone over several known sockets,
 * whose cores then say theirs. */
static int
cell_package(struct host *h, const struct cap_cell *c, bool *ret_spans, struct tmap_error *err)
{
	int socket = -2;
	size_t ncells = 0;

	*ret_spans = false;
	if (c->ncpus == 0)
		return -1;
	for (size_t i = 0; i < h->ncells; i++) {
		if (h->cells[i].group != c->group)
			continue;
		ncells++;
		/* -2: none yet; -1: several sockets (or an unknown one) in the group. */
		if (socket == -2)
			socket = h->cells[i].socket;
		else if (socket != h->cells[i].socket)
			socket = -1;
	}
	if (socket >= 0)
		return package_of(h, socket, err);
	*ret_spans = ncells == 1 && !unknown_socket(c);
	return -1;
}

static int
put_node(struct host *h, struct json_object *nodes, const struct cap_cell *c,
	 struct tmap_error *err)
{
	struct json_object *node = json_object_new_object();
	bool spans;
	int pkg, r = put(nodes, NULL, node, false);

	if (r == 0)
		r = put(node, "id", json_object_new_int64(c->id), false);
	if (r == 0)
		r = put_memory(node, c);
	if (r < 0)
		return r;
	pkg = cell_package(h, c, &spans, err);
	if (pkg < -1)
		return pkg;
	r = put(node, "socket", pkg >= 0 ? json_object_new_int(pkg) : NULL, pkg < 0);
	if (r == 0 && c->ncpus)
		r = put_cores(h, node, c, spans, err);
	return r;
}

/* The distance matrix, in the order of the cells, when every cell gives its distance to
 * every cell. */
static int
put_distances(const struct host *h, struct json_object *root)
{
	struct json_object *rows;
	int r;

	for (size_t i = 0; i < h->ncells; i++)
		for (size_t j = 0; j < h->ncells; j++) {
			bool found = false;

			for (size_t d = 0; d < h->cells[i].ndist && !found; d++)
				found = h->cells[i].dist_to[d] == h->cells[j].id &&
					h->cells[i].dist_value[d] <= MAX_DISTANCE;
			if (!found)
				return 0;
		}
	rows = json_object_new_array();
	r = put(root, "distances", rows, false);
	for (size_t i = 0; i < h->ncells && r == 0; i++) {
		struct json_object *row = json_object_new_array();

		r = put(rows, NULL, row, false);
		for (size_t j = 0; j < h->ncells && r == 0; j++)
			for (size_t d = 0; d < h->cells[i].ndist; d++)
				if (h->cells[i].dist_to[d] == h->cells[j].id) {
					r = put(row, NULL, json_object_new_int64(h->cells[i].dist_value[d]),
						false);
					break;
				}
	}
	return r;
}

/* Is there a cell `node` with CPUs, which PCI devices may be local to? */
static bool
cell_has_cpus(int node, void *arg)
{
	const struct host *h = arg;

	for (size_t i = 0; i < h->ncells; i++)
		if ((int)h->cells[i].id == node)
			return h->cells[i].ncpus > 0;
	return false;
}

/* The capabilities document, and its host's cells in h (to clear with host_clear() even on
 * failure). */
static int
parse_caps(const char *caps, xmlDocPtr *ret_doc, struct host *h, struct tmap_error *err)
{
	if (!caps)
		return tmap_error_set(err, -EINVAL, "no capabilities");
	*ret_doc = xml_parse(caps, "capabilities.xml");
	if (!*ret_doc)
		return tmap_error_set(err, -EINVAL, "the capabilities are not well-formed XML");
	return parse_host(*ret_doc, h, err);
}

int
capabilities_to_json(const char *caps, struct nodedevs *devs, char **ret_json,
		     struct tmap_error *err)
{
	_cleanup_xml_doc_ xmlDocPtr doc = NULL;
	struct json_object *root = NULL, *nodes;
	struct host h = {0};
	int ngroups = 0, r;

	r = parse_caps(caps, &doc, &h, err);
	if (r == 0)
		r = assign_groups(&h, &ngroups);
	if (r < 0)
		goto out;
	root = json_object_new_object();
	nodes = json_object_new_array();
	r = root ? put(root, "nodes", nodes, false) : -ENOMEM;
	for (size_t i = 0; i < h.ncells && r == 0; i++)
		r = put_node(&h, nodes, &h.cells[i], err);
	if (r == 0)
		r = put_distances(&h, root);
	if (r == 0 && devs)
		r = nodedevs_to_json(devs, cell_has_cpus, &h, root);
	if (r == 0) {
		const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);

		*ret_json = text ? strdup(text) : NULL;
		if (!*ret_json)
			r = -ENOMEM;
	}
out:
	if (r == -ENOMEM)
		tmap_error_set(err, r, "out of memory");
	json_object_put(root);
	host_clear(&h);
	return r;
}

int
capabilities_only_hugepage_size(const char *caps, uint64_t *ret_kib, struct tmap_error *err)
{
	_cleanup_xml_doc_ xmlDocPtr doc = NULL;
	struct host h = {0};
	uint64_t only = 0;
	bool several = false;
	int r;

	r = parse_caps(caps, &doc, &h, err);
	for (size_t i = 0; i < h.ncells && r == 0; i++) {
		const struct cap_cell *c = &h.cells[i];
		uint64_t base = UINT64_MAX;

		/* a cell's base page is the smallest it lists; every larger size is a pool */
		for (size_t k = 0; k < c->npages; k++)
			if (c->page_kib[k] < base)
				base = c->page_kib[k];
		for (size_t k = 0; k < c->npages; k++) {
			if (c->page_kib[k] == base)
				continue;
			several |= only && only != c->page_kib[k];
			only = c->page_kib[k];
		}
	}
	host_clear(&h);
	if (r < 0)
		return r;
	*ret_kib = several ? 0 : only;
	return 0;
}

int
capabilities_nodes(const char *caps, char **ret_list, struct tmap_error *err)
{
	_cleanup_xml_doc_ xmlDocPtr doc = NULL;
	_cleanup_free_ char *text = NULL;
	struct host h = {0};
	size_t len = 0;
	FILE *f = NULL;
	int r;

	r = parse_caps(caps, &doc, &h, err);
	if (r == 0 && !(f = open_memstream(&text, &len)))
		r = tmap_error_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; r == 0 && i < h.ncells; i++)
		fprintf(f, "%s%u", i ? "," : "", h.cells[i].id);
	if (f && fclose(f) != 0 && r == 0)
		r = tmap_error_set(err, -ENOMEM, "out of memory");
	host_clear(&h);
	if (r == 0)
		*ret_list = TAKE_PTR(text);
	return r;
}
