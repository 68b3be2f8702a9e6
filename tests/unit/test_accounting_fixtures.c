/* The accountants against golden values produced by Opacus, dp_accounting and
 * Microsoft's prv_accountant (tests/gen/gen_accounting_fixtures.py ->
 * tests/fixtures/accounting_golden.txt). */
#include "core/privacy/accountant.h"
#include "core/privacy/gdp.h"
#include "core/privacy/rdp.h"
#include "tests/unit/support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOK 64

typedef struct {
  char kind[16];
  char *tok[MAX_TOK];
  int n;
  int line;
} record;

/* Reads every record of the fixture file; returns how many. */
static int load(record **out) {
  const char *path = tst_src_path("tests/fixtures/accounting_golden.txt");
  FILE *f = fopen(path, "r");
  if (!f) fail_msg("cannot open %s", path);
  record *r = NULL;
  int n = 0, cap = 0, line = 0;
  char buf[4096];
  while (fgets(buf, sizeof buf, f)) {
    line++;
    if (buf[0] == '#' || buf[0] == '\n') continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 256;
      r = realloc(r, (size_t)cap * sizeof *r);
      assert_non_null(r);
    }
    record *rec = &r[n++];
    memset(rec, 0, sizeof *rec);
    rec->line = line;
    char *save = NULL, *t = strtok_r(buf, " \n", &save);
    assert_non_null(t);
    snprintf(rec->kind, sizeof rec->kind, "%s", t);
    while ((t = strtok_r(NULL, " \n", &save)) && rec->n < MAX_TOK)
      rec->tok[rec->n++] = strdup(t);
  }
  fclose(f);
  *out = r;
  return n;
}

static void free_records(record *r, int n) {
  for (int i = 0; i < n; i++)
    for (int k = 0; k < r[i].n; k++)
      free(r[i].tok[k]);
  free(r);
}

static double D(const record *r, int k) {
  assert_true(k < r->n);
  return strtod(r->tok[k], NULL);
}

/* Builds the history stored from token k on: n {sigma q steps}*n. */
static int history_at(const record *r, int k, cb_history *h) {
  int n = (int)D(r, k);
  cb_history_init(h);
  for (int i = 0; i < n; i++)
    assert_int_equal(
        cb_history_add(h, D(r, k + 1 + 3 * i), D(r, k + 2 + 3 * i), (long long)D(r, k + 3 + 3 * i)),
        0);
  return k + 1 + 3 * n;
}

static void check_rel(const record *r, const char *what, double got, double want, double rtol,
                      double atol) {
  double d = fabs(got - want);
  if (!(d <= atol + rtol * fabs(want)))
    fail_msg("fixture line %d (%s): %s = %.17g, expected %.17g (rtol %g, atol %g)", r->line,
             r->kind, what, got, want, rtol, atol);
}

static int count_kind(const record *r, int n, const char *kind) {
  int c = 0;
  for (int i = 0; i < n; i++)
    c += strcmp(r[i].kind, kind) == 0;
  return c;
}

/* Opacus's per-order values (variant S). Both series stop once the terms are
 * e^-30 below the sum (about 1e-13 absolute in log A; Opacus: e^-30 absolute),
 * so the tolerance has an absolute part of that size in log A = (a-1) rdp. A
 * capped order would be +inf; none of these may be. */
static void test_rdp_orders(void **state) {
  (void)state;
  record *r;
  int n = load(&r), seen = 0, capped = 0;
  for (int i = 0; i < n; i++) {
    if (strcmp(r[i].kind, "rdp_order") != 0) continue;
    double q = D(&r[i], 0), sigma = D(&r[i], 1), a = D(&r[i], 2), want = D(&r[i], 3);
    double got = cb_rdp_order(q, sigma, a);
    seen++;
    if (isinf(got)) capped++;
    check_rel(&r[i], "rdp", got, want, 1e-9, 5e-13 / (a - 1));
  }
  assert_true(seen >= 300);
  assert_int_equal(capped, 0);
  free_records(r, n);
}

static void test_rdp_integer_orders(void **state) {
  (void)state;
  record *r;
  int n = load(&r);
  assert_true(count_kind(r, n, "rdp_int") >= 40);
  for (int i = 0; i < n; i++) {
    if (strcmp(r[i].kind, "rdp_int") != 0) continue;
    double got = cb_rdp_order(D(&r[i], 0), D(&r[i], 1), D(&r[i], 2));
    /* Log-sum-exp rounding: ~1e-16 absolute in log A. */
    check_rel(&r[i], "rdp", got, D(&r[i], 3), 1e-10, 1e-15);
  }
  free_records(r, n);
}

static void test_rdp_epsilon(void **state) {
  (void)state;
  record *r;
  int n = load(&r);
  assert_true(count_kind(r, n, "rdp_eps") >= 50);
  for (int i = 0; i < n; i++) {
    if (strcmp(r[i].kind, "rdp_eps") != 0) continue;
    cb_history h;
    history_at(&r[i], 3, &h);
    cb_eps_result res;
    assert_int_equal(cb_epsilon(&h, CB_ACC_RDP, D(&r[i], 0), &res), 0);
    check_rel(&r[i], "epsilon", res.epsilon, D(&r[i], 1), 1e-9, 1e-12);
    check_rel(&r[i], "alpha", res.alpha, D(&r[i], 2), 0, 0);
    cb_history_free(&h);
  }
  free_records(r, n);
}

/* Opacus's PRV test tolerance is 4 places; ours agrees far better, but the
 * reference's mean integral (scipy quad, ~1e-8) limits how close we can be. */
static void test_prv_epsilon(void **state) {
  (void)state;
  record *r;
  int n = load(&r);
  assert_true(count_kind(r, n, "prv_eps") >= 8);
  for (int i = 0; i < n; i++) {
    if (strcmp(r[i].kind, "prv_eps") != 0) continue;
    cb_history h;
    history_at(&r[i], 2, &h);
    cb_eps_result res;
    assert_int_equal(cb_epsilon(&h, CB_ACC_PRV, D(&r[i], 0), &res), 0);
    if (res.accountant != CB_ACC_PRV) fail_msg("line %d: PRV fell back: %s", r[i].line, res.note);
    check_rel(&r[i], "epsilon", res.epsilon, D(&r[i], 1), 0, 5e-5);
    cb_history_free(&h);
  }
  free_records(r, n);
}

static void test_prv_microsoft(void **state) {
  (void)state;
  record *r;
  int n = load(&r);
  assert_true(count_kind(r, n, "prv_ms") >= 3);
  for (int i = 0; i < n; i++) {
    if (strcmp(r[i].kind, "prv_ms") != 0) continue;
    cb_segment s = {D(&r[i], 2), D(&r[i], 3), (long long)D(&r[i], 4)};
    cb_history h = {&s, 1, 1};
    cb_eps_result res;
    assert_int_equal(cb_epsilon(&h, CB_ACC_PRV, D(&r[i], 0), &res), 0);
    assert_int_equal(res.accountant, CB_ACC_PRV);
    check_rel(&r[i], "epsilon", res.epsilon, D(&r[i], 1), 0, 5e-5);
  }
  free_records(r, n);
}

static void test_gdp_epsilon(void **state) {
  (void)state;
  record *r;
  int n = load(&r);
  assert_true(count_kind(r, n, "gdp_eps") >= 8);
  for (int i = 0; i < n; i++) {
    if (strcmp(r[i].kind, "gdp_eps") != 0) continue;
    cb_segment s = {D(&r[i], 2), D(&r[i], 3), (long long)D(&r[i], 4)};
    cb_history h = {&s, 1, 1};
    cb_eps_result res;
    assert_int_equal(cb_epsilon(&h, CB_ACC_GDP, D(&r[i], 0), &res), 0);
    /* brentq's xtol is 2e-12. */
    check_rel(&r[i], "epsilon", res.epsilon, D(&r[i], 1), 1e-10, 1e-11);
    assert_false(res.is_guarantee);
  }
  free_records(r, n);
}

/* The bisection visits dyadic fractions of 20, so equal epsilons along the
 * way give bit-identical sigmas. */
static void test_sigma_search(void **state) {
  (void)state;
  record *r;
  int n = load(&r);
  assert_true(count_kind(r, n, "sigma") >= 20);
  for (int i = 0; i < n; i++) {
    if (strcmp(r[i].kind, "sigma") != 0) continue;
    cb_accountant acc;
    assert_int_equal(cb_accountant_parse(r[i].tok[0], &acc), 0);
    double delta = D(&r[i], 1), target = D(&r[i], 2), q = D(&r[i], 3), want = D(&r[i], 5);
    long long steps = (long long)D(&r[i], 4);
    cb_sigma_result s;
    assert_int_equal(cb_sigma_search(q, steps, delta, target, acc, &s), 0);
    check_rel(&r[i], "sigma", s.sigma, want, 0, 0);
    assert_true(s.eps.epsilon <= target);
    assert_true(target - s.eps.epsilon <= CB_SIGMA_TOLERANCE);
  }
  free_records(r, n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rdp_orders),    cmocka_unit_test(test_rdp_integer_orders),
      cmocka_unit_test(test_rdp_epsilon),   cmocka_unit_test(test_prv_epsilon),
      cmocka_unit_test(test_prv_microsoft), cmocka_unit_test(test_gdp_epsilon),
      cmocka_unit_test(test_sigma_search),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
