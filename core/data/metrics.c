/* Segmentation metrics from a confusion matrix accumulated over a split.
 * Scores are dataset-level per class (pixels of all images pooled), which is
 * stable for thin layers that are tiny in a single image. */
#include "core/base/error.h"
#include "core/data/dataset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int cb_confusion_init(cb_confusion *c, int classes, uint64_t background) {
  memset(c, 0, sizeof *c);
  if (classes < 1 || classes > CB_DATA_MAX_CLASSES)
    return cb_error("metrics: %d classes; need 1..%d", classes, CB_DATA_MAX_CLASSES);
  c->cm = cb_calloc((size_t)classes * (size_t)classes, sizeof *c->cm, "confusion matrix");
  if (!c->cm) return -1;
  c->classes = classes;
  c->background = background;
  return 0;
}

void cb_confusion_reset(cb_confusion *c) {
  memset(c->cm, 0, (size_t)c->classes * (size_t)c->classes * sizeof *c->cm);
}

void cb_confusion_free(cb_confusion *c) {
  free(c->cm);
  memset(c, 0, sizeof *c);
}

int cb_confusion_add(cb_confusion *c, const uint8_t *truth, const uint8_t *pred, size_t n) {
  const int K = c->classes;
  for (size_t i = 0; i < n; i++)
    if (truth[i] >= K || pred[i] >= K)
      return cb_error("metrics: pixel %zu has %s class %d but there are %d classes (0..%d)", i,
                      truth[i] >= K ? "true" : "predicted", truth[i] >= K ? truth[i] : pred[i], K,
                      K - 1);
  for (size_t i = 0; i < n; i++)
    c->cm[(size_t)truth[i] * K + pred[i]]++;
  return 0;
}

void cb_confusion_finish(const cb_confusion *c, cb_metrics *m) {
  const int K = c->classes;
  memset(m, 0, sizeof *m);
  m->classes = K;
  uint64_t total = 0, correct = 0;
  double sd = 0, sdf = 0, si = 0, sif = 0;
  int nd = 0, ndf = 0;
  for (int k = 0; k < K; k++) {
    uint64_t row = 0, col = 0, tp = c->cm[(size_t)k * K + k];
    for (int j = 0; j < K; j++) {
      row += c->cm[(size_t)k * K + j];
      col += c->cm[(size_t)j * K + k];
    }
    total += row;
    correct += tp;
    uint64_t fp = col - tp, fn = row - tp;
    if (tp + fp + fn == 0) {
      m->dice[k] = m->iou[k] = NAN; /* absent from truth and prediction: undefined */
      continue;
    }
    m->dice[k] = 2.0 * (double)tp / (double)(2 * tp + fp + fn);
    m->iou[k] = (double)tp / (double)(tp + fp + fn);
    sd += m->dice[k];
    si += m->iou[k];
    nd++;
    if (!((c->background >> k) & 1)) {
      sdf += m->dice[k];
      sif += m->iou[k];
      ndf++;
    }
  }
  m->pixels = total;
  m->defined = nd;
  m->pixel_accuracy = total ? (double)correct / (double)total : NAN;
  m->mean_dice = nd ? sd / nd : NAN;
  m->mean_iou = nd ? si / nd : NAN;
  m->mean_dice_fg = ndf ? sdf / ndf : NAN;
  m->mean_iou_fg = ndf ? sif / ndf : NAN;
}

/* ---- the study's per-image Dice ---- */

int cb_image_dice_init(cb_image_dice *a, int classes, uint64_t background, double smooth) {
  memset(a, 0, sizeof *a);
  if (classes < 1 || classes > CB_DATA_MAX_CLASSES)
    return cb_error("metrics: %d classes; need 1..%d", classes, CB_DATA_MAX_CLASSES);
  a->classes = classes;
  a->background = background;
  a->smooth = smooth;
  return 0;
}

int cb_image_dice_add(cb_image_dice *a, const uint8_t *truth, const uint8_t *pred, size_t px) {
  const int K = a->classes;
  uint64_t tp[CB_DATA_MAX_CLASSES] = {0}, nt[CB_DATA_MAX_CLASSES] = {0},
           np[CB_DATA_MAX_CLASSES] = {0};
  for (size_t i = 0; i < px; i++) {
    if (truth[i] >= K || pred[i] >= K)
      return cb_error("metrics: pixel %zu has %s class %d but there are %d classes (0..%d)", i,
                      truth[i] >= K ? "true" : "predicted", truth[i] >= K ? truth[i] : pred[i], K,
                      K - 1);
    nt[truth[i]]++;
    np[pred[i]]++;
    tp[truth[i]] += truth[i] == pred[i];
  }
  double mean = 0.0;
  for (int c = 0; c < K; c++) {
    /* The smoothing term sits in the numerator too (2 (TP + s)), as in the
     * study's per_class_dice: an absent class scores 2s / s = 2. */
    double d = 2.0 * ((double)tp[c] + a->smooth) / ((double)nt[c] + (double)np[c] + a->smooth);
    a->sum[c] += d;
    mean += d / K;
  }
  a->sum_mean += mean;
  a->images++;
  return 0;
}

void cb_image_dice_finish(const cb_image_dice *a, cb_metrics *m) {
  if (a->images == 0) return;
  double fg = 0.0;
  int nfg = 0;
  for (int c = 0; c < a->classes; c++) {
    m->dice[c] = a->sum[c] / a->images;
    if (!((a->background >> c) & 1)) {
      fg += m->dice[c];
      nfg++;
    }
  }
  m->mean_dice = a->sum_mean / a->images;
  m->mean_dice_fg = nfg ? fg / nfg : NAN;
}
