/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Realtime vcpus through libvirt (issue 21): <vcpusched> in the persistent definition.
 * libvirt sets a vcpu thread's scheduler when it starts it, and no call changes it on a
 * running domain (virDomainSetSchedulerParameters knows only the CFS and cpu_shares values):
 * so the plan goes into the definition (--config, or the default on a domain that is not
 * running), a running domain takes it at its next start, which read back says is pending,
 * and an apply to the running domain alone is refused before any write.
 */
#include "libvirt-domain.h"

/* The realtime vcpus of one side of the domain, as domain_xml_realtime() words them. */
static int
side_text(struct lv *lv, bool config, char **ret, struct tmap_error *err)
{
	_cleanup_free_ char *xml = virDomainGetXMLDesc(lv->dom, config ? VIR_DOMAIN_XML_INACTIVE : 0);

	if (!xml)
		return lv_error(lv, err, "cannot read the XML of '%s' (%s)", lv->name,
				config ? "config" : "live");
	return domain_xml_realtime(xml, ret, err);
}

static int
plan_text(const struct tmap_plan *plan, size_t guest, char **ret, struct tmap_error *err)
{
	unsigned prio = 0;
	const char *list = tmap_plan_realtime_vcpus(plan, guest, &prio);

	if (!list)
		return tmap_error_set(err, -EINVAL, "the plan has no guest %zu", guest);
	return realtime_text(list, prio, ret) < 0 ? oom(err) : 0;
}

int
lv_realtime_check(struct lv *lv, const struct tmap_plan *plan, size_t guest,
		  struct tmap_error *err)
{
	_cleanup_free_ char *want = NULL, *live = NULL;
	int r;

	if (has_config_view(lv) || !lv->active)
		return 0;
	r = plan_text(plan, guest, &want, err);
	if (r == 0)
		r = side_text(lv, false, &live, err);
	if (r < 0 || streq(want, live))
		return r;
	return tmap_error_set(err, -EOPNOTSUPP,
			      "libvirt cannot change the scheduler of running domain '%s''s vcpus (now %s, the plan says %s): apply with --config, and <vcpusched> takes effect at its next start",
			      lv->name, live, want);
}

int
lv_realtime_apply(struct lv *lv, const struct tmap_plan *plan, size_t guest,
		  struct tmap_journal *j, struct tmap_error *err)
{
	_cleanup_free_ char *want = NULL, *now = NULL, *xml = NULL, *edited = NULL;
	unsigned prio = 0;
	const char *list = tmap_plan_realtime_vcpus(plan, guest, &prio);
	int r;

	if (!has_config_view(lv))
		return 0;
	r = plan_text(plan, guest, &want, err);
	if (r == 0)
		r = side_text(lv, true, &now, err);
	if (r < 0 || streq(want, now))
		return r;
	if (!tmap_journal_write(j, "virDomainDefineXML('%s' with <vcpusched> %s)", lv->name, want))
		return 0;
	/* The definition as the calls before left it, with its secrets. */
	xml = virDomainGetXMLDesc(lv->dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
	if (!xml)
		return lv_error(lv, err, "cannot read the definition of '%s'", lv->name);
	r = domain_xml_set_realtime(xml, list, prio, &edited, err);
	if (r < 0)
		return r;
	return define_edited(lv, edited, "<vcpusched>", err);
}

int
lv_realtime_observe(struct lv *lv, const struct view *v, const struct tmap_plan *plan,
		    size_t guest, bool *ret_in_force, struct tmap_observed *obs,
		    struct tmap_error *err)
{
	_cleanup_free_ char *want = NULL, *now = NULL, *config = NULL;
	int r;

	*ret_in_force = false;
	r = plan_text(plan, guest, &want, err);
	if (r == 0)
		r = side_text(lv, v->config, &now, err);
	if (r == 0)
		*ret_in_force = streq(want, now);
	if (r < 0 || streq(want, now))
		return r;
	/* A running domain whose definition has the plan takes it at its next start. */
	if (!v->config && lv->persistent) {
		r = side_text(lv, true, &config, err);
		if (r < 0)
			return r;
		if (streq(config, want))
			return tmap_observed_pending(obs, "realtime vcpus of '%s' (live) are %s; the definition has the plan's %s, which takes effect at the next start",
						     lv->name, now, want) < 0 ? oom(err) : 0;
	}
	return tmap_observed_drift(obs, "realtime vcpus of '%s' (%s) are %s, the plan says %s",
				   lv->name, v->name, now, want) < 0 ? oom(err) : 0;
}
