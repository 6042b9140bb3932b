/*
 * itmroute.bpf.c - the eBPF data path of itmroute: tc clsact programs on
 * the underlay device.
 *
 *   egress:  an IPv4 packet whose destination is in `routes` gets an
 *            outer IPv4 header (protocol 4) towards the route's next hop;
 *            a packet that came in from the underlay (a relayed one) goes
 *            to the destination directly: one intermediate node at most.
 *            The outer TOS is the inner one.
 *   ingress: IP-in-IP is decapsulated only from a member's underlay
 *            address (`peers`) and only for an inner destination in
 *            `dests` (this node, or a member it relays to); anything else
 *            is dropped and counted.
 *
 * The module (dp_ebpf.c) fills the maps; a path switch is one update of
 * `routes`.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "itmroute_shared.h"

/* Linux 6.3+: the decapsulation also clears skb->encapsulation, which the
 * sender's encapsulation set and veth carries along; without it a relay
 * could not encapsulate the packet again (-EALREADY).  Debian 12's
 * headers predate it. */
#ifndef BPF_F_ADJ_ROOM_DECAP_L3_IPV4
#define BPF_F_ADJ_ROOM_DECAP_L3_IPV4 (1ULL << 7)
#endif

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ITMR_MAX_NODES);
	__type(key, __u32);
	__type(value, struct itmr_route);
} routes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ITMR_MAX_NODES);
	__type(key, __u32);
	__type(value, struct itmr_peer);
} peers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ITMR_MAX_NODES);
	__type(key, __u32);
	__type(value, __u32);
} dests SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct itmr_config);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ITMR_C_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void
count(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &which);

	if (v)
		*v += 1;
}

static __always_inline __u16
ip_csum(struct iphdr *ip)
{
	__u32 sum = 0;
	__u16 *p = (__u16 *)ip;

#pragma unroll
	for (int i = 0; i < 10; i++)
		sum += p[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

SEC("tc")
int
itmr_egress(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *in, out = {};
	struct itmr_route *r;
	__u32 dst;

	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	in = (void *)(eth + 1);
	if ((void *)(in + 1) > end)
		return TC_ACT_OK;
	dst = in->daddr;
	r = bpf_map_lookup_elem(&routes, &dst);
	if (!r)
		return TC_ACT_OK;
	out.version = 4;
	out.ihl = 5;
	out.tos = in->tos;
	out.tot_len = bpf_htons(bpf_ntohs(in->tot_len) + sizeof(out));
	out.frag_off = in->frag_off & bpf_htons(0x4000); /* DF */
	out.ttl = 64;
	out.protocol = IPPROTO_IPIP;
	out.saddr = r->src;
	out.daddr = r->next_hop;
	out.check = ip_csum(&out);
	if (bpf_skb_adjust_room(skb, sizeof(out), BPF_ADJ_ROOM_MAC,
				BPF_F_ADJ_ROOM_ENCAP_L3_IPV4))
		goto fail;
	if (bpf_skb_store_bytes(skb, sizeof(struct ethhdr), &out, sizeof(out),
				0))
		goto fail;
	count(ITMR_C_ENCAP);
	return TC_ACT_OK;
fail:
	count(ITMR_C_ENCAP_FAIL);
	return TC_ACT_SHOT;
}

/*
 * We are the intermediate: send the packet on to its destination's
 * underlay address, still encapsulated, from ours, out of the device the
 * FIB names (never through another intermediate).  Done here, not by
 * decapsulating and forwarding, because the sender's encapsulation left
 * skb->encapsulation set (veth keeps it) and a second encapsulation of
 * the same skb is refused.
 */
static __always_inline int
relay(struct __sk_buff *skb, struct iphdr *out, __u32 inner_dst)
{
	struct bpf_fib_lookup fib = {};
	struct itmr_route *r = bpf_map_lookup_elem(&routes, &inner_dst);
	struct iphdr h;

	if (!r || out->ttl <= 1)
		goto drop;
	h = *out;
	h.saddr = r->src;
	h.daddr = r->direct;
	h.ttl = out->ttl - 1;
	h.check = 0;
	h.check = ip_csum(&h);
	fib.family = 2; /* AF_INET */
	fib.ipv4_src = h.saddr;
	fib.ipv4_dst = h.daddr;
	fib.tot_len = 0; /* no MTU check: GRO may have merged segments */
	fib.ifindex = skb->ingress_ifindex;
	if (bpf_fib_lookup(skb, &fib, sizeof(fib), 0) !=
	    BPF_FIB_LKUP_RET_SUCCESS)
		goto drop;
	if (bpf_skb_store_bytes(skb, sizeof(struct ethhdr), &h, sizeof(h), 0) ||
	    bpf_skb_store_bytes(skb, 0, fib.dmac, ETH_ALEN, 0) ||
	    bpf_skb_store_bytes(skb, ETH_ALEN, fib.smac, ETH_ALEN, 0))
		goto drop;
	count(ITMR_C_RELAYED);
	return bpf_redirect(fib.ifindex, 0);
drop:
	count(ITMR_C_DROP_RELAY);
	return TC_ACT_SHOT;
}

SEC("tc")
int
itmr_ingress(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *out, *in;
	__u32 key, *kind;

	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	out = (void *)(eth + 1);
	if ((void *)(out + 1) > end || out->protocol != IPPROTO_IPIP)
		return TC_ACT_OK;
	key = out->saddr;
	if (!bpf_map_lookup_elem(&peers, &key)) {
		count(ITMR_C_DROP_PEER);
		return TC_ACT_SHOT;
	}
	in = (void *)out + out->ihl * 4;
	if (out->ihl != 5 || (void *)(in + 1) > end || in->version != 4) {
		count(ITMR_C_DROP_SHORT);
		return TC_ACT_SHOT;
	}
	key = in->daddr;
	kind = bpf_map_lookup_elem(&dests, &key);
	if (!kind) {
		count(ITMR_C_DROP_DEST);
		return TC_ACT_SHOT;
	}
	if (*kind == ITMR_DEST_RELAY)
		return relay(skb, out, key);
	if (bpf_skb_adjust_room(skb, -(int)sizeof(struct iphdr),
				BPF_ADJ_ROOM_MAC,
				BPF_F_ADJ_ROOM_FIXED_GSO |
					BPF_F_ADJ_ROOM_DECAP_L3_IPV4) &&
	    bpf_skb_adjust_room(skb, -(int)sizeof(struct iphdr),
				BPF_ADJ_ROOM_MAC, BPF_F_ADJ_ROOM_FIXED_GSO)) {
		count(ITMR_C_DROP_SHORT);
		return TC_ACT_SHOT;
	}
	count(ITMR_C_DECAP);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
