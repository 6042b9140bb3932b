/*
 * tls.c - the OpenSSL state of the elastic tunnel's pool connections
 * (tls.h).  TLS 1.3 only, both sides present a certificate and verify
 * the other's against the tunnel's CA, that it names the configured peer
 * (OpenSSL's host or IP check, set once on the context) and, with a CRL,
 * that it is not revoked; no session tickets (a pool connection lives
 * long and reconnects rarely).
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

#include <arpa/inet.h>
#include <sys/stat.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tls.h"

#define CONFIRM_BYTE 0x4b /* 'K': the exit admitted the entry */

struct etun_tls {
	SSL_CTX *ctx;
	int server;
	char peer[64]; /* the name or address the peer's certificate names */
	/* The files, to build the context again when tls_crl changes
	 * (conf's strings point into names), and the CRL file last read. */
	struct etun_tls_conf conf;
	char names[6][256];
	struct stat crl_st;
};

struct etun_tls_conn {
	SSL *ssl;
	int server;
	int stage;	    /* 0 handshake, 1 confirmation, 2 done */
	uint64_t base;	    /* socket bytes written by the handshake */
	unsigned long err;  /* the OpenSSL error that broke it, 0 none */
	long verify;	    /* the certificate check's result */
	const char *reason; /* or a reason of ours */
	char peer[64];	    /* what the certificate must name */
	char names[96];	    /* what the refused certificate names */
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
ctx_files(SSL_CTX *ctx, const struct etun_tls_conf *cf, char *why, size_t len)
{
	if (SSL_CTX_load_verify_locations(ctx, cf->ca, NULL) != 1)
		ssl_why("tls_ca", cf->ca, why, len);
	else if (SSL_CTX_use_certificate_chain_file(ctx, cf->cert) != 1)
		ssl_why("tls_cert", cf->cert, why, len);
	else if (SSL_CTX_use_PrivateKey_file(ctx, cf->key, SSL_FILETYPE_PEM) !=
		 1)
		ssl_why("tls_key", cf->key, why, len);
	else if (SSL_CTX_check_private_key(ctx) != 1)
		ssl_why("tls_key: does not match tls_cert", cf->key, why, len);
	else
		return 0;
	return -1;
}

/* A certificate of tls_ca that signed @crl, NULL if none did. */
static X509 *
crl_issuer(X509_STORE *st, X509_CRL *crl)
{
	STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(st);

	for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
		X509 *ca = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));

		if (ca &&
		    X509_NAME_cmp(X509_get_subject_name(ca),
				  X509_CRL_get_issuer(crl)) == 0 &&
		    X509_CRL_verify(crl, X509_get0_pubkey(ca)) == 1)
			return ca;
	}
	return NULL;
}

/* One CRL of tls_crl: signed by the CA, not out of date; added. */
static int
crl_add(X509_STORE *st, X509_CRL *crl, const char *file, char *why, size_t len)
{
	const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);

	if (crl_issuer(st, crl) == NULL)
		snprintf(why, len,
			 "tls_crl '%s': not a CRL signed by tls_ca's CA", file);
	else if (next && X509_cmp_current_time(next) < 0)
		snprintf(why, len,
			 "tls_crl '%s': out of date (its next update is past: "
			 "every certificate would be refused; make a new one)",
			 file);
	else if (X509_STORE_add_crl(st, crl) != 1)
		ssl_why("tls_crl", file, why, len);
	else
		return 0;
	ERR_clear_error();
	return -1;
}

/* Why reading tls_crl stopped after @n CRLs: 0 at the end of the file,
 * else -1 and @why (no CRL in it, or one OpenSSL cannot read). */
static int
crl_end(const char *file, int n, char *why, size_t len)
{
	unsigned long e = ERR_peek_last_error();

	if (e == 0 || (ERR_GET_LIB(e) == ERR_LIB_PEM &&
		       ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) {
		if (n > 0)
			return 0;
		snprintf(why, len, "tls_crl '%s': no PEM CRL in it", file);
		return -1;
	}
	ssl_why("tls_crl", file, why, len);
	return -1;
}

/* tls_crl: every CRL in the PEM file added, revoked certificates
 * refused from then on (X509_V_FLAG_CRL_CHECK: the peer's own). */
static int
load_crl(SSL_CTX *ctx, const char *file, char *why, size_t len)
{
	X509_STORE *st = SSL_CTX_get_cert_store(ctx);
	BIO *in = BIO_new_file(file, "r");
	X509_CRL *crl;
	int n = 0, rc = 0;

	if (in == NULL) {
		ssl_why("tls_crl", file, why, len);
		return -1;
	}
	while (rc == 0 && (crl = PEM_read_bio_X509_CRL(in, NULL, NULL, NULL))) {
		rc = crl_add(st, crl, file, why, len);
		X509_CRL_free(crl);
		n++;
	}
	BIO_free(in);
	if (rc == 0)
		rc = crl_end(file, n, why, len);
	ERR_clear_error();
	if (rc == 0)
		X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(ctx),
					    X509_V_FLAG_CRL_CHECK);
	return rc;
}

/* Copy @cf into @tls (its strings too), and note the CRL file read. */
static void
keep_conf(struct etun_tls *tls, const struct etun_tls_conf *cf)
{
	const char *from[6] = { cf->ca,	 cf->cert,	cf->key,
				cf->crl, cf->peer_name, cf->peer_addr };
	const char **to[6] = { &tls->conf.ca,	     &tls->conf.cert,
			       &tls->conf.key,	     &tls->conf.crl,
			       &tls->conf.peer_name, &tls->conf.peer_addr };

	tls->conf.server = cf->server;
	for (int i = 0; i < 6; i++) {
		snprintf(tls->names[i], sizeof(tls->names[i]), "%s",
			 from[i] ? from[i] : "");
		*to[i] = tls->names[i];
	}
	if (tls->conf.crl[0] && stat(tls->conf.crl, &tls->crl_st) < 0)
		memset(&tls->crl_st, 0, sizeof(tls->crl_st));
}

/* The peer's certificate must name @cf->peer_name (subjectAltName DNS,
 * or the CN when it has no DNS name; exactly, no wildcards), or without
 * a name @cf->peer_addr (subjectAltName IP): OpenSSL checks it while it
 * verifies the chain, the mismatch is a verify error like the others. */
static int
set_peer(struct etun_tls *tls, const struct etun_tls_conf *cf, char *why,
	 size_t len)
{
	X509_VERIFY_PARAM *vp = SSL_CTX_get0_param(tls->ctx);
	const char *name = cf->peer_name ? cf->peer_name : "";
	const char *addr = cf->peer_addr ? cf->peer_addr : "";
	int ok;

	snprintf(tls->peer, sizeof(tls->peer), "%s", name[0] ? name : addr);
	if (name[0]) {
		X509_VERIFY_PARAM_set_hostflags(vp,
						X509_CHECK_FLAG_NO_WILDCARDS);
		ok = X509_VERIFY_PARAM_set1_host(vp, name, 0);
	} else {
		ok = X509_VERIFY_PARAM_set1_ip_asc(vp, addr);
	}
	if (ok == 1)
		return 0;
	snprintf(why, len, "tls: cannot check certificates for the peer '%s'",
		 tls->peer);
	ERR_clear_error();
	return -1;
}

/* Append @n bytes of @s to @buf (used @*o of @len), unprintable as '?'. */
static void
put_name(char *buf, size_t len, size_t *o, const char *tag,
	 const unsigned char *s, int n)
{
	int w = snprintf(buf + *o, len - *o, "%s%s", *o ? ", " : "", tag);

	if (w > 0)
		*o = *o + (size_t)w < len ? *o + (size_t)w : len - 1;
	for (int i = 0; i < n && *o + 1 < len; i++)
		buf[(*o)++] = s[i] > ' ' && s[i] < 0x7f ? (char)s[i] : '?';
	buf[*o] = '\0';
}

/* @v, an IP entry of subjectAltName, in @ip: "?" unless 4 or 16 bytes. */
static const char *
ip_text(const ASN1_STRING *v, char ip[INET6_ADDRSTRLEN])
{
	int n = ASN1_STRING_length(v);

	if ((n != 4 && n != 16) ||
	    inet_ntop(n == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(v), ip,
		      INET6_ADDRSTRLEN) == NULL)
		snprintf(ip, INET6_ADDRSTRLEN, "?");
	return ip;
}

/* What @x names, for the log: its subjectAltName DNS and IP entries
 * and its CN. */
static void
cert_names(X509 *x, char *buf, size_t len)
{
	GENERAL_NAMES *gens =
		X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	X509_NAME *subj = X509_get_subject_name(x);
	int cn = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
	char ip[INET6_ADDRSTRLEN];
	size_t o = 0;

	buf[0] = '\0';
	for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const ASN1_STRING *v = g->d.ia5; /* or d.iPAddress, the same */
		int n = ASN1_STRING_length(v);

		if (g->type == GEN_DNS)
			put_name(buf, len, &o, "DNS:", ASN1_STRING_get0_data(v),
				 n);
		else if (g->type == GEN_IPADD && ip_text(v, ip))
			put_name(buf, len, &o, "IP:", (const unsigned char *)ip,
				 (int)strlen(ip));
	}
	GENERAL_NAMES_free(gens);
	if (cn >= 0) {
		ASN1_STRING *v =
			X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, cn));

		put_name(buf, len, &o, "CN=", ASN1_STRING_get0_data(v),
			 ASN1_STRING_length(v));
	}
}

/* OpenSSL's verify callback: its verdict kept, and when the peer's own
 * certificate failed, what it names noted for etun_tls_why. */
static int
verify_cb(int ok, X509_STORE_CTX *xs)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(
		xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct etun_tls_conn *tc = ssl ? SSL_get_app_data(ssl) : NULL;
	X509 *x = X509_STORE_CTX_get_current_cert(xs);

	if (!ok && tc && x && X509_STORE_CTX_get_error_depth(xs) == 0 &&
	    tc->names[0] == '\0')
		cert_names(x, tc->names, sizeof(tc->names));
	return ok;
}

static SSL_CTX *
ctx_new(int server)
{
	SSL_CTX *ctx =
		SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());

	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_verify(ctx,
			   SSL_VERIFY_PEER |
				   (server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT
					   : 0),
			   verify_cb);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (server)
		SSL_CTX_set_num_tickets(ctx, 0);
	return ctx;
}

struct etun_tls *
etun_tls_new(const struct etun_tls_conf *cf, char *why, size_t whylen)
{
	struct etun_tls *tls = calloc(1, sizeof(*tls));

	ERR_clear_error();
	if (tls == NULL || (tls->ctx = ctx_new(cf->server)) == NULL) {
		snprintf(why, whylen, "tls: no memory for a context");
		free(tls);
		return NULL;
	}
	tls->server = cf->server;
	if (ctx_files(tls->ctx, cf, why, whylen) < 0 ||
	    (cf->crl && cf->crl[0] &&
	     load_crl(tls->ctx, cf->crl, why, whylen) < 0) ||
	    set_peer(tls, cf, why, whylen) < 0) {
		etun_tls_free(tls);
		return NULL;
	}
	keep_conf(tls, cf);
	return tls;
}

/* The same file, unchanged: device, inode, size and time. */
static int
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	       a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

int
etun_tls_crl_check(struct etun_tls *tls, char *why, size_t whylen)
{
	struct etun_tls *fresh;
	struct stat st;

	if (tls->conf.crl == NULL || tls->conf.crl[0] == '\0')
		return 0;
	if (stat(tls->conf.crl, &st) < 0)
		memset(&st, 0, sizeof(st));
	if (same_file(&st, &tls->crl_st))
		return 0;
	tls->crl_st = st; /* a bad file is reported once */
	if ((fresh = etun_tls_new(&tls->conf, why, whylen)) == NULL)
		return -1;
	SSL_CTX_free(tls->ctx); /* sessions keep a reference to theirs */
	tls->ctx = fresh->ctx;
	tls->crl_st = fresh->crl_st;
	fresh->ctx = NULL;
	etun_tls_free(fresh);
	return 1;
}

int
etun_tls_conn_recheck(struct etun_tls *tls, struct etun_tls_conn *tc, char *why,
		      size_t whylen)
{
	X509 *peer = SSL_get0_peer_certificate(tc->ssl);
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(tc->ssl);
	X509_STORE_CTX *xs;
	char names[96] = "";
	int ok, err;

	if (tc->stage != 2 || peer == NULL)
		return 1;
	if ((xs = X509_STORE_CTX_new()) == NULL ||
	    !X509_STORE_CTX_init(xs, SSL_CTX_get_cert_store(tls->ctx), peer,
				 chain)) {
		X509_STORE_CTX_free(xs);
		ERR_clear_error();
		return 1; /* no memory: the next change checks again */
	}
	/* As the handshake does: the purpose of the peer's side, then the
	 * context's parameters (the peer's name, the CRL check). */
	X509_STORE_CTX_set_default(xs,
				   tls->server ? "ssl_client" : "ssl_server");
	X509_VERIFY_PARAM_set1(X509_STORE_CTX_get0_param(xs),
			       SSL_CTX_get0_param(tls->ctx));
	ok = X509_verify_cert(xs) == 1;
	err = X509_STORE_CTX_get_error(xs);
	X509_STORE_CTX_free(xs);
	ERR_clear_error();
	if (ok)
		return 1;
	cert_names(peer, names, sizeof(names));
	snprintf(why, whylen, "certificate: %s; it names %s",
		 X509_verify_cert_error_string(err), names);
	return 0;
}

void
etun_tls_free(struct etun_tls *tls)
{
	if (tls == NULL)
		return;
	SSL_CTX_free(tls->ctx);
	free(tls);
}

const char *
etun_tls_peer(const struct etun_tls *tls)
{
	return tls->peer;
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
	snprintf(tc->peer, sizeof(tc->peer), "%s", tls->peer);
	SSL_set_app_data(tc->ssl, tc);
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
	if (tc->verify != X509_V_OK && tc->names[0])
		snprintf(buf, len,
			 "%s%s(certificate: %s; the peer is %s, its certificate "
			 "names %s)",
			 e, e[0] ? " " : "",
			 X509_verify_cert_error_string(tc->verify), tc->peer,
			 tc->names);
	else if (tc->verify != X509_V_OK)
		snprintf(buf, len, "%s%s(certificate: %s)", e, e[0] ? " " : "",
			 X509_verify_cert_error_string(tc->verify));
	else
		snprintf(buf, len, "%s",
			 e[0]	      ? e
			 : tc->reason ? tc->reason
				      : "TLS error");
	return buf;
}
