/*
 * match.h - which traffic a tunnel carries besides its prefixes: the
 * protocols (proto=tcp,udp,icmp or numbers) and destination ports
 * (ports=80,443,5000-5100) of the etunnel parameters.  Pure: parsed at
 * load, checked on the exit's packet path and stream opens, compiled into
 * the entry's interest and split TCP's nft rule.
 */
#ifndef ETUNNEL_MATCH_H
#define ETUNNEL_MATCH_H

#include <stddef.h>
#include <stdint.h>

#include <itm.h>

#define ETUN_MATCH_MAX 16 /* protocols, port ranges */

struct etun_l4match {
	uint8_t protos[ETUN_MATCH_MAX]; /* empty: every protocol */
	unsigned int n_protos;
	struct itm_port_range ports[ETUN_MATCH_MAX]; /* empty: every port */
	unsigned int n_ports;
};

/* Parse the proto= and ports= values ("" each: everything).  Ports
 * without proto mean tcp,udp; every protocol listed with ports must have
 * ports (tcp, udp, sctp, udplite, dccp).  0, or -1 with @why set, naming
 * the parameter. */
int etun_l4_parse(struct etun_l4match *m, const char *proto, const char *ports,
		  char *why, size_t len);
/* The protocol is among those carried. */
int etun_l4_has(const struct etun_l4match *m, uint8_t proto);
/* A connection or packet of @proto to destination port @dport matches. */
int etun_l4_port_match(const struct etun_l4match *m, uint8_t proto,
		       uint16_t dport);
/* An IPv4 packet of @len bytes matches (a later fragment only when no
 * ports are asked for: it carries none). */
int etun_l4_ip_match(const struct etun_l4match *m, const uint8_t *ip,
		     size_t len);
/* Add the protocols and ports to @in (an interest with daddr set). */
void etun_l4_interest(const struct etun_l4match *m, struct itm_interest *in);
/* The ports as an nft set ("{ 80, 5000-5100 }") or "" when none. */
void etun_l4_nft_ports(const struct etun_l4match *m, char *buf, size_t len);
/* The match as text for the log: "proto=tcp ports=80,443" or "all". */
void etun_l4_text(const struct etun_l4match *m, char *buf, size_t len);

#endif
