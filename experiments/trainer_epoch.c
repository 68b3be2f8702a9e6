/* One training epoch: Poisson (or shuffled) logical batches, physical chunks,
 * one DP step and one optimizer update per logical batch. Everything random
 * is a function of (seed, logical step), so a resumed run repeats exactly. */
#include "core/base/error.h"
#include "core/kernels/philox.h"
#include "experiments/trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Indices of logical batch `s` of the epoch. Poisson: each training image
 * joins with probability q, decided by (seed, global step, image). Shuffle:
 * consecutive slices of a per-epoch permutation (not Poisson sampling: the
 * accountant's guarantee assumes Poisson, so DP runs should keep poisson). */
int cb_trainer_draw_batch(cb_trainer *t, int s, int *out) {
  const cb_experiment *e = t->e;
  if (e->train.sampling == CB_SAMPLING_POISSON) {
    int n = cb_poisson_batch((uint64_t)e->seed, t->step, t->n_train, t->q, out);
    for (int k = 0; k < n; k++)
      out[k] = t->train_idx[out[k]];
    return n;
  }
  int N = t->n_train, B = e->train.batch_size;
  if (s == 0) {
    for (int k = 0; k < N; k++)
      t->batch[k] = k;
    for (int k = N - 1; k > 0; k--) {
      double u =
          cb_uniform((uint64_t)e->seed, CB_STREAM_SHUFFLE, (uint32_t)t->epochs_done, (uint64_t)k);
      int j = (int)((1.0 - u) * (k + 1));
      if (j > k) j = k;
      int tmp = t->batch[k];
      t->batch[k] = t->batch[j];
      t->batch[j] = tmp;
    }
  }
  int lo = s * B, hi = lo + B < N ? lo + B : N;
  for (int k = lo; k < hi; k++)
    out[k - lo] = t->train_idx[t->batch[k]];
  return hi > lo ? hi - lo : 0;
}

/* Uploads images idx[0..n) (already normalised) and their masks. */
void cb_trainer_load_chunk(cb_trainer *t, const int *idx, int n) {
  int64_t T = (int64_t)t->data.H * t->data.W;
  for (int k = 0; k < n; k++) {
    memcpy(t->hx + k * T, t->data.images + (int64_t)idx[k] * T, sizeof(float) * T);
    memcpy(t->hy + k * T, t->data.masks + (int64_t)idx[k] * T, (size_t)T);
  }
  t->m->be->upload(t->m->be, t->m->input, t->hx, sizeof(float) * n * T);
  t->m->be->upload(t->m->be, t->m->labels, t->hy, (size_t)n * T);
}

/* Pixels predicted right in the current chunk (argmax of the logits). */
static int64_t correct_pixels(cb_trainer *t, int n) {
  cb_model *m = t->m;
  int64_t T = (int64_t)m->H * m->W;
  const cb_node *out = &m->nodes[m->n_nodes - 1];
  cb_launch_argmax(m->be, n * T, (cb_k_argmax){out->out, t->pred_dev, m->cfg.classes, (int)T});
  m->be->download(m->be, t->pred, t->pred_dev, (size_t)n * T);
  int64_t c = 0;
  for (int64_t j = 0; j < n * T; j++)
    c += t->pred[j] == t->hy[j];
  return c;
}

static int grads_finite(cb_trainer *t) {
  double s;
  cb_rows_sqnorm(t->m, t->m->grads, t->m->n_params, t->m->n_params, 1, &s);
  return isfinite(s);
}

/* Forward, loss, backward and per-sample clipping of the n images sel[..]
 * into the step begun on the engine, in physical chunks; the images' losses
 * and right pixels are added to *loss_sum and *correct. */
static int accumulate_batch(cb_trainer *t, const int *sel, int n, int epoch, int s, double lr,
                            double *loss_sum, int64_t *correct) {
  cb_model *m = t->m;
  for (int c0 = 0; c0 < n || (n == 0 && c0 == 0); c0 += t->max_phys) {
    int nc = n - c0 < t->max_phys ? n - c0 : t->max_phys;
    if (nc > 0) {
      cb_trainer_load_chunk(t, sel + c0, nc);
      cb_model_forward(m, nc);
      cb_model_loss(m, nc);
      for (int k = 0; k < nc; k++) {
        if (!isfinite(m->host_loss[k]))
          return cb_error("diverged at epoch %d, step %d: the loss of image %d is %g; lower "
                          "train.lr (now %g) or check the data",
                          epoch + 1, s + 1, sel[c0 + k], m->host_loss[k], lr);
        *loss_sum += m->host_loss[k];
      }
      *correct += correct_pixels(t, nc);
      cb_model_backward(m, nc);
    }
    if (cb_dp_accumulate(t->dp, nc > 0 ? nc : 0)) return -1;
    if (n == 0) break;
  }
  return 0;
}

/* RS as published pairs batches across epoch boundaries (the study's
 * counter ran over the whole run). A run resumed from a checkpoint taken
 * between the two batches of a pair accumulates the first one again: no
 * update happened since, so its clipped gradients are the same. */
static int redo_pending(cb_trainer *t, int *sel, double lr) {
  int ep = t->epochs_done, s_last = t->steps_per_epoch - 1;
  uint32_t step = t->step;
  t->epochs_done = ep - 1;
  t->step = step - 1;
  if (t->e->train.sampling == CB_SAMPLING_SHUFFLE) cb_trainer_draw_batch(t, 0, sel);
  int n = cb_trainer_draw_batch(t, s_last, sel);
  t->epochs_done = ep;
  t->step = step;
  cb_dp_step_info info = {step - 1, ep - 1, s_last};
  double loss = 0.0;
  int64_t correct = 0;
  if (cb_dp_begin_step(t->dp, &info) ||
      accumulate_batch(t, sel, n, ep - 1, s_last, lr, &loss, &correct))
    return -1;
  t->pending = 1;
  return 0;
}

int cb_trainer_epoch(cb_trainer *t, cb_epoch_stats *st, cb_step_hook hook, void *ctx) {
  cb_model *m = t->m;
  int64_t T = (int64_t)m->H * m->W;
  memset(st, 0, sizeof *st);
  int epoch = t->epochs_done;
  double lr = cb_trainer_lr(t, epoch);
  double loss_sum = 0.0;
  int64_t correct = 0;
  int images = 0, sampled = 0, noisy = 0;
  /* RS as published: one noisy step for every second batch of the run. */
  int paired = t->private_run && cb_trainer_rs_as_published(t);
  int *sel = cb_malloc((size_t)t->n_train * sizeof(int), "batch indices");
  if (!sel) return -1;
  if (paired && (t->step & 1) && !t->pending && redo_pending(t, sel, lr)) {
    free(sel);
    return -1;
  }
  cb_dp_stats_reset(t->dp);
  double bound_sum = 0.0;
  for (int s = 0; s < t->steps_per_epoch; s++) {
    int n = cb_trainer_draw_batch(t, s, sel);
    sampled += n;
    cb_dp_step_info info = {t->step, epoch, s};
    int second = paired && (t->step & 1);
    if (!second && cb_dp_begin_step(t->dp, &info)) {
      free(sel);
      return -1;
    }
    if (accumulate_batch(t, sel, n, epoch, s, lr, &loss_sum, &correct)) {
      free(sel);
      return -1;
    }
    images += n;
    if (paired && !second) {
      t->pending = 1;
      t->step++;
      if (hook && hook(ctx, s, t->steps_per_epoch, images ? loss_sum / images : NAN)) {
        free(sel);
        return -1;
      }
      continue;
    }
    t->pending = 0;
    /* The audit's gradient canaries that this step's draw picked. */
    int canaries = cb_audit_step(t);
    cb_dp_step_result r;
    if (canaries < 0 || cb_dp_finish_step(t->dp, &r)) {
      free(sel);
      return -1;
    }
    bound_sum += r.clip_bound;
    noisy++;
    /* A non-private step on an empty batch has nothing to learn from; a
     * private one still takes its noisy step (that is what was accounted). */
    if (t->private_run || r.n_samples + canaries > 0) {
      if (cb_audit_after_step(t)) {
        free(sel);
        return -1;
      }
      if (!grads_finite(t)) {
        free(sel);
        return cb_error("diverged at epoch %d, step %d: the gradient is not finite; lower "
                        "train.lr (now %g)",
                        epoch + 1, s + 1, lr);
      }
      cb_optim_step(t->opt, m->params, m->grads, lr);
      if (m->be->status(m->be)) {
        free(sel);
        return -1;
      }
    }
    if (t->private_run && cb_history_add(&t->hist, cb_dp_accounting_sigma(t->dp), t->q, 1)) {
      free(sel);
      return -1;
    }
    t->noisy_steps++;
    t->step++;
    if (hook && hook(ctx, s, t->steps_per_epoch, images ? loss_sum / images : NAN)) {
      free(sel);
      return -1;
    }
  }
  free(sel);
  st->steps = noisy;
  st->images = images;
  st->loss = images ? loss_sum / images : NAN;
  st->pixel_acc = images ? (double)correct / ((double)images * T) : NAN;
  st->realised_batch = (double)sampled / t->steps_per_epoch;
  st->frac_clipped = t->private_run ? cb_dp_stats_frac_clipped(t->dp) : NAN;
  if (t->private_run)
    cb_dp_stats_percentiles(t->dp, st->norm_pct);
  else
    for (int k = 0; k < CB_NPCT; k++)
      st->norm_pct[k] = NAN;
  /* The mean bound in force (it moves under adaptive clipping). */
  st->clip_bound = t->private_run && noisy ? bound_sum / noisy : NAN;
  return 0;
}
