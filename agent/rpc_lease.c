/*
 * rpc_lease.c - registration of process modules over the local socket:
 * Attach, Detach, Heartbeat, Settle.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "itm.pb-c.h"
#include "lease.h"
#include "rpc.h"

#define RPC_MAX_CLASS_NAMES (ITM_CLASS_MAX + 1)
#define RPC_MAX_LEASES	    64

static int
check_str(const char *s, size_t max, const char *field, char *err,
	  size_t errlen)
{
	if (strlen(s) > max) {
		snprintf(err, errlen, "%s: longer than %zu characters", field,
			 max);
		return -EINVAL;
	}
	return 0;
}

static int
attach_from_wire(const Itm__V1__AttachRequest *req, struct lease_attach *a,
		 char *err, size_t errlen)
{
	int rc;

	memset(a, 0, sizeof(*a));
	if ((rc = check_str(req->label, 31, "label", err, errlen)) < 0 ||
	    (rc = check_str(req->module, 31, "module", err, errlen)) < 0)
		return rc;
	if ((unsigned int)req->hook >= ITM_HOOK_MAX) {
		snprintf(err, errlen, "hook: %d is not a hook", (int)req->hook);
		return -EINVAL;
	}
	if (req->copy_bytes > 65535 || req->pid == 0 || req->pid > 4194304) {
		snprintf(err, errlen, "%s",
			 req->copy_bytes > 65535 ? "copy_bytes: more than 65535"
						 : "pid: not a pid");
		return -EINVAL;
	}
	if (req->n_class_names > RPC_MAX_CLASS_NAMES) {
		snprintf(err, errlen, "class_names: more than %d",
			 RPC_MAX_CLASS_NAMES);
		return -EINVAL;
	}
	for (size_t i = 0; i < req->n_class_names; i++)
		if ((rc = check_str(req->class_names[i], 31, "class_names", err,
				    errlen)) < 0)
			return rc;
	rc = itm__interest_from_wire(req->interest, &a->interest, err, errlen);
	if (rc < 0)
		return rc;
	snprintf(a->label, sizeof(a->label), "%s", req->label);
	snprintf(a->module, sizeof(a->module), "%s",
		 req->module[0] ? req->module : "process");
	a->hook = (itm_where)req->hook;
	a->priority = req->priority;
	a->copy_bytes = req->copy_bytes;
	a->may_settle = !req->no_settle;
	a->pid = (pid_t)req->pid;
	a->class_names = req->class_names;
	a->n_class_names = (unsigned int)req->n_class_names;
	return 0;
}

void
rpc_h_attach(struct itm_rpc_call *call, void *arg)
{
	const Itm__V1__AttachRequest *req = (const void *)itm_rpc_request(call);
	Itm__V1__AttachReply rep = ITM__V1__ATTACH_REPLY__INIT;
	struct lease_attach a;
	struct lease_grant g;
	char err[512] = "";
	int rc;

	rc = attach_from_wire(req, &a, err, sizeof(err));
	if (rc == 0)
		rc = lease_attach(&a, &g, err, sizeof(err));
	if (rc < 0) {
		rpc_fail_err(call, rc, err);
		return;
	}
	rep.lease = g.lease;
	rep.queue = g.queue;
	rep.stage_mark = g.stage_bit;
	rep.mark_mask = ITM_MARK_MASK;
	rep.heartbeat_ms = LEASE_HEARTBEAT_MS;
	rep.lease_ms = LEASE_EXPIRY_MS;
	itm_rpc_reply(call, &rep.base);
}

void
rpc_h_detach(struct itm_rpc_call *call, void *arg)
{
	const Itm__V1__DetachRequest *req = (const void *)itm_rpc_request(call);
	Itm__V1__DetachReply rep = ITM__V1__DETACH_REPLY__INIT;
	char err[256] = "";
	int rc;

	rc = lease_detach(req->lease, err, sizeof(err));
	if (rc < 0)
		rpc_fail_err(call, rc, err);
	else
		itm_rpc_reply(call, &rep.base);
}

/* The heartbeat's stats as the lease table wants them. */
struct hb_stats {
	struct lease_report_reg regs[RPC_MAX_LEASES];
	unsigned int n_regs;
	struct tele_class *cls;
	struct tele_counter *ctr;
	unsigned int n_ctr;
};

/* The leases' verdict latencies, kept with them; a report of another
 * bucket set than libitm's is ignored (modules before the field send
 * none). */
static void
hb_latencies(const Itm__V1__HeartbeatRequest *req)
{
	for (size_t i = 0; i < req->n_latencies; i++) {
		const Itm__V1__VerdictLatency *w = req->latencies[i];
		struct itm__runner_lat lat = { .sum_ns = w->sum_ns };

		if (w->n_buckets != ITM_LAT_BUCKETS)
			continue;
		for (unsigned int b = 0; b < ITM_LAT_BUCKETS; b++) {
			lat.bucket[b] = w->buckets[b];
			lat.count += w->buckets[b];
		}
		lease_latency((pid_t)req->pid, w->lease, &lat);
	}
}

static int
hb_from_wire(const Itm__V1__ModuleStats *ms, struct hb_stats *hb)
{
	size_t total = 0, k = 0;

	memset(hb, 0, sizeof(*hb));
	if (ms == NULL)
		return 0;
	if (ms->n_registrations > RPC_MAX_LEASES || ms->n_counters > 256)
		return -EINVAL;
	for (size_t i = 0; i < ms->n_registrations; i++) {
		if (ms->registrations[i]->n_classes > ITM_CLASS_MAX + 1)
			return -EINVAL;
		total += ms->registrations[i]->n_classes;
	}
	hb->cls = calloc(total + 1, sizeof(*hb->cls));
	hb->ctr = calloc(ms->n_counters + 1, sizeof(*hb->ctr));
	if (hb->cls == NULL || hb->ctr == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < ms->n_registrations; i++) {
		const Itm__V1__RegistrationStats *rs = ms->registrations[i];

		hb->regs[i].label = rs->label;
		hb->regs[i].cls = &hb->cls[k];
		hb->regs[i].n_cls = (unsigned int)rs->n_classes;
		for (size_t j = 0; j < rs->n_classes; j++, k++) {
			hb->cls[k].id = rs->classes[j]->class_id;
			hb->cls[k].packets = rs->classes[j]->packets;
			hb->cls[k].bytes = rs->classes[j]->bytes;
			hb->cls[k].flows = rs->classes[j]->flows;
		}
	}
	hb->n_regs = (unsigned int)ms->n_registrations;
	for (size_t i = 0; i < ms->n_counters; i++) {
		snprintf(hb->ctr[i].name, sizeof(hb->ctr[i].name), "%s",
			 ms->counters[i]->name);
		hb->ctr[i].value = ms->counters[i]->value;
	}
	hb->n_ctr = (unsigned int)ms->n_counters;
	return 0;
}

void
rpc_h_heartbeat(struct itm_rpc_call *call, void *arg)
{
	const Itm__V1__HeartbeatRequest *req =
		(const void *)itm_rpc_request(call);
	Itm__V1__HeartbeatReply rep = ITM__V1__HEARTBEAT_REPLY__INIT;
	uint64_t unknown[RPC_MAX_LEASES];
	unsigned int n_unknown = 0;
	struct hb_stats hb;
	int rc;

	if (req->n_leases > RPC_MAX_LEASES ||
	    req->n_latencies > RPC_MAX_LEASES) {
		itm_rpc_fail(call, ITM_RPC_INVALID_ARGUMENT, "%s: more than %d",
			     req->n_leases > RPC_MAX_LEASES ? "leases"
							    : "latencies",
			     RPC_MAX_LEASES);
		return;
	}
	rc = hb_from_wire(req->stats, &hb);
	if (rc == 0)
		rc = lease_heartbeat((pid_t)req->pid, req->leases,
				     (unsigned int)req->n_leases, hb.regs,
				     hb.n_regs, hb.ctr, hb.n_ctr, unknown,
				     &n_unknown);
	free(hb.cls);
	free(hb.ctr);
	if (rc < 0) {
		rpc_fail_err(call, rc, "stats: malformed");
		return;
	}
	hb_latencies(req);
	rpc_publish(req);
	rep.unknown_leases = unknown;
	rep.n_unknown_leases = n_unknown;
	rep.table_generation = agent->table_generation;
	itm_rpc_reply(call, &rep.base);
}

void
rpc_h_settle(struct itm_rpc_call *call, void *arg)
{
	const Itm__V1__SettleRequest *req = (const void *)itm_rpc_request(call);
	Itm__V1__SettleReply rep = ITM__V1__SETTLE_REPLY__INIT;
	struct itm_settle s = { 0 };
	char err[256] = "";
	uint32_t mark;
	int rc;

	if (req->class_id < 1 || req->class_id > ITM_CLASS_MAX ||
	    req->action > ITM_SETTLE_DROP || req->tos_value > 255 ||
	    req->tos_mask > 255 || req->except_tcp_flags > 255) {
		itm_rpc_fail(call, ITM_RPC_INVALID_ARGUMENT,
			     "settle: class "
			     "1..%d, action 0..2, tos bytes",
			     ITM_CLASS_MAX);
		return;
	}
	s.class = (int)req->class_id;
	s.action = (enum itm_settle_action)req->action;
	s.tos_value = (uint8_t)req->tos_value;
	s.tos_mask = (uint8_t)req->tos_mask;
	s.except_tcp_flags = (uint8_t)req->except_tcp_flags;
	rc = lease_settle(req->lease, &s, &mark, err, sizeof(err));
	if (rc < 0) {
		rpc_fail_err(call, rc, err);
		return;
	}
	rep.settle_mark = mark;
	rep.settle_mask = ITM_MARK_SETTLE_MASK;
	itm_rpc_reply(call, &rep.base);
}
