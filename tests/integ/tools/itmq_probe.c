/*
 * itmq_probe.c - a test program for the queue layer (libitm/src/itmq.c).
 *
 * Binds one NFQUEUE queue through itmq and gives every packet the verdict
 * chosen on the command line: accept, drop, rewrite the IPv4 TOS byte
 * (altered packet, checksums fixed by itmq), or NF_REPEAT with a mark bit
 * set.  On SIGTERM/SIGINT it prints its counters and exits.  Used by the
 * tests/integ/nfq_queue.sh.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itm.h"
#include "itmq.h"

enum probe_mode { MODE_ACCEPT, MODE_DROP, MODE_TOS, MODE_REPEAT };

struct probe {
	enum probe_mode mode;
	uint32_t arg;	      /* TOS value or mark bits */
	int per_packet;	      /* flush after every verdict */
	unsigned int verbose; /* packets to describe */
	uint64_t altered, gso, notready, has_ct, truncated, errors;
};

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
describe(const struct itm_packet *pkt)
{
	printf("pkt id=%u hook=%d hw=0x%04x mark=0x%x in=%u out=%u "
	       "wire_len=%u len=%u flags=0x%x proto=%u sport=%u dport=%u "
	       "ct=%s ct_id=%u ct_dir=%u\n",
	       pkt->id, pkt->hook, pkt->hw_protocol, pkt->mark, pkt->indev,
	       pkt->outdev, pkt->wire_len, pkt->len, pkt->flags, pkt->l4proto,
	       pkt->sport, pkt->dport,
	       pkt->flags & ITM_PKT_HAS_CT ? "yes" : "no", pkt->ct_id,
	       pkt->ct_dir);
	fflush(stdout);
}

static int
set_tos(struct probe *p, struct itm_packet *pkt)
{
	if (!pkt->iph || pkt->iph->tos == p->arg)
		return 0;
	if (pkt->flags & ITM_PKT_TRUNCATED)
		return -EPERM;
	pkt->iph->tos = (uint8_t)p->arg;
	pkt->flags |= ITM_PKT_ALTERED;
	p->altered++;
	return 0;
}

static void
packet_cb(struct itmq *q, struct itm_packet *pkt, void *arg)
{
	struct probe *p = arg;
	int err = 0;

	if (p->verbose > 0) {
		p->verbose--;
		describe(pkt);
	}
	p->gso += !!(pkt->flags & ITM_PKT_GSO);
	p->notready += !!(pkt->flags & ITM_PKT_CSUM_NOTREADY);
	p->has_ct += !!(pkt->flags & ITM_PKT_HAS_CT);
	p->truncated += !!(pkt->flags & ITM_PKT_TRUNCATED);
	switch (p->mode) {
	case MODE_ACCEPT: err = itmq_verdict(q, pkt, ITMQ_ACCEPT, 0, 0); break;
	case MODE_DROP: err = itmq_verdict(q, pkt, ITMQ_DROP, 0, 0); break;
	case MODE_TOS:
		if (set_tos(p, pkt) < 0)
			p->errors++;
		err = itmq_verdict(q, pkt, ITMQ_ACCEPT, 0, 0);
		break;
	case MODE_REPEAT:
		err = itmq_verdict(q, pkt, ITMQ_REPEAT, 1, pkt->mark | p->arg);
		break;
	}
	if (err < 0)
		p->errors++;
	if (p->per_packet)
		itmq_flush(q);
}

static void
print_stats(struct itmq *q, const struct probe *p)
{
	struct itmq_stats st;
	int err = itmq_get_stats(q, &st);

	printf("itmq_probe: received=%llu bytes=%llu verdict_msgs=%llu "
	       "malformed=%llu kernel_dropped=%llu user_dropped=%llu%s "
	       "altered=%llu gso=%llu csum_notready=%llu has_ct=%llu "
	       "truncated=%llu errors=%llu\n",
	       (unsigned long long)st.received, (unsigned long long)st.bytes,
	       (unsigned long long)st.verdict_msgs,
	       (unsigned long long)st.malformed,
	       (unsigned long long)st.kernel_dropped,
	       (unsigned long long)st.user_dropped, err ? "(no /proc)" : "",
	       (unsigned long long)p->altered, (unsigned long long)p->gso,
	       (unsigned long long)p->notready, (unsigned long long)p->has_ct,
	       (unsigned long long)p->truncated, (unsigned long long)p->errors);
	fflush(stdout);
}

static int
run(struct itmq *q, struct probe *p)
{
	struct pollfd pfd = { .fd = itmq_fd(q), .events = POLLIN };
	int n;

	while (!stop) {
		n = poll(&pfd, 1, 200);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n <= 0)
			continue;
		n = itmq_read_burst(q, 256, packet_cb, p);
		if (n < 0) {
			fprintf(stderr, "itmq_probe: read: %s\n", strerror(-n));
			return n;
		}
	}
	return 0;
}

static void
usage(void)
{
	fprintf(stderr,
		"usage: itmq_probe --queue N [--drop | --tos VAL | --repeat-mark BITS]\n"
		"                  [--copy BYTES] [--maxlen N] [--conntrack]\n"
		"                  [--per-packet] [--verbose N] [--bind-only]\n");
	exit(2);
}

static uint32_t
num_arg(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || end == s || v > UINT32_MAX) {
		fprintf(stderr, "itmq_probe: bad number '%s'\n", s);
		exit(2);
	}
	return (uint32_t)v;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "queue", required_argument, NULL, 'q' },
		{ "drop", no_argument, NULL, 'd' },
		{ "tos", required_argument, NULL, 't' },
		{ "repeat-mark", required_argument, NULL, 'r' },
		{ "copy", required_argument, NULL, 'c' },
		{ "maxlen", required_argument, NULL, 'm' },
		{ "conntrack", no_argument, NULL, 'C' },
		{ "per-packet", no_argument, NULL, 'p' },
		{ "verbose", required_argument, NULL, 'v' },
		{ "bind-only", no_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 }
	};
	struct itmq_config cfg = { 0 };
	struct probe p = { .mode = MODE_ACCEPT };
	struct itmq *q;
	int c, have_queue = 0, bind_only = 0, err;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			cfg.num = (uint16_t)num_arg(optarg);
			have_queue = 1;
			break;
		case 'd': p.mode = MODE_DROP; break;
		case 't':
			p.mode = MODE_TOS;
			p.arg = num_arg(optarg) & 0xff;
			break;
		case 'r':
			p.mode = MODE_REPEAT;
			p.arg = num_arg(optarg);
			break;
		case 'c': cfg.copy_bytes = num_arg(optarg); break;
		case 'm': cfg.maxlen = num_arg(optarg); break;
		case 'C': cfg.conntrack = 1; break;
		case 'p': p.per_packet = 1; break;
		case 'v': p.verbose = num_arg(optarg); break;
		case 'b': bind_only = 1; break;
		default: usage();
		}
	}
	if (!have_queue || optind != argc)
		usage();

	err = itmq_open(&q, &cfg);
	if (err < 0) {
		fprintf(stderr, "itmq_probe: itmq_open queue %u: %s\n", cfg.num,
			strerror(-err));
		return 1;
	}
	printf("itmq_probe: bound queue %u\n", itmq_num(q));
	fflush(stdout);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	err = bind_only ? 0 : run(q, &p);
	print_stats(q, &p);
	itmq_close(q);
	return err < 0 ? 1 : 0;
}
