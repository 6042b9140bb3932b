# --metrics (metrics/, libitmmetrics): the exposition format, module
# counters as series, histograms.  The daemons' endpoints are tested by
# integ.agent_metrics and integ.ctl_metrics.
itm_unit_test(test_expo unit/test_expo.c LIBS itmmetrics)

# A module counter's name (any text a module registers) as a series.
add_executable(fuzz_modctr_replay fuzz/fuzz_modctr.c fuzz/replay_main.c)
target_link_libraries(fuzz_modctr_replay PRIVATE itmmetrics)
add_test(NAME fuzz.modctr_replay
         COMMAND fuzz_modctr_replay ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/modctr)
set_tests_properties(fuzz.modctr_replay PROPERTIES LABELS "unit;fuzz"
                     TIMEOUT 120)

if(ITM_FUZZ)
  set(m ${PROJECT_SOURCE_DIR}/metrics)
  add_executable(fuzz_modctr fuzz/fuzz_modctr.c ${m}/modctr.c ${m}/expo.c)
  target_include_directories(fuzz_modctr PRIVATE ${m})
  target_link_libraries(fuzz_modctr PRIVATE m)
  target_compile_options(fuzz_modctr PRIVATE ${ITM_FUZZ_FLAGS})
  target_link_options(fuzz_modctr PRIVATE ${ITM_FUZZ_FLAGS})
endif()
