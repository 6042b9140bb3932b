/*
 * log.h - logging for the ITM daemons and libitm (bgpd log.c style).
 *
 * log_warn() appends strerror(errno), log_warnx() does not.  Messages from
 * the packet path go through log_rl(), which prints at most a burst per
 * interval and then says how many were suppressed (BIRD log_rl), so one bad
 * packet per microsecond never floods the log.
 */
#ifndef ITM_LOG_H
#define ITM_LOG_H

#include <stdint.h>
#include <syslog.h>

/* @ident prefixes every line; @verbose: 0 info, 1 debug. */
void log_init(const char *ident, int use_syslog, int verbose);
void log_set_verbose(int verbose);
int log_get_verbose(void);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
void log_msg(int prio, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Rate limit: at most 5 messages per second per limiter. */
struct log_rl {
	uint64_t window_start_ms;
	uint32_t in_window;
	uint32_t suppressed;
};

void log_rl(struct log_rl *rl, int prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

uint64_t itm__now_ms(void); /* CLOCK_MONOTONIC */

#endif /* ITM_LOG_H */
