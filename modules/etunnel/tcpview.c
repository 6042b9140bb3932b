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

int
etun_tcpview_read(int fd, struct etun_tcpview *v)
{
	union {
		struct tcp_info ti;
		uint8_t raw[TCPI_RAW];
	} u;
	socklen_t l = sizeof(u);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &u, &l) < 0 ||
	    l < sizeof(struct tcp_info))
		return -1;
	v->rto_time_ms = ETUN_RTO_TIME_NONE;
	if (l >= TCPI_TOTAL_RTO_TIME_OFF + sizeof(uint32_t))
		memcpy(&v->rto_time_ms, u.raw + TCPI_TOTAL_RTO_TIME_OFF,
		       sizeof(uint32_t));
	return 0;
}
