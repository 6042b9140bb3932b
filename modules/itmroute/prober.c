/*
 * prober.c - the probe socket (probe.h): one UDP socket on this node's
 * underlay address.  It sends the probes the schedule picks
 * (probesched.c); what comes in is answered (a probe for us), relayed once (we are its via) or
 * matched to its path (an ACK of ours).  Only members' underlay addresses
 * are listened to: anything else is counted and dropped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include "itmroute.h"
#include "probe.h"

static void
send_to(struct itmr_ctx *x, const struct itmr_probe *p, uint32_t to)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	uint8_t buf[ITMR_PROBE_LEN];
	size_t len = itmr_probe_encode(p, buf);

	sa.sin_addr.s_addr = to;
	sa.sin_port = htons(x->cfg.port);
	(void)sendto(x->sock, buf, len, MSG_DONTWAIT, (struct sockaddr *)&sa,
		     sizeof(sa));
}

void
itmr_prober_send(struct itmr_ctx *x, struct itmr_node *n, unsigned int k)
{
	struct itmr_path *path = &n->dest.paths[k];
	struct itmr_probe p = { .type = ITMR_PROBE };

	p.origin = x->self_underlay;
	p.target = n->underlay;
	p.via = path->via;
	p.sent_ns = itmr_now_ns();
	p.seq = itmr_path_sent(path, p.sent_ns);
	send_to(x, &p, path->via ? path->via : n->underlay);
	x->st.probes_tx++;
}

/* An ACK of one of our probes, from @from. */
static void
ack_mine(struct itmr_ctx *x, const struct itmr_probe *p, uint32_t from)
{
	struct itmr_node *n = itmr_node_by_underlay(x, p->target);

	if (n == NULL || from != (p->via ? p->via : p->target))
		goto stale;
	for (unsigned int k = 0; k < n->dest.n_paths; k++) {
		struct itmr_path *path = &n->dest.paths[k];

		if (path->via != p->via)
			continue;
		if (itmr_path_acked(path, p->seq, p->sent_ns, itmr_now_ns()) <
		    0)
			goto stale;
		x->st.acks_rx++;
		return;
	}
stale:
	x->st.stale_acks++;
}

/* Relay @p once towards @to, which must be a member. */
static void
relay(struct itmr_ctx *x, struct itmr_probe *p, uint32_t from, uint32_t src,
      uint32_t to)
{
	if (!x->cfg.relay || p->via != x->self_underlay || p->hops != 0 ||
	    from != src || itmr_node_by_underlay(x, to) == NULL) {
		x->st.bad_probes++;
		return;
	}
	p->hops = 1;
	send_to(x, p, to);
	x->st.relayed++;
}

static void
handle(struct itmr_ctx *x, struct itmr_probe *p, uint32_t from)
{
	if (p->type == ITMR_PROBE && p->target == x->self_underlay) {
		p->type = ITMR_ACK;
		p->hops = 0;
		send_to(x, p, from);
		x->st.probes_answered++;
	} else if (p->type == ITMR_PROBE) {
		relay(x, p, from, p->origin, p->target);
	} else if (p->origin == x->self_underlay) {
		ack_mine(x, p, from);
	} else {
		relay(x, p, from, p->target, p->origin);
	}
}

static void
prober_read_cb(int fd, unsigned int revents, void *arg)
{
	struct itmr_ctx *x = arg;
	struct sockaddr_in sa;
	socklen_t salen;
	uint8_t buf[256];
	struct itmr_probe p;
	ssize_t n;

	(void)revents;
	for (int i = 0; i < 256; i++) {
		salen = sizeof(sa);
		n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT,
			     (struct sockaddr *)&sa, &salen);
		if (n < 0)
			return;
		if (itmr_node_by_underlay(x, sa.sin_addr.s_addr) == NULL) {
			x->st.unknown_src++;
			continue;
		}
		if (itmr_probe_decode(buf, (size_t)n, &p) < 0) {
			x->st.bad_probes++;
			continue;
		}
		handle(x, &p, sa.sin_addr.s_addr);
	}
}

int
itmr_prober_open(struct itmr_ctx *x)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int one = 1, rc;

	if ((x->sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	(void)setsockopt(x->sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sa.sin_addr.s_addr = x->self_underlay;
	sa.sin_port = htons(x->cfg.port);
	if (bind(x->sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		itm_log(LOG_ERR, "probe socket %s:%u: %s",
			inet_ntoa(sa.sin_addr), x->cfg.port, strerror(errno));
		goto fail;
	}
	if ((rc = itm_register_fd(x->sock, ITM_FD_READ, prober_read_cb, x)) < 0)
		goto fail;
	return 0;
fail:
	close(x->sock);
	x->sock = -1;
	return rc;
}

void
itmr_prober_close(struct itmr_ctx *x)
{
	if (x->sock < 0)
		return;
	itm_unregister_fd(x->sock);
	close(x->sock);
	x->sock = -1;
}
