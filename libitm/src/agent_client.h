/*
 * agent_client.h - libitm's calls to the local itm-agent (Attach, Detach,
 * Heartbeat, Settle, GetStatus).  The only libitm file that speaks
 * protobuf besides wire.c.
 */
#ifndef ITM_AGENT_CLIENT_H
#define ITM_AGENT_CLIENT_H

#include <stdint.h>
#include "itm.h"
#include "reg.h"

struct itm__agent;

struct itm__attach_grant {
	uint64_t lease;
	uint16_t queue;
	uint32_t stage_bit;
	uint32_t heartbeat_ms;
};

/* Connect to @target ("unix:/run/itm/agent.sock") and check it answers. */
int itm__agent_open(struct itm__agent **out, const char *target, char *err,
		    size_t errlen);
void itm__agent_close(struct itm__agent *a);

int itm__agent_attach(struct itm__agent *a, const struct itm_info *info,
		      itm_where hook, uint32_t copy_bytes, const char *module,
		      struct itm__attach_grant *g, char *err, size_t errlen);
int itm__agent_detach(struct itm__agent *a, uint64_t lease);

/* What the process reports with its heartbeat. */
struct itm__hb_reg {
	uint64_t lease;
	const struct itm__reg *reg;
};

struct itm__hb_counter {
	const char *name;
	const uint64_t *value;
};

/* Sends stats; fills @unknown with leases the agent does not know. */
int itm__agent_heartbeat(struct itm__agent *a, const char *module,
			 const struct itm__hb_reg *regs, unsigned int n,
			 const struct itm__hb_counter *ctr, unsigned int nc,
			 uint64_t *unknown, unsigned int *n_unknown,
			 char *err, size_t errlen);
int itm__agent_settle(struct itm__agent *a, uint64_t lease,
		      const struct itm_settle *s, uint32_t *mark, char *err,
		      size_t errlen);

#endif /* ITM_AGENT_CLIENT_H */
