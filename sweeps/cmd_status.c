/* clipbench status [SWEEP] --db DB: where sweeps and runs stand. */
#include "core/base/cli.h"
#include "core/base/error.h"
#include "core/base/json.h"
#include "core/cli/commands.h"
#include "results/bounds.h"
#include "sweeps/slurm.h"
#include "sweeps/sweep.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void json_counts(cb_json *j, const cb_sweep_snapshot *ss) {
  cb_json_kv_int(j, "runs", ss->n);
  cb_json_kv_int(j, "pending", ss->counts[CB_RUN_PENDING]);
  cb_json_kv_int(j, "running", ss->counts[CB_RUN_RUNNING]);
  cb_json_kv_int(j, "finished", ss->counts[CB_RUN_FINISHED]);
  cb_json_kv_int(j, "failed", ss->counts[CB_RUN_FAILED]);
  cb_json_kv_int(j, "active_workers", ss->active);
  cb_json_kv_num(j, "remaining_s", ss->remaining_s);
  cb_json_kv_num(j, "eta_s", ss->eta_s);
  if (ss->slurm) {
    cb_json_kv_str(j, "slurm_dir", ss->slurm_dir);
    cb_json_kv_int(j, "queued", ss->queued);
    cb_json_kv_int(j, "unmerged", ss->unmerged);
    if (ss->queue_note[0]) cb_json_kv_str(j, "squeue", ss->queue_note);
  }
}

static void json_run(const cb_sweep_snapshot *ss, const cb_sweep_item *it) {
  const cb_run_progress *p = &it->p;
  cb_json j;
  cb_json_init_file(&j, stdout);
  cb_json_obj_begin(&j);
  if (ss->sweep_id > 0) {
    cb_json_kv_str(&j, "sweep", ss->name);
    cb_json_kv_int(&j, "idx", it->idx);
  }
  cb_json_kv_str(&j, "run_id", p->id);
  cb_json_kv_str(&j, "name", p->name);
  cb_json_kv_str(&j, "status", p->status);
  cb_json_kv_int(&j, "epochs_done", p->epochs_done);
  cb_json_kv_int(&j, "epochs", p->epochs_total);
  cb_json_kv_num(&j, "epsilon", p->epsilon);
  if (p->dp_guarantee >= 0) cb_json_kv_bool(&j, "dp_guarantee", p->dp_guarantee);
  cb_json_kv_num(&j, "val_dice", p->val_dice);
  cb_json_kv_num(&j, "seconds_per_epoch", p->seconds_per_epoch);
  cb_json_kv_int(&j, "attempts", p->attempts);
  if (p->worker[0]) cb_json_kv_str(&j, "worker", p->worker);
  if (strcmp(p->status, "running") == 0) {
    cb_json_kv_bool(&j, "stale", it->stale);
    cb_json_kv_bool(&j, "worker_dead", it->dead);
  }
  if (p->error[0]) cb_json_kv_str(&j, "error", p->error);
  if (isfinite(p->audit_lb)) {
    cb_json_kv_num(&j, "audit_epsilon_lb", p->audit_lb);
    cb_json_kv_bool(&j, "privacy_bug", p->privacy_bug);
  }
  if (it->slurm[0]) cb_json_kv_str(&j, "slurm", it->slurm);
  if (it->log[0]) cb_json_kv_str(&j, "log", it->log);
  if (ss->slurm) cb_json_kv_bool(&j, "in_shard", it->in_shard);
  if (it->point) {
    cb_json_key(&j, "point");
    cb_json_raw(&j, it->point);
  }
  cb_json_obj_end(&j);
  printf("\n");
}

/* The sweep's one-line JSON summary (name, file, counts). */
static void json_sweep(const cb_sweep_snapshot *ss) {
  cb_json j;
  cb_json_init_file(&j, stdout);
  cb_json_obj_begin(&j);
  cb_json_kv_str(&j, "sweep", ss->name);
  cb_json_kv_str(&j, "file", ss->file);
  json_counts(&j, ss);
  cb_json_obj_end(&j);
  printf("\n");
}

/* A sweep's runs as the store has them, with what SLURM knows laid over. */
static int take_snapshot(cb_store *s, int64_t id, cb_sweep_snapshot *ss) {
  int rc = cb_sweep_snapshot_take(s, id, ss);
  if (!rc && (rc = cb_sweep_slurm_overlay(s, ss))) cb_sweep_snapshot_free(ss);
  return rc;
}

static void fmt_num(double v, const char *fmt, char *buf, size_t n) {
  if (isfinite(v))
    snprintf(buf, n, fmt, v);
  else
    snprintf(buf, n, "-");
}

/* Red on a terminal (unless NO_COLOR is set), plain text otherwise. */
static int use_color(void) {
  return isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
}

/* The privacy audit's verdict after a run's line: its lower bound, and a
 * privacy bug in red when that exceeds the accountant's epsilon. */
static void text_audit(const cb_run_progress *p) {
  if (!isfinite(p->audit_lb)) return;
  printf("  audit: eps >= %.3g", p->audit_lb);
  if (p->privacy_bug)
    printf("  %sPRIVACY BUG: the audited lower bound exceeds the accountant's epsilon %.3g%s",
           use_color() ? "\033[1;31m" : "", p->audit_epsilon, use_color() ? "\033[0m" : "");
}

/* One line per run: position, id, status, epochs, epsilon, Dice, then the
 * worker (running), the error (failed) or the name, then the audit. */
static void text_runs(const cb_sweep_snapshot *ss) {
  printf("%5s  %-16s  %-8s  %7s  %8s  %6s  %s\n", "idx", "run id", "status", "epoch", "epsilon",
         "dice", "name / worker / error");
  for (int i = 0; i < ss->n; i++) {
    const cb_sweep_item *it = &ss->items[i];
    const cb_run_progress *p = &it->p;
    char ep[32], eps[32], dice[32], idx[16];
    snprintf(ep, sizeof ep, "%d/%d", p->epochs_done, p->epochs_total);
    fmt_num(p->epsilon, "%.3g", eps, sizeof eps);
    fmt_num(p->val_dice, "%.3f", dice, sizeof dice);
    if (it->idx >= 0)
      snprintf(idx, sizeof idx, "%d", it->idx);
    else
      snprintf(idx, sizeof idx, "-");
    printf("%5s  %-16s  %-8s  %7s  %8s  %6s  %s", idx, p->id, p->status, ep, eps, dice, p->name);
    if (p->dp_guarantee == 0) printf("  [epsilon: not a DP guarantee]");
    if (it->slurm[0]) {
      printf("  [%s]", it->slurm);
      if (strcmp(p->status, "failed") == 0) printf("  error: %s", p->error);
      if (it->log[0] && strcmp(p->status, "finished") != 0) printf("  log: %s", it->log);
    } else if (strcmp(p->status, "running") == 0) {
      printf("  [worker %s%s]", p->worker,
             it->dead    ? ", dead: the next sweep or run on this machine takes the run back"
             : it->stale ? ", no heartbeat: taken back after the grace period"
                         : "");
    } else if (strcmp(p->status, "failed") == 0) {
      printf("  error: %s", p->error);
      if (it->log[0]) printf("  log: %s", it->log);
    }
    text_audit(p);
    printf("\n");
  }
}

static void text_header(const cb_sweep_snapshot *ss, const char *db) {
  char eta[32], left[32];
  cb_sweep_fmt_duration(ss->eta_s, eta, sizeof eta);
  cb_sweep_fmt_duration(ss->remaining_s, left, sizeof left);
  int open = ss->counts[CB_RUN_PENDING] + ss->counts[CB_RUN_RUNNING];
  printf("sweep %s%s%s%s: %d runs: %d finished, %d running, %d failed, %d pending", ss->name,
         ss->file[0] ? " (" : "", ss->file, ss->file[0] ? ")" : "", ss->n,
         ss->counts[CB_RUN_FINISHED], ss->counts[CB_RUN_RUNNING], ss->counts[CB_RUN_FAILED],
         ss->counts[CB_RUN_PENDING]);
  if (open && ss->active)
    printf("; ETA %s with %d %s%s", eta, ss->active, ss->slurm ? "task" : "worker",
           ss->active == 1 ? "" : "s");
  else if (open)
    printf("; %s of training left, no %s running", left, ss->slurm ? "task" : "worker");
  printf("\n");
  if (!ss->slurm) return;
  printf("  SLURM (%s): %d queued", ss->slurm_dir, ss->queued);
  if (ss->queue_note[0]) printf(" (%s; states from the status files)", ss->queue_note);
  if (ss->unmerged)
    printf("; %d finished or failed in shards not merged yet: clipbench merge --db %s %s/shards",
           ss->unmerged, db, ss->slurm_dir);
  printf("\n");
}

static int list_sweeps(cb_store *s, int64_t **ids, int *n) {
  sqlite3 *db = cb_store_db(s);
  sqlite3_stmt *st;
  *ids = NULL;
  *n = 0;
  if (sqlite3_prepare_v2(db, "SELECT id FROM sweeps ORDER BY created_at, id", -1, &st, NULL) !=
      SQLITE_OK)
    return cb_error("%s: listing sweeps: %s", cb_store_path(s), sqlite3_errmsg(db));
  int cap = 0, rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (*n == cap) {
      cap = cap ? 2 * cap : 16;
      int64_t *ni = realloc(*ids, (size_t)cap * sizeof *ni);
      if (!ni) break;
      *ids = ni;
    }
    (*ids)[(*n)++] = sqlite3_column_int64(st, 0);
  }
  sqlite3_finalize(st);
  if (rc == SQLITE_DONE) return 0;
  free(*ids);
  *ids = NULL;
  *n = 0;
  return rc == SQLITE_ROW
             ? cb_error("out of memory listing sweeps")
             : cb_error("%s: listing sweeps: %s", cb_store_path(s), sqlite3_errmsg(db));
}

/* Without a sweep name: one line per sweep, then the runs in no sweep. */
static int status_all(cb_store *s, int json) {
  int64_t *ids;
  int n;
  if (list_sweeps(s, &ids, &n)) return -1;
  int rc = 0;
  for (int i = 0; !rc && i < n; i++) {
    cb_sweep_snapshot ss;
    if ((rc = take_snapshot(s, ids[i], &ss))) break;
    if (json) {
      json_sweep(&ss);
    } else {
      text_header(&ss, cb_store_path(s));
      for (int k = 0; k < ss.n; k++)
        if (strcmp(ss.items[k].p.status, "failed") == 0)
          printf("  failed %s %s: %s%s%s\n", ss.items[k].p.id, ss.items[k].p.name,
                 ss.items[k].p.error, ss.items[k].log[0] ? "  log: " : "", ss.items[k].log);
      for (int k = 0; k < ss.n; k++)
        if (ss.items[k].p.privacy_bug) {
          printf("  %s %s:", ss.items[k].p.id, ss.items[k].p.name);
          text_audit(&ss.items[k].p);
          printf("\n");
        }
    }
    cb_sweep_snapshot_free(&ss);
  }
  free(ids);
  cb_sweep_snapshot loose;
  if (!rc) rc = cb_sweep_snapshot_take(s, 0, &loose);
  if (!rc) {
    if (json) {
      for (int k = 0; k < loose.n; k++)
        json_run(&loose, &loose.items[k]);
    } else if (loose.n) {
      printf("%d run%s in no sweep (clipbench run):\n", loose.n, loose.n == 1 ? "" : "s");
      text_runs(&loose);
    } else if (!n) {
      printf("no sweeps or runs in %s yet\n", cb_store_path(s));
    }
    cb_sweep_snapshot_free(&loose);
  }
  return rc;
}

static void print_warning(void *ctx, const char *msg) {
  int *n = ctx;
  if ((*n)++ < 20) printf("  warning: %s\n", msg);
}

/* Bounds that never or always bind, after the text listing. */
static int bound_warnings(cb_store *s, const char *sweep) {
  int n = 0;
  if (cb_bound_warnings(s, sweep, print_warning, &n) < 0) return -1;
  if (n > 20)
    printf("  ... and %d more (clipbench export --db %s --query bounds)\n", n - 20,
           cb_store_path(s));
  return 0;
}

int cb_cmd_status(int argc, char **argv) {
  cb_cli c;
  const char *db = CB_DEFAULT_DB;
  int json = 0;
  cb_cli_init(
      &c, "clipbench status", "[SWEEP] [options]",
      "Shows where a sweep stands: runs per status, each run's epoch, epsilon so far and "
      "validation Dice, the worker of running runs, the error of failed ones, and the time "
      "left (each unfinished run's remaining epochs at its own seconds per epoch, or the "
      "sweep's mean before it has one, divided by the workers running). For a sweep sent to "
      "SLURM (sweep --slurm): which runs are queued, running on which job, finished or failed "
      "in shards not merged yet (from squeue and the tasks' status files), with the task's log. "
      "Audited runs show their epsilon lower bound; one above the accountant's epsilon is a "
      "PRIVACY BUG (in red on a terminal). "
      "Without SWEEP: every sweep and the runs that belong to none.");
  c.max_pos = 1;
  cb_cli_add(&c, "db", CB_OPT_STR, &db, "DB", "results database (" CB_DEFAULT_DB ")");
  cb_cli_add(&c, "json", CB_OPT_FLAG, &json, NULL, "one JSON object per sweep/run");
  int rc = cb_cli_parse(&c, argc, argv);
  if (rc) return rc > 0 ? 0 : -1;
  if (access(db, F_OK) != 0) return cb_error("no results database at %s (give --db)", db);
  cb_store *s = cb_store_open(db, CB_STORE_READONLY);
  if (!s) return -1;
  if (c.n_pos == 0) {
    rc = status_all(s, json);
    if (!rc && !json) rc = bound_warnings(s, NULL);
    cb_store_close(s);
    return rc;
  }
  int64_t id;
  int found = cb_store_find_sweep(s, c.pos[0], &id);
  if (found <= 0) {
    cb_store_close(s);
    return found < 0 ? -1
                     : cb_error("%s: no sweep named '%s' (clipbench status --db %s lists them)", db,
                                c.pos[0], db);
  }
  cb_sweep_snapshot ss;
  rc = take_snapshot(s, id, &ss);
  if (!rc) {
    if (json) {
      json_sweep(&ss);
      for (int k = 0; k < ss.n; k++)
        json_run(&ss, &ss.items[k]);
    } else {
      text_header(&ss, cb_store_path(s));
      text_runs(&ss);
      rc = bound_warnings(s, c.pos[0]);
    }
    cb_sweep_snapshot_free(&ss);
  }
  cb_store_close(s);
  return rc;
}
