# Tests of what deploy/ promises a fresh machine (owner: deploy).
# deps.commands: every command that a test or script asks for with
# itm__need comes from a package deploy/install-deps.sh installs.
add_test(NAME deps.commands
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/integ/deps_commands.sh)
set_tests_properties(deps.commands PROPERTIES LABELS deps TIMEOUT 120
                     SKIP_RETURN_CODE 77
                     ENVIRONMENT "ITM_SRC=${CMAKE_SOURCE_DIR}")
