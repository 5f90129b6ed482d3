/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hwloc XML checked, and put in order, before hwloc reads it.
 *
 * hwloc 2.9 (Debian 12) dereferences missing sets in some malformed XML and dies (fixed
 * upstream later: open-mpi/hwloc#783, #816), and prints a 9-line banner on stderr when the
 * children of an object are not in the order of their first PU. Both happen inside the
 * embedding program. This light reader (elements and attributes; no entity is resolved, no
 * DTD read) refuses what would crash hwloc: an element hwloc does not know, a CPU or memory
 * object without its four sets (as hwloc does since open-mpi/hwloc#783), a set that does not
 * parse. It refuses too what would crash topomap after hwloc read it: a PU or a NUMA node
 * without an OS index or beyond Linux's (TOPOLOGY_MAX_PU, TOPOLOGY_MAX_NODES), a PU whose sets
 * are not that PU alone.
 * It then writes the children of each object back in the order of their first PU, which is
 * what hwloc does after its banner, and says so in a warning the topology keeps.
 */
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>

#include "internal.h"

#define XML_MAX_DEPTH 128

struct xel {
	size_t start;		/* offset of '<' */
	size_t body;		/* offset after the start tag's '>' */
	size_t end;		/* offset after the element's last '>' */
	size_t parent, first_child, last_child, next_sibling; /* SIZE_MAX: none */
	unsigned line;
	bool object;		/* an <object> */
	bool normal;		/* an object hwloc keeps in its parent's list of normal children */
	bool memory;		/* NUMANode, MemCache */
	bool pu, numa;		/* as hwloc reads the type: "PU", "pu"; "NUMANode", "Node", "numa" */
	bool has_cpuset, has_complete_cpuset, has_nodeset, has_complete_nodeset;
	bool has_os_index;
	long long os_index_value; /* -1: not a decimal number */
	int first_pu;		/* first PU of complete_cpuset; INT_MAX when empty */
	int cpuset_pu, complete_cpuset_pu; /* the set's only PU; -1: none or several */
	size_t cpuset_at, complete_cpuset_at; /* offsets of the values, for messages */
	char type[24];
	char os_index[24];
};

struct xml {
	const char *text;
	size_t len;
	const char *origin;
	struct xel *el;
	size_t n, cap;
	struct tmap_error *err;
};

/* The element names hwloc 2.9's importer knows (topology-xml.c), and those of hwloc 3's
 * XML format when built against it. */
static const char *const known_elements[] = {
	"topology", "object", "page_type", "info", "distances", "latency", "distances2",
	"distances2hetero", "indexes", "u64values", "userdata", "cpukind", "memattr",
	"memattr_value", "support", "diff", XML_ELEMENTS_NEW
};

/* Objects outside the CPU tree: no cpuset to check, no order among CPU children. */
static const char *const io_types[] = {"Bridge", "PCIDev", "OSDev", "Misc"};

static bool
in_list(const char *s, size_t len, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(list[i]) == len && strncmp(s, list[i], len) == 0)
			return true;
	return false;
}

/* Is a type attribute `name` as hwloc_type_sscanf() reads it? It compares the leading ASCII
 * letters and dashes, in any case, as a prefix of the name at least `min` long: "PU" and "pu",
 * "NUMANode", "Node" (hwloc 1.x) and "numa" are types to hwloc. */
static bool
hwloc_type_is(const char *v, size_t len, const char *name, size_t min)
{
	size_t n = 0;

	while (n < len && ((v[n] >= 'a' && v[n] <= 'z') || (v[n] >= 'A' && v[n] <= 'Z') ||
			   v[n] == '-'))
		n++;
	return n >= min && n <= strlen(name) && strncasecmp(v, name, n) == 0;
}

/* An os_index in decimal as written, saturated above UINT_MAX; -1 when not only digits. */
static long long
decimal(const char *v, size_t len)
{
	long long n = 0;

	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)v[i]))
			return -1;
		if (n <= UINT_MAX)
			n = n * 10 + (v[i] - '0');
	}
	return n;
}

static unsigned
line_at(const struct xml *x, size_t offset)
{
	unsigned line = 1;

	for (size_t i = 0; i < offset && i < x->len; i++)
		line += x->text[i] == '\n';
	return line;
}

static int _printf_(3, 4)
refuse(const struct xml *x, size_t at, const char *fmt, ...)
{
	char why[TMAP_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return tmap_error_set(x->err, -EINVAL, "topology '%s': line %u: not a valid hwloc XML file: %s",
			      x->origin, line_at(x, at), why);
}

static bool
name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.' || c == ':';
}

/* Offset of `what` at or after i, or SIZE_MAX. */
static size_t
find(const struct xml *x, size_t i, const char *what)
{
	size_t n = strlen(what);

	for (; i + n <= x->len; i++)
		if (memcmp(x->text + i, what, n) == 0)
			return i;
	return SIZE_MAX;
}

/* hwloc's own spelling of a set: "0xf...f" (all), or 32-bit words "0x0000000f" separated by
 * commas, optionally after "0xf...f," (an infinite set). A zero word inside may be empty
 * ("0x0000ffff,,0x0"), as hwloc prints it; the first and the last may not: a leading comma
 * makes hwloc_bitmap_sscanf() miscount its words and assert. */
static bool
set_syntax_ok(const char *v, size_t len)
{
	size_t i = 0;

	if (len == 0 || len >= 65536)
		return false;
	if (len >= 7 && strncmp(v, "0xf...f", 7) == 0) {
		if (len == 7)
			return true;
		if (v[7] != ',')
			return false;
		i = 8;
	}
	for (bool first = true;; first = false) {
		size_t digits = 0;

		if (i < len && v[i] == ',' && !first) {
			i++; /* an empty (zero) word */
			continue;
		}
		if (i + 2 > len || v[i] != '0' || v[i + 1] != 'x')
			return false;
		for (i += 2; i < len && isxdigit((unsigned char)v[i]); i++)
			digits++;
		if (digits == 0 || digits > 8)
			return false;
		if (i == len)
			return true;
		if (v[i++] != ',')
			return false;
	}
}

/* A cpuset's first PU (INT_MAX when empty) and its only PU (-1 when none or several). */
static int
read_cpuset(struct xml *x, size_t at, const char *name, const char *value, size_t vlen,
	    int *ret_first, int *ret_only)
{
	_cleanup_bitmap_ hwloc_bitmap_t set = hwloc_bitmap_alloc();
	_cleanup_free_ char *copy = strndup(value, vlen);
	int first;

	if (!copy || !set)
		return tmap_error_set(x->err, -ENOMEM, "out of memory");
	if (hwloc_bitmap_sscanf(set, copy) < 0)
		return refuse(x, at, "%s=\"%.32s\" is not an hwloc set", name, copy);
	first = hwloc_bitmap_iszero(set) ? INT_MAX : hwloc_bitmap_first(set);
	*ret_first = first < 0 ? INT_MAX : first;
	*ret_only = hwloc_bitmap_weight(set) == 1 ? first : -1;
	return 0;
}

static int
set_attr(struct xml *x, struct xel *e, const char *name, size_t nlen, const char *value,
	 size_t vlen, size_t at)
{
	int unused;

#define IS(s) (nlen == strlen(s) && strncmp(name, s, nlen) == 0)
	if (!e->object) {
		/* <cpukind cpuset=...>, <memattr_value initiator_cpuset=...>: the same parser. */
		if (nlen >= 3 && strncmp(name + nlen - 3, "set", 3) == 0 && !set_syntax_ok(value, vlen))
			return refuse(x, at, "%.*s=\"%.*s\" is not an hwloc set", (int)nlen, name,
				      (int)(vlen < 32 ? vlen : 32), value);
		return 0;
	}
	if (IS("type")) {
		snprintf(e->type, sizeof(e->type), "%.*s", (int)(vlen < 23 ? vlen : 23), value);
		e->pu = hwloc_type_is(value, vlen, "pu", 2);
		e->numa = hwloc_type_is(value, vlen, "numanode", 2) ||
			  hwloc_type_is(value, vlen, "node", 2);
		e->memory = e->numa || (vlen == 8 && strncmp(value, "MemCache", 8) == 0);
		e->normal = !e->memory && !in_list(value, vlen, io_types, ARRAY_SIZE(io_types));
		return 0;
	}
	if (IS("os_index")) {
		snprintf(e->os_index, sizeof(e->os_index), "%.*s", (int)(vlen < 23 ? vlen : 23),
			 value);
		e->has_os_index = true;
		e->os_index_value = decimal(value, vlen);
		return 0;
	}
	if (nlen < 3 || strncmp(name + nlen - 3, "set", 3) != 0)
		return 0;
	/* Every cpuset, nodeset, allowed_, online_, complete_ set: hwloc's parser asserts on a
	 * stray comma (",x00fc0fc0"), and strtoul() takes signs and blanks. */
	if (!set_syntax_ok(value, vlen))
		return refuse(x, at, "%.*s=\"%.*s\" is not an hwloc set", (int)nlen, name,
			      (int)(vlen < 32 ? vlen : 32), value);
	if (IS("complete_cpuset")) {
		e->has_complete_cpuset = true;
		e->complete_cpuset_at = at;
		return read_cpuset(x, at, "complete_cpuset", value, vlen, &e->first_pu,
				   &e->complete_cpuset_pu);
	} else if (IS("cpuset")) {
		e->has_cpuset = true;
		e->cpuset_at = at;
		return read_cpuset(x, at, "cpuset", value, vlen, &unused, &e->cpuset_pu);
	} else if (IS("nodeset")) {
		e->has_nodeset = true;
	} else if (IS("complete_nodeset")) {
		e->has_complete_nodeset = true;
	}
#undef IS
	return 0;
}

static int
add_element(struct xml *x, size_t parent, size_t *ret)
{
	struct xel *e;

	if (x->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 256;

		e = reallocarray(x->el, cap, sizeof(*e));
		if (!e)
			return tmap_error_set(x->err, -ENOMEM, "out of memory");
		x->el = e;
		x->cap = cap;
	}
	e = &x->el[x->n];
	*e = (struct xel){.parent = parent, .first_child = SIZE_MAX, .last_child = SIZE_MAX,
			  .next_sibling = SIZE_MAX, .first_pu = INT_MAX, .cpuset_pu = -1,
			  .complete_cpuset_pu = -1};
	if (parent != SIZE_MAX) {
		struct xel *p = &x->el[parent];

		if (p->last_child == SIZE_MAX)
			p->first_child = x->n;
		else
			x->el[p->last_child].next_sibling = x->n;
		p->last_child = x->n;
	}
	*ret = x->n++;
	return 0;
}

/* hwloc's parser without libxml2 (Debian's) skips these between attributes and tags. */
static bool
blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

/* An attribute value as hwloc's parser reads it: no '<' or '>' (a '>' ends hwloc's tag),
 * and '&' only in the escapes it knows. */
static bool
value_ok(const char *v, size_t len)
{
	static const char *const escapes[] = {"&#10;", "&#13;", "&#9;", "&quot;", "&lt;", "&gt;",
					      "&amp;"};

	for (size_t i = 0; i < len; i++) {
		bool known = false;

		if (v[i] == '<' || v[i] == '>')
			return false;
		if (v[i] != '&')
			continue;
		for (size_t k = 0; k < ARRAY_SIZE(escapes) && !known; k++)
			known = strncmp(v + i, escapes[k], strlen(escapes[k])) == 0 &&
				i + strlen(escapes[k]) <= len;
		if (!known)
			return false;
	}
	return true;
}

/*
 * One start tag at x->text[i] ('<' then a name); *i moves past it. The grammar is that of
 * hwloc's own parser (topology-xml-nolibxml.c), which Debian's hwloc uses: it stops reading a
 * tag's attributes at the first one it cannot read, silently, so the sets after it go missing
 * and hwloc 2.9 dereferences them. Anything it would read otherwise than this reader is refused.
 */
static int
start_tag(struct xml *x, size_t *i, size_t parent, size_t *ret, bool *closed)
{
	size_t p = *i + 1, name = p, nlen, idx = 0;
	struct xel *e;
	int r;

	while (p < x->len && (islower((unsigned char)x->text[p]) ||
			      isdigit((unsigned char)x->text[p]) || x->text[p] == '_'))
		p++;
	nlen = p - name;
	if (nlen == 0 || !in_list(x->text + name, nlen, known_elements, ARRAY_SIZE(known_elements)))
		return refuse(x, *i, "unknown element <%.*s>", (int)(nlen < 32 ? nlen : 32),
			      x->text + name);
	if (p >= x->len || (x->text[p] != ' ' && x->text[p] != '>' && x->text[p] != '/'))
		return refuse(x, *i, "<%.*s> is not followed by a space", (int)nlen, x->text + name);
	r = add_element(x, parent, &idx);
	if (r < 0)
		return r;
	e = &x->el[idx];
	e->start = *i;
	e->object = nlen == 6 && strncmp(x->text + name, "object", 6) == 0;
	for (;;) {
		size_t an, alen, v;

		while (p < x->len && blank(x->text[p]))
			p++;
		if (p >= x->len)
			return refuse(x, *i, "a tag does not end");
		if (x->text[p] == '>' || (x->text[p] == '/' && p + 1 < x->len &&
					  x->text[p + 1] == '>')) {
			*closed = x->text[p] == '/';
			p += *closed ? 2 : 1;
			break;
		}
		an = p;
		while (p < x->len && (islower((unsigned char)x->text[p]) || x->text[p] == '_'))
			p++;
		alen = p - an;
		if (alen == 0 || p + 1 >= x->len || x->text[p] != '=' || x->text[p + 1] != '"')
			return refuse(x, an, "a malformed attribute in <%.*s> (hwloc reads name=\"value\", names in a-z and _)",
				      (int)nlen, x->text + name);
		v = p += 2;
		while (p < x->len && x->text[p] != '"')
			p++;
		if (p >= x->len)
			return refuse(x, v, "an attribute value does not end");
		if (!value_ok(x->text + v, p - v))
			return refuse(x, v, "an attribute value holds '<', '>' or an unknown '&' escape");
		r = set_attr(x, &x->el[idx], x->text + an, alen, x->text + v, p - v, v);
		if (r < 0)
			return r;
		p++;
	}
	e = &x->el[idx];
	e->body = p;
	e->line = line_at(x, *i);
	*i = p;
	*ret = idx;
	return 0;
}

static int
check_object(const struct xml *x, const struct xel *e)
{
	if (!e->type[0])
		return refuse(x, e->start, "an object without a type");
	if (!e->normal && !e->memory)
		return 0;
	if (!e->has_cpuset || !e->has_complete_cpuset)
		return refuse(x, e->start, "%s object%s%s lacks cpuset or complete_cpuset", e->type,
			      e->os_index[0] ? " P#" : "", e->os_index);
	/* As hwloc after open-mpi/hwloc#783: every normal or memory object has all four sets. */
	if (!e->has_nodeset || !e->has_complete_nodeset)
		return refuse(x, e->start, "%s object%s%s lacks nodeset or complete_nodeset",
			      e->type, e->os_index[0] ? " P#" : "", e->os_index);
	if (e->pu || e->numa) {
		/* hwloc keeps an object without os_index as P#4294967295; topomap sizes its
		 * tables by the highest index. */
		long long max = e->pu ? TOPOLOGY_MAX_PU - 1 : TOPOLOGY_MAX_NODES - 1;

		if (!e->has_os_index)
			return refuse(x, e->start, "%s object without os_index", e->type);
		if (e->os_index_value < 0)
			return refuse(x, e->start, "%s object os_index=\"%s\" is not a decimal number",
				      e->type, e->os_index);
		if (e->os_index_value > max)
			return refuse(x, e->start, "%s object os_index=\"%s\" is above %lld", e->type,
				      e->os_index, max);
	}
	if (e->pu) {
		/* A PU is one bit of every set above it: hwloc trusts the file. */
		bool cpuset = e->cpuset_pu != e->os_index_value;
		size_t at = cpuset ? e->cpuset_at : e->complete_cpuset_at;
		size_t vlen = strcspn(x->text + at, "\""); /* the value ends in '"': parsed */

		if (cpuset || e->complete_cpuset_pu != e->os_index_value)
			return refuse(x, at, "%s object P#%s has %s=\"%.*s\", not P#%s alone", e->type,
				      e->os_index, cpuset ? "cpuset" : "complete_cpuset",
				      (int)(vlen < 32 ? vlen : 32), x->text + at, e->os_index);
	}
	return 0;
}

static int
parse(struct xml *x)
{
	size_t stack[XML_MAX_DEPTH], depth = 0, i = 0, root = SIZE_MAX;
	int r;

	while (i < x->len) {
		const char *t = x->text + i;
		size_t idx = 0, end;
		bool closed = false;

		if (*t != '<') {
			if (depth == 0 && !isspace((unsigned char)*t))
				return refuse(x, i, "text outside the <topology> element");
			i++;
			continue;
		}
		if (strncmp(t, "<?", 2) == 0 || strncmp(t, "<!--", 4) == 0) {
			const char *close = t[1] == '?' ? "?>" : "-->";

			end = find(x, i + 2, close);
			if (end == SIZE_MAX)
				return refuse(x, i, "a %s does not end",
					      t[1] == '?' ? "processing instruction" : "comment");
			i = end + strlen(close);
			continue;
		}
		if (t[1] == '!') {
			/* <!DOCTYPE topology SYSTEM "hwloc2.dtd">: nothing inside is read. */
			if (depth > 0 || strncmp(t, "<!DOCTYPE", 9) != 0 ||
			    (end = find(x, i, ">")) == SIZE_MAX)
				return refuse(x, i, "a markup declaration hwloc XML does not have");
			i = end + 1;
			continue;
		}
		if (t[1] == '/') {
			size_t n = 0;

			while (i + 2 + n < x->len && name_char(t[2 + n]))
				n++;
			end = i + 2 + n; /* hwloc wants "</name>", nothing more */
			if (depth == 0 || end >= x->len || x->text[end] != '>')
				return refuse(x, i, "an end tag without its start, or not spelt </name>");
			idx = stack[depth - 1];
			if (n != strcspn(x->text + x->el[idx].start + 1, " \t\r\n/>") ||
			    strncmp(t + 2, x->text + x->el[idx].start + 1, n) != 0)
				return refuse(x, i, "</%.*s> does not close the element opened on line %u",
					      (int)(n < 32 ? n : 32), t + 2, x->el[idx].line);
			x->el[idx].end = end + 1;
			depth--;
			i = end + 1;
			continue;
		}
		if (depth == 0 && root != SIZE_MAX)
			return refuse(x, i, "a second root element");
		if (depth == XML_MAX_DEPTH)
			return refuse(x, i, "nested deeper than %d elements", XML_MAX_DEPTH);
		r = start_tag(x, &i, depth ? stack[depth - 1] : SIZE_MAX, &idx, &closed);
		if (r < 0)
			return r;
		if (depth == 0) {
			root = idx;
			if (strncmp(x->text + x->el[idx].start, "<topology", 9) != 0)
				return refuse(x, x->el[idx].start, "the root element is not <topology>");
		}
		if (x->el[idx].object) {
			r = check_object(x, &x->el[idx]);
			if (r < 0)
				return r;
		}
		if (closed)
			x->el[idx].end = i;
		else
			stack[depth++] = idx;
	}
	if (root == SIZE_MAX)
		return refuse(x, 0, "no <topology> element");
	if (depth > 0)
		return refuse(x, x->el[stack[depth - 1]].start, "an element does not end");
	return 0;
}

/* Does an element hold normal children out of PU order? The first such pair, for messages. */
static bool
out_of_order(const struct xml *x, const struct xel *e, size_t *ret_a, size_t *ret_b)
{
	size_t prev = SIZE_MAX;

	for (size_t c = e->first_child; c != SIZE_MAX; c = x->el[c].next_sibling) {
		if (!x->el[c].object || !x->el[c].normal)
			continue;
		if (prev != SIZE_MAX && x->el[c].first_pu < x->el[prev].first_pu) {
			*ret_a = prev;
			*ret_b = c;
			return true;
		}
		prev = c;
	}
	return false;
}

static const struct xml *sort_ctx;

static int
cmp_first_pu(const void *a, const void *b)
{
	const struct xel *x = &sort_ctx->el[*(const size_t *)a];
	const struct xel *y = &sort_ctx->el[*(const size_t *)b];

	if (x->first_pu != y->first_pu)
		return x->first_pu < y->first_pu ? -1 : 1;
	/* stable: document order */
	return (x->start > y->start) - (x->start < y->start);
}

/* Write element idx with its normal children in PU order; everything else in place. */
static int
emit(const struct xml *x, size_t idx, FILE *out)
{
	const struct xel *e = &x->el[idx];
	size_t n = 0, k = 0, a, b;
	_cleanup_free_ size_t *normal = NULL;

	if (e->first_child == SIZE_MAX) {
		fwrite(x->text + e->start, 1, e->end - e->start, out);
		return 0;
	}
	fwrite(x->text + e->start, 1, x->el[e->first_child].start - e->start, out);
	if (out_of_order(x, e, &a, &b)) {
		for (size_t c = e->first_child; c != SIZE_MAX; c = x->el[c].next_sibling)
			n += x->el[c].object && x->el[c].normal;
		normal = calloc(n, sizeof(*normal));
		if (!normal)
			return -ENOMEM;
		n = 0;
		for (size_t c = e->first_child; c != SIZE_MAX; c = x->el[c].next_sibling)
			if (x->el[c].object && x->el[c].normal)
				normal[n++] = c;
		sort_ctx = x;
		qsort(normal, n, sizeof(*normal), cmp_first_pu);
	}
	for (size_t c = e->first_child; c != SIZE_MAX; c = x->el[c].next_sibling) {
		size_t which = normal && x->el[c].object && x->el[c].normal ? normal[k++] : c;
		int r = emit(x, which, out);

		if (r < 0)
			return r;
		fputc('\n', out);
	}
	fwrite(x->text + x->el[e->last_child].end, 1, e->end - x->el[e->last_child].end, out);
	return 0;
}

int
topology_xml_check(const char *text, size_t len, const char *origin, char **ret_xml,
		   char **ret_warning, struct tmap_error *err)
{
	struct xml x = {.text = text, .len = len, .origin = origin, .err = err};
	_cleanup_free_ char *xml = NULL;
	size_t xlen = 0, a = 0, b = 0, root = 0;
	bool disorder = false;
	FILE *out;
	int r;

	if (memchr(text, '\0', len))
		return tmap_error_set(err, -EINVAL, "%s: not an hwloc XML file (holds a NUL byte)",
				      origin);
	r = parse(&x);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < x.n && !disorder; i++)
		disorder = out_of_order(&x, &x.el[i], &a, &b);
	*ret_xml = NULL;
	*ret_warning = NULL;
	if (!disorder)
		goto out;
	out = open_memstream(&xml, &xlen);
	if (!out) {
		r = tmap_error_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	/* The prolog (declaration, DOCTYPE) as it is, then the tree in order. */
	while (root < x.n && x.el[root].parent != SIZE_MAX)
		root++;
	fwrite(text, 1, x.el[root].start, out);
	r = emit(&x, root, out);
	if (fclose(out) != 0 && r == 0)
		r = -ENOMEM;
	if (r < 0) {
		tmap_error_set(err, r, "out of memory");
		goto out;
	}
	if (asprintf(ret_warning,
		     "%s: objects are not in PU order (line %u: %s%s%s after line %u: %s%s%s); read in PU order",
		     origin, x.el[b].line, x.el[b].type, x.el[b].os_index[0] ? " P#" : "",
		     x.el[b].os_index, x.el[a].line, x.el[a].type, x.el[a].os_index[0] ? " P#" : "",
		     x.el[a].os_index) < 0) {
		*ret_warning = NULL;
		r = tmap_error_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	*ret_xml = TAKE_PTR(xml);
out:
	free(x.el);
	return r;
}

/* The value of attribute `name` in the start tag of a (parsed) element; NULL when absent. */
static const char *
tag_attr(const struct xml *x, const struct xel *e, const char *name, size_t *ret_len)
{
	size_t n = strlen(name);

	for (size_t i = e->start + 1; i + n + 2 < e->body; i++) {
		if (!blank(x->text[i]) || strncmp(x->text + i + 1, name, n) != 0 ||
		    strncmp(x->text + i + 1 + n, "=\"", 2) != 0)
			continue;
		i += n + 3;
		*ret_len = strcspn(x->text + i, "\"");
		return x->text + i;
	}
	return NULL;
}

/* A page_type's number as hwloc 2.x reads it (strtoull(), base 10); 0 when absent. */
static uint64_t
tag_number(const struct xml *x, const struct xel *e, const char *name)
{
	char buf[32];
	size_t len = 0;
	const char *v = tag_attr(x, e, name, &len);

	if (!v || len >= sizeof(buf))
		return 0;
	memcpy(buf, v, len);
	buf[len] = '\0';
	return strtoull(buf, NULL, 10);
}

int
topology_xml_page_types(const char *text, size_t len, const char *origin,
			struct topo_page_type **ret, size_t *ret_n, struct tmap_error *err)
{
	struct xml x = {.text = text, .len = len, .origin = origin, .err = err};
	struct topo_page_type *v = NULL;
	size_t n = 0;
	int r = parse(&x);

	for (size_t i = 0; r == 0 && i < x.n; i++) {
		const struct xel *e = &x.el[i], *node;
		struct topo_page_type *w;
		uint64_t size;

		if (e->object || strncmp(text + e->start, "<page_type", 10) != 0 ||
		    e->parent == SIZE_MAX)
			continue;
		node = &x.el[e->parent];
		size = tag_number(&x, e, "size");
		/* hwloc 2.x keeps the page types of NUMA nodes, and of no size 0. */
		if (!node->object || !node->numa || size == 0)
			continue;
		w = reallocarray(v, n + 1, sizeof(*v));
		if (!w) {
			r = tmap_error_set(err, -ENOMEM, "out of memory");
			break;
		}
		v = w;
		v[n++] = (struct topo_page_type){.node = (unsigned)node->os_index_value,
						 .size = size,
						 .count = tag_number(&x, e, "count")};
	}
	free(x.el);
	if (r < 0) {
		free(v);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}
