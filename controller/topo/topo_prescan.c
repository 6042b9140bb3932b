/*
 * topo_prescan.c - bounds checked on the text before libyaml sees it.
 *
 * libyaml's cost grows with the square of the nesting depth (its scanner
 * walks every open level for each token), so a 1 MiB file of 100k nested
 * "[" costs seconds of CPU.  One linear pass refuses such a file first:
 *  - flow nesting ("[", "{") deeper than TOPO_MAX_DEPTH, counting brackets
 *    outside quotes and comments, where a flow collection may start;
 *  - content that starts past column TOPO_MAX_COLUMN: a block level is at
 *    least one column to the right of its parent, so the column where a
 *    line's content starts (after its indentation and compact "- " / "? "
 *    indicators) bounds the block depth.
 * A topology nests 6 levels (nodes, a node, its modules, a module, its
 * params); both bounds leave room for any layout of that.  Past them the
 * file is refused with one fault, and libyaml never runs.
 */
#include <stddef.h>
#include <stdint.h>

#include "topo_int.h"

struct prescan {
	const char *s;
	size_t len, i;
	int line, flow;
	int value_start; /* a flow collection may start here */
};

/* Skip a quoted scalar starting at s[i] (the quote). */
static void
skip_quoted(struct prescan *p)
{
	char q = p->s[p->i++];

	while (p->i < p->len) {
		char ch = p->s[p->i++];

		if (ch == '\n')
			p->line++;
		else if (q == '"' && ch == '\\' && p->i < p->len)
			p->i++;
		else if (ch == q && q == '\'' && p->i < p->len &&
			 p->s[p->i] == '\'')
			p->i++;
		else if (ch == q)
			return;
	}
}

/* At a line start: the column where its content begins. */
static size_t
line_column(struct prescan *p)
{
	size_t col = 0;

	for (;;) {
		while (p->i < p->len && p->s[p->i] == ' ')
			p->i++, col++;
		if (p->i + 1 < p->len &&
		    (p->s[p->i] == '-' || p->s[p->i] == '?') &&
		    (p->s[p->i + 1] == ' ' || p->s[p->i + 1] == '\t')) {
			p->i++, col++;
			continue;
		}
		return col;
	}
}

/* An indicator ("-", ":", "?", "#") is one when a blank or the end
 * follows it. */
static int
blank_after(const struct prescan *p)
{
	return p->i + 1 >= p->len || p->s[p->i + 1] == ' ' ||
	       p->s[p->i + 1] == '\t' || p->s[p->i + 1] == '\n' ||
	       p->s[p->i + 1] == '\r';
}

/* One character outside quotes and comments; -1 after a fault. */
static int
prescan_char(struct topo_ctx *c, struct prescan *p, char ch)
{
	if ((ch == '[' || ch == '{') && (p->flow > 0 || p->value_start)) {
		if (++p->flow > TOPO_MAX_DEPTH) {
			topo_fault(c, p->line,
				   "yaml: flow collections nested deeper "
				   "than %d levels; nothing was parsed",
				   TOPO_MAX_DEPTH);
			return -1;
		}
		p->value_start = 1;
	} else if ((ch == ']' || ch == '}') && p->flow > 0) {
		p->flow--;
		p->value_start = 0;
	} else if (ch == ',' && p->flow > 0) {
		p->value_start = 1;
	} else if ((ch == ':' || ch == '-') && blank_after(p)) {
		p->value_start = 1;
	} else if (ch != ' ' && ch != '\t' && ch != '\r') {
		p->value_start = 0;
	}
	return 0;
}

/* At a line start, outside flow collections: its content's column. */
static int
prescan_line(struct topo_ctx *c, struct prescan *p)
{
	if (p->flow > 0 || line_column(p) <= TOPO_MAX_COLUMN)
		return 0;
	topo_fault(c, p->line,
		   "yaml: content starts past column %d (block collections "
		   "nested too deep); nothing was parsed",
		   TOPO_MAX_COLUMN);
	return -1;
}

int
topo_prescan(struct topo_ctx *c, const char *text, size_t len)
{
	struct prescan p = { .s = text, .len = len, .line = 1 };
	int line_start = 1;

	while (p.i < len) {
		char ch;

		if (line_start && prescan_line(c, &p) < 0)
			return -1;
		p.value_start |= line_start;
		line_start = 0;
		if (p.i >= len)
			break;
		ch = text[p.i];
		if (ch == '\'' || ch == '"') {
			skip_quoted(&p);
			p.value_start = 0;
		} else if (ch == '#' &&
			   (p.i == 0 || text[p.i - 1] == ' ' ||
			    text[p.i - 1] == '\t' || text[p.i - 1] == '\n')) {
			while (p.i < len && text[p.i] != '\n')
				p.i++;
		} else if (ch == '\n') {
			p.line++, p.i++, line_start = 1;
		} else if (prescan_char(c, &p, ch) < 0) {
			return -1;
		} else {
			p.i++;
		}
	}
	return 0;
}
