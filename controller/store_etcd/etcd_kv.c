/*
 * etcd_kv.c - the etcd v3 client of etcd_kv.h: etcd's KV and Maintenance
 * methods called by path through itm_rpc_call_path(), errors turned into
 * an errno value and a sentence naming the endpoints.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "etcd_kv.h"

struct etcd_kv {
	struct itm_rpc_client *rpc;
	char *endpoints;
	int deadline_ms; /* of each call, retries included */
	char *target;	 /* gRPC's, for more clients (etcd_kv_client_new) */
	struct itm_rpc_tls tls, *tlsp; /* tlsp: &tls, or NULL (plaintext) */
};

/* Keep a copy of @tls for etcd_kv_client_new(). */
static int
tls_keep(struct etcd_kv *kv, const struct itm_rpc_tls *tls)
{
	const char *in[] = { tls->ca_file, tls->cert_file, tls->key_file,
			     tls->server_name };
	const char **out[] = { &kv->tls.ca_file, &kv->tls.cert_file,
			       &kv->tls.key_file, &kv->tls.server_name };

	kv->tlsp = &kv->tls;
	for (size_t i = 0; i < 4; i++)
		if (in[i] && !(*out[i] = strdup(in[i])))
			return -ENOMEM;
	return 0;
}

static void
tls_drop(struct etcd_kv *kv)
{
	free((char *)kv->tls.ca_file);
	free((char *)kv->tls.cert_file);
	free((char *)kv->tls.key_file);
	free((char *)kv->tls.server_name);
}

int
etcd_kv_client_new(struct etcd_kv *kv, struct itm_rpc_client **out)
{
	return itm_rpc_client_new(out, kv->target, kv->tlsp);
}

/* "ipv4:" / "ipv6:" for an IP endpoint "A.B.C.D:P" / "[V6]:P", else NULL. */
static const char *
endpoint_family(const char *ep, size_t len)
{
	char host[64];
	unsigned char a[16];
	const char *colon = memrchr(ep, ':', len);
	size_t hl = colon ? (size_t)(colon - ep) : 0;

	if (hl < 2 || hl >= sizeof(host))
		return NULL;
	if (ep[0] == '[' && ep[hl - 1] == ']') {
		memcpy(host, ep + 1, hl - 2);
		host[hl - 2] = '\0';
		return inet_pton(AF_INET6, host, a) == 1 ? "ipv6:" : NULL;
	}
	memcpy(host, ep, hl);
	host[hl] = '\0';
	return inet_pton(AF_INET, host, a) == 1 ? "ipv4:" : NULL;
}

/* The gRPC target of @endpoints: one as given, several as an address list
 * of one family. */
static int
endpoints_target(const char *endpoints, char **target, char *err, size_t errlen)
{
	const char *fam = NULL, *p = endpoints;

	if (strchr(endpoints, ',') == NULL)
		return (*target = strdup(endpoints)) ? 0 : -ENOMEM;
	while (*p) {
		size_t len = strcspn(p, ",");
		const char *f = endpoint_family(p, len);

		if (f == NULL || (fam && strcmp(f, fam) != 0)) {
			snprintf(err, errlen,
				 "%.*s: several etcd endpoints must be IP "
				 "addresses of one family (HOST:PORT or "
				 "[V6]:PORT)",
				 (int)len, p);
			return -EINVAL;
		}
		fam = f;
		p += len + (p[len] == ',');
	}
	return asprintf(target, "%s%s", fam, endpoints) < 0 ? -ENOMEM : 0;
}

int
etcd_kv_open(struct etcd_kv **out, const char *endpoints,
	     const struct itm_rpc_tls *tls, char *err, size_t errlen)
{
	struct etcd_kv *kv = calloc(1, sizeof(*kv));
	char *target = NULL;
	int rc;

	if (kv)
		kv->deadline_ms = ETCD_KV_DEADLINE_MS;

	*out = NULL;
	if (kv == NULL || (kv->endpoints = strdup(endpoints)) == NULL) {
		free(kv);
		return -ENOMEM;
	}
	rc = endpoints_target(endpoints, &target, err, errlen);
	kv->target = target;
	if (rc == 0 && tls)
		rc = tls_keep(kv, tls);
	if (rc == 0 && (rc = itm_rpc_client_new(&kv->rpc, target, tls)) < 0)
		snprintf(err, errlen, "etcd %s: %s", endpoints, strerror(-rc));
	if (rc < 0) {
		etcd_kv_close(kv);
		return rc;
	}
	*out = kv;
	return 0;
}

void
etcd_kv_close(struct etcd_kv *kv)
{
	if (kv == NULL)
		return;
	itm_rpc_client_free(kv->rpc);
	tls_drop(kv);
	free(kv->target);
	free(kv->endpoints);
	free(kv);
}

void
etcd_kv_free(void *reply)
{
	if (reply)
		protobuf_c_message_free_unpacked(reply, NULL);
}

static int
errno_of_status(int code)
{
	switch (code) {
	case ITM_RPC_UNAVAILABLE:
	case ITM_RPC_DEADLINE_EXCEEDED: return -EHOSTUNREACH;
	case ITM_RPC_PERMISSION_DENIED:
	case ITM_RPC_UNAUTHENTICATED: return -EACCES;
	case ITM_RPC_INVALID_ARGUMENT:
	case ITM_RPC_OUT_OF_RANGE: return -EINVAL;
	case ITM_RPC_RESOURCE_EXHAUSTED: return -ENOSPC;
	default: return -EIO;
	}
}

int
etcd_kv_deadline(struct etcd_kv *kv, int ms)
{
	int old = kv->deadline_ms;

	kv->deadline_ms = ms;
	return old;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * One unary call of etcd's @path; the reply decodes as @desc.  UNAVAILABLE
 * ("leader changed", a member going away while gRPC moves to another) is
 * retried, as etcd's own client does, until the call's deadline
 * (kv->deadline_ms from the start of the call): every request ITM sends
 * may be repeated (puts of whole values, and an apply's Txn compares the
 * generation, so a repeat of one that was applied fails its compare
 * instead of applying twice).
 */
static int
call(struct etcd_kv *kv, const char *path, const ProtobufCMessage *req,
     const ProtobufCMessageDescriptor *desc, void *out, char *err,
     size_t errlen)
{
	struct itm_rpc_status st = { .code = ITM_RPC_DEADLINE_EXCEEDED };
	int64_t end = mono_ms() + kv->deadline_ms, left;
	int rc = -EIO;

	while ((left = end - mono_ms()) > 0) {
		rc = itm_rpc_call_path(kv->rpc, path, req, desc, out, (int)left,
				       &st);
		if (rc != -EIO || st.code != ITM_RPC_UNAVAILABLE ||
		    end - mono_ms() <= ETCD_KV_RETRY_STEP_MS)
			break;
		usleep(ETCD_KV_RETRY_STEP_MS * 1000);
	}
	if (rc == 0)
		return 0;
	snprintf(err, errlen, "etcd %s: %s: %s", kv->endpoints,
		 itm_rpc_code_name(st.code), st.message);
	return rc == -EIO ? errno_of_status(st.code) : rc;
}

/* The first key after every key starting with @key (etcd's range_end),
 * in @buf; "\0" (every key) when there is none. */
static size_t
prefix_end(const char *key, unsigned char *buf, size_t cap)
{
	size_t n = strlen(key);

	if (n > cap)
		n = cap;
	memcpy(buf, key, n);
	while (n > 0) {
		if (buf[n - 1] < 0xff) {
			buf[n - 1]++;
			return n;
		}
		n--;
	}
	buf[0] = '\0';
	return 1;
}

static int
range(struct etcd_kv *kv, const char *key, int prefix, int count_only,
      Etcdserverpb__RangeResponse **out, char *err, size_t errlen)
{
	Etcdserverpb__RangeRequest req = ETCDSERVERPB__RANGE_REQUEST__INIT;
	unsigned char end[512];

	req.key.data = (uint8_t *)key;
	req.key.len = strlen(key);
	if (prefix) {
		req.range_end.data = end;
		req.range_end.len = prefix_end(key, end, sizeof(end));
	}
	req.count_only = count_only != 0;
	return call(kv, "/etcdserverpb.KV/Range", &req.base,
		    &etcdserverpb__range_response__descriptor, out, err,
		    errlen);
}

int
etcd_range(struct etcd_kv *kv, const char *key, int prefix,
	   Etcdserverpb__RangeResponse **out, char *err, size_t errlen)
{
	return range(kv, key, prefix, 0, out, err, errlen);
}

int
etcd_count(struct etcd_kv *kv, const char *prefix, int64_t *n, char *err,
	   size_t errlen)
{
	Etcdserverpb__RangeResponse *r;
	int rc = range(kv, prefix, 1, 1, &r, err, errlen);

	*n = rc == 0 ? r->count : 0;
	etcd_kv_free(r);
	return rc;
}

int
etcd_put(struct etcd_kv *kv, const char *key, const void *val, size_t len,
	 char *err, size_t errlen)
{
	Etcdserverpb__PutRequest req = ETCDSERVERPB__PUT_REQUEST__INIT;
	Etcdserverpb__PutResponse *r = NULL;
	int rc;

	req.key.data = (uint8_t *)key;
	req.key.len = strlen(key);
	req.value.data = (uint8_t *)val;
	req.value.len = len;
	rc = call(kv, "/etcdserverpb.KV/Put", &req.base,
		  &etcdserverpb__put_response__descriptor, &r, err, errlen);
	etcd_kv_free(r);
	return rc;
}

int
etcd_delete(struct etcd_kv *kv, const char *key, char *err, size_t errlen)
{
	Etcdserverpb__DeleteRangeRequest req =
		ETCDSERVERPB__DELETE_RANGE_REQUEST__INIT;
	Etcdserverpb__DeleteRangeResponse *r = NULL;
	int rc;

	req.key.data = (uint8_t *)key;
	req.key.len = strlen(key);
	rc = call(kv, "/etcdserverpb.KV/DeleteRange", &req.base,
		  &etcdserverpb__delete_range_response__descriptor, &r, err,
		  errlen);
	etcd_kv_free(r);
	return rc;
}

int
etcd_txn(struct etcd_kv *kv, const Etcdserverpb__TxnRequest *req,
	 Etcdserverpb__TxnResponse **out, char *err, size_t errlen)
{
	return call(kv, "/etcdserverpb.KV/Txn", &req->base,
		    &etcdserverpb__txn_response__descriptor, out, err, errlen);
}

int
etcd_status(struct etcd_kv *kv, Etcdserverpb__StatusResponse **out, char *err,
	    size_t errlen)
{
	Etcdserverpb__StatusRequest req = ETCDSERVERPB__STATUS_REQUEST__INIT;

	return call(kv, "/etcdserverpb.Maintenance/Status", &req.base,
		    &etcdserverpb__status_response__descriptor, out, err,
		    errlen);
}

int
etcd_lease_grant(struct etcd_kv *kv, int64_t ttl_s, int64_t *id, char *err,
		 size_t errlen)
{
	Etcdserverpb__LeaseGrantRequest req =
		ETCDSERVERPB__LEASE_GRANT_REQUEST__INIT;
	Etcdserverpb__LeaseGrantResponse *r = NULL;
	int rc;

	req.ttl = ttl_s;
	rc = call(kv, "/etcdserverpb.Lease/LeaseGrant", &req.base,
		  &etcdserverpb__lease_grant_response__descriptor, &r, err,
		  errlen);
	if (rc == 0 && r->error && r->error[0]) {
		snprintf(err, errlen, "etcd %s: lease: %s", kv->endpoints,
			 r->error);
		rc = -EIO;
	}
	*id = rc == 0 ? r->id : 0;
	etcd_kv_free(r);
	return rc;
}

int
etcd_lease_revoke(struct etcd_kv *kv, int64_t id, char *err, size_t errlen)
{
	Etcdserverpb__LeaseRevokeRequest req =
		ETCDSERVERPB__LEASE_REVOKE_REQUEST__INIT;
	Etcdserverpb__LeaseRevokeResponse *r = NULL;
	int rc;

	req.id = id;
	rc = call(kv, "/etcdserverpb.Lease/LeaseRevoke", &req.base,
		  &etcdserverpb__lease_revoke_response__descriptor, &r, err,
		  errlen);
	etcd_kv_free(r);
	return rc;
}

void
etcd_op_put(Etcdserverpb__RequestOp *op, Etcdserverpb__PutRequest *put,
	    const char *key, const void *val, size_t len)
{
	etcdserverpb__put_request__init(put);
	etcdserverpb__request_op__init(op);
	put->key.data = (uint8_t *)key;
	put->key.len = strlen(key);
	put->value.data = (uint8_t *)val;
	put->value.len = len;
	op->request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT;
	op->request_put = put;
}
