/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Finding and loading backend modules. topomap runs as root on hypervisors, so a module is
 * code with every privilege: it is loaded only from absolute directories, owned by root or
 * the caller, writable by nobody else, from a file that is the same; its name is
 * [a-z0-9-]+ so an argument can never become a path; its ELF header must be a shared object
 * for this machine before dlopen() runs its constructors; and its descriptor is checked,
 * within the size of its symbol, before any of its callbacks runs.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/stat.h>

#include "topomap/backend.h"
#include "internal.h"

#ifndef TOPOMAP_PLUGINDIR
#error "TOPOMAP_PLUGINDIR must be set by the build"
#endif

#define MAX_BACKEND_NAME 64

struct tmap_backend_module {
	void *dl;
	const struct tmap_backend *desc;
	char *path;
};

static bool
backend_name_valid(const char *name, size_t len)
{
	if (len == 0 || len > MAX_BACKEND_NAME)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '-'))
			return false;
	return true;
}

/* Owned by root or by us, and writable by nobody else. */
static int
check_owner_mode(const struct stat *st, const char *what, const char *path,
		 struct tmap_error *err)
{
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return tmap_error_set(err, -EPERM,
				      "%s '%s' is owned by uid %u, neither root nor the caller", what,
				      path, (unsigned)st->st_uid);
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return tmap_error_set(err, -EPERM,
				      "%s '%s' is writable by %s: refusing to load code from it", what,
				      path, st->st_mode & S_IWOTH ? "everyone" : "its group");
	return 0;
}

/* This build's ELF class, byte order and machine; 0 for a machine not listed (not checked). */
#define HOST_ELF_CLASS (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32)
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_ELF_DATA ELFDATA2LSB
#else
#define HOST_ELF_DATA ELFDATA2MSB
#endif
#if defined(__x86_64__)
#define HOST_ELF_MACHINE EM_X86_64
#elif defined(__i386__)
#define HOST_ELF_MACHINE EM_386
#elif defined(__aarch64__)
#define HOST_ELF_MACHINE EM_AARCH64
#elif defined(__arm__)
#define HOST_ELF_MACHINE EM_ARM
#elif defined(__powerpc64__)
#define HOST_ELF_MACHINE EM_PPC64
#elif defined(__s390x__)
#define HOST_ELF_MACHINE EM_S390
#elif defined(__riscv)
#define HOST_ELF_MACHINE EM_RISCV
#else
#define HOST_ELF_MACHINE 0
#endif

/*
 * What can be told of a module before dlopen(), which runs its constructors: it is an ELF
 * shared object of this machine's class, byte order and machine. e_type and e_machine sit at
 * the same offsets in 32- and 64-bit headers.
 */
static int
check_elf(int fd, const char *path, struct tmap_error *err)
{
	unsigned char h[20];
	uint16_t type, machine;

	if (pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) || memcmp(h, ELFMAG, SELFMAG) != 0)
		return tmap_error_set(err, -ENOEXEC, "backend '%s' is not an ELF file", path);
	if (h[EI_CLASS] != HOST_ELF_CLASS || h[EI_DATA] != HOST_ELF_DATA)
		return tmap_error_set(err, -ENOEXEC,
				      "backend '%s' is a %s-bit %s-endian ELF file; this topomap is %d-bit %s-endian",
				      path, h[EI_CLASS] == ELFCLASS64 ? "64" : "32",
				      h[EI_DATA] == ELFDATA2MSB ? "big" : "little",
				      HOST_ELF_CLASS == ELFCLASS64 ? 64 : 32,
				      HOST_ELF_DATA == ELFDATA2MSB ? "big" : "little");
	memcpy(&type, h + 16, sizeof(type));
	memcpy(&machine, h + 18, sizeof(machine));
	if (type != ET_DYN)
		return tmap_error_set(err, -ENOEXEC, "backend '%s' is not an ELF shared object", path);
	if (HOST_ELF_MACHINE && machine != HOST_ELF_MACHINE)
		return tmap_error_set(err, -ENOEXEC,
				      "backend '%s' is built for ELF machine %u, not this one (%u)",
				      path, (unsigned)machine, (unsigned)HOST_ELF_MACHINE);
	return 0;
}

static int
check_dir(const char *dir, struct tmap_error *err)
{
	struct stat st;

	if (dir[0] != '/')
		return tmap_error_set(err, -EPERM,
				      "plugin directory '%s' is not an absolute path", dir);
	if (stat(dir, &st) < 0)
		return tmap_error_set(err, -errno, "plugin directory '%s': %s", dir,
				      strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return tmap_error_set(err, -ENOTDIR, "plugin directory '%s' is not a directory",
				      dir);
	return check_owner_mode(&st, "plugin directory", dir, err);
}

/* The directories to search, in order: TOPOMAP_PLUGIN_PATH or the built-in one. The
 * environment is ignored in setuid programs (secure_getenv). Returns a malloc()ed copy whose
 * entries are separated by NUL bytes, and their count. */
static int
plugin_dirs(char **ret, size_t *ret_n)
{
	const char *env = secure_getenv("TOPOMAP_PLUGIN_PATH");
	char *copy = strdup(env && *env ? env : TOPOMAP_PLUGINDIR);
	size_t n = 1;

	if (!copy)
		return -ENOMEM;
	for (char *p = copy; *p; p++)
		if (*p == ':') {
			*p = '\0';
			n++;
		}
	*ret = copy;
	*ret_n = n;
	return 0;
}

static void
module_free(struct tmap_backend_module *m)
{
	if (!m)
		return;
	if (m->dl)
		dlclose(m->dl);
	free(m->path);
	free(m);
}

struct tmap_backend_module *
tmap_backend_unload(struct tmap_backend_module *m)
{
	module_free(m);
	return NULL;
}

const struct tmap_backend *
tmap_backend_descriptor(const struct tmap_backend_module *m)
{
	return m ? m->desc : NULL;
}

const char *
tmap_backend_path(const struct tmap_backend_module *m)
{
	return m ? m->path : NULL;
}

/*
 * The descriptor's symbol is data, and at least as large as its `size` says: a module whose
 * symbol holds the frozen header alone must not make the loader read past it. The header
 * is read only once the symbol is known to hold it.
 */
static int
check_symbol_size(const struct tmap_backend *d, const char *path, struct tmap_error *err)
{
	const ElfW(Sym) *sym = NULL;
	Dl_info info;

	if (dladdr1(d, &info, (void **)&sym, RTLD_DL_SYMENT) == 0 || !sym)
		return tmap_error_set(err, -ENOEXEC,
				      "backend '%s': the size of its 'tmap_backend' descriptor cannot be found",
				      path);
	if (ELF64_ST_TYPE(sym->st_info) != STT_OBJECT)
		return tmap_error_set(err, -ENOEXEC,
				      "backend '%s' exports 'tmap_backend' as code, not as a descriptor",
				      path);
	if (sym->st_size < offsetof(struct tmap_backend, name))
		return tmap_error_set(err, -ENOEXEC,
				      "backend '%s' has a 'tmap_backend' of %zu bytes, too small for its header",
				      path, (size_t)sym->st_size);
	if (d->abi == TMAP_BACKEND_ABI && d->size > sym->st_size)
		return tmap_error_set(err, -ENOEXEC,
				      "backend '%s' declares a descriptor of %u bytes, but its 'tmap_backend' has %zu",
				      path, d->size, (size_t)sym->st_size);
	return 0;
}

static int
check_descriptor(const struct tmap_backend *d, const char *path, const char *name, size_t len,
		 struct tmap_error *err)
{
	static const struct {
		size_t offset;
		const char *name;
	} mandatory[] = {
		{offsetof(struct tmap_backend, probe), "probe"},
		{offsetof(struct tmap_backend, open), "open"},
		{offsetof(struct tmap_backend, apply), "apply"},
		{offsetof(struct tmap_backend, read_back), "read_back"},
		{offsetof(struct tmap_backend, restore), "restore"},
		{offsetof(struct tmap_backend, close), "close"},
	};

	if (d->abi != TMAP_BACKEND_ABI)
		return tmap_error_set(err, -ENOEXEC,
				      "backend '%s' speaks backend ABI %u; this topomap speaks %u",
				      path, d->abi, TMAP_BACKEND_ABI);
	if (d->size < TMAP_BACKEND_SIZE_V1)
		return tmap_error_set(err, -ENOEXEC,
				      "backend '%s' has a descriptor of %u bytes, less than ABI %u's %zu",
				      path, d->size, TMAP_BACKEND_ABI, (size_t)TMAP_BACKEND_SIZE_V1);
	if (!d->name || strlen(d->name) != len || strncmp(d->name, name, len) != 0)
		return tmap_error_set(err, -ENOEXEC,
				      "backend '%s' calls itself '%.64s', not '%.*s' as its file name says",
				      path, d->name ? d->name : "", (int)len, name);
	for (size_t i = 0; i < ARRAY_SIZE(mandatory); i++) {
		void *fn;

		memcpy(&fn, (const char *)d + mandatory[i].offset, sizeof(fn));
		if (!fn)
			return tmap_error_set(err, -ENOEXEC,
					      "backend '%s' lacks the mandatory callback '%s'", path,
					      mandatory[i].name);
	}
	return 0;
}

/* Load dir/file after checking both. The name is the file name without ".so". */
static int
load_file(const char *dir, const char *file, struct tmap_backend_module **ret,
	  struct tmap_error *err)
{
	struct tmap_backend_module *m = NULL;
	_cleanup_close_ int fd = -1;
	const struct tmap_backend *d;
	size_t len = strlen(file);
	struct stat st, again;
	int r;

	if (len < 4 || strcmp(file + len - 3, ".so") != 0 || !backend_name_valid(file, len - 3))
		return tmap_error_set(err, -EINVAL, "'%s/%s' is not named like a backend", dir,
				      file);
	m = calloc(1, sizeof(*m));
	if (!m || asprintf(&m->path, "%s/%s", dir, file) < 0) {
		free(m);
		return tmap_error_set(err, -ENOMEM, "out of memory");
	}
	/* Check the file itself (no link followed), then load it by the same path. */
	fd = open(m->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		r = tmap_error_set(err, errno == ELOOP ? -EPERM : -errno, "backend '%s': %s",
				   m->path, errno == ELOOP ? "is a symbolic link" : strerror(errno));
		goto fail;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		r = tmap_error_set(err, -EPERM, "backend '%s' is not a regular file", m->path);
		goto fail;
	}
	r = check_owner_mode(&st, "backend", m->path, err);
	if (r == 0)
		r = check_elf(fd, m->path, err);
	if (r < 0)
		goto fail;
	/* dlopen() the checked path (glibc tells loaded objects apart by name, so a
	 * /proc/self/fd/N path would alias two modules opened through the same fd number), then
	 * make sure what it mapped is the very file checked above, not one swapped in since. */
	m->dl = dlopen(m->path, RTLD_NOW | RTLD_LOCAL);
	if (m->dl && (stat(m->path, &again) < 0 || again.st_dev != st.st_dev ||
		      again.st_ino != st.st_ino)) {
		r = tmap_error_set(err, -EPERM, "backend '%s' changed while it was being loaded",
				   m->path);
		goto fail;
	}
	if (!m->dl) {
		const char *why = dlerror();

		r = tmap_error_set(err, -ENOEXEC, "backend '%s' cannot be loaded: %s", m->path,
				   why ? why : "unknown error");
		goto fail;
	}
	d = dlsym(m->dl, "tmap_backend");
	if (!d) {
		r = tmap_error_set(err, -ENOEXEC, "backend '%s' exports no 'tmap_backend' descriptor",
				   m->path);
		goto fail;
	}
	r = check_symbol_size(d, m->path, err);
	if (r == 0)
		r = check_descriptor(d, m->path, file, len - 3, err);
	if (r < 0)
		goto fail;
	m->desc = d;
	*ret = m;
	return 0;
fail:
	module_free(m);
	return r;
}

int
tmap_backend_load(const char *name, struct tmap_backend_module **ret, struct tmap_error *err)
{
	_cleanup_free_ char *dirs = NULL;
	char file[MAX_BACKEND_NAME + 4];
	size_t n;
	char *dir;
	int r;

	if (!ret)
		return tmap_error_set(err, -EINVAL, "tmap_backend_load: no place for the result");
	if (!name || !backend_name_valid(name, strlen(name)))
		return tmap_error_set(err, -EINVAL,
				      "backend name '%.80s' is not valid: use lowercase letters, digits and '-'",
				      name ? name : "");
	if (plugin_dirs(&dirs, &n) < 0)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	snprintf(file, sizeof(file), "%s.so", name);
	dir = dirs;
	for (size_t i = 0; i < n; i++, dir += strlen(dir) + 1) {
		char path[4096];

		if (!*dir)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, file);
		if (access(path, F_OK) < 0 && errno == ENOENT)
			continue;
		/* Found: the directory must be safe before anything in it is used. */
		r = check_dir(dir, err);
		if (r < 0)
			return r;
		return load_file(dir, file, ret, err);
	}
	return tmap_error_set(err, -ENOENT,
			      "no backend '%s' in %s (see `topomap backends`)", name,
			      secure_getenv("TOPOMAP_PLUGIN_PATH") ? "TOPOMAP_PLUGIN_PATH" : TOPOMAP_PLUGINDIR);
}

static int
so_filter(const struct dirent *e)
{
	size_t len = strlen(e->d_name);

	return len > 3 && strcmp(e->d_name + len - 3, ".so") == 0;
}

int
tmap_backend_foreach(tmap_backend_foreach_fn fn, void *userdata, struct tmap_error *err)
{
	_cleanup_free_ char *dirs = NULL;
	size_t n;
	char *dir;
	int r = 0;

	if (!fn)
		return tmap_error_set(err, -EINVAL, "tmap_backend_foreach: no callback");
	if (plugin_dirs(&dirs, &n) < 0)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	dir = dirs;
	for (size_t i = 0; i < n && r == 0; i++, dir += strlen(dir) + 1) {
		struct dirent **list = NULL;
		int count;

		if (!*dir)
			continue;
		r = check_dir(dir, err);
		if (r == -ENOENT) {
			r = 0; /* a directory of the path that does not exist holds nothing */
			continue;
		}
		if (r < 0)
			return r;
		count = scandir(dir, &list, so_filter, alphasort);
		if (count < 0)
			return tmap_error_set(err, -errno, "plugin directory '%s': %s", dir,
					      strerror(errno));
		for (int k = 0; k < count; k++) {
			struct tmap_backend_module *m = NULL;
			struct tmap_error lerr = {0};
			char path[4096];

			snprintf(path, sizeof(path), "%s/%s", dir, list[k]->d_name);
			if (r == 0) {
				load_file(dir, list[k]->d_name, &m, &lerr);
				r = fn(path, m, m ? NULL : &lerr, userdata);
				module_free(m);
			}
			free(list[k]);
		}
		free(list);
	}
	return r;
}
