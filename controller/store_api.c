/*
 * store_api.c - the store's calls (store.h) over its backends: picks the
 * backend at open, checks what a call is given, computes what every
 * backend keeps the same way (the YAML's SHA-256), frees results.  No
 * backend code here: store.c is SQLite, store_etcd/ etcd.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "store.h"

/* Backends by the start of the address; the first that matches opens it. */
static const struct backend {
	const char *prefix; /* "" matches any: a file path */
	const struct store_ops *ops;
} backends[] = {
	{ "etcd://", &store_etcd_ops },
	{ "", &store_sqlite_ops },
};

int
store_open(struct store **out, const char *where, char *err, size_t errlen)
{
	int rc;

	*out = NULL;
	if (where == NULL || where[0] == '\0') {
		if (err)
			snprintf(err, errlen, "no store given");
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(backends) / sizeof(*backends); i++) {
		const struct backend *b = &backends[i];

		if (strncmp(where, b->prefix, strlen(b->prefix)) != 0)
			continue;
		rc = b->ops->open(out, where, err, errlen);
		if (rc == 0)
			snprintf((*out)->where, sizeof((*out)->where), "%s",
				 where);
		return rc;
	}
	if (err)
		snprintf(err, errlen, "%s: no store of that kind", where);
	return -EPROTONOSUPPORT;
}

void
store_close(struct store *st)
{
	if (st)
		st->ops->close(st);
}

const char *
store_errmsg(const struct store *st)
{
	return st->err;
}

uint64_t
store_errors(const struct store *st)
{
	return st->errors;
}

/* @rc of a backend call, failures counted (not "no such generation"). */
static int
counted(struct store *st, int rc)
{
	if (rc < 0 && rc != -ENOENT)
		st->errors++;
	return rc;
}

int
store_schema_version(struct store *st)
{
	return counted(st, st->ops->schema_version(st));
}

/* ------------------------------------------------------------------ */
/* Damage                                                               */
/* ------------------------------------------------------------------ */

/* After any call: failures counted, and a store that reported corruption
 * is damaged. */
static int
seen(struct store *st, int rc)
{
	if (rc == -EBADMSG)
		st->damaged = 1;
	return counted(st, rc);
}

/* Before a write: -EROFS and the way out when the store is damaged. */
static int
write_refused(struct store *st)
{
	if (!st->damaged)
		return 0;
	snprintf(st->err, sizeof(st->err),
		 "%s is damaged, writes are refused: %s", st->where,
		 STORE_RECOVERY);
	return st->last = -EROFS;
}

int
store_check(struct store *st, int full)
{
	return st->ops->check ? seen(st, st->ops->check(st, full)) : 0;
}

int
store_damaged(const struct store *st)
{
	return st->damaged;
}

/* ------------------------------------------------------------------ */
/* Apply                                                                */
/* ------------------------------------------------------------------ */

static int
apply_invalid(struct store *st, const char *why)
{
	snprintf(st->err, sizeof(st->err), "apply: %s", why);
	st->last = -EINVAL;
	return -EINVAL;
}

/* One table and one table generation per node, in the topology's order. */
static int
apply_check(struct store *st, const struct store_apply *in)
{
	if (in == NULL || in->yaml == NULL || in->topo == NULL ||
	    in->tables == NULL || in->table_gens == NULL)
		return apply_invalid(st, "nothing to store");
	if (in->tables->n != in->topo->n_nodes)
		return apply_invalid(st, "not one table per node");
	for (size_t i = 0; i < in->tables->n; i++)
		if (strcmp(in->tables->tables[i].node,
			   in->topo->nodes[i].name) != 0)
			return apply_invalid(st, "tables not in node order");
	return 0;
}

static void
sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	out[0] = '\0';
	if (!EVP_Digest(data, len, h, &n, EVP_sha256(), NULL))
		return;
	for (unsigned int i = 0; i < n && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}

int
store_apply(struct store *st, const struct store_apply *in, uint64_t *gen)
{
	char sha[65];
	int rc;

	if ((rc = apply_check(st, in)) < 0)
		return rc;
	if ((rc = write_refused(st)) < 0)
		return rc;
	sha256_hex(in->yaml, in->len, sha);
	return seen(st, st->ops->apply(st, in, sha, gen));
}

/* Test hook: create the file named by STORE_PAUSE_ENV and wait (up to a
 * minute, or until it is removed) with the write open. */
void
store_pause_hook(void)
{
	const char *path = getenv(STORE_PAUSE_ENV);
	FILE *f;

	if (path == NULL || path[0] == '\0' || (f = fopen(path, "w")) == NULL)
		return;
	fprintf(f, "%d\n", (int)getpid());
	fclose(f);
	for (int i = 0; i < 6000 && access(path, F_OK) == 0; i++)
		usleep(10000);
}

/* ------------------------------------------------------------------ */
/* Generations                                                          */
/* ------------------------------------------------------------------ */

int
store_current(struct store *st, uint64_t *gen)
{
	return seen(st, st->ops->current(st, gen));
}

int
store_history(struct store *st, struct store_gen **out, size_t *n)
{
	return seen(st, st->ops->history(st, out, n));
}

void
store_gen_clear(struct store_gen *g)
{
	free(g->comment);
	free(g->source);
	g->comment = g->source = NULL;
}

void
store_history_free(struct store_gen *v, size_t n)
{
	for (size_t i = 0; i < n && v; i++)
		store_gen_clear(&v[i]);
	free(v);
}

int
store_yaml(struct store *st, uint64_t gen, char **yaml, size_t *len,
	   struct store_gen *info)
{
	return seen(st, st->ops->yaml(st, gen, yaml, len, info));
}

/* ------------------------------------------------------------------ */
/* Nodes, agents, placements                                            */
/* ------------------------------------------------------------------ */

int
store_nodes(struct store *st, struct store_node **out, size_t *n)
{
	return seen(st, st->ops->nodes(st, out, n));
}

void
store_nodes_free(struct store_node *v, size_t n)
{
	for (size_t i = 0; i < n && v; i++) {
		free(v[i].name);
		free(v[i].mgmt);
		free(v[i].overlay);
		free(v[i].labels);
		free(v[i].agent_addr);
		free(v[i].version);
	}
	free(v);
}

int
store_agent_seen(struct store *st, const char *node, const char *addr,
		 const char *version, int64_t now_ms)
{
	struct store_seen v = { node, addr, version, now_ms };

	return store_agents_seen(st, &v, 1);
}

int
store_agents_seen(struct store *st, const struct store_seen *v, size_t n)
{
	if (n == 0)
		return 0;
	return write_refused(st) ?: seen(st, st->ops->agents_seen(st, v, n));
}

int
store_agent_ack(struct store *st, const char *node, uint64_t gen)
{
	return store_agent_acks(st, &node, &gen, 1);
}

int
store_agent_acks(struct store *st, const char *const *nodes,
		 const uint64_t *gens, size_t n)
{
	if (n == 0)
		return 0;
	return write_refused(st)
		       ?: seen(st, st->ops->agent_acks(st, nodes, gens, n));
}

int
store_placements(struct store *st, const char *node,
		 struct store_placement **out, size_t *n)
{
	return seen(st, st->ops->placements(st, node, out, n));
}

void
store_placements_free(struct store_placement *v, size_t n)
{
	for (size_t i = 0; i < n && v; i++) {
		free(v[i].module);
		free(v[i].params);
	}
	free(v);
}

int
store_placed_nodes(struct store *st, char ***out, size_t *n)
{
	return seen(st, st->ops->placed_nodes(st, out, n));
}

void
store_names_free(char **v, size_t n)
{
	for (size_t i = 0; i < n && v; i++)
		free(v[i]);
	free(v);
}

int
store_placement_set(struct store *st, const char *node, const char *module,
		    const char *params, uint64_t gen, int64_t now_ms)
{
	return write_refused(st)
		       ?: seen(st, st->ops->placement_set(st, node, module,
							  params, gen, now_ms));
}

int
store_placement_del(struct store *st, const char *node, const char *module)
{
	return write_refused(st)
		       ?: seen(st, st->ops->placement_del(st, node, module));
}

int
store_lead(struct store *st, const char *me, int ttl_s, char *leader,
	   size_t len)
{
	if (st->ops->lead == NULL) {
		snprintf(leader, len, "%s", me);
		return 1;
	}
	return st->ops->lead(st, me, ttl_s, leader, len);
}

void
store_resign(struct store *st)
{
	if (st && st->ops->resign)
		st->ops->resign(st);
}

int
store_watch(struct store *st, struct uv_loop_s *loop, store_watch_cb cb,
	    void *arg)
{
	return st->ops->watch ? st->ops->watch(st, loop, cb, arg) : -ENOTSUP;
}

void
store_unwatch(struct store *st)
{
	if (st && st->ops->unwatch)
		st->ops->unwatch(st);
}

int
store_health(struct store *st, char *buf, size_t len)
{
	uint64_t gen;
	int rc;

	if (st->ops->health)
		return st->ops->health(st, buf, len);
	if ((rc = store_current(st, &gen)) < 0)
		snprintf(buf, len, "%s", store_errmsg(st));
	else
		snprintf(buf, len, "ok: %s, schema %d", st->ops->name,
			 store_schema_version(st));
	return rc;
}
