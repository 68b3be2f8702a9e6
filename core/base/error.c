#include "core/base/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char g_msg[CB_ERRMSG_MAX];

int cb_verror(const char *fmt, va_list ap) {
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
