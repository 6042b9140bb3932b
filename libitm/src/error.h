/*
 * error.h - libitm-internal: set the message itm_last_error() returns.
 *
 * A failing call sets a message on its thread before returning its
 * negative errno; the message names the field or argument at fault.
 */
#ifndef ITM_ERROR_H
#define ITM_ERROR_H

/* Format the current thread's last error message (truncated to fit). */
void itm__set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* ITM_ERROR_H */
