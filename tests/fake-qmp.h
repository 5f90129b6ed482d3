/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A fake QMP server for tests: a thread serving a unix socket with scripted answers, to give
 * a QMP client every fault a real QEMU would take too long, or refuse, to produce: garbage,
 * an early close, error replies, wrong thread ids, replies too large, silence.
 */
#ifndef TOPOMAP_FAKE_QMP_H
#define TOPOMAP_FAKE_QMP_H

#include <stdbool.h>
#include <stddef.h>

/* Special replies (and greetings). */
#define FAKE_QMP_CLOSE "@close" /* close the connection instead of answering */
#define FAKE_QMP_HUGE "@huge"	/* one line of 2 MiB that never ends a JSON object */
#define FAKE_QMP_RAW "@raw:"	/* prefix: send the rest of the text as is, no id added */

/* One command and its answer: a JSON object ("return" or "error") to which the request's
 * "id" is added, or one of the FAKE_QMP_* forms. */
struct fake_qmp_reply {
	const char *command;
	const char *reply;
};

struct fake_qmp_script {
	/* The first line; NULL sends none (a QEMU that never greets). A JSON object or a
	 * FAKE_QMP_* form. */
	const char *greeting;
	/* A line sent before every answer (an event, say), or NULL. */
	const char *before_reply;
	/* Answers, ended by { NULL, NULL }. A command not listed gets CommandNotFound. */
	const struct fake_qmp_reply *replies;
};

struct fake_qmp;

/*
 * Listen on path and serve clients one after another with the script (borrowed: it must
 * outlive the server) until fake_qmp_stop().
 * @return 0 or -errno.
 */
int fake_qmp_start(const char *path, const struct fake_qmp_script *script, struct fake_qmp **ret);

/* Stop the server, remove its socket. @return the number of commands it received. */
unsigned fake_qmp_stop(struct fake_qmp *f);

/* The thread id of the server's thread: a thread of this process, not of any QEMU. */
int fake_qmp_tid(const struct fake_qmp *f);

#endif
