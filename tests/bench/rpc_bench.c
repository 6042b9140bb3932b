/*
 * rpc_bench.c - median latency of a unary call (GetStatus) through the
 * gRPC glue, over a unix socket and over TCP on 127.0.0.1.  Built, not run
 * by ctest:  rpc_bench [calls]   (default 2000 per transport)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "itm_rpc.h"
#include "itm.pb-c.h"

struct bench {
	uv_loop_t loop;
	uv_async_t stop;
	uv_sem_t ready;
	struct itm_rpc_server *srv;
	const char *listen;
	char addr[128];
	int rc;
};

static void
h_status(struct itm_rpc_call *call, void *arg)
{
	Itm__V1__StatusReply r = ITM__V1__STATUS_REPLY__INIT;

	(void)arg;
	r.node = "bench";
	r.uptime_ms = 1;
	itm_rpc_reply(call, &r.base);
}

static const struct itm_rpc_method methods[] = {
	{ ITM_AGENT_GET_STATUS, h_status },
};

static void
stop_cb(uv_async_t *h)
{
	struct bench *b = h->data;

	itm_rpc_server_free(b->srv);
	uv_close((uv_handle_t *)h, NULL);
}

static void
server_thread(void *arg)
{
	struct bench *b = arg;

	uv_loop_init(&b->loop);
	uv_async_init(&b->loop, &b->stop, stop_cb);
	b->stop.data = b;
	b->rc = itm_rpc_server_new(&b->srv, &b->loop, methods, 1, b);
	if (!b->rc)
		b->rc = itm_rpc_server_listen(b->srv, b->listen, NULL, 0);
	if (!b->rc)
		b->rc = itm_rpc_server_start(b->srv);
	if (!strncmp(b->listen, "unix:", 5))
		snprintf(b->addr, sizeof(b->addr), "%s", b->listen);
	else if (!b->rc)
		snprintf(b->addr, sizeof(b->addr), "127.0.0.1:%d",
			 itm_rpc_server_port(b->srv));
	uv_sem_post(&b->ready);
	uv_run(&b->loop, UV_RUN_DEFAULT);
	uv_loop_close(&b->loop);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int
run(const char *name, const char *listen, int n)
{
	Itm__V1__StatusRequest q = ITM__V1__STATUS_REQUEST__INIT;
	struct bench b = { .listen = listen };
	struct itm_rpc_client *c;
	struct itm_rpc_status st;
	ProtobufCMessage *m;
	uv_thread_t t;
	double *lat = calloc(n, sizeof(*lat));

	uv_sem_init(&b.ready, 0);
	uv_thread_create(&t, server_thread, &b);
	uv_sem_wait(&b.ready);
	if (b.rc || itm_rpc_client_new(&c, b.addr, NULL)) {
		fprintf(stderr, "rpc_bench: %s: cannot start (%d)\n", name,
			b.rc);
		return 1;
	}
	for (int i = -50; i < n; i++) { /* 50 warm-up calls */
		double t0 = now_us();

		if (itm_rpc_call(c, ITM_AGENT_GET_STATUS, &q.base, &m, 2000,
				 &st)) {
			fprintf(stderr, "rpc_bench: %s: %s: %s\n", name,
				itm_rpc_code_name(st.code), st.message);
			return 1;
		}
		if (i >= 0)
			lat[i] = now_us() - t0;
		protobuf_c_message_free_unpacked(m, NULL);
	}
	qsort(lat, n, sizeof(*lat), cmp_double);
	printf("%-5s unary GetStatus: median %.1f us, p90 %.1f us, p99 %.1f us "
	       "(%d calls)\n",
	       name, lat[n / 2], lat[n * 9 / 10], lat[n * 99 / 100], n);
	itm_rpc_client_free(c);
	uv_async_send(&b.stop);
	uv_thread_join(&t);
	free(lat);
	return 0;
}

int
main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 2000;
	char dir[] = "/tmp/rpc_bench.XXXXXX", sock[128];
	int rc;

	if (n < 10 || !mkdtemp(dir)) {
		fprintf(stderr, "usage: rpc_bench [calls >= 10]\n");
		return 2;
	}
	snprintf(sock, sizeof(sock), "unix:%s/bench.sock", dir);
	rc = run("unix", sock, n) || run("tcp", "127.0.0.1:0", n);
	rmdir(dir);
	return rc;
}
