/*
 * dispatch.h - the ordered walk of a packet over the registrations of one
 * stage (paper sections 3.2 and 6.1.2).
 *
 * For each registration in order whose interest the packet meets: class_func,
 * log_func, process_func (skipped for class 0), update_func, control_func;
 * per-class packets, bytes and flows are counted.  A later registration
 * sees the packet as earlier ones left it.  The first DROP ends the walk.
 */
#ifndef ITM_DISPATCH_H
#define ITM_DISPATCH_H

#include <stdint.h>
#include "itm.h"
#include "reg.h"

/* Host hooks the walk calls back into. */
struct itm__disp_host {
	/* Make a settlement id for @reg; returns the settle-request bits to
	 * put in the packet mark, or a negative errno. */
	int (*settle)(void *host_arg, struct itm__reg *reg,
		      const struct itm_settle *s, uint32_t *mark);
	/* Enter/leave module code (sets the "current module" for API calls,
	 * and may take the module's lock).  Called with each registration
	 * before its callbacks and with NULL after the walk; a non-zero
	 * return skips the registration (its module is being unloaded). */
	int (*enter)(void *host_arg, struct itm__reg *reg);
	void *host_arg;
};

struct itm__disp_result {
	int verdict;	      /* ITM_ACCEPT or ITM_DROP */
	uint32_t settle_mark; /* settle request bits or 0 */
};

/*
 * Run @pkt (parsed, pkt->mark without ITM's bits) through @regs[0..n).
 * With @check_interest the walk tests each registration's interest in user
 * space (stages shared by several registrations); the kernel already did
 * it for single-registration stages.
 */
void itm__disp_run(struct itm__reg *const *regs, unsigned int n,
		   int check_interest, const struct itm__disp_host *host,
		   struct itm_packet *pkt, struct itm__disp_result *res);

/* The packet and registration being handled on this thread, for
 * libitm_packet_altered() and itm_packet_settle(); NULL outside a walk. */
struct itm_packet *itm__disp_current_packet(void);
struct itm__reg *itm__disp_current_reg(void);

#endif /* ITM_DISPATCH_H */
