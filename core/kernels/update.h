/* Noise and optimizer bodies: one parameter coordinate each. */
#ifndef CB_KERNELS_UPDATE_H
#define CB_KERNELS_UPDATE_H

#include "core/kernels/hd.h"
#include "core/kernels/philox.h"

#include <math.h>

/* g[j] += std * N(0,1) drawn at (seed, NOISE, step, off + j); coordinates a
 * sparsification mask drops get no noise (their signal is zero too). */
typedef struct {
  float *g;
  const unsigned char *keep; /* NULL: every coordinate */
  uint64_t seed;
  uint32_t step;
  int64_t off;
  float std;
  int secure;
} cb_k_noise;
CB_HD static inline void cb_kb_noise(int64_t j, const cb_k_noise *a) {
  if (a->keep && !a->keep[a->off + j]) return;
  uint64_t idx = (uint64_t)(a->off + j);
  double z = a->secure ? cb_gauss_secure(a->seed, CB_STREAM_NOISE, a->step, idx)
                       : cb_gauss(a->seed, CB_STREAM_NOISE, a->step, idx);
  a->g[j] += (float)((double)a->std * z);
}

/* SGD as torch.optim.SGD: d = g + wd*w; buf = mom*buf + d (buf = d on the
 * first step); d = nesterov ? d + mom*buf : buf; w -= lr*d. */
typedef struct {
  float *w, *buf;
  const float *g;
  float lr, momentum, wd;
  int nesterov, first;
} cb_k_sgd;
CB_HD static inline void cb_kb_sgd(int64_t j, const cb_k_sgd *a) {
  float d = a->g[j] + a->wd * a->w[j];
  if (a->momentum != 0.0f) {
    float b = a->first ? d : a->momentum * a->buf[j] + d;
    a->buf[j] = b;
    d = a->nesterov ? d + a->momentum * b : b;
  }
  a->w[j] -= a->lr * d;
}

/* Adam / AdamW in the order of torch.optim's single-tensor path (the one
 * PyTorch runs for CPU tensors), so results agree to rounding:
 *   Adam:  g += wd*w            AdamW: w *= decay (= 1 - lr*wd)
 *   m = m + (1-beta1)*(g - m)   (torch lerp with weight < 0.5)
 *   v = v*beta2 + (1-beta2)*g*g
 *   w -= step_size * (m / (sqrt(v)/bc2_sqrt + eps))
 * step_size = lr/(1 - beta1^t) and bc2_sqrt = sqrt(1 - beta2^t) are computed
 * on the host in double, as torch does in Python. */
typedef struct {
  float *w, *m, *v;
  const float *g;
  float one_minus_beta1, beta2, one_minus_beta2, eps, wd, decay, step_size, bc2_sqrt;
  int decoupled;
} cb_k_adam;
CB_HD static inline void cb_kb_adam(int64_t j, const cb_k_adam *a) {
  float g = a->g[j];
  if (a->decoupled)
    a->w[j] *= a->decay;
  else
    g += a->wd * a->w[j];
  float m = a->m[j] + a->one_minus_beta1 * (g - a->m[j]);
  float v = a->v[j] * a->beta2 + a->one_minus_beta2 * g * g;
  a->m[j] = m;
  a->v[j] = v;
  float denom = sqrtf(v) / a->bc2_sqrt + a->eps;
  a->w[j] -= a->step_size * (m / denom);
}

#endif
