/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The allocation state, as the library's other files see it (not installed). state.c owns the
 * file (lock, read, check, write); state-guest.c reads and writes one guest of it. The session
 * (session.c) is the only caller: it decides when a guest is recorded, pending or applied.
 */
#ifndef TOPOMAP_STATE_H
#define TOPOMAP_STATE_H

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
	struct json_object *target;	/* {"backend", "options", "identity"}, or NULL */
	struct json_object *spec;	/* the guest as asked, in the guest file format */
};

/* The committed document's records; NULL when the name has none. */
struct state_record *state_record_find(struct tmap_state *st, const char *name);
size_t state_record_count(const struct tmap_state *st);
struct state_record *state_record_at(struct tmap_state *st, size_t i);
/* Set (or replace) a guest's record; target and spec are taken (their reference). */
int state_record_put(struct tmap_state *st, const char *name, bool pending,
		     struct json_object *target, struct json_object *spec);
void state_record_drop(struct tmap_state *st, const char *name);

/* A host for topology t as the committed document holds it, its reserve widened by
 * `extra` (list syntax, may be NULL). */
int state_host_new(struct tmap_state *st, const struct tmap_topology *t,
		   const struct tmap_solve_options *o, const char *extra, struct tmap_host **ret,
		   struct tmap_error *err);
/* The records as the committed document holds them, after changes that were not committed. */
int state_records_reload(struct tmap_state *st, struct tmap_error *err);
/* Write the host and the records as the new committed document (to the file when there is
 * one). On failure the committed document stays what it was. */
int state_commit(struct tmap_state *st, const struct tmap_host *h, struct tmap_error *err);
/* The recorded reserve (list syntax, "" for none) and its replacement, committed next time. */
const char *state_reserve(const struct tmap_state *st);
int state_set_reserve(struct tmap_state *st, const char *list, struct tmap_error *err);
const char *state_path(const struct tmap_state *st);
/* A state without a file: kept in memory, for a session that records nothing. */
int state_new_memory(struct tmap_state **ret, struct tmap_error *err);

/* state-guest.c */
/* One guest's plan from the state: every key checked for its type, every set for this host. */
int state_plan_from_json(const struct tmap_topology *t, struct json_object *json,
			 const char *path, const char *at, struct plan_guest *pg,
			 struct tmap_error *err);
/* The guest file form of a guest (its spec), or of what a plan answers (a v1 state). */
struct json_object *state_spec_from_guest(const struct tmap_guest *g);
struct json_object *state_spec_from_plan(const struct plan_guest *pg);
/* A guest back from its spec. */
int state_guest_from_spec(struct json_object *spec, const char *where, struct tmap_guest **ret,
			  struct tmap_error *err);
/* A target as recorded: {"backend": NAME, "options": {...}, "identity": {...}}. */
struct json_object *state_target_json(const char *backend, const struct tmap_target *target,
				      const struct tmap_target *identity);
int state_target_from_json(struct json_object *json, const char **ret_backend,
			   struct tmap_target **ret, struct tmap_error *err);
/* Do a recorded target and a given one name the same thing (backend and options)? */
bool state_target_matches(struct json_object *json, const char *backend,
			  const struct tmap_target *target);

#endif
