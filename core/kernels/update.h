/* Noise and optimizer bodies: one parameter coordinate each. */
#ifndef CB_KERNELS_UPDATE_H
#define CB_KERNELS_UPDATE_H

#include <math.h>

#include "core/kernels/hd.h"
#include "core/kernels/philox.h"

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

/* Adam / AdamW as torch.optim: AdamW decays the weight directly
 * (w *= 1 - lr*wd); Adam adds wd*w to the gradient. bc1 = 1 - beta1^t and
 * bc2 = 1 - beta2^t are computed on the host. */
typedef struct {
  float *w, *m, *v;
  const float *g;
  float lr, beta1, beta2, eps, wd, bc1, bc2;
  int decoupled;
} cb_k_adam;
CB_HD static inline void cb_kb_adam(int64_t j, const cb_k_adam *a) {
  float g = a->g[j];
  if (a->decoupled)
    a->w[j] *= 1.0f - a->lr * a->wd;
  else
    g += a->wd * a->w[j];
  float m = a->beta1 * a->m[j] + (1.0f - a->beta1) * g;
  float v = a->beta2 * a->v[j] + (1.0f - a->beta2) * g * g;
  a->m[j] = m;
  a->v[j] = v;
  float denom = sqrtf(v / a->bc2) + a->eps;
  a->w[j] -= (a->lr / a->bc1) * m / denom;
}

#endif
