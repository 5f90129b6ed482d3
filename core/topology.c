/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The host model: NUMA nodes, packages, L3 groups, cores and their usable SMT sibling PUs,
 * and the node distance matrix, read once from hwloc into plain arrays the solver walks.
 *
 * Nothing here assumes that siblings or nodes are numbered contiguously: every PU and node
 * is kept by its OS index, and cores list their own PUs.
 */
#include <sys/stat.h>
#include <sys/wait.h>
#include <signal.h>

#include "internal.h"

static void
node_clear(struct topo_node *n)
{
	free(n->cores);
	free(n->huge_pages);
	free(n->cpus_list);
	if (n->cpuset)
		hwloc_bitmap_free(n->cpuset);
}

struct tmap_topology *
tmap_topology_free(struct tmap_topology *t)
{
	if (!t)
		return NULL;
	for (unsigned i = 0; i < t->nnodes; i++)
		node_clear(&t->nodes[i]);
	free(t->nodes);
	for (unsigned i = 0; i < t->ncores; i++)
		free(t->cores[i].pus);
	free(t->cores);
	free(t->pu_core);
	free(t->distances);
	free(t->page_kib);
	free(t->xml_pages);
	devices_free(t);
	if (t->cpuset)
		hwloc_bitmap_free(t->cpuset);
	if (t->hw)
		hwloc_topology_destroy(t->hw);
	for (size_t i = 0; i < t->nwarnings; i++)
		free(t->warnings[i]);
	free(t->warnings);
	free(t->source);
	free(t);
	return NULL;
}

static void
tmap_topology_freep(struct tmap_topology **t)
{
	tmap_topology_free(*t);
}

static int
cmp_node_os(const void *a, const void *b)
{
	const struct topo_node *x = a, *y = b;

	return (x->os_index > y->os_index) - (x->os_index < y->os_index);
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && streq(s + a - b, suffix);
}

/* Keep a warning (malloc()ed, taken over) for tmap_topology_warning(). */
static int
add_warning(struct tmap_topology *t, char *warning)
{
	char **w;

	if (!warning)
		return -ENOMEM;
	w = reallocarray(t->warnings, t->nwarnings + 1, sizeof(*w));
	if (!w) {
		free(warning);
		return -ENOMEM;
	}
	t->warnings = w;
	t->warnings[t->nwarnings++] = warning;
	return 0;
}

/*
 * TMAP_TOPOLOGY_XML_PROBE: hwloc first reads the (checked) XML in a short-lived child process,
 * and a document that kills hwloc there is refused here. topology_xml_check() refuses what
 * is known to crash hwloc 2.9; the probe is for what is not known yet, at the cost of a fork
 * that an embedding program (threads, SIGCHLD) may not want: it asks for it.
 */
static bool
xml_crashes_hwloc(const char *xml, const char *origin, struct tmap_error *err)
{
	int status = 0;
	pid_t pid = fork();

	if (pid < 0)
		return false; /* cannot tell: let hwloc read it here */
	if (pid == 0) {
		static const int fatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
		hwloc_topology_t probe;
		int ok;

		/* The embedding program's handlers (a test framework's, say) must not catch the
		 * crash in here: let it end the child, which is what the parent looks for. */
		for (size_t i = 0; i < ARRAY_SIZE(fatal); i++)
			signal(fatal[i], SIG_DFL);
		ok = hwloc_topology_init(&probe) == 0 &&
		     hwloc_topology_set_xmlbuffer(probe, xml, (int)strlen(xml) + 1) == 0 &&
		     hwloc_topology_load(probe) == 0;
		_exit(ok ? 0 : 1);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return false;
	if (!WIFSIGNALED(status))
		return false;
	tmap_error_set(err, -EINVAL,
		       "topology '%s': a malformed hwloc XML file (hwloc crashed reading it, signal %d)",
		       origin, WTERMSIG(status));
	return true;
}

/*
 * Hand hwloc an XML document after topology_xml_check(): refused when it would crash hwloc,
 * its objects put in PU order (what hwloc would print a banner about on stderr). `warn`:
 * keep a warning when the order was changed (not for XML topomap wrote itself).
 */
static int
set_xml_text(struct tmap_topology *t, const char *xml, size_t len, const char *origin,
	     bool warn, unsigned flags, struct tmap_error *err)
{
	_cleanup_free_ char *ordered = NULL, *warning = NULL;
	const char *use;
	int r = topology_xml_check(xml, len, origin, &ordered, &warning, err);

	if (r < 0)
		return r;
	use = ordered ? ordered : xml;
	if ((flags & TMAP_TOPOLOGY_XML_PROBE) && xml_crashes_hwloc(use, origin, err))
		return err ? err->code : -EINVAL;
	if (hwloc_topology_set_xmlbuffer(t->hw, use, (int)strlen(use) + 1) < 0)
		return tmap_error_set(err, -EINVAL, "topology '%s': not a valid hwloc XML file",
				      origin);
	/* hwloc 3.0 imports the sizes of the <page_type>s, not their counts: read them here. */
	if (!HWLOC_KEEPS_PAGE_COUNTS) {
		free(t->xml_pages);
		t->xml_pages = NULL;
		r = topology_xml_page_types(use, strlen(use), origin, &t->xml_pages, &t->nxml_pages,
					    err);
		if (r < 0)
			return r;
		t->xml_pages_read = true;
	}
	if (warn && warning && add_warning(t, TAKE_PTR(warning)) < 0)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	return 0;
}

/* The hwloc XML of a JSON host description, handed to hwloc as a buffer. */
static int
set_json_source(struct tmap_topology *t, const char *text, size_t len, const char *origin,
		struct tmap_error *err)
{
	_cleanup_free_ char *xml = NULL;
	int r = topology_xml_from_json(text, len, origin, &xml, err);

	if (r < 0)
		return r;
	r = set_xml_text(t, xml, strlen(xml), origin, false, 0, err);
	if (r == -EINVAL)
		return tmap_error_set(err, -EINVAL, "%s: hwloc refused the host it describes", origin);
	return r;
}

/* A file given as a host: it exists and is a regular file (a FIFO would block), then read. */
static int
read_host_file(const char *path, char **ret, size_t *ret_len, struct tmap_error *err)
{
	struct stat st;
	int r;

	if (stat(path, &st) < 0)
		return tmap_error_set(err, errno == ENOENT ? -ENOENT : -errno, "topology '%s': %s",
				      path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return tmap_error_set(err, -EINVAL, "topology '%s': is %s, not a regular file", path,
				      file_type_name(st.st_mode));
	r = read_file_bounded(path, TOPOLOGY_MAX_BYTES, ret, ret_len, err);
	return r < 0 ? tmap_error_prefix(err, "topology '%s': ", path) : 0;
}

/* A topology with its source named and hwloc initialised, not loaded yet. */
static int
topology_start(const char *source, struct tmap_topology **ret, struct tmap_error *err)
{
	struct tmap_topology *t = calloc(1, sizeof(*t));

	if (!t || !(t->source = strdup(source))) {
		free(t);
		return tmap_error_set(err, -ENOMEM, "out of memory");
	}
	if (hwloc_topology_init(&t->hw) < 0) {
		tmap_topology_free(t);
		return tmap_error_set(err, -ENOMEM, "cannot initialise hwloc: %s", strerror(errno));
	}
	/* PCI devices that matter for placement (network, storage, GPUs), with their OS
	 * devices; a host file or the live host has them, a synthetic one none. */
	if (hwloc_topology_set_io_types_filter(t->hw, HWLOC_TYPE_FILTER_KEEP_IMPORTANT) < 0) {
		tmap_topology_free(t);
		return tmap_error_set(err, -EINVAL, "cannot set up hwloc: %s", strerror(errno));
	}
	*ret = t;
	return 0;
}

static int build_model(struct tmap_topology *t, struct tmap_error *err);

/* Load what hwloc was set up with, build the model, hand the topology over. */
static int
topology_finish(struct tmap_topology **t, struct tmap_topology **ret, struct tmap_error *err)
{
	int r;

	if (hwloc_topology_load((*t)->hw) < 0)
		return tmap_error_set(err, -EINVAL, "topology '%s': hwloc cannot load it: %s",
				      (*t)->source, strerror(errno));
	r = build_model(*t, err);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(*t);
	return 0;
}

/*
 * Is this page type of a NUMA node a hugepage pool? hwloc lists the base page too (4 KiB on
 * x86, 64 KiB at most anywhere), as the smallest size; a list without it (an XML file
 * written by hand) has only pools.
 */
static bool
is_hugepage_type(const struct topo_page_type *types, unsigned n, unsigned i)
{
	uint64_t smallest = UINT64_MAX;

	if (types[i].size < 1024)
		return false;
	for (unsigned k = 0; k < n; k++)
		if (types[k].size >= 1024 && types[k].size < smallest)
			smallest = types[k].size;
	return !(types[i].size == smallest && smallest <= 64 * 1024);
}

/* The hugepage sizes of the whole host, ascending, so that every node counts its pools in
 * the same order. */
static int
build_page_sizes(struct tmap_topology *t)
{
	hwloc_obj_t obj = NULL;

	while ((obj = hwloc_get_next_obj_by_type(t->hw, HWLOC_OBJ_NUMANODE, obj))) {
		_cleanup_free_ struct topo_page_type *types = NULL;
		unsigned n = 0;

		if (node_page_types(t, obj, &types, &n) < 0)
			return -ENOMEM;
		for (unsigned i = 0; i < n; i++) {
			uint64_t kib = types[i].size >> 10;
			unsigned k = 0;
			uint64_t *v;

			if (!is_hugepage_type(types, n, i) || topo_page_index(t, kib) >= 0)
				continue;
			v = realloc(t->page_kib, (t->npage_sizes + 1) * sizeof(*v));
			if (!v)
				return -ENOMEM;
			t->page_kib = v;
			while (k < t->npage_sizes && v[k] < kib)
				k++;
			memmove(v + k + 1, v + k, (t->npage_sizes - k) * sizeof(*v));
			v[k] = kib;
			t->npage_sizes++;
		}
	}
	return 0;
}

/* A node's pools; what they hold is not normal memory any more. hwloc's local_memory is the
 * node's MemTotal, which includes the pools (hwloc 2.9 on Linux: page_types[0] counts what
 * is left as normal pages). */
static int
node_hugepages(struct tmap_topology *t, hwloc_obj_t obj, struct topo_node *node)
{
	_cleanup_free_ struct topo_page_type *types = NULL;
	uint64_t huge = 0, local = obj->attr->numanode.local_memory;
	unsigned n = 0;

	node->huge_pages = calloc(t->npage_sizes ? t->npage_sizes : 1, sizeof(uint64_t));
	if (!node->huge_pages || node_page_types(t, obj, &types, &n) < 0)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		int k;

		if (!is_hugepage_type(types, n, i))
			continue;
		k = topo_page_index(t, types[i].size >> 10);
		node->huge_pages[k] += types[i].count;
		huge += types[i].count * types[i].size;
	}
	node->memory_mib = (local > huge ? local - huge : 0) >> 20;
	return 0;
}

static int
build_nodes(struct tmap_topology *t)
{
	int n = hwloc_get_nbobjs_by_type(t->hw, HWLOC_OBJ_NUMANODE);

	if (n <= 0)
		return -EINVAL;
	t->nodes = calloc((size_t)n, sizeof(*t->nodes));
	if (!t->nodes)
		return -ENOMEM;
	t->nnodes = (unsigned)n;
	if (build_page_sizes(t) < 0)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		hwloc_obj_t obj = hwloc_get_obj_by_type(t->hw, HWLOC_OBJ_NUMANODE, (unsigned)i);
		hwloc_obj_t pkg = hwloc_get_ancestor_obj_by_type(t->hw, HWLOC_OBJ_PACKAGE, obj);
		struct topo_node *node = &t->nodes[i];

		node->os_index = obj->os_index;
		if (node_hugepages(t, obj, node) < 0)
			return -ENOMEM;
		node->package = pkg ? (int)pkg->logical_index : -1;
		node->cpuset = hwloc_bitmap_alloc();
		if (!node->cpuset)
			return -ENOMEM;
		if (obj->cpuset)
			hwloc_bitmap_and(node->cpuset, obj->cpuset, t->cpuset);
	}
	qsort(t->nodes, t->nnodes, sizeof(*t->nodes), cmp_node_os);

	/* hwloc gives a node the cpuset of the object it is attached to: locality, not
	 * ownership. A memory-only node (CXL, PMEM, HBM) attached to a whole package or machine
	 * thus "has" every PU there. A PU belongs to the most specific node holding it (smallest
	 * cpuset, then lowest OS index); the others lose it, and may end up without CPUs. */
	{
		_cleanup_bitmap_ hwloc_bitmap_t claimed = hwloc_bitmap_alloc();
		_cleanup_free_ unsigned *order = calloc(t->nnodes, sizeof(unsigned));

		if (!claimed || !order)
			return -ENOMEM;
		for (unsigned i = 0; i < t->nnodes; i++)
			order[i] = i;
		for (unsigned i = 1; i < t->nnodes; i++)
			for (unsigned j = i; j > 0; j--) {
				int wa = hwloc_bitmap_weight(t->nodes[order[j]].cpuset);
				int wb = hwloc_bitmap_weight(t->nodes[order[j - 1]].cpuset);
				unsigned tmp;

				if (wa >= wb)
					break;
				tmp = order[j];
				order[j] = order[j - 1];
				order[j - 1] = tmp;
			}
		for (unsigned i = 0; i < t->nnodes; i++) {
			struct topo_node *node = &t->nodes[order[i]];

			hwloc_bitmap_andnot(node->cpuset, node->cpuset, claimed);
			hwloc_bitmap_or(claimed, claimed, node->cpuset);
		}
	}
	for (unsigned i = 0; i < t->nnodes; i++) {
		struct topo_node *node = &t->nodes[i];

		node->cpus_list = bitmap_list(node->cpuset);
		if (!node->cpus_list)
			return -ENOMEM;
		node->npus = (unsigned)hwloc_bitmap_weight(node->cpuset);
		node->cpuless = node->npus == 0;
	}
	return 0;
}

/* The core object holding a PU, or the PU itself on hosts that report no cores. */
static hwloc_obj_t
core_of(hwloc_topology_t hw, hwloc_obj_t pu)
{
	hwloc_obj_t core = hwloc_get_ancestor_obj_by_type(hw, HWLOC_OBJ_CORE, pu);

	return core ? core : pu;
}

static int
build_cores(struct tmap_topology *t)
{
	int npu = hwloc_get_nbobjs_by_type(t->hw, HWLOC_OBJ_PU);
	int last = hwloc_bitmap_last(t->cpuset);

	if (npu <= 0 || last < 0)
		return -EINVAL;
	t->pu_limit = (unsigned)last + 1;
	t->pu_core = malloc(t->pu_limit * sizeof(*t->pu_core));
	t->cores = calloc((size_t)npu, sizeof(*t->cores));
	if (!t->pu_core || !t->cores)
		return -ENOMEM;
	for (unsigned i = 0; i < t->pu_limit; i++)
		t->pu_core[i] = -1;

	/* Cores grouped by node (nodes in OS order), hwloc's order within a node. */
	for (unsigned ni = 0; ni < t->nnodes; ni++) {
		struct topo_node *node = &t->nodes[ni];

		for (int p = 0; p < npu; p++) {
			hwloc_obj_t pu = hwloc_get_obj_by_type(t->hw, HWLOC_OBJ_PU, (unsigned)p);
			hwloc_obj_t core, pkg, l3;
			struct topo_core *c;
			unsigned pu_os;

			if (!hwloc_bitmap_isset(node->cpuset, pu->os_index))
				continue;
			if (t->pu_core[pu->os_index] >= 0)
				continue;
			/* First usable PU of a core not seen yet: take the whole core. */
			core = core_of(t->hw, pu);
			c = &t->cores[t->ncores];
			c->node = (int)ni;
			pkg = hwloc_get_ancestor_obj_by_type(t->hw, HWLOC_OBJ_PACKAGE, pu);
			l3 = hwloc_get_ancestor_obj_by_type(t->hw, HWLOC_OBJ_L3CACHE, pu);
			c->package = pkg ? (int)pkg->logical_index : -1;
			c->l3 = l3 ? (int)l3->logical_index : -1;
			c->pus = calloc((size_t)hwloc_bitmap_weight(core->cpuset), sizeof(*c->pus));
			if (!c->pus)
				return -ENOMEM;
			hwloc_bitmap_foreach_begin(pu_os, core->cpuset)
			{
				if (pu_os < t->pu_limit && hwloc_bitmap_isset(node->cpuset, pu_os) &&
				    t->pu_core[pu_os] < 0) {
					c->pus[c->npus++] = pu_os;
					t->pu_core[pu_os] = (int)t->ncores;
				}
			}
			hwloc_bitmap_foreach_end();
			if (c->npus > t->max_threads)
				t->max_threads = c->npus;
			t->ncores++;
		}
	}

	for (unsigned ni = 0; ni < t->nnodes; ni++) {
		struct topo_node *node = &t->nodes[ni];

		node->cores = calloc(t->ncores ? t->ncores : 1, sizeof(*node->cores));
		if (!node->cores)
			return -ENOMEM;
		for (unsigned c = 0; c < t->ncores; c++)
			if (t->cores[c].node == (int)ni)
				node->cores[node->ncores++] = c;
	}
	t->npackages = (unsigned)hwloc_get_nbobjs_by_type(t->hw, HWLOC_OBJ_PACKAGE);
	t->nl3 = (unsigned)hwloc_get_nbobjs_by_type(t->hw, HWLOC_OBJ_L3CACHE);
	return 0;
}

/* Take the NUMA latency matrix when hwloc has one covering every node; a partial matrix is
 * worse than none, because it would make unlisted nodes look either near or far. */
static int
build_distances(struct tmap_topology *t)
{
	struct hwloc_distances_s *d = NULL;
	unsigned nr = 1;
	int r = 0;

	if (hwloc_distances_get_by_name(t->hw, "NUMALatency", &nr, &d, 0) < 0 || nr == 0) {
		nr = 1;
		if (hwloc_distances_get_by_type(t->hw, HWLOC_OBJ_NUMANODE, &nr, &d,
						DISTANCES_KIND_LATENCY, 0) < 0 ||
		    nr == 0)
			return 0;
	}
	if (d->nbobjs != t->nnodes)
		goto out;
	t->distances = calloc((size_t)t->nnodes * t->nnodes, sizeof(*t->distances));
	if (!t->distances) {
		r = -ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < d->nbobjs; i++) {
		int a = topo_node_index(t, d->objs[i]->os_index);

		for (unsigned j = 0; j < d->nbobjs; j++) {
			int b = topo_node_index(t, d->objs[j]->os_index);

			if (a < 0 || b < 0 || d->values[i * d->nbobjs + j] > 100000) {
				free(t->distances);
				t->distances = NULL;
				goto out;
			}
			t->distances[a * t->nnodes + b] = (unsigned)d->values[i * d->nbobjs + j];
		}
	}
out:
	hwloc_distances_release(t->hw, d);
	return r;
}

/* The calling process's cpuset (or memory nodes) narrower than the machine: said, not used. */
static int
live_warnings(struct tmap_topology *t)
{
	hwloc_const_bitmap_t sets[][2] = {
		{hwloc_topology_get_allowed_cpuset(t->hw), hwloc_topology_get_topology_cpuset(t->hw)},
		{hwloc_topology_get_allowed_nodeset(t->hw), hwloc_topology_get_topology_nodeset(t->hw)},
	};
	static const char *const what[] = {"PUs", "memory nodes"};

	for (size_t i = 0; i < ARRAY_SIZE(sets); i++) {
		_cleanup_free_ char *mine = NULL, *all = NULL;
		char *w = NULL;

		if (hwloc_bitmap_isincluded(sets[i][1], sets[i][0]))
			continue;
		mine = bitmap_list(sets[i][0]);
		all = bitmap_list(sets[i][1]);
		if (!mine || !all ||
		    asprintf(&w, "live: this process may use %s %s only (its cpuset); the host is described with all of them, %s",
			     what[i], mine[0] ? mine : "(none)", all) < 0 ||
		    add_warning(t, w) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* After hwloc is set up (and loaded): the model the solver walks. */
static int
build_model(struct tmap_topology *t, struct tmap_error *err)
{
	const char *source = t->source;
	int r;

	/* Live: every online PU (hwloc was asked for the disallowed ones too). A file or a
	 * backend: the PUs it says are allowed, as the host it describes had them. */
	t->cpuset = hwloc_bitmap_dup(hwloc_topology_get_topology_cpuset(t->hw));
	if (!t->cpuset)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	if (!t->live)
		hwloc_bitmap_and(t->cpuset, t->cpuset, hwloc_topology_get_allowed_cpuset(t->hw));
	else if (live_warnings(t) < 0)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	if (hwloc_bitmap_iszero(t->cpuset))
		return tmap_error_set(err, -EINVAL, "topology '%s': no usable PU", source);
	r = build_nodes(t);
	if (r == -EINVAL)
		return tmap_error_set(err, r, "topology '%s': no NUMA node", source);
	if (r == 0)
		r = build_cores(t);
	if (r == 0)
		r = build_distances(t);
	if (r == 0)
		r = devices_build(t);
	if (r < 0)
		return tmap_error_set(err, r, "topology '%s': %s", source, strerror(-r));
	return 0;
}

#define CHECK_ARGS(fn, arg, allowed)                                                          \
	do {                                                                                  \
		if (flags & ~(unsigned)(allowed))                                             \
			return tmap_error_set(err, -EINVAL, fn ": unknown flags 0x%x",       \
					      flags & ~(unsigned)(allowed));                  \
		if (!(arg) || !ret)                                                           \
			return tmap_error_set(err, -EINVAL, fn ": missing argument");        \
	} while (0)

int
tmap_topology_new_live(unsigned flags, struct tmap_topology **ret, struct tmap_error *err)
{
	_cleanup_(tmap_topology_freep) struct tmap_topology *t = NULL;
	int r;

	CHECK_ARGS("tmap_topology_new_live", ret, 0);
	r = topology_start("live", &t, err);
	if (r < 0)
		return r;
	/* The machine's online PUs and nodes, whatever cpuset the caller runs in: the host's
	 * identity must not change with the caller's confinement. build_model() reports a
	 * narrower cpuset as a warning. */
	t->live = true;
	if (hwloc_topology_set_flags(t->hw, HWLOC_TOPOLOGY_FLAG_INCLUDE_DISALLOWED) < 0)
		return tmap_error_set(err, -errno, "cannot set up hwloc: %s", strerror(errno));
	return topology_finish(&t, ret, err);
}

int
tmap_topology_new_synthetic(const char *description, unsigned flags, struct tmap_topology **ret,
			    struct tmap_error *err)
{
	_cleanup_(tmap_topology_freep) struct tmap_topology *t = NULL;
	_cleanup_free_ char *source = NULL;
	int r;

	CHECK_ARGS("tmap_topology_new_synthetic", description, 0);
	if (asprintf(&source, "synthetic:%s", description) < 0)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	r = topology_start(source, &t, err);
	if (r < 0)
		return r;
	if (hwloc_topology_set_synthetic(t->hw, description) < 0)
		return tmap_error_set(err, -EINVAL,
				      "topology '%s': not a valid hwloc synthetic description",
				      source);
	/* Plans would fit guests to memory nobody gave: say so once, wherever the host shows. */
	if (!strstr(description, "memory=")) {
		t->memory_assumed = true;
		if (add_warning(t, strdup(TOPO_MEMORY_ASSUMED)) < 0)
			return tmap_error_set(err, -ENOMEM, "out of memory");
	}
	return topology_finish(&t, ret, err);
}

int
tmap_topology_new_xml(const char *path, unsigned flags, struct tmap_topology **ret,
		      struct tmap_error *err)
{
	_cleanup_(tmap_topology_freep) struct tmap_topology *t = NULL;
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r;

	CHECK_ARGS("tmap_topology_new_xml", path, TMAP_TOPOLOGY_XML_PROBE);
	r = read_host_file(path, &text, &len, err);
	if (r < 0)
		return r;
	r = topology_start(path, &t, err);
	if (r < 0)
		return r;
	r = set_xml_text(t, text, len, path, true, flags, err);
	if (r < 0)
		return r;
	return topology_finish(&t, ret, err);
}

int
tmap_topology_new_json(const char *path, unsigned flags, struct tmap_topology **ret,
		       struct tmap_error *err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r;

	CHECK_ARGS("tmap_topology_new_json", path, 0);
	r = read_host_file(path, &text, &len, err);
	if (r < 0)
		return r;
	return tmap_topology_new_from_json(text, len, path, ret, err);
}

int
tmap_topology_new_backend(const char *backend, const char *arg, unsigned flags,
			  struct tmap_topology **ret, struct tmap_error *err)
{
	_cleanup_free_ char *source = NULL, *json = NULL;
	int r;

	CHECK_ARGS("tmap_topology_new_backend", backend, 0);
	if (asprintf(&source, "%s:%s", backend, arg ? arg : "") < 0)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	/* "libvirt:qemu+ssh://host/system": the backend reaches the host and says what it is in
	 * the JSON host form, checked and built like a host file. */
	r = backend_host_topology(backend, arg ? arg : "", &json, err);
	if (r < 0) {
		tmap_error_prefix(err, "topology '%s': ", source);
		return r;
	}
	if (!json)
		return tmap_error_set(err, -EINVAL, "topology '%s': backend '%s' gave no host",
				      source, backend);
	return tmap_topology_new_from_json(json, strlen(json), source, ret, err);
}

int
tmap_topology_new_from_json(const char *text, size_t len, const char *origin,
			    struct tmap_topology **ret, struct tmap_error *err)
{
	_cleanup_(tmap_topology_freep) struct tmap_topology *t = NULL;
	int r;

	if (!text || !ret)
		return tmap_error_set(err, -EINVAL, "tmap_topology_new_from_json: missing argument");
	r = topology_start(origin ? origin : "json", &t, err);
	if (r < 0)
		return r;
	r = set_json_source(t, text, len, t->source, err);
	if (r < 0)
		return r;
	if (hwloc_topology_load(t->hw) < 0)
		return tmap_error_set(err, -EINVAL, "%s: hwloc cannot load the host it describes",
				      t->source);
	r = build_model(t, err);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(t);
	return 0;
}

/* Deprecated (issue 19): the source string of 0.1, read into one of the constructors above,
 * for tmap_topology_new() and the deprecated .topology of the session options. */
int
topology_new_source(const char *source, unsigned flags, struct tmap_topology **ret,
		    struct tmap_error *err)
{
	size_t prefix = source ? strspn(source, "abcdefghijklmnopqrstuvwxyz0123456789-") : 0;
	bool live = !source || streq(source, "live");
	bool synthetic = !live && strncmp(source, "synthetic:", 10) == 0;
	bool backend = !live && !synthetic && prefix > 0 && source[prefix] == ':';
	bool json = !live && !synthetic && !backend && ends_with(source, ".json");

	if (flags & ~(unsigned)TMAP_TOPOLOGY_XML_PROBE ||
	    (flags && (live || synthetic || backend || json)))
		return tmap_error_set(err, -EINVAL, "tmap_topology_new: flags 0x%x for '%s'", flags,
				      source ? source : "live");
	if (!ret)
		return tmap_error_set(err, -EINVAL, "tmap_topology_new: no place for the result");
	if (live)
		return tmap_topology_new_live(0, ret, err);
	if (!*source)
		return tmap_error_set(err, -EINVAL,
				      "topology '': give 'live', 'synthetic:DESCRIPTION' or an hwloc XML file");
	if (synthetic)
		return tmap_topology_new_synthetic(source + 10, 0, ret, err);
	if (backend) {
		_cleanup_free_ char *name = strndup(source, prefix);

		if (!name)
			return tmap_error_set(err, -ENOMEM, "out of memory");
		return tmap_topology_new_backend(name, source + prefix + 1, 0, ret, err);
	}
	if (json)
		return tmap_topology_new_json(source, 0, ret, err);
	return tmap_topology_new_xml(source, flags, ret, err);
}

int
tmap_topology_new(const char *source, unsigned flags, struct tmap_topology **ret,
		  struct tmap_error *err)
{
	return topology_new_source(source, flags, ret, err);
}

size_t
tmap_topology_warning_count(const struct tmap_topology *t)
{
	return t ? t->nwarnings : 0;
}

const char *
tmap_topology_warning(const struct tmap_topology *t, size_t i)
{
	return t && i < t->nwarnings ? t->warnings[i] : NULL;
}

int
topo_node_index(const struct tmap_topology *t, unsigned os_index)
{
	for (unsigned i = 0; i < t->nnodes; i++)
		if (t->nodes[i].os_index == os_index)
			return (int)i;
	return -1;
}

int
topo_page_index(const struct tmap_topology *t, uint64_t page_kib)
{
	for (unsigned k = 0; k < t->npage_sizes; k++)
		if (t->page_kib[k] == page_kib)
			return (int)k;
	return -1;
}

const char *
page_size_text(uint64_t page_kib, char *buf, size_t size)
{
	if (page_kib >= (1u << 20) && page_kib % (1u << 20) == 0)
		snprintf(buf, size, "%" PRIu64 " GiB", page_kib >> 20);
	else if (page_kib >= 1024 && page_kib % 1024 == 0)
		snprintf(buf, size, "%" PRIu64 " MiB", page_kib >> 10);
	else
		snprintf(buf, size, "%" PRIu64 " KiB", page_kib);
	return buf;
}

unsigned
topo_distance(const struct tmap_topology *t, unsigned a, unsigned b)
{
	if (t->distances)
		return t->distances[a * t->nnodes + b];
	if (a == b)
		return 10;
	if (t->nodes[a].package >= 0 && t->nodes[a].package == t->nodes[b].package)
		return 20;
	return 30;
}

unsigned
tmap_topology_node_count(const struct tmap_topology *t)
{
	return t ? t->nnodes : 0;
}

int
tmap_topology_node_id(const struct tmap_topology *t, unsigned node)
{
	if (!t || node >= t->nnodes)
		return -EINVAL;
	return (int)t->nodes[node].os_index;
}

uint64_t
tmap_topology_node_memory_mib(const struct tmap_topology *t, unsigned node)
{
	if (!t || node >= t->nnodes)
		return 0;
	return t->nodes[node].memory_mib;
}

int
tmap_topology_node_hugepages(const struct tmap_topology *t, unsigned node, unsigned index,
			     uint64_t *ret_page_kib, uint64_t *ret_count)
{
	if (!t || node >= t->nnodes)
		return -EINVAL;
	if (index >= t->npage_sizes)
		return -ENOENT;
	if (ret_page_kib)
		*ret_page_kib = t->page_kib[index];
	if (ret_count)
		*ret_count = t->nodes[node].huge_pages[index];
	return 0;
}

const char *
tmap_topology_node_cpus(const struct tmap_topology *t, unsigned node)
{
	if (!t || node >= t->nnodes)
		return NULL;
	return t->nodes[node].cpus_list;
}

int
tmap_topology_distance(const struct tmap_topology *t, unsigned from, unsigned to)
{
	if (!t || from >= t->nnodes || to >= t->nnodes)
		return -EINVAL;
	return t->distances ? (int)t->distances[from * t->nnodes + to] : 0;
}
