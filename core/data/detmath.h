/* Deterministic exp, log, sin and cos for the synthetic data generator.
 *
 * libm implementations may differ in the last bit between C libraries and
 * versions, and the generator promises the same bytes for the same seed on
 * any machine. These use only IEEE-exact operations (+ - * /, sqrt, floor,
 * frexp, ldexp) in a fixed order, so they round identically everywhere
 * (the build is ISO C, which keeps the compiler from contracting a*b+c into
 * fused multiply-adds). Accuracy is about 1e-15 relative, far below what an
 * 8-bit image can show. */
#ifndef CB_DATA_DETMATH_H
#define CB_DATA_DETMATH_H

#include <math.h>

#pragma STDC FP_CONTRACT OFF

#define CB_DM_LN2_HI 6.93147180369123816490e-01
#define CB_DM_LN2_LO 1.90821492927058770002e-10
#define CB_DM_PIO2_HI 1.57079632673412561417e+00
#define CB_DM_PIO2_LO 6.07710050650619224932e-11

/* e^x for |x| < 700: x = k ln2 + r with |r| <= ln2/2, Taylor series of e^r to
 * degree 13 (error below 1e-17), scaled by 2^k exactly. */
static inline double cb_dm_exp(double x) {
  if (x < -700.0) return 0.0;
  if (x > 700.0) x = 700.0;
  double k = floor(x / CB_DM_LN2_HI + 0.5);
  double r = (x - k * CB_DM_LN2_HI) - k * CB_DM_LN2_LO;
  double p = 1.0;
  for (int i = 13; i >= 1; i--)
    p = 1.0 + p * r / (double)i;
  return ldexp(p, (int)k);
}

/* ln x for x > 0: x = m 2^e with m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh(s),
 * s = (m-1)/(m+1), |s| <= 0.172, odd series to s^23. */
static inline double cb_dm_log(double x) {
  if (!(x > 0.0)) return -INFINITY;
  int e;
  double m = frexp(x, &e);
  if (m < 0.70710678118654752440) {
    m *= 2.0;
    e -= 1;
  }
  double s = (m - 1.0) / (m + 1.0), s2 = s * s;
  double p = 0.0;
  for (int i = 23; i >= 1; i -= 2)
    p = 1.0 / (double)i + p * s2;
  return (double)e * CB_DM_LN2_HI + ((double)e * CB_DM_LN2_LO + 2.0 * s * p);
}

/* Quadrant reduction: x = q pi/2 + r, |r| <= pi/4 (accurate for |x| < 1e5). */
static inline double cb_dm_reduce(double x, int *q) {
  double k = floor(x / CB_DM_PIO2_HI + 0.5);
  *q = (int)((long long)k & 3);
  return (x - k * CB_DM_PIO2_HI) - k * CB_DM_PIO2_LO;
}

static inline double cb_dm_sin_r(double r) { /* |r| <= pi/4, to r^17 */
  /* Horner form of r (1 - r^2/3! (1 - r^2/(4*5) (1 - ...))). */
  double r2 = r * r, t = 1.0;
  for (int i = 17; i >= 3; i -= 2)
    t = 1.0 - t * r2 / ((double)i * (double)(i - 1));
  return r * t;
}

static inline double cb_dm_cos_r(double r) { /* |r| <= pi/4, to r^18 */
  double r2 = r * r, t = 1.0;
  for (int i = 18; i >= 2; i -= 2)
    t = 1.0 - t * r2 / ((double)i * (double)(i - 1));
  return t;
}

static inline double cb_dm_sin(double x) {
  int q;
  double r = cb_dm_reduce(x, &q);
  switch (q) {
  case 0: return cb_dm_sin_r(r);
  case 1: return cb_dm_cos_r(r);
  case 2: return -cb_dm_sin_r(r);
  default: return -cb_dm_cos_r(r);
  }
}

static inline double cb_dm_cos(double x) {
  int q;
  double r = cb_dm_reduce(x, &q);
  switch (q) {
  case 0: return cb_dm_cos_r(r);
  case 1: return -cb_dm_sin_r(r);
  case 2: return -cb_dm_cos_r(r);
  default: return cb_dm_sin_r(r);
  }
}

#endif
