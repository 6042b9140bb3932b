/*
 * itmq.c - one NFQUEUE queue: bind, receive bursts, batch verdicts.
 *
 * The contract is in itmq.h.  How it is met:
 *
 *  - Binding sends one config message (bind, copy range, queue length,
 *    FAIL_OPEN | GSO [| CONNTRACK]) with NLM_F_ACK and reads the answer, so
 *    a queue held by another program fails with -EPERM.  A kernel without
 *    conntrack glue refuses NFQA_CFG_F_CONNTRACK; the queue is then bound
 *    without it and packets never carry ITM_PKT_HAS_CT.
 *  - Receiving uses recvmmsg() into slots sized for a whole (GSO) packet.
 *    Each slot starts with ITMQ_HEADROOM spare bytes and the netlink headers
 *    in front of the payload are scratch once parsed, so itm__buf/itm__cap
 *    span the slot and a packet can grow at the front (an outer header).
 *  - Verdicts go through the planner in itmq_batch.c, which merges runs of
 *    equal verdicts into NFQNL_MSG_VERDICT_BATCH only where that is safe.
 *    Messages accumulate in one send buffer and leave with one sendmsg per
 *    burst (or when the buffer is full).  The bytes of an altered packet
 *    are not copied into it: the sendmsg gathers them from the receive
 *    slot (an iovec each), so everything queued is sent before the slots
 *    are read into again.
 *  - Altered packets get their IPv4 header and full L4 checksum recomputed
 *    before their bytes go back: the kernel marks a mangled skb
 *    CHECKSUM_NONE and will not finish a checksum left to the NIC (GSO,
 *    NFQA_SKB_CSUMNOTREADY).
 *  - Closing accepts every packet still held or waiting in the socket
 *    before unbinding, because the kernel drops what an unbound queue held.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nf_conntrack_common.h>

#include "itmq.h"
#include "itmq_batch.h"
#include "packet_int.h"

#define ITMQ_HEADROOM	    128	       /* spare bytes before each datagram */
#define ITMQ_RX_OVERHEAD    4096       /* netlink headers and attributes */
#define ITMQ_RX_BYTES	    (2u << 20) /* receive slots, all together */
#define ITMQ_RX_SLOTS_MAX   64
#define ITMQ_COPY_MAX	    0xffff
#define ITMQ_TX_BYTES	    (2 * (ITMQ_COPY_MAX + 256))
#define ITMQ_VD_MSG_MAX	    128 /* a verdict message without bytes */
#define ITMQ_TX_IOV	    64	/* pieces of one sendmsg */
#define ITMQ_ACK_TIMEOUT_MS 2000
#define ITMQ_MSG_PACKET	    ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET)
#define ITMQ_CFG_FLAGS_ALL \
	(NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO | NFQA_CFG_F_CONNTRACK)

struct itmq {
	struct mnl_socket *nl;
	int fd;
	uint32_t portid;
	unsigned int seq;
	uint16_t num;
	uint32_t copy_range, maxlen, mark_mask;
	int conntrack; /* asked for and granted */

	uint8_t *rx; /* nslots slots of slot_size */
	size_t slot_size;
	unsigned int nslots;
	struct mmsghdr *msgs;
	struct iovec *iov;

	struct itm_packet pkt; /* the packet being handed out */
	int in_cb;	       /* pkt's bytes are valid */
	uint32_t last_id;      /* newest id received */
	int have_id;

	struct itmq_batch batch;
	uint8_t *tx;
	size_t tx_len;	 /* bytes in tx */
	size_t tx_sent;	 /* of them, already in tx_iov */
	size_t tx_bytes; /* in tx_iov and tx: what the sendmsg carries */
	struct iovec tx_iov[ITMQ_TX_IOV];
	unsigned int tx_niov;

	struct itmq_stats st;
	time_t log_sec; /* rate limit: one line a second */
	unsigned int log_suppressed;
};

static void q_warn_rl(struct itmq *q, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Packet-path warnings: at most one line a second per queue. */
static void
q_warn_rl(struct itmq *q, const char *fmt, ...)
{
	struct timespec ts;
	va_list ap;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (ts.tv_sec == q->log_sec) {
		q->log_suppressed++;
		return;
	}
	q->log_sec = ts.tv_sec;
	fprintf(stderr, "itmq %u: ", q->num);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (q->log_suppressed)
		fprintf(stderr, " (%u similar suppressed)", q->log_suppressed);
	fputc('\n', stderr);
	q->log_suppressed = 0;
}

/* ------------------------------------------------------------------ */
/* Sending verdicts                                                    */
/* ------------------------------------------------------------------ */

/* The bytes of tx not yet in tx_iov become its next piece. */
static void
q_tx_cut(struct itmq *q)
{
	if (q->tx_len == q->tx_sent)
		return;
	q->tx_iov[q->tx_niov++] =
		(struct iovec){ q->tx + q->tx_sent, q->tx_len - q->tx_sent };
	q->tx_sent = q->tx_len;
}

static int
q_tx_send(struct itmq *q)
{
	struct sockaddr_nl nl = { .nl_family = AF_NETLINK };
	struct msghdr mh = { .msg_name = &nl, .msg_namelen = sizeof(nl) };
	ssize_t n;

	q_tx_cut(q);
	if (q->tx_niov == 0)
		return 0;
	mh.msg_iov = q->tx_iov;
	mh.msg_iovlen = q->tx_niov;
	n = sendmsg(q->fd, &mh, 0);
	q->tx_len = q->tx_sent = q->tx_bytes = 0;
	q->tx_niov = 0;
	if (n < 0) {
		int err = -errno;

		q_warn_rl(q, "sending verdicts: %s", strerror(errno));
		return err;
	}
	return 0;
}

/* Start a message of at most @need bytes, @need_iov pieces, in tx. */
static struct nlmsghdr *
q_tx_msg(struct itmq *q, int type, size_t need, unsigned int need_iov)
{
	if (q->tx_bytes + need > ITMQ_TX_BYTES ||
	    q->tx_len + ITMQ_VD_MSG_MAX > ITMQ_TX_BYTES ||
	    q->tx_niov + need_iov + 1 > ITMQ_TX_IOV)
		q_tx_send(q);
	return nfq_nlmsg_put((char *)q->tx + q->tx_len, type, q->num);
}

static void
q_tx_commit(struct itmq *q, struct nlmsghdr *nlh)
{
	q->tx_len += MNL_ALIGN(nlh->nlmsg_len);
	q->tx_bytes += MNL_ALIGN(nlh->nlmsg_len);
	q->st.verdict_msgs++;
}

/* Append an NFQA_PAYLOAD attribute whose @len bytes at @data the
 * sendmsg gathers from where they are (they must stay until it). */
static void
q_tx_put_payload(struct itmq *q, struct nlmsghdr *nlh, const void *data,
		 uint32_t len)
{
	static const uint8_t pad[MNL_ALIGNTO];
	struct nlattr *a = mnl_nlmsg_get_payload_tail(nlh);
	uint32_t padded = MNL_ALIGN(len);

	a->nla_type = NFQA_PAYLOAD;
	a->nla_len = (uint16_t)(MNL_ATTR_HDRLEN + len);
	nlh->nlmsg_len += MNL_ATTR_HDRLEN;
	q->tx_len += nlh->nlmsg_len;
	q->tx_bytes += nlh->nlmsg_len + padded;
	nlh->nlmsg_len += padded;
	q_tx_cut(q);
	q->tx_iov[q->tx_niov++] = (struct iovec){ (void *)data, len };
	if (padded > len)
		q->tx_iov[q->tx_niov++] =
			(struct iovec){ (void *)pad, padded - len };
	q->st.verdict_msgs++;
}

/* Verdict message for @id (with @batch: for every queued id <= @id),
 * optionally carrying @len new bytes at @data. */
static int
q_put_verdict(struct itmq *q, int batch, uint32_t id, const struct itmq_vd *vd,
	      const void *data, uint32_t len)
{
	struct nlmsghdr *nlh;

	nlh = q_tx_msg(q, batch ? NFQNL_MSG_VERDICT_BATCH : NFQNL_MSG_VERDICT,
		       ITMQ_VD_MSG_MAX + MNL_ALIGN(len), data ? 3 : 0);
	nfq_nlmsg_verdict_put(nlh, id, vd->verdict);
	if (vd->set_mark)
		nfq_nlmsg_verdict_put_mark(nlh, vd->mark);
	if (data)
		q_tx_put_payload(q, nlh, data, len);
	else
		q_tx_commit(q, nlh);
	return 0;
}

static int
q_emit_cb(void *arg, int batch, uint32_t id, const struct itmq_vd *vd)
{
	return q_put_verdict(arg, batch, id, vd, NULL, 0);
}

/* Accept a packet that is not handed to the callback (it did not parse,
 * or arrived while binding): fail open rather than leave it queued. */
static void
q_pass(struct itmq *q, uint32_t id)
{
	static const struct itmq_vd accept = { .verdict = NF_ACCEPT };

	q->last_id = id;
	q->have_id = 1;
	if (itmq_batch_received(&q->batch, id) == 0)
		itmq_batch_verdict(&q->batch, id, &accept, 0);
	else
		q_put_verdict(q, 0, id, &accept, NULL, 0);
}

int
itmq_flush(struct itmq *q)
{
	int err = itmq_batch_close(&q->batch);

	if (err < 0)
		return err;
	return q_tx_send(q);
}

static int
q_verdict_ok(int verdict)
{
	return verdict == ITMQ_DROP || verdict == ITMQ_ACCEPT ||
	       verdict == ITMQ_REPEAT;
}

/* The module changed the bytes: make every checksum whole again. */
static void
q_fix_csum(struct itm_packet *pkt)
{
	itm_packet_parse(pkt);
	if (pkt->family == AF_INET && pkt->iph)
		itm_csum_fix_ip(pkt);
	if (pkt->l4h && !(pkt->flags & ITM_PKT_FRAGMENT))
		itm_csum_fix_l4(pkt);
}

int
itmq_verdict(struct itmq *q, struct itm_packet *pkt, int verdict, int set_mark,
	     uint32_t mark)
{
	struct itmq_vd vd = { verdict, set_mark != 0, mark };
	int err;

	if (!q_verdict_ok(verdict))
		return -EINVAL;
	if (!(pkt->flags & ITM_PKT_ALTERED))
		return itmq_batch_verdict(&q->batch, pkt->id, &vd, 0);
	if (pkt->flags & ITM_PKT_TRUNCATED)
		return -EPERM;
	/* Bytes only exist while the packet is being handed out. */
	if (!q->in_cb || pkt->id != q->pkt.id)
		return -EINVAL;
	q_fix_csum(pkt);
	err = itmq_batch_verdict(&q->batch, pkt->id, &vd, 1);
	if (err < 0)
		return err;
	return q_put_verdict(q, 0, pkt->id, &vd, pkt->data, pkt->len);
}

/* ------------------------------------------------------------------ */
/* Receiving packets                                                   */
/* ------------------------------------------------------------------ */

/* The id of a packet message that did not parse, when its first
 * attribute (the kernel always puts NFQA_PACKET_HDR first) is readable
 * within the @len bytes received. */
static int
q_rescue_id(const uint8_t *msg, size_t len, uint32_t *id)
{
	size_t off = MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct nfgenmsg));
	const struct nlmsghdr *nlh = (const void *)msg;
	struct nfqnl_msg_packet_hdr ph;
	struct nlattr a;

	if (len < off + MNL_ATTR_HDRLEN + sizeof(ph) ||
	    nlh->nlmsg_type != ITMQ_MSG_PACKET)
		return -EBADMSG;
	memcpy(&a, msg + off, sizeof(a));
	if ((a.nla_type & NLA_TYPE_MASK) != NFQA_PACKET_HDR ||
	    a.nla_len < MNL_ATTR_HDRLEN + sizeof(ph))
		return -EBADMSG;
	memcpy(&ph, msg + off + MNL_ATTR_HDRLEN, sizeof(ph));
	*id = ntohl(ph.packet_id);
	return 0;
}

static int
q_ct_attr_cb(const struct nlattr *attr, void *data)
{
	uint32_t *ct_id = data;

	if (mnl_attr_get_type(attr) == CTA_ID &&
	    mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
		*ct_id = ntohl(mnl_attr_get_u32(attr));
	return MNL_CB_OK;
}

static void
q_fill_ct(struct itm_packet *pkt, struct nlattr **tb)
{
	uint32_t ctinfo;

	if (!tb[NFQA_CT] || !tb[NFQA_CT_INFO])
		return;
	if (mnl_attr_parse_nested(tb[NFQA_CT], q_ct_attr_cb, &pkt->ct_id) < 0)
		return;
	ctinfo = ntohl(mnl_attr_get_u32(tb[NFQA_CT_INFO]));
	pkt->ct_dir = ctinfo >= IP_CT_IS_REPLY ? ITM_CT_REPLY : ITM_CT_ORIGINAL;
	pkt->flags |= ITM_PKT_HAS_CT;
}

static uint32_t
q_attr_u32(struct nlattr **tb, int type)
{
	return tb[type] ? ntohl(mnl_attr_get_u32(tb[type])) : 0;
}

/* Metadata of a parsed packet message into q->pkt. */
static void
q_fill_meta(struct itmq *q, struct nlattr **tb)
{
	const struct nfqnl_msg_packet_hdr *ph;
	struct itm_packet *pkt = &q->pkt;
	uint32_t skbinfo;

	ph = mnl_attr_get_payload(tb[NFQA_PACKET_HDR]);
	memset(pkt, 0, sizeof(*pkt));
	pkt->id = ntohl(ph->packet_id);
	pkt->hw_protocol = ntohs(ph->hw_protocol);
	/* NF_INET_PRE_ROUTING..NF_INET_POST_ROUTING are ITM_PRE_ROUTE.. */
	pkt->hook = ph->hook < ITM_HOOK_MAX ? (itm_where)ph->hook : 0;
	pkt->mark = q_attr_u32(tb, NFQA_MARK) & ~q->mark_mask;
	pkt->indev = q_attr_u32(tb, NFQA_IFINDEX_INDEV);
	pkt->outdev = q_attr_u32(tb, NFQA_IFINDEX_OUTDEV);
	skbinfo = q_attr_u32(tb, NFQA_SKB_INFO);
	if (skbinfo & NFQA_SKB_CSUMNOTREADY)
		pkt->flags |= ITM_PKT_CSUM_NOTREADY;
	if (skbinfo & NFQA_SKB_GSO)
		pkt->flags |= ITM_PKT_GSO;
	if (q->conntrack)
		q_fill_ct(pkt, tb);
}

/* Attributes whose value we read as a u32. */
static int
q_attr_is_u32(unsigned int type)
{
	switch (type) {
	case NFQA_MARK:
	case NFQA_IFINDEX_INDEV:
	case NFQA_IFINDEX_OUTDEV:
	case NFQA_SKB_INFO:
	case NFQA_CAP_LEN:
	case NFQA_CT_INFO: return 1;
	default: return 0;
	}
}

/* The attributes of a packet message into @tb in one pass over them (in
 * place of nfq_nlmsg_parse: a callback and a validation table per
 * attribute).  -1 when an attribute overruns the message or a u32 one is
 * short; unknown types are skipped, the last of a repeated type wins. */
static int
q_parse_attrs(const struct nlmsghdr *nlh, struct nlattr **tb)
{
	size_t off = MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct nfgenmsg));
	const uint8_t *p = (const uint8_t *)nlh + off,
		      *end = (const uint8_t *)nlh + nlh->nlmsg_len;
	struct nlattr *a;
	unsigned int type;

	if (nlh->nlmsg_len < off)
		return -1;
	while ((size_t)(end - p) >= MNL_ATTR_HDRLEN) {
		a = (struct nlattr *)p;
		type = a->nla_type & NLA_TYPE_MASK;
		if (a->nla_len < MNL_ATTR_HDRLEN ||
		    a->nla_len > (size_t)(end - p))
			return -1;
		if (q_attr_is_u32(type) && a->nla_len < MNL_ATTR_HDRLEN + 4)
			return -1;
		if (type <= NFQA_MAX)
			tb[type] = a;
		if ((size_t)(end - p) <= (size_t)MNL_ALIGN(a->nla_len))
			break;
		p += MNL_ALIGN(a->nla_len);
	}
	return 0;
}

/* Hand one packet message to @cb.  Returns 1 when it did, 0 when the
 * message was skipped.  @buf/@cap: the bytes the packet may use. */
static int
q_rx_packet(struct itmq *q, const struct nlmsghdr *nlh, uint8_t *buf,
	    uint32_t cap, itmq_packet_cb cb, void *arg)
{
	struct nlattr *tb[NFQA_MAX + 1] = { NULL };
	struct itm_packet *pkt = &q->pkt;
	uint8_t *data = buf + cap;
	uint32_t len = 0, id;

	if (q_parse_attrs(nlh, tb) < 0 || !tb[NFQA_PACKET_HDR] ||
	    mnl_attr_get_payload_len(tb[NFQA_PACKET_HDR]) <
		    sizeof(struct nfqnl_msg_packet_hdr))
		goto bad;
	q_fill_meta(q, tb);
	if (tb[NFQA_PAYLOAD]) {
		data = mnl_attr_get_payload(tb[NFQA_PAYLOAD]);
		len = mnl_attr_get_payload_len(tb[NFQA_PAYLOAD]);
	}
	pkt->wire_len = tb[NFQA_CAP_LEN] ? q_attr_u32(tb, NFQA_CAP_LEN) : len;
	if (len < pkt->wire_len)
		pkt->flags |= ITM_PKT_TRUNCATED;
	itm__packet_wrap(pkt, buf, cap, data, len);

	q->last_id = pkt->id;
	q->have_id = 1;
	if (itmq_batch_received(&q->batch, pkt->id) < 0) {
		q_warn_rl(q, "more undecided packets than the queue length");
		q_put_verdict(q, 0, pkt->id,
			      &(struct itmq_vd){ .verdict = NF_ACCEPT }, NULL,
			      0);
		return 0;
	}
	q->st.received++;
	q->st.bytes += pkt->wire_len;
	q->in_cb = 1;
	cb(q, pkt, arg);
	q->in_cb = 0;
	return 1;
bad:
	q->st.malformed++;
	q_warn_rl(q, "skipping a packet message that does not parse");
	if (q_rescue_id((const uint8_t *)nlh, nlh->nlmsg_len, &id) == 0)
		q_pass(q, id);
	return 0;
}

static void
q_rx_error(struct itmq *q, const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*e)) {
		q->st.malformed++;
		return;
	}
	if (e->error != 0)
		q_warn_rl(q, "kernel refused a verdict: %s",
			  strerror(-e->error));
}

/* One datagram of @len bytes in @slot.  Returns packets handed to @cb. */
static int
q_rx_datagram(struct itmq *q, uint8_t *slot, int len, itmq_packet_cb cb,
	      void *arg)
{
	struct nlmsghdr *nlh = (void *)(slot + ITMQ_HEADROOM), *next;
	uint8_t *end;
	uint32_t id;
	int handled = 0;

	while (mnl_nlmsg_ok(nlh, len)) {
		/* The callback may write over this header: read ahead. */
		next = mnl_nlmsg_next(nlh, &len);
		end = mnl_nlmsg_ok(next, len) ? (uint8_t *)next
					      : slot + q->slot_size;
		if (nlh->nlmsg_type == ITMQ_MSG_PACKET)
			handled +=
				q_rx_packet(q, nlh, slot, end - slot, cb, arg);
		else if (nlh->nlmsg_type == NLMSG_ERROR)
			q_rx_error(q, nlh);
		else if (nlh->nlmsg_type != NLMSG_NOOP &&
			 nlh->nlmsg_type != NLMSG_DONE)
			q->st.malformed++;
		nlh = next;
		/* The next packet of this datagram may grow over this one. */
		if (q->tx_niov > 0 && mnl_nlmsg_ok(nlh, len))
			q_tx_send(q);
	}
	if (len > 0) { /* truncated or trailing garbage */
		q->st.malformed++;
		q_warn_rl(q, "skipping %d bytes of a truncated datagram", len);
		if (q_rescue_id((uint8_t *)nlh, len, &id) == 0)
			q_pass(q, id);
	}
	return handled;
}

static void
q_rx_prepare(struct itmq *q, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		q->iov[i].iov_base = q->rx + i * q->slot_size + ITMQ_HEADROOM;
		q->iov[i].iov_len = q->slot_size - ITMQ_HEADROOM;
		memset(&q->msgs[i].msg_hdr, 0, sizeof(q->msgs[i].msg_hdr));
		q->msgs[i].msg_hdr.msg_iov = &q->iov[i];
		q->msgs[i].msg_hdr.msg_iovlen = 1;
	}
}

/* Receive up to @want datagrams.  Returns how many, 0 if none waited. */
static int
q_rx_recv(struct itmq *q, unsigned int want)
{
	int n;

	if (want > q->nslots)
		want = q->nslots;
	q_rx_prepare(q, want);
	do
		n = recvmmsg(q->fd, q->msgs, want, MSG_DONTWAIT, NULL);
	while (n < 0 && errno == EINTR);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return 0;
	if (errno == ENOBUFS) { /* only without NETLINK_NO_ENOBUFS */
		q_warn_rl(q, "socket buffer overrun: packets lost");
		return 0;
	}
	return -errno;
}

int
itmq_read_burst(struct itmq *q, unsigned int max, itmq_packet_cb cb, void *arg)
{
	unsigned int handled = 0, want;
	int n, i, err = 0;

	while (handled < max) {
		want = max - handled;
		if (q->tx_niov > 0) /* bytes of the slots about to be reused */
			q_tx_send(q);
		n = q_rx_recv(q, want);
		if (n <= 0) {
			err = n;
			break;
		}
		for (i = 0; i < n; i++) {
			uint8_t *slot = q->rx + i * q->slot_size;
			int len = q->msgs[i].msg_len;
			handled += q_rx_datagram(q, slot, len, cb, arg);
		}
		if ((unsigned int)n < want && (unsigned int)n < q->nslots)
			break; /* the socket is drained */
	}
	n = itmq_flush(q);
	if (err < 0)
		return err;
	return handled ? (int)handled : n < 0 ? n : 0;
}

/* ------------------------------------------------------------------ */
/* Binding                                                             */
/* ------------------------------------------------------------------ */

static void
q_ack_noop_cb(struct itmq *q, struct itm_packet *pkt, void *arg)
{
	static const struct itmq_vd accept = { .verdict = NF_ACCEPT };

	itmq_batch_verdict(&q->batch, pkt->id, &accept, 0);
}

/* Wait for the answer to config message @seq.  Packets that arrive first
 * (the queue is live as soon as the kernel bound it) are accepted. */
static int
q_wait_ack(struct itmq *q, unsigned int seq)
{
	struct pollfd pfd = { .fd = q->fd, .events = POLLIN };
	const struct nlmsghdr *nlh;
	uint8_t *buf = q->rx + ITMQ_HEADROOM;
	int len;

	for (;;) {
		if (poll(&pfd, 1, ITMQ_ACK_TIMEOUT_MS) == 0)
			return -ETIMEDOUT;
		len = recv(q->fd, buf, q->slot_size - ITMQ_HEADROOM, 0);
		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0)
			return -errno;
		for (nlh = (void *)buf; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

			if (nlh->nlmsg_type == NLMSG_ERROR &&
			    nlh->nlmsg_seq == seq)
				return e->error;
			if (nlh->nlmsg_type == ITMQ_MSG_PACKET)
				q_rx_packet(q, nlh, q->rx, q->slot_size,
					    q_ack_noop_cb, NULL);
		}
	}
}

static int
q_config(struct itmq *q, uint32_t flags)
{
	char buf[512];
	struct nlmsghdr *nlh;
	int err;

	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, q->num);
	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = ++q->seq;
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, q->copy_range);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, q->maxlen);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(ITMQ_CFG_FLAGS_ALL));
	if (mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	err = q_wait_ack(q, nlh->nlmsg_seq);
	itmq_flush(q);
	return err;
}

/* Bind with FAIL_OPEN and GSO; conntrack info when asked and the kernel
 * can give it (it refuses the flag without NETFILTER_NETLINK_GLUE_CT). */
static int
q_bind(struct itmq *q, int want_ct)
{
	uint32_t flags = NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO;
	int err = -EOPNOTSUPP;

	if (want_ct) {
		err = q_config(q, flags | NFQA_CFG_F_CONNTRACK);
		if (err == -EAGAIN) /* ctnetlink was just loaded */
			err = q_config(q, flags | NFQA_CFG_F_CONNTRACK);
		q->conntrack = err == 0;
		if (err == -EOPNOTSUPP)
			q_warn_rl(
				q,
				"no conntrack info from this kernel "
				"(NETFILTER_NETLINK_GLUE_CT): ct_* stay unset");
	}
	if (err == -EOPNOTSUPP)
		err = q_config(q, flags);
	return err;
}

static int
q_setsockopts(struct itmq *q, uint32_t rcvbuf)
{
	int one = 1, sndbuf = 4 * ITMQ_TX_BYTES, size = (int)rcvbuf;

	if (setsockopt(q->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) <
		    0 &&
	    setsockopt(q->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) < 0)
		return -errno;
	if (setsockopt(q->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf,
		       sizeof(sndbuf)) < 0)
		setsockopt(q->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf,
			   sizeof(sndbuf));
	/* Losses show up in /proc instead of as errors from recv. */
	if (mnl_socket_setsockopt(q->nl, NETLINK_NO_ENOBUFS, &one,
				  sizeof(one)) < 0)
		return -errno;
	/* Errors about a verdict need not echo its 64 KiB back. */
	mnl_socket_setsockopt(q->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	return 0;
}

static int
q_socket_open(struct itmq *q, uint32_t rcvbuf)
{
	q->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!q->nl)
		return -errno;
	if (mnl_socket_bind(q->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	q->fd = mnl_socket_get_fd(q->nl);
	q->portid = mnl_socket_get_portid(q->nl);
	return q_setsockopts(q, rcvbuf);
}

static int
q_alloc(struct itmq *q)
{
	size_t per = ITMQ_HEADROOM + q->copy_range + ITMQ_RX_OVERHEAD;

	q->slot_size = (per + 63) & ~(size_t)63;
	q->nslots = ITMQ_RX_BYTES / q->slot_size;
	if (q->nslots < 2)
		q->nslots = 2;
	if (q->nslots > ITMQ_RX_SLOTS_MAX)
		q->nslots = ITMQ_RX_SLOTS_MAX;
	q->rx = malloc(q->nslots * q->slot_size);
	q->msgs = calloc(q->nslots, sizeof(*q->msgs));
	q->iov = calloc(q->nslots, sizeof(*q->iov));
	q->tx = malloc(ITMQ_TX_BYTES);
	if (!q->rx || !q->msgs || !q->iov || !q->tx)
		return -ENOMEM;
	return itmq_batch_init(&q->batch, q->maxlen, q_emit_cb, q);
}

static void
q_free(struct itmq *q)
{
	if (q->nl)
		mnl_socket_close(q->nl);
	itmq_batch_free(&q->batch);
	free(q->rx);
	free(q->msgs);
	free(q->iov);
	free(q->tx);
	free(q);
}

int
itmq_open(struct itmq **out, const struct itmq_config *cfg)
{
	struct itmq *q;
	int err;

	*out = NULL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->fd = -1;
	q->num = cfg->num;
	q->mark_mask = cfg->mark_mask;
	q->copy_range = cfg->copy_bytes && cfg->copy_bytes < ITMQ_COPY_MAX
				? cfg->copy_bytes
				: ITMQ_COPY_MAX;
	q->maxlen = cfg->maxlen ? cfg->maxlen : 4096;
	err = q_alloc(q);
	if (err == 0)
		err = q_socket_open(q, cfg->rcvbuf ? cfg->rcvbuf : 8u << 20);
	if (err == 0)
		err = q_bind(q, cfg->conntrack);
	if (err < 0) {
		q_free(q);
		return err;
	}
	*out = q;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Closing and the rest                                                */
/* ------------------------------------------------------------------ */

/* Accept everything this queue still holds: packets whose verdict was
 * deferred, and packets waiting in the socket. */
static void
q_release_all(struct itmq *q)
{
	static const struct itmq_vd accept = { .verdict = NF_ACCEPT };
	unsigned int rounds = q->maxlen / q->nslots + 1;

	itmq_batch_close(&q->batch);
	while (rounds-- > 0 &&
	       itmq_read_burst(q, q->nslots, q_ack_noop_cb, NULL) > 0)
		;
	if (q->have_id && itmq_batch_pending(&q->batch) > 0)
		q_put_verdict(q, 1, q->last_id, &accept, NULL, 0);
	q_tx_send(q);
}

void
itmq_close(struct itmq *q)
{
	char buf[256];
	struct nlmsghdr *nlh;

	if (!q)
		return;
	q_release_all(q);
	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, q->num);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_UNBIND);
	mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len);
	q_free(q);
}

int
itmq_fd(const struct itmq *q)
{
	return q->fd;
}

uint16_t
itmq_num(const struct itmq *q)
{
	return q->num;
}

/* Kernel counters of this queue from /proc/net/netfilter/nfnetlink_queue:
 * queue portid total copy_mode copy_range queue_dropped user_dropped
 * id_sequence 1. */
static int
q_read_proc(const struct itmq *q, struct itmq_stats *st)
{
	unsigned int num, portid, total, mode, range, qdrop, udrop, seq, one;
	char line[256];
	FILE *f;
	int err = -ENOENT;

	f = fopen("/proc/net/netfilter/nfnetlink_queue", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%u %u %u %u %u %u %u %u %u", &num, &portid,
			   &total, &mode, &range, &qdrop, &udrop, &seq,
			   &one) != 9)
			continue;
		if (num != q->num || portid != q->portid)
			continue;
		st->kernel_dropped = qdrop;
		st->user_dropped = udrop;
		err = 0;
		break;
	}
	fclose(f);
	return err;
}

int
itmq_get_stats(struct itmq *q, struct itmq_stats *st)
{
	*st = q->st;
	return q_read_proc(q, st);
}

int
itmq_get_kernel_stats(const struct itmq *q, struct itmq_stats *st)
{
	memset(st, 0, sizeof(*st));
	return q_read_proc(q, st);
}
