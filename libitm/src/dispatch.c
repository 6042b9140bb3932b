/*
 * dispatch.c - the ordered walk over the registrations of a stage.
 *
 * This is the heart of the paper's Figure 12 for the modules that share one
 * NFQUEUE stage: each registration in priority order gets the five
 * callbacks, in the paper's order, and its per-class counters are fed.
 * The walk never allocates; a misbehaving class value is clamped and
 * logged (rate-limited), never trusted as an index.
 */
#include <errno.h>
#include <string.h>

#include "dispatch.h"
#include "error.h"
#include "log.h"

static __thread struct itm_packet *cur_pkt;
static __thread struct itm__reg *cur_reg;
static __thread const struct itm__disp_host *cur_host;
static __thread uint32_t cur_settle;

struct itm_packet *
itm__disp_current_packet(void)
{
	return cur_pkt;
}

struct itm__reg *
itm__disp_current_reg(void)
{
	return cur_reg;
}

static int
disp_classify(struct itm__reg *reg, struct itm_packet *pkt)
{
	static struct log_rl rl;
	struct itm_info *info = reg->info;
	int cls;

	if (info->class_func == NULL)
		return 1;
	cls = info->class_func(pkt->hook, pkt);
	if (cls < 0 || cls > ITM_CLASS_MAX) {
		log_rl(&rl, LOG_WARNING,
		       "%s: class_func returned %d, "
		       "outside 0..%d; counted as class 0",
		       info->label, cls, ITM_CLASS_MAX);
		cls = ITM_CLASS_NONE;
	}
	return cls;
}

static int
disp_process(struct itm__reg *reg, int cls, struct itm_packet *pkt)
{
	static struct log_rl rl;
	struct itm_info *info = reg->info;
	int v;

	if (cls == ITM_CLASS_NONE || info->process_func == NULL)
		return ITM_ACCEPT;
	v = info->process_func(pkt->hook, cls, pkt);
	switch (v) {
	case ITM_ACCEPT:
	case ITM_DROP: return v;
	case ITM_ALTERED:
		if (itm_packet_altered(pkt) < 0)
			log_rl(&rl, LOG_WARNING,
			       "%s: altered a truncated "
			       "packet; sent on unchanged (set copy_bytes "
			       "to 0 to alter packets)",
			       info->label);
		return ITM_ACCEPT;
	default:
		log_rl(&rl, LOG_WARNING,
		       "%s: process_func returned unknown "
		       "verdict %d; accepting",
		       info->label, v);
		return ITM_ACCEPT;
	}
}

static void
disp_count(struct itm__reg *reg, int cls, uint32_t bytes,
	   const struct itm_packet *pkt)
{
	struct itm__class_stats *cs = &reg->cls[cls];

	reg->packets++;
	cs->packets++;
	cs->bytes += bytes;
	if (itm_flowset_add(reg->flows, itm_flow_key(pkt, (uint32_t)cls),
			    itm__now_ms()))
		cs->flows++;
}

/* One registration: the five callbacks in the paper's order. */
static int
disp_one(struct itm__reg *reg, struct itm_packet *pkt)
{
	struct itm_info *info = reg->info;
	uint32_t bytes = pkt->wire_len;
	int cls, v;

	cls = disp_classify(reg, pkt);
	if (info->log_func)
		info->log_func(pkt->hook, pkt);
	v = disp_process(reg, cls, pkt);
	if (info->update_func)
		info->update_func(pkt->hook, pkt);
	if (info->control_func)
		info->control_func(pkt->hook, pkt);
	disp_count(reg, cls, bytes, pkt);
	return v;
}

void
itm__disp_run(struct itm__reg *const *regs, unsigned int n, int check_interest,
	      const struct itm__disp_host *host, struct itm_packet *pkt,
	      struct itm__disp_result *res)
{
	res->verdict = ITM_ACCEPT;
	res->settle_mark = 0;
	cur_settle = 0;
	cur_pkt = pkt;
	cur_host = host;
	for (unsigned int i = 0; i < n; i++) {
		struct itm__reg *reg = regs[i];

		/* The host first: the registration of a module being unloaded
		 * is skipped before anything of its info (which the module
		 * may have freed) is read. */
		if (host && host->enter && host->enter(host->host_arg, reg))
			continue;
		if (check_interest &&
		    !itm_interest_match(&reg->info->interest, pkt))
			continue;
		cur_reg = reg;
		pkt->priv = reg->info->priv;
		if (disp_one(reg, pkt) == ITM_DROP) {
			res->verdict = ITM_DROP;
			break;
		}
	}
	res->settle_mark = cur_settle;
	if (host && host->enter)
		(void)host->enter(host->host_arg, NULL);
	cur_pkt = NULL;
	cur_reg = NULL;
	cur_host = NULL;
}

static int
settle_check(const struct itm_settle *s)
{
	if (s->class <= ITM_CLASS_NONE || s->class > ITM_CLASS_MAX) {
		itm__set_error("settle: class %d outside 1..%d", s->class,
			       ITM_CLASS_MAX);
		return -EINVAL;
	}
	switch (s->action) {
	case ITM_SETTLE_ACCEPT:
	case ITM_SETTLE_SET_TOS:
	case ITM_SETTLE_DROP: return 0;
	}
	itm__set_error("settle: unknown action %d", (int)s->action);
	return -EINVAL;
}

static int
settle_same(const struct itm_settle *a, const struct itm_settle *b)
{
	return a->class == b->class && a->action == b->action &&
	       a->except_tcp_flags == b->except_tcp_flags &&
	       (a->action != ITM_SETTLE_SET_TOS ||
		(a->tos_value == b->tos_value && a->tos_mask == b->tos_mask));
}

/* Find or make the settle-request bits for @s in @reg's cache. */
static int
settle_lookup(struct itm__reg *reg, const struct itm_settle *s, uint32_t *mark)
{
	struct itm__settle_slot *free_slot = NULL;
	int err;

	for (int i = 0; i < ITM_REG_SETTLE_CACHE; i++) {
		struct itm__settle_slot *slot = &reg->settle[i];

		if (slot->mark == 0) {
			if (free_slot == NULL)
				free_slot = slot;
		} else if (settle_same(&slot->spec, s)) {
			*mark = slot->mark;
			return 0;
		}
	}
	if (free_slot == NULL) {
		itm__set_error("settle: more than %d distinct settlements",
			       ITM_REG_SETTLE_CACHE);
		return -ENOSPC;
	}
	if (cur_host == NULL || cur_host->settle == NULL)
		return -ENOTSUP;
	err = cur_host->settle(cur_host->host_arg, reg, s, mark);
	if (err < 0)
		return err;
	free_slot->spec = *s;
	free_slot->mark = *mark;
	return 0;
}

int
itm_packet_settle(struct itm_packet *pkt, const struct itm_settle *s)
{
	uint32_t mark;
	int err;

	if (pkt == NULL || pkt != cur_pkt || cur_reg == NULL || s == NULL) {
		itm__set_error("settle: called outside a packet callback");
		return -EINVAL;
	}
	if (!cur_reg->may_settle) {
		itm__set_error("settle: %s did not declare ITM_MAY_SETTLE "
			       "in its itm_info.flags at registration",
			       cur_reg->info->label);
		return -EPERM;
	}
	if (!__atomic_load_n(&cur_reg->can_settle, __ATOMIC_RELAXED)) {
		itm__set_error("settle: %s shares its stage with other "
			       "registrations",
			       cur_reg->info->label);
		return -ENOTSUP;
	}
	err = settle_check(s);
	if (err < 0)
		return err;
	err = settle_lookup(cur_reg, s, &mark);
	if (err < 0)
		return err;
	cur_settle = mark;
	return 0;
}

void
libitm_packet_altered(void)
{
	if (cur_pkt != NULL)
		(void)itm_packet_altered(cur_pkt);
}
