/*
 * ctl_lead.c - several itm-controllers on one store (etcd): one leads,
 * the others stand by.  The leader pushes tables, places modules, takes
 * applies, rollbacks, module calls and agents' joins; a standby answers
 * the calls that only read (from the store: it reloads the current
 * generation when it moves) and refuses the others with
 * FAILED_PRECONDITION naming the leader, so an agent given several
 * controller addresses moves on to the leader.  The lead is the store's
 * (store_lead()): renewed every CTL_LEAD_TICK_MS, lost when not renewed
 * for CTL_LEAD_TTL_S (a dead leader), then taken by a standby.  A store
 * one controller alone uses (SQLite) always leads.
 *
 * A standby follows the store by its watch (store_watch(): an etcd
 * Watch): a new current generation is loaded as soon as it is stored, a
 * leader's key that goes (its lease ended) is campaigned for at once.
 * It reads the store itself only every CTL_SAFETY_READ_MS, in case, and
 * every CTL_LEAD_TICK_MS while the watch is down (it restarts by itself).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "log.h"

static void
become_leader(struct ctl *c, int was_standby)
{
	char err[512];

	c->leading = 1;
	log_info("leading: %s", c->me);
	if (was_standby && ctl_state_load(c, err, sizeof(err)) < 0)
		log_warnx("leading, but reading the current generation "
			  "failed: %s",
			  err);
}

static void
step_down(struct ctl *c, const char *why)
{
	c->leading = 0;
	log_warnx("standing by: %s", why);
}

/* A standby follows the store's current generation. */
static void
follow(struct ctl *c)
{
	char err[512];
	uint64_t gen;

	c->follow_ms = ctl_now_ms();
	if (store_current(c->store, &gen) < 0 || gen == c->gen)
		return;
	if (ctl_state_load(c, err, sizeof(err)) < 0)
		log_warnx("standby: loading generation %llu: %s",
			  (unsigned long long)gen, err);
	else
		log_info("standby: at generation %llu (%s leads)",
			 (unsigned long long)gen, c->leader);
}

static void
campaign(struct ctl *c, int first)
{
	char who[sizeof(c->leader)], msg[sizeof(who) + 32];
	int rc = store_lead(c->store, c->me, CTL_LEAD_TTL_S, who, sizeof(who));

	if (rc == 1) {
		c->lead_ok_ms = ctl_now_ms();
		snprintf(c->leader, sizeof(c->leader), "%s", who);
		if (!c->leading)
			become_leader(c, !first);
		return;
	}
	if (rc == 0) {
		snprintf(msg, sizeof(msg), "%s leads", who);
		if (c->leading || first || strcmp(who, c->leader) != 0)
			step_down(c, msg);
		snprintf(c->leader, sizeof(c->leader), "%s", who);
		follow(c);
		return;
	}
	log_warnx("leadership: %s", store_errmsg(c->store));
	if (c->leading &&
	    ctl_now_ms() - c->lead_ok_ms > CTL_LEAD_TTL_S * 1000) {
		c->leader[0] = '\0';
		step_down(c, "the store did not renew the lead in time");
	}
}

static void
tick_cb(uv_timer_t *t)
{
	struct ctl *c = t->data;

	if (c->leading || !c->watch_up ||
	    ctl_now_ms() - c->follow_ms >= CTL_SAFETY_READ_MS)
		campaign(c, 0);
}

/* The leader's key changed: when it is not who we know leads (nobody,
 * another), ask the store. */
static void
leader_seen(struct ctl *c, const char *who)
{
	if (!*who || strcmp(who, c->leading ? c->me : c->leader) != 0)
		campaign(c, 0);
}

static void
watch_cb(void *arg, enum store_change what, uint64_t gen, const char *text)
{
	struct ctl *c = arg;

	switch (what) {
	case STORE_SYNC:
		log_info("following the store: %s", text);
		c->watch_up = 1;
		campaign(c, 0);
		break;
	case STORE_BROKEN:
		log_warnx("%s (reading the store every %d ms meanwhile)", text,
			  CTL_LEAD_TICK_MS);
		c->watch_up = 0;
		break;
	case STORE_CURRENT:
		if (!c->leading && gen != c->gen)
			follow(c);
		break;
	case STORE_LEADER: leader_seen(c, text); break;
	}
}

void
ctl_lead_start(struct ctl *c)
{
	char at[32];
	time_t now = time(NULL);
	struct tm tm;
	int rc;

	gmtime_r(&now, &tm);
	strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(c->me, sizeof(c->me), "%s (pid %d, since %s)",
		 c->cfg.advertise ? c->cfg.advertise : c->cfg.listen,
		 (int)getpid(), at);
	campaign(c, 1);
	rc = store_watch(c->store, c->loop, watch_cb, c);
	if (rc < 0 && rc != -ENOTSUP)
		log_warnx("cannot watch the store (%s): reading it every %d ms",
			  strerror(-rc), CTL_LEAD_TICK_MS);
	uv_timer_init(c->loop, &c->lead_timer);
	c->lead_timer.data = c;
	uv_timer_start(&c->lead_timer, tick_cb, CTL_LEAD_TICK_MS,
		       CTL_LEAD_TICK_MS);
}

void
ctl_lead_stop(struct ctl *c)
{
	store_unwatch(c->store);
	c->watch_up = 0;
	uv_timer_stop(&c->lead_timer);
	uv_close((uv_handle_t *)&c->lead_timer, NULL);
	if (c->leading)
		store_resign(c->store);
	c->leading = 0;
}

int
ctl_lead_ok(struct ctl *c, struct itm_rpc_call *call)
{
	if (c->leading)
		return 1;
	itm_rpc_fail(call, ITM_RPC_FAILED_PRECONDITION,
		     "this controller is a standby: %s leads; send writes and "
		     "joins there",
		     c->leader[0] ? c->leader : "no controller (yet)");
	return 0;
}
