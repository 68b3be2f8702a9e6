/* Progress of a sweep read from the database: per-run epochs, epsilon, Dice,
 * worker, error, and the time left. Shared by `clipbench status` and the
 * display of `clipbench sweep`. */
#include "core/base/error.h"
#include "sweeps/sweep.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void cb_sweep_fmt_duration(double s, char *buf, size_t n) {
  if (!isfinite(s) || s < 0)
    snprintf(buf, n, "?");
  else if (s < 60)
    snprintf(buf, n, "%.0fs", s);
  else if (s < 3600)
    snprintf(buf, n, "%.0fm%02.0fs", floor(s / 60), fmod(floor(s), 60));
  else if (s < 86400 * 2)
    snprintf(buf, n, "%.0fh%02.0fm", floor(s / 3600), fmod(floor(s / 60), 60));
  else
    snprintf(buf, n, "%.0fd%02.0fh", floor(s / 86400), fmod(floor(s / 3600), 24));
}

static double wall_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int status_index(const char *s) {
  static const char *const names[4] = {"pending", "running", "finished", "failed"};
  for (int k = 0; k < 4; k++)
    if (strcmp(s, names[k]) == 0) return k;
  return -1;
}

void cb_sweep_snapshot_free(cb_sweep_snapshot *ss) {
  for (int i = 0; i < ss->n; i++)
    free(ss->items[i].point);
  free(ss->items);
  memset(ss, 0, sizeof *ss);
}

static int read_members(cb_store *s, cb_sweep_snapshot *ss) {
  sqlite3 *db = cb_store_db(s);
  sqlite3_stmt *st;
  const char *sql =
      ss->sweep_id > 0
          ? "SELECT idx, run_id, point FROM sweep_runs WHERE sweep_id = ? ORDER BY idx"
          : "SELECT -1, id, NULL FROM runs WHERE id NOT IN (SELECT run_id FROM sweep_runs) "
            "ORDER BY created_at, id";
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    return cb_error("%s: reading runs: %s", cb_store_path(s), sqlite3_errmsg(db));
  if (ss->sweep_id > 0) sqlite3_bind_int64(st, 1, ss->sweep_id);
  int cap = 0, rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (ss->n == cap) {
      cap = cap ? 2 * cap : 64;
      cb_sweep_item *ni = realloc(ss->items, (size_t)cap * sizeof *ni);
      if (!ni) {
        sqlite3_finalize(st);
        return cb_error("out of memory");
      }
      ss->items = ni;
    }
    cb_sweep_item *it = &ss->items[ss->n++];
    memset(it, 0, sizeof *it);
    it->idx = sqlite3_column_int(st, 0);
    snprintf(it->p.id, sizeof it->p.id, "%s", (const char *)sqlite3_column_text(st, 1));
    const unsigned char *pt = sqlite3_column_text(st, 2);
    it->point = pt ? cb_strdup((const char *)pt) : NULL;
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0
                           : cb_error("%s: reading runs: %s", cb_store_path(s), sqlite3_errmsg(db));
}

int cb_sweep_snapshot_take(cb_store *s, int64_t sweep_id, cb_sweep_snapshot *ss) {
  memset(ss, 0, sizeof *ss);
  ss->sweep_id = sweep_id;
  ss->eta_s = NAN;
  if (sweep_id > 0) {
    sqlite3 *db = cb_store_db(s);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT name, file FROM sweeps WHERE id = ?", -1, &st, NULL) !=
        SQLITE_OK)
      return cb_error("%s: reading a sweep: %s", cb_store_path(s), sqlite3_errmsg(db));
    sqlite3_bind_int64(st, 1, sweep_id);
    if (sqlite3_step(st) == SQLITE_ROW) {
      const unsigned char *n = sqlite3_column_text(st, 0), *f = sqlite3_column_text(st, 1);
      snprintf(ss->name, sizeof ss->name, "%s", n ? (const char *)n : "");
      snprintf(ss->file, sizeof ss->file, "%s", f ? (const char *)f : "");
    }
    sqlite3_finalize(st);
  }
  if (read_members(s, ss)) {
    cb_sweep_snapshot_free(ss);
    return -1;
  }
  for (int i = 0; i < ss->n; i++) {
    cb_sweep_item *it = &ss->items[i];
    char id[CB_RUN_ID_LEN + 1];
    snprintf(id, sizeof id, "%s", it->p.id);
    if (cb_store_progress(s, id, &it->p)) {
      cb_sweep_snapshot_free(ss);
      return -1;
    }
  }
  cb_sweep_snapshot_tally(ss);
  return 0;
}

void cb_sweep_snapshot_tally(cb_sweep_snapshot *ss) {
  memset(ss->counts, 0, sizeof ss->counts);
  ss->active = 0;
  double now = wall_now(), spe_sum = 0, ep_sum = 0;
  for (int i = 0; i < ss->n; i++) {
    cb_sweep_item *it = &ss->items[i];
    int k = status_index(it->p.status);
    if (k >= 0) ss->counts[k]++;
    it->stale = it->dead = 0;
    if (k == CB_RUN_RUNNING) {
      /* A local worker is asked directly: a dead one is no worker (and no
       * ETA) even while its last heartbeat is recent. */
      it->dead = cb_sweep_worker_dead(it->p.worker);
      it->stale = it->dead ||
                  !(isfinite(it->p.heartbeat_at) && now - it->p.heartbeat_at <= CB_SWEEP_GRACE_S);
      ss->active += !it->stale;
    }
    if (it->p.epochs_done > 0 && isfinite(it->p.seconds_per_epoch)) {
      spe_sum += it->p.seconds_per_epoch * it->p.epochs_done;
      ep_sum += it->p.epochs_done;
    }
  }
  /* Time left: each unfinished run's remaining epochs at its own pace, or at
   * the sweep's mean pace before it has one. */
  double mean = ep_sum > 0 ? spe_sum / ep_sum : NAN, left = 0;
  int unknown = 0;
  for (int i = 0; i < ss->n; i++) {
    const cb_run_progress *p = &ss->items[i].p;
    int k = status_index(p->status);
    if (k != CB_RUN_PENDING && k != CB_RUN_RUNNING) continue;
    int rest = p->epochs_total - p->epochs_done;
    if (rest <= 0) continue;
    double spe = p->epochs_done > 0 && isfinite(p->seconds_per_epoch) ? p->seconds_per_epoch : mean;
    if (!isfinite(spe))
      unknown = 1;
    else
      left += rest * spe;
  }
  ss->remaining_s = unknown ? NAN : left;
  ss->eta_s = unknown ? NAN : left / (ss->active > 0 ? ss->active : 1);
}
