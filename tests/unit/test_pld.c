/* PLD accountant: dp_accounting's PLDAccountant values
 * (tests/gen/gen_pld_fixtures.py -> tests/fixtures/pld_golden.txt), the PRV
 * bounds around it, exact Gaussian values below it, monotonicity, split and
 * reordered histories, delta/epsilon inversion, and its fallbacks. */
#include "core/privacy/accountant.h"
#include "core/privacy/gdp.h"
#include "core/privacy/pld.h"
#include "core/privacy/prv.h"
#include "tests/unit/support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SEG 4
#define RTOL 0.005 /* the bar: 0.5% relative */

/* Under AddressSanitizer the four sigma = 0.3 study cases (5-8 million point
 * transforms, a few seconds each in Release) would take minutes; the
 * sanitizer build checks every other case. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

typedef struct {
  int line;
  int is_delta; /* pld_delta (x = eps, y = delta) or pld_eps (x = delta, y = eps) */
  char tag[16]; /* study, large, grid, hetero */
  double x, y;
  cb_segment seg[MAX_SEG];
  int nseg;
  double got; /* our epsilon (pld_eps) or delta (pld_delta), NaN when skipped */
} fixture;

static int heavy(const fixture *r) {
  return SANITIZED && r->seg[0].sigma < 0.5;
}

static int load(fixture **out) {
  const char *path = tst_src_path("tests/fixtures/pld_golden.txt");
  FILE *f = fopen(path, "r");
  if (!f) fail_msg("cannot open %s", path);
  fixture *v = NULL;
  int n = 0, line = 0;
  char buf[1024];
  while (fgets(buf, sizeof buf, f)) {
    line++;
    if (buf[0] == '#' || buf[0] == '\n') continue;
    v = realloc(v, (size_t)(n + 1) * sizeof *v);
    assert_non_null(v);
    fixture *r = &v[n++];
    memset(r, 0, sizeof *r);
    r->line = line;
    char kind[16];
    int used = 0;
    if (sscanf(buf, "%15s %15s %lf %lf %d%n", kind, r->tag, &r->x, &r->y, &r->nseg, &used) != 5 ||
        r->nseg < 1 || r->nseg > MAX_SEG)
      fail_msg("%s:%d: malformed record", path, line);
    r->is_delta = strcmp(kind, "pld_delta") == 0;
    r->got = NAN;
    if (!r->is_delta && strcmp(kind, "pld_eps") != 0) fail_msg("%s:%d: kind %s", path, line, kind);
    const char *p = buf + used;
    for (int i = 0; i < r->nseg; i++) {
      int k = 0;
      if (sscanf(p, "%lf %lf %lld%n", &r->seg[i].sigma, &r->seg[i].q, &r->seg[i].steps, &k) != 3)
        fail_msg("%s:%d: malformed segment %d", path, line, i);
      p += k;
    }
  }
  fclose(f);
  *out = v;
  return n;
}

static cb_history hist_of(fixture *r) {
  return (cb_history){r->seg, r->nseg, r->nseg};
}

/* The fixture with our values, computed once for every test that uses them. */
static fixture *g_fix;
static int g_nfix;

static double pld_eps(const cb_history *h, double delta, cb_pld_info *info) {
  double e;
  char why[256] = "";
  if (cb_pld_epsilon(h, delta, 0, &e, info, why, sizeof why))
    fail_msg("PLD not computable: %s", why);
  return e;
}

static double pld_eps1(double sigma, double q, long long steps, double delta) {
  cb_segment s = {sigma, q, steps};
  cb_history h = {&s, 1, 1};
  return pld_eps(&h, delta, NULL);
}

static void test_fixture_epsilon(void **state) {
  (void)state;
  fixture *v = g_fix;
  int seen = 0, study = 0, large = 0, hetero = 0;
  for (int i = 0; i < g_nfix; i++) {
    if (v[i].is_delta || heavy(&v[i])) continue;
    cb_history h = hist_of(&v[i]);
    cb_pld_info info;
    double got = v[i].got = pld_eps(&h, v[i].x, &info), want = v[i].y;
    if (!(fabs(got - want) <= RTOL * want + 1e-12))
      fail_msg("pld_golden.txt:%d: epsilon %.9g, dp_accounting %.9g", v[i].line, got, want);
    /* The reported value is the worse direction. */
    assert_true(got == fmax(info.eps_remove, info.eps_add));
    seen++;
    study += strcmp(v[i].tag, "study") == 0;
    large += strcmp(v[i].tag, "large") == 0;
    hetero += strcmp(v[i].tag, "hetero") == 0;
  }
  assert_int_equal(study, SANITIZED ? 12 : 16);
  assert_true(large >= 3 && hetero >= 3 && seen >= 85);
}

static void test_fixture_delta(void **state) {
  (void)state;
  fixture *v = g_fix;
  int seen = 0;
  for (int i = 0; i < g_nfix; i++) {
    if (!v[i].is_delta) continue;
    cb_history h = hist_of(&v[i]);
    double got;
    char why[256] = "";
    if (cb_pld_delta(&h, v[i].x, 0, &got, NULL, why, sizeof why)) fail_msg("%s", why);
    /* Below 1e-13 both tools are at the level of their tail truncation
     * (1e-15 per composition) and FFT rounding. */
    if (!(fabs(got - v[i].y) <= RTOL * v[i].y + 1e-13))
      fail_msg("pld_golden.txt:%d: delta(%g) %.9g, dp_accounting %.9g", v[i].line, v[i].x, got,
               v[i].y);
    seen++;
  }
  assert_true(seen >= 20);
}

/* PLD is at least as tight as PRV's upper bound and never below its lower
 * bound, on the study's and the large-step cases. */
static void test_between_prv_bounds(void **state) {
  (void)state;
  fixture *v = g_fix;
  int seen = 0;
  for (int i = 0; i < g_nfix; i++) {
    if (v[i].is_delta || heavy(&v[i]) || (strcmp(v[i].tag, "study") && strcmp(v[i].tag, "large")))
      continue;
    cb_history h = hist_of(&v[i]);
    cb_prv_info p;
    char why[256];
    if (cb_prv_epsilon(&h, v[i].x, 0, 0, &p, why, sizeof why))
      fail_msg("pld_golden.txt:%d: PRV not computable: %s", v[i].line, why);
    double e = isnan(v[i].got) ? pld_eps(&h, v[i].x, NULL) : v[i].got;
    if (!(e <= p.eps_upper && e >= p.eps_lower))
      fail_msg("pld_golden.txt:%d: PLD %.9g outside PRV [%.9g, %.9g]", v[i].line, e, p.eps_lower,
               p.eps_upper);
    seen++;
  }
  assert_true(seen >= (SANITIZED ? 16 : 20));
}

/* q = 1 is the plain Gaussian mechanism, exact epsilon known (mu-GDP with
 * mu = sqrt(T)/sigma): the pessimistic PLD is never below it, and close. A
 * coarser grid is looser but still above. */
static void test_gaussian_exact(void **state) {
  (void)state;
  static const double t[][3] = {{1.0, 10, 1e-5}, {0.7, 2, 1e-5}, {2.0, 300, 1e-6}, {5, 1, 1e-8}};
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    double exact = cb_gdp_eps_from_mu(sqrt(t[i][1]) / t[i][0], t[i][2]);
    cb_segment s = {t[i][0], 1.0, (long long)t[i][1]};
    cb_history h = {&s, 1, 1};
    double fine = pld_eps(&h, t[i][2], NULL), coarse;
    char why[256];
    assert_int_equal(cb_pld_epsilon(&h, t[i][2], 1e-2, &coarse, NULL, why, sizeof why), 0);
    if (!(fine >= exact && fine <= exact + 1e-3 && coarse >= fine && coarse >= exact))
      fail_msg("case %zu: exact %.9g, PLD(1e-4) %.9g, PLD(1e-2) %.9g", i, exact, fine, coarse);
  }
}

static void test_monotone(void **state) {
  (void)state;
  double prev = INFINITY;
  for (double sigma = 0.6; sigma <= 2.01; sigma += 0.35) { /* more noise, less epsilon */
    double e = pld_eps1(sigma, 0.05, 500, 1e-5);
    assert_true(e < prev);
    prev = e;
  }
  prev = 0;
  for (long long T = 1; T <= 10000; T *= 10) { /* more steps, more epsilon */
    double e = pld_eps1(1.0, 0.05, T, 1e-5);
    assert_true(e > prev);
    prev = e;
  }
  prev = 0;
  for (double q = 0.01; q <= 1.0; q *= 3) { /* larger batches, more epsilon */
    double e = pld_eps1(1.0, q, 100, 1e-5);
    assert_true(e > prev);
    prev = e;
  }
  prev = INFINITY;
  for (double d = 1e-10; d < 0.5; d *= 100) { /* larger delta, less epsilon */
    double e = pld_eps1(1.0, 0.05, 500, d);
    assert_true(e < prev);
    prev = e;
  }
}

/* A history split into segments (unmerged) or reordered composes the same. */
static void test_split_and_order(void **state) {
  (void)state;
  cb_segment one = {1.1, 0.02, 3000};
  cb_segment split[3] = {{1.1, 0.02, 1000}, {1.1, 0.02, 1500}, {1.1, 0.02, 500}};
  cb_history h1 = {&one, 1, 1}, h3 = {split, 3, 3};
  double a = pld_eps(&h1, 1e-5, NULL), b = pld_eps(&h3, 1e-5, NULL);
  if (!(fabs(a - b) <= 1e-9 * a)) fail_msg("split %.12g vs whole %.12g", b, a);

  cb_segment mix[3] = {{2.0, 0.01, 1000}, {0.9, 0.03, 400}, {1.4, 0.02, 2000}};
  cb_segment rev[3] = {mix[2], mix[0], mix[1]};
  cb_history hm = {mix, 3, 3}, hr = {rev, 3, 3};
  double c = pld_eps(&hm, 1e-6, NULL), d = pld_eps(&hr, 1e-6, NULL);
  if (!(fabs(c - d) <= 1e-9 * c)) fail_msg("order: %.12g vs %.12g", c, d);
  /* Heterogeneous lies between its parts' bounds: adding steps adds epsilon. */
  cb_history first = {mix, 1, 1};
  assert_true(c > pld_eps(&first, 1e-6, NULL));
  /* Segments with q = 0 or no steps spend nothing. */
  cb_segment idle[3] = {{1.1, 0.02, 3000}, {0.1, 0.0, 100}, {0.5, 0.3, 0}};
  cb_history hi = {idle, 3, 3};
  assert_true(pld_eps(&hi, 1e-5, NULL) == a);
}

/* get_delta and get_epsilon invert each other: delta(eps(d)) <= d, and a
 * slightly smaller epsilon would need a larger delta. */
static void test_inversion(void **state) {
  (void)state;
  static const double t[][4] = {{1.0, 0.04, 1000, 1e-5},
                                {0.7, 1.0 / 7, 700, 1e-5},
                                {2.0, 0.01, 100000, 1e-8},
                                {1.5, 1.0, 10, 1e-6},
                                {5.0, 0.001, 1, 1e-5}};
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    cb_segment s = {t[i][0], t[i][1], (long long)t[i][2]};
    cb_history h = {&s, 1, 1};
    double e = pld_eps(&h, t[i][3], NULL), d_at, d_below;
    assert_int_equal(cb_delta_pld(&h, e, &d_at), 0);
    if (e > 0.01) {
      assert_int_equal(cb_delta_pld(&h, e * 0.999, &d_below), 0);
      if (!(d_at <= t[i][3] * (1 + 1e-9) && d_at >= t[i][3] * 0.99 && d_below > t[i][3]))
        fail_msg("case %zu: eps %.9g, delta(eps) %.6g, delta(0.999 eps) %.6g, target %g", i, e,
                 d_at, d_below, t[i][3]);
    } else {
      assert_true(d_at <= t[i][3] * (1 + 1e-9));
    }
  }
}

static void test_accountant_and_fallbacks(void **state) {
  (void)state;
  cb_segment s = {1.0, 0.04, 1000};
  cb_history h = {&s, 1, 1};
  cb_eps_result r;
  assert_int_equal(cb_epsilon(&h, CB_ACC_PLD, 1e-5, &r), 0);
  assert_true(r.accountant == CB_ACC_PLD && r.requested == CB_ACC_PLD && r.is_guarantee);
  assert_true(isnan(r.alpha) && strstr(r.note, "PLD") != NULL);
  assert_true(fabs(r.epsilon - pld_eps1(1.0, 0.04, 1000, 1e-5)) == 0);
  cb_accountant a;
  assert_int_equal(cb_accountant_parse("pld", &a), 0);
  assert_int_equal(a, CB_ACC_PLD);
  assert_string_equal(cb_accountant_name(CB_ACC_PLD), "pld");
  /* sigma = 0: no privacy; PLD says so and RDP's (infinite) value stands. */
  cb_segment z = {0.0, 0.04, 10};
  cb_history hz = {&z, 1, 1};
  assert_int_equal(cb_epsilon(&hz, CB_ACC_PLD, 1e-5, &r), 0);
  assert_true(r.requested == CB_ACC_PLD && r.accountant == CB_ACC_RDP);
  assert_non_null(strstr(r.note, "PLD not computable"));
  /* A grid beyond the limit falls back too. */
  cb_segment tiny = {0.05, 0.5, 100000};
  cb_history ht = {&tiny, 1, 1};
  assert_int_equal(cb_epsilon(&ht, CB_ACC_PLD, 1e-5, &r), 0);
  assert_true(r.accountant == CB_ACC_RDP && strstr(r.note, "PLD not computable"));
  /* So many steps that grid indices would overflow: a fallback, no UB. */
  cb_segment huge = {1.0, 0.5, 1LL << 52};
  cb_history hh = {&huge, 1, 1};
  assert_int_equal(cb_epsilon(&hh, CB_ACC_PLD, 1e-5, &r), 0);
  assert_true(r.accountant == CB_ACC_RDP && strstr(r.note, "too many for a PLD grid"));
  /* Nothing spent. */
  cb_history empty;
  cb_history_init(&empty);
  assert_int_equal(cb_epsilon(&empty, CB_ACC_PLD, 1e-5, &r), 0);
  assert_true(r.epsilon == 0);
  double d;
  assert_int_equal(cb_delta_pld(&empty, 1.0, &d), 0);
  assert_true(d == 0);
  assert_int_equal(cb_delta_pld(&h, -1.0, &d), -1);
  /* Calibration: the returned sigma's PLD epsilon is under the target, and
   * PLD (tighter than PRV's upper bound) needs no more noise than PRV. */
  cb_sigma_result sp, sv;
  assert_int_equal(cb_sigma_search(1.0 / 7, 700, 1e-5, 8.0, CB_ACC_PLD, &sp), 0);
  assert_int_equal(cb_sigma_search(1.0 / 7, 700, 1e-5, 8.0, CB_ACC_PRV, &sv), 0);
  assert_true(sp.eps.accountant == CB_ACC_PLD && sp.eps.epsilon <= 8.0 && sp.eps.epsilon > 7.99);
  assert_true(sp.sigma <= sv.sigma);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fixture_epsilon),    cmocka_unit_test(test_fixture_delta),
      cmocka_unit_test(test_between_prv_bounds), cmocka_unit_test(test_gaussian_exact),
      cmocka_unit_test(test_monotone),           cmocka_unit_test(test_split_and_order),
      cmocka_unit_test(test_inversion),          cmocka_unit_test(test_accountant_and_fallbacks),
  };
  g_nfix = load(&g_fix);
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  free(g_fix);
  return rc;
}
