/*
 * agent_client.h - libitm's calls to the local itm-agent (Attach, Detach,
 * Heartbeat, Settle, GetStatus, GetTable).  The only libitm file that
 * speaks protobuf besides wire.c and wire_table.c.
 */
#ifndef ITM_AGENT_CLIENT_H
#define ITM_AGENT_CLIENT_H

#include <stdint.h>
#include <uv.h>

#include "itm.h"
#include "publish.h"
#include "reg.h"
#include "runner.h"

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

/* Attach @reg (its info, hook and may_settle) to the agent. */
int itm__agent_attach(struct itm__agent *a, const struct itm__reg *reg,
		      uint32_t copy_bytes, const char *module,
		      struct itm__attach_grant *g, char *err, size_t errlen);
int itm__agent_detach(struct itm__agent *a, uint64_t lease);

/* What the process reports with its heartbeat. */
struct itm__hb_reg {
	uint64_t lease;
	const struct itm__reg *reg;
	struct itm__runner_lat lat; /* its queue's verdict latency */
};

struct itm__hb_counter {
	const char *name;
	const uint64_t *value;
};

#define ITM__HB_MAX_LEASES 64

/* A heartbeat's answer: @rc 0 with the leases the agent does not know
 * and the generation of the table it holds (0: none), or a negative
 * errno and @err. */
typedef void (*itm__hb_done)(void *arg, int rc, const char *err,
			     const uint64_t *unknown, unsigned int n_unknown,
			     uint64_t table_gen);

/* Sends stats without blocking; @done runs on @loop with the answer
 * (also when the call fails, unless this returns an error).  The reply
 * arrives on a thread of its own that also keeps the connection to the
 * agent going (reconnecting, handshakes) between calls. */
int itm__agent_heartbeat(struct itm__agent *a, uv_loop_t *loop,
			 const char *module, const struct itm__hb_reg *regs,
			 unsigned int n, const struct itm__hb_counter *ctr,
			 unsigned int nc, const struct itm__publish *pub,
			 itm__hb_done done, void *arg);
int itm__agent_settle(struct itm__agent *a, uint64_t lease,
		      const struct itm_settle *s, uint32_t *mark, char *err,
		      size_t errlen);

struct itm__table;

/* The table the agent holds (table.h): 0 with *@out NULL when it holds
 * none yet, or with a table (one reference); a negative errno and @err. */
int itm__agent_get_table(struct itm__agent *a, struct itm__table **out,
			 char *err, size_t errlen);

/* The same without blocking: @done runs on @loop with the outcome (also
 * when the call fails, unless this returns an error). */
typedef void (*itm__table_done)(void *arg, int rc, const char *err,
				struct itm__table *t);
int itm__agent_get_table_async(struct itm__agent *a, uv_loop_t *loop,
			       itm__table_done done, void *arg);

#endif /* ITM_AGENT_CLIENT_H */
