/* Elementwise kernel bodies: one output index each. */
#ifndef CB_KERNELS_ELEMENTWISE_H
#define CB_KERNELS_ELEMENTWISE_H

#include "core/kernels/hd.h"

typedef struct {
  float *x;
  float v;
} cb_k_fill;
CB_HD static inline void cb_kb_fill(int64_t i, const cb_k_fill *a) {
  a->x[i] = a->v;
}

typedef struct {
  float *x;
  float s;
} cb_k_scale;
CB_HD static inline void cb_kb_scale(int64_t i, const cb_k_scale *a) {
  a->x[i] *= a->s;
}

/* y += s * x */
typedef struct {
  float *y;
  const float *x;
  float s;
} cb_k_axpy;
CB_HD static inline void cb_kb_axpy(int64_t i, const cb_k_axpy *a) {
  a->y[i] += a->s * a->x[i];
}

/* ReLU forward on NCHW data. */
typedef struct {
  const float *x;
  float *y;
} cb_k_relu_fwd;
CB_HD static inline void cb_kb_relu_fwd(int64_t i, const cb_k_relu_fwd *a) {
  float v = a->x[i];
  a->y[i] = v <= 0.0f ? 0.0f : v; /* NaN passes, as in PyTorch */
}

/* ReLU backward from the output: dx += dy where y > 0 (PyTorch's choice of
 * subgradient 0 at 0). Accumulates because a tensor can feed several nodes. */
typedef struct {
  const float *y;
  const float *dy;
  float *dx;
} cb_k_relu_bwd;
CB_HD static inline void cb_kb_relu_bwd(int64_t i, const cb_k_relu_bwd *a) {
  if (a->y[i] > 0.0f) a->dx[i] += a->dy[i];
}

/* Row-wise bodies below take one (sample, channel) row of T values per index,
 * so the index arithmetic is paid once per row, not once per element. */

/* Channel concat forward: dst[n, off + c, :] = src[n, c, :]. Index over n*C
 * rows of the source. */
typedef struct {
  const float *src;
  float *dst;
  int C, T, Cdst, off;
} cb_k_concat_fwd;
CB_HD static inline void cb_kb_concat_fwd(int64_t i, const cb_k_concat_fwd *a) {
  int64_t c = i % a->C, n = i / a->C;
  const float *s = a->src + i * a->T;
  float *d = a->dst + (n * a->Cdst + a->off + c) * a->T;
  for (int t = 0; t < a->T; t++)
    d[t] = s[t];
}

/* Channel concat backward: dsrc[n, c, :] += ddst[n, off + c, :]. Rows. */
typedef struct {
  const float *ddst;
  float *dsrc;
  int C, T, Cdst, off;
} cb_k_concat_bwd;
CB_HD static inline void cb_kb_concat_bwd(int64_t i, const cb_k_concat_bwd *a) {
  int64_t c = i % a->C, n = i / a->C;
  const float *s = a->ddst + (n * a->Cdst + a->off + c) * a->T;
  float *d = a->dsrc + i * a->T;
  for (int t = 0; t < a->T; t++)
    d[t] += s[t];
}

/* y[n, c, :] += b[c]. Index over n*C rows. */
typedef struct {
  float *y;
  const float *b;
  int C, T;
} cb_k_add_bias;
CB_HD static inline void cb_kb_add_bias(int64_t i, const cb_k_add_bias *a) {
  float b = a->b[i % a->C];
  float *y = a->y + i * a->T;
  for (int t = 0; t < a->T; t++)
    y[t] += b;
}

/* Per-sample bias gradient: out[n*ld + c] = sum_t dy[n, c, t]. Index over n*C.
 * Summed in double so the result does not depend on T's size. */
typedef struct {
  const float *dy;
  float *out;
  int C, T;
  int64_t ld;
} cb_k_bias_grad;
CB_HD static inline void cb_kb_bias_grad(int64_t i, const cb_k_bias_grad *a) {
  int64_t n = i / a->C, c = i % a->C;
  const float *p = a->dy + i * a->T;
  double s = 0.0;
  for (int t = 0; t < a->T; t++)
    s += p[t];
  a->out[n * a->ld + c] = (float)s;
}

/* Zeroes the coordinates a shared mask drops: x[r*ld + j] = 0 where
 * keep[off + j] == 0. Index over rows*len. */
typedef struct {
  float *x;
  const unsigned char *keep;
  int64_t len, ld, off;
} cb_k_mask_rows;
CB_HD static inline void cb_kb_mask_rows(int64_t i, const cb_k_mask_rows *a) {
  int64_t r = i / a->len, j = i % a->len;
  if (!a->keep[a->off + j]) a->x[r * a->ld + j] = 0.0f;
}

/* Per-pixel argmax over classes: logits [n, K, T] -> labels [n, T]. */
typedef struct {
  const float *logits;
  unsigned char *pred;
  int K, T;
} cb_k_argmax;
CB_HD static inline void cb_kb_argmax(int64_t i, const cb_k_argmax *a) {
  int64_t n = i / a->T, t = i % a->T;
  const float *z = a->logits + n * (int64_t)a->K * a->T + t;
  int best = 0;
  float bv = z[0];
  for (int k = 1; k < a->K; k++)
    if (z[(int64_t)k * a->T] > bv) {
      bv = z[(int64_t)k * a->T];
      best = k;
    }
  a->pred[i] = (unsigned char)best;
}

#endif
