/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A plan as libvirt domain XML: for each guest, the <vcpu>, <iothreads>, <cputune>,
 * <numatune> and <cpu> elements of its <domain>, and the <devices> it holds, to be merged
 * into a full definition.
 *
 * What the tests hold this output to: libvirt 9.0's domain schema (virt-xml-validate), and
 * every set equal to what the plan's accessors report.
 */
#include "internal.h"

/*
 * The guest name goes into an XML comment, where entities are not expanded and "--" is
 * forbidden, yet a name such as "db--1" is valid. So '&' becomes "&amp;" (to keep the next
 * escape unambiguous), a '-' right after another '-' becomes "&#45;", and control bytes
 * (which XML 1.0 refuses anywhere) become "&#xNN;". A reader undoes it by eye; the comment
 * only labels the elements below it.
 */
static void
put_comment_text(FILE *out, const char *s)
{
	char prev = '\0';

	for (; *s; prev = *s, s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '&')
			fputs("&amp;", out);
		else if (c == '-' && prev == '-')
			fputs("&#45;", out);
		else if (c < 0x20 || c == 0x7f)
			fprintf(out, "&#x%02X;", c);
		else
			fputc(c, out);
	}
}

/* Hugepages for every guest cell: libvirt's nodeset here names guest cells, not host nodes
 * (<numatune> says which host node backs each cell). */
static void
format_memory_backing(const struct plan_guest *g, FILE *out)
{
	if (!g->page_kib)
		return;
	fputs("  <memoryBacking>\n    <hugepages>\n", out);
	fprintf(out, "      <page size='%llu' unit='KiB'", (unsigned long long)g->page_kib);
	if (g->ncells > 1)
		fprintf(out, " nodeset='0-%u'", g->ncells - 1);
	else
		fputs(" nodeset='0'", out);
	fputs("/>\n    </hugepages>\n  </memoryBacking>\n", out);
}

static void
format_cputune(const struct plan_guest *g, FILE *out)
{
	/* libvirt's schema takes <cputune> children in any order (an interleave); this is
	 * the order libvirt itself writes them in, so a dumpxml diff stays quiet. */
	fputs("  <cputune>\n", out);
	if (g->shares)
		fprintf(out, "    <shares>%llu</shares>\n", (unsigned long long)g->shares);
	if (g->period)
		fprintf(out, "    <period>%llu</period>\n", (unsigned long long)g->period);
	if (g->quota)
		fprintf(out, "    <quota>%lld</quota>\n", (long long)g->quota);
	for (unsigned i = 0; i < g->vcpus; i++)
		fprintf(out, "    <vcpupin vcpu='%u' cpuset='%s'/>\n", i, g->vcpu_lists[i]);
	fprintf(out, "    <emulatorpin cpuset='%s'/>\n", g->emulator_list);
	/* libvirt numbers iothreads from 1; they float with the emulator threads, or with the
	 * vcpus when the emulator is on the host's housekeeping PUs (share-host). */
	for (unsigned k = 1; k <= g->iothreads; k++)
		fprintf(out, "    <iothreadpin iothread='%u' cpuset='%s'/>\n", k, g->iothread_list);
	if (g->realtime)
		fprintf(out, "    <vcpusched vcpus='%s' scheduler='fifo' priority='%u'/>\n",
			g->realtime_list, g->realtime_priority);
	fputs("  </cputune>\n", out);
}

static void
format_numatune(const struct plan_guest *g, FILE *out)
{
	/*
	 * The same mode on <memory> and on every <memnode>. libvirt 9.0's schema takes all four
	 * modes in both places, and later libvirt (virDomainNumaDefValidate) refuses
	 * 'restrictive' on one but not the other. Under 'restrictive', libvirt gives QEMU's
	 * memory backends no policy and lets the cgroup's cpuset.mems confine the memory (as
	 * the QEMU format does). A 'preferred' <memory> over several nodes needs
	 * MPOL_PREFERRED_MANY (Linux 5.15, a libnuma that has it); libvirt without it refuses to
	 * start the guest, while the per-cell <memnode>s always name one node.
	 */
	const char *mode = memory_mode_name(g->memory_mode);

	fputs("  <numatune>\n", out);
	fprintf(out, "    <memory mode='%s' nodeset='%s'/>\n", mode, g->memory_list);
	for (unsigned c = 0; c < g->ncells; c++)
		fprintf(out, "    <memnode cellid='%u' mode='%s' nodeset='%u'/>\n", c, mode,
			g->cells[c].node);
	fputs("  </numatune>\n", out);
}

/* The host's distances between the nodes under the guest's cells, so the guest weighs its
 * cells as the host weighs their nodes (when they make a valid table: plan.c). */
static void
format_cell_distances(const struct tmap_plan *plan, const struct plan_guest *g, unsigned c,
		      FILE *out)
{
	fputs(">\n        <distances>\n", out);
	for (unsigned j = 0; j < g->ncells; j++)
		fprintf(out, "          <sibling id='%u' value='%u'/>\n", j,
			plan_distance(plan, g->cells[c].node, g->cells[j].node));
	fputs("        </distances>\n      </cell>\n", out);
}

static void
format_cpu(const struct tmap_plan *plan, const struct plan_guest *g, FILE *out)
{
	bool distances = plan_guest_distances_valid(plan, g);

	fputs("  <cpu>\n", out);
	fprintf(out, "    <topology sockets='%u' dies='1' cores='%u' threads='%u'/>\n", g->sockets,
		g->cores, g->threads);
	fputs("    <numa>\n", out);
	for (unsigned c = 0; c < g->ncells; c++) {
		const struct plan_cell *cell = &g->cells[c];

		/* A memory-only cell has no cpus attribute: "" fails the cpuset pattern. */
		fprintf(out, "      <cell id='%u'", c);
		if (*cell->vcpus_list)
			fprintf(out, " cpus='%s'", cell->vcpus_list);
		fprintf(out, " memory='%llu' unit='MiB'", (unsigned long long)cell->memory_mib);
		if (distances)
			format_cell_distances(plan, g, c, out);
		else
			fputs("/>\n", out);
	}
	fputs("    </numa>\n", out);
	fputs("  </cpu>\n", out);
}

/*
 * Devices (issue 16): one pcie-expander-bus per guest cell that holds a device, bound to that
 * cell (<target><node>), a pcie-root-port on it per device, and the device as a managed PCI
 * <hostdev> behind its port, so the guest sees each device on the NUMA node of its cell. A
 * q35 guest; controller indexes from 0x80 up, clear of the ones a definition has already.
 */
#define DEVICE_INDEX_BASE 0x80

static void
put_pci_address(FILE *out, const char *indent, const char *type, unsigned bus, unsigned slot)
{
	fprintf(out, "%s<address%s%s domain='0x0000' bus='0x%02x' slot='0x%02x' function='0x0'/>\n",
		indent, type ? " type=" : "", type ? type : "", bus, slot);
}

static void
format_devices(const struct plan_guest *g, FILE *out)
{
	unsigned index = DEVICE_INDEX_BASE;

	if (!g->ndevices)
		return;
	fputs("  <devices>\n", out);
	for (unsigned c = 0; c < g->ncells; c++) {
		unsigned expander = 0, slot = 0;

		for (unsigned i = 0; i < g->ndevices; i++) {
			const struct plan_device *d = &g->devices[i];
			unsigned domain, bus, dev, fn;

			if (d->cell != c || sscanf(d->pci, "%x:%x:%x.%x", &domain, &bus, &dev, &fn) != 4)
				continue;
			if (!expander) {
				expander = index++;
				fprintf(out, "    <controller type='pci' index='%u' model='pcie-expander-bus'>\n"
					"      <target>\n        <node>%u</node>\n      </target>\n"
					"    </controller>\n", expander, c);
			}
			fprintf(out, "    <controller type='pci' index='%u' model='pcie-root-port'>\n", index);
			put_pci_address(out, "      ", "'pci'", expander, slot++);
			fputs("    </controller>\n", out);
			fprintf(out, "    <hostdev mode='subsystem' type='pci' managed='yes'>\n      <source>\n"
				"        <address domain='0x%04x' bus='0x%02x' slot='0x%02x' function='0x%x'/>\n"
				"      </source>\n", domain, bus, dev, fn);
			put_pci_address(out, "      ", "'pci'", index++, 0);
			fputs("    </hostdev>\n", out);
		}
	}
	fputs("  </devices>\n", out);
}

int
format_plan_libvirt(const struct tmap_plan *plan, FILE *out, struct tmap_error *err)
{
	for (size_t i = 0; i < plan->nguests; i++) {
		const struct plan_guest *g = &plan->guests[i];

		fputs("<!-- topomap plan for guest '", out);
		put_comment_text(out, g->name);
		fputs("' -->\n", out);
		fprintf(out, "  <vcpu placement='static'>%u</vcpu>\n", g->vcpus);
		if (g->iothreads > 0)
			fprintf(out, "  <iothreads>%u</iothreads>\n", g->iothreads);
		format_memory_backing(g, out);
		format_cputune(g, out);
		format_numatune(g, out);
		format_cpu(plan, g, out);
		format_devices(g, out);
	}
	if (fflush(out) != 0 || ferror(out))
		return tmap_error_set(err, -EIO,
				      "cannot write the libvirt XML of the plan for '%s'",
				      plan->host ? plan->host : "?");
	return 0;
}
