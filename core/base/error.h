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

/* Exit statuses besides 1 (any failure): a usage error on the command line,
 * an interruption by SIGINT/SIGTERM (128 + SIGINT, as shells report Ctrl-C),
 * and "no space left" (EX_TEMPFAIL: run again once space is freed). */
enum { CB_EXIT_USAGE = 2, CB_EXIT_NOSPACE = 75, CB_EXIT_INTERRUPTED = 130 };
/* cb_error() that also sets the exit status the command should end with. A
 * later cb_error() resets it to the default; cb_error_prefix() keeps it. */
int cb_error_code(int code, const char *fmt, ...) CB_PRINTF(2, 3);
/* The exit status of the recorded error: 0 = the default (1). */
int cb_last_error_code(void);

/* What an errno from reading or writing a file means for the user, with the
 * fix ("the disk is full: free space and run again"), or NULL when strerror
 * says all there is. */
const char *cb_io_explain(int errnum);
/* Whether errnum means the disk (or quota, or file size limit) is full: the
 * run is not at fault and can resume once there is space. */
int cb_io_no_space(int errnum);
/* Records "what: strerror(errnum) (explanation)"; a full disk sets the exit
 * status CB_EXIT_NOSPACE. Returns -1. */
int cb_io_error(int errnum, const char *fmt, ...) CB_PRINTF(2, 3);

/* Allocation that reports instead of returning NULL silently. */
void *cb_malloc(unsigned long bytes, const char *what);
void *cb_calloc(unsigned long n, unsigned long size, const char *what);
char *cb_strdup(const char *s);

#endif
