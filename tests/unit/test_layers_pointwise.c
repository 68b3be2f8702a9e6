/* Parameter-free layers: ReLU, MaxPool2d(2), bilinear Upsample x2
 * (align_corners=True) and channel Concat. Forward and input gradient
 * against the double-precision reference and its finite differences
 * (bounds: gradcheck.h/.c), plus the PyTorch conventions finite differences
 * cannot see: which element of a tied window gets the gradient, NaN
 * propagation, and exact values of the align_corners mapping. */
#include "tests/unit/support.h"
#include "tests/unit/support/gradcheck.h"

#include <math.h>
#include <string.h>

typedef int (*add_fn)(cb_model *m, int in);

static void check_simple(add_fn add, int C, int H, int W, int n, uint64_t seed) {
  cb_model *m = cb_model_create_graph(cb_backend_cpu(), C, H, W, C);
  assert_non_null(m);
  add(m, 0);
  assert_int_equal(cb_model_alloc(m, n), 0);
  gc_opts o = gc_defaults(n, seed);
  gc_check_graph(m, &o);
  cb_model_free(m);
}

static void test_relu(void **s) {
  (void)s;
  check_simple(cb_add_relu, 3, 4, 5, 2, 41);
}

static void test_maxpool(void **s) {
  (void)s;
  check_simple(cb_add_maxpool, 3, 4, 6, 2, 42);
}

static void test_upsample(void **s) {
  (void)s;
  check_simple(cb_add_upsample, 2, 3, 5, 2, 43);
}

/* A 1-pixel-high map: align_corners with in = 1 copies the only row. */
static void test_upsample_degenerate(void **s) {
  (void)s;
  check_simple(cb_add_upsample, 2, 1, 3, 2, 44);
}

static void test_upsample_larger(void **s) {
  (void)s;
  check_simple(cb_add_upsample, 1, 8, 7, 1, 45);
}

/* ReLU and MaxPool after a conv, so their input gradients reach a real
 * layer and the inputs of the kinks move with the parameters. */
static void test_conv_relu_pool(void **s) {
  (void)s;
  cb_model *m = cb_model_create_graph(cb_backend_cpu(), 2, 4, 4, 3);
  assert_non_null(m);
  int c = cb_add_conv(m, "conv", 0, 3, 3, 1);
  int r = cb_add_relu(m, c);
  cb_add_maxpool(m, r);
  assert_int_equal(cb_model_alloc(m, 2), 0);
  gc_opts o = gc_defaults(2, 46);
  gc_check_graph(m, &o);
  cb_model_free(m);
}

/* Concat of tensors with different channel counts, one of them twice: the
 * input gradient accumulates from both copies. */
static void test_concat(void **s) {
  (void)s;
  cb_model *m = cb_model_create_graph(cb_backend_cpu(), 3, 3, 4, 7);
  assert_non_null(m);
  int a = cb_add_conv(m, "proj", 0, 2, 1, 1);
  int ins[3] = {a, 0, a};
  int c = cb_add_concat(m, ins, 3);
  assert_int_equal(m->nodes[c].C, 7);
  assert_int_equal(cb_model_alloc(m, 3), 0);
  gc_opts o = gc_defaults(3, 47);
  gc_check_graph(m, &o);
  cb_model_free(m);
}

/* Runs a one-layer graph on a single hand-written image; returns the output
 * and, for the given output gradient, the input gradient. */
static void run_one(add_fn add, int C, int H, int W, const float *x, float *y, const float *dy,
                    float *dx) {
  cb_model *m = cb_model_create_graph(cb_backend_cpu(), C, H, W, C);
  assert_non_null(m);
  int k = add(m, 0);
  assert_int_equal(cb_model_alloc(m, 1), 0);
  const cb_node *nd = &m->nodes[k];
  size_t xs = (size_t)C * H * W, ys = (size_t)nd->C * nd->H * nd->W;
  memcpy(m->input, x, xs * sizeof(float));
  cb_model_forward(m, 1);
  memcpy(y, nd->out, ys * sizeof(float));
  if (dy) {
    cb_model_backward_from(m, 1, dy);
    memcpy(dx, m->nodes[0].dout, xs * sizeof(float));
  }
  cb_model_free(m);
}

/* PyTorch: the first maximum of the window in row-major order takes the
 * whole gradient when values tie. */
static void test_maxpool_ties(void **s) {
  (void)s;
  float x[16] = {1, 1, 0, 2, 1, 1, 2, 0, /* */ -1, 3, 5, 5, 3, -1, 5, 5};
  float y[4], dy[4] = {10, 20, 30, 40}, dx[16];
  run_one(cb_add_maxpool, 1, 4, 4, x, y, dy, dx);
  float want_y[4] = {1, 2, 3, 5};
  float want_dx[16] = {10, 0, 0, 20, 0, 0, 0, 0, /* */ 0, 30, 40, 0, 0, 0, 0, 0};
  for (int i = 0; i < 4; i++)
    assert_true(y[i] == want_y[i]);
  for (int i = 0; i < 16; i++)
    assert_true(dx[i] == want_dx[i]);
}

/* NaN must survive ReLU and MaxPool, as in PyTorch, so a diverged run shows
 * up in its loss instead of being silently zeroed. */
static void test_nan_propagates(void **s) {
  (void)s;
  float x[4] = {NAN, -1.0f, 2.0f, 0.5f}, y[4];
  run_one(cb_add_relu, 1, 2, 2, x, y, NULL, NULL);
  assert_true(isnan(y[0]));
  assert_true(y[1] == 0.0f && y[2] == 2.0f && y[3] == 0.5f);
  for (int pos = 0; pos < 4; pos++) {
    float w[4] = {1, 2, 3, 4};
    w[pos] = NAN;
    float p;
    run_one(cb_add_maxpool, 1, 2, 2, w, &p, NULL, NULL);
    assert_true(isnan(p));
  }
}

/* torch.nn.functional.interpolate(x, scale_factor=2, mode="bilinear",
 * align_corners=True) of [[1, 2], [3, 4]]: the corners are kept and the
 * inner samples sit at thirds. */
static void test_upsample_known_values(void **s) {
  (void)s;
  float x[4] = {1, 2, 3, 4}, y[16];
  run_one(cb_add_upsample, 1, 2, 2, x, y, NULL, NULL);
  const double t = 1.0 / 3.0;
  for (int h = 0; h < 4; h++)
    for (int w = 0; w < 4; w++) {
      double want = 1.0 + 2.0 * (h * t) + 1.0 * (w * t);
      assert_true(fabs(y[h * 4 + w] - want) < 1e-6);
    }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_relu),
      cmocka_unit_test(test_maxpool),
      cmocka_unit_test(test_upsample),
      cmocka_unit_test(test_upsample_degenerate),
      cmocka_unit_test(test_upsample_larger),
      cmocka_unit_test(test_conv_relu_pool),
      cmocka_unit_test(test_concat),
      cmocka_unit_test(test_maxpool_ties),
      cmocka_unit_test(test_nan_propagates),
      cmocka_unit_test(test_upsample_known_values),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
