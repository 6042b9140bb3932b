# qosmod: unit tests through a minimal module host (tests/unit/modhost.c)
# and the real dispatch walk.
set(ITM_QOSMOD_DIR ${PROJECT_SOURCE_DIR}/modules/qosmod)
itm_unit_test(test_qosmod unit/test_qosmod.c unit/modhost.c
              ${ITM_QOSMOD_DIR}/qosmod.c ${ITM_QOSMOD_DIR}/flowtab.c
              ${PROJECT_SOURCE_DIR}/agent/params.c LIBS itm_core)
target_include_directories(test_qosmod PRIVATE ${ITM_CORE_INTERNAL}
                           ${PROJECT_SOURCE_DIR}/agent ${ITM_QOSMOD_DIR})

# The mice-and-elephants experiment, quick (tests/bench/qos_experiment.sh
# --quick, ~25 s): 400 web-search flows at 60% of a 100 Mbit/s HTB core,
# without ITM and with qosmod threshold=20; fails unless qosmod halves the
# small flows' mean and p99 completion time (it measures x0.06 / x0.07).
add_test(NAME integ.qos_quick
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/bench/qos_experiment.sh --quick)
set_tests_properties(integ.qos_quick PROPERTIES
  LABELS integ TIMEOUT 180 RUN_SERIAL TRUE SKIP_RETURN_CODE 77
  ENVIRONMENT "ITM_BUILD=${CMAKE_BINARY_DIR};ITM_SRC=${CMAKE_SOURCE_DIR}")
