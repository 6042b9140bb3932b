/*
 * rpc_int.h - internals shared by rpc_common.c, rpc_server.c and
 * rpc_client.c: message <-> byte buffer conversion, channel arguments,
 * credentials from PEM files, deadlines.  Not installed, not for callers.
 */
#ifndef ITM_RPC_INT_H
#define ITM_RPC_INT_H

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/byte_buffer.h>
#include <grpc/support/time.h>

#include "itm_rpc.h"

/* Largest message either side sends or accepts. */
#define ITM__RPC_MAX_MSG (16 * 1024 * 1024)
/* Largest metadata either side accepts: a status detail
 * (itm_rpc_fail_detail) travels there. */
#define ITM__RPC_MAX_METADATA (128 * 1024)

/* Reference-counted grpc_init()/grpc_shutdown() for servers and clients. */
void itm__rpc_lib_ref(void);
void itm__rpc_lib_unref(void);

/* Pack @msg into a new byte buffer (NULL on allocation failure). */
grpc_byte_buffer *itm__rpc_pack(const ProtobufCMessage *msg);
/* Unpack @bb as @desc; NULL when it does not decode.  @bb is not freed. */
ProtobufCMessage *itm__rpc_unpack(grpc_byte_buffer *bb,
				  const ProtobufCMessageDescriptor *desc);

/* Unpack a request @bb as @desc after checking its string fields
 * (itm_fields.h): 0; -EINVAL with "FIELD: WHAT" in @err; -EBADMSG when
 * it does not decode. */
int itm__rpc_unpack_checked(grpc_byte_buffer *bb,
			    const ProtobufCMessageDescriptor *desc,
			    ProtobufCMessage **out, char *err, size_t errlen);

/*
 * Channel arguments: message size limits, plus @extra (may be NULL).
 * @args->args points into @store, which must have room for
 * ITM__RPC_ARGS_MAX entries.
 */
#define ITM__RPC_ARGS_MAX 8

void itm__rpc_args(grpc_channel_args *args, grpc_arg *store,
		   const grpc_arg *extra, size_t n_extra);

/* Absolute deadline @timeout_ms from now; <= 0 means none. */
gpr_timespec itm__rpc_deadline(int timeout_ms);

/* Read a whole (PEM) file into a NUL-terminated malloc'ed string. */
int itm__rpc_read_file(const char *path, char **out);

int itm__rpc_server_creds(const struct itm_rpc_tls *tls,
			  grpc_server_credentials **out);
int itm__rpc_channel_creds(const struct itm_rpc_tls *tls,
			   grpc_channel_credentials **out);

/* Fill @st from a gRPC status and its details slice. */
void itm__rpc_status_set(struct itm_rpc_status *st, int code, const char *msg,
			 size_t len);

#endif /* ITM_RPC_INT_H */
