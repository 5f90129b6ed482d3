// The public headers compile as C++ and link from it (extern "C").
#include <topomap/partition.h> /* first: each header stands alone */
#include <topomap/backend.h>
#include <topomap/plan.h>
#include <topomap/plugin.h>
#include <topomap/session.h>
#include <topomap/state.h>
#include <topomap/topomap.h>

int
main()
{
	struct tmap_topology *t = nullptr;
	struct tmap_error err = {};

	if (tmap_topology_new_synthetic("pack:1 core:2 pu:1", 0, &t, &err) < 0)
		return 1;
	tmap_topology_free(t);
	return 0;
}
