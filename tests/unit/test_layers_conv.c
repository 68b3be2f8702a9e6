/* Conv2d (3x3 pad 1 and 1x1, with and without bias): forward, input and
 * parameter gradients against the double-precision reference and its finite
 * differences, per-sample gradients against batch-of-one runs, ghost norms
 * against materialised per-sample gradients. Bounds: gradcheck.h/.c. */
#include "tests/unit/support.h"
#include "tests/unit/support/gradcheck.h"

static void check_conv(int cin, int cout, int H, int W, int k, int bias, int n, uint64_t seed) {
  cb_model *m = cb_model_create_graph(cb_backend_cpu(), cin, H, W, cout);
  assert_non_null(m);
  int c = cb_add_conv(m, "conv", 0, cout, k, bias);
  assert_int_equal(m->nodes[c].p_numel, cout * cin * k * k + (bias ? cout : 0));
  assert_int_equal(m->n_tensors, bias ? 2 : 1);
  assert_int_equal(cb_model_alloc(m, n + 1), 0); /* a partial batch */
  gc_opts o = gc_defaults(n, seed);
  gc_check_graph(m, &o);
  cb_model_free(m);
}

static void test_conv3x3_bias(void **s) {
  (void)s;
  check_conv(3, 4, 5, 6, 3, 1, 3, 11);
}

static void test_conv3x3_nobias(void **s) {
  (void)s;
  check_conv(2, 5, 6, 4, 3, 0, 2, 12);
}

static void test_conv1x1_bias(void **s) {
  (void)s;
  check_conv(4, 3, 5, 5, 1, 1, 3, 13);
}

static void test_conv1x1_nobias(void **s) {
  (void)s;
  check_conv(3, 2, 4, 7, 1, 0, 2, 14);
}

/* A 1x1 image: every tap of the 3x3 kernel but the centre reads padding. */
static void test_conv3x3_tiny_image(void **s) {
  (void)s;
  check_conv(2, 3, 1, 1, 3, 1, 2, 15);
}

/* Two convolutions in a row: the first one's input gradient path (col2im)
 * is exercised through the second. */
static void test_conv_chain(void **s) {
  (void)s;
  cb_model *m = cb_model_create_graph(cb_backend_cpu(), 2, 4, 5, 3);
  assert_non_null(m);
  int a = cb_add_conv(m, "a", 0, 3, 3, 1);
  cb_add_conv(m, "b", a, 3, 3, 0);
  assert_int_equal(cb_model_alloc(m, 2), 0);
  gc_opts o = gc_defaults(2, 16);
  gc_check_graph(m, &o);
  cb_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_conv3x3_bias),       cmocka_unit_test(test_conv3x3_nobias),
      cmocka_unit_test(test_conv1x1_bias),       cmocka_unit_test(test_conv1x1_nobias),
      cmocka_unit_test(test_conv3x3_tiny_image), cmocka_unit_test(test_conv_chain),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
