/*
 * modhost.h - a minimal host for driving an in-agent module in a unit test
 * or fuzz target: it captures the module's registration, timers and
 * counters, and runs packets through the real dispatch walk.
 *
 * Each struct modhost is one loaded instance, as an agent would have it:
 * two of them may hold the same plugin at once (two agents in one
 * process), and nothing of one may show in the other.
 */
#ifndef ITM_TEST_MODHOST_H
#define ITM_TEST_MODHOST_H

#include "dispatch.h"
#include "itm_plugin.h"

#define MODHOST_COUNTERS 32
#define MODHOST_TIMERS	 8

struct modhost {
	const struct itm_plugin *plugin;
	struct itm_info *info; /* the module's registration */
	itm_where hook;
	struct itm__reg *reg;
	struct itm_module mod;
	struct itm_params *params;
	struct itm__disp_host disp; /* host_arg: this modhost */
	unsigned int settles;	    /* settle requests seen */
	struct itm_settle last_settle;
	char error[256];
	const char *counter_names[MODHOST_COUNTERS];
	const uint64_t *counters[MODHOST_COUNTERS];
	unsigned int n_counters;
	struct {
		void (*f)(unsigned long);
		unsigned long arg;
	} timers[MODHOST_TIMERS];
	unsigned int n_timers;
};

/* Load @plugin into @h (zeroed first) with "k=v" parameters; returns its
 * load result (the reason in h->error). */
int modhost_load(struct modhost *h, const struct itm_plugin *plugin,
		 const char *const *kv, unsigned int n);
void modhost_unload(struct modhost *h);
/* Run @pkt through @h's registration; returns the class it was counted in
 * (-1 when the packet went uncounted) and sets *@verdict. */
int modhost_run(struct modhost *h, struct itm_packet *pkt, int *verdict,
		uint32_t *settle);
/* Fire every timer of @h once, as the loop would. */
void modhost_tick(struct modhost *h);
uint64_t modhost_counter(const struct modhost *h, const char *name);

/* A parsed IPv4 packet in @buf (headroom included): TCP when @proto is
 * IPPROTO_TCP (with @tcp_flags), else UDP, @payload bytes of zeroes. */
void modhost_packet(struct itm_packet *pkt, uint8_t *buf, size_t cap,
		    uint8_t proto, uint32_t saddr, uint16_t sport,
		    uint32_t daddr, uint16_t dport, uint8_t tos,
		    uint8_t tcp_flags, uint16_t payload);

#endif
