/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Small helpers of the libvirt backend's own files. The module is a client of libtopomap like
 * any other and sees only its public headers, so the cleanup helpers the core keeps in
 * core/util.h are repeated here rather than shared.
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

#define _cleanup_(f) __attribute__((cleanup(f)))

#define TAKE_PTR(p)                                                                               \
	({                                                                                        \
		__typeof__(p) _p_ = (p);                                                          \
		(p) = NULL;                                                                       \
		_p_;                                                                              \
	})

static inline void
freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void
closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

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

static inline bool
streq(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

/*
 * Fill *err (when not NULL) and return code, so that call sites stay one line. The library's
 * own tmap_error_set() is not part of its public interface.
 */
static inline int set_error(struct tmap_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static inline int
set_error(struct tmap_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return code;
}

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

#endif
