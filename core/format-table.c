/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The plan for a person reading a terminal. */
#include "internal.h"

struct table_style
table_style(unsigned flags)
{
	if (flags & TMAP_FORMAT_COLOUR)
		return (struct table_style){"\033[1m", "\033[2m", "\033[1;31m", "\033[0m"};
	return (struct table_style){"", "", "", ""};
}

static void
guest_table(FILE *out, const struct table_style *st, const struct plan_guest *pg)
{
	fprintf(out, "%sguest %s:%s %u vcpu%s (%u socket%s x %u core%s x %u thread%s), %" PRIu64 " MiB, %s",
		st->head, pg->name, st->end, pg->vcpus, pg->vcpus == 1 ? "" : "s", pg->sockets,
		pg->sockets == 1 ? "" : "s", pg->cores, pg->cores == 1 ? "" : "s", pg->threads,
		pg->threads == 1 ? "" : "s", pg->memory_mib, cpu_policy_name(pg->cpu_policy));
	if (pg->cpu_policy == TMAP_CPU_MIXED)
		fprintf(out, " (vcpus %s dedicated, the others shared)", pg->dedicated_list);
	if (pg->cpu_policy != TMAP_CPU_SHARED)
		fprintf(out, ", threads %s, emulator %s", thread_policy_name(pg->thread_policy),
			emulator_policy_name(pg->emulator_policy));
	fputc('\n', out);

	fprintf(out, "%s  %-5s %-16s %-16s %s%s\n", st->head, "vcpu", "host PU", "host core", "node",
		st->end);
	for (unsigned v = 0; v < pg->vcpus; v++)
		fprintf(out, "  %-5u %-16s %-16s %d\n", v, pg->vcpu_lists[v],
			pg->vcpu_core_lists[v] ? pg->vcpu_core_lists[v] : "-", pg->vcpu_node[v]);
	for (unsigned c = 0; c < pg->ncells; c++) {
		const struct plan_cell *pc = &pg->cells[c];

		fprintf(out, "  cell %u%s: vcpus %s -> node %u, %" PRIu64 " MiB, host PUs %s\n", c,
			pg->cells_proposed ? " (proposed)" : "", pc->vcpus_list, pc->node,
			pc->memory_mib, pc->pus_list);
	}
	fprintf(out, "  emulator: %s\n", pg->emulator_list);
	if (pg->realtime)
		fprintf(out, "  realtime: vcpus %s, SCHED_FIFO priority %u, alone on their host cores\n",
			pg->realtime_list, pg->realtime_priority);
	if (pg->iothreads)
		fprintf(out, "  iothreads 1-%u: %s\n", pg->iothreads, pg->iothread_list);
	fprintf(out, "  memory: %s on node%s %s", memory_mode_name(pg->memory_mode),
		hwloc_bitmap_weight(pg->memory_nodes) > 1 ? "s" : "", pg->memory_list);
	if (pg->page_kib) {
		char size[32];

		fprintf(out, ", in %s hugepages",
			page_size_text(pg->page_kib, size, sizeof(size)));
	}
	fputc('\n', out);
	if (pg->shares || pg->period || pg->quota) {
		fprintf(out, "  qos:");
		if (pg->shares)
			fprintf(out, " shares %" PRIu64, pg->shares);
		if (pg->period)
			fprintf(out, " period %" PRIu64 " us", pg->period);
		if (pg->quota)
			fprintf(out, " quota %" PRId64 "%s", pg->quota, pg->quota > 0 ? " us" : "");
		fputc('\n', out);
	}
	for (unsigned d = 0; d < pg->ndevices; d++) {
		const struct plan_device *pd = &pg->devices[d];

		fprintf(out, "  device %s%s%s (%s) for cell %u", pd->pci, *pd->names ? " " : "",
			pd->names, dev_class_name(pd->cls), pd->cell);
		if (pd->node >= 0)
			fprintf(out, ", on node %d", pd->node);
		else
			fprintf(out, ", locality not one node");
		fprintf(out, "%s\n", pd->local ? "" : ", not local to the cell");
	}
	fprintf(out, "%s  why:%s\n", st->dim, st->end);
	for (size_t i = 0; i < pg->nexplain; i++)
		fprintf(out, "%s    - %s%s\n", st->dim, pg->explain[i], st->end);
}

/* Making room: each move, in the order it is put in force. */
static void
moves_table(FILE *out, const struct table_style *st, const struct tmap_plan *plan)
{
	fprintf(out, "\n%smoves:%s %zu (%s", st->head, st->end, plan->nmoves,
		plan->moves_lower_bound >= plan->nmoves ? "optimal" : "at least ");
	if (plan->moves_lower_bound < plan->nmoves)
		fprintf(out, "%u needed", plan->moves_lower_bound);
	fputs(")\n", out);
	for (size_t i = 0; i < plan->nmoves; i++) {
		const struct plan_move *m = &plan->moves[i];

		if (m->vcpu >= 0)
			fprintf(out, "  %-20s vcpu %-4d PU %u -> %u\n", m->guest, m->vcpu, m->from,
				m->to);
		else
			fprintf(out, "  %-20s cell %-4d node %u -> %u, %" PRIu64 " MiB of memory\n",
				m->guest, m->cell, m->from, m->to, m->memory_mib);
	}
}

int
format_plan_table(const struct tmap_plan *plan, const struct table_style *st, FILE *out,
		  struct tmap_error *err)
{
	fprintf(out, "%shost:%s %s\n", st->head, st->end, plan->host);
	if (plan->memory_assumed)
		fprintf(out, "warning: %s\n", TOPO_MEMORY_ASSUMED);
	if (plan->rebalanced && plan->cell_after > plan->cell_before)
		fprintf(out, "%srebalance:%s the largest free cell on one node grows from %u to %u PUs\n",
			st->head, st->end, plan->cell_before, plan->cell_after);
	else if (plan->rebalanced)
		fprintf(out, "%srebalance:%s no moves make the largest free cell on one node (%u PUs) larger\n",
			st->head, st->end, plan->cell_before);
	if (plan->rebalanced && plan->recent_count)
		fprintf(out, "%srebalance:%s %u of the %u recent requests fit before the moves, %u after\n",
			st->head, st->end, plan->recent_before, plan->recent_count, plan->recent_after);
	if (plan->moves_searched)
		moves_table(out, st, plan);
	for (size_t i = 0; i < plan->nguests; i++) {
		fputc('\n', out);
		guest_table(out, st, &plan->guests[i]);
	}
	if (plan->nrejected)
		fprintf(out, "\n%srejected (%zu):%s\n", st->alert, plan->nrejected, st->end);
	for (size_t i = 0; i < plan->nrejected; i++)
		fprintf(out, "  %s\n", plan->rejected_reasons[i]);
	return 0;
}
