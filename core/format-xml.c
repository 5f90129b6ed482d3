/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The host as hwloc XML, each guest of a plan painted on it for hwloc's lstopo: the PUs a
 * guest runs on in its colour, the PUs it only keeps from others (isolated siblings) in a
 * lighter shade, a NUMA node holding one guest's memory alone in its colour, and one legend
 * line per guest. lstopo reads these as the "lstopoStyle" info of an object and the
 * "lstopoLegend" info of the root (lstopo(1), "Custom color"), so `lstopo -i host.xml`
 * draws the picture in any format it knows.
 */
#include <stdio.h>

#include "internal.h"

/* Qualitative colours (ColorBrewer Set1 and Dark2) that stay apart on a white page and
 * under black text; guests past the last take the colours again in order. */
static const struct {
	const char *name;
	unsigned rgb;
} palette[] = {
    {"red", 0xe41a1c},	  {"blue", 0x377eb8},	{"green", 0x4daf4a}, {"purple", 0x984ea3},
    {"orange", 0xff7f00}, {"yellow", 0xffff33}, {"brown", 0xa65628}, {"pink", 0xf781bf},
    {"teal", 0x1b9e77},	  {"olive", 0x66a61e},
};

/* Halfway to white, for what a guest holds but does not run on. */
static unsigned
lighter(unsigned rgb)
{
	unsigned r = (rgb >> 16) & 0xff, g = (rgb >> 8) & 0xff, b = rgb & 0xff;

	return (((r + 255) / 2) << 16) | (((g + 255) / 2) << 8) | ((b + 255) / 2);
}

/* Every PU the guest runs on: its vcpus' and its emulator's. */
static hwloc_bitmap_t
guest_run_set(const struct plan_guest *pg)
{
	hwloc_bitmap_t set = hwloc_bitmap_alloc();

	if (!set)
		return NULL;
	for (unsigned v = 0; pg->vcpu_pus && v < pg->vcpus; v++)
		if (pg->vcpu_pus[v] && hwloc_bitmap_or(set, set, pg->vcpu_pus[v]) < 0)
			goto fail;
	if (pg->emulator && hwloc_bitmap_or(set, set, pg->emulator) < 0)
		goto fail;
	return set;
fail:
	hwloc_bitmap_free(set);
	return NULL;
}

static int
set_style(hwloc_obj_t obj, unsigned rgb)
{
	char style[64];

	snprintf(style, sizeof(style), "Background=#%06x;Text=#000000", rgb);
	return hwloc_obj_add_info(obj, "lstopoStyle", style) < 0 ? -ENOMEM : 0;
}

/* The guest (index) to paint a PU or node with: the only one holding it, else the only one
 * running on it; -1 when none or several share it. */
static int
owner(hwloc_bitmap_t *held, hwloc_bitmap_t *run, size_t n, unsigned index, bool *ret_held_only)
{
	int holder = -1, runner = -1;

	for (size_t i = 0; i < n; i++) {
		if (held[i] && hwloc_bitmap_isset(held[i], index))
			holder = holder == -1 ? (int)i : -2;
		if (run[i] && hwloc_bitmap_isset(run[i], index))
			runner = runner == -1 ? (int)i : -2;
	}
	if (holder >= 0) {
		*ret_held_only = !run[holder] || !hwloc_bitmap_isset(run[holder], index);
		return holder;
	}
	*ret_held_only = false;
	return holder == -1 && runner >= 0 ? runner : -1;
}

static int
paint(hwloc_topology_t hw, const struct tmap_plan *plan)
{
	size_t n = plan->nguests;
	hwloc_bitmap_t *held = calloc(n ? n : 1, sizeof(*held));
	hwloc_bitmap_t *run = calloc(n ? n : 1, sizeof(*run));
	hwloc_bitmap_t *mem = calloc(n ? n : 1, sizeof(*mem));
	hwloc_obj_t root = hwloc_get_root_obj(hw), obj;
	char line[512];
	int r = -ENOMEM;

	if (!held || !run || !mem)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const struct plan_guest *pg = &plan->guests[i];

		run[i] = guest_run_set(pg);
		if (!run[i])
			goto out;
		held[i] = pg->held ? hwloc_bitmap_dup(pg->held) : NULL;
		mem[i] = pg->memory_nodes ? hwloc_bitmap_dup(pg->memory_nodes) : NULL;
		if ((pg->held && !held[i]) || (pg->memory_nodes && !mem[i]))
			goto out;
	}

	obj = NULL;
	while ((obj = hwloc_get_next_obj_by_type(hw, HWLOC_OBJ_PU, obj))) {
		bool held_only;
		int g = owner(held, run, n, obj->os_index, &held_only);
		unsigned rgb;

		if (g < 0)
			continue;
		rgb = palette[(size_t)g % ARRAY_SIZE(palette)].rgb;
		if (set_style(obj, held_only ? lighter(rgb) : rgb) < 0)
			goto out;
	}
	obj = NULL;
	while ((obj = hwloc_get_next_obj_by_type(hw, HWLOC_OBJ_NUMANODE, obj))) {
		bool unused;
		int g = owner(mem, mem, n, obj->os_index, &unused);

		if (g >= 0 && set_style(obj, palette[(size_t)g % ARRAY_SIZE(palette)].rgb) < 0)
			goto out;
	}

	for (size_t i = 0; i < n; i++) {
		const struct plan_guest *pg = &plan->guests[i];
		size_t c = i % ARRAY_SIZE(palette);

		bool holds_more =
		    pg->held_list && *pg->held_list && strcmp(pg->held_list, pg->cpus_list) != 0;

		snprintf(line, sizeof(line), "%s (%s, #%06x): %s %s, memory on node%s %s%s%s",
			 pg->name, palette[c].name, palette[c].rgb,
			 pg->cpu_policy == TMAP_CPU_SHARED ? "shares PUs" : "PUs", pg->cpus_list,
			 hwloc_bitmap_weight(pg->memory_nodes) == 1 ? "" : "s",
			 pg->memory_list ? pg->memory_list : "", holds_more ? ", holds PUs " : "",
			 holds_more ? pg->held_list : "");
		if (hwloc_obj_add_info(root, "lstopoLegend", line) < 0)
			goto out;
	}
	for (size_t i = 0; i < plan->nrejected; i++) {
		snprintf(line, sizeof(line), "%s: not placed", plan->rejected_names[i]);
		if (hwloc_obj_add_info(root, "lstopoLegend", line) < 0)
			goto out;
	}
	r = 0;
out:
	for (size_t i = 0; i < n && held && run && mem; i++) {
		hwloc_bitmap_free(held[i]);
		hwloc_bitmap_free(run[i]);
		hwloc_bitmap_free(mem[i]);
	}
	free(held);
	free(run);
	free(mem);
	return r;
}

int
tmap_topology_export_xml(const struct tmap_topology *t, const struct tmap_plan *plan,
			 unsigned flags, char **ret, struct tmap_error *err)
{
	hwloc_topology_t hw = NULL;
	char *xml = NULL, *copy;
	int len = 0, r;

	if (!t || !ret)
		return tmap_error_set(err, -EINVAL, "tmap_topology_export_xml: missing argument");
	if (flags)
		return tmap_error_set(err, -EINVAL, "tmap_topology_export_xml: unknown flags 0x%x",
				      flags);
	if (plan) {
		for (size_t i = 0; i < plan->nguests; i++) {
			r = plan_guest_check(&plan->guests[i], err);
			if (r < 0)
				return r;
		}
	}
	/* A copy to paint on: the caller's topology stays as it was. */
	if (hwloc_topology_dup(&hw, t->hw) < 0)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	if (plan && paint(hw, plan) < 0) {
		hwloc_topology_destroy(hw);
		return tmap_error_set(err, -ENOMEM, "out of memory");
	}
	r = hwloc_topology_export_xmlbuffer(hw, &xml, &len, XML_EXPORT_FLAGS);
	hwloc_topology_destroy(hw);
	if (r < 0 || len <= 0)
		return tmap_error_set(err, -ENOMEM, "cannot export the topology to XML");
	/* hwloc's buffer is freed with hwloc_free_xmlbuffer(): give the caller a malloc()ed one. */
	copy = strndup(xml, (size_t)len);
	hwloc_free_xmlbuffer(NULL, xml);
	if (!copy)
		return tmap_error_set(err, -ENOMEM, "out of memory");
	*ret = copy;
	return 0;
}
