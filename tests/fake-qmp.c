/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A fake QMP server for tests: see fake-qmp.h. */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fake-qmp.h"

#define HUGE_SIZE (2u << 20)

struct fake_qmp {
	int listen_fd;
	int stop[2]; /* the test writes to stop[1] to end the server */
	int ready[2];
	char path[108];
	const struct fake_qmp_script *script;
	pthread_t thread;
	int tid;
	unsigned commands;
};

/* Wait for fd to be ready, or for the stop pipe: 1 ready, 0 stopped. */
static int
wait_for(struct fake_qmp *f, int fd, short events)
{
	struct pollfd p[2] = {{.fd = fd, .events = events}, {.fd = f->stop[0], .events = POLLIN}};

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 0;
		}
		if (p[1].revents)
			return 0;
		if (p[0].revents)
			return 1;
	}
}

/* Send everything, unless the client goes away or the server is stopped. */
static int
send_all(struct fake_qmp *f, int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			data += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (!wait_for(f, fd, POLLOUT))
				return -1;
			continue;
		}
		return -1;
	}
	return 0;
}

static int
send_line(struct fake_qmp *f, int fd, const char *text)
{
	if (send_all(f, fd, text, strlen(text)) < 0)
		return -1;
	return send_all(f, fd, "\r\n", 2);
}

static int
send_huge(struct fake_qmp *f, int fd)
{
	char *big = malloc(HUGE_SIZE + 1);
	int r;

	if (!big)
		return -1;
	big[0] = '[';
	memset(big + 1, '1', HUGE_SIZE - 1);
	big[HUGE_SIZE] = '\0';
	r = send_line(f, fd, big);
	free(big);
	return r;
}

/* Send the answer of the script; -1 when the connection must end. */
static int
answer(struct fake_qmp *f, int fd, const char *text, json_object *id)
{
	json_object *o;
	int r;

	if (strcmp(text, FAKE_QMP_CLOSE) == 0)
		return -1;
	if (strcmp(text, FAKE_QMP_HUGE) == 0)
		return send_huge(f, fd);
	if (strncmp(text, FAKE_QMP_RAW, strlen(FAKE_QMP_RAW)) == 0)
		return send_line(f, fd, text + strlen(FAKE_QMP_RAW));
	o = json_tokener_parse(text);
	if (!o) {
		fprintf(stderr, "fake-qmp: the script's reply is not JSON: %s\n", text);
		return -1;
	}
	if (id)
		json_object_object_add(o, "id", json_object_get(id));
	r = send_line(f, fd, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return r;
}

static const char *
reply_for(const struct fake_qmp_script *s, const char *command)
{
	for (const struct fake_qmp_reply *r = s->replies; r && r->command; r++)
		if (strcmp(r->command, command) == 0)
			return r->reply;
	return "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command has not been found\"}}";
}

/* One line from the client: run the command it names. */
static int
handle_line(struct fake_qmp *f, int fd, const char *line)
{
	json_object *req = json_tokener_parse(line), *cmd = NULL, *id = NULL;
	int r = -1;

	if (!req)
		return -1;
	__atomic_add_fetch(&f->commands, 1, __ATOMIC_SEQ_CST);
	json_object_object_get_ex(req, "id", &id);
	if (json_object_object_get_ex(req, "execute", &cmd)) {
		r = 0;
		if (f->script->before_reply)
			r = answer(f, fd, f->script->before_reply, NULL);
		if (r == 0)
			r = answer(f, fd, reply_for(f->script, json_object_get_string(cmd)), id);
	}
	json_object_put(req);
	return r;
}

static void
serve(struct fake_qmp *f, int fd)
{
	char buf[65536];
	size_t len = 0;

	if (f->script->greeting && answer(f, fd, f->script->greeting, NULL) < 0)
		return;
	for (;;) {
		char *nl;
		ssize_t n;

		while ((nl = memchr(buf, '\n', len))) {
			*nl = '\0';
			/* Without a greeting, the server says nothing at all. */
			if (f->script->greeting && handle_line(f, fd, buf) < 0)
				return;
			len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len);
		}
		if (len == sizeof(buf) || !wait_for(f, fd, POLLIN))
			return;
		n = recv(fd, buf + len, sizeof(buf) - len, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			return;
		len += (size_t)n;
	}
}

static void *
run(void *userdata)
{
	struct fake_qmp *f = userdata;

	f->tid = gettid();
	(void)!write(f->ready[1], "", 1);
	while (wait_for(f, f->listen_fd, POLLIN)) {
		int fd = accept4(f->listen_fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0)
			continue;
		serve(f, fd);
		close(fd);
	}
	return NULL;
}

static void
close_fds(struct fake_qmp *f)
{
	int fds[] = {f->listen_fd, f->stop[0], f->stop[1], f->ready[0], f->ready[1]};

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

int
fake_qmp_start(const char *path, const struct fake_qmp_script *script, struct fake_qmp **ret)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct fake_qmp *f;
	char c;
	int r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->listen_fd = f->stop[0] = f->stop[1] = f->ready[0] = f->ready[1] = -1;
	f->script = script;
	snprintf(f->path, sizeof(f->path), "%s", path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	f->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (f->listen_fd < 0 || pipe2(f->stop, O_CLOEXEC) < 0 || pipe2(f->ready, O_CLOEXEC) < 0) {
		r = -errno;
		goto fail;
	}
	unlink(path);
	if (bind(f->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(f->listen_fd, 4) < 0) {
		r = -errno;
		goto fail;
	}
	r = -pthread_create(&f->thread, NULL, run, f);
	if (r < 0)
		goto fail;
	(void)!read(f->ready[0], &c, 1);
	*ret = f;
	return 0;
fail:
	close_fds(f);
	free(f);
	return r;
}

unsigned
fake_qmp_stop(struct fake_qmp *f)
{
	unsigned n;

	if (!f)
		return 0;
	(void)!write(f->stop[1], "", 1);
	pthread_join(f->thread, NULL);
	close_fds(f);
	unlink(f->path);
	n = f->commands;
	free(f);
	return n;
}

int
fake_qmp_tid(const struct fake_qmp *f)
{
	return f->tid;
}
