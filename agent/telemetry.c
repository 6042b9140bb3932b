/*
 * telemetry.c - what `itmctl stats` shows.
 *
 * For every registration and class: packets, bytes and distinct flows seen
 * in user space, plus the packets and bytes the kernel handled for flows
 * the module settled (nfacct counters of its settlements), so the totals
 * stay exact when steady-state packets never leave the kernel.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "lease.h"
#include "telemetry.h"

static void
class_name(const struct agent_reg *r, unsigned int c, char *buf, size_t len)
{
	const struct itm_info *info = r->pr ? r->pr->info : NULL;

	if (info && info->class_names && c < info->n_class_names &&
	    info->class_names[c])
		snprintf(buf, len, "%s", info->class_names[c]);
	else if (r->class_names && c < r->n_class_names && r->class_names[c])
		snprintf(buf, len, "%s", r->class_names[c]);
	else if (c == 0)
		snprintf(buf, len, "unclassified");
	else
		snprintf(buf, len, "%u", c);
}

/* A copy of @r's class counters, or NULL when it has none.  Workers
 * count an in-agent registration under its module's lock. */
static const struct itm__class_stats *
reg_classes(const struct agent_reg *r, struct itm__class_stats *copy)
{
	if (r->kind != REG_AGENT)
		return r->remote;
	module_lock(r->mod);
	memcpy(copy, r->pr->cls, (ITM_CLASS_MAX + 1) * sizeof(*copy));
	module_unlock(r->mod);
	return copy;
}

static int
collect_reg(const struct agent_reg *r, struct tele_reg *out)
{
	struct itm__class_stats copy[ITM_CLASS_MAX + 1];
	const struct itm__class_stats *cs = reg_classes(r, copy);

	memset(out, 0, sizeof(*out));
	snprintf(out->label, sizeof(out->label), "%s", r->label);
	out->hook = r->hook;
	out->cls = calloc(ITM_CLASS_MAX + 1, sizeof(*out->cls));
	if (out->cls == NULL)
		return -ENOMEM;
	for (unsigned int c = 0; c <= ITM_CLASS_MAX; c++) {
		struct tele_class *tc = &out->cls[out->n_cls];
		uint64_t sp = 0, sb = 0;

		layout_settled(r, c, &sp, &sb);
		if ((cs == NULL || cs[c].packets == 0) && sp == 0)
			continue;
		tc->id = c;
		class_name(r, c, tc->name, sizeof(tc->name));
		if (cs) {
			tc->packets = cs[c].packets;
			tc->bytes = cs[c].bytes;
			tc->flows = cs[c].flows;
		}
		tc->settled_packets = sp;
		tc->settled_bytes = sb;
		tc->packets += sp;
		tc->bytes += sb;
		out->n_cls++;
	}
	return 0;
}

static const char *
reg_owner(const struct agent_reg *r)
{
	return r->kind == REG_AGENT ? module_name(r->mod) : r->proc_name;
}

static struct tele_module *
module_slot(struct tele_report *rep, const struct agent_reg *r)
{
	const char *name = reg_owner(r);
	struct tele_module *m;

	for (unsigned int i = 0; i < rep->n_mods; i++)
		if (strcmp(rep->mods[i].name, name) == 0)
			return &rep->mods[i];
	m = realloc(rep->mods, (rep->n_mods + 1) * sizeof(*m));
	if (m == NULL)
		return NULL;
	rep->mods = m;
	m = &rep->mods[rep->n_mods++];
	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", name);
	m->kind = r->kind == REG_AGENT ? "agent" : "process";
	return m;
}

static int
add_reg(struct tele_report *rep, const struct agent_reg *r)
{
	struct tele_module *m = module_slot(rep, r);
	struct tele_reg *v;

	if (m == NULL)
		return -ENOMEM;
	v = realloc(m->regs, (m->n_regs + 1) * sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	m->regs = v;
	if (collect_reg(r, &v[m->n_regs]) < 0)
		return -ENOMEM;
	m->n_regs++;
	return 0;
}

/* Module counters: in-agent modules export pointers, process modules
 * report values with their heartbeats. */
static int
add_counters(struct tele_module *tm)
{
	const char **names;
	const uint64_t *const *values;
	unsigned int n = 0;

	for (struct module *m = modload_first(); m; m = modload_next(m))
		if (strcmp(module_name(m), tm->name) == 0) {
			n = module_counters(m, &names, &values);
			tm->counters = calloc(n ? n : 1, sizeof(*tm->counters));
			if (tm->counters == NULL)
				return -ENOMEM;
			module_lock(m); /* its code writes them */
			for (unsigned int i = 0; i < n; i++) {
				snprintf(tm->counters[i].name,
					 sizeof(tm->counters[i].name), "%s",
					 names[i]);
				tm->counters[i].value = *values[i];
			}
			module_unlock(m);
			tm->n_counters = n;
			return 0;
		}
	return lease_counters(tm->name, &tm->counters, &tm->n_counters);
}

/* Loaded modules that registered nothing still show up. */
static int
add_idle_modules(struct tele_report *rep, const char *filter)
{
	for (struct module *m = modload_first(); m; m = modload_next(m)) {
		int found = 0;
		struct tele_module *v;

		if (filter && *filter && strcmp(filter, module_name(m)) != 0)
			continue;
		for (unsigned int i = 0; i < rep->n_mods; i++)
			if (strcmp(rep->mods[i].name, module_name(m)) == 0)
				found = 1;
		if (found)
			continue;
		v = realloc(rep->mods, (rep->n_mods + 1) * sizeof(*v));
		if (v == NULL)
			return -ENOMEM;
		rep->mods = v;
		memset(&v[rep->n_mods], 0, sizeof(*v));
		snprintf(v[rep->n_mods].name, sizeof(v->name), "%s",
			 module_name(m));
		v[rep->n_mods++].kind = "agent";
	}
	return 0;
}

int
tele_collect(const char *filter, struct tele_report *out)
{
	struct agent_reg *r;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	for (int h = 0; h < ITM_HOOK_MAX && rc == 0; h++)
		TAILQ_FOREACH(r, &agent->hooks[h], entry) {
			if (filter && *filter &&
			    strcmp(filter, reg_owner(r)) != 0)
				continue;
			if ((rc = add_reg(out, r)) < 0)
				break;
		}
	if (rc == 0)
		rc = add_idle_modules(out, filter);
	for (unsigned int i = 0; rc == 0 && i < out->n_mods; i++)
		rc = add_counters(&out->mods[i]);
	if (rc == 0 && filter && *filter && out->n_mods == 0)
		rc = -ENOENT;
	if (rc < 0)
		tele_free(out);
	return rc;
}

void
tele_free(struct tele_report *r)
{
	for (unsigned int i = 0; i < r->n_mods; i++) {
		for (unsigned int j = 0; j < r->mods[i].n_regs; j++)
			free(r->mods[i].regs[j].cls);
		free(r->mods[i].regs);
		free(r->mods[i].counters);
	}
	free(r->mods);
	memset(r, 0, sizeof(*r));
}
