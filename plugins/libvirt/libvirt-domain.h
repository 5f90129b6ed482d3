/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The libvirt backend's state of one domain on one connection, as its files see it:
 * libvirt.c (open, describe, identify, the descriptor), libvirt-connect.c (errors,
 * connecting, reconnecting), libvirt-observe.c (what is in force) and libvirt-apply.c (apply
 * and restore). Unlike libvirt-backend.h, everything here needs a connection.
 */
#ifndef TOPOMAP_LIBVIRT_DOMAIN_H
#define TOPOMAP_LIBVIRT_DOMAIN_H

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <topomap/plugin.h>

#include "cpulist.h"
#include "libvirt-backend.h"
#include "libvirt-util.h"
#include "procfs.h"

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
	bool resize;		/* TMAP_APPLY_RESIZE: the plan's vcpu count may differ */
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

/* Make a libvirt call that changes something and returns an int; when it fails, note its name
 * for the message, which names it should the connection have died in it. */
#define LV_CALL(lv, fn, ...)                                                                      \
	({                                                                                        \
		int r_ = fn(__VA_ARGS__);                                                         \
		(lv)->call = r_ < 0 ? #fn : NULL;                                                 \
		r_;                                                                               \
	})

/* libvirt-connect.c */
int last_error_code(void);
const char *last_error_text(void);
int last_failure(struct lv *lv, char *buf, size_t size);
int lv_error(struct lv *lv, struct tmap_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool wrote(struct lv *lv, int rc, unsigned flags);
int oom(struct tmap_error *err);
const char *uri_text(const char *uri);
int connect_uri(const char *uri, bool readonly, virConnectPtr *ret, struct tmap_error *err);
void lv_free(struct lv *lv);
void lv_freep(struct lv **lv);
int lv_new(const struct tmap_target *target, bool readonly, struct lv **ret,
	   struct tmap_error *err);
int lv_views(struct lv *lv, const struct tmap_target *target, struct tmap_error *err);
const char *flags_text(const struct lv *lv, unsigned flags);
bool local_qemu(const struct lv *lv);
int reconnect(struct lv *lv, struct tmap_error *err);
/* libvirt-observe.c */
int capture(struct lv *lv, struct view *v, struct tmap_error *err);
int lv_read_back(void *state, const struct tmap_plan *plan, size_t guest, struct tmap_observed *obs,
		 struct tmap_error *err);
/* libvirt-apply.c */
const char *nodes_in_force(const struct lv *lv, const char *nodeset);
/* Does the transaction write the persistent definition (--config, or a stopped domain)? */
bool has_config_view(const struct lv *lv);
/* Define the domain as xml, an edit of its definition; what: what the plan put in it. */
int define_edited(struct lv *lv, const char *xml, const char *what, struct tmap_error *err);
bool memory_as_planned(const struct lv *lv, int mode, const char *nodeset, int want_mode,
		       const char *want);
int lv_check(void *state, const struct tmap_plan *plan, size_t guest, struct tmap_error *err);
int lv_apply(void *state, const struct tmap_plan *plan, size_t guest, struct tmap_journal *j,
	     struct tmap_error *err);
void left_changed(const struct lv *lv, char *buf, size_t size);
int lv_restore(void *state, struct tmap_journal *j, struct tmap_error *err);
/* libvirt-realtime.c: <vcpusched>, in the definition only (issue 21) */
int lv_realtime_check(struct lv *lv, const struct tmap_plan *plan, size_t guest,
		      struct tmap_error *err);
int lv_realtime_apply(struct lv *lv, const struct tmap_plan *plan, size_t guest,
		      struct tmap_journal *j, struct tmap_error *err);
/* *ret_in_force: the side's <vcpusched> is the plan's, so the vcpu threads of a running
 * domain run the classes libvirt gave them at its start, the plan's. */
int lv_realtime_observe(struct lv *lv, const struct view *v, const struct tmap_plan *plan,
			size_t guest, bool *ret_in_force, struct tmap_observed *obs,
			struct tmap_error *err);

#endif
