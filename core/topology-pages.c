/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The page types of a NUMA node: each size, and how many pages of it, the hugepage pools
 * topology.c builds the host's pools from.
 *
 * hwloc 2.x reads them itself, into each node's page_types (from sysfs on a live Linux host,
 * from the <page_type> elements of an XML file). hwloc 3.0 removed them ("page_type NUMA node
 * attributes, replaced with PageSizes topology info": the sizes, not the counts), and imports
 * a 2.x XML file's <page_type> sizes only. Under 3.0 topomap reads the counts from where hwloc
 * read the host: the XML it handed hwloc (topology_xml_page_types(), kept in t->xml_pages by
 * topology.c), or sysfs for this machine. node_page_types() is the one place that chooses.
 */
#include <dirent.h>
#include <inttypes.h>

#include "internal.h"

static int
cmp_page_size(const void *a, const void *b)
{
	const struct topo_page_type *x = a, *y = b;

	return (x->size > y->size) - (x->size < y->size);
}

/* Append a page type to a growing array. */
static int
push(struct topo_page_type **v, unsigned *n, unsigned node, uint64_t size, uint64_t count)
{
	struct topo_page_type *w = reallocarray(*v, *n + 1, sizeof(**v));

	if (!w)
		return -ENOMEM;
	w[*n] = (struct topo_page_type){.node = node, .size = size, .count = count};
	*v = w;
	(*n)++;
	return 0;
}

/* The pools of one hugepages directory: hugepages-<KiB>kB/nr_hugepages each. */
static int
read_hugepages_dir(const char *dir, unsigned node, struct topo_page_type **v, unsigned *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int r = 0;

	if (!d)
		return -errno;
	while (r == 0 && (de = readdir(d))) {
		_cleanup_free_ char *path = NULL, *text = NULL;
		unsigned long long kib, count;
		char *end;

		if (!startswith(de->d_name, "hugepages-"))
			continue;
		errno = 0;
		kib = strtoull(de->d_name + strlen("hugepages-"), &end, 10);
		if (errno || kib == 0 || !streq(end, "kB"))
			continue;
		if (asprintf(&path, "%s/%s/nr_hugepages", dir, de->d_name) < 0) {
			path = NULL;
			r = -ENOMEM;
			break;
		}
		/* A pool whose count cannot be read is not there for topomap. */
		if (read_file_bounded(path, 64, &text, NULL, NULL) < 0)
			continue;
		errno = 0;
		count = strtoull(text, &end, 10);
		if (errno || end == text)
			continue;
		r = push(v, n, node, (uint64_t)kib << 10, count);
	}
	closedir(d);
	return r;
}

int
sysfs_page_types(const char *root, unsigned node, struct topo_page_type **ret, unsigned *ret_n)
{
	_cleanup_free_ struct topo_page_type *v = NULL;
	_cleanup_free_ char *dir = NULL;
	long base = sysconf(_SC_PAGESIZE);
	unsigned n = 0;
	int r;

	/* The base page first, as hwloc 2.x lists it; its count is not read (topology.c takes
	 * the node's memory from hwloc). */
	if (base > 0 && push(&v, &n, node, (uint64_t)base, 0) < 0)
		return -ENOMEM;
	if (asprintf(&dir, "%s/devices/system/node/node%u/hugepages", root, node) < 0) {
		dir = NULL;
		return -ENOMEM;
	}
	r = read_hugepages_dir(dir, node, &v, &n);
	if (r == -ENOENT && node == 0) {
		/* A kernel without NUMA: one node, the machine's pools, as hwloc 2.x reads them. */
		free(dir);
		if (asprintf(&dir, "%s/kernel/mm/hugepages", root) < 0) {
			dir = NULL;
			return -ENOMEM;
		}
		r = read_hugepages_dir(dir, node, &v, &n);
	}
	if (r == -ENOMEM)
		return r;
	/* readdir() order is the directory's: sizes ascending, base page first. */
	qsort(v, n, sizeof(*v), cmp_page_size);
	*ret = TAKE_PTR(v);
	*ret_n = n;
	return 0;
}

int
node_page_types(const struct tmap_topology *t, hwloc_obj_t obj, struct topo_page_type **ret,
		unsigned *ret_n)
{
	_cleanup_free_ struct topo_page_type *v = NULL;
	unsigned n = 0;

#if HWLOC_API_VERSION >= 0x00030000
	if (t->xml_pages_read) {
		for (size_t i = 0; i < t->nxml_pages; i++)
			if (t->xml_pages[i].node == obj->os_index &&
			    push(&v, &n, obj->os_index, t->xml_pages[i].size,
				 t->xml_pages[i].count) < 0)
				return -ENOMEM;
	} else if (t->live && hwloc_topology_is_thissystem(t->hw)) {
		int r = sysfs_page_types("/sys", obj->os_index, &v, &n);

		if (r < 0)
			return r;
	}
	/* else a synthetic host: hwloc 2.x gives its nodes the base page only. */
#else
	const struct hwloc_numanode_attr_s *m = &obj->attr->numanode;

	(void)t;
	for (unsigned i = 0; i < m->page_types_len; i++)
		if (push(&v, &n, obj->os_index, m->page_types[i].size, m->page_types[i].count) < 0)
			return -ENOMEM;
#endif
	*ret = TAKE_PTR(v);
	*ret_n = n;
	return 0;
}
