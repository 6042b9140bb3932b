/*
 * modhost.c - see modhost.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "host.h"
#include "modhost.h"
#include "packet_int.h"
#include "params.h"

struct modhost modhost;

static int
mh_register(itm_where where, struct itm_info *info)
{
	modhost.info = info;
	modhost.hook = where;
	info->hook = where;
	return 0;
}

static int
mh_unregister(itm_where where, struct itm_info *info)
{
	if (info != modhost.info)
		return -ENOENT;
	modhost.info = NULL;
	return 0;
}

static int
mh_timer(void (*f)(unsigned long), unsigned long arg, unsigned int ms)
{
	return 0;
}

static int
mh_untimer(void (*f)(unsigned long), unsigned long arg)
{
	return 0;
}

static int
mh_counter(const char *name, const uint64_t *value)
{
	if (modhost.n_counters == 32)
		return -ENOSPC;
	modhost.counter_names[modhost.n_counters] = name;
	modhost.counters[modhost.n_counters++] = value;
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
	modhost.settles++;
	modhost.last_settle = *s;
	*mark = 1u << 16;
	return 0;
}

static const struct itm__disp_host disp_host = { .settle = mh_settle };

void
itm_module_error(struct itm_module *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(modhost.error, sizeof(modhost.error), fmt, ap);
	va_end(ap);
}

int
modhost_load(const struct itm_plugin *plugin, const char *const *kv,
	     unsigned int n)
{
	char err[256];
	int rc;

	memset(&modhost, 0, sizeof(modhost));
	itm__host_set(&mh_ops);
	rc = params_parse(plugin->params, plugin->name, (char **)kv, n,
			  &modhost.params, err, sizeof(err));
	if (rc < 0) {
		snprintf(modhost.error, sizeof(modhost.error), "%s", err);
		return rc;
	}
	rc = plugin->load(&modhost.mod, modhost.params);
	if (rc < 0) {
		params_free(modhost.params);
		modhost.params = NULL;
	}
	if (rc == 0 && modhost.info) {
		modhost.reg = itm__reg_new(modhost.info, modhost.hook, 0);
		modhost.reg->can_settle = 1;
	}
	return rc;
}

void
modhost_unload(const struct itm_plugin *plugin)
{
	plugin->unload(&modhost.mod);
	itm__reg_free(modhost.reg);
	params_free(modhost.params);
	modhost.reg = NULL;
	modhost.params = NULL;
}

int
modhost_run(struct itm_packet *pkt, int *verdict, uint32_t *settle)
{
	struct itm__disp_result res;
	uint64_t before[ITM_CLASS_MAX + 1];

	for (int c = 0; c <= ITM_CLASS_MAX; c++)
		before[c] = modhost.reg->cls[c].packets;
	pkt->hook = modhost.hook;
	itm__disp_run(&modhost.reg, 1, 0, &disp_host, pkt, &res);
	*verdict = res.verdict;
	if (settle)
		*settle = res.settle_mark;
	for (int c = 0; c <= ITM_CLASS_MAX; c++)
		if (modhost.reg->cls[c].packets != before[c])
			return c;
	return -1;
}

uint64_t
modhost_counter(const char *name)
{
	for (unsigned int i = 0; i < modhost.n_counters; i++)
		if (strcmp(modhost.counter_names[i], name) == 0)
			return *modhost.counters[i];
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
