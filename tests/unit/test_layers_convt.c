/* ConvTranspose2d(kernel 2, stride 2, with bias): forward, gradients against
 * finite differences of the double-precision reference, per-sample gradients
 * against batch-of-one runs, ghost norms against materialised gradients.
 * Bounds: gradcheck.h/.c. */
#include "tests/unit/support.h"
#include "tests/unit/support/gradcheck.h"

static void check_convt(int cin, int cout, int H, int W, int n, uint64_t seed) {
  cb_model *m = cb_model_create_graph(cb_backend_cpu(), cin, H, W, cout);
  assert_non_null(m);
  int c = cb_add_convt(m, "up", 0, cout);
  const cb_node *nd = &m->nodes[c];
  assert_int_equal(nd->H, 2 * H);
  assert_int_equal(nd->W, 2 * W);
  /* PyTorch layout: weight [Cin, Cout, 2, 2], bias [Cout]. */
  const cb_tensor *w = &m->tensors[nd->w_tensor];
  assert_int_equal(w->shape[0], cin);
  assert_int_equal(w->shape[1], cout);
  assert_int_equal(m->tensors[nd->b_tensor].numel, cout);
  assert_int_equal(cb_model_alloc(m, n), 0);
  gc_opts o = gc_defaults(n, seed);
  gc_check_graph(m, &o);
  cb_model_free(m);
}

static void test_convt_small(void **s) {
  (void)s;
  check_convt(3, 2, 3, 4, 3, 21);
}

static void test_convt_wide(void **s) {
  (void)s;
  check_convt(2, 5, 2, 2, 2, 22);
}

static void test_convt_one_pixel(void **s) {
  (void)s;
  check_convt(4, 3, 1, 1, 2, 23);
}

/* Transposed conv feeding a 3x3 conv, as in the U-Net decoder: the input
 * gradient of the transposed conv flows from a real layer. */
static void test_convt_then_conv(void **s) {
  (void)s;
  cb_model *m = cb_model_create_graph(cb_backend_cpu(), 3, 2, 3, 2);
  assert_non_null(m);
  int u = cb_add_convt(m, "up", 0, 2);
  cb_add_conv(m, "conv", u, 2, 3, 0);
  assert_int_equal(cb_model_alloc(m, 2), 0);
  gc_opts o = gc_defaults(2, 24);
  gc_check_graph(m, &o);
  cb_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_convt_small),
      cmocka_unit_test(test_convt_wide),
      cmocka_unit_test(test_convt_one_pixel),
      cmocka_unit_test(test_convt_then_conv),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
