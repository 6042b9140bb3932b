/*
 * tcpview.c - TCP_INFO of a pool connection (tcpview.h).
 *
 * tcpi_total_rto_time (Linux 6.7) is newer than the headers of the
 * distributions this builds on, so it is read at its offset in the
 * kernel's struct tcp_info, which only ever grows at its end: the u32
 * after tcpi_snd_wnd (228), tcpi_rcv_wnd, tcpi_rehash, tcpi_total_rto
 * and tcpi_total_rto_recoveries (u16 each).  A kernel that fills less
 * does not have it.
 */
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "tcpview.h"

#define TCPI_TOTAL_RTO_TIME_OFF 244
#define TCPI_RAW		256

uint32_t
etun_tcp_rto_time(int fd)
{
	uint8_t raw[TCPI_RAW];
	socklen_t l = sizeof(raw);
	uint32_t ms;

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, raw, &l) < 0 ||
	    l < TCPI_TOTAL_RTO_TIME_OFF + sizeof(ms))
		return ETUN_RTO_TIME_NONE;
	memcpy(&ms, raw + TCPI_TOTAL_RTO_TIME_OFF, sizeof(ms));
	return ms;
}
