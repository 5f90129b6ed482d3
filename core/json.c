/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one reader of JSON input (guest files, JSON hosts, the state file).
 *
 * json-c's tokener in strict mode does the parsing; what it lets through, this refuses:
 * text after the document, a top-level value of the wrong type (json-c returns NULL with
 * "success" for `null`), duplicate keys at any depth (json-c keeps the last one silently),
 * `\u0000` inside a string (it cuts the value for every reader of C strings) and nesting
 * deeper than JSON_MAX_DEPTH.
 *
 * Duplicate keys cost one pass over the text: the scan counts each object's keys in the order
 * the objects open; the parsed tree, walked in the same order, must hold as many. The first
 * object that holds fewer is the one with a duplicate (json-c drops only values that come
 * after it in that order), and only then are its keys compared to name the one given twice.
 */
#include <ctype.h>
#include <json-c/json.h>

#include "internal.h"

struct scan {
	size_t nobj, cap;
	uint32_t *keys;		/* per object, in the order they open: how many keys the text gives */
	size_t *start;		/* per object: offset of its '{' */
};

static void
scan_clear(struct scan *s)
{
	free(s->keys);
	free(s->start);
}

/* 1-based line of a byte offset, for messages. */
static unsigned
line_of(const char *text, size_t offset)
{
	unsigned line = 1;

	for (size_t i = 0; i < offset && text[i]; i++)
		line += text[i] == '\n';
	return line;
}

/* Past the string that opens at text[i] (a '"'); text is valid JSON, so it ends. Sets
 * *nul when the string holds the escape \u0000. */
static size_t
skip_string(const char *text, size_t len, size_t i, bool *nul)
{
	for (i++; i < len && text[i] != '"'; i++) {
		if (text[i] != '\\')
			continue;
		i++;
		if (i + 4 < len && text[i] == 'u' && strncmp(text + i + 1, "0000", 4) == 0)
			*nul = true;
	}
	return i + 1;
}

/*
 * Count each object's keys. text has been parsed by json-c already, so it is well formed; the
 * scan only needs to know, at each string, whether it is a key: the first string after '{'
 * or after a ',' inside an object.
 */
static int
scan_text(const char *text, size_t len, const char *origin, struct scan *s,
	  struct tmap_error *err)
{
	bool is_object[JSON_MAX_DEPTH + 1];
	size_t open[JSON_MAX_DEPTH + 1];	/* per level: the object's index */
	unsigned depth = 0;
	bool expect_key = false;

	for (size_t i = 0; i < len;) {
		char c = text[i];

		switch (c) {
		case '{':
		case '[':
			if (depth == JSON_MAX_DEPTH)
				return tmap_error_set(err, -EINVAL,
						      "%s: line %u: invalid JSON: nested deeper than %d levels",
						      origin, line_of(text, i), JSON_MAX_DEPTH);
			depth++;
			is_object[depth] = c == '{';
			expect_key = c == '{';
			if (c == '{') {
				if (s->nobj == s->cap) {
					size_t cap = s->cap ? s->cap * 2 : 64;
					uint32_t *k = realloc(s->keys, cap * sizeof(*k));
					size_t *st;

					if (!k)
						return tmap_error_set(err, -ENOMEM, "out of memory");
					s->keys = k;
					st = realloc(s->start, cap * sizeof(*st));
					if (!st)
						return tmap_error_set(err, -ENOMEM, "out of memory");
					s->start = st;
					s->cap = cap;
				}
				s->keys[s->nobj] = 0;
				s->start[s->nobj] = i;
				open[depth] = s->nobj++;
			}
			i++;
			break;
		case '}':
		case ']':
			if (depth > 0)
				depth--;
			expect_key = false;
			i++;
			break;
		case ',':
			expect_key = depth > 0 && is_object[depth];
			i++;
			break;
		case '"': {
			bool nul = false;

			if (expect_key && s->keys[open[depth]] < UINT32_MAX)
				s->keys[open[depth]]++;
			expect_key = false;
			i = skip_string(text, len, i, &nul);
			if (nul)
				return tmap_error_set(err, -EINVAL,
						      "%s: line %u: a string holds \\u0000, which no value may hold",
						      origin, line_of(text, i - 1));
			break;
		}
		default:
			i++;
			break;
		}
	}
	return 0;
}

/* The key that appears twice in the object whose '{' is at text[at]; "" if not found. */
static char *
duplicate_key(const char *text, size_t len, size_t at)
{
	struct json_object *seen = json_object_new_object();
	unsigned depth = 0;
	bool expect_key = false;
	char *found = NULL;

	if (!seen)
		return NULL;
	for (size_t i = at; i < len && !found;) {
		char c = text[i];

		if (c == '{' || c == '[') {
			depth++;
			expect_key = depth == 1 && c == '{';
			i++;
		} else if (c == '}' || c == ']') {
			if (--depth == 0)
				break;
			i++;
		} else if (c == ',') {
			expect_key = depth == 1;
			i++;
		} else if (c == '"') {
			bool nul = false;
			size_t end = skip_string(text, len, i, &nul);

			if (expect_key) {
				/* Let json-c unescape the key, so "a" and "\u0061" are one key. */
				_cleanup_free_ char *quoted = strndup(text + i, end - i);
				struct json_object *k = quoted ? json_tokener_parse(quoted) : NULL;
				const char *name = k ? json_object_get_string(k) : NULL;

				if (name && json_object_object_get_ex(seen, name, NULL))
					found = strdup(name);
				else if (name)
					json_object_object_add(seen, name, NULL);
				json_object_put(k);
			}
			expect_key = false;
			i = end;
		} else {
			i++;
		}
	}
	json_object_put(seen);
	return found;
}

/* Walk the tree in the order the scan numbered the objects; the index of the first object
 * that holds fewer keys than its text gives, or SIZE_MAX. */
static size_t
first_short_object(struct json_object *o, const struct scan *s, size_t *next)
{
	size_t r;

	if (json_object_is_type(o, json_type_object)) {
		size_t me = (*next)++;

		if (me >= s->nobj || (size_t)json_object_object_length(o) != s->keys[me])
			return me;
		json_object_object_foreach(o, key, val)
		{
			(void)key;
			r = first_short_object(val, s, next);
			if (r != SIZE_MAX)
				return r;
		}
	} else if (json_object_is_type(o, json_type_array)) {
		size_t n = json_object_array_length(o);

		for (size_t i = 0; i < n; i++) {
			r = first_short_object(json_object_array_get_idx(o, i), s, next);
			if (r != SIZE_MAX)
				return r;
		}
	}
	return SIZE_MAX;
}

static const char *
type_text(enum json_type t)
{
	switch (t) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "a boolean";
	case json_type_double:
	case json_type_int:
		return "a number";
	case json_type_object:
		return "a JSON object";
	case json_type_array:
		return "a JSON array";
	case json_type_string:
		return "a string";
	}
	return "a value";
}

static int
check_keys(struct json_object *root, const char *text, size_t len, const char *origin,
	   struct tmap_error *err)
{
	struct scan s = {0};
	size_t next = 0, bad;
	int r;

	r = scan_text(text, len, origin, &s, err);
	if (r < 0)
		goto out;
	bad = first_short_object(root, &s, &next);
	if (bad != SIZE_MAX) {
		_cleanup_free_ char *key = duplicate_key(text, len, s.start[bad]);

		r = tmap_error_set(err, -EINVAL, "%s: line %u: key \"%s\" appears twice in an object",
				   origin, line_of(text, s.start[bad]), key ? key : "?");
	}
out:
	scan_clear(&s);
	return r;
}

int
json_read(const char *text, size_t len, const char *origin, enum json_type want,
	  const char *what, struct json_object **ret, struct tmap_error *err)
{
	struct json_tokener *tok;
	struct json_object *root;
	enum json_tokener_error jerr;
	enum json_type got;
	bool ended = false;
	int r = 0;

	if (!origin)
		origin = "JSON";
	if (len > JSON_MAX_BYTES)
		return tmap_error_set(err, -EFBIG, "%s: larger than %u MiB", origin,
				      JSON_MAX_BYTES >> 20);
	if (memchr(text, '\0', len))
		return tmap_error_set(err, -EINVAL, "%s: not JSON text (holds a NUL byte)", origin);
	/* json-c's depth counts the containers it is inside; one more than the scan's limit lets
	 * the scan name the depth itself. */
	tok = json_tokener_new_ex(JSON_MAX_DEPTH + 1);
	if (!tok)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
					   JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	/* Trailing text is allowed here to be refused below, by name. A bare number at the very
	 * end may go on: a NUL byte tells json-c the text ended. */
	if (!root && jerr == json_tokener_continue) {
		root = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		ended = true;
	}
	if (jerr == json_tokener_continue)
		jerr = json_tokener_error_parse_eof;
	if (jerr == json_tokener_error_depth) {
		r = tmap_error_set(err, -EINVAL, "%s: line %u: invalid JSON: nested deeper than %d levels",
				   origin, line_of(text, json_tokener_get_parse_end(tok)),
				   JSON_MAX_DEPTH);
		goto out;
	}
	if (jerr != json_tokener_success) {
		r = tmap_error_set(err, -EINVAL, "%s: line %u: invalid JSON: %s", origin,
				   line_of(text, json_tokener_get_parse_end(tok)),
				   json_tokener_error_desc(jerr));
		goto out;
	}
	if (!ended) {
		size_t used = json_tokener_get_parse_end(tok);

		while (used < len && isspace((unsigned char)text[used]))
			used++;
		if (used < len) {
			r = tmap_error_set(err, -EINVAL,
					   "%s: line %u: invalid JSON: text after the end of the document",
					   origin, line_of(text, used));
			goto out;
		}
	}
	got = root ? json_object_get_type(root) : json_type_null;
	if (want == json_type_null ? (got != json_type_object && got != json_type_array)
				   : got != want) {
		r = tmap_error_set(err, -EINVAL, "%s: expected %s, got %s", origin,
				   what ? what : want == json_type_null ? "a JSON object or array" :
					     type_text(want),
				   type_text(got));
		goto out;
	}
	r = check_keys(root, text, len, origin, err);
	if (r < 0)
		goto out;
	*ret = TAKE_PTR(root);
out:
	json_object_put(root);
	json_tokener_free(tok);
	return r;
}
