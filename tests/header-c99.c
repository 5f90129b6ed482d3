/* The public headers compile alone as strict C99 (built with -std=c99 -pedantic-errors). */
#include <topomap/partition.h> /* first: each header stands alone */
#include <topomap/backend.h>
#include <topomap/plan.h>
#include <topomap/plugin.h>
#include <topomap/session.h>
#include <topomap/state.h>
#include <topomap/topomap.h>

int
main(void)
{
	struct tmap_solve_options o = TMAP_SOLVE_OPTIONS_INIT;
	struct tmap_session_options so = TMAP_SESSION_OPTIONS_INIT;

	return (int)o.flags + (int)so.flags;
}
