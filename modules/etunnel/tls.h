/*
 * tls.h - mutual TLS on the elastic tunnel's pool connections (optional:
 * params tls_ca, tls_cert, tls_key, tls_crl).  OpenSSL in non-blocking
 * mode on the agent's loop, TLS 1.3 only; the exit requires a client
 * certificate signed by the CA, the entry verifies the exit's, and each
 * end admits only a certificate that names its configured peer and,
 * with a CRL, is not revoked.  This layer owns the
 * OpenSSL state; pool.c and exitp.c call it at connect/accept, write,
 * read and close, and keep their frames and counters.
 */
#ifndef ETUNNEL_TLS_H
#define ETUNNEL_TLS_H

#include <stddef.h>
#include <stdint.h>

struct etun_tls;      /* one tunnel end's context (CA, cert, key) */
struct etun_tls_conn; /* one pool connection's TLS session */

/* Results of the calls below that can wait on the socket. */
#define ETUN_TLS_WANT_READ  (-1) /* call again when the fd is readable */
#define ETUN_TLS_WANT_WRITE (-2) /* call again when it is writable */
#define ETUN_TLS_ERROR	    (-3) /* broken: close (reason in ..._why) */
#define ETUN_TLS_CLOSED	    (-4) /* the peer closed */

/* What one tunnel end's context is made of. */
struct etun_tls_conf {
	int server;		     /* the exit (1) or the entry (0) */
	const char *ca, *cert, *key; /* PEM files: tls_ca, tls_cert, tls_key */
	const char *crl;	     /* tls_crl: the CA's CRL, NULL/"": none */
	/* The peer the other certificate must name: its node name
	 * (subjectAltName DNS, or the CN without one), or when NULL/""
	 * its IPv4 address (subjectAltName IP). */
	const char *peer_name, *peer_addr;
};

/* A context; NULL and @why filled (the parameter, the file and OpenSSL's
 * reason) when a file cannot be used. */
struct etun_tls *etun_tls_new(const struct etun_tls_conf *conf, char *why,
			      size_t whylen);
void etun_tls_free(struct etun_tls *tls);

/* tls_crl changed on disk (another file, size or time)?  Then the
 * context is built again from the same files, for the sessions made from
 * now on (those up keep theirs): 1.  -1 with @why when the new file (or
 * another of the set) cannot be used: the context in force stays, and
 * that file is not reported again.  0: unchanged, or no CRL. */
int etun_tls_crl_check(struct etun_tls *tls, char *why, size_t whylen);

/* The peer's certificate of the session @tc (up) checked again against
 * @tls as it is now (after etun_tls_crl_check changed it): 1 still
 * admitted (or not up yet), 0 refused now, @why saying why (OpenSSL's
 * reason and what the certificate names).  OpenSSL checks a certificate
 * only at the handshake; this is how a new CRL reaches sessions up. */
int etun_tls_conn_recheck(struct etun_tls *tls, struct etun_tls_conn *tc,
			  char *why, size_t whylen);

/* What the peer's certificate must name (its node name or address). */
const char *etun_tls_peer(const struct etun_tls *tls);

/* A session on the connected (or accepted) non-blocking socket @fd. */
struct etun_tls_conn *etun_tls_conn_new(struct etun_tls *tls, int fd);
void etun_tls_conn_free(struct etun_tls_conn *tc);

/* One step of the handshake: 1 done, or ETUN_TLS_WANT_* / _ERROR. */
int etun_tls_handshake(struct etun_tls_conn *tc);

/* SSL_write of the whole of @buf: @len when done, else ETUN_TLS_WANT_*
 * (call again with the same bytes: OpenSSL may hold a record of them
 * half sent) or ETUN_TLS_ERROR. */
int etun_tls_write(struct etun_tls_conn *tc, const void *buf, size_t len);

/* SSL_read: bytes read (> 0), or ETUN_TLS_WANT_* / _CLOSED / _ERROR. */
int etun_tls_read(struct etun_tls_conn *tc, void *buf, size_t len);

/* Decrypted bytes OpenSSL holds that the next read returns at once. */
int etun_tls_pending(const struct etun_tls_conn *tc);

/* Bytes written to the socket since the handshake ended (records,
 * headers and tags included), as the kernel's SIOCOUTQ counts them. */
uint64_t etun_tls_wire_written(const struct etun_tls_conn *tc);

/* Why @tc failed, in words: OpenSSL's reason, and the certificate
 * check's when it failed (with what the certificate names and the peer
 * it had to name). */
const char *etun_tls_why(struct etun_tls_conn *tc, char *buf, size_t len);

#endif
