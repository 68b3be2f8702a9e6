/* RDP accountant against the vectors of reference/accounting.md (variant S
 * column, i.e. Opacus / TF-Privacy <= 2022) and an independent quadrature. */
#include "core/privacy/accountant.h"
#include "core/privacy/rdp.h"
#include "tests/unit/support.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

#define CHECK_REL(got, want, rtol)                                                    \
  do {                                                                                \
    double g_ = (got), w_ = (want);                                                   \
    if (!(fabs(g_ - w_) <= (rtol)*fabs(w_)))                                          \
      fail_msg("%s = %.15g, expected %.15g (rtol %g)", #got, g_, w_, (double)(rtol)); \
  } while (0)

/* ---- helpers: RDP over custom order lists (the public API uses Opacus's) ---- */

typedef struct {
  double q, sigma;
  long long steps;
} seg;

static void rdp_custom(const seg *s, int nseg, const double *orders, int n, double *out) {
  for (int k = 0; k < n; k++) {
    out[k] = 0;
    for (int i = 0; i < nseg; i++)
      out[k] += (double)s[i].steps * cb_rdp_order(s[i].q, s[i].sigma, orders[k]);
  }
}

static double eps_custom(const seg *s, int nseg, const double *orders, int n, double delta,
                         double *alpha) {
  double *rdp = malloc((size_t)n * sizeof *rdp), eps;
  assert_non_null(rdp);
  rdp_custom(s, nseg, orders, n, rdp);
  cb_rdp_to_eps(orders, rdp, n, delta, &eps, alpha);
  free(rdp);
  return eps;
}

/* Mironov 2017 Prop 3 (TF before 2020-12, Opacus before 2021-04). */
static double eps_mironov(const seg *s, const double *orders, int n, double delta, double *alpha) {
  double best = INFINITY;
  for (int k = 0; k < n; k++) {
    double r = (double)s->steps * cb_rdp_order(s->q, s->sigma, orders[k]);
    double e = r - log(delta) / (orders[k] - 1);
    if (e < best) best = e, *alpha = orders[k];
  }
  return best;
}

static int dpacc_orders(double *o) { /* dp_accounting DEFAULT_RDP_ORDERS */
  int n = 0;
  for (int x = 1; x <= 99; x++)
    o[n++] = 1 + x / 10.0;
  for (int a = 11; a <= 63; a++)
    o[n++] = a;
  o[n++] = 128, o[n++] = 256, o[n++] = 512, o[n++] = 1024;
  return n;
}

static double eps_opacus(double q, double sigma, long long steps, double delta, double *alpha) {
  cb_segment s = {sigma, q, steps};
  cb_history h = {&s, 1, 1};
  double eps;
  cb_rdp_epsilon(&h, delta, &eps, alpha);
  return eps;
}

/* log A_a by the trapezoidal rule on E_{z~N(0,s^2)}[((1-q) + q e^{(2z-1)/(2s^2)})^a],
 * in long double; spectrally accurate for these smooth, fast-decaying integrands. */
static double log_a_quad(double q, double s, double a) {
  long double lq = logl(q), l1q = log1pl(-(long double)q), s2 = (long double)s * s;
  double lo = -40 * s, hi = fmax(a, 0) + 40 * s, h = fmin(s, s * s) / 40;
  long n = (long)((hi - lo) / h) + 1;
  long double gmax = -INFINITY;
  for (int pass = 0; pass < 2; pass++) {
    long double sum = 0;
    for (long i = 0; i <= n; i++) {
      long double z = lo + i * (long double)h;
      long double x = lq + (2 * z - 1) / (2 * s2), m = x > l1q ? x : l1q, mn = x > l1q ? l1q : x;
      long double inner = m + log1pl(expl(mn - m));
      long double g = -z * z / (2 * s2) + a * inner;
      if (pass == 0) {
        if (g > gmax) gmax = g;
      } else {
        sum += expl(g - gmax) * ((i == 0 || i == n) ? 0.5L : 1.0L);
      }
    }
    if (pass == 1)
      return (double)(gmax + logl(sum * h) -
                      logl((long double)s * sqrtl(2 * 3.14159265358979323846L)));
  }
  return NAN;
}

/* ---- tests ---- */

static void test_log_helpers(void **state) {
  (void)state;
  assert_true(cb_log_add(-INFINITY, 1.5) == 1.5);
  assert_true(cb_log_add(1.5, -INFINITY) == 1.5);
  CHECK_REL(cb_log_add(log(2), log(3)), log(5), 1e-15);
  assert_true(cb_log_sub(2.0, 2.0) == -INFINITY);
  assert_true(cb_log_sub(2.0, -INFINITY) == 2.0);
  CHECK_REL(cb_log_sub(log(5), log(3)), log(2), 1e-14);
  assert_true(isnan(cb_log_sub(1.0, 2.0)));
  assert_true(cb_log_sub(800.0, 0.0) == 800.0); /* Python's OverflowError branch */
  /* log(erfc) against long double below and above the switch at 26. */
  for (double x = -5; x <= 100; x += 0.37) {
    long double ref = logl(erfcl(x));
    double got = cb_log_erfc(x);
    if (!(fabsl(got - ref) <= 1e-13L * fabsl(ref) + 1e-15L))
      fail_msg("log_erfc(%g) = %.17g, long double %.17Lg", x, got, ref);
  }
  /* Continuity across the switch. */
  double below = cb_log_erfc(nextafter(26.0, 0)), above = cb_log_erfc(nextafter(26.0, 100));
  assert_true(fabs(below - above) < 1e-11 * fabs(below));
}

/* reference/accounting.md 5.2: log A against mpmath quadrature (rtol 1e-4). */
static void test_log_a_reference(void **state) {
  (void)state;
  static const double c[][4] = {
      {1e-7, 0.1, 1.01, 4.00341e-8},  {1e-6, 0.1, 256, 3.260463e6},
      {1e-5, 0.1, 256.1, 3.263607e6}, {1e-6, 1, 27, 8.76951e-10},
      {1e-4, 1, 1.5, 6.442687e-9},    {1e-3, 1, 2, 1.7182804e-6},
      {0.01, 10, 20, 1.9129700e-4},   {0.1, 100, 20.5, 1.9991818e-4},
      {0.99, 0.1, 256, 3.263997e6},   {0.999, 100, 256.1, 3.2601080},
  };
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
    double got = cb_rdp_log_a(c[i][0], c[i][1], c[i][2], NULL);
    if (!(fabs(got - c[i][3]) <= 1e-4 * fabs(c[i][3])))
      fail_msg("log A(q %g, sigma %g, a %g) = %.10g, expected %.10g", c[i][0], c[i][1], c[i][2],
               got, c[i][3]);
  }
  /* Integer order 2 in closed form: log(1 + q^2 (e^{1/sigma^2} - 1)). */
  double qs[] = {1e-4, 0.01, 0.3, 0.9}, ss[] = {0.5, 1, 3};
  for (int a = 0; a < 4; a++)
    for (int b = 0; b < 3; b++)
      CHECK_REL(cb_rdp_log_a(qs[a], ss[b], 2, NULL),
                log1p(qs[a] * qs[a] * expm1(1 / (ss[b] * ss[b]))), 1e-12);
}

/* Fractional and integer orders against our own quadrature, including
 * pitfall 2 (Opacus's stopping rule stops at i = 0 and gives ~ -30 instead of
 * ~2.1) and pitfall 3 (slowly converging small orders; dp_accounting gives up). */
static void test_log_a_quadrature(void **state) {
  (void)state;
  static const double c[][3] = {
      {0.4, 12, 58.75}, {0.4, 12, 59.0}, {0.4, 12, 59.25},  {0.4, 12, 59.5},     /* pitfall 2 */
      {0.1, 1, 1.1},    {0.1, 1, 1.5},   {0.5, 10, 1.1},    {1.0 / 7, 0.5, 1.2}, /* pitfall 3 */
      {0.04, 1.5, 3.9}, {0.2, 2, 7.3},   {0.01, 0.7, 12.5}, {0.9, 3, 2.5},
  };
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
    int it = 0;
    double got = cb_rdp_log_a(c[i][0], c[i][1], c[i][2], &it),
           want = log_a_quad(c[i][0], c[i][1], c[i][2]);
    if (!(fabs(got - want) <= 1e-9 * fabs(want) + 1e-14))
      fail_msg("log A(q %g, sigma %g, a %g) = %.15g after %d terms, quadrature %.15g", c[i][0],
               c[i][1], c[i][2], got, it, want);
  }
  CHECK_REL(cb_rdp_log_a(0.4, 12, 59.25, NULL), 2.1, 0.1);
}

/* 5.2 per-order values and the special cases of 1.4. */
static void test_compute_rdp(void **state) {
  (void)state;
  const double orders[] = {1.5, 2.5, 5, 50, 100};
  const double want[] = {6.5007e-04, 1.0854e-03, 2.1808e-03, 2.3846e-02, 1.6742e+02};
  for (int k = 0; k < 5; k++)
    CHECK_REL(50 * cb_rdp_order(0.01, 2.5, orders[k]), want[k], 1e-4);
  assert_true(isinf(cb_rdp_order(0.01, 2.5, INFINITY)));
  CHECK_REL(10 * cb_rdp_order(0.1, 2, 5), 0.0773696849, 1e-9);
  assert_true(cb_rdp_order(0, 10, 20) == 0);
  CHECK_REL(cb_rdp_order(1, 10, 20), 0.1, 1e-15);
  assert_true(isinf(cb_rdp_order(0.5, 0, 20)));
  assert_true(cb_rdp_order(0, 0, 20) == 0); /* q = 0 first, as Opacus */
  assert_true(isinf(cb_rdp_order(1, 0, 20)));
  seg het[] = {{0, 10, 1}, {1, 10, 1}};
  double a20 = 20, r;
  rdp_custom(het, 2, &a20, 1, &r);
  CHECK_REL(r, 0.1, 1e-15);

  /* Single-step table (8 significant digits). */
  const double ao[] = {1.5, 2, 3, 4, 8, 16, 32, 64, 256};
  const double tab[3][11] = {
      {0.01, 1.0, 1.2725374e-4, 1.7181342e-4, 2.6463757e-4, 3.6315405e-4, 8.9364391e-4, 3.0878508,
       11.246276, 27.321732, 123.37677},
      {0.04, 1.5, 6.6311169e-4, 8.9499697e-4, 1.3768724e-3, 1.8853401e-3, 4.2715845e-3, 0.16700928,
       3.7884263, 10.952253, 53.657390},
      {256.0 / 60000, 1.1, 1.7479785e-5, 2.3395776e-5, 3.5367699e-5, 4.7533352e-5, 9.8341062e-5,
       0.79189143, 7.5901883, 20.902741, 100.30680},
  };
  for (int c = 0; c < 3; c++)
    for (int k = 0; k < 9; k++)
      CHECK_REL(cb_rdp_order(tab[c][0], tab[c][1], ao[k]), tab[c][2 + k], 1e-7);
  /* Large integer orders stay finite (log-space binomials). */
  double big = cb_rdp_order(0.01, 1.0, 1024);
  assert_true(isfinite(big) && big > 0);
}

static void test_default_orders(void **state) {
  (void)state;
  assert_int_equal(CB_RDP_N_ORDERS, 151);
  assert_true(CB_RDP_ORDERS[0] == 1.1 && CB_RDP_ORDERS[98] == 10.9 && CB_RDP_ORDERS[99] == 12 &&
              CB_RDP_ORDERS[150] == 63);
  for (int k = 0; k < 99; k++)
    assert_true(CB_RDP_ORDERS[k] == 1 + (k + 1) / 10.0);
  for (int k = 0; k < CB_RDP_N_ORDERS; k++)
    assert_true(CB_RDP_ORDERS[k] != 11);
  /* The 9 values 2.0 ... 10.0 are exactly integral (integer path). */
  int integral = 0;
  for (int k = 0; k < 99; k++)
    integral += CB_RDP_ORDERS[k] == floor(CB_RDP_ORDERS[k]);
  assert_int_equal(integral, 9);
}

/* Conversion: rows 21 and 22. */
static void test_conversion(void **state) {
  (void)state;
  double orders[31], rdp[31], eps, alpha;
  for (int k = 0; k < 31; k++)
    orders[k] = 2 + k, rdp[k] = 1.1;
  cb_rdp_to_eps(orders, rdp, 31, 1e-5, &eps, &alpha);
  CHECK_REL(eps, 1.32783806176, 1e-11);
  assert_true(alpha == 32);

  int n = 99000;
  double *o = malloc((size_t)n * sizeof *o);
  assert_non_null(o);
  for (int k = 0; k < n; k++)
    o[k] = 1.0 + k / 1000.0;
  seg g = {1, 4.530877117, 1};
  eps = eps_custom(&g, 1, o, n, 1e-6, &alpha);
  assert_true(fabs(eps - 1.0) < 5e-8);
  assert_true(fabs(alpha - 21.985) < 0.0015);
  free(o);

  /* All orders infinite: inf and no order; negative epsilon clamps to 0. */
  double inf2[2] = {INFINITY, INFINITY}, o2[2] = {2, 3}, zero2[2] = {0, 0};
  cb_rdp_to_eps(o2, inf2, 2, 1e-5, &eps, &alpha);
  assert_true(isinf(eps) && isnan(alpha));
  cb_rdp_to_eps(o2, zero2, 2, 0.9, &eps, &alpha);
  assert_true(eps == 0);
}

/* End-to-end rows of 5.1 with their own order lists, conversions and step rules. */
static void test_end_to_end(void **state) {
  (void)state;
  double alpha, eps;
  /* Row 1: Opacus test_rdp_accountant. */
  CHECK_REL(eps_opacus(0.04, 1.5, 2250, 1e-5, &alpha), 7.3291111714387, 1e-9);
  assert_true(alpha == 3.9);
  /* Row 2: Opacus doctest, orders 2..32. */
  double o32[31];
  for (int k = 0; k < 31; k++)
    o32[k] = 2 + k;
  seg r2[] = {{1e-5, 1.0, 10}, {1e-4, 3.0, 4}};
  CHECK_REL(eps_custom(r2, 2, o32, 31, 1e-5, &alpha), 0.3363440634, 1e-9);
  assert_true(alpha == 23);
  /* Row 5 (variant S), TF CLI orders, q = 1024/1e8, sigma 0.1: huge values and
   * the asymptotic log_erfc branch. */
  double tf[72];
  int nt = 0;
  const double head[] = {1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5};
  for (int k = 0; k < 10; k++)
    tf[nt++] = head[k];
  for (int a = 5; a <= 63; a++)
    tf[nt++] = a;
  tf[nt++] = 128, tf[nt++] = 256, tf[nt++] = 512;
  seg r5 = {1024 / 1e8, 0.1, 976563};
  CHECK_REL(eps_custom(&r5, 1, tf, nt, 1e-7, &alpha), 5907982.31138195, 1e-9);
  assert_true(alpha == 1.25);
  /* Rows 6-11 with dp_accounting's orders (variant S column where they differ). */
  double dp[160];
  int nd = dpacc_orders(dp);
  seg r6 = {0.01, 0.7, 120}, r7 = {0.01, 0.35, 120}, r8 = {1, 0.7, 2}, r9 = {1, 0.35, 2};
  seg r10 = {64.0 / 10000, 1.0, 782}, r11 = {1, 1.0, 5};
  CHECK_REL(eps_custom(&r6, 1, dp, nd, 1e-5, &alpha), 3.2391922, 1e-7);
  CHECK_REL(eps_custom(&r7, 1, dp, nd, 1e-5, &alpha), 22.5970358, 1e-7);
  assert_true(alpha == 1.6);
  CHECK_REL(eps_custom(&r8, 1, dp, nd, 1e-5, &alpha), 10.8602036, 1e-7);
  assert_true(alpha == 3.3);
  CHECK_REL(eps_custom(&r9, 1, dp, nd, 1e-5, &alpha), 26.2880374, 1e-7);
  assert_true(fabs(eps_custom(&r10, 1, dp, nd, 1e-6, &alpha) - 1.616) <
              5e-4); /* D value, 3 places */
  assert_true(alpha == 9.3);
  assert_true(fabs(eps_custom(&r11, 1, dp, nd, 1e-6, &alpha) - 13.376) < 5e-4);
  /* Rows 12-18: Opacus conversion (O) and the old Mironov one (M) that the
   * published tables used, Opacus's orders. */
  static const double om[][7] = {
      /* q, sigma, T, O, alpha_O, M, alpha_M (0 = not given) */
      {256.0 / 60000, 1.1, 14063, 2.5966555, 8.1, 3.0083810, 8.8},
      {256.0 / 60000, 1.3, 3516, 0.9545640, 0, 1.1922644, 17},
      {0.004, 1.3, 3750, 0.9220489, 0, 1.1597494, 17},
      {0.004, 1.1, 15000, 2.5028709, 0, 2.9050453, 0},
      {0.004, 0.7, 11250, 6.0925352, 0, 6.8588663, 0},
      {0.01, 4.0, 10000, 1.0354901, 17, 1.2585747, 20},
  };
  for (size_t i = 0; i < sizeof om / sizeof om[0]; i++) {
    eps = eps_opacus(om[i][0], om[i][1], (long long)om[i][2], 1e-5, &alpha);
    CHECK_REL(eps, om[i][3], 2e-7);
    if (om[i][4] != 0) assert_true(alpha == om[i][4]);
    seg s = {om[i][0], om[i][1], (long long)om[i][2]};
    eps = eps_mironov(&s, CB_RDP_ORDERS, CB_RDP_N_ORDERS, 1e-5, &alpha);
    CHECK_REL(eps, om[i][5], 2e-7);
    if (om[i][6] != 0) assert_true(alpha == om[i][6]);
  }
  /* Row 19 and the RDP column of the RDP/PRV/GDP comparison table. */
  CHECK_REL(eps_opacus(0.2, 3.0, 50, 1.0 / 48000, &alpha), 2.1690406, 1e-7);
  assert_true(alpha == 8.4);
  static const double t[][5] = {
      {0.001, 0.8, 100, 1e-6, 1.3710669},   {0.001, 1.5, 1000, 1e-6, 0.3338018},
      {0.05, 1.5, 1000, 1e-6, 6.6678144},   {0.2, 2.0, 100, 1e-6, 6.1228193},
      {0.001, 3.0, 50000, 1e-6, 0.3253275}, {0.05, 3.0, 20000, 1e-6, 14.8152019},
      {0.04, 1.5, 2249, 1e-5, 7.3272780},   {0.01, 1.0, 1000, 1e-5, 2.1013653},
      {0.01, 1.0, 10000, 1e-5, 6.7127383},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    CHECK_REL(eps_opacus(t[i][0], t[i][1], (long long)t[i][2], t[i][3], &alpha), t[i][4], 2e-7);
}

/* Seed-study regime (q = 1/7, sigma 0.3-1.0): the optimum sits at small
 * fractional orders that need thousands of series terms; Opacus's values. */
static void test_large_epsilon(void **state) {
  (void)state;
  double alpha;
  CHECK_REL(eps_opacus(1.0 / 7, 0.5, 700, 1e-5, &alpha), 156.98882177948138, 1e-9);
  assert_true(alpha == 1.2);
  CHECK_REL(eps_opacus(1.0 / 7, 0.3, 700, 1e-5, &alpha), 575.9834589912505, 1e-9);
  assert_true(alpha == 1.1);
  CHECK_REL(eps_opacus(0.1, 0.7, 10000, 1e-5, &alpha), 314.47820512656966, 1e-9);
}

/* Exposes the RDP vector cache: repeated and interleaved queries give the
 * same numbers as fresh ones. */
static void test_cache(void **state) {
  (void)state;
  double a[CB_RDP_N_ORDERS], b[CB_RDP_N_ORDERS];
  cb_rdp_default(0.04, 1.5, a);
  for (int i = 0; i < 40; i++) { /* more (q, sigma) pairs than slots */
    double tmp[CB_RDP_N_ORDERS];
    cb_rdp_default(0.001 * (i + 1), 1.0 + i * 0.01, tmp);
    assert_true(tmp[20] == cb_rdp_order(0.001 * (i + 1), 1.0 + i * 0.01, CB_RDP_ORDERS[20]));
  }
  cb_rdp_default(0.04, 1.5, b);
  for (int k = 0; k < CB_RDP_N_ORDERS; k++)
    assert_true(a[k] == b[k]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_log_helpers),
      cmocka_unit_test(test_log_a_reference),
      cmocka_unit_test(test_log_a_quadrature),
      cmocka_unit_test(test_compute_rdp),
      cmocka_unit_test(test_default_orders),
      cmocka_unit_test(test_conversion),
      cmocka_unit_test(test_end_to_end),
      cmocka_unit_test(test_large_epsilon),
      cmocka_unit_test(test_cache),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
