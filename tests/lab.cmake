# Tests of the lab harness itself (owner: lab): the shell library every
# namespace test sources, the lab script and the core-router queueing.
# Exit status 77 means "cannot run here" (not root).
itm_integ_test(lib_selftest lib_selftest.sh TIMEOUT 120)
itm_integ_test(lab_updown lab_updown.sh TIMEOUT 120)
itm_integ_test(qos_core qos_core.sh TIMEOUT 120)
itm_integ_test(lab_topo lab_topo.sh TIMEOUT 180)
itm_integ_test(lab_underlay lab_underlay.sh TIMEOUT 180)
# --ha: etcd x3 and two controllers; the leader killed (issue 12).
itm_integ_test(lab_ha lab_ha.sh TIMEOUT 120)
set_tests_properties(integ.lib_selftest integ.lab_updown integ.qos_core
                     integ.lab_topo integ.lab_underlay integ.lab_ha
                     PROPERTIES SKIP_RETURN_CODE 77)

# The delay line's queue of held packets (deploy/tools/delayq.c).
itm_unit_test(test_delayq unit/test_delayq.c
              ${PROJECT_SOURCE_DIR}/deploy/tools/delayq.c)
target_include_directories(test_delayq PRIVATE
                           ${PROJECT_SOURCE_DIR}/deploy/tools)

# Benchmark programs are built with the tree but are not tests.
add_subdirectory(${CMAKE_CURRENT_LIST_DIR}/bench ${CMAKE_BINARY_DIR}/tests/bench)

# `cmake --install --prefix P` of this build tree: everything under P, the
# systemd units and example configs naming that install (no root needed).
add_test(NAME install.tree COMMAND ${CMAKE_CURRENT_LIST_DIR}/integ/install_tree.sh)
set_tests_properties(install.tree PROPERTIES LABELS install TIMEOUT 120
                     ENVIRONMENT "ITM_BUILD=${CMAKE_BINARY_DIR}")
