/*
 * api.c - the paper's interest setters for process modules
 * (libitm_init_interest, libitm_set_protocols, ...).  Each list replaces
 * what was set before; on error the interest is left as it was.
 */
#include <errno.h>

#include "error.h"
#include "itm.h"

void
libitm_init_interest(struct itm_info *info)
{
	itm_interest_init(&info->interest);
}

/* Apply @add to a copy, then swap it in: all or nothing. */
#define SET_LIST(field, nfield, body)                     \
	do {                                              \
		struct itm_interest tmp = info->interest; \
		int rc_;                                  \
                                                          \
		if (n < 0 || (n > 0 && v == NULL)) {      \
			itm__set_error("bad list");       \
			return -EINVAL;                   \
		}                                         \
		tmp.nfield = 0;                           \
		for (int i = 0; i < n; i++)               \
			if ((rc_ = (body)) < 0)           \
				return rc_;               \
		info->interest = tmp;                     \
		return 0;                                 \
	} while (0)

int
libitm_set_protocols(struct itm_info *info, const int *v, int n)
{
	SET_LIST(protocols, n_protocols, itm_interest_add_protocol(&tmp, v[i]));
}

int
libitm_set_saddr(struct itm_info *info, const char *const *v, int n)
{
	SET_LIST(saddr, n_saddr, itm_interest_add_saddr(&tmp, v[i]));
}

int
libitm_set_daddr(struct itm_info *info, const char *const *v, int n)
{
	SET_LIST(daddr, n_daddr, itm_interest_add_daddr(&tmp, v[i]));
}

static int
add_port(struct itm_interest *in, int port, int src)
{
	if (port < 0 || port > 65535) {
		itm__set_error("port %d outside 0..65535", port);
		return -EINVAL;
	}
	return src ? itm_interest_add_src_port(in, (uint16_t)port,
					       (uint16_t)port)
		   : itm_interest_add_dst_port(in, (uint16_t)port,
					       (uint16_t)port);
}

int
libitm_set_src_ports(struct itm_info *info, const int *v, int n)
{
	SET_LIST(src_ports, n_src_ports, add_port(&tmp, v[i], 1));
}

int
libitm_set_dst_ports(struct itm_info *info, const int *v, int n)
{
	SET_LIST(dst_ports, n_dst_ports, add_port(&tmp, v[i], 0));
}

int
libitm_set_indev(struct itm_info *info, const char *const *v, int n)
{
	SET_LIST(indev, n_indev, itm_interest_add_indev(&tmp, v[i]));
}

int
libitm_set_outdev(struct itm_info *info, const char *const *v, int n)
{
	SET_LIST(outdev, n_outdev, itm_interest_add_outdev(&tmp, v[i]));
}
