/* Builds a run's data, model, optimizer and DP engine from its config. */
#include "core/base/cores.h"
#include "core/base/error.h"
#include "core/base/sha256.h"
#include "experiments/trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* t->data_fp: SHA-256 over the sizes, the (normalised) images, masks and
 * subjects and the normalisation statistics, as training sees them. */
static void data_fingerprint(cb_trainer *t) {
  const cb_dataset *d = &t->data;
  size_t px = (size_t)d->n * (size_t)d->H * (size_t)d->W;
  int32_t dims[4] = {d->n, d->H, d->W, d->classes};
  cb_sha256 h;
  cb_sha256_init(&h);
  cb_sha256_update(&h, dims, sizeof dims);
  cb_sha256_update(&h, d->images, px * sizeof *d->images);
  cb_sha256_update(&h, d->masks, px);
  cb_sha256_update(&h, d->subjects, (size_t)d->n * sizeof *d->subjects);
  double stats[2] = {t->norm.mean, t->norm.std};
  cb_sha256_update(&h, stats, sizeof stats);
  uint8_t dig[32];
  cb_sha256_final(&h, dig);
  for (int i = 0; i < 32; i++)
    snprintf(t->data_fp + 2 * i, 3, "%02x", dig[i]);
}

static int load_data(cb_trainer *t) {
  const cb_experiment *e = t->e;
  cb_data_spec spec;
  cb_data_spec_default(&spec);
  spec.source = e->data.source == CB_DATA_SYNTHETIC ? "synthetic" : e->data.path;
  spec.count = e->data.count;
  spec.H = e->data.size[0];
  spec.W = e->data.size[1];
  spec.seed = (uint64_t)e->seed;
  spec.classes = e->model.classes;
  spec.synth.classes = e->model.classes;
  cb_label_map map;
  if (e->data.source != CB_DATA_SYNTHETIC) {
    if (cb_label_map_parse(e->data.label_map, &map)) return cb_error_prefix("data.label_map: ");
    spec.map = &map;
    spec.mask_resize = e->data.mask_resize;
  }
  if (cb_dataset_load(&spec, &t->data)) return -1;
  if (t->data.H != e->data.size[0] || t->data.W != e->data.size[1])
    return cb_error("%s: images are %dx%d, but data.size is [%d, %d]", spec.source, t->data.H,
                    t->data.W, e->data.size[0], e->data.size[1]);
  if (t->data.classes > e->model.classes)
    return cb_error("%s: masks use %d classes, but data.classes is %d; set data.classes: %d",
                    spec.source, t->data.classes, e->model.classes, t->data.classes);
  if (cb_dataset_check_masks(&t->data, spec.source)) return -1;
  if (e->model.in_channels != 1)
    return cb_error("%s: the images have one channel, but model.in_channels is %d", spec.source,
                    e->model.in_channels);

  cb_split_spec ss;
  cb_split_spec_default(&ss);
  if (e->data.split.by == CB_SPLIT_FOLDERS) {
    ss.by_folders = 1;
  } else if (e->data.split.by == CB_SPLIT_FRACTION) {
    ss.by_fraction = 1;
    ss.val_frac = e->data.split.fractions[1];
    ss.test_frac = e->data.split.fractions[2];
    ss.seed = (uint64_t)e->data.split.seed;
  } else {
    const cb_exp_subjects *s3[3] = {&e->data.split.train, &e->data.split.val, &e->data.split.test};
    for (int k = 0; k < 3; k++) {
      ss.subjects[k] = s3[k]->v;
      ss.n_subjects[k] = s3[k]->n;
    }
  }
  if (cb_split_make(&t->data, &ss, &t->split))
    return cb_error_prefix("%s: data.split.by %s: ", spec.source,
                           CB_SPLIT_BY_NAMES[e->data.split.by]);
  t->train_idx = t->split.idx[CB_SPLIT_TRAIN];
  t->n_train = t->split.n[CB_SPLIT_TRAIN];
  int ev = CB_SPLIT_VAL; /* eval.split: test is refused by cb_exp_resolve */
  t->eval_idx = t->split.idx[ev];
  t->n_eval = t->split.n[ev];
  t->test_idx = t->split.idx[CB_SPLIT_TEST];
  t->n_test = t->split.n[CB_SPLIT_TEST];
  if (t->n_train < 1) return cb_error("%s: the training split is empty", spec.source);
  if (t->n_eval < 1)
    return cb_error("%s: the %s split is empty; check data.split", spec.source, CB_SPLIT_NAMES[ev]);

  /* Normalisation statistics come from the training split only, or are the
   * study's fixed constants (data.normalise: fixed). */
  if (e->data.normalise == CB_NORMALISE_FIXED) {
    t->norm.mean = e->data.normalise_mean;
    t->norm.std = e->data.normalise_std;
    cb_norm_apply(&t->data, &t->norm);
  } else if (e->data.normalise != CB_NORMALISE_NONE) {
    if (cb_norm_fit(&t->data, t->train_idx, t->n_train, &t->norm)) return -1;
    if (e->data.normalise == CB_NORMALISE_ZSCORE)
      cb_norm_apply(&t->data, &t->norm);
    else
      cb_norm_apply_unit(&t->data, &t->norm);
  } else {
    t->norm.mean = 0.0;
    t->norm.std = 1.0;
  }
  data_fingerprint(t);
  return 0;
}

static int build_model(cb_trainer *t) {
  const cb_experiment *e = t->e;
  t->m = cb_model_create(t->be, &e->model, e->data.size[0], e->data.size[1]);
  if (!t->m) return -1;
  cb_exp_loss_cfg(e, &t->m->loss);
  t->max_phys = e->train.max_physical_batch > 0 ? e->train.max_physical_batch : e->train.batch_size;
  if (cb_model_alloc(t->m, t->max_phys)) return -1;
  cb_model_init_params(t->m, (uint64_t)e->seed);
  cb_optim_cfg oc;
  cb_exp_optim_cfg(e, &oc);
  if (cb_optim_cfg_validate(&oc)) return -1;
  t->opt = cb_optim_create(t->be, &oc, t->m->n_params);
  return t->opt ? 0 : -1;
}

static cb_accountant primary_accountant(const cb_experiment *e) {
  return e->dp.n_accountants > 0 ? (cb_accountant)e->dp.accountants[0] : CB_ACC_PRV;
}

static int build_dp(cb_trainer *t) {
  const cb_experiment *e = t->e;
  t->private_run = e->dp.clipping != CB_CLIP_NONE;
  int B = e->train.batch_size;
  cb_q_rule rule = (cb_q_rule)e->dp.sample_rate;
  t->steps_per_epoch = (int)cb_steps_per_epoch(B, t->n_train);
  t->q = cb_sample_rate(rule, B, t->n_train);
  t->expected_batch = cb_expected_batch(rule, t->q, t->n_train);
  t->sigma = 0.0;
  if (t->private_run) {
    if (!isnan(e->dp.noise_multiplier)) {
      t->sigma = e->dp.noise_multiplier;
    } else {
      cb_sigma_result r;
      long long steps = cb_trainer_total_noisy_steps(t);
      if (cb_sigma_search(t->q, steps, e->dp.delta, e->dp.target_epsilon, primary_accountant(e),
                          &r))
        return cb_error_prefix("dp.target_epsilon %g: ", e->dp.target_epsilon);
      t->sigma = r.sigma;
    }
  }
  cb_dp_cfg c;
  cb_exp_dp_cfg(e, &c);
  if (cb_trainer_rs_as_published(t)) {
    /* The study's RS code never applied its mask: Opacus clipped every
     * parameter tensor to dp.clip_bound (noise std sigma*C*sqrt(K)). */
    c.mode = CB_CLIP_PER_LAYER;
    c.group_by = CB_GROUP_TENSOR;
    c.thresholds = CB_THRESH_SAME;
  }
  c.noise_multiplier = t->sigma;
  c.expected_batch = t->expected_batch;
  c.steps_per_epoch = t->steps_per_epoch;
  if (!(c.clip_bound > 0)) c.clip_bound = e->dp.clip_bound;
  if (isnan(c.ad_count_std)) c.ad_count_std = 0.0; /* the engine's default: expected batch / 20 */
  t->dp = cb_dp_create(t->m, &c);
  return t->dp ? 0 : -1;
}

int cb_trainer_setup(cb_trainer *t, const cb_experiment *e, const char *id) {
  memset(t, 0, sizeof *t);
  t->e = e;
  snprintf(t->id, sizeof t->id, "%s", id);
  cb_history_init(&t->hist);
  t->best_val_dice = NAN;
  const char *bname = CB_EXP_BACKEND_NAMES[e->backend];
  t->be = cb_backend_get(bname);
  if (!t->be) return -1;
  /* 0: OMP_NUM_THREADS, else the cores this process may use (affinity,
   * cgroup quota, SLURM), not the machine's: more threads than cores makes
   * every parallel region wait for a preempted thread. */
  t->be->set_threads(t->be, e->threads > 0 ? e->threads : cb_default_threads());
  if (load_data(t) || build_model(t) || build_dp(t) || cb_audit_setup(t)) return -1;
  int64_t T = (int64_t)t->data.H * t->data.W;
  t->hx = cb_malloc((size_t)t->max_phys * e->model.in_channels * T * sizeof(float), "batch");
  t->hy = cb_malloc((size_t)t->max_phys * T, "batch");
  t->pred = cb_malloc((size_t)t->max_phys * T, "batch");
  t->batch = cb_malloc((size_t)t->n_train * sizeof(int), "batch");
  if (!t->hx || !t->hy || !t->pred || !t->batch) return -1;
  t->pred_dev = t->be->alloc(t->be, (size_t)t->max_phys * T, "predictions");
  if (!t->pred_dev) return -1;
  return cb_confusion_init(&t->cm, e->model.classes, t->data.background);
}

void cb_trainer_free(cb_trainer *t) {
  if (t->pred_dev) t->be->free(t->be, t->pred_dev);
  cb_dp_free(t->dp);
  cb_optim_free(t->opt);
  cb_model_free(t->m);
  cb_split_free(&t->split);
  cb_dataset_free(&t->data);
  cb_history_free(&t->hist);
  cb_confusion_free(&t->cm);
  cb_audit_free(&t->audit);
  free(t->hx);
  free(t->hy);
  free(t->pred);
  free(t->batch);
  memset(t, 0, sizeof *t);
}

int cb_trainer_rs_as_published(const cb_trainer *t) {
  return t->e->dp.clipping == CB_CLIP_RANDOM_SPARSIFICATION && t->e->dp.sparsification.as_published;
}

long long cb_trainer_total_noisy_steps(const cb_trainer *t) {
  long long batches = (long long)t->e->train.epochs * t->steps_per_epoch;
  return cb_trainer_rs_as_published(t) ? batches / 2 : batches;
}

double cb_trainer_lr(const cb_trainer *t, int epoch) {
  const cb_experiment *e = t->e;
  double lr = e->train.lr;
  int warm = e->train.lr_schedule.warmup;
  if (epoch < warm) return lr * (epoch + 1) / (warm + 1);
  int k = epoch - warm, n = e->train.epochs - warm;
  switch (e->train.lr_schedule.kind) {
  case CB_LRS_STEP: return lr * pow(e->train.lr_schedule.gamma, k / e->train.lr_schedule.step_size);
  case CB_LRS_COSINE: return 0.5 * lr * (1.0 + cos(3.14159265358979323846 * k / n));
  default: return lr;
  }
}

int cb_trainer_check_data(const cb_experiment *e) {
  if (e->data.source == CB_DATA_SYNTHETIC) return 0;
  cb_trainer t;
  memset(&t, 0, sizeof t);
  t.e = e;
  int rc = load_data(&t);
  cb_split_free(&t.split);
  cb_dataset_free(&t.data);
  return rc;
}
