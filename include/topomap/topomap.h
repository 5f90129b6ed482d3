/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file topomap.h
 * libtopomap: place virtual machines and containers on a host's CPUs and NUMA memory.
 *
 * The library models a host (from hwloc), takes guest specifications and computes a plan:
 * which host PU runs each vcpu, which host NUMA node holds each guest cell's memory, where
 * emulator threads and iothreads float. Computing a plan has no side effect.
 *
 * Conventions:
 * - Every CPU or node number is an OS index; every set is a string in the kernel's list
 *   syntax ("0-3,8"), the same string that goes to cpuset.cpus or virsh vcpupin.
 * - Functions returning int return >= 0 on success and a negative errno code on failure.
 *   The ones that can fail for a reason worth telling take a last `struct tmap_error *`
 *   (caller-owned, may be NULL) that receives a one-line message.
 *   -EINVAL means bad input, -ENOSPC means "does not fit"; anything else is a runtime error.
 * - Constructors write their `ret` argument only on success. `_free()` functions accept NULL
 *   and return NULL. Getters return pointers owned by the object.
 * - The library never prints, never exits and has no global mutable state.
 */
#ifndef TOPOMAP_TOPOMAP_H
#define TOPOMAP_TOPOMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && !defined(TMAP_EXPORT)
#define TMAP_EXPORT __attribute__((visibility("default")))
#elif !defined(TMAP_EXPORT)
#define TMAP_EXPORT
#endif

/* A call kept for programs built against an older version: the compiler names its successor. */
#if defined(__GNUC__)
#define TMAP_DEPRECATED(successor) __attribute__((deprecated("use " successor)))
#else
#define TMAP_DEPRECATED(successor)
#endif

/** Version of the library's public interface, as a string ("0.1.0"). */
TMAP_EXPORT const char *tmap_version(void);

/* ---------------------------------------------------------------------------------------- */
/** @name Errors */

/** Longest message kept in a struct tmap_error, including the terminating NUL. */
#define TMAP_ERROR_MAX 512

/** A caller-owned error: the negative errno code and a one-line message. */
struct tmap_error {
	int code;			/**< negative errno code, 0 when no error was set */
	char message[TMAP_ERROR_MAX];	/**< one line, no trailing newline */
};

/**
 * Fill an error (when not NULL) and return its code, so that a call site stays one line:
 * `return tmap_error_set(err, -errno, "cannot open cgroup '%s'", path);`. For backends too.
 * @param err the error, or NULL.
 * @param code a negative errno code.
 * @param fmt printf format of a one-line message.
 * @return code.
 */
TMAP_EXPORT int tmap_error_set(struct tmap_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/**
 * Put text before an error's message ("open: " + message).
 * @param err the error, or NULL.
 * @param fmt printf format of the prefix.
 * @return the error's code (0 when err is NULL): never return it as the result of a call
 *         that failed, as a NULL err would turn the failure into success.
 */
TMAP_EXPORT int tmap_error_prefix(struct tmap_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---------------------------------------------------------------------------------------- */
/** @name Host topology */

struct tmap_topology;

/**
 * Build the host model from a source string (deprecated).
 *
 * @deprecated Call the constructor of the kind of host instead: tmap_topology_new_live(),
 * _synthetic(), _xml(), _json() or _backend(). This one guesses the kind from the string
 * (a file named "host:1.xml" is read as backend "host"), and stays for the programs built
 * against 0.1: it is one small parser (the grammar below) in front of those constructors.
 * The `topomap` command reads its --topology itself (cli/source.c).
 *
 * @param source "live" (or NULL) for this machine; "synthetic:DESC" for an hwloc synthetic
 *        description such as "synthetic:pack:2 numa:2 core:8 pu:2"; "NAME:ARG" for a host
 *        described by backend NAME (e.g. "libvirt:qemu+ssh://host/system"); anything else
 *        (a path with a '/' or without a "word:" prefix) is an hwloc XML file as written by
 *        `lstopo --of xml`, or, when its name ends in ".json", a host described as
 *        tmap_topology_new_from_json() reads it. Each form is one of the constructors below.
 * @param flags 0, or TMAP_TOPOLOGY_XML_PROBE for an XML file.
 * @param ret receives the new topology on success.
 * @param reterr receives the message on failure; may be NULL.
 * @return 0, -EINVAL for a malformed source, -ENOENT for a missing file, or another -errno.
 */
TMAP_EXPORT int tmap_topology_new(const char *source, unsigned flags, struct tmap_topology **ret,
				  struct tmap_error *reterr)
	TMAP_DEPRECATED("tmap_topology_new_live(), _synthetic(), _xml(), _json() or _backend()");

/** Flags of tmap_topology_new_xml() and tmap_topology_new(). */
enum tmap_topology_flags {
	/** Read the XML with hwloc in a short-lived child process first, and refuse a file that
	 *  kills hwloc there. The file is always checked before hwloc reads it (what is known to
	 *  crash hwloc 2.9 is refused); this is for what is not known yet, at the cost of a
	 *  fork(), which a program with threads or a SIGCHLD handler may not want. */
	TMAP_TOPOLOGY_XML_PROBE = 1u << 0,
};

/**
 * Build the model of this machine: every online PU and NUMA node, whatever cpuset the
 * calling process is confined to, so the host is the same host from any context. When the
 * caller's cpuset or memory nodes are narrower, tmap_topology_warning() says so.
 * @param flags must be 0.
 * @param ret receives the new topology on success.
 * @param reterr receives the message on failure; may be NULL.
 * @return 0 or -errno.
 */
TMAP_EXPORT int tmap_topology_new_live(unsigned flags, struct tmap_topology **ret,
				       struct tmap_error *reterr);

/**
 * Build the model of an hwloc synthetic host.
 * @param description e.g. "pack:2 numa:2 core:8 pu:2" (without "synthetic:").
 * @param flags must be 0.
 * @param ret receives the new topology on success; its source is "synthetic:DESCRIPTION".
 * @param reterr receives the message on failure; may be NULL.
 * @return 0, -EINVAL for a description hwloc refuses, or -ENOMEM.
 */
TMAP_EXPORT int tmap_topology_new_synthetic(const char *description, unsigned flags,
					    struct tmap_topology **ret,
					    struct tmap_error *reterr);

/**
 * Build the model of a host exported as hwloc XML (`lstopo --of xml`). The file must be a
 * regular file; it is checked before hwloc reads it, and objects out of PU order are read in
 * order, with a warning, where hwloc would print on stderr. No process is forked unless
 * TMAP_TOPOLOGY_XML_PROBE is given.
 * @param path the file.
 * @param flags 0 or TMAP_TOPOLOGY_XML_PROBE.
 * @param ret receives the new topology on success.
 * @param reterr receives the message on failure; may be NULL.
 * @return 0, -ENOENT for a missing file, -EINVAL for a file that is not valid hwloc XML, or
 *         another -errno.
 */
TMAP_EXPORT int tmap_topology_new_xml(const char *path, unsigned flags,
				      struct tmap_topology **ret, struct tmap_error *reterr);

/**
 * Build the model of a host described in a JSON file, as tmap_topology_new_from_json()
 * reads it.
 * @param path the file (a regular file).
 * @param flags must be 0.
 * @param ret receives the new topology on success.
 * @param reterr receives the message on failure; may be NULL.
 * @return 0, -ENOENT, -EINVAL or another -errno.
 */
TMAP_EXPORT int tmap_topology_new_json(const char *path, unsigned flags,
				       struct tmap_topology **ret, struct tmap_error *reterr);

/**
 * Build the model of a host a backend describes (the libvirt backend reads a remote host's
 * capabilities). Loads the backend's plugin, which runs its constructors.
 * @param backend the backend's name ("libvirt").
 * @param arg what the backend needs to reach the host ("qemu+ssh://host/system").
 * @param flags must be 0.
 * @param ret receives the new topology on success; its source is "BACKEND:ARG".
 * @param reterr receives the message on failure; may be NULL.
 * @return 0 or -errno.
 */
TMAP_EXPORT int tmap_topology_new_backend(const char *backend, const char *arg, unsigned flags,
					  struct tmap_topology **ret,
					  struct tmap_error *reterr);

/**
 * Build the host model from a JSON description, the shape `topomap topology --format json`
 * prints: {"nodes":[{"id":0,"memory_mib":N,"socket":0,"cores":[[0,12],[1,13]]}],
 * "distances":[[10,21],[21,10]]}. "socket" and "distances" are optional; a node without
 * "cores" has memory only.
 * @param text the JSON text.
 * @param len its length.
 * @param origin name used in messages and as the topology's source.
 * @param ret receives the new topology.
 * @param reterr receives the message on failure.
 * @return 0, -EINVAL or -ENOMEM.
 */
TMAP_EXPORT int tmap_topology_new_from_json(const char *text, size_t len, const char *origin,
					    struct tmap_topology **ret, struct tmap_error *reterr);

/**
 * How many warnings the host's reader left: the caller's cpuset narrower than the live
 * machine, objects of an XML file read in PU order, ... Each is one line, without a newline;
 * the library prints none of them (nor lets hwloc print).
 * @param topology the topology, or NULL (0).
 * @return the number of warnings.
 */
TMAP_EXPORT size_t tmap_topology_warning_count(const struct tmap_topology *topology);

/**
 * @param topology the topology.
 * @param index 0 to tmap_topology_warning_count() - 1.
 * @return the warning (borrowed, valid while the topology is), or NULL for an index out of
 *         range.
 */
TMAP_EXPORT const char *tmap_topology_warning(const struct tmap_topology *topology,
					      size_t index);

/**
 * Free a topology.
 * @param topology the topology, or NULL.
 * @return NULL.
 */
TMAP_EXPORT struct tmap_topology *tmap_topology_free(struct tmap_topology *topology);

/**
 * @param topology the host.
 * @return the number of NUMA nodes, including those without CPUs.
 */
TMAP_EXPORT unsigned tmap_topology_node_count(const struct tmap_topology *topology);

/**
 * @param topology the host.
 * @param node index of the node, 0 to tmap_topology_node_count() - 1 (not its OS index).
 * @return the node's OS index, or -EINVAL for an index out of range.
 */
TMAP_EXPORT int tmap_topology_node_id(const struct tmap_topology *topology, unsigned node);

/**
 * @param topology the host.
 * @param node index of the node.
 * @return the node's normal memory in MiB (its local memory less its hugepage pools), or 0
 *         for an index out of range.
 */
TMAP_EXPORT uint64_t tmap_topology_node_memory_mib(const struct tmap_topology *topology,
						   unsigned node);

/**
 * One hugepage pool of a node. Every node lists the same sizes (the host's), ascending; a
 * node without a pool of a size has count 0.
 * @param topology the host.
 * @param node index of the node.
 * @param index index of the page size, from 0.
 * @param ret_page_kib the page size in KiB (2048 for 2 MiB pages); may be NULL.
 * @param ret_count the pages the node's pool holds; may be NULL.
 * @return 0, -ENOENT past the last page size, -EINVAL for a bad node.
 */
TMAP_EXPORT int tmap_topology_node_hugepages(const struct tmap_topology *topology, unsigned node,
					     unsigned index, uint64_t *ret_page_kib,
					     uint64_t *ret_count);

/**
 * @param topology the host.
 * @param node index of the node.
 * @return the node's usable PUs in list syntax ("" for a node without CPUs), or NULL for an
 *         index out of range.
 */
TMAP_EXPORT const char *tmap_topology_node_cpus(const struct tmap_topology *topology,
						unsigned node);

/**
 * @param topology the host.
 * @param from index of the first node.
 * @param to index of the second node.
 * @return the relative distance (10 for a node to itself) as hwloc or the firmware reports
 *         it, 0 when the host reports no distances, -EINVAL for an index out of range.
 */
TMAP_EXPORT int tmap_topology_distance(const struct tmap_topology *topology, unsigned from,
				       unsigned to);

/** Output formats. Not every object supports every format. */
enum tmap_format {
	TMAP_FORMAT_TABLE = 0,	 /**< human-readable text */
	TMAP_FORMAT_JSON = 1,	 /**< JSON; the keys are a stable contract */
	TMAP_FORMAT_LIBVIRT = 2, /**< libvirt domain XML elements (plans only) */
	TMAP_FORMAT_QEMU = 3,	 /**< QEMU command-line options (plans only) */
};

/**
 * Format flag of tmap_plan_format(), tmap_host_format() and tmap_topology_format(): the
 * table with ANSI SGR sequences for a terminal, by what each part is: headings and column
 * headers bold, the reasons of a plan dim, guests that do not fit red. The text without
 * the sequences is the table without the flag. Ignored by the other formats.
 */
#define TMAP_FORMAT_COLOUR (1u << 0)

/**
 * Describe the host.
 * @param topology the host.
 * @param format TMAP_FORMAT_TABLE or TMAP_FORMAT_JSON.
 * @param flags must be 0.
 * @param ret receives a malloc()ed NUL-terminated string on success.
 * @param reterr receives the message on failure; may be NULL.
 * @return 0 or a negative errno code.
 */
TMAP_EXPORT int tmap_topology_format(const struct tmap_topology *topology, enum tmap_format format,
				     unsigned flags, char **ret, struct tmap_error *reterr);

/** A PCI device of the host (issue 16): what tmap_topology_device() fills in. The strings
 * are borrowed from the topology. Initialise with TMAP_DEVICE_INFO_INIT. */
struct tmap_device_info {
	uint32_t size;		  /**< sizeof(struct tmap_device_info), set by the _INIT macro */
	const char *pci;	  /**< bus id, "0000:3b:00.0" */
	const char *device_class; /**< "network", "storage", "gpu" or "other" */
	unsigned vendor_id;	  /**< PCI vendor id */
	unsigned device_id;	  /**< PCI device id */
	const char *names;	  /**< its OS devices, comma-separated ("eth2"); "" when none */
	const char *physfn;	  /**< an SR-IOV VF: its PF's bus id; NULL otherwise */
	const char *root;	  /**< its root complex (host bridge), "0000:[3a-3b]"; "" when none */
	int node;		  /**< OS index of the one node with PUs it is local to, or -1 */
	int locality_known;	  /**< 0: the host does not say (numa_node -1) */
	const char *nodes;	  /**< the nodes it is local to, list syntax */
	const char *cpus;	  /**< the PUs it is local to, list syntax */
};
#define TMAP_DEVICE_INFO_INIT {.size = sizeof(struct tmap_device_info)}

/**
 * Number of PCI devices of the host that hwloc keeps as important (network, storage, GPUs,
 * accelerators): 0 for a synthetic host.
 * @param topology a host, or NULL (0).
 */
TMAP_EXPORT size_t tmap_topology_device_count(const struct tmap_topology *topology);

/**
 * One PCI device of the host.
 * @param topology the host.
 * @param index 0 to tmap_topology_device_count() - 1.
 * @param ret filled in; its size must be set (TMAP_DEVICE_INFO_INIT).
 * @return 0, -EINVAL (a NULL argument or a size too small) or -ENOENT (no such index).
 */
TMAP_EXPORT int tmap_topology_device(const struct tmap_topology *topology, size_t index,
				     struct tmap_device_info *ret);

struct tmap_plan;

/**
 * The host as hwloc XML, for hwloc's lstopo to draw (`lstopo -i FILE.xml out.svg`), with
 * the guests of a plan painted on it: each guest's PUs, and a NUMA node holding one guest's
 * memory alone, carry an "lstopoStyle" info in the guest's colour (a lighter shade for PUs
 * a guest only keeps from others), and the root one "lstopoLegend" info per guest naming
 * its colour, PUs and nodes.
 * @param topology the host the plan was computed for.
 * @param plan the plan, or NULL for the bare host.
 * @param flags must be 0.
 * @param ret receives a malloc()ed NUL-terminated XML document on success.
 * @param reterr receives the message on failure; may be NULL.
 * @return 0, -EINVAL or -ENOMEM.
 */
TMAP_EXPORT int tmap_topology_export_xml(const struct tmap_topology *topology,
					 const struct tmap_plan *plan, unsigned flags, char **ret,
					 struct tmap_error *reterr);

/* ---------------------------------------------------------------------------------------- */
/** @name Guests */

/** How vcpus use host PUs. */
enum tmap_cpu_policy {
	TMAP_CPU_DEDICATED = 0, /**< each vcpu pinned to a PU of its own */
	TMAP_CPU_SHARED = 1,	/**< vcpus float over PUs that no dedicated guest holds */
	/**
	 * the vcpus of tmap_guest_set_dedicated_cpus() pinned as dedicated ones, the others
	 * floating over the shared pool of their cell's node (Nova's hw:cpu_policy=mixed)
	 */
	TMAP_CPU_MIXED = 2,
};

/** How dedicated vcpus use host SMT siblings. */
enum tmap_thread_policy {
	TMAP_THREAD_PREFER = 0,	 /**< fill sibling PUs where possible */
	TMAP_THREAD_ISOLATE = 1, /**< one vcpu per host core; its siblings stay empty */
	TMAP_THREAD_REQUIRE = 2, /**< whole host cores only, vcpus packed onto siblings */
};

/** Where the emulator threads (and iothreads) run. */
enum tmap_emulator_policy {
	TMAP_EMULATOR_SHARE = 0,   /**< float over the guest's vcpu PUs */
	TMAP_EMULATOR_ISOLATE = 1, /**< one PU of their own on cell 0's node */
	/**
	 * float over the host's housekeeping PUs (recorded, else the reserve) on cell 0's
	 * node, or over all of them when that node has none; iothreads stay with the vcpus
	 */
	TMAP_EMULATOR_SHARE_HOST = 2,
};

/** NUMA memory mode, as libvirt's numatune names them. */
enum tmap_memory_mode {
	TMAP_MEMORY_STRICT = 0,
	TMAP_MEMORY_PREFERRED = 1,
	TMAP_MEMORY_INTERLEAVE = 2,
	TMAP_MEMORY_RESTRICTIVE = 3,
};

struct tmap_guest;

/** Most vcpus in one guest. */
#define TMAP_MAX_VCPUS 4096
/** Most threads per guest core. */
#define TMAP_MAX_GUEST_THREADS 8
/** Most iothreads per guest. */
#define TMAP_MAX_IOTHREADS 64
/** Most memory of one guest, and of one of its cells, in MiB: 4 PiB (x86-64's 52-bit
 *  physical addresses). Every size is checked against it, so sums of cells cannot wrap. */
#define TMAP_MAX_MEMORY_MIB (UINT64_C(4) << 30)
/** Hugepage sizes a guest may ask for, in KiB: powers of two from 8 KiB to 16 GiB. */
#define TMAP_HUGEPAGE_KIB_MIN 8
#define TMAP_HUGEPAGE_KIB_MAX (16ULL << 20)
/** tmap_guest_set_hugepages(): the largest page size whose free pages hold every cell on its
 *  node, refused when no pool does (Nova's hw:mem_page_size "large"). */
#define TMAP_HUGEPAGES_LARGE UINT64_MAX
/** tmap_guest_set_hugepages(): as TMAP_HUGEPAGES_LARGE, else normal pages (Nova's "any"). */
#define TMAP_HUGEPAGES_ANY (UINT64_MAX - 1)
/** QoS ranges, those of libvirt's cputune, so that a plan never holds a value it refuses. */
#define TMAP_QOS_SHARES_MIN 2
#define TMAP_QOS_SHARES_MAX 262144
#define TMAP_QOS_PERIOD_MIN 1000
#define TMAP_QOS_PERIOD_MAX 1000000
#define TMAP_QOS_QUOTA_MIN 1000
#define TMAP_QOS_QUOTA_MAX 17592186044415LL

/**
 * Create a guest with defaults: dedicated, thread policy prefer, emulator share, one cell,
 * strict memory, 1024 MiB, sockets=1 cores=vcpus threads=1, no iothreads, no QoS.
 *
 * @param name the guest's name: letters, digits and "._-", 1 to 64 characters.
 * @param vcpus number of vcpus, 1 to 4096.
 * @param ret receives the new guest on success.
 * @param reterr receives the message on failure; may be NULL.
 * @return 0 or -EINVAL.
 */
TMAP_EXPORT int tmap_guest_new(const char *name, unsigned vcpus, struct tmap_guest **ret,
			       struct tmap_error *reterr);

/**
 * Free a guest.
 * @param guest the guest, or NULL.
 * @return NULL.
 */
TMAP_EXPORT struct tmap_guest *tmap_guest_free(struct tmap_guest *guest);

/**
 * @param guest the guest.
 * @return its name.
 */
TMAP_EXPORT const char *tmap_guest_name(const struct tmap_guest *guest);

/*
 * Getters: what the guest holds, as set or by default, so that a caller can compare a guest
 * read from a running target (tmap_backend_describe()) with what it was asked.
 */

/**
 * @param guest the guest.
 * @return its number of vcpus, or 0 for NULL.
 */
TMAP_EXPORT unsigned tmap_guest_vcpus(const struct tmap_guest *guest);

/**
 * The guest CPU topology, as set or by default (1 socket of vcpus cores of 1 thread).
 * @param guest the guest.
 * @param sockets receives the sockets; may be NULL.
 * @param cores receives the cores per socket; may be NULL.
 * @param threads receives the threads per core; may be NULL.
 */
TMAP_EXPORT void tmap_guest_topology(const struct tmap_guest *guest, unsigned *sockets,
				     unsigned *cores, unsigned *threads);

/**
 * @param guest the guest.
 * @return its memory in MiB: as set, else the sum of its cells' when every cell gives its
 *         memory, else the default 1024; 0 for NULL.
 */
TMAP_EXPORT uint64_t tmap_guest_memory_mib(const struct tmap_guest *guest);

/**
 * @param guest the guest.
 * @return its number of NUMA cells: those added, else those asked with
 *         tmap_guest_set_cell_count(), else 1; 0 for NULL.
 */
TMAP_EXPORT unsigned tmap_guest_cell_count(const struct tmap_guest *guest);

/**
 * @param guest the guest.
 * @return the hugepage size backing its memory in KiB, 0 for normal pages, or
 *         TMAP_HUGEPAGES_LARGE or TMAP_HUGEPAGES_ANY as set (the plan has the size chosen:
 *         tmap_plan_hugepage_kib()).
 */
TMAP_EXPORT uint64_t tmap_guest_hugepages(const struct tmap_guest *guest);

/**
 * @param guest the guest.
 * @return its number of iothreads.
 */
TMAP_EXPORT unsigned tmap_guest_iothreads(const struct tmap_guest *guest);

/**
 * The guest's CPU QoS, as tmap_guest_set_qos() takes it: 0 for a value not set.
 * @param guest the guest.
 * @param shares receives the cpu shares; may be NULL.
 * @param period_us receives the CFS period; may be NULL.
 * @param quota_us receives the CFS quota (-1: unlimited); may be NULL.
 */
TMAP_EXPORT void tmap_guest_qos(const struct tmap_guest *guest, uint64_t *shares,
				uint64_t *period_us, int64_t *quota_us);

/**
 * Set the guest CPU topology. Checked by tmap_guest_validate(): sockets * cores * threads
 * must equal the vcpu count.
 * @param guest the guest.
 * @param sockets sockets, >= 1.
 * @param cores cores per socket, >= 1.
 * @param threads threads per core, 1 to TMAP_MAX_GUEST_THREADS.
 * @return 0 or -EINVAL for a zero or too many threads.
 */
TMAP_EXPORT int tmap_guest_set_topology(struct tmap_guest *guest, unsigned sockets,
					unsigned cores, unsigned threads);

/**
 * @param guest the guest.
 * @param memory_mib total guest memory in MiB, 1 to TMAP_MAX_MEMORY_MIB.
 * @return 0 or -EINVAL.
 */
TMAP_EXPORT int tmap_guest_set_memory_mib(struct tmap_guest *guest, uint64_t memory_mib);

/**
 * Back the guest's memory with hugepages of one size, as libvirt's
 * <memoryBacking><hugepages><page size=.../>: each cell then takes whole free pages of that
 * size from its node's pool instead of normal memory, so every cell's memory must be a
 * multiple of the page size (tmap_guest_validate() checks it).
 * @param guest the guest.
 * @param page_kib the page size in KiB (2048, 1048576), a power of two from
 *        TMAP_HUGEPAGE_KIB_MIN to TMAP_HUGEPAGE_KIB_MAX; 0 for normal pages (the default);
 *        TMAP_HUGEPAGES_LARGE or TMAP_HUGEPAGES_ANY to let the placement choose the size.
 * @return 0 or -EINVAL.
 */
TMAP_EXPORT int tmap_guest_set_hugepages(struct tmap_guest *guest, uint64_t page_kib);

/** Most devices one guest may ask for. */
#define TMAP_MAX_GUEST_DEVICES 64

/**
 * Ask for a host device next to a guest cell (issue 16), as `--device SPEC` does: SPEC is
 * one of `pci=BUS_ID`, `net=NAME`, `vf_of=PF` (a free VF of the PF of that name or bus id),
 * `class=network|storage|gpu|other` (a free device of the class), then optionally
 * `policy=required|root|socket|preferred` (default required) and `cell=K` (default 0),
 * separated by commas: "net=eth2,policy=root,cell=1". The solver places cell K on the
 * device's node (required), on a node its root complex is local to (root), in its package
 * (socket), or there if it can (preferred), and the device is the guest's alone.
 * @param guest the guest.
 * @param spec the request.
 * @param reterr receives the message on failure; may be NULL.
 * @return 0, -EINVAL (a spec not understood, too many devices) or -ENOMEM.
 */
TMAP_EXPORT int tmap_guest_add_device(struct tmap_guest *guest, const char *spec,
				      struct tmap_error *reterr);

/**
 * Number of devices the guest asks for.
 * @param guest a guest, or NULL (0).
 */
TMAP_EXPORT size_t tmap_guest_device_count(const struct tmap_guest *guest);

/**
 * Add a guest NUMA cell. Cells are numbered in the order they are added. Without any cell,
 * the guest has one cell holding every vcpu and all memory.
 * @param guest the guest.
 * @param cpus the cell's vcpus in list syntax ("0-3").
 * @param memory_mib the cell's memory in MiB (at most TMAP_MAX_MEMORY_MIB), or 0 to split
 *        the guest memory evenly among the cells that give none.
 * @param reterr receives the message on failure; may be NULL.
 * @return 0 or -EINVAL for a malformed list or a size over TMAP_MAX_MEMORY_MIB.
 */
TMAP_EXPORT int tmap_guest_add_cell(struct tmap_guest *guest, const char *cpus,
				    uint64_t memory_mib, struct tmap_error *reterr);

/**
 * Ask for K cells of equal size (vcpus split in order, at guest core boundaries).
 * @param guest the guest.
 * @param cells number of cells, >= 1; replaces any cell added before.
 * @return 0 or -EINVAL.
 */
TMAP_EXPORT int tmap_guest_set_cell_count(struct tmap_guest *guest, unsigned cells);

/** @param guest the guest. @param policy the policy. @return 0 or -EINVAL. */
TMAP_EXPORT int tmap_guest_set_cpu_policy(struct tmap_guest *guest, enum tmap_cpu_policy policy);
/**
 * The vcpus of a mixed guest (TMAP_CPU_MIXED; spec key "dedicated_cpus", option
 * `--dedicated-cpus`, Nova's hw:cpu_dedicated_mask) that are pinned one to one to PUs of their
 * own; its other vcpus float over the shared pool. tmap_guest_validate() refuses the set with
 * another policy, a mixed guest without it, a vcpu the guest lacks, every vcpu (that is
 * TMAP_CPU_DEDICATED) and, with threads > 1, a guest core split between the two parts.
 * @param guest the guest.
 * @param vcpus guest vcpus in list syntax ("0-1"); NULL or "" for none.
 * @param reterr receives the message on failure; may be NULL.
 * @return 0, -EINVAL (not a list) or -ENOMEM.
 */
TMAP_EXPORT int tmap_guest_set_dedicated_cpus(struct tmap_guest *guest, const char *vcpus,
					      struct tmap_error *reterr);
/**
 * @param guest the guest.
 * @return the dedicated vcpus of a mixed guest in list syntax, as set, or NULL when none.
 */
TMAP_EXPORT const char *tmap_guest_dedicated_cpus(const struct tmap_guest *guest);
/** @param guest the guest. @param policy the policy. @return 0 or -EINVAL. */
TMAP_EXPORT int tmap_guest_set_thread_policy(struct tmap_guest *guest,
					     enum tmap_thread_policy policy);
/** @param guest the guest. @param policy the policy. @return 0 or -EINVAL. */
TMAP_EXPORT int tmap_guest_set_emulator_policy(struct tmap_guest *guest,
					       enum tmap_emulator_policy policy);
/**
 * Mark a guest pinned: tmap_host_make_room() never moves it (spec key "pinned": true).
 * @param guest the guest. @param pinned nonzero to pin. @return 0 or -EINVAL.
 */
TMAP_EXPORT int tmap_guest_set_pinned(struct tmap_guest *guest, int pinned);
/**
 * Let a guest with more cells than the host has nodes with CPUs put several cells on one
 * node (spec key "cells_share_nodes": true). Without it such a guest is refused, as its
 * cells would not be NUMA nodes of their own. TMAP_SOLVE_DISTINCT_CELLS refuses it anyway.
 * @param guest the guest. @param share nonzero to let cells share nodes. @return 0 or -EINVAL.
 */
TMAP_EXPORT int tmap_guest_set_cells_share_nodes(struct tmap_guest *guest, int share);
/**
 * Put a cell on one host node (spec key "cells[].node", option `--cell ...,node=N`), as an
 * operator who placed the guest by hand did: the cell's vcpus and memory go there, or the
 * guest is refused (-ENOSPC from the solver) naming the cell, the node and what it lacks.
 * @param guest the guest.
 * @param cell a cell added with tmap_guest_add_cell().
 * @param node the node's OS index, below 1024.
 * @return 0 or -EINVAL (no such cell, a node number Linux never gives).
 */
TMAP_EXPORT int tmap_guest_set_cell_node(struct tmap_guest *guest, unsigned cell, unsigned node);
/**
 * Pin a dedicated guest's vcpus to exactly these host PUs (spec key "pus", option `--pus`):
 * vcpu i runs on the i-th PU in the order written ("2,14,3,15": vcpus 0 and 1 on 2 and 14,
 * SMT siblings on many hosts; a range counts up), one PU per vcpu, none twice
 * (tmap_guest_validate() checks the count). The solver refuses (-ENOSPC) a PU the host lacks,
 * reserved, in the shared pool or held by another guest, one that breaks the thread policy,
 * and a cell whose vcpus it puts on several nodes; each cell's memory goes to its PUs' node.
 * @param guest the guest.
 * @param pus host PUs in list syntax ("4-7"), OS indexes; NULL or "" to pin none.
 * @param reterr receives the message on failure; may be NULL.
 * @return 0, -EINVAL (not a list) or -ENOMEM.
 */
TMAP_EXPORT int tmap_guest_set_pus(struct tmap_guest *guest, const char *pus,
				   struct tmap_error *reterr);
/** Realtime priorities: those of SCHED_FIFO on Linux. */
#define TMAP_REALTIME_PRIORITY_MIN 1
#define TMAP_REALTIME_PRIORITY_MAX 99

/**
 * Run some vcpus of a dedicated guest as realtime threads, SCHED_FIFO at one priority (spec
 * keys "realtime_cpus" and "realtime_priority", options `--realtime-cpus`,
 * `--realtime-priority`; Nova's hw:cpu_realtime_mask, libvirt's <vcpusched>). The solver
 * gives them host cores that no other thread shares: their SMT siblings hold realtime vcpus
 * of the same guest or stay empty, held for it; emulator threads and iothreads never run on
 * them. tmap_guest_validate() refuses them on a shared guest, a vcpu the guest lacks, and
 * with emulator threads shared with the vcpus, a guest whose vcpus are all realtime.
 * @param guest the guest.
 * @param vcpus guest vcpu numbers in list syntax ("1-3"); NULL or "" for none.
 * @param priority 1 to 99 (TMAP_REALTIME_PRIORITY_MIN to _MAX); 0 for the default, 1.
 * @param reterr receives the message on failure; may be NULL.
 * @return 0, -EINVAL (not a list, a priority out of range) or -ENOMEM.
 */
TMAP_EXPORT int tmap_guest_set_realtime(struct tmap_guest *guest, const char *vcpus,
					unsigned priority, struct tmap_error *reterr);
/**
 * The realtime vcpus of a guest, as tmap_guest_set_realtime() set them.
 * @param guest the guest.
 * @param ret_priority receives their priority (0 when none); may be NULL.
 * @return a malloc()ed list ("1-3"), "" when none, NULL for a NULL guest or out of memory.
 */
TMAP_EXPORT char *tmap_guest_realtime(const struct tmap_guest *guest, unsigned *ret_priority);
/** @param guest the guest. @param mode the mode. @return 0 or -EINVAL. */
TMAP_EXPORT int tmap_guest_set_memory_mode(struct tmap_guest *guest, enum tmap_memory_mode mode);
/** @param guest the guest. @param iothreads number of iothreads, 0 to 64. @return 0 or -EINVAL. */
TMAP_EXPORT int tmap_guest_set_iothreads(struct tmap_guest *guest, unsigned iothreads);

/**
 * CPU QoS, as libvirt's cputune: shares (relative weight, 2 to 262144), period (µs, 1000 to
 * 1000000) and quota (µs per period, 1000 to 17592186044415, or -1 for unlimited). A zero
 * leaves the value unset.
 * @param guest the guest.
 * @param shares cpu shares or 0.
 * @param period_us CFS period or 0.
 * @param quota_us CFS quota, -1, or 0.
 * @return 0 or -EINVAL.
 */
TMAP_EXPORT int tmap_guest_set_qos(struct tmap_guest *guest, uint64_t shares, uint64_t period_us,
				   int64_t quota_us);

/**
 * Check a guest: topology matches the vcpu count, cells partition the vcpus exactly, cell
 * memories add up to the guest memory, policies are compatible.
 * @param guest the guest.
 * @param reterr receives the message (naming the guest and the field) on failure.
 * @return 0 or -EINVAL.
 */
TMAP_EXPORT int tmap_guest_validate(const struct tmap_guest *guest, struct tmap_error *reterr);

/** An ordered list of guests with unique names. */
struct tmap_guests;

/**
 * @param ret receives an empty list.
 * @return 0 or -ENOMEM.
 */
TMAP_EXPORT int tmap_guests_new(struct tmap_guests **ret);

/**
 * Free a list and every guest in it.
 * @param guests the list, or NULL.
 * @return NULL.
 */
TMAP_EXPORT struct tmap_guests *tmap_guests_free(struct tmap_guests *guests);

/**
 * Validate a guest and append it. The list takes ownership on success only.
 * @param guests the list.
 * @param guest the guest.
 * @param reterr receives the message on failure; may be NULL.
 * @return 0, -EINVAL (invalid guest, or its name is already in the list) or -ENOMEM.
 */
TMAP_EXPORT int tmap_guests_add(struct tmap_guests *guests, struct tmap_guest *guest,
				struct tmap_error *reterr);

/**
 * Parse guests from JSON text (one object or an array of objects) and append them. Either
 * every guest of the text is appended, or none is.
 * @param guests the list.
 * @param text JSON text.
 * @param len its length in bytes.
 * @param origin name used in messages (usually the file name).
 * @param reterr receives the message (origin, guest, field, value) on failure; may be NULL.
 * @return 0, -EINVAL or -ENOMEM.
 */
TMAP_EXPORT int tmap_guests_parse_json(struct tmap_guests *guests, const char *text, size_t len,
				       const char *origin, struct tmap_error *reterr);

/**
 * Read a JSON guest file (at most 16 MiB) and append its guests, all or none.
 * @param guests the list.
 * @param path the file.
 * @param reterr receives the message on failure; may be NULL.
 * @return 0, -EINVAL, -ENOENT, -EFBIG or another -errno.
 */
TMAP_EXPORT int tmap_guests_load_json(struct tmap_guests *guests, const char *path,
				      struct tmap_error *reterr);

/** @param guests the list. @return the number of guests. */
TMAP_EXPORT size_t tmap_guests_count(const struct tmap_guests *guests);

/**
 * @param guests the list.
 * @param index 0 to tmap_guests_count() - 1.
 * @return the guest, or NULL for an index out of range.
 */
TMAP_EXPORT const struct tmap_guest *tmap_guests_get(const struct tmap_guests *guests,
						     size_t index);

#ifdef __cplusplus
}
#endif

/* The solver and plans, the state file and the host's partition, in headers of their own;
 * each includes this one. */
#include <topomap/plan.h>
#include <topomap/state.h>
#include <topomap/partition.h>

#endif /* TOPOMAP_TOPOMAP_H */
