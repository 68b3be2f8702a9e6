/* The study's published data as published: a folder of train/ val/ test/
 * split folders (tests/fixtures/study_layout, written by numpy with
 * tests/gen/make_study_layout.py: float32 images of 6 x (6 + subject), float32
 * masks with labels (r + c + subject + slice) % 10), subjects from the
 * Subject_XX names, the label map, split by folders, and every bad case as
 * one line naming the file. Then the as-published switches against values
 * computed by hand: the study's mask resize (bilinear, round half to even),
 * the image resize against torchvision's antialiased bilinear, the per-image
 * Dice, data.normalise: fixed, and the config keys. */
#include "core/base/error.h"
#include "core/data/dataset.h"
#include "core/data/npy.h"
#include "core/data/resize.h"
#include "experiments/config.h"
#include "experiments/trainer.h"
#include "tests/unit/support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *study_dir(void) {
  return tst_src_path("tests/fixtures/study_layout/DukeData");
}

static double fixture_mask(int s, int k, int r, int c) {
  return (r + c + s + k) % 10;
}

/* ---- the published layout ---- */

static void test_layout_loads(void **state) {
  (void)state;
  cb_dataset d;
  /* Widths differ between subjects (as in the real data): no size, no load. */
  assert_int_equal(cb_npy_folder_load(study_dir(), NULL, &d), -1);
  tst_expect_error("Subject_02_00.npy", "images differ in size");

  /* 6 x 7 is subject 1's own size: its two scans load unchanged. */
  cb_npy_folder_opts o = {.H = 6, .W = 7};
  assert_int_equal(cb_npy_folder_load(study_dir(), &o, &d), 0);
  assert_int_equal(d.n, 6);
  assert_int_equal(d.classes, 10); /* labels 0..9 as stored */
  assert_true(d.subjects_known);
  const int subj[6] = {1, 1, 2, 3, 4, 4}, folder[6] = {0, 0, 0, 1, 2, 2};
  const char *names[6] = {"Subject_01_00", "Subject_01_01", "Subject_02_00",
                          "Subject_03_00", "Subject_04_00", "Subject_04_01"};
  assert_non_null(d.folder);
  for (int i = 0; i < 6; i++) {
    assert_int_equal(d.subjects[i], subj[i]);
    assert_int_equal(d.folder[i], folder[i]);
    assert_string_equal(d.names[i], names[i]);
  }
  for (int k = 0; k < 2; k++) /* float masks holding whole numbers, image values exact */
    for (int r = 0; r < 6; r++)
      for (int c = 0; c < 7; c++) {
        size_t at = (size_t)k * 42 + (size_t)r * 7 + (size_t)c;
        assert_int_equal(d.masks[at], (int)fixture_mask(1, k, r, c));
        assert_true(d.images[at] == (float)(10 + k + 0.5 * r + 0.25 * c));
      }
  uint64_t counts[CB_DATA_MAX_CLASSES];
  cb_dataset_class_counts(&d, counts);
  assert_true(counts[9] > 0 && counts[8] > 0);

  cb_split_spec ss;
  cb_split_spec_default(&ss);
  ss.by_folders = 1;
  cb_split sp;
  assert_int_equal(cb_split_make(&d, &ss, &sp), 0);
  assert_int_equal(sp.n[CB_SPLIT_TRAIN], 3);
  assert_int_equal(sp.n[CB_SPLIT_VAL], 1);
  assert_int_equal(sp.n[CB_SPLIT_TEST], 2);
  assert_int_equal(sp.idx[CB_SPLIT_VAL][0], 3);
  cb_split_free(&sp);
  /* A subset keeps the folders. */
  cb_dataset sub;
  int idx[2] = {5, 0};
  assert_int_equal(cb_dataset_subset(&d, idx, 2, &sub), 0);
  assert_int_equal(sub.folder[0], CB_SPLIT_TEST);
  assert_int_equal(sub.folder[1], CB_SPLIT_TRAIN);
  cb_dataset_free(&sub);
  cb_dataset_free(&d);

  /* A flat folder has no split folders to split by. */
  cb_dataset flat;
  assert_int_equal(cb_synth_oct(&flat, 6, 16, 16, 1, NULL), 0);
  assert_int_equal(cb_split_make(&flat, &ss, &sp), -1);
  tst_expect_error("split by folders", "train/");
  cb_dataset_free(&flat);
}

static void test_label_map(void **state) {
  (void)state;
  cb_label_map m;
  assert_int_equal(cb_label_map_parse("duke_10_to_9", &m), 0);
  assert_int_equal(m.n, 2);
  for (int v = 0; v < 256; v++)
    assert_int_equal(m.lut[v], v == 8 ? 0 : v == 9 ? 8 : v);
  char t[64];
  cb_label_map_text(&m, t, sizeof t);
  assert_string_equal(t, "8->0, 9->8");
  assert_int_equal(cb_label_map_parse("none", &m), 0);
  assert_int_equal(m.n, 0);
  assert_int_equal(cb_label_map_parse("8:0, 9:8", &m), 0); /* same as the preset */
  assert_int_equal(m.lut[8], 0);
  assert_int_equal(m.lut[9], 8);
  assert_string_equal(m.name, "custom");
  const char *bad[][2] = {{"8:0,8:1", "listed twice"}, {"8-0", "FROM:TO"},
                          {"8:64", "0..63"},           {"256:0", "0..255"},
                          {"8:0,", "trailing comma"},  {"8:0;9:8", "between pairs"},
                          {"study", "FROM:TO"}};
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    assert_int_equal(cb_label_map_parse(bad[k][0], &m), -1);
    tst_expect_error(bad[k][0], bad[k][1]);
    tst_expect_error("duke_10_to_9", NULL); /* the message names the fix */
  }

  /* Loading with the study's map: 10 labels become 9 classes, named. */
  assert_int_equal(cb_label_map_parse("duke_10_to_9", &m), 0);
  cb_npy_folder_opts o = {.classes = 9, .H = 6, .W = 7, .map = &m};
  cb_dataset d;
  assert_int_equal(cb_npy_folder_load(study_dir(), &o, &d), 0);
  assert_int_equal(d.classes, 9);
  for (int r = 0; r < 6; r++)
    for (int c = 0; c < 7; c++) {
      int raw = (int)fixture_mask(1, 0, r, c);
      assert_int_equal(d.masks[r * 7 + c], raw == 8 ? 0 : raw == 9 ? 8 : raw);
    }
  char b[32];
  assert_string_equal(cb_dataset_class_name(&d, 8, b, sizeof b), "fluid");
  cb_dataset_free(&d);

  /* Without the map, label 9 is beyond 9 classes: the first one is at row 2,
   * column 6 of Subject_01_00 ((2 + 6 + 1 + 0) % 10 = 9). */
  o.map = NULL;
  assert_int_equal(cb_npy_folder_load(study_dir(), &o, &d), -1);
  tst_expect_error("train/masks/Subject_01_00.npy: class id 9 at row 2, column 6", "duke_10_to_9");
  /* A map into a class that does not exist names the stored label. */
  assert_int_equal(cb_label_map_parse("3:12", &m), 0);
  o.map = &m;
  assert_int_equal(cb_npy_folder_load(study_dir(), &o, &d), -1);
  tst_expect_error("class id 12 (label 3 mapped)", "data.label_map");
}

/* ---- bad folders, built here in exactly the published layout ---- */

static char root[600];

static void move(const char *from, const char *to) {
  char a[800], b[800];
  snprintf(a, sizeof a, "%s/%s", root, from);
  snprintf(b, sizeof b, "%s/%s", root, to);
  assert_int_equal(rename(a, b), 0);
}

static void mk(const char *rel) {
  char p[800];
  snprintf(p, sizeof p, "%s/%s", root, rel);
  assert_int_equal(mkdir(p, 0777), 0);
}

static void put(const char *split, const char *sub, const char *name, const float *v) {
  char p[800];
  int64_t shape[2] = {2, 3};
  snprintf(p, sizeof p, "%s/%s/%s/%s.npy", root, split, sub, name);
  assert_int_equal(cb_npy_write(p, CB_NPY_F32, 2, shape, v), 0);
}

static void good(const char *split, const char *name) {
  const float img[6] = {1, 2, 3, 4, 5, 6}, mask[6] = {0, 1, 2, 8, 9, 0};
  put(split, "images", name, img);
  put(split, "masks", name, mask);
}

/* A fresh valid layout: train (subjects 1, 2), val (3), test (4). */
static void fresh(const char *tag) {
  snprintf(root, sizeof root, "%s/%s", tst_tmpdir(), tag);
  assert_int_equal(mkdir(root, 0777), 0);
  const char *splits[3] = {"train", "val", "test"};
  char p[64];
  for (int k = 0; k < 3; k++) {
    mk(splits[k]);
    snprintf(p, sizeof p, "%s/images", splits[k]);
    mk(p);
    snprintf(p, sizeof p, "%s/masks", splits[k]);
    mk(p);
  }
  good("train", "Subject_01_00");
  good("train", "Subject_02_00");
  good("val", "Subject_03_00");
  good("test", "Subject_04_00");
}

static int load(cb_dataset *d) {
  cb_label_map m;
  assert_int_equal(cb_label_map_parse("duke_10_to_9", &m), 0);
  cb_npy_folder_opts o = {.classes = 9, .map = &m};
  return cb_npy_folder_load(root, &o, d);
}

static void test_bad_layouts(void **state) {
  (void)state;
  cb_dataset d;
  char p[900];
  fresh("ok");
  assert_int_equal(load(&d), 0);
  assert_int_equal(d.n, 4);
  cb_dataset_free(&d);

  fresh("nonint"); /* a float mask with a value that is no label */
  const float half[6] = {0, 1, 2, 3, 2.5f, 0}, nan_[6] = {0, NAN, 0, 0, 0, 0};
  put("val", "masks", "Subject_03_00", half);
  assert_int_equal(load(&d), -1);
  tst_expect_error("val/masks/Subject_03_00.npy: mask value 2.5 at row 1, column 1",
                   "not a class id");
  put("val", "masks", "Subject_03_00", nan_);
  assert_int_equal(load(&d), -1);
  tst_expect_error("val/masks/Subject_03_00.npy", "row 0, column 1");

  fresh("nomask");
  snprintf(p, sizeof p, "%s/test/masks/Subject_04_00.npy", root);
  assert_int_equal(remove(p), 0);
  assert_int_equal(load(&d), -1);
  tst_expect_error("test/images/Subject_04_00.npy: image without a mask",
                   "test/masks/Subject_04_00");

  fresh("noimage");
  snprintf(p, sizeof p, "%s/train/images/Subject_02_00.npy", root);
  assert_int_equal(remove(p), 0);
  assert_int_equal(load(&d), -1);
  tst_expect_error("train/masks/Subject_02_00.npy: mask without an image", NULL);

  fresh("twosplits"); /* subject 1 in train and in test */
  good("test", "Subject_01_07");
  assert_int_equal(load(&d), -1);
  tst_expect_error("test/images/Subject_01_07.npy: subject 1 is also in",
                   "train/ (Subject_01_00.npy)");

  fresh("samename");
  good("val", "Subject_02_00");
  assert_int_equal(load(&d), -1);
  tst_expect_error("val/images/Subject_02_00.npy: the same name is in", "train");

  fresh("unknown"); /* label 10: unknown after the 10 -> 9 map */
  const float ten[6] = {0, 1, 2, 3, 4, 10};
  put("train", "masks", "Subject_02_00", ten);
  assert_int_equal(load(&d), -1);
  tst_expect_error("train/masks/Subject_02_00.npy: class id 10 at row 1, column 2", "label_map");

  fresh("notrain");
  move("train", "training");
  assert_int_equal(load(&d), -1);
  tst_expect_error("has val/ but no train/", NULL);

  fresh("nomasks");
  move("val/masks", "val/labels");
  assert_int_equal(load(&d), -1);
  tst_expect_error("/val: a split folder needs images/ and masks/", NULL);

  fresh("empty");
  mk("elsewhere");
  strcat(root, "/elsewhere");
  assert_int_equal(load(&d), -1);
  tst_expect_error("not a dataset folder", "train/ [val/ test/]");

  /* Names without Subject_XX and no subjects.tsv: subjects unknown (every
   * image its own), not an error; the folders still split. */
  fresh("anon");
  good("test", "scan_b");
  assert_int_equal(load(&d), 0);
  assert_false(d.subjects_known);
  assert_int_equal(d.subjects[4], 5);
  cb_dataset_free(&d);
  /* subjects.tsv in a split folder overrides the names. */
  fresh("tsv");
  snprintf(p, sizeof p, "%s/val/subjects.tsv", root);
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  fputs("name\tsubject\nSubject_03_00\t1\n", f);
  fclose(f);
  assert_int_equal(load(&d), -1);
  tst_expect_error("val/images/Subject_03_00.npy: subject 1 is also in", "subjects.tsv");

  assert_int_equal(cb_subject_from_name("Subject_07_03"), 7);
  assert_int_equal(cb_subject_from_name("Subject_10"), 10);
  assert_int_equal(cb_subject_from_name("Subject_x"), -1);
  assert_int_equal(cb_subject_from_name("Subject_07b"), -1);
  assert_int_equal(cb_subject_from_name("subject_07_03"), -1);
}

/* ---- resizing as published ---- */

static void test_mask_resize(void **state) {
  (void)state;
  /* 1 x 2 -> 1 x 1: the antialiased filter averages both, 3.5 and 4.5; torch
   * rounds half to even: 4 and 4 (round half up would give 4 and 5). */
  const uint8_t a[2] = {3, 4}, b[2] = {4, 5}, c[2] = {2, 7};
  uint8_t o[2];
  assert_int_equal(cb_resize_labels_bilinear(a, 1, 2, o, 1, 1), 0);
  assert_int_equal(o[0], 4);
  assert_int_equal(cb_resize_labels_bilinear(b, 1, 2, o, 1, 1), 0);
  assert_int_equal(o[0], 4);
  assert_int_equal(cb_resize_labels_bilinear(c, 1, 2, o, 1, 1), 0);
  assert_int_equal(o[0], 4);
  /* 1 x 4 -> 1 x 2, labels 1 8 0 0: weights 3/7 3/7 1/7 and 1/7 3/7 3/7,
   * 27/7 = 3.86 -> 4 (a label present in neither neighbour) and 8/7 -> 1. */
  const uint8_t row[4] = {1, 8, 0, 0};
  assert_int_equal(cb_resize_labels_bilinear(row, 1, 4, o, 1, 2), 0);
  assert_int_equal(o[0], 4);
  assert_int_equal(o[1], 1);
  cb_resize_nearest(row, 1, 4, o, 1, 2); /* ours: no invented label */
  assert_int_equal(o[0], 8);
  assert_int_equal(o[1], 0);

  /* Through the loader: the same folder with the two mask resizes. */
  cb_label_map m;
  assert_int_equal(cb_label_map_parse("duke_10_to_9", &m), 0);
  cb_npy_folder_opts on = {.classes = 9, .H = 3, .W = 4, .map = &m};
  cb_npy_folder_opts ob = on;
  ob.mask_resize = CB_MASK_RESIZE_BILINEAR_ROUND;
  cb_dataset dn, db;
  assert_int_equal(cb_npy_folder_load(study_dir(), &on, &dn), 0);
  assert_int_equal(cb_npy_folder_load(study_dir(), &ob, &db), 0);
  int differ = 0;
  for (size_t i = 0; i < (size_t)dn.n * 12; i++) {
    differ += dn.masks[i] != db.masks[i];
    assert_true(db.masks[i] < 9);
  }
  assert_true(differ > 0);
  /* Subject 1 scan 0, mapped labels, 6 x 7 -> 3 x 4, output pixel (0, 0) by
   * hand: row scale 2, centre 1, rows 0..2 weigh 0.75 0.75 0.25; column
   * scale 7/4, centre 0.875, columns 0..2 weigh 1 - |c + 0.5 - 0.875| / 1.75;
   * normalised, summed, rounded. */
  double wr[3] = {0.75, 0.75, 0.25}, wc[3], sr = 0, sc = 0, acc = 0;
  for (int k = 0; k < 3; k++) {
    wc[k] = 1.0 - fabs(k + 0.5 - 0.875) / 1.75;
    sr += wr[k];
    sc += wc[k];
  }
  for (int r = 0; r < 3; r++)
    for (int c = 0; c < 3; c++) {
      int raw = (int)fixture_mask(1, 0, r, c), l = raw == 8 ? 0 : raw == 9 ? 8 : raw;
      acc += wr[r] * wc[c] * l;
    }
  assert_int_equal(db.masks[0], (int)nearbyint(acc / (sr * sc)));
  cb_dataset_free(&dn);
  cb_dataset_free(&db);
}

/* torchvision.transforms.Resize on a float tensor (torchvision >= 0.17, as
 * the study's 0.18.1: antialias=True, align_corners=False) is ATen's
 * antialiased bilinear: per axis, centre = scale (i + 0.5), support = scale
 * when shrinking else 1, taps xmin = trunc(centre - support + 0.5) .. xmax =
 * trunc(centre + support + 0.5) (clamped), triangle weights of
 * (j + xmin - centre + 0.5) / support normalised; width first, then height.
 * Written out independently here to check ours is that filter. */
static void torch_aa_axis(int in, int out, int o, int *xmin, int *n, double *w) {
  double scale = (double)in / out, support = scale >= 1.0 ? scale : 1.0;
  double centre = scale * (o + 0.5), total = 0;
  int lo = (int)(centre - support + 0.5), hi = (int)(centre + support + 0.5);
  if (lo < 0) lo = 0;
  if (hi > in) hi = in;
  for (int j = 0; j < hi - lo; j++) {
    double x = fabs((j + lo - centre + 0.5) / support);
    w[j] = x < 1.0 ? 1.0 - x : 0.0;
    total += w[j];
  }
  for (int j = 0; j < hi - lo; j++)
    w[j] /= total;
  *xmin = lo;
  *n = hi - lo;
}

static void torch_aa_resize(const float *src, int h, int w, double *dst, int H, int W) {
  double *mid = malloc((size_t)h * W * sizeof *mid), wt[64];
  int lo, n;
  for (int x = 0; x < W; x++) {
    torch_aa_axis(w, W, x, &lo, &n, wt);
    for (int y = 0; y < h; y++) {
      double a = 0;
      for (int j = 0; j < n; j++)
        a += wt[j] * src[(size_t)y * w + lo + j];
      mid[(size_t)y * W + x] = a;
    }
  }
  for (int y = 0; y < H; y++) {
    torch_aa_axis(h, H, y, &lo, &n, wt);
    for (int x = 0; x < W; x++) {
      double a = 0;
      for (int j = 0; j < n; j++)
        a += wt[j] * mid[(size_t)(lo + j) * W + x];
      dst[(size_t)y * W + x] = a;
    }
  }
  free(mid);
}

static void test_image_resize_is_torchvision(void **state) {
  (void)state;
  /* The study's shapes (496 x 500..548 -> 224 x 224), odd shrinks, and
   * enlargements. */
  const int cases[][4] = {{496, 536, 224, 224}, {496, 500, 224, 224}, {10, 10, 3, 7},
                          {7, 5, 16, 12},       {6, 9, 6, 4},         {5, 5, 5, 5}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    int h = cases[k][0], w = cases[k][1], H = cases[k][2], W = cases[k][3];
    float *src = malloc((size_t)h * w * sizeof *src), *ours = malloc((size_t)H * W * sizeof *ours);
    double *ref = malloc((size_t)H * W * sizeof *ref);
    tst_fill_uniform(src, (size_t)h * w, 11 + k, 0.0f, 255.0f);
    assert_int_equal(cb_resize_bilinear(src, h, w, ours, H, W), 0);
    torch_aa_resize(src, h, w, ref, H, W);
    double worst = 0;
    for (size_t i = 0; i < (size_t)H * W; i++)
      worst = fmax(worst, fabs(ours[i] - ref[i]));
    if (worst > 1e-4) print_error("%dx%d -> %dx%d: differs by %g\n", h, w, H, W, worst);
    assert_true(worst <= 1e-4); /* float32 rounding of values up to 255 */
    free(src);
    free(ours);
    free(ref);
  }
}

/* ---- the study's per-image Dice ---- */

static void test_per_image_dice(void **state) {
  (void)state;
  /* 3 classes, two images of 4 pixels; by hand with s = 1e-4:
   * A: truth 0 0 1 1, pred 0 1 1 1: c0 2(1+s)/(3+s), c1 2(2+s)/(5+s), c2 absent 2s/s = 2
   * B: truth 2 2 2 2, pred 2 2 0 0: c0 2s/(2+s), c1 absent 2, c2 2(2+s)/(6+s) */
  const uint8_t ta[4] = {0, 0, 1, 1}, pa[4] = {0, 1, 1, 1}, tb[4] = {2, 2, 2, 2},
                pb[4] = {2, 2, 0, 0};
  cb_confusion cm;
  cb_metrics m;
  assert_int_equal(cb_confusion_init(&cm, 3, 1), 0);
  assert_int_equal(cb_confusion_add(&cm, ta, pa, 4), 0);
  assert_int_equal(cb_confusion_add(&cm, tb, pb, 4), 0);
  cb_confusion_finish(&cm, &m);
  /* pooled: c0 2/(2+2+1) = 0.4, c1 4/5, c2 4/6 */
  assert_true(fabs(m.mean_dice - (0.4 + 0.8 + 4.0 / 6.0) / 3.0) < 1e-12);
  double iou = m.mean_iou, acc = m.pixel_accuracy;
  cb_image_dice a;
  assert_int_equal(cb_image_dice_init(&a, 3, 1, 1e-4), 0);
  assert_int_equal(cb_image_dice_add(&a, ta, pa, 4), 0);
  assert_int_equal(cb_image_dice_add(&a, tb, pb, 4), 0);
  cb_image_dice_finish(&a, &m);
  assert_true(fabs(m.mean_dice - 1.0222539987780772) < 1e-12);
  assert_true(fabs(m.dice[0] - 0.3334055523149645) < 1e-12);
  assert_true(fabs(m.dice[1] - 1.400011999760005) < 1e-12);
  assert_true(fabs(m.dice[2] - 1.3333444442592624) < 1e-12);
  assert_true(fabs(m.mean_dice_fg - 1.3666782220096336) < 1e-12);
  assert_true(m.mean_iou == iou && m.pixel_accuracy == acc); /* untouched */
  const uint8_t bad[4] = {0, 3, 0, 0};
  assert_int_equal(cb_image_dice_add(&a, bad, pa, 4), -1);
  tst_expect_error("pixel 1 has true class 3", NULL);
  cb_confusion_free(&cm);
}

/* ---- the experiment keys ---- */

static int resolve(cb_experiment *e, const char *text) {
  cb_exp_init(e);
  if (cb_exp_load_string(e, text, "x.yaml")) return -1;
  return cb_exp_resolve(e);
}

static void test_config_keys(void **state) {
  (void)state;
  cb_experiment e;
  char text[2048], id1[CB_RUN_ID_LEN + 1], id2[CB_RUN_ID_LEN + 1];
  snprintf(text, sizeof text,
           "data: {source: npy, path: \"%s\", label_map: duke_10_to_9, mask_resize: "
           "bilinear_round, normalise: fixed}\nmetrics: {dice: per_image}\n",
           study_dir());
  assert_int_equal(resolve(&e, text), 0);
  assert_int_equal(e.data.split.by, CB_SPLIT_FOLDERS); /* auto: the path has train/ */
  char *j = cb_exp_to_json(&e, CB_EXP_JSON_FULL);
  assert_non_null(j);
  const char *want[] = {"\"label_map\":\"duke_10_to_9\"",
                        "\"mask_resize\":\"bilinear_round\"",
                        "\"normalise\":\"fixed\"",
                        "\"normalise_mean\":46.3758",
                        "\"normalise_std\":53.9434",
                        "\"metrics\":{\"dice\":\"per_image\"}",
                        "\"by\":\"folders\""};
  for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
    if (!strstr(j, want[k])) print_error("%s lacks %s\n", j, want[k]);
    assert_non_null(strstr(j, want[k]));
  }
  free(j);
  /* The Dice convention is part of the run id: runs stay distinguishable. */
  assert_int_equal(cb_exp_id(&e, id1), 0);
  assert_int_equal(cb_exp_set(&e, "metrics.dice=pooled"), 0);
  assert_int_equal(cb_exp_resolve(&e), 0);
  assert_int_equal(cb_exp_id(&e, id2), 0);
  assert_string_not_equal(id1, id2);
  /* ... and at its default it is left out of the identity, so runs from
   * before the key keep their ids (test_config freezes the default id). */
  j = cb_exp_to_json(&e, CB_EXP_JSON_IDENTITY);
  assert_null(strstr(j, "\"metrics\""));
  assert_non_null(strstr(j, "\"label_map\":\"duke_10_to_9\""));
  free(j);
  assert_int_equal(cb_exp_set(&e, "data.normalise_std=60"), 0);
  assert_int_equal(cb_exp_resolve(&e), 0);
  assert_true(e.data.normalise_std == 60.0);

  /* Defaults: ours. */
  assert_int_equal(resolve(&e, "data: {source: npy, path: somewhere}\n"), 0);
  assert_int_equal(e.data.normalise, CB_NORMALISE_ZSCORE);
  assert_int_equal(e.data.mask_resize, CB_MASK_RESIZE_NEAREST);
  assert_int_equal(e.metrics.dice, CB_DICE_POOLED);
  assert_string_equal(e.data.label_map, "none");
  assert_int_equal(e.data.split.by, CB_SPLIT_FRACTION);

  /* Errors name the key, where it was set and the fix. */
  assert_int_equal(resolve(&e, "data: {normalise_mean: 40}\n"), -1);
  tst_expect_error("x.yaml:1:24: data.normalise_mean applies only when data.normalise is fixed",
                   NULL);
  assert_int_equal(resolve(&e, "data: {source: npy, path: p, label_map: \"8:0,8:1\"}\n"), -1);
  tst_expect_error("data.label_map: label map '8:0,8:1'", "listed twice");
  assert_int_equal(resolve(&e, "data: {label_map: duke_10_to_9}\n"), -1);
  tst_expect_error("data.label_map applies only when data.source is not synthetic", NULL);
  assert_int_equal(resolve(&e, "data: {split: {by: folders}}\n"), -1);
  tst_expect_error("data.split.by: folders needs data.source npy or duke_npy", NULL);
  assert_int_equal(resolve(&e, "data: {normalise: fixed, normalise_std: 0}\n"), -1);
  tst_expect_error("data.normalise_std", NULL);
  assert_int_equal(resolve(&e, "metrics: {dice: mean}\n"), -1);
  tst_expect_error("pooled|per_image", NULL);
}

/* data.normalise: fixed and split by folders in a run's setup; the per-image
 * Dice through the evaluator. */
static void test_trainer_switches(void **state) {
  (void)state;
  cb_experiment e;
  char text[2048];
  snprintf(text, sizeof text,
           "backend: cpu\nthreads: 1\ndata: {source: npy, path: \"%s\", size: [8, 8], "
           "label_map: duke_10_to_9, normalise: fixed, normalise_mean: 10, normalise_std: 4}\n"
           "model: {width: 2, depth: 1, groups: 1}\ntrain: {batch_size: 2}\n"
           "metrics: {dice: per_image}\n",
           study_dir());
  assert_int_equal(resolve(&e, text), 0);
  cb_trainer t;
  assert_int_equal(cb_trainer_setup(&t, &e, "0123456789abcdef"), 0);
  assert_int_equal(t.n_train, 3);
  assert_int_equal(t.n_eval, 1); /* val/ */
  assert_true(t.norm.mean == 10.0 && t.norm.std == 4.0);
  /* The raw image, resized the same way, then (x - 10) / 4. */
  cb_label_map m;
  assert_int_equal(cb_label_map_parse("duke_10_to_9", &m), 0);
  cb_npy_folder_opts o = {.classes = 9, .H = 8, .W = 8, .map = &m};
  cb_dataset raw;
  assert_int_equal(cb_npy_folder_load(study_dir(), &o, &raw), 0);
  for (size_t i = 0; i < (size_t)raw.n * 64; i++)
    assert_true(fabsf(t.data.images[i] - (float)((raw.images[i] - 10.0) / 4.0)) < 1e-6f);
  cb_dataset_free(&raw);

  cb_eval_stats st;
  assert_int_equal(cb_trainer_evaluate(&t, 0, &st), 0);
  /* One validation image: its per-image Dice recomputed from the last
   * predictions the evaluator left in t.pred / t.hy. */
  double mean = 0;
  for (int c = 0; c < 9; c++) {
    double tp = 0, nt = 0, np = 0;
    for (int p = 0; p < 64; p++) {
      nt += t.hy[p] == c;
      np += t.pred[p] == c;
      tp += t.hy[p] == c && t.pred[p] == c;
    }
    mean += 2.0 * (tp + 1e-4) / (nt + np + 1e-4) / 9.0;
  }
  assert_true(fabs(st.metrics.mean_dice - mean) < 1e-12);
  cb_trainer_free(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_layout_loads),
      cmocka_unit_test(test_label_map),
      cmocka_unit_test(test_bad_layouts),
      cmocka_unit_test(test_mask_resize),
      cmocka_unit_test(test_image_resize_is_torchvision),
      cmocka_unit_test(test_per_image_dice),
      cmocka_unit_test(test_config_keys),
      cmocka_unit_test(test_trainer_switches),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
