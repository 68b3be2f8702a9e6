/* Preview images: scans with their masks overlaid, so a user sees what the
 * model is asked to learn (and, given predictions, what it learnt).
 *
 * Layout: a header naming the columns (scan, truth, prediction), then one row
 * per image: its name and subject, the scan (robust 1-99 percentile grey
 * window), the scan tinted by the true mask and optionally by the predicted
 * one; at the bottom a legend. Colours are Paul Tol's "muted" qualitative
 * scheme (distinguishable with the common colour-vision deficiencies),
 * continued with Okabe-Ito for more than ten classes; class 0 (background)
 * is left untinted and a class named "fluid" always gets the wine colour. */
#include "core/base/error.h"
#include "core/data/dataset.h"
#include "core/data/font5x7.h"
#include "core/data/png.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t PALETTE[][3] = {
    {0, 0, 0},       /* class 0: untinted */
    {204, 102, 119}, /* rose */
    {136, 204, 238}, /* cyan */
    {221, 204, 119}, /* sand */
    {51, 34, 136},   /* indigo */
    {68, 170, 153},  /* teal */
    {170, 68, 153},  /* purple */
    {153, 153, 51},  /* olive */
    {17, 119, 51},   /* green */
    {136, 34, 85},   /* wine */
    {221, 221, 221}, /* pale grey */
    {230, 159, 0},   /* Okabe-Ito orange */
    {86, 180, 233},  /* sky blue */
    {0, 158, 115},   /* bluish green */
    {240, 228, 66},  /* yellow */
    {0, 114, 178},   /* blue */
    {213, 94, 0},    /* vermillion */
    {204, 121, 167}, /* reddish purple */
};
enum { N_PALETTE = (int)(sizeof PALETTE / sizeof PALETTE[0]) };
static const uint8_t WINE[3] = {136, 34, 85};
static const double ALPHA = 0.5;

static const uint8_t *class_colour(const cb_dataset *d, int c) {
  if (strcmp(d->class_names[c], "fluid") == 0) return WINE;
  if (c == 0) return NULL;
  return PALETTE[1 + (c - 1) % (N_PALETTE - 1)];
}

typedef struct {
  uint8_t *px;
  int W, H;
} canvas;

static void fill_rect(canvas *cv, int x0, int y0, int w, int h, const uint8_t *rgb) {
  for (int y = y0; y < y0 + h; y++)
    for (int x = x0; x < x0 + w; x++) {
      if (x < 0 || y < 0 || x >= cv->W || y >= cv->H) continue;
      memcpy(cv->px + ((size_t)y * cv->W + x) * 3, rgb, 3);
    }
}

static int text_width(const char *s, int scale) {
  return (int)strlen(s) * 6 * scale;
}

static void draw_text(canvas *cv, int x, int y, const char *s, int scale, const uint8_t *rgb) {
  for (; *s; s++, x += 6 * scale) {
    const uint8_t *g = cb_font5x7(*s);
    if (!g) continue;
    for (int r = 0; r < 7; r++)
      for (int c = 0; c < 5; c++)
        if (g[r] & (0x10 >> c)) fill_rect(cv, x + c * scale, y + r * scale, scale, scale, rgb);
  }
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* Grey window of one image: its 1st and 99th percentiles. */
static int grey_window(const float *img, size_t n, float *lo, float *hi) {
  float *s = malloc(n * sizeof *s);
  if (!s) return cb_error("out of memory drawing a preview");
  memcpy(s, img, n * sizeof *s);
  qsort(s, n, sizeof *s, cmp_float);
  *lo = s[(size_t)(0.01 * (double)(n - 1))];
  *hi = s[(size_t)(0.99 * (double)(n - 1))];
  if (!(*hi > *lo)) *hi = *lo + 1.0f;
  free(s);
  return 0;
}

/* One tile: the scan, tinted by mask when given. */
static void draw_tile(canvas *cv, int x0, int y0, int scale, const cb_dataset *d, const float *img,
                      const uint8_t *mask, float lo, float hi) {
  for (int y = 0; y < d->H * scale; y++)
    for (int x = 0; x < d->W * scale; x++) {
      size_t i = (size_t)(y / scale) * d->W + (size_t)(x / scale);
      double g = ((double)img[i] - lo) / ((double)hi - lo);
      g = g < 0.0 ? 0.0 : g > 1.0 ? 1.0 : g;
      double rgb[3] = {255.0 * g, 255.0 * g, 255.0 * g};
      if (mask && mask[i] < d->classes) {
        const uint8_t *c = class_colour(d, mask[i]);
        if (c)
          for (int k = 0; k < 3; k++)
            rgb[k] = (1.0 - ALPHA) * rgb[k] + ALPHA * c[k];
      }
      uint8_t *p = cv->px + ((size_t)(y0 + y) * cv->W + (size_t)(x0 + x)) * 3;
      for (int k = 0; k < 3; k++)
        p[k] = (uint8_t)lrint(rgb[k]);
    }
}

int cb_preview_png(const char *path, const cb_dataset *d, const int *idx, int count,
                   const uint8_t *preds) {
  if (count < 1) return cb_error("preview: nothing to draw (count %d)", count);
  for (int k = 0; k < count; k++)
    if (idx[k] < 0 || idx[k] >= d->n)
      return cb_error("preview: image %d does not exist (the dataset has %d)", idx[k], d->n);
  static const uint8_t WHITE[3] = {255, 255, 255}, INK[3] = {20, 20, 20}, GREY[3] = {90, 90, 90};
  const int scale = d->H < 128 ? (128 + d->H - 1) / d->H : 1;
  const int cols = preds ? 3 : 2, gap = 6, margin = 10;
  const int tw = d->W * scale, th = d->H * scale;
  const int label_h = 7 + 6, header_h = 14 + 10;
  /* Legend: entries of swatch + text, wrapped to the width. */
  int width = 2 * margin + cols * tw + (cols - 1) * gap;
  if (width < 360) width = 360;
  char text[CB_DATA_MAX_CLASSES][CB_DATA_NAME_MAX + 32];
  int entry_w = 0;
  for (int c = 0; c < d->classes; c++) {
    char b[32];
    snprintf(text[c], sizeof text[c], "%d %s%s", c, cb_dataset_class_name(d, c, b, sizeof b),
             class_colour(d, c) ? "" : " (untinted)");
    int w = 16 + 6 + text_width(text[c], 1) + 12;
    if (w > entry_w) entry_w = w;
  }
  int per_line = (width - 2 * margin) / entry_w;
  if (per_line < 1) per_line = 1;
  int legend_lines = (d->classes + per_line - 1) / per_line;
  int height = margin + header_h + count * (label_h + th + gap) + 8 + legend_lines * 20 + margin;
  canvas cv = {malloc((size_t)width * height * 3), width, height};
  if (!cv.px) return cb_error("preview: out of memory for a %dx%d picture", width, height);
  fill_rect(&cv, 0, 0, width, height, WHITE);
  static const char *const HEAD[3] = {"scan", "truth", "prediction"};
  for (int c = 0; c < cols; c++)
    draw_text(&cv, margin + c * (tw + gap), margin, HEAD[c], 2, INK);
  int y = margin + header_h;
  size_t px = (size_t)d->H * d->W;
  int rc = 0;
  for (int k = 0; k < count && !rc; k++) {
    int i = idx[k];
    char label[128];
    snprintf(label, sizeof label, "%s  subject %d", d->names && d->names[i] ? d->names[i] : "",
             d->subjects[i]);
    if (!(d->names && d->names[i]))
      snprintf(label, sizeof label, "image %d  subject %d", i, d->subjects[i]);
    draw_text(&cv, margin, y, label, 1, GREY);
    y += label_h;
    const float *img = d->images + (size_t)i * px;
    float lo = 0.0f, hi = 1.0f;
    if (grey_window(img, px, &lo, &hi)) {
      rc = -1;
      break;
    }
    draw_tile(&cv, margin, y, scale, d, img, NULL, lo, hi);
    draw_tile(&cv, margin + tw + gap, y, scale, d, img, d->masks + (size_t)i * px, lo, hi);
    if (preds)
      draw_tile(&cv, margin + 2 * (tw + gap), y, scale, d, img, preds + (size_t)k * px, lo, hi);
    y += th + gap;
  }
  y += 8;
  for (int c = 0; c < d->classes && !rc; c++) {
    int lx = margin + (c % per_line) * entry_w, ly = y + (c / per_line) * 20;
    const uint8_t *col = class_colour(d, c);
    fill_rect(&cv, lx, ly, 16, 16, INK);
    fill_rect(&cv, lx + 1, ly + 1, 14, 14, col ? col : WHITE);
    draw_text(&cv, lx + 22, ly + 4, text[c], 1, INK);
  }
  if (!rc) rc = cb_png_write_rgb(path, cv.px, width, height);
  free(cv.px);
  return rc;
}
