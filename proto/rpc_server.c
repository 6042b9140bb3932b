/*
 * rpc_server.c - gRPC server side of the glue (see itm_rpc.h).
 *
 * Threads.  One thread runs the completion queue (it has no pollable fd).
 * It accepts calls, decodes requests and answers the calls that never
 * reach a handler (unknown method, undecodable request).  Decoded calls go
 * to the libuv loop through a mutex-protected event list and one
 * uv_async_t; handlers, on_cancel callbacks and the user's reply / fail /
 * send / finish all run on the loop.  Those start gRPC batches directly:
 * grpc_call_start_batch() is thread-safe and the completions come back on
 * the queue thread.
 *
 * Matching.  Each method of the table is registered with
 * grpc_server_register_method() and GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER,
 * so core matches the path for us and hands over the request message with
 * the call: one completion per call instead of two, no string compares.
 * One generic grpc_server_request_call() stays outstanding as a catch-all
 * for every other path, which is answered UNIMPLEMENTED.
 *
 * Lifetime.  A call is reference counted: the user's reference (from
 * dispatch until reply/fail/finish), one per batch in flight, one for the
 * early RECV_CLOSE_ON_SERVER batch that tells us the client went away, and
 * one per queued loop event.  The last one to go frees the call, on
 * whichever thread that happens.
 *
 * Streaming sends are queued per call (at most ITM__RPC_MAX_QUEUED, then
 * -ENOBUFS) because gRPC takes one SEND_MESSAGE at a time.
 *
 * Bidirectional streams.  A BIDI method is registered without a payload;
 * the queue thread reads one message at a time (RECV_MESSAGE), decodes it
 * and hands it to the loop as an EV_MSG event, and reads the next only
 * after the handler ran: at most one message (ITM__RPC_MAX_MSG bytes) is
 * buffered per call, whatever the client sends.  The user's reference is
 * held from the start; the call joins the live list with its first event.
 * The client half-closing is one more event (request NULL); the client
 * going away, or a message that does not decode, ends the call here.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <grpc/support/alloc.h>

#include "itm_fields.h"
#include "rpc_int.h"

#define ITM__RPC_MAX_QUEUED 256

enum tag_kind {
	TAG_NEW,
	TAG_NEW_GENERIC,
	TAG_CLOSE,
	TAG_SEND,
	TAG_RECV,
	TAG_REJECT,
	TAG_SHUTDOWN
};

struct tag {
	enum tag_kind kind;
	void *obj;
};

enum ev_kind { EV_CALL, EV_CANCEL, EV_MSG };

struct ev {
	struct ev *next;
	enum ev_kind kind;
	struct itm_rpc_call *call;
};

/* One queued send: a message, a final status, or both (unary reply). */
struct out_item {
	struct out_item *next;
	grpc_byte_buffer *bb;
	int has_status;
	grpc_status_code code;
	grpc_slice details;
	size_t n_trailing; /* 1 with a status detail */
	grpc_metadata trailing;
};

struct itm_rpc_call {
	struct itm_rpc_server *srv;
	size_t midx;			  /* index in srv->methods */
	const struct itm_rpc_method *m;	  /* NULL for generic requests */
	const struct itm_method_def *def; /* m's path and types */
	grpc_call *gc;
	gpr_timespec deadline;
	grpc_metadata_array md;
	grpc_call_details details;
	grpc_byte_buffer *payload;
	ProtobufCMessage *req;
	char *peer;
	char *identity;
	struct tag t_new, t_close, t_send;
	int close_cancelled; /* RECV_CLOSE_ON_SERVER output */
	grpc_slice reject_details;
	atomic_int refs;
	atomic_int cancelled;

	/* Bidi: the message read (queue thread), handed over by ev_msg. */
	grpc_byte_buffer *recv_bb;
	ProtobufCMessage *next_req;
	enum { MSG_OK, MSG_END, MSG_BAD, MSG_GONE } msg_state;
	char msg_err[256];
	struct tag t_recv;
	atomic_int bidi_live; /* on the live list (its first event ran) */

	uv_mutex_t lock; /* send queue */
	struct out_item *outq, **outq_tail;
	struct out_item *sending;
	int n_queued;
	int md_sent;
	int dead;

	/* Loop thread only. */
	int user_done;
	int cancel_seen;
	int cancel_requeued;
	void (*cancel_cb)(struct itm_rpc_call *call, void *arg);
	void *cancel_arg;
	struct itm_rpc_call *live_prev, *live_next;
	struct ev ev_call, ev_cancel, ev_msg;
};

struct listener {
	struct listener *next;
	char *path; /* unix socket, NULL for TCP */
	char *lock_path;
	int lock_fd;
};

struct itm_rpc_server {
	uv_loop_t *loop;
	const struct itm_rpc_method *methods;
	size_t n_methods;
	void *arg;
	grpc_server *gs;
	grpc_completion_queue *cq;
	void **reg;
	uv_thread_t thread;
	uv_async_t *async;
	uv_mutex_t lock; /* evq, closing */
	struct ev *evq, **evq_tail;
	atomic_int closing;  /* no new events for the loop */
	atomic_int stopping; /* no new batches: CQ shuts down */
	/* Statuses queued, not yet sent or dropped. */
	atomic_int statuses_out;
	int started;
	int port;
	struct listener *listeners;
	struct itm_rpc_call *live; /* calls held by handlers */
	struct tag t_shutdown;
};

/* ------------------------------------------------------------------ */
/* Call objects                                                         */
/* ------------------------------------------------------------------ */

static void
out_item_free(struct out_item *it)
{
	if (it->bb)
		grpc_byte_buffer_destroy(it->bb);
	if (it->has_status)
		grpc_slice_unref(it->details);
	if (it->n_trailing)
		grpc_slice_unref(it->trailing.value);
	free(it);
}

/* An item leaves the call's queue: sent, or never to be. */
static void
item_done(struct itm_rpc_call *call, struct out_item *it)
{
	if (it->has_status)
		atomic_fetch_sub(&call->srv->statuses_out, 1);
	out_item_free(it);
}

static void
call_free(struct itm_rpc_call *call)
{
	struct out_item *it;

	while ((it = call->outq)) {
		call->outq = it->next;
		item_done(call, it);
	}
	if (call->sending)
		item_done(call, call->sending);
	if (call->gc)
		grpc_call_unref(call->gc);
	if (call->payload)
		grpc_byte_buffer_destroy(call->payload);
	if (call->recv_bb)
		grpc_byte_buffer_destroy(call->recv_bb);
	if (call->req)
		protobuf_c_message_free_unpacked(call->req, NULL);
	if (call->next_req)
		protobuf_c_message_free_unpacked(call->next_req, NULL);
	grpc_metadata_array_destroy(&call->md);
	grpc_call_details_destroy(&call->details);
	grpc_slice_unref(call->reject_details);
	uv_mutex_destroy(&call->lock);
	free(call->peer);
	free(call->identity);
	free(call);
}

static void
call_ref(struct itm_rpc_call *call)
{
	atomic_fetch_add(&call->refs, 1);
}

static void
call_unref(struct itm_rpc_call *call)
{
	if (atomic_fetch_sub(&call->refs, 1) == 1)
		call_free(call);
}

static struct itm_rpc_call *
call_alloc(struct itm_rpc_server *srv)
{
	struct itm_rpc_call *call = calloc(1, sizeof(*call));

	if (!call)
		return NULL;
	call->srv = srv;
	atomic_init(&call->refs, 1);
	atomic_init(&call->cancelled, 0);
	grpc_metadata_array_init(&call->md);
	grpc_call_details_init(&call->details);
	call->reject_details = grpc_empty_slice();
	call->outq_tail = &call->outq;
	call->t_close = (struct tag){ TAG_CLOSE, call };
	call->t_send = (struct tag){ TAG_SEND, call };
	call->ev_call = (struct ev){ NULL, EV_CALL, call };
	call->ev_cancel = (struct ev){ NULL, EV_CANCEL, call };
	call->t_recv = (struct tag){ TAG_RECV, call };
	call->ev_msg = (struct ev){ NULL, EV_MSG, call };
	atomic_init(&call->bidi_live, 0);
	if (uv_mutex_init(&call->lock)) {
		free(call);
		return NULL;
	}
	return call;
}

static int
is_bidi(const struct itm_rpc_call *call)
{
	return call->def && call->def->kind == ITM_METHOD_BIDI;
}

/* Keep one request outstanding per registered method... */
static int
request_method(struct itm_rpc_server *srv, size_t midx)
{
	struct itm_rpc_call *call = call_alloc(srv);
	grpc_call_error err;

	if (!call)
		return -ENOMEM;
	call->midx = midx;
	call->m = &srv->methods[midx];
	call->def = itm_method_def(call->m->id);
	call->t_new = (struct tag){ TAG_NEW, call };
	err = grpc_server_request_registered_call(srv->gs, srv->reg[midx],
						  &call->gc, &call->deadline,
						  &call->md,
						  is_bidi(call)
							  ? NULL
							  : &call->payload,
						  srv->cq, srv->cq,
						  &call->t_new);
	if (err != GRPC_CALL_OK) {
		call_free(call);
		return -EIO;
	}
	return 0;
}

/* ...and one for everything else. */
static int
request_generic(struct itm_rpc_server *srv)
{
	struct itm_rpc_call *call = call_alloc(srv);
	grpc_call_error err;

	if (!call)
		return -ENOMEM;
	call->t_new = (struct tag){ TAG_NEW_GENERIC, call };
	err = grpc_server_request_call(srv->gs, &call->gc, &call->details,
				       &call->md, srv->cq, srv->cq,
				       &call->t_new);
	if (err != GRPC_CALL_OK) {
		call_free(call);
		return -EIO;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Completion-queue thread                                              */
/* ------------------------------------------------------------------ */

/* Forget an event the loop will never run; a bidi call no handler saw
 * yet also loses the user's reference with it. */
static void
ev_drop(struct ev *ev)
{
	struct itm_rpc_call *call = ev->call;

	if (ev->kind == EV_MSG && !atomic_load(&call->bidi_live))
		call_unref(call);
	call_unref(call);
}

/* Hand an event to the loop; once the server is closing, drop it. */
static void
queue_ev(struct itm_rpc_server *srv, struct ev *ev)
{
	uv_mutex_lock(&srv->lock);
	if (atomic_load(&srv->closing)) {
		uv_mutex_unlock(&srv->lock);
		ev_drop(ev);
		return;
	}
	ev->next = NULL;
	*srv->evq_tail = ev;
	srv->evq_tail = &ev->next;
	uv_mutex_unlock(&srv->lock);
	uv_async_send(srv->async);
}

/* Answer a call that never reaches a handler, then forget it. */
static void reject(struct itm_rpc_call *call, grpc_status_code code,
		   const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
reject(struct itm_rpc_call *call, grpc_status_code code, const char *fmt, ...)
{
	grpc_op ops[3];
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	call->reject_details = grpc_slice_from_copied_string(msg);
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	ops[1].data.recv_close_on_server.cancelled = &call->close_cancelled;
	ops[2].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[2].data.send_status_from_server.status = code;
	ops[2].data.send_status_from_server.status_details =
		&call->reject_details;
	call->t_close.kind = TAG_REJECT;
	if (grpc_call_start_batch(call->gc, ops, 3, &call->t_close, NULL) !=
	    GRPC_CALL_OK)
		call_unref(call);
}

static char *
auth_identity(grpc_call *gc)
{
	grpc_auth_context *ctx = grpc_call_auth_context(gc);
	grpc_auth_property_iterator it;
	const grpc_auth_property *p;
	char *id = NULL;

	if (!ctx)
		return NULL;
	if (grpc_auth_context_peer_is_authenticated(ctx)) {
		it = grpc_auth_context_find_properties_by_name(
			ctx, GRPC_X509_CN_PROPERTY_NAME);
		p = grpc_auth_property_iterator_next(&it);
		if (p && p->value)
			id = strndup(p->value, p->value_length);
	}
	grpc_auth_context_release(ctx);
	return id;
}

static void
call_accept(struct itm_rpc_call *call)
{
	char *peer = grpc_call_get_peer(call->gc);

	call->peer = strdup(peer ? peer : "");
	gpr_free(peer);
	call->identity = auth_identity(call->gc);
}

/* Watch for the client going away; holds a reference until the end. */
static int
start_close_watch(struct itm_rpc_call *call)
{
	grpc_op op;

	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	op.data.recv_close_on_server.cancelled = &call->close_cancelled;
	call_ref(call);
	if (grpc_call_start_batch(call->gc, &op, 1, &call->t_close, NULL) !=
	    GRPC_CALL_OK) {
		call_unref(call);
		return -EIO;
	}
	return 0;
}

/* Read the next message of a bidi call (RECV_MESSAGE, on_recv()). */
static int
start_recv(struct itm_rpc_call *call)
{
	grpc_op op;

	if (atomic_load(&call->srv->stopping))
		return -ECANCELED;
	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_RECV_MESSAGE;
	op.data.recv_message.recv_message = &call->recv_bb;
	call_ref(call);
	if (grpc_call_start_batch(call->gc, &op, 1, &call->t_recv, NULL) !=
	    GRPC_CALL_OK) {
		call_unref(call);
		return -EIO;
	}
	return 0;
}

/* A bidi call: watch for the end, read its first message. */
static void
on_new_bidi(struct itm_rpc_call *call)
{
	call_accept(call);
	if (start_close_watch(call)) {
		call_unref(call);
		return;
	}
	if (start_recv(call))
		call_unref(call);
}

/* A message, the half-close or the end of a bidi call: to the loop. */
static void
on_recv(struct itm_rpc_call *call, int success)
{
	const ProtobufCMessageDescriptor *desc = call->def->request;
	int rc;

	if (!success) {
		call->msg_state = MSG_GONE;
	} else if (!call->recv_bb) {
		call->msg_state = MSG_END;
	} else {
		rc = itm__rpc_unpack_checked(call->recv_bb, desc,
					     &call->next_req, call->msg_err,
					     sizeof(call->msg_err));
		if (rc < 0 && rc != -EINVAL)
			snprintf(call->msg_err, sizeof(call->msg_err),
				 "%s: request does not decode as %s",
				 call->def->path, desc->name);
		call->msg_state = rc < 0 ? MSG_BAD : MSG_OK;
		grpc_byte_buffer_destroy(call->recv_bb);
		call->recv_bb = NULL;
	}
	queue_ev(call->srv, &call->ev_msg); /* the batch's reference */
}

static void
on_new_call(struct itm_rpc_call *call, int success)
{
	struct itm_rpc_server *srv = call->srv;
	const ProtobufCMessageDescriptor *desc = call->def->request;
	char err[256];
	int rc;

	if (!success) { /* server shutting down */
		call_unref(call);
		return;
	}
	if (!atomic_load(&srv->closing))
		request_method(srv, call->midx);
	if (is_bidi(call)) {
		on_new_bidi(call);
		return;
	}
	call_accept(call);
	rc = itm__rpc_unpack_checked(call->payload, desc, &call->req, err,
				     sizeof(err));
	if (call->payload)
		grpc_byte_buffer_destroy(call->payload);
	call->payload = NULL;
	if (rc == -EINVAL) {
		reject(call, GRPC_STATUS_INVALID_ARGUMENT, "%s", err);
		return;
	}
	if (rc < 0) {
		reject(call, GRPC_STATUS_INVALID_ARGUMENT,
		       "%s: request does not decode as %s", call->def->path,
		       desc->name);
		return;
	}
	if (start_close_watch(call)) {
		call_unref(call);
		return;
	}
	queue_ev(srv, &call->ev_call); /* the user's reference */
}

static void
on_new_generic(struct itm_rpc_call *call, int success)
{
	struct itm_rpc_server *srv = call->srv;
	char *method;

	if (!success) {
		call_unref(call);
		return;
	}
	if (!atomic_load(&srv->closing))
		request_generic(srv);
	method = grpc_slice_to_c_string(call->details.method);
	reject(call, GRPC_STATUS_UNIMPLEMENTED, "unknown method %s", method);
	gpr_free(method);
}

static void
on_close(struct itm_rpc_call *call)
{
	if (call->close_cancelled) {
		atomic_store(&call->cancelled, 1);
		call_ref(call);
		queue_ev(call->srv, &call->ev_cancel);
	}
	call_unref(call);
}

static void pump_locked(struct itm_rpc_call *call);

static void
on_sent(struct itm_rpc_call *call, int success)
{
	uv_mutex_lock(&call->lock);
	item_done(call, call->sending);
	call->sending = NULL;
	if (!success) {
		call->dead = 1;
		atomic_store(&call->cancelled, 1);
	}
	pump_locked(call);
	uv_mutex_unlock(&call->lock);
	call_unref(call);
}

static void
on_tag(struct itm_rpc_server *srv, struct tag *t, int success)
{
	switch (t->kind) {
	case TAG_NEW: on_new_call(t->obj, success); break;
	case TAG_NEW_GENERIC: on_new_generic(t->obj, success); break;
	case TAG_CLOSE: on_close(t->obj); break;
	case TAG_SEND: on_sent(t->obj, success); break;
	case TAG_RECV: on_recv(t->obj, success); break;
	case TAG_REJECT: call_unref(t->obj); break;
	case TAG_SHUTDOWN: grpc_completion_queue_shutdown(srv->cq); break;
	}
}

static void
cq_thread(void *arg)
{
	struct itm_rpc_server *srv = arg;
	grpc_event ev;

	for (;;) {
		ev = grpc_completion_queue_next(srv->cq,
						gpr_inf_future(
							GPR_CLOCK_REALTIME),
						NULL);
		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			break;
		if (ev.type == GRPC_OP_COMPLETE)
			on_tag(srv, ev.tag, ev.success);
	}
}

/* ------------------------------------------------------------------ */
/* Loop thread: dispatch and answers                                    */
/* ------------------------------------------------------------------ */

static void
live_add(struct itm_rpc_server *srv, struct itm_rpc_call *call)
{
	call->live_prev = NULL;
	call->live_next = srv->live;
	if (srv->live)
		srv->live->live_prev = call;
	srv->live = call;
}

static void
live_del(struct itm_rpc_server *srv, struct itm_rpc_call *call)
{
	if (call->live_prev)
		call->live_prev->live_next = call->live_next;
	else
		srv->live = call->live_next;
	if (call->live_next)
		call->live_next->live_prev = call->live_prev;
}

/* The client cancelled: tell the handler (once). */
static void
tell_cancel(struct itm_rpc_call *call)
{
	if (call->cancel_seen)
		return;
	call->cancel_seen = 1;
	if (call->cancel_cb)
		call->cancel_cb(call, call->cancel_arg);
}

/* Hand a bidi call's message (or its end) to its handler. */
static void
bidi_deliver(struct itm_rpc_server *srv, struct itm_rpc_call *call)
{
	if (call->req)
		protobuf_c_message_free_unpacked(call->req, NULL);
	call->req = call->next_req;
	call->next_req = NULL;
	/* Core reads a cancelled stream's end like a half-close. */
	if (call->msg_state == MSG_END && atomic_load(&call->cancelled))
		call->msg_state = MSG_GONE;
	switch (call->msg_state) {
	case MSG_OK:
	case MSG_END:
		call->m->handler(call, srv->arg);
		if (!call->user_done && call->msg_state == MSG_OK &&
		    start_recv(call))
			itm_rpc_fail(call, ITM_RPC_UNAVAILABLE,
				     "cannot read the next message");
		break;
	case MSG_BAD:
		tell_cancel(call);
		if (!call->user_done)
			itm_rpc_fail(call, ITM_RPC_INVALID_ARGUMENT, "%s",
				     call->msg_err);
		break;
	case MSG_GONE:
		tell_cancel(call);
		if (!call->user_done)
			itm_rpc_fail(call, ITM_RPC_CANCELLED,
				     "the client went away");
		break;
	}
}

static void
run_msg(struct itm_rpc_server *srv, struct itm_rpc_call *call)
{
	if (!atomic_load(&call->bidi_live)) {
		atomic_store(&call->bidi_live, 1);
		live_add(srv, call);
	}
	if (!call->user_done)
		bidi_deliver(srv, call);
	call_unref(call); /* the event's */
}

static void
run_ev(struct itm_rpc_server *srv, struct ev *ev)
{
	struct itm_rpc_call *call = ev->call;

	if (ev->kind == EV_MSG) {
		run_msg(srv, call);
		return;
	}
	if (ev->kind == EV_CALL) {
		live_add(srv, call);
		call->m->handler(call, srv->arg);
		return;
	}
	if (!call->user_done) {
		call->cancel_seen = 1;
		if (call->cancel_cb)
			call->cancel_cb(call, call->cancel_arg);
	}
	call_unref(call);
}

static void
async_cb(uv_async_t *h)
{
	struct itm_rpc_server *srv = h->data;
	struct ev *ev, *next;

	uv_mutex_lock(&srv->lock);
	ev = srv->evq;
	srv->evq = NULL;
	srv->evq_tail = &srv->evq;
	uv_mutex_unlock(&srv->lock);
	for (; ev; ev = next) {
		next = ev->next;
		run_ev(srv, ev);
	}
}

/* Start the next queued send unless one is in flight (call->lock held). */
static void
pump_locked(struct itm_rpc_call *call)
{
	struct out_item *it = call->outq;
	grpc_op ops[3];
	size_t n = 0;

	if (call->sending || !it)
		return;
	call->outq = it->next;
	if (!call->outq)
		call->outq_tail = &call->outq;
	call->n_queued--;
	if (call->dead || atomic_load(&call->srv->stopping)) {
		item_done(call, it);
		pump_locked(call);
		return;
	}
	memset(ops, 0, sizeof(ops));
	if (!call->md_sent) {
		ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
		call->md_sent = 1;
	}
	if (it->bb) {
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n++].data.send_message.send_message = it->bb;
	}
	if (it->has_status) {
		ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
		ops[n].data.send_status_from_server.status = it->code;
		ops[n].data.send_status_from_server.status_details =
			&it->details;
		ops[n].data.send_status_from_server.trailing_metadata_count =
			it->n_trailing;
		ops[n++].data.send_status_from_server.trailing_metadata =
			it->n_trailing ? &it->trailing : NULL;
	}
	call->sending = it;
	call_ref(call);
	if (grpc_call_start_batch(call->gc, ops, n, &call->t_send, NULL) !=
	    GRPC_CALL_OK) {
		call->sending = NULL;
		call->dead = 1;
		item_done(call, it);
		call_unref(call); /* the caller still holds one */
	}
}

static struct out_item *
out_item_new(grpc_byte_buffer *bb, int has_status, grpc_status_code code,
	     const char *msg)
{
	struct out_item *it = calloc(1, sizeof(*it));

	if (!it) {
		if (bb)
			grpc_byte_buffer_destroy(bb);
		return NULL;
	}
	it->bb = bb;
	it->has_status = has_status;
	it->code = code;
	if (has_status)
		it->details = grpc_slice_from_copied_string(msg);
	return it;
}

/* Queue @it (NULL: out of memory) and send what can be sent. */
static int
enqueue_item(struct itm_rpc_call *call, struct out_item *it)
{
	if (!it)
		return -ENOMEM;
	if (it->has_status)
		atomic_fetch_add(&call->srv->statuses_out, 1);
	uv_mutex_lock(&call->lock);
	*call->outq_tail = it;
	call->outq_tail = &it->next;
	call->n_queued++;
	pump_locked(call);
	uv_mutex_unlock(&call->lock);
	return 0;
}

static int
enqueue(struct itm_rpc_call *call, grpc_byte_buffer *bb, int has_status,
	grpc_status_code code, const char *msg)
{
	return enqueue_item(call, out_item_new(bb, has_status, code, msg));
}

/* The handler is done with the call: drop the user's reference. */
static void
user_release(struct itm_rpc_call *call)
{
	call->user_done = 1;
	live_del(call->srv, call);
	call_unref(call);
}

const ProtobufCMessage *
itm_rpc_request(const struct itm_rpc_call *call)
{
	return call->req;
}

const char *
itm_rpc_method_path(const struct itm_rpc_call *call)
{
	return call->def ? call->def->path : "";
}

const struct itm_rpc_method *
itm_rpc_call_methods(const struct itm_rpc_call *call, size_t *n)
{
	*n = call->srv->n_methods;
	return call->srv->methods;
}

const char *
itm_rpc_peer(const struct itm_rpc_call *call)
{
	return call->peer;
}

int64_t
itm_rpc_deadline_left_ms(const struct itm_rpc_call *call)
{
	gpr_timespec now = gpr_now(GPR_CLOCK_MONOTONIC), d;
	int64_t ms;

	if (gpr_time_cmp(call->deadline,
			 gpr_inf_future(call->deadline.clock_type)) == 0)
		return -1;
	d = gpr_convert_clock_type(call->deadline, GPR_CLOCK_MONOTONIC);
	ms = gpr_time_to_millis(gpr_time_sub(d, now));
	return ms > 0 ? ms : 0;
}

const char *
itm_rpc_peer_identity(const struct itm_rpc_call *call)
{
	return call->identity;
}

int
itm_rpc_reply(struct itm_rpc_call *call, const ProtobufCMessage *reply)
{
	int rc;

	if (!call || !reply || call->user_done)
		return -EINVAL;
	rc = enqueue(call, itm__rpc_pack(reply), 1, GRPC_STATUS_OK, "");
	user_release(call);
	return rc;
}

/* @detail packed into the trailing metadata of @it. */
static int
detail_attach(struct out_item *it, const ProtobufCMessage *detail)
{
	size_t len = protobuf_c_message_get_packed_size(detail);
	uint8_t *buf = malloc(len ? len : 1);

	if (!buf)
		return -ENOMEM;
	protobuf_c_message_pack(detail, buf);
	it->trailing.key = grpc_slice_from_static_string(ITM_RPC_DETAIL_KEY);
	it->trailing.value = grpc_slice_from_copied_buffer((char *)buf, len);
	it->n_trailing = 1;
	free(buf);
	return 0;
}

static int
fail_v(struct itm_rpc_call *call, enum itm_rpc_code code,
       const ProtobufCMessage *detail, const char *fmt, va_list ap)
{
	char msg[ITM_RPC_MSG_MAX], raw[ITM_RPC_MSG_MAX];
	struct out_item *it;
	int rc;

	if (!call || call->user_done)
		return -EINVAL;
	vsnprintf(raw, sizeof(raw), fmt, ap);
	itm_text_escape_lines(raw, msg, sizeof(msg));
	it = out_item_new(NULL, 1, (grpc_status_code)code, msg);
	if (it && detail && code != ITM_RPC_OK && detail_attach(it, detail)) {
		out_item_free(it);
		it = NULL;
	}
	rc = enqueue_item(call, it);
	user_release(call);
	return rc;
}

int
itm_rpc_fail(struct itm_rpc_call *call, enum itm_rpc_code code, const char *fmt,
	     ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = fail_v(call, code, NULL, fmt, ap);
	va_end(ap);
	return rc;
}

int
itm_rpc_fail_detail(struct itm_rpc_call *call, enum itm_rpc_code code,
		    const ProtobufCMessage *detail, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = fail_v(call, code, detail, fmt, ap);
	va_end(ap);
	return rc;
}

int
itm_rpc_send(struct itm_rpc_call *call, const ProtobufCMessage *msg)
{
	int full;

	if (!call || !msg || call->user_done ||
	    call->def->kind == ITM_METHOD_UNARY)
		return -EINVAL;
	if (atomic_load(&call->cancelled))
		return -ECANCELED;
	uv_mutex_lock(&call->lock);
	full = call->n_queued >= ITM__RPC_MAX_QUEUED;
	uv_mutex_unlock(&call->lock);
	if (full)
		return -ENOBUFS;
	return enqueue(call, itm__rpc_pack(msg), 0, GRPC_STATUS_OK, NULL);
}

int
itm_rpc_finish(struct itm_rpc_call *call)
{
	int rc;

	if (!call || call->user_done)
		return -EINVAL;
	/* A stream cut short by itm_rpc_server_free() did not end well. */
	if (atomic_load(&call->srv->closing))
		rc = enqueue(call, NULL, 1, GRPC_STATUS_UNAVAILABLE,
			     "server shutting down");
	else
		rc = enqueue(call, NULL, 1, GRPC_STATUS_OK, "");
	user_release(call);
	return rc;
}

void
itm_rpc_on_cancel(struct itm_rpc_call *call,
		  void (*cb)(struct itm_rpc_call *call, void *arg), void *arg)
{
	call->cancel_cb = cb;
	call->cancel_arg = arg;
	/* Cancelled before anyone listened: tell the new listener too. */
	if (cb && call->cancel_seen && !call->cancel_requeued) {
		call->cancel_requeued = 1;
		call_ref(call);
		queue_ev(call->srv, &call->ev_cancel);
	}
}

/* ------------------------------------------------------------------ */
/* Listening                                                            */
/* ------------------------------------------------------------------ */

static int
mkdir_parents(const char *path)
{
	char buf[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *p;

	snprintf(buf, sizeof(buf), "%s", path);
	p = strrchr(buf, '/');
	if (!p || p == buf)
		return 0;
	*p = '\0';
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static void
listener_free(struct listener *l, int remove)
{
	if (remove) {
		unlink(l->path);
		unlink(l->lock_path);
	}
	if (l->lock_fd >= 0)
		close(l->lock_fd);
	free(l->path);
	free(l->lock_path);
	free(l);
}

/* Create the directory, take the lock, remove a stale socket. */
static int
unix_prepare(const char *path, struct listener **out)
{
	struct listener *l;
	int rc;

	if (!*path ||
	    strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return -ENAMETOOLONG;
	rc = mkdir_parents(path);
	if (rc)
		return rc;
	l = calloc(1, sizeof(*l));
	if (!l || !(l->path = strdup(path)) ||
	    asprintf(&l->lock_path, "%s.lock", path) < 0) {
		if (l)
			free(l->path);
		free(l);
		return -ENOMEM;
	}
	l->lock_fd = open(l->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (l->lock_fd < 0 || flock(l->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		rc = errno == EWOULDBLOCK ? -EADDRINUSE : -errno;
		listener_free(l, 0);
		return rc;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		rc = -errno;
		listener_free(l, 1);
		return rc;
	}
	*out = l;
	return 0;
}

/* "host:port" or "[v6]:port" with a numeric port. */
static int
tcp_check(const char *addr)
{
	const char *colon = strrchr(addr, ':');
	char *end;
	long port;

	if (!colon || colon == addr || !colon[1])
		return -EINVAL;
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535)
		return -EINVAL;
	return 0;
}

static const char *
unix_path(const char *addr)
{
	if (addr[0] == '/')
		return addr;
	if (strncmp(addr, "unix:", 5))
		return NULL;
	addr += 5;
	if (!strncmp(addr, "//", 2))
		addr += 2;
	return addr;
}

static int
add_port(struct itm_rpc_server *srv, const char *addr,
	 const struct itm_rpc_tls *tls)
{
	grpc_server_credentials *creds;
	char *full = NULL;
	int port, rc;

	rc = itm__rpc_server_creds(tls, &creds);
	if (rc)
		return rc;
	if (addr[0] == '/' && asprintf(&full, "unix:%s", addr) < 0) {
		grpc_server_credentials_release(creds);
		return -ENOMEM;
	}
	port = grpc_server_add_http2_port(srv->gs, full ? full : addr, creds);
	grpc_server_credentials_release(creds);
	free(full);
	return port;
}

int
itm_rpc_server_listen(struct itm_rpc_server *srv, const char *addr,
		      const struct itm_rpc_tls *tls, unsigned int mode)
{
	const char *path = addr ? unix_path(addr) : NULL;
	struct listener *l = NULL;
	int rc, port;

	if (!srv || !addr)
		return -EINVAL;
	if (srv->started)
		return -EBUSY;
	if (path)
		rc = unix_prepare(path, &l);
	else
		rc = strncmp(addr, "unix-abstract:", 14) ? tcp_check(addr) : 0;
	if (rc)
		return rc;
	port = add_port(srv, addr, tls);
	if (port <= 0) {
		if (l)
			listener_free(l, 1);
		return port < 0 ? port : l ? -EADDRNOTAVAIL : -EADDRINUSE;
	}
	if (l) {
		if (chmod(l->path, mode ? mode : 0660) < 0)
			rc = -errno;
		l->next = srv->listeners;
		srv->listeners = l;
	} else {
		srv->port = port;
	}
	return rc;
}

int
itm_rpc_server_port(const struct itm_rpc_server *srv)
{
	return srv->port;
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                           */
/* ------------------------------------------------------------------ */

static int
check_methods(const struct itm_rpc_method *methods, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct itm_rpc_method *m = &methods[i];

		if (!itm_method_def(m->id) || !m->handler)
			return -EINVAL;
		for (size_t j = 0; j < i; j++)
			if (methods[j].id == m->id)
				return -EINVAL;
	}
	return 0;
}

static void
async_close_cb(uv_handle_t *h)
{
	free(h);
}

static int
server_grpc_new(struct itm_rpc_server *srv)
{
	grpc_arg store[ITM__RPC_ARGS_MAX], reuse;
	grpc_channel_args args;

	reuse.type = GRPC_ARG_INTEGER;
	reuse.key = (char *)GRPC_ARG_ALLOW_REUSEPORT;
	reuse.value.integer = 0;
	itm__rpc_args(&args, store, &reuse, 1);
	srv->gs = grpc_server_create(&args, NULL);
	srv->cq = grpc_completion_queue_create_for_next(NULL);
	grpc_server_register_completion_queue(srv->gs, srv->cq, NULL);
	for (size_t i = 0; i < srv->n_methods; i++) {
		const struct itm_method_def *def =
			itm_method_def(srv->methods[i].id);

		srv->reg[i] = grpc_server_register_method(
			srv->gs, def->path, NULL,
			def->kind == ITM_METHOD_BIDI
				? GRPC_SRM_PAYLOAD_NONE
				: GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER,
			0);
		if (!srv->reg[i])
			return -EINVAL;
	}
	return 0;
}

/* Undo a server_grpc_new() whose thread never started. */
static void
server_abort(struct itm_rpc_server *srv)
{
	grpc_server_destroy(srv->gs);
	grpc_completion_queue_shutdown(srv->cq);
	grpc_completion_queue_destroy(srv->cq);
	uv_mutex_destroy(&srv->lock);
	itm__rpc_lib_unref();
	uv_close((uv_handle_t *)srv->async, async_close_cb);
	free(srv->reg);
	free(srv);
}

int
itm_rpc_server_new(struct itm_rpc_server **out, uv_loop_t *loop,
		   const struct itm_rpc_method *methods, size_t n_methods,
		   void *arg)
{
	struct itm_rpc_server *srv;
	int rc;

	if (!out || !loop || (n_methods && !methods) ||
	    check_methods(methods, n_methods))
		return -EINVAL;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	*srv = (struct itm_rpc_server){ .loop = loop,
					.methods = methods,
					.n_methods = n_methods,
					.arg = arg,
					.evq_tail = &srv->evq,
					.t_shutdown = { TAG_SHUTDOWN, srv } };
	srv->reg = calloc(n_methods + 1, sizeof(*srv->reg));
	srv->async = malloc(sizeof(*srv->async));
	if (!srv->reg || !srv->async || uv_mutex_init(&srv->lock)) {
		free(srv->reg);
		free(srv->async);
		free(srv);
		return -ENOMEM;
	}
	uv_async_init(loop, srv->async, async_cb);
	srv->async->data = srv;
	itm__rpc_lib_ref();
	rc = server_grpc_new(srv);
	if (!rc)
		rc = uv_thread_create(&srv->thread, cq_thread, srv);
	if (rc) {
		server_abort(srv);
		return rc < 0 ? rc : -EINVAL;
	}
	*out = srv;
	return 0;
}

int
itm_rpc_server_start(struct itm_rpc_server *srv)
{
	int rc = 0;

	if (!srv || srv->started)
		return -EINVAL;
	grpc_server_start(srv->gs);
	srv->started = 1;
	for (size_t i = 0; i < srv->n_methods && !rc; i++)
		rc = request_method(srv, i);
	if (!rc)
		rc = request_generic(srv);
	return rc;
}

/*
 * Calls still held by handlers: streaming ones get their on_cancel
 * callback now (it should finish the call), and whatever is still held
 * afterwards is finished here (UNAVAILABLE, "server shutting down").
 * No call may be used once free returns.
 */
static void
release_live(struct itm_rpc_server *srv)
{
	struct itm_rpc_call *call;

	while ((call = srv->live)) {
		call_ref(call);
		if (call->cancel_cb && !call->cancel_seen) {
			call->cancel_seen = 1;
			call->cancel_cb(call, call->cancel_arg);
		}
		if (!call->user_done)
			itm_rpc_finish(call); /* UNAVAILABLE */
		call_unref(call);
	}
}

/*
 * Let the statuses release_live() queued reach the wire before
 * grpc_server_cancel_all_calls(): a call it cancels first ends at the
 * client with gRPC's "Cancelling all calls" instead of ours.  Bounded,
 * for a client that stopped reading must not hold the shutdown.
 */
static void
drain_statuses(struct itm_rpc_server *srv)
{
	for (int ms = 0; ms < 1000 && atomic_load(&srv->statuses_out); ms += 2)
		uv_sleep(2);
}

void
itm_rpc_server_free(struct itm_rpc_server *srv)
{
	struct listener *l;
	struct ev *ev;

	if (!srv)
		return;
	uv_mutex_lock(&srv->lock);
	atomic_store(&srv->closing, 1);
	ev = srv->evq;
	srv->evq = NULL;
	uv_mutex_unlock(&srv->lock);
	for (struct ev *next; ev; ev = next) {
		next = ev->next;
		ev_drop(ev);
	}
	release_live(srv);
	drain_statuses(srv);
	/* From here on nothing starts a batch: the queue is about to close. */
	atomic_store(&srv->stopping, 1);
	grpc_server_shutdown_and_notify(srv->gs, srv->cq, &srv->t_shutdown);
	grpc_server_cancel_all_calls(srv->gs);
	uv_thread_join(&srv->thread);
	grpc_server_destroy(srv->gs);
	grpc_completion_queue_destroy(srv->cq);
	while ((l = srv->listeners)) {
		srv->listeners = l->next;
		listener_free(l, 1);
	}
	uv_close((uv_handle_t *)srv->async, async_close_cb);
	uv_mutex_destroy(&srv->lock);
	free(srv->reg);
	free(srv);
	itm__rpc_lib_unref();
}
