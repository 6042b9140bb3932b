# Unit tests of itm-agent's parts.
set(ITM_AGENT_DIR ${PROJECT_SOURCE_DIR}/agent)

itm_unit_test(test_params unit/test_params.c ${ITM_AGENT_DIR}/params.c
              LIBS itm_core)
target_include_directories(test_params PRIVATE ${ITM_AGENT_DIR}
                           ${ITM_CORE_INTERNAL})

# Worker threads and calls onto their loops (--workers).
itm_unit_test(test_workers unit/test_workers.c ${ITM_AGENT_DIR}/workers.c
              LIBS itm_core)
target_include_directories(test_workers PRIVATE ${ITM_AGENT_DIR}
                           ${ITM_CORE_INTERNAL})

# The dispatch walk lives in libitm but is the agent's heart.
itm_unit_test(test_dispatch unit/test_dispatch.c LIBS itm_core)
target_include_directories(test_dispatch PRIVATE ${ITM_CORE_INTERNAL})

# Namespace integration tests of the agent.
itm_integ_test(agent_failopen agent_failopen.sh TIMEOUT 120)
itm_integ_test(agent_qosmod agent_qosmod.sh TIMEOUT 120)
itm_integ_test(agent_order agent_order.sh TIMEOUT 120)
# Conntrack rules only at hooks where a module may settle (ABI 1.4).
itm_integ_test(agent_settle_rules agent_settle_rules.sh TIMEOUT 120)

add_executable(agent_probe ${CMAKE_CURRENT_SOURCE_DIR}/integ/tools/agent_probe.c)
target_link_libraries(agent_probe PRIVATE itmproto)
set_target_properties(agent_probe PROPERTIES
  RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/tools)
itm_integ_test(agent_badinput agent_badinput.sh TIMEOUT 120)
itm_integ_test(procmod procmod.sh TIMEOUT 120)
itm_integ_test(procmod_order procmod_order.sh TIMEOUT 120)
itm_integ_test(procmod_restart procmod_restart.sh TIMEOUT 120)
# A hook left by --queue-bypass does not pass its stage bits on.
itm_integ_test(procmod_bypass procmod_bypass.sh TIMEOUT 120)
itm_integ_test(procmod_counter procmod_counter.sh TIMEOUT 120)
# A process module's tunnel and route in GetTunnels / GetRoutes.
add_executable(procpub_mod ${CMAKE_CURRENT_SOURCE_DIR}/integ/tools/procpub_mod.c)
target_link_libraries(procpub_mod PRIVATE itm)
set_target_properties(procpub_mod PROPERTIES
  RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/tools)
itm_integ_test(procmod_publish procmod_publish.sh TIMEOUT 120)
itm_integ_test(agent_workers agent_workers.sh TIMEOUT 180)
# --queue-cpu-fanout and --pin-workers: a packet's CPU picks its worker.
itm_integ_test(agent_workers_fanout agent_workers_fanout.sh TIMEOUT 120)
# --metrics: /metrics under traffic, promtool, stalled scrapers.
itm_integ_test(agent_metrics agent_metrics.sh TIMEOUT 120)
# A process module's queue (packets, verdict latency) on /metrics.
itm_integ_test(agent_metrics_proc agent_metrics_proc.sh TIMEOUT 120)

# The rule set as text, against saved scripts in tests/data/ruleset
# (RULESET_REGEN=1 rewrites them).
itm_unit_test(test_ruleset unit/test_ruleset.c ${ITM_AGENT_DIR}/ruleset.c
              ${ITM_AGENT_DIR}/match.c ${ITM_AGENT_DIR}/settle.c
              LIBS itm_core)
target_include_directories(test_ruleset PRIVATE ${ITM_AGENT_DIR}
                           ${ITM_CORE_INTERNAL})
target_compile_definitions(test_ruleset PRIVATE
  RULESET_DATA="${CMAKE_CURRENT_SOURCE_DIR}/data/ruleset")

itm_unit_test(test_settle unit/test_settle.c ${ITM_AGENT_DIR}/settle.c
              LIBS itm_core)
target_include_directories(test_settle PRIVATE ${ITM_AGENT_DIR}
                           ${ITM_CORE_INTERNAL})

# A test-only in-agent module with many registrations (not installed),
# and the test that drives the agent's tables past their old sizes with it.
add_library(manyregs MODULE plugins/manyregs.c)
set_target_properties(manyregs PROPERTIES PREFIX "" C_VISIBILITY_PRESET hidden
  LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/modules)
target_include_directories(manyregs PRIVATE ${PROJECT_SOURCE_DIR}/libitm/include)
target_link_options(manyregs PRIVATE -Wl,--unresolved-symbols=ignore-all)
itm_integ_test(agent_manyregs agent_manyregs.sh TIMEOUT 120)

# A test-only module built as for plugin ABI 1.3 (no itm_info.flags):
# integ.agent_settle_rules checks it still gets the conntrack rules.
add_library(oldabi MODULE plugins/oldabi.c)
set_target_properties(oldabi PROPERTIES PREFIX "" C_VISIBILITY_PRESET hidden
  LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/modules)
target_include_directories(oldabi PRIVATE ${PROJECT_SOURCE_DIR}/libitm/include)
target_link_options(oldabi PRIVATE -Wl,--unresolved-symbols=ignore-all)
