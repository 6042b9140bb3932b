/*
 * topo_tunnel.c - topo.yaml's `tunnels:`, the elastic tunnels
 * (modules/etunnel):
 *
 *	tunnels:
 *	  - name: t1
 *	    between: [n1, n3]          # entry, exit
 *	    match: { dst: [10.201.3.0/24],   # topo_tmatch.c
 *		     proto: [tcp, udp], ports: [80, 5000-5100] } # optional
 *	    target: 40mbit
 *	    min_conns: 1               # default 1
 *	    max_conns: 32              # default 16
 *	    port: 7800                 # the exit's; default 7800
 *	    tcp: split                 # split (default) or packet
 *	    cap: yes                   # hold the target, not more (default)
 *	    tls: { ca: /etc/itm/tunnel-ca.pem,   # optional: mutual TLS,
 *		   cert: /etc/itm/tunnel.pem,    # paths on the nodes (each
 *		   key: /etc/itm/tunnel.key,     # end its own certificate,
 *		   crl: /etc/itm/tunnel-ca.crl } # naming its node); crl
 *						 # optional
 *
 * The walk checks each value; topo_tunnel_xref() then checks them against
 * the nodes (both ends exist and differ, have IPv4 underlay addresses, end
 * no other tunnel, do not list etunnel themselves) and places the module:
 * each end's modules list gets etunnel with the parameters of its side,
 * so placement, diffs and reloads treat a tunnel like any declared module.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "topo_int.h"

static void
tun_name(struct topo_ctx *c, yaml_node_t *v, const char *path, void *obj)
{
	((struct topo_tunnel *)obj)->name =
		topo_word(c, v, path, "a tunnel name", topo_check_node_name);
	if (((struct topo_tunnel *)obj)->name &&
	    strlen(((struct topo_tunnel *)obj)->name) > 20) {
		topo_fault(c, topo_line(v), "%s: at most 20 characters", path);
		((struct topo_tunnel *)obj)->name = NULL;
	}
}

static size_t
tun_index(struct topo_ctx *c, const struct topo_tunnel *t)
{
	return (size_t)(t - c->cfg->tunnels);
}

static void
tun_between(struct topo_ctx *c, yaml_node_t *v, const char *path, void *obj)
{
	struct topo_tunnel *t = obj;
	const char *end[2] = { NULL, NULL };
	char sub[224];

	if (v->type != YAML_SEQUENCE_NODE ||
	    v->data.sequence.items.top - v->data.sequence.items.start != 2) {
		topo_fault(c, topo_line(v),
			   "%s: must be a list of two node names, entry "
			   "then exit, as in [n1, n3], got %s",
			   path, topo_kind(v));
		return;
	}
	for (size_t i = 0; i < 2; i++) {
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		end[i] = topo_scalar(c, topo_seq_item(c, v, i), sub,
				     "a node name");
	}
	if (end[0] == NULL || end[1] == NULL)
		return;
	t->a = topo_strndup(c, end[0], strlen(end[0]));
	t->b = topo_strndup(c, end[1], strlen(end[1]));
	c->tun_end_line[tun_index(c, t)] = topo_line(v);
}

static void
tun_target(struct topo_ctx *c, yaml_node_t *v, const char *path, void *obj)
{
	const char *s = topo_scalar(c, v, path, "a rate such as 40mbit");
	char why[128], q[96];

	if (s &&
	    topo_parse_bandwidth(s, &((struct topo_tunnel *)obj)->target_kbps,
				 why, sizeof(why)) < 0)
		topo_fault(c, topo_line(v), "%s: %s, got %s", path, why,
			   topo_quote(s, q, sizeof(q)));
}

static void
tun_uint(struct topo_ctx *c, yaml_node_t *v, const char *path, uint64_t max,
	 uint32_t *out)
{
	uint64_t x;

	if (topo_uint(c, v, path, 1, max, &x) == 0)
		*out = (uint32_t)x;
}

static void
tun_min(struct topo_ctx *c, yaml_node_t *v, const char *path, void *obj)
{
	tun_uint(c, v, path, TOPO_TUNNEL_MAX_CONNS,
		 &((struct topo_tunnel *)obj)->min_conns);
}

static void
tun_max(struct topo_ctx *c, yaml_node_t *v, const char *path, void *obj)
{
	tun_uint(c, v, path, TOPO_TUNNEL_MAX_CONNS,
		 &((struct topo_tunnel *)obj)->max_conns);
}

static void
tun_port(struct topo_ctx *c, yaml_node_t *v, const char *path, void *obj)
{
	tun_uint(c, v, path, 65535, &((struct topo_tunnel *)obj)->port);
}

/* A file on the nodes: an absolute path, one word of at most 255 bytes
 * (it travels as an etunnel parameter). */
static int
check_node_path(const char *s, char *why, size_t len)
{
	size_t n = strlen(s);

	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			n = 0;
	if (s[0] == '/' && n > 1 && n <= 255)
		return 0;
	snprintf(why, len,
		 "must be an absolute path on the nodes (printable, no "
		 "spaces, at most 255 bytes)");
	return -1;
}

static void
tls_ca(struct topo_ctx *c, yaml_node_t *v, const char *path, void *obj)
{
	((struct topo_tunnel *)obj)->tls_ca =
		topo_word(c, v, path, "a file path", check_node_path);
}

static void
tls_cert(struct topo_ctx *c, yaml_node_t *v, const char *path, void *obj)
{
	((struct topo_tunnel *)obj)->tls_cert =
		topo_word(c, v, path, "a file path", check_node_path);
}

static void
tls_key(struct topo_ctx *c, yaml_node_t *v, const char *path, void *obj)
{
	((struct topo_tunnel *)obj)->tls_key =
		topo_word(c, v, path, "a file path", check_node_path);
}

static void
tls_crl(struct topo_ctx *c, yaml_node_t *v, const char *path, void *obj)
{
	((struct topo_tunnel *)obj)->tls_crl =
		topo_word(c, v, path, "a file path", check_node_path);
}

static const struct topo_field tls_fields[] = {
	{ "ca", 1, tls_ca },
	{ "cert", 1, tls_cert },
	{ "key", 1, tls_key },
	{ "crl", 0, tls_crl },
};

static void
tun_tls(struct topo_ctx *c, yaml_node_t *v, const char *path, void *obj)
{
	if (v->type != YAML_MAPPING_NODE) {
		topo_fault(c, topo_line(v),
			   "%s: must be a mapping with ca, cert, key and "
			   "optionally crl (files on the nodes), got %s",
			   path, topo_kind(v));
		return;
	}
	topo_walk_map(c, v, path, tls_fields, 4, obj);
}

static int
check_tcp(const char *s, char *why, size_t len)
{
	if (strcmp(s, "split") == 0 || strcmp(s, "packet") == 0)
		return 0;
	snprintf(why, len, "must be split or packet");
	return -1;
}

static void
tun_tcp(struct topo_ctx *c, yaml_node_t *v, const char *path, void *obj)
{
	((struct topo_tunnel *)obj)->tcp =
		topo_word(c, v, path, "split or packet", check_tcp);
}

static int
check_cap(const char *s, char *why, size_t len)
{
	if (strcmp(s, "yes") == 0 || strcmp(s, "no") == 0)
		return 0;
	snprintf(why, len, "must be yes or no");
	return -1;
}

static void
tun_cap(struct topo_ctx *c, yaml_node_t *v, const char *path, void *obj)
{
	((struct topo_tunnel *)obj)->cap =
		topo_word(c, v, path, "yes or no", check_cap);
}

static const struct topo_field tunnel_fields[] = {
	{ "name", 1, tun_name },
	{ "between", 1, tun_between },
	{ "match", 1, topo_tunnel_match },
	{ "target", 1, tun_target },
	{ "min_conns", 0, tun_min },
	{ "max_conns", 0, tun_max },
	{ "port", 0, tun_port },
	{ "tls", 0, tun_tls },
	{ "tcp", 0, tun_tcp },
	{ "cap", 0, tun_cap },
};

void
topo_walk_tunnels(struct topo_ctx *c, yaml_node_t *v, const char *path,
		  void *obj)
{
	size_t n = topo_seq_len(c, v, path, "tunnels", TOPO_MAX_TUNNELS);
	char sub[64];

	(void)obj;
	if (n == 0 || (c->tun_end_line = calloc(n, sizeof(int))) == NULL ||
	    (c->cfg->tunnels = topo_alloc(c, n * sizeof(struct topo_tunnel))) ==
		    NULL) {
		c->oom |= n != 0;
		return;
	}
	c->cfg->n_tunnels = n;
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = topo_seq_item(c, v, i);
		struct topo_tunnel *t = &c->cfg->tunnels[i];

		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		*t = (struct topo_tunnel){ .line = topo_line(item),
					   .min_conns = 1,
					   .max_conns = 16,
					   .port = TOPO_TUNNEL_DEFAULT_PORT };
		if (item->type != YAML_MAPPING_NODE)
			topo_fault(c, topo_line(item),
				   "%s: must be a mapping with name, between, "
				   "match and target, got %s",
				   sub, topo_kind(item));
		else
			topo_walk_map(c, item, sub, tunnel_fields,
				      sizeof(tunnel_fields) /
					      sizeof(tunnel_fields[0]),
				      t);
	}
}

static struct topo_node *
node_named(struct topo_ctx *c, const char *name)
{
	for (size_t i = 0; i < c->cfg->n_nodes; i++)
		if (c->cfg->nodes[i].name &&
		    strcmp(c->cfg->nodes[i].name, name) == 0)
			return &c->cfg->nodes[i];
	return NULL;
}

static int
has_module(const struct topo_node *n, const char *name)
{
	for (size_t i = 0; i < n->n_modules; i++)
		if (n->modules[i].name && strcmp(n->modules[i].name, name) == 0)
			return 1;
	return 0;
}

/* The tunnel before @i that @node already ends, or NULL. */
static const struct topo_tunnel *
ended_by(struct topo_ctx *c, size_t i, const char *node)
{
	for (size_t j = 0; j < i; j++) {
		const struct topo_tunnel *o = &c->cfg->tunnels[j];

		if (c->tun_end_line[j] &&
		    (strcmp(o->a, node) == 0 || strcmp(o->b, node) == 0))
			return o;
	}
	return NULL;
}

static void
check_end(struct topo_ctx *c, size_t i, int k)
{
	const struct topo_tunnel *t = &c->cfg->tunnels[i], *o;
	const char *name = k ? t->b : t->a;
	const struct topo_node *n = node_named(c, name);
	int line = c->tun_end_line[i];

	if (n == NULL)
		topo_fault(c, line,
			   "tunnels[%zu].between[%d]: no node named '%s'", i, k,
			   name);
	else if (n->underlay == NULL || !strchr(n->underlay, '.'))
		topo_fault(c, line,
			   "tunnels[%zu].between[%d]: node '%s' has no IPv4 "
			   "underlay address for the pool's connections",
			   i, k, name);
	else if (has_module(n, "etunnel"))
		topo_fault(c, line,
			   "tunnels[%zu].between[%d]: node '%s' lists the "
			   "etunnel module itself; declare the tunnel here only",
			   i, k, name);
	else if ((o = ended_by(c, i, name)) != NULL)
		topo_fault(c, line,
			   "tunnels[%zu].between[%d]: node '%s' already ends "
			   "tunnel '%s' (line %d); a node ends one tunnel",
			   i, k, name, o->name ? o->name : "?", o->line);
}

static void
check_tunnel(struct topo_ctx *c, size_t i)
{
	const struct topo_tunnel *t = &c->cfg->tunnels[i];

	for (size_t j = 0; t->name && j < i; j++)
		if (c->cfg->tunnels[j].name &&
		    strcmp(c->cfg->tunnels[j].name, t->name) == 0)
			topo_fault(c, t->line,
				   "tunnels[%zu].name: tunnel '%s' is declared "
				   "twice (first at line %d)",
				   i, t->name, c->cfg->tunnels[j].line);
	if (t->min_conns > t->max_conns)
		topo_fault(c, t->line,
			   "tunnels[%zu].min_conns: %u is above max_conns %u",
			   i, t->min_conns, t->max_conns);
	if (c->tun_end_line[i] == 0)
		return;
	if (strcmp(t->a, t->b) == 0) {
		topo_fault(c, c->tun_end_line[i],
			   "tunnels[%zu].between: a tunnel joins two different "
			   "nodes, got '%s' twice",
			   i, t->a);
		c->tun_end_line[i] = 0;
		return;
	}
	check_end(c, i, 0);
	check_end(c, i, 1);
}

static void
kv_set(struct topo_ctx *c, struct topo_kv *kv, const char *key,
       const char *value)
{
	kv->key = key;
	kv->value = topo_strndup(c, value, strlen(value));
}

static char *
uint_text(char *buf, size_t len, uint64_t v)
{
	snprintf(buf, len, "%llu", (unsigned long long)v);
	return buf;
}

/* The most end_params() sets: name, side, peer, dst, proto, ports, port,
 * max_conns, four tls_, tcp, target, min_conns, cap. */
#define TUN_MAX_PARAMS 16

/* The etunnel parameters of one end (@exit: side=exit). */
static size_t
end_params(struct topo_ctx *c, const struct topo_tunnel *t, int exit,
	   struct topo_kv *kv)
{
	char dst[TOPO_TUNNEL_MAX_DST * 20] = "", num[24];
	size_t n = 0, o = 0;

	for (size_t i = 0; i < t->n_dst; i++)
		o += (size_t)snprintf(dst + o, sizeof(dst) - o, "%s%s",
				      i ? "," : "", t->dst[i]);
	kv_set(c, &kv[n++], "name", t->name);
	kv_set(c, &kv[n++], "side", exit ? "exit" : "entry");
	kv_set(c, &kv[n++], "peer", exit ? t->a : t->b);
	kv_set(c, &kv[n++], "dst", dst);
	if (t->proto) /* both ends: the exit checks what it re-injects */
		kv_set(c, &kv[n++], "proto", t->proto);
	if (t->ports)
		kv_set(c, &kv[n++], "ports", t->ports);
	kv_set(c, &kv[n++], "port", uint_text(num, sizeof(num), t->port));
	kv_set(c, &kv[n++], "max_conns",
	       uint_text(num, sizeof(num), t->max_conns));
	if (t->tls_ca && t->tls_cert && t->tls_key) {
		kv_set(c, &kv[n++], "tls_ca", t->tls_ca);
		kv_set(c, &kv[n++], "tls_cert", t->tls_cert);
		kv_set(c, &kv[n++], "tls_key", t->tls_key);
		if (t->tls_crl)
			kv_set(c, &kv[n++], "tls_crl", t->tls_crl);
	}
	if (t->tcp) /* both ends: the exit must speak the same */
		kv_set(c, &kv[n++], "tcp", t->tcp);
	if (exit)
		return n;
	kv_set(c, &kv[n++], "target",
	       uint_text(num, sizeof(num), t->target_kbps));
	kv_set(c, &kv[n++], "min_conns",
	       uint_text(num, sizeof(num), t->min_conns));
	if (t->cap) /* the entry's: it puts the bytes on the pool */
		kv_set(c, &kv[n++], "cap", t->cap);
	return n;
}

static void
place(struct topo_ctx *c, const struct topo_tunnel *t, int exit)
{
	struct topo_node *n = node_named(c, exit ? t->b : t->a);
	struct topo_module *mods;
	struct topo_kv *kv;

	mods = topo_alloc(c, (n->n_modules + 1) * sizeof(*mods));
	kv = topo_alloc(c, TUN_MAX_PARAMS * sizeof(*kv));
	if (mods == NULL || kv == NULL)
		return;
	if (n->n_modules)
		memcpy(mods, n->modules, n->n_modules * sizeof(*mods));
	mods[n->n_modules] = (struct topo_module){
		.name = "etunnel",
		.params = kv,
		.n_params = end_params(c, t, exit, kv),
		.line = t->line,
	};
	n->modules = mods;
	n->n_modules++;
}

void
topo_tunnel_xref(struct topo_ctx *c)
{
	for (size_t i = 0; i < c->cfg->n_tunnels; i++)
		check_tunnel(c, i);
	if (c->n_faults || c->dropped || c->oom)
		return;
	for (size_t i = 0; i < c->cfg->n_tunnels; i++) {
		place(c, &c->cfg->tunnels[i], 0);
		place(c, &c->cfg->tunnels[i], 1);
	}
}
