/*
 * tcpview.h - what the kernel says of a pool connection's sending side
 * (TCP_INFO): the controller's view of timeouts in the pool.
 */
#ifndef ETUN_TCPVIEW_H
#define ETUN_TCPVIEW_H

#include <stdint.h>

#define ETUN_RTO_TIME_NONE UINT32_MAX /* the kernel does not say */

struct etun_tcpview {
	/* Time in timeout recovery over the connection's life (ms),
	 * ETUN_RTO_TIME_NONE before Linux 6.7. */
	uint32_t rto_time_ms;
};

/* Read @fd's view; -1 when the kernel would not say. */
int etun_tcpview_read(int fd, struct etun_tcpview *v);

#endif
