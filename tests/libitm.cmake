# libitm packet basics: parsing, checksums, interests, flow sets; the
# overlay table of the module API.
# Unit tests link itm_core and see its internal headers.

foreach(t packet csum interest flowset table fdwatch)
  itm_unit_test(test_${t} unit/test_${t}.c LIBS itm_core)
  target_include_directories(test_${t} PRIVATE ${ITM_CORE_INTERNAL}
                             ${CMAKE_CURRENT_SOURCE_DIR}/unit)
endforeach()

# Micro benchmark, not a test: tests/bench/bench_csum
add_executable(bench_csum bench/bench_csum.c)
target_link_libraries(bench_csum PRIVATE itm_core)
target_include_directories(bench_csum PRIVATE ${ITM_CORE_INTERNAL}
                           ${CMAKE_CURRENT_SOURCE_DIR}/unit)
itm_integ_test(libitm_install libitm_install.sh TIMEOUT 180)
# Modules of both kinds see the overlay table the controller pushed.
itm_integ_test(table_view table_view.sh TIMEOUT 120)
set_tests_properties(integ.table_view PROPERTIES SKIP_RETURN_CODE 77)
