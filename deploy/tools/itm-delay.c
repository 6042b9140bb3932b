/*
 * itm-delay.c - a user-space delay line for the lab: every packet queued
 * to one NFQUEUE queue is held for a fixed time, then accepted.
 *
 *   itm-delay --queue N --delay 20ms [--limit PKTS]
 *
 * This kernel has no sch_netem, so deploy/lab/lab.sh feeds a link's packets
 * to this program (raw PREROUTING and filter FORWARD/OUTPUT rules with
 * --queue-bypass) to give the link a latency.  The delay is the same for
 * every packet, so packets leave in the order they came: the held ones sit
 * in a ring, oldest first, and one timer releases whatever is due.  Held
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

#include "itm.h"
#include "itmq.h"

struct held {
	uint32_t id;
	uint64_t due_ms;
};

struct delayline {
	struct itmq *q;
	uv_loop_t *loop;
	uv_poll_t poll;
	uv_timer_t timer;
	uv_signal_t sigint, sigterm;
	uint64_t delay_ms;
	struct held *ring;
	uint32_t cap, head, n;	  /* oldest at head */
	uint64_t delayed, passed; /* passed: ring full, not delayed */
};

static void
usage(FILE *f)
{
	/* clang-format off */
	fprintf(f,
"Usage: itm-delay --queue N --delay D [--limit PKTS]\n"
"\n"
"Hold every packet of NFQUEUE queue N for D (e.g. 20ms, 1s, 500us rounded\n"
"up to milliseconds), then accept it.  A latency for lab links on kernels\n"
"without netem; deploy/lab/lab.sh starts it and installs the rules.\n"
"\n"
"  -q, --queue N     queue number (0..65535)\n"
"  -d, --delay D     how long each packet waits: NUMBER[us|ms|s]\n"
"  -l, --limit PKTS  packets held at most (default 65536); past it, and\n"
"                    past the kernel queue's length, packets pass at once\n"
"  -h, --help        this text\n"
"\n"
"SIGINT/SIGTERM: print the counters, release the queue (held packets are\n"
"accepted by the kernel, fail-open) and exit.\n");
	/* clang-format on */
}

static int
parse_delay(const char *s, uint64_t *ms)
{
	char *end;
	double v = strtod(s, &end);
	double scale;

	if (end == s || v < 0)
		return -1;
	if (strcmp(end, "ms") == 0)
		scale = 1;
	else if (strcmp(end, "s") == 0)
		scale = 1000;
	else if (strcmp(end, "us") == 0)
		scale = 0.001;
	else
		return -1;
	v *= scale;
	if (v > 60000)
		return -1;
	*ms = (uint64_t)v + (v > (uint64_t)v); /* round up */
	return 0;
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

/* Release every packet that is due, then sleep until the next one is. */
static void
on_timer(uv_timer_t *t)
{
	struct delayline *d = t->data;
	uint64_t now = uv_now(d->loop);

	while (d->n && d->ring[d->head].due_ms <= now) {
		release(d, d->ring[d->head].id);
		d->head = (d->head + 1) % d->cap;
		d->n--;
	}
	itmq_flush(d->q);
	if (d->n)
		uv_timer_start(&d->timer, on_timer,
			       d->ring[d->head].due_ms - now, 0);
}

static void
on_packet(struct itmq *q, struct itm_packet *pkt, void *arg)
{
	struct delayline *d = arg;

	if (d->n == d->cap || d->delay_ms == 0) {
		itmq_verdict(q, pkt, ITMQ_ACCEPT, 0, 0);
		d->passed++;
		return;
	}
	d->ring[(d->head + d->n) % d->cap] = (struct held){
		.id = pkt->id,
		.due_ms = uv_now(d->loop) + d->delay_ms,
	};
	if (d->n++ == 0)
		uv_timer_start(&d->timer, on_timer, d->delay_ms, 0);
	d->delayed++;
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

static void
options(int argc, char **argv, struct itmq_config *cfg, struct delayline *d)
{
	static const struct option opts[] = { { "queue", 1, NULL, 'q' },
					      { "delay", 1, NULL, 'd' },
					      { "limit", 1, NULL, 'l' },
					      { "help", 0, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	int ch, have_q = 0, have_d = 0;
	char *end;
	long v;

	while ((ch = getopt_long(argc, argv, "q:d:l:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'q':
			v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end || v < 0 || v > 65535)
				goto bad;
			cfg->num = (uint16_t)v;
			have_q = 1;
			break;
		case 'd':
			if (parse_delay(optarg, &d->delay_ms) < 0)
				goto bad;
			have_d = 1;
			break;
		case 'l':
			v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end || v < 1 || v > 1 << 20)
				goto bad;
			d->cap = (uint32_t)v;
			break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (have_q && have_d && optind == argc)
		return;
	fprintf(stderr, "itm-delay: need --queue and --delay, nothing else\n");
	exit(2);
bad:
	fprintf(stderr, "itm-delay: --%s: '%s' is not valid (see --help)\n",
		ch == 'q'   ? "queue"
		: ch == 'd' ? "delay"
			    : "limit",
		optarg);
	exit(2);
}

static void
watch(struct delayline *d, uv_signal_t *s, int sig)
{
	uv_signal_init(d->loop, s);
	s->data = d;
	uv_signal_start(s, on_signal, sig);
}

int
main(int argc, char **argv)
{
	struct itmq_config cfg = { .copy_bytes = 64, .maxlen = 65536 };
	struct delayline d = { .cap = 65536 };
	int rc;

	options(argc, argv, &cfg, &d);
	d.ring = calloc(d.cap, sizeof(*d.ring));
	if (d.ring == NULL) {
		fprintf(stderr, "itm-delay: out of memory\n");
		return 1;
	}
	if ((rc = itmq_open(&d.q, &cfg)) < 0) {
		fprintf(stderr, "itm-delay: cannot bind queue %u: %s\n",
			cfg.num,
			rc == -EPERM ? "another program holds it"
				     : strerror(-rc));
		return 1;
	}
	d.loop = uv_default_loop();
	uv_timer_init(d.loop, &d.timer);
	d.timer.data = &d;
	uv_poll_init(d.loop, &d.poll, itmq_fd(d.q));
	d.poll.data = &d;
	uv_poll_start(&d.poll, UV_READABLE, on_readable);
	watch(&d, &d.sigint, SIGINT);
	watch(&d, &d.sigterm, SIGTERM);
	fprintf(stderr, "itm-delay: queue %u, delay %llu ms, limit %u\n",
		cfg.num, (unsigned long long)d.delay_ms, d.cap);

	uv_run(d.loop, UV_RUN_DEFAULT);

	fprintf(stderr,
		"itm-delay: %llu packets delayed, %llu passed at "
		"once, %u held at exit\n",
		(unsigned long long)d.delayed, (unsigned long long)d.passed,
		d.n);
	itmq_close(d.q);
	free(d.ring);
	return 0;
}
