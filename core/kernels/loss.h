/* Per-image segmentation loss: pixel-wise softmax cross-entropy (mean over
 * the image's pixels) plus an optional soft Dice term computed over that
 * image's pixels only, so image i's loss depends on image i alone (a
 * batch-level Dice would couple samples and void per-sample clipping).
 *
 *   L_i = w_ce * mean_t(-log p[t, y_t]) + w_dice * (1 - mean_c D_c)
 *   D_c = (2 I_c + s) / (P_c + Y_c + s), I_c = sum_t p[t,c] y[t,c],
 *   P_c = sum_t p[t,c], Y_c = sum_t y[t,c].
 * Logits are [N, K, T]; labels are [N, T] bytes. */
#ifndef CB_KERNELS_LOSS_H
#define CB_KERNELS_LOSS_H

#include "core/kernels/hd.h"

#include <math.h>

#define CB_MAX_CLASSES 64

/* Softmax per pixel into probs and the pixel's negative log-likelihood.
 * Index over N*T. */
typedef struct {
  const float *logits;
  const unsigned char *labels;
  float *probs, *nll;
  int K, T;
} cb_k_softmax_nll;
CB_HD static inline void cb_kb_softmax_nll(int64_t i, const cb_k_softmax_nll *a) {
  int64_t n = i / a->T, t = i % a->T;
  const float *z = a->logits + n * (int64_t)a->K * a->T + t;
  float *p = a->probs + n * (int64_t)a->K * a->T + t;
  float mx = z[0];
  for (int k = 1; k < a->K; k++)
    mx = z[(int64_t)k * a->T] > mx ? z[(int64_t)k * a->T] : mx;
  double s = 0.0;
  for (int k = 0; k < a->K; k++)
    s += exp((double)(z[(int64_t)k * a->T] - mx));
  double lse = (double)mx + log(s);
  for (int k = 0; k < a->K; k++)
    p[(int64_t)k * a->T] = (float)exp(z[(int64_t)k * a->T] - lse);
  int y = a->labels[i];
  a->nll[i] = (float)(lse - (double)z[(int64_t)y * a->T]);
}

/* Per-image sums. Index over N*(K+1): job k < K fills stats[n][3k..3k+2] =
 * (I_k, P_k, Y_k); job K fills ce[n] = mean_t nll. */
typedef struct {
  const float *probs, *nll;
  const unsigned char *labels;
  float *stats, *ce;
  int K, T;
} cb_k_loss_reduce;
CB_HD static inline void cb_kb_loss_reduce(int64_t i, const cb_k_loss_reduce *a) {
  int64_t n = i / (a->K + 1);
  int k = (int)(i % (a->K + 1));
  const unsigned char *y = a->labels + n * a->T;
  if (k == a->K) {
    const float *l = a->nll + n * a->T;
    double s = 0.0;
    for (int t = 0; t < a->T; t++)
      s += l[t];
    a->ce[n] = (float)(s / (double)a->T);
    return;
  }
  const float *p = a->probs + (n * a->K + k) * (int64_t)a->T;
  double si = 0.0, sp = 0.0, sy = 0.0;
  for (int t = 0; t < a->T; t++) {
    sp += p[t];
    if (y[t] == k) {
      si += p[t];
      sy += 1.0;
    }
  }
  float *st = a->stats + (n * a->K + k) * 3;
  st[0] = (float)si;
  st[1] = (float)sp;
  st[2] = (float)sy;
}

/* dL_i/dz for every pixel (not divided by the batch size: the per-sample
 * gradient is that of L_i itself). Index over N*T. */
typedef struct {
  const float *probs, *stats;
  const unsigned char *labels;
  float *dlogits;
  int K, T;
  float w_ce, w_dice, smooth;
} cb_k_loss_bwd;
CB_HD static inline void cb_kb_loss_bwd(int64_t i, const cb_k_loss_bwd *a) {
  int64_t n = i / a->T, t = i % a->T;
  const float *p = a->probs + n * (int64_t)a->K * a->T + t;
  float *dz = a->dlogits + n * (int64_t)a->K * a->T + t;
  int y = a->labels[i];
  float g[CB_MAX_CLASSES];
  float dot = 0.0f;
  for (int k = 0; k < a->K; k++) {
    g[k] = 0.0f;
    if (a->w_dice != 0.0f) {
      const float *st = a->stats + (n * a->K + k) * 3;
      float num = 2.0f * st[0] + a->smooth, den = st[1] + st[2] + a->smooth;
      float yk = (y == k) ? 1.0f : 0.0f;
      g[k] = -(a->w_dice / (float)a->K) * (2.0f * yk * den - num) / (den * den);
    }
    dot += p[(int64_t)k * a->T] * g[k];
  }
  float inv_t = a->w_ce / (float)a->T;
  for (int k = 0; k < a->K; k++) {
    float pk = p[(int64_t)k * a->T];
    float ce = inv_t * (pk - (y == k ? 1.0f : 0.0f));
    dz[(int64_t)k * a->T] = ce + pk * (g[k] - dot);
  }
}

#endif
