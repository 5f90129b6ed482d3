/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * topomap topology --format nrt: the host and its allocation state as a Kubernetes
 * NodeResourceTopology object, for a topology-aware scheduler (tmap_host_format_nrt()).
 * The state is read as `topomap state` reads it, under its shared lock.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include <topomap/session.h>

#include "cli.h"

/* What kubelet names a node by default: the host name, in lowercase. */
static void
default_node_name(char *buf, size_t size)
{
	struct utsname u;

	if (uname(&u) < 0)
		snprintf(u.nodename, sizeof(u.nodename), "localhost");
	snprintf(buf, size, "%s", u.nodename);
	for (char *p = buf; *p; p++)
		*p = (char)tolower((unsigned char)*p);
}

int
topology_nrt(const char *source, const char *state_path, const char *node_name)
{
	struct plan_request req = {
		.cmd = CMD_PLAN,
		.source = source ? source : "live",
		.state_path = state_path,
		.solve = TMAP_SOLVE_OPTIONS_INIT,
	};
	struct tmap_error err = {0};
	char name[256];
	char *text = NULL;
	int r;

	if (!node_name) {
		default_node_name(name, sizeof(name));
		node_name = name;
	}
	r = open_session(&req, false);
	if (r != EXIT_OK)
		return r;
	r = tmap_host_format_nrt(tmap_session_host(req.session), node_name, 0, &text, &err);
	close_session(&req);
	if (r < 0)
		return fail(r == -EINVAL ? EXIT_USAGE : EXIT_RUNTIME, "topology: %s", err.message);
	r = emit(text);
	free(text);
	return r;
}
