/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Targets: what a backend acts on, as key/value options ("cgroup" -> "machine.slice/ct1"),
 * kept in the order they were first set.
 */
#include "topomap/backend.h"
#include "internal.h"

struct tmap_target {
	size_t n;
	char **key, **value;
};

static bool
key_valid(const char *key)
{
	size_t len = key ? strlen(key) : 0;

	if (len == 0 || len > 64)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((key[i] >= 'a' && key[i] <= 'z') || (key[i] >= '0' && key[i] <= '9') ||
		      key[i] == '-'))
			return false;
	return true;
}

int
tmap_target_new(struct tmap_target **ret)
{
	struct tmap_target *t;

	if (!ret)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	*ret = t;
	return 0;
}

struct tmap_target *
tmap_target_free(struct tmap_target *t)
{
	if (!t)
		return NULL;
	for (size_t i = 0; i < t->n; i++) {
		free(t->key[i]);
		free(t->value[i]);
	}
	free(t->key);
	free(t->value);
	free(t);
	return NULL;
}

int
tmap_target_set(struct tmap_target *t, const char *key, const char *value)
{
	char **k, **v, *val;

	if (!t || !key_valid(key) || !value)
		return -EINVAL;
	val = strdup(value);
	if (!val)
		return -ENOMEM;
	for (size_t i = 0; i < t->n; i++)
		if (streq(t->key[i], key)) {
			free(t->value[i]);
			t->value[i] = val;
			return 0;
		}
	k = realloc(t->key, (t->n + 1) * sizeof(*k));
	if (k)
		t->key = k;
	v = realloc(t->value, (t->n + 1) * sizeof(*v));
	if (v)
		t->value = v;
	if (!k || !v || !(t->key[t->n] = strdup(key))) {
		free(val);
		return -ENOMEM;
	}
	t->value[t->n++] = val;
	return 0;
}

const char *
tmap_target_get(const struct tmap_target *t, const char *key)
{
	for (size_t i = 0; t && key && i < t->n; i++)
		if (streq(t->key[i], key))
			return t->value[i];
	return NULL;
}

size_t
tmap_target_count(const struct tmap_target *t)
{
	return t ? t->n : 0;
}

const char *
tmap_target_key(const struct tmap_target *t, size_t i)
{
	return t && i < t->n ? t->key[i] : NULL;
}
