/*
 * test_interest.c - building, checking and matching interests; prefixes,
 * device names (through a real veth pair in a private network namespace
 * when run as root), hook names and error text.
 */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "packet_int.h"
#include "ifname.h"
#include "pkt_build.h"

static struct itm_interest in;

static int
setup(void **state)
{
	itm_interest_init(&in);
	return 0;
}

/* --- prefixes ------------------------------------------------------ */

static const char *
fmt(const char *s)
{
	static char out[64];
	struct itm_prefix p;

	if (itm__prefix_parse(s, &p) < 0)
		return "ERR";
	return itm__prefix_format(&p, out, sizeof(out));
}

static void
prefix_parse(void **state)
{
	assert_string_equal(fmt("10.1.0.0/16"), "10.1.0.0/16");
	assert_string_equal(fmt("10.1.2.3"), "10.1.2.3");
	assert_string_equal(fmt("10.1.2.3/32"), "10.1.2.3");
	assert_string_equal(fmt("10.1.2.3/16"), "10.1.0.0/16");
	assert_string_equal(fmt("10.1.2.3/0"), "0.0.0.0/0");
	assert_string_equal(fmt("10.1.255.3/17"), "10.1.128.0/17");
	assert_string_equal(fmt("2001:db8::/32"), "2001:db8::/32");
	assert_string_equal(fmt("2001:db8:ffff::1/33"), "2001:db8:8000::/33");
	assert_string_equal(fmt("::1"), "::1");
	assert_string_equal(fmt("::ffff:1.2.3.4/120"), "::ffff:1.2.3.0/120");

	assert_string_equal(fmt("10.0.0.0/33"), "ERR");
	assert_string_equal(fmt("1.2.3"), "ERR");
	assert_string_equal(fmt("1.2.3.4x"), "ERR");
	assert_string_equal(fmt("1.2.3.4/8x"), "ERR");
	assert_string_equal(fmt("1.2.3.4/8 "), "ERR");
	assert_string_equal(fmt(" 1.2.3.4"), "ERR");
	assert_string_equal(fmt("1.2.3.4/"), "ERR");
	assert_string_equal(fmt("/8"), "ERR");
	assert_string_equal(fmt("1.2.3.4/-1"), "ERR");
	assert_string_equal(fmt("1.2.3.4/+8"), "ERR");
	assert_string_equal(fmt("1.2.3.4/8/8"), "ERR");
	assert_string_equal(fmt("1.2.3.256"), "ERR");
	assert_string_equal(fmt("2001:db8::/129"), "ERR");
	assert_string_equal(fmt("2001:db8::/1280"), "ERR");
	assert_string_equal(fmt("fe80::1%eth0"), "ERR");
	assert_string_equal(fmt(""), "ERR");
	assert_string_equal(fmt("host.example"), "ERR");
}

static void
prefix_contains(void **state)
{
	struct itm_prefix p;
	struct in_addr a;
	struct in6_addr a6;

	itm__prefix_parse("10.1.128.0/17", &p);
	inet_pton(AF_INET, "10.1.200.1", &a);
	assert_true(itm__prefix_contains(&p, AF_INET, &a));
	inet_pton(AF_INET, "10.1.127.255", &a);
	assert_false(itm__prefix_contains(&p, AF_INET, &a));
	inet_pton(AF_INET6, "::", &a6);
	assert_false(itm__prefix_contains(&p, AF_INET6, &a6));
	itm__prefix_parse("0.0.0.0/0", &p);
	assert_true(itm__prefix_contains(&p, AF_INET, &a));
	itm__prefix_parse("2001:db8::/31", &p);
	inet_pton(AF_INET6, "2001:db9:1::5", &a6);
	assert_true(itm__prefix_contains(&p, AF_INET6, &a6));
	inet_pton(AF_INET6, "2001:dba::", &a6);
	assert_false(itm__prefix_contains(&p, AF_INET6, &a6));
}

/* --- building ------------------------------------------------------ */

static void
add_errors(void **state)
{
	int i;

	assert_int_equal(itm_interest_add_saddr(&in, "10.0.0.0/33"), -EINVAL);
	assert_string_equal(
		itm_last_error(),
		"saddr: \"10.0.0.0/33\" is not an address or prefix");
	assert_int_equal(itm_interest_add_daddr(&in, "1.2.3"), -EINVAL);
	assert_string_equal(itm_last_error(),
			    "daddr: \"1.2.3\" is not an address or prefix");
	assert_int_equal(itm_interest_add_src_port(&in, 90, 80), -EINVAL);
	assert_string_equal(itm_last_error(),
			    "src_ports: range 90-80 is reversed");
	assert_int_equal(itm_interest_add_protocol(&in, 256), -EINVAL);
	assert_string_equal(itm_last_error(),
			    "protocols: 256 is not a protocol number (1-255)");
	assert_int_equal(itm_interest_add_protocol(&in, 0), -EINVAL);
	assert_int_equal(itm_interest_add_indev(&in, "eth0:1"), -EINVAL);
	assert_string_equal(itm_last_error(),
			    "indev: \"eth0:1\" is not an interface name");
	assert_int_equal(in.n_saddr + in.n_daddr + in.n_src_ports +
				 in.n_protocols + in.n_indev,
			 0);

	for (i = 0; i < ITM_INTEREST_MAX; i++)
		assert_int_equal(itm_interest_add_dst_port(&in, (uint16_t)i,
							   (uint16_t)i),
				 0);
	assert_int_equal(itm_interest_add_dst_port(&in, 99, 99), -ENOSPC);
	assert_string_equal(itm_last_error(),
			    "dst_ports: list full (16 entries)");
	/* A duplicate is not a new entry. */
	assert_int_equal(itm_interest_add_dst_port(&in, 3, 3), 0);
	assert_int_equal(in.n_dst_ports, ITM_INTEREST_MAX);
}

static void
device_names(void **state)
{
	const char *good[] = { "eth0",	"veth-h1.r", "a", "123456789012345",
			       "veth+", "+" };
	const char *bad[] = { "",     ".",   "..",    "a/b",
			      "a:b",  "a b", "tab\t", "1234567890123456",
			      "\x01x" };
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(itm_interest_add_outdev(&in, good[i]), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(itm_interest_add_outdev(&in, bad[i]), -EINVAL);
	assert_int_equal(itm_interest_add_outdev(&in, NULL), -EINVAL);
	assert_int_equal(in.n_outdev, 6);
	assert_string_equal(in.outdev[3], "123456789012345");
}

/* --- checking ------------------------------------------------------ */

static int
check(itm_where hook, const char *want)
{
	char err[128] = "";
	int r = itm__interest_check(&in, hook, err, sizeof(err));

	if (want == NULL) {
		assert_int_equal(r, 0);
	} else {
		assert_int_equal(r, -EINVAL);
		assert_string_equal(err, want);
	}
	return r;
}

static void
check_rules(void **state)
{
	check(ITM_PRE_ROUTE, NULL); /* empty: everything */
	check((itm_where)5, "hook: 5 is not a hook");

	itm_interest_add_dst_port(&in, 80, 80);
	check(ITM_IP_IN, NULL); /* ports alone: tcp and udp */
	itm_interest_add_protocol(&in, IPPROTO_TCP);
	itm_interest_add_protocol(&in, IPPROTO_ICMP);
	check(ITM_IP_IN, "dst_ports: protocol icmp has no ports");
	in.n_protocols = 1;
	check(ITM_IP_IN, NULL);
	in.protocols[0] = IPPROTO_GRE;
	check(ITM_IP_IN, "dst_ports: protocol gre has no ports");
	in.protocols[0] = 200;
	check(ITM_IP_IN, "dst_ports: protocol 200 has no ports");
	in.protocols[0] = IPPROTO_SCTP;
	check(ITM_IP_IN, NULL);
	in.src_ports[0].lo = 9;
	in.src_ports[0].hi = 8;
	in.n_src_ports = 1;
	check(ITM_IP_IN, "src_ports: range 9-8 is reversed");
}

static void
check_devices_per_hook(void **state)
{
	itm_interest_add_outdev(&in, "eth1");
	check(ITM_PRE_ROUTE, "outdev: not available at PRE_ROUTE");
	check(ITM_IP_IN, "outdev: not available at IP_IN");
	check(ITM_IP_FORWARD, NULL);
	check(ITM_IP_OUT, NULL);
	check(ITM_POST_ROUTE, NULL);
	itm_interest_init(&in);
	itm_interest_add_indev(&in, "eth0");
	check(ITM_IP_OUT, "indev: not available at IP_OUT");
	check(ITM_POST_ROUTE, "indev: not available at POST_ROUTE");
	check(ITM_PRE_ROUTE, NULL);
	memcpy(in.indev[0], "bad/name", 9);
	check(ITM_PRE_ROUTE, "indev: \"bad/name\" is not an interface name");
	memset(in.indev[0], 'x', IF_NAMESIZE); /* not terminated */
	check(ITM_PRE_ROUTE,
	      "indev: \"xxxxxxxxxxxxxxxx\" is not an interface name");
}

static void
check_families(void **state)
{
	itm_interest_add_saddr(&in, "10.0.0.0/8");
	itm_interest_add_daddr(&in, "192.0.2.1");
	check(ITM_IP_FORWARD, NULL);
	itm_interest_add_daddr(&in, "2001:db8::/32");
	check(ITM_IP_FORWARD,
	      "daddr: 2001:db8::/32 mixes IPv4 and IPv6 in one rule");
	in.n_daddr = 1;
	itm_interest_add_protocol(&in, IPPROTO_ICMPV6);
	check(ITM_IP_FORWARD, "protocols: icmpv6 with IPv4 addresses");
	in.n_protocols = 0;
	in.saddr[0].len = 33;
	check(ITM_IP_FORWARD, "saddr: prefix length 33 is too long for IPv4");
	in.saddr[0].len = 8;
	in.saddr[0].family = 0;
	check(ITM_IP_FORWARD, "saddr: entry 1 has no address family");
	in.saddr[0].family = AF_INET;
	in.n_protocols = 17;
	check(ITM_IP_FORWARD, "protocols: 17 entries, at most 16");
}

/* --- matching ------------------------------------------------------ */

static uint8_t buf[256];
static struct itm_packet pkt;

static void
match_fields(void **state)
{
	uint32_t n = pb_tcp4(buf, 40000, 443, 10);

	pb_parse(&pkt, buf, n, n);
	assert_true(itm_interest_match(&in, &pkt));
	itm_interest_add_protocol(&in, IPPROTO_UDP);
	assert_false(itm_interest_match(&in, &pkt));
	itm_interest_add_protocol(&in, IPPROTO_TCP);
	assert_true(itm_interest_match(&in, &pkt));

	itm_interest_add_saddr(&in, "10.0.0.0/30");
	assert_true(itm_interest_match(&in, &pkt));
	itm_interest_add_daddr(&in, "10.0.0.3");
	assert_false(itm_interest_match(&in, &pkt));
	itm_interest_add_daddr(&in, "10.0.0.2");
	assert_true(itm_interest_match(&in, &pkt));

	itm_interest_add_dst_port(&in, 1, 442);
	assert_false(itm_interest_match(&in, &pkt));
	itm_interest_add_dst_port(&in, 443, 443);
	assert_true(itm_interest_match(&in, &pkt));
	itm_interest_add_src_port(&in, 1024, 65535);
	assert_true(itm_interest_match(&in, &pkt));

	/* Non-first fragments have no ports: no match, as in iptables. */
	pb_ipv4_frag(buf, 100, 0);
	pb_parse(&pkt, buf, n, n);
	assert_false(itm_interest_match(&in, &pkt));

	/* An IPv6 packet never falls in an IPv4 prefix. */
	n = pb_tcp6(buf, 40000, 443, 0);
	pb_parse(&pkt, buf, n, n);
	assert_false(itm_interest_match(&in, &pkt));
	in.n_saddr = in.n_daddr = 0;
	assert_true(itm_interest_match(&in, &pkt));
}

static void
match_ports_imply_tcp_udp(void **state)
{
	uint32_t n = pb_ipv4(buf, 5, 40, IPPROTO_SCTP, "10.0.0.1", "10.0.0.2");

	pb_tcp(buf + n, 5, 80, 5); /* same port layout */
	pb_parse(&pkt, buf, 40, 40);
	itm_interest_add_dst_port(&in, 80, 80);
	assert_false(itm_interest_match(&in, &pkt)); /* not tcp/udp */
	itm_interest_add_protocol(&in, IPPROTO_SCTP);
	assert_true(itm_interest_match(&in, &pkt));

	/* ICMP echo ids are not ports. */
	itm_interest_init(&in);
	itm_interest_add_src_port(&in, 0, 65535);
	n = pb_ipv4(buf, 5, 28, IPPROTO_ICMP, "10.0.0.1", "10.0.0.2");
	pb_icmp(buf + n, 8, 0, 7, 1);
	pb_parse(&pkt, buf, 28, 28);
	assert_false(itm_interest_match(&in, &pkt));
}

static void
match_malformed(void **state)
{
	itm_interest_add_saddr(&in, "0.0.0.0/0");
	pb_parse(&pkt, buf, 3, 3);
	assert_false(itm_interest_match(&in, &pkt));
	itm_interest_init(&in);
	assert_true(itm_interest_match(&in, &pkt));
}

static void
match_loopback_device(void **state)
{
	uint32_t n = pb_tcp4(buf, 1, 2, 0);

	pb_parse(&pkt, buf, n, n);
	pkt.indev = if_nametoindex("lo");
	assert_int_not_equal(pkt.indev, 0);
	itm_interest_add_indev(&in, "eth-none");
	assert_false(itm_interest_match(&in, &pkt));
	itm_interest_add_indev(&in, "lo");
	assert_true(itm_interest_match(&in, &pkt));
	itm_interest_init(&in);
	itm_interest_add_indev(&in, "l+");
	assert_true(itm_interest_match(&in, &pkt));
	pkt.indev = 0;
	assert_false(itm_interest_match(&in, &pkt));
	pkt.indev = 0x7fffff00; /* no such device */
	assert_false(itm_interest_match(&in, &pkt));
	itm_interest_init(&in);
	itm_interest_add_outdev(&in, "lo");
	assert_false(itm_interest_match(&in, &pkt)); /* outdev 0 */
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
run(const char *cmd)
{
	assert_int_equal(system(cmd), 0);
}

/*
 * A renamed device: the cached name goes stale, the new name matches only
 * once the cache may ask the kernel again (a second after it last did).
 * Runs in a network namespace of its own, so nothing outside is touched.
 */
static void
match_renamed_device(void **state)
{
	uint32_t n = pb_tcp4(buf, 1, 2, 0);
	double t0;

	if (geteuid() != 0 || unshare(CLONE_NEWNET) != 0)
		skip();
	run("ip link add itmti0 type veth peer name itmti1");
	pb_parse(&pkt, buf, n, n);
	pkt.indev = if_nametoindex("itmti0");
	assert_int_not_equal(pkt.indev, 0);
	itm__ifname_flush();
	itm_interest_add_indev(&in, "itmti0");
	t0 = now_s();
	assert_true(itm_interest_match(&in, &pkt));
	run("ip link set itmti0 name itmti9");
	itm_interest_init(&in);
	itm_interest_add_indev(&in, "itmti9");
	if (now_s() - t0 < 0.5) /* rate-limited: still the old name */
		assert_false(itm_interest_match(&in, &pkt));
	usleep(1100 * 1000);
	assert_true(itm_interest_match(&in, &pkt));
	assert_string_equal(itm__ifname(pkt.indev), "itmti9");
}

/* --- names and errors ---------------------------------------------- */

static void
hook_names(void **state)
{
	const char *ok[] = { "PRE_ROUTE",  "pre_route",	    "PREROUTING",
			     "prerouting", "ITM_PRE_ROUTE", "itm_pre_route" };
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_int_equal(itm_hook_from_name(ok[i]), ITM_PRE_ROUTE);
	assert_int_equal(itm_hook_from_name("INPUT"), ITM_IP_IN);
	assert_int_equal(itm_hook_from_name("ip_forward"), ITM_IP_FORWARD);
	assert_int_equal(itm_hook_from_name("Output"), ITM_IP_OUT);
	assert_int_equal(itm_hook_from_name("POSTROUTING"), ITM_POST_ROUTE);
	assert_int_equal(itm_hook_from_name("PRE_ROUTES"), -1);
	assert_int_equal(itm_hook_from_name(""), -1);
	assert_int_equal(itm_hook_from_name("ITM_"), -1);
	assert_int_equal(itm_hook_from_name(NULL), -1);
	for (i = 0; i < ITM_HOOK_MAX; i++)
		assert_int_equal(itm_hook_from_name(itm_hook_name(i)), (int)i);
	assert_string_equal(itm_hook_name(ITM_POST_ROUTE), "POST_ROUTE");
	assert_null(itm_hook_name(ITM_HOOK_MAX));
	assert_null(itm_hook_name((itm_where)-1));
}

static void
strerror_text(void **state)
{
	assert_string_equal(itm_strerror(0), "Success");
	assert_string_equal(itm_strerror(-EINVAL), "Invalid argument");
	assert_string_equal(itm_strerror(ENOSPC), "No space left on device");
	assert_string_equal(itm_strerror(-EBADMSG), "Malformed packet");
	assert_string_equal(itm_strerror(-100000), "Unknown error");
	assert_string_equal(itm_strerror(-2147483647 - 1), "Unknown error");
}

#define T(f) cmocka_unit_test_setup(f, setup)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(prefix_parse),
		T(prefix_contains),
		T(add_errors),
		T(device_names),
		T(check_rules),
		T(check_devices_per_hook),
		T(check_families),
		T(match_fields),
		T(match_ports_imply_tcp_udp),
		T(match_malformed),
		T(match_loopback_device),
		T(hook_names),
		T(strerror_text),
		T(match_renamed_device), /* last: leaves the netns */
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
