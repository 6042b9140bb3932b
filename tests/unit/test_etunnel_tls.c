/*
 * test_etunnel_tls.c - the elastic tunnel's TLS layer (modules/etunnel/
 * tls.c) with real OpenSSL over a non-blocking socketpair: certificates
 * made here (a CA, an exit, an entry, another node n2 and a revoked one;
 * another CA and a client of it; CRLs), the handshake with the exit's
 * confirmation, frames through send buffers so small that SSL_write must
 * wait (every byte arrives once, in order), the peer's name or address
 * checked at each end, revocation, refusals with their reasons, and
 * files that cannot be used.
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
#include <arpa/inet.h>
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

/* A subjectAltName of DNS:n2 and an IP entry of 5 bytes (neither IPv4
 * nor IPv6): what a forged certificate may hold. */
static void
add_odd_ip(X509 *x)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *ip = GENERAL_NAME_new(), *dns = GENERAL_NAME_new();
	ASN1_OCTET_STRING *o = ASN1_OCTET_STRING_new();
	ASN1_IA5STRING *d = ASN1_IA5STRING_new();

	ASN1_OCTET_STRING_set(o, (const unsigned char *)"\x0a\x00\x00\x01\x01",
			      5);
	ASN1_STRING_set(d, "n2", 2);
	GENERAL_NAME_set0_value(ip, GEN_IPADD, o);
	GENERAL_NAME_set0_value(dns, GEN_DNS, d);
	sk_GENERAL_NAME_push(gens, ip);
	sk_GENERAL_NAME_push(gens, dns);
	assert_int_equal(X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0,
					   X509V3_ADD_DEFAULT),
			 1);
	GENERAL_NAMES_free(gens);
}

/* FILE.pem and FILE.key: CN @cn, subjectAltName @san (none when NULL;
 * "ODD-IP": add_odd_ip),
 * signed by @ca / @ca_key (self-signed CA when @ca is NULL); returns the
 * certificate, *key its key. */
static X509 *
mkcert(const char *file, const char *cn, const char *san, X509 *ca,
       EVP_PKEY *ca_key, EVP_PKEY **key)
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
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(ca ? ca : x));
	add_ext(x, ca, NID_basic_constraints,
		ca ? "critical,CA:FALSE" : "critical,CA:TRUE");
	if (ca == NULL)
		add_ext(x, NULL, NID_key_usage, "critical,keyCertSign,cRLSign");
	if (san && strcmp(san, "ODD-IP") == 0)
		add_odd_ip(x);
	else if (san)
		add_ext(x, ca, NID_subject_alt_name, san);
	assert_true(X509_sign(x, ca ? ca_key : *key, EVP_sha256()) > 0);
	write_pem(file, "pem", x, NULL);
	write_pem(file, "key", NULL, *key);
	return x;
}

/* A node's certificate signed by @ca: FILE.pem, FILE.key; its serial. */
static long
node_cert(const char *file, const char *cn, const char *san, X509 *ca,
	  EVP_PKEY *ca_key)
{
	EVP_PKEY *k;
	X509 *x = mkcert(file, cn, san, ca, ca_key, &k);
	long serial = ASN1_INTEGER_get(X509_get_serialNumber(x));

	X509_free(x);
	EVP_PKEY_free(k);
	return serial;
}

/* NAME.crl signed by @ca_key: @revoked (0: none) revoked, next update
 * @next_s seconds from now (negative: out of date). */
static void
mkcrl(const char *name, X509 *ca, EVP_PKEY *ca_key, long revoked, long next_s)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t = ASN1_TIME_new();
	char path[128];
	FILE *f;

	X509_CRL_set_version(crl, 1);
	X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca));
	X509_CRL_set1_lastUpdate(crl,
				 X509_gmtime_adj(t, next_s > 0
							    ? -60
							    : next_s - 3600));
	X509_CRL_set1_nextUpdate(crl, X509_gmtime_adj(t, next_s));
	if (revoked) {
		X509_REVOKED *r = X509_REVOKED_new();
		ASN1_INTEGER *i = ASN1_INTEGER_new();

		ASN1_INTEGER_set(i, revoked);
		X509_REVOKED_set_serialNumber(r, i);
		X509_REVOKED_set_revocationDate(r, X509_gmtime_adj(t, -60));
		X509_CRL_add0_revoked(crl, r);
		ASN1_INTEGER_free(i);
	}
	X509_CRL_sort(crl);
	assert_true(X509_CRL_sign(crl, ca_key, EVP_sha256()) > 0);
	snprintf(path, sizeof(path), "%s/%s.crl", dir, name);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(PEM_write_X509_CRL(f, crl), 1);
	fclose(f);
	ASN1_TIME_free(t);
	X509_CRL_free(crl);
}

/* DIR/@out: the text @head, then the files @a and @b of DIR (NULL: none). */
static void
concat(const char *out, const char *head, const char *a, const char *b)
{
	const char *in[2] = { a, b };
	char path[128], buf[4096];
	FILE *f, *g;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, out);
	assert_non_null(f = fopen(path, "w"));
	fputs(head, f);
	for (int i = 0; i < 2 && in[i]; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, in[i]);
		assert_non_null(g = fopen(path, "r"));
		while ((n = fread(buf, 1, sizeof(buf), g)) > 0)
			fwrite(buf, 1, n, f);
		fclose(g);
	}
	fclose(f);
}

#define BROKEN_CRL "-----BEGIN X509 CRL-----\nMIIB\n-----END X509 CRL-----\n"

/* The nodes: exit (10.0.0.3) and entry (10.0.0.1) with their names and
 * addresses in subjectAltName; n2 (10.0.0.2) of the same CA; cnonly,
 * CN entry and no subjectAltName; sanother, CN entry but SAN DNS:n2;
 * revoked, naming both ends, in ca.crl.  rogue: another CA's. */
static int
setup(void **state)
{
	EVP_PKEY *ca_key, *rca_key;
	X509 *ca, *rca;
	long rev;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_etunnel_tls.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	ca = mkcert("ca", "itm-tunnel-ca", NULL, NULL, NULL, &ca_key);
	node_cert("exit", "exit", "DNS:exit,IP:10.0.0.3", ca, ca_key);
	node_cert("entry", "entry", "DNS:entry,IP:10.0.0.1", ca, ca_key);
	node_cert("n2", "n2", "DNS:n2,IP:10.0.0.2", ca, ca_key);
	node_cert("cnonly", "entry", NULL, ca, ca_key);
	node_cert("sanother", "entry", "DNS:n2", ca, ca_key);
	node_cert("oddip", "n2", "ODD-IP", ca, ca_key);
	node_cert("many", "many",
		  "DNS:a-rather-long-node-name-1,DNS:a-rather-long-node-name-2,"
		  "DNS:a-rather-long-node-name-3,DNS:a-rather-long-node-name-4,"
		  "DNS:a-rather-long-node-name-5",
		  ca, ca_key);
	rev = node_cert("revoked", "revoked", "DNS:entry,DNS:exit", ca, ca_key);
	mkcrl("ca", ca, ca_key, rev, 86400);
	mkcrl("old", ca, ca_key, 0, -3600);
	mkcrl("none", ca, ca_key, 0, 86400);
	rca = mkcert("rogueca", "rogue-ca", NULL, NULL, NULL, &rca_key);
	node_cert("rogue", "entry", "DNS:entry,DNS:exit", rca, rca_key);
	mkcrl("rogueca", rca, rca_key, 0, 86400);
	concat("broken.crl", BROKEN_CRL, NULL, NULL);
	concat("ca+broken.crl", "", "ca.crl", "broken.crl");
	concat("ca+rogueca.crl", "", "ca.crl", "rogueca.crl");
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

/* One end: certificates of CA (file stem), its own WHO.pem/.key, the
 * PEER its other end's certificate must name (a node name, or an IPv4
 * address), CRL (CRL.crl, NULL: none). */
struct end {
	const char *ca, *who, *peer, *crl;
};

#define EXIT_OK	 ((struct end){ "ca", "exit", "entry", NULL })
#define ENTRY_OK ((struct end){ "ca", "entry", "exit", NULL })

static struct etun_tls *
ctx(int server, struct end e)
{
	char c[128], p[128], k[128], r[128], why[512];
	struct in_addr a;
	int by_addr = inet_pton(AF_INET, e.peer, &a) == 1;
	struct etun_tls_conf cf = {
		.server = server,
		.ca = c,
		.cert = p,
		.key = k,
		.crl = e.crl ? r : NULL,
		.peer_name = by_addr ? NULL : e.peer,
		.peer_addr = by_addr ? e.peer : NULL,
	};
	struct etun_tls *t;

	snprintf(c, sizeof(c), "%s/%s.pem", dir, e.ca);
	snprintf(p, sizeof(p), "%s/%s.pem", dir, e.who);
	snprintf(k, sizeof(k), "%s/%s.key", dir, e.who);
	snprintf(r, sizeof(r), "%s/%s.crl", dir, e.crl ? e.crl : "");
	t = etun_tls_new(&cf, why, sizeof(why));
	if (t == NULL)
		fail_msg("etun_tls_new(%s): %s", e.who, why);
	return t;
}

struct pair {
	struct etun_tls *xs, *es; /* exit (server), entry (client) */
	struct etun_tls_conn *x, *e;
	int fd[2];
	int rx, re; /* handshake results */
};

static void
pair_open(struct pair *p, struct end exit_end, struct end entry_end)
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
				    p->fd),
			 0);
	p->xs = ctx(1, exit_end);
	p->es = ctx(0, entry_end);
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
	pair_open(&p, EXIT_OK, ENTRY_OK);
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
	pair_open(&p, EXIT_OK, ENTRY_OK);
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
	pair_open(&p, EXIT_OK, (struct end){ "ca", "rogue", "exit", NULL });
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
	pair_open(&p, (struct end){ "ca", "rogue", "entry", NULL }, ENTRY_OK);
	pair_handshake(&p);
	assert_int_equal(p.re, ETUN_TLS_ERROR);
	assert_int_equal(p.rx, ETUN_TLS_ERROR);
	assert_why(p.e, "certificate verify failed");
	pair_close(&p);
}

/* The handshake between the two ends ends as @want_x at the exit and
 * @want_e at the entry (1 or ETUN_TLS_ERROR); reasons that must appear
 * (NULL: none checked). */
static void
expect(struct end x, struct end e, int want_x, const char *why_x, int want_e,
       const char *why_e)
{
	struct pair p;

	pair_open(&p, x, e);
	pair_handshake(&p);
	assert_int_equal(p.rx, want_x);
	assert_int_equal(p.re, want_e);
	if (why_x)
		assert_why(p.x, why_x);
	if (why_e)
		assert_why(p.e, why_e);
	pair_close(&p);
}

/* Each end expects the other by name: a certificate of the same CA for
 * another node is refused where it is checked, and the refusal names
 * both (what the certificate names, the peer it had to name); the other
 * end learns it from the alert. */
static void
wrong_name_refused(void **state)
{
	(void)state;
	expect(EXIT_OK, (struct end){ "ca", "n2", "exit", NULL },
	       ETUN_TLS_ERROR,
	       "hostname mismatch; the peer is entry, its certificate names "
	       "DNS:n2, IP:10.0.0.2, CN=n2)",
	       ETUN_TLS_ERROR, "bad certificate");
	expect((struct end){ "ca", "n2", "entry", NULL }, ENTRY_OK,
	       ETUN_TLS_ERROR, "bad certificate", ETUN_TLS_ERROR,
	       "hostname mismatch; the peer is exit, its certificate names "
	       "DNS:n2, IP:10.0.0.2, CN=n2)");
	/* the CN counts only without a DNS name (OpenSSL's rule) */
	expect(EXIT_OK, (struct end){ "ca", "cnonly", "exit", NULL }, 1, NULL,
	       1, NULL);
	expect(EXIT_OK, (struct end){ "ca", "sanother", "exit", NULL },
	       ETUN_TLS_ERROR, "names DNS:n2, CN=entry)", ETUN_TLS_ERROR, NULL);
	/* what a certificate names is logged as far as it fits, the peer
	 * first; an IP entry of an odd length is shown as such */
	expect(EXIT_OK, (struct end){ "ca", "many", "exit", NULL },
	       ETUN_TLS_ERROR,
	       "the peer is entry, its certificate names "
	       "DNS:a-rather-long-node-name-1, DNS:a-rather",
	       ETUN_TLS_ERROR, NULL);
	expect(EXIT_OK, (struct end){ "ca", "oddip", "exit", NULL },
	       ETUN_TLS_ERROR, "names IP:?, DNS:n2, CN=n2)", ETUN_TLS_ERROR,
	       NULL);
}

/* A tunnel given by address only: the certificate's subjectAltName IP
 * must be the peer's address; its DNS name does not count. */
static void
by_address(void **state)
{
	(void)state;
	expect((struct end){ "ca", "exit", "10.0.0.1", NULL },
	       (struct end){ "ca", "entry", "10.0.0.3", NULL }, 1, NULL, 1,
	       NULL);
	expect((struct end){ "ca", "exit", "10.0.0.1", NULL },
	       (struct end){ "ca", "n2", "10.0.0.3", NULL }, ETUN_TLS_ERROR,
	       "IP address mismatch; the peer is 10.0.0.1, its certificate "
	       "names DNS:n2, IP:10.0.0.2, CN=n2)",
	       ETUN_TLS_ERROR, "bad certificate");
	expect((struct end){ "ca", "n2", "10.0.0.1", NULL },
	       (struct end){ "ca", "entry", "10.0.0.3", NULL }, ETUN_TLS_ERROR,
	       NULL, ETUN_TLS_ERROR, "IP address mismatch");
	/* names both ends but has no address: refused */
	expect((struct end){ "ca", "exit", "10.0.0.1", NULL },
	       (struct end){ "ca", "revoked", "10.0.0.3", NULL },
	       ETUN_TLS_ERROR, "IP address mismatch", ETUN_TLS_ERROR, NULL);
}

/* With the CA's CRL: a revoked certificate is refused at either end
 * (its names right), one that is not revoked admitted. */
static void
revoked_refused(void **state)
{
	(void)state;
	expect((struct end){ "ca", "exit", "entry", "ca" },
	       (struct end){ "ca", "revoked", "exit", NULL }, ETUN_TLS_ERROR,
	       "certificate revoked; the peer is entry, its certificate names DNS:entry",
	       ETUN_TLS_ERROR, "certificate revoked");
	expect((struct end){ "ca", "revoked", "entry", NULL },
	       (struct end){ "ca", "entry", "exit", "ca" }, ETUN_TLS_ERROR,
	       NULL, ETUN_TLS_ERROR, "certificate revoked");
	expect((struct end){ "ca", "exit", "entry", "ca" },
	       (struct end){ "ca", "entry", "exit", "ca" }, 1, NULL, 1, NULL);
	/* without the CRL the revoked one would pass: the CRL refused it */
	expect(EXIT_OK, (struct end){ "ca", "revoked", "exit", NULL }, 1, NULL,
	       1, NULL);
}

/* A new entry session of @who (its own context reading @crl, or none)
 * and the exit's of @xs, handshaken; @xs stays the caller's. */
static void
to_exit(struct pair *p, struct etun_tls *xs, const char *who, const char *crl)
{
	*p = (struct pair){ .xs = xs };
	p->es = ctx(0, (struct end){ "ca", who, "exit", crl });
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
				    p->fd),
			 0);
	assert_non_null(p->x = etun_tls_conn_new(p->xs, p->fd[0]));
	assert_non_null(p->e = etun_tls_conn_new(p->es, p->fd[1]));
	pair_handshake(p);
	p->xs = NULL;
}

/* The exit's handshake with a new entry session of @who. */
static int
exit_handshake(struct etun_tls *xs, const char *who)
{
	struct pair p;

	to_exit(&p, xs, who, NULL);
	pair_close(&p);
	return p.rx;
}

/* Put @from (a file of dir) in place of live.crl: a new file renamed
 * over it, as operators and tools replace a CRL. */
static void
live_crl(const char *from, const char *text)
{
	char a[128], b[128];

	concat("live.crl.new", text, from, NULL);
	snprintf(a, sizeof(a), "%s/live.crl.new", dir);
	snprintf(b, sizeof(b), "%s/live.crl", dir);
	assert_int_equal(rename(a, b), 0);
}

/* A CRL replaced on disk applies to the sessions made after the next
 * check, without a new context from the caller; a file that cannot be
 * used leaves the list in force, and is reported once. */
static void
crl_reload(void **state)
{
	struct etun_tls *xs;
	char why[512] = "";

	(void)state;
	live_crl("none.crl", "");
	xs = ctx(1, (struct end){ "ca", "exit", "entry", "live" });
	assert_int_equal(etun_tls_crl_check(xs, why, sizeof(why)), 0);
	assert_int_equal(exit_handshake(xs, "revoked"), 1);
	live_crl("ca.crl", ""); /* revokes "revoked" */
	assert_int_equal(etun_tls_crl_check(xs, why, sizeof(why)), 1);
	assert_int_equal(etun_tls_crl_check(xs, why, sizeof(why)), 0);
	assert_int_equal(exit_handshake(xs, "revoked"), ETUN_TLS_ERROR);
	assert_int_equal(exit_handshake(xs, "entry"), 1);
	live_crl("broken.crl", "");
	assert_int_equal(etun_tls_crl_check(xs, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "tls_crl '"));
	assert_int_equal(etun_tls_crl_check(xs, why, sizeof(why)), 0);
	assert_int_equal(exit_handshake(xs, "revoked"), ETUN_TLS_ERROR);
	assert_int_equal(exit_handshake(xs, "entry"), 1);
	live_crl("none.crl", "");
	assert_int_equal(etun_tls_crl_check(xs, why, sizeof(why)), 1);
	assert_int_equal(exit_handshake(xs, "revoked"), 1);
	etun_tls_free(xs);
}

/* A session up with the exit's context @xs, the entry presenting @who's
 * certificate; the caller closes it (p->xs stays the caller's). */
static void
session_up(struct pair *p, struct etun_tls *xs, const char *who)
{
	to_exit(p, xs, who, "live");
	assert_int_equal(p->rx, 1);
	assert_int_equal(p->re, 1);
}

/* A CRL replaced on disk reaches the sessions already up: checked again,
 * the one whose certificate it revokes is refused with the reason and
 * what the certificate names, the others (and both ends' view of the
 * exit) still pass; before the change every one passes. */
static void
crl_rechecks_sessions_up(void **state)
{
	struct etun_tls *xs;
	struct pair late, good;
	char why[512] = "";

	(void)state;
	live_crl("none.crl", "");
	xs = ctx(1, (struct end){ "ca", "exit", "entry", "live" });
	session_up(&late, xs, "revoked");
	session_up(&good, xs, "entry");
	/* The exit's context admits the peer named "entry" only: "revoked"
	 * passes the handshake above because its certificate names entry. */
	assert_int_equal(etun_tls_conn_recheck(xs, late.x, why, sizeof(why)),
			 1);
	live_crl("ca.crl", ""); /* revokes "revoked" */
	assert_int_equal(etun_tls_crl_check(xs, why, sizeof(why)), 1);
	assert_int_equal(etun_tls_conn_recheck(xs, late.x, why, sizeof(why)),
			 0);
	if (strstr(why, "certificate revoked") == NULL ||
	    strstr(why, "entry") == NULL)
		fail_msg("reason '%s'", why);
	assert_int_equal(etun_tls_conn_recheck(xs, good.x, why, sizeof(why)),
			 1);
	assert_int_equal(etun_tls_crl_check(late.es, why, sizeof(why)), 1);
	assert_int_equal(etun_tls_conn_recheck(late.es, late.e, why,
					       sizeof(why)),
			 1);
	pair_close(&late);
	pair_close(&good);
	etun_tls_free(xs);
}

static void
bad_file(const char *ca, const char *cert, const char *key, const char *crl,
	 const char *want)
{
	char c[128], p[128], k[128], r[128], why[512] = "";
	struct etun_tls_conf cf = { .server = 1,
				    .ca = c,
				    .cert = p,
				    .key = k,
				    .crl = crl ? r : NULL,
				    .peer_name = "entry" };

	snprintf(c, sizeof(c), "%s/%s", dir, ca);
	snprintf(p, sizeof(p), "%s/%s", dir, cert);
	snprintf(k, sizeof(k), "%s/%s", dir, key);
	snprintf(r, sizeof(r), "%s/%s", dir, crl ? crl : "");
	assert_null(etun_tls_new(&cf, why, sizeof(why)));
	if (strstr(why, want) == NULL)
		fail_msg("reason '%s' lacks '%s'", why, want);
}

/* Files OpenSSL cannot use are refused, the parameter and file named. */
static void
bad_files(void **state)
{
	(void)state;
	bad_file("nothing.pem", "exit.pem", "exit.key", NULL, "tls_ca '");
	bad_file("ca.pem", "exit.key", "exit.key", NULL, "tls_cert '");
	bad_file("ca.pem", "exit.pem", "exit.pem", NULL, "tls_key '");
	bad_file("ca.pem", "exit.pem", "entry.key", NULL,
		 "key values mismatch");
	bad_file("ca.pem", "exit.pem", "exit.key", "nothing.crl",
		 "tls_crl '/tmp/test_etunnel_tls.");
	bad_file("ca.pem", "exit.pem", "exit.key", "nothing.crl",
		 "nothing.crl': ");
	bad_file("ca.pem", "exit.pem", "exit.key", "exit.pem",
		 "exit.pem': no PEM CRL in it");
	bad_file("ca.pem", "exit.pem", "exit.key", "rogueca.crl",
		 "rogueca.crl': not a CRL signed by tls_ca's CA");
	bad_file("ca.pem", "exit.pem", "exit.key", "old.crl",
		 "old.crl': out of date");
	bad_file("ca.pem", "exit.pem", "exit.key", "broken.crl",
		 "broken.crl': error:");
	bad_file("ca.pem", "exit.pem", "exit.key", "ca+broken.crl",
		 "ca+broken.crl': error:");
	bad_file("ca.pem", "exit.pem", "exit.key", "ca+rogueca.crl",
		 "ca+rogueca.crl': not a CRL signed by tls_ca's CA");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(handshake_ok),
		cmocka_unit_test(frames_through_small_buffers),
		cmocka_unit_test(rogue_entry_refused),
		cmocka_unit_test(rogue_exit_refused),
		cmocka_unit_test(wrong_name_refused),
		cmocka_unit_test(by_address),
		cmocka_unit_test(revoked_refused),
		cmocka_unit_test(crl_reload),
		cmocka_unit_test(crl_rechecks_sessions_up),
		cmocka_unit_test(bad_files),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
