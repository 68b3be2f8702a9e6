/* Shared between the files of `clipbench report --study`: the study's
 * published rows, our finished runs classified by procedure, statistics over
 * seeds and the verdict rules. */
#ifndef CB_RESULTS_STUDY_INTERNAL_H
#define CB_RESULTS_STUDY_INTERNAL_H

#include <stdio.h>

#define ST_CLASSES_MAX 16
#define ST_STUDY_LR 5e-4    /* the study's (untuned) learning rate */
#define ST_STUDY_EPOCHS 100 /* the study's epochs: its final epsilon is at 100 */

/* Which procedure a run followed (study_data.c says how it is recognised). */
enum { ST_PUBLISHED_PROC = 0, ST_CORRECTED = 1, ST_MIXED = 2, ST_N_PROC = 3 };
/* Sources a verdict is computed on: the study's own numbers, then ours. */
enum { SRC_STUDY = 0, SRC_AS_PUBLISHED = 1, SRC_CORRECTED = 2, ST_N_SRC = 3 };

typedef struct {
  char method[32], arch[32]; /* clipbench spellings: nonprivate, automatic, ...; unet */
  double sigma;              /* NAN: non-private */
  double lr;
  int proc; /* ST_PUBLISHED_PROC / ST_CORRECTED / ST_MIXED; the study's rows: -1 */
  int seed;
  double train_loss, val_loss, val_dice, val_acc, epsilon, test_dice; /* NAN: not measured */
  double eps_prv; /* the PRV accountant's epsilon (the study's: Opacus 1.4's default) */
  int n_classes;
  double cls[ST_CLASSES_MAX]; /* validation Dice per class at the final evaluated epoch */
  int dp_guarantee;           /* -1 unknown */
  char id[24];
  /* What the run was trained at besides its cell (arch, method, sigma, lr,
   * seed): scale is printed in the report ("64x64 px, width 8, depth 4,
   * batch 10, 100 epochs"), rest must also agree before runs are pooled. */
  char scale[96], rest[160], dp_rest[64];
  int epochs;
} st_run;

typedef struct {
  st_run *v;
  int n, cap;
} st_runs;

/* Loads the published TSV (docs/reproduction/published.tsv); *source gets
 * its header line (the facts' source and commit). */
int st_load_published(const char *path, st_runs *out, char *source, size_t n);
/* Appends the finished runs of a database. */
int st_load_runs(const char *db, st_runs *out);
void st_runs_free(st_runs *r);
/* Refuses to pool: every run of one procedure and architecture must share
 * its scale and the rest of its configuration (ours from several databases
 * or sweeps at two scales would otherwise become "seeds" of one cell).
 * Returns 0, or -1 with a one-line error naming two runs that differ. */
int st_check_one_configuration(const st_runs *ours);

/* Mean and 95% t confidence half-width of x[0..n-1]; half-width NAN at n < 2. */
void st_mean_ci(const double *x, int n, double *mean, double *half);
/* Two-sided 95% Student t quantile for df degrees of freedom. */
double st_t95(double df);

typedef enum { V_HOLDS, V_NOT, V_LR, V_NEED } st_verdict;
const char *st_verdict_name(st_verdict v);

typedef struct {
  const char *id;    /* stable name (JSON, tests) */
  const char *claim; /* the study's words */
  const char *where; /* where the study says it */
  const char *rule;  /* the rule, as the report prints it */
  st_verdict v[ST_N_SRC];
  char evidence[ST_N_SRC][256];
} st_observation;

/* Computes every observation's verdict on every source. *n set; up to max. */
int st_observations(const st_runs *study, const st_runs *ours, st_observation *out, int max);

/* Values of a metric over the runs matching a cell; method/arch NULL = any,
 * sigma NAN = non-private, lr NAN = any (the corrected study's lr is picked
 * by st_best_lr). Returns the count (at most max). */
typedef enum {
  M_VAL_DICE,
  M_VAL_ACC,
  M_VAL_LOSS,
  M_TRAIN_LOSS,
  M_EPSILON,
  M_EPS_PRV,
  M_TEST_DICE
} st_metric;
int st_values(const st_runs *r, int proc, const char *arch, const char *method, double sigma,
              double lr, st_metric m, double *out, int max);
/* The learning rate whose runs in the cell have the highest mean validation
 * Dice (selection on validation); NAN when the cell has no runs. */
double st_best_lr(const st_runs *r, int proc, const char *arch, const char *method, double sigma);
/* Whether the cell's runs span two or more learning rates. */
int st_has_lr_axis(const st_runs *r, int proc, const char *arch, const char *method, double sigma);

/* Writes the per-epoch validation Dice of our as-published runs of one
 * architecture (mean, min, max over seeds) and the study's curves of the same
 * arms as gnuplot blocks (ours first); *n_ours, *n_study: block counts. */
/* With md, also appends the rows of the epoch-matched table (ours at our
 * last evaluated epoch against the study's curve at that epoch). */
int st_write_curves(const char *const *dbs, int n_dbs, const st_runs *ours,
                    const char *published_curves, const char *arch, const char *path, FILE *md,
                    int *n_ours, int *n_study);

/* Appends the "How these runs were made" section: per database and sweep,
 * runs, clipbench revisions, hosts, backend, training time and wall clock. */
int st_provenance(FILE *md, const char *const *dbs, int n_dbs);

#endif
