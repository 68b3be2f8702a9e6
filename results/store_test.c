/* The run facts the epsilon stands on (sample rate, N, sampling, whether it
 * is a DP guarantee) and the test split's rows. Both are written on behalf
 * of the worker holding the run, like its epochs. */
#include "core/base/error.h"
#include "results/store_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Binds ?1 (the worker, NULL = any) and ?2 (the run id). */
static void bind_owner(sqlite3_stmt *st, const char *id, const char *worker) {
  if (worker)
    sqlite3_bind_text(st, 1, worker, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, 1);
  sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
}

/* Runs one statement; a run not held by `worker` changes nothing, which is
 * reported like a lost claim. */
static int exec_owned(cb_store *s, sqlite3_stmt *st, const char *id, const char *worker,
                      const char *what, int check_changes) {
  int rc = cb_store_step(s, st);
  if (rc != SQLITE_DONE) return cb_store_err(s, rc, what);
  if (check_changes && sqlite3_changes(s->db) == 0)
    return cb_error("%s: %s: run %s is not running under %s (another worker took it over, or "
                    "there is no such run)",
                    s->path, what, id, worker ? worker : "(any)");
  return 0;
}

int cb_store_set_run_sampling(cb_store *s, const char *id, const char *worker,
                              const cb_run_sampling *p) {
  const char *what = "recording the run's sampling";
  int began = cb_store_tx_start(s);
  if (began < 0) return -1;
  sqlite3_stmt *st;
  int ok = cb_store_prepare(s,
                            "UPDATE runs SET sample_rate = ?3, dataset_size = ?4, sampling = ?5,"
                            " dp_guarantee = ?6, dp_caveat = ?7 WHERE id = ?2 AND status = "
                            "'running' AND (?1 IS NULL OR worker = ?1)",
                            &st, what) == 0;
  if (ok) {
    bind_owner(st, id, worker);
    cb_store_bind_num(st, 3, p->sample_rate);
    sqlite3_bind_int64(st, 4, p->dataset_size);
    sqlite3_bind_text(st, 5, p->sampling, -1, SQLITE_STATIC);
    if (p->dp_guarantee < 0)
      sqlite3_bind_null(st, 6);
    else
      sqlite3_bind_int(st, 6, p->dp_guarantee ? 1 : 0);
    if (p->dp_caveat)
      sqlite3_bind_text(st, 7, p->dp_caveat, -1, SQLITE_STATIC);
    else
      sqlite3_bind_null(st, 7);
    ok = exec_owned(s, st, id, worker, what, 1) == 0;
    sqlite3_finalize(st);
  }
  return cb_store_tx_finish(s, began, ok);
}

int cb_store_put_test(cb_store *s, const char *id, const char *worker, const cb_test_row *r) {
  const char *what = "writing test-split metrics";
  if (strcmp(r->weights, "final") != 0 && strcmp(r->weights, "best_val") != 0)
    return cb_error("%s: internal: test weights '%s' (final or best_val)", s->path, r->weights);
  int began = cb_store_tx_start(s);
  if (began < 0) return -1;
  sqlite3_stmt *st;
  /* Ownership first: the INSERT below cannot check it by itself. */
  int ok = cb_store_prepare(s,
                            "UPDATE runs SET heartbeat_at = ?3 WHERE id = ?2 AND status = "
                            "'running' AND (?1 IS NULL OR worker = ?1)",
                            &st, what) == 0;
  if (ok) {
    bind_owner(st, id, worker);
    sqlite3_bind_double(st, 3, cb_store_now());
    ok = exec_owned(s, st, id, worker, what, worker != NULL) == 0;
    sqlite3_finalize(st);
  }
  /* REPLACE deletes the old row, and with it (cascade) its classes. */
  if (ok)
    ok = cb_store_prepare(s,
                          "INSERT OR REPLACE INTO test_metrics (run_id, weights, epoch, loss,"
                          " pixel_acc, dice, dice_fg, iou, iou_fg, written_at)"
                          " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                          &st, what) == 0;
  if (ok) {
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->weights, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, r->epoch);
    cb_store_bind_num(st, 4, r->loss);
    cb_store_bind_num(st, 5, r->pixel_acc);
    cb_store_bind_num(st, 6, r->dice);
    cb_store_bind_num(st, 7, r->dice_fg);
    cb_store_bind_num(st, 8, r->iou);
    cb_store_bind_num(st, 9, r->iou_fg);
    sqlite3_bind_double(st, 10, cb_store_now());
    ok = exec_owned(s, st, id, worker, what, 0) == 0;
    sqlite3_finalize(st);
  }
  if (ok)
    ok = cb_store_prepare(s, "DELETE FROM test_classes WHERE run_id = ? AND weights = ?", &st,
                          what) == 0;
  if (ok) {
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->weights, -1, SQLITE_STATIC);
    ok = exec_owned(s, st, id, worker, what, 0) == 0;
    sqlite3_finalize(st);
  }
  if (ok && r->n_classes > 0)
    ok = cb_store_prepare(s,
                          "INSERT INTO test_classes (run_id, weights, class, dice, iou)"
                          " VALUES (?, ?, ?, ?, ?)",
                          &st, what) == 0;
  for (int k = 0; ok && k < r->n_classes; k++) {
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->weights, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, k);
    cb_store_bind_num(st, 4, r->class_dice ? r->class_dice[k] : NAN);
    cb_store_bind_num(st, 5, r->class_iou ? r->class_iou[k] : NAN);
    ok = exec_owned(s, st, id, worker, what, 0) == 0;
    if (k == r->n_classes - 1 || !ok) sqlite3_finalize(st);
  }
  return cb_store_tx_finish(s, began, ok);
}
