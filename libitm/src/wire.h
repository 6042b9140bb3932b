/*
 * wire.h - struct itm_interest to and from its protobuf form, shared by
 * the agent (which receives interests) and libitm (which sends them); and
 * the overlay table from its protobuf form (both receive it).
 */
#ifndef ITM_WIRE_H
#define ITM_WIRE_H

#include "itm.h"
#include "itm.pb-c.h"

/* Validates every field; on error returns -EINVAL with a message naming
 * the field in @err ("interest.saddr[1]: '10.0.0.0/33': bad prefix"). */
int itm__interest_from_wire(const Itm__V1__Interest *w, struct itm_interest *in,
			    char *err, size_t errlen);

/* Fills @w (initialised here) pointing into @buf, which must outlive it. */
struct itm__wire_interest_buf {
	uint32_t protocols[ITM_INTEREST_MAX];
	char saddr[ITM_INTEREST_MAX][64], daddr[ITM_INTEREST_MAX][64];
	char *saddr_p[ITM_INTEREST_MAX], *daddr_p[ITM_INTEREST_MAX];
	Itm__V1__PortRange sp[ITM_INTEREST_MAX], dp[ITM_INTEREST_MAX];
	Itm__V1__PortRange *sp_p[ITM_INTEREST_MAX], *dp_p[ITM_INTEREST_MAX];
	char *indev_p[ITM_INTEREST_MAX], *outdev_p[ITM_INTEREST_MAX];
};

void itm__interest_to_wire(const struct itm_interest *in, Itm__V1__Interest *w,
			   struct itm__wire_interest_buf *buf);

struct itm__table;

/*
 * The table the controller pushed (InstallTable, or GetTable's answer) as
 * modules see it (table.h), every field checked; a message without the
 * list of nodes (an older controller) gets one made of this node and its
 * neighbours.  0, -EINVAL with @err naming the field, or -ENOMEM.
 */
int itm__table_from_wire(const Itm__V1__NeighbourTable *w,
			 struct itm__table **out, char *err, size_t errlen);

#endif /* ITM_WIRE_H */
