/*
 * dp_queue.c - datapath=queue, the paper's way: the module itself
 * encapsulates on NFQUEUE at IP_OUT and IP_FORWARD (itm_packet_push, an
 * outer header towards the chosen next hop, the inner TOS copied) and
 * decapsulates at PRE_ROUTE (itm_packet_pull), with the same rules as the
 * eBPF programs: IP-in-IP only from members' underlay addresses and only
 * for this node or, relaying, another member; a packet that came in from
 * the underlay leaves towards its destination directly.
 *
 * A packet queued whole must fit the underlay's MTU once encapsulated.
 * This data path turns off GRO (and TSO, GSO) on the underlay device
 * (offload.c: put back as they were when it closes), so that what comes
 * in is not merged; TCP still builds GSO packets on its
 * own, which are cut into segments here (segment.c) and sent by a raw
 * socket.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <netinet/ip.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include "itmroute.h"
#include "tcpseg.h"

#define QUEUE_CLASS_ENCAP 1
#define QUEUE_CLASS_DECAP 1

struct dp_queue {
	struct itm_info out, fwd, pre;
	int registered;
	int raw; /* IPPROTO_RAW: segments of GSO packets leave by it */
	struct itmr_offload offload;
};

/* A segment to send: the outer header to put in front, the socket. */
struct queue_seg_out {
	struct itmr_ctx *x;
	struct iphdr outer;
};

static int
encap_class(itm_where where, struct itm_packet *pkt)
{
	struct itmr_ctx *x = pkt->priv;
	struct itmr_node *n;

	(void)where;
	if (pkt->iph == NULL)
		return 0;
	n = itmr_node_by_overlay(x, pkt->iph->daddr);
	return n && n->installed_hop ? QUEUE_CLASS_ENCAP : 0;
}

static void
outer_header(struct itmr_ctx *x, struct iphdr *o, uint8_t tos, uint16_t df,
	     uint32_t hop, uint32_t len)
{
	o->version = 4;
	o->ihl = 5;
	o->tos = tos;
	o->tot_len = htons((uint16_t)len);
	o->frag_off = df;
	o->ttl = 64;
	o->protocol = IPPROTO_IPIP;
	o->saddr = x->self_underlay;
	o->daddr = hop;
}

static int
send_segment(const uint8_t *seg, uint16_t len, void *arg)
{
	struct queue_seg_out *so = arg;
	struct dp_queue *q = so->x->dp_priv;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	uint8_t buf[65536];

	if (len + sizeof(so->outer) > sizeof(buf))
		return -EMSGSIZE;
	so->outer.tot_len = htons((uint16_t)(len + sizeof(so->outer)));
	memcpy(buf, &so->outer, sizeof(so->outer));
	memcpy(buf + sizeof(so->outer), seg, len);
	sa.sin_addr.s_addr = so->outer.daddr;
	if (sendto(q->raw, buf, len + sizeof(so->outer), 0,
		   (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	so->x->st.encap++;
	return 0;
}

/*
 * A GSO packet (TCP always builds them, whatever the device's offloads)
 * cannot grow a header in place: cut it into segments that fit the
 * tunnel, send each encapsulated by the raw socket, drop the original.
 */
static int
encap_gso(struct itmr_ctx *x, struct itm_packet *pkt, uint32_t hop)
{
	uint8_t scratch[65535] __attribute__((aligned(8)));
	struct queue_seg_out so = { .x = x };
	int rc;

	outer_header(x, &so.outer, pkt->iph->tos,
		     pkt->iph->frag_off & htons(IP_DF), hop, 0);
	rc = tcpseg_split(pkt->data, (uint16_t)pkt->len, (uint16_t)x->cfg.mtu,
			  scratch, send_segment, &so);
	if (rc < 0)
		x->st.encap_fail++;
	return ITM_DROP;
}

static int
encap(itm_where where, int cls, struct itm_packet *pkt)
{
	struct itmr_ctx *x = pkt->priv;
	struct itmr_node *n = itmr_node_by_overlay(x, pkt->iph->daddr);
	int relayed = where == ITM_IP_FORWARD &&
		      pkt->indev == (uint32_t)x->ul_ifindex;
	uint8_t tos = pkt->iph->tos;
	uint16_t df = pkt->iph->frag_off & htons(IP_DF);
	struct iphdr *o;
	uint32_t hop;

	(void)cls;
	if (n == NULL) {
		x->st.encap_fail++;
		return ITM_DROP;
	}
	hop = relayed ? n->underlay : n->installed_hop;
	if (pkt->len > x->cfg.mtu)
		return encap_gso(x, pkt, hop);
	/* The inner L4 checksum may be left to offload; the host fixes the
	 * checksums of what it parses, the outer header after the push. */
	if (pkt->l4h && !(pkt->flags & ITM_PKT_FRAGMENT))
		(void)itm_csum_fix_l4(pkt);
	if ((o = (void *)itm_packet_push(pkt, 20)) == NULL) {
		x->st.encap_fail++;
		return ITM_DROP;
	}
	outer_header(x, o, tos, df, hop, pkt->len);
	itm_packet_parse(pkt);
	x->st.encap++;
	x->st.encap_relayed += relayed;
	return ITM_ALTERED;
}

static int
decap_class(itm_where where, struct itm_packet *pkt)
{
	(void)where;
	return pkt->iph && pkt->iph->protocol == IPPROTO_IPIP
		       ? QUEUE_CLASS_DECAP
		       : 0;
}

static int
decap(itm_where where, int cls, struct itm_packet *pkt)
{
	struct itmr_ctx *x = pkt->priv;
	const struct iphdr *in;
	uint32_t hl = pkt->iph->ihl * 4u;

	(void)where;
	(void)cls;
	if (itmr_node_by_underlay(x, pkt->iph->saddr) == NULL) {
		x->st.drop_peer++;
		return ITM_DROP;
	}
	if (hl != 20 || pkt->len < hl + 20) {
		x->st.drop_bad++;
		return ITM_DROP;
	}
	in = (const void *)(pkt->data + hl);
	if (in->version != 4 ||
	    !(in->daddr == x->self_overlay ||
	      (x->cfg.relay && itmr_node_by_overlay(x, in->daddr)))) {
		x->st.drop_dest++;
		return ITM_DROP;
	}
	if (itm_packet_pull(pkt, hl) < 0) {
		x->st.drop_bad++;
		return ITM_DROP;
	}
	x->st.decap++;
	return ITM_ALTERED;
}

static void
info_init(struct itm_info *i, const char *label, struct itmr_ctx *x)
{
	memset(i, 0, sizeof(*i));
	i->label = label;
	i->priv = x;
	i->priority = 50;
	i->copy_bytes = 0;
	itm_interest_init(&i->interest);
}

/* Encapsulation: what leaves by the underlay device towards members'
 * overlay addresses (by address while they fit the interest). */
static void
encap_interest(struct itmr_ctx *x, struct itm_interest *in)
{
	char pfx[32];
	struct in_addr a;

	itm_interest_add_outdev(in, x->ul_dev);
	if (x->n_nodes > ITM_INTEREST_MAX)
		return;
	for (unsigned int i = 0; i < x->n_nodes; i++) {
		a.s_addr = x->nodes[i].overlay;
		snprintf(pfx, sizeof(pfx), "%s/32", inet_ntoa(a));
		itm_interest_add_daddr(in, pfx);
	}
}

static void
queue_unregister(struct dp_queue *q)
{
	if (!q->registered)
		return;
	itm_unregister_hook(ITM_IP_OUT, &q->out);
	itm_unregister_hook(ITM_IP_FORWARD, &q->fwd);
	itm_unregister_hook(ITM_PRE_ROUTE, &q->pre);
	q->registered = 0;
}

static int
queue_set_members(struct itmr_ctx *x)
{
	struct dp_queue *q = x->dp_priv;
	int rc;

	queue_unregister(q);
	if (x->n_nodes == 0)
		return 0;
	info_init(&q->out, "itmroute_out", x);
	encap_interest(x, &q->out.interest);
	q->out.class_func = encap_class;
	q->out.process_func = encap;
	q->fwd = q->out;
	q->fwd.label = "itmroute_fwd";
	info_init(&q->pre, "itmroute_pre", x);
	itm_interest_add_protocol(&q->pre.interest, IPPROTO_IPIP);
	itm_interest_add_indev(&q->pre.interest, x->ul_dev);
	q->pre.class_func = decap_class;
	q->pre.process_func = decap;
	if ((rc = itm_register_hook(ITM_IP_OUT, &q->out)) < 0)
		return rc;
	if ((rc = itm_register_hook(ITM_IP_FORWARD, &q->fwd)) < 0 ||
	    (rc = itm_register_hook(ITM_PRE_ROUTE, &q->pre)) < 0) {
		itm_unregister_hook(ITM_IP_OUT, &q->out);
		itm_unregister_hook(ITM_IP_FORWARD, &q->fwd);
		return rc;
	}
	q->registered = 1;
	return 0;
}

static int
queue_open(struct itmr_ctx *x)
{
	struct dp_queue *q = calloc(1, sizeof(*q));
	int rc;

	if (q == NULL)
		return -ENOMEM;
	x->dp_priv = q;
	q->raw = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (q->raw < 0)
		return -errno;
	if ((rc = itmr_offload_off(&q->offload, x->ul_dev)) < 0)
		itm_log(LOG_WARNING, "offloads on %s stay on: %s", x->ul_dev,
			strerror(-rc));
	itm_log(LOG_INFO, "queue data path on %s", x->ul_dev);
	return 0;
}

static int
queue_set_route(struct itmr_ctx *x, struct itmr_node *n, uint32_t hop)
{
	(void)x;
	(void)n;
	(void)hop; /* read from n->installed_hop by encap() */
	return 0;
}

static void
queue_read_counters(struct itmr_ctx *x)
{
	(void)x; /* counted by the callbacks themselves */
}

static void
queue_close(struct itmr_ctx *x)
{
	struct dp_queue *q = x->dp_priv;

	if (q == NULL)
		return;
	queue_unregister(q);
	itmr_offload_restore(&q->offload);
	if (q->raw >= 0)
		close(q->raw);
	free(q);
	x->dp_priv = NULL;
}

const struct itmr_dp_ops itmr_dp_queue = {
	.name = "queue",
	.open = queue_open,
	.set_members = queue_set_members,
	.set_route = queue_set_route,
	.read_counters = queue_read_counters,
	.close = queue_close,
};
