/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * --topology SRC (issue 19): the one place a host's source string is read. The library has
 * one constructor per kind of host and no string to sniff; this file says which constructor a
 * string means:
 *
 *   live                     tmap_topology_new_live()
 *   synthetic:DESCRIPTION    tmap_topology_new_synthetic(DESCRIPTION)
 *   NAME:ARG                 tmap_topology_new_backend(NAME, ARG), NAME in [a-z0-9-]+
 *   FILE.json                tmap_topology_new_json(FILE)
 *   any other FILE           tmap_topology_new_xml(FILE)
 *
 * A file whose name starts like NAME:ARG is given with a directory: ./host:1.xml.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <topomap/topomap.h>

#include "cli.h"

#define NAME_CHARS "abcdefghijklmnopqrstuvwxyz0123456789-"

int
source_parse(const char *text, struct source *ret)
{
	size_t name = strspn(text, NAME_CHARS);

	*ret = (struct source){.text = text, .value = text};
	if (!*text)
		return fail(EXIT_USAGE,
			    "--topology '': give live, synthetic:DESCRIPTION, NAME:ARG or a file");
	if (strcmp(text, "live") == 0) {
		ret->kind = SOURCE_LIVE;
	} else if (strncmp(text, "synthetic:", 10) == 0) {
		ret->kind = SOURCE_SYNTHETIC;
		ret->value = text + 10;
		if (!*ret->value)
			return fail(EXIT_USAGE,
				    "--topology 'synthetic:': give a description after 'synthetic:', e.g. 'synthetic:pack:2 numa:2 core:8 pu:2'");
	} else if (name > 0 && text[name] == ':') {
		ret->kind = SOURCE_BACKEND;
		ret->name_len = name;
		ret->value = text + name + 1;
	} else {
		size_t len = strlen(text);

		ret->kind = len > 5 && strcmp(text + len - 5, ".json") == 0 ? SOURCE_JSON : SOURCE_XML;
	}
	return EXIT_OK;
}

int
check_source(const char *text)
{
	struct source s;

	return source_parse(text, &s);
}

/* The host a parsed source names. */
static int
source_build(const struct source *s, struct tmap_topology **ret, struct tmap_error *err)
{
	char *name;
	int r;

	switch (s->kind) {
	case SOURCE_LIVE:
		return tmap_topology_new_live(0, ret, err);
	case SOURCE_SYNTHETIC:
		return tmap_topology_new_synthetic(s->value, 0, ret, err);
	case SOURCE_JSON:
		return tmap_topology_new_json(s->value, 0, ret, err);
	case SOURCE_XML:
		return tmap_topology_new_xml(s->value, 0, ret, err);
	case SOURCE_BACKEND:
		break;
	}
	name = strndup(s->text, s->name_len);
	if (!name)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	r = tmap_topology_new_backend(name, s->value, 0, ret, err);
	free(name);
	/* host:1.xml is read as backend 'host'; say how to name the file instead. */
	if (r == -ENOENT && access(s->text, F_OK) == 0)
		tmap_error_set(err, r, "topology '%s': no backend '%.*s'; for the file, give './%s'",
			       s->text, (int)s->name_len, s->text, s->text);
	return r;
}

int
source_topology(const char *text, struct tmap_topology **ret)
{
	struct tmap_error err = {0};
	struct source s;
	int r = source_parse(text, &s);

	if (r != EXIT_OK)
		return r;
	r = source_build(&s, ret, &err);
	if (r < 0)
		return fail_lib(r, s.kind != SOURCE_LIVE, &err, text);
	return EXIT_OK;
}
