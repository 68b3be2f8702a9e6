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

/* col[r, p] = x[c, oh*s - pad + ki, ow*s - pad + kj] (0 outside). One index
 * fills one output row segment (r, oh) of Wo values, so the index arithmetic
 * is paid once per row and the inner loop is a (strided) copy. Index over
 * C*kh*kw*Ho. */
typedef struct {
  const float *x;
  float *col;
  cb_geom g;
} cb_k_im2col;
CB_HD static inline void cb_kb_im2col(int64_t i, const cb_k_im2col *a) {
  const cb_geom *g = &a->g;
  int oh = (int)(i % g->Ho);
  int64_t r = i / g->Ho;
  int kj = (int)(r % g->kw);
  int ki = (int)((r / g->kw) % g->kh);
  int64_t c = r / ((int64_t)g->kw * g->kh);
  float *dst = a->col + r * (int64_t)g->Ho * g->Wo + (int64_t)oh * g->Wo;
  int h = oh * g->stride - g->pad + ki;
  if (h < 0 || h >= g->H) {
    for (int ow = 0; ow < g->Wo; ow++)
      dst[ow] = 0.0f;
    return;
  }
  const float *src = a->x + (c * g->H + h) * g->W;
  if (g->stride == 1) {
    int off = kj - g->pad; /* w = ow + off */
    int lo = off < 0 ? -off : 0;
    int hi = g->W - off < g->Wo ? g->W - off : g->Wo;
    for (int ow = 0; ow < lo && ow < g->Wo; ow++)
      dst[ow] = 0.0f;
    for (int ow = lo; ow < hi; ow++)
      dst[ow] = src[ow + off];
    for (int ow = hi > lo ? hi : lo; ow < g->Wo; ow++)
      dst[ow] = 0.0f;
    return;
  }
  for (int ow = 0; ow < g->Wo; ow++) {
    int w = ow * g->stride - g->pad + kj;
    dst[ow] = (w >= 0 && w < g->W) ? src[w] : 0.0f;
  }
}

/* The adjoint of im2col, as a gather so no two indices write the same
 * address (deterministic, no atomics): x[c, h, w] (+)= sum of the column
 * entries that read it. One index produces one image row (c, h) of W values.
 * Index over C*H. */
typedef struct {
  const float *col;
  float *x;
  cb_geom g;
  int accumulate;
} cb_k_col2im;
CB_HD static inline void cb_kb_col2im(int64_t i, const cb_k_col2im *a) {
  const cb_geom *g = &a->g;
  int h = (int)(i % g->H);
  int64_t c = i / g->H;
  int64_t T = (int64_t)g->Ho * g->Wo;
  float *dst = a->x + i * g->W;
  if (!a->accumulate)
    for (int w = 0; w < g->W; w++)
      dst[w] = 0.0f;
  for (int ki = 0; ki < g->kh; ki++) {
    int hh = h + g->pad - ki;
    if (hh < 0 || hh % g->stride) continue;
    int oh = hh / g->stride;
    if (oh >= g->Ho) continue;
    for (int kj = 0; kj < g->kw; kj++) {
      const float *src = a->col + ((c * g->kh + ki) * g->kw + kj) * T + (int64_t)oh * g->Wo;
      if (g->stride == 1) {
        int off = g->pad - kj; /* ow = w + off */
        int lo = off < 0 ? -off : 0;
        int hi = g->Wo - off < g->W ? g->Wo - off : g->W;
        for (int w = lo; w < hi; w++)
          dst[w] += src[w + off];
        continue;
      }
      for (int w = 0; w < g->W; w++) {
        int ww = w + g->pad - kj;
        if (ww < 0 || ww % g->stride) continue;
        int ow = ww / g->stride;
        if (ow < g->Wo) dst[w] += src[ow];
      }
    }
  }
}

#endif
