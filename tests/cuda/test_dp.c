/* The DP engine on the device against the CPU, on tiny U-Net and Nested
 * U-Net, in every clipping mode and norm rule: per-sample squared norms of
 * every tensor, clipping coefficients, the step statistics, the clipped sum
 * (noise off, so nothing hides it) and the privatised gradient with noise
 * on. Two physical chunks per logical step, so accumulation across chunks
 * is covered. Bound: 1e-4 (PT_MODEL_TOL: GEMM rounding through a whole
 * model); the clipped/unclipped decision and the adaptive count are equal. */
#include "core/base/error.h"
#include "core/dp/dp.h"
#include "tests/cuda/support/parity.h"
#include "tests/cuda/support/twin.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { S = 16, NB = 3 };

typedef struct {
  const char *name;
  void (*set)(cb_dp_cfg *c);
} mode_case;

static void m_none(cb_dp_cfg *c) {
  c->mode = CB_CLIP_NONE;
}
static void m_none_norms(cb_dp_cfg *c) {
  c->mode = CB_CLIP_NONE;
  c->record_norms = 1;
}
static void m_flat_mixed(cb_dp_cfg *c) {
  c->mode = CB_CLIP_FLAT;
}
static void m_flat_ghost(cb_dp_cfg *c) {
  c->mode = CB_CLIP_FLAT;
  c->norm_rule = CB_NORM_GHOST;
}
static void m_flat_mat(cb_dp_cfg *c) {
  c->mode = CB_CLIP_FLAT;
  c->norm_rule = CB_NORM_MATERIALISE;
}
static void m_layer_tensor(cb_dp_cfg *c) {
  c->mode = CB_CLIP_PER_LAYER;
  c->group_by = CB_GROUP_TENSOR;
  c->thresholds = CB_THRESH_SAME;
}
static void m_layer_split(cb_dp_cfg *c) {
  c->mode = CB_CLIP_PER_LAYER;
  c->group_by = CB_GROUP_LAYER;
  c->thresholds = CB_THRESH_SPLIT;
  c->norm_rule = CB_NORM_GHOST;
}
static void m_auto_s(cb_dp_cfg *c) {
  c->mode = CB_CLIP_AUTOMATIC;
  c->auto_variant = CB_AUTO_S;
}
static void m_auto_v_layer(cb_dp_cfg *c) {
  c->mode = CB_CLIP_AUTOMATIC;
  c->auto_variant = CB_AUTO_V;
  c->per_layer_scope = 1;
}
static void m_rs(cb_dp_cfg *c) {
  c->mode = CB_CLIP_RS;
  c->rs_final_rate = 0.6;
  c->rs_refresh = 2;
  c->epochs = 2;
  c->steps_per_epoch = 4;
}
static void m_adaptive(cb_dp_cfg *c) {
  c->mode = CB_CLIP_ADAPTIVE;
  c->ad_count_std = 2.0;
}

static const mode_case MODES[] = {
    {"none", m_none},
    {"none+norms", m_none_norms},
    {"flat mixed", m_flat_mixed},
    {"flat ghost", m_flat_ghost},
    {"flat materialise", m_flat_mat},
    {"per_layer tensor same", m_layer_tensor},
    {"per_layer layer split ghost", m_layer_split},
    {"automatic S", m_auto_s},
    {"automatic V per-layer", m_auto_v_layer},
    {"random_sparsification", m_rs},
    {"adaptive", m_adaptive},
};

static tw_model make(cb_arch arch, int up) {
  cb_model_cfg c;
  cb_model_cfg_default(&c, arch);
  c.width = 4;
  c.depth = 2;
  c.classes = 3;
  c.groups = 2;
  c.up = up;
  tw_model t = tw_arch(&c, S, S, NB);
  tw_init_params(&t, 7);
  return t;
}

/* Forward, loss and backward of chunk `k` on both. */
static void chunk(tw_model *t, int k, int n) {
  tw_data(t, n, 1000 + (uint64_t)k);
  tw_forward_loss(t);
  cb_model_backward(t->cpu, n);
  cb_model_backward(t->dev, n);
}

static void one_step(tw_model *t, const mode_case *mc, double sigma, uint32_t step) {
  cb_dp_cfg c;
  cb_dp_cfg_default(&c);
  mc->set(&c);
  /* A bound of the order of the per-sample norms of these tiny models. */
  c.clip_bound = 0.5;
  c.noise_multiplier = sigma;
  c.expected_batch = 4.0;
  c.seed = 99;
  cb_dp *dc = cb_dp_create(t->cpu, &c), *dd = cb_dp_create(t->dev, &c);
  if (!dc || !dd) fail_msg("%s: cb_dp_create: %s", mc->name, cb_last_error());
  cb_dp_step_info info = {step, (int)(step / 4), (int)(step % 4)};
  assert_int_equal(cb_dp_begin_step(dc, &info), 0);
  if (cb_dp_begin_step(dd, &info)) fail_msg("%s: device begin: %s", mc->name, cb_last_error());
  const int sizes[2] = {NB, 2};
  int nt = t->cpu->n_tensors;
  for (int k = 0; k < 2; k++) {
    int n = sizes[k];
    chunk(t, k, n);
    assert_int_equal(cb_dp_accumulate(dc, n), 0);
    if (cb_dp_accumulate(dd, n)) fail_msg("%s: device accumulate: %s", mc->name, cb_last_error());
    char what[160];
    if (c.mode != CB_CLIP_NONE || c.record_norms) {
      snprintf(what, sizeof what, "%s chunk %d: per-tensor squared norms", mc->name, k);
      pt_expect_close_d(what, cb_dp_last_tensor_sqnorms(dd), cb_dp_last_tensor_sqnorms(dc),
                        (int64_t)n * nt, PT_MODEL_TOL);
      snprintf(what, sizeof what, "%s chunk %d: clipping coefficients", mc->name, k);
      pt_expect_close(what, cb_dp_last_coefs(dd), cb_dp_last_coefs(dc), (int64_t)n * nt,
                      PT_MODEL_TOL);
    }
  }
  cb_dp_step_result rc, rd;
  assert_int_equal(cb_dp_finish_step(dc, &rc), 0);
  if (cb_dp_finish_step(dd, &rd)) fail_msg("%s: device finish: %s", mc->name, cb_last_error());
  assert_int_equal(rc.n_samples, rd.n_samples);
  assert_true(rc.frac_clipped == rd.frac_clipped);
  assert_true(rc.noise_std == rd.noise_std);
  assert_true(rc.sparsity_rate == rd.sparsity_rate);
  char what[160];
  snprintf(what, sizeof what, "%s: norm percentiles", mc->name);
  if (!isnan(rc.norm_pct[0]))
    pt_expect_close_d(what, rd.norm_pct, rc.norm_pct, CB_NPCT, PT_MODEL_TOL);
  snprintf(what, sizeof what, "%s: step loss", mc->name);
  pt_expect_close_d(what, &rd.loss_sum, &rc.loss_sum, 1, PT_MODEL_TOL);
  /* The adaptive bound moves by a count of unclipped samples: equal. */
  assert_true(cb_dp_clip_bound(dc) == cb_dp_clip_bound(dd));
  snprintf(what, sizeof what, "%s sigma %g: privatised gradient", mc->name, sigma);
  tw_compare_dev(what, t->dev->grads, t->cpu->grads, t->cpu->n_params, PT_MODEL_TOL);
  cb_dp_free(dc);
  cb_dp_free(dd);
}

static void run_arch(cb_arch arch, int up) {
  tw_model t = make(arch, up);
  for (size_t k = 0; k < sizeof MODES / sizeof MODES[0]; k++) {
    one_step(&t, &MODES[k], 0.0, 5); /* the clipped sum alone */
    one_step(&t, &MODES[k], 1.0, 6); /* with noise */
  }
  assert_int_equal(pt_dev()->status(pt_dev()), 0);
  tw_free(&t);
}

static void test_unet(void **s) {
  (void)s;
  run_arch(CB_ARCH_UNET, CB_UP_TRANSPOSE);
}

static void test_nested_unet(void **s) {
  (void)s;
  run_arch(CB_ARCH_NESTED_UNET, CB_UP_BILINEAR);
}

int main(void) {
  pt_init_or_skip("cuda dp");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unet),
      cmocka_unit_test(test_nested_unet),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
