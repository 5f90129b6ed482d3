/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A QMP client: one unix socket, one JSON object per line each way. QEMU is another process
 * that may be wedged, dead, or not QEMU at all, so every wait has a deadline, every reply a
 * size limit, and every reply is checked to be the one asked for before it is used.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "qemu-direct.h"

struct qmp {
	int fd;
	char *path;
	char *buf; /* bytes received and not yet taken; never more than QMP_MAX_REPLY + 1 */
	size_t len;
	size_t taken; /* bytes of the line read_line() returned, its end of line included */
	unsigned next_id;
};

struct qmp *
qmp_close(struct qmp *q)
{
	if (!q)
		return NULL;
	if (q->fd >= 0)
		close(q->fd);
	free(q->path);
	free(q->buf);
	free(q);
	return NULL;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A short, printable excerpt of what the peer sent, for a message. */
static void
excerpt(const char *s, size_t len, char *buf, size_t size)
{
	size_t n = 0;

	for (size_t i = 0; i < len && n + 4 < size; i++)
		buf[n++] = (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\'') ? s[i] : '?';
	if (len && n + 4 >= size) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
}

/* Wait until fd is ready for `events` or the deadline passes. */
static int
wait_fd(struct qmp *q, short events, long long deadline)
{
	for (;;) {
		struct pollfd p = {.fd = q->fd, .events = events};
		long long left = deadline - now_ms();
		int r;

		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)left);
		if (r > 0)
			return 0;
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

/* The next line the peer sends, without its "\r\n", NUL-terminated in q->buf; the caller drops
 * it with drop_line() once done with it. */
static int
read_line(struct qmp *q, const char *what, long long deadline, char **ret, size_t *ret_len,
	  struct tmap_error *err)
{
	for (;;) {
		char *nl = memchr(q->buf, '\n', q->len);
		ssize_t n;
		int r;

		if (nl) {
			size_t len = (size_t)(nl - q->buf);

			q->taken = len + 1;
			*nl = '\0';
			if (len && q->buf[len - 1] == '\r')
				q->buf[--len] = '\0';
			*ret = q->buf;
			*ret_len = len;
			return 0;
		}
		if (q->len > QMP_MAX_REPLY)
			return tmap_error_set(
			    err, -EMSGSIZE,
			    "QMP socket '%s' sent more than %u bytes in one message for %s: refused",
			    q->path, QMP_MAX_REPLY, what);
		r = wait_fd(q, POLLIN, deadline);
		if (r == -ETIMEDOUT)
			return tmap_error_set(
			    err, r, "QMP socket '%s' sent no %s within %d s%s", q->path, what,
			    QMP_TIMEOUT_MS / 1000,
			    streq(what, "greeting")
				? " (QEMU serves one QMP client at a time: is another one connected?)"
				: "");
		if (r < 0)
			return tmap_error_set(err, r, "cannot wait for QMP socket '%s': %s", q->path,
					 strerror(-r));
		n = read(q->fd, q->buf + q->len, QMP_MAX_REPLY + 1 - q->len);
		if (n == 0)
			return tmap_error_set(
			    err, -ECONNRESET,
			    "QMP socket '%s' closed the connection before its %s (did QEMU exit?)",
			    q->path, what);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return tmap_error_set(err, -errno, "cannot read QMP socket '%s': %s", q->path,
					 strerror(errno));
		}
		q->len += (size_t)n;
	}
}

static void
drop_line(struct qmp *q)
{
	q->len -= q->taken;
	memmove(q->buf, q->buf + q->taken, q->len);
	q->taken = 0;
}

/*
 * The next message that is not an event: one JSON object on one line, strictly parsed, with
 * nothing after it. QEMU sends events ({"event": ...}) at any time; they are skipped.
 */
static int
read_message(struct qmp *q, const char *what, long long deadline, json_object **ret,
	     struct tmap_error *err)
{
	for (;;) {
		struct json_tokener *tok;
		json_object *o;
		char *line = NULL;
		size_t len = 0;
		bool whole;
		int r;

		r = read_line(q, what, deadline, &line, &len, err);
		if (r < 0)
			return r;
		if (len == 0) {
			drop_line(q);
			continue;
		}
		tok = json_tokener_new();
		if (!tok)
			return tmap_error_set(err, -ENOMEM, "out of memory");
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
		o = json_tokener_parse_ex(tok, line, (int)len);
		whole = o && json_tokener_get_error(tok) == json_tokener_success &&
			json_tokener_get_parse_end(tok) == len;
		json_tokener_free(tok);
		if (!whole || !json_object_is_type(o, json_type_object)) {
			char text[72];

			excerpt(line, len, text, sizeof(text));
			if (o)
				json_object_put(o);
			return tmap_error_set(
			    err, -EBADMSG,
			    "QMP socket '%s' sent something that is not a QMP message for %s: '%s'",
			    q->path, what, text);
		}
		drop_line(q);
		if (json_object_object_get_ex(o, "event", NULL)) {
			json_object_put(o);
			continue;
		}
		*ret = o;
		return 0;
	}
}

static int
send_line(struct qmp *q, const char *line, size_t len, const char *command, long long deadline,
	  struct tmap_error *err)
{
	while (len) {
		ssize_t n;
		int r;

		/* send(), not write(): a peer that went away is an error here, not a SIGPIPE. */
		n = send(q->fd, line, len, MSG_NOSIGNAL);
		if (n >= 0) {
			line += n;
			len -= (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return tmap_error_set(err, errno == EPIPE ? -ECONNRESET : -errno,
					 "cannot send '%s' to QMP socket '%s': %s", command,
					 q->path, strerror(errno));
		r = wait_fd(q, POLLOUT, deadline);
		if (r < 0)
			return tmap_error_set(err, r, "QMP socket '%s' took no command '%s' within %d s",
					 q->path, command, QMP_TIMEOUT_MS / 1000);
	}
	return 0;
}

int
qmp_execute_args(struct qmp *q, const char *command, json_object *args, json_object **ret,
		 struct tmap_error *err)
{
	long long deadline = now_ms() + QMP_TIMEOUT_MS;
	_cleanup_json_ json_object *reply = NULL, *message = json_object_new_object();
	json_object *id, *value, *error, *class, *desc;
	_cleanup_free_ char *line = NULL;
	char what[128];
	unsigned want = ++q->next_id;
	int r;

	/* json-c writes the command, its arguments and the id, quoted as JSON wants them */
	if (!message ||
	    json_object_object_add(message, "execute", json_object_new_string(command)) < 0 ||
	    (args && json_object_object_add(message, "arguments", json_object_get(args)) < 0) ||
	    json_object_object_add(message, "id", json_object_new_int64(want)) < 0 ||
	    asprintf(&line, "%s\n",
		     json_object_to_json_string_ext(message, JSON_C_TO_STRING_PLAIN)) < 0) {
		line = NULL;
		return tmap_error_set(err, -ENOMEM, "out of memory");
	}
	r = send_line(q, line, strlen(line), command, deadline, err);
	if (r < 0)
		return r;
	snprintf(what, sizeof(what), "reply to '%s'", command);
	r = read_message(q, what, deadline, &reply, err);
	if (r < 0)
		return r;
	/* Each command carries its own id: a reply to anything else is not an answer. */
	if (!json_object_object_get_ex(reply, "id", &id) ||
	    !json_object_is_type(id, json_type_int) || json_object_get_int64(id) != want)
		return tmap_error_set(
		    err, -EBADMSG,
		    "QMP socket '%s' answered something else than '%s' (the reply's id is not %u)",
		    q->path, command, want);
	if (json_object_object_get_ex(reply, "error", &error)) {
		const char *c = "?", *d = "";
		char text[256];

		if (json_object_object_get_ex(error, "class", &class) &&
		    json_object_is_type(class, json_type_string))
			c = json_object_get_string(class);
		if (json_object_object_get_ex(error, "desc", &desc) &&
		    json_object_is_type(desc, json_type_string))
			d = json_object_get_string(desc);
		excerpt(d, strlen(d), text, sizeof(text));
		return tmap_error_set(err, streq(c, "CommandNotFound") ? -EOPNOTSUPP : -EREMOTEIO,
				 "QEMU refused '%s': '%s' (QMP error class '%.40s')", command, text,
				 c);
	}
	if (!json_object_object_get_ex(reply, "return", &value))
		return tmap_error_set(
		    err, -EBADMSG,
		    "QMP socket '%s' answered '%s' with neither \"return\" nor \"error\"", q->path,
		    command);
	*ret = json_object_get(value);
	return 0;
}

int
qmp_execute(struct qmp *q, const char *command, json_object **ret, struct tmap_error *err)
{
	return qmp_execute_args(q, command, NULL, ret, err);
}

int
qmp_connect(const char *path, pid_t peer, struct qmp **ret, struct tmap_error *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_(qmp_closep) struct qmp *q = NULL;
	_cleanup_json_ json_object *greeting = NULL, *caps = NULL;
	int r;

	if (!path || !*path)
		return tmap_error_set(err, -EINVAL, "the qemu-direct backend needs --qmp SOCKET");
	if (strlen(path) >= sizeof(sa.sun_path))
		return tmap_error_set(err, -ENAMETOOLONG,
				 "QMP socket path '%s' is longer than %zu bytes", path,
				 sizeof(sa.sun_path) - 1);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	q = calloc(1, sizeof(*q));
	if (!q)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	q->fd = -1;
	q->path = strdup(path);
	q->buf = malloc(QMP_MAX_REPLY + 1);
	if (!q->path || !q->buf)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (q->fd < 0)
		return tmap_error_set(err, -errno, "cannot make a unix socket: %s", strerror(errno));
	if (connect(q->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		switch (errno) {
		case ENOENT:
			return tmap_error_set(err, -ENOENT, "no QMP socket at '%s'", path);
		case ECONNREFUSED:
			return tmap_error_set(err, -ECONNREFUSED,
					 "nothing listens on QMP socket '%s' (did QEMU exit?)",
					 path);
		case EAGAIN:
			return tmap_error_set(err, -EAGAIN,
					 "QMP socket '%s' takes no more connections now", path);
		default:
			return tmap_error_set(err, -errno, "cannot connect to QMP socket '%s': %s", path,
					 strerror(errno));
		}
	}
	/* Whose socket it is, before a word of it is believed: the process that listens on it
	 * must be the one whose threads will be pinned. */
	if (peer > 0) {
		struct ucred cred;
		socklen_t len = sizeof(cred);

		if (getsockopt(q->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
			return tmap_error_set(err, -errno, "cannot tell which process serves QMP socket '%s': %s",
					 path, strerror(errno));
		if (cred.pid != peer)
			return tmap_error_set(err, -EINVAL,
					 "QMP socket '%s' is served by process %d, not by --pid %d: refused, nothing was changed (do --qmp and --pid name the same QEMU?)",
					 path, (int)cred.pid, (int)peer);
	}
	r = read_message(q, "greeting", now_ms() + QMP_TIMEOUT_MS, &greeting, err);
	if (r < 0)
		return r;
	if (!json_object_object_get_ex(greeting, "QMP", NULL))
		return tmap_error_set(err, -EBADMSG,
				 "'%s' is not a QMP socket: its first message is no QMP greeting",
				 path);
	r = qmp_execute(q, "qmp_capabilities", &caps, err);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(q);
	return 0;
}
