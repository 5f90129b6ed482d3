/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The partition put in force live (issue 15), as a transaction: capture each file before it
 * is written, write, read back, and on any failure put every captured value back, last
 * written first.
 *
 * - cgroup v1: the named cgroups' cpuset.cpus narrowed to the host's PUs (housekeeping and
 *   shared pool), children first, since a parent cannot be narrowed below a child; the
 *   tasks of the root cgroup, whose cpuset.cpus cannot be written, narrowed one by one
 *   (isolate-tasks.c);
 * - cgroup v2: each guest's cgroup becomes an isolated partition (cpuset.cpus.partition),
 *   which takes its PUs from every other cgroup, and system.slice, user.slice, init.scope
 *   and the named cgroups are narrowed to the host's PUs;
 * - interrupts: every /proc/irq/N/smp_affinity_list that holds a dedicated PU is moved off
 *   them and its effective_affinity_list read back; an IRQ the kernel refuses to move (a
 *   managed one) is reported, not a failure. The interrupts of a device a recorded guest
 *   holds (issue 16: its MSI/MSI-X vectors and INTx line, under sys_root) are the guest's:
 *   left where they are, and said to be.
 */
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <sys/statfs.h>

#include "../common/procfs.h"
#include "internal.h"

#define ISOLATE_FILE_MAX 65536
#define MAX_DEPTH 16

struct change {
	char *path;
	char *restore;	/* what to write to undo it */
	char *value;	/* what was written */
	unsigned long long start; /* a task's start time (path is its directory), else 0 */
};

struct tmap_isolation {
	const char *cgroup_root, *proc_root;
	/* The options it was made with, for a later apply to repeat (NULL roots: defaults). */
	char *cgroup_opt, *proc_opt, *sys_opt;
	char **narrow;
	size_t nnarrow;
	unsigned flags;
	hwloc_bitmap_t dedicated, host;	/* dedicated PUs; what the host keeps (hk + pool) */
	size_t n, size;
	struct change *changes;
	size_t nrefused;
	char **refused;
	size_t nleft;
	char **left;	/* "irq N: PCI, held by GUEST" */
	size_t nheld;
	unsigned *held;	/* those IRQs, in the order of left */
};

struct tmap_isolation *
tmap_isolation_free(struct tmap_isolation *iso)
{
	if (!iso)
		return NULL;
	for (size_t i = 0; i < iso->n; i++) {
		free(iso->changes[i].path);
		free(iso->changes[i].restore);
		free(iso->changes[i].value);
	}
	free(iso->changes);
	for (size_t i = 0; i < iso->nrefused; i++)
		free(iso->refused[i]);
	free(iso->refused);
	for (size_t i = 0; i < iso->nleft; i++)
		free(iso->left[i]);
	free(iso->left);
	free(iso->held);
	for (size_t i = 0; i < iso->nnarrow; i++)
		free(iso->narrow[i]);
	free(iso->narrow);
	free(iso->cgroup_opt);
	free(iso->proc_opt);
	free(iso->sys_opt);
	if (iso->dedicated)
		hwloc_bitmap_free(iso->dedicated);
	if (iso->host)
		hwloc_bitmap_free(iso->host);
	free(iso);
	return NULL;
}

static void
tmap_isolation_freep(struct tmap_isolation **p)
{
	tmap_isolation_free(*p);
}

/* A kernel file's first line, malloc()ed, without its newline. */
static int
read_line(const char *path, char **ret)
{
	char *text = NULL;
	int r = read_file_at(AT_FDCWD, path, ISOLATE_FILE_MAX, &text, NULL);

	if (r < 0)
		return r;
	text[strcspn(text, "\n")] = '\0';
	*ret = text;
	return 0;
}

/* Write value to a kernel file whole, as a shell's '>' does. */
static int
write_text_once(const char *path, const char *value)
{
	/* O_TRUNC: kernel files ignore it, a copy of them (a test's root) is not left with the
	 * tail of a longer value. */
	_cleanup_close_ int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	size_t len = strlen(value);
	ssize_t n;

	if (fd < 0)
		return -errno;
	/* An empty value is a newline: cgroupfs takes "\n" as "none" where "" is no write. */
	n = len ? write(fd, value, len) : write(fd, "\n", 1);
	if (n < 0)
		return -errno;
	return (size_t)n == (len ? len : 1) ? 0 : -EIO;
}

/*
 * write_text_once(), but a cgroup v2 partition the kernel made invalid is made valid again.
 * One whose PUs were in a sibling's cpuset.cpus for a moment (a restore that widens a narrowed
 * cgroup before an isolated partition, whose own restore was refused, is a member again)
 * keeps reading "isolated invalid (...)" once the sibling lets them go, until it is written
 * anew: so a partition file about to get the type it already has, invalid, gets "member"
 * first.
 */
static int
write_text(const char *path, const char *value)
{
	static const char partition[] = "/cpuset.cpus.partition";
	size_t len = strlen(value), plen = strlen(path), flen = sizeof(partition) - 1;
	_cleanup_free_ char *now = NULL;
	int r;

	if (!streq(value, "member") && plen >= flen && streq(path + plen - flen, partition) &&
	    read_line(path, &now) == 0 && strncmp(now, value, len) == 0 &&
	    strstr(now + len, "invalid")) {
		r = write_text_once(path, "member");
		if (r < 0)
			return r;
	}
	return write_text_once(path, value);
}

static int
vappend(char ***list, size_t *n, const char *fmt, va_list ap)
{
	char **bigger = realloc(*list, (*n + 1) * sizeof(*bigger));

	if (!bigger)
		return -ENOMEM;
	*list = bigger;
	if (vasprintf(&bigger[*n], fmt, ap) < 0)
		return -ENOMEM;
	(*n)++;
	return 0;
}

static int _printf_(2, 3)
refuse(struct tmap_isolation *iso, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vappend(&iso->refused, &iso->nrefused, fmt, ap);
	va_end(ap);
	return r;
}

static int _printf_(2, 3)
leave(struct tmap_isolation *iso, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vappend(&iso->left, &iso->nleft, fmt, ap);
	va_end(ap);
	return r;
}

/* A change about to be made, recorded (not yet counted): NULL when out of memory. */
static struct change *
next_change(struct tmap_isolation *iso, const char *path, const char *restore, const char *value)
{
	struct change *c;

	if (iso->n == iso->size) {
		size_t size = iso->size ? 2 * iso->size : 32;
		struct change *bigger = realloc(iso->changes, size * sizeof(*bigger));

		if (!bigger)
			return NULL;
		iso->changes = bigger;
		iso->size = size;
	}
	c = &iso->changes[iso->n];
	*c = (struct change){strdup(path), strdup(restore), strdup(value), 0};
	if (!c->path || !c->restore || !c->value) {
		free(c->path);
		free(c->restore);
		free(c->value);
		return NULL;
	}
	return c;
}

/* A task's affinity set by isolate-tasks.c, recorded. */
static int
record_task(void *data, const char *path, unsigned long long start, const char *restore,
	    const char *value, struct tmap_error *err)
{
	struct tmap_isolation *iso = data;
	struct change *c = next_change(iso, path, restore, value);

	if (!c)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	c->start = start;
	iso->n++;
	return 0;
}

static int
refuse_task(void *data, pid_t tid, const char *comm, const char *cpus, const char *why)
{
	return refuse(data, "task %d (%s): %s %s", (int)tid, comm, why, cpus);
}

/* Write value to path and record what undoes it. A kernel attribute takes a write whole or
 * not at all: one that failed changed nothing, and is not recorded. */
static int
change(struct tmap_isolation *iso, const char *path, const char *restore, const char *value,
       struct tmap_error *err)
{
	struct change *c;
	int r;

	c = next_change(iso, path, restore, value);
	if (!c)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	r = write_text(path, value);
	if (r < 0) {
		free(c->path);
		free(c->restore);
		free(c->value);
		return tmap_error_set(err, r, "cannot write '%s' to %s: %s", value, path, strerror(-r));
	}
	iso->n++;
	return 0;
}

/* The PUs in effect beside a cpuset.cpus file (its cpuset.cpus.effective), or "". */
static char *
effective_of(const char *path)
{
	_cleanup_free_ char *eff = NULL;
	char *line = NULL;

	if (asprintf(&eff, "%s.effective", path) < 0)
		return NULL;
	if (read_line(eff, &line) < 0)
		return strdup("");
	return line;
}

/* Narrow a cpuset.cpus file to what it holds of the host's PUs (all of them when it holds
 * none); read back. */
static int
narrow_file(struct tmap_isolation *iso, const char *path, bool whole, struct tmap_error *err)
{
	_cleanup_free_ char *old = NULL, *value = NULL, *back = NULL;
	_cleanup_bitmap_ hwloc_bitmap_t cur = NULL, want = hwloc_bitmap_alloc();
	int r;

	r = read_line(path, &old);
	if (r < 0)
		return tmap_error_set(err, r, "cannot read %s: %s", path, strerror(-r));
	if (!want || bitmap_parse_trimmed(old, &cur) < 0)
		return tmap_error_set(err, -EBADMSG, "%s: '%s' is not a list of PUs", path, old);
	hwloc_bitmap_and(want, cur, iso->host);
	if (whole || hwloc_bitmap_iszero(want))
		hwloc_bitmap_copy(want, iso->host);
	if (hwloc_bitmap_isequal(want, cur))
		return 0;
	value = bitmap_list(want);
	if (!value)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	/* An empty cpuset.cpus (v2: the parent's PUs) cannot be put back once the cgroup has
	 * tasks (the kernel says ENOSPC): it comes back as the PUs it had in effect. */
	if (!*old) {
		free(old);
		old = effective_of(path);
		if (!old)
			return tmap_error_set(err, -ENOMEM, "out of memory");
	}
	r = change(iso, path, old, value, err);
	if (r < 0)
		return r;
	r = read_line(path, &back);
	if (r < 0 || !streq(back, value))
		return tmap_error_set(err, r < 0 ? r : -EIO, "%s reads '%s' after '%s' was written",
				      path, r < 0 ? "" : back, value);
	return 0;
}

/* cgroup v1: dir and every cgroup below it, children first. */
static int
narrow_v1(struct tmap_isolation *iso, const char *dir, unsigned depth, struct tmap_error *err)
{
	_cleanup_free_ char *file = NULL;
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (depth > MAX_DEPTH)
		return tmap_error_set(err, -ELOOP, "%s: cgroups nested too deep", dir);
	d = opendir(dir);
	if (!d)
		return tmap_error_set(err, -errno, "cannot open cgroup %s: %m", dir);
	while (r == 0 && (de = readdir(d))) {
		_cleanup_free_ char *sub = NULL;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if (asprintf(&sub, "%s/%s", dir, de->d_name) < 0)
			r = tmap_error_set(err, -ENOMEM, "out of memory");
		else
			r = narrow_v1(iso, sub, depth + 1, err);
	}
	closedir(d);
	if (r == 0 && asprintf(&file, "%s/cpuset.cpus", dir) < 0)
		r = tmap_error_set(err, -ENOMEM, "out of memory");
	return r < 0 ? r : narrow_file(iso, file, false, err);
}

/* cgroup v2: a guest's cgroup becomes an isolated partition; read back. */
static int
isolate_v2(struct tmap_isolation *iso, const char *dir, struct tmap_error *err)
{
	_cleanup_free_ char *file = NULL, *old = NULL, *back = NULL;
	int r;

	if (asprintf(&file, "%s/cpuset.cpus.partition", dir) < 0)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	r = read_line(file, &old);
	if (r == -ENOENT)
		return tmap_error_set(err, -EOPNOTSUPP,
				      "%s: no cpuset partitions here (the kernel needs 6.1 or later, and cpuset enabled above it)",
				      dir);
	if (r < 0)
		return tmap_error_set(err, r, "cannot read %s: %s", file, strerror(-r));
	if (streq(old, "isolated"))
		return 0;
	r = change(iso, file, strncmp(old, "root", 4) == 0 ? "root" : "member", "isolated", err);
	if (r == 0)
		r = read_line(file, &back);
	if (r == 0 && !streq(back, "isolated"))
		r = tmap_error_set(err, -EINVAL, "%s reads '%s' after 'isolated' was written", file,
				   back);
	return r;
}

static int
cmp_unsigned(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

static int
add_irq(unsigned **irqs, size_t *n, const char *text)
{
	unsigned *bigger;
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || end == text || (*end && *end != '\n') || v == 0 || v > UINT_MAX)
		return 0;
	for (size_t i = 0; i < *n; i++)
		if ((*irqs)[i] == v)
			return 0;
	bigger = realloc(*irqs, (*n + 1) * sizeof(*bigger));
	if (!bigger)
		return -ENOMEM;
	bigger[(*n)++] = (unsigned)v;
	*irqs = bigger;
	return 0;
}

int
tmap_device_irqs(const char *sys_root, const char *pci, unsigned **ret, size_t *ret_n,
		 struct tmap_error *reterr)
{
	_cleanup_free_ char *dev = NULL, *msi = NULL, *line = NULL, *intx = NULL;
	_cleanup_free_ unsigned *irqs = NULL;
	size_t n = 0;
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (!pci || !*pci || strchr(pci, '/') || pci[0] == '.' || !ret || !ret_n)
		return tmap_error_set(reterr, -EINVAL, "'%s' is not a PCI address", pci ? pci : "");
	if (asprintf(&dev, "%s/bus/pci/devices/%s", sys_root ? sys_root : "/sys", pci) < 0 ||
	    asprintf(&msi, "%s/msi_irqs", dev) < 0 || asprintf(&intx, "%s/irq", dev) < 0)
		return tmap_error_set(reterr, -ENOMEM, "out of memory");
	if (access(dev, F_OK) < 0)
		return tmap_error_set(reterr, -ENOENT, "no PCI device %s here (%s)", pci, dev);
	d = opendir(msi);
	while (d && r == 0 && (de = readdir(d)))
		if (de->d_name[0] != '.')
			r = add_irq(&irqs, &n, de->d_name);
	if (d)
		closedir(d);
	if (r == 0 && read_line(intx, &line) == 0)
		r = add_irq(&irqs, &n, line);
	if (r < 0)
		return tmap_error_set(reterr, r, "out of memory");
	if (n)
		qsort(irqs, n, sizeof(*irqs), cmp_unsigned);
	*ret = TAKE_PTR(irqs);
	*ret_n = n;
	return 0;
}

/* The interrupts of the devices the guests hold: left to them. A device gone from the host
 * holds none. */
static int
find_held(struct tmap_isolation *iso, const struct tmap_partition *p, struct tmap_error *err)
{
	for (size_t i = 0; i < tmap_partition_device_count(p); i++) {
		_cleanup_free_ unsigned *irqs = NULL;
		const char *pci, *guest;
		unsigned *bigger;
		size_t n = 0;

		tmap_partition_device(p, i, &pci, &guest);
		if (tmap_device_irqs(iso->sys_opt, pci, &irqs, &n, NULL) < 0 || !n)
			continue;
		bigger = realloc(iso->held, (iso->nheld + n) * sizeof(*bigger));
		if (!bigger)
			return tmap_error_set(err, -ENOMEM, "out of memory");
		iso->held = bigger;
		for (size_t j = 0; j < n; j++) {
			if (leave(iso, "irq %u: %s, held by %s", irqs[j], pci, guest) < 0)
				return tmap_error_set(err, -ENOMEM, "out of memory");
			iso->held[iso->nheld++] = irqs[j];
		}
	}
	return 0;
}

static bool
is_held(const struct tmap_isolation *iso, const char *name)
{
	char *end;
	unsigned long v = strtoul(name, &end, 10);

	for (size_t i = 0; !*end && i < iso->nheld; i++)
		if (iso->held[i] == v)
			return true;
	return false;
}

/* Interrupts: each one off the dedicated PUs but the guests' own; a refusal is reported,
 * not a failure. */
static int
move_irqs(struct tmap_isolation *iso, struct tmap_error *err)
{
	char dir[4096];
	struct dirent *de;
	DIR *d;
	int r = 0;

	snprintf(dir, sizeof(dir), "%s/irq", iso->proc_root);
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : tmap_error_set(err, -errno, "cannot open %s: %m", dir);
	while (r == 0 && (de = readdir(d))) {
		_cleanup_free_ char *file = NULL, *eff = NULL, *old = NULL, *value = NULL,
				    *back = NULL;
		_cleanup_bitmap_ hwloc_bitmap_t cur = NULL, got = NULL;

		if (de->d_name[0] < '0' || de->d_name[0] > '9' || is_held(iso, de->d_name))
			continue;
		if (asprintf(&file, "%s/%s/smp_affinity_list", dir, de->d_name) < 0 ||
		    asprintf(&eff, "%s/%s/effective_affinity_list", dir, de->d_name) < 0) {
			r = tmap_error_set(err, -ENOMEM, "out of memory");
			break;
		}
		if (read_line(file, &old) < 0 || bitmap_parse_trimmed(old, &cur) < 0 ||
		    !hwloc_bitmap_intersects(cur, iso->dedicated))
			continue;
		hwloc_bitmap_andnot(cur, cur, iso->dedicated);
		if (hwloc_bitmap_iszero(cur))
			hwloc_bitmap_copy(cur, iso->host);
		value = bitmap_list(cur);
		if (!value) {
			r = tmap_error_set(err, -ENOMEM, "out of memory");
			break;
		}
		r = write_text(file, value);
		if (r < 0) {
			r = refuse(iso, "irq %s: the kernel keeps it on %s (%s: a managed interrupt?)",
				   de->d_name, old, strerror(-r));
			if (r == -ENOMEM)
				r = tmap_error_set(err, r, "out of memory");
			continue;
		}
		r = change(iso, file, old, value, err);
		if (r == 0 && read_line(eff, &back) == 0 && bitmap_parse_trimmed(back, &got) == 0 &&
		    hwloc_bitmap_intersects(got, iso->dedicated))
			r = refuse(iso, "irq %s: asked for %s, in effect on %s", de->d_name, value,
				   back);
		if (r == -ENOMEM)
			r = tmap_error_set(err, r, "out of memory");
	}
	closedir(d);
	return r;
}

int
isolate_restore(const char *const *paths, const char *const *values,
		const unsigned long long *starts, size_t n, struct tmap_error *reterr)
{
	int first = 0;

	for (size_t i = n; i-- > 0;) {
		int r;

		if (task_change_path(paths[i], NULL)) {
			r = task_put_back(paths[i], starts ? starts[i] : 0, values[i]);
			if (r < 0 && first == 0)
				first = tmap_error_set(reterr, r,
						       "cannot put the affinity of task %s back to %s: %s",
						       paths[i], values[i], strerror(-r));
			continue;
		}
		r = write_text(paths[i], values[i]);
		if (r < 0 && first == 0)
			first = tmap_error_set(reterr, r, "cannot put '%s' back into %s: %s",
					       values[i], paths[i], strerror(-r));
	}
	return first;
}

int
tmap_isolate_restore(const char *const *paths, const char *const *values, size_t n,
		     struct tmap_error *reterr)
{
	return isolate_restore(paths, values, NULL, n, reterr);
}

/* Undo what iso wrote, last first. */
static int
undo(const struct tmap_isolation *iso, struct tmap_error *err)
{
	_cleanup_free_ const char **paths = calloc(iso->n + 1, sizeof(*paths));
	_cleanup_free_ const char **values = calloc(iso->n + 1, sizeof(*values));
	_cleanup_free_ unsigned long long *starts = calloc(iso->n + 1, sizeof(*starts));

	if (!paths || !values || !starts)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < iso->n; i++) {
		paths[i] = iso->changes[i].path;
		values[i] = iso->changes[i].restore;
		starts[i] = iso->changes[i].start;
	}
	return isolate_restore(paths, values, starts, iso->n, err);
}

static int
sets_of(struct tmap_isolation *iso, const struct tmap_partition *p, struct tmap_error *err)
{
	const char *const lists[] = {tmap_partition_housekeeping(p), tmap_partition_shared(p),
				     tmap_partition_free_cpus(p)};

	iso->dedicated = hwloc_bitmap_alloc();
	iso->host = hwloc_bitmap_alloc();
	if (!iso->dedicated || !iso->host)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < tmap_partition_guest_count(p); i++) {
		_cleanup_bitmap_ hwloc_bitmap_t set = NULL;

		if (bitmap_parse_trimmed(tmap_partition_guest_cpus(p, i), &set) < 0)
			return tmap_error_set(err, -EINVAL, "bad partition");
		hwloc_bitmap_or(iso->dedicated, iso->dedicated, set);
	}
	if (hwloc_bitmap_iszero(iso->dedicated))
		return tmap_error_set(err, -EINVAL, "no dedicated guest: nothing to isolate");
	/* The housekeeping and shared PUs; with neither, every PU no dedicated guest holds. */
	for (size_t i = 0; i < ARRAY_SIZE(lists); i++) {
		_cleanup_bitmap_ hwloc_bitmap_t set = NULL;

		if (i == 2 && !hwloc_bitmap_iszero(iso->host))
			break;
		if (bitmap_parse_trimmed(lists[i], &set) < 0)
			return tmap_error_set(err, -EINVAL, "bad partition");
		hwloc_bitmap_or(iso->host, iso->host, set);
	}
	hwloc_bitmap_andnot(iso->host, iso->host, iso->dedicated);
	if (hwloc_bitmap_iszero(iso->host))
		return tmap_error_set(err, -EINVAL,
				      "nothing would be left for the host: every PU is dedicated (reserve some, or record housekeeping PUs)");
	return 0;
}

static bool
has_word(const char *text, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = text; (p = strstr(p, word)); p += n)
		if ((p == text || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0' || p[n] == '\n'))
			return true;
	return false;
}

/* Is cgroup directory dir at guest or above it? */
static bool
holds_guest(const char *dir, const struct tmap_isolate_options *o)
{
	size_t n = strlen(dir);

	for (size_t i = 0; i < o->nguest_cgroups; i++)
		if (strncmp(o->guest_cgroups[i], dir, n) == 0 &&
		    (o->guest_cgroups[i][n] == '/' || !o->guest_cgroups[i][n]))
			return true;
	return false;
}

/* Everything but the interrupts, for the hierarchy found. */
static int
isolate_cgroups(struct tmap_isolation *iso, const struct tmap_isolate_options *o, bool v2,
		struct tmap_error *err)
{
	static const char *const system_cgroups[] = {"system.slice", "user.slice", "init.scope"};
	char path[4096];
	int r = 0;

	if (v2) {
		_cleanup_free_ char *controllers = NULL;

		/* cpuset in the root's children, where it is not yet: undone by "-cpuset". */
		snprintf(path, sizeof(path), "%s/cgroup.subtree_control", iso->cgroup_root);
		r = read_line(path, &controllers);
		if (r < 0)
			return tmap_error_set(err, r, "cannot read %s: %s", path, strerror(-r));
		if (!has_word(controllers, "cpuset"))
			r = change(iso, path, "-cpuset", "+cpuset", err);
		/* Narrowed before the partitions take their PUs, so that what a narrowed cgroup
		 * had in effect is still all it had. */
		for (size_t i = 0; r == 0 && i < ARRAY_SIZE(system_cgroups); i++) {
			snprintf(path, sizeof(path), "%s/%s/cpuset.cpus", iso->cgroup_root,
				 system_cgroups[i]);
			if (access(path, F_OK) == 0)
				r = narrow_file(iso, path, true, err);
		}
	}
	for (size_t i = 0; r == 0 && i < o->nnarrow; i++) {
		const char *cg = o->narrow[i];

		if (strstr(cg, "..") || !*cg)
			return tmap_error_set(err, -EINVAL, "--narrow '%s': not a cgroup", cg);
		if (cg[0] == '/' && strncmp(cg, iso->cgroup_root, strlen(iso->cgroup_root)) == 0)
			snprintf(path, sizeof(path), "%s", cg);
		else
			snprintf(path, sizeof(path), "%s/%s", iso->cgroup_root,
				 cg + strspn(cg, "/"));
		if (holds_guest(path, o))
			return tmap_error_set(err, -EINVAL,
					      "--narrow '%s' holds a guest's cgroup: narrow the cgroups beside it",
					      cg);
		if (v2) {
			strncat(path, "/cpuset.cpus", sizeof(path) - strlen(path) - 1);
			r = narrow_file(iso, path, true, err);
		} else {
			r = narrow_v1(iso, path, 0, err);
		}
	}
	for (size_t i = 0; v2 && r == 0 && i < o->nguest_cgroups; i++)
		r = isolate_v2(iso, o->guest_cgroups[i], err);
	if (!v2 && r == 0) {
		struct task_narrowing tn = {
			.cgroup_root = iso->cgroup_root, .proc_root = iso->proc_root,
			.dedicated = iso->dedicated, .host = iso->host,
			.record = record_task, .refuse = refuse_task, .data = iso,
		};

		r = tasks_narrow(&tn, err);
	}
	return r;
}

/* Keep the options, for tmap_state_set_isolation() to record. */
static int
keep_options(struct tmap_isolation *iso, const struct tmap_isolate_options *o,
	     const char *cgroup_root, const char *sys_root)
{
	iso->flags = o->flags;
	if ((o->proc_root && !(iso->proc_opt = strdup(o->proc_root))) ||
	    (cgroup_root && !(iso->cgroup_opt = strdup(cgroup_root))) ||
	    (sys_root && !(iso->sys_opt = strdup(sys_root))))
		return -ENOMEM;
	if (o->nnarrow && !(iso->narrow = calloc(o->nnarrow, sizeof(*iso->narrow))))
		return -ENOMEM;
	for (; iso->nnarrow < o->nnarrow; iso->nnarrow++)
		if (!(iso->narrow[iso->nnarrow] = strdup(o->narrow[iso->nnarrow])))
			return -ENOMEM;
	iso->proc_root = iso->proc_opt ? iso->proc_opt : "/proc";
	return 0;
}

/* The cpuset hierarchy: the one given (v2 when it holds cgroup.subtree_control), or the one
 * mounted at /sys/fs/cgroup. */
static int
find_hierarchy(struct tmap_isolation *iso, bool *v2, struct tmap_error *err)
{
	char path[4096];
	struct statfs fs;

	if (iso->cgroup_opt) {
		iso->cgroup_root = iso->cgroup_opt;
		snprintf(path, sizeof(path), "%s/cgroup.subtree_control", iso->cgroup_opt);
		*v2 = access(path, F_OK) == 0;
		snprintf(path, sizeof(path), "%s/cpuset.cpus", iso->cgroup_opt);
		if (*v2 || access(path, F_OK) == 0)
			return 0;
		return tmap_error_set(err, -EOPNOTSUPP,
				      "controller 'cpuset' is not enabled under '%s'", iso->cgroup_opt);
	}
	if (statfs("/sys/fs/cgroup", &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC) {
		*v2 = true;
		iso->cgroup_root = "/sys/fs/cgroup";
	} else if (access("/sys/fs/cgroup/cpuset/cpuset.cpus", F_OK) == 0) {
		*v2 = false;
		iso->cgroup_root = "/sys/fs/cgroup/cpuset";
	} else {
		return tmap_error_set(err, -EOPNOTSUPP,
				      "controller 'cpuset' is not enabled under '/sys/fs/cgroup'");
	}
	return 0;
}

int
tmap_isolate(const struct tmap_partition *partition, const struct tmap_isolate_options *o,
	     struct tmap_isolation **ret, struct tmap_error *caller_err)
{
	struct tmap_error local = {0};
	struct tmap_error *reterr = caller_err ? caller_err : &local;
	_cleanup_(tmap_isolation_freep) struct tmap_isolation *iso = NULL;
	const size_t has_root = offsetof(struct tmap_isolate_options, cgroup_root) + sizeof(char *);
	const size_t has_sys = offsetof(struct tmap_isolate_options, sys_root) + sizeof(char *);
	bool v2;
	int r;

	if (!partition || !o || o->size < offsetof(struct tmap_isolate_options, cgroup_root) ||
	    !ret || (o->flags & ~TMAP_ISOLATE_NO_IRQS))
		return tmap_error_set(reterr, -EINVAL, "tmap_isolate: invalid argument");
	iso = calloc(1, sizeof(*iso));
	if (!iso || keep_options(iso, o, o->size >= has_root ? o->cgroup_root : NULL,
				 o->size >= has_sys ? o->sys_root : NULL) < 0)
		return tmap_error_set(reterr, -ENOMEM, "out of memory");
	r = sets_of(iso, partition, reterr);
	if (r == 0)
		r = find_hierarchy(iso, &v2, reterr);
	if (r < 0)
		return r;
	r = isolate_cgroups(iso, o, v2, reterr);
	if (r == 0 && !(o->flags & TMAP_ISOLATE_NO_IRQS))
		r = find_held(iso, partition, reterr);
	if (r == 0 && !(o->flags & TMAP_ISOLATE_NO_IRQS))
		r = move_irqs(iso, reterr);
	if (r < 0) {
		struct tmap_error undo_err = {0};

		if (undo(iso, &undo_err) < 0)
			return tmap_error_set(reterr, -ENOTRECOVERABLE,
					      "%s; then, putting back what was there: %s",
					      reterr ? reterr->message : strerror(-r), undo_err.message);
		return r;
	}
	*ret = TAKE_PTR(iso);
	return 0;
}

size_t
tmap_isolation_change_count(const struct tmap_isolation *iso)
{
	return iso ? iso->n : 0;
}

int
tmap_isolation_change(const struct tmap_isolation *iso, size_t i, const char **ret_path,
		      const char **ret_restore, const char **ret_value)
{
	if (!iso || i >= iso->n)
		return -EINVAL;
	if (ret_path)
		*ret_path = iso->changes[i].path;
	if (ret_restore)
		*ret_restore = iso->changes[i].restore;
	if (ret_value)
		*ret_value = iso->changes[i].value;
	return 0;
}

size_t
tmap_isolation_refused_count(const struct tmap_isolation *iso)
{
	return iso ? iso->nrefused : 0;
}

const char *
tmap_isolation_refused(const struct tmap_isolation *iso, size_t i)
{
	return iso && i < iso->nrefused ? iso->refused[i] : NULL;
}

size_t
tmap_isolation_left_count(const struct tmap_isolation *iso)
{
	return iso ? iso->nleft : 0;
}

const char *
tmap_isolation_left(const struct tmap_isolation *iso, size_t i)
{
	return iso && i < iso->nleft ? iso->left[i] : NULL;
}

void
isolation_options(const struct tmap_isolation *iso, struct tmap_isolate_options *ret)
{
	*ret = (struct tmap_isolate_options)TMAP_ISOLATE_OPTIONS_INIT;
	ret->flags = iso->flags;
	ret->proc_root = iso->proc_opt;
	ret->cgroup_root = iso->cgroup_opt;
	ret->sys_root = iso->sys_opt;
	ret->narrow = (const char *const *)iso->narrow;
	ret->nnarrow = iso->nnarrow;
}

unsigned long long
isolation_change_start(const struct tmap_isolation *iso, size_t i)
{
	return iso && i < iso->n ? iso->changes[i].start : 0;
}

int
isolation_undo(const struct tmap_isolation *iso, struct tmap_error *err)
{
	return undo(iso, err);
}
