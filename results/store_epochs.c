/* Per-epoch rows (written as one unit per epoch) and progress queries. */
#include "core/base/error.h"
#include "results/store_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void cb_epoch_row_init(cb_epoch_row *r) {
  memset(r, 0, sizeof *r);
  double *nums[] = {&r->train_loss,       &r->train_pixel_acc, &r->val_loss,
                    &r->val_pixel_acc,    &r->val_dice,        &r->val_dice_fg,
                    &r->val_iou,          &r->val_iou_fg,      &r->epoch_seconds,
                    &r->samples_per_s,    &r->expected_batch,  &r->realised_batch,
                    &r->eps_rdp,          &r->eps_prv,         &r->eps_gdp,
                    &r->epsilon,          &r->delta,           &r->clip_bound,
                    &r->noise_multiplier, &r->frac_clipped,    &r->lr,
                    &r->eps_pld};
  for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
    *nums[i] = NAN;
  for (int i = 0; i < 7; i++)
    r->norm[i] = NAN;
}

static const char INSERT_EPOCH[] =
    "INSERT INTO epochs (run_id, epoch, step, steps, train_loss, train_pixel_acc, val_loss,"
    " val_pixel_acc, val_dice, val_dice_fg, val_iou, val_iou_fg, epoch_seconds, samples_per_s,"
    " expected_batch, realised_batch, epsilon, accountant, eps_rdp, eps_prv, eps_gdp, delta,"
    " clip_bound, noise_multiplier, frac_clipped, norm_p10, norm_p25, norm_p50, norm_p75,"
    " norm_p90, norm_p99, norm_max, lr, written_at, eps_pld) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
    " ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25,"
    " ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34, ?35)";

static int run_one(cb_store *s, sqlite3_stmt *st, const char *what) {
  int rc = cb_store_step(s, st);
  if (rc != SQLITE_DONE) return cb_store_err(s, rc, what);
  return 0;
}

static int insert_epoch(cb_store *s, const char *id, const cb_epoch_row *r, double now) {
  sqlite3_stmt *st;
  if (cb_store_prepare(s, INSERT_EPOCH, &st, "writing an epoch")) return -1;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 2, r->epoch);
  sqlite3_bind_int64(st, 3, r->step);
  sqlite3_bind_int(st, 4, r->steps);
  const double a[] = {r->train_loss,    r->train_pixel_acc, r->val_loss,       r->val_pixel_acc,
                      r->val_dice,      r->val_dice_fg,     r->val_iou,        r->val_iou_fg,
                      r->epoch_seconds, r->samples_per_s,   r->expected_batch, r->realised_batch,
                      r->epsilon};
  int i = 5;
  for (size_t k = 0; k < sizeof a / sizeof a[0]; k++)
    cb_store_bind_num(st, i++, a[k]);
  if (r->accountant)
    sqlite3_bind_text(st, i++, r->accountant, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, i++);
  const double b[] = {r->eps_rdp,    r->eps_prv,          r->eps_gdp,     r->delta,
                      r->clip_bound, r->noise_multiplier, r->frac_clipped};
  for (size_t k = 0; k < sizeof b / sizeof b[0]; k++)
    cb_store_bind_num(st, i++, b[k]);
  for (int k = 0; k < 7; k++)
    cb_store_bind_num(st, i++, r->norm[k]);
  cb_store_bind_num(st, i++, r->lr);
  sqlite3_bind_double(st, i++, now);
  cb_store_bind_num(st, i++, r->eps_pld);
  int rc = run_one(s, st, "writing an epoch");
  sqlite3_finalize(st);
  return rc;
}

static int insert_classes(cb_store *s, const char *id, const cb_epoch_row *r) {
  if (r->n_classes <= 0 || (!r->class_dice && !r->class_iou)) return 0;
  sqlite3_stmt *st;
  if (cb_store_prepare(s,
                       "INSERT INTO epoch_classes (run_id, epoch, class, dice, iou) VALUES (?, ?, "
                       "?, ?, ?)",
                       &st, "writing per-class scores"))
    return -1;
  int rc = 0;
  for (int c = 0; !rc && c < r->n_classes; c++) {
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, r->epoch);
    sqlite3_bind_int(st, 3, c);
    cb_store_bind_num(st, 4, r->class_dice ? r->class_dice[c] : NAN);
    cb_store_bind_num(st, 5, r->class_iou ? r->class_iou[c] : NAN);
    rc = run_one(s, st, "writing per-class scores");
  }
  sqlite3_finalize(st);
  return rc;
}

static int insert_layers(cb_store *s, const char *id, const cb_epoch_row *r) {
  if (r->n_layers <= 0 || !r->layers) return 0;
  sqlite3_stmt *st;
  if (cb_store_prepare(s,
                       "INSERT INTO layer_norms (run_id, epoch, layer, name, median, p90, max, "
                       "clip_bound, frac_clipped, scope) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       &st, "writing per-layer norms"))
    return -1;
  int rc = 0;
  for (int l = 0; !rc && l < r->n_layers; l++) {
    const cb_layer_norm_row *x = &r->layers[l];
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, r->epoch);
    sqlite3_bind_int(st, 3, l);
    sqlite3_bind_text(st, 4, x->name ? x->name : "", -1, SQLITE_STATIC);
    cb_store_bind_num(st, 5, x->median);
    cb_store_bind_num(st, 6, x->p90);
    cb_store_bind_num(st, 7, x->max);
    cb_store_bind_num(st, 8, x->clip_bound);
    cb_store_bind_num(st, 9, x->frac_clipped);
    if (x->scope)
      sqlite3_bind_text(st, 10, x->scope, -1, SQLITE_STATIC);
    else
      sqlite3_bind_null(st, 10);
    rc = run_one(s, st, "writing per-layer norms");
  }
  sqlite3_finalize(st);
  return rc;
}

/* Checks ownership (when worker is given) and that epoch - 1 exists. */
static int check_put(cb_store *s, const char *id, const char *worker, int epoch) {
  sqlite3_stmt *st;
  if (cb_store_prepare(s,
                       "SELECT status, worker, (SELECT coalesce(max(epoch), 0) FROM epochs WHERE "
                       "run_id = ?1 AND epoch < ?2) FROM runs WHERE id = ?1",
                       &st, "checking a run"))
    return -1;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 2, epoch);
  int rc = cb_store_step(s, st), ok = 0;
  if (rc == SQLITE_ROW) {
    const char *status = (const char *)sqlite3_column_text(st, 0);
    const char *owner = (const char *)sqlite3_column_text(st, 1);
    int before = sqlite3_column_int(st, 2);
    if (worker && (strcmp(status, "running") != 0 || !owner || strcmp(owner, worker) != 0))
      cb_error("%s: writing epoch %d: run %s is no longer held by %s (status %s, worker %s); "
               "another worker took it over after a missed heartbeat, so this one stops",
               s->path, epoch, id, worker, status, owner ? owner : "none");
    else if (before != epoch - 1)
      cb_error("%s: writing epoch %d of run %s: epoch %d has no rows yet; epochs are written in "
               "order (write an epoch's rows before its checkpoint)",
               s->path, epoch, id, before + 1);
    else
      ok = 1;
  } else if (rc == SQLITE_DONE) {
    cb_error("%s: writing epoch %d: no run %s", s->path, epoch, id);
  } else {
    cb_store_err(s, rc, "checking a run");
  }
  sqlite3_finalize(st);
  return ok ? 0 : -1;
}

static int delete_from(cb_store *s, const char *id, int epoch) {
  sqlite3_stmt *st;
  if (cb_store_prepare(s, "DELETE FROM epochs WHERE run_id = ? AND epoch >= ?", &st,
                       "replacing epochs"))
    return -1;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 2, epoch);
  int rc = run_one(s, st, "replacing epochs");
  sqlite3_finalize(st);
  return rc;
}

int cb_store_put_epoch(cb_store *s, const char *id, const char *worker, const cb_epoch_row *r) {
  if (r->epoch < 1)
    return cb_error("%s: internal: epoch %d (epochs count from 1)", s->path, r->epoch);
  if (cb_store_check_file(s)) return -1;
  double now = cb_store_now();
  int began = cb_store_tx_start(s);
  if (began < 0) return -1;
  int ok = check_put(s, id, worker, r->epoch) == 0 && delete_from(s, id, r->epoch) == 0 &&
           insert_epoch(s, id, r, now) == 0 && insert_classes(s, id, r) == 0 &&
           insert_layers(s, id, r) == 0;
  if (ok && worker) {
    sqlite3_stmt *st;
    ok =
        cb_store_prepare(s, "UPDATE runs SET heartbeat_at = ? WHERE id = ?", &st, "heartbeat") == 0;
    if (ok) {
      sqlite3_bind_double(st, 1, now);
      sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
      ok = run_one(s, st, "heartbeat") == 0;
      sqlite3_finalize(st);
    }
  }
  return cb_store_tx_finish(s, began, ok);
}

int cb_store_truncate_epochs(cb_store *s, const char *id, int keep_through) {
  int began = cb_store_tx_start(s);
  if (began < 0) return -1;
  int ok = delete_from(s, id, keep_through + 1) == 0;
  return cb_store_tx_finish(s, began, ok);
}

static double col_num(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

int cb_store_progress(cb_store *s, const char *id, cb_run_progress *p) {
  memset(p, 0, sizeof *p);
  sqlite3_stmt *st;
  if (cb_store_prepare(
          s,
          "SELECT r.id, r.name, r.status, r.worker, r.error, r.attempts, r.epochs,"
          " (SELECT max(epoch) FROM epochs WHERE run_id = r.id),"
          " (SELECT epsilon FROM epochs WHERE run_id = r.id ORDER BY epoch DESC LIMIT 1),"
          " (SELECT val_dice FROM epochs WHERE run_id = r.id AND val_dice IS NOT NULL"
          "  ORDER BY epoch DESC LIMIT 1),"
          " (SELECT avg(epoch_seconds) FROM epochs WHERE run_id = r.id),"
          " r.started_at, r.heartbeat_at, r.finished_at, a.epsilon_lb, a.epsilon, a.privacy_bug,"
          " r.dp_guarantee FROM runs r LEFT JOIN audits a ON a.run_id = r.id WHERE r.id = ?",
          &st, "reading progress"))
    return -1;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  int rc = cb_store_step(s, st), ret = 0;
  if (rc == SQLITE_ROW) {
    const unsigned char *t;
#define TXT(i, dst) \
  snprintf(dst, sizeof dst, "%s", (t = sqlite3_column_text(st, i)) ? (const char *)t : "")
    TXT(0, p->id);
    TXT(1, p->name);
    TXT(2, p->status);
    TXT(3, p->worker);
    TXT(4, p->error);
#undef TXT
    p->attempts = sqlite3_column_int(st, 5);
    p->epochs_total = sqlite3_column_int(st, 6);
    p->epochs_done = sqlite3_column_int(st, 7);
    p->epsilon = col_num(st, 8);
    p->val_dice = col_num(st, 9);
    p->seconds_per_epoch = col_num(st, 10);
    p->started_at = col_num(st, 11);
    p->heartbeat_at = col_num(st, 12);
    p->finished_at = col_num(st, 13);
    p->audit_lb = col_num(st, 14);
    p->audit_epsilon = col_num(st, 15);
    p->privacy_bug = sqlite3_column_int(st, 16);
    p->dp_guarantee = sqlite3_column_type(st, 17) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 17);
  } else if (rc == SQLITE_DONE) {
    ret = cb_error("%s: no run %s", s->path, id);
  } else {
    ret = cb_store_err(s, rc, "reading progress");
  }
  sqlite3_finalize(st);
  return ret;
}

int cb_store_status_counts(cb_store *s, int64_t sweep_id, int counts[4]) {
  static const char *const names[4] = {"pending", "running", "finished", "failed"};
  memset(counts, 0, 4 * sizeof counts[0]);
  sqlite3_stmt *st;
  if (cb_store_prepare(s,
                       sweep_id > 0 ? "SELECT r.status, count(*) FROM runs r JOIN sweep_runs sr "
                                      "ON sr.run_id = r.id WHERE sr.sweep_id = ? GROUP BY r.status"
                                    : "SELECT status, count(*) FROM runs GROUP BY status",
                       &st, "counting runs"))
    return -1;
  if (sweep_id > 0) sqlite3_bind_int64(st, 1, sweep_id);
  int rc;
  while ((rc = cb_store_step(s, st)) == SQLITE_ROW) {
    const char *status = (const char *)sqlite3_column_text(st, 0);
    for (int k = 0; k < 4; k++)
      if (status && strcmp(status, names[k]) == 0) counts[k] = sqlite3_column_int(st, 1);
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0 : cb_store_err(s, rc, "counting runs");
}
