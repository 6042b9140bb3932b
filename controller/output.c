/*
 * output.c - itmctl's default output: tables for people.  Columns are
 * sized to their content, numbers right-aligned; counters are printed
 * exactly (no "1.2M"): operators compare them with other tools.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"

#define TBL_MAXCOLS	12

struct table {
	int ncols;
	const char *align;		/* 'l' or 'r' per column */
	char **cells;			/* row-major, header row first */
	size_t nrows;
};

static void tbl_init(struct table *t, const char *align, ...)
{
	va_list ap;

	memset(t, 0, sizeof(*t));
	t->align = align;
	t->ncols = strlen(align);
	t->cells = calloc(t->ncols, sizeof(char *));
	va_start(ap, align);
	for (int c = 0; c < t->ncols; c++)
		t->cells[c] = strdup(va_arg(ap, const char *));
	va_end(ap);
	t->nrows = 1;
}

/* Add a row; each cell is a printf format and its arguments, in turn. */
static void tbl_row(struct table *t, ...)
{
	va_list ap;

	t->cells = realloc(t->cells, (t->nrows + 1) * t->ncols * sizeof(char *));
	va_start(ap, t);
	for (int c = 0; c < t->ncols; c++)
		t->cells[t->nrows * t->ncols + c] = strdup(va_arg(ap, const char *));
	va_end(ap);
	t->nrows++;
}

static void tbl_print(struct table *t)
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

/* Small formatting helpers with rotating static buffers. */
static const char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

static const char *fmt(const char *f, ...)
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

static const char *u64(uint64_t v)
{
	return fmt("%" PRIu64, v);
}

static const char *str_or_dash(const char *s)
{
	return s && *s ? s : "-";
}

const char *output_hook_name(int hook)
{
	const ProtobufCEnumValue *ev =
		protobuf_c_enum_descriptor_get_value(&itm__v1__hook__descriptor,
						     hook);

	if (!ev)
		return "?";
	return strncmp(ev->name, "HOOK_", 5) ? ev->name : ev->name + 5;
}

static const char *duration(uint64_t ms)
{
	uint64_t s = ms / 1000;

	if (s >= 86400)
		return fmt("%" PRIu64 "d %" PRIu64 "h %" PRIu64 "m %" PRIu64 "s",
			   s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
	if (s >= 3600)
		return fmt("%" PRIu64 "h %" PRIu64 "m %" PRIu64 "s",
			   s / 3600, s / 60 % 60, s % 60);
	if (s >= 60)
		return fmt("%" PRIu64 "m %" PRIu64 "s", s / 60, s % 60);
	return fmt("%" PRIu64 ".%03" PRIu64 "s", s, ms % 1000);
}

/* ------------------------------------------------------------------ */

static void table_status(const Itm__V1__StatusReply *r)
{
	printf("node               %s\n", str_or_dash(r->node));
	printf("version            %s\n", str_or_dash(r->version));
	printf("uptime             %s\n", duration(r->uptime_ms));
	printf("modules            %" PRIu32 "\n", r->modules);
	printf("registrations      %" PRIu32 "\n", r->registrations);
	printf("table generation   %" PRIu64 "\n", r->table_generation);
	printf("controller         %s\n",
	       r->controller_connected ? "connected" : "not connected");
	printf("malformed packets  %" PRIu64 "\n", r->malformed_packets);
	printf("queue drops        %" PRIu64 "\n", r->queue_drops);
}

static void table_loaded(const Itm__V1__LoadModuleReply *r)
{
	printf("module %s loaded\n", r->name);
	for (size_t i = 0; i < r->n_params; i++)
		printf("  %s\n", r->params[i]);
}

static void table_unloaded(const char *name, const Itm__V1__UnloadModuleReply *r)
{
	(void)r;
	printf("module %s unloaded\n", name);
}

static const char *proto_name(uint32_t p)
{
	switch (p) {
	case 1: return "icmp";
	case 6: return "tcp";
	case 17: return "udp";
	case 58: return "icmpv6";
	case 132: return "sctp";
	default: return u64(p);
	}
}

/* Append "word a,b,c" to @buf for a non-empty list. */
static void add_list(char *buf, size_t len, const char *word, size_t n,
		     const char *(*item)(const void *list, size_t i),
		     const void *list)
{
	size_t off = strlen(buf);

	if (!n)
		return;
	off += snprintf(buf + off, len - off, "%s%s ", off ? " " : "", word);
	for (size_t i = 0; i < n && off < len; i++)
		off += snprintf(buf + off, len - off, "%s%s", i ? "," : "",
				item(list, i));
}

static const char *item_str(const void *list, size_t i)
{
	return ((char *const *)list)[i];
}

static const char *item_proto(const void *list, size_t i)
{
	return proto_name(((const uint32_t *)list)[i]);
}

static const char *item_ports(const void *list, size_t i)
{
	const Itm__V1__PortRange *p = ((Itm__V1__PortRange *const *)list)[i];

	if (p->lo == p->hi)
		return fmt("%" PRIu32, p->lo);
	return fmt("%" PRIu32 "-%" PRIu32, p->lo, p->hi);
}

/* "proto tcp,udp dst 10.0.0.0/8 dport 80" or "any". */
static const char *interest(const Itm__V1__Interest *in)
{
	static char buf[512];

	buf[0] = '\0';
	if (in) {
		add_list(buf, sizeof(buf), "proto", in->n_protocols, item_proto,
			 in->protocols);
		add_list(buf, sizeof(buf), "src", in->n_saddr, item_str, in->saddr);
		add_list(buf, sizeof(buf), "dst", in->n_daddr, item_str, in->daddr);
		add_list(buf, sizeof(buf), "sport", in->n_src_ports, item_ports,
			 in->src_ports);
		add_list(buf, sizeof(buf), "dport", in->n_dst_ports, item_ports,
			 in->dst_ports);
		add_list(buf, sizeof(buf), "in", in->n_indev, item_str, in->indev);
		add_list(buf, sizeof(buf), "out", in->n_outdev, item_str, in->outdev);
	}
	return buf[0] ? buf : "any";
}

static void module_rows(struct table *t, const Itm__V1__ModuleInfo *m)
{
	const char *pid = m->pid ? u64(m->pid) : "-";

	if (!m->n_registrations)
		tbl_row(t, m->name, m->kind, pid, str_or_dash(m->version), "-",
			"-", "-", "-", "-", "-", "-");
	for (size_t i = 0; i < m->n_registrations; i++) {
		const Itm__V1__Registration *g = m->registrations[i];

		tbl_row(t, m->name, m->kind, pid, str_or_dash(m->version),
			str_or_dash(g->label), output_hook_name(g->hook),
			fmt("%" PRId32, g->priority), u64(g->queue),
			u64(g->stage), u64(g->packets), interest(g->interest));
	}
}

static void table_modules(const Itm__V1__ListModulesReply *r)
{
	struct table t;

	if (!r->n_modules) {
		printf("no modules loaded\n");
		return;
	}
	/* The interest is the widest cell: it goes last. */
	tbl_init(&t, "llrlllrrrrl", "MODULE", "KIND", "PID", "VERSION",
		 "REGISTRATION", "HOOK", "PRIO", "QUEUE", "STAGE", "PACKETS",
		 "INTEREST");
	for (size_t i = 0; i < r->n_modules; i++)
		module_rows(&t, r->modules[i]);
	tbl_print(&t);
}

static const char *settled_share(const Itm__V1__ClassStats *c)
{
	if (!c->packets)
		return "-";
	return fmt("%.1f%%", 100.0 * c->settled_packets / c->packets);
}

static void stats_rows(struct table *t, const Itm__V1__ModuleStats *m)
{
	if (!m->n_registrations)
		tbl_row(t, m->module, m->kind, "-", "-", "-", "-", "-", "-", "-");
	for (size_t i = 0; i < m->n_registrations; i++) {
		const Itm__V1__RegistrationStats *g = m->registrations[i];
		const char *hook = output_hook_name(g->hook);

		if (!g->n_classes)
			tbl_row(t, m->module, m->kind, str_or_dash(g->label),
				hook, "-", "-", "-", "-", "-");
		for (size_t j = 0; j < g->n_classes; j++) {
			const Itm__V1__ClassStats *c = g->classes[j];

			tbl_row(t, m->module, m->kind, str_or_dash(g->label),
				hook, fmt("%" PRIu32 " %s", c->class_id,
					  str_or_dash(c->name)),
				u64(c->packets), u64(c->bytes), u64(c->flows),
				settled_share(c));
		}
	}
}

static void counter_rows(const Itm__V1__StatsReply *r)
{
	struct table t;
	size_t n = 0;

	for (size_t i = 0; i < r->n_modules; i++)
		n += r->modules[i]->n_counters;
	if (!n)
		return;
	putchar('\n');
	tbl_init(&t, "llr", "MODULE", "COUNTER", "VALUE");
	for (size_t i = 0; i < r->n_modules; i++) {
		const Itm__V1__ModuleStats *m = r->modules[i];

		for (size_t j = 0; j < m->n_counters; j++)
			tbl_row(&t, m->module, m->counters[j]->name,
				u64(m->counters[j]->value));
	}
	tbl_print(&t);
}

static void table_stats(const Itm__V1__StatsReply *r)
{
	struct table t;

	printf("node %s\n", str_or_dash(r->node));
	if (!r->n_modules) {
		printf("no modules loaded\n");
		return;
	}
	putchar('\n');
	tbl_init(&t, "lllllrrrr", "MODULE", "KIND", "REGISTRATION", "HOOK",
		 "CLASS", "PACKETS", "BYTES", "FLOWS", "SETTLED");
	for (size_t i = 0; i < r->n_modules; i++)
		stats_rows(&t, r->modules[i]);
	tbl_print(&t);
	counter_rows(r);
}

const struct output output_table = {
	.name = "table",
	.status = table_status,
	.loaded = table_loaded,
	.unloaded = table_unloaded,
	.modules = table_modules,
	.stats = table_stats,
};
