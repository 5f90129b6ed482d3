/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared by the files of the qemu-direct backend: small helpers, the QMP client (qmp.c) and
 * what one QEMU is (qemu-query.c); qemu-direct.c holds the callbacks.
 * CPU sets (cpus.h) and the process under /proc (proc.h) have headers of their own, without
 * helpers, that tests/test-qemu-direct.c includes next to the core's. Only the public headers
 * of libtopomap are used, with the project's header-only helpers (common/util.h).
 */
#ifndef TOPOMAP_QEMU_DIRECT_H
#define TOPOMAP_QEMU_DIRECT_H

#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <json-c/json.h>
#include <topomap/plugin.h>
#include <topomap/topomap.h>

#include "cpus.h"
#include "proc.h"
#include "util.h"

static inline void
json_putp(json_object **o)
{
	if (*o)
		json_object_put(*o);
}
#define _cleanup_json_ _cleanup_(json_putp)

/* ---------------------------------------------------------------------------------------- */
/* qmp.c: a QMP client on a unix socket */

/* Every read waits at most this long: a QEMU that stops answering must not hang topomap. */
#define QMP_TIMEOUT_MS 5000
/* The longest reply line taken; query-cpus-fast of 4096 vcpus is about 750 KiB. */
#define QMP_MAX_REPLY (1u << 20)

struct qmp;

/* Connect, check that the process serving the socket is `peer` (SO_PEERCRED; not checked
 * when peer is 0), read the greeting and negotiate capabilities. */
int qmp_connect(const char *path, pid_t peer, struct qmp **ret, struct tmap_error *err);
struct qmp *qmp_close(struct qmp *q);
static inline void
qmp_closep(struct qmp **q)
{
	qmp_close(*q);
}

/*
 * Run one command without arguments. *ret receives its "return" value (owned by the caller).
 * -EOPNOTSUPP when QEMU does not know the command (error class CommandNotFound), -EREMOTEIO
 * for any other error reply, -EBADMSG for a reply that is not QMP, -ETIMEDOUT, -ECONNRESET,
 * -EMSGSIZE for a reply over QMP_MAX_REPLY.
 */
int qmp_execute(struct qmp *q, const char *command, json_object **ret, struct tmap_error *err);

/* The same with arguments (a JSON object, borrowed; NULL for none). */
int qmp_execute_args(struct qmp *q, const char *command, json_object *args, json_object **ret,
		     struct tmap_error *err);

/* ---------------------------------------------------------------------------------------- */
/* qemu-query.c: one QEMU, as QMP says and /proc confirms */

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
	char *host_nodes;  /* list syntax; "" when unbound */
	uint64_t page_kib; /* describe only: hugepage size of its memory, 0 normal pages */
};

/* A vfio-pci device of the guest (describe only). */
struct qemu_device {
	char host[16];	/* the host bus id it passes through */
	int root_bus;	/* the guest root bus it hangs under */
	int node;	/* the guest NUMA node of that bus (a pxb's numa_node), -1 none */
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
	uint64_t page_kib; /* hugepage size of the guest's memory, 0: normal pages */
	unsigned ndevices;
	struct qemu_device *devices;
};

void qemu_clear(struct qemu *q);
int qemu_read(const struct tmap_target *target, bool describe, struct qemu *q,
	      struct tmap_error *err);
int qd_describe(const struct tmap_target *target, struct tmap_guest **ret, struct tmap_error *err);

/* qemu-devices.c: the vfio-pci devices and their guest nodes (issue 16). QOM reads go through
 * get (ctx, device id, property, ret): 0 with *ret, -ENOENT when there is no such property,
 * another -errno when QMP fails; tests give their own. */
struct qom_lookup {
	int (*get)(void *ctx, const char *id, const char *property, json_object **ret);
	void *ctx;
};
int qemu_devices_from_pci(json_object *buses, struct qom_lookup *qom, struct qemu *q,
			  struct tmap_error *err);
int qemu_read_devices(struct qmp *qmp, struct qemu *q, struct tmap_error *err);


#endif
