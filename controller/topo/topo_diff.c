/*
 * topo_diff.c - lookups in a validated topology and the difference
 * between two of them, as lines an operator reads before applying
 * ("itmctl topology diff topo.yaml").  Both configs are in canonical order
 * (topo_xref.c), so a diff is one merge walk over nodes and one over links.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topo.h"

const struct topo_node *
topo_node_find(const struct topo_config *cfg, const char *name)
{
	size_t lo = 0, hi = cfg->n_nodes;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = strcmp(name, cfg->nodes[mid].name);

		if (d == 0)
			return &cfg->nodes[mid];
		if (d < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const struct topo_link *
topo_link_find(const struct topo_config *cfg, const char *a, const char *b)
{
	size_t lo = 0, hi = cfg->n_links;

	if (strcmp(a, b) > 0) {
		const char *t = a;

		a = b;
		b = t;
	}
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = strcmp(a, cfg->links[mid].a);

		if (d == 0)
			d = strcmp(b, cfg->links[mid].b);
		if (d == 0)
			return &cfg->links[mid];
		if (d < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const char *
topo_bandwidth_str(uint64_t kbps, char *buf, size_t len)
{
	static const char *const unit[] = { "kbit", "mbit", "gbit", "tbit" };
	uint64_t div = 1;
	int u = 0;

	while (u < 3 && kbps >= div * 1000)
		div *= 1000, u++;
	if (kbps % div == 0)
		snprintf(buf, len, "%" PRIu64 "%s", kbps / div, unit[u]);
	else
		snprintf(buf, len, "%" PRIu64 ".%0*" PRIu64 "%s", kbps / div,
			 u * 3, kbps % div, unit[u]);
	/* Drop trailing zeros of the fraction: "1.500gbit" -> "1.5gbit". */
	if (strchr(buf, '.')) {
		char *end = buf + strcspn(buf, "kmgt"), *z = end;

		while (z[-1] == '0')
			z--;
		memmove(z, end, strlen(end) + 1);
	}
	return buf;
}

/* ------------------------------------------------------------------ */
/* Diff                                                                 */
/* ------------------------------------------------------------------ */

struct diff {
	topo_diff_cb cb;
	void *arg;
	size_t n;
};

static void __attribute__((format(printf, 2, 3)))
emit(struct diff *d, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	d->cb(d->arg, line);
	d->n++;
}

/* "site=east,role=host" or "-" */
static const char *
labels_str(const struct topo_node *n, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n->n_labels && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s=%s", i ? "," : "",
				      n->labels[i].key, n->labels[i].value);
	return buf[0] ? buf : "-";
}

/* "qosmod(threshold=20) etunnel" or "-" */
static const char *
modules_str(const struct topo_node *n, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n->n_modules && o < len; i++) {
		const struct topo_module *m = &n->modules[i];

		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? " " : "",
				      m->name);
		for (size_t j = 0; j < m->n_params && o < len; j++)
			o += (size_t)snprintf(buf + o, len - o, "%s%s=%s%s",
					      j ? "," : "(", m->params[j].key,
					      m->params[j].value,
					      j + 1 == m->n_params ? ")" : "");
	}
	return buf[0] ? buf : "-";
}

static void
diff_field(struct diff *d, const char *what, const char *name,
	   const char *field, const char *old, const char *cur)
{
	if (strcmp(old, cur) != 0)
		emit(d, "~ %s %s %s %s -> %s", what, name, field, old, cur);
}

static void
diff_node(struct diff *d, const struct topo_node *o, const struct topo_node *n)
{
	char a[512], b[512];

	diff_field(d, "node", n->name, "mgmt", o->mgmt, n->mgmt);
	diff_field(d, "node", n->name, "overlay", o->overlay, n->overlay);
	diff_field(d, "node", n->name, "labels", labels_str(o, a, sizeof(a)),
		   labels_str(n, b, sizeof(b)));
	diff_field(d, "node", n->name, "modules", modules_str(o, a, sizeof(a)),
		   modules_str(n, b, sizeof(b)));
}

static void
node_added(struct diff *d, const struct topo_node *n)
{
	char a[512], b[512];

	emit(d, "+ node %s mgmt %s overlay %s labels %s modules %s", n->name,
	     n->mgmt, n->overlay, labels_str(n, a, sizeof(a)),
	     modules_str(n, b, sizeof(b)));
}

static void
diff_nodes(struct diff *d, const struct topo_config *o,
	   const struct topo_config *n)
{
	size_t i = 0, j = 0;

	while (i < o->n_nodes || j < n->n_nodes) {
		int c = i == o->n_nodes ? 1
			: j == n->n_nodes
				? -1
				: strcmp(o->nodes[i].name, n->nodes[j].name);

		if (c < 0)
			emit(d, "- node %s", o->nodes[i++].name);
		else if (c > 0)
			node_added(d, &n->nodes[j++]);
		else
			diff_node(d, &o->nodes[i++], &n->nodes[j++]);
	}
}

/* "cost 10 latency 5ms bandwidth 100mbit" */
static const char *
link_attrs(const struct topo_link *l, char *buf, size_t len)
{
	char bw[32];
	int o;

	o = snprintf(buf, len, "cost %u", l->cost);
	if (l->latency_ms)
		o += snprintf(buf + o, len - (size_t)o, " latency %ums",
			      l->latency_ms);
	if (l->bandwidth_kbps)
		snprintf(buf + o, len - (size_t)o, " bandwidth %s",
			 topo_bandwidth_str(l->bandwidth_kbps, bw, sizeof(bw)));
	return buf;
}

static int
link_order(const struct topo_link *x, const struct topo_link *y)
{
	int c = strcmp(x->a, y->a);

	return c ? c : strcmp(x->b, y->b);
}

static void
diff_links(struct diff *d, const struct topo_config *o,
	   const struct topo_config *n)
{
	size_t i = 0, j = 0;
	char a[128], b[128];

	while (i < o->n_links || j < n->n_links) {
		const struct topo_link *x =
			i < o->n_links ? &o->links[i] : NULL;
		const struct topo_link *y =
			j < n->n_links ? &n->links[j] : NULL;
		int c = x == NULL ? 1 : y == NULL ? -1 : link_order(x, y);

		if (c < 0)
			emit(d, "- link %s -- %s", x->a, x->b);
		else if (c > 0)
			emit(d, "+ link %s -- %s %s", y->a, y->b,
			     link_attrs(y, b, sizeof(b)));
		else if (strcmp(link_attrs(x, a, sizeof(a)),
				link_attrs(y, b, sizeof(b))))
			emit(d, "~ link %s -- %s %s -> %s", y->a, y->b, a, b);
		i += c <= 0;
		j += c >= 0;
	}
}

size_t
topo_diff(const struct topo_config *old, const struct topo_config *cur,
	  topo_diff_cb line_cb, void *arg)
{
	static const struct topo_config empty;
	struct diff d = { line_cb, arg, 0 };

	if (old == NULL)
		old = &empty;
	if (cur == NULL)
		cur = &empty;
	diff_nodes(&d, old, cur);
	diff_links(&d, old, cur);
	return d.n;
}
