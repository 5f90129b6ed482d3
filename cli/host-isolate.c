/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * topomap host isolate [--narrow CG]... [--undo] (issue 15): the partition put in force
 * live through the library's transaction (tmap_isolate()), and what it wrote recorded in the
 * state, so that --undo puts every file back. Isolating again first undoes the last one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <topomap/topomap.h>

#include "cli.h"
#include "host.h"

/* One change: a file written, or a task's directory whose affinity was set. */
void
print_change(FILE *out, const char *path, const char *value, const char *was)
{
	const char *task = strstr(path, "/task/");

	while (task && strstr(task + 1, "/task/"))
		task = strstr(task + 1, "/task/");
	if (task && task[6] && strspn(task + 6, "0123456789") == strlen(task + 6)) {
		if (was)
			fprintf(out, "  allow task %s on '%s' (was '%s')\n", task + 6, value, was);
		else
			fprintf(out, "  allow task %s on '%s'\n", task + 6, value);
	} else if (was) {
		fprintf(out, "  write '%s' to %s (was '%s')\n", value, path, was);
	} else {
		fprintf(out, "  write '%s' to %s\n", value, path);
	}
}

/* Put back what the state records as written by the last isolation, and forget it. */
static int
undo_recorded(struct host_ctx *c, FILE *out, struct tmap_error *err)
{
	size_t n = tmap_state_isolation_count(c->state);
	int r = tmap_state_isolation_undo(c->state, err);

	for (size_t i = n; r == 0 && i-- > 0;) {
		const char *path, *value;

		tmap_state_isolation_change(c->state, i, &path, &value);
		print_change(out, path, value, NULL);
	}
	return r < 0 ? r : tmap_state_set_isolation(c->state, NULL, err);
}

/* The dedicated guests' cgroup directories, from their recorded targets. */
static size_t
guest_cgroups(struct host_ctx *c, char **dirs, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < tmap_partition_guest_count(c->partition) && n < max; i++) {
		char *dir = NULL, *path = NULL;
		pid_t pid;

		guest_owner(c->state, tmap_partition_guest_name(c->partition, i), &dir, &path, &pid);
		free(path);
		if (dir)
			dirs[n++] = dir;
	}
	return n;
}

static int
isolate(struct host_ctx *c, const struct host_args *a, FILE *out, struct tmap_error *err)
{
	struct tmap_isolate_options opts = TMAP_ISOLATE_OPTIONS_INIT;
	struct tmap_isolation *iso = NULL;
	char *dirs[64] = {NULL};
	size_t ndirs = guest_cgroups(c, dirs, 64);
	int r;

	opts.narrow = a->narrow;
	opts.nnarrow = a->nnarrow;
	opts.guest_cgroups = (const char *const *)dirs;
	opts.nguest_cgroups = ndirs;
	r = tmap_isolate(c->partition, &opts, &iso, err);
	for (size_t i = 0; i < ndirs; i++)
		free(dirs[i]);
	if (r < 0)
		return r;
	r = tmap_state_set_isolation(c->state, iso, err);
	if (r == 0)
		r = tmap_state_save(c->state, c->host, err);
	if (r < 0) {
		/* Not recorded: not left in force either. */
		struct tmap_error ignored = {0};
		size_t n = tmap_isolation_change_count(iso);
		const char **paths = calloc(n + 1, sizeof(*paths));
		const char **values = calloc(n + 1, sizeof(*values));

		for (size_t i = 0; paths && values && i < n; i++)
			tmap_isolation_change(iso, i, &paths[i], &values[i], NULL);
		if (!paths || !values || tmap_isolate_restore(paths, values, n, &ignored) < 0)
			r = -ENOTRECOVERABLE;
		free(paths);
		free(values);
		tmap_isolation_free(iso);
		return r;
	}
	for (size_t i = 0; i < tmap_isolation_change_count(iso); i++) {
		const char *path, *restore, *value;

		tmap_isolation_change(iso, i, &path, &restore, &value);
		print_change(out, path, value, restore);
	}
	for (size_t i = 0; i < tmap_isolation_left_count(iso); i++)
		fprintf(out, "  left: %s\n", tmap_isolation_left(iso, i));
	for (size_t i = 0; i < tmap_isolation_refused_count(iso); i++)
		fprintf(out, "  refused: %s\n", tmap_isolation_refused(iso, i));
	tmap_isolation_free(iso);
	return 0;
}

int
host_isolate(int argc, char *argv[])
{
	struct host_args a = {.allowed = "stknu"};
	struct host_ctx c = {0};
	struct tmap_error err = {0};
	char *text = NULL;
	size_t len = 0;
	FILE *out = NULL;
	int r;

	r = host_options("host isolate", argc, argv, host_help, &a);
	if (r != EXIT_OK)
		return r < 0 ? EXIT_OK : r;
	if (a.undo && (a.nnarrow || a.housekeeping))
		return fail(EXIT_USAGE, "host isolate: --undo takes no --narrow or --housekeeping");
	r = host_ctx_open(&c, a.topology, a.state, true,
			  a.housekeeping && strcmp(a.housekeeping, "reserve") != 0 ? a.housekeeping :
										      NULL);
	if (r == EXIT_OK && !(out = open_memstream(&text, &len)))
		r = fail(EXIT_RUNTIME, "out of memory");
	if (r != EXIT_OK)
		goto done;
	if (tmap_state_isolation_count(c.state)) {
		fprintf(out, "put back what the last isolation changed:\n");
		if (undo_recorded(&c, out, &err) < 0) {
			r = fail(EXIT_LEFT_CHANGED, "host isolate: %s", err.message);
			goto done;
		}
	}
	if (a.undo) {
		/* Also an isolation of no file (every dedicated guest released): not in force any
		 * more, so a later apply does not extend it. */
		if (tmap_state_set_isolation(c.state, NULL, &err) < 0 ||
		    tmap_state_save(c.state, c.host, &err) < 0)
			r = fail(EXIT_RUNTIME, "%s", err.message);
		else if (fflush(out) == 0 && (!text || !*text))
			fprintf(out, "the host is not isolated: nothing to undo\n");
		goto done;
	}
	if (a.housekeeping && tmap_state_set_housekeeping(
				      c.state, strcmp(a.housekeeping, "reserve") == 0 ? NULL : a.housekeeping,
				      &err) < 0) {
		r = fail(EXIT_RUNTIME, "%s", err.message);
		goto done;
	}
	fprintf(out, "isolated the dedicated guests' PUs (%s); the host keeps the rest:\n",
		tmap_partition_isolated(c.partition));
	r = isolate(&c, &a, out, &err);
	if (r == -ENOTRECOVERABLE)
		r = fail(EXIT_LEFT_CHANGED, "host isolate: %s", err.message);
	else if (r == -EINVAL || r == -EOPNOTSUPP)
		r = fail(EXIT_USAGE, "host isolate: %s", err.message);
	else if (r < 0)
		r = fail(EXIT_RUNTIME, "host isolate: %s (every file written was put back)",
			 err.message);
done:
	if (out)
		r = emit_stream(out, &text, r);
	host_ctx_close(&c);
	return r;
}

/* ---------------------------------------------------------------------------------------- */
/* What an isolation made again changed (host set: a new pool on an isolated host) */

void
isolation_files_clear(struct isolation_files *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->v[i].path);
		free(f->v[i].restore);
		free(f->v[i].value);
	}
	free(f->v);
	*f = (struct isolation_files){0};
}

int
isolation_files_read(const struct tmap_state *st, struct isolation_files *ret)
{
	size_t n = tmap_state_isolation_count(st);
	struct isolation_files f = {.v = calloc(n + 1, sizeof(*f.v))};

	if (!f.v)
		return -ENOMEM;
	for (; f.n < n; f.n++) {
		const char *path = NULL, *restore = NULL, *value = tmap_state_isolation_value(st, f.n);
		struct isolation_file *e = &f.v[f.n];

		tmap_state_isolation_change(st, f.n, &path, &restore);
		e->path = strdup(path ? path : "");
		e->restore = strdup(restore ? restore : "");
		e->value = strdup(value ? value : "");
		if (!e->path || !e->restore || !e->value) {
			f.n++;
			isolation_files_clear(&f);
			return -ENOMEM;
		}
	}
	*ret = f;
	return 0;
}

/* Path's first index in f from 0 to end (excluded), or f->n. */
static size_t
file_index(const struct isolation_files *f, const char *path, size_t end)
{
	for (size_t i = 0; i < end; i++)
		if (strcmp(f->v[i].path, path) == 0)
			return i;
	return f->n;
}

/* What path holds while f is in force: its last write's value (a later write to a path
 * replaces an earlier one); *ret_original: what its first write found there. NULL when f
 * did not write it. */
static const char *
file_in_force(const struct isolation_files *f, const char *path, const char **ret_original)
{
	const char *value = NULL;

	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->v[i].path, path) == 0) {
			if (!value)
				*ret_original = f->v[i].restore;
			value = f->v[i].value;
		}
	return value;
}

/* One path: what it held under before, what it holds under after, printed when they differ. */
static size_t
print_difference(FILE *out, const char *path, const struct isolation_files *before,
		 const struct isolation_files *after)
{
	const char *orig_before = NULL, *orig_after = NULL;
	const char *was = file_in_force(before, path, &orig_before);
	const char *now = file_in_force(after, path, &orig_after);

	if (!was)
		was = orig_after;
	if (!now)
		now = orig_before;
	if (!was || !now || strcmp(was, now) == 0)
		return 0;
	print_change(out, path, now, was);
	return 1;
}

size_t
print_isolation_changes(FILE *out, const struct isolation_files *before,
			const struct isolation_files *after)
{
	size_t changed = 0;

	/* What the new isolation no longer writes (put back), then what it writes. */
	for (size_t i = 0; i < before->n; i++)
		if (file_index(before, before->v[i].path, i) == before->n &&
		    file_index(after, before->v[i].path, after->n) == after->n)
			changed += print_difference(out, before->v[i].path, before, after);
	for (size_t i = 0; i < after->n; i++)
		if (file_index(after, after->v[i].path, i) == after->n)
			changed += print_difference(out, after->v[i].path, before, after);
	return changed;
}
