/*
 * test_bidi.c - bidirectional streaming in the gRPC glue (proto/itm_rpc.h)
 * against a real server on a unix socket, with a plain gRPC core client:
 * messages answered in order one by one and pipelined, the half-close,
 * the client cancelling, bytes that do not decode, a handler that ends
 * early, the server freed with streams open (ASan checks the leaks).
 * Plus the symbol lookup of server reflection (itm_reflect.h).
 *
 * The method is ServerReflectionInfo with a test handler that echoes the
 * request's host back: any BIDI method would do.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>

#include "itm_reflect.h"
#include "itm_rpc.h"
#include "reflection.pb-c.h"

#define PATH "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"

typedef Grpc__Reflection__V1alpha__ServerReflectionRequest bidi_req;
typedef Grpc__Reflection__V1alpha__ServerReflectionResponse bidi_rep;

struct fx {
	char dir[64];
	char addr[128];
	uv_thread_t thread;
	uv_sem_t ready;
	uv_loop_t loop;
	uv_async_t stop;
	struct itm_rpc_server *srv;
	int rc;
	atomic_int msgs, ends, cancels;
};

/* ------------------------------------------------------------------ */
/* Server: echo the host of each request; "fail" ends with ABORTED.     */
/* ------------------------------------------------------------------ */

static void
echo_cancel_cb(struct itm_rpc_call *call, void *arg)
{
	struct fx *fx = arg;

	(void)call;
	atomic_fetch_add(&fx->cancels, 1);
}

static void
h_echo(struct itm_rpc_call *call, void *arg)
{
	const bidi_req *req = (const void *)itm_rpc_request(call);
	bidi_rep rep =
		GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__INIT;
	struct fx *fx = arg;

	itm_rpc_on_cancel(call, echo_cancel_cb, fx);
	if (!req) {
		atomic_fetch_add(&fx->ends, 1);
		itm_rpc_finish(call);
		return;
	}
	atomic_fetch_add(&fx->msgs, 1);
	if (!strcmp(req->host, "fail")) {
		itm_rpc_fail(call, ITM_RPC_ABORTED, "asked to fail");
		return;
	}
	rep.valid_host = req->host;
	assert_int_equal(itm_rpc_send(call, &rep.base), 0);
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

	uv_loop_init(&fx->loop);
	uv_async_init(&fx->loop, &fx->stop, stop_cb);
	fx->stop.data = fx;
	fx->rc = itm_rpc_server_new(&fx->srv, &fx->loop, methods, 1, fx);
	if (!fx->rc)
		fx->rc = itm_rpc_server_listen(fx->srv, fx->addr, NULL, 0);
	if (!fx->rc)
		fx->rc = itm_rpc_server_start(fx->srv);
	uv_sem_post(&fx->ready);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&fx->loop), 0);
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_bidi.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->addr, sizeof(fx->addr), "unix:%s/s.sock", fx->dir);
	uv_sem_init(&fx->ready, 0);
	assert_int_equal(uv_thread_create(&fx->thread, server_thread, fx), 0);
	uv_sem_wait(&fx->ready);
	uv_sem_destroy(&fx->ready);
	assert_int_equal(fx->rc, 0);
	grpc_init();
	*state = fx;
	return 0;
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
teardown(void **state)
{
	struct fx *fx = *state;
	char cmd[128];

	server_stop(fx);
	grpc_shutdown();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(fx);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Client: one stream over gRPC core, one batch at a time               */
/* ------------------------------------------------------------------ */

struct bidi {
	grpc_channel_credentials *cr;
	grpc_channel *ch;
	grpc_completion_queue *cq;
	grpc_call *gc;
	grpc_metadata_array imd, tmd;
	int imd_done;
	struct bidi *share; /* whose channel this stream uses */
};

static void
run(struct bidi *b, grpc_op *ops, size_t n)
{
	grpc_event ev;

	assert_int_equal(grpc_call_start_batch(b->gc, ops, n, ops, NULL),
			 GRPC_CALL_OK);
	ev = grpc_completion_queue_pluck(b->cq, ops,
					 gpr_inf_future(GPR_CLOCK_REALTIME),
					 NULL);
	assert_int_equal(ev.type, GRPC_OP_COMPLETE);
}

/* A stream on a new channel, or on @share's. */
static struct bidi *
bidi_open_on(struct fx *fx, struct bidi *share)
{
	struct bidi *b = calloc(1, sizeof(*b));
	grpc_op op = { .op = GRPC_OP_SEND_INITIAL_METADATA };

	b->share = share;
	if (!share) {
		b->cr = grpc_insecure_credentials_create();
		b->ch = grpc_channel_create(fx->addr, b->cr, NULL);
	}
	b->cq = grpc_completion_queue_create_for_pluck(NULL);
	b->gc = grpc_channel_create_call(
		share ? share->ch : b->ch, NULL, 0, b->cq,
		grpc_slice_from_static_string(PATH), NULL,
		gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
			     gpr_time_from_seconds(10, GPR_TIMESPAN)),
		NULL);
	grpc_metadata_array_init(&b->imd);
	grpc_metadata_array_init(&b->tmd);
	run(b, &op, 1);
	return b;
}

static struct bidi *
bidi_open(struct fx *fx)
{
	return bidi_open_on(fx, NULL);
}

static void
bidi_send_raw(struct bidi *b, const void *bytes, size_t len)
{
	grpc_slice s = grpc_slice_from_copied_buffer(bytes, len);
	grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
	grpc_op op = { .op = GRPC_OP_SEND_MESSAGE };

	op.data.send_message.send_message = bb;
	run(b, &op, 1);
	grpc_byte_buffer_destroy(bb);
	grpc_slice_unref(s);
}

static void
bidi_send(struct bidi *b, const char *host)
{
	bidi_req req =
		GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__INIT;
	uint8_t buf[256];

	req.host = (char *)host;
	bidi_send_raw(b, buf, protobuf_c_message_pack(&req.base, buf));
}

/* The next answer's host into @host: 1, or 0 once the stream ended. */
static int
bidi_recv(struct bidi *b, char *host, size_t len)
{
	grpc_op ops[2] = { { .op = GRPC_OP_RECV_INITIAL_METADATA },
			   { .op = GRPC_OP_RECV_MESSAGE } };
	grpc_byte_buffer *bb = NULL;
	grpc_byte_buffer_reader r;
	grpc_slice s;
	bidi_rep *rep;

	ops[0].data.recv_initial_metadata.recv_initial_metadata = &b->imd;
	ops[1].data.recv_message.recv_message = &bb;
	run(b, b->imd_done ? &ops[1] : ops, b->imd_done ? 1 : 2);
	b->imd_done = 1;
	if (!bb)
		return 0;
	grpc_byte_buffer_reader_init(&r, bb);
	s = grpc_byte_buffer_reader_readall(&r);
	rep = (bidi_rep *)protobuf_c_message_unpack(
		&grpc__reflection__v1alpha__server_reflection_response__descriptor,
		NULL, GRPC_SLICE_LENGTH(s), GRPC_SLICE_START_PTR(s));
	assert_non_null(rep);
	snprintf(host, len, "%s", rep->valid_host);
	protobuf_c_message_free_unpacked(&rep->base, NULL);
	grpc_slice_unref(s);
	grpc_byte_buffer_reader_destroy(&r);
	grpc_byte_buffer_destroy(bb);
	return 1;
}

static void
bidi_close(struct bidi *b)
{
	grpc_op op = { .op = GRPC_OP_SEND_CLOSE_FROM_CLIENT };

	run(b, &op, 1);
}

/* The final status (its message in @det), and the stream freed. */
static int
bidi_end(struct bidi *b, char *det, size_t len)
{
	grpc_op op = { .op = GRPC_OP_RECV_STATUS_ON_CLIENT };
	grpc_status_code code;
	grpc_slice d;

	op.data.recv_status_on_client.trailing_metadata = &b->tmd;
	op.data.recv_status_on_client.status = &code;
	op.data.recv_status_on_client.status_details = &d;
	run(b, &op, 1);
	snprintf(det, len, "%.*s", (int)GRPC_SLICE_LENGTH(d),
		 (const char *)GRPC_SLICE_START_PTR(d));
	grpc_slice_unref(d);
	grpc_metadata_array_destroy(&b->imd);
	grpc_metadata_array_destroy(&b->tmd);
	grpc_call_unref(b->gc);
	grpc_completion_queue_shutdown(b->cq);
	grpc_completion_queue_destroy(b->cq);
	if (!b->share) {
		grpc_channel_destroy(b->ch);
		grpc_channel_credentials_release(b->cr);
	}
	free(b);
	return code;
}

/* Wait up to 5 s for @v to reach @want. */
static void
wait_for(atomic_int *v, int want)
{
	for (int i = 0; i < 500 && atomic_load(v) != want; i++)
		usleep(10000);
	assert_int_equal(atomic_load(v), want);
}

/* ------------------------------------------------------------------ */
/* Tests                                                                */
/* ------------------------------------------------------------------ */

static void
test_ping_pong(void **state)
{
	struct fx *fx = *state;
	struct bidi *b = bidi_open(fx);
	char host[64], want[64], det[256];

	for (int i = 0; i < 3; i++) {
		snprintf(want, sizeof(want), "m%d", i);
		bidi_send(b, want);
		assert_int_equal(bidi_recv(b, host, sizeof(host)), 1);
		assert_string_equal(host, want);
	}
	bidi_close(b);
	assert_int_equal(bidi_recv(b, host, sizeof(host)), 0);
	assert_int_equal(bidi_end(b, det, sizeof(det)), GRPC_STATUS_OK);
	assert_int_equal(atomic_load(&fx->msgs), 3);
	assert_int_equal(atomic_load(&fx->ends), 1);
	assert_int_equal(atomic_load(&fx->cancels), 0);
}

/* 200 requests sent before any answer is read: all answered, in order. */
static void
test_pipelined(void **state)
{
	struct fx *fx = *state;
	struct bidi *b = bidi_open(fx);
	char host[64], want[64], det[256];

	for (int i = 0; i < 200; i++) {
		snprintf(want, sizeof(want), "p%d", i);
		bidi_send(b, want);
	}
	bidi_close(b);
	for (int i = 0; i < 200; i++) {
		snprintf(want, sizeof(want), "p%d", i);
		assert_int_equal(bidi_recv(b, host, sizeof(host)), 1);
		assert_string_equal(host, want);
	}
	assert_int_equal(bidi_recv(b, host, sizeof(host)), 0);
	assert_int_equal(bidi_end(b, det, sizeof(det)), GRPC_STATUS_OK);
	assert_int_equal(atomic_load(&fx->ends), 1);
}

static void
test_client_cancels(void **state)
{
	struct fx *fx = *state;
	struct bidi *b = bidi_open(fx);
	char host[64], det[256];

	bidi_send(b, "x");
	assert_int_equal(bidi_recv(b, host, sizeof(host)), 1);
	grpc_call_cancel(b->gc, NULL);
	assert_int_equal(bidi_end(b, det, sizeof(det)), GRPC_STATUS_CANCELLED);
	/* gRPC core reads a cancelled stream's end like a half-close: the
	 * handler hears of it one way or the other, once. */
	for (int i = 0;
	     i < 500 && atomic_load(&fx->cancels) + atomic_load(&fx->ends) == 0;
	     i++)
		usleep(10000);
	usleep(100000);
	assert_int_equal(atomic_load(&fx->cancels) + atomic_load(&fx->ends), 1);
	/* The server goes on. */
	b = bidi_open(fx);
	bidi_send(b, "again");
	assert_int_equal(bidi_recv(b, host, sizeof(host)), 1);
	bidi_close(b);
	assert_int_equal(bidi_end(b, det, sizeof(det)), GRPC_STATUS_OK);
}

static void
test_garbage(void **state)
{
	struct fx *fx = *state;
	struct bidi *b = bidi_open(fx);
	char host[64], det[256];

	bidi_send(b, "ok");
	assert_int_equal(bidi_recv(b, host, sizeof(host)), 1);
	bidi_send_raw(b, "\x0f\xff\xff", 3); /* wire type 7 */
	assert_int_equal(bidi_recv(b, host, sizeof(host)), 0);
	assert_int_equal(bidi_end(b, det, sizeof(det)),
			 GRPC_STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(det, "does not decode as "
				    "grpc.reflection.v1alpha."
				    "ServerReflectionRequest"));
	assert_int_equal(atomic_load(&fx->msgs), 1);
	wait_for(&fx->cancels, 1);
	/* The server goes on. */
	b = bidi_open(fx);
	bidi_send(b, "again");
	assert_int_equal(bidi_recv(b, host, sizeof(host)), 1);
	bidi_close(b);
	assert_int_equal(bidi_end(b, det, sizeof(det)), GRPC_STATUS_OK);
}

static void
test_handler_ends_early(void **state)
{
	struct fx *fx = *state;
	struct bidi *b = bidi_open(fx);
	char host[64], det[256];

	bidi_send(b, "fail");
	assert_int_equal(bidi_recv(b, host, sizeof(host)), 0);
	assert_int_equal(bidi_end(b, det, sizeof(det)), GRPC_STATUS_ABORTED);
	assert_string_equal(det, "asked to fail");
	assert_int_equal(atomic_load(&fx->msgs), 1);
	assert_int_equal(atomic_load(&fx->ends), 0);
}

/* One stream a handler holds, one it never saw (no message yet): both
 * end when the server is freed, the handler hears of its stream,
 * nothing leaks (ASan). */
static void
test_server_free_with_streams(void **state)
{
	struct fx *fx = *state;
	struct bidi *live = bidi_open(fx), *conn = bidi_open(fx), *idle;
	char host[64], det[256];

	bidi_send(live, "x");
	assert_int_equal(bidi_recv(live, host, sizeof(host)), 1);
	bidi_send(conn, "connected");
	assert_int_equal(bidi_recv(conn, host, sizeof(host)), 1);
	idle = bidi_open_on(fx, conn);
	usleep(100000); /* the server accepts it */
	server_stop(fx);
	assert_int_equal(atomic_load(&fx->cancels), 2);
	assert_int_equal(atomic_load(&fx->msgs), 2);
	assert_int_equal(bidi_end(live, det, sizeof(det)),
			 GRPC_STATUS_UNAVAILABLE);
	assert_string_equal(det, "server shutting down");
	/* In this process nobody polls the freed server's connections: do
	 * not wait for what the transport says. */
	grpc_call_cancel(idle->gc, NULL);
	assert_int_not_equal(bidi_end(idle, det, sizeof(det)), GRPC_STATUS_OK);
	grpc_call_cancel(conn->gc, NULL);
	assert_int_not_equal(bidi_end(conn, det, sizeof(det)), GRPC_STATUS_OK);
}

static void
test_reflect_symbols(void **state)
{
	int itm = itm_reflect_file_by_name("itm.proto");
	int health = itm_reflect_file_by_name("health.proto");
	size_t len;

	(void)state;
	assert_true(itm >= 0 && health >= 0 && itm != health);
	assert_non_null(itm_reflect_file(itm, &len));
	assert_true(len > 1000);
	assert_null(itm_reflect_file(99, &len));
	assert_int_equal(itm_reflect_file_by_symbol("itm.v1.Agent"), itm);
	assert_int_equal(itm_reflect_file_by_symbol("itm.v1.Agent.GetStatus"),
			 itm);
	assert_int_equal(itm_reflect_file_by_symbol("itm.v1.StatusRequest"),
			 itm);
	assert_int_equal(itm_reflect_file_by_symbol("itm.v1.Controller.Apply"),
			 itm);
	assert_int_equal(
		itm_reflect_file_by_symbol(
			"grpc.health.v1.HealthCheckResponse.ServingStatus"),
		health);
	assert_true(itm_reflect_file_by_symbol(
			    "grpc.reflection.v1alpha.ServerReflection") >= 0);
	assert_int_equal(itm_reflect_file_by_symbol("itm.v1.Nope"), -1);
	assert_int_equal(itm_reflect_file_by_symbol("itm.v1.Agent.Nope"), -1);
	assert_int_equal(itm_reflect_file_by_symbol("itm.v1"), -1);
	assert_int_equal(itm_reflect_file_by_symbol("Agent"), -1);
	assert_int_equal(itm_reflect_file_by_symbol(""), -1);
	assert_int_equal(itm_reflect_file_by_name("nope.proto"), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ping_pong, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_pipelined, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_client_cancels, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handler_ends_early, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_server_free_with_streams,
						setup, teardown),
		cmocka_unit_test(test_reflect_symbols),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
