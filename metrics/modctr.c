/*
 * modctr.c - a module counter's name as a Prometheus series, see modctr.h.
 */
#include <stdio.h>
#include <string.h>

#include "expo.h"
#include "modctr.h"

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n > m && strcmp(s + n - m, suffix) == 0;
}

/* base -> family, type and scale. */
static void
modctr_family(struct modctr *c, char *base)
{
	char name[MODCTR_NAME_MAX - 20]; /* "itm_module_", "_seconds" */

	c->scale = 1.0;
	if (ends_with(base, "_us")) {
		base[strlen(base) - 3] = '\0';
		c->scale = 1e-6;
	} else if (ends_with(base, "_ms")) {
		base[strlen(base) - 3] = '\0';
		c->scale = 1e-3;
	}
	expo_name(name, sizeof(name), base, 0);
	snprintf(c->family, sizeof(c->family), "itm_module_%s%s", name,
		 c->scale != 1.0 ? "_seconds" : "");
	c->counter = ends_with(c->family, "_total");
}

/* Copy one token up to any of @stop (unquoting "..."), advance *@p. */
static void
token(const char **p, const char *stop, char *out, size_t len)
{
	const char *s = *p;
	size_t n = 0;
	int quoted = *s == '"';

	if (quoted)
		s++;
	for (; *s && (quoted ? *s != '"' : !strchr(stop, *s)); s++)
		if (n + 1 < len)
			out[n++] = *s;
	if (quoted && *s == '"')
		s++;
	out[n] = '\0';
	*p = s;
}

static void
modctr_label(struct modctr *c, const char *k, const char *v)
{
	char name[MODCTR_NAME_MAX];

	if (*k == '\0' || c->n_labels == MODCTR_LABELS)
		return;
	expo_name(name, sizeof(name), k, 1);
	if (strcmp(name, "module") == 0 || strcmp(name, "le") == 0 ||
	    strncmp(name, "__", 2) == 0)
		return;
	for (unsigned int i = 0; i < c->n_labels; i++)
		if (strcmp(c->lname[i], name) == 0)
			return;
	snprintf(c->lname[c->n_labels], MODCTR_NAME_MAX, "%s", name);
	snprintf(c->lvalue[c->n_labels], MODCTR_VALUE_MAX, "%s", v);
	c->n_labels++;
}

/* k=v,k2="v2"} */
static void
modctr_labels(struct modctr *c, const char *p)
{
	char k[MODCTR_NAME_MAX], v[MODCTR_VALUE_MAX];

	while (*p && *p != '}') {
		while (*p == ' ' || *p == ',')
			p++;
		token(&p, "=,}", k, sizeof(k));
		v[0] = '\0';
		if (*p == '=') {
			p++;
			token(&p, ",}", v, sizeof(v));
		}
		modctr_label(c, k, v);
		if (*p && *p != ',' && *p != '}')
			p++;
	}
}

int
modctr_parse(const char *name, struct modctr *out)
{
	char base[MODCTR_NAME_MAX];
	const char *brace = strchr(name, '{');
	size_t n = brace ? (size_t)(brace - name) : strlen(name);

	memset(out, 0, sizeof(*out));
	if (n == 0)
		return -1;
	if (n >= sizeof(base))
		n = sizeof(base) - 1;
	memcpy(base, name, n);
	base[n] = '\0';
	modctr_family(out, base);
	if (brace)
		modctr_labels(out, brace + 1);
	return 0;
}
