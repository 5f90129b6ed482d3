/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The libvirt backend: a plan in force on a libvirt domain through libvirt's own calls, the ones
 * behind `virsh vcpupin`, `emulatorpin`, `iothreadpin`, `numatune` and `schedinfo`, on the
 * local host or on any host a libvirt URI reaches (qemu+ssh://, qemu+tls://).
 *
 * A domain has up to two sides, as virsh has them: the running domain ("live") and its
 * persistent definition ("config"). The target says which (--live, --config, or both); with
 * neither, every call gets VIR_DOMAIN_AFFECT_CURRENT, which is the live side of a running
 * domain and the config side of a stopped one, as virsh does. open() captures each side in
 * use; restore() puts back what apply() changed: the live side value by value, the config side
 * by defining the captured definition again, since no setter can remove an element that was
 * not there (a <numatune>, a <memnode>, a <vcpupin>).
 *
 * What libvirt has no call for: per-cell <memnode>s, which the config side gets by an edit of
 * its XML (domain-xml.c), and which a running domain cannot change at all.
 *
 * read_back() reports what libvirt reports, and for a running domain of the local QEMU driver
 * also every QEMU thread's allowed CPUs and nodes from /proc, which is what the kernel
 * enforces whatever libvirt believes.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/uri.h>

#include <topomap/backend.h>

#include "cpulist.h"
#include "procfs.h"
#include "libvirt-backend.h"
#include "libvirt-util.h"

/* Where libvirt's system QEMU driver writes each running domain's pid. */
#define QEMU_RUN_DIR "/run/libvirt/qemu"
/* The daemon sockets of a local system libvirt: monolithic, then modular. */
#define LIBVIRTD_SOCKET "/run/libvirt/libvirt-sock"
#define VIRTQEMUD_SOCKET "/run/libvirt/virtqemud-sock"
/* A QEMU command line is a few KiB; a status file about 1.5 KiB. */
#define MAX_PROC_FILE (1u << 20)
/* How long restore() waits for a libvirtd that went away to come back (systemd restarts it,
 * or socket activation starts it at the next connection), and the most -o reconnect-timeout
 * may ask for. */
#define RECONNECT_DEFAULT_S 5
#define RECONNECT_MAX_S 600
#define RECONNECT_PAUSE_MS 100

/* One side of the domain: the running domain or its persistent definition. */
struct view {
	const char *name;	/* "live" or "config", for messages */
	bool config;		/* the persistent definition */
	unsigned flags;		/* VIR_DOMAIN_AFFECT_* of its calls */

	/* What open() captured. */
	unsigned nvcpus;
	unsigned char *vcpu_maps;	/* nvcpus * maplen */
	unsigned char *emulator_map;	/* maplen */
	unsigned niothreads;
	unsigned *iothread_ids;		/* ascending */
	unsigned char *iothread_maps;	/* niothreads * maplen */
	int numa_mode;			/* enum tmap_memory_mode */
	char *numa_nodeset;		/* "" when the domain has none */
	bool has_shares, has_period, has_quota;
	unsigned long long shares, period;
	long long quota;
	struct domain_numa numa;	/* guest cells and memnodes, from the XML */
	char *xml;			/* config: the definition with its secrets, for restore() */
};

struct lv {
	virConnectPtr conn;
	virDomainPtr dom;
	char *name;
	char *uri;
	bool active, persistent, readonly;
	/* To find the same domain again when libvirtd went away and came back. */
	char *conn_uri;		/* the URI the connection resolved to */
	unsigned char uuid[VIR_UUID_BUFLEN];
	unsigned id;		/* of the running domain: another after a restart of it */
	unsigned reconnect_s;
	const char *call;	/* the libvirt call being made, for a message */
	bool gone;		/* a call failed because the connection died */
	bool live_gone;		/* the running domain apply changed is no longer running */
	int maplen;		/* bytes of a cpumap covering the host's CPUs */
	char *host_nodes;	/* the host's NUMA cells; NULL when libvirt reports none */
	unsigned set_flags;	/* VIR_DOMAIN_AFFECT_* of every write */
	unsigned nviews;
	struct view views[2];

	/* What apply() wrote (or tried to: a refused call may have changed something). */
	bool written;
	unsigned vcpus_written, iothreads_written;
	bool emulator_written, numa_written;
	bool shares_written, period_written, quota_written;
};

/* ---------------------------------------------------------------------------------------- */
/* libvirt's errors */

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

static int
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

static const char *
last_error_text(void)
{
	const char *m = virGetLastErrorMessage();

	return m && *m ? m : "unknown libvirt error";
}

/* Make a libvirt call that changes something and returns an int; when it fails, note its name
 * for the message, which names it should the connection have died in it. */
#define LV_CALL(lv, fn, ...)                                                                      \
	({                                                                                        \
		int r_ = fn(__VA_ARGS__);                                                         \
		(lv)->call = r_ < 0 ? #fn : NULL;                                                 \
		r_;                                                                               \
	})

/*
 * libvirt's last error, as the code it maps to and its text in buf; when the call failed because
 * the connection died (libvirtd killed, crashed, restarted), -ENOTCONN and a text that says
 * so first, since libvirt's own ("End of file while reading data") does not. The check resets
 * libvirt's last error: read everything else of it before.
 */
static int
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

/* "<what>: <libvirt's message>", with the code libvirt's error maps to (-ENOTCONN when the
 * connection died). lv may be NULL. */
static int lv_error(struct lv *lv, struct tmap_error *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
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
static bool
wrote(struct lv *lv, int rc, unsigned flags)
{
	if (rc < 0 && !may_have_acted(flags))
		return false;
	lv->written = true;
	return true;
}

static int
oom(struct tmap_error *err)
{
	return tmap_error_set(err, -ENOMEM, "out of memory");
}

/* ---------------------------------------------------------------------------------------- */
/* Connecting */

static const char *
uri_text(const char *uri)
{
	return uri ? uri : "libvirt's default URI";
}

static int
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

static void
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

static void
lv_freep(struct lv **lv)
{
	lv_free(*lv);
}

/* Connect and find the domain: by name, then by UUID. */
static int
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
static int
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

static const char *
flags_text(const struct lv *lv, unsigned flags)
{
	if (flags == VIR_DOMAIN_AFFECT_CURRENT)
		return lv->active ? "current: live" : "current: config";
	if (flags == (VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG))
		return "live|config";
	return flags & VIR_DOMAIN_AFFECT_LIVE ? "live" : "config";
}

/* ---------------------------------------------------------------------------------------- */
/* Reading what is in force: open() keeps it, read_back() reports it */

static int
get_vcpus(struct lv *lv, const struct view *v, unsigned *ret_n, unsigned char **ret_maps,
	  struct tmap_error *err)
{
	_cleanup_free_ unsigned char *maps = NULL;
	int n;

	n = virDomainGetVcpusFlags(lv->dom, v->flags | VIR_DOMAIN_VCPU_MAXIMUM);
	if (n < 0)
		return lv_error(lv, err, "cannot count the vcpus of '%s' (%s)", lv->name, v->name);
	maps = calloc((size_t)n ? (size_t)n : 1, (size_t)lv->maplen);
	if (!maps)
		return oom(err);
	n = virDomainGetVcpuPinInfo(lv->dom, n, maps, lv->maplen, v->flags);
	if (n < 0)
		return lv_error(lv, err, "cannot read the vcpu pins of '%s' (%s)", lv->name,
				v->name);
	*ret_n = (unsigned)n;
	*ret_maps = TAKE_PTR(maps);
	return 0;
}

static int
get_emulator(struct lv *lv, const struct view *v, unsigned char **ret_map, struct tmap_error *err)
{
	_cleanup_free_ unsigned char *map = calloc(1, (size_t)lv->maplen);

	if (!map)
		return oom(err);
	if (virDomainGetEmulatorPinInfo(lv->dom, map, lv->maplen, v->flags) < 0)
		return lv_error(lv, err, "cannot read the emulator pin of '%s' (%s)", lv->name,
				v->name);
	*ret_map = TAKE_PTR(map);
	return 0;
}

static int
cmp_iothread(const void *a, const void *b)
{
	const virDomainIOThreadInfo *x = *(virDomainIOThreadInfo *const *)a;
	const virDomainIOThreadInfo *y = *(virDomainIOThreadInfo *const *)b;

	return (x->iothread_id > y->iothread_id) - (x->iothread_id < y->iothread_id);
}

/* The iothreads in ascending ids: plan iothread k (from 1) is the domain's k-th. */
static int
get_iothreads(struct lv *lv, const struct view *v, unsigned *ret_n, unsigned **ret_ids,
	      unsigned char **ret_maps, struct tmap_error *err)
{
	virDomainIOThreadInfoPtr *info = NULL;
	_cleanup_free_ unsigned *ids = NULL;
	_cleanup_free_ unsigned char *maps = NULL;
	int n, r = 0;

	n = virDomainGetIOThreadInfo(lv->dom, &info, v->flags);
	if (n < 0)
		return lv_error(lv, err, "cannot read the iothreads of '%s' (%s)", lv->name,
				v->name);
	if (n > 0)
		qsort(info, (size_t)n, sizeof(*info), cmp_iothread);
	ids = calloc((size_t)n + 1, sizeof(*ids));
	maps = calloc((size_t)n + 1, (size_t)lv->maplen);
	if (!ids || !maps)
		r = oom(err);
	for (int i = 0; i < n; i++) {
		int len = info[i]->cpumaplen < lv->maplen ? info[i]->cpumaplen : lv->maplen;

		if (r == 0) {
			ids[i] = info[i]->iothread_id;
			memcpy(maps + (size_t)i * lv->maplen, info[i]->cpumap, (size_t)len);
		}
		virDomainIOThreadInfoFree(info[i]);
	}
	free(info);
	if (r < 0)
		return r;
	*ret_n = (unsigned)n;
	*ret_ids = TAKE_PTR(ids);
	*ret_maps = TAKE_PTR(maps);
	return 0;
}

static int
get_numa(struct lv *lv, const struct view *v, int *ret_mode, char **ret_nodeset,
	 struct tmap_error *err)
{
	virTypedParameterPtr params = NULL;
	const char *nodeset = NULL;
	int n = 0, mode = TMAP_MEMORY_STRICT, r = 0;

	if (virDomainGetNumaParameters(lv->dom, NULL, &n, v->flags) < 0)
		return lv_error(lv, err, "cannot read the numatune of '%s' (%s)", lv->name,
				v->name);
	params = calloc((size_t)n + 1, sizeof(*params));
	if (!params)
		return oom(err);
	if (n > 0 && virDomainGetNumaParameters(lv->dom, params, &n, v->flags) < 0) {
		free(params);
		return lv_error(lv, err, "cannot read the numatune of '%s' (%s)", lv->name,
				v->name);
	}
	/* Absent values are libvirt's defaults: strict, no nodeset. */
	if (virTypedParamsGetInt(params, n, VIR_DOMAIN_NUMA_MODE, &mode) < 0 ||
	    virTypedParamsGetString(params, n, VIR_DOMAIN_NUMA_NODESET, &nodeset) < 0)
		r = lv_error(lv, err, "cannot read the numatune of '%s' (%s)", lv->name, v->name);
	if (r == 0 && !(*ret_nodeset = strdup(nodeset ? nodeset : "")))
		r = oom(err);
	if (r == 0)
		*ret_mode = mode;
	virTypedParamsClear(params, n);
	free(params);
	return r;
}

/* cpu_shares, vcpu_period and vcpu_quota, those of them libvirt reports. */
static int
get_sched(struct lv *lv, struct view *v, struct tmap_error *err)
{
	virTypedParameterPtr params = NULL;
	char *type;
	int n = 0, r = 0;

	type = virDomainGetSchedulerType(lv->dom, &n);
	if (!type)
		return lv_error(lv, err, "cannot read the scheduler of '%s' (%s)", lv->name,
				v->name);
	free(type);
	params = calloc((size_t)n + 1, sizeof(*params));
	if (!params)
		return oom(err);
	if (n > 0 && virDomainGetSchedulerParametersFlags(lv->dom, params, &n, v->flags) < 0) {
		free(params);
		return lv_error(lv, err, "cannot read the scheduler parameters of '%s' (%s)",
				lv->name, v->name);
	}
	v->has_shares = virTypedParamsGetULLong(params, n, VIR_DOMAIN_SCHEDULER_CPU_SHARES,
						&v->shares) == 1;
	v->has_period = virTypedParamsGetULLong(params, n, VIR_DOMAIN_SCHEDULER_VCPU_PERIOD,
						&v->period) == 1;
	v->has_quota = virTypedParamsGetLLong(params, n, VIR_DOMAIN_SCHEDULER_VCPU_QUOTA,
					      &v->quota) == 1;
	virTypedParamsClear(params, n);
	free(params);
	return r;
}

static char *
get_xml(struct lv *lv, const struct view *v, struct tmap_error *err)
{
	unsigned flags = v->config ? VIR_DOMAIN_XML_INACTIVE : 0;
	char *xml;

	/* The secrets (VNC passwords) must survive restore()'s define; a read-only connection
	 * gets none, and never restores. */
	if (!lv->readonly)
		flags |= VIR_DOMAIN_XML_SECURE;
	xml = virDomainGetXMLDesc(lv->dom, flags);
	if (!xml)
		lv_error(lv, err, "cannot read the XML of '%s' (%s)", lv->name, v->name);
	return xml;
}

static int
capture(struct lv *lv, struct view *v, struct tmap_error *err)
{
	struct tmap_error ignored = {0};
	char *xml;
	int r;

	r = get_vcpus(lv, v, &v->nvcpus, &v->vcpu_maps, err);
	if (r == 0)
		r = get_emulator(lv, v, &v->emulator_map, err);
	if (r == 0)
		r = get_iothreads(lv, v, &v->niothreads, &v->iothread_ids, &v->iothread_maps, err);
	if (r == 0)
		r = get_numa(lv, v, &v->numa_mode, &v->numa_nodeset, err);
	if (r < 0)
		return r;
	/* Drivers without these parameters (test:///) are fine until a plan sets one: apply()
	 * refuses to set what it could not put back. */
	if (get_sched(lv, v, &ignored) < 0)
		v->has_shares = v->has_period = v->has_quota = false;
	xml = get_xml(lv, v, err);
	if (!xml)
		return err ? err->code : -EIO;
	r = domain_xml_numa(xml, &v->numa, err);
	if (r == 0 && v->config)
		v->xml = xml;
	else
		free(xml);
	return r;
}

/* -o reconnect-timeout=SECONDS: how long restore() waits for libvirtd to come back. */
static int
parse_reconnect(const struct tmap_target *target, unsigned *ret, struct tmap_error *err)
{
	const char *text = tmap_target_get(target, "reconnect-timeout");
	unsigned long v;
	char *end;

	*ret = RECONNECT_DEFAULT_S;
	if (!text)
		return 0;
	errno = 0;
	v = strtoul(text, &end, 10);
	if (!*text || *text == '-' || *end || errno || v > RECONNECT_MAX_S)
		return tmap_error_set(
		    err, -EINVAL,
		    "-o reconnect-timeout: '%.32s' is not a number of seconds from 0 to %u", text,
		    RECONNECT_MAX_S);
	*ret = (unsigned)v;
	return 0;
}

static int
lv_open(const struct tmap_target *target, unsigned flags, void **ret_state, struct tmap_error *err)
{
	_cleanup_(lv_freep) struct lv *lv = NULL;
	unsigned reconnect_s;
	int ncpus, r;

	r = parse_reconnect(target, &reconnect_s, err);
	if (r < 0)
		return r;
	/* A dry run and verify change nothing: a read-only connection is all they need, and all
	 * some users are granted. */
	r = lv_new(target, flags & TMAP_APPLY_DRY_RUN, &lv, err);
	if (r < 0)
		return r;
	lv->reconnect_s = reconnect_s;
	r = lv_views(lv, target, err);
	if (r < 0)
		return r;
	ncpus = virNodeGetCPUMap(lv->conn, NULL, NULL, 0);
	if (ncpus < 0)
		return lv_error(lv, err, "cannot count the host CPUs at '%s'", lv->uri);
	lv->maplen = VIR_CPU_MAPLEN(ncpus > 0 ? ncpus : 1);
	{
		_cleanup_free_ char *caps = virConnectGetCapabilities(lv->conn);

		/* Without cells in the capabilities, a domain without a nodeset is compared as
		 * having none. */
		if (caps)
			capabilities_nodes(caps, &lv->host_nodes, NULL);
	}
	for (unsigned i = 0; i < lv->nviews; i++) {
		r = capture(lv, &lv->views[i], err);
		if (r < 0)
			return r;
	}
	*ret_state = TAKE_PTR(lv);
	return 0;
}

static void
lv_close(void *state)
{
	lv_free(state);
}

/* ---------------------------------------------------------------------------------------- */
/* Applying */


/* The nodes a side's memory may use: its nodeset, or every host node when it has none (a
 * domain defined without <numatune>, as most are). */
static const char *
nodes_in_force(const struct lv *lv, const char *nodeset)
{
	return nodeset && *nodeset ? nodeset : lv->host_nodes;
}

static bool
memory_as_planned(const struct lv *lv, int mode, const char *nodeset, int want_mode,
		  const char *want)
{
	return mode == want_mode && cpulist_equal(nodes_in_force(lv, nodeset), want);
}

static bool
has_config_view(const struct lv *lv)
{
	for (unsigned i = 0; i < lv->nviews; i++)
		if (lv->views[i].config)
			return true;
	return false;
}

/*
 * A running domain's cell memory stays where it was bound (no libvirt call moves a memnode):
 * with --config the definition takes the plan, and the memory follows at the next start (read
 * back reports that as pending, not drift); without, refused before any write.
 */
static int
check_live_cells(const struct lv *lv, const struct view *v, const struct tmap_plan *plan,
		 size_t guest, struct tmap_error *err)
{
	const char *memory = tmap_plan_memory_nodeset(plan, guest);

	if (has_config_view(lv))
		return 0;
	for (unsigned c = 0; c < v->numa.ncells; c++) {
		const struct memnode *m = domain_numa_memnode(&v->numa, c);
		const char *bound = m && m->nodeset ? m->nodeset : memory;
		char node[16];

		snprintf(node, sizeof(node), "%d", tmap_plan_cell_node(plan, guest, c));
		if (!cpulist_equal(bound, node))
			return tmap_error_set(err, -EOPNOTSUPP,
					 "libvirt cannot move guest cell %u of running domain '%s' to host node %s (its memory is bound to '%s'): apply with --config, and the memory moves at the next start",
					 c, lv->name, node, bound ? bound : "");
	}
	return 0;
}

/* The plan asks for what the domain can take: same vcpus, iothreads and guest cells. */
static int
check_shape(const struct lv *lv, const struct tmap_plan *plan, size_t guest,
	    struct tmap_error *err)
{
	const char *gname = tmap_plan_guest_name(plan, guest);
	unsigned nvcpus = tmap_plan_vcpu_count(plan, guest);
	unsigned niothreads = tmap_plan_iothread_count(plan, guest);
	unsigned ncells = tmap_plan_cell_count(plan, guest);

	for (unsigned i = 0; i < lv->nviews; i++) {
		const struct view *v = &lv->views[i];

		if (v->nvcpus != nvcpus)
			return tmap_error_set(err, -EINVAL,
					 "domain '%s' (%s) has %u vcpus, the plan's guest '%s' has %u",
					 lv->name, v->name, v->nvcpus, gname, nvcpus);
		if (v->niothreads != niothreads)
			return tmap_error_set(err, -EINVAL,
					 "domain '%s' (%s) has %u iothreads, the plan's guest '%s' has %u",
					 lv->name, v->name, v->niothreads, gname, niothreads);
		if (i > 0 && memcmp(v->iothread_ids, lv->views[0].iothread_ids,
				    niothreads * sizeof(unsigned)) != 0)
			return tmap_error_set(err, -EINVAL,
					 "domain '%s' has other iothread ids live than in its config",
					 lv->name);
		if (v->numa.ncells ? v->numa.ncells != ncells : ncells > 1)
			return tmap_error_set(err, -EINVAL,
					 "domain '%s' (%s) has %u guest NUMA cells, the plan's guest '%s' has %u",
					 lv->name, v->name, v->numa.ncells, gname, ncells);
		if (!v->config) {
			int r = check_live_cells(lv, v, plan, guest, err);

			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int
check_qos(const struct lv *lv, uint64_t shares, uint64_t period, int64_t quota,
	  struct tmap_error *err)
{
	for (unsigned i = 0; i < lv->nviews; i++) {
		const struct view *v = &lv->views[i];
		const char *missing = NULL;

		if (shares && !v->has_shares)
			missing = VIR_DOMAIN_SCHEDULER_CPU_SHARES;
		else if (period && !v->has_period)
			missing = VIR_DOMAIN_SCHEDULER_VCPU_PERIOD;
		else if (quota && !v->has_quota)
			missing = VIR_DOMAIN_SCHEDULER_VCPU_QUOTA;

		if (missing)
			return tmap_error_set(err, -EOPNOTSUPP,
					 "libvirt reports no %s for domain '%s' (%s): it cannot be set and put back",
					 missing, lv->name, v->name);
	}
	return 0;
}

static int
pin_vcpus(struct lv *lv, const struct tmap_plan *plan, size_t guest, struct tmap_journal *j,
	  struct tmap_error *err)
{
	unsigned n = tmap_plan_vcpu_count(plan, guest);

	for (unsigned i = 0; i < n; i++) {
		const char *list = tmap_plan_vcpu_cpuset(plan, guest, i);
		_cleanup_free_ unsigned char *map = NULL;
		int len, r;

		if (cpumap_from_list(list, lv->maplen, &map, &len) < 0)
			return tmap_error_set(err, -EINVAL, "vcpu %u: '%s' is not a list of CPUs", i,
					 list ? list : "");
		if (!tmap_journal_write(j, "virDomainPinVcpuFlags('%s', vcpu %u, '%s', %s)", lv->name,
					i, list, flags_text(lv, lv->set_flags)))
			continue;
		r = LV_CALL(lv, virDomainPinVcpuFlags, lv->dom, i, map, len, lv->set_flags);
		if (wrote(lv, r, lv->set_flags))
			lv->vcpus_written = i + 1;
		if (r < 0)
			return lv_error(lv, err, "cannot pin vcpu %u of '%s' to '%s' (%s)", i,
					lv->name, list, flags_text(lv, lv->set_flags));
	}
	return 0;
}

static int
pin_emulator(struct lv *lv, const struct tmap_plan *plan, size_t guest, struct tmap_journal *j,
	     struct tmap_error *err)
{
	const char *list = tmap_plan_emulator_cpuset(plan, guest);
	unsigned n = tmap_plan_iothread_count(plan, guest);
	_cleanup_free_ unsigned char *map = NULL;
	int len, r;

	if (cpumap_from_list(list, lv->maplen, &map, &len) < 0)
		return tmap_error_set(err, -EINVAL, "emulator: '%s' is not a list of CPUs", list ? list : "");
	if (tmap_journal_write(j, "virDomainPinEmulator('%s', '%s', %s)", lv->name, list,
			       flags_text(lv, lv->set_flags))) {
		r = LV_CALL(lv, virDomainPinEmulator, lv->dom, map, len, lv->set_flags);
		if (wrote(lv, r, lv->set_flags))
			lv->emulator_written = true;
		if (r < 0)
			return lv_error(lv, err,
					"cannot pin the emulator threads of '%s' to '%s' (%s)",
					lv->name, list, flags_text(lv, lv->set_flags));
	}
	/* The plan's iothreads float with the emulator threads. */
	for (unsigned k = 0; k < n; k++) {
		unsigned id = lv->views[0].iothread_ids[k];

		if (!tmap_journal_write(j, "virDomainPinIOThread('%s', iothread %u, '%s', %s)",
					lv->name, id, list, flags_text(lv, lv->set_flags)))
			continue;
		r = LV_CALL(lv, virDomainPinIOThread, lv->dom, id, map, len, lv->set_flags);
		if (wrote(lv, r, lv->set_flags))
			lv->iothreads_written = k + 1;
		if (r < 0)
			return lv_error(lv, err, "cannot pin iothread %u of '%s' to '%s' (%s)", id,
					lv->name, list, flags_text(lv, lv->set_flags));
	}
	return 0;
}

static int
set_numa(struct lv *lv, unsigned flags, int mode, const char *nodeset, struct tmap_error *err)
{
	virTypedParameterPtr params = NULL;
	int n = 0, max = 0, r = 0;

	if (virTypedParamsAddInt(&params, &n, &max, VIR_DOMAIN_NUMA_MODE, mode) < 0 ||
	    virTypedParamsAddString(&params, &n, &max, VIR_DOMAIN_NUMA_NODESET, nodeset) < 0)
		r = oom(err);
	else if (LV_CALL(lv, virDomainSetNumaParameters, lv->dom, params, n, flags) < 0)
		r = last_error_code();
	virTypedParamsFree(params, n);
	return r;
}

/* One numatune call, journaled; the code libvirt's error maps to. */
static int
write_numa(struct lv *lv, unsigned flags, int mode, const char *nodeset, struct tmap_journal *j)
{
	int r;

	if (!tmap_journal_write(j, "virDomainSetNumaParameters('%s', mode '%s', nodeset '%s', %s)",
				lv->name, memory_mode_text(mode), nodeset, flags_text(lv, flags)))
		return 0;
	r = set_numa(lv, flags, mode, nodeset, NULL);
	if (r != -ENOMEM && wrote(lv, r, flags))
		lv->numa_written = true;
	return r;
}

static int
apply_numa(struct lv *lv, const struct tmap_plan *plan, size_t guest, struct tmap_journal *j,
	   struct tmap_error *err)
{
	int mode = tmap_plan_memory_mode(plan, guest);
	const char *nodeset = tmap_plan_memory_nodeset(plan, guest);
	unsigned flags = 0;
	bool need = false, live = false;
	int r;

	/* Only the sides that differ (a domain without <numatune> has all the host's nodes): a
	 * write that changes nothing is not worth a refusal. */
	for (unsigned i = 0; i < lv->nviews; i++) {
		const struct view *v = &lv->views[i];

		if (memory_as_planned(lv, v->numa_mode, v->numa_nodeset, mode, nodeset))
			continue;
		need = true;
		live |= !v->config;
		flags |= v->flags;
	}
	if (!need)
		return 0;
	r = write_numa(lv, flags, mode, nodeset, j);
	/* A running domain's memory that libvirt will not move (QEMU: its mode, or its nodeset
	 * outside mode 'restrictive'), with --config: the definition takes the plan, and the
	 * memory moves at the next start. read_back() reports the difference as pending. */
	if (r == -EPERM && live && has_config_view(lv)) {
		if (!(flags & VIR_DOMAIN_AFFECT_CONFIG))
			return 0;
		flags = VIR_DOMAIN_AFFECT_CONFIG;
		live = false;
		r = write_numa(lv, flags, mode, nodeset, j);
	}
	if (r == -ENOMEM)
		return oom(err);
	if (r < 0 && live && r == -EPERM)
		return tmap_error_set(err, r,
				 "libvirt refuses to change the memory of running domain '%s' to mode '%s' nodeset '%s' (%s): apply with --config, and the memory moves at the next start, or define the domain with memory mode 'restrictive', whose nodeset can change live",
				 lv->name, memory_mode_text(mode), nodeset, last_error_text());
	if (r < 0) {
		char why[TMAP_ERROR_MAX];
		int code = last_failure(lv, why, sizeof(why));

		return tmap_error_set(
		    err, code == -ENOTCONN ? code : r,
		    "cannot set the numatune of '%s' to mode '%s' nodeset '%s' (%s): %s", lv->name,
		    memory_mode_text(mode), nodeset, flags_text(lv, flags), why);
	}
	return 0;
}

/* Per-cell <memnode>s: no libvirt call sets them, so the definition is edited and defined. */
static int
apply_memnodes(struct lv *lv, const struct tmap_plan *plan, size_t guest, struct tmap_journal *j,
	       struct tmap_error *err)
{
	int mode = tmap_plan_memory_mode(plan, guest);
	unsigned ncells = tmap_plan_cell_count(plan, guest);
	_cleanup_free_ unsigned *nodes = NULL;
	_cleanup_free_ char *line = NULL, *xml = NULL, *edited = NULL;
	const struct view *v = NULL;
	bool need = false;
	size_t len = 0;
	virDomainPtr dom;
	FILE *f;

	/* The config side, when in use: a running domain's memory stays where it is. */
	for (unsigned i = 0; i < lv->nviews; i++)
		if (lv->views[i].config)
			v = &lv->views[i];
	if (!v || v->numa.ncells == 0)
		return 0;
	nodes = calloc(ncells + 1, sizeof(*nodes));
	f = nodes ? open_memstream(&line, &len) : NULL;
	if (!f)
		return oom(err);
	for (unsigned c = 0; c < ncells; c++) {
		const struct memnode *m = domain_numa_memnode(&v->numa, c);
		char node[16];

		nodes[c] = (unsigned)tmap_plan_cell_node(plan, guest, c);
		snprintf(node, sizeof(node), "%u", nodes[c]);
		need |= !m || m->mode != mode || !cpulist_equal(m->nodeset, node);
		fprintf(f, "%smemnode cellid %u mode '%s' nodeset '%u'", c ? ", " : "", c,
			memory_mode_text(mode), nodes[c]);
	}
	if (fclose(f) != 0)
		return oom(err);
	if (!need || !tmap_journal_write(j, "virDomainDefineXML('%s' with <numatune> %s)", lv->name,
					 line))
		return 0;
	/* The definition as the calls above left it, with its secrets. */
	xml = virDomainGetXMLDesc(lv->dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
	if (!xml)
		return lv_error(lv, err, "cannot read the definition of '%s'", lv->name);
	if (domain_xml_set_memnodes(xml, mode, nodes, ncells, &edited, err) < 0)
		return err ? err->code : -EINVAL;
	dom = virDomainDefineXML(lv->conn, edited);
	lv->call = dom ? NULL : "virDomainDefineXML";
	wrote(lv, dom ? 0 : -1, VIR_DOMAIN_AFFECT_CONFIG);
	if (!dom)
		return lv_error(lv, err, "cannot define '%s' with the plan's <memnode>s", lv->name);
	virDomainFree(dom);
	return 0;
}

static int
set_sched(struct lv *lv, unsigned flags, bool has_shares, unsigned long long shares,
	  bool has_period, unsigned long long period, bool has_quota, long long quota)
{
	virTypedParameterPtr params = NULL;
	int n = 0, max = 0, r = 0;

	if ((has_shares && virTypedParamsAddULLong(&params, &n, &max,
						   VIR_DOMAIN_SCHEDULER_CPU_SHARES, shares) < 0) ||
	    (has_period && virTypedParamsAddULLong(&params, &n, &max,
						   VIR_DOMAIN_SCHEDULER_VCPU_PERIOD, period) < 0) ||
	    (has_quota && virTypedParamsAddLLong(&params, &n, &max,
						 VIR_DOMAIN_SCHEDULER_VCPU_QUOTA, quota) < 0))
		r = -ENOMEM;
	else if (n > 0 && LV_CALL(lv, virDomainSetSchedulerParametersFlags, lv->dom, params, n,
				  flags) < 0)
		r = last_error_code();
	virTypedParamsFree(params, n);
	return r;
}

/* "cpu_shares 512, vcpu_quota -1": the parameters a call sets. */
static void
sched_text(char *buf, size_t size, bool has_shares, unsigned long long shares, bool has_period,
	   unsigned long long period, bool has_quota, long long quota)
{
	size_t len = 0;

	buf[0] = '\0';
	if (has_shares)
		len += (size_t)snprintf(buf + len, size - len, "cpu_shares %llu", shares);
	if (has_period && len < size)
		len += (size_t)snprintf(buf + len, size - len, "%svcpu_period %llu", len ? ", " : "",
					period);
	if (has_quota && len < size)
		snprintf(buf + len, size - len, "%svcpu_quota %lld", len ? ", " : "", quota);
}

static int
apply_sched(struct lv *lv, uint64_t shares, uint64_t period, int64_t quota,
	    struct tmap_journal *j, struct tmap_error *err)
{
	char text[128];
	int r;

	if (!shares && !period && !quota)
		return 0;
	sched_text(text, sizeof(text), shares, shares, period, period, quota, quota);
	if (!tmap_journal_write(j, "virDomainSetSchedulerParametersFlags('%s', %s, %s)", lv->name,
				text, flags_text(lv, lv->set_flags)))
		return 0;
	r = set_sched(lv, lv->set_flags, shares, shares, period, period, quota, (long long)quota);
	if (r != -ENOMEM && wrote(lv, r, lv->set_flags)) {
		lv->shares_written = shares;
		lv->period_written = period;
		lv->quota_written = quota;
	}
	if (r == -ENOMEM)
		return oom(err);
	if (r < 0) {
		char why[TMAP_ERROR_MAX];
		int code = last_failure(lv, why, sizeof(why));

		return tmap_error_set(err, code == -ENOTCONN ? code : r,
				      "cannot set the scheduler parameters of '%s' (%s): %s",
				      lv->name, flags_text(lv, lv->set_flags), why);
	}
	return 0;
}

/* Everything that can be refused before a write is: the open step's last word, and apply()'s
 * first. */
static int
lv_check(void *state, const struct tmap_plan *plan, size_t guest, struct tmap_error *err)
{
	struct lv *lv = state;
	uint64_t shares = 0, period = 0;
	int64_t quota = 0;
	int r;

	if (tmap_plan_qos(plan, guest, &shares, &period, &quota) < 0)
		return tmap_error_set(err, -EINVAL, "the plan has no guest %zu", guest);
	r = check_shape(lv, plan, guest, err);
	if (r == 0)
		r = check_qos(lv, shares, period, quota, err);
	return r;
}

static int
lv_apply(void *state, const struct tmap_plan *plan, size_t guest, struct tmap_journal *j,
	 struct tmap_error *err)
{
	struct lv *lv = state;
	uint64_t shares = 0, period = 0;
	int64_t quota = 0;
	int r;

	r = lv_check(lv, plan, guest, err);
	if (r < 0)
		return r;
	tmap_plan_qos(plan, guest, &shares, &period, &quota);
	r = pin_vcpus(lv, plan, guest, j, err);
	if (r == 0)
		r = pin_emulator(lv, plan, guest, j, err);
	if (r == 0)
		r = apply_numa(lv, plan, guest, j, err);
	if (r == 0)
		r = apply_memnodes(lv, plan, guest, j, err);
	if (r == 0)
		r = apply_sched(lv, shares, period, quota, j, err);
	return r;
}

/* ---------------------------------------------------------------------------------------- */
/* Reading back */

/* Differences libvirt reports that the core has no kind of observation for (the memory mode,
 * a cell's node, QoS): the first one, and how many. */
struct mismatch {
	unsigned n;
	char first[TMAP_ERROR_MAX];
};

static void mismatch_add(struct mismatch *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
mismatch_add(struct mismatch *m, const char *fmt, ...)
{
	va_list ap;

	if (m->n++ > 0)
		return;
	va_start(ap, fmt);
	vsnprintf(m->first, sizeof(m->first), fmt, ap);
	va_end(ap);
}

static int
observe_map(struct tmap_observed *obs, enum tmap_observed_kind kind, unsigned index,
	    const unsigned char *map, int maplen, const char *where, struct tmap_error *err)
{
	_cleanup_free_ char *list = cpumap_to_list(map, maplen);
	int r;

	if (!list)
		return oom(err);
	r = tmap_observed_set(obs, kind, index, list, where);
	if (r < 0)
		return tmap_error_set(err, r, "%s: cannot record '%s'", where, list);
	return 0;
}

/* Is the URI the local system QEMU driver, whose pid files this host has? */
static bool
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

/*
 * The pid of a running domain's QEMU, from the pid file libvirt keeps, but only when that
 * process names this domain on its command line ("-name guest=NAME,..."): a pid file read
 * through another mount or pid namespace than the daemon's would name someone else.
 */
static int
qemu_pid(const char *name, pid_t *ret)
{
	_cleanup_free_ char *path = NULL, *text = NULL, *cmdline = NULL, *want = NULL;
	char proc[64];
	size_t len = 0;
	long pid;
	char *end;

	if (strchr(name, '/') || asprintf(&path, QEMU_RUN_DIR "/%s.pid", name) < 0)
		return -ENOENT;
	if (read_file_at(AT_FDCWD, path, 64, &text, NULL) < 0)
		return -ENOENT;
	errno = 0;
	pid = strtol(text, &end, 10);
	if (errno || pid <= 1 || pid > INT32_MAX || (*end && *end != '\n'))
		return -ENOENT;
	snprintf(proc, sizeof(proc), "/proc/%ld/cmdline", pid);
	if (read_file_at(AT_FDCWD, proc, MAX_PROC_FILE, &cmdline, &len) < 0)
		return -ENOENT;
	/* libvirt doubles the commas of a name in QEMU's option syntax. */
	want = malloc(strlen("guest=") + 2 * strlen(name) + 1);
	if (!want)
		return -ENOMEM;
	strcpy(want, "guest=");
	{
		char *p = want + strlen(want);

		for (const char *s = name; *s; s++) {
			if (*s == ',')
				*p++ = ',';
			*p++ = *s;
		}
		*p = '\0';
	}
	for (size_t off = 0; off < len;) {
		const char *arg = cmdline + off;
		size_t alen = strlen(arg);

		off += alen + 1;
		if (!streq(arg, "-name") || off >= len)
			continue;
		arg = cmdline + off;
		if (strncmp(arg, want, strlen(want)) == 0 &&
		    (arg[strlen(want)] == '\0' || arg[strlen(want)] == ',')) {
			*ret = (pid_t)pid;
			return 0;
		}
		return -ENOENT;
	}
	return -ENOENT;
}

struct task {
	int tid;
	char comm[32];
	char *cpus, *mems;
};

/* A thread's role from the name QEMU gives it with debug-threads=on, which libvirt always
 * asks for: "CPU 3/KVM" or "CPU 3/TCG", "IO iothread2" (libvirt names iothread objects so),
 * the rest (main loop, "call_rcu", "IO mon_iothread", workers) emulator threads, as libvirt's
 * cgroups have them. */
static enum tmap_task_role
task_role(const struct task *t, const struct view *v, unsigned *ret_index)
{
	unsigned n;
	char slash;

	if (sscanf(t->comm, "CPU %u%c", &n, &slash) == 2 && slash == '/') {
		*ret_index = n;
		return TMAP_TASK_VCPU;
	}
	if (sscanf(t->comm, "IO iothread%u", &n) == 1) {
		for (unsigned k = 0; k < v->niothreads; k++)
			if (v->iothread_ids[k] == n) {
				*ret_index = k + 1;
				return TMAP_TASK_IOTHREAD;
			}
		return TMAP_TASK_ANY;
	}
	*ret_index = 0;
	return TMAP_TASK_EMULATOR;
}

static int
observe_tasks(struct lv *lv, const struct view *v, bool with_mems, struct tmap_observed *obs,
	      struct tmap_error *err)
{
	_cleanup_close_ int tfd = -1;
	struct task *tasks = NULL;
	size_t ntasks = 0;
	bool named = false;
	char path[64];
	struct dirent *e;
	DIR *d;
	pid_t pid;
	int r = 0;

	if (!local_qemu(lv) || qemu_pid(lv->name, &pid) < 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return tmap_error_set(err, -errno, "cannot list the threads of '%s' in '%s': %s", lv->name,
				 path, strerror(errno));
	tfd = dup(dirfd(d));
	while (r == 0 && (e = readdir(d))) {
		_cleanup_free_ char *status = NULL, *comm = NULL;
		struct task t = {0}, *bigger;
		char file[64];
		long tid;
		char *end;

		tid = strtol(e->d_name, &end, 10);
		if (*end || tid <= 0)
			continue;
		/* A thread that ends while it is read is no longer the guest's. */
		snprintf(file, sizeof(file), "%ld/status", tid);
		if (read_file_at(tfd, file, MAX_PROC_FILE, &status, NULL) < 0)
			continue;
		snprintf(file, sizeof(file), "%ld/comm", tid);
		if (read_file_at(tfd, file, 64, &comm, NULL) < 0)
			continue;
		t.tid = (int)tid;
		snprintf(t.comm, sizeof(t.comm), "%.*s", (int)strcspn(comm, "\n"), comm);
		r = status_field(status, "Cpus_allowed_list", &t.cpus);
		if (r == -ENOENT) {
			/* Not a status this backend can read: nothing to compare. */
			r = 0;
			continue;
		}
		if (r == 0 && status_field(status, "Mems_allowed_list", &t.mems) == -ENOMEM)
			r = -ENOMEM;
		bigger = r == 0 ? realloc(tasks, (ntasks + 1) * sizeof(*tasks)) : NULL;
		if (!bigger) {
			free(t.cpus);
			free(t.mems);
			r = oom(err);
			break;
		}
		tasks = bigger;
		tasks[ntasks++] = t;
		named |= strncmp(t.comm, "CPU ", 4) == 0;
	}
	closedir(d);
	for (size_t i = 0; i < ntasks; i++) {
		unsigned index = 0;
		/* Without thread names, every thread is held to the guest's whole set only. */
		enum tmap_task_role role = named ? task_role(&tasks[i], v, &index) : TMAP_TASK_ANY;

		if (r == 0) {
			r = tmap_observed_task(obs, tasks[i].tid, role, index, tasks[i].cpus,
					       with_mems ? tasks[i].mems : NULL);
			if (r < 0)
				tmap_error_set(err, r, "thread %d of '%s': cannot record '%s'", tasks[i].tid,
					  lv->name, tasks[i].cpus);
		}
		free(tasks[i].cpus);
		free(tasks[i].mems);
	}
	free(tasks);
	return r;
}

/*
 * The memory of one side: its mode and nodeset (all the host's nodes without one), and each
 * guest cell's nodes (its memnode, or the domain's nodeset). *ret_differs says whether any
 * differs from the plan; *ret_first is the first difference of the mode or a cell (a nodeset
 * is compared as a set, by the core), or NULL. *ret_mode and *ret_nodes: what is in force
 * (ret_nodes may be NULL).
 */
static int
memory_difference(struct lv *lv, const struct view *v, const struct tmap_plan *plan, size_t guest,
		  bool *ret_differs, int *ret_mode, char **ret_nodes, char **ret_first,
		  struct tmap_error *err)
{
	int want_mode = tmap_plan_memory_mode(plan, guest);
	const char *want = tmap_plan_memory_nodeset(plan, guest);
	_cleanup_free_ char *nodeset = NULL, *xml = NULL, *first = NULL;
	struct domain_numa numa = {.mode = -1};
	const char *now;
	int mode = -1, r;

	r = get_numa(lv, v, &mode, &nodeset, err);
	if (r < 0)
		return r;
	now = nodes_in_force(lv, nodeset);
	*ret_differs = !memory_as_planned(lv, mode, nodeset, want_mode, want);
	if (mode != want_mode &&
	    asprintf(&first, "numatune mode of '%s' (%s) is '%s', the plan says '%s'", lv->name,
		     v->name, memory_mode_text(mode), memory_mode_text(want_mode)) < 0)
		return oom(err);
	xml = get_xml(lv, v, err);
	if (!xml)
		return err ? err->code : -EIO;
	r = domain_xml_numa(xml, &numa, err);
	for (unsigned c = 0; r == 0 && !first && c < numa.ncells; c++) {
		const struct memnode *m = domain_numa_memnode(&numa, c);
		const char *bound = m && m->nodeset ? m->nodeset : now;
		char node[16];

		snprintf(node, sizeof(node), "%d", tmap_plan_cell_node(plan, guest, c));
		if (cpulist_equal(bound, node))
			continue;
		*ret_differs = true;
		if (asprintf(&first, "memory of guest cell %u of '%s' (%s) is on '%s', the plan says '%s'",
			     c, lv->name, v->name, bound ? bound : "", node) < 0)
			r = oom(err);
	}
	domain_numa_clear(&numa);
	if (r < 0)
		return r;
	if (ret_nodes && !(*ret_nodes = strdup(now ? now : "")))
		return oom(err);
	*ret_mode = mode;
	*ret_first = TAKE_PTR(first);
	return 0;
}

/*
 * The memory of one side, against the plan. A running domain whose memory differs while its
 * persistent definition has the plan's is pending (it moves at the next start, as apply
 * --config left it when libvirt could not move it live), not drift; *ret_pending says so, and
 * the threads' memory is then not held to the plan either.
 */
static int
read_memory(struct lv *lv, const struct view *v, const struct tmap_plan *plan, size_t guest,
	    struct tmap_observed *obs, struct mismatch *mm, bool *ret_pending,
	    struct tmap_error *err)
{
	static const struct view config = {"config", true, VIR_DOMAIN_AFFECT_CONFIG};
	_cleanup_free_ char *nodes = NULL, *first = NULL, *config_first = NULL;
	bool differs = false, config_differs = true;
	int mode = -1, config_mode = -1;
	char where[256];
	int r;

	*ret_pending = false;
	r = memory_difference(lv, v, plan, guest, &differs, &mode, &nodes, &first, err);
	if (r < 0)
		return r;
	if (differs && !v->config && lv->active && lv->persistent) {
		r = memory_difference(lv, &config, plan, guest, &config_differs, &config_mode, NULL,
				      &config_first, err);
		if (r < 0)
			return r;
		*ret_pending = !config_differs;
	}
	if (*ret_pending) {
		if (tmap_observed_pending(obs, "memory of '%s' (live) is in mode '%s' on '%s'; the definition has the plan's mode '%s' on '%s', which takes effect at the next start",
					  lv->name, memory_mode_text(mode), nodes, memory_mode_text(tmap_plan_memory_mode(plan, guest)),
					  tmap_plan_memory_nodeset(plan, guest)) < 0)
			return oom(err);
		return 0;
	}
	if (first)
		mismatch_add(mm, "%s", first);
	snprintf(where, sizeof(where), "numatune nodeset of '%s' (%s)", lv->name, v->name);
	r = tmap_observed_set(obs, TMAP_OBSERVED_MEMS, 0, nodes, where);
	if (r < 0)
		return tmap_error_set(err, r, "%s: cannot record '%s'", where, nodes);
	return 0;
}

static int
read_view(struct lv *lv, struct view *v, const struct tmap_plan *plan, size_t guest,
	  struct tmap_observed *obs, struct mismatch *mm, struct tmap_error *err)
{
	_cleanup_free_ unsigned char *maps = NULL, *emulator = NULL, *iomaps = NULL;
	_cleanup_free_ unsigned *ids = NULL;
	unsigned nvcpus = 0, nio = 0;
	bool pending = false;
	char where[256];
	int r;

	r = get_vcpus(lv, v, &nvcpus, &maps, err);
	for (unsigned i = 0; r == 0 && i < nvcpus; i++) {
		snprintf(where, sizeof(where), "vcpupin %u of '%s' (%s)", i, lv->name, v->name);
		r = observe_map(obs, TMAP_OBSERVED_VCPU, i, maps + (size_t)i * lv->maplen,
				lv->maplen, where, err);
	}
	if (r == 0)
		r = get_emulator(lv, v, &emulator, err);
	if (r == 0) {
		snprintf(where, sizeof(where), "emulatorpin of '%s' (%s)", lv->name, v->name);
		r = observe_map(obs, TMAP_OBSERVED_EMULATOR, 0, emulator, lv->maplen, where, err);
	}
	if (r == 0)
		r = get_iothreads(lv, v, &nio, &ids, &iomaps, err);
	for (unsigned k = 0; r == 0 && k < nio; k++) {
		snprintf(where, sizeof(where), "iothreadpin %u of '%s' (%s)", ids[k], lv->name,
			 v->name);
		r = observe_map(obs, TMAP_OBSERVED_IOTHREAD, k + 1, iomaps + (size_t)k * lv->maplen,
				lv->maplen, where, err);
	}
	if (r == 0)
		r = read_memory(lv, v, plan, guest, obs, mm, &pending, err);
	if (r < 0)
		return r;

	{
		uint64_t shares = 0, period = 0;
		int64_t quota = 0;
		struct view now = *v;

		tmap_plan_qos(plan, guest, &shares, &period, &quota);
		if (shares || period || quota) {
			r = get_sched(lv, &now, err);
			if (r < 0)
				return r;
			if (shares && (!now.has_shares || now.shares != shares))
				mismatch_add(mm, "cpu_shares of '%s' (%s) is %llu, the plan says %" PRIu64,
					     lv->name, v->name, now.shares, shares);
			if (period && (!now.has_period || now.period != period))
				mismatch_add(mm, "vcpu_period of '%s' (%s) is %llu, the plan says %" PRIu64,
					     lv->name, v->name, now.period, period);
			if (quota && (!now.has_quota || now.quota != quota))
				mismatch_add(mm, "vcpu_quota of '%s' (%s) is %lld, the plan says %" PRId64,
					     lv->name, v->name, now.quota, quota);
		}
	}
	if (!v->config && lv->active)
		r = observe_tasks(lv, v, !pending, obs, err);
	return r;
}

static int
lv_read_back(void *state, const struct tmap_plan *plan, size_t guest, struct tmap_observed *obs,
	     struct tmap_error *err)
{
	struct lv *lv = state;
	struct mismatch mm = {0};
	int r;

	for (unsigned i = 0; i < lv->nviews; i++) {
		r = read_view(lv, &lv->views[i], plan, guest, obs, &mm, err);
		if (r < 0)
			return r;
	}
	/* What the sets cannot say (QoS, a cell's memory nodes) is drift too, not an error:
	 * verify lists it and exits 4, apply restores. */
	if (mm.n && tmap_observed_drift(obs, "%s%s", mm.first, mm.n > 1 ? ", and more" : "") < 0)
		return oom(err);
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Restoring */

static void
keep_first(int *r, int rr)
{
	if (*r == 0 && rr < 0)
		*r = rr;
}

static void restore_error(struct lv *lv, struct tmap_error *err, int *r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Restore goes on after a failed call, to put back what it can; the first error is kept. */
static void
restore_error(struct lv *lv, struct tmap_error *err, int *r, const char *fmt, ...)
{
	char what[TMAP_ERROR_MAX], why[TMAP_ERROR_MAX];
	int code = last_failure(lv, why, sizeof(why));
	va_list ap;

	if (*r < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	*r = tmap_error_set(err, code, "%s: %s", what, why);
}

static int
restore_live(struct lv *lv, const struct view *v, struct tmap_journal *j, struct tmap_error *err)
{
	const char *ft = flags_text(lv, v->flags);
	int r = 0;

	for (unsigned i = 0; i < lv->vcpus_written && i < v->nvcpus; i++) {
		const unsigned char *map = v->vcpu_maps + (size_t)i * lv->maplen;
		_cleanup_free_ char *list = cpumap_to_list(map, lv->maplen);

		if (tmap_journal_write(j, "virDomainPinVcpuFlags('%s', vcpu %u, '%s', %s)", lv->name, i,
				       list ? list : "?", ft) &&
		    LV_CALL(lv, virDomainPinVcpuFlags, lv->dom, i, (unsigned char *)map,
			    lv->maplen, v->flags) < 0)
			restore_error(lv, err, &r, "cannot pin vcpu %u of '%s' back to '%s'", i,
				      lv->name, list ? list : "?");
	}
	if (lv->emulator_written) {
		_cleanup_free_ char *list = cpumap_to_list(v->emulator_map, lv->maplen);

		if (tmap_journal_write(j, "virDomainPinEmulator('%s', '%s', %s)", lv->name,
				       list ? list : "?", ft) &&
		    LV_CALL(lv, virDomainPinEmulator, lv->dom, v->emulator_map, lv->maplen,
			    v->flags) < 0)
			restore_error(lv, err, &r,
				      "cannot pin the emulator threads of '%s' back to '%s'",
				      lv->name, list ? list : "?");
	}
	for (unsigned k = 0; k < lv->iothreads_written && k < v->niothreads; k++) {
		unsigned char *map = v->iothread_maps + (size_t)k * lv->maplen;
		_cleanup_free_ char *list = cpumap_to_list(map, lv->maplen);

		if (tmap_journal_write(j, "virDomainPinIOThread('%s', iothread %u, '%s', %s)", lv->name,
				       v->iothread_ids[k], list ? list : "?", ft) &&
		    LV_CALL(lv, virDomainPinIOThread, lv->dom, v->iothread_ids[k], map,
			    lv->maplen, v->flags) < 0)
			restore_error(lv, err, &r, "cannot pin iothread %u of '%s' back to '%s'",
				      v->iothread_ids[k], lv->name, list ? list : "?");
	}
	/* A running domain without a nodeset never got one: libvirt refuses that live. */
	if (lv->numa_written && *v->numa_nodeset &&
	    tmap_journal_write(j, "virDomainSetNumaParameters('%s', mode '%s', nodeset '%s', %s)",
			       lv->name, memory_mode_text(v->numa_mode), v->numa_nodeset, ft)) {
		int rr = set_numa(lv, v->flags, v->numa_mode, v->numa_nodeset, err);

		if (rr < 0)
			restore_error(lv, err, &r, "cannot put the numatune of '%s' back",
				      lv->name);
	}
	if (lv->shares_written || lv->period_written || lv->quota_written) {
		/* Only the values apply() set, and only those libvirt reported (check_qos()). */
		bool shares = lv->shares_written && v->has_shares;
		bool period = lv->period_written && v->has_period;
		bool quota = lv->quota_written && v->has_quota;
		char text[128];

		sched_text(text, sizeof(text), shares, v->shares, period, v->period, quota,
			   v->quota);
		if (tmap_journal_write(j, "virDomainSetSchedulerParametersFlags('%s', %s, %s)", lv->name,
				       text, ft) &&
		    set_sched(lv, v->flags, shares, v->shares, period, v->period, quota,
			      v->quota) < 0)
			restore_error(lv, err, &r,
				      "cannot put the scheduler parameters of '%s' back", lv->name);
	}
	return r;
}

static int
restore_config(struct lv *lv, const struct view *v, struct tmap_journal *j, struct tmap_error *err)
{
	virDomainPtr dom;

	if (!v->xml)
		return tmap_error_set(err, -EIO, "the definition of '%s' was not captured", lv->name);
	if (!tmap_journal_write(j, "virDomainDefineXML('%s' as defined before the apply)", lv->name))
		return 0;
	dom = virDomainDefineXML(lv->conn, v->xml);
	lv->call = dom ? NULL : "virDomainDefineXML";
	if (!dom)
		return lv_error(lv, err, "cannot define '%s' back as it was", lv->name);
	virDomainFree(dom);
	return 0;
}

/* What apply() may have changed, with what was there, for a restore that could not be made:
 * "live vcpupin 0 was '0-1', live emulatorpin was '0-1', the persistent definition". */
static void
left_changed(const struct lv *lv, char *buf, size_t size)
{
	FILE *f = fmemopen(buf, size, "w");
	const char *sep = "";

	if (!f) {
		snprintf(buf, size, "what apply changed");
		return;
	}
	for (unsigned i = 0; i < lv->nviews; i++) {
		const struct view *v = &lv->views[i];
		_cleanup_free_ char *emulator = NULL;

		if (v->config) {
			fprintf(f, "%sthe persistent definition", sep);
			sep = ", ";
			continue;
		}
		for (unsigned c = 0; c < lv->vcpus_written && c < v->nvcpus; c++, sep = ", ") {
			_cleanup_free_ char *was =
			    cpumap_to_list(v->vcpu_maps + (size_t)c * lv->maplen, lv->maplen);

			fprintf(f, "%s%s vcpupin %u was '%s'", sep, v->name, c, was ? was : "?");
		}
		emulator =
		    lv->emulator_written ? cpumap_to_list(v->emulator_map, lv->maplen) : NULL;
		if (lv->emulator_written)
			fprintf(f, "%s%s emulatorpin was '%s'", sep, v->name,
				emulator ? emulator : "?");
		sep = lv->emulator_written ? ", " : sep;
		for (unsigned k = 0; k < lv->iothreads_written && k < v->niothreads;
		     k++, sep = ", ") {
			_cleanup_free_ char *was =
			    cpumap_to_list(v->iothread_maps + (size_t)k * lv->maplen, lv->maplen);

			fprintf(f, "%s%s iothreadpin %u was '%s'", sep, v->name, v->iothread_ids[k],
				was ? was : "?");
		}
		if (lv->numa_written)
			fprintf(f, "%s%s numatune was mode '%s' nodeset '%s'", sep, v->name,
				memory_mode_text(v->numa_mode), v->numa_nodeset);
		sep = lv->numa_written ? ", " : sep;
		if (lv->shares_written || lv->period_written || lv->quota_written) {
			fprintf(f, "%s%s scheduler parameters", sep, v->name);
			sep = ", ";
		}
	}
	fclose(f);
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
static int
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

static int
restore_views(struct lv *lv, struct tmap_journal *j, struct tmap_error *err)
{
	int r = 0;

	for (unsigned i = 0; i < lv->nviews; i++) {
		const struct view *v = &lv->views[i];

		if (!v->config && lv->live_gone)
			continue;
		keep_first(&r, v->config ? restore_config(lv, v, j, r < 0 ? NULL : err) :
					   restore_live(lv, v, j, r < 0 ? NULL : err));
	}
	return r;
}

static int
lv_restore(void *state, struct tmap_journal *j, struct tmap_error *err)
{
	struct lv *lv = state;
	int r;

	if (!lv->written)
		return 0;
	/* A daemon that went away before the restore's first call is found out by that call:
	 * then once more, on a new connection. */
	for (unsigned attempt = 0;; attempt++) {
		if (lv->gone) {
			r = reconnect(lv, err);
			if (r < 0)
				return r;
		}
		r = restore_views(lv, j, err);
		if (r == 0 || !lv->gone || attempt > 0)
			return r;
	}
}

/* ---------------------------------------------------------------------------------------- */
/* Describing a guest and a host */

/*
 * The host's default hugepage size, which a domain's bare <hugepages/> means and libvirt does
 * not report: the one hugepage size the capabilities offer; else, for the local system QEMU
 * driver, the kernel's (Hugepagesize in /proc/meminfo); else 0, unknown.
 */
static int
default_hugepage_kib(struct lv *lv, uint64_t *ret, struct tmap_error *err)
{
	_cleanup_free_ char *caps = virConnectGetCapabilities(lv->conn);
	int r;

	*ret = 0;
	if (!caps)
		return lv_error(lv, err, "cannot read the capabilities of '%s'", uri_text(lv->uri));
	r = capabilities_only_hugepage_size(caps, ret, err);
	if (r == 0 && !*ret && local_qemu(lv))
		*ret = meminfo_hugepage_kib();
	return r;
}

static int
lv_describe(const struct tmap_target *target, struct tmap_guest **ret_guest,
	    struct tmap_error *err)
{
	_cleanup_(lv_freep) struct lv *lv = NULL;
	_cleanup_free_ char *xml = NULL;
	bool config = tmap_target_get(target, "config") && !tmap_target_get(target, "live");
	struct tmap_guest *g = NULL;
	uint64_t page_kib = 0;
	int r;

	r = lv_new(target, true, &lv, err);
	if (r < 0)
		return r;
	/* The side the apply will act on: the definition for --config or a stopped domain. */
	xml = virDomainGetXMLDesc(lv->dom, config ? VIR_DOMAIN_XML_INACTIVE : 0);
	if (!xml)
		return lv_error(lv, err, "cannot read the XML of '%s'", lv->name);
	if (domain_xml_bare_hugepages(xml)) {
		r = default_hugepage_kib(lv, &page_kib, err);
		if (r < 0)
			return r;
	}
	/* Its messages name the domain. */
	r = domain_xml_describe(xml, page_kib, &g, err);
	if (r < 0)
		return r;
	/* The QoS asked for is the definition's: a running domain's values are what is in force,
	 * and one changed by hand (virsh schedinfo --live) is drift, not the guest's spec. */
	if (!config && lv->active && lv->persistent) {
		_cleanup_free_ char *defined = virDomainGetXMLDesc(lv->dom, VIR_DOMAIN_XML_INACTIVE);
		uint64_t shares, period;
		int64_t quota;

		if (!defined)
			r = lv_error(lv, err, "cannot read the definition of '%s'", lv->name);
		else if (domain_xml_qos(defined, &shares, &period, &quota, err) < 0 ||
			 tmap_guest_set_qos(g, shares, period, quota) < 0)
			r = tmap_error_set(err, -EINVAL,
					   "domain '%s': the <cputune> of its definition is not a CPU QoS topomap can set",
					   lv->name);
		if (r < 0) {
			tmap_guest_free(g);
			return r;
		}
	}
	*ret_guest = g;
	return 0;
}

/* What finds the same domain again: the connection's URI as libvirt resolved it, the UUID,
 * and the name it has now (a domain can be renamed; its UUID stays). */
static int
lv_identify(const struct tmap_target *target, struct tmap_target *identity,
	    struct tmap_error *err)
{
	_cleanup_(lv_freep) struct lv *lv = NULL;
	char uuid[VIR_UUID_STRING_BUFLEN];
	int r;

	r = lv_new(target, true, &lv, err);
	if (r < 0)
		return r;
	if (virDomainGetUUIDString(lv->dom, uuid) < 0)
		return lv_error(lv, err, "cannot read the UUID of domain '%s'", lv->name);
	r = tmap_target_set(identity, "uri", lv->conn_uri);
	if (r == 0)
		r = tmap_target_set(identity, "uuid", uuid);
	if (r == 0)
		r = tmap_target_set(identity, "domain", lv->name);
	return r < 0 ? tmap_error_set(err, r, "cannot record the identity of domain '%s'", lv->name) : 0;
}

static int
lv_host_topology(const char *arg, char **ret_xml, struct tmap_error *err)
{
	virConnectPtr conn = NULL;
	_cleanup_free_ char *caps = NULL;
	const char *uri = arg && *arg ? arg : NULL;
	int r;

	r = connect_uri(uri, true, &conn, err);
	if (r < 0)
		return r;
	caps = virConnectGetCapabilities(conn);
	if (!caps)
		r = lv_error(NULL, err, "cannot read the capabilities of '%s'", uri_text(uri));
	virConnectClose(conn);
	if (r < 0)
		return r;
	r = capabilities_to_hwloc(caps, ret_xml, err);
	if (r < 0 && err && r != -ENOMEM) {
		char msg[TMAP_ERROR_MAX];

		snprintf(msg, sizeof(msg), "%s", err->message);
		return tmap_error_set(err, r, "host at '%s': %s", uri_text(uri), msg);
	}
	return r;
}

/*
 * Can the backend work here? The client library must work; then a daemon must be there to
 * talk to, which is checked without connecting: a connection may wait on a remote host, and
 * the default URI of an unprivileged user starts a session daemon.
 */
static int
lv_probe(struct tmap_error *err)
{
	unsigned long version = 0;
	struct stat st;

	if (virGetVersion(&version, NULL, NULL) < 0)
		return tmap_error_set(err, -ENOTSUP, "the libvirt client library does not work: %s",
				 last_error_text());
	if (getenv("LIBVIRT_DEFAULT_URI") || geteuid() != 0)
		return 0;
	if (stat(LIBVIRTD_SOCKET, &st) == 0 || stat(VIRTQEMUD_SOCKET, &st) == 0)
		return 0;
	return tmap_error_set(err, -ENOENT,
			 "no local libvirt daemon: neither " LIBVIRTD_SOCKET " nor " VIRTQEMUD_SOCKET " exists (start libvirtd, or reach another host with --connect URI)");
}

static const char *const lv_keys[] = {"connect",	   "domain", "live", "config",
				      "reconnect-timeout", NULL};

TMAP_BACKEND_EXPORT const struct tmap_backend tmap_backend = {
	.abi = TMAP_BACKEND_ABI,
	.size = sizeof(struct tmap_backend),
	.name = "libvirt",
	.summary = "libvirt domains: vcpupin, emulatorpin, iothreadpin, numatune and cputune, local or remote",
	.target_keys = lv_keys,
	.probe = lv_probe,
	.open = lv_open,
	.apply = lv_apply,
	.read_back = lv_read_back,
	.restore = lv_restore,
	.close = lv_close,
	.describe = lv_describe,
	.host_topology = lv_host_topology,
	.identify = lv_identify,
	.check = lv_check,
};
