/*
 * qosmod - size-aware differentiation (paper section 5; Guo & Matta, "The
 * war between mice and elephants").
 *
 * Counts the packets of every flow.  A new flow is SHORT: its packets get
 * the Minimize-Delay TOS bit (0x10).  Once a flow has sent `threshold`
 * packets it is LONG and the bit is cleared, keeping the precedence bits as
 * in the paper's Figure 11 (and the ECN bits, which post-date the paper).
 * TCP FIN packets count as SHORT, as in Figure 9.  With `thresholds` a flow
 * walks down more than two levels (PIAS); `mode=dscp` writes a DSCP per
 * level instead of the TOS bit.
 *
 * A flow that reaches its last level never changes class again, so qosmod
 * settles it in the kernel: the rest of the flow is marked there without
 * crossing to user space, and its packets still count in the stats.
 *
 * The callbacks are the paper's classify / log / process; the flow looked
 * up by classify is reused by log for the same packet.  Every instance
 * keeps its state in its own struct qos, reached through its handle:
 * m->priv in load and unload, pkt->priv (the registration's priv) in the
 * packet callbacks, the timer's argument in expire.  No globals, so two
 * instances (two agents in one process, say) share nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <itm.h>
#include <itm_plugin.h>

#include "flowtab.h"

#define QOS_TOS_LOWDELAY  0x10 /* Minimize-Delay */
#define QOS_TOS_DTRC_MASK 0x1c /* D, T, R: cleared, prec/ECN kept */
#define QOS_DSCP_MASK	  0xfc
#define QOS_MAX_LEVELS	  8
#define QOS_EXPIRE_MS	  1000

struct qos {
	struct itm_info info;
	struct flowtab *flows;
	uint64_t thresholds[QOS_MAX_LEVELS - 1];
	unsigned int n_levels;
	int dscp_mode;
	uint8_t dscp[QOS_MAX_LEVELS];
	int settle;
	uint64_t idle_ms;
	const char *class_names[QOS_MAX_LEVELS + 1];
	char name_buf[QOS_MAX_LEVELS][24];
	struct flow *cur; /* flow of the packet being handled */
	struct {
		uint64_t flows, evicted, expired, settled, settle_failed;
		uint64_t marked, fin;
	} c;
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Packets without ports (fragments, other protocols) are not classified. */
static int
flow_key(const struct itm_packet *pkt, struct flow_key *k)
{
	memset(k, 0, sizeof(*k));
	if (pkt->l4h == NULL || pkt->flags & ITM_PKT_FRAGMENT)
		return -1;
	k->family = pkt->family;
	k->proto = pkt->l4proto;
	k->sport = pkt->sport;
	k->dport = pkt->dport;
	if (pkt->iph) {
		k->saddr[0] = pkt->iph->saddr;
		k->daddr[0] = pkt->iph->daddr;
	} else if (pkt->ip6h) {
		memcpy(k->saddr, &pkt->ip6h->ip6_src, 16);
		memcpy(k->daddr, &pkt->ip6h->ip6_dst, 16);
	} else {
		return -1;
	}
	return 0;
}

/* Level of a flow that has already sent @count packets. */
static unsigned int
level_of(const struct qos *q, uint64_t count)
{
	unsigned int lvl = 0;

	while (lvl + 1 < q->n_levels && count >= q->thresholds[lvl])
		lvl++;
	return lvl;
}

static int
is_fin(const struct itm_packet *pkt)
{
	return pkt->l4proto == IPPROTO_TCP && pkt->tcph && pkt->tcph->fin;
}

/* Figure 9: look the flow up; SHORT if it is new, still under the
 * threshold, or ending; LONG otherwise. */
static int
classify(itm_where hook, struct itm_packet *pkt)
{
	struct qos *q = pkt->priv;
	struct flow_key k;

	q->cur = NULL;
	if (flow_key(pkt, &k) < 0)
		return ITM_CLASS_NONE;
	q->cur = flowtab_find(q->flows, &k, now_ms());
	if (is_fin(pkt)) {
		q->c.fin++;
		return 1;
	}
	return q->cur ? (int)level_of(q, q->cur->packets) + 1 : 1;
}

/* Figure 10: count the packet, creating the flow's entry if needed. */
static void
log_pkt(itm_where hook, struct itm_packet *pkt)
{
	struct qos *q = pkt->priv;
	struct flow_key k;
	int evicted;

	if (q->cur == NULL) {
		if (flow_key(pkt, &k) < 0)
			return;
		q->cur = flowtab_add(q->flows, &k, now_ms(), &evicted);
		q->c.flows++;
		q->c.evicted += evicted;
	}
	q->cur->packets++;
}

static uint8_t
tos_for(const struct qos *q, unsigned int level, uint8_t tos, uint8_t *value,
	uint8_t *mask)
{
	if (q->dscp_mode) {
		*mask = QOS_DSCP_MASK;
		*value = (uint8_t)(q->dscp[level] << 2);
	} else {
		*mask = QOS_TOS_DTRC_MASK;
		*value = level == 0 ? QOS_TOS_LOWDELAY : 0;
	}
	return (uint8_t)((tos & ~*mask) | *value);
}

/* A flow at its last level stays there: finish it in the kernel. */
static void
settle_flow(struct qos *q, struct itm_packet *pkt, int cls, uint8_t value,
	    uint8_t mask)
{
	struct itm_settle s = {
		.class = cls,
		.action = ITM_SETTLE_SET_TOS,
		.tos_value = value,
		.tos_mask = mask,
		.except_tcp_flags = 0x01, /* FIN stays SHORT */
	};

	if (itm_packet_settle(pkt, &s) == 0) {
		q->cur->settled = 1;
		q->c.settled++;
	} else {
		q->c.settle_failed++;
	}
}

/* Figure 11: write the class into the TOS byte. */
static int
process(itm_where hook, int cls, struct itm_packet *pkt)
{
	struct qos *q = pkt->priv;
	unsigned int level = (unsigned int)cls - 1;
	uint8_t value, mask, tos;

	if (pkt->iph)
		tos = pkt->iph->tos;
	else
		tos = (uint8_t)(ntohl(*(uint32_t *)pkt->ip6h) >> 20);
	if (tos_for(q, level, tos, &value, &mask) != tos) {
		if (pkt->iph) {
			pkt->iph->tos = (uint8_t)((tos & ~mask) | value);
		} else {
			uint32_t w = ntohl(*(uint32_t *)pkt->ip6h);

			w = (w & ~(0xffu << 20)) |
			    ((uint32_t)((tos & ~mask) | value) << 20);
			*(uint32_t *)pkt->ip6h = htonl(w);
		}
		q->c.marked++;
		itm_packet_altered(pkt);
	}
	if (q->settle && q->cur && !q->cur->settled && !is_fin(pkt) &&
	    level + 1 == q->n_levels && pkt->iph)
		settle_flow(q, pkt, cls, value, mask);
	return ITM_ACCEPT;
}

/* The timer's argument is the instance (see qos_load). */
static void
expire(unsigned long arg)
{
	struct qos *q = (struct qos *)arg;

	q->c.expired += flowtab_expire(q->flows, now_ms(), q->idle_ms);
}

/* ------------------------------------------------------------------ */
/* Parameters                                                           */
/* ------------------------------------------------------------------ */

static const struct itm_param_spec qos_params[] = {
	{ "threshold", ITM_PARAM_UINT, "20", 1, 1000000000,
	  "packets after which a flow is LONG" },
	{ "thresholds", ITM_PARAM_UINT_LIST, "", 1, 1000000000,
	  "increasing packet counts for more than two levels (PIAS style); "
	  "overrides threshold" },
	{ "mode", ITM_PARAM_STRING, "tos", 0, 8,
	  "tos: Minimize-Delay bit for SHORT; dscp: a DSCP per level" },
	{ "dscp", ITM_PARAM_UINT_LIST, "", 0, 63,
	  "DSCP per level in dscp mode (default 46,...,0)" },
	{ "hook", ITM_PARAM_STRING, "post_route", 0, 16,
	  "hook to classify at: post_route, forward, ip_out" },
	{ "udp", ITM_PARAM_BOOL, "no", 0, 0, "classify UDP flows too" },
	{ "max_flows", ITM_PARAM_UINT, "65536", 16, 16777216,
	  "size of the flow table" },
	{ "idle_timeout", ITM_PARAM_UINT, "30", 1, 86400,
	  "seconds after which an idle flow is forgotten" },
	{ "settle", ITM_PARAM_BOOL, "yes", 0, 0,
	  "finish flows at their last level in the kernel" },
	{ "priority", ITM_PARAM_INT, "0", -1000, 1000,
	  "order among modules at the hook (lower first)" },
	{ .name = NULL }
};

static const uint8_t default_dscp[QOS_MAX_LEVELS - 1] = { 46, 34, 26, 18,
							  10, 12, 14 };

static int
load_levels(struct itm_module *m, struct qos *q, const struct itm_params *p)
{
	uint64_t dscp[QOS_MAX_LEVELS];
	unsigned int n, nd;

	n = itm_param_uint_list(p, "thresholds", q->thresholds,
				QOS_MAX_LEVELS - 1);
	if (n == 0) {
		q->thresholds[0] = itm_param_uint(p, "threshold");
		n = 1;
	}
	for (unsigned int i = 1; i < n; i++)
		if (q->thresholds[i] <= q->thresholds[i - 1]) {
			itm_module_error(m, "thresholds: must increase");
			return -EINVAL;
		}
	q->n_levels = n + 1;
	q->dscp_mode = strcasecmp(itm_param_str(p, "mode"), "dscp") == 0;
	if (!q->dscp_mode && strcasecmp(itm_param_str(p, "mode"), "tos")) {
		itm_module_error(m, "mode: '%s': use tos or dscp",
				 itm_param_str(p, "mode"));
		return -EINVAL;
	}
	if (!q->dscp_mode && q->n_levels > 2) {
		itm_module_error(m,
				 "%u levels need mode=dscp (the TOS bit "
				 "has two values)",
				 q->n_levels);
		return -EINVAL;
	}
	nd = itm_param_uint_list(p, "dscp", dscp, QOS_MAX_LEVELS);
	if (nd != 0 && nd != q->n_levels) {
		itm_module_error(m, "dscp: %u values for %u levels", nd,
				 q->n_levels);
		return -EINVAL;
	}
	for (unsigned int i = 0; i < q->n_levels; i++)
		q->dscp[i] = nd			    ? (uint8_t)dscp[i]
			     : i + 1 == q->n_levels ? 0
						    : default_dscp[i];
	return 0;
}

static void
name_levels(struct qos *q)
{
	q->class_names[0] = "unclassified";
	for (unsigned int i = 0; i < q->n_levels; i++) {
		if (i == 0)
			strcpy(q->name_buf[i], "SHORT");
		else if (i + 1 == q->n_levels)
			strcpy(q->name_buf[i], "LONG");
		else
			snprintf(q->name_buf[i], sizeof(q->name_buf[i]),
				 "MEDIUM%u", i);
		q->class_names[i + 1] = q->name_buf[i];
	}
}

static int
load_hook(struct itm_module *m, const struct itm_params *p, itm_where *hook)
{
	int h = itm_hook_from_name(itm_param_str(p, "hook"));

	if (h != ITM_POST_ROUTE && h != ITM_IP_FORWARD && h != ITM_IP_OUT) {
		itm_module_error(m,
				 "hook: '%s': use post_route, forward or "
				 "ip_out",
				 itm_param_str(p, "hook"));
		return -EINVAL;
	}
	*hook = (itm_where)h;
	return 0;
}

static void
register_counters(struct qos *q)
{
	itm_register_counter("flows_created", &q->c.flows);
	itm_register_counter("flows_evicted", &q->c.evicted);
	itm_register_counter("flows_expired", &q->c.expired);
	itm_register_counter("flows_settled", &q->c.settled);
	itm_register_counter("settle_failed", &q->c.settle_failed);
	itm_register_counter("packets_remarked", &q->c.marked);
	itm_register_counter("fin_packets", &q->c.fin);
}

static void
qos_free(struct qos *q)
{
	flowtab_free(q->flows);
	free(q);
}

static int
qos_load(struct itm_module *m, const struct itm_params *p)
{
	struct qos *q = calloc(1, sizeof(*q));
	itm_where hook;
	int rc;

	if (q == NULL)
		return -ENOMEM;
	if ((rc = load_levels(m, q, p)) < 0 ||
	    (rc = load_hook(m, p, &hook)) < 0)
		goto fail;
	q->flows = flowtab_new((uint32_t)itm_param_uint(p, "max_flows"));
	if (q->flows == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	q->settle = itm_param_bool(p, "settle");
	q->idle_ms = itm_param_uint(p, "idle_timeout") * 1000;
	name_levels(q);
	q->info = (struct itm_info){
		.label = "qos_ctrl",
		/* Settles LONG flows in the kernel: the agent writes the
		 * conntrack rules for its hook from the start. */
		.flags = ITM_MAY_SETTLE,
		.priority = (int)itm_param_int(p, "priority"),
		.class_func = classify,
		.log_func = log_pkt,
		.process_func = process,
		.class_names = q->class_names,
		.n_class_names = q->n_levels + 1,
		.priv = q, /* pkt->priv in the callbacks */
	};
	itm_interest_init(&q->info.interest);
	itm_interest_add_protocol(&q->info.interest, IPPROTO_TCP);
	if (itm_param_bool(p, "udp"))
		itm_interest_add_protocol(&q->info.interest, IPPROTO_UDP);
	register_counters(q);
	if ((rc = itm_register_hook(hook, &q->info)) < 0 ||
	    (rc = itm_register_timer(expire, (unsigned long)q, QOS_EXPIRE_MS)) <
		    0)
		goto fail;
	m->priv = q;
	return 0;
fail:
	qos_free(q); /* the host undoes what did register */
	return rc;
}

static void
qos_unload(struct itm_module *m)
{
	struct qos *q = m->priv;

	itm_unregister_timer(expire, (unsigned long)q);
	itm_unregister_hook(q->info.hook, &q->info);
	qos_free(q);
	m->priv = NULL;
}

ITM_PLUGIN(.name = "qosmod", .version = "1.0",
	   .description = "size-aware differentiation: SHORT flows get the "
			  "Minimize-Delay TOS bit, LONG flows lose it",
	   .params = qos_params, .load = qos_load, .unload = qos_unload, );
