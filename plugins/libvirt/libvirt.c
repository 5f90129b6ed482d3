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
#include "libvirt-domain.h"

/* The most node devices read (a host has a few hundred). */
#define NODEDEVS_MAX 4096

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
	lv->resize = flags & TMAP_APPLY_RESIZE;
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

/* Every PCI, net, storage and drm device of the host, read through conn. */
static int
nodedevs_read(virConnectPtr conn, struct nodedevs **ret, struct tmap_error *err)
{
	const unsigned flags = VIR_CONNECT_LIST_NODE_DEVICES_CAP_PCI_DEV |
			       VIR_CONNECT_LIST_NODE_DEVICES_CAP_NET |
			       VIR_CONNECT_LIST_NODE_DEVICES_CAP_STORAGE |
			       VIR_CONNECT_LIST_NODE_DEVICES_CAP_DRM;
	virNodeDevicePtr *devs = NULL;
	char **xmls = NULL;
	int total = virConnectListAllNodeDevices(conn, &devs, flags), r = 0;
	int n = total > NODEDEVS_MAX ? NODEDEVS_MAX : total;

	if (total < 0)
		return -ENOTSUP; /* no node-device driver there: a host without devices */
	xmls = calloc((size_t)n + 1, sizeof(*xmls));
	if (!xmls)
		r = tmap_error_set(err, -ENOMEM, "out of memory");
	for (int i = 0; i < n && r == 0; i++)
		xmls[i] = virNodeDeviceGetXMLDesc(devs[i], 0);
	for (int i = 0; i < n && r == 0; i++)
		if (!xmls[i])
			r = -ENOTSUP;
	if (r == 0)
		r = nodedevs_parse((const char *const *)xmls, (size_t)n, ret, err);
	for (int i = 0; xmls && i < n; i++)
		free(xmls[i]);
	free(xmls);
	for (int i = 0; devs && i < total; i++)
		virNodeDeviceFree(devs[i]);
	free(devs);
	return r;
}

static int
lv_host_topology(const char *arg, char **ret_json, struct tmap_error *err)
{
	virConnectPtr conn = NULL;
	_cleanup_free_ char *caps = NULL;
	struct nodedevs *devs = NULL;
	const char *uri = arg && *arg ? arg : NULL;
	int r;

	r = connect_uri(uri, true, &conn, err);
	if (r < 0)
		return r;
	caps = virConnectGetCapabilities(conn);
	if (!caps)
		r = lv_error(NULL, err, "cannot read the capabilities of '%s'", uri_text(uri));
	/* The PCI devices and their <numa node>; a daemon without a node-device driver gives
	 * a host without devices. */
	if (r == 0 && nodedevs_read(conn, &devs, err) == -ENOMEM)
		r = -ENOMEM;
	virConnectClose(conn);
	if (r < 0) {
		nodedevs_free(devs);
		return r;
	}
	r = capabilities_to_json(caps, devs, ret_json, err);
	nodedevs_free(devs);
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
	.apply_flags = TMAP_APPLY_RESIZE,
};
