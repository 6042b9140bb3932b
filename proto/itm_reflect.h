/*
 * itm_reflect.h - gRPC server reflection (grpc.reflection.v1alpha and v1,
 * proto/reflection.proto), so grpcurl-style clients list a daemon's
 * services, describe them and call them without itm.proto on disk.
 *
 * A daemon lists { ITM_REFLECTION_INFO, itm_reflect_handler } (and
 * ITM_REFLECTION_V1_INFO) in its server's methods.  The descriptors are
 * those of itm.proto, health.proto and reflection.proto, compiled by
 * protoc into a FileDescriptorSet at build time and embedded in the
 * binary (proto/CMakeLists.txt).  Served: list_services (the services of
 * the server the call came to), file_by_filename, file_containing_symbol
 * (a file comes with the files it imports); extensions do not exist in
 * these files, so their requests get an error_response NOT_FOUND, like
 * unknown names.
 */
#ifndef ITM_REFLECT_H
#define ITM_REFLECT_H

#include <stddef.h>
#include <stdint.h>

#include "itm_rpc.h"

/* The BIDI handler of ServerReflectionInfo: one answer per request. */
void itm_reflect_handler(struct itm_rpc_call *call, void *arg);

/* The serialized FileDescriptorProto of @filename ("itm.proto"), or of
 * the file defining @symbol ("itm.v1.Agent", "itm.v1.Agent.GetStatus",
 * "itm.v1.StatusRequest"): its index, or -1. */
int itm_reflect_file_by_name(const char *filename);
int itm_reflect_file_by_symbol(const char *symbol);
/* File @i's bytes and length (0 and NULL past the last). */
const uint8_t *itm_reflect_file(int i, size_t *len);

#endif /* ITM_REFLECT_H */
