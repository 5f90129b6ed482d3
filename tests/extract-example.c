/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Copy the README's library example into a C file, so the build compiles and the tests run
 * exactly what the README shows. The example is the code between the lines
 * "<!-- example:begin -->" and "<!-- example:end -->", without its ``` fences.
 *
 * Usage: extract-example README.md OUTPUT.c
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool
starts_with(const char *line, const char *prefix)
{
	return strncmp(line, prefix, strlen(prefix)) == 0;
}

int
main(int argc, char *argv[])
{
	enum { BEFORE, INSIDE, AFTER } where = BEFORE;
	char line[4096];
	unsigned lines = 0;
	FILE *in, *out;

	if (argc != 3) {
		fprintf(stderr, "usage: extract-example README.md OUTPUT.c\n");
		return 2;
	}
	in = fopen(argv[1], "r");
	if (!in) {
		perror(argv[1]);
		return 1;
	}
	out = fopen(argv[2], "w");
	if (!out) {
		perror(argv[2]);
		fclose(in);
		return 1;
	}
	fprintf(out, "/* Generated from %s by extract-example: edit the README, not this. */\n",
		argv[1]);
	while (where != AFTER && fgets(line, sizeof(line), in)) {
		if (where == BEFORE) {
			if (starts_with(line, "<!-- example:begin -->"))
				where = INSIDE;
		} else if (starts_with(line, "<!-- example:end -->")) {
			where = AFTER;
		} else if (!starts_with(line, "```")) {
			fputs(line, out);
			lines++;
		}
	}
	fclose(in);
	if (fclose(out) != 0) {
		perror(argv[2]);
		return 1;
	}
	if (where != AFTER || lines == 0) {
		fprintf(stderr, "%s: no example between '<!-- example:begin -->' and '<!-- example:end -->'\n",
			argv[1]);
		remove(argv[2]);
		return 1;
	}
	return 0;
}
