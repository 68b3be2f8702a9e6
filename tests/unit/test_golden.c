/* PyTorch golden fixtures (tests/gen/gen_golden.py, committed under
 * tests/fixtures/): a small U-Net (transposed-conv up, bias-free convs) and
 * Nested U-Net (bilinear up, convs with bias, depth 3) with fixed weights,
 * inputs and labels, evaluated by PyTorch in float64.
 *
 * The fixture's weights load into our model by tensor name and shape (every
 * name must match, both ways). Then, with our float32 model:
 *   - each per-image loss agrees to 1e-4 relative;
 *   - every parameter gradient of the batch-mean loss agrees per tensor to
 *     1e-4 in the norm-relative sense |g - g_torch|_2 / |g_torch|_2 (a
 *     per-element relative bound would be dominated by near-zero entries);
 *   - the per-sample gradients of images 0 and 1, taken from the batch run,
 *     agree with PyTorch's gradients of L_0 and L_1 alone, same bound. */
#include "core/base/error.h"
#include "core/io/json_parse.h"
#include "core/io/safetensors.h"
#include "core/nn/model.h"
#include "tests/unit/support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-4

static int lookup(const char *const *names, const char *s) {
  for (int k = 0; names[k]; k++)
    if (strcmp(names[k], s) == 0) return k;
  return -1;
}

/* The model configuration recorded in the fixture's metadata. */
static void fixture_cfg(const cb_st_file *f, cb_model_cfg *c) {
  const char *js = cb_meta_get(&f->meta, "model");
  assert_non_null(js);
  cb_jv v;
  assert_int_equal(cb_jv_parse(js, strlen(js), "model", &v), 0);
  cb_model_cfg_default(c, (cb_arch)lookup(CB_ARCH_NAMES, cb_jv_get(&v, "arch")->str));
  c->width = (int)cb_jv_get(&v, "width")->i;
  c->depth = (int)cb_jv_get(&v, "depth")->i;
  c->in_channels = (int)cb_jv_get(&v, "in_channels")->i;
  c->classes = (int)cb_jv_get(&v, "classes")->i;
  c->groups = (int)cb_jv_get(&v, "groups")->i;
  c->up = lookup(CB_UP_NAMES, cb_jv_get(&v, "up")->str);
  c->bias = cb_jv_get(&v, "bias")->boolean;
  cb_jv_free(&v);
}

static double norm_rel(const float *got, const float *want, int64_t n) {
  double num = 0.0, den = 0.0;
  for (int64_t j = 0; j < n; j++) {
    double d = (double)got[j] - want[j];
    num += d * d;
    den += (double)want[j] * want[j];
  }
  return den > 0 ? sqrt(num / den) : sqrt(num);
}

static const cb_st_tensor *need(const cb_st_file *f, const char *name) {
  const cb_st_tensor *t = cb_st_find(f, name);
  if (!t) fprintf(stderr, "fixture has no tensor '%s'\n", name);
  assert_non_null(t);
  return t;
}

static void check_fixture(const char *file) {
  cb_st_file f;
  const char *path = tst_src_path(file);
  int rc = cb_st_read(path, &f);
  if (rc) fprintf(stderr, "%s\n", cb_last_error());
  assert_int_equal(rc, 0);
  cb_model_cfg cfg;
  fixture_cfg(&f, &cfg);
  const cb_st_tensor *in = need(&f, "input"), *lab = need(&f, "labels"), *loss = need(&f, "loss");
  int N = (int)in->shape[0], H = (int)in->shape[2], W = (int)in->shape[3];
  assert_int_equal(in->dtype, CB_ST_F32);
  assert_int_equal(lab->dtype, CB_ST_U8);
  assert_int_equal(loss->dtype, CB_ST_F64);
  cb_model *m = cb_model_create(cb_backend_cpu(), &cfg, H, W);
  assert_non_null(m);
  assert_int_equal(cb_model_alloc(m, N), 0);

  /* Names and shapes agree both ways. */
  int n_weights = 0;
  for (int k = 0; k < f.n; k++) {
    const char *nm = f.t[k].name;
    if (strcmp(nm, "input") && strcmp(nm, "labels") && strcmp(nm, "loss") &&
        strncmp(nm, "grad.", 5) && strncmp(nm, "grad_sample.", 12))
      n_weights++;
  }
  assert_int_equal(n_weights, m->n_tensors);
  for (int t = 0; t < m->n_tensors; t++) {
    const cb_tensor *ts = &m->tensors[t];
    int64_t shape[4];
    for (int d = 0; d < ts->ndim; d++)
      shape[d] = ts->shape[d];
    rc = cb_st_get_f32(&f, ts->name, ts->ndim, shape, m->params + ts->offset);
    if (rc) fprintf(stderr, "%s\n", cb_last_error());
    assert_int_equal(rc, 0);
  }

  memcpy(m->input, in->data, in->nbytes);
  memcpy(m->labels, lab->data, lab->nbytes);
  cb_model_forward(m, N);
  cb_model_loss(m, N);
  cb_model_backward(m, N);
  double worst = 0.0;
  for (int i = 0; i < N; i++) {
    double want;
    memcpy(&want, loss->data + 8 * i, 8);
    double e = fabs(m->host_loss[i] - want) / fabs(want);
    worst = fmax(worst, e);
    assert_true(e <= TOL);
  }
  fprintf(stderr, "%s: %d losses within %.1e relative (bound %.0e)\n", file, N, worst, TOL);

  float *ps = malloc((size_t)(N * m->n_params) * sizeof(float));
  for (int k = 0; k < m->n_nodes; k++)
    if (cb_node_is_param(&m->nodes[k]))
      cb_node_grad_per_sample(m, k, N, ps + m->nodes[k].p_off, m->n_params);
  float *coef = malloc((size_t)N * sizeof(float));
  for (int i = 0; i < N; i++)
    coef[i] = 1.0f / (float)N;
  cb_model_param_grads(m, N, coef);

  float *want = malloc((size_t)m->n_params * sizeof(float));
  double worst_g = 0.0, worst_s = 0.0;
  const char *worst_name = "";
  for (int t = 0; t < m->n_tensors; t++) {
    const cb_tensor *ts = &m->tensors[t];
    char name[160];
    int64_t shape[5] = {2};
    for (int d = 0; d < ts->ndim; d++)
      shape[d] = ts->shape[d];
    snprintf(name, sizeof name, "grad.%s", ts->name);
    assert_int_equal(cb_st_get_f32(&f, name, ts->ndim, shape, want), 0);
    double e = norm_rel(m->grads + ts->offset, want, ts->numel);
    if (e > worst_g) {
      worst_g = e;
      worst_name = ts->name;
    }
    if (e > TOL) fprintf(stderr, "%s: gradient off by %.2e\n", ts->name, e);
    assert_true(e <= TOL);

    shape[0] = 2;
    for (int d = 0; d < ts->ndim; d++)
      shape[d + 1] = ts->shape[d];
    snprintf(name, sizeof name, "grad_sample.%s", ts->name);
    float *want2 = malloc((size_t)(2 * ts->numel) * sizeof(float));
    assert_int_equal(cb_st_get_f32(&f, name, ts->ndim + 1, shape, want2), 0);
    for (int i = 0; i < 2; i++) {
      double es =
          norm_rel(ps + (int64_t)i * m->n_params + ts->offset, want2 + i * ts->numel, ts->numel);
      worst_s = fmax(worst_s, es);
      if (es > TOL) fprintf(stderr, "%s: per-sample gradient %d off by %.2e\n", ts->name, i, es);
      assert_true(es <= TOL);
    }
    free(want2);
  }
  fprintf(stderr,
          "%s: %d gradient tensors, worst norm-relative error %.1e (%s); per-sample %.1e "
          "(bound %.0e)\n",
          file, m->n_tensors, worst_g, worst_name, worst_s, TOL);
  free(want);
  free(coef);
  free(ps);
  cb_model_free(m);
  cb_st_close(&f);
}

static void test_golden_unet(void **s) {
  (void)s;
  check_fixture("tests/fixtures/golden_unet.safetensors");
}

static void test_golden_nested_unet(void **s) {
  (void)s;
  check_fixture("tests/fixtures/golden_nested_unet.safetensors");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_golden_unet),
      cmocka_unit_test(test_golden_nested_unet),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
