/*
 * fuzz_rpc.c - libFuzzer target for what comes off the wire first: every
 * request type's field checks (proto/itm_fields.c, run by every server
 * before it decodes) and its protobuf-c decoder, and the neighbour table an
 * agent installs (InstallTable: decoded, then turned into the modules'
 * table by itm__table_from_wire, as rpc_table.c does).
 *
 * Input: 1 byte choosing the method (index in itm_methods.h's table,
 * modulo its size), then the request's bytes as a client sent them.
 * Invariants: nothing crashes; a request that passed the wire checks and
 * decoded has only strings that pass the check of their kind (the wire
 * walk and the decoder agree), and packs again.
 */
#include <stdlib.h>
#include <string.h>

#include "itm.pb-c.h"
#include "itm_fields.h"
#include "itm_methods.h"
#include "table.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void strings_ok(const ProtobufCMessage *m, int depth);

static void
string_ok(const ProtobufCMessageDescriptor *d,
	  const ProtobufCFieldDescriptor *f, const char *s)
{
	char why[128];

	if (itm_field_check(itm_field_kind_of(d->short_name, f->name), s,
			    strlen(s), why, sizeof(why)) != 0)
		__builtin_trap(); /* passed on the wire, fails decoded */
}

/* Every string of @m (and of its messages) passes its kind's check. */
static void
strings_ok(const ProtobufCMessage *m, int depth)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const char *base = (const char *)m;

	if (depth > 8)
		__builtin_trap();
	for (unsigned int i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		size_t n = 1;
		void *const *v = (void *const *)(base + f->offset);

		if (f->type != PROTOBUF_C_TYPE_STRING &&
		    f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			n = *(const size_t *)(base + f->quantifier_offset);
			v = *(void *const *const *)(base + f->offset);
		}
		for (size_t k = 0; k < n; k++) {
			if (v[k] == NULL)
				continue;
			if (f->type == PROTOBUF_C_TYPE_STRING)
				string_ok(d, f, v[k]);
			else
				strings_ok(v[k], depth + 1);
		}
	}
}

static void
table_install(const ProtobufCMessage *m)
{
	struct itm__table *t = NULL;
	char err[256];

	if (itm__table_from_wire((const Itm__V1__NeighbourTable *)m, &t, err,
				 sizeof(err)) == 0) {
		const struct itm_table *pub = itm__table_pub(t);

		if (pub == NULL)
			__builtin_trap();
		itm__table_unref(t);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct itm_method_def *def;
	ProtobufCMessage *m;
	uint8_t *again;
	char err[256];

	if (size < 1)
		return 0;
	def = itm_method_def((enum itm_method)(data[0] % ITM_METHOD_MAX));
	if (itm_fields_check_wire(def->request, data + 1, size - 1, err,
				  sizeof(err)) != 0)
		return 0;
	m = protobuf_c_message_unpack(def->request, NULL, size - 1, data + 1);
	if (m == NULL)
		return 0;
	strings_ok(m, 0);
	if (def->request == &itm__v1__neighbour_table__descriptor)
		table_install(m);
	again = malloc(protobuf_c_message_get_packed_size(m) + 1);
	if (again == NULL)
		__builtin_trap();
	protobuf_c_message_pack(m, again);
	free(again);
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}
