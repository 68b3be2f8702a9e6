/* One sweep worker: claim the next pending run of the sweep, train it through
 * the experiment runner with its progress going to the run's log file,
 * repeat. The runner records failures and gives the run back on
 * SIGINT/SIGTERM; the worker then stops claiming. */
#include "core/base/error.h"
#include "core/base/version.h"
#include "experiments/runner.h"
#include "sweeps/slurm.h"
#include "sweeps/sweep.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void cb_sweep_log_path(const char *db, const char *log_dir, const char *id, char *out, size_t n) {
  if (log_dir && *log_dir) {
    snprintf(out, n, "%s/%s.log", log_dir, id);
    return;
  }
  const char *slash = strrchr(db, '/');
  if (slash)
    snprintf(out, n, "%.*s/logs/%s.log", (int)(slash - db), db, id);
  else
    snprintf(out, n, "logs/%s.log", id);
}

static void mkdir_parent(const char *path) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  char *end = strrchr(buf, '/');
  if (!end) return;
  *end = 0;
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    mkdir(buf, 0777);
    *p = '/';
  }
  mkdir(buf, 0777);
}

static void stamp(char *buf, size_t n) {
  time_t t = time(NULL);
  struct tm tm;
  localtime_r(&t, &tm);
  strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm);
}

/* The stored configuration, loaded and checked against its id: a schema
 * change since the sweep was frozen must not train something else under
 * this run's name. */
static int load_claimed(const cb_claim *c, cb_experiment *e) {
  char origin[96], id[CB_RUN_ID_LEN + 1];
  snprintf(origin, sizeof origin, "configuration of run %s", c->id);
  cb_exp_init(e);
  if (!c->config || cb_exp_load_string(e, c->config, origin) || cb_exp_resolve(e) ||
      cb_exp_id(e, id))
    return cb_error_prefix("cannot load the stored configuration: ");
  if (strcmp(id, c->id) != 0)
    return cb_error(
        "the stored configuration now has run id %s, not %s: the experiment schema changed "
        "since the sweep was frozen (clipbench %s); freeze the sweep again with this version "
        "in a new database",
        id, c->id, cb_git_rev());
  return 0;
}

static int run_one(cb_store *s, const char *worker, const cb_claim *c, cb_experiment *e,
                   const cb_sweep_worker_args *a) {
  char log[4096], when[32];
  cb_sweep_log_path(a->db, a->log_dir, c->id, log, sizeof log);
  mkdir_parent(log);
  fflush(stderr);
  int saved = dup(STDERR_FILENO);
  int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd >= 0) {
    dup2(fd, STDERR_FILENO);
    close(fd);
  }
  stamp(when, sizeof when);
  fprintf(stderr, "== %s run %s attempt %d by %s, %d epochs done\n", when, c->id, c->attempts,
          worker, c->epochs_done);
  int rc = load_claimed(c, e);
  if (rc) {
    cb_store_fail(s, c->id, worker, cb_last_error());
  } else {
    if (e->threads == 0 && a->threads > 0) e->threads = a->threads;
    cb_run_args ra = {.db = a->db, .quiet = 0, .label = c->id};
    rc = cb_run_claimed(s, worker, c, e, &ra);
  }
  stamp(when, sizeof when);
  if (rc == 0)
    fprintf(stderr, "== %s finished\n", when);
  else if (cb_run_interrupted())
    fprintf(stderr, "== %s interrupted; the run was given back and resumes from its checkpoint\n",
            when);
  else if (cb_last_error_code() == CB_EXIT_NOSPACE)
    fprintf(stderr, "== %s stopped, no space left: %s\n", when, cb_last_error());
  else
    fprintf(stderr, "== %s failed: %s\n", when, cb_last_error());
  fflush(stderr);
  if (saved >= 0) {
    dup2(saved, STDERR_FILENO);
    close(saved);
  }
  return rc;
}

/* The run at one position of the sweep. */
static int one_index(cb_store *s, int64_t sweep_id, const char *worker, cb_experiment *e,
                     const cb_sweep_worker_args *a) {
  sqlite3_stmt *st;
  sqlite3 *db = cb_store_db(s);
  if (sqlite3_prepare_v2(db,
                         "SELECT run_id, (SELECT max(idx) FROM sweep_runs WHERE sweep_id = ?1) "
                         "FROM sweep_runs WHERE sweep_id = ?1 AND idx = ?2",
                         -1, &st, NULL) != SQLITE_OK)
    return cb_error("%s: %s", a->db, sqlite3_errmsg(db));
  sqlite3_bind_int64(st, 1, sweep_id);
  sqlite3_bind_int(st, 2, a->index);
  char id[CB_RUN_ID_LEN + 1] = "";
  if (sqlite3_step(st) == SQLITE_ROW)
    snprintf(id, sizeof id, "%s", (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  if (!id[0])
    return cb_error("sweep %s in %s has no run at position %d (clipbench status %s lists them)",
                    a->sweep, a->db, a->index, a->sweep);
  if (cb_sweep_reclaim(s, sweep_id, CB_SWEEP_GRACE_S, CB_SWEEP_MAX_ATTEMPTS, NULL)) return -1;
  if (a->shard_of && cb_slurm_takeback(s, id)) return -1;
  cb_claim c;
  int got = cb_store_claim_run(s, id, worker, a->retry_failed, &c);
  if (got < 0) return -1;
  if (got == 0) {
    char status[16];
    snprintf(status, sizeof status, "%s", c.status);
    cb_claim_free(&c);
    if (a->shard_of && strcmp(status, "running") != 0)
      cb_slurm_task_note(s, a->sweep, a->index, id);
    if (strcmp(status, "finished") == 0) {
      fprintf(stderr, "run %s (position %d of sweep %s) is already finished\n", id, a->index,
              a->sweep);
      return 0;
    }
    return cb_error("run %s (position %d of sweep %s) is %s%s", id, a->index, a->sweep, status,
                    strcmp(status, "failed") == 0 ? "; --retry-failed trains it again"
                                                  : " by another worker");
  }
  cb_slurm_task *t = a->shard_of ? cb_slurm_task_begin(s, a->sweep, a->index, id) : NULL;
  int rc = run_one(s, worker, &c, e, a);
  cb_slurm_task_end(t);
  cb_claim_free(&c);
  return rc;
}

int cb_sweep_worker(const cb_sweep_worker_args *a) {
  /* An array task whose run the main database has finished (merged) has
   * nothing to do, even when its shard is gone. */
  char done[CB_RUN_ID_LEN + 1];
  if (a->by_index && a->shard_of &&
      cb_slurm_finished_in_main(a->shard_of, a->sweep, a->index, done, sizeof done)) {
    fprintf(stderr, "run %s (position %d of sweep %s) is already finished in %s\n", done, a->index,
            a->sweep, a->shard_of);
    return 0;
  }
  if (a->shard_of && access(a->db, F_OK) != 0)
    return cb_error("%s: no such shard; `clipbench sweep FILE --slurm --db %s` makes the shards "
                    "of the runs it submits",
                    a->db, a->shard_of);
  cb_store *s = cb_store_open(a->db, 0);
  if (!s) return -1;
  int64_t sweep_id = 0;
  int found = cb_store_find_sweep(s, a->sweep, &sweep_id);
  if (found <= 0) {
    cb_store_close(s);
    return found < 0 ? -1
                     : cb_error("%s: no sweep named '%s' (clipbench status --db %s lists them)",
                                a->db, a->sweep, a->db);
  }
  char worker[256];
  cb_store_worker_name(worker, sizeof worker);
  cb_run_install_signals();
  cb_experiment *e = cb_malloc(sizeof *e, "experiment");
  int rc = e ? 0 : -1;
  if (!rc && a->by_index) {
    rc = one_index(s, sweep_id, worker, e, a);
    free(e);
    cb_store_close(s);
    return rc;
  }
  while (!rc && !cb_run_interrupted()) {
    if (cb_store_check_file(s) ||
        cb_sweep_reclaim(s, sweep_id, CB_SWEEP_GRACE_S, CB_SWEEP_MAX_ATTEMPTS, NULL)) {
      rc = -1;
      break;
    }
    cb_claim c;
    int got = cb_store_claim_next(s, sweep_id, worker, &c);
    if (got <= 0) {
      rc = got;
      break;
    }
    /* A failed run is recorded; go on. A full disk fails every run alike:
     * stop (exit status CB_EXIT_NOSPACE tells the supervisor). */
    if (run_one(s, worker, &c, e, a) && cb_last_error_code() == CB_EXIT_NOSPACE) rc = -1;
    cb_claim_free(&c);
  }
  free(e);
  cb_store_close(s);
  if (!rc && cb_run_interrupted())
    return cb_error("worker %s interrupted; its run was given back", worker);
  return rc;
}
