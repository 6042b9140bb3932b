# Tests of the NFQUEUE queue layer (libitm/src/itmq*.c).

itm_unit_test(test_itmq_batch
  ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_itmq_batch.c
  ${CMAKE_SOURCE_DIR}/libitm/src/itmq_batch.c)
target_include_directories(test_itmq_batch PRIVATE ${ITM_CORE_INTERNAL})

# itmq_probe: binds a queue and accepts, drops, rewrites TOS or repeats
# with a mark bit; driven by integ/nfq_queue.sh.
add_executable(itmq_probe ${CMAKE_CURRENT_SOURCE_DIR}/integ/tools/itmq_probe.c)
target_include_directories(itmq_probe PRIVATE ${ITM_CORE_INTERNAL})
target_link_libraries(itmq_probe PRIVATE itm_core)
set_target_properties(itmq_probe PROPERTIES
  RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/tools)

itm_integ_test(nfq_queue nfq_queue.sh TIMEOUT 120)
