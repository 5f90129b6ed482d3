/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Realtime vcpus in a domain's XML (issue 21): <cputune><vcpusched vcpus='1-3'
 * scheduler='fifo' priority='1'/>, read as one canonical text to compare with the plan's, and
 * written into a definition. libvirt applies <vcpusched> when it starts the vcpu threads and
 * has no call to change it on a running domain.
 */
#include "libvirt-backend.h"
#include "libvirt-util.h"
#include "cpulist.h"
#include "vcpu-sched.h"

int
realtime_text(const char *vcpus, unsigned priority, char **ret)
{
	if (!vcpus || !*vcpus)
		*ret = strdup("none");
	else if (asprintf(ret, "fifo priority %u on vcpus %s", priority, vcpus) < 0)
		*ret = NULL;
	return *ret ? 0 : -ENOMEM;
}

/* One <vcpusched> with a realtime scheduler, as "SCHED priority P on vcpus LIST" appended to
 * f; a list libvirt would not write is kept as written. */
static void
append_one(FILE *f, xmlNodePtr n, bool *first)
{
	_cleanup_xml_char_ xmlChar *vcpus = xmlGetProp(n, BAD_CAST "vcpus");
	_cleanup_xml_char_ xmlChar *sched = xmlGetProp(n, BAD_CAST "scheduler");
	_cleanup_xml_char_ xmlChar *prio = xmlGetProp(n, BAD_CAST "priority");
	_cleanup_free_ unsigned long *mask = NULL;
	_cleanup_free_ char *list = NULL;
	size_t words = 0;

	if (!sched || (!xmlStrEqual(sched, BAD_CAST "fifo") && !xmlStrEqual(sched, BAD_CAST "rr")))
		return;
	if (vcpus && tmap_cpulist_parse((const char *)vcpus, &mask, &words) == 0)
		tmap_cpulist_format(mask, words, &list);
	fprintf(f, "%s%s priority %s on vcpus %s", *first ? "" : ", ", (const char *)sched,
		prio ? (const char *)prio : "?",
		list ? list : vcpus ? (const char *)vcpus : "?");
	*first = false;
}

int
domain_xml_realtime(const char *xml, char **ret, struct tmap_error *err)
{
	_cleanup_xml_doc_ xmlDocPtr doc = xml ? xml_parse(xml, "domain.xml") : NULL;
	xmlNodePtr root = domain_root(doc), tune;
	char *text = NULL;
	size_t len = 0;
	bool first = true;
	FILE *f;

	if (!root)
		return tmap_error_set(err, -EINVAL, "the domain's XML is not a <domain>");
	f = open_memstream(&text, &len);
	if (!f)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	tune = xml_child(root, "cputune");
	for (xmlNodePtr n = xml_child(tune, "vcpusched"); n; n = xml_next(n))
		append_one(f, n, &first);
	if (first)
		fputs("none", f);
	if (fclose(f) != 0) {
		free(text);
		return tmap_error_set(err, -ENOMEM, "out of memory");
	}
	*ret = text;
	return 0;
}

int
domain_xml_set_realtime(const char *xml, const char *vcpus, unsigned priority, char **ret_xml,
			struct tmap_error *err)
{
	_cleanup_xml_doc_ xmlDocPtr doc = xml ? xml_parse(xml, "domain.xml") : NULL;
	xmlNodePtr root = domain_root(doc), tune, n;
	char prio[16];

	if (!root)
		return tmap_error_set(err, -EINVAL, "the domain's XML is not a <domain>");
	tune = xml_child(root, "cputune");
	if (!tune && !(tune = xmlNewChild(root, NULL, BAD_CAST "cputune", NULL)))
		return tmap_error_set(err, -ENOMEM, "out of memory");
	xml_remove_children(tune, "vcpusched");
	snprintf(prio, sizeof(prio), "%u", priority);
	if (vcpus && *vcpus) {
		n = xmlNewChild(tune, NULL, BAD_CAST "vcpusched", NULL);
		if (!n || !xmlNewProp(n, BAD_CAST "vcpus", BAD_CAST vcpus) ||
		    !xmlNewProp(n, BAD_CAST "scheduler", BAD_CAST "fifo") ||
		    !xmlNewProp(n, BAD_CAST "priority", BAD_CAST prio))
			return tmap_error_set(err, -ENOMEM, "out of memory");
	}
	return xml_doc_text(doc, ret_xml, err);
}

/* Add the vcpus of one <vcpusched> to mask (of `words` words); false when they are no list. */
static bool
add_vcpus(xmlNodePtr n, unsigned long *mask, size_t words)
{
	_cleanup_xml_char_ xmlChar *vcpus = xmlGetProp(n, BAD_CAST "vcpus");
	_cleanup_free_ unsigned long *one = NULL;
	size_t nwords = 0;

	if (!vcpus || tmap_cpulist_parse((const char *)vcpus, &one, &nwords) < 0 || nwords > words)
		return false;
	for (size_t i = 0; i < nwords; i++)
		mask[i] |= one[i];
	return true;
}

int
describe_realtime(xmlNodePtr root, struct tmap_guest *g)
{
	size_t words = tmap_guest_vcpus(g) / TMAP_CPULIST_WORD_BITS + 1;
	_cleanup_free_ unsigned long *mask = calloc(words, sizeof(*mask));
	long prio = -1;

	if (!mask)
		return -ENOMEM;
	for (xmlNodePtr n = xml_child(xml_child(root, "cputune"), "vcpusched"); n; n = xml_next(n)) {
		_cleanup_xml_char_ xmlChar *sched = xmlGetProp(n, BAD_CAST "scheduler");
		_cleanup_xml_char_ xmlChar *p = xmlGetProp(n, BAD_CAST "priority");
		long pn = p ? strtol((const char *)p, NULL, 10) : 0;

		if (sched && xmlStrEqual(sched, BAD_CAST "rr"))
			return 0;
		if (!sched || !xmlStrEqual(sched, BAD_CAST "fifo"))
			continue;
		if ((prio >= 0 && pn != prio) || !add_vcpus(n, mask, words))
			return 0;
		prio = pn;
	}
	return describe_realtime_mask(g, mask, words, prio);
}
