/*
 * output_json.c - itmctl's "-o json" output.  Replies are converted from
 * their protobuf-c descriptors, not field by field, so the JSON always
 * matches itm.proto: field names as declared, every field present (zero
 * values too, so scripts need not know proto3 defaults), enums by name,
 * 64-bit integers as numbers (as strings only above 2^63), bytes base64.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"

static json_t *msg_json(const ProtobufCMessage *msg);

static json_t *
u64_json(uint64_t v)
{
	char buf[24];

	if (v <= INT64_MAX)
		return json_integer((json_int_t)v);
	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return json_string(buf);
}

/* Strings are not checked for UTF-8 on the wire: replace what is not. */
static json_t *
str_json(const char *s)
{
	json_t *j = json_string(s ? s : "");
	char *copy;

	if (j)
		return j;
	copy = strdup(s);
	for (char *p = copy; *p; p++)
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	j = json_string(copy);
	free(copy);
	return j;
}

static json_t *
bytes_json(const ProtobufCBinaryData *b)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc(4 * ((b->len + 2) / 3) + 1), *o = out;
	json_t *j;

	for (size_t i = 0; i < b->len; i += 3) {
		uint32_t v = b->data[i] << 16;
		size_t left = b->len - i;

		v |= left > 1 ? b->data[i + 1] << 8 : 0;
		v |= left > 2 ? b->data[i + 2] : 0;
		*o++ = tab[(v >> 18) & 63];
		*o++ = tab[(v >> 12) & 63];
		*o++ = left > 1 ? tab[(v >> 6) & 63] : '=';
		*o++ = left > 2 ? tab[v & 63] : '=';
	}
	*o = '\0';
	j = json_string(out);
	free(out);
	return j;
}

static json_t *
enum_json(const ProtobufCFieldDescriptor *f, int v)
{
	const ProtobufCEnumValue *ev =
		protobuf_c_enum_descriptor_get_value(f->descriptor, v);

	return ev ? json_string(ev->name) : json_integer(v);
}

/* One value of field @f stored at @p. */
static json_t *
value_json(const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32: return json_integer(*(const int32_t *)p);
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32: return json_integer(*(const uint32_t *)p);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64: return json_integer(*(const int64_t *)p);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64: return u64_json(*(const uint64_t *)p);
	case PROTOBUF_C_TYPE_FLOAT: return json_real(*(const float *)p);
	case PROTOBUF_C_TYPE_DOUBLE: return json_real(*(const double *)p);
	case PROTOBUF_C_TYPE_BOOL:
		return json_boolean(*(const protobuf_c_boolean *)p);
	case PROTOBUF_C_TYPE_ENUM: return enum_json(f, *(const int *)p);
	case PROTOBUF_C_TYPE_STRING: return str_json(*(char *const *)p);
	case PROTOBUF_C_TYPE_BYTES: return bytes_json(p);
	case PROTOBUF_C_TYPE_MESSAGE:
		return *(ProtobufCMessage *const *)p
			       ? msg_json(*(ProtobufCMessage *const *)p)
			       : json_null();
	}
	return json_null();
}

static size_t
elem_size(ProtobufCType type)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE: return 8;
	case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_MESSAGE: return sizeof(void *);
	case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
	default: return 4;
	}
}

static json_t *
repeated_json(const ProtobufCFieldDescriptor *f, const char *base)
{
	size_t n = *(const size_t *)(base + f->quantifier_offset);
	const char *arr = *(char *const *)(base + f->offset);
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a,
				      value_json(f,
						 arr + i * elem_size(f->type)));
	return a;
}

/* Unset optional fields and oneof members not chosen are left out. */
static int
field_present(const ProtobufCFieldDescriptor *f, const char *base)
{
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return *(const uint32_t *)(base + f->quantifier_offset) ==
		       f->id;
	if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset)
		return *(const protobuf_c_boolean *)(base +
						     f->quantifier_offset);
	return 1;
}

static json_t *
msg_json(const ProtobufCMessage *msg)
{
	const ProtobufCMessageDescriptor *d = msg->descriptor;
	const char *base = (const char *)msg;
	json_t *o = json_object();

	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		json_t *v;

		if (f->label == PROTOBUF_C_LABEL_REPEATED)
			v = repeated_json(f, base);
		else if (field_present(f, base))
			v = value_json(f, base + f->offset);
		else
			continue;
		json_object_set_new(o, f->name, v ? v : json_null());
	}
	return o;
}

json_t *
pb_to_json(const ProtobufCMessage *msg)
{
	return msg ? msg_json(msg) : NULL;
}

void
json_print(json_t *j)
{
	if (!j)
		return;
	json_dumpf(j, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	json_decref(j);
}

/* Most replies print as they are: one function per op, for type safety. */
#define JSON_AS_IS(fn, type)                      \
	static void fn(const type *r)             \
	{                                         \
		json_print(pb_to_json(&r->base)); \
	}

JSON_AS_IS(json_status, Itm__V1__StatusReply)
JSON_AS_IS(json_stats, Itm__V1__StatsReply)
JSON_AS_IS(json_table, Itm__V1__NeighbourTable)
JSON_AS_IS(json_nodes, Itm__V1__NodesReply)
JSON_AS_IS(json_controllers, Itm__V1__ControllersReply)
JSON_AS_IS(json_topology, Itm__V1__TopologyReply)
JSON_AS_IS(json_diff, Itm__V1__DiffReply)
JSON_AS_IS(json_history, Itm__V1__HistoryReply)
JSON_AS_IS(json_overlay_stats, Itm__V1__NodeStatsReply)
JSON_AS_IS(json_tunnels, Itm__V1__NodeTunnelsReply)

/* The reply exactly as received: no field added (issue 8, item 11). */
static void
json_loaded(const char *node, const Itm__V1__LoadModuleReply *r,
	    const ProtobufCMessage *reply)
{
	json_print(pb_to_json(reply));
}

static void
json_unloaded(const char *node, const char *name, const ProtobufCMessage *reply)
{
	json_print(pb_to_json(reply));
}

static void
json_modules(const char *node, const Itm__V1__ListModulesReply *r,
	     const ProtobufCMessage *reply)
{
	json_print(pb_to_json(reply));
}

/* An ApplyReply; whether it was a dry run is the caller's own flag. */
static void
json_applied(const Itm__V1__ApplyReply *r, int dry_run)
{
	json_print(pb_to_json(&r->base));
}

static void
json_routes(const Itm__V1__RoutesReply *r)
{
	json_print(pb_to_json(&r->base));
}

static void
json_node_routes(const Itm__V1__NodeRoutesReply *r)
{
	json_print(pb_to_json(&r->base));
}

const struct output output_json = {
	.name = "json",
	.status = json_status,
	.loaded = json_loaded,
	.unloaded = json_unloaded,
	.modules = json_modules,
	.stats = json_stats,
	.table = json_table,
	.routes = json_routes,
	.nodes = json_nodes,
	.controllers = json_controllers,
	.applied = json_applied,
	.topology = json_topology,
	.diff = json_diff,
	.history = json_history,
	.overlay_stats = json_overlay_stats,
	.node_routes = json_node_routes,
	.paths = json_node_routes,
	.tunnels = json_tunnels,
};
