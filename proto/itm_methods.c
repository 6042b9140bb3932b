/*
 * itm_methods.c - the method table of itm_methods.h, built from
 * ITM_METHODS with protobuf-c's descriptors.
 */
#include <stddef.h>

#include "health.pb-c.h"
#include "itm.pb-c.h"
#include "itm_methods.h"
#include "reflection.pb-c.h"

#define ITM__METHOD_DEF(id, svc, meth, req, rep, k)               \
	[ITM_##id] = {                                            \
		.path = "/" ITM_PROTO_PACKAGE "." #svc "/" #meth, \
		.service = ITM_PROTO_PACKAGE "." #svc,            \
		.name = #meth,                                    \
		.request = &itm__v1__##req##__descriptor,         \
		.reply = &itm__v1__##rep##__descriptor,           \
		.kind = ITM_METHOD_##k,                           \
	},

#define ITM__STD_METHOD_DEF(id, svc, meth, req, rep, k) \
	[ITM_##id] = {                                  \
		.path = "/" svc "/" #meth,              \
		.service = svc,                         \
		.name = #meth,                          \
		.request = &req##__descriptor,          \
		.reply = &rep##__descriptor,            \
		.kind = ITM_METHOD_##k,                 \
	},

/* clang-format off */
static const struct itm_method_def defs[ITM_METHOD_MAX] = {
	ITM_METHODS(ITM__METHOD_DEF)
	ITM_STD_METHODS(ITM__STD_METHOD_DEF)
};
/* clang-format on */

const struct itm_method_def *
itm_method_def(enum itm_method m)
{
	if ((unsigned int)m >= ITM_METHOD_MAX)
		return NULL;
	return &defs[m];
}
