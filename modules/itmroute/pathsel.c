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

uint32_t
itmr_path_sent(struct itmr_path *p)
{
	uint32_t seq = p->seq_next++;

	p->acked &= ~(1ull << (seq % 64));
	return seq;
}

int
itmr_path_acked(struct itmr_path *p, uint32_t seq, uint64_t sent_ns,
		uint64_t now_ns)
{
	uint64_t rtt_us;

	if (seq >= p->seq_next || p->seq_next - seq > 64 || now_ns < sent_ns)
		return -1;
	if (p->acked & (1ull << (seq % 64)))
		return -1; /* a duplicate */
	p->acked |= 1ull << (seq % 64);
	rtt_us = (now_ns - sent_ns) / 1000;
	p->last_rtt_us = rtt_us;
	if (p->last_ack_ns == 0)
		p->srtt_us = rtt_us;
	else if (rtt_us >= p->srtt_us)
		p->srtt_us += (rtt_us - p->srtt_us) >> ITMR_SRTT_SHIFT;
	else
		p->srtt_us -= (p->srtt_us - rtt_us) >> ITMR_SRTT_SHIFT;
	if (now_ns > p->last_ack_ns)
		p->last_ack_ns = now_ns;
	p->alive = 1;
	return 0;
}

/* Loss over the last ITMR_LOSS_WINDOW probes old enough to have been
 * answered (sent more than srtt + one interval ago). */
static uint32_t
loss_pm(const struct itmr_path *p, const struct itmr_sel_cfg *c)
{
	uint64_t flight = (p->srtt_us / 1000 + c->interval_ms) /
				  (c->interval_ms ? c->interval_ms : 1) +
			  1;
	uint32_t end, n = 0, lost = 0;

	if (flight > 64 - ITMR_LOSS_WINDOW)
		flight = 64 - ITMR_LOSS_WINDOW;
	if (p->seq_next <= flight)
		return 0;
	end = p->seq_next - (uint32_t)flight;
	for (uint32_t s = end; s-- > 0 && n < ITMR_LOSS_WINDOW; n++)
		lost += !(p->acked & (1ull << (s % 64)));
	return n ? lost * 1000 / n : 0;
}

void
itmr_path_refresh(struct itmr_path *p, uint64_t now_ns,
		  const struct itmr_sel_cfg *c)
{
	uint64_t silent_max = (uint64_t)c->dead_probes * c->interval_ms * MS +
			      p->srtt_us * 1000;

	p->alive = p->last_ack_ns != 0 && now_ns - p->last_ack_ns <= silent_max;
	p->loss_pm = loss_pm(p, c);
}

uint64_t
itmr_path_metric(const struct itmr_path *p)
{
	uint32_t loss = p->loss_pm > 900 ? 900 : p->loss_pm;

	if (!p->alive)
		return ITMR_METRIC_INF;
	return (p->srtt_us ? p->srtt_us : 1) * 1000 / (1000 - loss);
}

static int
best_path(const struct itmr_dest *d)
{
	uint64_t m, best_m = ITMR_METRIC_INF;
	int best = -1;

	for (unsigned int i = 0; i < d->n_paths; i++) {
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

enum itmr_switch_why
itmr_dest_decide(struct itmr_dest *d, uint64_t now_ns,
		 const struct itmr_sel_cfg *c)
{
	int best;

	for (unsigned int i = 0; i < d->n_paths; i++)
		itmr_path_refresh(&d->paths[i], now_ns, c);
	best = best_path(d);
	if (best < 0 || best == d->cur) {
		d->cand = -1;
		return ITMR_SW_NONE;
	}
	if (d->cur < 0)
		return take(d, best, now_ns, ITMR_SW_FIRST);
	if (!d->paths[d->cur].alive)
		return take(d, best, now_ns, ITMR_SW_DEAD);
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
