/*
 * itmroute - overlay routing across the nodes of the overlay (paper
 * section 7; RON): every member's overlay address is reached IP-in-IP
 * between underlay addresses, directly or through one neighbour, along
 * the best path measured by probes.  README.md has the parameters, the
 * protocol, the cost of probing and what happens on failures.
 *
 * The module keeps the control: the member list from the controller's
 * table, one probe per candidate path every interval_ms, the decisions
 * (pathsel.c).  A decision is settled in the data path (dp_ebpf.c or
 * dp_queue.c) and in an overlay route (kroute.c).  On unload, routes and
 * the eBPF data path stay (keep=true): traffic flows on, and the next
 * instance takes them over.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <itm.h>
#include <itm_plugin.h>

#include "itmroute.h"

/* clang-format off */
static const struct itm_param_spec itmr_params[] = {
	{ "datapath", ITM_PARAM_STRING, "ebpf", 0, 5,
	  "ebpf (tc programs) or queue (NFQUEUE, the paper's)" },
	{ "port", ITM_PARAM_UINT, "7790", 1, 65535, "UDP port of the probes" },
	{ "interval_ms", ITM_PARAM_UINT, "100", 10, 10000,
	  "between two probes of a path in use or direct (the fastest)" },
	{ "probe_budget_kbps", ITM_PARAM_UINT, "800", 8, 10000000,
	  "probe traffic of this node, kbit/s (probes, relays and ACKs)" },
	{ "probe_stale_ms", ITM_PARAM_UINT, "5000", 100, 600000,
	  "alternatives older than this are probed first" },
	{ "dead_probes", ITM_PARAM_UINT, "3", 1, 60,
	  "a path is dead after this many silent intervals (plus its RTT)" },
	{ "min_gain_pct", ITM_PARAM_UINT, "20", 0, 99,
	  "a better path must be better by this many percent" },
	{ "min_gain_ms", ITM_PARAM_UINT, "5", 0, 10000,
	  "... and by this many milliseconds" },
	{ "confirm_ms", ITM_PARAM_UINT, "1000", 0, 600000,
	  "... and stay better this long" },
	{ "holddown_ms", ITM_PARAM_UINT, "5000", 0, 3600000,
	  "no switch to a better path sooner than this after the last one" },
	{ "mtu", ITM_PARAM_UINT, "1480", 576, 65515,
	  "MTU of the overlay routes (underlay MTU - 20)" },
	{ "relay", ITM_PARAM_BOOL, "true", 0, 0,
	  "carry other members' traffic (as an intermediate)" },
	{ "keep", ITM_PARAM_BOOL, "true", 0, 0,
	  "leave routes and data path in place on unload" },
	{ "dev", ITM_PARAM_STRING, "", 0, IF_NAMESIZE - 1,
	  "underlay device (default: the one with the underlay address)" },
	{ "pin_dir", ITM_PARAM_STRING, "/run/itm/bpf", 0, 200,
	  "bpffs for the eBPF maps (mounted if it is not one)" },
	{ "bpf_obj", ITM_PARAM_STRING, "", 0, 250,
	  "BPF object (default: itmroute.bpf.o next to the module)" },
	{ .name = NULL }
};
/* clang-format on */

uint64_t
itmr_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct itmr_node *
itmr_node_by_underlay(struct itmr_ctx *x, uint32_t ul)
{
	for (unsigned int i = 0; i < x->n_nodes; i++)
		if (x->nodes[i].underlay == ul)
			return &x->nodes[i];
	return NULL;
}

struct itmr_node *
itmr_node_by_overlay(struct itmr_ctx *x, uint32_t ovl)
{
	for (unsigned int i = 0; i < x->n_nodes; i++)
		if (x->nodes[i].overlay == ovl)
			return &x->nodes[i];
	return NULL;
}

static const char *
ip4(uint32_t a, char *buf)
{
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

/* The name of the member whose underlay address is @ul, or "direct". */
static const char *
hop_name(struct itmr_ctx *x, const struct itmr_node *n, uint32_t via)
{
	struct itmr_node *v;

	if (via == 0 || via == n->underlay)
		return "direct";
	v = itmr_node_by_underlay(x, via);
	return v ? v->name : "?";
}

/* Settle @n's path: the data path's next hop, the overlay route. */
static void
settle(struct itmr_ctx *x, struct itmr_node *n)
{
	const struct itmr_path *p = &n->dest.paths[n->dest.cur];
	uint32_t hop = p->via ? p->via : n->underlay, gw = 0;
	int ifindex = 0, rc;

	if ((rc = x->dp->set_route(x, n, hop)) < 0) {
		itm_log(LOG_ERR, "route to %s: data path: %s", n->name,
			strerror(-rc));
		return;
	}
	n->installed_hop = hop;
	if (itmr_kroute_gateway(hop, &gw, &ifindex) < 0)
		ifindex = x->ul_ifindex;
	if (n->installed_gw == (gw ? gw : hop) && n->installed_gw)
		return;
	rc = itmr_kroute_replace(n->overlay, gw, hop, ifindex, x->self_overlay,
				 x->cfg.mtu);
	if (rc < 0) {
		itm_log(LOG_ERR, "route to %s: %s", n->name, strerror(-rc));
		return;
	}
	n->installed_gw = gw ? gw : hop;
}

static const char *const why_text[] = {
	[ITMR_SW_NONE] = "none",
	[ITMR_SW_FIRST] = "first answer",
	[ITMR_SW_DEAD] = "path in use dead",
	[ITMR_SW_BETTER] = "better path",
};

static void
decide(struct itmr_ctx *x, struct itmr_node *n, uint64_t now)
{
	uint32_t old = n->installed_hop;
	enum itmr_switch_why why = itmr_dest_decide(&n->dest, now, &x->cfg.sel);
	const struct itmr_path *p;

	if (why == ITMR_SW_NONE)
		return;
	p = &n->dest.paths[n->dest.cur];
	x->st.switches++;
	x->st.failovers += why == ITMR_SW_DEAD;
	n->since_wall = (uint64_t)time(NULL);
	settle(x, n);
	itm_log(LOG_NOTICE, "route %s: %s -> %s (%s), rtt %.1f ms loss %u%%",
		n->name, old ? hop_name(x, n, old) : "none",
		hop_name(x, n, p->via), why_text[why], p->srtt_us / 1000.0,
		p->loss_pm / 10);
}

/* Per path counters for --metrics (path_rtt_us{dst=r4,via=r2}, ...), the
 * first ITMR_EXPORT_MAX paths seen: counters cannot be taken back, so a
 * path that goes away reads 0 (active 0). */
static void
export_register(struct itmr_ctx *x, const char *dst, const char *via)
{
	struct itmr_export *e;
	char name[3][160];
	size_t ld = strnlen(dst, ITMR_NAME_MAX - 1);
	size_t lv = strnlen(via, ITMR_NAME_MAX - 1);

	for (unsigned int i = 0; i < x->n_exp; i++)
		if (!strcmp(x->exp[i].dst, dst) && !strcmp(x->exp[i].via, via))
			return;
	if (x->n_exp >= ITMR_EXPORT_MAX)
		return;
	e = &x->exp[x->n_exp];
	if (ld + lv > 47 - 29)
		return;		 /* the host keeps 47 characters of a name */
	memcpy(e->dst, dst, ld); /* dst and via may live in x too */
	e->dst[ld] = '\0';
	memcpy(e->via, via, lv);
	e->via[lv] = '\0';
	snprintf(name[0], sizeof(name[0]), "path_rtt_us{dst=%s,via=%s}", e->dst,
		 e->via);
	snprintf(name[1], sizeof(name[1]), "path_loss_permille{dst=%s,via=%s}",
		 e->dst, e->via);
	snprintf(name[2], sizeof(name[2]), "path_active{dst=%s,via=%s}", e->dst,
		 e->via);
	if (itm_register_counter(name[0], &e->rtt_us) < 0 ||
	    itm_register_counter(name[1], &e->loss_pm) < 0 ||
	    itm_register_counter(name[2], &e->active) < 0)
		return;
	x->n_exp++;
}

static void
export_paths(struct itmr_ctx *x)
{
	for (unsigned int i = 0; i < x->n_nodes; i++)
		for (unsigned int k = 0; k < x->nodes[i].dest.n_paths; k++)
			export_register(x, x->nodes[i].name,
					hop_name(x, &x->nodes[i],
						 x->nodes[i]
							 .dest.paths[k]
							 .via));
}

static void
export_update(struct itmr_ctx *x)
{
	for (unsigned int i = 0; i < x->n_exp; i++) {
		struct itmr_export *e = &x->exp[i];

		e->rtt_us = e->loss_pm = e->active = 0;
		for (unsigned int j = 0; j < x->n_nodes; j++) {
			struct itmr_node *n = &x->nodes[j];

			if (strcmp(n->name, e->dst) != 0)
				continue;
			for (unsigned int k = 0; k < n->dest.n_paths; k++) {
				struct itmr_path *p = &n->dest.paths[k];

				if (strcmp(hop_name(x, n, p->via), e->via))
					continue;
				e->rtt_us = p->alive ? p->srtt_us : 0;
				e->loss_pm = p->loss_pm;
				e->active = (int)k == n->dest.cur;
			}
		}
	}
}

/* The probes the schedule picks for this tick. */
static void
send_probes(struct itmr_ctx *x, uint64_t now)
{
	struct itmr_dest *dests[ITMR_NODES_MAX];
	size_t n;

	for (unsigned int i = 0; i < x->n_nodes; i++)
		dests[i] = &x->nodes[i].dest;
	n = itmr_sched_tick(&x->sched, dests, x->n_nodes, now, &x->cfg.sched,
			    x->due);
	for (size_t j = 0; j < n; j++)
		itmr_prober_send(x, &x->nodes[x->due[j].dest], x->due[j].path);
}

static void
tick(unsigned long arg)
{
	struct itmr_ctx *x = (struct itmr_ctx *)arg;
	uint64_t now = itmr_now_ns();

	for (unsigned int i = 0; i < x->n_nodes; i++)
		decide(x, &x->nodes[i], now);
	send_probes(x, now);
	if (x->ticks++ % 10 == 0) {
		x->dp->read_counters(x);
		export_update(x);
	}
}

/* The report of `itmctl routes`: per member, the path in use and every
 * candidate. */
static void
report_routes(itm_route_emit emit, void *ctx, void *arg)
{
	struct itmr_ctx *x = arg;
	struct itm_route_path paths[ITMR_MAX_PATHS];
	char ovl[INET_ADDRSTRLEN];

	for (unsigned int i = 0; i < x->n_nodes; i++) {
		struct itmr_node *n = &x->nodes[i];
		struct itmr_dest *d = &n->dest;
		struct itm_route r = { .dest = n->name, .paths = paths };

		for (unsigned int k = 0; k < d->n_paths; k++) {
			const struct itmr_path *p = &d->paths[k];

			paths[k] = (struct itm_route_path){
				.via = p->via ? hop_name(x, n, p->via) : "",
				.rtt_us = (uint32_t)p->srtt_us,
				.loss_pm = p->loss_pm,
				.alive = p->alive,
			};
		}
		r.n_paths = d->n_paths;
		r.overlay = ip4(n->overlay, ovl);
		r.via = d->cur < 0 ? "-" : paths[d->cur].via;
		if (d->cur >= 0) {
			r.rtt_us = paths[d->cur].rtt_us;
			r.loss_pm = paths[d->cur].loss_pm;
		}
		r.since = n->since_wall;
		r.switches = d->switches;
		emit(ctx, &r);
	}
}

/* Candidate paths to @tn: direct, then through each neighbour but @tn. */
static void
build_node(const struct itm_table *t, const struct itm_node *tn,
	   struct itmr_node *n)
{
	memset(n, 0, sizeof(*n));
	snprintf(n->name, sizeof(n->name), "%s", tn->name);
	n->overlay = tn->overlay.v4.s_addr;
	n->underlay = tn->underlay.v4.s_addr;
	itmr_dest_init(&n->dest);
	itmr_dest_add_path(&n->dest, 0, -1);
	for (size_t i = 0; i < t->n_neighbours; i++) {
		const struct itm_node *v = t->neighbours[i].node;

		if (v == tn)
			n->neighbour = 1;
		else if (v != t->self && v->underlay.family == AF_INET)
			itmr_dest_add_path(&n->dest, v->underlay.v4.s_addr,
					   (int)(v - t->nodes));
	}
}

/* Keep what was measured of a member whose paths are the same. */
static void
carry_over(struct itmr_node *n, const struct itmr_node *old)
{
	if (old == NULL || old->underlay != n->underlay ||
	    old->dest.n_paths != n->dest.n_paths)
		return;
	for (unsigned int k = 0; k < n->dest.n_paths; k++)
		if (old->dest.paths[k].via != n->dest.paths[k].via)
			return;
	n->dest = old->dest;
	n->installed_hop = old->installed_hop;
	n->installed_gw = old->installed_gw;
	n->since_wall = old->since_wall;
}

static int
usable(const struct itm_node *n)
{
	return n->overlay.family == AF_INET && n->underlay.family == AF_INET;
}

/* The members in @t, into x->nodes; routes to members gone are removed. */
static void
take_members(struct itmr_ctx *x, const struct itm_table *t)
{
	struct itmr_node *old = malloc(sizeof(x->nodes));
	unsigned int n_old = x->n_nodes, n = 0;

	if (old == NULL)
		return;
	memcpy(old, x->nodes, sizeof(x->nodes));
	for (size_t i = 0; i < t->n_nodes && n < ITMR_NODES_MAX; i++) {
		const struct itm_node *tn = &t->nodes[i];
		struct itmr_node *prev = NULL;

		if (tn == t->self || !usable(tn))
			continue;
		build_node(t, tn, &x->nodes[n]);
		for (unsigned int k = 0; k < n_old; k++)
			if (strcmp(old[k].name, tn->name) == 0)
				prev = &old[k];
		carry_over(&x->nodes[n++], prev);
	}
	x->n_nodes = n;
	for (unsigned int k = 0; k < n_old; k++)
		if (old[k].installed_gw &&
		    itmr_node_by_overlay(x, old[k].overlay) == NULL)
			itmr_kroute_delete(old[k].overlay);
	free(old);
}

static int
find_dev(struct itmr_ctx *x)
{
	struct ifaddrs *ifs, *i;

	if (x->cfg.dev[0] == 0) {
		if (getifaddrs(&ifs) < 0)
			return -errno;
		for (i = ifs; i; i = i->ifa_next)
			if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
			    ((struct sockaddr_in *)i->ifa_addr)
					    ->sin_addr.s_addr ==
				    x->self_underlay)
				snprintf(x->ul_dev, sizeof(x->ul_dev), "%s",
					 i->ifa_name);
		freeifaddrs(ifs);
	} else {
		snprintf(x->ul_dev, sizeof(x->ul_dev), "%s", x->cfg.dev);
	}
	x->ul_ifindex = (int)if_nametoindex(x->ul_dev);
	return x->ul_ifindex ? 0 : -ENODEV;
}

/* The first table that names our underlay address: device, data path,
 * probe socket. */
static int
start(struct itmr_ctx *x)
{
	char a[INET_ADDRSTRLEN];
	int rc;

	if ((rc = find_dev(x)) < 0) {
		itm_log(LOG_ERR, "no device holds the underlay address %s",
			ip4(x->self_underlay, a));
		return rc;
	}
	if ((rc = x->dp->open(x)) < 0) {
		x->dp->close(x);
		return rc;
	}
	if ((rc = itmr_prober_open(x)) < 0) {
		x->dp->close(x);
		return rc;
	}
	itm_log(LOG_INFO, "%s: underlay %s on %s, data path %s, probes :%u",
		x->self_name, ip4(x->self_underlay, a), x->ul_dev, x->dp->name,
		x->cfg.port);
	return 0;
}

/* What the probe budget gives this mesh (as if it were a full one). */
static void
log_budget(struct itmr_ctx *x)
{
	const struct itmr_sched_cfg *c = &x->cfg.sched;
	uint64_t bps, every;

	itmr_sched_expect(x->n_nodes + 1, c, &bps, &every);
	if (every == UINT64_MAX)
		itm_log(LOG_WARNING,
			"probe budget %u B/s too small for %u members: only "
			"the paths in use are probed",
			c->budget_Bps, x->n_nodes);
	else if (every > c->stale_ms)
		itm_log(LOG_WARNING,
			"probe budget %u B/s too small for %u members: "
			"alternatives probed every %llu ms (probe_stale_ms %u)",
			c->budget_Bps, x->n_nodes, (unsigned long long)every,
			c->stale_ms);
	else
		itm_log(LOG_INFO,
			"probes: about %llu B/s of %u, alternatives every "
			"%llu ms",
			(unsigned long long)bps, c->budget_Bps,
			(unsigned long long)every);
}

static int
apply_table(struct itmr_ctx *x, const struct itm_table *t)
{
	int rc;

	if (!usable(t->self)) {
		itm_log(LOG_WARNING, "this node has no IPv4 overlay/underlay");
		return -EINVAL;
	}
	if (x->sock >= 0 && x->self_underlay != t->self->underlay.v4.s_addr) {
		itm_log(LOG_WARNING, "underlay address changed: restarting");
		itmr_prober_close(x);
		x->dp->close(x);
	}
	snprintf(x->self_name, sizeof(x->self_name), "%s", t->self->name);
	x->self_overlay = t->self->overlay.v4.s_addr;
	x->self_underlay = t->self->underlay.v4.s_addr;
	x->generation = t->generation;
	if (x->sock < 0 && (rc = start(x)) < 0)
		return rc;
	take_members(x, t);
	export_paths(x);
	if ((rc = x->dp->set_members(x)) < 0)
		itm_log(LOG_ERR, "data path members: %s", strerror(-rc));
	itm_log(LOG_INFO, "table generation %llu: %u members",
		(unsigned long long)t->generation, x->n_nodes);
	log_budget(x);
	return rc;
}

static void
table_changed(const struct itm_table *t, void *arg)
{
	(void)apply_table(arg, t);
}

static void
read_params(struct itmr_cfg *c, const struct itm_params *p)
{
	c->sel.interval_ms = (uint32_t)itm_param_uint(p, "interval_ms");
	c->sel.dead_probes = (uint32_t)itm_param_uint(p, "dead_probes");
	c->sched.interval_ms = c->sel.interval_ms;
	c->sched.dead_probes = c->sel.dead_probes;
	c->sched.budget_Bps =
		(uint32_t)(itm_param_uint(p, "probe_budget_kbps") * 1000 / 8);
	c->sched.stale_ms = (uint32_t)itm_param_uint(p, "probe_stale_ms");
	c->sel.min_gain_pct = (uint32_t)itm_param_uint(p, "min_gain_pct");
	c->sel.min_gain_ms = (uint32_t)itm_param_uint(p, "min_gain_ms");
	c->sel.confirm_ms = (uint32_t)itm_param_uint(p, "confirm_ms");
	c->sel.holddown_ms = (uint32_t)itm_param_uint(p, "holddown_ms");
	c->port = (uint16_t)itm_param_uint(p, "port");
	c->mtu = (uint32_t)itm_param_uint(p, "mtu");
	c->relay = itm_param_bool(p, "relay");
	c->keep = itm_param_bool(p, "keep");
	snprintf(c->datapath, sizeof(c->datapath), "%s",
		 itm_param_str(p, "datapath"));
	snprintf(c->dev, sizeof(c->dev), "%s", itm_param_str(p, "dev"));
	snprintf(c->pin_dir, sizeof(c->pin_dir), "%s",
		 itm_param_str(p, "pin_dir"));
	snprintf(c->bpf_obj, sizeof(c->bpf_obj), "%s",
		 itm_param_str(p, "bpf_obj"));
}

static void
register_counters(struct itmr_ctx *x)
{
	const struct {
		const char *name;
		const uint64_t *v;
	} c[] = {
		{ "probes_sent", &x->st.probes_tx },
		{ "acks_received", &x->st.acks_rx },
		{ "probes_answered", &x->st.probes_answered },
		{ "probes_relayed", &x->st.relayed },
		{ "probes_bad", &x->st.bad_probes },
		{ "probes_unknown_source", &x->st.unknown_src },
		{ "acks_stale", &x->st.stale_acks },
		{ "switches", &x->st.switches },
		{ "failovers", &x->st.failovers },
		{ "encapsulated", &x->st.encap },
		{ "relayed_packets", &x->st.encap_relayed },
		{ "decapsulated", &x->st.decap },
		{ "dropped_unknown_peer", &x->st.drop_peer },
		{ "dropped_not_served", &x->st.drop_dest },
		{ "dropped_malformed", &x->st.drop_bad },
		{ "encap_failed", &x->st.encap_fail },
		{ "relay_failed", &x->st.relay_fail },
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		itm_register_counter(c[i].name, c[i].v);
}

static int
itmr_load(struct itm_module *m, const struct itm_params *p)
{
	struct itmr_ctx *x = calloc(1, sizeof(*x));
	const struct itm_table *t;
	int rc;

	if (x == NULL)
		return -ENOMEM;
	read_params(&x->cfg, p);
	x->sock = -1;
	itmr_sched_init(&x->sched);
	if (strcmp(x->cfg.datapath, "ebpf") == 0) {
		x->dp = &itmr_dp_ebpf;
	} else if (strcmp(x->cfg.datapath, "queue") == 0) {
		x->dp = &itmr_dp_queue;
	} else {
		itm_module_error(m, "datapath '%s': ebpf or queue",
				 x->cfg.datapath);
		free(x);
		return -EINVAL;
	}
	m->priv = x;
	register_counters(x);
	if ((t = itm_get_table()) != NULL && (rc = apply_table(x, t)) < 0) {
		itm_module_error(m, "cannot start: %s", strerror(-rc));
		goto fail;
	}
	if ((rc = itm_register_routes_func(report_routes, x)) < 0 ||
	    (rc = itm_register_table_func(table_changed, x)) < 0 ||
	    (rc = itm_register_timer(tick, (unsigned long)x,
				     x->cfg.sel.interval_ms)) < 0)
		goto fail;
	return 0;
fail:
	itmr_prober_close(x);
	x->dp->close(x);
	free(x);
	m->priv = NULL;
	return rc;
}

static void
itmr_unload(struct itm_module *m)
{
	struct itmr_ctx *x = m->priv;

	itm_unregister_timer(tick, (unsigned long)x);
	itm_unregister_table_func(table_changed, x);
	itm_unregister_routes_func(report_routes, x);
	itmr_prober_close(x);
	if (!x->cfg.keep)
		for (unsigned int i = 0; i < x->n_nodes; i++)
			if (x->nodes[i].installed_gw)
				itmr_kroute_delete(x->nodes[i].overlay);
	x->dp->close(x);
	itm_log(LOG_INFO, "unloaded; routes and data path %s",
		x->cfg.keep ? "left in place" : "removed");
	free(x);
}

ITM_PLUGIN(.name = "itmroute", .version = "1.0",
	   .description = "overlay routing over measured paths (RON)",
	   .params = itmr_params, .load = itmr_load, .unload = itmr_unload, );
