/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A host as libvirt's capabilities describe it, written out as the hwloc v2 XML document the
 * library loads for `--topology libvirt:URI`. Any host libvirt reaches (qemu+ssh://, qemu+tls://)
 * can so be planned for from here.
 *
 * What libvirt reports, per <cell>: its memory, its CPUs with socket_id, core_id and the SMT
 * siblings list, and the distances to every cell. The hwloc tree built from that:
 *
 *     Machine > Package (socket) > NUMANode + Core > PU          one cell per socket
 *     Machine > Package > Group (cell) > NUMANode + Core > PU    several cells per socket
 *     Machine > Group (cell) > NUMANode + Package > Core > PU    a cell over several sockets
 *     Machine > NUMANode                                         a cell without CPUs
 *
 * and a NUMALatency matrix from the distances, when every cell reports them. Sets are written
 * as hwloc writes them, 32-bit hexadecimal words, most significant first.
 */
#include <inttypes.h>

#include "libvirt-backend.h"
#include "libvirt-util.h"

/* Most cells taken from one document: far above any machine, small enough for the O(n^2)
 * checks below. */
#define MAX_CELLS 4096

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

/* hwloc's own format: "0x00000003", "0x00000001,0xffffffff"; "0x0" for the empty set. */
static void
put_set(FILE *out, const char *attr, const struct set *s)
{
	size_t top = s->n;

	while (top > 0 && s->w[top - 1] == 0)
		top--;
	fprintf(out, " %s=\"", attr);
	if (top == 0)
		fputs("0x0", out);
	for (size_t i = top; i > 0; i--)
		fprintf(out, "%s0x%08" PRIx32, i == top ? "" : ",", s->w[i - 1]);
	fputc('"', out);
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
	struct set cpuset, nodeset;
};

struct host {
	size_t ncells;
	struct cap_cell *cells;	/* ascending ids */
	struct nodedevs *devs;	/* PCI devices, or NULL */
	FILE *out;
	unsigned gp;		/* the last gp_index given */
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
		set_clear(&c->nodeset);
	}
	free(h->cells);
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
		    attr_u64(n, "size", UINT64_C(1) << 30, &size) < 0 || size == 0)
			return tmap_error_set(err, -EINVAL, "capabilities: cell %u: a <pages> without a size in KiB",
					      c->id);
		errno = 0;
		count = text ? strtoull((const char *)text, &end, 10) : 0;
		if (!text || text[0] < '0' || text[0] > '9' || errno || *end ||
		    count > (UINT64_C(1) << 50) / size)
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

		if (attr_u64(n, "id", LIST_MAX_INDEX, &id) < 0)
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
		if (attr_u64(n, "id", LIST_MAX_INDEX, &id) < 0)
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
		if (set_add(&c->nodeset, c->id) < 0) {
			r = -ENOMEM;
			goto out;
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

/* <object type=... os_index=... cpuset=... nodeset=... gp_index=...   (left open) */
static void
object_begin(struct host *h, unsigned depth, const char *type, long os_index,
	     const struct set *cpus, const struct set *nodes)
{
	fprintf(h->out, "%*s<object type=\"%s\"", (int)depth * 2, "", type);
	if (os_index >= 0)
		fprintf(h->out, " os_index=\"%ld\"", os_index);
	put_set(h->out, "cpuset", cpus);
	put_set(h->out, "complete_cpuset", cpus);
	if (streq(type, "Machine"))
		put_set(h->out, "allowed_cpuset", cpus);
	put_set(h->out, "nodeset", nodes);
	put_set(h->out, "complete_nodeset", nodes);
	if (streq(type, "Machine"))
		put_set(h->out, "allowed_nodeset", nodes);
	fprintf(h->out, " gp_index=\"%u\"", ++h->gp);
}

static void
object_end(struct host *h, unsigned depth)
{
	fprintf(h->out, "%*s</object>\n", (int)depth * 2, "");
}

static int
put_numanode(struct host *h, unsigned depth, const struct cap_cell *c, const struct set *cpus)
{
	object_begin(h, depth, "NUMANode", c->id, cpus, &c->nodeset);
	fprintf(h->out, " local_memory=\"%" PRIu64 "\"%s\n", c->memory_kib * 1024,
		c->npages ? ">" : "/>");
	if (!c->npages)
		return 0;
	for (size_t k = 0; k < c->npages; k++)
		fprintf(h->out, "%*s<page_type size=\"%" PRIu64 "\" count=\"%" PRIu64 "\"/>\n",
			(int)(depth + 1) * 2, "", c->page_kib[k] * 1024, c->page_count[k]);
	object_end(h, depth);
	return 0;
}

/* The cores of cell c on socket `socket` (any socket when `all`), each with its PUs. */
static int
put_cores(struct host *h, unsigned depth, const struct cap_cell *c, int socket, bool all)
{
	for (size_t j = 0; j < c->ncpus; j++) {
		const struct cap_cpu *cpu = &c->cpus[j];
		struct set core = {0};
		bool first = true;

		if (!all && cpu->socket != socket)
			continue;
		/* A core is written where its first PU comes. */
		for (size_t k = 0; k < j && first; k++)
			if (c->cpus[k].key == cpu->key && c->cpus[k].socket == cpu->socket)
				first = false;
		if (!first)
			continue;
		for (size_t k = j; k < c->ncpus; k++)
			if (c->cpus[k].key == cpu->key && c->cpus[k].socket == cpu->socket &&
			    set_add(&core, c->cpus[k].id) < 0) {
				set_clear(&core);
				return -ENOMEM;
			}
		object_begin(h, depth, "Core", cpu->core >= 0 ? cpu->core : (long)cpu->key, &core,
			     &c->nodeset);
		fputs(">\n", h->out);
		for (size_t k = j; k < c->ncpus; k++) {
			struct set pu = {0};

			if (c->cpus[k].key != cpu->key || c->cpus[k].socket != cpu->socket)
				continue;
			if (set_add(&pu, c->cpus[k].id) < 0) {
				set_clear(&core);
				return -ENOMEM;
			}
			object_begin(h, depth + 1, "PU", c->cpus[k].id, &pu, &c->nodeset);
			fputs("/>\n", h->out);
			set_clear(&pu);
		}
		object_end(h, depth);
		set_clear(&core);
	}
	return 0;
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

/* One cell with its CPUs, under a Group of its own or directly under the current object. */
static int
put_cell(struct host *h, unsigned depth, const struct cap_cell *c, bool group)
{
	int r;

	if (group) {
		object_begin(h, depth, "Group", -1, &c->cpuset, &c->nodeset);
		fputs(">\n", h->out);
		depth++;
	}
	put_numanode(h, depth, c, &c->cpuset);
	r = put_cores(h, depth, c, -1, true);
	nodedevs_write(h->devs, (int)c->id, cell_has_cpus, h, h->out, &h->gp, depth);
	if (group)
		object_end(h, depth - 1);
	return r;
}

static int
set_union(struct set *to, const struct set *from)
{
	for (size_t i = 0; i < from->n; i++)
		for (unsigned b = 0; b < 32; b++)
			if ((from->w[i] & (1u << b)) && set_add(to, (unsigned)(i * 32 + b)) < 0)
				return -ENOMEM;
	return 0;
}

/* One group of cells sharing sockets. */
static int
put_group(struct host *h, int group)
{
	struct set cpus = {0}, nodes = {0};
	size_t ncells = 0, first = 0;
	int socket = -2, r = 0;

	for (size_t i = 0; i < h->ncells; i++) {
		const struct cap_cell *c = &h->cells[i];

		if (c->group != group)
			continue;
		if (ncells++ == 0)
			first = i;
		/* -2: none yet; -1: several sockets (or an unknown one) in the group. */
		if (socket == -2)
			socket = c->socket;
		else if (socket != c->socket)
			socket = -1;
		if (set_union(&cpus, &c->cpuset) < 0 || set_union(&nodes, &c->nodeset) < 0) {
			r = -ENOMEM;
			goto out;
		}
	}
	if (socket >= 0) {
		/* One socket: the package holds its cell, or a group per cell. */
		object_begin(h, 2, "Package", socket, &cpus, &nodes);
		fputs(">\n", h->out);
		for (size_t i = 0; i < h->ncells && r == 0; i++)
			if (h->cells[i].group == group)
				r = put_cell(h, 3, &h->cells[i], ncells > 1);
		object_end(h, 2);
	} else if (ncells == 1 && !unknown_socket(&h->cells[first])) {
		/* One cell over several sockets: the cell's group holds its packages. */
		const struct cap_cell *c = &h->cells[first];

		object_begin(h, 2, "Group", -1, &cpus, &nodes);
		fputs(">\n", h->out);
		put_numanode(h, 3, c, &cpus);
		for (size_t j = 0; j < c->ncpus && r == 0; j++) {
			struct set pkg = {0};
			bool seen = false;

			for (size_t k = 0; k < j; k++)
				seen |= c->cpus[k].socket == c->cpus[j].socket;
			if (seen)
				continue;
			for (size_t k = j; k < c->ncpus; k++)
				if (c->cpus[k].socket == c->cpus[j].socket &&
				    set_add(&pkg, c->cpus[k].id) < 0)
					r = -ENOMEM;
			if (r == 0) {
				object_begin(h, 3, "Package", c->cpus[j].socket, &pkg, &nodes);
				fputs(">\n", h->out);
				r = put_cores(h, 4, c, c->cpus[j].socket, false);
				object_end(h, 3);
			}
			set_clear(&pkg);
		}
		nodedevs_write(h->devs, (int)c->id, cell_has_cpus, h, h->out, &h->gp, 3);
		object_end(h, 2);
	} else {
		/* Cells and sockets that do not nest (or sockets not reported): no packages. */
		for (size_t i = 0; i < h->ncells && r == 0; i++)
			if (h->cells[i].group == group)
				r = put_cell(h, 2, &h->cells[i], true);
	}
out:
	set_clear(&cpus);
	set_clear(&nodes);
	return r;
}

/* The NUMALatency matrix, when every cell gives its distance to every cell. */
static int
put_distances(struct host *h)
{
	_cleanup_free_ char *indexes = NULL, *values = NULL;
	size_t ilen = 0, vlen = 0;
	FILE *fi, *fv;
	bool closed;

	for (size_t i = 0; i < h->ncells; i++)
		for (size_t j = 0; j < h->ncells; j++) {
			bool found = false;

			for (size_t d = 0; d < h->cells[i].ndist && !found; d++)
				found = h->cells[i].dist_to[d] == h->cells[j].id;
			if (!found)
				return 0;
		}
	fi = open_memstream(&indexes, &ilen);
	if (!fi)
		return -ENOMEM;
	fv = open_memstream(&values, &vlen);
	if (!fv) {
		fclose(fi);
		return -ENOMEM;
	}
	for (size_t i = 0; i < h->ncells; i++) {
		fprintf(fi, "%u ", h->cells[i].id);
		for (size_t j = 0; j < h->ncells; j++)
			for (size_t d = 0; d < h->cells[i].ndist; d++)
				if (h->cells[i].dist_to[d] == h->cells[j].id) {
					fprintf(fv, "%u ", h->cells[i].dist_value[d]);
					break;
				}
	}
	closed = fclose(fi) == 0;
	closed = fclose(fv) == 0 && closed; /* both closed, whatever the first gave */
	if (!closed)
		return -ENOMEM;
	/* "length" is the text's length, as hwloc writes it. */
	fprintf(h->out,
		"  <distances2 type=\"NUMANode\" nbobjs=\"%zu\" kind=\"5\" name=\"NUMALatency\" indexing=\"os\">\n"
		"    <indexes length=\"%zu\">%s</indexes>\n"
		"    <u64values length=\"%zu\">%s</u64values>\n"
		"  </distances2>\n",
		h->ncells, ilen, indexes, vlen, values);
	return 0;
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
capabilities_to_hwloc(const char *caps, struct nodedevs *devs, char **ret_xml,
		      struct tmap_error *err)
{
	_cleanup_xml_doc_ xmlDocPtr doc = NULL;
	_cleanup_free_ char *text = NULL;
	struct set cpus = {0}, nodes = {0};
	struct host h = {0};
	size_t len = 0;
	int ngroups = 0, r;

	r = parse_caps(caps, &doc, &h, err);
	if (r < 0)
		goto out;
	h.devs = devs;
	r = assign_groups(&h, &ngroups);
	for (size_t i = 0; i < h.ncells && r == 0; i++)
		if (set_union(&cpus, &h.cells[i].cpuset) < 0 ||
		    set_union(&nodes, &h.cells[i].nodeset) < 0)
			r = -ENOMEM;
	if (r < 0)
		goto out;
	h.out = open_memstream(&text, &len);
	if (!h.out) {
		r = -ENOMEM;
		goto out;
	}
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	      "<!DOCTYPE topology SYSTEM \"hwloc2.dtd\">\n"
	      "<topology version=\"2.0\">\n", h.out);
	object_begin(&h, 1, "Machine", 0, &cpus, &nodes);
	fputs(">\n", h.out);
	fputs("    <info name=\"Backend\" value=\"libvirt\"/>\n", h.out);
	/* Memory-only cells (CXL, PMEM, HBM) are local to the whole machine. */
	for (size_t i = 0; i < h.ncells; i++)
		if (h.cells[i].ncpus == 0)
			put_numanode(&h, 2, &h.cells[i], &cpus);
	/* Devices of no cell (numa_node -1): local to the whole machine, so unknown. */
	nodedevs_write(devs, -1, cell_has_cpus, &h, h.out, &h.gp, 2);
	for (int g = 0; g < ngroups && r == 0; g++)
		r = put_group(&h, g);
	object_end(&h, 1);
	if (r == 0)
		r = put_distances(&h);
	fputs("</topology>\n", h.out);
	if (fclose(h.out) != 0 && r == 0)
		r = -ENOMEM;
	if (r == 0)
		*ret_xml = TAKE_PTR(text);
out:
	if (r == -ENOMEM)
		tmap_error_set(err, r, "out of memory");
	set_clear(&cpus);
	set_clear(&nodes);
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
