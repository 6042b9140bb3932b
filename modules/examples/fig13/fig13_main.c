/*
 * fig13_main.c - Figure 13 as a process module linked with libitm:
 *   fig13 [--hook forward] [--proto tcp] [--dport 80] [--tos 0x55]
 *         [--new-dport 5555] [--indev IF] [--outdev IF] [--priority N]
 *         [--label L]
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fig13.h"

static void
usage(FILE *f)
{
	/* clang-format off */
	fprintf(f,
"Usage: fig13 [options]\n"
"Rewrite the TOS byte and destination port of matching packets (the\n"
"itmBench paper's Figure 13) as a process module of the local itm-agent.\n"
"  --hook H         pre_route, ip_in, forward, ip_out, post_route (forward)\n"
"  --proto P        tcp, udp or any (tcp); any: every IPv4 packet\n"
"  --dport N        only packets to port N (any)\n"
"  --tos X          TOS byte to write (0x55)\n"
"  --new-dport N    destination port to write, 0 keeps it (5555)\n"
"  --indev IF       only packets that came in on IF (not at ip_out,\n"
"                   post_route)\n"
"  --outdev IF      only packets that go out on IF (not at pre_route,\n"
"                   ip_in)\n"
"  --priority N     order among modules at the hook (0)\n"
"  --label L        registration label (fig13)\n"
"The agent is found at $ITM_AGENT_SOCKET or /run/itm/agent.sock.\n");
	/* clang-format on */
}

static long
num(const char *opt, const char *s, long max)
{
	char *end;
	long v = strtol(s, &end, 0);

	if (*s == '\0' || *end != '\0' || v < 0 || v > max) {
		fprintf(stderr, "fig13: %s: '%s': need 0..%ld\n", opt, s, max);
		exit(2);
	}
	return v;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "hook", 1, NULL, 'H' },      { "proto", 1, NULL, 'p' },
		{ "dport", 1, NULL, 'd' },     { "tos", 1, NULL, 't' },
		{ "new-dport", 1, NULL, 'n' }, { "priority", 1, NULL, 'P' },
		{ "indev", 1, NULL, 'i' },     { "outdev", 1, NULL, 'o' },
		{ "label", 1, NULL, 'l' },     { "help", 0, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *label = "fig13", *proto = "tcp";
	const char *indev = NULL, *outdev = NULL;
	int hook = ITM_IP_FORWARD, prio = 0, ch, protos[1];
	long dport = 0;
	struct fig13_conf conf = FIG13_CONF_DEFAULT;
	struct itm_info info;

	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'H':
			if ((hook = itm_hook_from_name(optarg)) < 0) {
				fprintf(stderr, "fig13: no hook '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'p': proto = optarg; break;
		case 'd': dport = num("--dport", optarg, 65535); break;
		case 't': conf.tos = (uint8_t)num("--tos", optarg, 255); break;
		case 'n':
			conf.new_dport =
				(uint16_t)num("--new-dport", optarg, 65535);
			break;
		case 'P': prio = (int)strtol(optarg, NULL, 0); break;
		case 'i': indev = optarg; break;
		case 'o': outdev = optarg; break;
		case 'l': label = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0 &&
	    strcmp(proto, "any") != 0) {
		fprintf(stderr, "fig13: --proto: use tcp, udp or any\n");
		return 2;
	}
	if (strcmp(proto, "any") == 0 && dport) {
		fprintf(stderr, "fig13: --dport needs --proto tcp or udp\n");
		return 2;
	}
	if (libitm_init(65535, ITM_COPY_PACKET) < 0) {
		fprintf(stderr, "fig13: %s\n", itm_last_error());
		return 1;
	}
	memset(&info, 0, sizeof(info));
	fig13_info(&info, label, &conf);
	info.priority = prio;
	libitm_init_interest(&info);
	protos[0] = proto[0] == 't' ? IPPROTO_TCP : IPPROTO_UDP;
	if (strcmp(proto, "any") != 0)
		libitm_set_protocols(&info, protos, 1);
	if (dport) {
		int p = (int)dport;

		libitm_set_dst_ports(&info, &p, 1);
	}
	if ((indev && libitm_set_indev(&info, &indev, 1) < 0) ||
	    (outdev && libitm_set_outdev(&info, &outdev, 1) < 0)) {
		fprintf(stderr, "fig13: %s\n", itm_last_error());
		return 2;
	}
	itm_register_counter("rewritten", &conf.rewritten);
	if (libitm_register((itm_where)hook, &info) < 0) {
		fprintf(stderr, "fig13: register: %s\n", itm_last_error());
		return 1;
	}
	fprintf(stderr, "fig13: rewriting %s at %s (tos 0x%02x, dport %u)\n",
		proto, itm_hook_name((itm_where)hook), conf.tos,
		conf.new_dport);
	return libitm_run() < 0 ? 1 : 0;
}
