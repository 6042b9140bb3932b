/*
 * httpd.h - GET /metrics over HTTP (libmicrohttpd) for both daemons.
 *
 * The server runs on its own thread and only ever reads the last snapshot
 * the daemon published: the daemon's loop renders the text when it likes
 * (a timer) and hands it over with metrics_publish(), which swaps a
 * pointer under a mutex; a request copies the text under the same mutex
 * and sends the copy.  So a slow scraper, or one that connects and never
 * reads, costs the daemon nothing: it holds a copy and a connection slot
 * (at most METRICS_CONNECTIONS, each closed after METRICS_TIMEOUT_S idle).
 */
#ifndef ITM_METRICS_HTTPD_H
#define ITM_METRICS_HTTPD_H

#include <stddef.h>

#define METRICS_CONNECTIONS 16
#define METRICS_TIMEOUT_S   10

struct metrics_httpd;

/* Listen on @addr: "HOST:PORT", "[V6]:PORT", ":PORT" or "PORT" (the last
 * two on 127.0.0.1).  @err says why not. */
int metrics_httpd_start(struct metrics_httpd **out, const char *addr, char *err,
			size_t errlen);
/* Replace the snapshot with @text (@len bytes; taken, freed later). */
void metrics_httpd_publish(struct metrics_httpd *h, char *text, size_t len);
/* The address bound ("127.0.0.1:9464"), for logs. */
const char *metrics_httpd_addr(const struct metrics_httpd *h);
/* Whether it listens on a loopback address only. */
int metrics_httpd_loopback(const struct metrics_httpd *h);
/* Stop the thread, close every connection, free. */
void metrics_httpd_stop(struct metrics_httpd *h);

#endif /* ITM_METRICS_HTTPD_H */
