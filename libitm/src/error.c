/*
 * error.c - error text: the last error message of each thread and the
 * strerror() of libitm's negative errno returns.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "itm.h"
#include "error.h"

static __thread char last_error[256];

void
itm__set_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
}

const char *
itm_last_error(void)
{
	return last_error;
}

/* Accepts -errno (as returned) or errno. */
const char *
itm_strerror(int err)
{
	const char *s;

	if (err == 0)
		return "Success";
	if (err == INT_MIN)
		return "Unknown error";
	if (err < 0)
		err = -err;
	if (err == EBADMSG)
		return "Malformed packet";
	s = strerrordesc_np(err);
	return s != NULL ? s : "Unknown error";
}
