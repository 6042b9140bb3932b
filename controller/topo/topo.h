/*
 * topo.h - topo.yaml: the overlay topology an operator applies.
 *
 * topo_parse() reads a whole file into a fresh struct topo_config and
 * validates all of it.  Every fault is collected, with the file, the line
 * and the field ("topo.yaml:12: links[3].cost: must be an integer
 * 1..65535, got 'abc'"); on any fault no config is returned, so a caller
 * that keeps its old config on error never sees half a new one (ospfd,
 * BIRD cf_error, bgpd "config file has errors, not reloading").
 *
 * The schema is documented in README.md ("topo.yaml").  This is a config
 * type (BIRD's rip_config): the daemon's runtime state lives elsewhere.
 */
#ifndef ITM_TOPO_H
#define ITM_TOPO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TOPO_MAX_BYTES	   (1024 * 1024) /* largest file accepted */
#define TOPO_MAX_DEPTH	   16  /* flow collections ("[", "{") nested */
#define TOPO_MAX_COLUMN	   128 /* where a line's content may start */
#define TOPO_MAX_NODES	   1024
#define TOPO_MAX_LINKS	   16384
#define TOPO_MAX_LABELS	   32  /* per node */
#define TOPO_MAX_MODULES   16  /* per node */
#define TOPO_MAX_PARAMS	   32  /* per module */
#define TOPO_MAX_ERRORS	   100 /* reported; the rest counted */
#define TOPO_NAME_MAX	   32  /* node names */
#define TOPO_COST_MAX	   65535
#define TOPO_LATENCY_MAX   60000	 /* ms */
#define TOPO_BANDWIDTH_MAX 1000000000ULL /* kbit/s (1 tbit) */

struct topo_kv {
	const char *key;
	const char *value;
};

struct topo_module {
	const char *name;
	struct topo_kv *params; /* file order; lists joined by ',' */
	size_t n_params;
	int line;
};

struct topo_node {
	const char *name;
	const char *mgmt;	/* "host:port" of the Agent service */
	const char *overlay;	/* canonical text (inet_ntop) */
	const char *underlay;	/* where the overlay reaches the node (its
				 * Internet address): canonical text; when
				 * not given, the address of mgmt, or ""
				 * when mgmt names a host */
	struct topo_kv *labels; /* sorted by key */
	size_t n_labels;
	struct topo_module *modules; /* file order */
	size_t n_modules;
	int line;
};

struct topo_link {
	const char *a, *b;	 /* node names, strcmp(a, b) < 0 */
	size_t ia, ib;		 /* their indices in nodes[] */
	uint32_t cost;		 /* 1..65535, default 1 */
	uint32_t latency_ms;	 /* 0 = not given */
	uint64_t bandwidth_kbps; /* 0 = not given */
	int line;
};

/* An elastic tunnel (modules/etunnel): traffic from `a` towards the
 * prefixes `dst` behind `b` is carried over a pool of TCP connections
 * from a to b.  The parse places the etunnel module on both ends (their
 * modules list gets it, side=entry on a, side=exit on b). */
#define TOPO_MAX_TUNNELS	 256
#define TOPO_TUNNEL_MAX_DST	 16
#define TOPO_TUNNEL_MAX_L4	 16 /* protocols, port ranges */
#define TOPO_TUNNEL_MAX_CONNS	 256
#define TOPO_TUNNEL_DEFAULT_PORT 7800

struct topo_tunnel {
	const char *name;
	const char *a, *b;		      /* entry, exit (node names) */
	const char *dst[TOPO_TUNNEL_MAX_DST]; /* canonical "10.1.0.0/16" */
	size_t n_dst;
	/* match.proto, match.ports canonical ("tcp,47", "80,5000-5100");
	 * NULL: all */
	const char *proto, *ports;
	const char *proto_no_ports; /* the first listed without ports */
	int ports_line;		    /* 0: no ports: given */
	uint64_t target_kbps;
	uint32_t min_conns, max_conns; /* defaults 1, 16 */
	uint32_t port;		       /* default 7800 */
	/* mutual TLS on the pool: paths on the nodes (each end has its own
	 * certificate at the same path); all NULL: no TLS; tls_crl NULL:
	 * no CRL */
	const char *tls_ca, *tls_cert, *tls_key, *tls_crl;
	const char *tcp; /* "split" or "packet"; NULL: the module's default */
	const char *cap; /* "yes" or "no", the entry's; NULL: the default */
	int line;
};

struct topo_pool;

/*
 * A validated topology.  Nodes are sorted by name and links by (a, b), so
 * two configs with the same content compare equal field by field whatever
 * order the file used.  All strings and arrays belong to the config and
 * are freed by topo_config_free().
 */
struct topo_config {
	const char *comment; /* NULL if none */
	struct topo_node *nodes;
	size_t n_nodes;
	struct topo_link *links;
	size_t n_links;
	struct topo_pool *pool;
	struct topo_tunnel *tunnels; /* file order */
	size_t n_tunnels;
};

/* Fault lines, each "FILE:LINE: field: what is wrong", sorted by line. */
struct topo_errors {
	char **lines;
	size_t n;
	size_t cap;
	size_t dropped; /* faults past TOPO_MAX_ERRORS */
};

void topo_errors_init(struct topo_errors *e);
void topo_errors_free(struct topo_errors *e);
/* Print every line and, when some were dropped, a last line saying so. */
void topo_errors_print(const struct topo_errors *e, FILE *f);

/*
 * Parse and validate @len bytes of @text (need not be NUL-terminated).
 * @filename only names the input in messages (NULL: "topo.yaml").
 * Returns 0 with *@out set (free with topo_config_free()), -EINVAL with the
 * faults appended to @errs and *@out NULL, or -ENOMEM.
 */
int topo_parse(const char *text, size_t len, const char *filename,
	       struct topo_config **out, struct topo_errors *errs);
void topo_config_free(struct topo_config *cfg);

/* Lookup by name (binary search); NULL if absent. */
const struct topo_node *topo_node_find(const struct topo_config *cfg,
				       const char *name);
const struct topo_link *topo_link_find(const struct topo_config *cfg,
				       const char *a, const char *b);

/* "100mbit", "1.5gbit", "512kbit"; @buf of at least 32 bytes. */
const char *topo_bandwidth_str(uint64_t kbps, char *buf, size_t len);

/*
 * What changes from @old to @new, one line per difference, in a stable
 * order (nodes then links, by name): "+ node n5 ...", "- link n1 -- n2",
 * "~ link n1 -- n2 cost 10 -> 20".  @old may be NULL (empty topology).
 * @line_cb gets each line; returns the number of lines.
 */
typedef void (*topo_diff_cb)(void *arg, const char *line);
size_t topo_diff(const struct topo_config *old, const struct topo_config *cur,
		 topo_diff_cb line_cb, void *arg);

#endif /* ITM_TOPO_H */
