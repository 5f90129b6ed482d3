/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reading many guests costs O(N log N) name comparisons, not O(N^2) (issue 14: 100,000
 * guests took 29-44 s, each name compared with every earlier one). Counted, not timed: the
 * core's calls to strcmp() go through __wrap_strcmp (-Wl,--wrap=strcmp), so the test holds on
 * a slow or busy machine and fails on the quadratic code whatever its speed.
 */
#include "testlib.h"

int __real_strcmp(const char *a, const char *b);
int __wrap_strcmp(const char *a, const char *b);

static unsigned long long strcmp_calls;

int
__wrap_strcmp(const char *a, const char *b)
{
	strcmp_calls++;
	return __real_strcmp(a, b);
}

static char *
guests_text(unsigned n, const char *last)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	fputc('[', f);
	for (unsigned i = 0; i < n; i++)
		fprintf(f, "%s{\"name\":\"vm-%u\",\"vcpus\":2}", i ? "," : "", i);
	if (last)
		fprintf(f, ",%s", last);
	fputc(']', f);
	assert_int_equal(fclose(f), 0);
	return text;
}

#define N 20000

static void
comparisons_grow_as_n_log_n(void **state)
{
	struct tmap_guests *l = NULL;
	struct tmap_error err = {0};
	char *text = guests_text(N, NULL);

	assert_int_equal(tmap_guests_new(&l), 0);
	strcmp_calls = 0;
	assert_int_equal(tmap_guests_parse_json(l, text, strlen(text), "many.json", &err), 0);
	assert_int_equal(tmap_guests_count(l), N);
	/* log2(20,000) is 15: a balanced tree compares about 2 x 15 times a name. Each guest's
	 * keys are compared with the known ones too, a few dozen calls. The quadratic code made
	 * N^2 / 2 = 200,000,000. */
	if (strcmp_calls > (unsigned long long)N * 200)
		fail_msg("%llu strcmp() calls for %d guests: more than N log N", strcmp_calls, N);
	tmap_guests_free(l);
	free(text);
}

/* The index follows the list: a name is taken across files, and free again when the text
 * that added it failed. */
static void
index_follows_the_list(void **state)
{
	struct tmap_guests *l = NULL;
	struct tmap_error err = {0};
	char *bad = guests_text(1000, "{\"name\":\"vm-7\",\"vcpus\":2}");
	char *good = guests_text(1000, NULL);
	const char *other = "{\"name\":\"vm-999\",\"vcpus\":1}";

	assert_int_equal(tmap_guests_new(&l), 0);
	assert_int_equal(tmap_guests_parse_json(l, bad, strlen(bad), "bad.json", &err), -EINVAL);
	assert_non_null(strstr(err.message, "'vm-7' is already the name of a guest in bad.json"));
	assert_int_equal(tmap_guests_count(l), 0);
	assert_int_equal(tmap_guests_parse_json(l, good, strlen(good), "good.json", &err), 0);
	assert_int_equal(tmap_guests_count(l), 1000);
	assert_int_equal(tmap_guests_parse_json(l, other, strlen(other), "other.json", &err),
			 -EINVAL);
	assert_non_null(strstr(err.message, "'vm-999' is already the name of a guest in good.json"));
	assert_int_equal(tmap_guests_count(l), 1000);
	assert_string_equal(tmap_guest_name(tmap_guests_get(l, 999)), "vm-999");
	tmap_guests_free(l);
	free(bad);
	free(good);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(comparisons_grow_as_n_log_n),
		cmocka_unit_test(index_follows_the_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
