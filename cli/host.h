/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the host commands share (host.c, host-verify.c, lint.c): the host as the state holds
 * it, with its partition, and their few options. */
#ifndef TOPOMAP_CLI_HOST_H
#define TOPOMAP_CLI_HOST_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include <topomap/topomap.h>

struct host_ctx {
	struct tmap_topology *topology;
	struct tmap_state *state;
	struct tmap_host *host;
	struct tmap_partition *partition;
	const char *state_path;	/* the state's file */
};

#define HOST_MAX_NARROW 32

struct host_args {
	const char *allowed;	/* the option letters this command takes */
	const char *state, *topology, *housekeeping, *format, *root;
	const char *shared;			/* --shared-set, "" for none */
	double cpu_overcommit, memory_overcommit;	/* 0: not given */
	bool host, undo;
	size_t nnarrow;
	const char *narrow[HOST_MAX_NARROW];	/* --narrow, repeatable */
};

/* The host of the state (--state, TOPOMAP_STATE or the default) and its partition, with
 * housekeeping instead of the recorded one when not NULL. EXIT_OK or the exit code. */
int host_ctx_open(struct host_ctx *c, const char *source, const char *state_path, bool write,
		  const char *housekeeping);
void host_ctx_close(struct host_ctx *c);
/* Parse the options of a host command into a; -1 after --help, else EXIT_OK or the code. */
int host_options(const char *cmd, int argc, char *argv[], const char *help, struct host_args *a);
/* A recorded guest's own: its cgroup directory (absolute) and path (as /proc names it), its
 * process; from its recorded target's identity. Each NULL or 0 when unknown. */
void show_guest_irqs(const struct tmap_partition *p, FILE *out);
void guest_owner(struct tmap_state *state, const char *name, char **ret_dir, char **ret_cgroup,
		 pid_t *ret_pid);
int host_isolate(int argc, char *argv[]);
/* One isolation change as host isolate prints it: "  write 'V' to PATH (was 'W')", or
 * "  allow task TID on 'V' (was 'W')" for a task's directory; was may be NULL. */
void print_change(FILE *out, const char *path, const char *value, const char *was);

/* The isolation a state records, copied (the state may be closed and opened again). */
struct isolation_file {
	char *path, *restore, *value;
};
struct isolation_files {
	size_t n;
	struct isolation_file *v;
};
int isolation_files_read(const struct tmap_state *st, struct isolation_files *ret);
void isolation_files_clear(struct isolation_files *f);
/* Each file whose value in force differs between the isolations before and after, printed
 * with print_change() (what after no longer writes comes back to what was there first);
 * how many. */
size_t print_isolation_changes(FILE *out, const struct isolation_files *before,
			       const struct isolation_files *after);
/* Close the memstream out and print its text (*text is freed) when r is EXIT_OK. */
int emit_stream(FILE *out, char **text, int r);

#endif
