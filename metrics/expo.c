/*
 * expo.c - Prometheus text exposition, see expo.h.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expo.h"

void
expo_init(struct expo *e)
{
	memset(e, 0, sizeof(*e));
}

void
expo_free(struct expo *e)
{
	free(e->buf);
	expo_init(e);
}

char *
expo_finish(struct expo *e, size_t *len)
{
	char *out;

	if (e->failed || e->buf == NULL) {
		expo_free(e);
		return NULL;
	}
	out = e->buf;
	*len = e->len;
	e->buf = NULL;
	expo_free(e);
	return out;
}

static int
expo_reserve(struct expo *e, size_t more)
{
	size_t cap = e->cap ? e->cap : 4096;
	char *b;

	if (e->failed)
		return -1;
	while (cap < e->len + more + 1)
		cap *= 2;
	if (cap == e->cap)
		return 0;
	b = realloc(e->buf, cap);
	if (b == NULL) {
		e->failed = 1;
		return -1;
	}
	e->buf = b;
	e->cap = cap;
	return 0;
}

static void expo_printf(struct expo *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
expo_printf(struct expo *e, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || expo_reserve(e, (size_t)n) < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(e->buf + e->len, e->cap - e->len, fmt, ap);
	va_end(ap);
	e->len += (size_t)n;
}

static void
expo_putc(struct expo *e, char c)
{
	if (expo_reserve(e, 1) < 0)
		return;
	e->buf[e->len++] = c;
	e->buf[e->len] = '\0';
}

/* HELP text escapes '\' and newline; label values '"' too. */
static void
expo_escaped(struct expo *e, const char *s, int quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			expo_printf(e, "\\\\");
		else if (*s == '\n')
			expo_printf(e, "\\n");
		else if (*s == '"' && quote)
			expo_printf(e, "\\\"");
		else
			expo_putc(e, *s);
	}
}

void
expo_family(struct expo *e, const char *name, enum expo_type t,
	    const char *help)
{
	static const char *const types[] = { "counter", "gauge", "histogram" };

	expo_printf(e, "# HELP %s ", name);
	expo_escaped(e, help, 0);
	expo_printf(e, "\n# TYPE %s %s\n", name, types[t]);
}

static void
expo_labels(struct expo *e, const struct expo_label *l, unsigned int n,
	    const char *le)
{
	if (n == 0 && le == NULL)
		return;
	expo_putc(e, '{');
	for (unsigned int i = 0; i < n; i++) {
		expo_printf(e, "%s%s=\"", i ? "," : "", l[i].name);
		expo_escaped(e, l[i].value, 1);
		expo_putc(e, '"');
	}
	if (le)
		expo_printf(e, "%sle=\"%s\"", n ? "," : "", le);
	expo_putc(e, '}');
}

static void
expo_value(struct expo *e, double v)
{
	if (isnan(v))
		expo_printf(e, " NaN\n");
	else if (isinf(v))
		expo_printf(e, " %s\n", v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 1e19) /* up to 2^64 */
		expo_printf(e, " %.0f\n", v);
	else
		expo_printf(e, " %.9g\n", v);
}

void
expo_sample(struct expo *e, const char *name, const struct expo_label *l,
	    unsigned int n, double v)
{
	expo_printf(e, "%s", name);
	expo_labels(e, l, n, NULL);
	expo_value(e, v);
}

void
expo_histogram(struct expo *e, const char *name, const struct expo_label *l,
	       unsigned int n, const struct expo_hist *h)
{
	char le[32];

	for (unsigned int i = 0; i < h->n_bounds; i++) {
		snprintf(le, sizeof(le), "%g", h->bounds[i]);
		expo_printf(e, "%s_bucket", name);
		expo_labels(e, l, n, le);
		expo_value(e, (double)h->cumulative[i]);
	}
	expo_printf(e, "%s_bucket", name);
	expo_labels(e, l, n, "+Inf");
	expo_value(e, (double)h->count);
	expo_printf(e, "%s_sum", name);
	expo_labels(e, l, n, NULL);
	expo_value(e, h->sum);
	expo_printf(e, "%s_count", name);
	expo_labels(e, l, n, NULL);
	expo_value(e, (double)h->count);
}

static int
name_char(char c, int first, int label)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
		return 1;
	if (c == ':' && !label)
		return 1;
	return !first && c >= '0' && c <= '9';
}

void
expo_name(char *out, size_t len, const char *s, int label)
{
	size_t i = 0;

	if (len == 0)
		return;
	if (*s >= '0' && *s <= '9' && i + 1 < len)
		out[i++] = '_';
	for (; *s && i + 1 < len; s++, i++)
		out[i] = name_char(*s, i == 0, label) ? *s : '_';
	if (i == 0 && len > 1)
		out[i++] = '_';
	out[i] = '\0';
}
