/*
 * itm.h - the ITM traffic-control module API.
 *
 * One API for both kinds of module, as in itmBench (paper sections 4 and 6):
 *
 *  - in-agent modules are shared objects that itm-agent loads at run time
 *    (the paper's kernel modules); they export a descriptor declared with
 *    ITM_PLUGIN() from <itm_plugin.h> and call itm_register_hook() from
 *    their load function;
 *  - process modules are programs linked with libitm (the paper's user-space
 *    modules); they call libitm_init(), libitm_register() and libitm_run().
 *
 * Both see the same struct itm_packet and the same five callbacks, called in
 * the paper's order: class_func, log_func, process_func (skipped when the
 * class is 0), update_func, control_func.  A module's callbacks therefore
 * compile unchanged as either kind.
 *
 * All functions return 0 or a negative errno value unless stated otherwise;
 * itm_strerror() turns one into text.  Nothing here is thread-safe, and a
 * module needs no lock of its own: its callbacks, timers and API calls run
 * one at a time.  In a process module and in an agent started without
 * --workers they all run on one packet thread.  With itm-agent --workers N,
 * an in-agent module's packet callbacks run on N worker threads, but
 * serialised per module (the agent holds the module's lock around each
 * call), while its timers, fd watches, load and unload run on the agent's
 * main thread under the same lock: never two at once, not always the same
 * thread (so no thread-local state).
 */
#ifndef ITM_H
#define ITM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <netinet/ip_icmp.h>
#include <net/if.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ITM_VERSION_STRING "0.1.0"

/* The five netfilter hook points (paper Figure 5). */
typedef enum itm_where {
	ITM_PRE_ROUTE = 0, /* PREROUTING */
	ITM_IP_IN,	   /* INPUT */
	ITM_IP_FORWARD,	   /* FORWARD */
	ITM_IP_OUT,	   /* OUTPUT */
	ITM_POST_ROUTE,	   /* POSTROUTING */
	ITM_HOOK_MAX
} itm_where;

/* Kind of a registration (paper: ITM_KERNEL / ITM_USER). */
typedef enum itm_type {
	ITM_KERNEL = 0, /* in-agent module */
	ITM_USER = 1	/* process module linked with libitm */
} itm_type;

/*
 * Verdicts returned by process_func.  The values of ITM_DROP and ITM_ACCEPT
 * are those of NF_DROP and NF_ACCEPT so code from the paper ports as is.
 * ITM_ALTERED is ITM_ACCEPT plus itm_packet_altered().
 */
#define ITM_DROP    0
#define ITM_ACCEPT  1
#define ITM_ALTERED 0x101

/* Classes: 0 means "unknown", process_func is not called for it. */
#define ITM_CLASS_NONE 0
#define ITM_CLASS_MAX  255

/* ---------------------------------------------------------------------
 * Interest: which packets a registration wants.  Each list is a set of
 * alternatives (OR); the lists are combined with AND; an empty list means
 * "any".  The host compiles the interest into netfilter matches so packets
 * outside it never leave the kernel.
 * ------------------------------------------------------------------- */

#define ITM_INTEREST_MAX 16 /* entries per list */

struct itm_prefix {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t len;	/* prefix length in bits */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;
};

struct itm_port_range {
	uint16_t lo, hi; /* inclusive, host order */
};

struct itm_interest {
	uint8_t protocols[ITM_INTEREST_MAX]; /* IPPROTO_* */
	unsigned int n_protocols;
	struct itm_prefix saddr[ITM_INTEREST_MAX];
	unsigned int n_saddr;
	struct itm_prefix daddr[ITM_INTEREST_MAX];
	unsigned int n_daddr;
	struct itm_port_range src_ports[ITM_INTEREST_MAX];
	unsigned int n_src_ports;
	struct itm_port_range dst_ports[ITM_INTEREST_MAX];
	unsigned int n_dst_ports;
	char indev[ITM_INTEREST_MAX][IF_NAMESIZE];
	unsigned int n_indev;
	char outdev[ITM_INTEREST_MAX][IF_NAMESIZE];
	unsigned int n_outdev;
};

/* ---------------------------------------------------------------------
 * The packet every callback sees.
 * ------------------------------------------------------------------- */

/* itm_packet.flags */
#define ITM_PKT_ALTERED	      (1u << 0) /* bytes changed: host fixes checksums */
#define ITM_PKT_TRUNCATED     (1u << 1) /* len < wire_len: only a prefix copied */
#define ITM_PKT_CSUM_NOTREADY (1u << 2) /* L4 checksum left to the NIC (GSO) */
#define ITM_PKT_GSO	      (1u << 3) /* one buffer for several segments */
#define ITM_PKT_FRAGMENT      (1u << 4) /* IP fragment: no L4 header parsed */
#define ITM_PKT_MALFORMED     (1u << 5) /* L3/L4 headers did not parse */
#define ITM_PKT_HAS_CT	      (1u << 6) /* ct_* fields are valid */

/* itm_packet.ct_dir */
#define ITM_CT_ORIGINAL 0
#define ITM_CT_REPLY	1

struct itm_packet {
	/* Metadata from the kernel (read-only for modules). */
	uint32_t id; /* queue packet id */
	itm_where hook;
	uint16_t hw_protocol;	/* ETH_P_IP, ETH_P_IPV6 (host order) */
	uint32_t mark;		/* nfmark, ITM's own bits cleared */
	uint32_t indev, outdev; /* ifindex, 0 when none */
	uint32_t wire_len;	/* length in the kernel (GSO: whole) */
	uint32_t flags;		/* ITM_PKT_* */
	uint8_t ct_dir;		/* ITM_CT_*, when ITM_PKT_HAS_CT */
	uint32_t ct_id;		/* conntrack id, when ITM_PKT_HAS_CT */

	/* The bytes, starting at the IP header.  Modules may change them in
	 * place (then call itm_packet_altered()) or change their length with
	 * itm_packet_push()/itm_packet_pull()/itm_packet_set_len(). */
	uint8_t *data;
	uint32_t len; /* bytes at data */

	/* Parsed view, kept valid by the host; NULL where absent.  After a
	 * structural change call itm_packet_parse() again. */
	uint8_t family; /* AF_INET, AF_INET6 or 0 */
	struct iphdr *iph;
	struct ip6_hdr *ip6h;
	uint16_t l3_hlen; /* IP header length, options included */
	uint8_t l4proto;  /* IPPROTO_*, 0 when unknown */
	union {
		void *l4h;
		struct tcphdr *tcph;
		struct udphdr *udph;
		struct icmphdr *icmph;
	};
	uint16_t l4_hlen;
	uint16_t sport, dport; /* host order; 0 without ports */
	uint8_t *payload;      /* after the L4 header */
	uint32_t payload_len;  /* bytes present at payload */

	/* The registration being called: its itm_info.priv. */
	void *priv;

	/* Host-private: buffer bookkeeping. */
	uint8_t *itm__buf;
	uint32_t itm__cap;
};

/* ---------------------------------------------------------------------
 * Registration (paper Figure 6).
 * ------------------------------------------------------------------- */

struct itm_info {
	const char *label; /* unique per host, [A-Za-z0-9_.-]{1,31} */
	itm_type type;	   /* set by the host */
	struct itm_interest interest;
	pid_t pid;	     /* ITM_USER: set by libitm */
	itm_where hook;	     /* set by register */
	int priority;	     /* lower runs first; ties: registration order */
	uint32_t copy_bytes; /* bytes per packet needed; 0 = whole packet
					 * (required by modules that alter packets) */

	int (*class_func)(itm_where, struct itm_packet *);
	void (*log_func)(itm_where, struct itm_packet *);
	int (*process_func)(itm_where, int, struct itm_packet *);
	int (*update_func)(itm_where, struct itm_packet *);
	int (*control_func)(itm_where, struct itm_packet *);

	/* Optional names of classes, class_names[c] for class c; shown by
	 * itmctl stats.  Unnamed classes show as their number. */
	const char *const *class_names;
	unsigned int n_class_names;

	void *priv;	/* the module's own context: pkt->priv in every
			 * callback of this registration */
	void *itm__reg; /* host-private */

	/* ITM_MAY_SETTLE: this registration may call itm_packet_settle()
	 * (ABI 1.4).  Without it the host writes no settlement rules for
	 * it, so its hook does not turn on connection tracking, and
	 * itm_packet_settle() fails with -EPERM.  A module built against
	 * an older <itm.h> (plugin ABI minor < 4, or a process module that
	 * called an older libitm_init) has no such field and is taken to
	 * settle, as before. */
	uint32_t flags;
};

/* itm_info.flags */
#define ITM_MAY_SETTLE (1u << 0)

/* ---------------------------------------------------------------------
 * Host API common to both kinds of module.
 * ------------------------------------------------------------------- */

/*
 * Register @info at hook @where.  The host keeps a pointer to @info: it must
 * stay valid until itm_unregister_hook().  In a process, this is
 * libitm_register().  Errors: -EINVAL (bad hook, label or interest, with a
 * message from itm_last_error()), -EEXIST (label taken), -ENOSPC (too many
 * stages at the hook).
 */
int itm_register_hook(itm_where where, struct itm_info *info);
int itm_unregister_hook(itm_where where, struct itm_info *info);

/*
 * Call @f(@arg) every @interval_ms milliseconds on the packet thread until
 * itm_unregister_timer(@f, @arg).  @arg is usually the module instance's
 * context, (unsigned long)ctx: unsigned long holds a pointer on every Linux
 * ABI.  A (@f, @arg) pair is registered once per module.
 */
int itm_register_timer(void (*f)(unsigned long), unsigned long arg,
		       unsigned int interval_ms);
int itm_unregister_timer(void (*f)(unsigned long), unsigned long arg);

/*
 * Watch file descriptor @fd (a socket, eventfd, timerfd, ...): call
 * @cb(@fd, revents, @arg) on the packet thread, like a timer, whenever one
 * of @events is ready.  @events is ITM_FD_READ and/or ITM_FD_WRITE (0:
 * registered but paused); revents may add ITM_FD_ERROR (error or hang-up:
 * read or write the fd to learn which).  Readiness is level-triggered.
 * The host sets @fd non-blocking; it never closes it: call
 * itm_unregister_fd() before close().  An in-agent module's fds are
 * unwatched when it unloads.  One registration per fd.
 *
 * Like timers, these calls are made from load, a timer or an fd callback
 * (not from a packet callback when the agent runs worker threads: -EPERM).
 * Errors: -EINVAL (bad fd, events or callback), -EEXIST (@fd already
 * watched), -ENOENT (not watched), -ENOTSUP (no host).
 */
#define ITM_FD_READ  0x1u
#define ITM_FD_WRITE 0x2u
#define ITM_FD_ERROR 0x4u /* in revents only */

typedef void (*itm_fd_cb)(int fd, unsigned int revents, void *arg);

int itm_register_fd(int fd, unsigned int events, itm_fd_cb cb, void *arg);
/* Change the events of a watched fd (0 pauses it). */
int itm_modify_fd(int fd, unsigned int events);
int itm_unregister_fd(int fd);

/*
 * Export a counter of the module: the host reads *@value whenever stats are
 * asked for and shows it as @name (copied; at most 47 characters).  @value
 * must stay valid until the module unloads or exits.  The agent's /metrics
 * shows it as itm_module_<name>{module="<module>"}: a name ending in _total
 * is a counter, any other a gauge; _us and _ms are exported in seconds;
 * "name{k=v,k2=v2}" adds up to 4 labels of few values (a node, a path).
 */
int itm_register_counter(const char *name, const uint64_t *value);

/*
 * Publish an elastic tunnel's state (the etunnel module): the host reads
 * *@st whenever asked (the agent's GetTunnels, `itmctl tunnels`), as it
 * reads counters.  @st must stay valid until itm_unregister_tunnel() or
 * the module unloads.  At most 8 per module.  In a process module libitm
 * reads *@st at each heartbeat and sends it to the agent, which shows it
 * until the next one or the process's exit (ABI 1.3; processes: 1.4).
 */
enum itm_tunnel_side { ITM_TUNNEL_ENTRY = 0, ITM_TUNNEL_EXIT = 1 };

struct itm_tunnel_status {
	char name[32];
	char peer[64]; /* node name, or address */
	enum itm_tunnel_side side;
	uint32_t state;		/* the module's code for state_text */
	const char *state_text; /* "holding", "peer down", ... (static) */
	uint64_t target_kbps, goodput_kbps;
	uint32_t conns, conns_wanted, min_conns, max_conns;
	uint64_t entry_drops, queue_bytes;
};

int itm_register_tunnel(const struct itm_tunnel_status *st);
int itm_unregister_tunnel(const struct itm_tunnel_status *st);

/* Last error message set by a failed call on this thread. */
const char *itm_last_error(void);
const char *itm_strerror(int err);

/* Logging through the host's logger (stderr or syslog, with module label). */
void itm_log(int priority, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---------------------------------------------------------------------
 * Packet helpers.
 * ------------------------------------------------------------------- */

/* Mark the packet as changed; the host fixes the IP and L4 checksums and
 * returns the new bytes with the verdict.  Fails with -EPERM on a truncated
 * copy (ask for the whole packet with copy_bytes = 0). */
int itm_packet_altered(struct itm_packet *pkt);

/* Parse pkt->data..len into the parsed view. Returns 0 or -EBADMSG. */
int itm_packet_parse(struct itm_packet *pkt);

/* Grow at the front by @n bytes (e.g. an outer IP header); returns a pointer
 * to the new first byte or NULL if there is no room.  Marks the packet
 * altered.  itm_packet_pull() strips @n bytes from the front. */
uint8_t *itm_packet_push(struct itm_packet *pkt, uint32_t n);
int itm_packet_pull(struct itm_packet *pkt, uint32_t n);
int itm_packet_set_len(struct itm_packet *pkt, uint32_t len);

/*
 * Settle the rest of this packet's flow in the kernel: from now on packets
 * of the same conntrack flow, in the same direction, at this registration
 * are counted under @class and get @action without leaving the kernel; the
 * module's callbacks are no longer called for them.  Telemetry stays exact.
 * Errors: -ENOTSUP when the packet has no conntrack entry or the
 * registration shares its stage with others, -ENOSPC when the host is out
 * of settlement slots.  The current packet is not affected: return its
 * verdict as usual.
 */
enum itm_settle_action {
	ITM_SETTLE_ACCEPT = 0, /* pass unchanged */
	ITM_SETTLE_SET_TOS,    /* tos = (tos & ~mask) | value */
	ITM_SETTLE_DROP
};

struct itm_settle {
	int class;
	enum itm_settle_action action;
	uint8_t tos_value, tos_mask;
	/* TCP packets carrying any of these flags (TH_FIN, TH_RST, ...)
	 * still reach the module, e.g. to treat FIN as short (paper Fig. 9). */
	uint8_t except_tcp_flags;
};

int itm_packet_settle(struct itm_packet *pkt, const struct itm_settle *s);
/* Errors also: -EPERM when the registration did not declare
 * ITM_MAY_SETTLE in itm_info.flags (ABI 1.4). */

/* Checksums.  The names follow Linux so the paper's code ports. */
uint32_t itm_csum_partial(const void *buf, size_t len, uint32_t sum);
uint16_t itm_csum_fold(uint32_t sum);
uint16_t itm_ip_fast_csum(const void *iph, unsigned int ihl);
uint16_t itm_csum_tcpudp_magic(uint32_t saddr, uint32_t daddr, uint32_t len,
			       uint8_t proto, uint32_t sum);
/* Recompute the IPv4 header checksum / the whole L4 checksum in place. */
void itm_csum_fix_ip(struct itm_packet *pkt);
int itm_csum_fix_l4(struct itm_packet *pkt);
/* Update a 16-bit checksum for a changed 16-bit word (RFC 1624). */
uint16_t itm_csum_replace2(uint16_t check, uint16_t old, uint16_t new_);

/* Interest helpers (also used by libitm_set_*). */
void itm_interest_init(struct itm_interest *in);
int itm_interest_add_protocol(struct itm_interest *in, int proto);
int itm_interest_add_saddr(struct itm_interest *in, const char *prefix);
int itm_interest_add_daddr(struct itm_interest *in, const char *prefix);
int itm_interest_add_src_port(struct itm_interest *in, uint16_t lo,
			      uint16_t hi);
int itm_interest_add_dst_port(struct itm_interest *in, uint16_t lo,
			      uint16_t hi);
int itm_interest_add_indev(struct itm_interest *in, const char *dev);
int itm_interest_add_outdev(struct itm_interest *in, const char *dev);
/* Does @pkt (parsed) fall in @in?  Devices compare by ifindex via @ifname
 * lookups done by the host; returns 1 or 0. */
int itm_interest_match(const struct itm_interest *in,
		       const struct itm_packet *pkt);

/* Hook names: "PRE_ROUTE", ... and back.  Returns NULL / -1 when unknown. */
const char *itm_hook_name(itm_where where);
int itm_hook_from_name(const char *name);

/* ---------------------------------------------------------------------
 * The overlay: the table the controller pushes to this node's agent.
 *
 * Both kinds of module read the same table through the same calls: an
 * in-agent module from the agent's memory, a process module from libitm,
 * which fetches it from the agent (GetTable) at libitm_init() and again
 * whenever a heartbeat says the agent holds another generation.  The
 * agent keeps its last table when the controller is gone (fail-static).
 * ------------------------------------------------------------------- */

/* An address of a node, parsed and as text. */
struct itm_addr {
	uint8_t family; /* AF_INET, AF_INET6; 0 when not known */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	};
	char text[INET6_ADDRSTRLEN]; /* "10.0.0.1"; "" when not known */
};

/* A member of the overlay. */
struct itm_node {
	const char *name;
	struct itm_addr overlay;  /* its address on the overlay */
	struct itm_addr underlay; /* where the overlay reaches it (the outer
				   * address of tunnels to it) */
};

/* A node this one shares a link with, and the link's attributes. */
struct itm_neighbour {
	const struct itm_node *node; /* in the table's nodes[] */
	const char *mgmt;	     /* host:port of its agent */
	uint32_t cost;
	uint32_t latency_ms;	 /* 0: not given */
	uint64_t bandwidth_kbps; /* 0: not given */
};

/*
 * The table.  It belongs to the host and never changes: a new one
 * replaces it.  Fields may be added at the end in later versions (a
 * module never allocates one).
 */
struct itm_table {
	uint64_t generation;	      /* the controller's, > 0 */
	const struct itm_node *self;  /* this node, in nodes[] */
	const struct itm_node *nodes; /* every node, self included, by name */
	size_t n_nodes;
	const struct itm_neighbour *neighbours; /* by node name */
	size_t n_neighbours;
};

/*
 * The table installed now, or NULL when there is none yet (the agent has
 * not heard from the controller).  The table, and everything it points
 * to, stays valid while the module's code runs: until the callback,
 * timer, table function or load function in which it was obtained
 * returns (in a process module, until control goes back to libitm_run's
 * loop; before libitm_run, until it is called).  Copy what must live
 * longer.  With itm-agent --workers, a packet callback sees the table its
 * module last saw on the main loop.
 */
const struct itm_table *itm_get_table(void);

/* The node named @name / whose underlay address is @addr (@family
 * AF_INET: a struct in_addr, AF_INET6: a struct in6_addr), or NULL. */
const struct itm_node *itm_table_node(const struct itm_table *t,
				      const char *name);
const struct itm_node *itm_table_node_by_underlay(const struct itm_table *t,
						  int family, const void *addr);

/*
 * Call @f(table, @arg) whenever a new table is installed (a new
 * generation, or new content), with that table, valid as for
 * itm_get_table() until @f returns; not for the table installed when @f
 * is registered (read that with itm_get_table()).  @f runs where timers
 * do: on the agent's main loop, under the module's lock with --workers, or
 * on libitm_run's loop in a process.  At most 8 per module; -EEXIST for a
 * pair registered already.  Unloading the module unregisters them.
 */
typedef void (*itm_table_func)(const struct itm_table *table, void *arg);
int itm_register_table_func(itm_table_func f, void *arg);
int itm_unregister_table_func(itm_table_func f, void *arg);

/* ---------------------------------------------------------------------
 * Routes (plugin ABI 1.2): what an overlay-routing module (itmroute)
 * reports, shown by `itmctl routes` and sent to the controller.
 * ------------------------------------------------------------------- */

/* One candidate path towards a destination. */
struct itm_route_path {
	const char *via;  /* the intermediate node's name; "" direct */
	uint32_t rtt_us;  /* smoothed RTT, 0 when never answered */
	uint32_t loss_pm; /* loss, per mille */
	int alive;
};

/* The route to one destination: the path in use and every candidate. */
struct itm_route {
	const char *dest;    /* the destination node's name */
	const char *overlay; /* its overlay address, as text */
	const char *via;     /* the path in use: "" direct, else via node */
	uint32_t rtt_us, loss_pm;
	uint64_t since;	   /* unix time the path in use was chosen, 0 none */
	uint64_t switches; /* path changes so far */
	const struct itm_route_path *paths;
	size_t n_paths;
};

/* Called with each route; the strings are copied. */
typedef void (*itm_route_emit)(void *ctx, const struct itm_route *r);

/*
 * Have @f(@emit, @ctx, @arg) called whenever the host is asked for this
 * node's routes: @f calls @emit once per destination.  @f runs where
 * timers do.  One per module (-EEXIST for a second); unloading
 * unregisters it.  In a process module @f is called at each heartbeat
 * and the routes go to the agent with it (shown until the next one or
 * the process's exit; ABI 1.4).
 */
typedef void (*itm_routes_func)(itm_route_emit emit, void *ctx, void *arg);
int itm_register_routes_func(itm_routes_func f, void *arg);
int itm_unregister_routes_func(itm_routes_func f, void *arg);

/* ---------------------------------------------------------------------
 * Process modules (paper section 6.2).
 * ------------------------------------------------------------------- */

/* libitm_init copy modes */
#define ITM_COPY_META	0 /* metadata and headers only */
#define ITM_COPY_PACKET 1 /* the whole packet, up to bufsize */

/*
 * Initialise libitm: @bufsize is the largest number of bytes of a packet the
 * module reads (at most 65535); @copy_mode is ITM_COPY_META or
 * ITM_COPY_PACKET.  Connects to the local agent at $ITM_AGENT_SOCKET or
 * /run/itm/agent.sock.
 */
int libitm_init(int bufsize, uint8_t copy_mode);
/* The version of this header's module API (the plugin ABI minor): a
 * process module built with it calls libitm_init_api(), so libitm knows
 * its struct itm_info has the fields of that version (flags: 4).  A
 * program built before calls libitm_init() and is served as minor 3. */
#define ITM_API_MINOR 4
int libitm_init_api(int bufsize, uint8_t copy_mode, unsigned int api_minor);
#define libitm_init(bufsize, copy_mode) \
	libitm_init_api((bufsize), (copy_mode), ITM_API_MINOR)
int libitm_register(itm_where where, struct itm_info *info);
int libitm_unregister(itm_where where);
int libitm_register_timer(void (*f)(unsigned long), int interval_ms);
int libitm_unregister_timer(void (*f)(unsigned long));
/* Run until SIGINT/SIGTERM or libitm_stop(); unregisters everything. */
int libitm_run(void);
void libitm_stop(void);
/* Mark the packet currently being processed as altered. */
void libitm_packet_altered(void);

void libitm_init_interest(struct itm_info *info);
int libitm_set_protocols(struct itm_info *info, const int *protos, int n);
int libitm_set_saddr(struct itm_info *info, const char *const *addrs, int n);
int libitm_set_daddr(struct itm_info *info, const char *const *addrs, int n);
int libitm_set_src_ports(struct itm_info *info, const int *ports, int n);
int libitm_set_dst_ports(struct itm_info *info, const int *ports, int n);
int libitm_set_indev(struct itm_info *info, const char *const *devs, int n);
int libitm_set_outdev(struct itm_info *info, const char *const *devs, int n);

#ifdef __cplusplus
}
#endif

#endif /* ITM_H */
