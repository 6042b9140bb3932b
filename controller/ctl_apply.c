/*
 * ctl_apply.c - Apply and Rollback.
 *
 * Apply validates the whole file (every fault with its line and field goes
 * back in the status message; nothing is stored), stores the new
 * generation in one transaction (store_apply), reloads the state from the
 * store, pushes every node's table at once, then has every node that took
 * its table run the modules the generation declares (ctl_place.c), and
 * answers one result per node once all of that finished or hit the
 * deadline.  A dry run stops
 * after validation and says which nodes' tables would change.  Rollback
 * stores an older generation's YAML as a new generation, then pushes the
 * same way.  One apply pushes at a time; a second one is told to retry.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "itm.pb-c.h"
#include "log.h"

#define SAME(wire, c) ((int)ITM__V1__OUTCOME__OUTCOME_##wire == (int)(c))
_Static_assert(SAME(UPDATED, CTL_OUTCOME_UPDATED) &&
		       SAME(UNCHANGED, CTL_OUTCOME_UNCHANGED) &&
		       SAME(UNREACHABLE, CTL_OUTCOME_UNREACHABLE) &&
		       SAME(REFUSED, CTL_OUTCOME_REFUSED),
	       "enum ctl_outcome must match itm.proto's Outcome");
#undef SAME

struct apply_call {
	struct ctl *c;
	struct itm_rpc_call *call;
	uint64_t gen;
};

static void
reply_results(struct itm_rpc_call *call, uint64_t gen,
	      const struct ctl_push_result *r, size_t n)
{
	Itm__V1__ApplyReply rep = ITM__V1__APPLY_REPLY__INIT;
	Itm__V1__NodeResult *v = calloc(n ? n : 1, sizeof(*v));
	Itm__V1__NodeResult **p = calloc(n ? n : 1, sizeof(*p));

	if (v == NULL || p == NULL) {
		itm_rpc_fail(call, ITM_RPC_RESOURCE_EXHAUSTED,
			     "generation "
			     "%llu stored; out of memory for the reply",
			     (unsigned long long)gen);
		free(v);
		free(p);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		itm__v1__node_result__init(&v[i]);
		v[i].node = (char *)r[i].node;
		v[i].result = (Itm__V1__Outcome)r[i].result;
		v[i].detail = (char *)r[i].detail;
		v[i].generation = r[i].generation;
		p[i] = &v[i];
	}
	rep.generation = gen;
	rep.nodes = p;
	rep.n_nodes = n;
	itm_rpc_reply(call, &rep.base);
	free(v);
	free(p);
}

/* Tables pushed and modules placed: log the counts and answer. */
static void
placed_cb(void *arg, struct ctl_push_result *r, size_t n)
{
	struct apply_call *ac = arg;
	size_t count[CTL_OUTCOME_REFUSED + 1] = { 0 };

	for (size_t i = 0; i < n; i++) {
		count[r[i].result]++;
		if (r[i].result >= CTL_OUTCOME_UNREACHABLE)
			log_warnx("generation %llu: node %s %s: %s",
				  (unsigned long long)ac->gen, r[i].node,
				  ctl_outcome_name(r[i].result), r[i].detail);
	}
	log_info("generation %llu pushed and placed: %zu updated, "
		 "%zu unchanged, %zu unreachable, %zu refused",
		 (unsigned long long)ac->gen, count[CTL_OUTCOME_UPDATED],
		 count[CTL_OUTCOME_UNCHANGED], count[CTL_OUTCOME_UNREACHABLE],
		 count[CTL_OUTCOME_REFUSED]);
	reply_results(ac->call, ac->gen, r, n);
	ac->c->applying = 0;
	free(ac);
}

/* Tables pushed: now the modules of the nodes that took theirs. */
static void
pushed_cb(void *arg, struct ctl_push_result *r, size_t n)
{
	struct apply_call *ac = arg;
	char why[48];
	int rc;

	snprintf(why, sizeof(why), "generation %llu",
		 (unsigned long long)ac->gen);
	rc = ctl_place_pushed(ac->c, why, r, n, placed_cb, ac);
	if (rc < 0) {
		log_warnx("generation %llu: module placement: %s",
			  (unsigned long long)ac->gen, strerror(-rc));
		placed_cb(ac, r, n);
	}
}

/* Generation @gen is stored: load it and push it everywhere. */
static void
push_generation(struct ctl *c, struct itm_rpc_call *call, uint64_t gen)
{
	struct apply_call *ac;
	const char **names;
	int rc;

	if ((rc = ctl_state_load(c)) < 0) {
		log_warnx("generation %llu stored but not loaded: %s",
			  (unsigned long long)gen, store_errmsg(c->store));
		itm_rpc_fail(call, ITM_RPC_INTERNAL,
			     "generation %llu stored, "
			     "but reading it back failed: %s",
			     (unsigned long long)gen, store_errmsg(c->store));
		return;
	}
	names = calloc(c->n_nodes ? c->n_nodes : 1, sizeof(*names));
	ac = calloc(1, sizeof(*ac));
	rc = names && ac ? 0 : -ENOMEM;
	for (size_t i = 0; rc == 0 && i < c->n_nodes; i++)
		names[i] = c->nodes[i].name;
	if (rc == 0) {
		*ac = (struct apply_call){ .c = c, .call = call, .gen = gen };
		c->applying = 1;
		rc = ctl_push(c, names, c->n_nodes, pushed_cb, ac);
	}
	free(names);
	if (rc < 0) {
		c->applying = 0;
		free(ac);
		itm_rpc_fail(call, ITM_RPC_INTERNAL,
			     "generation %llu stored; "
			     "push: %s (agents get it when they next join)",
			     (unsigned long long)gen, strerror(-rc));
	}
}

/* Which nodes' tables @cfg would change, without storing anything. */
static void
dry_run(struct ctl *c, struct itm_rpc_call *call, const struct topo_config *cfg)
{
	struct ctl_push_result *r = NULL;
	struct neigh_set *set;

	if (neigh_build(cfg, &set) < 0 ||
	    (r = calloc(set->n ? set->n : 1, sizeof(*r))) == NULL) {
		itm_rpc_fail(call, ITM_RPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	for (size_t i = 0; i < set->n; i++) {
		const struct neigh_table *t = &set->tables[i];
		const struct neigh_table *cur = ctl_node_table(c, t->node);
		const struct ctl_node *n = ctl_node_find(c, t->node);
		int same = cur && strcmp(cur->digest, t->digest) == 0;

		r[i].node = t->node;
		r[i].result =
			same ? CTL_OUTCOME_UNCHANGED : CTL_OUTCOME_UPDATED;
		r[i].generation = same && n ? n->want_gen : c->gen + 1;
		snprintf(r[i].detail, sizeof(r[i].detail),
			 "dry run: nothing stored or pushed");
	}
	reply_results(call, 0, r, set->n);
	free(r);
	neigh_set_free(set);
}

static int
apply_allowed(struct ctl *c, struct itm_rpc_call *call)
{
	if (!ctl_operator_ok(c, call))
		return 0;
	if (c->applying) {
		itm_rpc_fail(call, ITM_RPC_ABORTED,
			     "generation %llu is still "
			     "being pushed; try again in a moment",
			     (unsigned long long)c->gen);
		return 0;
	}
	return 1;
}

static void
apply_dry(struct ctl *c, struct itm_rpc_call *call, const char *yaml,
	  const char *file)
{
	struct topo_config *cfg = NULL;
	struct topo_errors errs;

	topo_errors_init(&errs);
	if (topo_parse(yaml, strlen(yaml), file, &cfg, &errs) < 0)
		ctl_fail_faults(call, &errs);
	else
		dry_run(c, call, cfg);
	topo_config_free(cfg);
	topo_errors_free(&errs);
}

void
ctl_h_apply(struct itm_rpc_call *call, void *arg)
{
	struct ctl *c = arg;
	const Itm__V1__ApplyRequest *req = (const void *)itm_rpc_request(call);
	const char *file = req->filename[0] ? req->filename : "topo.yaml";
	struct topo_errors errs;
	uint64_t gen;
	int rc;

	if (!apply_allowed(c, call))
		return;
	if (strlen(req->yaml) > TOPO_MAX_BYTES) {
		itm_rpc_fail(call, ITM_RPC_INVALID_ARGUMENT,
			     "yaml: %s is "
			     "larger than %d bytes",
			     file, TOPO_MAX_BYTES);
		return;
	}
	if (req->dry_run) {
		apply_dry(c, call, req->yaml, file);
		return;
	}
	topo_errors_init(&errs);
	rc = store_apply(c->store, req->yaml, strlen(req->yaml), file, NULL, 0,
			 &errs, &gen);
	if (rc == -EINVAL) {
		log_info("apply of %s from %s refused: %zu faults, nothing "
			 "stored",
			 file, itm_rpc_peer(call), errs.n + errs.dropped);
		ctl_fail_faults(call, &errs);
	} else if (rc < 0) {
		log_warnx("apply of %s: database: %s", file,
			  store_errmsg(c->store));
		itm_rpc_fail(call, ITM_RPC_INTERNAL,
			     "database: %s; nothing "
			     "stored",
			     store_errmsg(c->store));
	} else {
		log_info("generation %llu applied from %s (%s)",
			 (unsigned long long)gen, file, itm_rpc_peer(call));
		push_generation(c, call, gen);
	}
	topo_errors_free(&errs);
}

void
ctl_h_rollback(struct itm_rpc_call *call, void *arg)
{
	struct ctl *c = arg;
	const Itm__V1__RollbackRequest *req =
		(const void *)itm_rpc_request(call);
	struct topo_errors errs;
	uint64_t gen;
	int rc;

	if (!apply_allowed(c, call))
		return;
	topo_errors_init(&errs);
	rc = store_rollback(c->store, req->generation, &errs, &gen);
	if (rc == -ENOENT) {
		itm_rpc_fail(call, ITM_RPC_NOT_FOUND, "no generation %llu",
			     (unsigned long long)req->generation);
	} else if (rc == -EINVAL) {
		ctl_fail_faults(call, &errs);
	} else if (rc < 0) {
		itm_rpc_fail(call, ITM_RPC_INTERNAL,
			     "database: %s; nothing "
			     "stored",
			     store_errmsg(c->store));
	} else {
		log_info("generation %llu: rollback to generation %llu (%s)",
			 (unsigned long long)gen,
			 (unsigned long long)req->generation,
			 itm_rpc_peer(call));
		push_generation(c, call, gen);
	}
	topo_errors_free(&errs);
}
