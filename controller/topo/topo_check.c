/*
 * topo_check.c - checkers for the values in topo.yaml: names, addresses,
 * numbers and rates.  Pure functions on C strings, no YAML; each says in
 * a short phrase what a good value looks like.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "topo_int.h"

static int
why_set(char *why, size_t len, const char *text)
{
	snprintf(why, len, "%s", text);
	return -1;
}

/* Every byte in @set (plus alnum); first byte alnum or a letter. */
static int
word_ok(const char *s, size_t max, const char *extra, int letter_first)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return 0;
	if (letter_first ? !isalpha((unsigned char)s[0])
			 : !isalnum((unsigned char)s[0]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr(extra, s[i]))
			return 0;
	return 1;
}

int
topo_check_node_name(const char *s, char *why, size_t len)
{
	if (word_ok(s, TOPO_NAME_MAX, "-_.", 1))
		return 0;
	return why_set(why, len,
		       "must be 1..32 letters, digits, '-', '_' "
		       "or '.', starting with a letter");
}

int
topo_check_label_key(const char *s, char *why, size_t len)
{
	if (word_ok(s, 63, "-_./", 0))
		return 0;
	return why_set(why, len,
		       "label names are 1..63 letters, digits, "
		       "'-', '_', '.' or '/'");
}

int
topo_check_label_value(const char *s, char *why, size_t len)
{
	if (word_ok(s, 63, "-_.:/", 0))
		return 0;
	return why_set(why, len,
		       "label values are 1..63 letters, digits, "
		       "'-', '_', '.', ':' or '/'");
}

int
topo_check_module_name(const char *s, char *why, size_t len)
{
	for (const char *p = s; *p; p++)
		if (isupper((unsigned char)*p))
			goto bad;
	if (word_ok(s, 32, "_-", 1))
		return 0;
bad:
	return why_set(why, len,
		       "module names are 1..32 lower-case "
		       "letters, digits, '_' or '-', starting with a letter");
}

int
topo_check_param_key(const char *s, char *why, size_t len)
{
	for (const char *p = s; *p; p++)
		if (isupper((unsigned char)*p))
			goto bad;
	if (word_ok(s, 32, "_", 1))
		return 0;
bad:
	return why_set(why, len,
		       "parameter names are 1..32 lower-case "
		       "letters, digits or '_', starting with a letter");
}

/* Printable ASCII or UTF-8 text without control characters. */
static int
text_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n > max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

int
topo_check_param_value(const char *s, char *why, size_t len)
{
	if (text_ok(s, 255))
		return 0;
	return why_set(why, len,
		       "parameter values are at most 255 bytes "
		       "on one line");
}

int
topo_check_comment(const char *s, char *why, size_t len)
{
	if (text_ok(s, 200))
		return 0;
	return why_set(why, len, "must be one line of at most 200 bytes");
}

int
topo_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (s[0] == '\0' || (s[0] == '0' && s[1] != '\0'))
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Host names after RFC 1123: dot-separated labels of alnum and '-'. */
static int
hostname_ok(const char *h, size_t n)
{
	size_t lab = 0;
	int alpha = 0;

	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)h[i];

		if (ch == '.') {
			if (lab == 0 || h[i - 1] == '-')
				return 0;
			lab = 0;
			continue;
		}
		if (!isalnum(ch) && ch != '-')
			return 0;
		if ((lab == 0 && ch == '-') || ++lab > 63)
			return 0;
		alpha |= isalpha(ch) || ch == '-';
	}
	return lab > 0 && h[n - 1] != '-' && alpha;
}

static int
port_ok(const char *p, unsigned int *port)
{
	uint64_t v;

	if (topo_parse_uint(p, 1, 65535, &v) < 0)
		return 0;
	*port = (unsigned int)v;
	return 1;
}

static int
check_v6_host(const char *s, const char **port, char *host, size_t hlen)
{
	const char *end = strchr(s, ']');
	size_t n;

	if (end == NULL)
		return -1;
	n = (size_t)(end - s - 1);
	if (n >= hlen)
		return -1;
	memcpy(host, s + 1, n);
	host[n] = '\0';
	*port = end[1] == ':' ? end + 2 : NULL;
	return 0;
}

/* Split "host:port" / "[v6]:port"; @host gets the host without brackets. */
static int
split_hostport(const char *s, char *host, size_t hlen, const char **port,
	       int *bracket, char *why, size_t len)
{
	const char *colon;

	*bracket = s[0] == '[';
	if (*bracket) {
		if (check_v6_host(s, port, host, hlen) < 0 || *port == NULL)
			return why_set(why, len, "must be [IPv6]:port");
		return 0;
	}
	colon = strrchr(s, ':');
	if (colon == NULL)
		return why_set(why, len,
			       "must be host:port (the port is "
			       "missing)");
	if (memchr(s, ':', (size_t)(colon - s)) != NULL)
		return why_set(why, len,
			       "IPv6 addresses need brackets, as "
			       "in [2001:db8::1]:7701");
	if ((size_t)(colon - s) >= hlen)
		return why_set(why, len, "host name too long");
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	*port = colon + 1;
	return 0;
}

static int
numeric_host(const char *h)
{
	return h[0] != '\0' && strspn(h, "0123456789.") == strlen(h);
}

int
topo_check_hostport(const char *s, char *canon, size_t clen, char *why,
		    size_t len)
{
	char host[256], ip[INET6_ADDRSTRLEN];
	unsigned char bin[16];
	const char *port;
	unsigned int pn;
	int bracket;

	if (split_hostport(s, host, sizeof(host), &port, &bracket, why, len) <
	    0)
		return -1;
	if (!port_ok(port, &pn))
		return why_set(why, len, "port must be 1..65535");
	if (bracket) {
		if (inet_pton(AF_INET6, host, bin) != 1)
			return why_set(why, len, "not an IPv6 address");
		inet_ntop(AF_INET6, bin, ip, sizeof(ip));
		snprintf(canon, clen, "[%s]:%u", ip, pn);
	} else if (numeric_host(host)) {
		if (inet_pton(AF_INET, host, bin) != 1)
			return why_set(why, len, "not an IPv4 address");
		inet_ntop(AF_INET, bin, ip, sizeof(ip));
		snprintf(canon, clen, "%s:%u", ip, pn);
	} else {
		if (!hostname_ok(host, strlen(host)))
			return why_set(why, len, "not a valid host name");
		for (char *p = host; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		snprintf(canon, clen, "%s:%u", host, pn);
	}
	return 0;
}

static int
v4_unicast(const unsigned char *b)
{
	if (b[0] == 0 || b[0] >= 224)
		return 0;
	return 1;
}

static int
v6_unicast(const unsigned char *b)
{
	static const unsigned char zero[16];

	return b[0] != 0xff && memcmp(b, zero, 16) != 0;
}

int
topo_check_overlay(const char *s, char *canon, size_t clen, char *why,
		   size_t len)
{
	unsigned char bin[16];

	if (inet_pton(AF_INET, s, bin) == 1) {
		if (!v4_unicast(bin))
			return why_set(why, len, "must be a unicast address");
		inet_ntop(AF_INET, bin, canon, (socklen_t)clen);
		return 0;
	}
	if (inet_pton(AF_INET6, s, bin) == 1) {
		if (!v6_unicast(bin))
			return why_set(why, len, "must be a unicast address");
		inet_ntop(AF_INET6, bin, canon, (socklen_t)clen);
		return 0;
	}
	return why_set(why, len,
		       "must be an IPv4 or IPv6 address (no "
		       "port, no prefix length)");
}

static const struct {
	const char *name;
	uint64_t kbit;
} units[] = {
	{ "kbit", 1 },
	{ "mbit", 1000 },
	{ "gbit", 1000000 },
	{ "tbit", 1000000000 },
};

/* "12.5" -> 12500 milli-units; at most 3 decimals. */
static int
parse_milli(const char *s, size_t n, uint64_t *milli)
{
	uint64_t whole = 0, frac = 0, scale = 1000;
	size_t i = 0;

	if (n == 0 || !isdigit((unsigned char)s[0]))
		return -1;
	for (; i < n && isdigit((unsigned char)s[i]); i++) {
		whole = whole * 10 + (uint64_t)(s[i] - '0');
		if (whole > TOPO_BANDWIDTH_MAX)
			return -1;
	}
	if (i < n && s[i] == '.') {
		if (++i == n)
			return -1;
		for (; i < n && isdigit((unsigned char)s[i]) && scale > 1;
		     i++) {
			scale /= 10;
			frac += (uint64_t)(s[i] - '0') * scale;
		}
	}
	if (i != n)
		return -1;
	*milli = whole * 1000 + frac;
	return 0;
}

int
topo_parse_bandwidth(const char *s, uint64_t *kbps, char *why, size_t len)
{
	size_t n = strspn(s, "0123456789.");
	uint64_t milli;

	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		if (strcasecmp(s + n, units[u].name) != 0)
			continue;
		if (parse_milli(s, n, &milli) < 0)
			break;
		if (milli > TOPO_BANDWIDTH_MAX * 1000 / units[u].kbit)
			return why_set(why, len, "must be at most 1tbit");
		if (milli * units[u].kbit % 1000 != 0)
			return why_set(why, len,
				       "must be a whole number of "
				       "kbit/s");
		*kbps = milli * units[u].kbit / 1000;
		if (*kbps == 0)
			return why_set(why, len, "must be at least 1kbit");
		return 0;
	}
	return why_set(why, len,
		       "must be a rate such as 100mbit (units "
		       "kbit, mbit, gbit, tbit)");
}
