/*
 * topo.c - topo.yaml parser, the driver: libyaml's document API loads the
 * file, topo_schema.c walks it, topo_xref.c checks across nodes and links.
 * Faults are collected with their line, sorted, and formatted only at the
 * end; the config lives in a pool freed at once.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topo_int.h"

struct topo_pool {
	struct pool_blk *head;
};

struct pool_blk {
	struct pool_blk *next;
	max_align_t data[];
};

void *
topo_alloc(struct topo_ctx *c, size_t size)
{
	struct pool_blk *b = calloc(1, sizeof(*b) + size);

	if (b == NULL) {
		c->oom = 1;
		return NULL;
	}
	b->next = c->cfg->pool->head;
	c->cfg->pool->head = b;
	return b->data;
}

char *
topo_strndup(struct topo_ctx *c, const char *s, size_t len)
{
	char *p = topo_alloc(c, len + 1);

	if (p)
		memcpy(p, s, len);
	return p;
}

void
topo_config_free(struct topo_config *cfg)
{
	struct pool_blk *b, *next;

	if (cfg == NULL)
		return;
	for (b = cfg->pool ? cfg->pool->head : NULL; b; b = next) {
		next = b->next;
		free(b);
	}
	free(cfg->pool);
	free(cfg);
}

void
topo_fault(struct topo_ctx *c, int line, const char *fmt, ...)
{
	struct topo_fault *f;
	va_list ap;
	char *text;

	if (c->n_faults >= TOPO_MAX_ERRORS) {
		c->dropped++;
		return;
	}
	if (c->n_faults == c->cap_faults) {
		size_t cap = c->cap_faults ? c->cap_faults * 2 : 16;

		f = realloc(c->faults, cap * sizeof(*f));
		if (f == NULL) {
			c->oom = 1;
			return;
		}
		c->faults = f;
		c->cap_faults = cap;
	}
	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	if (text == NULL) {
		c->oom = 1;
		return;
	}
	c->faults[c->n_faults] = (struct topo_fault){ .line = line,
						      .seq = c->n_faults,
						      .text = text };
	c->n_faults++;
}

const char *
topo_quote(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	buf[o++] = '\'';
	for (; *s && o + 8 < len; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch < 0x20 || ch == 0x7f || ch == '\\' || ch == '\'')
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", ch);
		else
			buf[o++] = (char)ch;
	}
	if (*s)
		o += (size_t)snprintf(buf + o, len - o, "...");
	snprintf(buf + o, len - o, "'");
	return buf;
}

/* ------------------------------------------------------------------ */
/* Driver                                                               */
/* ------------------------------------------------------------------ */

static void
syntax_fault(struct topo_ctx *c, const yaml_parser_t *p, const char *text,
	     size_t len)
{
	const char *problem = p->problem ? p->problem : "error";
	size_t n = c->n_faults;
	int line = 1;

	if (p->error == YAML_READER_ERROR) {
		for (size_t i = 0; i < p->problem_offset && i < len; i++)
			line += text[i] == '\n';
		topo_fault(c, line, "yaml: %s (byte %zu)", problem,
			   p->problem_offset);
		return;
	}
	if (p->context)
		topo_fault(c, (int)p->problem_mark.line + 1,
			   "yaml: %s (%s "
			   "started at line %zu column %zu)",
			   problem, p->context, p->context_mark.line + 1,
			   p->context_mark.column + 1);
	else
		topo_fault(c, (int)p->problem_mark.line + 1, "yaml: %s",
			   problem);
	if (c->n_faults > n)
		c->faults[n].col = (int)p->problem_mark.column + 1;
}

static int
fault_cmp(const void *a, const void *b)
{
	const struct topo_fault *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int
errors_push(struct topo_errors *e, char *line)
{
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 16;
		char **v = realloc(e->lines, cap * sizeof(*v));

		if (v == NULL) {
			free(line);
			return -ENOMEM;
		}
		e->lines = v;
		e->cap = cap;
	}
	e->lines[e->n++] = line;
	return 0;
}

/* Move the faults, sorted and formatted, into @errs. */
static int
faults_flush(struct topo_ctx *c, struct topo_errors *errs)
{
	int rc = 0;

	if (c->n_faults > 1)
		qsort(c->faults, c->n_faults, sizeof(*c->faults), fault_cmp);
	for (size_t i = 0; i < c->n_faults; i++) {
		char *line = NULL;
		const struct topo_fault *f = &c->faults[i];
		int n;

		if (f->col)
			n = asprintf(&line, "%s:%d:%d: %s", c->file, f->line,
				     f->col, f->text);
		else
			n = asprintf(&line, "%s:%d: %s", c->file, f->line,
				     f->text);
		if (rc == 0 && n < 0)
			rc = -ENOMEM;
		if (rc == 0)
			rc = errors_push(errs, line);
		free(c->faults[i].text);
	}
	errs->dropped += c->dropped;
	free(c->faults);
	c->faults = NULL;
	c->n_faults = 0;
	return rc;
}

/* Load one document and walk it; syntax errors become faults.  Returns 1
 * when the walk ran (so cross checks make sense), else 0. */
static int
load(struct topo_ctx *c, const char *text, size_t len)
{
	yaml_parser_t p;
	yaml_document_t doc, extra;
	yaml_node_t *root;
	int walked;

	if (!yaml_parser_initialize(&p)) {
		c->oom = 1;
		return 0;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	if (!yaml_parser_load(&p, &doc)) {
		if (p.error == YAML_MEMORY_ERROR)
			c->oom = 1;
		syntax_fault(c, &p, text, len);
		yaml_parser_delete(&p);
		return 0;
	}
	c->doc = &doc;
	root = yaml_document_get_root_node(&doc);
	walked = root != NULL;
	if (root == NULL)
		topo_fault(c, 1,
			   "empty file: expected a mapping with 'nodes' "
			   "and 'links'");
	else
		topo_walk_top(c, root);
	if (root && !yaml_parser_load(&p, &extra)) {
		syntax_fault(c, &p, text, len);
	} else if (root) {
		if (yaml_document_get_root_node(&extra))
			topo_fault(c, (int)extra.start_mark.line + 1,
				   "only one "
				   "YAML document is allowed");
		yaml_document_delete(&extra);
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&p);
	return walked;
}

static struct topo_config *
config_new(void)
{
	struct topo_config *cfg = calloc(1, sizeof(*cfg));

	if (cfg && (cfg->pool = calloc(1, sizeof(*cfg->pool))) == NULL) {
		free(cfg);
		cfg = NULL;
	}
	return cfg;
}

int
topo_parse(const char *text, size_t len, const char *filename,
	   struct topo_config **out, struct topo_errors *errs)
{
	struct topo_ctx c = { .file = filename ? filename : "topo.yaml" };
	int rc;

	*out = NULL;
	if ((c.cfg = config_new()) == NULL)
		return -ENOMEM;
	if (len > TOPO_MAX_BYTES)
		topo_fault(&c, 1, "file is larger than %d bytes",
			   TOPO_MAX_BYTES);
	else if (topo_prescan(&c, text, len) == 0 && load(&c, text, len) &&
		 !c.oom)
		topo_xref(&c);
	rc = c.oom ? -ENOMEM : c.n_faults || c.dropped ? -EINVAL : 0;
	if (rc == -ENOMEM) {
		for (size_t i = 0; i < c.n_faults; i++)
			free(c.faults[i].text);
		free(c.faults);
	} else if (rc == -EINVAL && faults_flush(&c, errs) < 0) {
		rc = -ENOMEM;
	}
	free(c.nsrc);
	free(c.lsrc);
	free(c.tun_end_line);
	if (rc == 0)
		*out = c.cfg;
	else
		topo_config_free(c.cfg);
	return rc;
}

void
topo_errors_init(struct topo_errors *e)
{
	memset(e, 0, sizeof(*e));
}

void
topo_errors_free(struct topo_errors *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->lines[i]);
	free(e->lines);
	topo_errors_init(e);
}

void
topo_errors_print(const struct topo_errors *e, FILE *f)
{
	for (size_t i = 0; i < e->n; i++)
		fprintf(f, "%s\n", e->lines[i]);
	if (e->dropped)
		fprintf(f, "(%zu more errors not shown)\n", e->dropped);
}
