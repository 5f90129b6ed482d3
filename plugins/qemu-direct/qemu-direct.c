/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The qemu-direct backend: a plan in force on a QEMU that runs without libvirt, through its
 * QMP socket (which thread is which) and the kernel (sched_setaffinity, migrate_pages).
 *
 * QMP names the vcpu threads (query-cpus-fast, the top-level "thread-id" of each entry; the
 * "thread-id" inside "props" is the vcpu's SMT index, not a tid) and the iothreads
 * (query-iothreads). Every other thread of the process is an emulator thread, as libvirt
 * defines them. QMP does not give QEMU's pid: the operator does (--pid), and every tid QMP
 * reports must be a thread of that process, or nothing is done at all: a wrong tid would pin a
 * stranger's thread, PID 1 even.
 *
 * Memory: the process's existing pages are moved to the plan's nodes with migrate_pages().
 * Where QEMU's memory backends are bound elsewhere (-object memory-backend-*,host-nodes=...),
 * new pages keep going there; apply says so, as only a restart of QEMU changes it.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <numa.h>
#include <sys/statfs.h>

#include <topomap/backend.h>

#include "qemu-direct.h"

/* More memory backends than any guest has: a bound on what a QMP peer can make us keep. */
#define MAX_MEMDEVS 4096
/* The highest socket, die, core, thread or node number taken from QMP props. */
#define MAX_PROP_ID 65535

/* One vcpu as query-cpus-fast reports it. */
struct vcpu {
	pid_t tid;
	int socket, die, core, thread, node; /* from "props"; -1 when QEMU does not say */
};

struct iothread {
	char *id;
	pid_t tid;
};

struct memdev {
	char *id;
	char *policy;
	char *host_nodes; /* list syntax; "" when unbound */
	uint64_t page_kib; /* describe only: hugepage size of its memory, 0 normal pages */
};

/* What QMP and /proc say about one QEMU. */
struct qemu {
	pid_t pid;
	int task_fd; /* /proc/PID/task, for the whole transaction */
	int pidfd;   /* says when that process exits */
	unsigned nvcpus;
	struct vcpu *vcpus; /* by vcpu number (QEMU's cpu-index) */
	unsigned niothreads;
	struct iothread *iothreads; /* sorted by id: iothread k (from 1) is iothreads[k - 1] */
	size_t nmemdevs;
	struct memdev *memdevs;
	/* describe only */
	char *name;	     /* -name guest=..., or NULL */
	uint64_t memory_mib; /* base memory */
	unsigned nnodes;     /* guest nodes with a size from x-query-numa, or 0 */
	uint64_t *node_mib;
	uint64_t page_kib;   /* hugepage size of the guest's memory, 0: normal pages */
};

/* One thread of the process and its affinity when captured. */
struct thread {
	pid_t tid;
	enum tmap_task_role role;
	unsigned index; /* vcpu number (the lowest, when vcpus share the thread), iothread id */
	char name[32];
	struct cpus saved;
	bool written; /* apply() set its affinity: restore() puts `saved` back */
};

struct state {
	struct qemu q;
	size_t nbits;	    /* bits of a kernel CPU mask */
	struct cpus online; /* the CPUs online at open(); unallocated when unknown */
	size_t nthreads;
	struct thread *threads; /* sorted by tid */
};

/* ---------------------------------------------------------------------------------------- */
/* Reading QEMU */

static void
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
static int
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

/* What a thread is, from the tids QMP gave. */
static enum tmap_task_role
role_of(const struct qemu *q, pid_t tid, unsigned *ret_index)
{
	for (unsigned i = 0; i < q->nvcpus; i++)
		if (q->vcpus[i].tid == tid) {
			*ret_index = i;
			return TMAP_TASK_VCPU;
		}
	for (unsigned k = 0; k < q->niothreads; k++)
		if (q->iothreads[k].tid == tid) {
			*ret_index = k + 1;
			return TMAP_TASK_IOTHREAD;
		}
	*ret_index = 0;
	return TMAP_TASK_EMULATOR;
}

/* "vcpu 2", "iothread 1", "emulator": what a thread is, for messages. */
static const char *
role_text(enum tmap_task_role role, unsigned index, char *buf, size_t size)
{
	switch (role) {
	case TMAP_TASK_VCPU:
		snprintf(buf, size, "vcpu %u", index);
		break;
	case TMAP_TASK_IOTHREAD:
		snprintf(buf, size, "iothread %u", index);
		break;
	default:
		snprintf(buf, size, "emulator");
		break;
	}
	return buf;
}

static bool
qemu_exited(const struct qemu *q, int wait_ms)
{
	return proc_exited(q->task_fd, q->pid, q->pidfd, wait_ms);
}

/*
 * A vcpu or iothread thread is gone. When the whole QEMU went with it (killed, crashed), say
 * so: the operator needs to hear that QEMU exited, not that one thread did. A process killed
 * now loses its threads one by one, so wait a moment for the last of them.
 */
static int
thread_gone(const struct qemu *q, enum tmap_task_role role, unsigned index, pid_t tid,
	    const char *step, struct tmap_error *err)
{
	char text[32];

	role_text(role, index, text, sizeof(text));
	if (qemu_exited(q, 200))
		return tmap_error_set(err, -ESRCH, "QEMU process %d exited during %s (%s thread %d is gone)",
				 (int)q->pid, step, text, (int)tid);
	return tmap_error_set(err, -ESRCH, "the thread of %s (%d) has exited", text, (int)tid);
}

/* ---------------------------------------------------------------------------------------- */
/* Threads and their affinity */

static int
get_affinity(pid_t tid, struct cpus *c)
{
	return sched_getaffinity(tid, c->size, c->set) < 0 ? -errno : 0;
}

static int
cmp_thread(const void *a, const void *b)
{
	pid_t x = ((const struct thread *)a)->tid, y = ((const struct thread *)b)->tid;

	return (x > y) - (x < y);
}

static struct thread *
find_thread(struct state *s, pid_t tid)
{
	struct thread key = {.tid = tid};

	if (!s->nthreads)
		return NULL;
	return bsearch(&key, s->threads, s->nthreads, sizeof(key), cmp_thread);
}

/*
 * Capture every thread not captured yet: at open(), all of them; at apply(), the ones QEMU
 * started since (worker threads come and go), so that restore() can put them back too. A
 * thread that exits meanwhile is simply not there; a vcpu or iothread that does is an error.
 */
static int
capture_threads(struct state *s, const char *step, struct tmap_error *err)
{
	_cleanup_free_ pid_t *tids = NULL;
	size_t n = 0, added = 0;
	struct thread *v;
	int r;

	r = proc_list_tasks(s->q.task_fd, &tids, &n, err);
	if (r < 0)
		return r;
	v = realloc(s->threads, (s->nthreads + n) * sizeof(*v));
	if (!v)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	s->threads = v;
	for (size_t i = 0; i < n; i++) {
		struct thread *t = &s->threads[s->nthreads + added];

		if (find_thread(s, tids[i]))
			continue;
		*t = (struct thread){.tid = tids[i]};
		t->role = role_of(&s->q, t->tid, &t->index);
		if (cpus_alloc(&t->saved, s->nbits) < 0)
			return tmap_error_set(err, -ENOMEM, "out of memory");
		r = get_affinity(t->tid, &t->saved);
		if (r == -ESRCH && t->role == TMAP_TASK_EMULATOR) {
			cpus_free(&t->saved);
			continue;
		}
		if (r < 0) {
			char role[32];

			cpus_free(&t->saved);
			return tmap_error_set(
			    err, r, "cannot read the affinity of thread %d (%s): %s", (int)t->tid,
			    role_text(t->role, t->index, role, sizeof(role)), strerror(-r));
		}
		proc_task_name(s->q.task_fd, t->tid, t->name, sizeof(t->name));
		added++;
	}
	s->nthreads += added;
	qsort(s->threads, s->nthreads, sizeof(*s->threads), cmp_thread);
	for (unsigned i = 0; i < s->q.nvcpus; i++)
		if (!find_thread(s, s->q.vcpus[i].tid))
			return thread_gone(&s->q, TMAP_TASK_VCPU, i, s->q.vcpus[i].tid, step, err);
	for (unsigned k = 0; k < s->q.niothreads; k++)
		if (!find_thread(s, s->q.iothreads[k].tid))
			return thread_gone(&s->q, TMAP_TASK_IOTHREAD, k + 1, s->q.iothreads[k].tid,
					   step, err);
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* The backend */

static int
qd_probe(struct tmap_error *err)
{
	struct cpus c = {0};
	size_t nbits;
	int r = 0;

	if (numa_available() < 0)
		return tmap_error_set(
		    err, -ENOSYS,
		    "libnuma finds no NUMA support in this kernel (numa_available() < 0)");
	if (access("/proc/self/task", R_OK) < 0)
		return tmap_error_set(err, -errno, "/proc is not mounted: threads cannot be found");
	nbits = cpus_kernel_bits();
	if (!nbits)
		return tmap_error_set(err, -ENOSYS, "sched_getaffinity does not work here: %s",
				 strerror(errno));
	if (cpus_alloc(&c, nbits) < 0)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	/* Set this thread's affinity to what it is: proof that the call works, changing nothing. */
	if (sched_getaffinity(0, c.size, c.set) < 0 || sched_setaffinity(0, c.size, c.set) < 0)
		r = tmap_error_set(err, -errno, "sched_setaffinity does not work here: %s",
			      strerror(errno));
	cpus_free(&c);
	return r;
}

static void
qd_close(void *userdata)
{
	struct state *s = userdata;

	if (!s)
		return;
	qemu_clear(&s->q);
	cpus_free(&s->online);
	for (size_t i = 0; i < s->nthreads; i++)
		cpus_free(&s->threads[i].saved);
	free(s->threads);
	free(s);
}

static void
qd_closep(struct state **s)
{
	qd_close(*s);
}

static int
qd_open(const struct tmap_target *target, unsigned flags, void **ret, struct tmap_error *err)
{
	_cleanup_(qd_closep) struct state *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	s->q.task_fd = -1;
	s->q.pidfd = -1;
	s->nbits = cpus_kernel_bits();
	if (!s->nbits)
		return tmap_error_set(err, -ENOSYS, "sched_getaffinity does not work here");
	if (cpus_alloc(&s->online, s->nbits) < 0)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	/* Without the list (no sysfs), the kernel's own refusal is the check. */
	if (cpus_online(&s->online) < 0)
		cpus_free(&s->online);
	r = qemu_read(target, false, &s->q, err);
	if (r < 0)
		return r;
	r = capture_threads(s, "open", err);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(s);
	return 0;
}

/*
 * A set of the plan, as a mask. Every PU must be online here: a plan made for another host
 * (--topology) would otherwise fail halfway through, or be cut down by the kernel unseen.
 */
static int
plan_set(const struct state *s, struct cpus *c, const char *list, const char *what,
	 struct tmap_error *err)
{
	int r;

	if (!list)
		return tmap_error_set(err, -EINVAL, "the plan has no set for %s", what);
	if (cpus_alloc(c, s->nbits) < 0)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	r = cpus_parse(c, list);
	if (r == -ERANGE)
		return tmap_error_set(err, r, "the plan puts %s on '%s', beyond this host's %zu CPUs",
				 what, list, s->nbits);
	if (r < 0)
		return tmap_error_set(err, r, "the plan's set '%s' for %s is not a list", list, what);
	if (CPU_COUNT_S(c->size, c->set) == 0)
		return tmap_error_set(err, -EINVAL, "the plan gives %s no PU", what);
	if (s->online.set && !cpus_included(c, &s->online)) {
		_cleanup_free_ char *online = cpus_format(&s->online);

		return tmap_error_set(
		    err, -EINVAL,
		    "the plan puts %s on '%s', but only '%s' are online here (a plan for another host?)",
		    what, list, online ? online : "?");
	}
	return 0;
}

/* The plan's sets, one per vcpu and the emulator's. */
struct wanted {
	unsigned nvcpus;
	struct cpus *vcpu;
	struct cpus emulator;
};

static void
wanted_clear(struct wanted *w)
{
	for (unsigned i = 0; w->vcpu && i < w->nvcpus; i++)
		cpus_free(&w->vcpu[i]);
	free(w->vcpu);
	cpus_free(&w->emulator);
}

static int
wanted_read(struct state *s, const struct tmap_plan *plan, size_t guest, struct wanted *w,
	    struct tmap_error *err)
{
	const struct qemu *q = &s->q;
	unsigned vcpus = tmap_plan_vcpu_count(plan, guest);
	unsigned iothreads = tmap_plan_iothread_count(plan, guest);
	const char *name = tmap_plan_guest_name(plan, guest);
	int r;

	/* A plan for another guest would leave threads unpinned or pin what is not there. */
	if (vcpus != q->nvcpus)
		return tmap_error_set(err, -EINVAL,
				 "guest '%s' of the plan has %u vcpus; QEMU process %d runs %u",
				 name ? name : "?", vcpus, (int)q->pid, q->nvcpus);
	if (iothreads != q->niothreads)
		return tmap_error_set(err, -EINVAL,
				 "guest '%s' of the plan has %u iothreads; QEMU process %d runs %u",
				 name ? name : "?", iothreads, (int)q->pid, q->niothreads);
	w->vcpu = calloc(vcpus, sizeof(*w->vcpu));
	if (!w->vcpu)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	w->nvcpus = vcpus;
	for (unsigned i = 0; i < vcpus; i++) {
		char what[32];

		snprintf(what, sizeof(what), "vcpu %u", i);
		r = plan_set(s, &w->vcpu[i], tmap_plan_vcpu_cpuset(plan, guest, i), what, err);
		if (r < 0)
			return r;
	}
	r = plan_set(s, &w->emulator, tmap_plan_emulator_cpuset(plan, guest),
		     "the emulator threads", err);
	if (r < 0)
		return r;
	/* vcpus that share a thread can only be pinned together. */
	for (unsigned i = 0; i < vcpus; i++)
		for (unsigned j = 0; j < i; j++)
			if (q->vcpus[i].tid == q->vcpus[j].tid &&
			    !cpus_equal(&w->vcpu[i], &w->vcpu[j]))
				return tmap_error_set(
				    err, -EINVAL,
				    "vcpus %u and %u of QEMU process %d run on one thread (%d; TCG without thread=multi?), but the plan puts them on different PUs",
				    j, i, (int)q->pid, (int)q->vcpus[i].tid);
	return 0;
}

static const struct cpus *
wanted_for(const struct wanted *w, const struct thread *t)
{
	return t->role == TMAP_TASK_VCPU ? &w->vcpu[t->index] : &w->emulator;
}

/* Set one thread's affinity, as journaled. An emulator thread that exited is no error. */
static int
set_thread(struct state *s, struct thread *t, const struct cpus *set, struct tmap_journal *j,
	   struct tmap_error *err)
{
	_cleanup_free_ char *list = cpus_format(set);
	char role[32];

	if (!list)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	if (!tmap_journal_write(j, "sched_setaffinity(tid %d '%s', '%s')", (int)t->tid, t->name,
				list))
		return 0;
	t->written = true;
	role_text(t->role, t->index, role, sizeof(role));
	/*
	 * Still a thread of QEMU? A tid that exited may since name a thread of anyone. Once QEMU
	 * itself has exited, no tid of it is touched again: its zombie main thread, if its parent
	 * has not reaped it yet, is no thread to pin either.
	 */
	if (qemu_exited(&s->q, 0) || proc_task_exists(s->q.task_fd, t->tid) < 0) {
		if (t->role == TMAP_TASK_EMULATOR && !qemu_exited(&s->q, 0))
			return 0;
		return thread_gone(&s->q, t->role, t->index, t->tid, "apply", err);
	}
	if (sched_setaffinity(t->tid, set->size, set->set) == 0)
		return 0;
	if (errno == ESRCH)
		return t->role == TMAP_TASK_EMULATOR && !qemu_exited(&s->q, 0) ?
			       0 :
			       thread_gone(&s->q, t->role, t->index, t->tid, "apply", err);
	return tmap_error_set(err, -errno, "cannot set the affinity of thread %d '%s' (%s) to '%s': %s",
			 (int)t->tid, t->name, role, list, strerror(errno));
}

/* A libnuma node mask of a set; -ERANGE for a node libnuma does not know. */
static int
node_mask(const struct cpus *set, struct bitmask **ret)
{
	int possible = numa_num_possible_nodes();
	struct bitmask *b;

	if (possible <= 0)
		return -ENOSYS;
	b = numa_bitmask_alloc((unsigned)possible);
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < set->nbits; i++) {
		if (!CPU_ISSET_S(i, set->size, set->set))
			continue;
		if (i >= (size_t)possible) {
			numa_bitmask_free(b);
			return -ERANGE;
		}
		numa_bitmask_setbit(b, (unsigned)i);
	}
	*ret = b;
	return 0;
}

/* The process's Mems_allowed_list, as a set. */
static int
read_mems_allowed(struct state *s, struct cpus *ret, char **ret_text, struct tmap_error *err)
{
	_cleanup_free_ char *status = NULL, *mems = NULL;
	int r;

	r = proc_read_task_file(s->q.task_fd, s->q.pid, "status", &status);
	if (r < 0)
		return tmap_error_set(err, r, "cannot read the status of process %d: %s", (int)s->q.pid,
				 strerror(-r));
	r = status_field(status, "Mems_allowed_list", &mems);
	if (r < 0)
		return tmap_error_set(err, -EBADMSG, "the status of process %d has no Mems_allowed_list",
				 (int)s->q.pid);
	if (cpus_alloc(ret, MAX_PROP_ID + 1) < 0)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	if (cpus_parse(ret, mems) < 0) {
		cpus_free(ret);
		return tmap_error_set(err, -EBADMSG,
				 "Mems_allowed_list '%s' of process %d is not a list", mems,
				 (int)s->q.pid);
	}
	if (ret_text)
		*ret_text = TAKE_PTR(mems);
	return 0;
}

static int
plan_nodes(const struct tmap_plan *plan, size_t guest, struct cpus *ret, struct tmap_error *err)
{
	const char *list = tmap_plan_memory_nodeset(plan, guest);

	if (!list)
		return tmap_error_set(err, -EINVAL, "the plan has no memory nodes");
	if (cpus_alloc(ret, MAX_PROP_ID + 1) < 0)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	if (cpus_parse(ret, list) < 0 || CPU_COUNT_S(ret->size, ret->set) == 0)
		return tmap_error_set(err, -EINVAL,
				 "the plan's memory nodes '%s' are not a list of nodes", list);
	return 0;
}

/*
 * Move every page of the process to the plan's nodes: from every node it may use, to the
 * plan's. The kernel keeps relative positions, so pages of two cells on two nodes stay
 * apart. A move has no undo and needs none: the pages are valid wherever they are.
 */
static int
migrate_memory(struct state *s, const struct cpus *to, const char *to_list, struct tmap_journal *j,
	       struct tmap_error *err)
{
	_cleanup_free_ char *from_list = NULL;
	struct cpus from = {0};
	struct bitmask *bfrom = NULL, *bto = NULL;
	int r;

	r = read_mems_allowed(s, &from, &from_list, err);
	if (r < 0)
		return r;
	r = node_mask(&from, &bfrom);
	if (r == 0)
		r = node_mask(to, &bto);
	cpus_free(&from);
	if (r < 0) {
		if (bfrom)
			numa_bitmask_free(bfrom);
		return tmap_error_set(err, r, "the nodes '%s' or '%s' are not nodes of this host",
				 from_list, to_list);
	}
	if (tmap_journal_write(j, "migrate_pages(pid %d, from '%s', to '%s')", (int)s->q.pid,
			       from_list, to_list) &&
	    numa_migrate_pages(s->q.pid, bfrom, bto) < 0)
		r = tmap_error_set(err, -errno,
			      "cannot move the pages of process %d from nodes '%s' to '%s': %s",
			      (int)s->q.pid, from_list, to_list, strerror(errno));
	numa_bitmask_free(bfrom);
	numa_bitmask_free(bto);
	return r;
}

/* Memory backends bound to nodes outside the plan keep taking new pages there. */
static void
note_memdevs(struct state *s, const struct cpus *plan, const char *plan_list,
	     struct tmap_journal *j)
{
	for (size_t i = 0; i < s->q.nmemdevs; i++) {
		const struct memdev *m = &s->q.memdevs[i];
		struct cpus nodes = {0};
		bool outside;

		if (!*m->host_nodes || streq(m->policy, "default"))
			continue;
		if (cpus_alloc(&nodes, MAX_PROP_ID + 1) < 0)
			return;
		outside = cpus_parse(&nodes, m->host_nodes) < 0 || !cpus_included(&nodes, plan);
		cpus_free(&nodes);
		if (outside)
			(void)tmap_journal_write(
			    j,
			    "note: QEMU's memory backend '%s' has policy '%s' on host nodes '%s': its new pages go there, not to the plan's '%s', until QEMU restarts with other -object options",
			    m->id, m->policy, m->host_nodes, plan_list);
	}
}

static int
qd_apply(void *userdata, const struct tmap_plan *plan, size_t guest, struct tmap_journal *j,
	 struct tmap_error *err)
{
	struct state *s = userdata;
	_cleanup_(wanted_clear) struct wanted w = {0};
	struct cpus nodes = {0};
	const char *nodes_list = tmap_plan_memory_nodeset(plan, guest);
	int r;

	/* Everything is checked before the first write: a refusal changes nothing. */
	r = wanted_read(s, plan, guest, &w, err);
	if (r < 0)
		return r;
	r = plan_nodes(plan, guest, &nodes, err);
	if (r < 0)
		goto out;
	r = capture_threads(s, "apply", err);
	if (r < 0)
		goto out;

	/* vcpus first, by number, then iothreads, then the rest: the journal reads in that
	 * order, and the threads that matter most are placed first. */
	for (unsigned i = 0; i < s->q.nvcpus && r == 0; i++) {
		struct thread *t = find_thread(s, s->q.vcpus[i].tid);

		/* The lowest vcpu of a shared thread sets it; the others want the same set. */
		if (t->index == i)
			r = set_thread(s, t, wanted_for(&w, t), j, err);
	}
	for (unsigned k = 0; k < s->q.niothreads && r == 0; k++)
		r = set_thread(s, find_thread(s, s->q.iothreads[k].tid), &w.emulator, j, err);
	for (size_t i = 0; i < s->nthreads && r == 0; i++)
		if (s->threads[i].role == TMAP_TASK_EMULATOR)
			r = set_thread(s, &s->threads[i], &w.emulator, j, err);
	if (r < 0)
		goto out;
	r = migrate_memory(s, &nodes, nodes_list, j, err);
	if (r < 0 && qemu_exited(&s->q, 200))
		r = tmap_error_set(err, -ESRCH,
				   "QEMU process %d exited during apply (its pages could not be moved)",
				   (int)s->q.pid);
	if (r < 0)
		goto out;
	note_memdevs(s, &nodes, nodes_list, j);
out:
	cpus_free(&nodes);
	return r;
}

static int
qd_restore(void *userdata, struct tmap_journal *j, struct tmap_error *err)
{
	struct state *s = userdata;
	int first = 0;

	/* A QEMU that exited has no thread left to put back, and its tids are no longer its to
	 * touch: another process may already run under one of them. */
	if (qemu_exited(&s->q, 0))
		return 0;
	for (size_t i = 0; i < s->nthreads; i++) {
		struct thread *t = &s->threads[i];
		_cleanup_free_ char *list = NULL;

		if (!t->written)
			continue;
		list = cpus_format(&t->saved);
		if (!list) {
			first = first ? first : tmap_error_set(err, -ENOMEM, "out of memory");
			continue;
		}
		if (!tmap_journal_write(j, "sched_setaffinity(tid %d '%s', '%s')", (int)t->tid,
					t->name, list))
			continue;
		/* A thread that exited since has nothing to put back, and its tid is no longer
		 * QEMU's to touch. */
		if (proc_task_exists(s->q.task_fd, t->tid) < 0)
			continue;
		if (sched_setaffinity(t->tid, t->saved.size, t->saved.set) == 0 || errno == ESRCH) {
			t->written = false;
			continue;
		}
		/* Put back every other thread before saying what failed. */
		if (!first)
			first = tmap_error_set(err, -errno,
					  "cannot put back the affinity '%s' of thread %d '%s': %s",
					  list, (int)t->tid, t->name, strerror(errno));
	}
	return first;
}

/* Record one thread's Cpus_allowed_list as its status says, under its role. */
static int
observe_thread(struct state *s, pid_t tid, struct tmap_observed *obs, struct tmap_error *err)
{
	_cleanup_free_ char *status = NULL, *cpus = NULL;
	unsigned index;
	enum tmap_task_role role = role_of(&s->q, tid, &index);
	int r;

	r = proc_read_task_file(s->q.task_fd, tid, "status", &status);
	if (r == -ENOENT || r == -ESRCH) {
		if (role == TMAP_TASK_EMULATOR && !qemu_exited(&s->q, 0))
			return 0;
		return thread_gone(&s->q, role, index, tid, "read back", err);
	}
	if (r < 0)
		return tmap_error_set(err, r, "cannot read the status of thread %d: %s", (int)tid,
				 strerror(-r));
	r = status_field(status, "Cpus_allowed_list", &cpus);
	if (r < 0)
		return tmap_error_set(err, -EBADMSG, "the status of thread %d has no Cpus_allowed_list",
				 (int)tid);
	/*
	 * No Mems_allowed_list per task: it is the cpuset's, which this backend does not set, and
	 * the library would compare it as a limit the plan imposes. Memory is observed for the
	 * process as a whole in observe_memory().
	 */
	if (role == TMAP_TASK_VCPU) {
		/* Each vcpu the thread runs, so that each is compared with its own set. */
		for (unsigned i = 0; i < s->q.nvcpus; i++) {
			if (s->q.vcpus[i].tid != tid)
				continue;
			r = tmap_observed_task(obs, tid, role, i, cpus, NULL);
			if (r < 0)
				break;
		}
	} else {
		r = tmap_observed_task(obs, tid, role, index, cpus, NULL);
	}
	if (r < 0)
		return tmap_error_set(err, r, "Cpus_allowed_list '%s' of thread %d is not a list", cpus,
				 (int)tid);
	return 0;
}

/* One set of a vcpu, an iothread or the main thread, from sched_getaffinity(). */
static int
observe_affinity(struct state *s, pid_t tid, enum tmap_observed_kind kind, unsigned index,
		 const char *where, struct tmap_observed *obs, struct tmap_error *err)
{
	_cleanup_free_ char *list = NULL;
	struct cpus c = {0};
	int r;

	if (cpus_alloc(&c, s->nbits) < 0)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	r = get_affinity(tid, &c);
	if (r == 0)
		list = cpus_format(&c);
	cpus_free(&c);
	if (r < 0)
		return tmap_error_set(err, r, "cannot read the %s: %s", where, strerror(-r));
	if (!list)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	r = tmap_observed_set(obs, kind, index, list, where);
	if (r < 0)
		return tmap_error_set(err, r, "the %s '%s' is not a list", where, list);
	return 0;
}

/*
 * Memory, for the process: qemu-direct moves pages but sets no limit, so what is in force is
 * where the pages are. The library compares a MEMS observation with the plan as an equal set,
 * while pages of a two-node plan may well sit on one of them: so an observation is recorded
 * only when something is outside the plan, and then says exactly what.
 */
static int
observe_memory(struct state *s, const struct tmap_plan *plan, size_t guest,
	       struct tmap_observed *obs, struct tmap_error *err)
{
	_cleanup_free_ char *allowed_list = NULL, *pages_list = NULL;
	struct cpus want = {0}, allowed = {0}, pages = {0};
	char where[128];
	FILE *f = NULL;
	int r, fd;

	r = plan_nodes(plan, guest, &want, err);
	if (r < 0)
		goto out;
	r = read_mems_allowed(s, &allowed, &allowed_list, err);
	if (r < 0)
		goto out;
	/* The cpuset of the process must let it use the plan's nodes at all. */
	if (!cpus_included(&want, &allowed)) {
		snprintf(where, sizeof(where), "Mems_allowed_list of process %d", (int)s->q.pid);
		r = tmap_observed_set(obs, TMAP_OBSERVED_MEMS, 0, allowed_list, where);
		if (r < 0)
			r = tmap_error_set(err, r, "cannot record the %s", where);
		goto out;
	}
	if (cpus_alloc(&pages, MAX_PROP_ID + 1) < 0) {
		r = tmap_error_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	fd = proc_open_task_file(s->q.task_fd, s->q.pid, "numa_maps");
	if (fd < 0 || !(f = fdopen(fd, "re"))) {
		r = tmap_error_set(err, fd < 0 ? fd : -errno,
			      "cannot open the numa_maps of process %d: %s", (int)s->q.pid,
			      strerror(fd < 0 ? -fd : errno));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	r = proc_numa_maps_nodes(f, &pages);
	fclose(f);
	if (r < 0) {
		r = tmap_error_set(err, r, "cannot read the numa_maps of process %d: %s", (int)s->q.pid,
			      strerror(-r));
		goto out;
	}
	if (!cpus_included(&pages, &want)) {
		pages_list = cpus_format(&pages);
		snprintf(where, sizeof(where),
			 "the nodes holding anonymous pages of process %d (numa_maps)",
			 (int)s->q.pid);
		r = pages_list ? tmap_observed_set(obs, TMAP_OBSERVED_MEMS, 0, pages_list, where)
			       : -ENOMEM;
		if (r < 0)
			r = tmap_error_set(err, r, "cannot record %s", where);
	}
out:
	cpus_free(&want);
	cpus_free(&allowed);
	cpus_free(&pages);
	return r;
}

static int
qd_read_back(void *userdata, const struct tmap_plan *plan, size_t guest, struct tmap_observed *obs,
	     struct tmap_error *err)
{
	struct state *s = userdata;
	_cleanup_free_ pid_t *tids = NULL;
	char where[96];
	size_t n = 0;
	int r;

	r = proc_list_tasks(s->q.task_fd, &tids, &n, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		r = observe_thread(s, tids[i], obs, err);
		if (r < 0)
			return r;
	}
	for (unsigned i = 0; i < s->q.nvcpus; i++) {
		snprintf(where, sizeof(where), "affinity of vcpu %u (thread %d)", i,
			 (int)s->q.vcpus[i].tid);
		r = observe_affinity(s, s->q.vcpus[i].tid, TMAP_OBSERVED_VCPU, i, where, obs, err);
		if (r < 0)
			return r;
	}
	for (unsigned k = 0; k < s->q.niothreads; k++) {
		snprintf(where, sizeof(where), "affinity of iothread %u '%s' (thread %d)", k + 1,
			 s->q.iothreads[k].id, (int)s->q.iothreads[k].tid);
		r = observe_affinity(s, s->q.iothreads[k].tid, TMAP_OBSERVED_IOTHREAD, k + 1, where,
				     obs, err);
		if (r < 0)
			return r;
	}
	/* The main thread stands for the emulator threads; each of them is a task above. */
	snprintf(where, sizeof(where), "affinity of QEMU's main thread %d", (int)s->q.pid);
	r = observe_affinity(s, s->q.pid, TMAP_OBSERVED_EMULATOR, 0, where, obs, err);
	if (r < 0)
		return r;
	return observe_memory(s, plan, guest, obs, err);
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

static int
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
	if (r < 0) {
		tmap_guest_free(g);
		return r;
	}
	*ret = g;
	return 0;
}

/* The process, by its pid and its start time, which together no later process shares. */
static int
qd_identify(const struct tmap_target *target, struct tmap_target *identity,
	    struct tmap_error *err)
{
	_cleanup_close_ int task_fd = -1, pidfd = -1;
	unsigned long long start;
	char text[32];
	pid_t pid;
	int r;

	r = proc_open_process(tmap_target_get(target, "pid"), &pid, err);
	if (r < 0)
		return r;
	task_fd = r;
	r = proc_open_pidfd(task_fd, pid, &pidfd, err);
	if (r < 0)
		return r;
	r = proc_start_time(task_fd, pid, &start);
	if (r < 0)
		return tmap_error_set(err, r == -ENOENT ? -ESRCH : r,
				      "cannot read the start time of process %d: %s", (int)pid,
				      strerror(-r));
	snprintf(text, sizeof(text), "%d", (int)pid);
	r = tmap_target_set(identity, "pid", text);
	snprintf(text, sizeof(text), "%llu", start);
	if (r == 0)
		r = tmap_target_set(identity, "start-time", text);
	return r < 0 ? tmap_error_set(err, r, "cannot record the identity of process %d", (int)pid) : 0;
}

static const char *const target_keys[] = {"qmp", "pid", NULL};

TMAP_BACKEND_EXPORT const struct tmap_backend tmap_backend = {
    .abi = TMAP_BACKEND_ABI,
    .size = sizeof(struct tmap_backend),
    .name = "qemu-direct",
    .summary =
	"a QEMU without libvirt: threads through QMP and sched_setaffinity, pages with migrate_pages",
    .target_keys = target_keys,
    .probe = qd_probe,
    .open = qd_open,
    .apply = qd_apply,
    .read_back = qd_read_back,
    .restore = qd_restore,
    .close = qd_close,
    .describe = qd_describe,
    .identify = qd_identify,
};
