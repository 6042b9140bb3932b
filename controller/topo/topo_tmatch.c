/*
 * topo_tmatch.c - a tunnel's `match:` (topo_tunnel.c), which traffic goes
 * in:
 *
 *	match: { dst: [10.201.3.0/24],       # 1..16 IPv4 prefixes
 *		 proto: [tcp, udp, icmp, 47], # optional, default: all
 *		 ports: [80, 443, 5000-5100] } # optional destination ports
 *
 * Ports need protocols that have ports: without proto they mean tcp and
 * udp (as the module's interest does), with a protocol that has none
 * (icmp, most numbers) they are refused.  The values travel to both ends
 * in canonical form: proto=tcp,udp ports=80,443,5000-5100.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "topo_int.h"

/* "10.1.2.0/24" in canonical form (host bits must be zero). */
static const char *
prefix_value(struct topo_ctx *c, yaml_node_t *v, const char *path)
{
	const char *s = topo_scalar(c, v, path, "an IPv4 prefix");
	char addr[32], canon[48], q[96], *end;
	const char *slash;
	struct in_addr a;
	long len;

	if (s == NULL)
		return NULL;
	slash = strchr(s, '/');
	if (slash == NULL || (size_t)(slash - s) >= sizeof(addr))
		goto bad;
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	len = strtol(slash + 1, &end, 10);
	if (inet_pton(AF_INET, addr, &a) != 1 || slash[1] == '\0' || *end ||
	    len < 0 || len > 32)
		goto bad;
	if (len < 32 && (ntohl(a.s_addr) & (0xffffffffu >> len))) {
		topo_fault(c, topo_line(v),
			   "%s: host bits set after /%ld, got %s", path, len,
			   topo_quote(s, q, sizeof(q)));
		return NULL;
	}
	snprintf(canon, sizeof(canon), "%s/%ld", addr, len);
	return topo_strndup(c, canon, strlen(canon));
bad:
	topo_fault(c, topo_line(v),
		   "%s: must be an IPv4 prefix such as 10.1.0.0/16, got %s",
		   path, topo_quote(s, q, sizeof(q)));
	return NULL;
}

static void
match_dst(struct topo_ctx *c, yaml_node_t *v, const char *path, void *obj)
{
	struct topo_tunnel *t = obj;
	size_t n = topo_seq_len(c, v, path, "prefixes", TOPO_TUNNEL_MAX_DST);
	char sub[224];

	if (v->type == YAML_SEQUENCE_NODE && n == 0)
		topo_fault(c, topo_line(v), "%s: must list at least one prefix",
			   path);
	for (size_t i = 0; i < n; i++) {
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		t->dst[t->n_dst] = prefix_value(c, topo_seq_item(c, v, i), sub);
		if (t->dst[t->n_dst])
			t->n_dst++;
	}
}

/* tcp, udp, icmp or 1..255 (not 58, icmpv6: the tunnel is IPv4); a
 * number of a named protocol becomes its name.  0, or -1 after a fault. */
static int
proto_value(struct topo_ctx *c, yaml_node_t *v, const char *path, char *out,
	    size_t len)
{
	static const char *const names[] = { [IPPROTO_ICMP] = "icmp",
					     [IPPROTO_TCP] = "tcp",
					     [IPPROTO_UDP] = "udp" };
	const char *s = topo_scalar(c, v, path, "a protocol");
	uint64_t n;
	char q[96];

	if (s == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i] && strcmp(s, names[i]) == 0)
			return snprintf(out, len, "%s", s) < 0;
	if (topo_parse_uint(s, 1, 255, &n) == 0 && n != IPPROTO_ICMPV6) {
		snprintf(out, len, "%s",
			 n < sizeof(names) / sizeof(names[0]) && names[n]
				 ? names[n]
				 : s);
		return 0;
	}
	topo_fault(c, topo_line(v),
		   "%s: must be tcp, udp, icmp or a protocol number 1..255 "
		   "(not 58), got %s",
		   path, topo_quote(s, q, sizeof(q)));
	return -1;
}

static int
proto_has_ports(const char *p)
{
	return strcmp(p, "tcp") == 0 || strcmp(p, "udp") == 0 ||
	       strcmp(p, "132") == 0 || strcmp(p, "136") == 0 ||
	       strcmp(p, "33") == 0; /* sctp, udplite, dccp */
}

static int
seen_before(char (*seen)[8], size_t n, const char *p)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(seen[i], p) == 0)
			return 1;
	return 0;
}

static void
match_proto(struct topo_ctx *c, yaml_node_t *v, const char *path, void *obj)
{
	struct topo_tunnel *t = obj;
	size_t n = topo_seq_len(c, v, path, "protocols", TOPO_TUNNEL_MAX_L4);
	char list[TOPO_TUNNEL_MAX_L4 * 4 + 1] = "", sub[224], q[96];
	char seen[TOPO_TUNNEL_MAX_L4][8], *p;
	size_t o = 0, k = 0;

	if (v->type == YAML_SEQUENCE_NODE && n == 0)
		topo_fault(c, topo_line(v),
			   "%s: must list at least one protocol (leave proto "
			   "out for all)",
			   path);
	for (size_t i = 0; i < n; i++) {
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		p = seen[k];
		if (proto_value(c, topo_seq_item(c, v, i), sub, p, 8))
			continue;
		if (seen_before(seen, k, p)) {
			topo_fault(c, topo_line(v), "%s: %s listed twice", sub,
				   topo_quote(p, q, sizeof(q)));
			continue;
		}
		k++;
		if (!proto_has_ports(p) && t->proto_no_ports == NULL)
			t->proto_no_ports = topo_strndup(c, p, strlen(p));
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s",
				      o ? "," : "", p);
	}
	if (o)
		t->proto = topo_strndup(c, list, o);
}

/* 80 or "5000-5100" (ports 1..65535) as text; 0, or -1 after a fault. */
static int
range_value(struct topo_ctx *c, yaml_node_t *v, const char *path, char *out,
	    size_t len)
{
	const char *s = topo_scalar(c, v, path, "a port or range lo-hi");
	char lo_s[8], q[96];
	const char *dash;
	uint64_t lo, hi;

	if (s == NULL)
		return -1;
	dash = strchr(s, '-');
	if (dash && (size_t)(dash - s) < sizeof(lo_s)) {
		memcpy(lo_s, s, (size_t)(dash - s));
		lo_s[dash - s] = '\0';
		if (topo_parse_uint(lo_s, 1, 65535, &lo) == 0 &&
		    topo_parse_uint(dash + 1, 1, 65535, &hi) == 0 && lo <= hi) {
			snprintf(out, len, lo == hi ? "%llu" : "%llu-%llu",
				 (unsigned long long)lo,
				 (unsigned long long)hi);
			return 0;
		}
	} else if (!dash && topo_parse_uint(s, 1, 65535, &lo) == 0) {
		snprintf(out, len, "%llu", (unsigned long long)lo);
		return 0;
	}
	topo_fault(c, topo_line(v),
		   "%s: must be a port 1..65535 or a range lo-hi such as "
		   "5000-5100, got %s",
		   path, topo_quote(s, q, sizeof(q)));
	return -1;
}

static void
match_ports(struct topo_ctx *c, yaml_node_t *v, const char *path, void *obj)
{
	struct topo_tunnel *t = obj;
	size_t n = topo_seq_len(c, v, path, "ports", TOPO_TUNNEL_MAX_L4);
	char list[TOPO_TUNNEL_MAX_L4 * 12 + 1] = "", sub[224], r[16];
	size_t o = 0;

	t->ports_line = topo_line(v);
	if (v->type == YAML_SEQUENCE_NODE && n == 0)
		topo_fault(c, topo_line(v),
			   "%s: must list at least one port (leave ports out "
			   "for all)",
			   path);
	for (size_t i = 0; i < n; i++) {
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		if (range_value(c, topo_seq_item(c, v, i), sub, r, sizeof(r)))
			continue;
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s",
				      o ? "," : "", r);
	}
	if (o)
		t->ports = topo_strndup(c, list, o);
}

static const struct topo_field match_fields[] = {
	{ "dst", 1, match_dst },
	{ "proto", 0, match_proto },
	{ "ports", 0, match_ports },
};

void
topo_tunnel_match(struct topo_ctx *c, yaml_node_t *v, const char *path,
		  void *obj)
{
	struct topo_tunnel *t = obj;

	if (v->type != YAML_MAPPING_NODE) {
		topo_fault(c, topo_line(v),
			   "%s: must be a mapping with dst: [prefixes] and "
			   "optionally proto and ports, got %s",
			   path, topo_kind(v));
		return;
	}
	topo_walk_map(c, v, path, match_fields, 3, obj);
	if (t->ports_line && t->proto_no_ports)
		topo_fault(c, t->ports_line,
			   "%s.ports: protocol %s has no ports (ports need "
			   "tcp, udp, sctp, udplite or dccp only)",
			   path, t->proto_no_ports);
}
