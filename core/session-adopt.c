/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Adopt: record a guest that was pinned by hand, as it is pinned. The backend reads the
 * guest (its vcpus, memory) and what is in force for it (the sets a plan of its shape reads
 * back); those sets become its plan, which must then verify as in force and fit around
 * what the state records. Nothing is written to the target.
 *
 * Only dedicated guests are adopted (one PU per vcpu, no PU twice): a guest whose vcpus
 * float over several PUs has no allocation to keep, and is applied as a shared guest.
 */
#include <json-c/json.h>

#include "session.h"
#include "state.h"

/* The node OS index holding a PU, or -1. */
static int
pu_node(const struct tmap_topology *t, unsigned pu)
{
	for (unsigned n = 0; n < t->nnodes; n++)
		if (hwloc_bitmap_isset(t->nodes[n].cpuset, pu))
			return (int)t->nodes[n].os_index;
	return -1;
}

/* Each vcpu's PUs as read back: its own set, or the guest's one PU in vcpu order. */
static int
adopt_vcpus(struct plan_guest *pg, const struct tmap_observed *obs, struct tmap_error *err)
{
	hwloc_const_bitmap_t cpus = observed_get(obs, TMAP_OBSERVED_CPUS, 0);
	_cleanup_bitmap_ hwloc_bitmap_t seen = hwloc_bitmap_alloc();
	int pu = -1;

	if (!seen)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	for (unsigned v = 0; v < pg->vcpus; v++) {
		hwloc_const_bitmap_t own = observed_get(obs, TMAP_OBSERVED_VCPU, v);

		if (!own && cpus && (unsigned)hwloc_bitmap_weight(cpus) == pg->vcpus) {
			pu = hwloc_bitmap_next(cpus, pu);
			hwloc_bitmap_only(pg->vcpu_pus[v], (unsigned)pu);
		} else if (own && hwloc_bitmap_weight(own) == 1) {
			hwloc_bitmap_copy(pg->vcpu_pus[v], own);
		} else {
			_cleanup_free_ char *list = bitmap_list(own ? own : cpus);

			return tmap_error_set(err, -EINVAL,
					      "guest '%s': vcpu %u may run on PUs '%s': adopt records dedicated guests only (one PU per vcpu); apply it as a shared guest instead",
					      pg->name, v, list ? list : "?");
		}
		if (hwloc_bitmap_isincluded(pg->vcpu_pus[v], seen))
			return tmap_error_set(err, -EINVAL,
					      "guest '%s': two vcpus share PU %d: adopt records dedicated guests only",
					      pg->name, hwloc_bitmap_first(pg->vcpu_pus[v]));
		hwloc_bitmap_or(seen, seen, pg->vcpu_pus[v]);
	}
	return 0;
}

/* One cell per node the vcpus are on, the memory shared evenly. */
static int
adopt_cells(struct plan_guest *pg, const struct tmap_topology *t, struct tmap_error *err)
{
	unsigned used[64], nused = 0;

	for (unsigned c = 0; c < pg->ncells; c++) {
		hwloc_bitmap_free(pg->cells[c].vcpus);
		hwloc_bitmap_free(pg->cells[c].pus);
		free(pg->cells[c].vcpus_list);
		free(pg->cells[c].pus_list);
	}
	for (unsigned v = 0; v < pg->vcpus; v++) {
		int node = pu_node(t, (unsigned)hwloc_bitmap_first(pg->vcpu_pus[v]));
		unsigned c;

		if (node < 0)
			return tmap_error_set(err, -EINVAL, "guest '%s': vcpu %u is on PU %d, not a PU of this host",
					      pg->name, v, hwloc_bitmap_first(pg->vcpu_pus[v]));
		pg->vcpu_node[v] = node;
		for (c = 0; c < nused && used[c] != (unsigned)node; c++)
			;
		if (c == nused && nused < ARRAY_SIZE(used))
			used[nused++] = (unsigned)node;
	}
	pg->cells = realloc(pg->cells, nused * sizeof(*pg->cells));
	if (!pg->cells)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	pg->ncells = nused;
	for (unsigned c = 0; c < nused; c++) {
		struct plan_cell *cell = &pg->cells[c];

		*cell = (struct plan_cell){.vcpus = hwloc_bitmap_alloc(), .node = used[c],
					   .pus = hwloc_bitmap_alloc()};
		if (!cell->vcpus || !cell->pus)
			return tmap_error_set(err, -ENOMEM, "out of memory");
		cell->memory_mib = pg->memory_mib / nused + (c == 0 ? pg->memory_mib % nused : 0);
		for (unsigned v = 0; v < pg->vcpus; v++)
			if (pg->vcpu_node[v] == (int)used[c]) {
				hwloc_bitmap_set(cell->vcpus, v);
				hwloc_bitmap_or(cell->pus, cell->pus, pg->vcpu_pus[v]);
			}
	}
	pg->cells_proposed = true;
	return 0;
}

/* The strings of a plan guest whose sets changed. */
static void
drop_lists(struct plan_guest *pg)
{
	for (unsigned v = 0; v < pg->vcpus; v++) {
		free(pg->vcpu_lists[v]);
		if (pg->vcpu_core_lists) {
			free(pg->vcpu_core_lists[v]);
			pg->vcpu_core_lists[v] = NULL;
		}
	}
	free(pg->vcpu_lists);
	pg->vcpu_lists = NULL;
	free(pg->emulator_list);
	free(pg->memory_list);
	free(pg->cpus_list);
	free(pg->held_list);
}

/* The plan of what is in force, from a plan of the guest's shape and what was read back. */
static int
adopt_plan(struct plan_guest *pg, const struct tmap_topology *t, const struct tmap_observed *obs,
	   struct tmap_error *err)
{
	hwloc_const_bitmap_t emulator = observed_get(obs, TMAP_OBSERVED_EMULATOR, 0);
	hwloc_const_bitmap_t mems = observed_get(obs, TMAP_OBSERVED_MEMS, 0);
	int r;

	pg->cpu_policy = TMAP_CPU_DEDICATED;
	r = adopt_vcpus(pg, obs, err);
	if (r == 0)
		r = adopt_cells(pg, t, err);
	if (r < 0)
		return r;
	hwloc_bitmap_zero(pg->held);
	for (unsigned v = 0; v < pg->vcpus; v++)
		hwloc_bitmap_or(pg->held, pg->held, pg->vcpu_pus[v]);
	/* Emulator threads where they are read, else with the vcpus (a container has none). */
	hwloc_bitmap_copy(pg->emulator, emulator ? emulator : pg->held);
	hwloc_bitmap_or(pg->held, pg->held, pg->emulator);
	hwloc_bitmap_zero(pg->memory_nodes);
	if (mems)
		hwloc_bitmap_copy(pg->memory_nodes, mems);
	else
		for (unsigned c = 0; c < pg->ncells; c++)
			hwloc_bitmap_set(pg->memory_nodes, pg->cells[c].node);
	drop_lists(pg);
	return plan_guest_finish(pg) < 0 ? tmap_error_set(err, -ENOMEM, "out of memory") : 0;
}

/* A guest for a target the backend cannot describe: one vcpu per PU of the set it reads. */
static int
container_guest(struct tmap_session *s, const struct tmap_backend_module *m,
		const struct tmap_target *target, const char *name, struct tmap_guest **ret,
		struct tmap_error *err)
{
	struct tmap_observed *obs = NULL;
	struct tmap_host *empty = NULL;
	struct tmap_plan *probe = NULL;
	struct tmap_guest *one = NULL;
	hwloc_const_bitmap_t cpus;
	int r;

	r = tmap_guest_new(name, 1, &one, err);
	if (r == 0)
		r = tmap_host_new(s->topology, NULL, &empty, err);
	if (r == 0)
		r = tmap_host_place(empty, one, &probe, err);
	if (r == 0)
		r = backend_observe(m, target, probe, 0, &obs, err);
	cpus = r == 0 ? observed_get(obs, TMAP_OBSERVED_CPUS, 0) : NULL;
	if (r == 0 && (!cpus || hwloc_bitmap_iszero(cpus)))
		r = tmap_error_set(err, -EINVAL, "adopt: the target has no PUs to read");
	if (r == 0)
		r = tmap_guest_new(name, (unsigned)hwloc_bitmap_weight(cpus), ret, err);
	observed_release(obs);
	tmap_plan_free(probe);
	tmap_host_free(empty);
	tmap_guest_free(one);
	return r;
}

/* The guest read from the target, under the name asked for. */
static int
adopt_guest(struct tmap_session *s, const struct tmap_backend_module *m,
	    const struct tmap_target *target, const char *name, struct tmap_guest **ret,
	    struct tmap_error *err)
{
	struct tmap_guest *g = NULL;
	int r = tmap_backend_describe(m, target, &g, err);

	/* A container is no more than its cpuset: as many vcpus as it has PUs. */
	if (r == -EOPNOTSUPP && name)
		r = container_guest(s, m, target, name, &g, err);
	if (r < 0)
		return session_fail(s, r == -ENOMEM ? TMAP_STEP_OPEN : TMAP_STEP_INPUT, r);
	if (name) {
		struct tmap_guest *probe = NULL;
		/* The name rule is tmap_guest_new()'s. */
		bool valid = tmap_guest_new(name, 1, &probe, NULL) == 0;
		char *copy = strdup(name);

		tmap_guest_free(probe);
		if (!copy || !valid) {
			free(copy);
			tmap_guest_free(g);
			return session_fail(s, TMAP_STEP_INPUT,
					    tmap_error_set(err, -EINVAL, "adopt: '%s' is not a valid guest name",
							   name));
		}
		free(g->name);
		g->name = copy;
	}
	if (tmap_session_lookup(s, g->name)) {
		r = tmap_error_set(err, -EEXIST, "adopt: a guest '%s' is recorded already", g->name);
		tmap_guest_free(g);
		return session_fail(s, TMAP_STEP_INPUT, r);
	}
	*ret = g;
	return 0;
}

/* Read what is in force as a plan of the guest's shape (placed on an empty host). */
static int
adopt_read(struct tmap_session *s, const struct tmap_backend_module *m,
	   const struct tmap_target *target, const struct tmap_guest *g, struct tmap_plan **ret,
	   struct tmap_error *err)
{
	struct tmap_observed *obs = NULL;
	struct tmap_host *empty = NULL;
	int r;

	r = tmap_host_new(s->topology, NULL, &empty, err);
	if (r == 0)
		r = tmap_host_place(empty, g, ret, err);
	tmap_host_free(empty);
	if (r < 0) {
		tmap_error_prefix(err, "adopt: the guest read from the target has no plan on this host: ");
		return session_fail(s, TMAP_STEP_INPUT, r == -ENOSPC ? -EINVAL : r);
	}
	r = backend_observe(m, target, *ret, 0, &obs, err);
	if (r < 0)
		return session_fail(s, TMAP_STEP_OPEN, r);
	r = adopt_plan(&(*ret)->guests[0], s->topology, obs, err);
	observed_release(obs);
	return r < 0 ? session_fail(s, TMAP_STEP_INPUT, r) : 0;
}

int
tmap_session_adopt(struct tmap_session *s, const char *backend, const struct tmap_target *target,
		   const char *name, struct tmap_plan **ret_plan, struct tmap_error *err)
{
	const struct tmap_backend_module *m = NULL;
	struct tmap_guest *g = NULL;
	struct tmap_plan *plan = NULL;
	char holder[SESSION_NAME_SIZE];
	int r;

	if (!s || !backend || !target)
		return tmap_error_set(err, -EINVAL, "tmap_session_adopt: missing argument");
	if (!s->state || !s->writable)
		return session_fail(s, TMAP_STEP_INPUT,
				    tmap_error_set(err, -EBADF, "adopt: the session has no state opened to write"));
	r = session_module(s, backend, &m, err);
	if (r < 0)
		return session_fail(s, TMAP_STEP_INPUT, r);
	r = adopt_guest(s, m, target, name, &g, err);
	if (r == 0)
		r = adopt_read(s, m, target, g, &plan, err);
	/* What was read must read back as in force: the plan says what the target holds. */
	if (r == 0 && (r = tmap_verify(m, target, plan, 0, 0, NULL, err)) != 0)
		r = session_fail(s, TMAP_STEP_INPUT,
				 r > 0 ? tmap_error_set(err, -EINVAL, "adopt: what is in force for '%s' cannot be described as a plan",
							g->name) : r);
	if (r == 0 && host_reserve_check(s->host, plan->guests[0].held_list, holder,
					 sizeof(holder)) == -EBUSY)
		r = session_fail(s, TMAP_STEP_PLACE,
				 tmap_error_set(err, -EBUSY, "adopt: '%s' runs on PUs %s, which guest '%s' holds",
						g->name, plan->guests[0].held_list, holder));
	if (r == 0 && host_adopt(s->host, &plan->guests[0], err) < 0)
		r = session_fail(s, TMAP_STEP_PLACE, -EBUSY);
	if (r == 0 && ((r = tmap_state_record(s->state, m, target, g, 0, err)) < 0 ||
		       (r = tmap_state_save(s->state, s->host, err)) < 0)) {
		session_reload(s, NULL);
		r = session_fail(s, TMAP_STEP_STATE, r);
	}
	if (r == 0) {
		s->step = TMAP_STEP_NONE;
		if (ret_plan)
			*ret_plan = TAKE_PTR(plan);
	}
	tmap_plan_free(plan);
	tmap_guest_free(g);
	return r;
}
