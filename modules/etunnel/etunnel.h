/*
 * etunnel.h - one elastic tunnel end (an instance of the etunnel module).
 *
 * The files: etunnel.c (the plugin: parameters, hooks, timers, counters,
 * the packet callbacks), pool.c (the entry: the pool of connections to the
 * peer, spreading frames, the controller tick), exitp.c (the exit: the
 * listener that admits only the peer, frame reading, reorder, re-injection
 * by a raw socket), tls.c (optional mutual TLS on the pool's connections:
 * the OpenSSL state of each).  The pure parts: frame.c, reorder.c,
 * entq.c, ctrl.c, seg.c.  Everything runs on the host's packet thread (callbacks, timers
 * and fd watches alike), so nothing here locks.
 */
#ifndef ETUNNEL_H
#define ETUNNEL_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include <itm.h>

#include "ctrl.h"
#include "entq.h"
#include "frame.h"
#include "match.h"
#include "reorder.h"
#include "sentlog.h"
#include "tls.h"

#define ETUN_MAX_CONNS	  256
#define ETUN_EXPRESS	  ETUN_MAX_CONNS /* slot of the short class's connection */
#define ETUN_SLOTS	  (ETUN_MAX_CONNS + 1)
#define ETUN_MAX_PREFIXES 16
#define ETUN_CONN_BUF	  (ETUN_FRAME_HDR + ETUN_FRAME_MAX)
#define ETUN_TICK_MS	  10 /* the entry's tick */

enum etun_side { ETUN_ENTRY, ETUN_EXIT };

enum etun_conn_state {
	ETUN_CONN_IDLE = 0,
	ETUN_CONN_CONNECTING,
	ETUN_CONN_HANDSHAKE, /* TLS (tls.c) */
	ETUN_CONN_UP
};

/* A pool connection the entry lets go (pool.c, retire()). */
enum etun_retire {
	ETUN_RETIRE_NO = 0,
	ETUN_RETIRE_ACKS, /* takes no frames, waits for theirs to be acked */
	ETUN_RETIRE_FIN	  /* FIN sent after them: closes on the exit's */
};

struct etun;
struct etun_split;

/* A pool connection (entry: outgoing; exit: accepted). */
struct etun_conn {
	struct etun *t;
	int fd;
	enum etun_conn_state state;
	uint8_t *buf; /* entry: unsent rest of a frame; exit: bytes read */
	uint32_t off, len;
	uint64_t written;  /* bytes handed to the socket (exit: split) */
	int full;	   /* entry: unsent bytes above the limit */
	int recovering;	   /* entry: in loss recovery: skipped */
	uint64_t retry_ms; /* entry: when to connect again */
	uint64_t acked_seen, progress_ms; /* last ACK progress */
	int stuck; /* no progress: its frames were sent again */
	/* entry: no longer wanted (pool.c, retire()), since retire_ms */
	enum etun_retire retiring;
	uint64_t retire_ms;
	uint32_t backoff_ms;
	uint32_t rto_seen; /* entry: its time in timeout recovery, last read */
	struct etun_tls_conn *tls; /* with mutual TLS, else NULL */
	/* split TCP (split.c): the entry reads the exit's stream frames,
	 * the exit writes them */
	uint8_t *rbuf;	     /* entry: bytes read, tcp=split */
	uint32_t rlen;	     /* entry */
	uint8_t *obuf;	     /* exit: a frame being written */
	uint32_t ooff, olen; /* exit */
	int ofull;	     /* exit: unsent bytes above the limit */
};

struct etun_counters {
	uint64_t pkts_in, bytes_in; /* stolen at the entry */
	uint64_t segmented;	    /* GSO packets cut at the entry */
	uint64_t stalls;	    /* a packet found every connection full */
	uint64_t recoveries;	    /* a connection skipped while recovering */
	uint64_t entry_drops;	    /* queue full */
	uint64_t failopen;	    /* passed to the normal path */
	uint64_t frames_out, frames_in; /* sent / received */
	uint64_t pkts_out, bytes_out;	/* re-injected */
	uint64_t frames_outside;	/* not for our prefixes: dropped */
	uint64_t frames_bad;		/* broken streams closed */
	uint64_t inject_errors;
	uint64_t conns_refused;	  /* not from the peer */
	uint64_t tls_refused;	  /* TLS handshake failed */
	uint64_t tls_write_waits; /* a frame OpenSSL could not write at once */
	uint64_t connects, disconnects;
	uint64_t retired; /* entry: closed unwanted after their frames' ACKs */
	uint64_t reorder_late, reorder_gaps, reorder_overflow;
	uint64_t reorder_wait_ms; /* exit: the wait now (gauge) */
	uint64_t no_room;	  /* entry: no connection had cwnd room */
	uint64_t stuck, resent;	  /* entry: stuck connections, frames again */
	uint64_t reorder_dups;	  /* exit: second copies dropped */
	uint64_t streams_open, streams_total; /* split TCP (split.c) */
	uint64_t stream_bytes_read, stream_bytes_written; /* users' sockets */
	uint64_t stream_bytes_acked; /* read here, delivered by the far end */
	uint64_t streams_refused;  /* exit: outside the prefixes, or refused */
	uint64_t stream_resets;	   /* streams ended by a reset */
	uint64_t stream_mem_waits; /* reads held: stream_mem was full */
	uint64_t rules_errors;	   /* split: netfilter/routing setup failed */
	uint64_t cap_waits;	   /* entry: the cap held bytes back */
	uint64_t cap_drops;	   /* entry: of entry_drops, while capped */
	uint64_t rto_ms;	   /* entry: the pool's time in timeouts, ms */
	uint64_t rto_pct; /* entry: ... of its connection-time, last interval */
	uint64_t conns, conns_wanted; /* gauges */
	uint64_t target_kbps, goodput_kbps, state, queue_bytes;
	uint64_t target_bps, achieved_bps, pool_conns; /* for /metrics */
};

struct etun {
	char name[32];
	enum etun_side side;
	struct itm_info hook[2]; /* entry: FORWARD and IP_OUT */
	const char *class_names[4];
	char labels[2][48];
	/* configuration */
	char peer_name[32];
	struct in_addr peer, local; /* local: INADDR_ANY when not known */
	uint16_t port;
	struct itm_prefix dst[ETUN_MAX_PREFIXES];
	unsigned int n_dst;
	struct etun_l4match l4; /* proto=, ports=: empty, everything */
	struct etun_ctrl ctrl;
	struct etun_cap cap; /* entry: cap=yes holds B, not more */
	int cap_on;
	unsigned int cap_trim_pct; /* the cap may rise this far over B */
	unsigned int interval_ms;
	uint32_t sndbuf, unsent;
	int skip_recovering; /* skip connections in loss recovery */
	int cwnd_room;	     /* a connection with cwnd room first */
	char cc[16];	     /* TCP_CONGESTION of the pool, "": default */
	uint16_t mtu;
	struct etun_tls *tls; /* mutual TLS on the pool, NULL: off */
	unsigned int ro_window;
	uint32_t ro_bytes, ro_wait_us, ro_wait_max_us;
	uint32_t wait_sent_us;	   /* entry: the last reorder wait sent */
	struct etun_sentlog *sent; /* entry: copies for a resend, or NULL */
	unsigned int resend_frames;
	/* split TCP (split.c): tcp=split */
	int split;
	uint16_t split_port;		  /* entry: the transparent listener */
	uint32_t split_mark, split_table; /* fwmark bit, routing table */
	uint32_t stream_win, chunk;	  /* bytes */
	uint64_t stream_mem;	  /* bytes all streams may have unacked */
	unsigned int max_streams; /* open at once */
	uint32_t short_bytes;	  /* a stream's first bytes: SHORT */
	struct etun_split *sp;
	/* entry */
	struct etun_entq *q;
	struct etun_conn conns[ETUN_SLOTS];
	int express; /* a connection of its own, TOS 0x10, for SHORT */
	unsigned int wanted, up, rr;
	uint64_t room_scan_us;		   /* no scan for cwnd room before */
	unsigned int express_up;	   /* the short class's connection */
	uint32_t seq[ETUN_CLS_N], session; /* one sequence per class */
	uint64_t acked_closed; /* bytes of connections closed since */
	uint64_t cap_at_tick, cap_drops_at_tick;
	uint64_t last_acked, drops_at_tick, stalls_at_tick;
	uint64_t stream_put; /* bytes of stream frames put on the pool */
	uint64_t last_put, last_bytes_in, last_stream_acked;
	uint64_t backlog_ms; /* last drop or stall seen by a tick */
	uint64_t last_tick_ms;
	enum etun_state state;
	/* exit */
	int lfd, rawfd;
	struct etun_reorder *ro[ETUN_CLS_N]; /* per class */
	uint32_t cur_session;
	int have_session;
	uint64_t last_in_bytes;
	uint8_t *scratch; /* one segment */
	struct etun_counters c;
	struct itm_tunnel_status status; /* what GetTunnels shows */
};

uint64_t etun_now_ms(void);
uint64_t etun_now_us(void);
int etun_dst_match(const struct etun *t, uint32_t daddr);

/* pool.c */
int etun_pool_start(struct etun *t);
void etun_pool_stop(struct etun *t);
/* Hand one stolen packet to the pool: ITM_DROP (taken or dropped at the
 * full entry) or ITM_ACCEPT (no connection up: fail-open). */
int etun_pool_take(struct etun *t, const uint8_t *pkt, uint16_t len,
		   uint8_t tos);
/* The same for a packet larger than the MTU: cut into segments first. */
int etun_pool_take_gso(struct etun *t, const uint8_t *pkt, uint16_t len,
		       uint8_t tos);
void etun_pool_tick(struct etun *t);

/* No ACK progress on @c for about two RTOs (pool.c; either end): 1 when
 * it just became stuck (c->stuck set until progress), with *acked the
 * bytes of it the peer acknowledged. */
int etun_conn_check_stuck(struct etun_conn *c, uint64_t now, uint64_t *acked);

/* Before a TLS session and each tick: a changed tls_crl is read again
 * (etunnel.c; logged; a file that cannot be used leaves the one in
 * force), and the sessions up that it refuses are cut with @cut. */
typedef void etun_conn_cut_fn(struct etun *t, struct etun_conn *c);
void etun_tls_recheck(struct etun *t, etun_conn_cut_fn *cut);

/* The next connection ready for a split stream's frame of @cls (pool.c:
 * entry only): first one with cwnd room and not in loss recovery (the
 * pool is application-limited under the cap; a chunk behind a loss holds
 * its stream at the exit), else the next ready. */
struct etun_conn *etun_pool_pick(struct etun *t, enum etun_class cls);
/* Write @hlen + @len bytes as one frame on @c: 1 when taken (the rest
 * kept for the writable fd), 0 when nothing was. */
int etun_pool_put(struct etun *t, struct etun_conn *c, const uint8_t *hdr,
		  size_t hlen, const uint8_t *data, uint32_t len);

/* exitp.c */
struct etun_conn *etun_exit_pick(struct etun *t);
int etun_exit_put(struct etun *t, struct etun_conn *c, const uint8_t *hdr,
		  size_t hlen, const uint8_t *data, uint32_t len);
int etun_exit_start(struct etun *t);
void etun_exit_stop(struct etun *t);
void etun_exit_tick(struct etun *t);

/* split.c: split TCP, the users' connections carried as byte streams */
int etun_split_start(struct etun *t);
void etun_split_stop(struct etun *t);
/* A stream frame read from @c: 0, or -1 when the stream is broken. */
int etun_split_frame(struct etun *t, const struct etun_frame *f);
void etun_split_flush(struct etun *t); /* the pool can take frames */
void etun_split_tick(struct etun *t);
void etun_split_conn_lost(struct etun *t); /* send unacknowledged again */
/* Pool connection @conn made no progress past @acked: its chunks go
 * again on the others; returns how many. */
uint64_t etun_split_conn_stuck(struct etun *t, uint16_t conn, uint64_t acked);
void etun_split_reset_all(struct etun *t, const char *why);

/* srules.c: the netfilter rules and routes split TCP needs */
int etun_rules_install(struct etun *t);
void etun_rules_remove(struct etun *t);
/* What an instance killed before its unload left: removed. */
void etun_rules_recover(struct etun *t);

#endif
