/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A libvirt domain's XML with a plan written into it, for `topomap xml-filter`: the elements
 * that say where the guest runs are rewritten and nothing else is touched.
 *
 * The plan's elements come from the library's own libvirt format (tmap_plan_format()), parsed
 * and moved into the domain, so there is one writer of libvirt XML:
 * - <vcpu>: placement='static' and cpuset = every PU of the plan (its count and the rest kept);
 * - <cputune>: its <vcpupin>, <emulatorpin> and <iothreadpin> replaced, every other child
 *   (shares, period, quota, vcpusched, cachetune...) kept;
 * - <numatune>: its <memory> and <memnode>s replaced, anything else kept;
 * - <cpu><numa>: the domain's cells are kept as they are (the plan's cells are those cells);
 *   a domain without cells that the plan spreads over several nodes gets the plan's cells;
 * - <memoryBacking>: for a guest in hugepages, its <hugepages> replaced (the plan's page size
 *   and cells), every other child kept.
 * Comments, processing instructions, unknown elements and attributes stay where they are; the
 * serializer writes attributes in double quotes and the XML declaration only when the input
 * had one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlsave.h>

#include "domain-rewrite.h"

static xmlNodePtr
child(xmlNodePtr parent, const char *name)
{
	for (xmlNodePtr n = parent ? parent->children : NULL; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE && xmlStrEqual(n->name, BAD_CAST name))
			return n;
	return NULL;
}

/* Whitespace that opens a line at depth d. */
static xmlNodePtr
indent(int depth)
{
	char ws[80];

	snprintf(ws, sizeof(ws), "\n%*s", depth * 2 > 76 ? 76 : depth * 2, "");
	return xmlNewText(BAD_CAST ws);
}

static bool
blank(xmlNodePtr n)
{
	return n && n->type == XML_TEXT_NODE && xmlIsBlankNode(n);
}

/* Is the document laid out on lines (blank text between the domain's children)? New
 * elements then go on lines of their own; in a document on one line, they go inline. */
static bool
pretty(xmlNodePtr n)
{
	while (n->parent && n->parent->type == XML_ELEMENT_NODE)
		n = n->parent;
	for (xmlNodePtr c = n->children; c; c = c->next)
		if (blank(c))
			return true;
	return false;
}

/* Keep the first `len` bytes of a text node; one left empty goes. */
static void
cut_text(xmlNodePtr text, size_t len)
{
	xmlChar *kept;

	if (len == 0) {
		xmlUnlinkNode(text);
		xmlFreeNode(text);
		return;
	}
	/* Its content may be the parser's dictionary's: set anew, never cut in place. */
	kept = xmlStrndup(text->content, (int)len);
	if (kept) {
		xmlNodeSetContent(text, kept);
		xmlFree(kept);
	}
}

/* Cut the blanks that end a text node that is not blank itself (stray text in an element
 * libvirt gives only children), so that what is added after it goes on a line of its own
 * the same way on every rewrite. */
static void
trim_end(xmlNodePtr text)
{
	size_t len;

	if (!text || text->type != XML_TEXT_NODE || !text->content || blank(text))
		return;
	len = strlen((const char *)text->content);
	while (len > 0 && strchr(" \t\r\n", text->content[len - 1]))
		len--;
	cut_text(text, len);
}

/*
 * Take out a node and, in a document laid out on lines, its line's indentation: the text
 * before it from its last newline on, when only blanks follow that newline. That is what
 * add() puts before an element, so the next rewrite takes out exactly what this one put in.
 * Any other text stays as it is: blanks trimmed before a dropped element on one line, where
 * the rewrite puts its elements after the text untrimmed, made a second rewrite change the
 * document (fuzz-xml-filter, issue 14).
 */
static void
drop(xmlNodePtr n)
{
	xmlNodePtr prev = n->prev;

	if (pretty(n) && prev && prev->type == XML_TEXT_NODE && prev->content) {
		const char *text = (const char *)prev->content, *nl = strrchr(text, '\n');

		if (nl && nl[1 + strspn(nl + 1, " \t")] == '\0')
			cut_text(prev, (size_t)(nl - text));
	}
	xmlUnlinkNode(n);
	xmlFreeNode(n);
}

/* Append `node` as the last element child of parent (at depth `depth`), before the parent's
 * closing tag; before `before` instead when given. */
static int
add(xmlNodePtr parent, xmlNodePtr node, int depth, xmlNodePtr before)
{
	bool lines = pretty(parent);
	xmlNodePtr ws = lines ? indent(depth) : NULL, last = parent->last;
	xmlNodePtr close = lines && !before && !blank(last) ? indent(depth - 1) : NULL;

	if (!node || (lines && !ws) || (lines && !before && !blank(last) && !close)) {
		xmlFreeNode(ws);
		xmlFreeNode(close);
		xmlFreeNode(node);
		return -ENOMEM;
	}
	if (before) {
		xmlAddPrevSibling(before, node);
		if (ws)
			xmlAddPrevSibling(before, ws);
	} else if (lines && blank(last)) {
		/* The node first: a text node added beside another text node is merged into it. */
		xmlAddPrevSibling(last, node);
		xmlAddPrevSibling(node, ws);
	} else {
		if (ws) {
			trim_end(last);
			xmlAddChild(parent, ws);
		}
		xmlAddChild(parent, node);
		if (close)
			xmlAddChild(parent, close);
	}
	return 0;
}

/* The element `name` under the domain, made (before <devices>, or last) when missing. */
static xmlNodePtr
get_or_add(xmlNodePtr root, const char *name)
{
	xmlNodePtr n = child(root, name);

	if (n)
		return n;
	n = xmlNewDocNode(root->doc, root->ns, BAD_CAST name, NULL);
	if (!n || add(root, n, 1, child(root, "devices")) < 0)
		return NULL;
	return n;
}

/* Drop every child element of parent named one of names (NULL-terminated). */
static void
drop_children(xmlNodePtr parent, const char *const *names)
{
	xmlNodePtr n = parent->children;

	while (n) {
		xmlNodePtr next = n->next;

		if (n->type == XML_ELEMENT_NODE)
			for (const char *const *p = names; *p; p++)
				if (xmlStrEqual(n->name, BAD_CAST * p)) {
					drop(n);
					break;
				}
		n = next;
	}
}

/* Copy into parent every child element of `from` named one of names, in their order. */
static int
copy_children(xmlNodePtr parent, xmlNodePtr from, const char *const *names, int depth)
{
	for (xmlNodePtr n = from ? from->children : NULL; n; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		for (const char *const *p = names; *p; p++)
			if (xmlStrEqual(n->name, BAD_CAST * p) &&
			    add(parent, xmlDocCopyNode(n, parent->doc, 1), depth, NULL) < 0)
				return -ENOMEM;
	}
	return 0;
}

static int
rewrite_vcpu(xmlNodePtr root, const struct tmap_plan *plan)
{
	xmlNodePtr vcpu = child(root, "vcpu");

	if (!vcpu)
		return -EINVAL;
	if (!xmlSetProp(vcpu, BAD_CAST "placement", BAD_CAST "static") ||
	    !xmlSetProp(vcpu, BAD_CAST "cpuset", BAD_CAST tmap_plan_cpuset(plan, 0)))
		return -ENOMEM;
	return 0;
}

static int
rewrite_cputune(xmlNodePtr root, xmlNodePtr frag)
{
	static const char *const pins[] = {"vcpupin", "emulatorpin", "iothreadpin", NULL};
	xmlNodePtr tune = get_or_add(root, "cputune");

	if (!tune)
		return -ENOMEM;
	drop_children(tune, pins);
	return copy_children(tune, child(frag, "cputune"), pins, 2);
}

static int
rewrite_numatune(xmlNodePtr root, xmlNodePtr frag, bool cells)
{
	static const char *const memory[] = {"memory", NULL};
	static const char *const memnodes[] = {"memnode", NULL};
	static const char *const both[] = {"memory", "memnode", NULL};
	xmlNodePtr tune = get_or_add(root, "numatune"), from = child(frag, "numatune");
	int r;

	if (!tune)
		return -ENOMEM;
	drop_children(tune, both);
	r = copy_children(tune, from, memory, 2);
	/* A <memnode> names a guest cell: only for a domain that has cells. */
	if (r == 0 && cells)
		r = copy_children(tune, from, memnodes, 2);
	return r;
}

/* The domain's cells are kept; a domain without any gets the plan's when it has several. */
static int
rewrite_cpu_numa(xmlNodePtr root, xmlNodePtr frag, const struct tmap_plan *plan, bool *ret_cells)
{
	static const char *const numa[] = {"numa", NULL};
	xmlNodePtr cpu = child(root, "cpu");

	*ret_cells = child(cpu, "numa") != NULL;
	if (*ret_cells || tmap_plan_cell_count(plan, 0) < 2)
		return 0;
	cpu = get_or_add(root, "cpu");
	if (!cpu)
		return -ENOMEM;
	*ret_cells = true;
	return copy_children(cpu, child(frag, "cpu"), numa, 2);
}

static int
rewrite_memory_backing(xmlNodePtr root, xmlNodePtr frag, const struct tmap_plan *plan)
{
	static const char *const hugepages[] = {"hugepages", NULL};
	xmlNodePtr backing;

	if (!tmap_plan_hugepage_kib(plan, 0))
		return 0;
	backing = get_or_add(root, "memoryBacking");
	if (!backing)
		return -ENOMEM;
	drop_children(backing, hugepages);
	return copy_children(backing, child(frag, "memoryBacking"), hugepages, 2);
}

/* The plan's libvirt elements, parsed under a <domain> of their own. */
static xmlDocPtr
plan_fragment(const struct tmap_plan *plan, char *msg, size_t size)
{
	struct tmap_error err = {0};
	char *text = NULL, *wrapped = NULL;
	xmlDocPtr doc = NULL;

	if (tmap_plan_format(plan, TMAP_FORMAT_LIBVIRT, 0, &text, &err) < 0) {
		snprintf(msg, size, "%s", err.message);
		return NULL;
	}
	if (asprintf(&wrapped, "<domain>%s</domain>", text) >= 0)
		doc = xmlReadMemory(wrapped, (int)strlen(wrapped), "plan.xml", NULL,
				    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc)
		snprintf(msg, size, "out of memory");
	free(text);
	free(wrapped);
	return doc;
}

static int
rewrite(xmlNodePtr root, const struct tmap_plan *plan, char *msg, size_t size)
{
	xmlDocPtr frag_doc = plan_fragment(plan, msg, size);
	xmlNodePtr frag = xmlDocGetRootElement(frag_doc);
	bool cells = false;
	int r;

	if (!frag)
		return -ENOMEM;
	r = rewrite_vcpu(root, plan);
	if (r == 0)
		r = rewrite_cpu_numa(root, frag, plan, &cells);
	if (r == 0)
		r = rewrite_cputune(root, frag);
	if (r == 0)
		r = rewrite_numatune(root, frag, cells);
	if (r == 0)
		r = rewrite_memory_backing(root, frag, plan);
	xmlFreeDoc(frag_doc);
	if (r < 0)
		snprintf(msg, size, r == -EINVAL ? "the domain's XML has no <vcpu>" : "out of memory");
	return r;
}

/* Did the text begin with an XML declaration (after a BOM and blanks)? */
static bool
has_declaration(const char *xml, size_t len)
{
	size_t i = 0;

	if (len >= 3 && memcmp(xml, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < len && (xml[i] == ' ' || xml[i] == '\t' || xml[i] == '\n' || xml[i] == '\r'))
		i++;
	return len - i >= 5 && memcmp(xml + i, "<?xml", 5) == 0;
}

int
domain_rewrite(const char *xml, size_t len, const struct tmap_plan *plan, char **ret,
	       char *msg, size_t size)
{
	xmlDocPtr doc;
	xmlNodePtr root;
	xmlBufferPtr buf;
	xmlSaveCtxtPtr save;
	int r;

	if (len > INT32_MAX || tmap_plan_guest_count(plan) != 1) {
		snprintf(msg, size, "a domain is one guest");
		return -EINVAL;
	}
	doc = xmlReadMemory(xml, (int)len, "domain.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	root = xmlDocGetRootElement(doc);
	if (!root || !xmlStrEqual(root->name, BAD_CAST "domain")) {
		xmlFreeDoc(doc);
		snprintf(msg, size, "the input is not a libvirt domain's XML");
		return -EINVAL;
	}
	r = rewrite(root, plan, msg, size);
	buf = r == 0 ? xmlBufferCreate() : NULL;
	save = buf ? xmlSaveToBuffer(buf, "UTF-8", has_declaration(xml, len) ? 0 : XML_SAVE_NO_DECL)
		   : NULL;
	if (r == 0) {
		bool saved = save && xmlSaveDoc(save, doc) >= 0;

		if ((save && xmlSaveClose(save) < 0) || !saved ||
		    !(*ret = strdup((const char *)xmlBufferContent(buf)))) {
			snprintf(msg, size, "out of memory");
			r = -ENOMEM;
		}
	}
	if (buf)
		xmlBufferFree(buf);
	xmlFreeDoc(doc);
	return r;
}
