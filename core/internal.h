/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The engine's data model. Not installed: the public API in <topomap/topomap.h> only hands
 * out opaque pointers and strings, so these structures may change freely.
 *
 * Sets are hwloc bitmaps of OS indexes throughout (PUs, or NUMA nodes), printed with
 * hwloc_bitmap_list_asprintf(): the kernel's list syntax.
 */
#ifndef TOPOMAP_INTERNAL_H
#define TOPOMAP_INTERNAL_H

#include <errno.h>
#include <stdarg.h>
#include <hwloc.h>
#include <json-c/json.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "topomap/topomap.h"
#include "hwloc-api.h"
#include "util.h"

/* ------------------------------------------------------------------------------------- */
/* error.c */

/* tmap_error_set() and tmap_error_prefix() are public: <topomap/topomap.h>. */

/* Append a printf()ed line to a growing array of lines: 0 or -ENOMEM. */
int lines_append_vprintf(char ***lines, size_t *n, const char *fmt, va_list ap) _printf_(3, 0);

static inline void
hwloc_bitmap_freep(hwloc_bitmap_t *b)
{
	if (*b)
		hwloc_bitmap_free(*b);
}
#define _cleanup_bitmap_ _cleanup_(hwloc_bitmap_freep)

/* ------------------------------------------------------------------------------------- */
/* cpulist.c: sets in the kernel's list syntax (tmap_cpulist_parse() is the backends') */

/* Parse a kernel list ("0-3,8") strictly: digits, commas, ranges, nothing else. */
int bitmap_parse_list(const char *text, hwloc_bitmap_t *ret);
/* The same, with blanks and newlines around the list dropped (kernel files end with one). */
int bitmap_parse_trimmed(const char *list, hwloc_bitmap_t *ret);
/* Print a set in list syntax into a malloc()ed string ("" for an empty set). */
char *bitmap_list(hwloc_const_bitmap_t set);
/* a ∪ b and a − b of two lists (NULL or "" is empty) into a new list in *ret, whose old
 * string is freed (it may be a or b). */
int cpulist_union(const char *a, const char *b, char **ret);
int cpulist_subtract(const char *a, const char *b, char **ret);
/* Do two lists share a PU? false when either is NULL or not a list. */
bool cpulist_overlap(const char *a, const char *b);

/* ------------------------------------------------------------------------------------- */
/* json.c: the one strict reader of JSON input */

#define JSON_MAX_DEPTH 32
#define JSON_MAX_BYTES (64u << 20)

/*
 * Parse `len` bytes of `text` (from `origin`, a file name for messages) into *ret, refusing
 * what json-c would let through: text after the document, a top-level value that is not of
 * type `want` ("ORIGIN: expected a JSON object, got null"), a key given twice in one object at
 * any depth (named), \u0000 inside a string, a NUL byte, nesting deeper than JSON_MAX_DEPTH.
 * `want` json_type_null means "an object or an array"; `what` names what is expected in the
 * type message ("a guest object or an array of guest objects"), or NULL for the JSON type.
 * Returns 0 or -errno with the message in err; *ret is written only on success.
 */
int json_read(const char *text, size_t len, const char *origin, enum json_type want,
	      const char *what, struct json_object **ret, struct tmap_error *err);

/* ------------------------------------------------------------------------------------- */
/* topology.c: the host model */

struct topo_core {
	int node;	/* index into tmap_topology.nodes */
	int l3;		/* L3 group index (host-wide), or -1 */
	int package;	/* package logical index, or -1 */
	unsigned npus;	/* usable PUs of this core */
	unsigned *pus;	/* their OS indexes, ascending */
};

struct topo_node {
	unsigned os_index;
	uint64_t memory_mib;	/* normal memory: hwloc's local_memory less the hugepage pools */
	uint64_t *huge_pages;	/* per tmap_topology.page_kib[]: pages reserved in the pool */
	int package;		/* package logical index, or -1 */
	bool cpuless;		/* a node without usable PUs (memory only) */
	unsigned ncores;
	unsigned *cores;	/* indexes into tmap_topology.cores, in hwloc order */
	unsigned npus;
	hwloc_bitmap_t cpuset;	/* usable PUs */
	char *cpus_list;	/* the same, in list syntax */
};

/* core/devices.c: a PCI device hwloc keeps as important (network, storage, GPU...). */
enum dev_class { DEV_OTHER, DEV_NETWORK, DEV_STORAGE, DEV_GPU };

struct topo_device {
	char *pci;		/* bus id, "0000:3b:00.0" */
	enum dev_class cls;
	unsigned class_id;	/* PCI class and subclass, 0x0200 */
	unsigned vendor, device; /* PCI ids */
	char *names;		/* its OS devices, "eth2,ib0"; "" when none */
	char *physfn;		/* an SR-IOV VF: its PF's bus id; NULL otherwise */
	int pf;			/* index of that PF among the devices, or -1 */
	char *root;		/* its root complex (host bridge), "0000:[3a-3b]"; "" when none */
	bool known;		/* locality known: not attached to the whole machine of a host
				 * with several nodes (numa_node -1) */
	int node;		/* index of the one node with PUs it is local to, or -1 */
	hwloc_bitmap_t nodeset;	/* node OS indexes of its non-I/O ancestor */
	hwloc_bitmap_t cpuset;	/* usable PUs of that ancestor */
	char *nodes_list, *cpus_list;
};

struct tmap_topology {
	hwloc_topology_t hw;
	char *source;		/* "live", "synthetic:...", or the XML path */
	bool live;		/* this machine, read with its disallowed PUs and nodes */
	bool memory_assumed;	/* synthetic without (memory=...): hwloc's 1 GiB per node */
	size_t nwarnings;
	char **warnings;	/* tmap_topology_warning(): what the host's reader had to say */
	unsigned nnodes;
	struct topo_node *nodes; /* sorted by OS index */
	unsigned ncores;
	struct topo_core *cores; /* grouped by node, in hwloc order within a node */
	unsigned npackages;
	unsigned nl3;
	unsigned max_threads;	/* most usable PUs of any core */
	unsigned pu_limit;	/* highest usable PU OS index + 1 */
	int *pu_core;		/* PU OS index -> core index, -1 when not usable */
	unsigned *distances;	/* nnodes x nnodes, or NULL when the host reports none */
	hwloc_bitmap_t cpuset;	/* every usable PU */
	struct topo_page_type *xml_pages; /* hwloc 3.0: the <page_type>s of the XML read */
	size_t nxml_pages;
	bool xml_pages_read;	/* xml_pages is what the host has (hwloc 3.0, an XML source) */
	unsigned npage_sizes;	/* hugepage sizes any node has a pool of (count 0 included) */
	uint64_t *page_kib;	/* those sizes in KiB, ascending */
	unsigned ndevices;
	struct topo_device *devices; /* in hwloc's order (by bus id within a root complex) */
};

/* devices.c: the PCI devices of the loaded hwloc topology, into t->devices. */
int devices_build(struct tmap_topology *t);
void devices_free(struct tmap_topology *t);
/* "network", "storage", "gpu", "other"; and back (-1 for another word). */
const char *dev_class_name(enum dev_class c);
int dev_class_from_name(const char *s);
/* Index of the device with this bus id, or whose OS names include name; -1 when none. */
int devices_find_pci(const struct tmap_topology *t, const char *pci);
int devices_find_name(const struct tmap_topology *t, const char *name);
/* The table lines and JSON array of the devices (topology.c's formats). node: a node index,
 * or -1 for the devices local to no single node. */
void devices_format_table(const struct tmap_topology *t, int node, FILE *out);
void devices_format_json(const struct tmap_topology *t, FILE *out);

/* The index of a hugepage size in tmap_topology.page_kib, or -1 when no node has that pool. */
int topo_page_index(const struct tmap_topology *t, uint64_t page_kib);
/* "2 MiB", "1 GiB", "64 KiB": a page size for messages and tables. */
const char *page_size_text(uint64_t page_kib, char *buf, size_t size);

/* Largest host file read (JSON or hwloc XML). */
#define TOPOLOGY_MAX_BYTES (64u << 20)
/* The OS indexes a host read from a file may use, JSON and hwloc XML alike: Linux numbers
 * PUs below 65536 (NR_CPUS) and NUMA nodes below 1024 (MAX_NUMNODES, NODES_SHIFT 10). */
#define TOPOLOGY_MAX_PU 65536
#define TOPOLOGY_MAX_NODES 1024

/* topology-xml.c: refuse hwloc XML that would crash hwloc 2.9 (an unknown element, a CPU or
 * memory object without its four sets, a set that does not parse). When
 * some objects are not in PU order, *ret_xml is the document with them in order and
 * *ret_warning says so (hwloc would print a banner on stderr); otherwise both are NULL. */
int topology_xml_check(const char *text, size_t len, const char *origin, char **ret_xml,
		       char **ret_warning, struct tmap_error *err);

/* A page type of a NUMA node, as hwloc 2.x's page_types: a size in bytes (the base page
 * among them, when known) and how many pages of it the node has. */
struct topo_page_type {
	unsigned node;		/* the node's OS index */
	uint64_t size;
	uint64_t count;
};

/* topology-xml.c: every <page_type> of the NUMA node objects of (checked) hwloc XML, in
 * document order, as hwloc 2.x imports them (size 0 left out). malloc()ed into *ret. Returns
 * 0 or -errno with err set. */
int topology_xml_page_types(const char *text, size_t len, const char *origin,
			    struct topo_page_type **ret, size_t *ret_n, struct tmap_error *err);

/* topology-pages.c: node obj's page types, read through whatever the hwloc built against has
 * (hwloc 2.x: the node's page_types; 3.0: t->xml_pages, or sysfs for this machine; a
 * synthetic host has none). malloc()ed into *ret (NULL when *ret_n is 0). 0 or -ENOMEM. */
int node_page_types(const struct tmap_topology *t, hwloc_obj_t obj, struct topo_page_type **ret,
		    unsigned *ret_n);
/* The page types of NUMA node `node` in the sysfs mounted at root ("/sys"): the base page
 * (count 0: not read), then each hugepages-<N>kB pool, sizes ascending; a kernel without NUMA
 * (no node directory) gives node 0 the machine's pools. 0, or -ENOMEM. */
int sysfs_page_types(const char *root, unsigned node, struct topo_page_type **ret, unsigned *ret_n);

/* topology-json.c: hwloc XML for a host described in JSON. */
int topology_xml_from_json(const char *text, size_t len, const char *origin, char **ret_xml,
			   struct tmap_error *err);
/* devices-json.c: the "devices" of a JSON host, parsed (node_ids: the nodes with PUs), then
 * written as hwloc XML objects under a node's group (node: its OS index; -1: the machine). */
struct desc_devices;
int desc_devices_parse(struct json_object *arr, const unsigned *node_ids, size_t nnodes,
		       const char *origin, struct desc_devices **ret, struct tmap_error *err);
void desc_devices_write_xml(struct desc_devices *dd, int node, FILE *out, unsigned *gp);
void desc_devices_free(struct desc_devices *dd);
/* Read a whole regular file of at most `max` bytes into a NUL-terminated malloc()ed buffer;
 * anything else (a FIFO, a device) is refused without blocking, a directory with -EISDIR. */
/* "a FIFO", "a socket", "a character device"...: what a path that is not a file is. */
const char *file_type_name(mode_t mode);
int read_file_bounded(const char *path, size_t max, char **ret, size_t *ret_len,
		      struct tmap_error *err);

/* Distance used by the solver: the reported one, or (with none) 10 for a node to itself,
 * 20 within a package, 30 across packages. */
unsigned topo_distance(const struct tmap_topology *t, unsigned a, unsigned b);
/* Index of the node with this OS index, or -1. */
int topo_node_index(const struct tmap_topology *t, unsigned os_index);

/* topology.c: what the deprecated tmap_topology_new() does, for the session's deprecated
 * .topology (the library calls no deprecated function). */
int topology_new_source(const char *source, unsigned flags, struct tmap_topology **ret,
			struct tmap_error *err);

/* backend.c: the JSON host form of a host described by backend `name` ("libvirt:URI"). */
int backend_host_topology(const char *name, const char *arg, char **ret_json,
			  struct tmap_error *err);

/* ------------------------------------------------------------------------------------- */
/* guest.c: guest specifications */

struct guest_cell {
	hwloc_bitmap_t vcpus;	/* guest vcpu numbers */
	uint64_t memory_mib;	/* 0: share of the guest memory not given to other cells */
	int node;		/* the host node (OS index) the cell must go to, or -1 (issue 21) */
};

/* guest-devices.c: a device a guest asks for (issue 16) */
enum dev_match { DEV_BY_PCI, DEV_BY_NET, DEV_BY_VF_OF, DEV_BY_CLASS };
enum dev_policy { DEV_REQUIRED, DEV_ROOT, DEV_SOCKET, DEV_PREFERRED };

struct guest_device {
	enum dev_match by;
	char *value;		/* bus id, OS name, PF (name or bus id), or class name */
	enum dev_policy policy;
	unsigned cell;		/* the guest cell that must be local to it */
};

struct tmap_guest {
	char *name;
	char *origin;		/* where it came from, for messages: a file name or NULL */
	unsigned vcpus;
	unsigned sockets, cores, threads;
	bool topology_set;
	uint64_t memory_mib;
	bool memory_set;	/* given by the spec, not the default */
	bool thread_policy_set, emulator_policy_set;
	unsigned ncells;	/* 0: one cell with everything */
	struct guest_cell *cells;
	unsigned cell_count;	/* --cells K: K even cells, when ncells == 0 */
	enum tmap_cpu_policy cpu_policy;
	enum tmap_thread_policy thread_policy;
	enum tmap_emulator_policy emulator_policy;
	enum tmap_memory_mode memory_mode;
	unsigned iothreads;
	uint64_t shares, period;
	int64_t quota;
	uint64_t page_kib;	/* hugepage size backing the memory, 0: normal pages */
	unsigned ndevices;
	struct guest_device *devices;
	bool pinned;		/* never moved to make room for another guest */
	bool cells_share_nodes;	/* more cells than nodes with CPUs: cells may share nodes */
	hwloc_bitmap_t pus;	/* host PUs to pin to exactly; NULL: any */
	unsigned *pu_order;	/* the same in the order written: vcpu i runs on pu_order[i] */
	unsigned npus;
	char *pus_list;		/* the list as given, for messages */
	hwloc_bitmap_t dedicated; /* cpu_policy mixed: the vcpus pinned one to one; NULL: none */
	char *dedicated_list;	/* the same in list syntax */
	hwloc_bitmap_t realtime; /* vcpus run SCHED_FIFO (guest-realtime.c); NULL: none */
	unsigned realtime_priority;
};

const char *dev_policy_name(enum dev_policy p);
int dev_policy_from_name(const char *s);
const char *dev_match_key(enum dev_match m);
void guest_devices_clear(struct tmap_guest *g);
int guest_devices_from_json(struct tmap_guest *g, struct json_object *arr, const char *origin,
			    struct tmap_error *err);
int guest_devices_validate(const struct tmap_guest *g, struct tmap_error *err);
struct json_object *guest_devices_to_json(const struct tmap_guest *g);

struct tmap_guests {
	size_t n, size;			/* guests held, slots allocated */
	struct tmap_guest **guest;	/* in the order they were added */
	void *by_name;			/* tsearch() tree of the same guests, by name */
};

/* A guest name: 1 to GUEST_MAX_NAME letters, digits, '.', '_', '-', not starting with '.'
 * or '-'. */
#define GUEST_MAX_NAME 64
bool guest_name_valid(const char *name);
/* Drop the guest added last (guest-json.c: a text that did not read to its end). */
void guests_drop_last(struct tmap_guests *l);

/* guest-explicit.c: placements asked explicitly (issue 21): a node per cell, exact PUs */
void guest_explicit_clear(struct tmap_guest *g);
int guest_explicit_validate(const struct tmap_guest *g, struct tmap_error *err);
/* Does g ask for a node or for PUs? */
bool guest_explicit(const struct tmap_guest *g);

/* guest-mixed.c: cpu_policy mixed, dedicated vcpus and shared ones (issue 21) */
void guest_mixed_clear(struct tmap_guest *g);
int guest_mixed_validate(const struct tmap_guest *g, struct tmap_error *err);

/* guest-realtime.c: realtime vcpus, SCHED_FIFO at a priority (issue 21) */
void guest_realtime_clear(struct tmap_guest *g);
int guest_realtime_validate(const struct tmap_guest *g, struct tmap_error *err);
/* Is vcpu v of g realtime? */
bool guest_vcpu_realtime(const struct tmap_guest *g, unsigned v);
/* The spec keys "realtime_cpus" and "realtime_priority" into o, when g has realtime vcpus. */
struct json_object;
int guest_realtime_to_json(const struct tmap_guest *g, struct json_object *o);

/* Guest cells as the solver sees them, explicit or implied, memory resolved. */
struct guest_cells {
	unsigned n;
	unsigned size;		/* cells allocated, n or more: reused guest after guest */
	hwloc_bitmap_t *vcpus;
	unsigned *nvcpus;	/* per cell: how many vcpus, without asking the bitmap */
	uint64_t *memory_mib;
	bool implied;		/* the spec gave no cells */
};
/* Resolve g's cells into c: zeroed, or resolved before (its storage is reused). */
int guest_resolve_cells(const struct tmap_guest *g, struct guest_cells *c);
/* The same in two steps: each cell's vcpu count and memory, which is all a decision reads;
 * then the cells' vcpu sets, for the guest that is placed. */
int guest_resolve_counts(const struct tmap_guest *g, struct guest_cells *c);
int guest_cells_vcpus(const struct tmap_guest *g, struct guest_cells *c);
void guest_cells_clear(struct guest_cells *c);

const char *cpu_policy_name(enum tmap_cpu_policy p);
const char *thread_policy_name(enum tmap_thread_policy p);
const char *emulator_policy_name(enum tmap_emulator_policy p);
const char *memory_mode_name(enum tmap_memory_mode m);
int cpu_policy_from_name(const char *s);
int thread_policy_from_name(const char *s);
int emulator_policy_from_name(const char *s);
int memory_mode_from_name(const char *s);
/* "4G", "512M", "4096" (MiB), "1.5G" is refused: whole MiB only. */
int parse_size_mib(const char *s, uint64_t *ret);
/* A hugepage size: "2M", "1G", "2048" (KiB), "2048k"; a power of two of 8 KiB or more. */
int parse_page_kib(const char *s, uint64_t *ret);
/* Is this hugepages value "large" or "any", a size the placement chooses? */
static inline bool
page_size_chosen(uint64_t page_kib)
{
	return page_kib == TMAP_HUGEPAGES_LARGE || page_kib == TMAP_HUGEPAGES_ANY;
}

/* ------------------------------------------------------------------------------------- */
/* plan.c: the solver's output */

struct plan_cell {
	hwloc_bitmap_t vcpus;	/* guest vcpu numbers */
	unsigned node;		/* host node OS index */
	uint64_t memory_mib;
	hwloc_bitmap_t pus;	/* host PUs of this cell's vcpus */
	char *vcpus_list, *pus_list;
};

/* A device a placed guest holds (plan-devices.c). */
struct plan_device {
	char *pci;		/* bus id */
	char *names;		/* its OS devices, "eth2"; "" when none */
	enum dev_class cls;
	unsigned cell;		/* the guest cell it is for */
	int node;		/* the host node (OS index) it is local to; -1: unknown or several */
	enum dev_policy policy;
	bool local;		/* the cell's node is local to it, as the policy asks */
};

struct plan_guest {
	char *name;
	unsigned vcpus, sockets, cores, threads;
	uint64_t memory_mib;
	enum tmap_cpu_policy cpu_policy;
	enum tmap_thread_policy thread_policy;
	enum tmap_emulator_policy emulator_policy;
	enum tmap_memory_mode memory_mode;
	unsigned iothreads;
	uint64_t shares, period;
	int64_t quota;
	uint64_t page_kib;		/* hugepage size of the memory, 0: normal pages */
	bool pinned;			/* never moved to make room for another guest */
	hwloc_bitmap_t dedicated;	/* cpu_policy mixed: the vcpus pinned one to one; NULL
					 * for the other policies */
	char *dedicated_list;
	hwloc_bitmap_t realtime;	/* realtime vcpus (SCHED_FIFO), or NULL: none */
	char *realtime_list;
	unsigned realtime_priority;

	hwloc_bitmap_t *vcpu_pus;	/* per vcpu: its PU (dedicated) or float set (shared) */
	char **vcpu_lists;
	int *vcpu_node;			/* per vcpu: host node OS index */
	char **vcpu_core_lists;		/* per vcpu: its host core's PUs ("8,20"), or NULL */
	unsigned ncells;
	struct plan_cell *cells;
	bool cells_proposed;		/* the spec had no cells; these mirror the host */
	hwloc_bitmap_t emulator;	/* emulator, and iothreads unless share-host */
	char *emulator_list;
	hwloc_bitmap_t iothread;	/* iothreads: emulator, or the vcpu PUs (share-host) */
	char *iothread_list;
	hwloc_bitmap_t held;		/* every PU the guest keeps from others */
	char *cpus_list;		/* vcpu PUs and emulator: what the guest may run on */
	char *held_list;		/* held, in list syntax */
	hwloc_bitmap_t memory_nodes;	/* node OS indexes */
	char *memory_list;
	size_t nexplain;
	char **explain;
	unsigned ndevices;
	struct plan_device *devices;
	/* A recorded plan whose guest still runs another vcpu count (the state's running_vcpus,
	 * set by the session on its copy, never by the solver): under TMAP_APPLY_RESIZE the
	 * target may run this count or the plan's, and any other is drift. 0: any count is
	 * pending under TMAP_APPLY_RESIZE, as for a resize being applied. */
	unsigned running_vcpus;
};

void plan_devices_clear(struct plan_guest *pg);
int plan_devices_copy(struct plan_guest *dst, const struct plan_guest *src);
struct json_object *plan_devices_json(const struct plan_guest *pg);
/* Device i of pg, which the plan has local to its cell, against what is in force: pus, the PUs
 * the cell's vcpus run on, and mems, the guest's memory nodes (NULL when not observed).
 * *ret: the drift line when the cell is no longer local to it, else NULL. */
int plan_device_drift(const struct tmap_plan *p, const struct plan_guest *pg, unsigned i,
		      hwloc_const_bitmap_t pus, hwloc_const_bitmap_t mems, char **ret);
int plan_devices_from_json(const struct tmap_topology *t, struct json_object *arr,
			   const char *path, const char *at, struct plan_guest *pg,
			   struct tmap_error *err);
/* One step of making room: a vcpu re-pinned (from/to: PU OS indexes) or a cell's memory
 * moved (from/to: node OS indexes). */
struct plan_move {
	char *guest;
	int vcpu, cell;			/* one of them is -1 */
	unsigned from, to;
	uint64_t memory_mib;		/* a cell's move: MiB to migrate */
};

/* One line for a host whose memory hwloc made up (tmap_topology.memory_assumed). */
#define TOPO_MEMORY_ASSUMED \
	"synthetic host without (memory=...): hwloc gives each NUMA node 1 GiB; give it, e.g. 'numa:2(memory=64GiB)'"

struct tmap_plan {
	char *host;			/* the topology source */
	bool memory_assumed;		/* of the host: see TOPO_MEMORY_ASSUMED */
	size_t nmoves;			/* tmap_host_make_room(): the moves, in order */
	struct plan_move *moves;
	unsigned moves_lower_bound;	/* the fewest moves proved needed */
	bool moves_searched;		/* the plan came from a search for room */
	bool rebalanced;		/* tmap_host_rebalance(): the largest cell before and after */
	unsigned cell_before, cell_after;
	/* rebalanced for the recent requests: how many of them fit before and after; both 0
	 * when the solver has seen none */
	unsigned recent_before, recent_after, recent_count;
	size_t nguests;
	struct plan_guest *guests;
	size_t nrejected;		/* --batch: the guests that did not fit, and why */
	char **rejected_names, **rejected_reasons;
	char *state_path;		/* placed around this state's guests (a session), or NULL */
	size_t state_guests;		/* how many it recorded */
	/* The host's node distances, so a format can tell each guest how far apart its cells
	 * are: nnodes x nnodes in the order of node_os (OS indexes); NULL when the host reports
	 * none. */
	unsigned nnodes;
	unsigned *node_os;
	unsigned *distances;
	/* The host's nodes with PUs, so verify can tell which node a PU read back is on and
	 * whether a device's cell is still local to it: OS index, package logical index (-1
	 * when none) and usable PUs of each. */
	unsigned nhost_nodes;
	unsigned *host_node_os;
	int *host_node_package;
	hwloc_bitmap_t *host_node_pus;
};

/* Take the host's source, memory_assumed and distances into a new plan. */
int plan_set_host(struct tmap_plan *p, const struct tmap_topology *t);
/* The host distance between two nodes (OS indexes); 0 when the host reports none. */
unsigned plan_distance(const struct tmap_plan *p, unsigned from_os, unsigned to_os);
/* Can the guest be told its cells' distances? See plan.c. */
bool plan_guest_distances_valid(const struct tmap_plan *p, const struct plan_guest *g);

/* Free n moves and their array. */
void plan_moves_free(struct plan_move *moves, size_t n);
/* Append one line to a guest's explanation. */
int plan_guest_explain(struct plan_guest *pg, const char *fmt, ...) _printf_(2, 3);
/* Is vcpu v pinned to a PU of its own (a dedicated guest's, a mixed guest's dedicated one)? */
static inline bool
plan_vcpu_dedicated(const struct plan_guest *pg, unsigned v)
{
	return pg->cpu_policy == TMAP_CPU_DEDICATED ||
	       (pg->cpu_policy == TMAP_CPU_MIXED && pg->dedicated &&
		hwloc_bitmap_isset(pg->dedicated, v));
}
/* The vcpus of cell c that float over the shared pool (a shared guest's, a mixed guest's
 * shared ones): what counts against the pool's overcommit. */
unsigned plan_cell_shared(const struct plan_guest *pg, unsigned c);
/* Compute the list strings of a finished guest. */
int plan_guest_finish(struct plan_guest *pg);
/* Free the lists plan_guest_finish() made (and the reasons), to make them again. */
void plan_guest_free_lists(struct plan_guest *pg);
void plan_guest_clear(struct plan_guest *pg);
/* A deep copy of src into dst (dst is overwritten, not cleared); dst is untouched on -ENOMEM. */
int plan_guest_copy(struct plan_guest *dst, const struct plan_guest *src);
/* Is this plan complete enough to print? */
int plan_guest_check(const struct plan_guest *pg, struct tmap_error *err);

/* plan-realtime.c: a plan's realtime vcpus (issue 21) */
int plan_realtime_from_guest(struct plan_guest *pg, const struct tmap_guest *g);
int plan_realtime_copy(struct plan_guest *dst, const struct plan_guest *src);
void plan_realtime_clear(struct plan_guest *pg);
bool plan_vcpu_realtime(const struct plan_guest *pg, unsigned v);
/* Does pg make the same vcpus realtime as g asks (the priority aside)? */
bool plan_realtime_answers(const struct plan_guest *pg, const struct tmap_guest *g);
/* The same realtime vcpus kept: pg takes the priority g asks now. */
void plan_realtime_priority(struct plan_guest *pg, const struct tmap_guest *g);
/* The vcpu PUs that are not realtime's: where the emulator and iothreads may float. */
void plan_realtime_strip(const struct plan_guest *pg, hwloc_bitmap_t set);

/* format-json.c: one guest of a plan as the JSON contract says (json-c object, or NULL on
 * allocation failure); state.c reads it back. */
struct json_object;
struct json_object *plan_guest_to_json(const struct plan_guest *pg);

/* backend.c: what is in force, read through a backend, for the session's adopt. */
struct tmap_backend_module;
struct tmap_target;
struct tmap_observed;
struct tmap_report;
int backend_observe(const struct tmap_backend_module *m, const struct tmap_target *target,
		    const struct tmap_plan *plan, size_t guest, struct tmap_observed **ret,
		    struct tmap_error *err);
/* backend.c: tmap_apply(), with one more step inside the transaction: then(data, err) once
 * the plan is read back and matches; its failure restores the target like any other step's
 * (the report says TMAP_STEP_APPLY, or TMAP_STEP_RESTORE when then returned -ENOTRECOVERABLE:
 * what it wrote could not all be put back). */
int backend_apply_then(const struct tmap_backend_module *m, const struct tmap_target *target,
		       const struct tmap_plan *plan, size_t guest, unsigned flags,
		       int (*then)(void *data, struct tmap_error *err), void *data,
		       struct tmap_report **ret_report, struct tmap_error *err);
/* One set read back (kind: enum tmap_observed_kind), or NULL. */
hwloc_const_bitmap_t observed_get(const struct tmap_observed *o, int kind, unsigned index);
void observed_release(struct tmap_observed *o);

/* host.c: record a guest the state file says is placed, checking it against this host. */
int host_adopt(struct tmap_host *h, struct plan_guest *pg, struct tmap_error *err);
/* An empty plan of nguests guests for host t: 0 or -ENOMEM. */
int plan_new(const struct tmap_topology *t, size_t nguests, struct tmap_plan **ret);
/* The plan of the i-th placed guest (borrowed), or NULL. */
const struct plan_guest *host_guest_plan_at(const struct tmap_host *h, size_t i);
/* The host's shared pool (list syntax, malloc()ed), for the state. */
char *host_pool_list(const struct tmap_host *h);
int host_restore_pool(struct tmap_host *h, const char *list, struct tmap_error *err);
/* May the PUs of list be reserved around the placed guests? 0, or -EBUSY with the name of a
 * guest that uses one of them in holder (cut to size), or -EINVAL for a bad list. */
int host_reserve_check(const struct tmap_host *h, const char *list, char *holder, size_t size);
/* The housekeeping PUs `share-host` emulators float over (the state's record; the reserve
 * when never called). */
int host_set_housekeeping(struct tmap_host *h, const char *list, struct tmap_error *err);
const struct tmap_topology *host_topology(const struct tmap_host *h);
/* For host-format.c: the solver's view of the host (free PUs, pools, memory), and the i-th
 * guest's memory per node index (MiB, borrowed; NULL past the end) with its pool in
 * *ret_page (an index into the topology's page sizes, or -1 for normal memory). */
struct solver;
const struct solver *host_solver_view(const struct tmap_host *h);
/* For tests: do the solver's per-node sums agree with its cores, counted anew? */
bool solver_sums_agree(const struct solver *s);
const uint64_t *host_guest_memory(const struct tmap_host *h, size_t i, int *ret_page);
/* A pool change (tmap_session_set_pool()): host_follow_pool_begin() before the state is
 * loaded lets shared guests outside the new pool in; host_follow_pool() after it floats each
 * shared guest's cells over the pool of their nodes as it is now (refused, -ENOSPC, when a
 * cell is wider than its node's pool or a node's shared vcpus exceed it at the ratio), and
 * lists the guests whose sets changed (names borrowed from the host; the array to free). */
void host_follow_pool_begin(struct tmap_host *h);
/* A shared guest's recorded cells against the pool of their nodes (given, or each node's
 * usable PUs that no dedicated guest holds): *ret, a malloc()ed line for the first cell that
 * does not float over its node's whole pool, else NULL. */
int host_shared_drift(const struct tmap_host *h, const char *name, char **ret);
/* One more drift line in a report (verify's own findings beside the backend's). */
int report_drift(struct tmap_report *r, const char *line);
/* The vcpus the target ran when it was read back, as a backend that lists TMAP_APPLY_RESIZE
 * observes them (1 + the highest vcpu number); 0 when none was read or the backend cannot
 * tell a count (cgroup). What the session records as running_vcpus. */
unsigned report_vcpus_observed(const struct tmap_report *r);
int host_follow_pool(struct tmap_host *h, const char ***ret_names, size_t *ret_n,
		     struct tmap_error *err);
/* host-pool.c reaches the i-th guest's plan through this (host.c keeps its ledger). */
struct plan_guest *host_guest_plan_edit(struct tmap_host *h, size_t i);
/* Without a given pool: 1 when a recorded shared guest (or a mixed one's shared vcpus) floats
 * over other PUs than its node's pool as the host now holds it (host_follow_pool() moves it
 * there), 0 when none does or the pool is given, -ENOMEM. */
int host_follow_needed(const struct tmap_host *h);
/* Guest name's first shared cell off its node's pool: the cell, its node, the set it floats
 * over and the pool (malloc()ed lists): 1, or 0 (cell -1) when every cell floats over its
 * node's pool, -ENOMEM. */
struct shared_off {
	int cell;
	unsigned node;
	char *got, *want;
};
int host_shared_off(const struct tmap_host *h, const char *name, struct shared_off *ret);
void shared_off_clear(struct shared_off *o);

/* isolate-tasks.c: cgroup v1's root cpuset cgroup, whose tasks are narrowed one by one */
struct task_narrowing {
	const char *cgroup_root, *proc_root;
	hwloc_const_bitmap_t dedicated, host;
	/* Record a task narrowed (its directory, start time, old and new masks). */
	int (*record)(void *data, const char *path, unsigned long long start,
		      const char *restore, const char *value, struct tmap_error *err);
	/* A task left where it is, and why: 0 or -ENOMEM. */
	int (*refuse)(void *data, pid_t tid, const char *comm, const char *cpus, const char *why);
	void *data;
};
/* Each task of the root cgroup's tasks file allowed on a dedicated PU and elsewhere too
 * narrowed to what it allowed of the host's PUs (all of them where none), read back. */
int tasks_narrow(const struct task_narrowing *tn, struct tmap_error *err);
/* Is path a task's directory (".../task/TID"), the path of an affinity change? */
bool task_change_path(const char *path, pid_t *ret_tid);
/* Set the affinity of the task at path to list, unless it ended or another task took its tid
 * (start, when not 0, differs from its start time). */
int task_put_back(const char *path, unsigned long long start, const char *list);
/* After the task changes were put back: a task started since the newest of them, whose mask
 * is the one its parent (its process's leader, for a thread) was narrowed to, inherited it,
 * and gets what the parent got back; its own children after it. Best effort: 0 or -ENOMEM. */
int tasks_widen_inherited(const char *const *paths, const char *const *restores,
			  const char *const *values, const unsigned long long *starts, size_t n);
/* isolate.c: the options an isolation was made with (narrow, flags, roots; no guest
 * cgroups), borrowed from it, for the state to record. */
void isolation_options(const struct tmap_isolation *iso, struct tmap_isolate_options *ret);
/* Put back what iso wrote, last first: 0 or the first failure. */
int isolation_undo(const struct tmap_isolation *iso, struct tmap_error *err);
/* The start time of the task change i changed (0 for a file). */
unsigned long long isolation_change_start(const struct tmap_isolation *iso, size_t i);
/* tmap_isolate_restore() with each task change's start time (starts may be NULL). */
int isolate_restore(const char *const *paths, const char *const *values,
		    const unsigned long long *starts, size_t n, struct tmap_error *err);

/* format-table.c: the SGR sequence of each part of a table, or "" without
 * TMAP_FORMAT_COLOUR; `end` closes each. */
struct table_style {
	const char *head, *dim, *alert, *end;
};
struct table_style table_style(unsigned flags);

/* format-*.c: each writes one plan, already checked by plan_guest_check(), into a stream */
int format_plan_table(const struct tmap_plan *plan, const struct table_style *st, FILE *out,
		      struct tmap_error *err);
int format_plan_json(const struct tmap_plan *plan, FILE *out, struct tmap_error *err);
int format_plan_libvirt(const struct tmap_plan *plan, FILE *out, struct tmap_error *err);
int format_plan_qemu(const struct tmap_plan *plan, FILE *out, struct tmap_error *err);

#endif
