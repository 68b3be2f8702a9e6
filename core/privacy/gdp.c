/* GDP / CLT accountant: see gdp.h. */
#include "core/privacy/gdp.h"

#include "core/privacy/rdp.h"

#include <math.h>

double cb_gdp_mu(const cb_history *h) {
  double m2 = 0.0;
  for (int i = 0; i < h->n; i++) {
    const cb_segment *s = &h->seg[i];
    if (s->steps == 0 || s->q == 0) continue;
    if (s->sigma == 0) return INFINITY;
    m2 += (double)s->steps * s->q * s->q * expm1(1.0 / (s->sigma * s->sigma));
  }
  return sqrt(m2);
}

/* log Phi(x) = log(erfc(-x / sqrt 2) / 2), accurate far into the left tail. */
static double log_phi(double x) {
  return cb_log_erfc(-x / M_SQRT2) - M_LN2;
}

double cb_gdp_delta(double eps, double mu) {
  if (mu == 0) return 0.0;
  double a = -eps / mu + mu / 2, b = -eps / mu - mu / 2;
  /* exp(eps) Phi(b) in log space: both factors leave double range for large eps. */
  return 0.5 * erfc(-a / M_SQRT2) - exp(eps + log_phi(b));
}

double cb_gdp_eps_from_mu(double mu, double delta) {
  if (!(mu >= 0)) return INFINITY; /* NaN */
  if (mu == 0) return 0.0;
  if (isinf(mu)) return INFINITY;
  if (cb_gdp_delta(0.0, mu) <= delta) return 0.0;
  double lo = 0.0, hi = 500.0;
  if (cb_gdp_delta(hi, mu) > delta) return INFINITY;
  /* delta(eps) decreases in eps; keep delta(lo) > delta >= delta(hi) and
   * return hi, the side that never understates epsilon. */
  for (int it = 0; it < 200 && hi - lo > 4 * 2.3e-16 * hi; it++) {
    double mid = 0.5 * (lo + hi);
    if (cb_gdp_delta(mid, mu) > delta)
      lo = mid;
    else
      hi = mid;
  }
  return hi;
}
