/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a QMP socket sends the qemu-direct backend: the greeting, then the replies to
 * qmp_capabilities, query-cpus-fast, query-iothreads, query-memdev, query-name,
 * query-memory-size-summary and x-query-numa, one line each, with events anywhere between.
 * The input is that stream; the client (qmp.c) reads it from a socketpair and the backend
 * (qemu-direct.c) interprets each reply exactly as qemu_read() does. Both files are compiled
 * in, as their parsers are static. The peer closes after the input, so a short stream ends in
 * ECONNRESET at once, never in the 5 s timeout.
 */
#include <sys/socket.h>

#include "../plugins/qemu-direct/qmp.c"
#include "../plugins/qemu-direct/qemu-direct.c"
#include "../plugins/qemu-direct/qemu-query.c"
#include "../plugins/qemu-direct/qemu-devices.c"

#include "fuzz-common.h"

/* Well under a unix socket's send buffer: the whole input is written before it is read. */
#define MAX_STREAM (64u << 10)

static int
session(struct qmp *q, struct qemu *qemu)
{
	_cleanup_json_ json_object *greeting = NULL, *caps = NULL, *cpus = NULL,
				   *iothreads = NULL, *memdevs = NULL;
	int r;

	r = read_message(q, "greeting", now_ms() + QMP_TIMEOUT_MS, &greeting, NULL);
	if (r < 0 || !json_object_object_get_ex(greeting, "QMP", NULL))
		return -EBADMSG;
	r = qmp_execute(q, "qmp_capabilities", &caps, NULL);
	if (r < 0)
		return r;
	r = qmp_execute(q, "query-cpus-fast", &cpus, NULL);
	if (r < 0 || (r = parse_vcpus(qemu, cpus, NULL)) < 0)
		return r;
	r = qmp_execute(q, "query-iothreads", &iothreads, NULL);
	if (r < 0 || (r = parse_iothreads(qemu, iothreads, NULL)) < 0)
		return r;
	r = qmp_execute(q, "query-memdev", &memdevs, NULL);
	if (r < 0 || (r = parse_memdevs(qemu, memdevs, NULL)) < 0)
		return r;
	return read_guest_extras(qemu, q, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qemu qemu = {.task_fd = -1};
	struct qmp *q;
	int sv[2];

	if (size > MAX_STREAM)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	for (size_t done = 0; done < size;) {
		ssize_t n = send(sv[1], data + done, size - done, MSG_NOSIGNAL);

		if (n <= 0)
			abort();
		done += (size_t)n;
	}
	shutdown(sv[1], SHUT_WR);

	q = calloc(1, sizeof(*q));
	if (!q)
		abort();
	q->fd = sv[0];
	q->path = strdup("fuzz.sock");
	q->buf = malloc(QMP_MAX_REPLY + 1);
	if (!q->path || !q->buf)
		abort();
	(void)session(q, &qemu);
	qemu_clear(&qemu);
	qmp_close(q);
	close(sv[1]);
	return 0;
}
