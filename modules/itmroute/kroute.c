/*
 * kroute.c - itmroute's overlay routes, by rtnetlink (libmnl): one /32
 * per member's overlay address, out of the underlay device through the
 * gateway towards the chosen next hop, with the tunnel's MTU (so that the
 * 20 bytes of the outer header fit) and this node's overlay address as
 * source.  Routes carry protocol ITMR_RTPROT, so they are told apart from
 * an operator's and left in place when the module goes (fail-static).
 */
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "itmroute.h"

#define ITMR_RTPROT 0x49 /* 'I' */

struct kroute_reply {
	uint32_t gw;
	int ifindex;
};

static int
route_attr_cb(const struct nlattr *a, void *data)
{
	struct kroute_reply *r = data;

	if (mnl_attr_get_type(a) == RTA_GATEWAY &&
	    mnl_attr_get_payload_len(a) == 4)
		memcpy(&r->gw, mnl_attr_get_payload(a), 4);
	else if (mnl_attr_get_type(a) == RTA_OIF &&
		 mnl_attr_get_payload_len(a) == 4)
		r->ifindex = (int)mnl_attr_get_u32(a);
	return MNL_CB_OK;
}

static int
route_msg_cb(const struct nlmsghdr *nlh, void *data)
{
	return mnl_attr_parse(nlh, sizeof(struct rtmsg), route_attr_cb, data);
}

/* Send @nlh and read the answer(s) through @cb. */
static int
kroute_talk(struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl;
	unsigned int seq, portid;
	ssize_t n;
	int rc = 0;

	if ((nl = mnl_socket_open(NETLINK_ROUTE)) == NULL)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		rc = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	nlh->nlmsg_seq = seq = (unsigned int)time(NULL);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		rc = -errno;
		goto out;
	}
	while ((n = mnl_socket_recvfrom(nl, buf, sizeof(buf))) > 0) {
		rc = mnl_cb_run(buf, (size_t)n, seq, portid, cb, data);
		if (rc <= MNL_CB_STOP)
			break;
	}
	rc = rc < 0 ? -errno : 0;
out:
	mnl_socket_close(nl);
	return rc;
}

static struct nlmsghdr *
route_msg(char *buf, uint16_t type, uint16_t flags, uint32_t dst)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = AF_INET;
	rtm->rtm_dst_len = 32;
	rtm->rtm_table = RT_TABLE_MAIN;
	mnl_attr_put(nlh, RTA_DST, 4, &dst);
	return nlh;
}

int
itmr_kroute_gateway(uint32_t hop, uint32_t *gw, int *ifindex)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct kroute_reply r = { 0, 0 };
	int rc;

	rc = kroute_talk(route_msg(buf, RTM_GETROUTE, NLM_F_ACK, hop),
			 route_msg_cb, &r);
	if (rc < 0)
		return rc;
	if (r.ifindex == 0)
		return -ENETUNREACH;
	*gw = r.gw;
	*ifindex = r.ifindex;
	return 0;
}

int
itmr_kroute_replace(uint32_t dst, uint32_t gw, uint32_t hop, int ifindex,
		    uint32_t src, uint32_t mtu)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	struct nlattr *mx;

	nlh = route_msg(buf, RTM_NEWROUTE,
			NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK, dst);
	rtm = mnl_nlmsg_get_payload(nlh);
	rtm->rtm_protocol = ITMR_RTPROT;
	rtm->rtm_scope = RT_SCOPE_UNIVERSE;
	rtm->rtm_type = RTN_UNICAST;
	if (gw == 0)
		gw = hop;		 /* the next hop is on link */
	rtm->rtm_flags |= RTNH_F_ONLINK; /* the gateway may be off-subnet */
	mnl_attr_put(nlh, RTA_GATEWAY, 4, &gw);
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)ifindex);
	if (src)
		mnl_attr_put(nlh, RTA_PREFSRC, 4, &src);
	mx = mnl_attr_nest_start(nlh, RTA_METRICS);
	mnl_attr_put_u32(nlh, RTAX_MTU, mtu);
	mnl_attr_nest_end(nlh, mx);
	return kroute_talk(nlh, NULL, NULL);
}

int
itmr_kroute_delete(uint32_t dst)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;

	nlh = route_msg(buf, RTM_DELROUTE, NLM_F_ACK, dst);
	rtm = mnl_nlmsg_get_payload(nlh);
	rtm->rtm_protocol = ITMR_RTPROT;
	rtm->rtm_scope = RT_SCOPE_NOWHERE;
	return kroute_talk(nlh, NULL, NULL);
}
