/*
 * rules.h - text of iptables-restore scripts, shared by rules.c and
 * settle.c.
 */
#ifndef ITM_AGENT_RULES_H
#define ITM_AGENT_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "itm.h"

struct rules_buf {
	char *buf;
	size_t len, cap;
	int failed; /* out of memory: the script is unusable */
};

void rb_printf(struct rules_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int rb_grow(struct rules_buf *b, size_t need);
void rb_free(struct rules_buf *b);
int run_io(int wfd, const char *input, size_t inlen, int ofd,
	   struct rules_buf *out, int efd, char *err, size_t errlen);

struct stage;

enum settle_state { SETTLE_FREE = 0, SETTLE_NEW, SETTLE_LIVE, SETTLE_DEAD };

struct settle_id {
	enum settle_state state;
	struct agent_reg *reg;
	struct itm_settle spec;
};

extern struct settle_id ids[];

/* kernel.c */
int restore(const struct rules_buf *script, char *err, size_t errlen);
int acct_create(unsigned int id);
int acct_read(unsigned int id, uint64_t *pkts, uint64_t *bytes);

/* ruleset.c */
void removal_script(const char *saved, struct rules_buf *b);

/* settle.c: pieces of the script. */
void settle_chains(struct rules_buf *b); /* ":ITM_S<id>" + bodies */
void settle_rules(struct rules_buf *b, const struct stage *st,
		  const char *chain);	      /* jumps before a stage */
void settle_dead_chains(struct rules_buf *b); /* "-X" released ids */
void settle_chains_done(void);		      /* script went in */

#endif /* ITM_AGENT_RULES_H */
