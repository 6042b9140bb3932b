/*
 * itm_health.h - the standard gRPC health service (grpc.health.v1.Health,
 * proto/health.proto), so load balancers, systemd-style probes and
 * Kubernetes can ask an ITM daemon whether it works.
 *
 * A daemon lists ITM_HEALTH_CHECK and ITM_HEALTH_WATCH in its server's
 * methods with handlers that call itm_health_check()/itm_health_watch()
 * with its own status function: what it returns for a service name is the
 * real state (the agent: its rules are installed; the controller: its
 * store is writable).  Check answers at once (NOT_FOUND for a service the
 * daemon does not have); Watch sends the status at once, then again each
 * time it changes (looked at every ITM_HEALTH_POLL_MS), until the client
 * goes away or itm_health_stop_all().
 */
#ifndef ITM_HEALTH_H
#define ITM_HEALTH_H

#include <uv.h>

#include "itm_rpc.h"

#define ITM_HEALTH_POLL_MS 500

/* The values of HealthCheckResponse.ServingStatus. */
enum itm_health_status {
	ITM_HEALTH_UNKNOWN = 0,
	ITM_HEALTH_SERVING = 1,
	ITM_HEALTH_NOT_SERVING = 2,
	ITM_HEALTH_SERVICE_UNKNOWN = 3, /* Watch only */
};

/* The status of @service ("" = the daemon as a whole), or
 * ITM_HEALTH_SERVICE_UNKNOWN when the daemon has no such service. */
typedef enum itm_health_status (*itm_health_status_func)(void *arg,
							 const char *service);

void itm_health_check(struct itm_rpc_call *call, itm_health_status_func f,
		      void *arg);
void itm_health_watch(struct itm_rpc_call *call, uv_loop_t *loop,
		      itm_health_status_func f, void *arg);
/* End every Watch (before the server is freed). */
void itm_health_stop_all(void);

#endif /* ITM_HEALTH_H */
