/* Error reporting for the whole project.
 *
 * Functions that can fail return 0 on success and -1 on failure after
 * recording a one-line message with cb_error(). The caller that reports to
 * the user (a subcommand) prints cb_last_error() once. Messages say what went
 * wrong, where (file:line when there is one) and how to fix it. */
#ifndef CB_BASE_ERROR_H
#define CB_BASE_ERROR_H

#include <stdarg.h>

#define CB_ERRMSG_MAX 2048

#if defined(__GNUC__)
#define CB_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CB_PRINTF(a, b)
#endif

/* Records the error message (replacing any previous one). Always returns -1
 * so that `return cb_error(...)` reads naturally. */
int cb_error(const char *fmt, ...) CB_PRINTF(1, 2);
int cb_verror(const char *fmt, va_list ap);

/* Prefixes the current message with context, e.g. "loading x.yaml: ". */
int cb_error_prefix(const char *fmt, ...) CB_PRINTF(1, 2);

const char *cb_last_error(void);
void cb_error_clear(void);

/* Allocation that reports instead of returning NULL silently. */
void *cb_malloc(unsigned long bytes, const char *what);
void *cb_calloc(unsigned long n, unsigned long size, const char *what);
char *cb_strdup(const char *s);

#endif
