/* safetensors writer and reader: bit-exact round trip of every dtype
 * (including scalars and empty tensors) and of metadata with awkward
 * strings; atomic replacement; and rejection, with a message that names the
 * problem, of every kind of corrupt file. Every truncation and thousands of
 * random byte flips of a valid file must either parse or fail cleanly (the
 * sanitizer build checks that nothing reads out of bounds). */
#include "core/base/error.h"
#include "core/io/json_parse.h"
#include "core/io/safetensors.h"
#include "core/kernels/philox.h"
#include "tests/unit/support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A path in the test's temporary directory (a fresh string each call). */
static const char *tmp_path(const char *name) {
  static char buf[8][1024];
  static int next;
  char *b = buf[next++ % 8];
  snprintf(b, sizeof buf[0], "%s/%s", tst_tmpdir(), name);
  return b;
}

static unsigned char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc(*len ? *len : 1);
  assert_int_equal(fread(b, 1, *len, f), *len);
  fclose(f);
  return b;
}

static const char *AWKWARD[][2] = {
    {"epoch", "12"},
    {"quote\"and\\backslash", "line\nbreak\ttab \x01 control"},
    {"unicode", "\xc2\xb5 \xe2\x86\x92 \xf0\x9f\x98\x80"},
    {"json", "{\"history\": [[1.1, 0.01, 100]], \"x\": \"y\"}"},
    {"empty", ""},
};

static void write_sample(const char *path) {
  float f32[6] = {1.5f, -2.25f, 3.0e-38f, 1e30f, 0.0f, -0.0f};
  double f64[4] = {3.141592653589793, -1e-300, 2.0, 1e300};
  int64_t i64[1] = {-1234567890123LL};
  int32_t i32[1] = {0};
  unsigned char u8[5] = {0, 1, 2, 254, 255};
  cb_st_entry t[] = {
      {"layer.weight", CB_ST_F32, 2, {2, 3}, f32},
      {"f64", CB_ST_F64, 1, {4}, f64},
      {"scalar", CB_ST_I64, 0, {0}, i64},
      {"empty", CB_ST_I32, 3, {2, 0, 3}, i32},
      {"bytes", CB_ST_U8, 1, {5}, u8},
  };
  cb_meta meta = {0};
  for (size_t k = 0; k < sizeof AWKWARD / sizeof AWKWARD[0]; k++)
    assert_int_equal(cb_meta_set(&meta, AWKWARD[k][0], AWKWARD[k][1]), 0);
  assert_int_equal(cb_st_write(path, t, 5, &meta), 0);
  cb_meta_free(&meta);
}

static void test_round_trip(void **s) {
  (void)s;
  const char *path = tmp_path("rt.safetensors");
  write_sample(path);
  cb_st_file f;
  assert_int_equal(cb_st_read(path, &f), 0);
  assert_int_equal(f.n, 5);
  const cb_st_tensor *w = cb_st_find(&f, "layer.weight");
  assert_non_null(w);
  assert_int_equal(w->dtype, CB_ST_F32);
  assert_int_equal(w->ndim, 2);
  assert_int_equal(w->shape[0], 2);
  assert_int_equal(w->shape[1], 3);
  float f32[6] = {1.5f, -2.25f, 3.0e-38f, 1e30f, 0.0f, -0.0f}, got[6];
  assert_memory_equal(w->data, f32, sizeof f32);
  int64_t shp[2] = {2, 3};
  assert_int_equal(cb_st_get_f32(&f, "layer.weight", 2, shp, got), 0);
  assert_memory_equal(got, f32, sizeof f32);
  const cb_st_tensor *sc = cb_st_find(&f, "scalar");
  assert_int_equal(sc->ndim, 0);
  assert_int_equal(sc->numel, 1);
  int64_t v;
  memcpy(&v, sc->data, 8);
  assert_true(v == -1234567890123LL);
  const cb_st_tensor *e = cb_st_find(&f, "empty");
  assert_int_equal(e->numel, 0);
  assert_int_equal(e->shape[1], 0);
  const cb_st_tensor *b = cb_st_find(&f, "bytes");
  assert_memory_equal(b->data, ((unsigned char[]){0, 1, 2, 254, 255}), 5);
  /* F64 converts to float on request. */
  int64_t s4 = 4;
  float f4[4];
  assert_int_equal(cb_st_get_f32(&f, "f64", 1, &s4, f4), 0);
  assert_true(f4[0] == (float)3.141592653589793 && f4[2] == 2.0f);
  assert_int_equal(f.meta.n, (int)(sizeof AWKWARD / sizeof AWKWARD[0]));
  for (size_t k = 0; k < sizeof AWKWARD / sizeof AWKWARD[0]; k++)
    assert_string_equal(cb_meta_get(&f.meta, AWKWARD[k][0]), AWKWARD[k][1]);
  cb_st_close(&f);

  /* Layout: the header starts with '{' and the data is 8-byte aligned. */
  size_t len;
  unsigned char *raw = slurp(path, &len);
  uint64_t hl = 0;
  for (int k = 0; k < 8; k++)
    hl |= (uint64_t)raw[k] << (8 * k);
  assert_int_equal((8 + hl) % 8, 0);
  assert_int_equal(raw[8], '{');
  free(raw);
}

static void test_errors_of_the_api(void **s) {
  (void)s;
  const char *path = tmp_path("api.safetensors");
  write_sample(path);
  cb_st_file f;
  assert_int_equal(cb_st_read(path, &f), 0);
  float buf[16];
  int64_t wrong[2] = {3, 2};
  assert_int_equal(cb_st_get_f32(&f, "layer.weight", 2, wrong, buf), -1);
  assert_non_null(strstr(cb_last_error(), "has shape [2, 3], expected [3, 2]"));
  assert_int_equal(cb_st_get_f32(&f, "nope", 0, NULL, buf), -1);
  assert_non_null(strstr(cb_last_error(), "no tensor 'nope'"));
  int64_t five = 5;
  assert_int_equal(cb_st_get_f32(&f, "bytes", 1, &five, buf), -1);
  assert_non_null(strstr(cb_last_error(), "dtype U8"));
  cb_st_close(&f);

  assert_int_equal(cb_st_read(tmp_path("missing.safetensors"), &f), -1);
  assert_non_null(strstr(cb_last_error(), "cannot open"));
  cb_st_close(&f);

  float x = 1.0f;
  cb_st_entry dup[2] = {{"a", CB_ST_F32, 0, {0}, &x}, {"a", CB_ST_F32, 0, {0}, &x}};
  assert_int_equal(cb_st_write(path, dup, 2, NULL), -1);
  assert_non_null(strstr(cb_last_error(), "appears twice"));
  cb_st_entry one = {"a", CB_ST_F32, 0, {0}, &x};
  assert_int_equal(cb_st_write(tmp_path("no/such/dir/x.safetensors"), &one, 1, NULL), -1);
  assert_non_null(strstr(cb_last_error(), "cannot create"));
}

/* Replacing a file leaves no temporary behind and the old content is gone. */
static void test_atomic_replace(void **s) {
  (void)s;
  const char *path = tmp_path("replace.safetensors");
  float a = 1.0f, b = 2.0f;
  cb_st_entry ea = {"x", CB_ST_F32, 1, {1}, &a}, eb = {"x", CB_ST_F32, 1, {1}, &b};
  assert_int_equal(cb_st_write(path, &ea, 1, NULL), 0);
  assert_int_equal(cb_st_write(path, &eb, 1, NULL), 0);
  cb_st_file f;
  assert_int_equal(cb_st_read(path, &f), 0);
  assert_memory_equal(cb_st_find(&f, "x")->data, &b, 4);
  cb_st_close(&f);
  char tmp[1200];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  struct stat st;
  assert_int_not_equal(stat(tmp, &st), 0);
}

/* A file from a header string and data_len zero bytes. */
static int parse_raw(const char *header, uint64_t declared, size_t data_len) {
  size_t hl = strlen(header), len = 8 + hl + data_len;
  unsigned char *buf = calloc(len ? len : 1, 1);
  for (int k = 0; k < 8; k++)
    buf[k] = (unsigned char)(declared >> (8 * k));
  memcpy(buf + 8, header, hl);
  cb_st_file f;
  int rc = cb_st_parse(buf, len, "x.safetensors", &f);
  cb_st_close(&f);
  return rc;
}

static void expect_bad(const char *header, size_t data_len, const char *msg) {
  int rc = parse_raw(header, strlen(header), data_len);
  if (rc == 0 || !strstr(cb_last_error(), msg))
    fprintf(stderr, "header %s: rc %d, message '%s', expected '%s'\n", header, rc,
            rc ? cb_last_error() : "", msg);
  assert_int_equal(rc, -1);
  assert_non_null(strstr(cb_last_error(), msg));
  assert_non_null(strstr(cb_last_error(), "x.safetensors"));
}

static void test_corrupt_headers(void **s) {
  (void)s;
  /* Sanity: well-formed inputs parse. */
  assert_int_equal(parse_raw("{}", 2, 0), 0);
  assert_int_equal(parse_raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}  ",
                             strlen("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]"
                                    "}}  "),
                             4),
                   0);

  unsigned char small[5] = {0};
  cb_st_file f;
  assert_int_equal(cb_st_parse(memcpy(malloc(5), small, 5), 5, "x.safetensors", &f), -1);
  assert_non_null(strstr(cb_last_error(), "shorter than the 8-byte"));
  assert_int_equal(parse_raw("{}", (uint64_t)1 << 40, 0), -1);
  assert_non_null(strstr(cb_last_error(), "over the"));
  assert_int_equal(parse_raw("{}", 50, 0), -1);
  assert_non_null(strstr(cb_last_error(), "runs past the end of the file"));

  expect_bad("[]", 0, "does not start with '{'");
  expect_bad(" {}", 0, "does not start with '{'");
  expect_bad("{\"a\": {\"dtype\": \"F32\",", 0, "header JSON");
  expect_bad("{} x", 0, "trailing characters");
  expect_bad("{\"a\":5}", 0, "entry 'a' is not an object");
  expect_bad("{\"a\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[0,2]}}", 2, "dtype BF16");
  expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
             "do not match its shape");
  expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
             "not a non-negative integer");
  expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,4]}}", 4,
             "not a non-negative integer");
  expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4,
             "end before begin");
  expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "needs data_offsets");
  expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4,
             "needs data_offsets");
  expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4,
             "unknown field 'x'");
  expect_bad("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "no dtype");
  expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],"
             "\"data_offsets\":[0,4]}}",
             4, "too large");
  expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
             "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
             12, "a gap in the data before tensor 'b'");
  expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
             "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
             8, "overlaps");
  expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4,
             "runs past the end of the file");
  expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8,
             "bytes after the last tensor");
  expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
             "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
             8, "tensor 'a' appears twice");
  expect_bad("{\"__metadata__\":{\"k\":1}}", 0, "entry 'k' is not a string");
  expect_bad("{\"__metadata__\":[]}", 0, "__metadata__ is not an object");
  expect_bad("{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", 0, "appears twice");
  expect_bad("{\"\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", 4, "empty name");
  expect_bad("{\"a\xff\":{}}", 0, "invalid UTF-8");
  char deep[400] = "{\"__metadata__\":";
  for (int k = 0; k < 100; k++)
    strcat(deep, "[");
  expect_bad(deep, 0, "nesting too deep");
}

static void test_json_parser(void **s) {
  (void)s;
  cb_jv v;
  const char *doc = "{\"n\": [0, -12, 9007199254740993, 1.5e3, -0.25], "
                    "\"s\": \"a\\\"b\\\\c\\/\\n\\u00b5\\ud83d\\ude00\", \"t\": true, "
                    "\"f\": false, \"z\": null}";
  assert_int_equal(cb_jv_parse(doc, strlen(doc), "doc", &v), 0);
  const cb_jv *n = cb_jv_get(&v, "n");
  assert_int_equal(n->n, 5);
  assert_true(n->items[1].is_int && n->items[1].i == -12);
  assert_true(n->items[2].is_int && n->items[2].i == 9007199254740993LL); /* exact */
  assert_false(n->items[3].is_int);
  assert_true(n->items[3].num == 1500.0 && n->items[4].num == -0.25);
  assert_string_equal(cb_jv_get(&v, "s")->str, "a\"b\\c/\n\xc2\xb5\xf0\x9f\x98\x80");
  assert_true(cb_jv_get(&v, "t")->boolean && !cb_jv_get(&v, "f")->boolean);
  assert_int_equal(cb_jv_get(&v, "z")->kind, CB_JV_NULL);
  cb_jv_free(&v);

  const char *bad[] = {"",    "{",       "[1,]",     "{\"a\" 1}",   "01",
                       "1.",  "-",       "\"\\x\"",  "\"\\ud800\"", "\"\\u0000\"",
                       "tru", "[1] [2]", "\"a\nb\"", "{\"a\":}",    "1e"};
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    int rc = cb_jv_parse(bad[k], strlen(bad[k]), "doc", &v);
    cb_jv_free(&v);
    if (rc == 0) fprintf(stderr, "accepted invalid JSON: %s\n", bad[k]);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(cb_last_error(), "at byte"));
  }
}

/* Every prefix of a valid file fails cleanly; random corruption never
 * crashes, and whatever parses stays inside the buffer. */
static void test_truncation_and_corruption(void **s) {
  (void)s;
  const char *path = tmp_path("fuzz.safetensors");
  write_sample(path);
  size_t len;
  unsigned char *good = slurp(path, &len);
  cb_st_file f;
  for (size_t cut = 0; cut < len; cut++) {
    unsigned char *b = malloc(cut ? cut : 1);
    memcpy(b, good, cut);
    assert_int_equal(cb_st_parse(b, cut, "cut", &f), -1);
    cb_st_close(&f);
  }
  int parsed = 0;
  for (uint32_t trial = 0; trial < 3000; trial++) {
    unsigned char *b = malloc(len);
    memcpy(b, good, len);
    int flips = 1 + (int)(cb_uniform(9, 1, trial, 0) * 4);
    for (int k = 0; k < flips; k++) {
      size_t at = (size_t)(cb_uniform(9, 2, trial, (uint64_t)k) * (double)len) % len;
      b[at] = (unsigned char)(cb_uniform(9, 3, trial, (uint64_t)k) * 256);
    }
    if (cb_st_parse(b, len, "fuzz", &f) == 0) {
      parsed++;
      for (int k = 0; k < f.n; k++) {
        assert_true(f.t[k].data >= f.buf && f.t[k].data + f.t[k].nbytes <= f.buf + f.len);
        volatile unsigned char sink = 0;
        for (size_t j = 0; j < f.t[k].nbytes; j++)
          sink ^= f.t[k].data[j];
        (void)sink;
      }
    } else {
      assert_true(strlen(cb_last_error()) > 0);
    }
    cb_st_close(&f);
  }
  assert_true(parsed > 0); /* flips in tensor bytes are harmless */
  free(good);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),     cmocka_unit_test(test_errors_of_the_api),
      cmocka_unit_test(test_atomic_replace), cmocka_unit_test(test_corrupt_headers),
      cmocka_unit_test(test_json_parser),    cmocka_unit_test(test_truncation_and_corruption),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
