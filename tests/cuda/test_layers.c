/* Every layer's forward and backward on the device against the CPU, on the
 * small graphs of tests/unit/test_layers_*.c: each node's output, each
 * node's gradient (input gradient included), the per-image losses, and the
 * DP hooks of every parameterised layer: per-sample gradients, the weighted
 * sum sum_i c_i g_i with beta, and ghost squared norms. Bound: relative L2
 * and per-element (of the largest magnitude) error <= 1e-5 (PT_LAYER_TOL:
 * cuBLAS and OpenBLAS round GEMMs differently; the custom kernels themselves
 * are bit-identical, test_ops). */
#include "core/base/error.h"
#include "tests/cuda/support/parity.h"
#include "tests/cuda/support/twin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAXB = 3 };

/* Compares the DP hooks of every parameterised node for n images. */
static void check_param_hooks(tw_model *t) {
  int n = t->n;
  for (int node = 0; node < t->cpu->n_nodes; node++) {
    cb_node *nd = &t->cpu->nodes[node];
    if (!cb_node_is_param(nd)) continue;
    char what[160];
    int64_t p = nd->p_numel;
    /* per-sample gradients, with a leading dimension larger than p */
    int64_t ld = p + 5;
    float *rows_c = calloc((size_t)(n * ld), sizeof(float));
    float *rows_d = pt_dev()->alloc(pt_dev(), sizeof(float) * (size_t)(n * ld), "rows");
    assert_non_null(rows_d);
    pt_dev()->zero(pt_dev(), rows_d, sizeof(float) * (size_t)(n * ld));
    cb_node_grad_per_sample(t->cpu, node, n, rows_c, ld);
    cb_node_grad_per_sample(t->dev, node, n, rows_d, ld);
    snprintf(what, sizeof what, "%s per-sample gradients", nd->name);
    tw_compare_dev(what, rows_d, rows_c, n * ld, PT_LAYER_TOL);
    /* weighted sum with separate weight and bias coefficients, beta 0.5 */
    float cw[MAXB], cbias[MAXB];
    for (int i = 0; i < n; i++) {
      cw[i] = 0.3f + 0.2f * (float)i;
      cbias[i] = 1.0f - 0.25f * (float)i;
    }
    pt_buf dst = pt_buf_uniform(p, 500 + (uint64_t)node, -1, 1);
    cb_node_grad_weighted2(t->cpu, node, n, cw, cbias, dst.cpu, 0.5f);
    cb_node_grad_weighted2(t->dev, node, n, cw, cbias, dst.dev, 0.5f);
    snprintf(what, sizeof what, "%s weighted gradient sum", nd->name);
    pt_check_close(what, &dst, PT_LAYER_TOL);
    pt_buf_free(&dst);
    /* ghost norms */
    if (cb_node_has_ghost(nd)) {
      int64_t T, pp, d;
      cb_node_gemm_dims(t->cpu, nd, &T, &pp, &d);
      float *sc = malloc(sizeof(float) * (size_t)(2 * T * T));
      float *sd = pt_dev()->alloc(pt_dev(), sizeof(float) * (size_t)(2 * T * T), "scratch");
      double wc[MAXB], bc[MAXB], wd[MAXB], bd[MAXB];
      cb_node_ghost_sqnorm(t->cpu, node, n, sc, wc, bc);
      cb_node_ghost_sqnorm(t->dev, node, n, sd, wd, bd);
      if (pt_dev()->status(pt_dev())) fail_msg("device error: %s", cb_last_error());
      snprintf(what, sizeof what, "%s ghost norms (weight)", nd->name);
      pt_expect_close_d(what, wd, wc, n, PT_LAYER_TOL);
      snprintf(what, sizeof what, "%s ghost norms (bias)", nd->name);
      pt_expect_close_d(what, bd, bc, n, PT_LAYER_TOL);
      free(sc);
      pt_dev()->free(pt_dev(), sd);
    }
    free(rows_c);
    pt_dev()->free(pt_dev(), rows_d);
  }
}

/* The whole check on one graph, for a full and a partial batch. */
static void check_graph(int cin, int H, int W, int classes, tw_build_fn build, uint64_t seed) {
  tw_model t = tw_graph(cin, H, W, classes, build, MAXB);
  tw_random_params(&t, seed);
  const cb_node *last = &t.cpu->nodes[t.cpu->n_nodes - 1];
  int has_loss = last->C == classes && last->H == H && last->W == W;
  for (int n = MAXB; n >= MAXB - 1; n--) {
    tw_data(&t, n, seed + (uint64_t)n);
    cb_model_forward(t.cpu, n);
    cb_model_forward(t.dev, n);
    tw_compare_outputs(&t, PT_LAYER_TOL);
    /* backward from a given output gradient */
    int64_t sz = (int64_t)n * last->C * last->H * last->W;
    float *R = malloc(sizeof(float) * (size_t)sz);
    tst_fill_uniform(R, (size_t)sz, seed + 100, -1, 1);
    cb_model_backward_from(t.cpu, n, R);
    cb_model_backward_from(t.dev, n, R);
    free(R);
    tw_compare_gradients(&t, PT_LAYER_TOL);
    check_param_hooks(&t);
    if (has_loss) {
      tw_forward_loss(&t);
      pt_expect_close("per-image losses", t.dev->host_loss, t.cpu->host_loss, n, PT_LAYER_TOL);
      cb_model_backward(t.cpu, n);
      cb_model_backward(t.dev, n);
      tw_compare_gradients(&t, PT_LAYER_TOL);
      check_param_hooks(&t);
    }
  }
  assert_int_equal(pt_dev()->status(pt_dev()), 0);
  tw_free(&t);
}

static void b_conv3_bias(cb_model *m) {
  cb_add_conv(m, "conv", 0, 4, 3, 1);
}
static void b_conv3_nobias(cb_model *m) {
  cb_add_conv(m, "conv", 0, 5, 3, 0);
}
static void b_conv1_bias(cb_model *m) {
  cb_add_conv(m, "conv", 0, 3, 1, 1);
}
static void b_conv1_nobias(cb_model *m) {
  cb_add_conv(m, "conv", 0, 2, 1, 0);
}
static void b_conv_chain(cb_model *m) {
  cb_add_conv(m, "b", cb_add_conv(m, "a", 0, 3, 3, 1), 3, 3, 0);
}
static void b_convt(cb_model *m) {
  cb_add_convt(m, "up", cb_add_conv(m, "c", 0, 4, 3, 1), 3);
}
static void b_gn(cb_model *m) {
  cb_add_gn(m, "gn", cb_add_conv(m, "c", 0, 6, 3, 0), 3);
}
static void b_relu_pool(cb_model *m) {
  cb_add_maxpool(m, cb_add_relu(m, cb_add_conv(m, "c", 0, 3, 3, 1)));
}
static void b_upsample(cb_model *m) {
  cb_add_upsample(m, cb_add_conv(m, "c", 0, 2, 3, 1));
}
static void b_concat(cb_model *m) {
  int a = cb_add_conv(m, "a", 0, 2, 3, 1), b = cb_add_conv(m, "b", 0, 3, 1, 0);
  int ins[3] = {a, 0, b};
  cb_add_conv(m, "head", cb_add_concat(m, ins, 3), 3, 1, 1);
}
/* A small encoder-decoder with every layer kind, ending in class logits. */
static void b_mixed(cb_model *m) {
  int c = cb_add_relu(m, cb_add_gn(m, "gn1", cb_add_conv(m, "c1", 0, 4, 3, 0), 2));
  int d = cb_add_maxpool(m, c);
  int e = cb_add_relu(m, cb_add_conv(m, "c2", d, 4, 3, 1));
  int u1 = cb_add_upsample(m, e), u2 = cb_add_convt(m, "t", e, 2);
  int ins[3] = {c, u1, u2};
  cb_add_conv(m, "head", cb_add_concat(m, ins, 3), 3, 1, 1);
}

static void test_conv(void **s) {
  (void)s;
  check_graph(3, 5, 6, 4, b_conv3_bias, 11);
  check_graph(2, 6, 4, 5, b_conv3_nobias, 12);
  check_graph(4, 5, 5, 3, b_conv1_bias, 13);
  check_graph(3, 4, 7, 2, b_conv1_nobias, 14);
  check_graph(2, 1, 1, 4, b_conv3_bias, 15); /* every tap but the centre reads padding */
  check_graph(2, 4, 5, 3, b_conv_chain, 16);
}

static void test_convt(void **s) {
  (void)s;
  check_graph(2, 3, 5, 3, b_convt, 21);
}

static void test_group_norm(void **s) {
  (void)s;
  check_graph(2, 5, 4, 6, b_gn, 31);
}

static void test_pointwise(void **s) {
  (void)s;
  check_graph(2, 4, 6, 3, b_relu_pool, 41);
  check_graph(1, 3, 5, 2, b_upsample, 42);
  check_graph(2, 4, 4, 3, b_concat, 43);
}

static void test_mixed_with_loss(void **s) {
  (void)s;
  check_graph(1, 8, 6, 3, b_mixed, 51);
}

int main(void) {
  pt_init_or_skip("cuda layers");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_conv),
      cmocka_unit_test(test_convt),
      cmocka_unit_test(test_group_norm),
      cmocka_unit_test(test_pointwise),
      cmocka_unit_test(test_mixed_with_loss),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
