/*
 * wire.c - conversion of interests between struct itm_interest and the
 * Interest message, validating everything that comes off the wire.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "packet_int.h"
#include "wire.h"

static int
from_prefixes(char **v, size_t n, const char *field,
	      int (*add)(struct itm_interest *, const char *),
	      struct itm_interest *in, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		int rc = add(in, v[i]);

		if (rc < 0) {
			snprintf(err, errlen, "interest.%s[%zu]: %s", field, i,
				 itm_last_error());
			return rc;
		}
	}
	return 0;
}

static int
from_ports(Itm__V1__PortRange **v, size_t n, const char *field,
	   int (*add)(struct itm_interest *, uint16_t, uint16_t),
	   struct itm_interest *in, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t lo = v[i]->lo, hi = v[i]->hi ? v[i]->hi : v[i]->lo;

		if (lo > 65535 || hi > 65535 || lo > hi) {
			snprintf(err, errlen,
				 "interest.%s[%zu]: %u-%u: not a "
				 "port range",
				 field, i, lo, hi);
			return -EINVAL;
		}
		if (add(in, (uint16_t)lo, (uint16_t)hi) < 0) {
			snprintf(err, errlen, "interest.%s[%zu]: %s", field, i,
				 itm_last_error());
			return -EINVAL;
		}
	}
	return 0;
}

int
itm__interest_from_wire(const Itm__V1__Interest *w, struct itm_interest *in,
			char *err, size_t errlen)
{
	int rc = 0;

	itm_interest_init(in);
	if (w == NULL)
		return 0;
	for (size_t i = 0; i < w->n_protocols && rc == 0; i++) {
		if (w->protocols[i] > 255 ||
		    itm_interest_add_protocol(in, (int)w->protocols[i]) < 0) {
			snprintf(err, errlen, "interest.protocols[%zu]: %u: %s",
				 i, w->protocols[i],
				 w->protocols[i] > 255 ? "not a protocol number"
						       : itm_last_error());
			rc = -EINVAL;
		}
	}
	if (rc == 0)
		rc = from_prefixes(w->saddr, w->n_saddr, "saddr",
				   itm_interest_add_saddr, in, err, errlen);
	if (rc == 0)
		rc = from_prefixes(w->daddr, w->n_daddr, "daddr",
				   itm_interest_add_daddr, in, err, errlen);
	if (rc == 0)
		rc = from_ports(w->src_ports, w->n_src_ports, "src_ports",
				itm_interest_add_src_port, in, err, errlen);
	if (rc == 0)
		rc = from_ports(w->dst_ports, w->n_dst_ports, "dst_ports",
				itm_interest_add_dst_port, in, err, errlen);
	if (rc == 0)
		rc = from_prefixes(w->indev, w->n_indev, "indev",
				   itm_interest_add_indev, in, err, errlen);
	if (rc == 0)
		rc = from_prefixes(w->outdev, w->n_outdev, "outdev",
				   itm_interest_add_outdev, in, err, errlen);
	return rc;
}

static void
to_ports(const struct itm_port_range *r, unsigned int n, Itm__V1__PortRange *pr,
	 Itm__V1__PortRange **pp)
{
	for (unsigned int i = 0; i < n; i++) {
		itm__v1__port_range__init(&pr[i]);
		pr[i].lo = r[i].lo;
		pr[i].hi = r[i].hi;
		pp[i] = &pr[i];
	}
}

void
itm__interest_to_wire(const struct itm_interest *in, Itm__V1__Interest *w,
		      struct itm__wire_interest_buf *b)
{
	itm__v1__interest__init(w);
	for (unsigned int i = 0; i < in->n_protocols; i++)
		b->protocols[i] = in->protocols[i];
	w->n_protocols = in->n_protocols;
	w->protocols = b->protocols;
	for (unsigned int i = 0; i < in->n_saddr; i++) {
		itm__prefix_format(&in->saddr[i], b->saddr[i], 64);
		b->saddr_p[i] = b->saddr[i];
	}
	w->n_saddr = in->n_saddr;
	w->saddr = b->saddr_p;
	for (unsigned int i = 0; i < in->n_daddr; i++) {
		itm__prefix_format(&in->daddr[i], b->daddr[i], 64);
		b->daddr_p[i] = b->daddr[i];
	}
	w->n_daddr = in->n_daddr;
	w->daddr = b->daddr_p;
	to_ports(in->src_ports, in->n_src_ports, b->sp, b->sp_p);
	w->n_src_ports = in->n_src_ports;
	w->src_ports = b->sp_p;
	to_ports(in->dst_ports, in->n_dst_ports, b->dp, b->dp_p);
	w->n_dst_ports = in->n_dst_ports;
	w->dst_ports = b->dp_p;
	for (unsigned int i = 0; i < in->n_indev; i++)
		b->indev_p[i] = (char *)in->indev[i];
	w->n_indev = in->n_indev;
	w->indev = b->indev_p;
	for (unsigned int i = 0; i < in->n_outdev; i++)
		b->outdev_p[i] = (char *)in->outdev[i];
	w->n_outdev = in->n_outdev;
	w->outdev = b->outdev_p;
}
