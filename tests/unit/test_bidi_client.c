/*
 * test_bidi_client.c - the client side of bidirectional streams in the
 * gRPC glue (itm_rpc_bidi_open(), proto/itm_rpc.h) against the glue's own
 * server (a BIDI handler on a unix socket, on its own thread and loop):
 * messages answered in order, pipelined, the half-close, the server
 * ending early, the caller cancelling, the client freed with a stream
 * open, the server going away, a method the server does not have.  The
 * client's loop is the test's: uv_run() returns once the stream ended
 * (an open stream keeps it alive).  ASan checks the leaks.
 *
 * The method is ServerReflectionInfo with a handler that echoes the
 * request's host back ("fail" ends the call with ABORTED).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "itm_rpc.h"
#include "reflection.pb-c.h"

#define PATH	 "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
#define MAX_MSGS 256

typedef Grpc__Reflection__V1alpha__ServerReflectionRequest bidi_req;
typedef Grpc__Reflection__V1alpha__ServerReflectionResponse bidi_rep;

struct fx {
	char dir[64];
	char addr[128];
	uv_thread_t thread;
	uv_sem_t ready;
	uv_loop_t srv_loop;
	uv_async_t stop;
	struct itm_rpc_server *srv;
	int rc;
	atomic_int srv_msgs, srv_ends;
	/* the client's side, on the test's loop */
	uv_loop_t loop;
	struct itm_rpc_client *cli;
	struct itm_rpc_bidi *s;
	char got[MAX_MSGS][32];
	int n_got, ends, cancel_at, close_at, send_in_end;
	struct itm_rpc_status end;
};

/* ------------------------------------------------------------------ */
/* Server                                                               */
/* ------------------------------------------------------------------ */

static void
h_echo(struct itm_rpc_call *call, void *arg)
{
	const bidi_req *req = (const void *)itm_rpc_request(call);
	bidi_rep rep =
		GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__INIT;
	struct fx *fx = arg;

	if (!req) {
		atomic_fetch_add(&fx->srv_ends, 1);
		itm_rpc_finish(call);
		return;
	}
	atomic_fetch_add(&fx->srv_msgs, 1);
	if (!strcmp(req->host, "fail")) {
		itm_rpc_fail(call, ITM_RPC_ABORTED, "asked to fail");
		return;
	}
	rep.valid_host = req->host;
	itm_rpc_send(call, &rep.base);
}

static const struct itm_rpc_method methods[] = {
	{ ITM_REFLECTION_INFO, h_echo },
};

static void
stop_cb(uv_async_t *h)
{
	struct fx *fx = h->data;

	itm_rpc_server_free(fx->srv);
	uv_close((uv_handle_t *)h, NULL);
}

static void
server_thread(void *arg)
{
	struct fx *fx = arg;

	uv_loop_init(&fx->srv_loop);
	uv_async_init(&fx->srv_loop, &fx->stop, stop_cb);
	fx->stop.data = fx;
	fx->rc = itm_rpc_server_new(&fx->srv, &fx->srv_loop, methods, 1, fx);
	if (!fx->rc)
		fx->rc = itm_rpc_server_listen(fx->srv, fx->addr, NULL, 0);
	if (!fx->rc)
		fx->rc = itm_rpc_server_start(fx->srv);
	uv_sem_post(&fx->ready);
	uv_run(&fx->srv_loop, UV_RUN_DEFAULT);
	uv_loop_close(&fx->srv_loop);
}

static void
server_stop(struct fx *fx)
{
	if (!fx->srv)
		return;
	uv_async_send(&fx->stop);
	uv_thread_join(&fx->thread);
	fx->srv = NULL;
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_bidi_client.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->addr, sizeof(fx->addr), "unix:%s/s.sock", fx->dir);
	uv_sem_init(&fx->ready, 0);
	assert_int_equal(uv_thread_create(&fx->thread, server_thread, fx), 0);
	uv_sem_wait(&fx->ready);
	uv_sem_destroy(&fx->ready);
	assert_int_equal(fx->rc, 0);
	assert_int_equal(uv_loop_init(&fx->loop), 0);
	assert_int_equal(itm_rpc_client_new(&fx->cli, fx->addr, NULL), 0);
	fx->cancel_at = fx->close_at = -1;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	char cmd[128];

	itm_rpc_client_free(fx->cli);
	uv_run(&fx->loop, UV_RUN_DEFAULT); /* the hooks' close callbacks */
	assert_int_equal(uv_loop_close(&fx->loop), 0);
	server_stop(fx);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(fx);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Client                                                               */
/* ------------------------------------------------------------------ */

static void
on_msg(void *arg, const ProtobufCMessage *msg)
{
	struct fx *fx = arg;
	const bidi_rep *rep = (const bidi_rep *)msg;

	assert_true(fx->n_got < MAX_MSGS);
	assert_int_equal(fx->ends, 0);
	snprintf(fx->got[fx->n_got++], sizeof(fx->got[0]), "%s",
		 rep->valid_host);
	if (fx->n_got == fx->close_at)
		assert_int_equal(itm_rpc_bidi_close_send(fx->s), 0);
	if (fx->n_got == fx->cancel_at)
		itm_rpc_bidi_cancel(fx->s);
}

static void
on_end(void *arg, const struct itm_rpc_status *st)
{
	struct fx *fx = arg;
	bidi_req req =
		GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__INIT;

	fx->ends++;
	fx->end = *st;
	req.host = "late";
	if (fx->send_in_end)
		assert_int_equal(itm_rpc_bidi_send(fx->s, &req.base),
				 -ECANCELED);
}

static void
open_on(struct fx *fx, const char *path)
{
	struct itm_rpc_bidi_opts o = {
		.reply =
			&grpc__reflection__v1alpha__server_reflection_response__descriptor,
		.on_msg = on_msg,
		.on_end = on_end,
		.arg = fx,
	};

	assert_int_equal(itm_rpc_bidi_open(fx->cli, &fx->loop, path, &o,
					   &fx->s),
			 0);
}

static void
send_host(struct fx *fx, const char *host)
{
	bidi_req req =
		GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__INIT;

	req.host = (char *)host;
	assert_int_equal(itm_rpc_bidi_send(fx->s, &req.base), 0);
}

/* Run the loop until the stream ended (it returns then: nothing else
 * keeps it alive), at most 10 s. */
static void
run_to_end(struct fx *fx)
{
	uv_timer_t guard;

	uv_timer_init(&fx->loop, &guard);
	uv_timer_start(&guard, (uv_timer_cb)uv_stop, 10000, 0);
	uv_unref((uv_handle_t *)&guard);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&guard, NULL);
	uv_run(&fx->loop, UV_RUN_NOWAIT);
	assert_int_equal(fx->ends, 1);
}

/* ------------------------------------------------------------------ */
/* Tests                                                                */
/* ------------------------------------------------------------------ */

static void
test_ping_pong(void **state)
{
	struct fx *fx = *state;

	open_on(fx, PATH);
	fx->close_at = 3;
	send_host(fx, "m0");
	send_host(fx, "m1");
	send_host(fx, "m2");
	run_to_end(fx);
	assert_int_equal(fx->n_got, 3);
	assert_string_equal(fx->got[0], "m0");
	assert_string_equal(fx->got[2], "m2");
	assert_int_equal(fx->end.code, ITM_RPC_OK);
	assert_int_equal(atomic_load(&fx->srv_msgs), 3);
	assert_int_equal(atomic_load(&fx->srv_ends), 1);
}

/* 200 sent at once, then the half-close: all answered, in order. */
static void
test_pipelined(void **state)
{
	struct fx *fx = *state;
	char want[32];

	open_on(fx, PATH);
	for (int i = 0; i < 200; i++) {
		snprintf(want, sizeof(want), "p%d", i);
		send_host(fx, want);
	}
	assert_int_equal(itm_rpc_bidi_close_send(fx->s), 0);
	assert_int_equal(itm_rpc_bidi_close_send(fx->s), -ECANCELED);
	run_to_end(fx);
	assert_int_equal(fx->n_got, 200);
	for (int i = 0; i < 200; i++) {
		snprintf(want, sizeof(want), "p%d", i);
		assert_string_equal(fx->got[i], want);
	}
	assert_int_equal(fx->end.code, ITM_RPC_OK);
}

/* The server ends the stream with an error: its status and message. */
static void
test_server_fails(void **state)
{
	struct fx *fx = *state;

	open_on(fx, PATH);
	fx->send_in_end = 1;
	send_host(fx, "a");
	send_host(fx, "fail");
	run_to_end(fx);
	assert_int_equal(fx->n_got, 1);
	assert_int_equal(fx->end.code, ITM_RPC_ABORTED);
	assert_string_equal(fx->end.message, "asked to fail");
}

/* Cancelled on the first answer of five: no message after it, the end
 * says CANCELLED. */
static void
test_cancel(void **state)
{
	struct fx *fx = *state;

	open_on(fx, PATH);
	fx->cancel_at = 1;
	for (int i = 0; i < 5; i++)
		send_host(fx, "c");
	run_to_end(fx);
	assert_int_equal(fx->n_got, 1);
	assert_int_equal(fx->end.code, ITM_RPC_CANCELLED);
}

/* The client freed with a stream open: the end runs before the free
 * returns, and the loop has nothing left. */
static void
test_client_free(void **state)
{
	struct fx *fx = *state;

	open_on(fx, PATH);
	send_host(fx, "x");
	while (fx->n_got == 0)
		uv_run(&fx->loop, UV_RUN_ONCE);
	itm_rpc_client_free(fx->cli);
	fx->cli = NULL;
	assert_int_equal(fx->ends, 1);
	assert_int_equal(fx->end.code, ITM_RPC_CANCELLED);
}

/* The server goes away: the stream ends UNAVAILABLE. */
static void
test_server_gone(void **state)
{
	struct fx *fx = *state;

	open_on(fx, PATH);
	send_host(fx, "x");
	while (fx->n_got == 0)
		uv_run(&fx->loop, UV_RUN_ONCE);
	server_stop(fx);
	run_to_end(fx);
	assert_int_equal(fx->end.code, ITM_RPC_UNAVAILABLE);
}

/* A stream stays open without a deadline; idle for 1.5 s it answers. */
static void
test_idle(void **state)
{
	struct fx *fx = *state;

	open_on(fx, PATH);
	send_host(fx, "before");
	while (fx->n_got == 0)
		uv_run(&fx->loop, UV_RUN_ONCE);
	usleep(1500000);
	fx->close_at = 2;
	send_host(fx, "after");
	run_to_end(fx);
	assert_int_equal(fx->n_got, 2);
	assert_string_equal(fx->got[1], "after");
	assert_int_equal(fx->end.code, ITM_RPC_OK);
}

static void
test_no_method(void **state)
{
	struct fx *fx = *state;

	open_on(fx, "/itm.v1.Nope/Nope");
	send_host(fx, "x");
	run_to_end(fx);
	assert_int_equal(fx->n_got, 0);
	assert_int_equal(fx->end.code, ITM_RPC_UNIMPLEMENTED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ping_pong, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_pipelined, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_server_fails, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_free, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_server_gone, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_idle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_method, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
