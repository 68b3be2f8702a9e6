/* The strict JSON parser (safetensors headers, checkpoint metadata):
 * cb_jv_parse on the input.
 *
 * Differential: a document that parses, written again with our JSON writer
 * (core/base/json.h, which writes configurations, points and headers),
 * parses to the same tree: same kinds, keys, strings, booleans, integers
 * and bit-identical numbers (a whole double may come back as an integer
 * literal). A failure is one line naming the document. */
#include "core/base/error.h"
#include "core/base/json.h"
#include "core/io/json_parse.h"
#include "tests/fuzz/fuzz.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "fuzz_document.json"

static void emit(cb_json *j, const cb_jv *v) {
  switch (v->kind) {
  case CB_JV_NULL: cb_json_null(j); break;
  case CB_JV_BOOL: cb_json_bool(j, v->boolean); break;
  case CB_JV_NUM:
    if (v->is_int)
      cb_json_int(j, v->i);
    else
      cb_json_num(j, v->num);
    break;
  case CB_JV_STR: cb_json_str(j, v->str); break;
  case CB_JV_ARR:
    cb_json_arr_begin(j);
    for (int k = 0; k < v->n; k++)
      emit(j, &v->items[k]);
    cb_json_arr_end(j);
    break;
  case CB_JV_OBJ:
    cb_json_obj_begin(j);
    for (int k = 0; k < v->n; k++) {
      cb_json_key(j, v->keys[k]);
      emit(j, &v->items[k]);
    }
    cb_json_obj_end(j);
    break;
  }
}

static int same(const cb_jv *a, const cb_jv *b) {
  if (a->kind != b->kind || a->n != b->n) return 0;
  switch (a->kind) {
  case CB_JV_NULL: return 1;
  case CB_JV_BOOL: return a->boolean == b->boolean;
  case CB_JV_NUM:
    /* 5.0 is written as 5 (then an integer literal), -0.0 as -0: the value
     * is what must survive. */
    if (a->is_int && b->is_int && a->i != b->i) return 0;
    return memcmp(&a->num, &b->num, sizeof a->num) == 0 || (a->num == 0 && b->num == 0);
  case CB_JV_STR: return strcmp(a->str, b->str) == 0;
  case CB_JV_ARR:
  case CB_JV_OBJ:
    for (int k = 0; k < a->n; k++) {
      if (a->kind == CB_JV_OBJ && strcmp(a->keys[k], b->keys[k]) != 0) return 0;
      if (!same(&a->items[k], &b->items[k])) return 0;
    }
    return 1;
  }
  return 0;
}

static void check_tree(const cb_jv *v, int depth) {
  CB_FUZZ_CHECK(depth <= CB_JV_MAX_DEPTH + 1, "tree deeper than the limit");
  if (v->kind == CB_JV_NUM) CB_FUZZ_CHECK(isfinite(v->num), "non-finite number %g", v->num);
  if (v->kind == CB_JV_STR) CB_FUZZ_CHECK(v->str != NULL, "string without text");
  for (int k = 0; k < v->n; k++) {
    if (v->kind == CB_JV_OBJ) CB_FUZZ_CHECK(v->keys[k] != NULL, "key without text");
    check_tree(&v->items[k], depth + 1);
  }
}

int cb_fuzz_json(const uint8_t *data, size_t size) {
  cb_jv v, w;
  cb_error_clear();
  if (cb_jv_parse((const char *)data, size, NAME, &v)) {
    cb_fuzz_check_error("cb_jv_parse", NAME);
    cb_jv_free(&v);
    return 0;
  }
  cb_fuzz_accepted("cb_jv_parse");
  check_tree(&v, 0);
  cb_json j;
  cb_json_init_mem(&j);
  emit(&j, &v);
  CB_FUZZ_CHECK(!j.oom, "out of memory");
  const char *text = cb_json_text(&j);
  int rc = cb_jv_parse(text, strlen(text), "rewritten", &w);
  CB_FUZZ_CHECK(rc == 0, "our writer's JSON does not parse: %s\n%s", cb_last_error(), text);
  CB_FUZZ_CHECK(same(&v, &w), "our writer's JSON parses to another document:\n%.*s\n%s", (int)size,
                (const char *)data, text);
  cb_jv_free(&w);
  cb_json_free(&j);
  cb_jv_free(&v);
  return 0;
}

CB_FUZZ_ENTRY(json)
