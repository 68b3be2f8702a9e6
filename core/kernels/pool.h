/* MaxPool2d(2) and bilinear Upsample x2 (align_corners=True) bodies. */
#ifndef CB_KERNELS_POOL_H
#define CB_KERNELS_POOL_H

#include "core/kernels/hd.h"

/* y[n,c,oh,ow] = max of the 2x2 window; idx records which of the four won
 * (first maximum in row-major order, as PyTorch). Index over N*C*Ho*Wo;
 * H and W are the input size (even). */
typedef struct {
  const float *x;
  float *y;
  unsigned char *idx;
  int H, W;
} cb_k_maxpool_fwd;
CB_HD static inline void cb_kb_maxpool_fwd(int64_t i, const cb_k_maxpool_fwd *a) {
  int Wo = a->W / 2, Ho = a->H / 2;
  int ow = (int)(i % Wo);
  int oh = (int)((i / Wo) % Ho);
  int64_t nc = i / ((int64_t)Wo * Ho);
  const float *p = a->x + nc * a->H * a->W + (int64_t)(2 * oh) * a->W + 2 * ow;
  /* A NaN wins (PyTorch's rule), so divergence is not hidden by the pool. */
  float best = p[0];
  int k = 0;
  if (p[1] > best || p[1] != p[1]) { best = p[1]; k = 1; }
  if (p[a->W] > best || p[a->W] != p[a->W]) { best = p[a->W]; k = 2; }
  if (p[a->W + 1] > best || p[a->W + 1] != p[a->W + 1]) { best = p[a->W + 1]; k = 3; }
  a->y[i] = best;
  a->idx[i] = (unsigned char)k;
}

/* dx[n,c,h,w] += dy of its window if it was the window's maximum. Index over
 * N*C*H*W (input). */
typedef struct {
  const float *dy;
  const unsigned char *idx;
  float *dx;
  int H, W;
} cb_k_maxpool_bwd;
CB_HD static inline void cb_kb_maxpool_bwd(int64_t i, const cb_k_maxpool_bwd *a) {
  int w = (int)(i % a->W);
  int h = (int)((i / a->W) % a->H);
  int64_t nc = i / ((int64_t)a->W * a->H);
  int Wo = a->W / 2, Ho = a->H / 2;
  int64_t o = nc * Ho * Wo + (int64_t)(h / 2) * Wo + w / 2;
  int k = (h & 1) * 2 + (w & 1);
  if (a->idx[o] == k) a->dx[i] += a->dy[o];
}

/* Source coordinate of output index o for align_corners=True. */
CB_HD static inline float cb_up_src(int o, int in, int out) {
  return out > 1 ? (float)o * (float)(in - 1) / (float)(out - 1) : 0.0f;
}

/* Bilinear x2 forward. Index over N*C*(2H)*(2W). */
typedef struct {
  const float *x;
  float *y;
  int H, W;
} cb_k_upsample_fwd;
CB_HD static inline void cb_kb_upsample_fwd(int64_t i, const cb_k_upsample_fwd *a) {
  int Ho = 2 * a->H, Wo = 2 * a->W;
  int ow = (int)(i % Wo);
  int oh = (int)((i / Wo) % Ho);
  int64_t nc = i / ((int64_t)Wo * Ho);
  float sh = cb_up_src(oh, a->H, Ho), sw = cb_up_src(ow, a->W, Wo);
  int h0 = (int)sh, w0 = (int)sw;
  int h1 = h0 + 1 < a->H ? h0 + 1 : a->H - 1;
  int w1 = w0 + 1 < a->W ? w0 + 1 : a->W - 1;
  float fh = sh - (float)h0, fw = sw - (float)w0;
  const float *p = a->x + nc * a->H * a->W;
  float v00 = p[h0 * a->W + w0], v01 = p[h0 * a->W + w1];
  float v10 = p[h1 * a->W + w0], v11 = p[h1 * a->W + w1];
  a->y[i] = (1.0f - fh) * ((1.0f - fw) * v00 + fw * v01) + fh * ((1.0f - fw) * v10 + fw * v11);
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
 * those within two output rows/cols of 2h (the scale is just under 2).
 * Index over N*C*H*W. */
typedef struct {
  const float *dy;
  float *dx;
  int H, W;
} cb_k_upsample_bwd;
CB_HD static inline void cb_kb_upsample_bwd(int64_t i, const cb_k_upsample_bwd *a) {
  int Ho = 2 * a->H, Wo = 2 * a->W;
  int w = (int)(i % a->W);
  int h = (int)((i / a->W) % a->H);
  int64_t nc = i / ((int64_t)a->W * a->H);
  const float *g = a->dy + nc * Ho * Wo;
  float s = 0.0f;
  int oh0 = 2 * h - 3 < 0 ? 0 : 2 * h - 3, oh1 = 2 * h + 3 >= Ho ? Ho - 1 : 2 * h + 3;
  int ow0 = 2 * w - 3 < 0 ? 0 : 2 * w - 3, ow1 = 2 * w + 3 >= Wo ? Wo - 1 : 2 * w + 3;
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
  a->dx[i] += s;
}

#endif
