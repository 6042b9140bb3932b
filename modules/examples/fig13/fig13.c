/*
 * fig13.c - the callbacks of the paper's Figure 13, ported: only the
 * names of the packet fields and checksum helpers changed, and the values
 * to write come from the instance's settings (m->priv) instead of
 * constants.
 */
#include <netinet/in.h>
#include <string.h>

#include "fig13.h"

static int
classify(itm_where hook, struct itm_packet *m)
{
	return m->iph != NULL ? 1 : ITM_CLASS_NONE;
}

/* Figure 13, with the checksums recomputed as the paper does. */
static int
process(itm_where hook, int cls, struct itm_packet *m)
{
	struct fig13_conf *conf = m->priv;
	struct iphdr *iph = m->iph;
	unsigned short space;

	iph->tos = conf->tos; /* modify a field in IP header */
	if (conf->new_dport && m->l4proto == IPPROTO_TCP && m->tcph)
		m->tcph->dest = htons(conf->new_dport); /* ... in TCP */
	else if (conf->new_dport && m->l4proto == IPPROTO_UDP && m->udph)
		m->udph->dest = htons(conf->new_dport);
	/* recalculate checksums */
	space = (unsigned short)(ntohs(iph->tot_len) - (iph->ihl << 2));
	iph->check = 0;
	iph->check = itm_ip_fast_csum((unsigned char *)iph, iph->ihl);
	if (m->l4proto == IPPROTO_TCP && m->tcph) {
		m->tcph->check = 0;
		m->tcph->check =
			itm_csum_tcpudp_magic(iph->saddr, iph->daddr, space,
					      iph->protocol,
					      itm_csum_partial((unsigned char *)
								       m->tcph,
							       space, 0));
	}
	conf->rewritten++;
	libitm_packet_altered(); /* tell libitm the packet changed */
	return ITM_ACCEPT;
}

void
fig13_info(struct itm_info *info, const char *label, struct fig13_conf *conf)
{
	static const char *const names[] = { "unclassified", "rewritten" };

	info->label = label;
	info->class_func = classify;
	info->process_func = process;
	info->class_names = names;
	info->n_class_names = 2;
	info->priv = conf;
}
