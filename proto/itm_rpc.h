/*
 * itm_rpc.h - the small gRPC C-core glue shared by every ITM binary.
 *
 * gRPC's completion queue has no pollable fd, so the server runs it on its
 * own thread and hands every decoded call to a libuv loop with
 * uv_async_send(): handlers always run on the loop thread, the same thread
 * as the packet path, and need no locks.  A handler answers now or later
 * (after other async work) with itm_rpc_reply()/itm_rpc_fail(); exactly one
 * of them must be called for every unary call.
 *
 * Methods are named by their ID in the table of itm_methods.h
 * (ITM_AGENT_GET_STATUS...), which gives their paths and message types.
 *
 * Addresses: "unix:/run/itm/agent.sock", "unix-abstract:name",
 * "127.0.0.1:7700", "[::1]:7700", "host:port".
 *
 * All functions return 0 or a negative errno value.
 */
#ifndef ITM_RPC_H
#define ITM_RPC_H

#include <stdint.h>
#include <uv.h>
#include <protobuf-c/protobuf-c.h>

#include "itm_methods.h"

#ifdef __cplusplus
extern "C" {
#endif

/* gRPC status codes (same values as grpc_status_code). */
enum itm_rpc_code {
	ITM_RPC_OK = 0,
	ITM_RPC_CANCELLED = 1,
	ITM_RPC_UNKNOWN = 2,
	ITM_RPC_INVALID_ARGUMENT = 3,
	ITM_RPC_DEADLINE_EXCEEDED = 4,
	ITM_RPC_NOT_FOUND = 5,
	ITM_RPC_ALREADY_EXISTS = 6,
	ITM_RPC_PERMISSION_DENIED = 7,
	ITM_RPC_RESOURCE_EXHAUSTED = 8,
	ITM_RPC_FAILED_PRECONDITION = 9,
	ITM_RPC_ABORTED = 10,
	ITM_RPC_OUT_OF_RANGE = 11,
	ITM_RPC_UNIMPLEMENTED = 12,
	ITM_RPC_INTERNAL = 13,
	ITM_RPC_UNAVAILABLE = 14,
	ITM_RPC_DATA_LOSS = 15,
	ITM_RPC_UNAUTHENTICATED = 16
};

const char *itm_rpc_code_name(int code); /* "INVALID_ARGUMENT" */

/* A deep copy of @m through the wire format (free it with
 * protobuf_c_message_free_unpacked); NULL when out of memory.  For
 * keeping a reply or request past the call that owns it. */
ProtobufCMessage *itm_rpc_msg_copy(const ProtobufCMessage *m);

/*
 * TLS material (PEM file paths).  A NULL struct pointer means plaintext.
 * Server: cert/key is the server's identity; with ca_file set, clients must
 * present a certificate signed by that CA (mutual TLS).
 * Client: ca_file verifies the server; cert/key is the client identity;
 * server_name overrides the name checked in the server certificate.
 */
struct itm_rpc_tls {
	const char *ca_file;
	const char *cert_file;
	const char *key_file;
	const char *server_name;
};

/*
 * Whether @addr ("host:port", "[v6]:port", "unix:...") is reachable from
 * this host only: unix sockets, 127.0.0.0/8, ::1, "localhost".  Servers
 * listen elsewhere only with mutual TLS, or with an explicit
 * --insecure-plaintext (and a warning in the log).
 */
int itm_rpc_addr_is_loopback(const char *addr);

/* ------------------------------------------------------------------ */
/* Server                                                               */
/* ------------------------------------------------------------------ */

struct itm_rpc_server;
struct itm_rpc_call;

typedef void (*itm_rpc_handler_cb)(struct itm_rpc_call *call, void *arg);

/* A method a server serves, and its handler. */
struct itm_rpc_method {
	enum itm_method id;
	itm_rpc_handler_cb handler;
};

/*
 * Create a server whose handlers run on @loop with @arg.  The list of
 * methods is not copied and must outlive the server; a method listed
 * twice or not in the table is -EINVAL.  Methods not listed get
 * UNIMPLEMENTED; requests that do not decode get INVALID_ARGUMENT;
 * neither reaches a handler.
 */
int itm_rpc_server_new(struct itm_rpc_server **out, uv_loop_t *loop,
		       const struct itm_rpc_method *methods, size_t n_methods,
		       void *arg);

/*
 * Listen on @addr (before itm_rpc_server_start()).  For unix sockets the
 * parent directory is created (0755), a lock file "<path>.lock" is held with
 * flock() so a second server fails with -EADDRINUSE instead of silently
 * taking over, a stale socket is removed, and the socket gets mode @mode
 * (0 = 0660).  TCP ports are bound without SO_REUSEPORT.
 */
int itm_rpc_server_listen(struct itm_rpc_server *srv, const char *addr,
			  const struct itm_rpc_tls *tls, unsigned int mode);

/* The port of the last TCP address listened on (useful with port 0), or 0. */
int itm_rpc_server_port(const struct itm_rpc_server *srv);

int itm_rpc_server_start(struct itm_rpc_server *srv);

/* Shut down: cancel calls in flight, join the thread, remove unix sockets
 * and lock files, free everything.  Must be called on the loop thread. */
void itm_rpc_server_free(struct itm_rpc_server *srv);

/* The decoded request (owned by the call; for a BIDI method, the current
 * message, valid until the handler returns, NULL once the client is done). */
const ProtobufCMessage *itm_rpc_request(const struct itm_rpc_call *call);
/* The methods of the server @call came to (its list, not copied). */
const struct itm_rpc_method *itm_rpc_call_methods(
	const struct itm_rpc_call *call, size_t *n);
const char *itm_rpc_method_path(const struct itm_rpc_call *call);
/* "unix:..." / "ipv4:1.2.3.4:5678" */
const char *itm_rpc_peer(const struct itm_rpc_call *call);
/* With mutual TLS: the client certificate's common name, else NULL. */
const char *itm_rpc_peer_identity(const struct itm_rpc_call *call);
/* Milliseconds left until the client's deadline (0 when it has passed),
 * or -1 when the client set none.  A server that calls others on the
 * client's behalf gives them no more than this. */
int64_t itm_rpc_deadline_left_ms(const struct itm_rpc_call *call);

/* Answer a unary call and free it. */
int itm_rpc_reply(struct itm_rpc_call *call, const ProtobufCMessage *reply);
/* Answer any call with an error status and free it. */
int itm_rpc_fail(struct itm_rpc_call *call, enum itm_rpc_code code,
		 const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * itm_rpc_fail() with @detail, a message with what the status message has
 * no room for (every fault of a topology): it travels in the trailing
 * metadata ITM_RPC_DETAIL_KEY (gRPC's richer error model), and
 * itm_rpc_call_detail() reads it back.  Clients that do not look for it
 * still get the status message.
 */
#define ITM_RPC_DETAIL_KEY "itm-detail-bin"
int itm_rpc_fail_detail(struct itm_rpc_call *call, enum itm_rpc_code code,
			const ProtobufCMessage *detail, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Server streaming: send one message (queued, in order); -ECANCELED once the
 * client went away.  End with itm_rpc_finish() (or itm_rpc_fail()). */
int itm_rpc_send(struct itm_rpc_call *call, const ProtobufCMessage *msg);

/*
 * Bidirectional streaming (a BIDI method): the handler runs once for each
 * message the client sends, in order, with itm_rpc_request() returning it;
 * the next message is read only after the handler returned (one message
 * at most is buffered per call).  Once the client half-closes, the handler
 * runs one last time with itm_rpc_request() == NULL and must end the call
 * with itm_rpc_finish() (or itm_rpc_fail()), which it may also do earlier.
 * It answers with itm_rpc_send() as often as it likes.  A message that
 * does not decode ends the call with INVALID_ARGUMENT, the client going
 * away with CANCELLED, both after the on_cancel callback: the handler
 * never sees them.  (gRPC core may report a client that went away as a
 * half-close: the handler then gets its NULL request instead of the
 * on_cancel callback, and its itm_rpc_finish() goes nowhere.)
 */
int itm_rpc_finish(struct itm_rpc_call *call);
/* Called on the loop thread when the client cancels or disconnects; after
 * it, the handler must still free the call with itm_rpc_finish(). */
void itm_rpc_on_cancel(struct itm_rpc_call *call,
		       void (*cb)(struct itm_rpc_call *call, void *arg),
		       void *arg);

/* ------------------------------------------------------------------ */
/* Client                                                               */
/* ------------------------------------------------------------------ */

struct itm_rpc_client;

/* Status messages up to ITM_RPC_MSG_MAX bytes travel whole (a controller
 * reports every fault of a topology file in one). */
#define ITM_RPC_MSG_MAX 4096

struct itm_rpc_status {
	int code; /* enum itm_rpc_code */
	char message[ITM_RPC_MSG_MAX];
};

int itm_rpc_client_new(struct itm_rpc_client **out, const char *target,
		       const struct itm_rpc_tls *tls);
void itm_rpc_client_free(struct itm_rpc_client *c);

/*
 * Blocking unary call of @m with @req, a message of @m's request type.
 * On ITM_RPC_OK, *@reply is a message of @m's reply type owned by the
 * caller (protobuf_c_message_free_unpacked(*reply, NULL)).  Returns 0 on
 * OK, -EINVAL for a method that is not unary or a request of another
 * type, else -EIO with @st filled.  Safe to call from any thread, one
 * call per client at a time.
 */
int itm_rpc_call(struct itm_rpc_client *c, enum itm_method m,
		 const ProtobufCMessage *req, ProtobufCMessage **reply,
		 int timeout_ms, struct itm_rpc_status *st);
/*
 * itm_rpc_call() that also reads the detail a failing server attached
 * (itm_rpc_fail_detail()): on -EIO, *@detail is a message of @detail_desc
 * owned by the caller when the server sent one that decodes, else NULL.
 */
int itm_rpc_call_detail(struct itm_rpc_client *c, enum itm_method m,
			const ProtobufCMessage *req, ProtobufCMessage **reply,
			int timeout_ms, struct itm_rpc_status *st,
			const ProtobufCMessageDescriptor *detail_desc,
			ProtobufCMessage **detail);
/*
 * itm_rpc_call() by path, untyped: for tests that send what ITM's clients
 * never do (a method no server has, a request of another type).  @path is
 * "/itm.v1.Service/Method"; the reply decodes as @reply_desc.
 */
int itm_rpc_call_path(struct itm_rpc_client *c, const char *path,
		      const ProtobufCMessage *req,
		      const ProtobufCMessageDescriptor *reply_desc,
		      ProtobufCMessage **reply, int timeout_ms,
		      struct itm_rpc_status *st);

/*
 * Asynchronous unary call; @done runs on @loop with the reply (owned by
 * @done's caller: freed after @done returns) or NULL and a status.  Many
 * calls may be in flight at once on one or several clients.
 */
typedef void (*itm_rpc_done_cb)(void *arg, const struct itm_rpc_status *st,
				const ProtobufCMessage *reply);
int itm_rpc_call_async(struct itm_rpc_client *c, uv_loop_t *loop,
		       enum itm_method m, const ProtobufCMessage *req,
		       int timeout_ms, itm_rpc_done_cb done, void *arg);

/*
 * Blocking server-streaming call of @m (a STREAM method): @on_msg is
 * called for each message (on the calling thread) until the stream ends,
 * @on_msg returns non-zero (cancels), or @timeout_ms passes (0 = none).
 */
int itm_rpc_stream(struct itm_rpc_client *c, enum itm_method m,
		   const ProtobufCMessage *req,
		   int (*on_msg)(void *arg, const ProtobufCMessage *msg),
		   void *arg, int timeout_ms, struct itm_rpc_status *st);

/*
 * Bidirectional streaming, asynchronous: a stream on @path (any service,
 * e.g. "/etcdserverpb.Watch/Watch") whose messages and end are delivered
 * on @loop, like itm_rpc_call_async()'s replies (open it on @loop's
 * thread).  No deadline: a stream lives until either side ends it.
 * @on_msg runs for each message received, in order (the message is
 * freed after it returns); @on_end runs once, last, with the final
 * status (a message that does not decode as @reply: INTERNAL), and the
 * stream is freed after it returns.  An open stream keeps @loop alive.
 * @metadata: NULL or "key", "value", ..., NULL sent with the request's
 * headers.
 */
struct itm_rpc_bidi;

struct itm_rpc_bidi_opts {
	const ProtobufCMessageDescriptor *reply;
	const char *const *metadata;
	void (*on_msg)(void *arg, const ProtobufCMessage *msg);
	void (*on_end)(void *arg, const struct itm_rpc_status *st);
	void *arg;
	/* gRPC's wait-for-ready: while the channel cannot connect, the
	 * stream waits for it (until cancelled) instead of ending
	 * UNAVAILABLE at once. */
	int wait_for_ready;
};

int itm_rpc_bidi_open(struct itm_rpc_client *c, uv_loop_t *loop,
		      const char *path, const struct itm_rpc_bidi_opts *o,
		      struct itm_rpc_bidi **out);
/* Send @msg (queued, in order; on @loop's thread); -ECANCELED once the
 * stream ended, was cancelled or half-closed. */
int itm_rpc_bidi_send(struct itm_rpc_bidi *s, const ProtobufCMessage *msg);
/* Half-close: no more messages from us; the server's still come. */
int itm_rpc_bidi_close_send(struct itm_rpc_bidi *s);
/* Cancel (on @loop's thread): no message is delivered after this, and
 * @on_end follows (CANCELLED, unless the stream had ended already).
 * itm_rpc_client_free() cancels the client's streams and runs their
 * @on_end before it returns. */
void itm_rpc_bidi_cancel(struct itm_rpc_bidi *s);

#ifdef __cplusplus
}
#endif

#endif /* ITM_RPC_H */
