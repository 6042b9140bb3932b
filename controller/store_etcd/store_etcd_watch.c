/*
 * store_etcd_watch.c - a controller follows the store by an etcd Watch
 * (store.h: store_watch()): one bidirectional stream, on a gRPC client of
 * its own, with two watchers, P/current and P/leader; each event goes to
 * the controller's loop as it arrives.
 *
 * Nothing is missed: a fresh start reads the store's revision R (a Range
 * of P/current), creates both watchers from R + 1 and, once etcd created
 * them, says STORE_SYNC, so the controller's reads (at R or later) and
 * the events (after R) leave no gap.  Every event moves the next revision
 * past it; a stream that ends (its member died, or lost its raft leader:
 * the stream asks for one with etcd's "hasleader" metadata, so a member
 * cut off from the others ends it instead of keeping quiet) is reopened
 * from that revision after a backoff, and etcd replays what happened
 * meanwhile; when it has compacted that history (compact_revision), the
 * next start is a fresh one.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "store_etcd.h"

#define ET_WATCH_PATH	     "/etcdserverpb.Watch/Watch"
#define ET_WATCH_BACKOFF_MIN 100  /* ms, after a stream ended */
#define ET_WATCH_BACKOFF_MAX 2000 /* ms, doubling up to this */

struct et_watch {
	struct et *st;
	uv_loop_t *loop;
	store_watch_cb cb;
	void *arg;
	struct itm_rpc_client *rpc;
	struct itm_rpc_bidi *s; /* NULL while down */
	uv_timer_t retry;
	int backoff_ms;
	int64_t next_rev; /* first revision not reported; 0: start afresh */
	int created;	  /* watchers etcd created on this stream */
	int up;		  /* both created, STORE_SYNC said */
	int stopping;
	char k_current[ET_KEY_MAX], k_leader[ET_KEY_MAX];
};

static void watch_open(struct et_watch *w);

/* ------------------------------------------------------------------ */
/* Events                                                               */
/* ------------------------------------------------------------------ */

static int
key_is(const ProtobufCBinaryData *k, const char *key)
{
	return k->len == strlen(key) && memcmp(k->data, key, k->len) == 0;
}

static void
event(struct et_watch *w, const Etcdserverpb__Event *ev)
{
	const Etcdserverpb__KeyValue *kv = ev->kv;
	int put = ev->type == ETCDSERVERPB__EVENT__EVENT_TYPE__PUT;
	char val[256];

	if (!kv)
		return;
	if (kv->mod_revision >= w->next_rev)
		w->next_rev = kv->mod_revision + 1;
	snprintf(val, sizeof(val), "%.*s", put ? (int)kv->value.len : 0,
		 (const char *)kv->value.data);
	if (key_is(&kv->key, w->k_current) && put)
		w->cb(w->arg, STORE_CURRENT, strtoull(val, NULL, 10), "");
	else if (key_is(&kv->key, w->k_leader))
		w->cb(w->arg, STORE_LEADER, 0, val);
}

static void
created(struct et_watch *w)
{
	char text[96];

	if (++w->created < 2)
		return;
	w->up = 1;
	w->backoff_ms = ET_WATCH_BACKOFF_MIN;
	snprintf(text, sizeof(text), "etcd watch from revision %" PRId64,
		 w->next_rev);
	w->cb(w->arg, STORE_SYNC, 0, text);
}

static void
on_msg(void *arg, const ProtobufCMessage *msg)
{
	struct et_watch *w = arg;
	const Etcdserverpb__WatchResponse *r = (const void *)msg;

	if (r->canceled) {
		/* Events we have not seen are gone: start afresh. */
		if (r->compact_revision > 0)
			w->next_rev = 0;
		itm_rpc_bidi_cancel(w->s);
		return;
	}
	if (r->created)
		created(w);
	for (size_t i = 0; i < r->n_events; i++)
		event(w, r->events[i]);
}

/* ------------------------------------------------------------------ */
/* The stream                                                           */
/* ------------------------------------------------------------------ */

static void
retry_cb(uv_timer_t *t)
{
	watch_open(t->data);
}

static void
retry_later(struct et_watch *w, const char *why)
{
	char text[ITM_RPC_MSG_MAX + 128];

	snprintf(text, sizeof(text), "etcd watch: %s; again in %d ms", why,
		 w->backoff_ms);
	if (w->up)
		w->cb(w->arg, STORE_BROKEN, 0, text);
	w->up = 0;
	uv_timer_start(&w->retry, retry_cb, w->backoff_ms, 0);
	w->backoff_ms *= 2;
	if (w->backoff_ms > ET_WATCH_BACKOFF_MAX)
		w->backoff_ms = ET_WATCH_BACKOFF_MAX;
}

static void
on_end(void *arg, const struct itm_rpc_status *st)
{
	struct et_watch *w = arg;
	char why[ITM_RPC_MSG_MAX + 32];

	w->s = NULL;
	if (w->stopping)
		return;
	snprintf(why, sizeof(why), "%s: %s", itm_rpc_code_name(st->code),
		 st->message);
	if (w->next_rev == 0) /* compacted: no wait */
		w->backoff_ms = ET_WATCH_BACKOFF_MIN;
	retry_later(w, why);
}

static int
send_create(struct et_watch *w, const char *key)
{
	Etcdserverpb__WatchRequest req = ETCDSERVERPB__WATCH_REQUEST__INIT;
	Etcdserverpb__WatchCreateRequest cr =
		ETCDSERVERPB__WATCH_CREATE_REQUEST__INIT;

	cr.key.data = (uint8_t *)key;
	cr.key.len = strlen(key);
	cr.start_revision = w->next_rev;
	req.request_union_case =
		ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST;
	req.create_request = &cr;
	return itm_rpc_bidi_send(w->s, &req.base);
}

/* A fresh start: the revision to watch from, read from etcd. */
static int
read_revision(struct et_watch *w, char *err, size_t errlen)
{
	Etcdserverpb__RangeResponse *r = NULL;
	int rc = etcd_range(w->st->kv, w->k_current, 0, &r, err, errlen);

	if (rc == 0 && (!r->header || r->header->revision <= 0)) {
		snprintf(err, errlen, "etcd sent no revision");
		rc = -EIO;
	}
	if (rc == 0)
		w->next_rev = r->header->revision + 1;
	etcd_kv_free(r);
	return rc;
}

static void
watch_open(struct et_watch *w)
{
	static const char *const md[] = { "hasleader", "true", NULL };
	struct itm_rpc_bidi_opts o = {
		.reply = &etcdserverpb__watch_response__descriptor,
		.metadata = md,
		.on_msg = on_msg,
		.on_end = on_end,
		.arg = w,
		.wait_for_ready = 1, /* for the channel to reach a member */
	};
	char err[512];
	int rc;

	if (w->next_rev == 0 && read_revision(w, err, sizeof(err)) < 0) {
		retry_later(w, err);
		return;
	}
	w->created = 0;
	rc = itm_rpc_bidi_open(w->rpc, w->loop, ET_WATCH_PATH, &o, &w->s);
	if (rc < 0) {
		retry_later(w, strerror(-rc));
		return;
	}
	if (send_create(w, w->k_current) < 0 || send_create(w, w->k_leader) < 0)
		itm_rpc_bidi_cancel(w->s); /* on_end retries */
}

/* ------------------------------------------------------------------ */
/* store_watch(), store_unwatch()                                       */
/* ------------------------------------------------------------------ */

int
et_watch(struct store *base, struct uv_loop_s *loop, store_watch_cb cb,
	 void *arg)
{
	struct et *st = et_of(base);
	struct et_watch *w;

	if (st->watch)
		return -EALREADY;
	if (!(w = calloc(1, sizeof(*w))))
		return -ENOMEM;
	*w = (struct et_watch){ .st = st,
				.loop = loop,
				.cb = cb,
				.arg = arg,
				.backoff_ms = ET_WATCH_BACKOFF_MIN };
	if (!et_key(st, w->k_current, "current") ||
	    !et_key(st, w->k_leader, "leader") ||
	    etcd_kv_client_new(st->kv, &w->rpc) < 0) {
		free(w);
		return -ENOMEM;
	}
	uv_timer_init(loop, &w->retry);
	w->retry.data = w;
	st->watch = w;
	watch_open(w);
	return 0;
}

static void
free_cb(uv_handle_t *h)
{
	free(h->data);
}

void
et_unwatch(struct store *base)
{
	struct et *st = et_of(base);
	struct et_watch *w = st->watch;

	if (!w)
		return;
	st->watch = NULL;
	w->stopping = 1;
	itm_rpc_client_free(w->rpc); /* ends the stream: on_end, stopping */
	uv_close((uv_handle_t *)&w->retry, free_cb);
}
