/*
 * settle.c - flows settled in the kernel.
 *
 * A module may decide the rest of a flow once ("LONG: clear the
 * Minimize-Delay bit from now on"); the packets that follow should then
 * never cross to user space, as Suricata's bypass does.  Each distinct
 * (registration, class, action) gets a settlement id 1..255 with
 *
 *   - a chain ITM_S<id>: count in nfacct object "itm_s<id>", apply the
 *     action (TOS rewrite or drop), set the stage's mark bit so the stage's
 *     NFQUEUE rule is skipped;
 *   - two jumps before the stage's NFQUEUE rule, taken when the flow's
 *     conntrack mark holds the id for the packet's direction.
 *
 * The verdict of the settling packet carries the id in its mark and the
 * hook chain's CONNMARK rules store it (rules.c).  Telemetry stays exact:
 * the nfacct counters are added to the class's user-space counters.
 * Ids are handed out round robin so a released id is reused as late as
 * possible (flows may still carry it in their conntrack mark).
 *
 * settle_alloc() runs on the thread of the packet (a worker, with
 * --workers); its callers hold agent_lock().  The other entry points take
 * it themselves.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_acct/libnetfilter_acct.h>

#include "agent.h"
#include "log.h"
#include "rules.h"

enum settle_state { SETTLE_FREE = 0, SETTLE_NEW, SETTLE_LIVE, SETTLE_DEAD };

struct settle_id {
	enum settle_state state;
	struct agent_reg *reg;
	struct itm_settle spec;
};

static struct settle_id ids[ITM_SETTLE_IDS + 1];
static unsigned int next_id = 1;
static struct mnl_socket *acct_nl;
static uint32_t acct_seq;

/* ------------------------------------------------------------------ */
/* nfacct objects                                                       */
/* ------------------------------------------------------------------ */

static void
acct_name(unsigned int id, char *buf, size_t len)
{
	snprintf(buf, len, "itm_s%u", id);
}

static int
acct_open(void)
{
	if (acct_nl != NULL)
		return 0;
	acct_nl = mnl_socket_open(NETLINK_NETFILTER);
	if (acct_nl == NULL)
		return -errno;
	if (mnl_socket_bind(acct_nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int err = -errno;

		mnl_socket_close(acct_nl);
		acct_nl = NULL;
		return err;
	}
	return 0;
}

struct acct_reply {
	uint64_t pkts, bytes;
	int found;
	void (*each)(const char *name);
};

static int
acct_data_cb(const struct nlmsghdr *nlh, void *data)
{
	struct acct_reply *r = data;
	struct nfacct *a = nfacct_alloc();

	if (a == NULL)
		return MNL_CB_ERROR;
	if (nfacct_nlmsg_parse_payload(nlh, a) == 0) {
		r->pkts = nfacct_attr_get_u64(a, NFACCT_ATTR_PKTS);
		r->bytes = nfacct_attr_get_u64(a, NFACCT_ATTR_BYTES);
		r->found = 1;
		if (r->each)
			r->each(nfacct_attr_get_str(a, NFACCT_ATTR_NAME));
	}
	nfacct_free(a);
	return MNL_CB_OK;
}

/* One request, answered by data and/or an ACK. */
static int
acct_request(uint8_t cmd, uint16_t flags, const char *name,
	     struct acct_reply *reply)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	uint32_t seq = ++acct_seq, portid;
	ssize_t n;
	int rc;

	if ((rc = acct_open()) < 0)
		return rc;
	nlh = nfacct_nlmsg_build_hdr(buf, cmd, flags | NLM_F_ACK, seq);
	if (name != NULL) {
		struct nfacct *a = nfacct_alloc();

		if (a == NULL)
			return -ENOMEM;
		nfacct_attr_set_str(a, NFACCT_ATTR_NAME, name);
		nfacct_nlmsg_build_payload(nlh, a);
		nfacct_free(a);
	}
	if (mnl_socket_sendto(acct_nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	portid = mnl_socket_get_portid(acct_nl);
	do {
		n = mnl_socket_recvfrom(acct_nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		rc = mnl_cb_run(buf, (size_t)n, seq, portid, acct_data_cb,
				reply);
	} while (rc > 0);
	return rc < 0 ? -errno : 0;
}

static int
acct_create(unsigned int id)
{
	char name[32];
	struct acct_reply r = { 0 };

	acct_name(id, name, sizeof(name));
	/* A leftover object of the same name is zeroed and reused. */
	if (acct_request(NFNL_MSG_ACCT_GET_CTRZERO, 0, name, &r) == 0)
		return 0;
	return acct_request(NFNL_MSG_ACCT_NEW, NLM_F_CREATE, name, &r);
}

static int
acct_read(unsigned int id, uint64_t *pkts, uint64_t *bytes)
{
	char name[32];
	struct acct_reply r = { 0 };
	int rc;

	acct_name(id, name, sizeof(name));
	rc = acct_request(NFNL_MSG_ACCT_GET, 0, name, &r);
	if (rc == 0 && r.found) {
		*pkts = r.pkts;
		*bytes = r.bytes;
	}
	return rc;
}

static char stale[ITM_SETTLE_IDS + 1][32];
static unsigned int n_stale;

static void
note_stale(const char *name)
{
	if (strncmp(name, "itm_s", 5) == 0 && n_stale <= ITM_SETTLE_IDS)
		snprintf(stale[n_stale++], sizeof(stale[0]), "%s", name);
}

/* Delete every itm_s* object, retrying while the kernel still holds a
 * reference from rules being freed. */
static int
acct_delete_all(void)
{
	struct acct_reply r = { .each = note_stale };
	int rc;

	n_stale = 0;
	rc = acct_request(NFNL_MSG_ACCT_GET, NLM_F_DUMP, NULL, &r);
	if (rc < 0)
		return rc;
	for (unsigned int i = 0; i < n_stale; i++) {
		for (int tries = 0; tries < 20; tries++) {
			rc = acct_request(NFNL_MSG_ACCT_DEL, 0, stale[i], &r);
			if (rc != -EBUSY)
				break;
			nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
		}
		if (rc < 0)
			log_warnx("nfacct %s: delete: %s", stale[i],
				  strerror(-rc));
	}
	return 0;
}

int
settle_cleanup(void)
{
	int rc;

	agent_lock();
	rc = acct_delete_all();
	agent_unlock();

	if (rc < 0)
		log_warnx("nfacct: %s", strerror(-rc));
	return rc;
}

/* ------------------------------------------------------------------ */
/* Ids                                                                  */
/* ------------------------------------------------------------------ */

static int
spec_same(const struct itm_settle *a, const struct itm_settle *b)
{
	return a->class == b->class && a->action == b->action &&
	       a->tos_value == b->tos_value && a->tos_mask == b->tos_mask &&
	       a->except_tcp_flags == b->except_tcp_flags;
}

/* iptables names of the TCP flags, lowest bit first. */
static const char *const tcp_flag_names[8] = { "FIN", "SYN", "RST", "PSH",
					       "ACK", "URG", "ECE", "CWR" };

static unsigned int
id_find(const struct agent_reg *r, const struct itm_settle *s)
{
	for (unsigned int i = 1; i <= ITM_SETTLE_IDS; i++)
		if ((ids[i].state == SETTLE_NEW ||
		     ids[i].state == SETTLE_LIVE) &&
		    ids[i].reg == r && spec_same(&ids[i].spec, s))
			return i;
	return 0;
}

static unsigned int
id_take(void)
{
	for (unsigned int k = 0; k < ITM_SETTLE_IDS; k++) {
		unsigned int i = (next_id - 1 + k) % ITM_SETTLE_IDS + 1;

		if (ids[i].state == SETTLE_FREE) {
			next_id = i % ITM_SETTLE_IDS + 1;
			return i;
		}
	}
	return 0;
}

int
settle_alloc(struct agent_reg *r, const struct itm_settle *s, uint32_t *mark,
	     char *err, size_t errlen)
{
	struct itm_settle spec = *s;
	unsigned int id;
	int rc;

	if (spec.action != ITM_SETTLE_SET_TOS)
		spec.tos_value = spec.tos_mask = 0;
	id = id_find(r, &spec);
	if (id == 0) {
		id = id_take();
		if (id == 0) {
			snprintf(err, errlen, "all %d settlement ids in use",
				 ITM_SETTLE_IDS);
			return -ENOSPC;
		}
		rc = acct_create(id);
		if (rc < 0) {
			snprintf(err, errlen, "nfacct: %s", strerror(-rc));
			return rc;
		}
		ids[id] = (struct settle_id){ SETTLE_NEW, r, spec };
		rc = rules_apply(err, errlen);
		if (rc < 0) {
			ids[id].state = SETTLE_FREE;
			return rc;
		}
		log_info("%s: settlement %u: class %d, %s", r->label, id,
			 spec.class,
			 spec.action == ITM_SETTLE_DROP	     ? "drop"
			 : spec.action == ITM_SETTLE_SET_TOS ? "set tos"
							     : "accept");
	}
	*mark = (uint32_t)id << ITM_MARK_SETTLE_SHIFT;
	return 0;
}

void
settle_release(struct agent_reg *r)
{
	agent_lock();
	for (unsigned int i = 1; i <= ITM_SETTLE_IDS; i++)
		if (ids[i].reg == r && ids[i].state != SETTLE_FREE) {
			ids[i].state = ids[i].state == SETTLE_NEW ? SETTLE_FREE
								  : SETTLE_DEAD;
			ids[i].reg = NULL;
		}
	agent_unlock();
}

int
settle_counts(const struct agent_reg *r, unsigned int cls, uint64_t *packets,
	      uint64_t *bytes)
{
	*packets = *bytes = 0;
	agent_lock();
	for (unsigned int i = 1; i <= ITM_SETTLE_IDS; i++) {
		uint64_t p = 0, b = 0;

		if (ids[i].reg != r || ids[i].state != SETTLE_LIVE ||
		    ids[i].spec.class != (int)cls)
			continue;
		if (acct_read(i, &p, &b) == 0) {
			*packets += p;
			*bytes += b;
		}
	}
	agent_unlock();
	return 0;
}

/* ------------------------------------------------------------------ */
/* Rules                                                                */
/* ------------------------------------------------------------------ */

/* The stage of @r in the layout being installed, if it is alone there. */
static const struct stage *
sole_stage(const struct agent_reg *r)
{
	itm_where h = r->hook;

	for (unsigned int i = 0; i < agent->n_stages[h]; i++) {
		const struct stage *st = agent->stages[h][i];

		if (st->n_regs == 1 && st->regs[0] == r)
			return st;
	}
	return NULL;
}

void
settle_chains(struct rules_buf *b)
{
	for (unsigned int i = 1; i <= ITM_SETTLE_IDS; i++) {
		const struct stage *st;
		const struct itm_settle *s = &ids[i].spec;

		if (ids[i].state != SETTLE_NEW && ids[i].state != SETTLE_LIVE)
			continue;
		rb_printf(b, ":ITM_S%u - [0:0]\n", i);
		st = sole_stage(ids[i].reg);
		if (st == NULL)
			continue;
		for (int f = 0; f < 8; f++)
			if (s->except_tcp_flags & (1u << f))
				rb_printf(b,
					  "-A ITM_S%u -p tcp --tcp-flags %s "
					  "%s -j RETURN\n",
					  i, tcp_flag_names[f],
					  tcp_flag_names[f]);
		rb_printf(b, "-A ITM_S%u -m nfacct --nfacct-name itm_s%u\n", i,
			  i);
		if (s->action == ITM_SETTLE_SET_TOS)
			rb_printf(b,
				  "-A ITM_S%u -j TOS --set-tos "
				  "0x%02x/0x%02x\n",
				  i, s->tos_value, s->tos_mask);
		else if (s->action == ITM_SETTLE_DROP)
			rb_printf(b, "-A ITM_S%u -j DROP\n", i);
		rb_printf(b, "-A ITM_S%u -j MARK --or-mark 0x%08x\n", i,
			  st->bit);
	}
}

void
settle_rules(struct rules_buf *b, const struct stage *st, const char *chain)
{
	if (st->n_regs != 1)
		return;
	for (unsigned int i = 1; i <= ITM_SETTLE_IDS; i++) {
		if ((ids[i].state != SETTLE_NEW &&
		     ids[i].state != SETTLE_LIVE) ||
		    ids[i].reg != st->regs[0])
			continue;
		rb_printf(b,
			  "-A %s -m mark ! --mark 0x%08x/0x%08x -m connmark "
			  "--mark 0x%08x/0x%08x -m conntrack --ctdir ORIGINAL "
			  "-j ITM_S%u\n",
			  chain, st->bit, st->bit, i << ITM_CTMARK_ORIG_SHIFT,
			  ITM_CTMARK_ORIG_MASK, i);
		rb_printf(b,
			  "-A %s -m mark ! --mark 0x%08x/0x%08x -m connmark "
			  "--mark 0x%08x/0x%08x -m conntrack --ctdir REPLY "
			  "-j ITM_S%u\n",
			  chain, st->bit, st->bit, i << ITM_CTMARK_REPLY_SHIFT,
			  ITM_CTMARK_REPLY_MASK, i);
	}
}

void
settle_dead_chains(struct rules_buf *b)
{
	for (unsigned int i = 1; i <= ITM_SETTLE_IDS; i++)
		if (ids[i].state == SETTLE_DEAD)
			rb_printf(b, ":ITM_S%u - [0:0]\n-X ITM_S%u\n", i, i);
}

void
settle_chains_done(void)
{
	for (unsigned int i = 1; i <= ITM_SETTLE_IDS; i++) {
		if (ids[i].state == SETTLE_NEW)
			ids[i].state = SETTLE_LIVE;
		else if (ids[i].state == SETTLE_DEAD)
			ids[i].state = SETTLE_FREE;
	}
}
