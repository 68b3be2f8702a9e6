/* Public accountant API: history and its JSON form, cb_epsilon, the noise
 * multiplier search, the step conventions, and properties every accountant
 * must have (monotonicity, segment splitting, PRV <= RDP, no optimism). */
#include "core/base/error.h"
#include "core/privacy/accountant.h"
#include "core/privacy/gdp.h"
#include "tests/unit/support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double eps1(cb_accountant acc, double sigma, double q, long long steps, double delta) {
  cb_segment s = {sigma, q, steps};
  cb_history h = {&s, 1, 1};
  cb_eps_result r;
  assert_int_equal(cb_epsilon(&h, acc, delta, &r), 0);
  return r.epsilon;
}

/* ---- history ---- */

static void test_history_merge(void **state) {
  (void)state;
  cb_history h, g;
  cb_history_init(&h);
  cb_history_init(&g);
  for (int i = 0; i < 100; i++)
    assert_int_equal(cb_history_add(&h, 1.1, 0.01, 1), 0);
  assert_int_equal(h.n, 1);
  assert_int_equal(h.seg[0].steps, 100);
  assert_int_equal(cb_history_add(&h, 1.1, 0.02, 5), 0); /* q changes */
  assert_int_equal(cb_history_add(&h, 1.2, 0.02, 5), 0); /* sigma changes */
  assert_int_equal(cb_history_add(&h, 1.2, 0.02, 0), 0); /* no-op */
  assert_int_equal(h.n, 3);
  assert_true(cb_history_steps(&h) == 110);
  /* append merges at the junction */
  assert_int_equal(cb_history_add(&g, 1.2, 0.02, 7), 0);
  assert_int_equal(cb_history_add(&g, 0.9, 0.02, 3), 0);
  assert_int_equal(cb_history_append(&h, &g), 0);
  assert_int_equal(h.n, 4);
  assert_true(h.seg[2].steps == 12 && h.seg[3].sigma == 0.9);
  assert_int_equal(cb_history_append(&h, &h), 0); /* self-append doubles the list */
  assert_true(cb_history_steps(&h) == 2 * 120);
  assert_int_equal(cb_history_copy(&g, &h), 0);
  assert_int_equal(g.n, h.n);
  /* invalid segments */
  assert_int_equal(cb_history_add(&h, -1, 0.1, 1), -1);
  assert_non_null(strstr(cb_last_error(), "noise multiplier"));
  assert_int_equal(cb_history_add(&h, 1, 1.5, 1), -1);
  assert_int_equal(cb_history_add(&h, 1, NAN, 1), -1);
  assert_int_equal(cb_history_add(&h, INFINITY, 0.1, 1), -1);
  assert_int_equal(cb_history_add(&h, 1, 0.1, -1), -1);
  cb_history_free(&h);
  cb_history_free(&g);
}

static void test_history_json(void **state) {
  (void)state;
  cb_history h, g;
  cb_history_init(&h);
  cb_history_init(&g);
  assert_int_equal(cb_history_add(&h, 1.0 / 3, 1.0 / 7, 700), 0);
  assert_int_equal(cb_history_add(&h, 1.1, 256.0 / 60000, 123456789012LL), 0);
  assert_int_equal(cb_history_add(&h, 0, 1, 1), 0);
  char *js = cb_history_to_json(&h);
  assert_non_null(js);
  assert_int_equal(js[0], '[');
  assert_int_equal(cb_history_from_json(&g, js), 0);
  assert_int_equal(g.n, h.n);
  for (int i = 0; i < h.n; i++) /* bit-exact round trip */
    assert_true(g.seg[i].sigma == h.seg[i].sigma && g.seg[i].q == h.seg[i].q &&
                g.seg[i].steps == h.seg[i].steps);
  /* a restored history keeps merging like the original */
  assert_int_equal(cb_history_add(&g, 0, 1, 4), 0);
  assert_true(g.n == 3 && g.seg[2].steps == 5);
  free(js);

  cb_history_clear(&h);
  js = cb_history_to_json(&h);
  assert_string_equal(js, "[]");
  free(js);
  assert_int_equal(cb_history_from_json(&g, " [ ] "), 0);
  assert_int_equal(g.n, 0);
  assert_int_equal(cb_history_from_json(&g, "\n[ [1.5 , 0.04, 2250] ,[ 1e0,4E-2,1]]\t"), 0);
  assert_int_equal(g.n, 2);
  assert_true(g.seg[0].steps == 2250 && g.seg[1].sigma == 1.0 && g.seg[1].q == 0.04);
  /* consecutive identical segments merge on parse */
  assert_int_equal(cb_history_from_json(&g, "[[1,0.5,2],[1,0.5,3]]"), 0);
  assert_true(g.n == 1 && g.seg[0].steps == 5);

  const char *bad[] = {"",
                       "[",
                       "[[1,2]]",
                       "[[1,0.5,3],]",
                       "[[1,0.5,3.5]]",
                       "[[-1,0.5,3]]",
                       "[[1,1.5,3]]",
                       "[[nan,0.5,1]]",
                       "[[1,0.5,1]] x",
                       "{}",
                       "[[1,0.5,-2]]",
                       "[[0x1,0.5,1]]",
                       "[[1,.5,1]]",
                       "[[1,0.5,1e400]]",
                       NULL};
  for (int i = 0; bad[i]; i++) {
    assert_int_equal(cb_history_add(&g, 1, 0.1, 1), 0);
    if (cb_history_from_json(&g, bad[i]) != -1) fail_msg("'%s' parsed", bad[i]);
    assert_int_equal(g.n, 0); /* left empty */
    const char *msg = cb_last_error();
    assert_non_null(strstr(msg, "accountant history JSON"));
    assert_null(strchr(msg, '\n'));
  }
  assert_int_equal(cb_history_from_json(&g, "[[1,0.5]"), -1);
  assert_non_null(strstr(cb_last_error(), "character 7"));
  cb_history_free(&h);
  cb_history_free(&g);
}

/* ---- cb_epsilon ---- */

static void test_epsilon_api(void **state) {
  (void)state;
  cb_history h;
  cb_history_init(&h);
  cb_eps_result r;
  for (int a = 0; a < CB_ACC_COUNT; a++) { /* nothing spent yet */
    assert_int_equal(cb_epsilon(&h, (cb_accountant)a, 1e-5, &r), 0);
    assert_true(r.epsilon == 0);
  }
  assert_int_equal(cb_history_add(&h, 1.5, 0.04, 2250), 0);
  assert_int_equal(cb_epsilon(&h, CB_ACC_RDP, 0, &r), -1);
  assert_non_null(strstr(cb_last_error(), "delta"));
  assert_int_equal(cb_epsilon(&h, CB_ACC_RDP, 1, &r), -1);
  assert_int_equal(cb_epsilon(&h, CB_ACC_RDP, NAN, &r), -1);

  assert_int_equal(cb_epsilon(&h, CB_ACC_RDP, 1e-5, &r), 0);
  assert_true(r.requested == CB_ACC_RDP && r.accountant == CB_ACC_RDP && r.is_guarantee);
  assert_true(r.alpha == 3.9 && r.delta == 1e-5);
  assert_int_equal(cb_epsilon(&h, CB_ACC_PRV, 1e-5, &r), 0);
  assert_true(r.accountant == CB_ACC_PRV && r.is_guarantee && isnan(r.alpha));
  assert_int_equal(cb_epsilon(&h, CB_ACC_GDP, 1e-5, &r), 0);
  assert_true(r.accountant == CB_ACC_GDP && !r.is_guarantee && isnan(r.alpha));

  cb_accountant a;
  assert_int_equal(cb_accountant_parse("prv", &a), 0);
  assert_int_equal(a, CB_ACC_PRV);
  assert_string_equal(cb_accountant_name(CB_ACC_GDP), "gdp");
  assert_int_equal(cb_accountant_parse("moments", &a), -1);

  /* RDP optimum at the end of the order list is flagged. */
  cb_history_clear(&h);
  assert_int_equal(cb_history_add(&h, 0.3, 1.0 / 7, 700), 0);
  assert_int_equal(cb_epsilon(&h, CB_ACC_RDP, 1e-5, &r), 0);
  assert_true(r.alpha == 1.1);
  assert_non_null(strstr(r.note, "end of the order list"));
  cb_history_free(&h);
}

/* ---- properties ---- */

/* Epsilon decreases with sigma and delta and increases with q and steps. */
static void test_monotone(void **state) {
  (void)state;
  for (int a = 0; a < CB_ACC_COUNT; a++) {
    cb_accountant acc = (cb_accountant)a;
    double prev = INFINITY;
    for (double s = 0.6; s <= 3.0; s += 0.6) {
      double e = eps1(acc, s, 0.02, 1000, 1e-5);
      assert_true(e < prev);
      prev = e;
    }
    prev = INFINITY;
    for (double d = 1e-9; d < 1e-2; d *= 30) {
      double e = eps1(acc, 1.0, 0.02, 1000, d);
      assert_true(e < prev);
      prev = e;
    }
    prev = 0;
    for (double q = 0.001; q < 0.3; q *= 3) {
      double e = eps1(acc, 1.0, q, 500, 1e-5);
      assert_true(e > prev);
      prev = e;
    }
    prev = 0;
    for (long long t = 10; t <= 100000; t *= 10) {
      double e = eps1(acc, 1.0, 0.01, t, 1e-5);
      assert_true(e > prev);
      prev = e;
    }
  }
}

/* A history split into identical segments gives the same epsilon as one
 * segment (built by hand, because cb_history_add would merge them). */
static void test_split_history(void **state) {
  (void)state;
  cb_segment one[1] = {{1.1, 0.01, 3000}};
  cb_segment three[3] = {{1.1, 0.01, 1000}, {1.1, 0.01, 1500}, {1.1, 0.01, 500}};
  cb_history h1 = {one, 1, 1}, h3 = {three, 3, 3};
  for (int a = 0; a < CB_ACC_COUNT; a++) {
    cb_eps_result r1, r3;
    assert_int_equal(cb_epsilon(&h1, (cb_accountant)a, 1e-5, &r1), 0);
    assert_int_equal(cb_epsilon(&h3, (cb_accountant)a, 1e-5, &r3), 0);
    assert_int_equal(r3.accountant, a);
    if (!(fabs(r1.epsilon - r3.epsilon) <= 1e-9 * r1.epsilon))
      fail_msg("%s: one segment %.12f, split %.12f", cb_accountant_name((cb_accountant)a),
               r1.epsilon, r3.epsilon);
  }
}

/* The TF-Privacy sanity bound (Test0-2): with sigma_eff = sigma sqrt(T)/q, the
 * delta of the Gaussian with that sigma at our epsilon must not exceed delta.
 * PLD <= PRV <= RDP where all are valid. */
static void test_bounds(void **state) {
  (void)state;
  static const double c[][4] = {{0.001, 0.8, 100, 1e-6}, {0.01, 1.0, 1000, 1e-5},
                                {0.04, 1.5, 2249, 1e-5}, {0.05, 3.0, 20000, 1e-6},
                                {0.2, 2.0, 100, 1e-6},   {256.0 / 60000, 1.1, 14063, 1e-5},
                                {0.1, 0.9, 300, 1e-5},   {1.0 / 7, 1.0, 700, 1e-5}};
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
    double q = c[i][0], s = c[i][1], d = c[i][3];
    long long t = (long long)c[i][2];
    double rdp = eps1(CB_ACC_RDP, s, q, t, d), prv = eps1(CB_ACC_PRV, s, q, t, d);
    double pld = eps1(CB_ACC_PLD, s, q, t, d);
    if (!(prv <= rdp)) fail_msg("case %zu: prv %.9f > rdp %.9f", i, prv, rdp);
    if (!(pld <= prv)) fail_msg("case %zu: pld %.9f > prv %.9f", i, pld, prv);
    double se = s * sqrt((double)t) / q;
    for (int k = 0; k < 3; k++) {
      double e = k == 2 ? pld : k ? prv : rdp;
      double lb = 0.5 * erfc((e * se - 0.5 / se) / M_SQRT2) -
                  exp(e) * 0.5 * erfc((e * se + 0.5 / se) / M_SQRT2);
      assert_true(lb <= d);
    }
  }
}

/* ---- noise multiplier search (reference 5.3) ---- */

static void test_sigma_values(void **state) {
  (void)state;
  cb_sigma_result s;
  long long t90 = cb_steps_for_epochs(90, 0.04);
  assert_true(t90 == 2250); /* Opacus int(90 / 0.04) */
  assert_int_equal(cb_sigma_search(0.04, t90, 1e-5, 8, CB_ACC_RDP, &s), 0);
  assert_true(s.sigma == 1.416015625);
  assert_true(s.eps.epsilon <= 8 && s.eps.accountant == CB_ACC_RDP);
  assert_int_equal(cb_sigma_search(0.04, 2000, 1e-5, 8, CB_ACC_RDP, &s), 0);
  assert_true(s.sigma == 1.356201171875);
  assert_int_equal(cb_sigma_search(0.04, t90, 1e-5, 8, CB_ACC_PRV, &s), 0);
  assert_true(s.sigma == 1.34765625);
  assert_true(s.eps.accountant == CB_ACC_PRV && s.eps.epsilon <= 8);
  assert_int_equal(cb_sigma_search(0.04, 2000, 1e-5, 8, CB_ACC_PRV, &s), 0);
  assert_true(fabs(s.sigma - 1.2915) < 5e-5);
  assert_int_equal(cb_sigma_search(0.04, t90, 1e-5, 8, CB_ACC_GDP, &s), 0);
  assert_true(s.sigma == 1.3232421875);
  assert_false(s.eps.is_guarantee);

  /* errors */
  assert_int_equal(cb_sigma_search(0.04, 2000, 1e-5, 1e-9, CB_ACC_RDP, &s), -1);
  assert_non_null(strstr(cb_last_error(), "out of reach"));
  assert_int_equal(cb_sigma_search(0, 2000, 1e-5, 8, CB_ACC_RDP, &s), -1);
  assert_int_equal(cb_sigma_search(0.04, 0, 1e-5, 8, CB_ACC_RDP, &s), -1);
  assert_int_equal(cb_sigma_search(0.04, 10, 2, 8, CB_ACC_RDP, &s), -1);
  assert_int_equal(cb_sigma_search(0.04, 10, 1e-5, -1, CB_ACC_RDP, &s), -1);
}

/* Opacus's hypothesis test: the returned sigma's RDP epsilon is below the
 * target, for eps in [1, 10], epochs in [10, 100], q in 1e-4..0.1. */
static void test_sigma_never_overshoots(void **state) {
  (void)state;
  double targets[] = {1, 2.5, 10}, qs[] = {1e-4, 1e-3, 0.01, 0.1}, deltas[] = {1e-4, 1e-6};
  int epochs[] = {10, 100};
  for (int a = 0; a < 3; a++)
    for (int b = 0; b < 4; b++)
      for (int c = 0; c < 2; c++)
        for (int d = 0; d < 2; d++) {
          long long t = cb_steps_for_epochs(epochs[c], qs[b]);
          cb_sigma_result s;
          assert_int_equal(cb_sigma_search(qs[b], t, deltas[d], targets[a], CB_ACC_RDP, &s), 0);
          double e = eps1(CB_ACC_RDP, s.sigma, qs[b], t, deltas[d]);
          assert_true(e <= targets[a] && e == s.eps.epsilon);
          assert_true(targets[a] - e <= CB_SIGMA_TOLERANCE);
          /* smallest up to the bisection: a slightly smaller sigma overshoots */
          assert_true(eps1(CB_ACC_RDP, s.sigma * 0.98, qs[b], t, deltas[d]) > targets[a] - 0.05);
        }
}

/* ---- conventions ---- */

static void test_conventions(void **state) {
  (void)state;
  assert_true(cb_sample_rate_for_batch(256, 60000) == 1.0 / 235);
  assert_true(cb_sample_rate_for_batch(10, 66) == 1.0 / 7);
  assert_true(cb_sample_rate_for_batch(100, 50) == 1.0);
  assert_true(isnan(cb_sample_rate_for_batch(0, 50)));
  assert_true(cb_steps_for_epochs(90, 0.04) == 2250);
  assert_true(cb_steps_for_epochs(100, 1.0 / 7) == 700);
  assert_true(cb_steps_for_epochs(50, 1.0 / 75) == 3750); /* Opacus's int() gives 3749 */
  assert_true(cb_steps_for_epochs(15, 1.0 / 235) == 15 * 235);
  assert_true(cb_steps_for_epochs(1.2, 0.01) == 120);
  assert_true(cb_steps_for_epochs(0.5, 0.3) == 2); /* ceil(1.67) */
  assert_true(cb_steps_for_epochs(0, 0.3) == -1);
  assert_true(cb_steps_for_epochs(1, 0) == -1);
  for (int len = 1; len <= 300; len++) /* E epochs of a loader of len batches are E*len steps */
    for (int e = 1; e <= 60; e += 7)
      assert_true(cb_steps_for_epochs(e, 1.0 / len) == (long long)e * len);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_history_merge), cmocka_unit_test(test_history_json),
      cmocka_unit_test(test_epsilon_api),   cmocka_unit_test(test_monotone),
      cmocka_unit_test(test_split_history), cmocka_unit_test(test_bounds),
      cmocka_unit_test(test_sigma_values),  cmocka_unit_test(test_sigma_never_overshoots),
      cmocka_unit_test(test_conventions),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
