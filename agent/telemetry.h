/*
 * telemetry.h - per-module, per-registration, per-class counters,
 * gathered from the packet path (in-agent), heartbeats (process modules)
 * and the kernel (flows settled there).  rpc.c turns them into StatsReply.
 */
#ifndef ITM_AGENT_TELEMETRY_H
#define ITM_AGENT_TELEMETRY_H

#include <stdint.h>
#include "itm.h"

struct tele_class {
	unsigned int id;
	char name[32];
	uint64_t packets, bytes, flows;
	uint64_t settled_packets, settled_bytes;
};

struct tele_reg {
	char label[32];
	itm_where hook;
	struct tele_class *cls;
	unsigned int n_cls;
};

struct tele_counter {
	char name[48];
	uint64_t value;
};

struct tele_module {
	char name[32];
	const char *kind; /* "agent" or "process" */
	struct tele_reg *regs;
	unsigned int n_regs;
	struct tele_counter *counters;
	unsigned int n_counters;
};

struct tele_report {
	struct tele_module *mods;
	unsigned int n_mods;
};

/* Collect for module @filter (NULL or "" = all).  -ENOENT: no such one. */
int tele_collect(const char *filter, struct tele_report *out);
void tele_free(struct tele_report *r);

#endif /* ITM_AGENT_TELEMETRY_H */
