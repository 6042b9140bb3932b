/*
 * interest.c - which packets a registration wants (struct itm_interest).
 *
 * Building an interest (itm_interest_add_*), checking one against its hook
 * before it is compiled into netfilter matches (itm__interest_check), and
 * matching a parsed packet against it in user space
 * (itm_interest_match: hosts use it where the kernel cannot filter, and
 * to double-check).  Lists are alternatives, lists combine with AND, an
 * empty list is "any".  A device name ending in '+' matches every name
 * with that prefix, as in iptables.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "packet_int.h"
#include "error.h"
#include "ifname.h"

void
itm_interest_init(struct itm_interest *in)
{
	memset(in, 0, sizeof(*in));
}

static int
proto_has_ports(uint8_t p)
{
	return p == IPPROTO_TCP || p == IPPROTO_UDP || p == IPPROTO_UDPLITE ||
	       p == IPPROTO_SCTP || p == IPPROTO_DCCP;
}

static const char *
proto_name(uint8_t p, char *buf, size_t len)
{
	switch (p) {
	case IPPROTO_ICMP: return "icmp";
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	case IPPROTO_ICMPV6: return "icmpv6";
	case IPPROTO_UDPLITE: return "udplite";
	case IPPROTO_SCTP: return "sctp";
	case IPPROTO_DCCP: return "dccp";
	case IPPROTO_GRE: return "gre";
	case IPPROTO_ESP: return "esp";
	case IPPROTO_AH: return "ah";
	case IPPROTO_IPIP: return "ipip";
	default: snprintf(buf, len, "%u", p); return buf;
	}
}

/* Linux's rule (dev_valid_name), minus control characters. */
static int
ifname_valid(const char *s, size_t max)
{
	size_t n = strnlen(s, max), i;

	if (n == 0 || n >= IF_NAMESIZE || n == max)
		return 0;
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c == 0x7f || c == '/' || c == ':')
			return 0;
	}
	return 1;
}

/* --- building ------------------------------------------------------ */

int
itm_interest_add_protocol(struct itm_interest *in, int proto)
{
	unsigned int i;

	if (proto < 1 || proto > 255) {
		itm__set_error("protocols: %d is not a protocol number (1-255)",
			       proto);
		return -EINVAL;
	}
	for (i = 0; i < in->n_protocols; i++)
		if (in->protocols[i] == proto)
			return 0;
	if (in->n_protocols >= ITM_INTEREST_MAX) {
		itm__set_error("protocols: list full (%d entries)",
			       ITM_INTEREST_MAX);
		return -ENOSPC;
	}
	in->protocols[in->n_protocols++] = (uint8_t)proto;
	return 0;
}

static int
add_prefix(struct itm_prefix *list, unsigned int *n, const char *what,
	   const char *s)
{
	struct itm_prefix p;
	unsigned int i;

	if (itm__prefix_parse(s, &p) < 0) {
		itm__set_error("%s: \"%s\" is not an address or prefix", what,
			       s ? s : "(null)");
		return -EINVAL;
	}
	for (i = 0; i < *n; i++)
		if (memcmp(&list[i], &p, sizeof(p)) == 0)
			return 0;
	if (*n >= ITM_INTEREST_MAX) {
		itm__set_error("%s: list full (%d entries)", what,
			       ITM_INTEREST_MAX);
		return -ENOSPC;
	}
	list[(*n)++] = p;
	return 0;
}

int
itm_interest_add_saddr(struct itm_interest *in, const char *prefix)
{
	return add_prefix(in->saddr, &in->n_saddr, "saddr", prefix);
}

int
itm_interest_add_daddr(struct itm_interest *in, const char *prefix)
{
	return add_prefix(in->daddr, &in->n_daddr, "daddr", prefix);
}

static int
add_ports(struct itm_port_range *list, unsigned int *n, const char *what,
	  uint16_t lo, uint16_t hi)
{
	unsigned int i;

	if (lo > hi) {
		itm__set_error("%s: range %u-%u is reversed", what, lo, hi);
		return -EINVAL;
	}
	for (i = 0; i < *n; i++)
		if (list[i].lo == lo && list[i].hi == hi)
			return 0;
	if (*n >= ITM_INTEREST_MAX) {
		itm__set_error("%s: list full (%d entries)", what,
			       ITM_INTEREST_MAX);
		return -ENOSPC;
	}
	list[*n].lo = lo;
	list[*n].hi = hi;
	(*n)++;
	return 0;
}

int
itm_interest_add_src_port(struct itm_interest *in, uint16_t lo, uint16_t hi)
{
	return add_ports(in->src_ports, &in->n_src_ports, "src_ports", lo, hi);
}

int
itm_interest_add_dst_port(struct itm_interest *in, uint16_t lo, uint16_t hi)
{
	return add_ports(in->dst_ports, &in->n_dst_ports, "dst_ports", lo, hi);
}

static int
add_dev(char (*list)[IF_NAMESIZE], unsigned int *n, const char *what,
	const char *dev)
{
	unsigned int i;

	if (dev == NULL || !ifname_valid(dev, IF_NAMESIZE + 1)) {
		itm__set_error("%s: \"%.32s\" is not an interface name", what,
			       dev ? dev : "(null)");
		return -EINVAL;
	}
	for (i = 0; i < *n; i++)
		if (strcmp(list[i], dev) == 0)
			return 0;
	if (*n >= ITM_INTEREST_MAX) {
		itm__set_error("%s: list full (%d entries)", what,
			       ITM_INTEREST_MAX);
		return -ENOSPC;
	}
	snprintf(list[(*n)++], IF_NAMESIZE, "%s", dev);
	return 0;
}

int
itm_interest_add_indev(struct itm_interest *in, const char *dev)
{
	return add_dev(in->indev, &in->n_indev, "indev", dev);
}

int
itm_interest_add_outdev(struct itm_interest *in, const char *dev)
{
	return add_dev(in->outdev, &in->n_outdev, "outdev", dev);
}

/* --- matching ------------------------------------------------------ */

static int
match_proto(const struct itm_interest *in, uint8_t proto)
{
	unsigned int i;

	for (i = 0; i < in->n_protocols; i++)
		if (in->protocols[i] == proto)
			return 1;
	return 0;
}

static int
match_addr(const struct itm_prefix *list, unsigned int n,
	   const struct itm_packet *pkt, int dst)
{
	const void *a;
	unsigned int i;

	/* By offset: the packet need not be aligned. */
	if (pkt->family == AF_INET && pkt->iph != NULL)
		a = pkt->data + (dst ? 16 : 12);
	else if (pkt->family == AF_INET6 && pkt->ip6h != NULL)
		a = pkt->data + (dst ? 24 : 8);
	else
		return 0;
	for (i = 0; i < n; i++)
		if (itm__prefix_contains(&list[i], pkt->family, a))
			return 1;
	return 0;
}

static int
match_range(const struct itm_port_range *list, unsigned int n, uint16_t port)
{
	unsigned int i;

	if (n == 0)
		return 1;
	for (i = 0; i < n; i++)
		if (port >= list[i].lo && port <= list[i].hi)
			return 1;
	return 0;
}

/* Ports with no protocol listed mean TCP or UDP, as the rules say. */
static int
match_ports(const struct itm_interest *in, const struct itm_packet *pkt)
{
	if (pkt->l4h == NULL || !proto_has_ports(pkt->l4proto))
		return 0;
	if (in->n_protocols == 0 && pkt->l4proto != IPPROTO_TCP &&
	    pkt->l4proto != IPPROTO_UDP)
		return 0;
	return match_range(in->src_ports, in->n_src_ports, pkt->sport) &&
	       match_range(in->dst_ports, in->n_dst_ports, pkt->dport);
}

static int
dev_name_match(const char (*list)[IF_NAMESIZE], unsigned int n,
	       const char *name)
{
	unsigned int i;
	size_t l;

	for (i = 0; i < n; i++) {
		l = strnlen(list[i], IF_NAMESIZE);
		if (l > 0 && list[i][l - 1] == '+') {
			if (strncmp(name, list[i], l - 1) == 0)
				return 1;
		} else if (strncmp(name, list[i], IF_NAMESIZE) == 0) {
			return 1;
		}
	}
	return 0;
}

/* A name that does not match may be stale: look once more (rate-limited). */
static int
match_dev(const char (*list)[IF_NAMESIZE], unsigned int n, uint32_t ifindex)
{
	const char *name;

	if (ifindex == 0)
		return 0;
	name = itm__ifname(ifindex);
	if (name != NULL && dev_name_match(list, n, name))
		return 1;
	name = itm__ifname_refresh(ifindex);
	return name != NULL && dev_name_match(list, n, name);
}

int
itm_interest_match(const struct itm_interest *in, const struct itm_packet *pkt)
{
	if (in->n_protocols && !match_proto(in, pkt->l4proto))
		return 0;
	if (in->n_saddr && !match_addr(in->saddr, in->n_saddr, pkt, 0))
		return 0;
	if (in->n_daddr && !match_addr(in->daddr, in->n_daddr, pkt, 1))
		return 0;
	if ((in->n_src_ports || in->n_dst_ports) && !match_ports(in, pkt))
		return 0;
	if (in->n_indev && !match_dev(in->indev, in->n_indev, pkt->indev))
		return 0;
	if (in->n_outdev && !match_dev(in->outdev, in->n_outdev, pkt->outdev))
		return 0;
	return 1;
}

/* --- checking ------------------------------------------------------ */

#define CHECK_FAIL(...)                             \
	do {                                        \
		snprintf(err, errlen, __VA_ARGS__); \
		return -EINVAL;                     \
	} while (0)

static int
check_counts(const struct itm_interest *in, char *err, size_t errlen)
{
	const struct {
		const char *name;
		unsigned int n;
	} c[] = {
		{ "protocols", in->n_protocols },
		{ "saddr", in->n_saddr },
		{ "daddr", in->n_daddr },
		{ "src_ports", in->n_src_ports },
		{ "dst_ports", in->n_dst_ports },
		{ "indev", in->n_indev },
		{ "outdev", in->n_outdev },
	};
	size_t i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		if (c[i].n > ITM_INTEREST_MAX)
			CHECK_FAIL("%s: %u entries, at most %d", c[i].name,
				   c[i].n, ITM_INTEREST_MAX);
	return 0;
}

/* Every prefix valid and of one family; *@family gets it (0: none). */
static int
check_prefixes(const struct itm_prefix *list, unsigned int n, const char *what,
	       int *family, char *err, size_t errlen)
{
	char buf[64];
	unsigned int i;

	for (i = 0; i < n; i++) {
		const struct itm_prefix *p = &list[i];

		if (p->family != AF_INET && p->family != AF_INET6)
			CHECK_FAIL("%s: entry %u has no address family", what,
				   i + 1);
		if (p->len > (p->family == AF_INET ? 32 : 128))
			CHECK_FAIL("%s: prefix length %u is too long for %s",
				   what, p->len,
				   p->family == AF_INET ? "IPv4" : "IPv6");
		if (*family != 0 && *family != p->family)
			CHECK_FAIL("%s: %s mixes IPv4 and IPv6 in one rule",
				   what,
				   itm__prefix_format(p, buf, sizeof(buf)));
		*family = p->family;
	}
	return 0;
}

static int
check_protocols(const struct itm_interest *in, int family, char *err,
		size_t errlen)
{
	char buf[8];
	unsigned int i;
	uint8_t p;

	for (i = 0; i < in->n_protocols; i++) {
		p = in->protocols[i];
		if (p == 0)
			CHECK_FAIL("protocols: 0 is not a protocol");
		if ((p == IPPROTO_ICMP && family == AF_INET6) ||
		    (p == IPPROTO_ICMPV6 && family == AF_INET))
			CHECK_FAIL("protocols: %s with %s addresses",
				   proto_name(p, buf, sizeof(buf)),
				   family == AF_INET ? "IPv4" : "IPv6");
	}
	return 0;
}

static int
check_ports(const struct itm_interest *in, const struct itm_port_range *list,
	    unsigned int n, const char *what, char *err, size_t errlen)
{
	char buf[8];
	unsigned int i;

	for (i = 0; i < n; i++)
		if (list[i].lo > list[i].hi)
			CHECK_FAIL("%s: range %u-%u is reversed", what,
				   list[i].lo, list[i].hi);
	for (i = 0; n > 0 && i < in->n_protocols; i++)
		if (!proto_has_ports(in->protocols[i]))
			CHECK_FAIL("%s: protocol %s has no ports", what,
				   proto_name(in->protocols[i], buf,
					      sizeof(buf)));
	return 0;
}

static int
check_devs(const char (*list)[IF_NAMESIZE], unsigned int n, const char *what,
	   int allowed, itm_where hook, char *err, size_t errlen)
{
	unsigned int i;

	if (n > 0 && !allowed)
		CHECK_FAIL("%s: not available at %s", what,
			   itm_hook_name(hook));
	for (i = 0; i < n; i++)
		if (!ifname_valid(list[i], IF_NAMESIZE))
			CHECK_FAIL("%s: \"%.*s\" is not an interface name",
				   what, IF_NAMESIZE, list[i]);
	return 0;
}

int
itm__interest_check(const struct itm_interest *in, itm_where hook, char *err,
		    size_t errlen)
{
	int family = 0, in_ok, out_ok;

	if ((unsigned int)hook >= ITM_HOOK_MAX)
		CHECK_FAIL("hook: %d is not a hook", (int)hook);
	if (check_counts(in, err, errlen) < 0 ||
	    check_prefixes(in->saddr, in->n_saddr, "saddr", &family, err,
			   errlen) < 0 ||
	    check_prefixes(in->daddr, in->n_daddr, "daddr", &family, err,
			   errlen) < 0 ||
	    check_protocols(in, family, err, errlen) < 0 ||
	    check_ports(in, in->src_ports, in->n_src_ports, "src_ports", err,
			errlen) < 0 ||
	    check_ports(in, in->dst_ports, in->n_dst_ports, "dst_ports", err,
			errlen) < 0)
		return -EINVAL;
	in_ok = hook != ITM_IP_OUT && hook != ITM_POST_ROUTE;
	out_ok = hook != ITM_PRE_ROUTE && hook != ITM_IP_IN;
	if (check_devs(in->indev, in->n_indev, "indev", in_ok, hook, err,
		       errlen) < 0 ||
	    check_devs(in->outdev, in->n_outdev, "outdev", out_ok, hook, err,
		       errlen) < 0)
		return -EINVAL;
	return 0;
}
