/* PRV accountant: see prv.h for the algorithm and how it relates to Opacus. */
#include "core/privacy/prv.h"

#include "core/privacy/rdp.h"
#include "core/privacy/spectrum.h"

#include <fftw3.h>
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the PRV of one Poisson-subsampled Gaussian step (remove direction) ---- */

typedef struct {
  double q, sigma, l1q; /* l1q = log(1 - q), the lower end of the support */
} psg;

/* CDF F(t) and survival S(t) = 1 - F(t), each computed without cancellation
 * where it is small: with z = log((e^t + q - 1)/q), a = (z s^2 - 1/2)/(sqrt2 s),
 * b = (z s^2 + 1/2)/(sqrt2 s):
 *   S = q/2 erfc(a) + (1-q)/2 erfc(b),  F = q/2 erfc(-a) + (1-q)/2 erfc(-b). */
static void psg_cdf(const psg *g, double t, double *F, double *S) {
  if (!(t > g->l1q)) {
    *F = 0.0;
    *S = 1.0;
    return;
  }
  double q = g->q, s = g->sigma, z;
  if (t > 1.0)
    z = t - log(q) + log1p((q - 1.0) * exp(-t));
  else
    z = log1p(expm1(t) / q);
  double a = (z * s * s - 0.5) / (M_SQRT2 * s), b = (z * s * s + 0.5) / (M_SQRT2 * s);
  double ea = erfc(fabs(a)), eb = erfc(fabs(b));
  double erfc_a = a >= 0 ? ea : 2.0 - ea, erfc_ma = a >= 0 ? 2.0 - ea : ea;
  double erfc_b = b >= 0 ? eb : 2.0 - eb, erfc_mb = b >= 0 ? 2.0 - eb : eb;
  *S = 0.5 * (q * erfc_a + (1.0 - q) * erfc_b);
  *F = 0.5 * (q * erfc_ma + (1.0 - q) * erfc_mb);
}

static double psg_F(const psg *g, double t) {
  double F, S;
  psg_cdf(g, t, &F, &S);
  return F;
}

static double psg_S(const psg *g, double t) {
  double F, S;
  psg_cdf(g, t, &F, &S);
  return S;
}

/* ---- adaptive Gauss-Kronrod (7, 15) for the continuous mean ---- */

static const double GK_X[8] = {
    0.991455371120812639206854697526329, 0.949107912342758524526189684047851,
    0.864864423359769072789712788640926, 0.741531185599394439863864773280788,
    0.586087235467691130294144845693013, 0.405845151377397166906606412076961,
    0.207784955007898467600689403773245, 0.000000000000000000000000000000000};
static const double GK_WK[8] = {
    0.022935322010529224963732008058970, 0.063092092629978553290700663189204,
    0.104790010322250183839876322541518, 0.140653259715525918745189590510238,
    0.169004726639267902826583426598550, 0.190350578064785409913256402421014,
    0.204432940075298892414161999234649, 0.209482141084727828012999174891714};
static const double GK_WG[4] = {
    0.129484966168869693270611432679082, 0.279705391489276667901467771423780,
    0.381830050505118944950369775488975, 0.417959183673469387755102040816327};

typedef struct {
  const psg *g;
  int upper; /* 1: integrand S(t) - S_ref; 0: F(t) - F_ref */
  double ref;
  int evals;
} integrand;

static double f_eval(integrand *in, double t) {
  in->evals++;
  return in->upper ? psg_S(in->g, t) - in->ref : psg_F(in->g, t) - in->ref;
}

static double gk15(integrand *in, double a, double b, double *err) {
  double c = 0.5 * (a + b), h = 0.5 * (b - a);
  double fc = f_eval(in, c);
  double k = fc * GK_WK[7], g = fc * GK_WG[3];
  for (int i = 0; i < 7; i++) {
    double x = h * GK_X[i];
    double f1 = f_eval(in, c - x), f2 = f_eval(in, c + x);
    k += GK_WK[i] * (f1 + f2);
    if (i % 2 == 1) g += GK_WG[i / 2] * (f1 + f2);
  }
  *err = fabs((k - g) * h);
  return k * h;
}

static double adapt(integrand *in, double a, double b, double whole, double err, int depth) {
  if (err <= 1e-17 + 1e-13 * fabs(whole) || depth >= 40 || in->evals > 200000) return whole;
  double c = 0.5 * (a + b), e1, e2;
  double l = gk15(in, a, c, &e1), r = gk15(in, c, b, &e2);
  return adapt(in, a, c, l, e1, depth + 1) + adapt(in, c, b, r, e2, depth + 1);
}

/* Integral over [a, b] split at log-spaced points (scale-free integrands:
 * the PRV of a small q lives on a scale of q). sign = +1 for [0, b] with
 * breakpoints 1e-12..b, -1 for [a, 0]. */
static double integrate(integrand *in, double a, double b) {
  double pts[64];
  int np = 0;
  pts[np++] = a;
  if (a >= 0) {
    for (double p = 1e-12; p < b; p *= 10)
      pts[np++] = p;
  } else {
    for (double p = 1e2; p >= 1e-12; p /= 10)
      if (-p > a) pts[np++] = -p;
  }
  pts[np++] = b;
  double sum = 0;
  for (int i = 0; i + 1 < np; i++) {
    double err, v = gk15(in, pts[i], pts[i + 1], &err);
    sum += adapt(in, pts[i], pts[i + 1], v, err, 0);
  }
  return sum;
}

/* ---- discretisation of one segment ---- */

typedef struct {
  long n, K; /* grid points, t_i = (i - K) dt */
  double dt, tmin, tmax;
} grid;

/* Cell masses of the truncated PRV on the grid into pmf (zeroed first).
 * Returns -1 with `why` when the mean correction is too large. */
static int discretize(const psg *g, const grid *gr, double cut, double *pmf, double *shift,
                      double *dropped, char *why, size_t why_n) {
  const long n = gr->n, K = gr->K;
  const double dt = gr->dt;
  memset(pmf, 0, (size_t)n * sizeof *pmf);
  double F_min, S_min, F_max, S_max;
  psg_cdf(g, gr->tmin, &F_min, &S_min);
  psg_cdf(g, gr->tmax, &F_max, &S_max);
  double Z = (1.0 - S_max) - F_min;
  if (!(Z > 0.5)) return cb_acc_why(why, why_n, "PRV domain misses the distribution (mass %g)", Z);

    /* edge e between cells e-1 and e: (e - K - 1/2) dt, clipped to [tmin, tmax]. */
#define EDGE(e) fmin(fmax(((double)(e) - (double)K - 0.5) * dt, gr->tmin), gr->tmax)
  /* First cell whose upper edge carries mass, last whose lower edge does. */
  long lo = 0, hi = n - 1;
  {
    long a = 0, b = n; /* smallest e in [1, n] with F(edge e) - F_min > cut */
    a = 1;
    while (a < b) {
      long m = a + (b - a) / 2;
      if (psg_F(g, EDGE(m)) - F_min > cut)
        b = m;
      else
        a = m + 1;
    }
    lo = a - 1;
    a = 0, b = n - 1; /* largest e in [0, n-1] with S(edge e) - S_max > cut */
    while (a < b) {
      long m = b - (b - a) / 2;
      if (psg_S(g, EDGE(m)) - S_max > cut)
        a = m;
      else
        b = m - 1;
    }
    hi = a;
  }
  if (lo > hi) return cb_acc_why(why, why_n, "PRV distribution narrower than one grid cell");

  double FL, SL, FR, SR;
  psg_cdf(g, EDGE(lo), &FL, &SL);
  double below = FL - F_min; /* moved up into cell lo: pessimistic */
  long double mean_d = 0;
  for (long i = lo; i <= hi; i++) {
    psg_cdf(g, EDGE(i + 1), &FR, &SR);
    double m = FR <= 0.5 ? FR - FL : SL - SR;
    if (i == lo) m += below;
    m /= Z;
    pmf[i] = m;
    mean_d += (long double)(((double)(i - K)) * dt) * m;
    FL = FR, SL = SR;
  }
  *dropped = (SL - S_max) / Z;
#undef EDGE

  /* Mean of the truncated continuous PRV by parts:
   * [ int_0^tmax (S - S(tmax)) - int_tmin^0 (F - F(tmin)) ] / Z. */
  integrand up = {g, 1, S_max, 0}, dn = {g, 0, F_min, 0};
  double a0 = fmax(gr->tmin, g->l1q);
  double num = integrate(&up, 0.0, gr->tmax) - (a0 < 0 ? integrate(&dn, a0, 0.0) : 0.0);
  double mean_c = num / Z;
  *shift = mean_c - (double)mean_d;
  if (!(fabs(*shift) < dt / 2))
    return cb_acc_why(why, why_n,
                      "discrete mean differs from the continuous mean by %.3g grid steps "
                      "(sigma %g, q %g)",
                      fabs(*shift) / dt, g->sigma, g->q);
  return 0;
}

/* ---- composition and epsilon ---- */

int cb_prv_epsilon(const cb_history *h, double delta, double eps_error, double delta_error,
                   cb_prv_info *out, char *why, size_t why_n) {
  if (eps_error <= 0) eps_error = CB_PRV_EPS_ERROR;
  if (delta_error <= 0) delta_error = delta / 1000.0;
  memset(out, 0, sizeof *out);
  out->eps_upper = out->eps_estimate = out->eps_lower = NAN;

  /* Active segments; q == 0 or no steps spend nothing. */
  long long T = 0;
  int nseg = 0;
  for (int i = 0; i < h->n; i++) {
    if (h->seg[i].steps == 0 || h->seg[i].q == 0) continue;
    if (h->seg[i].sigma == 0) return cb_acc_why(why, why_n, "noise multiplier 0 (no privacy)");
    T += h->seg[i].steps;
    nseg++;
  }
  if (nseg == 0) {
    out->eps_upper = out->eps_estimate = out->eps_lower = 0.0;
    return 0;
  }
  if (!(delta - delta_error > 0)) return cb_acc_why(why, why_n, "delta_error >= delta");

  /* Domain half-width from RDP tail bounds (Opacus compute_safe_domain_size). */
  double L, alpha, e1;
  cb_rdp_epsilon(h, delta_error / 4, &L, &alpha);
  for (int i = 0; i < h->n; i++) {
    const cb_segment *s = &h->seg[i];
    if (s->steps == 0 || s->q == 0) continue;
    cb_segment tmp = {s->sigma, s->q, 1};
    cb_history one = {&tmp, 1, 1};
    cb_rdp_epsilon(&one, delta_error / (8.0 * (double)T), &e1, &alpha);
    L = fmax(L, e1);
  }
  L = fmax(L, eps_error) + 3.0;
  if (!isfinite(L)) return cb_acc_why(why, why_n, "RDP tail bound is infinite");

  double dt = eps_error / sqrt((double)T * log(12.0 / delta_error) / 2.0);
  double Kd = ceil(L / dt);
  if (!(2.0 * Kd + 2.0 <= (double)CB_PRV_MAX_POINTS))
    return cb_acc_why(why, why_n,
                      "PRV grid would need %.3g points (limit %ld); epsilon is too large "
                      "or there are too many steps",
                      2.0 * Kd + 2.0, (long)CB_PRV_MAX_POINTS);
  long K = (long)Kd;
  while (!cb_spec_is_smooth(2 * K + 2))
    K++;
  grid gr = {2 * K + 2, K, dt, -(double)K * dt, (double)(K + 1) * dt};
  const long n = gr.n, nc = n / 2 + 1;
  out->L = L;
  out->dt = dt;
  out->n = n;
  if (DBL_EPSILON * (double)n > delta - delta_error)
    return cb_acc_why(why, why_n, "delta %g too small for a %ld-point PRV grid in double precision",
                      delta, n);

  double *pmf = fftw_alloc_real((size_t)n);
  fftw_complex *spec = fftw_alloc_complex((size_t)nc);
  double *acc = nseg > 1 ? malloc((size_t)nc * 2 * sizeof *acc) : NULL;
  fftw_plan fwd = NULL, inv = NULL;
  int rc = -1;
  if (!pmf || !spec || (nseg > 1 && !acc)) {
    cb_acc_why(why, why_n, "out of memory for a %ld-point PRV grid", n);
    goto done;
  }
  /* Tail mass we may drop per step, and the widening of delta_error it needs. */
  const double cut = fmax(1e-3 * delta_error / (double)T, 1e-300);
  double shift_total = 0, widen = 0;
  if (acc)
    for (long f = 0; f < nc; f++)
      acc[2 * f] = acc[2 * f + 1] = 0;
  int first = 1;
  const int threads = omp_get_max_threads();
  for (int i = 0; i < h->n; i++) {
    const cb_segment *s = &h->seg[i];
    if (s->steps == 0 || s->q == 0) continue;
    psg g = {s->q, s->sigma, s->q < 1 ? log1p(-s->q) : -INFINITY};
    double shift = 0, dropped = 0;
    int drc;
    if (first) {
      /* Planning (FFTW's twiddle factors: about n sincos calls, as long as a
       * transform) does not touch the arrays, so the first segment is
       * discretised meanwhile on a second thread. */
      first = 0;
#pragma omp parallel sections num_threads(2)
      {
#pragma omp section
        cb_spec_plan_pair(n, threads, pmf, spec, &fwd, &inv);
#pragma omp section
        {
          drc = discretize(&g, &gr, cut, pmf, &shift, &dropped, why, why_n);
          memset(spec, 0, (size_t)nc * sizeof *spec); /* page faults off the FFT's path */
        }
      }
      if (!fwd || !inv) {
        cb_acc_why(why, why_n, "FFTW could not plan a %ld-point transform", n);
        goto done;
      }
    } else {
      drc = discretize(&g, &gr, cut, pmf, &shift, &dropped, why, why_n);
    }
    if (drc) goto done;
    shift_total += (double)s->steps * shift;
    widen += (double)s->steps * dropped;
    fftw_execute(fwd);
    cb_spec_pow_logpolar(spec, nc, (double)s->steps, acc);
  }
  cb_spec_from_logpolar(acc ? acc : &spec[0][0], spec, nc);
  fftw_execute(inv);

  /* Composed index j holds circular index (j - m) mod n, m = T - 1 (+ n/2
   * when T is even): the grid is [-K, K+1] dt and K = n/2 - 1. */
  long m = (long)((T - 1) % n);
  if (T % 2 == 0) m = (m + n / 2) % n;
  const double scale = 1.0 / (double)n;
  const double d_up = delta - delta_error - widen, d_est = delta, d_lo = delta + delta_error;
  if (!(d_up > 0)) {
    cb_acc_why(why, why_n, "delta too small for the PRV error budget");
    goto done;
  }
  /* Scan down from the top: d1 = sum_{k>=j} p_k, D2 = sum_{k>=j} p_k e^{t_j - t_k};
   * delta(eps = t_j) = d1 - D2. The first j (from the top) where delta(t_j)
   * exceeds the target gives i = j + 1: the largest candidate, never smaller
   * than Opacus's searchsorted on a monotone array. */
  const long double edt = expl(-(long double)dt);
  long double d1 = 0, D2 = 0, pd1 = 0, pD2 = 0;
  double eps_up = NAN, eps_est = NAN, eps_lo = NAN;
  for (long j = n - 1; j >= 0; j--) {
    long src = j - m;
    if (src < 0) src += n;
    long double p = (long double)pmf[src] * scale;
    d1 += p;
    D2 = p + edt * D2;
    long double dj = d1 - D2;
    double tnext = ((double)(j + 1 - K)) * dt + shift_total;
    if (isnan(eps_up) && dj > d_up) {
      if (j == n - 1) break;
      eps_up = tnext + (double)logl((pd1 - d_up) / pD2);
    }
    if (isnan(eps_est) && dj > d_est) /* d_est > d_up: found after eps_up */
      eps_est = tnext + (double)logl((pd1 - d_est) / pD2);
    if (dj > d_lo) { /* d_lo > d_est: found last */
      eps_lo = tnext + (double)logl((pd1 - d_lo) / pD2);
      break;
    }
    pd1 = d1, pD2 = D2;
  }
  if (!isfinite(eps_up)) {
    cb_acc_why(why, why_n, "cannot compute epsilon from the composed PRV (delta outside the grid)");
    goto done;
  }
  out->eps_upper = fmax(0.0, eps_up + eps_error);
  out->eps_estimate = eps_est;
  /* Opacus's lower bound; 0 when delta + delta_error is reached only at the
   * bottom of the grid. */
  out->eps_lower = isfinite(eps_lo) ? fmax(0.0, eps_lo - eps_error) : 0.0;
  rc = 0;
done:
  cb_spec_destroy_pair(fwd, inv);
  fftw_free(pmf);
  fftw_free(spec);
  free(acc);
  return rc;
}
