/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the host holds, for `topomap state`: tmap_host_format() prints the ledger (host.c)
 * through its accessors, as a table or as JSON. It reads the host and changes nothing.
 */
#include "solver.h"

struct node_usage {
	hwloc_bitmap_t free, dedicated, pool, reserved;
};

static int
node_usage(const struct solver *s, unsigned n, struct node_usage *u)
{
	const struct topo_node *node = &s->t->nodes[n];

	u->free = hwloc_bitmap_dup(node->cpuset);
	u->dedicated = hwloc_bitmap_dup(node->cpuset);
	u->pool = hwloc_bitmap_dup(node->cpuset);
	u->reserved = hwloc_bitmap_dup(node->cpuset);
	if (!u->free || !u->dedicated || !u->pool || !u->reserved)
		return -ENOMEM;
	/* Without a given pool, a node's shared guests float over its free PUs. */
	if (s->fixed_pool)
		hwloc_bitmap_and(u->pool, u->pool, s->pool);
	else if (s->shared_vcpus[n] && hwloc_bitmap_and(u->pool, u->pool, s->usable) == 0)
		hwloc_bitmap_andnot(u->pool, u->pool, s->taken);
	else
		hwloc_bitmap_zero(u->pool);
	hwloc_bitmap_and(u->dedicated, u->dedicated, s->taken);
	hwloc_bitmap_andnot(u->dedicated, u->dedicated, s->pool);
	hwloc_bitmap_and(u->free, u->free, s->usable);
	hwloc_bitmap_andnot(u->free, u->free, s->taken);
	hwloc_bitmap_andnot(u->reserved, u->reserved, s->usable);
	hwloc_bitmap_andnot(u->reserved, u->reserved, s->pool);
	return 0;
}

static void
node_usage_clear(struct node_usage *u)
{
	hwloc_bitmap_t *all[] = {&u->free, &u->dedicated, &u->pool, &u->reserved};

	for (size_t i = 0; i < ARRAY_SIZE(all); i++)
		if (*all[i])
			hwloc_bitmap_free(*all[i]);
}

/* The sets of a node's usage in list syntax. */
struct node_lists {
	char *free, *dedicated, *pool, *reserved;
};

static void
node_lists_clear(struct node_lists *l)
{
	free(l->free);
	free(l->dedicated);
	free(l->pool);
	free(l->reserved);
}

static int
node_lists(const struct solver *s, unsigned n, struct node_lists *l)
{
	struct node_usage u = {0};
	int r = node_usage(s, n, &u);

	if (r == 0 && (!(l->free = bitmap_list(u.free)) ||
		       !(l->dedicated = bitmap_list(u.dedicated)) ||
		       !(l->pool = bitmap_list(u.pool)) || !(l->reserved = bitmap_list(u.reserved))))
		r = -ENOMEM;
	node_usage_clear(&u);
	return r;
}

static void
node_json(const struct solver *s, unsigned n, const struct node_lists *l, FILE *out)
{
	const struct tmap_topology *t = s->t;

	fprintf(out, "%s{\"id\":%u,\"cpus\":\"%s\",\"free\":\"%s\",\"dedicated\":\"%s\","
		"\"reserved\":\"%s\",\"shared_pool\":\"%s\",\"shared_vcpus\":%u,"
		"\"memory_mib\":%" PRIu64 ",\"memory_free_mib\":%" PRId64,
		n ? "," : "", t->nodes[n].os_index, t->nodes[n].cpus_list, l->free, l->dedicated,
		l->reserved, l->pool, s->shared_vcpus[n], t->nodes[n].memory_mib, s->mem_free[n]);
	if (t->npage_sizes)
		fputs(",\"hugepages\":[", out);
	for (unsigned k = 0; k < t->npage_sizes; k++)
		fprintf(out, "%s{\"size_kib\":%" PRIu64 ",\"total\":%" PRIu64 ",\"free\":%" PRId64 "}",
			k ? "," : "", t->page_kib[k], t->nodes[n].huge_pages[k],
			node_free_pages(s, n, k));
	fputs(t->npage_sizes ? "]}" : "}", out);
}

static void
node_table(const struct solver *s, unsigned n, const struct node_lists *l, FILE *out)
{
	const struct tmap_topology *t = s->t;
	char pool[64];

	snprintf(pool, sizeof(pool), "%s (%u)", *l->pool ? l->pool : "-", s->shared_vcpus[n]);
	fprintf(out, "%-5u %-14s %-14s %-14s %-20s %" PRId64 "/%" PRIu64 "\n",
		t->nodes[n].os_index, *l->free ? l->free : "-", *l->dedicated ? l->dedicated : "-",
		*l->reserved ? l->reserved : "-", pool, s->mem_free[n], t->nodes[n].memory_mib);
	if (t->npage_sizes)
		fputs("      hugepages free/total:", out);
	for (unsigned k = 0; k < t->npage_sizes; k++) {
		char size[32];

		fprintf(out, "%s %s %" PRId64 "/%" PRIu64, k ? "," : "",
			page_size_text(t->page_kib[k], size, sizeof(size)), node_free_pages(s, n, k),
			t->nodes[n].huge_pages[k]);
	}
	if (t->npage_sizes)
		fputc('\n', out);
}

/* The i-th placed guest: the PUs it holds, its memory per node, its devices (table only). */
static int
guest_line(const struct tmap_host *h, size_t i, bool json, FILE *out)
{
	const struct tmap_topology *t = host_topology(h);
	const struct plan_guest *pg = host_guest_plan_at(h, i);
	int page;
	const uint64_t *mem = host_guest_memory(h, i, &page);
	_cleanup_free_ char *held = bitmap_list(pg->held);
	char size[32] = "";

	if (!held)
		return -ENOMEM;
	if (page >= 0)
		page_size_text(t->page_kib[page], size, sizeof(size));
	if (json && page >= 0)
		fprintf(out, "%s{\"name\":\"%s\",\"held\":\"%s\",\"hugepage_kib\":%" PRIu64 ",\"memory_mib\":{",
			i ? "," : "", pg->name, held, t->page_kib[page]);
	else if (json)
		fprintf(out, "%s{\"name\":\"%s\",\"held\":\"%s\",\"memory_mib\":{", i ? "," : "",
			pg->name, held);
	else
		fprintf(out, "  %-20s PUs %s%s, memory%s%s%s", pg->name,
			*held ? held : "(shared pool)",
			pg->cpu_policy == TMAP_CPU_MIXED ? " and the shared pool" : "",
			*size ? " in " : "", size, *size ? " pages," : "");
	for (unsigned n = 0, k = 0; n < t->nnodes; n++) {
		if (!mem[n])
			continue;
		if (json)
			fprintf(out, "%s\"%u\":%" PRIu64, k++ ? "," : "", t->nodes[n].os_index, mem[n]);
		else
			fprintf(out, " %" PRIu64 " MiB on node %u", mem[n], t->nodes[n].os_index);
	}
	/* The devices it holds (issue 16), in the table only: the JSON keeps its keys. */
	for (unsigned d = 0; !json && d < pg->ndevices; d++)
		fprintf(out, "%s%s%s%s", d ? ", " : ", devices ", pg->devices[d].names,
			*pg->devices[d].names ? " " : "", pg->devices[d].pci);
	fputs(json ? "}}" : "\n", out);
	return 0;
}

static int
host_format(const struct tmap_host *h, enum tmap_format format, unsigned flags, FILE *out)
{
	const struct solver *s = host_solver_view(h);
	const struct tmap_topology *t = s->t;
	struct table_style st = table_style(flags);
	bool json = format == TMAP_FORMAT_JSON;
	size_t nguests = tmap_host_guest_count(h);

	if (json)
		fprintf(out, "{\"host\":\"%s\",\"cpu_overcommit\":%g,\"nodes\":[", t->source,
			s->cpu_ratio);
	else
		fprintf(out, "%shost:%s %s\n%s%-5s %-14s %-14s %-14s %-20s %s%s\n", st.head, st.end,
			t->source, st.head, "node", "free PUs", "dedicated", "reserved",
			"shared pool (vcpus)", "memory free/total MiB", st.end);
	for (unsigned n = 0; n < t->nnodes; n++) {
		struct node_lists l = {0};
		int r = node_lists(s, n, &l);

		if (r == 0 && json)
			node_json(s, n, &l, out);
		else if (r == 0)
			node_table(s, n, &l, out);
		node_lists_clear(&l);
		if (r < 0)
			return r;
	}
	if (json)
		fputs("],\"guests\":[", out);
	else
		fprintf(out, "%sguests:%s %zu\n", st.head, st.end, nguests);
	for (size_t i = 0; i < nguests; i++) {
		int r = guest_line(h, i, json, out);

		if (r < 0)
			return r;
	}
	if (json)
		fputs("]}\n", out);
	return 0;
}

int
tmap_host_format(const struct tmap_host *h, enum tmap_format format, unsigned flags, char **ret,
		 struct tmap_error *err)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out;
	int r;

	if (!h || !ret)
		return tmap_error_set(err, -EINVAL, "tmap_host_format: missing argument");
	if ((flags & ~TMAP_FORMAT_COLOUR) ||
	    (format != TMAP_FORMAT_TABLE && format != TMAP_FORMAT_JSON))
		return tmap_error_set(err, -EINVAL, "a host is printed as table or json");
	out = open_memstream(&buf, &len);
	if (!out)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	r = host_format(h, format, flags, out);
	if (fclose(out) != 0 && r == 0)
		r = -ENOMEM;
	if (r < 0) {
		free(buf);
		return tmap_error_set(err, r, "out of memory");
	}
	*ret = buf;
	return 0;
}
