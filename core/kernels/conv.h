/* im2col / col2im bodies shared by Conv2d and ConvTranspose2d.
 *
 * Geometry: an image [C, H, W] seen through a kh x kw window with the given
 * stride and zero padding gives Ho x Wo positions. The column matrix is
 * [C*kh*kw, Ho*Wo] with row (c*kh + ki)*kw + kj, which matches PyTorch's
 * weight layout (Cout, Cin, kh, kw) flattened to [Cout, Cin*kh*kw]. */
#ifndef CB_KERNELS_CONV_H
#define CB_KERNELS_CONV_H

#include "core/kernels/hd.h"

typedef struct {
  int C, H, W, kh, kw, stride, pad, Ho, Wo;
} cb_geom;

/* col[r, p] = x[c, oh*s - pad + ki, ow*s - pad + kj] (0 outside). Index over
 * C*kh*kw*Ho*Wo. */
typedef struct {
  const float *x;
  float *col;
  cb_geom g;
} cb_k_im2col;
CB_HD static inline void cb_kb_im2col(int64_t i, const cb_k_im2col *a) {
  const cb_geom *g = &a->g;
  int64_t T = (int64_t)g->Ho * g->Wo;
  int64_t r = i / T, p = i % T;
  int kj = (int)(r % g->kw);
  int ki = (int)((r / g->kw) % g->kh);
  int64_t c = r / ((int64_t)g->kw * g->kh);
  int oh = (int)(p / g->Wo), ow = (int)(p % g->Wo);
  int h = oh * g->stride - g->pad + ki;
  int w = ow * g->stride - g->pad + kj;
  float v = 0.0f;
  if (h >= 0 && h < g->H && w >= 0 && w < g->W) v = a->x[(c * g->H + h) * g->W + w];
  a->col[i] = v;
}

/* The adjoint of im2col, as a gather so no two indices write the same
 * address (deterministic, no atomics): x[c, h, w] (+)= sum of the column
 * entries that read it. Index over C*H*W. */
typedef struct {
  const float *col;
  float *x;
  cb_geom g;
  int accumulate;
} cb_k_col2im;
CB_HD static inline void cb_kb_col2im(int64_t i, const cb_k_col2im *a) {
  const cb_geom *g = &a->g;
  int w = (int)(i % g->W);
  int h = (int)((i / g->W) % g->H);
  int64_t c = i / ((int64_t)g->W * g->H);
  int64_t T = (int64_t)g->Ho * g->Wo;
  float s = 0.0f;
  for (int ki = 0; ki < g->kh; ki++) {
    int hh = h + g->pad - ki;
    if (hh < 0 || hh % g->stride) continue;
    int oh = hh / g->stride;
    if (oh >= g->Ho) continue;
    for (int kj = 0; kj < g->kw; kj++) {
      int ww = w + g->pad - kj;
      if (ww < 0 || ww % g->stride) continue;
      int ow = ww / g->stride;
      if (ow >= g->Wo) continue;
      int64_t r = (c * g->kh + ki) * g->kw + kj;
      s += a->col[r * T + (int64_t)oh * g->Wo + ow];
    }
  }
  if (a->accumulate)
    a->x[i] += s;
  else
    a->x[i] = s;
}

#endif
