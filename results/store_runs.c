/* Sweeps and the run life cycle: create, claim, heartbeat, finish, fail,
 * release, requeue. Every state change is one statement inside one BEGIN
 * IMMEDIATE transaction, and changes on behalf of a worker check that the run
 * still belongs to it. */
#include "core/base/error.h"
#include "core/base/version.h"
#include "results/store_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *dup_col(sqlite3_stmt *st, int i) {
  const unsigned char *t = sqlite3_column_text(st, i);
  return t ? cb_strdup((const char *)t) : NULL;
}

static void copy_col(sqlite3_stmt *st, int i, char *buf, size_t n) {
  const unsigned char *t = sqlite3_column_text(st, i);
  snprintf(buf, n, "%s", t ? (const char *)t : "");
}

int cb_store_find_sweep(cb_store *s, const char *name, int64_t *sweep_id) {
  sqlite3_stmt *st;
  if (cb_store_prepare(s, "SELECT id FROM sweeps WHERE name = ?", &st, "looking up a sweep"))
    return -1;
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  int rc = cb_store_step(s, st), found = 0;
  if (rc == SQLITE_ROW) {
    *sweep_id = sqlite3_column_int64(st, 0);
    found = 1;
  } else if (rc != SQLITE_DONE) {
    found = cb_store_err(s, rc, "looking up a sweep");
  }
  sqlite3_finalize(st);
  return found;
}

int cb_store_add_sweep(cb_store *s, const char *name, const char *file, const char *spec,
                       int64_t *sweep_id) {
  int began = cb_store_tx_start(s);
  if (began < 0) return -1;
  sqlite3_stmt *st;
  int ok = cb_store_prepare(s,
                            "INSERT INTO sweeps (name, file, spec, created_at) VALUES (?, ?, ?, "
                            "?) ON CONFLICT (name) DO NOTHING",
                            &st, "adding a sweep") == 0;
  if (ok) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, file, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, spec, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 4, cb_store_now());
    int rc = cb_store_step(s, st);
    if (rc != SQLITE_DONE) ok = cb_store_err(s, rc, "adding a sweep") == 0;
    sqlite3_finalize(st);
  }
  ok = ok && cb_store_find_sweep(s, name, sweep_id) == 1;
  return cb_store_tx_finish(s, began, ok);
}

/* The main fields are copied out of the config JSON by SQLite itself, so the
 * columns can never disagree with the stored configuration. */
static const char ADD_RUN[] =
    "INSERT INTO runs (id, name, config, arch, width, depth, up, data_source, image_h, image_w,"
    " classes, clipping, noise_multiplier, target_epsilon, clip_bound, delta, accountant,"
    " optimizer, lr, weight_decay, batch_size, epochs, seed, created_at) "
    "SELECT ?1, ?2, c, c ->> '$.model.arch', c ->> '$.model.width', c ->> '$.model.depth',"
    " c ->> '$.model.up', c ->> '$.data.source', c ->> '$.data.size[0]', c ->> '$.data.size[1]',"
    " c ->> '$.data.classes', coalesce(c ->> '$.dp.clipping', 'none'),"
    " c ->> '$.dp.noise_multiplier', c ->> '$.dp.target_epsilon', c ->> '$.dp.clip_bound',"
    " c ->> '$.dp.delta', c ->> '$.dp.accountants[0]', c ->> '$.train.optimizer',"
    " c ->> '$.train.lr', c ->> '$.train.weight_decay', c ->> '$.train.batch_size',"
    " c ->> '$.train.epochs', c ->> '$.seed', ?4 "
    "FROM (SELECT json(?3) AS c) WHERE true "
    "ON CONFLICT (id) DO NOTHING";

int cb_store_add_run(cb_store *s, const char *id, const char *name, const char *config,
                     int64_t sweep_id, int idx, const char *point, int *created) {
  if (strlen(id) != CB_STORE_RUN_ID_LEN)
    return cb_error("%s: run id '%s' is not %d hex digits", s->path, id, CB_STORE_RUN_ID_LEN);
  int began = cb_store_tx_start(s);
  if (began < 0) return -1;
  sqlite3_stmt *st;
  int ok = cb_store_prepare(s, ADD_RUN, &st, "adding a run") == 0, made = 0;
  if (ok) {
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, config, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 4, cb_store_now());
    int rc = cb_store_step(s, st);
    if (rc != SQLITE_DONE)
      ok = cb_store_err(s, rc, "adding a run") == 0;
    else
      made = sqlite3_changes(s->db) > 0;
    sqlite3_finalize(st);
  }
  if (ok && sweep_id > 0) {
    ok = cb_store_prepare(s,
                          "INSERT INTO sweep_runs (sweep_id, run_id, idx, point) VALUES (?, ?, "
                          "?, ?) ON CONFLICT (sweep_id, run_id) DO NOTHING",
                          &st, "adding a run to a sweep") == 0;
    if (ok) {
      sqlite3_bind_int64(st, 1, sweep_id);
      sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
      sqlite3_bind_int(st, 3, idx);
      if (point)
        sqlite3_bind_text(st, 4, point, -1, SQLITE_STATIC);
      else
        sqlite3_bind_null(st, 4);
      int rc = cb_store_step(s, st);
      if (rc != SQLITE_DONE) ok = cb_store_err(s, rc, "adding a run to a sweep") == 0;
      sqlite3_finalize(st);
    }
  }
  if (created) *created = made;
  return cb_store_tx_finish(s, began, ok);
}

void cb_claim_free(cb_claim *c) {
  free(c->config);
  free(c->checkpoint);
  c->config = c->checkpoint = NULL;
}

static int epochs_done(cb_store *s, const char *id, int *n) {
  sqlite3_stmt *st;
  if (cb_store_prepare(s, "SELECT coalesce(max(epoch), 0) FROM epochs WHERE run_id = ?", &st,
                       "counting epochs"))
    return -1;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  int rc = cb_store_step(s, st);
  if (rc == SQLITE_ROW) *n = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return rc == SQLITE_ROW ? 0 : cb_store_err(s, rc, "counting epochs");
}

/* The claim update; %s is the choice of run. RETURNING hands back the row
 * the same statement changed, so no other process can take it in between. */
#define CLAIM_SET                                                                  \
  "UPDATE runs SET status = 'running', worker = ?1, host = ?2, git_rev = ?3,"      \
  " started_at = coalesce(started_at, ?4), heartbeat_at = ?4, finished_at = NULL," \
  " error = NULL, attempts = attempts + 1 "
#define CLAIM_RETURNING " RETURNING id, config, checkpoint, attempts, attempts - interruptions"

static int do_claim(cb_store *s, const char *sql, const char *worker, int64_t sweep_id,
                    const char *id, cb_claim *out) {
  memset(out, 0, sizeof *out);
  char host[256];
  snprintf(host, sizeof host, "%s", worker);
  char *colon = strrchr(host, ':');
  if (colon) *colon = 0;
  int began = cb_store_tx_start(s);
  if (began < 0) return -1;
  sqlite3_stmt *st;
  int ok = cb_store_prepare(s, sql, &st, "claiming a run") == 0, got = 0;
  if (ok) {
    sqlite3_bind_text(st, 1, worker, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, host, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, cb_git_rev(), -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 4, cb_store_now());
    if (id) sqlite3_bind_text(st, 5, id, -1, SQLITE_STATIC);
    if (sweep_id > 0) sqlite3_bind_int64(st, 5, sweep_id);
    int rc = cb_store_step(s, st);
    if (rc == SQLITE_ROW) {
      got = 1;
      copy_col(st, 0, out->id, sizeof out->id);
      out->config = dup_col(st, 1);
      out->checkpoint = dup_col(st, 2);
      out->attempts = sqlite3_column_int(st, 3);
      out->counted = sqlite3_column_int(st, 4);
      snprintf(out->status, sizeof out->status, "running");
      rc = cb_store_step(s, st);
      if (!out->config) ok = 0;
    }
    if (ok && rc != SQLITE_DONE) ok = cb_store_err(s, rc, "claiming a run") == 0;
    sqlite3_finalize(st);
  }
  if (ok && got) ok = epochs_done(s, out->id, &out->epochs_done) == 0;
  if (cb_store_tx_finish(s, began, ok)) {
    cb_claim_free(out);
    return -1;
  }
  return got;
}

int cb_store_claim_next(cb_store *s, int64_t sweep_id, const char *worker, cb_claim *out) {
  if (sweep_id > 0)
    return do_claim(s,
                    CLAIM_SET "WHERE id = (SELECT r.id FROM runs r JOIN sweep_runs sr ON sr.run_id "
                              "= r.id WHERE sr.sweep_id = ?5 AND r.status = 'pending' ORDER BY "
                              "sr.idx LIMIT 1)" CLAIM_RETURNING,
                    worker, sweep_id, NULL, out);
  return do_claim(s,
                  CLAIM_SET "WHERE id = (SELECT id FROM runs WHERE status = 'pending' ORDER BY "
                            "created_at, id LIMIT 1)" CLAIM_RETURNING,
                  worker, 0, NULL, out);
}

static int run_status(cb_store *s, const char *id, char *status, size_t n, char *worker,
                      size_t wn) {
  sqlite3_stmt *st;
  if (cb_store_prepare(s, "SELECT status, worker FROM runs WHERE id = ?", &st, "reading a run"))
    return -1;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  int rc = cb_store_step(s, st), found = 0;
  if (rc == SQLITE_ROW) {
    copy_col(st, 0, status, n);
    if (worker) copy_col(st, 1, worker, wn);
    found = 1;
  } else if (rc != SQLITE_DONE) {
    found = cb_store_err(s, rc, "reading a run");
  }
  sqlite3_finalize(st);
  return found;
}

int cb_store_claim_run(cb_store *s, const char *id, const char *worker, int retry_failed,
                       cb_claim *out) {
  int got = do_claim(
      s,
      retry_failed ? CLAIM_SET "WHERE id = ?5 AND status IN ('pending', 'failed')" CLAIM_RETURNING
                   : CLAIM_SET "WHERE id = ?5 AND status = 'pending'" CLAIM_RETURNING,
      worker, 0, id, out);
  if (got != 0) return got;
  int found = run_status(s, id, out->status, sizeof out->status, NULL, 0);
  if (found < 0) return -1;
  if (!found) return cb_error("%s: no run %s", s->path, id);
  snprintf(out->id, sizeof out->id, "%s", id);
  return 0;
}

/* Runs `sql` (bound: ?1 worker or NULL, ?2 id, ?3 now, ?4 text) and checks
 * that it changed the run; otherwise explains whose run it is now. */
static int owned_update(cb_store *s, const char *sql, const char *id, const char *worker,
                        const char *text, const char *what) {
  int began = cb_store_tx_start(s);
  if (began < 0) return -1;
  sqlite3_stmt *st;
  int ok = cb_store_prepare(s, sql, &st, what) == 0;
  if (ok) {
    if (worker)
      sqlite3_bind_text(st, 1, worker, -1, SQLITE_STATIC);
    else
      sqlite3_bind_null(st, 1);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 3, cb_store_now());
    if (text)
      sqlite3_bind_text(st, 4, text, -1, SQLITE_STATIC);
    else
      sqlite3_bind_null(st, 4);
    int rc = cb_store_step(s, st);
    if (rc != SQLITE_DONE) ok = cb_store_err(s, rc, what) == 0;
    sqlite3_finalize(st);
  }
  if (ok && sqlite3_changes(s->db) == 0) {
    char status[16] = "", owner[128] = "";
    int found = run_status(s, id, status, sizeof status, owner, sizeof owner);
    if (found == 0)
      cb_error("%s: %s: no run %s", s->path, what, id);
    else if (found > 0)
      cb_error("%s: %s: run %s is no longer held by %s (status %s, worker %s); another worker "
               "took it over after a missed heartbeat, so this one stops",
               s->path, what, id, worker ? worker : "(none)", status, owner[0] ? owner : "none");
    ok = 0;
  }
  return cb_store_tx_finish(s, began, ok);
}

#define OWNED "WHERE id = ?2 AND status = 'running' AND (?1 IS NULL OR worker = ?1)"

int cb_store_heartbeat(cb_store *s, const char *id, const char *worker) {
  /* A beat also notices the database being deleted or replaced. */
  if (cb_store_check_file(s)) return -1;
  return owned_update(s, "UPDATE runs SET heartbeat_at = ?3 " OWNED, id, worker, NULL, "heartbeat");
}

int cb_store_finish(cb_store *s, const char *id, const char *worker) {
  return owned_update(s,
                      "UPDATE runs SET status = 'finished', finished_at = ?3, heartbeat_at = ?3, "
                      "error = NULL " OWNED,
                      id, worker, NULL, "marking a run finished");
}

int cb_store_fail(cb_store *s, const char *id, const char *worker, const char *error) {
  return owned_update(s,
                      "UPDATE runs SET status = 'failed', finished_at = ?3, heartbeat_at = ?3, "
                      "error = ?4 " OWNED,
                      id, worker, error ? error : "unknown error", "marking a run failed");
}

int cb_store_release(cb_store *s, const char *id, const char *worker) {
  return owned_update(s,
                      "UPDATE runs SET status = 'pending', heartbeat_at = ?3, interruptions = "
                      "interruptions + 1 " OWNED,
                      id, worker, NULL, "releasing a run");
}

int cb_store_requeue(cb_store *s, const char *id, const char *worker) {
  return owned_update(s, "UPDATE runs SET status = 'pending', heartbeat_at = ?3 " OWNED, id, worker,
                      NULL, "giving back the run of a dead worker");
}

/* Attempts that count against the limit: claims not ended by an
 * interruption (the current one included). */
#define CRASHES "(attempts - interruptions)"

int cb_store_requeue_stale(cb_store *s, double grace_s, int max_attempts, int *n) {
  int began = cb_store_tx_start(s);
  if (began < 0) return -1;
  sqlite3_stmt *st;
  int ok = cb_store_prepare(
               s,
               "UPDATE runs SET"
               " status = CASE WHEN ?2 > 0 AND " CRASHES " >= ?2 THEN 'failed' ELSE 'pending' "
               "END,"
               " error = CASE WHEN ?2 > 0 AND " CRASHES " >= ?2 THEN 'worker ' || "
               "coalesce(worker, '?') || ' stopped sending heartbeats; gave up after ' || " CRASHES
               " || ' attempts' ELSE error END,"
               " finished_at = CASE WHEN ?2 > 0 AND " CRASHES " >= ?2 THEN ?1 ELSE NULL END "
               "WHERE status = 'running' AND (heartbeat_at IS NULL OR heartbeat_at < ?1 - ?3)",
               &st, "requeueing runs of dead workers") == 0;
  if (ok) {
    sqlite3_bind_double(st, 1, cb_store_now());
    sqlite3_bind_int(st, 2, max_attempts);
    sqlite3_bind_double(st, 3, grace_s);
    int rc = cb_store_step(s, st);
    if (rc != SQLITE_DONE) ok = cb_store_err(s, rc, "requeueing runs of dead workers") == 0;
    if (ok && n) *n = sqlite3_changes(s->db);
    sqlite3_finalize(st);
  }
  return cb_store_tx_finish(s, began, ok);
}

int cb_store_set_run_field(cb_store *s, const char *id, const char *field, const char *value) {
  static const char *const allowed[] = {
      "backend",   "checkpoint",       "host", "slurm_job_id", "slurm_task_id",
      "slurm_log", "data_fingerprint", NULL};
  int k = 0;
  while (allowed[k] && strcmp(allowed[k], field) != 0)
    k++;
  if (!allowed[k]) return cb_error("%s: internal: runs.%s cannot be set", s->path, field);
  char sql[128], what[96];
  snprintf(sql, sizeof sql, "UPDATE runs SET %s = ?4 WHERE id = ?2 AND ?1 IS NULL AND ?3 > 0",
           allowed[k]);
  snprintf(what, sizeof what, "setting runs.%s", allowed[k]);
  return owned_update(s, sql, id, NULL, value, what);
}
