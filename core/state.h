/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The allocation state's two files (not installed): state.c owns the file (lock, read,
 * check, write); state-record.c the records of the guests; state-guest.c reads and writes one
 * guest of it.
 */
#ifndef TOPOMAP_CORE_STATE_H
#define TOPOMAP_CORE_STATE_H

#include "internal.h"
#include "topomap/backend.h"

struct json_object;

#define STATE_FORMAT "topomap-state"
#define STATE_VERSION 2
/* 4 PiB: more memory than any host has, small enough that sums cannot wrap. */
#define STATE_MAX_MEMORY_MIB (UINT64_C(1) << 32)

/* What the state knows of a guest besides its plan (which the host holds). */
struct state_record {
	char *name;
	bool pending;			/* recorded before its backend wrote anything */
	unsigned running_vcpus;		/* the vcpus it runs until it is started again with its
					 * plan's count (a resize applied live); 0: its plan's */
	struct json_object *target;	/* {"backend", "options", "identity"}, or NULL */
	struct json_object *spec;	/* the guest as asked, in the guest file format */
};

/* The open state: state.c's, shared with state-host.c. */
struct tmap_state {
	char *path;
	int lock_fd;
	bool writable;
	struct json_object *root;	/* the committed document; NULL: no state yet */
	char *reserve;			/* the reserve to record ("" for none) */
	char *housekeeping;		/* the housekeeping PUs to record (NULL: the reserve) */
	char *shared_set;		/* the shared pool set by the operator (NULL: none) */
	double cpu_overcommit;		/* recorded ratios; 0: not recorded */
	double memory_overcommit;
	struct json_object *isolation;	/* what host isolate wrote, or NULL */
	struct json_object *isolation_options; /* what it was made with, or NULL */
	size_t nrec;
	struct state_record *rec;
};

/* state.c: -EBADMSG, "state file 'PATH': WHAT: refusing to use or replace it". */
int corrupt(const struct tmap_state *st, struct tmap_error *err, const char *fmt, ...)
	_printf_(3, 4);

/* state-host.c: "host", the PUs and nodes the state was made for. */
int state_host_check(const struct tmap_state *st, struct json_object *host, int version,
		     struct tmap_error *err);
/* state-host.c: the host's own keys (issue 15), "housekeeping" and "isolation". Check one
 * as read (-EBADMSG naming it); take them from a document read; add them to one written. */
int state_host_key_check(const struct tmap_state *st, const char *key, struct json_object *value,
			 struct tmap_error *err);
int state_host_keys_read(struct tmap_state *st, struct json_object *root, struct tmap_error *err);
void state_host_keys_write(const struct tmap_state *st, struct json_object *root);
/* "recent_requests" (issue 18): the shapes of the latest requests the solver saw, at most
 * STATE_RECENT, oldest first, so that a session judges nodes and rebalances by the requests
 * of the sessions before it. Check one as read; write the host's; give them to a host. */
#define STATE_RECENT 16
int state_recent_check(const struct tmap_state *st, struct json_object *value,
		       struct tmap_error *err);
int state_recent_write(struct json_object *root, const struct tmap_host *h);
void state_recent_load(const struct tmap_state *st, struct tmap_host *h);
void state_host_keys_clear(struct tmap_state *st);
/* The keys that depend on one another: shared_set within host.pus, apart from the reserve. */
int state_host_keys_cross_check(const struct tmap_state *st, struct json_object *root,
				struct tmap_error *err);
/* Does the state record an isolation in force (perhaps of no file, every dedicated guest
 * released)? Its options, borrowed (narrow: malloc()ed, free() it; roots: NULL, defaults). */
bool state_isolated(const struct tmap_state *st);
int state_isolation_options(const struct tmap_state *st, struct tmap_isolate_options *ret,
			    const char ***ret_narrow, struct tmap_error *err);
/* Record iso's writes after those recorded (an extension), or instead of them (replace; iso
 * NULL: no file), keeping the recorded options. */
int state_isolation_add(struct tmap_state *st, const struct tmap_isolation *iso, bool replace,
			struct tmap_error *err);
/* The start time of the task change i set the affinity of, else 0. */
unsigned long long state_isolation_start(const struct tmap_state *st, size_t i);
/* Write each recorded change's restore (undo: last first), or its value (redo: first first),
 * skipping a file or task that is gone; an undo also widens the tasks that inherited a
 * narrowed mask (tasks_widen_inherited()). */
int state_isolation_write(const struct tmap_state *st, bool redo, struct tmap_error *err);

/* state-guest.c */
/* One guest's plan from the state: every key checked for its type, every set for this host. */
int state_plan_from_json(const struct tmap_topology *t, struct json_object *json,
			 const char *path, const char *at, struct plan_guest *pg,
			 struct tmap_error *err);
/* The guest file form of a guest (its spec), or of what a plan answers (a v1 state). */
struct json_object *state_spec_from_guest(const struct tmap_guest *g);
struct json_object *state_spec_from_plan(const struct plan_guest *pg);
/* A target as recorded: {"backend": NAME, "options": {...}, "identity": {...}}. */
struct json_object *state_target_json(const char *backend, const struct tmap_target *target,
				      const struct tmap_target *identity);
int state_target_from_json(struct json_object *json, const char **ret_backend,
			   struct tmap_target **ret, struct tmap_error *err);

/* state-record.c: the records, found by name, added (0 or -ENOMEM; target and spec get a
 * reference of their own), all freed. */
struct state_record *state_record_find(struct tmap_state *st, const char *name);
int state_record_add(struct tmap_state *st, const char *name, bool pending,
		     unsigned running_vcpus, struct json_object *target, struct json_object *spec);
void state_records_clear(struct tmap_state *st);

/* state-record.c, for the session: a guest's record. state.c: the committed document put
 * back. */
const char *state_path(const struct tmap_state *st);
bool state_guest_pending(struct tmap_state *st, const char *name);
/* The vcpu count a guest runs while its plan has another (resize --apply, issue 18), or 0. A
 * guest recorded anew (tmap_state_record()) runs its plan's count until this says otherwise. */
unsigned state_guest_running_vcpus(struct tmap_state *st, const char *name);
void state_guest_set_running_vcpus(struct tmap_state *st, const char *name, unsigned vcpus);
void state_guest_mark_applied(struct tmap_state *st, const char *name);
/* The target identity recorded for a guest (borrowed), or NULL. */
struct json_object *state_guest_identity(struct tmap_state *st, const char *name);
/* The guest as asked, as a one-guest list. */
int state_guest_spec(struct tmap_state *st, const char *name, struct tmap_guests **ret,
		     struct tmap_error *err);
/* A reference to the committed document (NULL: no file yet), and writing it back. */
struct json_object *state_snapshot(struct tmap_state *st);
void state_snapshot_free(struct json_object *snapshot);
int state_revert(struct tmap_state *st, struct json_object *snapshot, struct tmap_error *err);

#endif
