/*
 * split.c - split TCP (tcp=split): a user's TCP connection is terminated
 * at the entry and its bytes ride the pool, so a pool connection's loss
 * never reaches the user's congestion control (RFC 3135's PEPs).
 *
 * Entry: srules.c sends the users' SYNs towards the tunnel's prefixes to
 * a transparent listener (TPROXY) while the pool is up; an accepted
 * socket's local address is the original destination.  Exit: a
 * transparent socket bound to the client's address and port connects to
 * that destination (the server sees the client), and srules.c delivers
 * the replies to it.  Each connection is a stream (frame.h: DATA, FIN,
 * RST, ACK with the stream's id) in both directions over the pool's
 * connections: the bytes read from one socket are cut in chunks of
 * `chunk` bytes, each chunk a DATA frame on the next connection ready,
 * put back in order by offset at the other end and written to the other
 * socket.  The receiver acknowledges what it wrote (ACK); a sender keeps
 * at most `stream_win` bytes not acknowledged and reads its socket only
 * below that, so a slow far end closes the user's TCP window instead of
 * filling memory.  The chunks stay until acknowledged: when a pool
 * connection is lost, every stream sends what is unacknowledged again
 * (the receiver drops what it has), nothing is given up.  A stream that
 * had bytes the pool could not take counts as a stall: the controller's
 * backlog, as an entry drop is for packets.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <syslog.h>

#include "etunnel.h"

#define HASH	    256
#define CLOSED_IDS  1024 /* exit: ids remembered after their end */
#define LISTEN_BACK 128

struct etun_chunk {
	struct etun_chunk *next;
	uint64_t off;
	uint32_t len;
	uint16_t conn;	   /* the pool connection it went on */
	uint64_t conn_end; /* where it ends in that one's bytes */
	uint8_t data[];
};

struct etun_stream {
	struct etun_stream *next, *prev, *hnext;
	struct etun *t;
	uint32_t id;
	int fd, events;
	int connecting; /* exit: the connect has not ended */
	int opened;	/* the peer knows the stream (entry: an ACK came) */
	int open_sent;	/* entry: a frame with the addresses went */
	uint32_t saddr, daddr;
	uint16_t sport, dport;
	/* our socket -> the peer */
	struct etun_chunk *out, *out_tail;
	uint64_t out_read, out_sent, out_acked;
	int rd_eof, fin_sent, fin_acked;
	/* the peer -> our socket */
	struct etun_chunk *in;
	uint64_t in_deliv, in_told, in_fin;
	int have_fin, wr_shut, fin_told, ack_due;
};

struct etun_split {
	struct etun_stream *all, *hash[HASH];
	uint32_t next_id;
	int lfd;		 /* entry: the transparent listener */
	int rules;		 /* the rules are in */
	uint64_t rules_retry_ms; /* entry: no new try before */
	int rewind;		 /* a pool connection was lost */
	uint32_t closed[CLOSED_IDS];
	unsigned int n_closed;
	uint32_t rr;	  /* the stream to serve first */
	uint64_t unacked; /* of every stream this end sends: <= stream_mem */
	int mem_full;	  /* a stream found no room in stream_mem */
};

static struct etun_stream *
find(struct etun_split *sp, uint32_t id)
{
	struct etun_stream *s = sp->hash[id % HASH];

	while (s && s->id != id)
		s = s->hnext;
	return s;
}

static int
was_closed(const struct etun_split *sp, uint32_t id)
{
	unsigned int n = sp->n_closed < CLOSED_IDS ? sp->n_closed : CLOSED_IDS;

	for (unsigned int i = 0; i < n; i++)
		if (sp->closed[i] == id)
			return 1;
	return 0;
}

static void
chunks_free(struct etun_chunk *c)
{
	while (c) {
		struct etun_chunk *n = c->next;

		free(c);
		c = n;
	}
}

static void stream_io(int fd, unsigned int revents, void *arg);
static void rewind_streams(struct etun *t);

static struct etun_stream *
stream_new(struct etun *t, uint32_t id, int fd)
{
	struct etun_split *sp = t->sp;
	struct etun_stream *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->t = t;
	s->id = id;
	s->fd = fd;
	s->next = sp->all;
	if (sp->all)
		sp->all->prev = s;
	sp->all = s;
	s->hnext = sp->hash[id % HASH];
	sp->hash[id % HASH] = s;
	t->c.streams_open++;
	t->c.streams_total++;
	return s;
}

static void
stream_free(struct etun *t, struct etun_stream *s, int reset)
{
	struct etun_split *sp = t->sp;
	struct etun_stream **pp = &sp->hash[s->id % HASH];
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	while (*pp != s)
		pp = &(*pp)->hnext;
	*pp = s->hnext;
	if (s->prev)
		s->prev->next = s->next;
	else
		sp->all = s->next;
	if (s->next)
		s->next->prev = s->prev;
	if (s->fd >= 0) {
		itm_unregister_fd(s->fd);
		if (reset)
			setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg,
				   sizeof(lg));
		close(s->fd);
	}
	if (reset)
		t->c.stream_resets++;
	sp->closed[sp->n_closed++ % CLOSED_IDS] = s->id;
	sp->unacked -= s->out_read - s->out_acked;
	chunks_free(s->out);
	chunks_free(s->in);
	t->c.streams_open--;
	free(s);
}

/* What @s may read now: the room in its window and in the bytes all
 * streams share (stream_mem), so a slow far end costs at most stream_kb
 * per stream and stream_mem_mb in all. */
static uint64_t
read_room(const struct etun *t, const struct etun_stream *s)
{
	uint64_t win = t->stream_win - (s->out_read - s->out_acked);
	uint64_t all = t->sp->unacked < t->stream_mem
			       ? t->stream_mem - t->sp->unacked
			       : 0;

	return win < all ? win : all;
}

/* Watch the socket for what the stream can do now. */
static void
stream_watch(struct etun *t, struct etun_stream *s)
{
	int ev = 0;

	if (s->connecting)
		ev = ITM_FD_WRITE;
	else {
		if (!s->rd_eof && read_room(t, s) > 0)
			ev |= ITM_FD_READ;
		if (s->in && s->in->off <= s->in_deliv)
			ev |= ITM_FD_WRITE;
	}
	if (ev != s->events && itm_modify_fd(s->fd, (unsigned int)ev) == 0)
		s->events = ev;
}

/* ------------------------------------------------------------------ */
/* Frames to the peer                                                   */
/* ------------------------------------------------------------------ */

static struct etun_conn *
pick(struct etun *t, const struct etun_stream *s, uint64_t off)
{
	enum etun_class cls =
		off < t->short_bytes ? ETUN_CLS_SHORT : ETUN_CLS_LONG;

	(void)s;
	return t->side == ETUN_ENTRY ? etun_pool_pick(t, cls)
				     : etun_exit_pick(t);
}

/* One frame of @s (head @sf, @len bytes of @data): 1 when a connection
 * took it (at the entry, noted in @ch when given: where the chunk went). */
static int
put_chunk(struct etun *t, struct etun_stream *s, struct etun_sframe *sf,
	  const uint8_t *data, uint32_t len, struct etun_chunk *ch)
{
	uint8_t hdr[ETUN_FRAME_HDR + ETUN_SF_HEAD + ETUN_SF_ADDRS];
	struct etun_conn *c = pick(t, s, sf->off);
	size_t hlen;

	if (c == NULL)
		return 0;
	sf->id = s->id;
	if (t->side == ETUN_ENTRY && !s->opened &&
	    (sf->type == ETUN_SF_DATA || sf->type == ETUN_SF_FIN)) {
		sf->sflags |= ETUN_SF_OPEN;
		sf->saddr = s->saddr;
		sf->sport = s->sport;
		sf->daddr = s->daddr;
		sf->dport = s->dport;
	}
	hlen = etun_sframe_hdr(hdr, sf, len);
	if (ch) {
		ch->conn = (uint16_t)(c - t->conns);
		ch->conn_end = c->written + hlen + len; /* before the write */
	}
	return t->side == ETUN_EXIT ? etun_exit_put(t, c, hdr, hlen, data, len)
				    : etun_pool_put(t, c, hdr, hlen, data, len);
}

static int
put(struct etun *t, struct etun_stream *s, struct etun_sframe *sf,
    const uint8_t *data, uint32_t len)
{
	return put_chunk(t, s, sf, data, len, NULL);
}

static int
send_ack(struct etun *t, struct etun_stream *s)
{
	struct etun_sframe sf = { .type = ETUN_SF_ACK, .off = s->in_deliv };

	if (s->wr_shut)
		sf.sflags = ETUN_SF_FIN_DONE;
	s->ack_due = 0;
	if (!put(t, s, &sf, NULL, 0))
		return s->ack_due = 1, 0;
	s->in_told = s->in_deliv;
	s->fin_told = s->wr_shut;
	return 1;
}

static struct etun_chunk *
first_unsent(const struct etun_stream *s)
{
	struct etun_chunk *c = s->out;

	while (c && c->off < s->out_sent)
		c = c->next;
	return c;
}

/* May the chunk of @len bytes at @off go now (the entry's cap)?  0: it
 * waits in the stream's window, the user's TCP flow-controlled. */
static int
cap_take(struct etun *t, uint64_t off, uint32_t len)
{
	if (t->side != ETUN_ENTRY ||
	    etun_cap_take(&t->cap, len, off < t->short_bytes, etun_now_us()))
		return 1;
	t->c.cap_waits++;
	return 0;
}

/* The pool took none of the @len bytes the cap allowed: they go back in
 * the bucket; a stall (the controller's backlog) when the pool, not the
 * cap, is the limit. */
static void
cap_short(struct etun *t, uint32_t len)
{
	if (t->side != ETUN_ENTRY) {
		t->c.stalls++;
		return;
	}
	etun_cap_undo(&t->cap, len);
	if (etun_cap_pool_short(&t->cap, etun_now_us()))
		t->c.stalls++; /* the pool was the limit */
}

/* Send what @s has for the peer: 0 when the pool took no more.  What
 * was sent is noted before the frame goes: a connection lost while
 * writing it marks everything unacknowledged unsent again. */
static int
stream_send(struct etun *t, struct etun_stream *s)
{
	struct etun_chunk *c;
	struct etun_sframe sf;

	if (s->ack_due && !send_ack(t, s))
		return 0;
	if (t->side == ETUN_ENTRY && !s->opened && !s->open_sent) {
		sf = (struct etun_sframe){ .type = ETUN_SF_DATA };
		s->open_sent = 1;
		if (!put(t, s, &sf, NULL, 0))
			return s->open_sent = 0;
	}
	while ((c = first_unsent(s)) != NULL) {
		uint64_t was = s->out_sent;

		sf = (struct etun_sframe){ .type = ETUN_SF_DATA,
					   .off = c->off };
		if (!cap_take(t, c->off, c->len))
			return 0;
		s->out_sent = c->off + c->len;
		if (!put_chunk(t, s, &sf, c->data, c->len, c)) {
			s->out_sent = was;
			cap_short(t, c->len);
			return 0;
		}
	}
	if (s->rd_eof && !s->fin_sent && s->out_sent == s->out_read) {
		sf = (struct etun_sframe){ .type = ETUN_SF_FIN,
					   .off = s->out_read };
		s->fin_sent = 1;
		if (!put(t, s, &sf, NULL, 0))
			return s->fin_sent = 0;
	}
	return 1;
}

static void
send_rst(struct etun *t, uint32_t id)
{
	struct etun_stream tmp = { .id = id, .opened = 1 };
	struct etun_sframe sf = { .type = ETUN_SF_RST };

	(void)put(t, &tmp, &sf, NULL, 0); /* lost with no connection: the
					   * peer ends it with the pool */
}

/* Both directions ended and told: the stream is done. */
static int
stream_done(const struct etun_stream *s)
{
	return s->fin_acked && s->wr_shut && s->fin_told;
}

static void
stream_reset(struct etun *t, struct etun_stream *s, const char *why)
{
	if (t->c.stream_resets < 10)
		itm_log(LOG_INFO, "etunnel %s: stream %u reset: %s", t->name,
			s->id, why);
	send_rst(t, s->id);
	stream_free(t, s, 1);
}

/* Serve every stream once, round robin from where the last pass
 * stopped, until the pool takes no more. */
void
etun_split_flush(struct etun *t)
{
	struct etun_split *sp = t->sp;
	struct etun_stream *s, *next;
	uint64_t n;

	if (sp == NULL || sp->all == NULL)
		return;
	if (sp->rewind)
		rewind_streams(t);
	s = find(sp, sp->rr);
	if (s == NULL)
		s = sp->all;
	for (n = t->c.streams_open; n > 0 && s; n--) {
		next = s->next ? s->next : sp->all;
		if (!stream_send(t, s)) {
			sp->rr = s->id;
			return;
		}
		if (stream_done(s)) {
			if (next == s)
				next = NULL;
			stream_free(t, s, 0);
		}
		s = next;
	}
	sp->rr = s ? s->id : 0;
}

/* ------------------------------------------------------------------ */
/* The user's (entry) or the server's (exit) socket                     */
/* ------------------------------------------------------------------ */

/* Read what the window allows into chunks; -1 on an error. */
static int
stream_read(struct etun *t, struct etun_stream *s)
{
	uint64_t room;

	while (!s->rd_eof && (room = read_room(t, s)) > 0) {
		uint32_t want = room < t->chunk ? (uint32_t)room : t->chunk;
		struct etun_chunk *c = malloc(sizeof(*c) + want);
		ssize_t n;

		if (c == NULL)
			return -1;
		n = read(s->fd, c->data, want);
		if (n <= 0) {
			free(c);
			if (n == 0)
				s->rd_eof = 1;
			else if (errno == EAGAIN || errno == EINTR)
				break;
			else
				return -1;
			continue;
		}
		c->next = NULL;
		c->off = s->out_read;
		c->len = (uint32_t)n;
		*(s->out ? &s->out_tail->next : &s->out) = c;
		s->out_tail = c;
		s->out_read += (uint64_t)n;
		t->sp->unacked += (uint64_t)n;
		t->c.stream_bytes_read += (uint64_t)n;
	}
	if (!s->rd_eof && t->sp->unacked >= t->stream_mem && !t->sp->mem_full) {
		t->sp->mem_full = 1;
		t->c.stream_mem_waits++;
	}
	return 0;
}

/* Write the bytes that are in order; -1 on an error. */
static int
stream_deliver(struct etun *t, struct etun_stream *s)
{
	uint64_t before = s->in_deliv;

	while (!s->connecting && s->in && s->in->off <= s->in_deliv) {
		struct etun_chunk *c = s->in;
		uint64_t skip = s->in_deliv - c->off;
		ssize_t n;

		if (skip >= c->len) {
			s->in = c->next;
			free(c);
			continue;
		}
		n = send(s->fd, c->data + skip, c->len - skip, MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		s->in_deliv += (uint64_t)n;
		t->c.stream_bytes_written += (uint64_t)n;
	}
	if (s->have_fin && !s->wr_shut && s->in_deliv == s->in_fin &&
	    !s->connecting) {
		shutdown(s->fd, SHUT_WR);
		s->wr_shut = s->ack_due = 1;
	}
	if (s->in_deliv - s->in_told >= t->stream_win / 4 &&
	    s->in_deliv != before)
		s->ack_due = 1;
	return 0;
}

/* The exit's connect ended: the stream works, or it is reset. */
static void
connect_done(struct etun *t, struct etun_stream *s)
{
	int err = 0;
	socklen_t l = sizeof(err);

	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0 || err) {
		t->c.streams_refused++;
		stream_reset(t, s, err ? strerror(err) : "connect failed");
		return;
	}
	s->connecting = 0;
	if (stream_deliver(t, s) < 0) {
		stream_reset(t, s, strerror(errno));
		return;
	}
	stream_watch(t, s);
}

static void
stream_io(int fd, unsigned int revents, void *arg)
{
	struct etun_stream *s = arg;
	struct etun *t = s->t;

	(void)fd;
	if (s->connecting) {
		connect_done(t, s);
		etun_split_flush(t);
		return;
	}
	if (((revents & (ITM_FD_READ | ITM_FD_ERROR)) &&
	     stream_read(t, s) < 0) ||
	    stream_deliver(t, s) < 0) {
		stream_reset(t, s, strerror(errno));
		etun_split_flush(t);
		return;
	}
	stream_watch(t, s);
	etun_split_flush(t);
}

/* ------------------------------------------------------------------ */
/* Frames from the peer                                                 */
/* ------------------------------------------------------------------ */

/* Keep a chunk of the peer's bytes, in offset order (a second copy of
 * an offset is dropped); -1 beyond the window the peer may use. */
static int
keep(struct etun *t, struct etun_stream *s, const struct etun_sframe *sf)
{
	struct etun_chunk **pp = &s->in, *c;

	if (sf->len == 0 || sf->off + sf->len <= s->in_deliv)
		return 0;
	if (sf->off + sf->len > s->in_deliv + t->stream_win)
		return -1;
	while (*pp && (*pp)->off < sf->off)
		pp = &(*pp)->next;
	if (*pp && (*pp)->off == sf->off)
		return 0;
	if ((c = malloc(sizeof(*c) + sf->len)) == NULL)
		return -1;
	c->off = sf->off;
	c->len = sf->len;
	memcpy(c->data, sf->data, sf->len);
	c->next = *pp;
	*pp = c;
	return 0;
}

/* Room in stream_mem again after a stream found none: every stream may
 * read again (the one that found none has nothing acknowledged to wake
 * it). */
static void
mem_freed(struct etun *t)
{
	struct etun_split *sp = t->sp;

	if (!sp->mem_full || sp->unacked >= t->stream_mem)
		return;
	sp->mem_full = 0;
	for (struct etun_stream *x = sp->all; x; x = x->next)
		stream_watch(t, x);
}

static void
on_ack(struct etun *t, struct etun_stream *s, const struct etun_sframe *sf)
{
	s->opened = 1;
	if (sf->off > s->out_acked && sf->off <= s->out_read) {
		t->sp->unacked -= sf->off - s->out_acked;
		t->c.stream_bytes_acked += sf->off - s->out_acked;
		s->out_acked = sf->off;
		mem_freed(t);
	}
	while (s->out && s->out->off + s->out->len <= s->out_acked) {
		struct etun_chunk *c = s->out;

		s->out = c->next;
		free(c);
	}
	if (s->out == NULL)
		s->out_tail = NULL;
	if ((sf->sflags & ETUN_SF_FIN_DONE) && s->fin_sent)
		s->fin_acked = 1;
}

/* A non-blocking socket with the client's address (IP_TRANSPARENT; its
 * port, or any when that one is taken here) connecting to @dst: the fd,
 * or -1. */
static int
transparent_connect(const struct sockaddr_in *client,
		    const struct sockaddr_in *dst)
{
	struct sockaddr_in src = *client;
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
		src.sin_port = 0;
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0)
			goto fail;
	}
	if (connect(fd, (const struct sockaddr *)dst, sizeof(*dst)) == 0 ||
	    errno == EINPROGRESS)
		return fd;
fail:
	close(fd);
	return -1;
}

/* The exit opens a stream: a transparent socket with the client's
 * address connects to the original destination, inside the prefixes
 * and the ports only (never an open relay), at most max_streams at
 * once. */
static struct etun_stream *
exit_open(struct etun *t, const struct etun_sframe *sf)
{
	struct sockaddr_in src = { .sin_family = AF_INET,
				   .sin_addr.s_addr = sf->saddr,
				   .sin_port = htons(sf->sport) };
	struct sockaddr_in dst = { .sin_family = AF_INET,
				   .sin_addr.s_addr = sf->daddr,
				   .sin_port = htons(sf->dport) };
	struct etun_stream *s = NULL;
	int fd = -1;

	if (!etun_dst_match(t, sf->daddr) || sf->dport == 0 ||
	    !etun_l4_port_match(&t->l4, IPPROTO_TCP, sf->dport))
		t->c.frames_outside++;
	else if (t->c.streams_open < t->max_streams &&
		 (fd = transparent_connect(&src, &dst)) >= 0 &&
		 (s = stream_new(t, sf->id, fd)) != NULL &&
		 itm_register_fd(fd, ITM_FD_WRITE, stream_io, s) == 0) {
		s->events = ITM_FD_WRITE;
		s->connecting = s->opened = s->ack_due = 1;
		return s;
	}
	if (s) {
		s->fd = -1;
		stream_free(t, s, 0);
	}
	if (fd >= 0)
		close(fd);
	t->c.streams_refused++;
	return NULL;
}

/* A frame for a stream this end does not have. */
static void
on_unknown(struct etun *t, const struct etun_sframe *sf)
{
	struct etun_stream tmp = { .id = sf->id, .opened = 1 };
	struct etun_sframe ack = { .type = ETUN_SF_ACK,
				   .sflags = ETUN_SF_FIN_DONE,
				   .off = sf->off };

	if (sf->type == ETUN_SF_FIN) /* ended here: say so again */
		(void)put(t, &tmp, &ack, NULL, 0);
	else if (sf->type == ETUN_SF_RST && t->side == ETUN_EXIT)
		t->sp->closed[t->sp->n_closed++ % CLOSED_IDS] = sf->id;
}

static int
on_frame(struct etun *t, struct etun_stream *s, const struct etun_sframe *sf)
{
	switch (sf->type) {
	case ETUN_SF_DATA:
		if (keep(t, s, sf) < 0)
			return -1;
		break;
	case ETUN_SF_FIN:
		s->have_fin = 1;
		s->in_fin = sf->off;
		break;
	case ETUN_SF_RST: stream_free(t, s, 1); return 0;
	case ETUN_SF_ACK: on_ack(t, s, sf); break;
	}
	if (stream_deliver(t, s) < 0) {
		stream_reset(t, s, strerror(errno));
		return 0;
	}
	stream_watch(t, s);
	if (stream_done(s))
		stream_free(t, s, 0);
	return 0;
}

/* An exit with tcp=packet: every stream the entry opens is reset (the
 * user sees a reset, not a hang), and the operator is told once. */
static void
not_split(struct etun *t, const struct etun_sframe *sf)
{
	if (!(sf->sflags & ETUN_SF_OPEN) || sf->type != ETUN_SF_DATA)
		return;
	if (t->c.streams_refused++ == 0)
		itm_log(LOG_WARNING,
			"etunnel %s: the entry splits TCP but this end has "
			"tcp=packet: its connections are reset (load both "
			"ends with the same tcp=)",
			t->name);
	send_rst(t, sf->id);
}

int
etun_split_frame(struct etun *t, const struct etun_frame *f)
{
	struct etun_split *sp = t->sp;
	struct etun_sframe sf;
	struct etun_stream *s;

	if (etun_sframe_parse(f, &sf) < 0)
		return -1;
	if (sp == NULL) {
		if (t->side == ETUN_EXIT)
			not_split(t, &sf);
		return 0;
	}
	if ((s = find(sp, sf.id)) == NULL && t->side == ETUN_EXIT &&
	    (sf.sflags & ETUN_SF_OPEN) && !was_closed(sp, sf.id)) {
		if ((s = exit_open(t, &sf)) == NULL) {
			send_rst(t, sf.id);
			sp->closed[sp->n_closed++ % CLOSED_IDS] = sf.id;
			return 0;
		}
	}
	if (s == NULL) {
		on_unknown(t, &sf);
		return 0;
	}
	if (on_frame(t, s, &sf) < 0) {
		t->c.frames_bad++;
		stream_reset(t, s, "data beyond the window");
	}
	etun_split_flush(t);
	return 0;
}

/* ------------------------------------------------------------------ */
/* The entry's listener                                                 */
/* ------------------------------------------------------------------ */

static void
accept_one(struct etun *t, int fd)
{
	struct sockaddr_in peer, orig;
	socklen_t pl = sizeof(peer), ol = sizeof(orig);
	struct etun_stream *s;
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (getpeername(fd, (struct sockaddr *)&peer, &pl) < 0 ||
	    getsockname(fd, (struct sockaddr *)&orig, &ol) < 0 || t->up == 0 ||
	    !etun_dst_match(t, orig.sin_addr.s_addr) ||
	    !etun_l4_port_match(&t->l4, IPPROTO_TCP, ntohs(orig.sin_port)) ||
	    t->c.streams_open >= t->max_streams ||
	    (s = stream_new(t, t->sp->next_id++, fd)) == NULL) {
		t->c.streams_refused++;
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);
		return;
	}
	s->saddr = peer.sin_addr.s_addr;
	s->sport = ntohs(peer.sin_port);
	s->daddr = orig.sin_addr.s_addr;
	s->dport = ntohs(orig.sin_port);
	if (itm_register_fd(fd, ITM_FD_READ, stream_io, s) < 0) {
		stream_reset(t, s, "no fd watch");
		return;
	}
	s->events = ITM_FD_READ;
}

static void
accept_cb(int lfd, unsigned int revents, void *arg)
{
	struct etun *t = arg;
	int fd;

	(void)revents;
	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >=
	       0)
		accept_one(t, fd);
	etun_split_flush(t);
}

static int
listen_transparent(struct etun *t)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(t->split_port) };
	int one = 1, fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	t->sp->lfd = fd;
	if (setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, LISTEN_BACK) < 0)
		return -errno;
	return itm_register_fd(fd, ITM_FD_READ, accept_cb, t);
}

/* ------------------------------------------------------------------ */
/* Life                                                                 */
/* ------------------------------------------------------------------ */

void
etun_split_reset_all(struct etun *t, const char *why)
{
	if (t->sp == NULL || t->sp->all == NULL)
		return;
	itm_log(LOG_WARNING, "etunnel %s: %llu split connections reset: %s",
		t->name, (unsigned long long)t->c.streams_open, why);
	while (t->sp->all)
		stream_free(t, t->sp->all, 1);
}

/* Noted only: this runs inside a write that failed, which then undoes
 * what it noted as sent; the next flush rewinds (rewind_streams()). */
void
etun_split_conn_lost(struct etun *t)
{
	if (t->sp)
		t->sp->rewind = 1;
}

/* A pool connection was lost: whatever was unacknowledged goes again. */
static void
rewind_streams(struct etun *t)
{
	t->sp->rewind = 0;
	for (struct etun_stream *s = t->sp->all; s; s = s->next) {
		s->out_sent = s->out_acked;
		s->open_sent = 0;
		if (!s->fin_acked)
			s->fin_sent = 0;
		s->ack_due = 1;
	}
}

/* The chunks the stuck pool connection @conn holds beyond @acked (its
 * bytes the exit acknowledged) go once more on the others: the exit
 * keeps the first copy of an offset.  Returns how many went. */
uint64_t
etun_split_conn_stuck(struct etun *t, uint16_t conn, uint64_t acked)
{
	uint64_t n = 0;

	if (t->sp == NULL)
		return 0;
	for (struct etun_stream *s = t->sp->all; s; s = s->next)
		for (struct etun_chunk *c = s->out; c && c->off < s->out_sent;
		     c = c->next) {
			struct etun_sframe sf = { .type = ETUN_SF_DATA,
						  .off = c->off };

			if (c->conn != conn || c->conn_end <= acked ||
			    c->off + c->len <= s->out_acked)
				continue;
			if (!put_chunk(t, s, &sf, c->data, c->len, c))
				return n;
			n++;
		}
	return n;
}

/* The entry's rules only while the pool is up (fail-open), and its
 * streams end with the pool. */
static void
entry_rules(struct etun *t)
{
	struct etun_split *sp = t->sp;

	if (t->up && !sp->rules) {
		if (etun_now_ms() < sp->rules_retry_ms)
			return;
		sp->rules = etun_rules_install(t) == 0;
		if (!sp->rules) {
			sp->rules_retry_ms = etun_now_ms() + 5000;
			itm_log(LOG_WARNING,
				"etunnel %s: TCP takes the normal path "
				"(tried again in 5 s)",
				t->name);
		}
	} else if (t->up == 0 && sp->rules) {
		etun_rules_remove(t);
		sp->rules = 0;
		itm_log(LOG_INFO, "etunnel %s: split TCP rules out: pool down",
			t->name);
	}
	if (t->up == 0)
		etun_split_reset_all(t, "the pool is down");
}

void
etun_split_tick(struct etun *t)
{
	struct etun_split *sp = t->sp;

	if (sp == NULL)
		return;
	if (t->side == ETUN_ENTRY && (t->up == 0) == (sp->rules != 0))
		entry_rules(t);
	else if (t->up == 0)
		etun_split_reset_all(t, "no pool connection");
	mem_freed(t); /* streams reset or closed gave their bytes back */
	for (struct etun_stream *s = sp->all; s; s = s->next)
		if (s->in_deliv != s->in_told || s->wr_shut != s->fin_told)
			s->ack_due = 1;
	etun_split_flush(t);
}

int
etun_split_start(struct etun *t)
{
	int rc;

	if ((t->sp = calloc(1, sizeof(*t->sp))) == NULL)
		return -ENOMEM;
	t->sp->lfd = -1;
	t->sp->next_id = (uint32_t)random();
	etun_rules_recover(t);
	if (t->side == ETUN_ENTRY)
		return listen_transparent(t);
	if ((rc = etun_rules_install(t)) < 0)
		return rc;
	t->sp->rules = 1;
	return 0;
}

void
etun_split_stop(struct etun *t)
{
	struct etun_split *sp = t->sp;

	if (sp == NULL)
		return;
	while (sp->all)
		stream_free(t, sp->all, 1);
	if (sp->lfd >= 0) {
		itm_unregister_fd(sp->lfd);
		close(sp->lfd);
	}
	if (sp->rules)
		etun_rules_remove(t);
	free(sp);
	t->sp = NULL;
}
