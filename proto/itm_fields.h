/*
 * itm_fields.h - one validation per kind of string field, and the escaping
 * of untrusted text before it is logged or printed.
 *
 * Every request a server of libitmproto receives is checked here on the
 * wire, before it is decoded and before any handler sees it (rpc_server.c),
 * so one fault gets one status and one message whatever the RPC:
 * INVALID_ARGUMENT "FIELD: WHAT", FIELD the path of the field in the
 * request ("params[1]", "interest.saddr[0]").  A string field is refused
 * when it holds a NUL byte, is not valid UTF-8, holds a control character
 * (C0, DEL, C1; tab, newline and carriage return are allowed in YAML text
 * only) or a bidirectional formatting character (U+202A..U+202E,
 * U+2066..U+2069; allowed in YAML text only), or is longer than its kind
 * allows (bytes):
 *
 *   kind      fields                                    at most
 *   name      name, module, label, kind, class_names    31
 *   node      node, RoutesRequest.destination           32
 *   param     params ("key=value")                      256
 *   yaml      yaml                                      ITM_TOPOLOGY_MAX_BYTES
 *   filename  filename                                  1024
 *   text      any other string field (Counter.name too)  1024
 *
 * Handlers keep the checks only they can make (is it a known module, a
 * valid prefix...).
 */
#ifndef ITM_FIELDS_H
#define ITM_FIELDS_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

#ifdef __cplusplus
extern "C" {
#endif

enum itm_field_kind {
	ITM_FIELD_TEXT = 0,
	ITM_FIELD_NAME,
	ITM_FIELD_NODE,
	ITM_FIELD_PARAM,
	ITM_FIELD_YAML,
	ITM_FIELD_FILENAME,
};

#define ITM_FIELD_NAME_MAX     31
#define ITM_FIELD_NODE_MAX     32
#define ITM_FIELD_PARAM_MAX    256
#define ITM_FIELD_FILENAME_MAX 1024
#define ITM_FIELD_TEXT_MAX     1024

/* The kind of string field @field_name of @message (short name, may be
 * NULL), by their names in itm.proto. */
enum itm_field_kind itm_field_kind_of(const char *message,
				      const char *field_name);
/* Its length cap in bytes. */
size_t itm_field_max(enum itm_field_kind kind);

/*
 * Check @len bytes at @s as a field of @kind; 0, or -EINVAL with "WHAT"
 * (no field name) in @err: "contains a NUL byte", "not valid UTF-8 at
 * byte 3", "control character 0x0a at byte 5", "longer than 31 bytes".
 */
int itm_field_check(enum itm_field_kind kind, const char *s, size_t len,
		    char *err, size_t errlen);

/*
 * Check every string field of the encoded message @buf (@len bytes) of
 * type @desc, nested messages included; 0, or -EINVAL with "FIELD: WHAT"
 * in @err.  Bytes that do not parse as protobuf are left for the decoder
 * to refuse.
 */
int itm_fields_check_wire(const ProtobufCMessageDescriptor *desc,
			  const uint8_t *buf, size_t len, char *err,
			  size_t errlen);

/*
 * Untrusted text made safe to log or print on one line: printable ASCII
 * and valid UTF-8 other than control and bidi characters are kept, a
 * backslash becomes "\\", anything else "\xHH" (bytes) or "\u{HHHH}"
 * (characters); at most @max input bytes are shown, then "...(N bytes)".
 * Always NUL-terminates @out (when @outlen > 0); returns @out.
 */
#define ITM_ESCAPE_MAX 200
char *itm_text_escape(const char *s, size_t max, char *out, size_t outlen);

/* itm_text_escape() of every line of @s, the newlines kept, no cap but
 * @outlen (status messages: a fault per line). */
char *itm_text_escape_lines(const char *s, char *out, size_t outlen);

/* itm_text_escape() into a buffer of the caller's scope, for printf. */
#define ITM_ESC(s, buf) itm_text_escape((s), ITM_ESCAPE_MAX, (buf), sizeof(buf))
#define ITM_ESC_BUF	(ITM_ESCAPE_MAX * 10 + 32)

#ifdef __cplusplus
}
#endif

#endif /* ITM_FIELDS_H */
