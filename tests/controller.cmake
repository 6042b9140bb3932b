# Unit tests of itm-controller's parts: topo.yaml parsing and validation,
# neighbour tables, the store (on each backend, with topologies parsed as
# the controller parses them), and the topo.yaml corpus.

itm_unit_test(test_topo unit/test_topo.c LIBS itmtopo)
target_include_directories(test_topo PRIVATE ${PROJECT_SOURCE_DIR}/controller/topo)
itm_unit_test(test_neigh unit/test_neigh.c LIBS itmtopo)
# The store on SQLite and on a real etcd (tests/unit/etcd_server.c starts
# one on loopback; its tests are skipped only when etcd is not installed).
itm_unit_test(test_store unit/test_store.c LIBS itmstore PkgConfig::SQLITE)
target_sources(test_store PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit/etcd_server.c)
target_include_directories(test_store PRIVATE
  ${PROJECT_SOURCE_DIR}/controller/store_etcd
  ${CMAKE_BINARY_DIR}/controller/store_etcd_gen)

# Saved inputs and expected outputs in unit/topo_bad and unit/topo_good.
itm_unit_test(test_topo_corpus unit/test_topo_corpus.c LIBS itmtopo)
target_compile_definitions(test_topo_corpus PRIVATE
                           ITM_TOPO_CORPUS="${CMAKE_CURRENT_SOURCE_DIR}/unit")

# A tiny Controller/Agent client for the integration tests and benchmarks.
add_executable(ctl_client ${CMAKE_CURRENT_SOURCE_DIR}/integ/tools/ctl_client.c)
target_link_libraries(ctl_client PRIVATE itmproto)
set_target_properties(ctl_client PROPERTIES
  RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests/tools)

# itm-controller with real agents in namespaces and a real SQLite file.
itm_integ_test(ctl_daemon ctl_daemon.sh TIMEOUT 180)
# Mutual TLS: wrong CA or wrong node name refused.
itm_integ_test(ctl_tls ctl_tls.sh TIMEOUT 120)

# The control plane end to end: itm-controller and four real agents in
# namespaces, driven by itmctl (apply, per-node generations, an agent and
# the controller killed and restarted, stats, refused files).
itm_integ_test(ctl_lab4 ctl_lab4.sh TIMEOUT 240)
# Module placement by the controller: topo.yaml modules loaded, reloaded
# and unloaded on apply, rollback and agent restart; hand-loaded ones kept.
itm_integ_test(ctl_place ctl_place.sh TIMEOUT 150)

# The same three again on the etcd store (issue 12): a real etcd in the
# controller's namespace (tests/integ/lib.sh itm_store), the SQL checks
# read its content exported to SQLite (itm-controller --export).
itm_integ_test(ctl_daemon.etcd ctl_daemon.sh TIMEOUT 180 ENV ITM_TEST_STORE=etcd)
itm_integ_test(ctl_lab4.etcd ctl_lab4.sh TIMEOUT 240 ENV ITM_TEST_STORE=etcd)
itm_integ_test(ctl_place.etcd ctl_place.sh TIMEOUT 150 ENV ITM_TEST_STORE=etcd)
# The etcd store over TLS: client certificates, wrong CAs refused.
itm_integ_test(ctl_etcd_tls ctl_etcd_tls.sh TIMEOUT 60)
# Two controllers on a 3-member etcd: leader killed mid-apply, members
# killed, agents following the leader.
itm_integ_test(ctl_ha ctl_ha.sh TIMEOUT 150)

# --metrics of the controller and its agents.
itm_integ_test(ctl_metrics ctl_metrics.sh TIMEOUT 120)

# Hostile strings from a stock gRPC client (python3-grpcio) against an
# agent and a controller: one check per kind of field, escaped logs.
itm_integ_test(stock_badinput stock_badinput.sh TIMEOUT 120)
itm_integ_test(reflection reflection.sh TIMEOUT 90)

# A damaged database: --check and start-up refuse it, never write to it.
itm_integ_test(ctl_damaged ctl_damaged.sh TIMEOUT 120)

# The client's deadline bounds the controller's calls to agents.
itm_integ_test(ctl_deadline ctl_deadline.sh TIMEOUT 120)
