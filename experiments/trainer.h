/* The training state of one run, built from a resolved experiment and shared
 * by the runner's files (setup, epoch loop, evaluation, checkpoints). */
#ifndef CB_EXPERIMENTS_TRAINER_H
#define CB_EXPERIMENTS_TRAINER_H

#include "core/data/dataset.h"
#include "core/dp/dp.h"
#include "core/io/safetensors.h"
#include "core/nn/model.h"
#include "core/optim/optim.h"
#include "core/privacy/accountant.h"
#include "experiments/audit.h"
#include "experiments/config.h"

#include <stdint.h>

typedef struct {
  const cb_experiment *e;
  const cb_backend *be;
  char id[CB_RUN_ID_LEN + 1];
  /* data: normalised images, index lists of the splits */
  cb_dataset data;
  cb_split split;
  cb_norm_stats norm;
  const int *train_idx, *eval_idx, *test_idx;
  int n_train, n_eval, n_test;
  /* SHA-256 of what training sees: every normalised image, mask and subject
   * and the normalisation statistics (hex). Stored with the run and in its
   * checkpoints: a resume on other data is refused. */
  char data_fp[65];
  /* model, optimizer, DP engine */
  cb_model *m;
  cb_optim *opt;
  cb_dp *dp;
  int private_run;
  double q;              /* sampling rate (dp.sample_rate rule), what the accountant gets */
  double expected_batch; /* divisor of the noisy sum: q N, or int(q N) under opacus */
  int steps_per_epoch;   /* loader batches per epoch: ceil(N / B) */
  int max_phys;
  double sigma;    /* noise multiplier in force (resolved from target epsilon) */
  cb_history hist; /* accountant history */
  /* progress */
  int epochs_done;
  uint32_t step;         /* logical batches done (keys sampling and noise) */
  long long noisy_steps; /* noise draws = accountant steps done */
  int pending;           /* RS as published: a batch accumulated, its step not taken */
  /* best validation Dice so far and its epoch (0 = none), for the
   * best-validation checkpoint; carried by checkpoints */
  double best_val_dice;
  int best_val_epoch;
  /* host scratch */
  float *hx;
  uint8_t *hy, *pred;
  uint8_t *pred_dev; /* argmax labels on the backend */
  int *batch;
  cb_confusion cm;
  cb_audit_state audit; /* privacy audit (audit.m == 0: none) */
} cb_trainer;

/* Loads data, builds model, optimizer and DP engine. */
int cb_trainer_setup(cb_trainer *t, const cb_experiment *e, const char *id);
/* Loads and checks e's data exactly as cb_trainer_setup would, then frees it:
 * so that a missing or unreadable dataset stops a run, a sweep or a SLURM
 * submission before anything is recorded or queued. Synthetic data is made
 * on the fly and always there: 0 at once. */
int cb_trainer_check_data(const cb_experiment *e);
void cb_trainer_free(cb_trainer *t);

/* dp.sparsification.as_published: per-layer DP-SGD on two batches at a time. */
int cb_trainer_rs_as_published(const cb_trainer *t);
/* Accountant steps of the whole run (dp.target_epsilon's horizon). */
long long cb_trainer_total_noisy_steps(const cb_trainer *t);

/* Learning rate of an epoch (0-based) under the configured schedule. */
double cb_trainer_lr(const cb_trainer *t, int epoch);

typedef struct {
  double loss, pixel_acc; /* means over the epoch's images */
  double realised_batch;  /* mean logical batch size */
  int steps, images;
  double frac_clipped;
  double norm_pct[CB_NPCT];
  double clip_bound;
} cb_epoch_stats;

/* Image indices of logical batch s of the current epoch (Poisson: at the
 * current global step t->step), into out (n_train entries); the count. */
int cb_trainer_draw_batch(cb_trainer *t, int s, int *out);
/* Copies images idx[0..n) and their masks to the model's input buffers. */
void cb_trainer_load_chunk(cb_trainer *t, const int *idx, int n);

/* Callback to report progress and keep the claim alive; non-zero stops. */
typedef int (*cb_step_hook)(void *ctx, int step_in_epoch, int steps, double loss);

/* Trains one epoch (epoch = t->epochs_done). Returns -1 with cb_error set on
 * divergence (the message says where and what to change). */
int cb_trainer_epoch(cb_trainer *t, cb_epoch_stats *st, cb_step_hook hook, void *ctx);

typedef struct {
  double loss;
  cb_metrics metrics;
} cb_eval_stats;

/* Loss and segmentation metrics on the validation split (0) or the test
 * split (1). */
int cb_trainer_evaluate(cb_trainer *t, int test, cb_eval_stats *out);

/* Checkpoint of the state after t->epochs_done epochs; restore reads it
 * back and checks it belongs to this run. */
int cb_trainer_save(cb_trainer *t, const char *path);
int cb_trainer_restore(cb_trainer *t, const char *path);

/* Privacy audit (experiments/audit.c; see audit.h). Setup places the
 * canaries (called by cb_trainer_setup); step adds the included gradient
 * canaries that the step's Poisson draw picks and returns how many (-1 on
 * error); after_step adds the step's privatised gradient to their scores;
 * finish scores input canaries, guesses and computes the bound (once
 * training is complete). Save/restore carry gradient-canary scores in
 * checkpoint metadata. */
int cb_audit_setup(cb_trainer *t);
int cb_audit_step(cb_trainer *t);
int cb_audit_after_step(cb_trainer *t);
int cb_audit_finish(cb_trainer *t, cb_audit_row *r);
int cb_audit_save(const cb_trainer *t, cb_meta *md);
int cb_audit_restore(cb_trainer *t, const cb_meta *md, const char *path);

#endif
