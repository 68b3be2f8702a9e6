/* Predictions of a checkpoint on dataset images, for previews. */
#include "core/cli/predict.h"

#include "core/base/error.h"
#include "core/io/checkpoint.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The runner stores the training split's normalisation in the checkpoint;
 * images are normalised the same way before the forward pass. */
static void norm_from_meta(const cb_meta *md, double *mean, double *std) {
  const char *m = cb_meta_get(md, "norm_mean"), *s = cb_meta_get(md, "norm_std");
  *mean = m ? strtod(m, NULL) : 0.0;
  *std = s ? strtod(s, NULL) : 1.0;
  if (!isfinite(*std) || *std <= 0) *std = 1.0;
  if (!isfinite(*mean)) *mean = 0.0;
}

int cb_predict_with_checkpoint(const char *ckpt, const cb_dataset *d, const int *idx, int n,
                               uint8_t *preds) {
  cb_model_cfg cfg;
  cb_meta md = {0};
  if (cb_checkpoint_model_cfg(ckpt, &cfg, &md)) return -1;
  if (cfg.in_channels != 1)
    return cb_meta_free(&md), cb_error("%s: the model takes %d input channels; the dataset has 1",
                                       ckpt, cfg.in_channels);
  if (cfg.classes < d->classes)
    return cb_meta_free(&md), cb_error("%s: the model predicts %d classes, the dataset has %d",
                                       ckpt, cfg.classes, d->classes);
  double mean, std;
  norm_from_meta(&md, &mean, &std);
  cb_meta_free(&md);
  const cb_backend *be = cb_backend_cpu();
  cb_model *m = cb_model_create(be, &cfg, d->H, d->W);
  if (!m) return cb_error_prefix("%s: ", ckpt);
  int rc = cb_model_alloc(m, 1) || cb_checkpoint_load(ckpt, m, NULL, NULL) ? -1 : 0;
  int64_t T = (int64_t)d->H * d->W;
  float *x = rc ? NULL : cb_malloc(sizeof(float) * T, "image");
  if (!rc && !x) rc = -1;
  const cb_node *out = rc ? NULL : &m->nodes[m->n_nodes - 1];
  for (int k = 0; !rc && k < n; k++) {
    const float *src = d->images + (int64_t)idx[k] * T;
    for (int64_t j = 0; j < T; j++)
      x[j] = (float)((src[j] - mean) / std);
    be->upload(be, m->input, x, sizeof(float) * T);
    cb_model_forward(m, 1);
    cb_launch_argmax(be, T, (cb_k_argmax){out->out, preds + k * T, cfg.classes, (int)T});
  }
  free(x);
  cb_model_free(m);
  return rc;
}
