/* The one-run audit bound (core/privacy/audit_bound.c) against the
 * reference: jax_privacy.auditing and an independent transcription of the
 * paper's theorem agree on every line of tests/fixtures/audit_bound_golden.txt
 * (tests/gen/audit_bound.py); here the C code must match them. */
#include "core/base/error.h"
#include "core/privacy/audit_bound.h"
#include "tests/unit/support.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void test_fixture(void **state) {
  (void)state;
  const char *path = tst_src_path("tests/fixtures/audit_bound_golden.txt");
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  char line[512];
  int n = 0, positive = 0, zero = 0;
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#') continue;
    int m, r, v;
    double delta, conf, eps, p_ref, lb_ref;
    assert_int_equal(sscanf(line, "%d %d %d %lf %lf %lf %lf %lf", &m, &r, &v, &delta, &conf, &eps,
                            &p_ref, &lb_ref),
                     8);
    double p = cb_audit_p_value(m, r, v, eps, delta);
    if (!(fabs(p - p_ref) <= 1e-13 + 1e-9 * p_ref))
      fail_msg("p_value(m %d, r %d, v %d, eps %g, delta %g) = %.17g, reference %.17g", m, r, v, eps,
               delta, p, p_ref);
    double lb;
    assert_int_equal(cb_audit_epsilon_lb(m, r, v, delta, conf, &lb), 0);
    if (!(fabs(lb - lb_ref) <= 2e-6))
      fail_msg("epsilon_lb(m %d, r %d, v %d, delta %g, conf %g) = %.12f, reference %.12f", m, r, v,
               delta, conf, lb, lb_ref);
    /* Rounded down: the claim at the returned epsilon is rejected. */
    if (lb > 0) assert_true(cb_audit_p_value(m, r, v, lb, delta) < 1 - conf);
    positive += lb_ref > 0;
    zero += lb_ref == 0;
    n++;
  }
  fclose(f);
  assert_true(n >= 12);
  assert_true(positive >= 8 && zero >= 2); /* both outcomes are covered */
}

static void test_properties(void **state) {
  (void)state;
  double a, b;
  /* More correct guesses, a larger bound; more confidence, a smaller one. */
  assert_int_equal(cb_audit_epsilon_lb(1000, 100, 80, 1e-5, 0.95, &a), 0);
  assert_int_equal(cb_audit_epsilon_lb(1000, 100, 90, 1e-5, 0.95, &b), 0);
  assert_true(b > a && a > 0);
  assert_int_equal(cb_audit_epsilon_lb(1000, 100, 90, 1e-5, 0.99, &a), 0);
  assert_true(a < b);
  /* delta only weakens the claim being rejected: the bound shrinks. */
  assert_int_equal(cb_audit_epsilon_lb(1000, 100, 90, 0.0, 0.95, &a), 0);
  assert_true(a >= b);
  /* Half right is what chance gives: no bound. */
  assert_int_equal(cb_audit_epsilon_lb(1000, 100, 50, 1e-5, 0.95, &a), 0);
  assert_true(a == 0);
  /* All of r right with delta = 0 and confidence c: q^r = 1 - c exactly. */
  assert_int_equal(cb_audit_epsilon_lb(1000, 64, 64, 0.0, 0.95, &a), 0);
  double q = pow(0.05, 1.0 / 64);
  assert_true(fabs(a - log(q / (1 - q))) < 1e-8);
  /* Arguments out of range are refused with a message. */
  assert_int_equal(cb_audit_epsilon_lb(10, 20, 5, 1e-5, 0.95, &a), -1);
  assert_non_null(strstr(cb_last_error(), "guesses"));
  assert_int_equal(cb_audit_epsilon_lb(100, 20, 5, 1e-5, 1.0, &a), -1);
  assert_true(isnan(cb_audit_p_value(10, 5, 6, 1.0, 0.0)));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fixture),
      cmocka_unit_test(test_properties),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
