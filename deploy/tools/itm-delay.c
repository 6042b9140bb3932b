/*
 * itm-delay.c - a user-space delay line for the lab: every packet queued
 * to one NFQUEUE queue is held for a while, then accepted.
 *
 *   itm-delay --queue N --delay 20ms [--limit PKTS]
 *   itm-delay --queue N --from-mark [--delay D] [--limit PKTS]
 *
 * This kernel has no sch_netem, so deploy/lab/lab.sh feeds the packets of
 * its links to this program (NFQUEUE rules with --queue-bypass) to give
 * them a latency.  With --from-mark each packet waits as many microseconds
 * as its netfilter mark says, so one process and one queue serve every
 * path of a lab, each with its own delay (the lab's rules set the mark per
 * path); packets are released by due time, out of the order they came in
 * when their delays differ, in order when they do not (delayq.h).  Held
 * packets count against the kernel queue's length; the queue is bound
 * fail-open, so past --limit (and past the queue's length) packets pass
 * without delay rather than being lost.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "delayq.h"
#include "itm.h"
#include "itmq.h"

#define MAX_DELAY_US 60000000ULL /* 60 s */

struct delayline {
	struct itmq *q;
	uv_loop_t *loop;
	uv_poll_t poll;
	uv_timer_t timer;
	uv_signal_t sigint, sigterm;
	uint64_t delay_us; /* --delay; with --from-mark, for mark 0 */
	int from_mark;
	uint32_t limit;
	struct delayq held;
	uint64_t delayed, passed; /* passed: not delayed (full, or 0) */
};

static void
usage(FILE *f)
{
	/* clang-format off */
	fprintf(f,
"Usage: itm-delay --queue N --delay D [--limit PKTS]\n"
"       itm-delay --queue N --from-mark [--delay D] [--limit PKTS]\n"
"\n"
"Hold every packet of NFQUEUE queue N for a while, then accept it: a\n"
"latency for lab links on kernels without netem; deploy/lab/lab.sh starts\n"
"it and installs the rules.\n"
"\n"
"  -q, --queue N     queue number (0..65535)\n"
"  -d, --delay D     how long each packet waits: NUMBER[us|ms|s], at most\n"
"                    60s; with --from-mark, the wait of packets whose\n"
"                    mark is 0 (default 0: they pass at once)\n"
"  -m, --from-mark   each packet waits as many microseconds as its\n"
"                    netfilter mark says (at most 60 s), so one queue\n"
"                    serves paths of different delays; packets leave by\n"
"                    due time, and in arrival order when due together\n"
"  -l, --limit PKTS  packets held at most (default 65536); past it, and\n"
"                    past the kernel queue's length, packets pass at once\n"
"  -h, --help        this text\n"
"\n"
"Delays are kept to within about a millisecond (the timer's resolution).\n"
"SIGINT/SIGTERM: print the counters, release the queue (held packets are\n"
"accepted by the kernel, fail-open) and exit.\n");
	/* clang-format on */
}

static int
parse_delay(const char *s, uint64_t *us)
{
	char *end;
	double v = strtod(s, &end);
	double scale;

	if (end == s || v < 0)
		return -1;
	if (strcmp(end, "ms") == 0)
		scale = 1000;
	else if (strcmp(end, "s") == 0)
		scale = 1000000;
	else if (strcmp(end, "us") == 0)
		scale = 1;
	else
		return -1;
	v *= scale;
	if (v > (double)MAX_DELAY_US)
		return -1;
	*us = (uint64_t)v + (v > (uint64_t)v); /* round up */
	return 0;
}

static uint64_t
now_us(void)
{
	return uv_hrtime() / 1000;
}

static void
release(struct delayline *d, uint32_t id)
{
	struct itm_packet pkt;

	memset(&pkt, 0, sizeof(pkt));
	pkt.id = id;
	if (itmq_verdict(d->q, &pkt, ITMQ_ACCEPT, 0, 0) < 0)
		fprintf(stderr, "itm-delay: verdict for packet %u failed\n",
			id);
}

static void on_timer(uv_timer_t *t);

/* Sleep until the first held packet is due (whole ms, rounded up). */
static void
arm(struct delayline *d, uint64_t now)
{
	const struct delayq_item *first = delayq_peek(&d->held);
	uint64_t wait_us;

	if (first == NULL)
		return;
	wait_us = first->due_us > now ? first->due_us - now : 0;
	uv_timer_start(&d->timer, on_timer, (wait_us + 999) / 1000, 0);
}

/*
 * Release every packet due within half a millisecond (the timer's
 * resolution is one), then sleep until the next one is.
 */
static void
on_timer(uv_timer_t *t)
{
	struct delayline *d = t->data;
	const struct delayq_item *first;
	struct delayq_item it;
	uint64_t now = now_us();

	while ((first = delayq_peek(&d->held)) && first->due_us <= now + 500) {
		delayq_pop(&d->held, &it);
		release(d, it.id);
	}
	itmq_flush(d->q);
	arm(d, now);
}

static uint64_t
packet_delay(const struct delayline *d, const struct itm_packet *pkt)
{
	if (!d->from_mark || pkt->mark == 0)
		return d->delay_us;
	return pkt->mark < MAX_DELAY_US ? pkt->mark : MAX_DELAY_US;
}

static void
on_packet(struct itmq *q, struct itm_packet *pkt, void *arg)
{
	struct delayline *d = arg;
	const struct delayq_item *first = delayq_peek(&d->held);
	uint64_t wait = packet_delay(d, pkt), now = now_us();

	if (wait == 0 || delayq_push(&d->held, pkt->id, now + wait) < 0) {
		itmq_verdict(q, pkt, ITMQ_ACCEPT, 0, 0);
		d->passed++;
		return;
	}
	d->delayed++;
	/* A packet due before the one the timer waits for re-arms it. */
	if (first == NULL || delayq_peek(&d->held)->id == pkt->id)
		arm(d, now);
}

static void
on_readable(uv_poll_t *p, int status, int events)
{
	struct delayline *d = p->data;
	int rc;

	(void)events;
	if (status < 0)
		return;
	do
		rc = itmq_read_burst(d->q, 64, on_packet, d);
	while (rc == 64);
	if (rc < 0 && rc != -EAGAIN && rc != -EINTR)
		fprintf(stderr, "itm-delay: receive: %s\n", strerror(-rc));
}

static void
on_signal(uv_signal_t *s, int sig)
{
	struct delayline *d = s->data;

	(void)sig;
	uv_stop(d->loop);
}

static const char *
opt_name(int ch)
{
	switch (ch) {
	case 'q': return "queue";
	case 'd': return "delay";
	default: return "limit";
	}
}

static void
options(int argc, char **argv, struct itmq_config *cfg, struct delayline *d)
{
	static const struct option opts[] = {
		{ "queue", 1, NULL, 'q' },     { "delay", 1, NULL, 'd' },
		{ "from-mark", 0, NULL, 'm' }, { "limit", 1, NULL, 'l' },
		{ "help", 0, NULL, 'h' },      { NULL, 0, NULL, 0 }
	};
	int ch, have_q = 0, have_d = 0;
	char *end;
	long v;

	while ((ch = getopt_long(argc, argv, "q:d:ml:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'q':
			v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end || v < 0 || v > 65535)
				goto bad;
			cfg->num = (uint16_t)v;
			have_q = 1;
			break;
		case 'd':
			if (parse_delay(optarg, &d->delay_us) < 0)
				goto bad;
			have_d = 1;
			break;
		case 'm': d->from_mark = 1; break;
		case 'l':
			v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end || v < 1 || v > 1 << 20)
				goto bad;
			d->limit = (uint32_t)v;
			break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (have_q && (have_d || d->from_mark) && optind == argc)
		return;
	fprintf(stderr, "itm-delay: need --queue and --delay or --from-mark, "
			"nothing else (see --help)\n");
	exit(2);
bad:
	fprintf(stderr, "itm-delay: --%s: '%s' is not valid (see --help)\n",
		opt_name(ch), optarg);
	exit(2);
}

static void
watch(struct delayline *d, uv_signal_t *s, int sig)
{
	uv_signal_init(d->loop, s);
	s->data = d;
	uv_signal_start(s, on_signal, sig);
}

static void
run(struct delayline *d, const struct itmq_config *cfg)
{
	d->loop = uv_default_loop();
	uv_timer_init(d->loop, &d->timer);
	d->timer.data = d;
	uv_poll_init(d->loop, &d->poll, itmq_fd(d->q));
	d->poll.data = d;
	uv_poll_start(&d->poll, UV_READABLE, on_readable);
	watch(d, &d->sigint, SIGINT);
	watch(d, &d->sigterm, SIGTERM);
	if (d->from_mark)
		fprintf(stderr,
			"itm-delay: queue %u, delay from the mark (mark 0: "
			"%llu us), limit %u\n",
			cfg->num, (unsigned long long)d->delay_us, d->limit);
	else
		fprintf(stderr,
			"itm-delay: queue %u, delay %llu us, limit %u\n",
			cfg->num, (unsigned long long)d->delay_us, d->limit);
	uv_run(d->loop, UV_RUN_DEFAULT);
}

int
main(int argc, char **argv)
{
	struct itmq_config cfg = { .copy_bytes = 64, .maxlen = 65536 };
	struct delayline d = { .limit = 65536 };
	int rc;

	options(argc, argv, &cfg, &d);
	if (delayq_init(&d.held, d.limit) < 0) {
		fprintf(stderr, "itm-delay: out of memory\n");
		return 1;
	}
	if ((rc = itmq_open(&d.q, &cfg)) < 0) {
		fprintf(stderr, "itm-delay: cannot bind queue %u: %s\n",
			cfg.num,
			rc == -EPERM ? "another program holds it"
				     : strerror(-rc));
		delayq_free(&d.held);
		return 1;
	}
	run(&d, &cfg);
	fprintf(stderr,
		"itm-delay: %llu packets delayed, %llu passed at "
		"once, %u held at exit\n",
		(unsigned long long)d.delayed, (unsigned long long)d.passed,
		d.held.n);
	itmq_close(d.q);
	delayq_free(&d.held);
	return 0;
}
