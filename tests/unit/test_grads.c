/* clipbench grads: the files it writes are consistent with each other and
 * with the clipping mode: total norm = L2 of the per-tensor norms = L2 of the
 * per-layer norms; the clipped sum is within n*C (flat); with clipping none
 * it is the plain sum; the batch is the first Poisson batch. */
#include "core/base/error.h"
#include "core/cli/commands.h"
#include "core/io/safetensors.h"
#include "tests/unit/support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *write_cfg(const char *clipping) {
  static char path[512];
  snprintf(path, sizeof path, "%s/%s.yaml", tst_tmpdir(), clipping);
  FILE *f = fopen(path, "w");
  fprintf(f, "seed: 4\ndata: {size: [32, 32], count: 30}\nmodel: {arch: nested_unet, width: 4, "
             "depth: 2}\ntrain: {epochs: 1, batch_size: 6, lr: 0.01}\n");
  if (strcmp(clipping, "none") != 0)
    fprintf(f, "dp: {clipping: %s, clip_bound: 0.5, noise_multiplier: 1.0}\n", clipping);
  fclose(f);
  return path;
}

static int run_grads(const char *cfg, const char *out) {
  char *argv[] = {"grads", (char *)cfg, "--out", (char *)out, NULL};
  return cb_cmd_grads(4, argv);
}

static double l2_rows(const cb_st_tensor *t, int r) {
  const double *v = (const double *)t->data + (int64_t)r * t->shape[1];
  double s = 0;
  for (int64_t k = 0; k < t->shape[1]; k++)
    s += v[k] * v[k];
  return sqrt(s);
}

static const cb_st_tensor *find(const cb_st_file *f, const char *name) {
  for (int i = 0; i < f->n; i++)
    if (strcmp(f->t[i].name, name) == 0) return &f->t[i];
  fail_msg("no tensor %s", name);
  return NULL;
}

static double sum_norm(const cb_st_file *f) {
  double s = 0;
  for (int i = 0; i < f->n; i++) {
    const float *v = (const float *)f->t[i].data;
    for (int64_t k = 0; k < f->t[i].numel; k++)
      s += (double)v[k] * v[k];
  }
  return sqrt(s);
}

static void check(const char *clipping, double *sum_out, double *norm_sum_out) {
  char out[512];
  snprintf(out, sizeof out, "%s/out_%s", tst_tmpdir(), clipping);
  assert_int_equal(run_grads(write_cfg(clipping), out), 0);
  char p[600];
  cb_st_file nf, bf, cf;
  snprintf(p, sizeof p, "%s/norms.safetensors", out);
  assert_int_equal(cb_st_read(p, &nf), 0);
  snprintf(p, sizeof p, "%s/batch.safetensors", out);
  assert_int_equal(cb_st_read(p, &bf), 0);
  snprintf(p, sizeof p, "%s/clipped_sum.safetensors", out);
  assert_int_equal(cb_st_read(p, &cf), 0);
  const cb_st_tensor *tot = find(&nf, "total"), *pt = find(&nf, "per_tensor"),
                     *pl = find(&nf, "per_layer");
  int n = (int)tot->shape[0];
  assert_true(n > 0);
  assert_int_equal(find(&bf, "images")->shape[0], n);
  assert_int_equal(find(&bf, "index")->shape[0], n);
  double norm_sum = 0;
  for (int i = 0; i < n; i++) {
    double t = ((const double *)tot->data)[i];
    assert_true(fabs(l2_rows(pt, i) - t) <= 1e-9 * t);
    assert_true(fabs(l2_rows(pl, i) - t) <= 1e-9 * t);
    norm_sum += t;
  }
  double s = sum_norm(&cf);
  if (strcmp(clipping, "flat") == 0) assert_true(s <= n * 0.5);
  assert_true(s <= norm_sum * (1 + 1e-6)); /* triangle inequality */
  *sum_out = s;
  *norm_sum_out = norm_sum;
  cb_st_close(&nf);
  cb_st_close(&bf);
  cb_st_close(&cf);
}

static void grads_files(void **state) {
  (void)state;
  double s_flat, ns_flat, s_none, ns_none;
  check("flat", &s_flat, &ns_flat);
  check("none", &s_none, &ns_none);
  /* The same batch and weights: the pre-clip norms agree across modes. */
  assert_true(fabs(ns_flat - ns_none) <= 1e-9 * ns_none);
  /* Every per-sample norm of this first step exceeds C = 0.5, so clipping
   * must shrink the sum. */
  assert_true(s_flat < s_none);
}

static void grads_errors(void **state) {
  (void)state;
  char *argv[] = {"grads", (char *)write_cfg("flat"), NULL};
  assert_int_not_equal(cb_cmd_grads(2, argv), 0);
  assert_non_null(strstr(cb_last_error(), "--out"));
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(grads_files), cmocka_unit_test(grads_errors)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
