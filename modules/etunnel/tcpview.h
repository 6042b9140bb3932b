/*
 * tcpview.h - what the kernel says of a pool connection's sending side
 * (TCP_INFO): the controller's view of timeouts in the pool.
 */
#ifndef ETUN_TCPVIEW_H
#define ETUN_TCPVIEW_H

#include <stdint.h>

#define ETUN_RTO_TIME_NONE UINT32_MAX /* the kernel does not say */

/* @fd's time in timeout recovery over its life (ms), ETUN_RTO_TIME_NONE
 * before Linux 6.7 or when the kernel would not say. */
uint32_t etun_tcp_rto_time(int fd);

#endif
