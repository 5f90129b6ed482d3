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

#include <topomap/plugin.h>

#include "qemu-direct.h"
#include "vcpu-sched.h"

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
	struct sched_set sched; /* the vcpu threads' scheduling classes (realtime vcpus) */
	bool resize;		/* TMAP_APPLY_RESIZE: the plan's vcpu count may differ */
};

/* ---------------------------------------------------------------------------------------- */
/* Reading QEMU */

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
	sched_set_clear(&s->sched);
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
	s->resize = flags & TMAP_APPLY_RESIZE;
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

	/* A plan for another guest would leave threads unpinned or pin what is not there. A
	 * resize pins the vcpus that run; the others wait for QEMU's next start (the library
	 * reports that as pending) or, beyond the plan, keep their affinity until then. */
	if (vcpus != q->nvcpus && !s->resize)
		return tmap_error_set(err, -EINVAL,
				 "guest '%s' of the plan has %u vcpus; QEMU process %d runs %u",
				 name ? name : "?", vcpus, (int)q->pid, q->nvcpus);
	if (vcpus > q->nvcpus)
		vcpus = q->nvcpus;
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

/* Each vcpu thread's scheduling class, and what the plan wants of it (realtime vcpus). */
static int
capture_sched(struct state *s, const struct tmap_plan *plan, size_t guest,
	      struct tmap_error *err)
{
	sched_set_clear(&s->sched);
	for (unsigned i = 0; i < s->q.nvcpus; i++) {
		int r = sched_capture(&s->sched, s->q.vcpus[i].tid, i, err);

		if (r == -ESRCH)
			return thread_gone(&s->q, TMAP_TASK_VCPU, i, s->q.vcpus[i].tid, "apply",
					   err);
		if (r < 0)
			return r;
	}
	return sched_plan(&s->sched, plan, guest, err);
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
	r = capture_sched(s, plan, guest, err);
	if (r < 0)
		goto out;

	/* vcpus first, by number, then iothreads, then the rest: the journal reads in that
	 * order, and the threads that matter most are placed first. */
	for (unsigned i = 0; i < w.nvcpus && r == 0; i++) {
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
	if (r == 0)
		r = sched_apply(&s->sched, j, err);
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
	first = sched_restore(&s->sched, j, err);
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
		if (r == 0)
			r = sched_observe(s->q.vcpus[i].tid, i, plan, guest, obs, err);
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
    .apply_flags = TMAP_APPLY_RESIZE,
};
