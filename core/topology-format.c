/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The host model as `topomap topology` prints it: each node's cores (their sibling PUs by OS
 * index), memory, hugepage pools and distances, as a table or as JSON.
 */
#include "internal.h"

static void
print_core(FILE *out, const struct topo_core *c)
{
	for (unsigned k = 0; k < c->npus; k++)
		fprintf(out, "%s%u", k ? "," : "", c->pus[k]);
}

static void
format_table(const struct tmap_topology *t, unsigned flags, FILE *out)
{
	unsigned npus = (unsigned)hwloc_bitmap_weight(t->cpuset);
	struct table_style st = table_style(flags);

	fprintf(out, "%shost:%s %s\n", st.head, st.end, t->source);
	fprintf(out, "%u package%s, %u NUMA node%s, %u cores, %u PUs, up to %u thread%s per core\n",
		t->npackages, t->npackages == 1 ? "" : "s", t->nnodes, t->nnodes == 1 ? "" : "s",
		t->ncores, npus, t->max_threads, t->max_threads == 1 ? "" : "s");
	for (unsigned i = 0; i < t->nnodes; i++) {
		const struct topo_node *n = &t->nodes[i];

		fprintf(out, "%snode %u:%s ", st.head, n->os_index, st.end);
		if (n->cpuless)
			fprintf(out, "no CPUs");
		else
			fprintf(out, "cpus %s (%u)", n->cpus_list, n->npus);
		fprintf(out, ", memory %" PRIu64 " MiB", n->memory_mib);
		if (n->package >= 0)
			fprintf(out, ", package %d", n->package);
		fputc('\n', out);
		if (t->npage_sizes)
			fprintf(out, "  hugepages:");
		for (unsigned k = 0; k < t->npage_sizes; k++) {
			char size[32];

			fprintf(out, "%s %" PRIu64 " x %s", k ? "," : "", n->huge_pages[k],
				page_size_text(t->page_kib[k], size, sizeof(size)));
		}
		if (t->npage_sizes)
			fputc('\n', out);
		if (n->ncores)
			fprintf(out, "  cores (siblings):");
		for (unsigned c = 0; c < n->ncores; c++) {
			fputc(' ', out);
			print_core(out, &t->cores[n->cores[c]]);
		}
		if (n->ncores)
			fputc('\n', out);
		devices_format_table(t, (int)i, out);
	}
	devices_format_table(t, -1, out);
	if (!t->distances) {
		fprintf(out, "%snode distances:%s not reported by the host\n", st.head, st.end);
		return;
	}
	fprintf(out, "%snode distances:%s\n%snode", st.head, st.end, st.head);
	for (unsigned j = 0; j < t->nnodes; j++)
		fprintf(out, " %4u", t->nodes[j].os_index);
	fprintf(out, "%s\n", st.end);
	for (unsigned i = 0; i < t->nnodes; i++) {
		fprintf(out, "%4u", t->nodes[i].os_index);
		for (unsigned j = 0; j < t->nnodes; j++)
			fprintf(out, " %4u", t->distances[i * t->nnodes + j]);
		fputc('\n', out);
	}
}

static void
format_json(const struct tmap_topology *t, FILE *out)
{
	fprintf(out, "{\"nodes\":[");
	for (unsigned i = 0; i < t->nnodes; i++) {
		const struct topo_node *n = &t->nodes[i];

		fprintf(out, "%s{\"id\":%u,\"memory_mib\":%" PRIu64 ",\"cpus\":\"%s\",", i ? "," : "",
			n->os_index, n->memory_mib, n->cpus_list);
		if (n->package >= 0)
			fprintf(out, "\"package\":%d,", n->package);
		fprintf(out, "\"cpuless\":%s,", n->cpuless ? "true" : "false");
		if (t->npage_sizes)
			fprintf(out, "\"hugepages\":[");
		for (unsigned k = 0; k < t->npage_sizes; k++)
			fprintf(out, "%s{\"size_kib\":%" PRIu64 ",\"count\":%" PRIu64 "}", k ? "," : "",
				t->page_kib[k], n->huge_pages[k]);
		if (t->npage_sizes)
			fprintf(out, "],");
		fprintf(out, "\"cores\":[");
		for (unsigned c = 0; c < n->ncores; c++) {
			fprintf(out, "%s[", c ? "," : "");
			print_core(out, &t->cores[n->cores[c]]);
			fputc(']', out);
		}
		fprintf(out, "]}");
	}
	fprintf(out, "],");
	if (t->ndevices) {
		fprintf(out, "\"devices\":");
		devices_format_json(t, out);
		fputc(',', out);
	}
	fprintf(out, "\"distances\":");
	if (!t->distances) {
		fprintf(out, "null}\n");
		return;
	}
	fputc('[', out);
	for (unsigned i = 0; i < t->nnodes; i++) {
		fprintf(out, "%s[", i ? "," : "");
		for (unsigned j = 0; j < t->nnodes; j++)
			fprintf(out, "%s%u", j ? "," : "", t->distances[i * t->nnodes + j]);
		fputc(']', out);
	}
	fprintf(out, "]}\n");
}

int
tmap_topology_format(const struct tmap_topology *t, enum tmap_format format, unsigned flags,
		     char **ret, struct tmap_error *err)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out;

	if (!t || !ret)
		return tmap_error_set(err, -EINVAL, "tmap_topology_format: missing argument");
	if (flags & ~TMAP_FORMAT_COLOUR)
		return tmap_error_set(err, -EINVAL, "tmap_topology_format: unknown flags 0x%x",
				      flags);
	if (format != TMAP_FORMAT_TABLE && format != TMAP_FORMAT_JSON)
		return tmap_error_set(err, -EINVAL,
				      "a topology is printed as table or json, not format %d",
				      (int)format);
	out = open_memstream(&buf, &len);
	if (!out)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	if (format == TMAP_FORMAT_TABLE)
		format_table(t, flags, out);
	else
		format_json(t, out);
	if (fclose(out) != 0) {
		free(buf);
		return tmap_error_set(err, -ENOMEM, "out of memory");
	}
	*ret = buf;
	return 0;
}
