/*
 * lease.h - process modules: each registration of a process is a lease,
 * kept alive by the process's heartbeats.  A lease whose process dies or
 * stops sending heartbeats is removed (its rules with it) within
 * LEASE_EXPIRY_MS; traffic keeps flowing meanwhile (--queue-bypass).
 */
#ifndef ITM_AGENT_LEASE_H
#define ITM_AGENT_LEASE_H

#include <stdint.h>
#include <sys/types.h>
#include "itm.h"
#include "telemetry.h"

#define LEASE_HEARTBEAT_MS 300
#define LEASE_EXPIRY_MS	   1500

struct lease_attach {
	char label[32];
	itm_where hook;
	int priority;
	struct itm_interest interest;
	uint32_t copy_bytes;
	int may_settle; /* AttachRequest.no_settle not set */
	pid_t pid;
	char module[32];
	char **class_names; /* borrowed */
	unsigned int n_class_names;
};

struct lease_grant {
	uint64_t lease;
	uint16_t queue;
	uint32_t stage_bit;
};

struct itm__runner_lat;

/* What a heartbeat reports for one registration. */
struct lease_report_reg {
	const char *label;
	const struct tele_class *cls; /* class id + counters */
	unsigned int n_cls;
};

void lease_init(void);
int lease_attach(const struct lease_attach *a, struct lease_grant *g, char *err,
		 size_t errlen);
int lease_detach(uint64_t id, char *err, size_t errlen);
/* Refresh the leases of @pid; @unknown gets the ids the agent does not
 * know (n_unknown set).  Stats replace the previous report. */
int lease_heartbeat(pid_t pid, const uint64_t *ids, unsigned int n,
		    const struct lease_report_reg *regs, unsigned int n_regs,
		    const struct tele_counter *counters,
		    unsigned int n_counters, uint64_t *unknown,
		    unsigned int *n_unknown);
/* The verdict latency of lease @id's queue, as a heartbeat of @pid
 * reports it: kept with the lease (ignored unless the lease is @pid's). */
/* The program name of process @pid, while it holds a lease; else NULL. */
const char *lease_proc_name(pid_t pid);
void lease_latency(pid_t pid, uint64_t id, const struct itm__runner_lat *lat);
int lease_settle(uint64_t id, const struct itm_settle *s, uint32_t *mark,
		 char *err, size_t errlen);
int lease_counters(const char *module, struct tele_counter **out,
		   unsigned int *n);
void lease_drop_all(void);
pid_t lease_pid(const struct lease *l);

#endif /* ITM_AGENT_LEASE_H */
