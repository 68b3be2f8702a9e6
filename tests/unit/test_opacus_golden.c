/* The DP engine against Opacus (fixtures made by tests/gen/gen_opacus.py with
 * torch + opacus): per-sample gradient norms per tensor and in total, and
 * the clipped sums of flat clipping (DPOptimizer) and per-layer clipping with
 * one threshold per tensor (DPPerLayerOptimizer), noise off, under every
 * norm rule (mixed, ghost, materialise). Tolerance: 1e-4 relative, per tensor
 * for the sums (norm of the difference over the norm of Opacus' tensor). The
 * U-Net has ConvTranspose2d layers, for which Opacus uses its functorch
 * fallback. */
#include "core/dp/dp.h"
#include "core/io/json_parse.h"
#include "core/io/safetensors.h"
#include "tests/unit/support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-4

static const cb_st_tensor *need(const cb_st_file *f, const char *name) {
  for (int i = 0; i < f->n; i++)
    if (strcmp(f->t[i].name, name) == 0) return &f->t[i];
  fail_msg("%s: no tensor %s", f->what, name);
  return NULL;
}

static int choice(const char *const *names, const char *s) {
  for (int k = 0; names[k]; k++)
    if (strcmp(names[k], s) == 0) return k;
  fail_msg("unknown choice %s", s);
  return -1;
}

static void model_cfg(const cb_st_file *f, cb_model_cfg *c) {
  const char *j = cb_meta_get(&f->meta, "model");
  assert_non_null(j);
  cb_jv v = {0};
  assert_int_equal(cb_jv_parse(j, strlen(j), "model", &v), 0);
  c->arch = (cb_arch)choice(CB_ARCH_NAMES, cb_jv_get(&v, "arch")->str);
  c->up = choice(CB_UP_NAMES, cb_jv_get(&v, "up")->str);
  c->width = (int)cb_jv_get(&v, "width")->i;
  c->depth = (int)cb_jv_get(&v, "depth")->i;
  c->in_channels = (int)cb_jv_get(&v, "in_channels")->i;
  c->classes = (int)cb_jv_get(&v, "classes")->i;
  c->groups = (int)cb_jv_get(&v, "groups")->i;
  c->bias = cb_jv_get(&v, "bias")->boolean;
  cb_jv_free(&v);
}

static double meta_num(const cb_st_file *f, const char *key) {
  const char *v = cb_meta_get(&f->meta, key);
  assert_non_null(v);
  return strtod(v, NULL);
}

/* Column of each of our tensors in the fixture's norm_tensor matrix. */
static void tensor_columns(const cb_st_file *f, const cb_model *m, int *col) {
  const char *j = cb_meta_get(&f->meta, "tensors");
  cb_jv v = {0};
  assert_int_equal(cb_jv_parse(j, strlen(j), "tensors", &v), 0);
  assert_int_equal(v.n, m->n_tensors);
  for (int t = 0; t < m->n_tensors; t++) {
    col[t] = -1;
    for (int k = 0; k < v.n; k++)
      if (strcmp(v.items[k].str, m->tensors[t].name) == 0) col[t] = k;
    if (col[t] < 0) fail_msg("Opacus fixture has no tensor %s", m->tensors[t].name);
  }
  cb_jv_free(&v);
}

static void check(const char *file) {
  cb_st_file f;
  if (cb_st_read(tst_src_path(file), &f)) fail_msg("%s", "cannot read fixture");
  cb_model_cfg cfg;
  model_cfg(&f, &cfg);
  const cb_st_tensor *in = need(&f, "input"), *lab = need(&f, "labels");
  int N = (int)in->shape[0], H = (int)in->shape[2], W = (int)in->shape[3];
  cb_model *m = cb_model_create(cb_backend_cpu(), &cfg, H, W);
  assert_non_null(m);
  assert_int_equal(cb_model_alloc(m, N), 0);
  for (int t = 0; t < m->n_tensors; t++) {
    const cb_st_tensor *w = need(&f, m->tensors[t].name);
    assert_int_equal(w->numel, m->tensors[t].numel);
    memcpy(m->params + m->tensors[t].offset, w->data, sizeof(float) * w->numel);
  }
  memcpy(m->input, in->data, in->nbytes);
  memcpy(m->labels, lab->data, lab->nbytes);
  int *col = malloc(sizeof(int) * m->n_tensors);
  tensor_columns(&f, m, col);
  const double *ref_tot = (const double *)need(&f, "norm_total")->data;
  const double *ref_t = (const double *)need(&f, "norm_tensor")->data;

  static const char *const modes[2] = {"flat", "per_layer"};
  for (int mode = 0; mode < 2; mode++)
    for (int rule = 0; rule < 3; rule++) {
      cb_model_forward(m, N);
      cb_model_loss(m, N);
      cb_model_backward(m, N);
      cb_dp_cfg c;
      cb_dp_cfg_default(&c);
      c.mode = mode == 0 ? CB_CLIP_FLAT : CB_CLIP_PER_LAYER;
      c.clip_bound = meta_num(&f, mode == 0 ? "clip_flat" : "clip_layer");
      c.group_by = CB_GROUP_TENSOR;
      c.thresholds = CB_THRESH_SAME;
      c.norm_rule = (cb_norm_rule)rule;
      c.noise_multiplier = 0.0;
      c.expected_batch = 1.0; /* Opacus with loss_reduction "sum" does not divide */
      cb_dp *dp = cb_dp_create(m, &c);
      assert_non_null(dp);
      cb_dp_step_info info = {0, 0, 0};
      assert_int_equal(cb_dp_begin_step(dp, &info), 0);
      assert_int_equal(cb_dp_accumulate(dp, N), 0);
      /* Per-sample norms, per tensor and in total. */
      const double *tsq = cb_dp_last_tensor_sqnorms(dp), *tot = cb_dp_last_total_norms(dp);
      for (int i = 0; i < N; i++) {
        if (tst_rel_err(tot[i], ref_tot[i], 1e-12) > TOL)
          fail_msg("%s %s/%s sample %d total norm %.9g, Opacus %.9g", file, modes[mode],
                   CB_NORM_RULE_NAMES[rule], i, tot[i], ref_tot[i]);
        for (int t = 0; t < m->n_tensors; t++) {
          double got = sqrt(tsq[(size_t)i * m->n_tensors + t]);
          double want = ref_t[(size_t)i * m->n_tensors + col[t]];
          if (fabs(got - want) > TOL * fmax(want, 1e-6 * ref_tot[i]))
            fail_msg("%s %s/%s sample %d %s norm %.9g, Opacus %.9g", file, modes[mode],
                     CB_NORM_RULE_NAMES[rule], i, m->tensors[t].name, got, want);
        }
      }
      assert_int_equal(cb_dp_finish_step(dp, NULL), 0);
      /* Clipped sums, tensor by tensor. */
      for (int t = 0; t < m->n_tensors; t++) {
        char name[160];
        snprintf(name, sizeof name, "%s.%s", modes[mode], m->tensors[t].name);
        const cb_st_tensor *ref = need(&f, name);
        const float *want = (const float *)ref->data, *got = m->grads + m->tensors[t].offset;
        double d = 0, s = 0;
        for (int64_t k = 0; k < ref->numel; k++) {
          d += pow((double)got[k] - want[k], 2);
          s += (double)want[k] * want[k];
        }
        if (sqrt(d) > TOL * sqrt(s) + 1e-12)
          fail_msg("%s %s/%s clipped sum of %s: |diff| %.3g, |Opacus| %.3g", file, modes[mode],
                   CB_NORM_RULE_NAMES[rule], m->tensors[t].name, sqrt(d), sqrt(s));
      }
      cb_dp_free(dp);
      /* Opacus' noise std for sigma 1: C (flat), ||[C_k]||_2 (per layer). */
      c.noise_multiplier = 1.0;
      dp = cb_dp_create(m, &c);
      double want_std = meta_num(&f, mode == 0 ? "noise_std_flat" : "noise_std_per_layer");
      assert_true(tst_rel_err(cb_dp_noise_std(dp), want_std, 1e-12) < 1e-6);
      cb_dp_free(dp);
    }
  free(col);
  cb_model_free(m);
  cb_st_close(&f);
}

static void opacus_unet(void **s) {
  (void)s;
  check("tests/fixtures/opacus_unet.safetensors");
}

static void opacus_nested_unet(void **s) {
  (void)s;
  check("tests/fixtures/opacus_nested_unet.safetensors");
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(opacus_unet),
                                     cmocka_unit_test(opacus_nested_unet)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
