/*
 * itm_methods.h - the RPCs of itm.proto, each once: the one table every
 * server registration and every client call names a method by (bgpd's
 * enum imsg_type), and the wire-level defaults that itm-controller,
 * itm-agent and itmctl share.  A daemon and its CLI share this and the
 * messages of itm.proto, nothing else.
 *
 * Adding an RPC: its rpc line (and messages) in itm.proto, one line in
 * ITM_METHODS below, then the handler and its { ITM_<ID>, handler } line
 * in the server's list (agent/rpc.c, controller/ctl_rpc.c).  Clients call
 * it by its ID: itm_rpc_call(client, ITM_<ID>, &req.base, &reply, ...).
 * tests/unit/test_methods.c checks this table against the services that
 * protoc-c generates from itm.proto.
 */
#ifndef ITM_METHODS_H
#define ITM_METHODS_H

#include <protobuf-c/protobuf-c.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The package of itm.proto: services are "itm.v1.Agent"... */
#define ITM_PROTO_PACKAGE "itm.v1"

/* Where itm-controller listens by default (--listen), and where itmctl
 * looks for it without --controller or $ITM_CONTROLLER. */
#define ITM_CONTROLLER_ADDR_DEFAULT "127.0.0.1:7700"

/* The agent's local socket (itm-agent --socket), where process modules
 * ($ITM_AGENT_SOCKET) and itmctl (--agent) find it by default. */
#define ITM_AGENT_SOCKET_DEFAULT "/run/itm/agent.sock"

/* The largest topology text an Apply or Diff carries (its yaml field). */
#define ITM_TOPOLOGY_MAX_BYTES (1024 * 1024)

/*
 * X(ID, Service, Method, request, reply, KIND): ID names the method in C
 * (ITM_<ID>); Service and Method as in itm.proto; request and reply are
 * the messages in protobuf-c's lower-case spelling; KIND is UNARY,
 * STREAM when the server streams its replies ("returns (stream ...)"),
 * or BIDI when both sides stream.
 */
/* clang-format off */
#define ITM_METHODS(X) \
	/* Agent: management and telemetry (unix socket and TCP). */ \
	X(AGENT_GET_STATUS, Agent, GetStatus, status_request, status_reply, UNARY) \
	X(AGENT_LOAD_MODULE, Agent, LoadModule, load_module_request, load_module_reply, UNARY) \
	X(AGENT_UNLOAD_MODULE, Agent, UnloadModule, unload_module_request, unload_module_reply, UNARY) \
	X(AGENT_LIST_MODULES, Agent, ListModules, list_modules_request, list_modules_reply, UNARY) \
	X(AGENT_GET_STATS, Agent, GetStats, stats_request, stats_reply, UNARY) \
	X(AGENT_WATCH_STATS, Agent, WatchStats, watch_stats_request, stats_reply, STREAM) \
	/* Agent: process modules (libitm), on the unix socket only. */ \
	X(AGENT_ATTACH, Agent, Attach, attach_request, attach_reply, UNARY) \
	X(AGENT_DETACH, Agent, Detach, detach_request, detach_reply, UNARY) \
	X(AGENT_HEARTBEAT, Agent, Heartbeat, heartbeat_request, heartbeat_reply, UNARY) \
	X(AGENT_SETTLE, Agent, Settle, settle_request, settle_reply, UNARY) \
	/* Agent: the neighbour table the controller pushes. */ \
	X(AGENT_INSTALL_TABLE, Agent, InstallTable, neighbour_table, install_table_reply, UNARY) \
	X(AGENT_GET_TABLE, Agent, GetTable, get_table_request, neighbour_table, UNARY) \
	/* Agent: the routes itmRoute holds. */ \
	X(AGENT_GET_ROUTES, Agent, GetRoutes, routes_request, routes_reply, UNARY) \
	X(AGENT_GET_TUNNELS, Agent, GetTunnels, tunnels_request, tunnels_reply, UNARY) \
	/* Controller: agents joining and heartbeating. */ \
	X(CONTROLLER_JOIN, Controller, Join, join_request, join_reply, UNARY) \
	X(CONTROLLER_NODE_HEARTBEAT, Controller, NodeHeartbeat, node_heartbeat_request, node_heartbeat_reply, UNARY) \
	/* Controller: the operator's (itmctl). */ \
	X(CONTROLLER_APPLY, Controller, Apply, apply_request, apply_reply, UNARY) \
	X(CONTROLLER_SHOW_TOPOLOGY, Controller, ShowTopology, topology_request, topology_reply, UNARY) \
	X(CONTROLLER_DIFF, Controller, Diff, diff_request, diff_reply, UNARY) \
	X(CONTROLLER_HISTORY, Controller, History, history_request, history_reply, UNARY) \
	X(CONTROLLER_ROLLBACK, Controller, Rollback, rollback_request, apply_reply, UNARY) \
	X(CONTROLLER_NODES, Controller, Nodes, nodes_request, nodes_reply, UNARY) \
	X(CONTROLLER_NODE_STATS, Controller, NodeStats, node_stats_request, node_stats_reply, UNARY) \
	X(CONTROLLER_NODE_LOAD_MODULE, Controller, NodeLoadModule, node_module_request, node_module_reply, UNARY) \
	X(CONTROLLER_NODE_UNLOAD_MODULE, Controller, NodeUnloadModule, node_module_request, node_module_reply, UNARY) \
	X(CONTROLLER_NODE_LIST_MODULES, Controller, NodeListModules, node_module_request, node_module_reply, UNARY) \
	X(CONTROLLER_NODE_ROUTES, Controller, NodeRoutes, node_routes_request, node_routes_reply, UNARY) \
	X(CONTROLLER_CONTROLLERS, Controller, Controllers, controllers_request, controllers_reply, UNARY) \
	X(CONTROLLER_NODE_TUNNELS, Controller, NodeTunnels, node_tunnels_request, node_tunnels_reply, UNARY)

/*
 * Standard gRPC services ITM's servers offer too (not in itm.proto):
 * X(ID, "package.Service", Method, request, reply, KIND), the messages in
 * protobuf-c's full lower-case spelling.
 */
#define ITM_STD_METHODS(X) \
	X(HEALTH_CHECK, "grpc.health.v1.Health", Check, grpc__health__v1__health_check_request, grpc__health__v1__health_check_response, UNARY) \
	X(HEALTH_WATCH, "grpc.health.v1.Health", Watch, grpc__health__v1__health_check_request, grpc__health__v1__health_check_response, STREAM) \
	X(REFLECTION_INFO, "grpc.reflection.v1alpha.ServerReflection", ServerReflectionInfo, grpc__reflection__v1alpha__server_reflection_request, grpc__reflection__v1alpha__server_reflection_response, BIDI) \
	/* v1: the same messages on the wire as v1alpha. */ \
	X(REFLECTION_V1_INFO, "grpc.reflection.v1.ServerReflection", ServerReflectionInfo, grpc__reflection__v1alpha__server_reflection_request, grpc__reflection__v1alpha__server_reflection_response, BIDI)
/* clang-format on */

enum itm_method {
#define ITM__METHOD_ID(id, svc, name, req, rep, kind) ITM_##id,
	ITM_METHODS(ITM__METHOD_ID) ITM_STD_METHODS(ITM__METHOD_ID)
#undef ITM__METHOD_ID
		ITM_METHOD_MAX
};
/* The methods of itm.proto come first: ITM_STD_FIRST is the first other. */
#define ITM_STD_FIRST ITM_HEALTH_CHECK

enum itm_method_kind {
	ITM_METHOD_UNARY,
	ITM_METHOD_STREAM, /* the server sends a stream of replies */
	ITM_METHOD_BIDI,   /* both sides send streams (itm_rpc.h) */
};

/* One method as gRPC and protobuf-c see it. */
struct itm_method_def {
	const char *path;    /* "/itm.v1.Agent/GetStatus" */
	const char *service; /* "itm.v1.Agent" */
	const char *name;    /* "GetStatus" */
	const ProtobufCMessageDescriptor *request;
	const ProtobufCMessageDescriptor *reply; /* each message of a stream */
	enum itm_method_kind kind;
};

/* @m's definition (static), or NULL when @m is not a method. */
const struct itm_method_def *itm_method_def(enum itm_method m);

#ifdef __cplusplus
}
#endif

#endif /* ITM_METHODS_H */
