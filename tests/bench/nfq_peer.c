/*
 * nfq_peer.c - the NFQUEUE program a peer who cares about speed writes,
 * in the few dozen lines it takes: the libmnl API of
 * libnetfilter_queue's nf-queue.c example, the queue bound with
 * NFQA_CFG_F_GSO (whole GSO packets, up to 64 KiB, one crossing each) and
 * FAIL_OPEN, an 8 MiB socket buffer without ENOBUFS, and all packets
 * waiting in the socket read before any verdict is sent: every verdict of
 * a burst leaves in one sendmsg (or one per 256 KiB of rewritten bytes).
 *
 *   nfq_peer p [QUEUE]   accept every packet: one NFQNL_MSG_VERDICT_BATCH
 *                        for the newest id of each burst
 *   nfq_peer q [QUEUE]   rewrite the TOS byte of every IPv4 packet to
 *                        0x55, IP checksum and full TCP/UDP checksum
 *                        recomputed, the bytes sent back with the verdict
 *
 * Configurations (p) and (q) of tests/bench/agent_bench.sh: the
 * best-practice peers of the agent with no module work and of the agent
 * with fig13 (same work as q).  Stops on SIGINT/SIGTERM and prints how
 * many packets it handled.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink_queue.h>

#define PEER_TOS    0x55
#define PEER_RX	    (65536 + 4096)
#define PEER_TX	    (256u << 10) /* verdicts sent at once, at most */
#define PEER_BURST  64
#define PEER_RCVBUF (8 << 20)
#define PEER_SNDBUF (4 * PEER_TX)

struct peer {
	struct mnl_socket *nl;
	uint16_t queue;
	int rewrite;
	char *rx, *tx;
	size_t tx_len;
	uint32_t last_id;
	unsigned long packets, rewritten;
};

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* ---- checksums (RFC 1071), 32 bits at a time into 64 ---- */

static uint64_t
sum_bytes(const uint8_t *p, size_t len, uint64_t s)
{
	uint32_t w;

	for (; len >= 4; p += 4, len -= 4) {
		memcpy(&w, p, 4);
		s += w;
	}
	if (len >= 2) {
		uint16_t h;

		memcpy(&h, p, 2);
		s += h;
		p += 2;
		len -= 2;
	}
	if (len)
		s += htons((uint16_t)(*p << 8));
	return s;
}

static uint16_t
fold(uint64_t s)
{
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* TOS to PEER_TOS, IP checksum, full TCP/UDP checksum.  1 if rewritten. */
static int
rewrite_tos(uint8_t *ip, uint32_t len)
{
	uint32_t ihl = (ip[0] & 0x0f) * 4u, l4len, off;
	uint16_t tot, check;
	uint64_t s;

	if (len < 20 || ip[0] >> 4 != 4 || ihl < 20 || ihl > len)
		return 0;
	tot = (uint16_t)(ip[2] << 8 | ip[3]);
	if (tot > len || tot < ihl)
		return 0;
	ip[1] = PEER_TOS;
	memset(ip + 10, 0, 2);
	check = fold(sum_bytes(ip, ihl, 0));
	memcpy(ip + 10, &check, 2);
	off = ip[9] == IPPROTO_TCP ? 16 : ip[9] == IPPROTO_UDP ? 6 : 0;
	l4len = tot - ihl;
	if (!off || (ip[6] & 0x3f) || ip[7] || l4len < off + 2)
		return 1; /* no L4 checksum we can redo (or a fragment) */
	if (ip[9] == IPPROTO_UDP && !ip[ihl + 6] && !ip[ihl + 7])
		return 1; /* UDP without checksum */
	memset(ip + ihl + off, 0, 2);
	s = sum_bytes(ip + 12, 8, 0) + htons(ip[9]) + htons((uint16_t)l4len);
	check = fold(sum_bytes(ip + ihl, l4len, s));
	if (check == 0 && ip[9] == IPPROTO_UDP)
		check = 0xffff;
	memcpy(ip + ihl + off, &check, 2);
	return 1;
}

/* ---- netlink ---- */

static struct nlmsghdr *
tx_msg(struct peer *p, int type)
{
	return nfq_nlmsg_put(p->tx + p->tx_len, type, p->queue);
}

static void
tx_commit(struct peer *p, struct nlmsghdr *nlh)
{
	p->tx_len += MNL_ALIGN(nlh->nlmsg_len);
}

static void
tx_flush(struct peer *p)
{
	if (p->tx_len && mnl_socket_sendto(p->nl, p->tx, p->tx_len) < 0)
		perror("nfq_peer: sending verdicts");
	p->tx_len = 0;
}

/* Mode q: the rewritten packet's verdict, bytes attached. */
static void
verdict_rewrite(struct peer *p, uint32_t id, uint8_t *data, uint32_t len)
{
	struct nlmsghdr *nlh;

	if (p->tx_len + len + 256 > PEER_TX)
		tx_flush(p);
	nlh = tx_msg(p, NFQNL_MSG_VERDICT);
	nfq_nlmsg_verdict_put(nlh, (int)id, NF_ACCEPT);
	if (rewrite_tos(data, len)) {
		nfq_nlmsg_verdict_put_pkt(nlh, data, len);
		p->rewritten++;
	}
	tx_commit(p, nlh);
}

static int
packet_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nlattr *tb[NFQA_MAX + 1] = { NULL };
	struct nfqnl_msg_packet_hdr *ph;
	struct peer *p = data;

	if (nfq_nlmsg_parse(nlh, tb) < 0 || !tb[NFQA_PACKET_HDR])
		return MNL_CB_OK;
	ph = mnl_attr_get_payload(tb[NFQA_PACKET_HDR]);
	p->last_id = ntohl(ph->packet_id);
	p->packets++;
	if (p->rewrite && tb[NFQA_PAYLOAD])
		verdict_rewrite(p, p->last_id,
				mnl_attr_get_payload(tb[NFQA_PAYLOAD]),
				mnl_attr_get_payload_len(tb[NFQA_PAYLOAD]));
	else if (p->rewrite)
		verdict_rewrite(p, p->last_id, NULL, 0);
	return MNL_CB_OK;
}

/* Read every datagram waiting (up to PEER_BURST), then send the verdicts:
 * mode p one batch verdict for the newest id, mode q the queued ones. */
static int
burst(struct peer *p)
{
	unsigned long before = p->packets;
	int n, i, flags = 0;

	for (i = 0; i < PEER_BURST; i++, flags = MSG_DONTWAIT) {
		n = (int)recv(mnl_socket_get_fd(p->nl), p->rx, PEER_RX, flags);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n < 0)
			return -1;
		mnl_cb_run(p->rx, (size_t)n, 0, 0, packet_cb, p);
	}
	if (!p->rewrite && p->packets != before) {
		struct nlmsghdr *nlh = tx_msg(p, NFQNL_MSG_VERDICT_BATCH);

		nfq_nlmsg_verdict_put(nlh, (int)p->last_id, NF_ACCEPT);
		tx_commit(p, nlh);
	}
	tx_flush(p);
	return 0;
}

static int
config(struct peer *p, int cmd)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, p->queue);
	uint32_t f = NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN;

	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, (uint8_t)cmd);
	if (cmd == NFQNL_CFG_CMD_BIND) {
		nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, 0xffff);
		nfq_nlmsg_cfg_put_qmaxlen(nlh, 4096);
		mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(f));
		mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(f));
	}
	return mnl_socket_sendto(p->nl, nlh, nlh->nlmsg_len) < 0 ? -1 : 0;
}

static int
peer_open(struct peer *p)
{
	int one = 1, size = PEER_RCVBUF, sndbuf = PEER_SNDBUF;

	p->rx = malloc(PEER_RX);
	p->tx = malloc(PEER_TX);
	p->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!p->rx || !p->tx || !p->nl ||
	    mnl_socket_bind(p->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return -1;
	setsockopt(mnl_socket_get_fd(p->nl), SOL_SOCKET, SO_RCVBUFFORCE, &size,
		   sizeof(size));
	/* A netlink message larger than the send buffer is refused. */
	setsockopt(mnl_socket_get_fd(p->nl), SOL_SOCKET, SO_SNDBUFFORCE,
		   &sndbuf, sizeof(sndbuf));
	mnl_socket_setsockopt(p->nl, NETLINK_NO_ENOBUFS, &one, sizeof(one));
	return config(p, NFQNL_CFG_CMD_BIND);
}

int
main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct peer p = { 0 };

	if (argc < 2 || (strcmp(argv[1], "p") && strcmp(argv[1], "q"))) {
		fprintf(stderr, "usage: nfq_peer p|q [QUEUE]\n");
		return 2;
	}
	p.rewrite = argv[1][0] == 'q';
	p.queue = argc > 2 ? (uint16_t)atoi(argv[2]) : 0;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (peer_open(&p) < 0) {
		perror("nfq_peer: binding the queue");
		return 1;
	}
	printf("nfq_peer: mode %s, queue %u bound\n", argv[1], p.queue);
	fflush(stdout);
	while (!stop && burst(&p) == 0)
		;
	config(&p, NFQNL_CFG_CMD_UNBIND);
	printf("nfq_peer: %lu packets, %lu rewritten\n", p.packets,
	       p.rewritten);
	return 0;
}
