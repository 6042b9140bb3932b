/*
 * itm_reflect.c - grpc.reflection over itm_rpc.h (itm_reflect.h).  The
 * embedded FileDescriptorSet (generated: itm_descriptors.c) is walked in
 * wire format: a file is found by its name (field 1) or by the names it
 * defines (package 2, messages 4 with nested messages 3 and enums 4,
 * enums 5, services 6 with methods 2); its imports are field 3.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "itm_reflect.h"
#include "reflection.pb-c.h"

extern const unsigned char itm_descriptor_set[];
extern const size_t itm_descriptor_set_len;

#define REFLECT_MAX_FILES    16
#define REFLECT_MAX_SERVICES 16
#define REFLECT_NAME_MAX     256

typedef Grpc__Reflection__V1alpha__ServerReflectionRequest reflect_req;
typedef Grpc__Reflection__V1alpha__ServerReflectionResponse reflect_rep;
#define REQ_CASE(x) \
	GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_##x
#define REP_CASE(x) \
	GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_##x

/* A span of protobuf wire format. */
struct pb {
	const uint8_t *p, *end;
};

struct reflect_file {
	struct pb bytes;
	char name[REFLECT_NAME_MAX];
	char package[REFLECT_NAME_MAX];
};

static struct reflect_file files[REFLECT_MAX_FILES];
static int n_files = -1;

/* ------------------------------------------------------------------ */
/* Wire format                                                          */
/* ------------------------------------------------------------------ */

static int
pb_varint(struct pb *b, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (b->p >= b->end)
			return -1;
		*v |= (uint64_t)(*b->p & 0x7f) << shift;
		if (!(*b->p++ & 0x80))
			return 0;
	}
	return -1;
}

/* The next field of @b: 1 with its number (and in @sub the bytes of a
 * length-delimited one), 0 at the end, -1 when malformed. */
static int
pb_next(struct pb *b, uint32_t *num, struct pb *sub)
{
	uint64_t key, v, n = 0;

	if (b->p >= b->end)
		return 0;
	if (pb_varint(b, &key))
		return -1;
	*num = (uint32_t)(key >> 3);
	*sub = (struct pb){ NULL, NULL };
	switch (key & 7) {
	case 0: return pb_varint(b, &v) ? -1 : 1;
	case 1: n = 8; break;
	case 5: n = 4; break;
	case 2:
		if (pb_varint(b, &n) || n > (uint64_t)(b->end - b->p))
			return -1;
		*sub = (struct pb){ b->p, b->p + n };
		break;
	default: return -1;
	}
	if (n > (uint64_t)(b->end - b->p))
		return -1;
	b->p += n;
	return 1;
}

static void
pb_str(struct pb s, char *out, size_t len)
{
	snprintf(out, len, "%.*s", (int)(s.end - s.p), (const char *)s.p);
}

/* The string field @want of message @m ("" when absent). */
static void
pb_field_str(struct pb m, uint32_t want, char *out, size_t len)
{
	struct pb sub;
	uint32_t num;

	out[0] = '\0';
	while (pb_next(&m, &num, &sub) == 1)
		if (num == want && sub.p)
			pb_str(sub, out, len);
}

/* ------------------------------------------------------------------ */
/* The descriptor set                                                   */
/* ------------------------------------------------------------------ */

static void
files_load(void)
{
	struct pb set = { itm_descriptor_set,
			  itm_descriptor_set + itm_descriptor_set_len };
	struct pb sub;
	uint32_t num;

	n_files = 0;
	while (n_files < REFLECT_MAX_FILES && pb_next(&set, &num, &sub) == 1) {
		struct reflect_file *f = &files[n_files];

		if (num != 1 || !sub.p)
			continue;
		f->bytes = sub;
		pb_field_str(sub, 1, f->name, sizeof(f->name));
		pb_field_str(sub, 2, f->package, sizeof(f->package));
		n_files++;
	}
}

const uint8_t *
itm_reflect_file(int i, size_t *len)
{
	if (n_files < 0)
		files_load();
	if (i < 0 || i >= n_files) {
		*len = 0;
		return NULL;
	}
	*len = (size_t)(files[i].bytes.end - files[i].bytes.p);
	return files[i].bytes.p;
}

int
itm_reflect_file_by_name(const char *filename)
{
	if (n_files < 0)
		files_load();
	for (int i = 0; i < n_files; i++)
		if (!strcmp(files[i].name, filename))
			return i;
	return -1;
}

/* Whether @sym is "@scope.NAME", NAME the name (field 1) of @m; @full
 * gets "@scope.NAME". */
static int
name_is(struct pb m, const char *scope, const char *sym, char *full)
{
	char name[REFLECT_NAME_MAX];

	pb_field_str(m, 1, name, sizeof(name));
	if (snprintf(full, REFLECT_NAME_MAX, "%s%s%s", scope, *scope ? "." : "",
		     name) >= REFLECT_NAME_MAX) {
		full[0] = '\0'; /* no such long names: matches nothing */
		return 0;
	}
	return !strcmp(full, sym);
}

/* Whether @sym lies inside @full ("@full.something"). */
static int
inside(const char *full, const char *sym)
{
	size_t n = strlen(full);

	return !strncmp(sym, full, n) && sym[n] == '.';
}

/* Message @m (in @scope), its nested messages (3) and enums (4). */
static int
msg_defines(struct pb m, const char *scope, const char *sym)
{
	char full[REFLECT_NAME_MAX], other[REFLECT_NAME_MAX];
	struct pb b = m, sub;
	uint32_t num;

	if (name_is(m, scope, sym, full))
		return 1;
	if (!inside(full, sym))
		return 0;
	while (pb_next(&b, &num, &sub) == 1) {
		if (num == 3 && sub.p && msg_defines(sub, full, sym))
			return 1;
		if (num == 4 && sub.p && name_is(sub, full, sym, other))
			return 1;
	}
	return 0;
}

/* Service @s (in @scope) and its methods (2). */
static int
svc_defines(struct pb s, const char *scope, const char *sym)
{
	char full[REFLECT_NAME_MAX], other[REFLECT_NAME_MAX];
	struct pb b = s, sub;
	uint32_t num;

	if (name_is(s, scope, sym, full))
		return 1;
	if (!inside(full, sym))
		return 0;
	while (pb_next(&b, &num, &sub) == 1)
		if (num == 2 && sub.p && name_is(sub, full, sym, other))
			return 1;
	return 0;
}

static int
file_defines(const struct reflect_file *f, const char *sym)
{
	char other[REFLECT_NAME_MAX];
	struct pb b = f->bytes, sub;
	uint32_t num;

	while (pb_next(&b, &num, &sub) == 1) {
		if (!sub.p)
			continue;
		if ((num == 4 && msg_defines(sub, f->package, sym)) ||
		    (num == 5 && name_is(sub, f->package, sym, other)) ||
		    (num == 6 && svc_defines(sub, f->package, sym)))
			return 1;
	}
	return 0;
}

int
itm_reflect_file_by_symbol(const char *symbol)
{
	if (n_files < 0)
		files_load();
	for (int i = 0; i < n_files; i++)
		if (file_defines(&files[i], symbol))
			return i;
	return -1;
}

/* File @i, then every file it imports (transitively), each once. */
static size_t
with_imports(int i, int *out, size_t n, int *seen)
{
	char dep[REFLECT_NAME_MAX];
	struct pb b = files[i].bytes, sub;
	uint32_t num;
	int d;

	seen[i] = 1;
	out[n++] = i;
	while (pb_next(&b, &num, &sub) == 1) {
		if (num != 3 || !sub.p)
			continue;
		pb_str(sub, dep, sizeof(dep));
		d = itm_reflect_file_by_name(dep);
		if (d >= 0 && !seen[d])
			n = with_imports(d, out, n, seen);
	}
	return n;
}

/* ------------------------------------------------------------------ */
/* The service                                                          */
/* ------------------------------------------------------------------ */

static void
send_rep(struct itm_rpc_call *call, reflect_rep *rep)
{
	if (itm_rpc_send(call, &rep->base) == -ENOBUFS)
		itm_rpc_fail(call, ITM_RPC_RESOURCE_EXHAUSTED,
			     "reflection: the client does not read its answers");
}

static void answer_error(struct itm_rpc_call *call, reflect_rep *rep,
			 enum itm_rpc_code code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
answer_error(struct itm_rpc_call *call, reflect_rep *rep,
	     enum itm_rpc_code code, const char *fmt, ...)
{
	Grpc__Reflection__V1alpha__ErrorResponse err =
		GRPC__REFLECTION__V1ALPHA__ERROR_RESPONSE__INIT;
	char msg[2 * REFLECT_NAME_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	err.error_code = code;
	err.error_message = msg;
	rep->message_response_case = REP_CASE(ERROR_RESPONSE);
	rep->error_response = &err;
	send_rep(call, rep);
}

static void
answer_file(struct itm_rpc_call *call, reflect_rep *rep, int i,
	    const char *what, const char *name)
{
	Grpc__Reflection__V1alpha__FileDescriptorResponse fdr =
		GRPC__REFLECTION__V1ALPHA__FILE_DESCRIPTOR_RESPONSE__INIT;
	ProtobufCBinaryData data[REFLECT_MAX_FILES];
	int idx[REFLECT_MAX_FILES], seen[REFLECT_MAX_FILES] = { 0 };
	size_t n;

	if (i < 0) {
		answer_error(call, rep, ITM_RPC_NOT_FOUND, "unknown %s '%.*s'",
			     what, REFLECT_NAME_MAX, name);
		return;
	}
	n = with_imports(i, idx, 0, seen);
	for (size_t k = 0; k < n; k++)
		data[k].data =
			(uint8_t *)itm_reflect_file(idx[k], &data[k].len);
	fdr.n_file_descriptor_proto = n;
	fdr.file_descriptor_proto = data;
	rep->message_response_case = REP_CASE(FILE_DESCRIPTOR_RESPONSE);
	rep->file_descriptor_response = &fdr;
	send_rep(call, rep);
}

/* The services of the server @call came to, each once. */
static void
answer_list(struct itm_rpc_call *call, reflect_rep *rep)
{
	Grpc__Reflection__V1alpha__ListServiceResponse list =
		GRPC__REFLECTION__V1ALPHA__LIST_SERVICE_RESPONSE__INIT;
	Grpc__Reflection__V1alpha__ServiceResponse svc[REFLECT_MAX_SERVICES];
	Grpc__Reflection__V1alpha__ServiceResponse *ptr[REFLECT_MAX_SERVICES];
	size_t n_methods, n = 0, k;
	const struct itm_rpc_method *m = itm_rpc_call_methods(call, &n_methods);

	for (size_t i = 0; i < n_methods && n < REFLECT_MAX_SERVICES; i++) {
		const char *name = itm_method_def(m[i].id)->service;

		for (k = 0; k < n && strcmp(svc[k].name, name); k++)
			;
		if (k < n)
			continue;
		svc[n] = (Grpc__Reflection__V1alpha__ServiceResponse)
			GRPC__REFLECTION__V1ALPHA__SERVICE_RESPONSE__INIT;
		svc[n].name = (char *)name;
		ptr[n] = &svc[n];
		n++;
	}
	list.n_service = n;
	list.service = ptr;
	rep->message_response_case = REP_CASE(LIST_SERVICES_RESPONSE);
	rep->list_services_response = &list;
	send_rep(call, rep);
}

void
itm_reflect_handler(struct itm_rpc_call *call, void *arg)
{
	const reflect_req *req = (const void *)itm_rpc_request(call);
	reflect_rep rep =
		GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__INIT;

	(void)arg;
	if (!req) { /* the client is done */
		itm_rpc_finish(call);
		return;
	}
	rep.valid_host = req->host;
	rep.original_request = (reflect_req *)req;
	switch (req->message_request_case) {
	case REQ_CASE(LIST_SERVICES): answer_list(call, &rep); break;
	case REQ_CASE(FILE_BY_FILENAME):
		answer_file(call, &rep,
			    itm_reflect_file_by_name(req->file_by_filename),
			    "file", req->file_by_filename);
		break;
	case REQ_CASE(FILE_CONTAINING_SYMBOL):
		answer_file(call, &rep,
			    itm_reflect_file_by_symbol(
				    req->file_containing_symbol),
			    "symbol", req->file_containing_symbol);
		break;
	case REQ_CASE(FILE_CONTAINING_EXTENSION):
		answer_error(call, &rep, ITM_RPC_NOT_FOUND,
			     "no extension %d of '%.*s'",
			     req->file_containing_extension->extension_number,
			     REFLECT_NAME_MAX,
			     req->file_containing_extension->containing_type);
		break;
	case REQ_CASE(ALL_EXTENSION_NUMBERS_OF_TYPE):
		answer_error(call, &rep, ITM_RPC_NOT_FOUND,
			     "no extensions of '%.*s'", REFLECT_NAME_MAX,
			     req->all_extension_numbers_of_type);
		break;
	default:
		answer_error(call, &rep, ITM_RPC_INVALID_ARGUMENT,
			     "empty request");
	}
}
