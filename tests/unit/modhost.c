/*
 * modhost.c - see modhost.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "host.h"
#include "modhost.h"
#include "packet_int.h"
#include "params.h"

/* The instance whose module code runs now: the host ops the module calls
 * do not say which. */
static struct modhost *cur;

static int
mh_register(itm_where where, struct itm_info *info)
{
	if (cur == NULL)
		return -EPERM;
	cur->info = info;
	cur->hook = where;
	info->hook = where;
	return 0;
}

static int
mh_unregister(itm_where where, struct itm_info *info)
{
	if (cur == NULL || info != cur->info)
		return -ENOENT;
	cur->info = NULL;
	return 0;
}

static int
mh_timer(void (*f)(unsigned long), unsigned long arg, unsigned int ms)
{
	if (cur == NULL || cur->n_timers == MODHOST_TIMERS)
		return -ENOSPC;
	cur->timers[cur->n_timers].f = f;
	cur->timers[cur->n_timers++].arg = arg;
	return 0;
}

static int
mh_untimer(void (*f)(unsigned long), unsigned long arg)
{
	if (cur == NULL)
		return -ENOENT;
	for (unsigned int i = 0; i < cur->n_timers; i++)
		if (cur->timers[i].f == f && cur->timers[i].arg == arg) {
			cur->timers[i] = cur->timers[--cur->n_timers];
			return 0;
		}
	return -ENOENT;
}

static int
mh_counter(const char *name, const uint64_t *value)
{
	if (cur == NULL || cur->n_counters == MODHOST_COUNTERS)
		return -ENOSPC;
	cur->counter_names[cur->n_counters] = name;
	cur->counters[cur->n_counters++] = value;
	return 0;
}

static const struct itm__host_ops mh_ops = {
	.register_hook = mh_register,
	.unregister_hook = mh_unregister,
	.register_timer = mh_timer,
	.unregister_timer = mh_untimer,
	.register_counter = mh_counter,
};

static int
mh_settle(void *arg, struct itm__reg *reg, const struct itm_settle *s,
	  uint32_t *mark)
{
	struct modhost *h = arg;

	h->settles++;
	h->last_settle = *s;
	*mark = 1u << 16;
	return 0;
}

void
itm_module_error(struct itm_module *m, const char *fmt, ...)
{
	struct modhost *h =
		(struct modhost *)((char *)m - offsetof(struct modhost, mod));
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(h->error, sizeof(h->error), fmt, ap);
	va_end(ap);
}

int
modhost_load(struct modhost *h, const struct itm_plugin *plugin,
	     const char *const *kv, unsigned int n)
{
	char err[256];
	int rc;

	memset(h, 0, sizeof(*h));
	h->plugin = plugin;
	h->disp.settle = mh_settle;
	h->disp.host_arg = h;
	itm__host_set(&mh_ops);
	rc = params_parse(plugin->params, plugin->name, (char **)kv, n,
			  &h->params, err, sizeof(err));
	if (rc < 0) {
		snprintf(h->error, sizeof(h->error), "%s", err);
		return rc;
	}
	cur = h;
	rc = plugin->load(&h->mod, h->params);
	cur = NULL;
	if (rc < 0) {
		params_free(h->params);
		h->params = NULL;
	}
	if (rc == 0 && h->info) {
		h->reg = itm__reg_new(h->info, h->hook, 0);
		h->reg->can_settle = 1;
		h->reg->may_settle =
			itm__info_may_settle(h->info, plugin->abi & 0xffff);
	}
	return rc;
}

void
modhost_unload(struct modhost *h)
{
	cur = h;
	h->plugin->unload(&h->mod);
	cur = NULL;
	itm__reg_free(h->reg);
	params_free(h->params);
	h->reg = NULL;
	h->params = NULL;
}

int
modhost_run(struct modhost *h, struct itm_packet *pkt, int *verdict,
	    uint32_t *settle)
{
	struct itm__disp_result res;
	uint64_t before[ITM_CLASS_MAX + 1];

	for (int c = 0; c <= ITM_CLASS_MAX; c++)
		before[c] = h->reg->cls[c].packets;
	pkt->hook = h->hook;
	itm__disp_run(&h->reg, 1, 0, &h->disp, pkt, &res);
	*verdict = res.verdict;
	if (settle)
		*settle = res.settle_mark;
	for (int c = 0; c <= ITM_CLASS_MAX; c++)
		if (h->reg->cls[c].packets != before[c])
			return c;
	return -1;
}

void
modhost_tick(struct modhost *h)
{
	cur = h;
	for (unsigned int i = 0; i < h->n_timers; i++)
		h->timers[i].f(h->timers[i].arg);
	cur = NULL;
}

uint64_t
modhost_counter(const struct modhost *h, const char *name)
{
	for (unsigned int i = 0; i < h->n_counters; i++)
		if (strcmp(h->counter_names[i], name) == 0)
			return *h->counters[i];
	return UINT64_MAX;
}

void
modhost_packet(struct itm_packet *pkt, uint8_t *buf, size_t cap, uint8_t proto,
	       uint32_t saddr, uint16_t sport, uint32_t daddr, uint16_t dport,
	       uint8_t tos, uint8_t tcp_flags, uint16_t payload)
{
	uint8_t *p = buf + 64;
	uint16_t l4 = proto == IPPROTO_TCP ? 20 : 8;
	uint16_t len = (uint16_t)(20 + l4 + payload);
	struct iphdr *ip = (struct iphdr *)p;

	memset(buf, 0, cap);
	ip->version = 4;
	ip->ihl = 5;
	ip->tos = tos;
	ip->tot_len = htons(len);
	ip->ttl = 64;
	ip->protocol = proto;
	ip->saddr = htonl(saddr);
	ip->daddr = htonl(daddr);
	ip->check = itm_ip_fast_csum(ip, 5);
	if (proto == IPPROTO_TCP) {
		struct tcphdr *t = (struct tcphdr *)(p + 20);

		t->source = htons(sport);
		t->dest = htons(dport);
		t->doff = 5;
		((uint8_t *)t)[13] = tcp_flags;
	} else {
		struct udphdr *u = (struct udphdr *)(p + 20);

		u->source = htons(sport);
		u->dest = htons(dport);
		u->len = htons((uint16_t)(8 + payload));
	}
	memset(pkt, 0, sizeof(*pkt));
	pkt->wire_len = len;
	itm__packet_wrap(pkt, buf, (uint32_t)cap, p, len);
}
