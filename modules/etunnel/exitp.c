/*
 * exitp.c - the tunnel exit: admit pool connections from the peer only,
 * read frames, put the packets back in order and re-inject them.
 *
 * A connection from any other address is reset at once and counted; with
 * mutual TLS (tls.c) the peer's must also pass the handshake with a
 * certificate signed by the tunnel's CA, or it is reset and counted.  A
 * broken stream (a bad header) closes its connection.  A packet whose
 * destination lies outside the tunnel's prefixes is dropped and counted:
 * the exit never becomes an open relay.  Packets leave through a raw
 * IPPROTO_RAW socket (the IP header as the entry stole it), cut to the
 * MTU first when the entry stole a GSO packet (seg.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/sockios.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <syslog.h>

#include "etunnel.h"
#include "tcpseg.h"

#define EXIT_BUF (2 * ETUN_CONN_BUF)

static int
inject_seg(const uint8_t *seg, uint16_t len, void *arg)
{
	struct etun *t = arg;
	struct sockaddr_in sa = { .sin_family = AF_INET };

	memcpy(&sa.sin_addr, seg + 16, 4); /* seg may be unaligned */

	if (sendto(t->rawfd, seg, len, 0, (struct sockaddr *)&sa, sizeof(sa)) <
	    0) {
		t->c.inject_errors++;
		return 0; /* counted; the next segments still go */
	}
	t->c.pkts_out++;
	t->c.bytes_out += len;
	return 0;
}

static void
deliver(const uint8_t *pkt, uint16_t len, uint8_t flags, void *arg)
{
	struct etun *t = arg;

	(void)flags;
	if (tcpseg_split(pkt, len, t->mtu, t->scratch, inject_seg, t) < 0)
		t->c.inject_errors++;
}

#define HANDSHAKE_MS 5000 /* a TLS handshake longer than this is dropped */

/* Close @c; @clean: the entry ended it (retire() in pool.c) and all
 * this end wrote on it was acknowledged, nothing to send again. */
static void
exit_close_how(struct etun *t, struct etun_conn *c, int clean)
{
	itm_unregister_fd(c->fd);
	etun_tls_conn_free(c->tls);
	c->tls = NULL;
	close(c->fd);
	c->fd = -1;
	if (c->state == ETUN_CONN_UP) {
		t->up--;
		t->c.disconnects++;
		if (!clean)
			etun_split_conn_lost(t); /* its frames may be gone */
	}
	c->state = ETUN_CONN_IDLE;
	c->len = c->off = 0;
	c->olen = c->ooff = 0;
	c->ofull = c->stuck = 0;
	c->written = c->acked_seen = 0;
}

static void
exit_close(struct etun *t, struct etun_conn *c)
{
	exit_close_how(t, c, 0);
}

/* The entry's FIN: clean when nothing this end wrote is still out. */
static void
exit_eof(struct etun *t, struct etun_conn *c)
{
	int outq = -1;

	exit_close_how(t, c,
		       c->olen == 0 && ioctl(c->fd, SIOCOUTQ, &outq) == 0 &&
			       outq == 0);
}

/* read(2), or SSL_read with TLS: bytes, 0 at the end, or -1 (errno). */
static ssize_t
exit_recv(struct etun_conn *c, void *buf, size_t len)
{
	int r;

	if (c->tls == NULL)
		return read(c->fd, buf, len);
	r = etun_tls_read(c->tls, buf, len);
	if (r > 0)
		return r;
	if (r == ETUN_TLS_CLOSED)
		return 0;
	errno = r == ETUN_TLS_ERROR ? EPROTO : EAGAIN;
	return -1;
}

/* The entry's estimate of how long a retransmitted packet trails the
 * others, within [reorder_wait_ms, reorder_wait_max_ms]: the reorder
 * wait from the next gap on. */
static void
set_wait(struct etun *t, uint32_t us)
{
	if (us > t->ro_wait_max_us)
		us = t->ro_wait_max_us;
	if (us < t->ro_wait_us)
		us = t->ro_wait_us;
	for (int k = 0; k < ETUN_CLS_N; k++)
		etun_reorder_set_wait(t->ro[k], us);
	t->c.reorder_wait_ms = us / 1000;
}

/* One frame from the entry: 0, or -1 when the stream is broken. */
static int
on_frame(struct etun *t, const struct etun_frame *f)
{
	const uint8_t *ip = f->data; /* any alignment: read bytes */
	uint32_t daddr;

	if (f->flags & ETUN_F_STREAM)
		return etun_split_frame(t, f);
	if (f->flags & ETUN_F_WAIT) {
		set_wait(t, f->seq);
		return 0;
	}
	if (f->flags & ETUN_F_HELLO) {
		if (!t->have_session || f->seq != t->cur_session) {
			etun_reorder_reset(t->ro[ETUN_CLS_SHORT]);
			etun_reorder_reset(t->ro[ETUN_CLS_LONG]);
			if (t->have_session)
				etun_split_reset_all(t, "a new entry session");
			t->cur_session = f->seq;
			t->have_session = 1;
		}
		return 0;
	}
	t->c.frames_in++;
	memcpy(&daddr, ip + 16, sizeof(daddr));
	if (ip[0] >> 4 != 4 || (ip[2] << 8 | ip[3]) != f->len ||
	    !etun_dst_match(t, daddr) ||
	    !etun_l4_ip_match(&t->l4, f->data, f->len)) {
		t->c.frames_outside++;
		return 0;
	}
	etun_reorder_push(t->ro[(f->flags & ETUN_F_SHORT) ? ETUN_CLS_SHORT
							  : ETUN_CLS_LONG],
			  f->seq, f->flags, f->data, f->len, etun_now_us());
	return 0;
}

/* Parse the frames read so far; 0, or -1 when the stream is broken. */
static int
parse_frames(struct etun *t, struct etun_conn *c)
{
	struct etun_frame f;
	size_t used;
	enum etun_parse r;

	while ((r = etun_frame_parse(c->buf + c->off, c->len - c->off, &f,
				     &used)) == ETUN_PARSE_OK) {
		if (on_frame(t, &f) < 0)
			return -1;
		c->off += (uint32_t)used;
	}
	if (r == ETUN_PARSE_BAD)
		return -1;
	memmove(c->buf, c->buf + c->off, c->len - c->off);
	c->len -= c->off;
	c->off = 0;
	return 0;
}

/* Read once from @c; 1 when bytes came (and were parsed). */
static int
exit_read(struct etun *t, struct etun_conn *c)
{
	ssize_t n = exit_recv(c, c->buf + c->len, EXIT_BUF - c->len);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n == 0) {
		exit_eof(t, c);
		return 0;
	}
	if (n < 0) {
		exit_close(t, c);
		return 0;
	}
	c->len += (uint32_t)n;
	if (parse_frames(t, c) < 0) {
		t->c.frames_bad++;
		itm_log(LOG_WARNING,
			"etunnel %s: bad frame from the peer: "
			"connection closed",
			t->name);
		exit_close(t, c);
		return 0;
	}
	return 1;
}

/* Write what is left of the frame in c->obuf: 1 when all of it went. */
static int
exit_drain_out(struct etun *t, struct etun_conn *c)
{
	while (c->ooff < c->olen) {
		ssize_t n;

		if (c->tls) {
			int r = etun_tls_write(c->tls, c->obuf + c->ooff,
					       c->olen - c->ooff);

			n = r > 0 ? r : -1;
			errno = r == ETUN_TLS_ERROR ? EPROTO : EAGAIN;
			c->written = etun_tls_wire_written(c->tls);
		} else if ((n = send(c->fd, c->obuf + c->ooff,
				     c->olen - c->ooff, MSG_NOSIGNAL)) > 0) {
			c->written += (uint64_t)n;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			exit_close(t, c);
			return 0;
		}
		c->ooff += (uint32_t)n;
	}
	c->ooff = c->olen = 0;
	return 1;
}

/* After a write: more than `unsent` bytes not sent yet, or a frame
 * half written, and @c takes nothing until the fd is writable. */
static void
exit_check_unsent(struct etun *t, struct etun_conn *c)
{
	int unsent = 0;

	if (c->state != ETUN_CONN_UP)
		return;
	if (c->olen == 0 && ioctl(c->fd, SIOCOUTQNSD, &unsent) == 0 &&
	    (uint32_t)unsent < t->unsent)
		return;
	c->ofull = 1;
	itm_modify_fd(c->fd, ITM_FD_READ | ITM_FD_WRITE);
}

struct etun_conn *
etun_exit_pick(struct etun *t)
{
	for (unsigned int k = 0; k <= t->ctrl.max_conns; k++) {
		unsigned int i = (t->rr + k) % (t->ctrl.max_conns + 1);
		struct etun_conn *c = &t->conns[i];

		if (c->state == ETUN_CONN_UP && c->obuf && c->olen == 0 &&
		    !c->ofull && !c->stuck) {
			t->rr = i + 1;
			return c;
		}
	}
	return NULL;
}

int
etun_exit_put(struct etun *t, struct etun_conn *c, const uint8_t *hdr,
	      size_t hlen, const uint8_t *data, uint32_t len)
{
	memcpy(c->obuf, hdr, hlen);
	if (len)
		memcpy(c->obuf + hlen, data, len);
	c->olen = (uint32_t)hlen + len;
	c->ooff = 0;
	t->c.frames_out++;
	exit_drain_out(t, c);
	exit_check_unsent(t, c);
	return 1;
}

/* A TLS handshake failed (or took too long): counted, logged with
 * OpenSSL's reason (the first ten, then one in a hundred), closed: a
 * failed handshake with FIN after OpenSSL's alert (a reset could
 * discard the alert, and the entry would not learn why), one that took
 * too long (@why given) with a reset. */
static void
tls_refuse(struct etun *t, struct etun_conn *c, const char *why)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	char buf[256];

	if (t->c.tls_refused++ < 10 || t->c.tls_refused % 100 == 0)
		itm_log(LOG_WARNING,
			"etunnel %s: TLS from %s refused (%llu so far): %s",
			t->name, inet_ntoa(t->peer),
			(unsigned long long)t->c.tls_refused,
			why ? why : etun_tls_why(c->tls, buf, sizeof(buf)));
	if (why)
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	exit_close(t, c);
}

/* One step of the TLS handshake; the connection is up when it is done. */
static void
exit_handshake(struct etun *t, struct etun_conn *c)
{
	int r = etun_tls_handshake(c->tls);

	if (r == 1) {
		c->state = ETUN_CONN_UP;
		t->up++;
		t->c.connects++;
		itm_modify_fd(c->fd, ITM_FD_READ);
	} else if (r == ETUN_TLS_WANT_READ) {
		itm_modify_fd(c->fd, ITM_FD_READ);
	} else if (r == ETUN_TLS_WANT_WRITE) {
		itm_modify_fd(c->fd, ITM_FD_READ | ITM_FD_WRITE);
	} else {
		tls_refuse(t, c, NULL);
	}
}

static void
exit_conn_cb(int fd, unsigned int revents, void *arg)
{
	struct etun_conn *c = arg;

	(void)fd;
	if (c->state == ETUN_CONN_HANDSHAKE) {
		exit_handshake(c->t, c);
		return;
	}
	if ((revents & ITM_FD_WRITE) && c->state == ETUN_CONN_UP) {
		c->ofull = 0;
		if (exit_drain_out(c->t, c)) {
			itm_modify_fd(c->fd, ITM_FD_READ);
			exit_check_unsent(c->t, c);
		}
	}
	/* OpenSSL may hold decrypted bytes the socket no longer signals */
	while (c->state == ETUN_CONN_UP && exit_read(c->t, c) && c->tls &&
	       etun_tls_pending(c->tls) > 0)
		;
	etun_split_flush(c->t);
}

/* Handshakes that did not end in time take a slot: reset them. */
static void
exit_handshake_timeouts(struct etun *t, uint64_t now)
{
	for (unsigned int i = 0; i <= t->ctrl.max_conns; i++)
		if (t->conns[i].state == ETUN_CONN_HANDSHAKE &&
		    now >= t->conns[i].retry_ms)
			tls_refuse(t, &t->conns[i], "handshake timed out");
}

/* Read what every connection holds, so a gap is given up only for
 * packets that really have not arrived. */
static void
exit_drain(struct etun *t)
{
	for (unsigned int i = 0; i <= t->ctrl.max_conns; i++) {
		struct etun_conn *c = &t->conns[i];

		for (int k = 0; k < 64 && c->state == ETUN_CONN_UP; k++)
			if (!exit_read(t, c))
				break;
	}
}

/* Reset (not just close) a connection that is not the peer's. */
static void
refuse(struct etun *t, int fd, const struct sockaddr_in *from, const char *why)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
	if (t->c.conns_refused++ < 10)
		itm_log(LOG_WARNING,
			"etunnel %s: connection from %s refused: %s", t->name,
			inet_ntoa(from->sin_addr), why);
}

static struct etun_conn *
free_slot(struct etun *t)
{
	for (unsigned int i = 0; i <= t->ctrl.max_conns; i++) /* + express */
		if (t->conns[i].state == ETUN_CONN_IDLE)
			return &t->conns[i];
	return NULL;
}

/* A connection from the peer: up, or first the TLS handshake. */
static void
admit(struct etun *t, struct etun_conn *c, int fd)
{
	int one = 1, low = (int)t->unsent;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (t->split)
		setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &low,
			   sizeof(low));
	c->fd = fd;
	c->len = c->off = 0;
	c->progress_ms = etun_now_ms();
	if (t->tls == NULL) {
		c->state = ETUN_CONN_UP;
		t->up++;
		t->c.connects++;
		return;
	}
	c->state = ETUN_CONN_HANDSHAKE;
	c->retry_ms = etun_now_ms() + HANDSHAKE_MS;
	etun_tls_recheck(t, exit_close);
	if ((c->tls = etun_tls_conn_new(t->tls, fd)) == NULL)
		tls_refuse(t, c, "no memory for a TLS session");
}

static void
accept_cb(int lfd, unsigned int revents, void *arg)
{
	struct etun *t = arg;
	struct sockaddr_in from;
	socklen_t l = sizeof(from);
	struct etun_conn *c;
	int fd;

	(void)revents;
	while ((fd = accept4(lfd, (struct sockaddr *)&from, &l,
			     SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (from.sin_family != AF_INET ||
		    from.sin_addr.s_addr != t->peer.s_addr) {
			refuse(t, fd, &from, "not the peer");
		} else if ((c = free_slot(t)) == NULL) {
			refuse(t, fd, &from, "more than max_conns + 1");
		} else if (itm_register_fd(fd, ITM_FD_READ, exit_conn_cb, c) <
			   0) {
			close(fd);
		} else {
			admit(t, c, fd);
		}
		l = sizeof(from);
	}
}

static int
listen_on(struct etun *t)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr = t->local,
				  .sin_port = htons(t->port) };
	int one = 1;

	t->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->lfd < 0)
		return -errno;
	setsockopt(t->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(t->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(t->lfd, 64) < 0)
		return -errno;
	return itm_register_fd(t->lfd, ITM_FD_READ, accept_cb, t);
}

int
etun_exit_start(struct etun *t)
{
	int rc;

	t->lfd = t->rawfd = -1;
	for (unsigned int i = 0; i < ETUN_SLOTS; i++) {
		t->conns[i].t = t;
		t->conns[i].fd = -1;
	}
	for (unsigned int i = 0; i <= t->ctrl.max_conns; i++)
		if ((t->conns[i].buf = malloc(EXIT_BUF)) == NULL ||
		    (t->conns[i].obuf = malloc(ETUN_CONN_BUF)) == NULL)
			return -ENOMEM;
	for (int k = 0; k < ETUN_CLS_N; k++)
		if ((t->ro[k] = etun_reorder_new(t->ro_window, t->ro_bytes,
						 t->ro_wait_us, deliver, t)) ==
		    NULL)
			return -ENOMEM;
	t->scratch = malloc(t->mtu);
	if (t->scratch == NULL)
		return -ENOMEM;
	t->rawfd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (t->rawfd < 0)
		return -errno;
	if ((rc = listen_on(t)) < 0)
		return rc;
	t->state = ETUN_ST_EXIT;
	t->c.reorder_wait_ms = t->ro_wait_us / 1000;
	return 0;
}

void
etun_exit_stop(struct etun *t)
{
	for (unsigned int i = 0; i < ETUN_SLOTS; i++) {
		if (t->conns[i].state != ETUN_CONN_IDLE)
			exit_close(t, &t->conns[i]);
		free(t->conns[i].buf);
		free(t->conns[i].obuf);
		t->conns[i].buf = t->conns[i].obuf = NULL;
	}
	if (t->lfd >= 0) {
		itm_unregister_fd(t->lfd);
		close(t->lfd);
	}
	if (t->rawfd >= 0)
		close(t->rawfd);
	for (int k = 0; k < ETUN_CLS_N; k++) {
		etun_reorder_free(t->ro[k]);
		t->ro[k] = NULL;
	}
	free(t->scratch);
	t->lfd = t->rawfd = -1;
	t->scratch = NULL;
}

/* Split TCP: a connection without ACK progress for about two RTOs holds
 * the streams' chunks it carries: they go again on the others (the entry
 * keeps the first copy of an offset), and it takes none until it makes
 * progress. */
static void
exit_check_stuck(struct etun *t, uint64_t now)
{
	for (unsigned int i = 0; i <= t->ctrl.max_conns; i++) {
		struct etun_conn *c = &t->conns[i];
		uint64_t acked;

		if (c->state != ETUN_CONN_UP ||
		    !etun_conn_check_stuck(c, now, &acked))
			continue;
		t->c.stuck++;
		t->c.resent += etun_split_conn_stuck(t, (uint16_t)i, acked);
	}
}

void
etun_exit_tick(struct etun *t)
{
	uint64_t now = etun_now_ms();

	if (etun_reorder_held(t->ro[0]) || etun_reorder_held(t->ro[1])) {
		exit_drain(t);
		for (int k = 0; k < ETUN_CLS_N; k++)
			etun_reorder_tick(t->ro[k], etun_now_us());
	}
	t->c.reorder_late = t->c.reorder_gaps = t->c.reorder_overflow = 0;
	t->c.reorder_dups = 0;
	for (int k = 0; k < ETUN_CLS_N; k++) {
		const struct etun_reorder_stats *st =
			etun_reorder_stats(t->ro[k]);

		t->c.reorder_late += st->late;
		t->c.reorder_gaps += st->gaps;
		t->c.reorder_overflow += st->overflow;
		t->c.reorder_dups += st->dups;
	}
	if (t->tls) {
		etun_tls_recheck(t, exit_close);
		exit_handshake_timeouts(t, now);
	}
	if (t->split)
		exit_check_stuck(t, now);
	etun_split_tick(t);
	t->c.conns = t->up;
	t->c.state = (uint64_t)t->state;
	if (now - t->last_tick_ms >= t->interval_ms) {
		t->c.goodput_kbps = (t->c.bytes_out - t->last_in_bytes) * 8 /
				    (now - t->last_tick_ms);
		t->last_in_bytes = t->c.bytes_out;
		t->last_tick_ms = now;
	}
}
