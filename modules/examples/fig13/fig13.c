/*
 * fig13.c - the callbacks of the paper's Figure 13, ported: the names of
 * the packet fields changed, the values to write come from the instance's
 * settings (m->priv) instead of constants, and the checksums are left to
 * libitm.  The paper recomputes them in the callback; libitm recomputes
 * the IP and full L4 checksum of every packet returned altered anyway
 * (it must: the kernel will not finish a checksum left to the NIC in a
 * mangled packet), so doing it here too summed every byte twice.
 */
#include <netinet/in.h>
#include <string.h>

#include "fig13.h"

static int
classify(itm_where hook, struct itm_packet *m)
{
	return m->iph != NULL ? 1 : ITM_CLASS_NONE;
}

/* Figure 13; libitm_packet_altered() has libitm redo the checksums. */
static int
process(itm_where hook, int cls, struct itm_packet *m)
{
	struct fig13_conf *conf = m->priv;

	m->iph->tos = conf->tos; /* modify a field in IP header */
	if (conf->new_dport && m->l4proto == IPPROTO_TCP && m->tcph)
		m->tcph->dest = htons(conf->new_dport); /* ... in TCP */
	else if (conf->new_dport && m->l4proto == IPPROTO_UDP && m->udph)
		m->udph->dest = htons(conf->new_dport);
	conf->rewritten++;
	libitm_packet_altered(); /* tell libitm: new bytes, new checksums */
	return ITM_ACCEPT;
}

void
fig13_info(struct itm_info *info, const char *label, struct fig13_conf *conf)
{
	static const char *const names[] = { "unclassified", "rewritten" };

	info->label = label;
	/* Never settles (no ITM_MAY_SETTLE): the agent writes no conntrack
	 * rules for it, so the hook does not track connections. */
	info->flags = 0;
	info->class_func = classify;
	info->process_func = process;
	info->class_names = names;
	info->n_class_names = 2;
	info->priv = conf;
}
