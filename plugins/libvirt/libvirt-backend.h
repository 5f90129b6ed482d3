/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The libvirt backend's files, as they see each other. tests/test-libvirt.c compiles
 * cpumap.c, capabilities.c and domain-xml.c on their own to try them on fixtures that no
 * libvirt driver produces on demand (a two-socket host with SMT and distances, a
 * memory-only cell), so nothing here depends on a connection.
 */
#ifndef TOPOMAP_LIBVIRT_BACKEND_H
#define TOPOMAP_LIBVIRT_BACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <topomap/topomap.h>

/* The highest CPU or node number taken from a list: the core's own limit. */
#define LIST_MAX_INDEX (1u << 20)

/* ---------------------------------------------------------------------------------------- */
/* cpumap.c: libvirt's CPU bit arrays (8 CPUs a byte) and the kernel list syntax */

/*
 * A cpumap holding the CPUs of `list` ("0-3,8"), at least `maplen_min` bytes long and long
 * enough for its highest CPU, so that a CPU the host lacks reaches libvirt, which says so.
 * Returns 0 or -EINVAL (not a list) or -ENOMEM; writes *ret_map and *ret_maplen only on
 * success.
 */
int cpumap_from_list(const char *list, int maplen_min, unsigned char **ret_map, int *ret_maplen);

/* The CPUs of a cpumap in list syntax, malloc()ed ("" for none), or NULL without memory. */
char *cpumap_to_list(const unsigned char *map, int maplen);

/* ---------------------------------------------------------------------------------------- */
/* nodedev.c: the host's PCI devices from the node-device API (issue 16) */

struct nodedevs;

/* The PCI devices among node devices' XML (virNodeDeviceGetXMLDesc()), with the names of the
 * net, storage and drm devices they are the parent of. Returns 0, -EINVAL or -ENOMEM. */
int nodedevs_parse(const char *const *xmls, size_t n, struct nodedevs **ret,
		   struct tmap_error *err);
void nodedevs_free(struct nodedevs *devs);
/* Add the devices to a JSON host description as its "devices": each local to the cell libvirt
 * gives when known() says that cell has CPUs, else of unknown locality. Returns 0 or -ENOMEM. */
struct json_object;
int nodedevs_to_json(const struct nodedevs *devs, bool (*known)(int node, void *arg), void *arg,
		     struct json_object *host);

/* ---------------------------------------------------------------------------------------- */
/* capabilities.c: a host as libvirt describes it, in the library's JSON host form */

/*
 * Turn the text of virConnectGetCapabilities() into the JSON host form that
 * tmap_topology_new_from_json() reads: cells become nodes (with their memory and hugepage
 * pools; cells without CPUs are memory-only nodes), online CPUs become PUs grouped into cores
 * by their siblings and into packages by socket_id, and the cells' <distances> become the
 * matrix; devs (may be NULL) become "devices" local to the cell they name.
 * Returns 0, -EINVAL (capabilities without a usable <topology>) or -ENOMEM.
 */
int capabilities_to_json(const char *caps, struct nodedevs *devs, char **ret_json,
			 struct tmap_error *err);

/* The host's NUMA cells, "0,1", malloc()ed: the nodes a domain without a nodeset may use.
 * Returns 0, -EINVAL or -ENOMEM. */
int capabilities_nodes(const char *caps, char **ret_list, struct tmap_error *err);

/* ---------------------------------------------------------------------------------------- */
/* domain-xml.c: what the backend reads in, and edits of, a domain's XML */

/* One <numatune><memnode>. */
struct memnode {
	unsigned cell;
	int mode;	/* enum tmap_memory_mode, -1 when absent */
	char *nodeset;
};

/* The NUMA side of a domain definition. */
struct domain_numa {
	int mode;		/* <numatune><memory mode>, enum tmap_memory_mode; -1 when absent */
	char *nodeset;		/* its nodeset, NULL when absent */
	unsigned ncells;	/* guest NUMA cells, <cpu><numa><cell> */
	unsigned nmemnodes;
	struct memnode *memnodes;
};

void domain_numa_clear(struct domain_numa *numa);

/* Read the NUMA side of a domain's XML. Returns 0, -EINVAL or -ENOMEM. */
int domain_xml_numa(const char *xml, struct domain_numa *ret, struct tmap_error *err);

/* The <memnode> of guest cell `cell`, or NULL. */
const struct memnode *domain_numa_memnode(const struct domain_numa *numa, unsigned cell);

/*
 * The guest a domain's XML describes: its name, vcpus (the maximum, as hot-plugged vcpus need
 * pins too), CPU topology, NUMA cells and their memory, iothreads, and the memory mode of its
 * <numatune> (a property of the guest, which libvirt will not change on a running domain),
 * and the CPU QoS of its <cputune> (shares, period, quota), which the plan sets and verify
 * compares. Placement (vcpupin, nodesets) is what a plan decides and is not read. default_page_kib: the
 * host's default hugepage size, for a bare <hugepages/>; 0 when unknown (such a domain is then
 * refused).
 * Returns 0, -EINVAL (a domain topomap cannot describe) or -ENOMEM.
 */
int domain_xml_describe(const char *xml, uint64_t default_page_kib, struct tmap_guest **ret,
			struct tmap_error *err);

/* The <cputune> shares, period and quota of a domain's XML: 0 for each that is absent, -1 for
 * an unlimited (negative) quota. Returns 0 or -EINVAL. */
int domain_xml_qos(const char *xml, uint64_t *ret_shares, uint64_t *ret_period, int64_t *ret_quota,
		   struct tmap_error *err);

/* Is the domain's memory in hugepages of the host's default size (<hugepages/> without a
 * <page>), which the domain does not say? */
bool domain_xml_bare_hugepages(const char *xml);

/* The host's hugepage size when its capabilities offer exactly one (above each cell's base
 * page); 0 when they offer none or several. Returns 0, -EINVAL or -ENOMEM. */
int capabilities_only_hugepage_size(const char *caps, uint64_t *ret_kib, struct tmap_error *err);

/*
 * The same XML with the <memnode>s of <numatune> replaced by one per guest cell, cell c on host
 * node nodes[c] with `mode` (a <numatune> is created when there is none).
 * Returns 0, -EINVAL or -ENOMEM.
 */
int domain_xml_set_memnodes(const char *xml, int mode, const unsigned *nodes, unsigned ncells,
			    char **ret_xml, struct tmap_error *err);

/* domain-vcpusched.c: realtime vcpus (issue 21). Each side as one text to compare: "none",
 * or "fifo priority 1 on vcpus 1-3" (realtime_text() for a plan's list and priority; a
 * domain's <vcpusched>s with a realtime scheduler, joined by ", "). */
int realtime_text(const char *vcpus, unsigned priority, char **ret);
int domain_xml_realtime(const char *xml, char **ret, struct tmap_error *err);
/* The same XML with its <vcpusched>s replaced by one for vcpus (none when NULL or ""). */
int domain_xml_set_realtime(const char *xml, const char *vcpus, unsigned priority, char **ret_xml,
			    struct tmap_error *err);

/* libvirt's name of a memory mode ("strict"), or "?" */
const char *memory_mode_text(int mode);

/* The mode named `name`, or -1. */
int memory_mode_parse(const char *name);

#endif
