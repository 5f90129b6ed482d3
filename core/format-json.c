/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The plan as JSON. These keys are a contract that orchestrators read: add keys freely,
 * never rename or remove one.
 */
#include <json-c/json.h>

#include "internal.h"

static void
json_put_freep(struct json_object **o)
{
	if (*o)
		json_object_put(*o);
}

/* json-c's setters only fail on allocation failure; track that once instead of per call. */
struct builder {
	bool oom;
};

static struct json_object *
add(struct builder *b, struct json_object *parent, const char *key, struct json_object *val)
{
	if (!val) {
		b->oom = true;
		return NULL;
	}
	if (json_object_is_type(parent, json_type_array)) {
		if (json_object_array_add(parent, val) < 0) {
			json_object_put(val);
			b->oom = true;
			return NULL;
		}
	} else if (json_object_object_add(parent, key, val) < 0) {
		json_object_put(val);
		b->oom = true;
		return NULL;
	}
	return val;
}

static struct json_object *
str(const char *s)
{
	return json_object_new_string(s ? s : "");
}

static void
guest_fields(struct builder *b, struct json_object *g, const struct plan_guest *pg)
{
	struct json_object *topo, *vcpus, *cells, *emu, *ios, *mem, *qos, *why;

	add(b, g, "name", str(pg->name));
	add(b, g, "cpu_policy", str(cpu_policy_name(pg->cpu_policy)));
	if (pg->cpu_policy == TMAP_CPU_MIXED)
		add(b, g, "dedicated_cpus", str(pg->dedicated_list));
	if (pg->cpu_policy != TMAP_CPU_SHARED) {
		add(b, g, "thread_policy", str(thread_policy_name(pg->thread_policy)));
		add(b, g, "emulator_threads", str(emulator_policy_name(pg->emulator_policy)));
	}
	topo = add(b, g, "topology", json_object_new_object());
	if (topo) {
		add(b, topo, "sockets", json_object_new_int64(pg->sockets));
		add(b, topo, "cores", json_object_new_int64(pg->cores));
		add(b, topo, "threads", json_object_new_int64(pg->threads));
	}
	vcpus = add(b, g, "vcpus", json_object_new_array());
	for (unsigned v = 0; vcpus && v < pg->vcpus; v++) {
		struct json_object *o = add(b, vcpus, NULL, json_object_new_object());

		if (!o)
			break;
		add(b, o, "vcpu", json_object_new_int64(v));
		add(b, o, "cpuset", str(pg->vcpu_lists[v]));
		add(b, o, "node", json_object_new_int64(pg->vcpu_node[v]));
		if (pg->vcpu_core_lists[v])
			add(b, o, "host_core", str(pg->vcpu_core_lists[v]));
	}
	cells = add(b, g, "cells", json_object_new_array());
	for (unsigned c = 0; cells && c < pg->ncells; c++) {
		const struct plan_cell *pc = &pg->cells[c];
		struct json_object *o = add(b, cells, NULL, json_object_new_object());
		char node[16];

		if (!o)
			break;
		snprintf(node, sizeof(node), "%u", pc->node);
		add(b, o, "cell", json_object_new_int64(c));
		add(b, o, "cpus", str(pc->vcpus_list));
		add(b, o, "nodeset", str(node));
		add(b, o, "memory_mib", json_object_new_int64((int64_t)pc->memory_mib));
		add(b, o, "host_cpus", str(pc->pus_list));
	}
	add(b, g, "cells_proposed", json_object_new_boolean(pg->cells_proposed));
	if (pg->pinned)
		add(b, g, "pinned", json_object_new_boolean(true));
	add(b, g, "cpuset", str(pg->cpus_list));
	add(b, g, "held", str(pg->held_list));
	emu = add(b, g, "emulator", json_object_new_object());
	if (emu)
		add(b, emu, "cpuset", str(pg->emulator_list));
	if (pg->realtime) {
		struct json_object *rt = add(b, g, "realtime", json_object_new_object());

		if (rt) {
			add(b, rt, "vcpus", str(pg->realtime_list));
			add(b, rt, "scheduler", str("fifo"));
			add(b, rt, "priority", json_object_new_int64(pg->realtime_priority));
		}
	}
	ios = add(b, g, "iothreads", json_object_new_array());
	for (unsigned i = 1; ios && i <= pg->iothreads; i++) {
		struct json_object *o = add(b, ios, NULL, json_object_new_object());

		if (!o)
			break;
		add(b, o, "iothread", json_object_new_int64(i));
		add(b, o, "cpuset", str(pg->iothread_list));
	}
	mem = add(b, g, "memory", json_object_new_object());
	if (mem) {
		add(b, mem, "mode", str(memory_mode_name(pg->memory_mode)));
		add(b, mem, "nodeset", str(pg->memory_list));
		add(b, mem, "memory_mib", json_object_new_int64((int64_t)pg->memory_mib));
		if (pg->page_kib)
			add(b, mem, "hugepage_kib", json_object_new_int64((int64_t)pg->page_kib));
	}
	qos = add(b, g, "qos", json_object_new_object());
	if (qos && pg->shares)
		add(b, qos, "shares", json_object_new_int64((int64_t)pg->shares));
	if (qos && pg->period)
		add(b, qos, "period", json_object_new_int64((int64_t)pg->period));
	if (qos && pg->quota)
		add(b, qos, "quota", json_object_new_int64(pg->quota));
	if (pg->ndevices)
		add(b, g, "devices", plan_devices_json(pg));
	why = add(b, g, "explain", json_object_new_array());
	for (size_t i = 0; why && i < pg->nexplain; i++)
		add(b, why, NULL, str(pg->explain[i]));
}

static void
guest_json(struct builder *b, struct json_object *arr, const struct plan_guest *pg)
{
	struct json_object *g = add(b, arr, NULL, json_object_new_object());

	if (g)
		guest_fields(b, g, pg);
}

struct json_object *
plan_guest_to_json(const struct plan_guest *pg)
{
	struct json_object *g = json_object_new_object();
	struct builder b = {false};

	if (!g)
		return NULL;
	guest_fields(&b, g, pg);
	if (b.oom) {
		json_object_put(g);
		return NULL;
	}
	return g;
}

/* Making room: the moves beside the guests, and what the search proved. */
static void
moves_json(struct builder *b, struct json_object *root, const struct tmap_plan *plan)
{
	struct json_object *moves = add(b, root, "moves", json_object_new_array());

	add(b, root, "moves_lower_bound", json_object_new_int64(plan->moves_lower_bound));
	add(b, root, "moves_optimal",
	    json_object_new_boolean(plan->moves_lower_bound >= plan->nmoves));
	for (size_t i = 0; moves && i < plan->nmoves; i++) {
		const struct plan_move *m = &plan->moves[i];
		struct json_object *o = add(b, moves, NULL, json_object_new_object());

		if (!o)
			break;
		add(b, o, "guest", str(m->guest));
		if (m->vcpu >= 0)
			add(b, o, "vcpu", json_object_new_int64(m->vcpu));
		else
			add(b, o, "cell", json_object_new_int64(m->cell));
		add(b, o, "from", json_object_new_int64(m->from));
		add(b, o, "to", json_object_new_int64(m->to));
		if (m->vcpu < 0)
			add(b, o, "memory_mib", json_object_new_int64((int64_t)m->memory_mib));
	}
}

int
format_plan_json(const struct tmap_plan *plan, FILE *out, struct tmap_error *err)
{
	_cleanup_(json_put_freep) struct json_object *root = json_object_new_object();
	struct builder b = {false};
	struct json_object *guests;

	if (!root)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	add(&b, root, "host", str(plan->host));
	/* The guests placed around, when a session with a state made the plan. */
	if (plan->state_path) {
		struct json_object *state = add(&b, root, "state", json_object_new_object());

		if (state) {
			add(&b, state, "path", str(plan->state_path));
			add(&b, state, "guests", json_object_new_int64((int64_t)plan->state_guests));
		}
	}
	guests = add(&b, root, "guests", json_object_new_array());
	for (size_t i = 0; guests && i < plan->nguests; i++)
		guest_json(&b, guests, &plan->guests[i]);
	if (plan->moves_searched)
		moves_json(&b, root, plan);
	if (plan->rebalanced) {
		struct json_object *rb = add(&b, root, "rebalance", json_object_new_object());

		if (rb) {
			add(&b, rb, "measure", str("largest_cell_pus"));
			add(&b, rb, "before", json_object_new_int64(plan->cell_before));
			add(&b, rb, "after", json_object_new_int64(plan->cell_after));
			if (plan->recent_count) {
				struct json_object *rc = add(&b, rb, "recent_requests",
							     json_object_new_object());

				if (rc) {
					add(&b, rc, "count", json_object_new_int64(plan->recent_count));
					add(&b, rc, "fitting_before",
					    json_object_new_int64(plan->recent_before));
					add(&b, rc, "fitting_after",
					    json_object_new_int64(plan->recent_after));
				}
			}
		}
	}
	if (plan->nrejected) {
		struct json_object *rej = add(&b, root, "rejected", json_object_new_array());

		for (size_t i = 0; rej && i < plan->nrejected; i++) {
			struct json_object *o = add(&b, rej, NULL, json_object_new_object());

			if (!o)
				break;
			add(&b, o, "name", str(plan->rejected_names[i]));
			add(&b, o, "reason", str(plan->rejected_reasons[i]));
		}
	}
	if (b.oom)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	fputs(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
							   JSON_C_TO_STRING_NOSLASHESCAPE),
	      out);
	fputc('\n', out);
	return 0;
}
