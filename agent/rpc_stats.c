/*
 * rpc_stats.c - GetStats and WatchStats: telemetry on the wire.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "agent.h"
#include "itm.pb-c.h"
#include "log.h"
#include "rpc.h"
#include "telemetry.h"

/* A StatsReply pointing into a tele_report, with its own arrays. */
struct stats_msg {
	Itm__V1__StatsReply rep;
	Itm__V1__ModuleStats *mods, **mods_p;
	Itm__V1__RegistrationStats *regs, **regs_p;
	Itm__V1__ClassStats *cls, **cls_p;
	Itm__V1__Counter *ctr, **ctr_p;
};

static void
stats_msg_free(struct stats_msg *m)
{
	free(m->mods), free(m->mods_p);
	free(m->regs), free(m->regs_p);
	free(m->cls), free(m->cls_p);
	free(m->ctr), free(m->ctr_p);
}

static int
stats_msg_alloc(struct stats_msg *m, const struct tele_report *t)
{
	size_t nr = 0, nc = 0, nk = 0;

	for (unsigned int i = 0; i < t->n_mods; i++) {
		nr += t->mods[i].n_regs;
		nk += t->mods[i].n_counters;
		for (unsigned int j = 0; j < t->mods[i].n_regs; j++)
			nc += t->mods[i].regs[j].n_cls;
	}
	m->mods = calloc(t->n_mods + 1, sizeof(*m->mods));
	m->mods_p = calloc(t->n_mods + 1, sizeof(*m->mods_p));
	m->regs = calloc(nr + 1, sizeof(*m->regs));
	m->regs_p = calloc(nr + 1, sizeof(*m->regs_p));
	m->cls = calloc(nc + 1, sizeof(*m->cls));
	m->cls_p = calloc(nc + 1, sizeof(*m->cls_p));
	m->ctr = calloc(nk + 1, sizeof(*m->ctr));
	m->ctr_p = calloc(nk + 1, sizeof(*m->ctr_p));
	if (!m->mods || !m->mods_p || !m->regs || !m->regs_p || !m->cls ||
	    !m->cls_p || !m->ctr || !m->ctr_p)
		return -ENOMEM;
	return 0;
}

static void
fill_reg(Itm__V1__RegistrationStats *w, struct tele_reg *r,
	 Itm__V1__ClassStats *cls, Itm__V1__ClassStats **cls_p)
{
	itm__v1__registration_stats__init(w);
	w->label = r->label;
	w->hook = (Itm__V1__Hook)r->hook;
	w->n_classes = r->n_cls;
	w->classes = cls_p;
	for (unsigned int k = 0; k < r->n_cls; k++) {
		struct tele_class *c = &r->cls[k];

		itm__v1__class_stats__init(&cls[k]);
		cls[k].class_id = c->id;
		cls[k].name = c->name;
		cls[k].packets = c->packets;
		cls[k].bytes = c->bytes;
		cls[k].flows = c->flows;
		cls[k].settled_packets = c->settled_packets;
		cls[k].settled_bytes = c->settled_bytes;
		cls_p[k] = &cls[k];
	}
}

static void
fill_module(Itm__V1__ModuleStats *w, struct tele_module *t, struct stats_msg *m,
	    size_t *ri, size_t *ci, size_t *ki)
{
	itm__v1__module_stats__init(w);
	w->module = t->name;
	w->kind = (char *)t->kind;
	w->registrations = &m->regs_p[*ri];
	w->n_registrations = t->n_regs;
	for (unsigned int j = 0; j < t->n_regs; j++, (*ri)++) {
		fill_reg(&m->regs[*ri], &t->regs[j], &m->cls[*ci],
			 &m->cls_p[*ci]);
		m->regs_p[*ri] = &m->regs[*ri];
		*ci += t->regs[j].n_cls;
	}
	w->counters = &m->ctr_p[*ki];
	w->n_counters = t->n_counters;
	for (unsigned int j = 0; j < t->n_counters; j++, (*ki)++) {
		itm__v1__counter__init(&m->ctr[*ki]);
		m->ctr[*ki].name = t->counters[j].name;
		m->ctr[*ki].value = t->counters[j].value;
		m->ctr_p[*ki] = &m->ctr[*ki];
	}
}

static int
stats_msg_build(struct stats_msg *m, struct tele_report *t)
{
	size_t ri = 0, ci = 0, ki = 0;

	memset(m, 0, sizeof(*m));
	itm__v1__stats_reply__init(&m->rep);
	if (stats_msg_alloc(m, t) < 0) {
		stats_msg_free(m);
		return -ENOMEM;
	}
	m->rep.node = (char *)agent->cfg.node;
	m->rep.n_modules = t->n_mods;
	m->rep.modules = m->mods_p;
	for (unsigned int i = 0; i < t->n_mods; i++) {
		fill_module(&m->mods[i], &t->mods[i], m, &ri, &ci, &ki);
		m->mods_p[i] = &m->mods[i];
	}
	return 0;
}

/* Collect, encode and hand to @send. */
static int
stats_send(struct itm_rpc_call *call, const char *filter, int stream)
{
	struct tele_report t;
	struct stats_msg m;
	int rc;

	rc = tele_collect(filter, &t);
	if (rc < 0)
		return rc;
	rc = stats_msg_build(&m, &t);
	if (rc == 0) {
		rc = stream ? itm_rpc_send(call, &m.rep.base)
			    : itm_rpc_reply(call, &m.rep.base);
		stats_msg_free(&m);
	}
	tele_free(&t);
	return rc;
}

void
rpc_h_stats(struct itm_rpc_call *call, void *arg)
{
	const Itm__V1__StatsRequest *req = (const void *)itm_rpc_request(call);
	int rc;

	rc = stats_send(call, req->module, 0);
	if (rc == -ENOENT)
		itm_rpc_fail(call, ITM_RPC_NOT_FOUND, "no module named '%s'",
			     req->module);
	else if (rc < 0)
		rpc_fail_err(call, rc, NULL);
}

/* ------------------------------------------------------------------ */
/* WatchStats: a timer per stream                                       */
/* ------------------------------------------------------------------ */

struct watch {
	uv_timer_t timer;
	struct itm_rpc_call *call;
	char module[64];
	LIST_ENTRY(watch) entry;
};

static LIST_HEAD(, watch) watches = LIST_HEAD_INITIALIZER(watches);

static void
watch_closed_cb(uv_handle_t *h)
{
	free(h->data);
}

static void
watch_end(struct watch *w, int fail)
{
	LIST_REMOVE(w, entry);
	uv_timer_stop(&w->timer);
	if (fail)
		itm_rpc_fail(w->call, ITM_RPC_NOT_FOUND, "no module named '%s'",
			     w->module);
	else
		itm_rpc_finish(w->call);
	uv_close((uv_handle_t *)&w->timer, watch_closed_cb);
}

static void
watch_tick(uv_timer_t *t)
{
	struct watch *w = t->data;
	int rc = stats_send(w->call, w->module, 1);

	if (rc < 0)
		watch_end(w, rc == -ENOENT);
}

static void
watch_cancel_cb(struct itm_rpc_call *call, void *arg)
{
	watch_end(arg, 0);
}

void
rpc_h_watch_stats(struct itm_rpc_call *call, void *arg)
{
	const Itm__V1__WatchStatsRequest *req =
		(const void *)itm_rpc_request(call);
	uint32_t ms = req->interval_ms ? req->interval_ms : 1000;
	struct watch *w;

	if (ms < 100 || ms > 3600000) {
		itm_rpc_fail(call, ITM_RPC_INVALID_ARGUMENT,
			     "interval_ms: %u outside 100..3600000", ms);
		return;
	}
	if (strlen(req->module) >= sizeof(w->module)) {
		itm_rpc_fail(call, ITM_RPC_INVALID_ARGUMENT,
			     "module: too long");
		return;
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL) {
		itm_rpc_fail(call, ITM_RPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	w->call = call;
	snprintf(w->module, sizeof(w->module), "%s", req->module);
	uv_timer_init(agent->loop, &w->timer);
	w->timer.data = w;
	LIST_INSERT_HEAD(&watches, w, entry);
	itm_rpc_on_cancel(call, watch_cancel_cb, w);
	uv_timer_start(&w->timer, watch_tick, 0, ms);
}

void
rpc_watch_stop_all(void)
{
	struct watch *w;

	while ((w = LIST_FIRST(&watches)) != NULL)
		watch_end(w, 0);
}
