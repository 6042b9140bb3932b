/*
 * test_etunnel_tls.c - the elastic tunnel's TLS layer (modules/etunnel/
 * tls.c) with real OpenSSL over a non-blocking socketpair: certificates
 * made here (a CA, an exit, an entry; another CA and a client of it),
 * the handshake with the exit's confirmation, frames through send buffers
 * so small that SSL_write must wait (every byte arrives once, in order),
 * refusals with their reasons, and files that cannot be used.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tls.h"

static char dir[64];

/* ---- certificates ---- */

static void
write_pem(const char *name, const char *ext, X509 *x, EVP_PKEY *k)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.%s", dir, name, ext);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(x ? PEM_write_X509(f, x)
			   : PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL,
						  NULL),
			 1);
	fclose(f);
}

static void
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	assert_non_null(e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value));
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
}

/* NAME.pem and NAME.key, signed by @ca / @ca_key (self-signed CA when
 * @ca is NULL); returns the certificate, *key its key. */
static X509 *
mkcert(const char *name, X509 *ca, EVP_PKEY *ca_key, EVP_PKEY **key)
{
	static long serial = 1;
	X509 *x = X509_new();

	assert_non_null(*key = EVP_EC_gen("P-256"));
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, *key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)name, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(ca ? ca : x));
	add_ext(x, ca, NID_basic_constraints,
		ca ? "critical,CA:FALSE" : "critical,CA:TRUE");
	if (ca == NULL)
		add_ext(x, NULL, NID_key_usage, "critical,keyCertSign");
	assert_true(X509_sign(x, ca ? ca_key : *key, EVP_sha256()) > 0);
	write_pem(name, "pem", x, NULL);
	write_pem(name, "key", NULL, *key);
	return x;
}

static int
setup(void **state)
{
	EVP_PKEY *ca_key, *rca_key, *k;
	X509 *ca, *rca;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_etunnel_tls.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	ca = mkcert("ca", NULL, NULL, &ca_key);
	X509_free(mkcert("exit", ca, ca_key, &k));
	EVP_PKEY_free(k);
	X509_free(mkcert("entry", ca, ca_key, &k));
	EVP_PKEY_free(k);
	rca = mkcert("rogueca", NULL, NULL, &rca_key);
	X509_free(mkcert("rogue", rca, rca_key, &k));
	EVP_PKEY_free(k);
	X509_free(ca);
	X509_free(rca);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(rca_key);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- helpers ---- */

static struct etun_tls *
ctx(int server, const char *ca, const char *who)
{
	char c[128], p[128], k[128], why[512];
	struct etun_tls *t;

	snprintf(c, sizeof(c), "%s/%s.pem", dir, ca);
	snprintf(p, sizeof(p), "%s/%s.pem", dir, who);
	snprintf(k, sizeof(k), "%s/%s.key", dir, who);
	t = etun_tls_new(server, c, p, k, why, sizeof(why));
	if (t == NULL)
		fail_msg("etun_tls_new(%s): %s", who, why);
	return t;
}

struct pair {
	struct etun_tls *xs, *es; /* exit (server), entry (client) */
	struct etun_tls_conn *x, *e;
	int fd[2];
	int rx, re; /* handshake results */
};

static void
pair_open(struct pair *p, const char *exit_ca, const char *exit_who,
	  const char *entry_ca, const char *entry_who)
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
				    p->fd),
			 0);
	p->xs = ctx(1, exit_ca, exit_who);
	p->es = ctx(0, entry_ca, entry_who);
	assert_non_null(p->x = etun_tls_conn_new(p->xs, p->fd[0]));
	assert_non_null(p->e = etun_tls_conn_new(p->es, p->fd[1]));
}

/* Step both handshakes until each is done or failed. */
static void
pair_handshake(struct pair *p)
{
	p->rx = p->re = ETUN_TLS_WANT_READ;
	for (int i = 0; i < 100; i++) {
		if (p->rx < 0 && p->rx != ETUN_TLS_ERROR)
			p->rx = etun_tls_handshake(p->x);
		if (p->re < 0 && p->re != ETUN_TLS_ERROR)
			p->re = etun_tls_handshake(p->e);
		if ((p->rx == 1 || p->rx == ETUN_TLS_ERROR) &&
		    (p->re == 1 || p->re == ETUN_TLS_ERROR))
			return;
	}
	fail_msg("handshake did not end: exit %d, entry %d", p->rx, p->re);
}

static void
pair_close(struct pair *p)
{
	etun_tls_conn_free(p->x);
	etun_tls_conn_free(p->e);
	etun_tls_free(p->xs);
	etun_tls_free(p->es);
	close(p->fd[0]);
	close(p->fd[1]);
}

/* ---- tests ---- */

static void
handshake_ok(void **state)
{
	struct pair p;

	(void)state;
	pair_open(&p, "ca", "exit", "ca", "entry");
	pair_handshake(&p);
	assert_int_equal(p.rx, 1);
	assert_int_equal(p.re, 1);
	/* the exit goes away politely: the entry reads the end */
	etun_tls_conn_free(p.x);
	p.x = NULL;
	{
		char b[16];

		assert_int_equal(etun_tls_read(p.e, b, sizeof(b)),
				 ETUN_TLS_CLOSED);
	}
	pair_close(&p);
}

/* Read what the exit can into @got. */
static void
drain(struct etun_tls_conn *x, uint8_t *got, size_t *n, size_t cap)
{
	int r;

	while (*n < cap && (r = etun_tls_read(x, got + *n, cap - *n)) > 0)
		*n += (size_t)r;
}

#define N_FRAMES 2000

static size_t
frame_len(int i)
{
	return i % 100 == 99 ? 20000 : 1 + (size_t)(i * 733) % 1508;
}

/* Frames through 4 kB send buffers: SSL_write must wait (OpenSSL keeps a
 * record half sent); called again with the same bytes, every byte
 * arrives once and in order, each frame one record (22 bytes) more on
 * the wire (two for the 20 kB ones). */
static void
frames_through_small_buffers(void **state)
{
	size_t cap = N_FRAMES * 20000, sent = 0, got_n = 0, records = 0;
	uint8_t *out = malloc(cap), *got = malloc(cap);
	int sb = 4096, waits = 0;
	struct pair p;

	(void)state;
	assert_non_null(out);
	assert_non_null(got);
	for (size_t i = 0; i < cap; i++)
		out[i] = (uint8_t)(i * 2654435761u >> 13);
	pair_open(&p, "ca", "exit", "ca", "entry");
	setsockopt(p.fd[1], SOL_SOCKET, SO_SNDBUF, &sb, sizeof(sb));
	pair_handshake(&p);
	assert_int_equal(p.re, 1);
	for (int i = 0; i < N_FRAMES; i++) {
		size_t len = frame_len(i);
		int r;

		while ((r = etun_tls_write(p.e, out + sent, len)) != (int)len) {
			assert_true(r == ETUN_TLS_WANT_WRITE ||
				    r == ETUN_TLS_WANT_READ);
			waits++;
			drain(p.x, got, &got_n, cap);
		}
		sent += len;
		records += (len + 16383) / 16384;
	}
	for (int k = 0; k < 100 && got_n < sent; k++)
		drain(p.x, got, &got_n, cap);
	assert_int_equal(got_n, sent);
	assert_memory_equal(got, out, sent);
	assert_true(waits > 0);
	assert_int_equal(etun_tls_wire_written(p.e), sent + 22 * records);
	pair_close(&p);
	free(out);
	free(got);
}

static void
assert_why(struct etun_tls_conn *c, const char *want)
{
	char why[256];

	etun_tls_why(c, why, sizeof(why));
	if (strstr(why, want) == NULL)
		fail_msg("reason '%s' lacks '%s'", why, want);
}

/* An entry with another CA's certificate: the exit refuses it, the
 * entry learns why (the exit's alert) before its handshake ends. */
static void
rogue_entry_refused(void **state)
{
	struct pair p;

	(void)state;
	pair_open(&p, "ca", "exit", "ca", "rogue");
	pair_handshake(&p);
	assert_int_equal(p.rx, ETUN_TLS_ERROR);
	assert_int_equal(p.re, ETUN_TLS_ERROR);
	assert_why(p.x, "certificate verify failed");
	assert_why(p.x, "unable to get local issuer certificate");
	assert_why(p.e, "unknown ca");
	pair_close(&p);
}

/* An exit with another CA's certificate: the entry refuses it. */
static void
rogue_exit_refused(void **state)
{
	struct pair p;

	(void)state;
	pair_open(&p, "ca", "rogue", "ca", "entry");
	pair_handshake(&p);
	assert_int_equal(p.re, ETUN_TLS_ERROR);
	assert_int_equal(p.rx, ETUN_TLS_ERROR);
	assert_why(p.e, "certificate verify failed");
	pair_close(&p);
}

static void
bad_file(const char *ca, const char *cert, const char *key, const char *want)
{
	char c[128], p[128], k[128], why[512] = "";

	snprintf(c, sizeof(c), "%s/%s", dir, ca);
	snprintf(p, sizeof(p), "%s/%s", dir, cert);
	snprintf(k, sizeof(k), "%s/%s", dir, key);
	assert_null(etun_tls_new(1, c, p, k, why, sizeof(why)));
	if (strstr(why, want) == NULL)
		fail_msg("reason '%s' lacks '%s'", why, want);
}

/* Files OpenSSL cannot use are refused, the parameter named. */
static void
bad_files(void **state)
{
	(void)state;
	bad_file("nothing.pem", "exit.pem", "exit.key", "tls_ca '");
	bad_file("ca.pem", "exit.key", "exit.key", "tls_cert '");
	bad_file("ca.pem", "exit.pem", "exit.pem", "tls_key '");
	bad_file("ca.pem", "exit.pem", "entry.key", "key values mismatch");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(handshake_ok),
		cmocka_unit_test(frames_through_small_buffers),
		cmocka_unit_test(rogue_entry_refused),
		cmocka_unit_test(rogue_exit_refused),
		cmocka_unit_test(bad_files),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
