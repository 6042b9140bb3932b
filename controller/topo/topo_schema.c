/*
 * topo_schema.c - the schema of topo.yaml: which keys each mapping has,
 * which are required, and how each value is checked and stored.  Values
 * that fail a check are left NULL/0 and the walk carries on, so one run
 * reports every fault.  Checks across nodes and links: topo_xref.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topo_int.h"

/* ------------------------------------------------------------------ */
/* Labels and module parameters: maps of checked words                  */
/* ------------------------------------------------------------------ */

typedef const char *(*value_func)(struct topo_ctx *c, yaml_node_t *v,
				  const char *path);

static const char *
label_value(struct topo_ctx *c, yaml_node_t *v, const char *path)
{
	return topo_word(c, v, path, "a label value", topo_check_label_value);
}

/* A scalar, or a list of scalars joined by ',' (ITM_PARAM_UINT_LIST). */
static const char *
param_value(struct topo_ctx *c, yaml_node_t *v, const char *path)
{
	char buf[512] = "", sub[224];
	size_t n, o = 0;

	if (v->type != YAML_SEQUENCE_NODE)
		return topo_word(c, v, path, "a value or a list of values",
				 topo_check_param_value);
	n = topo_seq_len(c, v, path, "values", 16);
	for (size_t i = 0; i < n; i++) {
		const char *s;

		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		s = topo_scalar(c, topo_seq_item(c, v, i), sub,
				"a single value");
		if (s == NULL)
			return NULL;
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s",
				      i ? "," : "", s);
		if (o >= sizeof(buf))
			break;
	}
	return topo_word_text(c, v, path, buf, topo_check_param_value);
}

/* Index of the first pair before @p with the same key, or -1. */
static int
kv_repeat(const struct topo_kv *kv, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (kv[i].key && !strcmp(kv[i].key, key))
			return (int)i;
	return -1;
}

struct kv_spec {
	const char *what; /* "labels" */
	size_t max;
	topo_check_func key_check;
	value_func value;
};

static void
kv_pair(struct topo_ctx *c, const struct kv_spec *spec, yaml_node_pair_t *p,
	const char *path, struct topo_kv *kv, size_t i, int *lines)
{
	yaml_node_t *k = topo_node_at(c, p->key);
	char sub[224];
	const char *key;
	int first;

	key = topo_word(c, k, path, "a name", spec->key_check);
	lines[i] = topo_line(k);
	if (key == NULL)
		return;
	snprintf(sub, sizeof(sub), "%s.%s", path, key);
	first = kv_repeat(kv, i, key);
	if (first >= 0) {
		topo_fault(c, topo_line(k),
			   "%s: duplicate key (first at line "
			   "%d)",
			   sub, lines[first]);
		return;
	}
	kv[i].key = key;
	kv[i].value = spec->value(c, topo_node_at(c, p->value), sub);
}

static void
walk_kv(struct topo_ctx *c, yaml_node_t *v, const char *path,
	const struct kv_spec *spec, struct topo_kv **out, size_t *nout)
{
	int lines[64];
	struct topo_kv *kv;
	size_t n;

	if (v->type != YAML_MAPPING_NODE) {
		topo_fault(c, topo_line(v),
			   "%s: must be a mapping of %s, got %s", path,
			   spec->what, topo_kind(v));
		return;
	}
	n = topo_map_len(v);
	if (n > spec->max) {
		topo_fault(c, topo_line(v), "%s: more than %zu %s", path,
			   spec->max, spec->what);
		n = spec->max;
	}
	if (n == 0 || (kv = topo_alloc(c, n * sizeof(*kv))) == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		kv_pair(c, spec, v->data.mapping.pairs.start + i, path, kv, i,
			lines);
	*out = kv;
	*nout = n;
}

/* ------------------------------------------------------------------ */
/* Modules                                                              */
/* ------------------------------------------------------------------ */

static const struct kv_spec param_spec = {
	"parameters",
	TOPO_MAX_PARAMS,
	topo_check_param_key,
	param_value,
};

static void
module_name(struct topo_ctx *c, yaml_node_t *v, const char *path, void *obj)
{
	struct topo_module *m = obj;

	m->name =
		topo_word(c, v, path, "a module name", topo_check_module_name);
}

static void
module_params(struct topo_ctx *c, yaml_node_t *v, const char *path, void *obj)
{
	struct topo_module *m = obj;

	if (v->type == YAML_MAPPING_NODE && topo_map_len(v) == 0)
		return;
	walk_kv(c, v, path, &param_spec, &m->params, &m->n_params);
}

static const struct topo_field module_fields[] = {
	{ "name", 1, module_name },
	{ "params", 0, module_params },
};

static void
module_repeat(struct topo_ctx *c, struct topo_module *mods, size_t i,
	      const char *path)
{
	for (size_t j = 0; j < i; j++) {
		if (mods[j].name == NULL || strcmp(mods[j].name, mods[i].name))
			continue;
		topo_fault(c, mods[i].line,
			   "%s.name: module '%s' is listed "
			   "twice (first at line %d)",
			   path, mods[i].name, mods[j].line);
		mods[i].name = NULL;
		return;
	}
}

static void
node_modules(struct topo_ctx *c, yaml_node_t *v, const char *path, void *obj)
{
	struct topo_node *node = obj;
	size_t n = topo_seq_len(c, v, path, "modules", TOPO_MAX_MODULES);
	struct topo_module *mods;
	char sub[224];

	if (n == 0 || (mods = topo_alloc(c, n * sizeof(*mods))) == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = topo_seq_item(c, v, i);

		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		mods[i].line = topo_line(item);
		if (item->type != YAML_MAPPING_NODE) {
			topo_fault(c, topo_line(item),
				   "%s: must be a mapping "
				   "with name and params, got %s",
				   sub, topo_kind(item));
			continue;
		}
		topo_walk_map(c, item, sub, module_fields, 2, &mods[i]);
		if (mods[i].name)
			module_repeat(c, mods, i, sub);
	}
	node->modules = mods;
	node->n_modules = n;
}

/* ------------------------------------------------------------------ */
/* Nodes                                                                */
/* ------------------------------------------------------------------ */

static const struct kv_spec label_spec = {
	"labels",
	TOPO_MAX_LABELS,
	topo_check_label_key,
	label_value,
};

static struct topo_node_src *
node_src(struct topo_ctx *c, const struct topo_node *node)
{
	return &c->nsrc[node - c->cfg->nodes];
}

static void
node_name(struct topo_ctx *c, yaml_node_t *v, const char *path, void *obj)
{
	struct topo_node_src *src = node_src(c, obj);
	const char *raw = topo_scalar(c, v, path, "a node name");

	src->name_line = topo_line(v);
	if (raw == NULL)
		return;
	src->raw_name = topo_strndup(c, raw, strlen(raw));
	((struct topo_node *)obj)->name =
		topo_word(c, v, path, "a node name", topo_check_node_name);
}

typedef int (*addr_func)(const char *s, char *canon, size_t clen, char *why,
			 size_t len);

static const char *
address(struct topo_ctx *c, yaml_node_t *v, const char *path, const char *what,
	addr_func check)
{
	const char *s = topo_scalar(c, v, path, what);
	char canon[300], why[128], q[96];

	if (s == NULL)
		return NULL;
	if (check(s, canon, sizeof(canon), why, sizeof(why)) < 0) {
		topo_fault(c, topo_line(v), "%s: %s, got %s", path, why,
			   topo_quote(s, q, sizeof(q)));
		return NULL;
	}
	return topo_strndup(c, canon, strlen(canon));
}

static void
node_mgmt(struct topo_ctx *c, yaml_node_t *v, const char *path, void *obj)
{
	node_src(c, obj)->mgmt_line = topo_line(v);
	((struct topo_node *)obj)->mgmt =
		address(c, v, path, "host:port", topo_check_hostport);
}

static void
node_overlay(struct topo_ctx *c, yaml_node_t *v, const char *path, void *obj)
{
	node_src(c, obj)->overlay_line = topo_line(v);
	((struct topo_node *)obj)->overlay =
		address(c, v, path, "an IPv4 or IPv6 address",
			topo_check_overlay);
}

static void
node_underlay(struct topo_ctx *c, yaml_node_t *v, const char *path, void *obj)
{
	node_src(c, obj)->underlay_line = topo_line(v);
	((struct topo_node *)obj)->underlay =
		address(c, v, path, "an IPv4 or IPv6 address",
			topo_check_overlay);
}

/*
 * Without an underlay key, the node's underlay address is the address of
 * its mgmt (an agent listens on its Internet address).  A mgmt that names
 * a host gives none: the underlay is then "" (not known), which only
 * matters to modules that reach nodes by it (itmroute).
 */
static void
node_default_underlay(struct topo_ctx *c, struct topo_node *node)
{
	char host[300];

	if (node_src(c, node)->underlay_line || node->mgmt == NULL)
		return;
	if (topo_mgmt_address(node->mgmt, host, sizeof(host)) < 0)
		host[0] = '\0';
	node->underlay = topo_strndup(c, host, strlen(host));
}

static void
node_labels(struct topo_ctx *c, yaml_node_t *v, const char *path, void *obj)
{
	struct topo_node *node = obj;

	if (v->type == YAML_MAPPING_NODE && topo_map_len(v) == 0)
		return;
	walk_kv(c, v, path, &label_spec, &node->labels, &node->n_labels);
}

static const struct topo_field node_fields[] = {
	{ "name", 1, node_name },	{ "mgmt", 1, node_mgmt },
	{ "overlay", 1, node_overlay }, { "underlay", 0, node_underlay },
	{ "labels", 0, node_labels },	{ "modules", 0, node_modules },
};

static void
top_nodes(struct topo_ctx *c, yaml_node_t *v, const char *path, void *obj)
{
	size_t n = topo_seq_len(c, v, path, "nodes", TOPO_MAX_NODES);
	char sub[64];

	c->have_nodes = v->type == YAML_SEQUENCE_NODE;
	if (c->have_nodes && n == 0)
		topo_fault(c, topo_line(v), "%s: must list at least one node",
			   path);
	if (n == 0 || (c->nsrc = calloc(n, sizeof(*c->nsrc))) == NULL ||
	    (c->cfg->nodes = topo_alloc(c, n * sizeof(struct topo_node))) ==
		    NULL) {
		c->oom |= n != 0;
		return;
	}
	c->cfg->n_nodes = n;
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = topo_seq_item(c, v, i);

		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		c->cfg->nodes[i].line = topo_line(item);
		if (item->type != YAML_MAPPING_NODE) {
			topo_fault(c, topo_line(item),
				   "%s: must be a mapping "
				   "with name, mgmt and overlay, got %s",
				   sub, topo_kind(item));
			continue;
		}
		topo_walk_map(c, item, sub, node_fields,
			      sizeof(node_fields) / sizeof(node_fields[0]),
			      &c->cfg->nodes[i]);
		node_default_underlay(c, &c->cfg->nodes[i]);
	}
}

/* ------------------------------------------------------------------ */
/* Links                                                                */
/* ------------------------------------------------------------------ */

static struct topo_link_src *
link_src(struct topo_ctx *c, const struct topo_link *l)
{
	return &c->lsrc[l - c->cfg->links];
}

static void
link_between(struct topo_ctx *c, yaml_node_t *v, const char *path, void *obj)
{
	struct topo_link_src *src = link_src(c, obj);
	size_t n;
	char sub[224];

	if (v->type != YAML_SEQUENCE_NODE) {
		topo_fault(c, topo_line(v),
			   "%s: must be a list of two node "
			   "names, as in [n1, n2], got %s",
			   path, topo_kind(v));
		return;
	}
	n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (n != 2) {
		topo_fault(c, topo_line(v),
			   "%s: must name exactly two nodes, "
			   "got %zu",
			   path, n);
		return;
	}
	for (size_t i = 0; i < 2; i++) {
		yaml_node_t *end = topo_seq_item(c, v, i);
		const char *s;

		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		src->end_line[i] = topo_line(end);
		s = topo_scalar(c, end, sub, "a node name");
		if (s)
			src->end[i] = topo_strndup(c, s, strlen(s));
	}
}

static void
link_cost(struct topo_ctx *c, yaml_node_t *v, const char *path, void *obj)
{
	uint64_t x;

	if (topo_uint(c, v, path, 1, TOPO_COST_MAX, &x) == 0)
		((struct topo_link *)obj)->cost = (uint32_t)x;
	else
		link_src(c, obj)->ok = 0;
}

static void
link_latency(struct topo_ctx *c, yaml_node_t *v, const char *path, void *obj)
{
	uint64_t x;

	if (topo_uint(c, v, path, 0, TOPO_LATENCY_MAX, &x) == 0)
		((struct topo_link *)obj)->latency_ms = (uint32_t)x;
	else
		link_src(c, obj)->ok = 0;
}

static void
link_bandwidth(struct topo_ctx *c, yaml_node_t *v, const char *path, void *obj)
{
	const char *s = topo_scalar(c, v, path, "a rate such as 100mbit");
	char why[128], q[96];

	if (s &&
	    topo_parse_bandwidth(s, &((struct topo_link *)obj)->bandwidth_kbps,
				 why, sizeof(why)) == 0)
		return;
	if (s)
		topo_fault(c, topo_line(v), "%s: %s, got %s", path, why,
			   topo_quote(s, q, sizeof(q)));
	link_src(c, obj)->ok = 0;
}

static const struct topo_field link_fields[] = {
	{ "between", 1, link_between },
	{ "cost", 0, link_cost },
	{ "latency_ms", 0, link_latency },
	{ "bandwidth", 0, link_bandwidth },
};

static void
top_links(struct topo_ctx *c, yaml_node_t *v, const char *path, void *obj)
{
	size_t n = topo_seq_len(c, v, path, "links", TOPO_MAX_LINKS);
	char sub[64];

	if (n == 0 || (c->lsrc = calloc(n, sizeof(*c->lsrc))) == NULL ||
	    (c->cfg->links = topo_alloc(c, n * sizeof(struct topo_link))) ==
		    NULL) {
		c->oom |= n != 0;
		return;
	}
	c->cfg->n_links = n;
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = topo_seq_item(c, v, i);
		struct topo_link *l = &c->cfg->links[i];

		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		l->line = topo_line(item);
		l->cost = 1;
		c->lsrc[i].ok = 1;
		if (item->type != YAML_MAPPING_NODE)
			topo_fault(c, topo_line(item),
				   "%s: must be a mapping "
				   "with between: [a, b], got %s",
				   sub, topo_kind(item));
		else
			topo_walk_map(c, item, sub, link_fields, 4, l);
	}
}

/* ------------------------------------------------------------------ */
/* Top level                                                            */
/* ------------------------------------------------------------------ */

static void
top_comment(struct topo_ctx *c, yaml_node_t *v, const char *path, void *obj)
{
	c->cfg->comment =
		topo_word(c, v, path, "one line of text", topo_check_comment);
}

/* Top-level "modules": placed on every node that does not list a module
 * of the same name itself (its own entry wins). */
static void
top_modules(struct topo_ctx *c, yaml_node_t *v, const char *path, void *obj)
{
	(void)obj;
	node_modules(c, v, path, &c->defaults);
}

static int
node_has_module(const struct topo_node *n, const char *name)
{
	for (size_t i = 0; i < n->n_modules; i++)
		if (n->modules[i].name && strcmp(n->modules[i].name, name) == 0)
			return 1;
	return 0;
}

static void
merge_defaults(struct topo_ctx *c, struct topo_node *n)
{
	const struct topo_node *d = &c->defaults;
	struct topo_module *mods;
	size_t k = n->n_modules;

	mods = topo_alloc(c, (n->n_modules + d->n_modules + 1) * sizeof(*mods));
	if (mods == NULL)
		return;
	if (n->n_modules)
		memcpy(mods, n->modules, n->n_modules * sizeof(*mods));
	for (size_t i = 0; i < d->n_modules; i++)
		if (d->modules[i].name &&
		    !node_has_module(n, d->modules[i].name))
			mods[k++] = d->modules[i];
	if (k > TOPO_MAX_MODULES) {
		topo_fault(c, n->line,
			   "node %s: more than %d modules with the top-level "
			   "ones",
			   n->name ? n->name : "?", TOPO_MAX_MODULES);
		return;
	}
	n->modules = mods;
	n->n_modules = k;
}

static const struct topo_field top_fields[] = {
	{ "nodes", 1, top_nodes },	     { "links", 0, top_links },
	{ "comment", 0, top_comment },	     { "modules", 0, top_modules },
	{ "tunnels", 0, topo_walk_tunnels },
};

void
topo_walk_top(struct topo_ctx *c, yaml_node_t *root)
{
	if (root->type != YAML_MAPPING_NODE) {
		topo_fault(c, topo_line(root),
			   "top level: must be a mapping "
			   "with 'nodes' and 'links', got %s",
			   topo_kind(root));
		return;
	}
	topo_walk_map(c, root, "", top_fields,
		      sizeof(top_fields) / sizeof(top_fields[0]), NULL);
	for (size_t i = 0; c->defaults.n_modules && i < c->cfg->n_nodes; i++)
		merge_defaults(c, &c->cfg->nodes[i]);
}
