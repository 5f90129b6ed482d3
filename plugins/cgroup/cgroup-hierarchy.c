/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The cgroup backend: where the cpuset hierarchy is. The one place that tells the kinds of
 * host apart (cgroup v1, v2, hybrid), and the backend's probe.
 */
#include <linux/magic.h>
#include <sys/statfs.h>

#include "cgroup-backend.h"

/* Is word one of the space-separated words of list? */
bool
has_word(const char *list, const char *word, const char *separators)
{
	size_t n = strlen(word);

	while (*list) {
		size_t len = strcspn(list, separators);

		if (len == n && strncmp(list, word, n) == 0)
			return true;
		list += len;
		list += strspn(list, separators);
	}
	return false;
}

/* ---------------------------------------------------------------------------------------- */
/* Where the cpuset hierarchy is */

void
hierarchy_clear(struct hierarchy *h)
{
	free(h->mount);
	free(h->cpu_mount);
	*h = (struct hierarchy){0};
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void
unescape_octal(char *s)
{
	char *w = s;

	for (char *p = s; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			*w++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 3;
		} else {
			*w++ = *p;
		}
	}
	*w = '\0';
}

static bool
v2_offers(const char *mount, const char *controller)
{
	_cleanup_close_ int fd = open(mount, O_PATH | O_DIRECTORY | O_CLOEXEC);
	_cleanup_free_ char *list = NULL;

	if (fd < 0 || read_at(fd, "cgroup.controllers", MAX_FILE, &list) < 0)
		return false;
	return has_word(list, controller, " ");
}

/*
 * The first v1 mount carrying cpuset, the first carrying cpu, and the first cgroup2 mount
 * offering cpuset, from /proc/self/mountinfo:
 * "36 25 0:31 / /sys/fs/cgroup/cpuset rw,relatime shared:13 - cgroup cgroup rw,cpuset".
 */
static int
scan_mountinfo(char **ret_v1_cpuset, char **ret_v1_cpu, char **ret_v2_cpuset)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int r = 0;

	if (!f)
		return -errno;
	while (r == 0 && getline(&line, &cap, f) > 0) {
		char *fields[6], *fstype, *superopts, *save = NULL, *tok;
		size_t n = 0;

		line[strcspn(line, "\n")] = '\0';
		for (tok = strtok_r(line, " ", &save); tok && n < 6;
		     tok = strtok_r(NULL, " ", &save))
			fields[n++] = tok;
		/* Optional fields until the lone "-", then fstype, source, super options. */
		while (tok && !streq(tok, "-"))
			tok = strtok_r(NULL, " ", &save);
		if (n < 6 || !tok)
			continue;
		fstype = strtok_r(NULL, " ", &save);
		if (!fstype || !strtok_r(NULL, " ", &save))
			continue;
		superopts = strtok_r(NULL, " ", &save);
		if (!superopts)
			continue;
		unescape_octal(fields[4]);
		if (streq(fstype, "cgroup")) {
			if (!*ret_v1_cpuset && has_word(superopts, "cpuset", ","))
				r = (*ret_v1_cpuset = strdup(fields[4])) ? 0 : -ENOMEM;
			if (r == 0 && !*ret_v1_cpu && has_word(superopts, "cpu", ","))
				r = (*ret_v1_cpu = strdup(fields[4])) ? 0 : -ENOMEM;
		} else if (streq(fstype, "cgroup2") && !*ret_v2_cpuset &&
			   v2_offers(fields[4], "cpuset")) {
			r = (*ret_v2_cpuset = strdup(fields[4])) ? 0 : -ENOMEM;
		}
	}
	free(line);
	fclose(f);
	return r;
}

/*
 * The one place that tells the kinds of host apart, by what /sys/fs/cgroup is (as crun
 * does): cgroup2 itself on a unified host; a tmpfs of per-controller mounts on a legacy or
 * hybrid one, where cpuset may still sit on the cgroup2 mount in a hybrid setup.
 */
int
detect_hierarchy(struct hierarchy *ret, struct tmap_error *err)
{
	_cleanup_free_ char *v1_cpuset = NULL, *v1_cpu = NULL, *v2_cpuset = NULL;
	struct hierarchy h = {0};
	struct statfs fs;
	int r;

	if (statfs(CGROUP_ROOT, &fs) < 0)
		return tmap_error_set(err, -ENOENT, "no cpuset hierarchy: cannot look at %s: %s",
				 CGROUP_ROOT, strerror(errno));
	switch ((unsigned long)fs.f_type) {
	case CGROUP2_SUPER_MAGIC:
		if (!v2_offers(CGROUP_ROOT, "cpuset"))
			return tmap_error_set(err, -ENOENT,
					 "no cpuset hierarchy: the cgroup2 root at %s does not offer the cpuset controller (see its cgroup.controllers)",
					 CGROUP_ROOT);
		h.mount = strdup(CGROUP_ROOT);
		h.v2 = true;
		break;
	case TMPFS_MAGIC:
		r = scan_mountinfo(&v1_cpuset, &v1_cpu, &v2_cpuset);
		if (r < 0)
			return tmap_error_set(err, r, "cannot read /proc/self/mountinfo: %s",
					 strerror(-r));
		if (v1_cpuset) {
			h.mount = TAKE_PTR(v1_cpuset);
			h.cpu_mount = TAKE_PTR(v1_cpu);
		} else if (v2_cpuset) {
			h.mount = TAKE_PTR(v2_cpuset);
			h.v2 = true;
		} else {
			return tmap_error_set(err, -ENOENT,
					 "no cpuset hierarchy: no cgroup v1 mount carries cpuset and no cgroup2 mount offers it");
		}
		break;
	default:
		return tmap_error_set(err, -ENOENT,
				 "no cpuset hierarchy: %s is neither cgroup2 nor a tmpfs of cgroup mounts (filesystem magic 0x%lx)",
				 CGROUP_ROOT, (unsigned long)fs.f_type);
	}
	if (!h.mount) {
		hierarchy_clear(&h);
		return -ENOMEM;
	}
	*ret = h;
	return 0;
}

int
cgroup_probe(struct tmap_error *err)
{
	struct hierarchy h = {0};
	int r = detect_hierarchy(&h, err);

	if (r < 0)
		return r;
	hierarchy_clear(&h);
	if (geteuid() != 0)
		return tmap_error_set(err, -EPERM,
				 "the cgroup backend writes cgroup files and needs root (euid %u)",
				 (unsigned)geteuid());
	return 0;
}
