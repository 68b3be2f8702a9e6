/* Evaluation on the configured split, and checkpoints of the trainer state. */
#include "core/base/error.h"
#include "core/io/checkpoint.h"
#include "experiments/trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cb_trainer_evaluate(cb_trainer *t, int test, cb_eval_stats *out) {
  cb_model *m = t->m;
  const int *idx = test ? t->test_idx : t->eval_idx;
  int n_eval = test ? t->n_test : t->n_eval;
  int64_t T = (int64_t)m->H * m->W;
  const cb_node *logits = &m->nodes[m->n_nodes - 1];
  double loss = 0.0;
  cb_confusion_reset(&t->cm);
  /* metrics.dice per_image: the study's Dice, one image at a time. */
  cb_image_dice per_image;
  int by_image = t->e->metrics.dice == CB_DICE_PER_IMAGE;
  if (by_image && cb_image_dice_init(&per_image, m->cfg.classes, t->data.background, 1e-4))
    return -1;
  for (int c0 = 0; c0 < n_eval; c0 += t->max_phys) {
    int n = n_eval - c0 < t->max_phys ? n_eval - c0 : t->max_phys;
    for (int k = 0; k < n; k++) {
      int i = idx[c0 + k];
      memcpy(t->hx + k * T, t->data.images + (int64_t)i * T, sizeof(float) * T);
      memcpy(t->hy + k * T, t->data.masks + (int64_t)i * T, (size_t)T);
    }
    m->be->upload(m->be, m->input, t->hx, sizeof(float) * n * T);
    m->be->upload(m->be, m->labels, t->hy, (size_t)n * T);
    cb_model_forward(m, n);
    cb_model_loss(m, n);
    for (int k = 0; k < n; k++)
      loss += m->host_loss[k];
    cb_launch_argmax(m->be, n * T, (cb_k_argmax){logits->out, t->pred_dev, m->cfg.classes, (int)T});
    m->be->download(m->be, t->pred, t->pred_dev, (size_t)n * T);
    if (cb_confusion_add(&t->cm, t->hy, t->pred, (size_t)n * T)) return -1;
    for (int k = 0; by_image && k < n; k++)
      if (cb_image_dice_add(&per_image, t->hy + k * T, t->pred + k * T, (size_t)T)) return -1;
  }
  if (m->be->status(m->be)) return -1; /* a device failure must not become a row */
  out->loss = loss / n_eval;
  cb_confusion_finish(&t->cm, &out->metrics);
  if (by_image) cb_image_dice_finish(&per_image, &out->metrics);
  return 0;
}

static int meta_num(cb_meta *md, const char *key, double v) {
  char buf[64];
  snprintf(buf, sizeof buf, "%.17g", v);
  return cb_meta_set(md, key, buf);
}

int cb_trainer_save(cb_trainer *t, const char *path) {
  cb_meta md = {0};
  char *hist = cb_history_to_json(&t->hist);
  int rc = !hist || cb_meta_set(&md, "run_id", t->id) || meta_num(&md, "epoch", t->epochs_done) ||
           meta_num(&md, "step", t->step) || cb_meta_set(&md, "accountant_history", hist) ||
           meta_num(&md, "clip_bound", t->dp ? cb_dp_clip_bound(t->dp) : NAN) ||
           meta_num(&md, "noise_multiplier", t->sigma) ||
           meta_num(&md, "norm_mean", t->norm.mean) || meta_num(&md, "norm_std", t->norm.std) ||
           meta_num(&md, "best_val_dice", t->best_val_dice) ||
           meta_num(&md, "best_val_epoch", t->best_val_epoch) ||
           cb_meta_set(&md, "rng", "philox4x32-10 keyed by seed; counters = logical step") ||
           cb_meta_set(&md, "data_fingerprint", t->data_fp) || cb_audit_save(t, &md);
  free(hist);
  if (!rc) rc = cb_checkpoint_save(path, t->m, t->opt, &md);
  cb_meta_free(&md);
  return rc ? -1 : 0;
}

static int meta_double(const cb_meta *md, const char *path, const char *key, double *out) {
  const char *v = cb_meta_get(md, key);
  char *end;
  if (!v) return cb_error("%s: checkpoint metadata has no '%s'", path, key);
  *out = strtod(v, &end);
  if (end == v || *end)
    return cb_error("%s: checkpoint metadata '%s' is not a number: %.40s", path, key, v);
  return 0;
}

/* A counter of the run (epochs, steps): a whole number in [0, max]. The file
 * is ours, but a corrupt or edited one must not set a counter out of range
 * (converting such a double to an integer is undefined). */
static int meta_count(const cb_meta *md, const char *path, const char *key, double max,
                      double *out) {
  if (meta_double(md, path, key, out)) return -1;
  if (!(*out >= 0 && *out <= max && *out == floor(*out)))
    return cb_error("%s: checkpoint metadata '%s' is %.40s, not a whole number in 0..%.0f (a "
                    "corrupt checkpoint: delete it to restart the run)",
                    path, key, cb_meta_get(md, key), max);
  return 0;
}

int cb_trainer_restore(cb_trainer *t, const char *path) {
  cb_meta md = {0};
  if (cb_checkpoint_load(path, t->m, t->opt, &md)) return -1;
  int rc = -1;
  double epoch = 0, step = 0, bound = NAN;
  const char *id = cb_meta_get(&md, "run_id");
  const char *hist = cb_meta_get(&md, "accountant_history");
  const char *fp = cb_meta_get(&md, "data_fingerprint"); /* absent before issue 16 */
  if (!id || strcmp(id, t->id) != 0)
    cb_error("%s: checkpoint belongs to run %s, not %s", path, id ? id : "(none)", t->id);
  else if (fp && strcmp(fp, t->data_fp) != 0) {
    const char *slash = strrchr(path, '/');
    cb_error("%s: the data changed since this run started (fingerprint of images, masks and "
             "normalisation %.12s... then, %.12s... now), and resuming would mix two datasets: "
             "restore the data, or delete the folder %.*s to train the run from scratch",
             path, fp, t->data_fp, slash ? (int)(slash - path) : 1, slash ? path : ".");
  } else if (!hist)
    cb_error("%s: checkpoint metadata has no accountant history", path);
  else if (!meta_count(&md, path, "epoch", t->e->train.epochs, &epoch) &&
           !meta_count(&md, path, "step", UINT32_MAX, &step) &&
           !meta_double(&md, path, "clip_bound", &bound)) {
    /* The bound in force (adaptive clipping moves it) must be one DP can use. */
    if (t->dp && !(isfinite(bound) && bound > 0))
      cb_error("%s: checkpoint metadata 'clip_bound' is %g, not a positive number (a corrupt "
               "checkpoint: delete it to restart the run)",
               path, bound);
    else if (cb_history_from_json(&t->hist, hist))
      cb_error_prefix("%s: checkpoint metadata: ", path);
    else if (!cb_audit_restore(t, &md, path))
      rc = 0;
  }
  if (!rc) {
    t->epochs_done = (int)epoch;
    t->step = (uint32_t)step;
    t->noisy_steps = t->private_run ? cb_history_steps(&t->hist) : (long long)t->step;
    t->pending = 0;
    /* Checkpoints written before the best-validation checkpoint existed
     * have no record of it: the best so far is then unknown (NaN). */
    double bd = NAN, be = 0;
    const char *v = cb_meta_get(&md, "best_val_epoch");
    if (v && !meta_double(&md, path, "best_val_dice", &bd) &&
        !meta_count(&md, path, "best_val_epoch", epoch, &be)) {
      t->best_val_dice = bd;
      t->best_val_epoch = (int)be;
    } else {
      t->best_val_dice = NAN;
      t->best_val_epoch = 0;
      if (v) rc = -1;
    }
    if (t->dp) cb_dp_set_clip_bound(t->dp, bound);
  }
  cb_meta_free(&md);
  return rc;
}
