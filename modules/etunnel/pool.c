/*
 * pool.c - the tunnel entry: a pool of TCP connections to the peer's
 * tunnel port, the frames spread over them, and the controller's tick.
 *
 * A stolen packet waits in the entry queue (entq.c) only until a
 * connection can take it: frames go round-robin to the connections whose
 * bytes not yet sent stay under a small limit (unsent, 4 kB by default:
 * SIOCOUTQNSD after each write, TCP_NOTSENT_LOWAT to learn when it
 * drained).  A connection that falls behind (in loss recovery, say) is
 * skipped, and few packets wait behind it, so the exit's reorder buffer
 * waits little: data parked in a slow connection's send buffer arrives
 * late and out of order, which the user's TCP takes for loss.  GSO
 * packets are cut to the MTU first (seg.c), so a single frame never parks
 * 64 kB in one connection.  With no connection up every packet goes the
 * normal path (fail-open); lost connections are retried with a backoff
 * from 100 ms to 2 s.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <syslog.h>

#include "etunnel.h"
#include "tcpview.h"
#include "tcpseg.h"

#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	2000
#define USER_TIMEOUT_MS 3000
#define STUCK_MIN_MS	10
#define ROOM_RESCAN_US	1000 /* after a scan found no cwnd room */
#define DELACK_MS	40   /* the peer's delayed ACK, at most */
#define HANDSHAKE_MS	5000 /* a TLS handshake longer than this fails */
#define RETIRE_MS	2000 /* a retiring connection closed at the latest */

static void conn_cb(int fd, unsigned int revents, void *arg);
static void flush(struct etun *t);

static void
set_opts(struct etun *t, int fd)
{
	int one = 1, uto = USER_TIMEOUT_MS, sb = (int)t->sndbuf;
	int low = (int)t->unsent;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &uto, sizeof(uto));
	setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &low, sizeof(low));
	if (t->cc[0] && setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, t->cc,
				   (socklen_t)strlen(t->cc)) < 0)
		itm_log(LOG_WARNING, "etunnel %s: cc=%s: %s", t->name, t->cc,
			strerror(errno));
	if (sb > 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sb, sizeof(sb));
}

static void
conn_open(struct etun *t, struct etun_conn *c)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		goto retry;
	set_opts(t, fd);
	if (c == &t->conns[ETUN_EXPRESS]) {
		int tos = 0x10; /* the core's low-delay class (qos-core.sh) */

		setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos));
	}
	sa.sin_addr = t->local;
	if (t->local.s_addr != INADDR_ANY &&
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto fail;
	sa.sin_addr = t->peer;
	sa.sin_port = htons(t->port);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
	    errno != EINPROGRESS)
		goto fail;
	if (itm_register_fd(fd, ITM_FD_WRITE, conn_cb, c) < 0)
		goto fail;
	c->fd = fd;
	c->state = ETUN_CONN_CONNECTING;
	return;
fail:
	close(fd);
retry:
	c->backoff_ms = c->backoff_ms ? c->backoff_ms : BACKOFF_MIN_MS;
	c->retry_ms = etun_now_ms() + c->backoff_ms;
}

/* Close @c; @lost: it failed (retry later, with a longer backoff). */
static void
conn_close(struct etun *t, struct etun_conn *c, int lost)
{
	if (c->state == ETUN_CONN_IDLE)
		return;
	itm_unregister_fd(c->fd);
	etun_tls_conn_free(c->tls);
	c->tls = NULL;
	close(c->fd);
	if (c->state == ETUN_CONN_UP) {
		*(c == &t->conns[ETUN_EXPRESS] ? &t->express_up : &t->up) -= 1;
		t->acked_closed += c->written;
		t->c.disconnects++;
		/* its frames may be gone: a close with the exit's bytes
		 * unread resets the connection, and what was in flight;
		 * not after retire()'s FIN (all acknowledged before it) */
		if (c->retiring != ETUN_RETIRE_FIN)
			etun_split_conn_lost(t);
	}
	c->rlen = 0;
	c->state = ETUN_CONN_IDLE;
	c->fd = -1;
	c->len = c->off = 0;
	c->written = 0;
	c->full = 0;
	c->recovering = 0;
	c->stuck = 0;
	c->acked_seen = 0;
	c->rto_seen = 0;
	c->retiring = ETUN_RETIRE_NO;
	if (t->sent)
		etun_sentlog_forget(t->sent, (uint16_t)(c - t->conns));
	if (lost) {
		c->backoff_ms =
			c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_MIN_MS;
		if (c->backoff_ms > BACKOFF_MAX_MS)
			c->backoff_ms = BACKOFF_MAX_MS;
		c->retry_ms = etun_now_ms() + c->backoff_ms;
	}
}

/* Cut because a new tls_crl refuses the peer: as a failure (retried
 * later, refused at the handshake while the list says so). */
static void
conn_cut(struct etun *t, struct etun_conn *c)
{
	conn_close(t, c, 1);
}

/* write(2), or SSL_write with TLS (all of @len or nothing: -1 and
 * EAGAIN while OpenSSL holds part of it; call again with the same
 * bytes).  c->written counts the bytes the socket took. */
static ssize_t
conn_put(struct etun_conn *c, const void *buf, size_t len)
{
	ssize_t n;
	int r;

	if (c->tls == NULL) {
		if ((n = write(c->fd, buf, len)) > 0)
			c->written += (uint64_t)n;
		return n;
	}
	r = etun_tls_write(c->tls, buf, len);
	c->written = etun_tls_wire_written(c->tls);
	if (r > 0)
		return r;
	errno = r == ETUN_TLS_ERROR ? EPROTO : EAGAIN;
	return -1;
}

/* A TLS failure at the entry: counted, logged with OpenSSL's reason (or
 * @why; the first ten, then one in a hundred), retried with the
 * backoff. */
static void
tls_refused(struct etun *t, struct etun_conn *c, const char *why)
{
	char buf[256];

	if (t->c.tls_refused++ < 10 || t->c.tls_refused % 100 == 0)
		itm_log(LOG_WARNING,
			"etunnel %s: TLS with %s:%u failed (%llu so far): %s",
			t->name, inet_ntoa(t->peer), t->port,
			(unsigned long long)t->c.tls_refused,
			why ? why : etun_tls_why(c->tls, buf, sizeof(buf)));
	conn_close(t, c, 1);
}

static void conn_established(struct etun *t, struct etun_conn *c);

/* One step of the TLS handshake; up when it is done. */
static void
conn_handshake(struct etun *t, struct etun_conn *c)
{
	int r = etun_tls_handshake(c->tls);

	if (r == 1)
		conn_established(t, c);
	else if (r == ETUN_TLS_WANT_READ)
		itm_modify_fd(c->fd, ITM_FD_READ);
	else if (r == ETUN_TLS_WANT_WRITE)
		itm_modify_fd(c->fd, ITM_FD_READ | ITM_FD_WRITE);
	else
		tls_refused(t, c, NULL);
}

/* The TCP connect ended: up, or first the TLS handshake. */
static void
conn_up(struct etun *t, struct etun_conn *c)
{
	int err = 0;
	socklen_t l = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0 || err) {
		conn_close(t, c, 1);
		return;
	}
	if (t->tls == NULL) {
		conn_established(t, c);
		return;
	}
	etun_tls_recheck(t, conn_cut);
	if ((c->tls = etun_tls_conn_new(t->tls, c->fd)) == NULL) {
		conn_close(t, c, 1);
		return;
	}
	c->state = ETUN_CONN_HANDSHAKE;
	c->retry_ms = etun_now_ms() + HANDSHAKE_MS; /* its deadline */
	conn_handshake(t, c);
}

static void
conn_established(struct etun *t, struct etun_conn *c)
{
	uint8_t hello[ETUN_FRAME_HDR];

	etun_frame_hdr(hello, 0, ETUN_F_HELLO, t->session);
	if (conn_put(c, hello, sizeof(hello)) != (ssize_t)sizeof(hello)) {
		conn_close(t, c, 1);
		return;
	}
	c->written = 0; /* the hello is not the users' */
	c->state = ETUN_CONN_UP;
	c->backoff_ms = 0;
	c->progress_ms = etun_now_ms();
	t->wait_sent_us = 0; /* a new exit, maybe: tell it the wait again */
	*(c == &t->conns[ETUN_EXPRESS] ? &t->express_up : &t->up) += 1;
	t->c.connects++;
	itm_modify_fd(c->fd, ITM_FD_READ);
	if (t->up == 1)
		itm_log(LOG_INFO, "etunnel %s: pool up to %s:%u", t->name,
			inet_ntoa(t->peer), t->port);
}

/* Write what is left of a partly sent frame; 1 when all of it went. */
static int
conn_drain(struct etun *t, struct etun_conn *c)
{
	while (c->off < c->len) {
		ssize_t n = conn_put(c, c->buf + c->off, c->len - c->off);

		if (n < 0)
			return errno == EAGAIN ? 0 : (conn_close(t, c, 1), 0);
		c->off += (uint32_t)n;
	}
	c->off = c->len = 0;
	itm_modify_fd(c->fd, ITM_FD_READ);
	return 1;
}

/* Parse the exit's stream frames read so far: 0, or -1 when the stream
 * is broken (or the exit sent anything else). */
static int
conn_frames(struct etun *t, struct etun_conn *c)
{
	struct etun_frame f;
	size_t used, off = 0;
	enum etun_parse r;

	while ((r = etun_frame_parse(c->rbuf + off, c->rlen - off, &f,
				     &used)) == ETUN_PARSE_OK) {
		if (!(f.flags & ETUN_F_STREAM) || etun_split_frame(t, &f) < 0)
			return -1;
		off += used;
	}
	if (r == ETUN_PARSE_BAD)
		return -1;
	memmove(c->rbuf, c->rbuf + off, c->rlen - off);
	c->rlen -= (uint32_t)off;
	return 0;
}

/* Without split TCP the peer never sends; readable means closed or
 * reset.  With it, the exit's stream frames come this way. */
static void
conn_read(struct etun *t, struct etun_conn *c)
{
	uint8_t junk[256], *into = c->rbuf ? c->rbuf + c->rlen : junk;
	size_t room = c->rbuf ? 2 * ETUN_CONN_BUF - c->rlen : sizeof(junk);
	ssize_t n;

	if (c->tls) {
		n = etun_tls_read(c->tls, into, room);
		if (n == ETUN_TLS_ERROR || n == ETUN_TLS_CLOSED)
			n = 0; /* the handshake admitted us: a loss */
		else if (n < 0)
			errno = EAGAIN;
	} else {
		n = read(c->fd, into, room);
	}
	if (n > 0 && c->rbuf) {
		c->rlen += (uint32_t)n;
		if (conn_frames(t, c) == 0)
			return;
		t->c.frames_bad++;
		itm_log(LOG_WARNING,
			"etunnel %s: bad frame from the exit: connection "
			"closed",
			t->name);
		n = 0;
	}
	if (n == 0 && c->retiring == ETUN_RETIRE_FIN) {
		t->c.retired++;
		conn_close(t, c, 0); /* retire(): the exit read it all */
		return;
	}
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		if (t->up == 1)
			itm_log(LOG_WARNING,
				"etunnel %s: last connection to the peer "
				"lost: traffic takes the normal path",
				t->name);
		conn_close(t, c, 1);
	}
}

static void
conn_cb(int fd, unsigned int revents, void *arg)
{
	struct etun_conn *c = arg;
	struct etun *t = c->t;

	(void)fd;
	if (c->state == ETUN_CONN_CONNECTING) {
		conn_up(t, c);
	} else if (c->state == ETUN_CONN_HANDSHAKE) {
		conn_handshake(t, c);
	} else {
		if (revents & (ITM_FD_READ | ITM_FD_ERROR))
			conn_read(t, c);
		if (c->state == ETUN_CONN_UP && (revents & ITM_FD_WRITE)) {
			c->full = 0;
			if (!conn_drain(t, c))
				return;
		}
	}
	flush(t);
	etun_split_flush(t);
}

/* In loss recovery (fast recovery or after a timeout), a connection holds
 * what it has in flight until the retransmission gets through; more
 * frames on it would wait too, and reach the exit late. */
static int
in_recovery(const struct etun_conn *c)
{
	struct tcp_info ti;
	socklen_t l = sizeof(ti);

	return getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &l) == 0 &&
	       ti.tcpi_ca_state >= TCP_CA_Recovery;
}

/* Past the unsent limit: skip @c until TCP_NOTSENT_LOWAT says it has
 * drained (the fd becomes writable); in recovery (@skip): skip it until
 * the tick finds it out. */
static void
check_unsent(struct etun *t, struct etun_conn *c, int skip)
{
	int unsent = 0;

	if (skip && in_recovery(c)) {
		c->recovering = 1;
		t->c.recoveries++;
	}
	if (c->len == 0 && ioctl(c->fd, SIOCOUTQNSD, &unsent) == 0 &&
	    (uint32_t)unsent < t->unsent)
		return;
	c->full = 1;
	itm_modify_fd(c->fd, ITM_FD_READ | ITM_FD_WRITE);
}

/* Write the frame @hdr + @pkt through TLS: built in c->buf, which keeps
 * it until SSL_write took all of it (OpenSSL may hold a record of it
 * half sent: c->len stays set, the connection counts as full and the
 * writable fd drains it; the frame is never dropped nor sent twice).
 * 1 when taken, 0 when the connection broke. */
static int
conn_send_tls(struct etun *t, struct etun_conn *c, const uint8_t *hdr, size_t h,
	      const uint8_t *pkt, uint32_t len)
{
	memcpy(c->buf, hdr, h);
	if (len) /* a stream frame may have no data (pkt NULL) */
		memcpy(c->buf + h, pkt, len);
	c->len = (uint32_t)h + len;
	c->off = 0;
	if (!conn_drain(t, c)) {
		if (c->state != ETUN_CONN_UP)
			return 0;
		t->c.tls_write_waits++;
		itm_modify_fd(c->fd, ITM_FD_READ | ITM_FD_WRITE);
	}
	return 1;
}

/* Write the frame @hdr + @pkt: 1 when the socket (or OpenSSL) took it
 * (wholly, or the rest kept in c->buf for later), 0 when nothing. */
static int
conn_writeh(struct etun *t, struct etun_conn *c, const uint8_t *hdr, size_t h,
	    const uint8_t *pkt, uint32_t len)
{
	struct iovec iov[2] = { { (void *)(uintptr_t)hdr, h },
				{ (void *)(uintptr_t)pkt, len } };
	size_t total = h + len, rest;
	ssize_t n;

	if (c->tls)
		return conn_send_tls(t, c, hdr, h, pkt, len);
	if ((n = writev(c->fd, iov, 2)) <= 0) {
		if (n < 0 && errno != EAGAIN)
			conn_close(t, c, 1);
		else
			itm_modify_fd(c->fd, ITM_FD_READ | ITM_FD_WRITE);
		return 0;
	}
	c->written += (uint64_t)n;
	if ((size_t)n == total)
		return 1;
	rest = total - (size_t)n;
	if ((size_t)n < h) {
		memcpy(c->buf, hdr + n, h - (size_t)n);
		if (len)
			memcpy(c->buf + (h - (size_t)n), pkt, len);
	} else {
		memcpy(c->buf, pkt + ((size_t)n - h), rest);
	}
	c->len = (uint32_t)rest;
	c->off = 0;
	itm_modify_fd(c->fd, ITM_FD_READ | ITM_FD_WRITE);
	return 1;
}

static int
conn_write(struct etun *t, struct etun_conn *c, const uint8_t *hdr,
	   const uint8_t *pkt, uint16_t len)
{
	return conn_writeh(t, c, hdr, ETUN_FRAME_HDR, pkt, len);
}

int
etun_pool_put(struct etun *t, struct etun_conn *c, const uint8_t *hdr,
	      size_t hlen, const uint8_t *data, uint32_t len)
{
	if (!conn_writeh(t, c, hdr, hlen, data, len))
		return 0;
	t->c.frames_out++;
	t->stream_put += hlen + len;
	check_unsent(t, c, t->skip_recovering);
	return 1;
}

/* Send one packet on @c as the next frame of @cls: 1 when the socket (or
 * OpenSSL) took it, 0 when it took nothing. */
static int
conn_send(struct etun *t, struct etun_conn *c, const uint8_t *pkt, uint16_t len,
	  enum etun_class cls)
{
	uint8_t hdr[ETUN_FRAME_HDR];

	etun_frame_hdr(hdr, len, cls == ETUN_CLS_SHORT ? ETUN_F_SHORT : 0,
		       t->seq[cls]);
	if (!conn_write(t, c, hdr, pkt, len))
		return 0;
	if (t->sent)
		etun_sentlog_add(t->sent, (uint16_t)(c - t->conns),
				 c->written + c->len, t->seq[cls], (uint8_t)cls,
				 pkt, len);
	t->seq[cls]++;
	t->c.frames_out++;
	check_unsent(t, c, t->skip_recovering);
	return 1;
}

static int
conn_ready(const struct etun_conn *c)
{
	return c->state == ETUN_CONN_UP && c->len == 0 && !c->full &&
	       !c->recovering && !c->retiring;
}

/* @c can put a frame on the wire now: not in loss recovery, fewer
 * packets in flight than its congestion window, nothing unsent before. */
static int
conn_room(const struct etun_conn *c)
{
	struct tcp_info ti;
	socklen_t l = sizeof(ti);
	int unsent = 0;

	return getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &l) == 0 &&
	       ti.tcpi_ca_state < TCP_CA_Recovery &&
	       ti.tcpi_unacked < ti.tcpi_snd_cwnd &&
	       ioctl(c->fd, SIOCOUTQNSD, &unsent) == 0 && unsent == 0;
}

/* The next pool connection, round-robin, that is ready (@room: and has
 * cwnd room). */
static struct etun_conn *
pick_rr(struct etun *t, int room)
{
	unsigned int n = t->wanted;

	for (unsigned int k = 0; k < n; k++) {
		unsigned int i = (t->rr + k) % n;

		if (conn_ready(&t->conns[i]) &&
		    (!room || conn_room(&t->conns[i]))) {
			t->rr = i + 1;
			return &t->conns[i];
		}
	}
	return NULL;
}

/* The connection for the next frame of @cls: the short class's own when
 * it is ready, else (@room) the next pool connection that sends it at
 * once, else the next that is ready: a frame parked behind a window waits
 * for that connection's ACKs, and a loss there holds it a round trip or
 * an RTO while the others' frames arrive. */
static struct etun_conn *
pick(struct etun *t, enum etun_class cls, int room)
{
	struct etun_conn *c;

	if (cls == ETUN_CLS_SHORT && t->express &&
	    conn_ready(&t->conns[ETUN_EXPRESS]))
		return &t->conns[ETUN_EXPRESS];
	if (room && etun_now_us() >= t->room_scan_us) {
		if ((c = pick_rr(t, 1)) != NULL)
			return c;
		t->c.no_room++;
		/* Windows open with ACKs: no new scan (two calls a
		 * connection) for every packet of a full pool. */
		t->room_scan_us = etun_now_us() + ROOM_RESCAN_US;
	}
	return pick_rr(t, 0);
}

struct etun_conn *
etun_pool_pick(struct etun *t, enum etun_class cls)
{
	return pick(t, cls, 1);
}

/* The entry queue onto the pool, no faster than the cap allows (a
 * packet over it waits in the bounded queue). */
static void
flush(struct etun *t)
{
	const uint8_t *pkt;
	uint16_t len;
	enum etun_class cls;
	struct etun_conn *c;
	uint64_t now = etun_now_us(); /* once a flush, not twice a packet */

	while ((pkt = etun_entq_peek(t->q, &len, &cls)) != NULL) {
		if (!etun_cap_take(&t->cap, len, cls == ETUN_CLS_SHORT, now)) {
			t->c.cap_waits++;
			return;
		}
		if ((c = pick(t, cls, t->cwnd_room)) == NULL) {
			etun_cap_undo(&t->cap, len);
			if (etun_cap_pool_short(&t->cap, now))
				t->c.stalls++;
			return;
		}
		if (conn_send(t, c, pkt, len, cls))
			etun_entq_pop(t->q);
		else
			etun_cap_undo(&t->cap, len);
	}
}

/* With the cap the queue drains at the target: a long-class packet finds
 * room only below ETUN_CAP_QUEUE_MS of it queued (at least
 * ETUN_CAP_QUEUE_MIN bytes), not up to queue_kb, so the user's TCP sees
 * loss, not a long queue. */
static int
cap_queue_full(const struct etun *t, enum etun_class cls, uint16_t len)
{
	double max = t->cap.rate * ETUN_CAP_QUEUE_MS / 1000;

	return t->cap.on && cls == ETUN_CLS_LONG &&
	       (double)(etun_entq_bytes(t->q) + len) >
		       (max > ETUN_CAP_QUEUE_MIN ? max : ETUN_CAP_QUEUE_MIN);
}

static void
enqueue(struct etun *t, const uint8_t *pkt, uint16_t len, uint8_t tos)
{
	enum etun_class cls = (tos & 0x10) ? ETUN_CLS_SHORT : ETUN_CLS_LONG;

	if (cap_queue_full(t, cls, len) ||
	    etun_entq_push(t->q, cls, pkt, len) < 0) {
		t->c.entry_drops++;
		if (!etun_cap_pool_short(&t->cap, etun_now_us()))
			t->c.cap_drops++; /* the cap's, not the pool's */
		return;
	}
	t->c.pkts_in++;
	t->c.bytes_in += len;
}

int
etun_pool_take(struct etun *t, const uint8_t *pkt, uint16_t len, uint8_t tos)
{
	if (t->up == 0) {
		t->c.failopen++;
		return ITM_ACCEPT;
	}
	enqueue(t, pkt, len, tos);
	flush(t);
	return ITM_DROP; /* stolen: it travels in a frame */
}

static int
enqueue_seg(const uint8_t *seg, uint16_t len, void *arg)
{
	struct etun *t = arg;

	enqueue(t, seg, len, seg[1]);
	return 0;
}

int
etun_pool_take_gso(struct etun *t, const uint8_t *pkt, uint16_t len,
		   uint8_t tos)
{
	if (t->up == 0) {
		t->c.failopen++;
		return ITM_ACCEPT;
	}
	if (tcpseg_split(pkt, len, t->mtu, t->scratch, enqueue_seg, t) < 0)
		enqueue(t, pkt, len, tos); /* not TCP: the exit will refuse
					    * it too, counted there */
	else
		t->c.segmented++;
	flush(t);
	return ITM_DROP;
}

/* Bytes the peer has acknowledged, over the pool's life. */
static uint64_t
acked_bytes(const struct etun *t)
{
	uint64_t sum = t->acked_closed;

	for (unsigned int i = 0; i < ETUN_SLOTS; i++) {
		const struct etun_conn *c = &t->conns[i];
		int outq = 0;

		if (c->state != ETUN_CONN_UP)
			continue;
		if (ioctl(c->fd, SIOCOUTQ, &outq) < 0 || outq < 0)
			outq = 0;
		sum += c->written > (uint64_t)outq ? c->written - (uint64_t)outq
						   : 0;
	}
	return sum;
}

/* The pool was the limit lately: packets dropped at the entry (not while
 * the cap held them), or found every connection full, within the last
 * BACKLOG_MS.  A user's TCP that lost packets backs off for a while
 * before it fills the pool again; that is still demand the pool did not
 * carry.  Split streams lose nothing to a full pool (the user's window
 * closes instead), so there this interval decides: backlogged when the
 * pool refused bytes (stalls) at least as often as the cap held them
 * (@waits, this interval's cap_waits).  The 2 s memory read one stall as
 * a whole backlogged interval while the cap held the rest: a pool of 14
 * at k = 2 (5 carry the target) grew on to 18 on the exit's in-order
 * dips instead of probing (measured). */
#define BACKLOG_MS 2000

static int
backlogged(struct etun *t, uint64_t now, uint64_t waits)
{
	uint64_t drops = (t->c.entry_drops - t->c.cap_drops) -
			 (t->drops_at_tick - t->cap_drops_at_tick);
	uint64_t stalls = t->c.stalls - t->stalls_at_tick;

	t->drops_at_tick = t->c.entry_drops;
	t->cap_drops_at_tick = t->c.cap_drops;
	t->stalls_at_tick = t->c.stalls;
	if (drops || (stalls && !t->split))
		t->backlog_ms = now;
	if (t->split && stalls && stalls >= waits)
		return 1;
	return t->backlog_ms && now - t->backlog_ms <= BACKLOG_MS;
}

/* The users' bytes the far end got since the last interval.  Without
 * split streams, what the pool's TCP acknowledged.  With them, the bytes
 * the exit says it delivered (resent chunks and frame heads are not
 * goodput: counted, they hid a pool that delivered two thirds of what
 * its TCP acknowledged), plus the packet path's part of the TCP
 * acknowledgements: beyond the stream frames written, at most the
 * packets taken in. */
static uint64_t
interval_goodput(struct etun *t)
{
	uint64_t acked = acked_bytes(t), put = t->stream_put;
	uint64_t d_acked = acked - t->last_acked, d_put = put - t->last_put;
	uint64_t d_in = t->c.bytes_in - t->last_bytes_in;
	uint64_t d_del = t->c.stream_bytes_acked - t->last_stream_acked;
	uint64_t pkt = d_acked > d_put ? d_acked - d_put : 0;

	t->last_acked = acked;
	t->last_put = put;
	t->last_bytes_in = t->c.bytes_in;
	t->last_stream_acked = t->c.stream_bytes_acked;
	if (d_put == 0 && d_del == 0)
		return d_acked;
	return d_del + (pkt < d_in ? pkt : d_in);
}

/* The pool's time in timeout recovery since the last interval, summed
 * over its connections (ms; 0 where the kernel does not say), into
 * rto_ms; rto_pct: of the connection-time of the interval (@dt ms). */
static void
pool_rto(struct etun *t, uint64_t dt)
{
	uint64_t sum = 0;

	for (unsigned int i = 0; i < t->wanted; i++) {
		struct etun_conn *c = &t->conns[i];
		uint32_t ms;

		if (c->state != ETUN_CONN_UP ||
		    (ms = etun_tcp_rto_time(c->fd)) == ETUN_RTO_TIME_NONE)
			continue;
		if (ms > c->rto_seen)
			sum += ms - c->rto_seen;
		c->rto_seen = ms;
	}
	t->c.rto_ms += sum;
	t->c.rto_pct = t->up && dt ? sum * 100 / (t->up * dt) : 0;
}

static void
control(struct etun *t, uint64_t now)
{
	uint64_t dt = now - t->last_tick_ms;
	uint64_t waits = t->c.cap_waits - t->cap_at_tick; /* this interval */
	struct etun_ctrl_in in = {
		.conns = t->wanted,
		.pending = t->up < t->wanted ? t->wanted - t->up : 0,
		.goodput_bps = dt ? interval_goodput(t) * 8000 / dt : 0,
		.backlogged = backlogged(t, now, waits),
		.capped = waits != 0,
	};

	t->cap_at_tick = t->c.cap_waits;
	t->last_tick_ms = now;
	pool_rto(t, dt);
	t->c.goodput_kbps = in.goodput_bps / 1000;
	etun_cap_trim(&t->cap, t->ctrl.target_bps, in.goodput_bps,
		      t->cap_trim_pct / 100.0, in.capped, in.backlogged);
	if (t->up == 0) {
		t->state = ETUN_ST_DOWN;
		etun_ctrl_reset(&t->ctrl);
		return;
	}
	t->wanted = etun_ctrl_step(&t->ctrl, &in, &t->state);
	itm_log(LOG_DEBUG,
		"etunnel %s: interval %llu ms: goodput %llu kbit/s (smoothed "
		"%.0f)%s%s, pool %u -> %u: %s",
		t->name, (unsigned long long)dt,
		(unsigned long long)in.goodput_bps / 1000, t->ctrl.g_avg / 1000,
		in.backlogged ? ", backlogged" : "",
		in.capped ? ", capped" : "", in.conns, t->wanted,
		etun_state_name(t->state));
}

/* A connection the pool no longer wants takes no frames; once the exit
 * acknowledged all it was given (SIOCOUTQ 0) it sends a FIN, the exit
 * reads to the end and closes, and conn_read() closes on that EOF with
 * nothing to send again.  Closed at once, it reset with frames in
 * flight and every stream sent its unacknowledged bytes again: the
 * tunnel dipped at each probe or shrink (to 20 Mbit/s at k = 2,
 * measured).  RETIRE_MS at most, then closed as before. */
static void
retire(struct etun *t, struct etun_conn *c, uint64_t now)
{
	int outq = 0;

	if (c->state != ETUN_CONN_UP) {
		conn_close(t, c, 0);
		return;
	}
	if (c->retiring == ETUN_RETIRE_NO) {
		c->retiring = ETUN_RETIRE_ACKS;
		c->retire_ms = now;
	}
	if (c->retiring == ETUN_RETIRE_ACKS &&
	    ioctl(c->fd, SIOCOUTQ, &outq) == 0 && outq == 0 &&
	    shutdown(c->fd, SHUT_WR) == 0)
		c->retiring = ETUN_RETIRE_FIN;
	if (now - c->retire_ms >= RETIRE_MS)
		conn_close(t, c, 0);
}

/* Open what is wanted and due, retire what is no longer wanted (one
 * wanted again before its FIN takes frames again; after it, it ends). */
static void
reconcile(struct etun *t, uint64_t now)
{
	for (unsigned int i = 0; i < ETUN_MAX_CONNS; i++) {
		struct etun_conn *c = &t->conns[i];

		if (i < t->wanted && c->retiring == ETUN_RETIRE_ACKS)
			c->retiring = ETUN_RETIRE_NO;
		if (i < t->wanted && c->state == ETUN_CONN_IDLE &&
		    now >= c->retry_ms)
			conn_open(t, c);
		else if ((i >= t->wanted || c->retiring) &&
			 c->state != ETUN_CONN_IDLE && c->len == 0)
			retire(t, c, now);
	}
	if (t->express && t->conns[ETUN_EXPRESS].state == ETUN_CONN_IDLE &&
	    now >= t->conns[ETUN_EXPRESS].retry_ms)
		conn_open(t, &t->conns[ETUN_EXPRESS]);
}

/* Connections out of recovery, or drained, take frames again.  (Drained
 * is normally signalled by the fd turning writable; with itm-agent
 * --workers a packet callback cannot ask for that, and the tick sees it.) */
static void
recheck_conns(struct etun *t)
{
	for (unsigned int i = 0; i < ETUN_SLOTS; i++) {
		struct etun_conn *c = &t->conns[i];
		int unsent = 0;

		if (c->state == ETUN_CONN_HANDSHAKE &&
		    etun_now_ms() >= c->retry_ms)
			tls_refused(t, c, "handshake timed out");
		if (c->state != ETUN_CONN_UP) {
			c->recovering = c->full = 0;
			continue;
		}
		if (c->recovering && !c->stuck && !in_recovery(c))
			c->recovering = 0;
		if (c->full && c->len == 0 &&
		    ioctl(c->fd, SIOCOUTQNSD, &unsent) == 0 &&
		    (uint32_t)unsent < t->unsent)
			c->full = 0;
	}
}

/* Send a frame of a stuck connection again on another (one with cwnd
 * room first): 1 when one took it. */
static int
resend_cb(const struct etun_sent *s, void *arg)
{
	struct etun *t = arg;
	struct etun_conn *c = t->cwnd_room ? pick_rr(t, 1) : NULL;
	uint8_t hdr[ETUN_FRAME_HDR];

	if (c == NULL && (c = pick_rr(t, 0)) == NULL)
		return 0;
	etun_frame_hdr(hdr, s->len, s->cls == ETUN_CLS_SHORT ? ETUN_F_SHORT : 0,
		       s->seq);
	return conn_write(t, c, hdr, s->pkt, s->len);
}

/* How long a connection may go without ACK progress before its frames go
 * again: twice its srtt + 4 rttvar (an RTO without the kernel's 200 ms
 * floor; at least STUCK_MIN_MS) and a delayed ACK (DELACK_MS): a fast
 * retransmit gets through sooner (the exit's wait covers it), a timeout
 * or a lost retransmission does not.  From us of srtt + 4 rttvar. */
static uint64_t
stuck_after_ms(uint64_t rto_us)
{
	uint64_t rto = rto_us / 1000;

	return 2 * (rto > STUCK_MIN_MS ? rto : STUCK_MIN_MS) + DELACK_MS;
}

/* A connection whose peer acknowledged nothing new for a while
 * (stuck_after_ms) holds frames the exit waits for: they go again on the
 * others (sentlog.h), and it takes no more until it makes progress. */
int
etun_conn_check_stuck(struct etun_conn *c, uint64_t now, uint64_t *acked)
{
	struct tcp_info ti;
	socklen_t l = sizeof(ti);
	int outq = 0;

	if (ioctl(c->fd, SIOCOUTQ, &outq) < 0 || outq < 0)
		return 0;
	*acked = c->written > (uint64_t)outq ? c->written - (uint64_t)outq : 0;
	if (outq == 0 || *acked != c->acked_seen) {
		c->acked_seen = *acked;
		c->progress_ms = now;
		if (c->stuck) /* (recovering may be skip_recovering's too) */
			c->stuck = c->recovering = 0;
		return 0;
	}
	if (c->stuck || now - c->progress_ms < STUCK_MIN_MS ||
	    getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &l) < 0 ||
	    now - c->progress_ms <
		    stuck_after_ms(ti.tcpi_rtt + 4 * (uint64_t)ti.tcpi_rttvar))
		return 0;
	c->stuck = c->recovering = 1;
	return 1;
}

static void
check_stuck(struct etun *t, struct etun_conn *c, uint64_t now)
{
	uint64_t acked;

	if (!etun_conn_check_stuck(c, now, &acked))
		return;
	t->c.stuck++;
	t->c.resent += etun_sentlog_unacked(t->sent, (uint16_t)(c - t->conns),
					    acked, resend_cb, t);
	t->c.resent +=
		etun_split_conn_stuck(t, (uint16_t)(c - t->conns), acked);
}

static void
check_pool_stuck(struct etun *t, uint64_t now)
{
	for (unsigned int i = 0; t->sent && i < t->wanted; i++)
		if (t->conns[i].state == ETUN_CONN_UP)
			check_stuck(t, &t->conns[i], now);
}

/* How long a retransmission on a pool connection trails the frames of
 * the others: the largest srtt + 4 rttvar of the pool (TCP_INFO), us. */
static uint32_t
pool_trail_us(const struct etun *t)
{
	uint32_t max = 0;

	for (unsigned int i = 0; i < t->wanted; i++) {
		const struct etun_conn *c = &t->conns[i];
		struct tcp_info ti;
		socklen_t l = sizeof(ti);

		if (c->state == ETUN_CONN_UP &&
		    getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &l) == 0 &&
		    ti.tcpi_rtt + 4 * ti.tcpi_rttvar > max)
			max = ti.tcpi_rtt + 4 * ti.tcpi_rttvar;
	}
	return max;
}

/* Tell the exit how long to wait for a gap (a WAIT frame on the first
 * connection free for it) when the estimate moved by an eighth: the time
 * to find a connection stuck, a tick, and the copy's trip. */
static void
send_wait(struct etun *t)
{
	uint32_t trail = pool_trail_us(t), last = t->wait_sent_us, us;
	uint8_t hdr[ETUN_FRAME_HDR];

	if (trail == 0)
		return;
	us = (uint32_t)(stuck_after_ms(trail) + ETUN_TICK_MS) * 1000 + trail;
	if (us > last - last / 8 && us < last + last / 8)
		return;
	etun_frame_hdr(hdr, 0, ETUN_F_WAIT, us);
	for (unsigned int i = 0; i < t->wanted; i++) {
		struct etun_conn *c = &t->conns[i];

		if (c->state == ETUN_CONN_UP && c->len == 0) {
			if (conn_write(t, c, hdr, hdr, 0))
				t->wait_sent_us = us;
			return;
		}
	}
}

void
etun_pool_tick(struct etun *t)
{
	uint64_t now = etun_now_ms();

	if (t->tls)
		etun_tls_recheck(t, conn_cut);
	recheck_conns(t);

	if (now - t->last_tick_ms >= t->interval_ms)
		control(t, now);
	reconcile(t, now);
	if (t->up) {
		check_pool_stuck(t, now);
		send_wait(t);
	}
	if (t->up == 0) {
		while (etun_entq_pkts(t->q)) {
			etun_entq_pop(t->q);
			t->c.entry_drops++;
		}
	}
	flush(t);
	etun_split_tick(t);
	t->c.conns = t->up;
	t->c.conns_wanted = t->wanted;
	t->c.state = (uint64_t)t->state;
	t->c.queue_bytes = etun_entq_bytes(t->q);
}

int
etun_pool_start(struct etun *t)
{
	for (unsigned int i = 0; i < ETUN_SLOTS; i++) {
		t->conns[i].t = t;
		t->conns[i].fd = -1;
	}
	for (unsigned int i = 0; i < t->ctrl.max_conns; i++)
		if ((t->conns[i].buf = malloc(ETUN_CONN_BUF)) == NULL)
			return -ENOMEM;
	if ((t->conns[ETUN_EXPRESS].buf = malloc(ETUN_CONN_BUF)) == NULL)
		return -ENOMEM;
	for (unsigned int i = 0; t->split && i < ETUN_SLOTS; i++)
		if ((i < t->ctrl.max_conns || i == ETUN_EXPRESS) &&
		    t->conns[i].rbuf == NULL &&
		    (t->conns[i].rbuf = malloc(2 * ETUN_CONN_BUF)) == NULL)
			return -ENOMEM;
	if (t->scratch == NULL && (t->scratch = malloc(t->mtu)) == NULL)
		return -ENOMEM;
	if (t->resend_frames && t->sent == NULL &&
	    (t->sent = etun_sentlog_new(t->resend_frames, t->mtu)) == NULL)
		return -ENOMEM;
	t->wanted = t->ctrl.min_conns;
	t->state = ETUN_ST_DOWN;
	t->last_tick_ms = etun_now_ms();
	etun_cap_init(&t->cap, t->ctrl.target_bps, 2 * t->chunk, t->cap_on,
		      etun_now_us());
	t->session = (uint32_t)random() ^ (uint32_t)t->last_tick_ms;
	reconcile(t, t->last_tick_ms);
	return 0;
}

void
etun_pool_stop(struct etun *t)
{
	for (unsigned int i = 0; i < ETUN_SLOTS; i++) {
		conn_close(t, &t->conns[i], 0);
		free(t->conns[i].buf);
		free(t->conns[i].rbuf);
		t->conns[i].buf = t->conns[i].rbuf = NULL;
	}
}
