/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Small helpers of the libvirt backend's own files, beside the project's header-only helpers
 * (common/util.h); the module sees only libtopomap's public headers.
 */
#ifndef TOPOMAP_LIBVIRT_UTIL_H
#define TOPOMAP_LIBVIRT_UTIL_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <topomap/topomap.h>

#include "util.h"

static inline void
xml_docp(xmlDocPtr *doc)
{
	if (*doc)
		xmlFreeDoc(*doc);
}
#define _cleanup_xml_doc_ _cleanup_(xml_docp)

static inline void
xml_charp(xmlChar **s)
{
	if (*s)
		xmlFree(*s);
}
#define _cleanup_xml_char_ _cleanup_(xml_charp)

/* Parse an XML document held in memory: no network, no entity expansion, nothing printed. */
static inline xmlDocPtr
xml_parse(const char *text, const char *url)
{
	return xmlReadMemory(text, (int)strlen(text), url, NULL,
			     XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

/* The first child element of `parent` named `name`, or NULL. */
static inline xmlNodePtr
xml_child(xmlNodePtr parent, const char *name)
{
	for (xmlNodePtr n = parent ? parent->children : NULL; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE && xmlStrEqual(n->name, BAD_CAST name))
			return n;
	return NULL;
}

/* The next sibling element named like `node`, or NULL. */
static inline xmlNodePtr
xml_next(xmlNodePtr node)
{
	for (xmlNodePtr n = node->next; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE && xmlStrEqual(n->name, node->name))
			return n;
	return NULL;
}

/* domain-xml.c: the <domain> root element of a parsed document, or NULL; a document as
 * text, malloc()ed into *ret (0 or -ENOMEM with the message). */
xmlNodePtr domain_root(xmlDocPtr doc);
int xml_doc_text(xmlDocPtr doc, char **ret, struct tmap_error *err);
/* domain-vcpusched.c: the domain's <vcpusched> as the guest's realtime vcpus, when a plan can
 * say it (SCHED_FIFO at one priority, whole guest cores, not every vcpu); otherwise the guest
 * is left without and the domain's own elements are kept. 0 or -ENOMEM. */
struct tmap_guest;
int describe_realtime(xmlNodePtr root, struct tmap_guest *g);
/* Remove every child element of parent named name. */
void xml_remove_children(xmlNodePtr parent, const char *name);

#endif
