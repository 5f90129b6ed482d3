/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * topomap lint (issue 15): the traps operators hit when they isolate a host, each as a
 * warning with its fix. The partition's own (a dedicated guest's SMT sibling owned by someone
 * else, a reserve that splits a core) come from the library; the running system's are read
 * here, below --root (a copy of another host's /proc, /sys and /etc works too): a boot-time
 * isolcpus= or nohz_full= that disagrees with the partition, irqbalance's banned CPUs that
 * disagree, and tasks whose multi-PU mask lies inside an isolated set, where the scheduler
 * never balances them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <topomap/plugin.h>
#include <topomap/topomap.h>

#include "cli.h"
#include "host.h"

#define LINT_FILE_MAX 65536

/* The file root/path whole (at most LINT_FILE_MAX bytes), or NULL when it cannot be read. */
static char *
read_text(const char *root, const char *path)
{
	char full[4096], *buf;
	ssize_t n;
	size_t len = 0;
	int fd;

	snprintf(full, sizeof(full), "%s%s", root, path);
	fd = open(full, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return NULL;
	buf = malloc(LINT_FILE_MAX + 1);
	while (buf && len < LINT_FILE_MAX && (n = read(fd, buf + len, LINT_FILE_MAX - len)) > 0)
		len += (size_t)n;
	close(fd);
	if (buf)
		buf[len] = '\0';
	return buf;
}

/* The value of word KEY=VALUE in a blank-separated text (a kernel command line), malloc()ed,
 * or NULL. The last one counts, as the kernel's parser keeps the last. */
static char *
word_value(const char *text, const char *key)
{
	size_t klen = strlen(key);
	const char *found = NULL;

	for (const char *p = text; p && *p;) {
		p += strspn(p, " \t\n");
		if (strncmp(p, key, klen) == 0 && p[klen] == '=')
			found = p + klen + 1;
		p += strcspn(p, " \t\n");
	}
	return found ? strndup(found, strcspn(found, " \t\n")) : NULL;
}

/* The list of isolcpus=[FLAG,...,]LIST: the flags are words, the list starts at a digit. */
static const char *
isolcpus_list(const char *value)
{
	const char *p = value;

	while (*p && (*p < '0' || *p > '9')) {
		p += strcspn(p, ",");
		p += *p == ',';
	}
	return p;
}

/* A shell variable's value in a sysconfig file (VAR=value, VAR="value"), malloc()ed, or
 * NULL; commented lines skipped. */
static char *
sysconfig_value(const char *text, const char *var)
{
	size_t vlen = strlen(var);
	char *found = NULL;

	for (const char *line = text; line && *line;) {
		const char *nl = strchr(line, '\n');
		const char *p = line + strspn(line, " \t");

		if (strncmp(p, "export ", 7) == 0)
			p += 7;
		if (strncmp(p, var, vlen) == 0 && p[vlen] == '=') {
			size_t n;

			p += vlen + 1;
			p += *p == '"' || *p == '\'';
			n = strcspn(p, "\"'\n #");
			free(found);
			found = strndup(p, n);
		}
		line = nl ? nl + 1 : NULL;
	}
	return found;
}

/* Are lists a and b the same set? -1 when either is not a list. */
static int
same_set(const char *a, const char *b)
{
	unsigned long *ma = NULL, *mb = NULL;
	size_t na = 0, nb = 0;
	int r = -1;

	if (tmap_cpulist_parse(a, &ma, &na) == 0 && tmap_cpulist_parse(b, &mb, &nb) == 0) {
		r = 1;
		for (size_t i = 0; i < (na > nb ? na : nb); i++)
			if ((i < na ? ma[i] : 0) != (i < nb ? mb[i] : 0))
				r = 0;
	}
	free(ma);
	free(mb);
	return r;
}

/* Is every PU of a in b, with more than one PU in a? */
static bool
multi_inside(const char *a, const char *b)
{
	unsigned long *ma = NULL, *mb = NULL;
	size_t na = 0, nb = 0, bits = 0;
	bool inside = false;

	if (tmap_cpulist_parse(a, &ma, &na) == 0 && tmap_cpulist_parse(b, &mb, &nb) == 0) {
		inside = true;
		for (size_t i = 0; i < na; i++) {
			bits += (size_t)__builtin_popcountl(ma[i]);
			if (ma[i] & ~(i < nb ? mb[i] : 0ul))
				inside = false;
		}
	}
	free(ma);
	free(mb);
	return inside && bits > 1;
}

/* The running kernel's boot-time isolation against the partition's isolated set. */
static size_t
lint_kernel(const char *root, const char *iso, const char *fragment, FILE *out)
{
	char *isolated = read_text(root, "/sys/devices/system/cpu/isolated");
	char *cmdline = read_text(root, "/proc/cmdline");
	char *isolcpus = cmdline ? word_value(cmdline, "isolcpus") : NULL;
	char *nohz = cmdline ? word_value(cmdline, "nohz_full") : NULL;
	const char *what[] = {"/sys/devices/system/cpu/isolated", "isolcpus=", "nohz_full="};
	const char *sets[] = {isolated, isolcpus ? isolcpus_list(isolcpus) : NULL, nohz};
	size_t n = 0;

	if (isolated)
		isolated[strcspn(isolated, "\n")] = '\0';
	for (size_t i = 0; i < 3; i++) {
		if (!sets[i] || !*sets[i] || same_set(sets[i], iso) == 1)
			continue;
		fprintf(out, "warning: the running kernel isolates %s (%s), the partition isolates %s; fix: boot with %s\n",
			sets[i], what[i], *iso ? iso : "nothing", fragment);
		n++;
	}
	free(isolated);
	free(cmdline);
	free(isolcpus);
	free(nohz);
	return n;
}

/* irqbalance's banned CPUs (Debian's /etc/default, Red Hat's /etc/sysconfig) against the
 * isolated set: an interrupt balanced onto a dedicated PU takes it from the guest. */
static size_t
lint_irqbalance(const char *root, const char *iso, FILE *out)
{
	static const char *const files[] = {"/etc/default/irqbalance", "/etc/sysconfig/irqbalance"};
	size_t n = 0;

	for (size_t i = 0; i < 2; i++) {
		char *text = read_text(root, files[i]);
		char *banned = text ? sysconfig_value(text, "IRQBALANCE_BANNED_CPULIST") : NULL;

		if (text && *iso && (!banned || same_set(banned, iso) != 1)) {
			fprintf(out, "warning: %s bans %s from irqbalance, the partition isolates %s; fix: IRQBALANCE_BANNED_CPULIST=%s there, then restart irqbalance\n",
				files[i], banned && *banned ? banned : "no CPU", iso, iso);
			n++;
		}
		free(banned);
		free(text);
	}
	return n;
}

/* Tasks allowed on several PUs, all inside the isolated set: the scheduler never moves them
 * between those PUs, so they all stay on one. */
static size_t
lint_tasks(const char *root, const char *iso, FILE *out)
{
	struct tmap_tasks *tasks = NULL;
	char proc[4096];
	size_t n = 0;

	snprintf(proc, sizeof(proc), "%s/proc", root);
	if (!*iso || tmap_tasks_read(*root ? proc : NULL, 0, &tasks, NULL) < 0)
		return 0;
	for (size_t i = 0; i < tmap_tasks_count(tasks); i++) {
		const char *cpus = tmap_task_cpus(tasks, i);
		pid_t pid, tid;

		if (!multi_inside(cpus, iso))
			continue;
		tmap_task_ids(tasks, i, &pid, &tid);
		fprintf(out, "warning: task %d (pid %d, '%s') may run on PUs %s inside the isolated set %s, where the scheduler does not balance: it stays on one of them; fix: pin each thread to one PU (taskset -pc PU %d)\n",
			(int)tid, (int)pid, tmap_task_comm(tasks, i), cpus, iso, (int)tid);
		n++;
	}
	tmap_tasks_free(tasks);
	return n;
}

static size_t
lint_all(const struct host_ctx *c, const char *root, FILE *out)
{
	const struct tmap_partition *p = c->partition;
	const char *iso = tmap_partition_isolated(p);
	const char *hk = tmap_partition_housekeeping(p);
	char fragment[8192];
	size_t n = tmap_partition_warning_count(p);

	for (size_t i = 0; i < n; i++)
		fprintf(out, "warning: %s\n", tmap_partition_warning(p, i));
	snprintf(fragment, sizeof(fragment), "isolcpus=managed_irq,domain,%s nohz_full=%s rcu_nocbs=%s%s%s (topomap host show --format cmdline)",
		 iso, iso, iso, *hk ? " irqaffinity=" : "", hk);
	if (*iso)
		n += lint_kernel(root, iso, fragment, out);
	n += lint_irqbalance(root, iso, out);
	n += lint_tasks(root, iso, out);
	return n;
}

int
cmd_lint(int argc, char *argv[])
{
	struct host_args a = {.allowed = "str"};
	struct host_ctx c = {0};
	char *text = NULL;
	size_t len = 0, n = 0;
	FILE *out;
	int r;

	r = host_options("lint", argc, argv, lint_help, &a);
	if (r != EXIT_OK)
		return r < 0 ? EXIT_OK : r;
	r = host_ctx_open(&c, a.topology, a.state, false, NULL);
	if (r == EXIT_OK) {
		out = open_memstream(&text, &len);
		if (!out) {
			r = fail(EXIT_RUNTIME, "out of memory");
		} else {
			n = lint_all(&c, a.root ? a.root : "", out);
			if (!n)
				fprintf(out, "no trap found\n");
			r = emit_stream(out, &text, EXIT_OK);
		}
	}
	host_ctx_close(&c);
	if (r == EXIT_OK && n)
		return fail(EXIT_DRIFT, "%zu warning%s", n, n == 1 ? "" : "s");
	return r;
}
