/*
 * itm_fields.c - string fields from the wire: kinds, checks, escaping.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "itm_fields.h"
#include "itm_methods.h"

/* Nested messages deeper than this are refused (itm.proto nests 3). */
#define FIELDS_DEPTH_MAX 8

/* By field name; "Message.field" entries (short message name) first. */
static const struct {
	const char *name;
	enum itm_field_kind kind;
} field_kinds[] = {
	{ "Counter.name", ITM_FIELD_TEXT }, /* a process module's, 47 */
	{ "RoutesRequest.destination", ITM_FIELD_NODE },
	{ "name", ITM_FIELD_NAME },
	{ "module", ITM_FIELD_NAME },
	{ "label", ITM_FIELD_NAME },
	{ "kind", ITM_FIELD_NAME },
	{ "class_names", ITM_FIELD_NAME },
	{ "node", ITM_FIELD_NODE },
	{ "params", ITM_FIELD_PARAM },
	{ "yaml", ITM_FIELD_YAML },
	{ "filename", ITM_FIELD_FILENAME },
};

enum itm_field_kind
itm_field_kind_of(const char *message, const char *field_name)
{
	char full[128];

	snprintf(full, sizeof(full), "%s.%s", message ? message : "",
		 field_name);
	for (size_t i = 0; i < sizeof(field_kinds) / sizeof(field_kinds[0]);
	     i++)
		if (strcmp(field_kinds[i].name, full) == 0 ||
		    strcmp(field_kinds[i].name, field_name) == 0)
			return field_kinds[i].kind;
	return ITM_FIELD_TEXT;
}

size_t
itm_field_max(enum itm_field_kind kind)
{
	switch (kind) {
	case ITM_FIELD_NAME: return ITM_FIELD_NAME_MAX;
	case ITM_FIELD_NODE: return ITM_FIELD_NODE_MAX;
	case ITM_FIELD_PARAM: return ITM_FIELD_PARAM_MAX;
	case ITM_FIELD_YAML: return ITM_TOPOLOGY_MAX_BYTES;
	case ITM_FIELD_FILENAME: return ITM_FIELD_FILENAME_MAX;
	default: return ITM_FIELD_TEXT_MAX;
	}
}

/* Decode one UTF-8 character at @s (@n bytes left): its length, or 0
 * when it is not valid (overlong, surrogate, past U+10FFFF, cut). */
static size_t
utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t c, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0)
		len = 2, c = s[0] & 0x1f, min = 0x80;
	else if ((s[0] & 0xf0) == 0xe0)
		len = 3, c = s[0] & 0x0f, min = 0x800;
	else if ((s[0] & 0xf8) == 0xf0)
		len = 4, c = s[0] & 0x07, min = 0x10000;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

static int
is_control(uint32_t c)
{
	return c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f);
}

static int
is_bidi(uint32_t c)
{
	return (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) ||
	       c == 0x200e || c == 0x200f || c == 0x061c;
}

/* What is wrong with character @c of a field of @kind, or NULL. */
static const char *
char_fault(enum itm_field_kind kind, uint32_t c)
{
	if (c == 0)
		return "contains a NUL byte";
	if (kind == ITM_FIELD_YAML)
		return is_control(c) && c != '\t' && c != '\n' && c != '\r'
			       ? "control character"
			       : NULL;
	if (is_control(c))
		return "control character";
	if (is_bidi(c))
		return "bidirectional formatting character";
	return NULL;
}

int
itm_field_check(enum itm_field_kind kind, const char *s, size_t len, char *err,
		size_t errlen)
{
	const unsigned char *u = (const unsigned char *)s;
	const char *why;
	uint32_t c;

	if (len > itm_field_max(kind)) {
		snprintf(err, errlen, "longer than %zu bytes",
			 itm_field_max(kind));
		return -EINVAL;
	}
	for (size_t i = 0, n; i < len; i += n) {
		if ((n = utf8_next(u + i, len - i, &c)) == 0) {
			snprintf(err, errlen, "not valid UTF-8 at byte %zu", i);
			return -EINVAL;
		}
		if ((why = char_fault(kind, c)) == NULL)
			continue;
		if (c == 0)
			snprintf(err, errlen, "%s", why);
		else
			snprintf(err, errlen, "%s U+%04X at byte %zu", why,
				 (unsigned int)c, i);
		return -EINVAL;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* The wire walk                                                        */
/* ------------------------------------------------------------------ */

struct wire {
	const uint8_t *p, *end;
};

static int
wire_varint(struct wire *w, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64 && w->p < w->end; shift += 7) {
		uint8_t b = *w->p++;

		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
	}
	return -1;
}

/* Skip a field's value of wire type @wt; a length-delimited value is
 * returned in @data and @n. */
static int
wire_skip(struct wire *w, unsigned int wt, const uint8_t **data, size_t *n)
{
	uint64_t v;
	size_t fixed = wt == 1 ? 8 : wt == 5 ? 4 : 0;

	if (wt == 0)
		return wire_varint(w, &v);
	if (fixed) {
		if ((size_t)(w->end - w->p) < fixed)
			return -1;
		w->p += fixed;
		return 0;
	}
	if (wt != 2 || wire_varint(w, &v) < 0 || v > (uint64_t)(w->end - w->p))
		return -1;
	*data = w->p, *n = (size_t)v;
	w->p += v;
	return 0;
}

static int check_msg(const ProtobufCMessageDescriptor *desc, struct wire w,
		     char *path, size_t pathlen, int depth, char *err,
		     size_t errlen);

/* One length-delimited value of field @f, whose path is in @path. */
static int
check_value(const ProtobufCMessageDescriptor *desc,
	    const ProtobufCFieldDescriptor *f, const uint8_t *data, size_t n,
	    char *path, size_t pathlen, int depth, char *err, size_t errlen)
{
	char why[128];

	if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
		struct wire sub = { data, data + n };

		if (depth >= FIELDS_DEPTH_MAX) {
			snprintf(err, errlen, "%s: nested too deep", path);
			return -EINVAL;
		}
		return check_msg(f->descriptor, sub, path, pathlen, depth + 1,
				 err, errlen);
	}
	if (f->type != PROTOBUF_C_TYPE_STRING)
		return 0;
	if (itm_field_check(itm_field_kind_of(desc->short_name, f->name),
			    (const char *)data, n, why, sizeof(why)) == 0)
		return 0;
	snprintf(err, errlen, "%s: %s", path, why);
	return -EINVAL;
}

/* Append field @f (its @idx-th value when repeated) to @path. */
static void
path_push(char *path, size_t pathlen, const ProtobufCFieldDescriptor *f,
	  unsigned int idx)
{
	size_t at = strlen(path);

	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		snprintf(path + at, pathlen - at, "%s%s[%u]", at ? "." : "",
			 f->name, idx);
	else
		snprintf(path + at, pathlen - at, "%s%s", at ? "." : "",
			 f->name);
}

static int
check_msg(const ProtobufCMessageDescriptor *desc, struct wire w, char *path,
	  size_t pathlen, int depth, char *err, size_t errlen)
{
	unsigned int seen[64] = { 0 };
	size_t at = strlen(path);

	while (w.p < w.end) {
		const ProtobufCFieldDescriptor *f;
		const uint8_t *data = NULL;
		uint64_t tag;
		size_t n = 0, fi;
		int rc;

		if (wire_varint(&w, &tag) < 0 ||
		    wire_skip(&w, (unsigned int)(tag & 7), &data, &n) < 0)
			return 0; /* the decoder refuses it */
		f = tag >> 3 <= UINT32_MAX
			    ? protobuf_c_message_descriptor_get_field(
				      desc, (unsigned int)(tag >> 3))
			    : NULL;
		if (f == NULL || data == NULL)
			continue;
		fi = (size_t)(f - desc->fields);
		path_push(path, pathlen, f, fi < 64 ? seen[fi]++ : 0);
		rc = check_value(desc, f, data, n, path, pathlen, depth, err,
				 errlen);
		path[at] = '\0';
		if (rc < 0)
			return rc;
	}
	return 0;
}

int
itm_fields_check_wire(const ProtobufCMessageDescriptor *desc,
		      const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	struct wire w = { buf, buf + len };
	char path[256] = "";

	return check_msg(desc, w, path, sizeof(path), 0, err, errlen);
}

/* ------------------------------------------------------------------ */
/* Escaping                                                             */
/* ------------------------------------------------------------------ */

struct esc_out {
	char *p;
	size_t left;
};

static int
esc_put(struct esc_out *o, const char *s, size_t n)
{
	if (n + 1 > o->left)
		return -1;
	memcpy(o->p, s, n);
	o->p += n, o->left -= n;
	*o->p = '\0';
	return 0;
}

/* "\xHH" for a byte or an ASCII control, "\u{HHHH}" for a character. */
static int
esc_code(struct esc_out *o, uint32_t v, int byte)
{
	char tmp[16];
	int k = byte ? snprintf(tmp, sizeof(tmp), "\\x%02x", (unsigned int)v)
		     : snprintf(tmp, sizeof(tmp), "\\u{%04X}", (unsigned int)v);

	return esc_put(o, tmp, (size_t)k);
}

/* One character (or bad byte) at @u, @n bytes left; bytes consumed. */
static size_t
esc_one(struct esc_out *o, const unsigned char *u, size_t n, int *full)
{
	uint32_t c;
	size_t k = utf8_next(u, n, &c);

	if (k == 0)
		*full = esc_code(o, u[0], 1), k = 1;
	else if (c == '\\')
		*full = esc_put(o, "\\\\", 2);
	else if (is_control(c) || is_bidi(c))
		*full = esc_code(o, c, c < 0x80);
	else
		*full = esc_put(o, (const char *)u, k);
	return k;
}

/* Escape @len bytes at @u into @o, showing at most @max of them. */
static void
esc_span(struct esc_out *o, const unsigned char *u, size_t len, size_t max)
{
	char *start = o->p, tail[48];
	size_t i = 0;
	int full = 0, k;

	while (i < len && i < max && !full)
		i += esc_one(o, u + i, len - i, &full);
	if (i >= len)
		return;
	k = snprintf(tail, sizeof(tail), "...(%zu bytes)", len);
	if ((size_t)k + 1 > o->left) { /* make room for the tail */
		size_t back = (size_t)k + 1 - o->left;

		back = back > (size_t)(o->p - start) ? (size_t)(o->p - start)
						     : back;
		o->p -= back, o->left += back;
		*o->p = '\0';
	}
	esc_put(o, tail, (size_t)k);
}

char *
itm_text_escape(const char *s, size_t max, char *out, size_t outlen)
{
	struct esc_out o = { out, outlen };
	const char *t = s ? s : "";

	if (outlen == 0)
		return out;
	*out = '\0';
	esc_span(&o, (const unsigned char *)t, strlen(t), max);
	return out;
}

char *
itm_text_escape_lines(const char *s, char *out, size_t outlen)
{
	struct esc_out o = { out, outlen };
	const char *t = s ? s : "", *nl;

	if (outlen == 0)
		return out;
	*out = '\0';
	for (; (nl = strchr(t, '\n')) != NULL; t = nl + 1) {
		esc_span(&o, (const unsigned char *)t, (size_t)(nl - t),
			 SIZE_MAX);
		esc_put(&o, "\n", 1);
	}
	esc_span(&o, (const unsigned char *)t, strlen(t), SIZE_MAX);
	return out;
}
