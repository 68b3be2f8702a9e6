/* Whole tiny U-Net and Nested U-Net (width 4, depth 2, 16x16, 3 images)
 * against the double-precision reference evaluated on the same graph:
 *   - per-image losses, relative error <= 1e-5 each;
 *   - gradient of the batch-mean loss against central finite differences of
 *     the reference (h = 1e-5): on 3 coordinates drawn per parameter tensor
 *     (every tensor: gc_compare bound 1e-4 per tensor and over the whole
 *     sample), and along one random direction v over all parameters at once
 *     (|<g, v> - difference| <= 1e-5 sum_j |g_j v_j|: the inner product
 *     cancels, so its error is measured against the size of its terms);
 *   - differences are taken with the ReLU and max-pool branches of the base
 *     point frozen (ref.h), so a kink crossed by a step cannot spoil them;
 *   - per-sample gradients of every parameterised node against the model run
 *     on that image alone (gc_compare bound 1e-5), ghost norms against
 *     materialised ones;
 *   - image i's loss and per-sample gradient do not change, bitwise, when the
 *     other images of the batch (inputs and labels) change.
 * Parameters: PyTorch-default initialisation with random GroupNorm affine
 * parameters (weight in [0.5, 1.5], bias in [-0.5, 0.5]) so that no
 * gradient is trivially structured. */
#include "core/kernels/philox.h"
#include "tests/unit/support.h"
#include "tests/unit/support/gradcheck.h"
#include "tests/unit/support/ref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_IMG 3
#define SIZE 16

typedef struct {
  cb_model *m;
  double *params; /* the float parameters, as doubles */
  float *x;
  double *xd;
  unsigned char *lab;
  ref_gates *gates; /* branches of the base point, frozen for differences */
} fixture;

static void setup(fixture *f, cb_arch arch, int up, int bias, uint64_t seed) {
  cb_model_cfg c;
  cb_model_cfg_default(&c, arch);
  c.width = 4;
  c.depth = 2;
  c.groups = 2;
  c.classes = 3;
  c.up = up;
  c.bias = bias;
  f->m = cb_model_create(cb_backend_cpu(), &c, SIZE, SIZE);
  assert_non_null(f->m);
  assert_int_equal(cb_model_alloc(f->m, N_IMG), 0);
  cb_model *m = f->m;
  cb_model_init_params(m, seed);
  float *p = m->params;
  for (int t = 0; t < m->n_tensors; t++) {
    const cb_tensor *ts = &m->tensors[t];
    if (m->nodes[ts->node].kind != CB_NODE_GN) continue;
    tst_fill_uniform(p + ts->offset, (size_t)ts->numel, seed + (uint64_t)t,
                     ts->is_bias ? -0.5f : 0.5f, ts->is_bias ? 0.5f : 1.5f);
  }
  f->params = malloc((size_t)m->n_params * sizeof(double));
  for (int64_t j = 0; j < m->n_params; j++)
    f->params[j] = p[j];
  int64_t xs = (int64_t)N_IMG * c.in_channels * SIZE * SIZE, T = SIZE * SIZE;
  f->x = malloc((size_t)xs * sizeof(float));
  f->xd = malloc((size_t)xs * sizeof(double));
  f->lab = malloc((size_t)(N_IMG * T));
  tst_fill_uniform(f->x, (size_t)xs, seed + 1000, 0.0f, 1.0f);
  for (int64_t j = 0; j < xs; j++)
    f->xd[j] = f->x[j];
  for (int64_t j = 0; j < N_IMG * T; j++)
    f->lab[j] = (unsigned char)(cb_uniform(seed, 77, 0, (uint64_t)j) * c.classes) % c.classes;
}

static void teardown(fixture *f) {
  ref_gates_free(f->m, f->gates);
  cb_model_free(f->m);
  free(f->params);
  free(f->x);
  free(f->xd);
  free(f->lab);
}

static void run_batch(cb_model *m, int n, const float *x, const unsigned char *lab) {
  int64_t xs = (int64_t)m->cfg.in_channels * m->H * m->W, T = (int64_t)m->H * m->W;
  memcpy(m->input, x, (size_t)(n * xs) * sizeof(float));
  memcpy(m->labels, lab, (size_t)(n * T));
  cb_model_forward(m, n);
  cb_model_loss(m, n);
  cb_model_backward(m, n);
}

static double mean_loss(const fixture *f) {
  double l[N_IMG], s = 0.0;
  ref_model_loss(f->m, f->params, f->xd, f->lab, N_IMG, f->gates, l);
  for (int i = 0; i < N_IMG; i++)
    s += l[i];
  return s / N_IMG;
}

static double fd_coord(fixture *f, int64_t j, double h) {
  double s = f->params[j];
  f->params[j] = s + h;
  double lp = mean_loss(f);
  f->params[j] = s - h;
  double lm = mean_loss(f);
  f->params[j] = s;
  return (lp - lm) / (2 * h);
}

/* Every per-sample gradient of the model: out [n x n_params]. */
static float *per_sample_all(cb_model *m, int n) {
  float *out = malloc((size_t)(n * m->n_params) * sizeof(float));
  for (int k = 0; k < m->n_nodes; k++) {
    cb_node *nd = &m->nodes[k];
    if (cb_node_is_param(nd)) cb_node_grad_per_sample(m, k, n, out + nd->p_off, m->n_params);
  }
  return out;
}

static void check_model(cb_arch arch, int up, int bias, uint64_t seed) {
  fixture f;
  setup(&f, arch, up, bias, seed);
  cb_model *m = f.m;
  const double h = 1e-5;
  char what[160];

  /* Losses. */
  run_batch(m, N_IMG, f.x, f.lab);
  double ref[N_IMG];
  f.gates = ref_gates_new(m, N_IMG);
  ref_model_loss(m, f.params, f.xd, f.lab, N_IMG, f.gates, ref);
  f.gates->replay = 1;
  gc_compare("per-image losses vs reference", m->host_loss, ref, N_IMG, 1e-5);

  /* Gradient of the batch mean. */
  float coef[N_IMG];
  for (int i = 0; i < N_IMG; i++)
    coef[i] = 1.0f / N_IMG;
  cb_model_param_grads(m, N_IMG, coef);
  const float *g = m->grads;
  int per = 3, n_s = 0;
  float *got_all = malloc((size_t)(per * m->n_tensors) * sizeof(float));
  double *want_all = malloc((size_t)(per * m->n_tensors) * sizeof(double));
  for (int t = 0; t < m->n_tensors; t++) {
    const cb_tensor *ts = &m->tensors[t];
    float got[3];
    double want[3];
    for (int k = 0; k < per; k++) {
      int64_t j = ts->offset +
                  (int64_t)(cb_uniform(seed, 5, (uint32_t)t, (uint64_t)k) * ts->numel) % ts->numel;
      got[k] = got_all[n_s] = g[j];
      want[k] = want_all[n_s] = fd_coord(&f, j, h);
      n_s++;
    }
    snprintf(what, sizeof what, "%s: 3 coordinates vs finite differences", ts->name);
    gc_compare(what, got, want, per, 1e-4);
  }
  gc_compare("all sampled coordinates vs finite differences", got_all, want_all, n_s, 1e-4);
  free(got_all);
  free(want_all);

  /* Directional derivative along v over every parameter. */
  float *v = malloc((size_t)m->n_params * sizeof(float));
  double *base = malloc((size_t)m->n_params * sizeof(double));
  tst_fill_uniform(v, (size_t)m->n_params, seed + 9, -1.0f, 1.0f);
  memcpy(base, f.params, (size_t)m->n_params * sizeof(double));
  double gv = 0.0, scale = 0.0;
  for (int64_t j = 0; j < m->n_params; j++) {
    gv += (double)g[j] * v[j];
    scale += fabs((double)g[j] * v[j]);
  }
  for (int64_t j = 0; j < m->n_params; j++)
    f.params[j] = base[j] + h * v[j];
  double lp = mean_loss(&f);
  for (int64_t j = 0; j < m->n_params; j++)
    f.params[j] = base[j] - h * v[j];
  double lm = mean_loss(&f);
  memcpy(f.params, base, (size_t)m->n_params * sizeof(double));
  double dd = (lp - lm) / (2 * h), err = fabs(gv - dd) / scale;
  if (err > 1e-5 || getenv("CB_TEST_VERBOSE"))
    fprintf(stderr,
            "directional derivative: <g, v> %.9g, difference %.9g, error %.2e of "
            "sum |g_j v_j| (bound 1e-5)\n",
            gv, dd, err);
  assert_true(err <= 1e-5);
  free(v);
  free(base);

  /* Image i depends on image i alone. */
  float *ps = per_sample_all(m, N_IMG);
  float loss0[N_IMG];
  memcpy(loss0, m->host_loss, sizeof loss0);
  int64_t xs = (int64_t)m->cfg.in_channels * SIZE * SIZE, T = SIZE * SIZE;
  float *x2 = malloc((size_t)(N_IMG * xs) * sizeof(float));
  unsigned char *lab2 = malloc((size_t)(N_IMG * T));
  for (int keep = 0; keep < N_IMG; keep++) {
    tst_fill_uniform(x2, (size_t)(N_IMG * xs), seed + 50 + (uint64_t)keep, 0.0f, 1.0f);
    for (int64_t j = 0; j < N_IMG * T; j++)
      lab2[j] = (unsigned char)((f.lab[j] + 1) % 3);
    memcpy(x2 + keep * xs, f.x + keep * xs, (size_t)xs * sizeof(float));
    memcpy(lab2 + keep * T, f.lab + keep * T, (size_t)T);
    run_batch(m, N_IMG, x2, lab2);
    float *ps2 = per_sample_all(m, N_IMG);
    assert_memory_equal(&m->host_loss[keep], &loss0[keep], sizeof(float));
    assert_memory_equal(ps2 + keep * m->n_params, ps + keep * m->n_params,
                        (size_t)m->n_params * sizeof(float));
    for (int i = 0; i < N_IMG; i++)
      if (i != keep) assert_true(m->host_loss[i] != loss0[i]);
    free(ps2);
  }
  free(ps);
  free(x2);
  free(lab2);

  /* Per-sample gradients against batch-of-one runs; ghost norms. */
  run_batch(m, N_IMG, f.x, f.lab);
  gc_opts o = gc_defaults(N_IMG, seed);
  gc_check_per_sample(m, &o, f.x, f.lab, NULL);
  teardown(&f);
}

static void test_unet_study_shape(void **s) {
  (void)s;
  check_model(CB_ARCH_UNET, CB_UP_TRANSPOSE, 0, 61);
}

static void test_unet_bilinear_bias(void **s) {
  (void)s;
  check_model(CB_ARCH_UNET, CB_UP_BILINEAR, 1, 62);
}

static void test_nested_unet_study_shape(void **s) {
  (void)s;
  check_model(CB_ARCH_NESTED_UNET, CB_UP_BILINEAR, 1, 63);
}

static void test_nested_unet_transpose_nobias(void **s) {
  (void)s;
  check_model(CB_ARCH_NESTED_UNET, CB_UP_TRANSPOSE, 0, 64);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unet_study_shape),
      cmocka_unit_test(test_unet_bilinear_bias),
      cmocka_unit_test(test_nested_unet_study_shape),
      cmocka_unit_test(test_nested_unet_transpose_nobias),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
