/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The libvirt backend's connection: libvirt's errors as codes and messages, connecting and
 * finding the domain, and finding it again when libvirtd went away and came back.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include <libxml/uri.h>

#include "libvirt-domain.h"

/*
 * libvirt prints every error on stderr unless told otherwise, and a library never prints. Each
 * connection gets a handler that keeps quiet (the error stays libvirt's last error, which is
 * read at each failure); the process-wide handler (virSetErrorFunc) is the program's, and is
 * left alone. A failure to connect has no connection yet: libvirt reports it through that
 * process-wide handler, whose default prints one line.
 */
static void
silent_error(void *userdata, virErrorPtr error)
{
}

static virConnectPtr
open_quiet(const char *uri, bool readonly)
{
	virConnectPtr conn = readonly ? virConnectOpenReadOnly(uri) : virConnectOpen(uri);

	if (conn)
		virConnSetErrorFunc(conn, NULL, silent_error);
	return conn;
}

int
last_error_code(void)
{
	virErrorPtr e = virGetLastError();

	if (!e)
		return -EIO;
	switch (e->code) {
	case VIR_ERR_NO_DOMAIN:
		return -ENOENT;
	case VIR_ERR_INVALID_ARG:
	case VIR_ERR_XML_ERROR:
		return -EINVAL;
	case VIR_ERR_NO_SUPPORT:
	case VIR_ERR_ARGUMENT_UNSUPPORTED:
	case VIR_ERR_CONFIG_UNSUPPORTED:
		return -EOPNOTSUPP;
	case VIR_ERR_OPERATION_INVALID:
	case VIR_ERR_OPERATION_DENIED:
	case VIR_ERR_ACCESS_DENIED:
	case VIR_ERR_AUTH_FAILED:
		return -EPERM;
	case VIR_ERR_SYSTEM_ERROR:
		/* libvirt keeps the errno of a failed system call (ERANGE from a cgroup write). */
		return e->int1 > 0 ? -e->int1 : -EIO;
	default:
		return -EIO;
	}
}

const char *
last_error_text(void)
{
	const char *m = virGetLastErrorMessage();

	return m && *m ? m : "unknown libvirt error";
}
/*
 * libvirt's last error, as the code it maps to and its text in buf; when the call failed because
 * the connection died (libvirtd killed, crashed, restarted), -ENOTCONN and a text that says
 * so first, since libvirt's own ("End of file while reading data") does not. The check resets
 * libvirt's last error: read everything else of it before.
 */
int
last_failure(struct lv *lv, char *buf, size_t size)
{
	char text[TMAP_ERROR_MAX];
	const char *call = lv && lv->call ? lv->call : NULL;
	int code = last_error_code();

	snprintf(text, sizeof(text), "%s", last_error_text());
	if (lv)
		lv->call = NULL;
	if (lv && lv->conn && virConnectIsAlive(lv->conn) == 0) {
		lv->gone = true;
		snprintf(buf, size, "libvirtd at '%.100s' went away%s%.64s (%.300s)", lv->uri,
			 call ? " during " : "", call ? call : "", text);
		return -ENOTCONN;
	}
	snprintf(buf, size, "%s", text);
	return code;
}
int
lv_error(struct lv *lv, struct tmap_error *err, const char *fmt, ...)
{
	char what[TMAP_ERROR_MAX], why[TMAP_ERROR_MAX];
	int code = last_failure(lv, why, sizeof(why));
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return tmap_error_set(err, code, "%s: %s", what, why);
}

/*
 * Could a failed call have changed something? libvirt checks flags, arguments and the
 * domain's state before it acts; a failed system call may come after one that worked (a vcpu's
 * cgroup written, then its affinity refused). A call on both sides may also have done one side
 * before the other refused it.
 */
static bool
may_have_acted(unsigned flags)
{
	virErrorPtr e = virGetLastError();

	if (!e || flags == (VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG))
		return true;
	switch (e->code) {
	case VIR_ERR_INVALID_ARG:
	case VIR_ERR_NO_SUPPORT:
	case VIR_ERR_ARGUMENT_UNSUPPORTED:
	case VIR_ERR_OPERATION_INVALID:
	case VIR_ERR_OPERATION_UNSUPPORTED:
	case VIR_ERR_CONFIG_UNSUPPORTED:
	case VIR_ERR_OPERATION_DENIED:
	case VIR_ERR_ACCESS_DENIED:
	case VIR_ERR_NO_DOMAIN:
		return false;
	default:
		return true;
	}
}

/* Note a write made, unless libvirt refused it before acting. Returns whether it counts. */
bool
wrote(struct lv *lv, int rc, unsigned flags)
{
	if (rc < 0 && !may_have_acted(flags))
		return false;
	lv->written = true;
	return true;
}

int
oom(struct tmap_error *err)
{
	return tmap_error_set(err, -ENOMEM, "out of memory");
}

/* ---------------------------------------------------------------------------------------- */
/* Connecting */

const char *
uri_text(const char *uri)
{
	return uri ? uri : "libvirt's default URI";
}

int
connect_uri(const char *uri, bool readonly, virConnectPtr *ret, struct tmap_error *err)
{
	virConnectPtr conn;
	int code;

	conn = open_quiet(uri, readonly);
	if (!conn) {
		virErrorPtr e = virGetLastError();

		/* A URI no driver takes is the user's; anything else is a daemon not reached. */
		code = e && (e->code == VIR_ERR_NO_CONNECT || e->code == VIR_ERR_INVALID_ARG) ?
			       -EINVAL : -ECONNREFUSED;
		return tmap_error_set(err, code, "cannot connect to libvirt at '%s': %s", uri_text(uri),
				 last_error_text());
	}
	*ret = conn;
	return 0;
}

void
lv_free(struct lv *lv)
{
	if (!lv)
		return;
	for (unsigned i = 0; i < 2; i++) {
		struct view *v = &lv->views[i];

		free(v->vcpu_maps);
		free(v->emulator_map);
		free(v->iothread_ids);
		free(v->iothread_maps);
		free(v->numa_nodeset);
		free(v->xml);
		domain_numa_clear(&v->numa);
	}
	if (lv->dom)
		virDomainFree(lv->dom);
	if (lv->conn)
		virConnectClose(lv->conn);
	free(lv->name);
	free(lv->uri);
	free(lv->conn_uri);
	free(lv->host_nodes);
	free(lv);
}

void
lv_freep(struct lv **lv)
{
	lv_free(*lv);
}

/* Connect and find the domain: by name, then by UUID. */
int
lv_new(const struct tmap_target *target, bool readonly, struct lv **ret, struct tmap_error *err)
{
	_cleanup_(lv_freep) struct lv *lv = NULL;
	const char *uri = tmap_target_get(target, "connect");
	const char *domain = tmap_target_get(target, "domain");
	int r;

	if (!domain || !*domain)
		return tmap_error_set(err, -EINVAL, "backend 'libvirt' needs --domain NAME|UUID");
	lv = calloc(1, sizeof(*lv));
	if (!lv || !(lv->uri = strdup(uri_text(uri))))
		return oom(err);
	lv->readonly = readonly;
	r = connect_uri(uri, readonly, &lv->conn, err);
	if (r < 0)
		return r;
	lv->dom = virDomainLookupByName(lv->conn, domain);
	if (!lv->dom) {
		virErrorPtr e = virGetLastError();

		if (e && e->code != VIR_ERR_NO_DOMAIN)
			return lv_error(lv, err, "cannot look up domain '%s' at '%s'", domain,
					lv->uri);
		lv->dom = virDomainLookupByUUIDString(lv->conn, domain);
		if (!lv->dom)
			return tmap_error_set(err, -ENOENT, "no domain named '%s' (nor with that UUID) at '%s'",
					 domain, lv->uri);
	}
	lv->name = strdup(virDomainGetName(lv->dom));
	if (!lv->name)
		return oom(err);
	r = virDomainIsActive(lv->dom);
	if (r < 0)
		return lv_error(lv, err, "cannot tell whether domain '%s' runs", lv->name);
	lv->active = r;
	r = virDomainIsPersistent(lv->dom);
	if (r < 0)
		return lv_error(lv, err, "cannot tell whether domain '%s' is persistent", lv->name);
	lv->persistent = r;
	lv->id = virDomainGetID(lv->dom);
	lv->conn_uri = virConnectGetURI(lv->conn);
	if (!lv->conn_uri)
		return lv_error(lv, err, "cannot read the URI of the connection to '%s'", lv->uri);
	if (virDomainGetUUID(lv->dom, lv->uuid) < 0)
		return lv_error(lv, err, "cannot read the UUID of domain '%s'", lv->name);
	*ret = TAKE_PTR(lv);
	return 0;
}

/* The sides --live and --config ask for, as virsh reads them. */
int
lv_views(struct lv *lv, const struct tmap_target *target, struct tmap_error *err)
{
	bool live = tmap_target_get(target, "live") != NULL;
	bool config = tmap_target_get(target, "config") != NULL;

	if (!live && !config) {
		lv->set_flags = VIR_DOMAIN_AFFECT_CURRENT;
		lv->views[0] = (struct view){lv->active ? "live" : "config", !lv->active,
					     VIR_DOMAIN_AFFECT_CURRENT};
		lv->nviews = 1;
		return 0;
	}
	if (live && !lv->active)
		return tmap_error_set(err, -EINVAL,
				 "domain '%s' is not running: --live needs a running domain (use --config)",
				 lv->name);
	if (config && !lv->persistent)
		return tmap_error_set(err, -EINVAL,
				 "domain '%s' is transient: it has no persistent definition for --config (use --live)",
				 lv->name);
	if (live)
		lv->views[lv->nviews++] = (struct view){"live", false, VIR_DOMAIN_AFFECT_LIVE};
	if (config)
		lv->views[lv->nviews++] = (struct view){"config", true, VIR_DOMAIN_AFFECT_CONFIG};
	lv->set_flags = (live ? VIR_DOMAIN_AFFECT_LIVE : 0) |
			(config ? VIR_DOMAIN_AFFECT_CONFIG : 0);
	return 0;
}

const char *
flags_text(const struct lv *lv, unsigned flags)
{
	if (flags == VIR_DOMAIN_AFFECT_CURRENT)
		return lv->active ? "current: live" : "current: config";
	if (flags == (VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG))
		return "live|config";
	return flags & VIR_DOMAIN_AFFECT_LIVE ? "live" : "config";
}

/* Is the URI the local system QEMU driver, whose pid files this host has? */
bool
local_qemu(const struct lv *lv)
{
	xmlURIPtr u = lv->conn_uri ? xmlParseURI(lv->conn_uri) : NULL;
	bool local;

	if (!u)
		return false;
	local = u->scheme && (streq(u->scheme, "qemu") || streq(u->scheme, "qemu+unix")) &&
		(!u->server || !*u->server) && u->path && streq(u->path, "/system");
	xmlFreeURI(u);
	return local;
}

/* Does something accept connections on this unix socket? */
static bool
socket_accepts(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	return fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
}

/*
 * Is it worth trying to connect again? A failed virConnectOpen() is reported through
 * libvirt's process-wide handler, which prints by default: for the local system driver,
 * whose sockets are known, only once a daemon listens. Other URIs are tried each time.
 */
static bool
daemon_may_answer(const struct lv *lv)
{
	return !local_qemu(lv) || socket_accepts(LIBVIRTD_SOCKET) ||
	       socket_accepts(VIRTQEMUD_SOCKET);
}

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * libvirtd went away during the transaction. The domain's QEMU runs on without it; a daemon
 * that comes back (systemd restarts it, socket activation starts it) finds it again. Wait for
 * it a bounded time, then find the same domain by UUID. A running domain with another id was
 * restarted meanwhile: the QEMU apply changed is gone, and its live pins with it.
 */
int
reconnect(struct lv *lv, struct tmap_error *err)
{
	struct timespec pause = {0, RECONNECT_PAUSE_MS * 1000000L};
	long deadline = now_ms() + (long)lv->reconnect_s * 1000;
	char left[TMAP_ERROR_MAX];
	virConnectPtr conn;
	virDomainPtr dom;

	while (!daemon_may_answer(lv) || !(conn = open_quiet(lv->conn_uri, false))) {
		if (now_ms() >= deadline) {
			left_changed(lv, left, sizeof(left));
			return tmap_error_set(
			    err, -ENOTCONN,
			    "libvirtd at '%s' did not come back within %u s, so nothing was put back; left as the apply may have made them: %s",
			    lv->uri, lv->reconnect_s, left);
		}
		nanosleep(&pause, NULL);
	}
	dom = virDomainLookupByUUID(conn, lv->uuid);
	if (!dom) {
		int r = tmap_error_set(
		    err, -ENOENT,
		    "libvirtd at '%s' came back without domain '%s': nothing was put back: %s",
		    lv->uri, lv->name, last_error_text());

		virConnectClose(conn);
		return r;
	}
	if (lv->active && (virDomainIsActive(dom) != 1 || virDomainGetID(dom) != lv->id))
		lv->live_gone = true;
	virDomainFree(lv->dom);
	virConnectClose(lv->conn);
	lv->dom = dom;
	lv->conn = conn;
	lv->gone = false;
	return 0;
}
