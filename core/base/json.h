/* A small streaming JSON writer for `--json` output, run configs and
 * safetensors headers. It tracks commas and nesting so callers cannot emit
 * malformed JSON by forgetting a separator. Numbers are printed with enough
 * digits to round-trip (%.17g for doubles) and non-finite values become null
 * because JSON has no NaN. */
#ifndef CB_BASE_JSON_H
#define CB_BASE_JSON_H

#include <stdint.h>
#include <stdio.h>

#define CB_JSON_MAX_DEPTH 32

typedef struct {
  FILE *f;   /* when writing to a stream */
  char *buf; /* when writing to memory (grown with realloc) */
  size_t len, cap;
  int depth;
  int count[CB_JSON_MAX_DEPTH]; /* items written at each level */
  int after_key;
  int oom;
} cb_json;

void cb_json_init_file(cb_json *j, FILE *f);
void cb_json_init_mem(cb_json *j);
/* Returns the NUL-terminated text written to memory (owned by j). */
const char *cb_json_text(const cb_json *j);
void cb_json_free(cb_json *j);

void cb_json_obj_begin(cb_json *j);
void cb_json_obj_end(cb_json *j);
void cb_json_arr_begin(cb_json *j);
void cb_json_arr_end(cb_json *j);
void cb_json_key(cb_json *j, const char *key);
void cb_json_str(cb_json *j, const char *s);
void cb_json_num(cb_json *j, double v);
void cb_json_int(cb_json *j, int64_t v);
void cb_json_bool(cb_json *j, int v);
void cb_json_null(cb_json *j);
/* Inserts already-formatted JSON (e.g. a nested document). */
void cb_json_raw(cb_json *j, const char *raw);

/* Shorthands for "key": value pairs. */
void cb_json_kv_str(cb_json *j, const char *k, const char *v);
void cb_json_kv_num(cb_json *j, const char *k, double v);
void cb_json_kv_int(cb_json *j, const char *k, int64_t v);
void cb_json_kv_bool(cb_json *j, const char *k, int v);

/* Writes s as a JSON string literal (with quotes) to f. */
void cb_json_fput_string(FILE *f, const char *s);

#endif
