/*
 * rpc_client_bidi.c - client-side bidirectional streams (itm_rpc.h):
 * messages sent from the caller's loop, messages received delivered to
 * it, the end of the stream reported with its status.
 *
 * A stream runs on its client's asynchronous completion queue (the
 * thread rpc_client.c starts with the first asynchronous call): at open
 * it starts three batches, the initial metadata both ways, the first
 * RECV_MESSAGE and RECV_STATUS_ON_CLIENT; each message received is
 * decoded on the queue's thread, pushed to the loop's hook and the next
 * RECV_MESSAGE started.  Sends are queued and started one at a time
 * (gRPC allows one SEND_MESSAGE in flight per call).  Once the status
 * is in and no batch is in flight, the end is pushed after the last
 * message; it frees the stream on the loop thread.  Under c->lock: the
 * send queue, the counters and c->bidis.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/slice.h>

#include "rpc_client_int.h"

/* A send waiting for its turn: a message, or the half-close (bb NULL). */
struct bidi_out {
	struct bidi_out *next;
	grpc_byte_buffer *bb;
};

/* A message received, on its way to the loop. */
struct bidi_in {
	struct itm__rpc_delivery d; /* first */
	struct itm_rpc_bidi *s;
	ProtobufCMessage *msg;
};

struct bidi_op {
	struct itm__rpc_tag tag; /* first */
	struct itm_rpc_bidi *s;
};

struct itm_rpc_bidi {
	struct itm_rpc_client *c;
	struct itm__rpc_hook *hook;
	grpc_call *gc;
	struct itm_rpc_bidi_opts o;
	struct itm_rpc_bidi *prev, *next; /* c->bidis */
	struct bidi_op t_start, t_send, t_recv, t_status;
	grpc_metadata *md;
	size_t n_md;
	grpc_metadata_array init_md, trail_md;
	grpc_byte_buffer *recv, *sending;
	grpc_status_code status;
	grpc_slice details;
	struct bidi_out *out, **out_tail;
	int in_flight;	 /* batches started, not completed */
	int got_status;	 /* RECV_STATUS_ON_CLIENT completed */
	int send_closed; /* the half-close is queued or sent */
	int bad_msg;	 /* a message did not decode */
	int cancelled;	 /* loop thread: the caller cancelled */
	struct itm_rpc_status st;
	struct itm__rpc_delivery end;
};

static void bidi_op_done(struct itm_rpc_client *c, struct itm__rpc_tag *t,
			 int ok);
static void bidi_in_deliver(struct itm__rpc_delivery *d);

/* ------------------------------------------------------------------ */
/* Queue thread side (c->lock held unless said)                         */
/* ------------------------------------------------------------------ */

static int
bidi_batch(struct itm_rpc_bidi *s, grpc_op *ops, size_t n, struct bidi_op *t)
{
	t->tag.complete = bidi_op_done;
	t->s = s;
	if (s->c->closing ||
	    grpc_call_start_batch(s->gc, ops, n, &t->tag, NULL) != GRPC_CALL_OK)
		return -EIO;
	s->in_flight++;
	return 0;
}

static void
recv_next(struct itm_rpc_bidi *s)
{
	grpc_op op;

	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_RECV_MESSAGE;
	op.data.recv_message.recv_message = &s->recv;
	s->recv = NULL;
	if (bidi_batch(s, &op, 1, &s->t_recv))
		grpc_call_cancel(s->gc, NULL);
}

/* Start the next queued send, if none is in flight. */
static void
send_next(struct itm_rpc_bidi *s)
{
	struct bidi_out *o = s->out;
	grpc_op op;

	if (!o || s->sending || s->t_send.s)
		return;
	s->out = o->next;
	if (!s->out)
		s->out_tail = &s->out;
	memset(&op, 0, sizeof(op));
	op.op = o->bb ? GRPC_OP_SEND_MESSAGE : GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	op.data.send_message.send_message = o->bb;
	s->sending = o->bb;
	free(o);
	if (bidi_batch(s, &op, 1, &s->t_send) == 0)
		return;
	s->t_send.s = NULL;
	if (s->sending)
		grpc_byte_buffer_destroy(s->sending);
	s->sending = NULL;
}

static void
out_drop(struct itm_rpc_bidi *s)
{
	struct bidi_out *o;

	while ((o = s->out)) {
		s->out = o->next;
		if (o->bb)
			grpc_byte_buffer_destroy(o->bb);
		free(o);
	}
	s->out_tail = &s->out;
}

/* A message received (lock not held): decoded and pushed, or the stream
 * cancelled when it does not decode. */
static void
recv_done(struct itm_rpc_bidi *s)
{
	struct bidi_in *in;
	ProtobufCMessage *msg = itm__rpc_unpack(s->recv, s->o.reply);

	grpc_byte_buffer_destroy(s->recv);
	s->recv = NULL;
	in = msg ? calloc(1, sizeof(*in)) : NULL;
	uv_mutex_lock(&s->c->lock);
	if (!in) {
		if (msg)
			protobuf_c_message_free_unpacked(msg, NULL);
		s->bad_msg = 1;
		grpc_call_cancel(s->gc, NULL);
		return;
	}
	in->d.deliver = bidi_in_deliver;
	in->s = s;
	in->msg = msg;
	itm__rpc_hook_push(s->hook, &in->d);
	recv_next(s);
}

static void
bidi_op_done(struct itm_rpc_client *c, struct itm__rpc_tag *t, int ok)
{
	struct itm_rpc_bidi *s = ((struct bidi_op *)t)->s;
	int wake = 0;

	(void)ok;
	if (t == &s->t_recv.tag && s->recv) {
		recv_done(s); /* returns with the lock held */
		wake = 1;
	} else {
		uv_mutex_lock(&c->lock);
	}
	s->in_flight--;
	if (t == &s->t_send.tag) {
		if (s->sending)
			grpc_byte_buffer_destroy(s->sending);
		s->sending = NULL;
		s->t_send.s = NULL;
		if (ok)
			send_next(s);
		else
			out_drop(s);
	}
	if (t == &s->t_status.tag)
		s->got_status = 1;
	if (s->got_status && s->in_flight == 0) {
		out_drop(s);
		itm__rpc_hook_push(s->hook, &s->end);
		wake = 1;
	}
	uv_mutex_unlock(&c->lock);
	if (wake)
		uv_async_send(&s->hook->async);
}

void
itm__rpc_bidi_cancel_all(struct itm_rpc_client *c)
{
	for (struct itm_rpc_bidi *s = c->bidis; s; s = s->next)
		grpc_call_cancel(s->gc, NULL);
}

/* ------------------------------------------------------------------ */
/* Loop side                                                            */
/* ------------------------------------------------------------------ */

static void
bidi_in_deliver(struct itm__rpc_delivery *d)
{
	struct bidi_in *in = (struct bidi_in *)d;

	if (!in->s->cancelled)
		in->s->o.on_msg(in->s->o.arg, in->msg);
	protobuf_c_message_free_unpacked(in->msg, NULL);
	free(in);
}

static void
bidi_free(struct itm_rpc_bidi *s)
{
	for (size_t i = 0; i < s->n_md; i++) {
		grpc_slice_unref(s->md[i].key);
		grpc_slice_unref(s->md[i].value);
	}
	free(s->md);
	grpc_metadata_array_destroy(&s->init_md);
	grpc_metadata_array_destroy(&s->trail_md);
	grpc_slice_unref(s->details);
	if (s->gc)
		grpc_call_unref(s->gc);
	free(s);
}

static void
bidi_end_deliver(struct itm__rpc_delivery *d)
{
	struct itm_rpc_bidi *s =
		(struct itm_rpc_bidi *)((char *)d -
					offsetof(struct itm_rpc_bidi, end));
	struct itm_rpc_client *c = s->c;

	uv_mutex_lock(&c->lock);
	if (s->prev)
		s->prev->next = s->next;
	else
		c->bidis = s->next;
	if (s->next)
		s->next->prev = s->prev;
	uv_mutex_unlock(&c->lock);
	itm__rpc_status_from(&s->st, s->status, s->details);
	if (s->bad_msg)
		itm__rpc_status_set(&s->st, ITM_RPC_INTERNAL,
				    "stream message does not decode", 30);
	if (s->o.on_end)
		s->o.on_end(s->o.arg, &s->st);
	bidi_free(s);
}

static int
bidi_metadata(struct itm_rpc_bidi *s, const char *const *md)
{
	size_t n = 0;

	while (md && md[2 * n] && md[2 * n + 1])
		n++;
	if (n == 0)
		return 0;
	s->md = calloc(n, sizeof(*s->md));
	if (!s->md)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		s->md[i].key = grpc_slice_from_copied_string(md[2 * i]);
		s->md[i].value = grpc_slice_from_copied_string(md[2 * i + 1]);
	}
	s->n_md = n;
	return 0;
}

/* The three batches of the start (c->lock held).  Once the status's is
 * started the stream ends only through its completion. */
static int
bidi_start(struct itm_rpc_bidi *s)
{
	grpc_op ops[2];

	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
	ops[0].data.recv_status_on_client.trailing_metadata = &s->trail_md;
	ops[0].data.recv_status_on_client.status = &s->status;
	ops[0].data.recv_status_on_client.status_details = &s->details;
	if (bidi_batch(s, ops, 1, &s->t_status))
		return -EIO;
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	if (s->o.wait_for_ready)
		ops[0].flags =
			GRPC_INITIAL_METADATA_WAIT_FOR_READY |
			GRPC_INITIAL_METADATA_WAIT_FOR_READY_EXPLICITLY_SET;
	ops[0].data.send_initial_metadata.count = s->n_md;
	ops[0].data.send_initial_metadata.metadata = s->md;
	ops[1].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[1].data.recv_initial_metadata.recv_initial_metadata = &s->init_md;
	if (bidi_batch(s, ops, 2, &s->t_start))
		grpc_call_cancel(s->gc, NULL);
	else
		recv_next(s);
	return 0;
}

static struct itm_rpc_bidi *
bidi_new(struct itm_rpc_client *c, const struct itm_rpc_bidi_opts *o)
{
	struct itm_rpc_bidi *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->c = c;
	s->o = *o;
	s->out_tail = &s->out;
	s->details = grpc_empty_slice();
	s->end.deliver = bidi_end_deliver;
	s->end.ends = 1;
	grpc_metadata_array_init(&s->init_md);
	grpc_metadata_array_init(&s->trail_md);
	if (bidi_metadata(s, o->metadata)) {
		bidi_free(s);
		return NULL;
	}
	return s;
}

int
itm_rpc_bidi_open(struct itm_rpc_client *c, uv_loop_t *loop, const char *path,
		  const struct itm_rpc_bidi_opts *o, struct itm_rpc_bidi **out)
{
	struct itm_rpc_bidi *s;
	int rc;

	if (!c || !loop || !path || !o || !o->reply || !o->on_msg ||
	    !o->on_end || !out)
		return -EINVAL;
	if (!(s = bidi_new(c, o)))
		return -ENOMEM;
	uv_mutex_lock(&c->lock);
	rc = itm__rpc_async_prepare(c, loop, &s->hook);
	if (!rc) {
		s->gc = itm__rpc_call_create(c, c->cq, path, 0);
		rc = bidi_start(s);
	}
	if (!rc) {
		s->next = c->bidis;
		if (c->bidis)
			c->bidis->prev = s;
		c->bidis = s;
	}
	uv_mutex_unlock(&c->lock);
	if (rc) {
		bidi_free(s);
		return rc;
	}
	itm__rpc_hook_hold(s->hook);
	*out = s;
	return 0;
}

/* Queue @bb (NULL: the half-close) and start it when nothing is sent. */
static int
bidi_queue(struct itm_rpc_bidi *s, grpc_byte_buffer *bb)
{
	struct bidi_out *o = calloc(1, sizeof(*o));
	int rc = 0;

	uv_mutex_lock(&s->c->lock);
	if (!o)
		rc = -ENOMEM;
	else if (s->got_status || s->send_closed || s->cancelled)
		rc = -ECANCELED;
	if (rc) {
		uv_mutex_unlock(&s->c->lock);
		free(o);
		if (bb)
			grpc_byte_buffer_destroy(bb);
		return rc;
	}
	o->bb = bb;
	s->send_closed = !bb;
	*s->out_tail = o;
	s->out_tail = &o->next;
	send_next(s);
	uv_mutex_unlock(&s->c->lock);
	return 0;
}

int
itm_rpc_bidi_send(struct itm_rpc_bidi *s, const ProtobufCMessage *msg)
{
	grpc_byte_buffer *bb;

	if (!s || !msg)
		return -EINVAL;
	if (!(bb = itm__rpc_pack(msg)))
		return -ENOMEM;
	return bidi_queue(s, bb);
}

int
itm_rpc_bidi_close_send(struct itm_rpc_bidi *s)
{
	return s ? bidi_queue(s, NULL) : -EINVAL;
}

void
itm_rpc_bidi_cancel(struct itm_rpc_bidi *s)
{
	if (!s || s->cancelled)
		return;
	s->cancelled = 1;
	grpc_call_cancel(s->gc, NULL);
}
