/*
 * fig13.h - the paper's Figure 13 module: rewrite the TOS byte and the
 * destination port of matching packets.  The callbacks in fig13.c compile
 * unchanged into the in-agent module (fig13_plugin.c) and the process
 * module (fig13_main.c).
 */
#ifndef FIG13_H
#define FIG13_H

#include <itm.h>

struct fig13_conf {
	uint8_t tos;	    /* new TOS byte (paper: 0x55) */
	uint16_t new_dport; /* new destination port, 0 = keep (paper: 5555) */
	uint64_t rewritten; /* packets changed */
};

extern struct fig13_conf fig13;

/* Fill @info: label, callbacks; the caller sets the interest. */
void fig13_info(struct itm_info *info, const char *label);

#endif /* FIG13_H */
