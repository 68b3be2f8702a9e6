/* A small strict JSON parser (RFC 8259) into a tree, for safetensors headers
 * and the JSON documents kept in checkpoint metadata. It is written for
 * untrusted input: bounded nesting, exact integer parsing, rejection of
 * anything RFC 8259 does not allow, and errors that give the byte offset. */
#ifndef CB_IO_JSON_PARSE_H
#define CB_IO_JSON_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define CB_JV_MAX_DEPTH 64

typedef enum { CB_JV_NULL, CB_JV_BOOL, CB_JV_NUM, CB_JV_STR, CB_JV_ARR, CB_JV_OBJ } cb_jv_kind;

typedef struct cb_jv {
  cb_jv_kind kind;
  int boolean;
  double num;
  int is_int;          /* the number is an integer literal that fits in int64 */
  int64_t i;           /* its value */
  char *str;           /* NUL-terminated UTF-8; \u0000 is rejected */
  struct cb_jv *items; /* array items or object values */
  char **keys;         /* object keys (parallel to items) */
  int n;
} cb_jv;

/* Parses text[0..len) into *out. Returns 0, or -1 with cb_error set to
 * "<what>: <problem> at byte <offset>". Free with cb_jv_free even on error. */
int cb_jv_parse(const char *text, size_t len, const char *what, cb_jv *out);
void cb_jv_free(cb_jv *v);

/* The value of key in an object (the first if repeated), or NULL. */
const cb_jv *cb_jv_get(const cb_jv *obj, const char *key);
const char *cb_jv_kind_name(cb_jv_kind k);

#endif
