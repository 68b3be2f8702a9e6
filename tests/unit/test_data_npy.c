/* .npy reader/writer and NPY folder datasets: files written by numpy itself
 * (tests/gen/make_npy_fixtures.py: Fortran order, big-endian, format 2.0,
 * 1xHxW), round trips in C and Fortran order, corrupt and truncated files,
 * and every bad folder (image without mask, class ids beyond the configured
 * count, wrong shapes, ...) giving an error that names the file. */
#include "core/base/error.h"
#include "core/data/dataset.h"
#include "core/data/npy.h"
#include "tests/unit/support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *fixture(const char *name) {
  static char p[1024];
  snprintf(p, sizeof p, "%s", tst_src_path("tests/fixtures/npy/"));
  strncat(p, name, sizeof p - strlen(p) - 1);
  return p;
}

/* ---- files written by numpy ---- */

static void test_numpy_fixtures(void **state) {
  (void)state;
  cb_npy a;
  const char *f32[] = {"fortran_f4.npy", "bigendian_f8.npy", "chw_f4.npy"};
  for (int k = 0; k < 3; k++) {
    assert_int_equal(cb_npy_read(fixture(f32[k]), &a), 0);
    int off = a.ndim == 3;
    assert_int_equal(a.ndim, 2 + off);
    assert_int_equal(a.shape[off], 5);
    assert_int_equal(a.shape[off + 1], 7);
    assert_int_equal(a.was_fortran, k == 0);
    for (int r = 0; r < 5; r++)
      for (int c = 0; c < 7; c++)
        assert_true(cb_npy_get(&a, r * 7 + c) == 10.0 * r + c + 0.25);
    cb_npy_free(&a);
  }
  const char *masks[] = {"fortran_i8_mask.npy", "c_u1_mask.npy", "v2_i2.npy"};
  const cb_npy_dtype types[] = {CB_NPY_I64, CB_NPY_U8, CB_NPY_I16};
  for (int k = 0; k < 3; k++) {
    assert_int_equal(cb_npy_read(fixture(masks[k]), &a), 0);
    assert_int_equal(a.dtype, types[k]);
    assert_int_equal(a.was_fortran, k == 0);
    for (int r = 0; r < 5; r++)
      for (int c = 0; c < 7; c++)
        assert_true(cb_npy_get(&a, r * 7 + c) == (r + c) % 9);
    cb_npy_free(&a);
  }
  assert_int_equal(cb_npy_read(fixture("complex.npy"), &a), -1);
  tst_expect_error("complex.npy", "unsupported dtype");
}

/* ---- round trips ---- */

static void test_round_trip(void **state) {
  (void)state;
  char p[512];
  snprintf(p, sizeof p, "%s/rt.npy", tst_tmpdir());
  float img[6 * 9];
  tst_fill_uniform(img, 54, 3, -100.0f, 100.0f);
  int64_t shape[2] = {6, 9};
  cb_npy a;
  for (int fortran = 0; fortran < 2; fortran++) {
    assert_int_equal((fortran ? cb_npy_write_fortran : cb_npy_write)(p, CB_NPY_F32, 2, shape, img),
                     0);
    assert_int_equal(cb_npy_read(p, &a), 0);
    assert_int_equal(a.was_fortran, fortran);
    assert_int_equal(a.shape[0], 6);
    assert_int_equal(a.shape[1], 9);
    assert_memory_equal(a.data, img, sizeof img);
    cb_npy_free(&a);
  }
  /* Rank 3, uint8, Fortran: element (i,j,k) must come back at C index. */
  uint8_t v[2 * 3 * 4];
  for (int i = 0; i < 24; i++)
    v[i] = (uint8_t)(i * 7 + 1);
  int64_t s3[3] = {2, 3, 4};
  assert_int_equal(cb_npy_write_fortran(p, CB_NPY_U8, 3, s3, v), 0);
  assert_int_equal(cb_npy_read(p, &a), 0);
  assert_memory_equal(a.data, v, sizeof v);
  cb_npy_free(&a);
  /* Header is padded to 64 bytes and readable as version 1.0. */
  FILE *f = fopen(p, "rb");
  uint8_t h[10];
  assert_int_equal(fread(h, 1, 10, f), 10);
  fclose(f);
  assert_int_equal((10 + (h[8] | h[9] << 8)) % 64, 0);
}

/* ---- corrupt and truncated ---- */

static size_t make_file(uint8_t *buf, const char *header, size_t data_bytes, int major) {
  size_t hl = strlen(header), o = 0;
  memcpy(buf, "\x93NUMPY", 6);
  buf[6] = (uint8_t)major;
  buf[7] = 0;
  if (major == 1) {
    buf[8] = (uint8_t)hl;
    buf[9] = (uint8_t)(hl >> 8);
    o = 10;
  } else {
    buf[8] = (uint8_t)hl;
    buf[9] = (uint8_t)(hl >> 8);
    buf[10] = buf[11] = 0;
    o = 12;
  }
  memcpy(buf + o, header, hl);
  memset(buf + o + hl, 0, data_bytes);
  return o + hl + data_bytes;
}

static void test_corrupt(void **state) {
  (void)state;
  uint8_t buf[4096];
  cb_npy a;
  const char *ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n";
  size_t n = make_file(buf, ok, 24, 1);
  assert_int_equal(cb_npy_parse(buf, n, "ok.npy", &a), 0);
  cb_npy_free(&a);
  assert_int_equal(cb_npy_parse(buf, n - 5, "cut.npy", &a), -1);
  tst_expect_error("cut.npy", "truncated");
  assert_int_equal(cb_npy_parse(buf, 30, "cuthdr.npy", &a), -1);
  tst_expect_error("cuthdr.npy", "truncated");
  assert_int_equal(cb_npy_parse(buf, 7, "tiny.npy", &a), -1);
  tst_expect_error("tiny.npy", "not a .npy");
  n = make_file(buf, ok, 30, 1);
  assert_int_equal(cb_npy_parse(buf, n, "long.npy", &a), -1);
  tst_expect_error("long.npy", "unexpected bytes");
  buf[1] = 'X';
  assert_int_equal(cb_npy_parse(buf, n, "magic.npy", &a), -1);
  tst_expect_error("magic.npy", "not a .npy");
  n = make_file(buf, ok, 24, 9);
  assert_int_equal(cb_npy_parse(buf, n, "ver.npy", &a), -1);
  tst_expect_error("ver.npy", "version");
  n = make_file(buf, ok, 24, 2); /* version 2 header length field */
  assert_int_equal(cb_npy_parse(buf, n, "v2.npy", &a), 0);
  cb_npy_free(&a);
  const struct {
    const char *hdr, *msg;
  } bad[] = {
      {"{'descr': '<f4', 'shape': (2, 3), }", "fortran_order"},
      {"{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2, 3), }", "True or False"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }", "shape"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1}", "unknown key"},
      {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", "structured"},
      {"{'descr': '<U4', 'fortran_order': False, 'shape': (2, 3), }", "unsupported dtype"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)", "corrupt"},
      {"['descr', '<f4']", "corrupt"},
  };
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    n = make_file(buf, bad[k].hdr, 24, 1);
    assert_int_equal(cb_npy_parse(buf, n, "bad.npy", &a), -1);
    tst_expect_error("bad.npy", bad[k].msg);
  }
  assert_int_equal(cb_npy_read("/nonexistent/x.npy", &a), -1);
  tst_expect_error("/nonexistent/x.npy", "cannot open");
}

/* ---- NPY folders ---- */

static const char *mkfolder(const char *name) {
  static char p[512];
  snprintf(p, sizeof p, "%s/%s", tst_tmpdir(), name);
  char q[600];
  assert_int_equal(mkdir(p, 0777), 0);
  snprintf(q, sizeof q, "%s/images", p);
  assert_int_equal(mkdir(q, 0777), 0);
  snprintf(q, sizeof q, "%s/masks", p);
  assert_int_equal(mkdir(q, 0777), 0);
  return p;
}

static void put(const char *dir, const char *sub, const char *name, cb_npy_dtype t, int ndim,
                const int64_t *shape, const void *data) {
  char p[700];
  snprintf(p, sizeof p, "%s/%s/%s.npy", dir, sub, name);
  assert_int_equal(cb_npy_write(p, t, ndim, shape, data), 0);
}

static void put_text(const char *dir, const char *file, const char *text) {
  char p[700];
  snprintf(p, sizeof p, "%s/%s", dir, file);
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void test_folder_round_trip(void **state) {
  (void)state;
  cb_dataset d, e;
  cb_synth_opts o;
  cb_synth_opts_default(&o);
  o.classes = 10;
  assert_int_equal(cb_synth_oct(&d, 5, 24, 40, 4, &o), 0);
  char p[512];
  snprintf(p, sizeof p, "%s/synthfolder", tst_tmpdir());
  assert_int_equal(cb_npy_folder_write(p, &d), 0);
  assert_int_equal(cb_npy_folder_load(p, NULL, &e), 0);
  assert_int_equal(e.n, 5);
  assert_int_equal(e.H, 24);
  assert_int_equal(e.W, 40);
  assert_int_equal(e.classes, 10);
  assert_true(e.background == d.background);
  assert_true(e.subjects_known);
  assert_memory_equal(e.images, d.images, (size_t)5 * 24 * 40 * sizeof(float));
  assert_memory_equal(e.masks, d.masks, (size_t)5 * 24 * 40);
  for (int i = 0; i < 5; i++) {
    assert_int_equal(e.subjects[i], d.subjects[i]);
    assert_string_equal(e.names[i], d.names[i]);
  }
  for (int c = 0; c < 10; c++)
    assert_string_equal(e.class_names[c], d.class_names[c]);
  cb_dataset_free(&e);
  /* An existing output folder is never overwritten. */
  assert_int_equal(cb_npy_folder_write(p, &d), -1);
  tst_expect_error(p, "already exists");
  /* Loading with a size resizes (nearest masks: no new labels). */
  cb_npy_folder_opts fo = {.H = 12, .W = 20};
  assert_int_equal(cb_npy_folder_load(p, &fo, &e), 0);
  assert_int_equal(e.H, 12);
  assert_int_equal(e.W, 20);
  for (int i = 0; i < 5; i++)
    for (int y = 0; y < 12; y++)
      for (int x = 0; x < 20; x++)
        assert_int_equal(e.masks[(i * 12 + y) * 20 + x],
                         d.masks[(i * 24 + 2 * y + 1) * 40 + 2 * x + 1]);
  cb_dataset_free(&e);
  cb_dataset_free(&d);
}

static void test_folder_conversions(void **state) {
  (void)state;
  const char *dir = mkfolder("conv");
  char fpath[700];
  /* Fortran-order float32 (the seed study's files), uint8 and float64
   * images, integer / bool / integral-float masks. */
  snprintf(fpath, sizeof fpath, "%s/images/a.npy", dir);
  FILE *in = fopen(fixture("fortran_f4.npy"), "rb"), *out = fopen(fpath, "wb");
  assert_non_null(in);
  assert_non_null(out);
  int ch;
  while ((ch = fgetc(in)) != EOF)
    fputc(ch, out);
  fclose(in);
  fclose(out);
  snprintf(fpath, sizeof fpath, "%s/masks/a.npy", dir);
  in = fopen(fixture("fortran_i8_mask.npy"), "rb");
  out = fopen(fpath, "wb");
  while ((ch = fgetc(in)) != EOF)
    fputc(ch, out);
  fclose(in);
  fclose(out);
  int64_t s[2] = {5, 7}, s3[3] = {1, 5, 7};
  uint8_t u8[35], m8[35];
  double f64[35], fm[35];
  for (int i = 0; i < 35; i++) {
    u8[i] = (uint8_t)(200 + i);
    m8[i] = (uint8_t)(i % 5);
    f64[i] = -1.5 * i;
    fm[i] = (double)(i % 3);
  }
  put(dir, "images", "b", CB_NPY_U8, 2, s, u8);
  put(dir, "masks", "b", CB_NPY_U8, 2, s, m8);
  put(dir, "images", "c", CB_NPY_F64, 3, s3, f64);
  put(dir, "masks", "c", CB_NPY_F64, 2, s, fm);
  cb_dataset d;
  if (cb_npy_folder_load(dir, NULL, &d)) print_error("%s\n", cb_last_error());
  assert_int_equal(d.n, 3);
  assert_false(d.subjects_known);
  for (int i = 0; i < 3; i++)
    assert_int_equal(d.subjects[i], i + 1);
  assert_int_equal(d.classes, 9); /* largest id + 1 */
  for (int r = 0; r < 5; r++)
    for (int c = 0; c < 7; c++) {
      assert_true(d.images[r * 7 + c] == 10.0f * r + c + 0.25f);
      assert_int_equal(d.masks[r * 7 + c], (r + c) % 9);
    }
  for (int i = 0; i < 35; i++) {
    assert_true(d.images[35 + i] == 200.0f + i);
    assert_int_equal(d.masks[35 + i], i % 5);
    assert_true(d.images[70 + i] == (float)(-1.5 * i));
    assert_int_equal(d.masks[70 + i], i % 3);
  }
  cb_dataset_free(&d);
  /* The configured class count is enforced and named. */
  cb_npy_folder_opts fo = {.classes = 3};
  assert_int_equal(cb_npy_folder_load(dir, &fo, &d), -1);
  tst_expect_error("masks/a.npy", "class id 3 at row 0, column 3");
  /* subjects.tsv gives subjects; classes.tsv names classes. */
  put_text(dir, "subjects.tsv", "name\tsubject\na\t4\nb\t4\nc\t9\n");
  assert_int_equal(cb_npy_folder_load(dir, NULL, &d), 0);
  assert_true(d.subjects_known);
  assert_int_equal(d.subjects[0], 4);
  assert_int_equal(d.subjects[1], 4);
  assert_int_equal(d.subjects[2], 9);
  cb_dataset_free(&d);
  put_text(dir, "classes.tsv", "id\tname\tbackground\n0\tsky\t1\n1\tsea\t0\n2\tland\t1\n");
  assert_int_equal(cb_npy_folder_load(dir, NULL, &d), -1);
  tst_expect_error("masks/a.npy", "classes.tsv");
}

static void good_pair(const char *dir, const char *name) {
  int64_t s[2] = {4, 6};
  float img[24] = {0};
  uint8_t m[24] = {0};
  m[5] = 2;
  put(dir, "images", name, CB_NPY_F32, 2, s, img);
  put(dir, "masks", name, CB_NPY_U8, 2, s, m);
}

static void test_folder_bad_input(void **state) {
  (void)state;
  cb_dataset d;
  cb_npy_folder_opts three = {.classes = 3};
  char p[700];
  int64_t s[2] = {4, 6}, s3[3] = {2, 4, 6}, sw[2] = {4, 7};
  float img[48] = {0};
  uint8_t m[48] = {0};
  double fm[24] = {0};

  const char *dir = mkfolder("nomask");
  good_pair(dir, "a");
  put(dir, "images", "b", CB_NPY_F32, 2, s, img);
  assert_int_equal(cb_npy_folder_load(dir, NULL, &d), -1);
  tst_expect_error("images/b.npy", "without a mask");

  dir = mkfolder("noimage");
  good_pair(dir, "a");
  put(dir, "masks", "z", CB_NPY_U8, 2, s, m);
  assert_int_equal(cb_npy_folder_load(dir, NULL, &d), -1);
  tst_expect_error("masks/z.npy", "without an image");

  dir = mkfolder("classes");
  good_pair(dir, "a");
  m[7] = 3;
  put(dir, "images", "b", CB_NPY_F32, 2, s, img);
  put(dir, "masks", "b", CB_NPY_U8, 2, s, m);
  m[7] = 0;
  assert_int_equal(cb_npy_folder_load(dir, &three, &d), -1);
  tst_expect_error("masks/b.npy", "class id 3 at row 1, column 1");

  dir = mkfolder("shape3");
  put(dir, "images", "a", CB_NPY_F32, 3, s3, img);
  put(dir, "masks", "a", CB_NPY_U8, 2, s, m);
  assert_int_equal(cb_npy_folder_load(dir, NULL, &d), -1);
  tst_expect_error("images/a.npy", "2x4x6");

  dir = mkfolder("masksize");
  put(dir, "images", "a", CB_NPY_F32, 2, s, img);
  put(dir, "masks", "a", CB_NPY_U8, 2, sw, m);
  assert_int_equal(cb_npy_folder_load(dir, NULL, &d), -1);
  tst_expect_error("masks/a.npy", "4x7");

  dir = mkfolder("sizes");
  good_pair(dir, "a");
  put(dir, "images", "b", CB_NPY_F32, 2, sw, img);
  put(dir, "masks", "b", CB_NPY_U8, 2, sw, m);
  assert_int_equal(cb_npy_folder_load(dir, NULL, &d), -1);
  tst_expect_error("images/b.npy", "differ in size");
  cb_npy_folder_opts rs = {.H = 8, .W = 8};
  assert_int_equal(cb_npy_folder_load(dir, &rs, &d), 0);
  assert_int_equal(d.H, 8);
  cb_dataset_free(&d);

  dir = mkfolder("floatmask");
  fm[3] = 1.5;
  put(dir, "images", "a", CB_NPY_F32, 2, s, img);
  put(dir, "masks", "a", CB_NPY_F64, 2, s, fm);
  assert_int_equal(cb_npy_folder_load(dir, NULL, &d), -1);
  tst_expect_error("masks/a.npy", "not a class id");

  dir = mkfolder("nan");
  img[2] = NAN;
  put(dir, "images", "a", CB_NPY_F32, 2, s, img);
  put(dir, "masks", "a", CB_NPY_U8, 2, s, m);
  img[2] = 0;
  assert_int_equal(cb_npy_folder_load(dir, NULL, &d), -1);
  tst_expect_error("images/a.npy", "NaN");

  dir = mkfolder("truncated");
  good_pair(dir, "a");
  snprintf(p, sizeof p, "%s/masks/a.npy", dir);
  assert_int_equal(truncate(p, 100), 0);
  assert_int_equal(cb_npy_folder_load(dir, NULL, &d), -1);
  tst_expect_error("masks/a.npy", "truncated");

  dir = mkfolder("subjects");
  good_pair(dir, "a");
  good_pair(dir, "b");
  put_text(dir, "subjects.tsv", "a\t1\n");
  assert_int_equal(cb_npy_folder_load(dir, NULL, &d), -1);
  tst_expect_error("subjects.tsv", "no subject for image 'b'");
  put_text(dir, "subjects.tsv", "a\t1\nb\tseven\n");
  assert_int_equal(cb_npy_folder_load(dir, NULL, &d), -1);
  tst_expect_error("subjects.tsv:2", "integer");
  put_text(dir, "subjects.tsv", "a\t1\nb\t2\nq\t3\n");
  assert_int_equal(cb_npy_folder_load(dir, NULL, &d), -1);
  tst_expect_error("subjects.tsv:3", "no image named 'q'");

  dir = mkfolder("empty");
  assert_int_equal(cb_npy_folder_load(dir, NULL, &d), -1);
  tst_expect_error("images", "no .npy");
  assert_int_equal(cb_npy_folder_load("/nonexistent/folder", NULL, &d), -1);
  tst_expect_error("/nonexistent/folder", "no such dataset");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_numpy_fixtures),
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_corrupt),
      cmocka_unit_test(test_folder_round_trip),
      cmocka_unit_test(test_folder_conversions),
      cmocka_unit_test(test_folder_bad_input),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
