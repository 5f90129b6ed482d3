/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What one QEMU is, as its QMP socket says and /proc confirms: which thread is each vcpu and
 * iothread (every tid checked to be a thread of --pid), its memory backends and their
 * binding; and for describe, the guest it runs (topology, cells, memory, page size).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <sys/statfs.h>

#include <topomap/plugin.h>

#include "qemu-direct.h"
#include "vcpu-sched.h"

void
qemu_clear(struct qemu *q)
{
	if (q->task_fd >= 0)
		close(q->task_fd);
	q->task_fd = -1;
	if (q->pidfd >= 0)
		close(q->pidfd);
	q->pidfd = -1;
	for (unsigned i = 0; i < q->niothreads; i++)
		free(q->iothreads[i].id);
	for (size_t i = 0; i < q->nmemdevs; i++) {
		free(q->memdevs[i].id);
		free(q->memdevs[i].policy);
		free(q->memdevs[i].host_nodes);
	}
	free(q->vcpus);
	free(q->iothreads);
	free(q->memdevs);
	free(q->name);
	free(q->node_mib);
	free(q->devices);
}

/* A tid as QMP gives it: a JSON integer, a positive pid_t. 0 when it is anything else. */
static pid_t
json_tid(json_object *o)
{
	int64_t v;

	if (!o || !json_object_is_type(o, json_type_int))
		return 0;
	v = json_object_get_int64(o);
	return v > 0 && v <= INT_MAX ? (pid_t)v : 0;
}

/* An id from "props": -1 when absent, -2 when it is not a small non-negative integer. */
static int
prop_id(json_object *props, const char *key)
{
	json_object *v;
	int64_t n;

	if (!props || !json_object_object_get_ex(props, key, &v))
		return -1;
	if (!json_object_is_type(v, json_type_int))
		return -2;
	n = json_object_get_int64(v);
	return n >= 0 && n <= MAX_PROP_ID ? (int)n : -2;
}

static int
parse_vcpus(struct qemu *q, json_object *list, struct tmap_error *err)
{
	static const char *const keys[] = {"socket-id", "die-id", "core-id", "thread-id",
					   "node-id"};
	size_t n;

	if (!json_object_is_type(list, json_type_array))
		return tmap_error_set(err, -EBADMSG, "QMP 'query-cpus-fast' did not return a list");
	n = json_object_array_length(list);
	if (n == 0)
		return tmap_error_set(err, -EBADMSG, "QMP 'query-cpus-fast' reports no vcpu");
	if (n > TMAP_MAX_VCPUS)
		return tmap_error_set(err, -E2BIG, "QEMU runs %zu vcpus; topomap takes at most %u", n,
				 TMAP_MAX_VCPUS);
	q->vcpus = calloc(n, sizeof(*q->vcpus));
	if (!q->vcpus)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	q->nvcpus = (unsigned)n;
	for (size_t i = 0; i < n; i++) {
		json_object *cpu = json_object_array_get_idx(list, i), *v, *props = NULL;
		int ids[ARRAY_SIZE(keys)];
		struct vcpu *vc;
		int64_t index;
		pid_t tid;

		if (!json_object_is_type(cpu, json_type_object) ||
		    !json_object_object_get_ex(cpu, "cpu-index", &v) ||
		    !json_object_is_type(v, json_type_int))
			return tmap_error_set(err, -EBADMSG,
					 "QMP 'query-cpus-fast': entry %zu has no \"cpu-index\"",
					 i);
		index = json_object_get_int64(v);
		if (index < 0 || index >= (int64_t)n || q->vcpus[index].tid)
			return tmap_error_set(
			    err, -EBADMSG,
			    "QMP 'query-cpus-fast': entry %zu has cpu-index %lld, not one of 0 to %zu once",
			    i, (long long)index, n - 1);
		/* The top-level key only: props' "thread-id" is the SMT index (0 or 1), and taken
		 * for a tid it names PID 1 of the machine. */
		tid = json_object_object_get_ex(cpu, "thread-id", &v) ? json_tid(v) : 0;
		if (!tid)
			return tmap_error_set(
			    err, -EBADMSG,
			    "QMP 'query-cpus-fast': vcpu %lld has no top-level \"thread-id\" that is a thread id",
			    (long long)index);
		if (json_object_object_get_ex(cpu, "props", &props) &&
		    !json_object_is_type(props, json_type_object))
			props = NULL;
		for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
			ids[k] = prop_id(props, keys[k]);
			if (ids[k] == -2)
				return tmap_error_set(
				    err, -EBADMSG,
				    "QMP 'query-cpus-fast': vcpu %lld has a \"%s\" that is not a number from 0 to %d",
				    (long long)index, keys[k], MAX_PROP_ID);
		}
		vc = &q->vcpus[index];
		*vc = (struct vcpu){tid, ids[0], ids[1], ids[2], ids[3], ids[4]};
	}
	return 0;
}

static int
cmp_iothread(const void *a, const void *b)
{
	return strverscmp(((const struct iothread *)a)->id, ((const struct iothread *)b)->id);
}

static int
parse_iothreads(struct qemu *q, json_object *list, struct tmap_error *err)
{
	size_t n;

	if (!json_object_is_type(list, json_type_array))
		return tmap_error_set(err, -EBADMSG, "QMP 'query-iothreads' did not return a list");
	n = json_object_array_length(list);
	if (n > TMAP_MAX_IOTHREADS)
		return tmap_error_set(err, -E2BIG, "QEMU runs %zu iothreads; topomap takes at most %u",
				 n, TMAP_MAX_IOTHREADS);
	if (n == 0)
		return 0;
	q->iothreads = calloc(n, sizeof(*q->iothreads));
	if (!q->iothreads)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		json_object *io = json_object_array_get_idx(list, i), *id = NULL, *tid = NULL;

		if (!json_object_is_type(io, json_type_object) ||
		    !json_object_object_get_ex(io, "id", &id) ||
		    !json_object_is_type(id, json_type_string) ||
		    !json_object_object_get_ex(io, "thread-id", &tid) || !json_tid(tid))
			return tmap_error_set(
			    err, -EBADMSG,
			    "QMP 'query-iothreads': entry %zu lacks an \"id\" or a \"thread-id\"",
			    i);
		q->iothreads[i].tid = json_tid(tid);
		q->iothreads[i].id = strdup(json_object_get_string(id));
		q->niothreads++;
		if (!q->iothreads[i].id)
			return tmap_error_set(err, -ENOMEM, "out of memory");
	}
	/* QEMU lists them in no promised order; by id they are numbered the same every time. */
	qsort(q->iothreads, n, sizeof(*q->iothreads), cmp_iothread);
	return 0;
}

static int
parse_memdevs(struct qemu *q, json_object *list, struct tmap_error *err)
{
	size_t n;

	if (!json_object_is_type(list, json_type_array))
		return tmap_error_set(err, -EBADMSG, "QMP 'query-memdev' did not return a list");
	n = json_object_array_length(list);
	if (n > MAX_MEMDEVS)
		return tmap_error_set(err, -E2BIG,
				 "QEMU reports %zu memory backends; topomap takes at most %u", n,
				 MAX_MEMDEVS);
	if (n == 0)
		return 0;
	q->memdevs = calloc(n, sizeof(*q->memdevs));
	if (!q->memdevs)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		json_object *dev = json_object_array_get_idx(list, i), *id, *policy, *nodes;
		struct memdev *m = &q->memdevs[i];
		struct cpus set = {0};
		size_t k;

		q->nmemdevs++;
		if (!json_object_is_type(dev, json_type_object) ||
		    !json_object_object_get_ex(dev, "policy", &policy) ||
		    !json_object_is_type(policy, json_type_string))
			return tmap_error_set(err, -EBADMSG,
					 "QMP 'query-memdev': entry %zu has no \"policy\"", i);
		m->id = strdup(json_object_object_get_ex(dev, "id", &id) &&
				       json_object_is_type(id, json_type_string)
				   ? json_object_get_string(id)
				   : "?");
		m->policy = strdup(json_object_get_string(policy));
		if (!m->id || !m->policy || cpus_alloc(&set, MAX_PROP_ID + 1) < 0) {
			cpus_free(&set);
			return tmap_error_set(err, -ENOMEM, "out of memory");
		}
		if (json_object_object_get_ex(dev, "host-nodes", &nodes)) {
			if (!json_object_is_type(nodes, json_type_array)) {
				cpus_free(&set);
				return tmap_error_set(
				    err, -EBADMSG,
				    "QMP 'query-memdev': \"host-nodes\" of '%s' is not a list",
				    m->id);
			}
			for (k = 0; k < json_object_array_length(nodes); k++) {
				json_object *v = json_object_array_get_idx(nodes, k);
				int64_t node = json_object_get_int64(v);

				if (!json_object_is_type(v, json_type_int) || node < 0 ||
				    node > MAX_PROP_ID) {
					cpus_free(&set);
					return tmap_error_set(
					    err, -EBADMSG,
					    "QMP 'query-memdev': \"host-nodes\" of '%s' holds something that is not a node",
					    m->id);
				}
				CPU_SET_S((size_t)node, set.size, set.set);
			}
		}
		m->host_nodes = cpus_format(&set);
		cpus_free(&set);
		if (!m->host_nodes)
			return tmap_error_set(err, -ENOMEM, "out of memory");
	}
	return 0;
}

/* One QOM property of a memory backend; -EREMOTEIO when it has no such property. */
static int
backend_property(struct qmp *qmp, const char *id, const char *property, json_object **ret,
		 struct tmap_error *err)
{
	_cleanup_json_ json_object *args = json_object_new_object();
	char path[160];

	snprintf(path, sizeof(path), "/objects/%s", id);
	if (!args || json_object_object_add(args, "path", json_object_new_string(path)) < 0 ||
	    json_object_object_add(args, "property", json_object_new_string(property)) < 0)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	return qmp_execute_args(qmp, "qom-get", args, ret, err);
}

/*
 * The page size of one memory backend, from its QOM type: memory-backend-memfd with hugetlb
 * (hugetlbsize, 0 for the kernel's default), memory-backend-file on a hugetlbfs mount (the
 * mount's block size); anything else is normal pages.
 */
static int
backend_page_kib(struct qmp *qmp, struct memdev *m, struct tmap_error *err)
{
	_cleanup_json_ json_object *type = NULL, *value = NULL;
	const char *name;
	int r;

	m->page_kib = 0;
	r = backend_property(qmp, m->id, "type", &type, err);
	if (r == -EREMOTEIO) {
		/* not under /objects (a QEMU that keeps it elsewhere): normal pages, as before */
		if (err)
			*err = (struct tmap_error){0};
		return 0;
	}
	if (r < 0)
		return r;
	name = json_object_get_string(type);
	if (name && streq(name, "memory-backend-memfd")) {
		r = backend_property(qmp, m->id, "hugetlb", &value, err);
		if (r < 0 || !json_object_get_boolean(value))
			return r;
		json_object_put(value);
		value = NULL;
		r = backend_property(qmp, m->id, "hugetlbsize", &value, err);
		if (r < 0)
			return r;
		m->page_kib = (uint64_t)json_object_get_int64(value) >> 10;
		if (!m->page_kib)
			m->page_kib = meminfo_hugepage_kib();
	} else if (name && streq(name, "memory-backend-file")) {
		struct statfs fs;

		r = backend_property(qmp, m->id, "mem-path", &value, err);
		if (r < 0)
			return r;
		if (statfs(json_object_get_string(value), &fs) == 0 && fs.f_type == HUGETLBFS_MAGIC)
			m->page_kib = (uint64_t)fs.f_bsize >> 10;
	}
	return 0;
}

/* The page size of the guest's memory: its backends' one size. */
static int
read_page_size(struct qemu *q, struct qmp *qmp, struct tmap_error *err)
{
	const struct memdev *first = NULL;

	for (size_t i = 0; i < q->nmemdevs; i++) {
		struct memdev *m = &q->memdevs[i];
		int r;

		if (streq(m->id, "?"))
			continue;
		r = backend_page_kib(qmp, m, err);
		if (r < 0)
			return r;
		if (first && m->page_kib != first->page_kib) {
			char a[32] = "normal", b[32] = "normal";

			if (first->page_kib)
				snprintf(a, sizeof(a), "%" PRIu64 " KiB", first->page_kib);
			if (m->page_kib)
				snprintf(b, sizeof(b), "%" PRIu64 " KiB", m->page_kib);
			return tmap_error_set(
			    err, -EINVAL,
			    "QEMU process %d backs its memory with %s pages ('%s') and %s pages ('%s'); topomap plans one page size per guest: give the guest",
			    (int)q->pid, a, first->id, b, m->id);
		}
		if (!first)
			first = m;
		q->page_kib = m->page_kib;
	}
	return 0;
}

/* The guest's name, its memory and each guest node's memory, for describe. */
static int
read_guest_extras(struct qemu *q, struct qmp *qmp, struct tmap_error *err)
{
	_cleanup_json_ json_object *name = NULL, *mem = NULL, *numa = NULL;
	json_object *v;
	int r;

	r = qmp_execute(qmp, "query-name", &name, err);
	if (r < 0)
		return r;
	if (json_object_object_get_ex(name, "name", &v) &&
	    json_object_is_type(v, json_type_string)) {
		q->name = strdup(json_object_get_string(v));
		if (!q->name)
			return tmap_error_set(err, -ENOMEM, "out of memory");
	}
	r = qmp_execute(qmp, "query-memory-size-summary", &mem, err);
	if (r < 0)
		return r;
	if (!json_object_object_get_ex(mem, "base-memory", &v) ||
	    !json_object_is_type(v, json_type_int) || json_object_get_int64(v) < (1 << 20))
		return tmap_error_set(
		    err, -EBADMSG,
		    "QMP 'query-memory-size-summary' gives no \"base-memory\" of 1 MiB or more");
	q->memory_mib = (uint64_t)json_object_get_int64(v) >> 20;

	/*
	 * QMP has no stable command for each guest node's memory (query-memdev does not say which
	 * node a backend feeds, and lists backends in no order). x-query-numa prints it; without
	 * it, the cells share the memory evenly, which is what a plan needs to know.
	 */
	r = qmp_execute(qmp, "x-query-numa", &numa, err);
	if (r == -EOPNOTSUPP || r == -EREMOTEIO) {
		if (err)
			*err = (struct tmap_error){0};
		return 0;
	}
	if (r < 0)
		return r;
	if (json_object_object_get_ex(numa, "human-readable-text", &v) &&
	    json_object_is_type(v, json_type_string)) {
		const char *text = json_object_get_string(v);
		unsigned nodes = 0;

		if (sscanf(text, "%u nodes", &nodes) != 1 || nodes == 0 || nodes > MAX_PROP_ID)
			return 0;
		q->node_mib = calloc(nodes, sizeof(*q->node_mib));
		if (!q->node_mib)
			return tmap_error_set(err, -ENOMEM, "out of memory");
		q->nnodes = nodes;
		for (const char *line = text; line && *line;) {
			unsigned long long mb;
			unsigned node;

			/* "node 1 size: 128 MB", MB being MiB, as HMP's "info numa" always said. */
			if (sscanf(line, "node %u size: %llu MB", &node, &mb) == 2 && node < nodes)
				q->node_mib[node] = mb;
			line = strchr(line, '\n');
			if (line)
				line++;
		}
	}
	return 0;
}

/* A tid QMP gave must be a thread of --pid, looked up below its /proc/PID/task. */
static int
check_tid(const struct qemu *q, pid_t tid, const char *what, unsigned index, struct tmap_error *err)
{
	if (proc_task_exists(q->task_fd, tid) == 0)
		return 0;
	return tmap_error_set(
	    err, -EINVAL,
	    "QMP says %s %u runs as thread %d, which is not a thread of process %d: refused, nothing was changed (do --qmp and --pid name the same QEMU?)",
	    what, index, (int)tid, (int)q->pid);
}

/* Ask QEMU which thread is which, and check every tid against --pid. */
int
qemu_read(const struct tmap_target *target, bool describe, struct qemu *q, struct tmap_error *err)
{
	_cleanup_(qmp_closep) struct qmp *qmp = NULL;
	_cleanup_json_ json_object *cpus = NULL, *iothreads = NULL, *memdevs = NULL;
	int r;

	r = proc_open_process(tmap_target_get(target, "pid"), &q->pid, err);
	if (r < 0)
		return r;
	q->task_fd = r;
	r = proc_open_pidfd(q->task_fd, q->pid, &q->pidfd, err);
	if (r < 0)
		return r;
	r = qmp_connect(tmap_target_get(target, "qmp"), q->pid, &qmp, err);
	if (r < 0)
		return r;
	/* Each reply is checked as it comes: a bad one ends the session at once. */
	r = qmp_execute(qmp, "query-cpus-fast", &cpus, err);
	if (r < 0)
		return r;
	r = parse_vcpus(q, cpus, err);
	if (r < 0)
		return r;
	r = qmp_execute(qmp, "query-iothreads", &iothreads, err);
	if (r < 0)
		return r;
	r = parse_iothreads(q, iothreads, err);
	if (r < 0)
		return r;
	r = qmp_execute(qmp, "query-memdev", &memdevs, err);
	if (r < 0)
		return r;
	r = parse_memdevs(q, memdevs, err);
	if (r < 0)
		return r;
	if (describe) {
		r = read_guest_extras(q, qmp, err);
		if (r == 0)
			r = read_page_size(q, qmp, err);
		if (r == 0)
			r = qemu_read_devices(qmp, q, err);
		if (r < 0)
			return r;
	}
	/* QEMU serves one QMP client at a time: let the next one in as soon as possible. */
	qmp = qmp_close(qmp);

	for (unsigned i = 0; i < q->nvcpus; i++) {
		r = check_tid(q, q->vcpus[i].tid, "vcpu", i, err);
		if (r < 0)
			return r;
	}
	for (unsigned k = 0; k < q->niothreads; k++) {
		r = check_tid(q, q->iothreads[k].tid, "iothread", k + 1, err);
		if (r < 0)
			return r;
		/* vcpus may share a thread (TCG without thread=multi); an iothread never does. */
		for (unsigned i = 0; i < q->nvcpus; i++)
			if (q->vcpus[i].tid == q->iothreads[k].tid)
				return tmap_error_set(
				    err, -EBADMSG,
				    "QMP gives thread %d both to vcpu %u and to iothread '%s'",
				    (int)q->iothreads[k].tid, i, q->iothreads[k].id);
		for (unsigned l = 0; l < k; l++)
			if (q->iothreads[l].tid == q->iothreads[k].tid)
				return tmap_error_set(
				    err, -EBADMSG,
				    "QMP gives thread %d to two iothreads, '%s' and '%s'",
				    (int)q->iothreads[k].tid, q->iothreads[l].id,
				    q->iothreads[k].id);
	}
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* describe: the guest as QEMU runs it */

static int
guest_topology(const struct qemu *q, struct tmap_guest *g)
{
	int sockets = 0, dies = 0, cores = 0, threads = 0;
	bool known = true;

	for (unsigned i = 0; i < q->nvcpus; i++) {
		const struct vcpu *v = &q->vcpus[i];

		if (v->socket < 0 || v->core < 0 || v->thread < 0)
			known = false;
		sockets = v->socket + 1 > sockets ? v->socket + 1 : sockets;
		dies = v->die + 1 > dies ? v->die + 1 : dies;
		cores = v->core + 1 > cores ? v->core + 1 : cores;
		threads = v->thread + 1 > threads ? v->thread + 1 : threads;
	}
	dies = dies ? dies : 1;
	/* topomap has no dies: a socket's cores are those of all its dies. With -smp maxcpus
	 * above the vcpus present, the ids span more than the vcpus: one socket of plain cores
	 * then says what is known. */
	if (!known || threads > TMAP_MAX_GUEST_THREADS ||
	    (uint64_t)sockets * (uint64_t)dies * (uint64_t)cores * (uint64_t)threads != q->nvcpus)
		return tmap_guest_set_topology(g, 1, q->nvcpus, 1);
	return tmap_guest_set_topology(g, (unsigned)sockets, (unsigned)(dies * cores),
				       (unsigned)threads);
}

static int
guest_cells(const struct qemu *q, struct tmap_guest *g, struct tmap_error *err)
{
	unsigned nnodes = 0;
	bool sizes = true;

	for (unsigned i = 0; i < q->nvcpus; i++) {
		if (q->vcpus[i].node < 0)
			return 0; /* no -numa: one cell */
		if ((unsigned)q->vcpus[i].node + 1 > nnodes)
			nnodes = (unsigned)q->vcpus[i].node + 1;
	}
	if (q->nnodes != nnodes)
		sizes = false;
	for (unsigned c = 0; sizes && c < nnodes; c++)
		sizes = q->node_mib[c] > 0;
	for (unsigned c = 0; c < nnodes; c++) {
		_cleanup_free_ char *list = NULL;
		struct cpus set = {0};
		int r;

		if (cpus_alloc(&set, q->nvcpus) < 0)
			return tmap_error_set(err, -ENOMEM, "out of memory");
		for (unsigned i = 0; i < q->nvcpus; i++)
			if ((unsigned)q->vcpus[i].node == c)
				CPU_SET_S(i, set.size, set.set);
		list = CPU_COUNT_S(set.size, set.set) ? cpus_format(&set) : NULL;
		cpus_free(&set);
		if (!list)
			return tmap_error_set(
			    err, -EOPNOTSUPP,
			    "guest node %u of QEMU process %d has no vcpu, which topomap cannot describe: give the guest",
			    c, (int)q->pid);
		r = tmap_guest_add_cell(g, list, sizes ? q->node_mib[c] : 0, err);
		if (r < 0)
			return r;
	}
	if (sizes) {
		uint64_t total = 0;

		for (unsigned c = 0; c < nnodes; c++)
			total += q->node_mib[c];
		return tmap_guest_set_memory_mib(g, total);
	}
	return 0;
}

/* Each vfio-pci device becomes a request for its host device, for the cell of the guest node
 * its expander is on (cell 0 without one), policy preferred: a running guest is not refused
 * because its device's node is full. */
static int
guest_devices(const struct qemu *q, struct tmap_guest *g, struct tmap_error *err)
{
	unsigned ncells = tmap_guest_cell_count(g);

	for (unsigned i = 0; i < q->ndevices; i++) {
		const struct qemu_device *d = &q->devices[i];
		char spec[96];
		int r;

		snprintf(spec, sizeof(spec), "pci=%s,policy=preferred,cell=%u", d->host,
			 d->node >= 0 && (unsigned)d->node < ncells ? (unsigned)d->node : 0);
		r = tmap_guest_add_device(g, spec, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The vcpus QEMU runs SCHED_FIFO at one priority are the guest's realtime vcpus (issue 21). */
static int
guest_realtime(const struct qemu *q, struct tmap_guest *g, struct tmap_error *err)
{
	_cleanup_free_ pid_t *tids = calloc(q->nvcpus + 1, sizeof(*tids));

	if (!tids)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	for (unsigned v = 0; v < q->nvcpus; v++)
		tids[v] = q->vcpus[v].tid;
	return sched_describe(tids, q->nvcpus, g) < 0 ? tmap_error_set(err, -ENOMEM, "out of memory")
						       : 0;
}

int
qd_describe(const struct tmap_target *target, struct tmap_guest **ret, struct tmap_error *err)
{
	_cleanup_(qemu_clear) struct qemu q = {.task_fd = -1, .pidfd = -1};
	struct tmap_guest *g = NULL;
	char fallback[32];
	int r;

	r = qemu_read(target, true, &q, err);
	if (r < 0)
		return r;
	snprintf(fallback, sizeof(fallback), "qemu-%d", (int)q.pid);
	/* QEMU takes any -name; a guest name is letters, digits and "._-" only. */
	if (!q.name || tmap_guest_new(q.name, q.nvcpus, &g, NULL) < 0) {
		r = tmap_guest_new(fallback, q.nvcpus, &g, err);
		if (r < 0)
			return r;
	}
	/* A running QEMU's cells are what it runs with, not a request: on a host with fewer
	 * nodes they share nodes, as QEMU itself lets them. */
	tmap_guest_set_cells_share_nodes(g, 1);
	r = guest_topology(&q, g);
	if (r == 0)
		r = tmap_guest_set_memory_mib(g, q.memory_mib);
	if (r == 0 && q.page_kib)
		r = tmap_guest_set_hugepages(g, q.page_kib);
	if (r == 0)
		r = tmap_guest_set_iothreads(g, q.niothreads);
	if (r < 0) {
		tmap_guest_free(g);
		return tmap_error_set(err, r, "the library refused the guest read from QEMU process %d",
				 (int)q.pid);
	}
	r = guest_cells(&q, g, err);
	if (r == 0)
		r = guest_devices(&q, g, err);
	if (r == 0)
		r = guest_realtime(&q, g, err);
	if (r < 0) {
		tmap_guest_free(g);
		return r;
	}
	*ret = g;
	return 0;
}
