/*
 * kernel.h - everything the agent asks of netfilter, in one place (bgpd's
 * kroute.c): install and remove rule sets, the nfacct counters of
 * settlements, which NFQUEUE numbers are bound.  No other agent file runs
 * iptables or speaks nfnetlink_acct; the queues themselves are bound by
 * libitm's runners.
 *
 * None of these lock: with worker threads the caller holds agent_lock().
 */
#ifndef ITM_AGENT_KERNEL_H
#define ITM_AGENT_KERNEL_H

#include <stddef.h>
#include <stdint.h>

struct rules_buf;

/* Feed @script (ruleset.c) to iptables-nft-restore --noflush: one
 * transaction.  0, or a negative errno with the tool's message in @err. */
int kern_rules_install(const struct rules_buf *script, char *err,
		       size_t errlen);
/* Delete every ITM_ chain of the mangle table and every jump to one;
 * logs why it could not. */
int kern_rules_remove(void);

/* nfacct object "itm_s<id>" of settlement @id: made (a leftover of the same
 * name is zeroed and reused), read, and all of them deleted. */
int kern_acct_create(unsigned int id);
int kern_acct_read(unsigned int id, uint64_t *pkts, uint64_t *bytes);
int kern_acct_remove_all(void);

/* Leftovers of an agent that died: its rules, then its counters. */
int kern_cleanup(void);

/* Set bound[i] for each queue number base + i (i < n) some socket has
 * bound, zero the rest. */
void kern_queues_bound(uint16_t base, unsigned int n, uint8_t *bound);

#endif /* ITM_AGENT_KERNEL_H */
