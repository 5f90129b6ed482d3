/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The plan: what the solver decided, as sets, plus the reasons, and its accessors. */
#include <stdarg.h>

#include "internal.h"

int
plan_guest_explain(struct plan_guest *pg, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = lines_append_vprintf(&pg->explain, &pg->nexplain, fmt, ap);
	va_end(ap);
	return r;
}

int
plan_guest_finish(struct plan_guest *pg)
{
	pg->vcpu_lists = calloc(pg->vcpus, sizeof(*pg->vcpu_lists));
	if (!pg->vcpu_lists)
		return -ENOMEM;
	for (unsigned v = 0; v < pg->vcpus; v++)
		if (!(pg->vcpu_lists[v] = bitmap_list(pg->vcpu_pus[v])))
			return -ENOMEM;
	for (unsigned c = 0; c < pg->ncells; c++) {
		struct plan_cell *cell = &pg->cells[c];

		cell->vcpus_list = bitmap_list(cell->vcpus);
		cell->pus_list = bitmap_list(cell->pus);
		if (!cell->vcpus_list || !cell->pus_list)
			return -ENOMEM;
	}
	if (pg->dedicated && !pg->dedicated_list &&
	    !(pg->dedicated_list = bitmap_list(pg->dedicated)))
		return -ENOMEM;
	pg->emulator_list = bitmap_list(pg->emulator);
	pg->memory_list = bitmap_list(pg->memory_nodes);
	if (!pg->emulator_list || !pg->memory_list)
		return -ENOMEM;
	/* Nova's share-host moves only the emulator: the iothreads stay with the vcpus (a mixed
	 * guest's shared ones: the dedicated keep their PUs to themselves). */
	if (!pg->iothread && !(pg->iothread = hwloc_bitmap_alloc()))
		return -ENOMEM;
	hwloc_bitmap_copy(pg->iothread, pg->emulator);
	if (pg->emulator_policy == TMAP_EMULATOR_SHARE_HOST) {
		hwloc_bitmap_zero(pg->iothread);
		for (unsigned v = 0; v < pg->vcpus; v++)
			if ((pg->cpu_policy != TMAP_CPU_MIXED || !plan_vcpu_dedicated(pg, v)) &&
			    !plan_vcpu_realtime(pg, v))
				hwloc_bitmap_or(pg->iothread, pg->iothread, pg->vcpu_pus[v]);
	}
	free(pg->iothread_list);
	pg->iothread_list = bitmap_list(pg->iothread);
	if (!pg->iothread_list)
		return -ENOMEM;
	{
		_cleanup_bitmap_ hwloc_bitmap_t all = hwloc_bitmap_dup(pg->emulator);

		if (!all)
			return -ENOMEM;
		for (unsigned v = 0; v < pg->vcpus; v++)
			hwloc_bitmap_or(all, all, pg->vcpu_pus[v]);
		pg->cpus_list = bitmap_list(all);
		pg->held_list = bitmap_list(pg->held);
		if (!pg->cpus_list || !pg->held_list)
			return -ENOMEM;
	}
	return 0;
}

void
plan_guest_free_lists(struct plan_guest *pg)
{
	for (unsigned v = 0; v < pg->vcpus; v++) {
		if (pg->vcpu_lists)
			free(pg->vcpu_lists[v]);
		if (pg->vcpu_core_lists) {
			free(pg->vcpu_core_lists[v]);
			pg->vcpu_core_lists[v] = NULL;
		}
	}
	free(pg->vcpu_lists);
	pg->vcpu_lists = NULL;
	for (unsigned c = 0; c < pg->ncells; c++) {
		free(pg->cells[c].vcpus_list);
		free(pg->cells[c].pus_list);
		pg->cells[c].vcpus_list = pg->cells[c].pus_list = NULL;
	}
	/* why it went where it was: no longer where it is */
	for (size_t i = 0; i < pg->nexplain; i++)
		free(pg->explain[i]);
	free(pg->explain);
	pg->explain = NULL;
	pg->nexplain = 0;
	free(pg->emulator_list);
	free(pg->memory_list);
	free(pg->cpus_list);
	free(pg->held_list);
	pg->emulator_list = pg->memory_list = pg->cpus_list = pg->held_list = NULL;
}

unsigned
plan_cell_shared(const struct plan_guest *pg, unsigned c)
{
	unsigned all = (unsigned)hwloc_bitmap_weight(pg->cells[c].vcpus), v, pinned = 0;

	if (pg->cpu_policy == TMAP_CPU_SHARED)
		return all;
	if (pg->cpu_policy != TMAP_CPU_MIXED || !pg->dedicated)
		return 0;
	hwloc_bitmap_foreach_begin(v, pg->cells[c].vcpus)
		pinned += hwloc_bitmap_isset(pg->dedicated, v);
	hwloc_bitmap_foreach_end();
	return all - pinned;
}

static void
bitmap_free_safe(hwloc_bitmap_t b)
{
	if (b)
		hwloc_bitmap_free(b);
}

void
plan_guest_clear(struct plan_guest *pg)
{
	for (unsigned v = 0; pg->vcpu_pus && v < pg->vcpus; v++)
		bitmap_free_safe(pg->vcpu_pus[v]);
	free(pg->vcpu_pus);
	for (unsigned v = 0; pg->vcpu_lists && v < pg->vcpus; v++)
		free(pg->vcpu_lists[v]);
	free(pg->vcpu_lists);
	for (unsigned v = 0; pg->vcpu_core_lists && v < pg->vcpus; v++)
		free(pg->vcpu_core_lists[v]);
	free(pg->vcpu_core_lists);
	free(pg->vcpu_node);
	for (unsigned c = 0; pg->cells && c < pg->ncells; c++) {
		bitmap_free_safe(pg->cells[c].vcpus);
		bitmap_free_safe(pg->cells[c].pus);
		free(pg->cells[c].vcpus_list);
		free(pg->cells[c].pus_list);
	}
	free(pg->cells);
	bitmap_free_safe(pg->emulator);
	bitmap_free_safe(pg->dedicated);
	free(pg->dedicated_list);
	bitmap_free_safe(pg->iothread);
	free(pg->iothread_list);
	bitmap_free_safe(pg->held);
	bitmap_free_safe(pg->memory_nodes);
	free(pg->emulator_list);
	free(pg->memory_list);
	free(pg->cpus_list);
	free(pg->held_list);
	for (size_t i = 0; i < pg->nexplain; i++)
		free(pg->explain[i]);
	free(pg->explain);
	free(pg->name);
	plan_devices_clear(pg);
	plan_realtime_clear(pg);
	memset(pg, 0, sizeof(*pg));
}

/* A copy that may be NULL: NULL stays NULL; *ok turns false when memory runs out. */
static hwloc_bitmap_t
dup_set(hwloc_const_bitmap_t set, bool *ok)
{
	hwloc_bitmap_t copy;

	if (!set)
		return NULL;
	copy = hwloc_bitmap_dup(set);
	*ok &= copy != NULL;
	return copy;
}

static char *
dup_str(const char *text, bool *ok)
{
	char *copy;

	if (!text)
		return NULL;
	copy = strdup(text);
	*ok &= copy != NULL;
	return copy;
}

static bool
copy_vcpus(struct plan_guest *dst, const struct plan_guest *src)
{
	bool ok = true;

	if (!dst->vcpus)
		return true;
	dst->vcpu_pus = src->vcpu_pus ? calloc(dst->vcpus, sizeof(*dst->vcpu_pus)) : NULL;
	dst->vcpu_lists = src->vcpu_lists ? calloc(dst->vcpus, sizeof(*dst->vcpu_lists)) : NULL;
	dst->vcpu_node = src->vcpu_node ? calloc(dst->vcpus, sizeof(*dst->vcpu_node)) : NULL;
	dst->vcpu_core_lists = src->vcpu_core_lists ?
				       calloc(dst->vcpus, sizeof(*dst->vcpu_core_lists)) : NULL;
	if ((src->vcpu_pus && !dst->vcpu_pus) || (src->vcpu_lists && !dst->vcpu_lists) ||
	    (src->vcpu_node && !dst->vcpu_node) || (src->vcpu_core_lists && !dst->vcpu_core_lists))
		return false;
	for (unsigned v = 0; v < dst->vcpus; v++) {
		if (dst->vcpu_pus)
			dst->vcpu_pus[v] = dup_set(src->vcpu_pus[v], &ok);
		if (dst->vcpu_lists)
			dst->vcpu_lists[v] = dup_str(src->vcpu_lists[v], &ok);
		if (dst->vcpu_node)
			dst->vcpu_node[v] = src->vcpu_node[v];
		if (dst->vcpu_core_lists)
			dst->vcpu_core_lists[v] = dup_str(src->vcpu_core_lists[v], &ok);
	}
	return ok;
}

static bool
copy_cells(struct plan_guest *dst, const struct plan_guest *src)
{
	bool ok = true;

	if (!src->cells)
		return true;
	dst->cells = calloc(dst->ncells ? dst->ncells : 1, sizeof(*dst->cells));
	if (!dst->cells)
		return false;
	for (unsigned c = 0; c < dst->ncells; c++) {
		const struct plan_cell *from = &src->cells[c];
		struct plan_cell *to = &dst->cells[c];

		to->node = from->node;
		to->memory_mib = from->memory_mib;
		to->vcpus = dup_set(from->vcpus, &ok);
		to->pus = dup_set(from->pus, &ok);
		to->vcpus_list = dup_str(from->vcpus_list, &ok);
		to->pus_list = dup_str(from->pus_list, &ok);
	}
	return ok;
}

int
plan_guest_copy(struct plan_guest *dst, const struct plan_guest *src)
{
	struct plan_guest pg = *src;
	bool ok = true;

	/* The scalars as they are; every pointer below is replaced by a copy of its own. */
	pg.vcpu_pus = NULL;
	pg.vcpu_lists = NULL;
	pg.vcpu_node = NULL;
	pg.vcpu_core_lists = NULL;
	pg.cells = NULL;
	pg.explain = NULL;
	pg.nexplain = 0;
	pg.name = dup_str(src->name, &ok);
	pg.emulator = dup_set(src->emulator, &ok);
	pg.dedicated = dup_set(src->dedicated, &ok);
	pg.dedicated_list = dup_str(src->dedicated_list, &ok);
	pg.held = dup_set(src->held, &ok);
	pg.memory_nodes = dup_set(src->memory_nodes, &ok);
	pg.emulator_list = dup_str(src->emulator_list, &ok);
	pg.iothread = src->iothread ? dup_set(src->iothread, &ok) : NULL;
	pg.iothread_list = src->iothread_list ? dup_str(src->iothread_list, &ok) : NULL;
	pg.cpus_list = dup_str(src->cpus_list, &ok);
	pg.held_list = dup_str(src->held_list, &ok);
	pg.memory_list = dup_str(src->memory_list, &ok);
	if (src->nexplain) {
		pg.explain = calloc(src->nexplain, sizeof(*pg.explain));
		ok &= pg.explain != NULL;
		for (size_t i = 0; pg.explain && i < src->nexplain; i++, pg.nexplain++)
			pg.explain[i] = dup_str(src->explain[i], &ok);
	}
	if (plan_realtime_copy(&pg, src) < 0)
		ok = false;
	if (!ok || !copy_vcpus(&pg, src) || !copy_cells(&pg, src) ||
	    plan_devices_copy(&pg, src) < 0) {
		plan_guest_clear(&pg);
		return -ENOMEM;
	}
	*dst = pg;
	return 0;
}

void
plan_moves_free(struct plan_move *moves, size_t n)
{
	for (size_t i = 0; moves && i < n; i++)
		free(moves[i].guest);
	free(moves);
}

struct tmap_plan *
tmap_plan_free(struct tmap_plan *p)
{
	if (!p)
		return NULL;
	plan_moves_free(p->moves, p->nmoves);
	for (size_t i = 0; i < p->nguests; i++)
		plan_guest_clear(&p->guests[i]);
	free(p->guests);
	for (size_t i = 0; i < p->nrejected; i++) {
		free(p->rejected_names[i]);
		free(p->rejected_reasons[i]);
	}
	free(p->rejected_names);
	free(p->rejected_reasons);
	free(p->host);
	free(p->state_path);
	free(p->node_os);
	free(p->distances);
	for (unsigned i = 0; p->host_node_pus && i < p->nhost_nodes; i++)
		hwloc_bitmap_free(p->host_node_pus[i]);
	free(p->host_node_pus);
	free(p->host_node_os);
	free(p->host_node_package);
	free(p);
	return NULL;
}

int
plan_set_host(struct tmap_plan *p, const struct tmap_topology *t)
{
	size_t n = t->nnodes;

	p->memory_assumed = t->memory_assumed;
	if (!(p->host = strdup(t->source)))
		return -ENOMEM;
	if (n) {
		p->host_node_os = calloc(n, sizeof(*p->host_node_os));
		p->host_node_package = calloc(n, sizeof(*p->host_node_package));
		p->host_node_pus = calloc(n, sizeof(*p->host_node_pus));
		if (!p->host_node_os || !p->host_node_package || !p->host_node_pus)
			return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++, p->nhost_nodes++) {
		p->host_node_os[i] = t->nodes[i].os_index;
		p->host_node_package[i] = t->nodes[i].package;
		p->host_node_pus[i] = hwloc_bitmap_dup(t->nodes[i].cpuset);
		if (!p->host_node_pus[i])
			return -ENOMEM;
	}
	if (!t->distances || n == 0)
		return 0;
	p->node_os = calloc(n, sizeof(*p->node_os));
	p->distances = malloc(n * n * sizeof(*p->distances));
	if (!p->node_os || !p->distances)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		p->node_os[i] = t->nodes[i].os_index;
	memcpy(p->distances, t->distances, n * n * sizeof(*p->distances));
	p->nnodes = (unsigned)n;
	return 0;
}

static int
plan_node_index(const struct tmap_plan *p, unsigned os)
{
	for (unsigned i = 0; i < p->nnodes; i++)
		if (p->node_os[i] == os)
			return (int)i;
	return -1;
}

unsigned
plan_distance(const struct tmap_plan *p, unsigned from_os, unsigned to_os)
{
	int a, b;

	if (!p->distances)
		return 0;
	a = plan_node_index(p, from_os);
	b = plan_node_index(p, to_os);
	if (a < 0 || b < 0)
		return 0;
	return p->distances[(unsigned)a * p->nnodes + (unsigned)b];
}

/*
 * A guest gets its cells' distances only when they make an ACPI SLIT: 10 from a cell to
 * itself, 11 to 255 between two cells. libvirt refuses any other value, and Linux drops a
 * whole table with one (slit_valid()). So two cells on one host node, whose true distance is
 * the local 10, leave the guest without distances, as a host without them does: nothing
 * false is said.
 */
bool
plan_guest_distances_valid(const struct tmap_plan *p, const struct plan_guest *g)
{
	if (g->ncells < 2 || !p->distances)
		return false;
	for (unsigned i = 0; i < g->ncells; i++)
		for (unsigned j = 0; j < g->ncells; j++) {
			unsigned d = plan_distance(p, g->cells[i].node, g->cells[j].node);

			if (i == j ? d != 10 : d <= 10 || d > 255)
				return false;
		}
	return true;
}

static const struct plan_guest *
guest_at(const struct tmap_plan *p, size_t i)
{
	return p && i < p->nguests ? &p->guests[i] : NULL;
}

size_t
tmap_plan_guest_count(const struct tmap_plan *p)
{
	return p ? p->nguests : 0;
}

const char *
tmap_plan_guest_name(const struct tmap_plan *p, size_t i)
{
	const struct plan_guest *g = guest_at(p, i);

	return g ? g->name : NULL;
}

const char *
tmap_plan_vcpu_cpuset(const struct tmap_plan *p, size_t i, unsigned vcpu)
{
	const struct plan_guest *g = guest_at(p, i);

	return g && vcpu < g->vcpus ? g->vcpu_lists[vcpu] : NULL;
}

unsigned
tmap_plan_cell_count(const struct tmap_plan *p, size_t i)
{
	const struct plan_guest *g = guest_at(p, i);

	return g ? g->ncells : 0;
}

int
tmap_plan_cell_node(const struct tmap_plan *p, size_t i, unsigned cell)
{
	const struct plan_guest *g = guest_at(p, i);

	return g && cell < g->ncells ? (int)g->cells[cell].node : -EINVAL;
}

uint64_t
tmap_plan_cell_memory_mib(const struct tmap_plan *p, size_t i, unsigned cell)
{
	const struct plan_guest *g = guest_at(p, i);

	return g && cell < g->ncells ? g->cells[cell].memory_mib : 0;
}

const char *
tmap_plan_emulator_cpuset(const struct tmap_plan *p, size_t i)
{
	const struct plan_guest *g = guest_at(p, i);

	return g ? g->emulator_list : NULL;
}

const char *
tmap_plan_memory_nodeset(const struct tmap_plan *p, size_t i)
{
	const struct plan_guest *g = guest_at(p, i);

	return g ? g->memory_list : NULL;
}

uint64_t
tmap_plan_hugepage_kib(const struct tmap_plan *p, size_t i)
{
	const struct plan_guest *g = guest_at(p, i);

	return g ? g->page_kib : 0;
}

unsigned
tmap_plan_vcpu_count(const struct tmap_plan *p, size_t i)
{
	const struct plan_guest *g = guest_at(p, i);

	return g ? g->vcpus : 0;
}

unsigned
tmap_plan_iothread_count(const struct tmap_plan *p, size_t i)
{
	const struct plan_guest *g = guest_at(p, i);

	return g ? g->iothreads : 0;
}

const char *
tmap_plan_cpuset(const struct tmap_plan *p, size_t i)
{
	const struct plan_guest *g = guest_at(p, i);

	return g ? g->cpus_list : NULL;
}

const char *
tmap_plan_held_cpuset(const struct tmap_plan *p, size_t i)
{
	const struct plan_guest *g = guest_at(p, i);

	return g ? g->held_list : NULL;
}

int
tmap_plan_memory_mode(const struct tmap_plan *p, size_t i)
{
	const struct plan_guest *g = guest_at(p, i);

	return g ? (int)g->memory_mode : -EINVAL;
}

int
tmap_plan_qos(const struct tmap_plan *p, size_t i, uint64_t *shares, uint64_t *period,
	      int64_t *quota)
{
	const struct plan_guest *g = guest_at(p, i);

	if (!g)
		return -EINVAL;
	if (shares)
		*shares = g->shares;
	if (period)
		*period = g->period;
	if (quota)
		*quota = g->quota;
	return 0;
}

/* Making room (issue 18) */

size_t
tmap_plan_move_count(const struct tmap_plan *p)
{
	return p ? p->nmoves : 0;
}

int
tmap_plan_move(const struct tmap_plan *p, size_t i, struct tmap_move *ret)
{
	const struct plan_move *m;

	if (!p || !ret || i >= p->nmoves)
		return -EINVAL;
	m = &p->moves[i];
	*ret = (struct tmap_move){
		.guest = m->guest, .vcpu = m->vcpu, .cell = m->cell, .from = m->from, .to = m->to,
		.memory_mib = m->memory_mib,
	};
	return 0;
}

int
tmap_plan_move_bound(const struct tmap_plan *p, unsigned *ret_lower)
{
	if (!p || !p->moves_searched)
		return -EINVAL;
	if (ret_lower)
		*ret_lower = p->moves_lower_bound;
	return p->moves_lower_bound >= p->nmoves;
}

size_t
tmap_plan_rejected_count(const struct tmap_plan *p)
{
	return p ? p->nrejected : 0;
}

const char *
tmap_plan_rejected_name(const struct tmap_plan *p, size_t i)
{
	return p && i < p->nrejected ? p->rejected_names[i] : NULL;
}

const char *
tmap_plan_rejected_reason(const struct tmap_plan *p, size_t i)
{
	return p && i < p->nrejected ? p->rejected_reasons[i] : NULL;
}

size_t
tmap_plan_explain_count(const struct tmap_plan *p, size_t i)
{
	const struct plan_guest *g = guest_at(p, i);

	return g ? g->nexplain : 0;
}

const char *
tmap_plan_explain(const struct tmap_plan *p, size_t i, size_t line)
{
	const struct plan_guest *g = guest_at(p, i);

	return g && line < g->nexplain ? g->explain[line] : NULL;
}

/* A set the formats print must exist and, for libvirt's cpuset pattern, not be empty. */
static int
check_set(const struct plan_guest *g, const char *what, const char *list, struct tmap_error *err)
{
	if (!list)
		return tmap_error_set(err, -EINVAL, "plan of guest '%s' has no %s set", g->name,
				      what);
	if (!*list)
		return tmap_error_set(err, -EINVAL, "plan of guest '%s' has an empty %s set",
				      g->name, what);
	return 0;
}

/* Plans from tmap_solve() always pass; this guards every format against a plan built or
 * changed by hand, so that nothing is written for a plan that cannot be. */
int
plan_guest_check(const struct plan_guest *g, struct tmap_error *err)
{
	int r;

	if ((unsigned)g->memory_mode > TMAP_MEMORY_RESTRICTIVE)
		return tmap_error_set(err, -EINVAL,
				      "plan of guest '%s' has an unknown memory mode '%d'", g->name,
				      (int)g->memory_mode);
	if (!g->vcpu_lists || !g->vcpu_node || !g->vcpu_core_lists || g->ncells == 0 || !g->cells ||
	    !g->cpus_list)
		return tmap_error_set(err, -EINVAL, "plan of guest '%s' is not finished", g->name);
	for (unsigned i = 0; i < g->vcpus; i++) {
		r = check_set(g, "vcpu", g->vcpu_lists[i], err);
		if (r < 0)
			return r;
	}
	r = check_set(g, "emulator", g->emulator_list, err);
	if (r < 0)
		return r;
	r = check_set(g, "memory node", g->memory_list, err);
	if (r < 0)
		return r;
	for (unsigned c = 0; c < g->ncells; c++) {
		if (!g->cells[c].vcpus_list || !g->cells[c].pus_list)
			return tmap_error_set(err, -EINVAL, "plan of guest '%s' is not finished",
					      g->name);
		if (g->cells[c].memory_mib == 0)
			return tmap_error_set(err, -EINVAL,
					      "plan of guest '%s' has no memory in cell '%u'", g->name,
					      c);
	}
	return 0;
}

int
tmap_plan_format(const struct tmap_plan *p, enum tmap_format format, unsigned flags, char **ret,
		 struct tmap_error *err)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out;
	int r;

	if (!p || !ret)
		return tmap_error_set(err, -EINVAL, "tmap_plan_format: missing argument");
	if (flags & ~TMAP_FORMAT_COLOUR)
		return tmap_error_set(err, -EINVAL, "tmap_plan_format: unknown flags 0x%x", flags);
	for (size_t i = 0; i < p->nguests; i++) {
		r = plan_guest_check(&p->guests[i], err);
		if (r < 0)
			return r;
	}
	out = open_memstream(&buf, &len);
	if (!out)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	switch (format) {
	case TMAP_FORMAT_TABLE: {
		struct table_style st = table_style(flags);

		r = format_plan_table(p, &st, out, err);
		break;
	}
	case TMAP_FORMAT_JSON:
		r = format_plan_json(p, out, err);
		break;
	case TMAP_FORMAT_LIBVIRT:
		r = format_plan_libvirt(p, out, err);
		break;
	case TMAP_FORMAT_QEMU:
		r = format_plan_qemu(p, out, err);
		break;
	default:
		r = tmap_error_set(err, -EINVAL, "unknown plan format %d", (int)format);
	}
	if (fclose(out) != 0 && r >= 0)
		r = tmap_error_set(err, -ENOMEM, "out of memory");
	if (r < 0) {
		free(buf);
		return r;
	}
	*ret = buf;
	return 0;
}
