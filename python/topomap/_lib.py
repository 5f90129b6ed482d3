# SPDX-License-Identifier: LGPL-2.1-or-later
"""The C library, libtopomap, through cffi in ABI mode: nothing is compiled.

The declarations below are a subset of <topomap/topomap.h>, <topomap/session.h>,
<topomap/backend.h> and <topomap/plugin.h>, copied as the headers give them; struct layouts
are only those of the caller-owned structs (struct tmap_error, the options). The library is
found through TOPOMAP_LIBRARY (a path; `meson devenv` sets it to the build tree's), else as
libtopomap.so.0 on the loader's path.
"""
import os

import cffi

CDEF = """
struct tmap_error { int code; char message[512]; };
struct tmap_topology; struct tmap_guest; struct tmap_guests; struct tmap_plan;
struct tmap_host; struct tmap_session; struct tmap_target; struct tmap_report;

struct tmap_solve_options {
    uint32_t size; uint32_t flags; const char *reserve; const char *shared;
    double cpu_overcommit; double memory_overcommit;
};
struct tmap_session_options {
    unsigned size; unsigned flags; const char *topology; const char *state;
    const char *reserve; struct tmap_solve_options solve;
    const struct tmap_topology *host;
};

const char *tmap_version(void);
int tmap_topology_new_live(unsigned flags, struct tmap_topology **ret, struct tmap_error *reterr);
int tmap_topology_new_synthetic(const char *description, unsigned flags,
                                struct tmap_topology **ret, struct tmap_error *reterr);
int tmap_topology_new_xml(const char *path, unsigned flags, struct tmap_topology **ret,
                          struct tmap_error *reterr);
int tmap_topology_new_json(const char *path, unsigned flags, struct tmap_topology **ret,
                           struct tmap_error *reterr);
int tmap_topology_new_backend(const char *backend, const char *arg, unsigned flags,
                              struct tmap_topology **ret, struct tmap_error *reterr);
struct tmap_topology *tmap_topology_free(struct tmap_topology *topology);
int tmap_topology_format(const struct tmap_topology *topology, int format, unsigned flags,
                         char **ret, struct tmap_error *reterr);

int tmap_guests_new(struct tmap_guests **ret);
struct tmap_guests *tmap_guests_free(struct tmap_guests *guests);
int tmap_guests_parse_json(struct tmap_guests *guests, const char *text, size_t len,
                           const char *origin, struct tmap_error *reterr);
size_t tmap_guests_count(const struct tmap_guests *guests);
const struct tmap_guest *tmap_guests_get(const struct tmap_guests *guests, size_t index);

int tmap_solve(const struct tmap_topology *topology, const struct tmap_guests *guests,
               const struct tmap_solve_options *options, struct tmap_plan **ret,
               struct tmap_error *reterr);
struct tmap_plan *tmap_plan_free(struct tmap_plan *plan);
int tmap_plan_format(const struct tmap_plan *plan, int format, unsigned flags, char **ret,
                     struct tmap_error *reterr);
int tmap_host_format(const struct tmap_host *host, int format, unsigned flags, char **ret,
                     struct tmap_error *reterr);
int tmap_host_format_nrt(const struct tmap_host *host, const char *node_name, unsigned flags,
                         char **ret, struct tmap_error *reterr);

int tmap_target_new(struct tmap_target **ret);
struct tmap_target *tmap_target_free(struct tmap_target *target);
int tmap_target_set(struct tmap_target *target, const char *key, const char *value);
struct tmap_report *tmap_report_free(struct tmap_report *report);
size_t tmap_report_drift_count(const struct tmap_report *report);
const char *tmap_report_drift(const struct tmap_report *report, size_t i);

const char *tmap_step_name(int step);
int tmap_session_open(const struct tmap_session_options *options, struct tmap_session **ret,
                      struct tmap_error *reterr);
struct tmap_session *tmap_session_close(struct tmap_session *session);
int tmap_session_failed_step(const struct tmap_session *session);
const struct tmap_topology *tmap_session_topology(const struct tmap_session *session);
const struct tmap_host *tmap_session_host(const struct tmap_session *session);
const char *tmap_session_state_path(const struct tmap_session *session);
const char *tmap_session_reserve(const struct tmap_session *session);
size_t tmap_session_notice_count(const struct tmap_session *session);
const char *tmap_session_notice(const struct tmap_session *session, size_t i);
size_t tmap_session_guest_count(const struct tmap_session *session);
const char *tmap_session_guest_name(const struct tmap_session *session, size_t i);
int tmap_session_guest_plan(const struct tmap_session *session, const char *name,
                            struct tmap_plan **ret, struct tmap_error *reterr);
int tmap_session_plan(struct tmap_session *session, const struct tmap_guests *guests,
                      unsigned flags, struct tmap_plan **ret, struct tmap_error *reterr);
int tmap_session_apply(struct tmap_session *session, const char *backend,
                       const struct tmap_target *target, const struct tmap_guest *guest,
                       unsigned flags, struct tmap_plan **ret_plan,
                       struct tmap_report **ret_report, struct tmap_error *reterr);
int tmap_session_record(struct tmap_session *session, const struct tmap_guest *guest,
                        unsigned flags, struct tmap_plan **ret_plan, struct tmap_error *reterr);
int tmap_session_verify(struct tmap_session *session, const char *name,
                        struct tmap_report **ret_report, struct tmap_error *reterr);
int tmap_session_release(struct tmap_session *session, const char *name,
                         struct tmap_error *reterr);
int tmap_session_adopt(struct tmap_session *session, const char *backend,
                       const struct tmap_target *target, const char *name,
                       struct tmap_plan **ret_plan, struct tmap_error *reterr);
int tmap_session_set_reserve(struct tmap_session *session, const char *add, const char *remove,
                             struct tmap_error *reterr);
void free(void *);
"""

FORMAT_TABLE, FORMAT_JSON = 0, 1
TOPOLOGY_XML_PROBE = 1
SESSION_WRITE = 1
SESSION_BATCH = 1
APPLY_DRY_RUN = 1

ffi = cffi.FFI()
ffi.cdef(CDEF)
lib = ffi.dlopen(os.environ.get("TOPOMAP_LIBRARY") or "libtopomap.so.0")
libc = ffi.dlopen(None)
