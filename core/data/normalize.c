/* Normalisation with statistics of the training split only, so no
 * information from validation or test images leaks into training. */
#include "core/base/error.h"
#include "core/data/dataset.h"

#include <math.h>

int cb_norm_fit(const cb_dataset *d, const int *idx, int n, cb_norm_stats *out) {
  size_t px = (size_t)d->H * d->W;
  if (n < 1) return cb_error("normalisation: the training split is empty");
  /* Two passes in double: the mean (and range), then the squared deviations. */
  double sum = 0.0, lo = INFINITY, hi = -INFINITY;
  for (int k = 0; k < n; k++) {
    if (idx[k] < 0 || idx[k] >= d->n) return cb_error("normalisation: no image %d", idx[k]);
    const float *x = d->images + (size_t)idx[k] * px;
    for (size_t i = 0; i < px; i++) {
      sum += x[i];
      if (x[i] < lo) lo = x[i];
      if (x[i] > hi) hi = x[i];
    }
  }
  double count = (double)n * (double)px, mean = sum / count, ss = 0.0;
  for (int k = 0; k < n; k++) {
    const float *x = d->images + (size_t)idx[k] * px;
    for (size_t i = 0; i < px; i++)
      ss += ((double)x[i] - mean) * ((double)x[i] - mean);
  }
  double sd = sqrt(ss / count);
  if (!(sd > 0.0) || !isfinite(sd))
    return cb_error("normalisation: the training images are constant (std %g); cannot normalise",
                    sd);
  out->mean = mean;
  out->std = sd;
  out->min = lo;
  out->max = hi;
  out->pixels = (int64_t)n * (int64_t)px;
  return 0;
}

void cb_norm_apply(cb_dataset *d, const cb_norm_stats *s) {
  size_t total = (size_t)d->n * d->H * d->W;
  const double inv = 1.0 / s->std;
  for (size_t i = 0; i < total; i++)
    d->images[i] = (float)(((double)d->images[i] - s->mean) * inv);
}

void cb_norm_apply_unit(cb_dataset *d, const cb_norm_stats *s) {
  size_t total = (size_t)d->n * d->H * d->W;
  const double inv = 1.0 / (s->max - s->min);
  for (size_t i = 0; i < total; i++)
    d->images[i] = (float)(((double)d->images[i] - s->min) * inv);
}
