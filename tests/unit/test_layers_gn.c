/* GroupNorm (eps 1e-5, affine): the groups rule (gcd of the request and the
 * channel count), forward, gradients against finite differences of the
 * double-precision reference, per-sample gradients against batch-of-one
 * runs. Bounds: gradcheck.h/.c. */
#include "tests/unit/support.h"
#include "tests/unit/support/gradcheck.h"

static void check_gn(int C, int request, int expect_groups, int H, int W, int n, uint64_t seed,
                     float scale) {
  cb_model *m = cb_model_create_graph(cb_backend_cpu(), C, H, W, C);
  assert_non_null(m);
  int g = cb_add_gn(m, "norm", 0, request);
  assert_int_equal(m->nodes[g].groups, expect_groups);
  assert_int_equal(m->nodes[g].p_numel, 2 * C);
  assert_int_equal(cb_model_alloc(m, n + 1), 0);
  gc_opts o = gc_defaults(n, seed);
  /* Inputs off-centre and scaled, so the statistics matter. */
  o.in_lo = 0.5f - scale;
  o.in_hi = 0.5f + scale;
  gc_check_graph(m, &o);
  cb_model_free(m);
}

static void test_gn_groups_rule(void **s) {
  (void)s;
  struct {
    int C, request, groups;
  } cases[] = {{6, 4, 2},    {8, 32, 8},    {6, 1, 1},    {12, 8, 4},
               {32, 32, 32}, {512, 32, 32}, {48, 32, 16}, {5, 3, 1}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cb_model *m = cb_model_create_graph(cb_backend_cpu(), cases[i].C, 2, 2, 2);
    assert_non_null(m);
    int g = cb_add_gn(m, "norm", 0, cases[i].request);
    assert_int_equal(m->nodes[g].groups, cases[i].groups);
    cb_model_free(m);
  }
}

static void test_gn_two_groups(void **s) {
  (void)s;
  check_gn(6, 4, 2, 4, 3, 3, 31, 1.0f);
}

static void test_gn_one_group(void **s) {
  (void)s;
  check_gn(3, 1, 1, 3, 5, 2, 32, 2.0f);
}

static void test_gn_instance(void **s) {
  (void)s;
  check_gn(4, 32, 4, 4, 4, 2, 33, 0.5f);
}

/* Small-variance input: eps matters and rstd is large. */
static void test_gn_small_variance(void **s) {
  (void)s;
  check_gn(4, 2, 2, 3, 3, 2, 34, 0.01f);
}

/* GroupNorm after a conv, as in every block: the input gradient flows into
 * a parameterised layer. */
static void test_gn_after_conv(void **s) {
  (void)s;
  cb_model *m = cb_model_create_graph(cb_backend_cpu(), 2, 4, 4, 4);
  assert_non_null(m);
  int c = cb_add_conv(m, "conv", 0, 4, 3, 0);
  cb_add_gn(m, "norm", c, 2);
  assert_int_equal(cb_model_alloc(m, 2), 0);
  gc_opts o = gc_defaults(2, 35);
  gc_check_graph(m, &o);
  cb_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gn_groups_rule),    cmocka_unit_test(test_gn_two_groups),
      cmocka_unit_test(test_gn_one_group),      cmocka_unit_test(test_gn_instance),
      cmocka_unit_test(test_gn_small_variance), cmocka_unit_test(test_gn_after_conv),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
