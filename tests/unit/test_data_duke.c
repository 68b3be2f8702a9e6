/* Duke DME importer. The test writes small Duke-shaped .mat files with
 * libmatio (same variable names and types: uint8 images, double boundary
 * rows with NaN where unannotated, fluid maps) and compares the imported
 * masks with masks computed here independently: the boundaries are analytic
 * (linear in x, so interpolating a gap must give the formula back), and the
 * NaN gaps, a 0 entry, a non-monotone entry and the crop are placed by hand.
 * Then every bad input: missing variables, wrong shapes, truncated and
 * non-MAT files, unannotated data, bad options. */
#include "core/base/error.h"
#include "core/data/dataset.h"
#include "tests/unit/support.h"

#include <math.h>
#include <matio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { HI = 40, WI = 32, NS = 6 };

/* Boundary k (0..7) at column x on slice 1 (1-based rows, like MATLAB). */
static double v1(int k, int x) {
  return 4.0 + 3.5 * k + 0.25 * x;
}
/* Slice 4: not linear, no gaps. */
static double v4(int k, int x) {
  return 5.0 + 3.0 * k + 0.2 * x + (x % 2);
}

typedef struct {
  int skip_fluid;     /* leave out manualFluid1 */
  int layers_rows;    /* 8, or wrong */
  int fluid_cols;     /* WI, or wrong */
  int all_nan;        /* no annotation at all */
  int drop_boundary;  /* boundary index all NaN on slice 1 (-1: none) */
  int images_as_char; /* 'images' is text */
  int compress;
  double bad_row; /* one boundary value of slice 1 (0: none) */
} variant;

static const variant NORMAL = {0, 8, WI, 0, -1, 0, 1, 0.0};

static void write_var(mat_t *m, const char *name, enum matio_classes c, enum matio_types t,
                      size_t d0, size_t d1, size_t d2, void *data, int compress) {
  size_t dims[3] = {d0, d1, d2};
  matvar_t *v = Mat_VarCreate(name, c, t, 3, dims, data, 0);
  assert_non_null(v);
  assert_int_equal(Mat_VarWrite(m, v, compress ? MAT_COMPRESSION_ZLIB : MAT_COMPRESSION_NONE), 0);
  Mat_VarFree(v);
}

static void write_duke(const char *path, variant o) {
  mat_t *m = Mat_CreateVer(path, NULL, MAT_FT_MAT5);
  assert_non_null(m);
  uint8_t *img = malloc(HI * WI * NS);
  double *lay1 = malloc(sizeof(double) * 8 * WI * NS), *lay2 = malloc(sizeof(double) * 8 * WI * NS);
  double *fl1 = calloc(HI * WI * NS, sizeof(double)), *fl2 = calloc(HI * WI * NS, sizeof(double));
  for (int s = 0; s < NS; s++)
    for (int x = 0; x < WI; x++)
      for (int y = 0; y < HI; y++)
        img[y + HI * (x + WI * s)] = (uint8_t)((y * 7 + x * 3 + s * 11) % 256);
  for (int i = 0; i < 8 * WI * NS; i++)
    lay1[i] = lay2[i] = NAN;
#define L(a, k, x, s) a[(k) + 8 * ((x) + WI * (s))]
  if (!o.all_nan) {
    for (int x = 5; x <= 26; x++)
      for (int k = 0; k < 8; k++)
        L(lay1, k, x, 1) = v1(k, x);
    for (int x = 10; x <= 12; x++)
      L(lay1, 2, x, 1) = NAN; /* interior gap */
    for (int x = 5; x <= 7; x++)
      L(lay1, 5, x, 1) = NAN; /* gap at the start */
    for (int x = 25; x <= 26; x++)
      L(lay1, 6, x, 1) = NAN; /* gap at the end */
    L(lay1, 1, 20, 1) = 0.0;  /* 0 = not annotated */
    L(lay1, 4, 15, 1) = 2.0;  /* above boundary 3 */
    if (o.bad_row != 0.0) L(lay1, 3, 10, 1) = o.bad_row;
    if (o.drop_boundary >= 0)
      for (int x = 0; x < WI; x++)
        L(lay1, o.drop_boundary, x, 1) = NAN;
    for (int x = 3; x <= 29; x++)
      for (int k = 0; k < 8; k++) {
        L(lay1, k, x, 4) = v4(k, x);
        L(lay2, k, x, 4) = v4(k, x) + 1.0; /* expert 2: slice 4 only, one row lower */
      }
    /* Fluid on slice 1: region id 3 (not 1), NaN elsewhere counts as none. */
    for (int y = 20; y <= 23; y++)
      for (int x = 14; x <= 17; x++)
        fl1[y + HI * (x + WI * 1)] = 3.0;
    fl1[2 + HI * (9 + WI * 1)] = NAN;
  }
  if (o.images_as_char) {
    size_t dims[2] = {1, 5};
    matvar_t *v = Mat_VarCreate("images", MAT_C_CHAR, MAT_T_UINT8, 2, dims, "hello", 0);
    assert_non_null(v);
    assert_int_equal(Mat_VarWrite(m, v, MAT_COMPRESSION_NONE), 0);
    Mat_VarFree(v);
  } else {
    write_var(m, "images", MAT_C_UINT8, MAT_T_UINT8, HI, WI, NS, img, o.compress);
  }
  write_var(m, "manualLayers1", MAT_C_DOUBLE, MAT_T_DOUBLE, (size_t)o.layers_rows, WI, NS, lay1,
            o.compress);
  write_var(m, "manualLayers2", MAT_C_DOUBLE, MAT_T_DOUBLE, 8, WI, NS, lay2, o.compress);
  if (!o.skip_fluid)
    write_var(m, "manualFluid1", MAT_C_DOUBLE, MAT_T_DOUBLE, HI, (size_t)o.fluid_cols, NS, fl1,
              o.compress);
  write_var(m, "manualFluid2", MAT_C_DOUBLE, MAT_T_DOUBLE, HI, WI, NS, fl2, o.compress);
  Mat_Close(m);
  free(img);
  free(lay1);
  free(lay2);
  free(fl1);
  free(fl2);
#undef L
}

/* The mask this test expects for slice 1 (expert 1), computed from the
 * analytic boundaries and the hand-placed gaps, for columns 5..26. */
static double expected_b1(int k, int x) {
  if (k == 5 && x < 8) return v1(5, 8);    /* nearest annotated value */
  if (k == 6 && x > 24) return v1(6, 24);  /* nearest annotated value */
  if (k == 4 && x == 15) return v1(3, 15); /* made monotone */
  return v1(k, x);                         /* linear gaps give the line back */
}

static int expected_label(int y, int x, int slice, int expert, int classes) {
  int label = 0;
  for (int k = 0; k < 8; k++) {
    double b = slice == 1 ? expected_b1(k, x) : v4(k, x) + (expert == 2 ? 1.0 : 0.0);
    if ((double)y >= b) label = k + 1;
  }
  if (classes == 9 && label == 8) label = 0;
  if (slice == 1 && expert == 1 && y >= 20 && y <= 23 && x >= 14 && x <= 17)
    label = classes == 10 ? 9 : 8;
  return label;
}

static const char *tmp_path(const char *sub, const char *name) {
  static char p[1024];
  char d[900];
  snprintf(d, sizeof d, "%s/%s", tst_tmpdir(), sub);
  mkdir(d, 0777);
  snprintf(p, sizeof p, "%s/%s", d, name);
  return p;
}

static void check_scans(const cb_duke_scan *sc, int n, int expert, int classes) {
  assert_int_equal(n, expert == 1 ? 2 : 1);
  for (int i = 0; i < n; i++) {
    int slice = expert == 1 ? (i == 0 ? 1 : 4) : 4;
    assert_int_equal(sc[i].slice, slice);
    assert_int_equal(sc[i].subject, 7);
    assert_int_equal(sc[i].x0, slice == 1 ? 5 : 3);
    assert_int_equal(sc[i].x1, slice == 1 ? 26 : 29);
    assert_int_equal(sc[i].H, HI);
    assert_int_equal(sc[i].W, sc[i].x1 - sc[i].x0 + 1);
    for (int y = 0; y < HI; y++)
      for (int x = 0; x < sc[i].W; x++) {
        int gx = x + sc[i].x0;
        assert_true(sc[i].image[y * sc[i].W + x] == (float)((y * 7 + gx * 3 + slice * 11) % 256));
        int want = expected_label(y, gx, slice, expert, classes);
        if (sc[i].mask[y * sc[i].W + x] != want)
          print_error("slice %d row %d col %d: got %d want %d\n", slice, y, gx,
                      sc[i].mask[y * sc[i].W + x], want);
        assert_int_equal(sc[i].mask[y * sc[i].W + x], want);
      }
  }
}

static void test_import_masks(void **state) {
  (void)state;
  const char *p = tmp_path("one", "Subject_07.mat");
  write_duke(p, NORMAL);
  cb_duke_scan *sc;
  int n;
  for (int classes = 9; classes <= 10; classes++)
    for (int expert = 1; expert <= 2; expert++) {
      cb_duke_opts o = {classes, expert, 0, 0};
      if (cb_duke_read_file(p, &o, 1, &sc, &n)) print_error("%s\n", cb_last_error());
      check_scans(sc, n, expert, classes);
      cb_duke_scans_free(sc, n);
    }
  /* Uncompressed files read the same. */
  variant v = NORMAL;
  v.compress = 0;
  p = tmp_path("plain", "Subject_07.mat");
  write_duke(p, v);
  cb_duke_opts o = {9, 1, 0, 0};
  assert_int_equal(cb_duke_read_file(p, &o, 1, &sc, &n), 0);
  check_scans(sc, n, 1, 9);
  cb_duke_scans_free(sc, n);
}

/* Resizing: masks by nearest neighbour of the cropped mask (no invented
 * labels), images bilinear within the crop's value range. */
static void test_import_resized_folder(void **state) {
  (void)state;
  const char *src = tmp_path("src", "Subject_07.mat");
  write_duke(src, NORMAL);
  variant v = NORMAL;
  v.compress = 0;
  write_duke(tmp_path("src", "Subject_02.mat"), v);
  char srcdir[900], out[900];
  snprintf(srcdir, sizeof srcdir, "%s/src", tst_tmpdir());
  snprintf(out, sizeof out, "%s/duke_out", tst_tmpdir());
  cb_duke_opts o = {9, 1, 24, 16};
  if (cb_duke_import(srcdir, out, &o, NULL)) print_error("%s\n", cb_last_error());
  cb_dataset d;
  assert_int_equal(cb_npy_folder_load(out, NULL, &d), 0);
  assert_int_equal(d.n, 4);
  assert_int_equal(d.H, 24);
  assert_int_equal(d.W, 16);
  assert_int_equal(d.classes, 9);
  assert_string_equal(d.class_names[8], "fluid");
  assert_true(d.subjects_known);
  const char *names[4] = {"Subject_02_01", "Subject_02_04", "Subject_07_01", "Subject_07_04"};
  const int subj[4] = {2, 2, 7, 7}, slice[4] = {1, 4, 1, 4};
  for (int i = 0; i < 4; i++) {
    assert_string_equal(d.names[i], names[i]);
    assert_int_equal(d.subjects[i], subj[i]);
    int x0 = slice[i] == 1 ? 5 : 3, wc = slice[i] == 1 ? 22 : 27;
    for (int y = 0; y < 24; y++)
      for (int x = 0; x < 16; x++) {
        int sy = (int)floor((y + 0.5) * HI / 24.0), sx = (int)floor((x + 0.5) * wc / 16.0);
        assert_int_equal(d.masks[(i * 24 + y) * 16 + x],
                         expected_label(sy, sx + x0, slice[i], 1, 9));
        float val = d.images[(i * 24 + y) * 16 + x];
        assert_true(val >= 0.0f && val <= 255.0f);
      }
  }
  cb_dataset_free(&d);
  /* Provenance in subjects.tsv: source file, slice, crop columns. */
  char tsv[1000], line[256];
  snprintf(tsv, sizeof tsv, "%s/subjects.tsv", out);
  FILE *f = fopen(tsv, "r");
  assert_non_null(f);
  int found = 0;
  while (fgets(line, sizeof line, f))
    found |= strcmp(line, "Subject_07_01\t7\tSubject_07.mat\t1\t5\t26\n") == 0;
  fclose(f);
  assert_true(found);
  /* An existing output folder is refused. */
  assert_int_equal(cb_duke_import(srcdir, out, &o, NULL), -1);
  assert_non_null(strstr(cb_last_error(), "already exists"));
}

static void expect_fail(const char *path, cb_duke_opts o, const char *m1, const char *m2) {
  cb_duke_scan *sc;
  int n;
  assert_int_equal(cb_duke_read_file(path, &o, 1, &sc, &n), -1);
  const char *e = cb_last_error();
  if (!strstr(e, m1) || (m2 && !strstr(e, m2))) print_error("message: %s\n", e);
  assert_non_null(strstr(e, m1));
  if (m2) assert_non_null(strstr(e, m2));
  assert_null(sc);
  assert_int_equal(n, 0);
}

static void test_bad_input(void **state) {
  (void)state;
  cb_duke_opts o = {9, 1, 0, 0};
  variant v;
  const char *p;

  v = NORMAL;
  v.skip_fluid = 1;
  p = tmp_path("nofluid", "Subject_01.mat");
  write_duke(p, v);
  expect_fail(p, o, "nofluid/Subject_01.mat", "no variable 'manualFluid1'");

  v = NORMAL;
  v.layers_rows = 7;
  p = tmp_path("rows", "Subject_01.mat");
  write_duke(p, v);
  expect_fail(p, o, "rows/Subject_01.mat", "manualLayers1' is 7x32x6; expected 8 boundaries");

  v = NORMAL;
  v.fluid_cols = WI - 1;
  p = tmp_path("fcols", "Subject_01.mat");
  write_duke(p, v);
  expect_fail(p, o, "fcols/Subject_01.mat", "'manualFluid1' is 40x31x6 but 'images' is 40x32x6");

  v = NORMAL;
  v.all_nan = 1;
  p = tmp_path("nan", "Subject_01.mat");
  write_duke(p, v);
  expect_fail(p, o, "nan/Subject_01.mat", "no annotated B-scan");

  v = NORMAL;
  v.drop_boundary = 3;
  p = tmp_path("drop", "Subject_01.mat");
  write_duke(p, v);
  expect_fail(p, o, "drop/Subject_01.mat", "boundary 4 (INL/OPL) has no annotated column");

  /* Issue 16 (7): boundaries outside the image are refused with the value
   * and the range, not imported as an all-background mask. */
  const double rows_out[3] = {5000.0, INFINITY, -3.0};
  const char *bad_text[3] = {"row 5000, outside", "row inf, outside", "row -3, outside"};
  for (int k = 0; k < 3; k++) {
    v = NORMAL;
    v.bad_row = rows_out[k];
    p = tmp_path("badrow", "Subject_01.mat");
    write_duke(p, v);
    expect_fail(p, o, "B-scan 1: boundary 4 (INL/OPL) at column 11", bad_text[k]);
  }
  /* An empty file. */
  p = tmp_path("empty", "Subject_01.mat");
  fclose(fopen(p, "wb"));
  expect_fail(p, o, "empty/Subject_01.mat", "an empty file (0 bytes)");

  v = NORMAL;
  v.images_as_char = 1;
  p = tmp_path("char", "Subject_01.mat");
  write_duke(p, v);
  expect_fail(p, o, "char/Subject_01.mat", "'images' is not a real numeric array");

  /* Truncated: a valid compressed file cut in half, and cut to its header. */
  p = tmp_path("trunc", "Subject_01.mat");
  write_duke(p, NORMAL);
  struct stat st;
  assert_int_equal(stat(p, &st), 0);
  assert_int_equal(truncate(p, st.st_size / 2), 0);
  cb_duke_scan *sc;
  int n;
  assert_int_equal(cb_duke_read_file(p, &o, 1, &sc, &n), -1);
  print_message("half file: %s\n", cb_last_error());
  assert_non_null(strstr(cb_last_error(), "trunc/Subject_01.mat"));
  assert_true(strstr(cb_last_error(), "truncated") || strstr(cb_last_error(), "corrupt"));
  assert_int_equal(truncate(p, 100), 0);
  assert_int_equal(cb_duke_read_file(p, &o, 1, &sc, &n), -1);
  print_message("100-byte file: %s\n", cb_last_error());
  assert_non_null(strstr(cb_last_error(), "trunc/Subject_01.mat"));
  assert_true(strstr(cb_last_error(), "truncated") || strstr(cb_last_error(), "no variable") ||
              strstr(cb_last_error(), "not a MATLAB"));

  p = tmp_path("text", "Subject_01.mat");
  FILE *f = fopen(p, "w");
  fputs("this is not a MAT file, just some text that is long enough to have a header ......"
        "...................................................................................",
        f);
  fclose(f);
  expect_fail(p, o, "text/Subject_01.mat", "not a MATLAB");
  expect_fail("/nonexistent/Subject_01.mat", o, "/nonexistent/Subject_01.mat", "cannot open");

  /* Options. */
  p = tmp_path("one", "Subject_07.mat");
  write_duke(p, NORMAL);
  cb_duke_opts bad = {8, 1, 0, 0};
  expect_fail(p, bad, "--classes 8", NULL);
  bad = (cb_duke_opts){9, 3, 0, 0};
  expect_fail(p, bad, "--expert 3", NULL);
  bad = (cb_duke_opts){9, 1, 24, 0};
  expect_fail(p, bad, "--size", NULL);

  /* Folders. */
  char empty[900], out[900];
  snprintf(empty, sizeof empty, "%s/emptysrc", tst_tmpdir());
  snprintf(out, sizeof out, "%s/never", tst_tmpdir());
  mkdir(empty, 0777);
  assert_int_equal(cb_duke_import(empty, out, &o, NULL), -1);
  assert_non_null(strstr(cb_last_error(), "no Subject_XX.mat"));
  /* A bad file in the middle of an import leaves no output folder. */
  char mixed[900];
  snprintf(mixed, sizeof mixed, "%s/mixed", tst_tmpdir());
  write_duke(tmp_path("mixed", "Subject_01.mat"), NORMAL);
  v = NORMAL;
  v.skip_fluid = 1;
  write_duke(tmp_path("mixed", "Subject_02.mat"), v);
  assert_int_equal(cb_duke_import(mixed, out, &o, NULL), -1);
  assert_non_null(strstr(cb_last_error(), "Subject_02.mat"));
  assert_int_equal(stat(out, &st), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_import_masks),
      cmocka_unit_test(test_import_resized_folder),
      cmocka_unit_test(test_bad_input),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
