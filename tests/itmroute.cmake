# itmroute (modules/itmroute): path selection and the probe parser as unit
# tests, the probe parser's fuzz corpus, and the overlay on four nodes with
# each data path (tests/integ/itmroute.sh DATAPATH).
set(ITMR_DIR ${PROJECT_SOURCE_DIR}/modules/itmroute)
itm_unit_test(test_itmroute unit/test_itmroute.c ${ITMR_DIR}/pathsel.c
              ${ITMR_DIR}/probesched.c
              ${ITMR_DIR}/probe.c)
target_include_directories(test_itmroute PRIVATE ${ITMR_DIR})

add_executable(fuzz_itmr_probe_replay fuzz/fuzz_itmr_probe.c fuzz/replay_main.c)
target_include_directories(fuzz_itmr_probe_replay PRIVATE ${ITMR_DIR})
target_sources(fuzz_itmr_probe_replay PRIVATE ${ITMR_DIR}/probe.c)
add_test(NAME fuzz.itmr_probe_replay
         COMMAND fuzz_itmr_probe_replay ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/itmr_probe)
set_tests_properties(fuzz.itmr_probe_replay PROPERTIES LABELS "unit;fuzz"
                     TIMEOUT 120)
if(ITM_FUZZ)
  add_executable(fuzz_itmr_probe fuzz/fuzz_itmr_probe.c ${ITMR_DIR}/probe.c)
  target_include_directories(fuzz_itmr_probe PRIVATE ${ITMR_DIR})
  target_compile_options(fuzz_itmr_probe PRIVATE ${ITM_FUZZ_FLAGS})
  target_link_options(fuzz_itmr_probe PRIVATE ${ITM_FUZZ_FLAGS})
endif()

foreach(dp ebpf queue)
  add_test(NAME integ.itmroute_${dp}
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integ/itmroute.sh ${dp})
  set_tests_properties(integ.itmroute_${dp} PROPERTIES
    LABELS integ TIMEOUT 180 RUN_SERIAL TRUE SKIP_RETURN_CODE 77
    ENVIRONMENT "ITM_BUILD=${CMAKE_BINARY_DIR};ITM_SRC=${CMAKE_SOURCE_DIR}")
endforeach()
