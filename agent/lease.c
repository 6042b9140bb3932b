/*
 * lease.c - registrations of process modules (libitm), as leases.
 *
 * Attach gives the process its own NFQUEUE number and stage bit, fixed for
 * the lease's life, and installs the stage's rules; the process binds that
 * queue and reads it itself (the paper's per-process itm_queue).  The
 * agent checks every LEASE_CHECK_MS that each process is alive (kill 0)
 * and heard from within LEASE_EXPIRY_MS; otherwise its leases go, with
 * their rules.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "agent.h"
#include "lease.h"
#include "procpub.h"
#include "log.h"

#define LEASE_CHECK_MS 250

struct proc {
	pid_t pid;
	char name[32];
	uint64_t last_seen;
	struct tele_counter *counters;
	unsigned int n_counters;
	LIST_HEAD(, lease) leases;
	LIST_ENTRY(proc) entry;
};

struct lease {
	uint64_t id;
	struct proc *proc;
	struct agent_reg *reg;
	LIST_ENTRY(lease) entry;
};

static LIST_HEAD(, proc) procs = LIST_HEAD_INITIALIZER(procs);
static uint64_t next_lease;
static uv_timer_t check_timer;

static struct proc *
proc_find(pid_t pid)
{
	struct proc *p;

	LIST_FOREACH(p, &procs, entry)
		if (p->pid == pid)
			return p;
	return NULL;
}

static struct lease *
lease_find(uint64_t id)
{
	struct proc *p;
	struct lease *l;

	LIST_FOREACH(p, &procs, entry)
		LIST_FOREACH(l, &p->leases, entry)
			if (l->id == id)
				return l;
	return NULL;
}

static struct proc *
proc_get(pid_t pid, const char *name)
{
	struct proc *p = proc_find(pid);

	if (p != NULL)
		return p;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->pid = pid;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->last_seen = itm__now_ms();
	LIST_INIT(&p->leases);
	LIST_INSERT_HEAD(&procs, p, entry);
	return p;
}

static void
proc_put(struct proc *p)
{
	if (!LIST_EMPTY(&p->leases))
		return;
	LIST_REMOVE(p, entry);
	procpub_drop(p->pid);
	free(p->counters);
	free(p);
}

static void
reg_free_process(struct agent_reg *r)
{
	for (unsigned int i = 0; i < r->n_class_names; i++)
		free(r->class_names[i]);
	free(r->class_names);
	free(r->remote);
	free(r);
}

static struct agent_reg *
reg_new_process(const struct lease_attach *a)
{
	struct agent_reg *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->kind = REG_PROCESS;
	snprintf(r->label, sizeof(r->label), "%s", a->label);
	snprintf(r->proc_name, sizeof(r->proc_name), "%s", a->module);
	r->hook = a->hook;
	r->priority = a->priority;
	r->interest = a->interest;
	r->copy_bytes = a->copy_bytes;
	r->may_settle = a->may_settle;
	r->remote = calloc(ITM_CLASS_MAX + 1, sizeof(*r->remote));
	r->class_names = calloc(a->n_class_names + 1, sizeof(char *));
	if (r->remote == NULL || r->class_names == NULL) {
		reg_free_process(r);
		return NULL;
	}
	for (unsigned int i = 0; i < a->n_class_names; i++)
		r->class_names[r->n_class_names++] = strdup(a->class_names[i]);
	return r;
}

static int
attach_reg(struct agent_reg *r, char *err, size_t errlen)
{
	int rc;

	r->stage_bit = layout_process_bit(r->hook);
	if (r->stage_bit == 0) {
		snprintf(err, errlen, "hook %s has no free stage",
			 itm_hook_name(r->hook));
		return -ENOSPC;
	}
	if (queue_alloc(&r->queue) < 0) {
		snprintf(err, errlen, "no free NFQUEUE number");
		return -ENOSPC;
	}
	rc = reg_add(r, err, errlen);
	if (rc == 0) {
		rc = layout_commit(err, errlen);
		if (rc < 0)
			reg_remove(r);
	}
	if (rc < 0)
		queue_free(r->queue);
	return rc;
}

int
lease_attach(const struct lease_attach *a, struct lease_grant *g, char *err,
	     size_t errlen)
{
	struct agent_reg *r;
	struct lease *l;
	struct proc *p;
	int rc;

	if (a->pid <= 0 || kill(a->pid, 0) < 0) {
		snprintf(err, errlen, "pid %d: no such process", (int)a->pid);
		return -ESRCH;
	}
	r = reg_new_process(a);
	l = calloc(1, sizeof(*l));
	p = proc_get(a->pid, a->module);
	if (r == NULL || l == NULL || p == NULL) {
		free(l);
		if (r)
			reg_free_process(r);
		return -ENOMEM;
	}
	rc = attach_reg(r, err, errlen);
	if (rc < 0) {
		reg_free_process(r);
		free(l);
		proc_put(p);
		return rc;
	}
	l->id = ++next_lease;
	l->proc = p;
	l->reg = r;
	r->lease = l;
	LIST_INSERT_HEAD(&p->leases, l, entry);
	p->last_seen = itm__now_ms();
	g->lease = l->id;
	g->queue = r->queue;
	g->stage_bit = r->stage_bit;
	log_info("process %s[%d] attached %s at %s: queue %u", p->name,
		 (int)p->pid, r->label, itm_hook_name(r->hook), r->queue);
	return 0;
}

/* Remove @l; the caller commits. */
static void
lease_free(struct lease *l)
{
	struct agent_reg *r = l->reg;

	reg_remove(r);
	queue_free(r->queue);
	LIST_REMOVE(l, entry);
	free(l);
}

static void
commit(const char *why)
{
	char err[512];

	if (layout_commit(err, sizeof(err)) < 0)
		log_warnx("%s: %s", why, err);
}

int
lease_detach(uint64_t id, char *err, size_t errlen)
{
	struct lease *l = lease_find(id);
	struct agent_reg *r;
	struct proc *p;

	if (l == NULL) {
		snprintf(err, errlen, "lease %llu: unknown",
			 (unsigned long long)id);
		return -ENOENT;
	}
	r = l->reg;
	p = l->proc;
	log_info("process %s[%d] detached %s", p->name, (int)p->pid, r->label);
	lease_free(l);
	commit("detach");
	reg_free_process(r);
	proc_put(p);
	return 0;
}

/* Drop every lease of @p (dead or silent). */
static void
proc_drop(struct proc *p, const char *why)
{
	struct agent_reg *regs[64];
	unsigned int n = 0;
	struct lease *l;

	log_warnx("process %s[%d] %s: removing its %s", p->name, (int)p->pid,
		  why,
		  LIST_FIRST(&p->leases) &&
				  LIST_NEXT(LIST_FIRST(&p->leases), entry)
			  ? "registrations"
			  : "registration");
	while ((l = LIST_FIRST(&p->leases)) != NULL) {
		if (n < 64)
			regs[n++] = l->reg;
		lease_free(l);
	}
	commit("lease expiry");
	for (unsigned int i = 0; i < n; i++)
		reg_free_process(regs[i]);
	proc_put(p);
}

static void
check_cb(uv_timer_t *t)
{
	uint64_t now = itm__now_ms();
	struct proc *p, *next;

	for (p = LIST_FIRST(&procs); p != NULL; p = next) {
		next = LIST_NEXT(p, entry);
		if (kill(p->pid, 0) < 0 && errno == ESRCH)
			proc_drop(p, "exited");
		else if (now - p->last_seen > LEASE_EXPIRY_MS)
			proc_drop(p, "stopped sending heartbeats");
	}
}

void
lease_init(void)
{
	uv_timer_init(agent->loop, &check_timer);
	uv_timer_start(&check_timer, check_cb, LEASE_CHECK_MS, LEASE_CHECK_MS);
	uv_unref((uv_handle_t *)&check_timer);
}

static void
store_report(struct agent_reg *r, const struct lease_report_reg *rep)
{
	memset(r->remote, 0, (ITM_CLASS_MAX + 1) * sizeof(*r->remote));
	r->remote_packets = 0;
	for (unsigned int i = 0; i < rep->n_cls; i++) {
		const struct tele_class *c = &rep->cls[i];

		if (c->id > ITM_CLASS_MAX)
			continue;
		r->remote[c->id].packets = c->packets;
		r->remote[c->id].bytes = c->bytes;
		r->remote[c->id].flows = c->flows;
		r->remote_packets += c->packets;
	}
}

static int
store_counters(struct proc *p, const struct tele_counter *c, unsigned int n)
{
	struct tele_counter *v = NULL;

	if (n > 0) {
		v = malloc(n * sizeof(*v));
		if (v == NULL)
			return -ENOMEM;
		memcpy(v, c, n * sizeof(*v));
	}
	free(p->counters);
	p->counters = v;
	p->n_counters = n;
	return 0;
}

int
lease_heartbeat(pid_t pid, const uint64_t *ids, unsigned int n,
		const struct lease_report_reg *regs, unsigned int n_regs,
		const struct tele_counter *counters, unsigned int n_counters,
		uint64_t *unknown, unsigned int *n_unknown)
{
	struct proc *p = proc_find(pid);
	struct lease *l;

	*n_unknown = 0;
	for (unsigned int i = 0; i < n; i++) {
		l = lease_find(ids[i]);
		if (l == NULL || l->proc != p)
			unknown[(*n_unknown)++] = ids[i];
	}
	if (p == NULL)
		return 0;
	p->last_seen = itm__now_ms();
	LIST_FOREACH(l, &p->leases, entry)
		for (unsigned int i = 0; i < n_regs; i++)
			if (regs[i].label &&
			    strcmp(regs[i].label, l->reg->label) == 0)
				store_report(l->reg, &regs[i]);
	return store_counters(p, counters, n_counters);
}

const char *
lease_proc_name(pid_t pid)
{
	struct proc *p = proc_find(pid);

	return p ? p->name : NULL;
}

void
lease_latency(pid_t pid, uint64_t id, const struct itm__runner_lat *lat)
{
	struct lease *l = lease_find(id);

	if (l == NULL || l->proc->pid != pid)
		return;
	l->reg->remote_lat = *lat;
	l->reg->has_remote_lat = 1;
}

int
lease_settle(uint64_t id, const struct itm_settle *s, uint32_t *mark, char *err,
	     size_t errlen)
{
	struct lease *l = lease_find(id);

	if (l == NULL) {
		snprintf(err, errlen, "lease %llu: unknown",
			 (unsigned long long)id);
		return -ENOENT;
	}
	if (!l->reg->may_settle) {
		snprintf(err, errlen,
			 "%s: did not declare ITM_MAY_SETTLE at attach",
			 l->reg->label);
		return -EPERM;
	}
	if (l->reg->stage == NULL || l->reg->stage->n_regs != 1) {
		snprintf(err, errlen, "%s: not alone in its stage",
			 l->reg->label);
		return -ENOTSUP;
	}
	return layout_settle(l->reg, s, mark, err, errlen);
}

int
lease_counters(const char *module, struct tele_counter **out, unsigned int *n)
{
	struct proc *p;

	*out = NULL;
	*n = 0;
	LIST_FOREACH(p, &procs, entry)
		if (strcmp(p->name, module) == 0 && p->n_counters > 0) {
			*out = malloc(p->n_counters * sizeof(**out));
			if (*out == NULL)
				return -ENOMEM;
			memcpy(*out, p->counters,
			       p->n_counters * sizeof(**out));
			*n = p->n_counters;
			return 0;
		}
	return 0;
}

void
lease_drop_all(void)
{
	struct proc *p;

	while ((p = LIST_FIRST(&procs)) != NULL)
		proc_drop(p, "is being let go (agent stopping)");
}

pid_t
lease_pid(const struct lease *l)
{
	return l->proc->pid;
}
