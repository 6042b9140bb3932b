# itmctl tests: the parser on its own, and the binary against a fake agent
# (a real gRPC server with canned replies) with saved expected outputs.
itm_unit_test(test_parser unit/test_parser.c
              ${CMAKE_SOURCE_DIR}/controller/itmctl/parser.c)
target_include_directories(test_parser PRIVATE ${CMAKE_SOURCE_DIR}/controller/itmctl)

itm_unit_test(test_itmctl unit/test_itmctl.c LIBS itmproto)
add_dependencies(test_itmctl itmctl)
target_compile_definitions(test_itmctl PRIVATE
  ITMCTL_BIN="$<TARGET_FILE:itmctl>"
  ITMCTL_DATA="${CMAKE_CURRENT_SOURCE_DIR}/data/itmctl"
  ITM_MKCERTS="${CMAKE_SOURCE_DIR}/deploy/mkcerts.sh")

# Every command's -o json is exactly a message of itm.proto (strict parser).
itm_integ_test(itmctl_json itmctl_json.sh TIMEOUT 120)
