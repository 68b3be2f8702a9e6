/* GroupNorm bodies. x is [N, C, T]; groups of C/G consecutive channels;
 * statistics per (sample, group), so GroupNorm never couples samples. */
#ifndef CB_KERNELS_NORM_H
#define CB_KERNELS_NORM_H

#include "core/kernels/hd.h"

#include <math.h>

/* mean and rstd per (n, g), two-pass in double for accuracy. Index over N*G. */
typedef struct {
  const float *x;
  float *mean, *rstd;
  int C, T, G;
  float eps;
} cb_k_gn_stats;
CB_HD static inline void cb_kb_gn_stats(int64_t i, const cb_k_gn_stats *a) {
  int64_t m = (int64_t)(a->C / a->G) * a->T;
  const float *p = a->x + i * m; /* group i of sample n is contiguous */
  double s = 0.0;
  for (int64_t j = 0; j < m; j++)
    s += p[j];
  double mu = s / (double)m, v = 0.0;
  for (int64_t j = 0; j < m; j++) {
    double d = p[j] - mu;
    v += d * d;
  }
  v /= (double)m; /* biased variance, as PyTorch */
  a->mean[i] = (float)mu;
  a->rstd[i] = (float)(1.0 / sqrt(v + (double)a->eps));
}

/* y = (x - mean) * rstd * gamma[c] + beta[c]. Index over N*C rows of T. */
typedef struct {
  const float *x, *mean, *rstd, *gamma, *beta;
  float *y;
  int C, T, G;
} cb_k_gn_fwd;
CB_HD static inline void cb_kb_gn_fwd(int64_t i, const cb_k_gn_fwd *a) {
  int64_t c = i % a->C, n = i / a->C;
  int64_t g = n * a->G + c / (a->C / a->G);
  float s = a->rstd[g] * a->gamma[c], b = a->beta[c] - a->mean[g] * s;
  const float *x = a->x + i * a->T;
  float *y = a->y + i * a->T;
  for (int t = 0; t < a->T; t++)
    y[t] = x[t] * s + b;
}

/* Per (n, g): s1 = sum dy*gamma, s2 = sum dy*gamma*xhat. Index over N*G. */
typedef struct {
  const float *x, *dy, *mean, *rstd, *gamma;
  float *s1, *s2;
  int C, T, G;
} cb_k_gn_bwd_reduce;
CB_HD static inline void cb_kb_gn_bwd_reduce(int64_t i, const cb_k_gn_bwd_reduce *a) {
  int cg = a->C / a->G;
  int64_t g = i % a->G;
  int64_t base = i * (int64_t)cg * a->T;
  double s1 = 0.0, s2 = 0.0;
  for (int cc = 0; cc < cg; cc++) {
    float gm = a->gamma[g * cg + cc];
    const float *px = a->x + base + (int64_t)cc * a->T;
    const float *pd = a->dy + base + (int64_t)cc * a->T;
    for (int t = 0; t < a->T; t++) {
      double d = (double)pd[t] * gm;
      s1 += d;
      s2 += d * ((px[t] - a->mean[i]) * a->rstd[i]);
    }
  }
  a->s1[i] = (float)s1;
  a->s2[i] = (float)s2;
}

/* dx += rstd * (dy*gamma - (s1 + xhat*s2)/M). Index over N*C rows of T. */
typedef struct {
  const float *x, *dy, *mean, *rstd, *gamma, *s1, *s2;
  float *dx;
  int C, T, G;
} cb_k_gn_bwd_dx;
CB_HD static inline void cb_kb_gn_bwd_dx(int64_t i, const cb_k_gn_bwd_dx *a) {
  int64_t c = i % a->C, n = i / a->C;
  int64_t g = n * a->G + c / (a->C / a->G);
  float inv_m = 1.0f / (float)((int64_t)(a->C / a->G) * a->T);
  float r = a->rstd[g], mu = a->mean[g], gm = a->gamma[c];
  float k1 = a->s1[g] * inv_m, k2 = a->s2[g] * inv_m;
  const float *x = a->x + i * a->T, *dy = a->dy + i * a->T;
  float *dx = a->dx + i * a->T;
  for (int t = 0; t < a->T; t++) {
    float xh = (x[t] - mu) * r;
    dx[t] += r * (dy[t] * gm - (k1 + xh * k2));
  }
}

/* Per-sample affine gradients: dgamma_n[c] = sum_t xhat*dy, dbeta_n[c] =
 * sum_t dy, written to out[n*ld + c] and out[n*ld + C + c]. Index over N*C. */
typedef struct {
  const float *x, *dy, *mean, *rstd;
  float *out;
  int C, T, G;
  int64_t ld;
} cb_k_gn_param_grad;
CB_HD static inline void cb_kb_gn_param_grad(int64_t i, const cb_k_gn_param_grad *a) {
  int64_t n = i / a->C, c = i % a->C;
  int64_t g = n * a->G + c / (a->C / a->G);
  const float *px = a->x + i * a->T, *pd = a->dy + i * a->T;
  double sg = 0.0, sb = 0.0;
  for (int t = 0; t < a->T; t++) {
    sg += (double)pd[t] * ((px[t] - a->mean[g]) * a->rstd[g]);
    sb += pd[t];
  }
  a->out[n * a->ld + c] = (float)sg;
  a->out[n * a->ld + a->C + c] = (float)sb;
}

#endif
