/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * topomap verify --host (issue 15): every recorded guest through the target it was applied
 * with, the housekeeping set, and the intruders: each task outside a dedicated guest that may
 * run on the PUs it keeps. Kernel threads that cannot move are counted apart, not as drift;
 * the interrupts of a device a guest holds are its own, listed, never intruders.
 * Exit 4 when a guest drifted or any task intrudes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <topomap/backend.h>
#include <topomap/topomap.h>

#include "cli.h"
#include "host.h"

/* How many pinned kernel threads are named before "...". */
#define KERNEL_NAMED 4

/* libvirt keeps a running domain's QEMU pid here. */
#define LIBVIRT_PID_DIR "/run/libvirt/qemu"

static pid_t
pid_from_text(const char *text)
{
	char *end;
	long v;

	if (!text)
		return 0;
	errno = 0;
	v = strtol(text, &end, 10);
	return errno || end == text || v <= 0 || (*end && *end != '\n') ? 0 : (pid_t)v;
}

static pid_t
libvirt_pid(const char *domain)
{
	char path[512], buf[32] = "";
	FILE *f;

	if (!domain || strchr(domain, '/'))
		return 0;
	snprintf(path, sizeof(path), "%s/%s.pid", LIBVIRT_PID_DIR, domain);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return pid_from_text(buf);
}

/* What a guest's own tasks are, from its recorded target's identity: its cgroup (the cgroup
 * backend), its QEMU process (qemu-direct), its domain's QEMU (libvirt). */
void
guest_owner(struct tmap_state *state, const char *name, char **ret_dir, char **ret_cgroup,
	    pid_t *ret_pid)
{
	struct tmap_backend_module *module = NULL;
	struct tmap_target *target = NULL, *identity = NULL;
	const char *backend, *v;

	*ret_dir = NULL;
	*ret_cgroup = NULL;
	*ret_pid = 0;
	if (tmap_state_guest_target(state, name, &backend, &target, NULL) < 0)
		return;
	if (tmap_backend_load(backend, &module, NULL) == 0 && tmap_target_new(&identity) == 0 &&
	    tmap_backend_identify(module, target, identity, NULL) == 0) {
		if ((v = tmap_target_get(identity, "cgroup")) && tmap_cgroup_path(v, ret_cgroup, NULL) == 0)
			*ret_dir = strdup(v);
		if ((v = tmap_target_get(identity, "pid")))
			*ret_pid = pid_from_text(v);
		if (strcmp(backend, "libvirt") == 0)
			*ret_pid = libvirt_pid(tmap_target_get(identity, "domain"));
	}
	tmap_target_free(identity);
	tmap_backend_unload(module);
	tmap_target_free(target);
}

/* The intruders of dedicated guest i, and its pinned kernel threads, on out; how many
 * intrude, or -1 when they could not be listed. */
static long
guest_intruders(const struct host_ctx *c, const struct tmap_tasks *tasks, size_t i, FILE *out)
{
	const char *name = tmap_partition_guest_name(c->partition, i);
	const char *cpus = tmap_partition_guest_cpus(c->partition, i);
	size_t *idx = NULL, *kidx = NULL, n = 0, nk = 0;
	struct tmap_error err = {0};
	char *own = NULL, *dir = NULL;
	pid_t own_pid;

	guest_owner(c->state, name, &dir, &own, &own_pid);
	free(dir);
	if (tmap_tasks_intruders(tasks, cpus, own, own_pid, 0, &idx, &n, &err) < 0 ||
	    tmap_tasks_intruders(tasks, cpus, own, own_pid, TMAP_TASKS_PINNED_KERNEL, &kidx, &nk,
				 &err) < 0) {
		fprintf(out, "intruders on '%s': not checked: %s\n", name, err.message);
		free(own);
		free(idx);
		return -1;
	}
	fprintf(out, "intruders on '%s' (PUs %s%s%s%s): %zu\n", name, cpus,
		own || own_pid ? ", its own: " : ", its own tasks unknown", own ? own : "",
		own_pid ? " and its process" : "", n);
	for (size_t k = 0; k < n; k++) {
		pid_t pid, tid;

		tmap_task_ids(tasks, idx[k], &pid, &tid);
		fprintf(out, "  pid %d tid %d comm '%s' cgroup %s allowed %s\n", (int)pid, (int)tid,
			tmap_task_comm(tasks, idx[k]), tmap_task_cgroup(tasks, idx[k]),
			tmap_task_cpus(tasks, idx[k]));
	}
	if (nk) {
		fprintf(out, "  kernel threads that cannot move (not drift): %zu (", nk);
		for (size_t k = 0; k < nk && k < KERNEL_NAMED; k++)
			fprintf(out, "%s%s", k ? ", " : "", tmap_task_comm(tasks, kidx[k]));
		fprintf(out, "%s)\n", nk > KERNEL_NAMED ? ", ..." : "");
	}
	free(own);
	free(idx);
	free(kidx);
	return (long)n;
}

static int
verify_host(struct host_ctx *c, const struct host_args *a, FILE *out, size_t *ret_drifted,
	    size_t *ret_intruders)
{
	struct tmap_session_options opts = TMAP_SESSION_OPTIONS_INIT;
	struct tmap_session *session = NULL;
	struct tmap_tasks *tasks = NULL;
	struct tmap_error err = {0};
	size_t drifted = 0, unchecked = 0, intruders = 0;
	int r;

	/* The guests through the session, which reads the state as the CLI's other commands do
	 * (a shared lock, as the partition's). */
	opts.host = c->topology;
	opts.state = c->state_path;
	r = tmap_session_open(&opts, &session, &err);
	if (r < 0)
		return fail(EXIT_RUNTIME, "verify: %s", err.message);
	for (size_t i = 0; i < tmap_session_guest_count(session); i++) {
		int v = verify_line(session, tmap_session_guest_name(session, i), out);

		drifted += v == 1;
		unchecked += v < 0;
	}
	tmap_session_close(session);
	fprintf(out, "housekeeping: %s\n", *tmap_partition_housekeeping(c->partition) ?
						   tmap_partition_housekeeping(c->partition) : "-");
	show_guest_irqs(c->partition, out);
	r = tmap_tasks_read(NULL, 0, &tasks, &err);
	if (r < 0)
		return fail(EXIT_RUNTIME, "verify: %s", err.message);
	for (size_t i = 0; i < tmap_partition_guest_count(c->partition); i++) {
		long n = guest_intruders(c, tasks, i, out);

		unchecked += n < 0;
		intruders += n > 0 ? (size_t)n : 0;
	}
	tmap_tasks_free(tasks);
	*ret_drifted = drifted;
	*ret_intruders = intruders;
	return unchecked ? EXIT_RUNTIME : EXIT_OK;
}

int
cmd_verify_host(int argc, char *argv[])
{
	struct host_args a = {.allowed = "stH"};
	struct host_ctx c = {0};
	size_t drifted = 0, intruders = 0;
	char *text = NULL;
	size_t len = 0;
	FILE *out;
	int r, v;

	r = host_options("verify", argc, argv, verify_help, &a);
	if (r != EXIT_OK)
		return r < 0 ? EXIT_OK : r;
	r = host_ctx_open(&c, a.topology, a.state, false, NULL);
	if (r != EXIT_OK) {
		host_ctx_close(&c);
		return r;
	}
	out = open_memstream(&text, &len);
	if (!out) {
		host_ctx_close(&c);
		return fail(EXIT_RUNTIME, "out of memory");
	}
	v = verify_host(&c, &a, out, &drifted, &intruders);
	r = emit_stream(out, &text, EXIT_OK);
	host_ctx_close(&c);
	if (r != EXIT_OK)
		return r;
	if (drifted || intruders)
		return fail(EXIT_DRIFT, "%zu guest%s drifted, %zu task%s intrude on dedicated PUs",
			    drifted, drifted == 1 ? "" : "s", intruders, intruders == 1 ? "" : "s");
	if (v != EXIT_OK)
		return fail(v, "verify: some guests could not be checked");
	return EXIT_OK;
}
