/*
 * store_etcd_lead.c - leadership among controllers sharing one etcd
 * store (store_lead(), store.h).  The leader holds the key P/leader,
 * attached to a lease of ttl seconds: taken with a Txn that compares its
 * create revision with 0 (nobody holds it), kept by putting it again,
 * only while it still holds our value, under a new lease and revoking the
 * old one.  Every call is unary (grant, Txn, revoke): no keepalive
 * stream.  When the leader dies, its lease ends within ttl seconds, the
 * key goes with it, and the next campaign of another controller wins.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store_etcd.h"

/* The holder's value from the failure branch's Range, into @leader. */
static void
holder_of(const Etcdserverpb__TxnResponse *r, char *leader, size_t len)
{
	const Etcdserverpb__RangeResponse *rr = NULL;

	leader[0] = '\0';
	if (r->n_responses == 1 &&
	    r->responses[0]->response_case ==
		    ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_RANGE)
		rr = r->responses[0]->response_range;
	if (rr && rr->n_kvs == 1)
		snprintf(leader, len, "%.*s", (int)rr->kvs[0]->value.len,
			 (const char *)rr->kvs[0]->value.data);
}

/* If P/leader is free (@keep 0) or holds @me (@keep 1), put @me there
 * with @lease: 1; else 0 with the holder in @leader. */
static int
lead_txn(struct et *st, const char *key, const char *me, int64_t lease,
	 int keep, char *leader, size_t len)
{
	Etcdserverpb__TxnRequest txn = ETCDSERVERPB__TXN_REQUEST__INIT;
	Etcdserverpb__Compare cmp = ETCDSERVERPB__COMPARE__INIT;
	Etcdserverpb__Compare *cmps[] = { &cmp };
	Etcdserverpb__RangeRequest get = ETCDSERVERPB__RANGE_REQUEST__INIT;
	Etcdserverpb__RequestOp put_op, get_op = ETCDSERVERPB__REQUEST_OP__INIT;
	Etcdserverpb__RequestOp *ok[] = { &put_op }, *ko[] = { &get_op };
	Etcdserverpb__PutRequest put;
	Etcdserverpb__TxnResponse *r = NULL;
	int rc;

	cmp.key.data = (uint8_t *)key;
	cmp.key.len = strlen(key);
	if (keep) {
		cmp.target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__VALUE;
		cmp.target_union_case =
			ETCDSERVERPB__COMPARE__TARGET_UNION_VALUE;
		cmp.value.data = (uint8_t *)me;
		cmp.value.len = strlen(me);
	} else {
		cmp.target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__CREATE;
		cmp.target_union_case =
			ETCDSERVERPB__COMPARE__TARGET_UNION_CREATE_REVISION;
	}
	etcd_op_put(&put_op, &put, key, me, strlen(me));
	put.lease = lease;
	get.key = cmp.key;
	get_op.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE;
	get_op.request_range = &get;
	txn.n_compare = 1;
	txn.compare = cmps;
	txn.n_success = txn.n_failure = 1;
	txn.success = ok;
	txn.failure = ko;
	rc = etcd_txn(st->kv, &txn, &r, st->base.err, sizeof(st->base.err));
	if (rc < 0)
		return st->base.last = rc;
	rc = r->succeeded ? 1 : 0;
	if (!rc)
		holder_of(r, leader, len);
	etcd_kv_free(r);
	return rc;
}

static void
lease_end(struct et *st, int64_t lease)
{
	char err[256];

	if (lease)
		etcd_lease_revoke(st->kv, lease, err, sizeof(err));
}

/* The lead's calls wait at most this each: the controller's loop waits
 * for them every second, and a renewal slower than that is a failure. */
#define ET_LEAD_CALL_MS 500

static int
lead_call(struct et *st, char *key, const char *me, int ttl_s, char *leader,
	  size_t len)
{
	int64_t lease;
	int rc;

	rc = etcd_lease_grant(st->kv, ttl_s, &lease, st->base.err,
			      sizeof(st->base.err));
	if (rc < 0)
		return st->base.last = rc;
	rc = lead_txn(st, et_key(st, key, "leader"), me, lease, st->lease != 0,
		      leader, len);
	/* Our key went with our lease (the controller's loop was held past
	 * its ttl: 1000 agents joining on etcd): nobody leads, so campaign
	 * at once as anyone would, rather than stand by for nobody. */
	if (rc == 0 && st->lease != 0 && leader[0] == '\0')
		rc = lead_txn(st, key, me, lease, 0, leader, len);
	if (rc == 1) {
		lease_end(st, st->lease);
		st->lease = lease;
		snprintf(leader, len, "%s", me);
		return 1;
	}
	lease_end(st, lease);
	if (rc == 0) { /* not ours (any more) */
		lease_end(st, st->lease);
		st->lease = 0;
	}
	return rc;
}

int
et_lead(struct store *base, const char *me, int ttl_s, char *leader, size_t len)
{
	struct et *st = et_of(base);
	char key[ET_KEY_MAX];
	int rc, deadline = etcd_kv_deadline(st->kv, ET_LEAD_CALL_MS);

	rc = lead_call(st, key, me, ttl_s, leader, len);
	etcd_kv_deadline(st->kv, deadline);
	return rc;
}

int
et_health(struct store *base, char *buf, size_t len)
{
	struct et *st = et_of(base);
	Etcdserverpb__StatusResponse *r = NULL;
	int rc;

	rc = etcd_status(st->kv, &r, buf, len);
	if (rc < 0)
		return rc;
	snprintf(buf, len,
		 "%s: etcd %s, member %llx, raft leader %llx, term %llu, "
		 "revision %lld%s%s",
		 r->n_errors ? "errors" : "ok", r->version,
		 (unsigned long long)(r->header ? r->header->member_id : 0),
		 (unsigned long long)r->leader, (unsigned long long)r->raftterm,
		 (long long)(r->header ? r->header->revision : 0),
		 r->n_errors ? ": " : "", r->n_errors ? r->errors[0] : "");
	rc = r->n_errors ? -EIO : 0;
	etcd_kv_free(r);
	return rc;
}

void
et_resign(struct store *base)
{
	struct et *st = et_of(base);

	lease_end(st, st->lease); /* the key goes with its lease */
	st->lease = 0;
}
