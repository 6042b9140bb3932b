/*
 * match.c - an interest compiled into iptables matches.
 *
 * Lists in an interest are alternatives and the lists combine with AND, so
 * the rules are the cross product of protocols, source and destination
 * prefixes and devices; port lists ride along in multiport matches (15
 * ports per match, a range counting two).  Ports without protocols mean
 * TCP and UDP.  The product is capped so one registration cannot flood the
 * chain.  Only IPv4 is compiled here: the agent's chains live in iptables.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>

#include "agent.h"
#include "packet_int.h"

#define MATCH_MAX_RULES 256
#define MATCH_LEN	512
#define MULTIPORT_MAX	15

struct mbuild {
	char **v;
	unsigned int n;
	int err;
};

static const char *
proto_name(uint8_t p, char *buf, size_t len)
{
	switch (p) {
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	case IPPROTO_ICMP: return "icmp";
	case IPPROTO_SCTP: return "sctp";
	case IPPROTO_UDPLITE: return "udplite";
	case IPPROTO_DCCP: return "dccp";
	default: snprintf(buf, len, "%u", p); return buf;
	}
}

/* "80", "1000:2000", comma-joined chunks of at most 15 port slots. */
static unsigned int
port_chunks(const struct itm_port_range *r, unsigned int n, char out[][160],
	    unsigned int max_chunks)
{
	unsigned int chunks = 0, slots = 0;

	for (unsigned int i = 0; i < n; i++) {
		unsigned int need = r[i].lo == r[i].hi ? 1 : 2;
		char one[16];

		if (chunks == 0 || slots + need > MULTIPORT_MAX) {
			if (chunks == max_chunks)
				return 0;
			out[chunks++][0] = '\0';
			slots = 0;
		}
		if (r[i].lo == r[i].hi)
			snprintf(one, sizeof(one), "%u", r[i].lo);
		else
			snprintf(one, sizeof(one), "%u:%u", r[i].lo, r[i].hi);
		if (slots > 0)
			strcat(out[chunks - 1], ",");
		strcat(out[chunks - 1], one);
		slots += need;
	}
	return chunks;
}

static void
mb_add(struct mbuild *mb, const char *s)
{
	char **v;

	if (mb->err)
		return;
	if (mb->n >= MATCH_MAX_RULES) {
		mb->err = -E2BIG;
		return;
	}
	v = realloc(mb->v, (mb->n + 1) * sizeof(*v));
	if (v == NULL || (v[mb->n] = strdup(s)) == NULL) {
		if (v)
			mb->v = v;
		mb->err = -ENOMEM;
		return;
	}
	mb->v = v;
	mb->n++;
}

static int
proto_has_ports(uint8_t p)
{
	return p == IPPROTO_TCP || p == IPPROTO_UDP || p == IPPROTO_SCTP ||
	       p == IPPROTO_UDPLITE || p == IPPROTO_DCCP;
}

/* Append the port part for protocol @p to @base and add the rule(s). */
static void
mb_ports(struct mbuild *mb, const struct itm_interest *in, uint8_t p,
	 const char *base)
{
	char sp[8][160], dp[8][160], rule[MATCH_LEN];
	unsigned int ns = 1, nd = 1;

	if (!proto_has_ports(p) ||
	    (in->n_src_ports == 0 && in->n_dst_ports == 0)) {
		mb_add(mb, base);
		return;
	}
	if (in->n_src_ports)
		ns = port_chunks(in->src_ports, in->n_src_ports, sp, 8);
	if (in->n_dst_ports)
		nd = port_chunks(in->dst_ports, in->n_dst_ports, dp, 8);
	for (unsigned int i = 0; i < ns; i++)
		for (unsigned int j = 0; j < nd; j++) {
			int len = snprintf(rule, sizeof(rule), "%s", base);

			if (in->n_src_ports)
				len += snprintf(rule + len, sizeof(rule) - len,
						" -m multiport --sports %s",
						sp[i]);
			if (in->n_dst_ports)
				snprintf(rule + len, sizeof(rule) - len,
					 " -m multiport --dports %s", dp[j]);
			mb_add(mb, rule);
		}
}

static const char *
prefix_arg(const struct itm_prefix *p, char *buf, size_t len)
{
	if (p == NULL)
		return NULL;
	return itm__prefix_format(p, buf, len);
}

/* One combination of protocol, addresses and devices. */
static void
mb_rule(struct mbuild *mb, const struct itm_interest *in, int proto,
	const struct itm_prefix *s, const struct itm_prefix *d,
	const char *idev, const char *odev)
{
	char base[MATCH_LEN], pb[8], a1[64], a2[64];
	int len = 0;

	base[0] = '\0';
	if (proto >= 0)
		len += snprintf(base + len, sizeof(base) - len, " -p %s",
				proto_name((uint8_t)proto, pb, sizeof(pb)));
	if (s)
		len += snprintf(base + len, sizeof(base) - len, " -s %s",
				prefix_arg(s, a1, sizeof(a1)));
	if (d)
		len += snprintf(base + len, sizeof(base) - len, " -d %s",
				prefix_arg(d, a2, sizeof(a2)));
	if (idev)
		len += snprintf(base + len, sizeof(base) - len, " -i %s", idev);
	if (odev)
		snprintf(base + len, sizeof(base) - len, " -o %s", odev);
	if (proto < 0)
		mb_add(mb, base);
	else
		mb_ports(mb, in, (uint8_t)proto, base);
}

/* Protocols to expand: the list, or TCP+UDP when only ports are given,
 * or "any" (-1). */
static unsigned int
protocols(const struct itm_interest *in, int *out)
{
	unsigned int n = 0;

	if (in->n_protocols) {
		for (unsigned int i = 0; i < in->n_protocols; i++)
			out[n++] = in->protocols[i];
		return n;
	}
	if (in->n_src_ports || in->n_dst_ports) {
		out[0] = IPPROTO_TCP;
		out[1] = IPPROTO_UDP;
		return 2;
	}
	out[0] = -1;
	return 1;
}

/* IPv4 prefixes of a list; an empty list is one "any" (NULL). */
static unsigned int
v4_prefixes(const struct itm_prefix *p, unsigned int n,
	    const struct itm_prefix **out)
{
	unsigned int k = 0;

	if (n == 0) {
		out[0] = NULL;
		return 1;
	}
	for (unsigned int i = 0; i < n; i++)
		if (p[i].family == AF_INET)
			out[k++] = &p[i];
	return k;
}

static unsigned int
devs(const char (*d)[IF_NAMESIZE], unsigned int n, const char **out)
{
	if (n == 0) {
		out[0] = NULL;
		return 1;
	}
	for (unsigned int i = 0; i < n; i++)
		out[i] = d[i];
	return n;
}

int
match_compile(const struct itm_interest *in, itm_where hook, char ***out,
	      unsigned int *n, char *err, size_t errlen)
{
	const struct itm_prefix *sa[ITM_INTEREST_MAX], *da[ITM_INTEREST_MAX];
	const char *id[ITM_INTEREST_MAX], *od[ITM_INTEREST_MAX];
	int pr[ITM_INTEREST_MAX];
	unsigned int np, ns, nd, ni, no;
	struct mbuild mb = { 0 };

	(void)hook;
	np = protocols(in, pr);
	ns = v4_prefixes(in->saddr, in->n_saddr, sa);
	nd = v4_prefixes(in->daddr, in->n_daddr, da);
	ni = devs(in->indev, in->n_indev, id);
	no = devs(in->outdev, in->n_outdev, od);
	for (unsigned int a = 0; a < np; a++)
		for (unsigned int b = 0; b < ns; b++)
			for (unsigned int c = 0; c < nd; c++)
				for (unsigned int d = 0; d < ni; d++)
					for (unsigned int e = 0; e < no; e++)
						mb_rule(&mb, in, pr[a], sa[b],
							da[c], id[d], od[e]);
	if (mb.err == -E2BIG)
		snprintf(err, errlen,
			 "interest expands to more than %d "
			 "netfilter rules; use prefixes or port ranges",
			 MATCH_MAX_RULES);
	else if (mb.err == 0 && mb.n == 0) {
		snprintf(err, errlen,
			 "interest has only IPv6 addresses; "
			 "the agent's rules are IPv4 only");
		mb.err = -EINVAL;
	} else if (mb.err)
		snprintf(err, errlen, "%s", strerror(-mb.err));
	if (mb.err) {
		match_free(mb.v, mb.n);
		return mb.err;
	}
	*out = mb.v;
	*n = mb.n;
	return 0;
}

void
match_free(char **v, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}
