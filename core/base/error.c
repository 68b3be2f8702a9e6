#include "core/base/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char g_msg[CB_ERRMSG_MAX];
static _Thread_local int g_code;

int cb_verror(const char *fmt, va_list ap) {
  g_code = 0;
  vsnprintf(g_msg, sizeof g_msg, fmt, ap);
  /* One line: fold any newline a callee put in. */
  for (char *p = g_msg; *p; p++)
    if (*p == '\n' || *p == '\r') *p = ' ';
  return -1;
}

int cb_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  cb_verror(fmt, ap);
  va_end(ap);
  return -1;
}

int cb_error_prefix(const char *fmt, ...) {
  char prefix[CB_ERRMSG_MAX / 2];
  char old[CB_ERRMSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  memcpy(old, g_msg, sizeof old);
  size_t pl = strlen(prefix);
  memcpy(g_msg, prefix, pl);
  size_t room = sizeof g_msg - pl - 1;
  size_t ol = strnlen(old, room);
  memcpy(g_msg + pl, old, ol);
  g_msg[pl + ol] = 0;
  return -1;
}

const char *cb_last_error(void) {
  return g_msg[0] ? g_msg : "unknown error";
}

void cb_error_clear(void) {
  g_msg[0] = 0;
  g_code = 0;
}

int cb_error_code(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  cb_verror(fmt, ap);
  va_end(ap);
  g_code = code;
  return -1;
}

int cb_last_error_code(void) {
  return g_code;
}

int cb_io_no_space(int errnum) {
  return errnum == ENOSPC || errnum == EDQUOT || errnum == EFBIG;
}

const char *cb_io_explain(int errnum) {
  switch (errnum) {
  case ENOSPC: return "the disk is full: free space and run the same command again";
  case EDQUOT: return "your disk quota is used up: free space and run the same command again";
  case EFBIG:
    return "the file reached the largest size allowed (`ulimit -f`, or the file system's "
           "limit): raise it and run the same command again";
  case EROFS: return "the file system is mounted read-only";
  case EACCES:
  case EPERM: return "permission denied: check the owner and mode of the file and its folder";
  case EIO: return "the device reported an I/O error: check the disk (dmesg) before going on";
  default: return NULL;
  }
}

int cb_io_error(int errnum, const char *fmt, ...) {
  char what[CB_ERRMSG_MAX / 2];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  const char *why = cb_io_explain(errnum);
  if (why)
    cb_error("%s: %s (%s)", what, strerror(errnum), why);
  else
    cb_error("%s: %s", what, strerror(errnum));
  if (cb_io_no_space(errnum)) g_code = CB_EXIT_NOSPACE;
  return -1;
}

void *cb_malloc(unsigned long bytes, const char *what) {
  void *p = malloc(bytes ? bytes : 1);
  if (!p) cb_error("out of memory allocating %lu bytes for %s", bytes, what);
  return p;
}

void *cb_calloc(unsigned long n, unsigned long size, const char *what) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p) cb_error("out of memory allocating %lu x %lu bytes for %s", n, size, what);
  return p;
}

char *cb_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = cb_malloc(n, "string");
  if (p) memcpy(p, s, n);
  return p;
}
