/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A plan as QEMU command-line options: for each guest a "# NAME" line, then one option and
 * its argument per line ("-m 4096M"). No value holds a space or a character a shell would
 * interpret, so a line splits into two argv entries at its space and needs no quoting. Lines
 * starting with '#' are comments.
 *
 * Options only shape the guest (CPU topology, NUMA cells, memory policy, iothreads). Which
 * host PU runs each thread is applied afterwards by a backend (cgroup, sched_setaffinity or
 * libvirt): QEMU has no option for it.
 */
#include "internal.h"

static const char restrictive_note[] =
    "# memory mode restrictive: QEMU has no such policy; the cgroup's cpuset.mems restricts memory\n";

/* The memory-backend policy for a mode, or NULL when QEMU has none. */
static const char *
qemu_policy(enum tmap_memory_mode mode)
{
	switch (mode) {
	case TMAP_MEMORY_STRICT:
		return "bind";
	case TMAP_MEMORY_PREFERRED:
		return "preferred";
	case TMAP_MEMORY_INTERLEAVE:
		return "interleave";
	case TMAP_MEMORY_RESTRICTIVE:
		/* libvirt's restrictive mode: no mbind() at all, cpuset.mems confines the
		 * memory, and a running guest may move to other nodes. */
		return NULL;
	}
	return NULL;
}

/* Comment text on one line: a newline in a name must not start an option line. */
static void
put_comment_text(FILE *out, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		fputc(c < 0x20 || c == 0x7f ? '?' : c, out);
	}
}

/* QEMU's -numa takes one "cpus=" per contiguous range: "0-1,4" becomes "cpus=0-1,cpus=4". */
static void
put_numa_cpus(FILE *out, const char *list)
{
	if (!*list)
		return;
	fputs(",cpus=", out);
	for (const char *p = list; *p; p++) {
		if (*p == ',')
			fputs(",cpus=", out);
		else
			fputc(*p, out);
	}
}

static void format_devices(const struct plan_guest *g, FILE *out);

/* Every pair of cells at the host's distance between their nodes, when they make a valid
 * table (plan.c); nothing otherwise. */
static void
format_distances(const struct tmap_plan *plan, const struct plan_guest *g, FILE *out)
{
	if (!plan_guest_distances_valid(plan, g))
		return;
	for (unsigned i = 0; i < g->ncells; i++)
		for (unsigned j = 0; j < g->ncells; j++)
			fprintf(out, "-numa dist,src=%u,dst=%u,val=%u\n", i, j,
				plan_distance(plan, g->cells[i].node, g->cells[j].node));
}

/* A mixed guest: which vcpus the backend pins one to one, and which float over the pool. */
static void
format_mixed(const struct plan_guest *g, FILE *out)
{
	_cleanup_bitmap_ hwloc_bitmap_t own = hwloc_bitmap_alloc();
	_cleanup_bitmap_ hwloc_bitmap_t pool = hwloc_bitmap_alloc();
	_cleanup_free_ char *own_list = NULL, *pool_list = NULL;

	if (!own || !pool)
		return;
	for (unsigned v = 0; v < g->vcpus; v++)
		hwloc_bitmap_or(plan_vcpu_dedicated(g, v) ? own : pool,
				plan_vcpu_dedicated(g, v) ? own : pool, g->vcpu_pus[v]);
	own_list = bitmap_list(own);
	pool_list = bitmap_list(pool);
	if (own_list && pool_list)
		fprintf(out, "# cpu policy mixed: vcpus %s dedicated, one each on PUs %s; the others float over the shared PUs %s\n",
			g->dedicated_list, own_list, pool_list);
}

static void
format_guest(const struct tmap_plan *plan, const struct plan_guest *g, FILE *out)
{
	const char *policy = qemu_policy(g->memory_mode);

	fputs("# ", out);
	put_comment_text(out, g->name);
	fputc('\n', out);
	fputs("# vcpu, emulator and iothread pinning is applied by a backend, not by options\n",
	      out);
	if (g->cpu_policy == TMAP_CPU_MIXED)
		format_mixed(g, out);
	if (g->realtime)
		fprintf(out, "# realtime vcpus %s: SCHED_FIFO priority %u, set by a backend on their threads\n",
			g->realtime_list, g->realtime_priority);
	fprintf(out, "-smp %u,sockets=%u,cores=%u,threads=%u\n", g->vcpus, g->sockets, g->cores,
		g->threads);
	fprintf(out, "-m %lluM\n", (unsigned long long)g->memory_mib);
	if (!policy)
		fputs(restrictive_note, out);
	for (unsigned c = 0; c < g->ncells; c++) {
		const struct plan_cell *cell = &g->cells[c];

		/* Hugepages through memfd: no hugetlbfs mount of the right size to name. */
		if (g->page_kib)
			fprintf(out, "-object memory-backend-memfd,id=ram-node%u,size=%lluM,hugetlb=on,hugetlbsize=%lluK",
				c, (unsigned long long)cell->memory_mib,
				(unsigned long long)g->page_kib);
		else
			fprintf(out, "-object memory-backend-ram,id=ram-node%u,size=%lluM", c,
				(unsigned long long)cell->memory_mib);
		if (policy)
			fprintf(out, ",host-nodes=%u,policy=%s", cell->node, policy);
		fputc('\n', out);
	}
	for (unsigned c = 0; c < g->ncells; c++) {
		fprintf(out, "-numa node,nodeid=%u", c);
		put_numa_cpus(out, g->cells[c].vcpus_list);
		fprintf(out, ",memdev=ram-node%u\n", c);
	}
	format_distances(plan, g, out);
	/* Named as libvirt names them, so a backend finds "iothread1" in query-iothreads
	 * whichever way the guest was started. */
	for (unsigned k = 1; k <= g->iothreads; k++)
		fprintf(out, "-object iothread,id=iothread%u\n", k);
	format_devices(g, out);
}

/*
 * Devices (issue 16): a pxb-pcie expander per guest cell that holds a device, on that guest
 * NUMA node (numa_node=K), a pcie-root-port on it per device and the device as vfio-pci
 * behind its port (a q35 guest). Bus numbers from 0x80 up, 0x10 a cell.
 */
static void
format_devices(const struct plan_guest *g, FILE *out)
{
	unsigned expanders = 0, ports = 0;

	if (!g->ndevices)
		return;
	fputs("# devices: -machine q35; each device behind a root port of its cell's expander\n", out);
	for (unsigned c = 0; c < g->ncells; c++) {
		bool expander = false;

		for (unsigned i = 0; i < g->ndevices; i++) {
			const struct plan_device *d = &g->devices[i];

			if (d->cell != c)
				continue;
			if (!expander) {
				fprintf(out, "-device pxb-pcie,id=pxb%u,bus_nr=%u,numa_node=%u,bus=pcie.0\n",
					c, 0x80 + 0x10 * expanders++, c);
				expander = true;
			}
			fprintf(out, "-device pcie-root-port,id=rp%u,bus=pxb%u,chassis=%u,slot=0\n", ports,
				c, 0x80 + ports);
			/* An id, so QOM (and topomap's qemu-direct describe) reaches it. */
			fprintf(out, "-device vfio-pci,id=hostdev%u,host=%s,bus=rp%u\n", ports, d->pci,
				ports);
			ports++;
		}
	}
}

int
format_plan_qemu(const struct tmap_plan *plan, FILE *out, struct tmap_error *err)
{
	for (size_t i = 0; i < plan->nguests; i++)
		format_guest(plan, &plan->guests[i], out);
	if (fflush(out) != 0 || ferror(out))
		return tmap_error_set(err, -EIO,
				      "cannot write the QEMU options of the plan for '%s'",
				      plan->host ? plan->host : "?");
	return 0;
}
