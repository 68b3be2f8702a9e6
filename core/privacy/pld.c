/* PLD accountant: see pld.h for the algorithm and its guarantees. */
#include "core/privacy/pld.h"

#include "core/privacy/spectrum.h"

#include <fftw3.h>
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- one step of the Poisson-subsampled Gaussian (sensitivity 1) ---- */

typedef enum { DIR_REMOVE = 0, DIR_ADD = 1 } direction;

static double Phi(double a) {
  return 0.5 * erfc(-a / M_SQRT2);
}

/* The standard normal quantile of 0.5 e^-50, where dp_accounting truncates
 * the noise (log_mass_truncation_bound -50), by bisection on erfc. */
static double tail_quantile(void) {
  const double target = log(0.5) - 50.0;
  double lo = -40, hi = 0;
  for (int i = 0; i < 200; i++) {
    double mid = 0.5 * (lo + hi);
    if (log(Phi(mid)) < target)
      lo = mid;
    else
      hi = mid;
  }
  return hi;
}

/* log(1 - q + q e^l), without cancellation on either side of l = 0. */
static double log_mix(double q, double l) {
  if (q == 1.0) return l;
  if (l > 0) return l + log(q + (1.0 - q) * exp(-l));
  return log1p(q * expm1(l));
}

/* Privacy loss at noise value x. Remove: log((q N(x+1) + (1-q) N(x)) / N(x));
 * add is its mirror image, -loss_remove(-x). Both decrease in x. */
static double loss_remove(double q, double sigma, double x) {
  return log_mix(q, (-2.0 * x - 1.0) / (2.0 * sigma * sigma));
}

static double loss_at(direction d, double q, double sigma, double x) {
  return d == DIR_REMOVE ? loss_remove(q, sigma, x) : -loss_remove(q, sigma, -x);
}

/* Hockey-stick divergence of the plain Gaussian mechanism at z:
 * Phi(1/(2s) - s z) - e^z Phi(-1/(2s) - s z). */
static double delta_gauss(double sigma, double z) {
  double a = 0.5 / sigma - sigma * z, b = -0.5 / sigma - sigma * z;
  double pb = Phi(b), t2;
  if (z < 700)
    t2 = exp(z) * pb;
  else
    t2 = pb > 0 ? exp(z + log(pb)) : 0.0;
  double d = Phi(a) - t2;
  return d < 0 ? 0 : d > 1 ? 1 : d;
}

/* Exact delta(eps) of one step. Remove: for eps > log(1-q) it is
 * q * delta_gauss(z) with e^z = (e^eps - 1 + q) / q, else 1 - e^eps. Add: 0
 * for eps >= -log(1-q), else q e^(eps - z) delta_gauss(z) with
 * e^-z = (e^-eps - 1 + q) / q. */
static double step_delta(direction d, double q, double sigma, double eps) {
  double r;
  if (d == DIR_REMOVE) {
    if (q < 1 && eps <= log1p(-q)) return -expm1(eps);
    double z = log1p(expm1(eps) / q);
    r = q * delta_gauss(sigma, z);
  } else {
    if (q < 1 && eps >= -log1p(-q)) return 0.0;
    double z = -log1p(expm1(-eps) / q);
    r = q * exp(eps - z) * delta_gauss(sigma, z);
  }
  return r < 0 ? 0 : r > 1 ? 1 : r;
}

/* ---- one step's PMF on the grid (connect the dots) ---- */

#define N_ORDERS 8 /* Chernoff orders 2^-3 .. 2^4, each sign */

typedef struct {
  long lo, n;                                    /* losses (lo + i) * h, i < n */
  double *p;                                     /* n masses, NULL once released */
  double inf;                                    /* mass at +infinity */
  double logm_pos[N_ORDERS], logm_neg[N_ORDERS]; /* log E[e^(+-lambda L)], finite part */
} step_pmf;

static double order_at(int k) {
  return ldexp(1.0, k - 3);
}

static int step_pmf_build(direction d, double q, double sigma, double h, double z0, step_pmf *o,
                          char *why, size_t why_n) {
  memset(o, 0, sizeof *o);
  /* Noise truncation: [sigma z0 - 1, -sigma z0] (remove) or
   * [sigma z0, -sigma z0 + 1] (add), as dp_accounting. */
  double x_lo = sigma * z0 - (d == DIR_REMOVE ? 1.0 : 0.0);
  double x_hi = -sigma * z0 + (d == DIR_ADD ? 1.0 : 0.0);
  double e_up = loss_at(d, q, sigma, x_lo), e_dn = loss_at(d, q, sigma, x_hi);
  double i_up = ceil(e_up / h), i_dn = floor(e_dn / h);
  if (!isfinite(i_up) || !isfinite(i_dn) || !(i_up - i_dn + 1 <= (double)CB_PLD_MAX_POINTS))
    return cb_acc_why(why, why_n,
                      "one step's privacy losses span [%.4g, %.4g], too many grid points at "
                      "interval %g (sigma %g, q %g)",
                      e_dn, e_up, h, sigma, q);
  o->lo = (long)i_dn;
  o->n = (long)(i_up - i_dn) + 1;
  const long n = o->n;
  double *dl = malloc((size_t)n * sizeof *dl);
  o->p = malloc((size_t)n * sizeof *o->p);
  if (!dl || !o->p) {
    free(dl);
    free(o->p);
    o->p = NULL;
    return cb_acc_why(why, why_n, "out of memory for a %ld-point PLD", n);
  }
#pragma omp parallel for schedule(static)
  for (long i = 0; i < n; i++)
    dl[i] = step_delta(d, q, sigma, (double)(o->lo + i) * h);
  /* delta is non-increasing in eps; enforce it against rounding. */
  for (long i = 1; i < n; i++)
    if (dl[i] > dl[i - 1]) dl[i] = dl[i - 1];
  if (n == 1) {
    o->p[0] = 1.0 - dl[0];
  } else {
    /* Masses whose delta curve interpolates delta(eps_i) linearly in e^eps
     * (Doroshenko et al., Algorithm 1 with a fixed gap). */
    const double em1 = expm1(h), eh = exp(h);
    o->p[0] = 1.0 - dl[0] + (dl[1] - dl[0]) / em1;
    for (long i = 1; i + 1 < n; i++)
      o->p[i] = ((dl[i + 1] - dl[i]) - eh * (dl[i] - dl[i - 1])) / em1;
    o->p[n - 1] = (dl[n - 1] - dl[n - 2]) / expm1(-h);
    for (long i = 0; i < n; i++)
      if (!(o->p[i] > 0)) o->p[i] = 0;
  }
  o->inf = dl[n - 1];
  /* Log moment generating functions (log-sum-exp) for the window bounds. */
  for (long i = 0; i < n; i++)
    dl[i] = o->p[i] > 0 ? log(o->p[i]) : -INFINITY;
#pragma omp parallel for schedule(dynamic, 1)
  for (int ks = 0; ks < 2 * N_ORDERS; ks++) {
    const int k = ks / 2, neg = ks % 2;
    const double lam = (neg ? -1.0 : 1.0) * order_at(k) * h;
    double mx = -INFINITY, sum = 0;
    for (long i = 0; i < n; i++) {
      double v = dl[i] + lam * (double)(o->lo + i);
      mx = v > mx ? v : mx;
    }
    for (long i = 0; i < n; i++)
      if (dl[i] > -INFINITY) sum += exp(dl[i] + lam * (double)(o->lo + i) - mx);
    (neg ? o->logm_neg : o->logm_pos)[k] = mx + log(sum);
  }
  free(dl);
  return 0;
}

/* ---- composition over the history ---- */

typedef struct {
  long lo, n; /* losses (lo + i) * h */
  double *p;
  double inf;
  double h;
} composed;

/* One direction's plan: the step PMFs (kept while they fit a budget, else
 * rebuilt when transformed) and the window of composed indices. */
typedef struct {
  direction d;
  step_pmf *sp;
  int nseg;
  long long base, top, A, B; /* full support [base, top], window [A, B] */
  long nmax;                 /* widest step PMF */
  double log_fin;            /* log of the composed finite mass */
} dir_plan;

static void dir_plan_free(dir_plan *dp) {
  for (int i = 0; i < dp->nseg; i++)
    free(dp->sp[i].p);
  free(dp->sp);
  dp->sp = NULL;
}

/* Step PMFs of every active segment and the window [A, B] holding all but
 * tail/2 of the composed mass on each side (Chernoff: P(S >= b) <=
 * E[e^(lam S)] e^(-lam b), lam in loss units, min over the orders). */
static int dir_plan_make(const cb_history *h, direction d, double hgrid, double tail, double z0,
                         dir_plan *dp, char *why, size_t why_n) {
  memset(dp, 0, sizeof *dp);
  dp->d = d;
  dp->nmax = 1;
  int nseg = 0;
  for (int i = 0; i < h->n; i++)
    nseg += h->seg[i].steps > 0 && h->seg[i].q > 0;
  dp->sp = calloc((size_t)(nseg ? nseg : 1), sizeof *dp->sp);
  if (!dp->sp) return cb_acc_why(why, why_n, "out of memory");
  long long kept = 0;
  double lm_pos[N_ORDERS] = {0}, lm_neg[N_ORDERS] = {0}, span = 0;
  for (int i = 0; i < h->n; i++) {
    const cb_segment *s = &h->seg[i];
    if (s->steps == 0 || s->q == 0) continue;
    if (s->sigma == 0) return cb_acc_why(why, why_n, "noise multiplier 0 (no privacy)");
    step_pmf *o = &dp->sp[dp->nseg++];
    if (step_pmf_build(d, s->q, s->sigma, hgrid, z0, o, why, why_n)) return -1;
    const double T = (double)s->steps;
    /* Composed grid indices must stay exact in 64-bit integers. */
    span += T * (fabs((double)o->lo) + (double)o->n);
    if (!(span < 1e17))
      return cb_acc_why(why, why_n, "%lld steps are too many for a PLD grid at interval %g",
                        s->steps, hgrid);
    dp->base += s->steps * o->lo;
    dp->top += s->steps * (o->lo + o->n - 1);
    dp->nmax = o->n > dp->nmax ? o->n : dp->nmax;
    dp->log_fin += T * log1p(-o->inf);
    for (int j = 0; j < N_ORDERS; j++) {
      lm_pos[j] += T * o->logm_pos[j];
      lm_neg[j] += T * o->logm_neg[j];
    }
    if (kept + o->n > (1LL << 24)) {
      free(o->p);
      o->p = NULL;
    } else {
      kept += o->n;
    }
  }
  dp->A = dp->base, dp->B = dp->top;
  for (int j = 0; j < N_ORDERS; j++) {
    double lam = order_at(j) * hgrid;
    double b = ceil((lm_pos[j] + log(2.0 / tail)) / lam);
    double a = floor((log(tail / 2.0) - lm_neg[j]) / lam);
    if (b < (double)dp->B) dp->B = (long long)fmax(b, (double)dp->base);
    if (a > (double)dp->A) dp->A = (long long)fmin(a, (double)dp->top);
  }
  if (dp->A > dp->B) dp->A = dp->B;
  const double wide = fmax((double)(dp->B - dp->A + 1), (double)dp->nmax);
  if (!(wide <= (double)CB_PLD_MAX_POINTS))
    return cb_acc_why(why, why_n,
                      "the composed PLD spans %.3g grid points (limit %ld); epsilon is too large "
                      "for interval %g",
                      wide, (long)CB_PLD_MAX_POINTS, hgrid);
  return 0;
}

/* Transforms of N points shared by both directions. */
typedef struct {
  long N, nc;
  double *re, *acc;
  fftw_complex *spec;
  fftw_plan fwd, inv;
} transform;

static int transform_make(long need, int nseg, transform *t, char *why, size_t why_n) {
  memset(t, 0, sizeof *t);
  long N = need < 2 ? 2 : need;
  while (!cb_spec_is_smooth(N))
    N++;
  t->N = N;
  t->nc = N / 2 + 1;
  t->re = fftw_alloc_real((size_t)N);
  t->spec = fftw_alloc_complex((size_t)t->nc);
  if (nseg > 1) t->acc = malloc((size_t)t->nc * 2 * sizeof *t->acc);
  if (!t->re || !t->spec || (nseg > 1 && !t->acc))
    return cb_acc_why(why, why_n, "out of memory for a %ld-point PLD transform", N);
  cb_spec_plan_pair(N, omp_get_max_threads(), t->re, t->spec, &t->fwd, &t->inv);
  if (!t->fwd || !t->inv)
    return cb_acc_why(why, why_n, "FFTW could not plan a %ld-point transform", N);
  return 0;
}

static void transform_free(transform *t) {
  cb_spec_destroy_pair(t->fwd, t->inv);
  fftw_free(t->re);
  fftw_free(t->spec);
  free(t->acc);
}

/* The composed PLD of one direction on the window. The caller frees out->p. */
static int compose(const cb_history *h, dir_plan *dp, double hgrid, double tail, double z0,
                   transform *t, composed *out, char *why, size_t why_n) {
  memset(out, 0, sizeof *out);
  out->h = hgrid;
  out->lo = (long)dp->A;
  out->n = (long)(dp->B - dp->A + 1);
  out->p = malloc((size_t)out->n * sizeof *out->p);
  if (!out->p) return cb_acc_why(why, why_n, "out of memory for a %ld-point PLD", out->n);
  const long N = t->N, nc = t->nc;
  if (t->acc) memset(t->acc, 0, (size_t)nc * 2 * sizeof *t->acc);
  /* Each step PMF at offset 0 (its lo is in base), transformed and raised to
   * the segment's step count. */
  int k = 0;
  for (int i = 0; i < h->n; i++) {
    const cb_segment *s = &h->seg[i];
    if (s->steps == 0 || s->q == 0) continue;
    step_pmf *o = &dp->sp[k++];
    if (!o->p && step_pmf_build(dp->d, s->q, s->sigma, hgrid, z0, o, why, why_n)) {
      free(out->p);
      out->p = NULL;
      return -1;
    }
    memcpy(t->re, o->p, (size_t)o->n * sizeof *t->re);
    memset(t->re + o->n, 0, (size_t)(N - o->n) * sizeof *t->re);
    free(o->p);
    o->p = NULL;
    fftw_execute(t->fwd);
    cb_spec_pow_logpolar(t->spec, nc, (double)s->steps, t->acc);
  }
  cb_spec_from_logpolar(t->acc ? t->acc : &t->spec[0][0], t->spec, nc);
  fftw_execute(t->inv);
  /* Composed index a sits at circular position (a - base) mod N. */
  const double scale = 1.0 / (double)N;
  double sum = 0;
  for (long i = 0; i < out->n; i++) {
    double v = t->re[(dp->A + i - dp->base) % N] * scale;
    out->p[i] = v > 0 ? v : 0; /* FFT rounding makes tiny negatives */
    sum += out->p[i];
  }
  /* Mass missing below the window (at most tail/2, plus rounding) goes to
   * its lowest loss; the Chernoff bound above it goes to +infinity. */
  double fin = exp(dp->log_fin);
  if (fin > sum) out->p[0] += fin - sum;
  out->inf = -expm1(dp->log_fin) + (dp->B < dp->top ? tail / 2.0 : 0.0);
  return 0;
}

/* Smallest eps >= 0 with delta(eps) <= delta (dp_accounting's scan from the
 * top: delta(eps) = inf + sum_{l > eps} p_l (1 - e^(eps - l))). */
static double composed_epsilon(const composed *c, double delta) {
  if (c->inf > delta) return INFINITY;
  long double mu = c->inf, ml = 0, w = 0;
  const long double eh = expl((long double)c->h);
  for (long i = c->n - 1; i >= 0; i--) {
    double loss = (double)(c->lo + i) * c->h;
    if (mu > delta && ml > 0 && (double)logl((mu - delta) / ml) >= loss) break;
    /* w = e^-loss by recurrence, re-anchored every 4096 bins. */
    w = (c->n - 1 - i) % 4096 == 0 ? expl(-(long double)loss) : w * eh;
    mu += c->p[i];
    ml += w * c->p[i];
    if (mu >= delta && ml == 0) return fmax(0.0, loss);
  }
  if (mu <= ml + delta) return 0.0;
  return (double)logl((mu - delta) / ml);
}

static double composed_delta(const composed *c, double eps) {
  long double d = c->inf;
  for (long i = c->n - 1; i >= 0; i--) {
    double loss = (double)(c->lo + i) * c->h;
    if (loss <= eps) break;
    d += -(long double)expm1(eps - loss) * c->p[i];
  }
  return d > 1 ? 1.0 : (double)d;
}

/* Both directions: query(eps or delta) -> per-direction values. */
static int run(const cb_history *h, int want_eps, double x, double interval, double *res,
               cb_pld_info *info, char *why, size_t why_n) {
  cb_pld_info tmp;
  if (!info) info = &tmp;
  memset(info, 0, sizeof *info);
  info->eps_remove = info->eps_add = info->delta_remove = info->delta_add = NAN;
  if (interval <= 0) interval = CB_PLD_INTERVAL;
  if (!isfinite(interval)) return cb_acc_why(why, why_n, "invalid discretisation interval");
  int active = 0, all_q1 = 1;
  for (int i = 0; i < h->n; i++)
    if (h->seg[i].steps > 0 && h->seg[i].q > 0) {
      active = 1;
      all_q1 &= h->seg[i].q == 1.0;
    }
  if (!active) {
    *res = 0;
    info->eps_remove = info->eps_add = info->delta_remove = info->delta_add = 0;
    return 0;
  }
  const double tail = want_eps ? fmin(1e-15, 1e-6 * x) : 1e-15;
  const double z0 = tail_quantile();
  const int ndir = all_q1 ? 1 : 2; /* identical PLDs at q = 1 */
  dir_plan dp[2];
  transform t;
  memset(dp, 0, sizeof dp);
  memset(&t, 0, sizeof t);
  int rc = -1;
  long need = 0;
  for (int d = 0; d < ndir; d++) {
    if (dir_plan_make(h, (direction)d, interval, tail, z0, &dp[d], why, why_n)) goto done;
    long w = (long)(dp[d].B - dp[d].A + 1);
    need = w > need ? w : need;
    need = dp[d].nmax > need ? dp[d].nmax : need;
  }
  if (transform_make(need, dp[0].nseg, &t, why, why_n)) goto done;
  info->points = t.N;
  if (want_eps && DBL_EPSILON * (double)t.N > x) {
    cb_acc_why(why, why_n, "delta %g too small for a %ld-point PLD in double precision", x, t.N);
    goto done;
  }
  double worst = 0, v[2];
  for (int d = 0; d < ndir; d++) {
    composed c;
    if (compose(h, &dp[d], interval, tail, z0, &t, &c, why, why_n)) goto done;
    v[d] = want_eps ? composed_epsilon(&c, x) : composed_delta(&c, x);
    free(c.p);
    worst = fmax(worst, v[d]);
  }
  if (ndir == 1) v[1] = v[0];
  if (want_eps)
    info->eps_remove = v[0], info->eps_add = v[1];
  else
    info->delta_remove = v[0], info->delta_add = v[1];
  *res = worst;
  rc = 0;
done:
  for (int d = 0; d < 2; d++)
    dir_plan_free(&dp[d]);
  transform_free(&t);
  return rc;
}

int cb_pld_epsilon(const cb_history *h, double delta, double interval, double *eps,
                   cb_pld_info *info, char *why, size_t why_n) {
  *eps = NAN;
  if (!(delta > 0 && delta < 1)) return cb_acc_why(why, why_n, "delta must be in (0, 1)");
  return run(h, 1, delta, interval, eps, info, why, why_n);
}

int cb_pld_delta(const cb_history *h, double epsilon, double interval, double *delta,
                 cb_pld_info *info, char *why, size_t why_n) {
  *delta = NAN;
  if (!(epsilon >= 0) || isinf(epsilon)) return cb_acc_why(why, why_n, "epsilon must be >= 0");
  return run(h, 0, epsilon, interval, delta, info, why, why_n);
}
