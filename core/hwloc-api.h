/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What differs between the hwloc APIs topomap builds against: 2.x (Debian 12's 2.9 up to
 * 2.14) and 3.0 ("Upgrading to the hwloc 3.0 API" in hwloc's documentation). Every
 * HWLOC_API_VERSION test of core/ and tests/ is here, but the one that reads a NUMA node's
 * page types (topology-pages.c node_page_types()), so that the code using these reads the
 * same under both.
 */
#ifndef TOPOMAP_HWLOC_API_H
#define TOPOMAP_HWLOC_API_H

#include <stdbool.h>
#include <hwloc.h>

#if HWLOC_API_VERSION >= 0x00030000

/* 3.0 drops the NUMA nodes' page_types (size and count of each page type) for the PageSizes
 * topology info (the sizes alone): topomap reads the counts where hwloc read the host. */
#define HWLOC_KEEPS_PAGE_COUNTS false
/* "MEANS" kinds renamed "VALUE" (the old names stay as deprecated aliases). */
#define DISTANCES_KIND_LATENCY HWLOC_DISTANCES_KIND_VALUE_LATENCY
/* 3.0 writes its own XML format by default, which Debian 12's lstopo (2.9) cannot read. */
#define XML_EXPORT_FLAGS HWLOC_TOPOLOGY_EXPORT_XML_FLAG_V2
/* The elements 3.0's XML format adds (its topology-xml.c): a host file lstopo 3 wrote. */
#define XML_ELEMENTS_NEW "memtier", "pci_locality",
#define HWLOC_READS_XML_3 true

/* An OS device's type is a bitmask in 3.0 (a CUDA device is GPU and CoProc). */
static inline bool
osdev_is(hwloc_obj_t obj, hwloc_obj_osdev_types_t type)
{
	return (obj->attr->osdev.types & type) != 0;
}

/* The info attributes of an object, in a struct hwloc_infos_s since 3.0. */
#define OBJ_INFOS_COUNT(obj) ((obj)->infos.count)
#define OBJ_INFO(obj, i) ((obj)->infos.array[i])

#else

#define HWLOC_KEEPS_PAGE_COUNTS true
#define DISTANCES_KIND_LATENCY HWLOC_DISTANCES_KIND_MEANS_LATENCY
#define XML_EXPORT_FLAGS 0
#define XML_ELEMENTS_NEW
#define HWLOC_READS_XML_3 false

static inline bool
osdev_is(hwloc_obj_t obj, hwloc_obj_osdev_type_t type)
{
	return obj->attr->osdev.type == type;
}

#define OBJ_INFOS_COUNT(obj) ((obj)->infos_count)
#define OBJ_INFO(obj, i) ((obj)->infos[i])

#endif

#endif
