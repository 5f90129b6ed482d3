/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared by the files of the qemu-direct backend: small helpers and the QMP client (qmp.c).
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

#endif
