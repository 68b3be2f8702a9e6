/* MaxPool2d(2) and bilinear Upsample x2 (align_corners=True) bodies. */
#ifndef CB_KERNELS_POOL_H
#define CB_KERNELS_POOL_H

#include "core/kernels/hd.h"

/* y[n,c,oh,ow] = max of the 2x2 window; idx records which of the four won
 * (first maximum in row-major order, as PyTorch). One index per output row:
 * index over N*C*Ho; H and W are the input size (even). */
typedef struct {
  const float *x;
  float *y;
  unsigned char *idx;
  int H, W;
} cb_k_maxpool_fwd;
CB_HD static inline void cb_kb_maxpool_fwd(int64_t i, const cb_k_maxpool_fwd *a) {
  int Wo = a->W / 2, Ho = a->H / 2;
  int oh = (int)(i % Ho);
  int64_t nc = i / Ho;
  const float *p0 = a->x + nc * a->H * a->W + (int64_t)(2 * oh) * a->W, *p1 = p0 + a->W;
  float *y = a->y + i * Wo;
  unsigned char *id = a->idx + i * Wo;
  for (int ow = 0; ow < Wo; ow++) {
    /* A NaN wins (PyTorch's rule), so divergence is not hidden by the pool. */
    float v[4] = {p0[2 * ow], p0[2 * ow + 1], p1[2 * ow], p1[2 * ow + 1]};
    float best = v[0];
    int k = 0;
    for (int q = 1; q < 4; q++)
      if (v[q] > best || (v[q] != v[q] && best == best)) {
        best = v[q];
        k = q;
      }
    y[ow] = best;
    id[ow] = (unsigned char)k;
  }
}

/* dx[n,c,h,w] += dy of its window if it was the window's maximum. One index
 * per input row: index over N*C*H. */
typedef struct {
  const float *dy;
  const unsigned char *idx;
  float *dx;
  int H, W;
} cb_k_maxpool_bwd;
CB_HD static inline void cb_kb_maxpool_bwd(int64_t i, const cb_k_maxpool_bwd *a) {
  int h = (int)(i % a->H);
  int64_t nc = i / a->H;
  int Wo = a->W / 2, Ho = a->H / 2;
  int64_t o = nc * Ho * Wo + (int64_t)(h / 2) * Wo;
  const float *dy = a->dy + o;
  const unsigned char *id = a->idx + o;
  float *dx = a->dx + i * a->W;
  int row = (h & 1) * 2;
  for (int w = 0; w < a->W; w++)
    if (id[w / 2] == row + (w & 1)) dx[w] += dy[w / 2];
}

/* Source coordinate of output index o for align_corners=True. */
CB_HD static inline float cb_up_src(int o, int in, int out) {
  return out > 1 ? (float)o * (float)(in - 1) / (float)(out - 1) : 0.0f;
}

/* Bilinear x2 forward. One index per output row: index over N*C*(2H). */
typedef struct {
  const float *x;
  float *y;
  int H, W;
} cb_k_upsample_fwd;
CB_HD static inline void cb_kb_upsample_fwd(int64_t i, const cb_k_upsample_fwd *a) {
  int Ho = 2 * a->H, Wo = 2 * a->W;
  int oh = (int)(i % Ho);
  int64_t nc = i / Ho;
  float sh = cb_up_src(oh, a->H, Ho);
  int h0 = (int)sh;
  int h1 = h0 + 1 < a->H ? h0 + 1 : a->H - 1;
  float fh = sh - (float)h0;
  const float *r0 = a->x + nc * a->H * a->W + (int64_t)h0 * a->W;
  const float *r1 = a->x + nc * a->H * a->W + (int64_t)h1 * a->W;
  float *y = a->y + i * Wo;
  for (int ow = 0; ow < Wo; ow++) {
    float sw = cb_up_src(ow, a->W, Wo);
    int w0 = (int)sw;
    int w1 = w0 + 1 < a->W ? w0 + 1 : a->W - 1;
    float fw = sw - (float)w0;
    y[ow] = (1.0f - fh) * ((1.0f - fw) * r0[w0] + fw * r0[w1]) +
            fh * ((1.0f - fw) * r1[w0] + fw * r1[w1]);
  }
}

/* Weight with which output coordinate o reads input coordinate k (1-D). */
CB_HD static inline float cb_up_weight(int o, int k, int in, int out) {
  float s = cb_up_src(o, in, out);
  int i0 = (int)s;
  int i1 = i0 + 1 < in ? i0 + 1 : in - 1;
  float f = s - (float)i0;
  float w = 0.0f;
  if (i0 == k) w += 1.0f - f;
  if (i1 == k) w += f;
  return w;
}

/* Bilinear x2 backward as a gather over the outputs that read input (h, w):
 * those within three output rows/cols of 2h (the scale is just under 2).
 * One index per input row: index over N*C*H. */
typedef struct {
  const float *dy;
  float *dx;
  int H, W;
} cb_k_upsample_bwd;
CB_HD static inline void cb_kb_upsample_bwd(int64_t i, const cb_k_upsample_bwd *a) {
  int Ho = 2 * a->H, Wo = 2 * a->W;
  int h = (int)(i % a->H);
  int64_t nc = i / a->H;
  const float *g = a->dy + nc * Ho * Wo;
  float *dx = a->dx + i * a->W;
  int oh0 = 2 * h - 3 < 0 ? 0 : 2 * h - 3, oh1 = 2 * h + 3 >= Ho ? Ho - 1 : 2 * h + 3;
  for (int w = 0; w < a->W; w++) {
    int ow0 = 2 * w - 3 < 0 ? 0 : 2 * w - 3, ow1 = 2 * w + 3 >= Wo ? Wo - 1 : 2 * w + 3;
    float s = 0.0f;
    for (int oh = oh0; oh <= oh1; oh++) {
      float wh = cb_up_weight(oh, h, a->H, Ho);
      if (wh == 0.0f) continue;
      float row = 0.0f;
      for (int ow = ow0; ow <= ow1; ow++) {
        float ww = cb_up_weight(ow, w, a->W, Wo);
        if (ww != 0.0f) row += ww * g[oh * Wo + ow];
      }
      s += wh * row;
    }
    dx[w] += s;
  }
}

#endif
