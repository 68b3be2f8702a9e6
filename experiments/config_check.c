/* Resolution of "auto" values and the checks that involve more than one key.
 * Single values were range-checked when they were set; what is left is
 * whether an explicitly set key applies at all, and combinations. Each error
 * points at the key the user should change. */
#include "core/base/error.h"
#include "core/data/dataset.h"
#include "experiments/config_schema.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char *where_or_default(const cb_experiment *e, const char *key) {
  int i;
  if (!cb_field_find(key, &i)) return "(default)";
  return e->where[i][0] ? e->where[i] : "(default)";
}

int cb_exp_key_applies(const cb_experiment *e, const char *key) {
  const cb_field *f = cb_field_find(key, NULL);
  return f && (!f->applies || f->applies(e));
}

int cb_exp_key_in_identity(const char *key) {
  const cb_field *f = cb_field_find(key, NULL);
  return f && !(f->flags & CB_F_VOLATILE);
}

static void fill_auto(cb_experiment *e);

/* Puts field i of e back to its value in def (the defaults) and marks it
 * unset. */
static void reset_field(cb_experiment *e, const cb_experiment *def, int i) {
  const cb_field *f = &CB_FIELDS[i];
  size_t sz;
  switch (f->type) {
  case CB_FT_STR: sz = f->cap; break;
  case CB_FT_I64: sz = sizeof(int64_t); break;
  case CB_FT_NUM: sz = sizeof(double); break;
  case CB_FT_NUMS: sz = (size_t)f->max_n * sizeof(double); break;
  case CB_FT_INTS:
  case CB_FT_ENUMS: sz = (size_t)f->max_n * sizeof(int); break;
  default: sz = sizeof(int);
  }
  memcpy((char *)e + f->off, (const char *)def + f->off, sz);
  if (f->off_n) *cb_field_count(e, f) = *cb_field_count(def, f);
  e->where[i][0] = 0;
}

void cb_exp_clear_inapplicable(cb_experiment *e) {
  /* Applicability can depend on "auto" choices (data.split.by), so decide on a
   * resolved copy but reset the fields in e. */
  cb_experiment r = *e;
  fill_auto(&r);
  cb_experiment def;
  cb_exp_init(&def);
  for (int i = 0; i < CB_N_FIELDS; i++) {
    const cb_field *f = &CB_FIELDS[i];
    if (!f->applies || f->applies(&r) || !e->where[i][0]) continue;
    reset_field(e, &def, i);
  }
  e->resolved = 0;
}

void cb_exp_unset(cb_experiment *e, const char *key) {
  cb_experiment def;
  cb_exp_init(&def);
  size_t kl = strlen(key);
  for (int i = 0; i < CB_N_FIELDS; i++) {
    const char *k = CB_FIELDS[i].key;
    if (strcmp(k, key) == 0 || (strncmp(k, key, kl) == 0 && k[kl] == '.')) reset_field(e, &def, i);
  }
  e->resolved = 0;
}

/* "dp.clipping is none (at exp.yaml:3:13)" for every key named in a field's
 * `when` text, so the message shows what the user would change. */
static void when_state(const cb_experiment *e, const cb_field *f, char *buf, size_t n) {
  buf[0] = 0;
  const char *p = f->when;
  while (*p) {
    size_t k = strcspn(p, " ,");
    char tok[128], val[256];
    snprintf(tok, sizeof tok, "%.*s", (int)k, p);
    const cb_field *d = k < sizeof tok ? cb_field_find(tok, NULL) : NULL;
    if (d && !cb_field_format(e, d, 1, val, sizeof val)) {
      size_t used = strlen(buf);
      int set = cb_exp_key_is_set(e, tok);
      snprintf(buf + used, n - used, "%s%s is %s (%s%s)", used ? ", " : "", tok, val,
               set ? "at " : "the default", set ? where_or_default(e, tok) : "");
    }
    p += k;
    while (*p == ' ' || *p == ',')
      p++;
  }
}

static int check_applies(const cb_experiment *e) {
  for (int i = 0; i < CB_N_FIELDS; i++) {
    const cb_field *f = &CB_FIELDS[i];
    if (!e->where[i][0] || !f->applies || f->applies(e)) continue;
    char state[768];
    when_state(e, f, state, sizeof state);
    return cb_error("%s: %s applies only when %s, but %s; remove it or change that", e->where[i],
                    f->key, f->when, state);
  }
  return 0;
}

/* Whether data.path is a folder of split folders (train/ without images/),
 * the study's published layout. */
static int has_split_folders(const cb_experiment *e) {
  if (e->data.source == CB_DATA_SYNTHETIC || !e->data.path[0]) return 0;
  char p[CB_EXP_STR_MAX + 16];
  struct stat st;
  snprintf(p, sizeof p, "%s/images", e->data.path);
  if (stat(p, &st) == 0) return 0;
  snprintf(p, sizeof p, "%s/train", e->data.path);
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void fill_auto(cb_experiment *e) {
  if (e->data.split.by < 0)
    e->data.split.by = has_split_folders(e)                 ? CB_SPLIT_FOLDERS
                       : e->data.source == CB_DATA_DUKE_NPY ? CB_SPLIT_SUBJECT
                                                            : CB_SPLIT_FRACTION;
  /* The architecture's defaults are the core's (core/nn/model_cfg.c). */
  cb_model_cfg_resolve(&e->model);
  if (e->train.max_physical_batch < 0) e->train.max_physical_batch = e->train.batch_size;
  /* TF-Privacy's m/20 assumes large batches; with the study's batch of 10
   * it would leave no room for the gradient noise (2*count_std must exceed
   * sigma), so auto never goes below the noise multiplier. */
  if (isnan(e->dp.adaptive.count_std)) {
    double cs = e->train.batch_size / 20.0;
    if (!isnan(e->dp.noise_multiplier) && e->dp.noise_multiplier > cs) cs = e->dp.noise_multiplier;
    e->dp.adaptive.count_std = cs;
  }
  if (isnan(e->dp.adaptive.initial_bound)) e->dp.adaptive.initial_bound = e->dp.clip_bound;
  if (e->audit.guesses < 0) e->audit.guesses = e->audit.canaries >= 10 ? e->audit.canaries / 10 : 1;
  if (e->loss.softmax_input < 0) e->loss.softmax_input = e->model.arch == CB_ARCH_UNET;
}

static int subjects_disjoint(const cb_experiment *e) {
  const cb_exp_subjects *s[3] = {&e->data.split.train, &e->data.split.val, &e->data.split.test};
  static const char *const names[3] = {"train", "val", "test"};
  for (int a = 0; a < 3; a++)
    for (int i = 0; i < s[a]->n; i++)
      for (int b = a; b < 3; b++)
        for (int j = b == a ? i + 1 : 0; j < s[b]->n; j++)
          if (s[a]->v[i] == s[b]->v[j]) {
            /* Point at the list the user wrote: the other may be a default. */
            char ka[64], kb[64];
            snprintf(ka, sizeof ka, "data.split.%s", names[a]);
            snprintf(kb, sizeof kb, "data.split.%s", names[b]);
            int blame_b = cb_exp_key_is_set(e, kb) || !cb_exp_key_is_set(e, ka);
            const char *key = blame_b ? kb : ka, *other = blame_b ? ka : kb;
            return cb_error("%s: %s: subject %d is also in %s (%s); each subject belongs to one "
                            "split",
                            where_or_default(e, key), key, s[b]->v[j], other,
                            cb_exp_key_is_set(e, other) ? where_or_default(e, other)
                                                        : "its default");
          }
  return 0;
}

static int check_combinations(const cb_experiment *e) {
  int priv = e->dp.clipping != CB_CLIP_NONE;
  const char *clip = CB_CLIPPING_NAMES[e->dp.clipping];
  if (priv) {
    int has_nm = !isnan(e->dp.noise_multiplier), has_te = !isnan(e->dp.target_epsilon);
    if (has_nm && has_te)
      return cb_error("%s: dp.target_epsilon: set either dp.noise_multiplier (set at %s) or "
                      "dp.target_epsilon, not both",
                      where_or_default(e, "dp.target_epsilon"),
                      where_or_default(e, "dp.noise_multiplier"));
    if (!has_nm && !has_te)
      return cb_error("%s: dp.clipping: %s needs dp.noise_multiplier or dp.target_epsilon (or "
                      "use dp.clipping none for non-private training)",
                      where_or_default(e, "dp.clipping"), clip);
    if (e->dp.clipping == CB_CLIP_ADAPTIVE && has_nm &&
        !(2 * e->dp.adaptive.count_std > e->dp.noise_multiplier))
      return cb_error("%s: dp.adaptive.count_std: %g is too small for dp.noise_multiplier %g; "
                      "the split of the noise between bound and gradient needs 2*count_std > "
                      "noise_multiplier",
                      where_or_default(e, "dp.adaptive.count_std"), e->dp.adaptive.count_std,
                      e->dp.noise_multiplier);
  }
  /* Selecting on the test split and storing it as val_* made the reported
   * test number optimistic without saying so; the test split now has its
   * own rows (test_metrics), measured at the end of every run. */
  if (e->eval.split == CB_EVAL_TEST)
    return cb_error("%s: eval.split: test is no longer accepted: the val_* columns are always "
                    "the validation split, and the test split is evaluated at the end of every "
                    "run with the final and the best-validation weights (table test_metrics, "
                    "export columns test_*); remove eval.split",
                    where_or_default(e, "eval.split"));
  if (e->loss.reduction == CB_LOSS_REDUCTION_BATCH &&
      e->train.max_physical_batch < e->train.batch_size)
    return cb_error("%s: train.max_physical_batch: %d is smaller than train.batch_size %d, but "
                    "loss.reduction: batch sums its Dice over the images processed together; "
                    "raise it to at least the batch size or use loss.reduction: image",
                    where_or_default(e, "train.max_physical_batch"), e->train.max_physical_batch,
                    e->train.batch_size);
  if (e->train.optimizer == CB_OPT_SGD && e->train.nesterov && e->train.momentum <= 0)
    return cb_error("%s: train.nesterov: Nesterov momentum needs train.momentum > 0",
                    where_or_default(e, "train.nesterov"));
  if (e->data.source != CB_DATA_SYNTHETIC && !e->data.path[0])
    return cb_error("%s: data.path: required when data.source is %s (a folder with images/ and "
                    "masks/)",
                    where_or_default(e, "data.source"), CB_DATA_SOURCE_NAMES[e->data.source]);
  if (e->data.source != CB_DATA_SYNTHETIC) {
    cb_label_map map;
    if (cb_label_map_parse(e->data.label_map, &map))
      return cb_error_prefix("%s: data.label_map: ", where_or_default(e, "data.label_map"));
  }
  if (e->data.split.by == CB_SPLIT_FOLDERS && e->data.source == CB_DATA_SYNTHETIC)
    return cb_error("%s: data.split.by: folders needs data.source npy or duke_npy with data.path "
                    "a folder of train/ val/ test/ folders; synthetic data splits by subject or "
                    "fraction",
                    where_or_default(e, "data.split.by"));
  if (e->data.split.by == CB_SPLIT_SUBJECT) {
    if (subjects_disjoint(e)) return -1;
    const cb_exp_subjects *ev =
        e->eval.split == CB_EVAL_VAL ? &e->data.split.val : &e->data.split.test;
    if (ev->n == 0)
      return cb_error("%s: eval.split: %s, but data.split.%s lists no subjects",
                      where_or_default(e, "eval.split"), CB_EVAL_SPLIT_NAMES[e->eval.split],
                      CB_EVAL_SPLIT_NAMES[e->eval.split]);
  } else {
    const double *fr = e->data.split.fractions;
    double sum = fr[0] + fr[1] + fr[2];
    if (fabs(sum - 1) > 1e-9)
      return cb_error("%s: data.split.fractions: [%g, %g, %g] sums to %.17g, not 1",
                      where_or_default(e, "data.split.fractions"), fr[0], fr[1], fr[2], sum);
    if (fr[0] <= 0)
      return cb_error("%s: data.split.fractions: the training fraction must be > 0",
                      where_or_default(e, "data.split.fractions"));
    if (fr[1 + e->eval.split] <= 0)
      return cb_error("%s: eval.split: %s, but its fraction in data.split.fractions is 0",
                      where_or_default(e, "eval.split"), CB_EVAL_SPLIT_NAMES[e->eval.split]);
    if (e->data.source == CB_DATA_SYNTHETIC) {
      int n_train = (int)floor(e->data.count * fr[0] + 1e-9);
      const char *bk =
          cb_exp_key_is_set(e, "train.batch_size") || !cb_exp_key_is_set(e, "data.count")
              ? "train.batch_size"
              : "data.count";
      if (e->train.batch_size > n_train)
        return cb_error("%s: %s: train.batch_size %d is larger than the training split (%d of "
                        "data.count %d images)",
                        where_or_default(e, bk), bk, e->train.batch_size, n_train, e->data.count);
    }
  }
  int mult = 1 << e->model.depth;
  const char *sk = cb_exp_key_is_set(e, "data.size") || !cb_exp_key_is_set(e, "model.depth")
                       ? "data.size"
                       : "model.depth";
  for (int d = 0; d < 2; d++)
    if (e->data.size[d] % mult)
      return cb_error("%s: %s: data.size [%d, %d] must be divisible by 2^model.depth = %d (the "
                      "model down-samples %d times)",
                      where_or_default(e, sk), sk, e->data.size[0], e->data.size[1], mult,
                      e->model.depth);
  if (e->train.lr_schedule.warmup >= e->train.epochs)
    return cb_error("%s: train.lr_schedule.warmup: %d epochs of warm-up leave none of the %d "
                    "training epochs",
                    where_or_default(e, "train.lr_schedule.warmup"), e->train.lr_schedule.warmup,
                    e->train.epochs);
  if (cb_model_cfg_validate(&e->model))
    return cb_error_prefix("%s: ", where_or_default(e, "model.arch"));
  if (e->audit.canaries > 0) {
    if (e->audit.guesses > e->audit.canaries)
      return cb_error("%s: audit.guesses: %d guesses among %d canaries; guess at most "
                      "audit.canaries",
                      where_or_default(e, "audit.guesses"), e->audit.guesses, e->audit.canaries);
    if (e->train.sampling != CB_SAMPLING_POISSON)
      return cb_error("%s: audit.canaries: the audit samples its canaries like the data, with "
                      "Poisson sampling; set train.sampling: poisson",
                      where_or_default(e, "audit.canaries"));
  }
  return 0;
}

int cb_exp_resolve(cb_experiment *e) {
  fill_auto(e);
  if (check_applies(e) || check_combinations(e)) return -1;
  e->resolved = 1;
  return 0;
}
