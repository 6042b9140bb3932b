# Fuzz targets.  The replay binary (any compiler) runs a target over its
# committed corpus as a unit test; with ITM_FUZZ=ON (clang) the real
# libFuzzer binary is built too, with the code under test compiled into
# it so coverage instrumentation reaches the library:
#   cmake -DITM_FUZZ=ON -DCMAKE_C_COMPILER=clang ...
#   fuzz_packet -max_len=2048 tests/fuzz/corpus/packet

set(ITM_FUZZ_DIR ${CMAKE_CURRENT_SOURCE_DIR}/fuzz)
set(ITM_FUZZ_INC ${ITM_CORE_INTERNAL} ${CMAKE_CURRENT_SOURCE_DIR}/unit)

add_executable(fuzz_packet_replay fuzz/fuzz_packet.c fuzz/replay_main.c)
target_link_libraries(fuzz_packet_replay PRIVATE itm_core)
target_include_directories(fuzz_packet_replay PRIVATE ${ITM_FUZZ_INC})
add_test(NAME fuzz.packet_replay
         COMMAND fuzz_packet_replay ${ITM_FUZZ_DIR}/corpus/packet)
set_tests_properties(fuzz.packet_replay PROPERTIES LABELS "unit;fuzz"
                     TIMEOUT 120)

if(ITM_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "ITM_FUZZ needs clang (-DCMAKE_C_COMPILER=clang)")
  endif()
  set(ITM_FUZZ_FLAGS -fsanitize=fuzzer,address,undefined
      -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  set(lib ${PROJECT_SOURCE_DIR}/libitm/src)
  add_executable(fuzz_packet fuzz/fuzz_packet.c
    ${lib}/packet.c ${lib}/csum.c ${lib}/interest.c ${lib}/prefix.c
    ${lib}/ifname.c ${lib}/error.c ${lib}/hookname.c ${lib}/flowset.c)
  target_include_directories(fuzz_packet PRIVATE ${ITM_FUZZ_INC}
                             ${PROJECT_SOURCE_DIR}/libitm/include)
  target_compile_options(fuzz_packet PRIVATE ${ITM_FUZZ_FLAGS})
  target_link_options(fuzz_packet PRIVATE ${ITM_FUZZ_FLAGS})
endif()

# topo.yaml: parser, validator, diff and neighbour tables, replayed over the
# good and bad topology files of the unit tests.
add_executable(fuzz_topo_replay fuzz/fuzz_topo.c fuzz/replay_main.c)
target_link_libraries(fuzz_topo_replay PRIVATE itmtopo)
add_test(NAME fuzz.topo_replay
         COMMAND fuzz_topo_replay ${CMAKE_CURRENT_SOURCE_DIR}/unit/topo_good
                 ${CMAKE_CURRENT_SOURCE_DIR}/unit/topo_bad)
set_tests_properties(fuzz.topo_replay PROPERTIES LABELS "unit;fuzz" TIMEOUT 120)

if(ITM_FUZZ)
  set(ctl ${PROJECT_SOURCE_DIR}/controller/topo)
  add_executable(fuzz_topo fuzz/fuzz_topo.c ${ctl}/topo.c ${ctl}/topo_prescan.c
    ${ctl}/topo_yaml.c
    ${ctl}/topo_schema.c ${ctl}/topo_check.c ${ctl}/topo_xref.c
    ${ctl}/topo_tunnel.c ${ctl}/topo_tmatch.c
    ${ctl}/topo_diff.c ${ctl}/neigh.c)
  target_include_directories(fuzz_topo PRIVATE ${ctl})
  target_link_libraries(fuzz_topo PRIVATE PkgConfig::YAML PkgConfig::CRYPTO)
  target_compile_options(fuzz_topo PRIVATE ${ITM_FUZZ_FLAGS})
  target_link_options(fuzz_topo PRIVATE ${ITM_FUZZ_FLAGS})
endif()

# RPC requests off the wire: field checks and decoders of every request
# type, and the neighbour table an agent installs.
add_executable(fuzz_rpc_replay fuzz/fuzz_rpc.c fuzz/replay_main.c)
target_link_libraries(fuzz_rpc_replay PRIVATE itm_core)
target_include_directories(fuzz_rpc_replay PRIVATE ${ITM_FUZZ_INC})
add_test(NAME fuzz.rpc_replay
         COMMAND fuzz_rpc_replay ${ITM_FUZZ_DIR}/corpus/rpc)
set_tests_properties(fuzz.rpc_replay PROPERTIES LABELS "unit;fuzz" TIMEOUT 120)

if(ITM_FUZZ)
  set(lib ${PROJECT_SOURCE_DIR}/libitm/src)
  add_executable(fuzz_rpc fuzz/fuzz_rpc.c
    ${PROJECT_SOURCE_DIR}/proto/itm_fields.c
    ${PROJECT_SOURCE_DIR}/proto/itm_methods.c
    ${lib}/wire_table.c ${lib}/table.c ${lib}/prefix.c ${lib}/error.c)
  target_include_directories(fuzz_rpc PRIVATE ${ITM_FUZZ_INC}
                             ${PROJECT_SOURCE_DIR}/libitm/include)
  target_link_libraries(fuzz_rpc PRIVATE itmproto)
  target_compile_options(fuzz_rpc PRIVATE ${ITM_FUZZ_FLAGS})
  target_link_options(fuzz_rpc PRIVATE ${ITM_FUZZ_FLAGS})
endif()
