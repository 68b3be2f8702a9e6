/* Freezing a sweep's expansion into the results database, and giving back
 * runs whose workers died. Writes go through the store's functions inside one
 * cb_store_begin/commit transaction; the few statements the store has no
 * function for (positions, the spec of a grown sweep, retrying failed runs)
 * are run on its connection inside that same transaction. */
#include "core/base/error.h"
#include "sweeps/sweep.h"

#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static int sql_err(cb_store *s, const char *what) {
  return cb_error("%s: %s: %s", cb_store_path(s), what, sqlite3_errmsg(cb_store_db(s)));
}

typedef struct {
  char id[CB_RUN_ID_LEN + 1];
  int idx;
  int seen;
} listed;

static int cmp_listed(const void *a, const void *b) {
  return strcmp(((const listed *)a)->id, ((const listed *)b)->id);
}

/* The sweep's current members, sorted by run id. */
static int read_listed(cb_store *s, int64_t sweep_id, listed **out, int *n, int *max_idx) {
  *out = NULL;
  *n = 0;
  *max_idx = -1;
  if (sweep_id <= 0) return 0;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(cb_store_db(s),
                         "SELECT run_id, idx FROM sweep_runs WHERE sweep_id = ? ORDER BY run_id",
                         -1, &st, NULL) != SQLITE_OK)
    return sql_err(s, "reading the sweep's runs");
  sqlite3_bind_int64(st, 1, sweep_id);
  int cap = 0, rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (*n == cap) {
      cap = cap ? 2 * cap : 64;
      listed *nl = realloc(*out, (size_t)cap * sizeof *nl);
      if (!nl) {
        sqlite3_finalize(st);
        return cb_error("out of memory");
      }
      *out = nl;
    }
    listed *l = &(*out)[(*n)++];
    snprintf(l->id, sizeof l->id, "%s", (const char *)sqlite3_column_text(st, 0));
    l->idx = sqlite3_column_int(st, 1);
    l->seen = 0;
    if (l->idx > *max_idx) *max_idx = l->idx;
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0 : sql_err(s, "reading the sweep's runs");
}

static int read_statuses(cb_store *s, cb_sweep *sw) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(cb_store_db(s), "SELECT status FROM runs WHERE id = ?", -1, &st, NULL) !=
      SQLITE_OK)
    return sql_err(s, "reading run statuses");
  int rc = SQLITE_DONE;
  for (int i = 0; i < sw->n_runs; i++) {
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, sw->runs[i].id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    const unsigned char *t = rc == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
    snprintf(sw->runs[i].status, sizeof sw->runs[i].status, "%s", t ? (const char *)t : "");
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) break;
    rc = SQLITE_DONE;
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0 : sql_err(s, "reading run statuses");
}

/* Positions: a run already in the sweep keeps its own; new ones follow the
 * highest position in expansion order. */
static int plan(cb_store *s, cb_sweep *sw, int64_t sweep_id, int *n_new, int *n_not_in_file) {
  listed *l;
  int n, max_idx;
  if (read_listed(s, sweep_id, &l, &n, &max_idx)) return -1;
  *n_new = 0;
  for (int i = 0; i < sw->n_runs; i++) {
    cb_sweep_run *r = &sw->runs[i];
    listed key;
    snprintf(key.id, sizeof key.id, "%s", r->id);
    listed *hit = n ? bsearch(&key, l, (size_t)n, sizeof *l, cmp_listed) : NULL;
    if (hit) {
      r->idx = hit->idx;
      r->is_new = 0;
      hit->seen = 1;
    } else {
      r->idx = ++max_idx;
      r->is_new = 1;
      (*n_new)++;
    }
  }
  *n_not_in_file = 0;
  for (int i = 0; i < n; i++)
    *n_not_in_file += !l[i].seen;
  free(l);
  return read_statuses(s, sw);
}

int cb_sweep_plan(cb_store *s, cb_sweep *sw, int64_t *sweep_id) {
  *sweep_id = 0;
  int found = cb_store_find_sweep(s, sw->name, sweep_id);
  if (found < 0) return -1;
  int n_new, gone;
  return plan(s, sw, found ? *sweep_id : 0, &n_new, &gone);
}

static int exec_bound(cb_store *s, const char *sql, int64_t id, const char *t1, const char *t2,
                      int *changes, const char *what) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(cb_store_db(s), sql, -1, &st, NULL) != SQLITE_OK) return sql_err(s, what);
  sqlite3_bind_int64(st, 1, id);
  if (t1) sqlite3_bind_text(st, 2, t1, -1, SQLITE_STATIC);
  if (t2) sqlite3_bind_text(st, 3, t2, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return sql_err(s, what);
  if (changes) *changes = sqlite3_changes(cb_store_db(s));
  return 0;
}

static int freeze_in_tx(cb_store *s, cb_sweep *sw, int retry_failed, cb_sweep_frozen *out) {
  int64_t id = 0;
  int existed = cb_store_find_sweep(s, sw->name, &id);
  if (existed < 0) return -1;
  if (!existed && cb_store_add_sweep(s, sw->name, sw->file, sw->spec, &id)) return -1;
  out->sweep_id = id;
  if (plan(s, sw, id, &out->n_new, &out->n_not_in_file)) return -1;
  for (int i = 0; i < sw->n_runs; i++) {
    cb_sweep_run *r = &sw->runs[i];
    if (r->is_new && cb_store_add_run(s, r->id, r->name, r->config, id, r->idx, r->point, NULL))
      return -1;
  }
  /* A sweep that grew keeps the text that produced its newest points. */
  if (existed && out->n_new &&
      exec_bound(s, "UPDATE sweeps SET spec = ?3, file = ?2 WHERE id = ?1", id, sw->file, sw->spec,
                 NULL, "updating the sweep's spec"))
    return -1;
  if (retry_failed &&
      exec_bound(s,
                 "UPDATE runs SET status = 'pending' WHERE status = 'failed' AND id IN "
                 "(SELECT run_id FROM sweep_runs WHERE sweep_id = ?1)",
                 id, NULL, NULL, &out->n_retried, "setting failed runs back to pending"))
    return -1;
  out->n_listed = sw->n_runs + out->n_not_in_file;
  return read_statuses(s, sw);
}

int cb_sweep_freeze(cb_store *s, cb_sweep *sw, int retry_failed, cb_sweep_frozen *out) {
  memset(out, 0, sizeof *out);
  if (cb_store_begin(s)) return -1;
  if (freeze_in_tx(s, sw, retry_failed, out)) {
    char msg[CB_ERRMSG_MAX];
    snprintf(msg, sizeof msg, "%s", cb_last_error());
    cb_store_rollback(s);
    return cb_error("freezing sweep %s: %s", sw->name, msg);
  }
  return cb_store_commit(s);
}

/* ---- runs of dead workers ----------------------------------------------------- */

int cb_sweep_worker_dead(const char *worker) {
  char me[256];
  cb_store_worker_name(me, sizeof me);
  const char *wc = strrchr(worker, ':'), *mc = strrchr(me, ':');
  if (!wc || !mc || wc - worker != mc - me || strncmp(worker, me, (size_t)(mc - me)) != 0) return 0;
  char *end;
  long pid = strtol(wc + 1, &end, 10);
  if (*end || pid <= 0) return 0;
  return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

int cb_sweep_reclaim(cb_store *s, int64_t sweep_id, double grace_s, int max_attempts, int *n) {
  if (n) *n = 0;
  sqlite3_stmt *st;
  const char *sql = sweep_id > 0
                        ? "SELECT r.id, r.worker, r.attempts - r.interruptions FROM runs r JOIN "
                          "sweep_runs sr ON sr.run_id = r.id WHERE sr.sweep_id = ? AND r.status = "
                          "'running'"
                        : "SELECT id, worker, attempts - interruptions FROM runs WHERE status = "
                          "'running'";
  if (sqlite3_prepare_v2(cb_store_db(s), sql, -1, &st, NULL) != SQLITE_OK)
    return sql_err(s, "finding running runs");
  if (sweep_id > 0) sqlite3_bind_int64(st, 1, sweep_id);
  typedef struct {
    char id[CB_RUN_ID_LEN + 1], worker[256];
    int attempts;
  } held;
  held *h = NULL;
  int nh = 0, cap = 0, rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *w = (const char *)sqlite3_column_text(st, 1);
    if (!w || !cb_sweep_worker_dead(w)) continue;
    if (nh == cap) {
      cap = cap ? 2 * cap : 8;
      held *nhp = realloc(h, (size_t)cap * sizeof *nhp);
      if (!nhp) break;
      h = nhp;
    }
    snprintf(h[nh].id, sizeof h[nh].id, "%s", (const char *)sqlite3_column_text(st, 0));
    snprintf(h[nh].worker, sizeof h[nh].worker, "%s", w);
    h[nh].attempts = sqlite3_column_int(st, 2);
    nh++;
  }
  sqlite3_finalize(st);
  int ret = rc == SQLITE_DONE ? 0 : sql_err(s, "finding running runs");
  /* Another process may take the same run back at the same time; the
   * store's ownership check lets only one succeed, so a refusal is fine. */
  for (int i = 0; !ret && i < nh; i++) {
    char why[512];
    int r2;
    if (max_attempts > 0 && h[i].attempts >= max_attempts) {
      snprintf(why, sizeof why,
               "worker %s died during attempt %d; not retried after %d attempts (clipbench "
               "sweep --retry-failed tries again)",
               h[i].worker, h[i].attempts, max_attempts);
      r2 = cb_store_fail(s, h[i].id, h[i].worker, why);
    } else {
      r2 = cb_store_requeue(s, h[i].id, h[i].worker); /* it died holding it: counts */
    }
    if (!r2 && n) (*n)++;
  }
  free(h);
  int stale = 0;
  if (!ret) ret = cb_store_requeue_stale(s, grace_s, max_attempts, &stale);
  if (n) *n += stale;
  return ret;
}
