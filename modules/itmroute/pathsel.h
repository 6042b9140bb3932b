/*
 * pathsel.h - itmroute's path selection: pure functions of the probes
 * sent and acknowledged and of the time, no I/O (unit-tested in
 * tests/unit/test_itmroute.c).
 *
 * For each destination the candidates are the direct path and one path
 * through each neighbour.  Paths are probed at different rates (the
 * schedule: probesched.h), so deadness counts probes, not time: a probe
 * is overdue once it is unanswered for its path's srtt + srtt/4 + 1 ms;
 * a path is suspect with one overdue probe since its last answer, and
 * dead with dead_probes of them (or before it ever answered).  Its metric
 * is srtt / (1 - loss) (loss over the last ITMR_LOSS_WINDOW probes that
 * had time to come back).  The path in use is left at once when it dies,
 * for the best live path that is not suspect (none: it waits for one,
 * fail-static); otherwise another
 * path is taken only when it is better by at least min_gain_pct percent
 * and min_gain_ms, has stayed the best for confirm_ms, and the last
 * switch is holddown_ms old.
 */
#ifndef ITMROUTE_PATHSEL_H
#define ITMROUTE_PATHSEL_H

#include <stdint.h>

#define ITMR_MAX_PATHS	 32 /* direct + 31 intermediates */
#define ITMR_LOSS_WINDOW 20
#define ITMR_SEQ_WINDOW	 64 /* probes of a path tracked (ACKs matched) */
#define ITMR_SRTT_SHIFT	 2  /* srtt += (sample - srtt) / 4 */
#define ITMR_METRIC_INF	 UINT64_MAX

struct itmr_sel_cfg {
	uint32_t interval_ms; /* between probes of one path */
	uint32_t dead_probes; /* silent probe intervals before dead */
	uint32_t min_gain_pct;
	uint32_t min_gain_ms;
	uint32_t confirm_ms;
	uint32_t holddown_ms;
};

struct itmr_path {
	uint32_t via;	       /* intermediate's underlay address, 0 direct */
	int via_node;	       /* the module's index of it, -1 direct */
	uint32_t seq_next;     /* seq of the next probe */
	uint32_t acked_hi;     /* highest seq answered + 1; 0: none */
	uint64_t acked;	       /* bit seq % 64: that probe was answered */
	uint64_t last_ack_ns;  /* 0: never */
	uint64_t last_sent_ns; /* 0: never probed */
	uint32_t sent_ms[ITMR_SEQ_WINDOW]; /* [seq % 64]: when, ms clock */
	uint64_t srtt_us;
	uint64_t last_rtt_us;
	uint32_t loss_pm; /* per mille, over the window */
	uint32_t overdue; /* itmr_path_overdue() at the last refresh */
	int alive;
};

enum itmr_switch_why {
	ITMR_SW_NONE = 0,
	ITMR_SW_FIRST,	/* the first path that answered */
	ITMR_SW_DEAD,	/* the path in use died */
	ITMR_SW_BETTER, /* hysteresis satisfied */
};

struct itmr_dest {
	struct itmr_path paths[ITMR_MAX_PATHS]; /* [0] is direct */
	unsigned int n_paths;
	int cur;		 /* index in paths, -1 none yet */
	uint64_t since_ns;	 /* when cur was chosen */
	uint64_t last_switch_ns; /* 0: never switched for a reason */
	int cand;		 /* a better path being confirmed, -1 none */
	uint64_t cand_since_ns;
	uint64_t switches;
};

void itmr_dest_init(struct itmr_dest *d);
/* Add a candidate; returns its index or -1 when full. */
int itmr_dest_add_path(struct itmr_dest *d, uint32_t via, int via_node);

/* A probe of @p goes out at @now_ns: returns its seq. */
uint32_t itmr_path_sent(struct itmr_path *p, uint64_t now_ns);
/* The ACK of probe @seq, sent at @sent_ns, came back at @now_ns.
 * Returns 0, or -1 for an ACK of no probe in the window (ignored). */
int itmr_path_acked(struct itmr_path *p, uint32_t seq, uint64_t sent_ns,
		    uint64_t now_ns);
/* Probes unanswered since @p's last answer and overdue at @now_ns. */
uint32_t itmr_path_overdue(const struct itmr_path *p, uint64_t now_ns);
/* Bring alive and loss up to @now_ns. */
void itmr_path_refresh(struct itmr_path *p, uint64_t now_ns,
		       const struct itmr_sel_cfg *c);
/* srtt / (1 - loss) in microseconds; ITMR_METRIC_INF when dead. */
uint64_t itmr_path_metric(const struct itmr_path *p);

/* Refresh every path and decide; returns why cur changed (ITMR_SW_NONE:
 * it did not).  With no path alive, cur stays (fail-static). */
enum itmr_switch_why itmr_dest_decide(struct itmr_dest *d, uint64_t now_ns,
				      const struct itmr_sel_cfg *c);

#endif
