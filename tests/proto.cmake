# proto/ tests: the gRPC glue against a real server (unix socket, TCP,
# mutual TLS with certificates made by deploy/mkcerts.sh at test time).
itm_unit_test(test_rpc unit/test_rpc.c LIBS itmproto)
target_compile_definitions(test_rpc PRIVATE
  ITM_MKCERTS="${CMAKE_SOURCE_DIR}/deploy/mkcerts.sh")

# Benchmark, built only: median unary latency over unix socket and TCP.
add_executable(rpc_bench bench/rpc_bench.c)
target_link_libraries(rpc_bench PRIVATE itmproto)

# The method table (proto/itm_methods.h) against the services protoc-c
# generated from itm.proto, and the streaming rpcs itm.proto declares.
itm_unit_test(test_methods unit/test_methods.c LIBS itmproto)
target_compile_definitions(test_methods PRIVATE
  ITM_PROTO_FILE="${CMAKE_SOURCE_DIR}/proto/itm.proto")

# One check per kind of string field, the wire walk, escaping (itm_fields.h).
itm_unit_test(test_fields unit/test_fields.c LIBS itmproto)

# Bidirectional streaming in the server glue, and reflection's lookups.
itm_unit_test(test_bidi unit/test_bidi.c LIBS itmproto)
# Bidirectional streams in the client glue, against the server glue.
itm_unit_test(test_bidi_client unit/test_bidi_client.c LIBS itmproto)
