/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Error messages: tmap_error_set() writes what snprintf() writes, cut where snprintf() cuts,
 * whether it formats the message itself (plain %s, %d, %u) or leaves it to vsnprintf(). */
#include <limits.h>

#include "testlib.h"

/* What vsnprintf() makes of it, cut as a struct tmap_error cuts. */
static void _printf_(2, 3)
reference(char *buf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, TMAP_ERROR_MAX, fmt, ap);
	va_end(ap);
}

#define assert_same_message(...)                                                          \
	do {                                                                              \
		char want[TMAP_ERROR_MAX];                                                \
		struct tmap_error err = {0};                                              \
                                                                                          \
		reference(want, __VA_ARGS__);                                             \
		assert_int_equal(tmap_error_set(&err, -ENOSPC, __VA_ARGS__), -ENOSPC);    \
		assert_int_equal(err.code, -ENOSPC);                                      \
		assert_string_equal(err.message, want);                                   \
	} while (0)

static void
plain_conversions(void **state)
{
	assert_same_message("no conversion at all");
	assert_same_message("%s: needs %u %s and %" PRIu64 " MiB; all nodes together %lu", "vm7",
			    8u, "free PUs", UINT64_C(16384), 0ul);
	assert_same_message("%d %d %d %ld %lld", 0, -1, INT_MIN, LONG_MIN, LLONG_MIN);
	assert_same_message("%u %lu %llu %zu %" PRId64, UINT_MAX, ULONG_MAX, ULLONG_MAX,
			    (size_t)SIZE_MAX, INT64_MIN);
	assert_same_message("100%% of %s%s", "", "it");
	assert_same_message("%s", "ends with a conversion");
}

static void
other_conversions(void **state)
{
	assert_same_message("'%.5s' %g 0x%x %5u %-3d|%c", "truncated", 1.5, 255u, 7u, 2, 'c');
	/* a plain start, then one it leaves to vsnprintf() */
	assert_same_message("%s and %u, then %x and %lu", "plain", 1u, 255u, 2ul);
	assert_same_message("%d%% %hhu", -3, (unsigned char)7);
}

static void
cut_at_the_end(void **state)
{
	char longer[3 * TMAP_ERROR_MAX];

	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	assert_same_message("%s", longer);
	assert_same_message("%s: %u", longer + TMAP_ERROR_MAX * 2 + 3, 123456u);
	assert_same_message("%s%d", longer + TMAP_ERROR_MAX * 2 + 5, -987);
	assert_same_message("%s%%", longer + TMAP_ERROR_MAX * 2 + 2);
}

static void
no_error_to_fill(void **state)
{
	assert_int_equal(tmap_error_set(NULL, -EINVAL, "%s", "nobody reads this"), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(plain_conversions),
		cmocka_unit_test(other_conversions),
		cmocka_unit_test(cut_at_the_end),
		cmocka_unit_test(no_error_to_fill),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
