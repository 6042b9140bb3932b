/*
 * rpc.h - the Agent gRPC service, split over rpc*.c by topic.
 */
#ifndef ITM_AGENT_RPC_H
#define ITM_AGENT_RPC_H

#include "itm_rpc.h"
#include "wire.h"

int rpc_start(void);
void rpc_stop(void);

/* Helpers shared by the rpc_*.c files. */
int rpc_code_of(int err);
int rpc_fail_err(struct itm_rpc_call *call, int err, const char *msg);

/* rpc_stats.c */
void rpc_h_stats(struct itm_rpc_call *call, void *arg);
void rpc_h_watch_stats(struct itm_rpc_call *call, void *arg);
void rpc_watch_stop_all(void);

/* rpc_lease.c */
void rpc_h_attach(struct itm_rpc_call *call, void *arg);
void rpc_h_detach(struct itm_rpc_call *call, void *arg);
void rpc_h_heartbeat(struct itm_rpc_call *call, void *arg);
void rpc_h_settle(struct itm_rpc_call *call, void *arg);
/* rpc_publish.c: keep the tunnels and routes of a heartbeat. */
void rpc_publish(const Itm__V1__HeartbeatRequest *req);

/* rpc_table.c */
void rpc_h_install_table(struct itm_rpc_call *call, void *arg);
void rpc_h_get_table(struct itm_rpc_call *call, void *arg);
void rpc_h_get_routes(struct itm_rpc_call *call, void *arg);

/* rpc_tunnels.c */
void rpc_h_get_tunnels(struct itm_rpc_call *call, void *arg);

#endif /* ITM_AGENT_RPC_H */
