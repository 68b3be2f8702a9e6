/* RDP accountant: see rdp.h for the choices made and why. */
#include "core/privacy/rdp.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Built from 1 + x/10.0 like Opacus, which yields the same doubles as the
 * literals 1.1 ... 10.9; 11 is absent, then 12 ... 63. */
const double CB_RDP_ORDERS[CB_RDP_N_ORDERS] = {
#define T10(b)                                                                        \
  1 + (b + 1) / 10.0, 1 + (b + 2) / 10.0, 1 + (b + 3) / 10.0, 1 + (b + 4) / 10.0,     \
      1 + (b + 5) / 10.0, 1 + (b + 6) / 10.0, 1 + (b + 7) / 10.0, 1 + (b + 8) / 10.0, \
      1 + (b + 9) / 10.0, 1 + (b + 10) / 10.0
    T10(0),
    T10(10),
    T10(20),
    T10(30),
    T10(40),
    T10(50),
    T10(60),
    T10(70),
    T10(80),
    1 + 91 / 10.0,
    1 + 92 / 10.0,
    1 + 93 / 10.0,
    1 + 94 / 10.0,
    1 + 95 / 10.0,
    1 + 96 / 10.0,
    1 + 97 / 10.0,
    1 + 98 / 10.0,
    1 + 99 / 10.0,
#undef T10
    12,
    13,
    14,
    15,
    16,
    17,
    18,
    19,
    20,
    21,
    22,
    23,
    24,
    25,
    26,
    27,
    28,
    29,
    30,
    31,
    32,
    33,
    34,
    35,
    36,
    37,
    38,
    39,
    40,
    41,
    42,
    43,
    44,
    45,
    46,
    47,
    48,
    49,
    50,
    51,
    52,
    53,
    54,
    55,
    56,
    57,
    58,
    59,
    60,
    61,
    62,
    63};

double cb_log_add(double x, double y) {
  double lo = x < y ? x : y, hi = x < y ? y : x;
  if (lo == -INFINITY) return hi;
  return hi + log1p(exp(lo - hi));
}

double cb_log_sub(double x, double y) {
  if (!(x >= y)) return NAN;
  if (y == -INFINITY) return x;
  if (x == y) return -INFINITY;
  /* Python catches the overflow of expm1 and returns x; same here. */
  if (x - y > 709.0) return x;
  return y + log(expm1(x - y));
}

double cb_log_erfc(double x) {
  /* erfc(26) ~ 5.7e-296 is still a normal double; beyond, the asymptotic
   * series of log(erfc) (TF-Privacy's fallback) is accurate to ~1e-13. */
  if (x <= 26.0) return log(erfc(x));
  double r = 1.0 / (x * x);
  return -0.5 * log(M_PI) - log(x) - x * x - 0.5 * r + 0.625 * r * r - (37.0 / 24.0) * r * r * r +
         (353.0 / 64.0) * r * r * r * r;
}

/* log(e^x - 1) for x > 0, without overflow. */
static double log_expm1(double x) {
  return x > 36.0 ? x + log1p(-exp(-x)) : log(expm1(x));
}

/* Integer order: A = sum_{i=0}^{a} C(a,i) q^i (1-q)^(a-i) exp((i^2-i)/(2 sigma^2)).
 * Since the binomial weights sum to 1, A = 1 + B with
 * B = sum_{i>=2} C(a,i) q^i (1-q)^(a-i) expm1((i^2-i)/(2 sigma^2)), all terms
 * positive; log A = log1p(B) then keeps full relative accuracy when A is close
 * to 1 (Opacus's direct sum is only accurate to ~1e-16 absolute there). B is
 * an online log-sum-exp; the log binomial is updated incrementally, exact to a
 * few ulp for the orders used, and avoids lgamma per term. */
static double log_a_int(double q, double sigma, long long a) {
  double lq = log(q), l1q = log1p(-q), inv2s2 = 1.0 / (2.0 * sigma * sigma);
  double lc = log((double)a), m = -INFINITY, sum = 0.0; /* lc = log C(a, 1) */
  for (long long i = 2; i <= a; i++) {
    lc += log((double)(a - i + 1) / (double)i);
    double di = (double)i;
    double s = lc + di * lq + (double)(a - i) * l1q + log_expm1((di * di - di) * inv2s2);
    if (s > m) {
      sum = sum * exp(m - s) + 1.0;
      m = s;
    } else {
      sum += exp(s - m);
    }
  }
  if (m == -INFINITY) return 0.0; /* a < 2 */
  return cb_log_add(0.0, m + log(sum));
}

/* Fractional order: the two-sided series split at z0, summed in linear space
 * relative to the largest term seen (one exp per term instead of a log-add).
 * Returns log A with the signed sum (Opacus); falls back to the sum of
 * |terms| (an upper bound of A) when the signed halves are not clearly
 * positive, i.e. when cancellation has eaten the digits. +inf when the series
 * has not met the stopping rule within the cap. */
static double log_a_frac(double q, double sigma, double a, int *iters) {
  const double lq = log(q), l1q = log1p(-q), inv2s2 = 1.0 / (2.0 * sigma * sigma);
  const double z0 = sigma * sigma * log(1.0 / q - 1.0) + 0.5;
  const double rs2 = 1.0 / (M_SQRT2 * sigma), lhalf = -M_LN2;
  const double e30 = exp(-30.0);
  double ref = -INFINITY, acc0 = 0, acc1 = 0, abs0 = 0, abs1 = 0;
  double prev0 = -INFINITY, prev1 = -INFINITY, lc = 0.0, sign = 1.0;
  for (int i = 0; i < CB_RDP_FRAC_MAX_ITER; i++) {
    if (i > 0) {
      double f = a - (double)i + 1.0;
      if (f < 0) sign = -sign;
      lc += log(fabs(f) / (double)i);
    }
    double di = (double)i, j = a - di;
    double s0 =
        lc + di * lq + j * l1q + (di * di - di) * inv2s2 + lhalf + cb_log_erfc((di - z0) * rs2);
    double s1 = lc + j * lq + di * l1q + (j * j - j) * inv2s2 + lhalf + cb_log_erfc((z0 - j) * rs2);
    double smax = fmax(s0, s1);
    if (smax > ref) {
      double r = exp(ref - smax);
      acc0 *= r, acc1 *= r, abs0 *= r, abs1 *= r;
      ref = smax;
    }
    double e0 = exp(s0 - ref), e1 = exp(s1 - ref);
    acc0 += sign * e0, acc1 += sign * e1;
    abs0 += e0, abs1 += e1;
    /* dp_accounting's rule: past the peak and negligible against the total
     * (here the signed total, which is smaller, so the rule is stricter). */
    if (s0 < prev0 && s1 < prev1 && fmax(e0, e1) < (acc0 + acc1) * e30) {
      if (iters) *iters = i + 1;
      if (acc0 > 0 && acc1 > 0 && acc0 + acc1 >= 1e-3 * (abs0 + abs1))
        return ref + log(acc0 + acc1);
      return ref + log(abs0 + abs1);
    }
    prev0 = s0;
    prev1 = s1;
  }
  if (iters) *iters = CB_RDP_FRAC_MAX_ITER;
  return INFINITY;
}

double cb_rdp_log_a(double q, double sigma, double a, int *iters) {
  if (a == floor(a) && a < 9.0e15) {
    if (iters) *iters = (int)fmin(a + 1, 2e9);
    return log_a_int(q, sigma, (long long)a);
  }
  return log_a_frac(q, sigma, a, iters);
}

double cb_rdp_order(double q, double sigma, double a) {
  if (!(a > 1.0)) return NAN;
  if (q == 0) return 0.0;
  if (sigma == 0) return INFINITY;
  if (q == 1.0) return a / (2.0 * sigma * sigma);
  if (isinf(a)) return INFINITY;
  double r = cb_rdp_log_a(q, sigma, a, NULL) / (a - 1.0);
  /* A_a >= 1 by Jensen, so a negative value is rounding: report 0. */
  return r < 0 ? 0.0 : r;
}

/* ---- per-thread cache of single-step RDP vectors ---- */

#define CACHE_SLOTS 16
typedef struct {
  uint64_t qbits, sbits;
  unsigned long long used;
  int valid;
  double rdp[CB_RDP_N_ORDERS];
} cache_slot;

static _Thread_local cache_slot g_cache[CACHE_SLOTS];
static _Thread_local unsigned long long g_tick;

static uint64_t bits_of(double x) {
  uint64_t b;
  memcpy(&b, &x, sizeof b);
  return b;
}

void cb_rdp_default(double q, double sigma, double out[CB_RDP_N_ORDERS]) {
  uint64_t qb = bits_of(q), sb = bits_of(sigma);
  int victim = 0;
  for (int k = 0; k < CACHE_SLOTS; k++) {
    cache_slot *c = &g_cache[k];
    if (c->valid && c->qbits == qb && c->sbits == sb) {
      c->used = ++g_tick;
      memcpy(out, c->rdp, sizeof c->rdp);
      return;
    }
    if (!c->valid || c->used < g_cache[victim].used) victim = k;
    if (!c->valid) break;
  }
  cache_slot *c = &g_cache[victim];
  for (int k = 0; k < CB_RDP_N_ORDERS; k++)
    c->rdp[k] = cb_rdp_order(q, sigma, CB_RDP_ORDERS[k]);
  c->qbits = qb;
  c->sbits = sb;
  c->valid = 1;
  c->used = ++g_tick;
  memcpy(out, c->rdp, sizeof c->rdp);
}

void cb_rdp_history(const cb_history *h, double out[CB_RDP_N_ORDERS]) {
  double one[CB_RDP_N_ORDERS];
  for (int k = 0; k < CB_RDP_N_ORDERS; k++)
    out[k] = 0.0;
  for (int s = 0; s < h->n; s++) {
    const cb_segment *g = &h->seg[s];
    if (g->steps == 0 || g->q == 0) continue;
    cb_rdp_default(g->q, g->sigma, one);
    for (int k = 0; k < CB_RDP_N_ORDERS; k++)
      out[k] += (double)g->steps * one[k];
  }
}

void cb_rdp_to_eps(const double *orders, const double *rdp, int n, double delta, double *eps,
                   double *alpha) {
  double best = NAN, best_a = NAN;
  double ld = log(delta);
  for (int k = 0; k < n; k++) {
    double a = orders[k];
    double e = rdp[k] - (ld + log(a)) / (a - 1.0) + log((a - 1.0) / a);
    if (isnan(e)) continue;
    if (isnan(best) || e < best) {
      best = e;
      best_a = a;
    }
  }
  if (isnan(best) || best == INFINITY) {
    *eps = INFINITY;
    *alpha = NAN;
    return;
  }
  *eps = best < 0 ? 0.0 : best;
  *alpha = best_a;
}

void cb_rdp_epsilon(const cb_history *h, double delta, double *eps, double *alpha) {
  double rdp[CB_RDP_N_ORDERS];
  cb_rdp_history(h, rdp);
  cb_rdp_to_eps(CB_RDP_ORDERS, rdp, CB_RDP_N_ORDERS, delta, eps, alpha);
}
