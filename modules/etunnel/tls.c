/*
 * tls.c - the OpenSSL state of the elastic tunnel's pool connections
 * (tls.h).  TLS 1.3 only, both sides present a certificate and verify
 * the other's against the tunnel's CA; no session tickets (a pool
 * connection lives long and reconnects rarely).
 *
 * In TLS 1.3 the client finishes its handshake before the server has
 * checked the client's certificate, so an entry refused by the exit
 * would believe itself up for a round trip and steal packets into a
 * connection about to be reset.  Hence the exit, once its handshake is
 * done, sends one confirmation byte, and the entry's handshake ends only
 * when that byte came: a refused entry learns it (with the exit's alert
 * as the reason) before it carries anything.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tls.h"

#define CONFIRM_BYTE 0x4b /* 'K': the exit admitted the entry */

struct etun_tls {
	SSL_CTX *ctx;
	int server;
};

struct etun_tls_conn {
	SSL *ssl;
	int server;
	int stage;	    /* 0 handshake, 1 confirmation, 2 done */
	uint64_t base;	    /* socket bytes written by the handshake */
	unsigned long err;  /* the OpenSSL error that broke it, 0 none */
	long verify;	    /* the certificate check's result */
	const char *reason; /* or a reason of ours */
};

static void
ssl_why(const char *what, const char *file, char *why, size_t len)
{
	char e[160];

	ERR_error_string_n(ERR_peek_last_error(), e, sizeof(e));
	snprintf(why, len, "%s '%s': %s", what, file, e);
	ERR_clear_error();
}

static int
ctx_files(SSL_CTX *ctx, const char *ca, const char *cert, const char *key,
	  char *why, size_t len)
{
	if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)
		ssl_why("tls_ca", ca, why, len);
	else if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		ssl_why("tls_cert", cert, why, len);
	else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		ssl_why("tls_key", key, why, len);
	else if (SSL_CTX_check_private_key(ctx) != 1)
		ssl_why("tls_key: does not match tls_cert", key, why, len);
	else
		return 0;
	return -1;
}

struct etun_tls *
etun_tls_new(int server, const char *ca, const char *cert, const char *key,
	     char *why, size_t whylen)
{
	struct etun_tls *tls = calloc(1, sizeof(*tls));

	ERR_clear_error();
	if (tls == NULL ||
	    (tls->ctx = SSL_CTX_new(server ? TLS_server_method()
					   : TLS_client_method())) == NULL) {
		snprintf(why, whylen, "tls: no memory for a context");
		free(tls);
		return NULL;
	}
	tls->server = server;
	SSL_CTX_set_min_proto_version(tls->ctx, TLS1_3_VERSION);
	SSL_CTX_set_max_proto_version(tls->ctx, TLS1_3_VERSION);
	SSL_CTX_set_mode(tls->ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_verify(tls->ctx,
			   SSL_VERIFY_PEER |
				   (server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT
					   : 0),
			   NULL);
	SSL_CTX_set_session_cache_mode(tls->ctx, SSL_SESS_CACHE_OFF);
	if (server)
		SSL_CTX_set_num_tickets(tls->ctx, 0);
	if (ctx_files(tls->ctx, ca, cert, key, why, whylen) < 0) {
		etun_tls_free(tls);
		return NULL;
	}
	return tls;
}

void
etun_tls_free(struct etun_tls *tls)
{
	if (tls == NULL)
		return;
	SSL_CTX_free(tls->ctx);
	free(tls);
}

struct etun_tls_conn *
etun_tls_conn_new(struct etun_tls *tls, int fd)
{
	struct etun_tls_conn *tc = calloc(1, sizeof(*tc));

	if (tc == NULL)
		return NULL;
	if ((tc->ssl = SSL_new(tls->ctx)) == NULL ||
	    SSL_set_fd(tc->ssl, fd) != 1) {
		SSL_free(tc->ssl);
		free(tc);
		ERR_clear_error();
		return NULL;
	}
	tc->server = tls->server;
	if (tls->server)
		SSL_set_accept_state(tc->ssl);
	else
		SSL_set_connect_state(tc->ssl);
	return tc;
}

void
etun_tls_conn_free(struct etun_tls_conn *tc)
{
	if (tc == NULL)
		return;
	if (tc->stage == 2 && tc->err == 0)
		SSL_shutdown(tc->ssl); /* close_notify, best effort */
	ERR_clear_error();
	SSL_free(tc->ssl);
	free(tc);
}

/* Map an OpenSSL result @r of a call on @tc to ours. */
static int
result(struct etun_tls_conn *tc, int r)
{
	switch (SSL_get_error(tc->ssl, r)) {
	case SSL_ERROR_WANT_READ: return ETUN_TLS_WANT_READ;
	case SSL_ERROR_WANT_WRITE: return ETUN_TLS_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN: return ETUN_TLS_CLOSED;
	case SSL_ERROR_SYSCALL:
		tc->err = ERR_peek_last_error();
		if (tc->err == 0 && tc->reason == NULL)
			tc->reason = r == 0 || errno == 0 ? "connection closed"
							  : strerror(errno);
		break;
	default: tc->err = ERR_peek_last_error(); break;
	}
	tc->verify = SSL_get_verify_result(tc->ssl);
	ERR_clear_error();
	if (tc->err == 0 && tc->reason == NULL)
		tc->reason = "TLS error";
	return ETUN_TLS_ERROR;
}

/* The exit's confirmation: written (server) or awaited (client). */
static int
confirm(struct etun_tls_conn *tc)
{
	unsigned char b = CONFIRM_BYTE;
	int r;

	ERR_clear_error();
	r = tc->server ? SSL_write(tc->ssl, &b, 1) : SSL_read(tc->ssl, &b, 1);
	if (r <= 0)
		return result(tc, r);
	if (b != CONFIRM_BYTE) {
		tc->reason = "the exit sent something else than its "
			     "confirmation";
		return ETUN_TLS_ERROR;
	}
	tc->stage = 2;
	tc->base = BIO_number_written(SSL_get_wbio(tc->ssl));
	return 1;
}

int
etun_tls_handshake(struct etun_tls_conn *tc)
{
	int r;

	if (tc->stage == 0) {
		ERR_clear_error();
		if ((r = SSL_do_handshake(tc->ssl)) != 1)
			return result(tc, r);
		tc->stage = 1;
	}
	return tc->stage == 2 ? 1 : confirm(tc);
}

int
etun_tls_write(struct etun_tls_conn *tc, const void *buf, size_t len)
{
	int r;

	ERR_clear_error();
	r = SSL_write(tc->ssl, buf, (int)len);
	return r > 0 ? r : result(tc, r);
}

int
etun_tls_read(struct etun_tls_conn *tc, void *buf, size_t len)
{
	int r;

	ERR_clear_error();
	r = SSL_read(tc->ssl, buf, (int)len);
	return r > 0 ? r : result(tc, r);
}

int
etun_tls_pending(const struct etun_tls_conn *tc)
{
	return SSL_pending(tc->ssl);
}

uint64_t
etun_tls_wire_written(const struct etun_tls_conn *tc)
{
	return BIO_number_written(SSL_get_wbio(tc->ssl)) - tc->base;
}

const char *
etun_tls_why(struct etun_tls_conn *tc, char *buf, size_t len)
{
	char e[160] = "";

	if (tc->err)
		ERR_error_string_n(tc->err, e, sizeof(e));
	if (tc->verify != X509_V_OK)
		snprintf(buf, len, "%s%s(certificate: %s)", e, e[0] ? " " : "",
			 X509_verify_cert_error_string(tc->verify));
	else
		snprintf(buf, len, "%s",
			 e[0]	      ? e
			 : tc->reason ? tc->reason
				      : "TLS error");
	return buf;
}
