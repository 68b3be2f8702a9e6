/* A few training steps of both models on the device against the CPU: DP-SGD
 * (flat clipping, noise, AdamW) and non-private SGD with momentum, two
 * physical chunks per logical step. Per-step losses and the final weights
 * agree within 1e-4 (PT_MODEL_TOL: rounding differences of the GEMMs compound
 * over steps). And the device is deterministic: the same run twice gives
 * bit-identical weights (cuBLAS without atomics, deterministic kernels). */
#include "core/base/error.h"
#include "core/dp/dp.h"
#include "core/kernels/philox.h"
#include "core/optim/optim.h"
#include "tests/cuda/support/parity.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { S = 16, NB = 3, STEPS = 4 };

typedef struct {
  float loss[STEPS];
  float *params;
  int64_t n_params;
} run_out;

static void train(const cb_backend *be, cb_arch arch, int private_, run_out *out) {
  cb_model_cfg c;
  cb_model_cfg_default(&c, arch);
  c.width = 4;
  c.depth = 2;
  c.classes = 3;
  c.groups = 2;
  cb_model *m = cb_model_create(be, &c, S, S);
  assert_non_null(m);
  if (cb_model_alloc(m, NB)) fail_msg("%s: %s", be->name, cb_last_error());
  cb_model_init_params(m, 3);
  cb_optim_cfg oc;
  cb_optim_cfg_default(&oc, private_ ? CB_OPTIM_ADAMW : CB_OPTIM_SGD);
  if (!private_) oc.momentum = 0.9;
  cb_optim *o = cb_optim_create(be, &oc, m->n_params);
  assert_non_null(o);
  cb_dp_cfg dc;
  cb_dp_cfg_default(&dc);
  dc.mode = private_ ? CB_CLIP_FLAT : CB_CLIP_NONE;
  dc.clip_bound = 1.0;
  dc.noise_multiplier = 0.5;
  dc.expected_batch = 5.0;
  dc.seed = 11;
  cb_dp *dp = cb_dp_create(m, &dc);
  assert_non_null(dp);
  int64_t T = S * S;
  float *x = malloc(sizeof(float) * NB * T);
  unsigned char *y = malloc(NB * T);
  for (int s = 0; s < STEPS; s++) {
    cb_dp_step_info info = {(uint32_t)s, 0, s};
    if (cb_dp_begin_step(dp, &info)) fail_msg("%s: %s", be->name, cb_last_error());
    double loss = 0.0;
    for (int k = 0; k < 2; k++) {
      int n = k ? 2 : NB;
      for (int64_t j = 0; j < n * T; j++) {
        x[j] = (float)cb_uniform(5, CB_STREAM_DATA, (uint32_t)(2 * s + k), (uint64_t)j);
        y[j] = (unsigned char)(((j % S) * 3 / S + (j / (S * 5))) % 3);
      }
      be->upload(be, m->input, x, sizeof(float) * n * T);
      be->upload(be, m->labels, y, (size_t)(n * T));
      cb_model_forward(m, n);
      cb_model_loss(m, n);
      cb_model_backward(m, n);
      for (int i = 0; i < n; i++)
        loss += m->host_loss[i];
      if (cb_dp_accumulate(dp, n)) fail_msg("%s: %s", be->name, cb_last_error());
    }
    if (cb_dp_finish_step(dp, NULL)) fail_msg("%s: %s", be->name, cb_last_error());
    cb_optim_step(o, m->params, m->grads, private_ ? 1e-2 : 0.05);
    out->loss[s] = (float)loss;
  }
  out->n_params = m->n_params;
  out->params = malloc(sizeof(float) * m->n_params);
  be->download(be, out->params, m->params, sizeof(float) * m->n_params);
  if (be->status(be)) fail_msg("%s: %s", be->name, cb_last_error());
  free(x);
  free(y);
  cb_dp_free(dp);
  cb_optim_free(o);
  cb_model_free(m);
}

static void check(cb_arch arch, int private_) {
  run_out c, d, d2;
  train(pt_cpu(), arch, private_, &c);
  train(pt_dev(), arch, private_, &d);
  train(pt_dev(), arch, private_, &d2);
  char what[96];
  snprintf(what, sizeof what, "%s %s: per-step losses", CB_ARCH_NAMES[arch],
           private_ ? "DP-AdamW" : "SGD");
  pt_expect_close(what, d.loss, c.loss, STEPS, PT_MODEL_TOL);
  snprintf(what, sizeof what, "%s %s: weights after %d steps", CB_ARCH_NAMES[arch],
           private_ ? "DP-AdamW" : "SGD", STEPS);
  pt_expect_close(what, d.params, c.params, c.n_params, PT_MODEL_TOL);
  /* The weights moved, so the comparison above is about training. */
  assert_true(c.loss[STEPS - 1] != c.loss[0]);
  snprintf(what, sizeof what, "%s %s: device run to run", CB_ARCH_NAMES[arch],
           private_ ? "DP-AdamW" : "SGD");
  pt_expect_exact(what, d2.params, d.params, d.n_params);
  free(c.params);
  free(d.params);
  free(d2.params);
}

static void test_unet(void **s) {
  (void)s;
  check(CB_ARCH_UNET, 1);
  check(CB_ARCH_UNET, 0);
}

static void test_nested_unet(void **s) {
  (void)s;
  check(CB_ARCH_NESTED_UNET, 1);
  check(CB_ARCH_NESTED_UNET, 0);
}

int main(void) {
  pt_init_or_skip("cuda train");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unet),
      cmocka_unit_test(test_nested_unet),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
