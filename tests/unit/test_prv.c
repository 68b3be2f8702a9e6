/* PRV accountant against Opacus's test table (reference/accounting.md 5.4),
 * exact Gaussian values, and its fallbacks. */
#include "core/privacy/accountant.h"
#include "core/privacy/gdp.h"
#include "core/privacy/prv.h"
#include "tests/unit/support.h"

#include <math.h>
#include <string.h>

static cb_eps_result prv(double sigma, double q, long long steps, double delta) {
  cb_segment s = {sigma, q, steps};
  cb_history h = {&s, 1, 1};
  cb_eps_result r;
  assert_int_equal(cb_epsilon(&h, CB_ACC_PRV, delta, &r), 0);
  assert_int_equal(r.requested, CB_ACC_PRV);
  return r;
}

/* Opacus tests/prv_accountant.py (values of microsoft/prv_accountant), places = 4. */
static void test_opacus_table(void **state) {
  (void)state;
  static const double t[][5] = {
      {0.8, 0.001, 100, 1e-6, 0.270403364058},
      {1.5, 0.001, 100, 1e-6, 0.039369419310},
      {3.0, 0.001, 100, 1e-6, 0.021520093439},
      {0.8, 0.05, 100, 1e-6, 6.741051939414},
      {2.0, 0.05, 100, 1e-6, 1.283637379624},
      {0.8, 0.2, 100, 1e-6, 24.333664177923},
      {3.0, 0.2, 100, 1e-6, 3.381220510222},
      {1.5, 0.05, 1000, 1e-6, 6.209969246577},
      {0.8, 0.001, 20000, 1e-6, 1.296009257570},
      {1.5, 0.04, 2249, 1e-5, 6.777395712150674},
      /* PRV column of the RDP/PRV/GDP comparison (7 decimals). */
      {1.5, 0.001, 1000, 1e-6, 0.0998207},
      {2.0, 0.2, 100, 1e-6, 5.6720556},
      {3.0, 0.001, 50000, 1e-6, 0.3096942},
      {3.0, 0.05, 20000, 1e-6, 13.9611147},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    cb_eps_result r = prv(t[i][0], t[i][1], (long long)t[i][2], t[i][3]);
    if (r.accountant != CB_ACC_PRV) fail_msg("case %zu fell back: %s", i, r.note);
    assert_true(r.is_guarantee);
    if (!(fabs(r.epsilon - t[i][4]) < 5e-5))
      fail_msg("prv(sigma %g, q %g, T %g, delta %g) = %.9f, expected %.9f", t[i][0], t[i][1],
               t[i][2], t[i][3], r.epsilon, t[i][4]);
  }
}

/* q = 1 is the Gaussian mechanism, whose exact epsilon is the mu-GDP dual with
 * mu = sqrt(T)/sigma. The PRV upper bound must lie above it, within 2 eps_error. */
static void test_gaussian_exact(void **state) {
  (void)state;
  static const double t[][3] = {
      {1.0, 10, 1e-5}, {4.530877117, 1, 1e-6}, {0.7, 2, 1e-5}, {2.0, 300, 1e-6}};
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    double exact = cb_gdp_eps_from_mu(sqrt(t[i][1]) / t[i][0], t[i][2]);
    cb_eps_result r = prv(t[i][0], 1.0, (long long)t[i][1], t[i][2]);
    assert_int_equal(r.accountant, CB_ACC_PRV);
    if (!(r.epsilon >= exact && r.epsilon <= exact + 2 * CB_PRV_EPS_ERROR))
      fail_msg("q = 1, sigma %g, T %g: prv %.9f, exact %.9f", t[i][0], t[i][1], r.epsilon, exact);
  }
  /* RDP is an upper bound too (row 22: RDP with fine orders gives 1.0 where
   * the exact value is 0.9273923). */
  assert_true(fabs(cb_gdp_eps_from_mu(1.0 / 4.530877117, 1e-6) - 0.9273923379974434) < 1e-10);
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    cb_segment s = {t[i][0], 1.0, (long long)t[i][1]};
    cb_history h = {&s, 1, 1};
    cb_eps_result r;
    assert_int_equal(cb_epsilon(&h, CB_ACC_RDP, t[i][2], &r), 0);
    assert_true(r.epsilon >= cb_gdp_eps_from_mu(sqrt(t[i][1]) / t[i][0], t[i][2]));
  }
}

/* Where the PRV cannot be computed we get RDP's number, labelled so. */
static void test_fallbacks(void **state) {
  (void)state;
  cb_eps_result r = prv(0.0, 0.01, 100, 1e-5); /* no noise */
  assert_int_equal(r.accountant, CB_ACC_RDP);
  assert_true(isinf(r.epsilon));
  assert_non_null(strstr(r.note, "PRV not computable"));

  r = prv(1.0, 0.01, 1000, 1e-14); /* delta below double precision on the grid */
  assert_int_equal(r.accountant, CB_ACC_RDP);
  assert_true(r.is_guarantee && isfinite(r.epsilon) && isfinite(r.alpha));
  assert_non_null(strstr(r.note, "too small"));

  r = prv(0.3, 0.5, 100000, 1e-5); /* epsilon in the thousands: grid too large */
  assert_int_equal(r.accountant, CB_ACC_RDP);
  assert_non_null(strstr(r.note, "grid"));

  r = prv(1.0, 0.0, 100, 1e-5); /* q = 0 spends nothing */
  assert_int_equal(r.accountant, CB_ACC_PRV);
  assert_true(r.epsilon == 0);

  cb_history h;
  cb_history_init(&h);
  assert_int_equal(cb_epsilon(&h, CB_ACC_PRV, 1e-5, &r), 0);
  assert_true(r.epsilon == 0);
}

/* The numbers behind the result: mesh and domain as Opacus computes them. */
static void test_grid(void **state) {
  (void)state;
  cb_segment s = {1.5, 0.04, 2249};
  cb_history h = {&s, 1, 1};
  cb_prv_info info;
  char why[200];
  assert_int_equal(cb_prv_epsilon(&h, 1e-5, 0, 0, &info, why, sizeof why), 0);
  double dt = 0.01 / sqrt(2249 * log(12 / 1e-8) / 2);
  assert_true(fabs(info.dt - dt) < 1e-15);
  assert_true(info.n % 2 == 0 && info.n >= 2 * ceil(info.L / dt) + 2);
  assert_true(info.n <= (long)(1.05 * (2 * ceil(info.L / dt) + 2))); /* smooth size, small pad */
  assert_true(info.eps_estimate < info.eps_upper && info.eps_upper - info.eps_estimate < 0.011);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_opacus_table),
      cmocka_unit_test(test_gaussian_exact),
      cmocka_unit_test(test_fallbacks),
      cmocka_unit_test(test_grid),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
