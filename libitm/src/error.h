/*
 * error.h - the thread-local "last error" message behind itm_last_error().
 */
#ifndef ITM_ERROR_H
#define ITM_ERROR_H

void itm__set_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

#endif /* ITM_ERROR_H */
