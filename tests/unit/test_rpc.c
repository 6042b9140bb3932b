/*
 * test_rpc.c - the gRPC glue (proto/itm_rpc.h) against a real server.
 *
 * The server runs the Agent service's real messages on its own thread and
 * libuv loop, listening on a unix socket in a temp dir, on 127.0.0.1 with
 * an ephemeral port, or with mutual TLS (certificates made at test time by
 * deploy/mkcerts.sh).  The test thread is the client.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/byte_buffer.h>
#include <grpc/slice.h>

#include "itm_rpc.h"
#include "itm.pb-c.h"

#define AGENT "/itm.v1.Agent/"

struct fx {
	char dir[64];
	char sock[128];
	char addr[160];	    /* what clients dial */
	const char *listen; /* "unix" or "tcp" */
	struct itm_rpc_tls tls;
	int use_tls;
	uv_thread_t thread;
	uv_sem_t ready;
	uv_loop_t loop;
	uv_async_t stop;
	struct itm_rpc_server *srv;
	int rc;
	atomic_int cancels;	      /* streams the server saw cancelled */
	atomic_int streams;	      /* streams the server has open */
	struct itm_rpc_call *stashed; /* a call left unanswered */
	int running;
};

/* ------------------------------------------------------------------ */
/* The server side: handlers on the server's loop                      */
/* ------------------------------------------------------------------ */

static void
h_status(struct itm_rpc_call *call, void *arg)
{
	Itm__V1__StatusReply r = ITM__V1__STATUS_REPLY__INIT;
	const char *id = itm_rpc_peer_identity(call);

	(void)arg;
	r.node = (char *)(id ? id : "n1");
	assert_string_equal(itm_rpc_method_path(call), AGENT "GetStatus");
	r.version = (char *)itm_rpc_peer(call);
	r.uptime_ms = 42;
	r.modules = 3;
	itm_rpc_reply(call, &r.base);
}

/* 100 faults of 300 bytes: far more than a status message holds. */
#define N_FAULTS 100

static void
fail_with_faults(struct itm_rpc_call *call)
{
	Itm__V1__TopologyFaults tf = ITM__V1__TOPOLOGY_FAULTS__INIT;
	char *lines[N_FAULTS];

	for (int i = 0; i < N_FAULTS; i++) {
		char head[32];
		int n = snprintf(head, sizeof(head), "t.yaml:%d: ", i + 1);

		lines[i] = malloc(301);
		memset(lines[i], '0', 300);
		memcpy(lines[i], head, (size_t)n);
		lines[i][300] = '\0';
	}
	tf.faults = lines;
	tf.n_faults = N_FAULTS;
	tf.more = 7;
	itm_rpc_fail_detail(call, ITM_RPC_INVALID_ARGUMENT, &tf.base,
			    "%s\n... and %d more faults", lines[0],
			    N_FAULTS + 6);
	for (int i = 0; i < N_FAULTS; i++)
		free(lines[i]);
}

static void
h_load(struct itm_rpc_call *call, void *arg)
{
	const Itm__V1__LoadModuleRequest *q =
		(const void *)itm_rpc_request(call);
	Itm__V1__LoadModuleReply r = ITM__V1__LOAD_MODULE_REPLY__INIT;

	(void)arg;
	if (!strcmp(q->name, "bad")) {
		itm_rpc_fail(call, ITM_RPC_INVALID_ARGUMENT,
			     "threshold: not a number: '%s'", "abc");
		return;
	}
	if (!strcmp(q->name, "faults")) {
		fail_with_faults(call);
		return;
	}
	r.name = q->name;
	r.n_params = q->n_params;
	r.params = q->params;
	itm_rpc_reply(call, &r.base);
}

/* Never answers: the client's deadline must fire. */
static void
h_unload(struct itm_rpc_call *call, void *arg)
{
	struct fx *fx = arg;

	fx->stashed = call;
}

/* Answers the stashed (by now cancelled) call first: must be harmless. */
static void
h_list(struct itm_rpc_call *call, void *arg)
{
	Itm__V1__UnloadModuleReply u = ITM__V1__UNLOAD_MODULE_REPLY__INIT;
	Itm__V1__ListModulesReply r = ITM__V1__LIST_MODULES_REPLY__INIT;
	struct fx *fx = arg;

	if (fx->stashed) {
		assert_int_equal(itm_rpc_reply(fx->stashed, &u.base), 0);
		fx->stashed = NULL;
	}
	itm_rpc_reply(call, &r.base);
}

static void
h_stats(struct itm_rpc_call *call, void *arg)
{
	const Itm__V1__StatsRequest *q = (const void *)itm_rpc_request(call);
	Itm__V1__StatsReply r = ITM__V1__STATS_REPLY__INIT;

	(void)arg;
	r.node = q->module; /* echo, to match replies to calls */
	itm_rpc_reply(call, &r.base);
}

struct watch {
	uv_timer_t timer;
	struct itm_rpc_call *call;
	struct fx *fx;
	int sent;
	int limit; /* 0 = until cancelled */
};

static void
watch_close_cb(uv_handle_t *h)
{
	free(h->data);
}

static void
watch_end(struct watch *w)
{
	atomic_fetch_sub(&w->fx->streams, 1);
	itm_rpc_finish(w->call);
	uv_close((uv_handle_t *)&w->timer, watch_close_cb);
}

static void
watch_cancel_cb(struct itm_rpc_call *call, void *arg)
{
	struct watch *w = arg;

	(void)call;
	atomic_fetch_add(&w->fx->cancels, 1);
	watch_end(w);
}

static void
watch_tick(uv_timer_t *t)
{
	Itm__V1__StatsReply r = ITM__V1__STATS_REPLY__INIT;
	struct watch *w = t->data;
	char node[32];

	snprintf(node, sizeof(node), "tick-%d", w->sent);
	r.node = node;
	if (itm_rpc_send(w->call, &r.base) == 0)
		w->sent++;
	if (w->limit && w->sent == w->limit) {
		itm_rpc_on_cancel(w->call, NULL, NULL);
		watch_end(w);
	}
}

static void
h_watch(struct itm_rpc_call *call, void *arg)
{
	const Itm__V1__WatchStatsRequest *q =
		(const void *)itm_rpc_request(call);
	struct watch *w = calloc(1, sizeof(*w));
	struct fx *fx = arg;

	w->call = call;
	w->fx = fx;
	w->limit = !strcmp(q->module, "three") ? 3 : 0;
	w->timer.data = w;
	atomic_fetch_add(&fx->streams, 1);
	uv_timer_init(&fx->loop, &w->timer);
	uv_timer_start(&w->timer, watch_tick, 0, q->interval_ms);
	itm_rpc_on_cancel(call, watch_cancel_cb, w);
}

static const struct itm_rpc_method methods[] = {
	{ ITM_AGENT_GET_STATUS, h_status },
	{ ITM_AGENT_LOAD_MODULE, h_load },
	{ ITM_AGENT_UNLOAD_MODULE, h_unload },
	{ ITM_AGENT_LIST_MODULES, h_list },
	{ ITM_AGENT_GET_STATS, h_stats },
	{ ITM_AGENT_WATCH_STATS, h_watch },
};

static void
stop_cb(uv_async_t *h)
{
	struct fx *fx = h->data;

	itm_rpc_server_free(fx->srv);
	fx->srv = NULL;
	uv_close((uv_handle_t *)h, NULL);
}

static int
server_open(struct fx *fx)
{
	const char *where =
		!strcmp(fx->listen, "tcp") ? "127.0.0.1:0" : fx->sock;
	int rc;

	rc = itm_rpc_server_new(&fx->srv, &fx->loop, methods,
				sizeof(methods) / sizeof(methods[0]), fx);
	if (rc)
		return rc;
	rc = itm_rpc_server_listen(fx->srv, where,
				   fx->use_tls ? &fx->tls : NULL, 0);
	if (!rc)
		rc = itm_rpc_server_start(fx->srv);
	if (!strcmp(fx->listen, "tcp"))
		snprintf(fx->addr, sizeof(fx->addr), "127.0.0.1:%d",
			 itm_rpc_server_port(fx->srv));
	else
		snprintf(fx->addr, sizeof(fx->addr), "%s", fx->sock);
	return rc;
}

static void
server_thread(void *arg)
{
	struct fx *fx = arg;

	uv_loop_init(&fx->loop);
	uv_async_init(&fx->loop, &fx->stop, stop_cb);
	fx->stop.data = fx;
	fx->rc = server_open(fx);
	uv_sem_post(&fx->ready);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&fx->loop), 0);
}

static void
server_stop(struct fx *fx)
{
	if (!fx->running)
		return;
	uv_async_send(&fx->stop);
	uv_thread_join(&fx->thread);
	fx->running = 0;
}

static struct fx *
fx_new(const char *listen)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_rpc.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->sock, sizeof(fx->sock), "unix:%s/run/agent.sock", fx->dir);
	fx->listen = listen;
	return fx;
}

static void
fx_start(struct fx *fx)
{
	uv_sem_init(&fx->ready, 0);
	assert_int_equal(uv_thread_create(&fx->thread, server_thread, fx), 0);
	uv_sem_wait(&fx->ready);
	uv_sem_destroy(&fx->ready);
	fx->running = 1;
	assert_int_equal(fx->rc, 0);
}

static int
setup_unix(void **state)
{
	struct fx *fx = fx_new("unix");

	fx_start(fx);
	*state = fx;
	return 0;
}

static int
setup_tcp(void **state)
{
	struct fx *fx = fx_new("tcp");

	fx_start(fx);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	char cmd[128];

	server_stop(fx);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(fx);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Client helpers                                                       */
/* ------------------------------------------------------------------ */

static struct itm_rpc_client *
dial(struct fx *fx, const struct itm_rpc_tls *tls)
{
	struct itm_rpc_client *c = NULL;

	assert_int_equal(itm_rpc_client_new(&c, fx->addr, tls), 0);
	return c;
}

static char last_peer[128];

/* GetStatus; returns the rc and fills @node. */
static int
get_status(struct itm_rpc_client *c, char *node, size_t len,
	   struct itm_rpc_status *st)
{
	Itm__V1__StatusRequest q = ITM__V1__STATUS_REQUEST__INIT;
	ProtobufCMessage *m = NULL;
	int rc;

	rc = itm_rpc_call(c, ITM_AGENT_GET_STATUS, &q.base, &m, 2000, st);
	if (rc == 0) {
		Itm__V1__StatusReply *r = (void *)m;

		assert_int_equal(r->uptime_ms, 42);
		assert_int_equal(r->modules, 3);
		snprintf(node, len, "%s", r->node);
		snprintf(last_peer, sizeof(last_peer), "%s", r->version);
		protobuf_c_message_free_unpacked(m, NULL);
	}
	return rc;
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------------------ */
/* Tests                                                                */
/* ------------------------------------------------------------------ */

static void
test_unary_ok(void **state)
{
	struct fx *fx = *state;
	struct itm_rpc_client *c = dial(fx, NULL);
	struct itm_rpc_status st;
	char node[64];

	assert_int_equal(get_status(c, node, sizeof(node), &st), 0);
	assert_int_equal(st.code, ITM_RPC_OK);
	assert_string_equal(node, "n1");
	if (!strcmp(fx->listen, "tcp"))
		assert_true(!strncmp(last_peer, "ipv4:127.0.0.1:", 15));
	else
		assert_true(!strncmp(last_peer, "unix:", 5));
	itm_rpc_client_free(c);
}

static void
test_unix_socket_files(void **state)
{
	struct fx *fx = *state;
	const char *path = fx->sock + 5;
	char lock[200];
	struct stat sb;

	snprintf(lock, sizeof(lock), "%s.lock", path);
	assert_int_equal(stat(path, &sb), 0);
	assert_true(S_ISSOCK(sb.st_mode));
	assert_int_equal(sb.st_mode & 0777, 0660);
	assert_int_equal(stat(lock, &sb), 0);
	server_stop(fx);
	assert_int_equal(stat(path, &sb), -1);
	assert_int_equal(stat(lock, &sb), -1);
	fx_start(fx); /* for teardown, and: restart on the same path */
	test_unary_ok(state);
}

static void
test_error_status(void **state)
{
	Itm__V1__LoadModuleRequest q = ITM__V1__LOAD_MODULE_REQUEST__INIT;
	struct fx *fx = *state;
	struct itm_rpc_client *c = dial(fx, NULL);
	struct itm_rpc_status st;
	ProtobufCMessage *m = (void *)1;

	q.name = "bad";
	assert_int_equal(itm_rpc_call(c, ITM_AGENT_LOAD_MODULE, &q.base, &m,
				      2000, &st),
			 -EIO);
	assert_null(m);
	assert_int_equal(st.code, ITM_RPC_INVALID_ARGUMENT);
	assert_string_equal(st.message, "threshold: not a number: 'abc'");
	assert_string_equal(itm_rpc_code_name(st.code), "INVALID_ARGUMENT");
	itm_rpc_client_free(c);
}

/* A status detail: every fault, beside the message; absent on others. */
static void
test_error_detail(void **state)
{
	Itm__V1__LoadModuleRequest q = ITM__V1__LOAD_MODULE_REQUEST__INIT;
	struct fx *fx = *state;
	struct itm_rpc_client *c = dial(fx, NULL);
	Itm__V1__TopologyFaults *tf;
	struct itm_rpc_status st;
	ProtobufCMessage *m, *d;

	q.name = "faults";
	assert_int_equal(
		itm_rpc_call_detail(c, ITM_AGENT_LOAD_MODULE, &q.base, &m, 5000,
				    &st, &itm__v1__topology_faults__descriptor,
				    &d),
		-EIO);
	assert_null(m);
	assert_int_equal(st.code, ITM_RPC_INVALID_ARGUMENT);
	assert_non_null(strstr(st.message, "... and 106 more faults"));
	assert_non_null(d);
	tf = (void *)d;
	assert_int_equal(tf->n_faults, N_FAULTS);
	assert_int_equal(tf->more, 7);
	assert_int_equal(strlen(tf->faults[99]), 300);
	assert_int_equal(strncmp(tf->faults[99], "t.yaml:100: 000", 15), 0);
	protobuf_c_message_free_unpacked(d, NULL);
	/* Without asking, the same failure and no detail. */
	assert_int_equal(itm_rpc_call(c, ITM_AGENT_LOAD_MODULE, &q.base, &m,
				      5000, &st),
			 -EIO);
	assert_int_equal(st.code, ITM_RPC_INVALID_ARGUMENT);
	/* A failure without one, and a success: NULL. */
	q.name = "bad";
	d = (void *)1;
	assert_int_equal(
		itm_rpc_call_detail(c, ITM_AGENT_LOAD_MODULE, &q.base, &m, 5000,
				    &st, &itm__v1__topology_faults__descriptor,
				    &d),
		-EIO);
	assert_null(d);
	q.name = "fig13";
	d = (void *)1;
	assert_int_equal(
		itm_rpc_call_detail(c, ITM_AGENT_LOAD_MODULE, &q.base, &m, 5000,
				    &st, &itm__v1__topology_faults__descriptor,
				    &d),
		0);
	assert_null(d);
	protobuf_c_message_free_unpacked(m, NULL);
	itm_rpc_client_free(c);
}

static void
test_unknown_method(void **state)
{
	Itm__V1__StatusRequest q = ITM__V1__STATUS_REQUEST__INIT;
	struct fx *fx = *state;
	struct itm_rpc_client *c = dial(fx, NULL);
	struct itm_rpc_status st;
	ProtobufCMessage *m;

	Itm__V1__NodesRequest nq = ITM__V1__NODES_REQUEST__INIT;

	/* A method of the table this server does not serve. */
	assert_int_equal(itm_rpc_call(c, ITM_CONTROLLER_NODES, &nq.base, &m,
				      2000, &st),
			 -EIO);
	assert_int_equal(st.code, ITM_RPC_UNIMPLEMENTED);
	assert_non_null(strstr(st.message, "/itm.v1.Controller/Nodes"));
	/* One no server has. */
	assert_int_equal(itm_rpc_call_path(c, AGENT "NoSuchThing", &q.base,
					   &itm__v1__status_reply__descriptor,
					   &m, 2000, &st),
			 -EIO);
	assert_int_equal(st.code, ITM_RPC_UNIMPLEMENTED);
	assert_non_null(strstr(st.message, "/itm.v1.Agent/NoSuchThing"));
	/* The typed calls refuse what the table does not allow, locally. */
	assert_int_equal(itm_rpc_call(c, ITM_AGENT_GET_STATUS, &nq.base, &m,
				      2000, &st),
			 -EINVAL);
	assert_int_equal(itm_rpc_call(c, ITM_AGENT_WATCH_STATS, &q.base, &m,
				      2000, &st),
			 -EINVAL);
	assert_int_equal(itm_rpc_call(c, ITM_METHOD_MAX, &q.base, &m, 2000,
				      &st),
			 -EINVAL);
	itm_rpc_client_free(c);
}

/* Raw bytes through plain gRPC: the glue must answer INVALID_ARGUMENT. */
static int
raw_call(const char *target, const char *method, const char *bytes, size_t len,
	 char *details, size_t dlen)
{
	grpc_channel_credentials *cr = grpc_insecure_credentials_create();
	grpc_channel *ch = grpc_channel_create(target, cr, NULL);
	grpc_completion_queue *cq =
		grpc_completion_queue_create_for_pluck(NULL);
	grpc_slice m = grpc_slice_from_static_string(method);
	grpc_slice body = grpc_slice_from_copied_buffer(bytes, len);
	grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&body, 1),
			 *recv = NULL;
	grpc_metadata_array imd, tmd;
	grpc_status_code code;
	grpc_slice det;
	grpc_op ops[6];
	grpc_call *gc;

	grpc_metadata_array_init(&imd);
	grpc_metadata_array_init(&tmd);
	gc = grpc_channel_create_call(
		ch, NULL, 0, cq, m, NULL,
		gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
			     gpr_time_from_seconds(2, GPR_TIMESPAN)),
		NULL);
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = bb;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &imd;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &recv;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.trailing_metadata = &tmd;
	ops[5].data.recv_status_on_client.status = &code;
	ops[5].data.recv_status_on_client.status_details = &det;
	assert_int_equal(grpc_call_start_batch(gc, ops, 6, ops, NULL),
			 GRPC_CALL_OK);
	grpc_completion_queue_pluck(cq, ops, gpr_inf_future(GPR_CLOCK_REALTIME),
				    NULL);
	snprintf(details, dlen, "%.*s", (int)GRPC_SLICE_LENGTH(det),
		 (const char *)GRPC_SLICE_START_PTR(det));
	if (code != GRPC_STATUS_OK)
		assert_null(recv);
	if (recv)
		grpc_byte_buffer_destroy(recv);
	grpc_slice_unref(det);
	grpc_slice_unref(body);
	grpc_byte_buffer_destroy(bb);
	grpc_metadata_array_destroy(&imd);
	grpc_metadata_array_destroy(&tmd);
	grpc_call_unref(gc);
	grpc_completion_queue_shutdown(cq);
	grpc_completion_queue_destroy(cq);
	grpc_channel_destroy(ch);
	grpc_channel_credentials_release(cr);
	return code;
}

static void
test_garbage_request(void **state)
{
	struct fx *fx = *state;
	char det[256];

	grpc_init();
	/* Field 1 with wire type 7, which does not exist. */
	assert_int_equal(raw_call(fx->addr, AGENT "GetStatus", "\x0f\xff\xff",
				  3, det, sizeof(det)),
			 GRPC_STATUS_INVALID_ARGUMENT);
	assert_non_null(strstr(det, "does not decode as itm.v1.StatusRequest"));
	/* A length running past the end of the message. */
	assert_int_equal(raw_call(fx->addr, AGENT "LoadModule", "\x0a\x40xy", 4,
				  det, sizeof(det)),
			 GRPC_STATUS_INVALID_ARGUMENT);
	/* The server is fine afterwards. */
	assert_int_equal(raw_call(fx->addr, AGENT "GetStatus", "", 0, det,
				  sizeof(det)),
			 GRPC_STATUS_OK);
	grpc_shutdown();
}

static void
test_deadline(void **state)
{
	Itm__V1__UnloadModuleRequest q = ITM__V1__UNLOAD_MODULE_REQUEST__INIT;
	Itm__V1__ListModulesRequest lq = ITM__V1__LIST_MODULES_REQUEST__INIT;
	struct fx *fx = *state;
	struct itm_rpc_client *c = dial(fx, NULL);
	struct itm_rpc_status st;
	ProtobufCMessage *m;
	double t0 = now_ms(), dt;

	q.name = "qosmod";
	assert_int_equal(itm_rpc_call(c, ITM_AGENT_UNLOAD_MODULE, &q.base, &m,
				      200, &st),
			 -EIO);
	dt = now_ms() - t0;
	assert_int_equal(st.code, ITM_RPC_DEADLINE_EXCEEDED);
	assert_true(dt >= 190 && dt < 1500);
	/* The handler answers the expired call now; then serves as usual. */
	assert_int_equal(itm_rpc_call(c, ITM_AGENT_LIST_MODULES, &lq.base, &m,
				      2000, &st),
			 0);
	protobuf_c_message_free_unpacked(m, NULL);
	itm_rpc_client_free(c);
}

/* 16 MiB are allowed: 8 MiB of parameters (32768 of 255 bytes, each
 * under the cap of its kind) go there and back. */
#define BIG_N 32768

static void
test_large_message(void **state)
{
	Itm__V1__LoadModuleRequest q = ITM__V1__LOAD_MODULE_REQUEST__INIT;
	struct fx *fx = *state;
	struct itm_rpc_client *c = dial(fx, NULL);
	char **params = malloc(BIG_N * sizeof(*params)), big[256];
	struct itm_rpc_status st;
	Itm__V1__LoadModuleReply *r;
	ProtobufCMessage *m;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (int i = 0; i < BIG_N; i++)
		params[i] = big;
	q.name = "qosmod";
	q.n_params = BIG_N;
	q.params = params;
	assert_int_equal(itm_rpc_call(c, ITM_AGENT_LOAD_MODULE, &q.base, &m,
				      10000, &st),
			 0);
	r = (void *)m;
	assert_int_equal(r->n_params, BIG_N);
	assert_int_equal(strlen(r->params[BIG_N - 1]), 255);
	protobuf_c_message_free_unpacked(m, NULL);
	free(params);
	itm_rpc_client_free(c);
}

/* Send @m with one more value of field @field, the raw bytes @raw (@n < 127):
 * protobuf-c packs unknown fields verbatim, so NULs and invalid UTF-8 reach the wire
 * as a stock client can send them. */
static int
call_raw(struct itm_rpc_client *c, enum itm_method id, ProtobufCMessage *m,
	 unsigned int field, const char *raw, size_t n,
	 struct itm_rpc_status *st)
{
	uint8_t buf[128]; /* the length (one byte), then the bytes */
	ProtobufCMessageUnknownField uf = {
		.tag = field,
		.wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED,
		.len = n + 1,
		.data = buf,
	};
	ProtobufCMessage *rep = NULL;
	int rc;

	assert_true(n < sizeof(buf) - 1);
	buf[0] = (uint8_t)n;
	memcpy(buf + 1, raw, n);

	m->n_unknown_fields = 1;
	m->unknown_fields = &uf;
	rc = itm_rpc_call(c, id, m, &rep, 5000, st);
	m->n_unknown_fields = 0;
	m->unknown_fields = NULL;
	if (rep)
		protobuf_c_message_free_unpacked(rep, NULL);
	return rc;
}

static int
no_msg_cb(void *arg, const ProtobufCMessage *msg)
{
	(void)arg, (void)msg;
	fail_msg("a message on a refused stream");
	return 1;
}

/* Every string field is checked on the wire before any handler runs, with
 * one message per fault whatever the RPC (issue 8, items 1 and 3). */
static void
test_fields_checked(void **state)
{
	static const struct {
		const char *raw;
		size_t n;
		const char *msg;
	} cases[] = {
		{ "threshold=7\0garbage", 19,
		  "params[1]: contains a NUL byte" },
		{ "a=\xff", 3, "params[1]: not valid UTF-8 at byte 2" },
		{ "a=\xc0\xaf", 4, "params[1]: not valid UTF-8 at byte 2" },
		{ "a=1\nforged", 11,
		  "params[1]: control character U+000A at byte 3" },
		{ "a=\xe2\x80\xae", 5,
		  "params[1]: bidirectional formatting character U+202E at "
		  "byte 2" },
	};
	Itm__V1__LoadModuleRequest q = ITM__V1__LOAD_MODULE_REQUEST__INIT;
	Itm__V1__StatsRequest sq = ITM__V1__STATS_REQUEST__INIT;
	Itm__V1__WatchStatsRequest wq = ITM__V1__WATCH_STATS_REQUEST__INIT;
	struct itm_rpc_client *c = dial(*state, NULL);
	char *one[] = { "x=1" }, *huge = malloc(10 << 20);
	struct itm_rpc_status st;
	ProtobufCMessage *rep = NULL;

	q.name = "qosmod";
	q.n_params = 1;
	q.params = one;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(call_raw(c, ITM_AGENT_LOAD_MODULE, &q.base, 2,
					  cases[i].raw, cases[i].n, &st),
				 -EIO);
		assert_int_equal(st.code, ITM_RPC_INVALID_ARGUMENT);
		assert_string_equal(st.message, cases[i].msg);
	}
	/* a 10 MB module name: the same answer from GetStats and WatchStats */
	memset(huge, 'm', (10 << 20) - 1);
	huge[(10 << 20) - 1] = '\0';
	sq.module = wq.module = huge;
	assert_int_equal(itm_rpc_call(c, ITM_AGENT_GET_STATS, &sq.base, &rep,
				      5000, &st),
			 -EIO);
	assert_int_equal(st.code, ITM_RPC_INVALID_ARGUMENT);
	assert_string_equal(st.message, "module: longer than 31 bytes");
	assert_int_equal(itm_rpc_stream(c, ITM_AGENT_WATCH_STATS, &wq.base,
					no_msg_cb, NULL, 5000, &st),
			 -EIO);
	assert_int_equal(st.code, ITM_RPC_INVALID_ARGUMENT);
	assert_string_equal(st.message, "module: longer than 31 bytes");
	free(huge);
	itm_rpc_client_free(c);
}

struct fan {
	int done;
	int ok;
	int mismatched;
};

struct fan_call {
	struct fan *fan;
	char module[16];
};

static void
fan_done(void *arg, const struct itm_rpc_status *st,
	 const ProtobufCMessage *reply)
{
	struct fan_call *fc = arg;
	const Itm__V1__StatsReply *r = (const void *)reply;

	fc->fan->done++;
	if (st->code == ITM_RPC_OK && r && !strcmp(r->node, fc->module))
		fc->fan->ok++;
	else
		fc->fan->mismatched++;
	free(fc);
}

static void
test_async_fanout(void **state)
{
	Itm__V1__StatsRequest q = ITM__V1__STATS_REQUEST__INIT;
	struct fx *fx = *state;
	struct itm_rpc_client *c[2] = { dial(fx, NULL), dial(fx, NULL) };
	struct fan fan = { 0, 0, 0 };
	uv_loop_t loop;

	uv_loop_init(&loop);
	for (int i = 0; i < 50; i++) {
		struct fan_call *fc = calloc(1, sizeof(*fc));

		fc->fan = &fan;
		snprintf(fc->module, sizeof(fc->module), "m%d", i);
		q.module = fc->module;
		assert_int_equal(itm_rpc_call_async(c[i % 2], &loop,
						    ITM_AGENT_GET_STATS,
						    &q.base, 5000, fan_done,
						    fc),
				 0);
	}
	assert_int_equal(fan.done, 0); /* never called synchronously */
	/* Only pending calls keep the loop alive: it ends when all are in. */
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(fan.done, 50);
	assert_int_equal(fan.ok, 50);
	itm_rpc_client_free(c[0]);
	itm_rpc_client_free(c[1]);
	uv_run(&loop, UV_RUN_NOWAIT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void
cancel_done(void *arg, const struct itm_rpc_status *st,
	    const ProtobufCMessage *reply)
{
	int *code = arg;

	assert_null(reply);
	*code = st->code;
}

/* Freeing a client with a call in flight runs the callback, cancelled. */
static void
test_async_free_inflight(void **state)
{
	Itm__V1__UnloadModuleRequest q = ITM__V1__UNLOAD_MODULE_REQUEST__INIT;
	struct fx *fx = *state;
	struct itm_rpc_client *c = dial(fx, NULL);
	int code = -1;
	uv_loop_t loop;

	uv_loop_init(&loop);
	q.name = "x";
	assert_int_equal(itm_rpc_call_async(c, &loop, ITM_AGENT_UNLOAD_MODULE,
					    &q.base, 0, cancel_done, &code),
			 0);
	uv_run(&loop, UV_RUN_NOWAIT);
	itm_rpc_client_free(c);
	assert_int_equal(code, ITM_RPC_CANCELLED);
	uv_run(&loop, UV_RUN_NOWAIT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

struct counter {
	int n;
	int stop_at;
	char last[32];
};

static int
on_tick(void *arg, const ProtobufCMessage *msg)
{
	const Itm__V1__StatsReply *r = (const void *)msg;
	struct counter *k = arg;

	snprintf(k->last, sizeof(k->last), "%s", r->node);
	return ++k->n == k->stop_at;
}

static void
wait_for(atomic_int *v, int want)
{
	for (int i = 0; i < 200 && atomic_load(v) != want; i++)
		usleep(10000);
	assert_int_equal(atomic_load(v), want);
}

static void
test_stream_cancel(void **state)
{
	Itm__V1__WatchStatsRequest q = ITM__V1__WATCH_STATS_REQUEST__INIT;
	struct fx *fx = *state;
	struct itm_rpc_client *c = dial(fx, NULL);
	struct counter k = { 0, 3, "" };
	struct itm_rpc_status st;

	q.interval_ms = 20;
	assert_int_equal(itm_rpc_stream(c, ITM_AGENT_WATCH_STATS, &q.base,
					on_tick, &k, 5000, &st),
			 0);
	assert_int_equal(k.n, 3);
	assert_string_equal(k.last, "tick-2");
	/* The server noticed and its on_cancel callback ended the stream. */
	wait_for(&fx->cancels, 1);
	wait_for(&fx->streams, 0);
	itm_rpc_client_free(c);
}

static void
test_stream_end_and_deadline(void **state)
{
	Itm__V1__WatchStatsRequest q = ITM__V1__WATCH_STATS_REQUEST__INIT;
	struct fx *fx = *state;
	struct itm_rpc_client *c = dial(fx, NULL);
	struct counter k = { 0, 0, "" };
	struct itm_rpc_status st;

	q.module = "three"; /* the server ends after 3 */
	q.interval_ms = 10;
	assert_int_equal(itm_rpc_stream(c, ITM_AGENT_WATCH_STATS, &q.base,
					on_tick, &k, 5000, &st),
			 0);
	assert_int_equal(k.n, 3);
	assert_int_equal(st.code, ITM_RPC_OK);
	/* An endless stream ends at the deadline; the server is told. */
	q.module = "";
	q.interval_ms = 50;
	k.n = 0;
	assert_int_equal(itm_rpc_stream(c, ITM_AGENT_WATCH_STATS, &q.base,
					on_tick, &k, 300, &st),
			 -EIO);
	assert_int_equal(st.code, ITM_RPC_DEADLINE_EXCEEDED);
	assert_true(k.n >= 2);
	wait_for(&fx->cancels, 1);
	itm_rpc_client_free(c);
}

struct bg_stream {
	struct fx *fx;
	int rc;
	int code;
	char message[ITM_RPC_MSG_MAX];
};

static void
bg_stream_thread(void *arg)
{
	Itm__V1__WatchStatsRequest q = ITM__V1__WATCH_STATS_REQUEST__INIT;
	struct bg_stream *b = arg;
	struct itm_rpc_client *c = dial(b->fx, NULL);
	struct counter k = { 0, 0, "" };
	struct itm_rpc_status st;

	q.interval_ms = 10;
	b->rc = itm_rpc_stream(c, ITM_AGENT_WATCH_STATS, &q.base, on_tick, &k,
			       10000, &st);
	b->code = st.code;
	snprintf(b->message, sizeof(b->message), "%s", st.message);
	itm_rpc_client_free(c);
}

/* Freeing the server with a stream open ends it cleanly on both sides. */
static void
test_server_free_with_stream(void **state)
{
	struct fx *fx = *state;
	struct bg_stream b = { fx, 0, 0, "" };
	uv_thread_t t;

	uv_thread_create(&t, bg_stream_thread, &b);
	wait_for(&fx->streams, 1);
	server_stop(fx);
	uv_thread_join(&t);
	assert_int_equal(b.rc, -EIO);
	assert_int_equal(b.code, ITM_RPC_UNAVAILABLE);
	/* The server's own status, or, when the shutdown wins the race with
	 * sending it, the transport's word for the closed connection. */
	if (strcmp(b.message, "server shutting down") != 0 &&
	    strcmp(b.message, "Broken pipe") != 0)
		fail_msg("stream ended with \"%s\"", b.message);
	assert_int_equal(atomic_load(&fx->streams), 0);
	fx_start(fx);
}

static void
test_second_server(void **state)
{
	struct fx *fx = *state;
	struct itm_rpc_server *s2;
	struct itm_rpc_client *c;
	char node[64];
	uv_loop_t loop;

	uv_loop_init(&loop);
	assert_int_equal(itm_rpc_server_new(&s2, &loop, methods, 1, NULL), 0);
	assert_int_equal(itm_rpc_server_listen(s2, fx->sock, NULL, 0),
			 -EADDRINUSE);
	itm_rpc_server_free(s2);
	uv_run(&loop, UV_RUN_NOWAIT);
	assert_int_equal(uv_loop_close(&loop), 0);
	/* The first one still has its socket and serves. */
	c = dial(fx, NULL);
	assert_int_equal(get_status(c, node, sizeof(node), NULL), 0);
	itm_rpc_client_free(c);
}

static void
test_second_server_tcp(void **state)
{
	struct fx *fx = *state;
	struct itm_rpc_server *s2;
	struct itm_rpc_client *c;
	char node[64];
	uv_loop_t loop;

	uv_loop_init(&loop);
	assert_int_equal(itm_rpc_server_new(&s2, &loop, methods, 1, NULL), 0);
	assert_int_equal(itm_rpc_server_listen(s2, fx->addr, NULL, 0),
			 -EADDRINUSE);
	assert_int_equal(itm_rpc_server_listen(s2, "127.0.0.1:x", NULL, 0),
			 -EINVAL);
	itm_rpc_server_free(s2);
	uv_run(&loop, UV_RUN_NOWAIT);
	assert_int_equal(uv_loop_close(&loop), 0);
	c = dial(fx, NULL);
	assert_int_equal(get_status(c, node, sizeof(node), NULL), 0);
	itm_rpc_client_free(c);
}

static void
test_unreachable(void **state)
{
	struct fx *fx = *state;
	struct itm_rpc_client *c;
	struct itm_rpc_status st;
	char addr[200], node[64];

	snprintf(addr, sizeof(addr), "unix:%s/nobody.sock", fx->dir);
	assert_int_equal(itm_rpc_client_new(&c, addr, NULL), 0);
	assert_int_equal(get_status(c, node, sizeof(node), &st), -EIO);
	assert_int_equal(st.code, ITM_RPC_UNAVAILABLE);
	itm_rpc_client_free(c);
}

/* ------------------------------------------------------------------ */
/* Mutual TLS                                                           */
/* ------------------------------------------------------------------ */

static char *
path_in(const char *dir, const char *sub, const char *name)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s/%s", dir, sub, name) > 0);
	return p;
}

static int
setup_tls(void **state)
{
	struct fx *fx = fx_new("tcp");
	char cmd[512];

	snprintf(cmd, sizeof(cmd),
		 "%s %s/pki agent1 ctl >/dev/null && "
		 "%s %s/other rogue >/dev/null",
		 ITM_MKCERTS, fx->dir, ITM_MKCERTS, fx->dir);
	assert_int_equal(system(cmd), 0);
	fx->use_tls = 1;
	fx->tls.ca_file = path_in(fx->dir, "pki", "ca.pem");
	fx->tls.cert_file = path_in(fx->dir, "pki", "agent1.pem");
	fx->tls.key_file = path_in(fx->dir, "pki", "agent1.key");
	fx_start(fx);
	*state = fx;
	return 0;
}

static int
teardown_tls(void **state)
{
	struct fx *fx = *state;

	free((char *)fx->tls.ca_file);
	free((char *)fx->tls.cert_file);
	free((char *)fx->tls.key_file);
	return teardown(state);
}

static int
tls_status(struct fx *fx, const char *sub, const char *who, char *node,
	   struct itm_rpc_status *st)
{
	struct itm_rpc_tls t = { 0 };
	struct itm_rpc_client *c;
	int rc;

	t.ca_file = fx->tls.ca_file;
	t.server_name = "agent1";
	if (who) {
		char f[64];

		snprintf(f, sizeof(f), "%s.pem", who);
		t.cert_file = path_in(fx->dir, sub, f);
		snprintf(f, sizeof(f), "%s.key", who);
		t.key_file = path_in(fx->dir, sub, f);
	}
	c = dial(fx, &t);
	rc = get_status(c, node, 64, st);
	itm_rpc_client_free(c);
	free((char *)t.cert_file);
	free((char *)t.key_file);
	return rc;
}

static void
test_mtls(void **state)
{
	struct fx *fx = *state;
	struct itm_rpc_status st;
	char node[64];

	/* Right CA: accepted, and the handler sees the client's CN. */
	assert_int_equal(tls_status(fx, "pki", "ctl", node, &st), 0);
	assert_string_equal(node, "ctl");
	/* A certificate from another CA, or none: refused. */
	assert_int_equal(tls_status(fx, "other", "rogue", node, &st), -EIO);
	assert_int_equal(st.code, ITM_RPC_UNAVAILABLE);
	assert_int_equal(tls_status(fx, NULL, NULL, node, &st), -EIO);
	assert_int_equal(st.code, ITM_RPC_UNAVAILABLE);
	/* Plaintext to a TLS port: refused too. */
	{
		struct itm_rpc_client *c = dial(fx, NULL);

		assert_int_equal(get_status(c, node, 64, &st), -EIO);
		itm_rpc_client_free(c);
	}
}

static void
test_tls_bad_files(void **state)
{
	struct itm_rpc_tls t = { "/nonexistent/ca.pem", NULL, NULL, NULL };
	struct itm_rpc_client *c;

	(void)state;
	assert_int_equal(itm_rpc_client_new(&c, "127.0.0.1:1", &t), -ENOENT);
	t.ca_file = NULL;
	t.cert_file = "/etc/hostname"; /* cert without key */
	assert_int_equal(itm_rpc_client_new(&c, "127.0.0.1:1", &t), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unary_ok, setup_unix,
						teardown),
		cmocka_unit_test_setup_teardown(test_unary_ok, setup_tcp,
						teardown),
		cmocka_unit_test_setup_teardown(test_unix_socket_files,
						setup_unix, teardown),
		cmocka_unit_test_setup_teardown(test_error_status, setup_unix,
						teardown),
		cmocka_unit_test_setup_teardown(test_error_detail, setup_unix,
						teardown),
		cmocka_unit_test_setup_teardown(test_error_detail, setup_tcp,
						teardown),
		cmocka_unit_test_setup_teardown(test_unknown_method, setup_unix,
						teardown),
		cmocka_unit_test_setup_teardown(test_garbage_request,
						setup_unix, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_request, setup_tcp,
						teardown),
		cmocka_unit_test_setup_teardown(test_deadline, setup_unix,
						teardown),
		cmocka_unit_test_setup_teardown(test_fields_checked, setup_tcp,
						teardown),
		cmocka_unit_test_setup_teardown(test_large_message, setup_tcp,
						teardown),
		cmocka_unit_test_setup_teardown(test_async_fanout, setup_unix,
						teardown),
		cmocka_unit_test_setup_teardown(test_async_fanout, setup_tcp,
						teardown),
		cmocka_unit_test_setup_teardown(test_async_free_inflight,
						setup_unix, teardown),
		cmocka_unit_test_setup_teardown(test_stream_cancel, setup_unix,
						teardown),
		cmocka_unit_test_setup_teardown(test_stream_end_and_deadline,
						setup_tcp, teardown),
		cmocka_unit_test_setup_teardown(test_server_free_with_stream,
						setup_unix, teardown),
		cmocka_unit_test_setup_teardown(test_second_server, setup_unix,
						teardown),
		cmocka_unit_test_setup_teardown(test_second_server_tcp,
						setup_tcp, teardown),
		cmocka_unit_test_setup_teardown(test_unreachable, setup_unix,
						teardown),
		cmocka_unit_test_setup_teardown(test_mtls, setup_tls,
						teardown_tls),
		cmocka_unit_test(test_tls_bad_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
