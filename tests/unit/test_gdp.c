/* GDP / CLT accountant against reference/accounting.md 4 and 5.5. */
#include "core/privacy/accountant.h"
#include "core/privacy/gdp.h"
#include "tests/unit/support.h"

#include <math.h>
#include <string.h>

static double gdp_eps(double q, double sigma, long long steps, double delta) {
  cb_segment s = {sigma, q, steps};
  cb_history h = {&s, 1, 1};
  cb_eps_result r;
  assert_int_equal(cb_epsilon(&h, CB_ACC_GDP, delta, &r), 0);
  assert_int_equal(r.accountant, CB_ACC_GDP);
  assert_false(r.is_guarantee);
  if (s.q > 0) assert_non_null(strstr(r.note, "approximation"));
  assert_true(isnan(r.alpha));
  return r.epsilon;
}

static void test_opacus_values(void **state) {
  (void)state;
  /* Opacus test_gdp_accountant: T = int(90 // 0.04) = 2249, 6.59 < eps < 6.6. */
  cb_segment s = {1.5, 0.04, 2249};
  cb_history h = {&s, 1, 1};
  assert_true(fabs(cb_gdp_mu(&h) - 1.4190663) < 1e-7);
  double e = gdp_eps(0.04, 1.5, 2249, 1e-5);
  assert_true(e > 6.59 && e < 6.6);
  assert_true(fabs(e - 6.5998208) < 1e-7);
  assert_true(fabs(gdp_eps(0.04, 1.5, 2250, 1e-5) - 6.6015671) < 1e-7);
  /* Row 19 and the comparison table. */
  assert_true(fabs(gdp_eps(0.2, 3.0, 50, 1.0 / 48000) - 1.8384783) < 1e-7);
  static const double t[][5] = {
      {0.001, 0.8, 100, 1e-6, 0.0687},   {0.001, 1.5, 1000, 1e-6, 0.0850},
      {0.05, 1.5, 1000, 1e-6, 5.9221},   {0.2, 2.0, 100, 1e-6, 5.2554},
      {0.001, 3.0, 50000, 1e-6, 0.2987}, {0.05, 3.0, 20000, 1e-6, 13.9093},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    double got = gdp_eps(t[i][0], t[i][1], (long long)t[i][2], t[i][3]);
    if (!(fabs(got - t[i][4]) < 5e-5))
      fail_msg("gdp(q %g, sigma %g, T %g) = %.7f, expected %.4f", t[i][0], t[i][1], t[i][2], got,
               t[i][4]);
  }
  assert_true(fabs(gdp_eps(256.0 / 60000, 1.1, 14063, 1e-5) - 2.3243617) < 1e-7);
  assert_true(fabs(gdp_eps(0.01, 1.0, 1000, 1e-5) - 1.6177118) < 1e-7);
  /* The reference lists 6.0070770; Opacus itself gives 6.007077307595717. */
  assert_true(fabs(gdp_eps(0.01, 1.0, 10000, 1e-5) - 6.007077307595717) < 1e-9);
}

static void test_dual(void **state) {
  (void)state;
  /* Bu et al. Fig. 4 quotes (1.34, 1e-5) and (8.68, 1e-5). */
  assert_true(fabs(cb_gdp_eps_from_mu(0.35, 1e-5) - 1.3414) < 5e-5);
  assert_true(fabs(cb_gdp_eps_from_mu(1.78, 1e-5) - 8.668) < 5e-4);
  assert_true(fabs(cb_gdp_eps_from_mu(1.0, 1e-5) - 4.3771781) < 1e-7);
  assert_true(fabs(cb_gdp_delta(1.0, 1.0) - 0.1269367) < 1e-7);
  /* Round trip, and the root is on the conservative side. */
  double mus[] = {0.05, 0.3, 1, 2.5, 6};
  double deltas[] = {1e-3, 1e-5, 1e-9};
  for (int a = 0; a < 5; a++)
    for (int b = 0; b < 3; b++) {
      double e = cb_gdp_eps_from_mu(mus[a], deltas[b]);
      if (e == 0) {
        assert_true(cb_gdp_delta(0, mus[a]) <= deltas[b]);
        continue;
      }
      double d = cb_gdp_delta(e, mus[a]);
      assert_true(d <= deltas[b]);
      assert_true(fabs(d - deltas[b]) < 1e-9 * deltas[b]);
    }
}

static void test_edges(void **state) {
  (void)state;
  assert_true(gdp_eps(0, 1.0, 100, 1e-5) == 0);      /* no sampling */
  assert_true(isinf(gdp_eps(0.1, 0, 100, 1e-5)));    /* no noise */
  assert_true(isinf(gdp_eps(0.1, 0.03, 100, 1e-5))); /* exp(1/sigma^2) overflows */
  assert_true(gdp_eps(1e-6, 5.0, 1, 0.5) == 0);      /* delta(0) below delta */
  assert_true(isinf(cb_gdp_eps_from_mu(60, 1e-5)));  /* beyond Opacus's [0, 500] */
  /* Heterogeneous history: mu^2 adds up. */
  cb_segment s[2] = {{1.0, 0.01, 300}, {2.0, 0.02, 700}};
  cb_history h = {s, 2, 2};
  double m2 = 300 * 1e-4 * expm1(1.0) + 700 * 4e-4 * expm1(0.25);
  assert_true(fabs(cb_gdp_mu(&h) - sqrt(m2)) < 1e-15);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_opacus_values),
      cmocka_unit_test(test_dual),
      cmocka_unit_test(test_edges),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
