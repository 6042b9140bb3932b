/*
 * prefix.c - IPv4/IPv6 prefixes of an interest: parse, print, contain.
 *
 * "10.1.0.0/16", "10.1.2.3" (a host), "2001:db8::/32".  Strict: the
 * address must be what inet_pton() takes (so no "1.2.3"), the length plain
 * decimal within the family's bits, nothing after it.  Host bits set
 * below the length are cleared, as iptables does.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "packet_int.h"

/* Decimal 0..@max, digits only, at most three of them. */
static int
parse_len(const char *s, unsigned int max, uint8_t *out)
{
	unsigned int v = 0;
	size_t i;

	if (s[0] == '\0' || strlen(s) > 3)
		return -EINVAL;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned int)(s[i] - '0');
	}
	if (v > max)
		return -EINVAL;
	*out = (uint8_t)v;
	return 0;
}

static void
prefix_mask(struct itm_prefix *p)
{
	uint8_t *b = p->family == AF_INET ? (uint8_t *)&p->addr.v4
					  : p->addr.v6.s6_addr;
	unsigned int bytes = p->family == AF_INET ? 4 : 16, i;

	for (i = 0; i < bytes; i++) {
		if (p->len >= (i + 1) * 8)
			continue;
		if (p->len <= i * 8)
			b[i] = 0;
		else
			b[i] &= (uint8_t)(0xff << (8 - (p->len - i * 8)));
	}
}

int
itm__prefix_parse(const char *s, struct itm_prefix *out)
{
	char addr[INET6_ADDRSTRLEN];
	const char *slash;
	struct itm_prefix p;
	size_t alen;

	if (s == NULL)
		return -EINVAL;
	memset(&p, 0, sizeof(p));
	slash = strchr(s, '/');
	alen = slash ? (size_t)(slash - s) : strlen(s);
	if (alen == 0 || alen >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, &p.addr.v4) == 1) {
		p.family = AF_INET;
		p.len = 32;
	} else if (inet_pton(AF_INET6, addr, &p.addr.v6) == 1) {
		p.family = AF_INET6;
		p.len = 128;
	} else {
		return -EINVAL;
	}
	if (slash && parse_len(slash + 1, p.len, &p.len) < 0)
		return -EINVAL;
	prefix_mask(&p);
	*out = p;
	return 0;
}

const char *
itm__prefix_format(const struct itm_prefix *p, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN];
	unsigned int full = p->family == AF_INET ? 32 : 128;

	if ((p->family != AF_INET && p->family != AF_INET6) ||
	    inet_ntop(p->family, &p->addr, addr, sizeof(addr)) == NULL) {
		snprintf(buf, len, "(bad prefix)");
		return buf;
	}
	if (p->len >= full)
		snprintf(buf, len, "%s", addr);
	else
		snprintf(buf, len, "%s/%u", addr, p->len);
	return buf;
}

/* Does @p contain @addr (struct in_addr or in6_addr by @family)? */
int
itm__prefix_contains(const struct itm_prefix *p, int family, const void *addr)
{
	const uint8_t *a = addr, *b;
	unsigned int full, rem;

	if (p->family != family || addr == NULL)
		return 0;
	b = family == AF_INET ? (const uint8_t *)&p->addr.v4
			      : p->addr.v6.s6_addr;
	full = p->len / 8;
	rem = p->len % 8;
	if (memcmp(a, b, full) != 0)
		return 0;
	if (rem == 0)
		return 1;
	return ((a[full] ^ b[full]) & (uint8_t)(0xff << (8 - rem))) == 0;
}
