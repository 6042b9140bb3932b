# qosmod: unit tests through a minimal module host (tests/unit/modhost.c)
# and the real dispatch walk.
set(ITM_QOSMOD_DIR ${PROJECT_SOURCE_DIR}/modules/qosmod)
itm_unit_test(test_qosmod unit/test_qosmod.c unit/modhost.c
              ${ITM_QOSMOD_DIR}/qosmod.c ${ITM_QOSMOD_DIR}/flowtab.c
              ${PROJECT_SOURCE_DIR}/agent/params.c LIBS itm_core)
target_include_directories(test_qosmod PRIVATE ${ITM_CORE_INTERNAL}
                           ${PROJECT_SOURCE_DIR}/agent ${ITM_QOSMOD_DIR})
