/*
 * rpc_common.c - the parts of the gRPC glue used by both sides: status
 * names, protobuf-c messages in and out of gRPC byte buffers, channel
 * arguments (16 MiB messages), deadlines and TLS credentials read from
 * PEM files.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/slice.h>

#include "itm_fields.h"
#include "rpc_int.h"

static const char *const code_names[] = {
	[ITM_RPC_OK] = "OK",
	[ITM_RPC_CANCELLED] = "CANCELLED",
	[ITM_RPC_UNKNOWN] = "UNKNOWN",
	[ITM_RPC_INVALID_ARGUMENT] = "INVALID_ARGUMENT",
	[ITM_RPC_DEADLINE_EXCEEDED] = "DEADLINE_EXCEEDED",
	[ITM_RPC_NOT_FOUND] = "NOT_FOUND",
	[ITM_RPC_ALREADY_EXISTS] = "ALREADY_EXISTS",
	[ITM_RPC_PERMISSION_DENIED] = "PERMISSION_DENIED",
	[ITM_RPC_RESOURCE_EXHAUSTED] = "RESOURCE_EXHAUSTED",
	[ITM_RPC_FAILED_PRECONDITION] = "FAILED_PRECONDITION",
	[ITM_RPC_ABORTED] = "ABORTED",
	[ITM_RPC_OUT_OF_RANGE] = "OUT_OF_RANGE",
	[ITM_RPC_UNIMPLEMENTED] = "UNIMPLEMENTED",
	[ITM_RPC_INTERNAL] = "INTERNAL",
	[ITM_RPC_UNAVAILABLE] = "UNAVAILABLE",
	[ITM_RPC_DATA_LOSS] = "DATA_LOSS",
	[ITM_RPC_UNAUTHENTICATED] = "UNAUTHENTICATED",
};

const char *
itm_rpc_code_name(int code)
{
	if (code < 0 || code > ITM_RPC_UNAUTHENTICATED)
		return "UNKNOWN_CODE";
	return code_names[code];
}

ProtobufCMessage *
itm_rpc_msg_copy(const ProtobufCMessage *m)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(len ? len : 1);
	ProtobufCMessage *copy;

	if (buf == NULL)
		return NULL;
	protobuf_c_message_pack(m, buf);
	copy = protobuf_c_message_unpack(m->descriptor, NULL, len, buf);
	free(buf);
	return copy;
}

void
itm__rpc_lib_ref(void)
{
	grpc_init();
}

void
itm__rpc_lib_unref(void)
{
	grpc_shutdown();
}

grpc_byte_buffer *
itm__rpc_pack(const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	grpc_slice s = grpc_slice_malloc(len);
	grpc_byte_buffer *bb;

	protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(s));
	bb = grpc_raw_byte_buffer_create(&s, 1);
	grpc_slice_unref(s);
	return bb;
}

int
itm__rpc_unpack_checked(grpc_byte_buffer *bb,
			const ProtobufCMessageDescriptor *desc,
			ProtobufCMessage **out, char *err, size_t errlen)
{
	grpc_byte_buffer_reader r;
	grpc_slice s;
	int rc;

	*out = NULL;
	if (!bb || !grpc_byte_buffer_reader_init(&r, bb))
		return -EBADMSG;
	s = grpc_byte_buffer_reader_readall(&r);
	grpc_byte_buffer_reader_destroy(&r);
	rc = itm_fields_check_wire(desc, GRPC_SLICE_START_PTR(s),
				   GRPC_SLICE_LENGTH(s), err, errlen);
	if (rc == 0) {
		*out = protobuf_c_message_unpack(desc, NULL,
						 GRPC_SLICE_LENGTH(s),
						 GRPC_SLICE_START_PTR(s));
		rc = *out ? 0 : -EBADMSG;
	}
	grpc_slice_unref(s);
	return rc;
}

ProtobufCMessage *
itm__rpc_unpack(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *desc)
{
	grpc_byte_buffer_reader r;
	ProtobufCMessage *msg;
	grpc_slice s;

	if (!bb || !grpc_byte_buffer_reader_init(&r, bb))
		return NULL;
	s = grpc_byte_buffer_reader_readall(&r);
	grpc_byte_buffer_reader_destroy(&r);
	msg = protobuf_c_message_unpack(desc, NULL, GRPC_SLICE_LENGTH(s),
					GRPC_SLICE_START_PTR(s));
	grpc_slice_unref(s);
	return msg;
}

void
itm__rpc_args(grpc_channel_args *args, grpc_arg *store, const grpc_arg *extra,
	      size_t n_extra)
{
	size_t n = 0;

	store[n].type = GRPC_ARG_INTEGER;
	store[n].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
	store[n++].value.integer = ITM__RPC_MAX_MSG;
	store[n].type = GRPC_ARG_INTEGER;
	store[n].key = (char *)GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
	store[n++].value.integer = ITM__RPC_MAX_MSG;
	store[n].type = GRPC_ARG_INTEGER;
	store[n].key = (char *)GRPC_ARG_MAX_METADATA_SIZE;
	store[n++].value.integer = ITM__RPC_MAX_METADATA;
	for (size_t i = 0; i < n_extra && n < ITM__RPC_ARGS_MAX; i++)
		store[n++] = extra[i];
	args->num_args = n;
	args->args = store;
}

gpr_timespec
itm__rpc_deadline(int timeout_ms)
{
	if (timeout_ms <= 0)
		return gpr_inf_future(GPR_CLOCK_MONOTONIC);
	return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
			    gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
}

int
itm__rpc_read_file(const char *path, char **out)
{
	struct stat sb;
	char *buf;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) < 0 || sb.st_size > (1 << 20)) {
		close(fd);
		return -EFBIG;
	}
	buf = malloc(sb.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	n = read(fd, buf, sb.st_size);
	close(fd);
	if (n != sb.st_size) {
		free(buf);
		return -EIO;
	}
	buf[n] = '\0';
	*out = buf;
	return 0;
}

/* Read the optional CA and the cert/key pair named in @tls. */
static int
read_pems(const struct itm_rpc_tls *tls, char **ca, char **cert, char **key)
{
	int rc = 0;

	*ca = *cert = *key = NULL;
	if ((tls->cert_file == NULL) != (tls->key_file == NULL))
		return -EINVAL;
	if (tls->ca_file)
		rc = itm__rpc_read_file(tls->ca_file, ca);
	if (!rc && tls->cert_file)
		rc = itm__rpc_read_file(tls->cert_file, cert);
	if (!rc && tls->key_file)
		rc = itm__rpc_read_file(tls->key_file, key);
	if (rc) {
		free(*ca);
		free(*cert);
		free(*key);
	}
	return rc;
}

int
itm__rpc_server_creds(const struct itm_rpc_tls *tls,
		      grpc_server_credentials **out)
{
	grpc_ssl_pem_key_cert_pair pair;
	char *ca, *cert, *key;
	int rc;

	if (!tls) {
		*out = grpc_insecure_server_credentials_create();
		return 0;
	}
	if (!tls->cert_file)
		return -EINVAL;
	rc = read_pems(tls, &ca, &cert, &key);
	if (rc)
		return rc;
	pair.private_key = key;
	pair.cert_chain = cert;
	*out = grpc_ssl_server_credentials_create_ex(
		ca, &pair, 1,
		ca ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
		   : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE,
		NULL);
	free(ca);
	free(cert);
	free(key);
	return *out ? 0 : -EINVAL;
}

int
itm__rpc_channel_creds(const struct itm_rpc_tls *tls,
		       grpc_channel_credentials **out)
{
	grpc_ssl_pem_key_cert_pair pair;
	char *ca, *cert, *key;
	int rc;

	if (!tls) {
		*out = grpc_insecure_credentials_create();
		return 0;
	}
	rc = read_pems(tls, &ca, &cert, &key);
	if (rc)
		return rc;
	pair.private_key = key;
	pair.cert_chain = cert;
	*out = grpc_ssl_credentials_create(ca, cert ? &pair : NULL, NULL, NULL);
	free(ca);
	free(cert);
	free(key);
	return *out ? 0 : -EINVAL;
}

void
itm__rpc_status_set(struct itm_rpc_status *st, int code, const char *msg,
		    size_t len)
{
	if (!st)
		return;
	st->code = code;
	if (len >= sizeof(st->message))
		len = sizeof(st->message) - 1;
	memcpy(st->message, msg ? msg : "", msg ? len : 0);
	st->message[msg ? len : 0] = '\0';
}

int
itm_rpc_addr_is_loopback(const char *addr)
{
	char host[256];
	const char *end;
	struct in6_addr a6;
	struct in_addr a4;
	size_t len;

	if (strncmp(addr, "unix:", 5) == 0 ||
	    strncmp(addr, "unix-abstract:", 14) == 0)
		return 1;
	if (addr[0] == '[') {
		end = strchr(addr, ']');
		addr++;
	} else {
		end = strrchr(addr, ':');
	}
	len = end ? (size_t)(end - addr) : strlen(addr);
	if (len >= sizeof(host))
		return 0;
	memcpy(host, addr, len);
	host[len] = '\0';
	if (strcmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}
