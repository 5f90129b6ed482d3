/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A libvirt domain's XML with a plan written into it, for `topomap xml-filter`: the elements
 * that say where the guest runs are rewritten and nothing else is touched.
 *
 * The plan's elements come from the library's own libvirt format (tmap_plan_format()), parsed
 * and moved into the domain, so there is one writer of libvirt XML:
 * - <vcpu>: placement='static' and cpuset = every PU of the plan (its count and the rest kept);
 * - <cputune>: its <vcpupin>, <emulatorpin> and <iothreadpin> replaced (and <vcpusched> when
 *   the plan has realtime vcpus), every other child
 *   (shares, period, quota, vcpusched, cachetune...) kept;
 * - <numatune>: its <memory> and <memnode>s replaced, anything else kept;
 * - <cpu><numa>: the domain's cells are kept as they are (the plan's cells are those cells);
 *   a domain without cells that the plan spreads over several nodes gets the plan's cells;
 * - <memoryBacking>: for a guest in hugepages, its <hugepages> replaced (the plan's page size
 *   and cells), every other child kept.
 * Comments, processing instructions, unknown elements and attributes stay where they are; the
 * serializer writes attributes in double quotes and the XML declaration only when the input
 * had one.
 *
 * Managers (VDSM, KubeVirt, Proxmox) diff the XML they get back, so nothing moves: a replaced
 * element takes the place of the one it replaces, and an added one goes where libvirt's own
 * formatter writes it (the order tables below), a comment staying with the element after it.
 */
#include <errno.h>
#include <limits.h>
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

/*
 * The order in which libvirt's formatter writes the children of the elements the filter adds
 * to (virDomainDefFormat and the formatters it calls; checked against what
 * `virsh -c test:///default dumpxml` prints). libvirt reads these children in any order.
 */
static const char *const domain_order[] = {
	"name", "uuid", "genid", "title", "description", "metadata", "maxMemory", "memory",
	"currentMemory", "blkiotune", "memtune", "memoryBacking", "vcpu", "vcpus", "iothreads",
	"iothreadids", "defaultiothread", "cputune", "numatune", "resource", "sysinfo",
	"bootloader", "bootloader_args", "os", "idmap", "features", "cpu", "clock",
	"on_poweroff", "on_reboot", "on_crash", "on_lockfailure", "pm", "perf", "devices",
	"seclabel", "keywrap", "launchSecurity", NULL,
};

static const char *const cputune_order[] = {
	"shares", "period", "quota", "global_period", "global_quota", "emulator_period",
	"emulator_quota", "iothread_period", "iothread_quota", "vcpupin", "emulatorpin",
	"iothreadpin", "emulatorsched", "vcpusched", "iothreadsched", "cachetune", "memorytune",
	NULL,
};

static const char *const numatune_order[] = {"memory", "memnode", NULL};

static const char *const memory_backing_order[] = {
	"hugepages", "nosharepages", "locked", "source", "access", "allocation", "discard", NULL,
};

static const char *const cpu_order[] = {
	"model", "vendor", "topology", "cache", "maxphysaddr", "feature", "numa", NULL,
};

static const struct {
	const char *parent;
	const char *const *children;
} orders[] = {
	{"domain", domain_order},
	{"cputune", cputune_order},
	{"numatune", numatune_order},
	{"memoryBacking", memory_backing_order},
	{"cpu", cpu_order},
};

/* Where libvirt writes n among the children of parent, or -1 for an element it does not
 * order (an unknown one, one of another namespace such as <qemu:commandline>). */
static int
rank(xmlNodePtr parent, xmlNodePtr n)
{
	if (n->type != XML_ELEMENT_NODE || (n->ns && n->ns->prefix))
		return -1;
	for (size_t i = 0; i < sizeof(orders) / sizeof(orders[0]); i++) {
		if (!xmlStrEqual(parent->name, BAD_CAST orders[i].parent))
			continue;
		for (int r = 0; orders[i].children[r]; r++)
			if (xmlStrEqual(n->name, BAD_CAST orders[i].children[r]))
				return r;
	}
	return -1;
}

static bool
remark(xmlNodePtr n)
{
	return n && (n->type == XML_COMMENT_NODE || n->type == XML_PI_NODE);
}

/* The first of the comments (and the blanks between them) that lead up to n: what is put
 * before n goes before them, so that they stay with n. */
static xmlNodePtr
lead(xmlNodePtr n)
{
	for (;;) {
		xmlNodePtr p = n->prev;

		if (blank(p) && remark(p->prev))
			n = p->prev;
		else if (remark(p))
			n = p;
		else
			return n;
	}
}

/* Put node into parent at depth `depth`: right after `after`, or before `before`, or as the
 * last child (before the parent's closing tag) when both are NULL. */
static int
add(xmlNodePtr parent, xmlNodePtr node, int depth, xmlNodePtr after, xmlNodePtr before)
{
	bool lines = pretty(parent);
	bool at_end = !after && !before;
	xmlNodePtr ws = lines ? indent(depth) : NULL, last = parent->last;
	xmlNodePtr close = lines && at_end && !blank(last) ? indent(depth - 1) : NULL;

	if (!node || (lines && !ws) || (lines && at_end && !blank(last) && !close)) {
		xmlFreeNode(ws);
		xmlFreeNode(close);
		xmlFreeNode(node);
		return -ENOMEM;
	}
	if (after) {
		/* The node first: a text node added beside another text node is merged into it. */
		xmlAddNextSibling(after, node);
		if (ws)
			xmlAddNextSibling(after, ws);
	} else if (before) {
		xmlAddPrevSibling(before, node);
		if (ws)
			xmlAddPrevSibling(before, ws);
	} else if (lines && blank(last)) {
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

/*
 * Add node to parent where libvirt writes it: after the last child that libvirt writes before
 * it or in its place (so that elements of one name stay in the order they are added), else
 * before the first child (and its comments) that libvirt writes after it, else last. In a
 * domain whose children are out of libvirt's order, the new element so stays next to the
 * element libvirt writes just before it.
 */
static int
add_ordered(xmlNodePtr parent, xmlNodePtr node, int depth)
{
	xmlNodePtr after = NULL, before = NULL;
	int r, after_rank = -1, before_rank = -1;

	if (!node)
		return -ENOMEM;
	r = rank(parent, node);
	for (xmlNodePtr n = parent->children; n && r >= 0; n = n->next) {
		int k = rank(parent, n);

		if (k < 0)
			continue;
		if (k <= r && k >= after_rank) {
			after = n;
			after_rank = k;
		} else if (k > r && (!before || k < before_rank)) {
			before = n;
			before_rank = k;
		}
	}
	if (after)
		before = NULL;
	return add(parent, node, depth, after, before ? lead(before) : NULL);
}

/* The element `name` under the domain, made where libvirt puts it when missing. */
static xmlNodePtr
get_or_add(xmlNodePtr root, const char *name)
{
	xmlNodePtr n = child(root, name);

	if (n)
		return n;
	n = xmlNewDocNode(root->doc, root->ns, BAD_CAST name, NULL);
	if (!n || add_ordered(root, n, 1) < 0)
		return NULL;
	return n;
}

/* The next sibling element of n named `name`. */
static xmlNodePtr
next_named(xmlNodePtr n, const char *name)
{
	for (n = n->next; n; n = n->next)
		if (n->type == XML_ELEMENT_NODE && xmlStrEqual(n->name, BAD_CAST name))
			return n;
	return NULL;
}

/*
 * Put copies of the children of `from` named `name` into parent in place of parent's own: where
 * the first of parent's was (after the comments before it), else where libvirt writes them.
 * With none in `from`, parent's are only taken out.
 */
static int
replace_children(xmlNodePtr parent, xmlNodePtr from, const char *name, int depth)
{
	xmlNodePtr old = child(parent, name);

	for (xmlNodePtr n = child(from, name); n; n = next_named(n, name)) {
		xmlNodePtr copy = xmlDocCopyNode(n, parent->doc, 1);
		int r = old ? add(parent, copy, depth, NULL, old) : add_ordered(parent, copy, depth);

		if (r < 0)
			return r;
	}
	/* The copies are all before the first old one: from it on, every one is old. */
	while (old) {
		xmlNodePtr next = next_named(old, name);

		drop(old);
		old = next;
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

/* A whole-number attribute (<iothread id='N'>, <iothreadpin iothread='N'>), or 0 when it is
 * missing or not one libvirt takes. */
static unsigned long
uint_prop(xmlNodePtr n, const char *name)
{
	xmlChar *v = xmlGetProp(n, BAD_CAST name);
	unsigned long id = 0;
	char *end = NULL;

	if (v && v[0] >= '0' && v[0] <= '9') {
		id = strtoul((const char *)v, &end, 10);
		if (*end || id > UINT_MAX)
			id = 0;
	}
	xmlFree(v);
	return id;
}

static bool
iothread_listed(xmlNodePtr ids, unsigned long id)
{
	for (xmlNodePtr n = child(ids, "iothread"); n; n = next_named(n, "iothread"))
		if (uint_prop(n, "id") == id)
			return true;
	return false;
}

/*
 * The id of the domain's k-th iothread (k from 1), as libvirt numbers them: those <iothreadids>
 * lists, in its order, then the smallest ids from 1 up it does not list, up to <iothreads>
 * (virDomainIOThreadIDDefArrayInit). The plan numbers iothreads 1 to n; a domain with
 * <iothread id='5'/> has no iothread 1, and libvirt refuses a pin of one it does not have.
 */
static unsigned long
iothread_nth(xmlNodePtr root, unsigned long k)
{
	xmlNodePtr ids = child(root, "iothreadids");
	unsigned long seen = 0;

	for (xmlNodePtr n = child(ids, "iothread"); n; n = next_named(n, "iothread"))
		if (uint_prop(n, "id") && ++seen == k)
			return uint_prop(n, "id");
	for (unsigned long id = 1; id <= UINT_MAX; id++)
		if (!iothread_listed(ids, id) && ++seen == k)
			return id;
	return k;
}

/* Give the plan's <iothreadpin>s, numbered 1 to n, the domain's own iothread ids. */
static int
renumber_iothreadpins(xmlNodePtr root, xmlNodePtr tune)
{
	for (xmlNodePtr n = child(tune, "iothreadpin"); n; n = next_named(n, "iothreadpin")) {
		char text[24];

		snprintf(text, sizeof(text), "%lu", iothread_nth(root, uint_prop(n, "iothread")));
		if (!xmlSetProp(n, BAD_CAST "iothread", BAD_CAST text))
			return -ENOMEM;
	}
	return 0;
}

static int
rewrite_cputune(xmlNodePtr root, xmlNodePtr frag)
{
	static const char *const pins[] = {"vcpupin", "emulatorpin", "iothreadpin"};
	xmlNodePtr tune = get_or_add(root, "cputune");
	int r = tune ? 0 : -ENOMEM;

	for (size_t i = 0; r == 0 && i < sizeof(pins) / sizeof(pins[0]); i++)
		r = replace_children(tune, child(frag, "cputune"), pins[i], 2);
	/* Realtime vcpus (issue 21): the plan's <vcpusched> when it has one; a domain's own is
	 * kept otherwise (one with another scheduler is none of the plan's business). */
	if (r == 0 && child(child(frag, "cputune"), "vcpusched"))
		r = replace_children(tune, child(frag, "cputune"), "vcpusched", 2);
	return r == 0 ? renumber_iothreadpins(root, tune) : r;
}

static int
rewrite_numatune(xmlNodePtr root, xmlNodePtr frag, bool cells)
{
	xmlNodePtr tune = get_or_add(root, "numatune"), from = child(frag, "numatune");
	int r;

	if (!tune)
		return -ENOMEM;
	r = replace_children(tune, from, "memory", 2);
	/* A <memnode> names a guest cell: only for a domain that has cells. */
	if (r == 0)
		r = replace_children(tune, cells ? from : NULL, "memnode", 2);
	return r;
}

/* The domain's cells are kept; a domain without any gets the plan's when it has several. */
static int
rewrite_cpu_numa(xmlNodePtr root, xmlNodePtr frag, const struct tmap_plan *plan, bool *ret_cells)
{
	xmlNodePtr cpu = child(root, "cpu");

	*ret_cells = child(cpu, "numa") != NULL;
	if (*ret_cells || tmap_plan_cell_count(plan, 0) < 2)
		return 0;
	cpu = get_or_add(root, "cpu");
	if (!cpu)
		return -ENOMEM;
	*ret_cells = true;
	return replace_children(cpu, child(frag, "cpu"), "numa", 2);
}

static int
rewrite_memory_backing(xmlNodePtr root, xmlNodePtr frag, const struct tmap_plan *plan)
{
	xmlNodePtr backing;

	if (!tmap_plan_hugepage_kib(plan, 0))
		return 0;
	backing = get_or_add(root, "memoryBacking");
	if (!backing)
		return -ENOMEM;
	return replace_children(backing, child(frag, "memoryBacking"), "hugepages", 2);
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
