#include "core/base/json.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void cb_json_init_file(cb_json *j, FILE *f) {
  memset(j, 0, sizeof *j);
  j->f = f;
}

void cb_json_init_mem(cb_json *j) {
  memset(j, 0, sizeof *j);
}

const char *cb_json_text(const cb_json *j) {
  return j->buf ? j->buf : "";
}

void cb_json_free(cb_json *j) {
  free(j->buf);
  j->buf = NULL;
  j->len = j->cap = 0;
}

static void put(cb_json *j, const char *s, size_t n) {
  if (j->f) {
    fwrite(s, 1, n, j->f);
    return;
  }
  if (j->oom) return;
  if (j->len + n + 1 > j->cap) {
    size_t cap = j->cap ? j->cap : 256;
    while (cap < j->len + n + 1)
      cap *= 2;
    char *nb = realloc(j->buf, cap);
    if (!nb) {
      j->oom = 1;
      return;
    }
    j->buf = nb;
    j->cap = cap;
  }
  memcpy(j->buf + j->len, s, n);
  j->len += n;
  j->buf[j->len] = 0;
}

static void puts_(cb_json *j, const char *s) {
  put(j, s, strlen(s));
}

static void putf(cb_json *j, const char *fmt, ...) {
  char tmp[64];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n > 0) put(j, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Writes the separator a new value needs at the current level. */
static void sep(cb_json *j) {
  if (j->after_key) {
    j->after_key = 0;
    return;
  }
  if (j->depth > 0 && j->count[j->depth]++ > 0) puts_(j, ",");
}

static void escaped(cb_json *j, const char *s) {
  puts_(j, "\"");
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    switch (*p) {
    case '"': puts_(j, "\\\""); break;
    case '\\': puts_(j, "\\\\"); break;
    case '\n': puts_(j, "\\n"); break;
    case '\r': puts_(j, "\\r"); break;
    case '\t': puts_(j, "\\t"); break;
    default:
      if (*p < 0x20)
        putf(j, "\\u%04x", *p);
      else
        put(j, (const char *)p, 1);
    }
  }
  puts_(j, "\"");
}

void cb_json_obj_begin(cb_json *j) {
  sep(j);
  puts_(j, "{");
  if (j->depth + 1 < CB_JSON_MAX_DEPTH) j->count[++j->depth] = 0;
}

void cb_json_obj_end(cb_json *j) {
  puts_(j, "}");
  if (j->depth > 0) j->depth--;
}

void cb_json_arr_begin(cb_json *j) {
  sep(j);
  puts_(j, "[");
  if (j->depth + 1 < CB_JSON_MAX_DEPTH) j->count[++j->depth] = 0;
}

void cb_json_arr_end(cb_json *j) {
  puts_(j, "]");
  if (j->depth > 0) j->depth--;
}

void cb_json_key(cb_json *j, const char *key) {
  sep(j);
  escaped(j, key);
  puts_(j, ":");
  j->after_key = 1;
}

void cb_json_str(cb_json *j, const char *s) {
  sep(j);
  if (!s) {
    puts_(j, "null");
    return;
  }
  escaped(j, s);
}

void cb_json_num(cb_json *j, double v) {
  sep(j);
  if (!isfinite(v)) {
    puts_(j, "null");
    return;
  }
  /* Shortest representation that round-trips. */
  char tmp[40];
  for (int prec = 6; prec <= 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*g", prec, v);
    if (strtod(tmp, NULL) == v) break;
  }
  puts_(j, tmp);
}

void cb_json_int(cb_json *j, int64_t v) {
  sep(j);
  putf(j, "%lld", (long long)v);
}

void cb_json_bool(cb_json *j, int v) {
  sep(j);
  puts_(j, v ? "true" : "false");
}

void cb_json_null(cb_json *j) {
  sep(j);
  puts_(j, "null");
}

void cb_json_raw(cb_json *j, const char *raw) {
  sep(j);
  puts_(j, raw);
}

void cb_json_kv_str(cb_json *j, const char *k, const char *v) {
  cb_json_key(j, k);
  cb_json_str(j, v);
}
void cb_json_kv_num(cb_json *j, const char *k, double v) {
  cb_json_key(j, k);
  cb_json_num(j, v);
}
void cb_json_kv_int(cb_json *j, const char *k, int64_t v) {
  cb_json_key(j, k);
  cb_json_int(j, v);
}
void cb_json_kv_bool(cb_json *j, const char *k, int v) {
  cb_json_key(j, k);
  cb_json_bool(j, v);
}

void cb_json_fput_string(FILE *f, const char *s) {
  cb_json j;
  cb_json_init_file(&j, f);
  cb_json_str(&j, s);
}
