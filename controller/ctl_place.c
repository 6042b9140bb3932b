/*
 * ctl_place.c - module placement: each node's agent runs the modules the
 * current topology declares for it (topo.yaml nodes[].modules).
 *
 * Reconciling one node asks its agent what it runs (ListModules), compares
 * that with the node's modules in the current generation and with what the
 * controller placed there before (the store's placements), then makes the
 * calls one after the other on that node:
 *
 *   unloaded  a module an earlier generation placed that this one no
 *             longer lists
 *   reloaded  a declared module whose parameters differ (unload, load)
 *   loaded    a declared module the agent does not run
 *
 * A module the topology never declared is never touched: one an operator
 * loaded by hand (itmctl module load NODE ..., itmctl --agent) has no
 * placement row.  A declared module found running with the declared
 * parameters is adopted (it gets a row, as if placed).  Parameters differ
 * when the agent reports a declared key with another value (ListModules
 * gives the effective parameters, defaults included), or when the declared
 * set is not the one the controller placed last (a key dropped from the
 * file returns to its default only through a reload).
 *
 * Nodes are reconciled concurrently, as asynchronous calls on the loop.
 * The calls on one node are serialized, and so are reconciles of one node
 * (an agent joining during an apply waits its turn): every job sits in
 * one FIFO, and a job starts when no earlier job for its node is running.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "itm.pb-c.h"
#include "log.h"

#define PLACE_CALL_MIN_MS 5000 /* a load may take a while */

enum step_op { STEP_UNLOAD, STEP_LOAD };

struct step {
	enum step_op op;
	char *module;
	char **params; /* "k=v", file order (loads) */
	size_t n_params;
	char *canon;	  /* sorted "k=v" lines (loads) */
	const char *verb; /* "loaded", "reloaded", "unloaded" */
	int skip;	  /* its unload failed (reloads) */
};

struct place_job {
	struct ctl *c;
	struct place_job *next; /* c->place_jobs, oldest first */
	char *node;
	char why[48]; /* for the log: "generation 4", "join" */
	int running;
	struct step *steps;
	size_t n_steps, cur;
	struct ctl_place_outcome out;
	char detail[CTL_DETAIL_MAX];
	ctl_place_done_cb done;
	void *arg;
};

static void job_start(struct place_job *j);

/* ------------------------------------------------------------------ */
/* Jobs: the FIFO and the outcome                                       */
/* ------------------------------------------------------------------ */

static void
steps_free(struct place_job *j)
{
	for (size_t i = 0; i < j->n_steps; i++) {
		struct step *s = &j->steps[i];

		for (size_t k = 0; k < s->n_params; k++)
			free(s->params[k]);
		free(s->params);
		free(s->module);
		free(s->canon);
	}
	free(j->steps);
	j->steps = NULL;
	j->n_steps = 0;
}

/* Append "; @fmt" (or @fmt first) to the job's detail, cut if too long. */
static void __attribute__((format(printf, 2, 3)))
detail_add(struct place_job *j, const char *fmt, ...)
{
	size_t len = strlen(j->detail);
	va_list ap;

	if (len + 4 >= sizeof(j->detail))
		return;
	if (len)
		len += (size_t)snprintf(j->detail + len,
					sizeof(j->detail) - len, "; ");
	va_start(ap, fmt);
	vsnprintf(j->detail + len, sizeof(j->detail) - len, fmt, ap);
	va_end(ap);
}

static void
job_unlink(struct ctl *c, struct place_job *j)
{
	struct place_job **pp = &c->place_jobs;

	while (*pp && *pp != j)
		pp = &(*pp)->next;
	if (*pp)
		*pp = j->next;
}

/* Report, free, and start the next job waiting for this node. */
static void
job_finish(struct place_job *j)
{
	struct ctl *c = j->c;
	struct place_job *next;

	job_unlink(c, j);
	j->out.node = j->node;
	j->out.detail = j->detail;
	j->done(j->arg, &j->out);
	for (next = c->place_jobs; next; next = next->next)
		if (!next->running && strcmp(next->node, j->node) == 0)
			break;
	steps_free(j);
	free(j->node);
	free(j);
	if (next)
		job_start(next);
}

static void
job_fail(struct place_job *j, enum ctl_outcome result, const char *what,
	 const struct itm_rpc_status *st)
{
	j->out.failed = result;
	if (st)
		detail_add(j, "%s: %s: %.300s", what,
			   itm_rpc_code_name(st->code), st->message);
	else
		detail_add(j, "%s", what);
}

/* ------------------------------------------------------------------ */
/* Parameters                                                           */
/* ------------------------------------------------------------------ */

static int
kv_cmp(const void *a, const void *b)
{
	return strcmp(((const struct topo_kv *)a)->key,
		      ((const struct topo_kv *)b)->key);
}

/* @m's parameters as sorted "k=v" lines, the form the store keeps. */
static char *
params_canon(const struct topo_module *m)
{
	struct topo_kv *v = calloc(m->n_params ? m->n_params : 1, sizeof(*v));
	size_t len = 1;
	char *s;

	if (v == NULL)
		return NULL;
	for (size_t i = 0; i < m->n_params; i++)
		len += strlen(m->params[i].key) + strlen(m->params[i].value) +
		       2;
	if ((s = malloc(len)) != NULL) {
		if (m->n_params) {
			memcpy(v, m->params, m->n_params * sizeof(*v));
			qsort(v, m->n_params, sizeof(*v), kv_cmp);
		}
		s[0] = '\0';
		for (size_t i = 0; i < m->n_params; i++) {
			if (i)
				strcat(s, "\n");
			strcat(s, v[i].key);
			strcat(s, "=");
			strcat(s, v[i].value);
		}
	}
	free(v);
	return s;
}

/* "threshold=20 ports=80,443" for the detail and the log. */
static void
params_text(const struct step *s, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < s->n_params && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, " %s",
					s->params[i]);
}

/* The agent's value of @key in @mi ("k=v" strings), or NULL. */
static const char *
agent_param(const Itm__V1__ModuleInfo *mi, const char *key)
{
	size_t klen = strlen(key);

	for (size_t i = 0; i < mi->n_params; i++)
		if (strncmp(mi->params[i], key, klen) == 0 &&
		    mi->params[i][klen] == '=')
			return mi->params[i] + klen + 1;
	return NULL;
}

/* Does the agent run @m with other values than declared? */
static int
params_differ(const Itm__V1__ModuleInfo *mi, const struct topo_module *m)
{
	for (size_t i = 0; i < m->n_params; i++) {
		const char *v = agent_param(mi, m->params[i].key);

		if (v == NULL || strcmp(v, m->params[i].value) != 0)
			return 1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* The plan: what to do on one node                                     */
/* ------------------------------------------------------------------ */

static const Itm__V1__ModuleInfo *
running(const Itm__V1__ListModulesReply *l, const char *module)
{
	for (size_t i = 0; i < l->n_modules; i++)
		if (strcmp(l->modules[i]->name, module) == 0 &&
		    strcmp(l->modules[i]->kind, "agent") == 0)
			return l->modules[i];
	return NULL;
}

static const struct store_placement *
placed(const struct store_placement *p, size_t n, const char *module)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(p[i].module, module) == 0)
			return &p[i];
	return NULL;
}

static const struct topo_module *
declared(const struct topo_node *tn, const char *module)
{
	for (size_t i = 0; tn && i < tn->n_modules; i++)
		if (strcmp(tn->modules[i].name, module) == 0)
			return &tn->modules[i];
	return NULL;
}

/* Append a step; a load gets @m's parameters. */
static int
step_add(struct place_job *j, enum step_op op, const char *module,
	 const struct topo_module *m, const char *verb)
{
	struct step *v = realloc(j->steps, (j->n_steps + 1) * sizeof(*v));
	struct step *s;

	if (v == NULL)
		return -ENOMEM;
	j->steps = v;
	s = &v[j->n_steps++];
	*s = (struct step){ .op = op, .verb = verb };
	if ((s->module = strdup(module)) == NULL)
		return -ENOMEM;
	if (op != STEP_LOAD)
		return 0;
	s->params = calloc(m->n_params ? m->n_params : 1, sizeof(char *));
	if (s->params == NULL || (s->canon = params_canon(m)) == NULL)
		return -ENOMEM;
	for (; s->n_params < m->n_params; s->n_params++) {
		const struct topo_kv *kv = &m->params[s->n_params];
		size_t len = strlen(kv->key) + strlen(kv->value) + 2;

		if ((s->params[s->n_params] = malloc(len)) == NULL)
			return -ENOMEM;
		snprintf(s->params[s->n_params], len, "%s=%s", kv->key,
			 kv->value);
	}
	return 0;
}

static void
store_warn(struct place_job *j, int rc, const char *module)
{
	if (rc < 0)
		log_warnx("node %s: module %s: cannot record placement: %s",
			  j->node, module, store_errmsg(j->c->store));
}

/* Placed earlier, not declared now: unload it if it still runs. */
static int
plan_unloads(struct place_job *j, const struct topo_node *tn,
	     const Itm__V1__ListModulesReply *l,
	     const struct store_placement *p, size_t np)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < np; i++) {
		if (declared(tn, p[i].module))
			continue;
		if (running(l, p[i].module))
			rc = step_add(j, STEP_UNLOAD, p[i].module, NULL,
				      "unloaded");
		else
			store_warn(j,
				   store_placement_del(j->c->store, j->node,
						       p[i].module),
				   p[i].module);
	}
	return rc;
}

/* Declared: load what is missing, reload what differs, adopt the rest. */
static int
plan_loads(struct place_job *j, const struct topo_node *tn,
	   const Itm__V1__ListModulesReply *l, const struct store_placement *p,
	   size_t np)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && tn && i < tn->n_modules; i++) {
		const struct topo_module *m = &tn->modules[i];
		const Itm__V1__ModuleInfo *mi = running(l, m->name);
		const struct store_placement *pl = placed(p, np, m->name);
		char *canon = params_canon(m);

		if (canon == NULL)
			return -ENOMEM;
		if (mi == NULL) {
			rc = step_add(j, STEP_LOAD, m->name, m, "loaded");
		} else if (params_differ(mi, m) ||
			   (pl && strcmp(pl->params, canon) != 0)) {
			rc = step_add(j, STEP_UNLOAD, m->name, NULL,
				      "reloaded");
			if (rc == 0)
				rc = step_add(j, STEP_LOAD, m->name, m,
					      "reloaded");
		} else if (pl == NULL) {
			log_info("node %s: module %s already runs as the "
				 "topology declares it: adopted",
				 j->node, m->name);
			store_warn(j,
				   store_placement_set(j->c->store, j->node,
						       m->name, canon,
						       j->c->gen, ctl_now_ms()),
				   m->name);
		}
		free(canon);
	}
	return rc;
}

static int
plan(struct place_job *j, const Itm__V1__ListModulesReply *l)
{
	const struct topo_node *tn =
		j->c->topo ? topo_node_find(j->c->topo, j->node) : NULL;
	struct store_placement *p;
	size_t np;
	int rc;

	if ((rc = store_placements(j->c->store, j->node, &p, &np)) < 0) {
		log_warnx("node %s: placements: %s", j->node,
			  store_errmsg(j->c->store));
		return rc;
	}
	rc = plan_unloads(j, tn, l, p, np);
	if (rc == 0)
		rc = plan_loads(j, tn, l, p, np);
	store_placements_free(p, np);
	return rc;
}

/* Nothing declared and nothing placed: no need to ask the agent. */
static int
nothing_to_do(struct place_job *j)
{
	const struct topo_node *tn =
		j->c->topo ? topo_node_find(j->c->topo, j->node) : NULL;
	struct store_placement *p;
	size_t np;

	if (tn && tn->n_modules)
		return 0;
	if (store_placements(j->c->store, j->node, &p, &np) < 0)
		return 0;
	store_placements_free(p, np);
	return np == 0;
}

/* ------------------------------------------------------------------ */
/* The calls                                                            */
/* ------------------------------------------------------------------ */

static void step_next(struct place_job *j);

/* Start @method on the job's node; 0 when @cb will run. */
static int
call_start(struct place_job *j, enum itm_method method,
	   const ProtobufCMessage *req, int timeout_ms, itm_rpc_done_cb cb)
{
	struct ctl_node *n = ctl_node_find(j->c, j->node);
	int rc;

	if (n == NULL) {
		job_fail(j, CTL_OUTCOME_UNREACHABLE,
			 "no longer in the topology", NULL);
		return -ENOENT;
	}
	rc = ctl_node_call(j->c, n, method, req, timeout_ms, cb, j);
	if (rc < 0) {
		j->out.failed = CTL_OUTCOME_UNREACHABLE;
		detail_add(j, "%s: %s", n->mgmt, strerror(-rc));
	}
	return rc;
}

static int
step_timeout(const struct ctl *c)
{
	return c->cfg.push_timeout_ms > PLACE_CALL_MIN_MS
		       ? (int)c->cfg.push_timeout_ms
		       : PLACE_CALL_MIN_MS;
}

static void
loaded(struct place_job *j, const struct step *s)
{
	char ptext[CTL_DETAIL_MAX / 2];

	params_text(s, ptext, sizeof(ptext));
	j->out.actions++;
	detail_add(j, "%s %s%s", s->verb, s->module, ptext);
	log_info("node %s: module %s %s%s (%s)", j->node, s->module, s->verb,
		 ptext, j->why);
	store_warn(j,
		   store_placement_set(j->c->store, j->node, s->module,
				       s->canon, j->c->gen, ctl_now_ms()),
		   s->module);
}

static void
unloaded(struct place_job *j, struct step *s)
{
	if (strcmp(s->verb, "unloaded") != 0)
		return; /* a reload: its load follows */
	j->out.actions++;
	detail_add(j, "unloaded %s", s->module);
	log_info("node %s: module %s unloaded: no longer in the topology "
		 "(%s)",
		 j->node, s->module, j->why);
	store_warn(j, store_placement_del(j->c->store, j->node, s->module),
		   s->module);
}

/* The agent refused step @s: say so, and what it means for the rest. */
static void
step_refused(struct place_job *j, struct step *s,
	     const struct itm_rpc_status *st)
{
	char ptext[CTL_DETAIL_MAX / 2];

	params_text(s, ptext, sizeof(ptext));
	log_warnx("node %s: %s of module %s%s refused: %s: %s (%s)", j->node,
		  s->op == STEP_LOAD ? "load" : "unload", s->module, ptext,
		  itm_rpc_code_name(st->code), st->message, j->why);
	j->out.failed = CTL_OUTCOME_REFUSED;
	detail_add(j, "%s %s%s refused: %s: %.300s",
		   s->op == STEP_LOAD ? "load" : "unload", s->module, ptext,
		   itm_rpc_code_name(st->code), st->message);
	if (s->op == STEP_LOAD) {
		/* Not running as placed (a reload's unload went through). */
		store_warn(j,
			   store_placement_del(j->c->store, j->node, s->module),
			   s->module);
	} else if (j->cur + 1 < j->n_steps &&
		   strcmp(j->steps[j->cur + 1].module, s->module) == 0) {
		j->steps[j->cur + 1].skip = 1; /* keep the old one */
	}
}

static void
step_done_cb(void *arg, const struct itm_rpc_status *st,
	     const ProtobufCMessage *reply)
{
	struct place_job *j = arg;
	struct step *s = &j->steps[j->cur];

	(void)reply;
	if (st->code == ITM_RPC_OK ||
	    (s->op == STEP_UNLOAD && st->code == ITM_RPC_NOT_FOUND)) {
		if (s->op == STEP_LOAD)
			loaded(j, s);
		else
			unloaded(j, s);
	} else if (ctl_outcome_of(st->code) == CTL_OUTCOME_UNREACHABLE) {
		job_fail(j, CTL_OUTCOME_UNREACHABLE, s->module, st);
		job_finish(j); /* the agent went away */
		return;
	} else {
		step_refused(j, s, st);
	}
	j->cur++;
	step_next(j);
}

/* Run the next step that is not skipped, or finish. */
static void
step_next(struct place_job *j)
{
	Itm__V1__LoadModuleRequest lr = ITM__V1__LOAD_MODULE_REQUEST__INIT;
	Itm__V1__UnloadModuleRequest ur = ITM__V1__UNLOAD_MODULE_REQUEST__INIT;
	struct step *s;
	int rc;

	while (j->cur < j->n_steps && j->steps[j->cur].skip)
		j->cur++;
	if (j->cur == j->n_steps) {
		job_finish(j);
		return;
	}
	s = &j->steps[j->cur];
	if (s->op == STEP_LOAD) {
		lr.name = s->module;
		lr.params = s->params;
		lr.n_params = s->n_params;
		rc = call_start(j, ITM_AGENT_LOAD_MODULE, &lr.base,
				step_timeout(j->c), step_done_cb);
	} else {
		ur.name = s->module;
		rc = call_start(j, ITM_AGENT_UNLOAD_MODULE, &ur.base,
				step_timeout(j->c), step_done_cb);
	}
	if (rc < 0)
		job_finish(j);
}

static void
list_done_cb(void *arg, const struct itm_rpc_status *st,
	     const ProtobufCMessage *reply)
{
	struct place_job *j = arg;

	if (st->code != ITM_RPC_OK) {
		job_fail(j, ctl_outcome_of(st->code), "module list", st);
		job_finish(j);
		return;
	}
	if (plan(j, (const void *)reply) < 0) {
		job_fail(j, CTL_OUTCOME_REFUSED,
			 "module placement: out of memory or "
			 "database error (see the controller's log)",
			 NULL);
		job_finish(j);
		return;
	}
	step_next(j);
}

static void
job_start(struct place_job *j)
{
	Itm__V1__ListModulesRequest lr = ITM__V1__LIST_MODULES_REQUEST__INIT;

	j->running = 1;
	if (nothing_to_do(j)) {
		job_finish(j);
		return;
	}
	if (call_start(j, ITM_AGENT_LIST_MODULES, &lr.base,
		       (int)j->c->cfg.push_timeout_ms, list_done_cb) < 0)
		job_finish(j);
}

int
ctl_place_node(struct ctl *c, const char *node, const char *why,
	       ctl_place_done_cb done, void *arg)
{
	struct place_job *j = calloc(1, sizeof(*j));
	struct place_job **tail = &c->place_jobs;
	int busy = 0;

	if (j == NULL || (j->node = strdup(node)) == NULL) {
		free(j);
		return -ENOMEM;
	}
	j->c = c;
	snprintf(j->why, sizeof(j->why), "%s", why);
	j->done = done;
	j->arg = arg;
	for (; *tail; tail = &(*tail)->next)
		if (strcmp((*tail)->node, node) == 0)
			busy = 1;
	*tail = j;
	if (!busy)
		job_start(j);
	return 0;
}

/* ------------------------------------------------------------------ */
/* After a push: every node that took its table                        */
/* ------------------------------------------------------------------ */

/* One placement round after a push: a fan over the pushed nodes. */
struct place_round {
	struct ctl_fan fan;
	struct ctl_push_result *res; /* a copy; res[i].node is fan.nodes[i] */
	char why[48];
	ctl_push_done_cb done;
	void *arg;
	/* The nodes with placements when the round began (one store read
	 * for the round, not one per node); known = 0: not read. */
	char **placed;
	size_t n_placed;
	int placed_known;
};

static void
round_free(struct place_round *p)
{
	ctl_fan_fini(&p->fan);
	free(p->res);
	store_names_free(p->placed, p->n_placed);
	free(p);
}

static int
name_cmp(const void *key, const void *elem)
{
	return strcmp(key, *(char *const *)elem);
}

/* Nothing declared on @node, nothing placed there when the round began,
 * no job of its own running (it could place meanwhile): no job to run. */
static int
round_nothing_for(const struct place_round *p, const char *node)
{
	const struct ctl *c = p->fan.c;
	const struct topo_node *tn =
		c->topo ? topo_node_find(c->topo, node) : NULL;

	if (!p->placed_known || (tn && tn->n_modules))
		return 0;
	for (const struct place_job *j = c->place_jobs; j; j = j->next)
		if (strcmp(j->node, node) == 0)
			return 0;
	return p->n_placed == 0 ||
	       bsearch(node, p->placed, p->n_placed, sizeof(*p->placed),
		       name_cmp) == NULL;
}

static void
round_finish_cb(struct ctl_fan *f)
{
	struct place_round *p = CTL_FAN_OWNER(f, struct place_round);

	p->done(p->arg, p->res, f->n);
	round_free(p);
}

/* Fold a node's placement into its push result. */
static void
merge(struct ctl_push_result *r, const struct ctl_place_outcome *o)
{
	char table[64];

	if (o->detail[0] == '\0')
		return;
	if (o->failed)
		r->result = o->failed;
	else if (o->actions && r->result == CTL_OUTCOME_UNCHANGED)
		r->result = CTL_OUTCOME_UPDATED;
	snprintf(table, sizeof(table), "table gen %llu",
		 (unsigned long long)r->generation);
	snprintf(r->detail, sizeof(r->detail), "%s; %s", table, o->detail);
}

static void
slot_done_cb(void *arg, const struct ctl_place_outcome *o)
{
	struct ctl_fan_slot *s = arg;
	struct place_round *p = CTL_FAN_OWNER(s->fan, struct place_round);

	merge(&p->res[s->i], o);
	ctl_fan_done(s);
}

/* Place the modules of a node that took its table. */
static int
slot_start(struct ctl_fan_slot *s)
{
	struct place_round *p = CTL_FAN_OWNER(s->fan, struct place_round);
	const struct ctl_push_result *r = &p->res[s->i];

	if (r->result != CTL_OUTCOME_UPDATED &&
	    r->result != CTL_OUTCOME_UNCHANGED)
		return -EAGAIN;
	if (round_nothing_for(p, s->fan->nodes[s->i]))
		return -EAGAIN; /* as the job would find (nothing_to_do) */
	return ctl_place_node(s->fan->c, s->fan->nodes[s->i], p->why,
			      slot_done_cb, s);
}

int
ctl_place_pushed(struct ctl *c, const char *why,
		 const struct ctl_push_result *res, size_t n,
		 ctl_push_done_cb done, void *arg)
{
	struct place_round *p = calloc(1, sizeof(*p));
	const char **names = calloc(n ? n : 1, sizeof(*names));
	int rc = p && names ? 0 : -ENOMEM;

	for (size_t i = 0; rc == 0 && i < n; i++)
		names[i] = res[i].node;
	if (rc == 0)
		rc = ctl_fan_init(&p->fan, c, names, n, round_finish_cb);
	free(names);
	if (rc == 0 && (p->res = calloc(n ? n : 1, sizeof(*p->res))) == NULL)
		rc = -ENOMEM;
	if (rc < 0) {
		if (p)
			round_free(p);
		return rc;
	}
	snprintf(p->why, sizeof(p->why), "%s", why);
	p->done = done;
	p->arg = arg;
	p->placed_known =
		store_placed_nodes(c->store, &p->placed, &p->n_placed) == 0;
	for (size_t i = 0; i < n; i++) {
		p->res[i] = res[i];
		p->res[i].node = p->fan.nodes[i];
	}
	ctl_fan_run(&p->fan, slot_start);
	return 0;
}

/* ------------------------------------------------------------------ */
/* One node, for the log (an agent joined)                              */
/* ------------------------------------------------------------------ */

static void
one_done_cb(void *arg, const struct ctl_place_outcome *o)
{
	const char *why = arg;

	if (o->failed)
		log_warnx("node %s: module placement (%s) %s: %s", o->node, why,
			  ctl_outcome_name(o->failed), o->detail);
	else if (o->actions)
		log_info("node %s: module placement (%s): %s", o->node, why,
			 o->detail);
}

void
ctl_place_one(struct ctl *c, const char *node, const char *why)
{
	int rc = ctl_place_node(c, node, why, one_done_cb, (void *)why);

	if (rc < 0)
		log_warnx("node %s: module placement: %s", node, strerror(-rc));
}
