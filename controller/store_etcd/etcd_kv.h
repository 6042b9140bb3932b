/*
 * etcd_kv.h - a small etcd v3 client on ITM's gRPC C-core glue
 * (proto/itm_rpc.h): KV Range, Put, DeleteRange and Txn, and Maintenance
 * Status.  Blocking calls, one at a time per client; the messages are
 * etcd's own (etcd_rpc.proto, generated into the build tree).
 *
 * Endpoints: "HOST:PORT[,HOST:PORT...]".  Several endpoints must be IP
 * addresses (one family): gRPC then picks the first member that answers
 * and moves to another when it goes away.
 *
 * Functions return 0 or a negative errno value; on failure @err says
 * what etcd (or the way to it) answered.
 */
#ifndef ITM_ETCD_KV_H
#define ITM_ETCD_KV_H

#include <stddef.h>
#include <stdint.h>

#include "etcd_rpc.pb-c.h"
#include "itm_rpc.h"

/*
 * The wait of one call to etcd, its retries of UNAVAILABLE (a raft leader
 * change) included.  The controller's loop waits for it (its calls to
 * the store are blocking): short by default, so that without quorum the
 * loop goes on answering from what it holds; longer for an apply's
 * calls, which should ride out an election inside etcd (about 1 s).
 */
#define ETCD_KV_DEADLINE_MS	  1000
#define ETCD_KV_APPLY_DEADLINE_MS 4000
#define ETCD_KV_RETRY_STEP_MS	  250

struct etcd_kv;

int etcd_kv_open(struct etcd_kv **out, const char *endpoints,
		 const struct itm_rpc_tls *tls, char *err, size_t errlen);
void etcd_kv_close(struct etcd_kv *kv);
/* Another gRPC client to @kv's endpoints, with its TLS: for a stream
 * that lives apart from the blocking calls (the watch, store_etcd_watch.c).
 * Free it with itm_rpc_client_free(). */
int etcd_kv_client_new(struct etcd_kv *kv, struct itm_rpc_client **out);
/* Each call's wait from now on (ms); returns the one it replaces. */
int etcd_kv_deadline(struct etcd_kv *kv, int ms);

/* The key, or with @prefix every key starting with it, sorted by key.
 * Free *@out with etcd_kv_free(). */
int etcd_range(struct etcd_kv *kv, const char *key, int prefix,
	       Etcdserverpb__RangeResponse **out, char *err, size_t errlen);
/* How many keys start with @prefix. */
int etcd_count(struct etcd_kv *kv, const char *prefix, int64_t *n, char *err,
	       size_t errlen);
int etcd_put(struct etcd_kv *kv, const char *key, const void *val, size_t len,
	     char *err, size_t errlen);
int etcd_delete(struct etcd_kv *kv, const char *key, char *err, size_t errlen);
int etcd_txn(struct etcd_kv *kv, const Etcdserverpb__TxnRequest *req,
	     Etcdserverpb__TxnResponse **out, char *err, size_t errlen);
int etcd_status(struct etcd_kv *kv, Etcdserverpb__StatusResponse **out,
		char *err, size_t errlen);

/* A lease of @ttl_s seconds (*@id), and its end. */
int etcd_lease_grant(struct etcd_kv *kv, int64_t ttl_s, int64_t *id, char *err,
		     size_t errlen);
int etcd_lease_revoke(struct etcd_kv *kv, int64_t id, char *err, size_t errlen);

/* Free a reply of the calls above (NULL is fine). */
void etcd_kv_free(void *reply);

/* Fill @op as a Put of @key = @val (nothing is copied). */
void etcd_op_put(Etcdserverpb__RequestOp *op, Etcdserverpb__PutRequest *put,
		 const char *key, const void *val, size_t len);

#endif /* ITM_ETCD_KV_H */
