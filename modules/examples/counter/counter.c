/*
 * counter.c - a packet counter and logger, as a process module.
 *
 * Classifies packets by protocol (TCP, UDP, ICMP, other), counts them and
 * prints the rate of each class every --interval seconds from a libitm
 * timer.  It only reads headers, so it asks for 128 bytes per packet.
 * Its state is one struct counter, handed to the callbacks as pkt->priv
 * (info.priv) and to the timer as its argument: no globals.
 *
 *   counter [--hook forward] [--interval 1] [--label counter]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <itm.h>

enum { C_TCP = 1, C_UDP, C_ICMP, C_OTHER, C_MAX };

static const char *const names[C_MAX] = { "unclassified", "tcp", "udp", "icmp",
					  "other" };

struct counter {
	uint64_t packets[C_MAX], bytes[C_MAX], last[C_MAX];
	unsigned int interval_s;
};

static int
classify(itm_where hook, struct itm_packet *pkt)
{
	switch (pkt->l4proto) {
	case IPPROTO_TCP: return C_TCP;
	case IPPROTO_UDP: return C_UDP;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6: return C_ICMP;
	default: return C_OTHER;
	}
}

/* The paper's logging function: update the class's counters. */
static void
log_pkt(itm_where hook, struct itm_packet *pkt)
{
	struct counter *st = pkt->priv;
	int c = classify(hook, pkt);

	st->packets[c]++;
	st->bytes[c] += pkt->wire_len;
}

/* The timer's argument is the struct counter (see main). */
static void
report(unsigned long arg)
{
	struct counter *st = (struct counter *)arg;

	printf("counter:");
	for (int c = C_TCP; c < C_MAX; c++) {
		printf(" %s %.1f pkt/s", names[c],
		       (double)(st->packets[c] - st->last[c]) / st->interval_s);
		st->last[c] = st->packets[c];
	}
	printf("\n");
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = { { "hook", 1, NULL, 'H' },
					      { "interval", 1, NULL, 'i' },
					      { "label", 1, NULL, 'l' },
					      { "help", 0, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	const char *label = "counter";
	int hook = ITM_IP_FORWARD, ch;
	struct counter st = { .interval_s = 1 };
	struct itm_info info;

	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (ch == 'H' && (hook = itm_hook_from_name(optarg)) >= 0)
			continue;
		if (ch == 'i' && (st.interval_s = (unsigned)atoi(optarg)) > 0)
			continue;
		if (ch == 'l') {
			label = optarg;
			continue;
		}
		fprintf(ch == 'h' ? stdout : stderr,
			"Usage: counter [--hook H]"
			" [--interval SECONDS] [--label L]\nCount packets per "
			"protocol at a hook and print rates.\n");
		return ch == 'h' ? 0 : 2;
	}
	if (libitm_init(128, ITM_COPY_META) < 0) {
		fprintf(stderr, "counter: %s\n", itm_last_error());
		return 1;
	}
	memset(&info, 0, sizeof(info));
	info.label = label;
	info.flags = 0; /* never settles (no ITM_MAY_SETTLE) */
	info.class_func = classify;
	info.log_func = log_pkt;
	info.class_names = names;
	info.n_class_names = C_MAX;
	info.priv = &st;
	libitm_init_interest(&info);
	for (int c = C_TCP; c < C_MAX; c++) {
		char name[32];

		snprintf(name, sizeof(name), "%s_packets", names[c]);
		itm_register_counter(name, &st.packets[c]);
	}
	if (libitm_register((itm_where)hook, &info) < 0 ||
	    itm_register_timer(report, (unsigned long)&st,
			       st.interval_s * 1000) < 0) {
		fprintf(stderr, "counter: %s\n", itm_last_error());
		return 1;
	}
	return libitm_run() < 0 ? 1 : 0;
}
