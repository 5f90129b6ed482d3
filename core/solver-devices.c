/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Devices in a decision (issue 16). A device request is one more constraint on the node of
 * its cell: the cell may only go to a node next to a free device that answers the request, as
 * its policy says. The nodes each cell may take are worked out once, before the nodes are
 * chosen (choose_one(), the matching of choose_distinct() and the shared placement read them
 * through cell_fits()), so no permutation of devices or nodes is ever searched. Once the
 * nodes are chosen, each request gets its device: named ones first, then a VF of a PF, then a
 * device of a class, the first free one next to its cell.
 *
 * Locality by policy, for a cell on node n:
 *   required, preferred  n is one of the nodes the device is local to (its non-I/O ancestor)
 *   root                 n is local to the device's root complex: in hwloc's model a device
 *                        is local where its host bridge is, so the same nodes
 *   socket               n is in the package of one of those nodes
 * A device of unknown locality (numa_node -1) meets none of them: only 'preferred' takes it.
 */
#include "solver.h"

static bool
name_in(const char *names, const char *name)
{
	size_t len = strlen(name);

	while (*names) {
		size_t k = strcspn(names, ",");

		if (k == len && strncmp(names, name, len) == 0)
			return true;
		names += k + (names[k] == ',');
	}
	return false;
}

/* Does device k answer request r? */
static bool
matches(const struct tmap_topology *t, const struct guest_device *r, unsigned k)
{
	const struct topo_device *d = &t->devices[k];

	switch (r->by) {
	case DEV_BY_PCI:
		return strcasecmp(d->pci, r->value) == 0;
	case DEV_BY_NET:
		return name_in(d->names, r->value);
	case DEV_BY_VF_OF:
		return d->physfn && (strcasecmp(d->physfn, r->value) == 0 ||
				     (d->pf >= 0 && name_in(t->devices[d->pf].names, r->value)));
	case DEV_BY_CLASS:
		return dev_class_from_name(r->value) == (int)d->cls;
	}
	return false;
}

/* Is a cell on node index n local to device k, as policy p asks? */
static bool
local_to(const struct tmap_topology *t, unsigned k, unsigned n, enum dev_policy p)
{
	const struct topo_device *d = &t->devices[k];
	unsigned os;

	if (!d->known)
		return false;
	if (p != DEV_SOCKET)
		return hwloc_bitmap_isset(d->nodeset, t->nodes[n].os_index);
	if (t->nodes[n].package < 0)
		return hwloc_bitmap_isset(d->nodeset, t->nodes[n].os_index);
	hwloc_bitmap_foreach_begin(os, d->nodeset)
	{
		int m = topo_node_index(t, os);

		if (m >= 0 && t->nodes[m].package == t->nodes[n].package)
			return true;
	}
	hwloc_bitmap_foreach_end();
	return false;
}

unsigned
devices_free_on(const struct solver *s, unsigned n)
{
	const struct tmap_topology *t = s->t;
	unsigned count = 0;

	for (unsigned k = 0; k < t->ndevices; k++)
		count += !s->dev_taken[k] && local_to(t, k, n, DEV_REQUIRED);
	return count;
}

/* A device for messages: its first OS name and bus id, "eth2 (0000:3b:00.0)". */
static const char *
label(const struct topo_device *d, char *buf, size_t size)
{
	size_t k = strcspn(d->names, ",");

	if (k)
		snprintf(buf, size, "%.*s (%s)", (int)(k < 32 ? k : 32), d->names, d->pci);
	else
		snprintf(buf, size, "%s", d->pci);
	return buf;
}

static bool
free_match(const struct solver *s, const struct guest_device *r)
{
	for (unsigned k = 0; k < s->t->ndevices; k++)
		if (!s->dev_taken[k] && matches(s->t, r, k))
			return true;
	return false;
}

bool
devices_any_preferred(const struct tmap_guest *g)
{
	for (unsigned i = 0; i < g->ndevices; i++)
		if (g->devices[i].policy == DEV_PREFERRED)
			return true;
	return false;
}

/* A request no node can meet: say why (no such device, all held, locality unknown). */
static int
unmet(const struct solver *s, const struct tmap_guest *g, const struct guest_device *r)
{
	const struct tmap_topology *t = s->t;
	int any = -1, free_one = -1;
	char buf[96];

	for (unsigned k = 0; k < t->ndevices; k++) {
		if (!matches(t, r, k))
			continue;
		any = (int)k;
		if (!s->dev_taken[k])
			free_one = (int)k;
	}
	if (any < 0)
		return tmap_error_set(s->err, -ENOSPC, "%s: no device of this host is %s '%s'",
				      g->name, dev_match_key(r->by), r->value);
	if (free_one < 0)
		return tmap_error_set(s->err, -ENOSPC, "%s: %s '%s': %s is held by another guest",
				      g->name, dev_match_key(r->by), r->value,
				      label(&t->devices[any], buf, sizeof(buf)));
	return tmap_error_set(s->err, -ENOSPC,
			      "%s: %s '%s': %s has no known locality (numa_node -1), so policy '%s' cannot be met; use 'preferred'",
			      g->name, dev_match_key(r->by), r->value,
			      label(&t->devices[free_one], buf, sizeof(buf)),
			      dev_policy_name(r->policy));
}

int
devices_constrain(struct solver *s, const struct tmap_guest *g, unsigned ncells,
		  struct demand *d, bool relaxed)
{
	const struct tmap_topology *t = s->t;
	unsigned N = t->nnodes;
	bool *allowed = scratch_new(s, (size_t)ncells * N, bool);
	bool *mine = scratch_new(s, N, bool);
	bool any_anchor = false;

	if (!allowed || !mine)
		return -ENOMEM;
	for (size_t i = 0; i < (size_t)ncells * N; i++)
		allowed[i] = true;
	for (unsigned i = 0; i < g->ndevices; i++) {
		const struct guest_device *r = &g->devices[i];
		bool some = false;

		if (relaxed && r->policy == DEV_PREFERRED)
			continue;
		memset(mine, 0, N * sizeof(bool));
		for (unsigned k = 0; k < t->ndevices; k++) {
			if (s->dev_taken[k] || !matches(t, r, k))
				continue;
			for (unsigned n = 0; n < N; n++)
				if (!mine[n] && local_to(t, k, n, r->policy))
					some = mine[n] = true;
		}
		/* A preferred device of unknown locality constrains nothing; one that is not
		 * there or not free cannot be given at all. */
		if (!some && r->policy == DEV_PREFERRED && free_match(s, r))
			continue;
		if (!some)
			return unmet(s, g, r);
		for (unsigned n = 0; n < N; n++)
			allowed[r->cell * N + n] &= mine[n];
		any_anchor = true;
	}
	d->cell_nodes = any_anchor ? allowed : NULL;
	return 0;
}

/* What node index n offers, for messages: "node 1 has 2 free PUs and 4096 MiB". */
static void
node_offer(const struct solver *s, const struct demand *d, const unsigned *cap, unsigned n,
	   FILE *out)
{
	const struct topo_node *node = &s->t->nodes[n];

	if (node->cpuless)
		fprintf(out, "node %u has no CPUs", node->os_index);
	else
		fprintf(out, "node %u has %u %s and %" PRIu64 " MiB", node->os_index, cap[n],
			short_unit(d), node_memory(s, n, d));
}

/* The devices answering r, "eth2 (0000:3b:00.0) is on node 1". */
static void
where_devices(const struct solver *s, const struct guest_device *r, FILE *out)
{
	const struct tmap_topology *t = s->t;
	unsigned shown = 0;
	char buf[96];

	for (unsigned k = 0; k < t->ndevices && shown < 4; k++) {
		const struct topo_device *dv = &t->devices[k];

		if (s->dev_taken[k] || !matches(t, r, k) || !dv->known)
			continue;
		fprintf(out, "%s%s is on ", shown++ ? ", " : "", label(dv, buf, sizeof(buf)));
		if (dv->node >= 0)
			fprintf(out, "node %u", t->nodes[dv->node].os_index);
		else
			fprintf(out, "nodes %s", dv->nodes_list);
	}
}

/* What all nodes with CPUs offer together, for a guest that could have been spread from a
 * node next to its device (cell 0's): nothing when none of those has room to start from. */
static void
all_offer(const struct solver *s, const struct demand *d, const unsigned *cap, FILE *out)
{
	unsigned long all_cap = 0;
	uint64_t all_mem = 0;
	bool start = false;

	for (unsigned n = 0; n < s->t->nnodes; n++)
		start |= d->cell_nodes[n] && cap[n] > 0 && node_memory(s, n, d) > 0;
	if (!start)
		return;
	for (unsigned n = 0; n < s->t->nnodes; n++) {
		all_cap += s->t->nodes[n].cpuless ? 0 : cap[n];
		all_mem += s->t->nodes[n].cpuless ? 0 : node_memory(s, n, d);
	}
	fprintf(out, "; spread from there, it does not fit either: all nodes together have %lu %s and %" PRIu64 " MiB",
		all_cap, short_unit(d), all_mem);
}

/* A request whose cell no node next to its devices can take, alone (spreadable: nor the
 * guest spread from one): the words. */
static int
blame(const struct solver *s, const struct tmap_guest *g, const struct demand *d,
      const unsigned *cap, const struct cell_req *req, const struct guest_device *r, bool alone,
      bool spreadable)
{
	unsigned N = s->t->nnodes, c = r->cell, shown = 0;
	unsigned need = req[c].vcpus + (c == 0 && d->emulator_isolate ? d->emulator_units : 0);
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	int ret;

	if (!out)
		return -ENOMEM;
	fprintf(out, "%s: ", g->name);
	where_devices(s, r, out);
	fputs("; ", out);
	for (unsigned n = 0; n < N && shown < 4; n++) {
		if (!d->cell_nodes[c * N + n])
			continue;
		fputs(shown++ ? ", " : "", out);
		node_offer(s, d, cap, n, out);
	}
	if (alone)
		fprintf(out, "; cell %u needs %u %s and %" PRIu64 " MiB", c, need, short_unit(d),
			req[c].memory_mib);
	if (alone && spreadable)
		all_offer(s, d, cap, out);
	else if (!alone)
		fprintf(out, "; cell %u fits there, but then the other cells find no distinct nodes that take them",
			c);
	if (fclose(out) != 0) {
		free(text);
		return -ENOMEM;
	}
	ret = tmap_error_set(s->err, -ENOSPC, "%s", text);
	free(text);
	return ret;
}

int
devices_no_fit(const struct solver *s, const struct tmap_guest *g, const struct demand *d,
	       const unsigned *cap, const struct cell_req *req, bool spreadable)
{
	unsigned N = s->t->nnodes;
	struct demand free_d = *d;

	if (!s->err)
		return -ENOSPC;		/* nobody asked why, as in no_fit() */
	free_d.cell_nodes = NULL;
	/* The first request whose cell fits no node next to its devices, though it fits
	 * elsewhere or nowhere: that device is why. */
	for (unsigned i = 0; i < g->ndevices; i++) {
		const struct guest_device *r = &g->devices[i];
		bool fits = false;

		for (unsigned n = 0; n < N && !fits; n++)
			fits = d->cell_nodes[r->cell * N + n] &&
			       cell_fits(s, &free_d, cap, n, &req[r->cell], r->cell);
		if (!fits && r->policy != DEV_PREFERRED)
			return blame(s, g, d, cap, req, r, true, spreadable);
	}
	/* Each anchored cell fits alone: the set of distinct nodes is what fails. */
	for (unsigned i = 0; i < g->ndevices; i++)
		if (g->devices[i].policy != DEV_PREFERRED)
			return blame(s, g, d, cap, req, &g->devices[i], false, false);
	return tmap_error_set(s->err, -ENOSPC,
			      "%s: each cell fits a node next to its devices, but no set of distinct nodes takes them all",
			      g->name);
}

/* The free device for request r next to node index n (or, preferred, anywhere), not one
 * taken already; -1 when none. */
static int
pick(const struct solver *s, const struct guest_device *r, unsigned n, bool *ret_local)
{
	int any = -1;

	for (unsigned k = 0; k < s->t->ndevices; k++) {
		if (s->dev_taken[k] || !matches(s->t, r, k))
			continue;
		if (local_to(s->t, k, n, r->policy)) {
			*ret_local = true;
			return (int)k;
		}
		if (any < 0)
			any = (int)k;
	}
	*ret_local = false;
	return r->policy == DEV_PREFERRED ? any : -1;
}

static int
record_device(const struct solver *s, const struct guest_device *r, unsigned k, unsigned n,
	      bool local, struct plan_device *pd, struct plan_guest *pg)
{
	const struct tmap_topology *t = s->t;
	const struct topo_device *dv = &t->devices[k];
	char buf[96];

	pd->pci = strdup(dv->pci);
	pd->names = strdup(dv->names);
	if (!pd->pci || !pd->names)
		return -ENOMEM;
	pd->cls = dv->cls;
	pd->cell = r->cell;
	pd->node = dv->node >= 0 ? (int)t->nodes[dv->node].os_index : -1;
	pd->policy = r->policy;
	pd->local = local;
	label(dv, buf, sizeof(buf));
	if (local) {
		char where[64];

		if (dv->node >= 0)
			snprintf(where, sizeof(where), "node %u", t->nodes[dv->node].os_index);
		else
			snprintf(where, sizeof(where), "nodes %s", dv->nodes_list);
		return plan_guest_explain(pg, "device %s, %s, for %s '%s' is on %s: cell %u on node %u is local to it (policy %s)",
					  buf, dev_class_name(dv->cls), dev_match_key(r->by), r->value,
					  where, r->cell, t->nodes[n].os_index, dev_policy_name(r->policy));
	}
	if (!dv->known)
		return plan_guest_explain(pg, "device %s, %s, for %s '%s': its locality is unknown (numa_node -1); cell %u on node %u (policy preferred)",
					  buf, dev_class_name(dv->cls), dev_match_key(r->by), r->value,
					  r->cell, t->nodes[n].os_index);
	return plan_guest_explain(pg, "device %s, %s, for %s '%s' is local to nodes %s, which could not take cell %u: the cell is on node %u (policy preferred)",
				  buf, dev_class_name(dv->cls), dev_match_key(r->by), r->value,
				  dv->nodes_list, r->cell, t->nodes[n].os_index);
}

int
devices_take(struct solver *s, const struct tmap_guest *g, const int *node_of,
	     struct plan_guest *pg)
{
	int *chosen = scratch_new(s, g->ndevices, int);
	bool *local = scratch_new(s, g->ndevices, bool);

	if (!chosen || !local)
		return -ENOMEM;
	/* Named devices first, then a PF's VFs, then classes: a class takes what is left. */
	for (int by = DEV_BY_PCI; by <= DEV_BY_CLASS; by++)
		for (unsigned i = 0; i < g->ndevices; i++) {
			const struct guest_device *r = &g->devices[i];
			unsigned n = (unsigned)node_of[r->cell];

			if ((int)r->by != by)
				continue;
			chosen[i] = pick(s, r, n, &local[i]);
			if (chosen[i] < 0)
				return tmap_error_set(s->err, -ENOSPC,
						      "%s: %s '%s': no free device is local to node %u, where cell %u goes (policy %s)",
						      g->name, dev_match_key(r->by), r->value,
						      s->t->nodes[n].os_index, r->cell,
						      dev_policy_name(r->policy));
			s->dev_taken[chosen[i]] = true;
		}
	if (!pg)
		return 0;
	pg->devices = calloc(g->ndevices, sizeof(*pg->devices));
	if (!pg->devices)
		return -ENOMEM;
	for (unsigned i = 0; i < g->ndevices; i++) {
		pg->ndevices++;
		if (record_device(s, &g->devices[i], (unsigned)chosen[i],
				  (unsigned)node_of[g->devices[i].cell], local[i], &pg->devices[i], pg) < 0)
			return -ENOMEM;
	}
	return 0;
}

void
devices_hold(struct solver *s, const struct plan_guest *pg, bool hold)
{
	for (unsigned i = 0; i < pg->ndevices; i++) {
		int k = devices_find_pci(s->t, pg->devices[i].pci);

		if (k >= 0)
			s->dev_taken[k] = hold;
	}
}

bool
devices_plan_answers(const struct tmap_topology *t, const struct tmap_guest *g,
		     const struct plan_guest *pg)
{
	if (pg->ndevices != g->ndevices)
		return false;
	for (unsigned i = 0; i < g->ndevices; i++) {
		const struct guest_device *r = &g->devices[i];
		const struct plan_device *pd = &pg->devices[i];
		int k = devices_find_pci(t, pd->pci);

		if (k < 0 || pd->cell != r->cell || pd->policy != r->policy ||
		    !matches(t, r, (unsigned)k))
			return false;
	}
	return true;
}
