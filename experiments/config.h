/* The experiment schema: one YAML file describes one training run.
 *
 * Every key, its type, default, accepted values and documentation is one row
 * of the field table in config_schema.c (the single source of truth; `clipbench
 * run FILE --print-config` shows it resolved). A configuration is built in
 * layers and then resolved once:
 *
 *   cb_experiment e;
 *   cb_exp_init(&e);                          defaults ("auto" where documented)
 *   cb_exp_load_file(&e, "exp.yaml");         the experiment file
 *   cb_exp_set(&e, "dp.clip_bound=2");        --set overrides / sweep grid points
 *   cb_exp_resolve(&e);                       fills "auto", checks combinations
 *   cb_exp_id(&e, id);                        run identity
 *
 * cb_experiment is a plain value (no pointers): copying it is how a sweep
 * applies each grid point to a base configuration. Resolve a copy, never the
 * base, because "auto" values depend on the other fields (model.groups on
 * model.arch, for example).
 *
 * Errors name where the offending value came from: `file:line:col` for a
 * file, the `--set key=value` argument for an override, then the key's dotted
 * path and the accepted values.
 *
 * Run identity: SHA-256 of the canonical JSON of the resolved configuration,
 * first 16 hex digits. The canonical JSON has sorted keys, shortest
 * round-trip numbers, and only the keys that change the mathematics of the
 * run: keys that do not apply to this configuration (dp.automatic.* when
 * dp.clipping is flat) and keys that only change speed or where output goes
 * (name, backend, threads, train.max_physical_batch, dp.norm_rule,
 * checkpoint.*) are left out. The seed is part of it. data.path is part of it,
 * because it names the data. */
#ifndef CB_EXPERIMENTS_CONFIG_H
#define CB_EXPERIMENTS_CONFIG_H

#include "core/dp/dp.h"
#include "core/nn/model.h"
#include "core/optim/optim.h"

#include <stdint.h>
#include <stdio.h>

/* Enumerations: index into the matching CB_EXP_*_NAMES list. */
enum { CB_EXP_BACKEND_AUTO, CB_EXP_BACKEND_CPU, CB_EXP_BACKEND_CUDA };
enum { CB_DATA_SYNTHETIC, CB_DATA_DUKE_NPY, CB_DATA_NPY };
enum { CB_SPLIT_SUBJECT, CB_SPLIT_FRACTION, CB_SPLIT_FOLDERS };
enum { CB_NORMALISE_ZSCORE, CB_NORMALISE_UNIT, CB_NORMALISE_NONE, CB_NORMALISE_FIXED };
enum { CB_DICE_POOLED, CB_DICE_PER_IMAGE };
enum { CB_SAMPLING_POISSON, CB_SAMPLING_SHUFFLE };
enum { CB_OPT_SGD, CB_OPT_ADAM, CB_OPT_ADAMW };
enum { CB_LRS_CONSTANT, CB_LRS_STEP, CB_LRS_COSINE };
/* Clipping modes, thresholds, AUTO variants and norm rules are the DP
 * engine's enums (core/dp/dp.h), so a config maps onto it one to one. */
#define CB_CLIP_RANDOM_SPARSIFICATION CB_CLIP_RS
#define CB_THRESH_EQUAL_SPLIT CB_THRESH_SPLIT
enum { CB_ACCT_RDP, CB_ACCT_PRV, CB_ACCT_GDP, CB_ACCT_PLD }; /* = cb_accountant */
enum { CB_SCOPE_ALL, CB_SCOPE_PER_LAYER };
enum { CB_EVAL_VAL, CB_EVAL_TEST };
enum { CB_AUDIT_GRADIENT, CB_AUDIT_INPUT };
/* dp.sample_rate is the accountant's cb_q_rule (core/privacy/accountant.h). */
enum { CB_LOSS_REDUCTION_IMAGE, CB_LOSS_REDUCTION_BATCH };

extern const char *const CB_EXP_BACKEND_NAMES[];    /* auto cpu cuda */
extern const char *const CB_DATA_SOURCE_NAMES[];    /* synthetic duke_npy npy */
extern const char *const CB_SPLIT_BY_NAMES[];       /* subject fraction folders */
extern const char *const CB_NORMALISE_NAMES[];      /* zscore unit none fixed */
extern const char *const CB_DICE_NAMES[];           /* pooled per_image */
extern const char *const CB_SAMPLING_NAMES[];       /* poisson shuffle */
extern const char *const CB_OPTIMIZER_NAMES[];      /* sgd adam adamw */
extern const char *const CB_LR_SCHEDULE_NAMES[];    /* constant step cosine */
extern const char *const CB_CLIPPING_NAMES[];       /* none flat per_layer automatic ... */
extern const char *const CB_THRESHOLDS_NAMES[];     /* same equal_split */
extern const char *const CB_ACCOUNTANT_NAMES[];     /* rdp prv gdp pld (as cb_accountant) */
extern const char *const CB_AUTO_VARIANT_NAMES[];   /* auto_s auto_v */
extern const char *const CB_AUTO_SCOPE_NAMES[];     /* all per_layer */
extern const char *const CB_EVAL_SPLIT_NAMES[];     /* val test */
extern const char *const CB_AUDIT_KIND_NAMES[];     /* gradient input */
extern const char *const CB_LOSS_REDUCTION_NAMES[]; /* image batch */

#define CB_EXP_STR_MAX 1024
#define CB_EXP_SUBJECTS_MAX 64
#define CB_EXP_MAX_FIELDS 96
#define CB_EXP_WHERE_MAX 192
#define CB_RUN_ID_LEN 16

typedef struct {
  int n;
  int v[CB_EXP_SUBJECTS_MAX];
} cb_exp_subjects;

/* Every field of the schema. Doubles that may be unset ("null") hold NaN;
 * enums, booleans and counts that may be "auto" hold -1 until resolved. */
typedef struct {
  char name[128];
  int64_t seed;
  int backend; /* CB_EXP_BACKEND_* */
  int threads; /* 0 = let the runner decide */

  struct {
    int source;
    char path[CB_EXP_STR_MAX];
    int size[2]; /* H, W */
    int n_size;
    int count; /* synthetic images */
    struct {
      int by; /* CB_SPLIT_*, -1 = auto */
      cb_exp_subjects train, val, test;
      double fractions[3];
      int n_fractions;
      int64_t seed;
    } split;
    int normalise;
    double normalise_mean, normalise_std; /* data.normalise: fixed */
    char label_map[CB_EXP_STR_MAX];       /* preset or FROM:TO pairs */
    int mask_resize;                      /* CB_MASK_RESIZE_* */
  } data;                                 /* data.classes lives in model.classes */

  cb_model_cfg model;

  struct {
    double ce_weight, dice_weight, dice_smooth;
    int reduction;     /* CB_LOSS_REDUCTION_* */
    int softmax_input; /* batch reduction: the loss sees softmax(logits); -1 = auto */
  } loss;

  struct {
    int epochs;
    int batch_size; /* expected logical batch */
    int sampling;
    int max_physical_batch; /* -1 = auto (batch_size) */
    int optimizer;
    double lr, momentum;
    int nesterov;
    double weight_decay;
    double betas[2];
    int n_betas;
    double eps;
    struct {
      int kind;
      int step_size; /* epochs */
      double gamma;
      int warmup; /* epochs */
    } lr_schedule;
  } train;

  struct {
    int clipping;
    double clip_bound;
    struct {
      int thresholds; /* cb_threshold_rule */
      int group_by;   /* cb_group_by: a bound per parameter tensor or per layer */
    } per_layer;
    double noise_multiplier, target_epsilon; /* exactly one set when private */
    double delta;
    int sample_rate;    /* cb_q_rule: how batch_size and the training split give q */
    int accountants[4]; /* cb_accountant values; the first is the primary one */
    int n_accountants;
    int secure_mode;
    struct {
      double gamma;
      int variant, scope;
    } automatic;
    struct {
      double final_rate;
      int refresh;      /* mask draws per epoch */
      int as_published; /* the study's RS code as it ran (see README) */
    } sparsification;
    struct {
      double target_quantile, lr;
      double count_std;     /* NaN = auto: batch_size / 20 */
      double initial_bound; /* NaN = auto: dp.clip_bound */
    } adaptive;
    int norm_rule;
  } dp;

  struct {
    int every;
    int split;
  } eval;

  struct {
    int dice; /* CB_DICE_* */
  } metrics;

  struct {
    int every;
    char dir[CB_EXP_STR_MAX];
  } checkpoint;

  /* Privacy audit in one training run (experiments/audit.c). */
  struct {
    int canaries; /* 0 = no audit */
    int kind;     /* CB_AUDIT_* */
    int guesses;  /* -1 = auto */
    double confidence;
  } audit;

  /* Internal book-keeping: where each field was set ("" = default), and
   * whether cb_exp_resolve() has succeeded. */
  char where[CB_EXP_MAX_FIELDS][CB_EXP_WHERE_MAX];
  int resolved;
} cb_experiment;

/* Defaults for every field (nothing resolved yet). */
void cb_exp_init(cb_experiment *e);

/* Applies a YAML experiment file / text (a mapping of the schema's keys,
 * nested or as dotted keys) on top of e. `origin` names the text in errors.
 * Files (and sweep files) larger than CB_EXP_FILE_MAX bytes are refused. */
#define CB_EXP_FILE_MAX (16 << 20)
int cb_exp_load_file(cb_experiment *e, const char *path);
/* The whole of a YAML text file (malloc'ed, NUL-terminated), or NULL with an
 * error naming it as a `kind` ("experiment file", "sweep file"): a folder,
 * unreadable, over CB_EXP_FILE_MAX, or holding a NUL byte. */
char *cb_exp_read_text(const char *path, const char *kind);
int cb_exp_load_string(cb_experiment *e, const char *text, const char *origin);

/* Applies one override "dotted.key=value"; value is YAML (`[64, 64]`,
 * `null`, `flat`, `1e-3`). "~dotted.key" (Hydra's spelling) deletes the key:
 * it and every key under it go back to their defaults, as if the file had
 * never set them ("~dp" makes a run non-private). Errors name the argument
 * as "--set ARG". */
int cb_exp_set(cb_experiment *e, const char *assignment);
/* The same with the parts apart; `where` names it in errors (e.g. a sweep
 * file's "sweeps/x.yaml:12:7" or "grid point 3"). A mapping value sets a
 * whole section. */
int cb_exp_set_value(cb_experiment *e, const char *key, const char *yaml_value, const char *where);

/* Puts `key` (a field, or a section and every field in it) back to its
 * default and marks it unset. The key must exist (cb_exp_has_key). */
void cb_exp_unset(cb_experiment *e, const char *key);

/* For the sweep runner, which holds its own libyaml document: applies `node`
 * (a scalar, sequence or mapping) at `key` ("" = top level); errors give
 * file:line:col within `file`. Declared with void pointers so that this
 * header does not require <yaml.h>: pass yaml_document_t* and yaml_node_t*. */
int cb_exp_apply_yaml_node(cb_experiment *e, const char *key, void *yaml_document, void *yaml_node,
                           const char *file);

/* Fills every "auto" value, checks that explicitly set keys apply to this
 * configuration, and checks ranges and combinations. Idempotent. */
int cb_exp_resolve(cb_experiment *e);

/* Unsets (back to default) every key that does not apply to e's current
 * choices, e.g. dp.noise_multiplier when a grid point sets dp.clipping to
 * none. For sweeps that switch arms on a base file. */
void cb_exp_clear_inapplicable(cb_experiment *e);

/* Schema queries. cb_exp_has_key: 1 for a field, 2 for a section prefix
 * ("dp", "dp.automatic"), 0 otherwise. cb_exp_key_applies: whether the field
 * matters given e's current choices (resolve e first for "auto" choices).
 * cb_exp_key_in_identity: whether the field is part of the run id at all. */
int cb_exp_has_key(const char *key);
int cb_exp_key_applies(const cb_experiment *e, const char *key);
int cb_exp_key_in_identity(const char *key);
/* Whether the key was set explicitly (file, --set or grid) rather than left
 * at its default. */
int cb_exp_key_is_set(const cb_experiment *e, const char *key);

/* Output of a resolved configuration. */
enum {
  CB_EXP_JSON_FULL = 0,     /* every applicable key: what `runs.config` stores */
  CB_EXP_JSON_IDENTITY = 1, /* only what the run id covers */
};
/* Canonical JSON (sorted keys, no spaces, shortest round-trip numbers) in a
 * malloc'ed string, or NULL with cb_error set. */
char *cb_exp_to_json(const cb_experiment *e, int which);
/* The run id: 16 lowercase hex digits of SHA-256(identity JSON). */
int cb_exp_id(const cb_experiment *e, char id[CB_RUN_ID_LEN + 1]);
/* The resolved configuration as YAML, with each key's documentation as a
 * comment and inapplicable keys commented out. Loading it again gives the
 * same canonical JSON and id. */
int cb_exp_print_yaml(const cb_experiment *e, FILE *f);
/* The schema as a Markdown table (key, default, accepted values, doc). */
void cb_exp_print_schema(FILE *f);

/* The core's configurations for a resolved experiment. cb_exp_dp_cfg fills
 * everything the file decides; the runner still sets expected_batch and
 * steps_per_epoch (they depend on the data) and, with dp.target_epsilon,
 * noise_multiplier (NaN until calibrated). */
void cb_exp_dp_cfg(const cb_experiment *e, cb_dp_cfg *c);
void cb_exp_optim_cfg(const cb_experiment *e, cb_optim_cfg *c);
void cb_exp_loss_cfg(const cb_experiment *e, cb_loss_cfg *c);

/* The value of one field as JSON text (e.g. "0.5", "\"flat\"", "[64,64]"),
 * into buf; for status tables and sweep listings. */
int cb_exp_value_json(const cb_experiment *e, const char *key, char *buf, size_t n);

#endif
