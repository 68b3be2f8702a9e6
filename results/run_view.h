/* One run as a reader sees it: its id from a unique prefix, and the numbers
 * `clipbench runs`, `show`, `compare` and the closing line of `clipbench run`
 * print (final and best metrics, epsilon with what it stands on). */
#ifndef CB_RESULTS_RUN_VIEW_H
#define CB_RESULTS_RUN_VIEW_H

#include "results/store.h"

/* Finds the run whose id starts with `prefix` (at least 1 hex digit). 0 with
 * id filled; -1 with cb_error naming the database when no run or more than
 * one run matches (listing the candidates), or the prefix is not hex. */
int cb_run_resolve(cb_store *s, const char *prefix, char id[CB_STORE_RUN_ID_LEN + 1]);

/* NaN = not measured; strings are "" when NULL. */
typedef struct {
  char id[CB_STORE_RUN_ID_LEN + 1];
  char name[128], status[16], error[512];
  char arch[32], clipping[32], accountant[16], sampling[16];
  char host[128], backend[16], git_rev[48], checkpoint[512], slurm_log[512], dp_caveat[512];
  int epochs_total, epochs_done, attempts;
  int dp_guarantee; /* 1, 0, or -1 when not recorded */
  double noise_multiplier, target_epsilon, clip_bound, delta, sample_rate, dataset_size;
  double created_at, started_at, finished_at, seconds; /* seconds: sum over epochs */
  /* The last epoch, and the last evaluated one (val_* are NULL in between). */
  double train_loss, epsilon, eps_delta;
  char eps_accountant[16];
  int eval_epoch;
  double val_loss, val_pixel_acc, val_dice, val_dice_fg;
  int best_epoch; /* highest val_dice */
  double best_val_dice;
  /* test_metrics: the test split with the final and the best-validation weights. */
  int test_epoch[2];
  double test_dice[2], test_pixel_acc[2];
} cb_run_brief;

int cb_run_brief_get(cb_store *s, const char *id, cb_run_brief *b);

/* "finished 2/2 epochs, val dice 0.098, epsilon 7.08 (rdp, delta 1e-05)" */
void cb_run_brief_line(const cb_run_brief *b, char *buf, size_t n);

#endif
