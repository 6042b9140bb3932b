/*
 * etunnel - the elastic tunnel (paper section 8; Guirguis, Bestavros,
 * Matta et al., "Providing soft bandwidth guarantees using elastic
 * TCP-based tunnels", ISCC 2004).
 *
 * Loaded at both ends of a tunnel: side=entry steals the packets towards
 * the tunnel's prefixes at FORWARD and IP_OUT and carries them over a pool
 * of TCP connections to the peer (pool.c), whose size a controller sets
 * each interval to hold the target rate (ctrl.c); side=exit admits the
 * peer's connections only, restores the order and re-injects (exitp.c).
 * The controller places both ends from topo.yaml's `tunnels:`; by hand,
 *
 *	itmctl --agent A module load etunnel side=entry peer_addr=10.0.0.3 \
 *	    dst=10.201.3.0/24 target=40000 max_conns=32
 *	itmctl --agent B module load etunnel side=exit peer_addr=10.0.0.1 \
 *	    dst=10.201.3.0/24
 *
 * This file: parameters, the peer's address (from the overlay table when
 * given by node name), the hooks, timers and counters.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <syslog.h>

#include <itm_plugin.h>

#include "etunnel.h"

enum { CLS_SHORT = 1, CLS_LONG, CLS_FAILOPEN, CLS_N };

/* clang-format off */
static const struct itm_param_spec etun_params[] = {
	{ "name", ITM_PARAM_STRING, "t1", 0, 20, "the tunnel's name" },
	{ "side", ITM_PARAM_STRING, "entry", 0, 8, "entry (steals, sizes the pool) or exit (re-injects)" },
	{ "peer", ITM_PARAM_STRING, "", 0, 31, "the far end's node name (its underlay address from the table)" },
	{ "peer_addr", ITM_PARAM_STRING, "", 0, 15, "the far end's IPv4 address (instead of peer)" },
	{ "local_addr", ITM_PARAM_STRING, "", 0, 15, "address of this end (default: this node's underlay)" },
	{ "dst", ITM_PARAM_STRING, NULL, 0, 400, "destination prefixes behind the exit, comma-separated" },
	{ "proto", ITM_PARAM_STRING, "", 0, 100, "protocols carried, comma-separated: tcp, udp, icmp or numbers 1..255 (default: all; with ports: tcp,udp)" },
	{ "ports", ITM_PARAM_STRING, "", 0, 200, "destination ports carried, comma-separated, ranges lo-hi, at most 16 (default: all); only with protocols that have ports" },
	{ "port", ITM_PARAM_UINT, "7800", 1, 65535, "the exit's TCP port" },
	{ "target", ITM_PARAM_UINT, "10000", 1, 100000000, "target rate, kbit/s" },
	{ "min_conns", ITM_PARAM_UINT, "1", 1, ETUN_MAX_CONNS, "smallest pool" },
	{ "max_conns", ITM_PARAM_UINT, "16", 1, ETUN_MAX_CONNS, "largest pool" },
	{ "interval_ms", ITM_PARAM_UINT, "1000", 50, 60000, "controller interval" },
	{ "cap", ITM_PARAM_BOOL, "yes", 0, 1, "the entry puts user bytes on the pool no faster than target (token bucket, 30 ms deep): the tunnel holds the target, not every share the pool gets; no: at least the target" },
	{ "cap_trim_pct", ITM_PARAM_UINT, "10", 0, 50, "the cap's rate may rise this far over target, percent, to make up what pool stalls left unsent (half the shortfall per capped interval; 0: never)" },
	{ "band_pct", ITM_PARAM_UINT, "3", 0, 50, "dead band around the target, percent" },
	{ "queue_kb", ITM_PARAM_UINT, "256", 4, 65536, "entry queue per class, kB" },
	{ "queue_pkts", ITM_PARAM_UINT, "1024", 8, 65536, "entry queue per class, packets" },
	{ "sndbuf_kb", ITM_PARAM_UINT, "0", 0, 65536, "send buffer per connection, kB (0: kernel autotuning)" },
	{ "cc", ITM_PARAM_STRING, "", 0, 15, "congestion control of the pool's connections (default: the system's)" },
	{ "express", ITM_PARAM_BOOL, "yes", 0, 1, "the short class gets a connection of its own, TOS 0x10" },
	{ "skip_recovering", ITM_PARAM_BOOL, "no", 0, 1, "send nothing on a connection in loss recovery" },
	{ "cwnd_room", ITM_PARAM_BOOL, "no", 0, 1, "tcp=packet: a frame goes first to a connection with congestion-window room (TCP_INFO; split streams always do)" },
	{ "resend_frames", ITM_PARAM_UINT, "2048", 0, 65536, "frames kept to send again when their connection is stuck (0: never)" },
	{ "unsent_kb", ITM_PARAM_UINT, "4", 2, 4096, "bytes a connection may hold not yet sent, kB" },
	{ "reorder_window", ITM_PARAM_UINT, "2048", 16, 65536, "reorder buffer, packets" },
	{ "reorder_kb", ITM_PARAM_UINT, "8192", 64, 1048576, "reorder buffer, kB" },
	{ "reorder_wait_ms", ITM_PARAM_UINT, "50", 1, 10000, "shortest wait for a missing packet" },
	{ "reorder_wait_max_ms", ITM_PARAM_UINT, "100", 1, 10000, "longest wait for a missing packet (the entry's estimate within [reorder_wait_ms, this]; keep it below the users' RTO, 200 ms and more)" },
	{ "mtu", ITM_PARAM_UINT, "1500", 576, 65535, "largest packet re-injected (larger TCP is segmented)" },
	{ "tls_ca", ITM_PARAM_STRING, "", 0, 255, "mutual TLS: the CA file (PEM) the peer's certificate must be signed by" },
	{ "tls_cert", ITM_PARAM_STRING, "", 0, 255, "mutual TLS: this end's certificate (PEM); it must name this node (subjectAltName DNS, or IP when the peer has only peer_addr), as the peer checks" },
	{ "tls_key", ITM_PARAM_STRING, "", 0, 255, "mutual TLS: this end's private key (PEM)" },
	{ "tls_crl", ITM_PARAM_STRING, "", 0, 255, "mutual TLS: the CA's certificate revocation list (PEM; optional)" },
	{ "tcp", ITM_PARAM_STRING, "split", 0, 8, "split: users' TCP connections end at the entry and their bytes ride the pool (split TCP); packet: their packets do" },
	{ "split_port", ITM_PARAM_UINT, "0", 0, 65535, "tcp=split: the entry's transparent listener (0: port + 1; local only)" },
	{ "split_mark", ITM_PARAM_UINT, "4096", 1, 65535, "tcp=split: the fwmark bit (one of bits 0..15) for the local-delivery rule" },
	{ "split_table", ITM_PARAM_UINT, "0", 0, 2147483647, "tcp=split: routing table of the local-delivery route (0: port)" },
	{ "stream_kb", ITM_PARAM_UINT, "4096", 64, 65536, "tcp=split: bytes a stream may have unacknowledged, each way, kB" },
	{ "stream_mem_mb", ITM_PARAM_UINT, "64", 1, 65536, "tcp=split: bytes all streams may have unacknowledged together, as senders at this end, MB" },
	{ "chunk_kb", ITM_PARAM_UINT, "4", 1, 63, "tcp=split: largest DATA frame, kB" },
	{ "max_streams", ITM_PARAM_UINT, "1024", 1, 65536, "tcp=split: connections split at once; more are reset (each holds up to 2 x stream_kb per end, all together at most stream_mem_mb as senders)" },
	{ "short_kb", ITM_PARAM_UINT, "29", 0, 1048576, "tcp=split: a stream's first bytes go in the SHORT class (express connection), kB (29: qosmod's threshold=20 packets)" },
	{ "priority", ITM_PARAM_INT, "0", -1000, 1000, "hook priority" },
	{ .name = NULL }
};
/* clang-format on */

uint64_t
etun_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t
etun_now_ms(void)
{
	return etun_now_us() / 1000;
}

int
etun_dst_match(const struct etun *t, uint32_t daddr)
{
	for (unsigned int i = 0; i < t->n_dst; i++) {
		const struct itm_prefix *p = &t->dst[i];
		uint32_t mask = p->len ? htonl(~0u << (32 - p->len)) : 0;

		if ((daddr & mask) == (p->addr.v4.s_addr & mask))
			return 1;
	}
	return 0;
}

static int
parse_prefix(const char *s, struct itm_prefix *p)
{
	char buf[32], *slash, *end;
	long len = 32;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	if ((slash = strchr(buf, '/')) != NULL) {
		*slash = '\0';
		len = strtol(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end || len < 0 || len > 32)
			return -1;
	}
	memset(p, 0, sizeof(*p));
	if (inet_pton(AF_INET, buf, &p->addr.v4) != 1)
		return -1;
	p->family = AF_INET;
	p->len = (uint8_t)len;
	if (len < 32)
		p->addr.v4.s_addr &= len ? htonl(~0u << (32 - len)) : 0;
	return 0;
}

static int
load_dst(struct itm_module *m, struct etun *t, const char *list)
{
	char buf[512], *save = NULL, *tok;

	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (t->n_dst == ETUN_MAX_PREFIXES ||
		    parse_prefix(tok, &t->dst[t->n_dst]) < 0) {
			itm_module_error(m, "dst: '%s': %s", tok,
					 t->n_dst == ETUN_MAX_PREFIXES
						 ? "more than 16 prefixes"
						 : "not an IPv4 prefix");
			return -EINVAL;
		}
		t->n_dst++;
	}
	if (t->n_dst == 0) {
		itm_module_error(m, "dst: no prefix given");
		return -EINVAL;
	}
	return 0;
}

static int
parse_addr(struct itm_module *m, const char *what, const char *s,
	   struct in_addr *a)
{
	if (inet_pton(AF_INET, s, a) == 1)
		return 0;
	itm_module_error(m, "%s: '%s' is not an IPv4 address", what, s);
	return -EINVAL;
}

/* The peer by address, or by node name in the overlay table. */
static int
resolve_peer(struct itm_module *m, struct etun *t, const struct itm_params *p)
{
	const struct itm_table *tab = itm_get_table();
	const struct itm_node *n;

	snprintf(t->peer_name, sizeof(t->peer_name), "%s",
		 itm_param_str(p, "peer"));
	if (itm_param_str(p, "peer_addr")[0])
		return parse_addr(m, "peer_addr", itm_param_str(p, "peer_addr"),
				  &t->peer);
	if (t->peer_name[0] == '\0') {
		itm_module_error(m, "peer: give peer (a node) or peer_addr");
		return -EINVAL;
	}
	n = tab ? itm_table_node(tab, t->peer_name) : NULL;
	if (n == NULL || n->underlay.family != AF_INET) {
		itm_module_error(m,
				 "peer: node '%s' has no IPv4 underlay address "
				 "in the overlay table%s",
				 t->peer_name, tab ? "" : " (no table yet)");
		return -ENOENT;
	}
	t->peer = n->underlay.v4;
	return 0;
}

static int
resolve_local(struct itm_module *m, struct etun *t, const struct itm_params *p)
{
	const struct itm_table *tab = itm_get_table();

	t->local.s_addr = INADDR_ANY;
	if (itm_param_str(p, "local_addr")[0])
		return parse_addr(m, "local_addr",
				  itm_param_str(p, "local_addr"), &t->local);
	if (tab && tab->self && tab->self->underlay.family == AF_INET)
		t->local = tab->self->underlay.v4;
	return 0;
}

/* A congestion control the kernel does not have is refused at load. */
static int
check_cc(struct itm_module *m, const char *cc)
{
	int fd, rc = 0;

	if (cc[0] == '\0')
		return 0;
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -errno;
	if (setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc,
		       (socklen_t)strlen(cc)) < 0) {
		rc = -errno;
		itm_module_error(m,
				 "cc: '%s': %s (see "
				 "net.ipv4.tcp_available_congestion_control)",
				 cc, strerror(errno));
	}
	close(fd);
	return rc;
}

/* Mutual TLS: tls_ca, tls_cert and tls_key all given, or none (tls_crl
 * only with them); the peer's certificate must name its node name, or
 * without one its address. */
static int
load_tls(struct itm_module *m, struct etun *t, const struct itm_params *p)
{
	static const char *const keys[3] = { "tls_ca", "tls_cert", "tls_key" };
	struct etun_tls_conf cf;
	const char *v[3];
	int given = 0;
	char why[512], addr[INET_ADDRSTRLEN];

	for (int i = 0; i < 3; i++)
		given += (v[i] = itm_param_str(p, keys[i]))[0] != '\0';
	if (given == 0 && itm_param_str(p, "tls_crl")[0] == '\0')
		return 0;
	for (int i = 0; given < 3 && i < 3; i++)
		if (v[i][0] == '\0') {
			itm_module_error(m,
					 "%s: missing; mutual TLS needs "
					 "tls_ca, tls_cert and tls_key "
					 "(all three or none)",
					 keys[i]);
			return -EINVAL;
		}
	cf.server = t->side == ETUN_EXIT;
	cf.ca = v[0], cf.cert = v[1], cf.key = v[2];
	cf.crl = itm_param_str(p, "tls_crl");
	cf.peer_name = t->peer_name;
	cf.peer_addr = inet_ntop(AF_INET, &t->peer, addr, sizeof(addr));
	t->tls = etun_tls_new(&cf, why, sizeof(why));
	if (t->tls == NULL) {
		itm_module_error(m, "%s", why);
		return -EINVAL;
	}
	return 0;
}

/* The sessions up whose peer the list in force now refuses: cut (@cut:
 * the side's close, the peer reconnects and is refused at its
 * handshake), counted in tls_refused and logged with both names. */
static void
cut_refused(struct etun *t, etun_conn_cut_fn *cut)
{
	char why[256];

	for (unsigned int i = 0; i < ETUN_SLOTS; i++) {
		struct etun_conn *c = &t->conns[i];

		if (c->state != ETUN_CONN_UP || c->tls == NULL ||
		    etun_tls_conn_recheck(t->tls, c->tls, why, sizeof(why)))
			continue;
		t->c.tls_refused++;
		itm_log(LOG_WARNING,
			"etunnel %s: pool connection %u cut: the new tls_crl "
			"refuses the peer (%s, must name %s)",
			t->name, i, why, etun_tls_peer(t->tls));
		cut(t, c);
	}
}

void
etun_tls_recheck(struct etun *t, etun_conn_cut_fn *cut)
{
	char why[512];
	int rc = etun_tls_crl_check(t->tls, why, sizeof(why));

	if (rc > 0) {
		itm_log(LOG_INFO,
			"etunnel %s: tls_crl changed: new TLS sessions check "
			"the new list, sessions up are checked again",
			t->name);
		cut_refused(t, cut);
	} else if (rc < 0) {
		itm_log(LOG_WARNING,
			"etunnel %s: tls_crl changed but cannot be used (%s): "
			"the list read before stays",
			t->name, why);
	}
}

/* proto= and ports=: what goes in besides the prefixes. */
static int
load_l4(struct itm_module *m, struct etun *t, const struct itm_params *p)
{
	char why[160];

	if (etun_l4_parse(&t->l4, itm_param_str(p, "proto"),
			  itm_param_str(p, "ports"), why, sizeof(why)) < 0) {
		itm_module_error(m, "%s", why);
		return -EINVAL;
	}
	return 0;
}

/* tcp=split|packet and the split parameters; no split TCP when the
 * tunnel carries no TCP. */
static int
load_split(struct itm_module *m, struct etun *t, const struct itm_params *p)
{
	const char *tcp = itm_param_str(p, "tcp");
	uint32_t mark = (uint32_t)itm_param_uint(p, "split_mark");

	if (strcmp(tcp, "split") != 0 && strcmp(tcp, "packet") != 0) {
		itm_module_error(m, "tcp: '%s': use split or packet", tcp);
		return -EINVAL;
	}
	if (mark & (mark - 1)) {
		itm_module_error(m, "split_mark: 0x%x is not a single bit",
				 mark);
		return -EINVAL;
	}
	t->split = tcp[0] == 's' &&
		   (t->l4.n_protos == 0 || etun_l4_has(&t->l4, IPPROTO_TCP));
	t->ctrl.no_saturation = t->split;
	t->split_mark = mark;
	t->split_port = (uint16_t)itm_param_uint(p, "split_port");
	if (t->split_port == 0)
		t->split_port = (uint16_t)(t->port + 1);
	t->split_table = (uint32_t)itm_param_uint(p, "split_table");
	if (t->split_table == 0)
		t->split_table = t->port;
	t->stream_win = (uint32_t)itm_param_uint(p, "stream_kb") * 1024;
	t->stream_mem = itm_param_uint(p, "stream_mem_mb") << 20;
	t->chunk = (uint32_t)itm_param_uint(p, "chunk_kb") * 1024;
	t->max_streams = (unsigned int)itm_param_uint(p, "max_streams");
	t->short_bytes = (uint32_t)itm_param_uint(p, "short_kb") * 1024;
	return 0;
}

static int
load_config(struct itm_module *m, struct etun *t, const struct itm_params *p)
{
	const char *side = itm_param_str(p, "side");
	int rc;

	snprintf(t->name, sizeof(t->name), "%s", itm_param_str(p, "name"));
	if (strcmp(side, "entry") != 0 && strcmp(side, "exit") != 0) {
		itm_module_error(m, "side: '%s': use entry or exit", side);
		return -EINVAL;
	}
	t->side = side[1] == 'n' ? ETUN_ENTRY : ETUN_EXIT;
	if ((rc = load_dst(m, t, itm_param_str(p, "dst"))) < 0 ||
	    (rc = load_l4(m, t, p)) < 0 || (rc = resolve_peer(m, t, p)) < 0 ||
	    (rc = resolve_local(m, t, p)) < 0)
		return rc;
	if (etun_dst_match(t, t->peer.s_addr)) {
		itm_module_error(m,
				 "dst: the peer %s lies inside the "
				 "tunnel's prefixes",
				 inet_ntoa(t->peer));
		return -EINVAL;
	}
	t->port = (uint16_t)itm_param_uint(p, "port");
	t->ctrl.target_bps = itm_param_uint(p, "target") * 1000;
	t->ctrl.min_conns = (unsigned int)itm_param_uint(p, "min_conns");
	t->ctrl.max_conns = (unsigned int)itm_param_uint(p, "max_conns");
	t->ctrl.band = (double)itm_param_uint(p, "band_pct") / 100.0;
	t->cap_on = itm_param_bool(p, "cap");
	t->ctrl.cap = t->cap_on;
	t->cap_trim_pct = (unsigned int)itm_param_uint(p, "cap_trim_pct");
	if (t->ctrl.min_conns > t->ctrl.max_conns) {
		itm_module_error(m, "min_conns: %u is above max_conns %u",
				 t->ctrl.min_conns, t->ctrl.max_conns);
		return -EINVAL;
	}
	t->interval_ms = (unsigned int)itm_param_uint(p, "interval_ms");
	t->sndbuf = (uint32_t)itm_param_uint(p, "sndbuf_kb") * 1024;
	t->unsent = (uint32_t)itm_param_uint(p, "unsent_kb") * 1024;
	t->skip_recovering = itm_param_bool(p, "skip_recovering");
	t->cwnd_room = itm_param_bool(p, "cwnd_room");
	t->resend_frames = (unsigned int)itm_param_uint(p, "resend_frames");
	t->express = itm_param_bool(p, "express");
	snprintf(t->cc, sizeof(t->cc), "%s", itm_param_str(p, "cc"));
	if ((rc = check_cc(m, t->cc)) < 0 || (rc = load_tls(m, t, p)) < 0)
		return rc;
	t->mtu = (uint16_t)itm_param_uint(p, "mtu");
	t->ro_window = (unsigned int)itm_param_uint(p, "reorder_window");
	t->ro_bytes = (uint32_t)itm_param_uint(p, "reorder_kb") * 1024;
	t->ro_wait_us = (uint32_t)itm_param_uint(p, "reorder_wait_ms") * 1000;
	t->ro_wait_max_us =
		(uint32_t)itm_param_uint(p, "reorder_wait_max_ms") * 1000;
	if (t->ro_wait_max_us < t->ro_wait_us)
		t->ro_wait_max_us = t->ro_wait_us;
	return load_split(m, t, p);
}

static int
classify(itm_where hook, struct itm_packet *pkt)
{
	struct etun *t = pkt->priv;

	(void)hook;
	if (pkt->iph == NULL)
		return ITM_CLASS_NONE;
	if (t->up == 0)
		return CLS_FAILOPEN;
	return (pkt->iph->tos & 0x10) ? CLS_SHORT : CLS_LONG;
}

static int
process(itm_where hook, int cls, struct itm_packet *pkt)
{
	struct etun *t = pkt->priv;

	(void)hook;
	if (cls == CLS_FAILOPEN) {
		t->c.failopen++;
		return ITM_ACCEPT;
	}
	if (pkt->flags & (ITM_PKT_TRUNCATED | ITM_PKT_MALFORMED) ||
	    pkt->len > ETUN_FRAME_MAX)
		return ITM_ACCEPT;
	if (pkt->len > t->mtu)
		return etun_pool_take_gso(t, pkt->data, (uint16_t)pkt->len,
					  pkt->iph->tos);
	if ((pkt->flags & ITM_PKT_CSUM_NOTREADY) && itm_csum_fix_l4(pkt) < 0)
		return ITM_ACCEPT;
	return etun_pool_take(t, pkt->data, (uint16_t)pkt->len, pkt->iph->tos);
}

static int
register_hooks(struct etun *t, int priority)
{
	static const itm_where where[2] = { ITM_IP_FORWARD, ITM_IP_OUT };
	static const char *const suffix[2] = { "fwd", "out" };
	int rc;

	t->class_names[0] = "-";
	t->class_names[CLS_SHORT] = "SHORT";
	t->class_names[CLS_LONG] = "LONG";
	t->class_names[CLS_FAILOPEN] = "FAILOPEN";
	for (int i = 0; i < 2; i++) {
		struct itm_info *h = &t->hook[i];

		snprintf(t->labels[i], sizeof(t->labels[i]), "etun_%s_%s",
			 t->name, suffix[i]);
		*h = (struct itm_info){
			.label = t->labels[i],
			.priority = priority,
			.class_func = classify,
			.process_func = process,
			.class_names = t->class_names,
			.n_class_names = CLS_N,
			.priv = t,
		};
		itm_interest_init(&h->interest);
		for (unsigned int k = 0; k < t->n_dst; k++)
			h->interest.daddr[k] = t->dst[k];
		h->interest.n_daddr = t->n_dst;
		etun_l4_interest(&t->l4, &h->interest);
		if ((rc = itm_register_hook(where[i], h)) < 0)
			return rc;
	}
	return 0;
}

/* The series the Grafana dashboard plots (deploy/grafana), labelled by
 * peer when the name stays within a counter name's 47 characters. */
static void
register_gauges(struct etun *t)
{
	static const char *const names[3] = { "tunnel_target_bps",
					      "tunnel_achieved_bps",
					      "tunnel_pool_conns" };
	const uint64_t *v[3] = { &t->c.target_bps, &t->c.achieved_bps,
				 &t->c.pool_conns };
	char buf[64];

	for (int i = 0; i < 3; i++) {
		int n = snprintf(buf, sizeof(buf), "%s{peer=%s}", names[i],
				 t->status.peer);

		itm_register_counter(n > 0 && n <= 47 ? buf : names[i], v[i]);
	}
}

static void
register_counters(struct etun *t)
{
	static const struct {
		const char *name;
		size_t off;
	} cs[] = {
#define C(f) { #f, offsetof(struct etun_counters, f) }
		C(conns),
		C(conns_wanted),
		C(target_kbps),
		C(goodput_kbps),
		C(state),
		C(entry_drops),
		C(queue_bytes),
		C(failopen),
		C(pkts_in),
		C(bytes_in),
		C(segmented),
		C(stalls),
		C(recoveries),
		C(frames_out),
		C(frames_in),
		C(pkts_out),
		C(bytes_out),
		C(frames_outside),
		C(frames_bad),
		C(inject_errors),
		C(conns_refused),
		C(connects),
		C(disconnects),
		C(retired),
		C(reorder_late),
		C(reorder_gaps),
		C(reorder_overflow),
		C(tls_refused),
		C(tls_write_waits),
		C(no_room),
		C(reorder_wait_ms),
		C(stuck),
		C(resent),
		C(reorder_dups),
		C(streams_open),
		C(streams_total),
		C(stream_bytes_read),
		C(stream_bytes_written),
		C(stream_bytes_acked),
		C(streams_refused),
		C(stream_resets),
		C(stream_mem_waits),
		C(rules_errors),
		C(cap_waits),
		C(cap_drops),
		C(rto_ms),
		C(rto_pct),
#undef C
	};

	for (size_t i = 0; i < sizeof(cs) / sizeof(cs[0]); i++)
		itm_register_counter(cs[i].name,
				     (const uint64_t *)((const char *)&t->c +
							cs[i].off));
	register_gauges(t);
}

/* The status GetTunnels reads (itm_register_tunnel). */
static void
status_update(struct etun *t)
{
	struct itm_tunnel_status *s = &t->status;

	s->side = t->side == ETUN_ENTRY ? ITM_TUNNEL_ENTRY : ITM_TUNNEL_EXIT;
	s->state = (uint32_t)t->state;
	s->state_text = etun_state_name(t->state);
	s->target_kbps = t->ctrl.target_bps / 1000;
	s->goodput_kbps = t->c.goodput_kbps;
	s->conns = t->up;
	s->conns_wanted = t->side == ETUN_ENTRY ? t->wanted : 0;
	s->min_conns = t->ctrl.min_conns;
	s->max_conns = t->ctrl.max_conns;
	s->entry_drops = t->c.entry_drops;
	s->queue_bytes = t->c.queue_bytes;
	t->c.target_bps = s->target_kbps * 1000;
	t->c.achieved_bps = s->goodput_kbps * 1000;
	t->c.pool_conns = s->conns;
}

static void
tick(unsigned long arg)
{
	struct etun *t = (struct etun *)arg;

	if (t->side == ETUN_ENTRY)
		etun_pool_tick(t);
	else
		etun_exit_tick(t);
	status_update(t);
}

/* A new table may move the peer: start the pool over towards it. */
static void
on_table(const struct itm_table *tab, void *arg)
{
	struct etun *t = arg;
	const struct itm_node *n;

	if (t->peer_name[0] == '\0' ||
	    (n = itm_table_node(tab, t->peer_name)) == NULL ||
	    n->underlay.family != AF_INET ||
	    n->underlay.v4.s_addr == t->peer.s_addr)
		return;
	itm_log(LOG_INFO, "etunnel %s: peer %s moved to %s", t->name,
		t->peer_name, n->underlay.text);
	t->peer = n->underlay.v4;
	if (t->side == ETUN_ENTRY) {
		etun_pool_stop(t);
		etun_pool_start(t);
	}
}

static void
etun_free(struct etun *t)
{
	etun_split_stop(t);
	if (t->side == ETUN_ENTRY) {
		etun_pool_stop(t);
		etun_sentlog_free(t->sent);
		free(t->scratch);
	} else {
		etun_exit_stop(t);
	}
	etun_entq_free(t->q);
	etun_tls_free(t->tls);
	free(t);
}

static int
etun_start(struct itm_module *m, struct etun *t, const struct itm_params *p)
{
	int rc;
	unsigned int tick_ms;

	snprintf(t->status.name, sizeof(t->status.name), "%s", t->name);
	snprintf(t->status.peer, sizeof(t->status.peer), "%s",
		 t->peer_name[0] ? t->peer_name : inet_ntoa(t->peer));
	register_counters(t);
	t->c.target_kbps = t->ctrl.target_bps / 1000;
	if (t->side == ETUN_EXIT) {
		tick_ms = t->ro_wait_us / 2000 ? t->ro_wait_us / 2000 : 1;
		rc = etun_exit_start(t);
	} else {
		tick_ms = ETUN_TICK_MS;
		t->q = etun_entq_new((unsigned int)itm_param_uint(p,
								  "queue_pkts"),
				     (uint32_t)itm_param_uint(p, "queue_kb") *
					     1024);
		rc = t->q ? etun_pool_start(t) : -ENOMEM;
		if (rc == 0)
			rc = register_hooks(t,
					    (int)itm_param_int(p, "priority"));
	}
	if (rc == 0 && t->split && (rc = etun_split_start(t)) < 0) {
		itm_module_error(m, "tcp=split: %s (see the log)",
				 strerror(-rc));
		return rc;
	}
	if (rc < 0) {
		itm_module_error(m, "%s: %s",
				 t->side == ETUN_EXIT ? "exit" : "entry",
				 strerror(-rc));
		return rc;
	}
	status_update(t);
	if ((rc = itm_register_timer(tick, (unsigned long)t, tick_ms)) < 0 ||
	    (rc = itm_register_tunnel(&t->status)) < 0)
		return rc;
	return itm_register_table_func(on_table, t);
}

static int
etun_load(struct itm_module *m, const struct itm_params *p)
{
	struct etun *t = calloc(1, sizeof(*t));
	char l4[160];
	int rc;

	if (t == NULL)
		return -ENOMEM;
	t->lfd = t->rawfd = -1;
	if ((rc = load_config(m, t, p)) < 0 || (rc = etun_start(m, t, p)) < 0) {
		etun_free(t); /* the host undoes what did register */
		return rc;
	}
	etun_l4_text(&t->l4, l4, sizeof(l4));
	itm_log(LOG_INFO, "etunnel %s: %s, peer %s port %u%s%s%s, tcp=%s, %s",
		t->name, t->side == ETUN_ENTRY ? "entry" : "exit",
		inet_ntoa(t->peer), t->port,
		t->tls ? ", mutual TLS with a certificate naming " : "",
		t->tls ? etun_tls_peer(t->tls) : "",
		t->tls && itm_param_str(p, "tls_crl")[0] ? ", CRL checked" : "",
		t->split ? "split" : "packet", l4);
	m->priv = t;
	return 0;
}

static void
etun_unload(struct itm_module *m)
{
	struct etun *t = m->priv;

	itm_unregister_timer(tick, (unsigned long)t);
	itm_unregister_tunnel(&t->status);
	if (t->side == ETUN_ENTRY)
		for (int i = 0; i < 2; i++)
			itm_unregister_hook(t->hook[i].hook, &t->hook[i]);
	etun_free(t);
	m->priv = NULL;
}

ITM_PLUGIN(.name = "etunnel", .version = "1.0",
	   .description = "elastic tunnel: a pool of TCP connections sized "
			  "to hold a target rate",
	   .params = etun_params, .load = etun_load, .unload = etun_unload, );
