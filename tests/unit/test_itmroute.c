/*
 * test_itmroute.c - itmroute's pure parts: path selection (pathsel.c) on
 * a clock of its own, and the probe wire format (probe.c).
 *
 *  - the first path that answers is taken at once
 *  - a path silent for dead_probes intervals plus its RTT is dead, and
 *    the path in use is left for the best alive one at once
 *  - a better path is taken only with both gains, after confirm_ms, and
 *    not within holddown_ms of the last switch
 *  - jitter below the gains never switches
 *  - loss raises the metric; nothing alive keeps the path (fail-static)
 *  - probes encode and decode to the same fields; malformed ones refused
 *  - the probe schedule (probesched.c) on a simulated full mesh of 4, 8,
 *    16 and 32 nodes: bytes/s within the budget (and under 1% of 100
 *    Mbit/s at 16), alternatives as fresh as the budget allows, a budget
 *    too small for the fast set shared out; the link to a destination
 *    cut: left within the bound, for a detour measured after the cut
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "pathsel.h"
#include "probe.h"
#include "probesched.h"

#define MS 1000000ull

static const struct itmr_sel_cfg cfg = {
	.interval_ms = 100,
	.dead_probes = 3,
	.min_gain_pct = 20,
	.min_gain_ms = 5,
	.confirm_ms = 1000,
	.holddown_ms = 5000,
};

static struct itmr_dest d;
static uint64_t now;

/* Probes in flight: acked when the clock reaches their arrival. */
static struct {
	int path;
	uint32_t seq;
	uint64_t sent, arrive;
} fl[4096];
static unsigned int n_fl;

/* Three paths: direct, via A, via B. */
static void
setup_dest(void)
{
	itmr_dest_init(&d);
	assert_int_equal(itmr_dest_add_path(&d, 0, -1), 0);
	assert_int_equal(itmr_dest_add_path(&d, 0x0a000002, 1), 1);
	assert_int_equal(itmr_dest_add_path(&d, 0x0a000003, 2), 2);
	now = 1000 * MS;
	n_fl = 0;
}

static void
deliver(void)
{
	unsigned int k = 0;

	for (unsigned int i = 0; i < n_fl; i++) {
		if (fl[i].arrive <= now)
			itmr_path_acked(&d.paths[fl[i].path], fl[i].seq,
					fl[i].sent, fl[i].arrive);
		else
			fl[k++] = fl[i];
	}
	n_fl = k;
}

/* One tick: every path with a RTT (ms; < 0: no answer) is probed, the
 * clock runs one interval in 1 ms steps delivering ACKs; a decision. */
static enum itmr_switch_why
tick(const int rtt_ms[3])
{
	for (int i = 0; i < 3; i++) {
		uint32_t seq = itmr_path_sent(&d.paths[i], now);

		if (rtt_ms[i] >= 0 && n_fl < 4096)
			fl[n_fl++] = (typeof(fl[0])){
				i, seq, now, now + (uint64_t)rtt_ms[i] * MS
			};
	}
	for (unsigned int t = 0; t < cfg.interval_ms; t++) {
		now += MS;
		deliver();
	}
	return itmr_dest_decide(&d, now, &cfg);
}

/* Ticks for @ms; returns the index in use and the first switch's why. */
static int
run(int ms, const int rtt_ms[3], enum itmr_switch_why *why, int *at_ms)
{
	enum itmr_switch_why w;

	for (int t = 0; t < ms; t += (int)cfg.interval_ms) {
		w = tick(rtt_ms);
		if (w != ITMR_SW_NONE && why && *why == ITMR_SW_NONE) {
			*why = w;
			if (at_ms)
				*at_ms = t + (int)cfg.interval_ms;
		}
	}
	return d.cur;
}

static void
first_answer_taken(void **state)
{
	const int rtt[3] = { 10, 20, -1 };
	enum itmr_switch_why why = ITMR_SW_NONE;

	(void)state;
	setup_dest();
	assert_int_equal(run(100, rtt, &why, NULL), 0);
	assert_int_equal(why, ITMR_SW_FIRST);
	assert_int_equal(d.last_switch_ns, 0); /* no hold-down from it */
}

static void
dead_path_left_at_once(void **state)
{
	const int ok[3] = { 10, 20, 40 }, cut[3] = { -1, 20, 40 };
	enum itmr_switch_why why = ITMR_SW_NONE;
	int at = 0;

	(void)state;
	setup_dest();
	run(2000, ok, NULL, NULL);
	assert_int_equal(d.cur, 0);
	assert_int_equal(run(1000, cut, &why, &at), 1);
	assert_int_equal(why, ITMR_SW_DEAD);
	/* dead after 3 silent intervals plus the RTT: within 400 ms */
	assert_true(at >= 300 && at <= 400);
	assert_false(d.paths[0].alive);
	assert_int_equal(itmr_path_metric(&d.paths[0]), ITMR_METRIC_INF);
}

static void
better_path_needs_confirm_and_holddown(void **state)
{
	const int slow[3] = { 150, 20, 40 }, fast[3] = { 10, 20, 40 };
	enum itmr_switch_why why = ITMR_SW_NONE;
	int at = 0;

	(void)state;
	setup_dest();
	run(300, fast, NULL, NULL);
	assert_int_equal(d.cur, 0);
	/* direct slows down: via A, after confirm_ms of being better */
	assert_int_equal(run(3000, slow, &why, &at), 1);
	assert_int_equal(why, ITMR_SW_BETTER);
	assert_true(at >= 1000 && at <= 1600);
	/* direct recovers at once: back only after the hold-down */
	why = ITMR_SW_NONE;
	assert_int_equal(run(2500, fast, &why, NULL), 1);
	assert_int_equal(why, ITMR_SW_NONE);
	assert_int_equal(run(3000, fast, &why, NULL), 0);
	assert_int_equal(why, ITMR_SW_BETTER);
	assert_true(now - d.last_switch_ns < 3000 * MS);
}

static void
small_gains_never_switch(void **state)
{
	/* via A 15% better (pct fails); via B 4 ms better on 12 (ms fails) */
	const int a[3] = { 20, 17, -1 }, b[3] = { 12, -1, 8 };
	const int direct[3] = { 20, -1, -1 }, direct12[3] = { 12, -1, -1 };
	enum itmr_switch_why why = ITMR_SW_NONE;

	(void)state;
	setup_dest();
	run(200, direct, NULL, NULL);
	assert_int_equal(run(20000, a, &why, NULL), 0);
	assert_int_equal(why, ITMR_SW_NONE);
	setup_dest();
	run(200, direct12, NULL, NULL);
	assert_int_equal(run(20000, b, &why, NULL), 0);
	assert_int_equal(why, ITMR_SW_NONE);
}

static void
jitter_does_not_flap(void **state)
{
	int rtt[3];
	uint64_t switches;

	(void)state;
	setup_dest();
	rtt[0] = 10, rtt[1] = 12, rtt[2] = 11;
	run(500, rtt, NULL, NULL);
	switches = d.switches;
	for (int t = 0; t < 600; t++) { /* +-4 ms of jitter on each */
		rtt[0] = 10 + (t * 7) % 9 - 4;
		rtt[1] = 12 + (t * 5) % 9 - 4;
		rtt[2] = 11 + (t * 3) % 9 - 4;
		tick(rtt);
	}
	assert_int_equal(d.switches, switches);
}

static void
loss_counts_and_nothing_alive_keeps(void **state)
{
	const int none[3] = { -1, -1, -1 };
	int rtt[3] = { 10, 10, -1 };

	(void)state;
	setup_dest();
	for (int t = 0; t < 40; t++) {
		rtt[0] = t % 2 ? 10 : -1; /* direct loses half */
		tick(rtt);
	}
	assert_true(d.paths[0].loss_pm >= 400 && d.paths[0].loss_pm <= 600);
	assert_true(itmr_path_metric(&d.paths[0]) >
		    itmr_path_metric(&d.paths[1]));
	run(3000, none, NULL, NULL);
	assert_int_not_equal(d.cur, -1); /* fail-static */
}

static void
ack_outside_window_ignored(void **state)
{
	uint32_t seq;

	(void)state;
	setup_dest();
	seq = itmr_path_sent(&d.paths[0], now);
	assert_int_equal(itmr_path_acked(&d.paths[0], seq + 1, now, now), -1);
	assert_int_equal(itmr_path_acked(&d.paths[0], seq, now, now + MS), 0);
	assert_int_equal(itmr_path_acked(&d.paths[0], seq, now, now + MS), -1);
	for (int i = 0; i < 70; i++)
		itmr_path_sent(&d.paths[0], now);
	assert_int_equal(itmr_path_acked(&d.paths[0], seq, now, now), -1);
}

static void
probe_roundtrip(void **state)
{
	struct itmr_probe p = { .type = ITMR_ACK,
				.hops = 1,
				.origin = 0x0100000a,
				.target = 0x0400000a,
				.via = 0x0200000a,
				.seq = 77,
				.sent_ns = 0x0123456789abcdefull },
			  q;
	uint8_t buf[ITMR_PROBE_LEN];

	(void)state;
	assert_int_equal(itmr_probe_encode(&p, buf), ITMR_PROBE_LEN);
	assert_memory_equal(buf, "ITMR\x01\x02\x01\x00", 8);
	assert_int_equal(itmr_probe_decode(buf, sizeof(buf), &q), 0);
	assert_int_equal(q.type, p.type);
	assert_int_equal(q.hops, p.hops);
	assert_int_equal(q.origin, p.origin);
	assert_int_equal(q.target, p.target);
	assert_int_equal(q.via, p.via);
	assert_int_equal(q.seq, p.seq);
	assert_true(q.sent_ns == p.sent_ns);
	assert_int_equal(itmr_probe_decode(buf, sizeof(buf) - 1, &q), -EBADMSG);
	buf[5] = 9; /* type */
	assert_int_equal(itmr_probe_decode(buf, sizeof(buf), &q), -EBADMSG);
	buf[5] = ITMR_PROBE;
	memcpy(buf + 16, buf + 12, 4); /* via == target */
	assert_int_equal(itmr_probe_decode(buf, sizeof(buf), &q), -EBADMSG);
	memset(buf + 16, 0, 4); /* direct, but hops 1 */
	assert_int_equal(itmr_probe_decode(buf, sizeof(buf), &q), -EBADMSG);
}

/*
 * A full mesh of mn nodes seen from node 0: destination j (node j + 1)
 * has the direct path (10 ms RTT) and one through every other node
 * (20 ms).  A cut of the link 0 - C silences the direct path to C and
 * every path through C.
 */
static struct itmr_dest md[31];
static struct itmr_dest *mdp[31];
static struct itmr_sched ms;
static struct itmr_sched_probe mdue[ITMR_SCHED_MAX];
static unsigned int mn;
static int mcut;  /* node cut off from node 0, 0 none */
static int mdown; /* node down: no path to it answers, 0 none */
static struct {
	uint16_t dest, path;
	uint32_t seq;
	uint64_t sent, arrive;
} mfl[8192];
static unsigned int n_mfl;
static uint64_t mbytes, mgap_alt, mgap_direct; /* over the measured span */
static int measuring;
static unsigned int mskip = ~0u; /* its gaps not measured */
static uint64_t mswitch_ack;	 /* last answer of the path switched to */

static struct itmr_sched_cfg scfg = {
	.interval_ms = 100,
	.budget_Bps = 800 * 1000 / 8, /* the default probe_budget_kbps */
	.stale_ms = 5000,
	.dead_probes = 3,
};

static void
mesh_setup(unsigned int n)
{
	mn = n;
	mcut = mdown = 0;
	n_mfl = 0;
	now = 1000 * MS;
	itmr_sched_init(&ms);
	for (unsigned int j = 0; j < n - 1; j++) {
		itmr_dest_init(&md[j]);
		itmr_dest_add_path(&md[j], 0, -1);
		for (unsigned int v = 1; v < n; v++)
			if (v != j + 1)
				itmr_dest_add_path(&md[j], v, (int)v);
		mdp[j] = &md[j];
	}
}

/* Node the path's first hop goes to. */
static unsigned int
first_hop(unsigned int j, const struct itmr_path *p)
{
	return p->via ? p->via : j + 1;
}

static void
mesh_send(const struct itmr_sched_probe *pr)
{
	struct itmr_path *p = &md[pr->dest].paths[pr->path];
	uint64_t gap = now - p->last_sent_ns;
	uint32_t seq;

	if (measuring && pr->dest == mskip) {
		mbytes += itmr_sched_cost(p);
	} else if (measuring) {
		mbytes += itmr_sched_cost(p);
		if (p->via && gap > mgap_alt)
			mgap_alt = gap;
		if (!p->via && gap > mgap_direct)
			mgap_direct = gap;
	}
	seq = itmr_path_sent(p, now);
	if ((int)first_hop(pr->dest, p) == mcut || (int)pr->dest + 1 == mdown ||
	    n_mfl >= 8192)
		return;
	mfl[n_mfl++] = (typeof(mfl[0])){ pr->dest, pr->path, seq, now,
					 now + (p->via ? 20 : 10) * MS };
}

static void
mesh_deliver(void)
{
	unsigned int k = 0;

	for (unsigned int i = 0; i < n_mfl; i++) {
		if (mfl[i].arrive <= now)
			itmr_path_acked(&md[mfl[i].dest].paths[mfl[i].path],
					mfl[i].seq, mfl[i].sent, mfl[i].arrive);
		else
			mfl[k++] = mfl[i];
	}
	n_mfl = k;
}

/* One tick as the module's: decide, send what the schedule picks, run
 * the clock one interval.  Returns the first switch of destination 0. */
static enum itmr_switch_why
mesh_tick(void)
{
	enum itmr_switch_why w, w0 = ITMR_SW_NONE;
	size_t n;

	for (unsigned int j = 0; j < mn - 1; j++) {
		w = itmr_dest_decide(&md[j], now, &cfg);
		if (j == 0 && w != ITMR_SW_NONE)
			mswitch_ack = md[0].paths[md[0].cur].last_ack_ns;
		if (j == 0)
			w0 = w;
	}
	n = itmr_sched_tick(&ms, mdp, mn - 1, now, &scfg, mdue);
	for (size_t i = 0; i < n; i++)
		mesh_send(&mdue[i]);
	for (unsigned int t = 0; t < scfg.interval_ms; t++) {
		now += MS;
		mesh_deliver();
	}
	return w0;
}

/* Run @ms milliseconds; with @measure, bytes and gaps over them (gaps
 * of destination mskip's paths not counted). */
static void
mesh_run(int ms_, int measure)
{
	measuring = measure;
	mbytes = mgap_alt = mgap_direct = 0;
	for (int t = 0; t < ms_; t += (int)scfg.interval_ms)
		mesh_tick();
	measuring = 0;
}

static void
budget_bounds_probe_bytes(void **state)
{
	static const unsigned int sizes[] = { 4, 8, 16, 32 };

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t want, every, rate;

		itmr_sched_expect(sizes[i], &scfg, &want, &every);
		mesh_setup(sizes[i]);
		mesh_run(10000, 0); /* settle: first round, routes chosen */
		mesh_run(10000, 1);
		rate = mbytes / 10;
		print_message("  %2u nodes: %6llu B/s (expected %6llu, "
			      "budget %u); alternatives every %llu ms at "
			      "most (expected %llu)\n",
			      sizes[i], (unsigned long long)rate,
			      (unsigned long long)want, scfg.budget_Bps,
			      (unsigned long long)(mgap_alt / MS),
			      (unsigned long long)every);
		assert_true(rate <= scfg.budget_Bps);
		assert_true(rate * 100 >= want * 95 &&
			    rate * 100 <= want * 105);
		assert_true(mgap_direct <= 100 * MS); /* fast, always */
		assert_true(mgap_alt <= every * MS * 3 / 2 + 100 * MS);
		assert_true(mgap_alt <= scfg.stale_ms * MS);
		if (sizes[i] <= 16) /* under 1% of 100 Mbit/s */
			assert_true(rate < 125000);
		if (sizes[i] == 4) /* budget to spare: all every interval */
			assert_true(mgap_alt <= 100 * MS);
	}
}

static void
small_budget_shared_out(void **state)
{
	uint32_t keep = scfg.budget_Bps;

	(void)state;
	/* 20 kB/s for 31 direct paths that want 37.2 kB/s: each gets its
	 * turn, none starves, the budget holds */
	scfg.budget_Bps = 20000;
	mesh_setup(32);
	mesh_run(10000, 0);
	mesh_run(10000, 1);
	scfg.budget_Bps = keep;
	print_message(
		"  32 nodes, 20000 B/s: %llu B/s, direct paths every %llu ms at most\n",
		(unsigned long long)(mbytes / 10),
		(unsigned long long)(mgap_direct / MS));
	assert_true(mbytes <= 20000 * 10 + 20000 / 2); /* + the bucket */
	assert_true(mgap_direct <= 300 * MS);
}

/* Milliseconds since the latest probe of any of @d's alternatives. */
static uint64_t
alt_newest_ms(const struct itmr_dest *dd)
{
	uint64_t newest = 0;

	for (unsigned int k = 1; k < dd->n_paths; k++)
		if (dd->paths[k].last_sent_ns > newest)
			newest = dd->paths[k].last_sent_ns;
	return (now - newest) / MS;
}

static void
cut_left_within_bound_for_fresh_detour(void **state)
{
	static const unsigned int sizes[] = { 4, 16, 32 };

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		enum itmr_switch_why w = ITMR_SW_NONE;
		uint64_t cut_at;
		const struct itmr_path *p;
		int ms_ = 0;

		mesh_setup(sizes[i]);
		mesh_run(10000, 0);
		assert_int_equal(md[0].cur, 0); /* direct to node 1 */
		/* at 32 nodes each alternative is probed every 3.6 s: cut when
		 * node 1's were probed at least 1 s ago, so that only the
		 * burst can bring fresh numbers within the bound */
		while (sizes[i] == 32 && alt_newest_ms(&md[0]) < 1000)
			mesh_tick();
		mcut = 1, cut_at = now;
		while (w == ITMR_SW_NONE && ms_ < 2000) {
			ms_ = (int)((now - cut_at) / MS); /* decided now */
			w = mesh_tick();
		}
		p = &md[0].paths[md[0].cur];
		print_message("  %2u nodes: left the cut path after %d ms, "
			      "via node %u\n",
			      sizes[i], ms_, p->via);
		assert_int_equal(w, ITMR_SW_DEAD);
		assert_true(ms_ <= 400); /* 3 intervals + RTT */
		assert_true(p->via != 0 && p->via != 1);
		assert_true(mswitch_ack > cut_at); /* measured after the cut */
		for (unsigned int j = 1; j < sizes[i] - 1; j++)
			assert_int_equal(md[j].cur, 0); /* the others stay */
	}
}

static void
node_down_burst_bounded(void **state)
{
	uint64_t want, every;

	(void)state;
	/* node 16 goes down: its destination's alternatives are burst for
	 * probe_stale_ms at most, within the budget, and the others'
	 * alternatives are not starved */
	itmr_sched_expect(16, &scfg, &want, &every);
	mesh_setup(16);
	mesh_run(10000, 0);
	mdown = 15, mskip = 14;
	mesh_run(10000, 1);
	mskip = ~0u;
	print_message("  16 nodes, one down: %llu B/s, others' alternatives "
		      "every %llu ms at most\n",
		      (unsigned long long)(mbytes / 10),
		      (unsigned long long)(mgap_alt / MS));
	assert_true(mbytes <=
		    (uint64_t)scfg.budget_Bps * 10 + scfg.budget_Bps / 2);
	assert_true(mgap_alt <= every * MS * 2 + 100 * MS);
	assert_int_equal(md[14].cur, 0); /* fail-static: the route stays */
	assert_false(md[14].paths[0].alive);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(first_answer_taken),
		cmocka_unit_test(dead_path_left_at_once),
		cmocka_unit_test(better_path_needs_confirm_and_holddown),
		cmocka_unit_test(small_gains_never_switch),
		cmocka_unit_test(jitter_does_not_flap),
		cmocka_unit_test(loss_counts_and_nothing_alive_keeps),
		cmocka_unit_test(ack_outside_window_ignored),
		cmocka_unit_test(probe_roundtrip),
		cmocka_unit_test(budget_bounds_probe_bytes),
		cmocka_unit_test(small_budget_shared_out),
		cmocka_unit_test(cut_left_within_bound_for_fresh_detour),
		cmocka_unit_test(node_down_burst_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
