/*
 * store_etcd.h - what the etcd backend's two files share: the handle,
 * its keys, its failures and the packing of its values
 * (store_values.proto).  store_etcd.c opens the store and keeps the
 * generations; store_etcd_rows.c the nodes, agents and placements;
 * store_etcd_lead.c the leadership among controllers; store_etcd_watch.c
 * the watch of the current generation and the leader.
 */
#ifndef ITM_STORE_ETCD_H
#define ITM_STORE_ETCD_H

#include "etcd_kv.h"
#include "store.h"
#include "store_values.pb-c.h"

/* The handle: struct store first (store.h). */
struct et {
	struct store base;
	struct etcd_kv *kv;
	char prefix[256];	/* "/itm/": every key starts with it */
	int64_t lease;		/* of our leader key while we lead, else 0 */
	struct et_watch *watch; /* store_etcd_watch.c, while watching */
};

/* Longest key: the prefix, a kind, a node and a module name. */
#define ET_KEY_MAX 1024

static inline struct et *
et_of(struct store *st)
{
	return (struct et *)st;
}

/* @buf = the prefix then @fmt; NULL if it does not fit (never with names
 * a topology accepts). */
char *et_key(const struct et *st, char *buf, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Record a failure: st->base.err from @msg (or @fmt), errno value @rc. */
int et_fail(struct et *st, int rc, const char *msg);
int et_failf(struct et *st, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Pack @m into a new buffer (*@len bytes); NULL when out of memory. */
uint8_t *et_pack(const ProtobufCMessage *m, size_t *len);
/* Unpack @kv's value as @desc, failing with a message naming the key. */
ProtobufCMessage *et_unpack(struct et *st, const Etcdserverpb__KeyValue *kv,
			    const ProtobufCMessageDescriptor *desc);

/* The current generation (0: none). */
int et_current(struct et *st, uint64_t *gen);

/* The rows' calls (store_etcd_rows.c). */
int et_nodes(struct store *base, struct store_node **out, size_t *n);
int et_agents_seen(struct store *base, const struct store_seen *v, size_t n);
int et_agent_acks(struct store *base, const char *const *nodes,
		  const uint64_t *gens, size_t n);
int et_placements(struct store *base, const char *node,
		  struct store_placement **out, size_t *n);
int et_placed_nodes(struct store *base, char ***out, size_t *n);
int et_placement_set(struct store *base, const char *node, const char *module,
		     const char *params, uint64_t gen, int64_t now_ms);
int et_placement_del(struct store *base, const char *node, const char *module);

/* Leadership (store_etcd_lead.c). */
int et_lead(struct store *base, const char *me, int ttl_s, char *leader,
	    size_t len);
void et_resign(struct store *base);
int et_health(struct store *base, char *buf, size_t len);

/* Following P/current and P/leader (store_etcd_watch.c). */
int et_watch(struct store *base, struct uv_loop_s *loop, store_watch_cb cb,
	     void *arg);
void et_unwatch(struct store *base);

#endif /* ITM_STORE_ETCD_H */
