/* The one-run audit's p-value and epsilon lower bound. See audit_bound.h. */
#include "core/privacy/audit_bound.h"

#include "core/base/error.h"

#include <math.h>

/* log P[Binomial(r, q) = k] with log q and log(1 - q) given, so that q close
 * to 1 (large eps) keeps its precision. */
static double log_pmf(int r, int k, double lq, double l1q) {
  return lgamma(r + 1.0) - lgamma(k + 1.0) - lgamma(r - k + 1.0) + k * lq + (r - k) * l1q;
}

double cb_audit_p_value(int m, int r, int v, double eps, double delta) {
  if (!(0 <= v && v <= r && r <= m) || !(eps >= 0) || !(delta >= 0 && delta <= 1)) return NAN;
  /* q = 1 / (1 + e^-eps): the accuracy of eps-DP randomised response. */
  double lq = -log1p(exp(-eps));
  double l1q = -eps + lq;
  double beta = 0.0;
  /* Small terms first: the upper tail sums from its far end. */
  for (int k = r; k >= v; k--)
    beta += exp(log_pmf(r, k, lq, l1q));
  double alpha = 0.0;
  if (delta > 0) {
    double below = 0.0; /* P[v - i <= Binomial < v] */
    for (int i = 1; i <= v; i++) {
      below += exp(log_pmf(r, v - i, lq, l1q));
      if (below / i > alpha) alpha = below / i;
    }
  }
  double p = beta + alpha * delta * 2.0 * m;
  return p < 1.0 ? p : 1.0;
}

int cb_audit_epsilon_lb(int m, int r, int v, double delta, double confidence, double *eps) {
  if (!(0 <= v && v <= r && r <= m))
    return cb_error("audit: need 0 <= correct (%d) <= guesses (%d) <= canaries (%d)", v, r, m);
  if (!(delta >= 0 && delta <= 1)) return cb_error("audit: delta %g is not in [0, 1]", delta);
  if (!(confidence > 0 && confidence < 1))
    return cb_error("audit: confidence %g is not in (0, 1)", confidence);
  double alpha = 1.0 - confidence;
  *eps = 0.0;
  if (!(cb_audit_p_value(m, r, v, 0.0, delta) < alpha)) return 0;
  /* p grows with eps (beta -> 1 as q -> 1, whenever v <= r); find a
   * bracket [lo, hi] with p(lo) < alpha <= p(hi), then bisect. */
  double lo = 0.0, hi = 1.0;
  while (cb_audit_p_value(m, r, v, hi, delta) < alpha) {
    lo = hi;
    hi *= 2.0;
    if (hi > 1e4) { /* every guess right and r huge: eps beyond any use */
      *eps = lo;
      return 0;
    }
  }
  while (hi - lo > 1e-10) {
    double mid = 0.5 * (lo + hi);
    if (cb_audit_p_value(m, r, v, mid, delta) < alpha)
      lo = mid;
    else
      hi = mid;
  }
  *eps = lo;
  return 0;
}
