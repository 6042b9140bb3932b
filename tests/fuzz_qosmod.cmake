# qosmod fuzz target: replayed over its corpus as a unit test; a real
# libFuzzer binary with ITM_FUZZ=ON (see tests/fuzz.cmake).
set(ITM_QOSMOD_FUZZ_SRC fuzz/fuzz_qosmod.c unit/modhost.c
    ${PROJECT_SOURCE_DIR}/modules/qosmod/qosmod.c
    ${PROJECT_SOURCE_DIR}/modules/qosmod/flowtab.c
    ${PROJECT_SOURCE_DIR}/agent/params.c)
set(ITM_QOSMOD_FUZZ_INC ${ITM_CORE_INTERNAL} ${CMAKE_CURRENT_SOURCE_DIR}/unit
    ${PROJECT_SOURCE_DIR}/agent ${PROJECT_SOURCE_DIR}/modules/qosmod)

add_executable(fuzz_qosmod_replay ${ITM_QOSMOD_FUZZ_SRC} fuzz/replay_main.c)
target_link_libraries(fuzz_qosmod_replay PRIVATE itm_core)
target_include_directories(fuzz_qosmod_replay PRIVATE ${ITM_QOSMOD_FUZZ_INC})
add_test(NAME fuzz.qosmod_replay COMMAND fuzz_qosmod_replay
         ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/qosmod)
set_tests_properties(fuzz.qosmod_replay PROPERTIES LABELS "unit;fuzz"
                     TIMEOUT 120)

if(ITM_FUZZ)
  set(lib ${PROJECT_SOURCE_DIR}/libitm/src)
  add_executable(fuzz_qosmod ${ITM_QOSMOD_FUZZ_SRC}
    ${lib}/packet.c ${lib}/csum.c ${lib}/interest.c ${lib}/prefix.c
    ${lib}/ifname.c ${lib}/error.c ${lib}/hookname.c ${lib}/flowset.c
    ${lib}/dispatch.c ${lib}/reg.c ${lib}/host.c ${lib}/log.c
    ${PROJECT_SOURCE_DIR}/proto/itm_fields.c) # log.c escapes with it
  target_include_directories(fuzz_qosmod PRIVATE ${ITM_QOSMOD_FUZZ_INC}
                             ${PROJECT_SOURCE_DIR}/libitm/include
                             ${PROJECT_SOURCE_DIR}/proto)
  target_link_libraries(fuzz_qosmod PRIVATE PkgConfig::PROTOBUFC)
  target_compile_options(fuzz_qosmod PRIVATE ${ITM_FUZZ_FLAGS})
  target_link_options(fuzz_qosmod PRIVATE ${ITM_FUZZ_FLAGS})
endif()
