/*
 * rpc_client_int.h - what rpc_client.c (unary and server-streaming calls)
 * and rpc_client_bidi.c (bidirectional streams) share: the client, its
 * completion-queue thread and the per-loop hooks that hand completed work
 * to a libuv loop.  Not installed, not for callers.
 *
 * Every operation started on the client's asynchronous queue (c->cq)
 * carries a struct itm__rpc_tag as its tag: the queue's thread calls its
 * complete().  Work for a loop is a struct itm__rpc_delivery pushed on
 * the loop's hook: deliver() runs on the loop thread, in push order.  A
 * hook keeps its loop alive while it has units pending (a call not yet
 * answered, a stream not yet ended): itm__rpc_hook_hold() adds one, a
 * delivery with ends set removes it.
 */
#ifndef ITM_RPC_CLIENT_INT_H
#define ITM_RPC_CLIENT_INT_H

#include "rpc_int.h"

struct itm_rpc_client;
struct itm_rpc_bidi;

struct itm__rpc_tag {
	void (*complete)(struct itm_rpc_client *c, struct itm__rpc_tag *t,
			 int ok);
};

struct itm__rpc_delivery {
	struct itm__rpc_delivery *next;
	void (*deliver)(struct itm__rpc_delivery *d);
	int ends; /* ends a unit itm__rpc_hook_hold() added */
};

/* One per loop, shared by every client (rpc_client.c: libuv looks at
 * each async handle of a loop on every wakeup, so a hook per client made
 * a round of calls to N agents, each on its own client, cost N^2). */
struct itm__rpc_hook {
	uv_async_t async;
	struct itm__rpc_hook *next; /* every hook, under the global lock */
	uv_loop_t *loop;
	int users;	 /* clients using it, under the global lock */
	uv_mutex_t lock; /* the queue */
	struct itm__rpc_delivery *head, **tail;
	int pending; /* loop thread: units not ended */
};

/* A hook a client uses. */
struct itm__rpc_hook_ref {
	struct itm__rpc_hook *h;
	struct itm__rpc_hook_ref *next;
};

struct acall;

struct itm_rpc_client {
	grpc_channel *ch;
	grpc_completion_queue *pluck;
	uv_mutex_t lock; /* everything below */
	grpc_completion_queue *cq;
	uv_thread_t thread;
	int thread_started;
	int closing; /* no new batch may start on cq */
	struct itm__rpc_hook_ref *hooks;
	struct acall *inflight;
	struct itm_rpc_bidi *bidis; /* streams not ended */
};

/* A call on @cq; @timeout_ms <= 0: no deadline. */
grpc_call *itm__rpc_call_create(struct itm_rpc_client *c,
				grpc_completion_queue *cq, const char *method,
				int timeout_ms);
/* With c->lock held, on @loop's thread: the client's queue thread
 * started and @loop's hook (*@h); -ECANCELED once the client closes. */
int itm__rpc_async_prepare(struct itm_rpc_client *c, uv_loop_t *loop,
			   struct itm__rpc_hook **h);
/* Loop thread: one more unit keeps @h's loop alive. */
void itm__rpc_hook_hold(struct itm__rpc_hook *h);
/* Queue @d for @h's loop (woken by the caller with
 * uv_async_send(&h->async)); takes h->lock, after c->lock if held. */
void itm__rpc_hook_push(struct itm__rpc_hook *h, struct itm__rpc_delivery *d);
/* Fill @st from a gRPC status. */
void itm__rpc_status_from(struct itm_rpc_status *st, grpc_status_code code,
			  grpc_slice details);
/* With c->lock held: cancel every stream of @c (rpc_client_bidi.c). */
void itm__rpc_bidi_cancel_all(struct itm_rpc_client *c);

#endif /* ITM_RPC_CLIENT_INT_H */
