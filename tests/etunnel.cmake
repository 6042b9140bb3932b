# The elastic tunnel (modules/etunnel): its pure parts as unit tests, the
# exit's frame path as a fuzz target replayed over its corpus, and the
# namespace tests with real agents and TCP.
set(ITM_ETUN_DIR ${PROJECT_SOURCE_DIR}/modules/etunnel)
set(ITM_ETUN_PURE ${ITM_ETUN_DIR}/frame.c ${ITM_ETUN_DIR}/reorder.c
    ${ITM_ETUN_DIR}/entq.c ${ITM_ETUN_DIR}/ctrl.c
    ${PROJECT_SOURCE_DIR}/modules/common/tcpseg.c ${ITM_ETUN_DIR}/sentlog.c
    ${ITM_ETUN_DIR}/match.c)
set(ITM_ETUN_INC ${ITM_ETUN_DIR} ${PROJECT_SOURCE_DIR}/modules/common)

# tcpseg.c takes its checksums from libitm (itm_csum_*).
itm_unit_test(test_etunnel unit/test_etunnel.c ${ITM_ETUN_PURE} LIBS m itm_core)
target_include_directories(test_etunnel PRIVATE ${ITM_ETUN_INC})

# The TLS layer with real OpenSSL over a socketpair.
find_package(OpenSSL REQUIRED)
itm_unit_test(test_etunnel_tls unit/test_etunnel_tls.c ${ITM_ETUN_DIR}/tls.c
              LIBS OpenSSL::SSL OpenSSL::Crypto)
target_include_directories(test_etunnel_tls PRIVATE ${ITM_ETUN_DIR})

add_executable(fuzz_etunnel_replay fuzz/fuzz_etunnel.c fuzz/replay_main.c
               ${ITM_ETUN_PURE})
target_include_directories(fuzz_etunnel_replay PRIVATE ${ITM_ETUN_INC})
target_link_libraries(fuzz_etunnel_replay PRIVATE m itm_core)
add_test(NAME fuzz.etunnel_replay COMMAND fuzz_etunnel_replay
         ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/etunnel)
set_tests_properties(fuzz.etunnel_replay PROPERTIES LABELS "unit;fuzz"
                     TIMEOUT 120)

if(ITM_FUZZ)
  add_executable(fuzz_etunnel fuzz/fuzz_etunnel.c ${ITM_ETUN_PURE})
  target_include_directories(fuzz_etunnel PRIVATE ${ITM_ETUN_INC})
  target_link_libraries(fuzz_etunnel PRIVATE m itm_core)
  target_compile_options(fuzz_etunnel PRIVATE ${ITM_FUZZ_FLAGS})
  target_link_options(fuzz_etunnel PRIVATE ${ITM_FUZZ_FLAGS})
endif()

itm_integ_test(etunnel_basic etunnel_basic.sh TIMEOUT 120)
itm_integ_test(etunnel_topo etunnel_topo.sh TIMEOUT 180)
itm_integ_test(etunnel_elastic etunnel_elastic.sh TIMEOUT 180)
itm_integ_test(etunnel_tls etunnel_tls.sh TIMEOUT 120)
itm_integ_test(etunnel_split etunnel_split.sh TIMEOUT 120)
itm_integ_test(etunnel_ports etunnel_ports.sh TIMEOUT 90)
