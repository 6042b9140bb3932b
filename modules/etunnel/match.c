/*
 * match.c - the tunnel's protocols and destination ports (match.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "match.h"

static int
has_ports(uint8_t p)
{
	return p == IPPROTO_TCP || p == IPPROTO_UDP || p == IPPROTO_SCTP ||
	       p == IPPROTO_UDPLITE || p == IPPROTO_DCCP;
}

static const char *
proto_text(uint8_t p, char *buf, size_t len)
{
	if (p == IPPROTO_TCP)
		return "tcp";
	if (p == IPPROTO_UDP)
		return "udp";
	if (p == IPPROTO_ICMP)
		return "icmp";
	snprintf(buf, len, "%u", p);
	return buf;
}

/* "tcp", "udp", "icmp" or 1..255 (not 58, icmpv6: the tunnel is IPv4). */
static int
proto_value(const char *s)
{
	char *end;
	long v;

	if (strcmp(s, "tcp") == 0)
		return IPPROTO_TCP;
	if (strcmp(s, "udp") == 0)
		return IPPROTO_UDP;
	if (strcmp(s, "icmp") == 0)
		return IPPROTO_ICMP;
	if (!isdigit((unsigned char)s[0]))
		return -1;
	v = strtol(s, &end, 10);
	return *end || v < 1 || v > 255 || v == IPPROTO_ICMPV6 ? -1 : (int)v;
}

static int
parse_protos(struct etun_l4match *m, const char *list, char *why, size_t len)
{
	char buf[128], *save = NULL, *tok;
	int p;

	if (strlen(list) >= sizeof(buf)) {
		snprintf(why, len, "proto: too long");
		return -1;
	}
	strcpy(buf, list);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if ((p = proto_value(tok)) < 0) {
			snprintf(why, len,
				 "proto: '%s': use tcp, udp, icmp or a "
				 "protocol number 1..255 (not 58)",
				 tok);
			return -1;
		}
		if (etun_l4_has(m, (uint8_t)p) ||
		    m->n_protos == ETUN_MATCH_MAX) {
			snprintf(why, len, "proto: '%s': %s", tok,
				 m->n_protos == ETUN_MATCH_MAX
					 ? "more than 16 protocols"
					 : "listed twice");
			return -1;
		}
		m->protos[m->n_protos++] = (uint8_t)p;
	}
	return 0;
}

/* "80" or "5000-5100", ports 1..65535. */
static int
range_value(const char *s, struct itm_port_range *r)
{
	char *end;
	long lo, hi;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	lo = hi = strtol(s, &end, 10);
	if (*end == '-') {
		if (!isdigit((unsigned char)end[1]))
			return -1;
		hi = strtol(end + 1, &end, 10);
	}
	if (*end || lo < 1 || hi > 65535 || lo > hi)
		return -1;
	r->lo = (uint16_t)lo;
	r->hi = (uint16_t)hi;
	return 0;
}

static int
parse_ports(struct etun_l4match *m, const char *list, char *why, size_t len)
{
	char buf[256], *save = NULL, *tok;

	if (strlen(list) >= sizeof(buf)) {
		snprintf(why, len, "ports: too long");
		return -1;
	}
	strcpy(buf, list);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (m->n_ports == ETUN_MATCH_MAX ||
		    range_value(tok, &m->ports[m->n_ports]) < 0) {
			snprintf(why, len, "ports: '%s': %s", tok,
				 m->n_ports == ETUN_MATCH_MAX
					 ? "more than 16 ports or ranges"
					 : "use a port 1..65535 or a range "
					   "lo-hi");
			return -1;
		}
		m->n_ports++;
	}
	return 0;
}

int
etun_l4_parse(struct etun_l4match *m, const char *proto, const char *ports,
	      char *why, size_t len)
{
	char b[8];

	memset(m, 0, sizeof(*m));
	if (parse_protos(m, proto, why, len) < 0 ||
	    parse_ports(m, ports, why, len) < 0)
		return -1;
	if (m->n_ports == 0)
		return 0;
	if (m->n_protos == 0) {
		m->protos[m->n_protos++] = IPPROTO_TCP;
		m->protos[m->n_protos++] = IPPROTO_UDP;
	}
	for (unsigned int i = 0; i < m->n_protos; i++)
		if (!has_ports(m->protos[i])) {
			snprintf(why, len,
				 "ports: protocol %s has no ports (ports "
				 "need tcp, udp, sctp, udplite or dccp "
				 "only)",
				 proto_text(m->protos[i], b, sizeof(b)));
			return -1;
		}
	return 0;
}

int
etun_l4_has(const struct etun_l4match *m, uint8_t proto)
{
	for (unsigned int i = 0; i < m->n_protos; i++)
		if (m->protos[i] == proto)
			return 1;
	return 0;
}

int
etun_l4_port_match(const struct etun_l4match *m, uint8_t proto, uint16_t dport)
{
	if (m->n_protos && !etun_l4_has(m, proto))
		return 0;
	if (m->n_ports == 0)
		return 1;
	for (unsigned int i = 0; i < m->n_ports; i++)
		if (dport >= m->ports[i].lo && dport <= m->ports[i].hi)
			return 1;
	return 0;
}

int
etun_l4_ip_match(const struct etun_l4match *m, const uint8_t *ip, size_t len)
{
	size_t hl;

	if (len < 20 || (hl = (size_t)(ip[0] & 0x0f) * 4) < 20)
		return 0;
	if (m->n_protos && !etun_l4_has(m, ip[9]))
		return 0;
	if (m->n_ports == 0)
		return 1;
	if (((ip[6] & 0x1f) << 8 | ip[7]) != 0 || len < hl + 4)
		return 0; /* a later fragment, or no ports: outside */
	return etun_l4_port_match(m, ip[9],
				  (uint16_t)(ip[hl + 2] << 8 | ip[hl + 3]));
}

void
etun_l4_interest(const struct etun_l4match *m, struct itm_interest *in)
{
	for (unsigned int i = 0; i < m->n_protos; i++)
		in->protocols[i] = m->protos[i];
	in->n_protocols = m->n_protos;
	for (unsigned int i = 0; i < m->n_ports; i++)
		in->dst_ports[i] = m->ports[i];
	in->n_dst_ports = m->n_ports;
}

static size_t
ports_list(const struct etun_l4match *m, char *buf, size_t len, size_t o,
	   const char *sep)
{
	for (unsigned int i = 0; i < m->n_ports && o < len; i++) {
		const struct itm_port_range *r = &m->ports[i];

		o += (size_t)snprintf(buf + o, len - o, "%s%u", i ? sep : "",
				      r->lo);
		if (r->hi != r->lo && o < len)
			o += (size_t)snprintf(buf + o, len - o, "-%u", r->hi);
	}
	return o;
}

void
etun_l4_nft_ports(const struct etun_l4match *m, char *buf, size_t len)
{
	size_t o;

	buf[0] = '\0';
	if (m->n_ports == 0 || len < 8)
		return;
	o = ports_list(m, buf, len, (size_t)snprintf(buf, len, "{ "), ", ");
	if (o < len)
		snprintf(buf + o, len - o, " }");
}

void
etun_l4_text(const struct etun_l4match *m, char *buf, size_t len)
{
	char b[8];
	size_t o = 0;

	snprintf(buf, len, "all");
	for (unsigned int i = 0; i < m->n_protos && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s",
				      i ? "," : "proto=",
				      proto_text(m->protos[i], b, sizeof(b)));
	if (m->n_ports && o < len) {
		o += (size_t)snprintf(buf + o, len - o, " ports=");
		ports_list(m, buf, len, o, ",");
	}
}
