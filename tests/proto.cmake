# proto/ tests: the gRPC glue against a real server (unix socket, TCP,
# mutual TLS with certificates made by deploy/mkcerts.sh at test time).
itm_unit_test(test_rpc unit/test_rpc.c LIBS itmproto)
target_compile_definitions(test_rpc PRIVATE
  ITM_MKCERTS="${CMAKE_SOURCE_DIR}/deploy/mkcerts.sh")

# Benchmark, built only: median unary latency over unix socket and TCP.
add_executable(rpc_bench bench/rpc_bench.c)
target_link_libraries(rpc_bench PRIVATE itmproto)
