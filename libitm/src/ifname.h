/*
 * ifname.h - libitm-internal: interface names by ifindex, cached.
 *
 * Packets carry ifindexes; interests name devices.  Each thread keeps a
 * small cache so the packet path makes no system call on a hit; a miss
 * asks the kernel (if_indextoname()) at most once a second per ifindex.
 */
#ifndef ITM_IFNAME_H
#define ITM_IFNAME_H

#include <stdint.h>

/* Name of @ifindex, or NULL when unknown (retried a second later).  The
 * string stays valid until the next call on this thread. */
const char *itm__ifname(uint32_t ifindex);
/* Ask the kernel again, unless it was asked about @ifindex less than a
 * second ago: for a cached name that may be stale (renamed device). */
const char *itm__ifname_refresh(uint32_t ifindex);
/* Forget every name cached by this thread (e.g. on a link change). */
void itm__ifname_flush(void);

#endif /* ITM_IFNAME_H */
