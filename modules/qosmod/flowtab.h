/*
 * flowtab.h - qosmod's bounded flow table: per-flow packet counters with
 * idle expiry.  Fixed capacity chosen at load; when full, the least
 * recently seen flow is evicted, so a flood of new flows costs old idle
 * entries, never memory.  No allocation after creation.
 */
#ifndef QOSMOD_FLOWTAB_H
#define QOSMOD_FLOWTAB_H

#include <stdint.h>

struct flow_key {
	uint32_t saddr[4], daddr[4]; /* IPv4 in [0], IPv6 in full */
	uint16_t sport, dport;
	uint8_t proto, family;
};

struct flow {
	struct flow_key key;
	uint64_t packets; /* counted by log_func */
	uint64_t last_ms;
	uint8_t level; /* current class - 1 */
	uint8_t settled;
};

struct flowtab;

struct flowtab *flowtab_new(uint32_t capacity);
void flowtab_free(struct flowtab *t);

/* The flow of @key, or NULL. Refreshes its age. */
struct flow *flowtab_find(struct flowtab *t, const struct flow_key *k,
			  uint64_t now_ms);
/* Insert @key (must not be present); evicts the oldest when full and then
 * sets *@evicted.  Never fails. */
struct flow *flowtab_add(struct flowtab *t, const struct flow_key *k,
			 uint64_t now_ms, int *evicted);
/* Drop flows idle for more than @idle_ms; returns how many. */
uint32_t flowtab_expire(struct flowtab *t, uint64_t now_ms, uint64_t idle_ms);
uint32_t flowtab_count(const struct flowtab *t);

#endif /* QOSMOD_FLOWTAB_H */
