/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * topomap xml-filter: a libvirt domain's XML in, the same XML out with the guest placed, for
 * libvirt's hooks and the managers that edit a domain before it starts.
 *
 * The guest is read from the XML as the libvirt backend reads a domain (vcpus, topology,
 * cells, memory, hugepages, iothreads, cputune QoS, memory mode: plugins/libvirt/domain-xml.c,
 * compiled in), placed around what the state records as `apply` places it, and recorded in
 * the state (tmap_session_record(): no backend, nothing applied, no call to libvirt, which
 * may hold the domain while its hook runs). The XML is then written back with the placement
 * (domain-rewrite.c). A guest that does not fit is exit 3 with one line, and nothing is
 * recorded.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <topomap/session.h>

#include "cli.h"
#include "domain-rewrite.h"
#include "libvirt-backend.h"

/* What a bare <hugepages/> means: the host's one page size, when it has exactly one. */
static uint64_t
default_page_kib(const struct tmap_topology *t)
{
	uint64_t kib = 0, second = 0;

	tmap_topology_node_hugepages(t, 0, 0, &kib, NULL);
	if (tmap_topology_node_hugepages(t, 0, 1, &second, NULL) == 0)
		return 0;
	return kib;
}

static int
filter_options(int argc, char *argv[], struct plan_request *req, bool *dry_run)
{
	static const struct option options[] = {
		{"topology", required_argument, NULL, OPT_TOPOLOGY},
		{"state", required_argument, NULL, OPT_STATE},
		{"reserve", required_argument, NULL, OPT_RESERVE},
		{"dry-run", no_argument, NULL, OPT_DRY_RUN},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool seen[OPT_END - OPT_TOPOLOGY] = {false};
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
		if (c >= OPT_TOPOLOGY && c < OPT_END) {
			if (seen[c - OPT_TOPOLOGY])
				return fail(EXIT_USAGE, "xml-filter: %s given more than once",
					    argv[optind - 1]);
			seen[c - OPT_TOPOLOGY] = true;
		}
		switch (c) {
		case OPT_TOPOLOGY:
			req->source = optarg;
			r = check_source(optarg);
			if (r != EXIT_OK)
				return r;
			break;
		case OPT_STATE:
			if (!optarg[0])
				return fail(EXIT_USAGE, "xml-filter: --state needs a file");
			req->state_path = optarg;
			break;
		case OPT_RESERVE:
			if (optarg[0] && !is_list(optarg))
				return fail(EXIT_USAGE,
					    "--reserve: '%s' is not a list of host PUs such as 0,12 or 0-3",
					    optarg);
			req->solve.reserve = optarg[0] ? optarg : NULL;
			break;
		case OPT_DRY_RUN:
			*dry_run = true;
			break;
		case 'h':
			r = emit(xml_filter_help);
			return r == EXIT_OK ? -1 : r;
		case ':':
			return missing_value("xml-filter", argv, optind);
		default:
			return unknown_option("xml-filter", options, optopt, argv, optind);
		}
	}
	if (optind < argc)
		return fail(EXIT_USAGE, "xml-filter: unexpected argument '%s' (the domain XML is read from stdin)",
			    argv[optind]);
	return EXIT_OK;
}

/* Place the guest around the state: recorded, or as a what-if with --dry-run. */
static int
place(struct plan_request *req, struct tmap_guest *guest, bool dry_run, struct tmap_plan **ret)
{
	struct tmap_error err = {0};
	int r;

	if (dry_run) {
		r = tmap_guests_new(&req->guests);
		if (r == 0)
			r = tmap_guests_add(req->guests, guest, &err);
		if (r < 0) {
			tmap_guest_free(guest);
			/* The guest is checked as it is added: a domain the library refuses (cells
			 * that are not whole pages) is the same refusal as with --state, not a
			 * failure to allocate. */
			if (r == -ENOMEM || !err.message[0])
				return fail(EXIT_RUNTIME, "out of memory");
			return fail(EXIT_USAGE, "%s", err.message);
		}
		r = tmap_session_plan(req->session, req->guests, 0, ret, &err);
	} else {
		r = tmap_session_record(req->session, guest, 0, ret, &err);
		tmap_guest_free(guest);
	}
	if (r == 0)
		return EXIT_OK;
	switch (tmap_session_failed_step(req->session)) {
	case TMAP_STEP_PLACE:
		return fail(r == -ENOSPC ? EXIT_NOFIT : EXIT_USAGE, "%s", err.message);
	case TMAP_STEP_INPUT:
		return fail(r == -ENOMEM ? EXIT_RUNTIME : EXIT_USAGE, "%s", err.message);
	default:
		return fail(EXIT_RUNTIME, "%s", err.message);
	}
}

static int
filter(struct plan_request *req, const char *xml, size_t len, bool dry_run)
{
	struct tmap_guest *guest = NULL;
	struct tmap_plan *plan = NULL;
	struct tmap_error err = {0};
	char msg[TMAP_ERROR_MAX];
	char *out = NULL;
	int r;

	if (strlen(xml) != len)
		return fail(EXIT_USAGE, "xml-filter: the domain XML holds a NUL byte");
	r = domain_xml_describe(xml, default_page_kib(tmap_session_topology(req->session)), &guest,
				&err);
	if (r < 0)
		return fail(r == -ENOMEM ? EXIT_RUNTIME : EXIT_USAGE, "xml-filter: %s", err.message);
	r = place(req, guest, dry_run, &plan);
	if (r != EXIT_OK)
		return r;
	if (domain_rewrite(xml, len, plan, &out, msg, sizeof(msg)) < 0) {
		/* What was recorded for an XML that cannot be written back is taken out again. */
		if (!dry_run)
			tmap_session_release(req->session, tmap_plan_guest_name(plan, 0), NULL);
		tmap_plan_free(plan);
		return fail(EXIT_RUNTIME, "xml-filter: %s", msg);
	}
	tmap_plan_free(plan);
	r = emit(out);
	free(out);
	return r;
}

int
cmd_xml_filter(int argc, char *argv[])
{
	struct plan_request req = {
		.cmd = CMD_PLAN,
		.source = "live",
		.solve = TMAP_SOLVE_OPTIONS_INIT,
	};
	bool dry_run = false;
	char *xml = NULL;
	size_t len = 0;
	int r;

	r = filter_options(argc, argv, &req, &dry_run);
	if (r != EXIT_OK)
		return r == -1 ? EXIT_OK : r;
	r = read_stdin("domain XML", &xml, &len);
	if (r != EXIT_OK)
		return r;
	/* Run by libvirt's hook, which must not call back into libvirt: the state alone. */
	req.no_follow = true;
	r = open_session(&req, !dry_run);
	if (r == EXIT_OK && !dry_run && !tmap_session_state_path(req.session))
		r = fail(EXIT_USAGE, "xml-filter: no state file for this host (give --state, or --dry-run)");
	if (r == EXIT_OK)
		r = filter(&req, xml, len, dry_run);
	free(xml);
	tmap_guests_free(req.guests);
	close_session(&req);
	return r;
}
