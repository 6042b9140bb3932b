/*
 * ifname.c - per-thread cache of interface names by ifindex.
 *
 * Open addressing over 256 slots; entries are never deleted one by one,
 * the whole table is dropped when it is three quarters full.  An entry
 * remembers when the kernel was last asked, so misses (unknown index, or a
 * name that may be stale) cost at most one if_indextoname() a second per
 * ifindex, and hits cost none.
 */
#include <string.h>
#include <time.h>
#include <net/if.h>

#include "ifname.h"

#define IFC_SLOTS    256
#define IFC_MAX_USED 192
#define IFC_RETRY_MS 1000

struct ifc_entry {
	uint32_t ifindex;	/* 0: empty slot */
	uint64_t asked_ms;	/* last if_indextoname() */
	char name[IF_NAMESIZE]; /* "" when the kernel said no */
};

static __thread struct ifc_entry ifc[IFC_SLOTS];
static __thread unsigned int ifc_used;

static uint64_t
ifc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The slot of @ifindex, or the empty slot where it would go. */
static struct ifc_entry *
ifc_slot(uint32_t ifindex)
{
	uint32_t i = (ifindex * 2654435761u) >> 24;

	while (ifc[i].ifindex != 0 && ifc[i].ifindex != ifindex)
		i = (i + 1) & (IFC_SLOTS - 1);
	return &ifc[i];
}

static void
ifc_ask(struct ifc_entry *e, uint32_t ifindex, uint64_t now)
{
	char name[IF_NAMESIZE];

	e->ifindex = ifindex;
	e->asked_ms = now;
	if (if_indextoname(ifindex, name) != NULL)
		memcpy(e->name, name, sizeof(name));
	else
		e->name[0] = '\0';
}

static struct ifc_entry *
ifc_lookup(uint32_t ifindex, int refresh)
{
	struct ifc_entry *e;
	uint64_t now;

	if (ifindex == 0)
		return NULL;
	e = ifc_slot(ifindex);
	if (e->ifindex == ifindex && e->name[0] != '\0' && !refresh)
		return e;
	now = ifc_now_ms();
	if (e->ifindex == ifindex) {
		if (now - e->asked_ms >= IFC_RETRY_MS)
			ifc_ask(e, ifindex, now);
		return e;
	}
	if (ifc_used >= IFC_MAX_USED) {
		itm__ifname_flush();
		e = ifc_slot(ifindex);
	}
	ifc_used++;
	ifc_ask(e, ifindex, now);
	return e;
}

const char *
itm__ifname(uint32_t ifindex)
{
	struct ifc_entry *e = ifc_lookup(ifindex, 0);

	return e != NULL && e->name[0] != '\0' ? e->name : NULL;
}

const char *
itm__ifname_refresh(uint32_t ifindex)
{
	struct ifc_entry *e = ifc_lookup(ifindex, 1);

	return e != NULL && e->name[0] != '\0' ? e->name : NULL;
}

void
itm__ifname_flush(void)
{
	memset(ifc, 0, sizeof(ifc));
	ifc_used = 0;
}
