# Tests of what deploy/ promises a fresh machine (owner: deploy).
# deps.commands: every command that a test or script asks for with
# itm__need comes from a package deploy/install-deps.sh installs.
add_test(NAME deps.commands
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/integ/deps_commands.sh)
set_tests_properties(deps.commands PROPERTIES LABELS deps TIMEOUT 120
                     SKIP_RETURN_CODE 77
                     ENVIRONMENT "ITM_SRC=${CMAKE_SOURCE_DIR}")

# style.format: every C file of the tree is laid out as .clang-format says
# (clang-format -i on a file fixes it).
find_program(ITM_CLANG_FORMAT clang-format)
if(ITM_CLANG_FORMAT)
  add_test(NAME style.format
           COMMAND sh -c "{ git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' ! -path './build*'; } | xargs ${ITM_CLANG_FORMAT} --dry-run -Werror"
           WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  set_tests_properties(style.format PROPERTIES LABELS style TIMEOUT 120)
endif()

# deploy.grafana: the Grafana dashboard's PromQL is valid (promtool) and
# names only metrics the daemons export (or modules register).
add_test(NAME deploy.grafana
         COMMAND /usr/bin/python3
                 ${CMAKE_CURRENT_LIST_DIR}/integ/tools/grafana_check.py
                 ${CMAKE_SOURCE_DIR})
set_tests_properties(deploy.grafana PROPERTIES LABELS deps TIMEOUT 60)
