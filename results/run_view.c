#include "results/run_view.h"

#include "core/base/error.h"
#include "results/store_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

int cb_run_resolve(cb_store *s, const char *prefix, char id[CB_STORE_RUN_ID_LEN + 1]) {
  size_t n = strlen(prefix);
  int hex = n > 0 && n <= CB_STORE_RUN_ID_LEN;
  for (size_t i = 0; hex && i < n; i++)
    hex = isxdigit((unsigned char)prefix[i]) && !isupper((unsigned char)prefix[i]);
  if (!hex)
    return cb_error("'%s' is not a run id (1 to 16 lowercase hex digits, a unique prefix of one; "
                    "clipbench runs --db %s lists them)",
                    prefix, cb_store_path(s));
  sqlite3_stmt *st;
  if (cb_store_prepare(s, "SELECT id FROM runs WHERE substr(id, 1, ?2) = ?1 ORDER BY id LIMIT 4",
                       &st, "finding the run"))
    return -1;
  sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 2, (int)n);
  char found[4][CB_STORE_RUN_ID_LEN + 1];
  int k = 0, rc;
  while ((rc = cb_store_step(s, st)) == SQLITE_ROW && k < 4)
    snprintf(found[k++], sizeof found[0], "%s", (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return cb_store_err(s, rc, "finding the run");
  if (k == 0)
    return cb_error("%s: no run id starts with '%s' (clipbench runs --db %s lists them)",
                    cb_store_path(s), prefix, cb_store_path(s));
  if (k > 1)
    return cb_error("%s: run id prefix '%s' is ambiguous: %s, %s%s (give more digits)",
                    cb_store_path(s), prefix, found[0], found[1], k > 2 ? ", ..." : "");
  memcpy(id, found[0], sizeof found[0]);
  return 0;
}

static double num(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

static void text(sqlite3_stmt *st, int i, char *buf, size_t n) {
  const unsigned char *t = sqlite3_column_text(st, i);
  snprintf(buf, n, "%s", t ? (const char *)t : "");
}

/* Runs one query bound to the run id; calls row() for each result row. */
static int each_row(cb_store *s, const char *sql, const char *id, cb_run_brief *b,
                    void (*row)(sqlite3_stmt *, cb_run_brief *)) {
  sqlite3_stmt *st;
  if (cb_store_prepare(s, sql, &st, "reading the run")) return -1;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  int rc;
  while ((rc = cb_store_step(s, st)) == SQLITE_ROW)
    row(st, b);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0 : cb_store_err(s, rc, "reading the run");
}

static void run_row(sqlite3_stmt *st, cb_run_brief *b) {
  text(st, 0, b->name, sizeof b->name);
  text(st, 1, b->status, sizeof b->status);
  text(st, 2, b->error, sizeof b->error);
  b->epochs_total = sqlite3_column_int(st, 3);
  text(st, 4, b->arch, sizeof b->arch);
  text(st, 5, b->clipping, sizeof b->clipping);
  b->noise_multiplier = num(st, 6);
  b->target_epsilon = num(st, 7);
  b->clip_bound = num(st, 8);
  b->delta = num(st, 9);
  text(st, 10, b->accountant, sizeof b->accountant);
  text(st, 11, b->host, sizeof b->host);
  text(st, 12, b->backend, sizeof b->backend);
  text(st, 13, b->git_rev, sizeof b->git_rev);
  b->attempts = sqlite3_column_int(st, 14);
  b->created_at = num(st, 15);
  b->started_at = num(st, 16);
  b->finished_at = num(st, 17);
  text(st, 18, b->checkpoint, sizeof b->checkpoint);
  text(st, 19, b->slurm_log, sizeof b->slurm_log);
  b->sample_rate = num(st, 20);
  b->dataset_size = num(st, 21);
  text(st, 22, b->sampling, sizeof b->sampling);
  b->dp_guarantee = sqlite3_column_type(st, 23) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 23);
  text(st, 24, b->dp_caveat, sizeof b->dp_caveat);
}

static void last_row(sqlite3_stmt *st, cb_run_brief *b) {
  b->epochs_done = sqlite3_column_int(st, 0);
  b->train_loss = num(st, 1);
  b->epsilon = num(st, 2);
  text(st, 3, b->eps_accountant, sizeof b->eps_accountant);
  b->eps_delta = num(st, 4);
  b->seconds = num(st, 5);
}

static void eval_row(sqlite3_stmt *st, cb_run_brief *b) {
  b->eval_epoch = sqlite3_column_int(st, 0);
  b->val_loss = num(st, 1);
  b->val_pixel_acc = num(st, 2);
  b->val_dice = num(st, 3);
  b->val_dice_fg = num(st, 4);
}

static void best_row(sqlite3_stmt *st, cb_run_brief *b) {
  b->best_epoch = sqlite3_column_int(st, 0);
  b->best_val_dice = num(st, 1);
}

static void test_row(sqlite3_stmt *st, cb_run_brief *b) {
  int k = strcmp((const char *)sqlite3_column_text(st, 0), "final") == 0 ? 0 : 1;
  b->test_epoch[k] = sqlite3_column_int(st, 1);
  b->test_dice[k] = num(st, 2);
  b->test_pixel_acc[k] = num(st, 3);
}

int cb_run_brief_get(cb_store *s, const char *id, cb_run_brief *b) {
  memset(b, 0, sizeof *b);
  snprintf(b->id, sizeof b->id, "%s", id);
  double *nans[] = {
      &b->noise_multiplier,  &b->target_epsilon,   &b->clip_bound,    &b->delta,
      &b->sample_rate,       &b->dataset_size,     &b->created_at,    &b->started_at,
      &b->finished_at,       &b->seconds,          &b->train_loss,    &b->epsilon,
      &b->eps_delta,         &b->val_loss,         &b->val_pixel_acc, &b->val_dice,
      &b->val_dice_fg,       &b->best_val_dice,    &b->test_dice[0],  &b->test_dice[1],
      &b->test_pixel_acc[0], &b->test_pixel_acc[1]};
  for (size_t i = 0; i < sizeof nans / sizeof nans[0]; i++)
    *nans[i] = NAN;
  b->dp_guarantee = -1;
  if (each_row(s,
               "SELECT name, status, error, epochs, arch, clipping, noise_multiplier, "
               "target_epsilon, clip_bound, delta, accountant, host, backend, git_rev, attempts, "
               "created_at, started_at, finished_at, checkpoint, slurm_log, sample_rate, "
               "dataset_size, sampling, dp_guarantee, dp_caveat FROM runs WHERE id = ?1",
               id, b, run_row))
    return -1;
  if (!b->status[0]) return cb_error("%s: no run %s", cb_store_path(s), id);
  return each_row(s,
                  "SELECT epoch, train_loss, epsilon, accountant, delta, "
                  "(SELECT sum(epoch_seconds) FROM epochs WHERE run_id = ?1) "
                  "FROM epochs WHERE run_id = ?1 ORDER BY epoch DESC LIMIT 1",
                  id, b, last_row) ||
                 each_row(s,
                          "SELECT epoch, val_loss, val_pixel_acc, val_dice, val_dice_fg FROM "
                          "epochs WHERE run_id = ?1 AND val_dice IS NOT NULL "
                          "ORDER BY epoch DESC LIMIT 1",
                          id, b, eval_row) ||
                 each_row(s,
                          "SELECT epoch, val_dice FROM epochs WHERE run_id = ?1 AND val_dice IS "
                          "NOT NULL ORDER BY val_dice DESC, epoch LIMIT 1",
                          id, b, best_row) ||
                 each_row(s,
                          "SELECT weights, epoch, dice, pixel_acc FROM test_metrics WHERE run_id "
                          "= ?1",
                          id, b, test_row)
             ? -1
             : 0;
}

void cb_run_brief_line(const cb_run_brief *b, char *buf, size_t n) {
  int k = snprintf(buf, n, "%s %d/%d epochs", b->status, b->epochs_done, b->epochs_total);
  if (k > 0 && (size_t)k < n && !isnan(b->val_dice))
    k += snprintf(buf + k, n - (size_t)k, ", val dice %.4g (epoch %d)", b->val_dice, b->eval_epoch);
  if (k > 0 && (size_t)k < n && !isnan(b->test_dice[0]))
    k += snprintf(buf + k, n - (size_t)k, ", test dice %.4g", b->test_dice[0]);
  if (k > 0 && (size_t)k < n) {
    if (!isnan(b->epsilon))
      k += snprintf(buf + k, n - (size_t)k, ", epsilon %.4g (%s, delta %g)%s", b->epsilon,
                    b->eps_accountant, b->eps_delta,
                    b->dp_guarantee == 0 ? " NOT a DP guarantee" : "");
    else if (strcmp(b->clipping, "none") == 0)
      k += snprintf(buf + k, n - (size_t)k, ", non-private");
  }
}
