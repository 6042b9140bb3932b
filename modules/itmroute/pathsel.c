/*
 * pathsel.c - path selection with hysteresis (pathsel.h).  Pure: the
 * caller passes the time.
 */
#include <string.h>

#include "pathsel.h"

#define MS 1000000ull

void
itmr_dest_init(struct itmr_dest *d)
{
	memset(d, 0, sizeof(*d));
	d->cur = -1;
	d->cand = -1;
}

int
itmr_dest_add_path(struct itmr_dest *d, uint32_t via, int via_node)
{
	struct itmr_path *p;

	if (d->n_paths >= ITMR_MAX_PATHS)
		return -1;
	p = &d->paths[d->n_paths];
	memset(p, 0, sizeof(*p));
	p->via = via;
	p->via_node = via_node;
	return (int)d->n_paths++;
}

static uint32_t
ms_clock(uint64_t ns)
{
	return (uint32_t)(ns / MS);
}

uint32_t
itmr_path_sent(struct itmr_path *p, uint64_t now_ns)
{
	uint32_t seq = p->seq_next++;

	p->acked &= ~(1ull << (seq % ITMR_SEQ_WINDOW));
	p->sent_ms[seq % ITMR_SEQ_WINDOW] = ms_clock(now_ns);
	p->last_sent_ns = now_ns;
	return seq;
}

static void
srtt_update(struct itmr_path *p, uint64_t rtt_us)
{
	p->last_rtt_us = rtt_us;
	if (p->last_ack_ns == 0)
		p->srtt_us = rtt_us;
	else if (rtt_us >= p->srtt_us)
		p->srtt_us += (rtt_us - p->srtt_us) >> ITMR_SRTT_SHIFT;
	else
		p->srtt_us -= (p->srtt_us - rtt_us) >> ITMR_SRTT_SHIFT;
}

int
itmr_path_acked(struct itmr_path *p, uint32_t seq, uint64_t sent_ns,
		uint64_t now_ns)
{
	uint64_t bit = 1ull << (seq % ITMR_SEQ_WINDOW);

	if (seq >= p->seq_next || p->seq_next - seq > ITMR_SEQ_WINDOW ||
	    now_ns < sent_ns)
		return -1;
	if (p->acked & bit)
		return -1; /* a duplicate */
	p->acked |= bit;
	srtt_update(p, (now_ns - sent_ns) / 1000);
	if (now_ns > p->last_ack_ns)
		p->last_ack_ns = now_ns;
	if (seq + 1 > p->acked_hi)
		p->acked_hi = seq + 1;
	p->alive = 1;
	return 0;
}

/* A probe has had time to come back when it is older than this (ms). */
static uint32_t
answer_time_ms(const struct itmr_path *p)
{
	return (uint32_t)((p->srtt_us + p->srtt_us / 4) / 1000) + 1;
}

/* Probes in the window are sent in time order: walking back from the
 * newest, the first old enough starts the run of old enough ones. */
static uint32_t
oldest_young(const struct itmr_path *p, uint64_t now_ns)
{
	uint32_t now = ms_clock(now_ns), wait = answer_time_ms(p);
	uint32_t s = p->seq_next, low;

	low = s > ITMR_SEQ_WINDOW ? s - ITMR_SEQ_WINDOW : 0;
	while (s > low && now - p->sent_ms[(s - 1) % ITMR_SEQ_WINDOW] <= wait)
		s--;
	return s; /* seqs below it had time to come back */
}

uint32_t
itmr_path_overdue(const struct itmr_path *p, uint64_t now_ns)
{
	uint32_t end = oldest_young(p, now_ns), low = p->acked_hi;

	if (p->seq_next > ITMR_SEQ_WINDOW &&
	    low < p->seq_next - ITMR_SEQ_WINDOW)
		low = p->seq_next - ITMR_SEQ_WINDOW;
	return end > low ? end - low : 0;
}

/* Loss over the last ITMR_LOSS_WINDOW probes old enough to have been
 * answered. */
static uint32_t
loss_pm(const struct itmr_path *p, uint64_t now_ns)
{
	uint32_t end = oldest_young(p, now_ns), n = 0, lost = 0;
	uint32_t low = p->seq_next > ITMR_SEQ_WINDOW
			       ? p->seq_next - ITMR_SEQ_WINDOW
			       : 0;

	for (uint32_t s = end; s-- > low && n < ITMR_LOSS_WINDOW; n++)
		lost += !(p->acked & (1ull << (s % ITMR_SEQ_WINDOW)));
	return n ? lost * 1000 / n : 0;
}

void
itmr_path_refresh(struct itmr_path *p, uint64_t now_ns,
		  const struct itmr_sel_cfg *c)
{
	p->overdue = itmr_path_overdue(p, now_ns);
	p->alive = p->last_ack_ns != 0 && p->overdue < c->dead_probes;
	p->loss_pm = loss_pm(p, now_ns);
}

uint64_t
itmr_path_metric(const struct itmr_path *p)
{
	uint32_t loss = p->loss_pm > 900 ? 900 : p->loss_pm;

	if (!p->alive)
		return ITMR_METRIC_INF;
	return (p->srtt_us ? p->srtt_us : 1) * 1000 / (1000 - loss);
}

/* The best live path; with @sound, only among paths with no probe
 * overdue. */
static int
best_path(const struct itmr_dest *d, int sound)
{
	uint64_t m, best_m = ITMR_METRIC_INF;
	int best = -1;

	for (unsigned int i = 0; i < d->n_paths; i++) {
		if (sound && d->paths[i].overdue)
			continue;
		m = itmr_path_metric(&d->paths[i]);
		if (m < best_m) { /* ties: the lower index, direct first */
			best_m = m;
			best = (int)i;
		}
	}
	return best;
}

static int
much_better(uint64_t m_new, uint64_t m_cur, const struct itmr_sel_cfg *c)
{
	return m_cur - m_new >= (uint64_t)c->min_gain_ms * 1000 &&
	       m_new * 100 <= m_cur * (100 - c->min_gain_pct);
}

static enum itmr_switch_why
take(struct itmr_dest *d, int i, uint64_t now_ns, enum itmr_switch_why why)
{
	d->cur = i;
	d->since_ns = now_ns;
	if (why != ITMR_SW_FIRST)
		d->last_switch_ns = now_ns;
	d->cand = -1;
	d->switches++;
	return why;
}

/* The path in use died: the best live path whose probes all came back
 * (fresh from the burst, probesched.c).  With every live path missing a
 * probe too (a node down, loss everywhere), none yet: a switch to such a
 * path would likely be to another dead one. */
static enum itmr_switch_why
take_detour(struct itmr_dest *d, uint64_t now_ns)
{
	int sound = best_path(d, 1);

	if (sound < 0)
		return ITMR_SW_NONE;
	return take(d, sound, now_ns, ITMR_SW_DEAD);
}

enum itmr_switch_why
itmr_dest_decide(struct itmr_dest *d, uint64_t now_ns,
		 const struct itmr_sel_cfg *c)
{
	int best;

	for (unsigned int i = 0; i < d->n_paths; i++)
		itmr_path_refresh(&d->paths[i], now_ns, c);
	best = best_path(d, 0);
	if (best < 0 || best == d->cur) {
		d->cand = -1;
		return ITMR_SW_NONE;
	}
	if (d->cur < 0)
		return take(d, best, now_ns, ITMR_SW_FIRST);
	if (!d->paths[d->cur].alive)
		return take_detour(d, now_ns);
	if (!much_better(itmr_path_metric(&d->paths[best]),
			 itmr_path_metric(&d->paths[d->cur]), c)) {
		d->cand = -1;
		return ITMR_SW_NONE;
	}
	if (d->cand != best) {
		d->cand = best;
		d->cand_since_ns = now_ns;
	}
	if (now_ns - d->cand_since_ns < (uint64_t)c->confirm_ms * MS ||
	    (d->last_switch_ns &&
	     now_ns - d->last_switch_ns < (uint64_t)c->holddown_ms * MS))
		return ITMR_SW_NONE;
	return take(d, best, now_ns, ITMR_SW_BETTER);
}
