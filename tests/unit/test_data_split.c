/* Splits never put one subject in two splits (subject lists and fractions,
 * many random datasets and seeds); the study's default split of 10 subjects
 * gives 66/22/22 images; normalisation uses the training images only. */
#include "core/base/error.h"
#include "core/data/dataset.h"
#include "core/kernels/philox.h"
#include "tests/unit/support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Every image is in at most one split, and no subject spans two splits.
 * Returns how many images are assigned. */
static int check_disjoint(const cb_dataset *d, const cb_split *s) {
  int *where = malloc((size_t)d->n * sizeof *where);
  for (int i = 0; i < d->n; i++)
    where[i] = -1;
  int assigned = 0;
  for (int k = 0; k < 3; k++)
    for (int j = 0; j < s->n[k]; j++) {
      int i = s->idx[k][j];
      assert_in_range(i, 0, d->n - 1);
      assert_int_equal(where[i], -1);
      if (j) assert_true(s->idx[k][j - 1] < i); /* ascending */
      where[i] = k;
      assigned++;
    }
  for (int a = 0; a < d->n; a++)
    for (int b = 0; b < d->n; b++)
      if (where[a] >= 0 && where[b] >= 0 && d->subjects[a] == d->subjects[b])
        assert_int_equal(where[a], where[b]);
  free(where);
  return assigned;
}

static void make(cb_dataset *d, int n, const int *subjects) {
  assert_int_equal(cb_dataset_alloc(d, n, 2, 2, 2, 0), 0);
  for (int i = 0; i < n; i++)
    d->subjects[i] = subjects[i];
  d->subjects_known = 1;
}

static void test_study_default(void **state) {
  (void)state;
  cb_dataset d;
  assert_int_equal(cb_synth_oct(&d, 110, 16, 16, 1, NULL), 0);
  cb_split_spec sp;
  cb_split_spec_default(&sp);
  cb_split s;
  assert_int_equal(cb_split_make(&d, &sp, &s), 0);
  assert_int_equal(s.n[CB_SPLIT_TRAIN], 66);
  assert_int_equal(s.n[CB_SPLIT_VAL], 22);
  assert_int_equal(s.n[CB_SPLIT_TEST], 22);
  assert_int_equal(check_disjoint(&d, &s), 110);
  for (int j = 0; j < 66; j++)
    assert_in_range(d.subjects[s.idx[0][j]], 1, 6);
  for (int j = 0; j < 22; j++)
    assert_in_range(d.subjects[s.idx[1][j]], 7, 8);
  for (int j = 0; j < 22; j++)
    assert_in_range(d.subjects[s.idx[2][j]], 9, 10);
  cb_split_free(&s);
  cb_dataset_free(&d);
}

static void test_lists(void **state) {
  (void)state;
  int ids[16], n;
  assert_int_equal(cb_subject_list_parse("3-5, 1,4", ids, 16, &n), 0);
  assert_int_equal(n, 4);
  assert_int_equal(ids[0], 1);
  assert_int_equal(ids[3], 5);
  assert_int_equal(cb_subject_list_parse("5-3", ids, 16, &n), -1);
  assert_int_equal(cb_subject_list_parse("1;2", ids, 16, &n), -1);
  assert_int_equal(cb_subject_list_parse("x", ids, 16, &n), -1);
  assert_int_equal(cb_subject_list_parse("", ids, 16, &n), 0);
  assert_int_equal(n, 0);

  int subj[8] = {1, 1, 2, 3, 3, 4, 5, 5};
  cb_dataset d;
  make(&d, 8, subj);
  cb_split_spec sp;
  cb_split_spec_default(&sp);
  cb_split s;
  int l13[2] = {3, 1}, l4[1] = {4}, l345[3] = {3, 4, 5}, l9[1] = {9};
  sp.subjects[0] = l13;
  sp.n_subjects[0] = 2;
  sp.subjects[1] = l4;
  sp.n_subjects[1] = 1;
  sp.subjects[2] = l9;
  sp.n_subjects[2] = 0;
  assert_int_equal(cb_split_make(&d, &sp, &s), 0);
  assert_int_equal(s.n[0], 4);
  assert_int_equal(s.n[1], 1);
  assert_int_equal(s.n[2], 0);
  assert_int_equal(check_disjoint(&d, &s), 5); /* subjects 2 and 5 left out */
  cb_split_free(&s);
  sp.subjects[2] = l345;
  sp.n_subjects[2] = 3;
  assert_int_equal(cb_split_make(&d, &sp, &s), -1);
  assert_non_null(strstr(cb_last_error(), "subject 3 is in both the train and the test list"));
  sp.subjects[2] = l9;
  sp.n_subjects[2] = 1;
  assert_int_equal(cb_split_make(&d, &sp, &s), -1);
  assert_non_null(strstr(cb_last_error(), "test subjects (9) have no images"));
  assert_non_null(strstr(cb_last_error(), "subjects are 1..5"));
  sp.n_subjects[0] = 0;
  sp.n_subjects[2] = 0;
  assert_int_equal(cb_split_make(&d, &sp, &s), -1);
  assert_non_null(strstr(cb_last_error(), "training split is empty"));
  cb_dataset_free(&d);
}

/* Random datasets (subject ids in random order, random counts per subject),
 * random fractions and seeds: never a shared subject, every image assigned,
 * every split with a positive fraction non-empty, the test and validation
 * splits at least their share (or as close as whole subjects allow), the
 * same seed the same split. */
static void test_fraction_never_leaks(void **state) {
  (void)state;
  for (int trial = 0; trial < 300; trial++) {
    int ns = 3 + (int)(cb_uniform(77, 1, 0, (uint64_t)trial) * 15);
    int n = 0, subj[400];
    for (int s = 0; s < ns; s++) {
      int c = 1 + (int)(cb_uniform(77, 2, (uint32_t)trial, (uint64_t)s) * 12);
      for (int k = 0; k < c; k++)
        subj[n++] = 100 + 3 * s;
    }
    for (int i = n - 1; i > 0; i--) { /* scramble image order */
      int j = (int)(cb_uniform(77, 3, (uint32_t)trial, (uint64_t)i) * (i + 1));
      int t = subj[i];
      subj[i] = subj[j];
      subj[j] = t;
    }
    cb_dataset d;
    make(&d, n, subj);
    cb_split_spec sp;
    cb_split_spec_default(&sp);
    sp.by_fraction = 1;
    sp.val_frac = 0.05 + 0.3 * cb_uniform(77, 4, 0, (uint64_t)trial);
    sp.test_frac = trial % 5 == 0 ? 0.0 : 0.05 + 0.3 * cb_uniform(77, 5, 0, (uint64_t)trial);
    sp.seed = (uint64_t)trial;
    cb_split s, t;
    assert_int_equal(cb_split_make(&d, &sp, &s), 0);
    assert_int_equal(check_disjoint(&d, &s), n);
    assert_true(s.n[0] > 0 && s.n[1] > 0);
    assert_true(sp.test_frac > 0 ? s.n[2] > 0 : s.n[2] == 0);
    assert_int_equal(cb_split_make(&d, &sp, &t), 0);
    for (int k = 0; k < 3; k++) {
      assert_int_equal(s.n[k], t.n[k]);
      assert_memory_equal(s.idx[k], t.idx[k], (size_t)s.n[k] * sizeof(int));
    }
    cb_split_free(&t);
    cb_split_free(&s);
    cb_dataset_free(&d);
  }
}

/* Shares come out as asked when subjects are small; seeds change the split. */
static void test_fraction_shares(void **state) {
  (void)state;
  int subj[200];
  for (int i = 0; i < 200; i++)
    subj[i] = i / 2; /* 100 subjects of 2 */
  cb_dataset d;
  make(&d, 200, subj);
  cb_split_spec sp;
  cb_split_spec_default(&sp);
  sp.by_fraction = 1;
  sp.val_frac = 0.15;
  sp.test_frac = 0.25;
  cb_split a, b;
  assert_int_equal(cb_split_make(&d, &sp, &a), 0);
  assert_int_equal(a.n[CB_SPLIT_TEST], 50);
  assert_int_equal(a.n[CB_SPLIT_VAL], 30);
  assert_int_equal(a.n[CB_SPLIT_TRAIN], 120);
  sp.seed = 2;
  assert_int_equal(cb_split_make(&d, &sp, &b), 0);
  assert_memory_not_equal(a.idx[2], b.idx[2], 50 * sizeof(int));
  cb_split_free(&a);
  cb_split_free(&b);
  cb_dataset_free(&d);
  int two[4] = {1, 1, 2, 2};
  make(&d, 4, two);
  assert_int_equal(cb_split_make(&d, &sp, &a), -1);
  assert_non_null(strstr(cb_last_error(), "at least 3 subjects"));
  sp.val_frac = 0.6;
  sp.test_frac = 0.5;
  assert_int_equal(cb_split_make(&d, &sp, &a), -1);
  cb_dataset_free(&d);
}

/* z-score statistics come from the training images only. Training images
 * hold values around 10, the others around 1000: any leak shows. */
static void test_normalisation_train_only(void **state) {
  (void)state;
  int subj[9] = {1, 1, 2, 2, 3, 3, 4, 4, 5};
  cb_dataset d;
  assert_int_equal(cb_dataset_alloc(&d, 9, 5, 6, 2, 0), 0);
  for (int i = 0; i < 9; i++)
    d.subjects[i] = subj[i];
  cb_split_spec sp;
  cb_split_spec_default(&sp);
  int tr[2] = {1, 2}, va[1] = {3}, te[2] = {4, 5};
  sp.subjects[0] = tr;
  sp.n_subjects[0] = 2;
  sp.subjects[1] = va;
  sp.n_subjects[1] = 1;
  sp.subjects[2] = te;
  sp.n_subjects[2] = 2;
  cb_split s;
  assert_int_equal(cb_split_make(&d, &sp, &s), 0);
  for (int i = 0; i < 9; i++) {
    int train = subj[i] <= 2;
    tst_fill_uniform(d.images + i * 30, 30, (uint64_t)i, train ? 8.0f : 990.0f,
                     train ? 12.0f : 1010.0f);
  }
  /* Independent two-pass statistics of the 4 training images. */
  double sum = 0.0, ss = 0.0;
  for (int i = 0; i < 4 * 30; i++)
    sum += d.images[i];
  double mean = sum / 120.0;
  for (int i = 0; i < 4 * 30; i++)
    ss += (d.images[i] - mean) * (d.images[i] - mean);
  double sd = sqrt(ss / 120.0);
  cb_norm_stats st;
  assert_int_equal(cb_norm_fit(&d, s.idx[0], s.n[0], &st), 0);
  assert_true(fabs(st.mean - mean) < 1e-12 * mean);
  assert_true(fabs(st.std - sd) < 1e-9 * sd);
  assert_int_equal(st.pixels, 120);
  assert_true(st.mean < 12.0 && st.std < 3.0);
  float lo = d.images[0], hi = d.images[0];
  for (int i = 0; i < 120; i++) {
    lo = fminf(lo, d.images[i]);
    hi = fmaxf(hi, d.images[i]);
  }
  assert_true(st.min == lo && st.max == hi);
  /* unit: training images land in [0, 1] exactly at their extremes. */
  cb_dataset u;
  int all[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
  assert_int_equal(cb_dataset_subset(&d, all, 9, &u), 0);
  cb_norm_apply_unit(&u, &st);
  float ulo = 1, uhi = 0;
  for (int i = 0; i < 120; i++) {
    ulo = fminf(ulo, u.images[i]);
    uhi = fmaxf(uhi, u.images[i]);
  }
  assert_true(ulo == 0.0f && uhi == 1.0f);
  assert_true(u.images[200] > 50.0f);
  cb_dataset_free(&u);
  cb_norm_apply(&d, &st);
  double m2 = 0.0, v2 = 0.0;
  for (int i = 0; i < 120; i++)
    m2 += d.images[i];
  m2 /= 120.0;
  for (int i = 0; i < 120; i++)
    v2 += (d.images[i] - m2) * (d.images[i] - m2);
  assert_true(fabs(m2) < 1e-5);
  assert_true(fabs(sqrt(v2 / 120.0) - 1.0) < 1e-5);
  for (int i = 120; i < 270; i++)
    assert_true(d.images[i] > 100.0f); /* not normalised to ~0 */
  /* Constant training images cannot be z-scored. */
  for (int i = 0; i < 120; i++)
    d.images[i] = 3.0f;
  assert_int_equal(cb_norm_fit(&d, s.idx[0], s.n[0], &st), -1);
  assert_non_null(strstr(cb_last_error(), "constant"));
  assert_int_equal(cb_norm_fit(&d, s.idx[0], 0, &st), -1);
  cb_split_free(&s);
  cb_dataset_free(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_study_default),
      cmocka_unit_test(test_lists),
      cmocka_unit_test(test_fraction_never_leaks),
      cmocka_unit_test(test_fraction_shares),
      cmocka_unit_test(test_normalisation_train_only),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
