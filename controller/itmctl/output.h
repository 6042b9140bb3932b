/*
 * output.h - how itmctl prints replies: an ops struct with a human table
 * implementation (output.c) and a JSON one (output_json.c), in the style
 * of bgpctl's struct output.  Every op prints one whole reply to stdout.
 */
#ifndef ITMCTL_OUTPUT_H
#define ITMCTL_OUTPUT_H

#include <jansson.h>

#include "itm.pb-c.h"

/*
 * @node is the node's name when the request went through the controller
 * ("module load NODE ..."), NULL when itmctl talked to one agent.  @reply
 * is the reply message as received (a NodeModuleReply through the
 * controller): the JSON output prints exactly it, and every op's JSON is
 * exactly one message of itm.proto (tests/integ/itmctl_json.sh parses
 * them with a strict protobuf parser).
 */
struct output {
	const char *name; /* "table", "json" */
	/* Agent replies (output.c). */
	void (*status)(const Itm__V1__StatusReply *r);
	void (*loaded)(const char *node, const Itm__V1__LoadModuleReply *r,
		       const ProtobufCMessage *reply);
	void (*unloaded)(const char *node, const char *name,
			 const ProtobufCMessage *reply);
	void (*modules)(const char *node, const Itm__V1__ListModulesReply *r,
			const ProtobufCMessage *reply);
	void (*stats)(const Itm__V1__StatsReply *r);
	void (*table)(const Itm__V1__NeighbourTable *r);
	void (*routes)(const Itm__V1__RoutesReply *r);
	/* Controller replies (output_ctl.c). */
	void (*nodes)(const Itm__V1__NodesReply *r);
	void (*controllers)(const Itm__V1__ControllersReply *r);
	void (*applied)(const Itm__V1__ApplyReply *r, int dry_run);
	void (*topology)(const Itm__V1__TopologyReply *r);
	void (*diff)(const Itm__V1__DiffReply *r);
	void (*history)(const Itm__V1__HistoryReply *r);
	void (*overlay_stats)(const Itm__V1__NodeStatsReply *r);
	void (*node_routes)(const Itm__V1__NodeRoutesReply *r);
	void (*paths)(const Itm__V1__NodeRoutesReply *r);
	/* Elastic tunnels, one agent's or the overlay's (output_ctl.c). */
	void (*tunnels)(const Itm__V1__NodeTunnelsReply *r);
};

extern const struct output output_table;
extern const struct output output_json;

/*
 * Any protobuf-c message as JSON, faithfully: field names as in itm.proto,
 * every field present (zero values included), enums by name, 64-bit
 * integers as numbers, bytes in base64.  New reference, NULL on failure.
 */
json_t *pb_to_json(const ProtobufCMessage *msg);
/* Print @j (stolen) to stdout, indented, with a final newline. */
void json_print(json_t *j);

/* "IP_FORWARD" for HOOK_IP_FORWARD, "?" when unknown. */
const char *output_hook_name(int hook);
/* "updated" for OUTCOME_UPDATED, "-" when unspecified, "?" when unknown:
 * the words the table output prints. */
const char *output_outcome_name(int outcome);

#endif /* ITMCTL_OUTPUT_H */
