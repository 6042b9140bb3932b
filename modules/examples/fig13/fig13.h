/*
 * fig13.h - the paper's Figure 13 module: rewrite the TOS byte and the
 * destination port of matching packets.  The callbacks in fig13.c compile
 * unchanged into the in-agent module (fig13_plugin.c) and the process
 * module (fig13_main.c).
 */
#ifndef FIG13_H
#define FIG13_H

#include <itm.h>

/* One instance's settings and counter, reached by its callbacks through
 * pkt->priv. */
struct fig13_conf {
	uint8_t tos;	    /* new TOS byte (paper: 0x55) */
	uint16_t new_dport; /* new destination port, 0 = keep (paper: 5555) */
	uint64_t rewritten; /* packets changed */
};

#define FIG13_CONF_DEFAULT                     \
	{                                      \
		.tos = 0x55, .new_dport = 5555 \
	}

/* Fill @info: label, callbacks, @conf as the callbacks' pkt->priv (it must
 * outlive the registration); the caller sets the interest. */
void fig13_info(struct itm_info *info, const char *label,
		struct fig13_conf *conf);

#endif /* FIG13_H */
