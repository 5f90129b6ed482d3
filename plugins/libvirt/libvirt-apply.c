/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Putting a plan in force on a domain, and putting back what open() captured: the live side
 * value by value, the config side by defining the captured definition again.
 */
#include "libvirt-domain.h"

/* ---------------------------------------------------------------------------------------- */
/* Applying */

/* The nodes a side's memory may use: its nodeset, or every host node when it has none (a
 * domain defined without <numatune>, as most are). */
const char *
nodes_in_force(const struct lv *lv, const char *nodeset)
{
	return nodeset && *nodeset ? nodeset : lv->host_nodes;
}

bool
memory_as_planned(const struct lv *lv, int mode, const char *nodeset, int want_mode,
		  const char *want)
{
	return mode == want_mode && cpulist_equal(nodes_in_force(lv, nodeset), want);
}

bool
has_config_view(const struct lv *lv)
{
	for (unsigned i = 0; i < lv->nviews; i++)
		if (lv->views[i].config)
			return true;
	return false;
}

/*
 * A running domain's cell memory stays where it was bound (no libvirt call moves a memnode):
 * with --config the definition takes the plan, and the memory follows at the next start (read
 * back reports that as pending, not drift); without, refused before any write.
 */
static int
check_live_cells(const struct lv *lv, const struct view *v, const struct tmap_plan *plan,
		 size_t guest, struct tmap_error *err)
{
	const char *memory = tmap_plan_memory_nodeset(plan, guest);

	if (has_config_view(lv))
		return 0;
	for (unsigned c = 0; c < v->numa.ncells; c++) {
		const struct memnode *m = domain_numa_memnode(&v->numa, c);
		const char *bound = m && m->nodeset ? m->nodeset : memory;
		char node[16];

		snprintf(node, sizeof(node), "%d", tmap_plan_cell_node(plan, guest, c));
		if (!cpulist_equal(bound, node))
			return tmap_error_set(err, -EOPNOTSUPP,
					 "libvirt cannot move guest cell %u of running domain '%s' to host node %s (its memory is bound to '%s'): apply with --config, and the memory moves at the next start",
					 c, lv->name, node, bound ? bound : "");
	}
	return 0;
}

/* The plan asks for what the domain can take: same vcpus (a resize: any number, see
 * pinned_vcpus()), iothreads and guest cells. */
static int
check_shape(const struct lv *lv, const struct tmap_plan *plan, size_t guest,
	    struct tmap_error *err)
{
	const char *gname = tmap_plan_guest_name(plan, guest);
	unsigned nvcpus = tmap_plan_vcpu_count(plan, guest);
	unsigned niothreads = tmap_plan_iothread_count(plan, guest);
	unsigned ncells = tmap_plan_cell_count(plan, guest);

	for (unsigned i = 0; i < lv->nviews; i++) {
		const struct view *v = &lv->views[i];

		if (v->nvcpus != nvcpus && !lv->resize)
			return tmap_error_set(err, -EINVAL,
					 "domain '%s' (%s) has %u vcpus, the plan's guest '%s' has %u",
					 lv->name, v->name, v->nvcpus, gname, nvcpus);
		if (v->niothreads != niothreads)
			return tmap_error_set(err, -EINVAL,
					 "domain '%s' (%s) has %u iothreads, the plan's guest '%s' has %u",
					 lv->name, v->name, v->niothreads, gname, niothreads);
		if (i > 0 && memcmp(v->iothread_ids, lv->views[0].iothread_ids,
				    niothreads * sizeof(unsigned)) != 0)
			return tmap_error_set(err, -EINVAL,
					 "domain '%s' has other iothread ids live than in its config",
					 lv->name);
		if (v->numa.ncells ? v->numa.ncells != ncells : ncells > 1)
			return tmap_error_set(err, -EINVAL,
					 "domain '%s' (%s) has %u guest NUMA cells, the plan's guest '%s' has %u",
					 lv->name, v->name, v->numa.ncells, gname, ncells);
		if (!v->config) {
			int r = check_live_cells(lv, v, plan, guest, err);

			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int
check_qos(const struct lv *lv, uint64_t shares, uint64_t period, int64_t quota,
	  struct tmap_error *err)
{
	for (unsigned i = 0; i < lv->nviews; i++) {
		const struct view *v = &lv->views[i];
		const char *missing = NULL;

		if (shares && !v->has_shares)
			missing = VIR_DOMAIN_SCHEDULER_CPU_SHARES;
		else if (period && !v->has_period)
			missing = VIR_DOMAIN_SCHEDULER_VCPU_PERIOD;
		else if (quota && !v->has_quota)
			missing = VIR_DOMAIN_SCHEDULER_VCPU_QUOTA;

		if (missing)
			return tmap_error_set(err, -EOPNOTSUPP,
					 "libvirt reports no %s for domain '%s' (%s): it cannot be set and put back",
					 missing, lv->name, v->name);
	}
	return 0;
}

/*
 * The vcpus a plan pins: all of them, or for a resize (no live hot-plug here) those the domain
 * has on every side it writes. The plan's others wait for the domain to be started with them,
 * and the domain's vcpus beyond the plan keep their pins until then; the library reports both
 * as pending.
 */
static unsigned
pinned_vcpus(const struct lv *lv, const struct tmap_plan *plan, size_t guest)
{
	unsigned n = tmap_plan_vcpu_count(plan, guest);

	for (unsigned i = 0; lv->resize && i < lv->nviews; i++)
		if (lv->views[i].nvcpus < n)
			n = lv->views[i].nvcpus;
	return n;
}

static int
pin_vcpus(struct lv *lv, const struct tmap_plan *plan, size_t guest, struct tmap_journal *j,
	  struct tmap_error *err)
{
	unsigned n = pinned_vcpus(lv, plan, guest);

	for (unsigned i = 0; i < n; i++) {
		const char *list = tmap_plan_vcpu_cpuset(plan, guest, i);
		_cleanup_free_ unsigned char *map = NULL;
		int len, r;

		if (cpumap_from_list(list, lv->maplen, &map, &len) < 0)
			return tmap_error_set(err, -EINVAL, "vcpu %u: '%s' is not a list of CPUs", i,
					 list ? list : "");
		if (!tmap_journal_write(j, "virDomainPinVcpuFlags('%s', vcpu %u, '%s', %s)", lv->name,
					i, list, flags_text(lv, lv->set_flags)))
			continue;
		r = LV_CALL(lv, virDomainPinVcpuFlags, lv->dom, i, map, len, lv->set_flags);
		if (wrote(lv, r, lv->set_flags))
			lv->vcpus_written = i + 1;
		if (r < 0)
			return lv_error(lv, err, "cannot pin vcpu %u of '%s' to '%s' (%s)", i,
					lv->name, list, flags_text(lv, lv->set_flags));
	}
	return 0;
}

static int
pin_emulator(struct lv *lv, const struct tmap_plan *plan, size_t guest, struct tmap_journal *j,
	     struct tmap_error *err)
{
	const char *list = tmap_plan_emulator_cpuset(plan, guest);
	unsigned n = tmap_plan_iothread_count(plan, guest);
	_cleanup_free_ unsigned char *map = NULL;
	int len, r;

	if (cpumap_from_list(list, lv->maplen, &map, &len) < 0)
		return tmap_error_set(err, -EINVAL, "emulator: '%s' is not a list of CPUs", list ? list : "");
	if (tmap_journal_write(j, "virDomainPinEmulator('%s', '%s', %s)", lv->name, list,
			       flags_text(lv, lv->set_flags))) {
		r = LV_CALL(lv, virDomainPinEmulator, lv->dom, map, len, lv->set_flags);
		if (wrote(lv, r, lv->set_flags))
			lv->emulator_written = true;
		if (r < 0)
			return lv_error(lv, err,
					"cannot pin the emulator threads of '%s' to '%s' (%s)",
					lv->name, list, flags_text(lv, lv->set_flags));
	}
	/* The plan's iothreads float with the emulator threads. */
	for (unsigned k = 0; k < n; k++) {
		unsigned id = lv->views[0].iothread_ids[k];

		if (!tmap_journal_write(j, "virDomainPinIOThread('%s', iothread %u, '%s', %s)",
					lv->name, id, list, flags_text(lv, lv->set_flags)))
			continue;
		r = LV_CALL(lv, virDomainPinIOThread, lv->dom, id, map, len, lv->set_flags);
		if (wrote(lv, r, lv->set_flags))
			lv->iothreads_written = k + 1;
		if (r < 0)
			return lv_error(lv, err, "cannot pin iothread %u of '%s' to '%s' (%s)", id,
					lv->name, list, flags_text(lv, lv->set_flags));
	}
	return 0;
}

static int
set_numa(struct lv *lv, unsigned flags, int mode, const char *nodeset, struct tmap_error *err)
{
	virTypedParameterPtr params = NULL;
	int n = 0, max = 0, r = 0;

	if (virTypedParamsAddInt(&params, &n, &max, VIR_DOMAIN_NUMA_MODE, mode) < 0 ||
	    virTypedParamsAddString(&params, &n, &max, VIR_DOMAIN_NUMA_NODESET, nodeset) < 0)
		r = oom(err);
	else if (LV_CALL(lv, virDomainSetNumaParameters, lv->dom, params, n, flags) < 0)
		r = last_error_code();
	virTypedParamsFree(params, n);
	return r;
}

/* One numatune call, journaled; the code libvirt's error maps to. */
static int
write_numa(struct lv *lv, unsigned flags, int mode, const char *nodeset, struct tmap_journal *j)
{
	int r;

	if (!tmap_journal_write(j, "virDomainSetNumaParameters('%s', mode '%s', nodeset '%s', %s)",
				lv->name, memory_mode_text(mode), nodeset, flags_text(lv, flags)))
		return 0;
	r = set_numa(lv, flags, mode, nodeset, NULL);
	if (r != -ENOMEM && wrote(lv, r, flags))
		lv->numa_written = true;
	return r;
}

static int
apply_numa(struct lv *lv, const struct tmap_plan *plan, size_t guest, struct tmap_journal *j,
	   struct tmap_error *err)
{
	int mode = tmap_plan_memory_mode(plan, guest);
	const char *nodeset = tmap_plan_memory_nodeset(plan, guest);
	unsigned flags = 0;
	bool need = false, live = false;
	int r;

	/* Only the sides that differ (a domain without <numatune> has all the host's nodes): a
	 * write that changes nothing is not worth a refusal. */
	for (unsigned i = 0; i < lv->nviews; i++) {
		const struct view *v = &lv->views[i];

		if (memory_as_planned(lv, v->numa_mode, v->numa_nodeset, mode, nodeset))
			continue;
		need = true;
		live |= !v->config;
		flags |= v->flags;
	}
	if (!need)
		return 0;
	r = write_numa(lv, flags, mode, nodeset, j);
	/* A running domain's memory that libvirt will not move (QEMU: its mode, or its nodeset
	 * outside mode 'restrictive'), with --config: the definition takes the plan, and the
	 * memory moves at the next start. read_back() reports the difference as pending. */
	if (r == -EPERM && live && has_config_view(lv)) {
		if (!(flags & VIR_DOMAIN_AFFECT_CONFIG))
			return 0;
		flags = VIR_DOMAIN_AFFECT_CONFIG;
		live = false;
		r = write_numa(lv, flags, mode, nodeset, j);
	}
	if (r == -ENOMEM)
		return oom(err);
	if (r < 0 && live && r == -EPERM)
		return tmap_error_set(err, r,
				 "libvirt refuses to change the memory of running domain '%s' to mode '%s' nodeset '%s' (%s): apply with --config, and the memory moves at the next start, or define the domain with memory mode 'restrictive', whose nodeset can change live",
				 lv->name, memory_mode_text(mode), nodeset, last_error_text());
	if (r < 0) {
		char why[TMAP_ERROR_MAX];
		int code = last_failure(lv, why, sizeof(why));

		return tmap_error_set(
		    err, code == -ENOTCONN ? code : r,
		    "cannot set the numatune of '%s' to mode '%s' nodeset '%s' (%s): %s", lv->name,
		    memory_mode_text(mode), nodeset, flags_text(lv, flags), why);
	}
	return 0;
}

/* Per-cell <memnode>s: no libvirt call sets them, so the definition is edited and defined. */
static int
apply_memnodes(struct lv *lv, const struct tmap_plan *plan, size_t guest, struct tmap_journal *j,
	       struct tmap_error *err)
{
	int mode = tmap_plan_memory_mode(plan, guest);
	unsigned ncells = tmap_plan_cell_count(plan, guest);
	_cleanup_free_ unsigned *nodes = NULL;
	_cleanup_free_ char *line = NULL, *xml = NULL, *edited = NULL;
	const struct view *v = NULL;
	bool need = false;
	size_t len = 0;
	FILE *f;

	/* The config side, when in use: a running domain's memory stays where it is. */
	for (unsigned i = 0; i < lv->nviews; i++)
		if (lv->views[i].config)
			v = &lv->views[i];
	if (!v || v->numa.ncells == 0)
		return 0;
	nodes = calloc(ncells + 1, sizeof(*nodes));
	f = nodes ? open_memstream(&line, &len) : NULL;
	if (!f)
		return oom(err);
	for (unsigned c = 0; c < ncells; c++) {
		const struct memnode *m = domain_numa_memnode(&v->numa, c);
		char node[16];

		nodes[c] = (unsigned)tmap_plan_cell_node(plan, guest, c);
		snprintf(node, sizeof(node), "%u", nodes[c]);
		need |= !m || m->mode != mode || !cpulist_equal(m->nodeset, node);
		fprintf(f, "%smemnode cellid %u mode '%s' nodeset '%u'", c ? ", " : "", c,
			memory_mode_text(mode), nodes[c]);
	}
	if (fclose(f) != 0)
		return oom(err);
	if (!need || !tmap_journal_write(j, "virDomainDefineXML('%s' with <numatune> %s)", lv->name,
					 line))
		return 0;
	/* The definition as the calls above left it, with its secrets. */
	xml = virDomainGetXMLDesc(lv->dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
	if (!xml)
		return lv_error(lv, err, "cannot read the definition of '%s'", lv->name);
	if (domain_xml_set_memnodes(xml, mode, nodes, ncells, &edited, err) < 0)
		return err ? err->code : -EINVAL;
	return define_edited(lv, edited, "<memnode>s", err);
}

int
define_edited(struct lv *lv, const char *xml, const char *what, struct tmap_error *err)
{
	virDomainPtr dom = virDomainDefineXML(lv->conn, xml);

	lv->call = dom ? NULL : "virDomainDefineXML";
	wrote(lv, dom ? 0 : -1, VIR_DOMAIN_AFFECT_CONFIG);
	if (!dom)
		return lv_error(lv, err, "cannot define '%s' with the plan's %s", lv->name, what);
	virDomainFree(dom);
	return 0;
}

static int
set_sched(struct lv *lv, unsigned flags, bool has_shares, unsigned long long shares,
	  bool has_period, unsigned long long period, bool has_quota, long long quota)
{
	virTypedParameterPtr params = NULL;
	int n = 0, max = 0, r = 0;

	if ((has_shares && virTypedParamsAddULLong(&params, &n, &max,
						   VIR_DOMAIN_SCHEDULER_CPU_SHARES, shares) < 0) ||
	    (has_period && virTypedParamsAddULLong(&params, &n, &max,
						   VIR_DOMAIN_SCHEDULER_VCPU_PERIOD, period) < 0) ||
	    (has_quota && virTypedParamsAddLLong(&params, &n, &max,
						 VIR_DOMAIN_SCHEDULER_VCPU_QUOTA, quota) < 0))
		r = -ENOMEM;
	else if (n > 0 && LV_CALL(lv, virDomainSetSchedulerParametersFlags, lv->dom, params, n,
				  flags) < 0)
		r = last_error_code();
	virTypedParamsFree(params, n);
	return r;
}

/* "cpu_shares 512, vcpu_quota -1": the parameters a call sets. */
static void
sched_text(char *buf, size_t size, bool has_shares, unsigned long long shares, bool has_period,
	   unsigned long long period, bool has_quota, long long quota)
{
	size_t len = 0;

	buf[0] = '\0';
	if (has_shares)
		len += (size_t)snprintf(buf + len, size - len, "cpu_shares %llu", shares);
	if (has_period && len < size)
		len += (size_t)snprintf(buf + len, size - len, "%svcpu_period %llu", len ? ", " : "",
					period);
	if (has_quota && len < size)
		snprintf(buf + len, size - len, "%svcpu_quota %lld", len ? ", " : "", quota);
}

static int
apply_sched(struct lv *lv, uint64_t shares, uint64_t period, int64_t quota,
	    struct tmap_journal *j, struct tmap_error *err)
{
	char text[128];
	int r;

	if (!shares && !period && !quota)
		return 0;
	sched_text(text, sizeof(text), shares, shares, period, period, quota, quota);
	if (!tmap_journal_write(j, "virDomainSetSchedulerParametersFlags('%s', %s, %s)", lv->name,
				text, flags_text(lv, lv->set_flags)))
		return 0;
	r = set_sched(lv, lv->set_flags, shares, shares, period, period, quota, (long long)quota);
	if (r != -ENOMEM && wrote(lv, r, lv->set_flags)) {
		lv->shares_written = shares;
		lv->period_written = period;
		lv->quota_written = quota;
	}
	if (r == -ENOMEM)
		return oom(err);
	if (r < 0) {
		char why[TMAP_ERROR_MAX];
		int code = last_failure(lv, why, sizeof(why));

		return tmap_error_set(err, code == -ENOTCONN ? code : r,
				      "cannot set the scheduler parameters of '%s' (%s): %s",
				      lv->name, flags_text(lv, lv->set_flags), why);
	}
	return 0;
}

/* Everything that can be refused before a write is: the open step's last word, and apply()'s
 * first. */
int
lv_check(void *state, const struct tmap_plan *plan, size_t guest, struct tmap_error *err)
{
	struct lv *lv = state;
	uint64_t shares = 0, period = 0;
	int64_t quota = 0;
	int r;

	if (tmap_plan_qos(plan, guest, &shares, &period, &quota) < 0)
		return tmap_error_set(err, -EINVAL, "the plan has no guest %zu", guest);
	r = check_shape(lv, plan, guest, err);
	if (r == 0)
		r = check_qos(lv, shares, period, quota, err);
	if (r == 0)
		r = lv_realtime_check(lv, plan, guest, err);
	return r;
}

int
lv_apply(void *state, const struct tmap_plan *plan, size_t guest, struct tmap_journal *j,
	 struct tmap_error *err)
{
	struct lv *lv = state;
	uint64_t shares = 0, period = 0;
	int64_t quota = 0;
	int r;

	r = lv_check(lv, plan, guest, err);
	if (r < 0)
		return r;
	tmap_plan_qos(plan, guest, &shares, &period, &quota);
	r = pin_vcpus(lv, plan, guest, j, err);
	if (r == 0)
		r = pin_emulator(lv, plan, guest, j, err);
	if (r == 0)
		r = apply_numa(lv, plan, guest, j, err);
	if (r == 0)
		r = apply_memnodes(lv, plan, guest, j, err);
	if (r == 0)
		r = apply_sched(lv, shares, period, quota, j, err);
	if (r == 0)
		r = lv_realtime_apply(lv, plan, guest, j, err);
	return r;
}

/* ---------------------------------------------------------------------------------------- */
/* Restoring */

static void
keep_first(int *r, int rr)
{
	if (*r == 0 && rr < 0)
		*r = rr;
}

static void restore_error(struct lv *lv, struct tmap_error *err, int *r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Restore goes on after a failed call, to put back what it can; the first error is kept. */
static void
restore_error(struct lv *lv, struct tmap_error *err, int *r, const char *fmt, ...)
{
	char what[TMAP_ERROR_MAX], why[TMAP_ERROR_MAX];
	int code = last_failure(lv, why, sizeof(why));
	va_list ap;

	if (*r < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	*r = tmap_error_set(err, code, "%s: %s", what, why);
}

static int
restore_live(struct lv *lv, const struct view *v, struct tmap_journal *j, struct tmap_error *err)
{
	const char *ft = flags_text(lv, v->flags);
	int r = 0;

	for (unsigned i = 0; i < lv->vcpus_written && i < v->nvcpus; i++) {
		const unsigned char *map = v->vcpu_maps + (size_t)i * lv->maplen;
		_cleanup_free_ char *list = cpumap_to_list(map, lv->maplen);

		if (tmap_journal_write(j, "virDomainPinVcpuFlags('%s', vcpu %u, '%s', %s)", lv->name, i,
				       list ? list : "?", ft) &&
		    LV_CALL(lv, virDomainPinVcpuFlags, lv->dom, i, (unsigned char *)map,
			    lv->maplen, v->flags) < 0)
			restore_error(lv, err, &r, "cannot pin vcpu %u of '%s' back to '%s'", i,
				      lv->name, list ? list : "?");
	}
	if (lv->emulator_written) {
		_cleanup_free_ char *list = cpumap_to_list(v->emulator_map, lv->maplen);

		if (tmap_journal_write(j, "virDomainPinEmulator('%s', '%s', %s)", lv->name,
				       list ? list : "?", ft) &&
		    LV_CALL(lv, virDomainPinEmulator, lv->dom, v->emulator_map, lv->maplen,
			    v->flags) < 0)
			restore_error(lv, err, &r,
				      "cannot pin the emulator threads of '%s' back to '%s'",
				      lv->name, list ? list : "?");
	}
	for (unsigned k = 0; k < lv->iothreads_written && k < v->niothreads; k++) {
		unsigned char *map = v->iothread_maps + (size_t)k * lv->maplen;
		_cleanup_free_ char *list = cpumap_to_list(map, lv->maplen);

		if (tmap_journal_write(j, "virDomainPinIOThread('%s', iothread %u, '%s', %s)", lv->name,
				       v->iothread_ids[k], list ? list : "?", ft) &&
		    LV_CALL(lv, virDomainPinIOThread, lv->dom, v->iothread_ids[k], map,
			    lv->maplen, v->flags) < 0)
			restore_error(lv, err, &r, "cannot pin iothread %u of '%s' back to '%s'",
				      v->iothread_ids[k], lv->name, list ? list : "?");
	}
	/* A running domain without a nodeset never got one: libvirt refuses that live. */
	if (lv->numa_written && *v->numa_nodeset &&
	    tmap_journal_write(j, "virDomainSetNumaParameters('%s', mode '%s', nodeset '%s', %s)",
			       lv->name, memory_mode_text(v->numa_mode), v->numa_nodeset, ft)) {
		int rr = set_numa(lv, v->flags, v->numa_mode, v->numa_nodeset, err);

		if (rr < 0)
			restore_error(lv, err, &r, "cannot put the numatune of '%s' back",
				      lv->name);
	}
	if (lv->shares_written || lv->period_written || lv->quota_written) {
		/* Only the values apply() set, and only those libvirt reported (check_qos()). */
		bool shares = lv->shares_written && v->has_shares;
		bool period = lv->period_written && v->has_period;
		bool quota = lv->quota_written && v->has_quota;
		char text[128];

		sched_text(text, sizeof(text), shares, v->shares, period, v->period, quota,
			   v->quota);
		if (tmap_journal_write(j, "virDomainSetSchedulerParametersFlags('%s', %s, %s)", lv->name,
				       text, ft) &&
		    set_sched(lv, v->flags, shares, v->shares, period, v->period, quota,
			      v->quota) < 0)
			restore_error(lv, err, &r,
				      "cannot put the scheduler parameters of '%s' back", lv->name);
	}
	return r;
}

static int
restore_config(struct lv *lv, const struct view *v, struct tmap_journal *j, struct tmap_error *err)
{
	virDomainPtr dom;

	if (!v->xml)
		return tmap_error_set(err, -EIO, "the definition of '%s' was not captured", lv->name);
	if (!tmap_journal_write(j, "virDomainDefineXML('%s' as defined before the apply)", lv->name))
		return 0;
	dom = virDomainDefineXML(lv->conn, v->xml);
	lv->call = dom ? NULL : "virDomainDefineXML";
	if (!dom)
		return lv_error(lv, err, "cannot define '%s' back as it was", lv->name);
	virDomainFree(dom);
	return 0;
}

/* What apply() may have changed, with what was there, for a restore that could not be made:
 * "live vcpupin 0 was '0-1', live emulatorpin was '0-1', the persistent definition". */
void
left_changed(const struct lv *lv, char *buf, size_t size)
{
	FILE *f = fmemopen(buf, size, "w");
	const char *sep = "";

	if (!f) {
		snprintf(buf, size, "what apply changed");
		return;
	}
	for (unsigned i = 0; i < lv->nviews; i++) {
		const struct view *v = &lv->views[i];
		_cleanup_free_ char *emulator = NULL;

		if (v->config) {
			fprintf(f, "%sthe persistent definition", sep);
			sep = ", ";
			continue;
		}
		for (unsigned c = 0; c < lv->vcpus_written && c < v->nvcpus; c++, sep = ", ") {
			_cleanup_free_ char *was =
			    cpumap_to_list(v->vcpu_maps + (size_t)c * lv->maplen, lv->maplen);

			fprintf(f, "%s%s vcpupin %u was '%s'", sep, v->name, c, was ? was : "?");
		}
		emulator =
		    lv->emulator_written ? cpumap_to_list(v->emulator_map, lv->maplen) : NULL;
		if (lv->emulator_written)
			fprintf(f, "%s%s emulatorpin was '%s'", sep, v->name,
				emulator ? emulator : "?");
		sep = lv->emulator_written ? ", " : sep;
		for (unsigned k = 0; k < lv->iothreads_written && k < v->niothreads;
		     k++, sep = ", ") {
			_cleanup_free_ char *was =
			    cpumap_to_list(v->iothread_maps + (size_t)k * lv->maplen, lv->maplen);

			fprintf(f, "%s%s iothreadpin %u was '%s'", sep, v->name, v->iothread_ids[k],
				was ? was : "?");
		}
		if (lv->numa_written)
			fprintf(f, "%s%s numatune was mode '%s' nodeset '%s'", sep, v->name,
				memory_mode_text(v->numa_mode), v->numa_nodeset);
		sep = lv->numa_written ? ", " : sep;
		if (lv->shares_written || lv->period_written || lv->quota_written) {
			fprintf(f, "%s%s scheduler parameters", sep, v->name);
			sep = ", ";
		}
	}
	fclose(f);
}

static int
restore_views(struct lv *lv, struct tmap_journal *j, struct tmap_error *err)
{
	int r = 0;

	for (unsigned i = 0; i < lv->nviews; i++) {
		const struct view *v = &lv->views[i];

		if (!v->config && lv->live_gone)
			continue;
		keep_first(&r, v->config ? restore_config(lv, v, j, r < 0 ? NULL : err) :
					   restore_live(lv, v, j, r < 0 ? NULL : err));
	}
	return r;
}

int
lv_restore(void *state, struct tmap_journal *j, struct tmap_error *err)
{
	struct lv *lv = state;
	int r;

	if (!lv->written)
		return 0;
	/* A daemon that went away before the restore's first call is found out by that call:
	 * then once more, on a new connection. */
	for (unsigned attempt = 0;; attempt++) {
		if (lv->gone) {
			r = reconnect(lv, err);
			if (r < 0)
				return r;
		}
		r = restore_views(lv, j, err);
		if (r == 0 || !lv->gone || attempt > 0)
			return r;
	}
}
