/*
 * ruleset.h - the agent's rule set as iptables-restore text, written from
 * the stage layout and the settlement table.  Pure: no globals, no I/O;
 * kernel.c feeds the text to iptables-nft-restore.
 */
#ifndef ITM_AGENT_RULESET_H
#define ITM_AGENT_RULESET_H

#include <stddef.h>

struct layout;
struct settle_table;

/* A growing text buffer.  After a failed allocation it stops growing and
 * says so in ->failed: the text is then unusable. */
struct rules_buf {
	char *buf; /* NUL-terminated once anything was written */
	size_t len, cap;
	int failed;
};

void rb_printf(struct rules_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Room for @need more bytes; -ENOMEM (and ->failed) when there is none. */
int rb_grow(struct rules_buf *b, size_t need);
void rb_free(struct rules_buf *b);

/*
 * Append to @b the script that replaces every ITM chain of the mangle table
 * by the rules of layout @L and settlements @st (every stage's regs,
 * interests, bits and queues are read; nothing is changed).  With @jumps,
 * the script also inserts the jumps from the built-in chains (the first
 * install).  Returns 0, or a negative errno with @err saying why (an
 * interest that does not compile, no memory).
 */
/* 1 when hook @h of @L gets the conntrack (settle request) rules: a
 * registration there may settle. */
int ruleset_hook_tracks(const struct layout *L, int h);
int ruleset_write(const struct layout *L, const struct settle_table *st,
		  int jumps, struct rules_buf *b, char *err, size_t errlen);

/* Append to @b the script that deletes every ITM_ chain, and every jump to
 * one, found in @saved (the output of `iptables-nft-save -t mangle`). */
void ruleset_removal(const char *saved, struct rules_buf *b);

#endif /* ITM_AGENT_RULESET_H */
