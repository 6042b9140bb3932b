/*
 * rpc_client.c - gRPC client side of the glue (see itm_rpc.h).
 *
 * Blocking calls (unary and server streaming) use one pluck completion
 * queue per client, driven by the calling thread.  Asynchronous calls use
 * a second completion queue per client, run by a thread started with the
 * first such call; it decodes each reply off the loop and hands it to the
 * caller's loop through a per-loop uv_async_t ("hook"), one per loop
 * shared by every client (rpc_client_int.h says why).  A client may
 * serve several loops; itm_rpc_call_async() must be called on @loop's
 * thread (uv_async_init() is not thread-safe).
 *
 * itm_rpc_client_free() cancels asynchronous calls in flight and runs
 * their done callbacks (status CANCELLED) before it returns, so callers
 * can free what they passed as arg; call it on the loop thread when
 * asynchronous calls are pending.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/slice.h>

#include "rpc_client_int.h"

/* Reconnect backoff towards a unix socket, first and longest (ms). */
#define ITM_RPC_LOCAL_BACKOFF_MS 250

/* Everything one unary call sends and receives. */
struct unary {
	grpc_metadata_array init_md, trail_md;
	grpc_byte_buffer *send, *recv;
	grpc_status_code status;
	grpc_slice details;
};

struct acall {
	struct itm__rpc_tag tag; /* first: the tag is the call */
	struct itm__rpc_delivery delivery;
	struct acall *f_prev, *f_next; /* in flight */
	struct itm__rpc_hook *hook;
	grpc_call *gc;
	struct unary u;
	const ProtobufCMessageDescriptor *reply_desc;
	ProtobufCMessage *reply;
	struct itm_rpc_status st;
	itm_rpc_done_cb done;
	void *arg;
};

/* ------------------------------------------------------------------ */
/* Unary call plumbing shared by the blocking and the async flavour    */
/* ------------------------------------------------------------------ */

grpc_call *
itm__rpc_call_create(struct itm_rpc_client *c, grpc_completion_queue *cq,
		     const char *method, int timeout_ms)
{
	grpc_slice m = grpc_slice_from_copied_string(method);
	grpc_call *gc;

	gc = grpc_channel_create_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
				      m, NULL, itm__rpc_deadline(timeout_ms),
				      NULL);
	grpc_slice_unref(m);
	return gc;
}

/* @m's definition when it is of @kind and @req is its request type. */
static const struct itm_method_def *
method_check(enum itm_method m, enum itm_method_kind kind,
	     const ProtobufCMessage *req)
{
	const struct itm_method_def *def = itm_method_def(m);

	if (!def || def->kind != kind || !req ||
	    req->descriptor != def->request)
		return NULL;
	return def;
}

static size_t
unary_ops(struct unary *u, const ProtobufCMessage *req, grpc_op *ops)
{
	memset(u, 0, sizeof(*u));
	grpc_metadata_array_init(&u->init_md);
	grpc_metadata_array_init(&u->trail_md);
	u->details = grpc_empty_slice();
	u->send = itm__rpc_pack(req);
	memset(ops, 0, 6 * sizeof(*ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = u->send;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &u->init_md;
	ops[4].op = GRPC_OP_RECV_MESSAGE;
	ops[4].data.recv_message.recv_message = &u->recv;
	ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[5].data.recv_status_on_client.trailing_metadata = &u->trail_md;
	ops[5].data.recv_status_on_client.status = &u->status;
	ops[5].data.recv_status_on_client.status_details = &u->details;
	return 6;
}

static void
unary_destroy(struct unary *u)
{
	grpc_metadata_array_destroy(&u->init_md);
	grpc_metadata_array_destroy(&u->trail_md);
	if (u->send)
		grpc_byte_buffer_destroy(u->send);
	if (u->recv)
		grpc_byte_buffer_destroy(u->recv);
	grpc_slice_unref(u->details);
}

void
itm__rpc_status_from(struct itm_rpc_status *st, grpc_status_code code,
		     grpc_slice details)
{
	itm__rpc_status_set(st, code,
			    (const char *)GRPC_SLICE_START_PTR(details),
			    GRPC_SLICE_LENGTH(details));
}

/* The detail a failing server attached (ITM_RPC_DETAIL_KEY), or NULL. */
static ProtobufCMessage *
detail_unpack(const grpc_metadata_array *md,
	      const ProtobufCMessageDescriptor *desc)
{
	for (size_t i = 0; desc && i < md->count; i++) {
		const grpc_metadata *m = &md->metadata[i];

		if (grpc_slice_str_cmp(m->key, ITM_RPC_DETAIL_KEY) == 0)
			return protobuf_c_message_unpack(desc, NULL,
							 GRPC_SLICE_LENGTH(
								 m->value),
							 GRPC_SLICE_START_PTR(
								 m->value));
	}
	return NULL;
}

/* Status and decoded reply of a finished unary call; frees @u. */
static int
unary_finish(struct unary *u, const ProtobufCMessageDescriptor *desc,
	     ProtobufCMessage **reply, struct itm_rpc_status *st)
{
	int rc = -EIO;

	*reply = NULL;
	itm__rpc_status_from(st, u->status, u->details);
	if (u->status == GRPC_STATUS_OK) {
		*reply = itm__rpc_unpack(u->recv, desc);
		if (*reply)
			rc = 0;
		else
			itm__rpc_status_set(st, ITM_RPC_INTERNAL,
					    "reply does not decode", 21);
	}
	unary_destroy(u);
	return rc;
}

static void
status_local(struct itm_rpc_status *st, int code, const char *msg)
{
	itm__rpc_status_set(st, code, msg, strlen(msg));
}

/* A blocking unary call; with @detail_desc, *@detail as the server's
 * detail of a failure. */
static int
call_blocking(struct itm_rpc_client *c, const char *path,
	      const ProtobufCMessage *req,
	      const ProtobufCMessageDescriptor *reply_desc,
	      ProtobufCMessage **reply, int timeout_ms,
	      struct itm_rpc_status *st,
	      const ProtobufCMessageDescriptor *detail_desc,
	      ProtobufCMessage **detail)
{
	struct unary u;
	grpc_op ops[6];
	grpc_call *gc;
	size_t n;

	if (!c || !path || !req || !reply_desc || !reply)
		return -EINVAL;
	*reply = NULL;
	gc = itm__rpc_call_create(c, c->pluck, path, timeout_ms);
	n = unary_ops(&u, req, ops);
	if (grpc_call_start_batch(gc, ops, n, &u, NULL) != GRPC_CALL_OK) {
		grpc_call_unref(gc);
		unary_destroy(&u);
		status_local(st, ITM_RPC_INTERNAL, "cannot start call");
		return -EIO;
	}
	grpc_completion_queue_pluck(c->pluck, &u,
				    gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	/* The metadata lives as long as the call. */
	if (detail)
		*detail = u.status == GRPC_STATUS_OK
				  ? NULL
				  : detail_unpack(&u.trail_md, detail_desc);
	grpc_call_unref(gc);
	return unary_finish(&u, reply_desc, reply, st);
}

int
itm_rpc_call_path(struct itm_rpc_client *c, const char *path,
		  const ProtobufCMessage *req,
		  const ProtobufCMessageDescriptor *reply_desc,
		  ProtobufCMessage **reply, int timeout_ms,
		  struct itm_rpc_status *st)
{
	return call_blocking(c, path, req, reply_desc, reply, timeout_ms, st,
			     NULL, NULL);
}

int
itm_rpc_call(struct itm_rpc_client *c, enum itm_method m,
	     const ProtobufCMessage *req, ProtobufCMessage **reply,
	     int timeout_ms, struct itm_rpc_status *st)
{
	return itm_rpc_call_detail(c, m, req, reply, timeout_ms, st, NULL,
				   NULL);
}

int
itm_rpc_call_detail(struct itm_rpc_client *c, enum itm_method m,
		    const ProtobufCMessage *req, ProtobufCMessage **reply,
		    int timeout_ms, struct itm_rpc_status *st,
		    const ProtobufCMessageDescriptor *detail_desc,
		    ProtobufCMessage **detail)
{
	const struct itm_method_def *def =
		method_check(m, ITM_METHOD_UNARY, req);

	if (detail)
		*detail = NULL;
	if (!def)
		return -EINVAL;
	return call_blocking(c, def->path, req, def->reply, reply, timeout_ms,
			     st, detail_desc, detail);
}

/* ------------------------------------------------------------------ */
/* Asynchronous unary calls                                             */
/* ------------------------------------------------------------------ */

static void
acall_deliver(struct itm__rpc_delivery *d)
{
	struct acall *a =
		(struct acall *)((char *)d - offsetof(struct acall, delivery));

	a->done(a->arg, &a->st, a->reply);
	if (a->reply)
		protobuf_c_message_free_unpacked(a->reply, NULL);
	free(a);
}

static struct itm__rpc_delivery *
hook_take(struct itm__rpc_hook *h)
{
	struct itm__rpc_delivery *a;

	uv_mutex_lock(&h->lock);
	a = h->head;
	h->head = NULL;
	h->tail = &h->head;
	uv_mutex_unlock(&h->lock);
	return a;
}

/* The hook keeps its loop alive only while it has calls pending. */
static void
hook_deliver_all(struct itm__rpc_hook *h)
{
	struct itm__rpc_delivery *d, *next;

	for (d = hook_take(h); d; d = next) {
		next = d->next;
		if (d->ends && --h->pending == 0)
			uv_unref((uv_handle_t *)&h->async);
		d->deliver(d);
	}
}

void
itm__rpc_hook_hold(struct itm__rpc_hook *h)
{
	if (h->pending++ == 0)
		uv_ref((uv_handle_t *)&h->async);
}

void
itm__rpc_hook_push(struct itm__rpc_hook *h, struct itm__rpc_delivery *d)
{
	d->next = NULL;
	uv_mutex_lock(&h->lock);
	*h->tail = d;
	h->tail = &d->next;
	uv_mutex_unlock(&h->lock);
}

static void
hook_async_cb(uv_async_t *handle)
{
	hook_deliver_all(handle->data);
}

static void
hook_close_cb(uv_handle_t *handle)
{
	struct itm__rpc_hook *h = handle->data;

	uv_mutex_destroy(&h->lock);
	free(h);
}

/* Every loop's hook, shared by the clients. */
static uv_once_t hooks_once = UV_ONCE_INIT;
static uv_mutex_t hooks_lock;
static struct itm__rpc_hook *hooks;

static void
hooks_init(void)
{
	uv_mutex_init(&hooks_lock);
}

/* @loop's hook, made on first use (hooks_lock held, loop thread). */
static struct itm__rpc_hook *
hook_find_or_make(uv_loop_t *loop)
{
	struct itm__rpc_hook *h;

	for (h = hooks; h; h = h->next)
		if (h->loop == loop)
			return h;
	h = calloc(1, sizeof(*h));
	if (!h || uv_mutex_init(&h->lock)) {
		free(h);
		return NULL;
	}
	if (uv_async_init(loop, &h->async, hook_async_cb)) {
		uv_mutex_destroy(&h->lock);
		free(h);
		return NULL;
	}
	uv_unref((uv_handle_t *)&h->async);
	h->async.data = h;
	h->loop = loop;
	h->tail = &h->head;
	h->next = hooks;
	hooks = h;
	return h;
}

/* The hook for @loop, counting @c as its user (c->lock held, loop
 * thread). */
static struct itm__rpc_hook *
hook_get(struct itm_rpc_client *c, uv_loop_t *loop)
{
	struct itm__rpc_hook_ref *r;
	struct itm__rpc_hook *h;

	for (r = c->hooks; r; r = r->next)
		if (r->h->loop == loop)
			return r->h;
	if (!(r = calloc(1, sizeof(*r))))
		return NULL;
	uv_once(&hooks_once, hooks_init);
	uv_mutex_lock(&hooks_lock);
	if ((h = hook_find_or_make(loop)))
		h->users++;
	uv_mutex_unlock(&hooks_lock);
	if (!h) {
		free(r);
		return NULL;
	}
	r->h = h;
	r->next = c->hooks;
	c->hooks = r;
	return h;
}

/* A client is done with @h: what it holds is delivered (and whatever
 * else is queued: on the loop thread, early is fine); its last user
 * closes it. */
static void
hook_put(struct itm__rpc_hook *h)
{
	struct itm__rpc_hook **p;
	int last;

	hook_deliver_all(h);
	uv_mutex_lock(&hooks_lock);
	last = --h->users == 0;
	for (p = &hooks; last && *p; p = &(*p)->next)
		if (*p == h) {
			*p = h->next;
			break;
		}
	uv_mutex_unlock(&hooks_lock);
	if (last)
		uv_close((uv_handle_t *)&h->async, hook_close_cb);
}

static void
inflight_del(struct itm_rpc_client *c, struct acall *a)
{
	if (a->f_prev)
		a->f_prev->f_next = a->f_next;
	else
		c->inflight = a->f_next;
	if (a->f_next)
		a->f_next->f_prev = a->f_prev;
}

static void
acall_complete(struct itm_rpc_client *c, struct itm__rpc_tag *t, int ok)
{
	struct acall *a = (struct acall *)t;
	struct itm__rpc_hook *h = a->hook;

	(void)ok;
	unary_finish(&a->u, a->reply_desc, &a->reply, &a->st);
	grpc_call_unref(a->gc);
	a->gc = NULL;
	uv_mutex_lock(&c->lock);
	inflight_del(c, a);
	itm__rpc_hook_push(h, &a->delivery);
	uv_mutex_unlock(&c->lock);
	uv_async_send(&h->async);
}

static void
client_cq_thread(void *arg)
{
	struct itm_rpc_client *c = arg;
	grpc_event ev;

	for (;;) {
		ev = grpc_completion_queue_next(c->cq,
						gpr_inf_future(
							GPR_CLOCK_REALTIME),
						NULL);
		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			break;
		if (ev.type == GRPC_OP_COMPLETE) {
			struct itm__rpc_tag *t = ev.tag;

			t->complete(c, t, ev.success);
		}
	}
}

/* c->lock held. */
static int
async_start_thread(struct itm_rpc_client *c)
{
	if (c->thread_started)
		return 0;
	c->cq = grpc_completion_queue_create_for_next(NULL);
	if (uv_thread_create(&c->thread, client_cq_thread, c)) {
		grpc_completion_queue_shutdown(c->cq);
		grpc_completion_queue_destroy(c->cq);
		c->cq = NULL;
		return -EAGAIN;
	}
	c->thread_started = 1;
	return 0;
}

int
itm__rpc_async_prepare(struct itm_rpc_client *c, uv_loop_t *loop,
		       struct itm__rpc_hook **h)
{
	int rc = c->closing ? -ECANCELED : async_start_thread(c);

	if (!rc && !(*h = hook_get(c, loop)))
		rc = -ENOMEM;
	return rc;
}

/* Create the call and start its one batch (c->lock held). */
static int
acall_start(struct itm_rpc_client *c, struct acall *a, const char *method,
	    const ProtobufCMessage *req, int timeout_ms)
{
	grpc_op ops[6];
	size_t n;

	a->gc = itm__rpc_call_create(c, c->cq, method, timeout_ms);
	n = unary_ops(&a->u, req, ops);
	if (grpc_call_start_batch(a->gc, ops, n, &a->tag, NULL) !=
	    GRPC_CALL_OK) {
		grpc_call_unref(a->gc);
		unary_destroy(&a->u);
		return -EIO;
	}
	a->f_prev = NULL;
	a->f_next = c->inflight;
	if (c->inflight)
		c->inflight->f_prev = a;
	c->inflight = a;
	return 0;
}

int
itm_rpc_call_async(struct itm_rpc_client *c, uv_loop_t *loop, enum itm_method m,
		   const ProtobufCMessage *req, int timeout_ms,
		   itm_rpc_done_cb done, void *arg)
{
	const struct itm_method_def *def;
	struct acall *a;
	int rc;

	if (!c || !loop || !done ||
	    !(def = method_check(m, ITM_METHOD_UNARY, req)))
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->tag.complete = acall_complete;
	a->delivery.deliver = acall_deliver;
	a->delivery.ends = 1;
	a->reply_desc = def->reply;
	a->done = done;
	a->arg = arg;
	uv_mutex_lock(&c->lock);
	rc = itm__rpc_async_prepare(c, loop, &a->hook);
	if (!rc)
		rc = acall_start(c, a, def->path, req, timeout_ms);
	uv_mutex_unlock(&c->lock);
	if (rc) {
		free(a);
		return rc;
	}
	itm__rpc_hook_hold(a->hook);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Server streaming                                                     */
/* ------------------------------------------------------------------ */

struct stream {
	grpc_call *gc;
	grpc_metadata_array init_md, trail_md;
	grpc_byte_buffer *send, *recv;
	grpc_status_code status;
	grpc_slice details;
	int t_start, t_status, t_msg; /* addresses used as tags */
};

static void
stream_wait(struct itm_rpc_client *c, void *tag)
{
	grpc_completion_queue_pluck(c->pluck, tag,
				    gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
}

static void
stream_destroy(struct stream *s)
{
	grpc_call_unref(s->gc);
	grpc_metadata_array_destroy(&s->init_md);
	grpc_metadata_array_destroy(&s->trail_md);
	if (s->send)
		grpc_byte_buffer_destroy(s->send);
	if (s->recv)
		grpc_byte_buffer_destroy(s->recv);
	grpc_slice_unref(s->details);
}

/* Send the request and ask for the final status up front. */
static int
stream_start(struct itm_rpc_client *c, struct stream *s,
	     const ProtobufCMessage *req)
{
	grpc_op ops[4];

	memset(ops, 0, sizeof(ops));
	s->send = itm__rpc_pack(req);
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = s->send;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &s->init_md;
	if (grpc_call_start_batch(s->gc, ops, 4, &s->t_start, NULL))
		return -EIO;
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[0].data.recv_status_on_client.trailing_metadata = &s->trail_md;
	ops[0].data.recv_status_on_client.status = &s->status;
	ops[0].data.recv_status_on_client.status_details = &s->details;
	if (grpc_call_start_batch(s->gc, ops, 1, &s->t_status, NULL)) {
		grpc_call_cancel(s->gc, NULL);
		stream_wait(c, &s->t_start);
		return -EIO;
	}
	stream_wait(c, &s->t_start);
	return 0;
}

/* Next message into s->recv, NULL at the end of the stream. */
static void
stream_next(struct itm_rpc_client *c, struct stream *s)
{
	grpc_op op;

	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_RECV_MESSAGE;
	op.data.recv_message.recv_message = &s->recv;
	s->recv = NULL;
	if (grpc_call_start_batch(s->gc, &op, 1, &s->t_msg, NULL)) {
		grpc_call_cancel(s->gc, NULL);
		return;
	}
	stream_wait(c, &s->t_msg);
}

/* Read until the end, a stop from @on_msg (1) or a bad message (-1). */
static int
stream_read(struct itm_rpc_client *c, struct stream *s,
	    const ProtobufCMessageDescriptor *desc,
	    int (*on_msg)(void *arg, const ProtobufCMessage *msg), void *arg)
{
	ProtobufCMessage *msg;
	int stop = 0;

	while (!stop) {
		stream_next(c, s);
		if (!s->recv)
			break;
		msg = itm__rpc_unpack(s->recv, desc);
		grpc_byte_buffer_destroy(s->recv);
		s->recv = NULL;
		if (!msg) {
			stop = -1;
			break;
		}
		stop = on_msg(arg, msg) != 0;
		protobuf_c_message_free_unpacked(msg, NULL);
	}
	if (stop)
		grpc_call_cancel(s->gc, NULL);
	return stop;
}

int
itm_rpc_stream(struct itm_rpc_client *c, enum itm_method m,
	       const ProtobufCMessage *req,
	       int (*on_msg)(void *arg, const ProtobufCMessage *msg), void *arg,
	       int timeout_ms, struct itm_rpc_status *st)
{
	const struct itm_method_def *def;
	struct stream s;
	int stop;

	if (!c || !on_msg || !(def = method_check(m, ITM_METHOD_STREAM, req)))
		return -EINVAL;
	memset(&s, 0, sizeof(s));
	grpc_metadata_array_init(&s.init_md);
	grpc_metadata_array_init(&s.trail_md);
	s.details = grpc_empty_slice();
	s.gc = itm__rpc_call_create(c, c->pluck, def->path, timeout_ms);
	if (stream_start(c, &s, req)) {
		stream_destroy(&s);
		status_local(st, ITM_RPC_INTERNAL, "cannot start call");
		return -EIO;
	}
	stop = stream_read(c, &s, def->reply, on_msg, arg);
	stream_wait(c, &s.t_status);
	itm__rpc_status_from(st, s.status, s.details);
	if (stop < 0)
		status_local(st, ITM_RPC_INTERNAL,
			     "stream message does not decode");
	else if (stop > 0)
		status_local(st, ITM_RPC_OK, "");
	stream_destroy(&s);
	return stop > 0 || (!stop && s.status == GRPC_STATUS_OK) ? 0 : -EIO;
}

/* ------------------------------------------------------------------ */
/* Client life cycle                                                    */
/* ------------------------------------------------------------------ */

static grpc_channel *
channel_create(const char *target, const struct itm_rpc_tls *tls,
	       grpc_channel_credentials *creds)
{
	grpc_arg store[ITM__RPC_ARGS_MAX], extra[ITM__RPC_ARGS_MAX - 2];
	grpc_channel_args args;
	size_t n = 0;

	extra[n].type = GRPC_ARG_INTEGER;
	extra[n].key = (char *)GRPC_ARG_ENABLE_HTTP_PROXY;
	extra[n++].value.integer = 0;
	/* A local server (the agent on its unix socket) that restarts is
	 * back within a second, however long it was away: gRPC's default
	 * backoff would keep its clients off it for up to two minutes. */
	if (strncmp(target, "unix:", 5) == 0) {
		extra[n].type = GRPC_ARG_INTEGER;
		extra[n].key = (char *)GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS;
		extra[n++].value.integer = ITM_RPC_LOCAL_BACKOFF_MS;
		extra[n].type = GRPC_ARG_INTEGER;
		extra[n].key = (char *)GRPC_ARG_MAX_RECONNECT_BACKOFF_MS;
		extra[n++].value.integer = ITM_RPC_LOCAL_BACKOFF_MS;
	}
	if (tls && tls->server_name) {
		extra[n].type = GRPC_ARG_STRING;
		extra[n].key = (char *)GRPC_SSL_TARGET_NAME_OVERRIDE_ARG;
		extra[n++].value.string = (char *)tls->server_name;
	}
	itm__rpc_args(&args, store, extra, n);
	return grpc_channel_create(target, creds, &args);
}

int
itm_rpc_client_new(struct itm_rpc_client **out, const char *target,
		   const struct itm_rpc_tls *tls)
{
	grpc_channel_credentials *creds;
	struct itm_rpc_client *c;
	char *full = NULL;
	int rc;

	if (!out || !target || !*target)
		return -EINVAL;
	if (target[0] == '/' && asprintf(&full, "unix:%s", target) < 0)
		return -ENOMEM;
	c = calloc(1, sizeof(*c));
	if (!c || uv_mutex_init(&c->lock)) {
		free(c);
		free(full);
		return -ENOMEM;
	}
	itm__rpc_lib_ref();
	rc = itm__rpc_channel_creds(tls, &creds);
	if (rc) {
		uv_mutex_destroy(&c->lock);
		free(c);
		free(full);
		itm__rpc_lib_unref();
		return rc;
	}
	c->ch = channel_create(full ? full : target, tls, creds);
	grpc_channel_credentials_release(creds);
	free(full);
	c->pluck = grpc_completion_queue_create_for_pluck(NULL);
	*out = c;
	return 0;
}

/* Cancel async calls in flight, wait for them, run their callbacks. */
static void
client_async_stop(struct itm_rpc_client *c)
{
	struct itm__rpc_hook_ref *r;
	struct acall *a;

	uv_mutex_lock(&c->lock);
	c->closing = 1;
	for (a = c->inflight; a; a = a->f_next)
		grpc_call_cancel(a->gc, NULL);
	itm__rpc_bidi_cancel_all(c);
	uv_mutex_unlock(&c->lock);
	if (!c->thread_started)
		return;
	grpc_completion_queue_shutdown(c->cq);
	uv_thread_join(&c->thread);
	grpc_completion_queue_destroy(c->cq);
	while ((r = c->hooks)) {
		c->hooks = r->next;
		hook_put(r->h);
		free(r);
	}
}

void
itm_rpc_client_free(struct itm_rpc_client *c)
{
	if (!c)
		return;
	client_async_stop(c);
	grpc_channel_destroy(c->ch);
	grpc_completion_queue_shutdown(c->pluck);
	grpc_completion_queue_destroy(c->pluck);
	uv_mutex_destroy(&c->lock);
	free(c);
	itm__rpc_lib_unref();
}
