/*
 * itmroute.h - the itmroute module's state, shared by its files:
 *
 *   itmroute.c   the plugin: parameters, load/unload, the overlay table,
 *                the probe tick and the decisions it settles
 *   pathsel.c    path selection (pure)
 *   probesched.c which probes go out, under the budget (pure)
 *   probe.c      the probe protocol's wire format (pure)
 *   prober.c     the probe socket: sends, answers, relays, matches ACKs
 *   kroute.c     the overlay routes (netlink), MTU and source address
 *   dp_ebpf.c    datapath=ebpf: tc programs and their maps
 *   dp_queue.c   datapath=queue: encapsulation on NFQUEUE (the paper's)
 *   offload.c    the underlay device's TSO/GSO/GRO, off and back (queue)
 */
#ifndef ITMROUTE_H
#define ITMROUTE_H

#include <net/if.h>
#include <stdint.h>

#include <itm.h>

#include "pathsel.h"
#include "probesched.h"

#define ITMR_NODES_MAX 64
#define ITMR_NAME_MAX  64

struct itmr_cfg {
	struct itmr_sel_cfg sel;
	struct itmr_sched_cfg sched;
	char datapath[8]; /* "ebpf" or "queue" */
	uint16_t port;
	uint32_t mtu;
	int relay;
	int keep;
	char dev[IF_NAMESIZE]; /* "" = the device with the underlay address */
	char pin_dir[256];
	char bpf_obj[256];
};

/* A member of the overlay other than this node, as a destination. */
struct itmr_node {
	char name[ITMR_NAME_MAX];
	uint32_t overlay, underlay; /* network order */
	int neighbour;		    /* a neighbour: a candidate intermediate */
	struct itmr_dest dest;
	uint32_t installed_hop; /* next hop in the datapath, 0 none */
	uint32_t installed_gw;	/* gateway of the overlay route, 0 none */
	uint64_t since_wall;	/* unix time of the last switch */
};

struct itmr_ctx;

/* A data path: where the decisions are settled. */
struct itmr_dp_ops {
	const char *name;
	int (*open)(struct itmr_ctx *x);
	/* The members changed: who may send to us, for whom we decapsulate. */
	int (*set_members)(struct itmr_ctx *x);
	/* Traffic to @n goes to underlay @hop from now on. */
	int (*set_route)(struct itmr_ctx *x, struct itmr_node *n, uint32_t hop);
	void (*read_counters)(struct itmr_ctx *x);
	void (*close)(struct itmr_ctx *x);
};

struct itmr_stats {
	uint64_t probes_tx, acks_rx, probes_answered, relayed;
	uint64_t bad_probes, unknown_src, stale_acks;
	uint64_t switches, failovers;
	/* the data path's */
	uint64_t encap, encap_relayed, decap, drop_peer, drop_dest, drop_bad;
	uint64_t encap_fail, relay_fail;
};

/* A path exported as counters (metrics): path_rtt_us{dst=,via=}, ... */
#define ITMR_EXPORT_MAX 15
struct itmr_export {
	char dst[ITMR_NAME_MAX], via[ITMR_NAME_MAX];
	uint64_t rtt_us, loss_pm, active;
};

struct itmr_ctx {
	struct itmr_cfg cfg;
	struct itmr_node nodes[ITMR_NODES_MAX];
	unsigned int n_nodes;
	char self_name[ITMR_NAME_MAX];
	uint32_t self_overlay, self_underlay;
	uint64_t generation;
	char ul_dev[IF_NAMESIZE];
	int ul_ifindex;
	int sock; /* the probe socket, -1 none */
	const struct itmr_dp_ops *dp;
	void *dp_priv;
	struct itmr_stats st;
	uint32_t ticks;
	struct itmr_sched sched;
	struct itmr_sched_probe due[ITMR_SCHED_MAX]; /* of one tick */
	struct itmr_export exp[ITMR_EXPORT_MAX];
	unsigned int n_exp;
};

extern const struct itmr_dp_ops itmr_dp_ebpf, itmr_dp_queue;

uint64_t itmr_now_ns(void);
struct itmr_node *itmr_node_by_underlay(struct itmr_ctx *x, uint32_t ul);
struct itmr_node *itmr_node_by_overlay(struct itmr_ctx *x, uint32_t ovl);

/* prober.c */
int itmr_prober_open(struct itmr_ctx *x);
void itmr_prober_close(struct itmr_ctx *x);
/* Send one probe of path @k of member @n. */
void itmr_prober_send(struct itmr_ctx *x, struct itmr_node *n, unsigned int k);

/* offload.c: the device's TSO, GSO, GRO features as found (from a state
 * file if an instance crashed with them off). */
#define ITMR_OFFLOAD_MAX 16
struct itmr_offload {
	char dev[IF_NAMESIZE];
	int saved; /* off by us, to be restored */
	unsigned int n;
	struct {
		char name[32]; /* ETH_GSTRING_LEN */
		uint32_t on;
	} feat[ITMR_OFFLOAD_MAX];
	char file[320];
};
/* Record @dev's state, then turn them off.  On an error before the
 * record is made, nothing changed. */
int itmr_offload_off(struct itmr_offload *o, const char *dev);
/* Put them back as recorded (nothing if none was). */
void itmr_offload_restore(struct itmr_offload *o);

/* kroute.c: the route to overlay address @dst (network order) through
 * gateway @gw (0: @hop on link) out of @ifindex, from @src, with @mtu. */
int itmr_kroute_gateway(uint32_t hop, uint32_t *gw, int *ifindex);
int itmr_kroute_replace(uint32_t dst, uint32_t gw, uint32_t hop, int ifindex,
			uint32_t src, uint32_t mtu);
int itmr_kroute_delete(uint32_t dst);

#endif
