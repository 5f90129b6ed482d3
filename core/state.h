/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The allocation state's two files (not installed): state.c owns the file (lock, read,
 * check, write, the records); state-guest.c reads and writes one guest of it.
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

#endif
