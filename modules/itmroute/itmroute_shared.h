/*
 * itmroute_shared.h - what the BPF programs (itmroute.bpf.c) and the
 * module's eBPF data path (dp_ebpf.c) share: map layouts and counters.
 * Addresses are IPv4 in network order.
 */
#ifndef ITMROUTE_SHARED_H
#define ITMROUTE_SHARED_H

#define ITMR_MAX_NODES 256

/* routes: inner (overlay) destination -> where to send it. */
struct itmr_route {
	__u32 next_hop; /* underlay address of the chosen first hop */
	__u32 direct;	/* the destination's own underlay address */
	__u32 src;	/* this node's underlay address */
	__u32 pad;
};

/* peers: underlay address of a member -> its overlay address. */
struct itmr_peer {
	__u32 overlay;
	__u32 pad;
};

/* dests: overlay address this node decapsulates for -> ITMR_DEST_*. */
#define ITMR_DEST_SELF	1
#define ITMR_DEST_RELAY 2

/* config[0]: the underlay device, for telling relayed packets apart. */
struct itmr_config {
	__u32 ul_ifindex;
	__u32 pad;
};

/* counters: a per-CPU array indexed by these. */
enum itmr_counter {
	ITMR_C_ENCAP = 0,  /* packets encapsulated at egress */
	ITMR_C_RELAYED,	   /* sent on to their destination (we are via) */
	ITMR_C_DECAP,	   /* packets decapsulated at ingress */
	ITMR_C_DROP_PEER,  /* IP-in-IP from an unknown underlay source */
	ITMR_C_DROP_DEST,  /* IP-in-IP for a destination we do not serve */
	ITMR_C_DROP_SHORT, /* malformed IP-in-IP */
	ITMR_C_ENCAP_FAIL, /* adjust_room or store failed */
	ITMR_C_DROP_RELAY, /* to relay, but no route or no neighbour */
	ITMR_C_MAX
};

#endif
