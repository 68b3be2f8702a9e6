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

/* ---- the study's batch-level loss (loss.reduction: batch) ----
 *
 * The seed study's CombinedLoss on model output u (u = softmax(z) when the
 * model ends in Softmax2d as the study's U-Net does, else u = z):
 *   L = w_ce * mean_{n,t}(lse(u) - u_y)
 *     + w_dice * (1/K) sum_c (1 - 2 I_c / (Q_c + s)),
 *   S = softmax(u), E = exp(S), I_c = sum_{n,t} E_c [y = c],
 *   Q_c = sum_{n,t} (E_c + [y = c])   (the smoothing s only in the denominator).
 * Sums run over the whole batch, so one image's gradient depends on the
 * others: not per-sample clippable in the DP sense (runs are labelled so).
 *
 * Forward per pixel: nll = lse(u) - u_y, and E into `ex` (the layout of
 * probs), so cb_kb_loss_reduce over `ex` yields per image (I_c, sum E_c,
 * Y_c) and the mean nll. Index over N*T. */
typedef struct {
  const float *logits;
  const unsigned char *labels;
  float *ex, *nll;
  int K, T;
  int softmax_input; /* u = softmax(z) */
} cb_k_batch_loss_fwd;

/* p = softmax(z), u, then S = softmax(u), per pixel (strided by T). */
CB_HD static inline void cb_batch_loss_pixel(const float *z, int64_t T, int K, int softmax_input,
                                             double *p, double *u, double *S) {
  p[0] = u[0] = S[0] = 0.0; /* K >= 1; this tells the compiler so */
  double mx = z[0];
  for (int k = 1; k < K; k++)
    mx = z[(int64_t)k * T] > mx ? z[(int64_t)k * T] : mx;
  double s = 0.0;
  for (int k = 0; k < K; k++)
    s += exp((double)z[(int64_t)k * T] - mx);
  for (int k = 0; k < K; k++) {
    p[k] = exp((double)z[(int64_t)k * T] - mx) / s;
    u[k] = softmax_input ? p[k] : (double)z[(int64_t)k * T];
  }
  double mu = u[0];
  for (int k = 1; k < K; k++)
    mu = u[k] > mu ? u[k] : mu;
  double su = 0.0;
  for (int k = 0; k < K; k++)
    su += exp(u[k] - mu);
  for (int k = 0; k < K; k++)
    S[k] = exp(u[k] - mu) / su;
}

CB_HD static inline void cb_kb_batch_loss_fwd(int64_t i, const cb_k_batch_loss_fwd *a) {
  int64_t n = i / a->T, t = i % a->T;
  const float *z = a->logits + n * (int64_t)a->K * a->T + t;
  float *e = a->ex + n * (int64_t)a->K * a->T + t;
  double p[CB_MAX_CLASSES], u[CB_MAX_CLASSES], S[CB_MAX_CLASSES];
  cb_batch_loss_pixel(z, a->T, a->K, a->softmax_input, p, u, S);
  double mu = u[0], su = 0.0;
  for (int k = 1; k < a->K; k++)
    mu = u[k] > mu ? u[k] : mu;
  for (int k = 0; k < a->K; k++) {
    su += exp(u[k] - mu);
    e[(int64_t)k * a->T] = (float)exp(S[k]);
  }
  a->nll[i] = (float)(mu + log(su) - u[a->labels[i]]);
}

/* The output gradient of each image under the batch loss, scaled by the
 * batch size N as Opacus does for a loss with mean reduction
 * (loss_reduction="mean" multiplies every per-sample gradient by N), so the
 * CE part of image n equals that of its own per-image mean:
 *   g_n = N * dL/dz_n.
 * `stats` holds the batch's (I_c, Q_c + s) per class. Index over N*T. */
typedef struct {
  const float *logits, *stats;
  const unsigned char *labels;
  float *dlogits;
  int K, T, N;
  int softmax_input;
  float w_ce, w_dice;
} cb_k_batch_loss_bwd;
CB_HD static inline void cb_kb_batch_loss_bwd(int64_t i, const cb_k_batch_loss_bwd *a) {
  int64_t n = i / a->T, t = i % a->T;
  const float *z = a->logits + n * (int64_t)a->K * a->T + t;
  float *dz = a->dlogits + n * (int64_t)a->K * a->T + t;
  double p[CB_MAX_CLASSES], u[CB_MAX_CLASSES], S[CB_MAX_CLASSES], g[CB_MAX_CLASSES];
  cb_batch_loss_pixel(z, a->T, a->K, a->softmax_input, p, u, S);
  int y = a->labels[i];
  double N = (double)a->N, dot = 0.0;
  for (int k = 0; k < a->K; k++) {
    double I = a->stats[2 * k], Q = a->stats[2 * k + 1], yk = y == k ? 1.0 : 0.0;
    /* N times d/dS_k of (1/K) sum_c (1 - 2 I_c / Q_c), through E_k = exp(S_k) */
    g[k] = -(2.0 * a->w_dice / a->K) * exp(S[k]) * (yk * Q - I) / (Q * Q) * N;
    dot += S[k] * g[k];
  }
  double h[CB_MAX_CLASSES], hdot = 0.0;
  for (int k = 0; k < a->K; k++) {
    double ce = a->w_ce / (double)a->T * (S[k] - (y == k ? 1.0 : 0.0)); /* N / (N T) */
    h[k] = ce + S[k] * (g[k] - dot);
    hdot += p[k] * h[k];
  }
  for (int k = 0; k < a->K; k++)
    dz[(int64_t)k * a->T] = (float)(a->softmax_input ? p[k] * (h[k] - hdot) : h[k]);
}

#endif
