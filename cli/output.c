/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the tool writes: results on stdout in one go, one line on stderr for a failure,
 * colour for a person at a terminal, and the plan as a picture.
 */
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <spawn.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <topomap/backend.h>
#include <topomap/topomap.h>

#include "cli.h"

/* Print one line "topomap: <message>" on stderr and return the exit code. */
int
fail(int code, const char *fmt, ...)
{
	char msg[2 * TMAP_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Callers count on exactly one line, whatever a message quoted from the input holds. */
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	fprintf(stderr, "topomap: %s\n", msg);
	return code;
}

/*
 * Exit code for a failed library call. The library says -EINVAL, -ENOENT and their kin when
 * what it was given is wrong; that is the user's input only when the user gave it (a broken
 * live host is a runtime error, not a usage error).
 */
int
exit_code(int r, bool user_input)
{
	switch (r) {
	case -EINVAL:
	case -ENOENT:
	case -EFBIG:
	case -EBADMSG:
	case -ERANGE:
	case -ENAMETOOLONG:
	case -EISDIR:
	case -ENOTDIR:
		return user_input ? EXIT_USAGE : EXIT_RUNTIME;
	default:
		return EXIT_RUNTIME;
	}
}

int
fail_lib(int r, bool user_input, const struct tmap_error *err, const char *what)
{
	int code = exit_code(r, user_input);

	if (err->message[0])
		return fail(code, "%s", err->message);
	return fail(code, "%s: %s", what, strerror(-r));
}

/* All of text to stdout: 0, or the errno of the write that failed. */
static int
write_out(const char *text)
{
	size_t len = strlen(text);

	while (len > 0) {
		ssize_t n = write(STDOUT_FILENO, text, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		text += n;
		len -= (size_t)n;
	}
	return 0;
}

int
emit(const char *text)
{
	int e = write_out(text);

	if (e)
		return fail(EXIT_RUNTIME, "cannot write the output: %s", strerror(e));
	return EXIT_OK;
}

/* The report of something already done and recorded: a failure to print it must not read
 * as a failure of what was done. */
int
emit_done(const char *text, const char *done)
{
	int e = write_out(text);

	if (e)
		return fail(EXIT_RUNTIME, "%s; could not print the report: %s", done, strerror(e));
	return EXIT_OK;
}

/*
 * Colour for a person at a terminal, never for a pipe or a file (TMAP_FORMAT_COLOUR: headings
 * bold, the reasons dim). NO_COLOR (https://no-color.org) set to anything but "" turns it off, as does a dumb
 * terminal. Only the table is coloured; json, libvirt and qemu output stay byte for byte
 * what the library wrote.
 */
static bool
use_colour(void)
{
	const char *no_colour = getenv("NO_COLOR");
	const char *term = getenv("TERM");

	if (no_colour && no_colour[0])
		return false;
	if (!term || !term[0] || strcmp(term, "dumb") == 0)
		return false;
	return isatty(STDOUT_FILENO) == 1;
}

/* The library colours its tables by what each part is; the shell only says when. */
unsigned
table_flags(void)
{
	return use_colour() ? TMAP_FORMAT_COLOUR : 0;
}

/* Every line of a list, indented, into one malloc()ed text. */
char *
report_text(const char *header, size_t n, const char *(*line)(const struct tmap_report *, size_t),
	    const struct tmap_report *report)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	fprintf(f, "%s\n", header);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "  %s\n", line(report, i));
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}


/* A temporary file "topomap-plan-XXXXXX.SUFFIX" in $TMPDIR or /tmp; its path in buf. */
static int
make_temp(char *buf, size_t size, const char *suffix)
{
	const char *dir = getenv("TMPDIR");
	int n;

	if (!dir || dir[0] != '/')
		dir = "/tmp";
	n = snprintf(buf, size, "%s/topomap-plan-XXXXXX%s", dir, suffix);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return mkstemps(buf, (int)strlen(suffix));
}

/* The first line of what a child wrote to the file at fd, for one line of error. */
static void
first_line(int fd, char *buf, size_t size)
{
	ssize_t n = pread(fd, buf, size - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

/*
 * What is left for the host, drawn over the guests the library painted: the reserved
 * (housekeeping) PUs, the shared pool, and the PUs where emulator threads and iothreads float
 * apart from the vcpus, each with a legend line. lstopo has no hatching: a style is a
 * background and a text colour ("lstopoStyle"), so reserved PUs are dark grey with white
 * text, the shared pool light grey, and an emulator PU keeps its guest's colour with white
 * text. The XML is hwloc's export, one element a line; only PU objects and the root's info
 * lines are touched.
 */
#define STYLE_RESERVED "Background=#525252;Text=#ffffff"
#define STYLE_POOL "Background=#d9d9d9;Text=#000000"

/* The next range a-b of a kernel list string (checked before by the library, which planned
 * with it): false at its end. */
static bool
next_range(const char **list, unsigned long *a, unsigned long *b)
{
	char *end;

	if (!*list || !**list)
		return false;
	*a = *b = strtoul(*list, &end, 10);
	if (end == *list)
		return false;
	if (*end == '-')
		*b = strtoul(end + 1, &end, 10);
	*list = *end == ',' ? end + 1 : NULL;
	return true;
}

static bool
list_has(const char *list, unsigned n)
{
	unsigned long a, b;

	while (next_range(&list, &a, &b))
		if (n >= a && n <= b)
			return true;
	return false;
}

struct marks {
	const struct tmap_plan *plan;
	const char *reserve[2]; /* --reserve and the state's */
	char *pool;		/* shared guests' PUs, a list (may repeat) */
	bool white_text;	/* an emulator PU apart from its guest's vcpus */
};

static bool
is_vcpu_pu(const struct tmap_plan *plan, size_t g, unsigned pu)
{
	for (unsigned v = 0; v < tmap_plan_vcpu_count(plan, g); v++)
		if (list_has(tmap_plan_vcpu_cpuset(plan, g, v), pu))
			return true;
	return false;
}

/* A shared guest holds no PU of its own; its vcpus float over the pool. */
static bool
is_shared(const struct tmap_plan *plan, size_t g)
{
	const char *held = tmap_plan_held_cpuset(plan, g);

	return !held || !held[0];
}

/* The style for PU n, or NULL to leave the library's; m->white_text for an emulator PU. */
static const char *
pu_mark(struct marks *m, unsigned n)
{
	m->white_text = false;
	if (list_has(m->reserve[0], n) || list_has(m->reserve[1], n))
		return STYLE_RESERVED;
	if (list_has(m->pool, n))
		return STYLE_POOL;
	for (size_t g = 0; g < tmap_plan_guest_count(m->plan); g++)
		if (!is_shared(m->plan, g) && list_has(tmap_plan_emulator_cpuset(m->plan, g), n) &&
		    !is_vcpu_pu(m->plan, g, n))
			m->white_text = true;
	return NULL;
}

static void
legend(FILE *out, const char *indent, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void
legend(FILE *out, const char *indent, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* Values are PU lists and guest names ([A-Za-z0-9._-]): nothing to escape in XML. */
	fprintf(out, "%s<info name=\"lstopoLegend\" value=\"%s\"/>\n", indent, line);
}

/* Does the guest's emulator set hold a PU none of its vcpus runs on (emulator isolate)? */
static bool
emulator_apart(const struct tmap_plan *plan, size_t g)
{
	const char *list = tmap_plan_emulator_cpuset(plan, g);
	unsigned long a, b;

	while (next_range(&list, &a, &b))
		for (unsigned long pu = a; pu <= b; pu++)
			if (!is_vcpu_pu(plan, g, (unsigned)pu))
				return true;
	return false;
}

static void
legend_lines(FILE *out, const char *indent, const struct marks *m)
{
	const struct tmap_plan *plan = m->plan;
	const char *r0 = m->reserve[0], *r1 = m->reserve[1];
	bool both = r0 && r0[0] && r1 && r1[0];

	for (size_t g = 0; g < tmap_plan_guest_count(plan); g++) {
		const char *emu = tmap_plan_emulator_cpuset(plan, g);
		unsigned io = tmap_plan_iothread_count(plan, g);
		char ios[32] = "";

		if (io)
			snprintf(ios, sizeof(ios), " and %u iothread%s", io, io == 1 ? "" : "s");
		legend(out, indent, "%s: emulator threads%s float over PUs %s%s",
		       tmap_plan_guest_name(plan, g), ios, emu ? emu : "",
		       !is_shared(plan, g) && emulator_apart(plan, g) ?
			       " (of their own: white label)" : " (with the vcpus)");
	}
	if (m->pool && m->pool[0])
		legend(out, indent, "shared pool (light grey, #d9d9d9): PUs %s", m->pool);
	if ((r0 && r0[0]) || (r1 && r1[0]))
		legend(out, indent, "reserved for the host (dark grey, #525252): PUs %s%s%s",
		       r1 && r1[0] ? r1 : "", both ? "," : "", r0 && r0[0] ? r0 : "");
	legend(out, indent, "unpainted PUs: free for the host and new guests");
}

/* The library's XML with the marks above added; NULL when out of memory. */
static char *
mark_picture(const char *xml, const struct tmap_plan *plan, const char *reserve,
	     const char *kept_reserve)
{
	struct marks m = {.plan = plan, .reserve = {reserve, kept_reserve}};
	FILE *out, *pool;
	char *text = NULL, *line_end, indent[64] = "";
	size_t size = 0, pool_size = 0;
	const char *style = NULL, *p = xml;
	bool in_pu = false, in_root = false, root_done = false;

	pool = open_memstream(&m.pool, &pool_size);
	if (!pool)
		return NULL;
	/* Each distinct float set once (a shared guest's vcpus all float over the same one). */
	for (size_t g = 0, first = 1; g < tmap_plan_guest_count(plan); g++) {
		for (unsigned v = 0; is_shared(plan, g) && v < tmap_plan_vcpu_count(plan, g); v++) {
			const char *set = tmap_plan_vcpu_cpuset(plan, g, v);
			bool seen = false;

			for (size_t h = 0; h <= g && !seen; h++)
				for (unsigned w = 0; is_shared(plan, h) && !seen &&
						     w < (h == g ? v : tmap_plan_vcpu_count(plan, h));
				     w++)
					seen = strcmp(tmap_plan_vcpu_cpuset(plan, h, w), set) == 0;
			if (!seen)
				fprintf(pool, "%s%s", first ? "" : ",", set);
			first = first && seen;
		}
	}
	if (fclose(pool) != 0)
		return NULL;
	out = open_memstream(&text, &size);
	if (!out) {
		free(m.pool);
		return NULL;
	}
	for (; *p; p = line_end + 1) {
		const char *t = p + strspn(p, " ");
		size_t len;
		unsigned n;

		line_end = strchr(p, '\n');
		if (!line_end)
			line_end = (char *)p + strlen(p) - 1;
		len = (size_t)(line_end - p) + 1;
		/* The root's infos come first: ours go after the library's legend lines. */
		if (in_root && strncmp(t, "<info ", 6) != 0) {
			legend_lines(out, indent, &m);
			in_root = false;
		}
		if (!root_done && strncmp(t, "<object type=\"Machine\"", 22) == 0) {
			snprintf(indent, sizeof(indent), "%.*s  ", (int)(t - p) < 60 ? (int)(t - p) : 60,
				 p);
			in_root = root_done = true;
		}
		if (sscanf(t, "<object type=\"PU\" os_index=\"%u\"", &n) == 1) {
			style = pu_mark(&m, n);
			if (style && len >= 3 && strncmp(line_end - 2, "/>", 2) == 0) {
				fprintf(out, "%.*s>\n%*s<info name=\"lstopoStyle\" value=\"%s\"/>\n%*s</object>\n",
					(int)(len - 3), p, (int)(t - p) + 2, "", style, (int)(t - p), "");
				continue;
			}
			in_pu = len >= 3 && strncmp(line_end - 2, "/>", 2) != 0;
		} else if (in_pu && strncmp(t, "<info name=\"lstopoStyle\"", 24) == 0) {
			const char *bg = strstr(t, "Background=#");

			if (style)
				fprintf(out, "%.*s<info name=\"lstopoStyle\" value=\"%s\"/>\n",
					(int)(t - p), p, style);
			else if (m.white_text && bg)
				fprintf(out, "%.*s<info name=\"lstopoStyle\" value=\"%.18s;Text=#ffffff\"/>\n",
					(int)(t - p), p, bg);
			else
				fwrite(p, 1, len, out);
			continue;
		} else if (in_pu && strncmp(t, "</object>", 9) == 0) {
			in_pu = false;
		}
		fwrite(p, 1, len, out);
	}
	free(m.pool);
	if (fclose(out) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/*
 * The plan as a picture: the host in hwloc XML with each guest painted on it
 * (tmap_topology_export_xml()), drawn by hwloc's lstopo into a temporary file, then written
 * to stdout whole. SVG comes from lstopo-no-graphics (its own SVG, text as text), PNG from
 * lstopo (cairo). Run with posix_spawnp, no shell; OS indexes, every object drawn (not
 * factorized, or painted cores could be folded away), and no date or host name in the
 * legend, so the same plan draws the same picture.
 */
int
draw_plan(const struct tmap_topology *topology, const struct tmap_plan *plan, const char *reserve,
	  const char *kept_reserve, int format)
{
	extern char **environ;
	const char *prog = format == FORMAT_PNG ? "lstopo" : "lstopo-no-graphics";
	const char *of = format == FORMAT_PNG ? "png" : "svg";
	char xml_path[PATH_MAX], out_path[PATH_MAX], msg[256];
	int xml_fd = -1, out_fd = -1, err_fd = -1, r = EXIT_RUNTIME, status;
	char err_path[PATH_MAX];
	posix_spawn_file_actions_t actions;
	struct tmap_error err = {0};
	char *xml = NULL, *data = NULL;
	struct stat st;
	pid_t pid;

	if (tmap_topology_export_xml(topology, plan, 0, &xml, &err) < 0)
		return fail(EXIT_RUNTIME, "plan: %s", err.message);
	data = mark_picture(xml, plan, reserve, kept_reserve);
	free(xml);
	xml = data;
	data = NULL;
	if (!xml)
		return fail(EXIT_RUNTIME, "out of memory");
	xml_path[0] = out_path[0] = err_path[0] = '\0';
	xml_fd = make_temp(xml_path, sizeof(xml_path), ".xml");
	if (xml_fd < 0) {
		r = fail(EXIT_RUNTIME, "cannot create a temporary file: %s", strerror(errno));
		xml_path[0] = '\0';
		goto out;
	}
	out_fd = make_temp(out_path, sizeof(out_path), format == FORMAT_PNG ? ".png" : ".svg");
	if (out_fd < 0) {
		r = fail(EXIT_RUNTIME, "cannot create a temporary file: %s", strerror(errno));
		out_path[0] = '\0';
		goto out;
	}
	err_fd = make_temp(err_path, sizeof(err_path), ".log");
	if (err_fd < 0) {
		r = fail(EXIT_RUNTIME, "cannot create a temporary file: %s", strerror(errno));
		err_path[0] = '\0';
		goto out;
	}
	for (size_t done = 0, len = strlen(xml); done < len;) {
		ssize_t n = write(xml_fd, xml + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = fail(EXIT_RUNTIME, "cannot write '%s': %s", xml_path, strerror(errno));
			goto out;
		}
		done += (size_t)n;
	}

	{
		char *const argv[] = {
			(char *)prog, "--if", "xml", "-i", xml_path, "--of", (char *)of, "-f", "-p",
			"--no-factorize", "--no-default-legend", out_path, NULL,
		};
		int e;

		if (posix_spawn_file_actions_init(&actions) != 0) {
			r = fail(EXIT_RUNTIME, "out of memory");
			goto out;
		}
		e = posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY,
						     0);
		if (e == 0)
			e = posix_spawn_file_actions_adddup2(&actions, err_fd, STDOUT_FILENO);
		if (e == 0)
			e = posix_spawn_file_actions_adddup2(&actions, err_fd, STDERR_FILENO);
		if (e == 0)
			e = posix_spawnp(&pid, prog, &actions, NULL, argv, environ);
		posix_spawn_file_actions_destroy(&actions);
		if (e != 0) {
			r = fail(EXIT_RUNTIME,
				 "--format %s: cannot run '%s': %s (it comes with hwloc's lstopo, Debian package 'hwloc')",
				 of, prog, strerror(e));
			goto out;
		}
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			r = fail(EXIT_RUNTIME, "cannot wait for '%s': %s", prog, strerror(errno));
			goto out;
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		first_line(err_fd, msg, sizeof(msg));
		r = fail(EXIT_RUNTIME, "--format %s: '%s' failed (%s %d)%s%s", of, prog,
			 WIFEXITED(status) ? "exit status" : "signal",
			 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
			 msg[0] ? ": " : "", msg);
		goto out;
	}

	if (fstat(out_fd, &st) < 0 || st.st_size <= 0) {
		r = fail(EXIT_RUNTIME, "--format %s: '%s' drew nothing", of, prog);
		goto out;
	}
	data = malloc((size_t)st.st_size);
	if (!data) {
		r = fail(EXIT_RUNTIME, "out of memory");
		goto out;
	}
	if (pread(out_fd, data, (size_t)st.st_size, 0) != st.st_size) {
		r = fail(EXIT_RUNTIME, "cannot read '%s'", out_path);
		goto out;
	}
	r = EXIT_OK;
	for (size_t done = 0; done < (size_t)st.st_size;) {
		ssize_t n = write(STDOUT_FILENO, data + done, (size_t)st.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = fail(EXIT_RUNTIME, "cannot write the output: %s", strerror(errno));
			break;
		}
		done += (size_t)n;
	}
out:
	if (xml_fd >= 0)
		close(xml_fd);
	if (out_fd >= 0)
		close(out_fd);
	if (err_fd >= 0)
		close(err_fd);
	if (xml_path[0])
		unlink(xml_path);
	if (out_path[0])
		unlink(out_path);
	if (err_path[0])
		unlink(err_path);
	free(data);
	free(xml);
	return r;
}

