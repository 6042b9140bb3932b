/*
 * modhost.h - a minimal host for driving an in-agent module in a unit test
 * or fuzz target: it captures the module's registration, timers and
 * counters, and runs packets through the real dispatch walk.
 */
#ifndef ITM_TEST_MODHOST_H
#define ITM_TEST_MODHOST_H

#include "dispatch.h"
#include "itm_plugin.h"

struct modhost {
	struct itm_info *info; /* the module's registration */
	itm_where hook;
	struct itm__reg *reg;
	struct itm_module mod;
	struct itm_params *params;
	unsigned int settles; /* settle requests seen */
	struct itm_settle last_settle;
	char error[256];
	const char *counter_names[32];
	const uint64_t *counters[32];
	unsigned int n_counters;
};

extern struct modhost modhost;

/* Load @plugin with "k=v" parameters; returns its load result. */
int modhost_load(const struct itm_plugin *plugin, const char *const *kv,
		 unsigned int n);
void modhost_unload(const struct itm_plugin *plugin);
/* Run @pkt through the registration; returns the class it was counted in
 * (-1 when the packet went uncounted) and sets *@verdict. */
int modhost_run(struct itm_packet *pkt, int *verdict, uint32_t *settle);
uint64_t modhost_counter(const char *name);

/* A parsed IPv4 packet in @buf (headroom included): TCP when @proto is
 * IPPROTO_TCP (with @tcp_flags), else UDP, @payload bytes of zeroes. */
void modhost_packet(struct itm_packet *pkt, uint8_t *buf, size_t cap,
		    uint8_t proto, uint32_t saddr, uint16_t sport,
		    uint32_t daddr, uint16_t dport, uint8_t tos,
		    uint8_t tcp_flags, uint16_t payload);

#endif
