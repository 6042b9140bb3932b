/*
 * nfq_accept_min.c - the smallest accept-all libnetfilter_queue program,
 * written the way one writes a first one: the classic API of the library's
 * own nfqnl_test.c (nfq_open, nfq_create_queue, nfq_set_mode with
 * NFQNL_COPY_PACKET, one nfq_set_verdict per packet), no GSO, no batching.
 * Configuration (b) of tests/bench/agent_bench.sh: the baseline the agent
 * must not be slower than.
 *
 *   nfq_accept_min [QUEUE]       (default queue 0; stops on SIGINT/SIGTERM)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

static volatile sig_atomic_t stop;
static unsigned long packets, enobufs;

static void
on_signal(int sig)
{
	stop = 1;
}

static int
packet_cb(struct nfq_q_handle *qh, struct nfgenmsg *nfmsg, struct nfq_data *nfa,
	  void *data)
{
	struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
	uint32_t id = ph ? ntohl(ph->packet_id) : 0;

	packets++;
	return nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
}

static int
run(struct nfq_handle *h)
{
	char buf[65536 + 4096] __attribute__((aligned));
	int fd = nfq_fd(h);
	ssize_t rv;

	while (!stop) {
		rv = recv(fd, buf, sizeof(buf), 0);
		if (rv >= 0) {
			nfq_handle_packet(h, buf, (int)rv);
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == ENOBUFS) { /* losing packets: counted */
			enobufs++;
			continue;
		}
		perror("nfq_accept_min: recv");
		return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct nfq_handle *h;
	struct nfq_q_handle *qh;
	uint16_t queue = argc > 1 ? (uint16_t)atoi(argv[1]) : 0;
	int rc;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	h = nfq_open();
	if (!h) {
		perror("nfq_accept_min: nfq_open");
		return 1;
	}
	nfq_unbind_pf(h, AF_INET);
	if (nfq_bind_pf(h, AF_INET) < 0) {
		perror("nfq_accept_min: nfq_bind_pf");
		return 1;
	}
	qh = nfq_create_queue(h, queue, &packet_cb, NULL);
	if (!qh) {
		perror("nfq_accept_min: nfq_create_queue");
		return 1;
	}
	if (nfq_set_mode(qh, NFQNL_COPY_PACKET, 0xffff) < 0) {
		perror("nfq_accept_min: nfq_set_mode");
		return 1;
	}
	printf("nfq_accept_min: queue %u bound\n", queue);
	fflush(stdout);
	rc = run(h);
	nfq_destroy_queue(qh);
	nfq_close(h);
	printf("nfq_accept_min: %lu packets accepted, %lu ENOBUFS "
	       "(socket buffer overruns)\n",
	       packets, enobufs);
	return rc;
}
