/*
 * ctl_apply.c - Apply and Rollback.
 *
 * Apply parses and validates the whole file, here and only here (every
 * fault with its line and field goes back to the client; nothing is
 * stored), computes every node's table and its table generation, stores
 * the result as a new generation (store_apply, whole or not at all),
 * makes it the current state, pushes every node's table at once, then
 * has every node that took its table run the modules the generation
 * declares (ctl_place.c), and answers one result per node once all of
 * that finished or hit the deadline.  A dry run stops after validation
 * and says which nodes' tables would change.  Rollback parses an older
 * generation's stored YAML the same way and stores it as a new
 * generation, then pushes the same way.  One apply pushes at a time; a
 * second one is told to retry.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "itm.pb-c.h"
#include "log.h"

_Static_assert(ITM_TOPOLOGY_MAX_BYTES <= TOPO_MAX_BYTES,
	       "the parser must take what Apply may carry");

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
	uint64_t t0; /* uv_hrtime() before storing it */
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
	metrics_hist_observe(&ac->c->apply_hist, ctl_since_s(ac->t0));
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

/* Generation @gen is stored and current: push it everywhere. */
static void
push_generation(struct ctl *c, struct itm_rpc_call *call, uint64_t gen,
		uint64_t t0)
{
	struct apply_call *ac;
	const char **names;
	int rc;

	names = calloc(c->n_nodes ? c->n_nodes : 1, sizeof(*names));
	ac = calloc(1, sizeof(*ac));
	rc = names && ac ? 0 : -ENOMEM;
	for (size_t i = 0; rc == 0 && i < c->n_nodes; i++)
		names[i] = c->nodes[i].name;
	if (rc == 0) {
		*ac = (struct apply_call){ .c = c,
					   .call = call,
					   .gen = gen,
					   .t0 = t0 };
		c->applying = 1;
		rc = ctl_push(c, names, c->n_nodes, call, pushed_cb, ac);
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

/* A parsed topology made ready to store: its tables and their table
 * generations against the current ones. */
struct staged {
	struct topo_config *topo;
	struct neigh_set *tables;
	uint64_t *gens;
};

static int
stage(struct ctl *c, struct topo_config *topo, struct staged *s)
{
	int rc;

	*s = (struct staged){ .topo = topo };
	rc = neigh_build(topo, &s->tables);
	if (rc == 0)
		rc = ctl_table_gens(c, s->tables, &s->gens);
	return rc;
}

static void
staged_free(struct staged *s)
{
	free(s->gens);
	neigh_set_free(s->tables);
	topo_config_free(s->topo);
	*s = (struct staged){ 0 };
}

/*
 * Store @s as a new generation described by @in, make it the current
 * state and push it; answers @call either way.  Takes @s.
 */
static void
store_and_push(struct ctl *c, struct itm_rpc_call *call, struct staged *s,
	       struct store_apply *in)
{
	uint64_t gen, t0 = uv_hrtime();
	int rc;

	in->topo = s->topo;
	in->tables = s->tables;
	in->table_gens = s->gens;
	if ((rc = store_apply(c->store, in, &gen)) < 0) {
		log_warnx("apply of %s: database: %s", in->source,
			  store_errmsg(c->store));
		itm_rpc_fail(call,
			     rc == -EROFS || rc == -EBADMSG
				     ? ITM_RPC_FAILED_PRECONDITION
				     : ITM_RPC_INTERNAL,
			     "database: %s; nothing stored",
			     store_errmsg(c->store));
		staged_free(s);
		return;
	}
	free(s->gens);
	rc = ctl_state_set(c, gen, s->topo, s->tables);
	*s = (struct staged){ 0 };
	if (rc < 0) {
		log_warnx("generation %llu stored but not loaded: %s",
			  (unsigned long long)gen, strerror(-rc));
		itm_rpc_fail(call, ITM_RPC_INTERNAL,
			     "generation %llu stored, but loading it failed: "
			     "%s",
			     (unsigned long long)gen, strerror(-rc));
		return;
	}
	if (in->rollback_of)
		log_info("generation %llu: rollback to generation %llu (%s)",
			 (unsigned long long)gen,
			 (unsigned long long)in->rollback_of,
			 itm_rpc_peer(call));
	else
		log_info("generation %llu applied from %s (%s)%s%s",
			 (unsigned long long)gen, in->source,
			 itm_rpc_peer(call), in->comment ? ": " : "",
			 in->comment ? in->comment : "");
	push_generation(c, call, gen, t0);
}

/* Which nodes' tables @s would change, without storing anything. */
static void
dry_run(struct ctl *c, struct itm_rpc_call *call, const struct staged *s)
{
	const struct neigh_set *set = s->tables;
	struct ctl_push_result *r = calloc(set->n ? set->n : 1, sizeof(*r));

	if (r == NULL) {
		itm_rpc_fail(call, ITM_RPC_RESOURCE_EXHAUSTED, "out of memory");
		return;
	}
	for (size_t i = 0; i < set->n; i++) {
		r[i].node = set->tables[i].node;
		r[i].result = s->gens[i] ? CTL_OUTCOME_UNCHANGED
					 : CTL_OUTCOME_UPDATED;
		r[i].generation = s->gens[i] ? s->gens[i] : c->gen + 1;
		snprintf(r[i].detail, sizeof(r[i].detail),
			 "dry run: nothing stored or pushed");
	}
	reply_results(call, c->gen + 1, r, set->n); /* what it would be */
	free(r);
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

/* Parse @yaml (named @name in faults) into @s: where a request's
 * topology is parsed, once.  < 0 after answering @call (its faults). */
static int
parse_request(struct ctl *c, struct itm_rpc_call *call, const char *what,
	      const char *yaml, size_t len, const char *name, struct staged *s)
{
	struct topo_config *topo = NULL;
	struct topo_errors errs;
	int rc;

	topo_errors_init(&errs);
	rc = topo_parse(yaml, len, name, &topo, &errs);
	if (rc == -EINVAL) {
		log_info("%s of %s from %s refused: %zu faults, nothing stored",
			 what, name, itm_rpc_peer(call), errs.n + errs.dropped);
		ctl_fail_faults(call, &errs);
	} else if (rc == 0 && (rc = stage(c, topo, s)) < 0) {
		staged_free(s);
	}
	if (rc < 0 && rc != -EINVAL)
		itm_rpc_fail(call, ITM_RPC_RESOURCE_EXHAUSTED, "%s: %s", name,
			     strerror(-rc));
	topo_errors_free(&errs);
	return rc;
}

void
ctl_h_apply(struct itm_rpc_call *call, void *arg)
{
	struct ctl *c = arg;
	const Itm__V1__ApplyRequest *req = (const void *)itm_rpc_request(call);
	const char *file = req->filename[0] ? req->filename : "topo.yaml";
	size_t len = strlen(req->yaml);
	struct store_apply in = { .yaml = req->yaml, .len = len };
	struct staged s;

	if (!apply_allowed(c, call))
		return;
	if (len > ITM_TOPOLOGY_MAX_BYTES) {
		itm_rpc_fail(call, ITM_RPC_INVALID_ARGUMENT,
			     "yaml: %s is larger than %d bytes", file,
			     ITM_TOPOLOGY_MAX_BYTES);
		return;
	}
	if (parse_request(c, call, "apply", req->yaml, len, file, &s) < 0)
		return;
	if (req->dry_run) {
		dry_run(c, call, &s);
		staged_free(&s);
		return;
	}
	in.source = file;
	in.comment = s.topo->comment;
	store_and_push(c, call, &s, &in);
}

void
ctl_h_rollback(struct itm_rpc_call *call, void *arg)
{
	struct ctl *c = arg;
	const Itm__V1__RollbackRequest *req =
		(const void *)itm_rpc_request(call);
	struct store_apply in = { .rollback_of = req->generation };
	struct store_gen info = { 0 };
	char comment[64], *yaml = NULL;
	struct staged s;
	int rc;

	if (!apply_allowed(c, call))
		return;
	rc = req->generation ? store_yaml(c->store, req->generation, &yaml,
					  &in.len, &info)
			     : -ENOENT;
	if (rc == -ENOENT) {
		itm_rpc_fail(call, ITM_RPC_NOT_FOUND, "no generation %llu",
			     (unsigned long long)req->generation);
	} else if (rc < 0) {
		itm_rpc_fail(call, ITM_RPC_INTERNAL, "database: %s",
			     store_errmsg(c->store));
	} else if (parse_request(c, call, "rollback", yaml, in.len, info.source,
				 &s) == 0) {
		snprintf(comment, sizeof(comment),
			 "rollback to generation %llu",
			 (unsigned long long)req->generation);
		in.yaml = yaml;
		in.source = info.source;
		in.comment = comment;
		store_and_push(c, call, &s, &in);
	}
	free(yaml);
	store_gen_clear(&info);
}
