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

static __always_inline int
relayed(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct itmr_config *c = bpf_map_lookup_elem(&config, &zero);

	return c && c->ul_ifindex && skb->ingress_ifindex == c->ul_ifindex;
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
	int relay;

	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	in = (void *)(eth + 1);
	if ((void *)(in + 1) > end)
		return TC_ACT_OK;
	dst = in->daddr;
	r = bpf_map_lookup_elem(&routes, &dst);
	if (!r)
		return TC_ACT_OK;
	relay = relayed(skb);
	out.version = 4;
	out.ihl = 5;
	out.tos = in->tos;
	out.tot_len = bpf_htons(bpf_ntohs(in->tot_len) + sizeof(out));
	out.frag_off = in->frag_off & bpf_htons(0x4000); /* DF */
	out.ttl = 64;
	out.protocol = IPPROTO_IPIP;
	out.saddr = r->src;
	out.daddr = relay ? r->direct : r->next_hop;
	out.check = ip_csum(&out);
	if (bpf_skb_adjust_room(skb, sizeof(out), BPF_ADJ_ROOM_MAC,
				BPF_F_ADJ_ROOM_ENCAP_L3_IPV4))
		goto fail;
	if (bpf_skb_store_bytes(skb, sizeof(struct ethhdr), &out, sizeof(out),
				0))
		goto fail;
	count(ITMR_C_ENCAP);
	if (relay)
		count(ITMR_C_RELAYED);
	return TC_ACT_OK;
fail:
	count(ITMR_C_ENCAP_FAIL);
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
	__u32 key;

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
	if (!bpf_map_lookup_elem(&dests, &key)) {
		count(ITMR_C_DROP_DEST);
		return TC_ACT_SHOT;
	}
	if (bpf_skb_adjust_room(skb, -(int)sizeof(struct iphdr),
				BPF_ADJ_ROOM_MAC, BPF_F_ADJ_ROOM_FIXED_GSO)) {
		count(ITMR_C_DROP_SHORT);
		return TC_ACT_SHOT;
	}
	count(ITMR_C_DECAP);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
