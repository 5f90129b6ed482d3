/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A guest that leaves the hugepage size to the placement (issue 21, Nova's hw:mem_page_size):
 * "large" takes the largest size whose free pages hold every cell on its node, and is refused
 * when none does; "any" does the same, else takes normal pages. Each size is a whole
 * placement tried in turn, largest first; the plan records the size that placed, so every
 * format shows it as if it had been asked.
 */
#include "solver.h"

bool
page_answers(uint64_t planned, uint64_t asked)
{
	if (asked == TMAP_HUGEPAGES_LARGE)
		return planned != 0;
	return asked == TMAP_HUGEPAGES_ANY || planned == asked;
}

int
solver_whole_pages(const struct tmap_guest *g, uint64_t page_kib, bool *ret)
{
	struct guest_cells cells = {0};
	bool whole = true;

	if (guest_resolve_counts(g, &cells) < 0) {
		guest_cells_clear(&cells);
		return -ENOMEM;
	}
	for (unsigned c = 0; c < cells.n; c++)
		whole &= (cells.memory_mib[c] << 10) % page_kib == 0;
	guest_cells_clear(&cells);
	*ret = whole;
	return 0;
}

/* One placement in pages of this size (0: normal pages); pg is left empty on failure. */
static int
place_in(struct solver *s, const struct tmap_guest *g, uint64_t page_kib,
	 struct plan_guest *pg, bool decide_only)
{
	struct tmap_guest sized = *g;	/* shallow: read only, its pointers are g's */
	int r;

	sized.page_kib = page_kib;
	r = solver_place_sized(s, &sized, pg, decide_only);
	if (r < 0 && pg && !decide_only)
		plan_guest_clear(pg);
	return r;
}

static int
explain_size(struct plan_guest *pg, uint64_t asked)
{
	const char *word = asked == TMAP_HUGEPAGES_LARGE ? "large" : "any";
	char size[32];

	if (!pg->page_kib)
		return plan_guest_explain(pg, "hugepages '%s': normal pages, no hugepage pool holds every cell on its node",
					  word);
	return plan_guest_explain(pg, "hugepages '%s': %s pages, the largest size whose free pages hold every cell on its node",
				  word, page_size_text(pg->page_kib, size, sizeof(size)));
}

int
solver_place(struct solver *s, const struct tmap_guest *g, struct plan_guest *pg,
	     bool decide_only)
{
	const struct tmap_topology *t = s->t;
	int r;

	if (!page_size_chosen(g->page_kib))
		return solver_place_sized(s, g, pg, decide_only);
	for (unsigned k = t->npage_sizes; k-- > 0;) {
		bool whole;

		r = solver_whole_pages(g, t->page_kib[k], &whole);
		if (r < 0)
			return r;
		if (!whole)
			continue;
		r = place_in(s, g, t->page_kib[k], pg, decide_only);
		if (r == 0 && pg && !decide_only)
			r = explain_size(pg, g->page_kib);
		if (r != -ENOSPC)
			return r;
	}
	if (g->page_kib == TMAP_HUGEPAGES_ANY) {
		r = place_in(s, g, 0, pg, decide_only);
		if (r == 0 && pg && !decide_only)
			r = explain_size(pg, g->page_kib);
		return r;
	}
	return tmap_error_set(s->err, -ENOSPC,
			      "%s: hugepages 'large': no hugepage size of the host has free pages for every cell on its node",
			      g->name);
}
