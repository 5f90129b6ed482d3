/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * State files made by a generator, not by byte mutations: the input's bytes are decisions
 * that build a document of the state format (format, version, host, reserve, shared pool,
 * housekeeping, isolation, guests with name, status, target, spec and plan) whose values are
 * mostly those topomap writes and sometimes wrong in meaning: another JSON type, numbers
 * past int32 and int64, lists such as "5-3" or "0,,1", PUs outside the host, a PU two guests
 * hold, a name twice, an unknown backend, NUL bytes, missing and extra keys. Byte mutations
 * of a state rarely get past its strict JSON; this reaches the checks behind it every run.
 *
 * The loader must refuse with one line, or load a state it can stand on: names unique, no
 * PU held by two guests, no guest running on a PU another guest holds, and what it saves
 * loads again. Then what the commands do with a state runs on it: list, spec, target, plan
 * one more guest, resize, make room, the partition.
 */
#include <topomap/session.h>
#include <topomap/topomap.h>

#include "internal.h"

#include "fuzz-common.h"

#define TOPOLOGY "pack:2 numa:2 core:4 pu:2" /* PUs 0-31, node n: 8n to 8n+7 */
#define NPUS 32
#define MAX_GUESTS 6

/* ------------------------------------------------------------------------------------- */
/* Values: the plain one, or one from a menu of wrong ones */

/* One decision: false (the plain value) nearly always; true one time in `one_in`. */
static bool
rarely(struct fuzz_gen *g, unsigned one_in)
{
	return fuzz_more(g) && fuzz_take(g, 8) % one_in == one_in - 1;
}

static void
uint_value(struct fuzz_gen *g, unsigned long long plain)
{
	if (rarely(g, 12))
		fuzz_wrong_value(g);
	else
		fprintf(g->out, "%llu", plain);
}

/* A set in list syntax. */
static void
list_value(struct fuzz_gen *g, const char *plain)
{
	static const char *const wrong[] = {
		"0-", "5-3", "0,,1", "65536", "0-65535", "4294967295", "-1", " 1", "1 ", "0x1",
		"3,1", "", "0-31", "1-1", "0-4294967296", "a", "1\\u00002", "31,32", ",", "0-1,",
	};
	unsigned k;

	if (!rarely(g, 10)) {
		fprintf(g->out, "\"%s\"", plain);
		return;
	}
	k = fuzz_take(g, 8);
	if (k >= 2 * sizeof(wrong) / sizeof(wrong[0]))
		fuzz_wrong_value(g);
	else
		fprintf(g->out, "\"%s\"", wrong[k % (sizeof(wrong) / sizeof(wrong[0]))]);
}

/* A name: a guest's, a backend's, an enum's. */
static void
name_value(struct fuzz_gen *g, const char *plain, const char *other)
{
	static const char *const wrong[] = {
		"", "a\\u0000b", "../x", "a/b", " x", "\\u00e9t\\u00e9", "-", "x\\ny", "nosuch",
	};
	unsigned k;

	if (!rarely(g, 12)) {
		fprintf(g->out, "\"%s\"", plain);
		return;
	}
	k = fuzz_take(g, 8) % 16;
	if (k < sizeof(wrong) / sizeof(wrong[0]))
		fprintf(g->out, "\"%s\"", wrong[k]);
	else if (k < 13 && other)
		fprintf(g->out, "\"%s\"", other);
	else
		fuzz_wrong_value(g);
}

/* A PU: mostly the next fresh one, sometimes one held already, reserved or absent. */
static unsigned
pu_value(struct fuzz_gen *g, unsigned *next)
{
	static const unsigned far[] = {0, 16, 24, 31, 32, 63, 64, 1023, 65535, 65536};

	if (!rarely(g, 16)) {
		/* 0 and 16 are the reserve, 24 the shared pool. */
		while (*next == 0 || *next == 16 || *next == 24)
			(*next)++;
		return (*next)++ % NPUS;
	}
	if (fuzz_take(g, 8) & 1)
		return fuzz_take(g, 8) % NPUS;
	return far[fuzz_take(g, 8) % (sizeof(far) / sizeof(far[0]))];
}

/* ------------------------------------------------------------------------------------- */
/* Objects: members in order, each sometimes missing or given twice, sometimes one unknown */

struct obj {
	struct fuzz_gen *g;
	bool first;
	unsigned left;	/* FIELD's count of the member being written */
};

static void
obj_open(struct obj *o, struct fuzz_gen *g)
{
	o->g = g;
	o->first = true;
	fputc('{', g->out);
}

static bool
key(struct obj *o, const char *name)
{
	fprintf(o->g->out, "%s\"%s\":", o->first ? "" : ",", name);
	o->first = false;
	return true;
}

static void
obj_close(struct obj *o)
{
	if (rarely(o->g, 64)) {
		key(o, fuzz_take(o->g, 8) & 1 ? "extra" : "");
		fuzz_wrong_value(o->g);
	}
	fputc('}', o->g->out);
}

/* How many times a member is written: 1; sometimes 0 (missing) or 2 (its key twice). */
static unsigned
times(struct obj *o)
{
	if (!rarely(o->g, 24))
		return 1;
	return fuzz_take(o->g, 8) % 4 == 0 ? 2 : 0;
}

#define FIELD(o, name) for ((o)->left = times(o); (o)->left > 0 && key(o, name); (o)->left--)

/* ------------------------------------------------------------------------------------- */
/* The document */

struct guest_gen {
	char name[16];
	bool shared, isolate;
	unsigned vcpus, ncells, iothreads;
	unsigned pu[8], emulator_pu;
	unsigned long long memory_mib;
};

static void
set_list(char *buf, size_t size, const unsigned *pus, size_t n, int extra)
{
	bool seen[NPUS + 1] = {false};
	size_t len = 0;

	/* A PU outside the host stands alone at the end (the loader must refuse it). */
	for (size_t i = 0; i < n; i++)
		seen[pus[i] < NPUS ? pus[i] : NPUS] = true;
	if (extra >= 0)
		seen[extra < NPUS ? extra : NPUS] = true;
	buf[0] = '\0';
	for (unsigned p = 0; p < NPUS && len < size; p++)
		if (seen[p])
			len += (size_t)snprintf(buf + len, size - len, "%s%u", len ? "," : "", p);
	for (size_t i = 0; i < n && len < size; i++)
		if (pus[i] >= NPUS)
			len += (size_t)snprintf(buf + len, size - len, "%s%u", len ? "," : "", pus[i]);
}

static void
guest_model(struct fuzz_gen *g, unsigned i, unsigned *next, struct guest_gen *m)
{
	static const unsigned many[] = {64, 300, TMAP_MAX_VCPUS, TMAP_MAX_VCPUS + 1};
	unsigned d = fuzz_take(g, 8);

	snprintf(m->name, sizeof(m->name), "g%u", i);
	m->shared = d % 4 == 3;
	m->isolate = !m->shared && (d >> 2) % 4 == 3;
	m->vcpus = 1 + (d >> 4) % 4;
	/* A shared guest of many vcpus: all of them on the pool. */
	if (m->shared && rarely(g, 8))
		m->vcpus = many[fuzz_take(g, 8) % 4];
	m->ncells = m->vcpus > 1 && rarely(g, 3) ? 2 : 1;
	m->iothreads = rarely(g, 4) ? (rarely(g, 8) ? TMAP_MAX_IOTHREADS + 1 : 1) : 0;
	m->memory_mib = 256;
	for (unsigned v = 0; v < m->vcpus && v < 8; v++)
		m->pu[v] = m->shared ? 24 : pu_value(g, next);
	m->emulator_pu = m->isolate ? pu_value(g, next) : NPUS;
}

static void
target_json(struct fuzz_gen *g, const struct guest_gen *m)
{
	struct obj o;
	char file[32];

	snprintf(file, sizeof(file), "/run/mock-%s", m->name);
	obj_open(&o, g);
	FIELD(&o, "backend") name_value(g, "mock", "cgroup");
	FIELD(&o, "options")
	{
		struct obj opt;

		obj_open(&opt, g);
		FIELD(&opt, "file") name_value(g, file, NULL);
		obj_close(&opt);
	}
	if (rarely(g, 4))
		FIELD(&o, "identity")
		{
			struct obj id;

			obj_open(&id, g);
			FIELD(&id, "domain") name_value(g, m->name, NULL);
			obj_close(&id);
		}
	obj_close(&o);
}

/* The guest as asked, in the guest file format. */
static void
spec_json(struct fuzz_gen *g, const struct guest_gen *m, const char *other)
{
	struct obj o;

	obj_open(&o, g);
	FIELD(&o, "name") name_value(g, m->name, other);
	FIELD(&o, "vcpus") uint_value(g, m->vcpus);
	FIELD(&o, "memory_mib") uint_value(g, m->memory_mib * m->ncells);
	FIELD(&o, "cpu_policy") name_value(g, m->shared ? "shared" : "dedicated", "dedicated");
	FIELD(&o, "emulator_threads") name_value(g, m->isolate ? "isolate" : "share", "share");
	if (m->ncells > 1)
		FIELD(&o, "cells") uint_value(g, m->ncells);
	if (m->iothreads)
		FIELD(&o, "iothreads") uint_value(g, m->iothreads);
	if (rarely(g, 8))
		FIELD(&o, "pinned") fputs(fuzz_take(g, 8) & 1 ? "true" : "1", g->out);
	obj_close(&o);
}

static void
vcpus_json(struct fuzz_gen *g, const struct guest_gen *m)
{
	fputc('[', g->out);
	for (unsigned v = 0; v < m->vcpus; v++) {
		unsigned pu = m->pu[v < 8 ? v : 0];
		char list[16];
		struct obj o;

		snprintf(list, sizeof(list), "%u", pu);
		fputs(v ? "," : "", g->out);
		obj_open(&o, g);
		FIELD(&o, "vcpu") uint_value(g, v);
		FIELD(&o, "cpuset") list_value(g, list);
		FIELD(&o, "node") uint_value(g, pu / 8);
		if (!m->shared) {
			snprintf(list, sizeof(list), "%u,%u", pu & ~1u, pu | 1u);
			FIELD(&o, "host_core") list_value(g, list);
		}
		obj_close(&o);
	}
	fputc(']', g->out);
}

static void
cells_json(struct fuzz_gen *g, const struct guest_gen *m)
{
	unsigned half = m->ncells > 1 ? m->vcpus / 2 : m->vcpus;

	fputc('[', g->out);
	for (unsigned c = 0; c < m->ncells; c++) {
		unsigned first = c ? half : 0, last = c || m->ncells == 1 ? m->vcpus - 1 : half - 1;
		unsigned n = last - first + 1;
		char cpus[32], pus[128];
		struct obj o;

		snprintf(cpus, sizeof(cpus), first == last ? "%u" : "%u-%u", first, last);
		set_list(pus, sizeof(pus), m->pu + (first < 8 ? first : 0),
			 first < 8 ? (n < 8 - first ? n : 8 - first) : 1, -1);
		fputs(c ? "," : "", g->out);
		obj_open(&o, g);
		FIELD(&o, "cell") uint_value(g, c);
		FIELD(&o, "cpus") list_value(g, cpus);
		FIELD(&o, "nodeset")
		{
			char node[16];

			snprintf(node, sizeof(node), "%u", m->pu[first < 8 ? first : 0] / 8);
			list_value(g, node);
		}
		FIELD(&o, "memory_mib") uint_value(g, m->memory_mib);
		FIELD(&o, "host_cpus") list_value(g, pus);
		obj_close(&o);
	}
	fputc(']', g->out);
}

/* Its plan, as the plan's JSON contract writes a guest. */
static void
plan_json(struct fuzz_gen *g, const struct guest_gen *m, const char *other)
{
	unsigned npus = m->vcpus < 8 ? m->vcpus : 8;
	char held[160], nodes[32] = "";
	struct obj o;

	set_list(held, sizeof(held), m->pu, npus, m->isolate ? (int)m->emulator_pu : -1);
	for (unsigned c = 0; c < m->ncells; c++) {
		unsigned node = m->pu[c ? (m->vcpus / 2 < 8 ? m->vcpus / 2 : 0) : 0] / 8;
		size_t len = strlen(nodes);

		snprintf(nodes + len, sizeof(nodes) - len, "%s%u", c ? "," : "", node);
	}
	obj_open(&o, g);
	FIELD(&o, "name") name_value(g, m->name, other);
	FIELD(&o, "cpu_policy") name_value(g, m->shared ? "shared" : "dedicated", "dedicated");
	FIELD(&o, "thread_policy") name_value(g, "prefer", "isolate");
	FIELD(&o, "emulator_threads") name_value(g, m->isolate ? "isolate" : "share", "share");
	FIELD(&o, "topology")
	{
		struct obj t;

		obj_open(&t, g);
		FIELD(&t, "sockets") uint_value(g, 1);
		FIELD(&t, "cores") uint_value(g, m->vcpus);
		FIELD(&t, "threads") uint_value(g, 1);
		obj_close(&t);
	}
	FIELD(&o, "vcpus") vcpus_json(g, m);
	FIELD(&o, "cells") cells_json(g, m);
	FIELD(&o, "cells_proposed") fputs("false", g->out);
	if (rarely(g, 8))
		FIELD(&o, "pinned") fputs(fuzz_take(g, 8) & 1 ? "true" : "0", g->out);
	FIELD(&o, "cpuset") list_value(g, m->shared ? "24" : held);
	FIELD(&o, "held") list_value(g, m->shared ? "" : held);
	FIELD(&o, "emulator")
	{
		struct obj e;
		char emu[16];

		snprintf(emu, sizeof(emu), "%u", m->emulator_pu);
		obj_open(&e, g);
		FIELD(&e, "cpuset") list_value(g, m->shared ? "24" : m->isolate ? emu : held);
		obj_close(&e);
	}
	FIELD(&o, "iothreads")
	{
		fputc('[', g->out);
		for (unsigned k = 0; k < m->iothreads; k++)
			fprintf(g->out, "%s{\"iothread\":%u,\"cpuset\":\"%s\"}", k ? "," : "", k + 1,
				m->shared ? "24" : held);
		fputc(']', g->out);
	}
	FIELD(&o, "memory")
	{
		struct obj mem;

		obj_open(&mem, g);
		FIELD(&mem, "mode") name_value(g, "strict", "interleave");
		FIELD(&mem, "nodeset") list_value(g, nodes);
		FIELD(&mem, "memory_mib") uint_value(g, m->memory_mib * m->ncells);
		if (rarely(g, 16))
			FIELD(&mem, "hugepage_kib") uint_value(g, 2048);
		obj_close(&mem);
	}
	FIELD(&o, "qos")
	{
		struct obj q;

		obj_open(&q, g);
		if (rarely(g, 4))
			FIELD(&q, "shares") uint_value(g, 100);
		if (rarely(g, 4))
			FIELD(&q, "quota") fputs(fuzz_take(g, 8) & 1 ? "-1" : "-2", g->out);
		obj_close(&q);
	}
	FIELD(&o, "explain") fputs(rarely(g, 8) ? "[\"why\",7]" : "[\"why\"]", g->out);
	if (rarely(g, 16))
		FIELD(&o, "devices") fputs(fuzz_take(g, 8) & 1 ? "[]" :
					   "[{\"pci\":\"0000:00:02.0\",\"cell\":0,\"policy\":\"required\"}]",
					   g->out);
	obj_close(&o);
}

static void
guest_json(struct fuzz_gen *g, unsigned version, const struct guest_gen *m, const char *other)
{
	struct obj o;

	if (version == 1) {
		plan_json(g, m, other);
		return;
	}
	obj_open(&o, g);
	FIELD(&o, "name") name_value(g, m->name, other);
	FIELD(&o, "status") name_value(g, "applied", "pending");
	if (!rarely(g, 4))
		FIELD(&o, "target") target_json(g, m);
	FIELD(&o, "spec") spec_json(g, m, other);
	FIELD(&o, "plan") plan_json(g, m, other);
	obj_close(&o);
}

static void
isolation_json(struct fuzz_gen *g)
{
	unsigned n = 1 + fuzz_take(g, 8) % 3;

	fputc('[', g->out);
	for (unsigned i = 0; i < n; i++) {
		struct obj o;

		fputs(i ? "," : "", g->out);
		obj_open(&o, g);
		FIELD(&o, "path") name_value(g, "/proc/irq/9/smp_affinity_list", "irq/9");
		FIELD(&o, "restore") name_value(g, "0-31", NULL);
		FIELD(&o, "value") name_value(g, "0,16", NULL);
		obj_close(&o);
	}
	fputc(']', g->out);
}

static void
generate(struct fuzz_gen *g)
{
	unsigned version = rarely(g, 4) ? 1 : 2, nguests = fuzz_take(g, 8) % (MAX_GUESTS + 1);
	unsigned next = 1;
	struct guest_gen m[MAX_GUESTS];
	struct obj o;

	obj_open(&o, g);
	FIELD(&o, "format") name_value(g, "topomap-state", "topomap-stat");
	FIELD(&o, "version") uint_value(g, rarely(g, 32) ? 3 : version);
	FIELD(&o, "host")
	{
		if (version == 1) {
			list_value(g, "0-31");
		} else {
			struct obj h;

			obj_open(&h, g);
			FIELD(&h, "pus") list_value(g, "0-31");
			FIELD(&h, "nodes") list_value(g, "0-3");
			obj_close(&h);
		}
	}
	FIELD(&o, "reserve") list_value(g, "0,16");
	FIELD(&o, "shared_pool") list_value(g, "24");
	if (rarely(g, 4))
		FIELD(&o, "housekeeping") list_value(g, "0,8,16");
	if (rarely(g, 8))
		FIELD(&o, "isolation") isolation_json(g);
	FIELD(&o, "guests")
	{
		fputc('[', g->out);
		for (unsigned i = 0; i < nguests; i++) {
			fputs(i ? "," : "", g->out);
			guest_model(g, i, &next, &m[i]);
			guest_json(g, version, &m[i], i ? m[i - 1].name : NULL);
		}
		fputc(']', g->out);
	}
	obj_close(&o);
}

/* ------------------------------------------------------------------------------------- */
/* What a loaded state must be, and what the commands do with one */

/* A refusal is one line that says something. */
static void
check_refusal(const struct tmap_error *err)
{
	if (getenv("FUZZ_STATE_GEN_PRINT"))
		fprintf(stderr, "refused: %s\n", err->message);
	if (!err->message[0] || strchr(err->message, '\n') || err->code >= 0)
		abort();
}

static void
check_loaded(const struct tmap_host *host)
{
	size_t n = tmap_host_guest_count(host);

	for (size_t i = 0; i < n; i++) {
		const struct plan_guest *a = host_guest_plan_at(host, i);

		for (size_t j = 0; j < n; j++) {
			const struct plan_guest *b = host_guest_plan_at(host, j);

			if (i == j)
				continue;
			if (streq(a->name, b->name))
				abort(); /* a name twice */
			if (a->cpu_policy != TMAP_CPU_DEDICATED)
				continue;
			/* A dedicated guest's PUs are its own: no other guest holds one or runs on
			 * one. */
			if (hwloc_bitmap_intersects(a->held, b->held) ||
			    hwloc_bitmap_intersects(a->held, b->emulator))
				abort();
			for (unsigned v = 0; v < b->vcpus; v++)
				if (hwloc_bitmap_intersects(a->held, b->vcpu_pus[v]))
					abort();
		}
	}
}

static struct tmap_topology *topology;
static struct tmap_guest *extra, *big;

static void
exercise_host(struct tmap_host *host, const char *reserve, const char *housekeeping)
{
	struct tmap_room_options room = TMAP_ROOM_OPTIONS_INIT;
	struct tmap_partition *partition = NULL;
	struct tmap_plan *plan = NULL;
	char *text;

	if (tmap_host_format(host, TMAP_FORMAT_TABLE, 0, &text, NULL) >= 0)
		free(text);
	if (tmap_partition_new(host, reserve, housekeeping, 0, &partition, NULL) >= 0)
		tmap_partition_free(partition);
	if (tmap_host_place(host, extra, &plan, NULL) >= 0) {
		tmap_plan_free(plan);
		tmap_host_release(host, tmap_guest_name(extra));
	}
	room.decisions = 200;
	room.max_moves = 4;
	if (tmap_host_guest_count(host) &&
	    tmap_host_resize(host, tmap_host_guest_name(host, 0), 3, 512, &room, &plan, NULL) >= 0)
		tmap_plan_free(plan);
	if (tmap_host_make_room(host, big, &room, &plan, NULL) >= 0)
		tmap_plan_free(plan);
}

/* What the state commands ask of a session: each guest's target, spec and plan, one more. */
static void
exercise_session(const char *path)
{
	struct tmap_session_options options = TMAP_SESSION_OPTIONS_INIT;
	struct tmap_session *session = NULL;
	struct tmap_guests *guests = NULL;
	struct tmap_target *target;
	struct tmap_plan *plan;
	struct tmap_error err = {0};
	const char *backend;

	options.host = topology;
	options.state = path;
	if (tmap_session_open(&options, &session, &err) < 0) {
		check_refusal(&err);
		return;
	}
	for (size_t i = 0; i < tmap_session_guest_count(session); i++) {
		const char *name = tmap_session_guest_name(session, i);

		if (tmap_session_lookup(session, name) == NULL)
			abort();
		if (tmap_session_guest_target(session, name, &backend, &target, NULL) >= 0)
			tmap_target_free(target);
		if (tmap_session_guest_plan(session, name, &plan, NULL) >= 0)
			tmap_plan_free(plan);
		if (tmap_session_guest_spec(session, name, &guests, NULL) >= 0) {
			/* The guest asked again, as a later start of it would be. */
			if (tmap_session_plan(session, guests, TMAP_SESSION_BATCH, &plan, NULL) >= 0)
				tmap_plan_free(plan);
			tmap_guests_free(guests);
		}
	}
	tmap_session_close(session);
}

/* The state at path loaded into a new host (flags: TMAP_STATE_WRITE or 0). */
static int
load(const char *path, unsigned flags, struct tmap_state **ret_state, struct tmap_host **ret_host,
     struct tmap_error *err)
{
	struct tmap_solve_options options = TMAP_SOLVE_OPTIONS_INIT;
	struct tmap_state *state = NULL;
	struct tmap_host *host = NULL;
	int r = tmap_state_open(path, flags, &state, err);

	if (r < 0)
		return r;
	options.reserve = tmap_state_reserve(state);
	r = tmap_host_new(topology, &options, &host, err);
	if (r >= 0)
		r = tmap_state_load(state, host, err);
	if (r < 0) {
		tmap_host_free(host);
		tmap_state_close(state);
		return r;
	}
	*ret_state = state;
	*ret_host = host;
	return 0;
}

/* What a loaded state saves must load again, with the same guests. */
static void
check_round_trip(const char *path, size_t nguests)
{
	struct tmap_state *state = NULL;
	struct tmap_host *host = NULL;
	struct tmap_error err = {0};

	if (load(path, TMAP_STATE_WRITE, &state, &host, &err) < 0 ||
	    tmap_state_save(state, host, &err) < 0) {
		fprintf(stderr, "a state loaded once is refused or not saved: %s\n", err.message);
		abort();
	}
	tmap_host_free(host);
	tmap_state_close(state);
	if (load(path, 0, &state, &host, &err) < 0) {
		fprintf(stderr, "a saved state is refused: %s\n", err.message);
		abort();
	}
	if (tmap_host_guest_count(host) != nguests)
		abort();
	tmap_host_free(host);
	tmap_state_close(state);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tmap_state *state = NULL;
	struct tmap_host *host = NULL;
	struct tmap_error err = {0};
	char path[PATH_MAX], *json = NULL;
	size_t len = 0, nguests;

	/* Made once, never freed (still reachable at exit). */
	if (!topology) {
		if (tmap_topology_new_synthetic(TOPOLOGY, 0, &topology, NULL) < 0 ||
		    tmap_guest_new("extra", 2, &extra, NULL) < 0 ||
		    tmap_guest_set_memory_mib(extra, 64) < 0 || tmap_guest_new("big", 12, &big, NULL) < 0)
			abort();
	}
	json = fuzz_generate(data, size, generate, &len);
	if (getenv("FUZZ_STATE_GEN_PRINT"))
		fprintf(stderr, "%s\n", json);
	fuzz_write("state.json.lock", data, 0, path, sizeof(path));
	fuzz_write("state.json", (const uint8_t *)json, len, path, sizeof(path));
	free(json);

	if (load(path, 0, &state, &host, &err) < 0) {
		check_refusal(&err);
		return 0;
	}
	check_loaded(host);
	nguests = tmap_host_guest_count(host);
	if (getenv("FUZZ_STATE_GEN_PRINT"))
		fprintf(stderr, "loaded: %zu guests\n", nguests);
	exercise_host(host, tmap_state_reserve(state), tmap_state_housekeeping(state));
	tmap_host_free(host);
	tmap_state_close(state);
	exercise_session(path);
	check_round_trip(path, nguests);
	return 0;
}
