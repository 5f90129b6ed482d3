/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What is in force on a domain, as libvirt reports it (open() keeps it, read_back() reports
 * it), and for a running domain of the local QEMU driver, as /proc says each QEMU thread may
 * run and allocate.
 */
#include "libvirt-domain.h"
#include "vcpu-sched.h"

/* ---------------------------------------------------------------------------------------- */
/* Reading what is in force: open() keeps it, read_back() reports it */

static int
get_vcpus(struct lv *lv, const struct view *v, unsigned *ret_n, unsigned char **ret_maps,
	  struct tmap_error *err)
{
	_cleanup_free_ unsigned char *maps = NULL;
	int n;

	n = virDomainGetVcpusFlags(lv->dom, v->flags | VIR_DOMAIN_VCPU_MAXIMUM);
	if (n < 0)
		return lv_error(lv, err, "cannot count the vcpus of '%s' (%s)", lv->name, v->name);
	maps = calloc((size_t)n ? (size_t)n : 1, (size_t)lv->maplen);
	if (!maps)
		return oom(err);
	n = virDomainGetVcpuPinInfo(lv->dom, n, maps, lv->maplen, v->flags);
	if (n < 0)
		return lv_error(lv, err, "cannot read the vcpu pins of '%s' (%s)", lv->name,
				v->name);
	*ret_n = (unsigned)n;
	*ret_maps = TAKE_PTR(maps);
	return 0;
}

static int
get_emulator(struct lv *lv, const struct view *v, unsigned char **ret_map, struct tmap_error *err)
{
	_cleanup_free_ unsigned char *map = calloc(1, (size_t)lv->maplen);

	if (!map)
		return oom(err);
	if (virDomainGetEmulatorPinInfo(lv->dom, map, lv->maplen, v->flags) < 0)
		return lv_error(lv, err, "cannot read the emulator pin of '%s' (%s)", lv->name,
				v->name);
	*ret_map = TAKE_PTR(map);
	return 0;
}

static int
cmp_iothread(const void *a, const void *b)
{
	const virDomainIOThreadInfo *x = *(virDomainIOThreadInfo *const *)a;
	const virDomainIOThreadInfo *y = *(virDomainIOThreadInfo *const *)b;

	return (x->iothread_id > y->iothread_id) - (x->iothread_id < y->iothread_id);
}

/* The iothreads in ascending ids: plan iothread k (from 1) is the domain's k-th. */
static int
get_iothreads(struct lv *lv, const struct view *v, unsigned *ret_n, unsigned **ret_ids,
	      unsigned char **ret_maps, struct tmap_error *err)
{
	virDomainIOThreadInfoPtr *info = NULL;
	_cleanup_free_ unsigned *ids = NULL;
	_cleanup_free_ unsigned char *maps = NULL;
	int n, r = 0;

	n = virDomainGetIOThreadInfo(lv->dom, &info, v->flags);
	if (n < 0)
		return lv_error(lv, err, "cannot read the iothreads of '%s' (%s)", lv->name,
				v->name);
	if (n > 0)
		qsort(info, (size_t)n, sizeof(*info), cmp_iothread);
	ids = calloc((size_t)n + 1, sizeof(*ids));
	maps = calloc((size_t)n + 1, (size_t)lv->maplen);
	if (!ids || !maps)
		r = oom(err);
	for (int i = 0; i < n; i++) {
		int len = info[i]->cpumaplen < lv->maplen ? info[i]->cpumaplen : lv->maplen;

		if (r == 0) {
			ids[i] = info[i]->iothread_id;
			memcpy(maps + (size_t)i * lv->maplen, info[i]->cpumap, (size_t)len);
		}
		virDomainIOThreadInfoFree(info[i]);
	}
	free(info);
	if (r < 0)
		return r;
	*ret_n = (unsigned)n;
	*ret_ids = TAKE_PTR(ids);
	*ret_maps = TAKE_PTR(maps);
	return 0;
}

static int
get_numa(struct lv *lv, const struct view *v, int *ret_mode, char **ret_nodeset,
	 struct tmap_error *err)
{
	virTypedParameterPtr params = NULL;
	const char *nodeset = NULL;
	int n = 0, mode = TMAP_MEMORY_STRICT, r = 0;

	if (virDomainGetNumaParameters(lv->dom, NULL, &n, v->flags) < 0)
		return lv_error(lv, err, "cannot read the numatune of '%s' (%s)", lv->name,
				v->name);
	params = calloc((size_t)n + 1, sizeof(*params));
	if (!params)
		return oom(err);
	if (n > 0 && virDomainGetNumaParameters(lv->dom, params, &n, v->flags) < 0) {
		free(params);
		return lv_error(lv, err, "cannot read the numatune of '%s' (%s)", lv->name,
				v->name);
	}
	/* Absent values are libvirt's defaults: strict, no nodeset. */
	if (virTypedParamsGetInt(params, n, VIR_DOMAIN_NUMA_MODE, &mode) < 0 ||
	    virTypedParamsGetString(params, n, VIR_DOMAIN_NUMA_NODESET, &nodeset) < 0)
		r = lv_error(lv, err, "cannot read the numatune of '%s' (%s)", lv->name, v->name);
	if (r == 0 && !(*ret_nodeset = strdup(nodeset ? nodeset : "")))
		r = oom(err);
	if (r == 0)
		*ret_mode = mode;
	virTypedParamsClear(params, n);
	free(params);
	return r;
}

/* cpu_shares, vcpu_period and vcpu_quota, those of them libvirt reports. */
static int
get_sched(struct lv *lv, struct view *v, struct tmap_error *err)
{
	virTypedParameterPtr params = NULL;
	char *type;
	int n = 0, r = 0;

	type = virDomainGetSchedulerType(lv->dom, &n);
	if (!type)
		return lv_error(lv, err, "cannot read the scheduler of '%s' (%s)", lv->name,
				v->name);
	free(type);
	params = calloc((size_t)n + 1, sizeof(*params));
	if (!params)
		return oom(err);
	if (n > 0 && virDomainGetSchedulerParametersFlags(lv->dom, params, &n, v->flags) < 0) {
		free(params);
		return lv_error(lv, err, "cannot read the scheduler parameters of '%s' (%s)",
				lv->name, v->name);
	}
	v->has_shares = virTypedParamsGetULLong(params, n, VIR_DOMAIN_SCHEDULER_CPU_SHARES,
						&v->shares) == 1;
	v->has_period = virTypedParamsGetULLong(params, n, VIR_DOMAIN_SCHEDULER_VCPU_PERIOD,
						&v->period) == 1;
	v->has_quota = virTypedParamsGetLLong(params, n, VIR_DOMAIN_SCHEDULER_VCPU_QUOTA,
					      &v->quota) == 1;
	virTypedParamsClear(params, n);
	free(params);
	return r;
}

static char *
get_xml(struct lv *lv, const struct view *v, struct tmap_error *err)
{
	unsigned flags = v->config ? VIR_DOMAIN_XML_INACTIVE : 0;
	char *xml;

	/* The secrets (VNC passwords) must survive restore()'s define; a read-only connection
	 * gets none, and never restores. */
	if (!lv->readonly)
		flags |= VIR_DOMAIN_XML_SECURE;
	xml = virDomainGetXMLDesc(lv->dom, flags);
	if (!xml)
		lv_error(lv, err, "cannot read the XML of '%s' (%s)", lv->name, v->name);
	return xml;
}

int
capture(struct lv *lv, struct view *v, struct tmap_error *err)
{
	struct tmap_error ignored = {0};
	char *xml;
	int r;

	r = get_vcpus(lv, v, &v->nvcpus, &v->vcpu_maps, err);
	if (r == 0)
		r = get_emulator(lv, v, &v->emulator_map, err);
	if (r == 0)
		r = get_iothreads(lv, v, &v->niothreads, &v->iothread_ids, &v->iothread_maps, err);
	if (r == 0)
		r = get_numa(lv, v, &v->numa_mode, &v->numa_nodeset, err);
	if (r < 0)
		return r;
	/* Drivers without these parameters (test:///) are fine until a plan sets one: apply()
	 * refuses to set what it could not put back. */
	if (get_sched(lv, v, &ignored) < 0)
		v->has_shares = v->has_period = v->has_quota = false;
	xml = get_xml(lv, v, err);
	if (!xml)
		return err ? err->code : -EIO;
	r = domain_xml_numa(xml, &v->numa, err);
	if (r == 0 && v->config)
		v->xml = xml;
	else
		free(xml);
	return r;
}

/* ---------------------------------------------------------------------------------------- */
/* Reading back */

/* Differences libvirt reports that the core has no kind of observation for (the memory mode,
 * a cell's node, QoS): the first one, and how many. */
struct mismatch {
	unsigned n;
	char first[TMAP_ERROR_MAX];
};

static void mismatch_add(struct mismatch *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
mismatch_add(struct mismatch *m, const char *fmt, ...)
{
	va_list ap;

	if (m->n++ > 0)
		return;
	va_start(ap, fmt);
	vsnprintf(m->first, sizeof(m->first), fmt, ap);
	va_end(ap);
}

static int
observe_map(struct tmap_observed *obs, enum tmap_observed_kind kind, unsigned index,
	    const unsigned char *map, int maplen, const char *where, struct tmap_error *err)
{
	_cleanup_free_ char *list = cpumap_to_list(map, maplen);
	int r;

	if (!list)
		return oom(err);
	r = tmap_observed_set(obs, kind, index, list, where);
	if (r < 0)
		return tmap_error_set(err, r, "%s: cannot record '%s'", where, list);
	return 0;
}

/*
 * The pid of a running domain's QEMU, from the pid file libvirt keeps, but only when that
 * process names this domain on its command line ("-name guest=NAME,..."): a pid file read
 * through another mount or pid namespace than the daemon's would name someone else.
 */
static int
qemu_pid(const char *name, pid_t *ret)
{
	_cleanup_free_ char *path = NULL, *text = NULL, *cmdline = NULL, *want = NULL;
	char proc[64];
	size_t len = 0;
	long pid;
	char *end;

	if (strchr(name, '/') || asprintf(&path, QEMU_RUN_DIR "/%s.pid", name) < 0)
		return -ENOENT;
	if (read_file_at(AT_FDCWD, path, 64, &text, NULL) < 0)
		return -ENOENT;
	errno = 0;
	pid = strtol(text, &end, 10);
	if (errno || pid <= 1 || pid > INT32_MAX || (*end && *end != '\n'))
		return -ENOENT;
	snprintf(proc, sizeof(proc), "/proc/%ld/cmdline", pid);
	if (read_file_at(AT_FDCWD, proc, MAX_PROC_FILE, &cmdline, &len) < 0)
		return -ENOENT;
	/* libvirt doubles the commas of a name in QEMU's option syntax. */
	want = malloc(strlen("guest=") + 2 * strlen(name) + 1);
	if (!want)
		return -ENOMEM;
	strcpy(want, "guest=");
	{
		char *p = want + strlen(want);

		for (const char *s = name; *s; s++) {
			if (*s == ',')
				*p++ = ',';
			*p++ = *s;
		}
		*p = '\0';
	}
	for (size_t off = 0; off < len;) {
		const char *arg = cmdline + off;
		size_t alen = strlen(arg);

		off += alen + 1;
		if (!streq(arg, "-name") || off >= len)
			continue;
		arg = cmdline + off;
		if (strncmp(arg, want, strlen(want)) == 0 &&
		    (arg[strlen(want)] == '\0' || arg[strlen(want)] == ',')) {
			*ret = (pid_t)pid;
			return 0;
		}
		return -ENOENT;
	}
	return -ENOENT;
}

struct task {
	int tid;
	char comm[32];
	char *cpus, *mems;
};

/* A thread's role from the name QEMU gives it with debug-threads=on, which libvirt always
 * asks for: "CPU 3/KVM" or "CPU 3/TCG", "IO iothread2" (libvirt names iothread objects so),
 * the rest (main loop, "call_rcu", "IO mon_iothread", workers) emulator threads, as libvirt's
 * cgroups have them. */
static enum tmap_task_role
task_role(const struct task *t, const struct view *v, unsigned *ret_index)
{
	unsigned n;
	char slash;

	if (sscanf(t->comm, "CPU %u%c", &n, &slash) == 2 && slash == '/') {
		*ret_index = n;
		return TMAP_TASK_VCPU;
	}
	if (sscanf(t->comm, "IO iothread%u", &n) == 1) {
		for (unsigned k = 0; k < v->niothreads; k++)
			if (v->iothread_ids[k] == n) {
				*ret_index = k + 1;
				return TMAP_TASK_IOTHREAD;
			}
		return TMAP_TASK_ANY;
	}
	*ret_index = 0;
	return TMAP_TASK_EMULATOR;
}

/* The threads of a local domain's QEMU, each with its role and affinity; with `sched` (the
 * plan, when the live <vcpusched> is its), each vcpu thread's scheduling class too. */
static int
observe_tasks(struct lv *lv, const struct view *v, bool with_mems, const struct tmap_plan *sched,
	      size_t guest, struct tmap_observed *obs, struct tmap_error *err)
{
	_cleanup_close_ int tfd = -1;
	struct task *tasks = NULL;
	size_t ntasks = 0;
	bool named = false;
	char path[64];
	struct dirent *e;
	DIR *d;
	pid_t pid;
	int r = 0;

	if (!local_qemu(lv) || qemu_pid(lv->name, &pid) < 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return tmap_error_set(err, -errno, "cannot list the threads of '%s' in '%s': %s", lv->name,
				 path, strerror(errno));
	tfd = dup(dirfd(d));
	while (r == 0 && (e = readdir(d))) {
		_cleanup_free_ char *status = NULL, *comm = NULL;
		struct task t = {0}, *bigger;
		char file[64];
		long tid;
		char *end;

		tid = strtol(e->d_name, &end, 10);
		if (*end || tid <= 0)
			continue;
		/* A thread that ends while it is read is no longer the guest's. */
		snprintf(file, sizeof(file), "%ld/status", tid);
		if (read_file_at(tfd, file, MAX_PROC_FILE, &status, NULL) < 0)
			continue;
		snprintf(file, sizeof(file), "%ld/comm", tid);
		if (read_file_at(tfd, file, 64, &comm, NULL) < 0)
			continue;
		t.tid = (int)tid;
		snprintf(t.comm, sizeof(t.comm), "%.*s", (int)strcspn(comm, "\n"), comm);
		r = status_field(status, "Cpus_allowed_list", &t.cpus);
		if (r == -ENOENT) {
			/* Not a status this backend can read: nothing to compare. */
			r = 0;
			continue;
		}
		if (r == 0 && status_field(status, "Mems_allowed_list", &t.mems) == -ENOMEM)
			r = -ENOMEM;
		bigger = r == 0 ? realloc(tasks, (ntasks + 1) * sizeof(*tasks)) : NULL;
		if (!bigger) {
			free(t.cpus);
			free(t.mems);
			r = oom(err);
			break;
		}
		tasks = bigger;
		tasks[ntasks++] = t;
		named |= strncmp(t.comm, "CPU ", 4) == 0;
	}
	closedir(d);
	for (size_t i = 0; i < ntasks; i++) {
		unsigned index = 0;
		/* Without thread names, every thread is held to the guest's whole set only. */
		enum tmap_task_role role = named ? task_role(&tasks[i], v, &index) : TMAP_TASK_ANY;

		if (r == 0) {
			r = tmap_observed_task(obs, tasks[i].tid, role, index, tasks[i].cpus,
					       with_mems ? tasks[i].mems : NULL);
			if (r < 0)
				tmap_error_set(err, r, "thread %d of '%s': cannot record '%s'", tasks[i].tid,
					  lv->name, tasks[i].cpus);
		}
		/* libvirt gave the vcpu threads the plan's classes at their start: a class
		 * changed since by hand is drift (issue 21). */
		if (r == 0 && sched && role == TMAP_TASK_VCPU)
			r = sched_observe(tasks[i].tid, index, sched, guest, obs, err);
		free(tasks[i].cpus);
		free(tasks[i].mems);
	}
	free(tasks);
	return r;
}

/*
 * The memory of one side: its mode and nodeset (all the host's nodes without one), and each
 * guest cell's nodes (its memnode, or the domain's nodeset). *ret_differs says whether any
 * differs from the plan; *ret_first is the first difference of the mode or a cell (a nodeset
 * is compared as a set, by the core), or NULL. *ret_mode and *ret_nodes: what is in force
 * (ret_nodes may be NULL).
 */
static int
memory_difference(struct lv *lv, const struct view *v, const struct tmap_plan *plan, size_t guest,
		  bool *ret_differs, int *ret_mode, char **ret_nodes, char **ret_first,
		  struct tmap_error *err)
{
	int want_mode = tmap_plan_memory_mode(plan, guest);
	const char *want = tmap_plan_memory_nodeset(plan, guest);
	_cleanup_free_ char *nodeset = NULL, *xml = NULL, *first = NULL;
	struct domain_numa numa = {.mode = -1};
	const char *now;
	int mode = -1, r;

	r = get_numa(lv, v, &mode, &nodeset, err);
	if (r < 0)
		return r;
	now = nodes_in_force(lv, nodeset);
	*ret_differs = !memory_as_planned(lv, mode, nodeset, want_mode, want);
	if (mode != want_mode &&
	    asprintf(&first, "numatune mode of '%s' (%s) is '%s', the plan says '%s'", lv->name,
		     v->name, memory_mode_text(mode), memory_mode_text(want_mode)) < 0)
		return oom(err);
	xml = get_xml(lv, v, err);
	if (!xml)
		return err ? err->code : -EIO;
	r = domain_xml_numa(xml, &numa, err);
	for (unsigned c = 0; r == 0 && !first && c < numa.ncells; c++) {
		const struct memnode *m = domain_numa_memnode(&numa, c);
		const char *bound = m && m->nodeset ? m->nodeset : now;
		char node[16];

		snprintf(node, sizeof(node), "%d", tmap_plan_cell_node(plan, guest, c));
		if (cpulist_equal(bound, node))
			continue;
		*ret_differs = true;
		if (asprintf(&first, "memory of guest cell %u of '%s' (%s) is on '%s', the plan says '%s'",
			     c, lv->name, v->name, bound ? bound : "", node) < 0)
			r = oom(err);
	}
	domain_numa_clear(&numa);
	if (r < 0)
		return r;
	if (ret_nodes && !(*ret_nodes = strdup(now ? now : "")))
		return oom(err);
	*ret_mode = mode;
	*ret_first = TAKE_PTR(first);
	return 0;
}

/*
 * The memory of one side, against the plan. A running domain whose memory differs while its
 * persistent definition has the plan's is pending (it moves at the next start, as apply
 * --config left it when libvirt could not move it live), not drift; *ret_pending says so, and
 * the threads' memory is then not held to the plan either.
 */
static int
read_memory(struct lv *lv, const struct view *v, const struct tmap_plan *plan, size_t guest,
	    struct tmap_observed *obs, struct mismatch *mm, bool *ret_pending,
	    struct tmap_error *err)
{
	static const struct view config = {"config", true, VIR_DOMAIN_AFFECT_CONFIG};
	_cleanup_free_ char *nodes = NULL, *first = NULL, *config_first = NULL;
	bool differs = false, config_differs = true;
	int mode = -1, config_mode = -1;
	char where[256];
	int r;

	*ret_pending = false;
	r = memory_difference(lv, v, plan, guest, &differs, &mode, &nodes, &first, err);
	if (r < 0)
		return r;
	if (differs && !v->config && lv->active && lv->persistent) {
		r = memory_difference(lv, &config, plan, guest, &config_differs, &config_mode, NULL,
				      &config_first, err);
		if (r < 0)
			return r;
		*ret_pending = !config_differs;
	}
	if (*ret_pending) {
		if (tmap_observed_pending(obs, "memory of '%s' (live) is in mode '%s' on '%s'; the definition has the plan's mode '%s' on '%s', which takes effect at the next start",
					  lv->name, memory_mode_text(mode), nodes, memory_mode_text(tmap_plan_memory_mode(plan, guest)),
					  tmap_plan_memory_nodeset(plan, guest)) < 0)
			return oom(err);
		return 0;
	}
	if (first)
		mismatch_add(mm, "%s", first);
	snprintf(where, sizeof(where), "numatune nodeset of '%s' (%s)", lv->name, v->name);
	r = tmap_observed_set(obs, TMAP_OBSERVED_MEMS, 0, nodes, where);
	if (r < 0)
		return tmap_error_set(err, r, "%s: cannot record '%s'", where, nodes);
	return 0;
}

static int
read_view(struct lv *lv, struct view *v, const struct tmap_plan *plan, size_t guest,
	  struct tmap_observed *obs, struct mismatch *mm, struct tmap_error *err)
{
	_cleanup_free_ unsigned char *maps = NULL, *emulator = NULL, *iomaps = NULL;
	_cleanup_free_ unsigned *ids = NULL;
	unsigned nvcpus = 0, nio = 0;
	bool pending = false, sched_in_force = false;
	char where[256];
	int r;

	r = get_vcpus(lv, v, &nvcpus, &maps, err);
	for (unsigned i = 0; r == 0 && i < nvcpus; i++) {
		snprintf(where, sizeof(where), "vcpupin %u of '%s' (%s)", i, lv->name, v->name);
		r = observe_map(obs, TMAP_OBSERVED_VCPU, i, maps + (size_t)i * lv->maplen,
				lv->maplen, where, err);
	}
	if (r == 0)
		r = get_emulator(lv, v, &emulator, err);
	if (r == 0) {
		snprintf(where, sizeof(where), "emulatorpin of '%s' (%s)", lv->name, v->name);
		r = observe_map(obs, TMAP_OBSERVED_EMULATOR, 0, emulator, lv->maplen, where, err);
	}
	if (r == 0)
		r = get_iothreads(lv, v, &nio, &ids, &iomaps, err);
	for (unsigned k = 0; r == 0 && k < nio; k++) {
		snprintf(where, sizeof(where), "iothreadpin %u of '%s' (%s)", ids[k], lv->name,
			 v->name);
		r = observe_map(obs, TMAP_OBSERVED_IOTHREAD, k + 1, iomaps + (size_t)k * lv->maplen,
				lv->maplen, where, err);
	}
	if (r == 0)
		r = read_memory(lv, v, plan, guest, obs, mm, &pending, err);
	if (r < 0)
		return r;

	{
		uint64_t shares = 0, period = 0;
		int64_t quota = 0;
		struct view now = *v;

		tmap_plan_qos(plan, guest, &shares, &period, &quota);
		if (shares || period || quota) {
			r = get_sched(lv, &now, err);
			if (r < 0)
				return r;
			if (shares && (!now.has_shares || now.shares != shares))
				mismatch_add(mm, "cpu_shares of '%s' (%s) is %llu, the plan says %" PRIu64,
					     lv->name, v->name, now.shares, shares);
			if (period && (!now.has_period || now.period != period))
				mismatch_add(mm, "vcpu_period of '%s' (%s) is %llu, the plan says %" PRIu64,
					     lv->name, v->name, now.period, period);
			if (quota && (!now.has_quota || now.quota != quota))
				mismatch_add(mm, "vcpu_quota of '%s' (%s) is %lld, the plan says %" PRId64,
					     lv->name, v->name, now.quota, quota);
		}
	}
	r = lv_realtime_observe(lv, v, plan, guest, &sched_in_force, obs, err);
	if (r == 0 && !v->config && lv->active)
		r = observe_tasks(lv, v, !pending, sched_in_force ? plan : NULL, guest, obs, err);
	return r;
}

int
lv_read_back(void *state, const struct tmap_plan *plan, size_t guest, struct tmap_observed *obs,
	     struct tmap_error *err)
{
	struct lv *lv = state;
	struct mismatch mm = {0};
	int r;

	for (unsigned i = 0; i < lv->nviews; i++) {
		r = read_view(lv, &lv->views[i], plan, guest, obs, &mm, err);
		if (r < 0)
			return r;
	}
	/* What the sets cannot say (QoS, a cell's memory nodes) is drift too, not an error:
	 * verify lists it and exits 4, apply restores. */
	if (mm.n && tmap_observed_drift(obs, "%s%s", mm.first, mm.n > 1 ? ", and more" : "") < 0)
		return oom(err);
	return 0;
}
