/*
 * topo_int.h - pieces shared by topo.c (the schema walk), topo_check.c
 * (value checkers) and topo_xref.c (checks across nodes and links).
 * Not for use outside topo*.c.
 */
#ifndef ITM_TOPO_INT_H
#define ITM_TOPO_INT_H

#include <stdarg.h>
#include <yaml.h>

#include "topo.h"

/* One fault before formatting; sorted by line then by discovery. */
struct topo_fault {
	int line;
	int col; /* 0 unless a YAML syntax error */
	size_t seq;
	char *text;
};

/* Per-link facts that only validation needs. */
struct topo_link_src {
	const char *end[2]; /* endpoints as written, NULL if bad */
	int end_line[2];
	int ok; /* every attribute valid */
};

/* Per-node facts that only validation needs. */
struct topo_node_src {
	const char *raw_name; /* as written, even if invalid */
	int name_line, mgmt_line, overlay_line;
	int underlay_line; /* 0 when not given (then: mgmt's address) */
	int ok;		   /* name valid */
};

struct topo_ctx {
	yaml_document_t *doc;
	const char *file;
	struct topo_config *cfg;
	struct topo_fault *faults;
	size_t n_faults, cap_faults, dropped;
	int oom;
	int have_nodes;		    /* "nodes" was a list */
	struct topo_node_src *nsrc; /* parallel to cfg->nodes */
	struct topo_link_src *lsrc; /* parallel to cfg->links */
	struct topo_node defaults;  /* top-level "modules": every node's */
	int *tun_end_line; /* per tunnel: the line of between, 0 if bad */
};

/* Pool allocation: freed all at once with the config.  NULL sets c->oom. */
void *topo_alloc(struct topo_ctx *c, size_t size);
char *topo_strndup(struct topo_ctx *c, const char *s, size_t len);

void topo_fault(struct topo_ctx *c, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "'abc'" with non-printable bytes escaped and long text cut. */
const char *topo_quote(const char *s, char *buf, size_t len);

/*
 * Value checkers.  Each returns 0, or -1 with @why set to a phrase that
 * completes "FIELD: ..." (e.g. "port must be 1..65535").
 */
int topo_check_node_name(const char *s, char *why, size_t len);
int topo_check_label_key(const char *s, char *why, size_t len);
int topo_check_label_value(const char *s, char *why, size_t len);
int topo_check_module_name(const char *s, char *why, size_t len);
int topo_check_param_key(const char *s, char *why, size_t len);
int topo_check_param_value(const char *s, char *why, size_t len);
int topo_check_comment(const char *s, char *why, size_t len);
/* Canonical forms go to @canon: "[2001:db8::1]:7701", "10.0.0.1". */
int topo_check_hostport(const char *s, char *canon, size_t clen, char *why,
			size_t len);
int topo_check_overlay(const char *s, char *canon, size_t clen, char *why,
		       size_t len);
/* The address of a canonical mgmt ("10.0.0.1:7701" -> "10.0.0.1",
 * "[::1]:7701" -> "::1"); -1 when it names a host. */
int topo_mgmt_address(const char *mgmt, char *addr, size_t len);
/* Plain decimal without sign or leading zeros, within [min, max]. */
int topo_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* "100mbit" -> 100000 (kbit/s); units kbit, mbit, gbit, tbit. */
int topo_parse_bandwidth(const char *s, uint64_t *kbps, char *why, size_t len);

/* Refuse nesting past TOPO_MAX_DEPTH / TOPO_MAX_COLUMN before libyaml
 * runs (topo_prescan.c): 0, or -1 after a fault. */
int topo_prescan(struct topo_ctx *c, const char *text, size_t len);

/* YAML helpers (topo_yaml.c).  @path names the field in messages. */
int topo_line(const yaml_node_t *n); /* 1-based */
yaml_node_t *topo_node_at(struct topo_ctx *c, int idx);
const char *topo_kind(const yaml_node_t *n); /* "a list", "nothing"... */
/* The text of a scalar, or NULL after a fault "@path: must be @what". */
const char *topo_scalar(struct topo_ctx *c, const yaml_node_t *n,
			const char *path, const char *what);
typedef int (*topo_check_func)(const char *s, char *why, size_t len);
/* A scalar that passes @check, copied into the pool; NULL after a fault. */
const char *topo_word(struct topo_ctx *c, const yaml_node_t *v,
		      const char *path, const char *what,
		      topo_check_func check);
const char *topo_word_text(struct topo_ctx *c, const yaml_node_t *v,
			   const char *path, const char *s,
			   topo_check_func check);
int topo_uint(struct topo_ctx *c, const yaml_node_t *v, const char *path,
	      uint64_t min, uint64_t max, uint64_t *out);
/* Items to walk in a list (at most @max); 0 with a fault if not a list. */
size_t topo_seq_len(struct topo_ctx *c, const yaml_node_t *v, const char *path,
		    const char *what, size_t max);
yaml_node_t *topo_seq_item(struct topo_ctx *c, const yaml_node_t *v, size_t i);
size_t topo_map_len(const yaml_node_t *v);

typedef void (*topo_field_func)(struct topo_ctx *c, yaml_node_t *v,
				const char *path, void *obj);
struct topo_field {
	const char *key;
	int required;
	topo_field_func parse;
};
/* Walk the pairs of @map: each key must be one of @fields (at most 16). */
void topo_walk_map(struct topo_ctx *c, yaml_node_t *map, const char *path,
		   const struct topo_field *fields, size_t nf, void *obj);

/* The schema walk from the root node (topo_schema.c). */
void topo_walk_top(struct topo_ctx *c, yaml_node_t *root);

/* tunnels: (topo_tunnel.c): the walk of the list, and the checks
 * against the nodes that place the etunnel module on both ends. */
void topo_walk_tunnels(struct topo_ctx *c, yaml_node_t *v, const char *path,
		       void *obj);
void topo_tunnel_xref(struct topo_ctx *c);
/* A tunnel's match: (topo_tmatch.c): dst, proto, ports. */
void topo_tunnel_match(struct topo_ctx *c, yaml_node_t *v, const char *path,
		       void *obj);

/* Cross checks after the walk: names, addresses, link ends, duplicates. */
void topo_xref(struct topo_ctx *c);

#endif /* ITM_TOPO_INT_H */
