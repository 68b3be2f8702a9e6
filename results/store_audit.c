/* A run's privacy audit: one row of audits and its canaries, as one unit. */
#include "core/base/error.h"
#include "results/store_internal.h"

#include <math.h>

static int exec_id(cb_store *s, const char *sql, const char *id, const char *what) {
  sqlite3_stmt *st;
  if (cb_store_prepare(s, sql, &st, what)) return -1;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  int rc = cb_store_step(s, st);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0 : cb_store_err(s, rc, what);
}

static int insert_audit(cb_store *s, const char *id, const cb_audit_row *r) {
  sqlite3_stmt *st;
  if (cb_store_prepare(s,
                       "INSERT INTO audits (run_id, kind, canaries, included, guesses, correct,"
                       " confidence, delta, epsilon_lb, epsilon, accountant, privacy_bug, seconds,"
                       " written_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
                       " ?13, ?14)",
                       &st, "writing the audit"))
    return -1;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, r->kind, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 3, r->canaries);
  sqlite3_bind_int(st, 4, r->included);
  sqlite3_bind_int(st, 5, r->guesses);
  sqlite3_bind_int(st, 6, r->correct);
  sqlite3_bind_double(st, 7, r->confidence);
  sqlite3_bind_double(st, 8, r->delta);
  sqlite3_bind_double(st, 9, r->epsilon_lb);
  cb_store_bind_num(st, 10, r->epsilon);
  if (r->accountant)
    sqlite3_bind_text(st, 11, r->accountant, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, 11);
  sqlite3_bind_int(st, 12, r->privacy_bug ? 1 : 0);
  cb_store_bind_num(st, 13, r->seconds);
  sqlite3_bind_double(st, 14, cb_store_now());
  int rc = cb_store_step(s, st);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0 : cb_store_err(s, rc, "writing the audit");
}

static int insert_canaries(cb_store *s, const char *id, const cb_audit_row *r) {
  sqlite3_stmt *st;
  if (cb_store_prepare(s,
                       "INSERT INTO audit_canaries (run_id, canary, included, score, guessed)"
                       " VALUES (?1, ?2, ?3, ?4, ?5)",
                       &st, "writing the audit's canaries"))
    return -1;
  int ret = 0;
  for (int k = 0; !ret && k < r->canaries; k++) {
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, k);
    sqlite3_bind_int(st, 3, r->in[k] ? 1 : 0);
    sqlite3_bind_double(st, 4, r->score[k]);
    sqlite3_bind_int(st, 5, r->guessed[k] ? 1 : 0);
    int rc = cb_store_step(s, st);
    if (rc != SQLITE_DONE) ret = cb_store_err(s, rc, "writing the audit's canaries");
  }
  sqlite3_finalize(st);
  return ret;
}

int cb_store_put_audit(cb_store *s, const char *id, const cb_audit_row *r) {
  if (!(r->canaries > 0) || !r->in || !r->score || !r->guessed || !isfinite(r->epsilon_lb))
    return cb_error("%s: internal: incomplete audit of run %s", s->path, id);
  int began = cb_store_tx_start(s);
  if (began < 0) return -1;
  int ok = exec_id(s, "DELETE FROM audits WHERE run_id = ?1", id, "replacing the audit") == 0 &&
           insert_audit(s, id, r) == 0 && insert_canaries(s, id, r) == 0;
  return cb_store_tx_finish(s, began, ok);
}
