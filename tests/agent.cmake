# Unit tests of itm-agent's parts.
set(ITM_AGENT_DIR ${PROJECT_SOURCE_DIR}/agent)

itm_unit_test(test_params unit/test_params.c ${ITM_AGENT_DIR}/params.c
              LIBS itm_core)
target_include_directories(test_params PRIVATE ${ITM_AGENT_DIR}
                           ${ITM_CORE_INTERNAL})

# The dispatch walk lives in libitm but is the agent's heart.
itm_unit_test(test_dispatch unit/test_dispatch.c LIBS itm_core)
target_include_directories(test_dispatch PRIVATE ${ITM_CORE_INTERNAL})

# Namespace integration tests of the agent.
itm_integ_test(agent_failopen agent_failopen.sh TIMEOUT 120)
itm_integ_test(agent_qosmod agent_qosmod.sh TIMEOUT 120)
itm_integ_test(agent_order agent_order.sh TIMEOUT 120)
