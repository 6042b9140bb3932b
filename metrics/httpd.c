/*
 * httpd.c - the /metrics endpoint, see httpd.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics_httpd {
	struct MHD_Daemon *d;
	pthread_mutex_t lock; /* around text and len */
	char *text;
	size_t len;
	struct sockaddr_storage sa;
	char addr[80];
};

/* "HOST:PORT" -> host and port; "[V6]:PORT" too; no host: loopback. */
static int
split_addr(const char *addr, char *host, size_t hlen, char *port, size_t plen)
{
	const char *colon = strrchr(addr, ':');
	const char *h = addr, *p = colon ? colon + 1 : addr;
	size_t n = colon ? (size_t)(colon - addr) : 0;

	if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']') {
		h = addr + 1;
		n -= 2;
	}
	if (n >= hlen || strlen(p) >= plen || *p == '\0')
		return -EINVAL;
	if (n == 0) {
		snprintf(host, hlen, "127.0.0.1");
	} else {
		memcpy(host, h, n);
		host[n] = '\0';
	}
	snprintf(port, plen, "%s", p);
	return 0;
}

static int
resolve(struct metrics_httpd *h, const char *addr, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV },
			*res;
	char host[64], port[16], *end;
	long pn;
	int rc;

	if (split_addr(addr, host, sizeof(host), port, sizeof(port)) < 0 ||
	    (pn = strtol(port, &end, 10), *end != '\0') || pn < 1 ||
	    pn > 65535) {
		snprintf(err, errlen,
			 "'%s': need HOST:PORT, [V6]:PORT or PORT (1..65535)",
			 addr);
		return -EINVAL;
	}
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "'%s': %s", addr, gai_strerror(rc));
		return -EINVAL;
	}
	memcpy(&h->sa, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	if (h->sa.ss_family == AF_INET6)
		snprintf(h->addr, sizeof(h->addr), "[%s]:%ld", host, pn);
	else
		snprintf(h->addr, sizeof(h->addr), "%s:%ld", host, pn);
	return 0;
}

static enum MHD_Result
reply(struct MHD_Connection *c, unsigned int status, char *body, size_t len,
      const char *type)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
reply_text(struct MHD_Connection *c, unsigned int status, const char *msg)
{
	char *body = strdup(msg);

	if (body == NULL)
		return MHD_NO;
	return reply(c, status, body, strlen(body), "text/plain");
}

/* The snapshot, copied under the lock. */
static enum MHD_Result
reply_metrics(struct metrics_httpd *h, struct MHD_Connection *c)
{
	char *copy = NULL;
	size_t len = 0;

	pthread_mutex_lock(&h->lock);
	if (h->text && (copy = malloc(h->len + 1)) != NULL) {
		memcpy(copy, h->text, h->len);
		len = h->len;
	}
	pthread_mutex_unlock(&h->lock);
	if (copy == NULL)
		return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE,
				  "no metrics yet\n");
	return reply(c, MHD_HTTP_OK, copy, len, METRICS_CONTENT_TYPE);
}

static enum MHD_Result
access_cb(void *cls, struct MHD_Connection *c, const char *url,
	  const char *method, const char *version, const char *upload,
	  size_t *upload_size, void **con_cls)
{
	(void)version;
	(void)upload;
	if (*con_cls == NULL) { /* headers only so far */
		*con_cls = c;
		return MHD_YES;
	}
	if (*upload_size != 0) {
		*upload_size = 0; /* a body is ignored */
		return MHD_YES;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
				  "only GET /metrics\n");
	if (strcmp(url, "/metrics") != 0)
		return reply_text(c, MHD_HTTP_NOT_FOUND,
				  "not found: the metrics are at /metrics\n");
	return reply_metrics(cls, c);
}

static int
httpd_listen(struct metrics_httpd *h, char *err, size_t errlen)
{
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;

	if (h->sa.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h->d = MHD_start_daemon(flags, 0, NULL, NULL, access_cb, h,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&h->sa,
				MHD_OPTION_CONNECTION_LIMIT,
				(unsigned int)METRICS_CONNECTIONS,
				MHD_OPTION_CONNECTION_TIMEOUT,
				(unsigned int)METRICS_TIMEOUT_S,
				MHD_OPTION_END);
	if (h->d == NULL) {
		snprintf(err, errlen, "cannot listen on %s: %s", h->addr,
			 errno ? strerror(errno) : "libmicrohttpd failed");
		return -EADDRNOTAVAIL;
	}
	return 0;
}

int
metrics_httpd_start(struct metrics_httpd **out, const char *addr, char *err,
		    size_t errlen)
{
	struct metrics_httpd *h = calloc(1, sizeof(*h));
	int rc;

	if (h == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&h->lock, NULL);
	rc = resolve(h, addr, err, errlen);
	if (rc == 0)
		rc = httpd_listen(h, err, errlen);
	if (rc < 0) {
		pthread_mutex_destroy(&h->lock);
		free(h);
		return rc;
	}
	*out = h;
	return 0;
}

void
metrics_httpd_publish(struct metrics_httpd *h, char *text, size_t len)
{
	char *old;

	pthread_mutex_lock(&h->lock);
	old = h->text;
	h->text = text;
	h->len = len;
	pthread_mutex_unlock(&h->lock);
	free(old);
}

const char *
metrics_httpd_addr(const struct metrics_httpd *h)
{
	return h->addr;
}

int
metrics_httpd_loopback(const struct metrics_httpd *h)
{
	const struct sockaddr_in *in = (const void *)&h->sa;
	const struct sockaddr_in6 *in6 = (const void *)&h->sa;

	if (h->sa.ss_family == AF_INET)
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
}

void
metrics_httpd_stop(struct metrics_httpd *h)
{
	if (h == NULL)
		return;
	MHD_stop_daemon(h->d);
	pthread_mutex_destroy(&h->lock);
	free(h->text);
	free(h);
}
