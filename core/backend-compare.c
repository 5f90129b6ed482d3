/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a backend read back against the plan (backend.c's compare step, for apply and verify
 * alike): the sets, the tasks, the devices' locality and the vcpu count.
 */
#include "backend-report.h"

static const char *
kind_name(enum tmap_observed_kind k)
{
	static const char *const names[] = {"cpus", "memory nodes", "vcpu", "emulator",
					    "iothread"};

	return names[k];
}

/* One set of the plan, as the plan holds it and as it printed it. */
struct planned {
	hwloc_const_bitmap_t set;
	const char *list;
};

/* What the plan says for one observed set; .set NULL when it says nothing (unknown vcpu).
 * all: the guest's vcpu PUs and emulator, the set cpus_list was printed from. */
static struct planned
expected_set(const struct plan_guest *pg, hwloc_const_bitmap_t all, enum tmap_observed_kind kind,
	     unsigned index)
{
	switch (kind) {
	case TMAP_OBSERVED_CPUS:
		return (struct planned){all, pg->cpus_list};
	case TMAP_OBSERVED_MEMS:
		return (struct planned){pg->memory_nodes, pg->memory_list};
	case TMAP_OBSERVED_VCPU:
		if (index < pg->vcpus)
			return (struct planned){pg->vcpu_pus[index], pg->vcpu_lists[index]};
		break;
	case TMAP_OBSERVED_EMULATOR:
		return (struct planned){pg->emulator, pg->emulator_list};
	case TMAP_OBSERVED_IOTHREAD:
		if (index >= 1 && index <= pg->iothreads)
			return (struct planned){pg->iothread, pg->iothread_list};
		break;
	}
	return (struct planned){NULL, NULL};
}

static struct planned
expected_task_cpus(const struct plan_guest *pg, hwloc_const_bitmap_t all,
		   const struct observed_task *t)
{
	switch (t->role) {
	case TMAP_TASK_VCPU:
		if (t->index < pg->vcpus)
			return (struct planned){pg->vcpu_pus[t->index], pg->vcpu_lists[t->index]};
		return (struct planned){NULL, NULL};
	case TMAP_TASK_EMULATOR:
		return (struct planned){pg->emulator, pg->emulator_list};
	case TMAP_TASK_IOTHREAD:
		return (struct planned){pg->iothread, pg->iothread_list};
	default:
		return (struct planned){all, pg->cpus_list};
	}
}

static void
task_role_text(const struct observed_task *t, char *buf, size_t size)
{
	switch (t->role) {
	case TMAP_TASK_VCPU:
		snprintf(buf, size, "vcpu %u", t->index);
		break;
	case TMAP_TASK_EMULATOR:
		snprintf(buf, size, "emulator");
		break;
	case TMAP_TASK_IOTHREAD:
		snprintf(buf, size, "iothread %u", t->index);
		break;
	default:
		snprintf(buf, size, "guest");
		break;
	}
}

/* The sets read back against the plan's own bitmaps (never its printed lists parsed again). */
static int
compare_sets(const struct plan_guest *pg, hwloc_const_bitmap_t all, const struct tmap_observed *o,
	     bool count_pending, struct tmap_report *rep)
{
	for (size_t i = 0; i < o->nsets; i++) {
		const struct observed_set *s = &o->sets[i];
		struct planned want = expected_set(pg, all, s->kind, s->index);
		_cleanup_free_ char *have = NULL;
		int r;

		if (want.set && hwloc_bitmap_isequal(want.set, s->set))
			continue;
		/* A resize the guest has not been started with: its pending line says so. */
		if (count_pending && s->kind == TMAP_OBSERVED_VCPU && s->index >= pg->vcpus)
			continue;
		have = bitmap_list(s->set);
		if (!have)
			return -ENOMEM;
		if (!want.set)
			r = lines_printf(&rep->drift, "%s: %s %u is in force but not in the plan of '%s'",
					 s->where, kind_name(s->kind), s->index, pg->name);
		else
			r = lines_printf(&rep->drift, "%s is '%s', the plan says '%s'", s->where, have,
					 want.list);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Each task within the set of its role, and the guest's memory nodes. */
static int
compare_tasks(const struct plan_guest *pg, hwloc_const_bitmap_t all, const struct tmap_observed *o,
	      bool count_pending, struct tmap_report *rep)
{
	for (size_t i = 0; i < o->ntasks; i++) {
		const struct observed_task *t = &o->tasks[i];
		struct planned want = expected_task_cpus(pg, all, t);
		char role[32];
		int r = 0;

		if (count_pending && t->role == TMAP_TASK_VCPU && t->index >= pg->vcpus)
			continue;
		task_role_text(t, role, sizeof(role));
		if (!want.set) {
			/* A thread in a place the plan does not have (vcpu 5 of a 2-vcpu guest). */
			r = lines_printf(&rep->drift, "task %d (%s) is in force but not in the plan of '%s'",
					 t->tid, role, pg->name);
			if (r < 0)
				return r;
			continue;
		}
		if (!hwloc_bitmap_isincluded(t->cpus, want.set) || hwloc_bitmap_iszero(t->cpus)) {
			_cleanup_free_ char *have = bitmap_list(t->cpus);

			r = lines_printf(&rep->drift,
					 "task %d (%s): Cpus_allowed_list '%s' is not within the plan's '%s'",
					 t->tid, role, have ? have : "?", want.list);
		}
		if (r == 0 && t->mems && !hwloc_bitmap_isincluded(t->mems, pg->memory_nodes)) {
			_cleanup_free_ char *have = bitmap_list(t->mems);

			r = lines_printf(&rep->drift,
					 "task %d (%s): Mems_allowed_list '%s' is not within the plan's '%s'",
					 t->tid, role, have ? have : "?", pg->memory_list);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/* A cell the plan put local to its device and no longer there (issue 16): the PUs its vcpus are
 * read back on, from the sets or the tasks, whichever the backend observes. */
static int
compare_devices(const struct tmap_plan *plan, const struct plan_guest *pg,
		const struct tmap_observed *o, struct tmap_report *rep)
{
	_cleanup_bitmap_ hwloc_bitmap_t mems = hwloc_bitmap_alloc();
	bool have_mems = false;

	if (!mems)
		return -ENOMEM;
	for (size_t i = 0; i < o->nsets; i++) {
		if (o->sets[i].kind != TMAP_OBSERVED_MEMS)
			continue;
		hwloc_bitmap_or(mems, mems, o->sets[i].set);
		have_mems = true;
	}
	for (size_t i = 0; !have_mems && i < o->ntasks; i++)
		if (o->tasks[i].role == TMAP_TASK_VCPU && o->tasks[i].mems)
			hwloc_bitmap_or(mems, mems, o->tasks[i].mems);
	for (unsigned i = 0; i < pg->ndevices; i++) {
		unsigned cell = pg->devices[i].cell;
		hwloc_const_bitmap_t vcpus = cell < pg->ncells ? pg->cells[cell].vcpus : NULL;
		_cleanup_bitmap_ hwloc_bitmap_t pus = hwloc_bitmap_alloc();
		char *line = NULL;
		int r;

		if (!pus)
			return -ENOMEM;
		for (size_t k = 0; vcpus && k < o->nsets; k++)
			if (o->sets[k].kind == TMAP_OBSERVED_VCPU &&
			    hwloc_bitmap_isset(vcpus, o->sets[k].index))
				hwloc_bitmap_or(pus, pus, o->sets[k].set);
		for (size_t k = 0; vcpus && k < o->ntasks; k++)
			if (o->tasks[k].role == TMAP_TASK_VCPU &&
			    hwloc_bitmap_isset(vcpus, o->tasks[k].index))
				hwloc_bitmap_or(pus, pus, o->tasks[k].cpus);
		r = plan_device_drift(plan, pg, i, pus, mems, &line);
		if (r == 0 && line)
			r = lines_add(&rep->drift, line);
		if (r < 0)
			return r;
	}
	return 0;
}

/* One vcpu observed: the count it makes, and its PUs when it is from `from` on. */
static void
count_vcpu(unsigned index, hwloc_const_bitmap_t set, unsigned from, unsigned *n,
	   hwloc_bitmap_t pus)
{
	if (index >= *n)
		*n = index + 1;
	if (index >= from)
		hwloc_bitmap_or(pus, pus, set);
}

/* The vcpus the target runs, as the backend observed them (1 + the highest vcpu number); 0
 * when it observed none. pus: receives the PUs of the vcpus from `from` on. */
static unsigned
observed_vcpus(const struct tmap_observed *o, unsigned from, hwloc_bitmap_t pus)
{
	unsigned n = 0;

	for (size_t i = 0; i < o->nsets; i++)
		if (o->sets[i].kind == TMAP_OBSERVED_VCPU)
			count_vcpu(o->sets[i].index, o->sets[i].set, from, &n, pus);
	for (size_t i = 0; i < o->ntasks; i++)
		if (o->tasks[i].role == TMAP_TASK_VCPU)
			count_vcpu(o->tasks[i].index, o->tasks[i].cpus, from, &n, pus);
	return n;
}

/* "vcpu 1" or "vcpus 2-3": the vcpus from first to last. */
static void
vcpu_range(unsigned first, unsigned last, char *buf, size_t size)
{
	if (first == last)
		snprintf(buf, size, "vcpu %u", first);
	else
		snprintf(buf, size, "vcpus %u-%u", first, last);
}

/*
 * A resize whose vcpu count the guest does not run yet (TMAP_APPLY_RESIZE): the vcpus that
 * exist are compared with the plan, and one pending line says what the guest must be started
 * with. A grown guest's new vcpus have their PUs in the plan; a shrunk guest's vcpus beyond
 * the plan keep running where they are until it is started again.
 */
static int
resize_pending(const struct plan_guest *pg, const struct tmap_observed *o, struct tmap_report *rep)
{
	_cleanup_bitmap_ hwloc_bitmap_t pus = hwloc_bitmap_alloc();
	_cleanup_free_ char *list = NULL;
	unsigned runs;
	char vcpus[48];

	if (!pus)
		return -ENOMEM;
	runs = observed_vcpus(o, pg->vcpus, pus);
	if (runs < pg->vcpus) {
		for (unsigned v = runs; v < pg->vcpus; v++)
			hwloc_bitmap_or(pus, pus, pg->vcpu_pus[v]);
		vcpu_range(runs, pg->vcpus - 1, vcpus, sizeof(vcpus));
	} else {
		vcpu_range(pg->vcpus, runs - 1, vcpus, sizeof(vcpus));
	}
	list = bitmap_list(pus);
	if (!list)
		return -ENOMEM;
	if (runs < pg->vcpus)
		return lines_printf(&rep->pending, "guest '%s' runs %u vcpu%s; start it with %u for %s (PU%s %s)",
				    pg->name, runs, runs == 1 ? "" : "s", pg->vcpus, vcpus,
				    hwloc_bitmap_weight(pus) == 1 ? "" : "s", list);
	return lines_printf(&rep->pending, "guest '%s' runs %u vcpus; start it with %u: until then %s keep%s running outside the plan (PU%s %s)",
			    pg->name, runs, pg->vcpus, vcpus, runs - pg->vcpus == 1 ? "s" : "",
			    hwloc_bitmap_weight(pus) == 1 ? "" : "s", list);
}

/*
 * The vcpu count the target runs against the plan's, from a backend that sees every vcpu it
 * runs (one that lists TMAP_APPLY_RESIZE). Another count is pending only under
 * TMAP_APPLY_RESIZE, and then only the count the state records the guest running (the plan's
 * running_vcpus) when it records one: a guest started again by hand with a third count, or a
 * guest never resized that runs another count, has drifted. *ret_pending: the count is
 * pending (the vcpus beyond the plan are then no drift of their own).
 */
static int
compare_count(const struct plan_guest *pg, const struct tmap_observed *o, bool resize,
	      struct tmap_report *rep, bool *ret_pending)
{
	_cleanup_bitmap_ hwloc_bitmap_t ignored = hwloc_bitmap_alloc();
	unsigned runs;

	*ret_pending = false;
	if (!ignored)
		return -ENOMEM;
	runs = observed_vcpus(o, pg->vcpus, ignored);
	rep->vcpus_observed = runs;
	if (runs == 0 || runs == pg->vcpus)
		return 0;
	if (resize && (!pg->running_vcpus || runs == pg->running_vcpus)) {
		*ret_pending = true;
		return resize_pending(pg, o, rep);
	}
	if (resize)
		return lines_printf(&rep->drift, "guest '%s' runs %u vcpu%s; the state records it running %u until it is started with its plan's %u",
				    pg->name, runs, runs == 1 ? "" : "s", pg->running_vcpus,
				    pg->vcpus);
	return lines_printf(&rep->drift, "guest '%s' runs %u vcpu%s; its plan has %u", pg->name, runs,
			    runs == 1 ? "" : "s", pg->vcpus);
}

/* Every difference becomes one drift line. Sets read from the kernel must equal the plan; a
 * task may be narrower than its set (its own affinity) but never outside it. */
int
backend_compare(const struct tmap_plan *plan, const struct plan_guest *pg,
		const struct tmap_observed *o, bool counts, bool resize, struct tmap_report *rep)
{
	_cleanup_bitmap_ hwloc_bitmap_t all = hwloc_bitmap_dup(pg->emulator);
	bool pending = false;
	int r;

	if (!all)
		return -ENOMEM;
	for (unsigned v = 0; v < pg->vcpus; v++)
		hwloc_bitmap_or(all, all, pg->vcpu_pus[v]);
	for (size_t i = 0; i < o->drift.n; i++) {
		r = lines_printf(&rep->drift, "%s", o->drift.line[i]);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < o->pending.n; i++) {
		r = lines_printf(&rep->pending, "%s", o->pending.line[i]);
		if (r < 0)
			return r;
	}
	r = counts ? compare_count(pg, o, resize, rep, &pending) : 0;
	if (r == 0)
		r = compare_sets(pg, all, o, pending, rep);
	if (r == 0)
		r = compare_tasks(pg, all, o, pending, rep);
	if (r == 0)
		r = compare_devices(plan, pg, o, rep);
	return r;
}
