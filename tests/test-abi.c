/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The ABI freeze, as hwloc's tests/hwloc/hwloc_topology_abi.c pins its own: the offsets and
 * sizes every module and application already built relies on. A change here is an ABI break:
 * struct tmap_backend's frozen header and its callbacks in their order (new ones only ever
 * appended, read when `size` covers them), struct tmap_error, the prefix of the solve
 * options that the _INIT macro and tmap_solve() read before anything else, and the session
 * options (the solve options inside them, so those cannot grow there).
 *
 * The numbers are those of an LP64 machine (x86_64, aarch64); on other data models the test
 * checks what is independent of the model and says so.
 */
#include <stddef.h>

#include "testlib.h"
#include "topomap/plugin.h"
#include "topomap/session.h"

#define LP64 (sizeof(void *) == 8 && sizeof(long) == 8)

static void
backend_header(void **state)
{
	/* Frozen for every ABI: the loader reads these two before anything else. */
	assert_int_equal(offsetof(struct tmap_backend, abi), 0);
	assert_int_equal(offsetof(struct tmap_backend, size), 4);
	assert_int_equal(sizeof(((struct tmap_backend *)0)->abi), 4);
	assert_int_equal(sizeof(((struct tmap_backend *)0)->size), 4);
	assert_int_equal(TMAP_BACKEND_ABI, 2);
}

static void
backend_callbacks(void **state)
{
	if (!LP64)
		skip();
	assert_int_equal(offsetof(struct tmap_backend, name), 8);
	assert_int_equal(offsetof(struct tmap_backend, summary), 16);
	assert_int_equal(offsetof(struct tmap_backend, target_keys), 24);
	assert_int_equal(offsetof(struct tmap_backend, probe), 32);
	assert_int_equal(offsetof(struct tmap_backend, open), 40);
	assert_int_equal(offsetof(struct tmap_backend, apply), 48);
	assert_int_equal(offsetof(struct tmap_backend, read_back), 56);
	assert_int_equal(offsetof(struct tmap_backend, restore), 64);
	assert_int_equal(offsetof(struct tmap_backend, close), 72);
	/* The first version ends with close: the least a module may declare. */
	assert_int_equal(TMAP_BACKEND_SIZE_V1, 80);
	/* Optional callbacks, appended in this order. */
	assert_int_equal(offsetof(struct tmap_backend, describe), 80);
	assert_int_equal(offsetof(struct tmap_backend, host_topology), 88);
	assert_int_equal(offsetof(struct tmap_backend, identify), 96);
	assert_int_equal(offsetof(struct tmap_backend, check), 104);
	/* Optional fields after the callbacks (issue 18): the TMAP_APPLY_* bits open() takes;
	 * 4 bytes of padding end the struct. */
	assert_int_equal(offsetof(struct tmap_backend, apply_flags), 112);
	assert_int_equal(sizeof(struct tmap_backend), 120);
}

/* A module built with an older header (its size ends before a callback) has none of it. */
static void
backend_has(void **state)
{
	struct tmap_backend d = {.abi = TMAP_BACKEND_ABI, .size = TMAP_BACKEND_SIZE_V1};
	int (*identify)(const struct tmap_target *, struct tmap_target *, struct tmap_error *) =
	    (void *)1;

	d.identify = identify;
	assert_false(TMAP_BACKEND_HAS(&d, identify));
	d.size = (uint32_t)(offsetof(struct tmap_backend, identify) + sizeof(d.identify));
	assert_true(TMAP_BACKEND_HAS(&d, identify));
	assert_false(TMAP_BACKEND_HAS(&d, check));
	/* A module whose size ends before apply_flags lists no bit, whatever lies beyond. */
	d.apply_flags = TMAP_APPLY_RESIZE;
	assert_int_equal(TMAP_BACKEND_APPLY_FLAGS(&d), 0);
	d.size = sizeof(d);
	assert_int_equal(TMAP_BACKEND_APPLY_FLAGS(&d), TMAP_APPLY_RESIZE);
}

static void
error_struct(void **state)
{
	assert_int_equal(TMAP_ERROR_MAX, 512);
	assert_int_equal(offsetof(struct tmap_error, code), 0);
	assert_int_equal(offsetof(struct tmap_error, message), sizeof(int));
	assert_int_equal(sizeof(((struct tmap_error *)0)->message), 512);
	assert_int_equal(sizeof(struct tmap_error), sizeof(int) + 512);
}

static void
solve_options_prefix(void **state)
{
	struct tmap_solve_options o = TMAP_SOLVE_OPTIONS_INIT;

	assert_int_equal(offsetof(struct tmap_solve_options, size), 0);
	assert_int_equal(offsetof(struct tmap_solve_options, flags), 4);
	assert_int_equal(sizeof(o.size), 4);
	assert_int_equal(o.size, sizeof(struct tmap_solve_options));
	if (!LP64)
		skip();
	assert_int_equal(offsetof(struct tmap_solve_options, reserve), 8);
	assert_int_equal(offsetof(struct tmap_solve_options, shared), 16);
	assert_int_equal(offsetof(struct tmap_solve_options, cpu_overcommit), 24);
	assert_int_equal(offsetof(struct tmap_solve_options, memory_overcommit), 32);
	assert_int_equal(sizeof(struct tmap_solve_options), 40);
}

/* The session options of 0.1 end with solve (40 bytes, above); .host comes after it (issue
 * 19), read when size covers it, so a program built against 0.1 still opens its session. */
static void
session_options_layout(void **state)
{
	struct tmap_session_options o = TMAP_SESSION_OPTIONS_INIT;

	assert_int_equal(offsetof(struct tmap_session_options, size), 0);
	assert_int_equal(offsetof(struct tmap_session_options, flags), 4);
	assert_int_equal(o.size, sizeof(struct tmap_session_options));
	if (!LP64)
		skip();
	assert_int_equal(offsetof(struct tmap_session_options, topology), 8);
	assert_int_equal(offsetof(struct tmap_session_options, state), 16);
	assert_int_equal(offsetof(struct tmap_session_options, reserve), 24);
	assert_int_equal(offsetof(struct tmap_session_options, solve), 32);
	assert_int_equal(offsetof(struct tmap_session_options, host), 72);
	assert_int_equal(sizeof(struct tmap_session_options), 80);
}

/* The set mask is the layout of cpu_set_t: unsigned long words. */
static void
cpulist_words(void **state)
{
	assert_int_equal(TMAP_CPULIST_WORD_BITS, 8 * sizeof(unsigned long));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(backend_header),	    cmocka_unit_test(backend_callbacks),
	    cmocka_unit_test(backend_has),	    cmocka_unit_test(error_struct),
	    cmocka_unit_test(solve_options_prefix), cmocka_unit_test(cpulist_words),
	    cmocka_unit_test(session_options_layout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
