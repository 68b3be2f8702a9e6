#include "core/data/resize.h"

#include "core/base/error.h"

#include <math.h>
#include <stdlib.h>

/* Filter taps of output index o along an axis of length in -> out. */
typedef struct {
  int first, count;
  double *w;
} taps;

static int make_taps(int in, int out, taps **res, double **pool) {
  double scale = (double)in / (double)out, fs = scale > 1.0 ? scale : 1.0;
  int maxc = (int)ceil(fs) * 2 + 2;
  taps *t = malloc((size_t)out * sizeof *t);
  double *w = malloc((size_t)out * (size_t)maxc * sizeof *w);
  if (!t || !w) {
    free(t);
    free(w);
    return cb_error("out of memory building resize filters");
  }
  for (int o = 0; o < out; o++) {
    double centre = ((double)o + 0.5) * scale;
    int lo = (int)floor(centre - fs), hi = (int)ceil(centre + fs);
    if (lo < 0) lo = 0;
    if (hi > in) hi = in;
    if (hi - lo > maxc) hi = lo + maxc;
    double sum = 0.0;
    t[o].first = lo;
    t[o].w = w + (size_t)o * maxc;
    t[o].count = hi - lo;
    for (int i = lo; i < hi; i++) {
      double d = fabs(((double)i + 0.5 - centre) / fs);
      double v = d < 1.0 ? 1.0 - d : 0.0;
      t[o].w[i - lo] = v;
      sum += v;
    }
    if (sum <= 0.0) { /* cannot happen for in >= 1, but never divide by zero */
      t[o].count = 1;
      t[o].first = (int)fmin(fmax(floor(centre), 0.0), (double)(in - 1));
      t[o].w[0] = 1.0;
      sum = 1.0;
    }
    for (int i = 0; i < t[o].count; i++)
      t[o].w[i] /= sum;
  }
  *res = t;
  *pool = w;
  return 0;
}

int cb_resize_bilinear(const float *src, int h, int w, float *dst, int H, int W) {
  taps *tx = NULL, *ty = NULL;
  double *px = NULL, *py = NULL;
  double *mid = malloc((size_t)h * (size_t)W * sizeof *mid);
  if (!mid || make_taps(w, W, &tx, &px) || make_taps(h, H, &ty, &py)) {
    free(mid);
    free(tx);
    free(px);
    return cb_error("out of memory resizing %dx%d to %dx%d", h, w, H, W);
  }
  for (int y = 0; y < h; y++)
    for (int x = 0; x < W; x++) {
      double a = 0.0;
      for (int i = 0; i < tx[x].count; i++)
        a += tx[x].w[i] * src[(size_t)y * w + tx[x].first + i];
      mid[(size_t)y * W + x] = a;
    }
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      double a = 0.0;
      for (int i = 0; i < ty[y].count; i++)
        a += ty[y].w[i] * mid[(size_t)(ty[y].first + i) * W + x];
      dst[(size_t)y * W + x] = (float)a;
    }
  free(mid);
  free(tx);
  free(px);
  free(ty);
  free(py);
  return 0;
}

int cb_resize_labels_bilinear(const uint8_t *src, int h, int w, uint8_t *dst, int H, int W) {
  size_t n = (size_t)h * (size_t)w, m = (size_t)H * (size_t)W;
  float *a = malloc(n * sizeof *a), *b = malloc(m * sizeof *b);
  int rc = a && b ? 0 : cb_error("out of memory resizing a %dx%d mask", h, w);
  for (size_t i = 0; !rc && i < n; i++)
    a[i] = (float)src[i];
  if (!rc) rc = cb_resize_bilinear(a, h, w, b, H, W);
  /* torch.round: half to even, which nearbyint does in the default rounding
   * mode. A convex combination of labels stays within 0..255. */
  for (size_t i = 0; !rc && i < m; i++) {
    double r = nearbyint((double)b[i]);
    dst[i] = (uint8_t)(r < 0 ? 0 : r > 255 ? 255 : r);
  }
  free(a);
  free(b);
  return rc;
}

void cb_resize_nearest(const uint8_t *src, int h, int w, uint8_t *dst, int H, int W) {
  for (int y = 0; y < H; y++) {
    int sy = (int)(((double)y + 0.5) * (double)h / (double)H);
    if (sy > h - 1) sy = h - 1;
    for (int x = 0; x < W; x++) {
      int sx = (int)(((double)x + 0.5) * (double)w / (double)W);
      if (sx > w - 1) sx = w - 1;
      dst[(size_t)y * W + x] = src[(size_t)sy * w + sx];
    }
  }
}
