/*
 * output_tbl.c - the pieces itmctl's tables are made of: a table whose
 * columns are sized to their content (numbers right-aligned), formatting
 * helpers, and the stats rows shared by "stats" for one agent or node and
 * "stats" for the whole overlay.  Counters are printed exactly (no
 * "1.2M"): operators compare them with other tools.  Every cell is
 * escaped (itm_text_escape(), at most TBL_CELL_MAX bytes shown): text from
 * a controller, an agent or a topo.yaml never moves the cursor, breaks a
 * line or reverses the rest of it.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itm_fields.h"
#include "output_int.h"

#define TBL_CELL_MAX 256

static char *
cell_dup(const char *s)
{
	char buf[TBL_CELL_MAX * 10 + 32];

	return strdup(itm_text_escape(s, TBL_CELL_MAX, buf, sizeof(buf)));
}

void
tbl_init(struct table *t, const char *align, ...)
{
	va_list ap;

	memset(t, 0, sizeof(*t));
	t->align = align;
	t->ncols = strlen(align);
	t->cells = calloc(t->ncols, sizeof(char *));
	va_start(ap, align);
	for (int c = 0; c < t->ncols; c++)
		t->cells[c] = cell_dup(va_arg(ap, const char *));
	va_end(ap);
	t->nrows = 1;
}

void
tbl_rowv(struct table *t, const char *const *cells)
{
	t->cells =
		realloc(t->cells, (t->nrows + 1) * t->ncols * sizeof(char *));
	for (int c = 0; c < t->ncols; c++)
		t->cells[t->nrows * t->ncols + c] = cell_dup(cells[c]);
	t->nrows++;
}

void
tbl_row(struct table *t, ...)
{
	const char *cells[TBL_MAXCOLS];
	va_list ap;

	va_start(ap, t);
	for (int c = 0; c < t->ncols && c < TBL_MAXCOLS; c++)
		cells[c] = va_arg(ap, const char *);
	va_end(ap);
	tbl_rowv(t, cells);
}

void
tbl_print(struct table *t)
{
	size_t w[TBL_MAXCOLS] = { 0 };

	for (size_t r = 0; r < t->nrows; r++)
		for (int c = 0; c < t->ncols; c++) {
			size_t l = strlen(t->cells[r * t->ncols + c]);

			w[c] = l > w[c] ? l : w[c];
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (int c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			int last = c == t->ncols - 1;

			if (t->align[c] == 'r')
				printf("%*s%s", (int)w[c], s, last ? "" : "  ");
			else if (last)
				printf("%s", s);
			else
				printf("%-*s  ", (int)w[c], s);
		}
		putchar('\n');
	}
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
}

const char *
fmt(const char *f, ...)
{
	static char bufs[16][256];
	static int i;
	char *b = bufs[i++ % 16];
	va_list ap;

	va_start(ap, f);
	vsnprintf(b, sizeof(bufs[0]), f, ap);
	va_end(ap);
	return b;
}

const char *
u64(uint64_t v)
{
	return fmt("%" PRIu64, v);
}

const char *
str_or_dash(const char *s)
{
	return s && *s ? s : "-";
}

/* ------------------------------------------------------------------ */
/* Stats rows                                                           */
/* ------------------------------------------------------------------ */

static const char *
settled_share(const Itm__V1__ClassStats *c)
{
	if (!c->packets)
		return "-";
	return fmt("%.1f%%", 100.0 * c->settled_packets / c->packets);
}

/* One row: the node column (if any) and then @n cells. */
static void
row_with_node(struct table *t, const char *node, const char *const *cells,
	      int n)
{
	const char *row[TBL_MAXCOLS];
	int k = 0;

	if (node)
		row[k++] = node;
	for (int i = 0; i < n && k < TBL_MAXCOLS; i++)
		row[k++] = cells[i];
	tbl_rowv(t, row);
}

static void
class_row(struct table *t, const char *node, const Itm__V1__ModuleStats *m,
	  const Itm__V1__RegistrationStats *g, const Itm__V1__ClassStats *c)
{
	const char *cells[9] = { m->module, m->kind, "-", "-", "-",
				 "-",	    "-",     "-", "-" };

	if (g) {
		cells[2] = str_or_dash(g->label);
		cells[3] = output_hook_name(g->hook);
	}
	if (c) {
		cells[4] = fmt("%" PRIu32 " %s", c->class_id,
			       str_or_dash(c->name));
		cells[5] = u64(c->packets);
		cells[6] = u64(c->bytes);
		cells[7] = u64(c->flows);
		cells[8] = settled_share(c);
	}
	row_with_node(t, node, cells, 9);
}

void
stats_rows(struct table *t, const char *node, const Itm__V1__ModuleStats *m)
{
	if (!m->n_registrations)
		class_row(t, node, m, NULL, NULL);
	for (size_t i = 0; i < m->n_registrations; i++) {
		const Itm__V1__RegistrationStats *g = m->registrations[i];

		if (!g->n_classes)
			class_row(t, node, m, g, NULL);
		for (size_t j = 0; j < g->n_classes; j++)
			class_row(t, node, m, g, g->classes[j]);
	}
}

void
counter_rows(struct table *t, const char *node, const Itm__V1__ModuleStats *m)
{
	for (size_t j = 0; j < m->n_counters; j++) {
		const char *cells[3] = { m->module, m->counters[j]->name,
					 u64(m->counters[j]->value) };

		row_with_node(t, node, cells, 3);
	}
}
