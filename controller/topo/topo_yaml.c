/*
 * topo_yaml.c - helpers over libyaml's document nodes for the topo.yaml
 * walk: typed access to scalars, lists and mappings, and the walk of a
 * mapping against a table of its keys (struct topo_field), so unknown,
 * repeated and missing keys are found the same way everywhere.
 */
#include <stdio.h>
#include <string.h>

#include "topo_int.h"
/* ------------------------------------------------------------------ */
/* YAML node helpers                                                    */
/* ------------------------------------------------------------------ */

int
topo_line(const yaml_node_t *n)
{
	return (int)n->start_mark.line + 1;
}

yaml_node_t *
topo_node_at(struct topo_ctx *c, int idx)
{
	return yaml_document_get_node(c->doc, idx);
}

static int
is_null(const yaml_node_t *n)
{
	const char *v = (const char *)n->data.scalar.value;

	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	return !strcmp(v, "") || !strcmp(v, "~") || !strcmp(v, "null") ||
	       !strcmp(v, "Null") || !strcmp(v, "NULL");
}

const char *
topo_kind(const yaml_node_t *n)
{
	if (n->type == YAML_MAPPING_NODE)
		return "a mapping";
	if (n->type == YAML_SEQUENCE_NODE)
		return "a list";
	return is_null(n) ? "nothing" : "a single value";
}

/*
 * The text of a scalar for field @path, or NULL after a fault ("must be
 * @what").  Values with NUL bytes are refused: C strings would cut them.
 */
const char *
topo_scalar(struct topo_ctx *c, const yaml_node_t *n, const char *path,
	    const char *what)
{
	if (n->type != YAML_SCALAR_NODE || is_null(n)) {
		topo_fault(c, topo_line(n), "%s: must be %s, got %s", path,
			   what, topo_kind(n));
		return NULL;
	}
	if (strlen((const char *)n->data.scalar.value) !=
	    n->data.scalar.length) {
		topo_fault(c, topo_line(n), "%s: contains a NUL byte", path);
		return NULL;
	}
	return (const char *)n->data.scalar.value;
}

/* ------------------------------------------------------------------ */
/* Mappings walked against a table of keys                              */
/* ------------------------------------------------------------------ */

static void
join(char *buf, size_t len, const char *path, const char *key)
{
	snprintf(buf, len, "%s%s%s", path, path[0] ? "." : "", key);
}

static void
unknown_key(struct topo_ctx *c, const yaml_node_t *k, const char *path,
	    const struct topo_field *fields, size_t nf)
{
	char list[256] = "", q[96];
	size_t o = 0;

	for (size_t i = 0; i < nf && o < sizeof(list); i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s",
				      i == 0	    ? ""
				      : i + 1 == nf ? " or "
						    : ", ",
				      fields[i].key);
	topo_fault(c, topo_line(k), "%s: unknown key %s (expected %s)",
		   path[0] ? path : "top level",
		   topo_quote((const char *)k->data.scalar.value, q, sizeof(q)),
		   list);
}

/* Which field @k names; -1 (with a fault) when none or a repeat. */
static int
field_of(struct topo_ctx *c, const yaml_node_t *k, const char *path,
	 const struct topo_field *fields, size_t nf, int *seen_line)
{
	char sub[192];

	if (k->type != YAML_SCALAR_NODE) {
		topo_fault(c, topo_line(k),
			   "%s: keys must be plain words, got "
			   "%s",
			   path[0] ? path : "top level", topo_kind(k));
		return -1;
	}
	for (size_t i = 0; i < nf; i++) {
		if (strcmp((const char *)k->data.scalar.value, fields[i].key))
			continue;
		if (seen_line[i]) {
			join(sub, sizeof(sub), path, fields[i].key);
			topo_fault(c, topo_line(k),
				   "%s: duplicate key (first "
				   "at line %d)",
				   sub, seen_line[i]);
			return -1;
		}
		seen_line[i] = topo_line(k);
		return (int)i;
	}
	unknown_key(c, k, path, fields, nf);
	return -1;
}

void
topo_walk_map(struct topo_ctx *c, yaml_node_t *map, const char *path,
	      const struct topo_field *fields, size_t nf, void *obj)
{
	int seen_line[16] = { 0 };
	yaml_node_pair_t *p;
	char sub[192];

	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		int i = field_of(c, topo_node_at(c, p->key), path, fields, nf,
				 seen_line);

		if (i < 0)
			continue;
		join(sub, sizeof(sub), path, fields[i].key);
		fields[i].parse(c, topo_node_at(c, p->value), sub, obj);
	}
	for (size_t i = 0; i < nf; i++)
		if (fields[i].required && !seen_line[i])
			topo_fault(c, topo_line(map),
				   "%s: missing required key "
				   "'%s'",
				   path[0] ? path : "top level", fields[i].key);
}

/* ------------------------------------------------------------------ */
/* Values                                                               */
/* ------------------------------------------------------------------ */

const char *
topo_word_text(struct topo_ctx *c, const yaml_node_t *v, const char *path,
	       const char *s, topo_check_func check)
{
	char why[160], q[96];

	if (check(s, why, sizeof(why)) < 0) {
		topo_fault(c, topo_line(v), "%s: %s, got %s", path, why,
			   topo_quote(s, q, sizeof(q)));
		return NULL;
	}
	return topo_strndup(c, s, strlen(s));
}

const char *
topo_word(struct topo_ctx *c, const yaml_node_t *v, const char *path,
	  const char *what, topo_check_func check)
{
	const char *s = topo_scalar(c, v, path, what);

	return s ? topo_word_text(c, v, path, s, check) : NULL;
}

int
topo_uint(struct topo_ctx *c, const yaml_node_t *v, const char *path,
	  uint64_t min, uint64_t max, uint64_t *out)
{
	char what[64], q[96];
	const char *s;

	snprintf(what, sizeof(what), "an integer %llu..%llu",
		 (unsigned long long)min, (unsigned long long)max);
	s = topo_scalar(c, v, path, what);
	if (s == NULL)
		return -1;
	if (topo_parse_uint(s, min, max, out) < 0) {
		topo_fault(c, topo_line(v), "%s: must be %s, got %s", path,
			   what, topo_quote(s, q, sizeof(q)));
		return -1;
	}
	return 0;
}

/* Check the length of a sequence; returns how many items to walk. */
size_t
topo_seq_len(struct topo_ctx *c, const yaml_node_t *v, const char *path,
	     const char *what, size_t max)
{
	size_t n;

	if (v->type != YAML_SEQUENCE_NODE) {
		topo_fault(c, topo_line(v), "%s: must be a list of %s, got %s",
			   path, what, topo_kind(v));
		return 0;
	}
	n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (n > max) {
		topo_fault(c, topo_line(v), "%s: more than %zu %s", path, max,
			   what);
		n = max;
	}
	return n;
}

yaml_node_t *
topo_seq_item(struct topo_ctx *c, const yaml_node_t *v, size_t i)
{
	return topo_node_at(c, v->data.sequence.items.start[i]);
}

size_t
topo_map_len(const yaml_node_t *v)
{
	return (size_t)(v->data.mapping.pairs.top -
			v->data.mapping.pairs.start);
}
