/*
 * agent_client.c - libitm's side of the Agent service.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_client.h"
#include "itm.pb-c.h"
#include "itm_rpc.h"
#include "table.h"
#include "wire.h"

#define AGENT_TIMEOUT_MS 2000

struct itm__agent {
	struct itm_rpc_client *rpc;
	char target[256];
};

/* A failed call's status as an errno, and as text in @err (may be NULL). */
static int
call_error(const struct itm__agent *a, const struct itm_rpc_status *st,
	   char *err, size_t errlen)
{
	if (err) {
		int len = snprintf(err, errlen, "itm-agent at %s: %s: %s",
				   a->target, itm_rpc_code_name(st->code),
				   st->message);

		if (len >= (int)errlen && errlen > 4) /* say it was cut */
			memcpy(err + errlen - 4, "...", 4);
	}
	return st->code == ITM_RPC_UNAVAILABLE ||
			       st->code == ITM_RPC_DEADLINE_EXCEEDED
		       ? -ECONNREFUSED
	       : st->code == ITM_RPC_ALREADY_EXISTS	? -EEXIST
	       : st->code == ITM_RPC_INVALID_ARGUMENT	? -EINVAL
	       : st->code == ITM_RPC_NOT_FOUND		? -ENOENT
	       : st->code == ITM_RPC_RESOURCE_EXHAUSTED ? -ENOSPC
							: -EIO;
}

static int
call(struct itm__agent *a, enum itm_method m, const ProtobufCMessage *req,
     ProtobufCMessage **rep, char *err, size_t errlen)
{
	struct itm_rpc_status st;

	if (itm_rpc_call(a->rpc, m, req, rep, AGENT_TIMEOUT_MS, &st) < 0)
		return call_error(a, &st, err, errlen);
	return 0;
}

int
itm__agent_open(struct itm__agent **out, const char *target, char *err,
		size_t errlen)
{
	Itm__V1__StatusRequest req = ITM__V1__STATUS_REQUEST__INIT;
	ProtobufCMessage *rep = NULL;
	struct itm__agent *a;
	int rc;

	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return -ENOMEM;
	snprintf(a->target, sizeof(a->target), "%s", target);
	rc = itm_rpc_client_new(&a->rpc, target, NULL);
	if (rc == 0)
		rc = call(a, ITM_AGENT_GET_STATUS, &req.base, &rep, err,
			  errlen);
	else
		snprintf(err, errlen, "%s: %s", target, strerror(-rc));
	if (rep)
		protobuf_c_message_free_unpacked(rep, NULL);
	if (rc < 0) {
		itm__agent_close(a);
		return rc;
	}
	*out = a;
	return 0;
}

void
itm__agent_close(struct itm__agent *a)
{
	if (a == NULL)
		return;
	if (a->rpc)
		itm_rpc_client_free(a->rpc);
	free(a);
}

int
itm__agent_attach(struct itm__agent *a, const struct itm__reg *reg,
		  uint32_t copy_bytes, const char *module,
		  struct itm__attach_grant *g, char *err, size_t errlen)
{
	const struct itm_info *info = reg->info;
	Itm__V1__AttachRequest req = ITM__V1__ATTACH_REQUEST__INIT;
	struct itm__wire_interest_buf ib;
	Itm__V1__Interest in;
	Itm__V1__AttachReply *rep = NULL;
	int rc;

	itm__interest_to_wire(&info->interest, &in, &ib);
	req.label = (char *)info->label;
	req.hook = (Itm__V1__Hook)reg->hook;
	req.priority = info->priority;
	req.interest = &in;
	req.copy_bytes = copy_bytes;
	req.pid = (uint32_t)getpid();
	req.module = (char *)module;
	req.n_class_names = info->class_names ? info->n_class_names : 0;
	req.class_names = (char **)info->class_names;
	req.no_settle = !reg->may_settle;
	rc = call(a, ITM_AGENT_ATTACH, &req.base, (ProtobufCMessage **)&rep,
		  err, errlen);
	if (rc < 0)
		return rc;
	g->lease = rep->lease;
	g->queue = (uint16_t)rep->queue;
	g->stage_bit = rep->stage_mark;
	g->heartbeat_ms = rep->heartbeat_ms ? rep->heartbeat_ms : 300;
	protobuf_c_message_free_unpacked(&rep->base, NULL);
	return 0;
}

int
itm__agent_detach(struct itm__agent *a, uint64_t lease)
{
	Itm__V1__DetachRequest req = ITM__V1__DETACH_REQUEST__INIT;
	ProtobufCMessage *rep = NULL;
	int rc;

	req.lease = lease;
	rc = call(a, ITM_AGENT_DETACH, &req.base, &rep, NULL, 0);
	if (rep)
		protobuf_c_message_free_unpacked(rep, NULL);
	return rc;
}

/* Heartbeat stats: registrations with their non-empty classes. */
struct hb_msg {
	Itm__V1__ModuleStats ms;
	Itm__V1__RegistrationStats rs[64], *rs_p[64];
	Itm__V1__VerdictLatency lat[64], *lat_p[64];
	Itm__V1__ClassStats *cls, **cls_p;
	Itm__V1__Counter ctr[64], *ctr_p[64];
	uint64_t leases[64];
	struct itm__pub_wire pub; /* tunnels and routes */
};

/* @w points into @r, which outlives the call's serialisation. */
static void
hb_latency(Itm__V1__VerdictLatency *w, const struct itm__hb_reg *r)
{
	const struct itm__runner_lat *lat = &r->lat;

	itm__v1__verdict_latency__init(w);
	w->lease = r->lease;
	w->buckets = (uint64_t *)lat->bucket;
	w->n_buckets = ITM_LAT_BUCKETS;
	w->sum_ns = lat->sum_ns;
}

static int
hb_regs(struct hb_msg *m, const struct itm__hb_reg *regs, unsigned int n)
{
	size_t k = 0;

	m->cls = calloc(n * (ITM_CLASS_MAX + 1) + 1, sizeof(*m->cls));
	m->cls_p = calloc(n * (ITM_CLASS_MAX + 1) + 1, sizeof(*m->cls_p));
	if (m->cls == NULL || m->cls_p == NULL)
		return -ENOMEM;
	for (unsigned int i = 0; i < n; i++) {
		const struct itm__reg *r = regs[i].reg;

		itm__v1__registration_stats__init(&m->rs[i]);
		m->rs[i].label = (char *)r->info->label;
		m->rs[i].hook = (Itm__V1__Hook)r->hook;
		m->rs[i].classes = &m->cls_p[k];
		for (int c = 0; c <= ITM_CLASS_MAX; c++) {
			if (r->cls[c].packets == 0)
				continue;
			itm__v1__class_stats__init(&m->cls[k]);
			m->cls[k].class_id = (uint32_t)c;
			m->cls[k].packets = r->cls[c].packets;
			m->cls[k].bytes = r->cls[c].bytes;
			m->cls[k].flows = r->cls[c].flows;
			m->cls_p[k] = &m->cls[k];
			m->rs[i].n_classes++;
			k++;
		}
		hb_latency(&m->lat[i], &regs[i]);
		m->lat_p[i] = &m->lat[i];
		m->rs_p[i] = &m->rs[i];
		m->leases[i] = regs[i].lease;
	}
	return 0;
}

struct hb_call {
	struct itm__agent *a;
	itm__hb_done done;
	void *arg;
};

static void
hb_reply(void *arg, const struct itm_rpc_status *st,
	 const ProtobufCMessage *reply)
{
	const Itm__V1__HeartbeatReply *rep = (const void *)reply;
	struct hb_call *hc = arg;
	uint64_t unknown[ITM__HB_MAX_LEASES];
	unsigned int n = 0;
	char err[300] = "";
	int rc = 0;

	if (rep == NULL)
		rc = call_error(hc->a, st, err, sizeof(err));
	else
		for (size_t i = 0;
		     i < rep->n_unknown_leases && n < ITM__HB_MAX_LEASES; i++)
			unknown[n++] = rep->unknown_leases[i];
	hc->done(hc->arg, rc, err, unknown, n, rep ? rep->table_generation : 0);
	free(hc);
}

int
itm__agent_heartbeat(struct itm__agent *a, uv_loop_t *loop, const char *module,
		     const struct itm__hb_reg *regs, unsigned int n,
		     const struct itm__hb_counter *ctr, unsigned int nc,
		     const struct itm__publish *pub, itm__hb_done done,
		     void *arg)
{
	Itm__V1__HeartbeatRequest req = ITM__V1__HEARTBEAT_REQUEST__INIT;
	struct hb_msg *m = calloc(1, sizeof(*m));
	struct hb_call *hc = calloc(1, sizeof(*hc));
	int rc;

	if (m == NULL || hc == NULL || n > ITM__HB_MAX_LEASES || nc > 64 ||
	    hb_regs(m, regs, n) < 0) {
		rc = -ENOMEM;
		goto out;
	}
	itm__v1__module_stats__init(&m->ms);
	m->ms.module = (char *)module;
	m->ms.kind = "process";
	m->ms.registrations = m->rs_p;
	m->ms.n_registrations = n;
	for (unsigned int i = 0; i < nc; i++) {
		itm__v1__counter__init(&m->ctr[i]);
		m->ctr[i].name = (char *)ctr[i].name;
		m->ctr[i].value = *ctr[i].value;
		m->ctr_p[i] = &m->ctr[i];
	}
	m->ms.counters = m->ctr_p;
	m->ms.n_counters = nc;
	req.pid = (uint32_t)getpid();
	req.leases = m->leases;
	req.n_leases = n;
	req.stats = &m->ms;
	req.latencies = m->lat_p;
	req.n_latencies = n;
	itm__pub_to_wire(pub, &m->pub);
	req.tunnels = m->pub.tun_p;
	req.n_tunnels = m->pub.n_tun;
	req.routes = m->pub.routes;
	req.n_routes = m->pub.n_routes;
	hc->a = a;
	hc->done = done;
	hc->arg = arg;
	/* The request is serialised before this returns. */
	rc = itm_rpc_call_async(a->rpc, loop, ITM_AGENT_HEARTBEAT, &req.base,
				AGENT_TIMEOUT_MS, hb_reply, hc);
	if (rc == 0)
		hc = NULL;
out:
	if (m) {
		free(m->cls);
		free(m->cls_p);
		itm__pub_wire_free(&m->pub);
	}
	free(m);
	free(hc);
	return rc;
}

int
itm__agent_settle(struct itm__agent *a, uint64_t lease,
		  const struct itm_settle *s, uint32_t *mark, char *err,
		  size_t errlen)
{
	Itm__V1__SettleRequest req = ITM__V1__SETTLE_REQUEST__INIT;
	Itm__V1__SettleReply *rep = NULL;
	int rc;

	req.lease = lease;
	req.class_id = (uint32_t)s->class;
	req.action = (uint32_t)s->action;
	req.tos_value = s->tos_value;
	req.tos_mask = s->tos_mask;
	req.except_tcp_flags = s->except_tcp_flags;
	rc = call(a, ITM_AGENT_SETTLE, &req.base, (ProtobufCMessage **)&rep,
		  err, errlen);
	if (rc == 0) {
		*mark = rep->settle_mark;
		protobuf_c_message_free_unpacked(&rep->base, NULL);
	}
	return rc;
}

/* GetTable's answer as a table; *@out NULL for "none yet". */
static int
table_of(const struct itm__agent *a, const Itm__V1__NeighbourTable *rep,
	 struct itm__table **out, char *err, size_t errlen)
{
	char why[256];
	int rc;

	*out = NULL;
	if (rep->generation == 0)
		return 0;
	rc = itm__table_from_wire(rep, out, why, sizeof(why));
	if (rc == -EINVAL)
		snprintf(err, errlen, "itm-agent at %.100s: bad table: %.150s",
			 a->target, why);
	return rc;
}

int
itm__agent_get_table(struct itm__agent *a, struct itm__table **out, char *err,
		     size_t errlen)
{
	Itm__V1__GetTableRequest req = ITM__V1__GET_TABLE_REQUEST__INIT;
	Itm__V1__NeighbourTable *rep = NULL;
	int rc;

	*out = NULL;
	rc = call(a, ITM_AGENT_GET_TABLE, &req.base, (ProtobufCMessage **)&rep,
		  err, errlen);
	if (rc < 0)
		return rc;
	rc = table_of(a, rep, out, err, errlen);
	protobuf_c_message_free_unpacked(&rep->base, NULL);
	return rc;
}

struct table_call {
	struct itm__agent *a;
	itm__table_done done;
	void *arg;
};

static void
table_reply(void *arg, const struct itm_rpc_status *st,
	    const ProtobufCMessage *reply)
{
	struct table_call *tc = arg;
	struct itm__table *t = NULL;
	char err[300] = "";
	int rc;

	if (reply == NULL)
		rc = call_error(tc->a, st, err, sizeof(err));
	else
		rc = table_of(tc->a, (const void *)reply, &t, err, sizeof(err));
	tc->done(tc->arg, rc, err, t);
	free(tc);
}

int
itm__agent_get_table_async(struct itm__agent *a, uv_loop_t *loop,
			   itm__table_done done, void *arg)
{
	Itm__V1__GetTableRequest req = ITM__V1__GET_TABLE_REQUEST__INIT;
	struct table_call *tc = calloc(1, sizeof(*tc));
	int rc;

	if (tc == NULL)
		return -ENOMEM;
	tc->a = a;
	tc->done = done;
	tc->arg = arg;
	rc = itm_rpc_call_async(a->rpc, loop, ITM_AGENT_GET_TABLE, &req.base,
				AGENT_TIMEOUT_MS, table_reply, tc);
	if (rc < 0)
		free(tc);
	return rc;
}
